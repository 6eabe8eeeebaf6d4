/*
 * test_aws_cmds.c: the cloud commands of nitro-keys that need no AWS:
 * `tls new` (key, certificate with the SANs, PKCS#12 that opens with its
 * password file, a known-clients line that is the certificate's SHA-256) and
 * `kms policy` (decrypt only under the attestation condition, the admin
 * cannot use the key), plus usage errors.
 *
 * Run with --nitro-keys ARGS... it is instead a nitro-keys with the cloud
 * commands wired in (kms, list, tls, and the rest of nitro-keys), which the
 * integration tests use until src/tools/nitro_keys.c dispatches to them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "tools/cloud_cmds.h"
#include "tools/tools.h"

static int run_nitro_keys(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "kms") == 0 || strcmp(argv[1], "list") == 0))
		return nitro_keys_kms_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "tls") == 0)
		return nitro_keys_tls_main(argc, argv);
	return nitro_keys_main(argc, argv);
}

/* Runs a command in a child with stdout captured; returns the exit status. */
static int run(char *out, size_t cap, const char *const *args)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		int argc = 0;
		while (args[argc])
			argc++;
		int rc = run_nitro_keys(argc, (char **)args);
		fflush(stdout);
		_exit(rc);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char g_dir[64];

static int setup(void **state)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/ns-aws-cmds-XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *buf = NULL;
	size_t n = 0;
	if (file_read_all(path, 1 << 20, &buf, &n, NULL) < 0)
		fail_msg("cannot read %s", path);
	if (len)
		*len = n;
	return buf;
}

static void test_tls_new_makes_matching_key_cert_p12_and_fingerprint(void **state)
{
	char out[4096], dir[128];
	snprintf(dir, sizeof(dir), "%s/tls", g_dir);
	char outflag[160];
	snprintf(outflag, sizeof(outflag), "--out=%s", dir);
	const char *args[] = {"nitro-keys", "tls", "new", outflag,
			      "--san=DNS:signer.example,DNS:localhost,IP:127.0.0.1",
			      NULL};
	assert_int_equal(run(out, sizeof(out), args), 0);

	size_t plen, pwlen;
	char *p12der = slurp(dir, "tls.p12", &plen);
	char *pw = slurp(dir, "tls.p12.password", &pwlen);
	assert_int_equal(pwlen, 32);
	const unsigned char *q = (const unsigned char *)p12der;
	PKCS12 *p12 = d2i_PKCS12(NULL, &q, (long)plen);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	assert_non_null(p12);
	assert_int_equal(PKCS12_parse(p12, pw, &key, &cert, NULL), 1);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_int_equal(EVP_PKEY_get_bits(key), 256);
	assert_int_equal(PKCS12_verify_mac(p12, "wrong password", -1), 0);
	/* SANs as asked. */
	assert_int_equal(X509_check_host(cert, "signer.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(cert, "other.example", 0, 0, NULL), 0);
	/* The known-clients line is the certificate's SHA-256. */
	uint8_t fp[32];
	unsigned int fl;
	X509_digest(cert, EVP_sha256(), fp, &fl);
	char want[200];
	int o = snprintf(want, sizeof(want), "signer.example ");
	for (int i = 0; i < 32; i++)
		o += snprintf(want + o, sizeof(want) - (size_t)o, "%02X%s", fp[i],
			      i < 31 ? ":" : "\n");
	char *kc = slurp(dir, "known-clients.txt", NULL);
	assert_string_equal(kc, want);
	assert_string_equal(out, want);
	/* tls.crt is the same certificate; the key file is private. */
	char path[256];
	snprintf(path, sizeof(path), "%s/tls.crt", dir);
	FILE *f = fopen(path, "r");
	X509 *pem = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_int_equal(X509_cmp(pem, cert), 0);
	struct stat st;
	snprintf(path, sizeof(path), "%s/tls.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never overwritten. */
	assert_int_equal(run(out, sizeof(out), args), 1);
	X509_free(pem);
	X509_free(cert);
	EVP_PKEY_free(key);
	PKCS12_free(p12);
	free(kc);
	free(p12der);
	free(pw);
}

static void test_tls_new_usage_errors(void **state)
{
	char out[1024];
	const char *no_san[] = {"nitro-keys", "tls", "new", "--out=/tmp/x", NULL};
	assert_int_equal(run(out, sizeof(out), no_san), 2);
	const char *bad_san[] = {"nitro-keys", "tls", "new", "--out=/tmp/x",
				 "--san=DNS:bad name", NULL};
	assert_int_equal(run(out, sizeof(out), bad_san), 2);
	const char *no_dns[] = {"nitro-keys", "tls", "new", "--out=/tmp/x",
				"--san=IP:127.0.0.1", NULL};
	assert_int_equal(run(out, sizeof(out), no_dns), 2);
	const char *unknown[] = {"nitro-keys", "tls", "old", NULL};
	assert_int_equal(run(out, sizeof(out), unknown), 2);
}

#define PCR0 "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789" \
	     "abcdef0123456789abcdef0123456789"
#define PCR0_NEW "0123456789abcdef0123456789abcdef0123456789abcdef" \
		 "fedcba9876543210fedcba9876543210fedcba9876543210"

static const json_t *statement(const json_t *policy, const char *sid)
{
	size_t i;
	const json_t *st;
	json_array_foreach(json_object_get(policy, "Statement"), i, st)
		if (strcmp(json_string_value(json_object_get(st, "Sid")), sid) == 0)
			return st;
	fail_msg("no statement %s", sid);
	return NULL;
}

static bool has_action(const json_t *st, const char *action)
{
	size_t i;
	const json_t *a;
	json_array_foreach(json_object_get(st, "Action"), i, a) {
		const char *s = json_string_value(a);
		size_t n = strlen(s);
		if (strcmp(s, action) == 0 || strcmp(s, "kms:*") == 0 ||
		    (s[n - 1] == '*' && strncmp(s, action, n - 1) == 0))
			return true;
	}
	return false;
}

static void test_kms_policy_pins_decrypt_to_the_image(void **state)
{
	char out[8192];
	const char *args[] = {"nitro-keys", "kms", "policy", "--pcr0=" PCR0,
			      "--role-arn=arn:aws:iam::111122223333:role/instance",
			      "--key-admin-arn=arn:aws:iam::111122223333:role/admin",
			      "--encrypt-arn=arn:aws:iam::111122223333:role/operator",
			      NULL};
	assert_int_equal(run(out, sizeof(out), args), 0);
	json_t *p = json_loads(out, 0, NULL);
	assert_non_null(p);
	const json_t *admin = statement(p, "KeyAdministrationWithoutUse");
	assert_true(has_action(admin, "kms:PutKeyPolicy"));
	assert_false(has_action(admin, "kms:Decrypt"));
	assert_false(has_action(admin, "kms:Encrypt"));
	assert_false(has_action(admin, "kms:GenerateDataKey"));
	const json_t *enc = statement(p, "EnclaveDecryptOnlyWithAttestation");
	assert_true(has_action(enc, "kms:Decrypt"));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(enc, "Principal"), "AWS")),
			    "arn:aws:iam::111122223333:role/instance");
	const char *pin = json_string_value(json_object_get(
		json_object_get(json_object_get(enc, "Condition"), "StringEqualsIgnoreCase"),
		"kms:RecipientAttestation:ImageSha384"));
	char lower[97];
	for (int i = 0; i < 96; i++)
		lower[i] = (char)(PCR0[i] >= 'A' && PCR0[i] <= 'F' ? PCR0[i] + 32 : PCR0[i]);
	lower[96] = '\0';
	assert_string_equal(pin, lower);
	const json_t *deny = statement(p, "DenyRoleWithoutAttestation");
	assert_string_equal(json_string_value(json_object_get(deny, "Effect")), "Deny");
	const json_t *op = statement(p, "OperatorEncryptOnly");
	assert_true(has_action(op, "kms:Encrypt"));
	assert_false(has_action(op, "kms:Decrypt"));
	json_decref(p);
}

/* During an image upgrade the policy admits the old and the new PCR0, and no
 * third; a repeated or malformed value is refused. */
static void test_kms_policy_two_pcr0_for_a_rollout(void **state)
{
	(void)state;
	char out[8192];
	const char *args[] = {"nitro-keys", "kms", "policy",
			      "--pcr0=" PCR0 ",0x" PCR0_NEW, "--condition=pcr0",
			      "--role-arn=arn:aws:iam::111122223333:role/instance",
			      "--key-admin-arn=arn:aws:iam::111122223333:role/admin",
			      NULL};
	assert_int_equal(run(out, sizeof(out), args), 0);
	json_t *p = json_loads(out, 0, NULL);
	assert_non_null(p);
	const json_t *pins = json_object_get(
		json_object_get(json_object_get(statement(p, "EnclaveDecryptOnlyWithAttestation"),
						"Condition"),
				"StringEqualsIgnoreCase"),
		"kms:RecipientAttestation:PCR0");
	assert_true(json_is_array(pins));
	assert_int_equal(json_array_size(pins), 2);
	char lower[97];
	for (int i = 0; i < 96; i++)
		lower[i] = (char)(PCR0[i] >= 'A' && PCR0[i] <= 'F' ? PCR0[i] + 32 : PCR0[i]);
	lower[96] = '\0';
	assert_string_equal(json_string_value(json_array_get(pins, 0)), lower);
	assert_string_equal(json_string_value(json_array_get(pins, 1)), PCR0_NEW);
	json_decref(p);

	const char *bad[] = {PCR0 "," PCR0, PCR0 "," PCR0_NEW "," PCR0_NEW,
			     PCR0 ",", "," PCR0, PCR0 ",abcd", PCR0 PCR0_NEW};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char flag[512];
		snprintf(flag, sizeof(flag), "--pcr0=%s", bad[i]);
		const char *b[] = {"nitro-keys", "kms", "policy", flag,
				   "--role-arn=arn:aws:iam::1:role/a",
				   "--key-admin-arn=arn:aws:iam::1:role/b", NULL};
		assert_int_equal(run(out, sizeof(out), b), 2);
	}
}

/* The all-zero PCR0 of debug-mode enclaves (whose memory the parent can
 * read) only by name, alone or as either value of a roll-out. */
static void test_kms_policy_zero_pcr0_needs_its_flag(void **state)
{
	(void)state;
	char out[8192];
	const char *zero = "--pcr0=" "000000000000000000000000000000000000000000000000"
			   "000000000000000000000000000000000000000000000000";
	const char *zero2 = "--pcr0=" PCR0 ",0x000000000000000000000000000000000000000"
			    "000000000000000000000000000000000000000000000000000000000";
	const char *flags[] = {zero, zero2};
	for (size_t i = 0; i < 2; i++) {
		const char *refused[] = {"nitro-keys", "kms", "policy", flags[i],
					 "--role-arn=arn:aws:iam::1:role/a",
					 "--key-admin-arn=arn:aws:iam::1:role/b", NULL};
		assert_int_equal(run(out, sizeof(out), refused), 2);
		assert_null(strstr(out, "Statement"));
		const char *allowed[] = {"nitro-keys", "kms", "policy", flags[i],
					 "--role-arn=arn:aws:iam::1:role/a",
					 "--key-admin-arn=arn:aws:iam::1:role/b",
					 "--allow-debug-pcr0", NULL};
		assert_int_equal(run(out, sizeof(out), allowed), 0);
		assert_non_null(strstr(out, "EnclaveDecryptOnlyWithAttestation"));
	}
}

static void test_kms_usage_errors(void **state)
{
	char out[1024];
	const char *short_pcr[] = {"nitro-keys", "kms", "policy", "--pcr0=abcd",
				   "--role-arn=arn:aws:iam::1:role/a",
				   "--key-admin-arn=arn:aws:iam::1:role/b", NULL};
	assert_int_equal(run(out, sizeof(out), short_pcr), 2);
	const char *same[] = {"nitro-keys", "kms", "policy", "--pcr0=" PCR0,
			      "--role-arn=arn:aws:iam::1:role/a",
			      "--key-admin-arn=arn:aws:iam::1:role/a", NULL};
	assert_int_equal(run(out, sizeof(out), same), 2);
	const char *no_key[] = {"nitro-keys", "kms", "encrypt", "--signer-id=s",
				"--keystores-path=/tmp", "--keystores-passwords-path=/tmp",
				"--out=/tmp/x.json", NULL};
	assert_int_equal(run(out, sizeof(out), no_key), 2);
	const char *both[] = {"nitro-keys", "kms", "encrypt", "--key-id=k",
			      "--signer-id=s", "--keystores-path=/tmp",
			      "--keystores-passwords-path=/tmp", "--out=/tmp/x.json",
			      "--upload", "--table=t", NULL};
	assert_int_equal(run(out, sizeof(out), both), 2);
	const char *foreign[] = {"nitro-keys", "list", "--table=t", "--signer-id=s",
				 "--pcr0=00", NULL};
	assert_int_equal(run(out, sizeof(out), foreign), 2);
	const char *help[] = {"nitro-keys", "kms", "--help", NULL};
	assert_int_equal(run(out, sizeof(out), help), 0);
	assert_non_null(strstr(out, "kms encrypt"));
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--nitro-keys") == 0) {
		argv[1] = (char *)"nitro-keys";
		return run_nitro_keys(argc - 1, argv + 1);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_new_makes_matching_key_cert_p12_and_fingerprint),
		cmocka_unit_test(test_tls_new_usage_errors),
		cmocka_unit_test(test_kms_policy_pins_decrypt_to_the_image),
		cmocka_unit_test(test_kms_policy_two_pcr0_for_a_rollout),
		cmocka_unit_test(test_kms_policy_zero_pcr0_needs_its_flag),
		cmocka_unit_test(test_kms_usage_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
