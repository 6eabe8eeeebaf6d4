/*
 * config.c: the control Lambda's environment, read once before the first
 * invocation (docs/lambda.md). Whoever can set a function's environment can
 * also replace its code, so these values are trusted as the code is; they
 * are still checked so that a typo fails at init with the variable named
 * rather than at the first invocation.
 */
#include "lambda/lambda.h"

#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "http/http_client.h"

#define ROOT_PEM_MAX (16 * 1024)

static int required(const char *name, char **out, struct err *e)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return err_set(e, ERR_USAGE, "%s is not set", name);
	if (!(*out = strdup(v)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* https://host[:port] without a path: the signer's routes are appended. */
static int check_signer_url(char *url, struct err *e)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	struct http_url u;
	if (http_url_parse(url, &u, e) < 0)
		return err_prefix(e, "SIGNER_URL: ");
	if (!u.tls)
		return err_set(e, ERR_USAGE, "SIGNER_URL must be https:// (the "
			       "signer serves TLS only)");
	if (strcmp(u.path, "/") != 0)
		return err_set(e, ERR_USAGE, "SIGNER_URL must have no path");
	return 0;
}

/* 96 hex digits, with or without 0x. */
static int pcr_from_hex(const char *name, const char *v,
			uint8_t out[NITRO_PCR0_LEN], struct err *e)
{
	if (!nitro_pcr_from_hex(v, strlen(v), out))
		return err_set(e, ERR_USAGE, "%s must be %d bytes of hex (%d "
			       "digits)", name, NITRO_PCR0_LEN,
			       2 * NITRO_PCR0_LEN);
	return 0;
}

/* Optional; when set, attestations must also show this signing certificate.
 * Zeros would name no certificate: every unsigned image reports them. */
static int pcr8_from_env(struct lambda_config *c, struct err *e)
{
	const char *v = getenv("EXPECTED_PCR8");
	if (!v || !*v)
		return 0;
	TRY(pcr_from_hex("EXPECTED_PCR8", v, c->expected_pcr8, e));
	if (nitro_pcr_is_zero(c->expected_pcr8, NITRO_PCR0_LEN))
		return err_set(e, ERR_USAGE, "EXPECTED_PCR8 is all zeros, which "
			       "every unsigned image reports: set the signing "
			       "certificate's PCR8, or leave it unset");
	c->has_pcr8 = true;
	return 0;
}

static int root_from_env(struct lambda_config *c, struct err *e)
{
	const char *pem = getenv("ATTESTATION_ROOT_PEM");
	if (!pem || !*pem)
		return 0;
	size_t len = strlen(pem);
	if (len > ROOT_PEM_MAX)
		return err_set(e, ERR_USAGE, "ATTESTATION_ROOT_PEM over %d bytes",
			       ROOT_PEM_MAX);
	struct lambda_cert c_root;
	if (lambda_cert_from_pem(pem, &c_root, NULL) < 0)
		return err_set(e, ERR_USAGE, "ATTESTATION_ROOT_PEM is not a PEM "
			       "certificate");
	c->root_der = c_root.der; /* taken over */
	c->root_der_len = c_root.der_len;
	c_root.der = NULL;
	lambda_cert_clear(&c_root);
	return 0;
}

/* Both or neither; parsed and matched now, so a bad pair fails init. */
static int client_cert_from_env(struct lambda_config *c, struct err *e)
{
	const char *cert = getenv("SIGNER_CLIENT_CERT_PEM");
	const char *key = getenv("SIGNER_CLIENT_KEY_PEM");
	if (cert && !*cert)
		cert = NULL;
	if (key && !*key)
		key = NULL;
	if (!cert && !key)
		return 0;
	struct http_client_opts o = {.client_cert_pem = cert,
				     .client_key_pem = key};
	struct http_client *h = http_client_new(&o, e);
	if (!h)
		return err_prefix(e, "SIGNER_CLIENT_CERT_PEM, "
				  "SIGNER_CLIENT_KEY_PEM: ");
	http_client_free(h);
	c->client_cert_pem = cert;
	c->client_key_pem = key;
	return 0;
}

int lambda_config_from_env(struct lambda_config *c, struct err *e)
{
	memset(c, 0, sizeof(*c));
	char *pcr0 = NULL;
	int rc = required("AWS_LAMBDA_RUNTIME_API", &c->runtime_api, e);
	if (rc == 0)
		rc = required("SIGNER_URL", &c->signer_url, e);
	if (rc == 0)
		rc = check_signer_url(c->signer_url, e);
	if (rc == 0)
		rc = required("KEY_TABLE", &c->key_table, e);
	if (rc == 0)
		rc = required("SIGNER_ID", &c->signer_id, e);
	if (rc == 0 && !aws_signer_id_ok(c->signer_id))
		rc = err_set(e, ERR_USAGE, "SIGNER_ID is not a signer id "
			     "(printable ASCII, no spaces or '|')");
	if (rc == 0)
		rc = required("EXPECTED_PCR0", &pcr0, e);
	if (rc == 0)
		rc = pcr_from_hex("EXPECTED_PCR0", pcr0, c->expected_pcr0, e);
	if (rc == 0 && nitro_pcr_is_zero(c->expected_pcr0, NITRO_PCR0_LEN)) {
		/* All zeros is what every debug-mode enclave reports, whose
		 * memory its parent can read: only when asked for by name. */
		const char *allow = getenv("ALLOW_DEBUG_PCR0");
		if (!(allow && strcmp(allow, "true") == 0))
			rc = err_set(e, ERR_USAGE, "EXPECTED_PCR0 is all zeros "
				     "(any debug-mode enclave): set "
				     "ALLOW_DEBUG_PCR0=true for a test deployment");
	}
	if (rc == 0)
		rc = pcr8_from_env(c, e);
	if (rc == 0)
		rc = root_from_env(c, e);
	if (rc == 0)
		rc = client_cert_from_env(c, e);
	free(pcr0);
	if (rc < 0)
		lambda_config_clear(c);
	return rc;
}

void lambda_config_clear(struct lambda_config *c)
{
	free(c->runtime_api);
	free(c->signer_url);
	free(c->key_table);
	free(c->signer_id);
	free(c->root_der);
	memset(c, 0, sizeof(*c));
}
