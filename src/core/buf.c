/*
 * buf.c: the writing side of struct cursor, one bounded byte buffer for
 * every place that assembles bytes (frames as they arrive, a bundle's
 * plaintext), after OpenSSH's sshbuf and s2n's stuffer. A buffer never
 * grows past its max, so a length announced by a peer bounds memory only
 * as far as the bytes actually arrive. A wiping buffer holds secrets (the
 * control channel's credentials, key material): its bytes are cleansed
 * before memory is released or reused, and it grows by malloc-copy-wipe,
 * never realloc, which could leave a copy behind. A fixed buffer writes
 * into the caller's memory (a struct secret, a stack array) and never
 * allocates.
 */
#include "core.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_CAP 256

void buf_init(struct buf *b, size_t max, bool wipe)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	b->wipe = wipe;
}

void buf_init_fixed(struct buf *b, void *mem, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->p = mem;
	b->cap = b->max = cap;
	b->fixed = true;
}

int buf_reserve(struct buf *b, size_t n)
{
	if (n > b->max - b->len)
		return -ERR_TOO_LARGE;
	size_t need = b->len + n;
	if (need <= b->cap)
		return 0;
	if (b->fixed)
		return -ERR_TOO_LARGE;
	size_t cap = b->cap > BUF_MIN_CAP ? b->cap : BUF_MIN_CAP;
	while (cap < need && cap <= b->max / 2)
		cap *= 2;
	if (cap < need)
		cap = need;
	if (cap > b->max)
		cap = b->max; /* still >= need, as need <= max */
	uint8_t *np = malloc(cap);
	if (!np)
		return -ERR_NOMEM;
	if (b->len)
		memcpy(np, b->p, b->len);
	uint8_t *old = b->p;
	size_t old_cap = b->cap;
	b->p = np;
	b->cap = cap;
	if (old && b->wipe)
		OPENSSL_cleanse(old, old_cap);
	free(old);
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	TRY(buf_reserve(b, n));
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_u8(struct buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

int buf_u32be(struct buf *b, uint32_t v)
{
	const uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			       (uint8_t)(v >> 8), (uint8_t)v};
	return buf_append(b, be, sizeof(be));
}

void buf_clear(struct buf *b)
{
	if (b->wipe && b->len)
		OPENSSL_cleanse(b->p, b->len);
	b->len = 0;
}

void buf_free(struct buf *b)
{
	if (b->fixed) {
		buf_clear(b);
		return;
	}
	if (b->p && b->wipe)
		OPENSSL_cleanse(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
