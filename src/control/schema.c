/*
 * schema.c: what an `init` or `reload` message and its key records must
 * look like (docs/enclave.md), checked before anything else happens: known
 * fields only, each of the right type and bounded, so that the enclave's
 * boot sequence (src/enclave/init.c) reads only shapes it expects.
 *
 * The enclave runs these checks on every message the host sends (the host
 * is untrusted); the host runs control_record_check on each record it
 * builds from the key table, so that an item the enclave would refuse is
 * skipped with a warning instead of failing every key's init. Both link
 * this one copy, so the two cannot disagree. Pure functions of the JSON:
 * no I/O, no KMS, no secrets (records carry only ciphertext).
 */
#include "control/control.h"
#include "aws/aws.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Every member of o is in allowed (NULL-terminated). */
static int only_fields(const json_t *o, const char *const *allowed,
		       const char *what, struct err *e)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], k) != 0)
			i++;
		if (!allowed[i])
			return err_set(e, ERR_INVALID, "%s: unknown field \"%.64s\"",
				       what, k);
	}
	return 0;
}

/* A required (or, with optional, absent-or-) non-empty bounded string. */
static int get_str(const json_t *o, const char *name, bool optional,
		   size_t max, const char **out, const char *what,
		   struct err *e)
{
	const json_t *v = json_object_get(o, name);
	*out = NULL;
	if (!v && optional)
		return 0;
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) > max)
		return err_set(e, ERR_INVALID,
			       "%s: \"%s\" must be a non-empty string of at most "
			       "%zu bytes", what, name, max);
	*out = s;
	return 0;
}

int control_record_check(const json_t *r, size_t i, struct err *e)
{
	static const char *const sample[] = {"pubkey", "kind", "ciphertext_b64",
					     "context", NULL};
	static const char *const envelope[] = {
		"pubkey", "kind", "wrapped_data_key_b64",
		"envelope_ciphertext_b64", "pubkeys", NULL};
	char what[48];
	snprintf(what, sizeof(what), "records[%zu]", i);
	const char *k, *s;
	if (!json_is_object(r))
		return err_set(e, ERR_INVALID, "%s: not an object", what);
	TRY(get_str(r, "kind", false, 16, &k, what, e));
	TRY(get_str(r, "pubkey", false, 128, &s, what, e));
	if (strcmp(k, "sample") == 0) {
		TRY(only_fields(r, sample, what, e));
		TRY(get_str(r, "context", true, 64, &s, what, e));
		if (s && strcmp(s, AWS_RECORD_PURPOSE_KEY) != 0)
			return err_set(e, ERR_INVALID, "%s: \"context\" must be "
				       "\"%s\"", what, AWS_RECORD_PURPOSE_KEY);
		return get_str(r, "ciphertext_b64", false, CONTROL_MAX_SAMPLE_B64,
			       &s, what, e);
	}
	if (strcmp(k, "envelope") != 0)
		return err_set(e, ERR_INVALID,
			       "%s: \"kind\" must be \"sample\" or \"envelope\"",
			       what);
	TRY(only_fields(r, envelope, what, e));
	TRY(get_str(r, "wrapped_data_key_b64", false, 4096, &s, what, e));
	TRY(get_str(r, "envelope_ciphertext_b64", false, 1u << 20, &s, what, e));
	const json_t *pks = json_object_get(r, "pubkeys");
	if (!json_is_array(pks) || json_array_size(pks) == 0 ||
	    json_array_size(pks) > CONTROL_MAX_BUNDLE_KEYS)
		return err_set(e, ERR_INVALID,
			       "%s: \"pubkeys\" must list 1..%d pubkeys", what,
			       CONTROL_MAX_BUNDLE_KEYS);
	return 0;
}

/* An http(s) URL, the form aws_client accepts for an endpoint. */
static int check_endpoint(const json_t *m, const char *name, struct err *e)
{
	const char *s;
	TRY(get_str(m, name, true, 512, &s, "init", e));
	if (s && strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return err_set(e, ERR_INVALID, "init: \"%s\" must be an http(s) "
			       "URL", name);
	return 0;
}

static int check_proxy(const json_t *m, const char *name, struct err *e)
{
	const char *s;
	struct http_addr a;
	struct err ignored = {0};
	TRY(get_str(m, name, true, 128, &s, "init", e));
	if (s && (http_addr_parse(s, &a, &ignored) < 0 ||
		  a.kind == HTTP_ADDR_TCP))
		return err_set(e, ERR_INVALID,
			       "init: \"%s\" must be unix:PATH or "
			       "vsock:CID:PORT", name);
	return 0;
}

/* A DNS name (letters, digits, '-', '.'; labels 1..63) or an IP literal. */
static bool tls_name_ok(const char *n)
{
	uint8_t ip[16];
	if (inet_pton(AF_INET, n, ip) == 1 || inet_pton(AF_INET6, n, ip) == 1)
		return true;
	size_t len = strlen(n), label = 0;
	if (len == 0 || len > 253 || n[0] == '.' || n[len - 1] == '.')
		return false;
	for (const char *p = n; *p; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9');
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (alnum || *p == '-') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static int check_tls_names(const json_t *m, struct err *e)
{
	const json_t *v = json_object_get(m, "tls_names"), *n;
	size_t i;
	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CONTROL_MAX_TLS_NAMES)
		return err_set(e, ERR_INVALID, "init: \"tls_names\" must list 1..%d "
			       "names", CONTROL_MAX_TLS_NAMES);
	json_array_foreach(v, i, n) {
		const char *s = json_string_value(n);
		if (!s || json_string_length(n) != strlen(s) || !tls_name_ok(s))
			return err_set(e, ERR_INVALID, "init: tls_names[%zu] is not "
				       "a DNS name or an IP address", i);
	}
	return 0;
}

static int check_records(const json_t *m, const char *what, struct err *e)
{
	const json_t *recs = json_object_get(m, "records");
	if (!json_is_array(recs) || json_array_size(recs) > CONTROL_MAX_RECORDS)
		return err_set(e, ERR_INVALID,
			       "%s: \"records\" must be an array of at most %d",
			       what, CONTROL_MAX_RECORDS);
	size_t i;
	const json_t *r;
	json_array_foreach(recs, i, r)
		TRY(control_record_check(r, i, e));
	return 0;
}

int control_init_check(const json_t *m, struct err *e)
{
	static const char *const top[] = {
		"type", "region", "credentials", "kms_endpoint", "kms_proxy",
		"dynamodb_endpoint", "dynamodb_proxy", "kms_key_id", "tls_names",
		"network", "slashing_db_url", "key_table", "signer_id", "records",
		NULL};
	const char *s;
	if (!json_is_object(m))
		return err_set(e, ERR_INVALID, "init: not an object");
	TRY(only_fields(m, top, "init", e));
	TRY(get_str(m, "region", false, 64, &s, "init", e));
	TRY(check_endpoint(m, "kms_endpoint", e));
	TRY(check_proxy(m, "kms_proxy", e));
	TRY(check_endpoint(m, "dynamodb_endpoint", e));
	TRY(check_proxy(m, "dynamodb_proxy", e));
	TRY(get_str(m, "kms_key_id", true, AWS_KMS_KEY_ID_MAX - 1, &s, "init", e));
	const char *table;
	TRY(get_str(m, "key_table", true, 255, &table, "init", e));
	if (s && !table)
		return err_set(e, ERR_INVALID, "init: \"kms_key_id\" needs "
			       "\"key_table\" (the TLS key is stored there)");
	TRY(check_tls_names(m, e));
	TRY(get_str(m, "network", false, 64, &s, "init", e));
	if (strchr(s, '/') || strchr(s, '.'))
		return err_set(e, ERR_INVALID,
			       "init: \"network\" must be a network name, not a "
			       "path");
	TRY(get_str(m, "slashing_db_url", false, 1024, &s, "init", e));
	TRY(get_str(m, "signer_id", false, 255, &s, "init", e));
	if (!json_is_object(json_object_get(m, "credentials")))
		return err_set(e, ERR_INVALID,
			       "init: \"credentials\" must be an object");
	return check_records(m, "init", e);
}

int control_reload_check(const json_t *m, struct err *e)
{
	static const char *const top[] = {"type", "records", NULL};
	if (!json_is_object(m))
		return err_set(e, ERR_INVALID, "reload: not an object");
	TRY(only_fields(m, top, "reload", e));
	return check_records(m, "reload", e);
}

