/*
 * eif_cmd.h: `nitro-keys eif ramdisk|build|describe` (eif_cmd.c), and the
 * image reader kms policy --eif shares. argv is the whole command line:
 * argv[0] "nitro-keys", argv[1] "eif", argv[2] the subcommand.
 */
#ifndef NS_TOOLS_EIF_CMD_H
#define NS_TOOLS_EIF_CMD_H

#include <stddef.h>

#include "core/core.h"
#include "eif/eif.h"

int nitro_keys_eif_main(int argc, char **argv);

/* Reads and parses the image at path (size-capped): *bytes (malloc'd) holds
 * it and info points into it. On failure nothing is kept and e names the
 * path and the problem. */
NS_MUST_CHECK
int eif_cmd_read_image(const char *path, char **bytes, size_t *len,
		       struct eif_info *info, struct err *e);

#endif
