/*
 * text.c: Unicode normalisation of secret text (keystore passwords, BIP-39
 * mnemonics and passphrases). libunistring's u8_normalize writes NFKD into a
 * buffer from the secure allocator, so the normalised secret never lands on
 * the ordinary heap. Input must be valid UTF-8 and at most `max` bytes.
 */
#include "crypto.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <uninorm.h>
#include <unistr.h>

/* NFKD can expand one code point to at most 18 bytes of UTF-8. */
#define NFKD_MAX_GROWTH 18

int text_nfkd_secret(const uint8_t *in, size_t len, size_t max,
		     const char *field, struct secret **out, struct err *e)
{
	if (len > max)
		return err_set(e, ERR_INVALID, "%s: longer than %zu bytes", field,
			       max);
	if (len && u8_check(in, len) != NULL)
		return err_set(e, ERR_INVALID, "%s: not valid UTF-8", field);
	struct secret *buf = secret_new(len * NFKD_MAX_GROWTH + 16);
	if (!buf)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	size_t n = 0;
	if (len) {
		n = buf->len;
		uint8_t *r = u8_normalize(UNINORM_NFKD, in, len, buf->bytes, &n);
		if (r != buf->bytes) {
			/* NULL, or did not fit (cannot happen): wipe and refuse. */
			if (r) {
				OPENSSL_cleanse(r, n);
				free(r);
			}
			secret_free(buf);
			return err_set(e, ERR_INVALID,
				       "%s: cannot be normalised (NFKD)", field);
		}
	}
	secret_truncate(buf, n);
	*out = buf;
	return 0;
}
