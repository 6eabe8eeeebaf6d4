/*
 * cbor_util.c: typed reads from a decoded CBOR tree (cbor_decode.c) and
 * our CBOR encoder.
 *
 * The readers check type and size and copy out, so callers never touch a
 * node they have not checked; string lengths are the decoder's, already
 * known to lie inside the input. The encoder writes shortest-form heads into
 * a growing buffer with a hard cap.
 */
#include "nitro_internal.h"

#include <stdlib.h>
#include <string.h>

/* Length of a byte or text string, definite or chunked (the decoder
 * guarantees every chunk is a definite string of the same type). */
static size_t string_len(const struct ncbor *it)
{
	if (!it->indefinite)
		return it->len;
	size_t total = 0;
	for (size_t i = 0; i < it->n; i++)
		total += it->items[i].len;
	return total;
}

static void string_copy(const struct ncbor *it, uint8_t *out)
{
	if (!it->indefinite) {
		if (it->len)
			memcpy(out, it->bytes, it->len);
		return;
	}
	size_t off = 0;
	for (size_t i = 0; i < it->n; i++) {
		if (it->items[i].len)
			memcpy(out + off, it->items[i].bytes, it->items[i].len);
		off += it->items[i].len;
	}
}

static int bytes_check(const struct ncbor *it, size_t min, size_t max,
		       size_t *len, struct err *e, const char *what)
{
	if (!ncbor_is(it, NCBOR_BYTES))
		return err_set(e, ERR_INVALID, "%s: not a byte string", what);
	*len = string_len(it);
	if (*len < min || *len > max)
		return err_set(e, ERR_INVALID, "%s: %zu bytes, want %zu..%zu",
			       what, *len, min, max);
	return 0;
}

int ncbor_bytes_dup(const struct ncbor *it, size_t min, size_t max,
		    uint8_t **out, size_t *len, struct err *e, const char *what)
{
	size_t n;
	TRY(bytes_check(it, min, max, &n, e, what));
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	string_copy(it, p);
	*out = p;
	*len = n;
	return 0;
}

int ncbor_bytes_copy(const struct ncbor *it, size_t min, size_t max,
		     uint8_t *out, size_t *len, struct err *e, const char *what)
{
	size_t n;
	TRY(bytes_check(it, min, max, &n, e, what));
	string_copy(it, out);
	*len = n;
	return 0;
}

int ncbor_text_dup(const struct ncbor *it, size_t max, char **out,
		   struct err *e, const char *what)
{
	if (!ncbor_is(it, NCBOR_TEXT))
		return err_set(e, ERR_INVALID, "%s: not a text string", what);
	size_t n = string_len(it);
	if (n == 0 || n > max)
		return err_set(e, ERR_INVALID, "%s: %zu bytes, want 1..%zu",
			       what, n, max);
	char *s = malloc(n + 1);
	if (!s)
		return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	string_copy(it, (uint8_t *)s);
	s[n] = '\0';
	if (strlen(s) != n) {
		free(s);
		return err_set(e, ERR_INVALID, "%s: contains NUL", what);
	}
	*out = s;
	return 0;
}

bool ncbor_text_is(const struct ncbor *it, const char *s)
{
	size_t n = strlen(s);
	return ncbor_is(it, NCBOR_TEXT) && !it->indefinite && it->len == n &&
	       (n == 0 || memcmp(it->bytes, s, n) == 0);
}

int ncbor_uint(const struct ncbor *it, uint64_t max, uint64_t *out,
	       struct err *e, const char *what)
{
	if (!ncbor_is(it, NCBOR_UINT))
		return err_set(e, ERR_INVALID, "%s: not an unsigned integer",
			       what);
	if (it->v > max)
		return err_set(e, ERR_INVALID, "%s: %llu over %llu", what,
			       (unsigned long long)it->v,
			       (unsigned long long)max);
	*out = it->v;
	return 0;
}

const struct ncbor *ncbor_map_get(const struct ncbor *map, const char *key)
{
	if (!ncbor_is(map, NCBOR_MAP))
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (ncbor_text_is(ncbor_map_key(map, i), key))
			return ncbor_map_value(map, i);
	return NULL;
}

int ncbor_map_check_keys(const struct ncbor *map, const char *const *allowed,
			 size_t n_allowed, struct err *e, const char *what)
{
	if (!ncbor_is(map, NCBOR_MAP))
		return err_set(e, ERR_INVALID, "%s: not a map", what);
	uint64_t seen = 0;
	if (n_allowed > 64)
		return err_set(e, ERR_INTERNAL, "%s: too many keys", what);
	for (size_t i = 0; i < map->n; i++) {
		size_t k;
		for (k = 0; k < n_allowed; k++)
			if (ncbor_text_is(ncbor_map_key(map, i), allowed[k]))
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

/* A head in its shortest form: major type and argument (RFC 8949 4.2.1). */
static void put_head(struct ncbor_out *o, uint8_t major, uint64_t v)
{
	uint8_t h[9];
	size_t n;
	if (v < 24) {
		h[0] = (uint8_t)(major << 5 | v);
		n = 1;
	} else {
		int bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffff ? 4 : 8;
		h[0] = (uint8_t)(major << 5 | (bytes == 1 ? 24 : bytes == 2 ? 25
					     : bytes == 4 ? 26 : 27));
		for (int i = 0; i < bytes; i++)
			h[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
		n = 1 + (size_t)bytes;
	}
	put_raw(o, h, n);
}

void ncbor_put_uint(struct ncbor_out *o, uint64_t v) { put_head(o, 0, v); }

void ncbor_put_negint(struct ncbor_out *o, uint64_t v) { put_head(o, 1, v); }

void ncbor_put_bytes(struct ncbor_out *o, const uint8_t *p, size_t len)
{
	put_head(o, 2, len);
	put_raw(o, p, len);
}

void ncbor_put_text(struct ncbor_out *o, const char *s)
{
	size_t len = strlen(s);
	put_head(o, 3, len);
	put_raw(o, s, len);
}

void ncbor_put_array(struct ncbor_out *o, size_t n) { put_head(o, 4, n); }

void ncbor_put_map(struct ncbor_out *o, size_t n) { put_head(o, 5, n); }

void ncbor_put_null(struct ncbor_out *o) { put_head(o, 7, NCBOR_NULL); }

void ncbor_put_bool(struct ncbor_out *o, bool v)
{
	put_head(o, 7, v ? NCBOR_TRUE : NCBOR_FALSE);
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
