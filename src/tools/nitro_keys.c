/* nitro_keys.c: the nitro-keys command line (placeholder until keystore commands land). */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "tools/tools.h"

int nitro_keys_main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("nitro-keys %s\n", NS_VERSION);
		return 0;
	}
	fprintf(stderr, "usage: nitro-keys COMMAND ...\n");
	return 2;
}
