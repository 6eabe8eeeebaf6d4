/*
 * test_eip2333.c: the EIP-2333 key tree and EIP-2334 paths
 * (src/crypto/eip2333.c) against tests/vectors/reference/eip2333-vectors.json
 * (ethereum/ERCs erc-2333.md Test Cases 0-3 and the intermediate-values
 * vector, CC0), from BIP-39 mnemonic to master key, plus path parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "crypto/crypto.h"

static json_t *vectors;

static int load(void **state)
{
	const char *dir = getenv("NS_REFERENCE_DIR");
	char path[1024];
	json_error_t je;
	snprintf(path, sizeof(path), "%s/eip2333-vectors.json",
		 dir ? dir : "tests/vectors/reference");
	vectors = json_load_file(path, 0, &je);
	return vectors ? 0 : -1;
}

static int unload(void **state)
{
	json_decref(vectors);
	return 0;
}

static const char *field(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	assert_non_null(s);
	return s;
}

static struct secret *hex_secret(const char *hex)
{
	uint8_t *b = NULL;
	size_t n = 0;
	assert_int_equal(hex_decode_alloc(hex, 4096, &b, &n, NULL, "x"), 0);
	struct secret *s = secret_from(b, n);
	free(b);
	assert_non_null(s);
	return s;
}

static void assert_secret_hex(const struct secret *s, const char *want)
{
	char hex[2 * 64 + 3];
	assert_true(s->len <= 64);
	hex_encode(s->bytes, s->len, hex);
	assert_string_equal(hex, want);
}

static void test_spec_master_and_child_keys(void **state)
{
	json_t *list = json_object_get(vectors, "eip2333"), *v;
	size_t i;
	assert_int_equal(json_array_size(list), 5);
	json_array_foreach(list, i, v)
	{
		struct secret *seed = hex_secret(field(v, "seed"));
		struct secret *master = NULL, *child = NULL;
		json_t *ji = json_object_get(v, "child_index");
		assert_true(json_is_integer(ji));
		json_int_t idx = json_integer_value(ji);
		assert_true(idx >= 0 && idx <= (json_int_t)UINT32_MAX);
		struct err e = {0};
		assert_int_equal(
			eip2333_master_sk(seed->bytes, seed->len, &master, &e),
			0);
		assert_secret_hex(master, field(v, "master_SK_hex"));
		assert_int_equal(eip2333_child_sk(master, (uint32_t)idx, &child,
						  &e),
				 0);
		assert_secret_hex(child, field(v, "child_SK_hex"));
		if (json_object_get(v, "compressed_lamport_PK")) {
			struct secret *lpk = NULL;
			assert_int_equal(eip2333_lamport_pk(master,
							    (uint32_t)idx,
							    &lpk, &e),
					 0);
			assert_secret_hex(lpk,
					  field(v, "compressed_lamport_PK"));
			secret_free(lpk);
		}
		secret_free(child);
		secret_free(master);
		secret_free(seed);
	}
}

static void test_seed_from_bip39_mnemonic(void **state)
{
	/* Test Case 0: its seed is BIP-39(mnemonic, "TREZOR"). */
	json_t *v = json_array_get(json_object_get(vectors, "eip2333"), 0);
	const char *words = field(v, "bip39_mnemonic");
	struct secret *canon = NULL, *pass = NULL, *seed = NULL, *master = NULL;
	struct err e = {0};
	assert_int_equal(bip39_mnemonic_check((const uint8_t *)words,
					      strlen(words), 0, &canon, &e),
			 0);
	pass = secret_from(field(v, "bip39_passphrase"), 6);
	assert_int_equal(bip39_mnemonic_to_seed(canon, pass, &seed, &e), 0);
	assert_secret_hex(seed, field(v, "seed"));
	assert_int_equal(eip2333_master_sk(seed->bytes, seed->len, &master, &e),
			 0);
	assert_secret_hex(master, field(v, "master_SK_hex"));
	secret_free(master);
	secret_free(seed);
	secret_free(pass);
	secret_free(canon);
}

static void test_eip2334_paths_from_seed(void **state)
{
	json_t *ex = json_object_get(json_object_get(vectors, "eip2334"),
				     "derived_examples_NOT_FROM_SPEC");
	struct secret *seed = hex_secret(field(ex, "seed"));
	json_t *keys = json_object_get(ex, "keys"), *want;
	const char *path;
	assert_int_equal(json_object_size(keys), 2);
	json_object_foreach(keys, path, want)
	{
		struct bls_key *k = NULL;
		struct secret *sk = NULL;
		struct err e = {0};
		assert_int_equal(eip2333_derive_path(seed, path, &k, &e), 0);
		assert_int_equal(bls_key_export(k, &sk, &e), 0);
		assert_secret_hex(sk, json_string_value(want));
		secret_free(sk);
		bls_key_free(k);
	}
	/* The path builders give the EIP-2334 spellings. */
	char p[EIP2334_PATH_MAX];
	eip2334_signing_path(7, p);
	assert_string_equal(p, "m/12381/3600/7/0/0");
	eip2334_withdrawal_path(4294967295u, p);
	assert_string_equal(p, "m/12381/3600/4294967295/0");
	secret_free(seed);
}

static void test_bad_paths_and_seeds_refused(void **state)
{
	static const char *const bad[] = {
		"",	     "x/1",		 "m/",		"m//1",
		"m/1/",	     "m/01",		 "m/-1",	"m/+1",
		"m/1'",	     "m/4294967296",	 "m/1/2a",	"M/1",
		"m/99999999999999999999999", "m/12381 /3600",
		"m/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1",
	};
	uint32_t nodes[EIP2334_MAX_DEPTH];
	size_t depth;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e = {0};
		assert_true(eip2334_path_parse(bad[i], nodes, &depth, &e) < 0);
		assert_non_null(strstr(e.msg, "path"));
	}
	struct err e = {0};
	assert_int_equal(eip2334_path_parse("m/12381/3600/4294967295/0/0", nodes,
					    &depth, &e),
			 0);
	assert_int_equal(depth, 5);
	assert_int_equal(nodes[2], 4294967295u);
	assert_int_equal(eip2334_path_parse("m", nodes, &depth, &e), 0);
	assert_int_equal(depth, 0);
	uint8_t short_seed[31] = {1};
	struct secret *sk = NULL;
	assert_true(eip2333_master_sk(short_seed, sizeof(short_seed), &sk, &e) <
		    0);
	assert_null(sk);
}

static void test_intermediates_released(void **state)
{
	uint64_t before = secret_stats_live();
	uint8_t seed[32] = {42};
	struct secret *m = NULL, *c = NULL;
	struct err e = {0};
	assert_int_equal(eip2333_master_sk(seed, sizeof(seed), &m, &e), 0);
	assert_int_equal(eip2333_child_sk(m, 12381, &c, &e), 0);
	assert_int_equal(secret_stats_live(), before + 2);
	secret_free(c);
	secret_free(m);
	assert_int_equal(secret_stats_live(), before);
}

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_master_and_child_keys),
		cmocka_unit_test(test_seed_from_bip39_mnemonic),
		cmocka_unit_test(test_eip2334_paths_from_seed),
		cmocka_unit_test(test_bad_paths_and_seeds_refused),
		cmocka_unit_test(test_intermediates_released),
	};
	return cmocka_run_group_tests(tests, load, unload);
}
