/*
 * fuzz_lambda_event.c: what the control Lambda reads from outside without
 * a network call, by the first byte mod 3: 0, the invocation event (JSON
 * from whoever may invoke the function); 1, key table items (a DynamoDB
 * Query's Items array, from whoever may write the table); 2, the signer's
 * GET /api/v1/eth2/publicKeys body. An event is either a row of the
 * operation table or a function error with a message; every public key
 * taken from items or the signer is 0x + 96 lower-case hex.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/lambda.h"

static void check_keys(json_t *out)
{
	const json_t *keys = json_object_get(out, "public_keys");
	size_t i;
	const json_t *k;
	json_array_foreach(keys, i, k) {
		const char *s = json_string_value(k);
		if (!s || strlen(s) != 98 || strncmp(s, "0x", 2) != 0)
			abort();
		for (const char *p = s + 2; *p; p++)
			if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
				abort();
	}
	json_decref(out);
}

static void check_items(const char *text, size_t len)
{
	json_t *items = NULL;
	if (json_parse_bounded(text, len, NULL, 1 << 20, &items, NULL) < 0)
		return;
	check_keys(lambda_public_keys_from_items(items));
	json_decref(items);
}

static void check_signer(const char *text, size_t len)
{
	json_t *out = NULL;
	struct err e = {0};
	if (lambda_public_keys_from_signer(text, len, &out, &e) == 0)
		check_keys(out);
	else if (!e.msg[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	if (data[0] % 3 == 1) {
		check_items(text, size - 1);
		return 0;
	}
	if (data[0] % 3 == 2) {
		check_signer(text, size - 1);
		return 0;
	}
	struct lambda_outcome o;
	const char *op = lambda_event_operation(text, size - 1, &o);
	if (!op && (!o.e.msg[0] || o.kind >= LAMBDA_ERR_COUNT))
		abort();
	if (op && o.e.msg[0])
		abort();
	return 0;
}
