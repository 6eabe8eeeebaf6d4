/*
 * fuzz_sign_request.c: libFuzzer entry for the sign-request parser, the
 * parser every HTTP client reaches. Each input is parsed under mainnet and
 * under minimal (different presets, so different list limits, bit lengths
 * and fork schedules). Any outcome is fine except a crash, a sanitizer
 * finding, or an error that is not -ERR_INVALID.
 *
 * Seed corpus: tests/fuzz/corpus/sign_request/ (valid requests of several
 * types, from Web3Signer's OpenAPI examples, plus broken ones).
 */
#include <stdint.h>
#include <stdlib.h>

#include "eth2/eth2.h"

static struct eth2_network nets[2];
static int loaded;

static void load_networks(void)
{
	struct err e;
	if (eth2_network_load("mainnet", &nets[0], &e) < 0 ||
	    eth2_network_load("minimal", &nets[1], &e) < 0)
		abort();
	loaded = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loaded)
		load_networks();
	for (int i = 0; i < 2; i++) {
		struct eth2_signing s;
		struct err e;
		int rc = eth2_signing_parse(&nets[i], (const char *)data, size,
					    &s, &e);
		if (rc != 0 && rc != -ERR_INVALID && rc != -ERR_NOMEM)
			abort();
	}
	return 0;
}
