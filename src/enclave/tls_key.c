/*
 * tls_key.c: the API's TLS key, born in the enclave and kept sealed under
 * KMS in the key table, so that every enclave of one signer_id (restarts,
 * a second instance) serves the same certificate.
 *
 * The record is the key table item {web3signer_uuid: signer_id, pubkey:
 * "tls:server"} with tls_format "nitro-signer-tls-v1",
 * wrapped_data_key_b64 (a KMS GenerateDataKey CiphertextBlob, encryption
 * context {purpose: nitro-signer-tls-v1, signer_id}), tls_key_ciphertext_b64
 * (the PKCS#8 DER of a P-256 key under AES-256-GCM with that data key, AAD
 * "nitro-signer-tls-v1|<signer_id>"), tls_cert_pem (self-signed) and
 * datetime. The data key is only ever released to the enclave's attested
 * Recipient (GenerateDataKey and Decrypt both carry it), so the private key
 * is never in the clear outside the enclave.
 *
 * The item comes from DynamoDB through the host and is untrusted: its
 * format, base64, the AEAD (which binds the signer id) and the key's match
 * with the certificate are all checked; any failure fails init without
 * writing anything. Private key bytes only live in struct secret.
 */
#include "enclave/enclave_internal.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TLS_FORMAT "nitro-signer-tls-v1"
#define TLS_ITEM_KEY "tls:server"
#define TLS_VALID_DAYS 3650L
#define TLS_PEM_MAX (16 * 1024)

void enclave_tls_free(struct enclave_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t->cert_pem);
	free(t);
}

/* ---- certificates -------------------------------------------------------- */

/* "DNS:a,IP:1.2.3.4,..." from tls_names (validated by init's schema). */
static int san_list(const json_t *names, char **out, struct err *e)
{
	size_t cap = 16, len = 0, i;
	const json_t *v;
	json_array_foreach(names, i, v)
		cap += json_string_length(v) + 5;
	char *s = calloc(1, cap);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	json_array_foreach(names, i, v) {
		const char *n = json_string_value(v);
		uint8_t ip[16];
		bool is_ip = inet_pton(AF_INET, n, ip) == 1 ||
			     inet_pton(AF_INET6, n, ip) == 1;
		len += (size_t)snprintf(s + len, cap - len, "%s%s:%s",
					i ? "," : "", is_ip ? "IP" : "DNS", n);
	}
	*out = s;
	return 0;
}

static X509 *self_signed(EVP_PKEY *key, const char *signer_id,
			 const char *sans)
{
	char cn[65];
	/* X.509 caps a common name at 64 characters. */
	snprintf(cn, sizeof(cn), "nitro-signer %.51s", signer_id);
	return http_tls_self_signed(key, cn, sans, TLS_VALID_DAYS, "serverAuth");
}

static char *cert_to_pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	long n;
	if (b && PEM_write_bio_X509(b, x) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 && (out = malloc((size_t)n + 1))) {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return out;
}

static X509 *cert_from_pem(const char *pem)
{
	size_t n = strlen(pem);
	if (n > TLS_PEM_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

/* The PKCS#8 DER of key, in secure memory. */
static int key_to_pkcs8(EVP_PKEY *key, struct secret **out, struct err *e)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	int n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, NULL) : -1;
	struct secret *s = n > 0 ? secret_new((size_t)n) : NULL;
	unsigned char *q = s ? s->bytes : NULL;
	int rc = 0;
	if (!s || i2d_PKCS8_PRIV_KEY_INFO(p8, &q) != n) {
		secret_free(s);
		rc = err_set(e, ERR_CRYPTO, "tls key: cannot encode the key");
	} else {
		*out = s;
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

static EVP_PKEY *key_from_pkcs8(const struct secret *der)
{
	const unsigned char *q = der->bytes;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q,
							  (long)der->len);
	EVP_PKEY *k = p8 && q == der->bytes + der->len ? EVP_PKCS82PKEY(p8)
						       : NULL;
	PKCS8_PRIV_KEY_INFO_free(p8);
	return k;
}

/* The server context, the PEM (re-encoded from the parsed certificate,
 * so nothing else from a stored item reaches the reply) and the SPKI hash. */
static int tls_make(const struct enclave_tls_params *p, EVP_PKEY *key,
		    X509 *cert, struct enclave_tls **out, struct err *e)
{
	struct enclave_tls *t = calloc(1, sizeof(*t));
	int rc = 0;
	if (!t)
		return err_set(e, ERR_NOMEM, "out of memory");
	t->cert_pem = cert_to_pem(cert);
	t->ctx = SSL_CTX_new(TLS_server_method());
	if (t->ctx) {
		SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
		SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION |
						    SSL_OP_CIPHER_SERVER_PREFERENCE);
	}
	if (!t->cert_pem || !t->ctx ||
	    SSL_CTX_use_certificate(t->ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(t->ctx, key) != 1 ||
	    SSL_CTX_check_private_key(t->ctx) != 1 ||
	    http_tls_spki_sha256(cert, t->spki_sha256) < 0)
		rc = err_set(e, ERR_CRYPTO, "tls key: cannot build the TLS context");
	/* Clients are authorised per route (the signer's route table): the
	 * handshake asks for a certificate and lets everyone in. */
	if (rc == 0 && p->request_clients)
		rc = http_tls_ctx_request_clients(t->ctx, p->clients, e);
	ERR_clear_error();
	if (rc < 0) {
		enclave_tls_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* ---- the record ------------------------------------------------------------ */

static json_t *item_key(const char *signer_id)
{
	return json_pack("{s:{s:s},s:{s:s}}", AWS_KT_SIGNER_ID, "S", signer_id,
			 AWS_KT_PUBKEY, "S", TLS_ITEM_KEY);
}

static const char *item_s(const json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(item, name),
						 "S"));
}

static json_t *kms_context(const char *signer_id)
{
	return json_pack("{s:s,s:s}", "purpose", TLS_FORMAT, "signer_id",
			 signer_id);
}

static int aad_of(const char *signer_id, char *aad, size_t cap)
{
	return snprintf(aad, cap, "%s|%s", TLS_FORMAT, signer_id);
}

/* An existing record -> the key and certificate, both checked. */
static int tls_open_item(const struct enclave_tls_params *p,
			 const json_t *item, struct enclave_tls **out,
			 struct err *e)
{
	const char *fmt = item_s(item, AWS_KT_TLS_FORMAT);
	const char *wrapped = item_s(item, AWS_KT_WRAPPED_KEY);
	const char *ct_b64 = item_s(item, AWS_KT_TLS_KEY_CT);
	const char *pem = item_s(item, AWS_KT_TLS_CERT);
	if (!fmt || strcmp(fmt, TLS_FORMAT) != 0)
		return err_set(e, ERR_INVALID, "tls_format is "
			       "not \"%s\"", TLS_FORMAT);
	if (!wrapped || !ct_b64 || !pem)
		return err_set(e, ERR_INVALID, "wrapped_data_key_b64, "
			       "tls_key_ciphertext_b64 and tls_cert_pem are required");
	struct secret *dk = NULL, *der = NULL;
	uint8_t *ct = NULL;
	size_t ct_len = 0;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char aad[300];
	int aad_len = aad_of(p->signer_id, aad, sizeof(aad));
	json_t *ctx = kms_context(p->signer_id);
	int rc = ctx ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = b64_decode(ct_b64, &ct, &ct_len, e,
				"tls_key_ciphertext_b64");
	if (rc == 0)
		rc = enclave_kms_open(p->kms, p->kms_key_id, wrapped, ctx, &dk, e);
	if (rc == 0 && dk->len != 32)
		rc = err_set(e, ERR_CRYPTO, "the data key is not 32 bytes");
	if (rc == 0)
		rc = aws_envelope_open(dk, (const uint8_t *)aad, (size_t)aad_len,
				       ct, ct_len, &der, e);
	if (rc == 0 && !(key = key_from_pkcs8(der)))
		rc = err_set(e, ERR_INVALID, "the sealed key is not PKCS#8");
	if (rc == 0 && !(cert = cert_from_pem(pem)))
		rc = err_set(e, ERR_INVALID, "tls_cert_pem is not a PEM certificate");
	if (rc == 0 && X509_check_private_key(cert, key) != 1)
		rc = err_set(e, ERR_INVALID, "the key does not match the "
			     "certificate's public key");
	if (rc == 0)
		rc = tls_make(p, key, cert, out, e);
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	secret_free(dk);
	secret_free(der);
	free(ct);
	json_decref(ctx);
	return rc < 0 ? err_prefix(e, "the stored record: ") : 0;
}

static void iso8601_now(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A data key for the Recipient: the plaintext opened inside, the blob. */
static int data_key(const struct enclave_tls_params *p, const json_t *ctx,
		    struct secret **dk, char **blob_b64, struct err *e)
{
	struct aws_kms_data_key k;
	memset(&k, 0, sizeof(k));
	struct aws_kms_recipient r = {p->kms->doc, p->kms->doc_len};
	int rc = aws_kms_generate_data_key(p->kms->kms, p->kms_key_id, "AES_256",
					   ctx, &r, &k, e);
	if (rc == 0 && strcmp(k.plain.key_id, p->kms_key_id) != 0)
		rc = err_set(e, ERR_CRYPTO, "KMS answered for another key than %s",
			     p->kms_key_id);
	if (rc == 0 && !k.plain.for_recipient)
		rc = err_set(e, ERR_CRYPTO, "KMS returned no CiphertextForRecipient");
	if (rc == 0)
		rc = recipient_open(p->kms->rcp, k.plain.for_recipient,
				    k.plain.for_recipient_len, dk, e);
	if (rc == 0 && (*dk)->len != 32) {
		secret_free(*dk);
		*dk = NULL;
		rc = err_set(e, ERR_CRYPTO, "the data key is not 32 bytes");
	}
	if (rc == 0 && !(*blob_b64 = b64_encode(k.blob, k.blob_len))) {
		secret_free(*dk);
		*dk = NULL;
		rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	aws_kms_data_key_clear(&k);
	return rc;
}

/* The new record's item (everything but the key attributes is public). */
static json_t *new_item(const struct enclave_tls_params *p, const char *wrapped,
			const char *ct_b64, const char *pem)
{
	char now[32];
	iso8601_now(now);
	return json_pack("{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:s},"
			 "s:{s:s}}",
			 AWS_KT_SIGNER_ID, "S", p->signer_id,
			 AWS_KT_PUBKEY, "S", TLS_ITEM_KEY,
			 AWS_KT_TLS_FORMAT, "S", TLS_FORMAT,
			 AWS_KT_WRAPPED_KEY, "S", wrapped,
			 AWS_KT_TLS_KEY_CT, "S", ct_b64,
			 AWS_KT_TLS_CERT, "S", pem,
			 AWS_KT_DATETIME, "S", now);
}

/*
 * A new key and certificate, sealed and put under the condition that no
 * record exists. 1 when another enclave's put won (the caller reads it).
 */
static int tls_create(const struct enclave_tls_params *p,
		      struct enclave_tls **out, struct err *e)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	char *sans = NULL, *pem = NULL, *wrapped = NULL, *ct_b64 = NULL;
	struct secret *der = NULL, *dk = NULL;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	json_t *item = NULL, *ctx = kms_context(p->signer_id);
	json_t *dflt = p->names ? NULL : json_pack("[s]", "localhost");
	char aad[300];
	int aad_len = aad_of(p->signer_id, aad, sizeof(aad));
	int rc = key && ctx && (p->names || dflt)
			 ? 0 : err_set(e, ERR_CRYPTO, "cannot generate a P-256 key");
	if (rc == 0)
		rc = san_list(p->names ? p->names : dflt, &sans, e);
	if (rc == 0 && (!(cert = self_signed(key, p->signer_id, sans)) ||
			!(pem = cert_to_pem(cert))))
		rc = err_set(e, ERR_CRYPTO, "cannot make the certificate");
	if (rc == 0)
		rc = key_to_pkcs8(key, &der, e);
	if (rc == 0)
		rc = data_key(p, ctx, &dk, &wrapped, e);
	if (rc == 0)
		rc = aws_envelope_seal(dk, (const uint8_t *)aad, (size_t)aad_len,
				       der->bytes, der->len, &sealed, &sealed_len, e);
	if (rc == 0 && (!(ct_b64 = b64_encode(sealed, sealed_len)) ||
			!(item = new_item(p, wrapped, ct_b64, pem))))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0) {
		struct aws_ddb_expr cond = {"attribute_not_exists(pubkey)", NULL,
					    NULL};
		rc = aws_ddb_put_item(p->ddb, p->table, item, &cond, e);
		if (rc == -ERR_REFUSED) {
			log_info("tls key: another enclave stored the key first; "
				 "using it");
			rc = 1;
		}
	}
	if (rc == 0)
		rc = tls_make(p, key, cert, out, e);
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	free(sans);
	free(pem);
	free(wrapped);
	free(ct_b64);
	free(sealed);
	secret_free(der);
	secret_free(dk);
	json_decref(item);
	json_decref(ctx);
	json_decref(dflt);
	return rc;
}

static int tls_get(const struct enclave_tls_params *p, json_t **item,
		   struct err *e)
{
	json_t *key = item_key(p->signer_id);
	if (!key)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = aws_ddb_get_item(p->ddb, p->table, key, true, item, e);
	json_decref(key);
	return rc;
}

int enclave_tls_obtain(const struct enclave_tls_params *p,
		       struct enclave_tls **out, struct err *e)
{
	json_t *item = NULL;
	*out = NULL;
	int rc = tls_get(p, &item, e);
	if (rc == 0 && !item) {
		rc = tls_create(p, out, e);
		if (rc == 1)
			rc = tls_get(p, &item, e);
		if (rc == 0 && !*out && !item)
			rc = err_set(e, ERR_NOT_FOUND, "the record vanished after "
				     "a conditional put failed");
	}
	if (rc == 0 && item)
		rc = tls_open_item(p, item, out, e);
	json_decref(item);
	if (rc < 0)
		return err_prefix(e, "tls key: ");
	log_info("tls key: %s for signer %s", item ? "recovered" : "created",
		 p->signer_id);
	return 0;
}
