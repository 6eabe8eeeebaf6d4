/*
 * keys_cli.h: internal to src/tools: what the nitro-keys command files
 * share (flag parsing, password and file helpers, terminal prompts).
 */
#ifndef NS_TOOLS_KEYS_CLI_H
#define NS_TOOLS_KEYS_CLI_H

#include <stdbool.h>

#include "core/core.h"
#include "crypto/crypto.h"

#define MIN_PASSWORD_CHARS 8

/* Every flag of the commands nitro_keys.c parses; NULL when not given. */
struct keys_args {
	const char *secret_file, *password_file, *out, *kdf, *path, *keystore,
		*count, *work_factor, *description;
	const char *num_validators, *start_index, *chain, *withdrawal_address,
		*amount, *mnemonic_file, *mnemonic_password_file, *mnemonic_out;
	const char *pubkey, *message, *signature;
	const char *validator_index, *epoch, *validator_key_index,
		*genesis_validators_root;
	bool bls_withdrawal, compounding, show_secret;
	bool help;
};

int keys_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "nitro-keys: <msg>" and returns EXIT_RUNTIME. */
int keys_fail(const struct err *e);
int keys_need(const char *v, const char *flag);
int keys_parse_kdf(const struct keys_args *a, struct keystore_params *p);
/*
 * The keystore password from --keystore-password-file, or (when that flag is
 * absent and stdin is a terminal) a no-echo prompt asked twice. check_len
 * enforces MIN_PASSWORD_CHARS (staking-deposit-cli's rule).
 */
int keys_read_password(const char *file, bool check_len, bool confirm,
		       struct secret **out, struct err *e);

/* ---- terminal (prompt.c) ---- */

/* True when stdin and /dev/tty are a terminal an operator can answer on. */
bool prompt_have_tty(void);
/* Asks on /dev/tty and reads one line with echo off into secure memory. */
int prompt_secret(const char *question, struct secret **out, struct err *e);
/* Writes text to /dev/tty (never to stdout/stderr, which may be logged). */
int prompt_show(const char *text, struct err *e);
/* Waits for Enter on /dev/tty. */
int prompt_wait_enter(const char *question, struct err *e);

/* ---- commands ---- */

int keys_cmd_mnemonic(const struct keys_args *a, bool existing);
/* nitro-keys exit: a signed voluntary exit from a keystore or a mnemonic. */
int keys_cmd_exit(const struct keys_args *a);

#endif
