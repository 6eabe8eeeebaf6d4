/*
 * ssz.c: SSZ hash_tree_root building blocks (consensus-specs ssz/simple-serialize.md,
 * "Merkleization"): sha256 of 32-byte chunk pairs, merkleize with a virtual
 * zero padding to next_pow2(limit), mix_in_length, and the roots of basic
 * values, byte vectors, Bitlists and Bitvectors.
 *
 * How it fits: eth2 builds every container root from these calls; nothing
 * here knows about Ethereum containers. The merkleizer streams chunks through
 * one stack of O(log limit) partial roots (the algorithm of the spec's
 * merkle_minimal.merkleize_chunks), so a List limit of 2^40 chunks costs 40
 * extra hashes with precomputed zero-subtree roots, never an allocation.
 *
 * Gloas (EIP-7688) adds progressive merkleization: lists without a type
 * limit and containers that can grow, hashed into subtrees of 1, 4, 16, ...
 * leaves. ssz_progressive streams them the same way: one ssz_hasher for the
 * subtree being filled and the roots of the completed ones.
 *
 * What it trusts: callers pass lengths that match their buffers. Bit-field
 * encodings come from clients and are validated here (delimiter bit, limit,
 * exact Bitvector length, zero high bits).
 */
#include "crypto.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint8_t zero_hashes[SSZ_MAX_DEPTH + 1][32];
static const EVP_MD *sha256_md;
static pthread_once_t ssz_once = PTHREAD_ONCE_INIT;

/*
 * A failing SHA-256 can only mean a broken OpenSSL install; returning a wrong
 * root could mean signing something unintended, so stop instead.
 */
static void sha256_64(const uint8_t in[64], uint8_t out[32])
{
	unsigned int n = 0;
	if (!EVP_Digest(in, 64, out, &n, sha256_md, NULL) || n != 32)
		abort();
}

static void ssz_init_once(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256_md)
		abort();
	memset(zero_hashes[0], 0, 32);
	for (unsigned d = 1; d <= SSZ_MAX_DEPTH; d++) {
		uint8_t buf[64];
		memcpy(buf, zero_hashes[d - 1], 32);
		memcpy(buf + 32, zero_hashes[d - 1], 32);
		sha256_64(buf, zero_hashes[d]);
	}
}

static void ssz_init(void)
{
	if (pthread_once(&ssz_once, ssz_init_once) != 0)
		abort();
}

void ssz_hash_pair(const uint8_t a[32], const uint8_t b[32], uint8_t out[32])
{
	uint8_t buf[64];
	ssz_init();
	memcpy(buf, a, 32);
	memcpy(buf + 32, b, 32);
	sha256_64(buf, out);
}

const uint8_t *ssz_zero_hash(unsigned depth)
{
	ssz_init();
	if (depth > SSZ_MAX_DEPTH)
		depth = SSZ_MAX_DEPTH;
	return zero_hashes[depth];
}

/* Number of bits needed to write v (0 for 0), as Python's int.bit_length. */
static unsigned bit_length(uint64_t v)
{
	return v ? 64u - (unsigned)__builtin_clzll(v) : 0u;
}

/* ---- the streaming merkleizer ----------------------------------------- */

void ssz_hasher_init(struct ssz_hasher *h, uint64_t limit)
{
	ssz_init();
	h->count = 0;
	h->limit = limit;
}

/*
 * Folds chunk number i into the stack: while bit j of i is set, the chunk
 * completes a subtree with the pending left sibling tmp[j]. On the final
 * (padding) call, i == count and the missing right halves below `depth` are
 * zero subtrees.
 */
static void hasher_merge(struct ssz_hasher *h, const uint8_t chunk[32],
			 uint64_t i, unsigned depth)
{
	uint8_t node[32];
	unsigned j = 0;
	memcpy(node, chunk, 32);
	for (;; j++) {
		if ((i >> j) & 1)
			ssz_hash_pair(h->tmp[j], node, node);
		else if (i == h->count && j < depth)
			ssz_hash_pair(node, zero_hashes[j], node);
		else
			break;
	}
	memcpy(h->tmp[j], node, 32);
}

int ssz_hasher_push(struct ssz_hasher *h, const uint8_t chunk[32])
{
	if (h->count >= h->limit)
		return -ERR_INVALID;
	hasher_merge(h, chunk, h->count, 0);
	h->count++;
	return 0;
}

void ssz_hasher_finish(struct ssz_hasher *h, uint8_t out[32])
{
	if (h->limit == 0) {
		memcpy(out, zero_hashes[0], 32);
		return;
	}
	unsigned depth = bit_length(h->count ? h->count - 1 : 0);
	unsigned max_depth = bit_length(h->limit - 1);
	if (h->count != (uint64_t)1 << depth)
		hasher_merge(h, zero_hashes[0], h->count, depth);
	for (unsigned j = depth; j < max_depth; j++)
		ssz_hash_pair(h->tmp[j], zero_hashes[j], h->tmp[j + 1]);
	memcpy(out, h->tmp[max_depth], 32);
}

int ssz_merkleize(const uint8_t *chunks, size_t count, size_t limit,
		  uint8_t out[32])
{
	struct ssz_hasher h;
	if (limit == 0)
		limit = count;
	if (count > limit)
		return -ERR_INVALID;
	ssz_hasher_init(&h, limit);
	for (size_t i = 0; i < count; i++)
		TRY(ssz_hasher_push(&h, chunks + 32 * i));
	ssz_hasher_finish(&h, out);
	return 0;
}

void ssz_mix_in_length(uint8_t root[32], uint64_t len)
{
	uint8_t l[32];
	ssz_uint64_root(len, l);
	ssz_hash_pair(root, l, root);
}

void ssz_uint64_root(uint64_t v, uint8_t out[32])
{
	memset(out, 0, 32);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

/* ---- packed bytes ------------------------------------------------------- */

/*
 * The chunk at byte offset `off` of `len` packed bytes, zero-padded. When
 * `mask` is set, bit mask_bit (an index into the byte string) is cleared on
 * the way: the Bitlist delimiter, removed without copying the encoding.
 */
static void packed_chunk(const uint8_t *bytes, size_t len, size_t off,
			 bool mask, uint64_t mask_bit, uint8_t chunk[32])
{
	size_t n = len - off < 32 ? len - off : 32;
	memset(chunk, 0, 32);
	memcpy(chunk, bytes + off, n);
	if (mask && mask_bit / 8 >= off && mask_bit / 8 < off + n)
		chunk[mask_bit / 8 - off] &= (uint8_t)~(1u << (mask_bit % 8));
}

static int push_packed(struct ssz_hasher *h, const uint8_t *bytes, size_t len,
		       bool mask, uint64_t mask_bit)
{
	uint8_t chunk[32];
	for (size_t off = 0; off < len; off += 32) {
		packed_chunk(bytes, len, off, mask, mask_bit, chunk);
		TRY(ssz_hasher_push(h, chunk));
	}
	return 0;
}

int ssz_bytes_root(const uint8_t *bytes, size_t len, size_t limit_chunks,
		   uint8_t out[32])
{
	struct ssz_hasher h;
	size_t chunks = (len + 31) / 32;
	if (limit_chunks == 0)
		limit_chunks = chunks;
	if (chunks > limit_chunks)
		return -ERR_INVALID;
	ssz_hasher_init(&h, limit_chunks);
	TRY(push_packed(&h, bytes, len, false, 0));
	ssz_hasher_finish(&h, out);
	return 0;
}

/* ---- bit fields --------------------------------------------------------- */

/*
 * The number of data bits of a Bitlist encoding, checked: a delimiting bit
 * in a non-zero last byte, at most limit_bits bits.
 */
static int bitlist_bits(const uint8_t *enc, size_t enc_len,
			uint64_t limit_bits, uint64_t *bits, struct err *e,
			const char *field)
{
	if (enc_len == 0 || enc[enc_len - 1] == 0)
		return err_set(e, ERR_INVALID,
			       "%s: bitlist has no length-delimiting bit",
			       field);
	*bits = 8 * (uint64_t)(enc_len - 1) + (bit_length(enc[enc_len - 1]) - 1);
	if (*bits > limit_bits)
		return err_set(e, ERR_INVALID,
			       "%s: bitlist of %llu bits exceeds the limit of %llu",
			       field, (unsigned long long)*bits,
			       (unsigned long long)limit_bits);
	return 0;
}

int ssz_bitlist_root(const uint8_t *enc, size_t enc_len, uint64_t limit_bits,
		     uint8_t out[32], struct err *e, const char *field)
{
	struct ssz_hasher h;
	uint64_t bits;
	TRY(bitlist_bits(enc, enc_len, limit_bits, &bits, e, field));
	/* The delimiter may sit alone in the last byte: it is not data. */
	size_t data_len = (size_t)((bits + 7) / 8);
	ssz_hasher_init(&h, (limit_bits + 255) / 256);
	TRY(push_packed(&h, enc, data_len, true, bits));
	ssz_hasher_finish(&h, out);
	ssz_mix_in_length(out, bits);
	return 0;
}

int ssz_bitvector_root(const uint8_t *bytes, size_t len, uint64_t n_bits,
		       uint8_t out[32], struct err *e, const char *field)
{
	struct ssz_hasher h;
	if (n_bits == 0)
		return err_set(e, ERR_INVALID, "%s: empty bitvector type",
			       field);
	if ((uint64_t)len != (n_bits + 7) / 8)
		return err_set(e, ERR_INVALID,
			       "%s: expected %llu bytes for a %llu-bit bitvector, got %zu",
			       field, (unsigned long long)((n_bits + 7) / 8),
			       (unsigned long long)n_bits, len);
	if (n_bits % 8 && (bytes[len - 1] >> (n_bits % 8)) != 0)
		return err_set(e, ERR_INVALID,
			       "%s: bits set beyond the bitvector length %llu",
			       field, (unsigned long long)n_bits);
	ssz_hasher_init(&h, (n_bits + 255) / 256);
	TRY(push_packed(&h, bytes, len, false, 0));
	ssz_hasher_finish(&h, out);
	return 0;
}

/* ---- progressive merkleization ----------------------------------------- */

void ssz_progressive_init(struct ssz_progressive *p)
{
	ssz_hasher_init(&p->level, 1);
	p->nroots = 0;
}

int ssz_progressive_push(struct ssz_progressive *p, const uint8_t chunk[32])
{
	if (p->level.count == p->level.limit) {
		uint64_t next = p->level.limit * 4;
		if (p->nroots + 1 >= SSZ_PROGRESSIVE_LEVELS)
			return -ERR_INVALID;
		ssz_hasher_finish(&p->level, p->roots[p->nroots++]);
		ssz_hasher_init(&p->level, next);
	}
	return ssz_hasher_push(&p->level, chunk);
}

void ssz_progressive_finish(struct ssz_progressive *p, uint8_t out[32])
{
	uint8_t acc[32] = {0};
	if (p->level.count > 0)
		ssz_hasher_finish(&p->level, p->roots[p->nroots++]);
	for (unsigned i = p->nroots; i-- > 0;)
		ssz_hash_pair(p->roots[i], acc, acc);
	memcpy(out, acc, 32);
}

int ssz_progressive_container_root(const uint8_t (*fields)[32], size_t n,
				   uint8_t out[32])
{
	struct ssz_progressive p;
	uint8_t active[32] = {0};
	if (n == 0 || n > 256)
		return -ERR_INVALID;
	ssz_progressive_init(&p);
	for (size_t i = 0; i < n; i++) {
		TRY(ssz_progressive_push(&p, fields[i]));
		active[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	ssz_progressive_finish(&p, out);
	ssz_hash_pair(out, active, out);
	return 0;
}

static int push_packed_progressive(struct ssz_progressive *p,
				   const uint8_t *bytes, size_t len, bool mask,
				   uint64_t mask_bit)
{
	uint8_t chunk[32];
	for (size_t off = 0; off < len; off += 32) {
		packed_chunk(bytes, len, off, mask, mask_bit, chunk);
		TRY(ssz_progressive_push(p, chunk));
	}
	return 0;
}

int ssz_progressive_bytes_root(const uint8_t *bytes, size_t len,
			       uint8_t out[32])
{
	struct ssz_progressive p;
	ssz_progressive_init(&p);
	TRY(push_packed_progressive(&p, bytes, len, false, 0));
	ssz_progressive_finish(&p, out);
	ssz_mix_in_length(out, len);
	return 0;
}

int ssz_progressive_bitlist_root(const uint8_t *enc, size_t enc_len,
				 uint64_t limit_bits, uint8_t out[32],
				 struct err *e, const char *field)
{
	struct ssz_progressive p;
	uint64_t bits;
	TRY(bitlist_bits(enc, enc_len, limit_bits, &bits, e, field));
	ssz_progressive_init(&p);
	TRY(push_packed_progressive(&p, enc, (size_t)((bits + 7) / 8), true,
				    bits));
	ssz_progressive_finish(&p, out);
	ssz_mix_in_length(out, bits);
	return 0;
}
