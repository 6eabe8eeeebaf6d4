/*
 * util.c: small helpers of the aws module: a growable string for building
 * canonical requests and JSON bodies, millisecond sleeps and the jittered
 * backoff every retry loop in this module uses, and typed field readers for
 * JSON that came from the network (so a wrong type is an error naming the
 * field, never a crash).
 */
#include "aws_internal.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_putc(struct sbuf *b, char c)
{
	sbuf_add(b, &c, 1);
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		sbuf_add(b, tmp, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sbuf_add(b, big, (size_t)n);
	free(big);
}

char *sbuf_take(struct sbuf *b)
{
	char *p = b->oom ? NULL : b->p;
	if (b->oom)
		free(b->p);
	else if (!p)
		p = strdup("");
	memset(b, 0, sizeof(*b));
	return p;
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void aws_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* "Full jitter": uniform in [0, min(cap, base * 2^attempt)]. */
unsigned aws_backoff_ms(unsigned attempt, unsigned base, unsigned cap)
{
	uint64_t ceil = base;
	for (unsigned i = 0; i < attempt && ceil < cap; i++)
		ceil *= 2;
	if (ceil > cap)
		ceil = cap;
	uint32_t r = 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)clock_mono_us();
	/* At least a millisecond, so a storm never becomes a busy loop. */
	return 1 + (unsigned)(r % (ceil + 1));
}

/* The string member `key`: *v NULL when absent/null (an error if required). */
static int field(const json_t *obj, const char *key, bool required,
		 const json_t **v, struct err *e, const char *ctx)
{
	*v = json_object_get(obj, key);
	if (!*v || json_is_null(*v)) {
		*v = NULL;
		return required ? err_set(e, ERR_INVALID, "%s: response has no %s",
					  ctx, key) : 0;
	}
	if (!json_is_string(*v))
		return err_set(e, ERR_INVALID, "%s: response field %s is not a string",
			       ctx, key);
	return 0;
}

int aws_json_str(const json_t *obj, const char *key, bool required,
		 char *out, size_t cap, struct err *e, const char *ctx)
{
	const json_t *v;
	out[0] = '\0';
	TRY(field(obj, key, required, &v, e, ctx));
	if (!v)
		return 0;
	size_t n = json_string_length(v);
	if (n >= cap)
		return err_set(e, ERR_INVALID, "%s: response field %s is too long",
			       ctx, key);
	memcpy(out, json_string_value(v), n);
	out[n] = '\0';
	return 0;
}

int aws_json_b64(const json_t *obj, const char *key, bool required,
		 uint8_t **out, size_t *out_len, struct err *e,
		 const char *ctx)
{
	const json_t *v;
	*out = NULL;
	*out_len = 0;
	TRY(field(obj, key, required, &v, e, ctx));
	if (!v)
		return 0;
	int rc = b64_decode(json_string_value(v), out, out_len, e, key);
	if (rc < 0)
		err_prefix(e, "%s: ", ctx);
	return rc;
}
