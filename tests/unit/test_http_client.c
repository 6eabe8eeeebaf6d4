/*
 * test_http_client.c: the HTTP/1.1 client: URLs, the response parser on
 * crafted bytes, and live exchanges against a scripted server thread on
 * 127.0.0.1 (keep-alive reuse, a stale connection replaced, timeouts,
 * refused connections, TLS with a CA file and with a pinned certificate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_client.h"

/* ---- URLs ------------------------------------------------------------------ */

static void test_url_parse(void **state)
{
	struct http_url u;
	struct err e = {0};
	assert_int_equal(http_url_parse("https://kms.us-east-1.amazonaws.com", &u, &e), 0);
	assert_true(u.tls);
	assert_int_equal(u.port, 443);
	assert_string_equal(u.host, "kms.us-east-1.amazonaws.com");
	assert_string_equal(u.path, "/");
	assert_int_equal(http_url_parse("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next?x=1", &u, &e), 0);
	assert_false(u.tls);
	assert_int_equal(u.port, 9001);
	assert_string_equal(u.authority, "127.0.0.1:9001");
	assert_string_equal(u.path, "/2018-06-01/runtime/invocation/next?x=1");
	assert_int_equal(http_url_parse("http://[::1]:8080/a#frag", &u, &e), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/a");
	const char *bad[] = {
		"ftp://x", "https://", "https://user@host/", "http://host:0/",
		"http://host:65536", "http://host:12ab", "http://[::1/", "http://a b/",
		"http://host/\r\nX: y", "http://ho%st/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		e.msg[0] = '\0';
		assert_true(http_url_parse(bad[i], &u, &e) < 0);
		assert_non_null(strstr(e.msg, "URL"));
	}
}

/* ---- the parser -------------------------------------------------------------- */

static int parse(const char *raw, bool eof, size_t body_max,
		 struct http_client_response *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, body_max, false);
	return http_client_parse_response((const uint8_t *)raw, strlen(raw), eof, r, e);
}

static void test_parse_lengths_chunks_and_interim(void **state)
{
	struct http_client_response r;
	struct err e = {0};
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
			       "X-Amzn-RequestId: abc\r\n\r\nhello", false, 64, &r, &e), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(buf_str(&r.body), "hello");
	assert_string_equal(http_client_header(&r, "x-amzn-requestid"), "abc");
	assert_string_equal(r.hdr[1].name, "x-amzn-requestid"); /* lower-cased */
	http_client_response_free(&r);

	assert_int_equal(parse("HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n"
			       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", false, 64, &r, &e), 0);
	assert_int_equal(r.status, 400);
	assert_string_equal(buf_str(&r.body), "abcde");
	http_client_response_free(&r);

	/* An interim 100 is skipped; its headers do not leak into the answer. */
	assert_int_equal(parse("HTTP/1.1 100 Continue\r\nX-Old: 1\r\n\r\n"
			       "HTTP/1.1 204 No Content\r\n\r\n", false, 64, &r, &e), 0);
	assert_int_equal(r.status, 204);
	assert_null(http_client_header(&r, "x-old"));
	http_client_response_free(&r);

	/* No length: the body runs to the end of the connection. */
	assert_int_equal(parse("HTTP/1.0 200 OK\r\n\r\nuntil eof", true, 64, &r, &e), 0);
	assert_string_equal(buf_str(&r.body), "until eof");
	http_client_response_free(&r);

	/* Control bytes in a value are replaced. */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nX-A: a\tb\r\nContent-Length: 0\r\n\r\n",
			       false, 64, &r, &e), 0);
	assert_string_equal(http_client_header(&r, "X-A"), "a b");
	http_client_response_free(&r);
}

static void test_parse_refusals(void **state)
{
	struct http_client_response r;
	struct err e = {0};
	/* body over the caller's cap */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
			       false, 8, &r, &e), -ERR_INVALID);
	assert_int_equal(r.fail, HTTP_FAIL_TOO_LARGE);
	http_client_response_free(&r);
	/* truncated body at EOF */
	assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", true, 64,
			  &r, &e) < 0);
	assert_int_equal(r.fail, HTTP_FAIL_TRUNCATED);
	http_client_response_free(&r);
	/* incomplete without EOF */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Le", false, 64, &r, &e),
			 -ERR_TRUNCATED);
	http_client_response_free(&r);
	/* not HTTP */
	assert_true(parse("SSH-2.0-OpenSSH\r\n", false, 64, &r, &e) < 0);
	assert_int_equal(r.fail, HTTP_FAIL_PROTOCOL);
	http_client_response_free(&r);
	/* conflicting lengths */
	assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
			  false, 64, &r, &e) < 0);
	http_client_response_free(&r);
	/* too many headers, and a header name over 256 bytes */
	struct buf b = BUF_INIT(1 << 16);
	buf_puts(&b, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < HTTP_CLIENT_MAX_HEADERS + 1; i++)
		buf_printf(&b, "X-%d: v\r\n", i);
	buf_puts(&b, "Content-Length: 0\r\n\r\n");
	assert_true(parse(buf_str(&b), false, 64, &r, &e) < 0);
	assert_int_equal(r.fail, HTTP_FAIL_TOO_LARGE);
	http_client_response_free(&r);
	buf_clear(&b);
	buf_puts(&b, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i < 300; i++)
		buf_putc(&b, 'n');
	buf_puts(&b, ": v\r\n\r\n");
	assert_true(parse(buf_str(&b), false, 64, &r, &e) < 0);
	assert_int_equal(r.fail, HTTP_FAIL_TOO_LARGE);
	http_client_response_free(&r);
	buf_free(&b);
}

/* ---- a scripted server ------------------------------------------------------------ */

enum mode { M_KEEPALIVE, M_CLOSE_IDLE, M_SILENT, M_TLS, M_SLOW, M_DRIP };

struct server {
	int lfd;
	int port;
	enum mode mode;
	SSL_CTX *tls;
	int answered;
	int accepted;
	int client_certs; /* TLS connections that presented one */
	pthread_t th;
};

/* Reads one request head (and no body: the tests send none or a small one
 * inside the same read). 0 on EOF. */
static ssize_t read_request(int fd, SSL *ssl, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = ssl ? SSL_read(ssl, buf + n, (int)(cap - 1 - n))
				: read(fd, buf + n, cap - 1 - n);
		if (r <= 0)
			return 0;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return (ssize_t)n;
	}
	return 0;
}

static void *serve(void *ud)
{
	struct server *s = ud;
	for (int conn = 0; conn < 4; conn++) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			break;
		s->accepted++;
		SSL *ssl = NULL;
		if (s->mode == M_TLS) {
			ssl = SSL_new(s->tls);
			SSL_set_fd(ssl, fd);
			if (SSL_accept(ssl) != 1) {
				SSL_free(ssl);
				close(fd);
				continue;
			}
			X509 *peer = SSL_get1_peer_certificate(ssl);
			if (peer)
				s->client_certs++;
			X509_free(peer);
		}
		char req[8192];
		int per_conn = s->mode == M_CLOSE_IDLE ? 1 : 8;
		for (int i = 0; i < per_conn; i++) {
			if (read_request(fd, ssl, req, sizeof(req)) <= 0)
				break;
			if (s->mode == M_SILENT) {
				sleep(1);
				break;
			}
			if (s->mode == M_SLOW)
				usleep(500 * 1000);
			if (s->mode == M_DRIP) {
				/* a chunked body that never ends, a byte every 20 ms
				 * (2 s at most, then the thread gives up) */
				static const char head[] = "HTTP/1.1 200 OK\r\n"
					"Transfer-Encoding: chunked\r\n\r\n";
				if (write(fd, head, sizeof(head) - 1) < 0)
					break;
				for (int k = 0; k < 100; k++) {
					if (write(fd, "1\r\na\r\n", 6) != 6)
						break;
					usleep(20 * 1000);
				}
				break;
			}
			char resp[256];
			int n = snprintf(resp, sizeof(resp),
					 "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
					 "X-Count: %d\r\n\r\nreply-%03d",
					 9, s->answered, s->answered);
			s->answered++;
			if (ssl)
				SSL_write(ssl, resp, n);
			else if (write(fd, resp, (size_t)n) != n)
				break;
		}
		if (ssl) {
			SSL_shutdown(ssl);
			SSL_free(ssl);
		}
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *s, enum mode m)
{
	memset(s, 0, sizeof(*s));
	s->mode = m;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	getsockname(s->lfd, (struct sockaddr *)&a, &l);
	s->port = ntohs(a.sin_port);
	assert_int_equal(listen(s->lfd, 8), 0);
}

static void server_run(struct server *s)
{
	pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	shutdown(s->lfd, SHUT_RDWR);
	close(s->lfd);
	pthread_join(s->th, NULL);
	SSL_CTX_free(s->tls);
}

static int get(struct http_client *c, const char *url, struct http_client_response *r,
	       struct err *e)
{
	struct http_url u;
	assert_int_equal(http_url_parse(url, &u, e), 0);
	struct http_client_request req = {.method = "GET", .url = &u};
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 1024, false);
	return http_client_send(c, &req, r, e);
}

static void test_keepalive_reuse_and_stale_connection(void **state)
{
	struct server s;
	server_start(&s, M_KEEPALIVE);
	server_run(&s);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
	struct http_client_opts o = {.timeout_ms = 5000};
	struct err e = {0};
	struct http_client *c = http_client_new(&o, &e);
	for (int i = 0; i < 3; i++) {
		struct http_client_response r;
		if (get(c, url, &r, &e) < 0)
			fail_msg("%s", e.msg);
		assert_int_equal(r.status, 200);
		char want[32];
		snprintf(want, sizeof(want), "reply-%03d", i);
		assert_string_equal(buf_str(&r.body), want);
		http_client_response_free(&r);
	}
	assert_int_equal(http_client_connects(c), 1);
	http_client_free(c);
	server_stop(&s);

	/* The server answers once per connection and closes: the next request
	 * finds the kept connection dead and is sent again on a new one. */
	server_start(&s, M_CLOSE_IDLE);
	server_run(&s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s.port);
	c = http_client_new(&o, &e);
	for (int i = 0; i < 3; i++) {
		struct http_client_response r;
		if (get(c, url, &r, &e) < 0)
			fail_msg("%s", e.msg);
		assert_int_equal(r.status, 200);
		http_client_response_free(&r);
	}
	assert_int_equal(http_client_connects(c), 3);
	assert_int_equal(s.answered, 3);
	http_client_free(c);
	server_stop(&s);
}

/* The deadline holds against a peer that keeps sending, and interim
 * responses are not accepted without end. */
static void test_deadline_against_an_endless_body(void **state)
{
	struct server s;
	server_start(&s, M_DRIP);
	server_run(&s);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	struct http_client_opts o = {.timeout_ms = 400};
	struct err e = {0};
	struct http_client *c = http_client_new(&o, &e);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct http_client_response r;
	assert_int_equal(get(c, url, &r, &e), -ERR_UNAVAILABLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.fail, HTTP_FAIL_TIMEOUT);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 1500);
	http_client_response_free(&r);
	http_client_free(c);
	server_stop(&s);

	struct buf b = BUF_INIT(4096);
	for (int i = 0; i < 9; i++)
		buf_puts(&b, "HTTP/1.1 100 Continue\r\n\r\n");
	buf_puts(&b, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 64, false);
	assert_true(http_client_parse_response(b.p, b.len, false, &r, &e) < 0);
	http_client_response_free(&r);
	buf_free(&b);
}

static void test_timeout_refusal_and_header_injection(void **state)
{
	struct server s;
	server_start(&s, M_SILENT);
	server_run(&s);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	struct http_client_opts o = {.timeout_ms = 300};
	struct err e = {0};
	struct http_client *c = http_client_new(&o, &e);
	struct http_client_response r;
	assert_int_equal(get(c, url, &r, &e), -ERR_UNAVAILABLE);
	assert_int_equal(r.fail, HTTP_FAIL_TIMEOUT);
	assert_non_null(strstr(e.msg, "timed out"));
	http_client_response_free(&r);
	http_client_free(c);
	server_stop(&s);

	/* Nobody listens there any more. */
	c = http_client_new(&o, &e);
	assert_int_equal(get(c, url, &r, &e), -ERR_UNAVAILABLE);
	assert_int_equal(r.fail, HTTP_FAIL_CONNECT);
	http_client_response_free(&r);

	struct http_url u;
	assert_int_equal(http_url_parse(url, &u, &e), 0);
	struct http_client_header h = {"X-Evil", "a\r\nHost: other"};
	struct http_client_request req = {.method = "GET", .url = &u, .headers = &h,
					  .n_headers = 1};
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 64, false);
	assert_int_equal(http_client_send(c, &req, &r, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "X-Evil"));
	assert_int_equal(http_client_connects(c), 0);
	http_client_response_free(&r);
	http_client_free(c);
}

/* A request's own limit replaces the client's: none at all for a long
 * poll (the Lambda Runtime API's next invocation), or a shorter one (an
 * invocation's deadline). */
static void test_request_timeout_overrides_client(void **state)
{
	struct server s;
	server_start(&s, M_SLOW);
	server_run(&s);
	struct http_url u;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
	struct err e = {0};
	assert_int_equal(http_url_parse(url, &u, &e), 0);
	struct http_client_response r;

	struct http_client_opts o = {.timeout_ms = 200};
	struct http_client *c = http_client_new(&o, &e);
	struct http_client_request req = {.method = "GET", .url = &u,
					  .timeout_ms = HTTP_CLIENT_NO_TIMEOUT};
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 64, false);
	assert_int_equal(http_client_send(c, &req, &r, &e), 0);
	assert_int_equal(r.status, 200);
	http_client_response_free(&r);
	/* The client's own 200 ms still applies to a request without one. */
	assert_int_equal(get(c, url, &r, &e), -ERR_UNAVAILABLE);
	assert_int_equal(r.fail, HTTP_FAIL_TIMEOUT);
	http_client_response_free(&r);
	http_client_free(c);

	o.timeout_ms = 5000;
	c = http_client_new(&o, &e);
	req.timeout_ms = 100;
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 64, false);
	assert_int_equal(http_client_send(c, &req, &r, &e), -ERR_UNAVAILABLE);
	assert_int_equal(r.fail, HTTP_FAIL_TIMEOUT);
	http_client_response_free(&r);
	http_client_free(c);
	server_stop(&s);
}

/* ---- TLS ---------------------------------------------------------------------- */

static X509 *self_signed(EVP_PKEY **key, const char *cn, const char *san)
{
	*key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, *key);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, *key, EVP_sha256());
	return x;
}

static void tls_server(struct server *s, X509 *x, EVP_PKEY *k)
{
	server_start(s, M_TLS);
	s->tls = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(s->tls, x);
	SSL_CTX_use_PrivateKey(s->tls, k);
	server_run(s);
}

static void test_tls_ca_file_and_pin(void **state)
{
	EVP_PKEY *k, *k2;
	X509 *x = self_signed(&k, "signer", "IP:127.0.0.1");
	X509 *other = self_signed(&k2, "other", "IP:127.0.0.1");
	char ca[] = "/tmp/ns-http-ca-XXXXXX";
	int fd = mkstemp(ca);
	FILE *f = fdopen(fd, "w");
	PEM_write_X509(f, x);
	fclose(f);
	unsigned char *der = NULL;
	int dlen = i2d_X509(x, &der);
	unsigned char *der2 = NULL;
	int dlen2 = i2d_X509(other, &der2);

	struct server s;
	tls_server(&s, x, k);
	char url[64];
	struct err e = {0};
	struct http_client_response r;
	/* 1. the CA file trusts it and the IP matches */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", s.port);
	struct http_client_opts o = {.timeout_ms = 5000, .ca_file = ca};
	struct http_client *c = http_client_new(&o, &e);
	if (get(c, url, &r, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(r.status, 200);
	http_client_response_free(&r);
	http_client_free(c);
	/* 2. the same server under a name the certificate does not carry */
	snprintf(url, sizeof(url), "https://localhost:%d/", s.port);
	c = http_client_new(&o, &e);
	assert_int_equal(get(c, url, &r, &e), -ERR_UNAVAILABLE);
	assert_int_equal(r.fail, HTTP_FAIL_TLS);
	http_client_response_free(&r);
	http_client_free(c);
	/* 3. pinned to this certificate: any name will do */
	struct http_client_opts p = {.timeout_ms = 5000, .pinned_cert_der = der,
				     .pinned_cert_len = (size_t)dlen};
	c = http_client_new(&p, &e);
	if (get(c, url, &r, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(r.status, 200);
	http_client_response_free(&r);
	http_client_free(c);
	/* 4. pinned to another certificate: refused before any request */
	p.pinned_cert_der = der2;
	p.pinned_cert_len = (size_t)dlen2;
	c = http_client_new(&p, &e);
	int before = s.answered;
	assert_int_equal(get(c, url, &r, &e), -ERR_UNAVAILABLE);
	assert_int_equal(r.fail, HTTP_FAIL_TLS);
	assert_non_null(strstr(e.msg, "pinned"));
	assert_int_equal(s.answered, before);
	http_client_response_free(&r);
	http_client_free(c);
	server_stop(&s);

	unlink(ca);
	OPENSSL_free(der);
	OPENSSL_free(der2);
	X509_free(x);
	X509_free(other);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

static int accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

static char *pem_of(X509 *x, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (x)
		PEM_write_bio_X509(b, x);
	else
		PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	char *out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

/* mTLS: the client presents its certificate to a server that requires
 * one; a key that does not match, or half an identity, is refused when the
 * client is made. */
static void test_tls_client_certificate(void **state)
{
	EVP_PKEY *k, *ck, *ok;
	X509 *x = self_signed(&k, "signer", "IP:127.0.0.1");
	X509 *cx = self_signed(&ck, "control", "DNS:control");
	X509 *other = self_signed(&ok, "other", "DNS:other");
	char *cert_pem = pem_of(cx, NULL), *key_pem = pem_of(NULL, ck);
	char *other_key_pem = pem_of(NULL, ok);
	unsigned char *der = NULL;
	int dlen = i2d_X509(x, &der);

	struct server s;
	server_start(&s, M_TLS);
	s.tls = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(s.tls, x);
	SSL_CTX_use_PrivateKey(s.tls, k);
	SSL_CTX_set_verify(s.tls, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   accept_any);
	server_run(&s);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", s.port);
	struct err e = {0};
	struct http_client_response r;

	struct http_client_opts o = {.timeout_ms = 5000, .pinned_cert_der = der,
				     .pinned_cert_len = (size_t)dlen};
	struct http_client *c = http_client_new(&o, &e);
	assert_true(get(c, url, &r, &e) < 0);
	http_client_response_free(&r);
	http_client_free(c);
	assert_int_equal(s.client_certs, 0);

	o.client_cert_pem = cert_pem;
	o.client_key_pem = key_pem;
	c = http_client_new(&o, &e);
	assert_non_null(c);
	if (get(c, url, &r, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(r.status, 200);
	assert_int_equal(s.client_certs, 1);
	http_client_response_free(&r);
	http_client_free(c);

	o.client_key_pem = other_key_pem;
	assert_null(http_client_new(&o, &e));
	assert_non_null(strstr(e.msg, "does not match"));
	o.client_key_pem = NULL;
	assert_null(http_client_new(&o, &e));
	assert_non_null(strstr(e.msg, "go together"));
	o.client_key_pem = "junk";
	assert_null(http_client_new(&o, &e));
	assert_non_null(strstr(e.msg, "not an unencrypted PEM private key"));

	server_stop(&s);
	OPENSSL_free(der);
	free(cert_pem);
	free(key_pem);
	free(other_key_pem);
	X509_free(x);
	X509_free(cx);
	X509_free(other);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_parse_lengths_chunks_and_interim),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_keepalive_reuse_and_stale_connection),
		cmocka_unit_test(test_timeout_refusal_and_header_injection),
		cmocka_unit_test(test_deadline_against_an_endless_body),
		cmocka_unit_test(test_tls_ca_file_and_pin),
		cmocka_unit_test(test_request_timeout_overrides_client),
		cmocka_unit_test(test_tls_client_certificate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
