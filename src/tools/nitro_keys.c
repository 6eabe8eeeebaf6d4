/*
 * nitro_keys.c: the nitro-keys operator command line.
 *
 *   nitro-keys keystore encrypt  --secret-file=F --keystore-password-file=P
 *                                --out=FILE [--kdf=scrypt|pbkdf2] [--path=m/..]
 *   nitro-keys keystore decrypt  --keystore=FILE --keystore-password-file=P
 *   nitro-keys keystore verify   --keystore=FILE --keystore-password-file=P
 *   nitro-keys keystore generate --count=N --out=DIR --keystore-password-file=P
 *
 * Each subcommand is a thin shell over crypto/keystore.c: read files, call
 * the library, write atomically (mode 0600, never over an existing file).
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage; one-line errors on
 * stderr name the flag. Secrets (key files, passwords) are read into secure
 * memory and never printed; decrypt and verify print the public key only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistr.h>

#include "core/core.h"
#include "crypto/crypto.h"
#include "tools/tools.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define MIN_PASSWORD_CHARS 8
#define MAX_GENERATE 100000

struct args {
	const char *secret_file, *password_file, *out, *kdf, *path, *keystore,
		*count, *work_factor, *description;
	bool help;
};

struct flag_def {
	const char *name;
	size_t off;
};

#define FLAG(n, f) {n, offsetof(struct args, f)}
static const struct flag_def FLAGS[] = {
	FLAG("secret-file", secret_file),
	FLAG("keystore-password-file", password_file),
	FLAG("out", out),
	FLAG("kdf", kdf),
	FLAG("path", path),
	FLAG("keystore", keystore),
	FLAG("count", count),
	FLAG("work-factor", work_factor),
	FLAG("description", description),
};

static const char USAGE[] =
	"usage: nitro-keys keystore COMMAND [flags]\n"
	"\n"
	"EIP-2335 keystores:\n"
	"  keystore encrypt  --secret-file=F --keystore-password-file=P --out=FILE\n"
	"                    [--kdf=scrypt|pbkdf2] [--path=m/12381/3600/i/0/0]\n"
	"                    [--description=TEXT] [--work-factor=N]\n"
	"      F holds the 32-byte secret key as hex (0x optional).\n"
	"  keystore decrypt  --keystore=FILE --keystore-password-file=P\n"
	"      prints the public key\n"
	"  keystore verify   --keystore=FILE --keystore-password-file=P\n"
	"      prints {\"pubkey\":..,\"valid\":true}; exit 1 with the reason if not\n"
	"  keystore generate --count=N --out=DIR --keystore-password-file=P\n"
	"                    [--kdf=scrypt|pbkdf2] [--work-factor=N]\n"
	"      N random keys, DIR/keystore-<pubkey prefix>.json (mode 0600)\n"
	"\n"
	"Passwords for encrypt and generate need at least 8 characters.\n"
	"--work-factor sets scrypt n (power of two) or pbkdf2 c; default 262144.\n"
	"Exit status: 0 ok, 1 failure, 2 bad usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "nitro-keys: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see --help)\n");
	return EXIT_USAGE;
}

static int fail(const struct err *e)
{
	fprintf(stderr, "nitro-keys: %s\n", e->msg);
	return EXIT_RUNTIME;
}

/* Accepts --name=value and --name value; refuses anything else. */
static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			a->help = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			return usage_error("unexpected argument %s", arg);
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct flag_def *f = NULL;
		for (size_t k = 0; k < sizeof(FLAGS) / sizeof(FLAGS[0]); k++)
			if (strlen(FLAGS[k].name) == nlen &&
			    strncmp(FLAGS[k].name, name, nlen) == 0)
				f = &FLAGS[k];
		if (!f)
			return usage_error("unknown flag %s", arg);
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!val)
			return usage_error("%s needs a value", arg);
		*(const char **)((char *)a + f->off) = val;
	}
	return 0;
}

/* Refuses flags the subcommand does not take. */
static int only(const struct args *a, const char *const *allowed,
		const char *cmd)
{
	for (size_t k = 0; k < sizeof(FLAGS) / sizeof(FLAGS[0]); k++) {
		if (!*(const char *const *)((const char *)a + FLAGS[k].off))
			continue;
		bool ok = false;
		for (const char *const *p = allowed; *p; p++)
			ok = ok || strcmp(*p, FLAGS[k].name) == 0;
		if (!ok) {
			fprintf(stderr,
				"nitro-keys: --%s is not a flag of keystore %s "
				"(see --help)\n",
				FLAGS[k].name, cmd);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static int need(const char *v, const char *flag)
{
	return v ? 0 : usage_error("missing %s", flag);
}

static int parse_kdf(const struct args *a, struct keystore_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kdf = KEYSTORE_KDF_SCRYPT;
	if (a->kdf && strcmp(a->kdf, "pbkdf2") == 0)
		p->kdf = KEYSTORE_KDF_PBKDF2;
	else if (a->kdf && strcmp(a->kdf, "scrypt") != 0)
		return usage_error("--kdf: expected scrypt or pbkdf2, got %s",
				   a->kdf);
	if (a->work_factor) {
		uint64_t wf;
		if (dec_parse_u64(a->work_factor, &wf, NULL, "") < 0 || wf == 0 ||
		    wf > (p->kdf == KEYSTORE_KDF_SCRYPT ? KEYSTORE_SCRYPT_N_MAX
							: KEYSTORE_PBKDF2_C_MAX) ||
		    (p->kdf == KEYSTORE_KDF_SCRYPT && (wf < 2 || (wf & (wf - 1)))))
			return usage_error(
				"--work-factor: %s out of range (scrypt: power "
				"of two 2..2^20; pbkdf2: 1..2^24)",
				a->work_factor);
		p->work_factor = (uint32_t)wf;
	}
	p->path = a->path ? a->path : "";
	p->description = a->description;
	return 0;
}

static int read_password(const char *file, bool check_len,
			 struct secret **out, struct err *e)
{
	if (secret_read_file(file, out, e) < 0)
		return err_prefix(e, "--keystore-password-file: ");
	if (check_len && u8_mbsnlen((*out)->bytes, (*out)->len) <
				 MIN_PASSWORD_CHARS) {
		secret_free(*out);
		*out = NULL;
		return err_set(e, ERR_INVALID,
			       "--keystore-password-file: password shorter than "
			       "%d characters",
			       MIN_PASSWORD_CHARS);
	}
	return 0;
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

static int cmd_encrypt(const struct args *a)
{
	static const char *const allowed[] = {
		"secret-file", "keystore-password-file", "out", "kdf", "path",
		"description", "work-factor", NULL};
	struct keystore_params p;
	struct secret *sk_txt = NULL, *pw = NULL;
	struct bls_key *k = NULL;
	struct err e = {0};
	int rc = only(a, allowed, "encrypt");
	if (!rc)
		rc = need(a->secret_file, "--secret-file");
	if (!rc)
		rc = need(a->password_file, "--keystore-password-file");
	if (!rc)
		rc = need(a->out, "--out");
	if (!rc)
		rc = parse_kdf(a, &p);
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
	return e.code ? fail(&e) : 0;
}

/* decrypt and verify: open the keystore, report the public key. */
static int cmd_open(const struct args *a, bool verify)
{
	static const char *const allowed[] = {"keystore",
					      "keystore-password-file", NULL};
	const char *cmd = verify ? "verify" : "decrypt";
	struct secret *pw = NULL;
	struct bls_key *k = NULL;
	char *json = NULL;
	size_t len = 0;
	struct err e = {0};
	int rc = only(a, allowed, cmd);
	if (!rc)
		rc = need(a->keystore, "--keystore");
	if (!rc)
		rc = need(a->password_file, "--keystore-password-file");
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
out:
	bls_key_free(k);
	secret_free(pw);
	free(json);
	return e.code ? fail(&e) : 0;
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

static int generate_one(const struct args *a, const struct secret *pw,
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

static int cmd_generate(const struct args *a)
{
	static const char *const allowed[] = {"count", "out",
					      "keystore-password-file", "kdf",
					      "work-factor", NULL};
	struct keystore_params p;
	struct secret *pw = NULL;
	struct err e = {0};
	uint64_t count = 0;
	int rc = only(a, allowed, "generate");
	if (!rc)
		rc = need(a->count, "--count");
	if (!rc)
		rc = need(a->out, "--out");
	if (!rc)
		rc = need(a->password_file, "--keystore-password-file");
	if (!rc)
		rc = parse_kdf(a, &p);
	if (rc)
		return rc;
	if (dec_parse_u64(a->count, &count, NULL, "") < 0 || count == 0 ||
	    count > MAX_GENERATE)
		return usage_error("--count: expected 1..100000, got %s",
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
	return e.code ? fail(&e) : 0;
}

int nitro_keys_main(int argc, char **argv)
{
	struct args a;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("nitro-keys %s\n", NS_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "keystore") != 0)
		return usage_error("unknown command %s", argv[1]);
	if (argc < 3)
		return usage_error("%s: missing subcommand", "keystore");
	const char *sub = argv[2];
	int rc = parse_args(argc - 3, argv + 3, &a);
	if (rc)
		return rc;
	if (a.help || strcmp(sub, "--help") == 0) {
		fputs(USAGE, stdout);
		return 0;
	}
	secret_init();
	if (strcmp(sub, "encrypt") == 0)
		return cmd_encrypt(&a);
	if (strcmp(sub, "decrypt") == 0)
		return cmd_open(&a, false);
	if (strcmp(sub, "verify") == 0)
		return cmd_open(&a, true);
	if (strcmp(sub, "generate") == 0)
		return cmd_generate(&a);
	return usage_error("unknown keystore subcommand %s", sub);
}
