/*
 * frame.c: frames of the control protocol between nitro-host and the
 * enclave (4-byte big-endian length + compact JSON object with a "type"),
 * the codec both ends link (control.h).
 *
 * The decoder trusts nothing it is fed: the length prefix is read through
 * struct cursor, checked against the cap before a single body byte is
 * kept, and the buffer grows only as bytes actually arrive. The body must
 * begin with {"type":"NAME": the type is read from those first bytes and
 * the frame's length checked against that type's cap (a status frame is
 * tiny) before the rest is buffered; the JSON parse then runs under a heap
 * budget (json_parse_bounded), since a frame of many tiny values would
 * otherwise cost about fifty times its length. JSON is parsed
 * by jansson with duplicate keys refused (two "type" keys must not mean
 * one thing here and another to a different parser). A refused frame
 * kills the stream for good: the caller closes the connection.
 */
#include "control/control.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TYPE_NAMES[] = {
	[CONTROL_INIT] = "init",
	[CONTROL_CREDENTIALS] = "credentials",
	[CONTROL_STATUS] = "status",
	[CONTROL_RELOAD] = "reload",
	[CONTROL_REPLY] = "reply",
};
#define NTYPES (sizeof(TYPE_NAMES) / sizeof(TYPE_NAMES[0]))

/* Memory a decoder keeps between frames; a larger body buffer is released
 * once its frame is decoded. */
#define INITIAL_CAP 4096

const char *control_type_name(enum control_type t)
{
	return (size_t)t < NTYPES ? TYPE_NAMES[t] : "unknown";
}

int control_type_parse(const char *s, enum control_type *out)
{
	for (size_t i = 0; i < NTYPES; i++) {
		if (strcmp(s, TYPE_NAMES[i]) == 0) {
			*out = (enum control_type)i;
			return 0;
		}
	}
	return -ERR_INVALID;
}

json_t *control_msg_new(enum control_type t)
{
	return json_pack("{s:s}", "type", control_type_name(t));
}

int control_msg_check(const json_t *msg, enum control_type *type,
		      struct err *e)
{
	if (!json_is_object(msg))
		return err_set(e, ERR_INVALID, "control frame: not a JSON object");
	const json_t *t = json_object_get(msg, "type");
	if (!t)
		return err_set(e, ERR_INVALID, "control frame: type: missing");
	if (!json_is_string(t))
		return err_set(e, ERR_INVALID,
			       "control frame: type: not a string");
	enum control_type ty;
	if (json_string_length(t) != strlen(json_string_value(t)) ||
	    control_type_parse(json_string_value(t), &ty) < 0)
		return err_set(e, ERR_INVALID,
			       "control frame: type: unknown \"%.32s\"",
			       json_string_value(t));
	if (type)
		*type = ty;
	return 0;
}

size_t control_type_cap(enum control_type t, size_t max_frame)
{
	switch (t) {
	case CONTROL_STATUS:
		return CONTROL_MAX_STATUS;
	case CONTROL_CREDENTIALS:
		return CONTROL_MAX_CREDENTIALS;
	case CONTROL_INIT:
	case CONTROL_RELOAD:
	case CONTROL_REPLY:
		break;
	}
	return max_frame;
}

/* The same members with "type" first (the decoder reads it as a prefix). */
static json_t *type_first(const json_t *msg, enum control_type t)
{
	json_t *o = control_msg_new(t);
	if (o && json_object_update(o, (json_t *)msg) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int control_encode(const json_t *msg, uint8_t **out, size_t *out_len,
		   struct err *e)
{
	*out = NULL;
	*out_len = 0;
	enum control_type t;
	TRY(control_msg_check(msg, &t, e));
	json_t *ordered = type_first(msg, t);
	if (!ordered)
		return err_set(e, ERR_NOMEM, "control frame: out of memory");
	size_t n = json_dumpb(ordered, NULL, 0, JSON_COMPACT);
	size_t cap = control_type_cap(t, CONTROL_MAX_FRAME);
	uint8_t *buf = NULL;
	int rc = 0;
	if (n == 0)
		rc = err_set(e, ERR_INVALID, "control frame: cannot encode");
	else if (n > cap)
		rc = err_set(e, ERR_TOO_LARGE, "control frame: a %s frame of %zu "
			     "bytes is over its %zu byte cap",
			     control_type_name(t), n, cap);
	else if (!(buf = malloc(4 + n)))
		rc = err_set(e, ERR_NOMEM, "control frame: out of memory");
	else if (json_dumpb(ordered, (char *)buf + 4, n, JSON_COMPACT) != n)
		rc = err_set(e, ERR_INTERNAL, "control frame: encode changed size");
	/* The copy shares the values (credentials too): nothing to wipe. */
	json_decref(ordered);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	struct buf prefix;
	buf_init_fixed(&prefix, buf, 4);
	if (buf_u32be(&prefix, (uint32_t)n) < 0) { /* not reached: n <= cap */
		free(buf);
		return err_set(e, ERR_INTERNAL, "control frame: length prefix");
	}
	*out = buf;
	*out_len = 4 + n;
	return 0;
}

void control_decoder_init(struct control_decoder *d, size_t max_frame)
{
	memset(d, 0, sizeof(*d));
	d->max_frame = (max_frame == 0 || max_frame > CONTROL_MAX_FRAME)
			       ? CONTROL_MAX_FRAME
			       : max_frame;
	/* Frames carry credentials: a wiping buffer. */
	buf_init(&d->body, 0, true);
}

void control_decoder_set_budget(struct control_decoder *d, size_t bytes)
{
	d->parse_budget = bytes;
}

void control_decoder_free(struct control_decoder *d)
{
	buf_free(&d->body);
	d->hdr_len = 0;
}

bool control_decoder_dead(const struct control_decoder *d)
{
	return d->dead != 0;
}

bool control_decoder_idle(const struct control_decoder *d)
{
	return d->dead == 0 && d->hdr_len == 0;
}

/* Records the refusal, drops the partial frame; returns the code. */
static int decoder_kill(struct control_decoder *d, struct err *e, int code,
			const char *msg)
{
	d->dead = -code;
	snprintf(d->dead_msg, sizeof(d->dead_msg), "%s", msg);
	buf_free(&d->body);
	return err_set(e, code, "%s", d->dead_msg);
}

/* Reads the length prefix once its 4 bytes are in; checks the bounds. */
static int decoder_header(struct control_decoder *d, struct err *e)
{
	struct cursor c = cursor_init(d->hdr, sizeof(d->hdr));
	uint32_t n;
	if (cursor_u32be(&c, &n) < 0)
		return decoder_kill(d, e, ERR_INTERNAL,
				    "control frame: short length prefix");
	if (n == 0)
		return decoder_kill(d, e, ERR_INVALID,
				    "control frame: zero length");
	if (n > d->max_frame) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "control frame: length %u over the %zu byte cap", n,
			 d->max_frame);
		return decoder_kill(d, e, ERR_TOO_LARGE, msg);
	}
	d->frame_len = n;
	buf_clear(&d->body);
	d->body.max = n; /* the body grows only as far as the frame goes */
	d->type_known = false;
	return 0;
}

#define TYPE_PREFIX "{\"type\":\""
#define TYPE_NAME_MAX 15

/*
 * Reads {"type":"NAME" followed by ',' or '}' from the bytes buffered so
 * far: 0 while undecided (complete: the frame is whole, so undecided means
 * refused), 1 once the type is known and the frame's length fits its cap,
 * or the refusal.
 */
static int decoder_peek_type(struct control_decoder *d, bool complete,
			     struct err *e)
{
	static const char bad[] = "control frame: must begin with "
				  "{\"type\":\"NAME\" (type first)";
	const size_t pl = sizeof(TYPE_PREFIX) - 1;
	const uint8_t *b = d->body.p;
	size_t n = d->body.len;
	if (memcmp(b, TYPE_PREFIX, n < pl ? n : pl) != 0)
		return decoder_kill(d, e, ERR_INVALID, bad);
	const uint8_t *q = n > pl ? memchr(b + pl, '"', n - pl) : NULL;
	if (!q || (size_t)(q - b) + 1 >= n) {
		if (complete || n > pl + TYPE_NAME_MAX + 1)
			return decoder_kill(d, e, ERR_INVALID, bad);
		return 0;
	}
	size_t len = (size_t)(q - b) - pl;
	char name[TYPE_NAME_MAX + 1];
	if (len > TYPE_NAME_MAX || (q[1] != ',' && q[1] != '}'))
		return decoder_kill(d, e, ERR_INVALID, bad);
	memcpy(name, b + pl, len);
	name[len] = '\0';
	enum control_type t;
	if (control_type_parse(name, &t) < 0) {
		char msg[96];
		snprintf(msg, sizeof(msg), "control frame: type: unknown "
			 "\"%.15s\"", name);
		return decoder_kill(d, e, ERR_INVALID, msg);
	}
	size_t cap = control_type_cap(t, d->max_frame);
	if (d->frame_len > cap) {
		char msg[128];
		snprintf(msg, sizeof(msg), "control frame: a %s frame of %u "
			 "bytes is over its %zu byte cap", name, d->frame_len,
			 cap);
		return decoder_kill(d, e, ERR_TOO_LARGE, msg);
	}
	d->type = t;
	d->type_known = true;
	return 1;
}

/* Parses a complete body into *out; the buffer is reset either way. */
static int decoder_finish(struct control_decoder *d, struct control_msg *out,
			  struct err *e)
{
	json_t *j = NULL;
	struct err ce = {0};
	int prc = 0;
	if (!d->type_known && (prc = decoder_peek_type(d, true, e)) <= 0)
		return prc < 0 ? prc : -ERR_INVALID;
	size_t budget = d->parse_budget ? d->parse_budget
					: 4 * (size_t)d->frame_len + 65536;
	prc = json_parse_bounded((const char *)d->body.p, d->body.len,
				 "control frame", budget, &j, &ce);
	buf_clear(&d->body);
	d->hdr_len = 0;
	d->type_known = false;
	if (prc < 0)
		return decoder_kill(d, e, prc == -ERR_TOO_LARGE ? ERR_TOO_LARGE
								 : ERR_INVALID,
				    ce.msg);
	enum control_type t;
	if (control_msg_check(j, &t, &ce) < 0) {
		json_decref(j);
		return decoder_kill(d, e, ERR_INVALID, ce.msg);
	}
	/* Keep one frame's worth of memory only while a frame is open. */
	if (d->body.cap > INITIAL_CAP)
		buf_free(&d->body);
	out->type = t;
	out->json = j;
	return 1;
}

int control_decode(struct control_decoder *d, const uint8_t **data,
		   size_t *len, struct control_msg *out, struct err *e)
{
	out->json = NULL;
	if (d->dead)
		return err_set(e, -d->dead, "%s", d->dead_msg);
	struct cursor c = cursor_init(*data, *len);
	int rc = 0;
	while (c.left > 0) {
		const uint8_t *p;
		if (d->hdr_len < sizeof(d->hdr)) {
			size_t k = sizeof(d->hdr) - d->hdr_len;
			if (k > c.left)
				k = c.left;
			if ((rc = cursor_take(&c, k, &p)) < 0)
				break; /* not reached: k <= c.left */
			memcpy(d->hdr + d->hdr_len, p, k);
			d->hdr_len += k;
			if (d->hdr_len < sizeof(d->hdr))
				break;
			if ((rc = decoder_header(d, e)) < 0)
				break;
			continue;
		}
		size_t k = d->frame_len - d->body.len;
		if (k > c.left)
			k = c.left;
		if ((rc = cursor_take(&c, k, &p)) < 0)
			break; /* not reached: k <= c.left */
		if (buf_append(&d->body, p, k) < 0) {
			/* only memory: body.max is frame_len and k fits */
			rc = decoder_kill(d, e, ERR_NOMEM,
					  "control frame: out of memory");
			break;
		}
		if (!d->type_known && d->body.len < d->frame_len &&
		    (rc = decoder_peek_type(d, false, e)) < 0)
			break;
		rc = 0;
		if (d->body.len == d->frame_len) {
			rc = decoder_finish(d, out, e);
			break;
		}
	}
	*data = c.p;
	*len = c.left;
	return rc;
}

void control_wipe_strings(json_t *obj)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
		if (json_is_string(v))
			OPENSSL_cleanse((char *)json_string_value(v),
					json_string_length(v));
}
