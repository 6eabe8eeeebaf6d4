/*
 * fuzz_interchange.c: libFuzzer target for EIP-3076 interchange import
 * (src/slashing/interchange.c and each backend's import and export). Every
 * input is imported into a fresh in-memory SQLite database and a fresh mem:
 * store: both must accept or refuse it alike, and an input that imports
 * must export to the same file from both, a file that parses and imports
 * again (export never produces something our own import refuses). Both are
 * volatile, which keeps each input cheap (no fsync).
 * Seeds: tests/fuzz/corpus/interchange/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slashing/slashing.h"

static const char *const urls[] = {"sqlite::memory:", "mem:"};
#define N_URLS (sizeof(urls) / sizeof(urls[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct slashing_open_opts volatile_ok = {
		.allow_volatile = true};
	if (size > 64 * 1024)
		return 0;
	struct slashing_db *db[N_URLS];
	char *out[N_URLS] = {NULL};
	int rc[N_URLS];
	struct err e;
	for (size_t i = 0; i < N_URLS; i++) {
		if (slashing_open(urls[i], &volatile_ok, &db[i], &e) < 0)
			__builtin_trap();
		rc[i] = slashing_import(db[i], (const char *)data, size, NULL, &e);
		if (rc[i] != rc[0])
			__builtin_trap(); /* the backends disagree */
		if (rc[i] < 0)
			continue;
		if (slashing_export(db[i], NULL, 0, &out[i], &e) < 0)
			__builtin_trap();
		if (strcmp(out[i], out[0]) != 0)
			__builtin_trap();
		if (slashing_import(db[i], out[i], strlen(out[i]), NULL, &e) < 0)
			__builtin_trap();
	}
	for (size_t i = 0; i < N_URLS; i++) {
		free(out[i]);
		slashing_close(db[i]);
	}
	return 0;
}
