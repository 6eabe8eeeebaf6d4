/*
 * fuzz_mnemonic.c: libFuzzer target for operator text that nitro-keys parses
 * before deriving keys: BIP-39 mnemonics (src/crypto/bip39.c), EIP-2334
 * paths (src/crypto/eip2333.c), withdrawal addresses with EIP-55 checksums
 * (src/crypto/eth_address.c) and deposit amounts (src/eth2/deposit.c).
 * The first byte picks the parser. Properties checked, not just "no crash":
 * an accepted mnemonic's canonical form is accepted again and is a fixed
 * point; an accepted address re-encodes to exactly the input.
 * Seeds: tests/fuzz/corpus/mnemonic/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "eth2/eth2.h"

static void mnemonic(const uint8_t *d, size_t n)
{
	struct secret *c = NULL, *again = NULL;
	struct err e;
	if (bip39_mnemonic_check(d, n, 0, &c, &e) < 0)
		return;
	if (bip39_mnemonic_check(c->bytes, c->len, 0, &again, &e) < 0 ||
	    again->len != c->len || memcmp(again->bytes, c->bytes, c->len))
		__builtin_trap();
	secret_free(again);
	secret_free(c);
}

static char *cstr(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, d, n);
		s[n] = '\0';
	}
	return s;
}

static void others(uint8_t which, const uint8_t *d, size_t n)
{
	char *s = cstr(d, n);
	struct err e;
	if (!s)
		return;
	if (which == 1) {
		uint32_t nodes[EIP2334_MAX_DEPTH];
		size_t depth;
		(void)eip2334_path_parse(s, nodes, &depth, &e);
	} else if (which == 2) {
		uint8_t a[ETH_ADDRESS_LEN];
		char back[43];
		if (eth_address_parse_checksummed(s, a, &e, "a") == 0 &&
		    (eth_address_checksum(a, back) < 0 || strcmp(back, s)))
			__builtin_trap();
	} else {
		uint64_t g;
		if (deposit_parse_amount(s, DEPOSIT_WITHDRAWAL_COMPOUNDING, &g,
					 &e, "a") == 0 &&
		    (g < DEPOSIT_MIN_GWEI || g > DEPOSIT_MAX_COMPOUNDING_GWEI))
			__builtin_trap();
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		secret_init();
		init = 1;
	}
	if (size == 0)
		return 0;
	uint8_t which = data[0] % 4;
	if (which == 0)
		mnemonic(data + 1, size - 1);
	else
		others(which, data + 1, size - 1);
	return 0;
}
