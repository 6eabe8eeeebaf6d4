/*
 * test_proxy.c: the byte-copying proxy (src/host/proxy.c) in process: a
 * proxy route on a unix socket in front of a TCP echo server on 127.0.0.1
 * (each in its own thread), driven by plain blocking/polling clients.
 * The echo server answers EOF with "<EOF>" and then closes, so a client
 * that half-closes can see that its EOF reached the far side and that the
 * far side could still write back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "host/host.h"

#define MAX_ECHO_CONNS 64

/* ---- the echo server -------------------------------------------------- */

struct echo {
	int lfd;
	uint16_t port;
	pthread_t th;
	volatile int stop;
	pthread_mutex_t mu;
	pthread_t conns[MAX_ECHO_CONNS];
	int nconns;
};

static bool write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

struct echo_conn {
	struct echo *e;
	int fd;
};

static void *echo_conn_main(void *arg)
{
	struct echo_conn *ec = arg;
	static __thread uint8_t buf[65536];
	for (;;) {
		struct pollfd pfd = {ec->fd, POLLIN, 0};
		int r = poll(&pfd, 1, 100);
		if (ec->e->stop)
			break;
		if (r <= 0)
			continue;
		ssize_t n = read(ec->fd, buf, sizeof(buf));
		if (n > 0 && write_all(ec->fd, buf, (size_t)n))
			continue;
		if (n == 0)
			(void)write_all(ec->fd, "<EOF>", 5);
		break;
	}
	close(ec->fd);
	free(ec);
	return NULL;
}

static void *echo_accept_main(void *arg)
{
	struct echo *e = arg;
	while (!e->stop) {
		struct pollfd pfd = {e->lfd, POLLIN, 0};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		int fd = accept(e->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		struct echo_conn *ec = malloc(sizeof(*ec));
		ec->e = e;
		ec->fd = fd;
		pthread_mutex_lock(&e->mu);
		if (e->nconns == MAX_ECHO_CONNS ||
		    pthread_create(&e->conns[e->nconns], NULL, echo_conn_main,
				   ec) != 0) {
			close(fd);
			free(ec);
		} else {
			e->nconns++;
		}
		pthread_mutex_unlock(&e->mu);
	}
	return NULL;
}

/* A TCP socket on 127.0.0.1 with a kernel-chosen port; listening or not. */
static int tcp_socket_on_loopback(uint16_t *port, int backlog)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	socklen_t sl = sizeof(sin);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void echo_start(struct echo *e)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	e->lfd = tcp_socket_on_loopback(&e->port, 64);
	assert_int_equal(pthread_create(&e->th, NULL, echo_accept_main, e), 0);
}

static void echo_stop(struct echo *e)
{
	e->stop = 1;
	pthread_join(e->th, NULL);
	for (int i = 0; i < e->nconns; i++)
		pthread_join(e->conns[i], NULL);
	close(e->lfd);
	pthread_mutex_destroy(&e->mu);
}

/* ---- a DNS server stub on 127.0.0.1 (UDP): A 127.0.0.1 for any name, no
 * AAAA; or, silent, never answering ---- */

struct dns_stub {
	int fd;
	uint16_t port;
	pthread_t th;
	volatile int stop;
	bool silent;
	volatile int queries;
};

static void *dns_main(void *arg)
{
	struct dns_stub *d = arg;
	uint8_t q[512], r[600];
	while (!d->stop) {
		struct pollfd pfd = {d->fd, POLLIN, 0};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(d->fd, q, sizeof(q), 0,
				     (struct sockaddr *)&from, &fl);
		if (n < 12)
			continue;
		d->queries++;
		if (d->silent)
			continue;
		size_t off = 12;
		while (off < (size_t)n && q[off])
			off += (size_t)q[off] + 1;
		off += 1 + 4; /* root label, qtype, qclass */
		if (off > (size_t)n)
			continue;
		bool a = q[off - 4] == 0 && q[off - 3] == 1;
		memcpy(r, q, off);
		r[2] = 0x81; /* response, recursion desired */
		r[3] = 0x80; /* recursion available, NOERROR */
		r[4] = 0, r[5] = 1, r[6] = 0, r[7] = a ? 1 : 0;
		memset(r + 8, 0, 4);
		size_t len = off;
		if (a) {
			static const uint8_t ans[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0,
						      0, 60, 0, 4, 127, 0, 0, 1};
			memcpy(r + len, ans, sizeof(ans));
			len += sizeof(ans);
		}
		(void)sendto(d->fd, r, len, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void dns_start(struct dns_stub *d, bool silent)
{
	memset(d, 0, sizeof(*d));
	d->silent = silent;
	d->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(d->fd >= 0);
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(d->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	socklen_t sl = sizeof(sin);
	assert_int_equal(getsockname(d->fd, (struct sockaddr *)&sin, &sl), 0);
	d->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&d->th, NULL, dns_main, d), 0);
}

static void dns_stop(struct dns_stub *d)
{
	d->stop = 1;
	pthread_join(d->th, NULL);
	close(d->fd);
}

/* ---- the proxy under test ---------------------------------------------- */

struct fx {
	struct echo echo;
	struct proxy *p;
	pthread_t th;
	char dir[64];
	char sock[108];
};

static void *proxy_main(void *arg)
{
	struct fx *f = arg;
	assert_int_equal(proxy_run(f->p), 0);
	return NULL;
}

static void fx_dir(struct fx *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/ns-proxy-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/p.sock", f->dir);
}

static void route_to_echo(struct fx *f, struct proxy_route *r)
{
	char a[200];
	snprintf(a, sizeof(a), "unix:%s", f->sock);
	assert_int_equal(http_addr_parse(a, &r->listen, NULL), 0);
	snprintf(a, sizeof(a), "tcp:127.0.0.1:%u", f->echo.port);
	assert_int_equal(http_addr_parse(a, &r->connect, NULL), 0);
}

static void fx_run_ns(struct fx *f, const struct proxy_route *routes,
		      size_t n, size_t window, const char *nameserver)
{
	struct proxy_config cfg = {.routes = routes, .nroutes = n,
				   .window = window, .nameserver = nameserver};
	struct err e = {0};
	int rc = proxy_new(&cfg, NULL, &f->p, &e);
	if (rc < 0)
		fail_msg("proxy_new: %s", e.msg);
	assert_int_equal(pthread_create(&f->th, NULL, proxy_main, f), 0);
}

static void fx_run(struct fx *f, const struct proxy_route *routes, size_t n,
		   size_t window)
{
	fx_run_ns(f, routes, n, window, NULL);
}

/* Echo server + one route unix:dir/p.sock -> echo, with these limits. */
static void fx_start(struct fx *f, int max_conns, int idle_ms, size_t window)
{
	memset(f, 0, sizeof(*f));
	echo_start(&f->echo);
	fx_dir(f);
	struct proxy_route r = {.name = "test", .max_connections = max_conns,
				.idle_timeout_ms = idle_ms};
	route_to_echo(f, &r);
	fx_run(f, &r, 1, window);
}

static void fx_stop(struct fx *f)
{
	proxy_stop(f->p);
	pthread_join(f->th, NULL);
	proxy_free(f->p);
	if (f->echo.lfd > 0)
		echo_stop(&f->echo);
	char path[128];
	snprintf(path, sizeof(path), "%s/p.sock", f->dir);
	unlink(path);
	rmdir(f->dir);
}

static int connect_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sun = {0};
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void read_exact(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r > 0);
		p += r;
		n -= (size_t)r;
	}
}

/* One byte there and back through the proxy. */
static void assert_echoes(int fd, char ch)
{
	char c = 0;
	assert_true(write_all(fd, &ch, 1));
	read_exact(fd, &c, 1);
	assert_int_equal(c, ch);
}

/* Reads until EOF (or error); returns the bytes read, at most cap. */
static size_t read_to_eof(int fd, uint8_t *buf, size_t cap, bool *clean)
{
	size_t got = 0;
	*clean = false;
	for (;;) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			*clean = true;
		if (r <= 0 || got + (size_t)r == cap) {
			if (r > 0)
				got += (size_t)r;
			return got;
		}
		got += (size_t)r;
	}
}

/* Sends `out` while reading the same number of bytes back, interleaved,
 * so neither direction's buffers have to hold everything. */
static void exchange(int fd, const uint8_t *out, size_t n, uint8_t *in)
{
	size_t sent = 0, got = 0;
	uint64_t deadline = clock_mono_us() + 20 * 1000000ull;
	while (got < n) {
		assert_true(clock_mono_us() < deadline);
		struct pollfd pfd = {fd, POLLIN | (sent < n ? POLLOUT : 0), 0};
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && sent < n) {
			size_t k = n - sent < 65536 ? n - sent : 65536;
			ssize_t w = send(fd, out + sent, k, MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in + got, n - got, MSG_DONTWAIT);
			assert_true(r > 0 || (r < 0 && errno == EAGAIN));
			if (r > 0)
				got += (size_t)r;
		}
	}
}

/* The peer closed (EOF or reset) within the receive timeout. */
static bool closed_by_peer(int fd)
{
	uint8_t b[64];
	for (;;) {
		ssize_t r = read(fd, b, sizeof(b));
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			return true;
		if (r < 0)
			return false; /* timeout */
	}
}

static void wait_active(struct proxy *p, uint64_t want)
{
	struct proxy_stats st;
	for (int i = 0; i < 200; i++) {
		proxy_get_stats(p, &st);
		if (st.active == want)
			return;
		usleep(10000);
	}
	fail_msg("active connections: %llu, want %llu",
		 (unsigned long long)st.active, (unsigned long long)want);
}

/* ---- the tests ------------------------------------------------------- */

static void test_one_byte_round_trip(void **state)
{
	struct fx f;
	fx_start(&f, 0, 0, 0);
	int fd = connect_unix(f.sock);
	assert_true(write_all(fd, "x", 1));
	char c = 0;
	read_exact(fd, &c, 1);
	assert_int_equal(c, 'x');
	close(fd);
	fx_stop(&f);
}

static void round_trip_random(size_t n, size_t window)
{
	struct fx f;
	fx_start(&f, 0, 0, window);
	uint8_t *out = malloc(n), *in = malloc(n);
	assert_int_equal(RAND_bytes(out, (int)n), 1);
	int fd = connect_unix(f.sock);
	exchange(fd, out, n, in);
	assert_memory_equal(in, out, n);
	close(fd);
	free(out);
	free(in);
	fx_stop(&f);
}

static void test_one_mib_random_round_trip(void **state)
{
	round_trip_random(1 << 20, 0);
}

/* A 4 KiB window makes the proxy pause and resume reading hundreds of
 * times; every byte still arrives, in order. */
static void test_small_window_backpressure_keeps_every_byte(void **state)
{
	round_trip_random(1 << 20, 4096);
}

/* A client that writes without ever reading: the echo server's replies
 * back up to the proxy, which then stops reading from the client, so the
 * client's writes stall after socket buffers plus a bounded window, not
 * after everything it offers (an unbounded relay would take all 64 MiB). */
static void test_unread_peer_stalls_the_writer(void **state)
{
	struct fx f;
	fx_start(&f, 0, 0, 64 * 1024);
	int fd = connect_unix(f.sock);
	static uint8_t chunk[65536];
	size_t total = 0, limit = 64u << 20;
	uint64_t last_progress = clock_mono_us();
	while (total < limit && clock_mono_us() - last_progress < 300000) {
		ssize_t w = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (w > 0) {
			total += (size_t)w;
			last_progress = clock_mono_us();
		} else {
			assert_true(errno == EAGAIN);
			usleep(1000);
		}
	}
	assert_true(total < limit * 3 / 4);
	close(fd);
	wait_active(f.p, 0);
	fx_stop(&f);
}

static void test_many_small_writes(void **state)
{
	struct fx f;
	fx_start(&f, 0, 0, 0);
	int fd = connect_unix(f.sock);
	uint8_t sent[16384], got[16384];
	size_t n = 0;
	for (int i = 0; n < sizeof(sent) - 16; i++) {
		size_t k = 1 + (size_t)(i % 13);
		for (size_t j = 0; j < k; j++)
			sent[n + j] = (uint8_t)(i * 7 + j);
		assert_true(write_all(fd, sent + n, k));
		n += k;
	}
	read_exact(fd, got, n);
	assert_memory_equal(got, sent, n);
	close(fd);
	fx_stop(&f);
}

/* Client half-closes: the echo server sees EOF (it answers "<EOF>"), can
 * still write back through the proxy, and its close reaches the client as
 * EOF after all the data. */
static void test_half_close_both_directions(void **state)
{
	struct fx f;
	fx_start(&f, 0, 0, 0);
	int fd = connect_unix(f.sock);
	assert_true(write_all(fd, "hello", 5));
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	uint8_t buf[64];
	bool clean;
	size_t n = read_to_eof(fd, buf, sizeof(buf), &clean);
	assert_true(clean);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "hello<EOF>", 10);
	close(fd);
	wait_active(f.p, 0);
	fx_stop(&f);
}

static void test_idle_timeout_closes_both_sides(void **state)
{
	struct fx f;
	fx_start(&f, 0, 300, 0);
	int fd = connect_unix(f.sock);
	/* traffic every 100 ms keeps it open past the timeout */
	for (int i = 0; i < 8; i++) {
		assert_echoes(fd, 'k');
		usleep(100000);
	}
	uint64_t t0 = clock_mono_us();
	assert_true(closed_by_peer(fd));
	uint64_t ms = (clock_mono_us() - t0) / 1000;
	assert_true(ms >= 150 && ms < 3000);
	struct proxy_stats st;
	proxy_get_stats(f.p, &st);
	assert_int_equal(st.idle_closed, 1);
	close(fd);
	wait_active(f.p, 0);
	fx_stop(&f);
}

static void test_connection_limit(void **state)
{
	struct fx f;
	fx_start(&f, 2, 0, 0);
	int a = connect_unix(f.sock), b = connect_unix(f.sock);
	assert_echoes(a, 'a');
	assert_echoes(b, 'b');
	int over = connect_unix(f.sock);
	assert_true(closed_by_peer(over));
	close(over);
	struct proxy_stats st;
	proxy_get_stats(f.p, &st);
	assert_int_equal(st.refused_limit, 1);
	assert_int_equal(st.active, 2);
	/* a slot frees up when a connection ends */
	close(a);
	wait_active(f.p, 1);
	int d = connect_unix(f.sock);
	assert_echoes(d, 'd');
	close(b);
	close(d);
	fx_stop(&f);
}

/* Destinations that refuse: the client's connection is closed, the proxy
 * keeps serving (a third route in the same proxy still works). */
static void test_refused_destination_closes_client(void **state)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	echo_start(&f.echo);
	fx_dir(&f);
	uint16_t dead_port;
	int dead = tcp_socket_on_loopback(&dead_port, -1); /* bound, not listening */
	struct proxy_route r[3] = {{.name = "no-unix"}, {.name = "no-tcp"},
				   {.name = "ok"}};
	char a[200], s0[108], s1[108];
	snprintf(s0, sizeof(s0), "%s/a.sock", f.dir);
	snprintf(s1, sizeof(s1), "%s/b.sock", f.dir);
	snprintf(a, sizeof(a), "unix:%s", s0);
	assert_int_equal(http_addr_parse(a, &r[0].listen, NULL), 0);
	snprintf(a, sizeof(a), "unix:%s/nothing-here.sock", f.dir);
	assert_int_equal(http_addr_parse(a, &r[0].connect, NULL), 0);
	snprintf(a, sizeof(a), "unix:%s", s1);
	assert_int_equal(http_addr_parse(a, &r[1].listen, NULL), 0);
	snprintf(a, sizeof(a), "tcp:127.0.0.1:%u", dead_port);
	assert_int_equal(http_addr_parse(a, &r[1].connect, NULL), 0);
	route_to_echo(&f, &r[2]);
	fx_run(&f, r, 3, 0);

	for (int i = 0; i < 3; i++) {
		int fd = connect_unix(i % 2 ? s1 : s0);
		(void)write_all(fd, "x", 1);
		assert_true(closed_by_peer(fd));
		close(fd);
	}
	struct proxy_stats st;
	proxy_get_stats(f.p, &st);
	assert_int_equal(st.connect_failed, 3);
	int fd = connect_unix(f.sock);
	assert_echoes(fd, 'y');
	close(fd);
	close(dead);
	fx_stop(&f);
	unlink(s0);
	unlink(s1);
	rmdir(f.dir);
}

/* A destination whose accept queue is full never answers the SYN: the
 * connect timeout closes the client instead of leaving it hanging. */
static void test_connect_timeout_closes_client(void **state)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_dir(&f);
	uint16_t port;
	int full = tcp_socket_on_loopback(&port, 0);
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	int filler = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(filler, (struct sockaddr *)&sin, sizeof(sin)), 0);

	struct proxy_route r = {.name = "blackhole", .connect_timeout_ms = 300};
	char a[200];
	snprintf(a, sizeof(a), "unix:%s", f.sock);
	assert_int_equal(http_addr_parse(a, &r.listen, NULL), 0);
	snprintf(a, sizeof(a), "tcp:127.0.0.1:%u", port);
	assert_int_equal(http_addr_parse(a, &r.connect, NULL), 0);
	fx_run(&f, &r, 1, 0);
	int fd = connect_unix(f.sock);
	uint64_t t0 = clock_mono_us();
	assert_true(closed_by_peer(fd));
	uint64_t ms = (clock_mono_us() - t0) / 1000;
	assert_true(ms >= 200 && ms < 3000);
	struct proxy_stats st;
	proxy_get_stats(f.p, &st);
	assert_int_equal(st.connect_failed, 1);
	close(fd);
	fx_stop(&f);
	close(filler);
	close(full);
}

static void test_stop_closes_open_connections(void **state)
{
	struct fx f;
	fx_start(&f, 0, 0, 0);
	int fd = connect_unix(f.sock);
	assert_echoes(fd, 's');
	proxy_stop(f.p);
	pthread_join(f.th, NULL);
	proxy_free(f.p);
	assert_true(closed_by_peer(fd));
	struct stat st;
	assert_int_equal(lstat(f.sock, &st), -1); /* the socket file is removed */
	close(fd);
	echo_stop(&f.echo);
	rmdir(f.dir);
}

static void test_tcp_listener_reports_its_port(void **state)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	echo_start(&f.echo);
	fx_dir(&f);
	struct proxy_route r = {0};
	route_to_echo(&f, &r);
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:0", &r.listen, NULL), 0);
	fx_run(&f, &r, 1, 0);
	uint16_t port = proxy_port(f.p, 0);
	assert_true(port > 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_echoes(fd, 't');
	close(fd);
	fx_stop(&f);
}

/* Runs route r from unix:f->sock to tcp:host:port, names looked up by d. */
static void fx_run_named(struct fx *f, struct proxy_route *r, const char *host,
			 uint16_t port, const struct dns_stub *d)
{
	char a[200], ns[64];
	snprintf(a, sizeof(a), "unix:%s", f->sock);
	assert_int_equal(http_addr_parse(a, &r->listen, NULL), 0);
	snprintf(a, sizeof(a), "tcp:%s:%u", host, port);
	assert_int_equal(http_addr_parse(a, &r->connect, NULL), 0);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", d->port);
	fx_run_ns(f, r, 1, 0, ns);
}

/* A destination given by name is looked up when a connection arrives,
 * through the resolver (here a stub on 127.0.0.1). */
static void test_destination_name_resolved_at_connect(void **state)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	struct dns_stub d;
	dns_start(&d, false);
	echo_start(&f.echo);
	fx_dir(&f);
	struct proxy_route r = {.name = "named"};
	fx_run_named(&f, &r, "echo.proxy.test", f.echo.port, &d);
	assert_int_equal(d.queries, 0); /* nothing looked up before a client */
	for (int i = 0; i < 2; i++) {
		int fd = connect_unix(f.sock);
		assert_echoes(fd, 'n');
		close(fd);
	}
	assert_true(d.queries >= 2);
	fx_stop(&f);
	dns_stop(&d);
}

/* A resolver that never answers: the connect timeout closes the client;
 * and a proxy freed while a lookup is pending cancels it cleanly. */
static void test_silent_resolver_bounded_by_connect_timeout(void **state)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	struct dns_stub d;
	dns_start(&d, true);
	fx_dir(&f);
	struct proxy_route r = {.name = "silent", .connect_timeout_ms = 300};
	fx_run_named(&f, &r, "nowhere.proxy.test", 443, &d);
	int fd = connect_unix(f.sock);
	uint64_t t0 = clock_mono_us();
	assert_true(closed_by_peer(fd));
	uint64_t ms = (clock_mono_us() - t0) / 1000;
	assert_true(ms >= 200 && ms < 3000);
	close(fd);
	struct proxy_stats st;
	proxy_get_stats(f.p, &st);
	assert_int_equal(st.connect_failed, 1);
	assert_true(d.queries >= 1);
	/* stop with a lookup in flight */
	fd = connect_unix(f.sock);
	wait_active(f.p, 1);
	fx_stop(&f);
	assert_true(closed_by_peer(fd));
	close(fd);
	dns_stop(&d);
}

static void test_allow_parse(void **state)
{
	struct proxy_allow a;
	assert_int_equal(proxy_allow_parse("kms.eu-west-1.amazonaws.com:443", &a, NULL), 0);
	assert_string_equal(a.host, "kms.eu-west-1.amazonaws.com");
	assert_int_equal(a.port, 443);
	assert_int_equal(proxy_allow_parse("[::1]:8443", &a, NULL), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 8443);
	const char *bad[] = {"kms.amazonaws.com", ":443", "h:0", "h:65536",
			     "h:+1", "h:", "a b:1", "[::1:1", "[]:1", "h/x:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(proxy_allow_parse(bad[i], &a, NULL) < 0);
}

static void test_allowlist_refuses_other_destinations(void **state)
{
	struct proxy_allow allow[2];
	assert_int_equal(proxy_allow_parse("127.0.0.1:443", &allow[0], NULL), 0);
	assert_int_equal(proxy_allow_parse("kms.eu-west-1.amazonaws.com:443", &allow[1], NULL), 0);
	struct http_addr t;
	struct err e = {0};
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:443", &t, NULL), 0);
	assert_int_equal(proxy_check_allowed(allow, 2, &t, NULL), 0);
	assert_int_equal(http_addr_parse("tcp:KMS.eu-west-1.amazonaws.com:443", &t, NULL), 0);
	assert_int_equal(proxy_check_allowed(allow, 2, &t, NULL), 0);
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:444", &t, NULL), 0);
	assert_int_equal(proxy_check_allowed(allow, 2, &t, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "--allow"));
	assert_int_equal(http_addr_parse("tcp:127.0.0.2:443", &t, NULL), 0);
	assert_int_equal(proxy_check_allowed(allow, 2, &t, NULL), -ERR_USAGE);
	/* no allowlist: anything; local transports are not host:port */
	assert_int_equal(proxy_check_allowed(NULL, 0, &t, NULL), 0);
	assert_int_equal(http_addr_parse("unix:/run/x.sock", &t, NULL), 0);
	assert_int_equal(proxy_check_allowed(allow, 2, &t, NULL), 0);
	/* vsock-proxy's rule: an allowed name matches the IPs it resolves to */
	struct proxy_allow local;
	assert_int_equal(proxy_allow_parse("localhost:8000", &local, NULL), 0);
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:8000", &t, NULL), 0);
	assert_int_equal(proxy_check_allowed(&local, 1, &t, NULL), 0);
}

/* proxy_new refuses before binding anything. */
static void test_proxy_refuses_to_start_outside_the_allowlist(void **state)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_dir(&f);
	struct proxy_route r = {0};
	char a[200];
	snprintf(a, sizeof(a), "unix:%s", f.sock);
	assert_int_equal(http_addr_parse(a, &r.listen, NULL), 0);
	assert_int_equal(http_addr_parse("tcp:127.0.0.1:9", &r.connect, NULL), 0);
	struct proxy_allow allow;
	assert_int_equal(proxy_allow_parse("127.0.0.1:443", &allow, NULL), 0);
	struct proxy_config cfg = {.routes = &r, .nroutes = 1, .allow = &allow,
				   .nallow = 1};
	struct proxy *p = (struct proxy *)&f;
	struct err e = {0};
	assert_int_equal(proxy_new(&cfg, NULL, &p, &e), -ERR_USAGE);
	assert_null(p);
	assert_non_null(strstr(e.msg, "--allow"));
	struct stat st;
	assert_int_equal(lstat(f.sock, &st), -1);
	rmdir(f.dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_setup(LOG_WARN, LOG_FORMAT_TEXT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_byte_round_trip),
		cmocka_unit_test(test_one_mib_random_round_trip),
		cmocka_unit_test(test_small_window_backpressure_keeps_every_byte),
		cmocka_unit_test(test_unread_peer_stalls_the_writer),
		cmocka_unit_test(test_many_small_writes),
		cmocka_unit_test(test_half_close_both_directions),
		cmocka_unit_test(test_idle_timeout_closes_both_sides),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_refused_destination_closes_client),
		cmocka_unit_test(test_connect_timeout_closes_client),
		cmocka_unit_test(test_stop_closes_open_connections),
		cmocka_unit_test(test_tcp_listener_reports_its_port),
		cmocka_unit_test(test_destination_name_resolved_at_connect),
		cmocka_unit_test(test_silent_resolver_bounded_by_connect_timeout),
		cmocka_unit_test(test_allow_parse),
		cmocka_unit_test(test_allowlist_refuses_other_destinations),
		cmocka_unit_test(test_proxy_refuses_to_start_outside_the_allowlist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
