/*
 * util.c: small helpers of the aws module: millisecond sleeps and the jittered
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
