/*
 * server.c: the HTTP/1.1 server. One event loop per core (http.h), each a
 * thread with its own evhttp and connections, taking turns to accept on the
 * shared listening socket. evhttp parses a request on its loop; we check
 * the Host allowlist (failing closed), TLS and the body size there, copy
 * what handlers need into a struct http_req and call the handler on that
 * loop. It answers inline (BLS signing included: CPU only), parks the
 * request until an asynchronous event (a slashing group commit) resumes
 * it, or defers it to the worker pool (work that may block on I/O).
 * Parked and deferred replies come back through the loop's completion
 * queue and an eventfd; the loop sends them.
 *
 * evhttp keeps a request alive while a reply is pending, and detaches it if
 * the client goes away, so a late reply is safe (it is simply dropped).
 * The queue is bounded: when it is full the server answers 503 at once
 * rather than letting latency grow without limit.
 *
 * Connection cap. Each open connection may buffer up to evhttp's body cap
 * plus headers plus TLS records, so the number of them is bounded
 * (max_conns, by default what a quarter of physical memory allows), counted
 * across all loops with one atomic. libevent 2.1.12 has no connection limit
 * and shows us a new connection only through the bufferevent callback
 * (make_bev), before the connection object exists. So:
 *   - make_bev counts the connection, creates its bufferevent (plain or
 *     TLS, always ours), takes a reference on it, queues it on the loop's
 *     intake list and activates the loop's intake event;
 *   - the intake event has a higher priority (0) than everything else on
 *     the loop (1), so it runs before the new socket's first read: nothing
 *     is parsed and no TLS handshake work is done for a connection yet.
 *     There, the bufferevent's callback argument is the evhttp connection
 *     (evhttp installs it right after make_bev); intake hangs a close
 *     callback on it, which evhttp calls exactly once when it frees an
 *     incoming connection, and that decrements the count. A connection
 *     that made the count exceed the cap is freed at once (the client sees
 *     the socket close, without a byte of reply); the others proceed;
 *   - if evhttp dropped the connection between make_bev and intake (an
 *     allocation failure while accepting), the bufferevent has no callback
 *     any more and intake decrements itself. The reference taken in
 *     make_bev keeps the bufferevent (and its socket) alive until then.
 * So the server owns each connection's close callback: nothing else may
 * set one. It needs nothing on the SSL_CTX, which may come from elsewhere
 * (http_server_set_tls). Refusals are logged at most once per 10 s.
 */
#include "http/http.h"
#include "http/http_internal.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define QUEUE_MAX 4096
#define HEADERS_MAX (64 * 1024)
/* A connection's TLS state and read/write records, roughly. */
#define TLS_CONN_BYTES (64 * 1024)
#define CONNS_MIN 16
#define CONNS_MAX 4096
#define REFUSAL_LOG_INTERVAL_US (10 * 1000000ull)

struct http_loop;

struct job {
	struct job *next;
	struct http_loop *loop;
	struct evhttp_request *evreq;
	struct http_req req;
	struct http_reply reply;
};

struct job_queue {
	struct job *head, *tail;
	size_t len;
};

/* A connection make_bev created and the intake event has not seen yet. */
struct fresh_conn {
	struct bufferevent *bev; /* holds a reference until intake */
	bool refuse;             /* it made the count exceed the cap */
};

struct http_loop {
	struct http_server *s;
	struct event_base *base;
	struct evhttp *http;
	struct event *wake;     /* completion queue has replies (wake_fd) */
	int wake_fd;            /* eventfd */
	pthread_mutex_t done_lock; /* done, wake_due */
	struct job_queue done;
	bool wake_due;
	struct evconnlistener *listener;
	struct event *intake;   /* priority 0: admits or refuses fresh */
	struct fresh_conn *fresh;
	size_t nfresh, fresh_cap;
	int idx;
	pthread_t thread;
	bool thread_started;
};

struct http_server {
	/* Set at creation or once later by http_server_set_tls (NULL ->
	 * ctx only, never replaced), so a loop reading it needs no lock. */
	_Atomic(SSL_CTX *) tls;
	char **allow;           /* NULL-terminated; NULL = any host */
	size_t max_body;
	struct http_handlers h;
	uint16_t port;
	int listen_fd;
	struct event *sigint, *sigterm; /* on loop 0 */
	atomic_bool stop_requested;
	atomic_int acceptor;    /* index of the loop whose turn it is */
	int max_conns;
	atomic_int conns;       /* open connections, all loops */
	_Atomic uint64_t refusal_logged_us;

	int nloops;
	struct http_loop *loops;

	pthread_mutex_t lock;   /* pending, stopping */
	pthread_cond_t cond;
	struct job_queue pending;
	bool stopping;
	int nworkers;
	pthread_t *workers;
	atomic_int parked;      /* requests waiting for http_pending_resume */
};

/* ---- reply helpers -------------------------------------------------------- */

void http_reply_text(struct http_reply *r, int status, const char *ctype,
		     const char *body)
{
	free(r->body);
	r->status = status;
	r->content_type = ctype;
	r->body = strdup(body ? body : "");
	r->body_len = r->body ? strlen(r->body) : 0;
}

void http_reply_json_owned(struct http_reply *r, int status, char *json)
{
	free(r->body);
	r->status = status;
	r->content_type = "application/json; charset=utf-8";
	r->body = json;
	r->body_len = json ? strlen(json) : 0;
}

void http_reply_defer(struct http_reply *r, http_defer_fn fn, void *ctx)
{
	r->defer_fn = fn;
	r->defer_ctx = ctx;
}

void http_reply_park(struct http_reply *r, http_park_fn start, void *ctx)
{
	r->park_fn = start;
	r->park_ctx = ctx;
}

void http_reply_error(struct http_reply *r, int status, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg ? msg : "");
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	http_reply_json_owned(r, status, s);
}

/* ---- header rules ---------------------------------------------------------- */

static bool media_is(const char *start, size_t len, const char *want)
{
	while (len && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	return len == strlen(want) && strncasecmp(start, want, len) == 0;
}

bool http_accept_wants_json(const char *accept)
{
	if (!accept)
		return false;
	const char *p = accept;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *semi = memchr(p, ';', len);
		size_t mlen = semi ? (size_t)(semi - p) : len;
		if (media_is(p, mlen, "application/json") ||
		    media_is(p, mlen, "*/*"))
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

bool http_content_type_is_json(const char *ctype)
{
	if (!ctype)
		return false;
	const char *semi = strchr(ctype, ';');
	size_t len = semi ? (size_t)(semi - ctype) : strlen(ctype);
	return media_is(ctype, len, "application/json");
}

/*
 * The Host allowlist: *out NULL means any host ("*" or no list); otherwise
 * a NULL-terminated array. Out of memory is an error, never "any host":
 * the allowlist fails closed.
 */
static int split_allowlist(const char *list, char ***out)
{
	*out = NULL;
	if (!list || strcmp(list, "*") == 0)
		return 0;
	size_t n = 1;
	for (const char *p = list; *p; p++)
		n += *p == ',';
	char **v = calloc(n + 1, sizeof(*v));
	char *copy = strdup(list);
	int rc = v && copy ? 0 : -ERR_NOMEM;
	size_t i = 0;
	char *save = NULL;
	for (char *t = rc == 0 ? strtok_r(copy, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (strcmp(t, "*") == 0) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			free(copy);
			return 0; /* "*" anywhere: any host */
		}
		if (!(v[i++] = strdup(t))) {
			rc = -ERR_NOMEM;
			break;
		}
	}
	free(copy);
	if (rc < 0) {
		for (size_t k = 0; v && k < i; k++)
			free(v[k]);
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Host header without port, compared case-insensitively to the list. */
static bool host_allowed(const struct http_server *s, const char *host)
{
	if (!s->allow)
		return true;
	if (!host || !*host)
		return false;
	char h[256];
	size_t len;
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (!close)
			return false;
		len = (size_t)(close - host - 1);
		host++;
	} else {
		const char *colon = strchr(host, ':');
		len = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (len == 0 || len >= sizeof(h))
		return false;
	memcpy(h, host, len);
	h[len] = '\0';
	for (char **a = s->allow; *a; a++)
		if (strcasecmp(*a, h) == 0)
			return true;
	return false;
}

/* ---- sending ------------------------------------------------------------- */

static void send_reply(struct evhttp_request *evreq, struct http_reply *r)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(evreq);
	if (r->content_type)
		evhttp_add_header(out, "Content-Type", r->content_type);
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Cache-Control", "no-store");
	struct evbuffer *buf = evbuffer_new();
	if (buf && r->body_len)
		evbuffer_add(buf, r->body, r->body_len);
	struct evhttp_connection *conn = evhttp_request_get_connection(evreq);
	struct bufferevent *bev =
		conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	evhttp_send_reply(evreq, r->status ? r->status : 500, NULL, buf);
	if (buf)
		evbuffer_free(buf);
	/* evhttp queues the headers and the body as two chains; over TLS
	 * each chain would become its own record and write(2). The TLS
	 * bufferevent writes from a deferred callback, so joining the chains
	 * here makes one record and one syscall per reply. */
	if (bev && bufferevent_openssl_get_ssl(bev))
		evbuffer_pullup(bufferevent_get_output(bev), -1);
}

/* A deferred function owns its context: run it even when the reply will be
 * discarded, so the context is released. */
static void job_finish_deferred(struct job *j)
{
	http_defer_fn fn = j->reply.defer_fn;
	j->reply.defer_fn = NULL;
	if (fn)
		fn(&j->req, &j->reply, j->reply.defer_ctx);
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	job_finish_deferred(j);
	free(j->req.path);
	free(j->req.query);
	free(j->req.accept);
	free(j->req.content_type);
	free(j->req.origin);
	free(j->req.sec_fetch_site);
	if (j->req.authorization) {
		OPENSSL_cleanse(j->req.authorization,
				strlen(j->req.authorization));
		free(j->req.authorization);
	}
	free(j->req.body);
	free(j->reply.body);
	free(j);
}

static void queue_push(struct job_queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->len++;
}

static struct job *queue_pop(struct job_queue *q)
{
	struct job *j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
	}
	return j;
}

/* ---- workers (deferred, possibly blocking work) ------------------------------ */

static void wake_loop(struct http_loop *l)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the loop will wake. */
	while (write(l->wake_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void complete_on_loop(struct job *j)
{
	struct http_loop *l = j->loop;
	pthread_mutex_lock(&l->done_lock);
	queue_push(&l->done, j);
	bool notify = !l->wake_due;
	l->wake_due = true;
	pthread_mutex_unlock(&l->done_lock);
	if (notify)
		wake_loop(l);
}

void http_pending_resume(struct http_pending *p, http_defer_fn fn, void *ctx)
{
	struct job *j = (struct job *)p;
	struct http_server *s = j->loop->s;
	j->reply.defer_fn = fn; /* run on the loop by on_wake */
	j->reply.defer_ctx = ctx;
	complete_on_loop(j);
	atomic_fetch_sub(&s->parked, 1);
}

static void *worker_main(void *arg)
{
	struct http_server *s = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->stopping && !s->pending.head)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stopping)
			break;
		struct job *j = queue_pop(&s->pending);
		pthread_mutex_unlock(&s->lock);
		job_finish_deferred(j);
		complete_on_loop(j);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct http_loop *l = arg;
	uint64_t v;
	while (read(l->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	if (atomic_load(&l->s->stop_requested))
		event_base_loopbreak(l->base);
	if (atomic_load(&l->s->acceptor) == l->idx)
		evconnlistener_enable(l->listener);
	pthread_mutex_lock(&l->done_lock);
	struct job *list = l->done.head;
	l->done.head = l->done.tail = NULL;
	l->done.len = 0;
	l->wake_due = false;
	pthread_mutex_unlock(&l->done_lock);
	while (list) {
		struct job *next = list->next;
		job_finish_deferred(list); /* a resumed parked request */
		send_reply(list->evreq, &list->reply);
		job_free(list);
		list = next;
	}
}

/* ---- request intake ---------------------------------------------------------- */

static enum http_method method_of(struct evhttp_request *r)
{
	switch (evhttp_request_get_command(r)) {
	case EVHTTP_REQ_GET: return HTTP_GET;
	case EVHTTP_REQ_POST: return HTTP_POST;
	case EVHTTP_REQ_PUT: return HTTP_PUT;
	case EVHTTP_REQ_DELETE: return HTTP_DELETE;
	case EVHTTP_REQ_HEAD: return HTTP_HEAD;
	default: return HTTP_OTHER;
	}
}

static char *dup_header(struct evkeyvalq *h, const char *name)
{
	const char *v = evhttp_find_header(h, name);
	return v ? strdup(v) : NULL;
}

static void reply_now(struct evhttp_request *evreq, int status,
		      const char *msg)
{
	struct http_reply r = {0};
	http_reply_error(&r, status, msg);
	send_reply(evreq, &r);
	free(r.body);
}

static int fill_req(struct http_server *s, struct evhttp_request *evreq,
		    struct job *j)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(evreq);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(evreq);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	j->evreq = evreq;
	j->req.method = method_of(evreq);
	j->req.path = evhttp_uridecode(path && *path ? path : "/", 0, NULL);
	j->req.query = query ? strdup(query) : NULL;
	j->req.accept = dup_header(in, "Accept");
	j->req.content_type = dup_header(in, "Content-Type");
	j->req.origin = dup_header(in, "Origin");
	j->req.sec_fetch_site = dup_header(in, "Sec-Fetch-Site");
	j->req.authorization = dup_header(in, "Authorization");
	struct evbuffer *body = evhttp_request_get_input_buffer(evreq);
	size_t n = evbuffer_get_length(body);
	j->req.body = malloc(n + 1);
	if (!j->req.path || !j->req.body)
		return -ERR_NOMEM;
	if (n && evbuffer_remove(body, j->req.body, n) != (int)n)
		return -ERR_IO;
	j->req.body[n] = '\0';
	j->req.body_len = n;
	if (atomic_load(&s->tls)) {
		struct evhttp_connection *c = evhttp_request_get_connection(evreq);
		struct bufferevent *bev =
			c ? evhttp_connection_get_bufferevent(c) : NULL;
		SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
		/* A connection accepted before http_server_set_tls is plain. */
		j->req.tls = ssl != NULL;
		if (ssl)
			http_tls_peer(ssl, &j->req.client_cert, j->req.client,
				      sizeof(j->req.client));
	}
	return 0;
}

static void on_request(struct evhttp_request *evreq, void *arg)
{
	struct http_loop *l = arg;
	struct http_server *s = l->s;
	struct evkeyvalq *in = evhttp_request_get_input_headers(evreq);
	if (!host_allowed(s, evhttp_find_header(in, "Host"))) {
		struct http_reply r = {0};
		http_reply_text(&r, 403, "application/json; charset=utf-8",
				"{\"message\":\"Host not authorized.\"}");
		send_reply(evreq, &r);
		free(r.body);
		return;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(evreq)) >
	    s->max_body) {
		reply_now(evreq, 413, "request body larger than 1 MiB");
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j || fill_req(s, evreq, j) < 0) {
		job_free(j);
		reply_now(evreq, 500, "out of memory");
		return;
	}
	j->loop = l;
	/* Fail closed: with TLS on, a plain connection (accepted before
	 * http_server_set_tls, or evhttp's own when ours could not be made)
	 * is never served. */
	if (atomic_load(&s->tls) && !j->req.tls) {
		job_free(j);
		reply_now(evreq, 403, "TLS required");
		return;
	}
	s->h.handle(&j->req, &j->reply, s->h.arg);
	if (j->reply.park_fn) {
		http_park_fn start = j->reply.park_fn;
		j->reply.park_fn = NULL;
		atomic_fetch_add(&s->parked, 1);
		start((struct http_pending *)j, j->reply.park_ctx);
		return;
	}
	if (!j->reply.defer_fn) {
		send_reply(evreq, &j->reply);
		job_free(j);
		return;
	}
	pthread_mutex_lock(&s->lock);
	bool full = s->pending.len >= QUEUE_MAX;
	if (!full) {
		queue_push(&s->pending, j);
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (full) {
		job_free(j); /* runs the deferred fn, discards its reply */
		reply_now(evreq, 503, "server busy");
	}
}

/* Round-robin accept: after each connection the next loop takes the
 * listening socket (called from make_bev). */
static void pass_accept_turn(struct http_loop *l)
{
	struct http_server *s = l->s;
	if (s->nloops < 2)
		return;
	evconnlistener_disable(l->listener);
	int next = (l->idx + 1) % s->nloops;
	atomic_store(&s->acceptor, next);
	wake_loop(&s->loops[next]);
}

/* ---- connection cap -------------------------------------------------------- */

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_server *s = arg;
	atomic_fetch_sub(&s->conns, 1);
}

static void log_refusal(struct http_server *s)
{
	uint64_t now = clock_mono_us();
	uint64_t last = atomic_load(&s->refusal_logged_us);
	if ((last == 0 || now - last >= REFUSAL_LOG_INTERVAL_US) &&
	    atomic_compare_exchange_strong(&s->refusal_logged_us, &last, now))
		log_warn("http: %d connections open (the limit); closing new "
			 "ones until some close", s->max_conns);
}

static void admit(struct http_server *s, const struct fresh_conn *f)
{
	void *arg = NULL;
	bufferevent_getcb(f->bev, NULL, NULL, NULL, &arg);
	struct evhttp_connection *evcon = arg;
	if (!evcon || evhttp_connection_get_bufferevent(evcon) != f->bev) {
		/* evhttp let it go while accepting: no close callback. */
		atomic_fetch_sub(&s->conns, 1);
		return;
	}
	evhttp_connection_set_closecb(evcon, conn_closed, s);
	if (f->refuse) {
		log_refusal(s);
		evhttp_connection_free(evcon); /* runs conn_closed */
	}
}

static void on_intake(evutil_socket_t fd, short what, void *arg)
{
	struct http_loop *l = arg;
	for (size_t i = 0; i < l->nfresh; i++) {
		admit(l->s, &l->fresh[i]);
		bufferevent_decref(l->fresh[i].bev);
	}
	l->nfresh = 0;
}

static bool fresh_reserve(struct http_loop *l)
{
	if (l->nfresh < l->fresh_cap)
		return true;
	size_t cap = l->fresh_cap ? l->fresh_cap * 2 : 16;
	struct fresh_conn *v = realloc(l->fresh, cap * sizeof(*v));
	if (!v)
		return false;
	l->fresh = v;
	l->fresh_cap = cap;
	return true;
}

/*
 * A connection's input buffer is capped (read high-watermark): evhttp keeps
 * reading while it writes a reply, so a client that pipelines requests and
 * never reads the answers would otherwise grow it without limit. evhttp
 * 2.1 moves a Content-Length body out of that buffer only once all of it
 * is there, so the mark is the largest request it accepts (its body cap,
 * 4 x max_body, plus the header cap): past it the bufferevent stops reading
 * until evhttp has consumed a request. That is the per-connection worst
 * case the connection cap is computed from.
 */
static size_t read_high_watermark(size_t max_body)
{
	return max_body * 4 + HEADERS_MAX + 1024;
}

static struct bufferevent *new_bev(struct event_base *base, SSL_CTX *tls,
				   size_t max_body)
{
	struct bufferevent *bev;
	if (!tls) {
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	} else {
		SSL *ssl = SSL_new(tls);
		if (!ssl)
			return NULL;
		/* On failure libevent frees ssl (BEV_OPT_CLOSE_ON_FREE). */
		bev = bufferevent_openssl_socket_new(
			base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
			BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (bev)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	if (bev)
		bufferevent_setwatermark(bev, EV_READ, 0,
					 read_high_watermark(max_body));
	return bev;
}

/*
 * Called by evhttp on the accepting loop for every new connection, before
 * it has a socket. Returning NULL makes evhttp serve the connection over a
 * plain bufferevent of its own, uncounted (only when memory ran out; on a
 * TLS server its requests then carry req->tls false).
 */
static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct http_loop *l = arg;
	struct http_server *s = l->s;
	pass_accept_turn(l);
	if (!fresh_reserve(l))
		return NULL;
	struct bufferevent *bev = new_bev(base, atomic_load(&s->tls), s->max_body);
	if (!bev)
		return NULL;
	int n = atomic_fetch_add(&s->conns, 1) + 1;
	bufferevent_incref(bev);
	l->fresh[l->nfresh++] = (struct fresh_conn){
		.bev = bev, .refuse = n > s->max_conns};
	event_active(l->intake, EV_TIMEOUT, 0);
	return bev;
}

/* Budget: a quarter of physical memory; per connection: evhttp's body
 * cap (max_body * 4, see loop_init), the header cap and TLS buffers. */
static int derived_max_conns(size_t max_body)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page <= 0)
		return CONNS_MIN;
	uint64_t budget = (uint64_t)pages * (uint64_t)page / 4;
	uint64_t body = max_body > UINT64_MAX / 8 ? UINT64_MAX / 2
						  : (uint64_t)max_body * 4;
	uint64_t n = budget / (body + HEADERS_MAX + TLS_CONN_BYTES);
	return n < CONNS_MIN ? CONNS_MIN : n > CONNS_MAX ? CONNS_MAX : (int)n;
}

/* ---- lifecycle --------------------------------------------------------------- */

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	http_server_stop(arg);
}

static int loop_init(struct http_server *s, struct http_loop *l,
		     const struct http_server_config *cfg, int listen_fd,
		     struct err *e)
{
	l->s = s;
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&l->done_lock, NULL);
	if (l->wake_fd < 0) {
		close(listen_fd);
		return err_set(e, ERR_INTERNAL, "cannot create eventfd");
	}
	/* The changelist coalesces evhttp's many read/write toggles per
	 * request into one epoll_ctl. */
	struct event_config *ecfg = event_config_new();
	if (ecfg) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK |
						   EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		l->base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	/* Two priorities, before any event exists: everything defaults to
	 * 1, the intake event alone runs at 0 (see the top of this file). */
	if (l->base && event_base_priority_init(l->base, 2) < 0) {
		close(listen_fd);
		return err_set(e, ERR_INTERNAL, "cannot set event priorities");
	}
	l->http = l->base ? evhttp_new(l->base) : NULL;
	l->wake = l->base ? event_new(l->base, l->wake_fd, EV_READ | EV_PERSIST,
				      on_wake, l) : NULL;
	l->intake = l->base ? event_new(l->base, -1, 0, on_intake, l) : NULL;
	if (!l->http || !l->wake || !l->intake ||
	    event_priority_set(l->intake, 0) < 0 ||
	    event_add(l->wake, NULL) < 0) {
		close(listen_fd);
		return err_set(e, ERR_INTERNAL, "cannot create event loop");
	}
	evhttp_set_bevcb(l->http, make_bev, l);
	/* evhttp's own hard cap (its 413 is not JSON); ours is max_body. */
	evhttp_set_max_body_size(l->http, (ev_ssize_t)(cfg->max_body * 4));
	evhttp_set_max_headers_size(l->http, HEADERS_MAX);
	evhttp_set_timeout(l->http,
			   cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s : 30);
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
						    EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_PUT |
						    EVHTTP_REQ_HEAD);
	evhttp_set_gencb(l->http, on_request, l);
	struct evhttp_bound_socket *bound =
		evhttp_accept_socket_with_handle(l->http, listen_fd);
	if (!bound) {
		close(listen_fd);
		return err_set(e, ERR_IO, "cannot accept on listening socket");
	}
	l->listener = evhttp_bound_socket_get_listener(bound);
	if (l->idx != 0)
		evconnlistener_disable(l->listener);
	return 0;
}

static void loop_free(struct http_loop *l)
{
	if (l->http)
		evhttp_free(l->http);
	/* evhttp freed their connections; drop make_bev's references. */
	for (size_t i = 0; i < l->nfresh; i++)
		bufferevent_decref(l->fresh[i].bev);
	free(l->fresh);
	if (l->intake)
		event_free(l->intake);
	if (l->wake)
		event_free(l->wake);
	struct job *j;
	while ((j = queue_pop(&l->done)))
		job_free(j);
	/* A bufferevent callback still deferred when the loop stopped holds
	 * a reference that event_base_free would drop unreleased (leaking
	 * the connection); with no event of ours left, one non-blocking pass
	 * runs those callbacks and the finalizers they lead to. */
	if (l->base)
		(void)event_base_loop(l->base, EVLOOP_NONBLOCK);
	if (l->base)
		event_base_free(l->base);
	if (l->wake_fd > 0)
		close(l->wake_fd);
	pthread_mutex_destroy(&l->done_lock);
}

static void bound_port(struct http_server *s, const struct http_addr *a)
{
	s->port = a->port;
	if (a->kind != HTTP_ADDR_TCP)
		return;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	if (ss.ss_family == AF_INET)
		s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * A burst of requests makes every connection's bufferevent reserve a fresh
 * 16 KiB input chain at once and free it once the request is read; with
 * glibc's default trim threshold (128 KiB) each loop's arena then returns
 * the memory to the kernel after the burst and faults it back in at the
 * next one (sysmalloc and page faults were 5% of the signer's CPU in a
 * 312-request burst). Keeping a few MiB at the top of an arena costs
 * little and stops that.
 */
#define HEAP_KEEP_BYTES (8 * 1024 * 1024)

int http_server_new(const struct http_server_config *cfg,
		    struct http_server **out, struct err *e)
{
	(void)mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_BYTES);
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = 0;
	s->listen_fd = -1; /* http_server_free may run before it is bound */
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->h = cfg->handlers;
	s->max_body = cfg->max_body;
	s->max_conns = cfg->max_conns > 0 ? cfg->max_conns
					  : derived_max_conns(cfg->max_body);
	if (split_allowlist(cfg->host_allowlist, &s->allow) < 0) {
		rc = err_set(e, ERR_NOMEM, "out of memory (Host allowlist)");
		goto out;
	}
	if (cfg->tls) {
		SSL_CTX_up_ref(cfg->tls);
		atomic_store(&s->tls, cfg->tls);
	}
	signal(SIGPIPE, SIG_IGN);
	s->nloops = cfg->loops > 0 ? cfg->loops : cpu_count();
	s->loops = calloc((size_t)s->nloops, sizeof(*s->loops));
	if (!s->loops) {
		s->nloops = 0;
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	s->listen_fd = -1;
	TRY_OUT(http_listen_fd(&cfg->listen, &s->listen_fd, e));
	bound_port(s, &cfg->listen);
	for (int i = 0; i < s->nloops; i++) {
		/* Each loop owns (and closes) its own descriptor. */
		int fd = i == 0 ? s->listen_fd : fcntl(s->listen_fd,
						       F_DUPFD_CLOEXEC, 0);
		if (fd < 0) {
			rc = err_set(e, ERR_IO, "cannot duplicate listening socket");
			goto out;
		}
		s->loops[i].idx = i;
		TRY_OUT(loop_init(s, &s->loops[i], cfg, fd, e));
	}
	struct event_base *b0 = s->loops[0].base;
	/* libevent delivers a signal to one base only: a secondary server
	 * (metrics) leaves SIGINT/SIGTERM to the main one. */
	if (!cfg->no_signals) {
		s->sigint = evsignal_new(b0, SIGINT, on_signal, s);
		s->sigterm = evsignal_new(b0, SIGTERM, on_signal, s);
	}
	if (!cfg->no_signals &&
	    (!s->sigint || !s->sigterm || event_add(s->sigint, NULL) < 0 ||
	     event_add(s->sigterm, NULL) < 0)) {
		rc = err_set(e, ERR_INTERNAL, "cannot install signal events");
		goto out;
	}
	s->nworkers = cfg->workers > 0 ? cfg->workers : 16;
	s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
	if (!s->workers) {
		s->nworkers = 0;
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < s->nworkers; i++) {
		if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0) {
			s->nworkers = i;
			rc = err_set(e, ERR_INTERNAL, "cannot start worker threads");
			goto out;
		}
	}
out:
	if (rc < 0) {
		http_server_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* One loop per core, each kept on its core: no migrations, warm caches. */
static void pin_to_core(int idx)
{
	int n = cpu_count();
	if (n < 2)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(idx % n, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *loop_main(void *arg)
{
	struct http_loop *l = arg;
	pin_to_core(l->idx);
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	event_base_dispatch(l->base);
	return NULL;
}

int http_server_run(struct http_server *s)
{
	int rc = 0;
	for (int i = 1; i < s->nloops; i++) {
		if (pthread_create(&s->loops[i].thread, NULL, loop_main,
				   &s->loops[i]) != 0) {
			rc = -ERR_INTERNAL;
			break;
		}
		s->loops[i].thread_started = true;
	}
	cpu_set_t saved;
	bool restore = pthread_getaffinity_np(pthread_self(), sizeof(saved),
					      &saved) == 0;
	pin_to_core(0);
	if (rc == 0 && event_base_dispatch(s->loops[0].base) < 0)
		rc = -ERR_INTERNAL;
	if (restore)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	http_server_stop(s);
	for (int i = 1; i < s->nloops; i++) {
		if (s->loops[i].thread_started)
			pthread_join(s->loops[i].thread, NULL);
		s->loops[i].thread_started = false;
	}
	return rc;
}

/* Safe from any thread and from signal handlers (atomic store + write). */
void http_server_stop(struct http_server *s)
{
	atomic_store(&s->stop_requested, true);
	for (int i = 0; i < s->nloops; i++)
		if (s->loops[i].wake_fd > 0)
			wake_loop(&s->loops[i]);
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

int http_server_max_conns(const struct http_server *s)
{
	return s->max_conns;
}

int http_server_set_tls(struct http_server *s, SSL_CTX *ctx, struct err *e)
{
	SSL_CTX *none = NULL;
	SSL_CTX_up_ref(ctx);
	if (!atomic_compare_exchange_strong(&s->tls, &none, ctx)) {
		SSL_CTX_free(ctx);
		return err_set(e, ERR_INVALID, "the server already has TLS");
	}
	return 0;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	free(s->workers);
	/* Parked requests come back through their loop's queue: wait for
	 * them (their completers, e.g. a database commit, are bounded). */
	for (int waited_ms = 0; atomic_load(&s->parked) > 0; waited_ms++) {
		if (waited_ms == 30000) {
			log_error("http: %d parked request(s) never resumed",
				  atomic_load(&s->parked));
			break;
		}
		usleep(1000);
	}
	struct job *j;
	while ((j = queue_pop(&s->pending)))
		job_free(j);
	if (s->sigint)
		event_free(s->sigint);
	if (s->sigterm)
		event_free(s->sigterm);
	for (int i = 0; i < s->nloops; i++)
		loop_free(&s->loops[i]);
	free(s->loops);
	if (s->nloops == 0 && s->listen_fd >= 0)
		close(s->listen_fd);
	SSL_CTX_free(atomic_load(&s->tls));
	for (char **a = s->allow; a && *a; a++)
		free(*a);
	free(s->allow);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
