/*
 * test_signer_access.c: who may call which route, and which signing types
 * are served (src/signer/service.c's route table, src/signer/policy.c).
 * The handlers are called with requests as the http module builds them:
 * with or without a client certificate, listed or not, from a browser
 * (Origin / Sec-Fetch-Site) or not. Sign requests are Web3Signer's own
 * examples (tests/unit/vectors/web3signer_sign_examples.json).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "signer/metrics.h"
#include "signer/signer.h"
#include "test_sign_examples.h"

#define BIT(t) (UINT32_C(1) << (t))
#define PK "0x" \
	"a99a76ed7796f7be22d5b7e85deeb7c5677e88e511e0b337618f8c4eb61349b4" \
	"bf2d153f649f7b53359fe8b94a38e44c"

static json_t *examples;
static struct eth2_network mainnet;

static int setup(void **state)
{
	(void)state;
	struct err e = {0};
	examples = sign_examples_load();
	return examples && eth2_network_load("mainnet", &mainnet, &e) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(examples);
	return 0;
}

static char *example_body(const char *name)
{
	json_t *req = sign_example(examples, name);
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return body;
}

/* ---- the policy's rule --------------------------------------------------- */

static void test_signing_types_rule(void **state)
{
	(void)state;
	uint32_t all = (UINT32_C(1) << ETH2_SIGN_COUNT) - 1;
	uint32_t builder = BIT(ETH2_SIGN_EXECUTION_PAYLOAD_BID) |
			   BIT(ETH2_SIGN_BUILDER_REQUEST_AUTH);
	uint32_t danger = BIT(ETH2_SIGN_VOLUNTARY_EXIT) | BIT(ETH2_SIGN_DEPOSIT) |
			  builder;
	uint32_t m;
	struct err e = {0};
	assert_int_equal(signer_signing_types_parse(NULL, false, &m, &e), 0);
	assert_int_equal(m, all);
	assert_int_equal(signer_signing_types_parse(NULL, true, &m, &e), 0);
	assert_int_equal(m, all & ~danger);
	/* the Gloas validator duties are duties: on by default in the enclave */
	assert_true(m & BIT(ETH2_SIGN_EXECUTION_PAYLOAD_ENVELOPE));
	assert_true(m & BIT(ETH2_SIGN_PAYLOAD_ATTESTATION_MESSAGE));
	assert_true(m & BIT(ETH2_SIGN_PROPOSER_PREFERENCES));
	/* listing only exits and deposits enables them beside the duties */
	assert_int_equal(signer_signing_types_parse("VOLUNTARY_EXIT,DEPOSIT", true,
						    &m, &e), 0);
	assert_int_equal(m, all & ~builder);
	assert_int_equal(signer_signing_types_parse(
				 "VOLUNTARY_EXIT,DEPOSIT,EXECUTION_PAYLOAD_BID,"
				 "BUILDER_REQUEST_AUTH", true, &m, &e), 0);
	assert_int_equal(m, all);
	assert_int_equal(signer_signing_types_parse("VOLUNTARY_EXIT", false, &m,
						    &e), 0);
	assert_int_equal(m, all & ~BIT(ETH2_SIGN_DEPOSIT) & ~builder);
	/* listing duties restricts the duties to those */
	assert_int_equal(signer_signing_types_parse("ATTESTATION,BLOCK_V2", false,
						    &m, &e), 0);
	assert_int_equal(m, BIT(ETH2_SIGN_ATTESTATION) | BIT(ETH2_SIGN_BLOCK_V2));
	const char *bad[] = {"", "BLOCK_V2,", ",BLOCK_V2", "block_v2",
			     "BLOCK_V2,NOPE", "BLOCK_V2 "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(signer_signing_types_parse(bad[i], false, &m, &e),
				 -ERR_USAGE);
		assert_non_null(strstr(e.msg, "--allow-signing-types"));
	}
	char out[512];
	signer_signing_types_format(BIT(ETH2_SIGN_BLOCK_V2) |
					    BIT(ETH2_SIGN_VOLUNTARY_EXIT),
				    out, sizeof(out));
	assert_string_equal(out, "BLOCK_V2,VOLUNTARY_EXIT");
}

/* ---- routes -------------------------------------------------------------------- */

struct who {
	bool cert;
	const char *client;
};
static const struct who NOBODY = {false, ""};
static const struct who UNLISTED = {true, ""};
static const struct who LISTED = {true, "validator-client"};

static struct signer *make(enum signer_client_auth auth, uint32_t types,
			   bool enclave)
{
	struct signer_options o;
	memset(&o, 0, sizeof(o));
	o.eth2 = true;
	o.network_name = "mainnet";
	o.slashing_enabled = false;
	o.client_auth = auth;
	o.known_clients = auth == SIGNER_CLIENTS_LISTED ? 1 : 0;
	o.signing_types = types;
	o.http_reload_disabled = enclave;
	struct signer *s = NULL;
	struct err e = {0};
	if (signer_new(&o, &mainnet, &s, &e) < 0)
		fail_msg("signer_new: %s", e.msg);
	return s;
}

/* One request through the handlers; the status, *body (caller frees). */
static int call(struct signer *s, enum http_method method, const char *path,
		const char *body, const struct who *w, const char *origin,
		const char *fetch_site, const char *ctype, char **out)
{
	struct http_handlers h = signer_http_handlers(s);
	struct http_req req = {.method = method, .path = (char *)path,
			       .body = (uint8_t *)body,
			       .body_len = body ? strlen(body) : 0,
			       .content_type = (char *)ctype,
			       .accept = (char *)"application/json",
			       .origin = (char *)origin,
			       .sec_fetch_site = (char *)fetch_site,
			       .client_cert = w->cert, .tls = true};
	snprintf(req.client, sizeof(req.client), "%s", w->client);
	struct http_reply r = {0};
	h.handle(&req, &r, h.arg);
	if (r.defer_fn)
		r.defer_fn(&req, &r, r.defer_ctx);
	assert_null(r.park_fn);
	if (out)
		*out = r.body;
	else
		free(r.body);
	return r.status;
}

static int get(struct signer *s, const char *path, const struct who *w)
{
	return call(s, HTTP_GET, path, NULL, w, NULL, NULL, NULL, NULL);
}

static int sign(struct signer *s, const char *example, const struct who *w,
		char **out)
{
	char *body = example_body(example);
	int st = call(s, HTTP_POST, "/api/v1/eth2/sign/" PK, body, w, NULL, NULL,
		      "application/json", out);
	free(body);
	return st;
}

static void test_enclave_routes_need_a_listed_client(void **state)
{
	(void)state;
	uint32_t types;
	assert_int_equal(signer_signing_types_parse(NULL, true, &types, NULL), 0);
	struct signer *s = make(SIGNER_CLIENTS_LISTED, types, true);
	char *body = NULL;
	/* open to all: the load balancer's health check has no certificate */
	assert_int_equal(get(s, "/upcheck", &NOBODY), 200);
	assert_int_equal(call(s, HTTP_GET, "/healthcheck", NULL, &NOBODY, NULL,
			      NULL, NULL, &body), 200);
	assert_non_null(strstr(body, "\"client-authentication\""));
	assert_non_null(strstr(body, "\"known-clients\""));
	assert_non_null(strstr(body, "\"keys-loaded\""));
	free(body);
	/* the rest: 401 without a certificate, 403 with an unlisted one */
	const char *paths[] = {"/api/v1/eth2/publicKeys"};
	for (size_t i = 0; i < 1; i++) {
		assert_int_equal(call(s, HTTP_GET, paths[i], NULL, &NOBODY, NULL,
				      NULL, NULL, &body), 401);
		assert_non_null(strstr(body, "client certificate required"));
		free(body);
		assert_int_equal(call(s, HTTP_GET, paths[i], NULL, &UNLISTED, NULL,
				      NULL, NULL, &body), 403);
		assert_non_null(strstr(body, "not authorised"));
		free(body);
		assert_int_equal(get(s, paths[i], &LISTED), 200);
	}
	const char *types_ex[] = {"VOLUNTARY_EXIT", "DEPOSIT", "BLOCK_V2 (FULU)",
				  "RANDAO_REVEAL"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sign(s, types_ex[i], &NOBODY, NULL), 401);
		assert_int_equal(sign(s, types_ex[i], &UNLISTED, NULL), 403);
	}
	/* the listed client: exits and deposits refused by the policy, the
	 * duties reach the key lookup (no key here: 404) */
	assert_int_equal(sign(s, "VOLUNTARY_EXIT", &LISTED, &body), 403);
	assert_non_null(strstr(body, "\"reason\":\"type_not_allowed\""));
	free(body);
	assert_int_equal(sign(s, "DEPOSIT", &LISTED, &body), 403);
	assert_non_null(strstr(body, "type_not_allowed"));
	free(body);
	assert_int_equal(sign(s, "RANDAO_REVEAL", &LISTED, NULL), 404);
	/* no HTTP reload in the enclave, for anyone */
	assert_int_equal(call(s, HTTP_POST, "/reload", NULL, &LISTED, NULL, NULL,
			      NULL, NULL), 404);
	assert_int_equal(get(s, "/reload", &LISTED), 404);
	assert_int_equal(call(s, HTTP_POST, "/reload", NULL, &NOBODY, NULL, NULL,
			      NULL, NULL), 404);
	signer_free(s);
}

static void test_any_client_mode_and_the_restricted_standalone(void **state)
{
	(void)state;
	uint32_t types;
	assert_int_equal(signer_signing_types_parse("VOLUNTARY_EXIT,DEPOSIT", true,
						    &types, NULL), 0);
	struct signer *s = make(SIGNER_CLIENTS_ANY, types, true);
	char *body = NULL;
	assert_int_equal(get(s, "/api/v1/eth2/publicKeys", &NOBODY), 200);
	assert_int_equal(sign(s, "VOLUNTARY_EXIT", &NOBODY, NULL), 404);
	assert_int_equal(call(s, HTTP_GET, "/healthcheck", NULL, &NOBODY, NULL,
			      NULL, NULL, &body), 200);
	assert_non_null(strstr(body, "\"any-client\""));
	assert_non_null(strstr(body, "--tls-allow-any-client"));
	free(body);
	signer_free(s);
	/* standalone restricted to attestations */
	assert_int_equal(signer_signing_types_parse("ATTESTATION", false, &types,
						    NULL), 0);
	s = make(SIGNER_CLIENTS_TRANSPORT, types, false);
	assert_int_equal(sign(s, "BLOCK_V2 (FULU)", &NOBODY, &body), 403);
	assert_non_null(strstr(body, "type_not_allowed"));
	free(body);
	assert_int_equal(sign(s, "VOLUNTARY_EXIT", &NOBODY, NULL), 403);
	/* and the health check says nothing about client authentication */
	assert_int_equal(call(s, HTTP_GET, "/healthcheck", NULL, &NOBODY, NULL,
			      NULL, NULL, &body), 200);
	assert_null(strstr(body, "client-authentication"));
	free(body);
	signer_free(s);
}

/* Standalone: Web3Signer's /reload (POST starts, GET reports), but not
 * from a web page, and never to an empty signer. */
static void test_standalone_reload_post_only_not_cross_site(void **state)
{
	(void)state;
	uint32_t all;
	assert_int_equal(signer_signing_types_parse(NULL, false, &all, NULL), 0);
	struct signer *s = make(SIGNER_CLIENTS_TRANSPORT, all, false);
	char *body = NULL;
	assert_int_equal(sign(s, "VOLUNTARY_EXIT", &NOBODY, NULL), 404);
	assert_int_equal(get(s, "/reload", &NOBODY), 200);
	/* HEAD only reports too: a no-cors fetch can send it without Origin */
	assert_int_equal(call(s, HTTP_HEAD, "/reload", NULL, &NOBODY, NULL,
			      "cross-site", NULL, &body), 200);
	assert_non_null(strstr(body, "\"status\":\"idle\""));
	free(body);
	assert_int_equal(call(s, HTTP_PUT, "/reload", NULL, &NOBODY, NULL, NULL,
			      NULL, NULL), 405);
	assert_int_equal(call(s, HTTP_POST, "/reload", NULL, &NOBODY,
			      "https://evil.example", NULL, NULL, &body), 403);
	assert_non_null(strstr(body, "cross-site"));
	free(body);
	assert_int_equal(call(s, HTTP_POST, "/reload", NULL, &NOBODY, NULL,
			      "cross-site", NULL, NULL), 403);
	assert_int_equal(call(s, HTTP_POST, "/reload", "a=b", &NOBODY, NULL, NULL,
			      "application/x-www-form-urlencoded", NULL), 415);
	assert_int_equal(call(s, HTTP_POST, "/reload", "x", &NOBODY, NULL, NULL,
			      "text/plain", NULL), 415);
	/* nothing configured: refused, the keys stay */
	assert_int_equal(call(s, HTTP_POST, "/reload", NULL, &NOBODY, NULL,
			      "none", NULL, &body), 409);
	assert_non_null(strstr(body, "nothing to reload"));
	free(body);
	signer_free(s);
}

/* ---- the metrics while /reload swaps the registry --------------------------- */

struct scraper {
	struct signer *s;
	int n;
	int ok;
};

static void *scrape(void *arg)
{
	struct scraper *sc = arg;
	for (int i = 0; i < sc->n; i++) {
		char *body = NULL;
		size_t len;
		if (signer_metrics_render(sc->s, &body, &len, NULL) == 0 &&
		    strstr(body, "\nsigning_signers_loaded_count 1\n"))
			sc->ok++;
		free(body);
	}
	return NULL;
}

/* Scrapes race reloads that free the old key registry; under ASan a
 * count read without the registry's lock is a use-after-free. */
static void test_metrics_while_reloading(void **state)
{
	(void)state;
	char dir[] = "/tmp/ns-metrics-reload-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct bls_key *k = NULL;
	struct err e = {0};
	assert_int_equal(bls_key_generate(&k, &e), 0);
	static const char pw[] = "metrics reload password";
	struct secret *spw = secret_from(pw, strlen(pw));
	struct keystore_params kp = {.kdf = KEYSTORE_KDF_PBKDF2, .path = "",
				     .work_factor = 2};
	char *ks = NULL;
	assert_int_equal(keystore_encrypt(k, spw, &kp, &ks, &e), 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/k.json", dir);
	assert_int_equal(file_write_atomic(path, ks, strlen(ks), 0600, &e), 0);
	snprintf(path, sizeof(path), "%s/pw.txt", dir);
	assert_int_equal(file_write_atomic(path, pw, strlen(pw), 0600, &e), 0);
	struct signer_options o;
	memset(&o, 0, sizeof(o));
	o.eth2 = true;
	o.network_name = "mainnet";
	o.keystores_path = dir;
	o.keystores_password_file = path;
	o.metrics_enabled = true;
	assert_int_equal(signer_signing_types_parse(NULL, false, &o.signing_types,
						    NULL), 0);
	struct signer *s = NULL;
	if (signer_new(&o, &mainnet, &s, &e) < 0)
		fail_msg("signer_new: %s", e.msg);
	struct scraper sc = {.s = s, .n = 3000};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, scrape, &sc), 0);
	/* At least 3 reloads while the scraper runs (each decrypts a
	 * keystore: under load one may take longer than the whole scrape). */
	int started = 0;
	for (int i = 0; i < 20000 && (i < 300 || started < 3); i++) {
		int st = call(s, HTTP_POST, "/reload", NULL, &NOBODY, NULL, NULL,
			      NULL, NULL);
		assert_true(st == 202 || st == 409);
		started += st == 202;
		usleep(i < 300 ? 200 : 1000);
	}
	pthread_join(t, NULL);
	assert_true(started > 1);
	assert_true(sc.ok > 0);
	signer_free(s);
	secret_free(spw);
	free(ks);
	bls_key_free(k);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_types_rule),
		cmocka_unit_test(test_enclave_routes_need_a_listed_client),
		cmocka_unit_test(test_any_client_mode_and_the_restricted_standalone),
		cmocka_unit_test(test_standalone_reload_post_only_not_cross_site),
		cmocka_unit_test(test_metrics_while_reloading),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
