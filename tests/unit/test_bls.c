/*
 * test_bls.c: the BLS wrapper (src/crypto/bls.c) against the ethereum
 * bls12-381-tests v0.1.1 vectors in $NS_REFERENCE_DIR/bls/ (sign, verify,
 * deserialization_G1/G2, fast_aggregate_verify), plus key-handling rules
 * the vectors do not cover (range checks, export, generate).
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"

/* Hex from the vectors: "0x" optional (deserialization files omit it). */
static size_t hex_any(const char *s, uint8_t *out, size_t cap)
{
	if (s[0] == '0' && s[1] == 'x')
		s += 2;
	size_t n = strlen(s);
	assert_true(n % 2 == 0 && n / 2 <= cap);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n / 2;
}

typedef void (*case_fn)(const char *name, json_t *input, json_t *output);

/* Runs fn on every *.json of one handler; returns how many ran. */
static int for_each_case(const char *handler, case_fn fn)
{
	const char *ref = getenv("NS_REFERENCE_DIR");
	assert_non_null(ref);
	char dir[1024];
	snprintf(dir, sizeof(dir), "%s/bls/%s", ref, handler);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		json_error_t je;
		json_t *root = json_load_file(path, 0, &je);
		assert_non_null(root);
		fn(de->d_name, json_object_get(root, "input"),
		   json_object_get(root, "output"));
		json_decref(root);
		n++;
	}
	closedir(d);
	return n;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	assert_non_null(s);
	return s;
}

static void sign_case(const char *name, json_t *in, json_t *out)
{
	uint8_t msg[256], want[BLS_SIG_LEN], sig[BLS_SIG_LEN];
	size_t mlen = hex_any(str(in, "message"), msg, sizeof(msg));
	struct bls_key *k = NULL;
	struct err e = {0};
	int rc = bls_key_from_hex(str(in, "privkey"), &k, &e, "privkey");
	if (json_is_null(out)) {
		if (rc == 0)
			fail_msg("%s: invalid key accepted", name);
		assert_int_equal(e.code, ERR_INVALID);
		return;
	}
	if (rc != 0)
		fail_msg("%s: %s", name, e.msg);
	assert_int_equal(hex_any(json_string_value(out), want, sizeof(want)),
			 BLS_SIG_LEN);
	bls_sign(k, msg, mlen, sig);
	if (memcmp(sig, want, BLS_SIG_LEN) != 0)
		fail_msg("%s: signature differs", name);
	/* Hashed apart, then through the cache: missed, hit, and without
	 * a cache: the same bytes every time. */
	struct bls_msg_point h;
	bls_hash_msg(msg, mlen, &h);
	bls_sign_point(k, &h, sig);
	if (memcmp(sig, want, BLS_SIG_LEN) != 0)
		fail_msg("%s: signature of the hashed point differs", name);
	if (mlen == 32) {
		struct bls_h2c_cache *c = NULL;
		assert_int_equal(bls_h2c_cache_new(8, &c, &e), 0);
		for (int i = 0; i < 3; i++) {
			memset(sig, 0, sizeof(sig));
			bls_h2c_cache_sign(i < 2 ? c : NULL, k, msg, sig);
			if (memcmp(sig, want, BLS_SIG_LEN) != 0)
				fail_msg("%s: cached signature %d differs", name, i);
		}
		struct bls_h2c_stats st;
		bls_h2c_cache_stats(c, &st);
		assert_int_equal(st.misses, 1);
		assert_int_equal(st.hits, 1);
		bls_h2c_cache_free(c);
	}
	/* What we sign must verify under our own pubkey. */
	assert_int_equal(bls_verify(k->pubkey, msg, mlen, sig), 0);
	bls_key_free(k);
}

static void test_sign_vectors(void **state)
{
	assert_int_equal(for_each_case("sign", sign_case), 10);
}

static void verify_case(const char *name, json_t *in, json_t *out)
{
	uint8_t pk[64], msg[256], sig[128];
	size_t pl = hex_any(str(in, "pubkey"), pk, sizeof(pk));
	size_t ml = hex_any(str(in, "message"), msg, sizeof(msg));
	size_t sl = hex_any(str(in, "signature"), sig, sizeof(sig));
	bool got = pl == BLS_PUBKEY_LEN && sl == BLS_SIG_LEN &&
		   bls_verify(pk, msg, ml, sig) == 0;
	if (got != json_is_true(out))
		fail_msg("%s: expected %d", name, json_is_true(out));
}

static void test_verify_vectors(void **state)
{
	assert_int_equal(for_each_case("verify", verify_case), 29);
}

static void g1_case(const char *name, json_t *in, json_t *out)
{
	uint8_t pk[64];
	size_t l = hex_any(str(in, "pubkey"), pk, sizeof(pk));
	bool got = l == BLS_PUBKEY_LEN && bls_pubkey_decode_check(pk) == 0;
	if (got != json_is_true(out))
		fail_msg("%s: expected %d", name, json_is_true(out));
}

static void test_deserialization_g1_vectors(void **state)
{
	assert_int_equal(for_each_case("deserialization_G1", g1_case), 13);
}

static void g2_case(const char *name, json_t *in, json_t *out)
{
	uint8_t sig[128];
	size_t l = hex_any(str(in, "signature"), sig, sizeof(sig));
	bool got = l == BLS_SIG_LEN && bls_signature_decode_check(sig) == 0;
	if (got != json_is_true(out))
		fail_msg("%s: expected %d", name, json_is_true(out));
}

static void test_deserialization_g2_vectors(void **state)
{
	assert_int_equal(for_each_case("deserialization_G2", g2_case), 15);
}

static void fav_case(const char *name, json_t *in, json_t *out)
{
	json_t *pks = json_object_get(in, "pubkeys");
	size_t n = json_array_size(pks);
	uint8_t(*pk)[BLS_PUBKEY_LEN] = calloc(n ? n : 1, BLS_PUBKEY_LEN);
	uint8_t msg[256], sig[128];
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		uint8_t tmp[64];
		size_t l = hex_any(json_string_value(json_array_get(pks, i)),
				   tmp, sizeof(tmp));
		ok = ok && l == BLS_PUBKEY_LEN;
		if (l == BLS_PUBKEY_LEN)
			memcpy(pk[i], tmp, BLS_PUBKEY_LEN);
	}
	size_t ml = hex_any(str(in, "message"), msg, sizeof(msg));
	size_t sl = hex_any(str(in, "signature"), sig, sizeof(sig));
	bool got = ok && sl == BLS_SIG_LEN &&
		   bls_fast_aggregate_verify((const uint8_t(*)[BLS_PUBKEY_LEN])pk,
					     n, msg, ml, sig) == 0;
	free(pk);
	if (got != json_is_true(out))
		fail_msg("%s: expected %d", name, json_is_true(out));
}

static void test_fast_aggregate_verify_vectors(void **state)
{
	assert_int_equal(for_each_case("fast_aggregate_verify", fav_case), 12);
}

/* The group order r, big-endian (BLS12-381 scalar field modulus). */
static const char R_HEX[] =
	"0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001";

static void test_key_at_or_above_order_refused(void **state)
{
	struct bls_key *k = NULL;
	struct err e = {0};
	assert_true(bls_key_from_hex(R_HEX, &k, &e, "sk") < 0);
	assert_null(k);
	assert_non_null(strstr(e.msg, "sk:"));
	/* r - 1 is the largest valid key. */
	char rm1[sizeof(R_HEX)];
	memcpy(rm1, R_HEX, sizeof(R_HEX));
	rm1[sizeof(R_HEX) - 2] = '0';
	assert_int_equal(bls_key_from_hex(rm1, &k, &e, "sk"), 0);
	bls_key_free(k);
	assert_true(bls_key_from_hex("0x1234", &k, &e, "sk") < 0);
	assert_true(bls_key_from_hex(
			    "0x00000000000000000000000000000000000000000000000000000000000000zz",
			    &k, &e, "sk") < 0);
}

static void test_hex_prefix_optional_and_export_round_trips(void **state)
{
	static const char sk_hex[] =
		"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
	struct bls_key *a = NULL, *b = NULL;
	char pfx[80];
	snprintf(pfx, sizeof(pfx), "0x%s", sk_hex);
	assert_int_equal(bls_key_from_hex(sk_hex, &a, NULL, "sk"), 0);
	assert_int_equal(bls_key_from_hex(pfx, &b, NULL, "sk"), 0);
	assert_memory_equal(a->pubkey, b->pubkey, BLS_PUBKEY_LEN);
	/* The EIP-2335 vector's pubkey for this secret. */
	uint8_t want[BLS_PUBKEY_LEN];
	hex_any("9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27"
		"f4ae4040902382ae2910c15e2b420d07",
		want, sizeof(want));
	assert_memory_equal(a->pubkey, want, BLS_PUBKEY_LEN);
	struct secret *ex = NULL;
	assert_int_equal(bls_key_export(a, &ex, NULL), 0);
	uint8_t raw[32];
	hex_any(sk_hex, raw, sizeof(raw));
	assert_int_equal(ex->len, 32);
	assert_memory_equal(ex->bytes, raw, 32);
	secret_free(ex);
	bls_key_free(a);
	bls_key_free(b);
}

static void test_generated_keys_differ_and_sign(void **state)
{
	struct bls_key *a = NULL, *b = NULL;
	assert_int_equal(bls_key_generate(&a, NULL), 0);
	assert_int_equal(bls_key_generate(&b, NULL), 0);
	assert_memory_not_equal(a->pubkey, b->pubkey, BLS_PUBKEY_LEN);
	assert_int_equal(bls_pubkey_check(a->pubkey), 0);
	uint8_t msg[32] = {1, 2, 3}, sig[BLS_SIG_LEN];
	bls_sign(a, msg, sizeof(msg), sig);
	assert_int_equal(bls_verify(a->pubkey, msg, sizeof(msg), sig), 0);
	assert_true(bls_verify(b->pubkey, msg, sizeof(msg), sig) < 0);
	msg[0] ^= 1;
	assert_true(bls_verify(a->pubkey, msg, sizeof(msg), sig) < 0);
	bls_key_free(a);
	bls_key_free(b);
}

/* ---- the hash-to-G2 cache ------------------------------------------------ */

static void root_of(int i, uint8_t root[32])
{
	/* distinct roots, all in one set of a 4-entry cache */
	memset(root, 0, 32);
	root[8] = (uint8_t)i;
	root[31] = 0xa5;
}

static bool cached(struct bls_h2c_cache *c, int i)
{
	uint8_t root[32];
	struct bls_msg_point got, want;
	root_of(i, root);
	bool hit = bls_h2c_cache_get(c, root, &got);
	bls_hash_msg(root, 32, &want);
	assert_memory_equal(&got, &want, sizeof(want));
	return hit;
}

static void test_h2c_cache_evicts_least_recently_used(void **state)
{
	(void)state;
	struct bls_h2c_cache *c = NULL;
	struct err e = {0};
	assert_int_equal(bls_h2c_cache_new(0, &c, &e), -ERR_INVALID);
	assert_int_equal(bls_h2c_cache_new(4, &c, &e), 0);
	for (int i = 0; i < 4; i++)
		assert_false(cached(c, i));   /* fills the one set of 4 */
	for (int i = 0; i < 4; i++)
		assert_true(cached(c, i));    /* all held */
	assert_true(cached(c, 0));            /* 0 is the most recent now */
	assert_true(cached(c, 2));
	assert_true(cached(c, 3));
	assert_false(cached(c, 4));           /* evicts 1, the least recent */
	assert_true(cached(c, 0));
	assert_true(cached(c, 4));
	assert_false(cached(c, 1));           /* gone; evicts 2 */
	assert_false(cached(c, 2));
	struct bls_h2c_stats st;
	bls_h2c_cache_stats(c, &st);
	assert_int_equal(st.misses, 7);
	assert_int_equal(st.hits, 9);
	assert_int_equal(st.computed, 7);
	assert_int_equal(st.waits, 0);
	bls_h2c_cache_free(c);
	/* A larger cache keeps as many roots as it has entries. */
	assert_int_equal(bls_h2c_cache_new(64, &c, &e), 0);
	uint8_t root[32];
	struct bls_msg_point p;
	int held = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 64; i++) {
			memset(root, 0, sizeof(root));
			RAND_bytes(root, 8);
			root[9] = (uint8_t)i;
			held += bls_h2c_cache_get(c, root, &p);
		}
	assert_int_equal(held, 0); /* fresh random roots never hit */
	bls_h2c_cache_stats(c, &st);
	assert_int_equal(st.misses, 128);
	bls_h2c_cache_free(c);
}

#define RACERS 8

struct racer {
	struct bls_h2c_cache *c;
	pthread_barrier_t *bar;
	const struct bls_key *k;
	uint8_t root[32];
	uint8_t sig[BLS_SIG_LEN];
};

static void *race(void *p)
{
	struct racer *r = p;
	pthread_barrier_wait(r->bar);
	bls_h2c_cache_sign(r->c, r->k, r->root, r->sig);
	return NULL;
}

/* Threads missing the same new root at once: one hashes, the others wait
 * for it (or, descheduled, hash themselves), all sign the same bytes. */
static void test_h2c_cache_concurrent_misses(void **state)
{
	(void)state;
	struct bls_key *k = NULL;
	struct err e = {0};
	assert_int_equal(bls_key_generate(&k, &e), 0);
	uint64_t computed = 0, rounds = 20;
	for (uint64_t round = 0; round < rounds; round++) {
		struct bls_h2c_cache *c = NULL;
		assert_int_equal(bls_h2c_cache_new(64, &c, &e), 0);
		pthread_barrier_t bar;
		pthread_barrier_init(&bar, NULL, RACERS);
		struct racer rs[RACERS];
		pthread_t t[RACERS];
		uint8_t root[32];
		RAND_bytes(root, sizeof(root));
		for (int i = 0; i < RACERS; i++) {
			rs[i] = (struct racer){c, &bar, k, {0}, {0}};
			memcpy(rs[i].root, root, 32);
			assert_int_equal(pthread_create(&t[i], NULL, race, &rs[i]), 0);
		}
		for (int i = 0; i < RACERS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&bar);
		uint8_t want[BLS_SIG_LEN];
		bls_sign(k, root, 32, want);
		for (int i = 0; i < RACERS; i++)
			assert_memory_equal(rs[i].sig, want, BLS_SIG_LEN);
		struct bls_h2c_stats st;
		bls_h2c_cache_stats(c, &st);
		assert_int_equal(st.hits + st.misses, RACERS);
		assert_true(st.computed >= 1 && st.computed <= st.misses);
		/* and the root is held afterwards */
		struct bls_msg_point p;
		assert_true(bls_h2c_cache_get(c, root, &p));
		computed += st.computed;
		bls_h2c_cache_free(c);
	}
	/* "at most a few times": about once per round. Without the wait for
	 * the first hash, threads that reach the root while it is being
	 * hashed hash it again (about twice per round on two cores). */
	print_message("concurrent misses: %llu hashes for %llu x %d threads\n",
		      (unsigned long long)computed, (unsigned long long)rounds,
		      RACERS);
	assert_true(computed <= rounds + rounds / 2);
	bls_key_free(k);
}

static void test_infinity_pubkey_refused_by_key_validate(void **state)
{
	uint8_t inf[BLS_PUBKEY_LEN] = {0xc0};
	assert_int_equal(bls_pubkey_decode_check(inf), 0);
	assert_true(bls_pubkey_check(inf) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_vectors),
		cmocka_unit_test(test_verify_vectors),
		cmocka_unit_test(test_deserialization_g1_vectors),
		cmocka_unit_test(test_deserialization_g2_vectors),
		cmocka_unit_test(test_fast_aggregate_verify_vectors),
		cmocka_unit_test(test_key_at_or_above_order_refused),
		cmocka_unit_test(test_hex_prefix_optional_and_export_round_trips),
		cmocka_unit_test(test_generated_keys_differ_and_sign),
		cmocka_unit_test(test_infinity_pubkey_refused_by_key_validate),
		cmocka_unit_test(test_h2c_cache_evicts_least_recently_used),
		cmocka_unit_test(test_h2c_cache_concurrent_misses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
