/*
 * routes.c: the signer's HTTP API as a table, like Redis's command table:
 * a row per route (path or prefix, methods, who may call it, handler,
 * whether this signer serves it), then the embedding program's rows
 * (signer_options.extra_routes: the enclave's GET /attestation). One
 * dispatcher applies the same rules to every row: 404 when no row matches
 * (or the row is not served here), 405 for a method the row does not take,
 * then the caller check, then the handler.
 *
 * Who may call: health rows are open (a load balancer's HTTPS check has no
 * client certificate); everything that signs, lists keys or changes state
 * is SIGNER_ROUTE_CLIENT. With per-route authentication (signer.h, LISTED)
 * such a row answers 401 without a client certificate and 403 with an
 * unlisted one; TRANSPORT (standalone: the handshake decided) and ANY (the
 * image allows any TLS client) let every caller through.
 */
#include "signer/signer_internal.h"

#include <string.h>

#define M(x) SIGNER_METHOD(x)
#define M_GET (M(HTTP_GET) | M(HTTP_HEAD))

static bool has_reload(const struct signer *s) { return s->http_reload; }
static bool has_slashing(const struct signer *s) { return s->slashing_enabled; }
static bool has_keymanager(const struct signer *s) { return s->km_enabled; }

static const struct row {
	const char *path;
	bool prefix;
	unsigned methods;
	enum signer_route_access access;
	void (*fn)(struct signer *, const struct http_req *, struct http_reply *);
	bool (*served)(const struct signer *); /* NULL: always */
} rows[] = {
	{SIGN_PREFIX, true, M(HTTP_POST), SIGNER_ROUTE_CLIENT, signer_route_sign,
	 NULL},
	{SIGN_BATCH_PATH, false, M(HTTP_POST), SIGNER_ROUTE_CLIENT,
	 signer_route_sign_batch, NULL},
	{"/api/v1/eth2/publicKeys", false, M_GET, SIGNER_ROUTE_CLIENT,
	 signer_route_public_keys, NULL},
	{"/api/v1/eth2/highWatermark", false, M_GET, SIGNER_ROUTE_CLIENT,
	 signer_route_watermark, has_slashing},
	{"/upcheck", false, M_GET, SIGNER_ROUTE_OPEN, signer_route_upcheck, NULL},
	{"/healthcheck", false, M_GET, SIGNER_ROUTE_OPEN, signer_route_health,
	 NULL},
	{"/reload", false, M_GET | M(HTTP_POST), SIGNER_ROUTE_CLIENT,
	 signer_route_reload, has_reload},
	/* the Keymanager API: its own bearer token on top (keymanager.c) */
	{"/eth/v1/keystores", false, M_GET | M(HTTP_POST) | M(HTTP_DELETE),
	 SIGNER_ROUTE_CLIENT, signer_route_keystores, has_keymanager},
};

static bool path_matches(const char *path, const char *want, bool prefix)
{
	return prefix ? strncmp(path, want, strlen(want)) == 0
		      : strcmp(path, want) == 0;
}

/* The caller check: true when the request may go on, else r is the 401/403. */
static bool authorised(const struct signer *s, enum signer_route_access access,
		       const struct http_req *req, struct http_reply *r)
{
	if (access == SIGNER_ROUTE_OPEN ||
	    s->client_auth != SIGNER_CLIENTS_LISTED || req->client[0])
		return true;
	if (req->client_cert)
		http_reply_error(r, 403, "client certificate not authorised");
	else
		http_reply_error(r, 401, "client certificate required");
	return false;
}

/* The method and caller checks of a matched row; true: run its handler. */
static bool admitted(const struct signer *s, unsigned methods,
		     enum signer_route_access access, const struct http_req *req,
		     struct http_reply *r)
{
	if (!(methods & M(req->method))) {
		http_reply_error(r, 405, "method not allowed");
		return false;
	}
	return authorised(s, access, req, r);
}

static void dispatch(struct signer *s, const struct http_req *req,
		     struct http_reply *r)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *rt = &rows[i];
		if (!path_matches(req->path, rt->path, rt->prefix))
			continue;
		if (rt->served && !rt->served(s))
			break; /* not served here: 404 */
		if (admitted(s, rt->methods, rt->access, req, r))
			rt->fn(s, req, r);
		return;
	}
	for (size_t i = 0; i < s->nextra_routes; i++) {
		const struct signer_route *x = &s->extra_routes[i];
		if (!path_matches(req->path, x->path, x->prefix))
			continue;
		if (admitted(s, x->methods, x->access, req, r))
			x->fn(x->ctx, req, r);
		return;
	}
	http_reply_error(r, 404, "not found");
}

static void handle(const struct http_req *req, struct http_reply *r, void *arg)
{
	struct signer *s = arg;
	dispatch(s, req, r);
	if (!r->defer_fn && !r->park_fn)
		signer_count_status(s, r->status);
}

struct http_handlers signer_http_handlers(struct signer *s)
{
	struct http_handlers h = {handle, s};
	return h;
}
