/*
 * test_attestation_cmd.c: `nitro-keys attestation verify`, called as a
 * function with argv arrays, stdout and stderr captured in temp files.
 *
 * Every real document of reference/nitro-attestation, as CBOR, as padded
 * base64 and as base64 without padding, prints the fields of EXPECTED.json
 * and exits 0; a simulator document verifies with --root=<its PEM> and not
 * without; a flipped byte, the wrong root and unreadable files exit 1 with
 * one line; usage errors exit 2. The expectation flags (--expect-pcr0,
 * --nonce, --tls-cert) each refuse a simulator document that does not
 * match, naming what did not, and pass one that does; --expect-pcr8 passes
 * a simulator that reports that PCR8 (DIR/pcr8.hex, a signed image) and
 * refuses one that reports another or zeros (unsigned), and all zeros is a
 * usage error.
 */
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "nitro/nitro.h"
#include "tools/attestation_cmd.h"

static char tmpdir[64];

struct run {
	int status;
	char *out, *err;
};

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len;
	assert_int_equal(file_read_all(path, 1 << 20, &buf, &len, NULL), 0);
	return buf;
}

static struct run run_cmd(const char *const *args)
{
	char *argv[16];
	int argc = 0;
	argv[argc++] = (char *)"nitro-keys";
	argv[argc++] = (char *)"attestation";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	char out_path[128], err_path[128];
	snprintf(out_path, sizeof(out_path), "%s/stdout", tmpdir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", tmpdir);
	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(1), saved_err = dup(2);
	int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fo, 1);
	dup2(fe, 2);
	struct run r;
	r.status = nitro_keys_attestation_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(fo);
	close(fe);
	close(saved_out);
	close(saved_err);
	r.out = slurp(out_path);
	r.err = slurp(err_path);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static const char *ref_dir(void)
{
	const char *d = getenv("NS_REFERENCE_DIR");
	return d ? d : "tests/vectors/reference";
}

static void ref_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/nitro-attestation/%s", ref_dir(), name);
}

static void assert_same_field(json_t *got, json_t *want, const char *key)
{
	json_t *g = json_object_get(got, key), *w = json_object_get(want, key);
	assert_non_null(g);
	if (json_is_null(w))
		assert_true(json_is_null(g));
	else
		assert_string_equal(json_string_value(g), json_string_value(w));
}

static void check_output(const char *out, json_t *want)
{
	json_error_t jerr;
	json_t *got = json_loads(out, 0, &jerr);
	if (!got)
		fail_msg("not JSON: %s", out);
	assert_string_equal(json_string_value(json_object_get(got, "module_id")),
			    json_string_value(json_object_get(want, "module_id")));
	assert_int_equal(json_integer_value(json_object_get(got, "timestamp")),
			 json_integer_value(json_object_get(want, "timestamp")));
	assert_string_equal(json_string_value(json_object_get(got, "digest")),
			    "SHA384");
	json_t *pcrs = json_object_get(got, "pcrs");
	assert_int_equal(json_object_size(pcrs), 16);
	assert_string_equal(json_string_value(json_object_get(pcrs, "0")),
			    json_string_value(json_object_get(want, "pcr0")));
	assert_string_equal(json_string_value(json_object_get(pcrs, "8")),
			    json_string_value(json_object_get(want, "pcr8")));
	assert_same_field(got, want, "public_key");
	assert_same_field(got, want, "user_data");
	assert_same_field(got, want, "nonce");
	assert_int_equal(json_object_size(got), 7);
	json_decref(got);
}

static void test_real_documents_in_every_encoding(void **state)
{
	(void)state;
	char path[1024];
	ref_path(path, sizeof(path), "EXPECTED.json");
	json_t *exp = json_load_file(path, 0, NULL);
	json_t *docs = json_object_get(exp, "documents"), *d;
	size_t i;
	json_array_foreach(docs, i, d) {
		/* raw CBOR, padded base64 (with newline or not), unpadded */
		char files[3][1024];
		ref_path(files[0], sizeof(files[0]),
			 json_string_value(json_object_get(d, "file")));
		ref_path(files[1], sizeof(files[1]),
			 json_string_value(json_object_get(d, "file_b64")));
		char *b64 = slurp(files[1]);
		size_t n = strlen(b64);
		while (n && (b64[n - 1] == '\n' || b64[n - 1] == '='))
			b64[--n] = '\0';
		snprintf(files[2], sizeof(files[2]), "%s/unpadded.b64", tmpdir);
		assert_int_equal(file_write_atomic(files[2], b64, n, 0600, NULL), 0);
		free(b64);
		for (int k = 0; k < 3; k++) {
			const char *args[] = {"verify", files[k], NULL};
			struct run r = run_cmd(args);
			if (r.status != 0)
				fail_msg("%s: %s", files[k], r.err);
			assert_string_equal(r.err, "");
			check_output(r.out, d);
			run_free(&r);
		}
	}
	json_decref(exp);
}

#ifdef NS_NSM_SIMULATOR
static void test_simulator_document_needs_its_root(void **state)
{
	(void)state;
	struct nsm *n = NULL;
	uint8_t *doc;
	size_t len;
	char *pem = NULL, doc_path[128], pem_path[128], root_arg[160];
	assert_int_equal(nsm_open("sim:", &n, NULL), 0);
	struct nsm_attest_req req = {.user_data = (const uint8_t *)"\x01\x02",
				     .user_data_len = 2};
	assert_int_equal(nsm_attest(n, &req, &doc, &len, NULL), 0);
	assert_int_equal(nsm_sim_root_pem(n, &pem, NULL), 0);
	snprintf(doc_path, sizeof(doc_path), "%s/sim.cbor", tmpdir);
	snprintf(pem_path, sizeof(pem_path), "%s/root.pem", tmpdir);
	snprintf(root_arg, sizeof(root_arg), "--root=%s", pem_path);
	assert_int_equal(file_write_atomic(doc_path, doc, len, 0600, NULL), 0);
	assert_int_equal(file_write_atomic(pem_path, pem, strlen(pem), 0600, NULL), 0);

	const char *ok[] = {"verify", doc_path, root_arg, NULL};
	struct run r = run_cmd(ok);
	assert_int_equal(r.status, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "user_data")),
			    "0102");
	assert_true(json_is_null(json_object_get(j, "nonce")));
	json_decref(j);
	/* --root PEM is --root=PEM, before or after FILE (issue 13: only
	 * --root=PEM used to work here) */
	const char *spaced[] = {"verify", doc_path, "--root", pem_path, NULL};
	const char *first[] = {"verify", "--root", pem_path, doc_path, NULL};
	const char *const *same[] = {spaced, first};
	for (size_t i = 0; i < 2; i++) {
		struct run r2 = run_cmd(same[i]);
		assert_int_equal(r2.status, 0);
		assert_string_equal(r2.out, r.out);
		run_free(&r2);
	}
	run_free(&r);

	const char *aws[] = {"verify", doc_path, NULL};
	r = run_cmd(aws);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "cabundle[0] is not the trusted root"));
	assert_non_null(strchr(r.err, '\n'));
	assert_ptr_equal(strchr(r.err, '\n') + 1, r.err + strlen(r.err));
	run_free(&r);

	/* A real document with the simulator's root: refused. */
	char real[1024];
	ref_path(real, sizeof(real), "doc1-uid2-core-2021.cbor");
	const char *other[] = {"verify", real, root_arg, NULL};
	r = run_cmd(other);
	assert_int_equal(r.status, 1);
	run_free(&r);

	/* One flipped byte. */
	doc[len / 2] ^= 0x40;
	assert_int_equal(file_write_atomic(doc_path, doc, len, 0600, NULL), 0);
	r = run_cmd(ok);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	run_free(&r);
	free(doc);
	free(pem);
	nsm_close(n);
}

/* A self-signed P-256 certificate at path; its SPKI's SHA-256 in spki. */
static void make_cert(const char *path, uint8_t spki[32])
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, spki, NULL, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_expectations_each_checked(void **state)
{
	(void)state;
	struct nsm *n = NULL;
	uint8_t *doc, spki[32], other_spki[32], pcr[NITRO_PCR_LEN_MAX];
	size_t len, pcr_len = 0;
	bool locked;
	char *pem = NULL, doc_path[128], pem_path[128], root_arg[160];
	char cert[128], other[128], cert_arg[160], other_arg[160];
	char pcr_hex[2 + 2 * NITRO_PCR_LEN_MAX + 1], pcr_arg[200], bad_pcr[200];
	snprintf(cert, sizeof(cert), "%s/tls.pem", tmpdir);
	snprintf(other, sizeof(other), "%s/other.pem", tmpdir);
	make_cert(cert, spki);
	make_cert(other, other_spki);
	snprintf(cert_arg, sizeof(cert_arg), "--tls-cert=%s", cert);
	snprintf(other_arg, sizeof(other_arg), "--tls-cert=%s", other);
	assert_int_equal(nsm_open("sim:", &n, NULL), 0);
	assert_int_equal(nsm_describe_pcr(n, 0, &locked, pcr, &pcr_len, NULL), 0);
	assert_int_equal(pcr_len, 48);
	hex_encode(pcr, pcr_len, pcr_hex);
	snprintf(pcr_arg, sizeof(pcr_arg), "--expect-pcr0=%s", pcr_hex + 2);
	pcr[0] ^= 1;
	hex_encode(pcr, pcr_len, pcr_hex);
	snprintf(bad_pcr, sizeof(bad_pcr), "--expect-pcr0=%s", pcr_hex);
	static const uint8_t nonce[] = {0xca, 0xfe, 0x01};
	struct nsm_attest_req req = {.user_data = spki, .user_data_len = 32,
				     .nonce = nonce, .nonce_len = sizeof(nonce)};
	assert_int_equal(nsm_attest(n, &req, &doc, &len, NULL), 0);
	assert_int_equal(nsm_sim_root_pem(n, &pem, NULL), 0);
	snprintf(doc_path, sizeof(doc_path), "%s/sim.cbor", tmpdir);
	snprintf(pem_path, sizeof(pem_path), "%s/root.pem", tmpdir);
	snprintf(root_arg, sizeof(root_arg), "--root=%s", pem_path);
	assert_int_equal(file_write_atomic(doc_path, doc, len, 0600, NULL), 0);
	assert_int_equal(file_write_atomic(pem_path, pem, strlen(pem), 0600, NULL), 0);

	const char *all[] = {"verify", doc_path, root_arg, pcr_arg,
			     "--nonce=CAFE01", cert_arg, NULL};
	struct run r = run_cmd(all);
	if (r.status != 0)
		fail_msg("%s", r.err);
	char *second = strchr(r.out, '\n');
	assert_non_null(second);
	assert_non_null(strstr(second, "PCR0"));
	assert_non_null(strstr(second, "nonce"));
	assert_non_null(strstr(second, "user_data"));
	run_free(&r);
	const char *prefixed[] = {"verify", doc_path, root_arg, "--nonce=0xcafe01",
				  NULL};
	r = run_cmd(prefixed);
	assert_int_equal(r.status, 0);
	run_free(&r);

	struct {
		const char *flag, *why;
	} wrong[] = {
		{bad_pcr, "PCR0 does not match --expect-pcr0"},
		{"--nonce=cafe02", "the nonce does not match --nonce"},
		{"--nonce=cafe", "the nonce does not match --nonce"},
		{other_arg, "user_data is not SHA-256 of the --tls-cert"},
	};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		const char *args[] = {"verify", doc_path, root_arg, wrong[i].flag, NULL};
		r = run_cmd(args);
		assert_int_equal(r.status, 1);
		assert_string_equal(r.out, "");
		if (!strstr(r.err, wrong[i].why))
			fail_msg("%s: %s", wrong[i].flag, r.err);
		assert_ptr_equal(strchr(r.err, '\n') + 1, r.err + strlen(r.err));
		run_free(&r);
	}
	/* A document without a nonce does not match any --nonce. */
	free(doc);
	struct nsm_attest_req plain = {.user_data = spki, .user_data_len = 32};
	assert_int_equal(nsm_attest(n, &plain, &doc, &len, NULL), 0);
	assert_int_equal(file_write_atomic(doc_path, doc, len, 0600, NULL), 0);
	const char *nononce[] = {"verify", doc_path, root_arg, "--nonce=cafe01",
				 cert_arg, NULL};
	r = run_cmd(nononce);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "nonce"));
	run_free(&r);

	/* Bad values are usage errors naming the flag. */
	char notpem[160];
	snprintf(notpem, sizeof(notpem), "--tls-cert=%s", doc_path);
	struct {
		const char *flag, *name;
	} usage[] = {
		{"--expect-pcr0=00", "--expect-pcr0"},
		{"--expect-pcr0=zz", "--expect-pcr0"},
		{"--nonce=", "--nonce"},
		{"--nonce=abc", "--nonce"},
		{"--tls-cert=", "--tls-cert"},
		{"--tls-cert=/nonexistent.pem", "--tls-cert"},
		{notpem, "--tls-cert"},
	};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		const char *args[] = {"verify", doc_path, root_arg, usage[i].flag, NULL};
		r = run_cmd(args);
		assert_int_equal(r.status, 2);
		if (!strstr(r.err, usage[i].name))
			fail_msg("%s: %s", usage[i].flag, r.err);
		run_free(&r);
	}
	const char *twice[] = {"verify", doc_path, "--nonce=01", "--nonce=01", NULL};
	r = run_cmd(twice);
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "--nonce given twice"));
	run_free(&r);
	free(doc);
	free(pem);
	nsm_close(n);
}

/* PCR8 of a signed image, as DIR/pcr8.hex gives it to the simulator. */
#define SIM_PCR8                                                              \
	"8d1cb5e1e0dd5a08a7f1d3ff2d3a4e1c0b6a1bd1e6aa44f8b1c45bb52e1e3e4d" \
	"64c9a59e2eb3e97c4ad0b3bbfa9b6a71"

/* A document of n at DIR/name.cbor and --root=<n's root> in root_arg. */
static void sim_files(struct nsm *n, const char *name, char doc_path[128],
		      char root_arg[160])
{
	uint8_t *doc;
	size_t len;
	char *pem = NULL, pem_path[128];
	struct nsm_attest_req req = {0};
	assert_int_equal(nsm_attest(n, &req, &doc, &len, NULL), 0);
	assert_int_equal(nsm_sim_root_pem(n, &pem, NULL), 0);
	snprintf(doc_path, 128, "%s/%s.cbor", tmpdir, name);
	snprintf(pem_path, sizeof(pem_path), "%s/%s-root.pem", tmpdir, name);
	snprintf(root_arg, 160, "--root=%s", pem_path);
	assert_int_equal(file_write_atomic(doc_path, doc, len, 0600, NULL), 0);
	assert_int_equal(file_write_atomic(pem_path, pem, strlen(pem), 0600, NULL), 0);
	free(doc);
	free(pem);
}

static void test_expect_pcr8_signed_image_only(void **state)
{
	(void)state;
	char dir[128], path[160], signed_doc[128], signed_root[160];
	char unsigned_doc[128], unsigned_root[160];
	snprintf(dir, sizeof(dir), "%s/sim-signed", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/pcr8.hex", dir);
	assert_int_equal(file_write_atomic(path, SIM_PCR8 "\n",
					   strlen(SIM_PCR8) + 1, 0600, NULL), 0);
	char spec[160];
	snprintf(spec, sizeof(spec), "sim:%s", dir);
	struct nsm *signed_sim = NULL, *unsigned_sim = NULL;
	assert_int_equal(nsm_open(spec, &signed_sim, NULL), 0);
	assert_int_equal(nsm_open("sim:", &unsigned_sim, NULL), 0);
	sim_files(signed_sim, "signed", signed_doc, signed_root);
	sim_files(unsigned_sim, "unsigned", unsigned_doc, unsigned_root);

	const char *ok[] = {"verify", signed_doc, signed_root,
			    "--expect-pcr8=0x" SIM_PCR8, NULL};
	struct run r = run_cmd(ok);
	if (r.status != 0)
		fail_msg("%s", r.err);
	char *second = strchr(r.out, '\n');
	assert_non_null(second);
	assert_non_null(strstr(second, "checked: "));
	assert_non_null(strstr(second, ", PCR8"));
	assert_non_null(strstr(r.out, "\"8\":\"" SIM_PCR8 "\""));
	run_free(&r);

	/* The same certificate, but an unsigned image (PCR8 zeros); and a
	 * signed image with another certificate. */
	char other[2 * NITRO_PCR0_LEN + 32];
	snprintf(other, sizeof(other), "--expect-pcr8=%s", SIM_PCR8);
	other[sizeof("--expect-pcr8=") - 1] = 'f'; /* was '8' */
	struct {
		const char *doc, *root, *flag;
	} wrong[] = {
		{unsigned_doc, unsigned_root, "--expect-pcr8=" SIM_PCR8},
		{signed_doc, signed_root, other},
	};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		const char *args[] = {"verify", wrong[i].doc, wrong[i].root,
				      wrong[i].flag, NULL};
		r = run_cmd(args);
		assert_int_equal(r.status, 1);
		assert_string_equal(r.out, "");
		if (!strstr(r.err, "PCR8 does not match --expect-pcr8"))
			fail_msg("%s: %s", wrong[i].flag, r.err);
		run_free(&r);
	}

	/* Bad values: usage errors naming the flag, all zeros refused. */
	char zeros[128];
	snprintf(zeros, sizeof(zeros), "--expect-pcr8=%0*d", 2 * NITRO_PCR0_LEN, 0);
	struct {
		const char *flag, *why;
	} usage[] = {
		{zeros, "--expect-pcr8 is all zeros"},
		{"--expect-pcr8=" SIM_PCR8 "00", "--expect-pcr8 must be 48 bytes"},
		{"--expect-pcr8=zz", "--expect-pcr8 must be 48 bytes"},
		{"--expect-pcr8=", "--expect-pcr8"},
	};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		const char *args[] = {"verify", unsigned_doc, unsigned_root,
				      usage[i].flag, NULL};
		r = run_cmd(args);
		assert_int_equal(r.status, 2);
		assert_string_equal(r.out, "");
		if (!strstr(r.err, usage[i].why))
			fail_msg("%s: %s", usage[i].flag, r.err);
		run_free(&r);
	}
	nsm_close(signed_sim);
	nsm_close(unsigned_sim);
}

#endif

static void test_unreadable_inputs_exit_1(void **state)
{
	(void)state;
	char path[128];
	const char *missing[] = {"verify", "/nonexistent/doc.cbor", NULL};
	struct run r = run_cmd(missing);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "/nonexistent/doc.cbor"));
	run_free(&r);

	snprintf(path, sizeof(path), "%s/bad.b64", tmpdir);
	assert_int_equal(file_write_atomic(path, "hEShATgioFk=\n", 13, 0600, NULL), 0);
	const char *bad[] = {"verify", path, NULL};
	r = run_cmd(bad);
	assert_int_equal(r.status, 1);
	run_free(&r);

	char real[1024], root_arg[1100];
	ref_path(real, sizeof(real), "doc1-uid2-core-2021.cbor");
	snprintf(root_arg, sizeof(root_arg), "--root=%s", real); /* not PEM */
	const char *notpem[] = {"verify", real, root_arg, NULL};
	r = run_cmd(notpem);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "no PEM certificate"));
	run_free(&r);
}

static void test_usage_errors_exit_2(void **state)
{
	(void)state;
	const char *none[] = {NULL};
	const char *nofile[] = {"verify", NULL};
	const char *unknown[] = {"check", "x", NULL};
	const char *flag[] = {"verify", "x", "--bogus", NULL};
	const char *two[] = {"verify", "x", "y", NULL};
	const char *emptyroot[] = {"verify", "x", "--root=", NULL};
	const char *const *cases[] = {none, nofile, unknown, flag, two, emptyroot};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r = run_cmd(cases[i]);
		assert_int_equal(r.status, 2);
		assert_string_equal(r.out, "");
		assert_true(strlen(r.err) > 0);
		run_free(&r);
	}
	const char *help[] = {"verify", "--help", NULL};
	struct run r = run_cmd(help);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "usage: nitro-keys attestation verify"));
	run_free(&r);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/attestation-cmd-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_documents_in_every_encoding),
#ifdef NS_NSM_SIMULATOR
		cmocka_unit_test(test_simulator_document_needs_its_root),
		cmocka_unit_test(test_expectations_each_checked),
		cmocka_unit_test(test_expect_pcr8_signed_image_only),
#endif
		cmocka_unit_test(test_unreadable_inputs_exit_1),
		cmocka_unit_test(test_usage_errors_exit_2),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
