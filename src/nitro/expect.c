/*
 * expect.c: a client's expectations of a verified attestation document
 * (the check of an enclave's GET /attestation, docs/enclave.md): PCR0 is
 * the image the client trusts, PCR8 (optional) the certificate a signed
 * image was signed with, the nonce is the one it sent, user_data is
 * what the enclave binds (SHA-256 of its TLS certificate's SPKI). Both
 * `nitro-keys attestation verify` and the control Lambda apply this one
 * check after attestation_verify(); each names the failure its own way.
 */
#include "nitro/nitro.h"

#include <stdio.h>
#include <string.h>

static bool bytes_equal(const struct nitro_bytes *b, const uint8_t *want,
			size_t len)
{
	return b->present && b->len == len && memcmp(b->p, want, len) == 0;
}

bool nitro_pcr_is_zero(const uint8_t *p, size_t len)
{
	uint8_t any = 0;
	for (size_t i = 0; i < len; i++)
		any |= p[i];
	return any == 0;
}

bool nitro_pcr_from_hex(const char *v, size_t len,
			uint8_t out[NITRO_PCR0_LEN])
{
	char hex[2 + 2 * NITRO_PCR0_LEN + 1];
	if (len >= 2 && strncmp(v, "0x", 2) == 0) {
		v += 2;
		len -= 2;
	}
	if (len != 2 * NITRO_PCR0_LEN)
		return false;
	snprintf(hex, sizeof(hex), "0x%.*s", (int)len, v);
	return hex_decode_exact(hex, out, NITRO_PCR0_LEN, NULL, "PCR") == 0;
}

/* PCR i of d equals want (NITRO_PCR0_LEN bytes). Zeros never match
 * (nitro_pcr_is_zero: they identify nothing). */
static bool pcr_equal(const struct attestation_doc *d, int i,
		      const uint8_t *want)
{
	return (d->pcr_mask & (1u << i)) && d->pcr_len == NITRO_PCR0_LEN &&
	       memcmp(d->pcrs[i], want, NITRO_PCR0_LEN) == 0 &&
	       !nitro_pcr_is_zero(want, NITRO_PCR0_LEN);
}

enum attestation_mismatch
attestation_check_expect(const struct attestation_doc *d,
			 const struct attestation_expect *x)
{
	if (x->pcr0 && (!(d->pcr_mask & 1u) || d->pcr_len != NITRO_PCR0_LEN ||
			memcmp(d->pcrs[0], x->pcr0, NITRO_PCR0_LEN) != 0))
		return ATTESTATION_MISMATCH_PCR0;
	if (x->pcr8 && !pcr_equal(d, 8, x->pcr8))
		return ATTESTATION_MISMATCH_PCR8;
	if (x->nonce && !bytes_equal(&d->nonce, x->nonce, x->nonce_len))
		return ATTESTATION_MISMATCH_NONCE;
	if (x->user_data &&
	    !bytes_equal(&d->user_data, x->user_data, x->user_data_len))
		return ATTESTATION_MISMATCH_USER_DATA;
	return ATTESTATION_MATCH;
}
