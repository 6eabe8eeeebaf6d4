/*
 * test_cbor.c: our CBOR decoder (src/nitro/cbor_decode.c) and encoder.
 *
 * RFC 8949's Appendix A examples decode to the RFC's diagnostic notation
 * and Appendix F.1's malformed items are refused; every truncation of a
 * real attestation document, huge declared counts, nesting past the limit
 * and trailing bytes are refused with the right error; and on all of these
 * we agree with libcbor behind the guard the product used before
 * (tests/oracle), as fuzz_cbor checks on random inputs.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cbor_oracle.h"

#define MAX 65536

/* ---- the oracle agrees ------------------------------------------------------ */

static void assert_oracle_agrees(const uint8_t *p, size_t len)
{
	struct ncbor *ours = NULL;
	cbor_item_t *theirs = NULL;
	int a = ncbor_decode(p, len, MAX, &ours, NULL, "t");
	int b = oracle_cbor_load(p, len, MAX, &theirs);
	assert_int_equal(a == 0, b == 0);
	if (a == 0)
		assert_true(oracle_cbor_same(ours, theirs));
	ncbor_free(ours);
	if (theirs)
		cbor_decref(&theirs);
}

/* ---- diagnostic notation (RFC 8949 section 8), enough for Appendix A -------- */

struct diag {
	char s[512];
	size_t n;
};

__attribute__((format(printf, 2, 3)))
static void put(struct diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(d->s + d->n, sizeof(d->s) - d->n, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof(d->s) - d->n);
	d->n += (size_t)k;
}

/* Text as the RFC prints it: ASCII as is, the rest as \uXXXX (UTF-16). */
static void put_text(struct diag *d, const uint8_t *p, size_t len)
{
	put(d, "\"");
	for (size_t i = 0; i < len;) {
		uint32_t cp = p[i];
		size_t extra = cp < 0x80 ? 0 : cp < 0xe0 ? 1 : cp < 0xf0 ? 2 : 3;
		if (extra)
			cp &= 0x3f >> extra;
		assert_true(i + extra < len);
		for (size_t k = 1; k <= extra; k++)
			cp = cp << 6 | (p[i + k] & 0x3f);
		i += extra + 1;
		if (cp == '"' || cp == '\\')
			put(d, "\\%c", (int)cp);
		else if (cp < 0x80)
			put(d, "%c", (int)cp);
		else if (cp < 0x10000)
			put(d, "\\u%04x", (unsigned)cp);
		else
			put(d, "\\u%04x\\u%04x", (unsigned)(0xd800 + ((cp - 0x10000) >> 10)),
			    (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
	}
	put(d, "\"");
}

static void print(struct diag *d, const struct ncbor *it)
{
	static const char *const simple[] = {"false", "true", "null", "undefined"};
	switch (it->type) {
	case NCBOR_UINT:
		put(d, "%llu", (unsigned long long)it->v);
		break;
	case NCBOR_NEGINT:
		if (it->v == UINT64_MAX)
			put(d, "-18446744073709551616");
		else
			put(d, "-%llu", (unsigned long long)it->v + 1);
		break;
	case NCBOR_BYTES:
	case NCBOR_TEXT:
		if (it->indefinite) {
			put(d, "(_ ");
			for (size_t i = 0; i < it->n; i++) {
				put(d, i ? ", " : "");
				print(d, &it->items[i]);
			}
			put(d, ")");
		} else if (it->type == NCBOR_TEXT) {
			put_text(d, it->bytes, it->len);
		} else {
			put(d, "h'");
			for (size_t i = 0; i < it->len; i++)
				put(d, "%02x", it->bytes[i]);
			put(d, "'");
		}
		break;
	case NCBOR_ARRAY:
	case NCBOR_MAP:
		put(d, it->type == NCBOR_ARRAY ? "[" : "{");
		put(d, it->indefinite ? "_ " : "");
		for (size_t i = 0; i < it->n; i++) {
			put(d, i ? ", " : "");
			if (it->type == NCBOR_ARRAY) {
				print(d, &it->items[i]);
			} else {
				print(d, ncbor_map_key(it, i));
				put(d, ": ");
				print(d, ncbor_map_value(it, i));
			}
		}
		put(d, it->type == NCBOR_ARRAY ? "]" : "}");
		break;
	case NCBOR_TAG:
		put(d, "%llu(", (unsigned long long)it->v);
		print(d, &it->items[0]);
		put(d, ")");
		break;
	case NCBOR_SIMPLE:
		put(d, "%s", simple[it->v - 20]);
		break;
	case NCBOR_FLOAT:
		put(d, "%.17g", oracle_ncbor_float(it));
		break;
	}
}

static size_t from_hex(const char *h, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (*h) {
		if (*h == ' ') {
			h++;
			continue;
		}
		unsigned v;
		assert_int_equal(sscanf(h, "%2x", &v), 1);
		assert_true(n < max);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static FILE *open_vectors(const char *name)
{
	const char *src = getenv("NS_SOURCE_DIR");
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/vectors/rfc8949/%s",
		 src ? src : ".", name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	return f;
}

/* A float diagnostic ("1.1", "-0.0", "NaN", "-Infinity") against ours. */
static void assert_float_matches(const struct ncbor *it, const char *want)
{
	double v = oracle_ncbor_float(it);
	if (strcmp(want, "NaN") == 0) {
		assert_true(isnan(v));
		return;
	}
	double w = strcmp(want, "Infinity") == 0    ? INFINITY
		   : strcmp(want, "-Infinity") == 0 ? -INFINITY
						    : strtod(want, NULL);
	assert_true(v == w && signbit(v) == signbit(w));
}

static void test_rfc8949_appendix_a_examples_decode(void **state)
{
	(void)state;
	FILE *f = open_vectors("appendix_a.txt");
	char line[1024];
	int decoded = 0, refused = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		assert_non_null(tab);
		*tab = '\0';
		const char *hex = line, *want = tab + 1;
		bool refuse = hex[0] == '!';
		uint8_t buf[128];
		size_t len = from_hex(hex + refuse, buf, sizeof(buf));
		struct ncbor *it = NULL;
		struct err e = {0};
		int rc = ncbor_decode(buf, len, MAX, &it, &e, "example");
		assert_oracle_agrees(buf, len);
		if (refuse) {
			assert_int_equal(rc, -ERR_INVALID);
			refused++;
			continue;
		}
		if (rc != 0)
			fail_msg("%s (%s): %s", hex, want, e.msg);
		if (it->type == NCBOR_FLOAT) {
			assert_float_matches(it, want);
		} else {
			struct diag d = {0};
			print(&d, it);
			if (strcmp(d.s, want) != 0)
				fail_msg("%s: got %s, want %s", hex, d.s, want);
		}
		/* 1(1363896240.5): a float under a tag, checked by value */
		if (it->type == NCBOR_TAG && it->items[0].type == NCBOR_FLOAT)
			assert_true(oracle_ncbor_float(&it->items[0]) == 1363896240.5);
		ncbor_free(it);
		decoded++;
	}
	fclose(f);
	assert_int_equal(decoded, 79);
	assert_int_equal(refused, 2);
}

static void test_rfc8949_appendix_f_malformed_refused(void **state)
{
	(void)state;
	FILE *f = open_vectors("appendix_f.txt");
	char line[256];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		uint8_t buf[64];
		size_t len = from_hex(line, buf, sizeof(buf));
		struct ncbor *it = NULL;
		struct err e = {0};
		int rc = ncbor_decode(buf, len, MAX, &it, &e, "example");
		if (rc == 0)
			fail_msg("accepted malformed %s", line);
		assert_true(rc == -ERR_INVALID || rc == -ERR_TRUNCATED);
		assert_null(it);
		assert_oracle_agrees(buf, len);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 94);
}

static uint8_t *read_doc(size_t *len)
{
	const char *dir = getenv("NS_REFERENCE_DIR");
	char path[1024];
	char *buf = NULL;
	snprintf(path, sizeof(path),
		 "%s/nitro-attestation/doc2-evervault-ga-2023.cbor",
		 dir ? dir : "tests/vectors/reference");
	assert_int_equal(file_read_all(path, 1 << 20, &buf, len, NULL), 0);
	return (uint8_t *)buf;
}

static void test_real_document_and_every_truncation(void **state)
{
	(void)state;
	size_t len;
	uint8_t *doc = read_doc(&len);
	struct ncbor *it = NULL;
	assert_int_equal(ncbor_decode(doc, len, NITRO_DOC_MAX, &it, NULL, "doc"), 0);
	assert_true(ncbor_is(it, NCBOR_ARRAY) && it->n == 4);
	ncbor_free(it);
	assert_oracle_agrees(doc, len);
	for (size_t cut = 0; cut < len; cut++) {
		struct err e = {0};
		int rc = ncbor_decode(doc, cut, NITRO_DOC_MAX, &it, &e, "doc");
		if (rc != -ERR_TRUNCATED)
			fail_msg("cut at %zu: rc %d (%s)", cut, rc, e.msg);
		assert_null(it);
	}
	/* the payload inside, cut everywhere too, as attestation.c reads it */
	struct cose_sign1 c;
	assert_int_equal(cose_sign1_decode(doc, len, &c, NULL), 0);
	for (size_t cut = 0; cut < c.payload_len; cut++) {
		assert_int_equal(ncbor_decode(c.payload, cut, NITRO_DOC_MAX, &it,
					      NULL, "payload"), -ERR_TRUNCATED);
		if (cut % 97 == 0)
			assert_oracle_agrees(c.payload, cut);
	}
	cose_sign1_clear(&c);
	free(doc);
}

static void test_huge_counts_refused_before_allocation(void **state)
{
	(void)state;
	static const uint8_t cases[][10] = {
		{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
		{0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
		{0xbb, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
		{0x9a, 0x00, 0x00, 0x00, 0x06, 0x01, 0x02, 0x03, 0x04, 0x00},
		{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},
		{0x7a, 0x00, 0x01, 0x00, 0x00, 0x41, 0x41, 0x41, 0x41, 0x41},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ncbor *it = NULL;
		struct err e = {0};
		int rc = ncbor_decode(cases[i], sizeof(cases[i]), MAX, &it, &e,
				      "count");
		assert_true(rc == -ERR_TRUNCATED || rc == -ERR_INVALID);
		assert_null(it);
		assert_oracle_agrees(cases[i], sizeof(cases[i]));
	}
	/* a map of 4 pairs needs 8 items: 8 bytes after its head is too few */
	static const uint8_t map[] = {0xa4, 1, 2, 3, 4, 5, 6, 7, 8};
	struct err e = {0};
	struct ncbor *it = NULL;
	assert_int_equal(ncbor_decode(map, 8, MAX, &it, &e, "m"), -ERR_TRUNCATED);
	assert_non_null(strstr(e.msg, "count exceeds"));
	assert_int_equal(ncbor_decode(map, 9, MAX, &it, NULL, "m"), 0);
	assert_int_equal(it->n, 4);
	ncbor_free(it);
}

/* n nested one-element arrays around 0 (or tags, or indefinite arrays). */
static size_t nest(uint8_t *buf, int n, uint8_t open, bool close)
{
	size_t len = 0;
	for (int i = 0; i < n; i++)
		buf[len++] = open;
	buf[len++] = 0x00;
	for (int i = 0; close && i < n; i++)
		buf[len++] = 0xff;
	return len;
}

static void test_depth_limit(void **state)
{
	(void)state;
	static const struct {
		uint8_t open;
		bool close;
	} kinds[] = {{0x81, false}, {0xc1, false}, {0x9f, true}};
	uint8_t buf[64];
	for (size_t k = 0; k < 3; k++) {
		struct ncbor *it = NULL;
		struct err e = {0};
		size_t len = nest(buf, NCBOR_MAX_DEPTH, kinds[k].open, kinds[k].close);
		assert_int_equal(ncbor_decode(buf, len, MAX, &it, NULL, "d"), 0);
		ncbor_free(it);
		assert_oracle_agrees(buf, len);
		len = nest(buf, NCBOR_MAX_DEPTH + 1, kinds[k].open, kinds[k].close);
		assert_int_equal(ncbor_decode(buf, len, MAX, &it, &e, "d"),
				 -ERR_INVALID);
		assert_non_null(strstr(e.msg, "nesting deeper"));
		assert_oracle_agrees(buf, len);
	}
}

/* Nested indefinite arrays around many items: each byte is parsed once per
 * run, so this takes microseconds; a decoder that counts an indefinite
 * container's items by a separate pass over them takes 2^depth passes
 * (seconds here). The nodes are checked, not just the time. */
static void test_deep_indefinite_nesting_is_linear(void **state)
{
	(void)state;
	enum { ITEMS = 16000 };
	size_t depth = NCBOR_MAX_DEPTH, len = 2 * depth + ITEMS;
	uint8_t *buf = calloc(1, len);
	assert_non_null(buf);
	memset(buf, 0x9f, depth);
	memset(buf + depth + ITEMS, 0xff, depth);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct ncbor *it = NULL;
	assert_int_equal(ncbor_decode(buf, len, MAX, &it, NULL, "deep"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	const struct ncbor *n = it;
	for (size_t i = 1; i < depth; i++) {
		assert_int_equal(n->type, NCBOR_ARRAY);
		assert_int_equal(n->n, 1);
		n = &n->items[0];
	}
	assert_int_equal(n->n, ITEMS);
	assert_int_equal(n->items[ITEMS - 1].type, NCBOR_UINT);
	ncbor_free(it);
	free(buf);
	if (s > 1.0)
		fail_msg("decoding took %.2f s: not linear in the input", s);
}

static void test_trailing_bytes_refused(void **state)
{
	(void)state;
	static const uint8_t two[] = {0x01, 0x02};
	static const uint8_t arr[] = {0x82, 0x01, 0x02, 0x00};
	struct ncbor *it = NULL;
	struct err e = {0};
	assert_int_equal(ncbor_decode(two, 2, MAX, &it, &e, "t"), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "1 trailing bytes"));
	assert_int_equal(ncbor_decode(arr, 4, MAX, &it, NULL, "t"), -ERR_INVALID);
	assert_int_equal(ncbor_decode(arr, 3, MAX, &it, NULL, "t"), 0);
	ncbor_free(it);
	assert_int_equal(ncbor_decode(arr, 3, 2, &it, NULL, "t"), -ERR_TOO_LARGE);
	assert_int_equal(ncbor_decode(arr, 0, MAX, &it, NULL, "t"), -ERR_TRUNCATED);
	assert_oracle_agrees(two, 2);
	assert_oracle_agrees(arr, 4);
}

/* Text is UTF-8 (RFC 3629) in each chunk, as libcbor checks it. */
static void test_text_must_be_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		bool ok;
	} cases[] = {
		{"62c3bc", true},	   /* U+00FC */
		{"64f48fbfbf", true},	   /* U+10FFFF */
		{"63efbfbf", true},	   /* U+FFFF */
		{"62c080", false},	   /* overlong NUL */
		{"63e08080", false},	   /* overlong */
		{"63eda080", false},	   /* surrogate U+D800 */
		{"64f4908080", false},	   /* past U+10FFFF */
		{"6180", false},	   /* lone continuation */
		{"62e282", false},	   /* truncated sequence */
		{"7f61c26180ff", false},   /* U+0080 split across chunks */
		{"7f62c3bc6161ff", true},  /* chunks each whole */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[16];
		size_t len = from_hex(cases[i].hex, buf, sizeof(buf));
		struct ncbor *it = NULL;
		struct err e = {0};
		int rc = ncbor_decode(buf, len, MAX, &it, &e, "text");
		if ((rc == 0) != cases[i].ok)
			fail_msg("%s: rc %d (%s)", cases[i].hex, rc, e.msg);
		if (!cases[i].ok)
			assert_non_null(strstr(e.msg, "not UTF-8"));
		ncbor_free(it);
		assert_oracle_agrees(buf, len);
	}
}

static void test_chunked_strings_read_whole(void **state)
{
	(void)state;
	/* (_ h'0102', h'030405') and {"k": (_ "ab", "c")} */
	static const uint8_t bytes[] = {0x5f, 0x42, 1, 2, 0x43, 3, 4, 5, 0xff};
	static const uint8_t text[] = {0xa1, 0x61, 'k', 0x7f, 0x62, 'a', 'b',
				       0x61, 'c', 0xff};
	struct ncbor *it = NULL;
	uint8_t out[8];
	size_t len;
	char *s = NULL;
	assert_int_equal(ncbor_decode(bytes, sizeof(bytes), MAX, &it, NULL, "b"), 0);
	assert_int_equal(ncbor_bytes_copy(it, 5, 5, out, &len, NULL, "b"), 0);
	assert_memory_equal(out, "\1\2\3\4\5", 5);
	assert_int_equal(ncbor_bytes_copy(it, 6, 8, out, &len, NULL, "b"),
			 -ERR_INVALID);
	ncbor_free(it);
	assert_int_equal(ncbor_decode(text, sizeof(text), MAX, &it, NULL, "t"), 0);
	assert_int_equal(ncbor_text_dup(ncbor_map_get(it, "k"), 8, &s, NULL, "t"), 0);
	assert_string_equal(s, "abc");
	/* a chunked text is not "definite text equal to": as before */
	assert_false(ncbor_text_is(ncbor_map_get(it, "k"), "abc"));
	free(s);
	ncbor_free(it);
}

static void test_encoder_shortest_heads(void **state)
{
	(void)state;
	struct ncbor_out o;
	uint8_t *p = NULL;
	size_t len;
	static const uint8_t want[] = {
		0x17, 0x18, 0x18, 0x19, 0x01, 0x00, 0x1a, 0x00, 0x01, 0x00, 0x00,
		0x1b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x22,
		0x42, 0xaa, 0xbb, 0x62, 'h', 'i', 0x98, 0x18, 0xa0, 0xf6, 0xf5,
		0xf4};
	ncbor_out_init(&o, 64);
	ncbor_put_uint(&o, 23);
	ncbor_put_uint(&o, 24);
	ncbor_put_uint(&o, 256);
	ncbor_put_uint(&o, 65536);
	ncbor_put_uint(&o, 1ull << 32);
	ncbor_put_negint(&o, 2);
	ncbor_put_bytes(&o, (const uint8_t *)"\xaa\xbb", 2);
	ncbor_put_text(&o, "hi");
	ncbor_put_array(&o, 24);
	ncbor_put_map(&o, 0);
	ncbor_put_null(&o);
	ncbor_put_bool(&o, true);
	ncbor_put_bool(&o, false);
	assert_int_equal(ncbor_out_finish(&o, &p, &len, NULL), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(p, want, len);
	free(p);
	/* over the cap: refused, nothing handed out */
	ncbor_out_init(&o, 4);
	ncbor_put_text(&o, "too long");
	assert_int_equal(ncbor_out_finish(&o, &p, &len, NULL), -ERR_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8949_appendix_a_examples_decode),
		cmocka_unit_test(test_rfc8949_appendix_f_malformed_refused),
		cmocka_unit_test(test_real_document_and_every_truncation),
		cmocka_unit_test(test_huge_counts_refused_before_allocation),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_deep_indefinite_nesting_is_linear),
		cmocka_unit_test(test_trailing_bytes_refused),
		cmocka_unit_test(test_text_must_be_utf8),
		cmocka_unit_test(test_chunked_strings_read_whole),
		cmocka_unit_test(test_encoder_shortest_heads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
