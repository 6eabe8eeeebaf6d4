/*
 * fuzz_keystore.c: libFuzzer target for the EIP-2335 keystore parser
 * (src/crypto/keystore.c). Every input goes through keystore_inspect (full
 * validation, no KDF). Inputs that validate with a cheap work factor are
 * also decrypted with a fixed password, so the checksum, AES and key checks
 * run too; expensive ones are skipped to keep the fuzzer fast (the caps
 * themselves are what keystore_inspect enforces).
 * Seeds: tests/fuzz/corpus/keystore/ (pbkdf2 c<=16, scrypt n<=16).
 */
#include <stdint.h>
#include <string.h>

#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keystore_info info;
	struct err e;
	if (keystore_inspect((const char *)data, size, &info, &e) < 0)
		return 0;
	if (info.work_factor > 64)
		return 0;
	static const char pw[] = "fuzzing-password";
	struct secret *p = secret_from(pw, sizeof(pw) - 1);
	struct bls_key *k = NULL;
	if (p && keystore_decrypt((const char *)data, size, p, &k, &e) == 0) {
		/* A decrypted key must match the pubkey the file claims. */
		if (info.has_pubkey &&
		    memcmp(k->pubkey, info.pubkey, BLS_PUBKEY_LEN) != 0)
			__builtin_trap();
		bls_key_free(k);
	}
	secret_free(p);
	return 0;
}
