/*
 * fuzz_sign_request.c: libFuzzer entry for the sign-request parsers, the
 * parsers every HTTP client reaches: the single-key request and the batch
 * body ({"identifiers", "signing_request"}, src/eth2/batch.c). Each input
 * goes through both, under mainnet, under minimal (different presets, so
 * different list limits, bit lengths and fork schedules) and under a Gloas
 * devnet (minimal preset, every fork at epoch 0, loaded from a config file
 * as a devnet's would be: Gloas is unscheduled on the built-in networks).
 * Any outcome is fine except a crash, a sanitizer finding, or an error that
 * is not -ERR_INVALID; an accepted batch must hold 1..ETH2_BATCH_MAX_IDS
 * keys, no two the same.
 *
 * Seed corpus: tests/fuzz/corpus/sign_request/ (valid requests of several
 * types, from Web3Signer's OpenAPI examples, batch bodies, plus broken
 * ones).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eth2/eth2.h"

#define NETS 3
static struct eth2_network nets[NETS];
static int loaded;

static const char gloas_devnet[] =
	"PRESET_BASE: minimal\nCONFIG_NAME: gloas-fuzz\n"
	"GENESIS_FORK_VERSION: 0x10000038\n"
	"ALTAIR_FORK_VERSION: 0x20000038\nALTAIR_FORK_EPOCH: 0\n"
	"BELLATRIX_FORK_VERSION: 0x30000038\nBELLATRIX_FORK_EPOCH: 0\n"
	"CAPELLA_FORK_VERSION: 0x40000038\nCAPELLA_FORK_EPOCH: 0\n"
	"DENEB_FORK_VERSION: 0x50000038\nDENEB_FORK_EPOCH: 0\n"
	"ELECTRA_FORK_VERSION: 0x60000038\nELECTRA_FORK_EPOCH: 0\n"
	"FULU_FORK_VERSION: 0x70000038\nFULU_FORK_EPOCH: 0\n"
	"GLOAS_FORK_VERSION: 0x80000038\nGLOAS_FORK_EPOCH: 0\n";

static void load_gloas_devnet(struct eth2_network *n)
{
	char path[] = "/tmp/ns-fuzz-gloas-XXXXXX.yaml";
	struct err e;
	int fd = mkstemps(path, 5);
	if (fd < 0)
		abort();
	size_t len = strlen(gloas_devnet);
	int ok = write(fd, gloas_devnet, len) == (ssize_t)len;
	close(fd);
	if (!ok || eth2_network_load(path, n, &e) < 0)
		abort();
	unlink(path);
}

static void load_networks(void)
{
	struct err e;
	if (eth2_network_load("mainnet", &nets[0], &e) < 0 ||
	    eth2_network_load("minimal", &nets[1], &e) < 0)
		abort();
	load_gloas_devnet(&nets[2]);
	loaded = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loaded)
		load_networks();
	for (int i = 0; i < NETS; i++) {
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
