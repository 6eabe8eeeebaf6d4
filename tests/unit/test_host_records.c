/*
 * test_host_records.c: what nitro-host makes of key-table items
 * (src/host/records.c) and of nitro-cli's output (src/host/nitro_cli.c):
 * per-key and envelope items become exactly the enclave's record shapes;
 * active=false and "tls:" items are skipped; malformed items (missing or
 * mistyped attributes, unknown pubkey shapes) are skipped and counted,
 * never passed on; run-enclave's JSON after progress lines; describe's
 * states.
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

#include "host/host.h"

#define PK1 "0xa99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4bf2d153f649f7b53359fe8b94a38e44c"
#define PK2 "0xb89bebc699769726a318c8e9971bd3171297c61aea4a6578a7a4f94b547dcba5bac16a89108b6b6a1fe3695d1a874a0b"

static json_t *items(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s", je.text);
	return j;
}

static void test_good_items_become_records(void **state)
{
	json_t *in = items(
		"[{\"web3signer_uuid\":{\"S\":\"s\"},\"pubkey\":{\"S\":\"" PK1 "\"},"
		"\"encrypted_key_password_mnemonic_b64\":{\"S\":\"QUJD\"},"
		"\"active\":{\"BOOL\":true},\"chain\":{\"S\":\"hoodi\"}},"
		"{\"pubkey\":{\"S\":\"envelope:0011:1\"},\"wrapped_data_key_b64\":"
		"{\"S\":\"V0s=\"},\"envelope_ciphertext_b64\":{\"S\":\"Q1Q=\"},"
		"\"envelope_pubkeys\":{\"SS\":[\"" PK2 "\",\"" PK1 "\"]},"
		"\"active\":{\"BOOL\":true}},"
		"{\"pubkey\":{\"S\":\"" PK2 "\"},\"encrypted_key_password_mnemonic_b64\":"
		"{\"S\":\"REVG\"},\"active\":{\"BOOL\":false}},"
		"{\"pubkey\":{\"S\":\"tls:cert\"},\"tls_cert_pem\":{\"S\":\"x\"}}]");
	json_t *recs = NULL;
	struct host_records_stats st;
	struct err e = {0};
	assert_int_equal(host_records_from_items(in, &recs, &st, &e), 0);
	assert_int_equal(st.items, 4);
	assert_int_equal(st.records, 2);
	assert_int_equal(st.inactive, 1);
	assert_int_equal(st.not_keys, 1);
	assert_int_equal(st.malformed, 0);
	/* the log line names every kind it skipped, and only those */
	char what[256];
	host_records_describe(&st, what, sizeof(what));
	assert_string_equal(what, "2 records from 4 items (skipped: 1 inactive, "
			    "1 the enclave's own (tls:/slashing:))");
	struct host_records_stats none = {.items = 3, .records = 3};
	host_records_describe(&none, what, sizeof(what));
	assert_string_equal(what, "3 records from 3 items");
	json_t *want = items(
		"[{\"pubkey\":\"" PK1 "\",\"kind\":\"sample\",\"ciphertext_b64\":"
		"\"QUJD\"},{\"pubkey\":\"envelope:0011:1\",\"kind\":\"envelope\","
		"\"wrapped_data_key_b64\":\"V0s=\",\"envelope_ciphertext_b64\":"
		"\"Q1Q=\",\"pubkeys\":[\"" PK2 "\",\"" PK1 "\"]}]");
	assert_true(json_equal(recs, want));
	json_decref(want);
	json_decref(recs);
	json_decref(in);
}

/* Each malformed item alone: skipped, counted, nothing passed on. */
static void test_malformed_items_skipped(void **state)
{
	static const char *const bad[] = {
		"{\"encrypted_key_password_mnemonic_b64\":{\"S\":\"QUJD\"}}",
		"{\"pubkey\":{\"N\":\"1\"}}",
		"{\"pubkey\":{\"S\":\"" PK1 "\"}}",
		"{\"pubkey\":{\"S\":\"" PK1 "\"},"
		"\"encrypted_key_password_mnemonic_b64\":{\"N\":\"5\"}}",
		"{\"pubkey\":{\"S\":\"" PK1 "\"},"
		"\"encrypted_key_password_mnemonic_b64\":{\"S\":\"QUJD\"},"
		"\"active\":{\"S\":\"yes\"}}",
		"{\"pubkey\":{\"S\":\"0xABCD\"},"
		"\"encrypted_key_password_mnemonic_b64\":{\"S\":\"QUJD\"}}",
		"{\"pubkey\":{\"S\":\"garbage\"}}",
		"{\"pubkey\":{\"S\":\"envelope:1:1\"},\"envelope_ciphertext_b64\":"
		"{\"S\":\"Q1Q=\"},\"envelope_pubkeys\":{\"SS\":[\"" PK1 "\"]}}",
		"{\"pubkey\":{\"S\":\"envelope:1:1\"},\"wrapped_data_key_b64\":"
		"{\"S\":\"V0s=\"},\"envelope_pubkeys\":{\"SS\":[\"" PK1 "\"]}}",
		"{\"pubkey\":{\"S\":\"envelope:1:1\"},\"wrapped_data_key_b64\":"
		"{\"S\":\"V0s=\"},\"envelope_ciphertext_b64\":{\"S\":\"Q1Q=\"}}",
		"{\"pubkey\":{\"S\":\"envelope:1:1\"},\"wrapped_data_key_b64\":"
		"{\"S\":\"V0s=\"},\"envelope_ciphertext_b64\":{\"S\":\"Q1Q=\"},"
		"\"envelope_pubkeys\":{\"SS\":[\"nope\"]}}",
		"{\"pubkey\":{\"S\":\"envelope:1:1\"},\"wrapped_data_key_b64\":"
		"{\"S\":\"V0s=\"},\"envelope_ciphertext_b64\":{\"S\":\"Q1Q=\"},"
		"\"envelope_pubkeys\":{\"SS\":[]}}",
		"\"not an item\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), "[%s]", bad[i]);
		json_t *in = items(text), *recs = NULL;
		struct host_records_stats st;
		struct err e = {0};
		assert_int_equal(host_records_from_items(in, &recs, &st, &e), 0);
		if (st.malformed != 1 || json_array_size(recs) != 0)
			fail_msg("item %zu: malformed %zu records %zu", i,
				 st.malformed, json_array_size(recs));
		json_decref(recs);
		json_decref(in);
	}
	json_t *recs = NULL;
	struct host_records_stats st;
	struct err e = {0};
	json_t *obj = json_object();
	assert_int_equal(host_records_from_items(obj, &recs, &st, &e),
			 -ERR_INVALID);
	assert_null(recs);
	json_decref(obj);
}

/* Items that parse but that the enclave's init schema would refuse (a
 * ciphertext over its 64 KiB, an envelope id over 128 bytes) are skipped,
 * so one of them cannot fail every key's init; the good one is kept. */
static void test_items_the_enclave_would_refuse_skipped(void **state)
{
	(void)state;
	size_t big = 64 * 1024 + 4;
	char *ct = malloc(big + 1);
	memset(ct, 'A', big);
	ct[big] = '\0';
	char longid[200];
	snprintf(longid, sizeof(longid), "envelope:%0150d:1", 7);
	json_t *in = json_pack(
		"[{s:{s:s},s:{s:s}},{s:{s:s},s:{s:s}},"
		"{s:{s:s},s:{s:s},s:{s:s},s:{s:[s]}}]",
		"pubkey", "S", PK1, "encrypted_key_password_mnemonic_b64", "S", ct,
		"pubkey", "S", PK2, "encrypted_key_password_mnemonic_b64", "S", "QUJD",
		"pubkey", "S", longid, "wrapped_data_key_b64", "S", "V0s=",
		"envelope_ciphertext_b64", "S", "Q1Q=", "envelope_pubkeys", "SS", PK1);
	assert_non_null(in);
	free(ct);
	json_t *recs = NULL;
	struct host_records_stats st;
	struct err e = {0};
	assert_int_equal(host_records_from_items(in, &recs, &st, &e), 0);
	assert_int_equal(st.items, 3);
	assert_int_equal(st.records, 1);
	assert_int_equal(st.malformed, 2);
	assert_int_equal(json_array_size(recs), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(recs, 0), "pubkey")), PK2);
	json_decref(recs);
	json_decref(in);
}

static void test_nitro_cli_output(void **state)
{
	char id[128], st[32];
	uint32_t cid = 0;
	struct err e = {0};
	static const char run[] =
		"Start allocating memory...\n"
		"Started enclave with enclave-cid: 16, memory: 512 MiB\n"
		"{\n  \"EnclaveName\": \"x\",\n  \"EnclaveID\": \"i-0-enc-1\",\n"
		"  \"ProcessID\": 7,\n  \"EnclaveCID\": 16\n}\n";
	assert_int_equal(host_nitro_parse_run(run, id, sizeof(id), &cid, &e), 0);
	assert_string_equal(id, "i-0-enc-1");
	assert_int_equal(cid, 16);
	assert_true(host_nitro_parse_run("nothing here\n", id, sizeof(id), &cid,
					 &e) < 0);
	assert_true(host_nitro_parse_run("{\"EnclaveCID\":16}", id, sizeof(id),
					 &cid, &e) < 0);
	assert_non_null(strstr(e.msg, "EnclaveID"));
	static const char desc[] =
		"[{\"EnclaveID\":\"a\",\"State\":\"RUNNING\"},"
		"{\"EnclaveID\":\"b\",\"State\":\"TERMINATING\"}]";
	assert_int_equal(host_nitro_parse_describe(desc, "a", st, sizeof(st), &e),
			 1);
	assert_int_equal(host_nitro_parse_describe(desc, "b", st, sizeof(st), &e),
			 0);
	assert_string_equal(st, "TERMINATING");
	assert_int_equal(host_nitro_parse_describe(desc, "c", st, sizeof(st), &e),
			 0);
	assert_string_equal(st, "absent");
	assert_int_equal(host_nitro_parse_describe("[]", "a", st, sizeof(st), &e),
			 0);
	assert_true(host_nitro_parse_describe("[{", "a", st, sizeof(st), &e) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_items_become_records),
		cmocka_unit_test(test_malformed_items_skipped),
		cmocka_unit_test(test_items_the_enclave_would_refuse_skipped),
		cmocka_unit_test(test_nitro_cli_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
