/*
 * test_keystore.c: EIP-2335 keystores (src/crypto/keystore.c): the two ERC
 * vectors, password normalisation, encrypt/decrypt round trips, and one
 * clear error per kind of bad keystore. Bad-but-well-formed keystores are
 * built here with OpenSSL directly (PBKDF2, AES-128-CTR, SHA-256), an
 * implementation independent of the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "crypto/crypto.h"

/* 𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑, from the ERC. */
static const char FRAKTUR_PW[] = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑";
static const char VECTOR_SECRET[] =
	"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
static const char VECTOR_PUBKEY[] =
	"9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07";

static void unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void tohex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static char *read_ref(const char *name, size_t *len)
{
	const char *ref = getenv("NS_REFERENCE_DIR");
	assert_non_null(ref);
	char path[1024];
	snprintf(path, sizeof(path), "%s/eip2335/%s", ref, name);
	char *buf = NULL;
	assert_int_equal(file_read_all(path, 1 << 20, &buf, len, NULL), 0);
	return buf;
}

static struct secret *pw(const char *s)
{
	struct secret *p = secret_from(s, strlen(s));
	assert_non_null(p);
	return p;
}

static void expect_vector_secret(const struct bls_key *k)
{
	uint8_t want[32], wpk[48];
	struct secret *ex = NULL;
	unhex(VECTOR_SECRET, want, 32);
	unhex(VECTOR_PUBKEY, wpk, 48);
	assert_int_equal(bls_key_export(k, &ex, NULL), 0);
	assert_memory_equal(ex->bytes, want, 32);
	assert_memory_equal(k->pubkey, wpk, 48);
	secret_free(ex);
}

static void decrypt_vector(const char *file)
{
	size_t len;
	char *json = read_ref(file, &len);
	struct secret *p = pw(FRAKTUR_PW);
	struct bls_key *k = NULL;
	struct err e = {0};
	if (keystore_decrypt(json, len, p, &k, &e) != 0)
		fail_msg("%s: %s", file, e.msg);
	expect_vector_secret(k);
	bls_key_free(k);
	secret_free(p);
	free(json);
}

static void test_scrypt_vector_decrypts(void **state)
{
	decrypt_vector("scrypt.json");
}

static void test_pbkdf2_vector_decrypts(void **state)
{
	decrypt_vector("pbkdf2.json");
}

static void test_inspect_reports_fields_without_password(void **state)
{
	size_t len;
	char *json = read_ref("scrypt.json", &len);
	struct keystore_info info;
	assert_int_equal(keystore_inspect(json, len, &info, NULL), 0);
	assert_int_equal(info.kdf, KEYSTORE_KDF_SCRYPT);
	assert_int_equal(info.work_factor, 262144);
	assert_true(info.has_pubkey && info.has_path);
	assert_string_equal(info.path, "m/12381/60/3141592653/589793238");
	assert_string_equal(info.uuid, "1d85ae20-35c5-4611-98e8-aa14a633906f");
	free(json);
}

static void expect_normalized(const char *in, size_t inlen, const uint8_t *want,
			      size_t wlen)
{
	struct secret *out = NULL;
	struct err e = {0};
	if (keystore_password_normalize((const uint8_t *)in, inlen, &out, &e))
		fail_msg("%s", e.msg);
	assert_int_equal(out->len, wlen);
	assert_memory_equal(out->bytes, want, wlen);
	secret_free(out);
}

static void test_password_fraktur_normalizes_to_ascii(void **state)
{
	uint8_t want[16];
	unhex("7465737470617373776f7264f09f9491", want, sizeof(want));
	expect_normalized(FRAKTUR_PW, strlen(FRAKTUR_PW), want, sizeof(want));
}

static void test_password_control_codes_stripped_space_kept(void **state)
{
	/* C0 (\x01, \t, \n), DEL, C1 U+0085 and U+009F go; space stays. */
	static const char in[] = "pa\x01ss\tw\nord\x7f \xc2\x85x\xc2\x9f";
	static const char want[] = "password x";
	expect_normalized(in, sizeof(in) - 1, (const uint8_t *)want,
			  sizeof(want) - 1);
	/* A NUL inside the password is a C0 control too. */
	static const char nul[] = {'a', '\0', 'b'};
	expect_normalized(nul, sizeof(nul), (const uint8_t *)"ab", 2);
}

static void test_password_nfkd_decomposes(void **state)
{
	/* é (U+00E9) -> e + U+0301; ﬁ ligature -> "fi"; U+00A0 -> space. */
	static const char in[] = "\xc3\xa9\xef\xac\x81\xc2\xa0";
	static const uint8_t want[] = {'e', 0xcc, 0x81, 'f', 'i', ' '};
	expect_normalized(in, sizeof(in) - 1, want, sizeof(want));
}

static void test_password_invalid_utf8_refused(void **state)
{
	struct secret *out = NULL;
	struct err e = {0};
	static const uint8_t bad[] = {'a', 0xff, 'b'};
	assert_true(keystore_password_normalize(bad, sizeof(bad), &out, &e) <
		    0);
	assert_non_null(strstr(e.msg, "password"));
	assert_null(out);
}

static void round_trip(enum keystore_kdf kdf, uint32_t wf)
{
	uint64_t live = secret_stats_live();
	struct bls_key *k = NULL, *back = NULL;
	struct secret *p = pw("correct horse battery");
	struct keystore_params params = {kdf, "m/12381/3600/7/0/0", "demo", wf};
	char *json = NULL;
	struct err e = {0};
	assert_int_equal(bls_key_generate(&k, NULL), 0);
	if (keystore_encrypt(k, p, &params, &json, &e))
		fail_msg("%s", e.msg);
	struct keystore_info info;
	assert_int_equal(keystore_inspect(json, strlen(json), &info, NULL), 0);
	assert_int_equal(info.kdf, kdf);
	assert_int_equal(info.work_factor, wf);
	assert_string_equal(info.path, "m/12381/3600/7/0/0");
	assert_memory_equal(info.pubkey, k->pubkey, BLS_PUBKEY_LEN);
	assert_int_equal(info.uuid[14], '4'); /* UUID version 4 */
	if (keystore_decrypt(json, strlen(json), p, &back, &e))
		fail_msg("%s", e.msg);
	assert_memory_equal(back->pubkey, k->pubkey, BLS_PUBKEY_LEN);
	struct secret *a = NULL, *b = NULL;
	assert_int_equal(bls_key_export(k, &a, NULL), 0);
	assert_int_equal(bls_key_export(back, &b, NULL), 0);
	assert_memory_equal(a->bytes, b->bytes, 32);
	/* The document never carries the secret in the clear. */
	char hex[65];
	tohex(a->bytes, 32, hex);
	assert_null(strstr(json, hex));
	secret_free(a);
	secret_free(b);
	/* Two encryptions of one key differ (fresh salt, iv, uuid). */
	char *json2 = NULL;
	assert_int_equal(keystore_encrypt(k, p, &params, &json2, NULL), 0);
	assert_string_not_equal(json, json2);
	free(json2);
	free(json);
	bls_key_free(k);
	bls_key_free(back);
	secret_free(p);
	assert_int_equal(secret_stats_live(), live);
}

static void test_round_trip_scrypt(void **state)
{
	round_trip(KEYSTORE_KDF_SCRYPT, 16);
}

static void test_round_trip_pbkdf2(void **state)
{
	round_trip(KEYSTORE_KDF_PBKDF2, 16);
}

static void test_encrypt_refuses_bad_work_factor(void **state)
{
	struct bls_key *k = NULL;
	struct secret *p = pw("password");
	struct keystore_params params = {KEYSTORE_KDF_SCRYPT, "", NULL, 1000};
	char *json = NULL;
	struct err e = {0};
	assert_int_equal(bls_key_generate(&k, NULL), 0);
	assert_true(keystore_encrypt(k, p, &params, &json, &e) < 0);
	assert_null(json);
	params.work_factor = 1u << 21;
	assert_true(keystore_encrypt(k, p, &params, &json, &e) < 0);
	bls_key_free(k);
	secret_free(p);
}

/*
 * An EIP-2335 keystore built independently: PBKDF2-HMAC-SHA256 (c=2) over
 * the already-normalised password, AES-128-CTR, SHA-256 checksum.
 */
static char *craft(const uint8_t secret[32], const char *password,
		   const char *pubkey_hex)
{
	uint8_t salt[32], iv[16], dk[32], ct[32], sum[32];
	memset(salt, 0x5a, sizeof(salt));
	memset(iv, 0x11, sizeof(iv));
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
					   salt, sizeof(salt), 2, EVP_sha256(),
					   32, dk),
			 1);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l = 0;
	assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, dk, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(c, ct, &l, secret, 32), 1);
	assert_int_equal(l, 32);
	EVP_CIPHER_CTX_free(c);
	uint8_t buf[48];
	memcpy(buf, dk + 16, 16);
	memcpy(buf + 16, ct, 32);
	SHA256(buf, sizeof(buf), sum);
	char hs[65], hi[33], hc[65], hsum[65];
	tohex(salt, 32, hs);
	tohex(iv, 16, hi);
	tohex(ct, 32, hc);
	tohex(sum, 32, hsum);
	json_t *root = json_pack(
		"{s:{s:{s:s,s:{s:i,s:i,s:s,s:s},s:s},s:{s:s,s:{},s:s},"
		"s:{s:s,s:{s:s},s:s}},s:s,s:s,s:i}",
		"crypto", "kdf", "function", "pbkdf2", "params", "dklen", 32,
		"c", 2, "prf", "hmac-sha256", "salt", hs, "message", "",
		"checksum", "function", "sha256", "params", "message", hsum,
		"cipher", "function", "aes-128-ctr", "params", "iv", hi,
		"message", hc, "path", "", "uuid",
		"64625def-3331-4eea-ab6f-782f3ed16a83", "version", 4);
	assert_non_null(root);
	if (pubkey_hex)
		json_object_set_new(root, "pubkey", json_string(pubkey_hex));
	char *s = json_dumps(root, 0);
	json_decref(root);
	return s;
}

static void expect_decrypt_error(const char *json, const char *password,
				 int code, const char *msg_part)
{
	struct secret *p = pw(password);
	struct bls_key *k = NULL;
	struct err e = {0};
	int rc = keystore_decrypt(json, strlen(json), p, &k, &e);
	if (rc == 0)
		fail_msg("accepted, expected \"%s\"", msg_part);
	assert_int_equal(rc, -code);
	assert_null(k);
	if (!strstr(e.msg, msg_part))
		fail_msg("error \"%s\" lacks \"%s\"", e.msg, msg_part);
	if (*password && strstr(e.msg, password))
		fail_msg("error leaks the password: %s", e.msg);
	secret_free(p);
}

static void test_crafted_keystore_decrypts(void **state)
{
	uint8_t sk[32];
	unhex(VECTOR_SECRET, sk, 32);
	char *json = craft(sk, "hunter2hunter2", VECTOR_PUBKEY);
	struct secret *p = pw("hunter2hunter2");
	struct bls_key *k = NULL;
	struct err e = {0};
	if (keystore_decrypt(json, strlen(json), p, &k, &e))
		fail_msg("%s", e.msg);
	expect_vector_secret(k);
	bls_key_free(k);
	secret_free(p);
	free(json);
}

static void test_wrong_password_is_checksum_error(void **state)
{
	uint8_t sk[32];
	unhex(VECTOR_SECRET, sk, 32);
	char *json = craft(sk, "hunter2hunter2", NULL);
	expect_decrypt_error(json, "hunter3hunter3", ERR_CRYPTO,
			     "crypto.checksum: mismatch");
	free(json);
}

static void test_zero_secret_refused(void **state)
{
	uint8_t sk[32] = {0};
	char *json = craft(sk, "password", NULL);
	expect_decrypt_error(json, "password", ERR_INVALID,
			     "invalid BLS secret");
	free(json);
	/* The group order itself is out of range too. */
	unhex("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001",
	      sk, 32);
	json = craft(sk, "password", NULL);
	expect_decrypt_error(json, "password", ERR_INVALID,
			     "invalid BLS secret");
	free(json);
}

static void test_pubkey_mismatch_refused(void **state)
{
	uint8_t sk[32] = {0};
	sk[31] = 1; /* a valid key, but not the vector's */
	char *json = craft(sk, "password", VECTOR_PUBKEY);
	expect_decrypt_error(json, "password", ERR_INVALID,
			     "pubkey: does not match");
	free(json);
}

/* Mutates a valid crafted keystore at a dotted path and expects an error. */
static void mutate(const char *dotted, json_t *value, const char *msg_part)
{
	uint8_t sk[32];
	unhex(VECTOR_SECRET, sk, 32);
	char *base = craft(sk, "password", VECTOR_PUBKEY);
	json_t *root = json_loads(base, 0, NULL);
	free(base);
	char path[128];
	snprintf(path, sizeof(path), "%s", dotted);
	json_t *obj = root;
	char *save = NULL, *tok = strtok_r(path, ".", &save), *next;
	while ((next = strtok_r(NULL, ".", &save))) {
		obj = json_object_get(obj, tok);
		assert_non_null(obj);
		tok = next;
	}
	if (value)
		json_object_set_new(obj, tok, value);
	else
		assert_int_equal(json_object_del(obj, tok), 0);
	char *json = json_dumps(root, 0);
	json_decref(root);
	expect_decrypt_error(json, "password", ERR_INVALID, msg_part);
	free(json);
}

static void test_malformed_fields_name_the_field(void **state)
{
	mutate("crypto.cipher.message", json_string("06ae90d55fe0a6e9c5c3bc5b"),
	       "crypto.cipher.message: expected 32 bytes, got 12");
	mutate("crypto.kdf.params.salt", json_string("zz"),
	       "crypto.kdf.params.salt: invalid hex");
	mutate("crypto.kdf.params.salt", json_string("abc"),
	       "crypto.kdf.params.salt: odd number");
	mutate("crypto.kdf.params.salt", json_string("0x00112233445566778899aabbccddeeff"),
	       "crypto.kdf.params.salt: invalid hex");
	mutate("crypto.checksum", NULL, "crypto.checksum: missing");
	mutate("crypto.cipher.params.iv", NULL, "crypto.cipher.params.iv: missing");
	mutate("crypto.kdf.function", json_string("argon2id"),
	       "crypto.kdf.function: unsupported");
	mutate("crypto.cipher.function", json_string("aes-256-gcm"),
	       "crypto.cipher.function: unsupported");
	mutate("crypto.checksum.function", json_string("sha512"),
	       "crypto.checksum.function: unsupported");
	mutate("crypto.kdf.params.prf", json_string("hmac-sha512"),
	       "crypto.kdf.params.prf: unsupported");
	mutate("crypto.kdf.params.dklen", json_integer(16),
	       "crypto.kdf.params.dklen");
	mutate("crypto.kdf.params.c", json_integer(0), "crypto.kdf.params.c");
	mutate("crypto.kdf.params.c", json_string("2"),
	       "crypto.kdf.params.c: must be an integer");
	mutate("crypto.kdf.params.c", json_integer((1 << 24) + 1),
	       "crypto.kdf.params.c");
	mutate("crypto.kdf.params.extra", json_true(),
	       "crypto.kdf.params: unknown field");
	mutate("crypto.kdf.message", json_string("x"), "crypto.kdf.message");
	mutate("version", json_integer(3), "version");
	mutate("version", NULL, "version: missing");
	mutate("uuid", json_string("not-a-uuid"), "uuid");
	mutate("pubkey", json_string("9612"), "pubkey: expected 48 bytes");
	mutate("path", json_integer(1), "path: must be a string");
	mutate("crypto", json_array(), "crypto: must be an object");
}

static void test_scrypt_limits_enforced(void **state)
{
	size_t len;
	char *base = read_ref("scrypt.json", &len);
	const struct {
		const char *key;
		json_int_t v;
		json_int_t r; /* 0: keep r=8 */
		const char *msg;
	} cases[] = {
		{"n", 1 << 21, 0, "crypto.kdf.params.n"},
		{"n", 1000, 0, "crypto.kdf.params.n: must be a power of two"},
		{"n", 1, 0, "crypto.kdf.params.n"},
		{"r", 0, 0, "crypto.kdf.params.r"},
		{"r", 33, 0, "crypto.kdf.params.r"},
		{"p", 17, 0, "crypto.kdf.params.p"},
		/* Memory bound: n=2^20 with r=16 is 2 GiB. */
		{"n", 1 << 20, 16, "1 GiB"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *root = json_loads(base, 0, NULL);
		json_t *params = json_object_get(
			json_object_get(json_object_get(root, "crypto"), "kdf"),
			"params");
		json_object_set_new(params, cases[i].key,
				    json_integer(cases[i].v));
		if (cases[i].r)
			json_object_set_new(params, "r", json_integer(cases[i].r));
		char *json = json_dumps(root, 0);
		json_decref(root);
		struct keystore_info info;
		struct err e = {0};
		assert_true(keystore_inspect(json, strlen(json), &info, &e) < 0);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("%s: %s", cases[i].msg, e.msg);
		free(json);
	}
	free(base);
}

static void test_json_errors(void **state)
{
	expect_decrypt_error("", "pw", ERR_INVALID, "invalid JSON");
	expect_decrypt_error("[]", "pw", ERR_INVALID, "must be a JSON object");
	expect_decrypt_error("{\"version\":4,\"version\":4}", "pw", ERR_INVALID,
			     "invalid JSON");
	expect_decrypt_error("{\"version\":4}", "pw", ERR_INVALID,
			     "crypto: missing");
	size_t len;
	char *json = read_ref("pbkdf2.json", &len);
	/* Truncated document. */
	json[len / 2] = '\0';
	expect_decrypt_error(json, "pw", ERR_INVALID, "invalid JSON");
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrypt_vector_decrypts),
		cmocka_unit_test(test_pbkdf2_vector_decrypts),
		cmocka_unit_test(test_inspect_reports_fields_without_password),
		cmocka_unit_test(test_password_fraktur_normalizes_to_ascii),
		cmocka_unit_test(test_password_control_codes_stripped_space_kept),
		cmocka_unit_test(test_password_nfkd_decomposes),
		cmocka_unit_test(test_password_invalid_utf8_refused),
		cmocka_unit_test(test_round_trip_scrypt),
		cmocka_unit_test(test_round_trip_pbkdf2),
		cmocka_unit_test(test_encrypt_refuses_bad_work_factor),
		cmocka_unit_test(test_crafted_keystore_decrypts),
		cmocka_unit_test(test_wrong_password_is_checksum_error),
		cmocka_unit_test(test_zero_secret_refused),
		cmocka_unit_test(test_pubkey_mismatch_refused),
		cmocka_unit_test(test_malformed_fields_name_the_field),
		cmocka_unit_test(test_scrypt_limits_enforced),
		cmocka_unit_test(test_json_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
