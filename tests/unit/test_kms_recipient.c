/*
 * test_kms_recipient.c: KMS with Recipient end to end, C on one side and
 * the KMS stand-in (tests/standins/recipient.mjs: Node's crypto and its own
 * CBOR decoder) on the other. The stand-in trusts the NSM simulator's root;
 * a key's policy pins the simulator's PCR0; the C client sends Decrypt /
 * GenerateDataKey / GenerateRandom with a simulator document carrying the
 * ephemeral RSA key, and src/nitro opens the CiphertextForRecipient into a
 * struct secret. A key pinned to PCR8 (a signed image's certificate, the
 * simulator's DIR/pcr8.hex) decrypts for that PCR8 and refuses an enclave
 * reporting another (the zero PCR8 of an unsigned image) and a key pinned
 * to another PCR8 refuses it. Refusals: another PCR0 (key policy and simulator), no
 * Recipient, a flipped byte, another COSE algorithm, a signature over another
 * payload, a chain out of order or expired at the timestamp, another root, a
 * stale document. The genuine AWS documents in reference/nitro-attestation
 * pass the stand-in's signature and chain checks under AWS's root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <openssl/obj_mac.h>
#include <time.h>

#include "aws/aws.h"
#include "nitro/nitro.h"
#include "test_aws_standins.h"

#ifdef NS_NSM_SIMULATOR

#define PRINCIPAL "arn:aws:iam::111122223333:role/operator"
/* PCR0 the simulator is told to report (DIR/pcr0.hex), and one it is not. */
#define SIM_PCR0                                                              \
	"5d3938eb05288e20a981038b1861062ff4174884968a39aee5982b312894e60561883" \
	"576cc7381d39a3e4f4efcd6d4b2"
#define OTHER_PCR0                                                            \
	"f2e2d2c2b2a292827262524232221202f1e1d1c1b1a191817161514131211101" \
	"f0e0d0c0b0a090807060504030201000"

static struct aws_creds_provider *g_env;
static struct nsm *g_nsm;          /* the simulator the stand-in trusts */
static struct recipient *g_rcp;    /* the enclave's ephemeral RSA key */
static char g_simdir[64], g_simdir2[64];
static char g_root_pem_path[128];
static char g_pcr0_hex[2 * NITRO_PCR_LEN_MAX + 1];
static char g_key_pcr0[128];   /* Decrypt/GenerateDataKey need PCR0 = sim */
static char g_key_image[128];  /* ... ImageSha384 = sim */
static char g_key_other[128];  /* ... PCR0 = OTHER_PCR0 */
static char g_key_pcr8[128];   /* ... PCR8 = SIM_PCR8 (the signing cert) */
static char g_key_pcr8_other[128]; /* ... PCR8 = OTHER_PCR0's value */
/* PCR8 the simulator reports (DIR/pcr8.hex): a signing certificate's. */
#define SIM_PCR8                                                              \
	"8d1cb5e1e0dd5a08a7f1d3ff2d3a4e1c0b6a1bd1e6aa44f8b1c45bb52e1e3e4d" \
	"64c9a59e2eb3e97c4ad0b3bbfa9b6a71"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char p[512];
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void hex_lower(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* A key whose Encrypt is the operator's and whose Decrypt/GenerateDataKey
 * need the attested condition `cond` = value. */
static void create_pinned_key(const char *cond, const char *value, char *arn,
			      size_t arn_size)
{
	char policy[2048];
	snprintf(policy, sizeof(policy),
		 "{\"Version\":\"2012-10-17\",\"Statement\":["
		 "{\"Sid\":\"operator\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"%s\"},"
		 "\"Action\":[\"kms:Encrypt\",\"kms:DescribeKey\"],\"Resource\":\"*\"},"
		 "{\"Sid\":\"enclave\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"%s\"},"
		 "\"Action\":[\"kms:Decrypt\",\"kms:GenerateDataKey\"],\"Resource\":\"*\","
		 "\"Condition\":{\"StringEqualsIgnoreCase\":{\"%s\":\"%s\"}}}]}",
		 PRINCIPAL, PRINCIPAL, cond, value);
	assert_int_equal(standin_create_key(policy, arn, arn_size), 0);
}

/* Root and freshness of the stand-in's attestation check. */
static void standin_attestation(const char *root_pem, int max_age_s)
{
	json_t *req = json_pack("{s:s,s:i}", "rootPem", root_pem,
				"maxAgeSeconds", max_age_s);
	char *body = json_dumps(req, 0);
	json_t *r = standin_admin("AWS_ENDPOINT_URL_KMS", "attestation", body);
	assert_non_null(json_object_get(r, "rootSha256"));
	json_decref(r);
	free(body);
	json_decref(req);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

static int group_setup(void **state)
{
	(void)state;
	secret_init();
	struct err e = {0};
	snprintf(g_simdir, sizeof(g_simdir), "/tmp/ns-kms-rcp-XXXXXX");
	snprintf(g_simdir2, sizeof(g_simdir2), "/tmp/ns-kms-rcp2-XXXXXX");
	if (!mkdtemp(g_simdir) || !mkdtemp(g_simdir2))
		return -1;
	char p[256], spec[128];
	snprintf(p, sizeof(p), "%s/pcr0.hex", g_simdir);
	write_file(p, "0x" SIM_PCR0 "\n"); /* the simulator wants 0x */
	snprintf(p, sizeof(p), "%s/pcr8.hex", g_simdir);
	write_file(p, SIM_PCR8 "\n");
	snprintf(spec, sizeof(spec), "sim:%s", g_simdir);
	if (nsm_open(spec, &g_nsm, &e) != 0) {
		fprintf(stderr, "nsm_open: %s\n", e.msg);
		return -1;
	}
	/* PCR0 as the simulator reports it, for the policies. */
	uint8_t pcr[NITRO_PCR_LEN_MAX];
	size_t pcr_len = 0;
	bool locked;
	if (nsm_describe_pcr(g_nsm, 0, &locked, pcr, &pcr_len, &e) != 0)
		return -1;
	hex_lower(pcr, pcr_len, g_pcr0_hex);
	snprintf(g_root_pem_path, sizeof(g_root_pem_path), "%s/root.pem", g_simdir);
	setenv("KMS_STANDIN_ATTESTATION_ROOT", g_root_pem_path, 1);
	if (standins_start() < 0)
		return -1;
	unsetenv("KMS_STANDIN_ATTESTATION_ROOT");
	g_env = aws_creds_env_new(&e);
	if (!g_env || recipient_new(&g_rcp, &e) != 0)
		return -1;
	/* Upper case on purpose: the condition is StringEqualsIgnoreCase. */
	char upper[sizeof(g_pcr0_hex)];
	for (size_t i = 0; i <= strlen(g_pcr0_hex); i++)
		upper[i] = (char)toupper((unsigned char)g_pcr0_hex[i]);
	create_pinned_key("kms:RecipientAttestation:PCR0", upper, g_key_pcr0,
			  sizeof(g_key_pcr0));
	create_pinned_key("kms:RecipientAttestation:ImageSha384", g_pcr0_hex,
			  g_key_image, sizeof(g_key_image));
	create_pinned_key("kms:RecipientAttestation:PCR0", OTHER_PCR0, g_key_other,
			  sizeof(g_key_other));
	create_pinned_key("kms:RecipientAttestation:PCR8", SIM_PCR8, g_key_pcr8,
			  sizeof(g_key_pcr8));
	create_pinned_key("kms:RecipientAttestation:PCR8", OTHER_PCR0,
			  g_key_pcr8_other, sizeof(g_key_pcr8_other));
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	recipient_free(g_rcp);
	nsm_close(g_nsm);
	aws_creds_provider_free(g_env);
	standins_stop();
	rm_dir(g_simdir);
	rm_dir(g_simdir2);
	return 0;
}

static struct aws_client *client(void)
{
	struct aws_client_opts o = {.creds = g_env, .base_delay_ms = 5,
				    .max_delay_ms = 50};
	struct err e = {0};
	struct aws_client *c = aws_client_new(&o, &e);
	if (!c)
		fail_msg("aws_client_new: %s", e.msg);
	return c;
}

/* A document from simulator n binding the ephemeral key. */
static void attest(struct nsm *n, uint8_t **doc, size_t *len)
{
	size_t pk_len;
	const uint8_t *pk = recipient_public_key(g_rcp, &pk_len);
	struct nsm_attest_req req = {.public_key = pk, .public_key_len = pk_len};
	struct err e = {0};
	if (nsm_attest(n, &req, doc, len, &e) != 0)
		fail_msg("nsm_attest: %s", e.msg);
}

static uint8_t *encrypt_under(struct aws_client *c, const char *key,
			      const uint8_t *pt, size_t n, size_t *blob_len)
{
	uint8_t *blob;
	struct err e = {0};
	if (aws_kms_encrypt(c, key, pt, n, NULL, &blob, blob_len, &e) != 0)
		fail_msg("encrypt: %s", e.msg);
	return blob;
}

/* Decrypt with this document as Recipient: 0 and the opened plaintext, or
 * the error (message in e). */
static int decrypt_with(struct aws_client *c, const uint8_t *blob, size_t blen,
			const uint8_t *doc, size_t doc_len,
			struct secret **pt, struct err *e)
{
	struct aws_kms_recipient r = {doc, doc_len};
	struct aws_kms_plain p;
	memset(&p, 0, sizeof(p));
	int rc = aws_kms_decrypt(c, NULL, blob, blen, NULL, &r, &p, e);
	if (rc == 0) {
		assert_null(p.plaintext); /* no Plaintext beside the CMS */
		assert_non_null(p.for_recipient);
		rc = recipient_open(g_rcp, p.for_recipient, p.for_recipient_len,
				    pt, e);
		assert_int_equal(rc, 0);
	}
	aws_kms_plain_clear(&p);
	return rc;
}

/* The document is refused by the stand-in with a message containing want. */
static void assert_doc_refused(const uint8_t *doc, size_t len, const char *want)
{
	struct aws_client *c = client();
	static const uint8_t secret[] = "refused";
	size_t blen;
	uint8_t *blob = encrypt_under(c, g_key_pcr0, secret, sizeof(secret), &blen);
	struct secret *pt = NULL;
	struct err e = {0};
	standin_reset("AWS_ENDPOINT_URL_KMS");
	assert_true(decrypt_with(c, blob, blen, doc, len, &pt, &e) < 0);
	assert_null(pt);
	if (!strstr(e.msg, want))
		fail_msg("expected \"%s\" in: %s", want, e.msg);
	/* A refusal is final: not retried. */
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "Decrypt"), 1);
	free(blob);
	aws_client_free(c);
}

/* ---- COSE_Sign1 surgery (the layout of reference/nitro-kms.md 2.1) ------ */

struct cose_parts {
	size_t payload_off, payload_len, sig_off;
};

static size_t bstr_at(const uint8_t *d, size_t len, size_t off, size_t *n)
{
	assert_true(off < len && (d[off] >> 5) == 2);
	uint8_t ai = d[off] & 31;
	if (ai < 24) {
		*n = ai;
		return off + 1;
	}
	assert_true(ai >= 24 && ai <= 26);
	size_t w = (size_t)1 << (ai - 24), v = 0;
	assert_true(off + 1 + w <= len);
	for (size_t i = 0; i < w; i++)
		v = v << 8 | d[off + 1 + i];
	*n = v;
	return off + 1 + w;
}

static struct cose_parts cose_split(const uint8_t *d, size_t len)
{
	struct cose_parts c;
	size_t n;
	assert_int_equal(d[0], 0x84);
	size_t off = bstr_at(d, len, 1, &n) + n; /* protected */
	assert_int_equal(d[off], 0xa0);          /* unprotected {} */
	c.payload_off = bstr_at(d, len, off + 1, &c.payload_len);
	c.sig_off = bstr_at(d, len, c.payload_off + c.payload_len, &n);
	assert_int_equal(n, 96);
	assert_int_equal(c.sig_off + 96, len);
	return c;
}

/* The payload of a simulator document, parsed for editing. */
static struct attestation_doc *fresh_payload(struct nsm *n)
{
	uint8_t *doc;
	size_t len;
	attest(n, &doc, &len);
	struct attestation_doc *d;
	struct err e = {0};
	assert_int_equal(attestation_parse(doc, len, &d, &e), 0);
	free(doc);
	return d;
}

static void sign_payload(const struct attestation_doc *d, uint8_t **doc,
			 size_t *len)
{
	uint8_t *payload;
	size_t plen;
	struct err e = {0};
	assert_int_equal(attestation_payload_encode(d, &payload, &plen, &e), 0);
	if (nsm_sim_sign_payload(g_nsm, payload, plen, doc, len, &e) != 0)
		fail_msg("sign: %s", e.msg);
	free(payload);
}

/* ---- the happy paths ------------------------------------------------------ */

/* A secret of n bytes encrypted under key opens, through Decrypt with this
 * document as Recipient, to the same bytes. */
static void assert_doc_accepted(const char *key, const uint8_t *doc,
				size_t dlen, size_t n)
{
	struct aws_client *c = client();
	uint8_t *secret = malloc(n);
	for (size_t i = 0; i < n; i++)
		secret[i] = (uint8_t)(i * 131 + 7);
	size_t blen;
	uint8_t *blob = encrypt_under(c, key, secret, n, &blen);
	struct secret *pt = NULL;
	struct err e = {0};
	if (decrypt_with(c, blob, blen, doc, dlen, &pt, &e) != 0)
		fail_msg("document refused: %s", e.msg);
	assert_int_equal(pt->len, n);
	assert_memory_equal(pt->bytes, secret, n);
	secret_free(pt);
	free(blob);
	free(secret);
	aws_client_free(c);
}

static void check_round_trip(const char *key, size_t n)
{
	uint8_t *doc;
	size_t dlen;
	attest(g_nsm, &doc, &dlen);
	assert_doc_accepted(key, doc, dlen, n);
	free(doc);
}

static void test_decrypt_with_recipient_opens_to_the_secret(void **state)
{
	(void)state;
	/* Short, one AES block exactly, and KMS's maximum: the stand-in
	 * alternates the two CMS content encodings, so both are met. */
	check_round_trip(g_key_pcr0, 17);
	check_round_trip(g_key_pcr0, 16);
	check_round_trip(g_key_pcr0, AWS_KMS_MAX_PLAINTEXT);
	check_round_trip(g_key_pcr0, AWS_KMS_MAX_PLAINTEXT - 1);
	/* What the stand-in attested: the simulator's PCR0, lower-case. */
	json_t *last = standin_admin("AWS_ENDPOINT_URL_KMS", "last-request", NULL);
	json_t *cond = json_object_get(json_object_get(last, "attested"), "conditions");
	assert_string_equal(json_string_value(json_object_get(
				    cond, "kms:RecipientAttestation:ImageSha384")),
			    g_pcr0_hex);
	assert_string_equal(json_string_value(json_object_get(
				    cond, "kms:RecipientAttestation:PCR0")),
			    g_pcr0_hex);
	json_decref(last);
}

static void test_simulator_reports_the_configured_pcr0(void **state)
{
	(void)state;
	assert_string_equal(g_pcr0_hex, SIM_PCR0);
}

static void test_image_sha384_condition_accepts_the_image(void **state)
{
	(void)state;
	check_round_trip(g_key_image, 32);
}

static void test_cms_from_the_standin_has_kms_shape(void **state)
{
	(void)state;
	struct aws_client *c = client();
	size_t blen;
	uint8_t *blob = encrypt_under(c, g_key_pcr0, (const uint8_t *)"shape", 5, &blen);
	for (int i = 0; i < 2; i++) {
		uint8_t *doc;
		size_t dlen;
		attest(g_nsm, &doc, &dlen);
		struct aws_kms_recipient r = {doc, dlen};
		struct aws_kms_plain p;
		struct err e = {0};
		memset(&p, 0, sizeof(p));
		if (aws_kms_decrypt(c, NULL, blob, blen, NULL, &r, &p, &e) != 0)
			fail_msg("decrypt: %s", e.msg);
		/* BER with indefinite lengths, as KMS sends it. */
		assert_true(p.for_recipient_len > 4);
		assert_int_equal(p.for_recipient[0], 0x30);
		assert_int_equal(p.for_recipient[1], 0x80);
		struct recipient_cms_info info;
		assert_int_equal(recipient_cms_inspect(p.for_recipient,
						       p.for_recipient_len, &info, &e), 0);
		assert_int_equal(info.ktri_version, 2);
		assert_int_equal(info.oaep_hash_nid, NID_sha256);
		assert_int_equal(info.oaep_mgf1_nid, NID_sha256);
		assert_false(info.oaep_label);
		assert_int_equal(info.content_cipher_nid, NID_aes_256_cbc);
		assert_int_equal(info.encrypted_key_len, 256);
		assert_int_equal(info.iv_len, 16);
		assert_int_equal(info.ciphertext_len, 16);
		recipient_cms_info_clear(&info);
		aws_kms_plain_clear(&p);
		free(doc);
	}
	free(blob);
	aws_client_free(c);
}

static void test_generate_data_key_with_recipient_round_trip(void **state)
{
	(void)state;
	struct aws_client *c = client();
	uint8_t *doc;
	size_t dlen;
	attest(g_nsm, &doc, &dlen);
	struct aws_kms_recipient r = {doc, dlen};
	struct aws_kms_data_key dk;
	struct err e = {0};
	memset(&dk, 0, sizeof(dk));
	if (aws_kms_generate_data_key(c, g_key_pcr0, "AES_256", NULL, &r, &dk, &e) != 0)
		fail_msg("GenerateDataKey: %s", e.msg);
	assert_null(dk.plain.plaintext);
	assert_non_null(dk.blob);
	struct secret *key = NULL;
	assert_int_equal(recipient_open(g_rcp, dk.plain.for_recipient,
					dk.plain.for_recipient_len, &key, &e), 0);
	assert_int_equal(key->len, 32);
	/* The stored CiphertextBlob decrypts (again attested) to the same key. */
	struct secret *again = NULL;
	uint8_t *doc2;
	size_t dlen2;
	attest(g_nsm, &doc2, &dlen2);
	if (decrypt_with(c, dk.blob, dk.blob_len, doc2, dlen2, &again, &e) != 0)
		fail_msg("decrypt: %s", e.msg);
	assert_int_equal(again->len, 32);
	assert_memory_equal(again->bytes, key->bytes, 32);
	secret_free(key);
	secret_free(again);
	aws_kms_data_key_clear(&dk);
	free(doc);
	free(doc2);
	aws_client_free(c);
}

static void test_generate_random_with_recipient_round_trip(void **state)
{
	(void)state;
	struct aws_client *c = client();
	struct secret *out[2] = {NULL, NULL};
	for (int i = 0; i < 2; i++) {
		uint8_t *doc;
		size_t dlen;
		attest(g_nsm, &doc, &dlen);
		struct aws_kms_recipient r = {doc, dlen};
		struct aws_kms_plain p;
		struct err e = {0};
		memset(&p, 0, sizeof(p));
		if (aws_kms_generate_random(c, 1024, &r, &p, &e) != 0)
			fail_msg("GenerateRandom: %s", e.msg);
		assert_null(p.plaintext);
		assert_int_equal(recipient_open(g_rcp, p.for_recipient,
						p.for_recipient_len, &out[i], &e), 0);
		assert_int_equal(out[i]->len, 1024);
		aws_kms_plain_clear(&p);
		free(doc);
	}
	assert_memory_not_equal(out[0]->bytes, out[1]->bytes, 1024);
	secret_free(out[0]);
	secret_free(out[1]);
	aws_client_free(c);
}

static void test_throttled_recipient_call_retried_with_the_same_document(void **state)
{
	(void)state;
	standin_reset("AWS_ENDPOINT_URL_KMS"); /* clears counts and faults */
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"Decrypt\",\"kind\":\"throttle\",\"count\":2}]");
	check_round_trip(g_key_pcr0, 48);
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "Decrypt"), 3);
	standin_faults("AWS_ENDPOINT_URL_KMS", "[]");
}

/* ---- the policy refuses ------------------------------------------------- */

static void test_decrypt_without_recipient_refused(void **state)
{
	(void)state;
	struct aws_client *c = client();
	size_t blen;
	uint8_t *blob = encrypt_under(c, g_key_pcr0, (const uint8_t *)"x", 1, &blen);
	struct aws_kms_plain p;
	struct err e = {0};
	memset(&p, 0, sizeof(p));
	assert_true(aws_kms_decrypt(c, NULL, blob, blen, NULL, NULL, &p, &e) < 0);
	assert_non_null(strstr(e.msg, "AccessDeniedException"));
	assert_null(p.plaintext);
	struct aws_kms_data_key dk;
	memset(&dk, 0, sizeof(dk));
	assert_true(aws_kms_generate_data_key(c, g_key_pcr0, "AES_256", NULL, NULL,
					      &dk, &e) < 0);
	assert_non_null(strstr(e.msg, "AccessDeniedException"));
	free(blob);
	aws_client_free(c);
}

static void test_pcr0_pinned_to_another_image_refused(void **state)
{
	(void)state;
	struct aws_client *c = client();
	size_t blen;
	uint8_t *blob = encrypt_under(c, g_key_other, (const uint8_t *)"x", 1, &blen);
	uint8_t *doc;
	size_t dlen;
	attest(g_nsm, &doc, &dlen);
	struct secret *pt = NULL;
	struct err e = {0};
	assert_true(decrypt_with(c, blob, blen, doc, dlen, &pt, &e) < 0);
	assert_non_null(strstr(e.msg, "AccessDeniedException"));
	free(doc);
	free(blob);
	aws_client_free(c);
}

static void test_simulator_with_another_pcr0_refused(void **state)
{
	(void)state;
	/* The same CA (so the chain verifies), another image. */
	char src[256], dst[256], spec[128];
	const char *files[] = {"root.pem", "root.key.pem"};
	for (int i = 0; i < 2; i++) {
		snprintf(src, sizeof(src), "%s/%s", g_simdir, files[i]);
		snprintf(dst, sizeof(dst), "%s/%s", g_simdir2, files[i]);
		char *t = read_text(src);
		write_file(dst, t);
		free(t);
	}
	snprintf(dst, sizeof(dst), "%s/pcr0.hex", g_simdir2);
	write_file(dst, "0x" OTHER_PCR0 "\n");
	snprintf(spec, sizeof(spec), "sim:%s", g_simdir2);
	struct nsm *other;
	struct err e = {0};
	assert_int_equal(nsm_open(spec, &other, &e), 0);
	uint8_t *doc;
	size_t dlen;
	attest(other, &doc, &dlen);
	/* Refused by the key pinned to the simulator's image... */
	assert_doc_refused(doc, dlen, "AccessDeniedException");
	/* ...accepted by the key pinned to that other image. */
	assert_doc_accepted(g_key_other, doc, dlen, 5);
	free(doc);
	nsm_close(other);
}

/* A key pinned to PCR8 alone (`nitro-keys kms policy --condition=pcr8`):
 * the enclave reporting that PCR8 decrypts; a key pinned to another
 * signing certificate refuses it; an enclave of an unsigned image (PCR8
 * zero) is refused. */
static void test_pcr8_pinned_key(void **state)
{
	(void)state;
	check_round_trip(g_key_pcr8, 24);
	json_t *last = standin_admin("AWS_ENDPOINT_URL_KMS", "last-request", NULL);
	json_t *cond = json_object_get(json_object_get(last, "attested"), "conditions");
	assert_string_equal(json_string_value(json_object_get(
				    cond, "kms:RecipientAttestation:PCR8")),
			    SIM_PCR8);
	json_decref(last);
	uint8_t *doc;
	size_t dlen;
	attest(g_nsm, &doc, &dlen);
	struct aws_client *c = client();
	size_t blen;
	uint8_t *blob = encrypt_under(c, g_key_pcr8_other, (const uint8_t *)"x", 1,
				      &blen);
	struct secret *pt = NULL;
	struct err e = {0};
	assert_true(decrypt_with(c, blob, blen, doc, dlen, &pt, &e) < 0);
	assert_non_null(strstr(e.msg, "AccessDeniedException"));
	free(blob);
	free(doc);
	/* the same CA, no pcr8.hex: an unsigned image's enclave */
	char dir[64], src[256], dst[256], spec[128];
	snprintf(dir, sizeof(dir), "/tmp/ns-kms-rcp8-XXXXXX");
	assert_non_null(mkdtemp(dir));
	const char *files[] = {"root.pem", "root.key.pem", "pcr0.hex"};
	for (int i = 0; i < 3; i++) {
		snprintf(src, sizeof(src), "%s/%s", g_simdir, files[i]);
		snprintf(dst, sizeof(dst), "%s/%s", dir, files[i]);
		char *t = read_text(src);
		write_file(dst, t);
		free(t);
	}
	snprintf(spec, sizeof(spec), "sim:%s", dir);
	struct nsm *unsigned_image;
	assert_int_equal(nsm_open(spec, &unsigned_image, &e), 0);
	attest(unsigned_image, &doc, &dlen);
	blob = encrypt_under(c, g_key_pcr8, (const uint8_t *)"x", 1, &blen);
	assert_true(decrypt_with(c, blob, blen, doc, dlen, &pt, &e) < 0);
	assert_non_null(strstr(e.msg, "AccessDeniedException"));
	/* ...while the PCR0-pinned key still takes it (same PCR0) */
	assert_doc_accepted(g_key_pcr0, doc, dlen, 3);
	free(blob);
	free(doc);
	nsm_close(unsigned_image);
	rm_dir(dir);
	aws_client_free(c);
}

/* ---- bad documents --------------------------------------------------------- */

static void test_flipped_byte_refused(void **state)
{
	(void)state;
	uint8_t *doc;
	size_t len;
	attest(g_nsm, &doc, &len);
	struct cose_parts cp = cose_split(doc, len);
	/* In the payload (module_id, a PCR, the public key, the chain) and in
	 * the signature. */
	size_t at[] = {cp.payload_off + 20, cp.payload_off + cp.payload_len / 2,
		       cp.payload_off + cp.payload_len - 10, cp.sig_off + 5,
		       len - 1};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		doc[at[i]] ^= 0x01;
		assert_doc_refused(doc, len, "ValidationException");
		doc[at[i]] ^= 0x01;
	}
	free(doc);
}

static void test_other_cose_algorithm_refused(void **state)
{
	(void)state;
	uint8_t *doc;
	size_t len;
	attest(g_nsm, &doc, &len);
	/* 84 44 A1 01 38 22: alg -35 (ES384) -> 38 23: -36 (ES512). */
	assert_memory_equal(doc, "\x84\x44\xa1\x01\x38\x22", 6);
	doc[5] = 0x23;
	assert_doc_refused(doc, len, "ES384");
	/* -7 (ES256), one byte shorter: 84 43 A1 01 26 ... */
	memmove(doc + 4, doc + 5, len - 5);
	doc[1] = 0x43;
	doc[4] = 0x26;
	assert_doc_refused(doc, len - 1, "ES384");
	free(doc);
}

static void test_signature_over_another_payload_refused(void **state)
{
	(void)state;
	uint8_t *a, *b;
	size_t alen, blen;
	attest(g_nsm, &a, &alen);
	/* b: a's payload with another module_id, properly signed (accepted)... */
	struct attestation_doc *d = fresh_payload(g_nsm);
	d->module_id[strlen(d->module_id) - 1] ^= 0x01;
	sign_payload(d, &b, &blen);
	assert_doc_accepted(g_key_pcr0, b, blen, 2);
	/* ...then carrying a's signature, made over a's payload: refused. */
	struct cose_parts pa = cose_split(a, alen), pb = cose_split(b, blen);
	memcpy(b + pb.sig_off, a + pa.sig_off, 96);
	assert_doc_refused(b, blen, "COSE signature does not verify");
	attestation_doc_free(d);
	free(a);
	free(b);
}

static void test_chain_out_of_order_refused(void **state)
{
	(void)state;
	struct attestation_doc *d = fresh_payload(g_nsm);
	assert_true(d->n_cabundle >= 3);
	uint8_t *doc;
	size_t len;
	/* Control: the same payload re-encoded and signed is accepted. */
	sign_payload(d, &doc, &len);
	assert_doc_accepted(g_key_pcr0, doc, len, 2);
	free(doc);
	/* Two intermediates swapped. */
	struct nitro_bytes t = d->cabundle[1];
	d->cabundle[1] = d->cabundle[2];
	d->cabundle[2] = t;
	sign_payload(d, &doc, &len);
	assert_doc_refused(doc, len, "not signed by the certificate before it");
	free(doc);
	/* Root not first. */
	t = d->cabundle[1];
	d->cabundle[1] = d->cabundle[2];
	d->cabundle[2] = t;
	t = d->cabundle[0];
	d->cabundle[0] = d->cabundle[1];
	d->cabundle[1] = t;
	sign_payload(d, &doc, &len);
	assert_doc_refused(doc, len, "not the trusted root");
	free(doc);
	attestation_doc_free(d);
}

static void test_chain_expired_at_the_timestamp_refused(void **state)
{
	(void)state;
	int64_t not_after = nsm_sim_leaf_not_after(g_nsm);
	assert_true(not_after > (int64_t)time(NULL));
	struct attestation_doc *d = fresh_payload(g_nsm);
	d->timestamp_ms = (uint64_t)(not_after + 1) * 1000;
	uint8_t *doc;
	size_t len;
	sign_payload(d, &doc, &len);
	/* No age limit, so only the certificates' validity can object. */
	char *pem = read_text(g_root_pem_path);
	standin_attestation(pem, 0);
	assert_doc_refused(doc, len, "is not valid at the document's timestamp");
	standin_attestation(pem, 300);
	/* And with the age limit the same document is refused for its time. */
	assert_doc_refused(doc, len, "ValidationException");
	free(pem);
	free(doc);
	attestation_doc_free(d);
}

static void test_stale_document_refused(void **state)
{
	(void)state;
	uint8_t *doc;
	size_t len;
	attest(g_nsm, &doc, &len);
	char *pem = read_text(g_root_pem_path);
	/* A document is fresh for maxAgeSeconds; make that 0 s + 1 s old. */
	standin_attestation(pem, 1);
	sleep(2);
	assert_doc_refused(doc, len, "too old");
	standin_attestation(pem, 300);
	free(pem);
	free(doc);
}

static void test_document_from_another_root_refused(void **state)
{
	(void)state;
	struct nsm *stranger;
	struct err e = {0};
	assert_int_equal(nsm_open("sim:", &stranger, &e), 0);
	uint8_t *doc;
	size_t len;
	attest(stranger, &doc, &len);
	assert_doc_refused(doc, len, "not the trusted root");
	free(doc);
	nsm_close(stranger);
}

/* The genuine documents (reference/nitro-attestation) under AWS's root, at
 * their own timestamps: the stand-in's CBOR, COSE and chain checks accept
 * them and stop at public_key (none carries an RSA key for KMS); a flipped
 * signature byte is caught by the signature check. */
static void test_genuine_aws_documents_pass_the_standin_checks(void **state)
{
	(void)state;
	const char *ref = getenv("NS_REFERENCE_DIR");
	if (!ref)
		fail_msg("NS_REFERENCE_DIR is not set (run through ctest)");
	json_t *req = json_pack("{s:s,s:i}", "rootPem", "aws", "maxAgeSeconds", 0);
	char *body = json_dumps(req, 0);
	json_decref(standin_admin("AWS_ENDPOINT_URL_KMS", "attestation", body));
	free(body);
	json_decref(req);
	const char *docs[] = {"doc1-uid2-core-2021", "doc2-evervault-ga-2023",
			      "doc3-evervault-beta-nondebug-2022",
			      "doc4-evervault-beta-debug-2022", "doc5-cape-js-2022"};
	for (size_t i = 0; i < 5; i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/nitro-attestation/%s.cbor", ref, docs[i]);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		static uint8_t buf[NITRO_DOC_MAX];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		assert_doc_refused(buf, n, "public_key");
		buf[n - 1] ^= 0x01;
		assert_doc_refused(buf, n, "COSE signature does not verify");
	}
	char *pem = read_text(g_root_pem_path);
	standin_attestation(pem, 300);
	free(pem);
	/* And a simulator document is now trusted again. */
	check_round_trip(g_key_pcr0, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simulator_reports_the_configured_pcr0),
		cmocka_unit_test(test_decrypt_with_recipient_opens_to_the_secret),
		cmocka_unit_test(test_image_sha384_condition_accepts_the_image),
		cmocka_unit_test(test_cms_from_the_standin_has_kms_shape),
		cmocka_unit_test(test_generate_data_key_with_recipient_round_trip),
		cmocka_unit_test(test_generate_random_with_recipient_round_trip),
		cmocka_unit_test(test_throttled_recipient_call_retried_with_the_same_document),
		cmocka_unit_test(test_decrypt_without_recipient_refused),
		cmocka_unit_test(test_pcr0_pinned_to_another_image_refused),
		cmocka_unit_test(test_simulator_with_another_pcr0_refused),
		cmocka_unit_test(test_pcr8_pinned_key),
		cmocka_unit_test(test_flipped_byte_refused),
		cmocka_unit_test(test_other_cose_algorithm_refused),
		cmocka_unit_test(test_signature_over_another_payload_refused),
		cmocka_unit_test(test_chain_out_of_order_refused),
		cmocka_unit_test(test_chain_expired_at_the_timestamp_refused),
		cmocka_unit_test(test_stale_document_refused),
		cmocka_unit_test(test_document_from_another_root_refused),
		cmocka_unit_test(test_genuine_aws_documents_pass_the_standin_checks),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#else

int main(void)
{
	/* Built without the NSM simulator (the enclave image): nothing to run. */
	return 0;
}

#endif
