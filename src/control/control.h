/*
 * control.h: the public header of the control module, the one surface
 * nitro-host (untrusted, on the parent instance) and the enclave share,
 * as OpenSSH's monitor_wrap.c is the only code both of its halves run:
 *
 *   frame.c     the frames of the control port;
 *   schema.c    what an `init` or `reload` message and its key records
 *               must look like (the enclave refuses anything else; the
 *               host checks each record first to skip one it would
 *               refuse);
 *   exchange.c  one request frame out, one reply frame back, on a fresh
 *               connection (the host's side, and the benchmark's).
 *
 * It links only core and http (for ADDR parsing), and reads two constants
 * from aws/aws.h (the owner of the key table's format). The host links
 * this and nothing else of the enclave's: keystores, BLS, the signer and
 * the slashing database never enter the host binary (the integration test
 * test_host_link.sh checks its symbols).
 *
 * Frames: a 4-byte big-endian length followed by that many bytes of
 * compact JSON: one object with a string "type" among init, credentials,
 * status, reload (requests from the host) and reply (the enclave's
 * answers). Both ends treat the other's bytes as untrusted: the decoder is
 * strict, bounded, and once it refuses a frame the stream is dead (every
 * later call fails; the caller closes the connection), because after a
 * bad length nothing that follows can be trusted to start on a frame
 * boundary.
 */
#ifndef NS_CONTROL_H
#define NS_CONTROL_H

#include <stdatomic.h>

#include <jansson.h>

#include "core/core.h"
#include "http/http.h"

/* ---- frames (frame.c) ------------------------------------------------ */

/* The protocol's hard cap on a frame's JSON (DESIGN.md section 8). */
#define CONTROL_MAX_FRAME (16u * 1024u * 1024u)

enum control_type {
	CONTROL_INIT,
	CONTROL_CREDENTIALS,
	CONTROL_STATUS,
	CONTROL_RELOAD,
	CONTROL_REPLY,
};

/* "init", "credentials", ... */
const char *control_type_name(enum control_type t);
/* Exact, case-sensitive match of a "type" value; -ERR_INVALID otherwise. */
NS_MUST_CHECK
int control_type_parse(const char *s, enum control_type *out);

/* A new JSON object {"type": name}; NULL when out of memory. */
NS_MUST_CHECK
json_t *control_msg_new(enum control_type t);

/*
 * Checks a message (an object with a known string "type") and returns its
 * type. Used on both sides: encode refuses what decode would refuse.
 */
NS_MUST_CHECK
int control_msg_check(const json_t *msg, enum control_type *type,
		      struct err *e);

/*
 * Encodes msg as one frame: *out (malloc'd, *out_len bytes) holds the
 * 4-byte big-endian length and the compact JSON, "type" first. Refuses a
 * message that control_msg_check refuses or whose JSON exceeds its type's
 * cap (control_type_cap with CONTROL_MAX_FRAME).
 */
NS_MUST_CHECK
int control_encode(const json_t *msg, uint8_t **out, size_t *out_len,
		   struct err *e);

/*
 * The incremental decoder. Bytes arrive in any chunks (one byte at a time
 * is fine); it keeps at most one frame's bytes, grown as they arrive, so a
 * peer announcing a large length does not make it allocate that length up
 * front. Embed it by value; init before use, free after.
 */
struct control_decoder {
	size_t max_frame;   /* refuse longer frames (<= CONTROL_MAX_FRAME) */
	size_t parse_budget; /* heap the JSON parse may use (0: 4 x frame) */
	bool type_known;    /* the body's {"type":"NAME" prefix was read */
	enum control_type type;
	uint8_t hdr[4];     /* the length prefix as it arrives */
	size_t hdr_len;
	uint32_t frame_len; /* valid once hdr_len == 4 */
	struct buf body;    /* frame_len bytes once complete; wiped */
	int dead;           /* 0, or the negative code of the refusal */
	char dead_msg[sizeof(((struct err *)0)->msg)];
};

/*
 * max_frame 0 means CONTROL_MAX_FRAME; larger values are clamped to it.
 * It bounds init, reload and reply frames; status and credentials frames
 * have small caps of their own (CONTROL_MAX_STATUS, _CREDENTIALS).
 */
void control_decoder_init(struct control_decoder *d, size_t max_frame);
/* The heap a frame's JSON parse may take (json_parse_bounded); 0 keeps the
 * default of 4 x the frame's length + 64 KiB. */
void control_decoder_set_budget(struct control_decoder *d, size_t bytes);

/*
 * A frame's JSON must begin with {"type":"NAME" (compact, the type first:
 * control_encode writes it so), and the decoder reads that prefix as soon
 * as its bytes arrive: a frame announcing more bytes than its type may
 * have is refused before the rest is buffered, and no frame is parsed
 * before its type is known.
 */
#define CONTROL_MAX_STATUS 256u
#define CONTROL_MAX_CREDENTIALS (16u * 1024u)
/* The cap of one type's frames given the decoder's max_frame. */
size_t control_type_cap(enum control_type t, size_t max_frame);
void control_decoder_free(struct control_decoder *d);
bool control_decoder_dead(const struct control_decoder *d);
/* True between frames (no partial frame buffered): a clean place for EOF. */
bool control_decoder_idle(const struct control_decoder *d);

struct control_msg {
	enum control_type type;
	json_t *json; /* the whole object; the caller owns this reference */
};

/*
 * Consumes bytes from (*data, *len), advancing them, until one frame is
 * complete. Returns 1 with *out filled (bytes after that frame stay in
 * (*data, *len) for the next call), 0 when all input was consumed and the
 * frame is incomplete, or a negative code when the stream is refused: a
 * zero or over-cap length (-ERR_TOO_LARGE for the cap), JSON that does not
 * parse (duplicate keys included), a non-object or an unknown type
 * (-ERR_INVALID). After a refusal every call fails with the same code and
 * message. Typical use:
 *     while ((rc = control_decode(d, &p, &n, &msg, e)) > 0) handle(&msg);
 *     if (rc < 0) close the connection;
 */
NS_MUST_CHECK
int control_decode(struct control_decoder *d, const uint8_t **data,
		   size_t *len, struct control_msg *out, struct err *e);

/*
 * Overwrites every string value of obj in place (not recursive; NULL and
 * non-objects are ignored): what both sides do to a message's
 * "credentials" object before releasing it.
 */
void control_wipe_strings(json_t *obj);

/* ---- the schema of init and reload (schema.c) ------------------------ */

/*
 * At most this many records in one init or reload, and they must fit in
 * one frame (CONTROL_MAX_FRAME, 16 MiB of JSON): a per-key record is 2.5 to
 * 3 KiB (at most CONTROL_MAX_SAMPLE_B64 of ciphertext), so 5000 of them
 * take about 15 MiB; an envelope of 3000 keys about 620 KiB. The host
 * refuses to send a list that does not fit, saying so.
 */
#define CONTROL_MAX_RECORDS 5000
#define CONTROL_MAX_SAMPLE_B64 8192
/* The pubkeys one envelope record (one bundle) may list. */
#define CONTROL_MAX_BUNDLE_KEYS 3000
/* init's tls_names: the API certificate's names. */
#define CONTROL_MAX_TLS_NAMES 16

/*
 * The checks of `init` and `reload` messages alone (no KMS, no network):
 * known fields only, each of the right type and bounded. 0, or
 * -ERR_INVALID with the field named in e. What the enclave runs first on
 * every init and reload.
 */
NS_MUST_CHECK
int control_init_check(const json_t *msg, struct err *e);
NS_MUST_CHECK
int control_reload_check(const json_t *msg, struct err *e);

/*
 * One key record as init/reload's schema wants it (records[i] in the
 * message): what the host checks before sending, so that one item the
 * enclave would refuse is skipped instead of failing every key's init.
 */
NS_MUST_CHECK
int control_record_check(const json_t *r, size_t i, struct err *e);

/* ---- one request, one reply (exchange.c) ----------------------------- */

/*
 * Sends `msg` on a new connection to `a` and reads one reply frame
 * (decoded as above, at most CONTROL_MAX_FRAME) within timeout_ms; gives
 * up early when *abort (may be NULL) becomes true. *reply is the reply
 * object (type "reply"; anything else is refused). Blocking, with poll()
 * deadlines. The encoded frame is wiped after sending: init and
 * credentials frames carry the instance role's secret key.
 */
NS_MUST_CHECK
int control_exchange(const struct http_addr *a, const json_t *msg,
		     int timeout_ms, const atomic_bool *abort, json_t **reply,
		     struct err *e);

#endif
