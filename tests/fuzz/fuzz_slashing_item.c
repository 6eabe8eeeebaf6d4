/*
 * fuzz_slashing_item.c: the items the DynamoDB slashing backend reads back
 * from its table, which whoever owns the table (the parent instance, in the
 * enclave deployment) can write at will: a validator's item and the meta
 * item, with and without a MAC key. Whatever is accepted must write back to
 * an item with the same meaning (the MAC covers the meaning, so a parse that
 * lost or invented a field would let an edited item through); an internal
 * error is a crash here.
 */
#include <stdint.h>
#include <stdlib.h>

#include "slashing/backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = {7, 7, 7};
	struct err e = {0};
	/* The first byte picks the key; the rest is the item's JSON. */
	if (size < 1)
		return 0;
	const uint8_t *mac = data[0] & 1 ? key : NULL;
	int rc = slashing_dynamodb_item_check((const char *)data + 1, size - 1,
					      mac, &e);
	if (rc == -ERR_INTERNAL)
		abort();
	return 0;
}
