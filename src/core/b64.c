/*
 * b64.c: standard base64 (RFC 4648 section 4, padded), as KMS and DynamoDB
 * carry binary fields in JSON and the control channel carries blobs. It lives
 * in core beside hex and decimal, so every module decodes it one way.
 * Decoding is strict, because the input comes from the network: length a
 * multiple of four, padding only at the end, unused trailing bits zero, no
 * whitespace. Decoded secrets go straight into secure memory.
 */
#include "core.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const char ALPHABET[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static size_t b64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

static void b64_encode_into(const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = ALPHABET[(v >> 18) & 63];
		out[o++] = ALPHABET[(v >> 12) & 63];
		out[o++] = i + 1 < len ? ALPHABET[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? ALPHABET[v & 63] : '=';
	}
	out[o] = '\0';
}

char *b64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc(b64_encoded_len(len) + 1);
	if (out)
		b64_encode_into(in, len, out);
	return out;
}

int b64_encode_secret(const uint8_t *in, size_t len, struct secret **out,
		      struct err *e)
{
	size_t n = b64_encoded_len(len);
	struct secret *s = secret_new(n + 1);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	b64_encode_into(in, len, (char *)s->bytes);
	secret_truncate(s, n);
	*out = s;
	return 0;
}

/* Decodes into out (capacity checked by the caller: 3 * len / 4). */
static int b64_decode_into(const char *s, size_t len, uint8_t *out,
			   size_t *out_len, struct err *e, const char *field)
{
	if (len % 4 != 0)
		return err_set(e, ERR_INVALID, "%s: base64 length is not a multiple of 4",
			       field);
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad)
				return err_set(e, ERR_INVALID, "%s: misplaced base64 padding",
					       field);
			v[k] = b64_value(c);
			if (v[k] < 0)
				return err_set(e, ERR_INVALID, "%s: not base64", field);
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return err_set(e, ERR_INVALID, "%s: non-canonical base64", field);
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	*out_len = o;
	return 0;
}

int b64_decode(const char *s, uint8_t **out, size_t *out_len, struct err *e,
	       const char *field)
{
	*out = NULL;
	*out_len = 0;
	if (!s)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	size_t len = strlen(s);
	uint8_t *buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = b64_decode_into(s, len, buf, out_len, e, field);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

int b64_decode_secret(const char *s, struct secret **out, struct err *e,
		      const char *field)
{
	*out = NULL;
	if (!s)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	size_t len = strlen(s), n = 0;
	struct secret *sec = secret_new(len / 4 * 3 + 1);
	if (!sec)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	int rc = b64_decode_into(s, len, sec->bytes, &n, e, field);
	if (rc < 0) {
		secret_free(sec);
		return rc;
	}
	secret_truncate(sec, n);
	*out = sec;
	return 0;
}
