/*
 * fuzz_cbor.c: our CBOR decoder against libcbor, differentially.
 *
 * Two oracles: libcbor behind the guard the product used before it had its
 * own decoder (accept/reject must agree exactly, so no input changes
 * meaning), and libcbor's cbor_load alone (whatever we accept it must accept
 * too, as the same tree). Any disagreement traps.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cbor_oracle.h"

#define FUZZ_CBOR_MAX 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ncbor *ours = NULL;
	cbor_item_t *guarded = NULL, *raw = NULL;
	int rc_ours = ncbor_decode(data, size, FUZZ_CBOR_MAX, &ours, NULL, "");
	int rc_theirs = oracle_cbor_load(data, size, FUZZ_CBOR_MAX, &guarded);
	if ((rc_ours == 0) != (rc_theirs == 0))
		__builtin_trap();
	if (rc_ours == 0) {
		if (!oracle_cbor_same(ours, guarded))
			__builtin_trap();
		raw = oracle_cbor_load_raw(data, size);
		if (!raw || !oracle_cbor_same(ours, raw))
			__builtin_trap();
	}
	ncbor_free(ours);
	if (guarded)
		cbor_decref(&guarded);
	if (raw)
		cbor_decref(&raw);
	return 0;
}
