/*
 * http_client.h: a small blocking HTTP/1.1 client (the AWS APIs, IMDS, the
 * Lambda Runtime API, a pinned signer).
 *
 * One struct http_client holds at most one keep-alive connection, to the
 * origin of its last request, and reuses it for the next request to the
 * same origin. TLS through OpenSSL (peer and host name verified against a
 * CA bundle, or exactly one pinned leaf certificate); responses parsed by
 * llhttp (Debian's node-llhttp C sources), bounded in header and body size.
 * A socket hook replaces name resolution and socket creation, so the same
 * client runs over vsock or a unix socket. No proxies, no redirects, no
 * compression, no HTTP/2. Not thread-safe: one client per thread.
 */
#ifndef NS_HTTP_CLIENT_H
#define NS_HTTP_CLIENT_H

#include <sys/socket.h>

#include "core/core.h"

/* A socket for a request and the address to connect it to. */
typedef int (*http_open_socket_fn)(void *ctx, struct sockaddr_storage *addr,
				   socklen_t *addr_len, struct err *e);

struct http_client_opts {
	long connect_timeout_ms; /* 0: 3000 */
	long timeout_ms;         /* one whole exchange; 0: 15000 */
	/* Trust: NULL takes SSL_CERT_FILE, else the first system bundle that
	 * exists (Debian's, Amazon Linux's), else OpenSSL's defaults. */
	const char *ca_file;
	/* When set, the server must present exactly this leaf certificate
	 * (DER); no CA or name check (a load balancer's name is not in it). */
	const uint8_t *pinned_cert_der;
	size_t pinned_cert_len;
	/* mTLS: a PEM certificate and its PEM private key (unencrypted), both
	 * or neither, presented when a server asks. Parsed by http_client_new
	 * (the strings are not kept); the key stays in OpenSSL's memory. */
	const char *client_cert_pem;
	const char *client_key_pem;
	http_open_socket_fn open_socket; /* NULL: resolve and connect TCP */
	void *open_socket_ctx;
};

/* "http[s]://host[:port]" with an optional path ("/" when absent). */
struct http_url {
	bool tls;
	char host[256];      /* without brackets for an IPv6 literal */
	int port;
	char authority[300]; /* host[:port] as in the URL: the Host header */
	char path[1024];     /* path and query */
};

NS_MUST_CHECK
int http_url_parse(const char *url, struct http_url *u, struct err *e);

struct http_client_header {
	const char *name;
	const char *value;
};

struct http_client_request {
	const char *method;
	const struct http_url *url;
	const struct http_client_header *headers; /* Host is added when absent */
	size_t n_headers;
	const void *body;
	size_t body_len;
	/* This exchange's limit instead of the client's timeout_ms: 0 keeps
	 * the client's, HTTP_CLIENT_NO_TIMEOUT waits as long as the peer takes
	 * (a long poll such as the Lambda Runtime API's next invocation). The
	 * connect timeout applies either way. */
	long timeout_ms;
};

#define HTTP_CLIENT_NO_TIMEOUT (-1L)

/* Why an exchange failed before a whole response arrived. */
enum http_fail {
	HTTP_FAIL_NONE = 0,
	HTTP_FAIL_CONNECT,   /* name, socket or connect */
	HTTP_FAIL_TIMEOUT,
	HTTP_FAIL_IO,        /* send or receive */
	HTTP_FAIL_EMPTY,     /* the peer closed before answering */
	HTTP_FAIL_TRUNCATED, /* the peer closed mid-response */
	HTTP_FAIL_TLS,       /* handshake or verification */
	HTTP_FAIL_PROTOCOL,  /* not HTTP/1.x */
	HTTP_FAIL_TOO_LARGE, /* headers or body over their limits */
};

#define HTTP_CLIENT_MAX_HEADERS 64

struct http_client_response {
	int status;
	/* The caller sets body.max and body.wipe (buf_init) before the call;
	 * the body arrives NUL-terminated. */
	struct buf body;
	enum http_fail fail;
	/* Response headers, names lower-cased, control bytes replaced. */
	struct {
		char *name;
		char *value;
	} hdr[HTTP_CLIENT_MAX_HEADERS];
	size_t n_hdr;
	struct buf hdr_store;
};

struct http_client;

struct http_client *http_client_new(const struct http_client_opts *o,
				    struct err *e);
void http_client_free(struct http_client *c); /* NULL-safe */

/*
 * One exchange. 0 once a whole response arrived (any status); otherwise a
 * negative code, e set and resp->fail saying why (retrying is the caller's
 * choice). A reused connection the peer had closed is replaced once,
 * transparently, when nothing of the response had arrived.
 */
NS_MUST_CHECK
int http_client_send(struct http_client *c, const struct http_client_request *r,
		     struct http_client_response *resp, struct err *e);

/* The first value of header name (case-insensitive), or NULL. */
const char *http_client_header(const struct http_client_response *r,
			       const char *name);
/* Frees the headers and the body (wiped when body.wipe). */
void http_client_response_free(struct http_client_response *r);

/* Connections opened so far (the first one and every reconnect). */
uint64_t http_client_connects(const struct http_client *c);

/* The parser alone, for fuzzing: feeds raw response bytes as the client
 * would and fills resp. 0 on a whole response. */
int http_client_parse_response(const uint8_t *data, size_t len, bool eof,
			       struct http_client_response *resp,
			       struct err *e);

#endif
