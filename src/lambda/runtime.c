/*
 * runtime.c: the Lambda Runtime API client (a custom runtime's side of
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) and the
 * invocation loop of nitro-control.
 *
 *   GET  /2018-06-01/runtime/invocation/next        long poll, no timeout;
 *        the event, Lambda-Runtime-Aws-Request-Id and
 *        Lambda-Runtime-Deadline-Ms (ms since the epoch)
 *   POST /2018-06-01/runtime/invocation/ID/response  the result (JSON)
 *   POST /2018-06-01/runtime/invocation/ID/error     {"errorMessage",
 *        "errorType"} with Lambda-Runtime-Function-Error-Type
 *   POST /2018-06-01/runtime/init/error              a bad environment;
 *        then the process exits
 *
 * The Runtime API is Lambda's own endpoint on the sandbox's loopback (plain
 * HTTP at AWS_LAMBDA_RUNTIME_API), but what it hands over is still checked:
 * a request id is used in a URL path only when it is 1..REQUEST_ID_MAX of
 * [A-Za-z0-9-], the deadline is a strict decimal, the event is bounded.
 * One invocation at a time, on the main thread, as Lambda runs them.
 */
#include "lambda/lambda.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/aws.h"
#include "http/http_client.h"

#define API_PREFIX "/2018-06-01/runtime"
#define REQUEST_ID_MAX 128
/* Lambda's synchronous payload limit is 6 MB; a bigger event is refused by
 * the client and the invocation left to time out. */
#define EVENT_BODY_MAX (7 * 1024 * 1024)
#define NEXT_ATTEMPTS 5
#define POST_TIMEOUT_MS 5000

struct runtime {
	const char *api; /* host:port */
	struct http_client *http;
};

static int runtime_url(const struct runtime *rt, const char *path,
		       struct http_url *u, struct err *e)
{
	char url[512];
	if ((size_t)snprintf(url, sizeof(url), "http://%s" API_PREFIX "%s",
			     rt->api, path) >= sizeof(url))
		return err_set(e, ERR_INVALID, "AWS_LAMBDA_RUNTIME_API too long");
	return http_url_parse(url, u, e);
}

/* POSTs body (JSON) to path; 0 on a 2xx answer. */
static int runtime_post(struct runtime *rt, const char *path,
			const char *error_type, const char *body,
			struct err *e)
{
	struct http_url u;
	TRY(runtime_url(rt, path, &u, e));
	struct http_client_header h[2] = {
		{"Content-Type", "application/json"},
		{"Lambda-Runtime-Function-Error-Type", error_type},
	};
	struct http_client_request req = {
		.method = "POST", .url = &u, .headers = h,
		.n_headers = error_type ? 2 : 1, .body = body,
		.body_len = strlen(body), .timeout_ms = POST_TIMEOUT_MS,
	};
	struct http_client_response resp;
	memset(&resp, 0, sizeof(resp));
	buf_init(&resp.body, 64 * 1024, false);
	int rc = http_client_send(rt->http, &req, &resp, e);
	if (rc == 0 && (resp.status < 200 || resp.status > 299))
		rc = err_set(e, ERR_UNAVAILABLE, "Runtime API POST %s: HTTP %d",
			     path, resp.status);
	http_client_response_free(&resp);
	return rc;
}

static char *error_body(const char *type, const char *msg)
{
	json_t *j = json_pack("{s:s,s:s,s:[]}", "errorMessage", msg,
			      "errorType", type, "stackTrace");
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static int runtime_error(struct runtime *rt, const char *path,
			 const char *type, const char *msg, struct err *e)
{
	char *body = error_body(type, msg);
	int rc = body ? runtime_post(rt, path, type, body, e)
		      : err_set(e, ERR_NOMEM, "out of memory");
	free(body);
	return rc;
}

static bool request_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > REQUEST_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

struct invocation {
	char id[REQUEST_ID_MAX + 1];
	int64_t deadline_ms; /* 0: none given */
	char *event;
	size_t len;
};

/* The next invocation; 1 when the answer had no usable request id (nothing
 * can be reported for it: logged and skipped). */
static int runtime_next(struct runtime *rt, struct invocation *inv,
			struct err *e)
{
	memset(inv, 0, sizeof(*inv));
	struct http_url u;
	TRY(runtime_url(rt, "/invocation/next", &u, e));
	struct http_client_request req = {.method = "GET", .url = &u,
					  .timeout_ms = HTTP_CLIENT_NO_TIMEOUT};
	struct http_client_response resp;
	memset(&resp, 0, sizeof(resp));
	buf_init(&resp.body, EVENT_BODY_MAX, false);
	int rc = http_client_send(rt->http, &req, &resp, e);
	if (rc < 0)
		goto out;
	if (resp.status != 200) {
		rc = err_set(e, ERR_UNAVAILABLE, "Runtime API next: HTTP %d",
			     resp.status);
		goto out;
	}
	const char *id = http_client_header(&resp, "lambda-runtime-aws-request-id");
	if (!request_id_ok(id)) {
		log_error("Runtime API next: no usable Lambda-Runtime-Aws-Request-Id; "
			  "invocation skipped");
		rc = 1;
		goto out;
	}
	snprintf(inv->id, sizeof(inv->id), "%s", id);
	uint64_t dl = 0;
	const char *dls = http_client_header(&resp, "lambda-runtime-deadline-ms");
	if (dls && dec_parse_u64(dls, &dl, NULL, "deadline") == 0 &&
	    dl <= INT64_MAX)
		inv->deadline_ms = (int64_t)dl;
	else
		log_warn("invocation %s: no valid Lambda-Runtime-Deadline-Ms; "
			 "signer calls use their own limit", inv->id);
	inv->len = resp.body.len;
	if (!(inv->event = buf_take_str(&resp.body)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
out:
	http_client_response_free(&resp);
	return rc;
}

/* Handles inv and reports its outcome. */
static int invoke(struct runtime *rt, struct lambda_ctx *x,
		  const struct invocation *inv, struct err *e)
{
	struct lambda_outcome o;
	x->deadline_ms = inv->deadline_ms;
	lambda_handle(x, inv->event, inv->len, &o);
	char path[64 + REQUEST_ID_MAX];
	int rc;
	if (o.result) {
		char *body = json_dumps(o.result, JSON_COMPACT);
		snprintf(path, sizeof(path), "/invocation/%s/response", inv->id);
		rc = body ? runtime_post(rt, path, NULL, body, e)
			  : err_set(e, ERR_NOMEM, "out of memory");
		free(body);
		log_info("invocation %s: %s: ok", inv->id,
			 json_string_value(json_object_get(o.result, "operation")));
	} else {
		const char *type = lambda_error_name(o.kind);
		snprintf(path, sizeof(path), "/invocation/%s/error", inv->id);
		rc = runtime_error(rt, path, type, o.e.msg, e);
		log_warn("invocation %s: %s: %s", inv->id, type, o.e.msg);
	}
	lambda_outcome_clear(&o);
	return rc;
}

static int loop(struct runtime *rt, struct lambda_ctx *x)
{
	int failures = 0;
	for (;;) {
		struct err e = {0};
		struct invocation inv;
		int rc = runtime_next(rt, &inv, &e);
		if (rc < 0) {
			/* The Runtime API is the sandbox's own: when it is gone
			 * the function is being shut down. */
			log_error("%s", e.msg);
			if (++failures >= NEXT_ATTEMPTS)
				return 1;
			usleep(100 * 1000 * (useconds_t)failures);
			continue;
		}
		failures = 0;
		if (rc == 0 && invoke(rt, x, &inv, &e) < 0)
			log_error("invocation %s: reporting the outcome: %s",
				  inv.id, e.msg);
		free(inv.event);
	}
}

static struct aws_client *aws_open(struct aws_creds_provider **creds,
				   struct err *e)
{
	*creds = aws_creds_env_new(e);
	if (!*creds)
		return NULL;
	struct aws_client_opts o = {.creds = *creds, .max_attempts = 3,
				    .timeout_ms = 5000};
	struct aws_client *c = aws_client_new(&o, e);
	if (!c) {
		aws_creds_provider_free(*creds);
		*creds = NULL;
	}
	return c;
}

int lambda_main(void)
{
	log_setup(LOG_INFO, LOG_FORMAT_TEXT);
	struct runtime rt = {.api = getenv("AWS_LAMBDA_RUNTIME_API")};
	if (!rt.api || !*rt.api) {
		fprintf(stderr, "nitro-control: AWS_LAMBDA_RUNTIME_API is not set "
				"(this program runs as an AWS Lambda function)\n");
		return 1;
	}
	struct err e = {0};
	struct http_client_opts ho = {0};
	if (!(rt.http = http_client_new(&ho, &e))) {
		fprintf(stderr, "nitro-control: %s\n", e.msg);
		return 1;
	}
	struct lambda_config cfg;
	struct aws_creds_provider *creds = NULL;
	struct aws_client *aws = NULL;
	int status = 1;
	int rc = lambda_config_from_env(&cfg, &e);
	if (rc == 0 && !(aws = aws_open(&creds, &e)))
		rc = -ERR_USAGE;
	if (rc < 0) {
		struct err pe = {0};
		log_error("init: %s", e.msg);
		if (runtime_error(&rt, "/init/error", "InvalidConfiguration",
				  e.msg, &pe) < 0)
			log_error("init: reporting the error: %s", pe.msg);
		goto out;
	}
	log_info("init: signer %s, signer id %s, key table %s", cfg.signer_url,
		 cfg.signer_id, cfg.key_table);
	struct lambda_ctx x = {.cfg = &cfg, .aws = aws};
	status = loop(&rt, &x);
out:
	aws_client_free(aws);
	aws_creds_provider_free(creds);
	lambda_config_clear(&cfg);
	http_client_free(rt.http);
	return status;
}
