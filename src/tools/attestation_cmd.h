/*
 * attestation_cmd.h: `nitro-keys attestation verify FILE [--root=PEM]`.
 * argv is the whole command line: argv[0] "nitro-keys", argv[1]
 * "attestation", argv[2] "verify". Exit 0 valid (one JSON object on stdout),
 * 1 invalid or unreadable (one line on stderr), 2 bad usage.
 */
#ifndef NS_TOOLS_ATTESTATION_CMD_H
#define NS_TOOLS_ATTESTATION_CMD_H

int nitro_keys_attestation_main(int argc, char **argv);

#endif
