/*
 * cursor.c: the bounds-checked reader every parser of untrusted bytes uses.
 * A short read fails with -ERR_TRUNCATED and leaves the cursor unchanged.
 */
#include "core.h"

int cursor_take(struct cursor *c, size_t n, const uint8_t **out)
{
	if (n > c->left)
		return -ERR_TRUNCATED;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

int cursor_u8(struct cursor *c, uint8_t *out)
{
	const uint8_t *p;
	TRY(cursor_take(c, 1, &p));
	*out = p[0];
	return 0;
}

int cursor_u32be(struct cursor *c, uint32_t *out)
{
	const uint8_t *p;
	TRY(cursor_take(c, 4, &p));
	*out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int cursor_u64le(struct cursor *c, uint64_t *out)
{
	const uint8_t *p;
	TRY(cursor_take(c, 8, &p));
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	*out = v;
	return 0;
}
