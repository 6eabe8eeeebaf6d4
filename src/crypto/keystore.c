/*
 * keystore.c: EIP-2335 (version 4) BLS keystores: parse, decrypt, encrypt.
 *
 *   decryption key DK = scrypt(password, salt, n, r, p) or
 *                       PBKDF2-HMAC-SHA256(password, salt, c), 32 bytes
 *   checksum          = SHA256(DK[16:32] || cipher.message)
 *   secret            = AES-128-CTR(key = DK[0:16], iv, cipher.message)
 * and the password is first NFKD-normalised with C0, C1 and DEL removed.
 *
 * The JSON is untrusted (operators copy keystores from anywhere, and the
 * Keymanager API accepts them over HTTP): jansson parses it with duplicate
 * keys rejected, then every field of "crypto" is checked for type, length
 * and range, unknown keys inside "crypto" are refused, and work factors are
 * capped (crypto.h) before any KDF runs. Unknown top-level keys are ignored,
 * because some tools add their own (ethdo writes "name").
 *
 * Secrets: the normalised password, DK and the plaintext secret live only in
 * struct secret buffers; OpenSSL wipes its own copies (KDF and cipher
 * contexts) when freed. Errors name the offending field, never a secret.
 * One leak we cannot close: libunistring may keep a few code points of the
 * password in its stack sort buffer while normalising.
 */
#include "crypto.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>

#define DK_LEN 32
#define SALT_MIN 16
#define SALT_MAX 256
#define IV_LEN 16
#define PASSWORD_MAX 4096
/* NFKD grows UTF-8 text by at most this factor (Unicode UAX #15). */
#define DEFAULT_WORK_FACTOR 262144u

/* A keystore after validation: nothing in here is secret. */
struct ks_doc {
	struct keystore_info info;
	uint32_t r, p; /* scrypt only */
	uint8_t salt[SALT_MAX];
	size_t salt_len;
	uint8_t checksum[32];
	uint8_t iv[IV_LEN];
	uint8_t ct[BLS_SECRET_LEN];
};

/* ---- password --------------------------------------------------------- */

static bool is_control(ucs4_t c)
{
	return c <= 0x1f || (c >= 0x7f && c <= 0x9f);
}

int keystore_password_normalize(const uint8_t *pw, size_t len,
				struct secret **out, struct err *e)
{
	struct secret *buf = NULL;
	TRY(text_nfkd_secret(pw, len, PASSWORD_MAX, "password", &buf, e));
	size_t n = buf->len;
	/* Strip control code points in place; output never outgrows input. */
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		ucs4_t c;
		int l = u8_mbtouc(&c, buf->bytes + i, n - i);
		if (!is_control(c)) {
			memmove(buf->bytes + w, buf->bytes + i, (size_t)l);
			w += (size_t)l;
		}
		i += (size_t)l;
	}
	secret_truncate(buf, w);
	*out = buf;
	return 0;
}

/* ---- JSON field helpers ------------------------------------------------ */

static int get_field(json_t *obj, const char *key, const char *field,
		     json_t **out, struct err *e)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	*out = v;
	return 0;
}

static int get_object(json_t *obj, const char *key, const char *field,
		      json_t **out, struct err *e)
{
	TRY(get_field(obj, key, field, out, e));
	if (!json_is_object(*out))
		return err_set(e, ERR_INVALID, "%s: must be an object", field);
	return 0;
}

static int get_string(json_t *obj, const char *key, const char *field,
		      const char **out, struct err *e)
{
	json_t *v = NULL;
	TRY(get_field(obj, key, field, &v, e));
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s: must be a string", field);
	*out = json_string_value(v);
	return 0;
}

static int get_uint(json_t *obj, const char *key, const char *field,
		    uint64_t min, uint64_t max, uint64_t *out, struct err *e)
{
	json_t *v = NULL;
	TRY(get_field(obj, key, field, &v, e));
	if (!json_is_integer(v))
		return err_set(e, ERR_INVALID, "%s: must be an integer", field);
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
		return err_set(e, ERR_INVALID,
			       "%s: must be between %llu and %llu", field,
			       (unsigned long long)min,
			       (unsigned long long)max);
	*out = (uint64_t)i;
	return 0;
}

static int expect_string(json_t *obj, const char *key, const char *field,
			 const char *want, struct err *e)
{
	const char *s;
	TRY(get_string(obj, key, field, &s, e));
	if (strcmp(s, want) != 0)
		return err_set(e, ERR_INVALID, "%s: unsupported \"%.32s\" (want \"%s\")",
			       field, s, want);
	return 0;
}

/* Refuses keys outside `allowed` (NULL-terminated). */
static int only_keys(json_t *obj, const char *field,
		     const char *const *allowed, struct err *e)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(*a, key) == 0;
		if (!ok)
			return err_set(e, ERR_INVALID, "%s: unknown field \"%.32s\"",
				       field, key);
	}
	return 0;
}

/*
 * Keystore hex has no "0x". Decoding goes through core's strict decoder by
 * adding the prefix, so "0x..." in a keystore is refused as a bad digit.
 */
static int hex_field(const char *s, const char *field, size_t min, size_t max,
		     uint8_t *out, size_t *out_len, struct err *e)
{
	size_t n = strlen(s);
	if (n > 2 * max + 2)
		return err_set(e, ERR_INVALID, "%s: longer than %zu bytes",
			       field, max);
	char *pref = malloc(n + 3);
	if (!pref)
		return err_set(e, ERR_NOMEM, "out of memory");
	pref[0] = '0';
	pref[1] = 'x';
	memcpy(pref + 2, s, n + 1);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = hex_decode_alloc(pref, max, &buf, &len, e, field);
	free(pref);
	if (rc < 0)
		return rc;
	if (len < min || len > max) {
		free(buf);
		if (min == max)
			return err_set(e, ERR_INVALID,
				       "%s: expected %zu bytes, got %zu", field,
				       min, len);
		return err_set(e, ERR_INVALID,
			       "%s: expected %zu to %zu bytes, got %zu", field,
			       min, max, len);
	}
	memcpy(out, buf, len);
	free(buf);
	if (out_len)
		*out_len = len;
	return 0;
}

static int hex_string_field(json_t *obj, const char *key, const char *field,
			    size_t min, size_t max, uint8_t *out,
			    size_t *out_len, struct err *e)
{
	const char *s;
	TRY(get_string(obj, key, field, &s, e));
	return hex_field(s, field, min, max, out, out_len, e);
}

/* ---- parsing ----------------------------------------------------------- */

static int parse_scrypt(json_t *params, struct ks_doc *d, struct err *e)
{
	static const char *const keys[] = {"dklen", "n", "r", "p", "salt", NULL};
	uint64_t dklen, n, r, p;
	TRY(only_keys(params, "crypto.kdf.params", keys, e));
	TRY(get_uint(params, "dklen", "crypto.kdf.params.dklen", DK_LEN, DK_LEN,
		     &dklen, e));
	TRY(get_uint(params, "n", "crypto.kdf.params.n", 2,
		     KEYSTORE_SCRYPT_N_MAX, &n, e));
	if (n & (n - 1))
		return err_set(e, ERR_INVALID,
			       "crypto.kdf.params.n: must be a power of two");
	TRY(get_uint(params, "r", "crypto.kdf.params.r", 1, 32, &r, e));
	TRY(get_uint(params, "p", "crypto.kdf.params.p", 1, 16, &p, e));
	if (128 * r * n > ((uint64_t)1 << 30))
		return err_set(e, ERR_INVALID,
			       "crypto.kdf.params: scrypt memory 128*r*n above 1 GiB");
	TRY(hex_string_field(params, "salt", "crypto.kdf.params.salt", SALT_MIN,
			     SALT_MAX, d->salt, &d->salt_len, e));
	d->info.kdf = KEYSTORE_KDF_SCRYPT;
	d->info.work_factor = (uint32_t)n;
	d->r = (uint32_t)r;
	d->p = (uint32_t)p;
	return 0;
}

static int parse_pbkdf2(json_t *params, struct ks_doc *d, struct err *e)
{
	static const char *const keys[] = {"dklen", "c", "prf", "salt", NULL};
	uint64_t dklen, c;
	TRY(only_keys(params, "crypto.kdf.params", keys, e));
	TRY(get_uint(params, "dklen", "crypto.kdf.params.dklen", DK_LEN, DK_LEN,
		     &dklen, e));
	TRY(get_uint(params, "c", "crypto.kdf.params.c", 1,
		     KEYSTORE_PBKDF2_C_MAX, &c, e));
	TRY(expect_string(params, "prf", "crypto.kdf.params.prf", "hmac-sha256",
			  e));
	TRY(hex_string_field(params, "salt", "crypto.kdf.params.salt", SALT_MIN,
			     SALT_MAX, d->salt, &d->salt_len, e));
	d->info.kdf = KEYSTORE_KDF_PBKDF2;
	d->info.work_factor = (uint32_t)c;
	return 0;
}

static const char *const MODULE_KEYS[] = {"function", "params", "message",
					  NULL};

static int parse_kdf(json_t *crypto, struct ks_doc *d, struct err *e)
{
	json_t *kdf, *params;
	const char *fn, *msg;
	TRY(get_object(crypto, "kdf", "crypto.kdf", &kdf, e));
	TRY(only_keys(kdf, "crypto.kdf", MODULE_KEYS, e));
	TRY(get_string(kdf, "function", "crypto.kdf.function", &fn, e));
	TRY(get_object(kdf, "params", "crypto.kdf.params", &params, e));
	TRY(get_string(kdf, "message", "crypto.kdf.message", &msg, e));
	if (*msg)
		return err_set(e, ERR_INVALID,
			       "crypto.kdf.message: must be empty");
	if (strcmp(fn, "scrypt") == 0)
		return parse_scrypt(params, d, e);
	if (strcmp(fn, "pbkdf2") == 0)
		return parse_pbkdf2(params, d, e);
	return err_set(e, ERR_INVALID,
		       "crypto.kdf.function: unsupported \"%.32s\" (want scrypt or pbkdf2)",
		       fn);
}

static int parse_checksum(json_t *crypto, struct ks_doc *d, struct err *e)
{
	json_t *cs, *params;
	TRY(get_object(crypto, "checksum", "crypto.checksum", &cs, e));
	TRY(only_keys(cs, "crypto.checksum", MODULE_KEYS, e));
	TRY(expect_string(cs, "function", "crypto.checksum.function", "sha256",
			  e));
	TRY(get_object(cs, "params", "crypto.checksum.params", &params, e));
	if (json_object_size(params) != 0)
		return err_set(e, ERR_INVALID,
			       "crypto.checksum.params: must be empty");
	return hex_string_field(cs, "message", "crypto.checksum.message", 32,
				32, d->checksum, NULL, e);
}

static int parse_cipher(json_t *crypto, struct ks_doc *d, struct err *e)
{
	static const char *const pkeys[] = {"iv", NULL};
	json_t *c, *params;
	TRY(get_object(crypto, "cipher", "crypto.cipher", &c, e));
	TRY(only_keys(c, "crypto.cipher", MODULE_KEYS, e));
	TRY(expect_string(c, "function", "crypto.cipher.function",
			  "aes-128-ctr", e));
	TRY(get_object(c, "params", "crypto.cipher.params", &params, e));
	TRY(only_keys(params, "crypto.cipher.params", pkeys, e));
	TRY(hex_string_field(params, "iv", "crypto.cipher.params.iv", IV_LEN,
			     IV_LEN, d->iv, NULL, e));
	return hex_string_field(c, "message", "crypto.cipher.message",
				BLS_SECRET_LEN, BLS_SECRET_LEN, d->ct, NULL, e);
}

static bool uuid_valid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		char ch = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			   (ch >= 'A' && ch <= 'F');
		if (dash ? ch != '-' : !hex)
			return false;
	}
	return true;
}

static int parse_meta(json_t *root, struct ks_doc *d, struct err *e)
{
	uint64_t version;
	const char *uuid, *s;
	json_t *v;
	TRY(get_uint(root, "version", "version", 4, 4, &version, e));
	TRY(get_string(root, "uuid", "uuid", &uuid, e));
	if (!uuid_valid(uuid))
		return err_set(e, ERR_INVALID, "uuid: not a UUID");
	memcpy(d->info.uuid, uuid, 37);
	if ((v = json_object_get(root, "description")) && !json_is_string(v))
		return err_set(e, ERR_INVALID, "description: must be a string");
	if (json_object_get(root, "path")) {
		TRY(get_string(root, "path", "path", &s, e));
		if (strlen(s) >= KEYSTORE_PATH_MAX)
			return err_set(e, ERR_INVALID,
				       "path: longer than %d characters",
				       KEYSTORE_PATH_MAX - 1);
		strcpy(d->info.path, s);
		d->info.has_path = true;
	}
	if (json_object_get(root, "pubkey")) {
		TRY(hex_string_field(root, "pubkey", "pubkey", BLS_PUBKEY_LEN,
				     BLS_PUBKEY_LEN, d->info.pubkey, NULL, e));
		if (bls_pubkey_check(d->info.pubkey) < 0)
			return err_set(e, ERR_INVALID,
				       "pubkey: not a valid BLS public key");
		d->info.has_pubkey = true;
	}
	return 0;
}

static int ks_parse(const char *json, size_t len, struct ks_doc *d,
		    struct err *e)
{
	static const char *const ckeys[] = {"kdf", "checksum", "cipher", NULL};
	memset(d, 0, sizeof(*d));
	if (len > KEYSTORE_MAX_JSON)
		return err_set(e, ERR_TOO_LARGE, "keystore: larger than %d bytes",
			       KEYSTORE_MAX_JSON);
	json_t *root;
	TRY(json_parse_strict(json, len, "keystore", &root, e));
	json_t *crypto;
	int rc = 0;
	if (!json_is_object(root)) {
		rc = err_set(e, ERR_INVALID, "keystore: must be a JSON object");
		goto out;
	}
	TRY_OUT(get_object(root, "crypto", "crypto", &crypto, e));
	TRY_OUT(only_keys(crypto, "crypto", ckeys, e));
	TRY_OUT(parse_kdf(crypto, d, e));
	TRY_OUT(parse_checksum(crypto, d, e));
	TRY_OUT(parse_cipher(crypto, d, e));
	TRY_OUT(parse_meta(root, d, e));
out:
	json_decref(root);
	return rc;
}

int keystore_inspect(const char *json, size_t len, struct keystore_info *info,
		     struct err *e)
{
	struct ks_doc d;
	TRY(ks_parse(json, len, &d, e));
	*info = d.info;
	return 0;
}

/* ---- primitives -------------------------------------------------------- */

static int run_kdf(const struct ks_doc *d, const struct secret *npw,
		   struct secret *dk, struct err *e)
{
	const char *name = d->info.kdf == KEYSTORE_KDF_SCRYPT ? "SCRYPT" : "PBKDF2";
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, name, NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[8], *p = params;
	uint64_t n = d->info.work_factor;
	uint32_t r = d->r, pp = d->p, iter = d->info.work_factor;
	/* Room for V (128*r*(n+2)) and B (128*r*p) plus slack. */
	uint64_t maxmem = 128ull * r * (n + 2) + 128ull * r * pp + (1u << 20);
	int pkcs5 = 1; /* no SP 800-132 floor: the keystore sets the cost */
	int rc = 0;
	if (!ctx) {
		rc = err_set(e, ERR_CRYPTO, "crypto.kdf: %s unavailable", name);
		goto out;
	}
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						 npw->bytes, npw->len);
	*p++ = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_SALT, (void *)d->salt, d->salt_len);
	if (d->info.kdf == KEYSTORE_KDF_SCRYPT) {
		*p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
		*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
		*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &pp);
		*p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
						   &maxmem);
	} else {
		*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
							(char *)"SHA256", 0);
		*p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_ITER, &iter);
		*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5);
	}
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, dk->bytes, DK_LEN, params) != 1)
		rc = err_set(e, ERR_CRYPTO, "crypto.kdf: %s failed", name);
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}

static int checksum(const struct secret *dk, const uint8_t *ct, size_t len,
		    uint8_t out[32], struct err *e)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(md, dk->bytes + 16, 16) == 1 &&
		 EVP_DigestUpdate(md, ct, len) == 1 &&
		 EVP_DigestFinal_ex(md, out, &olen) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : err_set(e, ERR_CRYPTO, "crypto.checksum: sha256 failed");
}

/* AES-128-CTR is its own inverse: one function encrypts and decrypts. */
static int aes128ctr(const struct secret *dk, const uint8_t iv[IV_LEN],
		     const uint8_t *in, uint8_t *out, size_t len, struct err *e)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;
	int ok = c &&
		 EVP_CipherInit_ex(c, EVP_aes_128_ctr(), NULL, dk->bytes, iv,
				   1) == 1 &&
		 EVP_CipherUpdate(c, out, &l1, in, (int)len) == 1 &&
		 EVP_CipherFinal_ex(c, out + l1, &l2) == 1 &&
		 (size_t)(l1 + l2) == len;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : err_set(e, ERR_CRYPTO, "crypto.cipher: aes-128-ctr failed");
}

/* DK from the raw password: normalise, then the keystore's KDF. */
static int derive(const struct ks_doc *d, const struct secret *password,
		  struct secret **dk_out, struct err *e)
{
	struct secret *npw = NULL, *dk = NULL;
	int rc;
	TRY_OUT(keystore_password_normalize(password->bytes, password->len,
					    &npw, e));
	dk = secret_new(DK_LEN);
	if (!dk) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	TRY_OUT(run_kdf(d, npw, dk, e));
	*dk_out = dk;
	dk = NULL;
out:
	secret_free(npw);
	secret_free(dk);
	return rc;
}

/* ---- decrypt ----------------------------------------------------------- */

int keystore_decrypt(const char *json, size_t len, const struct secret *password,
		     struct bls_key **out, struct err *e)
{
	struct ks_doc d;
	struct secret *dk = NULL, *plain = NULL;
	struct bls_key *k = NULL;
	uint8_t sum[32];
	int rc;
	TRY(ks_parse(json, len, &d, e));
	TRY_OUT(derive(&d, password, &dk, e));
	TRY_OUT(checksum(dk, d.ct, sizeof(d.ct), sum, e));
	if (CRYPTO_memcmp(sum, d.checksum, sizeof(sum)) != 0) {
		rc = err_set(e, ERR_CRYPTO,
			     "crypto.checksum: mismatch (wrong password?)");
		goto out;
	}
	plain = secret_new(BLS_SECRET_LEN);
	if (!plain) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	TRY_OUT(aes128ctr(dk, d.iv, d.ct, plain->bytes, BLS_SECRET_LEN, e));
	rc = bls_key_from_bytes(plain->bytes, &k, e);
	if (rc < 0) {
		err_set(e, ERR_INVALID,
			"crypto.cipher.message: decrypts to an invalid BLS secret "
			"(zero or not below the group order)");
		goto out;
	}
	if (d.info.has_pubkey &&
	    memcmp(k->pubkey, d.info.pubkey, BLS_PUBKEY_LEN) != 0) {
		rc = err_set(e, ERR_INVALID,
			     "pubkey: does not match the decrypted secret");
		goto out;
	}
	*out = k;
	k = NULL;
out:
	bls_key_free(k);
	secret_free(plain);
	secret_free(dk);
	return rc;
}

/* ---- encrypt ----------------------------------------------------------- */

static int uuid_v4(char out[37])
{
	uint8_t u[16];
	if (RAND_bytes(u, sizeof(u)) != 1)
		return -ERR_CRYPTO;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

static char *hex_nopfx(const uint8_t *b, size_t n, char *buf)
{
	hex_encode(b, n, buf);
	return buf + 2;
}

static json_t *kdf_json(const struct ks_doc *d)
{
	char hex[2 * SALT_MAX + 3];
	const char *salt = hex_nopfx(d->salt, d->salt_len, hex);
	json_t *params;
	if (d->info.kdf == KEYSTORE_KDF_SCRYPT)
		params = json_pack("{s:i, s:I, s:i, s:i, s:s}", "dklen", DK_LEN,
				   "n", (json_int_t)d->info.work_factor, "r",
				   (int)d->r, "p", (int)d->p, "salt", salt);
	else
		params = json_pack("{s:i, s:I, s:s, s:s}", "dklen", DK_LEN, "c",
				   (json_int_t)d->info.work_factor, "prf",
				   "hmac-sha256", "salt", salt);
	return json_pack("{s:s, s:o, s:s}", "function",
			 d->info.kdf == KEYSTORE_KDF_SCRYPT ? "scrypt" : "pbkdf2",
			 "params", params, "message", "");
}

static int doc_to_json(const struct ks_doc *d, const char *description,
		       char **out, struct err *e)
{
	char cs[67], iv[35], ct[67], pk[99];
	json_t *root = json_pack(
		"{s:{s:o, s:{s:s, s:{}, s:s}, s:{s:s, s:{s:s}, s:s}},"
		" s:s, s:s, s:s, s:s, s:i}",
		"crypto", "kdf", kdf_json(d), "checksum", "function", "sha256",
		"params", "message", hex_nopfx(d->checksum, 32, cs), "cipher",
		"function", "aes-128-ctr", "params", "iv",
		hex_nopfx(d->iv, IV_LEN, iv), "message",
		hex_nopfx(d->ct, BLS_SECRET_LEN, ct), "description",
		description ? description : "", "pubkey",
		hex_nopfx(d->info.pubkey, BLS_PUBKEY_LEN, pk), "path",
		d->info.path, "uuid", d->info.uuid, "version", 4);
	if (!root)
		return err_set(e, ERR_NOMEM, "keystore: cannot build JSON");
	*out = json_dumps(root, JSON_INDENT(4));
	json_decref(root);
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int encrypt_params(const struct keystore_params *p, struct ks_doc *d,
			  struct err *e)
{
	uint32_t wf = p->work_factor ? p->work_factor : DEFAULT_WORK_FACTOR;
	d->info.kdf = p->kdf;
	d->info.work_factor = wf;
	if (p->kdf == KEYSTORE_KDF_SCRYPT) {
		if (wf < 2 || wf > KEYSTORE_SCRYPT_N_MAX || (wf & (wf - 1)))
			return err_set(e, ERR_INVALID,
				       "work factor: scrypt n must be a power of two in [2, 2^20]");
		d->r = 8;
		d->p = 1;
	} else if (p->kdf == KEYSTORE_KDF_PBKDF2) {
		if (wf > KEYSTORE_PBKDF2_C_MAX)
			return err_set(e, ERR_INVALID,
				       "work factor: pbkdf2 c must be in [1, 2^24]");
	} else {
		return err_set(e, ERR_INVALID, "kdf: unknown");
	}
	const char *path = p->path ? p->path : "";
	if (strlen(path) >= KEYSTORE_PATH_MAX)
		return err_set(e, ERR_INVALID, "path: longer than %d characters",
			       KEYSTORE_PATH_MAX - 1);
	strcpy(d->info.path, path);
	d->salt_len = 32;
	if (RAND_bytes(d->salt, (int)d->salt_len) != 1 ||
	    RAND_bytes(d->iv, IV_LEN) != 1 || uuid_v4(d->info.uuid) < 0)
		return err_set(e, ERR_CRYPTO, "random number generator failed");
	return 0;
}

int keystore_encrypt(const struct bls_key *k, const struct secret *password,
		     const struct keystore_params *p, char **json_out,
		     struct err *e)
{
	struct ks_doc d;
	struct secret *dk = NULL, *sk = NULL;
	int rc;
	memset(&d, 0, sizeof(d));
	TRY(encrypt_params(p, &d, e));
	memcpy(d.info.pubkey, k->pubkey, BLS_PUBKEY_LEN);
	TRY_OUT(derive(&d, password, &dk, e));
	TRY_OUT(bls_key_export(k, &sk, e));
	TRY_OUT(aes128ctr(dk, d.iv, sk->bytes, d.ct, BLS_SECRET_LEN, e));
	TRY_OUT(checksum(dk, d.ct, sizeof(d.ct), d.checksum, e));
	TRY_OUT(doc_to_json(&d, p->description, json_out, e));
out:
	secret_free(sk);
	secret_free(dk);
	return rc;
}
