/*
 * test_eif.c: the eif module. The cpio writer against an archive laid out
 * by hand from the newc definition, its determinism and its refusals; the
 * two ramdisk layouts read back; the EIF writer and reader: round trip,
 * PCRs recomputed here from their definition, the CRC-32 check value of
 * the CRC catalogue, and every kind of damaged image refused with a
 * message (bad CRC, truncation at every length, each header field out of
 * range, sections out of place, bytes after the end); signed images in
 * test_eif_sign.c. The image as
 * nitro-cli describes it is checked end to end, PCRs recomputed by node,
 * in tests/integration/test_eif.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eif/eif.h"

/* ---- cpio ------------------------------------------------------------------ */

/* "a/b" (0644, "hi") and its parent, laid out by hand: 110-byte headers,
 * names padded to 4 from the header's start, data padded to 4. */
#define HDR(ino, mode, nlink, size, namesize)                                  \
	"070701" ino mode "00000000"                                           \
	"00000000" nlink "00000000" size "00000000"                            \
	"00000000"                                                             \
	"00000000"                                                             \
	"00000000" namesize "00000000"
static const char HAND_ARCHIVE[] =
	HDR("00000001", "000041ed", "00000002", "00000000", "00000002")
	"a\0"                        /* 110 + 2 = 112, already aligned */
	HDR("00000002", "000081a4", "00000001", "00000002", "00000004")
	"a/b\0" "\0\0"               /* 226 -> 228 */
	"hi" "\0\0"                  /* 230 -> 232 */
	HDR("00000000", "00000000", "00000001", "00000000", "0000000b")
	"TRAILER!!!\0" "\0\0\0";     /* 353 -> 356 */

static void test_cpio_matches_the_hand_checked_archive(void **state)
{
	const struct cpio_entry in[] = {
		{"a/b", CPIO_FILE, 0644, (const uint8_t *)"hi", 2}};
	struct buf out = BUF_INIT(1 << 20);
	assert_int_equal(cpio_write(in, 1, &out, NULL), 0);
	assert_int_equal(out.len, 356);
	assert_int_equal(sizeof(HAND_ARCHIVE) - 1, 356);
	assert_memory_equal(out.p, HAND_ARCHIVE, 356);
	buf_free(&out);
}

static void test_cpio_same_bytes_in_any_order(void **state)
{
	const struct cpio_entry a[] = {
		{"x/y/z", CPIO_FILE, 0755, (const uint8_t *)"1", 1},
		{"x-y", CPIO_FILE, 0644, (const uint8_t *)"22", 2},
		{"x/y", CPIO_DIR, 0700, NULL, 0},
		{"b", CPIO_FILE, 0600, NULL, 0},
	};
	const struct cpio_entry b[] = {a[3], a[2], a[1], a[0]};
	struct buf o1 = BUF_INIT(1 << 20), o2 = BUF_INIT(1 << 20);
	assert_int_equal(cpio_write(a, 4, &o1, NULL), 0);
	assert_int_equal(cpio_write(b, 4, &o2, NULL), 0);
	assert_int_equal(o1.len, o2.len);
	assert_memory_equal(o1.p, o2.p, o1.len);
	/* the listed x/y keeps its mode (0700), x is added 0755 */
	assert_non_null(memmem(o1.p, o1.len, "000041c0", 8));
	buf_free(&o1);
	buf_free(&o2);
}

#define LISTING_MAX 32
struct listing {
	char names[LISTING_MAX][CPIO_PATH_MAX + 1];
	uint32_t modes[LISTING_MAX];
	const uint8_t *data[LISTING_MAX];
	size_t lens[LISTING_MAX];
	size_t n;
};

static int collect(const struct cpio_file *f, void *ctx)
{
	struct listing *l = ctx;
	if (l->n == LISTING_MAX)
		return -ERR_INVALID;
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", f->name);
	l->modes[l->n] = f->mode;
	l->data[l->n] = f->data;
	l->lens[l->n++] = f->len;
	assert_int_equal(f->uid, 0);
	assert_int_equal(f->gid, 0);
	assert_int_equal(f->mtime, 0);
	return 0;
}

static void test_cpio_refuses_bad_paths_and_modes(void **state)
{
	static const char *const bad[] = {
		"", "/abs", "a/../b", "a//b", "./a", "a/", "a b", "..", ".",
		"a/\x01", "caf\xc3\xa9",
	};
	struct buf out = BUF_INIT(1 << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cpio_entry x = {bad[i], CPIO_FILE, 0644, NULL, 0};
		struct err e = {0};
		assert_int_equal(cpio_write(&x, 1, &out, &e), -ERR_INVALID);
		assert_true(strstr(e.msg, "cpio:") != NULL);
		assert_int_equal(out.len, 0);
	}
	char longp[CPIO_PATH_MAX + 2];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	const struct cpio_entry cases[][2] = {
		{{"a", CPIO_FILE, 0644, NULL, 0}, {"a", CPIO_FILE, 0644, NULL, 0}},
		{{"a", CPIO_FILE, 0644, NULL, 0}, {"a/b", CPIO_FILE, 0644, NULL, 0}},
		{{"a/b", CPIO_FILE, 0644, NULL, 0}, {"a", CPIO_FILE, 0644, NULL, 0}},
		{{"a", CPIO_FILE, 04755, NULL, 0}, {"b", CPIO_DIR, 0755, NULL, 0}},
		{{"a", CPIO_DIR, 0755, NULL, 0}, {"a", CPIO_DIR, 0755, NULL, 0}},
		{{longp, CPIO_FILE, 0644, NULL, 0}, {"b", CPIO_DIR, 0755, NULL, 0}},
		{{"a", CPIO_FILE, 0644, NULL, 3}, {"b", CPIO_DIR, 0755, NULL, 0}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = {0};
		assert_int_equal(cpio_write(cases[i], 2, &out, &e), -ERR_INVALID);
		assert_int_equal(out.len, 0);
	}
	buf_free(&out);
}

static void test_cpio_reader_round_trip_and_refusals(void **state)
{
	struct listing l = {0};
	assert_int_equal(cpio_read((const uint8_t *)HAND_ARCHIVE, 356, collect,
				   &l, NULL), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[1], "a/b");
	assert_int_equal(l.modes[1], 0100644);
	assert_memory_equal(l.data[1], "hi", 2);
	uint8_t buf[360];
	memcpy(buf, HAND_ARCHIVE, 356);
	/* truncated anywhere */
	for (size_t n = 0; n < 356; n++) {
		struct listing m = {0};
		assert_true(cpio_read(buf, n, collect, &m, NULL) < 0);
	}
	/* bytes after the trailer */
	buf[356] = 0;
	struct err e = {0};
	assert_int_equal(cpio_read(buf, 357, collect, &l, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "after the trailer"));
	/* nonzero padding (data, name), no NUL, bad magic, bad hex */
	const size_t at[] = {230, 226, 225, 0, 7};
	const uint8_t with[] = {'X', 'X', 'X', '1', 'g'};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		memcpy(buf, HAND_ARCHIVE, 356);
		buf[at[i]] = with[i];
		struct listing m = {0};
		assert_true(cpio_read(buf, 356, collect, &m, NULL) < 0);
	}
}

/* ---- ramdisks ------------------------------------------------------------------ */

static void test_bootstrap_ramdisk_has_nitro_clis_layout(void **state)
{
	struct eif_blob init = {(const uint8_t *)"INIT", 4};
	struct eif_blob nsm = {(const uint8_t *)"NSM", 3};
	struct buf out = BUF_INIT(1 << 20);
	struct listing l = {0};
	assert_int_equal(eif_ramdisk_bootstrap(init, nsm, &out, NULL), 0);
	assert_int_equal(cpio_read(out.p, out.len, collect, &l, NULL), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "dev");
	assert_int_equal(l.modes[0], 040755);
	assert_string_equal(l.names[1], "init");
	assert_int_equal(l.modes[1], 0100755);
	assert_memory_equal(l.data[1], "INIT", 4);
	assert_string_equal(l.names[2], "nsm.ko");
	assert_int_equal(l.modes[2], 0100755);
	buf_free(&out);
}

static void test_app_ramdisk_layout_and_cmd(void **state)
{
	struct eif_app a = {
		.signer = {(const uint8_t *)"ELF", 3},
		.ca_bundle = {(const uint8_t *)"PEM", 3},
		.args = {"enclave", "--control=vsock:ANY:5000"},
		.nargs = 2,
		.extra = {{"/etc/nitro-signer/known-clients",
			   {(const uint8_t *)"c1 ab", 5}}},
		.nextra = 1,
	};
	struct buf out = BUF_INIT(1 << 20);
	struct listing l = {0};
	assert_int_equal(eif_ramdisk_app(&a, &out, NULL), 0);
	assert_int_equal(cpio_read(out.p, out.len, collect, &l, NULL), 0);
	static const char *const want[] = {
		"cmd", "env", "rootfs", "rootfs/dev", "rootfs/etc",
		"rootfs/etc/nitro-signer", "rootfs/etc/nitro-signer/known-clients",
		"rootfs/etc/ssl", "rootfs/etc/ssl/certs",
		"rootfs/etc/ssl/certs/ca-certificates.crt", "rootfs/proc",
		"rootfs/run", "rootfs/sys", "rootfs/tmp", "rootfs/usr",
		"rootfs/usr/bin", "rootfs/usr/bin/nitro-signer", "rootfs/var"};
	assert_int_equal(l.n, 18);
	for (size_t i = 0; i < 18; i++)
		assert_string_equal(l.names[i], want[i]);
	assert_int_equal(l.modes[16], 0100755);
	assert_memory_equal(l.data[16], "ELF", 3);
	assert_int_equal(l.modes[9], 0100644);
	const char cmd[] = "/usr/bin/nitro-signer\nenclave\n"
			   "--control=vsock:ANY:5000\n";
	assert_int_equal(l.lens[0], strlen(cmd));
	assert_memory_equal(l.data[0], cmd, strlen(cmd));
	const char env[] = EIF_ENV_DEFAULT "\n";
	assert_int_equal(l.lens[1], strlen(env));
	assert_memory_equal(l.data[1], env, strlen(env));
	buf_free(&out);
}

static void test_app_ramdisk_refuses_what_init_would_split(void **state)
{
	static const char *const bad[] = {"a\nb", "", "tab\there", "\x7f"};
	struct buf out = BUF_INIT(1 << 20);
	for (size_t i = 0; i < 4; i++) {
		struct eif_app a = {.signer = {(const uint8_t *)"E", 1},
				    .ca_bundle = {(const uint8_t *)"P", 1},
				    .args = {bad[i]}, .nargs = 1};
		struct err e = {0};
		assert_int_equal(eif_ramdisk_app(&a, &out, &e), -ERR_INVALID);
		assert_int_equal(out.len, 0);
		a.args[0] = "ok";
		a.env[0] = bad[i];
		a.nenv = 1;
		assert_int_equal(eif_ramdisk_app(&a, &out, &e), -ERR_INVALID);
		a.nenv = 0;
		a.extra[0] = (struct eif_extra_file){"relative", {NULL, 0}};
		a.nextra = 1;
		assert_int_equal(eif_ramdisk_app(&a, &out, &e), -ERR_INVALID);
		assert_int_equal(out.len, 0);
	}
	buf_free(&out);
}

/* ---- the image ---------------------------------------------------------------------- */

static void test_crc32_is_the_catalogue_crc32(void **state)
{
	/* CRC RevEng catalogue, CRC-32/ISO-HDLC: check = 0xcbf43926 */
	assert_int_equal(eif_crc32(0, "123456789", 9), 0xcbf43926u);
	/* fed in pieces, as the writer does */
	assert_int_equal(eif_crc32(eif_crc32(0, "1234", 4), "56789", 5),
			 0xcbf43926u);
}

struct image {
	struct eif_build b;
	struct buf out;
};

static void make_image(struct image *im, size_t nramdisks)
{
	static const uint8_t rd[3][5] = {"boot", "app1", "app2"};
	memset(im, 0, sizeof(*im));
	im->b.kernel = (struct eif_blob){(const uint8_t *)"KERNEL-BYTES", 12};
	im->b.cmdline = (struct eif_blob){(const uint8_t *)"console=ttyS0", 13};
	im->b.metadata = (struct eif_blob){(const uint8_t *)"{}", 2};
	for (size_t i = 0; i < nramdisks; i++)
		im->b.ramdisks[i] = (struct eif_blob){rd[i], 4};
	im->b.nramdisks = nramdisks;
	im->b.mem_bytes = EIF_DEFAULT_MEM;
	im->b.cpus = 2;
	buf_init(&im->out, 1 << 20, false);
	assert_int_equal(eif_write(&im->b, &im->out, NULL), 0);
}

/* SHA-384(0^48 || SHA-384(concatenation of parts)) */
static void extend_of(const char *const *parts, size_t n, uint8_t out[48])
{
	uint8_t buf[256] = {0}, inner[48];
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + len, parts[i], strlen(parts[i]));
		len += strlen(parts[i]);
	}
	assert_int_equal(EVP_Digest(buf, len, inner, NULL, EVP_sha384(), NULL), 1);
	memset(buf, 0, 48);
	memcpy(buf + 48, inner, 48);
	assert_int_equal(EVP_Digest(buf, 96, out, NULL, EVP_sha384(), NULL), 1);
}

static void test_eif_round_trip_and_pcrs_by_definition(void **state)
{
	struct image im;
	make_image(&im, 3);
	/* header 548, sections of 12 + 12, 12 + 13, 12 + 2, 3 x (12 + 4) */
	assert_int_equal(im.out.len, 548 + 24 + 25 + 14 + 48);
	assert_memory_equal(im.out.p, ".eif\x00\x04\x00\x00", 8);
	struct eif_info info;
	struct err e = {0};
	assert_int_equal(eif_parse(im.out.p, im.out.len, &info, &e), 0);
	assert_int_equal(info.version, 4);
	assert_int_equal(info.nsections, 6);
	assert_int_equal(info.nramdisks, 3);
	assert_int_equal(info.mem_bytes, EIF_DEFAULT_MEM);
	assert_int_equal(info.cpus, 2);
	assert_memory_equal(info.cmdline.p, "console=ttyS0", 13);
	uint8_t want[48];
	const char *all[] = {"KERNEL-BYTES", "console=ttyS0", "boot", "app1", "app2"};
	extend_of(all, 5, want);
	assert_memory_equal(info.pcrs.pcr0, want, 48);
	extend_of(all, 3, want);
	assert_memory_equal(info.pcrs.pcr1, want, 48);
	extend_of(all + 3, 2, want);
	assert_memory_equal(info.pcrs.pcr2, want, 48);
	struct eif_pcrs direct;
	assert_int_equal(eif_measure(&im.b, &direct), 0);
	assert_memory_equal(&direct, &info.pcrs, sizeof(direct));
	/* the metadata is not measured */
	im.b.metadata = (struct eif_blob){(const uint8_t *)"{\"x\":1}", 7};
	assert_int_equal(eif_measure(&im.b, &direct), 0);
	assert_memory_equal(&direct, &info.pcrs, sizeof(direct));
	buf_free(&im.out);
}

static void fix_crc(uint8_t *p, size_t len)
{
	uint32_t c = eif_crc32(0, p, EIF_HEADER_LEN - 4);
	c = eif_crc32(c, p + EIF_HEADER_LEN, len - EIF_HEADER_LEN);
	eif_put_be(p + EIF_HEADER_LEN - 4, c, 4);
}

/* The image with one change (CRC recomputed): refused, message naming it. */
static void expect_refused(const struct image *im, size_t at, uint64_t v,
			   int bytes, const char *msg)
{
	uint8_t *p = malloc(im->out.len);
	assert_non_null(p);
	memcpy(p, im->out.p, im->out.len);
	eif_put_be(p + at, v, bytes);
	fix_crc(p, im->out.len);
	struct eif_info info;
	struct err e = {0};
	assert_true(eif_parse(p, im->out.len, &info, &e) < 0);
	if (!strstr(e.msg, msg))
		fail_msg("at %zu: '%s' does not say '%s'", at, e.msg, msg);
	free(p);
}

static void test_eif_header_fields_out_of_range_refused(void **state)
{
	struct image im;
	make_image(&im, 2);
	expect_refused(&im, 0, 0x2e656966 ^ 1, 4, "magic");
	expect_refused(&im, 4, 3, 2, "version 3");
	expect_refused(&im, 4, 5, 2, "version 5");
	expect_refused(&im, 6, 2, 2, "flags");
	expect_refused(&im, 8, 0, 8, "default memory");
	expect_refused(&im, 8, EIF_MEM_MAX + 1, 8, "default memory");
	expect_refused(&im, 16, 0, 8, "default cpus");
	expect_refused(&im, 16, EIF_CPUS_MAX + 1, 8, "default cpus");
	expect_refused(&im, 24, 1, 2, "reserved");
	expect_refused(&im, 26, 2, 2, "section count");
	expect_refused(&im, 26, 33, 2, "section count");
	expect_refused(&im, 26, 6, 2, "offset");        /* one more than there is */
	expect_refused(&im, 28 + 8 * 1, 549, 8, "offset");
	expect_refused(&im, 28 + 8 * 31, 1, 8, "slot 31");
	expect_refused(&im, 28 + 256 + 8 * 0, 11, 8, "size");
	expect_refused(&im, 28 + 256 + 8 * 31, 1, 8, "slot 31");
	expect_refused(&im, 540, 1, 4, "unused");
	/* section headers: type, flags, size */
	expect_refused(&im, 548, 2, 2, "out of place");
	expect_refused(&im, 548, 9, 2, "not a section type");
	/* a signature first: only last, after the ramdisks (test_eif_sign.c) */
	expect_refused(&im, 548, 4, 2, "signature out of place");
	expect_refused(&im, 550, 1, 2, "flags");
	expect_refused(&im, 552, 13, 8, "size");
	buf_free(&im.out);
}

static void test_eif_bad_crc_refused(void **state)
{
	struct image im;
	make_image(&im, 2);
	for (size_t at = 0; at < im.out.len; at += 7) {
		im.out.p[at] ^= 0x01;
		struct eif_info info;
		struct err e = {0};
		assert_true(eif_parse(im.out.p, im.out.len, &info, &e) < 0);
		im.out.p[at] ^= 0x01;
	}
	im.out.p[im.out.len - 1] ^= 0x80; /* inside the last ramdisk */
	struct eif_info info;
	struct err e = {0};
	assert_int_equal(eif_parse(im.out.p, im.out.len, &info, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "CRC-32"));
	buf_free(&im.out);
}

static void test_eif_truncated_at_every_length_refused(void **state)
{
	struct image im;
	make_image(&im, 2);
	for (size_t n = 0; n < im.out.len; n++) {
		struct eif_info info;
		struct err e = {0};
		assert_true(eif_parse(im.out.p, n, &info, &e) < 0);
		assert_true(e.msg[0] != '\0');
	}
	buf_free(&im.out);
}

static void test_eif_extra_bytes_and_order_refused(void **state)
{
	struct image im;
	make_image(&im, 2);
	uint8_t *p = malloc(im.out.len + 12);
	assert_non_null(p);
	memcpy(p, im.out.p, im.out.len);
	memset(p + im.out.len, 0, 12);
	fix_crc(p, im.out.len + 12);
	struct eif_info info;
	struct err e = {0};
	assert_int_equal(eif_parse(p, im.out.len + 12, &info, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "after the last section"));
	free(p);
	/* a second kernel where the metadata is; a second metadata after it */
	size_t meta = 548 + 24 + 25;
	expect_refused(&im, meta, EIF_SECTION_KERNEL, 2, "out of place");
	expect_refused(&im, meta + 14, EIF_SECTION_METADATA, 2, "out of place");
	buf_free(&im.out);
}

static void test_eif_writer_refuses_bad_builds(void **state)
{
	struct image im;
	make_image(&im, 1);
	struct eif_build b = im.b;
	struct buf out = BUF_INIT(1 << 20);
	struct err e = {0};
	b.cmdline = (struct eif_blob){(const uint8_t *)"a\nb", 3};
	assert_int_equal(eif_write(&b, &out, &e), -ERR_INVALID);
	b = im.b;
	b.nramdisks = 0;
	assert_int_equal(eif_write(&b, &out, &e), -ERR_INVALID);
	b = im.b;
	b.cpus = 0;
	assert_int_equal(eif_write(&b, &out, &e), -ERR_INVALID);
	b = im.b;
	b.flags = 2;
	assert_int_equal(eif_write(&b, &out, &e), -ERR_INVALID);
	assert_int_equal(out.len, 0);
	buf_free(&out);
	buf_free(&im.out);
}

static void test_describe_has_nitro_clis_fields(void **state)
{
	struct image im;
	struct eif_blob kernel = {(const uint8_t *)"K", 1};
	char *meta = eif_metadata_json("1.2.3", "1970-01-01T00:00:00+00:00",
				       kernel);
	assert_non_null(meta);
	make_image(&im, 2);
	im.b.metadata = (struct eif_blob){(const uint8_t *)meta, strlen(meta)};
	buf_free(&im.out);
	buf_init(&im.out, 1 << 20, false);
	assert_int_equal(eif_write(&im.b, &im.out, NULL), 0);
	struct eif_info info;
	json_t *o = NULL;
	assert_int_equal(eif_parse(im.out.p, im.out.len, &info, NULL), 0);
	assert_int_equal(eif_describe_json(&info, &o, NULL), 0);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(s);
	assert_non_null(strstr(s, "{\"EifVersion\":4,\"Measurements\":{"
				  "\"HashAlgorithm\":\"Sha384 { ... }\",\"PCR0\":\""));
	assert_non_null(strstr(s, "\"IsSigned\":false,\"CheckCRC\":true,"
				  "\"Arch\":\"x86_64\",\"ImageName\":\"nitro-signer\","
				  "\"ImageVersion\":\"1.2.3\",\"Metadata\":{"
				  "\"BuildTime\":\"1970-01-01T00:00:00+00:00\""));
	free(s);
	json_decref(o);
	/* metadata without nitro-cli's shape is refused, as nitro-cli does */
	im.b.metadata = (struct eif_blob){(const uint8_t *)"{\"ImageName\":1}", 15};
	buf_free(&im.out);
	buf_init(&im.out, 1 << 20, false);
	assert_int_equal(eif_write(&im.b, &im.out, NULL), 0);
	assert_int_equal(eif_parse(im.out.p, im.out.len, &info, NULL), 0);
	struct err e = {0};
	assert_int_equal(eif_describe_json(&info, &o, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "ImageName"));
	free(meta);
	buf_free(&im.out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpio_matches_the_hand_checked_archive),
		cmocka_unit_test(test_cpio_same_bytes_in_any_order),
		cmocka_unit_test(test_cpio_refuses_bad_paths_and_modes),
		cmocka_unit_test(test_cpio_reader_round_trip_and_refusals),
		cmocka_unit_test(test_bootstrap_ramdisk_has_nitro_clis_layout),
		cmocka_unit_test(test_app_ramdisk_layout_and_cmd),
		cmocka_unit_test(test_app_ramdisk_refuses_what_init_would_split),
		cmocka_unit_test(test_crc32_is_the_catalogue_crc32),
		cmocka_unit_test(test_eif_round_trip_and_pcrs_by_definition),
		cmocka_unit_test(test_eif_header_fields_out_of_range_refused),
		cmocka_unit_test(test_eif_bad_crc_refused),
		cmocka_unit_test(test_eif_truncated_at_every_length_refused),
		cmocka_unit_test(test_eif_extra_bytes_and_order_refused),
		cmocka_unit_test(test_eif_writer_refuses_bad_builds),
		cmocka_unit_test(test_describe_has_nitro_clis_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
