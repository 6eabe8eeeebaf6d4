/*
 * test_enclave_common.h: an in-process enclave for the enclave tests: the
 * control server on a unix socket in a temporary directory, run on its own
 * thread, and a host side that connects, sends frames and reads replies.
 */
#ifndef TEST_ENCLAVE_COMMON_H
#define TEST_ENCLAVE_COMMON_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "enclave/enclave.h"
#include "signer/signer.h"

struct test_enclave {
	struct enclave *en;
	pthread_t thr;
	char dir[48];
	char sock[100];
};

static void *test_enclave_thread(void *arg)
{
	(void)enclave_run(arg);
	return NULL;
}

/* With the options o (nsm_spec, max_frame, tls_kms_key_id, ...). */
static void test_enclave_start_opts(struct test_enclave *t,
				    const struct enclave_opts *o)
{
	struct err e = {0};
	snprintf(t->dir, sizeof(t->dir), "/tmp/ns-enclave-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%.60s/control.sock", t->dir);
	if (enclave_new(o, &t->en, &e) < 0)
		fail_msg("enclave_new: %s", e.msg);
	char spec[160];
	snprintf(spec, sizeof(spec), "unix:%s", t->sock);
	struct http_addr a;
	assert_int_equal(http_addr_parse(spec, &a, &e), 0);
	if (enclave_listen(t->en, &a, &e) < 0)
		fail_msg("enclave_listen: %s", e.msg);
	assert_int_equal(pthread_create(&t->thr, NULL, test_enclave_thread,
					t->en), 0);
}

static __attribute__((unused)) void
test_enclave_start(struct test_enclave *t, const char *nsm, size_t max_frame)
{
	/* An image that lets any client sign: these tests are about the
	 * control protocol and init; the access policy has its own. */
	struct enclave_opts o = {.nsm_spec = nsm, .max_frame = max_frame,
				 .allow_any_client = true,
				 .signing_types = UINT32_MAX};
	test_enclave_start_opts(t, &o);
}

static void test_enclave_stop(struct test_enclave *t)
{
	enclave_stop(t->en);
	pthread_join(t->thr, NULL);
	enclave_free(t->en);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
}

static int host_connect(const struct test_enclave *t)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 60};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void host_send_raw(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void host_send(int fd, const json_t *msg)
{
	uint8_t *frame;
	size_t len;
	struct err e = {0};
	if (control_encode(msg, &frame, &len, &e) < 0)
		fail_msg("control_encode: %s", e.msg);
	host_send_raw(fd, frame, len);
	free(frame);
}

/* Exactly n bytes (false on EOF, error or timeout). */
static bool host_recv_exact(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* The next reply frame, or NULL when the enclave closed the connection.
 * Reads exactly one frame, so replies sent back to back stay apart. */
static json_t *host_recv(int fd)
{
	uint8_t hdr[4];
	if (!host_recv_exact(fd, hdr, sizeof(hdr)))
		return NULL;
	size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
		     (size_t)hdr[2] << 8 | hdr[3];
	assert_true(len > 0 && len <= CONTROL_MAX_FRAME);
	uint8_t *frame = malloc(4 + len);
	assert_non_null(frame);
	memcpy(frame, hdr, 4);
	json_t *out = NULL;
	if (host_recv_exact(fd, frame + 4, len)) {
		struct control_decoder d;
		control_decoder_init(&d, 0);
		const uint8_t *p = frame;
		size_t n = 4 + len;
		struct control_msg m;
		struct err e = {0};
		assert_int_equal(control_decode(&d, &p, &n, &m, &e), 1);
		assert_int_equal(m.type, CONTROL_REPLY);
		out = m.json;
		control_decoder_free(&d);
	}
	free(frame);
	return out;
}

/* Sends msg (taking the reference) and returns the reply. */
static json_t *host_call(int fd, json_t *msg)
{
	host_send(fd, msg);
	json_decref(msg);
	json_t *r = host_recv(fd);
	assert_non_null(r);
	return r;
}

/* reply (from init or reload) must say ok; returns it. */
static __attribute__((unused)) json_t *expect_ok(json_t *reply)
{
	assert_non_null(reply);
	if (!json_is_true(json_object_get(reply, "ok")))
		fail_msg("init: %s",
			 json_string_value(json_object_get(reply, "error")));
	return reply;
}

/* msg (taking the reference) must be refused with an error naming want. */
static __attribute__((unused)) void host_expect_refused(int fd, json_t *msg,
							const char *want)
{
	json_t *r = host_call(fd, msg);
	assert_true(json_is_false(json_object_get(r, "ok")));
	const char *why = json_string_value(json_object_get(r, "error"));
	if (!why || !strstr(why, want))
		fail_msg("'%s' does not say '%s'", why ? why : "(none)", want);
	json_decref(r);
}

/* True when the enclave closed this connection (EOF, no reply). */
static __attribute__((unused)) bool host_closed(int fd)
{
	uint8_t b;
	return recv(fd, &b, 1, 0) == 0;
}

#endif
