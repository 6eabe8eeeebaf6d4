/*
 * aws_internal.h: helpers shared by the files of the aws module only.
 */
#ifndef NS_AWS_INTERNAL_H
#define NS_AWS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "aws/aws.h"

/* Requests are built with core's text writers on a struct buf bounded by
 * this (a canonical request, a query string, a header line). */
#define AWS_TEXT_MAX (1u << 20)

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
