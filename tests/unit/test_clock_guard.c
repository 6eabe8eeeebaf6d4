/*
 * test_clock_guard.c: the clock guard. Its rule (eth2_clock_check in
 * src/eth2/network.c): past, future and the exact edge epochs, block slots
 * at epoch boundaries, uint64 extremes, a genesis in the future, another
 * chain's request; a config file's GENESIS_TIME; and the signer's guard
 * (src/signer/clock_guard.c) through its HTTP handlers with a clock the
 * test sets: 412 "clock" before slashing protection (nothing recorded),
 * 503 "clock_unavailable" without a trusted time, /healthcheck, and the
 * start-up refusal of a network without a genesis time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "eth2/eth2.h"
#include "signer/keys.h"
#include "signer/signer.h"
#include "slashing/slashing.h"

#define MAINNET_GENESIS 1606824023ull
#define EPOCH_S (12ull * 32)
#define HOODI_GVR "0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f"

static struct eth2_network mainnet;

static int setup(void **state)
{
	(void)state;
	struct err e = {0};
	return eth2_network_load("mainnet", &mainnet, &e);
}

static struct eth2_signing att(const struct eth2_network *n, uint64_t target)
{
	struct eth2_signing s;
	memset(&s, 0, sizeof(s));
	s.type = ETH2_SIGN_ATTESTATION;
	s.slashable = true;
	s.source_epoch = target ? target - 1 : 0;
	s.target_epoch = target;
	memcpy(s.genesis_validators_root, n->genesis_validators_root, 32);
	return s;
}

static struct eth2_signing block(const struct eth2_network *n, uint64_t slot,
				 enum eth2_sign_type t)
{
	struct eth2_signing s = att(n, 0);
	s.type = t;
	s.target_epoch = 0;
	s.block_slot = slot;
	return s;
}

/* eth2_clock_check must succeed; returns whether it allowed. */
static bool allowed(const struct eth2_network *n, struct eth2_signing s,
		    uint64_t now, uint64_t window, struct eth2_clock_verdict *v)
{
	struct eth2_clock_verdict local;
	struct err e = {0};
	if (!v)
		v = &local;
	if (eth2_clock_check(n, &s, now, window, v, &e) < 0)
		fail_msg("eth2_clock_check: %s", e.msg);
	return v->allowed;
}

/* ---- the rule -------------------------------------------------------------- */

static void test_attestation_past_future_and_edges(void **state)
{
	(void)state;
	const uint64_t E = 420000;
	struct eth2_clock_verdict v;
	/* the first and the last second of epoch E */
	const uint64_t first = MAINNET_GENESIS + E * EPOCH_S;
	const uint64_t last = first + EPOCH_S - 1;
	const uint64_t nows[] = {first, last};
	for (int i = 0; i < 2; i++) {
		uint64_t now = nows[i];
		assert_true(allowed(&mainnet, att(&mainnet, E), now, 2, &v));
		assert_int_equal(v.current_epoch, E);
		assert_int_equal(v.distance, 0);
		/* exactly the window, either way: allowed */
		assert_true(allowed(&mainnet, att(&mainnet, E + 2), now, 2, &v));
		assert_true(v.future);
		assert_int_equal(v.distance, 2);
		assert_true(allowed(&mainnet, att(&mainnet, E - 2), now, 2, &v));
		assert_false(v.future);
		/* one beyond, either way: refused */
		assert_false(allowed(&mainnet, att(&mainnet, E + 3), now, 2, &v));
		assert_true(v.future);
		assert_int_equal(v.message_epoch, E + 3);
		assert_int_equal(v.distance, 3);
		assert_false(v.other_chain);
		assert_false(allowed(&mainnet, att(&mainnet, E - 3), now, 2, &v));
		assert_false(v.future);
		assert_int_equal(v.distance, 3);
		/* far away */
		assert_false(allowed(&mainnet, att(&mainnet, E + 1000000), now, 2,
				     NULL));
		assert_false(allowed(&mainnet, att(&mainnet, 0), now, 2, NULL));
	}
	/* one second before epoch E starts, E + 2 is three epochs ahead */
	assert_false(allowed(&mainnet, att(&mainnet, E + 2), first - 1, 2, &v));
	assert_int_equal(v.current_epoch, E - 1);
	/* and one second after E ends, E - 2 is three epochs behind */
	assert_false(allowed(&mainnet, att(&mainnet, E - 2), last + 1, 2, &v));
	assert_int_equal(v.current_epoch, E + 1);
	/* window 0: the current epoch only */
	assert_true(allowed(&mainnet, att(&mainnet, E), first, 0, NULL));
	assert_false(allowed(&mainnet, att(&mainnet, E + 1), first, 0, NULL));
	assert_false(allowed(&mainnet, att(&mainnet, E - 1), last, 0, NULL));
}

static void test_block_slot_epoch_edges(void **state)
{
	(void)state;
	const uint64_t E = 420000, now = MAINNET_GENESIS + E * EPOCH_S + 100;
	struct eth2_clock_verdict v;
	const enum eth2_sign_type types[] = {ETH2_SIGN_BLOCK, ETH2_SIGN_BLOCK_V2};
	for (int i = 0; i < 2; i++) {
		enum eth2_sign_type t = types[i];
		/* the first and last slots of E + 2 and E - 2: allowed */
		assert_true(allowed(&mainnet, block(&mainnet, (E + 2) * 32, t),
				    now, 2, &v));
		assert_int_equal(v.message_epoch, E + 2);
		assert_true(allowed(&mainnet, block(&mainnet, (E + 3) * 32 - 1, t),
				    now, 2, &v));
		assert_int_equal(v.message_epoch, E + 2);
		assert_true(allowed(&mainnet, block(&mainnet, (E - 2) * 32, t),
				    now, 2, NULL));
		/* one slot further either way: another epoch, refused */
		assert_false(allowed(&mainnet, block(&mainnet, (E + 3) * 32, t),
				     now, 2, &v));
		assert_int_equal(v.message_epoch, E + 3);
		assert_false(allowed(&mainnet, block(&mainnet, (E - 2) * 32 - 1, t),
				     now, 2, &v));
		assert_int_equal(v.message_epoch, E - 3);
	}
	/* a block's slot, not its (zero) target epoch, is what counts */
	assert_true(allowed(&mainnet, block(&mainnet, E * 32 + 31,
					     ETH2_SIGN_BLOCK_V2), now, 0, NULL));
}

static void test_uint64_extremes(void **state)
{
	(void)state;
	struct eth2_clock_verdict v;
	const uint64_t now = MAINNET_GENESIS + 420000 * EPOCH_S;
	/* the largest target and slot: far future, no overflow */
	assert_false(allowed(&mainnet, att(&mainnet, UINT64_MAX), now, 2, &v));
	assert_int_equal(v.distance, UINT64_MAX - 420000);
	assert_true(v.future);
	assert_false(allowed(&mainnet, block(&mainnet, UINT64_MAX,
					      ETH2_SIGN_BLOCK_V2), now, 2, &v));
	assert_int_equal(v.message_epoch, UINT64_MAX / 32);
	/* a window as large as uint64 allows everything */
	assert_true(allowed(&mainnet, att(&mainnet, UINT64_MAX), now, UINT64_MAX,
			    NULL));
	assert_true(allowed(&mainnet, att(&mainnet, 0), now, UINT64_MAX, NULL));
	/* the end of time */
	uint64_t cur = (UINT64_MAX - MAINNET_GENESIS) / 12 / 32;
	assert_true(allowed(&mainnet, att(&mainnet, cur), UINT64_MAX, 2, &v));
	assert_int_equal(v.current_epoch, cur);
	assert_false(allowed(&mainnet, att(&mainnet, 0), UINT64_MAX, 2, &v));
	assert_int_equal(v.distance, cur);
	assert_false(v.future);
	assert_true(allowed(&mainnet, att(&mainnet, UINT64_MAX), UINT64_MAX,
			    UINT64_MAX / 32, NULL) ==
		    (UINT64_MAX - cur <= UINT64_MAX / 32));
	/* one-second epochs never overflow either */
	struct eth2_network n = mainnet;
	n.seconds_per_slot = 1;
	n.preset.slots_per_epoch = 1;
	n.genesis_time = 1;
	assert_true(allowed(&n, att(&n, UINT64_MAX - 1), UINT64_MAX, 0, &v));
	assert_int_equal(v.current_epoch, UINT64_MAX - 1);
	/* and the longest slots put every time in epoch 0 */
	n.seconds_per_slot = UINT64_MAX;
	assert_true(allowed(&n, att(&n, 0), UINT64_MAX, 0, &v));
	assert_int_equal(v.current_epoch, 0);
}

static void test_genesis_in_the_future(void **state)
{
	(void)state;
	struct eth2_network n = mainnet;
	struct eth2_clock_verdict v;
	n.genesis_time = 4102444800ull; /* 2100-01-01 */
	/* before genesis the current epoch is 0: epochs 0..window pass */
	const uint64_t nows[] = {0, 1700000000, n.genesis_time - 1};
	for (int i = 0; i < 3; i++) {
		assert_true(allowed(&n, att(&n, 0), nows[i], 2, &v));
		assert_int_equal(v.current_epoch, 0);
		assert_true(allowed(&n, att(&n, 2), nows[i], 2, NULL));
		assert_false(allowed(&n, att(&n, 3), nows[i], 2, &v));
		assert_int_equal(v.distance, 3);
		assert_true(allowed(&n, block(&n, 3 * 32 - 1, ETH2_SIGN_BLOCK),
				    nows[i], 2, NULL));
		assert_false(allowed(&n, block(&n, 3 * 32, ETH2_SIGN_BLOCK),
				     nows[i], 2, NULL));
	}
	/* at genesis and one epoch later */
	assert_true(allowed(&n, att(&n, 0), n.genesis_time, 0, &v));
	assert_int_equal(v.current_epoch, 0);
	assert_false(allowed(&n, att(&n, 0), n.genesis_time + EPOCH_S, 0, &v));
	assert_int_equal(v.current_epoch, 1);
}

static void test_other_chain_and_errors(void **state)
{
	(void)state;
	struct eth2_clock_verdict v;
	struct err e = {0};
	const uint64_t now = MAINNET_GENESIS + 420000 * EPOCH_S;
	/* a hoodi request on a mainnet clock: refused even at the epoch */
	struct eth2_signing s = att(&mainnet, 420000);
	assert_int_equal(hex_decode_exact(HOODI_GVR, s.genesis_validators_root,
					  32, &e, "gvr"), 0);
	assert_false(allowed(&mainnet, s, now, 2, &v));
	assert_true(v.other_chain);
	assert_int_equal(v.distance, 0);
	/* a network without a root of its own takes any chain's */
	struct eth2_network n = mainnet;
	n.has_genesis_validators_root = false;
	assert_true(allowed(&n, s, now, 2, &v));
	assert_false(v.other_chain);
	/* no genesis time: no rule */
	struct eth2_network minimal;
	assert_int_equal(eth2_network_load("minimal", &minimal, &e), 0);
	s = att(&minimal, 0);
	assert_int_equal(eth2_clock_check(&minimal, &s, now, 2, &v, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "genesis time unknown"));
	/* only the slashable types have an epoch to check */
	s = att(&mainnet, 420000);
	s.type = ETH2_SIGN_RANDAO_REVEAL;
	assert_int_equal(eth2_clock_check(&mainnet, &s, now, 2, &v, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not a slashable type"));
}

/* ---- GENESIS_TIME in a config file ------------------------------------------ */

#define BASE_CONFIG \
	"PRESET_BASE: mainnet\nCONFIG_NAME: clock-net\n" \
	"GENESIS_FORK_VERSION: 0x00000001\n" \
	"ALTAIR_FORK_VERSION: 0x01000001\nALTAIR_FORK_EPOCH: 0\n" \
	"BELLATRIX_FORK_VERSION: 0x02000001\nBELLATRIX_FORK_EPOCH: 0\n" \
	"CAPELLA_FORK_VERSION: 0x03000001\nCAPELLA_FORK_EPOCH: 0\n" \
	"DENEB_FORK_VERSION: 0x04000001\nDENEB_FORK_EPOCH: 0\n" \
	"ELECTRA_FORK_VERSION: 0x05000001\nELECTRA_FORK_EPOCH: 0\n" \
	"FULU_FORK_VERSION: 0x06000001\nFULU_FORK_EPOCH: 0\n"

static int load_config(const char *extra, struct eth2_network *n,
		       struct err *e, char *keep_path)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/ns-test-clock-XXXXXX.yaml");
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "%s%s", BASE_CONFIG, extra);
	fclose(f);
	int rc = eth2_network_load(path, n, e);
	if (keep_path)
		snprintf(keep_path, 64, "%s", path);
	else
		unlink(path);
	return rc;
}

static void test_config_genesis_time(void **state)
{
	(void)state;
	struct eth2_network n;
	struct err e = {0};
	assert_int_equal(load_config("GENESIS_TIME: 1700000000\n"
				     "SECONDS_PER_SLOT: 6\n", &n, &e, NULL), 0);
	assert_int_equal(n.genesis_time, 1700000000);
	assert_int_equal(n.seconds_per_slot, 6);
	uint64_t epoch = 0;
	assert_int_equal(eth2_epoch_at_time(&n, 1700000000 + 10 * 6 * 32, &epoch,
					    &e), 0);
	assert_int_equal(epoch, 10);
	/* SECONDS_PER_SLOT alone (every spec config has it): no clock */
	assert_int_equal(load_config("SECONDS_PER_SLOT: 12\n", &n, &e, NULL), 0);
	assert_int_equal(n.genesis_time, 0);
	assert_int_equal(n.seconds_per_slot, 0);
	/* mistakes name the key */
	const struct {
		const char *extra, *want;
	} bad[] = {
		{"GENESIS_TIME: 1700000000\n", "SECONDS_PER_SLOT: missing"},
		{"GENESIS_TIME: 0\nSECONDS_PER_SLOT: 12\n", "GENESIS_TIME: must not be 0"},
		{"GENESIS_TIME: 1\nSECONDS_PER_SLOT: 0\n", "SECONDS_PER_SLOT: must not be 0"},
		{"GENESIS_TIME: -5\nSECONDS_PER_SLOT: 12\n", "GENESIS_TIME"},
		{"GENESIS_TIME: 18446744073709551616\nSECONDS_PER_SLOT: 12\n",
		 "GENESIS_TIME"},
		{"GENESIS_TIME: 1\nGENESIS_TIME: 2\nSECONDS_PER_SLOT: 12\n",
		 "GENESIS_TIME: duplicate"},
		{"GENESIS_TIME: [1]\nSECONDS_PER_SLOT: 12\n", "GENESIS_TIME: expected a scalar"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(load_config(bad[i].extra, &n, &e, NULL),
				 -ERR_INVALID);
		if (!strstr(e.msg, bad[i].want))
			fail_msg("'%s' does not say '%s'", e.msg, bad[i].want);
	}
}

/* ---- the signer's guard, through its handlers -------------------------------- */

/* The test's clock: a time, or unavailable. */
static struct {
	uint64_t now;
	bool down;
} tclock;

static int test_now(void *ctx, uint64_t *unix_s, struct err *e)
{
	(void)ctx;
	if (tclock.down)
		return err_set(e, ERR_UNAVAILABLE, "test clock stopped");
	*unix_s = tclock.now;
	return 0;
}

#define G 1700000000ull /* clock-net's genesis */
#define FI "{\"fork\":{\"previous_version\":\"0x05000001\"," \
	"\"current_version\":\"0x06000001\",\"epoch\":\"0\"}," \
	"\"genesis_validators_root\":\"0x" \
	"0101010101010101010101010101010101010101010101010101010101010101\"}"
#define R(b) "\"0x" b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b "\""

static char *att_body(uint64_t target)
{
	char *b = NULL;
	int n = asprintf(&b, "{\"type\":\"ATTESTATION\",\"fork_info\":" FI ","
			 "\"attestation\":{\"slot\":\"%llu\",\"index\":\"0\","
			 "\"beacon_block_root\":" R("33") ",\"source\":{\"epoch\":"
			 "\"%llu\",\"root\":" R("11") "},\"target\":{\"epoch\":"
			 "\"%llu\",\"root\":" R("22") "}}}",
			 (unsigned long long)(target * 32),
			 (unsigned long long)(target ? target - 1 : 0),
			 (unsigned long long)target);
	assert_true(n > 0);
	return b;
}

static char *block_body(uint64_t slot)
{
	char *b = NULL;
	int n = asprintf(&b, "{\"type\":\"BLOCK_V2\",\"fork_info\":" FI ","
			 "\"beacon_block\":{\"version\":\"FULU\",\"block_header\":"
			 "{\"slot\":\"%llu\",\"proposer_index\":\"7\",\"parent_root\":"
			 R("44") ",\"state_root\":" R("55") ",\"body_root\":" R("66")
			 "}}}", (unsigned long long)slot);
	assert_true(n > 0);
	return b;
}

static char *randao_body(uint64_t epoch)
{
	char *b = NULL;
	int n = asprintf(&b, "{\"type\":\"RANDAO_REVEAL\",\"fork_info\":" FI ","
			 "\"randao_reveal\":{\"epoch\":\"%llu\"}}",
			 (unsigned long long)epoch);
	assert_true(n > 0);
	return b;
}

struct fixture {
	struct eth2_network net;
	struct signer *s;
	struct bls_key *key;
	char pk[2 + 2 * BLS_PUBKEY_LEN + 1];
	char dir[64];
};

/* A signer on clock-net with one key and the test's clock. */
static void fx_start(struct fixture *f, uint64_t epochs, bool slashing)
{
	struct err e = {0};
	memset(f, 0, sizeof(f[0]));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ns-clock-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char extra[96];
	snprintf(extra, sizeof(extra), "GENESIS_TIME: %llu\nSECONDS_PER_SLOT: 12\n",
		 (unsigned long long)G);
	assert_int_equal(load_config(extra, &f->net, &e, NULL), 0);
	char url[128];
	snprintf(url, sizeof(url), "sqlite:%s/slashing.db", f->dir);
	struct signer_options o;
	memset(&o, 0, sizeof(o));
	o.eth2 = true;
	o.network_name = "clock-net";
	o.slashing_enabled = slashing;
	o.slashing_db_url = url;
	o.signing_types = UINT32_MAX;
	o.clock_guard_epochs = epochs;
	o.clock = (struct signer_clock){test_now, NULL, "test"};
	if (signer_new(&o, &f->net, &f->s, &e) < 0)
		fail_msg("signer_new: %s", e.msg);
	uint8_t sk[BLS_SECRET_LEN] = {0};
	sk[31] = 7;
	struct bls_key *k = NULL, *copy = NULL;
	assert_int_equal(bls_key_from_bytes(sk, &k, &e), 0);
	assert_int_equal(bls_key_from_bytes(sk, &copy, &e), 0);
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, f->pk);
	struct key_registry *reg = NULL;
	assert_int_equal(keys_from_list(&copy, 1, "test", &reg, &e), 0);
	signer_install_keys(f->s, reg);
	f->key = k;
}

static void fx_stop(struct fixture *f)
{
	signer_free(f->s);
	bls_key_free(f->key);
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

/* One request through the handlers: status, body in *out (caller frees).
 * *went_on: it was deferred or parked for slashing protection (the parked
 * job is not run: only refusals are tested with a database). */
static int call(struct fixture *f, enum http_method m, const char *path,
		const char *body, char **out, bool *went_on)
{
	struct http_handlers h = signer_http_handlers(f->s);
	struct http_req req = {.method = m, .path = (char *)path,
			       .body = (uint8_t *)body,
			       .body_len = body ? strlen(body) : 0,
			       .content_type = (char *)"application/json",
			       .accept = (char *)"application/json"};
	struct http_reply r = {0};
	h.handle(&req, &r, h.arg);
	if (went_on)
		*went_on = r.defer_fn || r.park_fn;
	if (r.defer_fn && !went_on)
		r.defer_fn(&req, &r, r.defer_ctx);
	assert_null(r.park_fn);
	*out = r.body;
	return r.status;
}

/* POST body (taken) to the fixture's key; the reply's reason or NULL. */
static int sign(struct fixture *f, char *body, char **reason)
{
	char path[160], *out = NULL;
	snprintf(path, sizeof(path), "/api/v1/eth2/sign/%s", f->pk);
	int st = call(f, HTTP_POST, path, body, &out, NULL);
	json_t *j = json_loads(out, 0, NULL);
	if (reason)
		*reason = json_string_value(json_object_get(j, "reason"))
				  ? strdup(json_string_value(json_object_get(
					    j, "reason")))
				  : NULL;
	if (st == 200) { /* the signature is over our own signing root */
		struct eth2_signing sg;
		struct err e = {0};
		uint8_t sig[BLS_SIG_LEN];
		assert_int_equal(eth2_signing_parse(&f->net, body, strlen(body),
						    &sg, &e), 0);
		assert_int_equal(hex_decode_exact(json_string_value(
				json_object_get(j, "signature")), sig, sizeof(sig),
				&e, "signature"), 0);
		assert_int_equal(bls_verify(f->key->pubkey, sg.signing_root, 32,
					    sig), 0);
	}
	json_decref(j);
	free(out);
	free(body);
	return st;
}

static int sign_reason(struct fixture *f, char *body, const char *want)
{
	char *reason = NULL;
	int st = sign(f, body, &reason);
	if (want && (!reason || strcmp(reason, want) != 0))
		fail_msg("status %d, reason %s, want %s", st,
			 reason ? reason : "(none)", want);
	free(reason);
	return st;
}

static void test_signer_refuses_outside_the_window(void **state)
{
	(void)state;
	struct fixture f;
	fx_start(&f, 2, false);
	const uint64_t E = 1000;
	tclock.down = false;
	tclock.now = G + E * EPOCH_S + 200; /* inside epoch E */
	assert_int_equal(sign_reason(&f, att_body(E), NULL), 200);
	assert_int_equal(sign_reason(&f, att_body(E + 2), NULL), 200);
	assert_int_equal(sign_reason(&f, att_body(E - 2), NULL), 200);
	assert_int_equal(sign_reason(&f, att_body(E + 3), "clock"), 412);
	assert_int_equal(sign_reason(&f, att_body(E - 3), "clock"), 412);
	assert_int_equal(sign_reason(&f, att_body(UINT64_MAX), "clock"), 412);
	/* blocks by their slot's epoch, edges included */
	assert_int_equal(sign_reason(&f, block_body((E + 3) * 32 - 1), NULL), 200);
	assert_int_equal(sign_reason(&f, block_body((E - 2) * 32), NULL), 200);
	assert_int_equal(sign_reason(&f, block_body((E + 3) * 32), "clock"), 412);
	assert_int_equal(sign_reason(&f, block_body((E - 2) * 32 - 1), "clock"),
			 412);
	/* the message says what and by how much */
	char path[160], *out = NULL;
	snprintf(path, sizeof(path), "/api/v1/eth2/sign/%s", f.pk);
	char *b = att_body(E + 5);
	assert_int_equal(call(&f, HTTP_POST, path, b, &out, NULL), 412);
	assert_non_null(strstr(out, "target epoch 1005 is 5 epochs after the "
				    "current epoch 1000 (at most 2 allowed)"));
	free(out);
	free(b);
	/* other types are not the guard's */
	assert_int_equal(sign_reason(&f, randao_body(E + 100000), NULL), 200);
	/* an unknown key is 404 before the guard */
	b = att_body(E + 100);
	char pk2[160];
	snprintf(pk2, sizeof(pk2), "/api/v1/eth2/sign/0x%096d", 1);
	assert_int_equal(call(&f, HTTP_POST, pk2, b, &out, NULL), 404);
	free(out);
	free(b);
	/* time moves on: what was too far ahead is now within the window */
	tclock.now += 1 * EPOCH_S;
	assert_int_equal(sign_reason(&f, att_body(E + 3), NULL), 200);
	assert_int_equal(sign_reason(&f, att_body(E - 2), "clock"), 412);
	fx_stop(&f);
}

static void test_signer_without_time_fails_closed(void **state)
{
	(void)state;
	struct fixture f;
	fx_start(&f, 2, false);
	tclock.now = G + 1000 * EPOCH_S;
	tclock.down = false;
	char *out = NULL;
	assert_int_equal(call(&f, HTTP_GET, "/healthcheck", NULL, &out, NULL),
			 200);
	json_t *j = json_loads(out, 0, NULL);
	free(out);
	json_t *c = NULL;
	size_t i;
	json_array_foreach(json_object_get(j, "checks"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "id")),
			   "clock-guard") == 0)
			break;
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "status")), "UP");
	json_t *d = json_object_get(c, "data");
	assert_string_equal(json_string_value(json_object_get(d, "current_epoch")),
			    "1000");
	assert_int_equal(json_integer_value(json_object_get(d, "epochs")), 2);
	assert_string_equal(json_string_value(json_object_get(d, "source")),
			    "test");
	json_decref(j);

	tclock.down = true;
	assert_int_equal(sign_reason(&f, att_body(1000), "clock_unavailable"), 503);
	assert_int_equal(sign_reason(&f, block_body(1000 * 32), "clock_unavailable"),
			 503);
	assert_int_equal(sign_reason(&f, randao_body(1000), NULL), 200);
	assert_int_equal(call(&f, HTTP_GET, "/healthcheck", NULL, &out, NULL),
			 503);
	assert_non_null(strstr(out, "\"id\":\"clock-guard\",\"status\":\"DOWN\""));
	assert_non_null(strstr(out, "test clock stopped"));
	free(out);
	tclock.down = false;
	assert_int_equal(sign_reason(&f, att_body(1000), NULL), 200);
	fx_stop(&f);
}

static void test_signer_guard_off(void **state)
{
	(void)state;
	struct fixture f;
	fx_start(&f, 0, false);
	tclock.now = G + 1000 * EPOCH_S;
	tclock.down = true; /* never asked */
	assert_int_equal(sign_reason(&f, att_body(UINT64_MAX - 1), NULL), 200);
	char *out = NULL;
	assert_int_equal(call(&f, HTTP_GET, "/healthcheck", NULL, &out, NULL),
			 200);
	assert_null(strstr(out, "clock-guard"));
	free(out);
	tclock.down = false;
	fx_stop(&f);
}

/* The fixture's database holds no record, not even a chain binding. */
static void expect_nothing_recorded(struct fixture *f)
{
	char url[128];
	snprintf(url, sizeof(url), "sqlite:%s/slashing.db", f->dir);
	struct slashing_db *db = NULL;
	char *json = NULL;
	struct err e = {0};
	assert_int_equal(slashing_open(url, NULL, &db, &e), 0);
	assert_int_equal(slashing_export(db, NULL, 0, &json, &e), -ERR_NOT_FOUND);
	assert_null(json);
	slashing_close(db);
}

/* The guard runs before slashing protection: a refusal leaves no record
 * (not even the genesis validators root's binding); an allowed request
 * goes on to the database. */
static void test_refusal_records_nothing(void **state)
{
	(void)state;
	struct fixture f;
	fx_start(&f, 2, true);
	tclock.now = G + 1000 * EPOCH_S;
	tclock.down = false;
	char path[160], *out = NULL;
	bool went_on = true;
	snprintf(path, sizeof(path), "/api/v1/eth2/sign/%s", f.pk);
	char *bodies[] = {att_body(1003), att_body(997), block_body(1003 * 32),
			  block_body(997 * 32 + 31)};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(call(&f, HTTP_POST, path, bodies[i], &out,
				      &went_on), 412);
		assert_false(went_on);
		free(out);
		free(bodies[i]);
	}
	tclock.down = true;
	char *b = att_body(1000);
	assert_int_equal(call(&f, HTTP_POST, path, b, &out, &went_on), 503);
	assert_false(went_on);
	free(out);
	free(b);
	expect_nothing_recorded(&f); /* the database saw none of them */
	fx_stop(&f);
}

/* The batch endpoint goes through the same guard: one message for every
 * key, refused for the whole batch before anything is recorded. */
static void test_batch_route_guarded(void **state)
{
	(void)state;
	struct fixture f;
	fx_start(&f, 2, true);
	tclock.now = G + 1000 * EPOCH_S;
	tclock.down = false;
	for (int k = 0; k < 2; k++) {
		char *req = att_body(k == 0 ? 1003 : 997);
		char *body = NULL;
		assert_true(asprintf(&body, "{\"identifiers\":[\"%s\"],"
				     "\"signing_request\":%s}", f.pk, req) > 0);
		char *out = NULL;
		bool went_on = true;
		assert_int_equal(call(&f, HTTP_POST, "/api/v1/eth2/sign", body,
				      &out, &went_on), 412);
		assert_false(went_on);
		assert_non_null(strstr(out, "\"reason\":\"clock\""));
		free(out);
		free(body);
		free(req);
	}
	tclock.down = true;
	char *req = att_body(1000), *body = NULL, *out = NULL;
	assert_true(asprintf(&body, "{\"identifiers\":[\"%s\"],"
			     "\"signing_request\":%s}", f.pk, req) > 0);
	assert_int_equal(call(&f, HTTP_POST, "/api/v1/eth2/sign", body, &out,
			      NULL), 503);
	free(out);
	free(body);
	free(req);
	expect_nothing_recorded(&f);
	fx_stop(&f);
}

static void test_network_without_genesis_time_refused(void **state)
{
	(void)state;
	struct eth2_network n;
	struct err e = {0};
	assert_int_equal(load_config("", &n, &e, NULL), 0);
	struct signer_options o;
	memset(&o, 0, sizeof(o));
	o.eth2 = true;
	o.signing_types = UINT32_MAX;
	o.clock_guard_epochs = 2;
	struct signer *s = NULL;
	assert_int_equal(signer_new(&o, &n, &s, &e), -ERR_USAGE);
	assert_null(s);
	assert_non_null(strstr(e.msg, "--slashing-protection-clock-guard-epochs=2"));
	assert_non_null(strstr(e.msg, "has no genesis time"));
	/* off, the same network is fine */
	o.clock_guard_epochs = 0;
	assert_int_equal(signer_new(&o, &n, &s, &e), 0);
	signer_free(s);
	/* the flag's values */
	uint64_t v = 9;
	assert_int_equal(signer_clock_guard_parse("0", &v, &e), 0);
	assert_int_equal(v, 0);
	assert_int_equal(signer_clock_guard_parse("1000000", &v, &e), 0);
	const char *bad[] = {"", "-1", "1000001", "2x", " 2", "+2", "02"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(signer_clock_guard_parse(bad[i], &v, &e),
				 -ERR_USAGE);
		assert_non_null(strstr(e.msg,
				       "--slashing-protection-clock-guard-epochs"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attestation_past_future_and_edges),
		cmocka_unit_test(test_block_slot_epoch_edges),
		cmocka_unit_test(test_uint64_extremes),
		cmocka_unit_test(test_genesis_in_the_future),
		cmocka_unit_test(test_other_chain_and_errors),
		cmocka_unit_test(test_config_genesis_time),
		cmocka_unit_test(test_signer_refuses_outside_the_window),
		cmocka_unit_test(test_signer_without_time_fails_closed),
		cmocka_unit_test(test_signer_guard_off),
		cmocka_unit_test(test_refusal_records_nothing),
		cmocka_unit_test(test_batch_route_guarded),
		cmocka_unit_test(test_network_without_genesis_time_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
