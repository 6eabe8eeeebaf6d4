/*
 * ops.c: one invocation of the control Lambda: the event, then the
 * operation it names, from a table (docs/lambda.md).
 *
 * The event is untrusted JSON (whoever may invoke the function writes it):
 * at most EVENT_MAX bytes, parsed by json_parse_bounded (duplicate keys
 * refused, memory bounded), an object with exactly one field, "operation",
 * a string naming a row below. Anything else is a function error
 * (InvalidEvent or UnknownOperation) whose message names the problem; the
 * name is echoed only printable and truncated. No operation changes
 * anything: the Lambda reads the key table, the signer's open routes and,
 * with a listed client certificate, its key list.
 */
#include "lambda/lambda.h"

#include <stdio.h>
#include <string.h>

#define EVENT_MAX (64 * 1024)
#define EVENT_JSON_BUDGET (1024 * 1024)
#define BODY_MAX (64 * 1024)

static const char *const ERROR_NAMES[LAMBDA_ERR_COUNT] = {
	[LAMBDA_ERR_INVALID_EVENT] = "InvalidEvent",
	[LAMBDA_ERR_UNKNOWN_OPERATION] = "UnknownOperation",
	[LAMBDA_ERR_UNSUPPORTED] = "Unsupported",
	[LAMBDA_ERR_KEY_TABLE] = "KeyTableError",
	[LAMBDA_ERR_SIGNER] = "SignerUnavailable",
	[LAMBDA_ERR_CERT_MISMATCH] = "CertificateMismatch",
	[LAMBDA_ERR_ATTESTATION] = "AttestationFailed",
	[LAMBDA_ERR_DEADLINE] = "DeadlineExceeded",
	[LAMBDA_ERR_INTERNAL] = "InternalError",
};

const char *lambda_error_name(enum lambda_error k)
{
	return k < LAMBDA_ERR_COUNT ? ERROR_NAMES[k] : "InternalError";
}

typedef int (*op_fn)(struct lambda_ctx *x, json_t **out,
		     enum lambda_error *kind, struct err *e);

/* ---- status ---------------------------------------------------------------- */

/* {"status": N, "body": parsed JSON or the text} of GET path. */
static int probe(struct lambda_ctx *x, const struct lambda_cert *cert,
		 const char *path, json_t **out, enum lambda_error *kind,
		 struct err *e)
{
	struct lambda_reply r;
	TRY(lambda_signer_get(x, cert, path, BODY_MAX, &r, kind, e));
	json_t *body = NULL;
	if (json_parse_bounded(r.body, r.len, NULL, EVENT_JSON_BUDGET, &body,
			       NULL) < 0)
		body = json_stringn(r.body, r.len);
	if (!body)
		body = json_string("(not UTF-8 text)");
	*out = json_pack("{s:i,s:o*}", "status", r.status, "body", body);
	lambda_reply_clear(&r);
	if (!*out) {
		*kind = LAMBDA_ERR_INTERNAL;
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int op_status(struct lambda_ctx *x, json_t **out,
		     enum lambda_error *kind, struct err *e)
{
	struct lambda_cert cert;
	*kind = LAMBDA_ERR_KEY_TABLE;
	TRY(lambda_signer_cert(x, &cert, e));
	json_t *up = NULL, *health = NULL;
	int rc = probe(x, &cert, "/upcheck", &up, kind, e);
	if (rc == 0)
		rc = probe(x, &cert, "/healthcheck", &health, kind, e);
	if (rc == 0) {
		bool ok = json_integer_value(json_object_get(up, "status")) == 200 &&
			  json_integer_value(json_object_get(health, "status")) == 200;
		*out = json_pack("{s:s,s:s,s:b,s:O,s:O}", "signer_url",
				 x->cfg->signer_url, "signer_id", x->cfg->signer_id,
				 "healthy", ok, "upcheck", up, "healthcheck", health);
		if (!*out) {
			*kind = LAMBDA_ERR_INTERNAL;
			rc = err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	json_decref(up);
	json_decref(health);
	lambda_cert_clear(&cert);
	return rc;
}

/* ---- public_keys, get_tls_cert, set_tls_key ---------------------------------- */

/* GET /api/v1/eth2/publicKeys with the Lambda's client certificate. */
static int signer_public_keys(struct lambda_ctx *x, json_t **out,
			      enum lambda_error *kind, struct err *e)
{
	struct lambda_cert cert;
	*kind = LAMBDA_ERR_KEY_TABLE;
	TRY(lambda_signer_cert(x, &cert, e));
	struct lambda_reply r;
	int rc = lambda_signer_get(x, &cert, "/api/v1/eth2/publicKeys",
				   16 * 1024 * 1024, &r, kind, e);
	lambda_cert_clear(&cert);
	if (rc < 0)
		return rc;
	*kind = LAMBDA_ERR_SIGNER;
	if (r.status == 401 || r.status == 403)
		rc = err_set(e, ERR_REFUSED, "GET /api/v1/eth2/publicKeys: HTTP "
			     "%d: the signer does not accept SIGNER_CLIENT_CERT_PEM "
			     "(list its fingerprint in the image's "
			     "--tls-known-clients-file, docs/lambda.md)", r.status);
	else if (r.status != 200)
		rc = err_set(e, ERR_UNAVAILABLE, "GET /api/v1/eth2/publicKeys: "
			     "HTTP %d", r.status);
	else
		rc = lambda_public_keys_from_signer(r.body, r.len, out, e);
	lambda_reply_clear(&r);
	if (rc == 0)
		json_object_set_new(*out, "source", json_string("signer"));
	return rc;
}

static int op_public_keys(struct lambda_ctx *x, json_t **out,
			  enum lambda_error *kind, struct err *e)
{
	/* The signer's list answers only a client certificate listed in the
	 * image, and a listed client may sign: without one (the default,
	 * docs/lambda.md) the answer is the key table's enabled records. */
	if (x->cfg->client_cert_pem)
		TRY(signer_public_keys(x, out, kind, e));
	else {
		*kind = LAMBDA_ERR_KEY_TABLE;
		TRY(lambda_table_public_keys(x, out, e));
		json_object_set_new(*out, "source", json_string("key_table"));
		json_object_set_new(*out, "note", json_string(
			"the enabled records of the key table; the enclave serves "
			"those it could open (status: healthcheck)"));
	}
	json_object_set_new(*out, "signer_id", json_string(x->cfg->signer_id));
	return 0;
}

static int op_get_tls_cert(struct lambda_ctx *x, json_t **out,
			   enum lambda_error *kind, struct err *e)
{
	/* The key table is the host's to write: the certificate is given
	 * only with the attestation, in this invocation, of an enclave of the
	 * expected image holding its key (user_data = its SPKI's SHA-256). */
	struct lambda_cert cert;
	*kind = LAMBDA_ERR_KEY_TABLE;
	TRY(lambda_signer_cert(x, &cert, e));
	json_t *att = NULL;
	int rc = lambda_attest_cert(x, &cert, &att, kind, e);
	if (rc < 0) {
		lambda_cert_clear(&cert);
		return rc;
	}
	char fp[2 * 32 + 3], spki[2 * 32 + 3];
	hex_encode(cert.sha256, sizeof(cert.sha256), fp);
	hex_encode(cert.spki_sha256, sizeof(cert.spki_sha256), spki);
	*out = json_pack("{s:s,s:s,s:s,s:s,s:o}", "signer_id", x->cfg->signer_id,
			 "tls_cert_pem", cert.pem, "sha256", fp + 2,
			 "spki_sha256", spki + 2, "attestation", att);
	lambda_cert_clear(&cert);
	if (!*out) {
		*kind = LAMBDA_ERR_INTERNAL;
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int op_set_tls_key(struct lambda_ctx *x, json_t **out,
			  enum lambda_error *kind, struct err *e)
{
	*kind = LAMBDA_ERR_UNSUPPORTED;
	return err_set(e, ERR_INVALID, "set_tls_key: the signer's TLS key is "
		       "born in the enclave and never leaves it unsealed; it "
		       "cannot be set (get_tls_cert reads its certificate)");
}

/* ---- the table ----------------------------------------------------------------------- */

struct op {
	const char *name;
	op_fn fn;
};

static const struct op OPS[] = {
	{"status", op_status},
	{"public_keys", op_public_keys},
	{"attest", lambda_attest},
	{"get_tls_cert", op_get_tls_cert},
	{"set_tls_key", op_set_tls_key},
	/* The names earlier control functions answered to. */
	{"web3signer_status", op_status},
	{"web3signer_public_keys", op_public_keys},
	{"get_tls_key", op_get_tls_cert},
};
#define N_OPS (sizeof(OPS) / sizeof(*OPS))

/* The row the event names; NULL with o->kind and o->e set. */
static const struct op *parse_event(const char *event, size_t len,
				    struct lambda_outcome *o)
{
	o->kind = LAMBDA_ERR_INVALID_EVENT;
	if (len > EVENT_MAX) {
		err_set(&o->e, ERR_TOO_LARGE, "event: over %d bytes", EVENT_MAX);
		return NULL;
	}
	/* Any other first character (a string, a number, an array) is not
	 * an object, whatever follows. */
	size_t at = 0;
	while (at < len && event[at] && strchr(" \t\r\n", event[at]))
		at++;
	if (at == len || event[at] != '{') {
		err_set(&o->e, ERR_INVALID, "event: not a JSON object "
			"({\"operation\": NAME})");
		return NULL;
	}
	json_t *j = NULL;
	if (json_parse_bounded(event, len, "event", EVENT_JSON_BUDGET, &j,
			       &o->e) < 0)
		return NULL;
	const struct op *op = NULL;
	const char *k;
	json_t *v;
	if (!json_is_object(j)) {
		err_set(&o->e, ERR_INVALID, "event: not a JSON object");
		goto out;
	}
	json_object_foreach(j, k, v) {
		if (strcmp(k, "operation") != 0) {
			char name[48];
			log_printable(k, name, sizeof(name));
			err_set(&o->e, ERR_INVALID, "event: unknown field \"%s\" "
				"(only \"operation\")", name);
			goto out;
		}
	}
	v = json_object_get(j, "operation");
	if (!v) {
		err_set(&o->e, ERR_INVALID, "event: \"operation\" is missing");
		goto out;
	}
	if (!json_is_string(v)) {
		err_set(&o->e, ERR_INVALID, "event: \"operation\" is not a string");
		goto out;
	}
	for (size_t i = 0; i < N_OPS && !op; i++)
		if (strlen(OPS[i].name) == json_string_length(v) &&
		    strcmp(OPS[i].name, json_string_value(v)) == 0)
			op = &OPS[i];
	if (!op) {
		char name[48];
		log_printable(json_string_value(v), name, sizeof(name));
		o->kind = LAMBDA_ERR_UNKNOWN_OPERATION;
		err_set(&o->e, ERR_INVALID, "unknown operation \"%s\" (status, "
			"public_keys, attest, get_tls_cert)", name);
	}
out:
	json_decref(j);
	return op;
}

const char *lambda_event_operation(const char *event, size_t len,
				   struct lambda_outcome *o)
{
	memset(o, 0, sizeof(*o));
	const struct op *op = parse_event(event, len, o);
	return op ? op->name : NULL;
}

void lambda_handle(struct lambda_ctx *x, const char *event, size_t len,
		   struct lambda_outcome *out)
{
	memset(out, 0, sizeof(*out));
	const struct op *op = parse_event(event, len, out);
	if (!op)
		return;
	out->kind = LAMBDA_ERR_INTERNAL;
	if (op->fn(x, &out->result, &out->kind, &out->e) < 0) {
		json_decref(out->result);
		out->result = NULL;
		if (!out->e.msg[0])
			snprintf(out->e.msg, sizeof(out->e.msg), "%s failed",
				 op->name);
		return;
	}
	json_object_set_new(out->result, "operation", json_string(op->name));
}

void lambda_outcome_clear(struct lambda_outcome *o)
{
	json_decref(o->result);
	o->result = NULL;
}
