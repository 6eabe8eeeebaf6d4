/*
 * keystore_format.c: keystores laid out byte for byte as staking-deposit-cli
 * writes them.
 *
 * staking-deposit-cli (key_handling/keystore.py) writes
 * json.dumps(asdict(keystore)): one line, ", " and ": " separators, non-ASCII
 * escaped, no trailing newline, keys in dataclass order: crypto {kdf,
 * checksum, cipher} (each {function, params, message}), description,
 * pubkey, path, uuid, version; scrypt params dklen, n, r, p, salt; pbkdf2
 * params c, dklen, prf, salt. keystore_encrypt() (keystore.c) builds the same
 * object except for the pbkdf2 parameter order and indents it; this file
 * reorders and re-dumps. jansson keeps insertion order and its non-compact,
 * unindented output uses Python's separators.
 *
 * Input is our own keystore_encrypt() output, but it is parsed as JSON all
 * the same (no string surgery).
 */
#include "crypto.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int reorder_pbkdf2(json_t *params)
{
	static const char *const order[] = {"c", "dklen", "prf", "salt"};
	json_t *copy = json_object();
	if (!copy)
		return -ERR_NOMEM;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		json_t *v = json_object_get(params, order[i]);
		if (v && json_object_set(copy, order[i], v) != 0) {
			json_decref(copy);
			return -ERR_NOMEM;
		}
	}
	int rc = json_object_size(copy) == json_object_size(params) &&
			 json_object_clear(params) == 0 &&
			 json_object_update(params, copy) == 0
		     ? 0
		     : -ERR_INVALID;
	json_decref(copy);
	return rc;
}

int keystore_format_deposit_cli(char **json, struct err *e)
{
	json_error_t jerr;
	json_t *root = json_loads(*json, JSON_REJECT_DUPLICATES, &jerr);
	json_t *kdf = json_object_get(json_object_get(root, "crypto"), "kdf");
	json_t *params = json_object_get(kdf, "params");
	const char *fn = json_string_value(json_object_get(kdf, "function"));
	if (!root || !json_is_object(params) || !fn) {
		json_decref(root);
		return err_set(e, ERR_INTERNAL, "keystore: cannot re-read JSON");
	}
	if (strcmp(fn, "pbkdf2") == 0 && reorder_pbkdf2(params) < 0) {
		json_decref(root);
		return err_set(e, ERR_INTERNAL,
			       "keystore: unexpected pbkdf2 parameters");
	}
	char *out = json_dumps(root, JSON_ENSURE_ASCII);
	json_decref(root);
	if (!out)
		return err_set(e, ERR_NOMEM, "out of memory");
	free(*json);
	*json = out;
	return 0;
}
