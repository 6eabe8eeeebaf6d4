/*
 * client.c: the blocking HTTP/1.1 client (http_client.h).
 *
 * I/O is non-blocking underneath with poll() against one deadline per
 * exchange, so a connect, a TLS handshake, a send and every read share the
 * exchange's time budget. The request goes out in one buffer (headers and
 * body); the response goes through llhttp, whose callbacks copy headers
 * into a bounded store and the body into the caller's bounded buffer.
 *
 * Trust: response bytes are untrusted. Limits: HTTP_CLIENT_MAX_HEADERS
 * headers, 256-byte names, 8 KiB values, 16 KiB of headers in all; the body
 * up to the caller's body.max. Request buffers may hold credentials (a
 * session token in a header): they are wiped before release.
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <llhttp.h>

#define MAX_NAME 256
#define MAX_VALUE 8192
#define MAX_HEADER_BYTES 16384
#define MAX_REQUEST_HEAD 65536
#define MAX_INTERIM 8

struct http_client {
	struct http_client_opts o;
	uint8_t *pin;
	char *ca_file;
	X509 *client_cert;
	EVP_PKEY *client_key;
	SSL_CTX *ctx;
	/* the open connection, if any */
	int fd;
	SSL *ssl;
	bool conn_tls;
	char conn_host[256];
	int conn_port;
	uint64_t connects;
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- URLs ---------------------------------------------------------------- */

int http_url_parse(const char *url, struct http_url *u, struct err *e)
{
	memset(u, 0, sizeof(*u));
	const char *p;
	if (strncmp(url, "https://", 8) == 0) {
		u->tls = true;
		u->port = 443;
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		u->port = 80;
		p = url + 7;
	} else {
		return err_set(e, ERR_INVALID, "URL %.80s: not http:// or https://",
			       url);
	}
	size_t n = strcspn(p, "/?#");
	if (n == 0 || n >= sizeof(u->authority) || memchr(p, '@', n))
		return err_set(e, ERR_INVALID, "URL %.80s: no usable host", url);
	memcpy(u->authority, p, n);
	u->authority[n] = '\0';
	const char *host = u->authority, *port = NULL;
	size_t hlen;
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (!close)
			return err_set(e, ERR_INVALID, "URL %.80s: unclosed [", url);
		host++;
		hlen = (size_t)(close - host);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return err_set(e, ERR_INVALID, "URL %.80s: bad host", url);
	} else {
		const char *colon = strchr(host, ':');
		hlen = colon ? (size_t)(colon - host) : strlen(host);
		if (colon)
			port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(u->host))
		return err_set(e, ERR_INVALID, "URL %.80s: no usable host", url);
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++) {
		unsigned char ch = (unsigned char)u->host[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == '/' || ch == '\\')
			return err_set(e, ERR_INVALID, "URL %.80s: bad host", url);
	}
	if (port) {
		uint64_t v;
		if (dec_parse_u64(port, &v, NULL, "port") < 0 || v == 0 || v > 65535)
			return err_set(e, ERR_INVALID, "URL %.80s: bad port", url);
		u->port = (int)v;
	}
	const char *rest = p + n;
	if (*rest == '#')
		rest = "";
	size_t rlen = strcspn(rest, "#");
	if (rlen + 2 > sizeof(u->path))
		return err_set(e, ERR_TOO_LARGE, "URL %.80s: path too long", url);
	for (size_t i = 0; i < rlen; i++) {
		unsigned char ch = (unsigned char)rest[i];
		if (ch <= 0x20 || ch >= 0x7f)
			return err_set(e, ERR_INVALID, "URL %.80s: bad path", url);
	}
	if (rlen == 0 || rest[0] != '/')
		u->path[0] = '/';
	memcpy(u->path + (u->path[0] == '/'), rest, rlen);
	return 0;
}

/* ---- the client ---------------------------------------------------------- */

/* A peer that closes while we write must be an error, not a fatal SIGPIPE:
 * plain sends use MSG_NOSIGNAL, but OpenSSL writes with write(2), so the
 * process ignores SIGPIPE once a client exists (unless someone installed a
 * handler). */
static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;
static void ignore_sigpipe(void)
{
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

/* The mTLS identity from PEM text; the key must match the certificate. */
static int client_identity(struct http_client *c, const char *cert_pem,
			   const char *key_pem, struct err *e)
{
	if (!cert_pem && !key_pem)
		return 0;
	if (!cert_pem || !key_pem)
		return err_set(e, ERR_USAGE, "TLS client certificate: the "
			       "certificate and the key go together");
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	c->client_cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	b = BIO_new_mem_buf(key_pem, -1);
	c->client_key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	ERR_clear_error();
	if (!c->client_cert)
		return err_set(e, ERR_USAGE, "TLS client certificate: not a PEM "
			       "certificate");
	if (!c->client_key)
		return err_set(e, ERR_USAGE, "TLS client certificate: the key is "
			       "not an unencrypted PEM private key");
	if (X509_check_private_key(c->client_cert, c->client_key) != 1) {
		ERR_clear_error();
		return err_set(e, ERR_USAGE, "TLS client certificate: the key "
			       "does not match the certificate");
	}
	return 0;
}

struct http_client *http_client_new(const struct http_client_opts *o,
				    struct err *e)
{
	pthread_once(&sigpipe_once, ignore_sigpipe);
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c) {
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->o = *o;
	c->fd = -1;
	if (!c->o.connect_timeout_ms)
		c->o.connect_timeout_ms = 3000;
	if (!c->o.timeout_ms)
		c->o.timeout_ms = 15000;
	if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
		goto nomem;
	c->o.ca_file = c->ca_file;
	if (o->pinned_cert_der) {
		if (!o->pinned_cert_len || !(c->pin = malloc(o->pinned_cert_len)))
			goto nomem;
		memcpy(c->pin, o->pinned_cert_der, o->pinned_cert_len);
		c->o.pinned_cert_der = c->pin;
	}
	c->o.client_cert_pem = c->o.client_key_pem = NULL;
	if (client_identity(c, o->client_cert_pem, o->client_key_pem, e) < 0) {
		http_client_free(c);
		return NULL;
	}
	return c;
nomem:
	http_client_free(c);
	err_set(e, ERR_NOMEM, "out of memory");
	return NULL;
}

static void conn_close(struct http_client *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	conn_close(c);
	SSL_CTX_free(c->ctx);
	X509_free(c->client_cert);
	EVP_PKEY_free(c->client_key);
	free(c->pin);
	free(c->ca_file);
	free(c);
}

uint64_t http_client_connects(const struct http_client *c)
{
	return c->connects;
}

/* Bundles of the systems we run on, for a static binary whose OpenSSL
 * default directory (Debian's) need not exist on the machine. */
static const char *const SYSTEM_BUNDLES[] = {
	"/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu */
	"/etc/pki/tls/certs/ca-bundle.crt",   /* Amazon Linux, Fedora, RHEL */
	"/etc/ssl/cert.pem",
};

static int tls_ctx(struct http_client *c, struct err *e)
{
	if (c->ctx)
		return 0;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return err_set(e, ERR_CRYPTO, "TLS: SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	if (c->o.pinned_cert_der) {
		/* Checked against the pin after the handshake. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		const char *ca = c->o.ca_file;
		const char *env = getenv("SSL_CERT_FILE");
		if (!ca && env && *env)
			ca = env;
		for (size_t i = 0; !ca && i < sizeof(SYSTEM_BUNDLES) / sizeof(*SYSTEM_BUNDLES); i++)
			if (access(SYSTEM_BUNDLES[i], R_OK) == 0)
				ca = SYSTEM_BUNDLES[i];
		int ok = ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			SSL_CTX_free(ctx);
			ERR_clear_error();
			return err_set(e, ERR_IO, "TLS: cannot load CA bundle %s",
				       ca ? ca : "(OpenSSL default)");
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (c->client_cert &&
	    (SSL_CTX_use_certificate(ctx, c->client_cert) != 1 ||
	     SSL_CTX_use_PrivateKey(ctx, c->client_key) != 1)) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return err_set(e, ERR_CRYPTO, "TLS: cannot use the client "
			       "certificate");
	}
	c->ctx = ctx;
	return 0;
}

static int wait_fd(int fd, short events, long deadline)
{
	for (;;) {
		long left = deadline - now_ms();
		if (left <= 0)
			return -ERR_UNAVAILABLE;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -ERR_IO;
	}
}

static int fail(struct http_client_response *resp, enum http_fail f, int code,
		struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(struct http_client_response *resp, enum http_fail f, int code,
		struct err *e, const char *fmt, ...)
{
	resp->fail = f;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(e, code, "%s", msg);
}

static int connect_addr(int fd, const struct sockaddr *sa, socklen_t len,
			long deadline)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -ERR_IO;
	int w = wait_fd(fd, POLLOUT, deadline);
	if (w < 0)
		return w;
	int so = 0;
	socklen_t sl = sizeof(so);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) < 0 || so != 0) {
		errno = so ? so : errno;
		return -ERR_IO;
	}
	return 0;
}

static int open_tcp(struct http_client *c, const struct http_url *u,
		    long deadline, struct http_client_response *resp,
		    struct err *e)
{
	char port[8];
	snprintf(port, sizeof(port), "%d", u->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(u->host, port, &hints, &ai);
	if (g != 0)
		return fail(resp, HTTP_FAIL_CONNECT, ERR_UNAVAILABLE, e,
			    "cannot resolve %s: %s", u->host, gai_strerror(g));
	int rc = -ERR_IO, saved = 0;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		rc = connect_addr(fd, a->ai_addr, a->ai_addrlen, deadline);
		if (rc == 0) {
			c->fd = fd;
			break;
		}
		saved = errno;
		close(fd);
		if (rc == -ERR_UNAVAILABLE)
			break; /* out of time */
	}
	freeaddrinfo(ai);
	if (rc == -ERR_UNAVAILABLE)
		return fail(resp, HTTP_FAIL_TIMEOUT, ERR_UNAVAILABLE, e,
			    "connect to %s: timed out", u->authority);
	if (rc < 0)
		return fail(resp, HTTP_FAIL_CONNECT, ERR_UNAVAILABLE, e,
			    "connect to %s: %s", u->authority, strerror(saved));
	return 0;
}

static int open_hooked(struct http_client *c, const struct http_url *u,
		       long deadline, struct http_client_response *resp,
		       struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	struct err he = {0};
	int fd = c->o.open_socket(c->o.open_socket_ctx, &ss, &len, &he);
	if (fd < 0)
		return fail(resp, HTTP_FAIL_CONNECT, ERR_UNAVAILABLE, e, "%s",
			    he.msg);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return fail(resp, HTTP_FAIL_CONNECT, ERR_IO, e, "socket: %s",
			    strerror(errno));
	}
	int rc = connect_addr(fd, (struct sockaddr *)&ss, len, deadline);
	if (rc < 0) {
		int saved = errno;
		close(fd);
		return fail(resp, rc == -ERR_UNAVAILABLE ? HTTP_FAIL_TIMEOUT
							: HTTP_FAIL_CONNECT,
			    ERR_UNAVAILABLE, e, "connect to %s: %s", u->authority,
			    rc == -ERR_UNAVAILABLE ? "timed out" : strerror(saved));
	}
	c->fd = fd;
	return 0;
}

static bool is_ip_literal(const char *h)
{
	struct in6_addr a6;
	struct in_addr a4;
	return inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
}

static int tls_pin_check(struct http_client *c)
{
	X509 *peer = SSL_get1_peer_certificate(c->ssl);
	if (!peer)
		return -1;
	unsigned char *der = NULL;
	int n = i2d_X509(peer, &der);
	X509_free(peer);
	int ok = n > 0 && (size_t)n == c->o.pinned_cert_len &&
		 CRYPTO_memcmp(der, c->o.pinned_cert_der, (size_t)n) == 0;
	OPENSSL_free(der);
	return ok ? 0 : -1;
}

static int tls_handshake(struct http_client *c, const struct http_url *u,
			 long deadline, struct http_client_response *resp,
			 struct err *e)
{
	TRY(tls_ctx(c, e));
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return fail(resp, HTTP_FAIL_TLS, ERR_CRYPTO, e, "TLS: SSL_new failed");
	bool ip = is_ip_literal(u->host);
	if (!c->o.pinned_cert_der) {
		int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host)
			    : SSL_set1_host(c->ssl, u->host);
		if (ok != 1)
			return fail(resp, HTTP_FAIL_TLS, ERR_CRYPTO, e,
				    "TLS: cannot check the name %s", u->host);
	}
	if (!ip)
		SSL_set_tlsext_host_name(c->ssl, u->host);
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		int err = SSL_get_error(c->ssl, r);
		short ev = err == SSL_ERROR_WANT_READ ? POLLIN
			 : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
		if (ev) {
			if (wait_fd(c->fd, ev, deadline) < 0)
				return fail(resp, HTTP_FAIL_TIMEOUT, ERR_UNAVAILABLE, e,
					    "TLS handshake with %s: timed out",
					    u->authority);
			continue;
		}
		long vr = SSL_get_verify_result(c->ssl);
		char why[160] = "handshake failed";
		if (vr != X509_V_OK)
			snprintf(why, sizeof(why), "certificate: %s",
				 X509_verify_cert_error_string(vr));
		else if (ERR_peek_error())
			ERR_error_string_n(ERR_peek_error(), why, sizeof(why));
		ERR_clear_error();
		return fail(resp, HTTP_FAIL_TLS, ERR_UNAVAILABLE, e, "TLS with %s: %s",
			    u->authority, why);
	}
	if (c->o.pinned_cert_der && tls_pin_check(c) < 0)
		return fail(resp, HTTP_FAIL_TLS, ERR_UNAVAILABLE, e,
			    "TLS with %s: not the pinned certificate", u->authority);
	return 0;
}

static int conn_open(struct http_client *c, const struct http_url *u,
		     long deadline, struct http_client_response *resp,
		     struct err *e)
{
	conn_close(c);
	long cdl = now_ms() + c->o.connect_timeout_ms;
	if (cdl > deadline)
		cdl = deadline;
	int rc = c->o.open_socket ? open_hooked(c, u, cdl, resp, e)
				  : open_tcp(c, u, cdl, resp, e);
	if (rc < 0)
		return rc;
	c->connects++;
	if (u->tls && (rc = tls_handshake(c, u, deadline, resp, e)) < 0) {
		conn_close(c);
		return rc;
	}
	c->conn_tls = u->tls;
	snprintf(c->conn_host, sizeof(c->conn_host), "%s", u->host);
	c->conn_port = u->port;
	return 0;
}

/* ---- raw I/O ------------------------------------------------------------ */

/* n bytes, 0 at EOF, -ERR_UNAVAILABLE on timeout, -ERR_IO otherwise. */
static long conn_read(struct http_client *c, void *p, size_t cap, long deadline)
{
	for (;;) {
		short ev = POLLIN;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, p, (int)(cap > INT32_MAX ? INT32_MAX : cap));
			if (r > 0)
				return r;
			int err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && r == 0)
				return 0; /* closed without close_notify */
			if (err == SSL_ERROR_WANT_WRITE)
				ev = POLLOUT;
			else if (err != SSL_ERROR_WANT_READ)
				return -ERR_IO;
		} else {
			ssize_t r = read(c->fd, p, cap);
			if (r >= 0)
				return (long)r;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -ERR_IO;
		}
		int w = wait_fd(c->fd, ev, deadline);
		if (w < 0)
			return w;
	}
}

static int conn_write_all(struct http_client *c, const uint8_t *p, size_t n,
			  long deadline)
{
	while (n) {
		short ev = POLLOUT;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, p, (int)(n > INT32_MAX ? INT32_MAX : n));
			if (r > 0) {
				p += r;
				n -= (size_t)r;
				continue;
			}
			int err = SSL_get_error(c->ssl, r);
			if (err == SSL_ERROR_WANT_READ)
				ev = POLLIN;
			else if (err != SSL_ERROR_WANT_WRITE)
				return -ERR_IO;
		} else {
			ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
			if (r > 0) {
				p += r;
				n -= (size_t)r;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				return -ERR_IO;
		}
		int w = wait_fd(c->fd, ev, deadline);
		if (w < 0)
			return w;
	}
	return 0;
}

/* ---- the response parser -------------------------------------------------- */

struct pstate {
	llhttp_t parser;
	llhttp_settings_t settings;
	struct http_client_response *resp;
	char name[MAX_NAME + 1];
	size_t name_len;
	struct buf value;
	size_t off[HTTP_CLIENT_MAX_HEADERS][2];
	bool in_value;
	bool complete;
	bool too_large;
	bool begun;
	int interim; /* 1xx responses so far */
};

static struct pstate *ps_of(llhttp_t *p)
{
	return (struct pstate *)((char *)p - offsetof(struct pstate, parser));
}

static int on_begin(llhttp_t *p)
{
	struct pstate *s = ps_of(p);
	s->begun = true;
	/* A 1xx response went before: start over. */
	s->resp->n_hdr = 0;
	buf_clear(&s->resp->hdr_store);
	buf_clear(&s->resp->body);
	s->name_len = 0;
	buf_clear(&s->value);
	s->in_value = false;
	return 0;
}

static int on_field(llhttp_t *p, const char *at, size_t n)
{
	struct pstate *s = ps_of(p);
	if (s->name_len + n > MAX_NAME) {
		s->too_large = true;
		return -1;
	}
	memcpy(s->name + s->name_len, at, n);
	s->name_len += n;
	return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
	struct pstate *s = ps_of(p);
	if (buf_append(&s->value, at, n) < 0) {
		s->too_large = true;
		return -1;
	}
	return 0;
}

static int on_value_complete(llhttp_t *p)
{
	struct pstate *s = ps_of(p);
	struct http_client_response *r = s->resp;
	struct buf *st = &r->hdr_store;
	if (r->n_hdr >= HTTP_CLIENT_MAX_HEADERS) {
		s->too_large = true;
		return -1;
	}
	size_t name_off = st->len;
	for (size_t i = 0; i < s->name_len; i++) {
		char ch = s->name[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (buf_u8(st, (uint8_t)ch) < 0)
			goto big;
	}
	if (buf_u8(st, 0) < 0)
		goto big;
	size_t value_off = st->len;
	for (size_t i = 0; i < s->value.len; i++) {
		uint8_t ch = s->value.p[i];
		if (buf_u8(st, ch < 0x20 || ch == 0x7f ? ' ' : ch) < 0)
			goto big;
	}
	if (buf_u8(st, 0) < 0)
		goto big;
	s->off[r->n_hdr][0] = name_off;
	s->off[r->n_hdr][1] = value_off;
	r->n_hdr++;
	s->name_len = 0;
	buf_clear(&s->value);
	return 0;
big:
	s->too_large = true;
	return -1;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct pstate *s = ps_of(p);
	if (buf_text(&s->resp->body, at, n) < 0) {
		s->too_large = true;
		return -1;
	}
	return 0;
}

static int on_complete(llhttp_t *p)
{
	struct pstate *s = ps_of(p);
	int st = llhttp_get_status_code(p);
	if (st < 100 || st > 999)
		return -1; /* not a three-digit status */
	if (st < 200) /* an interim response; the real one follows, soon */
		return ++s->interim > MAX_INTERIM ? -1 : 0;
	s->resp->status = st;
	s->complete = true;
	return HPE_PAUSED;
}

static void ps_init(struct pstate *s, struct http_client_response *resp)
{
	memset(s, 0, sizeof(*s));
	s->resp = resp;
	buf_init(&s->value, MAX_VALUE, false);
	llhttp_settings_init(&s->settings);
	s->settings.on_message_begin = on_begin;
	s->settings.on_header_field = on_field;
	s->settings.on_header_value = on_value;
	s->settings.on_header_value_complete = on_value_complete;
	s->settings.on_body = on_body;
	s->settings.on_message_complete = on_complete;
	llhttp_init(&s->parser, HTTP_RESPONSE, &s->settings);
	if (!resp->hdr_store.max)
		buf_init(&resp->hdr_store, MAX_HEADER_BYTES, false);
}

static void ps_finish(struct pstate *s)
{
	struct http_client_response *r = s->resp;
	for (size_t i = 0; i < r->n_hdr; i++) {
		r->hdr[i].name = (char *)r->hdr_store.p + s->off[i][0];
		r->hdr[i].value = (char *)r->hdr_store.p + s->off[i][1];
	}
	buf_free(&s->value);
}

/* Feeds bytes: 1 when the response is whole, 0 for more, <0 on an error
 * (resp->fail set). *extra: bytes left after the response. */
static int ps_feed(struct pstate *s, const char *p, size_t n, size_t *extra)
{
	*extra = 0;
	if (!n)
		return 0;
	llhttp_errno_t er = llhttp_execute(&s->parser, p, n);
	if (er == HPE_PAUSED && s->complete) {
		const char *stop = llhttp_get_error_pos(&s->parser);
		if (stop && stop >= p && stop <= p + n)
			*extra = (size_t)(p + n - stop);
		return 1;
	}
	if (er == HPE_OK)
		return 0;
	s->resp->fail = s->too_large ? HTTP_FAIL_TOO_LARGE : HTTP_FAIL_PROTOCOL;
	return -1;
}

/* At EOF: 1 if that ends the response (no length given), else -1. */
static int ps_eof(struct pstate *s)
{
	if (s->complete)
		return 1;
	llhttp_errno_t er = llhttp_finish(&s->parser);
	if ((er == HPE_OK || er == HPE_PAUSED) && s->complete)
		return 1;
	s->resp->fail = s->begun ? HTTP_FAIL_TRUNCATED : HTTP_FAIL_EMPTY;
	return -1;
}

static const char *parse_error(const struct pstate *s)
{
	if (s->too_large)
		return "response headers or body over their limits";
	const char *r = llhttp_get_error_reason(&s->parser);
	return r && *r ? r : "malformed response";
}

int http_client_parse_response(const uint8_t *data, size_t len, bool eof,
			       struct http_client_response *resp,
			       struct err *e)
{
	struct pstate s;
	ps_init(&s, resp);
	size_t extra;
	int r = ps_feed(&s, (const char *)data, len, &extra);
	if (r == 0 && eof)
		r = ps_eof(&s);
	int rc = 0;
	if (r < 0)
		rc = err_set(e, ERR_INVALID, "%s", resp->fail == HTTP_FAIL_PROTOCOL ||
					    resp->fail == HTTP_FAIL_TOO_LARGE
					    ? parse_error(&s) : "truncated response");
	else if (r == 0)
		rc = err_set(e, ERR_TRUNCATED, "incomplete response");
	ps_finish(&s);
	return rc;
}

/* ---- one exchange ---------------------------------------------------------- */

static bool has_header(const struct http_client_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return true;
	return false;
}

static bool header_ok(const char *s, bool name)
{
	if (name && !*s)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\r' || ch == '\n' || ch == 0x7f || (ch < 0x20 && ch != '\t'))
			return false;
		if (name && (ch <= 0x20 || ch == ':'))
			return false;
	}
	return true;
}

static int build_head(const struct http_client_request *r, struct buf *h,
		      struct err *e)
{
	const char *m = r->method;
	for (const char *q = m; *q; q++)
		if (*q < 'A' || *q > 'Z')
			return err_set(e, ERR_INVALID, "HTTP method %.16s", m);
	buf_printf(h, "%s %s HTTP/1.1\r\n", m, r->url->path);
	if (!has_header(r, "Host"))
		buf_printf(h, "Host: %s\r\n", r->url->authority);
	for (size_t i = 0; i < r->n_headers; i++) {
		if (!header_ok(r->headers[i].name, true) ||
		    !header_ok(r->headers[i].value, false))
			return err_set(e, ERR_INVALID, "HTTP header %.40s: bad bytes",
				       r->headers[i].name);
		buf_printf(h, "%s: %s\r\n", r->headers[i].name, r->headers[i].value);
	}
	if (r->body_len || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0)
		buf_printf(h, "Content-Length: %zu\r\n", r->body_len);
	buf_puts(h, "\r\n");
	if (r->body_len)
		(void)buf_text(h, r->body, r->body_len);
	if (h->failed)
		return err_set(e, ERR_TOO_LARGE, "HTTP request too large");
	return 0;
}

/* One attempt on an open connection: 1 when the connection died before any
 * response byte (a stale keep-alive), 0 done, <0 failed. */
static int exchange(struct http_client *c, const struct http_client_request *r,
		    const struct buf *req, long deadline,
		    struct http_client_response *resp, struct err *e)
{
	int w = conn_write_all(c, req->p, req->len, deadline);
	if (w == -ERR_UNAVAILABLE)
		return fail(resp, HTTP_FAIL_TIMEOUT, ERR_UNAVAILABLE, e,
			    "sending to %s: timed out", r->url->authority);
	if (w < 0)
		return 1;
	struct pstate s;
	ps_init(&s, resp);
	char in[16384];
	size_t got = 0;
	int rc = 0;
	for (;;) {
		long n = conn_read(c, in, sizeof(in), deadline);
		if (n == -ERR_UNAVAILABLE) {
			rc = fail(resp, HTTP_FAIL_TIMEOUT, ERR_UNAVAILABLE, e,
				  "response from %s: timed out", r->url->authority);
			break;
		}
		if (n < 0 || n == 0) {
			if (got == 0) {
				rc = 1;
				break;
			}
			if (n < 0) {
				rc = fail(resp, HTTP_FAIL_IO, ERR_UNAVAILABLE, e,
					  "receiving from %s failed", r->url->authority);
				break;
			}
			if (ps_eof(&s) == 1) {
				conn_close(c);
				break;
			}
			rc = fail(resp, resp->fail, ERR_UNAVAILABLE, e,
				  "response from %s: %s", r->url->authority,
				  resp->fail == HTTP_FAIL_TRUNCATED ? "truncated response"
								    : "empty reply");
			break;
		}
		got += (size_t)n;
		size_t extra;
		int f = ps_feed(&s, in, (size_t)n, &extra);
		if (f < 0) {
			rc = fail(resp, resp->fail,
				  s.too_large ? ERR_TOO_LARGE : ERR_INVALID, e,
				  "response from %s: %s", r->url->authority,
				  parse_error(&s));
			break;
		}
		if (f == 1) {
			if (extra || !llhttp_should_keep_alive(&s.parser))
				conn_close(c);
			break;
		}
		/* A peer that never stops sending is out of time too. */
		if (now_ms() >= deadline) {
			rc = fail(resp, HTTP_FAIL_TIMEOUT, ERR_UNAVAILABLE, e,
				  "response from %s: timed out", r->url->authority);
			break;
		}
	}
	OPENSSL_cleanse(in, sizeof(in));
	ps_finish(&s);
	if (rc != 0)
		conn_close(c);
	return rc;
}

int http_client_send(struct http_client *c, const struct http_client_request *r,
		     struct http_client_response *resp, struct err *e)
{
	resp->status = 0;
	resp->fail = HTTP_FAIL_NONE;
	long deadline = r->timeout_ms == HTTP_CLIENT_NO_TIMEOUT ? LONG_MAX
			: now_ms() + (r->timeout_ms > 0 ? r->timeout_ms
							: c->o.timeout_ms);
	struct buf req = {.max = MAX_REQUEST_HEAD + r->body_len, .wipe = true};
	int rc = build_head(r, &req, e);
	if (rc < 0) {
		buf_free(&req);
		return rc;
	}
	bool same = c->fd >= 0 && c->conn_tls == r->url->tls &&
		    c->conn_port == r->url->port &&
		    strcmp(c->conn_host, r->url->host) == 0;
	for (int pass = 0; pass < 2; pass++) {
		bool reused = same && pass == 0;
		if (!reused && (rc = conn_open(c, r->url, deadline, resp, e)) < 0)
			break;
		rc = exchange(c, r, &req, deadline, resp, e);
		if (rc != 1)
			break;
		conn_close(c);
		if (!reused) {
			rc = fail(resp, HTTP_FAIL_EMPTY, ERR_UNAVAILABLE, e,
				  "%s closed the connection without answering",
				  r->url->authority);
			break;
		}
	}
	buf_free(&req);
	return rc;
}

const char *http_client_header(const struct http_client_response *r,
			       const char *name)
{
	for (size_t i = 0; i < r->n_hdr; i++)
		if (strcasecmp(r->hdr[i].name, name) == 0)
			return r->hdr[i].value;
	return NULL;
}

void http_client_response_free(struct http_client_response *r)
{
	buf_free(&r->body);
	buf_free(&r->hdr_store);
	r->n_hdr = 0;
}
