/*
 * client.c: the HTTP client every AWS call goes through (libcurl).
 *
 * One curl easy handle per client, so consecutive calls reuse the
 * keep-alive connection. A call is POST / with the JSON protocol's headers
 * (Content-Type application/x-amz-json-1.0 or 1.1, X-Amz-Target), signed
 * with SigV4 (Host, Content-Type, X-Amz-Target, X-Amz-Date,
 * X-Amz-Security-Token, X-Amz-Content-Sha256), with a connect timeout and a
 * whole-request timeout. Throttling, 5xx and transport failures are retried
 * with full-jitter exponential backoff, a bounded number of times (fresh
 * credentials and a fresh signature per attempt). Errors in AWS's JSON shape
 * become one line: "<Service> <Op>: <Type>: <message>".
 *
 * Transport hook: when open_socket is set, curl gets its socket and the
 * address to connect it to from the hook (CURLOPT_OPENSOCKETFUNCTION) and
 * never resolves the endpoint's name (CURLOPT_RESOLVE pins it), so the
 * same client runs over vsock to a host proxy inside an enclave, TLS end to
 * end, or over a unix socket in tests.
 *
 * Trust: response bodies are untrusted (size cap, JSON object required,
 * typed field readers in kms.c/dynamodb.c). Request and response buffers
 * can hold key material (KMS Plaintext): they are wiped before release.
 */
#include "aws_internal.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_ATTEMPTS 5
#define MAX_ATTEMPTS 20

struct aws_client {
	CURL *curl;
	char region[64];
	char endpoint[AWS_SVC_COUNT][512];
	char authority[AWS_SVC_COUNT][300]; /* host[:port] as in the URL */
	struct aws_creds_provider *creds;
	aws_open_socket_fn open_socket;
	void *open_socket_ctx;
	unsigned max_attempts, base_delay_ms, max_delay_ms;
	long connect_timeout_ms, timeout_ms;
	char *ca_file;
	struct curl_slist *resolve;
	struct aws_error_info last;
	struct aws_client_stats stats;
	/* for the socket hook during a transfer */
	enum aws_service cur_svc;
	struct err sock_err;
	bool sock_failed;
};

/* A response body: NUL-terminated text in a wiping buffer (KMS answers
 * carry plaintext keys), at most AWS_MAX_RESPONSE bytes. */
struct body {
	struct buf b;
	bool overflow;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static unsigned env_attempts(void)
{
	const char *s = getenv("AWS_MAX_ATTEMPTS");
	uint64_t v;
	if (s && dec_parse_u64(s, &v, NULL, "AWS_MAX_ATTEMPTS") == 0 && v >= 1 &&
	    v <= MAX_ATTEMPTS)
		return (unsigned)v;
	return DEFAULT_ATTEMPTS;
}

/* "https://host:port/..." -> "host:port"; "" if the URL has no host. */
static int url_authority(const char *url, char *out, size_t cap, int *port)
{
	const char *p = strstr(url, "://");
	if (!p)
		return -ERR_INVALID;
	p += 3;
	size_t n = strcspn(p, "/?#");
	if (n == 0 || n >= cap || memchr(p, '@', n))
		return -ERR_INVALID;
	memcpy(out, p, n);
	out[n] = '\0';
	*port = strncmp(url, "https", 5) == 0 ? 443 : 80;
	const char *colon = strrchr(out, ':');
	if (colon && !strchr(colon, ']')) {
		uint64_t v;
		if (dec_parse_u64(colon + 1, &v, NULL, "port") < 0 || v == 0 ||
		    v > 65535)
			return -ERR_INVALID;
		*port = (int)v;
	}
	return 0;
}

static int pin_resolve(struct aws_client *c, const char *authority, int port,
		       struct err *e)
{
	char host[300], entry[400];
	snprintf(host, sizeof(host), "%s", authority);
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon, ']'))
		*colon = '\0';
	snprintf(entry, sizeof(entry), "%s:%d:127.0.0.1", host, port);
	struct curl_slist *r = curl_slist_append(c->resolve, entry);
	if (!r)
		return err_set(e, ERR_NOMEM, "out of memory");
	c->resolve = r;
	return 0;
}

struct aws_client *aws_client_new(const struct aws_client_opts *o,
				  struct err *e)
{
	pthread_once(&curl_once, curl_init_once);
	struct aws_client *c = calloc(1, sizeof(*c));
	if (!c) {
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (aws_region_resolve(o->region, c->region, sizeof(c->region), e) < 0)
		goto fail;
	for (int s = 0; s < AWS_SVC_COUNT; s++) {
		int port;
		if (aws_endpoint_resolve((enum aws_service)s, c->region,
					 o->endpoint[s], c->endpoint[s],
					 sizeof(c->endpoint[s]), e) < 0)
			goto fail;
		if (url_authority(c->endpoint[s], c->authority[s],
				  sizeof(c->authority[s]), &port) < 0) {
			err_set(e, ERR_USAGE, "%s endpoint %s: no host",
				aws_service_name((enum aws_service)s),
				c->endpoint[s]);
			goto fail;
		}
		if (o->open_socket && pin_resolve(c, c->authority[s], port, e) < 0)
			goto fail;
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
	c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 3000;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 15000;
	if (o->ca_file && !(c->ca_file = strdup(o->ca_file))) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		err_set(e, ERR_NOMEM, "curl_easy_init failed");
		goto fail;
	}
	return c;
fail:
	aws_client_free(c);
	return NULL;
}

void aws_client_free(struct aws_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->resolve);
	free(c->ca_file);
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

/* ---- curl callbacks ---------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	int rc = buf_text(&b->b, ptr, n);
	if (rc == -ERR_TOO_LARGE)
		b->overflow = true;
	return rc < 0 ? 0 : n;
}

static void body_init(struct body *b)
{
	memset(b, 0, sizeof(*b));
	buf_init(&b->b, AWS_MAX_RESPONSE + 1, true);
}

static void body_wipe(struct body *b)
{
	buf_free(&b->b);
	body_init(b);
}

struct hdr_capture {
	char error_type[128];
	char request_id[80];
};

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	struct hdr_capture *h = ud;
	size_t n = size * nitems;
	static const char ET[] = "x-amzn-errortype:", RID[] = "x-amzn-requestid:";
	char *dst = NULL;
	size_t cap = 0, skip = 0;
	if (n > sizeof(ET) - 1 && strncasecmp(buf, ET, sizeof(ET) - 1) == 0) {
		dst = h->error_type;
		cap = sizeof(h->error_type);
		skip = sizeof(ET) - 1;
	} else if (n > sizeof(RID) - 1 &&
		   strncasecmp(buf, RID, sizeof(RID) - 1) == 0) {
		dst = h->request_id;
		cap = sizeof(h->request_id);
		skip = sizeof(RID) - 1;
	}
	if (dst) {
		const char *v = buf + skip;
		size_t l = n - skip;
		while (l && (*v == ' ' || *v == '\t')) {
			v++;
			l--;
		}
		while (l && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
			l--;
		size_t o = 0;
		for (size_t i = 0; i < l && o + 1 < cap; i++)
			dst[o++] = (v[i] < 0x20 || v[i] == 0x7f) ? ' ' : v[i];
		dst[o] = '\0';
	}
	return n;
}

static curl_socket_t on_open_socket(void *ud, curlsocktype purpose,
				    struct curl_sockaddr *addr)
{
	struct aws_client *c = ud;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	c->sock_failed = false;
	int fd = c->open_socket(c->open_socket_ctx, c->cur_svc, &ss, &len,
				&c->sock_err);
	if (fd < 0) {
		c->sock_failed = true;
		return CURL_SOCKET_BAD;
	}
	/* curl's address buffer is a sockaddr_storage (Curl_sockaddr_ex). */
	if (len > sizeof(struct sockaddr_storage)) {
		close(fd);
		c->sock_failed = true;
		err_set(&c->sock_err, ERR_INVALID, "socket hook: address too long");
		return CURL_SOCKET_BAD;
	}
	memcpy(&addr->addr, &ss, len);
	addr->addrlen = len;
	addr->family = ss.ss_family;
	c->stats.sockets_hooked++;
	return fd;
}

/* ---- one exchange -------------------------------------------------------- */

struct exchange {
	long status;
	CURLcode cr;
	struct body body;
	struct hdr_capture hdr;
};

static const char *json_version(enum aws_service s)
{
	return s == AWS_SVC_KMS ? "application/x-amz-json-1.1"
				: "application/x-amz-json-1.0";
}

static const char *target_prefix(enum aws_service s)
{
	return s == AWS_SVC_KMS ? "TrentService" : "DynamoDB_20120810";
}

static int add_header(struct curl_slist **l, const char *name,
		      const char *value)
{
	/* A header line may carry the session token: wiped as it grows. */
	struct buf b = {.max = AWS_TEXT_MAX, .wipe = true};
	buf_printf(&b, "%s: %s", name, value);
	char *s = buf_take_str(&b);
	if (!s)
		return -ERR_NOMEM;
	struct curl_slist *n = curl_slist_append(*l, s);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	if (!n)
		return -ERR_NOMEM;
	*l = n;
	return 0;
}

static int perform(struct aws_client *c, enum aws_service svc,
		   const char *target, const char *body, size_t body_len,
		   struct exchange *x, struct err *e)
{
	struct aws_creds cr;
	TRY(aws_creds_get(c->creds, &cr, e));
	const char *ctype = json_version(svc);
	struct aws_header hs[] = {
		{"Host", c->authority[svc]},
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
	struct curl_slist *hl = NULL;
	rc = 0;
	for (size_t i = 0; i < 3 && rc == 0; i++)
		rc = add_header(&hl, hs[i].name, hs[i].value);
	for (size_t i = 0; i < sig.n_add && rc == 0; i++)
		rc = add_header(&hl, sig.add_headers[i][0], sig.add_headers[i][1]);
	aws_sigv4_result_free(&sig);
	struct curl_slist *t = rc == 0 ? curl_slist_append(hl, "Expect:") : NULL;
	if (!t) {
		curl_slist_free_all(hl);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	hl = t;

	CURL *h = c->curl;
	curl_easy_reset(h);
	char url[600];
	snprintf(url, sizeof(url), "%s/", c->endpoint[svc]);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x->hdr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (getenv("NS_AWS_CURL_VERBOSE"))
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	if (c->open_socket) {
		c->cur_svc = svc;
		curl_easy_setopt(h, CURLOPT_RESOLVE, c->resolve);
		curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
		curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
		curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 0L);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 0L);
	}
	x->cr = curl_easy_perform(h);
	x->status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
	long nconn = 0;
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nconn);
	c->stats.connects += (uint64_t)nconn;
	c->stats.requests++;
	curl_slist_free_all(hl);
	if (x->body.overflow)
		return err_set(e, ERR_TOO_LARGE, "response over %u bytes",
			       AWS_MAX_RESPONSE);
	return 0;
}

static bool transport_retryable(CURLcode cr)
{
	switch (cr) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
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

static const char *transport_hint(CURLcode cr)
{
	switch (cr) {
	case CURLE_PARTIAL_FILE: return "truncated response";
	case CURLE_OPERATION_TIMEDOUT: return "timed out";
	case CURLE_GOT_NOTHING: return "empty reply";
	default: return curl_easy_strerror(cr);
	}
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
		struct exchange x;
		memset(&x, 0, sizeof(x));
		body_init(&x.body);
		rc = perform(c, svc, target, body, body_len, &x, e);
		if (rc < 0) {
			body_wipe(&x.body);
			if (rc == -ERR_TOO_LARGE)
				err_prefix(e, "%s %s: ", label, op);
			break; /* credentials or local failure: retrying won't help */
		}
		if (x.cr != CURLE_OK) {
			bool again = transport_retryable(x.cr);
			if (c->sock_failed)
				rc = err_set(e, ERR_UNAVAILABLE, "%s %s: %s", label, op,
					     c->sock_err.msg);
			else
				rc = err_set(e, ERR_UNAVAILABLE, "%s %s: %s (%s)", label,
					     op, transport_hint(x.cr),
					     c->endpoint[svc]);
			snprintf(c->last.type, sizeof(c->last.type), "Transport");
			body_wipe(&x.body);
			if (again)
				continue;
			break;
		}
		if (x.status >= 200 && x.status < 300) {
			rc = aws_json_parse_object(buf_str(&x.body.b), x.body.b.len,
						   resp, e);
			if (rc < 0) {
				snprintf(c->last.type, sizeof(c->last.type),
					 "MalformedResponse");
				err_prefix(e, "%s %s: ", label, op);
			}
			body_wipe(&x.body);
			break;
		}
		/* A body without a usable __type leaves "Unknown": the header
		 * may still name the error. */
		if (aws_json_error_parse(buf_str(&x.body.b), x.body.b.len, &c->last) < 0 &&
		    x.hdr.error_type[0]) {
			/* X-Amzn-ErrorType: "Name:http://internal..." */
			const char *t = x.hdr.error_type;
			const char *colon = strchr(t, ':');
			size_t n = colon ? (size_t)(colon - t) : strlen(t);
			if (n >= sizeof(c->last.type))
				n = sizeof(c->last.type) - 1;
			memcpy(c->last.type, t, n);
			c->last.type[n] = '\0';
		}
		body_wipe(&x.body);
		bool again = aws_error_retryable(x.status, c->last.type);
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
			     x.status);
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
