/* test_http.c: listen addresses, the Accept rule, content types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/vm_sockets.h>
#include <string.h>

#include "http/http.h"

static void test_addr_parse_three_transports(void **state)
{
	struct http_addr a;
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:9000", &a, NULL), 0);
	assert_int_equal(a.kind, HTTP_ADDR_TCP);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 9000);
	assert_int_equal(http_addr_parse("tcp:[::1]:443", &a, NULL), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(http_addr_parse("unix:/run/signer.sock", &a, NULL), 0);
	assert_int_equal(a.kind, HTTP_ADDR_UNIX);
	assert_string_equal(a.path, "/run/signer.sock");
	assert_int_equal(http_addr_parse("vsock:ANY:9000", &a, NULL), 0);
	assert_int_equal(a.kind, HTTP_ADDR_VSOCK);
	assert_int_equal(a.cid, VMADDR_CID_ANY);
	assert_int_equal(http_addr_parse("vsock:16:5000", &a, NULL), 0);
	assert_int_equal(a.cid, 16);
}

static void test_addr_parse_refuses_garbage(void **state)
{
	struct http_addr a;
	const char *bad[] = {"127.0.0.1:9000", "tcp:127.0.0.1", "tcp::9000",
			     "tcp:h:65536", "tcp:h:-1", "tcp:h:09", "unix:",
			     "vsock:x:1", "vsock:4294967296:1", "udp:h:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(http_addr_parse(bad[i], &a, NULL) < 0);
}

static void test_addr_format_round_trips(void **state)
{
	const char *in[] = {"tcp:127.0.0.1:9000", "tcp:[::1]:443",
			    "unix:/run/signer.sock", "vsock:16:5000"};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct http_addr a;
		char out[300];
		assert_int_equal(http_addr_parse(in[i], &a, NULL), 0);
		http_addr_format(&a, out, sizeof(out));
		assert_string_equal(out, in[i]);
	}
	struct http_addr a;
	char url[300];
	assert_int_equal(http_addr_parse("tcp:[::1]:443", &a, NULL), 0);
	http_addr_describe(&a, true, url, sizeof(url));
	assert_string_equal(url, "https://[::1]:443");
}

static void test_accept_rule_matches_web3signer(void **state)
{
	assert_false(http_accept_wants_json(NULL));
	assert_false(http_accept_wants_json(""));
	assert_false(http_accept_wants_json("text/plain"));
	assert_false(http_accept_wants_json("text/*"));
	assert_false(http_accept_wants_json("application/*"));
	assert_false(http_accept_wants_json("application/jsonx"));
	assert_true(http_accept_wants_json("application/json"));
	assert_true(http_accept_wants_json("APPLICATION/JSON"));
	assert_true(http_accept_wants_json("*/*"));
	assert_true(http_accept_wants_json("application/json;q=0"));
	assert_true(http_accept_wants_json("text/plain, application/json; charset=utf-8"));
	assert_true(http_accept_wants_json("text/html,  */*;q=0.8"));
}

static void test_content_type_json_only(void **state)
{
	assert_true(http_content_type_is_json("application/json"));
	assert_true(http_content_type_is_json("application/json; charset=UTF-8"));
	assert_true(http_content_type_is_json("Application/JSON"));
	assert_false(http_content_type_is_json(NULL));
	assert_false(http_content_type_is_json("text/plain"));
	assert_false(http_content_type_is_json("application/x-www-form-urlencoded"));
	assert_false(http_content_type_is_json("application/json-patch+json"));
	assert_false(http_content_type_is_json("multipart/form-data"));
}

static void test_tls_config_needs_one_client_mode(void **state)
{
	struct http_tls_config c = {.keystore_file = "x.p12",
				    .keystore_password_file = "x.txt"};
	SSL_CTX *ctx = NULL;
	struct err e = {0};
	assert_int_equal(http_tls_server_ctx(&c, &ctx, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "--tls-allow-any-client"));
	c.allow_any_client = true;
	c.known_clients_file = "k.txt";
	assert_int_equal(http_tls_server_ctx(&c, &ctx, &e), -ERR_USAGE);
	assert_null(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_three_transports),
		cmocka_unit_test(test_addr_parse_refuses_garbage),
		cmocka_unit_test(test_addr_format_round_trips),
		cmocka_unit_test(test_accept_rule_matches_web3signer),
		cmocka_unit_test(test_content_type_json_only),
		cmocka_unit_test(test_tls_config_needs_one_client_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
