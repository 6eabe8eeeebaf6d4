/*
 * err.c: the error convention. A failing function returns -code and, when the
 * caller asked for one, leaves a user-facing message in struct err.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

int err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
		e->code = (int)code;
	}
	return -(int)code;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -ERR_INTERNAL;
	char prefix[128];
	char old[sizeof(e->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	size_t pl = strnlen(prefix, sizeof(prefix));
	if (pl >= sizeof(e->msg))
		pl = sizeof(e->msg) - 1;
	memcpy(e->msg, prefix, pl);
	size_t ol = strnlen(old, sizeof(old));
	if (ol > sizeof(e->msg) - 1 - pl)
		ol = sizeof(e->msg) - 1 - pl;
	memcpy(e->msg + pl, old, ol);
	e->msg[pl + ol] = '\0';
	return -e->code;
}

const char *err_code_name(int code)
{
	switch (code < 0 ? -code : code) {
	case ERR_OK: return "ok";
	case ERR_INVALID: return "invalid";
	case ERR_NOT_FOUND: return "not_found";
	case ERR_REFUSED: return "refused";
	case ERR_TOO_LARGE: return "too_large";
	case ERR_MEDIA: return "unsupported_media_type";
	case ERR_UNAVAILABLE: return "unavailable";
	case ERR_INTERNAL: return "internal";
	case ERR_NOMEM: return "out_of_memory";
	case ERR_IO: return "io";
	case ERR_CRYPTO: return "crypto";
	case ERR_TRUNCATED: return "truncated";
	case ERR_USAGE: return "usage";
	}
	return "unknown";
}
