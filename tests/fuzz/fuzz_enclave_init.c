/*
 * fuzz_enclave_init.c: the schema checks of the host's `init` and `reload`
 * messages (src/control/schema.c) on arbitrary bytes parsed as the control
 * codec parses a frame's JSON (duplicate keys refused). Validation only:
 * no KMS, no NSM, no network. Every refusal must carry a message; an
 * accepted init must have the shapes the boot sequence then relies on
 * (strings where it reads strings, an array of objects for records), and
 * the two checks must be deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"

static void check_one(int (*check)(const json_t *, struct err *),
		      const json_t *m)
{
	struct err e = {0}, again = {0};
	int rc = check(m, &e);
	if (check(m, &again) != rc || strcmp(e.msg, again.msg) != 0)
		abort();
	if (rc < 0 && (!e.msg[0] || rc != -ERR_INVALID))
		abort();
}

static void check_accepted_init(const json_t *m)
{
	static const char *const strings[] = {"region", "network",
					      "slashing_db_url", "signer_id"};
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (!json_string_value(json_object_get(m, strings[i])))
			abort();
	const json_t *recs = json_object_get(m, "records"), *r;
	size_t i;
	if (!json_is_array(recs))
		abort();
	json_array_foreach(recs, i, r) {
		const char *kind = json_string_value(json_object_get(r, "kind"));
		if (!kind || !json_string_value(json_object_get(r, "pubkey")))
			abort();
		if (strcmp(kind, "sample") != 0 && strcmp(kind, "envelope") != 0)
			abort();
	}
	if (json_object_get(m, "kms_key_id") && !json_object_get(m, "key_table"))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *m = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
			       &jerr);
	if (!m)
		return 0;
	check_one(control_init_check, m);
	check_one(control_reload_check, m);
	struct err e = {0};
	if (control_init_check(m, &e) == 0)
		check_accepted_init(m);
	json_decref(m);
	return 0;
}
