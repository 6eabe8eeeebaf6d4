/*
 * eip2333.c: the EIP-2333 BLS12-381 key tree and EIP-2334 paths.
 *
 *   HKDF_mod_r(IKM, info): salt = "BLS-SIG-KEYGEN-SALT-"; repeat
 *       salt = SHA256(salt); SK = OS2IP(HKDF(salt, IKM || 0x00,
 *       info || I2OSP(48, 2), 48)) mod r  until SK != 0
 *   master = HKDF_mod_r(seed, "")
 *   child(parent, i) = HKDF_mod_r(compressed lamport PK of (parent, i), "")
 *   lamport: HKDF(salt = I2OSP(i, 4), IKM = parent or NOT parent, "", 8160)
 *       cut in 255 chunks of 32 bytes, each hashed; the 510 hashes hashed.
 *
 * HKDF is OpenSSL's EVP_KDF "HKDF"; the reduction mod r is blst's
 * (blst_scalar_from_be_bytes, constant time). Every intermediate value is
 * secret (the lamport keys, and the compressed lamport PK, which is the
 * child's IKM): they live in struct secret or in OpenSSL contexts that wipe
 * themselves, and stack copies are cleansed. Paths come from operators and
 * are parsed strictly.
 */
#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "blst.h"

#define LAMPORT_CHUNKS 255
#define LAMPORT_OKM (LAMPORT_CHUNKS * 32) /* 8160, HKDF-SHA256's maximum */
#define MOD_R_L 48
#define KEYGEN_SALT "BLS-SIG-KEYGEN-SALT-"

/* HKDF-SHA256 extract-and-expand; info may be empty. */
static int hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
		size_t ikm_len, const uint8_t *info, size_t info_len,
		uint8_t *out, size_t out_len, struct err *e)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5], *p = params;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)ikm, ikm_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						 (void *)salt, salt_len);
	if (info_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	int ok = ctx && EVP_KDF_derive(ctx, out, out_len, params) == 1;
	EVP_KDF_CTX_free(ctx); /* wipes its copy of the key */
	EVP_KDF_free(kdf);
	return ok ? 0 : err_set(e, ERR_CRYPTO, "key derivation: HKDF failed");
}

/* HKDF_mod_r with empty key_info; out is a 32-byte big-endian scalar. */
static int hkdf_mod_r(const uint8_t *ikm, size_t ikm_len, struct secret **out,
		      struct err *e)
{
	static const uint8_t info[2] = {0, MOD_R_L}; /* "" || I2OSP(48, 2) */
	struct secret *ikm0 = secret_new(ikm_len + 1);
	struct secret *okm = secret_new(MOD_R_L);
	struct secret *sk = secret_new(BLS_SECRET_LEN);
	uint8_t salt[SHA256_DIGEST_LENGTH];
	size_t salt_len = strlen(KEYGEN_SALT);
	blst_scalar s;
	int rc = 0;
	if (!ikm0 || !okm || !sk) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	memcpy(ikm0->bytes, ikm, ikm_len);
	ikm0->bytes[ikm_len] = 0; /* IKM || I2OSP(0, 1) */
	memcpy(salt, KEYGEN_SALT, salt_len);
	for (bool nonzero = false; !nonzero;) {
		SHA256(salt, salt_len, salt);
		salt_len = sizeof(salt);
		TRY_OUT(hkdf(salt, salt_len, ikm0->bytes, ikm0->len, info,
			     sizeof(info), okm->bytes, okm->len, e));
		nonzero = blst_scalar_from_be_bytes(&s, okm->bytes, okm->len);
	}
	blst_bendian_from_scalar(sk->bytes, &s);
	*out = sk;
	sk = NULL;
out:
	OPENSSL_cleanse(&s, sizeof(s));
	secret_free(sk);
	secret_free(okm);
	secret_free(ikm0);
	return rc;
}

int eip2333_master_sk(const uint8_t *seed, size_t len, struct secret **sk,
		      struct err *e)
{
	if (len < 32)
		return err_set(e, ERR_INVALID,
			       "seed: at least 32 bytes required, got %zu", len);
	return hkdf_mod_r(seed, len, sk, e);
}

/* Feeds SHA256 of each 32-byte lamport key into the running hash h. */
static int hash_lamport(EVP_MD_CTX *h, const struct secret *okm,
			struct err *e)
{
	uint8_t pk[SHA256_DIGEST_LENGTH];
	int ok = 1;
	for (size_t i = 0; i < LAMPORT_CHUNKS && ok; i++) {
		SHA256(okm->bytes + 32 * i, 32, pk);
		ok = EVP_DigestUpdate(h, pk, sizeof(pk));
	}
	OPENSSL_cleanse(pk, sizeof(pk));
	return ok == 1 ? 0
		       : err_set(e, ERR_CRYPTO, "key derivation: SHA256 failed");
}

int eip2333_lamport_pk(const struct secret *parent, uint32_t index,
		       struct secret **out, struct err *e)
{
	if (parent->len != BLS_SECRET_LEN)
		return err_set(e, ERR_INVALID, "parent key: must be 32 bytes");
	uint8_t salt[4] = {(uint8_t)(index >> 24), (uint8_t)(index >> 16),
			   (uint8_t)(index >> 8), (uint8_t)index};
	struct secret *not_sk = secret_new(BLS_SECRET_LEN);
	struct secret *okm = secret_new(LAMPORT_OKM);
	struct secret *pk = secret_new(SHA256_DIGEST_LENGTH);
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned int n = 0;
	int rc = 0;
	if (!not_sk || !okm || !pk || !h) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < BLS_SECRET_LEN; i++)
		not_sk->bytes[i] = (uint8_t)~parent->bytes[i];
	if (EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
		rc = err_set(e, ERR_CRYPTO, "key derivation: SHA256 failed");
		goto out;
	}
	TRY_OUT(hkdf(salt, sizeof(salt), parent->bytes, parent->len, NULL, 0,
		     okm->bytes, okm->len, e));
	TRY_OUT(hash_lamport(h, okm, e));
	TRY_OUT(hkdf(salt, sizeof(salt), not_sk->bytes, not_sk->len, NULL, 0,
		     okm->bytes, okm->len, e));
	TRY_OUT(hash_lamport(h, okm, e));
	if (EVP_DigestFinal_ex(h, pk->bytes, &n) != 1 || n != pk->len) {
		rc = err_set(e, ERR_CRYPTO, "key derivation: SHA256 failed");
		goto out;
	}
	*out = pk;
	pk = NULL;
out:
	EVP_MD_CTX_free(h); /* cleanses the hash state */
	secret_free(pk);
	secret_free(okm);
	secret_free(not_sk);
	return rc;
}

int eip2333_child_sk(const struct secret *parent, uint32_t index,
		     struct secret **child, struct err *e)
{
	struct secret *lpk = NULL;
	TRY(eip2333_lamport_pk(parent, index, &lpk, e));
	int rc = hkdf_mod_r(lpk->bytes, lpk->len, child, e);
	secret_free(lpk);
	return rc;
}

/* ---- EIP-2334 paths ----------------------------------------------------- */

int eip2334_path_parse(const char *path, uint32_t nodes[EIP2334_MAX_DEPTH],
		       size_t *depth, struct err *e)
{
	size_t n = 0;
	if (!path || path[0] != 'm')
		return err_set(e, ERR_INVALID, "path: must start with \"m\"");
	const char *p = path + 1;
	while (*p) {
		if (*p++ != '/')
			return err_set(e, ERR_INVALID,
				       "path: expected \"/\" between nodes");
		if (n == EIP2334_MAX_DEPTH)
			return err_set(e, ERR_INVALID,
				       "path: deeper than %d nodes",
				       EIP2334_MAX_DEPTH);
		uint64_t v = 0;
		const char *start = p;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p++ - '0');
			if (v > UINT32_MAX)
				return err_set(e, ERR_INVALID,
					       "path: node %zu is not below "
					       "2^32",
					       n + 1);
		}
		if (p == start || (*start == '0' && p - start > 1))
			return err_set(e, ERR_INVALID,
				       "path: node %zu must be a decimal number "
				       "without sign, leading zeros or hardened "
				       "marker",
				       n + 1);
		nodes[n++] = (uint32_t)v;
	}
	*depth = n;
	return 0;
}

void eip2334_signing_path(uint32_t index, char out[EIP2334_PATH_MAX])
{
	snprintf(out, EIP2334_PATH_MAX, "m/12381/3600/%u/0/0", index);
}

void eip2334_withdrawal_path(uint32_t index, char out[EIP2334_PATH_MAX])
{
	snprintf(out, EIP2334_PATH_MAX, "m/12381/3600/%u/0", index);
}

int eip2333_derive_path(const struct secret *seed, const char *path,
			struct bls_key **out, struct err *e)
{
	uint32_t nodes[EIP2334_MAX_DEPTH];
	size_t depth = 0;
	struct secret *sk = NULL, *next = NULL;
	int rc;
	TRY(eip2334_path_parse(path, nodes, &depth, e));
	TRY_OUT(eip2333_master_sk(seed->bytes, seed->len, &sk, e));
	for (size_t i = 0; i < depth; i++) {
		TRY_OUT(eip2333_child_sk(sk, nodes[i], &next, e));
		secret_free(sk);
		sk = next;
		next = NULL;
	}
	TRY_OUT(bls_key_from_bytes(sk->bytes, out, e));
out:
	secret_free(sk);
	return rc;
}
