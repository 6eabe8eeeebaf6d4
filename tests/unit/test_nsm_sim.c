/*
 * test_nsm_sim.c: the NSM client and its simulator.
 *
 * Wire format: a recording backend checks the request bytes against the
 * exact encodings in reference/nitro-kms.md section 1.3 (taken from the
 * nsm-api serde enums) and feeds canned replies, including {"Error": ...}.
 * Simulator: PCR semantics (extend = SHA384(old || data) computed here
 * independently, locks, read-only 0..15), randomness, attestation documents
 * binding public_key/user_data/nonce that verify against the simulator's
 * root, a root persisted in sim:DIR, PCR0 from DIR/pcr0.hex, and the
 * test hooks DIR/time_offset_s and DIR/unavailable. The real
 * device is never opened: a missing device path must fail cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nitro/nitro.h"
#include "nitro/nitro_internal.h"

/* ---- a recording backend ---------------------------------------------------- */

struct recorder {
	uint8_t req[NSM_REQUEST_MAX];
	size_t req_len;
	const uint8_t *reply;
	size_t reply_len;
};

static int rec_roundtrip(void *ctx, const uint8_t *req, size_t req_len,
			 uint8_t *resp, size_t *resp_len, struct err *e)
{
	struct recorder *r = ctx;
	(void)e;
	memcpy(r->req, req, req_len);
	r->req_len = req_len;
	memcpy(resp, r->reply, r->reply_len);
	*resp_len = r->reply_len;
	return 0;
}

static void rec_close(void *ctx) { (void)ctx; }

static const struct nsm_backend rec_backend = {rec_roundtrip, rec_close};

static void unhex(const char *h, uint8_t *out, size_t *len)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
	*len = n;
}

static void assert_request(struct recorder *r, const char *hex)
{
	uint8_t want[NSM_REQUEST_MAX];
	size_t n;
	unhex(hex, want, &n);
	assert_int_equal(r->req_len, n);
	assert_memory_equal(r->req, want, n);
}

static void test_requests_match_the_nsm_wire_format(void **state)
{
	(void)state;
	struct recorder r = {0};
	struct nsm n = {&rec_backend, &r, false, PTHREAD_MUTEX_INITIALIZER};
	uint8_t reply[256], buf[64];
	size_t len;
	bool locked;
	struct err e = {0};

	/* {"Error": "InvalidIndex"} for DescribePCR 0: the request bytes and
	 * the error both come through. */
	unhex("a1654572726f726c496e76616c6964496e646578", reply, &r.reply_len);
	r.reply = reply;
	assert_int_equal(nsm_describe_pcr(&n, 0, &locked, buf, &len, &e),
			 -ERR_IO);
	assert_string_equal(e.msg, "NSM DescribePCR: InvalidIndex");
	assert_request(&r, "a16b4465736372696265504352a165696e64657800");

	unhex("674c6f636b504352", reply, &r.reply_len); /* "LockPCR" */
	assert_int_equal(nsm_lock_pcr(&n, 16, &e), 0);
	assert_request(&r, "a1674c6f636b504352a165696e64657810");

	unhex("684c6f636b50435273", reply, &r.reply_len); /* "LockPCRs" */
	assert_int_equal(nsm_lock_pcrs(&n, 32, &e), 0);
	assert_request(&r, "a1684c6f636b50435273a16572616e67651820");

	/* A reply for another request is refused. */
	assert_int_equal(nsm_lock_pcr(&n, 16, &e), -ERR_IO);

	/* ExtendPCR {index 16, data 010203}; reply {"ExtendPCR":{"data":48B}} */
	char ext[256] = "a169457874656e64504352a16464617461" "5830";
	for (int i = 0; i < 48; i++)
		strcat(ext, "ab");
	unhex(ext, reply, &r.reply_len);
	const uint8_t data[] = {1, 2, 3};
	assert_int_equal(nsm_extend_pcr(&n, 16, data, 3, buf, &len, &e), 0);
	assert_int_equal(len, 48);
	assert_int_equal(buf[47], 0xab);
	assert_request(&r, "a169457874656e64504352a265696e646578106464617461"
			   "43010203");

	/* Attestation with all fields null. */
	unhex("a16b4174746573746174696f6ea168646f63756d656e744401020304",
	      reply, &r.reply_len);
	uint8_t *doc;
	size_t doc_len;
	struct nsm_attest_req req = {0};
	assert_int_equal(nsm_attest(&n, &req, &doc, &doc_len, &e), 0);
	assert_int_equal(doc_len, 4);
	free(doc);
	assert_request(&r, "a16b4174746573746174696f6ea369757365725f64617461f6"
			   "656e6f6e6365f66a7075626c69635f6b6579f6");

	/* DescribeNSM and GetRandom are bare strings. */
	unhex("a16947657452616e646f6da16672616e646f6d40", reply, &r.reply_len);
	assert_true(nsm_get_random(&n, buf, 8, &e) < 0); /* empty: failure */
	assert_request(&r, "6947657452616e646f6d");
	unhex("6b44657363726962654e534d", reply, &r.reply_len);
	struct nsm_description desc;
	assert_true(nsm_describe(&n, &desc, &e) < 0);
	assert_request(&r, "6b44657363726962654e534d");

	/* Garbage and truncated replies are errors, not crashes. */
	unhex("a16b4174746573746174696f6ea168646f63756d656e74590100", reply,
	      &r.reply_len);
	assert_int_equal(nsm_attest(&n, &req, &doc, &doc_len, &e), -ERR_TRUNCATED);
	pthread_mutex_destroy(&n.lock);
}

static void test_missing_device_fails_cleanly(void **state)
{
	(void)state;
	struct nsm *n = NULL;
	struct err e = {0};
	assert_int_equal(nsm_open("/nonexistent/nsm", &n, &e), -ERR_UNAVAILABLE);
	assert_null(n);
	assert_non_null(strstr(e.msg, "/nonexistent/nsm"));
	assert_int_equal(nsm_open("nsm", &n, &e), -ERR_USAGE);
	assert_int_equal(nsm_open(NULL, &n, &e), -ERR_USAGE);
#ifndef NS_NSM_SIMULATOR
	/* The enclave image's build has no simulator to fall back to. */
	assert_int_equal(nsm_open("sim:", &n, &e), -ERR_USAGE);
	assert_null(n);
#endif
}

#ifdef NS_NSM_SIMULATOR
/* ---- the simulator ---------------------------------------------------------- */

static int sim_setup(void **state)
{
	struct nsm *n = NULL;
	assert_int_equal(nsm_open("sim:", &n, NULL), 0);
	*state = n;
	return 0;
}

static int sim_teardown(void **state)
{
	nsm_close(*state);
	return 0;
}

static void test_describe_reports_locked_boot_pcrs(void **state)
{
	struct nsm *n = *state;
	struct nsm_description d;
	struct err e = {0};
	assert_true(nsm_is_simulator(n));
	assert_int_equal(nsm_describe(n, &d, &e), 0);
	assert_int_equal(d.max_pcrs, 32);
	assert_string_equal(d.digest, "SHA384");
	assert_int_equal(strncmp(d.module_id, "i-", 2), 0);
	assert_non_null(strstr(d.module_id, "-enc"));
	assert_int_equal(d.n_locked_pcrs, 16);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(d.locked_pcrs[i], i);
}

static void sha384_concat(const uint8_t *a, size_t alen, const uint8_t *b,
			  size_t blen, uint8_t out[48])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int n;
	assert_true(EVP_DigestInit_ex(md, EVP_sha384(), NULL));
	assert_true(EVP_DigestUpdate(md, a, alen));
	assert_true(EVP_DigestUpdate(md, b, blen));
	assert_true(EVP_DigestFinal_ex(md, out, &n));
	EVP_MD_CTX_free(md);
}

static void test_extend_is_sha384_of_old_and_data(void **state)
{
	struct nsm *n = *state;
	uint8_t v[64], want[48], zero[48] = {0};
	size_t len;
	bool locked;
	struct err e = {0};
	assert_int_equal(nsm_describe_pcr(n, 16, &locked, v, &len, &e), 0);
	assert_false(locked);
	assert_int_equal(len, 48);
	assert_memory_equal(v, zero, 48);
	const uint8_t data[] = "enclave config";
	assert_int_equal(nsm_extend_pcr(n, 16, data, sizeof(data), v, &len, &e), 0);
	sha384_concat(zero, 48, data, sizeof(data), want);
	assert_memory_equal(v, want, 48);
	uint8_t prev[48];
	memcpy(prev, want, 48);
	assert_int_equal(nsm_extend_pcr(n, 16, data, 1, v, &len, &e), 0);
	sha384_concat(prev, 48, data, 1, want);
	assert_memory_equal(v, want, 48);
	assert_int_equal(nsm_describe_pcr(n, 16, &locked, v, &len, &e), 0);
	assert_memory_equal(v, want, 48);
}

static void test_locked_pcrs_refuse_extension(void **state)
{
	struct nsm *n = *state;
	struct err e = {0};
	const uint8_t data[] = {1};
	assert_int_equal(nsm_extend_pcr(n, 0, data, 1, NULL, NULL, &e), -ERR_IO);
	assert_string_equal(e.msg, "NSM ExtendPCR: ReadOnlyIndex");
	assert_int_equal(nsm_extend_pcr(n, 32, data, 1, NULL, NULL, &e), -ERR_IO);
	assert_string_equal(e.msg, "NSM ExtendPCR: InvalidIndex");
	assert_int_equal(nsm_lock_pcr(n, 3, &e), -ERR_IO);
	assert_int_equal(nsm_extend_pcr(n, 17, data, 1, NULL, NULL, &e), 0);
	assert_int_equal(nsm_lock_pcr(n, 17, &e), 0);
	assert_int_equal(nsm_extend_pcr(n, 17, data, 1, NULL, NULL, &e), -ERR_IO);
	assert_int_equal(nsm_lock_pcrs(n, 20, &e), 0);
	bool locked;
	uint8_t v[64];
	size_t len;
	assert_int_equal(nsm_describe_pcr(n, 19, &locked, v, &len, &e), 0);
	assert_true(locked);
	assert_int_equal(nsm_describe_pcr(n, 20, &locked, v, &len, &e), 0);
	assert_false(locked);
}

static void test_get_random_fills_any_length(void **state)
{
	struct nsm *n = *state;
	uint8_t a[1000], b[1000], zero[1000] = {0};
	assert_int_equal(nsm_get_random(n, a, sizeof(a), NULL), 0);
	assert_int_equal(nsm_get_random(n, b, sizeof(b), NULL), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a + 900, zero + 900, 100);
}

static void test_attestation_binds_fields_and_locked_pcrs(void **state)
{
	struct nsm *n = *state;
	struct err e = {0};
	uint8_t *root, *doc, spki[294];
	size_t root_len, doc_len;
	const uint8_t data[] = "policy";
	uint8_t pcr16[64];
	size_t pcr_len;
	memset(spki, 0x30, sizeof(spki));
	assert_int_equal(nsm_extend_pcr(n, 16, data, 6, pcr16, &pcr_len, &e), 0);
	assert_int_equal(nsm_lock_pcr(n, 16, &e), 0);
	struct nsm_attest_req req = {
		.nonce = (const uint8_t *)"nonce-123", .nonce_len = 9,
		.public_key = spki, .public_key_len = sizeof(spki),
	};
	assert_int_equal(nsm_attest(n, &req, &doc, &doc_len, &e), 0);
	assert_int_equal(nsm_sim_root_der(n, &root, &root_len, &e), 0);
	struct attestation_verify_opts o = {root, root_len, time(NULL), 60};
	struct attestation_doc *d = NULL;
	if (attestation_verify(doc, doc_len, &o, &d, &e) < 0)
		fail_msg("%s", e.msg);
	assert_true(d->public_key.present);
	assert_int_equal(d->public_key.len, sizeof(spki));
	assert_memory_equal(d->public_key.p, spki, sizeof(spki));
	assert_true(d->nonce.present);
	assert_memory_equal(d->nonce.p, "nonce-123", 9);
	assert_false(d->user_data.present);
	assert_int_equal(d->pcr_mask, 0x1ffff); /* 0..15 and the locked 16 */
	assert_memory_equal(d->pcrs[16], pcr16, 48);
	struct nsm_description desc;
	assert_int_equal(nsm_describe(n, &desc, &e), 0);
	assert_string_equal(d->module_id, desc.module_id);
	assert_int_equal(d->n_cabundle, 4);
	attestation_doc_free(d);
	free(doc);
	free(root);
}

static void test_attestation_field_limits(void **state)
{
	struct nsm *n = *state;
	uint8_t big[NITRO_NSM_FIELD_MAX + 1] = {0}, *doc;
	size_t len;
	struct err e = {0};
	struct nsm_attest_req req = {.user_data = big, .user_data_len = sizeof(big)};
	assert_int_equal(nsm_attest(n, &req, &doc, &len, &e), -ERR_INVALID);
	req = (struct nsm_attest_req){.public_key = big, .public_key_len = 0};
	assert_int_equal(nsm_attest(n, &req, &doc, &len, &e), -ERR_INVALID);
	req = (struct nsm_attest_req){.user_data = big,
				      .user_data_len = NITRO_NSM_FIELD_MAX,
				      .nonce = big, .nonce_len = 0};
	assert_int_equal(nsm_attest(n, &req, &doc, &len, &e), 0);
	struct attestation_doc *d = NULL;
	assert_int_equal(attestation_parse(doc, len, &d, &e), 0);
	assert_true(d->nonce.present); /* empty, not null */
	assert_int_equal(d->nonce.len, 0);
	assert_int_equal(d->user_data.len, NITRO_NSM_FIELD_MAX);
	attestation_doc_free(d);
	free(doc);
}

static void test_sim_dir_keeps_its_root_and_pcr0(void **state)
{
	(void)state;
	char dir[] = "/tmp/nsm-sim-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char spec[64], path[128];
	snprintf(spec, sizeof(spec), "sim:%s", dir);
	struct nsm *a = NULL, *b = NULL;
	uint8_t *ra, *rb;
	size_t la, lb;
	struct err e = {0};
	assert_int_equal(nsm_open(spec, &a, &e), 0);
	assert_int_equal(nsm_sim_root_der(a, &ra, &la, &e), 0);
	nsm_close(a);
	snprintf(path, sizeof(path), "%s/root.key.pem", dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	const char *pcr0 = "ea4212ee889ba1b4dbfe744aadecca8b1930de60a3a1ce3b0c79f42b"
			   "231700fc561c3d9b34f0565ed9eb6f460996624c\n";
	snprintf(path, sizeof(path), "%s/pcr0.hex", dir);
	assert_int_equal(file_write_atomic(path, pcr0, strlen(pcr0), 0644, &e), 0);
	assert_int_equal(nsm_open(spec, &b, &e), 0);
	assert_int_equal(nsm_sim_root_der(b, &rb, &lb, &e), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(ra, rb, la);
	uint8_t v[64];
	size_t len;
	bool locked;
	assert_int_equal(nsm_describe_pcr(b, 0, &locked, v, &len, &e), 0);
	assert_true(locked);
	assert_int_equal(v[0], 0xea);
	assert_int_equal(v[47], 0x4c);
	char *pem = NULL;
	assert_int_equal(nsm_sim_root_pem(b, &pem, &e), 0);
	assert_non_null(strstr(pem, "BEGIN CERTIFICATE"));
	free(pem);
	nsm_close(b);

	snprintf(path, sizeof(path), "%s/root.pem", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(nsm_open(spec, &b, &e), -ERR_INVALID);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
	free(ra);
	free(rb);
}

static void test_two_simulators_have_different_roots(void **state)
{
	(void)state;
	struct nsm *a = NULL, *b = NULL;
	uint8_t *ra, *rb, *doc;
	size_t la, lb, dl;
	struct err e = {0};
	assert_int_equal(nsm_open("sim:", &a, &e), 0);
	assert_int_equal(nsm_open("sim:", &b, &e), 0);
	assert_int_equal(nsm_sim_root_der(a, &ra, &la, &e), 0);
	assert_int_equal(nsm_sim_root_der(b, &rb, &lb, &e), 0);
	assert_true(la != lb || memcmp(ra, rb, la) != 0);
	struct nsm_attest_req req = {0};
	assert_int_equal(nsm_attest(a, &req, &doc, &dl, &e), 0);
	struct attestation_verify_opts o = {rb, lb, 0, 0};
	struct attestation_doc *d = NULL;
	assert_true(attestation_verify(doc, dl, &o, &d, &e) < 0);
	free(doc);
	free(ra);
	free(rb);
	nsm_close(a);
	nsm_close(b);
}

/* The document's timestamp (ms) from a bare attestation; -1 on failure. */
static int64_t doc_time(struct nsm *n, struct err *e)
{
	struct nsm_attest_req req = {0};
	uint8_t *doc = NULL;
	size_t len = 0;
	struct attestation_doc *d = NULL;
	if (nsm_attest(n, &req, &doc, &len, e) < 0)
		return -1;
	assert_int_equal(attestation_parse(doc, len, &d, e), 0);
	int64_t t = (int64_t)d->timestamp_ms;
	attestation_doc_free(d);
	free(doc);
	return t;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* DIR/time_offset_s shifts the documents' timestamps, DIR/unavailable
 * fails every request; both are read at every request. */
static void test_sim_dir_time_offset_and_unavailable(void **state)
{
	(void)state;
	char dir[] = "/tmp/nsm-sim-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char spec[64], off[128], gone[128];
	snprintf(spec, sizeof(spec), "sim:%s", dir);
	snprintf(off, sizeof(off), "%s/time_offset_s", dir);
	snprintf(gone, sizeof(gone), "%s/unavailable", dir);
	struct nsm *n = NULL;
	struct err e = {0};
	assert_int_equal(nsm_open(spec, &n, &e), 0);
	int64_t t = doc_time(n, &e), w = wall_ms();
	assert_true(t > w - 5000 && t <= w);
	/* a day ahead, then ten days behind, on the same handle */
	assert_int_equal(file_write_atomic(off, "86400\n", 6, 0644, &e), 0);
	t = doc_time(n, &e);
	w = wall_ms();
	assert_true(t > w + 86400000 - 5000 && t <= w + 86400000);
	assert_int_equal(file_write_atomic(off, "-864000", 7, 0644, &e), 0);
	t = doc_time(n, &e);
	w = wall_ms();
	assert_true(t > w - 864000000 - 5000 && t <= w - 864000000);
	/* garbage is refused, not read as 0 */
	const char *bad[] = {"", "1.5", "ten", "12 ", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(file_write_atomic(off, bad[i], strlen(bad[i]),
						   0644, &e), 0);
		assert_int_equal(doc_time(n, &e), -1);
		assert_non_null(strstr(e.msg, "time_offset_s"));
	}
	assert_int_equal(unlink(off), 0);
	/* a device that stopped answering, and came back */
	assert_int_equal(file_write_atomic(gone, "", 0, 0644, &e), 0);
	assert_int_equal(doc_time(n, &e), -1);
	assert_non_null(strstr(e.msg, "unavailable"));
	uint8_t rnd[8];
	assert_true(nsm_get_random(n, rnd, sizeof(rnd), &e) < 0);
	assert_int_equal(unlink(gone), 0);
	assert_true(doc_time(n, &e) > 0);
	nsm_close(n);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

#endif /* NS_NSM_SIMULATOR */

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_match_the_nsm_wire_format),
		cmocka_unit_test(test_missing_device_fails_cleanly),
#ifdef NS_NSM_SIMULATOR
		cmocka_unit_test_setup_teardown(test_describe_reports_locked_boot_pcrs,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_extend_is_sha384_of_old_and_data,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_locked_pcrs_refuse_extension,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_get_random_fills_any_length,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_attestation_binds_fields_and_locked_pcrs,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_attestation_field_limits,
						sim_setup, sim_teardown),
		cmocka_unit_test(test_sim_dir_keeps_its_root_and_pcr0),
		cmocka_unit_test(test_two_simulators_have_different_roots),
		cmocka_unit_test(test_sim_dir_time_offset_and_unavailable),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
