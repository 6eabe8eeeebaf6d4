/*
 * cbor_util.c: libcbor on untrusted bytes, bounded.
 *
 * cbor_load() allocates a container's item array when it reads the header,
 * before it knows whether the items exist, and frees trees recursively. So
 * every input first goes through libcbor's streaming decoder with a guard
 * that tracks open containers: a declared count must fit in the bytes that
 * are left (each item takes at least one byte), nesting stays under
 * NCBOR_MAX_DEPTH, indefinite maps close on an even count, and exactly one
 * top-level item fills the input. Only then does cbor_load build the tree.
 *
 * The encoder side wraps cbor_encode_* into a growing buffer with a hard cap.
 */
#include "nitro_internal.h"

#include <stdlib.h>
#include <string.h>

enum guard_kind { G_ARRAY, G_MAP, G_TAG, G_BSTR_CHUNKS, G_TSTR_CHUNKS };

struct guard_frame {
	enum guard_kind kind;
	bool indef;
	uint64_t left;  /* definite: items still to come */
	uint64_t count; /* indefinite: items seen */
};

struct guard {
	struct guard_frame st[NCBOR_MAX_DEPTH];
	int depth;
	size_t after; /* bytes from the current header to the end */
	bool bad;
	bool short_input; /* a count larger than the bytes left */
	bool done;
};

static void item_done(struct guard *g)
{
	while (g->depth > 0) {
		struct guard_frame *f = &g->st[g->depth - 1];
		if (f->kind == G_BSTR_CHUNKS || f->kind == G_TSTR_CHUNKS) {
			g->bad = true; /* only chunk callbacks may land here */
			return;
		}
		if (f->kind == G_TAG) {
			g->depth--;
			continue;
		}
		if (f->indef) {
			f->count++;
			return;
		}
		if (--f->left > 0)
			return;
		g->depth--;
	}
	g->done = true;
}

static void push(struct guard *g, enum guard_kind kind, bool indef,
		 uint64_t left)
{
	if (g->depth >= NCBOR_MAX_DEPTH) {
		g->bad = true;
		return;
	}
	g->st[g->depth++] = (struct guard_frame){kind, indef, left, 0};
}

static void container(struct guard *g, enum guard_kind kind, size_t n)
{
	uint64_t items = kind == G_MAP ? (uint64_t)n * 2 : n;
	if (kind == G_MAP && n > SIZE_MAX / 2)
		g->bad = true;
	else if (items >= g->after) /* the header itself took >= 1 byte */
		g->bad = g->short_input = true;
	else if (items == 0)
		item_done(g);
	else
		push(g, kind, false, items);
}

static struct guard *G(void *ctx) { return ctx; }
static void on_scalar(void *ctx) { item_done(G(ctx)); }
static void on_u8(void *ctx, uint8_t v) { (void)v; item_done(G(ctx)); }
static void on_u16(void *ctx, uint16_t v) { (void)v; item_done(G(ctx)); }
static void on_u32(void *ctx, uint32_t v) { (void)v; item_done(G(ctx)); }
static void on_u64(void *ctx, uint64_t v) { (void)v; item_done(G(ctx)); }
static void on_f4(void *ctx, float v) { (void)v; item_done(G(ctx)); }
static void on_f8(void *ctx, double v) { (void)v; item_done(G(ctx)); }
static void on_bool(void *ctx, bool v) { (void)v; item_done(G(ctx)); }

static void on_string(struct guard *g, enum guard_kind chunks)
{
	if (g->depth > 0) {
		struct guard_frame *f = &g->st[g->depth - 1];
		if (f->kind == G_BSTR_CHUNKS || f->kind == G_TSTR_CHUNKS) {
			if (f->kind != chunks)
				g->bad = true; /* chunk of the other type */
			return;
		}
	}
	item_done(g);
}
static void on_bstr(void *ctx, cbor_data d, size_t n)
{
	(void)d, (void)n;
	on_string(G(ctx), G_BSTR_CHUNKS);
}
static void on_tstr(void *ctx, cbor_data d, size_t n)
{
	(void)d, (void)n;
	on_string(G(ctx), G_TSTR_CHUNKS);
}
static void on_bstr_start(void *ctx) { push(G(ctx), G_BSTR_CHUNKS, true, 0); }
static void on_tstr_start(void *ctx) { push(G(ctx), G_TSTR_CHUNKS, true, 0); }
static void on_array(void *ctx, size_t n) { container(G(ctx), G_ARRAY, n); }
static void on_map(void *ctx, size_t n) { container(G(ctx), G_MAP, n); }
static void on_indef_array(void *ctx) { push(G(ctx), G_ARRAY, true, 0); }
static void on_indef_map(void *ctx) { push(G(ctx), G_MAP, true, 0); }
static void on_tag(void *ctx, uint64_t v) { (void)v; push(G(ctx), G_TAG, false, 1); }

static void on_break(void *ctx)
{
	struct guard *g = ctx;
	if (g->depth == 0 || !g->st[g->depth - 1].indef) {
		g->bad = true;
		return;
	}
	struct guard_frame *f = &g->st[g->depth - 1];
	if (f->kind == G_MAP && f->count % 2 != 0) {
		g->bad = true;
		return;
	}
	g->depth--;
	item_done(g);
}

static const struct cbor_callbacks guard_callbacks = {
	.uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
	.negint8 = on_u8, .negint16 = on_u16, .negint32 = on_u32,
	.negint64 = on_u64,
	.byte_string_start = on_bstr_start, .byte_string = on_bstr,
	.string_start = on_tstr_start, .string = on_tstr,
	.indef_array_start = on_indef_array, .array_start = on_array,
	.indef_map_start = on_indef_map, .map_start = on_map,
	.tag = on_tag,
	.float2 = on_f4, .float4 = on_f4, .float8 = on_f8,
	.undefined = on_scalar, .null = on_scalar, .boolean = on_bool,
	.indef_break = on_break,
};

static int guard_walk(const uint8_t *p, size_t len, struct err *e,
		      const char *what)
{
	struct guard g;
	memset(&g, 0, sizeof(g));
	size_t pos = 0;
	while (!g.done) {
		if (pos >= len)
			return err_set(e, ERR_TRUNCATED, "%s: truncated CBOR",
				       what);
		g.after = len - pos;
		struct cbor_decoder_result r =
			cbor_stream_decode(p + pos, len - pos, &guard_callbacks, &g);
		if (r.status == CBOR_DECODER_NEDATA)
			return err_set(e, ERR_TRUNCATED, "%s: truncated CBOR",
				       what);
		if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
			return err_set(e, ERR_INVALID, "%s: malformed CBOR",
				       what);
		if (g.short_input)
			return err_set(e, ERR_TRUNCATED, "%s: truncated CBOR "
				       "(a count exceeds the bytes left)", what);
		if (g.bad)
			return err_set(e, ERR_INVALID,
				       "%s: malformed CBOR (count, nesting or "
				       "chunk)", what);
		pos += r.read;
	}
	if (pos != len)
		return err_set(e, ERR_INVALID, "%s: %zu trailing bytes after CBOR",
			       what, len - pos);
	return 0;
}

int ncbor_load(const uint8_t *p, size_t len, size_t max, cbor_item_t **out,
	       struct err *e, const char *what)
{
	*out = NULL;
	if (len > max)
		return err_set(e, ERR_TOO_LARGE, "%s: %zu bytes, limit %zu",
			       what, len, max);
	if (len == 0)
		return err_set(e, ERR_TRUNCATED, "%s: empty", what);
	TRY(guard_walk(p, len, e, what));
	struct cbor_load_result res;
	cbor_item_t *it = cbor_load(p, len, &res);
	if (!it || res.error.code != CBOR_ERR_NONE || res.read != len) {
		if (it)
			cbor_decref(&it);
		return res.error.code == CBOR_ERR_MEMERROR
			       ? err_set(e, ERR_NOMEM, "%s: out of memory", what)
			       : err_set(e, ERR_INVALID, "%s: malformed CBOR",
					 what);
	}
	*out = it;
	return 0;
}

/* Length of a byte or text string, definite or chunked; false if a chunk
 * is not a definite string (libcbor guarantees it, we check anyway). */
static bool string_len(const cbor_item_t *it, bool text, size_t *len)
{
	bool definite = text ? cbor_string_is_definite(it)
			     : cbor_bytestring_is_definite(it);
	if (definite) {
		*len = text ? cbor_string_length(it) : cbor_bytestring_length(it);
		return true;
	}
	size_t n = text ? cbor_string_chunk_count(it)
			: cbor_bytestring_chunk_count(it);
	cbor_item_t **ch = text ? cbor_string_chunks_handle(it)
				: cbor_bytestring_chunks_handle(it);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		bool ok = text ? cbor_isa_string(ch[i]) && cbor_string_is_definite(ch[i])
			       : cbor_isa_bytestring(ch[i]) &&
					 cbor_bytestring_is_definite(ch[i]);
		if (!ok)
			return false;
		total += text ? cbor_string_length(ch[i])
			      : cbor_bytestring_length(ch[i]);
	}
	*len = total;
	return true;
}

static void string_copy(const cbor_item_t *it, bool text, uint8_t *out)
{
	bool definite = text ? cbor_string_is_definite(it)
			     : cbor_bytestring_is_definite(it);
	if (definite) {
		size_t n = text ? cbor_string_length(it) : cbor_bytestring_length(it);
		if (n)
			memcpy(out, text ? cbor_string_handle(it)
					 : cbor_bytestring_handle(it), n);
		return;
	}
	size_t n = text ? cbor_string_chunk_count(it)
			: cbor_bytestring_chunk_count(it);
	cbor_item_t **ch = text ? cbor_string_chunks_handle(it)
				: cbor_bytestring_chunks_handle(it);
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = text ? cbor_string_length(ch[i])
				: cbor_bytestring_length(ch[i]);
		if (l)
			memcpy(out + off, text ? cbor_string_handle(ch[i])
					       : cbor_bytestring_handle(ch[i]), l);
		off += l;
	}
}

static int bytes_check(const cbor_item_t *it, size_t min, size_t max,
		       size_t *len, struct err *e, const char *what)
{
	if (!it || !cbor_isa_bytestring(it))
		return err_set(e, ERR_INVALID, "%s: not a byte string", what);
	if (!string_len(it, false, len))
		return err_set(e, ERR_INVALID, "%s: bad chunk", what);
	if (*len < min || *len > max)
		return err_set(e, ERR_INVALID, "%s: %zu bytes, want %zu..%zu",
			       what, *len, min, max);
	return 0;
}

int ncbor_bytes_dup(const cbor_item_t *it, size_t min, size_t max,
		    uint8_t **out, size_t *len, struct err *e, const char *what)
{
	size_t n;
	TRY(bytes_check(it, min, max, &n, e, what));
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	string_copy(it, false, p);
	*out = p;
	*len = n;
	return 0;
}

int ncbor_bytes_copy(const cbor_item_t *it, size_t min, size_t max,
		     uint8_t *out, size_t *len, struct err *e, const char *what)
{
	size_t n;
	TRY(bytes_check(it, min, max, &n, e, what));
	string_copy(it, false, out);
	*len = n;
	return 0;
}

int ncbor_text_dup(const cbor_item_t *it, size_t max, char **out,
		   struct err *e, const char *what)
{
	size_t n;
	if (!it || !cbor_isa_string(it))
		return err_set(e, ERR_INVALID, "%s: not a text string", what);
	if (!string_len(it, true, &n))
		return err_set(e, ERR_INVALID, "%s: bad chunk", what);
	if (n == 0 || n > max)
		return err_set(e, ERR_INVALID, "%s: %zu bytes, want 1..%zu",
			       what, n, max);
	char *s = malloc(n + 1);
	if (!s)
		return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	string_copy(it, true, (uint8_t *)s);
	s[n] = '\0';
	if (strlen(s) != n) {
		free(s);
		return err_set(e, ERR_INVALID, "%s: contains NUL", what);
	}
	*out = s;
	return 0;
}

bool ncbor_text_is(const cbor_item_t *it, const char *s)
{
	size_t n = strlen(s);
	return it && cbor_isa_string(it) && cbor_string_is_definite(it) &&
	       cbor_string_length(it) == n &&
	       memcmp(cbor_string_handle(it), s, n) == 0;
}

int ncbor_uint(const cbor_item_t *it, uint64_t max, uint64_t *out,
	       struct err *e, const char *what)
{
	if (!it || !cbor_isa_uint(it))
		return err_set(e, ERR_INVALID, "%s: not an unsigned integer",
			       what);
	uint64_t v = cbor_get_int(it);
	if (v > max)
		return err_set(e, ERR_INVALID, "%s: %llu over %llu", what,
			       (unsigned long long)v, (unsigned long long)max);
	*out = v;
	return 0;
}

cbor_item_t *ncbor_map_get(const cbor_item_t *map, const char *key)
{
	if (!map || !cbor_isa_map(map))
		return NULL;
	struct cbor_pair *pairs = cbor_map_handle(map);
	size_t n = cbor_map_size(map);
	for (size_t i = 0; i < n; i++)
		if (ncbor_text_is(pairs[i].key, key))
			return pairs[i].value;
	return NULL;
}

int ncbor_map_check_keys(const cbor_item_t *map, const char *const *allowed,
			 size_t n_allowed, struct err *e, const char *what)
{
	if (!map || !cbor_isa_map(map))
		return err_set(e, ERR_INVALID, "%s: not a map", what);
	struct cbor_pair *pairs = cbor_map_handle(map);
	size_t n = cbor_map_size(map);
	uint64_t seen = 0;
	if (n_allowed > 64)
		return err_set(e, ERR_INTERNAL, "%s: too many keys", what);
	for (size_t i = 0; i < n; i++) {
		size_t k;
		for (k = 0; k < n_allowed; k++)
			if (ncbor_text_is(pairs[i].key, allowed[k]))
				break;
		if (k == n_allowed)
			return err_set(e, ERR_INVALID, "%s: unexpected key #%zu",
				       what, i);
		if (seen & (1ull << k))
			return err_set(e, ERR_INVALID, "%s: duplicate key %s",
				       what, allowed[k]);
		seen |= 1ull << k;
	}
	return 0;
}

/* ---- encoder ---------------------------------------------------------------- */

void ncbor_out_init(struct ncbor_out *o, size_t max)
{
	buf_init(&o->b, max, false);
	o->failed = false;
}

/* Appends all or nothing; the first failure sticks. */
static void put_raw(struct ncbor_out *o, const void *p, size_t n)
{
	if (!o->failed && buf_append(&o->b, p, n) < 0)
		o->failed = true;
}

/* Headers are at most 9 bytes: encode into a scratch area, then append. */
#define HEADER(o, call)                                                        \
	do {                                                                   \
		uint8_t h_[9];                                                 \
		size_t n_ = (call);                                            \
		if (n_ == 0)                                                   \
			(o)->failed = true;                                    \
		else                                                           \
			put_raw((o), h_, n_);                                  \
	} while (0)

void ncbor_put_uint(struct ncbor_out *o, uint64_t v)
{
	HEADER(o, cbor_encode_uint(v, h_, sizeof(h_)));
}

void ncbor_put_negint(struct ncbor_out *o, uint64_t v)
{
	HEADER(o, cbor_encode_negint(v, h_, sizeof(h_)));
}

void ncbor_put_bytes(struct ncbor_out *o, const uint8_t *p, size_t len)
{
	HEADER(o, cbor_encode_bytestring_start(len, h_, sizeof(h_)));
	put_raw(o, p, len);
}

void ncbor_put_text(struct ncbor_out *o, const char *s)
{
	size_t len = strlen(s);
	HEADER(o, cbor_encode_string_start(len, h_, sizeof(h_)));
	put_raw(o, s, len);
}

void ncbor_put_array(struct ncbor_out *o, size_t n)
{
	HEADER(o, cbor_encode_array_start(n, h_, sizeof(h_)));
}

void ncbor_put_map(struct ncbor_out *o, size_t n)
{
	HEADER(o, cbor_encode_map_start(n, h_, sizeof(h_)));
}

void ncbor_put_null(struct ncbor_out *o)
{
	HEADER(o, cbor_encode_null(h_, sizeof(h_)));
}

void ncbor_put_bool(struct ncbor_out *o, bool v)
{
	HEADER(o, cbor_encode_bool(v, h_, sizeof(h_)));
}

void ncbor_put_opt_bytes(struct ncbor_out *o, const uint8_t *p, size_t len)
{
	if (p)
		ncbor_put_bytes(o, p, len);
	else
		ncbor_put_null(o);
}

int ncbor_out_finish(struct ncbor_out *o, uint8_t **out, size_t *len,
		     struct err *e)
{
	if (o->failed || o->b.len == 0) {
		ncbor_out_free(o);
		return err_set(e, ERR_TOO_LARGE, "CBOR encoding over %zu bytes",
			       o->b.max);
	}
	*out = o->b.p;
	*len = o->b.len;
	o->b.p = NULL; /* handed over */
	o->b.len = o->b.cap = 0;
	return 0;
}

void ncbor_out_free(struct ncbor_out *o)
{
	buf_free(&o->b);
}
