/*
 * tls.c: server TLS contexts. The server key and certificate come from a
 * PKCS#12 file (Web3Signer's --tls-keystore-file), or, in the enclave, from
 * a key born there (src/enclave/tls_key.c builds that SSL_CTX itself).
 *
 * Clients are known by the SHA-256 fingerprint of their certificate, listed
 * in a known-clients file (lines "name AA:BB:..."), which is how Web3Signer
 * operators pin their validator clients; self-signed client certificates
 * are the common case, so no chain is ever checked, only the fingerprint.
 * A context uses the list in one of two ways:
 *   - strict (Web3Signer's standalone behaviour): a listed certificate is
 *     required at the handshake; anything else fails it;
 *   - per route (http_tls_ctx_request_clients): a certificate is asked for
 *     but not required, any certificate completes the handshake, and each
 *     request reports whether one was presented and, when its fingerprint
 *     is listed, the client's name (http_tls_peer), so the load balancer's
 *     health check can reach /upcheck while signing routes demand a listed
 *     client.
 * Either way the context holds its own copy of the list in an SSL_CTX
 * ex_data slot, freed with the context. What we trust: the TLS handshake's
 * proof that the peer holds the key of the certificate it presented.
 */
#include "http/http.h"
#include "http/http_internal.h"

#include <ctype.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct known_client {
	char name[64];
	uint8_t fp[32];
};

struct http_known_clients {
	struct known_client *v;
	size_t n;
};

/* The SSL_CTX ex_data slot holding a context's own copy of the list. */
static pthread_once_t known_clients_once = PTHREAD_ONCE_INIT;
static int known_clients_index = -1;

void http_known_clients_free(struct http_known_clients *kc)
{
	if (kc) {
		free(kc->v);
		free(kc);
	}
}

size_t http_known_clients_count(const struct http_known_clients *kc)
{
	return kc ? kc->n : 0;
}

static void known_clients_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
				  int idx, long argl, void *argp)
{
	http_known_clients_free(ptr);
}

static void known_clients_index_init(void)
{
	known_clients_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
						       known_clients_ex_free);
}

static int parse_fingerprint(const char *s, uint8_t out[32])
{
	size_t n = 0;
	while (*s && n < 64) {
		if (*s == ':') {
			s++;
			continue;
		}
		if (!isxdigit((unsigned char)s[0]))
			return -1;
		int v = isdigit((unsigned char)*s) ? *s - '0'
						   : (tolower((unsigned char)*s) - 'a' + 10);
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
		s++;
	}
	return (n == 64 && *s == '\0') ? 0 : -1;
}

int http_known_clients_load(const char *path, struct http_known_clients **out,
			    struct err *e)
{
	char *text = NULL;
	*out = NULL;
	TRY(file_read_all(path, 1 << 20, &text, NULL, e));
	struct http_known_clients *kc = calloc(1, sizeof(*kc));
	int rc = 0, lineno = 0;
	char *save = NULL;
	if (!kc) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char name[64], fp[200];
		size_t l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[l - 1] = '\0';
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (sscanf(p, "%63s %199s", name, fp) != 2) {
			rc = err_set(e, ERR_USAGE,
				     "--tls-known-clients-file: line %d: expected "
				     "'<name> <sha256 fingerprint>'", lineno);
			goto out;
		}
		struct known_client *nv =
			realloc(kc->v, (kc->n + 1) * sizeof(*nv));
		if (!nv) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		kc->v = nv;
		snprintf(kc->v[kc->n].name, sizeof(kc->v[kc->n].name), "%s",
			 name);
		if (parse_fingerprint(fp, kc->v[kc->n].fp) < 0) {
			rc = err_set(e, ERR_USAGE,
				     "--tls-known-clients-file: line %d: bad "
				     "SHA-256 fingerprint", lineno);
			goto out;
		}
		kc->n++;
	}
	if (kc->n == 0)
		rc = err_set(e, ERR_USAGE,
			     "--tls-known-clients-file: no clients listed");
out:
	free(text);
	if (rc < 0) {
		http_known_clients_free(kc);
		return rc;
	}
	*out = kc;
	return 0;
}

static struct http_known_clients *
known_clients_dup(const struct http_known_clients *kc)
{
	struct http_known_clients *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (kc->n) {
		d->v = malloc(kc->n * sizeof(*d->v));
		if (!d->v) {
			free(d);
			return NULL;
		}
		memcpy(d->v, kc->v, kc->n * sizeof(*d->v));
	}
	d->n = kc->n;
	return d;
}

/* Gives ctx the list kc (owned from now on, NULL for none), releasing any
 * list it had. Done while ctx serves no connection yet. */
static int attach_known_clients(SSL_CTX *ctx, struct http_known_clients *kc,
				struct err *e)
{
	if (pthread_once(&known_clients_once, known_clients_index_init) != 0 ||
	    known_clients_index < 0) {
		http_known_clients_free(kc);
		return err_set(e, ERR_CRYPTO, "cannot allocate TLS ex_data");
	}
	struct http_known_clients *old =
		SSL_CTX_get_ex_data(ctx, known_clients_index);
	if (SSL_CTX_set_ex_data(ctx, known_clients_index, kc) != 1) {
		http_known_clients_free(kc);
		return err_set(e, ERR_CRYPTO, "cannot attach known clients");
	}
	http_known_clients_free(old);
	return 0;
}

static const struct known_client *
find_client(const struct http_known_clients *kc, X509 *cert)
{
	uint8_t md[32];
	unsigned int mdlen = 0;
	if (!kc || !cert || !X509_digest(cert, EVP_sha256(), md, &mdlen) ||
	    mdlen != 32)
		return NULL;
	for (size_t i = 0; i < kc->n; i++)
		if (CRYPTO_memcmp(kc->v[i].fp, md, 32) == 0)
			return &kc->v[i];
	return NULL;
}

static int verify_known_client(X509_STORE_CTX *ctx, void *arg)
{
	struct http_known_clients *kc = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
	if (find_client(kc, leaf))
		return 1;
	X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_REJECTED);
	return 0;
}

/* Per-route mode: any certificate is fine at the handshake (the handshake's
 * CertificateVerify already proved the client holds its key); what it may
 * call is decided per request from the fingerprint. */
static int verify_any_chain(X509_STORE_CTX *ctx, void *arg)
{
	return 1;
}

/* Tickets and session ids are only honoured by contexts with this id, and
 * OpenSSL refuses to resume without one once it asks for certificates. */
static void set_session_context(SSL_CTX *ctx)
{
	static const unsigned char sid_ctx[] = "nitro-signer";
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
}

int http_tls_ctx_request_clients(SSL_CTX *ctx,
				 const struct http_known_clients *kc,
				 struct err *e)
{
	struct http_known_clients *copy = NULL;
	if (kc && !(copy = known_clients_dup(kc)))
		return err_set(e, ERR_NOMEM, "out of memory");
	TRY(attach_known_clients(ctx, copy, e));
	SSL_CTX_set_cert_verify_callback(ctx, verify_any_chain, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	set_session_context(ctx);
	return 0;
}

/* Strict mode (Web3Signer's): only listed certificates finish the handshake. */
static int require_known_clients(SSL_CTX *ctx, const char *path, struct err *e)
{
	struct http_known_clients *kc = NULL;
	TRY(http_known_clients_load(path, &kc, e));
	TRY(attach_known_clients(ctx, kc, e));
	/* kc now lives as long as ctx, which is what the callback needs. */
	SSL_CTX_set_cert_verify_callback(ctx, verify_known_client, kc);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   NULL);
	set_session_context(ctx);
	return 0;
}

void http_tls_peer(SSL *ssl, bool *cert, char *name, size_t len)
{
	name[0] = '\0';
	/* The session keeps the peer certificate, so a resumed session
	 * answers as the full handshake did. */
	X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	*cert = peer != NULL;
	if (!peer || known_clients_index < 0)
		return;
	const struct known_client *c = find_client(
		SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), known_clients_index),
		peer);
	if (c)
		snprintf(name, len, "%s", c->name);
}

static int load_p12(SSL_CTX *ctx, const struct http_tls_config *cfg,
		    struct err *e)
{
	struct secret *pw = NULL;
	char *der = NULL;
	size_t der_len = 0;
	PKCS12 *p12 = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	int rc = 0;
	TRY_OUT(secret_read_file(cfg->keystore_password_file, &pw, e));
	TRY_OUT(file_read_all(cfg->keystore_file, 1 << 20, &der, &der_len, e));
	/* The password file's first line is the password. */
	char *nl = memchr(pw->bytes, '\n', pw->len);
	if (nl)
		secret_truncate(pw, (size_t)(nl - (char *)pw->bytes));
	struct secret *pwz = secret_new(pw->len + 1);
	if (!pwz) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	memcpy(pwz->bytes, pw->bytes, pw->len);
	pwz->bytes[pw->len] = '\0';
	const unsigned char *p = (const unsigned char *)der;
	p12 = d2i_PKCS12(NULL, &p, (long)der_len);
	if (!p12 || !PKCS12_parse(p12, (const char *)pwz->bytes, &key, &cert,
				  &ca)) {
		secret_free(pwz);
		rc = err_set(e, ERR_USAGE,
			     "--tls-keystore-file: cannot open PKCS#12 %s "
			     "(wrong password or not PKCS#12)",
			     cfg->keystore_file);
		goto out;
	}
	secret_free(pwz);
	if (!key || !cert || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		rc = err_set(e, ERR_USAGE,
			     "--tls-keystore-file: %s lacks a matching key and "
			     "certificate", cfg->keystore_file);
		goto out;
	}
	for (int i = 0; ca && i < sk_X509_num(ca); i++) {
		X509 *c = sk_X509_value(ca, i);
		if (SSL_CTX_add1_chain_cert(ctx, c) != 1) {
			rc = err_set(e, ERR_CRYPTO, "cannot add chain certificate");
			goto out;
		}
	}
out:
	ERR_clear_error();
	secret_free(pw);
	free(der);
	PKCS12_free(p12);
	EVP_PKEY_free(key);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	return rc;
}

int http_tls_server_ctx(const struct http_tls_config *cfg, SSL_CTX **out,
			struct err *e)
{
	*out = NULL;
	if (!cfg->keystore_password_file)
		return err_set(e, ERR_USAGE,
			       "--tls-keystore-password-file is required with "
			       "--tls-keystore-file");
	if (cfg->allow_any_client == (cfg->known_clients_file != NULL))
		return err_set(e, ERR_USAGE,
			       "with TLS give exactly one of --tls-allow-any-client "
			       "or --tls-known-clients-file");
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return err_set(e, ERR_CRYPTO, "cannot create TLS context");
	int rc = 0;
	struct http_known_clients *kc = NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				      SSL_OP_CIPHER_SERVER_PREFERENCE);
	TRY_OUT(load_p12(ctx, cfg, e));
	if (cfg->per_route_clients) {
		if (cfg->known_clients_file)
			TRY_OUT(http_known_clients_load(cfg->known_clients_file,
							&kc, e));
		TRY_OUT(http_tls_ctx_request_clients(ctx, kc, e));
	} else if (cfg->known_clients_file) {
		TRY_OUT(require_known_clients(ctx, cfg->known_clients_file, e));
	}
out:
	http_known_clients_free(kc);
	if (rc < 0) {
		SSL_CTX_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

X509 *http_tls_self_signed(EVP_PKEY *key, const char *cn, const char *sans,
			   long days, const char *eku)
{
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	bool ok = x && RAND_bytes(serial, sizeof(serial)) == 1;
	/* positive, and 16 significant bytes */
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x01);
	ok = ok && (bn = BN_bin2bn(serial, sizeof(serial), NULL)) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_set_version(x, 2) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) &&
	     X509_set_pubkey(x, key) && (name = X509_get_subject_name(x)) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) &&
	     X509_set_issuer_name(x, name);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	const char *exts[][2] = {
		{"basicConstraints", "critical,CA:FALSE"},
		{"keyUsage", "critical,digitalSignature"},
		{"extendedKeyUsage", eku},
		{"subjectKeyIdentifier", "hash"},
		{"subjectAltName", sans},
	};
	for (size_t i = 0; ok && i < sizeof(exts) / sizeof(exts[0]); i++) {
		X509_EXTENSION *ext = X509V3_EXT_conf(NULL, &ctx, exts[i][0],
						      exts[i][1]);
		ok = ext && X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int http_tls_spki_sha256(X509 *cert, uint8_t out[32])
{
	unsigned char *der = NULL;
	int n = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
	int rc = n > 0 && EVP_Digest(der, (size_t)n, out, NULL, EVP_sha256(),
				     NULL) == 1
			 ? 0
			 : -ERR_CRYPTO;
	OPENSSL_free(der);
	return rc;
}
