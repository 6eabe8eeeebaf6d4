/*
 * cloud_args.c: the messages of the cloud commands of nitro-keys (kms_cmd.c,
 * tls_cmd.c); their flags are parsed by core's args_parse, with the rules
 * every binary shares. Exit 2 with one line naming the flag on bad usage,
 * exit 1 with one line on a runtime failure.
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"
#include "tools/cloud_cmds.h"

int cloud_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "nitro-keys %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see --help)\n");
	return EXIT_USAGE;
}

int cloud_fail(const char *msg)
{
	fprintf(stderr, "nitro-keys: %s\n", msg);
	return EXIT_RUNTIME;
}
