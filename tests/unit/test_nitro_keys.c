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
#include <unistd.h>

#include <cmocka.h>
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

/* Runs nitro-keys with stderr captured into errtext. */
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
	fflush(stderr);
	int saved = dup(2);
	char *errfile = pathf("%s/stderr.txt", root);
	int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	dup2(fd, 2);
	close(fd);
	int rc = nitro_keys_main(argc + 1, argv);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
