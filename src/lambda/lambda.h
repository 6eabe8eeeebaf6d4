/*
 * lambda.h: nitro-control, the AWS Lambda function operators use to check
 * on a deployed signer (docs/lambda.md).
 *
 *   config.c     the function's environment, read once at start
 *   runtime.c    the Lambda Runtime API client (next invocation, response,
 *                error, init error) and the invocation loop
 *   ops.c        the event ({"operation": NAME}) and the operation table
 *   key_table.c  what it reads from the key table: the signer's TLS
 *                certificate (the pin) and the enabled public keys
 *   signer.c     HTTPS to the signer, pinned to that certificate, bounded
 *                by the invocation's deadline
 *   attest.c     GET /attestation with a fresh nonce, verified
 *
 * One invocation at a time (Lambda's model): no threads, no shared state
 * but the configuration and the AWS client made at start.
 */
#ifndef NS_LAMBDA_H
#define NS_LAMBDA_H

#include <jansson.h>
#include <stdint.h>

#include "core/core.h"
#include "nitro/nitro.h"

struct aws_client;
struct aws_creds_provider;

/* ---- configuration (config.c) ---------------------------------------------- */

struct lambda_config {
	char *runtime_api;  /* AWS_LAMBDA_RUNTIME_API: host:port */
	char *signer_url;   /* SIGNER_URL: https://host[:port], no path */
	char *key_table;    /* KEY_TABLE */
	char *signer_id;    /* SIGNER_ID */
	uint8_t expected_pcr0[NITRO_PCR0_LEN]; /* EXPECTED_PCR0 */
	/* EXPECTED_PCR8, optional: the signing certificate of a signed image */
	uint8_t expected_pcr8[NITRO_PCR0_LEN];
	bool has_pcr8;
	/* ATTESTATION_ROOT_PEM (tests: the NSM simulator's root); NULL: the
	 * AWS Nitro Enclaves root embedded in src/nitro. */
	uint8_t *root_der;
	size_t root_der_len;
	/* SIGNER_CLIENT_CERT_PEM and SIGNER_CLIENT_KEY_PEM, both or neither
	 * (checked to match at init): a client certificate listed in the
	 * image, for public_keys from the signer itself. They point into the
	 * environment; the key is never copied or logged. NULL: none. */
	const char *client_cert_pem;
	const char *client_key_pem;
};

/* Reads and checks the environment; e names the variable that is wrong. */
NS_MUST_CHECK
int lambda_config_from_env(struct lambda_config *c, struct err *e);
void lambda_config_clear(struct lambda_config *c);

/* ---- one invocation (ops.c) ------------------------------------------------------- */

/* The errorType of a function error (its name in lambda_error_name). */
enum lambda_error {
	LAMBDA_ERR_INVALID_EVENT,     /* not JSON, not an object, a field wrong */
	LAMBDA_ERR_UNKNOWN_OPERATION,
	LAMBDA_ERR_UNSUPPORTED,       /* set_tls_key */
	LAMBDA_ERR_KEY_TABLE,         /* DynamoDB failed, or no such item */
	LAMBDA_ERR_SIGNER,            /* unreachable, or an unexpected answer */
	LAMBDA_ERR_CERT_MISMATCH,     /* not the certificate of the key table */
	LAMBDA_ERR_ATTESTATION,       /* the document did not verify */
	LAMBDA_ERR_DEADLINE,          /* no time left before the deadline */
	LAMBDA_ERR_INTERNAL,
	LAMBDA_ERR_COUNT
};
const char *lambda_error_name(enum lambda_error k);

struct lambda_ctx {
	const struct lambda_config *cfg;
	struct aws_client *aws;
	/* The invocation's deadline, ms since the epoch (CLOCK_REALTIME, as
	 * Lambda-Runtime-Deadline-Ms); 0: none known. */
	int64_t deadline_ms;
};

/* What an invocation answers: result (success), or kind and e.msg. */
struct lambda_outcome {
	json_t *result;
	enum lambda_error kind;
	struct err e;
};

/* Handles one event (untrusted bytes from the Runtime API). Always fills
 * out: a result or a function error. */
void lambda_handle(struct lambda_ctx *x, const char *event, size_t len,
		   struct lambda_outcome *out);
void lambda_outcome_clear(struct lambda_outcome *o);
/* The event's operation name (a row of the table), or NULL with o->kind
 * and o->e saying what is wrong with the event. */
const char *lambda_event_operation(const char *event, size_t len,
				   struct lambda_outcome *o);

/* ---- the key table (key_table.c) ---------------------------------------------- */

/* The tls_cert_pem of SIGNER_ID's tls:server item, as DER and PEM. */
struct lambda_cert {
	uint8_t *der;
	size_t der_len;
	char *pem;
	uint8_t sha256[32];      /* of the DER */
	uint8_t spki_sha256[32]; /* of the SubjectPublicKeyInfo */
};
NS_MUST_CHECK
int lambda_signer_cert(struct lambda_ctx *x, struct lambda_cert *out,
		       struct err *e);
void lambda_cert_clear(struct lambda_cert *c);
/* A PEM certificate (untrusted text, at most 16 KiB) -> c. */
NS_MUST_CHECK
int lambda_cert_from_pem(const char *pem, struct lambda_cert *c,
			 struct err *e);

/* {"public_keys": [sorted], "records": n, "skipped": n}: the enabled key
 * records of SIGNER_ID (per-key items and envelope bundles). */
NS_MUST_CHECK
int lambda_table_public_keys(struct lambda_ctx *x, json_t **out,
			     struct err *e);
/* The same from items as a Query returns them (untrusted); NULL when out
 * of memory. */
json_t *lambda_public_keys_from_items(const json_t *items);
/* "0x" and 96 lower-case hex digits. */
bool lambda_pubkey_ok(const char *s);
/* The signer's GET /api/v1/eth2/publicKeys body (untrusted): a JSON array
 * of pubkeys -> {"public_keys": [sorted, unique]}; -ERR_INVALID naming what
 * is wrong. */
NS_MUST_CHECK
int lambda_public_keys_from_signer(const char *body, size_t len, json_t **out,
				   struct err *e);

/* ---- the signer (signer.c) ------------------------------------------------------ */

struct lambda_reply {
	int status;
	char *body; /* NUL-terminated */
	size_t len;
};
void lambda_reply_clear(struct lambda_reply *r);

/* GET path (with its query) at SIGNER_URL over TLS pinned to cert, within
 * the deadline; up to max bytes of body. -ERR_UNAVAILABLE with *kind =
 * LAMBDA_ERR_CERT_MISMATCH when the signer presents another certificate. */
NS_MUST_CHECK
int lambda_signer_get(struct lambda_ctx *x, const struct lambda_cert *cert,
		      const char *path, size_t max, struct lambda_reply *out,
		      enum lambda_error *kind, struct err *e);

/* ---- attest (attest.c) -------------------------------------------------------------- */

NS_MUST_CHECK
/* attest's check for a certificate already read from the key table. */
int lambda_attest_cert(struct lambda_ctx *x, const struct lambda_cert *cert,
		       json_t **out, enum lambda_error *kind, struct err *e);
NS_MUST_CHECK
int lambda_attest(struct lambda_ctx *x, json_t **out, enum lambda_error *kind,
		  struct err *e);

/* ---- the Runtime API (runtime.c) ------------------------------------------------------- */

/* The whole program: config, then invocations until the Runtime API goes
 * away. Returns the process's exit status. */
int lambda_main(void);

#endif
