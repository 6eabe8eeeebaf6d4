/*
 * test_enclave_init.c: the enclave's `init` end to end against the KMS
 * stand-in (which trusts the NSM simulator's root, as in
 * test_kms_recipient.c). The operator side builds records the way
 * docs/aws.md defines them (per-key sample records: KMS ciphertext of
 * {keystore_b64, password_b64, mnemonic_b64}; an envelope bundle: a
 * GenerateDataKey data key sealing "NSEB" | 1 | u32be n | n x (pk | sk)
 * with AES-256-GCM); the enclave decrypts them only through KMS with its
 * attested Recipient. Keys pinned to the simulator's PCR0 load; a record
 * under a key pinned to another image and a record whose pubkey names
 * another key are reported with their reasons; status is then ready with
 * exactly the loaded keys, and the signing API lists them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/aws.h"
#include "crypto/crypto.h"
#include "eth2/eth2.h"
#include "nitro/nitro.h"
/* The shared stand-in helpers include admin calls this file has no use for. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_aws_standins.h"
#pragma GCC diagnostic pop
#include "test_enclave_common.h"
#include "enclave/enclave_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <poll.h>
#include <stdatomic.h>
#include <openssl/x509v3.h>

#ifdef NS_NSM_SIMULATOR

#define PRINCIPAL "arn:aws:iam::111122223333:role/operator"
#define SIM_PCR0                                                              \
	"5d3938eb05288e20a981038b1861062ff4174884968a39aee5982b312894e60561883" \
	"576cc7381d39a3e4f4efcd6d4b2"
#define OTHER_PCR0                                                            \
	"f2e2d2c2b2a292827262524232221202f1e1d1c1b1a191817161514131211101" \
	"f0e0d0c0b0a090807060504030201000"
#define SIGNER_ID "signer-under-test"
#define ENVELOPE_FORMAT "nitro-signer-envelope-v1"
#define NKEYS 3

static char g_simdir[64];
static char g_nsm_spec[80];
static char g_pcr0_hex[2 * NITRO_PCR_LEN_MAX + 1];
static char g_key_sim[128], g_key_other[128], g_key_tls[128];
#define KEY_TABLE "nitro-signer-keys-enclave-test"

static struct aws_creds_provider *g_env;

/* enclave_actions: what the attested enclave may do, e.g. "\"kms:Decrypt\"". */
static void create_key_for(const char *pcr0, const char *enclave_actions,
			   char *arn, size_t arn_size)
{
	char policy[2048];
	snprintf(policy, sizeof(policy),
		 "{\"Version\":\"2012-10-17\",\"Statement\":["
		 "{\"Sid\":\"operator\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"%s\"},"
		 "\"Action\":[\"kms:Encrypt\",\"kms:GenerateDataKey\",\"kms:DescribeKey\"],"
		 "\"Resource\":\"*\",\"Condition\":{\"Null\":{"
		 "\"kms:RecipientAttestation:PCR0\":\"true\"}}},"
		 "{\"Sid\":\"enclave\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"%s\"},"
		 "\"Action\":[%s],\"Resource\":\"*\","
		 "\"Condition\":{\"StringEqualsIgnoreCase\":{"
		 "\"kms:RecipientAttestation:PCR0\":\"%s\"}}}]}",
		 PRINCIPAL, PRINCIPAL, enclave_actions, pcr0);
	assert_int_equal(standin_create_key(policy, arn, arn_size), 0);
}

static void create_pinned_key(const char *pcr0, char *arn, size_t arn_size)
{
	create_key_for(pcr0, "\"kms:Decrypt\"", arn, arn_size);
}

static int group_setup(void **state)
{
	(void)state;
	secret_init();
	log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
	struct err e = {0};
	snprintf(g_simdir, sizeof(g_simdir), "/tmp/ns-enclave-init-XXXXXX");
	if (!mkdtemp(g_simdir))
		return -1;
	char p[256];
	snprintf(p, sizeof(p), "%s/pcr0.hex", g_simdir);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("0x" SIM_PCR0 "\n", f);
	fclose(f);
	snprintf(g_nsm_spec, sizeof(g_nsm_spec), "sim:%s", g_simdir);
	struct nsm *nsm = NULL;
	if (nsm_open(g_nsm_spec, &nsm, &e) != 0) /* creates the CA files */
		return -1;
	uint8_t pcr[NITRO_PCR_LEN_MAX];
	size_t pcr_len = 0;
	bool locked;
	int rc = nsm_describe_pcr(nsm, 0, &locked, pcr, &pcr_len, &e);
	nsm_close(nsm);
	if (rc != 0)
		return -1;
	for (size_t i = 0; i < pcr_len; i++)
		sprintf(g_pcr0_hex + 2 * i, "%02x", pcr[i]);
	snprintf(p, sizeof(p), "%s/root.pem", g_simdir);
	setenv("KMS_STANDIN_ATTESTATION_ROOT", p, 1);
	if (standins_start() < 0)
		return -1;
	unsetenv("KMS_STANDIN_ATTESTATION_ROOT");
	g_env = aws_creds_env_new(&e);
	if (!g_env)
		return -1;
	create_pinned_key(g_pcr0_hex, g_key_sim, sizeof(g_key_sim));
	create_pinned_key(OTHER_PCR0, g_key_other, sizeof(g_key_other));
	create_key_for(g_pcr0_hex, "\"kms:Decrypt\",\"kms:GenerateDataKey\"",
		       g_key_tls, sizeof(g_key_tls));
	struct aws_client_opts o = {.creds = g_env};
	struct aws_client *c = aws_client_new(&o, &e);
	rc = c ? aws_ddb_create_table(c, KEY_TABLE, "web3signer_uuid", "S",
				      "pubkey", "S", &e) : -1;
	if (rc == 0)
		rc = aws_ddb_wait_active(c, KEY_TABLE, 10000, &e);
	aws_client_free(c);
	if (rc != 0) {
		fprintf(stderr, "key table: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	aws_creds_provider_free(g_env);
	standins_stop();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_simdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- the operator's side (docs/aws.md) ----------------------------------- */

static struct aws_client *operator_client(void)
{
	struct aws_client_opts o = {.creds = g_env, .base_delay_ms = 5,
				    .max_delay_ms = 50};
	struct err e = {0};
	struct aws_client *c = aws_client_new(&o, &e);
	if (!c)
		fail_msg("aws_client_new: %s", e.msg);
	return c;
}

static void pubkey_hex(const struct bls_key *k, char out[2 + 96 + 1])
{
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, out);
}

static char *b64(const void *p, size_t n)
{
	char *s = b64_encode(p, n);
	assert_non_null(s);
	return s;
}

/* A sample record: KMS ciphertext of {keystore_b64, password_b64,
 * mnemonic_b64} under `key`, labelled with `label`'s pubkey, sealed with
 * signer's encryption context (nitro-keys' format) or, legacy, with none
 * (the AWS sample's). */
static json_t *sample_record_as(struct aws_client *c, const char *key,
				const struct bls_key *k,
				const struct bls_key *label,
				const char *signer, bool legacy)
{
	static const char password[] = "correct horse battery staple";
	struct secret *pw = secret_from(password, strlen(password));
	struct keystore_params kp = {.kdf = KEYSTORE_KDF_PBKDF2, .path = "",
				     .work_factor = 16};
	char *ks = NULL;
	struct err e = {0};
	if (keystore_encrypt(k, pw, &kp, &ks, &e) < 0)
		fail_msg("keystore_encrypt: %s", e.msg);
	secret_free(pw);
	char *ks_b64 = b64(ks, strlen(ks)), *pw_b64 = b64(password, strlen(password));
	json_t *pt = json_pack("{s:s,s:s,s:s}", "keystore_b64", ks_b64,
			       "password_b64", pw_b64, "mnemonic_b64", "");
	char *text = json_dumps(pt, JSON_COMPACT);
	uint8_t *blob;
	size_t blob_len;
	json_t *ctx = legacy ? NULL
			     : aws_record_context(AWS_RECORD_PURPOSE_KEY, signer);
	if (aws_kms_encrypt(c, key, (uint8_t *)text, strlen(text), ctx, &blob,
			    &blob_len, &e) < 0)
		fail_msg("encrypt: %s", e.msg);
	json_decref(ctx);
	char pk[99], *ct = b64(blob, blob_len);
	pubkey_hex(label, pk);
	json_t *rec = json_pack("{s:s,s:s,s:s}", "pubkey", pk, "kind", "sample",
				"ciphertext_b64", ct);
	if (!legacy)
		json_object_set_new(rec, "context",
				    json_string(AWS_RECORD_PURPOSE_KEY));
	free(ct);
	free(blob);
	free(text);
	json_decref(pt);
	free(ks_b64);
	free(pw_b64);
	free(ks);
	return rec;
}

/* An envelope bundle of the given keys under one GenerateDataKey. */
static json_t *sample_record(struct aws_client *c, const char *key,
			     const struct bls_key *k, const struct bls_key *label)
{
	return sample_record_as(c, key, k, label, SIGNER_ID, false);
}

static json_t *envelope_record(struct aws_client *c, const char *key,
			       struct bls_key **keys, size_t n, const char *id)
{
	struct err e = {0};
	json_t *ctx = json_pack("{s:s,s:s}", "purpose", ENVELOPE_FORMAT,
				"signer_id", SIGNER_ID);
	struct aws_kms_data_key dk;
	memset(&dk, 0, sizeof(dk));
	if (aws_kms_generate_data_key(c, key, "AES_256", ctx, NULL, &dk, &e) < 0)
		fail_msg("generate data key: %s", e.msg);
	struct secret *pt = secret_new(9 + n * 80);
	memcpy(pt->bytes, "NSEB", 4);
	pt->bytes[4] = 1;
	pt->bytes[5] = pt->bytes[6] = pt->bytes[7] = 0;
	pt->bytes[8] = (uint8_t)n;
	json_t *pks = json_array();
	for (size_t i = 0; i < n; i++) {
		struct secret *sk = NULL;
		assert_int_equal(bls_key_export(keys[i], &sk, &e), 0);
		memcpy(pt->bytes + 9 + i * 80, keys[i]->pubkey, 48);
		memcpy(pt->bytes + 9 + i * 80 + 48, sk->bytes, 32);
		secret_free(sk);
		char pk[99];
		pubkey_hex(keys[i], pk);
		json_array_append_new(pks, json_string(pk));
	}
	char aad[256];
	int alen = snprintf(aad, sizeof(aad), "%s|%s|%s", ENVELOPE_FORMAT,
			    SIGNER_ID, id);
	uint8_t *sealed;
	size_t sealed_len;
	assert_int_equal(aws_envelope_seal(dk.plain.plaintext, (uint8_t *)aad,
					   (size_t)alen, pt->bytes, pt->len,
					   &sealed, &sealed_len, &e), 0);
	char *wrapped = b64(dk.blob, dk.blob_len), *ct = b64(sealed, sealed_len);
	json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:o}", "pubkey", id, "kind",
				"envelope", "wrapped_data_key_b64", wrapped,
				"envelope_ciphertext_b64", ct, "pubkeys", pks);
	free(wrapped);
	free(ct);
	free(sealed);
	secret_free(pt);
	aws_kms_data_key_clear(&dk);
	json_decref(ctx);
	return rec;
}

static json_t *init_msg(const struct test_enclave *t, json_t *records)
{
	char db[200];
	snprintf(db, sizeof(db), "sqlite:%s/slashing.db", t->dir);
	json_t *m = control_msg_new(CONTROL_INIT);
	json_t *body = json_pack(
		"{s:s,s:{s:s,s:s},s:s,s:s,s:s,s:s,s:s,s:o}", "region",
		getenv("AWS_REGION"), "credentials", "AccessKeyId",
		getenv("AWS_ACCESS_KEY_ID"), "SecretAccessKey",
		getenv("AWS_SECRET_ACCESS_KEY"), "kms_endpoint",
		getenv("AWS_ENDPOINT_URL_KMS"), "network", "mainnet",
		"slashing_db_url", db, "key_table", "nitro-signer-keys",
		"signer_id", SIGNER_ID, "records", records);
	assert_non_null(body);
	json_object_update(m, body);
	json_decref(body);
	return m;
}

/* A fresh key and a records array holding its per-key record (under the
 * key pinned to the simulator's PCR0). */
static json_t *one_sample_record(struct bls_key **k)
{
	struct err e = {0};
	assert_int_equal(bls_key_generate(k, &e), 0);
	struct aws_client *c = operator_client();
	json_t *recs = json_array();
	json_array_append_new(recs, sample_record(c, g_key_sim, *k, *k));
	aws_client_free(c);
	return recs;
}

/* init, then status, in one write: the enclave must answer both in order. */
static void send_init_then_status(int fd, const json_t *init)
{
	struct err e = {0};
	uint8_t *f1, *f2;
	size_t l1, l2;
	json_t *st = control_msg_new(CONTROL_STATUS);
	assert_int_equal(control_encode(init, &f1, &l1, &e), 0);
	assert_int_equal(control_encode(st, &f2, &l2, &e), 0);
	uint8_t *both = malloc(l1 + l2);
	assert_non_null(both);
	memcpy(both, f1, l1);
	memcpy(both + l1, f2, l2);
	host_send_raw(fd, both, l1 + l2);
	free(both);
	free(f1);
	free(f2);
	json_decref(st);
}

static const json_t *report_for(const json_t *keys, const char *pk)
{
	size_t i;
	const json_t *v;
	json_array_foreach(keys, i, v)
		if (strcmp(json_string_value(json_object_get(v, "pubkey")), pk) == 0)
			return v;
	return NULL;
}

static const char randao_body[] =
	"{\"type\":\"RANDAO_REVEAL\",\"fork_info\":{\"fork\":{"
	"\"previous_version\":\"0x00000000\",\"current_version\":"
	"\"0x00000000\",\"epoch\":\"0\"},\"genesis_validators_root\":"
	"\"0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\"},"
	"\"randao_reveal\":{\"epoch\":\"3\"}}";

/* A RANDAO_REVEAL for pk through the enclave's API: the status, and the
 * reply body in *out (caller frees). */
static int sign_randao(struct enclave *en, const char *pk, char **out)
{
	char path[160];
	snprintf(path, sizeof(path), "/api/v1/eth2/sign/%s", pk);
	struct http_handlers h = enclave_api_handlers(en);
	struct http_req req = {.method = HTTP_POST, .path = path,
			       .accept = (char *)"application/json",
			       .content_type = (char *)"application/json",
			       .body = (uint8_t *)randao_body,
			       .body_len = strlen(randao_body)};
	struct http_reply rep = {0};
	h.handle(&req, &rep, h.arg);
	*out = rep.body;
	return rep.status;
}

/* 200 and a signature by k over the signing root the eth2 module computes
 * for the same request. */
static void check_signs(struct enclave *en, const struct bls_key *k,
			const char *pk)
{
	char *body = NULL;
	int status = sign_randao(en, pk, &body);
	if (status != 200)
		fail_msg("sign: %d %s", status, body);
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	uint8_t sig[BLS_SIG_LEN];
	struct err e = {0};
	assert_int_equal(hex_decode_exact(json_string_value(json_object_get(
						  j, "signature")),
					  sig, sizeof(sig), &e, "signature"), 0);
	json_decref(j);
	struct eth2_network net;
	struct eth2_signing s;
	assert_int_equal(eth2_network_load("mainnet", &net, &e), 0);
	assert_int_equal(eth2_signing_parse(&net, randao_body,
					    strlen(randao_body), &s, &e), 0);
	assert_int_equal(bls_verify(k->pubkey, s.signing_root, 32, sig), 0);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_init_loads_sample_and_envelope_records(void **state)
{
	(void)state;
	struct err e = {0};
	struct bls_key *k[NKEYS + 1];
	for (int i = 0; i <= NKEYS; i++)
		assert_int_equal(bls_key_generate(&k[i], &e), 0);
	struct aws_client *c = operator_client();
	json_t *recs = json_array();
	json_array_append_new(recs, sample_record(c, g_key_sim, k[0], k[0]));
	json_array_append_new(recs, sample_record(c, g_key_sim, k[1], k[1]));
	json_array_append_new(recs, envelope_record(c, g_key_sim, &k[2], 1,
						    "envelope:0011223344556677:1"));
	/* Under a key pinned to another image: KMS refuses the enclave. */
	json_array_append_new(recs, sample_record(c, g_key_other, k[3], k[3]));
	/* A record naming another key than the one inside. */
	json_array_append_new(recs, sample_record(c, g_key_sim, k[0], k[3]));
	aws_client_free(c);

	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int fd = host_connect(&t);
	json_t *r = expect_ok(host_call(fd, init_msg(&t, recs)));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), NKEYS);
	const json_t *keys = json_object_get(r, "keys");
	assert_int_equal(json_array_size(keys), 5);
	char pk[NKEYS + 1][99];
	for (int i = 0; i <= NKEYS; i++)
		pubkey_hex(k[i], pk[i]);
	for (int i = 0; i < NKEYS; i++) {
		const json_t *rep = report_for(keys, pk[i]);
		assert_non_null(rep);
		assert_true(json_is_true(json_object_get(rep, "loaded")));
		assert_null(json_object_get(rep, "error"));
	}
	/* Both records labelled k[3] fail, each with its reason. */
	size_t i;
	const json_t *v;
	int other_image = 0, mismatch = 0;
	json_array_foreach(keys, i, v) {
		if (strcmp(json_string_value(json_object_get(v, "pubkey")), pk[3]))
			continue;
		assert_true(json_is_false(json_object_get(v, "loaded")));
		const char *why = json_string_value(json_object_get(v, "error"));
		assert_non_null(why);
		other_image += strstr(why, "AccessDenied") != NULL;
		mismatch += strstr(why, "does not match") != NULL;
	}
	assert_int_equal(other_image, 1);
	assert_int_equal(mismatch, 1);
	json_decref(r);

	r = host_call(fd, control_msg_new(CONTROL_STATUS));
	assert_true(json_is_true(json_object_get(r, "ready")));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), NKEYS);
	json_decref(r);

	/* The signing API now serves exactly the loaded keys. */
	struct http_handlers h = enclave_api_handlers(t.en);
	struct http_req req = {.method = HTTP_GET,
			       .path = (char *)"/api/v1/eth2/publicKeys"};
	struct http_reply rep = {0};
	h.handle(&req, &rep, h.arg);
	assert_int_equal(rep.status, 200);
	for (int j = 0; j < NKEYS; j++)
		assert_non_null(strstr(rep.body, pk[j]));
	assert_null(strstr(rep.body, pk[3]));
	free(rep.body);
	check_signs(t.en, k[2], pk[2]); /* the key from the envelope */
	check_signs(t.en, k[0], pk[0]);
	/* The key whose records were refused is unknown to the API. */
	char *body = NULL;
	assert_int_equal(sign_randao(t.en, pk[3], &body), 404);
	free(body);

	close(fd);
	test_enclave_stop(&t);
	for (int j = 0; j <= NKEYS; j++)
		bls_key_free(k[j]);
}

static void test_tampered_envelope_reports_every_listed_key(void **state)
{
	(void)state;
	struct err e = {0};
	struct bls_key *k[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(bls_key_generate(&k[i], &e), 0);
	struct aws_client *c = operator_client();
	json_t *rec = envelope_record(c, g_key_sim, k, 2,
				      "envelope:8899aabbccddeeff:1");
	aws_client_free(c);
	/* The same bundle presented under another record id: the AAD binds
	 * the id, so AES-GCM refuses it. */
	json_object_set_new(rec, "pubkey",
			    json_string("envelope:8899aabbccddeeff:2"));
	json_t *recs = json_array();
	json_array_append_new(recs, rec);
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int fd = host_connect(&t);
	json_t *r = host_call(fd, init_msg(&t, recs));
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 0);
	const json_t *keys = json_object_get(r, "keys");
	assert_int_equal(json_array_size(keys), 2);
	for (size_t i = 0; i < 2; i++)
		assert_true(json_is_false(json_object_get(json_array_get(keys, i),
							  "loaded")));
	json_decref(r);
	/* status names the keys that failed and why (the host's /health
	 * says DEGRADED from it) */
	r = host_call(fd, control_msg_new(CONTROL_STATUS));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_failed")), 2);
	const json_t *failed = json_object_get(r, "failed_keys");
	assert_int_equal(json_array_size(failed), 2);
	char pk0[99];
	pubkey_hex(k[0], pk0);
	bool named = false;
	for (size_t i = 0; i < 2; i++) {
		const json_t *f = json_array_get(failed, i);
		named = named || strcmp(json_string_value(json_object_get(f, "pubkey")),
					pk0) == 0;
		assert_true(json_string_length(json_object_get(f, "error")) > 0);
	}
	assert_true(named);
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
	for (int j = 0; j < 2; j++)
		bls_key_free(k[j]);
}

static void test_init_through_the_host_proxy_socket(void **state)
{
	(void)state;
	struct bls_key *k;
	json_t *recs = one_sample_record(&k);
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int fd = host_connect(&t);
	/* A proxy address that is not unix/vsock is refused up front. */
	json_t *m = init_msg(&t, json_array());
	json_object_set_new(m, "kms_proxy", json_string("tcp:127.0.0.1:1"));
	json_t *r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	/* The endpoint's name is never resolved: the stand-in's unix socket
	 * stands for the host's vsock proxy. */
	char endpoint[128], proxy[300];
	snprintf(endpoint, sizeof(endpoint), "http://kms.%s.amazonaws.com",
		 getenv("AWS_REGION"));
	snprintf(proxy, sizeof(proxy), "unix:%s", getenv("NS_STANDIN_KMS_SOCK"));
	m = init_msg(&t, recs);
	json_object_set_new(m, "kms_endpoint", json_string(endpoint));
	json_object_set_new(m, "kms_proxy", json_string(proxy));
	r = expect_ok(host_call(fd, m));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	json_decref(r);
	char pk[99];
	pubkey_hex(k, pk);
	check_signs(t.en, k, pk);
	close(fd);
	test_enclave_stop(&t);
	bls_key_free(k);
}

/* ---- the TLS key born in the enclave ---------------------------------------- */

static json_t *tls_init_msg(const struct test_enclave *t, const char *signer,
			    json_t *records)
{
	json_t *m = init_msg(t, records);
	json_object_set_new(m, "signer_id", json_string(signer));
	json_object_set_new(m, "key_table", json_string(KEY_TABLE));
	json_object_set_new(m, "kms_key_id", json_string(g_key_tls));
	json_object_set_new(m, "dynamodb_endpoint",
			    json_string(getenv("AWS_ENDPOINT_URL_DYNAMODB")));
	json_object_set_new(m, "tls_names",
			    json_pack("[s,s]", "localhost", "127.0.0.1"));
	return m;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

/* SHA-256 of the certificate's SubjectPublicKeyInfo DER. */
static void spki_sha256(const char *pem, uint8_t out[32])
{
	X509 *x = pem_cert(pem);
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, out, NULL, EVP_sha256(),
				    NULL), 1);
	OPENSSL_free(der);
	X509_free(x);
}

static json_t *tls_item_key(const char *signer)
{
	return json_pack("{s:{s:s},s:{s:s}}", "web3signer_uuid", "S", signer,
			 "pubkey", "S", "tls:server");
}

/* The stored TLS record of signer, or NULL. */
static json_t *tls_item(const char *signer)
{
	struct aws_client *c = operator_client();
	json_t *key = tls_item_key(signer), *item = NULL;
	struct err e = {0};
	if (aws_ddb_get_item(c, KEY_TABLE, key, true, &item, &e) < 0)
		fail_msg("GetItem: %s", e.msg);
	json_decref(key);
	aws_client_free(c);
	return item;
}

static void tls_item_put(json_t *item, const char *signer)
{
	struct aws_client *c = operator_client();
	struct err e = {0};
	json_object_set_new(item, "web3signer_uuid", json_pack("{s:s}", "S", signer));
	if (aws_ddb_put_item(c, KEY_TABLE, item, NULL, &e) < 0)
		fail_msg("PutItem: %s", e.msg);
	aws_client_free(c);
}

static const char *item_s(const json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(item, name), "S"));
}

/* init must succeed; returns the reply. */
static json_t *init_ok(int fd, json_t *msg)
{
	return expect_ok(host_call(fd, msg));
}

/* A request to the gate as if it came over TLS (tls) or plain HTTP. */
static int api_get(struct enclave *en, const char *path, const char *query,
		   bool tls, struct http_reply *rep)
{
	struct http_handlers h = enclave_api_handlers(en);
	struct http_req req = {.method = HTTP_GET, .path = (char *)path,
			       .query = (char *)query, .tls = tls};
	memset(rep, 0, sizeof(*rep));
	h.handle(&req, rep, h.arg);
	if (rep->defer_fn)
		rep->defer_fn(&req, rep, rep->defer_ctx);
	return rep->status;
}

/* GET url (https pinned to the PEM in ca_path); the HTTP status, or -1
 * when the exchange failed (e.g. plain HTTP to a TLS listener). */
static long url_get(const char *url, const char *ca_path, struct admin_buf *b,
		    char *ctype, size_t ctype_len)
{
	CURL *h = curl_easy_init();
	memset(b, 0, sizeof(*b));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, admin_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	if (ca_path)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_path);
	long status = -1;
	if (curl_easy_perform(h) == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		char *ct = NULL;
		curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
		if (ctype)
			snprintf(ctype, ctype_len, "%s", ct ? ct : "");
	}
	curl_easy_cleanup(h);
	return status;
}

struct api_server {
	struct http_server *srv;
	pthread_t thr;
	uint16_t port;
};

static void *api_thread(void *arg)
{
	(void)http_server_run(arg);
	return NULL;
}

/* The enclave's API on 127.0.0.1 (free port), plain until init. */
static void api_start(struct api_server *a, struct enclave *en)
{
	struct err e = {0};
	struct http_server_config cfg = {
		.host_allowlist = "*",
		.max_body = 1 << 20,
		.loops = 1,
		.workers = 2,
		.handlers = enclave_api_handlers(en),
	};
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:0", &cfg.listen, &e), 0);
	if (http_server_new(&cfg, &a->srv, &e) < 0)
		fail_msg("http_server_new: %s", e.msg);
	enclave_set_api_server(en, a->srv);
	a->port = http_server_port(a->srv);
	assert_int_equal(pthread_create(&a->thr, NULL, api_thread, a->srv), 0);
}

static void api_stop(struct api_server *a)
{
	http_server_stop(a->srv);
	pthread_join(a->thr, NULL);
	http_server_free(a->srv);
}

/* A document from GET /attestation: verified against the simulator's root,
 * user_data = SHA-256(SPKI of pem), the nonce echoed. */
static void check_attestation_doc(const uint8_t *doc, size_t len,
				  const char *pem, const uint8_t *nonce,
				  size_t nonce_len)
{
	char root[128];
	snprintf(root, sizeof(root), "%s/root.pem", g_simdir);
	uint8_t *der = NULL;
	size_t der_len = 0;
	struct err e = {0};
	assert_int_equal(attestation_root_from_pem_file(root, &der, &der_len, &e), 0);
	struct attestation_verify_opts o = {der, der_len, 0, 0};
	struct attestation_doc *d = NULL;
	if (attestation_verify(doc, len, &o, &d, &e) < 0)
		fail_msg("attestation_verify: %s", e.msg);
	uint8_t want[32];
	spki_sha256(pem, want);
	assert_true(d->user_data.present);
	assert_int_equal(d->user_data.len, 32);
	assert_memory_equal(d->user_data.p, want, 32);
	assert_true(d->nonce.present);
	assert_int_equal(d->nonce.len, nonce_len);
	assert_memory_equal(d->nonce.p, nonce, nonce_len);
	assert_false(d->public_key.present);
	attestation_doc_free(d);
	free(der);
}

static void test_tls_key_born_in_enclave_served_and_recovered(void **state)
{
	(void)state;
	struct bls_key *k;
	struct err e = {0};
	assert_int_equal(bls_key_generate(&k, &e), 0);
	struct aws_client *oc = operator_client();
	json_t *recs = json_pack("[o]", sample_record_as(oc, g_key_sim, k, k,
							 "tls-signer-a", false));
	aws_client_free(oc);
	assert_null(tls_item("tls-signer-a"));

	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	struct api_server api;
	api_start(&api, t.en);
	char url[128];
	struct admin_buf b;
	/* Before init: plain HTTP, 503 on every route. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/upcheck", api.port);
	assert_int_equal(url_get(url, NULL, &b, NULL, 0), 503);
	free(b.p);

	int fd = host_connect(&t);
	json_t *r = init_ok(fd, tls_init_msg(&t, "tls-signer-a", recs));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	const char *pem = json_string_value(json_object_get(r, "tls_cert_pem"));
	const char *spki = json_string_value(json_object_get(r, "tls_spki_sha256"));
	assert_non_null(pem);
	assert_non_null(spki);
	uint8_t want[32];
	char want_hex[67];
	spki_sha256(pem, want);
	hex_encode(want, 32, want_hex);
	assert_string_equal(spki, want_hex + 2);
	/* The certificate names what tls_names listed. */
	X509 *x = pem_cert(pem);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(x, "example.com", 0, 0, NULL), 0);
	char cn[128];
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
				  sizeof(cn));
	assert_string_equal(cn, "nitro-signer tls-signer-a");
	X509_free(x);

	/* The record: sealed key, the same certificate, nothing in the clear. */
	json_t *item = tls_item("tls-signer-a");
	assert_non_null(item);
	assert_string_equal(item_s(item, "tls_format"), "nitro-signer-tls-v1");
	assert_string_equal(item_s(item, "tls_cert_pem"), pem);
	assert_non_null(item_s(item, "wrapped_data_key_b64"));
	assert_non_null(item_s(item, "tls_key_ciphertext_b64"));
	assert_non_null(item_s(item, "datetime"));
	assert_null(strstr(item_s(item, "tls_key_ciphertext_b64"), "PRIVATE"));

	json_t *st = host_call(fd, control_msg_new(CONTROL_STATUS));
	assert_true(json_is_true(json_object_get(st, "tls")));
	assert_true(json_is_true(json_object_get(st, "ready")));
	json_decref(st);

	/* After init: HTTPS with that certificate; plain HTTP is not served. */
	char ca[128];
	snprintf(ca, sizeof(ca), "%s/api-cert.pem", t.dir);
	FILE *f = fopen(ca, "w");
	assert_non_null(f);
	fputs(pem, f);
	fclose(f);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/upcheck", api.port);
	assert_int_equal(url_get(url, ca, &b, NULL, 0), 200);
	free(b.p);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/upcheck", api.port);
	long plain = url_get(url, NULL, &b, NULL, 0);
	assert_true(plain != 200);
	free(b.p);
	/* GET /attestation over HTTPS: the raw document binding the key. */
	static const uint8_t nonce[] = {0x00, 0x11, 0x22, 0xff};
	char ctype[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/attestation?nonce=001122FF",
		 api.port);
	assert_int_equal(url_get(url, ca, &b, ctype, sizeof(ctype)), 200);
	assert_string_equal(ctype, "application/cbor");
	check_attestation_doc((uint8_t *)b.p, b.n, pem, nonce, sizeof(nonce));
	free(b.p);

	/* A request on a connection that is not TLS is refused by the gate. */
	struct http_reply rep;
	assert_int_equal(api_get(t.en, "/api/v1/eth2/publicKeys", NULL, false,
				 &rep), 403);
	assert_non_null(strstr(rep.body, "TLS required"));
	free(rep.body);
	assert_int_equal(api_get(t.en, "/api/v1/eth2/publicKeys", NULL, true,
				 &rep), 200);
	free(rep.body);
	close(fd);
	api_stop(&api);
	test_enclave_stop(&t);

	/* Another enclave of the same signer gets the same key back. */
	struct test_enclave t2;
	test_enclave_start(&t2, g_nsm_spec, 0);
	fd = host_connect(&t2);
	json_t *r2 = init_ok(fd, tls_init_msg(&t2, "tls-signer-a", json_array()));
	assert_string_equal(json_string_value(json_object_get(r2, "tls_cert_pem")),
			    pem);
	assert_string_equal(json_string_value(json_object_get(r2, "tls_spki_sha256")),
			    spki);
	json_t *item2 = tls_item("tls-signer-a");
	assert_true(json_equal(item, item2)); /* recovered, not rewritten */
	json_decref(item2);
	json_decref(r2);
	close(fd);
	test_enclave_stop(&t2);
	json_decref(item);
	json_decref(r);
	bls_key_free(k);
}

static void test_attestation_route_checks_nonce_and_rate(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	struct http_reply rep;
	assert_int_equal(api_get(t.en, "/attestation", "nonce=00", true, &rep), 503);
	free(rep.body);
	int fd = host_connect(&t);
	json_t *r = init_ok(fd, tls_init_msg(&t, "tls-signer-rate", json_array()));
	const char *pem = json_string_value(json_object_get(r, "tls_cert_pem"));
	static const char *const bad[] = {
		NULL, "", "nonce=", "nonce=0", "nonce=zz", "nonce=0x00",
		"other=00", "nonce=00&nonce=11",
		"nonce=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(api_get(t.en, "/attestation", bad[i], true, &rep), 400);
		assert_non_null(strstr(rep.body, "nonce"));
		free(rep.body);
	}
	/* 64 bytes is the most. */
	char q[140] = "nonce=";
	uint8_t nonce[64];
	for (int i = 0; i < 64; i++) {
		nonce[i] = (uint8_t)(0xa0 + i);
		sprintf(q + 6 + 2 * i, "%02x", nonce[i]);
	}
	assert_int_equal(api_get(t.en, "/attestation", q, true, &rep), 200);
	check_attestation_doc((uint8_t *)rep.body, rep.body_len, pem, nonce, 64);
	free(rep.body);
	/* The bucket: a burst of 10 (one spent above, maybe refilled), then 429. */
	struct http_handlers h = enclave_api_handlers(t.en);
	struct http_req req = {.method = HTTP_GET, .path = (char *)"/attestation",
			       .query = (char *)"nonce=01", .tls = true};
	struct http_reply burst[12];
	int ok = 0, limited = 0;
	for (int i = 0; i < 12; i++) {
		memset(&burst[i], 0, sizeof(burst[i]));
		h.handle(&req, &burst[i], h.arg);
		if (burst[i].defer_fn)
			ok++;
		else if (burst[i].status == 429)
			limited++;
	}
	assert_true(ok >= 9 && ok <= 10);
	assert_int_equal(ok + limited, 12);
	for (int i = 0; i < 12; i++) {
		if (burst[i].defer_fn) {
			burst[i].defer_fn(&req, &burst[i], burst[i].defer_ctx);
			assert_int_equal(burst[i].status, 200);
		} else {
			assert_non_null(strstr(burst[i].body, "too many"));
		}
		free(burst[i].body);
	}
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

struct racer {
	struct test_enclave t;
	json_t *reply;
};

static void *race_init(void *arg)
{
	struct racer *r = arg;
	int fd = host_connect(&r->t);
	r->reply = host_call(fd, tls_init_msg(&r->t, "tls-signer-race",
					      json_array()));
	close(fd);
	return NULL;
}

static void test_tls_two_enclaves_racing_agree_on_one_key(void **state)
{
	(void)state;
	struct racer r[2];
	pthread_t thr[2];
	for (int i = 0; i < 2; i++)
		test_enclave_start(&r[i].t, g_nsm_spec, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&thr[i], NULL, race_init, &r[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(thr[i], NULL);
	for (int i = 0; i < 2; i++)
		if (!json_is_true(json_object_get(r[i].reply, "ok")))
			fail_msg("init %d: %s", i, json_string_value(json_object_get(
							     r[i].reply, "error")));
	json_t *item = tls_item("tls-signer-race");
	assert_non_null(item);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(json_string_value(json_object_get(
					    r[i].reply, "tls_cert_pem")),
				    item_s(item, "tls_cert_pem"));
		json_decref(r[i].reply);
		test_enclave_stop(&r[i].t);
	}
	json_decref(item);
}

/* init with this record for signer fails naming `why`; nothing changes. */
static void check_bad_record(const char *signer, const char *why)
{
	json_t *before = tls_item(signer);
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int fd = host_connect(&t);
	json_t *r = host_call(fd, tls_init_msg(&t, signer, json_array()));
	assert_true(json_is_false(json_object_get(r, "ok")));
	const char *err = json_string_value(json_object_get(r, "error"));
	assert_non_null(err);
	if (!strstr(err, "tls key") || !strstr(err, why))
		fail_msg("%s: unexpected error: %s", signer, err);
	json_decref(r);
	r = host_call(fd, control_msg_new(CONTROL_STATUS));
	assert_true(json_is_false(json_object_get(r, "ready")));
	assert_true(json_is_false(json_object_get(r, "tls")));
	json_decref(r);
	struct http_reply rep;
	assert_int_equal(api_get(t.en, "/upcheck", NULL, true, &rep), 503);
	free(rep.body);
	json_t *after = tls_item(signer);
	assert_true(before ? json_equal(before, after) : after == NULL);
	json_decref(before);
	json_decref(after);
	close(fd);
	test_enclave_stop(&t);
}

static void test_tls_bad_records_fail_init_and_change_nothing(void **state)
{
	(void)state;
	/* Two good records to take apart (made by enclaves). */
	static const char *const good[] = {"tls-signer-good-1", "tls-signer-good-2"};
	json_t *items[2];
	for (int i = 0; i < 2; i++) {
		struct test_enclave t;
		test_enclave_start(&t, g_nsm_spec, 0);
		int fd = host_connect(&t);
		json_decref(init_ok(fd, tls_init_msg(&t, good[i], json_array())));
		close(fd);
		test_enclave_stop(&t);
		items[i] = tls_item(good[i]);
		assert_non_null(items[i]);
	}
	/* Another signer's record: KMS refuses the encryption context. */
	json_t *x = json_deep_copy(items[0]);
	tls_item_put(x, "tls-bad-other-signer");
	json_decref(x);
	check_bad_record("tls-bad-other-signer", "InvalidCiphertext");
	/* Garbage base64. */
	x = json_deep_copy(items[0]);
	json_object_set_new(x, "tls_key_ciphertext_b64",
			    json_pack("{s:s}", "S", "@@not base64@@"));
	tls_item_put(x, "tls-bad-base64");
	json_decref(x);
	check_bad_record("tls-bad-base64", "base64");
	/* The key of one record with the certificate of another. */
	x = json_deep_copy(items[0]);
	json_object_set(x, "tls_cert_pem", json_object_get(items[1], "tls_cert_pem"));
	tls_item_put(x, "tls-signer-good-1");
	json_decref(x);
	check_bad_record("tls-signer-good-1", "does not match");
	/* An unknown format. */
	x = json_deep_copy(items[1]);
	json_object_set_new(x, "tls_format", json_pack("{s:s}", "S", "v0"));
	tls_item_put(x, "tls-signer-good-2");
	json_decref(x);
	check_bad_record("tls-signer-good-2", "tls_format");
	/* KMS refuses GenerateDataKey for a key whose policy does not allow the
	 * enclave to: init fails and no record is written. */
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int fd = host_connect(&t);
	json_t *m = tls_init_msg(&t, "tls-denied", json_array());
	json_object_set_new(m, "kms_key_id", json_string(g_key_sim));
	json_t *r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
			       "AccessDenied"));
	json_decref(r);
	assert_null(tls_item("tls-denied"));
	/* DynamoDB refusing the read fails init too, naming the call. */
	standin_faults("AWS_ENDPOINT_URL_DYNAMODB",
		       "[{\"op\":\"GetItem\",\"kind\":\"error\",\"status\":400,"
		       "\"type\":\"AccessDeniedException\",\"count\":1}]");
	r = host_call(fd, tls_init_msg(&t, "tls-denied", json_array()));
	assert_true(json_is_false(json_object_get(r, "ok")));
	const char *why = json_string_value(json_object_get(r, "error"));
	if (!strstr(why, "tls key") || !strstr(why, "GetItem") ||
	    !strstr(why, "AccessDenied"))
		fail_msg("unexpected: %s", why);
	json_decref(r);
	standin_faults("AWS_ENDPOINT_URL_DYNAMODB", "[]");
	assert_null(tls_item("tls-denied"));
	/* The host may retry: the same enclave then initialises. */
	json_decref(init_ok(fd, tls_init_msg(&t, "tls-denied", json_array())));
	close(fd);
	test_enclave_stop(&t);
	for (int i = 0; i < 2; i++)
		json_decref(items[i]);
}

/* ---- a host proxy for DynamoDB ---------------------------------------------- */

/*
 * The host's DynamoDB proxy, in miniature: a unix socket whose every
 * connection is relayed byte for byte to the dynalite stand-in's TCP port
 * (as nitro-host relays vsock to the real endpoint). Counts connections.
 */
struct relay {
	int listen_fd, stop[2];
	char path[108];
	struct sockaddr_in to;
	pthread_t thr;
	atomic_int conns;
	/* Run once, before the first PutItem is passed on (a competing put). */
	void (*before_put)(void);
	atomic_bool put_seen;
};

static struct relay *g_relay;

static void pump(int a, int b)
{
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	char buf[16384];
	for (;;) {
		if (poll(p, 2, 10000) <= 0)
			return;
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				return;
			if (i == 0 && g_relay->before_put &&
			    memmem(buf, (size_t)n, "DynamoDB_20120810.PutItem", 25) &&
			    !atomic_exchange(&g_relay->put_seen, true))
				g_relay->before_put();
			if (send(p[1 - i].fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				return;
		}
	}
}

struct pump_args {
	int a, b;
};

static void *pump_thread(void *arg)
{
	struct pump_args *pa = arg;
	pump(pa->a, pa->b);
	close(pa->a);
	close(pa->b);
	free(pa);
	return NULL;
}

static void *relay_thread(void *arg)
{
	struct relay *r = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = r->stop[0], .events = POLLIN},
				      {.fd = r->listen_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 || p[0].revents)
			return NULL;
		int c = accept(r->listen_fd, NULL, NULL);
		if (c < 0)
			continue;
		int up = socket(AF_INET, SOCK_STREAM, 0);
		if (up < 0 || connect(up, (struct sockaddr *)&r->to, sizeof(r->to)) != 0) {
			close(c);
			if (up >= 0)
				close(up);
			continue;
		}
		atomic_fetch_add(&r->conns, 1);
		struct pump_args *pa = malloc(sizeof(*pa));
		pthread_t t;
		pa->a = c;
		pa->b = up;
		if (pthread_create(&t, NULL, pump_thread, pa) == 0)
			pthread_detach(t);
	}
}

static void relay_start(struct relay *r, const char *dir)
{
	memset(r, 0, sizeof(*r));
	g_relay = r;
	const char *ep = getenv("AWS_ENDPOINT_URL_DYNAMODB"); /* http://127.0.0.1:P */
	const char *colon = strrchr(ep, ':');
	r->to.sin_family = AF_INET;
	r->to.sin_port = htons((uint16_t)atoi(colon + 1));
	r->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(r->path, sizeof(r->path), "%.80s/ddb-proxy.sock", dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->path);
	r->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(r->listen_fd >= 0);
	assert_int_equal(bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r->listen_fd, 8), 0);
	assert_int_equal(pipe(r->stop), 0);
	assert_int_equal(pthread_create(&r->thr, NULL, relay_thread, r), 0);
}

static void relay_stop(struct relay *r)
{
	assert_int_equal(write(r->stop[1], "x", 1), 1);
	pthread_join(r->thr, NULL);
	close(r->listen_fd);
	close(r->stop[0]);
	close(r->stop[1]);
	unlink(r->path);
	g_relay = NULL;
}

static void test_tls_record_through_the_dynamodb_proxy(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	struct relay rl;
	relay_start(&rl, t.dir);
	int fd = host_connect(&t);
	char endpoint[128], proxy[160];
	snprintf(endpoint, sizeof(endpoint), "http://dynamodb.%s.amazonaws.com",
		 getenv("AWS_REGION"));
	snprintf(proxy, sizeof(proxy), "unix:%s", rl.path);
	json_t *m = tls_init_msg(&t, "tls-signer-proxied", json_array());
	json_object_set_new(m, "dynamodb_endpoint", json_string(endpoint));
	json_object_set_new(m, "dynamodb_proxy", json_string(proxy));
	json_t *r = init_ok(fd, m);
	assert_true(atomic_load(&rl.conns) >= 1);
	json_t *item = tls_item("tls-signer-proxied");
	assert_non_null(item);
	assert_string_equal(item_s(item, "tls_cert_pem"),
			    json_string_value(json_object_get(r, "tls_cert_pem")));
	json_decref(item);
	json_decref(r);
	close(fd);
	relay_stop(&rl);
	test_enclave_stop(&t);
}

/* The record another enclave made, put back just before ours is put. */
static json_t *g_competitor;

static void put_competitor(void)
{
	tls_item_put(g_competitor, "tls-signer-lost-race");
}

static void delete_tls_item(const char *signer)
{
	struct aws_client *c = operator_client();
	json_t *key = tls_item_key(signer);
	struct err e = {0};
	if (aws_ddb_delete_item(c, KEY_TABLE, key, NULL, &e) < 0)
		fail_msg("DeleteItem: %s", e.msg);
	json_decref(key);
	aws_client_free(c);
}

/* One enclave of the signer makes a record, which is then taken away; a
 * second one finds none, makes its own key, and just before its
 * conditional put the first record reappears (the relay puts it): the put
 * fails, the second enclave reads the winner's record and serves the
 * first one's certificate. */
static void test_tls_lost_put_race_uses_the_winners_key(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int fd = host_connect(&t);
	json_t *first = init_ok(fd, tls_init_msg(&t, "tls-signer-lost-race",
						 json_array()));
	close(fd);
	test_enclave_stop(&t);
	g_competitor = tls_item("tls-signer-lost-race");
	assert_non_null(g_competitor);
	delete_tls_item("tls-signer-lost-race");
	assert_null(tls_item("tls-signer-lost-race"));

	test_enclave_start(&t, g_nsm_spec, 0);
	struct relay rl;
	relay_start(&rl, t.dir);
	rl.before_put = put_competitor;
	fd = host_connect(&t);
	char proxy[160];
	snprintf(proxy, sizeof(proxy), "unix:%s", rl.path);
	json_t *m = tls_init_msg(&t, "tls-signer-lost-race", json_array());
	json_object_set_new(m, "dynamodb_proxy", json_string(proxy));
	json_t *r = init_ok(fd, m);
	assert_true(atomic_load(&rl.put_seen));
	assert_string_equal(json_string_value(json_object_get(r, "tls_cert_pem")),
			    json_string_value(json_object_get(first, "tls_cert_pem")));
	json_t *item = tls_item("tls-signer-lost-race");
	assert_true(json_equal(item, g_competitor)); /* ours was not written */
	json_decref(item);
	json_decref(r);
	json_decref(first);
	json_decref(g_competitor);
	g_competitor = NULL;
	close(fd);
	relay_stop(&rl);
	test_enclave_stop(&t);
}

/* ---- init on the worker ------------------------------------------------------ */

static void test_status_answers_while_init_runs(void **state)
{
	(void)state;
	struct bls_key *k;
	json_t *recs = one_sample_record(&k);
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int a = host_connect(&t), b = host_connect(&t);
	/* KMS throttles the first Decrypts: the init takes a while (retries
	 * with backoff). */
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"Decrypt\",\"kind\":\"throttle\",\"count\":4}]");
	/* init and then status on one connection, in one write: the replies
	 * come back in order. */
	json_t *m = init_msg(&t, recs);
	send_init_then_status(a, m);
	usleep(100 * 1000);
	/* Meanwhile another connection gets answers. */
	json_t *r = host_call(b, control_msg_new(CONTROL_STATUS));
	assert_true(json_is_true(json_object_get(r, "initialising")));
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	r = host_call(b, m); /* a second init while one runs */
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
			       "in progress"));
	json_decref(r);
	r = expect_ok(host_recv(a));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	json_decref(r);
	r = host_recv(a);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ready")));
	assert_true(json_is_false(json_object_get(r, "initialising")));
	json_decref(r);
	standin_faults("AWS_ENDPOINT_URL_KMS", "[]");
	close(a);
	close(b);
	test_enclave_stop(&t);
	bls_key_free(k);
}

/*
 * A connection that closes while another's init runs moves the busy one
 * down the connection table; the next connection accepted into the freed
 * slot starts clean: it is answered at once (it once inherited the busy
 * flag and the pipelined bytes of the init's connection, which were then
 * fed and freed twice).
 */
static void test_connection_slot_reuse_during_init(void **state)
{
	(void)state;
	struct bls_key *k;
	json_t *recs = one_sample_record(&k);
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int x = host_connect(&t), y = host_connect(&t);
	json_t *r = host_call(x, control_msg_new(CONTROL_STATUS)); /* both in */
	json_decref(r);
	r = host_call(y, control_msg_new(CONTROL_STATUS));
	json_decref(r);
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"Decrypt\",\"kind\":\"throttle\",\"count\":4}]");
	json_t *m = init_msg(&t, recs);
	send_init_then_status(y, m);
	json_decref(m);
	usleep(50 * 1000);
	close(x); /* y moves down a slot */
	usleep(50 * 1000);
	int z = host_connect(&t);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(z, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r = host_call(z, control_msg_new(CONTROL_STATUS));
	assert_non_null(r); /* answered, not left waiting as "busy" */
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	/* the init's reply, then the pipelined status */
	json_decref(expect_ok(host_recv(y)));
	r = host_recv(y);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ready")));
	json_decref(r);
	r = host_call(z, control_msg_new(CONTROL_STATUS)); /* z still fine */
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ready")));
	json_decref(r);
	standin_faults("AWS_ENDPOINT_URL_KMS", "[]");
	close(y);
	close(z);
	test_enclave_stop(&t);
	bls_key_free(k);
}

/* --tls-kms-key-id: the host sends no kms_key_id, the TLS key is made
 * anyway, sealed under the image's key (KMS answers for exactly it). */
static void test_tls_key_pinned_by_the_image(void **state)
{
	(void)state;
	struct test_enclave t;
	struct enclave_opts o = {.nsm_spec = g_nsm_spec,
				 .tls_kms_key_id = g_key_tls};
	test_enclave_start_opts(&t, &o);
	int fd = host_connect(&t);
	json_t *m = tls_init_msg(&t, "tls-signer-pinned", json_array());
	json_object_del(m, "kms_key_id");
	json_t *r = init_ok(fd, m);
	assert_non_null(json_string_value(json_object_get(r, "tls_cert_pem")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
	json_t *item = tls_item("tls-signer-pinned");
	assert_non_null(item);
	json_decref(item);
}

/* ---- reload ------------------------------------------------------------------------ */

static void test_reload_adds_keeps_and_removes_keys(void **state)
{
	(void)state;
	struct err e = {0};
	struct bls_key *k[3];
	char pk[3][99];
	json_t *rec[3];
	struct aws_client *c = operator_client();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(bls_key_generate(&k[i], &e), 0);
		pubkey_hex(k[i], pk[i]);
	}
	rec[0] = sample_record(c, g_key_sim, k[0], k[0]);
	rec[1] = sample_record(c, g_key_sim, k[1], k[1]);
	rec[2] = envelope_record(c, g_key_sim, &k[2], 1, "envelope:00000000000000aa:1");
	aws_client_free(c);
	struct test_enclave t;
	test_enclave_start(&t, g_nsm_spec, 0);
	int fd = host_connect(&t);
	/* Before init. */
	json_t *m = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(m, "records", json_array());
	json_t *r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "error")),
			    "not initialised");
	json_decref(r);
	json_decref(init_ok(fd, init_msg(&t, json_pack("[O]", rec[0]))));
	/* No TLS key: no attestation route. */
	struct http_reply rep;
	assert_int_equal(api_get(t.en, "/attestation", "nonce=00", false, &rep), 404);
	free(rep.body);
	/* Add a sample key and a bundle; k[0] is kept without asking KMS. */
	standin_reset("AWS_ENDPOINT_URL_KMS");
	m = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(m, "records", json_pack("[O,O,O]", rec[0], rec[1], rec[2]));
	r = host_call(fd, m);
	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("reload: %s", json_string_value(json_object_get(r, "error")));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 3);
	assert_int_equal(json_array_size(json_object_get(r, "keys")), 3);
	for (int i = 0; i < 3; i++)
		assert_true(json_is_true(json_object_get(
			report_for(json_object_get(r, "keys"), pk[i]), "loaded")));
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "Decrypt"), 2);
	json_decref(r);
	for (int i = 0; i < 3; i++)
		check_signs(t.en, k[i], pk[i]);
	/* Drop k[0] and k[2]; nothing new, so no KMS call at all. */
	standin_reset("AWS_ENDPOINT_URL_KMS");
	m = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(m, "records", json_pack("[O]", rec[1]));
	r = host_call(fd, m);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "Decrypt"), 0);
	json_decref(r);
	check_signs(t.en, k[1], pk[1]);
	char *body = NULL;
	assert_int_equal(sign_randao(t.en, pk[0], &body), 404);
	free(body);
	assert_int_equal(sign_randao(t.en, pk[2], &body), 404);
	free(body);
	r = host_call(fd, control_msg_new(CONTROL_STATUS));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	json_decref(r);
	/* A malformed reload changes nothing. */
	m = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(m, "records", json_pack("[{s:s,s:s}]", "pubkey", pk[0],
						    "kind", "mystery"));
	r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	m = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(m, "records", json_array());
	json_object_set_new(m, "region", json_string("us-east-1"));
	r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
			       "region"));
	json_decref(r);
	check_signs(t.en, k[1], pk[1]);
	/* A reload that would leave no key changes nothing: no records, or
	 * records of which none loads (another image's key). */
	m = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(m, "records", json_array());
	host_expect_refused(fd, m, "no records");
	c = operator_client();
	m = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(m, "records", json_pack(
		"[o]", sample_record(c, g_key_other, k[0], k[0])));
	aws_client_free(c);
	host_expect_refused(fd, m, "none of the 1 records loaded");
	r = host_call(fd, control_msg_new(CONTROL_STATUS));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	json_decref(r);
	check_signs(t.en, k[1], pk[1]);
	close(fd);
	test_enclave_stop(&t);
	for (int i = 0; i < 3; i++) {
		json_decref(rec[i]);
		bls_key_free(k[i]);
	}
}

/*
 * The signer id is the image's: init naming another is refused; per-key
 * records open only with the encryption context of that signer id (KMS
 * refuses another signer's, and a host that strips or adds the context
 * gains nothing), and records without one (the sample's format) load only
 * when the image accepts them. A refused init leaves no credentials.
 */
static void test_records_bound_to_the_images_signer_id(void **state)
{
	(void)state;
	struct err e = {0};
	struct bls_key *k[5];
	char pk[5][99];
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bls_key_generate(&k[i], &e), 0);
		pubkey_hex(k[i], pk[i]);
	}
	struct aws_client *c = operator_client();
	json_t *mine = sample_record_as(c, g_key_sim, k[0], k[0], SIGNER_ID, false);
	json_t *other = sample_record_as(c, g_key_sim, k[1], k[1], "other-signer",
					 false);
	json_t *legacy = sample_record_as(c, g_key_sim, k[2], k[2], SIGNER_ID, true);
	json_t *faked = sample_record_as(c, g_key_sim, k[3], k[3], SIGNER_ID, true);
	json_object_set_new(faked, "context", json_string(AWS_RECORD_PURPOSE_KEY));
	json_t *stripped = sample_record_as(c, g_key_sim, k[4], k[4], SIGNER_ID,
					    false);
	json_object_del(stripped, "context");
	aws_client_free(c);

	struct enclave_opts o = {.nsm_spec = g_nsm_spec, .allow_any_client = true,
				 .signing_types = UINT32_MAX,
				 .signer_id = SIGNER_ID};
	struct test_enclave t;
	test_enclave_start_opts(&t, &o);
	int fd = host_connect(&t);
	json_t *m = init_msg(&t, json_pack("[O]", mine));
	json_object_set_new(m, "signer_id", json_string("other-signer"));
	host_expect_refused(fd, m, "is not the image's --signer-id");
	close(fd);
	test_enclave_stop(&t);
	/* The slashing database the image names is the only one init may
	 * give: another (here the test's own sqlite) is refused. */
	o.slashing_db_url = "dynamodb://pinned-slashing?region=us-east-1";
	test_enclave_start_opts(&t, &o);
	fd = host_connect(&t);
	host_expect_refused(fd, init_msg(&t, json_pack("[O]", mine)),
			    "is not the image's --slashing-protection-db-url "
			    "dynamodb://pinned-slashing");
	close(fd);
	test_enclave_stop(&t);
	o.slashing_db_url = NULL;
	test_enclave_start_opts(&t, &o);
	fd = host_connect(&t);
	/* A refused init (here: the TLS key's table does not exist), though
	 * its credentials worked for KMS, pushes none into the enclave. */
	m = init_msg(&t, json_pack("[O]", mine));
	json_object_set_new(m, "kms_key_id", json_string(g_key_other));
	host_expect_refused(fd, m, "tls key: DynamoDB GetItem");
	struct aws_creds got;
	memset(&got, 0, sizeof(got));
	assert_true(aws_creds_get(t.en->creds, &got, &e) < 0);
	aws_creds_clear(&got);
	m = init_msg(&t, json_pack("[O,O,O,O,O]", mine, other, legacy, faked,
				   stripped));
	json_t *r = init_ok(fd, m);
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	json_t *keys = json_object_get(r, "keys");
	assert_true(json_is_true(json_object_get(report_for(keys, pk[0]), "loaded")));
	for (int i = 1; i < 5; i++)
		assert_true(json_is_false(json_object_get(report_for(keys, pk[i]),
							  "loaded")));
	const char *why = json_string_value(json_object_get(report_for(keys, pk[2]),
							    "error"));
	assert_non_null(strstr(why, "--accept-legacy-records"));
	why = json_string_value(json_object_get(report_for(keys, pk[1]), "error"));
	assert_non_null(strstr(why, "InvalidCiphertext"));
	json_decref(r);
	r = host_call(fd, control_msg_new(CONTROL_STATUS));
	assert_string_equal(json_string_value(json_object_get(r, "signer_id")),
			    SIGNER_ID);
	assert_true(json_is_false(json_object_get(r, "legacy_records")));
	json_decref(r);
	assert_true(aws_creds_get(t.en->creds, &got, &e) == 0);
	aws_creds_clear(&got);
	check_signs(t.en, k[0], pk[0]);
	close(fd);
	test_enclave_stop(&t);

	/* An image that accepts the sample's format loads the legacy record. */
	o.accept_legacy_records = true;
	test_enclave_start_opts(&t, &o);
	fd = host_connect(&t);
	r = init_ok(fd, init_msg(&t, json_pack("[O,O]", mine, legacy)));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 2);
	json_decref(r);
	check_signs(t.en, k[2], pk[2]);
	close(fd);
	test_enclave_stop(&t);
	json_decref(mine);
	json_decref(other);
	json_decref(legacy);
	json_decref(faked);
	json_decref(stripped);
	for (int i = 0; i < 5; i++)
		bls_key_free(k[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_through_the_host_proxy_socket),
		cmocka_unit_test(test_init_loads_sample_and_envelope_records),
		cmocka_unit_test(test_tampered_envelope_reports_every_listed_key),
		cmocka_unit_test(test_tls_key_born_in_enclave_served_and_recovered),
		cmocka_unit_test(test_attestation_route_checks_nonce_and_rate),
		cmocka_unit_test(test_tls_two_enclaves_racing_agree_on_one_key),
		cmocka_unit_test(test_tls_bad_records_fail_init_and_change_nothing),
		cmocka_unit_test(test_tls_record_through_the_dynamodb_proxy),
		cmocka_unit_test(test_tls_lost_put_race_uses_the_winners_key),
		cmocka_unit_test(test_reload_adds_keeps_and_removes_keys),
		cmocka_unit_test(test_status_answers_while_init_runs),
		cmocka_unit_test(test_connection_slot_reuse_during_init),
		cmocka_unit_test(test_tls_key_pinned_by_the_image),
		cmocka_unit_test(test_records_bound_to_the_images_signer_id),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#else

int main(void)
{
	return 0; /* built without the NSM simulator: nothing to run */
}

#endif
