/*
 * test_aws_sigv4.c: our SigV4 against AWS's own test suite
 * (tests/vectors/reference/sigv4/, from awslabs/aws-c-auth): for every case and
 * both signing modes, the canonical request, the string to sign and the
 * signature must equal AWS's files byte for byte, and the Authorization
 * header must equal the one in the signed request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

#define MAX_H 32

struct parsed {
	char method[16];
	char *path, *query;
	struct aws_header h[MAX_H];
	char *names[MAX_H], *values[MAX_H];
	size_t n;
	char *body;
	size_t body_len;
};

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *buf = NULL;
	size_t n = 0;
	struct err e = {0};
	if (file_read_all(path, 1 << 20, &buf, &n, &e) < 0)
		fail_msg("%s: %s", path, e.msg);
	if (len)
		*len = n;
	return buf;
}

static void parse_request(char *txt, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	char *line_end = strchr(txt, '\n');
	assert_non_null(line_end);
	*line_end = '\0';
	char *sp = strchr(txt, ' ');
	char *ver = strstr(txt, " HTTP/1.1");
	assert_non_null(sp);
	assert_non_null(ver);
	snprintf(p->method, sizeof(p->method), "%.*s", (int)(sp - txt), txt);
	*ver = '\0';
	p->path = strdup(sp + 1);
	char *q = strchr(p->path, '?');
	if (q) {
		*q = '\0';
		p->query = q + 1;
	}
	char *s = line_end + 1;
	while (*s && *s != '\n') {
		char *nl = strchr(s, '\n');
		size_t l = nl ? (size_t)(nl - s) : strlen(s);
		if ((*s == ' ' || *s == '\t') && p->n) {
			/* obs-fold: continuation of the previous header */
			char *v = p->values[p->n - 1];
			size_t vl = strlen(v);
			v = realloc(v, vl + l + 2);
			v[vl] = '\n';
			memcpy(v + vl + 1, s, l);
			v[vl + 1 + l] = '\0';
			p->values[p->n - 1] = v;
		} else {
			char *colon = memchr(s, ':', l);
			assert_non_null(colon);
			assert_true(p->n < MAX_H);
			p->names[p->n] = strndup(s, (size_t)(colon - s));
			p->values[p->n] = strndup(colon + 1, l - (size_t)(colon - s) - 1);
			p->n++;
		}
		s = nl ? nl + 1 : s + l;
	}
	if (*s == '\n') {
		p->body = s + 1;
		p->body_len = strlen(s + 1);
	}
	for (size_t i = 0; i < p->n; i++)
		p->h[i] = (struct aws_header){p->names[i], p->values[i]};
}

static void parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->names[i]);
		free(p->values[i]);
	}
	free(p->path);
}

/* The Authorization header line of a signed request, if any. */
static char *auth_line(char *signed_req)
{
	char *a = strstr(signed_req, "\nAuthorization:");
	if (!a)
		return NULL;
	a += strlen("\nAuthorization:");
	char *nl = strchr(a, '\n');
	return strndup(a, nl ? (size_t)(nl - a) : strlen(a));
}

static void check_case(const char *dir, bool query_mode)
{
	char *ctx_txt = slurp(dir, "context.json", NULL);
	json_t *ctx = json_loads(ctx_txt, 0, NULL);
	assert_non_null(ctx);
	json_t *cj = json_object_get(ctx, "credentials");
	struct aws_creds cr = {0};
	snprintf(cr.access_key_id, sizeof(cr.access_key_id), "%s",
		 json_string_value(json_object_get(cj, "access_key_id")));
	const char *sk = json_string_value(json_object_get(cj, "secret_access_key"));
	cr.secret_key = secret_from(sk, strlen(sk) + 1);
	cr.secret_key->len = strlen(sk);
	const char *tok = json_string_value(json_object_get(cj, "token"));
	if (tok) {
		cr.session_token = secret_from(tok, strlen(tok) + 1);
		cr.session_token->len = strlen(tok);
	}
	int64_t when = 0;
	assert_int_equal(aws_parse_iso8601(json_string_value(json_object_get(ctx, "timestamp")),
					   &when), 0);
	struct aws_sigv4_params p = {
		.region = json_string_value(json_object_get(ctx, "region")),
		.service = json_string_value(json_object_get(ctx, "service")),
		.when = (time_t)when,
		.creds = &cr,
		.normalize_path = json_is_true(json_object_get(ctx, "normalize")),
		.sign_body = json_is_true(json_object_get(ctx, "sign_body")),
		.omit_session_token =
			json_is_true(json_object_get(ctx, "omit_session_token")),
		.query_mode = query_mode,
		.expires = (unsigned)json_integer_value(
			json_object_get(ctx, "expiration_in_seconds")),
	};
	char *req_txt = slurp(dir, "request.txt", NULL);
	struct parsed pr;
	parse_request(req_txt, &pr);
	struct aws_sigv4_request r = {
		.method = pr.method, .path = pr.path, .query = pr.query,
		.headers = pr.h, .n_headers = pr.n,
		.body = (const uint8_t *)pr.body, .body_len = pr.body_len,
	};
	struct aws_sigv4_result res;
	struct err e = {0};
	if (aws_sigv4_sign(&r, &p, &res, &e) < 0)
		fail_msg("%s: %s", dir, e.msg);

	const char *mode = query_mode ? "query" : "header";
	char f[64];
	snprintf(f, sizeof(f), "%s-canonical-request.txt", mode);
	char *want_creq = slurp(dir, f, NULL);
	snprintf(f, sizeof(f), "%s-string-to-sign.txt", mode);
	char *want_sts = slurp(dir, f, NULL);
	snprintf(f, sizeof(f), "%s-signature.txt", mode);
	char *want_sig = slurp(dir, f, NULL);
	snprintf(f, sizeof(f), "%s-signed-request.txt", mode);
	char *signed_req = slurp(dir, f, NULL);
	if (strcmp(res.canonical_request, want_creq) != 0)
		fail_msg("%s (%s): canonical request\n--- want\n%s\n--- got\n%s", dir,
			 mode, want_creq, res.canonical_request);
	assert_string_equal(res.string_to_sign, want_sts);
	assert_string_equal(res.signature, want_sig);
	if (!query_mode) {
		char *want_auth = auth_line(signed_req);
		assert_non_null(want_auth);
		const char *got = NULL;
		for (size_t i = 0; i < res.n_add; i++)
			if (strcmp(res.add_headers[i][0], "Authorization") == 0)
				got = res.add_headers[i][1];
		assert_non_null(got);
		assert_string_equal(got, want_auth);
		free(want_auth);
	} else {
		/* Every parameter of AWS's presigned URL is in ours. */
		assert_non_null(strstr(signed_req, "X-Amz-Signature="));
		assert_non_null(strstr(res.query, want_sig));
	}
	aws_sigv4_result_free(&res);
	parsed_free(&pr);
	free(want_creq);
	free(want_sts);
	free(want_sig);
	free(signed_req);
	free(req_txt);
	free(ctx_txt);
	json_decref(ctx);
	aws_creds_clear(&cr);
}

static void for_each_case(bool query_mode)
{
	const char *ref = getenv("NS_REFERENCE_DIR");
	assert_non_null(ref);
	char root[1024];
	snprintf(root, sizeof(root), "%s/sigv4", ref);
	DIR *d = opendir(root);
	assert_non_null(d);
	struct dirent *de;
	int cases = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char dir[1400];
		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		char ctx[1500];
		snprintf(ctx, sizeof(ctx), "%s/context.json", dir);
		FILE *fp = fopen(ctx, "r");
		if (!fp)
			continue;
		fclose(fp);
		check_case(dir, query_mode);
		cases++;
	}
	closedir(d);
	/* The suite as collected has 38 cases; all must have run. */
	assert_int_equal(cases, 38);
}

static void test_sigv4_suite_header_signing_every_case(void **state)
{
	for_each_case(false);
}

static void test_sigv4_suite_query_signing_every_case(void **state)
{
	for_each_case(true);
}

static void test_sigv4_refuses_missing_credentials(void **state)
{
	struct aws_header h[] = {{"Host", "example.amazonaws.com"}};
	struct aws_sigv4_request r = {.method = "GET", .path = "/", .headers = h,
				      .n_headers = 1};
	struct aws_creds cr = {0};
	struct aws_sigv4_params p = {.region = "us-east-1", .service = "kms",
				     .when = 1440938160, .creds = &cr};
	struct aws_sigv4_result res;
	struct err e = {0};
	assert_int_equal(aws_sigv4_sign(&r, &p, &res, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "credentials"));
}

/* A one-bit change anywhere in what is signed changes the signature. */
static void test_sigv4_body_change_changes_signature(void **state)
{
	struct aws_creds cr = {0};
	snprintf(cr.access_key_id, sizeof(cr.access_key_id), "AKIDEXAMPLE");
	cr.secret_key = secret_from("secretsecret", 13);
	cr.secret_key->len = 12;
	struct aws_header h[] = {{"Host", "kms.us-east-1.amazonaws.com"},
				 {"X-Amz-Target", "TrentService.Encrypt"}};
	struct aws_sigv4_request r = {.method = "POST", .path = "/", .headers = h,
				      .n_headers = 2, .body = (const uint8_t *)"{}",
				      .body_len = 2};
	struct aws_sigv4_params p = {.region = "us-east-1", .service = "kms",
				     .when = 1440938160, .creds = &cr,
				     .normalize_path = true, .sign_body = true};
	struct aws_sigv4_result a, b;
	assert_int_equal(aws_sigv4_sign(&r, &p, &a, NULL), 0);
	r.body = (const uint8_t *)"{ ";
	assert_int_equal(aws_sigv4_sign(&r, &p, &b, NULL), 0);
	assert_string_not_equal(a.signature, b.signature);
	/* x-amz-content-sha256 is signed and sent when sign_body is set. */
	assert_non_null(strstr(a.canonical_request, "x-amz-content-sha256:"));
	aws_sigv4_result_free(&a);
	aws_sigv4_result_free(&b);
	aws_creds_clear(&cr);
}

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_suite_header_signing_every_case),
		cmocka_unit_test(test_sigv4_suite_query_signing_every_case),
		cmocka_unit_test(test_sigv4_refuses_missing_credentials),
		cmocka_unit_test(test_sigv4_body_change_changes_signature),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
