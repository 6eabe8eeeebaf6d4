/*
 * sign.c: the signature section of a signed enclave image and PCR8, as
 * AWS's aws-nitro-enclaves-image-format crate writes and reads them
 * (src/defs/mod.rs PcrSignature and PcrInfo, src/utils/eif_signer.rs,
 * src/utils/eif_reader.rs), checked against nitro-cli's describe-eif.
 *
 * The section (type 4) comes last, after the ramdisks, and is inside the
 * CRC-32 like every section. Its data is serde_cbor's encoding of
 * Vec<PcrSignature> with one element:
 *
 *   [ { "signing_certificate": [u8, ...],   the certificate as PEM text
 *       "signature":           [u8, ...] } ] a COSE_Sign1, untagged
 *
 * serde_cbor writes a struct as a map of its field names in declaration
 * order and a Vec<u8> as an *array of integers* (each byte a CBOR unsigned
 * integer, shortest form), not as a byte string. The COSE_Sign1 is
 * [protected bstr {1: -35}, unprotected {}, payload bstr, signature
 * bstr(96) r || s], ES384 over Sig_structure ["Signature1", protected,
 * h'', payload] (src/nitro/cose.c); its payload is serde_cbor of PcrInfo
 * for PCR0:
 *
 *   { "register_index": 0, "register_value": [48 integers: PCR0] }
 *
 * PCR8 = SHA-384(0^48 || SHA-384(DER of the certificate)): the PEM is
 * parsed and re-encoded as DER before hashing, so PCR8 names the
 * certificate, not its text.
 *
 * The section is untrusted: its size is capped, the CBOR is decoded with
 * bounds, every integer must be a byte, and the bytes must be exactly what
 * eif_signature_encode() writes for the certificate and COSE it holds (one
 * encoding only). Then the certificate must hold a P-384 key, the COSE
 * signature must verify with it, and its payload must be PcrInfo {0, the
 * PCR0 recomputed from the sections}; otherwise the image is refused.
 */
#include "eif/eif.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "nitro/nitro_internal.h"

static const char K_CERT[] = "signing_certificate";
static const char K_SIG[] = "signature";
static const char K_INDEX[] = "register_index";
static const char K_VALUE[] = "register_value";

/* ---- PCR8 and the payload ------------------------------------------------- */

int eif_pcr8(const uint8_t *der, size_t len, uint8_t out[EIF_PCR_LEN])
{
	uint8_t buf[2 * EIF_PCR_LEN] = {0};
	unsigned int n;
	if (EVP_Digest(der, len, buf + EIF_PCR_LEN, &n, EVP_sha384(), NULL) != 1 ||
	    EVP_Digest(buf, sizeof(buf), out, &n, EVP_sha384(), NULL) != 1)
		return -ERR_CRYPTO;
	return 0;
}

static void put_byte_array(struct ncbor_out *o, const uint8_t *p, size_t len)
{
	ncbor_put_array(o, len);
	for (size_t i = 0; i < len; i++)
		ncbor_put_uint(o, p[i]);
}

/* serde_cbor of PcrInfo {register_index, register_value}. */
static int pcr_payload(uint64_t index, const uint8_t pcr[EIF_PCR_LEN],
		       uint8_t **out, size_t *len, struct err *e)
{
	struct ncbor_out o;
	ncbor_out_init(&o, 256);
	ncbor_put_map(&o, 2);
	ncbor_put_text(&o, K_INDEX);
	ncbor_put_uint(&o, index);
	ncbor_put_text(&o, K_VALUE);
	put_byte_array(&o, pcr, EIF_PCR_LEN);
	return ncbor_out_finish(&o, out, len, e);
}

int eif_signature_encode(struct eif_blob cert_pem, struct eif_blob cose,
			 struct buf *out, struct err *e)
{
	struct ncbor_out o;
	uint8_t *p = NULL;
	size_t len;
	ncbor_out_init(&o, EIF_SIGNATURE_MAX);
	ncbor_put_array(&o, 1);
	ncbor_put_map(&o, 2);
	ncbor_put_text(&o, K_CERT);
	put_byte_array(&o, cert_pem.p, cert_pem.len);
	ncbor_put_text(&o, K_SIG);
	put_byte_array(&o, cose.p, cose.len);
	TRY(ncbor_out_finish(&o, &p, &len, e));
	int rc = buf_append(out, p, len);
	free(p);
	if (rc < 0)
		return err_set(e, -rc, "eif: signature section too large");
	return 0;
}

/* ---- reading the section ----------------------------------------------------- */

/* An array of 1..max CBOR integers 0..255, definite, into a malloc'd copy. */
static int byte_array(const struct ncbor *it, size_t max, uint8_t **out,
		      size_t *len, struct err *e, const char *what)
{
	if (!ncbor_is(it, NCBOR_ARRAY) || it->indefinite)
		return err_set(e, ERR_INVALID, "eif: signature section: %s is "
			       "not an array of bytes", what);
	if (it->n < 1 || it->n > max)
		return err_set(e, ERR_INVALID, "eif: signature section: %s has "
			       "%zu bytes, want 1..%zu", what, it->n, max);
	uint8_t *p = malloc(it->n);
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < it->n; i++) {
		if (!ncbor_is(&it->items[i], NCBOR_UINT) || it->items[i].v > 255) {
			free(p);
			return err_set(e, ERR_INVALID, "eif: signature section: "
				       "%s item %zu is not a byte", what, i);
		}
		p[i] = (uint8_t)it->items[i].v;
	}
	*out = p;
	*len = it->n;
	return 0;
}

void eif_signature_clear(struct eif_signature *s)
{
	X509_free(s->cert);
	free(s->cert_pem);
	free(s->cose);
	memset(s, 0, sizeof(*s));
}

static bool all_space(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace(p[i]))
			return false;
	return true;
}

/* The certificate text is one PEM CERTIFICATE block and nothing else but
 * white space around it: OpenSSL's reader would skip text before the block
 * and ignore what follows, so that two readers could disagree on which
 * certificate the section names. */
static int parse_cert(struct eif_signature *s, struct err *e)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	size_t lead = 0;
	while (lead < s->cert_pem_len && isspace(s->cert_pem[lead]))
		lead++;
	if (s->cert_pem_len - lead < sizeof(begin) - 1 ||
	    memcmp(s->cert_pem + lead, begin, sizeof(begin) - 1) != 0)
		return err_set(e, ERR_INVALID, "eif: signature section: the "
			       "signing certificate does not start with a PEM "
			       "CERTIFICATE block");
	BIO *b = BIO_new_mem_buf(s->cert_pem, (int)s->cert_pem_len);
	s->cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	char *rest = NULL;
	long left = s->cert ? BIO_get_mem_data(b, &rest) : 0;
	bool trailing = s->cert && left > 0 && !all_space((const uint8_t *)rest, (size_t)left);
	BIO_free(b);
	if (!s->cert)
		return err_set(e, ERR_INVALID, "eif: signature section: the "
			       "signing certificate is not a PEM certificate");
	if (trailing)
		return err_set(e, ERR_INVALID, "eif: signature section: more "
			       "than one PEM block (or other text) after the "
			       "signing certificate");
	uint8_t *der = NULL;
	int n = i2d_X509(s->cert, &der);
	int rc = n > 0 ? eif_pcr8(der, (size_t)n, s->pcr8) : -ERR_CRYPTO;
	OPENSSL_free(der);
	if (rc < 0)
		return err_set(e, ERR_CRYPTO, "eif: cannot hash the signing "
			       "certificate");
	return eif_cert_check_p384(s->cert, e);
}

int eif_cert_check_p384(X509 *cert, struct err *e)
{
	EVP_PKEY *k = X509_get0_pubkey(cert);
	char group[64];
	if (!k || !EVP_PKEY_is_a(k, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
					    sizeof(group), NULL) ||
	    strcmp(group, "secp384r1") != 0)
		return err_set(e, ERR_INVALID, "eif: the signing certificate's "
			       "key is not ECDSA P-384 (secp384r1), the only "
			       "curve signed images use here (ES384)");
	return 0;
}

int eif_signature_decode(struct eif_blob section, struct eif_signature *out,
			 struct err *e)
{
	static const char *const keys[] = {K_CERT, K_SIG};
	struct ncbor *root = NULL;
	struct buf again = BUF_INIT(EIF_SIGNATURE_MAX);
	int rc;
	memset(out, 0, sizeof(*out));
	if (section.len > EIF_SIGNATURE_MAX)
		return err_set(e, ERR_INVALID, "eif: signature section of %zu "
			       "bytes, limit %d", section.len, EIF_SIGNATURE_MAX);
	TRY(ncbor_decode(section.p, section.len, EIF_SIGNATURE_MAX, &root, e,
			 "eif: signature section"));
	if (!ncbor_is(root, NCBOR_ARRAY) || root->indefinite || root->n != 1) {
		rc = err_set(e, ERR_INVALID, "eif: signature section: want an "
			     "array of one PcrSignature");
		goto out;
	}
	const struct ncbor *m = &root->items[0];
	if (!ncbor_is(m, NCBOR_MAP) || m->indefinite || m->n != 2) {
		rc = err_set(e, ERR_INVALID, "eif: signature section: want a "
			     "map {signing_certificate, signature}");
		goto out;
	}
	TRY_OUT(ncbor_map_check_keys(m, keys, 2, e, "eif: signature section"));
	TRY_OUT(byte_array(ncbor_map_get(m, K_CERT), EIF_CERT_PEM_MAX,
			   &out->cert_pem, &out->cert_pem_len, e,
			   "signing_certificate"));
	TRY_OUT(byte_array(ncbor_map_get(m, K_SIG), EIF_COSE_MAX, &out->cose,
			   &out->cose_len, e, "signature"));
	/* one encoding only: what our writer (and serde_cbor) makes */
	TRY_OUT(eif_signature_encode(
		(struct eif_blob){out->cert_pem, out->cert_pem_len},
		(struct eif_blob){out->cose, out->cose_len}, &again, e));
	if (again.len != section.len || memcmp(again.p, section.p, again.len)) {
		rc = err_set(e, ERR_INVALID, "eif: signature section is not in "
			     "serde_cbor's encoding (field order, shortest "
			     "integers, definite lengths)");
		goto out;
	}
	TRY_OUT(parse_cert(out, e));
	rc = 0;
out:
	buf_free(&again);
	ncbor_free(root);
	if (rc < 0)
		eif_signature_clear(out);
	return rc;
}

/* What a payload that is not ours says, for the error message. */
static void describe_payload(const uint8_t *p, size_t len, char *out,
			     size_t cap)
{
	struct ncbor *m = NULL;
	snprintf(out, cap, "is not PcrInfo for PCR0");
	if (ncbor_decode(p, len, 1024, &m, NULL, "") < 0)
		return;
	const struct ncbor *i = ncbor_map_get(m, K_INDEX);
	const struct ncbor *v = ncbor_map_get(m, K_VALUE);
	uint8_t *val = NULL;
	size_t n;
	if (ncbor_is(m, NCBOR_MAP) && ncbor_is(i, NCBOR_UINT) &&
	    byte_array(v, EIF_PCR_LEN, &val, &n, NULL, "") == 0 &&
	    n == EIF_PCR_LEN) {
		char hex[2 * EIF_PCR_LEN + 3];
		hex_encode(val, n, hex);
		snprintf(out, cap, "signs PCR%llu = %.16s...",
			 (unsigned long long)i->v, hex + 2);
	}
	free(val);
	ncbor_free(m);
}

int eif_signature_verify(const struct eif_signature *s,
			 const uint8_t pcr0[EIF_PCR_LEN], struct err *e)
{
	struct cose_sign1 c;
	uint8_t *want = NULL;
	size_t want_len;
	int rc = cose_sign1_decode(s->cose, s->cose_len, &c, e);
	if (rc < 0)
		return err_prefix(e, "eif: signature: ");
	if (cose_es384_verify(&c, X509_get0_pubkey(s->cert), e) < 0) {
		rc = err_set(e, ERR_INVALID, "eif: the COSE signature does not "
			     "verify with the signing certificate");
		goto out;
	}
	TRY_OUT(pcr_payload(0, pcr0, &want, &want_len, e));
	if (c.payload_len != want_len || memcmp(c.payload, want, want_len)) {
		char what[96], hex[2 * EIF_PCR_LEN + 3];
		describe_payload(c.payload, c.payload_len, what, sizeof(what));
		hex_encode(pcr0, EIF_PCR_LEN, hex);
		rc = err_set(e, ERR_INVALID, "eif: the signature %s, the image's "
			     "PCR0 is %.16s...: signed for another image", what,
			     hex + 2);
		goto out;
	}
	rc = 0;
out:
	free(want);
	cose_sign1_clear(&c);
	return rc;
}

/* ---- signing ------------------------------------------------------------------ */

/* The certificate as one clean PEM block (what the section carries). */
static int cert_pem(X509 *cert, uint8_t **out, size_t *len, struct err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	if (!b || PEM_write_bio_X509(b, cert) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0 || !(*out = malloc((size_t)n))) {
		BIO_free(b);
		return err_set(e, ERR_NOMEM, "eif: cannot write the certificate");
	}
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	BIO_free(b);
	return 0;
}

int eif_sign(const uint8_t *image, size_t len, EVP_PKEY *key, X509 *cert,
	     struct buf *out, struct eif_info *info, struct err *e)
{
	uint8_t *pem = NULL, *payload = NULL, *cose = NULL;
	size_t pem_len = 0, payload_len = 0, cose_len = 0;
	uint8_t sig[COSE_ES384_SIG_LEN];
	struct buf section = BUF_INIT(EIF_SIGNATURE_MAX);
	size_t start = out->len;
	int rc;
	TRY(eif_parse(image, len, info, e));
	if (info->signature.len)
		return err_set(e, ERR_INVALID, "eif: the image is already "
			       "signed (sign the unsigned image the build "
			       "wrote)");
	if (info->nsections >= EIF_MAX_SECTIONS)
		return err_set(e, ERR_INVALID, "eif: %d sections, no slot for "
			       "the signature", EIF_MAX_SECTIONS);
	TRY(eif_cert_check_p384(cert, e));
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1)
		return err_set(e, ERR_INVALID, "eif: the signing key is not the "
			       "key of the signing certificate");
	TRY_OUT(cert_pem(cert, &pem, &pem_len, e));
	TRY_OUT(pcr_payload(0, info->pcrs.pcr0, &payload, &payload_len, e));
	TRY_OUT(cose_es384_sign(key, cose_es384_protected,
				sizeof(cose_es384_protected), payload,
				payload_len, sig, e));
	TRY_OUT(cose_sign1_encode(cose_es384_protected,
				  sizeof(cose_es384_protected), payload,
				  payload_len, sig, &cose, &cose_len, e));
	TRY_OUT(eif_signature_encode((struct eif_blob){pem, pem_len},
				     (struct eif_blob){cose, cose_len},
				     &section, e));
	/* the header gains slot n; the section goes after the last one */
	uint8_t sh[EIF_SECTION_HEADER_LEN] = {0};
	size_t n = info->nsections;
	eif_put_be(sh, EIF_SECTION_SIGNATURE, 2);
	eif_put_be(sh + 4, section.len, 8);
	rc = buf_reserve(out, len + sizeof(sh) + section.len);
	if (rc == 0)
		rc = buf_append(out, image, len);
	if (rc == 0)
		rc = buf_append(out, sh, sizeof(sh));
	if (rc == 0)
		rc = buf_append(out, section.p, section.len);
	if (rc < 0) {
		rc = err_set(e, -rc, "eif: signed image too large");
		goto out;
	}
	uint8_t *h = out->p + start;
	eif_put_be(h + 26, eif_get_be(h + 26, 2) + 1, 2);
	eif_put_be(h + 28 + 8 * n, len, 8);
	eif_put_be(h + 28 + 8 * EIF_MAX_SECTIONS + 8 * n, section.len, 8);
	uint32_t crc = eif_crc32(0, h, EIF_HEADER_LEN - 4);
	crc = eif_crc32(crc, h + EIF_HEADER_LEN, out->len - start - EIF_HEADER_LEN);
	eif_put_be(h + EIF_HEADER_LEN - 4, crc, 4);
	/* read back: the reader checks what it will check on every describe */
	TRY_OUT(eif_parse(h, out->len - start, info, e));
	rc = 0;
out:
	if (rc < 0)
		out->len = start;
	OPENSSL_cleanse(sig, sizeof(sig));
	buf_free(&section);
	free(pem);
	free(payload);
	free(cose);
	return rc;
}

/* ---- describe ----------------------------------------------------------------- */

struct name_entry {
	char key[80];
	char *value;
	int at; /* position in the name, for the order of repeated keys */
};

static int cmp_entry(const void *a, const void *b)
{
	const struct name_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* nitro-cli's IssuerName: a BTreeMap of the issuer's attributes by long
 * name ("commonName"), so sorted by name and the last value of a name
 * repeated. */
static json_t *issuer_json(X509 *cert)
{
	const X509_NAME *name = X509_get_issuer_name(cert);
	int n = X509_NAME_entry_count(name);
	struct name_entry *v = calloc(n > 0 ? (size_t)n : 1, sizeof(*v));
	json_t *o = json_object();
	size_t k = 0;
	for (int i = 0; v && o && i < n; i++) {
		const X509_NAME_ENTRY *ent = X509_NAME_get_entry(name, i);
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(
			&utf8, X509_NAME_ENTRY_get_data(ent));
		if (len < 0 || OBJ_obj2txt(v[k].key, sizeof(v[k].key),
					   X509_NAME_ENTRY_get_object(ent), 0) <= 0) {
			OPENSSL_free(utf8);
			continue;
		}
		v[k].value = strndup((const char *)utf8, (size_t)len);
		v[k].at = i;
		OPENSSL_free(utf8);
		if (v[k].value)
			k++;
	}
	if (v)
		qsort(v, k, sizeof(*v), cmp_entry);
	for (size_t i = 0; v && o && i < k; i++) {
		json_t *s = json_string(v[i].value);
		if (!s)
			continue;
		json_object_del(o, v[i].key); /* the later value, in order */
		json_object_set_new(o, v[i].key, s);
	}
	for (size_t i = 0; v && i < k; i++)
		free(v[i].value);
	free(v);
	return o;
}

static char *asn1_time_text(const ASN1_TIME *t)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *s = NULL;
	long n;
	if (b && ASN1_TIME_print(b, t) == 1 && (n = BIO_get_mem_data(b, &p)) > 0)
		s = strndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

json_t *eif_signing_cert_json(const struct eif_signature *s)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	const ASN1_OBJECT *oid;
	char alg_name[80];
	X509_get0_signature(&sig, &alg, s->cert);
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	if (OBJ_obj2txt(alg_name, sizeof(alg_name), oid, 0) <= 0)
		return NULL;
	/* "XX:XX:..." upper-case, as nitro-cli prints the signature bits */
	int n = ASN1_STRING_length(sig);
	const unsigned char *d = ASN1_STRING_get0_data(sig);
	char *hex = malloc(n > 0 ? 3 * (size_t)n : 1);
	if (!hex)
		return NULL;
	hex[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(hex + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", d[i]);
	char *nb = asn1_time_text(X509_get0_notBefore(s->cert));
	char *na = asn1_time_text(X509_get0_notAfter(s->cert));
	json_t *o = nb && na ? json_pack("{s:o?, s:s, s:s, s:s, s:s}",
					 "IssuerName", issuer_json(s->cert),
					 "Algorithm", alg_name, "NotBefore", nb,
					 "NotAfter", na, "Signature", hex)
			     : NULL;
	free(nb);
	free(na);
	free(hex);
	return o;
}
