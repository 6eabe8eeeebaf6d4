/*
 * policy.c: the signing-type policy (--allow-signing-types), a bit per
 * enum eth2_sign_type checked by the sign route before any key or database
 * is touched.
 *
 * VOLUNTARY_EXIT is irreversible and a DEPOSIT names withdrawal
 * credentials, so whoever can ask for them can do lasting harm; validator
 * duties cannot. Two Gloas types are no validator duty either:
 * EXECUTION_PAYLOAD_BID is a builder's message (a validator's own
 * self-build bid carries no signature), and BUILDER_REQUEST_AUTH signs up to
 * 4 KiB of whatever bytes the client chooses. These four are "opt-in"; the
 * other Gloas types (the self-built EXECUTION_PAYLOAD_ENVELOPE, the PTC's
 * PAYLOAD_ATTESTATION_MESSAGE, PROPOSER_PREFERENCES) are duties.
 *
 * The rule (signer.h): duty types are all allowed unless the list names
 * some of them, then only those; opt-in types only when listed. Without a
 * list, standalone allows every type as Web3Signer does, and the enclave
 * only the duties: an image that must sign exits, or builder messages, says
 * so in its measured flags.
 */
#include "signer/signer.h"

#include <stdio.h>
#include <string.h>

#define BIT(t) (UINT32_C(1) << (t))
#define ALL_TYPES ((UINT32_C(1) << ETH2_SIGN_COUNT) - 1)
#define NOT_DUTIES                                                            \
	(BIT(ETH2_SIGN_VOLUNTARY_EXIT) | BIT(ETH2_SIGN_DEPOSIT) |              \
	 BIT(ETH2_SIGN_EXECUTION_PAYLOAD_BID) |                                \
	 BIT(ETH2_SIGN_BUILDER_REQUEST_AUTH))
#define DUTIES (ALL_TYPES & ~NOT_DUTIES)

_Static_assert(ETH2_SIGN_COUNT <= 32, "a signing type is a bit of a uint32_t");

static int type_of(const char *name, size_t len, enum eth2_sign_type *out)
{
	for (int t = 0; t < ETH2_SIGN_COUNT; t++) {
		const char *n = eth2_sign_type_name((enum eth2_sign_type)t);
		if (strlen(n) == len && strncmp(n, name, len) == 0) {
			*out = (enum eth2_sign_type)t;
			return 0;
		}
	}
	return -ERR_INVALID;
}

int signer_signing_types_parse(const char *list, bool enclave, uint32_t *mask,
			       struct err *e)
{
	if (!list) {
		*mask = enclave ? DUTIES : ALL_TYPES;
		return 0;
	}
	uint32_t m = 0;
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		enum eth2_sign_type t;
		if (len == 0)
			return err_set(e, ERR_USAGE, "--allow-signing-types: "
				       "an empty name in '%.200s'", list);
		if (type_of(p, len, &t) < 0)
			return err_set(e, ERR_USAGE, "--allow-signing-types: "
				       "unknown signing type '%.*s' (names as in "
				       "the request's \"type\", e.g. BLOCK_V2, "
				       "VOLUNTARY_EXIT)", (int)(len > 64 ? 64 : len),
				       p);
		m |= BIT(t);
		if (!end)
			break;
		p = end + 1;
	}
	if (!(m & DUTIES))
		m |= DUTIES;
	*mask = m;
	return 0;
}

void signer_signing_types_format(uint32_t mask, char *out, size_t cap)
{
	size_t n = 0;
	if (cap)
		out[0] = '\0';
	for (int t = 0; t < ETH2_SIGN_COUNT && cap; t++) {
		if (!(mask & BIT(t)))
			continue;
		int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "",
				 eth2_sign_type_name((enum eth2_sign_type)t));
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
}
