/*
 * health.c: `health_listen`: GET /health for load balancers and operators.
 *
 * 200 {"status":"UP",...} while the enclave is initialised and its last
 * status check passed; 200 {"status":"DEGRADED",...} when it is, but some
 * keys failed to load (failed_keys names them and says why: it serves,
 * without them); else 503 {"status":"DOWN","reason":..}. The
 * numbers come from struct host_health, which run.c updates on the same
 * loop thread, so no locking. Nothing here reads a request body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "host/watchdog.h"

struct host_health_server {
	struct evhttp *http;
	const struct host_health *h;
	int fd;
	struct http_addr addr;
};

static json_t *health_json(const struct host_health *h, bool up)
{
	json_t *en = json_object();
	if (!en)
		return NULL;
	if (h->runner_nitro && h->enclave_id[0])
		json_object_set_new(en, "enclave_id",
				    json_string(h->enclave_id));
	else if (!h->runner_nitro && h->pid > 0)
		json_object_set_new(en, "pid", json_integer(h->pid));
	json_object_set_new(en, "ready", json_boolean(h->ready));
	json_object_set_new(en, "keys_loaded", json_integer(h->keys_loaded));
	json_object_set_new(en, "keys_failed", json_integer(h->keys_failed));
	if (h->keys_failed > 0 && h->failed_keys)
		json_object_set(en, "failed_keys", h->failed_keys);
	json_object_set_new(en, "restarts", json_integer(h->restarts));
	if (h->last_status_ms)
		json_object_set_new(en, "last_status_age_s",
				    json_integer((host_now_ms() -
						  h->last_status_ms) / 1000));
	else
		json_object_set_new(en, "last_status_age_s", json_null());
	bool degraded = up && h->keys_failed > 0;
	json_t *o = json_pack("{s:s,s:o}", "status",
			      !up ? "DOWN" : degraded ? "DEGRADED" : "UP",
			      "enclave", en);
	if (!o)
		return NULL;
	if (h->creds_expiration) {
		char iso[32];
		host_iso8601(h->creds_expiration, iso);
		json_object_set_new(o, "credentials_expiration",
				    json_string(iso));
	} else {
		json_object_set_new(o, "credentials_expiration", json_null());
	}
	if (!up)
		json_object_set_new(o, "reason", json_string(h->reason[0]
							      ? h->reason
							      : "unknown"));
	else if (degraded)
		json_object_set_new(o, "reason",
				    json_string("some keys failed to load: see "
						"enclave.failed_keys"));
	return o;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct host_health_server *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	evhttp_add_header(hdr, "Content-Type", "application/json");
	bool is_health = uri && (strcmp(uri, "/health") == 0 ||
				 strncmp(uri, "/health?", 8) == 0);
	if (!is_health) {
		evbuffer_add_printf(out, "{\"error\":\"not found\"}");
		evhttp_send_reply(req, 404, "Not Found", NULL);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evbuffer_add_printf(out, "{\"error\":\"method not allowed\"}");
		evhttp_send_reply(req, 405, "Method Not Allowed", NULL);
		return;
	}
	const struct host_health *h = s->h;
	bool up = h->started && h->initialised && h->status_ok && h->ready;
	json_t *o = health_json(h, up);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!text) {
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	evbuffer_add(out, text, strlen(text));
	free(text);
	if (up)
		evhttp_send_reply(req, 200, "OK", NULL);
	else
		evhttp_send_reply(req, 503, "Service Unavailable", NULL);
}

int host_health_new(struct event_base *base, const struct http_addr *addr,
		    const struct host_health *h,
		    struct host_health_server **out, struct err *e)
{
	*out = NULL;
	struct host_health_server *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, ERR_NOMEM, "health: out of memory");
	s->h = h;
	s->fd = -1;
	s->addr = *addr;
	int rc = http_listen_fd(addr, &s->fd, e);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->http = evhttp_new(base);
	if (!s->http || !evhttp_accept_socket_with_handle(s->http, s->fd)) {
		if (s->http)
			evhttp_free(s->http);
		close(s->fd);
		free(s);
		return err_set(e, ERR_IO, "health: cannot serve");
	}
	evhttp_set_timeout(s->http, 10);
	evhttp_set_max_body_size(s->http, 4096);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
				   EVHTTP_REQ_POST);
	evhttp_set_gencb(s->http, on_request, s);
	*out = s;
	return 0;
}

void host_health_free(struct host_health_server *s)
{
	if (!s)
		return;
	evhttp_free(s->http); /* closes the bound socket too */
	if (s->addr.kind == HTTP_ADDR_UNIX)
		unlink(s->addr.path);
	free(s);
}
