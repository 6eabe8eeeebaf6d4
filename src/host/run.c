/*
 * run.c: `nitro-host run`, first slice: the supervisor.
 *
 * One libevent loop owns everything: SIGCHLD, SIGTERM/SIGINT, the restart
 * and control-probe timers, and the config's proxies. The enclave is
 * started with the local runner (fork + execvp of runner.command); once
 * its control port accepts (polled every 100 ms, 10 s at most) one
 * `status` frame is sent and the reply logged. When the child exits it is
 * started again after a backoff of 1 s doubling up to restart.max_backoff_s
 * (back to 1 s once a child has run for 60 s). SIGTERM/SIGINT terminate
 * the child (SIGKILL after 5 s), wait for it, and return 0.
 *
 * Not in this slice: DynamoDB records, credentials, init (docs/host.md).
 * The status exchange blocks the loop for at most a few seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <event2/event.h>
#include <jansson.h>

#include "enclave/enclave.h"
#include "host/host.h"

#define PROBE_INTERVAL_MS 100
#define PROBE_LIMIT_MS 10000
#define IO_TIMEOUT_MS 3000
#define STOP_GRACE_MS 5000
#define STABLE_RUN_S 60
#define MAX_REPLY (1024 * 1024)

struct runner {
	const struct host_config *cfg;
	struct event_base *base;
	struct event *ev_chld, *ev_term, *ev_int, *ev_restart, *ev_probe;
	pid_t child;
	time_t started;
	int probe_elapsed_ms;
	int backoff_s;
	int restarts;
	bool stopping;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connected blocking socket to a, within timeout_ms; -1 if not. */
static int connect_addr(const struct http_addr *a, int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int family;
	memset(&ss, 0, sizeof(ss));
	if (a->kind == HTTP_ADDR_UNIX) {
		struct sockaddr_un *su = (struct sockaddr_un *)&ss;
		su->sun_family = AF_UNIX;
		snprintf(su->sun_path, sizeof(su->sun_path), "%s", a->path);
		sl = sizeof(*su);
		family = AF_UNIX;
	} else if (a->kind == HTTP_ADDR_VSOCK) {
		struct sockaddr_vm *sv = (struct sockaddr_vm *)&ss;
		sv->svm_family = AF_VSOCK;
		sv->svm_cid = a->cid;
		sv->svm_port = a->port;
		sl = sizeof(*sv);
		family = AF_VSOCK;
	} else {
		struct addrinfo hints = {0}, *res = NULL;
		char port[8];
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%u", a->port);
		if (getaddrinfo(a->host, port, &hints, &res) != 0 || !res)
			return -1;
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		sl = res->ai_addrlen;
		family = res->ai_family;
		freeaddrinfo(res);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return -1;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t el = sizeof(soerr);
		if (poll(&pfd, 1, timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0 ||
		    soerr != 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Reads or writes exactly n bytes on the non-blocking fd by deadline. */
static int io_exact(int fd, uint8_t *buf, size_t n, bool wr, int64_t deadline)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = wr ? send(fd, buf + done, n - done, MSG_NOSIGNAL)
			       : recv(fd, buf + done, n - done, 0);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r == 0)
			return -1;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		int left = (int)(deadline - now_ms());
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = wr ? POLLOUT : POLLIN};
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Reads what is there (at least one byte) by deadline into buf. */
static int io_some(int fd, uint8_t *buf, size_t cap, int64_t deadline,
		   size_t *got)
{
	for (;;) {
		ssize_t r = recv(fd, buf, cap, 0);
		if (r > 0) {
			*got = (size_t)r;
			return 0;
		}
		if (r == 0)
			return -1;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		int left = (int)(deadline - now_ms());
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -1;
	}
}

/* Sends one control frame of type t and reads the enclave's reply frame
 * with the shared codec (bounded, strict). *reply is compact JSON text. */
static int control_exchange(const struct http_addr *a, enum control_type t,
			    char **reply, struct err *e)
{
	int fd = connect_addr(a, IO_TIMEOUT_MS);
	if (fd < 0)
		return err_set(e, ERR_IO, "control: cannot connect");
	int64_t deadline = now_ms() + IO_TIMEOUT_MS;
	json_t *msg = control_msg_new(t);
	uint8_t *frame = NULL;
	size_t flen = 0;
	struct control_decoder dec;
	control_decoder_init(&dec, MAX_REPLY);
	struct control_msg got = {0};
	int rc = msg ? control_encode(msg, &frame, &flen, e)
		     : err_set(e, ERR_NOMEM, "control: out of memory");
	if (rc == 0 && io_exact(fd, frame, flen, true, deadline) < 0)
		rc = err_set(e, ERR_IO, "control: cannot send");
	while (rc == 0) {
		uint8_t buf[4096];
		if (io_some(fd, buf, sizeof(buf), deadline, &flen) < 0) {
			rc = err_set(e, ERR_IO, "control: no reply");
			break;
		}
		const uint8_t *p = buf;
		int d = control_decode(&dec, &p, &flen, &got, e);
		if (d < 0)
			rc = d;
		else if (d == 1)
			break;
	}
	if (rc == 0 && got.type != CONTROL_REPLY)
		rc = err_set(e, ERR_INVALID, "control: answer is not a reply");
	if (rc == 0) {
		*reply = json_dumps(got.json, JSON_COMPACT);
		if (!*reply)
			rc = err_set(e, ERR_NOMEM, "control: out of memory");
	}
	json_decref(got.json);
	json_decref(msg);
	free(frame);
	control_decoder_free(&dec);
	close(fd);
	return rc;
}

static void schedule_restart(struct runner *r)
{
	if (r->stopping)
		return;
	int s = r->backoff_s;
	log_info("run: restarting the enclave in %d s", s);
	struct timeval tv = {.tv_sec = s};
	evtimer_add(r->ev_restart, &tv);
	r->backoff_s = s * 2 > r->cfg->max_backoff_s ? r->cfg->max_backoff_s
						      : s * 2;
}

static void start_child(struct runner *r)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_error("run: fork: %s", strerror(errno));
		schedule_restart(r);
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execvp(r->cfg->command[0], r->cfg->command);
		dprintf(2, "nitro-host run: cannot execute %s: %s\n",
			r->cfg->command[0], strerror(errno));
		_exit(127);
	}
	r->child = pid;
	r->started = time(NULL);
	r->probe_elapsed_ms = 0;
	log_info("run: enclave started pid=%d (%s)", (int)pid,
		 r->cfg->command[0]);
	struct timeval tv = {.tv_usec = PROBE_INTERVAL_MS * 1000};
	evtimer_add(r->ev_probe, &tv);
}

static void on_probe(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	if (r->child <= 0 || r->stopping)
		return;
	char *reply = NULL;
	struct err e = {0};
	if (control_exchange(&r->cfg->control, CONTROL_STATUS, &reply, &e) ==
	    0) {
		/* the reply is one compact JSON object: logged as is */
		log_info("run: enclave pid=%d status: %s", (int)r->child, reply);
		free(reply);
		return;
	}
	r->probe_elapsed_ms += PROBE_INTERVAL_MS;
	if (r->probe_elapsed_ms >= PROBE_LIMIT_MS) {
		log_error("run: enclave pid=%d: control port did not answer "
			  "within %d s (%s); killing it",
			  (int)r->child, PROBE_LIMIT_MS / 1000, e.msg);
		kill(r->child, SIGKILL); /* SIGCHLD restarts it */
		return;
	}
	struct timeval tv = {.tv_usec = PROBE_INTERVAL_MS * 1000};
	evtimer_add(r->ev_probe, &tv);
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	if (!r->stopping && r->child <= 0) {
		r->restarts++;
		start_child(r);
	}
}

static void describe_status(int st, char *out, size_t len)
{
	if (WIFEXITED(st))
		snprintf(out, len, "exit code %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, len, "signal %d", WTERMSIG(st));
	else
		snprintf(out, len, "status %d", st);
}

static void on_chld(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != r->child)
			continue;
		char how[48];
		describe_status(st, how, sizeof(how));
		log_warn("run: enclave pid=%d ended (%s)", (int)pid, how);
		r->child = 0;
		evtimer_del(r->ev_probe);
		if (time(NULL) - r->started >= STABLE_RUN_S)
			r->backoff_s = 1;
		schedule_restart(r);
	}
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct runner *r = arg;
	log_info("run: signal %d: stopping", (int)sig);
	r->stopping = true;
	event_base_loopbreak(r->base);
}

/* Terminates the child: SIGTERM, then SIGKILL after the grace period. */
static void stop_child(struct runner *r)
{
	if (r->child <= 0)
		return;
	kill(r->child, SIGTERM);
	int64_t deadline = now_ms() + STOP_GRACE_MS;
	int st;
	for (;;) {
		pid_t p = waitpid(r->child, &st, WNOHANG);
		if (p == r->child || (p < 0 && errno == ECHILD))
			break;
		if (now_ms() >= deadline) {
			log_warn("run: enclave pid=%d ignored SIGTERM: SIGKILL",
				 (int)r->child);
			kill(r->child, SIGKILL);
			waitpid(r->child, &st, 0);
			break;
		}
		usleep(20 * 1000);
	}
	log_info("run: enclave pid=%d stopped", (int)r->child);
	r->child = 0;
}

int host_run(const struct host_config *cfg)
{
	if (cfg->runner != HOST_RUNNER_LOCAL) {
		fprintf(stderr, "nitro-host run: runner type nitro-cli: not "
				"implemented yet\n");
		return 2;
	}
	struct runner r = {.cfg = cfg, .backoff_s = 1};
	struct proxy *px = NULL;
	int rc = 1;
	signal(SIGPIPE, SIG_IGN);
	r.base = event_base_new();
	if (!r.base) {
		log_error("run: cannot create the event loop");
		return 1;
	}
	r.ev_chld = evsignal_new(r.base, SIGCHLD, on_chld, &r);
	r.ev_term = evsignal_new(r.base, SIGTERM, on_term, &r);
	r.ev_int = evsignal_new(r.base, SIGINT, on_term, &r);
	r.ev_restart = evtimer_new(r.base, on_restart, &r);
	r.ev_probe = evtimer_new(r.base, on_probe, &r);
	if (!r.ev_chld || !r.ev_term || !r.ev_int || !r.ev_restart ||
	    !r.ev_probe || evsignal_add(r.ev_chld, NULL) < 0 ||
	    evsignal_add(r.ev_term, NULL) < 0 ||
	    evsignal_add(r.ev_int, NULL) < 0) {
		log_error("run: cannot set up signal handling");
		goto out;
	}
	if (cfg->nproxies) {
		struct proxy_route routes[HOST_MAX_PROXIES];
		char names[HOST_MAX_PROXIES][32];
		memset(routes, 0, sizeof(routes));
		for (size_t i = 0; i < cfg->nproxies; i++) {
			snprintf(names[i], sizeof(names[i]), "proxy%zu", i);
			routes[i].name = names[i];
			routes[i].listen = cfg->proxies[i].listen;
			routes[i].connect = cfg->proxies[i].connect;
		}
		struct proxy_config pc = {.routes = routes,
					  .nroutes = cfg->nproxies};
		struct err e = {0};
		if (proxy_new(&pc, r.base, &px, &e) < 0) {
			fprintf(stderr, "nitro-host run: proxies: %s\n", e.msg);
			rc = e.code == ERR_USAGE ? 2 : 1;
			goto out;
		}
	}
	log_info("run: signer_id=%s region=%s key_table=%s", cfg->signer_id,
		 cfg->region, cfg->key_table);
	start_child(&r);
	event_base_dispatch(r.base);
	stop_child(&r);
	rc = r.stopping ? 0 : 1;
out:
	proxy_free(px);
	if (r.ev_probe)
		event_free(r.ev_probe);
	if (r.ev_restart)
		event_free(r.ev_restart);
	if (r.ev_int)
		event_free(r.ev_int);
	if (r.ev_term)
		event_free(r.ev_term);
	if (r.ev_chld)
		event_free(r.ev_chld);
	event_base_free(r.base);
	log_info("run: stopped");
	return rc;
}
