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
/*
 * A signature is two halves of about equal cost: the message hashed to G2
 * (hash_to_curve with the ciphersuite's DST) and that point multiplied by
 * the secret key. The point depends on the message only, so it is public
 * and may be shared: bls_sign == bls_hash_msg + bls_sign_point, bit for
 * bit. struct bls_msg_point holds a blst_p2 (opaque outside bls.c).
 */
#define BLS_G2_POINT_LEN 288
struct bls_msg_point {
	uint64_t w[BLS_G2_POINT_LEN / 8];
};
void bls_hash_msg(const uint8_t *msg, size_t len, struct bls_msg_point *out);
void bls_sign_point(const struct bls_key *k, const struct bls_msg_point *h,
		    uint8_t sig[BLS_SIG_LEN]);

/*
 * The hash-to-G2 cache (h2c_cache.c): recent 32-byte signing roots and
 * their points, bounded (entries, rounded up to a multiple of 4), shared
 * by any number of threads, no lock on a hit. Only public data is held.
 * A cache pointer may be NULL everywhere: then nothing is cached and every
 * call hashes (the uncached path).
 */
struct bls_h2c_cache;
struct bls_h2c_stats {
	uint64_t hits;     /* lookups answered from the cache */
	uint64_t misses;   /* lookups that had to hash (or wait for a hash) */
	uint64_t waits;    /* misses that waited for another thread's hash */
	uint64_t computed; /* hash_to_g2 computations made for misses */
};
int bls_h2c_cache_new(size_t entries, struct bls_h2c_cache **out,
		      struct err *e);
void bls_h2c_cache_free(struct bls_h2c_cache *c); /* NULL-safe */
/* The point of root: from the cache (true), or hashed and cached (false). */
bool bls_h2c_cache_get(struct bls_h2c_cache *c, const uint8_t root[32],
		       struct bls_msg_point *out);
/* bls_sign(k, root, 32, sig) with the point from the cache. */
void bls_h2c_cache_sign(struct bls_h2c_cache *c, const struct bls_key *k,
			const uint8_t root[32], uint8_t sig[BLS_SIG_LEN]);
/* Counters since creation (zero for a NULL cache). */
void bls_h2c_cache_stats(const struct bls_h2c_cache *c,
			 struct bls_h2c_stats *out);
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

/*
 * Progressive merkleization (ssz/simple-serialize.md merkleize_progressive,
 * EIP-7916 and EIP-7495, used from Gloas on): chunks fill subtrees of 1, 4,
 * 16, ... leaves; the root is hash(subtree_0, hash(subtree_1, ... zero)).
 * Streaming like ssz_hasher: each completed subtree is kept as one root.
 */
#define SSZ_PROGRESSIVE_LEVELS 32 /* subtree k has 4^k leaves: depth 2k <= 64 */
struct ssz_progressive {
	struct ssz_hasher level; /* the subtree being filled */
	uint8_t roots[SSZ_PROGRESSIVE_LEVELS][32];
	unsigned nroots;
};
void ssz_progressive_init(struct ssz_progressive *p);
/* -ERR_INVALID past (4^32 - 1) / 3 chunks (never reached by real input). */
int ssz_progressive_push(struct ssz_progressive *p, const uint8_t chunk[32]);
void ssz_progressive_finish(struct ssz_progressive *p, uint8_t out[32]);
/*
 * ProgressiveContainer(active_fields=[1] * n) from its n field roots:
 * mix_in_active_fields(merkleize_progressive(fields), pack_bits(ones)).
 * n in 1..256.
 */
int ssz_progressive_container_root(const uint8_t (*fields)[32], size_t n,
				   uint8_t out[32]);
/* ProgressiveByteList: mix_in_length(merkleize_progressive(pack(b)), len). */
int ssz_progressive_bytes_root(const uint8_t *bytes, size_t len,
			       uint8_t out[32]);
/*
 * ProgressiveBitList given in its SSZ encoding (with the delimiting bit),
 * validated as ssz_bitlist_root does; limit_bits bounds the input only (the
 * type has no limit, so it does not enter the root).
 */
int ssz_progressive_bitlist_root(const uint8_t *enc, size_t enc_len,
				 uint64_t limit_bits, uint8_t out[32],
				 struct err *e, const char *field);

/* ---- text ------------------------------------------------------------- */

/* NFKD of UTF-8 secret text into secure memory; `field` names it in errors. */
int text_nfkd_secret(const uint8_t *in, size_t len, size_t max,
		     const char *field, struct secret **out, struct err *e);

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

/* ---- mnemonics and key derivation (BIP-39, EIP-2333, EIP-2334) -------- */

/*
 * BIP-39 with the English list only (what staking-deposit-cli accepts for
 * English). A mnemonic is 12, 15, 18, 21 or 24 words; nitro-keys generates
 * 24 (256 bits of entropy). Mnemonic text, entropy and seeds live in struct
 * secret; mnemonic text is NUL-terminated (len excludes the NUL).
 */
#define BIP39_WORD_COUNT 2048
#define BIP39_SEED_LEN 64
#define BIP39_MAX_WORDS 24
extern const char *const bip39_english[BIP39_WORD_COUNT];

/* Index of an exact lower-case word, or -1. */
int bip39_word_index(const char *word, size_t len);
/* Entropy (16..32 bytes, a multiple of 4) to its mnemonic (checksum added). */
int bip39_entropy_to_mnemonic(const uint8_t *entropy, size_t len,
			      struct secret **out, struct err *e);
/* A fresh 24-word mnemonic from 32 bytes of the OS RNG. */
int bip39_generate(struct secret **out, struct err *e);
/*
 * Checks operator text and returns it canonical (lower-case words from the
 * list, single spaces). The text is NFKD-normalised, words are separated by
 * any run of ASCII whitespace, ASCII upper case is folded, and a word may be
 * given by its first four letters (unique in the English list), as
 * staking-deposit-cli accepts. Refuses unknown words (naming the position,
 * never the word), a word count other than 12/15/18/21/24 (or other than
 * `want_words` when non-zero) and a bad checksum.
 */
int bip39_mnemonic_check(const uint8_t *text, size_t len, unsigned want_words,
			 struct secret **canonical, struct err *e);
/*
 * seed = PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" || NFKD(passphrase),
 * 2048, 64). passphrase may be NULL (empty). No checksum check here.
 */
int bip39_mnemonic_to_seed(const struct secret *mnemonic,
			   const struct secret *passphrase, struct secret **seed,
			   struct err *e);

/*
 * EIP-2333 key tree (HKDF-SHA256 through OpenSSL's EVP_KDF). Keys are
 * 32-byte big-endian scalars in struct secret. seed is at least 32 bytes.
 */
int eip2333_master_sk(const uint8_t *seed, size_t len, struct secret **sk,
		      struct err *e);
int eip2333_child_sk(const struct secret *parent, uint32_t index,
		     struct secret **child, struct err *e);
/* compressed_lamport_PK of parent_SK_to_lamport_PK (a secret: it is IKM). */
int eip2333_lamport_pk(const struct secret *parent, uint32_t index,
		       struct secret **out, struct err *e);

/*
 * EIP-2334 paths: "m" followed by "/N" nodes, N decimal < 2^32 (no sign,
 * no leading zeros, no hardened marker), at most EIP2334_MAX_DEPTH nodes.
 */
#define EIP2334_MAX_DEPTH 16
#define EIP2334_PATH_MAX 128
int eip2334_path_parse(const char *path, uint32_t nodes[EIP2334_MAX_DEPTH],
		       size_t *depth, struct err *e);
/* "m/12381/3600/<index>/0/0" (signing) or ".../<index>/0" (withdrawal). */
void eip2334_signing_path(uint32_t index, char out[EIP2334_PATH_MAX]);
void eip2334_withdrawal_path(uint32_t index, char out[EIP2334_PATH_MAX]);
/* The key at `path` under the master key of `seed`. */
int eip2333_derive_path(const struct secret *seed, const char *path,
			struct bls_key **out, struct err *e);

/* ---- execution-layer addresses (EIP-55) ------------------------------- */

#define ETH_ADDRESS_LEN 20
/* Keccak-256 (the original padding, as Ethereum uses; not SHA3-256). */
int keccak256(const uint8_t *in, size_t len, uint8_t out[32]);
/* "0x" + EIP-55 mixed-case hex; out holds 43 bytes. */
int eth_address_checksum(const uint8_t addr[ETH_ADDRESS_LEN], char out[43]);
/*
 * Strict: "0x" and 40 hex digits whose case is exactly the EIP-55 checksum
 * (an all-lower or all-upper address is refused too, as staking-deposit-cli
 * does). Errors name `field`.
 */
int eth_address_parse_checksummed(const char *s, uint8_t out[ETH_ADDRESS_LEN],
				  struct err *e, const char *field);

/*
 * Re-serialises a keystore from keystore_encrypt() the way staking-deposit-
 * cli writes one (Python json.dumps: one line, ", " and ": " separators,
 * ASCII only, its key order, pbkdf2 params as c/dklen/prf/salt). *json is
 * replaced (freed and reallocated).
 */
int keystore_format_deposit_cli(char **json, struct err *e);

#endif
