/*
 * sigv4.c: AWS Signature Version 4 (AWS4-HMAC-SHA256).
 *
 * Builds the canonical request (method, URI-encoded and optionally
 * normalised path, sorted query, lower-cased and whitespace-folded headers,
 * signed-header list, payload hash), the string to sign, the derived
 * signing key and the signature, for header signing (Authorization) and for
 * query signing (presigned URLs). The rules are those of AWS's published
 * test suite (tests/vectors/reference/sigv4/, every case checked in
 * tests/unit/test_aws_sigv4.c). The secret key only touches HMAC inputs in
 * secure memory and stack buffers that are cleansed.
 */
#include "aws_internal.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define MAX_PARAMS 256
#define MAX_HEADERS 64

void aws_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	SHA256(data, len, d);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* RFC 3986 encoding as SigV4 wants it: upper-case %XX, '/' kept if asked. */
static void uri_encode(struct buf *b, const char *s, size_t n, bool keep_slash)
{
	static const char HEX[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			buf_putc(b, (char)c);
		} else {
			char esc[3] = {'%', HEX[c >> 4], HEX[c & 15]};
			buf_text(b, esc, 3);
		}
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decoding of a query component; invalid escapes stay literal. */
static char *uri_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n &&
		    (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- canonical URI ----------------------------------------------------- */

/* Removes "." and ".." segments and empty segments; keeps a trailing '/'. */
static void canonical_path(struct buf *b, const char *path, bool normalize)
{
	if (!path || !*path)
		path = "/";
	if (!normalize) {
		uri_encode(b, path, strlen(path), true);
		return;
	}
	const char *seg[MAX_PARAMS];
	size_t seglen[MAX_PARAMS], n = 0;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t l = (size_t)(p - s);
		if (l == 0 || (l == 1 && s[0] == '.'))
			continue;
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			if (n)
				n--;
			continue;
		}
		if (n < MAX_PARAMS) {
			seg[n] = s;
			seglen[n++] = l;
		}
	}
	size_t plen = strlen(path);
	bool trailing = plen > 0 && path[plen - 1] == '/';
	buf_putc(b, '/');
	for (size_t i = 0; i < n; i++) {
		uri_encode(b, seg[i], seglen[i], false);
		if (i + 1 < n || trailing)
			buf_putc(b, '/');
	}
}

/* ---- canonical query --------------------------------------------------- */

struct param {
	char *key; /* encoded */
	char *val; /* encoded */
};

static int param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->val, y->val);
}

static int param_add_raw(struct param *ps, size_t *n, const char *k, size_t kl,
			 const char *v, size_t vl)
{
	if (*n >= MAX_PARAMS)
		return -ERR_TOO_LARGE;
	struct buf kb = BUF_INIT(AWS_TEXT_MAX), vb = BUF_INIT(AWS_TEXT_MAX);
	uri_encode(&kb, k, kl, false);
	uri_encode(&vb, v, vl, false);
	char *ke = buf_take_str(&kb), *ve = buf_take_str(&vb);
	if (!ke || !ve) {
		free(ke);
		free(ve);
		return -ERR_NOMEM;
	}
	ps[*n].key = ke;
	ps[*n].val = ve;
	(*n)++;
	return 0;
}

static int param_add(struct param *ps, size_t *n, const char *k, const char *v)
{
	return param_add_raw(ps, n, k, strlen(k), v, strlen(v));
}

static int parse_query(const char *q, struct param *ps, size_t *n)
{
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t l = amp ? (size_t)(amp - q) : strlen(q);
		if (l) {
			const char *eq = memchr(q, '=', l);
			size_t kl = eq ? (size_t)(eq - q) : l;
			char *k = uri_decode(q, kl);
			char *v = eq ? uri_decode(eq + 1, l - kl - 1) : strdup("");
			int rc = (k && v) ? param_add(ps, n, k, v) : -ERR_NOMEM;
			free(k);
			free(v);
			if (rc < 0)
				return rc;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

static void join_params(struct buf *b, const struct param *ps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, '&');
		buf_printf(b, "%s=%s", ps[i].key, ps[i].val);
	}
}

/* ---- canonical headers -------------------------------------------------- */

struct hdr {
	char *name;  /* lower case */
	char *value; /* trimmed, whitespace runs folded to one space */
	size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static char *fold_value(const char *v)
{
	size_t n = strlen(v);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	bool space = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o > 0;
			continue;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static int hdr_add(struct hdr *hs, size_t *n, const char *name,
		   const char *value)
{
	if (*n >= MAX_HEADERS)
		return -ERR_TOO_LARGE;
	char *nm = strdup(name), *v = fold_value(value);
	if (!nm || !v) {
		free(nm);
		free(v);
		return -ERR_NOMEM;
	}
	for (char *c = nm; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	hs[*n] = (struct hdr){nm, v, *n};
	(*n)++;
	return 0;
}

/* Writes "name:v1,v2\n" lines and the signed-header list. */
static void canonical_headers(struct hdr *hs, size_t n, struct buf *lines,
			      struct buf *signed_list)
{
	qsort(hs, n, sizeof(*hs), hdr_cmp);
	for (size_t i = 0; i < n; i++) {
		bool same = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
		if (same) {
			buf_putc(lines, ',');
		} else {
			if (i > 0)
				buf_putc(lines, '\n');
			buf_printf(lines, "%s:", hs[i].name);
			if (signed_list->len)
				buf_putc(signed_list, ';');
			buf_puts(signed_list, hs[i].name);
		}
		buf_puts(lines, hs[i].value);
	}
	if (n)
		buf_putc(lines, '\n');
}

/* ---- key derivation and signature ------------------------------------- */

static int hmac(const uint8_t *key, size_t klen, const char *msg,
		uint8_t out[32])
{
	unsigned int olen = 0;
	if (!HMAC(EVP_sha256(), key, (int)klen, (const uint8_t *)msg,
		  strlen(msg), out, &olen) ||
	    olen != 32)
		return -ERR_CRYPTO;
	return 0;
}

static int sign_string(const struct aws_sigv4_params *p, const char *date,
		       const char *sts, char sig_hex[65], struct err *e)
{
	const struct secret *sk = p->creds->secret_key;
	size_t sklen = sk->len; /* the bytes are not a C string to trust */
	struct secret *k0 = secret_new(4 + sklen);
	if (!k0)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	memcpy(k0->bytes, "AWS4", 4);
	memcpy(k0->bytes + 4, sk->bytes, sklen);
	uint8_t k[32], sig[32];
	int rc = hmac(k0->bytes, 4 + sklen, date, k);
	secret_free(k0);
	if (rc == 0)
		rc = hmac(k, 32, p->region, k);
	if (rc == 0)
		rc = hmac(k, 32, p->service, k);
	if (rc == 0)
		rc = hmac(k, 32, "aws4_request", k);
	if (rc == 0)
		rc = hmac(k, 32, sts, sig);
	OPENSSL_cleanse(k, sizeof(k));
	if (rc < 0)
		return err_set(e, ERR_CRYPTO, "SigV4: HMAC failed");
	for (int i = 0; i < 32; i++)
		snprintf(sig_hex + 2 * i, 3, "%02x", sig[i]);
	return 0;
}

/* ---- the whole signature ------------------------------------------------ */

struct sign_state {
	struct param params[MAX_PARAMS];
	size_t n_params;
	struct hdr hdrs[MAX_HEADERS];
	size_t n_hdrs;
};

static void state_free(struct sign_state *s)
{
	for (size_t i = 0; i < s->n_params; i++) {
		free(s->params[i].key);
		free(s->params[i].val);
	}
	for (size_t i = 0; i < s->n_hdrs; i++) {
		free(s->hdrs[i].name);
		free(s->hdrs[i].value);
	}
	free(s);
}

static int add_result_header(struct aws_sigv4_result *out, const char *name,
			     const char *value)
{
	if (out->n_add >= AWS_SIGV4_MAX_ADD)
		return -ERR_INTERNAL;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -ERR_NOMEM;
	}
	out->add_headers[out->n_add][0] = n;
	out->add_headers[out->n_add][1] = v;
	out->n_add++;
	return 0;
}

static int check_params(const struct aws_sigv4_params *p, struct err *e)
{
	if (!p->creds || !p->creds->secret_key || !p->creds->access_key_id[0])
		return err_set(e, ERR_INVALID, "SigV4: no credentials");
	if (!p->region || !*p->region || !p->service || !*p->service)
		return err_set(e, ERR_INVALID, "SigV4: region and service are required");
	return 0;
}

static int collect(const struct aws_sigv4_request *r,
		   const struct aws_sigv4_params *p, struct sign_state *s,
		   const char *amz_date, const char *scope,
		   const char *payload_hash, bool with_token)
{
	for (size_t i = 0; i < r->n_headers; i++)
		TRY(hdr_add(s->hdrs, &s->n_hdrs, r->headers[i].name,
			    r->headers[i].value));
	TRY(parse_query(r->query, s->params, &s->n_params));
	const char *token = p->creds->session_token
		? (const char *)p->creds->session_token->bytes : NULL;
	if (!p->query_mode) {
		TRY(hdr_add(s->hdrs, &s->n_hdrs, "x-amz-date", amz_date));
		if (token && with_token)
			TRY(hdr_add(s->hdrs, &s->n_hdrs, "x-amz-security-token",
				    token));
		if (p->sign_body)
			TRY(hdr_add(s->hdrs, &s->n_hdrs, "x-amz-content-sha256",
				    payload_hash));
		return 0;
	}
	/* Query mode: the signed-header list must be known before the query
	 * is canonical, so compute it from the request headers alone. */
	struct buf lines = BUF_INIT(AWS_TEXT_MAX), list = BUF_INIT(AWS_TEXT_MAX);
	canonical_headers(s->hdrs, s->n_hdrs, &lines, &list);
	buf_free(&lines);
	char *signed_list = buf_take_str(&list);
	if (!signed_list)
		return -ERR_NOMEM;
	char cred[AWS_AKID_MAX + 300], expires[16];
	snprintf(cred, sizeof(cred), "%s/%s", p->creds->access_key_id, scope);
	snprintf(expires, sizeof(expires), "%u", p->expires ? p->expires : 3600);
	int rc = param_add(s->params, &s->n_params, "X-Amz-Algorithm", ALGORITHM);
	if (rc == 0)
		rc = param_add(s->params, &s->n_params, "X-Amz-Credential", cred);
	if (rc == 0)
		rc = param_add(s->params, &s->n_params, "X-Amz-Date", amz_date);
	if (rc == 0)
		rc = param_add(s->params, &s->n_params, "X-Amz-Expires", expires);
	if (rc == 0)
		rc = param_add(s->params, &s->n_params, "X-Amz-SignedHeaders",
			       signed_list);
	if (rc == 0 && token && with_token)
		rc = param_add(s->params, &s->n_params, "X-Amz-Security-Token",
			       token);
	free(signed_list);
	return rc;
}

int aws_sigv4_sign(const struct aws_sigv4_request *r,
		   const struct aws_sigv4_params *p,
		   struct aws_sigv4_result *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	TRY(check_params(p, e));
	char amz_date[20], date[10], scope[256], payload_hash[65];
	struct tm tm;
	if (!gmtime_r(&p->when, &tm) ||
	    !strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm))
		return err_set(e, ERR_INVALID, "SigV4: bad time");
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, p->region,
		 p->service);
	aws_sha256_hex(r->body ? (const void *)r->body : "", r->body_len,
		       payload_hash);
	bool with_token = !p->omit_session_token;

	struct sign_state *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	struct buf creq = BUF_INIT(AWS_TEXT_MAX), lines = BUF_INIT(AWS_TEXT_MAX), list = BUF_INIT(AWS_TEXT_MAX), query = BUF_INIT(AWS_TEXT_MAX), sts = BUF_INIT(AWS_TEXT_MAX);
	int rc = collect(r, p, s, amz_date, scope, payload_hash, with_token);
	if (rc < 0) {
		rc = err_set(e, -rc, "SigV4: %s", rc == -ERR_TOO_LARGE
				     ? "too many headers or query parameters"
				     : "out of memory");
		goto out;
	}
	qsort(s->params, s->n_params, sizeof(*s->params), param_cmp);
	join_params(&query, s->params, s->n_params);
	canonical_headers(s->hdrs, s->n_hdrs, &lines, &list);

	buf_printf(&creq, "%s\n", r->method);
	canonical_path(&creq, r->path, p->normalize_path);
	buf_printf(&creq, "\n%s\n", buf_str(&query));
	buf_puts(&creq, buf_str(&lines));
	buf_printf(&creq, "\n%s\n%s", buf_str(&list), payload_hash);
	if (creq.failed || lines.failed || list.failed || query.failed) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	char creq_hash[65];
	aws_sha256_hex(creq.p, creq.len, creq_hash);
	buf_printf(&sts, ALGORITHM "\n%s\n%s\n%s", amz_date, scope, creq_hash);
	out->canonical_request = buf_take_str(&creq);
	out->string_to_sign = buf_take_str(&sts);
	if (!out->canonical_request || !out->string_to_sign) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	TRY_OUT(sign_string(p, date, out->string_to_sign, out->signature, e));
	rc = 0;
	const char *token = p->creds->session_token
		? (const char *)p->creds->session_token->bytes : NULL;
	if (p->query_mode) {
		struct buf q = BUF_INIT(AWS_TEXT_MAX);
		buf_puts(&q, buf_str(&query));
		if (token && !with_token) {
			buf_puts(&q, "&X-Amz-Security-Token=");
			uri_encode(&q, token, strlen(token), false);
		}
		buf_printf(&q, "&X-Amz-Signature=%s", out->signature);
		out->query = buf_take_str(&q);
		if (!out->query)
			rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	struct buf auth = BUF_INIT(AWS_TEXT_MAX);
	buf_printf(&auth,
		    ALGORITHM " Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		    p->creds->access_key_id, scope, buf_str(&list), out->signature);
	char *auth_s = buf_take_str(&auth);
	if (!auth_s ||
	    add_result_header(out, "X-Amz-Date", amz_date) < 0 ||
	    (token && add_result_header(out, "X-Amz-Security-Token", token) < 0) ||
	    (p->sign_body &&
	     add_result_header(out, "X-Amz-Content-Sha256", payload_hash) < 0) ||
	    add_result_header(out, "Authorization", auth_s) < 0)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	free(auth_s);
out:
	buf_free(&creq);
	buf_free(&lines);
	buf_free(&list);
	buf_free(&query);
	buf_free(&sts);
	state_free(s);
	if (rc < 0)
		aws_sigv4_result_free(out);
	return rc;
}

void aws_sigv4_result_free(struct aws_sigv4_result *r)
{
	free(r->canonical_request);
	free(r->string_to_sign);
	free(r->query);
	for (size_t i = 0; i < r->n_add; i++) {
		/* The session token is a credential: wipe our copy. */
		if (r->add_headers[i][1])
			OPENSSL_cleanse(r->add_headers[i][1],
					strlen(r->add_headers[i][1]));
		free(r->add_headers[i][0]);
		free(r->add_headers[i][1]);
	}
	memset(r, 0, sizeof(*r));
}
