/*
 * cbor_oracle.c: libcbor behind the guard the product used until it got its
 * own decoder (kept here verbatim in behaviour as the reference for accept
 * and reject), and a structural comparison of our tree with libcbor's.
 */
#include "cbor_oracle.h"

#include <math.h>
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

static int guarded_load(const uint8_t *p, size_t len, size_t max,
			cbor_item_t **out, struct err *e, const char *what)
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


int oracle_cbor_load(const uint8_t *p, size_t len, size_t max,
		     cbor_item_t **out)
{
	return guarded_load(p, len, max, out, NULL, "oracle");
}

cbor_item_t *oracle_cbor_load_raw(const uint8_t *p, size_t len)
{
	struct cbor_load_result res;
	cbor_item_t *it = cbor_load(p, len, &res);
	if (it && (res.error.code != CBOR_ERR_NONE || res.read != len))
		cbor_decref(&it);
	return it;
}

/* IEEE 754 binary16 to double, exactly (every half is a double). */
static double half_value(uint16_t h)
{
	int exp = h >> 10 & 0x1f;
	double mant = h & 0x3ff;
	double v = exp == 0    ? ldexp(mant, -24)
		   : exp == 31 ? (mant == 0 ? INFINITY : NAN)
			       : ldexp(mant + 1024, exp - 25);
	return h & 0x8000 ? -v : v;
}

double oracle_ncbor_float(const struct ncbor *it)
{
	if (it->float_size == 2)
		return half_value((uint16_t)it->v);
	if (it->float_size == 4) {
		uint32_t b = (uint32_t)it->v;
		float f;
		memcpy(&f, &b, sizeof(f));
		return f;
	}
	double d;
	memcpy(&d, &it->v, sizeof(d));
	return d;
}

static bool same_float(const struct ncbor *ours, const cbor_item_t *t)
{
	static const cbor_float_width width[9] = {
		[2] = CBOR_FLOAT_16, [4] = CBOR_FLOAT_32, [8] = CBOR_FLOAT_64};
	if (cbor_float_get_width(t) != width[ours->float_size])
		return false;
	double a = oracle_ncbor_float(ours), b = cbor_float_get_float(t);
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return a == b && signbit(a) == signbit(b);
}

static bool same_string(const struct ncbor *ours, const cbor_item_t *t,
			bool text)
{
	bool definite = text ? cbor_string_is_definite(t)
			     : cbor_bytestring_is_definite(t);
	if (definite != !ours->indefinite)
		return false;
	if (definite) {
		size_t n = text ? cbor_string_length(t) : cbor_bytestring_length(t);
		const uint8_t *h = text ? cbor_string_handle(t)
					: cbor_bytestring_handle(t);
		return n == ours->len && (n == 0 || memcmp(h, ours->bytes, n) == 0);
	}
	size_t n = text ? cbor_string_chunk_count(t)
			: cbor_bytestring_chunk_count(t);
	cbor_item_t **ch = text ? cbor_string_chunks_handle(t)
				: cbor_bytestring_chunks_handle(t);
	if (n != ours->n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!oracle_cbor_same(&ours->items[i], ch[i]))
			return false;
	return true;
}

bool oracle_cbor_same(const struct ncbor *ours, const cbor_item_t *t)
{
	switch (cbor_typeof(t)) {
	case CBOR_TYPE_UINT:
		return ours->type == NCBOR_UINT && ours->v == cbor_get_int(t);
	case CBOR_TYPE_NEGINT:
		return ours->type == NCBOR_NEGINT && ours->v == cbor_get_int(t);
	case CBOR_TYPE_BYTESTRING:
		return ours->type == NCBOR_BYTES && same_string(ours, t, false);
	case CBOR_TYPE_STRING:
		return ours->type == NCBOR_TEXT && same_string(ours, t, true);
	case CBOR_TYPE_ARRAY: {
		if (ours->type != NCBOR_ARRAY ||
		    ours->indefinite != cbor_array_is_indefinite(t) ||
		    ours->n != cbor_array_size(t))
			return false;
		cbor_item_t **it = cbor_array_handle(t);
		for (size_t i = 0; i < ours->n; i++)
			if (!oracle_cbor_same(&ours->items[i], it[i]))
				return false;
		return true;
	}
	case CBOR_TYPE_MAP: {
		if (ours->type != NCBOR_MAP ||
		    ours->indefinite != cbor_map_is_indefinite(t) ||
		    ours->n != cbor_map_size(t))
			return false;
		struct cbor_pair *pr = cbor_map_handle(t);
		for (size_t i = 0; i < ours->n; i++)
			if (!oracle_cbor_same(ncbor_map_key(ours, i), pr[i].key) ||
			    !oracle_cbor_same(ncbor_map_value(ours, i),
					      pr[i].value))
				return false;
		return true;
	}
	case CBOR_TYPE_TAG: {
		if (ours->type != NCBOR_TAG || ours->v != cbor_tag_value(t))
			return false;
		cbor_item_t *inner = cbor_tag_item(t); /* new reference */
		bool same = oracle_cbor_same(&ours->items[0], inner);
		cbor_decref(&inner);
		return same;
	}
	case CBOR_TYPE_FLOAT_CTRL:
		if (cbor_float_get_width(t) == CBOR_FLOAT_0)
			return ours->type == NCBOR_SIMPLE &&
			       ours->v == cbor_ctrl_value(t);
		return ours->type == NCBOR_FLOAT && same_float(ours, t);
	}
	return false;
}
