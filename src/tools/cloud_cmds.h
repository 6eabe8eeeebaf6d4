/*
 * cloud_cmds.h: the nitro-keys commands that talk to AWS or make TLS
 * material (kms_cmd.c, tls_cmd.c), reachable as functions so tests can drive
 * them in-process. argv is the whole command line: argv[0] "nitro-keys",
 * argv[1] "kms"/"tls"/"list", argv[2] the subcommand.
 */
#ifndef NS_TOOLS_CLOUD_CMDS_H
#define NS_TOOLS_CLOUD_CMDS_H

#include <stdbool.h>
#include <stddef.h>

int nitro_keys_kms_main(int argc, char **argv);
int nitro_keys_tls_main(int argc, char **argv);

/* ---- shared by the cloud commands (cloud_args.c) ---------------------- */

#define CLOUD_EXIT_RUNTIME 1
#define CLOUD_EXIT_USAGE 2

/* A flag the command accepts; `bool_flag` ones take no value. */
struct cloud_flag {
	const char *name;
	bool bool_flag;
	const char *value; /* set by the parser; "1" for boolean flags */
};

/*
 * --name=value, --name value, --flag; refuses unknown flags, positional
 * arguments and repeats (one line on stderr naming the flag). Returns 0, or
 * the usage exit status. *help is set by --help/-h.
 */
int cloud_parse(int argc, char **argv, struct cloud_flag *flags, size_t n,
		const char *cmd, bool *help);
const char *cloud_get(const struct cloud_flag *flags, size_t n,
		      const char *name);
int cloud_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cloud_fail(const char *msg);

#endif
