/*
 * json_fields.c: strict readers of the JSON fields in sign requests.
 *
 * Every reader takes the path of the enclosing object and the member name, so
 * an error says exactly which field was wrong ("attestation.target.epoch: not a
 * decimal uint64"). Hex and decimal syntax is checked by core's one parser
 * (hex_decode_exact, dec_parse_u64). JSON null counts as absent, as it does
 * for Web3Signer's Jackson mapping; unknown members are never looked at.
 *
 * Trusts: jansson for JSON syntax (strings are NUL-free: json_loadb without
 * JSON_ALLOW_NUL refuses \u0000).
 */
#include "eth2_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void j_path(char out[J_PATH], const char *parent, const char *key)
{
	int n = snprintf(out, J_PATH, "%s%s%s", parent, *parent ? "." : "",
			 key);
	(void)n;
}

const char *j_quote(const char *s, char out[J_QUOTE])
{
	size_t i = 0;
	for (; s[i] && i < 40; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	/* Longer input is cut and marked: 40 + "..." + NUL fits J_QUOTE. */
	memcpy(out + i, s[i] ? "..." : "", s[i] ? 4 : 1);
	return out;
}

bool j_absent(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return !v || json_is_null(v);
}

static int j_member(json_t *obj, const char *path, const char *key,
		    json_t **out, char child[J_PATH], struct err *e)
{
	j_path(child, path, key);
	if (j_absent(obj, key))
		return err_set(e, ERR_INVALID, "%s: missing", child);
	*out = json_object_get(obj, key);
	return 0;
}

int j_object(json_t *obj, const char *path, const char *key, json_t **out,
	     char child_path[J_PATH], struct err *e)
{
	TRY(j_member(obj, path, key, out, child_path, e));
	if (!json_is_object(*out))
		return err_set(e, ERR_INVALID, "%s: expected an object",
			       child_path);
	return 0;
}

int j_u64_value(json_t *v, const char *path, uint64_t *out, struct err *e)
{
	if (json_is_string(v))
		return dec_parse_u64(json_string_value(v), out, e, path);
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return err_set(e, ERR_INVALID,
				       "%s: negative number for a uint64",
				       path);
		*out = (uint64_t)i;
		return 0;
	}
	return err_set(e, ERR_INVALID, "%s: expected a decimal uint64 string",
		       path);
}

int j_u64(json_t *obj, const char *path, const char *key, uint64_t *out,
	  struct err *e)
{
	char p[J_PATH];
	json_t *v = NULL;
	TRY(j_member(obj, path, key, &v, p, e));
	return j_u64_value(v, p, out, e);
}

int j_bytes_value(json_t *v, const char *path, uint8_t *out, size_t len,
		  struct err *e)
{
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s: expected a 0x-hex string",
			       path);
	return hex_decode_exact(json_string_value(v), out, len, e, path);
}

int j_bytes(json_t *obj, const char *path, const char *key, uint8_t *out,
	    size_t len, struct err *e)
{
	char p[J_PATH];
	json_t *v = NULL;
	TRY(j_member(obj, path, key, &v, p, e));
	return j_bytes_value(v, p, out, len, e);
}

int j_array(json_t *obj, const char *path, const char *key, size_t max,
	    json_t **out, struct err *e)
{
	char p[J_PATH];
	TRY(j_member(obj, path, key, out, p, e));
	if (!json_is_array(*out))
		return err_set(e, ERR_INVALID, "%s: expected an array", p);
	if (json_array_size(*out) > max)
		return err_set(e, ERR_INVALID,
			       "%s: %zu elements exceed the limit of %zu", p,
			       json_array_size(*out), max);
	return 0;
}

/* A variable-length 0x-hex byte field of at most max_len bytes, malloc'd. */
static int j_hex_value_alloc(json_t *v, const char *path, size_t max_len,
			     uint8_t **out, size_t *len, struct err *e)
{
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s: expected a 0x-hex string",
			       path);
	return hex_decode_alloc(json_string_value(v), max_len, out, len, e,
				path);
}

/* Variable-length hex of at most max_len bytes (bit fields). */
static int j_hex_alloc(json_t *obj, const char *path, const char *key,
		       size_t max_len, uint8_t **out, size_t *len,
		       char p[J_PATH], struct err *e)
{
	json_t *v = NULL;
	TRY(j_member(obj, path, key, &v, p, e));
	return j_hex_value_alloc(v, p, max_len, out, len, e);
}

int j_bitlist_root(json_t *obj, const char *path, const char *key,
		   uint64_t limit_bits, uint8_t out[32], struct err *e)
{
	char p[J_PATH];
	uint8_t *enc = NULL;
	size_t len = 0;
	/* The encoding of limit_bits data bits plus the delimiter bit. */
	TRY(j_hex_alloc(obj, path, key, (size_t)(limit_bits / 8 + 1), &enc,
			&len, p, e));
	int rc = ssz_bitlist_root(enc, len, limit_bits, out, e, p);
	free(enc);
	return rc;
}

int j_bitvector_root(json_t *obj, const char *path, const char *key,
		     uint64_t n_bits, uint8_t out[32], struct err *e)
{
	char p[J_PATH];
	uint8_t *bytes = NULL;
	size_t len = 0;
	size_t want = (size_t)((n_bits + 7) / 8);
	TRY(j_hex_alloc(obj, path, key, want, &bytes, &len, p, e));
	int rc = ssz_bitvector_root(bytes, len, n_bits, out, e, p);
	free(bytes);
	return rc;
}

int j_bytes_root(json_t *obj, const char *path, const char *key, size_t len,
		 uint8_t out[32], struct err *e)
{
	uint8_t buf[256];
	if (len > sizeof(buf))
		return err_set(e, ERR_INTERNAL, "field too long");
	TRY(j_bytes(obj, path, key, buf, len, e));
	if (ssz_bytes_root(buf, len, 0, out) < 0)
		return err_set(e, ERR_INTERNAL, "ssz: bytes root failed");
	return 0;
}

int j_u64_root(json_t *obj, const char *path, const char *key,
	       uint8_t out[32], struct err *e)
{
	uint64_t v;
	TRY(j_u64(obj, path, key, &v, e));
	ssz_uint64_root(v, out);
	return 0;
}

int j_bool_root(json_t *obj, const char *path, const char *key,
		uint8_t out[32], struct err *e)
{
	char p[J_PATH];
	json_t *v = NULL;
	TRY(j_member(obj, path, key, &v, p, e));
	if (!json_is_boolean(v))
		return err_set(e, ERR_INVALID, "%s: expected true or false", p);
	memset(out, 0, 32);
	out[0] = json_is_true(v) ? 1 : 0;
	return 0;
}

int j_u256_root(json_t *obj, const char *path, const char *key,
		uint8_t out[32], struct err *e)
{
	char p[J_PATH];
	json_t *v = NULL;
	TRY(j_member(obj, path, key, &v, p, e));
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID,
			       "%s: expected a decimal uint256 string", p);
	return dec_parse_u256(json_string_value(v), out, e, p);
}

int j_bytelist_root(json_t *obj, const char *path, const char *key,
		    size_t min_len, size_t max_len, uint8_t out[32],
		    struct err *e)
{
	char p[J_PATH];
	json_t *v = NULL;
	uint8_t *b = NULL;
	size_t len = 0;
	TRY(j_member(obj, path, key, &v, p, e));
	TRY(j_hex_value_alloc(v, p, max_len, &b, &len, e));
	int rc = 0;
	if (len < min_len)
		rc = err_set(e, ERR_INVALID,
			     "%s: %zu bytes, at least %zu required", p, len,
			     min_len);
	else if (ssz_bytes_root(b, len, (max_len + 31) / 32, out) < 0)
		rc = err_set(e, ERR_INTERNAL, "ssz: byte list root failed");
	else
		ssz_mix_in_length(out, len);
	free(b);
	return rc;
}

int j_progressive_bytes_value_root(json_t *v, const char *path,
				   uint8_t out[32], struct err *e)
{
	uint8_t *b = NULL;
	size_t len = 0;
	size_t max = json_is_string(v) ? json_string_length(v) / 2 : 0;
	TRY(j_hex_value_alloc(v, path, max, &b, &len, e));
	int rc = ssz_progressive_bytes_root(b, len, out);
	free(b);
	if (rc < 0)
		return err_set(e, ERR_INTERNAL, "ssz: byte list root failed");
	return 0;
}

int j_progressive_bytes_root(json_t *obj, const char *path, const char *key,
			     uint8_t out[32], struct err *e)
{
	char p[J_PATH];
	json_t *v = NULL;
	TRY(j_member(obj, path, key, &v, p, e));
	return j_progressive_bytes_value_root(v, p, out, e);
}

int j_progressive_bitlist_root(json_t *obj, const char *path, const char *key,
			       uint64_t limit_bits, uint8_t out[32],
			       struct err *e)
{
	char p[J_PATH];
	uint8_t *enc = NULL;
	size_t len = 0;
	TRY(j_hex_alloc(obj, path, key, (size_t)(limit_bits / 8 + 1), &enc,
			&len, p, e));
	int rc = ssz_progressive_bitlist_root(enc, len, limit_bits, out, e, p);
	free(enc);
	return rc;
}
