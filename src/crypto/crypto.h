/*
 * crypto.h: the public header of the crypto module: BLS12-381 through blst,
 * SSZ hash_tree_root building blocks, and EIP-2335 keystores.
 *
 * Secret keys are held in struct secret (core.h); nothing here logs.
 */
#ifndef NS_CRYPTO_H
#define NS_CRYPTO_H

#include "core/core.h"

/* ---- BLS12-381 (min-pk, POP ciphersuite, as Ethereum) ---------------- */

#define BLS_PUBKEY_LEN 48
#define BLS_SIG_LEN 96
#define BLS_SECRET_LEN 32

struct bls_key {
	struct secret *sk; /* blst_scalar (32 bytes), in the secure allocator */
	uint8_t pubkey[BLS_PUBKEY_LEN]; /* compressed G1 */
};

/* From a 32-byte big-endian secret; refuses zero and >= r (blst_sk_check). */
int bls_key_from_bytes(const uint8_t be[BLS_SECRET_LEN], struct bls_key **out,
		       struct err *e);
/*
 * From hex text (64 digits, "0x" optional: key files and Web3Signer's
 * privateKey). Decoded in secure memory; errors name `field`, never digits.
 */
int bls_key_from_hex(const char *hex, struct bls_key **out, struct err *e,
		     const char *field);
/* A fresh key from the OS RNG (blst_keygen over 32 random bytes). */
int bls_key_generate(struct bls_key **out, struct err *e);
/* The 32-byte big-endian secret, into a new secret buffer. */
int bls_key_export(const struct bls_key *k, struct secret **out, struct err *e);
void bls_key_free(struct bls_key *k);
void bls_sign(const struct bls_key *k, const uint8_t *msg, size_t len,
	      uint8_t sig[BLS_SIG_LEN]);
/* 0 when valid; negative otherwise. Group-checks both, refuses infinity pk. */
int bls_verify(const uint8_t pk[BLS_PUBKEY_LEN], const uint8_t *msg,
	       size_t len, const uint8_t sig[BLS_SIG_LEN]);
/* KeyValidate: on curve, in G1, not infinity. */
int bls_pubkey_check(const uint8_t pk[BLS_PUBKEY_LEN]);
/*
 * Decoding only (the consensus "deserialization" rule): a canonical
 * compressed encoding of a point on the curve and in the subgroup. The
 * point at infinity (0xc0 00..) decodes; use bls_pubkey_check for keys.
 */
int bls_pubkey_decode_check(const uint8_t pk[BLS_PUBKEY_LEN]);
int bls_signature_decode_check(const uint8_t sig[BLS_SIG_LEN]);
/*
 * FastAggregateVerify: n >= 1 pubkeys (each KeyValidate'd), one message,
 * one aggregate signature. 0 when valid; negative otherwise.
 */
int bls_fast_aggregate_verify(const uint8_t (*pks)[BLS_PUBKEY_LEN], size_t n,
			      const uint8_t *msg, size_t len,
			      const uint8_t sig[BLS_SIG_LEN]);

/* ---- SSZ merkleization (sha256 via OpenSSL) -------------------------- */

/* hash(a || b) */
void ssz_hash_pair(const uint8_t a[32], const uint8_t b[32], uint8_t out[32]);
/*
 * merkleize(chunks, limit): `count` 32-byte chunks, padded with zero chunks to
 * next_pow2(limit) leaves (limit = count when 0). count must be <= limit.
 */
int ssz_merkleize(const uint8_t *chunks, size_t count, size_t limit,
		  uint8_t out[32]);
/* root = hash(root || uint256(len)) */
void ssz_mix_in_length(uint8_t root[32], uint64_t len);
void ssz_uint64_root(uint64_t v, uint8_t out[32]);
/* Packs bytes into chunks and merkleizes (Vector/ByteVector of basic types). */
int ssz_bytes_root(const uint8_t *bytes, size_t len, size_t limit_chunks,
		   uint8_t out[32]);
/*
 * Bitlist[limit] given in its SSZ encoding (with the length-delimiting bit):
 * validates the delimiter and the limit, returns hash_tree_root.
 */
int ssz_bitlist_root(const uint8_t *enc, size_t enc_len, uint64_t limit_bits,
		     uint8_t out[32], struct err *e, const char *field);
/* Bitvector[n_bits]: exact byte length, unused high bits must be zero. */
int ssz_bitvector_root(const uint8_t *bytes, size_t len, uint64_t n_bits,
		       uint8_t out[32], struct err *e, const char *field);

/* Depth of the deepest zero-subtree kept precomputed (2^64 leaves). */
#define SSZ_MAX_DEPTH 64
/* zero_hashes[depth]: root of 2^depth zero chunks, depth <= SSZ_MAX_DEPTH. */
const uint8_t *ssz_zero_hash(unsigned depth);

/*
 * Streaming merkleizer: push chunks one at a time (e.g. element roots of a
 * List) without buffering them; the result equals ssz_merkleize over the same
 * chunks and limit. Memory is O(log limit); the padding is never allocated.
 */
struct ssz_hasher {
	uint8_t tmp[SSZ_MAX_DEPTH + 1][32];
	uint64_t count;
	uint64_t limit;
};
/* limit = maximum number of chunks (the padded width is next_pow2(limit)). */
void ssz_hasher_init(struct ssz_hasher *h, uint64_t limit);
/* -ERR_INVALID when the limit is already reached. */
int ssz_hasher_push(struct ssz_hasher *h, const uint8_t chunk[32]);
void ssz_hasher_finish(struct ssz_hasher *h, uint8_t out[32]);

/* ---- EIP-2335 keystores ---------------------------------------------- */

enum keystore_kdf { KEYSTORE_KDF_SCRYPT, KEYSTORE_KDF_PBKDF2 };

/* NFKD, then strip C0, C1 and DEL control codes (EIP-2335 password rules). */
int keystore_password_normalize(const uint8_t *pw, size_t len,
				struct secret **out, struct err *e);
/*
 * Decrypts a keystore JSON document with a raw (not yet normalised) password.
 * Verifies the checksum, the secret (blst_sk_check) and, when the keystore
 * carries "pubkey", that it matches. Errors name the field, never the secret.
 */
int keystore_decrypt(const char *json, size_t len, const struct secret *password,
		     struct bls_key **out, struct err *e);

struct keystore_params {
	enum keystore_kdf kdf;
	const char *path;        /* EIP-2334 path or "" */
	const char *description; /* may be NULL */
	/* scrypt n (default 262144) or pbkdf2 c (default 262144); 0 = default */
	uint32_t work_factor;
};
/* Encrypts a key into a keystore JSON document (malloc'd, NUL-terminated). */
int keystore_encrypt(const struct bls_key *k, const struct secret *password,
		     const struct keystore_params *p, char **json_out,
		     struct err *e);

/*
 * Work-factor limits a keystore may ask for (anything above is refused
 * before any KDF runs, so a hostile file cannot pin a core or eat memory):
 * scrypt n a power of two in [2, 2^20], r in [1, 32], p in [1, 16],
 * 128*r*n <= 1 GiB; pbkdf2 c in [1, 2^24]. Salt 16..256 bytes.
 */
#define KEYSTORE_SCRYPT_N_MAX (1u << 20)
#define KEYSTORE_PBKDF2_C_MAX (1u << 24)
#define KEYSTORE_PATH_MAX 256
#define KEYSTORE_MAX_JSON (1024 * 1024)

/* What a keystore says about itself, without decrypting it. */
struct keystore_info {
	enum keystore_kdf kdf;
	uint32_t work_factor; /* scrypt n or pbkdf2 c */
	bool has_pubkey;
	uint8_t pubkey[BLS_PUBKEY_LEN];
	bool has_path;
	char path[KEYSTORE_PATH_MAX]; /* "" when absent */
	char uuid[37];
};
/*
 * Parses and validates every field of a keystore (the same checks
 * keystore_decrypt makes before running the KDF) without the password.
 * Cheap: this is what the fuzzer drives.
 */
int keystore_inspect(const char *json, size_t len, struct keystore_info *info,
		     struct err *e);

#endif
