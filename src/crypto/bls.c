/*
 * bls.c: BLS12-381 signatures as Ethereum uses them, on top of blst.
 *
 * Ciphersuite BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_, "min-pk" variant:
 * public keys are compressed G1 points (48 bytes), signatures compressed G2
 * points (96 bytes). A key is a blst_scalar kept in a struct secret (secure
 * allocator, wiped on free) plus its compressed public key, computed once at
 * load. Every key entering the process passes blst_sk_check (non-zero, < r).
 *
 * Trust: secret bytes come from our own decryption paths; public keys and
 * signatures handed to verify come from outside and are fully checked
 * (canonical encoding, on curve, in the subgroup, pubkey not infinity).
 *
 * Hot path: bls_sign is hash_to_g2 + sign + compress on the stack; no
 * allocation, no locks, so any number of worker threads can sign at once
 * with the same key. bls_hash_msg and bls_sign_point are its two halves,
 * for callers that hash a message once and sign it with many keys (the
 * hash-to-G2 cache, h2c_cache.c, and the batch endpoint).
 */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "blst.h"

static const uint8_t DST[] = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
#define DST_LEN (sizeof(DST) - 1)

_Static_assert(sizeof(blst_scalar) == BLS_SECRET_LEN, "blst_scalar size");

static const blst_scalar *key_scalar(const struct bls_key *k)
{
	return (const blst_scalar *)k->sk->bytes;
}

/* Fills in the pubkey of a key whose scalar is already in place. */
static int key_finish(struct bls_key *k, struct bls_key **out, struct err *e)
{
	if (!blst_sk_check(key_scalar(k))) {
		bls_key_free(k);
		return err_set(e, ERR_INVALID,
			       "secret key: zero or not below the group order");
	}
	blst_p1 pk;
	blst_sk_to_pk_in_g1(&pk, key_scalar(k));
	blst_p1_compress(k->pubkey, &pk);
	*out = k;
	return 0;
}

static struct bls_key *key_alloc(void)
{
	struct bls_key *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->sk = secret_new(sizeof(blst_scalar));
	if (!k->sk) {
		free(k);
		return NULL;
	}
	return k;
}

int bls_key_from_bytes(const uint8_t be[BLS_SECRET_LEN], struct bls_key **out,
		       struct err *e)
{
	struct bls_key *k = key_alloc();
	if (!k)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	blst_scalar_from_bendian((blst_scalar *)k->sk->bytes, be);
	return key_finish(k, out, e);
}

int bls_key_from_hex(const char *hex, struct bls_key **out, struct err *e,
		     const char *field)
{
	size_t n = strlen(hex);
	bool pfx = n >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X');
	/* core's decoder wants the prefix; add it inside secure memory. */
	struct secret *txt = secret_new(n + 3);
	struct secret *be = secret_new(BLS_SECRET_LEN);
	int rc = 0;
	if (!txt || !be) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	memcpy(txt->bytes, "0x", pfx ? 0 : 2);
	memcpy(txt->bytes + (pfx ? 0 : 2), hex, n + 1);
	TRY_OUT(hex_decode_exact((const char *)txt->bytes, be->bytes,
				 BLS_SECRET_LEN, e, field));
	rc = bls_key_from_bytes(be->bytes, out, e);
	if (rc < 0)
		err_prefix(e, "%s: ", field);
out:
	secret_free(txt);
	secret_free(be);
	return rc;
}

int bls_key_generate(struct bls_key **out, struct err *e)
{
	struct secret *ikm = secret_new(32);
	struct bls_key *k = key_alloc();
	int rc = 0;
	if (!ikm || !k) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	if (RAND_priv_bytes(ikm->bytes, (int)ikm->len) != 1) {
		rc = err_set(e, ERR_CRYPTO, "random number generator failed");
		goto out;
	}
	blst_keygen((blst_scalar *)k->sk->bytes, ikm->bytes, ikm->len, NULL, 0);
	rc = key_finish(k, out, e);
	k = NULL; /* key_finish owns it now */
out:
	secret_free(ikm);
	bls_key_free(k);
	return rc;
}

int bls_key_export(const struct bls_key *k, struct secret **out, struct err *e)
{
	struct secret *s = secret_new(BLS_SECRET_LEN);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	blst_bendian_from_scalar(s->bytes, key_scalar(k));
	*out = s;
	return 0;
}

void bls_key_free(struct bls_key *k)
{
	if (!k)
		return;
	secret_free(k->sk);
	free(k);
}

void bls_sign(const struct bls_key *k, const uint8_t *msg, size_t len,
	      uint8_t sig[BLS_SIG_LEN])
{
	blst_p2 h, s;
	blst_hash_to_g2(&h, msg, len, DST, DST_LEN, NULL, 0);
	blst_sign_pk_in_g1(&s, &h, key_scalar(k));
	blst_p2_compress(sig, &s);
}

_Static_assert(sizeof(blst_p2) == BLS_G2_POINT_LEN, "blst_p2 size");
_Static_assert(sizeof(struct bls_msg_point) == sizeof(blst_p2),
	       "bls_msg_point holds a blst_p2");
_Static_assert(_Alignof(struct bls_msg_point) >= _Alignof(blst_p2),
	       "bls_msg_point is aligned as a blst_p2");

void bls_hash_msg(const uint8_t *msg, size_t len, struct bls_msg_point *out)
{
	blst_hash_to_g2((blst_p2 *)out->w, msg, len, DST, DST_LEN, NULL, 0);
}

void bls_sign_point(const struct bls_key *k, const struct bls_msg_point *h,
		    uint8_t sig[BLS_SIG_LEN])
{
	blst_p2 s;
	blst_sign_pk_in_g1(&s, (const blst_p2 *)h->w, key_scalar(k));
	blst_p2_compress(sig, &s);
}

/* Canonical encoding, on the curve and in G1 (infinity allowed). */
static int g1_decode(const uint8_t pk[BLS_PUBKEY_LEN], blst_p1_affine *p)
{
	if (blst_p1_uncompress(p, pk) != BLST_SUCCESS)
		return -ERR_INVALID;
	if (!blst_p1_affine_in_g1(p))
		return -ERR_INVALID;
	return 0;
}

static int g2_decode(const uint8_t sig[BLS_SIG_LEN], blst_p2_affine *p)
{
	if (blst_p2_uncompress(p, sig) != BLST_SUCCESS)
		return -ERR_INVALID;
	if (!blst_p2_affine_in_g2(p))
		return -ERR_INVALID;
	return 0;
}

/* KeyValidate, keeping the decoded point. */
static int pubkey_validate(const uint8_t pk[BLS_PUBKEY_LEN], blst_p1_affine *p)
{
	TRY(g1_decode(pk, p));
	if (blst_p1_affine_is_inf(p))
		return -ERR_INVALID;
	return 0;
}

int bls_pubkey_decode_check(const uint8_t pk[BLS_PUBKEY_LEN])
{
	blst_p1_affine p;
	return g1_decode(pk, &p);
}

int bls_signature_decode_check(const uint8_t sig[BLS_SIG_LEN])
{
	blst_p2_affine p;
	return g2_decode(sig, &p);
}

int bls_pubkey_check(const uint8_t pk[BLS_PUBKEY_LEN])
{
	blst_p1_affine p;
	return pubkey_validate(pk, &p);
}

static int core_verify(const blst_p1_affine *pk, const uint8_t *msg,
		       size_t len, const blst_p2_affine *sig)
{
	BLST_ERROR r = blst_core_verify_pk_in_g1(pk, sig, true, msg, len, DST,
						 DST_LEN, NULL, 0);
	return r == BLST_SUCCESS ? 0 : -ERR_CRYPTO;
}

int bls_verify(const uint8_t pk[BLS_PUBKEY_LEN], const uint8_t *msg,
	       size_t len, const uint8_t sig[BLS_SIG_LEN])
{
	blst_p1_affine p;
	blst_p2_affine s;
	TRY(pubkey_validate(pk, &p));
	TRY(g2_decode(sig, &s));
	return core_verify(&p, msg, len, &s);
}

int bls_fast_aggregate_verify(const uint8_t (*pks)[BLS_PUBKEY_LEN], size_t n,
			      const uint8_t *msg, size_t len,
			      const uint8_t sig[BLS_SIG_LEN])
{
	if (n == 0)
		return -ERR_INVALID;
	blst_p2_affine s;
	TRY(g2_decode(sig, &s));
	blst_p1 agg;
	for (size_t i = 0; i < n; i++) {
		blst_p1_affine p;
		TRY(pubkey_validate(pks[i], &p));
		if (i == 0)
			blst_p1_from_affine(&agg, &p);
		else
			blst_p1_add_or_double_affine(&agg, &agg, &p);
	}
	blst_p1_affine agg_aff;
	blst_p1_to_affine(&agg_aff, &agg);
	if (blst_p1_affine_is_inf(&agg_aff))
		return -ERR_CRYPTO;
	return core_verify(&agg_aff, msg, len, &s);
}
