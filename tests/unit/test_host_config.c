/*
 * test_host_config.c: the YAML config of `nitro-host run` (src/host/
 * config.c): a full good config (every watchdog field), defaults, the
 * nitro-cli runner's fields, and each refusal (unknown key, wrong type,
 * missing field, bad address, bad endpoint URL, tcp: enclave proxy) as one
 * line naming the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
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
	"kms_key_id: arn:aws:kms:eu-west-1:1:key/k\n"
	"credentials_refresh_s: 120\n"
	"status_interval_s: 5\n"
	"key_table_poll_s: 7\n"
	"tls_cert_file: /tmp/tls.crt\n"
	"health_listen: tcp:127.0.0.1:9100\n"
	"endpoints:\n"
	"  kms: http://127.0.0.1:1001\n"
	"  dynamodb: http://127.0.0.1:1002\n"
	"  imds: http://127.0.0.1:1003\n"
	"enclave:\n"
	"  network: hoodi\n"
	"  slashing_db_url: sqlite:/tmp/s.db\n"
	"  kms_proxy: unix:/tmp/kms.sock\n"
	"  dynamodb_proxy: vsock:3:8001\n"
	"  tls_names: [localhost, 127.0.0.1]\n"
	"proxies:\n"
	"  - {listen: 'unix:/tmp/p.sock', connect: 'tcp:127.0.0.1:9000'}\n"
	"  - listen: vsock:ANY:8000\n"
	"    connect: unix:/tmp/k.sock\n"
	"    allow: ['kms.eu-west-1.amazonaws.com:443']\n"
	"    max_connections: 16\n"
	"    idle_timeout_s: 30\n";

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
	assert_int_equal(c.proxies[0].nallow, 0);
	assert_int_equal(c.proxies[1].nallow, 1);
	assert_string_equal(c.proxies[1].allow[0].host,
			    "kms.eu-west-1.amazonaws.com");
	assert_int_equal(c.proxies[1].allow[0].port, 443);
	assert_int_equal(c.proxies[1].max_connections, 16);
	assert_int_equal(c.proxies[1].idle_timeout_s, 30);
	assert_string_equal(c.kms_key_id, "arn:aws:kms:eu-west-1:1:key/k");
	assert_int_equal(c.credentials_refresh_s, 120);
	assert_int_equal(c.status_interval_s, 5);
	assert_int_equal(c.key_table_poll_s, 7);
	assert_string_equal(c.tls_cert_file, "/tmp/tls.crt");
	assert_true(c.has_health_listen);
	assert_int_equal(c.health_listen.port, 9100);
	assert_string_equal(c.endpoint_kms, "http://127.0.0.1:1001");
	assert_string_equal(c.endpoint_dynamodb, "http://127.0.0.1:1002");
	assert_string_equal(c.endpoint_imds, "http://127.0.0.1:1003");
	assert_string_equal(c.network, "hoodi");
	assert_string_equal(c.slashing_db_url, "sqlite:/tmp/s.db");
	assert_string_equal(c.kms_proxy, "unix:/tmp/kms.sock");
	assert_string_equal(c.dynamodb_proxy, "vsock:3:8001");
	assert_int_equal(c.ntls_names, 2);
	assert_string_equal(c.tls_names[1], "127.0.0.1");
	host_config_free(&c);
}

static void test_defaults_and_nitro_cli(void **state)
{
	static const char y[] =
		"region: r\nsigner_id: s\nkey_table: t\ncontrol: vsock:16:5000\n"
		"enclave: {network: mainnet, slashing_db_url: 'sqlite:/s.db', "
		"volatile_slashing_db: true}\n"
		"runner: {type: nitro-cli, eif_path: /x.eif, cpu_count: 2, "
		"memory_mib: 2048, cid: 16}\n";
	struct host_config c;
	struct err e = {0};
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), 0);
	assert_int_equal(c.runner, HOST_RUNNER_NITRO_CLI);
	assert_string_equal(c.nitro.eif_path, "/x.eif");
	assert_int_equal(c.nitro.cpu_count, 2);
	assert_int_equal(c.nitro.memory_mib, 2048);
	assert_int_equal(c.nitro.cid, 16);
	assert_string_equal(c.nitro.nitro_cli, "nitro-cli");
	assert_false(c.nitro.debug_mode);
	assert_int_equal(c.credentials, HOST_CREDS_IMDS);
	assert_int_equal(c.max_backoff_s, HOST_DEFAULT_MAX_BACKOFF_S);
	assert_int_equal(c.status_interval_s, 10);
	assert_int_equal(c.key_table_poll_s, 60);
	assert_int_equal(c.credentials_refresh_s, 300);
	assert_int_equal(c.nproxies, 0);
	assert_false(c.has_api_listen);
	assert_false(c.has_health_listen);
	assert_null(c.kms_key_id);
	assert_null(c.endpoint_kms);
	assert_null(c.kms_proxy);
	assert_int_equal(c.ntls_names, 0);
	assert_null(c.tls_cert_file);
	host_config_free(&c);
}

/* An enclave's sqlite: database is in enclave memory: refused with the
 * nitro-cli runner unless acknowledged; fine with the local runner. */
static void test_volatile_slashing_db(void **state)
{
	(void)state;
	static const char head[] =
		"region: r\nsigner_id: s\nkey_table: t\ncontrol: vsock:16:5000\n";
	static const char nitro[] = "runner: {type: nitro-cli, eif_path: /x.eif, "
				    "cpu_count: 2, memory_mib: 512, cid: 7}\n";
	char y[1024];
	struct host_config c;
	struct err e = {0};
	snprintf(y, sizeof(y), "%senclave: {network: mainnet, slashing_db_url: "
		 "'sqlite:/s.db'}\n%s", head, nitro);
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "enclave.slashing_db_url: a sqlite: "
				      "database inside a Nitro enclave"));
	assert_non_null(strstr(e.msg, "volatile_slashing_db: true"));
	snprintf(y, sizeof(y), "%senclave: {network: mainnet, slashing_db_url: "
		 "'sqlite:/s.db', volatile_slashing_db: true}\n%s", head, nitro);
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), 0);
	assert_true(c.volatile_slashing_db);
	host_config_free(&c);
	snprintf(y, sizeof(y), "%senclave: {network: mainnet, slashing_db_url: "
		 "'sqlite:/s.db'}\nrunner: {type: local, command: [x]}\n", head);
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), 0);
	host_config_free(&c);
	snprintf(y, sizeof(y), "%senclave: {network: mainnet, slashing_db_url: "
		 "'sqlite:/s.db', volatile_slashing_db: 1}\n%s", head, nitro);
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "enclave.volatile_slashing_db"));
}

static void test_nitro_cli_fields(void **state)
{
	static const char base[] =
		"region: r\nsigner_id: s\nkey_table: t\ncontrol: vsock:16:5000\n"
		"enclave: {network: mainnet, slashing_db_url: 'sqlite:/s.db', "
		"volatile_slashing_db: true}\n";
	char y[1024];
	struct host_config c;
	struct err e = {0};
	snprintf(y, sizeof(y), "%srunner: {type: nitro-cli, eif_path: /x.eif, "
		 "cpu_count: 2, memory_mib: 512, cid: 7, nitro_cli: /opt/nc, "
		 "debug_mode: true}\n", base);
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), 0);
	assert_string_equal(c.nitro.nitro_cli, "/opt/nc");
	assert_true(c.nitro.debug_mode);
	host_config_free(&c);
	static const struct {
		const char *runner, *want;
	} bad[] = {
		{"{type: nitro-cli, cpu_count: 2, memory_mib: 512, cid: 7}",
		 "runner.eif_path: required"},
		{"{type: nitro-cli, eif_path: /x, memory_mib: 512, cid: 7}",
		 "runner.cpu_count: required"},
		{"{type: nitro-cli, eif_path: /x, cpu_count: 2, cid: 7}",
		 "runner.memory_mib: required"},
		{"{type: nitro-cli, eif_path: /x, cpu_count: 2, memory_mib: 5}",
		 "runner.cid: required"},
		{"{type: nitro-cli, eif_path: /x, cpu_count: two, memory_mib: 5, "
		 "cid: 7}", "runner.cpu_count: expected a whole number"},
		{"{type: nitro-cli, eif_path: /x, cpu_count: 2, memory_mib: 5, "
		 "cid: 7, debug_mode: yes}", "runner.debug_mode: expected true "
		 "or false"},
		{"{type: nitro-cli, eif_path: /x, cpu_count: 2, memory_mib: 5, "
		 "cid: 7, command: [a]}", "runner.command: only for the local"},
		{"{type: local, command: [a], nitro_cli: /x}",
		 "runner: eif_path, cpu_count"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), "%srunner: %s\n", base, bad[i].runner);
		int rc = host_config_parse(y, strlen(y), &c, &e);
		if (rc != -ERR_INVALID || !strstr(e.msg, bad[i].want))
			fail_msg("%s -> %d '%s'", bad[i].runner, rc, e.msg);
	}
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
		   "connect: 'tcp:127.0.0.1:9000', allowed: x}",
		   "config: proxies[0].allowed: unknown key");
	expect_bad("  kms: http", "  sts: http://x\n  kms: http",
		   "config: endpoints.sts: unknown key");
	expect_bad("  network: hoodi\n", "  network: hoodi\n  netwrk: x\n",
		   "config: enclave.netwrk: unknown key");
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
	expect_bad("status_interval_s: 5", "status_interval_s: 0",
		   "config: status_interval_s: expected a whole number");
	expect_bad("key_table_poll_s: 7", "key_table_poll_s: 0",
		   "config: key_table_poll_s: expected a whole number");
	expect_bad("credentials_refresh_s: 120", "credentials_refresh_s: -1",
		   "config: credentials_refresh_s: expected a whole number");
	expect_bad("  tls_names: [localhost, 127.0.0.1]", "  tls_names: localhost",
		   "config: enclave.tls_names: expected a list of strings");
	expect_bad("max_connections: 16", "max_connections: many",
		   "config: proxies[1].max_connections: expected a whole number");
	expect_bad("allow: ['kms.eu-west-1.amazonaws.com:443']",
		   "allow: ['kms.eu-west-1.amazonaws.com']",
		   "config: proxies[1].allow: ");
	expect_bad("endpoints:\n", "endpoints: x\nz:\n",
		   "config: endpoints: expected a mapping");
}

static void test_missing(void **state)
{
	expect_bad("region: eu-west-1\n", "", "config: region: required");
	expect_bad("signer_id: s1\n", "", "config: signer_id: required");
	expect_bad("key_table: keys\n", "", "config: key_table: required");
	expect_bad("control: unix:/tmp/c.sock\n", "", "config: control: required");
	expect_bad("  command: [/bin/enclave, --x, 'a b']\n", "",
		   "config: runner.command: required");
	expect_bad("  network: hoodi\n", "", "config: enclave.network: required");
	expect_bad("  slashing_db_url: sqlite:/tmp/s.db\n", "",
		   "config: enclave.slashing_db_url: required");
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

/* metrics: the enclave's metrics listener on a local port, 127.0.0.1:9001
 * unless given; off without the key. */
static void test_metrics_proxy(void **state)
{
	struct host_config c;
	struct err e = {0};
	assert_int_equal(host_config_parse(GOOD, strlen(GOOD), &c, &e), 0);
	assert_false(c.has_metrics);
	host_config_free(&c);
	char y[2048];
	snprintf(y, sizeof(y), "%smetrics: {connect: 'vsock:16:9001'}\n", GOOD);
	assert_int_equal(host_config_parse(y, strlen(y), &c, &e), 0);
	assert_true(c.has_metrics);
	assert_int_equal(c.metrics.connect.kind, HTTP_ADDR_VSOCK);
	assert_int_equal(c.metrics.connect.cid, 16);
	assert_int_equal(c.metrics.listen.kind, HTTP_ADDR_TCP);
	assert_string_equal(c.metrics.listen.host, "127.0.0.1");
	assert_int_equal(c.metrics.listen.port, 9001);
	host_config_free(&c);
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{"metrics: {listen: 'tcp:127.0.0.1:9101'}\n",
		 "config: metrics: connect: required"},
		{"metrics: {connect: 'vsock:16:9001', listen: 'vsock:ANY:1'}\n",
		 "config: metrics.listen: expected tcp:HOST:PORT or unix:PATH"},
		{"metrics: {connect: 'vsock:ANY:9001'}\n",
		 "config: metrics.connect: vsock CID ANY"},
		{"metrics: {connect: 'unix:/m', port: 1}\n",
		 "config: metrics.port: unknown key"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), "%s%s", GOOD, bad[i].yaml);
		int rc = host_config_parse(y, strlen(y), &c, &e);
		if (rc != -ERR_INVALID || !strstr(e.msg, bad[i].want))
			fail_msg("%s -> rc %d '%s'", bad[i].yaml, rc, e.msg);
	}
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
	expect_bad("  kms: http://127.0.0.1:1001", "  kms: 127.0.0.1:1001",
		   "config: endpoints.kms: expected an http:// or https:// URL");
	expect_bad("  imds: http://127.0.0.1:1003", "  imds: ftp://x",
		   "config: endpoints.imds: expected an http");
	expect_bad("  kms_proxy: unix:/tmp/kms.sock", "  kms_proxy: tcp:1.2.3.4:1",
		   "config: enclave.kms_proxy: expected unix:PATH or vsock");
	expect_bad("  dynamodb_proxy: vsock:3:8001", "  dynamodb_proxy: x",
		   "config: enclave.dynamodb_proxy: ");
	expect_bad("health_listen: tcp:127.0.0.1:9100",
		   "health_listen: vsock:3:9100",
		   "config: health_listen: expected tcp:HOST:PORT or unix:PATH");
}

/* deploy/config.example.yaml stays a config nitro-host accepts. */
static void test_deploy_example_parses(void **state)
{
	const char *src = getenv("NS_SOURCE_DIR");
	if (!src)
		fail_msg("NS_SOURCE_DIR is not set (run through ctest)");
	char path[1024];
	snprintf(path, sizeof(path), "%s/deploy/config.example.yaml", src);
	struct host_config c;
	struct err e = {0};
	if (host_config_load(path, &c, &e) != 0)
		fail_msg("%s: %s", path, e.msg);
	assert_int_equal(c.runner, HOST_RUNNER_NITRO_CLI);
	assert_int_equal(c.nproxies, 3);
	assert_int_equal(c.proxies[1].nallow, 1);
	/* the deployment's slashing protection is the shared DynamoDB table */
	assert_false(c.volatile_slashing_db);
	assert_string_equal(c.slashing_db_url,
			    "dynamodb://nitro-signer-slashing?region=eu-west-1");
	host_config_free(&c);
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
		cmocka_unit_test(test_nitro_cli_fields),
		cmocka_unit_test(test_volatile_slashing_db),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_metrics_proxy),
		cmocka_unit_test(test_deploy_example_parses),
		cmocka_unit_test(test_load_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
