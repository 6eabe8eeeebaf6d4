/*
 * test_lambda.c: the control Lambda's parsing (src/lambda): the event
 * ({"operation": NAME} only, aliases resolved by the table, every other
 * shape a function error naming the problem), the enabled public keys of
 * key-table items (per-key and envelope records; inactive, enclave and
 * malformed items left out and counted), the signer's publicKeys answer,
 * certificates from PEM, and the environment (each variable named when
 * wrong). The operations against a
 * real signer are in tests/integration/test_lambda_control.mjs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lambda/lambda.h"

#define PK1 "0xa99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c"
#define PK2 "0xb89bebc699769726a318c8e9971bd3171297c61aea4a6578a7a4f94b547dcba5bac16a89108b6b6a1fe3695d1a874a0b"
#define PK3 "0x8fbd5f5d1a9bb0b2b5b8b0e2d8c1c7d6f5f3e2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3"

static void event_refused(const char *text, enum lambda_error kind,
			  const char *msg)
{
	struct lambda_outcome o;
	assert_null(lambda_event_operation(text, strlen(text), &o));
	assert_int_equal(o.kind, kind);
	if (!strstr(o.e.msg, msg))
		fail_msg("%s: \"%s\" does not say \"%s\"", text, o.e.msg, msg);
}

static void test_event_names_an_operation_or_is_refused(void **state)
{
	struct lambda_outcome o;
	const char *ok[][2] = {
		{"{\"operation\":\"status\"}", "status"},
		{" {\"operation\" : \"web3signer_public_keys\"} ", "web3signer_public_keys"},
		{"{\"operation\":\"get_tls_key\"}", "get_tls_key"},
		{"{\"operation\":\"set_tls_key\"}", "set_tls_key"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		const char *op = lambda_event_operation(ok[i][0], strlen(ok[i][0]), &o);
		assert_non_null(op);
		assert_string_equal(op, ok[i][1]);
	}
	event_refused("", LAMBDA_ERR_INVALID_EVENT, "not a JSON object");
	event_refused("status", LAMBDA_ERR_INVALID_EVENT, "not a JSON object");
	event_refused("{\"operation\":", LAMBDA_ERR_INVALID_EVENT, "invalid JSON");
	event_refused("[\"status\"]", LAMBDA_ERR_INVALID_EVENT, "not a JSON object");
	event_refused("\"status\"", LAMBDA_ERR_INVALID_EVENT, "not a JSON object");
	event_refused("{}", LAMBDA_ERR_INVALID_EVENT, "\"operation\" is missing");
	event_refused("{\"operation\":null}", LAMBDA_ERR_INVALID_EVENT, "not a string");
	event_refused("{\"operation\":\"status\",\"x\":1}", LAMBDA_ERR_INVALID_EVENT,
		      "unknown field \"x\"");
	event_refused("{\"operation\":\"status\",\"operation\":\"attest\"}",
		      LAMBDA_ERR_INVALID_EVENT, "duplicate");
	event_refused("{\"operation\":\"Status\"}", LAMBDA_ERR_UNKNOWN_OPERATION,
		      "unknown operation \"Status\"");
	event_refused("{\"operation\":\"stat\\u001bus\"}", LAMBDA_ERR_UNKNOWN_OPERATION,
		      "\"stat?us\"");
	/* A long name is cut in the message. */
	char big[400];
	snprintf(big, sizeof(big), "{\"operation\":\"%0300d\"}", 0);
	event_refused(big, LAMBDA_ERR_UNKNOWN_OPERATION, "...\"");
	/* Over the size limit before any parsing. */
	size_t n = 70 * 1024;
	char *huge = malloc(n + 1);
	assert_non_null(huge);
	memset(huge, ' ', n);
	memcpy(huge, "{\"operation\":\"status\"}", 22);
	huge[n] = '\0';
	event_refused(huge, LAMBDA_ERR_INVALID_EVENT, "over 65536 bytes");
	free(huge);
	assert_string_equal(lambda_error_name(LAMBDA_ERR_UNSUPPORTED), "Unsupported");
	assert_string_equal(lambda_error_name(LAMBDA_ERR_CERT_MISMATCH), "CertificateMismatch");
}

static void test_public_keys_from_items(void **state)
{
	const char *text =
		"["
		/* per-key, active by default and explicitly */
		"{\"pubkey\":{\"S\":\"" PK1 "\"}},"
		"{\"pubkey\":{\"S\":\"" PK2 "\"},\"active\":{\"BOOL\":true}},"
		/* an envelope (list form) repeating PK1 and adding PK3 */
		"{\"pubkey\":{\"S\":\"envelope:ab:0\"},\"envelope_pubkeys\":{\"L\":[{\"S\":\"" PK3 "\"},{\"S\":\"" PK1 "\"}]}},"
		/* inactive */
		"{\"pubkey\":{\"S\":\"envelope:cd:0\"},\"active\":{\"BOOL\":false},\"envelope_pubkeys\":{\"SS\":[\"0xdead\"]}},"
		/* the enclave's own items */
		"{\"pubkey\":{\"S\":\"tls:server\"},\"tls_cert_pem\":{\"S\":\"x\"}},"
		"{\"pubkey\":{\"S\":\"slashing:mac\"}},"
		/* malformed: upper-case hex, short, active not a BOOL, an envelope
		 * with one bad key (none of its keys taken), no pubkey */
		"{\"pubkey\":{\"S\":\"0xA99A76ED7796F7BE22D5B7E85DEEB7C5677E88E511E0B337618F8C4EB61349B4BF2D153F649F7B53359FE8B94A38E44C\"}},"
		"{\"pubkey\":{\"S\":\"0xabcd\"}},"
		"{\"pubkey\":{\"S\":\"" PK1 "\"},\"active\":{\"S\":\"false\"}},"
		"{\"pubkey\":{\"S\":\"envelope:ef:0\"},\"envelope_pubkeys\":{\"SS\":[\"" PK2 "\",\"0x12\"]}},"
		"{\"other\":{\"S\":\"x\"}}"
		"]";
	json_error_t je;
	json_t *items = json_loads(text, 0, &je);
	assert_non_null(items);
	json_t *out = lambda_public_keys_from_items(items);
	assert_non_null(out);
	const json_t *keys = json_object_get(out, "public_keys");
	assert_int_equal(json_array_size(keys), 3);
	/* sorted, each once */
	assert_string_equal(json_string_value(json_array_get(keys, 0)), PK3);
	assert_string_equal(json_string_value(json_array_get(keys, 1)), PK1);
	assert_string_equal(json_string_value(json_array_get(keys, 2)), PK2);
	assert_int_equal(json_integer_value(json_object_get(out, "records")), 3);
	assert_int_equal(json_integer_value(json_object_get(out, "inactive")), 1);
	assert_int_equal(json_integer_value(json_object_get(out, "skipped_malformed")), 5);
	json_decref(out);
	json_decref(items);
}

static void test_public_keys_from_signer(void **state)
{
	json_t *out = NULL;
	struct err e = {0};
	const char *ok = "[\"" PK2 "\",\"" PK1 "\",\"" PK2 "\"]";
	assert_int_equal(lambda_public_keys_from_signer(ok, strlen(ok), &out, &e), 0);
	const json_t *keys = json_object_get(out, "public_keys");
	assert_int_equal(json_array_size(keys), 2);
	assert_string_equal(json_string_value(json_array_get(keys, 0)), PK1);
	json_decref(out);
	const char *bad[][2] = {
		{"{}", "not a JSON array"},
		{"[\"" PK1 "\", 5]", "item 1 is not"},
		{"[\"0xabc\"]", "item 0 is not"},
		{"[", "invalid JSON"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		out = NULL;
		assert_int_equal(lambda_public_keys_from_signer(bad[i][0], strlen(bad[i][0]),
								&out, &e), -ERR_INVALID);
		assert_null(out);
		if (!strstr(e.msg, bad[i][1]))
			fail_msg("%s: \"%s\" does not say \"%s\"", bad[i][0], e.msg, bad[i][1]);
	}
}

static void test_cert_from_pem_refuses_garbage(void **state)
{
	struct lambda_cert c;
	struct err e = {0};
	assert_int_equal(lambda_cert_from_pem("not a certificate", &c, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not a PEM certificate"));
	assert_null(c.der);
	assert_int_equal(lambda_cert_from_pem(
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", &c, &e),
		-ERR_INVALID);
}

static void set_env(void)
{
	setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001", 1);
	setenv("SIGNER_URL", "https://nlb.example:443/", 1);
	setenv("KEY_TABLE", "keys", 1);
	setenv("SIGNER_ID", "signer-1", 1);
	setenv("EXPECTED_PCR0", "0x" "000102030405060708090a0b0c0d0e0f"
	       "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f", 1);
	unsetenv("EXPECTED_PCR8");
	unsetenv("ATTESTATION_ROOT_PEM");
	unsetenv("SIGNER_CLIENT_CERT_PEM");
	unsetenv("SIGNER_CLIENT_KEY_PEM");
}

static void config_refused(const char *name, const char *value, const char *msg)
{
	set_env();
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
	struct lambda_config c;
	struct err e = {0};
	assert_int_equal(lambda_config_from_env(&c, &e), -ERR_USAGE);
	if (!strstr(e.msg, msg))
		fail_msg("%s=%s: \"%s\" does not say \"%s\"", name, value ? value : "(unset)",
			 e.msg, msg);
	assert_null(c.signer_url);
}

static void test_config_from_env(void **state)
{
	set_env();
	struct lambda_config c;
	struct err e = {0};
	assert_int_equal(lambda_config_from_env(&c, &e), 0);
	assert_string_equal(c.signer_url, "https://nlb.example:443"); /* the slash dropped */
	assert_int_equal(c.expected_pcr0[47], 0x2f);
	assert_false(c.has_pcr8);
	assert_null(c.root_der);
	lambda_config_clear(&c);
	setenv("EXPECTED_PCR8", "ff0102030405060708090a0b0c0d0e0f"
	       "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f", 1);
	assert_int_equal(lambda_config_from_env(&c, &e), 0);
	assert_true(c.has_pcr8);
	assert_int_equal(c.expected_pcr8[0], 0xff);
	assert_int_equal(c.expected_pcr8[47], 0x2f);
	lambda_config_clear(&c);
	setenv("EXPECTED_PCR8", "", 1); /* empty: not checked */
	assert_int_equal(lambda_config_from_env(&c, &e), 0);
	assert_false(c.has_pcr8);
	lambda_config_clear(&c);

	config_refused("SIGNER_URL", NULL, "SIGNER_URL is not set");
	config_refused("SIGNER_URL", "http://nlb.example", "must be https");
	config_refused("SIGNER_URL", "https://nlb.example/api", "must have no path");
	config_refused("KEY_TABLE", "", "KEY_TABLE is not set");
	config_refused("SIGNER_ID", "a|b", "SIGNER_ID is not a signer id");
	config_refused("EXPECTED_PCR0", "0x00", "EXPECTED_PCR0 must be 48 bytes");
	config_refused("EXPECTED_PCR0", "zz", "EXPECTED_PCR0 must be 48 bytes");
	config_refused("EXPECTED_PCR8", "0x00", "EXPECTED_PCR8 must be 48 bytes");
	config_refused("EXPECTED_PCR8", "zz", "EXPECTED_PCR8 must be 48 bytes");
	char zeros[2 * 48 + 3] = "0x";
	memset(zeros + 2, '0', 2 * 48);
	zeros[2 + 2 * 48] = '\0';
	config_refused("EXPECTED_PCR8", zeros, "EXPECTED_PCR8 is all zeros");
	config_refused("ATTESTATION_ROOT_PEM", "junk", "ATTESTATION_ROOT_PEM is not a PEM");
	config_refused("SIGNER_CLIENT_KEY_PEM", "junk", "SIGNER_CLIENT_CERT_PEM, "
		       "SIGNER_CLIENT_KEY_PEM: TLS client certificate: the certificate and "
		       "the key go together");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_names_an_operation_or_is_refused),
		cmocka_unit_test(test_public_keys_from_items),
		cmocka_unit_test(test_public_keys_from_signer),
		cmocka_unit_test(test_cert_from_pem_refuses_garbage),
		cmocka_unit_test(test_config_from_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
