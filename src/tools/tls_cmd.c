/*
 * tls_cmd.c: nitro-keys tls new: TLS material for a standalone signer (or a
 * validator client's mTLS identity):
 *
 *   DIR/tls.key            P-256 private key, PKCS#8 PEM, mode 0600
 *   DIR/tls.crt            self-signed X.509 v3 certificate with the SANs given
 *   DIR/tls.p12            PKCS#12 of both (--tls-keystore-file), mode 0600
 *   DIR/tls.p12.password   its random password (--tls-keystore-password-file)
 *   DIR/known-clients.txt  "NAME AA:BB:.." SHA-256 fingerprint, Web3Signer's
 *                          known-clients format (--tls-known-clients-file)
 *
 * Nothing is overwritten. The private key and the PKCS#12 password are made
 * and held in OpenSSL/secure memory and written only to 0600 files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aws/aws.h"
#include "core/core.h"
#include "http/http.h"
#include "tools/cloud_cmds.h"

static const char TLS_USAGE[] =
	"usage: nitro-keys tls new --out=DIR --san=DNS:NAME[,DNS:..,IP:ADDR]\n"
	"                         [--san=..] [--name=NAME] [--days=N]\n"
	"\n"
	"Makes a P-256 key and a self-signed certificate with the given subject\n"
	"alternative names (--san may be repeated, at most 32 names in all; the\n"
	"first DNS name is the subject CN and, unless --name is given, the\n"
	"known-clients name), in DIR (created, mode 0700):\n"
	"tls.key, tls.crt, tls.p12, tls.p12.password and known-clients.txt\n"
	"(\"NAME AA:BB:..\", the certificate's SHA-256 fingerprint).\n"
	"--days defaults to 825. Nothing is overwritten.\n"
	"Exit status: 0 ok, 1 failure, 2 bad usage.\n";

#define MAX_SANS 32

static int write_file(const char *dir, const char *name, const void *data,
		      size_t len, int mode, struct err *e)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct stat st;
	if (stat(path, &st) == 0)
		return err_set(e, ERR_IO, "%s exists; not overwriting", path);
	return file_write_atomic(path, data, len, mode, e);
}

/* Checks "DNS:name" / "IP:addr" items; returns the first DNS name. */
static int check_sans(const char *list, char *first_dns, size_t cap,
		      struct err *e)
{
	char *copy = strdup(list);
	if (!copy)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = 0, n = 0;
	first_dns[0] = '\0';
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t && rc == 0;
	     t = strtok_r(NULL, ",", &save), n++) {
		if (n >= MAX_SANS) {
			rc = err_set(e, ERR_USAGE, "--san: more than %d names", MAX_SANS);
		} else if (strncmp(t, "DNS:", 4) == 0) {
			const char *d = t + 4;
			bool ok = *d && strlen(d) < 254;
			for (const char *p = d; *p && ok; p++)
				ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
				     (*p == '*' && p == d);
			if (!ok)
				rc = err_set(e, ERR_USAGE, "--san: %s is not a DNS name", t);
			else if (!first_dns[0])
				snprintf(first_dns, cap, "%s", d);
		} else if (strncmp(t, "IP:", 3) == 0) {
			uint8_t buf[16];
			if (inet_pton(AF_INET, t + 3, buf) != 1 &&
			    inet_pton(AF_INET6, t + 3, buf) != 1)
				rc = err_set(e, ERR_USAGE, "--san: %s is not an IP address", t);
		} else {
			rc = err_set(e, ERR_USAGE, "--san: %s must start with DNS: or IP:", t);
		}
	}
	free(copy);
	if (rc == 0 && !first_dns[0])
		rc = err_set(e, ERR_USAGE, "--san needs at least one DNS: name");
	return rc;
}

static char *pem_of(int (*w)(BIO *, void *), void *obj, size_t *len)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *out = NULL;
	if (b && w(b, obj)) {
		char *p;
		long n = BIO_get_mem_data(b, &p);
		out = n > 0 ? OPENSSL_secure_malloc((size_t)n) : NULL;
		if (out) {
			memcpy(out, p, (size_t)n);
			*len = (size_t)n;
		}
	}
	BIO_free(b);
	return out;
}

static int w_key(BIO *b, void *k)
{
	return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

static int w_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}

static int make_all(const char *dir, const char *sans, const char *cn,
		    const char *name, long days, struct err *e)
{
	int rc = 0;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key ? http_tls_self_signed(key, cn, sans, days,
						"serverAuth,clientAuth")
		      : NULL;
	PKCS12 *p12 = NULL;
	struct secret *pw = NULL, *raw = NULL;
	uint8_t *der = NULL;
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	if (!x) {
		rc = err_set(e, ERR_CRYPTO, "cannot make the key and certificate");
		goto out;
	}
	/* The PKCS#12 password: 24 random bytes, base64 (32 characters). */
	raw = secret_new(24);
	if (!raw || RAND_bytes(raw->bytes, 24) != 1 ||
	    b64_encode_secret(raw->bytes, 24, &pw, e) < 0) {
		rc = err_set(e, ERR_CRYPTO, "cannot make a password");
		goto out;
	}
	p12 = PKCS12_create((const char *)pw->bytes, name, key, x, NULL, 0, 0, 0, 0, 0);
	int dlen = p12 ? i2d_PKCS12(p12, &der) : -1;
	kpem = pem_of(w_key, key, &klen);
	cpem = pem_of(w_cert, x, &clen);
	if (dlen <= 0 || !kpem || !cpem) {
		rc = err_set(e, ERR_CRYPTO, "cannot encode the key, certificate or PKCS#12");
		goto out;
	}
	uint8_t fp[32];
	unsigned int fl = 0;
	if (X509_digest(x, EVP_sha256(), fp, &fl) != 1 || fl != 32) {
		rc = err_set(e, ERR_CRYPTO, "cannot fingerprint the certificate");
		goto out;
	}
	char line[64 + 3 * 32 + 2];
	int o = snprintf(line, sizeof(line), "%s ", name);
	for (int i = 0; i < 32; i++)
		o += snprintf(line + o, sizeof(line) - (size_t)o, "%02X%s", fp[i],
			      i < 31 ? ":" : "\n");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		rc = err_set(e, ERR_IO, "--out %s: %s", dir, strerror(errno));
		goto out;
	}
	TRY_OUT(write_file(dir, "tls.key", kpem, klen, 0600, e));
	TRY_OUT(write_file(dir, "tls.crt", cpem, clen, 0644, e));
	TRY_OUT(write_file(dir, "tls.p12", der, (size_t)dlen, 0600, e));
	TRY_OUT(write_file(dir, "tls.p12.password", pw->bytes, pw->len, 0600, e));
	TRY_OUT(write_file(dir, "known-clients.txt", line, strlen(line), 0644, e));
	fputs(line, stdout);
out:
	if (kpem)
		OPENSSL_secure_clear_free(kpem, klen);
	if (cpem)
		OPENSSL_secure_clear_free(cpem, clen);
	OPENSSL_free(der);
	PKCS12_free(p12);
	X509_free(x);
	EVP_PKEY_free(key);
	secret_free(pw);
	secret_free(raw);
	return rc;
}

enum { T_OUT, T_SAN, T_NAME, T_DAYS, T_COUNT };
static const struct args_flag TLS_FLAGS[T_COUNT] = {
	{"out", ARGS_VALUE, T_OUT, 0},
	{"san", ARGS_LIST, T_SAN, MAX_SANS},
	{"name", ARGS_VALUE, T_NAME, 0},
	{"days", ARGS_VALUE, T_DAYS, 0},
};

/* Every --san, joined with commas (each may itself be a list). */
static char *join_sans(const struct args *a)
{
	const char *v[MAX_SANS];
	size_t n = args_list(a, T_SAN, v, MAX_SANS), len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, v[i]);
	}
	return s;
}

static int tls_new(const struct args *f, const char *sans)
{
	const char *out = args_get(f, T_OUT), *days_v = args_get(f, T_DAYS);
	uint64_t days = 825;
	if (days_v && (dec_parse_u64(days_v, &days, NULL, "--days") < 0 ||
		       days < 1 || days > 3650))
		return cloud_usage_error("tls new", "--days must be 1..3650");
	struct err e = {0};
	char cn[256];
	if (check_sans(sans, cn, sizeof(cn), &e) < 0)
		return cloud_usage_error("tls new", "%s", e.msg);
	const char *name = args_get(f, T_NAME) ? args_get(f, T_NAME) : cn;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || strlen(name) > 63)
			return cloud_usage_error("tls new", "--name must be 1..63 "
						 "characters without spaces");
	secret_init();
	if (make_all(out, sans, cn, name, (long)days, &e) < 0)
		return cloud_fail(e.msg);
	return 0;
}

int nitro_keys_tls_main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
		fputs(TLS_USAGE, argc < 3 ? stderr : stdout);
		return argc < 3 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[2], "new") != 0)
		return cloud_usage_error("tls", "unknown command %s", argv[2]);
	struct args_spec spec = {.cmd = "tls new", .flags = TLS_FLAGS,
				 .nflags = T_COUNT};
	struct args f;
	struct err e = {0};
	if (args_parse(&spec, argc - 3, argv + 3, &f, &e) < 0)
		return cloud_usage_error("tls new", "%s", e.msg);
	if (f.help) {
		fputs(TLS_USAGE, stdout);
		return 0;
	}
	if (!args_get(&f, T_OUT))
		return cloud_usage_error("tls new", "--out is required");
	if (!args_get(&f, T_SAN))
		return cloud_usage_error("tls new", "--san is required");
	char *sans = join_sans(&f);
	int rc = sans ? tls_new(&f, sans) : cloud_fail("out of memory");
	free(sans);
	return rc;
}
