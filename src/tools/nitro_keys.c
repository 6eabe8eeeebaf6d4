/*
 * nitro_keys.c: the nitro-keys operator command line: the command table
 * (which flags each command takes, parsed by core's args_parse with the
 * rules every binary shares), the dispatch, and the keystore and bls
 * subcommands.
 *
 *   nitro-keys new-mnemonic | existing-mnemonic ...   (mnemonic_cmd.c)
 *   nitro-keys exit ...                               (exit_cmd.c)
 *   nitro-keys keystore encrypt  --secret-file=F --keystore-password-file=P
 *                                --out=FILE [--kdf=scrypt|pbkdf2] [--path=m/..]
 *   nitro-keys keystore decrypt  --keystore=FILE --keystore-password-file=P
 *                                [--show-secret]
 *   nitro-keys keystore verify   --keystore=FILE --keystore-password-file=P
 *   nitro-keys keystore generate --count=N --out=DIR --keystore-password-file=P
 *   nitro-keys bls verify --pubkey=0x.. --message=0x.. --signature=0x..
 *                                (hidden: for tests and operators' checks)
 *
 * Each subcommand is a thin shell over the crypto library: read files, call
 * the library, write atomically (mode 0600, never over an existing file).
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage; one-line errors on
 * stderr name the flag. Secrets (key files, passwords) are read into secure
 * memory and never printed; decrypt and verify print the public key only
 * (decrypt --show-secret prints the secret too, and only to a terminal).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unistr.h>

#include "core/core.h"
#include "crypto/crypto.h"
#include "tools/keys_cli.h"
#include "tools/attestation_cmd.h"
#include "tools/cloud_cmds.h"
#include "tools/eif_cmd.h"
#include "tools/tools.h"

#define MAX_GENERATE 100000
#define MAX_MESSAGE (1024 * 1024)

/* Where each flag of the mnemonic, exit, keystore and bls commands goes in
 * struct keys_args; COMMANDS says which of them each command takes. */
struct keys_flag {
	const char *name;
	size_t off;
	bool boolean; /* --name alone, or --name=true|false */
};

#define FLAG(n, f) {n, offsetof(struct keys_args, f), false}
#define BOOL_FLAG(n, f) {n, offsetof(struct keys_args, f), true}
static const struct keys_flag FLAGS[] = {
	FLAG("secret-file", secret_file),
	FLAG("keystore-password-file", password_file),
	FLAG("out", out),
	FLAG("kdf", kdf),
	FLAG("path", path),
	FLAG("keystore", keystore),
	FLAG("count", count),
	FLAG("work-factor", work_factor),
	FLAG("description", description),
	FLAG("num-validators", num_validators),
	FLAG("validator-start-index", start_index),
	FLAG("chain", chain),
	FLAG("withdrawal-address", withdrawal_address),
	FLAG("amount", amount),
	FLAG("mnemonic-file", mnemonic_file),
	FLAG("mnemonic-password-file", mnemonic_password_file),
	FLAG("mnemonic-out", mnemonic_out),
	FLAG("pubkey", pubkey),
	FLAG("message", message),
	FLAG("signature", signature),
	FLAG("validator-index", validator_index),
	FLAG("epoch", epoch),
	FLAG("validator-key-index", validator_key_index),
	FLAG("genesis-validators-root", genesis_validators_root),
	BOOL_FLAG("bls-withdrawal", bls_withdrawal),
	BOOL_FLAG("compounding", compounding),
	BOOL_FLAG("show-secret", show_secret),
};
#define NFLAGS (sizeof(FLAGS) / sizeof(FLAGS[0]))

static const char USAGE[] =
	"usage: nitro-keys COMMAND [flags]\n"
	"\n"
	"Validator keys from a BIP-39 mnemonic (as staking-deposit-cli makes them):\n"
	"  new-mnemonic      --num-validators=N --chain=NAME --out=DIR\n"
	"                    (--withdrawal-address=0x.. [--compounding] | --bls-withdrawal)\n"
	"                    [--keystore-password-file=F] [--mnemonic-out=F]\n"
	"                    [--amount=ETH] [--kdf=scrypt|pbkdf2] [--work-factor=N]\n"
	"      24 new words: shown once on the terminal and asked back, or written\n"
	"      to --mnemonic-out=F (mode 0600) for scripted use.\n"
	"  existing-mnemonic --num-validators=N --validator-start-index=I --chain=NAME\n"
	"                    --out=DIR (--withdrawal-address=0x.. [--compounding] |\n"
	"                    --bls-withdrawal) [--mnemonic-file=F]\n"
	"                    [--mnemonic-password-file=F] [--keystore-password-file=F]\n"
	"                    [--amount=ETH] [--kdf=scrypt|pbkdf2] [--work-factor=N]\n"
	"      the mnemonic from F, or a no-echo prompt on the terminal.\n"
	"      NAME: mainnet, hoodi, sepolia or holesky. DIR must not exist; it is\n"
	"      created with keystore-m_12381_3600_<i>_0_0-<time>.json per validator\n"
	"      and deposit_data-<time>.json, or not at all. The withdrawal address\n"
	"      must carry its EIP-55 checksum. --compounding makes 0x02 credentials\n"
	"      (Electra) and allows --amount up to 2048; otherwise the amount is 32.\n"
	"\n"
	"Voluntary exits, signed offline (the signer refuses VOLUNTARY_EXIT by default):\n"
	"  exit --chain=NAME|PATH.yaml --validator-index=N [--epoch=E]\n"
	"       (--keystore=FILE --keystore-password-file=P |\n"
	"        --mnemonic-file=F --validator-key-index=I [--mnemonic-password-file=F])\n"
	"       [--genesis-validators-root=0x..] [--out=FILE]\n"
	"      N is the validator's beacon chain index; E defaults to the chain's\n"
	"      current epoch (required with PATH.yaml, as is the genesis validators\n"
	"      root). The mnemonic's key is m/12381/3600/I/0/0. Signed with the\n"
	"      CAPELLA fork version from Deneb on (EIP-7044). Prints (or writes to\n"
	"      FILE, mode 0644) {\"message\":{\"epoch\":..,\"validator_index\":..},\n"
	"      \"signature\":..}, the body of POST /eth/v1/beacon/pool/voluntary_exits.\n"
	"\n"
	"EIP-2335 keystores:\n"
	"  keystore encrypt  --secret-file=F --keystore-password-file=P --out=FILE\n"
	"                    [--kdf=scrypt|pbkdf2] [--path=m/12381/3600/i/0/0]\n"
	"                    [--description=TEXT] [--work-factor=N]\n"
	"      F holds the 32-byte secret key as hex (0x optional).\n"
	"  keystore decrypt  --keystore=FILE --keystore-password-file=P [--show-secret]\n"
	"      prints the public key (and, with --show-secret, on a terminal only,\n"
	"      the secret key)\n"
	"  keystore verify   --keystore=FILE --keystore-password-file=P\n"
	"      prints {\"pubkey\":..,\"valid\":true}; exit 1 with the reason if not\n"
	"  keystore generate --count=N --out=DIR --keystore-password-file=P\n"
	"                    [--kdf=scrypt|pbkdf2] [--work-factor=N]\n"
	"      N random keys, DIR/keystore-<pubkey prefix>.json (mode 0600)\n"
	"\n"
	"AWS (KMS, DynamoDB) and TLS: see nitro-keys kms --help, nitro-keys tls --help\n"
	"  kms encrypt --key-id=ID --signer-id=ID --keystores-path=DIR ...\n"
	"  kms policy (--pcr0=HEX | --eif=IMAGE) --role-arn=ARN --key-admin-arn=ARN\n"
	"  list --table=T --signer-id=ID     (also kms list, disable, enable)\n"
	"  keymanager token --key-id=ID --signer-id=ID --table=T\n"
	"  tls new --out=DIR --san=DNS:...\n"
	"  attestation verify FILE [--root=PEM] [--expect-pcr0=HEX] [--nonce=HEX]\n"
	"      [--tls-cert=PEM]   a Nitro attestation document (and what it binds)\n"
	"\n"
	"The enclave image, offline: see nitro-keys eif --help\n"
	"  eif ramdisk bootstrap|app ...   eif build ... --out=IMAGE\n"
	"  eif sign IMAGE --signing-key=KEY --signing-certificate=CERT --out=SIGNED\n"
	"  eif describe IMAGE               (PCR0/1/2/8 as nitro-cli describe-eif)\n"
	"\n"
	"Passwords need at least 8 characters; without --keystore-password-file\n"
	"they are asked twice on the terminal, without echo.\n"
	"--work-factor sets scrypt n (power of two) or pbkdf2 c; default 262144.\n"
	"Flags: --name=value or --name value, booleans --name[=true|false]; only\n"
	"tls new --san may be given twice.\n"
	"Exit status: 0 ok, 1 failure, 2 bad usage.\n";

int keys_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "nitro-keys: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see --help)\n");
	return EXIT_USAGE;
}

int keys_fail(const struct err *e)
{
	return args_fail("nitro-keys", e);
}

int keys_need(const char *v, const char *flag)
{
	return v ? 0 : keys_usage_error("missing %s", flag);
}

int keys_parse_kdf(const struct keys_args *a, struct keystore_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kdf = KEYSTORE_KDF_SCRYPT;
	if (a->kdf && strcmp(a->kdf, "pbkdf2") == 0)
		p->kdf = KEYSTORE_KDF_PBKDF2;
	else if (a->kdf && strcmp(a->kdf, "scrypt") != 0)
		return keys_usage_error("--kdf: expected scrypt or pbkdf2, got %s",
				   a->kdf);
	if (a->work_factor) {
		uint64_t wf;
		if (dec_parse_u64(a->work_factor, &wf, NULL, "") < 0 || wf == 0 ||
		    wf > (p->kdf == KEYSTORE_KDF_SCRYPT ? KEYSTORE_SCRYPT_N_MAX
							: KEYSTORE_PBKDF2_C_MAX) ||
		    (p->kdf == KEYSTORE_KDF_SCRYPT && (wf < 2 || (wf & (wf - 1)))))
			return keys_usage_error(
				"--work-factor: %s out of range (scrypt: power "
				"of two 2..2^20; pbkdf2: 1..2^24)",
				a->work_factor);
		p->work_factor = (uint32_t)wf;
	}
	p->path = a->path ? a->path : "";
	p->description = a->description;
	return 0;
}

static int check_password_len(struct secret **pw, const char *what,
			      struct err *e)
{
	if (u8_mbsnlen((*pw)->bytes, (*pw)->len) >= MIN_PASSWORD_CHARS)
		return 0;
	secret_free(*pw);
	*pw = NULL;
	return err_set(e, ERR_INVALID, "%s: password shorter than %d characters",
		       what, MIN_PASSWORD_CHARS);
}

/* Asks twice; refuses a mismatch or a short password. */
static int prompt_password(bool check_len, bool confirm, struct secret **out,
			   struct err *e)
{
	struct secret *again = NULL;
	TRY(prompt_secret("Keystore password: ", out, e));
	int rc = check_len ? check_password_len(out, "keystore password", e) : 0;
	if (rc == 0 && confirm) {
		rc = prompt_secret("Repeat the keystore password: ", &again, e);
		if (rc == 0 && (again->len != (*out)->len ||
				CRYPTO_memcmp(again->bytes, (*out)->bytes,
					      again->len) != 0))
			rc = err_set(e, ERR_INVALID,
				     "keystore password: the two entries differ");
	}
	secret_free(again);
	if (rc < 0) {
		secret_free(*out);
		*out = NULL;
	}
	return rc;
}

int keys_read_password(const char *file, bool check_len, bool confirm,
		       struct secret **out, struct err *e)
{
	if (!file) {
		if (!prompt_have_tty())
			return err_set(e, ERR_USAGE,
				       "--keystore-password-file: missing (and "
				       "no terminal to ask on)");
		return prompt_password(check_len, confirm, out, e);
	}
	if (secret_read_file(file, out, e) < 0)
		return err_prefix(e, "--keystore-password-file: ");
	return check_len ? check_password_len(out, "--keystore-password-file", e)
			 : 0;
}

static int read_password(const char *file, bool check_len,
			 struct secret **out, struct err *e)
{
	return keys_read_password(file, check_len, false, out, e);
}

static int refuse_existing(const char *path, const char *flag, struct err *e)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return err_set(e, ERR_IO, "%s: %s already exists", flag, path);
	return 0;
}

static int write_keystore(const struct bls_key *k, const struct secret *pw,
			  const struct keystore_params *p, const char *file,
			  const char *flag, struct err *e)
{
	char *json = NULL;
	int rc;
	TRY(refuse_existing(file, flag, e));
	TRY_OUT(keystore_encrypt(k, pw, p, &json, e));
	TRY_OUT(file_write_atomic(file, json, strlen(json), 0600, e));
out:
	free(json);
	return rc;
}

static int cmd_encrypt(const struct keys_args *a)
{
	struct keystore_params p;
	struct secret *sk_txt = NULL, *pw = NULL;
	struct bls_key *k = NULL;
	struct err e = {0};
	int rc = keys_need(a->secret_file, "--secret-file");
	if (!rc)
		rc = keys_need(a->password_file, "--keystore-password-file");
	if (!rc)
		rc = keys_need(a->out, "--out");
	if (!rc)
		rc = keys_parse_kdf(a, &p);
	if (rc)
		return rc;
	if (secret_read_file(a->secret_file, &sk_txt, &e) < 0 ||
	    read_password(a->password_file, true, &pw, &e) < 0)
		goto out;
	/* secret_read_file gives no NUL: decode from a terminated copy. */
	struct secret *z = secret_new(sk_txt->len + 1);
	if (!z) {
		err_set(&e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	memcpy(z->bytes, sk_txt->bytes, sk_txt->len);
	z->bytes[sk_txt->len] = '\0';
	int krc = bls_key_from_hex((const char *)z->bytes, &k, &e,
				   "--secret-file");
	secret_free(z);
	if (krc < 0)
		goto out;
	if (write_keystore(k, pw, &p, a->out, "--out", &e) < 0)
		goto out;
	char hex[2 * BLS_PUBKEY_LEN + 3];
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, hex);
	printf("%s\n", hex);
out:
	bls_key_free(k);
	secret_free(sk_txt);
	secret_free(pw);
	return e.code ? keys_fail(&e) : 0;
}

/* Prints the secret key as hex; the caller has checked for a terminal. */
static int show_secret(const struct bls_key *k, struct err *e)
{
	struct secret *sk = NULL, *hex = NULL;
	TRY(bls_key_export(k, &sk, e));
	hex = secret_new(2 * BLS_SECRET_LEN + 4);
	if (!hex) {
		secret_free(sk);
		return err_set(e, ERR_NOMEM, "out of secure memory");
	}
	hex_encode(sk->bytes, sk->len, (char *)hex->bytes);
	memcpy(hex->bytes + 2 * BLS_SECRET_LEN + 2, "\n", 2);
	int rc = prompt_show("secret key: ", e);
	if (rc == 0)
		rc = prompt_show((const char *)hex->bytes, e);
	secret_free(hex);
	secret_free(sk);
	return rc;
}

/* decrypt and verify: open the keystore, report the public key. */
static int cmd_open(const struct keys_args *a, bool verify)
{
	struct secret *pw = NULL;
	struct bls_key *k = NULL;
	char *json = NULL;
	size_t len = 0;
	struct err e = {0};
	int rc = keys_need(a->keystore, "--keystore");
	if (!rc)
		rc = keys_need(a->password_file, "--keystore-password-file");
	/* A secret key goes to a person at a terminal, never into a pipe. */
	if (!rc && a->show_secret &&
	    !(isatty(STDOUT_FILENO) && prompt_have_tty()))
		rc = keys_usage_error("--show-secret: refused, stdout is not a "
				      "terminal (a secret key must not end up "
				      "in a file or a log)");
	if (rc)
		return rc;
	if (file_read_all(a->keystore, KEYSTORE_MAX_JSON, &json, &len, &e) < 0) {
		err_prefix(&e, "--keystore: ");
		goto out;
	}
	if (read_password(a->password_file, false, &pw, &e) < 0)
		goto out;
	if (keystore_decrypt(json, len, pw, &k, &e) < 0) {
		err_prefix(&e, "--keystore: %s: ", a->keystore);
		goto out;
	}
	char hex[2 * BLS_PUBKEY_LEN + 3];
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, hex);
	if (verify)
		printf("{\"pubkey\":\"%s\",\"valid\":true}\n", hex);
	else
		printf("%s\n", hex);
	fflush(stdout);
	if (a->show_secret)
		(void)show_secret(k, &e);
out:
	bls_key_free(k);
	secret_free(pw);
	free(json);
	return e.code ? keys_fail(&e) : 0;
}

/* bls verify: a signature check for tests and operators (no secrets). */
static int cmd_bls_verify(const struct keys_args *a)
{
	uint8_t pk[BLS_PUBKEY_LEN], sig[BLS_SIG_LEN], *msg = NULL;
	size_t msg_len = 0;
	struct err e = {0};
	int rc = keys_need(a->pubkey, "--pubkey");
	if (!rc)
		rc = keys_need(a->message, "--message");
	if (!rc)
		rc = keys_need(a->signature, "--signature");
	if (rc)
		return rc;
	if (hex_decode_exact(a->pubkey, pk, sizeof(pk), &e, "--pubkey") < 0 ||
	    hex_decode_exact(a->signature, sig, sizeof(sig), &e,
			     "--signature") < 0 ||
	    hex_decode_alloc(a->message, MAX_MESSAGE, &msg, &msg_len, &e,
			     "--message") < 0)
		return keys_usage_error("%s", e.msg);
	if (bls_verify(pk, msg, msg_len, sig) < 0)
		err_set(&e, ERR_CRYPTO,
			"--signature: does not verify for --pubkey and --message");
	else
		printf("valid\n");
	free(msg);
	return e.code ? keys_fail(&e) : 0;
}

static int mkdir_p(const char *dir, struct err *e)
{
	char *p = strdup(dir);
	int rc = 0;
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (char *s = p + 1;; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			rc = err_set(e, ERR_IO, "--out: cannot create %s: %s", p,
				     strerror(errno));
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	struct stat st;
	if (!rc && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
		rc = err_set(e, ERR_IO, "--out: %s is not a directory", dir);
	return rc;
}

static int generate_one(const struct keys_args *a, const struct secret *pw,
			const struct keystore_params *p, struct err *e)
{
	struct bls_key *k = NULL;
	char hex[2 * BLS_PUBKEY_LEN + 3], *file = NULL;
	int rc;
	TRY(bls_key_generate(&k, e));
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, hex);
	if (asprintf(&file, "%s/keystore-%.16s.json", a->out, hex + 2) < 0) {
		file = NULL;
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	TRY_OUT(write_keystore(k, pw, p, file, "--out", e));
	printf("%s %s\n", hex, file);
out:
	free(file);
	bls_key_free(k);
	return rc;
}

static int cmd_generate(const struct keys_args *a)
{
	struct keystore_params p;
	struct secret *pw = NULL;
	struct err e = {0};
	uint64_t count = 0;
	int rc = keys_need(a->count, "--count");
	if (!rc)
		rc = keys_need(a->out, "--out");
	if (!rc)
		rc = keys_need(a->password_file, "--keystore-password-file");
	if (!rc)
		rc = keys_parse_kdf(a, &p);
	if (rc)
		return rc;
	if (dec_parse_u64(a->count, &count, NULL, "") < 0 || count == 0 ||
	    count > MAX_GENERATE)
		return keys_usage_error("--count: expected 1..100000, got %s",
				   a->count);
	if (read_password(a->password_file, true, &pw, &e) < 0 ||
	    mkdir_p(a->out, &e) < 0)
		goto out;
	for (uint64_t i = 0; i < count; i++)
		if (generate_one(a, pw, &p, &e) < 0)
			break;
out:
	secret_free(pw);
	fflush(stdout);
	return e.code ? keys_fail(&e) : 0;
}

static int cmd_decrypt(const struct keys_args *a)
{
	return cmd_open(a, false);
}

static int cmd_verify(const struct keys_args *a)
{
	return cmd_open(a, true);
}

static int cmd_new_mnemonic(const struct keys_args *a)
{
	return keys_cmd_mnemonic(a, false);
}

static int cmd_existing_mnemonic(const struct keys_args *a)
{
	return keys_cmd_mnemonic(a, true);
}

/* The commands parsed here, and the flags (of FLAGS) each takes. */
static const struct keys_command {
	const char *cmd, *sub; /* sub NULL: the command has none */
	const char *const *flags;
	int (*run)(const struct keys_args *a);
} COMMANDS[] = {
	{"new-mnemonic", NULL,
	 (const char *const[]){"num-validators", "chain", "out",
			       "withdrawal-address", "bls-withdrawal",
			       "compounding", "amount",
			       "keystore-password-file", "kdf", "work-factor",
			       "mnemonic-out", NULL},
	 cmd_new_mnemonic},
	{"existing-mnemonic", NULL,
	 (const char *const[]){"num-validators", "validator-start-index",
			       "chain", "out", "withdrawal-address",
			       "bls-withdrawal", "compounding", "amount",
			       "keystore-password-file", "kdf", "work-factor",
			       "mnemonic-file", "mnemonic-password-file", NULL},
	 cmd_existing_mnemonic},
	{"exit", NULL,
	 (const char *const[]){"chain", "validator-index", "epoch", "keystore",
			       "keystore-password-file", "mnemonic-file",
			       "mnemonic-password-file", "validator-key-index",
			       "genesis-validators-root", "out", NULL},
	 keys_cmd_exit},
	{"keystore", "encrypt",
	 (const char *const[]){"secret-file", "keystore-password-file", "out",
			       "kdf", "path", "description", "work-factor",
			       NULL},
	 cmd_encrypt},
	{"keystore", "decrypt",
	 (const char *const[]){"keystore", "keystore-password-file",
			       "show-secret", NULL},
	 cmd_decrypt},
	{"keystore", "verify",
	 (const char *const[]){"keystore", "keystore-password-file", NULL},
	 cmd_verify},
	{"keystore", "generate",
	 (const char *const[]){"count", "out", "keystore-password-file", "kdf",
			       "work-factor", NULL},
	 cmd_generate},
	{"bls", "verify",
	 (const char *const[]){"pubkey", "message", "signature", NULL},
	 cmd_bls_verify},
};
#define NCOMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

/* The row for argv[1] (and argv[2]); a usage error naming what is wrong. */
static int find_command(int argc, char **argv, const struct keys_command **out)
{
	const char *cmd = argv[1], *sub = argc > 2 ? argv[2] : NULL;
	bool known = false;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct keys_command *c = &COMMANDS[i];
		if (strcmp(c->cmd, cmd) != 0)
			continue;
		known = true;
		if (!c->sub || (sub && strcmp(c->sub, sub) == 0)) {
			*out = c;
			return 0;
		}
	}
	if (!known)
		return keys_usage_error("unknown command %s", cmd);
	if (!sub)
		return keys_usage_error("%s: missing subcommand", cmd);
	return keys_usage_error("unknown %s subcommand %s", cmd, sub);
}

/* The command's flags by the shared rules (core/args.c), into a. */
static int parse_flags(const struct keys_command *c, int argc, char **argv,
		       struct keys_args *a, bool *help)
{
	struct args_flag defs[NFLAGS];
	for (size_t i = 0; i < NFLAGS; i++)
		defs[i] = (struct args_flag){FLAGS[i].name,
					     FLAGS[i].boolean ? ARGS_BOOL
							      : ARGS_VALUE,
					     (int)i, 0};
	char name[64];
	snprintf(name, sizeof(name), "%s%s%s", c->cmd, c->sub ? " " : "",
		 c->sub ? c->sub : "");
	struct args_spec spec = {.cmd = name, .flags = defs, .nflags = NFLAGS,
				 .only = c->flags};
	struct args r;
	struct err e = {0};
	if (args_parse(&spec, argc, argv, &r, &e) < 0)
		return keys_usage_error("%s", e.msg);
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < r.n; i++) {
		const struct keys_flag *f = &FLAGS[r.item[i].id];
		char *field = (char *)a + f->off;
		if (f->boolean)
			*(bool *)field = strcmp(r.item[i].value, "true") == 0;
		else
			*(const char **)field = r.item[i].value;
	}
	*help = r.help;
	return 0;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int nitro_keys_main(int argc, char **argv)
{
	if (argc < 2 || is_help(argv[1])) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("nitro-keys %s\n", NS_VERSION);
		return 0;
	}
	const char *cmd = argv[1];
	/* Commands with their own flag tables (AWS, TLS, attestation). */
	if (strcmp(cmd, "kms") == 0 || strcmp(cmd, "list") == 0 ||
	    strcmp(cmd, "keymanager") == 0)
		return nitro_keys_kms_main(argc, argv);
	if (strcmp(cmd, "tls") == 0)
		return nitro_keys_tls_main(argc, argv);
	if (strcmp(cmd, "attestation") == 0)
		return nitro_keys_attestation_main(argc, argv);
	if (strcmp(cmd, "eif") == 0)
		return nitro_keys_eif_main(argc, argv);
	if (argc > 2 && is_help(argv[2])) {
		fputs(USAGE, stdout);
		return 0;
	}
	const struct keys_command *c = NULL;
	struct keys_args a;
	bool help = false;
	int rc = find_command(argc, argv, &c);
	int skip = c && c->sub ? 3 : 2;
	if (rc == 0)
		rc = parse_flags(c, argc - skip, argv + skip, &a, &help);
	if (rc || help) {
		if (help)
			fputs(USAGE, stdout);
		return rc;
	}
	secret_init();
	return c->run(&a);
}
