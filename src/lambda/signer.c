/*
 * signer.c: the control Lambda's HTTPS requests to the signer, through the
 * load balancer at SIGNER_URL.
 *
 * Each request pins the signer's leaf certificate as the key table has it
 * (key_table.c): no CA and no host name are checked, because the enclave's
 * certificate is self-signed and the load balancer's name is not in it; any
 * other certificate fails the handshake (LAMBDA_ERR_CERT_MISMATCH), so a
 * wrong endpoint or a man in the middle gets nothing but a TLS hello. The
 * exchange is bounded by the invocation's deadline (less a margin to report
 * the failure in), and by REQUEST_MAX_MS. With SIGNER_CLIENT_CERT_PEM the
 * Lambda presents that certificate (mTLS) on every request.
 */
#include "lambda/lambda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_client.h"

#define REQUEST_MAX_MS 10000
/* Left for answering the Runtime API after a signer call ran out of time. */
#define REPORT_MARGIN_MS 300

void lambda_reply_clear(struct lambda_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The time a request may take: REQUEST_MAX_MS, less when the deadline is
 * nearer; 0 when none is left. */
static long time_left(const struct lambda_ctx *x)
{
	if (!x->deadline_ms)
		return REQUEST_MAX_MS;
	int64_t left = x->deadline_ms - realtime_ms() - REPORT_MARGIN_MS;
	if (left <= 0)
		return 0;
	return left < REQUEST_MAX_MS ? (long)left : REQUEST_MAX_MS;
}

int lambda_signer_get(struct lambda_ctx *x, const struct lambda_cert *cert,
		      const char *path, size_t max, struct lambda_reply *out,
		      enum lambda_error *kind, struct err *e)
{
	memset(out, 0, sizeof(*out));
	*kind = LAMBDA_ERR_SIGNER;
	long ms = time_left(x);
	if (ms <= 0) {
		*kind = LAMBDA_ERR_DEADLINE;
		return err_set(e, ERR_UNAVAILABLE, "GET %s: the invocation's "
			       "deadline leaves no time for the signer", path);
	}
	char url[1200];
	struct http_url u;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", x->cfg->signer_url,
			     path) >= sizeof(url) ||
	    http_url_parse(url, &u, e) < 0) {
		*kind = LAMBDA_ERR_INTERNAL;
		return err_set(e, ERR_INTERNAL, "GET %s: not a URL with SIGNER_URL",
			       path);
	}
	struct http_client_opts o = {
		.connect_timeout_ms = ms < 3000 ? ms : 3000,
		.timeout_ms = ms,
		.pinned_cert_der = cert->der,
		.pinned_cert_len = cert->der_len,
		/* Presented when configured; the enclave asks every client and
		 * lets unlisted ones reach the open routes. */
		.client_cert_pem = x->cfg->client_cert_pem,
		.client_key_pem = x->cfg->client_key_pem,
	};
	struct http_client *c = http_client_new(&o, e);
	if (!c) {
		*kind = LAMBDA_ERR_INTERNAL;
		return -ERR_NOMEM;
	}
	struct http_client_header h = {"Accept", "*/*"};
	struct http_client_request req = {.method = "GET", .url = &u,
					  .headers = &h, .n_headers = 1};
	struct http_client_response resp;
	memset(&resp, 0, sizeof(resp));
	buf_init(&resp.body, max, false);
	int rc = http_client_send(c, &req, &resp, e);
	if (rc < 0) {
		if (resp.fail == HTTP_FAIL_TLS)
			*kind = LAMBDA_ERR_CERT_MISMATCH;
		else if (resp.fail == HTTP_FAIL_TIMEOUT && x->deadline_ms)
			*kind = LAMBDA_ERR_DEADLINE;
		err_prefix(e, "GET %s: ", path);
	} else {
		out->status = resp.status;
		out->len = resp.body.len;
		out->body = buf_take_str(&resp.body);
		if (!out->body) {
			*kind = LAMBDA_ERR_INTERNAL;
			rc = err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	http_client_response_free(&resp);
	http_client_free(c);
	return rc;
}
