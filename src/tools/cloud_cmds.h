/*
 * cloud_cmds.h: the nitro-keys commands that talk to AWS or make TLS
 * material (kms_cmd.c, tls_cmd.c), reachable as functions so tests can drive
 * them in-process. argv is the whole command line: argv[0] "nitro-keys",
 * argv[1] "kms"/"tls"/"list", argv[2] the subcommand.
 */
#ifndef NS_TOOLS_CLOUD_CMDS_H
#define NS_TOOLS_CLOUD_CMDS_H

int nitro_keys_kms_main(int argc, char **argv);
int nitro_keys_tls_main(int argc, char **argv);

/* ---- shared by the cloud commands (cloud_args.c) ---------------------- */

/* "nitro-keys CMD: MESSAGE (see --help)" on stderr; returns EXIT_USAGE. */
int cloud_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "nitro-keys: MESSAGE" on stderr; returns EXIT_RUNTIME. */
int cloud_fail(const char *msg);

#endif
