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
static char g_key_sim[128], g_key_other[128];
static struct aws_creds_provider *g_env;

static void create_pinned_key(const char *pcr0, char *arn, size_t arn_size)
{
	char policy[2048];
	snprintf(policy, sizeof(policy),
		 "{\"Version\":\"2012-10-17\",\"Statement\":["
		 "{\"Sid\":\"operator\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"%s\"},"
		 "\"Action\":[\"kms:Encrypt\",\"kms:GenerateDataKey\",\"kms:DescribeKey\"],"
		 "\"Resource\":\"*\",\"Condition\":{\"Null\":{"
		 "\"kms:RecipientAttestation:PCR0\":\"true\"}}},"
		 "{\"Sid\":\"enclave\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"%s\"},"
		 "\"Action\":[\"kms:Decrypt\"],\"Resource\":\"*\","
		 "\"Condition\":{\"StringEqualsIgnoreCase\":{"
		 "\"kms:RecipientAttestation:PCR0\":\"%s\"}}}]}",
		 PRINCIPAL, PRINCIPAL, pcr0);
	json_t *req = json_pack("{s:s}", "policy", policy);
	char *body = json_dumps(req, 0);
	json_t *k = standin_admin("AWS_ENDPOINT_URL_KMS", "create-key", body);
	free(body);
	json_decref(req);
	assert_non_null(json_string_value(json_object_get(k, "Arn")));
	snprintf(arn, arn_size, "%s", json_string_value(json_object_get(k, "Arn")));
	json_decref(k);
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
	char *s = aws_b64_encode(p, n);
	assert_non_null(s);
	return s;
}

/* A sample record: KMS ciphertext of {keystore_b64, password_b64,
 * mnemonic_b64} under `key`, labelled with `label`'s pubkey. */
static json_t *sample_record(struct aws_client *c, const char *key,
			     const struct bls_key *k, const struct bls_key *label)
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
	if (aws_kms_encrypt(c, key, (uint8_t *)text, strlen(text), NULL, &blob,
			    &blob_len, &e) < 0)
		fail_msg("encrypt: %s", e.msg);
	char pk[99], *ct = b64(blob, blob_len);
	pubkey_hex(label, pk);
	json_t *rec = json_pack("{s:s,s:s,s:s}", "pubkey", pk, "kind", "sample",
				"ciphertext_b64", ct);
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
	json_t *r = host_call(fd, init_msg(&t, recs));
	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("init: %s", json_string_value(json_object_get(r, "error")));
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
	close(fd);
	test_enclave_stop(&t);
	for (int j = 0; j < 2; j++)
		bls_key_free(k[j]);
}

static void test_init_through_the_host_proxy_socket(void **state)
{
	(void)state;
	struct err e = {0};
	struct bls_key *k;
	assert_int_equal(bls_key_generate(&k, &e), 0);
	struct aws_client *c = operator_client();
	json_t *recs = json_array();
	json_array_append_new(recs, sample_record(c, g_key_sim, k, k));
	aws_client_free(c);
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
	r = host_call(fd, m);
	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("init: %s", json_string_value(json_object_get(r, "error")));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 1);
	json_decref(r);
	char pk[99];
	pubkey_hex(k, pk);
	check_signs(t.en, k, pk);
	close(fd);
	test_enclave_stop(&t);
	bls_key_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_through_the_host_proxy_socket),
		cmocka_unit_test(test_init_loads_sample_and_envelope_records),
		cmocka_unit_test(test_tampered_envelope_reports_every_listed_key),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#else

int main(void)
{
	return 0; /* built without the NSM simulator: nothing to run */
}

#endif
