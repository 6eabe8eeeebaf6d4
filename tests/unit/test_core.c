/*
 * test_core.c: strict hex/decimal/base64 parsing, the cursor and the buffer,
 * the secure allocator, files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

static void test_hex_exact_accepts_both_cases(void **state)
{
	uint8_t out[4];
	assert_int_equal(hex_decode_exact("0xDEadBEef", out, 4, NULL, "f"), 0);
	assert_memory_equal(out, "\xde\xad\xbe\xef", 4);
}

static void test_hex_exact_refuses_wrong_length_and_prefix(void **state)
{
	uint8_t out[4];
	struct err e = {0};
	assert_int_equal(hex_decode_exact("0xdeadbe", out, 4, &e, "field.x"),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "field.x"));
	assert_int_equal(hex_decode_exact("deadbeef", out, 4, &e, "f"), -ERR_INVALID);
	assert_int_equal(hex_decode_exact("0xdeadbeef00", out, 4, &e, "f"), -ERR_INVALID);
	assert_int_equal(hex_decode_exact("0xdeadbeeg", out, 4, &e, "f"), -ERR_INVALID);
	assert_int_equal(hex_decode_exact(" 0xdeadbeef", out, 4, &e, "f"), -ERR_INVALID);
	assert_int_equal(hex_decode_exact(NULL, out, 4, &e, "f"), -ERR_INVALID);
}

static void test_hex_alloc_limits(void **state)
{
	uint8_t *b = NULL;
	size_t n = 0;
	assert_int_equal(hex_decode_alloc("0x", 4, &b, &n, NULL, "f"), 0);
	assert_int_equal(n, 0);
	free(b);
	assert_int_equal(hex_decode_alloc("0x0102030405", 4, &b, &n, NULL, "f"),
			 -ERR_INVALID);
	assert_int_equal(hex_decode_alloc("0x012", 4, &b, &n, NULL, "f"),
			 -ERR_INVALID);
}

static void test_hex_encode_lower_case(void **state)
{
	char out[2 + 8 + 1];
	hex_encode((const uint8_t *)"\xAB\xCD\x01\xff", 4, out);
	assert_string_equal(out, "0xabcd01ff");
}

static void test_decimal_u64_strict(void **state)
{
	uint64_t v;
	assert_int_equal(dec_parse_u64("0", &v, NULL, "n"), 0);
	assert_int_equal(v, 0);
	assert_int_equal(dec_parse_u64("18446744073709551615", &v, NULL, "n"), 0);
	assert_true(v == UINT64_MAX);
	const char *bad[] = {"18446744073709551616", "-1", "+1", "01", " 1",
			     "1 ", "", "1.5", "0x10", "1e3", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dec_parse_u64(bad[i], &v, NULL, "n"), -ERR_INVALID);
}

/* Uint256 (base_fee_per_gas): the same rules, 32 bytes little-endian. */
static void test_decimal_u256_strict(void **state)
{
	(void)state;
	uint8_t v[32], want[32] = {0};
	assert_int_equal(dec_parse_u256("258", v, NULL, "n"), 0);
	want[0] = 2;
	want[1] = 1;
	assert_memory_equal(v, want, 32);
	/* 2^256 - 1 is the largest; 2^256 is out of range */
	assert_int_equal(dec_parse_u256("115792089237316195423570985008687907853269984665640564039457584007913129639935", v, NULL, "n"), 0);
	memset(want, 0xff, 32);
	assert_memory_equal(v, want, 32);
	struct err e = {0};
	assert_int_equal(dec_parse_u256("115792089237316195423570985008687907853269984665640564039457584007913129639936", v, &e, "n"), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "out of uint256 range"));
	const char *bad[] = {"", "01", "-1", "+1", "1 ", "0x10"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dec_parse_u256(bad[i], v, NULL, "n"), -ERR_INVALID);
}

static void test_cursor_refuses_short_reads(void **state)
{
	const uint8_t buf[] = {0, 0, 1, 2, 9};
	struct cursor c = cursor_init(buf, sizeof(buf));
	uint32_t v;
	assert_int_equal(cursor_u32be(&c, &v), 0);
	assert_int_equal(v, 0x102);
	assert_int_equal(cursor_u32be(&c, &v), -ERR_TRUNCATED);
	assert_int_equal(c.left, 1);
	uint64_t w;
	assert_int_equal(cursor_u64le(&c, &w), -ERR_TRUNCATED);
	uint8_t b;
	assert_int_equal(cursor_u8(&c, &b), 0);
	assert_int_equal(b, 9);
}

static void test_secret_wiped_and_reused(void **state)
{
	uint64_t live = secret_stats_live();
	struct secret *s = secret_from("supersecret", 11);
	assert_non_null(s);
	assert_int_equal(secret_stats_live(), live + 1);
	uint8_t *p = s->bytes;
	secret_free(s);
	assert_int_equal(secret_stats_live(), live);
	/* The slot goes back to its free list: the next secret of the same
	 * class reuses it, and it must not see the old bytes. */
	struct secret *t = secret_new(11);
	assert_non_null(t);
	assert_ptr_equal(t->bytes, p);
	for (size_t i = 0; i < 11; i++)
		assert_int_equal(t->bytes[i], 0);
	secret_free(t);
	secret_free(NULL);
}

static size_t g_freed_nonzero, g_freed_checked;

static void check_freed(const uint8_t *bytes, size_t cap)
{
	for (size_t i = 0; i < cap; i++)
		g_freed_nonzero += bytes[i] != 0;
	g_freed_checked += cap;
}

/* What secret_free leaves behind, seen before the memory is reused or
 * unmapped: zeros only, for slab slots and for large mappings. (Memory is
 * zeroed when handed out, so a reuse test alone cannot see a missing wipe.) */
static void test_freed_secret_memory_reads_zero(void **state)
{
	static const size_t sizes[] = {11, 32, 33, 4096, 100000};
	secret_set_free_hook(check_freed);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct secret *s = secret_new(sizes[i]);
		assert_non_null(s);
		memset(s->bytes, 0xA5, s->cap);
		g_freed_nonzero = g_freed_checked = 0;
		secret_free(s);
		assert_true(g_freed_checked >= sizes[i]);
		assert_int_equal(g_freed_nonzero, 0);
	}
	secret_set_free_hook(NULL);
}

static void test_secret_large_and_truncate(void **state)
{
	struct secret *s = secret_new(100000);
	assert_non_null(s);
	memset(s->bytes, 0xAA, s->len);
	secret_truncate(s, 10);
	assert_int_equal(s->len, 10);
	assert_int_equal(s->bytes[10], 0);
	secret_free(s);
}

static void test_secret_read_file_strips_newline(void **state)
{
	char path[] = "/tmp/ns-test-secret-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "pass word\r\n", 11), 11);
	close(fd);
	struct secret *s = NULL;
	assert_int_equal(secret_read_file(path, &s, NULL), 0);
	assert_int_equal(s->len, 9);
	assert_memory_equal(s->bytes, "pass word", 9);
	secret_free(s);
	unlink(path);
	struct err e = {0};
	assert_int_equal(secret_read_file(path, &s, &e), -ERR_IO);
}

static void test_file_atomic_write_and_capped_read(void **state)
{
	char dir[] = "/tmp/ns-test-file-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/out.txt", dir);
	assert_int_equal(file_write_atomic(path, "hello", 5, 0600, NULL), 0);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(file_read_all(path, 5, &buf, &len, NULL), 0);
	assert_string_equal(buf, "hello");
	free(buf);
	assert_int_equal(file_read_all(path, 4, &buf, &len, NULL), -ERR_TOO_LARGE);
	unlink(path);
	rmdir(dir);
}

static void test_err_prefix_keeps_message(void **state)
{
	struct err e = {0};
	assert_int_equal(err_set(&e, ERR_INVALID, "bad hex"), -ERR_INVALID);
	err_prefix(&e, "block.slot: ");
	assert_string_equal(e.msg, "block.slot: bad hex");
	assert_string_equal(err_code_name(-ERR_REFUSED), "refused");
}

static void test_b64_round_trip_and_strictness(void **state)
{
	uint8_t *out;
	size_t n;
	assert_int_equal(b64_decode("Zm9vYmFy", &out, &n, NULL, "f"), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	free(out);
	assert_int_equal(b64_decode("Zm9vYg==", &out, &n, NULL, "f"), 0);
	assert_int_equal(n, 4);
	free(out);
	char *s = b64_encode((const uint8_t *)"foob", 4);
	assert_string_equal(s, "Zm9vYg==");
	free(s);
	struct err e = {0};
	assert_int_equal(b64_decode("Zm9vYg", &out, &n, &e, "Blob"), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "Blob"));
	assert_int_equal(b64_decode("Zm9vYh==", &out, &n, NULL, "f"), -ERR_INVALID);
	assert_int_equal(b64_decode("Zm9v Yg==", &out, &n, NULL, "f"), -ERR_INVALID);
	assert_int_equal(b64_decode("Zm=vYg==", &out, &n, NULL, "f"), -ERR_INVALID);
}

static void test_b64_secret_round_trip_and_strictness(void **state)
{
	struct secret *enc, *dec;
	assert_int_equal(b64_encode_secret((const uint8_t *)"foob", 4, &enc, NULL), 0);
	assert_int_equal(enc->len, 8);
	assert_string_equal((const char *)enc->bytes, "Zm9vYg==");
	assert_int_equal(b64_decode_secret((const char *)enc->bytes, &dec, NULL, "f"), 0);
	assert_int_equal(dec->len, 4);
	assert_memory_equal(dec->bytes, "foob", 4);
	secret_free(enc);
	secret_free(dec);
	struct err e = {0};
	assert_int_equal(b64_decode_secret("Zm9vYh==", &dec, &e, "Plaintext"),
			 -ERR_INVALID);
	assert_null(dec);
	assert_non_null(strstr(e.msg, "Plaintext"));
	assert_int_equal(b64_decode_secret(NULL, &dec, NULL, "f"), -ERR_INVALID);
}

static void test_buf_writes_big_endian_and_grows(void **state)
{
	struct buf b;
	buf_init(&b, 1 << 20, false);
	assert_int_equal(buf_u8(&b, 0x01), 0);
	assert_int_equal(buf_u32be(&b, 0x02030405), 0);
	uint8_t big[5000];
	memset(big, 0xab, sizeof(big));
	assert_int_equal(buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 5 + sizeof(big));
	assert_true(b.cap >= b.len && b.cap <= b.max);
	assert_memory_equal(b.p, "\x01\x02\x03\x04\x05", 5);
	assert_memory_equal(b.p + 5, big, sizeof(big));
	/* what a cursor reads back is what was written */
	struct cursor c = cursor_init(b.p, b.len);
	uint8_t u8;
	uint32_t u32;
	assert_int_equal(cursor_u8(&c, &u8), 0);
	assert_int_equal(cursor_u32be(&c, &u32), 0);
	assert_int_equal(u8, 1);
	assert_int_equal(u32, 0x02030405);
	buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

static void test_buf_refuses_past_max_all_or_nothing(void **state)
{
	struct buf b;
	buf_init(&b, 6, true);
	assert_int_equal(buf_u32be(&b, 7), 0);
	assert_int_equal(buf_u32be(&b, 8), -ERR_TOO_LARGE);
	assert_int_equal(b.len, 4);
	assert_true(b.cap <= 6);
	assert_int_equal(buf_append(&b, "ab", 2), 0);
	assert_int_equal(buf_u8(&b, 0), -ERR_TOO_LARGE);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), -ERR_TOO_LARGE);
	buf_free(&b);

	uint8_t mem[5];
	buf_init_fixed(&b, mem, sizeof(mem));
	assert_int_equal(buf_u32be(&b, 0x0a0b0c0d), 0);
	assert_int_equal(buf_u32be(&b, 1), -ERR_TOO_LARGE);
	assert_int_equal(buf_u8(&b, 0x0e), 0);
	assert_ptr_equal(b.p, mem);
	assert_memory_equal(mem, "\x0a\x0b\x0c\x0d\x0e", 5);
	buf_free(&b); /* the caller's memory: not freed */
}

static void test_buf_wiping_clear_and_free_zero_the_bytes(void **state)
{
	struct buf b;
	buf_init(&b, 64, true);
	assert_int_equal(buf_append(&b, "secret!", 7), 0);
	const uint8_t *p = b.p;
	buf_clear(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.p, p); /* memory kept, bytes gone */
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(p[i], 0);
	buf_free(&b);

	uint8_t mem[8];
	buf_init_fixed(&b, mem, sizeof(mem));
	b.wipe = true;
	assert_int_equal(buf_append(&b, "secret!", 7), 0);
	buf_free(&b);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(mem[i], 0);
}

static void test_buf_text_builds_strings_and_latches_failure(void **state)
{
	(void)state;
	struct buf b = BUF_INIT(64);
	assert_string_equal(buf_str(&b), "");
	buf_puts(&b, "GET");
	buf_putc(&b, ' ');
	buf_printf(&b, "/%s?n=%d", "path", 42);
	assert_string_equal(buf_str(&b), "GET /path?n=42");
	assert_int_equal(b.len, strlen("GET /path?n=42"));
	/* A long printf formats straight into the buffer. */
	char long_arg[300];
	memset(long_arg, 'x', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	struct buf big = BUF_INIT(4096);
	buf_printf(&big, "<%s>", long_arg);
	assert_int_equal(big.len, 301);
	assert_int_equal(buf_str(&big)[0], '<');
	assert_int_equal(buf_str(&big)[300], '>');
	assert_int_equal(buf_str(&big)[301], '\0');
	char *t = buf_take_str(&big);
	assert_non_null(t);
	assert_int_equal(strlen(t), 301);
	free(t);
	assert_int_equal(big.len, 0);

	/* Past max (the NUL counts): the append fails whole, later ones do
	 * nothing, and the take reports it. */
	buf_printf(&b, "%s", long_arg);
	assert_true(b.failed);
	assert_string_equal(buf_str(&b), "GET /path?n=42");
	assert_int_equal(buf_text(&b, "!", 1), -ERR_INVALID);
	assert_null(buf_take_str(&b));
	assert_false(b.failed); /* emptied and usable again */
	char *empty = buf_take_str(&b);
	assert_non_null(empty);
	assert_string_equal(empty, "");
	free(empty);

	struct buf exact = BUF_INIT(4);
	assert_int_equal(buf_text(&exact, "abc", 3), 0); /* 3 + NUL = max */
	assert_int_equal(buf_text(&exact, "d", 1), -ERR_TOO_LARGE);
	buf_free(&exact);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_exact_accepts_both_cases),
		cmocka_unit_test(test_hex_exact_refuses_wrong_length_and_prefix),
		cmocka_unit_test(test_hex_alloc_limits),
		cmocka_unit_test(test_hex_encode_lower_case),
		cmocka_unit_test(test_decimal_u64_strict),
		cmocka_unit_test(test_decimal_u256_strict),
		cmocka_unit_test(test_b64_round_trip_and_strictness),
		cmocka_unit_test(test_b64_secret_round_trip_and_strictness),
		cmocka_unit_test(test_cursor_refuses_short_reads),
		cmocka_unit_test(test_buf_writes_big_endian_and_grows),
		cmocka_unit_test(test_buf_refuses_past_max_all_or_nothing),
		cmocka_unit_test(test_buf_wiping_clear_and_free_zero_the_bytes),
		cmocka_unit_test(test_buf_text_builds_strings_and_latches_failure),
		cmocka_unit_test(test_secret_wiped_and_reused),
		cmocka_unit_test(test_freed_secret_memory_reads_zero),
		cmocka_unit_test(test_secret_large_and_truncate),
		cmocka_unit_test(test_secret_read_file_strips_newline),
		cmocka_unit_test(test_file_atomic_write_and_capped_read),
		cmocka_unit_test(test_err_prefix_keeps_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
