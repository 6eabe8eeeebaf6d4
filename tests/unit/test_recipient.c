/*
 * test_recipient.c: the Recipient key and CMS EnvelopedData opening.
 *
 * Real artefacts: the two KMS-made blobs of reference/kms-recipient (BER,
 * constructed and primitive [0] content) parse to exactly the encrypted key,
 * IV and ciphertext of their EXPECTED.json; their private key is not
 * public, so opening them with our key must fail cleanly. Round trips: blobs
 * made here with OpenSSL's CMS_encrypt (RSA-OAEP SHA-256, AES-256-CBC; DER
 * and streamed BER) open to the plaintext in secure memory, and each fault
 * (other key, SHA-1 OAEP, other cipher, two recipients, truncation, broken
 * padding) is refused with its own message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nitro/nitro.h"

static uint8_t *read_ref(const char *name, size_t *len)
{
	const char *dir = getenv("NS_REFERENCE_DIR");
	char path[1024];
	char *buf = NULL;
	snprintf(path, sizeof(path), "%s/kms-recipient/%s",
		 dir ? dir : "tests/vectors/reference", name);
	assert_int_equal(file_read_all(path, 1 << 20, &buf, len, NULL), 0);
	return (uint8_t *)buf;
}

static void assert_hex(const uint8_t *p, size_t len, const char *want)
{
	char *got = malloc(2 * len + 3);
	hex_encode(p, len, got);
	assert_string_equal(got + 2, want);
	free(got);
}

static void test_reference_blobs_parse_to_expected_fields(void **state)
{
	(void)state;
	size_t len;
	char *js = (char *)read_ref("EXPECTED.json", &len);
	json_t *j = json_loadb(js, len, 0, NULL);
	free(js);
	json_t *vectors = json_object_get(j, "vectors"), *v;
	size_t i;
	assert_int_equal(json_array_size(vectors), 2);
	json_array_foreach(vectors, i, v) {
		size_t blen;
		uint8_t *blob = read_ref(json_string_value(json_object_get(v, "file")),
					 &blen);
		json_t *x = json_object_get(v, "expected");
		struct recipient_cms_info info;
		struct err e = {0};
		if (recipient_cms_inspect(blob, blen, &info, &e) < 0)
			fail_msg("%zu: %s", i, e.msg);
		assert_hex(info.encrypted_key, info.encrypted_key_len,
			   json_string_value(json_object_get(x, "encrypted_key")));
		assert_hex(info.iv, info.iv_len,
			   json_string_value(json_object_get(x, "iv")));
		assert_hex(info.ciphertext, info.ciphertext_len,
			   json_string_value(json_object_get(x, "ciphertext")));
		assert_int_equal(info.ktri_version, 2);
		assert_int_equal(info.oaep_hash_nid, NID_sha256);
		assert_int_equal(info.oaep_mgf1_nid, NID_sha256);
		assert_false(info.oaep_label);
		assert_int_equal(info.content_cipher_nid, NID_aes_256_cbc);
		recipient_cms_info_clear(&info);

		/* OpenSSL's CMS reader takes both encodings too. */
		const uint8_t *p = blob;
		CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)blen);
		assert_non_null(cms);
		assert_ptr_equal(p, blob + blen);
		CMS_ContentInfo_free(cms);
		free(blob);
	}
	json_decref(j);
}

static void test_reference_blobs_refuse_another_key(void **state)
{
	struct recipient *r = *state;
	const char *files[] = {"cms-envelopeddata-1.ber",
			       "cms-envelopeddata-2-primitive-content.ber"};
	for (int i = 0; i < 2; i++) {
		size_t len;
		uint8_t *blob = read_ref(files[i], &len);
		/* Every time: a key that does not unwrap must not fall through to
		 * a random content key whose padding check passes 1 time in 256. */
		for (int k = 0; k < 1024; k++) {
			struct secret *pt = NULL;
			struct err e = {0};
			assert_int_equal(recipient_open(r, blob, len, &pt, &e),
					 -ERR_CRYPTO);
			assert_null(pt);
			assert_non_null(strstr(e.msg, "cannot unwrap the content key"));
		}
		free(blob);
	}
}

static void test_public_key_is_rsa2048_spki(void **state)
{
	struct recipient *r = *state;
	size_t len;
	const uint8_t *spki = recipient_public_key(r, &len);
	/* kmstool's SPKI: 294 bytes, rsaEncryption with NULL parameters. */
	assert_int_equal(len, 294);
	assert_hex(spki, 19, "30820122300d06092a864886f70d0101010500");
	const uint8_t *p = spki;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_bits(k), 2048);
	BIGNUM *e = NULL;
	assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e));
	assert_int_equal(BN_get_word(e), 65537);
	BN_free(e);
	EVP_PKEY_free(k);
}

/* ---- blobs made here ---------------------------------------------------------- */

/* A throwaway certificate around an SPKI: CMS wants an X509 recipient. */
static X509 *cert_for(const struct recipient *r)
{
	size_t len;
	const uint8_t *p = recipient_public_key(r, &len);
	EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)len);
	EVP_PKEY *signer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	assert_non_null(pub);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const uint8_t *)"recipient", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pub);
	/* CMS_USE_KEYID (an SKI rid, as KMS sends) needs the extension. */
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ski = X509V3_EXT_conf_nid(NULL, &ctx,
						  NID_subject_key_identifier,
						  "hash");
	assert_non_null(ski);
	X509_add_ext(x, ski, -1);
	X509_EXTENSION_free(ski);
	assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(signer);
	return x;
}

struct cms_opts {
	const EVP_MD *oaep_md;
	const EVP_CIPHER *cipher;
	bool stream;           /* BER, indefinite, constructed [0] */
	const struct recipient *second; /* another recipient */
	long drop_ct;          /* bytes cut from the encrypted content */
};

static uint8_t *make_cms(const struct recipient *to, const uint8_t *pt,
			 size_t pt_len, const struct cms_opts *o, size_t *len)
{
	unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_KEY_PARAM |
			 (o->stream ? CMS_STREAM : 0);
	CMS_ContentInfo *cms = CMS_encrypt(NULL, NULL,
					   o->cipher ? o->cipher : EVP_aes_256_cbc(),
					   flags);
	assert_non_null(cms);
	const struct recipient *rs[2] = {to, o->second};
	for (int i = 0; i < 2 && rs[i]; i++) {
		X509 *cert = cert_for(rs[i]);
		CMS_RecipientInfo *ri = CMS_add1_recipient_cert(
			cms, cert, flags | CMS_USE_KEYID);
		assert_non_null(ri);
		EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
		const EVP_MD *md = o->oaep_md ? o->oaep_md : EVP_sha256();
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0);
		X509_free(cert);
	}
	BIO *in = BIO_new_mem_buf(pt, (int)pt_len), *out = BIO_new(BIO_s_mem());
	if (o->stream) {
		assert_int_equal(i2d_CMS_bio_stream(out, cms, in, (int)flags), 1);
	} else {
		assert_int_equal(CMS_final(cms, in, NULL, flags), 1);
		if (o->drop_ct) {
			ASN1_OCTET_STRING **ct = CMS_get0_content(cms);
			int n = ASN1_STRING_length(*ct);
			uint8_t *copy = malloc((size_t)n);
			memcpy(copy, ASN1_STRING_get0_data(*ct), (size_t)n);
			ASN1_STRING_set(*ct, copy, n - (int)o->drop_ct);
			free(copy);
		}
		assert_int_equal(i2d_CMS_bio(out, cms), 1);
	}
	char *data;
	long n = BIO_get_mem_data(out, &data);
	uint8_t *blob = malloc((size_t)n);
	memcpy(blob, data, (size_t)n);
	*len = (size_t)n;
	BIO_free(in);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return blob;
}

static int open_blob(const struct recipient *r, const uint8_t *blob, size_t len,
		     struct secret **pt, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return recipient_open(r, blob, len, pt, e);
}

static void test_round_trips_der_and_streamed_ber(void **state)
{
	struct recipient *r = *state;
	const size_t sizes[] = {1, 32, 100, 4096};
	uint8_t pt[4096];
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 7 + 3);
	for (size_t s = 0; s < 4; s++) {
		for (int stream = 0; stream < 2; stream++) {
			struct cms_opts o = {.stream = stream};
			size_t len;
			uint8_t *blob = make_cms(r, pt, sizes[s], &o, &len);
			if (stream)
				assert_int_equal(blob[1], 0x80); /* indefinite */
			struct secret *out = NULL;
			struct err e;
			uint64_t live = secret_stats_live();
			if (open_blob(r, blob, len, &out, &e) < 0)
				fail_msg("size %zu stream %d: %s", sizes[s], stream,
					 e.msg);
			assert_int_equal(secret_stats_live(), live + 1);
			assert_int_equal(out->len, sizes[s]);
			assert_memory_equal(out->bytes, pt, sizes[s]);
			secret_free(out);
			assert_int_equal(secret_stats_live(), live);
			free(blob);
		}
	}
}

static void test_other_recipient_key_refused(void **state)
{
	struct recipient *r = *state, *other = NULL;
	assert_int_equal(recipient_new(&other, NULL), 0);
	struct cms_opts o = {0};
	size_t len;
	uint8_t *blob = make_cms(other, (const uint8_t *)"secret key bytes", 16,
				 &o, &len);
	struct secret *pt = NULL;
	struct err e;
	assert_int_equal(open_blob(r, blob, len, &pt, &e), -ERR_CRYPTO);
	assert_null(pt);
	assert_int_equal(open_blob(other, blob, len, &pt, &e), 0);
	secret_free(pt);
	free(blob);
	recipient_free(other);
}

static void test_sha1_oaep_refused(void **state)
{
	struct recipient *r = *state;
	struct cms_opts o = {.oaep_md = EVP_sha1()};
	size_t len;
	uint8_t *blob = make_cms(r, (const uint8_t *)"0123456789abcdef", 16, &o,
				 &len);
	struct secret *pt = NULL;
	struct err e;
	assert_int_equal(open_blob(r, blob, len, &pt, &e), -ERR_CRYPTO);
	assert_string_equal(e.msg, "CMS: OAEP hash is SHA-1 (default), want SHA-256");
	free(blob);
}

static void test_other_content_cipher_refused(void **state)
{
	struct recipient *r = *state;
	struct cms_opts o = {.cipher = EVP_aes_128_cbc()};
	size_t len;
	uint8_t *blob = make_cms(r, (const uint8_t *)"x", 1, &o, &len);
	struct secret *pt = NULL;
	struct err e;
	assert_int_equal(open_blob(r, blob, len, &pt, &e), -ERR_CRYPTO);
	assert_string_equal(e.msg, "CMS: content cipher is not AES-256-CBC");
	free(blob);
}

static void test_two_recipients_refused(void **state)
{
	struct recipient *r = *state;
	struct cms_opts o = {.second = r};
	size_t len;
	uint8_t *blob = make_cms(r, (const uint8_t *)"x", 1, &o, &len);
	struct secret *pt = NULL;
	struct err e;
	assert_int_equal(open_blob(r, blob, len, &pt, &e), -ERR_INVALID);
	assert_string_equal(e.msg, "CMS: 2 recipients, want exactly one");
	free(blob);
}

static void test_truncated_blobs_refused(void **state)
{
	struct recipient *r = *state;
	uint8_t pt[48];
	memset(pt, 'A', sizeof(pt));
	for (int stream = 0; stream < 2; stream++) {
		struct cms_opts o = {.stream = stream};
		size_t len;
		uint8_t *blob = make_cms(r, pt, sizeof(pt), &o, &len);
		for (size_t cut = 0; cut < len; cut += (cut < 40 ? 1 : 17)) {
			struct secret *out = NULL;
			struct err e;
			assert_true(open_blob(r, blob, cut, &out, &e) < 0);
			assert_null(out);
		}
		free(blob);
	}
	/* Ciphertext shortened inside a well-formed blob. */
	struct cms_opts partial = {.drop_ct = 5};
	size_t len;
	uint8_t *blob = make_cms(r, pt, sizeof(pt), &partial, &len);
	struct secret *out = NULL;
	struct err e;
	assert_int_equal(open_blob(r, blob, len, &out, &e), -ERR_CRYPTO);
	assert_non_null(strstr(e.msg, "whole AES blocks"));
	free(blob);
	/* The padding block dropped: block 3 ends in 'A' (65), bad padding. */
	struct cms_opts block = {.drop_ct = 16};
	blob = make_cms(r, pt, sizeof(pt), &block, &len);
	assert_int_equal(open_blob(r, blob, len, &out, &e), -ERR_CRYPTO);
	assert_non_null(strstr(e.msg, "bad padding"));
	free(blob);
}

/*
 * Tampering: in DER the encrypted content is the blob's tail. Flipping the
 * last byte of the next-to-last block turns the final padding byte 0x10
 * into 0x11: a padding failure. Flipping a byte of the first block gives
 * garbage that CBC cannot detect (no integrity in CMS EnvelopedData; what
 * KMS returns is checked further up, e.g. AES-GCM envelopes).
 */
static void test_tampered_content(void **state)
{
	struct recipient *r = *state;
	uint8_t pt[48];
	memset(pt, 'A', sizeof(pt));
	struct cms_opts o = {0};
	size_t len;
	uint8_t *blob = make_cms(r, pt, sizeof(pt), &o, &len);
	struct recipient_cms_info info;
	assert_int_equal(recipient_cms_inspect(blob, len, &info, NULL), 0);
	assert_int_equal(info.ciphertext_len, 64);
	assert_memory_equal(blob + len - 64, info.ciphertext, 64);
	recipient_cms_info_clear(&info);
	struct secret *out = NULL;
	struct err e;
	blob[len - 17] ^= 0x01;
	assert_int_equal(open_blob(r, blob, len, &out, &e), -ERR_CRYPTO);
	assert_non_null(strstr(e.msg, "bad padding"));
	blob[len - 17] ^= 0x01;
	blob[len - 64] ^= 0x01;
	assert_int_equal(open_blob(r, blob, len, &out, &e), 0);
	assert_int_equal(out->len, 48);
	assert_memory_not_equal(out->bytes, pt, 48);
	secret_free(out);
	free(blob);
}

static void test_garbage_and_oversized_refused(void **state)
{
	struct recipient *r = *state;
	uint8_t junk[64];
	memset(junk, 0x30, sizeof(junk));
	struct secret *out = NULL;
	struct err e;
	assert_true(open_blob(r, junk, sizeof(junk), &out, &e) < 0);
	uint8_t *big = calloc(1, NITRO_CMS_MAX + 1);
	assert_int_equal(open_blob(r, big, NITRO_CMS_MAX + 1, &out, &e),
			 -ERR_TOO_LARGE);
	free(big);
	struct recipient *bad = NULL;
	assert_int_equal(recipient_from_private_pem("nope", 4, &bad, &e),
			 -ERR_INVALID);
}

static int key_setup(void **state)
{
	struct recipient *r = NULL;
	assert_int_equal(recipient_new(&r, NULL), 0);
	*state = r;
	return 0;
}

static int key_teardown(void **state)
{
	recipient_free(*state);
	return 0;
}

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_blobs_parse_to_expected_fields),
		cmocka_unit_test(test_reference_blobs_refuse_another_key),
		cmocka_unit_test(test_public_key_is_rsa2048_spki),
		cmocka_unit_test(test_round_trips_der_and_streamed_ber),
		cmocka_unit_test(test_other_recipient_key_refused),
		cmocka_unit_test(test_sha1_oaep_refused),
		cmocka_unit_test(test_other_content_cipher_refused),
		cmocka_unit_test(test_two_recipients_refused),
		cmocka_unit_test(test_truncated_blobs_refused),
		cmocka_unit_test(test_tampered_content),
		cmocka_unit_test(test_garbage_and_oversized_refused),
	};
	return cmocka_run_group_tests(tests, key_setup, key_teardown);
}
