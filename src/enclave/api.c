/*
 * api.c: the gate in front of the signing API, and GET /attestation.
 *
 * Before init every route answers 503 {"error":"not initialised"} (the
 * listener is plain HTTP then: there is no key to serve TLS with yet).
 * Init sets the TLS identity and switches the server to TLS before it
 * publishes the signer, so once the enclave has a TLS key a request that
 * still arrives on a plain connection (one accepted before the switch) is
 * refused with 403 {"error":"TLS required"}; nothing is signed over plain
 * HTTP and nothing at all before init.
 *
 * GET /attestation?nonce=HEX, a row the enclave adds to the signer's route
 * table (open to every caller), proves which enclave holds the TLS key: an NSM
 * attestation document with user_data = SHA-256(the certificate's SPKI DER)
 * and the caller's nonce (1..64 bytes), returned raw (application/cbor). A
 * token bucket shared by all connections (ATTEST_RATE per second, burst
 * ATTEST_BURST) bounds the NSM work; beyond it 429. The NSM call runs on the
 * http worker pool, never on an event loop.
 */
#include "enclave/enclave_internal.h"
#include "signer/signer.h"

#include <stdlib.h>
#include <string.h>

#define ATTEST_RATE 10.0
#define ATTEST_BURST 10.0
#define NONCE_MAX 64

void enclave_rate_init(struct enclave_rate *r)
{
	pthread_mutex_init(&r->lock, NULL);
	r->tokens = ATTEST_BURST;
	r->last_us = clock_mono_us();
}

static bool rate_take(struct enclave_rate *r)
{
	pthread_mutex_lock(&r->lock);
	uint64_t now = clock_mono_us();
	r->tokens += (double)(now - r->last_us) * ATTEST_RATE / 1e6;
	if (r->tokens > ATTEST_BURST)
		r->tokens = ATTEST_BURST;
	r->last_us = now;
	bool ok = r->tokens >= 1.0;
	if (ok)
		r->tokens -= 1.0;
	pthread_mutex_unlock(&r->lock);
	return ok;
}

/* The nonce parameter: 2..128 hex digits (no 0x), exactly once. */
static int parse_nonce(const char *query, uint8_t *out, size_t *len)
{
	const char *v = NULL;
	size_t vlen = 0;
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n >= 6 && strncmp(p, "nonce=", 6) == 0) {
			if (v)
				return -ERR_INVALID;
			v = p + 6;
			vlen = n - 6;
		}
		p = amp ? amp + 1 : NULL;
	}
	if (!v || vlen < 2 || vlen > 2 * NONCE_MAX)
		return -ERR_INVALID;
	/* core's strict hex reader wants the 0x form. */
	char hex[2 + 2 * NONCE_MAX + 1] = "0x";
	memcpy(hex + 2, v, vlen);
	hex[2 + vlen] = '\0';
	uint8_t *b = NULL;
	if (hex_decode_alloc(hex, NONCE_MAX, &b, len, NULL, "nonce") < 0)
		return -ERR_INVALID;
	int rc = *len >= 1 ? 0 : -ERR_INVALID;
	if (rc == 0)
		memcpy(out, b, *len);
	free(b);
	return rc;
}

struct attest_job {
	struct enclave *en;
	uint8_t nonce[NONCE_MAX];
	size_t nonce_len;
};

/* On the worker pool: the NSM may take a while. */
static void attest_finish(const struct http_req *req, struct http_reply *r,
			  void *ctx)
{
	(void)req;
	struct attest_job *j = ctx;
	struct nsm *nsm = NULL;
	struct err e = {0};
	uint8_t *doc = NULL;
	size_t doc_len = 0;
	struct nsm_attest_req a = {
		.user_data = j->en->tls->spki_sha256,
		.user_data_len = sizeof(j->en->tls->spki_sha256),
		.nonce = j->nonce,
		.nonce_len = j->nonce_len,
	};
	int rc = nsm_open(j->en->nsm_spec, &nsm, &e);
	if (rc == 0)
		rc = nsm_attest(nsm, &a, &doc, &doc_len, &e);
	nsm_close(nsm);
	free(j);
	if (rc < 0) {
		log_error("GET /attestation: %s", e.msg);
		http_reply_error(r, 500, "attestation failed");
		return;
	}
	r->status = 200;
	r->content_type = "application/cbor";
	r->body = (char *)doc;
	r->body_len = doc_len;
}

/* The signer's route table calls this for its GET /attestation row. */
static void handle_attestation(void *ctx, const struct http_req *req,
			       struct http_reply *r)
{
	struct enclave *en = ctx;
	if (!en->tls) {
		http_reply_error(r, 404, "no TLS key: attestation not available");
		return;
	}
	struct attest_job *j = calloc(1, sizeof(*j));
	if (!j) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	if (parse_nonce(req->query, j->nonce, &j->nonce_len) < 0) {
		free(j);
		http_reply_error(r, 400, "nonce: required, 1..64 bytes as 2..128 "
			     "hex digits");
		return;
	}
	if (!rate_take(&en->rate)) {
		free(j);
		http_reply_error(r, 429, "too many attestation requests");
		return;
	}
	j->en = en;
	http_reply_defer(r, attest_finish, j);
}

static void api_handle(const struct http_req *req, struct http_reply *r,
		       void *arg)
{
	struct enclave *en = arg;
	struct signer *s = enclave_signer(en);
	if (!s) {
		http_reply_error(r, 503, "not initialised");
		return;
	}
	/* en->tls is written before the signer is published (release). The
	 * http server refuses these too; this is the enclave's own word. */
	if ((en->tls || en->api_tls_flags) && !req->tls) {
		http_reply_error(r, 403, "TLS required");
		return;
	}
	struct http_handlers h = signer_http_handlers(s);
	h.handle(req, r, h.arg);
}

struct signer_route enclave_attestation_route(struct enclave *en)
{
	struct signer_route r = {
		.path = "/attestation",
		.methods = SIGNER_METHOD(HTTP_GET),
		.access = SIGNER_ROUTE_OPEN, /* it proves the image to anyone */
		.fn = handle_attestation,
		.ctx = en,
	};
	return r;
}

struct http_handlers enclave_api_handlers(struct enclave *en)
{
	struct http_handlers h = {api_handle, en};
	return h;
}
