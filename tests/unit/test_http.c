/*
 * test_http.c: listen addresses, the Accept rule, content types, the
 * known-clients list, and a real server on 127.0.0.1 (a thread running
 * http_server_run) driven with raw sockets and OpenSSL: per-route client
 * certificates (none, unlisted, listed, resumed), the strict standalone
 * mode, the headers copied into struct http_req, and the connection cap.
 * Every socket has a 2 s timeout, so a hang fails a test instead of
 * stalling it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/http.h"

static void test_addr_parse_three_transports(void **state)
{
	struct http_addr a;
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:9000", &a, NULL), 0);
	assert_int_equal(a.kind, HTTP_ADDR_TCP);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 9000);
	assert_int_equal(http_addr_parse("tcp:[::1]:443", &a, NULL), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(http_addr_parse("unix:/run/signer.sock", &a, NULL), 0);
	assert_int_equal(a.kind, HTTP_ADDR_UNIX);
	assert_string_equal(a.path, "/run/signer.sock");
	assert_int_equal(http_addr_parse("vsock:ANY:9000", &a, NULL), 0);
	assert_int_equal(a.kind, HTTP_ADDR_VSOCK);
	assert_int_equal(a.cid, VMADDR_CID_ANY);
	assert_int_equal(http_addr_parse("vsock:16:5000", &a, NULL), 0);
	assert_int_equal(a.cid, 16);
}

static void test_addr_parse_refuses_garbage(void **state)
{
	struct http_addr a;
	const char *bad[] = {"127.0.0.1:9000", "tcp:127.0.0.1", "tcp::9000",
			     "tcp:h:65536", "tcp:h:-1", "tcp:h:09", "unix:",
			     "vsock:x:1", "vsock:4294967296:1", "udp:h:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(http_addr_parse(bad[i], &a, NULL) < 0);
}

static void test_addr_format_round_trips(void **state)
{
	const char *in[] = {"tcp:127.0.0.1:9000", "tcp:[::1]:443",
			    "unix:/run/signer.sock", "vsock:16:5000"};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct http_addr a;
		char out[300];
		assert_int_equal(http_addr_parse(in[i], &a, NULL), 0);
		http_addr_format(&a, out, sizeof(out));
		assert_string_equal(out, in[i]);
	}
	struct http_addr a;
	char url[300];
	assert_int_equal(http_addr_parse("tcp:[::1]:443", &a, NULL), 0);
	http_addr_describe(&a, true, url, sizeof(url));
	assert_string_equal(url, "https://[::1]:443");
}

static void test_accept_rule_matches_web3signer(void **state)
{
	assert_false(http_accept_wants_json(NULL));
	assert_false(http_accept_wants_json(""));
	assert_false(http_accept_wants_json("text/plain"));
	assert_false(http_accept_wants_json("text/*"));
	assert_false(http_accept_wants_json("application/*"));
	assert_false(http_accept_wants_json("application/jsonx"));
	assert_true(http_accept_wants_json("application/json"));
	assert_true(http_accept_wants_json("APPLICATION/JSON"));
	assert_true(http_accept_wants_json("*/*"));
	assert_true(http_accept_wants_json("application/json;q=0"));
	assert_true(http_accept_wants_json("text/plain, application/json; charset=utf-8"));
	assert_true(http_accept_wants_json("text/html,  */*;q=0.8"));
}

static void test_content_type_json_only(void **state)
{
	assert_true(http_content_type_is_json("application/json"));
	assert_true(http_content_type_is_json("application/json; charset=UTF-8"));
	assert_true(http_content_type_is_json("Application/JSON"));
	assert_false(http_content_type_is_json(NULL));
	assert_false(http_content_type_is_json("text/plain"));
	assert_false(http_content_type_is_json("application/x-www-form-urlencoded"));
	assert_false(http_content_type_is_json("application/json-patch+json"));
	assert_false(http_content_type_is_json("multipart/form-data"));
}

static void test_tls_config_needs_one_client_mode(void **state)
{
	struct http_tls_config c = {.keystore_file = "x.p12",
				    .keystore_password_file = "x.txt"};
	SSL_CTX *ctx = NULL;
	struct err e = {0};
	assert_int_equal(http_tls_server_ctx(&c, &ctx, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "--tls-allow-any-client"));
	c.allow_any_client = true;
	c.known_clients_file = "k.txt";
	assert_int_equal(http_tls_server_ctx(&c, &ctx, &e), -ERR_USAGE);
	assert_null(ctx);
}

/* ---- fixtures: keys, certificates, files ------------------------------------ */

static char g_dir[64];

static void write_file(const char *name, const char *text, char *path,
		       size_t len)
{
	snprintf(path, len, "%s/%s", g_dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	return k;
}

/* "AA:BB:..": SHA-256 of the certificate's DER, the known-clients format. */
static void fingerprint(X509 *cert, char out[96])
{
	uint8_t md[32];
	unsigned int n = 0;
	assert_int_equal(X509_digest(cert, EVP_sha256(), md, &n), 1);
	assert_int_equal(n, 32);
	for (size_t i = 0; i < 32; i++)
		sprintf(out + 3 * i, "%02X%s", md[i], i < 31 ? ":" : "");
}

struct identity {
	EVP_PKEY *key;
	X509 *cert;
};

static void identity_new(struct identity *id, const char *cn,
			 const char *eku)
{
	id->key = new_key();
	id->cert = http_tls_self_signed(id->key, cn, "DNS:localhost", 1, eku);
	assert_non_null(id->cert);
}

static void identity_free(struct identity *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
}

static struct identity g_server, g_alice, g_mallory;
static char g_known_path[128]; /* lists alice only */

static int group_setup(void **state)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/test_http.XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	identity_new(&g_server, "server", "serverAuth");
	identity_new(&g_alice, "alice", "clientAuth");
	identity_new(&g_mallory, "mallory", "clientAuth");
	char fp[96], text[256];
	fingerprint(g_alice.cert, fp);
	snprintf(text, sizeof(text), "# pinned validator clients\nalice %s\n",
		 fp);
	write_file("known.txt", text, g_known_path, sizeof(g_known_path));
	return 0;
}

static int group_teardown(void **state)
{
	identity_free(&g_server);
	identity_free(&g_alice);
	identity_free(&g_mallory);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The enclave's way: a context built in code, then per-route clients. */
static SSL_CTX *per_route_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_use_certificate(ctx, g_server.cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, g_server.key), 1);
	struct http_known_clients *kc = NULL;
	struct err e = {0};
	assert_int_equal(http_known_clients_load(g_known_path, &kc, &e), 0);
	assert_int_equal(http_tls_ctx_request_clients(ctx, kc, &e), 0);
	/* The context keeps its own copy: ASan sees any use of this one. */
	http_known_clients_free(kc);
	return ctx;
}

/* The standalone way: PKCS#12 keystore and files (http_tls_server_ctx);
 * any_client: --tls-allow-any-client instead of the known-clients file. */
static SSL_CTX *standalone_ctx(bool per_route, bool any_client)
{
	char p12_path[128], pw_path[128];
	snprintf(p12_path, sizeof(p12_path), "%s/server.p12", g_dir);
	PKCS12 *p12 = PKCS12_create("secret", "server", g_server.key,
				    g_server.cert, NULL, 0, 0, 0, 0, 0);
	assert_non_null(p12);
	FILE *f = fopen(p12_path, "wb");
	assert_non_null(f);
	assert_int_equal(i2d_PKCS12_fp(f, p12), 1);
	assert_int_equal(fclose(f), 0);
	PKCS12_free(p12);
	write_file("pw.txt", "secret\n", pw_path, sizeof(pw_path));
	struct http_tls_config c = {.keystore_file = p12_path,
				    .keystore_password_file = pw_path,
				    .allow_any_client = any_client,
				    .known_clients_file =
					    any_client ? NULL : g_known_path,
				    .per_route_clients = per_route};
	SSL_CTX *ctx = NULL;
	struct err e = {0};
	if (http_tls_server_ctx(&c, &ctx, &e) < 0)
		fail_msg("http_tls_server_ctx: %s", e.msg);
	return ctx;
}

/* ---- the server under test ---------------------------------------------- */

/* Echoes what the handler was told about the request. */
static void echo_handler(const struct http_req *req, struct http_reply *reply,
			 void *arg)
{
	char body[512];
	snprintf(body, sizeof(body),
		 "tls=%d cert=%d client=[%s] origin=[%s] site=[%s]", req->tls,
		 req->client_cert, req->client,
		 req->origin ? req->origin : "-",
		 req->sec_fetch_site ? req->sec_fetch_site : "-");
	http_reply_text(reply, 200, "text/plain", body);
}

struct srv {
	struct http_server *s;
	pthread_t thread;
	uint16_t port;
};

static void *srv_thread(void *arg)
{
	(void)http_server_run(arg);
	return NULL;
}

/* tls: NULL for plain HTTP (the server takes its own reference). */
static void srv_start(struct srv *v, SSL_CTX *tls, int max_conns)
{
	struct http_server_config cfg = {
		.tls = tls,
		.max_body = 1 << 20,
		.loops = 2, /* the cap counts across loops */
		.workers = 1,
		.idle_timeout_s = 10,
		.max_conns = max_conns,
		.handlers = {.handle = echo_handler},
	};
	struct err e = {0};
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:0", &cfg.listen, &e), 0);
	if (http_server_new(&cfg, &v->s, &e) < 0)
		fail_msg("http_server_new: %s", e.msg);
	v->port = http_server_port(v->s);
	assert_int_equal(pthread_create(&v->thread, NULL, srv_thread, v->s), 0);
}

static void srv_stop(struct srv *v)
{
	http_server_stop(v->s);
	pthread_join(v->thread, NULL);
	http_server_free(v->s);
}

/* ---- a small client ---------------------------------------------------------- */

struct conn {
	int fd;
	SSL *ssl;
};

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct timeval tv = {.tv_sec = 2};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* A client context: no server verification (the server is self-signed),
 * optionally a client certificate, optionally capped at one version. */
static SSL_CTX *client_ctx(const struct identity *id, int max_version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	assert_non_null(c);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	if (max_version)
		assert_int_equal(SSL_CTX_set_max_proto_version(c, max_version), 1);
	if (id) {
		assert_int_equal(SSL_CTX_use_certificate(c, id->cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(c, id->key), 1);
	}
	return c;
}

/* Connects (and handshakes when cctx is set): 0, or -1 when the
 * handshake failed (the connection is then closed). */
static int conn_open(struct conn *c, uint16_t port, SSL_CTX *cctx,
		     SSL_SESSION *resume)
{
	c->fd = tcp_connect(port);
	c->ssl = NULL;
	if (!cctx)
		return 0;
	c->ssl = SSL_new(cctx);
	assert_non_null(c->ssl);
	assert_int_equal(SSL_set_fd(c->ssl, c->fd), 1);
	if (resume)
		assert_int_equal(SSL_set_session(c->ssl, resume), 1);
	if (SSL_connect(c->ssl) != 1) {
		ERR_clear_error();
		SSL_free(c->ssl);
		close(c->fd);
		c->ssl = NULL;
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
	ERR_clear_error();
}

static int conn_write(struct conn *c, const char *buf, size_t len)
{
	if (c->ssl)
		return SSL_write(c->ssl, buf, (int)len) == (int)len ? 0 : -1;
	return send(c->fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* >0 bytes, 0 at end of stream, -1 on error (errno kept for plain). */
static int conn_read(struct conn *c, char *buf, size_t len)
{
	if (c->ssl) {
		int n = SSL_read(c->ssl, buf, (int)len);
		return n > 0 ? n : SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
	}
	ssize_t n = recv(c->fd, buf, len, 0);
	return n >= 0 ? (int)n : -1;
}

/* Appends what arrives to buf[0..*have) and keeps it NUL-terminated; -1
 * when the stream ended, failed, or buf is full. */
static int read_more(struct conn *c, char *buf, size_t cap, size_t *have)
{
	if (*have + 1 >= cap)
		return -1;
	int n = conn_read(c, buf + *have, cap - *have - 1);
	if (n <= 0)
		return -1;
	*have += (size_t)n;
	buf[*have] = '\0';
	return 0;
}

/*
 * GET path with extra header lines (each ending "\r\n") on a keep-alive
 * connection; the reply body goes to body. The status, or -1 when the
 * connection ended or failed before a whole reply.
 */
static int http_get(struct conn *c, const char *path, const char *headers,
		    char *body, size_t body_len)
{
	char req[1024], buf[8192];
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path,
		 headers ? headers : "");
	if (conn_write(c, req, strlen(req)) < 0)
		return -1;
	size_t have = 0;
	char *end = NULL;
	buf[0] = '\0';
	while (!(end = strstr(buf, "\r\n\r\n")))
		if (read_more(c, buf, sizeof(buf), &have) < 0)
			return -1;
	int status = 0;
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || !cl)
		return -1;
	size_t want = strtoul(cl + 17, NULL, 10), hdr = (size_t)(end + 4 - buf);
	while (have < hdr + want)
		if (read_more(c, buf, sizeof(buf), &have) < 0)
			return -1;
	snprintf(body, body_len, "%.*s", (int)want, buf + hdr);
	return status;
}

/* ---- the known-clients list ------------------------------------------------ */

static void test_known_clients_file_format(void **state)
{
	char fp[96], text[512], path[128];
	fingerprint(g_alice.cert, fp);
	snprintf(text, sizeof(text),
		 "\r\n# comment\r\nalice %s\r\n  bob %s\n\n", fp, fp);
	write_file("two.txt", text, path, sizeof(path));
	struct http_known_clients *kc = NULL;
	struct err e = {0};
	assert_int_equal(http_known_clients_load(path, &kc, &e), 0);
	assert_int_equal(http_known_clients_count(kc), 2);
	http_known_clients_free(kc);
	http_known_clients_free(NULL);
	assert_int_equal(http_known_clients_count(NULL), 0);

	snprintf(text, sizeof(text), "alice %s\nbob AA:BB\n", fp);
	write_file("bad.txt", text, path, sizeof(path));
	kc = (struct http_known_clients *)&e; /* must be reset */
	assert_int_equal(http_known_clients_load(path, &kc, &e), -ERR_USAGE);
	assert_null(kc);
	assert_string_equal(e.msg, "--tls-known-clients-file: line 2: bad "
				   "SHA-256 fingerprint");
	write_file("short.txt", "# only\nalice\n", path, sizeof(path));
	assert_int_equal(http_known_clients_load(path, &kc, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "line 2: expected"));
	write_file("empty.txt", "# nobody\n", path, sizeof(path));
	assert_int_equal(http_known_clients_load(path, &kc, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "no clients listed"));
}

/* ---- per-route client certificates ---------------------------------------- */

static void expect_reply(struct conn *c, const char *want)
{
	char body[512];
	assert_int_equal(http_get(c, "/whoami", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, want);
}

/*
 * Against a per-route server, over TLS 1.3 and 1.2: a client presenting
 * id (NULL: no certificate) gets a reply and the handler saw want; with
 * resume, a second connection resuming the first one's session (it sends
 * no certificate then) is seen the same way.
 */
static void per_route_sees(const struct identity *id, bool resume,
			   const char *want)
{
	SSL_CTX *sctx = per_route_ctx();
	struct srv v;
	srv_start(&v, sctx, 0);
	SSL_CTX_free(sctx);
	int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
	for (size_t i = 0; i < 2; i++) {
		SSL_CTX *cctx = client_ctx(id, versions[i]);
		struct conn c;
		assert_int_equal(conn_open(&c, v.port, cctx, NULL), 0);
		expect_reply(&c, want);
		/* TLS 1.3 tickets arrive after the handshake: read by now. */
		SSL_SESSION *sess = SSL_get1_session(c.ssl);
		assert_non_null(sess);
		conn_close(&c);
		if (resume) {
			assert_int_equal(conn_open(&c, v.port, cctx, sess), 0);
			assert_int_equal(SSL_session_reused(c.ssl), 1);
			expect_reply(&c, want);
			conn_close(&c);
		}
		SSL_SESSION_free(sess);
		SSL_CTX_free(cctx);
	}
	srv_stop(&v);
}

static void test_per_route_handshake_without_certificate(void **state)
{
	per_route_sees(NULL, false, "tls=1 cert=0 client=[] origin=[-] site=[-]");
}

static void test_per_route_unlisted_certificate_is_nobody(void **state)
{
	per_route_sees(&g_mallory, true,
		       "tls=1 cert=1 client=[] origin=[-] site=[-]");
}

static void test_per_route_listed_client_named_also_resumed(void **state)
{
	per_route_sees(&g_alice, true,
		       "tls=1 cert=1 client=[alice] origin=[-] site=[-]");
}

/* per_route_clients through http_tls_server_ctx behaves the same; with
 * --tls-allow-any-client nobody is listed but certificates still show. */
static void test_standalone_per_route_flag(void **state)
{
	SSL_CTX *anon = client_ctx(NULL, 0), *alice = client_ctx(&g_alice, 0);
	for (int any = 0; any < 2; any++) {
		SSL_CTX *sctx = standalone_ctx(true, any);
		struct srv v;
		srv_start(&v, sctx, 0);
		SSL_CTX_free(sctx);
		struct conn c;
		assert_int_equal(conn_open(&c, v.port, anon, NULL), 0);
		expect_reply(&c, "tls=1 cert=0 client=[] origin=[-] site=[-]");
		conn_close(&c);
		assert_int_equal(conn_open(&c, v.port, alice, NULL), 0);
		expect_reply(&c, any ? "tls=1 cert=1 client=[] origin=[-] site=[-]"
				     : "tls=1 cert=1 client=[alice] origin=[-] "
				       "site=[-]");
		conn_close(&c);
		srv_stop(&v);
	}
	SSL_CTX_free(anon);
	SSL_CTX_free(alice);
}

/* Web3Signer's standalone mode: no reply without a listed certificate. In
 * TLS 1.3 the client's handshake ends before the server has judged its
 * certificate, so the refusal shows on the first read. */
static void test_strict_mode_refuses_unlisted_clients(void **state)
{
	SSL_CTX *sctx = standalone_ctx(false, false);
	struct srv v;
	srv_start(&v, sctx, 0);
	SSL_CTX_free(sctx);
	int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
	for (size_t i = 0; i < 2; i++) {
		const struct identity *ids[] = {NULL, &g_mallory};
		for (size_t k = 0; k < 2; k++) {
			SSL_CTX *cctx = client_ctx(ids[k], versions[i]);
			struct conn c;
			char body[512];
			if (conn_open(&c, v.port, cctx, NULL) == 0) {
				assert_int_equal(versions[i], TLS1_3_VERSION);
				assert_int_equal(http_get(&c, "/whoami", NULL,
							  body, sizeof(body)),
						 -1);
				conn_close(&c);
			}
			SSL_CTX_free(cctx);
		}
		SSL_CTX *cctx = client_ctx(&g_alice, versions[i]);
		struct conn c;
		assert_int_equal(conn_open(&c, v.port, cctx, NULL), 0);
		expect_reply(&c, "tls=1 cert=1 client=[alice] origin=[-] site=[-]");
		conn_close(&c);
		SSL_CTX_free(cctx);
	}
	srv_stop(&v);
}

/* ---- request headers ----------------------------------------------------------- */

static void test_origin_and_sec_fetch_site_copied(void **state)
{
	struct srv v;
	srv_start(&v, NULL, 0);
	struct conn c;
	char body[512];
	assert_int_equal(conn_open(&c, v.port, NULL, NULL), 0);
	assert_int_equal(http_get(&c, "/", "Origin: https://evil.example\r\n"
					   "Sec-Fetch-Site: cross-site\r\n",
				  body, sizeof(body)),
			 200);
	assert_string_equal(body, "tls=0 cert=0 client=[] "
				  "origin=[https://evil.example] site=[cross-site]");
	assert_int_equal(http_get(&c, "/", NULL, body, sizeof(body)), 200);
	assert_string_equal(body, "tls=0 cert=0 client=[] origin=[-] site=[-]");
	conn_close(&c);
	srv_stop(&v);
}

/* ---- the connection cap ---------------------------------------------------------- */

#define CAP 4

static void test_max_conns_derived_within_bounds(void **state)
{
	struct http_server_config cfg = {.max_body = 1 << 20, .loops = 1,
					 .workers = 1,
					 .handlers = {.handle = echo_handler}};
	struct err e = {0};
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:0", &cfg.listen, &e), 0);
	struct http_server *s = NULL;
	assert_int_equal(http_server_new(&cfg, &s, &e), 0);
	int n = http_server_max_conns(s);
	assert_in_range(n, 16, 4096);
	http_server_free(s);
	/* A connection that may buffer 4 TiB: the floor. */
	cfg.max_body = (size_t)1 << 40;
	assert_int_equal(http_server_new(&cfg, &s, &e), 0);
	assert_int_equal(http_server_max_conns(s), 16);
	http_server_free(s);
	cfg.max_conns = 7;
	assert_int_equal(http_server_new(&cfg, &s, &e), 0);
	assert_int_equal(http_server_max_conns(s), 7);
	http_server_free(s);
}

/* The server closes an over-cap connection at once: the client reads end
 * of stream or a reset well before its own 2 s timeout, and no reply. */
static void expect_refused(uint16_t port, SSL_CTX *cctx)
{
	uint64_t t0 = clock_mono_us();
	struct conn c;
	if (cctx) {
		assert_int_equal(conn_open(&c, port, cctx, NULL), -1);
	} else {
		char buf[64];
		assert_int_equal(conn_open(&c, port, NULL, NULL), 0);
		(void)conn_write(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
		errno = 0;
		int n = conn_read(&c, buf, sizeof(buf));
		assert_true(n == 0 || (n < 0 && errno != EAGAIN &&
				       errno != EWOULDBLOCK));
		conn_close(&c);
	}
	assert_true(clock_mono_us() - t0 < 1500000);
}

/* Once the held connections are gone the count is back to zero: CAP new
 * connections are all served together (retried while the server is still
 * noticing the closes). */
static void expect_cap_free_again(uint16_t port, SSL_CTX *cctx)
{
	for (int attempt = 0;; attempt++) {
		struct conn c[CAP];
		int ok = 0;
		char body[512];
		for (int i = 0; i < CAP; i++)
			if (conn_open(&c[i], port, cctx, NULL) == 0 &&
			    http_get(&c[i], "/", NULL, body, sizeof(body)) == 200)
				ok++;
		for (int i = 0; i < CAP; i++)
			conn_close(&c[i]);
		if (ok == CAP)
			return;
		assert_true(attempt < 40);
		usleep(50 * 1000);
	}
}

static void cap_scenario(SSL_CTX *server_tls, SSL_CTX *cctx)
{
	struct srv v;
	srv_start(&v, server_tls, CAP);
	assert_int_equal(http_server_max_conns(v.s), CAP);
	struct conn held[CAP];
	char body[512];
	for (int i = 0; i < CAP; i++) {
		assert_int_equal(conn_open(&held[i], v.port, cctx, NULL), 0);
		/* A reply proves the server has counted it. */
		assert_int_equal(http_get(&held[i], "/", NULL, body,
					  sizeof(body)), 200);
	}
	expect_refused(v.port, cctx);
	expect_refused(v.port, cctx);
	for (int i = 0; i < CAP; i++)
		assert_int_equal(http_get(&held[i], "/", NULL, body,
					  sizeof(body)), 200);
	for (int i = 0; i < CAP; i++)
		conn_close(&held[i]);
	expect_cap_free_again(v.port, cctx);
	srv_stop(&v);
}

static void test_conn_cap_plain(void **state)
{
	cap_scenario(NULL, NULL);
}

static void test_conn_cap_tls(void **state)
{
	SSL_CTX *sctx = per_route_ctx();
	SSL_CTX *cctx = client_ctx(NULL, 0);
	cap_scenario(sctx, cctx);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

/*
 * A client that pipelines requests and never reads the replies: the server
 * stops reading once a connection's input holds a request's worth (the
 * read high-watermark), so its memory stays flat instead of growing with
 * everything the client sends (it grew about 150 MB a second before).
 */
static void test_pipelined_flood_memory_bounded(void **state)
{
	struct srv v;
	srv_start(&v, NULL, 0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	int small = 4096;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(v.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	assert_true(rc == 0 || errno == EINPROGRESS);
	static const char req[] = "GET /upcheck HTTP/1.1\r\nHost: localhost\r\n\r\n";
	char burst[200 * (sizeof(req) - 1)];
	for (size_t i = 0; i < 200; i++)
		memcpy(burst + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	long before = rss_kib();
	size_t sent = 0;
	uint64_t end = clock_mono_us() + 3000000;
	while (clock_mono_us() < end && sent < (256u << 20)) {
		ssize_t n = send(fd, burst, sizeof(burst), MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		else
			usleep(10000);
	}
	long grown = rss_kib() - before;
	print_message("pipelined %zu KiB unread; server RSS grew %ld KiB\n",
		      sent >> 10, grown);
	assert_true(sent < (64u << 20)); /* the server stopped reading */
#ifndef __SANITIZE_ADDRESS__
	/* (ASan's quarantine keeps freed replies: RSS says nothing there) */
	assert_true(grown < 32 * 1024);
#endif
	close(fd);
	srv_stop(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse_three_transports),
		cmocka_unit_test(test_addr_parse_refuses_garbage),
		cmocka_unit_test(test_addr_format_round_trips),
		cmocka_unit_test(test_accept_rule_matches_web3signer),
		cmocka_unit_test(test_content_type_json_only),
		cmocka_unit_test(test_tls_config_needs_one_client_mode),
		cmocka_unit_test(test_known_clients_file_format),
		cmocka_unit_test(test_per_route_handshake_without_certificate),
		cmocka_unit_test(test_per_route_unlisted_certificate_is_nobody),
		cmocka_unit_test(test_per_route_listed_client_named_also_resumed),
		cmocka_unit_test(test_standalone_per_route_flag),
		cmocka_unit_test(test_strict_mode_refuses_unlisted_clients),
		cmocka_unit_test(test_origin_and_sec_fetch_site_copied),
		cmocka_unit_test(test_max_conns_derived_within_bounds),
		cmocka_unit_test(test_conn_cap_plain),
		cmocka_unit_test(test_conn_cap_tls),
		cmocka_unit_test(test_pipelined_flood_memory_bounded),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
