/*
 * cbor_oracle.h: libcbor as a test oracle for our CBOR decoder
 * (src/nitro/cbor_decode.c). Linked into test_cbor and fuzz_cbor only; the
 * product links no CBOR library (docs/dependencies.md).
 */
#ifndef NS_CBOR_ORACLE_H
#define NS_CBOR_ORACLE_H

#include <cbor.h>

#include "nitro/nitro_internal.h"

/*
 * The decoding the product did before it had its own decoder: libcbor's
 * streaming decoder under a guard (every declared count within the bytes
 * left, nesting <= NCBOR_MAX_DEPTH, indefinite maps even, chunks of the
 * right type, one item filling the input), then cbor_load. 0 or -ERR_*;
 * *out freed with cbor_decref.
 */
int oracle_cbor_load(const uint8_t *p, size_t len, size_t max,
		     cbor_item_t **out);
/* libcbor's cbor_load alone: one item filling the input, or NULL. */
cbor_item_t *oracle_cbor_load_raw(const uint8_t *p, size_t len);
/* The same tree: types, values, string bytes and chunking, definite or
 * indefinite containers, tags, simple values, floats (any NaN equals any
 * NaN; half floats compared as the value libcbor widens them to). */
bool oracle_cbor_same(const struct ncbor *ours, const cbor_item_t *theirs);
/* The value of one of our NCBOR_FLOAT nodes (half floats widened exactly). */
double oracle_ncbor_float(const struct ncbor *it);

#endif
