/*
 * aws_internal.h: helpers shared by the files of the aws module only.
 */
#ifndef NS_AWS_INTERNAL_H
#define NS_AWS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "aws/aws.h"

/* A growable NUL-terminated string; on allocation failure it latches `oom`. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Hands the string over (NULL after oom) and resets b. */
char *sbuf_take(struct sbuf *b);
void sbuf_free(struct sbuf *b);

/* Millisecond sleep; full-jitter backoff delay for attempt (0-based). */
void aws_sleep_ms(unsigned ms);
unsigned aws_backoff_ms(unsigned attempt, unsigned base, unsigned cap);

/* Copies a JSON string field into out (bounded); -ERR_INVALID names it. */
int aws_json_str(const json_t *obj, const char *key, bool required,
		 char *out, size_t cap, struct err *e, const char *ctx);
/* Optional base64 field, decoded (malloc'd). */
int aws_json_b64(const json_t *obj, const char *key, bool required,
		 uint8_t **out, size_t *out_len, struct err *e,
		 const char *ctx);

#endif
