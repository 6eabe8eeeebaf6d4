/*
 * eth_address.c: execution-layer addresses with their EIP-55 checksum, for
 * 0x01/0x02 withdrawal credentials.
 *
 * EIP-55: hash = Keccak-256(lower-case hex of the address, ASCII); the i-th
 * hex letter is upper case when nibble i of the hash is >= 8. Keccak-256 is
 * the original Keccak padding (0x01), which OpenSSL 3.0 does not offer
 * (its SHA3-256 pads with 0x06), so it comes from Botan's C interface
 * ("Keccak-1600(256)", Debian's libbotan-2-dev, BSD-2-Clause); see
 * docs/dependencies.md. tests/unit/test_deposit.c checks it against known
 * Keccak-256 digests and the EIP-55 examples.
 *
 * The address text is operator input: exact length, "0x" prefix, hex
 * digits only, and the case must be the checksum's (as staking-deposit-cli
 * and ethstaker-deposit-cli require: eth_utils.is_checksum_address). The
 * error never suggests the "right" spelling: for a mistyped digit that
 * would be the checksum of the wrong address.
 */
#include "crypto.h"

#include <botan/ffi.h>
#include <string.h>

int keccak256(const uint8_t *in, size_t len, uint8_t out[32])
{
	botan_hash_t h = NULL;
	size_t n = 0;
	int ok = botan_hash_init(&h, "Keccak-1600(256)", 0) == 0 &&
		 botan_hash_output_length(h, &n) == 0 && n == 32 &&
		 botan_hash_update(h, in, len) == 0 &&
		 botan_hash_final(h, out) == 0;
	if (h)
		(void)botan_hash_destroy(h);
	return ok ? 0 : -ERR_CRYPTO;
}

int eth_address_checksum(const uint8_t addr[ETH_ADDRESS_LEN], char out[43])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t hash[32];
	char *hex = out + 2;
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < ETH_ADDRESS_LEN; i++) {
		hex[2 * i] = digits[addr[i] >> 4];
		hex[2 * i + 1] = digits[addr[i] & 15];
	}
	hex[40] = '\0';
	TRY(keccak256((const uint8_t *)hex, 40, hash));
	for (size_t i = 0; i < 40; i++) {
		unsigned nib = (i % 2) ? hash[i / 2] & 15u : hash[i / 2] >> 4;
		if (hex[i] >= 'a' && nib >= 8)
			hex[i] = (char)(hex[i] - 'a' + 'A');
	}
	return 0;
}

int eth_address_parse_checksummed(const char *s, uint8_t out[ETH_ADDRESS_LEN],
				  struct err *e, const char *field)
{
	char want[43];
	uint8_t addr[ETH_ADDRESS_LEN];
	if (!s || strlen(s) != 42 || s[0] != '0' || s[1] != 'x')
		return err_set(e, ERR_INVALID,
			       "%s: expected 0x followed by 40 hex digits", field);
	TRY(hex_decode_exact(s, addr, sizeof(addr), e, field));
	if (eth_address_checksum(addr, want) < 0)
		return err_set(e, ERR_CRYPTO, "%s: cannot compute the checksum",
			       field);
	if (strcmp(want, s) != 0)
		return err_set(e, ERR_INVALID,
			       "%s: EIP-55 checksum mismatch (a mistyped digit, "
			       "or not in checksummed mixed case: copy the "
			       "address from the wallet that owns it)",
			       field);
	memcpy(out, addr, sizeof(addr));
	return 0;
}
