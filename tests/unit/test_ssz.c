/*
 * test_ssz.c: SSZ merkleization against values known outside this code base
 * (zero-subtree roots of the deposit contract, the empty deposit tree root of
 * mainnet's deposit contract) and against a naive reference merkleizer
 * written here with OpenSSL's SHA256(), which pads the leaves explicitly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

static void assert_root(const uint8_t got[32], const char *want_hex)
{
	char buf[67];
	hex_encode(got, 32, buf);
	assert_string_equal(buf, want_hex);
}

/* The naive definition: pad to next_pow2(limit) leaves, hash layer by layer. */
static void naive_merkleize(const uint8_t *chunks, size_t count, size_t limit,
			    uint8_t out[32])
{
	size_t width = 1;
	while (width < limit)
		width <<= 1;
	uint8_t *layer = calloc(width, 32);
	assert_non_null(layer);
	memcpy(layer, chunks, 32 * count);
	for (; width > 1; width /= 2)
		for (size_t i = 0; i < width / 2; i++)
			SHA256(layer + 64 * i, 64, layer + 32 * i);
	memcpy(out, layer, 32);
	free(layer);
}

static void test_zero_hashes_match_deposit_contract_constants(void **state)
{
	(void)state;
	assert_root(ssz_zero_hash(0),
		    "0x0000000000000000000000000000000000000000000000000000000000000000");
	assert_root(ssz_zero_hash(1),
		    "0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b");
	assert_root(ssz_zero_hash(2),
		    "0xdb56114e00fdd4c1f85c892bf35ac9a89289aaecb1ebd0a96cde606a748b5d71");
	assert_root(ssz_zero_hash(3),
		    "0xc78009fdf07fc56a11f122370658a353aaa542ed63e44c4bc15ff4cd105ab33c");
}

/* get_deposit_root() of an empty mainnet deposit contract. */
static void test_empty_list_of_2_pow_32_is_empty_deposit_root(void **state)
{
	(void)state;
	uint8_t root[32];
	assert_int_equal(ssz_merkleize(NULL, 0, (size_t)1 << 32, root), 0);
	ssz_mix_in_length(root, 0);
	assert_root(root,
		    "0xd70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e");
}

static void test_hash_pair_is_sha256_of_concatenation(void **state)
{
	(void)state;
	uint8_t a[32], b[32], buf[64], want[32], got[32];
	for (int i = 0; i < 32; i++) {
		a[i] = (uint8_t)i;
		b[i] = (uint8_t)(0xff - i);
	}
	memcpy(buf, a, 32);
	memcpy(buf + 32, b, 32);
	SHA256(buf, 64, want);
	ssz_hash_pair(a, b, got);
	assert_memory_equal(got, want, 32);
}

static void test_merkleize_equals_naive_padding_for_all_small_shapes(void **state)
{
	(void)state;
	uint8_t chunks[40 * 32];
	for (size_t i = 0; i < sizeof(chunks); i++)
		chunks[i] = (uint8_t)(i * 7 + 3);
	for (size_t count = 0; count <= 17; count++) {
		for (size_t limit = count ? count : 1; limit <= 40; limit++) {
			uint8_t got[32], want[32];
			assert_int_equal(ssz_merkleize(chunks, count, limit, got),
					 0);
			naive_merkleize(chunks, count, limit, want);
			assert_memory_equal(got, want, 32);
		}
	}
}

static void test_merkleize_limit_zero_means_count(void **state)
{
	(void)state;
	uint8_t chunks[3 * 32], got[32], l[32], r[32], want[32];
	for (size_t i = 0; i < sizeof(chunks); i++)
		chunks[i] = (uint8_t)i;
	assert_int_equal(ssz_merkleize(chunks, 3, 0, got), 0);
	ssz_hash_pair(chunks, chunks + 32, l);
	ssz_hash_pair(chunks + 64, ssz_zero_hash(0), r);
	ssz_hash_pair(l, r, want);
	assert_memory_equal(got, want, 32);
	/* One chunk is its own root. */
	assert_int_equal(ssz_merkleize(chunks, 1, 0, got), 0);
	assert_memory_equal(got, chunks, 32);
}

static void test_merkleize_refuses_more_chunks_than_limit(void **state)
{
	(void)state;
	uint8_t chunks[3 * 32] = {0}, out[32];
	assert_int_equal(ssz_merkleize(chunks, 3, 2, out), -ERR_INVALID);
	struct ssz_hasher h;
	ssz_hasher_init(&h, 1);
	assert_int_equal(ssz_hasher_push(&h, chunks), 0);
	assert_int_equal(ssz_hasher_push(&h, chunks), -ERR_INVALID);
}

/* A 2^40-chunk limit costs 40 hashes, checked against SHA256 folded by hand. */
static void test_merkleize_limit_2_pow_40_without_allocation(void **state)
{
	(void)state;
	uint8_t chunk[32], got[32], node[32], zero[32] = {0}, buf[64];
	memset(chunk, 0xab, 32);
	assert_int_equal(ssz_merkleize(chunk, 1, (size_t)1 << 40, got), 0);
	memcpy(node, chunk, 32);
	for (int d = 0; d < 40; d++) {
		memcpy(buf, node, 32);
		memcpy(buf + 32, zero, 32);
		SHA256(buf, 64, node);
		memcpy(buf, zero, 32);
		memcpy(buf + 32, zero, 32);
		SHA256(buf, 64, zero);
	}
	assert_memory_equal(got, node, 32);
}

static void test_uint64_root_is_little_endian_padded(void **state)
{
	(void)state;
	uint8_t r[32];
	ssz_uint64_root(0x0102030405060708ull, r);
	assert_root(r,
		    "0x0807060504030201000000000000000000000000000000000000000000000000");
}

static void test_mix_in_length_hashes_root_with_le_length(void **state)
{
	(void)state;
	uint8_t root[32] = {0}, len[32] = {0}, want[32], buf[64];
	root[0] = 1;
	len[0] = 5;
	memcpy(buf, root, 32);
	memcpy(buf + 32, len, 32);
	SHA256(buf, 64, want);
	ssz_mix_in_length(root, 5);
	assert_memory_equal(root, want, 32);
}

/* Bytes48 (a pubkey) packs into two chunks, the second zero padded. */
static void test_bytes48_root_packs_two_chunks(void **state)
{
	(void)state;
	uint8_t pk[48], c[64] = {0}, want[32], got[32];
	for (int i = 0; i < 48; i++)
		pk[i] = (uint8_t)(i + 1);
	memcpy(c, pk, 48);
	SHA256(c, 64, want);
	assert_int_equal(ssz_bytes_root(pk, 48, 0, got), 0);
	assert_memory_equal(got, want, 32);
	/* Bytes96 pads three chunks to four. */
	uint8_t sig[96], pad[4 * 32] = {0};
	memset(sig, 0x5a, 96);
	memcpy(pad, sig, 96);
	naive_merkleize(pad, 4, 4, want);
	assert_int_equal(ssz_bytes_root(sig, 96, 0, got), 0);
	assert_memory_equal(got, want, 32);
}

static void test_empty_bitlist_root_is_zero_subtree_mixed_with_zero(void **state)
{
	(void)state;
	uint8_t enc[1] = {0x01}, got[32], want[32];
	struct err e;
	/* Bitlist[2048]: 8 chunks, depth 3. */
	assert_int_equal(ssz_bitlist_root(enc, 1, 2048, got, &e, "bits"), 0);
	memcpy(want, ssz_zero_hash(3), 32);
	ssz_mix_in_length(want, 0);
	assert_memory_equal(got, want, 32);
}

/* 0xff01: eight set bits, the delimiter alone in the second byte. */
static void test_bitlist_delimiter_is_removed_before_hashing(void **state)
{
	(void)state;
	uint8_t enc[2] = {0xff, 0x01}, got[32], chunks[8 * 32] = {0}, want[32];
	struct err e;
	assert_int_equal(ssz_bitlist_root(enc, 2, 2048, got, &e, "bits"), 0);
	chunks[0] = 0xff;
	naive_merkleize(chunks, 8, 8, want);
	ssz_mix_in_length(want, 8);
	assert_memory_equal(got, want, 32);
	/* 0x0d = bits 1,0,1 + delimiter at bit 3: data 0x05, length 3. */
	uint8_t enc2[1] = {0x0d};
	memset(chunks, 0, sizeof(chunks));
	chunks[0] = 0x05;
	assert_int_equal(ssz_bitlist_root(enc2, 1, 2048, got, &e, "bits"), 0);
	naive_merkleize(chunks, 8, 8, want);
	ssz_mix_in_length(want, 3);
	assert_memory_equal(got, want, 32);
}

static void test_bitlist_without_delimiter_is_invalid(void **state)
{
	(void)state;
	uint8_t enc[2] = {0xff, 0x00}, out[32];
	struct err e;
	assert_int_equal(ssz_bitlist_root(enc, 2, 2048, out, &e, "x.bits"),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "x.bits"));
	assert_int_equal(ssz_bitlist_root(enc, 0, 2048, out, &e, "x.bits"),
			 -ERR_INVALID);
}

static void test_bitlist_over_limit_is_invalid(void **state)
{
	(void)state;
	uint8_t enc[2] = {0xff, 0x03}, out[32]; /* 9 bits */
	struct err e;
	assert_int_equal(ssz_bitlist_root(enc, 2, 8, out, &e, "bits"),
			 -ERR_INVALID);
	assert_int_equal(ssz_bitlist_root(enc, 2, 9, out, &e, "bits"), 0);
}

static void test_bitvector_requires_exact_length_and_zero_high_bits(void **state)
{
	(void)state;
	uint8_t b[2] = {0x24, 0x00}, out[32], want[32] = {0};
	struct err e;
	assert_int_equal(ssz_bitvector_root(b, 1, 8, out, &e, "bv"), 0);
	want[0] = 0x24;
	assert_memory_equal(out, want, 32);
	assert_int_equal(ssz_bitvector_root(b, 2, 8, out, &e, "bv"),
			 -ERR_INVALID);
	uint8_t hi[1] = {0x10};
	assert_int_equal(ssz_bitvector_root(hi, 1, 4, out, &e, "bv"),
			 -ERR_INVALID);
	uint8_t ok[1] = {0x08};
	assert_int_equal(ssz_bitvector_root(ok, 1, 4, out, &e, "bv"), 0);
}

/* Bitvector[512] (mainnet sync committee): 64 bytes, two chunks. */
static void test_bitvector_512_is_two_chunk_tree(void **state)
{
	(void)state;
	uint8_t b[64], want[32], got[32];
	struct err e;
	for (int i = 0; i < 64; i++)
		b[i] = (uint8_t)i;
	SHA256(b, 64, want);
	assert_int_equal(ssz_bitvector_root(b, 64, 512, got, &e, "bv"), 0);
	assert_memory_equal(got, want, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_hashes_match_deposit_contract_constants),
		cmocka_unit_test(test_empty_list_of_2_pow_32_is_empty_deposit_root),
		cmocka_unit_test(test_hash_pair_is_sha256_of_concatenation),
		cmocka_unit_test(test_merkleize_equals_naive_padding_for_all_small_shapes),
		cmocka_unit_test(test_merkleize_limit_zero_means_count),
		cmocka_unit_test(test_merkleize_refuses_more_chunks_than_limit),
		cmocka_unit_test(test_merkleize_limit_2_pow_40_without_allocation),
		cmocka_unit_test(test_uint64_root_is_little_endian_padded),
		cmocka_unit_test(test_mix_in_length_hashes_root_with_le_length),
		cmocka_unit_test(test_bytes48_root_packs_two_chunks),
		cmocka_unit_test(test_empty_bitlist_root_is_zero_subtree_mixed_with_zero),
		cmocka_unit_test(test_bitlist_delimiter_is_removed_before_hashing),
		cmocka_unit_test(test_bitlist_without_delimiter_is_invalid),
		cmocka_unit_test(test_bitlist_over_limit_is_invalid),
		cmocka_unit_test(test_bitvector_requires_exact_length_and_zero_high_bits),
		cmocka_unit_test(test_bitvector_512_is_two_chunk_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
