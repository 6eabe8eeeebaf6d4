/*
 * fuzz_interchange.c: libFuzzer target for EIP-3076 interchange import
 * (src/slashing/interchange.c and the SQLite import/export). Every input is
 * imported into a fresh in-memory database; an input that imports must
 * export to a file that parses and imports again into the same database
 * (export never produces something our own import refuses). In-memory
 * SQLite keeps each input cheap (no fsync).
 * Seeds: tests/fuzz/corpus/interchange/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slashing/slashing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	struct slashing_db *db = NULL;
	struct err e;
	static const struct slashing_open_opts volatile_ok = {
		.allow_volatile = true};
	if (slashing_open("sqlite::memory:", &volatile_ok, &db, &e) < 0)
		__builtin_trap();
	if (slashing_import(db, (const char *)data, size, NULL, &e) == 0) {
		char *out = NULL;
		if (slashing_export(db, NULL, 0, &out, &e) < 0)
			__builtin_trap();
		if (slashing_import(db, out, strlen(out), NULL, &e) < 0)
			__builtin_trap();
		free(out);
	}
	slashing_close(db);
	return 0;
}
