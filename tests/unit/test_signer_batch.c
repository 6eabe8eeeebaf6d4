/*
 * test_signer_batch.c: the signer's hash-to-G2 cache and its batch
 * endpoint (src/signer/batch.c), through the route table as the http
 * module calls it (deferred work run in place). Keys are random file-raw
 * configs in a temp dir; slashing protection, when on, is a real SQLite
 * file. Sign requests are Web3Signer's own examples
 * (tests/unit/vectors/web3signer_sign_examples.json), and every signature
 * is compared with blst signing the root computed by the eth2 module
 * (bls_sign, no cache) and verified.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "signer/metrics.h"
#include "signer/signer.h"
#include "slashing/slashing.h"
#include "test_sign_examples.h"

#define BATCH "/api/v1/eth2/sign"
#define NKEYS 4
#define UNKNOWN "0x" \
	"a99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4" \
	"bf2d153f649f7b53359fe8b94a38e44c"

static json_t *examples;
static struct eth2_network mainnet, minimal;
static char dir[64];
static struct bls_key *keys[NKEYS];
static char pk_hex[NKEYS][2 + 2 * BLS_PUBKEY_LEN + 1];

static int setup(void **state)
{
	(void)state;
	struct err e = {0};
	examples = sign_examples_load();
	if (!examples || eth2_network_load("mainnet", &mainnet, &e) < 0 ||
	    eth2_network_load("minimal", &minimal, &e) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/ns-test-batch-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/keys", dir);
	if (mkdir(sub, 0700) < 0)
		return -1;
	for (int i = 0; i < NKEYS; i++) {
		struct secret *sk = NULL;
		if (bls_key_generate(&keys[i], &e) < 0 ||
		    bls_key_export(keys[i], &sk, &e) < 0)
			return -1;
		char hex[2 + 64 + 1], path[160];
		hex_encode(sk->bytes, 32, hex);
		secret_free(sk);
		hex_encode(keys[i]->pubkey, BLS_PUBKEY_LEN, pk_hex[i]);
		snprintf(path, sizeof(path), "%s/key%d.yaml", sub, i);
		FILE *f = fopen(path, "w");
		if (!f)
			return -1;
		fprintf(f, "type: file-raw\nkeyType: BLS\nprivateKey: %s\n", hex);
		fclose(f);
	}
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NKEYS; i++)
		bls_key_free(keys[i]);
	json_decref(examples);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* A signer on net with the test keys; protection in a fresh SQLite file
 * when db_name is given. */
static struct signer *make(const struct eth2_network *net, const char *db_name,
			   uint32_t types, enum signer_client_auth auth)
{
	struct signer_options o;
	memset(&o, 0, sizeof(o));
	char ks[128], url[160];
	snprintf(ks, sizeof(ks), "%s/keys", dir);
	o.eth2 = true;
	o.key_store_path = ks;
	o.metrics_enabled = true;
	o.slashing_enabled = db_name != NULL;
	if (db_name) {
		snprintf(url, sizeof(url), "sqlite:%s/%s", dir, db_name);
		o.slashing_db_url = url;
	}
	o.client_auth = auth;
	o.known_clients = auth == SIGNER_CLIENTS_LISTED ? 1 : 0;
	o.signing_types = types;
	struct signer *s = NULL;
	struct err e = {0};
	if (signer_new(&o, net, &s, &e) < 0)
		fail_msg("signer_new: %s", e.msg);
	return s;
}

#define ALL_TYPES ((UINT32_C(1) << ETH2_SIGN_COUNT) - 1)

/* One request through the route table; the status, *out the body. */
static int call(struct signer *s, enum http_method m, const char *path,
		const char *body, const char *ctype, bool listed, char **out)
{
	struct http_handlers h = signer_http_handlers(s);
	struct http_req req = {.method = m, .path = (char *)path,
			       .body = (uint8_t *)body,
			       .body_len = body ? strlen(body) : 0,
			       .content_type = (char *)ctype,
			       .accept = (char *)"application/json",
			       .client_cert = listed, .tls = true};
	snprintf(req.client, sizeof(req.client), "%s", listed ? "vc" : "");
	struct http_reply r = {0};
	h.handle(&req, &r, h.arg);
	if (r.defer_fn)
		r.defer_fn(&req, &r, r.defer_ctx);
	assert_null(r.park_fn);
	if (out)
		*out = r.body;
	else
		free(r.body);
	return r.status;
}

static int post(struct signer *s, const char *path, const char *body,
		char **out)
{
	return call(s, HTTP_POST, path, body, "application/json", true, out);
}

/* {"identifiers": ids, "signing_request": req} (req stolen). */
static char *batch_body(json_t *ids, json_t *req)
{
	json_t *b = json_object();
	json_object_set_new(b, "identifiers", ids);
	json_object_set_new(b, "signing_request", req);
	char *t = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return t;
}

static uint64_t metric(struct signer *s, const char *name)
{
	char *body = NULL;
	size_t len;
	assert_int_equal(signer_metrics_render(s, &body, &len, NULL), 0);
	char line[160];
	snprintf(line, sizeof(line), "\n%s ", name); /* the sample, not HELP */
	char *at = strstr(body, line);
	assert_non_null(at);
	uint64_t v = strtoull(at + strlen(line), NULL, 10);
	free(body);
	return v;
}

static void signature_of(const char *json_hex, uint8_t sig[BLS_SIG_LEN])
{
	struct err e = {0};
	assert_non_null(json_hex);
	assert_int_equal(hex_decode_exact(json_hex, sig, BLS_SIG_LEN, &e, "sig"),
			 0);
}

/* ---- the cache on the single-key route ---------------------------------- */

/*
 * Every example of every signing type, signed twice through the route (a
 * miss, then a hit) and once more after the cache saw many other roots:
 * each time the bytes blst gives for the root without any cache.
 */
static void test_cached_signatures_identical_for_every_type(void **state)
{
	(void)state;
	struct signer *s[2] = {make(&mainnet, NULL, ALL_TYPES,
				    SIGNER_CLIENTS_TRANSPORT),
			       make(&minimal, NULL, ALL_TYPES,
				    SIGNER_CLIENTS_TRANSPORT)};
	const struct eth2_network *nets[2] = {&mainnet, &minimal};
	const json_t *arr = json_object_get(examples, "examples");
	bool types_seen[ETH2_SIGN_COUNT] = {0};
	size_t signed_n = 0;
	for (size_t x = 0; x < json_array_size(arr); x++) {
		json_t *req = json_object_get(json_array_get(arr, x), "request");
		char *body = json_dumps(req, JSON_COMPACT);
		for (int n = 0; n < 2; n++) {
			struct eth2_signing sg;
			struct err e = {0};
			if (eth2_signing_from_json(nets[n], req, &sg, &e) < 0)
				continue; /* another network's example */
			int k = (int)(x % NKEYS);
			uint8_t want[BLS_SIG_LEN];
			bls_sign(keys[k], sg.signing_root, 32, want);
			char path[160];
			snprintf(path, sizeof(path), "/api/v1/eth2/sign/%s", pk_hex[k]);
			for (int round = 0; round < 2; round++) {
				char *out = NULL;
				assert_int_equal(post(s[n], path, body, &out), 200);
				json_t *o = json_loads(out, 0, NULL);
				uint8_t got[BLS_SIG_LEN];
				signature_of(json_string_value(json_object_get(o, "signature")),
					     got);
				assert_memory_equal(got, want, BLS_SIG_LEN);
				json_decref(o);
				free(out);
			}
			types_seen[sg.type] = true;
			signed_n++;
		}
		free(body);
	}
	/* Web3Signer's examples have every type through Fulu; the Gloas types
	 * (built from the consensus specs' vectors in test_eth2.c and signed
	 * through this route bit for bit in test_crosscheck.mjs) have none. */
	for (int t = 0; t < ETH2_SIGN_EXECUTION_PAYLOAD_BID; t++)
		if (!types_seen[t])
			fail_msg("no example of %s signed",
				 eth2_sign_type_name((enum eth2_sign_type)t));
	uint64_t hits = metric(s[0], "nitro_signer_h2c_cache_hits_total") +
			metric(s[1], "nitro_signer_h2c_cache_hits_total");
	uint64_t misses = metric(s[0], "nitro_signer_h2c_cache_misses_total") +
			  metric(s[1], "nitro_signer_h2c_cache_misses_total");
	assert_int_equal(hits + misses, 2 * signed_n);
	assert_true(hits >= signed_n); /* every second round */
	signer_free(s[0]);
	signer_free(s[1]);
}

/* ---- the batch endpoint --------------------------------------------------- */

/* Checks item i of a batch reply: a valid signature by key k over root,
 * or an error with this code. */
static void check_item(json_t *a, size_t i, const char *id, int key,
		       const uint8_t root[32], int code)
{
	json_t *o = json_array_get(a, i);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "identifier")),
			    id);
	if (code == 200) {
		uint8_t got[BLS_SIG_LEN], want[BLS_SIG_LEN];
		signature_of(json_string_value(json_object_get(o, "signature")), got);
		bls_sign(keys[key], root, 32, want);
		assert_memory_equal(got, want, BLS_SIG_LEN);
		assert_int_equal(bls_verify(keys[key]->pubkey, root, 32, got), 0);
		assert_null(json_object_get(o, "error"));
		return;
	}
	assert_null(json_object_get(o, "signature"));
	json_t *err = json_object_get(o, "error");
	assert_int_equal(json_integer_value(json_object_get(err, "code")), code);
	assert_non_null(json_string_value(json_object_get(err, "message")));
}

static json_t *reply_array(const char *out, size_t n)
{
	json_t *a = json_loads(out, 0, NULL);
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), n);
	return a;
}

static void test_batch_results_in_request_order(void **state)
{
	(void)state;
	struct signer *s = make(&mainnet, NULL, ALL_TYPES,
				SIGNER_CLIENTS_TRANSPORT);
	const char *types[] = {"RANDAO_REVEAL", "AGGREGATION_SLOT",
			       "ATTESTATION"};
	for (size_t t = 0; t < 3; t++) {
		json_t *req = sign_example(examples, types[t]);
		struct eth2_signing sg;
		assert_int_equal(eth2_signing_from_json(&mainnet, req, &sg, NULL), 0);
		/* key 2, an unknown key, key 0 without 0x, key 3 upper case */
		char k0[97], k3[99];
		memcpy(k0, pk_hex[0] + 2, sizeof(k0));
		memcpy(k3, pk_hex[3], sizeof(k3));
		for (char *c = k3 + 2; *c; c++)
			*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
		char *body = batch_body(json_pack("[s,s,s,s]", pk_hex[2], UNKNOWN,
						  k0, k3), req);
		char *out = NULL;
		assert_int_equal(post(s, BATCH, body, &out), 200);
		json_t *a = reply_array(out, 4);
		check_item(a, 0, pk_hex[2], 2, sg.signing_root, 200);
		check_item(a, 1, UNKNOWN, -1, sg.signing_root, 404);
		check_item(a, 2, k0, 0, sg.signing_root, 200);
		check_item(a, 3, k3, 3, sg.signing_root, 200);
		json_decref(a);
		free(out);
		free(body);
	}
	/* one hash per batch: the second batch of a root is a hit */
	assert_int_equal(metric(s, "nitro_signer_h2c_cache_misses_total"), 3);
	char *out = NULL;
	json_t *req = sign_example(examples, "RANDAO_REVEAL");
	char *body = batch_body(json_pack("[s]", pk_hex[1]), req);
	assert_int_equal(post(s, BATCH, body, &out), 200);
	free(out);
	free(body);
	assert_int_equal(metric(s, "nitro_signer_h2c_cache_hits_total"), 1);
	assert_int_equal(metric(s, "nitro_signer_signatures_total{type=\"RANDAO_REVEAL\"}"),
			 4);
	signer_free(s);
}

/* ATTESTATION with data for target epoch `target` and a block root byte. */
static json_t *attestation(uint64_t target, int root_byte)
{
	json_t *req = sign_example(examples, "ATTESTATION");
	json_t *att = json_object_get(req, "attestation");
	char num[24], root[67];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)target);
	json_object_set_new(json_object_get(att, "target"), "epoch",
			    json_string(num));
	snprintf(num, sizeof(num), "%llu", (unsigned long long)target - 1);
	json_object_set_new(json_object_get(att, "source"), "epoch",
			    json_string(num));
	snprintf(root, sizeof(root), "0x%062d%02x", 0, root_byte);
	json_object_set_new(att, "beacon_block_root", json_string(root));
	json_object_del(req, "signingRoot");
	json_object_del(req, "signing_root");
	return req;
}

static void root_of(json_t *req, uint8_t root[32])
{
	struct eth2_signing sg;
	assert_int_equal(eth2_signing_from_json(&mainnet, req, &sg, NULL), 0);
	memcpy(root, sg.signing_root, 32);
}

static int batch_att(struct signer *s, json_t *ids, uint64_t target,
		     int root_byte, uint8_t root[32], json_t **reply)
{
	json_t *req = attestation(target, root_byte);
	root_of(req, root);
	char *body = batch_body(ids, req);
	char *out = NULL;
	int st = post(s, BATCH, body, &out);
	*reply = st == 200 ? json_loads(out, 0, NULL) : NULL;
	free(out);
	free(body);
	return st;
}

static void test_batch_slashing_refusals_per_key(void **state)
{
	(void)state;
	struct signer *s = make(&mainnet, "batch.db", ALL_TYPES,
				SIGNER_CLIENTS_TRANSPORT);
	uint8_t r1[32], r2[32];
	json_t *a;
	/* key 1 votes for target 400 with block root 1 */
	assert_int_equal(batch_att(s, json_pack("[s]", pk_hex[1]), 400, 1, r1, &a),
			 200);
	check_item(a, 0, pk_hex[1], 1, r1, 200);
	json_decref(a);
	/* then everyone for target 400 with block root 2: key 1's vote would
	 * be a double vote; the unknown key is 404 and not recorded */
	json_t *ids = json_pack("[s,s,s,s]", pk_hex[0], pk_hex[1], UNKNOWN,
				pk_hex[2]);
	assert_int_equal(batch_att(s, json_incref(ids), 400, 2, r2, &a), 200);
	check_item(a, 0, pk_hex[0], 0, r2, 200);
	check_item(a, 1, pk_hex[1], 1, r2, 412);
	assert_non_null(strstr(json_string_value(json_object_get(
				       json_object_get(json_array_get(a, 1), "error"),
				       "message")), "double_vote"));
	check_item(a, 2, UNKNOWN, -1, r2, 404);
	check_item(a, 3, pk_hex[2], 2, r2, 200);
	json_decref(a);
	/* the same batch again: exact repeats pass, the refusal stays */
	assert_int_equal(batch_att(s, ids, 400, 2, r2, &a), 200);
	check_item(a, 0, pk_hex[0], 0, r2, 200);
	check_item(a, 1, pk_hex[1], 1, r2, 412);
	check_item(a, 3, pk_hex[2], 2, r2, 200);
	json_decref(a);
	/* recorded per key as a single request would be: key 0 cannot now
	 * vote for another block at target 400 */
	assert_int_equal(batch_att(s, json_pack("[s]", pk_hex[0]), 400, 3, r1, &a),
			 200);
	check_item(a, 0, pk_hex[0], 0, r1, 412);
	json_decref(a);
	/* a refused (malformed) batch records nothing: key 3 stays free to
	 * vote at target 401 for any block */
	assert_int_equal(batch_att(s, json_pack("[s,s]", pk_hex[3], pk_hex[3]),
				   401, 4, r1, &a), 400);
	assert_int_equal(batch_att(s, json_pack("[s]", pk_hex[3]), 401, 5, r1, &a),
			 200);
	check_item(a, 0, pk_hex[3], 3, r1, 200);
	json_decref(a);
	assert_int_equal(metric(s, "eth2_slashingprotection_prevented_signings_total"), 3);
	signer_free(s);
}

static void test_batch_database_failure_refuses_every_loaded_key(void **state)
{
	(void)state;
	/* a directory where the database file should be: it cannot open */
	char bad[128];
	snprintf(bad, sizeof(bad), "%s/notadb", dir);
	assert_int_equal(mkdir(bad, 0700), 0);
	struct signer *s = make(&mainnet, "notadb", ALL_TYPES,
				SIGNER_CLIENTS_TRANSPORT);
	uint8_t r[32];
	json_t *a;
	assert_int_equal(batch_att(s, json_pack("[s,s]", pk_hex[0], UNKNOWN), 402,
				   1, r, &a), 200);
	check_item(a, 0, pk_hex[0], 0, r, 503);
	check_item(a, 1, UNKNOWN, -1, r, 404);
	json_decref(a);
	/* not slashable: signed without the database */
	char *out = NULL;
	char *body = batch_body(json_pack("[s]", pk_hex[0]),
				sign_example(examples, "RANDAO_REVEAL"));
	assert_int_equal(post(s, BATCH, body, &out), 200);
	assert_non_null(strstr(out, "\"signature\""));
	free(out);
	free(body);
	signer_free(s);
}

/* Every malformed batch: 400 with a JSON message naming the field. */
static void test_batch_bad_batches_refused(void **state)
{
	(void)state;
	struct signer *s = make(&mainnet, NULL, ALL_TYPES,
				SIGNER_CLIENTS_TRANSPORT);
	struct {
		const char *body;
		const char *field;
	} bad[] = {
		{"", "body"},
		{"not json", "body"},
		{"[]", "body"},
		{"{\"signing_request\":{}}", "identifiers: missing"},
		{"{\"identifiers\":[]}", "identifiers: empty"},
		{"{\"identifiers\":{}}", "identifiers: expected an array"},
		{"{\"identifiers\":[\"0x12\"]}", "identifiers[0]"},
		{"{\"identifiers\":[\"" UNKNOWN "\"]}", "signing_request: missing"},
		{"{\"identifiers\":[\"" UNKNOWN "\"],\"signing_request\":{}}",
		 "signing_request.type: missing"},
		{"{\"identifiers\":[\"" UNKNOWN "\"],\"signing_request\":"
		 "{\"type\":\"GENERIC\"}}", "signing_request.type"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = NULL;
		assert_int_equal(post(s, BATCH, bad[i].body, &out), 400);
		json_t *o = json_loads(out, 0, NULL);
		const char *msg = json_string_value(json_object_get(o, "error"));
		if (!msg || !strstr(msg, bad[i].field))
			fail_msg("%s: %s", bad[i].body, out);
		json_decref(o);
		free(out);
	}
	/* duplicates (decoded), other types, each a 400 */
	char upper[99];
	memcpy(upper, pk_hex[0], sizeof(upper));
	for (char *c = upper; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'x' ? *c - 32 : *c);
	const char *dups[][2] = {{pk_hex[0], pk_hex[0]}, {pk_hex[0] + 2, upper}};
	for (int i = 0; i < 2; i++) {
		char *body = batch_body(json_pack("[s,s,s]", dups[i][0], pk_hex[1],
						  dups[i][1]),
					sign_example(examples, "RANDAO_REVEAL"));
		char *out = NULL;
		assert_int_equal(post(s, BATCH, body, &out), 400);
		assert_non_null(strstr(out, "identifiers[2]: the same public key "
					    "as identifiers[0]"));
		free(out);
		free(body);
	}
	const char *no[] = {"BLOCK_V2 (FULU)", "AGGREGATE_AND_PROOF_V2 (FULU)",
			    "VOLUNTARY_EXIT", "DEPOSIT", "VALIDATOR_REGISTRATION",
			    "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		char *body = batch_body(json_pack("[s]", pk_hex[0]),
					sign_example(examples, no[i]));
		char *out = NULL;
		assert_int_equal(post(s, BATCH, body, &out), 400);
		assert_non_null(strstr(out, "is not signed in a batch"));
		free(out);
		free(body);
	}
	/* the rest of the route's rules */
	char *body = batch_body(json_pack("[s]", pk_hex[0]),
				sign_example(examples, "RANDAO_REVEAL"));
	assert_int_equal(call(s, HTTP_POST, BATCH, body, "text/plain", true, NULL),
			 415);
	assert_int_equal(call(s, HTTP_GET, BATCH, NULL, NULL, true, NULL), 405);
	assert_int_equal(metric(s, "nitro_signer_signatures_total{type=\"RANDAO_REVEAL\"}"),
			 0);
	signer_free(s);
	/* who may call, and the type policy: as on the single-key route */
	s = make(&mainnet, NULL, ALL_TYPES, SIGNER_CLIENTS_LISTED);
	assert_int_equal(call(s, HTTP_POST, BATCH, body, "application/json",
			      false, NULL), 401);
	assert_int_equal(post(s, BATCH, body, NULL), 200);
	signer_free(s);
	s = make(&mainnet, NULL, UINT32_C(1) << ETH2_SIGN_ATTESTATION,
		 SIGNER_CLIENTS_TRANSPORT);
	char *out = NULL;
	assert_int_equal(post(s, BATCH, body, &out), 403);
	assert_non_null(strstr(out, "type_not_allowed"));
	free(out);
	signer_free(s);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cached_signatures_identical_for_every_type),
		cmocka_unit_test(test_batch_results_in_request_order),
		cmocka_unit_test(test_batch_slashing_refusals_per_key),
		cmocka_unit_test(test_batch_database_failure_refuses_every_loaded_key),
		cmocka_unit_test(test_batch_bad_batches_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
