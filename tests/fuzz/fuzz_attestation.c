/*
 * fuzz_attestation.c: attestation documents as a verifier receives them
 * (from a host, a client, a file): the bounded CBOR loader, COSE_Sign1
 * decoding, the payload rules and the full verification against the AWS
 * root at the document's own timestamp. Seeds: the five real documents and
 * two simulator documents (corpus/attestation/README.md).
 */
#include <stdint.h>
#include <stdlib.h>

#include "nitro/nitro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attestation_doc *d = NULL;
	if (attestation_parse(data, size, &d, NULL) == 0)
		attestation_doc_free(d);
	d = NULL;
	if (attestation_verify(data, size, NULL, &d, NULL) == 0)
		attestation_doc_free(d);
	return 0;
}
