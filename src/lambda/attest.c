/*
 * attest.c: the `attest` operation, the client's check of an enclave's
 * GET /attestation (docs/enclave.md), as `nitro-keys attestation verify`
 * does it with --expect-pcr0, --nonce and --tls-cert:
 *
 *  1. the signer's certificate from the key table (the pin);
 *  2. GET /attestation?nonce=<32 fresh random bytes in hex> over TLS
 *     pinned to it;
 *  3. the document (untrusted, at most NITRO_DOC_MAX bytes) verified by
 *     src/nitro: COSE ES384 by the leaf, chain to AWS's root (or to
 *     ATTESTATION_ROOT_PEM), valid now and at most MAX_AGE_S old;
 *  4. attestation_check_expect: PCR0 = EXPECTED_PCR0, PCR8 =
 *     EXPECTED_PCR8 when that is set (the certificate a signed image was
 *     signed with), the nonce sent, and user_data = SHA-256 of the pinned
 *     certificate's SPKI, so that the certificate the Lambda pins is the
 *     one whose key lives in an enclave running the expected image.
 */
#include "lambda/lambda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#define NONCE_LEN 32
#define MAX_AGE_S 300

static json_t *hex_json(const uint8_t *p, size_t len)
{
	char *s = malloc(2 * len + 3);
	if (!s)
		return NULL;
	hex_encode(p, len, s);
	json_t *j = json_string(s);
	free(s);
	return j;
}

static const char *mismatch_text(enum attestation_mismatch m)
{
	switch (m) {
	case ATTESTATION_MISMATCH_PCR0:
		return "PCR0 does not match EXPECTED_PCR0";
	case ATTESTATION_MISMATCH_PCR8:
		return "PCR8 does not match EXPECTED_PCR8";
	case ATTESTATION_MISMATCH_NONCE:
		return "the nonce is not the one sent";
	case ATTESTATION_MISMATCH_USER_DATA:
		return "user_data is not SHA-256 of the pinned certificate's "
		       "public key";
	case ATTESTATION_MATCH:
		break;
	}
	return "matched";
}

static json_t *summary(const struct lambda_config *cfg,
		       const struct attestation_doc *d,
		       const struct lambda_cert *cert)
{
	json_t *o = json_pack(
		"{s:s,s:I,s:o*,s:o*,s:o*,s:o*,s:[ssss]}",
		"module_id", d->module_id,
		"timestamp", (json_int_t)d->timestamp_ms,
		"pcr0", hex_json(d->pcrs[0], d->pcr_len),
		"nonce", hex_json(d->nonce.p, d->nonce.len),
		"user_data", hex_json(d->user_data.p, d->user_data.len),
		"tls_cert_sha256", hex_json(cert->sha256, sizeof(cert->sha256)),
		"checks_passed",
		cfg->root_der ? "signature and certificate chain to "
				"ATTESTATION_ROOT_PEM"
			      : "signature and certificate chain to the AWS "
				"Nitro Enclaves root",
		"PCR0 = EXPECTED_PCR0", "nonce = the one sent",
		"user_data = SHA-256(SPKI of the pinned certificate)");
	if (o && cfg->has_pcr8) {
		/* check_expect matched it, so the document has PCR8 */
		json_t *checks = json_object_get(o, "checks_passed");
		if (json_object_set_new(o, "pcr8",
					hex_json(d->pcrs[8], d->pcr_len)) < 0 ||
		    json_array_insert_new(checks, 2,
					  json_string("PCR8 = EXPECTED_PCR8")) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* PCR8 as the enclave reports it, for the mismatch message. */
static void reported_pcr8(const struct attestation_doc *d, char *out)
{
	if (!(d->pcr_mask & (1u << 8))) {
		strcpy(out, "no PCR8");
		return;
	}
	hex_encode(d->pcrs[8], d->pcr_len, out);
	if (nitro_pcr_is_zero(d->pcrs[8], d->pcr_len))
		strcat(out, " (all zeros: an unsigned image)");
}

/* Verifies doc against cfg, nonce and cert; the summary in *out. */
static int check_doc(const struct lambda_config *cfg, const uint8_t *doc,
		     size_t len, const uint8_t nonce[NONCE_LEN],
		     const struct lambda_cert *cert, json_t **out,
		     enum lambda_error *kind, struct err *e)
{
	*kind = LAMBDA_ERR_ATTESTATION;
	struct attestation_verify_opts vo = {
		.root_der = cfg->root_der,
		.root_der_len = cfg->root_der_len,
		.at_unix = time(NULL),
		.max_age_s = MAX_AGE_S,
	};
	struct attestation_doc *d = NULL;
	if (attestation_verify(doc, len, &vo, &d, e) < 0)
		return err_prefix(e, "attestation document: ");
	struct attestation_expect x = {
		.pcr0 = cfg->expected_pcr0,
		.pcr8 = cfg->has_pcr8 ? cfg->expected_pcr8 : NULL,
		.nonce = nonce,
		.nonce_len = NONCE_LEN,
		.user_data = cert->spki_sha256,
		.user_data_len = sizeof(cert->spki_sha256),
	};
	enum attestation_mismatch m = attestation_check_expect(d, &x);
	int rc = 0;
	char got[2 * NITRO_PCR_LEN_MAX + 64];
	if (m == ATTESTATION_MISMATCH_PCR0 && (d->pcr_mask & 1u)) {
		hex_encode(d->pcrs[0], d->pcr_len, got);
		rc = err_set(e, ERR_REFUSED, "%s: the enclave runs %s",
			     mismatch_text(m), got);
	} else if (m == ATTESTATION_MISMATCH_PCR8) {
		reported_pcr8(d, got);
		rc = err_set(e, ERR_REFUSED, "%s: the enclave reports %s",
			     mismatch_text(m), got);
	} else if (m != ATTESTATION_MATCH) {
		rc = err_set(e, ERR_REFUSED, "%s", mismatch_text(m));
	} else if (!(*out = summary(cfg, d, cert))) {
		*kind = LAMBDA_ERR_INTERNAL;
		rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	attestation_doc_free(d);
	return rc;
}

/* The attestation of the enclave holding cert's key, through a connection
 * pinned to cert: the summary in *out. */
int lambda_attest_cert(struct lambda_ctx *x, const struct lambda_cert *cert,
		       json_t **out, enum lambda_error *kind, struct err *e)
{
	uint8_t nonce[NONCE_LEN];
	char path[32 + 2 * NONCE_LEN] = "/attestation?nonce=";
	char hex[2 * NONCE_LEN + 3];
	int rc;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		*kind = LAMBDA_ERR_INTERNAL;
		return err_set(e, ERR_CRYPTO, "no random bytes for the nonce");
	}
	hex_encode(nonce, sizeof(nonce), hex);
	strcat(path, hex + 2);
	struct lambda_reply r;
	TRY(lambda_signer_get(x, cert, path, NITRO_DOC_MAX, &r, kind, e));
	if (r.status != 200) {
		*kind = LAMBDA_ERR_SIGNER;
		rc = err_set(e, ERR_UNAVAILABLE, "GET /attestation: HTTP %d",
			     r.status);
	} else {
		rc = check_doc(x->cfg, (const uint8_t *)r.body, r.len, nonce,
			       cert, out, kind, e);
	}
	lambda_reply_clear(&r);
	return rc;
}

int lambda_attest(struct lambda_ctx *x, json_t **out, enum lambda_error *kind,
		  struct err *e)
{
	struct lambda_cert cert;
	*kind = LAMBDA_ERR_KEY_TABLE;
	TRY(lambda_signer_cert(x, &cert, e));
	int rc = lambda_attest_cert(x, &cert, out, kind, e);
	/* the certificate with the answer that proved it, for operators */
	if (rc == 0)
		json_object_set_new(*out, "tls_cert_pem", json_string(cert.pem));
	lambda_cert_clear(&cert);
	return rc;
}
