/*
 * test_control.c: the control module. The frame codec (src/control/frame.c):
 * the wire layout, round trips across every chunk boundary, and each kind of
 * frame the decoder must refuse (and then keep refusing). The exchange
 * (src/control/exchange.c) against a peer on a unix socket: the request
 * arrives whole, the reply comes back, and an answer that is not a reply, a
 * closed connection, a silent peer and an abort each end it with the reason.
 * (The init/reload schema is tested through the enclave and the host:
 * test_enclave_control.c, test_enclave_init.c, test_host_records.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/control.h"

/* A frame built by hand: big-endian length then the body bytes. */
static size_t raw_frame(uint8_t *out, const char *body, size_t n)
{
	out[0] = (uint8_t)(n >> 24);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	memcpy(out + 4, body, n);
	return 4 + n;
}

/* Feeds all of buf at once; returns the decode result. */
static int decode_all(struct control_decoder *d, const uint8_t *buf,
		      size_t n, struct control_msg *m, struct err *e)
{
	const uint8_t *p = buf;
	return control_decode(d, &p, &n, m, e);
}

static int decode_body(const char *body, size_t n, struct err *e)
{
	uint8_t buf[256];
	size_t len = raw_frame(buf, body, n);
	struct control_decoder d;
	control_decoder_init(&d, 0);
	struct control_msg m;
	int rc = decode_all(&d, buf, len, &m, e);
	if (rc > 0)
		json_decref(m.json);
	control_decoder_free(&d);
	return rc;
}

static void test_encode_wire_layout(void **state)
{
	json_t *m = control_msg_new(CONTROL_STATUS);
	uint8_t *buf;
	size_t n;
	assert_int_equal(control_encode(m, &buf, &n, NULL), 0);
	static const char want[] = "\x00\x00\x00\x11{\"type\":\"status\"}";
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, n);
	free(buf);
	json_decref(m);
}

static void test_round_trip_every_type(void **state)
{
	enum control_type types[] = {CONTROL_INIT, CONTROL_CREDENTIALS,
				     CONTROL_STATUS, CONTROL_RELOAD,
				     CONTROL_REPLY};
	for (size_t i = 0; i < 5; i++) {
		json_t *m = control_msg_new(types[i]);
		json_object_set_new(m, "n", json_integer((json_int_t)i));
		json_object_set_new(m, "s", json_string("caf\xc3\xa9 \"q\""));
		uint8_t *buf;
		size_t n;
		assert_int_equal(control_encode(m, &buf, &n, NULL), 0);
		struct control_decoder d;
		control_decoder_init(&d, 0);
		struct control_msg out;
		const uint8_t *p = buf;
		size_t left = n;
		assert_int_equal(control_decode(&d, &p, &left, &out, NULL), 1);
		assert_int_equal(left, 0);
		assert_int_equal(out.type, types[i]);
		assert_true(json_equal(out.json, m));
		assert_true(control_decoder_idle(&d));
		json_decref(out.json);
		control_decoder_free(&d);
		free(buf);
		json_decref(m);
	}
}

/* Two frames back to back, fed in pieces split at every position (and one
 * byte at a time): both come out, equal to what went in, in order. */
static void test_split_at_every_boundary(void **state)
{
	json_t *a = control_msg_new(CONTROL_INIT);
	json_object_set_new(a, "region", json_string("eu-west-1"));
	json_t *b = control_msg_new(CONTROL_CREDENTIALS);
	json_object_set_new(b, "expiration", json_string("2030-01-01T00:00:00Z"));
	uint8_t *fa, *fb;
	size_t na, nb;
	assert_int_equal(control_encode(a, &fa, &na, NULL), 0);
	assert_int_equal(control_encode(b, &fb, &nb, NULL), 0);
	size_t total = na + nb;
	uint8_t *both = malloc(total);
	memcpy(both, fa, na);
	memcpy(both + na, fb, nb);

	/* split == 0 means one-byte feeds throughout */
	for (size_t split = 0; split <= total; split++) {
		struct control_decoder d;
		control_decoder_init(&d, 0);
		json_t *got[3] = {0};
		size_t ngot = 0, off = 0;
		while (off < total) {
			size_t chunk = split == 0 ? 1
				       : off < split ? split - off
						     : total - off;
			const uint8_t *p = both + off;
			size_t left = chunk;
			struct control_msg m;
			int rc;
			while ((rc = control_decode(&d, &p, &left, &m, NULL)) > 0) {
				assert_true(ngot < 2);
				got[ngot++] = m.json;
			}
			assert_int_equal(rc, 0);
			assert_int_equal(left, 0);
			off += chunk;
		}
		assert_int_equal(ngot, 2);
		assert_true(json_equal(got[0], a));
		assert_true(json_equal(got[1], b));
		assert_true(control_decoder_idle(&d));
		json_decref(got[0]);
		json_decref(got[1]);
		control_decoder_free(&d);
	}
	free(both);
	free(fa);
	free(fb);
	json_decref(a);
	json_decref(b);
}

static void test_bytes_after_a_frame_are_left_for_the_next_call(void **state)
{
	uint8_t buf[128];
	size_t n = raw_frame(buf, "{\"type\":\"reload\"}", 17);
	n += raw_frame(buf + n, "{\"type\":\"status\"}", 17);
	struct control_decoder d;
	control_decoder_init(&d, 0);
	const uint8_t *p = buf;
	size_t left = n;
	struct control_msg m;
	assert_int_equal(control_decode(&d, &p, &left, &m, NULL), 1);
	assert_int_equal(m.type, CONTROL_RELOAD);
	assert_int_equal(left, 21);
	json_decref(m.json);
	assert_int_equal(control_decode(&d, &p, &left, &m, NULL), 1);
	assert_int_equal(m.type, CONTROL_STATUS);
	assert_int_equal(left, 0);
	json_decref(m.json);
	control_decoder_free(&d);
}

static void test_oversized_length_refused_before_buffering(void **state)
{
	struct control_decoder d;
	control_decoder_init(&d, 1024);
	static const uint8_t hdr[] = {0x00, 0x00, 0x04, 0x01, '{', '"'};
	struct control_msg m;
	struct err e = {0};
	assert_int_equal(decode_all(&d, hdr, sizeof(hdr), &m, &e),
			 -ERR_TOO_LARGE);
	assert_null(d.body.p);
	assert_int_equal(d.body.cap, 0);
	assert_non_null(strstr(e.msg, "1025"));
	control_decoder_free(&d);

	/* the protocol cap itself: 16 MiB + 1 and 4 GiB - 1 */
	static const uint8_t big[][4] = {{0x01, 0x00, 0x00, 0x01},
					 {0xff, 0xff, 0xff, 0xff}};
	for (size_t i = 0; i < 2; i++) {
		control_decoder_init(&d, 0);
		assert_int_equal(decode_all(&d, big[i], 4, &m, NULL),
				 -ERR_TOO_LARGE);
		assert_null(d.body.p);
		control_decoder_free(&d);
	}
}

/* A peer announcing the full 16 MiB and sending 10 bytes costs a few KiB. */
static void test_large_length_grows_with_the_bytes(void **state)
{
	struct control_decoder d;
	control_decoder_init(&d, 0);
	static const uint8_t part[] = {0x01, 0x00, 0x00, 0x00, '{', '"', 't',
				       'y', 'p', 'e', '"', ':', '"', 'i'};
	struct control_msg m;
	assert_int_equal(decode_all(&d, part, sizeof(part), &m, NULL), 0);
	assert_true(d.body.cap <= 4096);
	assert_false(control_decoder_dead(&d));
	control_decoder_free(&d);
}

static void test_exact_cap_accepted_one_more_refused(void **state)
{
	char body[80];
	memset(body, ' ', sizeof(body));
	memcpy(body, "{\"type\":\"status\"}", 17);
	uint8_t buf[128];
	struct control_decoder d;
	struct control_msg m;
	control_decoder_init(&d, 64);
	assert_int_equal(decode_all(&d, buf, raw_frame(buf, body, 64), &m, NULL), 1);
	json_decref(m.json);
	control_decoder_free(&d);
	control_decoder_init(&d, 64);
	assert_int_equal(decode_all(&d, buf, raw_frame(buf, body, 65), &m, NULL),
			 -ERR_TOO_LARGE);
	control_decoder_free(&d);
}

static void test_truncated_frame_is_incomplete(void **state)
{
	uint8_t buf[64];
	size_t n = raw_frame(buf, "{\"type\":\"status\"}", 17);
	struct control_decoder d;
	control_decoder_init(&d, 0);
	struct control_msg m;
	assert_int_equal(decode_all(&d, buf, n - 1, &m, NULL), 0);
	assert_null(m.json);
	assert_false(control_decoder_dead(&d));
	assert_false(control_decoder_idle(&d));
	/* a header alone is incomplete too */
	control_decoder_free(&d);
	control_decoder_init(&d, 0);
	assert_int_equal(decode_all(&d, buf, 3, &m, NULL), 0);
	assert_false(control_decoder_idle(&d));
	control_decoder_free(&d);
}

static void test_zero_length_refused(void **state)
{
	static const uint8_t z[] = {0, 0, 0, 0};
	struct control_decoder d;
	control_decoder_init(&d, 0);
	struct control_msg m;
	struct err e = {0};
	assert_int_equal(decode_all(&d, z, 4, &m, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "zero"));
	control_decoder_free(&d);
}

static void test_wrong_json_refused(void **state)
{
	const char *bad[] = {"{\"type\":", "{\"type\":\"status\"} x",
			     "{\"type\":\"status\",}", "{'type':'status'}",
			     "\xff\xfe{}", "{\"type\":\"st\\u0000atus\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_body(bad[i], strlen(bad[i]), NULL),
				 -ERR_INVALID);
	/* a NUL byte inside the frame */
	assert_int_equal(decode_body("{\"type\":\"status\"}\0", 18, NULL),
			 -ERR_INVALID);
}

static void test_unknown_or_missing_type_refused(void **state)
{
	const char *bad[] = {"{\"type\":\"shutdown\"}", "{\"type\":\"INIT\"}",
			     "{\"type\":\"init \"}", "{\"type\":1}",
			     "{\"type\":null}", "{\"Type\":\"init\"}", "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct err e = {0};
		assert_int_equal(decode_body(bad[i], strlen(bad[i]), &e),
				 -ERR_INVALID);
		assert_non_null(strstr(e.msg, "type"));
	}
}

static void test_non_object_refused(void **state)
{
	const char *bad[] = {"[]", "[{\"type\":\"init\"}]", "\"init\"", "1",
			     "null", "true"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(decode_body(bad[i], strlen(bad[i]), NULL),
				 -ERR_INVALID);
}

static void test_duplicate_keys_refused(void **state)
{
	const char *b = "{\"type\":\"status\",\"type\":\"init\"}";
	assert_int_equal(decode_body(b, strlen(b), NULL), -ERR_INVALID);
	const char *nested = "{\"type\":\"init\",\"c\":{\"k\":1,\"k\":2}}";
	assert_int_equal(decode_body(nested, strlen(nested), NULL), -ERR_INVALID);
}

/* After a refusal the stream is dead: a valid frame later still fails, with
 * the first refusal's code and message. */
static void test_stream_dead_after_refusal(void **state)
{
	uint8_t buf[64];
	size_t n = raw_frame(buf, "{\"type\":\"nope\"}", 15);
	struct control_decoder d;
	control_decoder_init(&d, 0);
	struct control_msg m;
	struct err e1 = {0}, e2 = {0};
	assert_int_equal(decode_all(&d, buf, n, &m, &e1), -ERR_INVALID);
	assert_true(control_decoder_dead(&d));
	n = raw_frame(buf, "{\"type\":\"status\"}", 17);
	assert_int_equal(decode_all(&d, buf, n, &m, &e2), -ERR_INVALID);
	assert_null(m.json);
	assert_string_equal(e1.msg, e2.msg);
	assert_int_equal(decode_all(&d, buf, 0, &m, NULL), -ERR_INVALID);
	control_decoder_free(&d);
}

static void test_encode_refuses_what_decode_refuses(void **state)
{
	uint8_t *buf = (uint8_t *)"x";
	size_t n = 1;
	json_t *arr = json_array();
	assert_int_equal(control_encode(arr, &buf, &n, NULL), -ERR_INVALID);
	assert_null(buf);
	json_decref(arr);
	json_t *o = json_pack("{s:s}", "type", "shutdown");
	assert_int_equal(control_encode(o, &buf, &n, NULL), -ERR_INVALID);
	json_decref(o);
	o = json_object();
	assert_int_equal(control_encode(o, &buf, &n, NULL), -ERR_INVALID);
	json_decref(o);
}

static void test_encode_refuses_over_cap(void **state)
{
	json_t *m = control_msg_new(CONTROL_INIT);
	size_t n = CONTROL_MAX_FRAME;
	char *s = malloc(n + 1);
	memset(s, 'a', n);
	s[n] = '\0';
	json_object_set_new(m, "blob", json_stringn(s, n));
	uint8_t *buf;
	size_t len;
	assert_int_equal(control_encode(m, &buf, &len, NULL), -ERR_TOO_LARGE);
	free(s);
	json_decref(m);
}

static void test_type_names_round_trip(void **state)
{
	for (int t = CONTROL_INIT; t <= CONTROL_REPLY; t++) {
		enum control_type back;
		assert_int_equal(control_type_parse(control_type_name(t), &back), 0);
		assert_int_equal(back, t);
	}
	enum control_type x;
	assert_int_equal(control_type_parse("", &x), -ERR_INVALID);
	assert_string_equal(control_type_name(CONTROL_CREDENTIALS), "credentials");
}

/* The type comes first: the decoder reads it before the rest arrives. */
static void test_type_must_come_first(void **state)
{
	struct err e = {0};
	const char *b = "{\"records\":[],\"type\":\"reload\"}";
	assert_int_equal(decode_body(b, strlen(b), &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "type first"));
	b = "{ \"type\":\"status\"}";
	assert_int_equal(decode_body(b, strlen(b), NULL), -ERR_INVALID);
	/* encode puts it first whatever order the object was built in */
	json_t *m = json_pack("{s:[],s:s}", "records", "type", "reload");
	uint8_t *buf;
	size_t n;
	assert_int_equal(control_encode(m, &buf, &n, NULL), 0);
	assert_memory_equal(buf + 4, "{\"type\":\"reload\",", 17);
	struct control_decoder d;
	struct control_msg msg;
	control_decoder_init(&d, 0);
	assert_int_equal(decode_all(&d, buf, n, &msg, NULL), 1);
	assert_int_equal(msg.type, CONTROL_RELOAD);
	json_decref(msg.json);
	control_decoder_free(&d);
	free(buf);
	json_decref(m);
}

/* A status frame announcing 1 MiB is refused as soon as its type is
 * read: nothing more is buffered. */
static void test_small_type_over_its_cap_refused_at_the_prefix(void **state)
{
	static const char *const prefixes[] = {"{\"type\":\"status\",\"pad\":\"",
					       "{\"type\":\"credentials\",\"c\":"};
	size_t announced[] = {CONTROL_MAX_STATUS + 1, CONTROL_MAX_CREDENTIALS + 1};
	for (size_t i = 0; i < 2; i++) {
		uint8_t buf[64] = {(uint8_t)(announced[i] >> 24),
				   (uint8_t)(announced[i] >> 16),
				   (uint8_t)(announced[i] >> 8),
				   (uint8_t)announced[i]};
		size_t n = strlen(prefixes[i]);
		memcpy(buf + 4, prefixes[i], n);
		struct control_decoder d;
		struct control_msg m;
		struct err e = {0};
		control_decoder_init(&d, 0);
		assert_int_equal(decode_all(&d, buf, 4 + n, &m, &e), -ERR_TOO_LARGE);
		assert_non_null(strstr(e.msg, "over its"));
		assert_true(control_decoder_dead(&d));
		control_decoder_free(&d);
	}
	/* at the cap: accepted */
	char body[CONTROL_MAX_STATUS];
	memset(body, ' ', sizeof(body));
	memcpy(body, "{\"type\":\"status\"}", 17);
	uint8_t frame[4 + sizeof(body)];
	struct control_decoder d;
	struct control_msg m;
	control_decoder_init(&d, 0);
	assert_int_equal(decode_all(&d, frame, raw_frame(frame, body, sizeof(body)),
				    &m, NULL), 1);
	json_decref(m.json);
	control_decoder_free(&d);
}

/* A frame of many tiny values: within the size cap, but its parse would
 * need ~50 times its length. Refused by the parse budget. */
static void test_wide_or_deep_json_refused_by_the_budget(void **state)
{
	size_t n = 4u << 20;
	char *body = malloc(n);
	assert_non_null(body);
	static const char head[] = "{\"type\":\"init\",\"x\":[";
	memcpy(body, head, sizeof(head) - 1);
	size_t p = sizeof(head) - 1;
	while (p + 5 < n) {
		memcpy(body + p, "{},", 3);
		p += 3;
	}
	memcpy(body + p, "{}]}", 4);
	p += 4;
	uint8_t *frame = malloc(4 + p);
	assert_non_null(frame);
	raw_frame(frame, body, p);
	struct control_decoder d;
	struct control_msg m;
	struct err e = {0};
	control_decoder_init(&d, 0);
	assert_int_equal(decode_all(&d, frame, 4 + p, &m, &e), -ERR_TOO_LARGE);
	assert_non_null(strstr(e.msg, "bytes of memory"));
	control_decoder_free(&d);
	/* with a budget that does fit it, the same frame parses */
	control_decoder_init(&d, 0);
	control_decoder_set_budget(&d, (size_t)1 << 30);
	assert_int_equal(decode_all(&d, frame, 4 + p, &m, &e), 1);
	json_decref(m.json);
	control_decoder_free(&d);
	/* deep nesting: refused (jansson's depth cap or the budget), no crash */
	size_t depth = 100000;
	memcpy(body, "{\"type\":\"init\",\"x\":", 19);
	memset(body + 19, '[', depth);
	memset(body + 19 + depth, ']', depth);
	memcpy(body + 19 + 2 * depth, "}", 1);
	raw_frame(frame, body, 20 + 2 * depth);
	control_decoder_init(&d, 0);
	assert_true(decode_all(&d, frame, 24 + 2 * depth, &m, NULL) < 0);
	control_decoder_free(&d);
	free(frame);
	free(body);
}

/* A realistic init (records of base64 strings) fits the default budget. */
static void test_large_init_of_strings_fits_the_budget(void **state)
{
	json_t *recs = json_array();
	char *ct = malloc(3001);
	assert_non_null(ct);
	memset(ct, 'A', 3000);
	ct[3000] = '\0';
	for (int i = 0; i < 5000; i++)
		json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "pubkey",
						      "0xabc", "kind", "sample",
						      "ciphertext_b64", ct,
						      "context", "nitro-signer-key-v1"));
	json_t *m = control_msg_new(CONTROL_INIT);
	json_object_set_new(m, "records", recs);
	uint8_t *buf;
	size_t n;
	assert_int_equal(control_encode(m, &buf, &n, NULL), 0);
	assert_true(n > (14u << 20));
	struct control_decoder d;
	struct control_msg msg;
	control_decoder_init(&d, 0);
	assert_int_equal(decode_all(&d, buf, n, &msg, NULL), 1);
	assert_int_equal(json_array_size(json_object_get(msg.json, "records")), 5000);
	json_decref(msg.json);
	control_decoder_free(&d);
	free(buf);
	free(ct);
	json_decref(m);
}

/* ---- the exchange ------------------------------------------------------ */

/* What the peer does once it has read the request frame. */
enum peer_mode { PEER_REPLY, PEER_WRONG_TYPE, PEER_CLOSE, PEER_SILENT };

struct peer {
	enum peer_mode mode;
	int lfd;
	char path[108];
	struct http_addr addr;
	pthread_t thr;
	json_t *got; /* the request as the peer decoded it */
};

static void peer_send(int fd, json_t *m)
{
	uint8_t *buf;
	size_t n;
	if (m && control_encode(m, &buf, &n, NULL) == 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		(void)w;
		free(buf);
	}
	json_decref(m);
}

static void *peer_run(void *arg)
{
	struct peer *p = arg;
	int fd = accept(p->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct control_decoder d;
	struct control_msg m = {0};
	uint8_t buf[4096];
	ssize_t r;
	int rc = 0;
	control_decoder_init(&d, 0);
	while (rc == 0 && (r = recv(fd, buf, sizeof(buf), 0)) > 0) {
		const uint8_t *q = buf;
		size_t n = (size_t)r;
		rc = control_decode(&d, &q, &n, &m, NULL);
	}
	control_decoder_free(&d);
	if (rc == 1)
		p->got = m.json;
	if (p->mode == PEER_REPLY) {
		json_t *o = control_msg_new(CONTROL_REPLY);
		json_object_set_new(o, "ok", json_true());
		peer_send(fd, o);
	} else if (p->mode == PEER_WRONG_TYPE) {
		peer_send(fd, control_msg_new(CONTROL_STATUS));
	} else if (p->mode == PEER_SILENT) {
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			; /* until the client gives up and closes */
	}
	close(fd);
	return NULL;
}

static void peer_start(struct peer *p, enum peer_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->mode = mode;
	snprintf(p->path, sizeof(p->path), "/tmp/ns-test-control-%d-%d.sock",
		 (int)getpid(), (int)mode);
	unlink(p->path);
	char spec[160];
	struct err e = {0};
	snprintf(spec, sizeof(spec), "unix:%s", p->path);
	assert_int_equal(http_addr_parse(spec, &p->addr, &e), 0);
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	snprintf(su.sun_path, sizeof(su.sun_path), "%s", p->path);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p->lfd >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&su, sizeof(su)), 0);
	assert_int_equal(listen(p->lfd, 4), 0);
	assert_int_equal(pthread_create(&p->thr, NULL, peer_run, p), 0);
}

/* Waits for the peer; returns what it received (the caller frees it). */
static json_t *peer_join(struct peer *p)
{
	pthread_join(p->thr, NULL);
	close(p->lfd);
	unlink(p->path);
	return p->got;
}

static json_t *status_msg(void)
{
	json_t *m = control_msg_new(CONTROL_STATUS);
	json_object_set_new(m, "n", json_integer(7));
	return m;
}

static void test_exchange_returns_the_reply(void **state)
{
	struct peer p;
	peer_start(&p, PEER_REPLY);
	json_t *m = status_msg(), *reply = NULL;
	struct err e = {0};
	assert_int_equal(control_exchange(&p.addr, m, 5000, NULL, &reply, &e), 0);
	assert_true(json_is_true(json_object_get(reply, "ok")));
	assert_string_equal(json_string_value(json_object_get(reply, "type")),
			    "reply");
	json_t *got = peer_join(&p);
	assert_non_null(got);
	assert_true(json_equal(got, m)); /* the request arrived whole */
	json_decref(got);
	json_decref(reply);
	json_decref(m);
}

/* Runs one exchange against a peer in `mode`; returns its code, *ms the
 * time it took. */
static int exchange_against(enum peer_mode mode, int timeout_ms,
			    const atomic_bool *abort, int64_t *ms,
			    struct err *e)
{
	struct peer p;
	peer_start(&p, mode);
	json_t *m = status_msg(), *reply = NULL;
	uint64_t t0 = clock_mono_us();
	int rc = control_exchange(&p.addr, m, timeout_ms, abort, &reply, e);
	*ms = (int64_t)((clock_mono_us() - t0) / 1000);
	assert_null(reply);
	json_decref(peer_join(&p));
	json_decref(m);
	return rc;
}

static void test_exchange_refuses_an_answer_that_is_not_a_reply(void **state)
{
	struct err e = {0};
	int64_t ms;
	assert_int_equal(exchange_against(PEER_WRONG_TYPE, 5000, NULL, &ms, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not a reply"));
}

static void test_exchange_fails_when_closed_before_the_reply(void **state)
{
	struct err e = {0};
	int64_t ms;
	assert_int_equal(exchange_against(PEER_CLOSE, 5000, NULL, &ms, &e),
			 -ERR_IO);
	assert_non_null(strstr(e.msg, "closed before the reply"));
}

static void test_exchange_gives_up_at_its_deadline(void **state)
{
	struct err e = {0};
	int64_t ms;
	assert_int_equal(exchange_against(PEER_SILENT, 300, NULL, &ms, &e),
			 -ERR_IO);
	assert_non_null(strstr(e.msg, "no reply in time"));
	assert_true(ms >= 250 && ms < 3000);
}

static void test_exchange_stops_when_aborted(void **state)
{
	static const atomic_bool stop = true;
	struct err e = {0};
	int64_t ms;
	assert_int_equal(exchange_against(PEER_SILENT, 60000, &stop, &ms, &e),
			 -ERR_IO);
	assert_non_null(strstr(e.msg, "stopped"));
	assert_true(ms < 3000);
}

static void test_exchange_without_a_listener_fails(void **state)
{
	struct http_addr a;
	struct err e = {0};
	json_t *m = status_msg(), *reply = NULL;
	assert_int_equal(http_addr_parse("unix:/nonexistent/ns-control.sock",
					 &a, &e), 0);
	assert_int_equal(control_exchange(&a, m, 1000, NULL, &reply, &e),
			 -ERR_IO);
	assert_non_null(strstr(e.msg, "cannot connect"));
	assert_null(reply);
	json_decref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_wire_layout),
		cmocka_unit_test(test_type_must_come_first),
		cmocka_unit_test(test_small_type_over_its_cap_refused_at_the_prefix),
		cmocka_unit_test(test_wide_or_deep_json_refused_by_the_budget),
		cmocka_unit_test(test_large_init_of_strings_fits_the_budget),
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_split_at_every_boundary),
		cmocka_unit_test(test_bytes_after_a_frame_are_left_for_the_next_call),
		cmocka_unit_test(test_oversized_length_refused_before_buffering),
		cmocka_unit_test(test_large_length_grows_with_the_bytes),
		cmocka_unit_test(test_exact_cap_accepted_one_more_refused),
		cmocka_unit_test(test_truncated_frame_is_incomplete),
		cmocka_unit_test(test_zero_length_refused),
		cmocka_unit_test(test_wrong_json_refused),
		cmocka_unit_test(test_unknown_or_missing_type_refused),
		cmocka_unit_test(test_non_object_refused),
		cmocka_unit_test(test_duplicate_keys_refused),
		cmocka_unit_test(test_stream_dead_after_refusal),
		cmocka_unit_test(test_encode_refuses_what_decode_refuses),
		cmocka_unit_test(test_encode_refuses_over_cap),
		cmocka_unit_test(test_type_names_round_trip),
		cmocka_unit_test(test_exchange_returns_the_reply),
		cmocka_unit_test(test_exchange_refuses_an_answer_that_is_not_a_reply),
		cmocka_unit_test(test_exchange_fails_when_closed_before_the_reply),
		cmocka_unit_test(test_exchange_gives_up_at_its_deadline),
		cmocka_unit_test(test_exchange_stops_when_aborted),
		cmocka_unit_test(test_exchange_without_a_listener_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
