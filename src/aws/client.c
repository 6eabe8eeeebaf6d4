/*
 * client.c: the HTTP client every AWS call goes through (http_client.h).
 *
 * One HTTP client per AWS client, so consecutive calls reuse the
 * keep-alive connection. A call is POST / with the JSON protocol's headers
 * (Content-Type application/x-amz-json-1.0 or 1.1, X-Amz-Target), signed
 * with SigV4 (Host, Content-Type, X-Amz-Target, X-Amz-Date,
 * X-Amz-Security-Token, X-Amz-Content-Sha256), with a connect timeout and a
 * whole-request timeout. Throttling, 5xx and transport failures are retried
 * with full-jitter exponential backoff, a bounded number of times (fresh
 * credentials and a fresh signature per attempt). Errors in AWS's JSON shape
 * become one line: "<Service> <Op>: <Type>: <message>".
 *
 * Transport hook: when open_socket is set, the HTTP client gets its socket
 * and the address to connect it to from the hook and never resolves the
 * endpoint's name, so the same client runs over vsock to a host proxy
 * inside an enclave, TLS end to end, or over a unix socket in tests.
 *
 * Trust: response bodies are untrusted (size cap, JSON object required,
 * typed field readers in kms.c/dynamodb.c). Request and response buffers
 * can hold key material (KMS Plaintext): they are wiped before release.
 */
#include "aws_internal.h"

#include "http/http_client.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_ATTEMPTS 5
#define MAX_ATTEMPTS 20

struct aws_client {
	struct http_client *http;
	char region[64];
	char endpoint[AWS_SVC_COUNT][512];
	struct http_url url[AWS_SVC_COUNT];
	struct aws_creds_provider *creds;
	aws_open_socket_fn open_socket;
	void *open_socket_ctx;
	unsigned max_attempts, base_delay_ms, max_delay_ms;
	struct aws_error_info last;
	struct aws_client_stats stats;
	enum aws_service cur_svc; /* for the socket hook during a call */
};

static unsigned env_attempts(void)
{
	const char *s = getenv("AWS_MAX_ATTEMPTS");
	uint64_t v;
	if (s && dec_parse_u64(s, &v, NULL, "AWS_MAX_ATTEMPTS") == 0 && v >= 1 &&
	    v <= MAX_ATTEMPTS)
		return (unsigned)v;
	return DEFAULT_ATTEMPTS;
}

/* The HTTP client's socket hook: the AWS hook for the current service. */
static int hook(void *ud, struct sockaddr_storage *addr, socklen_t *len,
		struct err *e)
{
	struct aws_client *c = ud;
	int fd = c->open_socket(c->open_socket_ctx, c->cur_svc, addr, len, e);
	if (fd >= 0)
		c->stats.sockets_hooked++;
	return fd;
}

struct aws_client *aws_client_new(const struct aws_client_opts *o,
				  struct err *e)
{
	struct aws_client *c = calloc(1, sizeof(*c));
	if (!c) {
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (aws_region_resolve(o->region, c->region, sizeof(c->region), e) < 0)
		goto fail;
	for (int s = 0; s < AWS_SVC_COUNT; s++) {
		if (aws_endpoint_resolve((enum aws_service)s, c->region,
					 o->endpoint[s], c->endpoint[s],
					 sizeof(c->endpoint[s]), e) < 0)
			goto fail;
		struct err ue = {0};
		if (http_url_parse(c->endpoint[s], &c->url[s], &ue) < 0) {
			err_set(e, ERR_USAGE, "%s endpoint %s: %s",
				aws_service_name((enum aws_service)s),
				c->endpoint[s], ue.msg);
			goto fail;
		}
		snprintf(c->url[s].path, sizeof(c->url[s].path), "/");
	}
	if (!o->creds) {
		err_set(e, ERR_INVALID, "aws client: no credentials provider");
		goto fail;
	}
	c->creds = o->creds;
	c->open_socket = o->open_socket;
	c->open_socket_ctx = o->open_socket_ctx;
	c->max_attempts = o->max_attempts ? o->max_attempts : env_attempts();
	if (c->max_attempts > MAX_ATTEMPTS)
		c->max_attempts = MAX_ATTEMPTS;
	c->base_delay_ms = o->base_delay_ms ? o->base_delay_ms : 50;
	c->max_delay_ms = o->max_delay_ms ? o->max_delay_ms : 2000;
	struct http_client_opts ho = {
		.connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 3000,
		.timeout_ms = o->timeout_ms ? o->timeout_ms : 15000,
		.ca_file = o->ca_file,
		.open_socket = o->open_socket ? hook : NULL,
		.open_socket_ctx = c,
	};
	c->http = http_client_new(&ho, e);
	if (!c->http)
		goto fail;
	return c;
fail:
	aws_client_free(c);
	return NULL;
}

void aws_client_free(struct aws_client *c)
{
	if (!c)
		return;
	http_client_free(c->http);
	free(c);
}

const char *aws_client_region(const struct aws_client *c)
{
	return c->region;
}

const char *aws_client_endpoint(const struct aws_client *c, enum aws_service s)
{
	return c->endpoint[s];
}

const struct aws_error_info *aws_client_last_error(const struct aws_client *c)
{
	return &c->last;
}

void aws_client_stats(const struct aws_client *c, struct aws_client_stats *s)
{
	*s = c->stats;
}

/* ---- one exchange -------------------------------------------------------- */

static const char *json_version(enum aws_service s)
{
	return s == AWS_SVC_KMS ? "application/x-amz-json-1.1"
				: "application/x-amz-json-1.0";
}

static const char *target_prefix(enum aws_service s)
{
	return s == AWS_SVC_KMS ? "TrentService" : "DynamoDB_20120810";
}

static int perform(struct aws_client *c, enum aws_service svc,
		   const char *target, const char *body, size_t body_len,
		   struct http_client_response *x, struct err *e)
{
	struct aws_creds cr;
	TRY(aws_creds_get(c->creds, &cr, e));
	const char *ctype = json_version(svc);
	struct aws_header hs[] = {
		{"Host", c->url[svc].authority},
		{"Content-Type", ctype},
		{"X-Amz-Target", target},
	};
	struct aws_sigv4_request r = {
		.method = "POST", .path = "/", .query = NULL, .headers = hs,
		.n_headers = 3, .body = (const uint8_t *)body, .body_len = body_len,
	};
	struct aws_sigv4_params p = {
		.region = c->region, .service = aws_service_name(svc),
		.when = time(NULL), .creds = &cr, .normalize_path = true,
		.sign_body = true,
	};
	struct aws_sigv4_result sig;
	int rc = aws_sigv4_sign(&r, &p, &sig, e);
	aws_creds_clear(&cr);
	if (rc < 0)
		return rc;
	struct http_client_header hl[3 + AWS_SIGV4_MAX_ADD];
	size_t n = 0;
	for (size_t i = 0; i < 3; i++)
		hl[n++] = (struct http_client_header){hs[i].name, hs[i].value};
	for (size_t i = 0; i < sig.n_add && n < sizeof(hl) / sizeof(*hl); i++)
		hl[n++] = (struct http_client_header){sig.add_headers[i][0],
						      sig.add_headers[i][1]};
	struct http_client_request hr = {
		.method = "POST", .url = &c->url[svc], .headers = hl,
		.n_headers = n, .body = body, .body_len = body_len,
	};
	c->cur_svc = svc;
	uint64_t before = http_client_connects(c->http);
	rc = http_client_send(c->http, &hr, x, e);
	aws_sigv4_result_free(&sig);
	c->stats.connects += http_client_connects(c->http) - before;
	c->stats.requests++;
	return rc;
}

static bool transport_retryable(enum http_fail f)
{
	switch (f) {
	case HTTP_FAIL_CONNECT:
	case HTTP_FAIL_TIMEOUT:
	case HTTP_FAIL_IO:
	case HTTP_FAIL_EMPTY:
	case HTTP_FAIL_TRUNCATED:
		return true;
	default:
		return false;
	}
}

static const char *service_label(enum aws_service s)
{
	return s == AWS_SVC_KMS ? "KMS" : "DynamoDB";
}

static int map_error_code(const char *type)
{
	if (strcmp(type, "ConditionalCheckFailedException") == 0 ||
	    strcmp(type, "TransactionCanceledException") == 0)
		return ERR_REFUSED;
	if (strcmp(type, "ResourceNotFoundException") == 0 ||
	    strcmp(type, "NotFoundException") == 0)
		return ERR_NOT_FOUND;
	return ERR_INVALID;
}

int aws_client_call(struct aws_client *c, enum aws_service svc,
		    const char *op, const json_t *req, json_t **resp,
		    struct err *e)
{
	*resp = NULL;
	memset(&c->last, 0, sizeof(c->last));
	char target[128];
	snprintf(target, sizeof(target), "%s.%s", target_prefix(svc), op);
	char *body = json_dumps(req, JSON_COMPACT);
	if (!body)
		return err_set(e, ERR_NOMEM, "out of memory");
	size_t body_len = strlen(body);
	const char *label = service_label(svc);
	int rc = 0;
	bool reread_creds = false;
	unsigned attempt;
	for (attempt = 0; attempt < c->max_attempts; attempt++) {
		if (attempt) {
			c->stats.retries++;
			aws_sleep_ms(aws_backoff_ms(attempt - 1, c->base_delay_ms,
						    c->max_delay_ms));
		}
		struct http_client_response x = {0};
		buf_init(&x.body, AWS_MAX_RESPONSE + 1, true);
		struct err he = {0};
		rc = perform(c, svc, target, body, body_len, &x, &he);
		if (rc < 0 && x.fail == HTTP_FAIL_NONE) {
			/* credentials or local failure: retrying won't help */
			if (e)
				*e = he;
			http_client_response_free(&x);
			break;
		}
		if (rc < 0 && x.fail == HTTP_FAIL_TOO_LARGE) {
			rc = err_set(e, ERR_TOO_LARGE, "%s %s: response over %u bytes",
				     label, op, AWS_MAX_RESPONSE);
			http_client_response_free(&x);
			break;
		}
		if (rc < 0) {
			bool again = transport_retryable(x.fail);
			rc = err_set(e, ERR_UNAVAILABLE, "%s %s: %s (%s)", label, op,
				     he.msg, c->endpoint[svc]);
			snprintf(c->last.type, sizeof(c->last.type), "Transport");
			http_client_response_free(&x);
			if (again)
				continue;
			break;
		}
		if (x.status >= 200 && x.status < 300) {
			rc = aws_json_parse_object(buf_str(&x.body), x.body.len,
						   resp, e);
			if (rc < 0) {
				snprintf(c->last.type, sizeof(c->last.type),
					 "MalformedResponse");
				err_prefix(e, "%s %s: ", label, op);
			}
			http_client_response_free(&x);
			break;
		}
		/* A body without a usable __type leaves "Unknown": the header
		 * may still name the error. */
		const char *et = http_client_header(&x, "x-amzn-errortype");
		if (aws_json_error_parse(buf_str(&x.body), x.body.len, &c->last) < 0 &&
		    et && et[0]) {
			/* X-Amzn-ErrorType: "Name:http://internal..." */
			const char *colon = strchr(et, ':');
			size_t n = colon ? (size_t)(colon - et) : strlen(et);
			if (n >= sizeof(c->last.type))
				n = sizeof(c->last.type) - 1;
			memcpy(c->last.type, et, n);
			c->last.type[n] = '\0';
		}
		long status = x.status;
		http_client_response_free(&x);
		bool again = aws_error_retryable(status, c->last.type);
		if (!again && !reread_creds &&
		    (strcmp(c->last.type, "ExpiredTokenException") == 0 ||
		     strcmp(c->last.type, "ExpiredToken") == 0)) {
			/* Ours may be stale before their Expiration says so. */
			aws_creds_invalidate(c->creds);
			reread_creds = again = true;
		}
		rc = err_set(e, again ? ERR_UNAVAILABLE : map_error_code(c->last.type),
			     "%s %s: %s%s%s (HTTP %ld)", label, op, c->last.type,
			     c->last.message[0] ? ": " : "", c->last.message,
			     status);
		if (!again)
			break;
	}
	if (rc < 0 && attempt >= c->max_attempts && c->max_attempts > 1 && e) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, ", gave up after %u attempts",
			 c->max_attempts);
	}
	OPENSSL_cleanse(body, body_len);
	free(body);
	return rc;
}
