/*
 * tls.c: server TLS contexts. The server key and certificate come from a
 * PKCS#12 file (Web3Signer's --tls-keystore-file); client authentication is
 * either off (--tls-allow-any-client) or pinned to the SHA-256 fingerprints
 * of a known-clients file (lines "name AA:BB:..."), which is how Web3Signer
 * operators pin their validator clients. A pinned client is accepted on its
 * fingerprint alone (self-signed client certificates are the common case);
 * everything else fails the handshake.
 */
#include "http/http.h"
#include "http/http_internal.h"

#include <ctype.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct known_client {
	char name[64];
	uint8_t fp[32];
};

struct known_clients {
	struct known_client *v;
	size_t n;
};

static int known_clients_index = -1;

static void known_clients_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad,
			       int idx, long argl, void *argp)
{
	struct known_clients *kc = ptr;
	if (kc) {
		free(kc->v);
		free(kc);
	}
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

static int load_known_clients(const char *path, struct known_clients **out,
			      struct err *e)
{
	char *text = NULL;
	TRY(file_read_all(path, 1 << 20, &text, NULL, e));
	struct known_clients *kc = calloc(1, sizeof(*kc));
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
	if (rc < 0 && kc) {
		free(kc->v);
		free(kc);
		kc = NULL;
	}
	*out = kc;
	return rc;
}

static const struct known_client *find_client(const struct known_clients *kc,
					      X509 *cert)
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
	struct known_clients *kc = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
	if (find_client(kc, leaf))
		return 1;
	X509_STORE_CTX_set_error(ctx, X509_V_ERR_CERT_REJECTED);
	return 0;
}

int http_tls_client_name(SSL *ssl, char *out, size_t len)
{
	out[0] = '\0';
	if (!ssl || known_clients_index < 0)
		return 0;
	SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
	struct known_clients *kc = SSL_CTX_get_ex_data(ctx, known_clients_index);
	X509 *peer = SSL_get0_peer_certificate(ssl);
	const struct known_client *c = find_client(kc, peer);
	if (c)
		snprintf(out, len, "%s", c->name);
	return 0;
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
	if (!cfg->keystore_password_file)
		return err_set(e, ERR_USAGE,
			       "--tls-keystore-password-file is required with "
			       "--tls-keystore-file");
	if (cfg->allow_any_client == (cfg->known_clients_file != NULL))
		return err_set(e, ERR_USAGE,
			       "with TLS give exactly one of --tls-allow-any-client "
			       "or --tls-known-clients-file");
	if (known_clients_index < 0)
		known_clients_index = SSL_CTX_get_ex_new_index(
			0, NULL, NULL, NULL, known_clients_free);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return err_set(e, ERR_CRYPTO, "cannot create TLS context");
	int rc = 0;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
				      SSL_OP_CIPHER_SERVER_PREFERENCE);
	TRY_OUT(load_p12(ctx, cfg, e));
	if (cfg->known_clients_file) {
		struct known_clients *kc = NULL;
		TRY_OUT(load_known_clients(cfg->known_clients_file, &kc, e));
		SSL_CTX_set_ex_data(ctx, known_clients_index, kc);
		SSL_CTX_set_cert_verify_callback(ctx, verify_known_client, kc);
		SSL_CTX_set_verify(ctx,
				   SSL_VERIFY_PEER |
					   SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
		/* Session resumption would skip the pin check on resumed
		 * handshakes only if tickets outlived a file change; keep it
		 * simple and tie sessions to this context. */
		static const unsigned char sid_ctx[] = "nitro-signer";
		SSL_CTX_set_session_id_context(ctx, sid_ctx,
					       sizeof(sid_ctx) - 1);
	}
out:
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
