/*
 * test_nitro_keys.c: nitro-keys new-mnemonic / existing-mnemonic and the
 * bls and keystore --show-secret additions (src/tools), driven in-process.
 *
 * Good runs: the files staking-deposit-cli would write (names, modes, one
 * keystore per index opening to the key derived independently through the
 * library, deposit data for the same pubkeys). Bad input: wrong checksum,
 * unknown word, bad address checksum, index overflow, unwritable or
 * existing output: the exit status, a message naming the problem (never the
 * mnemonic), and no directory or file left behind.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <jansson.h>

#include "crypto/crypto.h"
#include "eth2/eth2.h"
#include "tools/tools.h"

static const char MNEMONIC[] = "abandon abandon abandon abandon abandon "
			       "abandon abandon abandon abandon abandon "
			       "abandon about";
static char root[64];
static char errtext[8192];

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *f)
{
	chmod(p, 0700);
	return remove(p);
}

static int setup(void **state)
{
	strcpy(root, "/tmp/ns-nk-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	static char bufs[16][512];
	static int next;
	char *b = bufs[next++ % 16];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, 512, fmt, ap);
	va_end(ap);
	return b;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs nitro-keys (argv[0] included) with stderr captured into errtext. */
static int run_argv(int argc, char **argv)
{
	fflush(stderr);
	int saved = dup(2);
	char *errfile = pathf("%s/stderr.txt", root);
	int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	int rc = nitro_keys_main(argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *f = fopen(errfile, "r");
	size_t n = fread(errtext, 1, sizeof(errtext) - 1, f);
	errtext[n] = '\0';
	fclose(f);
	unlink(errfile);
	return rc;
}

static int run(int argc, ...)
{
	char *argv[40];
	va_list ap;
	argv[0] = "nitro-keys";
	va_start(ap, argc);
	for (int i = 1; i <= argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc + 1] = NULL;
	return run_argv(argc + 1, argv);
}

/* Entries of root other than the given inputs: none may be left behind. */
static int stray_entries(void)
{
	DIR *d = opendir(root);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "m.txt") &&
		    strcmp(de->d_name, "pw.txt") && strcmp(de->d_name, "file"))
			n++;
	closedir(d);
	return n;
}

static void inputs(const char *mnemonic)
{
	write_text(pathf("%s/m.txt", root), mnemonic);
	write_text(pathf("%s/pw.txt", root), "testpassword\n");
}

static int existing(const char *out, const char *start, const char *extra1,
		    const char *extra2)
{
	return run(11, "existing-mnemonic", pathf("--mnemonic-file=%s/m.txt", root),
		   "--num-validators=2",
		   pathf("--validator-start-index=%s", start), "--chain=hoodi",
		   pathf("--keystore-password-file=%s/pw.txt", root),
		   pathf("--out=%s", out), "--kdf=pbkdf2", "--work-factor=16",
		   extra1, extra2);
}

/* Opens every keystore-*.json of dir and checks it against the library. */
static void check_output(const char *dir, const char *mnemonic,
			 uint32_t start, uint32_t count)
{
	struct secret *m = secret_from(mnemonic, strlen(mnemonic)), *seed = NULL;
	struct secret *pw = secret_from("testpassword", 12);
	struct err e = {0};
	assert_int_equal(bip39_mnemonic_to_seed(m, NULL, &seed, &e), 0);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	uint32_t keystores = 0, deposits = 0;
	json_t *dd = NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *file = pathf("%s/%s", dir, de->d_name);
		struct stat st;
		assert_int_equal(stat(file, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0440);
		if (strncmp(de->d_name, "deposit_data-", 13) == 0) {
			deposits++;
			dd = json_load_file(file, 0, NULL);
			continue;
		}
		unsigned idx;
		long long ts;
		char tail[16];
		assert_int_equal(sscanf(de->d_name,
					"keystore-m_12381_3600_%u_0_0-%lld%15s",
					&idx, &ts, tail),
				 3);
		assert_string_equal(tail, ".json");
		assert_true(idx >= start && idx < start + count);
		char *json = NULL;
		size_t len;
		struct bls_key *k = NULL, *want = NULL;
		assert_int_equal(file_read_all(file, KEYSTORE_MAX_JSON, &json,
					       &len, &e),
				 0);
		assert_int_equal(keystore_decrypt(json, len, pw, &k, &e), 0);
		assert_int_equal(eip2333_derive_path(
					 seed,
					 pathf("m/12381/3600/%u/0/0", idx),
					 &want, &e),
				 0);
		assert_memory_equal(k->pubkey, want->pubkey, 48);
		bls_key_free(k);
		bls_key_free(want);
		free(json);
		keystores++;
	}
	closedir(d);
	assert_int_equal(keystores, count);
	assert_int_equal(deposits, 1);
	assert_true(json_is_array(dd));
	assert_int_equal(json_array_size(dd), count);
	json_decref(dd);
	secret_free(seed);
	secret_free(m);
	secret_free(pw);
}

static void test_existing_mnemonic_writes_keystores_and_deposits(void **state)
{
	inputs(MNEMONIC);
	char out[512];
	snprintf(out, sizeof(out), "%s/keys", root);
	assert_int_equal(existing(out, "3", "--bls-withdrawal",
				  "--compounding=false"),
			 0);
	struct stat st;
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	check_output(out, MNEMONIC, 3, 2);
	assert_null(strstr(errtext, "abandon"));
	/* Never into an existing directory. */
	assert_int_equal(existing(out, "3", "--bls-withdrawal",
				  "--compounding=false"),
			 2);
	assert_non_null(strstr(errtext, "already exists"));
	assert_int_equal(stray_entries(), 1);
}

static void test_new_mnemonic_to_file(void **state)
{
	inputs(MNEMONIC);
	char out[512], mfile[512];
	snprintf(out, sizeof(out), "%s/new", root);
	snprintf(mfile, sizeof(mfile), "%s/words", root);
	assert_int_equal(run(10, "new-mnemonic", "--num-validators=1",
			     "--chain=mainnet",
			     "--withdrawal-address="
			     "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
			     "--compounding", "--amount=64",
			     pathf("--keystore-password-file=%s/pw.txt", root),
			     pathf("--out=%s", out),
			     pathf("--mnemonic-out=%s", mfile),
			     "--kdf=pbkdf2"),
			 0);
	struct stat st;
	assert_int_equal(stat(mfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *words = NULL;
	size_t len;
	struct secret *canon = NULL;
	struct err e = {0};
	assert_int_equal(file_read_all(mfile, 4096, &words, &len, &e), 0);
	assert_int_equal(bip39_mnemonic_check((const uint8_t *)words, len, 24,
					      &canon, &e),
			 0);
	check_output(out, (const char *)canon->bytes, 0, 1);
	secret_free(canon);
	free(words);
}

static void expect_refused(int want_rc, const char *want_msg, int rc)
{
	if (rc != want_rc || !strstr(errtext, want_msg))
		print_message("want %d '%s', got %d: %s", want_rc, want_msg, rc,
			      errtext);
	assert_int_equal(rc, want_rc);
	assert_non_null(strstr(errtext, want_msg));
	assert_null(strstr(errtext, "abandon"));
	assert_int_equal(stray_entries(), 0);
}

static void test_bad_input_refused_leaving_nothing(void **state)
{
	char out[512];
	snprintf(out, sizeof(out), "%s/keys", root);
	const char *addr =
		"--withdrawal-address=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
	/* Wrong checksum (last word). */
	inputs("abandon abandon abandon abandon abandon abandon abandon "
	       "abandon abandon abandon abandon abandon");
	expect_refused(1, "checksum", existing(out, "0", "--bls-withdrawal",
					       "--compounding=false"));
	/* Unknown word. */
	inputs("abandon abandon abandon abandon abandon abandon abandon "
	       "abandon abandon abandon abandonn about");
	expect_refused(1, "word 11", existing(out, "0", "--bls-withdrawal",
					      "--compounding=false"));
	inputs(MNEMONIC);
	/* Address with a broken checksum. */
	expect_refused(2, "--withdrawal-address",
		       existing(out, "0",
				"--withdrawal-address=0x5aAeb6053F3E94C9b9A09f3"
				"3669435E7Ef1BeAeD",
				"--compounding=false"));
	/* Index overflow: 4294967295 + 2 validators. */
	expect_refused(2, "--validator-start-index",
		       existing(out, "4294967295", addr, "--compounding=false"));
	expect_refused(2, "--validator-start-index",
		       existing(out, "4294967296", addr, "--compounding=false"));
	/* Unwritable place for --out (its parent is a regular file). */
	write_text(pathf("%s/file", root), "x");
	expect_refused(1, "--out", existing(pathf("%s/file/keys", root), "0",
					    addr, "--compounding=false"));
	/* Both or neither withdrawal kind; compounding without an address. */
	expect_refused(2, "exactly one",
		       existing(out, "0", addr, "--bls-withdrawal"));
	expect_refused(2, "--compounding",
		       existing(out, "0", "--bls-withdrawal", "--compounding"));
	expect_refused(2, "--amount",
		       existing(out, "0", addr, "--amount=31"));
	/* A short password. */
	write_text(pathf("%s/pw.txt", root), "short");
	expect_refused(1, "shorter than 8",
		       existing(out, "0", addr, "--compounding=false"));
	write_text(pathf("%s/pw.txt", root), "testpassword");
	/* Unknown chain, missing flags. */
	expect_refused(2, "--chain",
		       run(8, "existing-mnemonic", "--num-validators=1",
			   "--validator-start-index=0", "--chain=goerli",
			   "--bls-withdrawal", pathf("--out=%s", out),
			   pathf("--mnemonic-file=%s/m.txt", root),
			   pathf("--keystore-password-file=%s/pw.txt", root)));
	expect_refused(2, "--validator-start-index",
		       run(7, "existing-mnemonic", "--num-validators=1",
			   "--chain=mainnet", "--bls-withdrawal",
			   pathf("--out=%s", out),
			   pathf("--mnemonic-file=%s/m.txt", root),
			   pathf("--keystore-password-file=%s/pw.txt", root)));
	/* new-mnemonic with no terminal and no --mnemonic-out. */
	expect_refused(2, "--mnemonic-out",
		       run(6, "new-mnemonic", "--num-validators=1",
			   "--chain=mainnet", "--bls-withdrawal",
			   pathf("--out=%s", out),
			   pathf("--keystore-password-file=%s/pw.txt", root)));
	/* No password file and no terminal. */
	expect_refused(2, "--keystore-password-file",
		       run(7, "existing-mnemonic", "--num-validators=1",
			   "--validator-start-index=0", "--chain=mainnet",
			   "--bls-withdrawal", pathf("--out=%s", out),
			   pathf("--mnemonic-file=%s/m.txt", root)));
	expect_refused(2, "not a flag of new-mnemonic",
		       run(3, "new-mnemonic", "--validator-start-index=0",
			   "--chain=mainnet"));
}

static void test_show_secret_needs_a_terminal_and_bls_verify(void **state)
{
	inputs(MNEMONIC);
	char out[512];
	snprintf(out, sizeof(out), "%s/keys", root);
	assert_int_equal(existing(out, "0", "--bls-withdrawal",
				  "--compounding=false"),
			 0);
	DIR *d = opendir(out);
	struct dirent *de;
	char ks[1024] = "", dd[1024] = "";
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "keystore-", 9) == 0 && !ks[0])
			snprintf(ks, sizeof(ks), "%s/%s", out, de->d_name);
		if (strncmp(de->d_name, "deposit_data-", 13) == 0)
			snprintf(dd, sizeof(dd), "%s/%s", out, de->d_name);
	}
	closedir(d);
	assert_true(ks[0] && dd[0]);
	assert_int_equal(run(4, "keystore", "decrypt", pathf("--keystore=%s", ks),
			     pathf("--keystore-password-file=%s/pw.txt", root)),
			 0);
	assert_int_equal(run(5, "keystore", "decrypt", pathf("--keystore=%s", ks),
			     pathf("--keystore-password-file=%s/pw.txt", root),
			     "--show-secret"),
			 2);
	assert_non_null(strstr(errtext, "--show-secret"));
	/* bls verify: a deposit signature over its signing root. */
	json_t *list = json_load_file(dd, 0, NULL), *first = json_array_get(list, 0);
	struct deposit_data dep;
	struct err e = {0};
	memset(&dep, 0, sizeof(dep));
	const char *pk = json_string_value(json_object_get(first, "pubkey"));
	const char *sig = json_string_value(json_object_get(first, "signature"));
	uint8_t pkb[48], sigb[96], root_msg[32], domain[32], signing[32];
	assert_int_equal(hex_decode_exact(pathf("0x%s", pk), pkb, 48, &e, "pk"), 0);
	assert_int_equal(hex_decode_exact(pathf("0x%s", sig), sigb, 96, &e, "sig"), 0);
	assert_int_equal(hex_decode_exact(pathf("0x%s", json_string_value(json_object_get(
						  first, "deposit_message_root"))),
					  root_msg, 32, &e, "r"),
			 0);
	static const uint8_t type[4] = {3, 0, 0, 0}, hoodi[4] = {0x10, 0, 9, 0x10},
			     zero[32];
	eth2_compute_domain(type, hoodi, zero, domain);
	eth2_compute_signing_root(root_msg, domain, signing);
	char msg_hex[67];
	hex_encode(signing, 32, msg_hex);
	assert_int_equal(run(5, "bls", "verify", pathf("--pubkey=0x%s", pk),
			     pathf("--message=%s", msg_hex),
			     pathf("--signature=0x%s", sig)),
			 0);
	msg_hex[10] = msg_hex[10] == '0' ? '1' : '0';
	assert_int_equal(run(5, "bls", "verify", pathf("--pubkey=0x%s", pk),
			     pathf("--message=%s", msg_hex),
			     pathf("--signature=0x%s", sig)),
			 1);
	assert_non_null(strstr(errtext, "does not verify"));
	json_decref(list);
}

/* Exit 2 with one stderr line containing want. */
static void usage_line(const char *want, int rc)
{
	if (rc != 2 || !strstr(errtext, want))
		print_message("want 2 '%s', got %d: %s", want, rc, errtext);
	assert_int_equal(rc, 2);
	assert_non_null(strstr(errtext, want));
	assert_ptr_equal(strchr(errtext, '\n') + 1, errtext + strlen(errtext));
}

/*
 * Issue 13 item 4: every subcommand parses by the same rules (core/args.c).
 * Before, `keystore verify --keystore=A --keystore=B` silently used B, and
 * `attestation verify F --root /x` refused the separate value.
 */
static void test_one_flag_rule_for_every_subcommand(void **state)
{
	inputs(MNEMONIC);
	char out[512];
	snprintf(out, sizeof(out), "%s/keys", root);
	assert_int_equal(existing(out, "0", "--bls-withdrawal", "--compounding=false"),
			 0);
	DIR *d = opendir(out);
	struct dirent *de;
	char ks[1024] = "";
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "keystore-", 9) == 0 && !ks[0])
			snprintf(ks, sizeof(ks), "%s/%s", out, de->d_name);
	closedir(d);
	assert_true(ks[0]);
	char *pw = pathf("%s/pw.txt", root);

	/* both syntaxes */
	assert_int_equal(run(6, "keystore", "verify", "--keystore", ks,
			     "--keystore-password-file", pw), 0);
	/* a repeated flag is refused, naming it, whatever the syntax */
	usage_line("--keystore given twice",
		   run(5, "keystore", "verify", "--keystore=/nonexistent/a.json",
		       pathf("--keystore=%s", ks),
		       pathf("--keystore-password-file=%s", pw)));
	usage_line("--keystore given twice",
		   run(6, "keystore", "verify", pathf("--keystore=%s", ks),
		       "--keystore", ks, pathf("--keystore-password-file=%s", pw)));
	usage_line("--bls-withdrawal given twice",
		   existing(out, "0", "--bls-withdrawal", "--bls-withdrawal"));
	usage_line("--pcr0 given twice",
		   run(7, "kms", "policy", "--pcr0", "00", "--pcr0=00",
		       "--role-arn=arn:aws:iam::1:role/a",
		       "--key-admin-arn=arn:aws:iam::1:role/b"));
	usage_line("--out given twice",
		   run(6, "tls", "new", "--out=/nonexistent/a", "--out",
		       "/nonexistent/b", "--san=DNS:x"));
	usage_line("--root given twice",
		   run(7, "attestation", "verify", "F", "--root", "/x",
		       "--root=/y"));
	/* unknown flags and missing values, named */
	usage_line("--keystores is not a flag of keystore verify",
		   run(3, "keystore", "verify", "--keystores=x"));
	usage_line("--pubkey is not a flag of kms policy",
		   run(3, "kms", "policy", "--pubkey=0x00"));
	usage_line("--keystore: expected a value",
		   run(3, "keystore", "verify", "--keystore"));
	usage_line("--table: expected a value",
		   run(4, "list", "--signer-id=s", "--table", "--region=r"));
	usage_line("--tls-cert: expected a value",
		   run(4, "attestation", "verify", "F", "--tls-cert"));
	/* --root /x is --root=/x: past the flags, to reading F (exit 1) */
	assert_int_equal(run(5, "attestation", "verify", "/nonexistent/F",
			     "--root", "/x"), 1);
	assert_non_null(strstr(errtext, "/nonexistent/F"));
}

/* ---- nitro-keys exit ------------------------------------------------- */

#define EXIT_ARGS 10
#define MAINNET_GENESIS 1606824023ull

/* nitro-keys exit with up to EXIT_ARGS flags (NULL-terminated). */
static int exit_run(const char *const *flags)
{
	char *argv[EXIT_ARGS + 3];
	int n = 0;
	argv[n++] = "nitro-keys";
	argv[n++] = "exit";
	for (int i = 0; i < EXIT_ARGS && flags[i]; i++)
		argv[n++] = (char *)flags[i];
	argv[n] = NULL;
	return run_argv(n, argv);
}

struct exit_usage_case {
	const char *want;
	const char *flags[EXIT_ARGS + 1];
};

/*
 * Every bad command line is exit 2 with one stderr line naming the flag,
 * decided before any secret is read: the keystore and password named here do
 * not exist, so reading them first would be exit 1.
 */
static void test_exit_usage_errors_name_the_flag(void **state)
{
	inputs(MNEMONIC);
	char mf[600], cfg[600], cfg_flag[600], out[600], exists[600];
	snprintf(mf, sizeof(mf), "--mnemonic-file=%s/m.txt", root);
	snprintf(cfg, sizeof(cfg), "%s/file", root);
	snprintf(cfg_flag, sizeof(cfg_flag), "--chain=%s/file", root);
	snprintf(out, sizeof(out), "--out=%s/exit.json", root);
	snprintf(exists, sizeof(exists), "--out=%s/m.txt", root);
	/* A config file (named "file" so stray_entries ignores it). */
	write_text(cfg, "PRESET_BASE: mainnet\nGENESIS_FORK_VERSION: 0x00000001\n"
			"ALTAIR_FORK_VERSION: 0x01000001\nALTAIR_FORK_EPOCH: 0\n"
			"BELLATRIX_FORK_VERSION: 0x02000001\nBELLATRIX_FORK_EPOCH: 0\n"
			"CAPELLA_FORK_VERSION: 0x03000001\nCAPELLA_FORK_EPOCH: 0\n"
			"DENEB_FORK_VERSION: 0x04000001\nDENEB_FORK_EPOCH: 0\n");
	const char *ks = "--keystore=/nonexistent/ks.json";
	const char *kp = "--keystore-password-file=/nonexistent/pw.txt";
	const char *ki = "--validator-key-index=0";
	const char *vi = "--validator-index=7";
	const char *ep = "--epoch=300000";
	const char *gvr = "--genesis-validators-root=0x4b363db94e286120d76eb905"
			  "340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95";
	const struct exit_usage_case cases[] = {
		{"missing --chain", {vi, ep, mf, ki, out}},
		{"missing --validator-index", {"--chain=mainnet", ep, mf, ki, out}},
		{"--validator-index: expected", {"--chain=mainnet", "--validator-index=07", ep, mf, ki, out}},
		{"--validator-index: expected", {"--chain=mainnet", "--validator-index=-1", ep, mf, ki, out}},
		{"--validator-index: expected", {"--chain=mainnet", "--validator-index=+7", ep, mf, ki, out}},
		{"--validator-index: expected", {"--chain=mainnet", "--validator-index= 7", ep, mf, ki, out}},
		{"--validator-index: expected", {"--chain=mainnet", "--validator-index=", ep, mf, ki, out}},
		{"--validator-index: expected", {"--chain=mainnet", "--validator-index=18446744073709551616", ep, mf, ki, out}},
		{"exactly one of --keystore and --mnemonic-file", {"--chain=mainnet", vi, ep, out}},
		{"exactly one of --keystore and --mnemonic-file", {"--chain=mainnet", vi, ep, ks, kp, mf, ki, out}},
		{"missing --keystore-password-file", {"--chain=mainnet", vi, ep, ks, out}},
		{"missing --validator-key-index", {"--chain=mainnet", vi, ep, mf, out}},
		{"--validator-key-index: expected", {"--chain=mainnet", vi, ep, mf, "--validator-key-index=4294967296", out}},
		{"--validator-key-index: only with --mnemonic-file", {"--chain=mainnet", vi, ep, ks, kp, ki, out}},
		{"--mnemonic-password-file: only with --mnemonic-file", {"--chain=mainnet", vi, ep, ks, kp, "--mnemonic-password-file=/nonexistent", out}},
		{"--keystore-password-file: only with --keystore", {"--chain=mainnet", vi, ep, mf, ki, kp, out}},
		{"--chain: expected", {"--chain=goerli", vi, ep, mf, ki, out}},
		{"--chain: expected", {"--chain=minimal", vi, ep, mf, ki, out}},
		{"--chain: ", {"--chain=/nonexistent/config.yaml", vi, ep, mf, ki, gvr, out}},
		{"--epoch: expected", {"--chain=mainnet", vi, "--epoch=3e5", mf, ki, out}},
		{"--epoch: expected", {"--chain=mainnet", vi, "--epoch=0x10", mf, ki, out}},
		/* A Deneb chain checks every exit against Capella's version. */
		{"--epoch: 0 is before CAPELLA (epoch 194048 on mainnet)", {"--chain=mainnet", vi, "--epoch=0", mf, ki, out}},
		{"--epoch: 194047 is before CAPELLA", {"--chain=mainnet", vi, "--epoch=194047", mf, ki, out}},
		{"--genesis-validators-root: only with --chain=PATH.yaml", {"--chain=mainnet", vi, ep, mf, ki, gvr, out}},
		{"--genesis-validators-root: required", {cfg_flag, vi, ep, mf, ki, out}},
		{"--genesis-validators-root", {cfg_flag, vi, ep, mf, ki, "--genesis-validators-root=0x4b36", out}},
		/* A config file has no genesis time: no current epoch. */
		{"--epoch: missing", {cfg_flag, vi, mf, ki, gvr, out}},
		{"--out: ", {"--chain=mainnet", vi, ep, mf, ki, exists}},
		{"--count is not a flag of exit", {"--chain=mainnet", vi, ep, mf, ki, "--count=1", out}},
		{"unexpected argument", {"--chain=mainnet", vi, ep, mf, ki, "now", out}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = exit_run(cases[i].flags);
		if (rc != 2 || !strstr(errtext, cases[i].want))
			fail_msg("case %zu: want 2 '%s', got %d: %s", i,
				 cases[i].want, rc, errtext);
		/* One line, and nothing written. */
		char *nl = strchr(errtext, '\n');
		assert_true(nl && nl[1] == '\0');
		assert_null(strstr(errtext, "abandon"));
		assert_int_equal(stray_entries(), 0);
	}
}

/* hash_tree_root(VoluntaryExit(epoch, index)) written out: two LE leaves. */
static void exit_signing_root(uint64_t epoch, uint64_t index,
			      const uint8_t version[4], uint8_t out[32])
{
	static const uint8_t type[4] = {4, 0, 0, 0};
	uint8_t leaves[64] = {0}, pair[64], gvr[32];
	struct err e = {0};
	for (int i = 0; i < 8; i++) {
		leaves[i] = (uint8_t)(epoch >> (8 * i));
		leaves[32 + i] = (uint8_t)(index >> (8 * i));
	}
	SHA256(leaves, sizeof(leaves), pair);
	assert_int_equal(hex_decode_exact("0x4b363db94e286120d76eb905340fdd4e54"
					  "bfe9f06bf33ff6cf5ad27f511bfe95",
					  gvr, 32, &e, "gvr"),
			 0);
	eth2_compute_domain(type, version, gvr, pair + 32);
	SHA256(pair, sizeof(pair), out);
}

/* Reads an exit file: checks its exact shape, returns its signature. */
static void read_exit(const char *file, uint64_t *epoch, uint64_t *index,
		      uint8_t sig[96])
{
	char *text = NULL, sig_hex[200];
	size_t len = 0;
	unsigned long long e_, i_;
	int used = 0;
	struct err e = {0};
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(file_read_all(file, 4096, &text, &len, &e), 0);
	assert_int_equal(sscanf(text,
				"{\"message\":{\"epoch\":\"%llu\",\"validator_"
				"index\":\"%llu\"},\"signature\":\"%194[0-9a-fx]"
				"\"}\n%n",
				&e_, &i_, sig_hex, &used),
			 3);
	assert_int_equal((size_t)used, len);
	assert_int_equal(strlen(sig_hex), 194);
	assert_int_equal(hex_decode_exact(sig_hex, sig, 96, &e, "sig"), 0);
	*epoch = e_;
	*index = i_;
	free(text);
}

/* root/ks.json (fast pbkdf2) for a secret key given as hex, via root/file. */
static void make_keystore(const char *sk_hex)
{
	write_text(pathf("%s/file", root), sk_hex);
	assert_int_equal(run(7, "keystore", "encrypt",
			     pathf("--secret-file=%s/file", root),
			     pathf("--keystore-password-file=%s/pw.txt", root),
			     pathf("--out=%s/ks.json", root), "--kdf=pbkdf2",
			     "--work-factor=16"),
			 0);
}

static struct bls_key *derive(const char *passphrase, uint32_t index)
{
	struct secret *m = secret_from(MNEMONIC, strlen(MNEMONIC)), *seed = NULL;
	struct secret *pp = passphrase ? secret_from(passphrase,
						     strlen(passphrase))
				       : NULL;
	struct bls_key *k = NULL;
	struct err e = {0};
	assert_int_equal(bip39_mnemonic_to_seed(m, pp, &seed, &e), 0);
	assert_int_equal(eip2333_derive_path(seed,
					     pathf("m/12381/3600/%u/0/0", index),
					     &k, &e),
			 0);
	secret_free(seed);
	secret_free(pp);
	secret_free(m);
	return k;
}

/*
 * The same validator key as a mnemonic index and as a keystore signs the
 * same exit; the signature verifies over the spec's signing root with the
 * CAPELLA version and no other epoch; the file is exactly the exit JSON.
 */
static void test_exit_from_mnemonic_and_keystore(void **state)
{
	inputs(MNEMONIC);
	static const uint8_t capella[4] = {3, 0, 0, 0}, deneb[4] = {4, 0, 0, 0};
	struct bls_key *k = derive(NULL, 3);
	struct secret *sk = NULL;
	struct err e = {0};
	char pk_hex[99], sk_hex[67];
	hex_encode(k->pubkey, 48, pk_hex);
	assert_int_equal(bls_key_export(k, &sk, &e), 0);
	hex_encode(sk->bytes, 32, sk_hex);
	secret_free(sk);
	make_keystore(sk_hex);
	const char *mnemonic_flags[] = {
		"--chain=mainnet", "--validator-index=42", "--epoch=300000",
		pathf("--mnemonic-file=%s/m.txt", root),
		"--validator-key-index=3", pathf("--out=%s/e1.json", root), NULL};
	assert_int_equal(exit_run(mnemonic_flags), 0);
	assert_non_null(strstr(errtext, pk_hex));
	assert_non_null(strstr(errtext, "validator index 42, epoch 300000, "
					"chain mainnet"));
	assert_null(strstr(errtext, "abandon"));
	const char *keystore_flags[] = {
		"--chain=mainnet", "--validator-index=42", "--epoch=300000",
		pathf("--keystore=%s/ks.json", root),
		pathf("--keystore-password-file=%s/pw.txt", root),
		pathf("--out=%s/e2.json", root), NULL};
	assert_int_equal(exit_run(keystore_flags), 0);
	assert_non_null(strstr(errtext, pk_hex));
	assert_null(strstr(errtext, "testpassword"));

	uint64_t epoch, index;
	uint8_t sig[96], sig2[96], signing[32];
	read_exit(pathf("%s/e1.json", root), &epoch, &index, sig);
	assert_int_equal(epoch, 300000);
	assert_int_equal(index, 42);
	read_exit(pathf("%s/e2.json", root), &epoch, &index, sig2);
	assert_memory_equal(sig, sig2, 96);
	exit_signing_root(300000, 42, capella, signing);
	assert_int_equal(bls_verify(k->pubkey, signing, 32, sig), 0);
	/* Not under Deneb's own version, not for another epoch or index. */
	exit_signing_root(300000, 42, deneb, signing);
	assert_int_not_equal(bls_verify(k->pubkey, signing, 32, sig), 0);
	exit_signing_root(300001, 42, capella, signing);
	assert_int_not_equal(bls_verify(k->pubkey, signing, 32, sig), 0);
	exit_signing_root(300000, 43, capella, signing);
	assert_int_not_equal(bls_verify(k->pubkey, signing, 32, sig), 0);

	/* Never over an existing file. */
	assert_int_equal(exit_run(keystore_flags), 2);
	assert_non_null(strstr(errtext, "--out"));
	bls_key_free(k);
}

/* No --epoch: the current mainnet epoch; the first Capella epoch is fine. */
static void test_exit_default_epoch_and_capella_boundary(void **state)
{
	inputs(MNEMONIC);
	static const uint8_t capella[4] = {3, 0, 0, 0};
	struct bls_key *k = derive(NULL, 0);
	uint64_t epoch, index;
	uint8_t sig[96], signing[32];
	uint64_t before = ((uint64_t)time(NULL) - MAINNET_GENESIS) / 384;
	const char *now_flags[] = {
		"--chain=mainnet", "--validator-index=0",
		pathf("--mnemonic-file=%s/m.txt", root),
		"--validator-key-index=0", pathf("--out=%s/e1.json", root), NULL};
	assert_int_equal(exit_run(now_flags), 0);
	uint64_t after = ((uint64_t)time(NULL) - MAINNET_GENESIS) / 384;
	read_exit(pathf("%s/e1.json", root), &epoch, &index, sig);
	assert_true(epoch >= before && epoch <= after);
	assert_int_equal(index, 0);
	exit_signing_root(epoch, 0, capella, signing);
	assert_int_equal(bls_verify(k->pubkey, signing, 32, sig), 0);

	const char *capella_flags[] = {
		"--chain=mainnet", "--validator-index=18446744073709551615",
		"--epoch=194048", pathf("--mnemonic-file=%s/m.txt", root),
		"--validator-key-index=0", pathf("--out=%s/e2.json", root), NULL};
	assert_int_equal(exit_run(capella_flags), 0);
	read_exit(pathf("%s/e2.json", root), &epoch, &index, sig);
	assert_int_equal(epoch, 194048);
	assert_true(index == UINT64_MAX);
	exit_signing_root(194048, UINT64_MAX, capella, signing);
	assert_int_equal(bls_verify(k->pubkey, signing, 32, sig), 0);

	/* A config file: its own Capella version, the given root. */
	static const uint8_t cfg_capella[4] = {3, 0, 0, 1};
	write_text(pathf("%s/file", root),
		   "PRESET_BASE: mainnet\nCONFIG_NAME: devnet-7\n"
		   "GENESIS_FORK_VERSION: 0x00000001\n"
		   "ALTAIR_FORK_VERSION: 0x01000001\nALTAIR_FORK_EPOCH: 0\n"
		   "BELLATRIX_FORK_VERSION: 0x02000001\nBELLATRIX_FORK_EPOCH: 0\n"
		   "CAPELLA_FORK_VERSION: 0x03000001\nCAPELLA_FORK_EPOCH: 0\n"
		   "DENEB_FORK_VERSION: 0x04000001\nDENEB_FORK_EPOCH: 10\n");
	const char *cfg_flags[] = {
		pathf("--chain=%s/file", root), "--validator-index=9",
		"--epoch=11",
		"--genesis-validators-root=0x4b363db94e286120d76eb905340fdd4e54"
		"bfe9f06bf33ff6cf5ad27f511bfe95",
		pathf("--mnemonic-file=%s/m.txt", root),
		"--validator-key-index=0", pathf("--out=%s/e3.json", root), NULL};
	assert_int_equal(exit_run(cfg_flags), 0);
	assert_non_null(strstr(errtext, "chain devnet-7"));
	read_exit(pathf("%s/e3.json", root), &epoch, &index, sig);
	exit_signing_root(11, 9, cfg_capella, signing);
	assert_int_equal(bls_verify(k->pubkey, signing, 32, sig), 0);
	bls_key_free(k);
}

/* A BIP-39 passphrase selects another key; bad secrets fail with exit 1. */
static void test_exit_passphrase_and_runtime_failures(void **state)
{
	inputs(MNEMONIC);
	struct bls_key *plain = derive(NULL, 0), *trezor = derive("TREZOR", 0);
	char plain_hex[99], trezor_hex[99];
	hex_encode(plain->pubkey, 48, plain_hex);
	hex_encode(trezor->pubkey, 48, trezor_hex);
	write_text(pathf("%s/file", root), "TREZOR\n");
	const char *pp_flags[] = {
		"--chain=hoodi", "--validator-index=5", "--epoch=1",
		pathf("--mnemonic-file=%s/m.txt", root),
		"--validator-key-index=0",
		pathf("--mnemonic-password-file=%s/file", root),
		pathf("--out=%s/e1.json", root), NULL};
	assert_int_equal(exit_run(pp_flags), 0);
	assert_non_null(strstr(errtext, trezor_hex));
	assert_null(strstr(errtext, plain_hex));
	assert_null(strstr(errtext, "TREZOR"));
	assert_int_equal(unlink(pathf("%s/e1.json", root)), 0);

	/* A mnemonic with a bad checksum. */
	inputs("abandon abandon abandon abandon abandon abandon abandon "
	       "abandon abandon abandon abandon abandon");
	const char *bad_flags[] = {
		"--chain=hoodi", "--validator-index=5", "--epoch=1",
		pathf("--mnemonic-file=%s/m.txt", root),
		"--validator-key-index=0", pathf("--out=%s/e1.json", root), NULL};
	assert_int_equal(exit_run(bad_flags), 1);
	assert_non_null(strstr(errtext, "--mnemonic-file: "));
	assert_null(strstr(errtext, "abandon"));
	/* A keystore that is not there, and one with the wrong password. */
	const char *ks_flags[] = {
		"--chain=hoodi", "--validator-index=5", "--epoch=1",
		pathf("--keystore=%s/ks.json", root),
		pathf("--keystore-password-file=%s/pw.txt", root),
		pathf("--out=%s/e1.json", root), NULL};
	assert_int_equal(exit_run(ks_flags), 1);
	assert_non_null(strstr(errtext, "--keystore: "));
	assert_int_equal(stray_entries(), 0);
	make_keystore("0x263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe"
		      "1462040e3");
	write_text(pathf("%s/pw.txt", root), "another-password");
	assert_int_equal(exit_run(ks_flags), 1);
	assert_non_null(strstr(errtext, "--keystore: "));
	assert_null(strstr(errtext, "another-password"));
	assert_int_equal(unlink(pathf("%s/ks.json", root)), 0);
	assert_int_equal(stray_entries(), 0);
	bls_key_free(plain);
	bls_key_free(trezor);
}

int main(void)
{
	secret_init();
	/* No terminal on stdin: prompts must be refused, not awaited. */
	if (!freopen("/dev/null", "r", stdin))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_existing_mnemonic_writes_keystores_and_deposits,
			setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_mnemonic_to_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_bad_input_refused_leaving_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_show_secret_needs_a_terminal_and_bls_verify, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_one_flag_rule_for_every_subcommand, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_exit_usage_errors_name_the_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_exit_from_mnemonic_and_keystore, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_exit_default_epoch_and_capella_boundary, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_exit_passphrase_and_runtime_failures, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
