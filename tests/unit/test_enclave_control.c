/*
 * test_enclave_control.c: the enclave's control server in process, over a
 * unix socket (src/enclave/runtime.c): status before init, a garbage,
 * oversized or unknown-type frame closes only its own connection, a reply
 * is never sent to a replay of our own reply type, init with a malformed
 * schema changes nothing, a second init is refused, and the signing API
 * answers 503 until init and normally after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_enclave_common.h"

static json_t *status_msg(void)
{
	return control_msg_new(CONTROL_STATUS);
}

/* An init with no records: attests with the in-memory simulator and builds
 * a signer, without any KMS call. */
static json_t *empty_init(const struct test_enclave *t)
{
	char db[200];
	snprintf(db, sizeof(db), "sqlite:%s/slashing.db", t->dir);
	json_t *m = control_msg_new(CONTROL_INIT);
	json_t *body = json_pack(
		"{s:s,s:{s:s,s:s},s:s,s:s,s:s,s:s,s:[]}", "region", "us-east-1",
		"credentials", "AccessKeyId", "AKIDEXAMPLE0000001", "SecretAccessKey",
		"not-a-secret", "kms_endpoint", "http://127.0.0.1:1", "network",
		"mainnet", "slashing_db_url", db, "signer_id", "test-signer",
		"records");
	assert_non_null(body);
	json_object_update(m, body);
	json_decref(body);
	return m;
}

static int api_status(struct enclave *en, const char *path, char **body)
{
	struct http_handlers h = enclave_api_handlers(en);
	struct http_req req = {.method = HTTP_GET, .path = (char *)path};
	struct http_reply r = {0};
	h.handle(&req, &r, h.arg);
	*body = r.body;
	return r.status;
}

static void test_status_before_init(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int fd = host_connect(&t);
	json_t *r = host_call(fd, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	assert_int_equal(json_integer_value(json_object_get(r, "keys_loaded")), 0);
	assert_true(json_is_integer(json_object_get(r, "uptime_s")));
	assert_true(json_integer_value(json_object_get(r, "uptime_s")) >= 0);
	assert_null(json_object_get(r, "slashing")); /* no database yet */
	json_decref(r);
	/* Several requests on one connection, each answered. */
	r = host_call(fd, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

static void test_garbage_frame_closes_only_that_connection(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int good = host_connect(&t), bad = host_connect(&t);
	host_send_raw(bad, "\x00\x00\x00\x05hello", 9);
	assert_true(host_closed(bad));
	close(bad);
	json_t *r = host_call(good, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	/* A zero length and an unknown type the same way. */
	bad = host_connect(&t);
	host_send_raw(bad, "\x00\x00\x00\x00", 4);
	assert_true(host_closed(bad));
	close(bad);
	bad = host_connect(&t);
	host_send_raw(bad, "\x00\x00\x00\x10{\"type\":\"boom\"}", 20);
	assert_true(host_closed(bad));
	close(bad);
	r = host_call(good, status_msg());
	assert_non_null(json_object_get(r, "uptime_s"));
	json_decref(r);
	close(good);
	test_enclave_stop(&t);
}

static void test_oversized_frame_refused(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 1024);
	int bad = host_connect(&t);
	/* 1025 announced: refused on the length alone, before any body. */
	host_send_raw(bad, "\x00\x00\x04\x01", 4);
	assert_true(host_closed(bad));
	close(bad);
	/* Over the protocol's own cap too. */
	bad = host_connect(&t);
	host_send_raw(bad, "\x01\x00\x00\x01", 4);
	assert_true(host_closed(bad));
	close(bad);
	int good = host_connect(&t);
	json_t *r = host_call(good, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	close(good);
	test_enclave_stop(&t);
}

static void test_reply_from_host_refused(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int fd = host_connect(&t);
	json_t *r = host_call(fd, control_msg_new(CONTROL_REPLY));
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

static void test_malformed_init_changes_nothing(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int fd = host_connect(&t);
	json_t *m = empty_init(&t);
	json_object_set_new(m, "surprise", json_true());
	host_expect_refused(fd, m, "surprise");
	/* A network given as a path is refused (no file reads for the host). */
	m = empty_init(&t);
	json_object_set_new(m, "network", json_string("/etc/passwd"));
	host_expect_refused(fd, m, "network");
	/* A record of an unknown kind. */
	m = empty_init(&t);
	json_array_append_new(json_object_get(m, "records"),
			      json_pack("{s:s,s:s}", "pubkey", "0x00", "kind",
					"raw"));
	host_expect_refused(fd, m, "records[0]");
	json_t *r = host_call(fd, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

static void test_second_init_refused(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int fd = host_connect(&t);
	json_t *r = expect_ok(host_call(fd, empty_init(&t)));
	assert_int_equal(json_array_size(json_object_get(r, "keys")), 0);
	json_decref(r);
	r = host_call(fd, empty_init(&t));
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "error")),
			    "already initialised");
	json_decref(r);
	r = host_call(fd, status_msg());
	assert_true(json_is_true(json_object_get(r, "ready")));
	assert_true(json_is_true(json_object_get(json_object_get(r, "slashing"),
						 "healthy")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

static void test_api_503_until_init(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	char *body = NULL;
	assert_int_equal(api_status(t.en, "/upcheck", &body), 503);
	assert_non_null(strstr(body, "not initialised"));
	free(body);
	assert_int_equal(api_status(t.en, "/api/v1/eth2/publicKeys", &body), 503);
	free(body);
	int fd = host_connect(&t);
	json_t *r = host_call(fd, empty_init(&t));
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	assert_int_equal(api_status(t.en, "/upcheck", &body), 200);
	free(body);
	assert_int_equal(api_status(t.en, "/api/v1/eth2/publicKeys", &body), 200);
	assert_string_equal(body, "[]");
	free(body);
	close(fd);
	test_enclave_stop(&t);
}

static void test_credentials_refresh(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int fd = host_connect(&t);
	json_t *m = control_msg_new(CONTROL_CREDENTIALS);
	json_object_set_new(m, "credentials",
			    json_pack("{s:s,s:s}", "AccessKeyId", "AKIDNEW00000000001",
				      "SecretAccessKey", "s"));
	json_t *r = host_call(fd, m);
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	m = control_msg_new(CONTROL_CREDENTIALS);
	json_object_set_new(m, "credentials", json_pack("{s:s}", "AccessKeyId", "x"));
	r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

static void test_new_init_fields_validated(void **state)
{
	(void)state;
	struct {
		const char *field, *json;
	} bad[] = {
		{"kms_key_id", "{\"kms_key_id\":\"alias/tls\"}"}, /* no key_table */
		{"kms_key_id", "{\"kms_key_id\":\"\",\"key_table\":\"t\"}"},
		{"kms_key_id", "{\"kms_key_id\":7,\"key_table\":\"t\"}"},
		{"dynamodb_proxy", "{\"dynamodb_proxy\":\"tcp:127.0.0.1:8000\"}"},
		{"dynamodb_proxy", "{\"dynamodb_proxy\":\"vsock:x\"}"},
		{"dynamodb_endpoint", "{\"dynamodb_endpoint\":\"ftp://ddb\"}"},
		{"kms_endpoint", "{\"kms_endpoint\":\"kms.example\"}"},
		{"tls_names", "{\"tls_names\":[]}"},
		{"tls_names", "{\"tls_names\":\"localhost\"}"},
		{"tls_names", "{\"tls_names\":[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
			      "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\","
			      "\"a\",\"a\"]}"},
		{"tls_names[1]", "{\"tls_names\":[\"ok.example\",\"bad name\"]}"},
		{"tls_names[0]", "{\"tls_names\":[\"a..b\"]}"},
		{"tls_names[0]", "{\"tls_names\":[\"*.example\"]}"},
		{"tls_names[0]", "{\"tls_names\":[1]}"},
		{"tls_names[0]", "{\"tls_names\":[\"\"]}"},
	};
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int fd = host_connect(&t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *m = empty_init(&t);
		json_t *extra = json_loads(bad[i].json, 0, NULL);
		assert_non_null(extra);
		json_object_update(m, extra);
		json_decref(extra);
		struct err e = {0};
		assert_true(control_init_check(m, &e) < 0);
		json_t *r = host_call(fd, m);
		assert_true(json_is_false(json_object_get(r, "ok")));
		const char *why = json_string_value(json_object_get(r, "error"));
		if (!strstr(why, bad[i].field))
			fail_msg("case %zu: %s does not name %s", i, why, bad[i].field);
		assert_string_equal(why, e.msg);
		json_decref(r);
	}
	json_t *r = host_call(fd, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	/* Names alone (no kms_key_id: no TLS key) and proxies of the right
	 * kinds pass; the enclave then serves plain HTTP as before. */
	json_t *m = empty_init(&t);
	json_object_set_new(m, "tls_names", json_pack("[s,s,s,s]", "localhost",
						      "::1", "10.0.0.1",
						      "signer-1.example.org"));
	json_object_set_new(m, "dynamodb_proxy", json_string("vsock:3:8001"));
	json_object_set_new(m, "dynamodb_endpoint",
			    json_string("https://dynamodb.us-east-1.amazonaws.com"));
	r = expect_ok(host_call(fd, m));
	assert_null(json_object_get(r, "tls_cert_pem"));
	json_decref(r);
	r = host_call(fd, status_msg());
	assert_true(json_is_false(json_object_get(r, "tls")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

/*
 * What the host may not choose: outside the NSM simulator no endpoint
 * overrides and no TLS key chosen by the host; with --tls-kms-key-id the
 * host's kms_key_id must be that key, in init's region, with a key table.
 */
static void test_host_cannot_choose_endpoints_or_tls_key(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "/dev/nsm", 0); /* not the simulator */
	int fd = host_connect(&t);
	host_expect_refused(fd, empty_init(&t), "for the NSM simulator only");
	json_t *m = empty_init(&t);
	json_object_del(m, "kms_endpoint");
	json_object_set_new(m, "dynamodb_endpoint",
			    json_string("http://dynamodb.us-east-1.amazonaws.com"));
	host_expect_refused(fd, m, "for the NSM simulator only");
	m = empty_init(&t);
	json_object_del(m, "kms_endpoint");
	json_object_set_new(m, "key_table", json_string("keys"));
	json_object_set_new(m, "kms_key_id",
			    json_string("arn:aws:kms:us-east-1:111122223333:key/h"));
	host_expect_refused(fd, m, "fixed by the image (--tls-kms-key-id)");
	json_t *r = host_call(fd, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);

	static const char pinned[] =
		"arn:aws:kms:us-east-1:111122223333:key/pinned";
	struct enclave_opts o = {.nsm_spec = "sim:", .tls_kms_key_id = pinned};
	test_enclave_start_opts(&t, &o);
	fd = host_connect(&t);
	m = empty_init(&t);
	json_object_set_new(m, "key_table", json_string("keys"));
	json_object_set_new(m, "kms_key_id",
			    json_string("arn:aws:kms:us-east-1:111122223333:key/other"));
	host_expect_refused(fd, m, "is not the image's --tls-kms-key-id");
	m = empty_init(&t); /* pinned: the TLS key needs its table */
	host_expect_refused(fd, m, "\"key_table\" is required");
	m = empty_init(&t);
	json_object_set_new(m, "key_table", json_string("keys"));
	json_object_set_new(m, "region", json_string("eu-west-1"));
	host_expect_refused(fd, m, "is not the TLS key's KMS region us-east-1");
	r = host_call(fd, status_msg());
	assert_true(json_is_false(json_object_get(r, "ready")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

static void test_status_reports_credentials_expiration(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int fd = host_connect(&t);
	json_t *r = host_call(fd, status_msg());
	assert_true(json_is_null(json_object_get(r, "credentials_expiration")));
	assert_true(json_is_false(json_object_get(r, "tls")));
	json_decref(r);
	json_t *m = empty_init(&t);
	json_object_set_new(json_object_get(m, "credentials"), "Expiration",
			    json_string("2031-05-06T07:08:09Z"));
	json_decref(host_call(fd, m));
	r = host_call(fd, status_msg());
	assert_string_equal(json_string_value(json_object_get(
				    r, "credentials_expiration")),
			    "2031-05-06T07:08:09Z");
	json_decref(r);
	/* The host's refresh is visible; a refused push changes nothing. */
	m = control_msg_new(CONTROL_CREDENTIALS);
	json_object_set_new(m, "credentials",
			    json_pack("{s:s,s:s,s:s}", "AccessKeyId",
				      "AKIDNEW00000000001", "SecretAccessKey", "s",
				      "Expiration", "2031-05-06T08:08:09Z"));
	json_decref(host_call(fd, m));
	m = control_msg_new(CONTROL_CREDENTIALS);
	json_object_set_new(m, "credentials",
			    json_pack("{s:s,s:s,s:s}", "AccessKeyId",
				      "AKIDNEW00000000001", "SecretAccessKey", "s",
				      "Expiration", "tomorrow"));
	r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	r = host_call(fd, status_msg());
	assert_string_equal(json_string_value(json_object_get(
				    r, "credentials_expiration")),
			    "2031-05-06T08:08:09Z");
	json_decref(r);
	/* Without Expiration (long-term keys): null again. */
	m = control_msg_new(CONTROL_CREDENTIALS);
	json_object_set_new(m, "credentials",
			    json_pack("{s:s,s:s}", "AccessKeyId",
				      "AKIDNEW00000000001", "SecretAccessKey", "s"));
	json_decref(host_call(fd, m));
	r = host_call(fd, status_msg());
	assert_true(json_is_null(json_object_get(r, "credentials_expiration")));
	json_decref(r);
	close(fd);
	test_enclave_stop(&t);
}

/*
 * Two hosts each hold most of a 16 MiB init frame (the control connections'
 * buffer budget is two frames); a third sends an init: its connection grows
 * the total past the budget, but it is not closed, since the worker answers
 * on it. It gets its reply; one of the hoarders is closed instead later.
 */
static void test_buffer_budget_never_closes_a_busy_connection(void **state)
{
	(void)state;
	struct test_enclave t;
	test_enclave_start(&t, "sim:", 0);
	int hoard[2];
	size_t frame = CONTROL_MAX_FRAME;
	size_t part = frame - 1024;
	char *body = malloc(part);
	assert_non_null(body);
	memset(body, ' ', part);
	memcpy(body, "{\"type\":\"init\",\"pad\":\"", 22);
	for (int i = 0; i < 2; i++) {
		hoard[i] = host_connect(&t);
		uint8_t hdr[4] = {(uint8_t)(frame >> 24), (uint8_t)(frame >> 16),
				  (uint8_t)(frame >> 8), (uint8_t)frame};
		host_send_raw(hoard[i], hdr, 4);
		host_send_raw(hoard[i], body, part);
	}
	free(body);
	/* let the enclave read the hoards */
	int probe = host_connect(&t);
	json_decref(expect_ok(host_call(probe, status_msg())));
	close(probe);
	int fd = host_connect(&t);
	json_t *r = host_call(fd, empty_init(&t));
	assert_non_null(r); /* a reply, not a closed connection */
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	close(fd);
	close(hoard[0]);
	close(hoard[1]);
	test_enclave_stop(&t);
}

int main(void)
{
	secret_init();
	log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_before_init),
		cmocka_unit_test(test_garbage_frame_closes_only_that_connection),
		cmocka_unit_test(test_oversized_frame_refused),
		cmocka_unit_test(test_reply_from_host_refused),
		cmocka_unit_test(test_malformed_init_changes_nothing),
		cmocka_unit_test(test_second_init_refused),
		cmocka_unit_test(test_api_503_until_init),
		cmocka_unit_test(test_credentials_refresh),
		cmocka_unit_test(test_new_init_fields_validated),
		cmocka_unit_test(test_status_reports_credentials_expiration),
		cmocka_unit_test(test_host_cannot_choose_endpoints_or_tls_key),
		cmocka_unit_test(test_buffer_budget_never_closes_a_busy_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
