/*
 * exchange.c: the client end of the enclave's control port: one frame
 * out, one reply frame back, on a fresh connection each time (the enclave
 * serves frames one at a time, and a new connection means a broken one
 * never poisons the next exchange). nitro-host's watchdog calls it on its
 * helper thread; the enclave_boot benchmark drives the enclave with it.
 *
 * Blocking, with poll() deadlines in slices so that an abort is seen
 * promptly. The reply is untrusted (the enclave's bytes as the host sees
 * them, or whatever answers on that address) and decoded with frame.c's
 * decoder, size-capped. The encoded request is wiped after use: init and
 * credentials frames carry the instance role's secret key and session
 * token.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <openssl/crypto.h>

#include "control/control.h"

#define POLL_SLICE_MS 200

static int64_t now_ms(void)
{
	return (int64_t)(clock_mono_us() / 1000);
}

static bool aborted(const atomic_bool *abort)
{
	return abort && atomic_load(abort);
}

/* Waits for `events` on fd until the deadline, in slices so an abort is
 * seen promptly. 0 when ready. */
static int wait_fd(int fd, short events, int64_t deadline,
		   const atomic_bool *abort)
{
	for (;;) {
		if (aborted(abort))
			return -1;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = events};
		int n = poll(&pfd, 1, left < POLL_SLICE_MS ? (int)left
							   : POLL_SLICE_MS);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int sockaddr_for(const struct http_addr *a,
			struct sockaddr_storage *ss, socklen_t *sl)
{
	if (http_addr_sockaddr(a, ss, sl))
		return 0;
	struct addrinfo hints = {0}, *res = NULL;
	char port[8];
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", a->port);
	if (getaddrinfo(a->host, port, &hints, &res) != 0 || !res)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int connect_addr(const struct http_addr *a, int64_t deadline,
			const atomic_bool *abort)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	if (sockaddr_for(a, &ss, &sl) < 0)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int soerr = 0;
		socklen_t el = sizeof(soerr);
		if (errno != EINPROGRESS ||
		    wait_fd(fd, POLLOUT, deadline, abort) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0 ||
		    soerr != 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int send_all(int fd, const uint8_t *buf, size_t n, int64_t deadline,
		    const atomic_bool *abort)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = send(fd, buf + done, n - done, MSG_NOSIGNAL);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -1;
		if (wait_fd(fd, POLLOUT, deadline, abort) < 0)
			return -1;
	}
	return 0;
}

static int read_reply(int fd, int64_t deadline, const atomic_bool *abort,
		      json_t **reply, struct err *e)
{
	struct control_decoder dec;
	struct control_msg got = {0};
	int rc = 0;
	control_decoder_init(&dec, CONTROL_MAX_FRAME);
	for (;;) {
		uint8_t buf[8192];
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0) {
			rc = err_set(e, ERR_IO, "control: connection closed "
				     "before the reply");
			break;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				rc = err_set(e, ERR_IO, "control: %s",
					     strerror(errno));
				break;
			}
			if (wait_fd(fd, POLLIN, deadline, abort) < 0) {
				rc = err_set(e, ERR_IO, aborted(abort)
					     ? "control: stopped"
					     : "control: no reply in time");
				break;
			}
			continue;
		}
		const uint8_t *p = buf;
		size_t n = (size_t)r;
		int d = control_decode(&dec, &p, &n, &got, e);
		if (d < 0) {
			rc = d;
			break;
		}
		if (d == 1)
			break;
	}
	if (rc == 0 && got.type != CONTROL_REPLY)
		rc = err_set(e, ERR_INVALID, "control: answer is not a reply");
	if (rc == 0)
		*reply = got.json;
	else
		json_decref(got.json);
	control_decoder_free(&dec);
	return rc;
}

int control_exchange(const struct http_addr *a, const json_t *msg,
		     int timeout_ms, const atomic_bool *abort, json_t **reply,
		     struct err *e)
{
	*reply = NULL;
	int64_t deadline = now_ms() + timeout_ms;
	uint8_t *frame = NULL;
	size_t flen = 0;
	TRY(control_encode(msg, &frame, &flen, e));
	int fd = connect_addr(a, deadline, abort);
	int rc;
	if (fd < 0)
		rc = err_set(e, ERR_IO, "control: cannot connect");
	else if (send_all(fd, frame, flen, deadline, abort) < 0)
		rc = err_set(e, ERR_IO, "control: cannot send");
	else
		rc = read_reply(fd, deadline, abort, reply, e);
	OPENSSL_cleanse(frame, flen);
	free(frame);
	if (fd >= 0)
		close(fd);
	return rc;
}
