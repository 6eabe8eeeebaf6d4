/*
 * cbor_decode.c: our CBOR decoder (RFC 8949) for untrusted bytes.
 *
 * The product links no CBOR library: the release build is fully static and
 * Debian's libcbor ships no static archive (docs/dependencies.md). This is
 * the one exception to "no hand-written parsers", kept small and checked
 * against libcbor by a differential fuzz target (tests/fuzz/fuzz_cbor.c).
 *
 * How it works: one recursive descent over a struct cursor, run twice.
 * The first run only checks and counts nodes; nothing is allocated while
 * the input is untrusted. A count is never trusted: a definite array or map
 * must declare fewer items than the bytes left from its header (each item
 * takes at least one byte), a string no more bytes than are left. Nesting
 * is capped at NCBOR_MAX_DEPTH open containers, tags and chunked strings,
 * and exactly one item must fill the input. The second run copies the input
 * and the tree into one block sized by the first run's node count (at most
 * one node per input byte), laying each container's children out
 * contiguously; the tree's strings point into the copy, so ncbor_free() is
 * one free(). An indefinite array or map learns its item count in the
 * checking run (parsing up to its break, once) and keeps it in a list in
 * the order the containers begin, which the second run reads back in the
 * same order: each byte is parsed once per run, however deep the nesting.
 *
 * Accepted as libcbor 0.8 (what the product used before) accepts: integers
 * to 64 bits, definite and chunked strings (a chunk is a definite string of
 * the same major type), definite and indefinite arrays and maps (any key
 * type, duplicates left to the callers), tags, false/true/null/undefined,
 * half, single and double floats. Refused as libcbor refuses: reserved
 * additional information (28..30), indefinite integers and tags, the
 * one-byte tags 6..20 (0xc6..0xd4), simple values other than 20..23 (0xe0..
 * 0xf3, 0xf8), a stray break, and a text string (or chunk) that is not
 * UTF-8 (RFC 3629: no overlong forms, surrogates or code points past
 * U+10FFFF).
 */
#include "nitro_internal.h"

#include <stdlib.h>
#include <string.h>

struct dec {
	struct cursor c;
	size_t len;	    /* the whole input */
	struct ncbor *pool; /* NULL in the checking run */
	size_t cap;	    /* nodes in pool */
	size_t used;	    /* nodes handed out (or counted) */
	bool overflow;	    /* the second run wanted more than cap */
	size_t *indef;	    /* item counts of indefinite arrays and maps, */
	size_t nindef;	    /* in the order they begin */
	size_t indef_cap;
	size_t indef_next;  /* the second run's next one */
	struct err *e;
	const char *what;
};

struct head {
	uint8_t major;
	uint8_t ai;
	uint64_t arg;
	bool indef;
	bool brk;
	size_t start; /* offset of the initial byte */
};

static int truncated(struct dec *d)
{
	return err_set(d->e, ERR_TRUNCATED, "%s: truncated CBOR", d->what);
}

static int malformed(struct dec *d, const char *why, size_t at)
{
	return err_set(d->e, ERR_INVALID, "%s: malformed CBOR at byte %zu (%s)",
		       d->what, at, why);
}

static size_t offset(const struct dec *d) { return d->len - d->c.left; }

/* The initial byte and its argument. Major-type-specific refusals come
 * before the argument bytes are read, as in libcbor. */
static int read_head(struct dec *d, struct head *h)
{
	uint8_t ib;
	const uint8_t *p;
	h->start = offset(d);
	if (cursor_u8(&d->c, &ib) < 0)
		return truncated(d);
	h->major = ib >> 5;
	h->ai = ib & 0x1f;
	h->arg = h->ai;
	h->indef = h->brk = false;
	if (h->ai >= 28 && h->ai <= 30)
		return malformed(d, "reserved additional information", h->start);
	if (h->major == 6 && h->ai >= 6 && h->ai <= 20)
		return malformed(d, "unassigned one-byte tag", h->start);
	if (h->major == 7 && (h->ai < 20 || h->ai == 24))
		return malformed(d, "unassigned simple value", h->start);
	if (h->ai == 31) {
		if (h->major == 7)
			h->brk = true;
		else if (h->major >= 2 && h->major <= 5)
			h->indef = true;
		else
			return malformed(d, "indefinite length on an integer "
					 "or tag", h->start);
		return 0;
	}
	if (h->ai < 24)
		return 0;
	size_t n = (size_t)1 << (h->ai - 24);
	if (cursor_take(&d->c, n, &p) < 0)
		return truncated(d);
	h->arg = 0;
	for (size_t i = 0; i < n; i++)
		h->arg = h->arg << 8 | p[i];
	return 0;
}

/* n consecutive nodes for a container's children (none when checking).
 * Never past cap, whatever the bytes say: the runs agree by construction,
 * and if they did not, the tree is refused instead of overrun. */
static struct ncbor *reserve(struct dec *d, size_t n)
{
	if (!d->pool)
		return NULL; /* the checking run counts nodes in item() */
	if (n > d->cap - d->used) {
		d->overflow = true;
		return NULL;
	}
	struct ncbor *r = d->pool + d->used;
	d->used += n;
	return r;
}

/* RFC 3629 section 4: the well-formed UTF-8 byte sequences. */
static bool utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = p[i];
		size_t more;
		uint8_t lo = 0x80, hi = 0xbf; /* range of the second byte */
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xc2 && b <= 0xdf) {
			more = 1;
		} else if (b >= 0xe0 && b <= 0xef) {
			more = 2;
			lo = b == 0xe0 ? 0xa0 : 0x80;
			hi = b == 0xed ? 0x9f : 0xbf;
		} else if (b >= 0xf0 && b <= 0xf4) {
			more = 3;
			lo = b == 0xf0 ? 0x90 : 0x80;
			hi = b == 0xf4 ? 0x8f : 0xbf;
		} else {
			return false;
		}
		if (len - i <= more || p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xbf)
				return false;
		i += more + 1;
	}
	return true;
}

/* A definite string's bytes, text checked for UTF-8. */
static int string_bytes(struct dec *d, const struct head *h,
			const uint8_t **p)
{
	if (h->arg > d->c.left || cursor_take(&d->c, h->arg, p) < 0)
		return truncated(d);
	if (h->major == 3 && !utf8_valid(*p, h->arg))
		return malformed(d, "text string is not UTF-8", h->start);
	return 0;
}

static int enter(struct dec *d, int depth, const struct head *h)
{
	if (depth >= NCBOR_MAX_DEPTH)
		return err_set(d->e, ERR_INVALID, "%s: CBOR nesting deeper than "
			       "%d at byte %zu", d->what, NCBOR_MAX_DEPTH,
			       h->start);
	return 0;
}

static int item(struct dec *d, int depth, struct ncbor *out);

/* The chunks of an indefinite string up to its break: each a definite
 * string of the same major type. Counts them when out is NULL. */
static int chunks(struct dec *d, uint8_t major, struct ncbor *out,
		  size_t *count)
{
	struct head h;
	size_t n = 0;
	for (;;) {
		TRY(read_head(d, &h));
		if (h.brk)
			break;
		if (h.major != major || h.indef)
			return malformed(d, "chunk is not a definite string of "
					 "the same type", h.start);
		const uint8_t *p;
		TRY(string_bytes(d, &h, &p));
		if (out)
			out[n] = (struct ncbor){
				.type = major == 2 ? NCBOR_BYTES : NCBOR_TEXT,
				.bytes = p, .len = h.arg};
		n++;
	}
	*count = n;
	return 0;
}

/* The checking run over an indefinite array or map: its items, checked
 * and counted, up to and including the break; the count goes to the list
 * the second run reads (a slot taken before the items, so the list is in
 * the order containers begin). */
static int indef_check(struct dec *d, int depth, bool map)
{
	if (d->nindef == d->indef_cap) {
		size_t cap = d->indef_cap ? d->indef_cap * 2 : 16;
		size_t *n = realloc(d->indef, cap * sizeof(*n));
		if (!n)
			return err_set(d->e, ERR_NOMEM, "%s: out of memory", d->what);
		d->indef = n;
		d->indef_cap = cap;
	}
	size_t slot = d->nindef++, count = 0;
	for (;;) {
		struct cursor at = d->c;
		struct head h;
		TRY(read_head(d, &h));
		if (h.brk)
			break;
		d->c = at;
		TRY(item(d, depth, NULL));
		count++;
	}
	if (map && count % 2 != 0)
		return malformed(d, "indefinite map closes on a key", offset(d));
	d->indef[slot] = count;
	return 0;
}

static int string(struct dec *d, int depth, const struct head *h,
		  struct ncbor *out)
{
	const uint8_t *p;
	size_t n;
	if (!h->indef) {
		TRY(string_bytes(d, h, &p));
		if (out) {
			out->bytes = p;
			out->len = h->arg;
		}
		return 0;
	}
	TRY(enter(d, depth, h));
	if (!out) {
		TRY(chunks(d, h->major, NULL, &n));
		if (!d->pool)
			d->used += n; /* the checking run's count */
		return 0;
	}
	struct cursor save = d->c;
	TRY(chunks(d, h->major, NULL, &n));
	d->c = save;
	out->indefinite = true;
	out->items = reserve(d, n);
	out->n = n;
	return chunks(d, h->major, out->items, &n);
}

static int container(struct dec *d, int depth, const struct head *h,
		     struct ncbor *out)
{
	bool map = h->major == 5;
	uint64_t items;
	if (h->indef) {
		TRY(enter(d, depth, h));
		if (!d->pool)
			return indef_check(d, depth + 1, map);
		if (d->indef_next >= d->nindef) {
			d->overflow = true; /* the runs disagree: refused */
			return -ERR_INTERNAL;
		}
		items = d->indef[d->indef_next++];
	} else {
		if (map && h->arg > SIZE_MAX / 2)
			return malformed(d, "map count overflows", h->start);
		items = map ? h->arg * 2 : h->arg;
		if (items >= d->len - h->start)
			return err_set(d->e, ERR_TRUNCATED,
				       "%s: truncated CBOR (a count exceeds the "
				       "bytes left at byte %zu)", d->what,
				       h->start);
		if (items > 0)
			TRY(enter(d, depth, h));
	}
	if (map && items % 2 != 0)
		return malformed(d, "indefinite map closes on a key",
				 offset(d));
	struct ncbor *kids = reserve(d, items);
	if (out) {
		out->indefinite = h->indef;
		out->items = kids;
		out->n = map ? items / 2 : items;
	}
	for (uint64_t i = 0; i < items; i++)
		TRY(item(d, depth + 1, kids ? &kids[i] : NULL));
	if (h->indef) {
		struct head b;
		TRY(read_head(d, &b)); /* the break the checking run saw */
		if (!b.brk)
			return malformed(d, "missing break", b.start);
	}
	return 0;
}

static const enum ncbor_type major_type[8] = {
	NCBOR_UINT, NCBOR_NEGINT, NCBOR_BYTES, NCBOR_TEXT,
	NCBOR_ARRAY, NCBOR_MAP, NCBOR_TAG, NCBOR_SIMPLE,
};

/* One item at `depth` open frames, into *out (NULL: check and count). */
static int item(struct dec *d, int depth, struct ncbor *out)
{
	struct head h;
	TRY(read_head(d, &h));
	if (h.brk)
		return malformed(d, "break outside an indefinite item", h.start);
	if (out)
		*out = (struct ncbor){.type = major_type[h.major], .v = h.arg};
	else if (!d->pool)
		d->used++; /* the checking run's count */
	switch (h.major) {
	case 2:
	case 3:
		return string(d, depth, &h, out);
	case 4:
	case 5:
		return container(d, depth, &h, out);
	case 6: {
		TRY(enter(d, depth, &h));
		struct ncbor *inner = reserve(d, 1);
		if (out) {
			out->items = inner;
			out->n = 1;
		}
		return item(d, depth + 1, inner);
	}
	case 7:
		if (out && h.ai >= 25) {
			out->type = NCBOR_FLOAT;
			out->float_size = (uint8_t)(1u << (h.ai - 24));
		}
		return 0;
	default:
		return 0;
	}
}

int ncbor_decode(const uint8_t *p, size_t len, size_t max, struct ncbor **out,
		 struct err *e, const char *what)
{
	struct dec d = {.c = cursor_init(p, len), .len = len, .e = e,
			.what = what};
	*out = NULL;
	if (len > max)
		return err_set(e, ERR_TOO_LARGE, "%s: %zu bytes, limit %zu",
			       what, len, max);
	if (len == 0)
		return err_set(e, ERR_TRUNCATED, "%s: empty", what);
	int rc = item(&d, 0, NULL);
	if (rc == 0 && d.c.left != 0)
		rc = err_set(e, ERR_INVALID, "%s: %zu trailing bytes after CBOR",
			     what, d.c.left);
	size_t nodes = d.used; /* <= len: every node has its own head byte */
	if (rc == 0 && (nodes > len ||
			nodes > (SIZE_MAX - len) / sizeof(struct ncbor)))
		rc = err_set(e, ERR_INTERNAL, "%s: node count", what);
	uint8_t *block = rc == 0 ? malloc(nodes * sizeof(struct ncbor) + len) : NULL;
	if (rc == 0 && !block)
		rc = err_set(e, ERR_NOMEM, "%s: out of memory", what);
	if (rc < 0) {
		free(d.indef);
		return rc;
	}
	uint8_t *copy = block + nodes * sizeof(struct ncbor);
	memcpy(copy, p, len);
	size_t *indef = d.indef, nindef = d.nindef;
	d = (struct dec){.c = cursor_init(copy, len), .len = len,
			 .pool = (struct ncbor *)(void *)block, .cap = nodes,
			 .indef = indef, .nindef = nindef, .e = e, .what = what};
	struct ncbor *root = reserve(&d, 1);
	bool ok = root && item(&d, 0, root) == 0 && !d.overflow &&
		  d.used == nodes && d.c.left == 0 && d.indef_next == nindef;
	free(indef);
	if (!ok) {
		free(block);
		return err_set(e, ERR_INTERNAL, "%s: CBOR decoder: second run "
			       "disagrees", what);
	}
	*out = root;
	return 0;
}

void ncbor_free(struct ncbor *root)
{
	free(root);
}
