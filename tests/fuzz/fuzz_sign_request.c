/*
 * fuzz_sign_request.c: libFuzzer entry for the sign-request parsers, the
 * parsers every HTTP client reaches: the single-key request and the batch
 * body ({"identifiers", "signing_request"}, src/eth2/batch.c). Each input
 * goes through both, under mainnet and under minimal (different presets,
 * so different list limits, bit lengths and fork schedules). Any outcome
 * is fine except a crash, a sanitizer finding, or an error that is not
 * -ERR_INVALID; an accepted batch must hold 1..ETH2_BATCH_MAX_IDS keys,
 * no two the same.
 *
 * Seed corpus: tests/fuzz/corpus/sign_request/ (valid requests of several
 * types, from Web3Signer's OpenAPI examples, batch bodies, plus broken
 * ones).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
		struct eth2_batch b;
		rc = eth2_batch_parse(&nets[i], (const char *)data, size, &b, &e);
		if (rc != 0 && rc != -ERR_INVALID && rc != -ERR_NOMEM)
			abort();
		if (rc == 0 && (b.n < 1 || b.n > ETH2_BATCH_MAX_IDS ||
				!eth2_batch_type_allowed(b.sg.type)))
			abort();
		for (size_t j = 1; rc == 0 && j < b.n; j++)
			if (memcmp(b.pubkeys[j - 1], b.pubkeys[j],
				   BLS_PUBKEY_LEN) == 0)
				abort();
		eth2_batch_free(&b);
	}
	return 0;
}
