/*
 * proxy.c: byte-copying proxies on libevent bufferevents.
 *
 * Each accepted connection gets one outbound connection to its route's
 * destination; bytes are moved from one side's input buffer to the other
 * side's output buffer and nothing else happens to them (no parsing, no
 * logging of payload: the TLS inside stays end to end).
 *
 * Bounded memory: each side reads at most `window` bytes into its input
 * (read high watermark), and when the other side's output holds `window`
 * bytes the source stops reading until that output drains to half (write
 * low watermark + write callback). So one connection holds at most about
 * 2 x window per direction, whatever the peers do.
 *
 * Life of a connection: RESOLVING (tcp names: evdns, bounded by the
 * connect timeout) -> CONNECTING -> OPEN. The client side is read only once
 * the destination is connected. EOF on one side becomes shutdown(SHUT_WR)
 * on the other once its pending output is flushed (half-close); when both
 * directions have ended, or either side fails, or nothing moved for the
 * idle timeout, both sides are closed. One timer per connection serves
 * both timeouts: activity only records a timestamp, and the timer re-arms
 * itself for the remainder when it fires early.
 *
 * What it trusts: nothing from either peer. The allowlist is checked once,
 * at start, against the configured destinations (as vsock-proxy does);
 * destinations never come from the wire.
 */
#include "host/host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* After an accept error (EMFILE...), listen again after this long. */
#define ACCEPT_RETRY_MS 500
/* Rounds of the loop proxy_free runs so cancelled lookups can finish. */
#define DNS_DRAIN_ROUNDS 100

enum conn_state { CONN_RESOLVING, CONN_CONNECTING, CONN_OPEN };

struct side {
	struct bufferevent *bev;
	bool eof;       /* read EOF from this side */
	bool shut_wr;   /* we shut down writing toward this side */
	bool throttled; /* reading paused: the other side's output is full */
};

struct listener;

struct conn {
	struct listener *l;
	struct conn *prev, *next;
	uint64_t id;
	enum conn_state state;
	struct side client, server;
	struct event *timer;
	uint64_t started_us, last_us;
	uint64_t up, down; /* bytes client->server, server->client */
	char peer[80];
	/* name resolution (tcp destinations given by name) */
	struct evdns_getaddrinfo_request *dns;
	bool in_resolve_call, resolved_now, dying;
	int dns_err;
	struct evutil_addrinfo *dns_res;
};

struct listener {
	struct proxy *p;
	size_t index;
	char name[32];
	struct proxy_route route;
	char listen_desc[300], connect_desc[300];
	struct evconnlistener *lev;
	struct event *retry;
	/* destination, when known without a lookup (unix, vsock, numeric) */
	struct sockaddr_storage target;
	socklen_t target_len;
	uint16_t port; /* bound port for tcp listeners */
	int active;
};

struct proxy {
	struct event_base *base;
	bool own_base;
	struct evdns_base *dns;
	int stop_fd;
	struct event *stop_ev;
	struct listener *listeners;
	size_t nlisteners;
	struct conn *conns; /* open connections, all routes */
	int zombies;        /* closed while a lookup was pending */
	size_t window;
	const char *nameserver; /* only during proxy_new */
	uint64_t next_id;
	struct proxy_stats stats; /* written on the loop, read atomically */
};

static void stat_add(uint64_t *field, int64_t delta)
{
	__atomic_add_fetch(field, (uint64_t)delta, __ATOMIC_RELAXED);
}

/* ---- addresses ---------------------------------------------------------- */

static void sockaddr_format(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(in->sin_port));
		return;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
		return;
	}
	case AF_VSOCK: {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)sa;
		snprintf(out, len, "vsock:%u:%u", vm->svm_cid, vm->svm_port);
		return;
	}
	case AF_UNIX:
		snprintf(out, len, "unix");
		return;
	}
	snprintf(out, len, "family %d", sa->sa_family);
}


/* ---- the allowlist ---------------------------------------------------- */

int proxy_allow_parse(const char *s, struct proxy_allow *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return err_set(e, ERR_USAGE, "'%s' must be HOST:PORT", s);
	size_t hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 3 || s[hlen - 1] != ']')
			return err_set(e, ERR_USAGE, "'%s' must be HOST:PORT", s);
		s++;
		hlen -= 2;
	}
	if (hlen >= sizeof(out->host))
		return err_set(e, ERR_USAGE, "host too long in '%s'", s);
	memcpy(out->host, s, hlen);
	out->host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++) {
		char c = out->host[i];
		if (c <= ' ' || c == '/' || c == '[' || c == ']' || c == 0x7f)
			return err_set(e, ERR_USAGE, "invalid host in '%s'", s);
	}
	uint64_t port;
	if (dec_parse_u64(colon + 1, &port, NULL, "port") < 0 || port == 0 ||
	    port > 65535)
		return err_set(e, ERR_USAGE, "invalid port in '%s'", s);
	out->port = (uint16_t)port;
	return 0;
}

static struct addrinfo *resolve_blocking(const char *host, uint16_t port)
{
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	return getaddrinfo(host, ps, &hints, &res) == 0 ? res : NULL;
}

static bool sockaddr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

static bool addrinfo_overlap(const struct addrinfo *a, const struct addrinfo *b)
{
	for (; a; a = a->ai_next)
		for (const struct addrinfo *x = b; x; x = x->ai_next)
			if (sockaddr_same_ip(a->ai_addr, x->ai_addr))
				return true;
	return false;
}

int proxy_check_allowed(const struct proxy_allow *allow, size_t nallow,
			const struct http_addr *target, struct err *e)
{
	if (target->kind != HTTP_ADDR_TCP || nallow == 0)
		return 0;
	for (size_t i = 0; i < nallow; i++)
		if (allow[i].port == target->port &&
		    strcasecmp(allow[i].host, target->host) == 0)
			return 0;
	struct addrinfo *want = NULL;
	bool ok = false;
	for (size_t i = 0; i < nallow && !ok; i++) {
		if (allow[i].port != target->port)
			continue;
		if (!want && !(want = resolve_blocking(target->host, target->port)))
			break;
		struct addrinfo *got = resolve_blocking(allow[i].host, allow[i].port);
		ok = got && addrinfo_overlap(want, got);
		if (got)
			freeaddrinfo(got);
	}
	if (want)
		freeaddrinfo(want);
	if (ok)
		return 0;
	char d[300];
	http_addr_format(target, d, sizeof(d));
	return err_set(e, ERR_USAGE, "destination %s is not in the --allow list",
		       d);
}

/* ---- connections ------------------------------------------------------ */

static struct side *side_of(struct conn *c, struct bufferevent *bev)
{
	return bev == c->client.bev ? &c->client : &c->server;
}

static struct side *other_of(struct conn *c, struct side *s)
{
	return s == &c->client ? &c->server : &c->client;
}

static void conn_free_now(struct conn *c)
{
	if (c->dns_res)
		evutil_freeaddrinfo(c->dns_res);
	free(c);
}

/* Closes both sides. The conn is gone afterwards (or, while a lookup is
 * pending, only waits for the lookup's callback to be freed). */
static void conn_close(struct conn *c, enum log_level lvl, const char *why)
{
	struct listener *l = c->l;
	struct proxy *p = l->p;
	log_msg(lvl,
		"proxy %s: connection %llu from %s closed (%s): %llu bytes in, "
		"%llu bytes out, %.1f s",
		l->name, (unsigned long long)c->id, c->peer, why,
		(unsigned long long)c->up, (unsigned long long)c->down,
		(double)(clock_mono_us() - c->started_us) / 1e6);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	l->active--;
	stat_add(&p->stats.active, -1);
	if (c->client.bev)
		bufferevent_free(c->client.bev);
	if (c->server.bev)
		bufferevent_free(c->server.bev);
	c->client.bev = c->server.bev = NULL;
	if (c->timer)
		event_free(c->timer);
	c->timer = NULL;
	if (c->dns) {
		/* The lookup's callback still comes (with a cancel code) and
		 * frees the conn then. */
		c->dying = true;
		p->zombies++;
		evdns_getaddrinfo_cancel(c->dns);
		return;
	}
	conn_free_now(c);
}

static void conn_fail_connect(struct conn *c, const char *why)
{
	stat_add(&c->l->p->stats.connect_failed, 1);
	char msg[400];
	snprintf(msg, sizeof(msg), "cannot reach %.300s: %.80s",
		 c->l->connect_desc, why);
	conn_close(c, LOG_WARN, msg);
}

static void timer_arm_ms(struct conn *c, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (c->state != CONN_OPEN) {
		conn_fail_connect(c, "connect timed out");
		return;
	}
	uint64_t idle_ms = (uint64_t)c->l->route.idle_timeout_ms;
	uint64_t quiet_ms = (clock_mono_us() - c->last_us) / 1000;
	if (quiet_ms >= idle_ms) {
		stat_add(&c->l->p->stats.idle_closed, 1);
		conn_close(c, LOG_INFO, "idle timeout");
		return;
	}
	timer_arm_ms(c, idle_ms - quiet_ms);
}

/* Both directions ended and flushed: the conversation is over. */
static bool conn_maybe_done(struct conn *c)
{
	if (c->client.shut_wr && c->server.shut_wr) {
		conn_close(c, LOG_INFO, "both sides finished");
		return true;
	}
	return false;
}

/* Sends EOF toward s (its pending output is flushed). true if c is gone. */
static bool side_shut_write(struct conn *c, struct side *s)
{
	if (s->shut_wr)
		return false;
	s->shut_wr = true;
	if (shutdown(bufferevent_getfd(s->bev), SHUT_WR) < 0 &&
	    errno != ENOTCONN) {
		char msg[128];
		snprintf(msg, sizeof(msg), "shutdown: %s", strerror(errno));
		conn_close(c, LOG_INFO, msg);
		return true;
	}
	return conn_maybe_done(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct side *src = side_of(c, bev), *dst = other_of(c, src);
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(dst->bev);
	size_t n = evbuffer_get_length(in);
	if (n == 0)
		return;
	if (dst->shut_wr) {
		/* cannot happen: dst shut only after src's EOF */
		evbuffer_drain(in, n);
		return;
	}
	evbuffer_add_buffer(out, in);
	if (src == &c->client)
		c->up += n;
	else
		c->down += n;
	c->last_us = clock_mono_us();
	if (evbuffer_get_length(out) >= c->l->p->window) {
		src->throttled = true;
		bufferevent_disable(src->bev, EV_READ);
		bufferevent_setwatermark(dst->bev, EV_WRITE,
					 c->l->p->window / 2, 0);
	}
}

/* bev's output drained to its low watermark. */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct side *dst = side_of(c, bev), *src = other_of(c, dst);
	size_t pending = evbuffer_get_length(bufferevent_get_output(bev));
	c->last_us = clock_mono_us();
	if (src->throttled && pending < c->l->p->window) {
		src->throttled = false;
		if (!src->eof)
			bufferevent_enable(src->bev, EV_READ);
	}
	if (src->eof && pending == 0)
		(void)side_shut_write(c, dst);
}

static void on_eof(struct conn *c, struct side *s)
{
	struct side *o = other_of(c, s);
	s->eof = true;
	on_read(s->bev, c); /* anything still in the input goes across */
	/* From now on the write callback fires only when o's output is
	 * empty: that is when EOF can follow the data. */
	bufferevent_setwatermark(o->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(o->bev)) == 0)
		(void)side_shut_write(c, o);
}

static void conn_open(struct conn *c)
{
	c->state = CONN_OPEN;
	c->last_us = clock_mono_us();
	int fd = bufferevent_getfd(c->server.bev);
	if (c->l->route.connect.kind == HTTP_ADDR_TCP) {
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	log_info("proxy %s: connection %llu from %s -> %s", c->l->name,
		 (unsigned long long)c->id, c->peer, c->l->connect_desc);
	bufferevent_enable(c->client.bev, EV_READ | EV_WRITE);
	bufferevent_enable(c->server.bev, EV_READ | EV_WRITE);
	evtimer_del(c->timer);
	timer_arm_ms(c, (uint64_t)c->l->route.idle_timeout_ms);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct side *s = side_of(c, bev);
	if (what & BEV_EVENT_CONNECTED) {
		conn_open(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		if (c->state != CONN_OPEN) {
			conn_fail_connect(c, strerror(err));
			return;
		}
		char msg[160];
		snprintf(msg, sizeof(msg), "%s error: %s",
			 s == &c->client ? "client" : "destination",
			 strerror(err));
		conn_close(c, LOG_INFO, msg);
		return;
	}
	if (what & BEV_EVENT_EOF)
		on_eof(c, s);
}

static struct bufferevent *side_new(struct conn *c, int fd)
{
	struct bufferevent *bev =
		bufferevent_socket_new(c->l->p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(bev, EV_READ, 0, c->l->p->window);
	return bev;
}

static void conn_connect(struct conn *c, const struct sockaddr *sa,
			 socklen_t len)
{
	c->state = CONN_CONNECTING;
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0) {
		conn_fail_connect(c, strerror(errno));
		return;
	}
	c->server.bev = side_new(c, fd);
	if (!c->server.bev) {
		close(fd);
		conn_fail_connect(c, "out of memory");
		return;
	}
	if (bufferevent_socket_connect(c->server.bev, sa, (int)len) < 0)
		conn_fail_connect(c, strerror(errno));
	/* otherwise: on_event with CONNECTED, or an error (also for a
	 * connection refused at once, which libevent reports later) */
}

static void resolved_continue(struct conn *c)
{
	struct evutil_addrinfo *res = c->dns_res;
	c->dns_res = NULL;
	if (c->dns_err != 0 || !res) {
		if (res)
			evutil_freeaddrinfo(res);
		conn_fail_connect(c, c->dns_err ? evutil_gai_strerror(c->dns_err)
						: "no address");
		return;
	}
	conn_connect(c, res->ai_addr, (socklen_t)res->ai_addrlen);
	evutil_freeaddrinfo(res);
}

static void on_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
	struct conn *c = arg;
	c->dns = NULL;
	if (c->dying) {
		if (res)
			evutil_freeaddrinfo(res);
		c->l->p->zombies--;
		conn_free_now(c);
		return;
	}
	c->dns_err = err;
	c->dns_res = res;
	c->resolved_now = true;
	if (!c->in_resolve_call)
		resolved_continue(c);
}

static void conn_resolve(struct conn *c)
{
	struct proxy_route *r = &c->l->route;
	struct evutil_addrinfo hints = {0};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG | EVUTIL_AI_NUMERICSERV;
	char port[8];
	snprintf(port, sizeof(port), "%u", r->connect.port);
	c->state = CONN_RESOLVING;
	/* The callback may run inside this call (hosts file, cache): then
	 * carry on here, after the request handle is known to be void. */
	c->in_resolve_call = true;
	struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(
		c->l->p->dns, r->connect.host, port, &hints, on_resolved, c);
	c->in_resolve_call = false;
	if (c->resolved_now) {
		resolved_continue(c);
		return;
	}
	c->dns = req;
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct proxy *p = l->p;
	char peer[80];
	sockaddr_format(sa, peer, sizeof(peer));
	if (l->active >= l->route.max_connections) {
		stat_add(&p->stats.refused_limit, 1); /* before the peer sees it */
		close(fd);
		log_warn("proxy %s: connection from %s refused: %d connections "
			 "open (the limit)",
			 l->name, peer, l->active);
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->l = l;
	c->id = ++p->next_id;
	c->started_us = c->last_us = clock_mono_us();
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->client.bev = side_new(c, fd);
	c->timer = evtimer_new(p->base, on_timer, c);
	if (!c->client.bev || !c->timer) {
		if (c->client.bev)
			bufferevent_free(c->client.bev);
		else
			close(fd);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return;
	}
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	l->active++;
	stat_add(&p->stats.accepted, 1);
	stat_add(&p->stats.active, 1);
	timer_arm_ms(c, (uint64_t)l->route.connect_timeout_ms);
	if (l->target_len > 0)
		conn_connect(c, (struct sockaddr *)&l->target, l->target_len);
	else
		conn_resolve(c);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	evconnlistener_enable(l->lev);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	log_warn("proxy %s: accept failed: %s; pausing %d ms", l->name,
		 strerror(err), ACCEPT_RETRY_MS);
	evconnlistener_disable(lev);
	struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
	evtimer_add(l->retry, &tv);
}

/* ---- the proxy ---------------------------------------------------------- */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct proxy *p = arg;
	uint64_t v;
	(void)!read(p->stop_fd, &v, sizeof(v));
	event_base_loopbreak(p->base);
}

static int route_defaults(const struct proxy_route *in, struct proxy_route *r,
			  struct err *e)
{
	*r = *in;
	if (r->max_connections == 0)
		r->max_connections = PROXY_DEFAULT_MAX_CONNECTIONS;
	if (r->idle_timeout_ms == 0)
		r->idle_timeout_ms = PROXY_DEFAULT_IDLE_TIMEOUT_MS;
	if (r->connect_timeout_ms == 0)
		r->connect_timeout_ms = PROXY_DEFAULT_CONNECT_TIMEOUT_MS;
	if (r->max_connections < 0 || r->idle_timeout_ms < 0 ||
	    r->connect_timeout_ms < 0)
		return err_set(e, ERR_USAGE, "negative proxy limit");
	return 0;
}

static int dns_start(struct proxy *p, struct err *e)
{
	p->dns = evdns_base_new(p->base, p->nameserver
						 ? 0
						 : EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!p->dns)
		return err_set(e, ERR_IO, "cannot set up name resolution");
	if (p->nameserver) {
		if (evdns_base_nameserver_ip_add(p->dns, p->nameserver) != 0)
			return err_set(e, ERR_USAGE, "invalid nameserver '%s'",
				       p->nameserver);
		(void)evdns_base_load_hosts(p->dns, NULL);
	}
	/* A lookup must fit well inside the connect timeout. */
	(void)evdns_base_set_option(p->dns, "timeout:", "2");
	(void)evdns_base_set_option(p->dns, "attempts:", "2");
	return 0;
}

static int listener_start(struct proxy *p, struct listener *l, size_t i,
			  const struct proxy_route *in, struct err *e)
{
	l->p = p;
	l->index = i;
	TRY(route_defaults(in, &l->route, e));
	l->route.name = NULL; /* the caller's string need not outlive us */
	if (in->name && *in->name)
		snprintf(l->name, sizeof(l->name), "%s", in->name);
	else
		snprintf(l->name, sizeof(l->name), "route %zu", i);
	http_addr_format(&l->route.listen, l->listen_desc, sizeof(l->listen_desc));
	http_addr_format(&l->route.connect, l->connect_desc, sizeof(l->connect_desc));
	/* l->target_len > 0: no lookup needed */
	if (!http_addr_sockaddr(&l->route.connect, &l->target, &l->target_len)) {
		l->target_len = 0;
		if (!p->dns)
			TRY(dns_start(p, e));
	}
	int fd;
	TRY(http_listen_fd(&l->route.listen, &fd, e));
	l->lev = evconnlistener_new(p->base, on_accept, l,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
				    0, fd);
	l->retry = evtimer_new(p->base, on_accept_retry, l);
	if (!l->lev || !l->retry) {
		if (!l->lev)
			close(fd);
		return err_set(e, ERR_NOMEM, "cannot start listener");
	}
	evconnlistener_set_error_cb(l->lev, on_accept_error);
	if (l->route.listen.kind == HTTP_ADDR_TCP) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			l->port = ntohs(ss.ss_family == AF_INET6
						? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
		/* show the port the kernel picked for :0 */
		struct http_addr shown = l->route.listen;
		shown.port = l->port;
		http_addr_format(&shown, l->listen_desc, sizeof(l->listen_desc));
	}
	log_info("proxy %s: listening on %s -> %s (at most %d connections, "
		 "idle timeout %d ms, connect timeout %d ms)",
		 l->name, l->listen_desc, l->connect_desc,
		 l->route.max_connections, l->route.idle_timeout_ms,
		 l->route.connect_timeout_ms);
	return 0;
}

int proxy_new(const struct proxy_config *cfg, struct event_base *base,
	      struct proxy **out, struct err *e)
{
	*out = NULL;
	if (cfg->nroutes == 0)
		return err_set(e, ERR_USAGE, "no proxy routes");
	if (cfg->nallow > PROXY_MAX_ALLOW)
		return err_set(e, ERR_USAGE, "more than %d --allow entries",
			       PROXY_MAX_ALLOW);
	for (size_t i = 0; i < cfg->nroutes; i++)
		TRY(proxy_check_allowed(cfg->allow, cfg->nallow,
					&cfg->routes[i].connect, e));
	/* A peer that goes away mid-write must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	struct proxy *p = calloc(1, sizeof(*p));
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	p->stop_fd = -1;
	p->window = cfg->window ? cfg->window : PROXY_DEFAULT_WINDOW;
	p->nameserver = cfg->nameserver;
	int rc = 0;
	p->base = base;
	if (!p->base) {
		p->base = event_base_new();
		p->own_base = true;
	}
	p->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->listeners = calloc(cfg->nroutes, sizeof(*p->listeners));
	if (!p->base || p->stop_fd < 0 || !p->listeners) {
		rc = err_set(e, ERR_NOMEM, "cannot set up the proxy loop");
		goto out;
	}
	p->stop_ev = event_new(p->base, p->stop_fd, EV_READ | EV_PERSIST,
			       on_stop, p);
	if (!p->stop_ev || event_add(p->stop_ev, NULL) < 0) {
		rc = err_set(e, ERR_NOMEM, "cannot set up the proxy loop");
		goto out;
	}
	for (size_t i = 0; i < cfg->nroutes; i++) {
		p->nlisteners = i + 1;
		TRY_OUT(listener_start(p, &p->listeners[i], i, &cfg->routes[i], e));
	}
	p->nameserver = NULL;
	*out = p;
out:
	if (rc < 0)
		proxy_free(p);
	return rc;
}

int proxy_run(struct proxy *p)
{
	if (event_base_dispatch(p->base) < 0)
		return -ERR_INTERNAL;
	return 0;
}

void proxy_stop(struct proxy *p)
{
	uint64_t one = 1;
	(void)!write(p->stop_fd, &one, sizeof(one));
}

static void listener_close(struct listener *l)
{
	if (l->lev) {
		evconnlistener_free(l->lev);
		l->lev = NULL;
		/* remove the socket file we created, never anything else */
		struct stat st;
		if (l->route.listen.kind == HTTP_ADDR_UNIX &&
		    lstat(l->route.listen.path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(l->route.listen.path);
	}
	if (l->retry)
		event_free(l->retry);
	l->retry = NULL;
}

void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nlisteners; i++)
		listener_close(&p->listeners[i]);
	while (p->conns)
		conn_close(p->conns, LOG_INFO, "shutting down");
	/* Cancelled lookups report back through the loop; let them. */
	for (int i = 0; p->zombies > 0 && i < DNS_DRAIN_ROUNDS; i++)
		event_base_loop(p->base, EVLOOP_NONBLOCK);
	if (p->dns)
		evdns_base_free(p->dns, 0);
	if (p->stop_ev)
		event_free(p->stop_ev);
	if (p->stop_fd >= 0)
		close(p->stop_fd);
	if (p->own_base && p->base)
		event_base_free(p->base);
	free(p->listeners);
	free(p);
}

uint16_t proxy_port(const struct proxy *p, size_t route)
{
	return route < p->nlisteners ? p->listeners[route].port : 0;
}

void proxy_get_stats(const struct proxy *p, struct proxy_stats *out)
{
	out->accepted = __atomic_load_n(&p->stats.accepted, __ATOMIC_RELAXED);
	out->refused_limit =
		__atomic_load_n(&p->stats.refused_limit, __ATOMIC_RELAXED);
	out->connect_failed =
		__atomic_load_n(&p->stats.connect_failed, __ATOMIC_RELAXED);
	out->idle_closed =
		__atomic_load_n(&p->stats.idle_closed, __ATOMIC_RELAXED);
	out->active = __atomic_load_n(&p->stats.active, __ATOMIC_RELAXED);
}
