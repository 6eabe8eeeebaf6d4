/*
 * attestation.c: Nitro attestation documents, parsed strictly and verified.
 *
 * The payload of the COSE_Sign1 (cose.c) is a map of exactly these text
 * keys: module_id, digest ("SHA384"), timestamp (ms), pcrs (index 0..31 ->
 * 32/48/64 bytes, one length for all), certificate (leaf DER), cabundle
 * (root first, then intermediates) and the optional public_key, user_data,
 * nonce (byte strings, or CBOR null / absent). Anything else, a duplicate
 * key or a size out of range is refused before any cryptography runs.
 *
 * Verification: the ES384 signature with the leaf's P-384 key; then the
 * chain leaf <- cabundle[n-1] <- ... <- cabundle[1] <- trust anchor, where
 * the anchor is the caller's root or the embedded AWS root (pinned by its
 * SHA-256), cabundle[0] must be byte-equal to it, each certificate must
 * have been issued by the one before it in the bundle (OpenSSL would
 * otherwise reorder a shuffled bundle), and OpenSSL checks signatures,
 * validity at the chosen time, basicConstraints and keyUsage. Not
 * X509_V_FLAG_X509_STRICT: AWS's leaf has no Authority Key Identifier.
 */
#include "nitro_internal.h"

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const payload_keys[] = {
	"module_id", "digest", "timestamp", "pcrs", "certificate",
	"cabundle", "public_key", "user_data", "nonce",
};

static void bytes_free(struct nitro_bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void attestation_doc_free(struct attestation_doc *d)
{
	if (!d)
		return;
	free(d->module_id);
	bytes_free(&d->certificate);
	for (size_t i = 0; i < d->n_cabundle; i++)
		bytes_free(&d->cabundle[i]);
	bytes_free(&d->public_key);
	bytes_free(&d->user_data);
	bytes_free(&d->nonce);
	free(d);
}

static int get_bytes(const struct ncbor *v, size_t min, size_t max,
		     struct nitro_bytes *out, struct err *e, const char *what)
{
	TRY(ncbor_bytes_dup(v, min, max, &out->p, &out->len, e, what));
	out->present = true;
	return 0;
}

static int get_optional(const struct ncbor *map, const char *key, size_t min,
			size_t max, struct nitro_bytes *out, struct err *e)
{
	const struct ncbor *v = ncbor_map_get(map, key);
	if (!v || ncbor_is_null(v))
		return 0;
	return get_bytes(v, min, max, out, e, key);
}

static int parse_pcrs(const struct ncbor *m, struct attestation_doc *d,
		      struct err *e)
{
	if (!ncbor_is(m, NCBOR_MAP))
		return err_set(e, ERR_INVALID, "pcrs: not a map");
	size_t n = m->n;
	if (n < 1 || n > NITRO_PCR_COUNT)
		return err_set(e, ERR_INVALID, "pcrs: %zu entries, want 1..%d", n,
			       NITRO_PCR_COUNT);
	for (size_t i = 0; i < n; i++) {
		uint64_t idx;
		size_t len;
		TRY(ncbor_uint(ncbor_map_key(m, i), NITRO_PCR_COUNT - 1, &idx, e,
			       "pcrs index"));
		if (d->pcr_mask & (1u << idx))
			return err_set(e, ERR_INVALID, "pcrs: index %llu twice",
				       (unsigned long long)idx);
		TRY(ncbor_bytes_copy(ncbor_map_value(m, i), 32, NITRO_PCR_LEN_MAX,
				     d->pcrs[idx], &len, e, "pcrs value"));
		if (len != 32 && len != 48 && len != 64)
			return err_set(e, ERR_INVALID,
				       "pcrs: PCR%llu is %zu bytes, want 32/48/64",
				       (unsigned long long)idx, len);
		if (d->pcr_len && len != d->pcr_len)
			return err_set(e, ERR_INVALID,
				       "pcrs: PCR lengths differ");
		d->pcr_len = len;
		d->pcr_mask |= 1u << idx;
	}
	return 0;
}

static int parse_cabundle(const struct ncbor *a, struct attestation_doc *d,
			  struct err *e)
{
	if (!ncbor_is(a, NCBOR_ARRAY))
		return err_set(e, ERR_INVALID, "cabundle: not an array");
	size_t n = a->n;
	if (n < 1 || n > NITRO_CABUNDLE_MAX)
		return err_set(e, ERR_INVALID, "cabundle: %zu certificates, want "
			       "1..%d", n, NITRO_CABUNDLE_MAX);
	for (size_t i = 0; i < n; i++) {
		TRY(get_bytes(&a->items[i], 1, NITRO_CERT_MAX, &d->cabundle[i], e,
			      "cabundle entry"));
		d->n_cabundle = i + 1;
	}
	return 0;
}

static int parse_map(const struct ncbor *m, struct attestation_doc *d,
		     struct err *e)
{
	TRY(ncbor_map_check_keys(m, payload_keys, 9, e, "attestation payload"));
	for (size_t k = 0; k < 6; k++)
		if (!ncbor_map_get(m, payload_keys[k]))
			return err_set(e, ERR_INVALID,
				       "attestation payload: %s missing",
				       payload_keys[k]);
	TRY(ncbor_text_dup(ncbor_map_get(m, "module_id"), NITRO_MODULE_ID_MAX,
			   &d->module_id, e, "module_id"));
	if (!ncbor_text_is(ncbor_map_get(m, "digest"), "SHA384"))
		return err_set(e, ERR_INVALID, "digest: not \"SHA384\"");
	memcpy(d->digest, "SHA384", 7);
	TRY(ncbor_uint(ncbor_map_get(m, "timestamp"), UINT64_MAX,
		       &d->timestamp_ms, e, "timestamp"));
	if (d->timestamp_ms == 0)
		return err_set(e, ERR_INVALID, "timestamp: zero");
	TRY(parse_pcrs(ncbor_map_get(m, "pcrs"), d, e));
	TRY(get_bytes(ncbor_map_get(m, "certificate"), 1, NITRO_CERT_MAX,
		      &d->certificate, e, "certificate"));
	TRY(parse_cabundle(ncbor_map_get(m, "cabundle"), d, e));
	TRY(get_optional(m, "public_key", 1, NITRO_PUBLIC_KEY_MAX,
			 &d->public_key, e));
	TRY(get_optional(m, "user_data", 0, NITRO_USER_DATA_MAX, &d->user_data,
			 e));
	TRY(get_optional(m, "nonce", 0, NITRO_USER_DATA_MAX, &d->nonce, e));
	return 0;
}

int attestation_payload_parse(const uint8_t *payload, size_t len,
			      struct attestation_doc **out, struct err *e)
{
	*out = NULL;
	struct ncbor *m = NULL;
	TRY(ncbor_decode(payload, len, NITRO_DOC_MAX, &m, e,
			 "attestation payload"));
	struct attestation_doc *d = calloc(1, sizeof(*d));
	int rc = d ? parse_map(m, d, e)
		   : err_set(e, ERR_NOMEM, "attestation: out of memory");
	ncbor_free(m);
	if (rc < 0) {
		attestation_doc_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int attestation_parse(const uint8_t *doc, size_t len,
		      struct attestation_doc **out, struct err *e)
{
	struct cose_sign1 c;
	*out = NULL;
	TRY(cose_sign1_decode(doc, len, &c, e));
	int rc = attestation_payload_parse(c.payload, c.payload_len, out, e);
	cose_sign1_clear(&c);
	return rc;
}

int attestation_payload_encode(const struct attestation_doc *d, uint8_t **out,
			       size_t *len, struct err *e)
{
	struct ncbor_out o;
	ncbor_out_init(&o, NITRO_DOC_MAX);
	ncbor_put_map(&o, 9);
	ncbor_put_text(&o, "module_id");
	ncbor_put_text(&o, d->module_id ? d->module_id : "");
	ncbor_put_text(&o, "digest");
	ncbor_put_text(&o, d->digest);
	ncbor_put_text(&o, "timestamp");
	ncbor_put_uint(&o, d->timestamp_ms);
	ncbor_put_text(&o, "pcrs");
	ncbor_put_map(&o, (size_t)__builtin_popcount(d->pcr_mask));
	for (unsigned i = 0; i < NITRO_PCR_COUNT; i++) {
		if (!(d->pcr_mask & (1u << i)))
			continue;
		ncbor_put_uint(&o, i);
		ncbor_put_bytes(&o, d->pcrs[i], d->pcr_len);
	}
	ncbor_put_text(&o, "certificate");
	ncbor_put_bytes(&o, d->certificate.p, d->certificate.len);
	ncbor_put_text(&o, "cabundle");
	ncbor_put_array(&o, d->n_cabundle);
	for (size_t i = 0; i < d->n_cabundle; i++)
		ncbor_put_bytes(&o, d->cabundle[i].p, d->cabundle[i].len);
	const struct { const char *k; const struct nitro_bytes *b; } opt[] = {
		{"public_key", &d->public_key},
		{"user_data", &d->user_data},
		{"nonce", &d->nonce},
	};
	for (size_t i = 0; i < 3; i++) {
		ncbor_put_text(&o, opt[i].k);
		if (opt[i].b->present)
			ncbor_put_bytes(&o, opt[i].b->p, opt[i].b->len);
		else
			ncbor_put_null(&o);
	}
	return ncbor_out_finish(&o, out, len, e);
}

/* ---- verification ---------------------------------------------------------- */

static X509 *cert_from_der(const uint8_t *p, size_t len)
{
	const uint8_t *q = p;
	X509 *x = d2i_X509(NULL, &q, (long)len);
	if (x && q != p + len) { /* trailing bytes */
		X509_free(x);
		return NULL;
	}
	return x;
}

static int anchor(const struct attestation_verify_opts *o, const uint8_t **der,
		  size_t *len, struct err *e)
{
	if (o && o->root_der) {
		*der = o->root_der;
		*len = o->root_der_len;
		return 0;
	}
	*der = attestation_aws_root_der(len);
	uint8_t md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 3];
	SHA256(*der, *len, md);
	hex_encode(md, sizeof(md), hex);
	if (strcmp(hex + 2, ATTESTATION_AWS_ROOT_SHA256) != 0)
		return err_set(e, ERR_INTERNAL,
			       "embedded AWS root does not match its pinned "
			       "SHA-256");
	return 0;
}

/* The bundle must be in order: each certificate issued by the previous. */
static int check_order(STACK_OF(X509) *bundle, X509 *leaf, struct err *e)
{
	int n = sk_X509_num(bundle);
	for (int i = 1; i <= n; i++) {
		X509 *issuer = sk_X509_value(bundle, i - 1);
		X509 *subject = i < n ? sk_X509_value(bundle, i) : leaf;
		if (X509_check_issued(issuer, subject) != X509_V_OK) {
			if (i < n)
				return err_set(e, ERR_CRYPTO,
					       "certificate chain out of order: "
					       "cabundle[%d] was not issued by "
					       "cabundle[%d]", i, i - 1);
			return err_set(e, ERR_CRYPTO,
				       "certificate chain out of order: the "
				       "leaf was not issued by cabundle[%d]",
				       n - 1);
		}
	}
	return 0;
}

static int check_leaf(X509 *leaf, struct err *e)
{
	if (X509_check_ca(leaf) != 0)
		return err_set(e, ERR_CRYPTO, "leaf certificate is a CA");
	if ((X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) &&
	    !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
		return err_set(e, ERR_CRYPTO,
			       "leaf certificate may not sign (keyUsage)");
	return 0;
}

static int verify_chain(STACK_OF(X509) *bundle, X509 *leaf, X509 *root,
			time_t at, struct err *e)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	int rc;
	if (!store || !ctx || !untrusted || !X509_STORE_add_cert(store, root)) {
		rc = err_set(e, ERR_NOMEM, "certificate chain: out of memory");
		goto out;
	}
	for (int i = 1; i < sk_X509_num(bundle); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(bundle, i))) {
			rc = err_set(e, ERR_NOMEM, "certificate chain: out of memory");
			goto out;
		}
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted)) {
		rc = err_set(e, ERR_NOMEM, "certificate chain: out of memory");
		goto out;
	}
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, at);
	X509_VERIFY_PARAM_set_depth(param, NITRO_CABUNDLE_MAX + 1);
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		rc = err_set(e, ERR_CRYPTO, "certificate chain: %s (depth %d)",
			     X509_verify_cert_error_string(err),
			     X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	/* The path OpenSSL built must be exactly the bundle, in order. */
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	int n = sk_X509_num(bundle);
	if (sk_X509_num(chain) != n + 1) {
		rc = err_set(e, ERR_CRYPTO, "certificate chain: %d certificates "
			     "used, the document has %d", sk_X509_num(chain),
			     n + 1);
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (X509_cmp(sk_X509_value(chain, n - i),
			     sk_X509_value(bundle, i)) != 0) {
			rc = err_set(e, ERR_CRYPTO, "certificate chain: built "
				     "path differs from cabundle[%d]", i);
			goto out;
		}
	rc = 0;
out:
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

static int check_time(const struct attestation_doc *d,
		      const struct attestation_verify_opts *o, time_t *at,
		      struct err *e)
{
	*at = (time_t)(d->timestamp_ms / 1000);
	if (!o || o->at_unix == 0)
		return 0;
	*at = (time_t)o->at_unix;
	uint64_t now_ms = (uint64_t)o->at_unix * 1000;
	if (d->timestamp_ms > now_ms + 60 * 1000)
		return err_set(e, ERR_INVALID, "timestamp is in the future");
	if (o->max_age_s && now_ms - (d->timestamp_ms < now_ms ? d->timestamp_ms
							       : now_ms) >
				    o->max_age_s * 1000)
		return err_set(e, ERR_INVALID,
			       "document is older than %llu s",
			       (unsigned long long)o->max_age_s);
	return 0;
}

int attestation_verify(const uint8_t *doc, size_t len,
		       const struct attestation_verify_opts *opts,
		       struct attestation_doc **out, struct err *e)
{
	struct cose_sign1 c;
	struct attestation_doc *d = NULL;
	X509 *leaf = NULL, *root = NULL;
	STACK_OF(X509) *bundle = NULL;
	const uint8_t *root_der;
	size_t root_len;
	time_t at;
	int rc;
	*out = NULL;
	TRY(cose_sign1_decode(doc, len, &c, e));
	TRY_OUT(attestation_payload_parse(c.payload, c.payload_len, &d, e));
	TRY_OUT(check_time(d, opts, &at, e));
	if (!(leaf = cert_from_der(d->certificate.p, d->certificate.len))) {
		rc = err_set(e, ERR_INVALID, "certificate: not a DER X.509 "
			     "certificate");
		goto out;
	}
	EVP_PKEY *key = X509_get0_pubkey(leaf);
	if (!key) {
		rc = err_set(e, ERR_INVALID, "certificate: unreadable key");
		goto out;
	}
	TRY_OUT(cose_es384_verify(&c, key, e));
	TRY_OUT(anchor(opts, &root_der, &root_len, e));
	if (!(root = cert_from_der(root_der, root_len))) {
		rc = err_set(e, ERR_INVALID, "trusted root: not a DER certificate");
		goto out;
	}
	if (d->cabundle[0].len != root_len ||
	    CRYPTO_memcmp(d->cabundle[0].p, root_der, root_len) != 0) {
		rc = err_set(e, ERR_CRYPTO,
			     "cabundle[0] is not the trusted root certificate");
		goto out;
	}
	if (!(bundle = sk_X509_new_null())) {
		rc = err_set(e, ERR_NOMEM, "attestation: out of memory");
		goto out;
	}
	for (size_t i = 0; i < d->n_cabundle; i++) {
		X509 *x = cert_from_der(d->cabundle[i].p, d->cabundle[i].len);
		if (!x || !sk_X509_push(bundle, x)) {
			X509_free(x);
			rc = err_set(e, ERR_INVALID, "cabundle[%zu]: not a DER "
				     "X.509 certificate", i);
			goto out;
		}
	}
	TRY_OUT(check_order(bundle, leaf, e));
	TRY_OUT(verify_chain(bundle, leaf, root, at, e));
	TRY_OUT(check_leaf(leaf, e));
	*out = d;
	d = NULL;
	rc = 0;
out:
	sk_X509_pop_free(bundle, X509_free);
	X509_free(root);
	X509_free(leaf);
	attestation_doc_free(d);
	cose_sign1_clear(&c);
	return rc;
}

int attestation_root_from_pem_file(const char *path, uint8_t **der,
				   size_t *len, struct err *e)
{
	char *pem = NULL;
	size_t pem_len;
	TRY(file_read_all(path, 64 * 1024, &pem, &pem_len, e));
	BIO *b = BIO_new_mem_buf(pem, (int)pem_len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(pem);
	if (!x)
		return err_set(e, ERR_INVALID, "%s: no PEM certificate", path);
	uint8_t *p = NULL;
	int n = i2d_X509(x, &p);
	X509_free(x);
	if (n <= 0)
		return err_set(e, ERR_INVALID, "%s: cannot encode certificate",
			       path);
	*der = malloc((size_t)n);
	if (!*der) {
		OPENSSL_free(p);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	memcpy(*der, p, (size_t)n);
	OPENSSL_free(p);
	*len = (size_t)n;
	return 0;
}
