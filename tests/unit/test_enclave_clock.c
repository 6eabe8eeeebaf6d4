/*
 * test_enclave_clock.c: the enclave's clock guard on NSM-attested time
 * (src/enclave/clock.c), in process: the control server on a unix socket,
 * the NSM simulator in a directory whose time_offset_s puts the
 * hypervisor's time 30 days after this machine's (the host, and the
 * enclave's own clock, "lie" by 30 days), and the signing API on a real
 * 127.0.0.1 listener. The enclave must follow NSM time: an attestation for
 * the NSM's epoch is signed, one for the machine's epoch is 412 "clock";
 * status and /healthcheck show the NSM's time and the skew. When the NSM
 * stops answering (sim DIR/unavailable) the periodic check notices and
 * blocks and attestations are 503 "clock_unavailable" (fail closed) until
 * it answers again; a reload meanwhile fails the same way. A network
 * without a genesis time is refused at init while the guard is on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <time.h>

#include "crypto/crypto.h"
#include "eth2/eth2.h"
#include "signer/keys.h"
#include "test_enclave_common.h"

#ifdef NS_NSM_SIMULATOR

#define MAINNET_GENESIS 1606824023ll
#define EPOCH_S 384ll
#define OFFSET_S (30ll * 86400)
#define MAINNET_GVR "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"

static uint64_t epoch_at(int64_t unix_s)
{
	return (uint64_t)((unix_s - MAINNET_GENESIS) / EPOCH_S);
}

struct sim_dir {
	char dir[48];
	char spec[64];
};

static void sim_dir_new(struct sim_dir *s, long long offset_s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/ns-clock-sim-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->spec, sizeof(s->spec), "sim:%s", s->dir);
	char path[96], text[32];
	struct err e = {0};
	snprintf(path, sizeof(path), "%s/time_offset_s", s->dir);
	snprintf(text, sizeof(text), "%lld\n", offset_s);
	assert_int_equal(file_write_atomic(path, text, strlen(text), 0644, &e), 0);
}

static void sim_set_unavailable(const struct sim_dir *s, bool gone)
{
	char path[96];
	struct err e = {0};
	snprintf(path, sizeof(path), "%s/unavailable", s->dir);
	if (gone)
		assert_int_equal(file_write_atomic(path, "", 0, 0644, &e), 0);
	else
		assert_int_equal(unlink(path), 0);
}

static void sim_dir_free(struct sim_dir *s)
{
	char cmd[80];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	assert_int_equal(system(cmd), 0);
}

static void start(struct test_enclave *t, const struct sim_dir *s,
		  uint64_t epochs)
{
	struct enclave_opts o = {.nsm_spec = s->spec, .allow_any_client = true,
				 .signing_types = UINT32_MAX,
				 .clock_guard_epochs = epochs,
				 .clock_check_interval_s = 1};
	test_enclave_start_opts(t, &o);
}

static json_t *init_msg(const struct test_enclave *t, const char *network)
{
	char db[200];
	snprintf(db, sizeof(db), "sqlite:%s/slashing.db", t->dir);
	json_t *m = control_msg_new(CONTROL_INIT);
	json_t *body = json_pack(
		"{s:s,s:{s:s,s:s},s:s,s:s,s:s,s:s,s:[]}", "region", "us-east-1",
		"credentials", "AccessKeyId", "AKIDEXAMPLE0000001", "SecretAccessKey",
		"not-a-secret", "kms_endpoint", "http://127.0.0.1:1", "network",
		network, "slashing_db_url", db, "signer_id", "test-signer",
		"records");
	assert_non_null(body);
	json_object_update(m, body);
	json_decref(body);
	return m;
}

static json_t *status(int fd)
{
	return host_call(fd, control_msg_new(CONTROL_STATUS));
}

static const char *clock_state(const json_t *st)
{
	return json_string_value(json_object_get(json_object_get(st, "clock"),
						 "state"));
}

/* Status until the clock's state is `want` (10 s at most). */
static json_t *wait_clock_state(int fd, const char *want)
{
	for (int i = 0; i < 100; i++) {
		json_t *st = status(fd);
		if (strcmp(clock_state(st), want) == 0)
			return st;
		json_decref(st);
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("the clock never became %s", want);
	return NULL;
}

/* ---- the API over a real listener ------------------------------------------ */

struct api {
	struct http_server *srv;
	pthread_t thr;
	uint16_t port;
};

static void *api_thread(void *arg)
{
	(void)http_server_run(arg);
	return NULL;
}

static void api_start(struct api *a, struct enclave *en)
{
	struct err e = {0};
	struct http_server_config cfg = {.host_allowlist = "*",
					 .max_body = 1 << 20, .loops = 1,
					 .workers = 2,
					 .handlers = enclave_api_handlers(en)};
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:0", &cfg.listen, &e), 0);
	if (http_server_new(&cfg, &a->srv, &e) < 0)
		fail_msg("http_server_new: %s", e.msg);
	enclave_set_api_server(en, a->srv);
	a->port = http_server_port(a->srv);
	assert_int_equal(pthread_create(&a->thr, NULL, api_thread, a->srv), 0);
}

static void api_stop(struct api *a)
{
	http_server_stop(a->srv);
	pthread_join(a->thr, NULL);
	http_server_free(a->srv);
}

struct reply {
	long status;
	char body[8192];
	size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t k = size * n;
	if (r->len + k < sizeof(r->body)) {
		memcpy(r->body + r->len, p, k);
		r->len += k;
		r->body[r->len] = '\0';
	}
	return k;
}

/* GET (body NULL) or POST JSON to the API; the status, the body in r. */
static long request(const struct api *a, const char *path, const char *body,
		    struct reply *r)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", a->port, path);
	memset(r, 0, sizeof(*r));
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: "
							 "application/json");
	hdr = curl_slist_append(hdr, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	r->status = -1;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return r->status;
}

static char *att_body(uint64_t target)
{
	char *b = NULL;
	int n = asprintf(&b, "{\"type\":\"ATTESTATION\",\"fork_info\":{\"fork\":"
			 "{\"previous_version\":\"0x05000000\",\"current_version\":"
			 "\"0x06000000\",\"epoch\":\"411392\"},"
			 "\"genesis_validators_root\":\"" MAINNET_GVR "\"},"
			 "\"attestation\":{\"slot\":\"%llu\",\"index\":\"0\","
			 "\"beacon_block_root\":\"0x%064d\",\"source\":{\"epoch\":"
			 "\"%llu\",\"root\":\"0x%064d\"},\"target\":{\"epoch\":"
			 "\"%llu\",\"root\":\"0x%064d\"}}}",
			 (unsigned long long)(target * 32), 3,
			 (unsigned long long)(target - 1), 1,
			 (unsigned long long)target, 2);
	assert_true(n > 0);
	return b;
}

/* POST an attestation for target with the key; the status, r filled. */
static long sign_att(const struct api *a, const char *pk, uint64_t target,
		     struct reply *r)
{
	char path[160];
	snprintf(path, sizeof(path), "/api/v1/eth2/sign/%s", pk);
	char *b = att_body(target);
	long st = request(a, path, b, r);
	free(b);
	return st;
}

static const char *reason_of(const struct reply *r, char *out, size_t cap)
{
	json_t *j = json_loads(r->body, 0, NULL);
	snprintf(out, cap, "%s", json_string_value(json_object_get(j, "reason"))
			   ? json_string_value(json_object_get(j, "reason")) : "");
	json_decref(j);
	return out;
}

/* One key installed into the running signer; its pubkey in pk. */
static void install_key(struct enclave *en, char pk[2 + 2 * BLS_PUBKEY_LEN + 1])
{
	struct err e = {0};
	uint8_t sk[BLS_SECRET_LEN] = {0};
	sk[31] = 9;
	struct bls_key *k = NULL;
	assert_int_equal(bls_key_from_bytes(sk, &k, &e), 0);
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, pk);
	struct key_registry *reg = NULL;
	assert_int_equal(keys_from_list(&k, 1, "test", &reg, &e), 0);
	signer_install_keys(enclave_signer(en), reg);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_enclave_follows_nsm_time_not_its_own(void **state)
{
	(void)state;
	struct sim_dir s;
	sim_dir_new(&s, OFFSET_S);
	struct test_enclave t;
	start(&t, &s, 2);
	int fd = host_connect(&t);
	/* before init: no NSM time yet */
	json_t *st = status(fd);
	assert_string_equal(clock_state(st), "unavailable");
	json_t *c = json_object_get(st, "clock");
	assert_int_equal(json_integer_value(json_object_get(c, "guard_epochs")), 2);
	assert_string_equal(json_string_value(json_object_get(c, "source")), "nsm");
	assert_non_null(strstr(json_string_value(json_object_get(c, "error")),
			       "no NSM time yet"));
	json_decref(st);

	json_decref(expect_ok(host_call(fd, init_msg(&t, "mainnet"))));
	int64_t now = (int64_t)time(NULL);
	st = status(fd);
	assert_string_equal(clock_state(st), "ok");
	c = json_object_get(st, "clock");
	int64_t nsm_ms = json_integer_value(json_object_get(c, "nsm_time_ms"));
	assert_true(nsm_ms / 1000 >= now + OFFSET_S - 5 &&
		    nsm_ms / 1000 <= now + OFFSET_S + 5);
	int64_t skew = json_integer_value(json_object_get(c, "skew_ms"));
	assert_true(skew <= -OFFSET_S * 1000 + 5000 &&
		    skew >= -OFFSET_S * 1000 - 5000);
	assert_true(json_is_false(json_object_get(c, "clock_agrees")));
	assert_true(json_integer_value(json_object_get(c, "samples")) >= 1);
	json_decref(st);

	struct api a;
	api_start(&a, t.en);
	char pk[2 + 2 * BLS_PUBKEY_LEN + 1], why[64];
	install_key(t.en, pk);
	uint64_t nsm_epoch = epoch_at(now + OFFSET_S);
	uint64_t own_epoch = epoch_at(now);
	struct reply r;
	/* the NSM's epoch is signed */
	if (sign_att(&a, pk, nsm_epoch, &r) != 200)
		fail_msg("NSM epoch: %ld %s", r.status, r.body);
	assert_non_null(strstr(r.body, "\"signature\":\"0x"));
	/* the machine's (the host's, the enclave's own clock's) is not */
	assert_int_equal(sign_att(&a, pk, own_epoch, &r), 412);
	assert_string_equal(reason_of(&r, why, sizeof(why)), "clock");
	assert_non_null(strstr(r.body, "epochs before the current epoch"));
	/* nor is one beyond the window after the NSM's */
	assert_int_equal(sign_att(&a, pk, nsm_epoch + 4, &r), 412);
	assert_string_equal(reason_of(&r, why, sizeof(why)), "clock");
	/* /healthcheck: the guard on NSM time */
	assert_int_equal(request(&a, "/healthcheck", NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"id\":\"clock-guard\",\"status\":\"UP\""));
	assert_non_null(strstr(r.body, "\"source\":\"nsm\""));
	char want[64];
	snprintf(want, sizeof(want), "\"current_epoch\":\"%llu\"",
		 (unsigned long long)nsm_epoch);
	char alt[64]; /* an epoch may have ended meanwhile */
	snprintf(alt, sizeof(alt), "\"current_epoch\":\"%llu\"",
		 (unsigned long long)nsm_epoch + 1);
	assert_true(strstr(r.body, want) || strstr(r.body, alt));

	/* The NSM stops answering: the periodic check (every second here)
	 * notices, and blocks and attestations fail closed. */
	sim_set_unavailable(&s, true);
	st = wait_clock_state(fd, "unavailable");
	assert_non_null(strstr(json_string_value(json_object_get(
				       json_object_get(st, "clock"), "error")),
			       "unavailable"));
	json_decref(st);
	assert_int_equal(sign_att(&a, pk, nsm_epoch + 1, &r), 503);
	assert_string_equal(reason_of(&r, why, sizeof(why)), "clock_unavailable");
	assert_non_null(strstr(r.body, "NSM"));
	assert_int_equal(request(&a, "/healthcheck", NULL, &r), 503);
	assert_non_null(strstr(r.body, "\"id\":\"clock-guard\",\"status\":\"DOWN\""));
	/* a reload needs the NSM too: refused, still no trusted time */
	json_t *rl = control_msg_new(CONTROL_RELOAD);
	json_object_set_new(rl, "records",
			    json_pack("[{s:s,s:s,s:s}]", "pubkey", pk, "kind",
				      "sample", "ciphertext_b64", "AAAA"));
	host_expect_refused(fd, rl, "attestation");
	st = status(fd);
	assert_string_equal(clock_state(st), "unavailable");
	json_decref(st);
	assert_true(enclave_ready(t.en));

	/* it answers again: signing resumes on its time */
	sim_set_unavailable(&s, false);
	json_decref(wait_clock_state(fd, "ok"));
	if (sign_att(&a, pk, nsm_epoch + 1, &r) != 200)
		fail_msg("after recovery: %ld %s", r.status, r.body);

	api_stop(&a);
	close(fd);
	test_enclave_stop(&t);
	sim_dir_free(&s);
}

static void test_nsm_time_behind_and_guard_off(void **state)
{
	(void)state;
	/* The NSM 10 days behind the machine: the machine's epoch is "future". */
	struct sim_dir s;
	sim_dir_new(&s, -10ll * 86400);
	struct test_enclave t;
	start(&t, &s, 2);
	int fd = host_connect(&t);
	json_decref(expect_ok(host_call(fd, init_msg(&t, "mainnet"))));
	struct api a;
	api_start(&a, t.en);
	char pk[2 + 2 * BLS_PUBKEY_LEN + 1], why[64];
	install_key(t.en, pk);
	int64_t now = (int64_t)time(NULL);
	struct reply r;
	assert_int_equal(sign_att(&a, pk, epoch_at(now), &r), 412);
	assert_string_equal(reason_of(&r, why, sizeof(why)), "clock");
	assert_non_null(strstr(r.body, "epochs after the current epoch"));
	if (sign_att(&a, pk, epoch_at(now - 10ll * 86400), &r) != 200)
		fail_msg("NSM epoch: %ld %s", r.status, r.body);
	api_stop(&a);
	close(fd);
	test_enclave_stop(&t);

	/* The image turns the guard off: status says so, any epoch goes on
	 * to slashing protection, and the NSM's absence does not matter. */
	start(&t, &s, 0);
	fd = host_connect(&t);
	json_decref(expect_ok(host_call(fd, init_msg(&t, "mainnet"))));
	api_start(&a, t.en);
	install_key(t.en, pk);
	json_t *st = status(fd);
	assert_string_equal(clock_state(st), "off");
	json_decref(st);
	sim_set_unavailable(&s, true);
	if (sign_att(&a, pk, epoch_at(now) + 100000, &r) != 200)
		fail_msg("guard off: %ld %s", r.status, r.body);
	assert_int_equal(request(&a, "/healthcheck", NULL, &r), 200);
	assert_null(strstr(r.body, "clock-guard"));
	sim_set_unavailable(&s, false);
	api_stop(&a);
	close(fd);
	test_enclave_stop(&t);
	sim_dir_free(&s);
}

static void test_init_needs_genesis_time_and_the_nsm(void **state)
{
	(void)state;
	struct sim_dir s;
	sim_dir_new(&s, 0);
	struct test_enclave t;
	start(&t, &s, 2);
	int fd = host_connect(&t);
	/* "minimal" has no genesis time: no clock, no init */
	host_expect_refused(fd, init_msg(&t, "minimal"),
			    "\"network\" minimal has no genesis time");
	/* the NSM cannot be asked: init fails and says so */
	sim_set_unavailable(&s, true);
	host_expect_refused(fd, init_msg(&t, "mainnet"), "attestation");
	json_t *st = status(fd);
	assert_true(json_is_false(json_object_get(st, "ready")));
	assert_string_equal(clock_state(st), "unavailable");
	json_decref(st);
	sim_set_unavailable(&s, false);
	json_decref(expect_ok(host_call(fd, init_msg(&t, "mainnet"))));
	st = status(fd);
	assert_string_equal(clock_state(st), "ok");
	json_decref(st);
	close(fd);
	test_enclave_stop(&t);
	/* with the guard off, such a network is the host's business */
	start(&t, &s, 0);
	fd = host_connect(&t);
	json_decref(expect_ok(host_call(fd, init_msg(&t, "minimal"))));
	close(fd);
	test_enclave_stop(&t);
	sim_dir_free(&s);
}

#endif /* NS_NSM_SIMULATOR */

int main(void)
{
#ifdef NS_NSM_SIMULATOR
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enclave_follows_nsm_time_not_its_own),
		cmocka_unit_test(test_nsm_time_behind_and_guard_off),
		cmocka_unit_test(test_init_needs_genesis_time_and_the_nsm),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
#else
	return 0;
#endif
}
