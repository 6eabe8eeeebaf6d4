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
	json_t *r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
			       "surprise"));
	json_decref(r);
	/* A network given as a path is refused (no file reads for the host). */
	m = empty_init(&t);
	json_object_set_new(m, "network", json_string("/etc/passwd"));
	r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);
	/* A record of an unknown kind. */
	m = empty_init(&t);
	json_array_append_new(json_object_get(m, "records"),
			      json_pack("{s:s,s:s}", "pubkey", "0x00", "kind",
					"raw"));
	r = host_call(fd, m);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
			       "records[0]"));
	json_decref(r);
	r = host_call(fd, status_msg());
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
	json_t *r = host_call(fd, empty_init(&t));
	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("init: %s", json_string_value(json_object_get(r, "error")));
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
