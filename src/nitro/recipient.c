/*
 * recipient.c: the enclave's Recipient key and the opening of KMS
 * CiphertextForRecipient.
 *
 * Per boot the enclave makes an RSA-2048 key (e = 65537, as kmstool does),
 * puts its SubjectPublicKeyInfo into the attestation request, and KMS
 * answers with a CMS EnvelopedData (RFC 5652), BER with indefinite lengths:
 * one KeyTransRecipientInfo (RSAES-OAEP, SHA-256 and MGF1-SHA-256, empty
 * label) and AES-256-CBC content, the encrypted content either a constructed
 * or a primitive [0]. The rid is an opaque SKI chosen by KMS; it is not
 * matched.
 *
 * Two readers of the same untrusted bytes, both OpenSSL's ASN.1 decoder:
 * recipient_cms_inspect() decodes with the small templates below (what is
 * inside: OIDs, OAEP parameters, encrypted key, IV, ciphertext) and the
 * policy is checked on that; only then does d2i_CMS_ContentInfo +
 * CMS_decrypt_set1_pkey unwrap the content key, and the plaintext is read
 * from CMS_dataInit's cipher BIO straight into a struct secret, with the
 * padding status checked (OpenSSL answers a wrong key with a random content
 * key, so a wrong key shows up as a padding failure or garbage).
 */
#include "nitro_internal.h"

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct recipient {
	EVP_PKEY *key;
	uint8_t *spki;
	size_t spki_len;
};

/* ---- the key ------------------------------------------------------------------ */

static int finish_key(EVP_PKEY *key, struct recipient **out, struct err *e)
{
	struct recipient *r = calloc(1, sizeof(*r));
	uint8_t *p = NULL;
	int n = key ? i2d_PUBKEY(key, &p) : -1;
	if (!r || n <= 0) {
		free(r);
		EVP_PKEY_free(key);
		OPENSSL_free(p);
		return err_set(e, ERR_CRYPTO, "recipient: cannot encode key");
	}
	r->key = key;
	r->spki = p;
	r->spki_len = (size_t)n;
	*out = r;
	return 0;
}

int recipient_new(struct recipient **out, struct err *e)
{
	*out = NULL;
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!key)
		return err_set(e, ERR_CRYPTO, "recipient: RSA-2048 keygen failed");
	return finish_key(key, out, e);
}

int recipient_from_private_pem(const char *pem, size_t len,
			       struct recipient **out, struct err *e)
{
	*out = NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!key || !EVP_PKEY_is_a(key, "RSA")) {
		EVP_PKEY_free(key);
		return err_set(e, ERR_INVALID, "recipient: not an RSA private key");
	}
	return finish_key(key, out, e);
}

const uint8_t *recipient_public_key(const struct recipient *r, size_t *len)
{
	*len = r->spki_len;
	return r->spki;
}

void recipient_free(struct recipient *r)
{
	if (!r)
		return;
	EVP_PKEY_free(r->key); /* OpenSSL clears the RSA private values */
	OPENSSL_free(r->spki);
	free(r);
}

/* ---- ASN.1 templates: ContentInfo / EnvelopedData / KTRI (RFC 5652) ------- */

typedef struct {
	int type;
	union {
		STACK_OF(ASN1_TYPE) *issuer_and_serial;
		ASN1_OCTET_STRING *ski;
	} d;
} NS_RID;

ASN1_CHOICE(NS_RID) = {
	ASN1_SEQUENCE_OF(NS_RID, d.issuer_and_serial, ASN1_ANY),
	ASN1_IMP(NS_RID, d.ski, ASN1_OCTET_STRING, 0),
} ASN1_CHOICE_END(NS_RID)

typedef struct {
	ASN1_INTEGER *version;
	NS_RID *rid;
	X509_ALGOR *key_alg;
	ASN1_OCTET_STRING *encrypted_key;
} NS_KTRI;

ASN1_SEQUENCE(NS_KTRI) = {
	ASN1_SIMPLE(NS_KTRI, version, ASN1_INTEGER),
	ASN1_SIMPLE(NS_KTRI, rid, NS_RID),
	ASN1_SIMPLE(NS_KTRI, key_alg, X509_ALGOR),
	ASN1_SIMPLE(NS_KTRI, encrypted_key, ASN1_OCTET_STRING),
} ASN1_SEQUENCE_END(NS_KTRI)

typedef struct {
	ASN1_OBJECT *content_type;
	X509_ALGOR *cipher;
	ASN1_OCTET_STRING *content;
} NS_ECI;

ASN1_SEQUENCE(NS_ECI) = {
	ASN1_SIMPLE(NS_ECI, content_type, ASN1_OBJECT),
	ASN1_SIMPLE(NS_ECI, cipher, X509_ALGOR),
	ASN1_IMP_OPT(NS_ECI, content, ASN1_OCTET_STRING, 0),
} ASN1_SEQUENCE_END(NS_ECI)

typedef struct {
	ASN1_INTEGER *version;
	STACK_OF(ASN1_TYPE) *originator;
	STACK_OF(NS_KTRI) *recipients;
	NS_ECI *eci;
	STACK_OF(ASN1_TYPE) *unprotected;
} NS_ENV;

ASN1_SEQUENCE(NS_ENV) = {
	ASN1_SIMPLE(NS_ENV, version, ASN1_INTEGER),
	ASN1_IMP_SEQUENCE_OF_OPT(NS_ENV, originator, ASN1_ANY, 0),
	ASN1_SET_OF(NS_ENV, recipients, NS_KTRI),
	ASN1_SIMPLE(NS_ENV, eci, NS_ECI),
	ASN1_IMP_SET_OF_OPT(NS_ENV, unprotected, ASN1_ANY, 1),
} ASN1_SEQUENCE_END(NS_ENV)

typedef struct {
	ASN1_OBJECT *content_type;
	NS_ENV *env;
} NS_CI;

ASN1_SEQUENCE(NS_CI) = {
	ASN1_SIMPLE(NS_CI, content_type, ASN1_OBJECT),
	ASN1_EXP(NS_CI, env, NS_ENV, 0),
} ASN1_SEQUENCE_END(NS_CI)

DEFINE_STACK_OF(NS_KTRI)
DECLARE_ASN1_FUNCTIONS(NS_CI)
IMPLEMENT_ASN1_FUNCTIONS(NS_CI)

/* ---- inspection ------------------------------------------------------------ */

void recipient_cms_info_clear(struct recipient_cms_info *info)
{
	free(info->ciphertext);
	memset(info, 0, sizeof(*info));
}

static int alg_nid(const X509_ALGOR *a)
{
	const ASN1_OBJECT *obj;
	X509_ALGOR_get0(&obj, NULL, NULL, a);
	return OBJ_obj2nid(obj);
}

static void read_oaep(const X509_ALGOR *alg, struct recipient_cms_info *info)
{
	info->oaep_hash_nid = info->oaep_mgf1_nid = NID_undef;
	const ASN1_OBJECT *obj;
	int ptype;
	const void *pval;
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (ptype != V_ASN1_SEQUENCE)
		return;
	RSA_OAEP_PARAMS *p = ASN1_TYPE_unpack_sequence(
		ASN1_ITEM_rptr(RSA_OAEP_PARAMS), alg->parameter);
	if (!p)
		return;
	if (p->hashFunc)
		info->oaep_hash_nid = alg_nid(p->hashFunc);
	if (p->maskGenFunc && alg_nid(p->maskGenFunc) == NID_mgf1 &&
	    p->maskGenFunc->parameter) {
		X509_ALGOR *h = ASN1_TYPE_unpack_sequence(
			ASN1_ITEM_rptr(X509_ALGOR), p->maskGenFunc->parameter);
		if (h)
			info->oaep_mgf1_nid = alg_nid(h);
		X509_ALGOR_free(h);
	} else if (p->maskGenFunc) {
		info->oaep_mgf1_nid = -1; /* not MGF1: refused below */
	}
	info->oaep_label = p->pSourceFunc != NULL;
	RSA_OAEP_PARAMS_free(p);
}

static int fill_info(const NS_CI *ci, struct recipient_cms_info *info,
		     struct err *e)
{
	if (OBJ_obj2nid(ci->content_type) != NID_pkcs7_enveloped)
		return err_set(e, ERR_INVALID, "CMS: not EnvelopedData");
	const NS_ENV *env = ci->env;
	if (sk_NS_KTRI_num(env->recipients) != 1)
		return err_set(e, ERR_INVALID, "CMS: %d recipients, want exactly "
			       "one", sk_NS_KTRI_num(env->recipients));
	const NS_KTRI *k = sk_NS_KTRI_value(env->recipients, 0);
	info->ktri_version = (int)ASN1_INTEGER_get(k->version);
	if (alg_nid(k->key_alg) != NID_rsaesOaep)
		return err_set(e, ERR_INVALID,
			       "CMS: key encryption is not RSAES-OAEP");
	read_oaep(k->key_alg, info);
	int n = ASN1_STRING_length(k->encrypted_key);
	if (n < 1 || (size_t)n > sizeof(info->encrypted_key))
		return err_set(e, ERR_INVALID, "CMS: encrypted key of %d bytes", n);
	memcpy(info->encrypted_key, ASN1_STRING_get0_data(k->encrypted_key),
	       (size_t)n);
	info->encrypted_key_len = (size_t)n;

	const NS_ECI *eci = env->eci;
	if (OBJ_obj2nid(eci->content_type) != NID_pkcs7_data)
		return err_set(e, ERR_INVALID, "CMS: content type is not data");
	info->content_cipher_nid = alg_nid(eci->cipher);
	const ASN1_OBJECT *obj;
	int ptype;
	const void *pval;
	X509_ALGOR_get0(&obj, &ptype, &pval, eci->cipher);
	if (ptype == V_ASN1_OCTET_STRING) {
		const ASN1_OCTET_STRING *iv = pval;
		int l = ASN1_STRING_length(iv);
		if (l > 0 && (size_t)l <= sizeof(info->iv)) {
			memcpy(info->iv, ASN1_STRING_get0_data(iv), (size_t)l);
			info->iv_len = (size_t)l;
		}
	}
	if (!eci->content)
		return err_set(e, ERR_INVALID, "CMS: no encrypted content");
	n = ASN1_STRING_length(eci->content);
	if (n < 1 || n > NITRO_PLAINTEXT_MAX + 32)
		return err_set(e, ERR_INVALID, "CMS: encrypted content of %d "
			       "bytes", n);
	if (!(info->ciphertext = malloc((size_t)n)))
		return err_set(e, ERR_NOMEM, "CMS: out of memory");
	memcpy(info->ciphertext, ASN1_STRING_get0_data(eci->content), (size_t)n);
	info->ciphertext_len = (size_t)n;
	return 0;
}

int recipient_cms_inspect(const uint8_t *cms, size_t len,
			  struct recipient_cms_info *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (len == 0 || len > NITRO_CMS_MAX)
		return err_set(e, ERR_TOO_LARGE, "CMS: %zu bytes, want 1..%d",
			       len, NITRO_CMS_MAX);
	const uint8_t *p = cms;
	NS_CI *ci = d2i_NS_CI(NULL, &p, (long)len);
	ERR_clear_error();
	if (!ci)
		return err_set(e, ERR_INVALID, "CMS: not a ContentInfo with "
			       "EnvelopedData and key-transport recipients");
	int rc = p == cms + len ? fill_info(ci, out, e)
				: err_set(e, ERR_INVALID, "CMS: trailing bytes");
	NS_CI_free(ci);
	if (rc < 0)
		recipient_cms_info_clear(out);
	return rc;
}

/* ---- policy and decryption ------------------------------------------------------ */

static int check_policy(const struct recipient_cms_info *i, struct err *e)
{
	if (i->oaep_hash_nid != NID_sha256)
		return err_set(e, ERR_CRYPTO, "CMS: OAEP hash is %s, want SHA-256",
			       i->oaep_hash_nid == NID_undef
				       ? "SHA-1 (default)"
				       : OBJ_nid2sn(i->oaep_hash_nid));
	if (i->oaep_mgf1_nid != NID_sha256)
		return err_set(e, ERR_CRYPTO, "CMS: OAEP mask is not MGF1-SHA-256");
	if (i->oaep_label)
		return err_set(e, ERR_CRYPTO, "CMS: OAEP label not allowed");
	if (i->content_cipher_nid != NID_aes_256_cbc || i->iv_len != 16)
		return err_set(e, ERR_CRYPTO,
			       "CMS: content cipher is not AES-256-CBC");
	if (i->ciphertext_len % 16 != 0)
		return err_set(e, ERR_CRYPTO, "CMS: ciphertext is not whole "
			       "AES blocks (truncated?)");
	return 0;
}

/* Reads the decrypted content from the CMS cipher BIO into secure memory. */
static int read_plaintext(CMS_ContentInfo *cms, size_t max,
			  struct secret **out, struct err *e)
{
	BIO *cont = CMS_dataInit(cms, NULL);
	struct secret *s = NULL;
	int rc;
	if (!cont)
		return err_set(e, ERR_CRYPTO, "CMS: cannot decrypt content");
	if (!(s = secret_new(max))) {
		rc = err_set(e, ERR_NOMEM, "CMS: out of secure memory");
		goto out;
	}
	size_t got = 0;
	for (;;) {
		if (got == max) {
			rc = err_set(e, ERR_TOO_LARGE, "CMS: plaintext too long");
			goto out;
		}
		int n = BIO_read(cont, s->bytes + got, (int)(max - got));
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	BIO *cipher = BIO_find_type(cont, BIO_TYPE_CIPHER);
	if (!cipher || BIO_get_cipher_status(cipher) <= 0) {
		rc = err_set(e, ERR_CRYPTO, "CMS: decryption failed (wrong key "
			     "or tampered content: bad padding)");
		goto out;
	}
	secret_truncate(s, got);
	*out = s;
	s = NULL;
	rc = 0;
out:
	secret_free(s);
	BIO_free_all(cont);
	return rc;
}

int recipient_open(const struct recipient *r, const uint8_t *cms, size_t len,
		   struct secret **plaintext, struct err *e)
{
	struct recipient_cms_info info;
	CMS_ContentInfo *c = NULL;
	int rc;
	*plaintext = NULL;
	TRY(recipient_cms_inspect(cms, len, &info, e));
	TRY_OUT(check_policy(&info, e));
	if (info.ktri_version != 0 && info.ktri_version != 2) {
		rc = err_set(e, ERR_INVALID, "CMS: recipient version %d",
			     info.ktri_version);
		goto out;
	}
	const uint8_t *p = cms;
	c = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (!c || p != cms + len) {
		rc = err_set(e, ERR_INVALID, "CMS: OpenSSL cannot read it");
		goto out;
	}
	/*
	 * CMS_DEBUG_DECRYPT (set through CMS_decrypt with no key and no
	 * output): a key that does not unwrap is an error. Without it OpenSSL
	 * goes on with a random content key, a defence against Bleichenbacher's
	 * attack on PKCS#1 v1.5, and the padding check then passes about once
	 * in 256 tries, handing back garbage as the plaintext. check_policy
	 * admitted RSAES-OAEP-SHA-256 only, whose decoding OpenSSL does in
	 * constant time with one error, so a failure tells an attacker nothing.
	 */
	if (CMS_decrypt(c, NULL, NULL, NULL, NULL, CMS_DEBUG_DECRYPT) != 1 ||
	    CMS_decrypt_set1_pkey(c, r->key, NULL) != 1) {
		rc = err_set(e, ERR_CRYPTO, "CMS: cannot unwrap the content key");
		goto out;
	}
	TRY_OUT(read_plaintext(c, info.ciphertext_len, plaintext, e));
	rc = 0;
out:
	ERR_clear_error();
	CMS_ContentInfo_free(c);
	recipient_cms_info_clear(&info);
	return rc;
}
