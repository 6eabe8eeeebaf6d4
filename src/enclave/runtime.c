/*
 * runtime.c: the enclave's control server and the gate in front of the
 * signing API.
 *
 * The control server is one thread polling the listening socket and up to
 * ENCLAVE_MAX_CONTROL_CONNS connections. `init` and `reload` (KMS calls,
 * keystore KDFs: seconds) run on one worker thread at a time, so `status`
 * and `credentials` on other connections are answered meanwhile (status
 * then says "initialising" or "reloading"); the connection that sent the
 * frame is not read until the worker has written its reply, so its frames
 * stay in order, and another init/reload meanwhile is answered ok:false. Every connection has its own
 * control_decoder (enclave.h); a frame that is refused (garbage, over the
 * size cap, unknown type) kills only that connection: it is closed and the
 * others carry on. Each complete frame gets exactly one reply frame, written
 * with a send timeout so a host that stops reading cannot wedge the loop.
 *
 * Nothing from the host is trusted: frames are bounded and strictly parsed,
 * `init` is validated field by field (init.c), and a second `init` after a
 * successful one is refused without touching the running signer.
 *
 * `status` reports readiness, keys loaded, uptime, whether the API serves
 * TLS, the pushed credentials' Expiration and, once a signer exists, the
 * slashing database's health (checked on the control thread, which may
 * block on the database for as long as its own timeouts allow).
 *
 * `status` also has "clock": the clock guard's NSM-attested time
 * (clock.c), which this thread checks every few minutes while the guard is
 * on (the poll's timeout).
 *
 * `reload` (after init only) swaps the signer's key set (init.c).
 *
 * Init publishes in this order: the TLS identity (and the API server
 * switched to TLS), then the signer (an atomic pointer, release/acquire),
 * so the API gate (api.c) never serves a signature before init nor over
 * plain HTTP once a TLS key exists.
 */
#include "enclave/enclave_internal.h"
#include "signer/signer.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SEND_TIMEOUT_S 5
/* Failed keys status lists by name (the count covers them all). */
#define ENCLAVE_FAILED_KEYS_MAX 32

/*
 * What a control frame may cost, from the enclave's memory (an enclave has
 * no swap; 1 GiB is a typical size): init/reload frames up to 1/32 of it
 * (CONTROL_MAX_FRAME at most) and their JSON parse up to four times the
 * frame, 1/8 of memory at most. Beyond it the frame is refused, never the
 * process killed.
 */
static void memory_budgets(size_t asked, size_t *max_frame, size_t *budget)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	size_t mem = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize
					    : (size_t)1 << 30;
	size_t frame = asked ? asked : CONTROL_MAX_FRAME;
	if (frame > mem / 32)
		frame = mem / 32;
	*max_frame = frame;
	*budget = 4 * frame + 65536;
	if (*budget > mem / 8)
		*budget = mem / 8;
}

struct conn {
	int fd;
	struct control_decoder dec;
	/* Its init/reload runs on the worker: not read until it replied. */
	bool busy;
	uint8_t *pending;   /* bytes received after that frame */
	size_t pending_len;
};

int enclave_new(const struct enclave_opts *o, struct enclave **out,
		struct err *e)
{
	struct enclave *en = calloc(1, sizeof(*en));
	if (!en)
		return err_set(e, ERR_NOMEM, "out of memory");
	en->listen_fd = -1;
	en->stop_pipe[0] = en->stop_pipe[1] = -1;
	en->done_pipe[0] = en->done_pipe[1] = -1;
	pthread_mutex_init(&en->state_lock, NULL);
	enclave_rate_init(&en->rate);
	enclave_clock_init(&en->clock, o->clock_guard_epochs,
			   o->clock_check_interval_s);
	atomic_store(&en->job, CONTROL_REPLY);
	memory_budgets(o->max_frame, &en->max_frame, &en->parse_budget);
	en->started_us = clock_mono_us();
	en->allow_any_client = o->allow_any_client;
	en->signing_types = o->signing_types;
	en->accept_legacy = o->accept_legacy_records;
	en->signer_id = o->signer_id ? strdup(o->signer_id) : NULL;
	en->known_clients = o->known_clients;
	en->nsm_spec = o->nsm_spec ? strdup(o->nsm_spec) : NULL;
	en->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	en->tls_kms_key_id = o->tls_kms_key_id ? strdup(o->tls_kms_key_id) : NULL;
	en->slashing_db_url = o->slashing_db_url ? strdup(o->slashing_db_url) : NULL;
	if ((o->nsm_spec && !en->nsm_spec) || (o->ca_file && !en->ca_file) ||
	    (o->tls_kms_key_id && !en->tls_kms_key_id) ||
	    (o->slashing_db_url && !en->slashing_db_url) ||
	    (o->signer_id && !en->signer_id)) {
		enclave_free(en);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	if (pipe2(en->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    pipe2(en->done_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		enclave_free(en);
		return err_set(e, ERR_IO, "pipe: %s", strerror(errno));
	}
	en->api_tls_flags = o->api_tls_flags;
	en->creds = aws_creds_pushed_new(e);
	if (!en->creds) {
		enclave_free(en);
		return -ERR_NOMEM;
	}
	*out = en;
	return 0;
}

void enclave_free(struct enclave *en)
{
	if (!en)
		return;
	if (en->listen_fd >= 0)
		close(en->listen_fd);
	for (int i = 0; i < 2; i++) {
		if (en->stop_pipe[i] >= 0)
			close(en->stop_pipe[i]);
		if (en->done_pipe[i] >= 0)
			close(en->done_pipe[i]);
	}
	pthread_mutex_destroy(&en->state_lock);
	json_decref(en->failed_keys);
	signer_free(atomic_load(&en->signer));
	OPENSSL_cleanse(en->slashing.mac_key, sizeof(en->slashing.mac_key));
	enclave_tls_free(en->tls);
	enclave_init_cfg_clear(&en->cfg);
	pthread_mutex_destroy(&en->rate.lock);
	enclave_clock_destroy(&en->clock);
	aws_creds_provider_free(en->creds);
	free(en->nsm_spec);
	free(en->ca_file);
	free(en->tls_kms_key_id);
	free(en->slashing_db_url);
	free(en->signer_id);
	free(en);
}

void enclave_set_api_server(struct enclave *en, struct http_server *srv)
{
	en->api = srv;
}

int enclave_listen(struct enclave *en, const struct http_addr *addr,
		   struct err *e)
{
	if (en->listen_fd >= 0)
		return err_set(e, ERR_INVALID, "control address already bound");
	return http_listen_fd(addr, &en->listen_fd, e);
}

void enclave_stop(struct enclave *en)
{
	/* write(2) is async-signal-safe; a full pipe already says "stop". */
	ssize_t n = write(en->stop_pipe[1], "x", 1);
	(void)n;
}

struct signer *enclave_signer(struct enclave *en)
{
	return atomic_load_explicit(&en->signer, memory_order_acquire);
}

bool enclave_ready(const struct enclave *en)
{
	return atomic_load_explicit(&((struct enclave *)en)->signer,
				    memory_order_acquire) != NULL;
}

/* ---- messages ------------------------------------------------------------- */

static json_t *reply_error(const char *msg)
{
	json_t *r = control_msg_new(CONTROL_REPLY);
	if (r && (json_object_set_new(r, "ok", json_false()) < 0 ||
		  json_object_set_new(r, "error", json_string(msg)) < 0)) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* {"healthy": bool, "error"?: why}; only once there is a signer. */
static json_t *slashing_status(struct signer *s)
{
	struct err e = {0};
	bool up = signer_slashing_health(s, &e) == 0;
	json_t *o = json_pack("{s:b}", "healthy", up);
	if (o && !up && json_object_set_new(o, "error", json_string(e.msg)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * The image's access policy, for the operator and the host's /health:
 * client_auth "known_clients" (with their count), "any_client" (the image
 * says --tls-allow-any-client) or "none" (nothing may sign); the signer id
 * (null: taken from init, simulator only); the signing types allowed;
 * whether records without an encryption context are accepted; and the
 * largest init/reload frame this enclave takes (from its memory).
 */
static int add_policy_fields(const struct enclave *en, json_t *r)
{
	const char *auth = en->allow_any_client ? "any_client"
			   : en->known_clients ? "known_clients" : "none";
	char types[512];
	signer_signing_types_format(en->signing_types, types, sizeof(types));
	size_t nclients = http_known_clients_count(en->known_clients);
	if (json_object_set_new(r, "client_auth", json_string(auth)) < 0 ||
	    json_object_set_new(r, "known_clients",
				json_integer((json_int_t)nclients)) < 0 ||
	    json_object_set_new(r, "signer_id",
				en->signer_id ? json_string(en->signer_id)
					      : json_null()) < 0 ||
	    json_object_set_new(r, "signing_types", json_string(types)) < 0 ||
	    json_object_set_new(r, "legacy_records",
				json_boolean(en->accept_legacy)) < 0 ||
	    json_object_set_new(r, "max_frame",
				json_integer((json_int_t)en->max_frame)) < 0)
		return -ERR_NOMEM;
	return 0;
}

static json_t *handle_status(struct enclave *en)
{
	uint64_t up = (clock_mono_us() - en->started_us) / 1000000u;
	struct signer *s = enclave_signer(en);
	bool tls = en->api_tls_flags || (s && en->tls);
	char expiration[sizeof(en->creds_expiration)];
	pthread_mutex_lock(&en->state_lock);
	memcpy(expiration, en->creds_expiration, sizeof(expiration));
	size_t failed = en->keys_failed;
	json_t *failed_keys = en->failed_keys ? json_deep_copy(en->failed_keys)
					      : json_array();
	pthread_mutex_unlock(&en->state_lock);
	enum control_type job = atomic_load(&en->job);
	size_t keys = s ? signer_key_count(s) : 0;
	json_t *r = control_msg_new(CONTROL_REPLY);
	if (r && (add_policy_fields(en, r) < 0 ||
		  (s && json_object_set_new(r, "slashing",
					    slashing_status(s)) < 0) ||
		  json_object_set_new(r, "tls", json_boolean(tls)) < 0 ||
		  json_object_set_new(r, "credentials_expiration",
				      expiration[0] ? json_string(expiration)
						    : json_null()) < 0 ||
		  json_object_set_new(r, "initialising",
				      json_boolean(job == CONTROL_INIT)) < 0 ||
		  json_object_set_new(r, "reloading",
				      json_boolean(job == CONTROL_RELOAD)) < 0 ||
		  json_object_set_new(r, "ok", json_true()) < 0 ||
		  json_object_set_new(r, "ready",
				      json_boolean(enclave_ready(en))) < 0 ||
		  json_object_set_new(r, "keys_loaded",
				      json_integer((json_int_t)keys)) < 0 ||
		  json_object_set_new(r, "keys_failed",
				      json_integer((json_int_t)failed)) < 0 ||
		  json_object_set_new(r, "failed_keys", failed_keys) < 0 ||
		  json_object_set_new(r, "uptime_s",
				      json_integer((json_int_t)up)) < 0 ||
		  /* last: the host logs the first 500 bytes of a status */
		  json_object_set_new(r, "clock",
				      enclave_clock_status(&en->clock)) < 0)) {
		json_decref(r);
		return NULL;
	}
	return r;
}

static json_t *handle_credentials(struct enclave *en, const json_t *msg)
{
	struct err e = {0};
	const json_t *c = json_object_get(msg, "credentials");
	if (json_object_size(msg) != 2 || !json_is_object(c))
		return reply_error("credentials: want {\"type\",\"credentials\"}");
	if (aws_creds_push_json(en->creds, c, &e) < 0)
		return reply_error(e.msg);
	atomic_fetch_add(&en->creds_gen, 1);
	enclave_note_credentials(en, c);
	json_t *r = control_msg_new(CONTROL_REPLY);
	if (r && json_object_set_new(r, "ok", json_true()) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

void enclave_note_credentials(struct enclave *en, const json_t *creds)
{
	/* aws_creds_push_json accepted it, so Expiration is ISO-8601 or absent. */
	const char *x = json_string_value(json_object_get(creds, "Expiration"));
	pthread_mutex_lock(&en->state_lock);
	snprintf(en->creds_expiration, sizeof(en->creds_expiration), "%s",
		 x ? x : "");
	pthread_mutex_unlock(&en->state_lock);
}

/* The keys a report says did not load (init.c logged each by pubkey), kept
 * for status. */
static void note_failed_keys(struct enclave *en, const json_t *report)
{
	json_t *failed = json_array();
	size_t n = 0, i;
	json_t *k;
	json_array_foreach(report, i, k) {
		if (json_is_true(json_object_get(k, "loaded")))
			continue;
		const char *pk = json_string_value(json_object_get(k, "pubkey"));
		const char *why = json_string_value(json_object_get(k, "error"));
		if (failed && n++ < ENCLAVE_FAILED_KEYS_MAX)
			json_array_append_new(failed, json_pack("{s:s,s:s}", "pubkey",
								pk ? pk : "?", "error",
								why ? why : "?"));
	}
	pthread_mutex_lock(&en->state_lock);
	json_decref(en->failed_keys);
	en->failed_keys = failed;
	en->keys_failed = n;
	pthread_mutex_unlock(&en->state_lock);
}

/* {"type":"reply","ok":true,"keys_loaded":N,"keys":report} (takes report). */
static json_t *reply_keys(size_t loaded, json_t *report)
{
	json_t *r = control_msg_new(CONTROL_REPLY);
	if (!r || json_object_set_new(r, "ok", json_true()) < 0 ||
	    json_object_set_new(r, "keys_loaded",
				json_integer((json_int_t)loaded)) < 0 ||
	    json_object_set_new(r, "keys", report) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

static int add_tls_fields(json_t *r, const struct enclave_tls *t)
{
	char hex[2 + 64 + 1];
	hex_encode(t->spki_sha256, sizeof(t->spki_sha256), hex);
	if (json_object_set_new(r, "tls_cert_pem", json_string(t->cert_pem)) < 0 ||
	    json_object_set_new(r, "tls_spki_sha256", json_string(hex + 2)) < 0)
		return -ERR_NOMEM;
	return 0;
}

/* The TLS identity goes live before the signer does. */
static int publish_tls(struct enclave *en, struct enclave_tls *t,
		       struct err *e)
{
	if (en->api)
		TRY(http_server_set_tls(en->api, t->ctx, e));
	en->tls = t;
	return 0;
}

static void init_result_free(struct enclave_init_result *res)
{
	enclave_tls_free(res->tls);
	signer_free(res->signer);
	enclave_init_cfg_clear(&res->cfg);
}

static json_t *handle_init(struct enclave *en, const json_t *msg)
{
	if (enclave_ready(en))
		return reply_error("already initialised");
	struct err e = {0};
	struct enclave_init_result res;
	uint64_t gen = atomic_load(&en->creds_gen);
	if (enclave_init_run(en, msg, &res, &e) < 0) {
		log_error("init refused: %s", e.msg);
		return reply_error(e.msg);
	}
	size_t loaded = signer_key_count(res.signer);
	note_failed_keys(en, res.report);
	json_t *r = reply_keys(loaded, res.report);
	if (r && res.tls && add_tls_fields(r, res.tls) < 0) {
		json_decref(r);
		r = NULL;
	}
	if (r && res.tls && publish_tls(en, res.tls, &e) < 0) {
		json_decref(r);
		r = reply_error(e.msg);
		log_error("init refused: %s", e.msg);
		init_result_free(&res);
		return r;
	}
	if (!r) {
		init_result_free(&res);
		return NULL;
	}
	/* Init's credentials become the enclave's, unless a `credentials`
	 * frame brought newer ones meanwhile (init checked them already). */
	const json_t *creds = json_object_get(msg, "credentials");
	if (atomic_load(&en->creds_gen) == gen &&
	    aws_creds_push_json(en->creds, creds, &e) == 0)
		enclave_note_credentials(en, creds);
	/* A DynamoDB slashing table opens now that the credentials are the
	 * enclave's; a failure is logged and shown by /healthcheck, and
	 * slashable requests are refused until it opens (retried). */
	if (en->slashing.on) {
		struct err se = {0};
		if (signer_slashing_health(res.signer, &se) < 0)
			log_error("slashing protection: %s", se.msg);
	}
	/* The TLS identity is live (publish_tls); the signer goes last. */
	en->cfg = res.cfg;
	atomic_store_explicit(&en->signer, res.signer, memory_order_release);
	log_info("init: ready with %zu keys%s%s", loaded,
		 en->keys_failed ? " (some failed: see above)" : "",
		 res.tls ? ", the API on TLS with the enclave's key" : "");
	return r;
}

static json_t *handle_reload(struct enclave *en, const json_t *msg)
{
	struct err e = {0};
	json_t *report = NULL;
	if (!enclave_ready(en))
		return reply_error("not initialised");
	if (enclave_reload_run(en, msg, &report, &e) < 0) {
		log_error("reload refused: %s", e.msg);
		return reply_error(e.msg);
	}
	size_t loaded = signer_key_count(enclave_signer(en));
	note_failed_keys(en, report);
	log_info("reload: %zu keys", loaded);
	return reply_keys(loaded, report);
}

json_t *enclave_handle(struct enclave *en, const struct control_msg *msg)
{
	switch (msg->type) {
	case CONTROL_STATUS:
		return handle_status(en);
	case CONTROL_INIT:
		return handle_init(en, msg->json);
	case CONTROL_CREDENTIALS:
		return handle_credentials(en, msg->json);
	case CONTROL_RELOAD:
		return handle_reload(en, msg->json);
	case CONTROL_REPLY:
		break;
	}
	return reply_error("the host does not send replies");
}

/* ---- the control server ------------------------------------------------------- */

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Encodes and sends one reply (NULL: out of memory); -1 on failure. */
static int send_reply(int fd, json_t *reply)
{
	uint8_t *frame = NULL;
	size_t flen = 0;
	struct err e = {0};
	int enc = reply ? control_encode(reply, &frame, &flen, &e) : -1;
	json_decref(reply);
	int sent = enc == 0 ? send_all(fd, frame, flen) : -1;
	free(frame);
	return sent;
}

static void *worker_main(void *arg)
{
	struct enclave *en = arg;
	struct control_msg m = {atomic_load(&en->job), en->job_msg};
	uint8_t ok = send_reply(en->job_fd, enclave_handle(en, &m)) == 0;
	control_wipe_strings(json_object_get(en->job_msg, "credentials"));
	json_decref(en->job_msg);
	en->job_msg = NULL;
	atomic_store(&en->job, CONTROL_REPLY);
	/* The pipe has room: one byte per job, read before the next starts. */
	ssize_t n = write(en->done_pipe[1], &ok, 1);
	(void)n;
	return NULL;
}

/* Hands an init/reload to the worker (taking msg); -1 when it cannot. */
static int start_job(struct enclave *en, struct conn *c,
		     struct control_msg *msg)
{
	en->job_msg = msg->json;
	en->job_fd = c->fd;
	atomic_store(&en->job, msg->type);
	if (pthread_create(&en->worker, NULL, worker_main, en) != 0) {
		atomic_store(&en->job, CONTROL_REPLY);
		en->job_msg = NULL;
		json_decref(msg->json);
		return send_reply(c->fd, reply_error("cannot start a worker"));
	}
	en->worker_running = true;
	c->busy = true;
	return 0;
}

static bool is_job(enum control_type t)
{
	return t == CONTROL_INIT || t == CONTROL_RELOAD;
}

/*
 * Handles every complete frame in buf; -1 closes the connection. Stops at
 * an init/reload given to the worker, keeping the bytes after it.
 */
static int conn_feed(struct enclave *en, struct conn *c, const uint8_t *buf,
		     size_t n)
{
	struct control_msg msg;
	struct err e = {0};
	int rc;
	while ((rc = control_decode(&c->dec, &buf, &n, &msg, &e)) > 0) {
		if (is_job(msg.type) && !en->worker_running) {
			if (start_job(en, c, &msg) < 0)
				return -1;
			if (!c->busy || n == 0)
				continue;
			if (!(c->pending = malloc(n)))
				return -1;
			memcpy(c->pending, buf, n);
			c->pending_len = n;
			return 0;
		}
		json_t *reply = is_job(msg.type)
			? reply_error("an init or reload is in progress")
			: enclave_handle(en, &msg);
		control_wipe_strings(json_object_get(msg.json, "credentials"));
		json_decref(msg.json);
		if (send_reply(c->fd, reply) < 0)
			return -1;
	}
	if (rc < 0) {
		log_warn("control connection closed: %s", e.msg);
		return -1;
	}
	return 0;
}

static void pending_free(uint8_t *p, size_t len)
{
	if (p)
		OPENSSL_cleanse(p, len);
	free(p);
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	control_decoder_free(&c->dec);
	pending_free(c->pending, c->pending_len);
	c->pending = NULL;
	c->pending_len = 0;
	c->fd = -1;
}

/* The worker is done: its connection is read again, from what was kept. */
static void job_done(struct enclave *en, struct conn *conns, size_t nconns)
{
	uint8_t ok = 0;
	ssize_t n = read(en->done_pipe[0], &ok, 1);
	if (n != 1)
		return;
	pthread_join(en->worker, NULL);
	en->worker_running = false;
	for (size_t i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		if (!c->busy)
			continue;
		c->busy = false;
		uint8_t *p = c->pending;
		size_t len = c->pending_len;
		c->pending = NULL;
		c->pending_len = 0;
		if (!ok || (len && conn_feed(en, c, p, len) < 0))
			conn_close(c);
		pending_free(p, len);
	}
}

static void accept_one(struct enclave *en, struct conn *conns, size_t *nconns)
{
	int fd = accept4(en->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (*nconns >= ENCLAVE_MAX_CONTROL_CONNS) {
		log_warn("control: too many connections, refusing one");
		close(fd);
		return;
	}
	struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct conn *c = &conns[(*nconns)++];
	*c = (struct conn){.fd = fd}; /* a reused slot keeps nothing */
	control_decoder_init(&c->dec, en->max_frame);
	control_decoder_set_budget(&c->dec, en->parse_budget);
}

/*
 * All connections together may buffer two frames' worth: one host sending
 * init while another waits is normal, sixteen half-sent 16 MiB frames are
 * not. The connection that just grew past it is closed.
 */
static bool over_budget(const struct enclave *en, const struct conn *conns,
			size_t nconns)
{
	size_t total = 0;
	for (size_t i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			total += conns[i].dec.body.cap + conns[i].pending_len;
	if (total <= 2 * en->max_frame)
		return false;
	log_warn("control: %zu bytes buffered across connections, over the "
		 "%zu byte budget: closing one", total, 2 * en->max_frame);
	return true;
}

/*
 * The periodic NSM time check (clock.c), on this thread, while the guard
 * is on and the signer runs (before init there is nothing to guard, and
 * init samples the time itself). -1: poll without a timeout.
 */
static int clock_timeout(struct enclave *en)
{
	int ms = -1;
	if (en->clock.epochs && enclave_ready(en) &&
	    enclave_clock_due(&en->clock, &ms))
		ms = 0;
	return ms;
}

static void clock_tick(struct enclave *en)
{
	int ms;
	struct err e = {0};
	if (en->clock.epochs && enclave_ready(en) &&
	    enclave_clock_due(&en->clock, &ms))
		(void)enclave_clock_check(en, &e); /* noted; status shows it */
}

int enclave_run(struct enclave *en)
{
	if (en->listen_fd < 0)
		return -ERR_INVALID;
	struct conn conns[ENCLAVE_MAX_CONTROL_CONNS] = {0};
	size_t nconns = 0;
	uint8_t buf[16 * 1024];
	for (;;) {
		struct pollfd p[ENCLAVE_MAX_CONTROL_CONNS + 3];
		p[0] = (struct pollfd){.fd = en->stop_pipe[0], .events = POLLIN};
		p[1] = (struct pollfd){.fd = en->listen_fd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = en->done_pipe[0], .events = POLLIN};
		for (size_t i = 0; i < nconns; i++) /* poll skips fd -1 */
			p[i + 3] = (struct pollfd){
				.fd = conns[i].busy ? -1 : conns[i].fd,
				.events = POLLIN};
		if (poll(p, nconns + 3, clock_timeout(en)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		clock_tick(en);
		if (p[0].revents)
			break;
		if (p[2].revents)
			job_done(en, conns, nconns);
		for (size_t i = 0; i < nconns; i++) {
			if (!p[i + 3].revents || conns[i].busy || conns[i].fd < 0)
				continue;
			ssize_t r = recv(conns[i].fd, buf, sizeof(buf), 0);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			/* A connection whose init/reload runs is never closed
			 * here: the worker replies on its descriptor. */
			if (r <= 0 || conn_feed(en, &conns[i], buf, (size_t)r) < 0 ||
			    (!conns[i].busy && over_budget(en, conns, nconns)))
				conn_close(&conns[i]);
			if (r > 0)
				OPENSSL_cleanse(buf, (size_t)r);
		}
		size_t k = 0; /* compact the closed ones out */
		for (size_t i = 0; i < nconns; i++)
			if (conns[i].fd >= 0)
				conns[k++] = conns[i];
		for (size_t i = k; i < nconns; i++) /* no stale copies */
			conns[i] = (struct conn){.fd = -1};
		nconns = k;
		if (p[1].revents & POLLIN)
			accept_one(en, conns, &nconns);
	}
	if (en->worker_running) { /* an init/reload finishes (bounded by
				   * its own timeouts) before we return */
		pthread_join(en->worker, NULL);
		en->worker_running = false;
		uint8_t ok;
		ssize_t n = read(en->done_pipe[0], &ok, 1);
		(void)n;
	}
	for (size_t i = 0; i < nconns; i++)
		conn_close(&conns[i]);
	return 0;
}
