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
 * allocates. The text writers build strings (SigV4 canonical requests, the
 * interchange export, response bodies) on the same buffer, so there is one
 * growth rule and one bound for bytes and text alike.
 */
#include "core.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
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
	b->failed = false;
}

uint8_t *buf_take(struct buf *b, size_t *len)
{
	uint8_t *p = b->len ? b->p : NULL;
	if (len)
		*len = b->len;
	if (!p)
		free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = false;
	return p;
}

/* ---- text ------------------------------------------------------------- */

int buf_text(struct buf *b, const void *s, size_t n)
{
	if (b->failed)
		return -ERR_INVALID;
	int rc = n < SIZE_MAX ? buf_reserve(b, n + 1) : -ERR_TOO_LARGE;
	if (rc < 0) {
		b->failed = true;
		return rc;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void buf_puts(struct buf *b, const char *s)
{
	(void)buf_text(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
	(void)buf_text(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		(void)buf_text(b, tmp, (size_t)n);
		return;
	}
	/* Longer: format straight into reserved room. */
	if (buf_reserve(b, (size_t)n + 1) < 0) {
		b->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *buf_str(const struct buf *b)
{
	return b->len ? (const char *)b->p : "";
}

char *buf_take_str(struct buf *b)
{
	if (b->failed) {
		buf_free(b);
		return NULL;
	}
	size_t len;
	char *p = (char *)buf_take(b, &len);
	return p ? p : strdup("");
}
