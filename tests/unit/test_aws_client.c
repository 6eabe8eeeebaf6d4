/*
 * test_aws_client.c: the AWS client against the stand-ins (started here,
 * see test_aws_standins.h): every KMS and DynamoDB call, signatures accepted
 * by a verifier built on AWS's own signer and a tampered request refused,
 * retries on throttling/5xx/truncation bounded, malformed JSON and wrong
 * regions reported in one line, credentials from the environment, IMDSv2
 * (token, refresh before expiry, expiry, hop limit) and pushed, and the
 * socket hook over a unix socket with connection reuse. Also the parsers
 * that need no server (base64, error shapes, endpoints).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "aws/aws.h"
#include "test_aws_standins.h"

static struct aws_creds_provider *g_env;

static struct aws_client *client_with(struct aws_creds_provider *p,
				      const char *region)
{
	struct aws_client_opts o = {.creds = p, .region = region,
				    .base_delay_ms = 5, .max_delay_ms = 50};
	struct err e = {0};
	struct aws_client *c = aws_client_new(&o, &e);
	if (!c)
		fail_msg("aws_client_new: %s", e.msg);
	return c;
}

static struct aws_client *client(void)
{
	return client_with(g_env, NULL);
}

static int group_setup(void **state)
{
	secret_init();
	if (standins_start() < 0)
		return -1;
	struct err e = {0};
	g_env = aws_creds_env_new(&e);
	return g_env ? 0 : -1;
}

static int group_teardown(void **state)
{
	aws_creds_provider_free(g_env);
	standins_stop();
	return 0;
}

/* ---- parsers (no server) ------------------------------------------------ */

static void test_error_shapes_parsed(void **state)
{
	struct aws_error_info ei;
	const char *a = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
			"ConditionalCheckFailedException\",\"message\":\"The conditional "
			"request failed\"}";
	assert_int_equal(aws_json_error_parse(a, strlen(a), &ei), 0);
	assert_string_equal(ei.type, "ConditionalCheckFailedException");
	assert_string_equal(ei.message, "The conditional request failed");
	const char *b = "{\"__type\":\"AccessDeniedException\",\"Message\":\"no\\nway\"}";
	assert_int_equal(aws_json_error_parse(b, strlen(b), &ei), 0);
	assert_string_equal(ei.message, "no way");
	assert_int_equal(aws_json_error_parse("<html>", 6, &ei), -ERR_INVALID);
	assert_string_equal(ei.type, "Unknown");
	assert_true(aws_error_retryable(400, "ThrottlingException"));
	assert_true(aws_error_retryable(400, "ProvisionedThroughputExceededException"));
	assert_true(aws_error_retryable(503, "Unknown"));
	assert_false(aws_error_retryable(400, "AccessDeniedException"));
}

static void test_endpoint_and_region_resolution(void **state)
{
	char buf[256], reg[64];
	struct err e = {0};
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_KMS, "eu-west-1", "https://x.test/",
					      buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "https://x.test");
	const char *saved = getenv("AWS_ENDPOINT_URL_KMS");
	char *copy = saved ? strdup(saved) : NULL;
	unsetenv("AWS_ENDPOINT_URL_KMS");
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_KMS, "eu-west-1", NULL, buf,
					      sizeof(buf), &e), 0);
	assert_string_equal(buf, "http://127.0.0.1:1");
	unsetenv("AWS_ENDPOINT_URL");
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_KMS, "cn-north-1", NULL, buf,
					      sizeof(buf), &e), 0);
	assert_string_equal(buf, "https://kms.cn-north-1.amazonaws.com.cn");
	setenv("AWS_ENDPOINT_URL_KMS", "ftp://nope", 1);
	assert_int_equal(aws_endpoint_resolve(AWS_SVC_KMS, "eu-west-1", NULL, buf,
					      sizeof(buf), &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "AWS_ENDPOINT_URL_KMS"));
	if (copy)
		setenv("AWS_ENDPOINT_URL_KMS", copy, 1);
	free(copy);
	assert_int_equal(aws_region_resolve("eu-central-2", reg, sizeof(reg), &e), 0);
	assert_int_equal(aws_region_resolve("EU CENTRAL", reg, sizeof(reg), &e),
			 -ERR_USAGE);
	assert_non_null(strstr(e.msg, "--region"));
}

static void test_envelope_round_trip_and_aad_binding(void **state)
{
	struct secret *k = secret_new(32);
	memset(k->bytes, 7, 32);
	uint8_t *sealed;
	size_t n;
	assert_int_equal(aws_envelope_seal(k, (const uint8_t *)"ctx", 3,
					   (const uint8_t *)"payload", 7, &sealed,
					   &n, NULL), 0);
	struct secret *pt;
	assert_int_equal(aws_envelope_open(k, (const uint8_t *)"ctx", 3, sealed, n,
					   &pt, NULL), 0);
	assert_memory_equal(pt->bytes, "payload", 7);
	secret_free(pt);
	struct err e = {0};
	assert_int_equal(aws_envelope_open(k, (const uint8_t *)"cty", 3, sealed, n,
					   &pt, &e), -ERR_CRYPTO);
	sealed[n - 1] ^= 1;
	assert_int_equal(aws_envelope_open(k, (const uint8_t *)"ctx", 3, sealed, n,
					   &pt, NULL), -ERR_CRYPTO);
	free(sealed);
	secret_free(k);
}

/* ---- KMS ------------------------------------------------------------------- */

static void test_kms_encrypt_decrypt_round_trip(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	uint8_t *blob;
	size_t blen;
	json_t *ctx = json_pack("{s:s}", "signer", "s1");
	if (aws_kms_encrypt(c, getenv("NS_STANDIN_KMS_ALIAS"),
			    (const uint8_t *)"secret bytes", 12, ctx, &blob, &blen,
			    &e) < 0)
		fail_msg("%s", e.msg);
	struct aws_kms_plain p;
	if (aws_kms_decrypt(c, NULL, blob, blen, ctx, NULL, &p, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(p.plaintext->len, 12);
	assert_memory_equal(p.plaintext->bytes, "secret bytes", 12);
	assert_string_equal(p.key_id, getenv("NS_STANDIN_KMS_KEY_ARN"));
	aws_kms_plain_clear(&p);
	/* A different encryption context does not decrypt. */
	json_t *other = json_pack("{s:s}", "signer", "s2");
	assert_int_equal(aws_kms_decrypt(c, NULL, blob, blen, other, NULL, &p, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "InvalidCiphertextException"));
	/* Over KMS's 4096-byte limit: refused before any request. */
	uint8_t big[4097] = {0}, *none;
	size_t nlen;
	assert_int_equal(aws_kms_encrypt(c, "k", big, sizeof(big), NULL, &none,
					 &nlen, &e), -ERR_TOO_LARGE);
	assert_null(none);
	assert_non_null(strstr(e.msg, "4096"));
	json_decref(ctx);
	json_decref(other);
	free(blob);
	aws_client_free(c);
}

static void test_kms_data_keys_random_and_describe(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	const char *key = getenv("NS_STANDIN_KMS_KEY_ARN");
	struct aws_kms_data_key dk;
	if (aws_kms_generate_data_key(c, key, "AES_256", NULL, NULL, &dk, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(dk.plain.plaintext->len, 32);
	/* The wrapped copy decrypts to the same key. */
	struct aws_kms_plain p;
	assert_int_equal(aws_kms_decrypt(c, key, dk.blob, dk.blob_len, NULL, NULL,
					 &p, &e), 0);
	assert_memory_equal(p.plaintext->bytes, dk.plain.plaintext->bytes, 32);
	aws_kms_plain_clear(&p);
	aws_kms_data_key_clear(&dk);

	struct aws_kms_data_key_pair kp;
	if (aws_kms_generate_data_key_pair(c, key, "ECC_NIST_P256", NULL, &kp, &e) < 0)
		fail_msg("%s", e.msg);
	/* The private key is the one whose public half came back. */
	const uint8_t *q = kp.private_key.plaintext->bytes;
	EVP_PKEY *pk = d2i_AutoPrivateKey(NULL, &q, (long)kp.private_key.plaintext->len);
	assert_non_null(pk);
	uint8_t *spki = NULL;
	int sl = i2d_PUBKEY(pk, &spki);
	assert_int_equal((size_t)sl, kp.public_key_len);
	assert_memory_equal(spki, kp.public_key, kp.public_key_len);
	OPENSSL_free(spki);
	EVP_PKEY_free(pk);
	aws_kms_data_key_pair_clear(&kp);

	assert_int_equal(aws_kms_generate_random(c, 48, NULL, &p, &e), 0);
	assert_int_equal(p.plaintext->len, 48);
	aws_kms_plain_clear(&p);
	assert_int_equal(aws_kms_generate_random(c, 2000, NULL, &p, &e), -ERR_USAGE);

	struct aws_kms_key_info ki;
	assert_int_equal(aws_kms_describe_key(c, key, &ki, &e), 0);
	assert_true(ki.enabled);
	assert_string_equal(ki.key_state, "Enabled");
	assert_string_equal(ki.arn, key);
	assert_int_equal(aws_kms_describe_key(c, "alias/none", &ki, &e), -ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "NotFoundException"));
	aws_client_free(c);
}

/* The Recipient reaches KMS as the protocol says (algorithm, base64 of the
 * document), and a document that is not a valid attestation document is
 * refused with an error naming attestation. The full Recipient round trip
 * is tests/unit/test_kms_recipient.c. */
static void test_kms_recipient_plumbing(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	const char *key = getenv("NS_STANDIN_KMS_KEY_ARN");
	uint8_t *blob;
	size_t blen;
	assert_int_equal(aws_kms_encrypt(c, key, (const uint8_t *)"x", 1, NULL, &blob,
					 &blen, &e), 0);
	const uint8_t doc[] = {0x84, 0x44, 0xa1, 0x01, 0x38, 0x22};
	struct aws_kms_recipient r = {doc, sizeof(doc)};
	struct aws_kms_plain p;
	assert_int_equal(aws_kms_decrypt(c, NULL, blob, blen, NULL, &r, &p, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "attestation"));
	json_t *last = standin_admin("AWS_ENDPOINT_URL_KMS", "last-request", NULL);
	json_t *rec = json_object_get(json_object_get(last, "body"), "Recipient");
	assert_string_equal(json_string_value(json_object_get(rec, "KeyEncryptionAlgorithm")),
			    "RSAES_OAEP_SHA_256");
	assert_string_equal(json_string_value(json_object_get(rec, "AttestationDocument")),
			    "hEShATgi");
	json_decref(last);
	free(blob);
	aws_client_free(c);
}

/* ---- signatures --------------------------------------------------------------- */

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	char *out = ud;
	size_t have = strlen(out), take = s * n;
	if (have + take < 4096) {
		memcpy(out + have, p, take);
		out[have + take] = '\0';
	}
	return s * n;
}

/* Replays the last signed request, optionally tampered; returns the status. */
static long replay(const json_t *raw, bool tamper_body, const char *target,
		   char resp[4096])
{
	resp[0] = '\0';
	const json_t *hs = json_object_get(raw, "headers");
	uint8_t *body;
	size_t blen;
	assert_int_equal(b64_decode(json_string_value(json_object_get(raw, "body")),
				    &body, &blen, NULL, "body"), 0);
	if (tamper_body)
		body[blen / 2] ^= 0x01;
	struct curl_slist *l = NULL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)hs, k, v) {
		if (strcmp(k, "content-length") == 0 || strcmp(k, "accept") == 0)
			continue;
		char line[4096];
		const char *val = json_string_value(v);
		if (target && strcmp(k, "x-amz-target") == 0)
			val = target;
		snprintf(line, sizeof(line), "%s: %s", k, val);
		l = curl_slist_append(l, line);
	}
	char url[300];
	snprintf(url, sizeof(url), "%s/", getenv("AWS_ENDPOINT_URL_KMS"));
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)blen);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(l);
	free(body);
	return status;
}

static void test_standin_accepts_our_signature_and_refuses_tampering(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	struct aws_kms_key_info ki;
	assert_int_equal(aws_kms_describe_key(c, getenv("NS_STANDIN_KMS_KEY_ARN"), &ki,
					      &e), 0);
	json_t *raw = standin_admin("AWS_ENDPOINT_URL_KMS", "last-raw", NULL);
	assert_non_null(raw);
	/* We signed x-amz-content-sha256 and the target, as kmstool does. */
	const char *auth = json_string_value(
		json_object_get(json_object_get(raw, "headers"), "authorization"));
	assert_non_null(strstr(auth, "SignedHeaders=content-type;host;"
				     "x-amz-content-sha256;x-amz-date;x-amz-target,"));
	char resp[4096];
	assert_int_equal(replay(raw, false, NULL, resp), 200);
	assert_non_null(strstr(resp, "KeyMetadata"));
	assert_int_equal(replay(raw, true, NULL, resp), 400);
	assert_non_null(strstr(resp, "InvalidSignatureException"));
	assert_int_equal(replay(raw, false, "TrentService.GenerateRandom", resp), 400);
	assert_non_null(strstr(resp, "The request signature we calculated does not match"));
	json_decref(raw);
	aws_client_free(c);
}

static void test_wrong_secret_refused_without_retry(void **state)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIAOPERATOREXAMPLE1", 1);
	const char *good = getenv("AWS_SECRET_ACCESS_KEY");
	char *saved = strdup(good);
	setenv("AWS_SECRET_ACCESS_KEY", "not/the/right/secret/key/at/all00000000", 1);
	struct err e = {0};
	struct aws_creds_provider *p = aws_creds_env_new(&e);
	setenv("AWS_SECRET_ACCESS_KEY", saved, 1);
	free(saved);
	struct aws_client *c = client_with(p, NULL);
	standin_reset("AWS_ENDPOINT_URL_KMS");
	struct aws_kms_key_info ki;
	assert_int_equal(aws_kms_describe_key(c, getenv("NS_STANDIN_KMS_KEY_ARN"), &ki,
					      &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "InvalidSignatureException"));
	assert_null(strchr(e.msg, '\n'));
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "DescribeKey"), 1);
	aws_client_free(c);
	aws_creds_provider_free(p);
}

static void test_wrong_region_reported(void **state)
{
	struct aws_client *c = client_with(g_env, "eu-west-1");
	struct err e = {0};
	struct aws_kms_key_info ki;
	assert_int_equal(aws_kms_describe_key(c, getenv("NS_STANDIN_KMS_KEY_ARN"), &ki,
					      &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "scoped to a valid region"));
	aws_client_free(c);
}

/* ---- faults and retries ------------------------------------------------------- */

static int describe(struct aws_client *c, struct err *e)
{
	struct aws_kms_key_info ki;
	return aws_kms_describe_key(c, getenv("NS_STANDIN_KMS_KEY_ARN"), &ki, e);
}

static void test_throttling_retried_then_succeeds(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	standin_reset("AWS_ENDPOINT_URL_KMS");
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"DescribeKey\",\"kind\":\"throttle\",\"count\":3}]");
	assert_int_equal(describe(c, &e), 0);
	struct aws_client_stats st;
	aws_client_stats(c, &st);
	assert_int_equal(st.retries, 3);
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "DescribeKey"), 4);
	aws_client_free(c);
}

static void test_throttling_storm_bounded(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	standin_reset("AWS_ENDPOINT_URL_KMS");
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"*\",\"kind\":\"throttle\",\"count\":1000}]");
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "ThrottlingException"));
	assert_non_null(strstr(e.msg, "gave up after 5 attempts"));
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "DescribeKey"), 5);
	standin_faults("AWS_ENDPOINT_URL_KMS", "[]");
	aws_client_free(c);
}

static void test_5xx_and_truncated_bodies_retried(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"DescribeKey\",\"kind\":\"500\",\"count\":2},"
		       "{\"op\":\"DescribeKey\",\"kind\":\"truncate\",\"count\":1}]");
	if (describe(c, &e) < 0)
		fail_msg("%s", e.msg);
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"DescribeKey\",\"kind\":\"truncate\",\"count\":99}]");
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "truncated response"));
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"DescribeKey\",\"kind\":\"500\",\"count\":99}]");
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "KMSInternalException"));
	standin_faults("AWS_ENDPOINT_URL_KMS", "[]");
	aws_client_free(c);
}

static void test_malformed_json_is_one_clear_error(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	standin_reset("AWS_ENDPOINT_URL_KMS");
	standin_faults("AWS_ENDPOINT_URL_KMS",
		       "[{\"op\":\"DescribeKey\",\"kind\":\"malformed\",\"count\":1}]");
	assert_int_equal(describe(c, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "KMS DescribeKey: malformed JSON response"));
	assert_null(strchr(e.msg, '\n'));
	assert_int_equal(standin_count("AWS_ENDPOINT_URL_KMS", "DescribeKey"), 1);
	aws_client_free(c);
}

static void test_unreachable_endpoint_bounded(void **state)
{
	struct aws_client_opts o = {.creds = g_env, .base_delay_ms = 1,
				    .max_delay_ms = 5, .max_attempts = 3,
				    .endpoint = {"http://127.0.0.1:1"}};
	struct err e = {0};
	struct aws_client *c = aws_client_new(&o, &e);
	assert_non_null(c);
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "gave up after 3 attempts"));
	aws_client_free(c);
}

/* ---- the socket hook -------------------------------------------------------------- */

static int open_unix(void *ctx, enum aws_service svc,
		     struct sockaddr_storage *addr, socklen_t *len, struct err *e)
{
	const char *path = ctx;
	struct sockaddr_un *a = (struct sockaddr_un *)addr;
	if (strlen(path) >= sizeof(a->sun_path)) {
		err_set(e, ERR_INVALID, "socket path too long");
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set(e, ERR_IO, "socket: %s", strerror(errno));
		return -1;
	}
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	*len = (socklen_t)sizeof(*a);
	return fd;
}

static void test_socket_hook_unix_with_connection_reuse(void **state)
{
	struct aws_client_opts o = {
		.creds = g_env, .region = "us-east-1",
		/* Never resolved: the hook supplies the connection. */
		.endpoint = {"http://kms.us-east-1.amazonaws.com",
			     "http://dynamodb.us-east-1.amazonaws.com"},
		.open_socket = open_unix,
		.open_socket_ctx = (void *)getenv("NS_STANDIN_KMS_SOCK"),
	};
	struct err e = {0};
	struct aws_client *c = aws_client_new(&o, &e);
	assert_non_null(c);
	for (int i = 0; i < 5; i++)
		if (describe(c, &e) < 0)
			fail_msg("%s", e.msg);
	struct aws_client_stats st;
	aws_client_stats(c, &st);
	assert_int_equal(st.requests, 5);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.sockets_hooked, 1);
	aws_client_free(c);

	o.open_socket_ctx = (void *)"/nonexistent/kms.sock";
	o.max_attempts = 2;
	o.base_delay_ms = 1;
	c = aws_client_new(&o, &e);
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "KMS DescribeKey: connect to"));
	assert_non_null(strstr(e.msg, "No such file or directory"));
	aws_client_free(c);
}

/* ---- credentials ------------------------------------------------------------------ */

static void test_env_credentials_missing_is_clear(void **state)
{
	char *akid = strdup(getenv("AWS_ACCESS_KEY_ID"));
	unsetenv("AWS_ACCESS_KEY_ID");
	struct err e = {0};
	assert_null(aws_creds_env_new(&e));
	assert_non_null(strstr(e.msg, "AWS_ACCESS_KEY_ID"));
	setenv("AWS_ACCESS_KEY_ID", akid, 1);
	free(akid);
}

/* Emulators' short ids are fine; spaces, control characters and other
 * punctuation in an id are not (they would reach the Authorization header). */
static void test_access_key_id_short_ok_malformed_refused(void **state)
{
	static const char *const good[] = {"test", "A", "AKIDEXAMPLE"};
	static const char *const bad[] = {"", "te st", "test\n", "te\tst",
					  "AKID/EXAMPLE", "AKID,Credential=x"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		json_t *o = json_pack("{s:s,s:s}", "AccessKeyId", good[i],
				      "SecretAccessKey", "secret");
		struct aws_creds c;
		struct err e = {0};
		if (aws_creds_from_json(o, &c, &e) < 0)
			fail_msg("%s refused: %s", good[i], e.msg);
		assert_string_equal(c.access_key_id, good[i]);
		aws_creds_clear(&c);
		json_decref(o);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *o = json_pack("{s:s,s:s}", "AccessKeyId", bad[i],
				      "SecretAccessKey", "secret");
		struct aws_creds c;
		struct err e = {0};
		assert_int_equal(aws_creds_from_json(o, &c, &e), -ERR_INVALID);
		assert_non_null(strstr(e.msg, "access key id"));
		json_decref(o);
	}
}

static time_t g_skew;
static time_t skewed_now(void)
{
	return time(NULL) + g_skew;
}

static void test_imds_credentials_refresh_and_expiry(void **state)
{
	struct err e = {0};
	json_decref(standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "config",
				  "{\"lifetimeSeconds\":21600,\"dropTokenPut\":false}"));
	json_decref(standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "rotate", "{}"));
	struct aws_creds_provider *p = aws_creds_imds_new(NULL, &e);
	assert_non_null(p);
	struct aws_client *c = client_with(p, NULL);
	if (describe(c, &e) < 0)
		fail_msg("%s", e.msg);
	struct aws_creds a, b;
	assert_int_equal(aws_creds_get(p, &a, &e), 0);
	assert_non_null(a.session_token);
	assert_int_equal(strncmp(a.access_key_id, "ASIA", 4), 0);
	/* Cached while fresh: no new IMDS reads. */
	json_t *st = standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "stats", NULL);
	long gets = (long)json_integer_value(json_object_get(st, "credentialGets"));
	json_decref(st);
	assert_int_equal(aws_creds_get(p, &b, &e), 0);
	aws_creds_clear(&b);
	st = standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "stats", NULL);
	assert_int_equal(json_integer_value(json_object_get(st, "credentialGets")), gets);
	json_decref(st);
	/* Four minutes before Expiration they are re-read (EC2 has rotated). */
	json_decref(standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "rotate", "{}"));
	g_skew = 21600 - 240;
	aws_creds_set_clock(p, skewed_now);
	assert_int_equal(aws_creds_get(p, &b, &e), 0);
	assert_string_not_equal(a.access_key_id, b.access_key_id);
	aws_creds_clear(&a);
	aws_creds_clear(&b);
	aws_creds_set_clock(p, NULL);
	if (describe(c, &e) < 0)
		fail_msg("after rotation: %s", e.msg);
	/* IMDS serving expired credentials: one clear error. */
	json_decref(standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "expire", "{}"));
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "expired at"));
	aws_client_free(c);
	aws_creds_provider_free(p);
}

static void test_imds_hop_limit_reported(void **state)
{
	struct err e = {0};
	json_decref(standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "config",
				  "{\"dropTokenPut\":true}"));
	struct aws_creds_provider *p = aws_creds_imds_new(NULL, &e);
	struct aws_creds a;
	assert_int_equal(aws_creds_get(p, &a, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "hop limit"));
	aws_creds_provider_free(p);
	json_decref(standin_admin("AWS_EC2_METADATA_SERVICE_ENDPOINT", "config",
				  "{\"dropTokenPut\":false}"));
}

static void test_pushed_credentials(void **state)
{
	struct err e = {0};
	struct aws_creds_provider *p = aws_creds_pushed_new(&e);
	struct aws_client *c = client_with(p, NULL);
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "no AWS credentials pushed yet"));
	json_t *j = json_pack("{s:s,s:s,s:s}", "AccessKeyId", getenv("AWS_ACCESS_KEY_ID"),
			      "SecretAccessKey", getenv("AWS_SECRET_ACCESS_KEY"),
			      "Expiration", "2999-01-01T00:00:00Z");
	assert_int_equal(aws_creds_push_json(p, j, &e), 0);
	assert_int_equal(describe(c, &e), 0);
	json_object_set_new(j, "Expiration", json_string("2001-01-01T00:00:00Z"));
	assert_int_equal(aws_creds_push_json(p, j, &e), 0);
	assert_int_equal(describe(c, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "the host must push fresh ones"));
	json_object_set_new(j, "Expiration", json_string("yesterday"));
	assert_int_equal(aws_creds_push_json(p, j, &e), -ERR_INVALID);
	json_decref(j);
	aws_client_free(c);
	aws_creds_provider_free(p);
}

/* ---- DynamoDB --------------------------------------------------------------------- */

static json_t *key_of(const char *h, const char *r)
{
	return json_pack("{s:{s:s},s:{s:s}}", "h", "S", h, "r", "S", r);
}

static void test_ddb_items_with_conditions(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	if (aws_ddb_create_table(c, "items_test", "h", "S", "r", "S", &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(aws_ddb_wait_active(c, "items_test", 5000, &e), 0);
	struct aws_ddb_table_info ti;
	assert_int_equal(aws_ddb_describe_table(c, "items_test", &ti, &e), 0);
	assert_string_equal(ti.hash_key, "h");
	assert_string_equal(ti.range_key, "r");
	assert_string_equal(ti.range_type, "S");

	json_t *item = json_pack("{s:{s:s},s:{s:s},s:{s:s}}", "h", "S", "a", "r", "S",
				 "1", "v", "N", "1");
	struct aws_ddb_expr absent = {"attribute_not_exists(h)", NULL, NULL};
	assert_int_equal(aws_ddb_put_item(c, "items_test", item, &absent, &e), 0);
	assert_int_equal(aws_ddb_put_item(c, "items_test", item, &absent, &e),
			 -ERR_REFUSED);
	assert_non_null(strstr(e.msg, "ConditionalCheckFailedException"));

	json_t *k = key_of("a", "1"), *got = NULL, *attrs = NULL;
	json_t *vals = json_pack("{s:{s:s},s:{s:s}}", ":one", "N", "1", ":old", "N", "1");
	struct aws_ddb_expr upd = {"SET v = v + :one", NULL, vals};
	assert_int_equal(aws_ddb_update_item(c, "items_test", k, &upd, "v = :old", &attrs,
					     &e), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(attrs, "v"), "N")),
			    "2");
	json_decref(attrs);
	assert_int_equal(aws_ddb_update_item(c, "items_test", k, &upd, "v = :old", NULL,
					     &e), -ERR_REFUSED);
	assert_int_equal(aws_ddb_get_item(c, "items_test", k, true, &got, &e), 0);
	assert_non_null(got);
	json_decref(got);
	json_t *dv = json_pack("{s:{s:s}}", ":v", "N", "9");
	struct aws_ddb_expr cond = {"v = :v", NULL, dv};
	assert_int_equal(aws_ddb_delete_item(c, "items_test", k, &cond, &e), -ERR_REFUSED);
	assert_int_equal(aws_ddb_delete_item(c, "items_test", k, NULL, &e), 0);
	assert_int_equal(aws_ddb_get_item(c, "items_test", k, true, &got, &e), 0);
	assert_null(got);
	assert_int_equal(aws_ddb_describe_table(c, "no_such_table", &ti, &e),
			 -ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "ResourceNotFoundException"));
	json_decref(dv);
	json_decref(vals);
	json_decref(k);
	json_decref(item);
	aws_client_free(c);
}

static json_t *put_req(const char *h, int i)
{
	char r[16];
	snprintf(r, sizeof(r), "%04d", i);
	return json_pack("{s:{s:{s:{s:s},s:{s:s}}}}", "PutRequest", "Item", "h", "S", h,
			 "r", "S", r);
}

static void test_ddb_batch_write_and_paginated_query(void **state)
{
	struct aws_client *c = client();
	struct err e = {0};
	assert_int_equal(aws_ddb_create_table(c, "batch_test", "h", "S", "r", "S", &e), 0);
	assert_int_equal(aws_ddb_wait_active(c, "batch_test", 5000, &e), 0);
	json_t *reqs = json_array(), *failed = NULL;
	for (int i = 0; i < 60; i++)
		json_array_append_new(reqs, put_req("p", i));
	/* The first two batches come back wholly unprocessed; retried. */
	standin_faults("AWS_ENDPOINT_URL_DYNAMODB",
		       "[{\"op\":\"BatchWriteItem\",\"kind\":\"unprocessed\",\"count\":2},"
		       "{\"op\":\"BatchWriteItem\",\"kind\":\"throttle\",\"count\":1}]");
	if (aws_ddb_batch_write(c, "batch_test", reqs, &failed, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(json_array_size(failed), 0);
	json_decref(failed);

	json_t *vals = json_pack("{s:{s:s}}", ":h", "S", "p");
	struct aws_ddb_query q = {.table = "batch_test",
				  .key_condition = {"h = :h", NULL, vals},
				  .page_size = 7, .consistent = true};
	json_t *items;
	unsigned pages = 0;
	assert_int_equal(aws_ddb_query_all(c, &q, &items, &pages, &e), 0);
	assert_int_equal(json_array_size(items), 60);
	assert_true(pages >= 9);
	json_decref(items);
	q.max_items = 10;
	assert_int_equal(aws_ddb_query_all(c, &q, &items, &pages, &e), -ERR_TOO_LARGE);

	/* A batch that never gets processed is reported, bounded. */
	json_t *more = json_array();
	for (int i = 100; i < 130; i++)
		json_array_append_new(more, put_req("q", i));
	standin_faults("AWS_ENDPOINT_URL_DYNAMODB",
		       "[{\"op\":\"BatchWriteItem\",\"kind\":\"unprocessed\",\"count\":1000}]");
	assert_int_equal(aws_ddb_batch_write(c, "batch_test", more, &failed, &e),
			 -ERR_UNAVAILABLE);
	assert_int_equal(json_array_size(failed), 30);
	assert_non_null(strstr(e.msg, "unprocessed"));
	standin_faults("AWS_ENDPOINT_URL_DYNAMODB", "[]");
	json_decref(failed);
	json_decref(more);
	json_decref(vals);
	json_decref(reqs);
	aws_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_shapes_parsed),
		cmocka_unit_test(test_endpoint_and_region_resolution),
		cmocka_unit_test(test_envelope_round_trip_and_aad_binding),
		cmocka_unit_test(test_kms_encrypt_decrypt_round_trip),
		cmocka_unit_test(test_kms_data_keys_random_and_describe),
		cmocka_unit_test(test_kms_recipient_plumbing),
		cmocka_unit_test(test_standin_accepts_our_signature_and_refuses_tampering),
		cmocka_unit_test(test_wrong_secret_refused_without_retry),
		cmocka_unit_test(test_wrong_region_reported),
		cmocka_unit_test(test_throttling_retried_then_succeeds),
		cmocka_unit_test(test_throttling_storm_bounded),
		cmocka_unit_test(test_5xx_and_truncated_bodies_retried),
		cmocka_unit_test(test_malformed_json_is_one_clear_error),
		cmocka_unit_test(test_unreachable_endpoint_bounded),
		cmocka_unit_test(test_socket_hook_unix_with_connection_reuse),
		cmocka_unit_test(test_env_credentials_missing_is_clear),
		cmocka_unit_test(test_access_key_id_short_ok_malformed_refused),
		cmocka_unit_test(test_imds_credentials_refresh_and_expiry),
		cmocka_unit_test(test_imds_hop_limit_reported),
		cmocka_unit_test(test_pushed_credentials),
		cmocka_unit_test(test_ddb_items_with_conditions),
		cmocka_unit_test(test_ddb_batch_write_and_paginated_query),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
