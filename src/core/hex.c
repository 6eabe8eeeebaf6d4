/*
 * hex.c: the one place hex and decimal strings are parsed. Strict: exact
 * lengths, "0x" required, no sign, no spaces, no overflow. Field names go into
 * the error so a client learns which field was wrong.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int decode_digits(const char *d, size_t ndigits, uint8_t *out)
{
	for (size_t i = 0; i < ndigits / 2; i++) {
		int hi = nibble(d[2 * i]), lo = nibble(d[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int hex_decode_exact(const char *s, uint8_t *out, size_t len, struct err *e,
		     const char *field)
{
	if (!s)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return err_set(e, ERR_INVALID, "%s: hex must start with 0x",
			       field);
	size_t n = strlen(s + 2);
	if (n != 2 * len)
		return err_set(e, ERR_INVALID,
			       "%s: expected %zu bytes of hex, got %zu digits",
			       field, len, n);
	if (decode_digits(s + 2, n, out) < 0)
		return err_set(e, ERR_INVALID, "%s: invalid hex digit", field);
	return 0;
}

int hex_decode_alloc(const char *s, size_t max_len, uint8_t **out,
		     size_t *out_len, struct err *e, const char *field)
{
	if (!s)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return err_set(e, ERR_INVALID, "%s: hex must start with 0x",
			       field);
	size_t n = strlen(s + 2);
	if (n % 2)
		return err_set(e, ERR_INVALID, "%s: odd number of hex digits",
			       field);
	if (n / 2 > max_len)
		return err_set(e, ERR_INVALID, "%s: longer than %zu bytes",
			       field, max_len);
	uint8_t *buf = malloc(n / 2 + 1);
	if (!buf)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (decode_digits(s + 2, n, buf) < 0) {
		free(buf);
		return err_set(e, ERR_INVALID, "%s: invalid hex digit", field);
	}
	*out = buf;
	*out_len = n / 2;
	return 0;
}

void hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = digits[in[i] >> 4];
		out[3 + 2 * i] = digits[in[i] & 15];
	}
	out[2 + 2 * len] = '\0';
}

/*
 * The one decimal reader: digits only, no sign, no leading zeros except "0",
 * into an n-byte little-endian unsigned integer, refusing overflow. `what`
 * names the type in messages ("uint64", "uint256").
 */
static int dec_parse_le(const char *s, uint8_t *out, size_t n,
			const char *what, struct err *e, const char *field)
{
	if (!s)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	if (!*s)
		return err_set(e, ERR_INVALID, "%s: empty number", field);
	if (s[0] == '0' && s[1] != '\0')
		return err_set(e, ERR_INVALID, "%s: leading zero", field);
	memset(out, 0, n);
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return err_set(e, ERR_INVALID,
				       "%s: not a decimal %s", field, what);
		/* out = out * 10 + digit, byte by byte with the carry */
		unsigned carry = (unsigned)(*p - '0');
		for (size_t i = 0; i < n; i++) {
			unsigned v = out[i] * 10u + carry;
			out[i] = (uint8_t)v;
			carry = v >> 8;
		}
		if (carry)
			return err_set(e, ERR_INVALID,
				       "%s: out of %s range", field, what);
	}
	return 0;
}

int dec_parse_u64(const char *s, uint64_t *out, struct err *e,
		  const char *field)
{
	uint8_t le[8];
	TRY(dec_parse_le(s, le, sizeof(le), "uint64", e, field));
	*out = 0;
	for (int i = 7; i >= 0; i--)
		*out = (*out << 8) | le[i];
	return 0;
}

int dec_parse_u256(const char *s, uint8_t out[32], struct err *e,
		   const char *field)
{
	return dec_parse_le(s, out, 32, "uint256", e, field);
}
