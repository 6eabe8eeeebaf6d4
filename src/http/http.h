/*
 * http.h: the public header of the http module: listen addresses (tcp, unix,
 * vsock), TLS/mTLS server contexts, and an HTTP/1.1 server on libevent.
 *
 * Threading model: one event loop per core, each a thread owning its own
 * connections and evhttp objects (they share the listening socket). A
 * handler runs on the loop that received the request and fills a struct
 * http_reply; CPU-bound work (BLS signing) is done right there. Work that
 * may block on I/O (a slashing-protection database commit) is handed to a
 * worker pool with http_reply_defer(); its result comes back to the owning
 * loop through a completion queue and an eventfd. Handlers see only struct
 * http_req (a copy of the request), never libevent objects.
 */
#ifndef NS_HTTP_H
#define NS_HTTP_H

#include <openssl/ssl.h>
#include <sys/socket.h>

#include "core/core.h"

/* ---- addresses -------------------------------------------------------- */

enum http_addr_kind { HTTP_ADDR_TCP, HTTP_ADDR_UNIX, HTTP_ADDR_VSOCK };

struct http_addr {
	enum http_addr_kind kind;
	char host[256];  /* tcp */
	uint16_t port;   /* tcp, vsock */
	char path[108];  /* unix */
	uint32_t cid;    /* vsock; VMADDR_CID_ANY for "ANY" */
};

/* "tcp:HOST:PORT", "unix:PATH", "vsock:CID:PORT" (CID may be ANY). */
int http_addr_parse(const char *s, struct http_addr *out, struct err *e);
/*
 * addr's socket address without a name lookup: unix and vsock always, tcp
 * when the host is an IPv4 or IPv6 literal; false for a tcp host name
 * (resolve it with getaddrinfo). The one place an ADDR becomes a sockaddr.
 */
bool http_addr_sockaddr(const struct http_addr *a, struct sockaddr_storage *ss,
			socklen_t *len);
/* A listening, non-blocking socket for addr. */
int http_listen_fd(const struct http_addr *addr, int *fd_out, struct err *e);
/* The ADDR syntax back ("tcp:127.0.0.1:9000", "unix:/p", "vsock:3:8000"). */
void http_addr_format(const struct http_addr *a, char *out, size_t len);
/* Human-readable form of an address ("http://127.0.0.1:9000", "unix:/p"). */
void http_addr_describe(const struct http_addr *a, bool tls, char *out,
			size_t len);

/* ---- TLS -------------------------------------------------------------- */

struct http_tls_config {
	const char *keystore_file;          /* PKCS#12 with key + certificate */
	const char *keystore_password_file; /* first line = password */
	bool allow_any_client;
	const char *known_clients_file;     /* "name AA:BB:.. sha256" lines */
	/* Authorise per route instead of at the handshake: a client
	 * certificate is requested but not required (see
	 * http_tls_ctx_request_clients); known_clients_file then only names
	 * clients. */
	bool per_route_clients;
};

/* SHA-256 certificate fingerprints of the clients an operator pinned. */
struct http_known_clients;

/*
 * Loads "name AA:BB:.." lines (SHA-256 of the client certificate's DER;
 * blank lines and # comments skipped). Errors name --tls-known-clients-file
 * and the line; an empty list is an error. 0 or a negative code with e set.
 */
int http_known_clients_load(const char *path, struct http_known_clients **out,
			    struct err *e);
void http_known_clients_free(struct http_known_clients *kc); /* NULL-safe */
size_t http_known_clients_count(const struct http_known_clients *kc);

/*
 * Per-route client authentication on ctx: the server asks for a client
 * certificate (SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT, and a
 * certificate-verify callback that accepts any chain, self-signed included:
 * TLS itself proves the client holds the key), so a client without a
 * certificate or with an unlisted one still completes the handshake; each
 * request then says whether a certificate was presented (req->client_cert)
 * and, if its fingerprint is listed, the client's name (req->client). kc
 * may be NULL (nobody is listed). ctx gets its own copy of the list (kc
 * stays the caller's). Sets a session id context so resumption works. Call
 * before ctx serves connections.
 */
int http_tls_ctx_request_clients(SSL_CTX *ctx,
				 const struct http_known_clients *kc,
				 struct err *e);

/*
 * A self-signed TLS certificate for `key` (the enclave's born key and
 * `nitro-keys tls new` share it): subject and issuer CN `cn` (UTF-8, at most
 * 64 characters), subjectAltName `sans` in OpenSSL's "DNS:a,IP:b" syntax,
 * valid from five minutes ago for `days`, a random positive 128-bit serial,
 * CA:FALSE, keyUsage digitalSignature, extendedKeyUsage `eku` (e.g.
 * "serverAuth"), subjectKeyIdentifier, SHA-256 signature. NULL on failure.
 */
X509 *http_tls_self_signed(EVP_PKEY *key, const char *cn, const char *sans,
			   long days, const char *eku);

/* SHA-256 of the certificate's DER SubjectPublicKeyInfo: what GET
 * /attestation binds and what a client pins. 0, or -ERR_CRYPTO. */
int http_tls_spki_sha256(X509 *cert, uint8_t out[32]);

/*
 * Builds a server SSL_CTX (TLS 1.2+) from the PKCS#12 keystore. Exactly one
 * of allow_any_client and known_clients_file must be set. Without
 * per_route_clients, a known-clients file makes a listed client certificate
 * mandatory at the handshake (Web3Signer's behaviour) and allow_any_client
 * asks for no certificate; with it, a certificate is requested but never
 * required (http_tls_ctx_request_clients).
 */
int http_tls_server_ctx(const struct http_tls_config *cfg, SSL_CTX **out,
			struct err *e);

/* ---- requests and replies ----------------------------------------------- */

enum http_method { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_HEAD,
		   HTTP_OTHER };

struct http_req {
	enum http_method method;
	char *path;          /* decoded path without query */
	char *query;         /* raw query or NULL */
	char *accept;        /* Accept header or NULL */
	char *content_type;  /* Content-Type header or NULL */
	uint8_t *body;       /* NUL-terminated copy */
	size_t body_len;
	char *origin;        /* Origin header or NULL */
	char *sec_fetch_site; /* Sec-Fetch-Site header or NULL */
	char *authorization; /* Authorization header or NULL (a credential:
			      * never logged; wiped when the request ends) */
	char client[64];     /* known-client name of the TLS peer, or "" */
	bool client_cert;    /* the TLS peer presented a certificate (any) */
	bool tls;            /* the request came over TLS */
};

struct http_reply;
struct http_pending;
typedef void (*http_defer_fn)(const struct http_req *req,
			      struct http_reply *reply, void *ctx);
typedef void (*http_park_fn)(struct http_pending *p, void *ctx);

struct http_reply {
	int status;
	const char *content_type; /* static string */
	char *body;               /* malloc'd */
	size_t body_len;
	/* Set by http_reply_defer: finish on the worker pool. */
	http_defer_fn defer_fn;
	void *defer_ctx;          /* owned by defer_fn (it must free it) */
	/* Set by http_reply_park: wait for an asynchronous event. */
	http_park_fn park_fn;
	void *park_ctx;
};

struct http_handlers {
	/* Runs on the event loop that received the request. Must not block
	 * on I/O; defer such work with http_reply_defer(). */
	void (*handle)(const struct http_req *req, struct http_reply *reply,
		       void *arg);
	void *arg;
};

/* Continue this request on the worker pool: fn(req, reply, ctx) fills the
 * reply there. fn always runs exactly once (also at shutdown, with the
 * reply then discarded), so it may own ctx. */
void http_reply_defer(struct http_reply *r, http_defer_fn fn, void *ctx);

/*
 * Park this request without holding a thread: right after the handler
 * returns, start(p, ctx) runs on the loop; it hands p to whatever will
 * complete the work (e.g. a database committer), which later calls
 * http_pending_resume(p, fn, ctx2) exactly once, from any thread. fn then
 * runs on the request's own loop and fills the reply (it also runs, with
 * the reply discarded, if the server shuts down first, so it may own ctx2).
 * The server waits for every parked request to resume before it frees.
 */
void http_reply_park(struct http_reply *r, http_park_fn start, void *ctx);
void http_pending_resume(struct http_pending *p, http_defer_fn fn, void *ctx);

/* Reply helpers: body is copied. */
void http_reply_text(struct http_reply *r, int status, const char *ctype,
		     const char *body);
/* {"error": msg} with application/json */
void http_reply_error(struct http_reply *r, int status, const char *msg);
/* Takes ownership of the JSON string. */
void http_reply_json_owned(struct http_reply *r, int status, char *json);

/* Web3Signer's Accept rule: true when any media range is application/json or
 * star/star (parameters ignored, case-insensitive). */
bool http_accept_wants_json(const char *accept);
/* True when the Content-Type's media type is application/json. */
bool http_content_type_is_json(const char *ctype);

/* ---- server ------------------------------------------------------------- */

struct http_server_config {
	struct http_addr listen;
	SSL_CTX *tls;              /* NULL for plain HTTP; server takes a ref */
	const char *host_allowlist; /* comma list, "*" = any */
	size_t max_body;           /* answered 413 above this */
	int loops;                 /* event-loop threads; 0 = cpu count */
	int workers;               /* deferred-work threads; 0 = 16 */
	int idle_timeout_s;
	/* Open connections, all loops together; past it a new connection is
	 * closed unserved. 0 = a quarter of physical memory divided by one
	 * connection's worst-case buffering, within [16, 4096]. */
	int max_conns;
	/* A secondary server (metrics) beside a main one: SIGINT/SIGTERM are
	 * not watched here (libevent gives a signal to one base only); the
	 * program stops it with http_server_stop. */
	bool no_signals;
	struct http_handlers handlers;
};

struct http_server;

int http_server_new(const struct http_server_config *cfg,
		    struct http_server **out, struct err *e);
/* Runs the loop until http_server_stop (thread-safe, signal-safe). */
int http_server_run(struct http_server *s);
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);
/* The bound TCP port (useful when 0 was asked). */
uint16_t http_server_port(const struct http_server *s);
/* The connection cap in force (cfg->max_conns or the derived value). */
int http_server_max_conns(const struct http_server *s);
/*
 * Turns TLS on for a server created without it (the enclave, once its key
 * exists): connections accepted from now on handshake with ctx (the server
 * takes a reference); those already open stay plain and their requests
 * carry req->tls false, so a handler can refuse them. Once only.
 */
int http_server_set_tls(struct http_server *s, SSL_CTX *ctx, struct err *e);

#endif
