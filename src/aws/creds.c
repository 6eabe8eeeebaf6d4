/*
 * creds.c: where AWS credentials come from.
 *
 *  - environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally
 *    AWS_SESSION_TOKEN, read once (operator workstations, CI);
 *  - IMDSv2: PUT /latest/api/token (TTL header) for a session token, then
 *    the instance role's name and its temporary credentials, re-read a
 *    refresh window before Expiration (the parent instance);
 *  - pushed: whatever the host hands the enclave over the control channel.
 *
 * A provider is shared between threads (the mutex guards the current
 * credentials and the IMDS token); callers receive copies. Secret keys,
 * session tokens and the IMDS token live in struct secret. IMDS responses are
 * untrusted: size-capped, JSON-typed, Code must be "Success".
 */
#include "aws_internal.h"

#include "http/http_client.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TOKEN_TTL 21600
#define IMDS_MAX_BODY (64 * 1024)
#define IMDS_ATTEMPTS 3

struct aws_creds_provider {
	enum aws_creds_kind kind;
	pthread_mutex_t lock;
	struct aws_creds cur;
	bool have;
	bool force_refresh; /* the service said the credentials expired */
	int refresh_window;
	time_t (*now)(void);
	/* IMDS */
	char endpoint[256];
	struct secret *token;
	time_t token_expiry;
	char role[256];
};

void aws_creds_clear(struct aws_creds *c)
{
	secret_free(c->secret_key);
	secret_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

static struct secret *secret_str(const char *s, size_t n)
{
	struct secret *x = secret_new(n + 1);
	if (x) {
		memcpy(x->bytes, s, n);
		x->bytes[n] = '\0';
		secret_truncate(x, n);
	}
	return x;
}

int aws_creds_copy(struct aws_creds *dst, const struct aws_creds *src,
		   struct err *e)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->access_key_id, src->access_key_id, sizeof(dst->access_key_id));
	dst->expiration = src->expiration;
	if (src->secret_key) {
		dst->secret_key = secret_str((const char *)src->secret_key->bytes,
					     src->secret_key->len);
		if (!dst->secret_key)
			goto oom;
	}
	if (src->session_token) {
		dst->session_token = secret_str(
			(const char *)src->session_token->bytes,
			src->session_token->len);
		if (!dst->session_token)
			goto oom;
	}
	return 0;
oom:
	aws_creds_clear(dst);
	return err_set(e, ERR_NOMEM, "out of secure memory");
}

int aws_parse_iso8601(const char *s, int64_t *out)
{
	struct tm tm = {0};
	char tail[32] = "";
	if (!s || strlen(s) < 20 || strlen(s) > 30)
		return -ERR_INVALID;
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -ERR_INVALID;
	snprintf(tail, sizeof(tail), "%s", end);
	const char *t = tail;
	if (*t == '.') {
		t++;
		if (!(*t >= '0' && *t <= '9'))
			return -ERR_INVALID;
		while (*t >= '0' && *t <= '9')
			t++;
	}
	if (strcmp(t, "Z") != 0 && strcmp(t, "+00:00") != 0)
		return -ERR_INVALID;
	time_t v = timegm(&tm);
	if (v == (time_t)-1)
		return -ERR_INVALID;
	*out = (int64_t)v;
	return 0;
}

/*
 * An access key id: letters and digits, 1..127 of them. AWS's are 16 to 128
 * characters, but local stacks and emulators (LocalStack, dynalite) are run
 * with ids such as "test"; what matters is that nothing reaching the
 * Authorization header can break it (no spaces, no control characters).
 */
static bool akid_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= AWS_AKID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

/* Secret values: printable ASCII, no spaces (they go into HMAC/headers). */
static bool token_ok(const char *s, size_t n)
{
	if (n == 0 || n > 8192)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int creds_set(struct aws_creds *c, const char *akid, const char *sk,
		     size_t sk_len, const char *tok, size_t tok_len,
		     int64_t expiration, const char *src, struct err *e)
{
	memset(c, 0, sizeof(*c));
	if (!akid || !akid_ok(akid))
		return err_set(e, ERR_INVALID, "%s: access key id is malformed", src);
	if (!sk || !token_ok(sk, sk_len))
		return err_set(e, ERR_INVALID, "%s: secret access key is malformed",
			       src);
	if (tok && !token_ok(tok, tok_len))
		return err_set(e, ERR_INVALID, "%s: session token is malformed", src);
	snprintf(c->access_key_id, sizeof(c->access_key_id), "%s", akid);
	c->secret_key = secret_str(sk, sk_len);
	c->session_token = tok ? secret_str(tok, tok_len) : NULL;
	c->expiration = expiration;
	if (!c->secret_key || (tok && !c->session_token)) {
		aws_creds_clear(c);
		return err_set(e, ERR_NOMEM, "out of secure memory");
	}
	return 0;
}

int aws_creds_from_json(const json_t *obj, struct aws_creds *out,
			struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return err_set(e, ERR_INVALID, "credentials: not a JSON object");
	const json_t *code = json_object_get(obj, "Code");
	if (code && (!json_is_string(code) ||
		     strcmp(json_string_value(code), "Success") != 0))
		return err_set(e, ERR_UNAVAILABLE, "credentials: Code is not Success");
	const json_t *akid = json_object_get(obj, "AccessKeyId");
	const json_t *sk = json_object_get(obj, "SecretAccessKey");
	const json_t *tok = json_object_get(obj, "Token");
	if (!tok)
		tok = json_object_get(obj, "SessionToken");
	const json_t *exp = json_object_get(obj, "Expiration");
	if (!json_is_string(akid) || !json_is_string(sk))
		return err_set(e, ERR_INVALID,
			       "credentials: AccessKeyId and SecretAccessKey must be strings");
	if (tok && !json_is_null(tok) && !json_is_string(tok))
		return err_set(e, ERR_INVALID, "credentials: Token must be a string");
	int64_t expiration = 0;
	if (exp && !json_is_null(exp) &&
	    (!json_is_string(exp) ||
	     aws_parse_iso8601(json_string_value(exp), &expiration) < 0))
		return err_set(e, ERR_INVALID,
			       "credentials: Expiration is not an ISO-8601 UTC time");
	bool has_tok = json_is_string(tok);
	return creds_set(out, json_string_value(akid), json_string_value(sk),
			 json_string_length(sk),
			 has_tok ? json_string_value(tok) : NULL,
			 has_tok ? json_string_length(tok) : 0, expiration,
			 "credentials", e);
}

/* ---- providers ------------------------------------------------------------ */

static time_t wall_now(void)
{
	return time(NULL);
}

static struct aws_creds_provider *provider_new(enum aws_creds_kind kind,
					       struct err *e)
{
	struct aws_creds_provider *p = calloc(1, sizeof(*p));
	if (!p) {
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	p->kind = kind;
	p->refresh_window = 300;
	p->now = wall_now;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

struct aws_creds_provider *aws_creds_env_new(struct err *e)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *tok = getenv("AWS_SESSION_TOKEN");
	if (!akid || !*akid || !sk || !*sk) {
		err_set(e, ERR_UNAVAILABLE,
			"no AWS credentials: AWS_ACCESS_KEY_ID and "
			"AWS_SECRET_ACCESS_KEY must both be set");
		return NULL;
	}
	if (tok && !*tok)
		tok = NULL;
	struct aws_creds_provider *p = provider_new(AWS_CREDS_ENV, e);
	if (!p)
		return NULL;
	if (creds_set(&p->cur, akid, sk, strlen(sk), tok, tok ? strlen(tok) : 0,
		      0, "environment", e) < 0) {
		aws_creds_provider_free(p);
		return NULL;
	}
	p->have = true;
	return p;
}

struct aws_creds_provider *aws_creds_imds_new(const char *endpoint,
					      struct err *e)
{
	if (!endpoint || !*endpoint)
		endpoint = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!endpoint || !*endpoint)
		endpoint = IMDS_DEFAULT;
	if (strncmp(endpoint, "http://", 7) != 0 || strlen(endpoint) > 200) {
		err_set(e, ERR_USAGE, "IMDS endpoint must be an http:// URL");
		return NULL;
	}
	struct aws_creds_provider *p = provider_new(AWS_CREDS_IMDS, e);
	if (!p)
		return NULL;
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", endpoint);
	size_t n = strlen(p->endpoint);
	if (n > 7 && p->endpoint[n - 1] == '/')
		p->endpoint[n - 1] = '\0';
	return p;
}

struct aws_creds_provider *aws_creds_pushed_new(struct err *e)
{
	return provider_new(AWS_CREDS_PUSHED, e);
}

struct aws_creds_provider *aws_creds_default_new(struct err *e)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID");
	if (akid && *akid)
		return aws_creds_env_new(e);
	return aws_creds_imds_new(NULL, e);
}

void aws_creds_provider_free(struct aws_creds_provider *p)
{
	if (!p)
		return;
	aws_creds_clear(&p->cur);
	secret_free(p->token);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

enum aws_creds_kind aws_creds_provider_kind(const struct aws_creds_provider *p)
{
	return p->kind;
}

void aws_creds_set_refresh_window(struct aws_creds_provider *p, int seconds)
{
	pthread_mutex_lock(&p->lock);
	p->refresh_window = seconds < 0 ? 0 : seconds;
	pthread_mutex_unlock(&p->lock);
}

void aws_creds_set_clock(struct aws_creds_provider *p, time_t (*now)(void))
{
	pthread_mutex_lock(&p->lock);
	p->now = now ? now : wall_now;
	pthread_mutex_unlock(&p->lock);
}

void aws_creds_invalidate(struct aws_creds_provider *p)
{
	pthread_mutex_lock(&p->lock);
	p->force_refresh = true;
	pthread_mutex_unlock(&p->lock);
}

int aws_creds_push(struct aws_creds_provider *p, const struct aws_creds *c,
		   struct err *e)
{
	if (p->kind != AWS_CREDS_PUSHED)
		return err_set(e, ERR_INVALID, "credentials can only be pushed to a "
			       "pushed-credentials provider");
	if (!c->secret_key || !akid_ok(c->access_key_id))
		return err_set(e, ERR_INVALID, "pushed credentials are incomplete");
	struct aws_creds copy;
	TRY(aws_creds_copy(&copy, c, e));
	pthread_mutex_lock(&p->lock);
	aws_creds_clear(&p->cur);
	p->cur = copy;
	p->have = true;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int aws_creds_push_json(struct aws_creds_provider *p, const json_t *obj,
			struct err *e)
{
	struct aws_creds c;
	TRY(aws_creds_from_json(obj, &c, e));
	int rc = aws_creds_push(p, &c, e);
	aws_creds_clear(&c);
	return rc;
}

/* ---- IMDSv2 ------------------------------------------------------------- */

struct imds_body {
	struct secret *buf; /* responses carry credentials: secure memory */
	size_t len;
	bool overflow;
};

/* How an IMDS exchange ended in transport terms: fail (HTTP_FAIL_NONE
 * when a response arrived) and the client's message. */
struct imds_transport {
	enum http_fail fail;
	char msg[256];
};

/*
 * One IMDS exchange. *status is the HTTP status; t the transport result.
 * The body is NUL-terminated in b->buf.
 */
static int imds_exchange(struct aws_creds_provider *p, const char *method,
			 const char *path, struct imds_body *b, long *status,
			 struct imds_transport *t, struct err *e)
{
	char url[512], val[8200];
	snprintf(url, sizeof(url), "%s%s", p->endpoint, path);
	struct http_url u;
	TRY(http_url_parse(url, &u, e));
	struct http_client_header h;
	if (strcmp(method, "PUT") == 0) {
		snprintf(val, sizeof(val), "%d", IMDS_TOKEN_TTL);
		h = (struct http_client_header){"X-aws-ec2-metadata-token-ttl-seconds", val};
	} else {
		snprintf(val, sizeof(val), "%s",
			 p->token ? (const char *)p->token->bytes : "");
		h = (struct http_client_header){"X-aws-ec2-metadata-token", val};
	}
	struct http_client_opts o = {.connect_timeout_ms = 1000, .timeout_ms = 2000};
	struct http_client *c = http_client_new(&o, e);
	if (!c) {
		OPENSSL_cleanse(val, sizeof(val));
		return -ERR_NOMEM;
	}
	struct http_client_request r = {
		.method = method, .url = &u, .headers = &h, .n_headers = 1,
	};
	struct http_client_response resp = {0};
	buf_init(&resp.body, b->buf->len, true);
	struct err he = {0};
	int rc = http_client_send(c, &r, &resp, &he);
	OPENSSL_cleanse(val, sizeof(val));
	http_client_free(c);
	b->len = 0;
	b->overflow = resp.fail == HTTP_FAIL_TOO_LARGE;
	t->fail = rc < 0 ? resp.fail : HTTP_FAIL_NONE;
	snprintf(t->msg, sizeof(t->msg), "%s", rc < 0 ? he.msg : "");
	*status = rc < 0 ? 0 : resp.status;
	if (rc == 0) {
		memcpy(b->buf->bytes, resp.body.p ? resp.body.p : (uint8_t *)"",
		       resp.body.len);
		b->len = resp.body.len;
		b->buf->bytes[b->len] = '\0';
	}
	http_client_response_free(&resp);
	if (b->overflow)
		return err_set(e, ERR_TOO_LARGE, "IMDS %s: response too large", path);
	if (rc < 0 && t->fail == HTTP_FAIL_NONE) {
		if (e)
			*e = he;
		return rc;
	}
	return 0;
}

static int imds_fetch_token(struct aws_creds_provider *p, struct imds_body *b,
			    struct err *e)
{
	long status = 0;
	struct imds_transport t = {0};
	for (unsigned attempt = 0; attempt < IMDS_ATTEMPTS; attempt++) {
		if (attempt)
			aws_sleep_ms(aws_backoff_ms(attempt, 100, 1000));
		TRY(imds_exchange(p, "PUT", "/latest/api/token", b, &status, &t, e));
		if (t.fail == HTTP_FAIL_NONE && status < 500)
			break;
	}
	if (t.fail == HTTP_FAIL_TIMEOUT)
		return err_set(e, ERR_UNAVAILABLE,
			       "IMDSv2 token request to %s timed out: from a container "
			       "the instance needs a metadata hop limit of 2 "
			       "(HttpPutResponseHopLimit) or host networking",
			       p->endpoint);
	if (t.fail != HTTP_FAIL_NONE)
		return err_set(e, ERR_UNAVAILABLE, "IMDSv2 token request to %s: %s",
			       p->endpoint, t.msg);
	if (status == 403)
		return err_set(e, ERR_UNAVAILABLE,
			       "IMDSv2 token request refused (403): instance "
			       "metadata is disabled for this instance");
	if (status != 200 || !token_ok((const char *)b->buf->bytes, b->len))
		return err_set(e, ERR_UNAVAILABLE,
			       "IMDSv2 token request: HTTP %ld or a malformed token",
			       status);
	secret_free(p->token);
	p->token = secret_str((const char *)b->buf->bytes, b->len);
	if (!p->token)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	/* Renew a minute early so a token never dies mid-refresh. */
	p->token_expiry = p->now() + IMDS_TOKEN_TTL - 60;
	return 0;
}

/* GET with the token; a 401 (token expired or revoked) renews it once. */
static int imds_get(struct aws_creds_provider *p, const char *path,
		    struct imds_body *b, struct err *e)
{
	for (int pass = 0; pass < 2; pass++) {
		if (!p->token || p->now() >= p->token_expiry || pass == 1)
			TRY(imds_fetch_token(p, b, e));
		long status = 0;
		struct imds_transport t = {0};
		for (unsigned attempt = 0; attempt < IMDS_ATTEMPTS; attempt++) {
			if (attempt)
				aws_sleep_ms(aws_backoff_ms(attempt, 100, 1000));
			TRY(imds_exchange(p, "GET", path, b, &status, &t, e));
			if (t.fail == HTTP_FAIL_NONE && status < 500)
				break;
		}
		if (t.fail != HTTP_FAIL_NONE)
			return err_set(e, ERR_UNAVAILABLE, "IMDS GET %s: %s", path,
				       t.msg);
		if (status == 401)
			continue;
		if (status == 404)
			return err_set(e, ERR_UNAVAILABLE,
				       "IMDS GET %s: 404 (no IAM role attached to "
				       "the instance?)", path);
		if (status != 200)
			return err_set(e, ERR_UNAVAILABLE, "IMDS GET %s: HTTP %ld",
				       path, status);
		return 0;
	}
	return err_set(e, ERR_UNAVAILABLE,
		       "IMDS GET %s: 401 even with a fresh token", path);
}

static bool role_ok(const char *r, size_t n)
{
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = r[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("+=,.@_-", c)))
			return false;
	}
	return true;
}

static int imds_refresh(struct aws_creds_provider *p, struct err *e)
{
	struct imds_body b = {secret_new(IMDS_MAX_BODY), 0, false};
	if (!b.buf)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	json_t *j = NULL;
	int rc;
	const char *base = "/latest/meta-data/iam/security-credentials/";
	TRY_OUT(imds_get(p, base, &b, e));
	/* One role per instance profile; take the first line. */
	const char *txt = (const char *)b.buf->bytes;
	size_t rl = strcspn(txt, "\r\n");
	if (!role_ok(txt, rl)) {
		rc = err_set(e, ERR_UNAVAILABLE, "IMDS: malformed IAM role name");
		goto out;
	}
	memcpy(p->role, txt, rl);
	p->role[rl] = '\0';
	char path[512];
	snprintf(path, sizeof(path), "%s%s", base, p->role);
	TRY_OUT(imds_get(p, path, &b, e));
	json_error_t je;
	j = json_loadb((const char *)b.buf->bytes, b.len, JSON_REJECT_DUPLICATES,
		       &je);
	if (!j) {
		rc = err_set(e, ERR_UNAVAILABLE,
			     "IMDS: role credentials are not JSON (%s)", je.text);
		goto out;
	}
	struct aws_creds c;
	rc = aws_creds_from_json(j, &c, e);
	if (rc < 0) {
		err_prefix(e, "IMDS role %s: ", p->role);
		goto out;
	}
	if (c.expiration == 0) {
		aws_creds_clear(&c);
		rc = err_set(e, ERR_UNAVAILABLE, "IMDS role %s: no Expiration",
			     p->role);
		goto out;
	}
	aws_creds_clear(&p->cur);
	p->cur = c;
	p->have = true;
	log_debug("aws: IMDS credentials for role %s (key %s), expire in %llds",
		 p->role, c.access_key_id, (long long)(c.expiration - p->now()));
out:
	json_decref(j);
	secret_free(b.buf);
	return rc;
}

static void iso8601(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm))
		strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(out, 32, "%lld", (long long)t);
}

int aws_creds_get(struct aws_creds_provider *p, struct aws_creds *out,
		  struct err *e)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->lock);
	int rc = 0;
	time_t now = p->now();
	bool stale = !p->have || p->force_refresh ||
		     (p->cur.expiration &&
		      now >= p->cur.expiration - p->refresh_window);
	if (p->kind == AWS_CREDS_IMDS && stale) {
		struct err re = {0};
		rc = imds_refresh(p, &re);
		p->force_refresh = false;
		if (rc < 0) {
			/* Still valid: use them, say why the refresh failed. */
			if (p->have && now < p->cur.expiration) {
				log_warn("aws: credential refresh failed, using the "
					 "current ones: %s", re.msg);
				rc = 0;
			} else if (e) {
				*e = re;
			}
		}
		now = p->now();
	}
	if (rc == 0 && !p->have)
		rc = err_set(e, ERR_UNAVAILABLE,
			     p->kind == AWS_CREDS_PUSHED
				     ? "no AWS credentials pushed yet"
				     : "no AWS credentials");
	if (rc == 0 && p->cur.expiration && now >= p->cur.expiration) {
		char when[32];
		iso8601(p->cur.expiration, when);
		rc = err_set(e, ERR_UNAVAILABLE,
			     "AWS credentials (key %s) expired at %s%s",
			     p->cur.access_key_id, when,
			     p->kind == AWS_CREDS_PUSHED
				     ? ": the host must push fresh ones" : "");
	}
	if (rc == 0)
		rc = aws_creds_copy(out, &p->cur, e);
	pthread_mutex_unlock(&p->lock);
	return rc;
}
