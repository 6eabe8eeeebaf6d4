/*
 * cose.c: COSE_Sign1 (RFC 9052) as the NSM uses it, ES384 only.
 *
 * A document is [protected: bstr {1: -35}, unprotected: {}, payload: bstr,
 * signature: bstr(96) = r || s], untagged from the NSM (tag 18 accepted).
 * The signature covers the CBOR Sig_structure
 * ["Signature1", protected, h'' (external_aad), payload], which we encode
 * ourselves around the exact protected and payload bytes; OpenSSL wants the
 * ECDSA signature as DER, so r || s is converted both ways here. Nothing
 * decoded here is trusted until cose_es384_verify() returns 0 against a key
 * from a verified chain (attestation.c).
 */
#include "nitro_internal.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <stdlib.h>
#include <string.h>

#define COSE_TAG_SIGN1 18
#define ES384_HALF 48

const uint8_t cose_es384_protected[4] = {0xa1, 0x01, 0x38, 0x22};

static int check_protected(const uint8_t *p, size_t len, struct err *e)
{
	struct ncbor *m = NULL;
	TRY(ncbor_decode(p, len, 64, &m, e, "COSE protected header"));
	int rc = 0;
	if (!ncbor_is(m, NCBOR_MAP) || m->n != 1) {
		rc = err_set(e, ERR_INVALID,
			     "COSE protected header: want exactly {1: alg}");
		goto out;
	}
	const struct ncbor *key = ncbor_map_key(m, 0), *val = ncbor_map_value(m, 0);
	if (!ncbor_is(key, NCBOR_UINT) || key->v != 1) {
		rc = err_set(e, ERR_INVALID,
			     "COSE protected header: key is not alg (1)");
		goto out;
	}
	if (!ncbor_is(val, NCBOR_NEGINT) ||
	    val->v != (uint64_t)(-1 - COSE_ALG_ES384)) {
		long long alg = ncbor_is(val, NCBOR_NEGINT)
					? -1 - (long long)(val->v & 0x7fffffff)
				: ncbor_is(val, NCBOR_UINT)
					? (long long)(val->v & 0x7fffffff)
					: 0;
		rc = err_set(e, ERR_INVALID,
			     "COSE alg %lld is not ES384 (-35)", alg);
		goto out;
	}
out:
	ncbor_free(m);
	return rc;
}

void cose_sign1_clear(struct cose_sign1 *c)
{
	free(c->protected_hdr);
	free(c->payload);
	memset(c, 0, sizeof(*c));
}

int cose_sign1_decode(const uint8_t *doc, size_t len, struct cose_sign1 *out,
		      struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct ncbor *root = NULL;
	const struct ncbor *arr;
	struct cursor cur = cursor_init(doc, len);
	const uint8_t *tag;
	int rc;
	if (len > NITRO_DOC_MAX)
		return err_set(e, ERR_TOO_LARGE, "attestation document: %zu "
			       "bytes, limit %d", len, NITRO_DOC_MAX);
	/* The decoder refuses one-byte tags 6..20 as libcbor 0.8 did, 18
	 * among them, so the short form of tag 18 (0xd2) is taken off here. */
	if (len > 0 && doc[0] == 0xd2)
		TRY(cursor_take(&cur, 1, &tag));
	TRY(ncbor_decode(cur.p, cur.left, NITRO_DOC_MAX, &root, e,
			 "attestation document"));
	arr = root;
	if (ncbor_is(root, NCBOR_TAG)) {
		if (root->v != COSE_TAG_SIGN1) {
			rc = err_set(e, ERR_INVALID,
				     "COSE: tag %llu is not COSE_Sign1 (18)",
				     (unsigned long long)root->v);
			goto out;
		}
		arr = &root->items[0];
	}
	if (!ncbor_is(arr, NCBOR_ARRAY) || arr->n != 4) {
		rc = err_set(e, ERR_INVALID,
			     "COSE: not a COSE_Sign1 array of 4 items");
		goto out;
	}
	const struct ncbor *it = arr->items;
	size_t n;
	TRY_OUT(ncbor_bytes_dup(&it[0], 1, 64, &out->protected_hdr,
				&out->protected_len, e, "COSE protected header"));
	TRY_OUT(check_protected(out->protected_hdr, out->protected_len, e));
	if (!ncbor_is(&it[1], NCBOR_MAP) || it[1].n != 0) {
		rc = err_set(e, ERR_INVALID,
			     "COSE: unprotected header must be an empty map");
		goto out;
	}
	TRY_OUT(ncbor_bytes_dup(&it[2], 1, NITRO_DOC_MAX, &out->payload,
				&out->payload_len, e, "COSE payload"));
	TRY_OUT(ncbor_bytes_copy(&it[3], COSE_ES384_SIG_LEN, COSE_ES384_SIG_LEN,
				 out->signature, &n, e, "COSE signature"));
	rc = 0;
out:
	ncbor_free(root);
	if (rc < 0)
		cose_sign1_clear(out);
	return rc;
}

static int sig_structure(const uint8_t *prot, size_t prot_len,
			 const uint8_t *payload, size_t payload_len,
			 uint8_t **out, size_t *out_len, struct err *e)
{
	struct ncbor_out o;
	ncbor_out_init(&o, NITRO_DOC_MAX + 128);
	ncbor_put_array(&o, 4);
	ncbor_put_text(&o, "Signature1");
	ncbor_put_bytes(&o, prot, prot_len);
	ncbor_put_bytes(&o, NULL, 0);
	ncbor_put_bytes(&o, payload, payload_len);
	return ncbor_out_finish(&o, out, out_len, e);
}

static int check_p384(EVP_PKEY *key, struct err *e)
{
	char group[64];
	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
					    group, sizeof(group), NULL) ||
	    strcmp(group, "secp384r1") != 0)
		return err_set(e, ERR_CRYPTO, "COSE: signing key is not P-384");
	return 0;
}

int cose_es384_verify(const struct cose_sign1 *c, EVP_PKEY *key,
		      struct err *e)
{
	uint8_t *tbs = NULL, *der = NULL;
	size_t tbs_len;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	EVP_MD_CTX *md = NULL;
	int rc;
	TRY(check_p384(key, e));
	TRY(sig_structure(c->protected_hdr, c->protected_len, c->payload,
			  c->payload_len, &tbs, &tbs_len, e));
	r = BN_bin2bn(c->signature, ES384_HALF, NULL);
	s = BN_bin2bn(c->signature + ES384_HALF, ES384_HALF, NULL);
	sig = ECDSA_SIG_new();
	if (!r || !s || !sig || !ECDSA_SIG_set0(sig, r, s)) {
		rc = err_set(e, ERR_NOMEM, "COSE: out of memory");
		goto out;
	}
	r = s = NULL; /* owned by sig */
	int der_len = i2d_ECDSA_SIG(sig, &der);
	md = EVP_MD_CTX_new();
	if (der_len <= 0 || !md ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, key) != 1) {
		rc = err_set(e, ERR_CRYPTO, "COSE: cannot set up ES384");
		goto out;
	}
	if (EVP_DigestVerify(md, der, (size_t)der_len, tbs, tbs_len) != 1) {
		rc = err_set(e, ERR_CRYPTO,
			     "COSE ES384 signature does not verify with the "
			     "leaf certificate");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	BN_free(r);
	BN_free(s);
	free(tbs);
	return rc;
}

int cose_es384_sign(EVP_PKEY *key, const uint8_t *prot, size_t prot_len,
		    const uint8_t *payload, size_t payload_len,
		    uint8_t sig_out[COSE_ES384_SIG_LEN], struct err *e)
{
	uint8_t *tbs = NULL, der[160];
	size_t tbs_len, der_len = sizeof(der);
	ECDSA_SIG *sig = NULL;
	EVP_MD_CTX *md = NULL;
	int rc;
	TRY(check_p384(key, e));
	TRY(sig_structure(prot, prot_len, payload, payload_len, &tbs, &tbs_len, e));
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &der_len, tbs, tbs_len) != 1) {
		rc = err_set(e, ERR_CRYPTO, "COSE: ES384 signing failed");
		goto out;
	}
	const uint8_t *p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;
	if (!sig) {
		rc = err_set(e, ERR_CRYPTO, "COSE: bad ECDSA signature");
		goto out;
	}
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, sig_out, ES384_HALF) != ES384_HALF ||
	    BN_bn2binpad(s, sig_out + ES384_HALF, ES384_HALF) != ES384_HALF) {
		rc = err_set(e, ERR_CRYPTO, "COSE: ECDSA value too long");
		goto out;
	}
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	free(tbs);
	return rc;
}

int cose_sign1_encode(const uint8_t *prot, size_t prot_len,
		      const uint8_t *payload, size_t payload_len,
		      const uint8_t sig[COSE_ES384_SIG_LEN], uint8_t **out,
		      size_t *out_len, struct err *e)
{
	struct ncbor_out o;
	ncbor_out_init(&o, NITRO_DOC_MAX);
	ncbor_put_array(&o, 4);
	ncbor_put_bytes(&o, prot, prot_len);
	ncbor_put_map(&o, 0);
	ncbor_put_bytes(&o, payload, payload_len);
	ncbor_put_bytes(&o, sig, COSE_ES384_SIG_LEN);
	return ncbor_out_finish(&o, out, out_len, e);
}
