/*
 * expect.c: a client's expectations of a verified attestation document
 * (the check of an enclave's GET /attestation, docs/enclave.md): PCR0 is
 * the image the client trusts, the nonce is the one it sent, user_data is
 * what the enclave binds (SHA-256 of its TLS certificate's SPKI). Both
 * `nitro-keys attestation verify` and the control Lambda apply this one
 * check after attestation_verify(); each names the failure its own way.
 */
#include "nitro/nitro.h"

#include <string.h>

static bool bytes_equal(const struct nitro_bytes *b, const uint8_t *want,
			size_t len)
{
	return b->present && b->len == len && memcmp(b->p, want, len) == 0;
}

enum attestation_mismatch
attestation_check_expect(const struct attestation_doc *d,
			 const struct attestation_expect *x)
{
	if (x->pcr0 && (!(d->pcr_mask & 1u) || d->pcr_len != NITRO_PCR0_LEN ||
			memcmp(d->pcrs[0], x->pcr0, NITRO_PCR0_LEN) != 0))
		return ATTESTATION_MISMATCH_PCR0;
	if (x->nonce && !bytes_equal(&d->nonce, x->nonce, x->nonce_len))
		return ATTESTATION_MISMATCH_NONCE;
	if (x->user_data &&
	    !bytes_equal(&d->user_data, x->user_data, x->user_data_len))
		return ATTESTATION_MISMATCH_USER_DATA;
	return ATTESTATION_MATCH;
}
