/*
 * test_host_config.c: the YAML config of `nitro-host run` (src/host/
 * config.c): a full good config, defaults, and each refusal (unknown key,
 * wrong type, missing field, bad address) as one line naming the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "host/host.h"

static const char GOOD[] =
	"region: eu-west-1\n"
	"signer_id: s1\n"
	"key_table: keys\n"
	"credentials: env\n"
	"control: unix:/tmp/c.sock\n"
	"api_listen: tcp:127.0.0.1:9443\n"
	"runner:\n"
	"  type: local\n"
	"  command: [/bin/enclave, --x, 'a b']\n"
	"restart: {max_backoff_s: 30}\n"
	"proxies:\n"
	"  - {listen: 'unix:/tmp/p.sock', connect: 'tcp:127.0.0.1:9000'}\n"
	"  - listen: vsock:ANY:8000\n"
	"    connect: unix:/tmp/k.sock\n";

static void test_good(void **state)
{
	struct host_config c;
	struct err e = {0};
	assert_int_equal(host_config_parse(GOOD, strlen(GOOD), &c, &e), 0);
	assert_string_equal(c.region, "eu-west-1");
	assert_string_equal(c.signer_id, "s1");
	assert_string_equal(c.key_table, "keys");
	assert_int_equal(c.credentials, HOST_CREDS_ENV);
	assert_int_equal(c.runner, HOST_RUNNER_LOCAL);
	assert_int_equal(c.ncommand, 3);
	assert_string_equal(c.command[2], "a b");
	assert_null(c.command[3]);
	assert_int_equal(c.control.kind, HTTP_ADDR_UNIX);
	assert_string_equal(c.control.path, "/tmp/c.sock");
	assert_true(c.has_api_listen);
	assert_int_equal(c.api_listen.port, 9443);
	assert_int_equal(c.max_backoff_s, 30);
	assert_int_equal(c.nproxies, 2);
	assert_int_equal(c.proxies[0].connect.kind, HTTP_ADDR_TCP);
	assert_int_equal(c.proxies[1].listen.kind, HTTP_ADDR_VSOCK);
	host_config_free(&c);
}

static void test_defaults_and_nitro_cli(void **state)
{
	static const char y[] =
		"region: r\nsigner_id: s\nkey_table: t\ncontrol: vsock:16:5000\n"
		"runner: {type: nitro-cli, eif_path: /x.eif, cpu_count: 2, "
		"memory_mib: 2048, cid: 16}\n";
	struct host_config c;
	struct err e = {0};
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), 0);
	assert_int_equal(c.runner, HOST_RUNNER_NITRO_CLI);
	assert_int_equal(c.credentials, HOST_CREDS_IMDS);
	assert_int_equal(c.max_backoff_s, HOST_DEFAULT_MAX_BACKOFF_S);
	assert_int_equal(c.nproxies, 0);
	assert_false(c.has_api_listen);
	/* the runner itself is not implemented: host_run says so, exit 2 */
	assert_int_equal(host_run(&c), 2);
	host_config_free(&c);
}

/* GOOD with `from` replaced by `to`; must fail naming `want`, one line. */
static void expect_bad(const char *from, const char *to, const char *want)
{
	char y[2048];
	const char *p = strstr(GOOD, from);
	assert_non_null(p);
	snprintf(y, sizeof(y), "%.*s%s%s", (int)(p - GOOD), GOOD, to,
		 p + strlen(from));
	struct host_config c;
	struct err e = {0};
	int rc = host_config_parse(y, strlen(y), &c, &e);
	if (rc != -ERR_INVALID || !strstr(e.msg, want))
		fail_msg("'%s' -> rc %d msg '%s' (want '%s')", to, rc, e.msg,
			 want);
	assert_null(strchr(e.msg, '\n'));
	assert_null(c.region);
}

static void test_unknown_keys(void **state)
{
	expect_bad("region: eu-west-1\n", "region: eu-west-1\nregoin: x\n",
		   "config: regoin: unknown key");
	expect_bad("  type: local\n", "  type: local\n  cmd: [x]\n",
		   "config: runner.cmd: unknown key");
	expect_bad("{max_backoff_s: 30}", "{max_backoff: 30}",
		   "config: restart.max_backoff: unknown key");
	expect_bad("connect: 'tcp:127.0.0.1:9000'}",
		   "connect: 'tcp:127.0.0.1:9000', allow: x}",
		   "config: proxies[0].allow: unknown key");
	expect_bad("  type: local\n", "  type: local\n  eif_path: /x\n",
		   "config: runner: eif_path");
	expect_bad("region: eu-west-1\n", "region: eu-west-1\nregion: x\n",
		   "config: region: given twice");
}

static void test_wrong_types(void **state)
{
	expect_bad("region: eu-west-1", "region: [a, b]",
		   "config: region: expected a string");
	expect_bad("command: [/bin/enclave, --x, 'a b']",
		   "command: /bin/enclave",
		   "config: runner.command: expected a list of strings");
	expect_bad("command: [/bin/enclave, --x, 'a b']",
		   "command: [/bin/enclave, {a: b}]",
		   "config: runner.command: expected a string");
	expect_bad("{max_backoff_s: 30}", "{max_backoff_s: soon}",
		   "config: restart.max_backoff_s: expected a whole number");
	expect_bad("{max_backoff_s: 30}", "{max_backoff_s: 0}",
		   "config: restart.max_backoff_s: expected a whole number");
	expect_bad("credentials: env", "credentials: file",
		   "config: credentials: 'file' is not env or imds");
	expect_bad("  type: local", "  type: docker",
		   "config: runner.type: 'docker' is not local or nitro-cli");
	expect_bad("proxies:\n", "proxies: unix:/x\nx:\n",
		   "config: proxies: expected a list");
	expect_bad("runner:\n  type: local", "runner: local\nz:\n  type: local",
		   "config: runner: expected a mapping");
}

static void test_missing(void **state)
{
	expect_bad("region: eu-west-1\n", "", "config: region: required");
	expect_bad("signer_id: s1\n", "", "config: signer_id: required");
	expect_bad("key_table: keys\n", "", "config: key_table: required");
	expect_bad("control: unix:/tmp/c.sock\n", "", "config: control: required");
	expect_bad("  command: [/bin/enclave, --x, 'a b']\n", "",
		   "config: runner.command: required");
	expect_bad("{listen: 'unix:/tmp/p.sock', ", "{",
		   "config: proxies[0]: listen: required");
	expect_bad(", connect: 'tcp:127.0.0.1:9000'}", "}",
		   "config: proxies[0]: connect: required");
	struct host_config c;
	struct err e = {0};
	assert_int_equal(host_config_parse("", 0, &c, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "config: empty"));
	assert_int_equal(host_config_parse("a: [", 4, &c, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "config: YAML: "));
	assert_int_equal(host_config_parse("- a\n", 4, &c, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "expected a mapping"));
}

static void test_bad_addresses(void **state)
{
	expect_bad("control: unix:/tmp/c.sock", "control: tcp:nowhere",
		   "config: control: ");
	expect_bad("control: unix:/tmp/c.sock", "control: vsock:ANY:5000",
		   "config: control: vsock CID ANY");
	expect_bad("api_listen: tcp:127.0.0.1:9443", "api_listen: http://x",
		   "config: api_listen: ");
	expect_bad("listen: 'unix:/tmp/p.sock'", "listen: 'bogus:1'",
		   "config: proxies[0].listen: ");
	expect_bad("connect: unix:/tmp/k.sock", "connect: vsock:ANY:1",
		   "config: proxies[1].connect: vsock CID ANY");
}

static void test_load_missing_file(void **state)
{
	struct host_config c;
	struct err e = {0};
	assert_int_equal(host_config_load("/nonexistent/c.yaml", &c, &e),
			 -ERR_IO);
	assert_non_null(strstr(e.msg, "/nonexistent/c.yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults_and_nitro_cli),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_load_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
