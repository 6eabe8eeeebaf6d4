/*
 * test_eif_sign.c: signed enclave images (src/eif/sign.c). A P-384 key and
 * a self-signed certificate are made here; an image signed with them reads
 * back with the same PCR0/1/2 and a PCR8 computed here from the
 * certificate's DER by the definition (SHA-384(0^48 || SHA-384(DER))); the
 * section's CBOR is taken apart by hand (an array of one map whose byte
 * fields are arrays of integers, the certificate PEM, the payload PcrInfo
 * {0, PCR0} laid out here byte by byte); describe prints the signing
 * certificate. Refused, each with a message: a flipped signature byte, a
 * signature over another image's PCR0, another certificate in the section,
 * the section cut at every length, a non-canonical encoding, the section
 * out of place, signing a signed image, a key that is not the
 * certificate's, a P-256 certificate. The unsigned writer's bytes are
 * pinned by their SHA-256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eif/eif.h"
#include "nitro/nitro_internal.h"

/* SHA-256 of make_image(.., "app"): the bytes eif_write gave before images
 * could be signed, and what laying the format out by hand (header, five
 * section headers and data, zlib's crc32) gives too. */
#define UNSIGNED_SHA256                                                        \
	"0xabf40ac47d504bd11c5cdffe5165efc9c70744939cda37ece7f681a5fbb9b777"

struct pair {
	EVP_PKEY *key;
	X509 *cert;
};

static struct pair make_pair(const char *curve, const char *cn)
{
	struct pair p;
	p.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	assert_non_null(p.key);
	p.cert = X509_new();
	assert_non_null(p.cert);
	X509_NAME *n = X509_NAME_new();
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC,
						    (const unsigned char *)"DE",
						    -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn,
						    -1, -1, 0), 1);
	assert_int_equal(X509_set_version(p.cert, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(p.cert), 7);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(p.cert), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(p.cert), 86400));
	assert_int_equal(X509_set_subject_name(p.cert, n), 1);
	assert_int_equal(X509_set_issuer_name(p.cert, n), 1);
	assert_int_equal(X509_set_pubkey(p.cert, p.key), 1);
	assert_true(X509_sign(p.cert, p.key, EVP_sha384()) > 0);
	X509_NAME_free(n);
	return p;
}

static void free_pair(struct pair *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
}

/* the metadata as nitro-keys eif build writes it (pinned values) */
static const char META[] =
	"{\"ImageName\":\"nitro-signer\",\"ImageVersion\":\"1.0.0\","
	"\"BuildMetadata\":{\"BuildTime\":\"1970-01-01T00:00:00+00:00\","
	"\"BuildTool\":\"nitro-keys\",\"BuildToolVersion\":\"1.0.0\","
	"\"OperatingSystem\":\"Linux\",\"KernelVersion\":\"sha256:00\"},"
	"\"DockerInfo\":null,\"CustomMetadata\":null}";

/* An unsigned image: kernel, cmdline, metadata, two ramdisks. */
static void make_image(struct buf *out, const char *app)
{
	struct eif_build b;
	memset(&b, 0, sizeof(b));
	b.kernel = (struct eif_blob){(const uint8_t *)"KERNEL-BYTES", 12};
	b.cmdline = (struct eif_blob){(const uint8_t *)"console=ttyS0", 13};
	b.metadata = (struct eif_blob){(const uint8_t *)META, sizeof(META) - 1};
	b.ramdisks[0] = (struct eif_blob){(const uint8_t *)"boot", 4};
	b.ramdisks[1] = (struct eif_blob){(const uint8_t *)app, strlen(app)};
	b.nramdisks = 2;
	b.mem_bytes = EIF_DEFAULT_MEM;
	b.cpus = 2;
	buf_init(out, 1 << 20, false);
	assert_int_equal(eif_write(&b, out, NULL), 0);
}

static void fix_crc(uint8_t *p, size_t len)
{
	uint32_t c = eif_crc32(0, p, EIF_HEADER_LEN - 4);
	c = eif_crc32(c, p + EIF_HEADER_LEN, len - EIF_HEADER_LEN);
	eif_put_be(p + EIF_HEADER_LEN - 4, c, 4);
}

/* The unsigned image with `sec` appended as a signature section, the
 * header's slot and CRC written here (independently of eif_sign). */
static uint8_t *attach(const uint8_t *img, size_t len, const uint8_t *sec,
		       size_t sec_len, size_t *out_len)
{
	uint8_t *p = malloc(len + 12 + sec_len);
	assert_non_null(p);
	memcpy(p, img, len);
	size_t n = eif_get_be(p + 26, 2);
	eif_put_be(p + 26, n + 1, 2);
	eif_put_be(p + 28 + 8 * n, len, 8);
	eif_put_be(p + 28 + 256 + 8 * n, sec_len, 8);
	memset(p + len, 0, 12);
	eif_put_be(p + len, EIF_SECTION_SIGNATURE, 2);
	eif_put_be(p + len + 4, sec_len, 8);
	memcpy(p + len + 12, sec, sec_len);
	*out_len = len + 12 + sec_len;
	fix_crc(p, *out_len);
	return p;
}

/* PCR8 by its definition, from the DER OpenSSL writes for the cert. */
static void pcr8_of(X509 *cert, uint8_t out[48])
{
	uint8_t *der = NULL, buf[96] = {0};
	int n = i2d_X509(cert, &der);
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, buf + 48, NULL, EVP_sha384(),
				    NULL), 1);
	assert_int_equal(EVP_Digest(buf, 96, out, NULL, EVP_sha384(), NULL), 1);
	OPENSSL_free(der);
}

/* The signature section's data inside a signed image (the last section). */
static struct eif_blob section_of(const struct buf *img)
{
	struct eif_info info;
	assert_int_equal(eif_parse(img->p, img->len, &info, NULL), 0);
	assert_true(info.signature.len > 0);
	return info.signature;
}

static void expect_refused(const uint8_t *p, size_t len, const char *what)
{
	struct eif_info info;
	struct err e = {0};
	assert_true(eif_parse(p, len, &info, &e) < 0);
	if (!strstr(e.msg, what))
		fail_msg("want \"%s\" in \"%s\"", what, e.msg);
}

static void test_sign_round_trip_pcr8_by_definition(void **state)
{
	struct pair k = make_pair("P-384", "image signer");
	struct buf img, s1 = BUF_INIT(1 << 20), s2 = BUF_INIT(1 << 20);
	struct eif_info u, i1, i2;
	struct err e = {0};
	make_image(&img, "app");
	assert_int_equal(eif_parse(img.p, img.len, &u, NULL), 0);
	assert_false(u.pcrs.signed_image);
	assert_int_equal(eif_sign(img.p, img.len, k.key, k.cert, &s1, &i1, &e), 0);
	assert_int_equal(eif_sign(img.p, img.len, k.key, k.cert, &s2, &i2, &e), 0);
	/* the same measurements; PCR8 the certificate's */
	uint8_t want[48];
	pcr8_of(k.cert, want);
	assert_true(i1.pcrs.signed_image);
	assert_memory_equal(i1.pcrs.pcr8, want, 48);
	assert_memory_equal(i1.pcrs.pcr0, u.pcrs.pcr0, 48);
	assert_memory_equal(i1.pcrs.pcr1, u.pcrs.pcr1, 48);
	assert_memory_equal(i1.pcrs.pcr2, u.pcrs.pcr2, 48);
	assert_memory_equal(&i1.pcrs, &i2.pcrs, sizeof(i1.pcrs));
	/* ECDSA is randomised: two signings, two files */
	assert_true(s1.len != s2.len || memcmp(s1.p, s2.p, s1.len) != 0);
	/* the sections are untouched; one more slot, the signature last */
	assert_int_equal(i1.nsections, u.nsections + 1);
	assert_memory_equal(s1.p + EIF_HEADER_LEN, img.p + EIF_HEADER_LEN,
			    img.len - EIF_HEADER_LEN);
	assert_int_equal(eif_get_be(s1.p + 28 + 8 * u.nsections, 8), img.len);
	assert_int_equal(eif_get_be(s1.p + img.len, 2), EIF_SECTION_SIGNATURE);
	/* read again from the bytes alone */
	struct eif_info again;
	assert_int_equal(eif_parse(s1.p, s1.len, &again, &e), 0);
	assert_memory_equal(again.pcrs.pcr8, want, 48);
	/* another certificate, another PCR8 */
	struct pair k2 = make_pair("P-384", "next signer");
	struct buf s3 = BUF_INIT(1 << 20);
	assert_int_equal(eif_sign(img.p, img.len, k2.key, k2.cert, &s3, &i2, &e), 0);
	assert_memory_not_equal(i2.pcrs.pcr8, want, 48);
	assert_memory_equal(i2.pcrs.pcr0, u.pcrs.pcr0, 48);
	free_pair(&k);
	free_pair(&k2);
	buf_free(&img);
	buf_free(&s1);
	buf_free(&s2);
	buf_free(&s3);
}

/* serde_cbor's Vec<u8>: an array of integers, each in shortest form. */
static size_t read_byte_array(const struct ncbor *a, uint8_t *out, size_t cap)
{
	assert_true(ncbor_is(a, NCBOR_ARRAY));
	assert_true(a->n <= cap);
	for (size_t i = 0; i < a->n; i++) {
		assert_true(ncbor_is(&a->items[i], NCBOR_UINT));
		assert_true(a->items[i].v <= 255);
		out[i] = (uint8_t)a->items[i].v;
	}
	return a->n;
}

static void test_section_is_what_nitro_cli_writes(void **state)
{
	struct pair k = make_pair("P-384", "image signer");
	struct buf img, s = BUF_INIT(1 << 20);
	struct eif_info info;
	make_image(&img, "app");
	assert_int_equal(eif_sign(img.p, img.len, k.key, k.cert, &s, &info, NULL), 0);
	struct eif_blob sec = section_of(&s);
	/* 0x81: array(1); 0xa2: map(2); 0x73: text(19) "signing_certificate" */
	assert_memory_equal(sec.p, "\x81\xa2\x73signing_certificate\x99", 23);
	struct ncbor *root = NULL;
	assert_int_equal(ncbor_decode(sec.p, sec.len, sec.len, &root, NULL, ""), 0);
	const struct ncbor *m = &root->items[0];
	assert_true(ncbor_text_is(ncbor_map_key(m, 0), "signing_certificate"));
	assert_true(ncbor_text_is(ncbor_map_key(m, 1), "signature"));
	static uint8_t pem[8192], cose[1024];
	size_t pem_len = read_byte_array(ncbor_map_value(m, 0), pem, sizeof(pem));
	size_t cose_len = read_byte_array(ncbor_map_value(m, 1), cose, sizeof(cose));
	ncbor_free(root);
	/* the certificate as PEM, the one we signed with */
	assert_memory_equal(pem, "-----BEGIN CERTIFICATE-----\n", 28);
	BIO *b = BIO_new_mem_buf(pem, (int)pem_len);
	X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(c);
	assert_int_equal(X509_cmp(c, k.cert), 0);
	X509_free(c);
	/* COSE_Sign1 untagged, protected {1: -35}, unprotected {} */
	assert_memory_equal(cose, "\x84\x44\xa1\x01\x38\x22\xa0", 7);
	struct cose_sign1 cs;
	assert_int_equal(cose_sign1_decode(cose, cose_len, &cs, NULL), 0);
	/* payload: {"register_index": 0, "register_value": [48 bytes]} */
	uint8_t want[200];
	size_t n = 0;
	memcpy(want, "\xa2\x6eregister_index\x00\x6eregister_value\x98\x30", 34);
	n = 34;
	for (int i = 0; i < 48; i++) {
		uint8_t v = info.pcrs.pcr0[i];
		if (v >= 24)
			want[n++] = 0x18;
		want[n++] = v;
	}
	assert_int_equal(cs.payload_len, n);
	assert_memory_equal(cs.payload, want, n);
	assert_int_equal(cose_es384_verify(&cs, k.key, NULL), 0);
	cose_sign1_clear(&cs);
	free_pair(&k);
	buf_free(&img);
	buf_free(&s);
}

static void test_tampered_signatures_refused(void **state)
{
	struct pair k = make_pair("P-384", "image signer");
	struct pair k2 = make_pair("P-384", "someone else");
	struct buf a, bimg, sa = BUF_INIT(1 << 20), sb = BUF_INIT(1 << 20),
			    sb2 = BUF_INIT(1 << 20);
	struct eif_info info;
	make_image(&a, "app");
	make_image(&bimg, "other app");
	assert_int_equal(eif_sign(a.p, a.len, k.key, k.cert, &sa, &info, NULL), 0);
	assert_int_equal(eif_sign(bimg.p, bimg.len, k.key, k.cert, &sb, &info, NULL), 0);
	assert_int_equal(eif_sign(bimg.p, bimg.len, k2.key, k2.cert, &sb2, &info, NULL), 0);
	/* the last byte of s flipped (still a valid integer), CRC fixed */
	uint8_t *p = malloc(sa.len);
	assert_non_null(p);
	memcpy(p, sa.p, sa.len);
	p[sa.len - 1] ^= 1;
	fix_crc(p, sa.len);
	expect_refused(p, sa.len, "does not verify with the signing certificate");
	/* a ramdisk byte changed after signing: PCR0 is not the signed one */
	memcpy(p, sa.p, sa.len);
	p[548 + 12 + 12 + 12 + 13 + 12 + sizeof(META) - 1 + 12] ^= 1; /* "boot" */
	fix_crc(p, sa.len);
	expect_refused(p, sa.len, "signed for another image");
	free(p);
	/* image b's section on image a: a valid signature of another PCR0 */
	struct eif_blob sec = section_of(&sb);
	size_t len;
	p = attach(a.p, a.len, sec.p, sec.len, &len);
	expect_refused(p, len, "signs PCR0 = ");
	free(p);
	/* another certificate in a's section: the signature is not its key's */
	struct eif_blob sec_a = section_of(&sa), sec_b2 = section_of(&sb2);
	struct eif_signature da, db;
	assert_int_equal(eif_signature_decode(sec_a, &da, NULL), 0);
	assert_int_equal(eif_signature_decode(sec_b2, &db, NULL), 0);
	struct buf mixed = BUF_INIT(1 << 20);
	assert_int_equal(eif_signature_encode(
		(struct eif_blob){db.cert_pem, db.cert_pem_len},
		(struct eif_blob){da.cose, da.cose_len}, &mixed, NULL), 0);
	p = attach(a.p, a.len, mixed.p, mixed.len, &len);
	expect_refused(p, len, "does not verify with the signing certificate");
	free(p);
	eif_signature_clear(&da);
	eif_signature_clear(&db);
	buf_free(&mixed);
	free_pair(&k);
	free_pair(&k2);
	buf_free(&a);
	buf_free(&bimg);
	buf_free(&sa);
	buf_free(&sb);
	buf_free(&sb2);
}

/* The certificate text is one PEM block with only white space around it:
 * text before it, another block after it (even one that would not be read)
 * or other text after it are refused; white space is not. */
static void test_certificate_text_is_one_pem_block(void **state)
{
	(void)state;
	struct pair k = make_pair("P-384", "image signer");
	struct pair k2 = make_pair("P-384", "someone else");
	struct buf a, sa = BUF_INIT(1 << 20), s2 = BUF_INIT(1 << 20);
	struct eif_info info;
	make_image(&a, "app");
	assert_int_equal(eif_sign(a.p, a.len, k.key, k.cert, &sa, &info, NULL), 0);
	assert_int_equal(eif_sign(a.p, a.len, k2.key, k2.cert, &s2, &info, NULL), 0);
	struct eif_signature d, d2;
	assert_int_equal(eif_signature_decode(section_of(&sa), &d, NULL), 0);
	assert_int_equal(eif_signature_decode(section_of(&s2), &d2, NULL), 0);
	static const struct {
		const char *before, *after;
		bool other_cert, ok;
		const char *msg;
	} cases[] = {
		{"\n\n", "\n\n", false, true, NULL},
		{"Bag Attributes\n", "", false, false, "does not start with a PEM"},
		{"", "trailing text\n", false, false, "more than one PEM block"},
		{"", "", true, false, "more than one PEM block"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf pem = BUF_INIT(1 << 16), sec = BUF_INIT(1 << 20);
		assert_int_equal(buf_append(&pem, cases[i].before, strlen(cases[i].before)), 0);
		assert_int_equal(buf_append(&pem, d.cert_pem, d.cert_pem_len), 0);
		if (cases[i].other_cert)
			assert_int_equal(buf_append(&pem, d2.cert_pem, d2.cert_pem_len), 0);
		assert_int_equal(buf_append(&pem, cases[i].after, strlen(cases[i].after)), 0);
		assert_int_equal(eif_signature_encode((struct eif_blob){pem.p, pem.len},
						      (struct eif_blob){d.cose, d.cose_len},
						      &sec, NULL), 0);
		struct eif_signature got;
		struct err e = {0};
		int rc = eif_signature_decode((struct eif_blob){sec.p, sec.len}, &got, &e);
		if (cases[i].ok) {
			if (rc < 0)
				fail_msg("case %zu: %s", i, e.msg);
			assert_memory_equal(got.pcr8, d.pcr8, EIF_PCR_LEN);
			eif_signature_clear(&got);
		} else {
			assert_true(rc < 0);
			assert_non_null(strstr(e.msg, cases[i].msg));
			eif_signature_clear(&got);
		}
		buf_free(&pem);
		buf_free(&sec);
	}
	eif_signature_clear(&d);
	eif_signature_clear(&d2);
	free_pair(&k);
	free_pair(&k2);
	buf_free(&a);
	buf_free(&sa);
	buf_free(&s2);
}

static void test_malformed_sections_refused(void **state)
{
	struct pair k = make_pair("P-384", "image signer");
	struct buf a, sa = BUF_INIT(1 << 20);
	struct eif_info info;
	make_image(&a, "app");
	assert_int_equal(eif_sign(a.p, a.len, k.key, k.cert, &sa, &info, NULL), 0);
	struct eif_blob sec = section_of(&sa);
	size_t len;
	/* the section cut at every length (header and CRC made to agree) */
	for (size_t n = 1; n < sec.len; n++) {
		uint8_t *p = attach(a.p, a.len, sec.p, n, &len);
		struct eif_info i;
		struct err e = {0};
		assert_true(eif_parse(p, len, &i, &e) < 0);
		assert_true(e.msg[0] != '\0');
		free(p);
	}
	/* the file cut at every length from the signature section on */
	for (size_t n = a.len; n < sa.len; n++) {
		struct eif_info i;
		struct err e = {0};
		assert_true(eif_parse(sa.p, n, &i, &e) < 0);
		assert_true(e.msg[0] != '\0');
	}
	/* an integer not in shortest form: the certificate's first byte '-'
	 * (0x2d, "\x18\x2d") written as 0x19 0x00 0x2d */
	uint8_t *q = malloc(sec.len + 1);
	assert_non_null(q);
	size_t at = 22 + 3; /* after the key, 0x99 and its 2-byte length */
	assert_memory_equal(sec.p + at, "\x18\x2d", 2);
	memcpy(q, sec.p, at);
	memcpy(q + at, "\x19\x00\x2d", 3);
	memcpy(q + at + 3, sec.p + at + 2, sec.len - at - 2);
	uint8_t *p = attach(a.p, a.len, q, sec.len + 1, &len);
	expect_refused(p, len, "serde_cbor's encoding");
	free(p);
	/* a byte string where serde_cbor writes an array of integers */
	static const uint8_t bstr[] = "\x81\xa2\x73signing_certificate\x41X"
				      "\x69signature\x41Y";
	p = attach(a.p, a.len, bstr, sizeof(bstr) - 1, &len);
	expect_refused(p, len, "signing_certificate is not an array of bytes");
	free(p);
	/* an integer above 255 */
	static const uint8_t big[] = "\x81\xa2\x73signing_certificate\x81\x19\x01"
				     "\x00\x69signature\x81\x01";
	p = attach(a.p, a.len, big, sizeof(big) - 1, &len);
	expect_refused(p, len, "is not a byte");
	free(p);
	/* two signatures where nitro-cli writes one; an unknown key */
	static const uint8_t two[] = "\x82\xa0\xa0";
	p = attach(a.p, a.len, two, 3, &len);
	expect_refused(p, len, "array of one PcrSignature");
	free(p);
	static const uint8_t other[] = "\x81\xa2\x73signing_certificate\x81\x01"
				       "\x69signatura\x81\x01";
	p = attach(a.p, a.len, other, sizeof(other) - 1, &len);
	expect_refused(p, len, "signature section");
	free(p);
	/* a PEM that is not a certificate, encoded canonically */
	struct buf junk = BUF_INIT(4096);
	assert_int_equal(eif_signature_encode(
		(struct eif_blob){(const uint8_t *)"-----BEGIN X-----", 17},
		(struct eif_blob){(const uint8_t *)"\x84", 1}, &junk, NULL), 0);
	p = attach(a.p, a.len, junk.p, junk.len, &len);
	expect_refused(p, len, "does not start with a PEM CERTIFICATE block");
	free(p);
	buf_free(&junk);
	/* the signature section anywhere but last: a ramdisk's type turned
	 * into a signature */
	p = malloc(sa.len);
	assert_non_null(p);
	memcpy(p, sa.p, sa.len);
	eif_put_be(p + 548 + 12 + 12 + 12 + 13 + 12 + sizeof(META) - 1,
	       EIF_SECTION_SIGNATURE, 2);
	fix_crc(p, sa.len);
	expect_refused(p, sa.len, "out of place");
	free(p);
	free(q);
	free_pair(&k);
	buf_free(&a);
	buf_free(&sa);
}

static void test_sign_refusals_change_nothing(void **state)
{
	struct pair k = make_pair("P-384", "image signer");
	struct pair k2 = make_pair("P-384", "someone else");
	struct pair p256 = make_pair("P-256", "small curve");
	struct buf a, sa = BUF_INIT(1 << 20), out = BUF_INIT(1 << 20);
	struct eif_info info;
	struct err e = {0};
	make_image(&a, "app");
	assert_int_equal(eif_sign(a.p, a.len, k.key, k.cert, &sa, &info, NULL), 0);
	assert_int_equal(eif_sign(sa.p, sa.len, k.key, k.cert, &out, &info, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "already signed"));
	assert_int_equal(eif_sign(a.p, a.len, k2.key, k.cert, &out, &info, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not the key of the signing certificate"));
	assert_int_equal(eif_sign(a.p, a.len, p256.key, p256.cert, &out, &info, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not ECDSA P-384"));
	/* a damaged unsigned image is not signed either */
	a.p[a.len - 1] ^= 1;
	assert_int_equal(eif_sign(a.p, a.len, k.key, k.cert, &out, &info, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "CRC"));
	assert_int_equal(out.len, 0);
	free_pair(&k);
	free_pair(&k2);
	free_pair(&p256);
	buf_free(&a);
	buf_free(&sa);
	buf_free(&out);
}

static void test_signed_describe_has_nitro_clis_fields(void **state)
{
	struct pair k = make_pair("P-384", "image signer");
	struct buf a, sa = BUF_INIT(1 << 20);
	struct eif_info info;
	make_image(&a, "app");
	assert_int_equal(eif_sign(a.p, a.len, k.key, k.cert, &sa, &info, NULL), 0);
	json_t *o = NULL;
	assert_int_equal(eif_describe_json(&info, &o, NULL), 0);
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(s);
	char hex[2 * 48 + 3], want[160];
	hex_encode(info.pcrs.pcr8, 48, hex);
	snprintf(want, sizeof(want), "\"PCR8\":\"%s\"},\"IsSigned\":true,"
		 "\"SigningCertificate\":{\"IssuerName\":{", hex + 2);
	assert_non_null(strstr(s, want));
	assert_non_null(strstr(s, "\"IssuerName\":{\"commonName\":\"image signer\","
				  "\"countryName\":\"DE\"},\"Algorithm\":"
				  "\"ecdsa-with-SHA384\",\"NotBefore\":\""));
	assert_non_null(strstr(s, " GMT\",\"Signature\":\"30:"));
	assert_non_null(strstr(s, "\"},\"CheckCRC\":true,\"SignatureCheck\":true,"
				  "\"Arch\":\"x86_64\""));
	free(s);
	json_decref(o);
	/* the unsigned image: no PCR8, no certificate, no SignatureCheck */
	assert_int_equal(eif_parse(a.p, a.len, &info, NULL), 0);
	assert_int_equal(eif_describe_json(&info, &o, NULL), 0);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(s);
	assert_null(strstr(s, "PCR8"));
	assert_non_null(strstr(s, "\"IsSigned\":false,\"CheckCRC\":true,\"Arch\""));
	free(s);
	json_decref(o);
	free_pair(&k);
	buf_free(&a);
	buf_free(&sa);
}

/* The unsigned writer's bytes for a fixed image, pinned: signing support
 * must not change one byte of an unsigned image (or its PCRs). */
static void test_unsigned_image_bytes_unchanged(void **state)
{
	struct buf a;
	uint8_t md[32];
	char hex[2 * 32 + 3];
	make_image(&a, "app");
	assert_int_equal(EVP_Digest(a.p, a.len, md, NULL, EVP_sha256(), NULL), 1);
	hex_encode(md, sizeof(md), hex);
	assert_string_equal(hex, UNSIGNED_SHA256);
	buf_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_round_trip_pcr8_by_definition),
		cmocka_unit_test(test_section_is_what_nitro_cli_writes),
		cmocka_unit_test(test_tampered_signatures_refused),
		cmocka_unit_test(test_certificate_text_is_one_pem_block),
		cmocka_unit_test(test_malformed_sections_refused),
		cmocka_unit_test(test_sign_refusals_change_nothing),
		cmocka_unit_test(test_signed_describe_has_nitro_clis_fields),
		cmocka_unit_test(test_unsigned_image_bytes_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
