/*
 * tls_key.c: the API's TLS key, born in the enclave and kept sealed under
 * KMS in the key table (sealed.c), so that every enclave of one signer_id
 * (restarts, a second instance) serves the same certificate.
 *
 * The record is the key table item {web3signer_uuid: signer_id, pubkey:
 * "tls:server"} with tls_format "nitro-signer-tls-v1",
 * wrapped_data_key_b64 (a KMS GenerateDataKey CiphertextBlob, encryption
 * context {purpose: nitro-signer-tls-v1, signer_id}), tls_key_ciphertext_b64
 * (the PKCS#8 DER of a P-256 key under AES-256-GCM with that data key, AAD
 * "nitro-signer-tls-v1|<signer_id>"), tls_cert_pem (self-signed) and
 * datetime; sealed.c writes and opens it.
 *
 * The item comes from DynamoDB through the host and is untrusted: besides
 * what sealed.c checks, the key must be PKCS#8 and match the certificate;
 * any failure fails init without writing anything. Private key bytes only
 * live in struct secret.
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
#define TLS_ITEM_KEY AWS_KT_TLS_SERVER_ITEM
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

/* ---- the record (sealed.c) ------------------------------------------------- */

static const struct enclave_sealed_kind TLS_KIND = {
	.format = TLS_FORMAT,
	.item_key = TLS_ITEM_KEY,
	.format_attr = AWS_KT_TLS_FORMAT,
	.ct_attr = AWS_KT_TLS_KEY_CT,
};

/* A new key (PKCS#8, the sealed part) and its self-signed certificate
 * (public, an attribute of the record). */
static int make_tls(void *ctx, struct secret **plain, json_t *extra,
		    struct err *e)
{
	const struct enclave_tls_params *p = ctx;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = NULL;
	char *sans = NULL, *pem = NULL;
	json_t *dflt = p->names ? NULL : json_pack("[s]", "localhost");
	int rc = key && (p->names || dflt)
			 ? 0 : err_set(e, ERR_CRYPTO, "cannot generate a P-256 key");
	if (rc == 0)
		rc = san_list(p->names ? p->names : dflt, &sans, e);
	if (rc == 0 && (!(cert = self_signed(key, p->store.signer_id, sans)) ||
			!(pem = cert_to_pem(cert))))
		rc = err_set(e, ERR_CRYPTO, "cannot make the certificate");
	if (rc == 0 && json_object_set_new(extra, AWS_KT_TLS_CERT,
					   json_pack("{s:s}", "S", pem)) != 0)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = key_to_pkcs8(key, plain, e);
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	free(sans);
	free(pem);
	json_decref(dflt);
	return rc;
}

int enclave_tls_obtain(const struct enclave_tls_params *p,
		       struct enclave_tls **out, struct err *e)
{
	json_t *item = NULL;
	struct secret *der = NULL;
	bool created = false;
	*out = NULL;
	int rc = enclave_sealed_obtain(&p->store, &TLS_KIND, make_tls, (void *)p,
				       &item, &der, &created, e);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	const char *pem = rc == 0 ? enclave_item_s(item, AWS_KT_TLS_CERT) : NULL;
	if (rc == 0 && !(key = key_from_pkcs8(der)))
		rc = err_set(e, ERR_INVALID, "the stored record: the sealed key "
			     "is not PKCS#8");
	if (rc == 0 && (!pem || !(cert = cert_from_pem(pem))))
		rc = err_set(e, ERR_INVALID, "the stored record: tls_cert_pem is "
			     "not a PEM certificate");
	if (rc == 0 && X509_check_private_key(cert, key) != 1)
		rc = err_set(e, ERR_INVALID, "the stored record: the key does not "
			     "match the certificate's public key");
	if (rc == 0)
		rc = tls_make(p, key, cert, out, e);
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	secret_free(der);
	json_decref(item);
	if (rc < 0)
		return err_prefix(e, "tls key: ");
	log_info("tls key: %s for signer %s", created ? "created" : "recovered",
		 p->store.signer_id);
	return 0;
}
