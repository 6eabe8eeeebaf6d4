/*
 * test_keys.c: the key registry (src/signer/keys.c) and the nitro-keys
 * keystore commands (src/tools/nitro_keys.c), on temporary directories of
 * keystores and Web3Signer YAML key configs: what loads, what fails and how
 * it is reported, lookups, ordering, parallel loading, option errors.
 */
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

#include "crypto/crypto.h"
#include "signer/keys.h"
#include "tools/tools.h"

static const char VECTOR_SECRET[] =
	"0x000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
static const char VECTOR_PUBKEY[] =
	"9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07";

static char root[64];

static void unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *f)
{
	return remove(p);
}

static int setup(void **state)
{
	strcpy(root, "/tmp/ns-keys-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	return nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *pathf(const char *fmt, ...)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, 512, fmt, ap);
	va_end(ap);
	return b;
}

static void mkdirs(const char *p)
{
	assert_int_equal(mkdir(p, 0700), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A fresh key, encrypted (cheap KDF) to `file`; returns the pubkey. */
static void make_keystore(const char *file, const char *password,
			  enum keystore_kdf kdf, uint32_t wf, const char *dpath,
			  uint8_t pk[48], char sk_hex[67])
{
	struct bls_key *k = NULL;
	struct secret *p = secret_from(password, strlen(password));
	struct keystore_params params = {kdf, dpath, NULL, wf};
	char *json = NULL;
	assert_int_equal(bls_key_generate(&k, NULL), 0);
	assert_int_equal(keystore_encrypt(k, p, &params, &json, NULL), 0);
	write_text(file, json);
	if (pk)
		memcpy(pk, k->pubkey, 48);
	if (sk_hex) {
		struct secret *ex = NULL;
		assert_int_equal(bls_key_export(k, &ex, NULL), 0);
		hex_encode(ex->bytes, 32, sk_hex);
		secret_free(ex);
	}
	free(json);
	secret_free(p);
	bls_key_free(k);
}

static bool has_failure(const struct key_load_report *rep, const char *a,
			const char *b)
{
	for (size_t i = 0; i < rep->nfailures; i++)
		if (strstr(rep->failures[i], a) && (!b || strstr(rep->failures[i], b)))
			return true;
	return false;
}

static void test_mixed_sources_load_and_report(void **state)
{
	char ks[512];
	snprintf(ks, sizeof(ks), "%s/keystores", root);
	char pw[512];
	snprintf(pw, sizeof(pw), "%s/passwords", root);
	char cfg[512];
	snprintf(cfg, sizeof(cfg), "%s/configs", root);
	char other[512];
	snprintf(other, sizeof(other), "%s/other", root);
	mkdirs(ks);
	mkdirs(pw);
	mkdirs(cfg);
	mkdirs(other);
	uint8_t pk_a[48], pk_b[48], pk_f[48], pk_g[48];
	char sk_a[67];
	make_keystore(pathf("%s/a.json", ks), "alpha-password",
		      KEYSTORE_KDF_PBKDF2, 16, "m/12381/3600/0/0/0", pk_a, sk_a);
	write_text(pathf("%s/a.txt", pw), "alpha-password\n");
	make_keystore(pathf("%s/b.json", ks), "bravo-password",
		      KEYSTORE_KDF_SCRYPT, 16, "", pk_b, NULL);
	write_text(pathf("%s/b.txt", pw), "bravo-password");
	make_keystore(pathf("%s/c.json", ks), "charlie-password",
		      KEYSTORE_KDF_PBKDF2, 16, "", NULL, NULL);
	write_text(pathf("%s/c.txt", pw), "not-charlies-password");
	write_text(pathf("%s/d.json", ks), "{\"crypto\": ");
	write_text(pathf("%s/d.txt", pw), "whatever1");
	make_keystore(pathf("%s/e.json", ks), "echo-password",
		      KEYSTORE_KDF_PBKDF2, 16, "", NULL, NULL);
	write_text(pathf("%s/notes.txt", ks), "not a keystore");
	write_text(pathf("%s/.hidden.json", ks), "{}");

	make_keystore(pathf("%s/f.json", other), "foxtrot-password",
		      KEYSTORE_KDF_PBKDF2, 16, "m/12381/3600/5/0/0", pk_f, NULL);
	write_text(pathf("%s/f.txt", other), "foxtrot-password\n");
	make_keystore(pathf("%s/g.json", other), "golf-password",
		      KEYSTORE_KDF_PBKDF2, 16, "", pk_g, NULL);
	write_text(pathf("%s/g.txt", other), "golf-password");

	write_text(pathf("%s/raw.yaml", cfg),
		   pathf("type: \"file-raw\"\nkeyType: \"BLS\"\nprivateKey: \"%s\"\n",
			 VECTOR_SECRET));
	write_text(pathf("%s/ks.yml", cfg),
		   "type: file-keystore\n"
		   "keystoreFile: ../other/f.json\n"
		   "keystorePasswordFile: ../other/f.txt\n");
	write_text(pathf("%s/multi.yaml", cfg),
		   pathf("type: file-raw\n"
			 "privateKey: 0x0000000000000000000000000000000000000000000000000000000000000002\n"
			 "---\n"
			 "type: file-keystore\n"
			 "keyType: BLS\n"
			 "keystoreFile: %s/g.json\n"
			 "keystorePasswordFile: %s/g.txt\n"
			 "---\n"
			 "type: file-raw\n"
			 "keyType: SECP256K1\n"
			 "privateKey: 0x0000000000000000000000000000000000000000000000000000000000000003\n"
			 "---\n",
			 other, other));
	write_text(pathf("%s/bad.yaml", cfg), "type: [unclosed\n");
	write_text(pathf("%s/unknown.yaml", cfg),
		   "type: aws-kms\nkmsKeyId: abc\n");
	write_text(pathf("%s/dup.yaml", cfg),
		   pathf("type: file-raw\nprivateKey: %s\n", sk_a));
	write_text(pathf("%s/readme.md", cfg), "ignored");

	struct key_load_opts o = {ks, pw, NULL, cfg, 2, false};
	struct key_registry *r = NULL;
	struct key_load_report rep;
	struct err e = {0};
	if (keys_load(&o, &r, &rep, &e))
		fail_msg("%s", e.msg);
	for (size_t i = 0; i < rep.nfailures; i++)
		printf("# failure: %s\n", rep.failures[i]);
	assert_int_equal(rep.keystores_loaded, 2);
	assert_int_equal(rep.keystores_failed, 3);
	assert_int_equal(rep.configs_loaded, 5);
	assert_int_equal(rep.configs_failed, 3);
	assert_int_equal(rep.duplicates, 1);
	assert_int_equal(rep.nfailures, 6);
	assert_int_equal(keys_count(r), 6);

	assert_true(has_failure(&rep, "c.json", "checksum"));
	assert_true(has_failure(&rep, "d.json", "JSON"));
	assert_true(has_failure(&rep, "e.json", "password file"));
	assert_true(has_failure(&rep, "multi.yaml (document 3)", "keyType"));
	assert_true(has_failure(&rep, "bad.yaml", "YAML"));
	assert_true(has_failure(&rep, "unknown.yaml", "type: unsupported"));
	for (size_t i = 0; i < rep.nfailures; i++) {
		assert_null(strstr(rep.failures[i], "charlie-password"));
		assert_null(strstr(rep.failures[i], "0000000003"));
	}

	const struct key_entry *ent = keys_find_entry(r, pk_a);
	assert_non_null(ent);
	assert_false(ent->readonly);
	assert_string_equal(ent->path, "m/12381/3600/0/0/0");
	assert_non_null(strstr(ent->source, "a.json"));
	assert_memory_equal(keys_find(r, pk_a)->pubkey, pk_a, 48);
	assert_non_null(keys_find(r, pk_b));
	ent = keys_find_entry(r, pk_f);
	assert_non_null(ent);
	assert_true(ent->readonly);
	assert_string_equal(ent->path, "m/12381/3600/5/0/0");
	ent = keys_find_entry(r, pk_g);
	assert_non_null(ent);
	assert_true(ent->readonly);
	uint8_t vpk[48];
	unhex(VECTOR_PUBKEY, vpk, 48);
	ent = keys_find_entry(r, vpk);
	assert_non_null(ent);
	assert_true(ent->readonly);
	assert_null(ent->path);
	assert_non_null(strstr(ent->source, "raw.yaml"));

	/* Unknown keys are not found; iteration is strictly ascending. */
	uint8_t nope[48] = {0xaa};
	assert_null(keys_find(r, nope));
	for (size_t i = 1; i < keys_count(r); i++)
		assert_true(memcmp(keys_pubkey_at(r, i - 1), keys_pubkey_at(r, i),
				   48) < 0);
	assert_null(keys_pubkey_at(r, keys_count(r)));

	/* A signature from a loaded key verifies under its pubkey. */
	uint8_t msg[32] = {7}, sig[96];
	bls_sign(keys_find(r, pk_g), msg, sizeof(msg), sig);
	assert_int_equal(bls_verify(pk_g, msg, sizeof(msg), sig), 0);

	key_load_report_free(&rep);
	keys_free(r);
}

static void test_shared_password_file(void **state)
{
	char ks[512];
	snprintf(ks, sizeof(ks), "%s/ks", root);
	mkdirs(ks);
	uint8_t pk[3][48];
	for (int i = 0; i < 3; i++)
		make_keystore(pathf("%s/k%d.json", ks, i), "one-password-for-all",
			      KEYSTORE_KDF_PBKDF2, 16, "", pk[i], NULL);
	write_text(pathf("%s/pw", root), "one-password-for-all\n");
	struct key_load_opts o = {ks, NULL, pathf("%s/pw", root), NULL, 0, false};
	struct key_registry *r = NULL;
	struct key_load_report rep;
	assert_int_equal(keys_load(&o, &r, &rep, NULL), 0);
	assert_int_equal(rep.keystores_loaded, 3);
	assert_int_equal(rep.keystores_failed, 0);
	assert_int_equal(rep.nfailures, 0);
	for (int i = 0; i < 3; i++)
		assert_non_null(keys_find(r, pk[i]));
	key_load_report_free(&rep);
	keys_free(r);
}

static void test_parallel_load_matches_serial(void **state)
{
	enum { N = 16 };
	char ks[512];
	snprintf(ks, sizeof(ks), "%s/many", root);
	mkdirs(ks);
	uint8_t pk[N][48];
	for (int i = 0; i < N; i++)
		make_keystore(pathf("%s/k%02d.json", ks, i), "parallel-pass",
			      KEYSTORE_KDF_SCRYPT, 1024, "", pk[i], NULL);
	write_text(pathf("%s/pw", root), "parallel-pass");
	struct key_registry *r1 = NULL, *r4 = NULL;
	struct key_load_opts o = {ks, NULL, pathf("%s/pw", root), NULL, 1, false};
	struct key_load_report rep;
	uint64_t live = secret_stats_live();
	assert_int_equal(keys_load(&o, &r1, &rep, NULL), 0);
	assert_int_equal(rep.keystores_loaded, N);
	key_load_report_free(&rep);
	o.threads = 4;
	assert_int_equal(keys_load(&o, &r4, &rep, NULL), 0);
	assert_int_equal(rep.keystores_loaded, N);
	assert_int_equal(rep.keystores_failed, 0);
	key_load_report_free(&rep);
	assert_int_equal(keys_count(r1), N);
	assert_int_equal(keys_count(r4), N);
	for (size_t i = 0; i < N; i++)
		assert_memory_equal(keys_pubkey_at(r1, i), keys_pubkey_at(r4, i),
				    48);
	for (int i = 0; i < N; i++)
		assert_non_null(keys_find(r4, pk[i]));
	keys_free(r1);
	keys_free(r4);
	/* Every key and password buffer was wiped and returned. */
	assert_int_equal(secret_stats_live(), live);
}

static void expect_opts_error(struct key_load_opts o, const char *part)
{
	struct key_registry *r = NULL;
	struct err e = {0};
	assert_int_equal(keys_load(&o, &r, NULL, &e), -ERR_USAGE);
	assert_null(r);
	if (!strstr(e.msg, part))
		fail_msg("\"%s\" lacks \"%s\"", e.msg, part);
}

static void test_unusable_options_refused(void **state)
{
	char d[512];
	snprintf(d, sizeof(d), "%s/empty", root);
	mkdirs(d);
	write_text(pathf("%s/pw", root), "password");
	char pw[512];
	snprintf(pw, sizeof(pw), "%s/pw", root);
	expect_opts_error((struct key_load_opts){d, d, pw, NULL, 0, false},
			  "exclusive");
	expect_opts_error((struct key_load_opts){d, NULL, NULL, NULL, 0, false},
			  "--keystores-path needs");
	expect_opts_error(
		(struct key_load_opts){pathf("%s/missing", root), NULL, pw, NULL, 0, false},
		"--keystores-path");
	expect_opts_error(
		(struct key_load_opts){NULL, NULL, NULL, pathf("%s/nope", root), 0, false},
		"--key-store-path");
	expect_opts_error((struct key_load_opts){NULL, d, NULL, NULL, 0, false},
			  "without --keystores-path");
	/* Nothing configured, or empty directories: an empty registry. */
	struct key_registry *r = NULL;
	struct key_load_report rep;
	assert_int_equal(keys_load(&(struct key_load_opts){d, NULL, pw, d, 0, false},
				   &r, &rep, NULL),
			 0);
	assert_int_equal(keys_count(r), 0);
	assert_null(keys_find(r, (uint8_t[48]){0}));
	key_load_report_free(&rep);
	keys_free(r);
}

/* ---- nitro-keys keystore ... ---------------------------------------- */

static int run(const char *a0, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	argv[argc++] = (char *)"nitro-keys";
	va_start(ap, a0);
	for (const char *a = a0; a && argc < 15; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	return nitro_keys_main(argc, argv);
}

static void test_cli_generate_then_load(void **state)
{
	char out[512];
	snprintf(out, sizeof(out), "%s/gen/deep", root);
	char pwf[512];
	snprintf(pwf, sizeof(pwf), "%s/cli-pw", root);
	write_text(pwf, "cli-password\n");
	assert_int_equal(run("keystore", "generate", "--count=3",
			     pathf("--out=%s", out),
			     pathf("--keystore-password-file=%s", pwf),
			     "--kdf=pbkdf2", "--work-factor=16", NULL),
			 0);
	struct key_registry *r = NULL;
	struct key_load_report rep;
	assert_int_equal(keys_load(&(struct key_load_opts){out, NULL, pwf, NULL, 0, false},
				   &r, &rep, NULL),
			 0);
	assert_int_equal(rep.keystores_loaded, 3);
	assert_int_equal(keys_count(r), 3);
	/* Named after the pubkey, mode 0600. */
	char hex[99];
	hex_encode(keys_pubkey_at(r, 0), 48, hex);
	char file[600];
	snprintf(file, sizeof(file), "%s/keystore-%.16s.json", out, hex + 2);
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(run("keystore", "verify", pathf("--keystore=%s", file),
			     pathf("--keystore-password-file=%s", pwf), NULL),
			 0);
	key_load_report_free(&rep);
	keys_free(r);
}

static void test_cli_encrypt_decrypt_verify(void **state)
{
	char sk[512];
	snprintf(sk, sizeof(sk), "%s/sk.hex", root);
	char pwf[512];
	snprintf(pwf, sizeof(pwf), "%s/enc-pw", root);
	char bad[512];
	snprintf(bad, sizeof(bad), "%s/bad-pw", root);
	char out[512];
	snprintf(out, sizeof(out), "%s/enc.json", root);
	write_text(sk, pathf("%s\n", VECTOR_SECRET));
	write_text(pwf, "encrypt-password");
	write_text(bad, "other-password");
	assert_int_equal(run("keystore", "encrypt", pathf("--secret-file=%s", sk),
			     pathf("--keystore-password-file=%s", pwf),
			     pathf("--out=%s", out), "--kdf=scrypt",
			     "--work-factor=1024", "--path=m/12381/3600/0/0/0",
			     NULL),
			 0);
	char *json = NULL;
	size_t len = 0;
	assert_int_equal(file_read_all(out, 1 << 20, &json, &len, NULL), 0);
	struct keystore_info info;
	assert_int_equal(keystore_inspect(json, len, &info, NULL), 0);
	uint8_t vpk[48];
	unhex(VECTOR_PUBKEY, vpk, 48);
	assert_memory_equal(info.pubkey, vpk, 48);
	assert_string_equal(info.path, "m/12381/3600/0/0/0");
	assert_null(strstr(json, VECTOR_SECRET + 2));
	free(json);
	assert_int_equal(run("keystore", "decrypt", pathf("--keystore=%s", out),
			     pathf("--keystore-password-file=%s", pwf), NULL),
			 0);
	assert_int_equal(run("keystore", "verify", pathf("--keystore=%s", out),
			     pathf("--keystore-password-file=%s", bad), NULL),
			 1);
	/* Never overwrites an existing keystore. */
	assert_int_equal(run("keystore", "encrypt", pathf("--secret-file=%s", sk),
			     pathf("--keystore-password-file=%s", pwf),
			     pathf("--out=%s", out), NULL),
			 1);
}

static void test_cli_usage_and_password_rules(void **state)
{
	char shortpw[512];
	snprintf(shortpw, sizeof(shortpw), "%s/short-pw", root);
	write_text(shortpw, "1234567\n");
	assert_int_equal(run("--version", NULL), 0);
	assert_int_equal(run("--help", NULL), 0);
	assert_int_equal(run(NULL), 2);
	assert_int_equal(run("frobnicate", NULL), 2);
	assert_int_equal(run("keystore", "explode", NULL), 2);
	assert_int_equal(run("keystore", "generate", "--count=1", NULL), 2);
	assert_int_equal(run("keystore", "generate", "--count=0", "--out=x",
			     "--keystore-password-file=y", NULL),
			 2);
	assert_int_equal(run("keystore", "generate", "--count=1", "--out=x",
			     "--keystore-password-file=y", "--kdf=argon2", NULL),
			 2);
	assert_int_equal(run("keystore", "generate", "--count=1", "--out=x",
			     "--keystore-password-file=y", "--work-factor=1000",
			     NULL),
			 2);
	assert_int_equal(run("keystore", "decrypt", "--keystore=x",
			     "--keystore-password-file=y", "--count=2", NULL),
			 2);
	assert_int_equal(run("keystore", "verify", "--bogus=1", NULL), 2);
	/* Seven characters is too short; the directory is never created. */
	char out[512];
	snprintf(out, sizeof(out), "%s/never", root);
	assert_int_equal(run("keystore", "generate", "--count=1",
			     pathf("--out=%s", out),
			     pathf("--keystore-password-file=%s", shortpw), NULL),
			 1);
	struct stat st;
	assert_int_not_equal(stat(out, &st), 0);
	assert_int_equal(run("keystore", "verify", "--keystore=/nonexistent",
			     pathf("--keystore-password-file=%s", shortpw), NULL),
			 1);
}

/* keys_edit: removed keys go, added ones come (held once), the old
 * registry is untouched (its readers keep working), keys are copies. */
static void test_edit_adds_removes_and_leaves_old_intact(void **state)
{
	(void)state;
	struct bls_key *k[3];
	struct err e = {0};
	uint8_t sk[32] = {0};
	for (int i = 0; i < 3; i++) {
		sk[31] = (uint8_t)(i + 7);
		assert_int_equal(bls_key_from_bytes(sk, &k[i], &e), 0);
	}
	uint8_t pk[3][BLS_PUBKEY_LEN];
	for (int i = 0; i < 3; i++)
		memcpy(pk[i], k[i]->pubkey, BLS_PUBKEY_LEN);
	struct key_registry *r = NULL, *r2 = NULL, *r3 = NULL;
	assert_int_equal(keys_from_list(k, 2, "list", &r, &e), 0);
	struct key_entry add[2] = {
		{.key = k[2], .readonly = false, .path = "m/12381/3600/2/0/0",
		 .source = "/keys/c.json"},
	};
	/* add the third, remove the first; the second stays */
	assert_int_equal(keys_edit(r, (const uint8_t(*)[BLS_PUBKEY_LEN])pk, 1,
				   add, 1, &r2, &e), 0);
	assert_int_equal(keys_count(r2), 2);
	assert_null(keys_find(r2, pk[0]));
	assert_non_null(keys_find(r2, pk[1]));
	const struct key_entry *c = keys_find_entry(r2, pk[2]);
	assert_non_null(c);
	assert_false(c->readonly);
	assert_string_equal(c->path, "m/12381/3600/2/0/0");
	assert_string_equal(c->source, "/keys/c.json");
	assert_ptr_not_equal(c->key, k[2]); /* a copy: the caller keeps add[] */
	/* the old registry is as it was */
	assert_int_equal(keys_count(r), 2);
	assert_non_null(keys_find(r, pk[0]));
	assert_null(keys_find(r, pk[2]));
	/* adding a key already held keeps one copy; sorted order holds */
	add[1] = add[0];
	assert_int_equal(keys_edit(r2, NULL, 0, add, 2, &r3, &e), 0);
	assert_int_equal(keys_count(r3), 2);
	assert_true(memcmp(keys_pubkey_at(r3, 0), keys_pubkey_at(r3, 1),
			   BLS_PUBKEY_LEN) < 0);
	keys_free(r3);
	/* a key given twice that was not held: once */
	assert_int_equal(keys_edit(r, NULL, 0, add, 2, &r3, &e), 0);
	assert_int_equal(keys_count(r3), 3);
	keys_free(r3);
	keys_free(r2);
	keys_free(r);
	bls_key_free(k[2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mixed_sources_load_and_report,
						setup, teardown),
		cmocka_unit_test(test_edit_adds_removes_and_leaves_old_intact),
		cmocka_unit_test_setup_teardown(test_shared_password_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_parallel_load_matches_serial,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_options_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_generate_then_load, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli_encrypt_decrypt_verify,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_usage_and_password_rules,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
