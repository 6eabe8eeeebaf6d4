/*
 * records.c: DynamoDB key-table items -> the key records of the enclave's
 * `init` and `reload` (docs/enclave.md, docs/aws.md).
 *
 * Items are untrusted (anyone with write access to the table could put
 * anything there): each one is checked for the exact shape of a per-key
 * record or an envelope bundle and copied attribute by attribute into a
 * fresh record; anything else is skipped with one warning naming the
 * item's pubkey and the attribute, never passed on. Items with
 * active=false and the enclave's own sealed records ("tls:...",
 * "slashing:...") are not key records and are skipped quietly. Each record built is checked against
 * the schema the enclave applies (control_record_check, the one copy both
 * link), so an item it would refuse is skipped here rather than failing
 * the whole init. The enclave checks everything again.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "aws/aws.h"
#include "control/control.h"
#include "host/host.h"

#define PUBKEY_HEX_LEN 96

/* The string of a {"S": ".."} attribute, or NULL. */
static const char *attr_s(const json_t *item, const char *name)
{
	const json_t *a = json_object_get(item, name);
	if (!json_is_object(a) || json_object_size(a) != 1)
		return NULL;
	const json_t *s = json_object_get(a, "S");
	if (!json_is_string(s) || json_string_length(s) == 0 ||
	    strlen(json_string_value(s)) != json_string_length(s))
		return NULL;
	return json_string_value(s);
}

static bool is_pubkey(const char *s)
{
	if (strncmp(s, "0x", 2) != 0 || strlen(s) != 2 + PUBKEY_HEX_LEN)
		return false;
	for (const char *p = s + 2; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

static int skip(const char *pubkey, const char *attr, const char *why)
{
	char pk[128];
	log_printable(pubkey, pk, sizeof(pk));
	log_warn("run: records: skipped item %s: %s: %s", pk, attr, why);
	return 0;
}

/* envelope_pubkeys: {"SS": [pubkey, ..]} (or a list of {"S"}) in order. */
static json_t *envelope_pubkeys(const json_t *item, const char **why)
{
	_Static_assert(CONTROL_MAX_BUNDLE_KEYS == 3000, "the reason below names the limit");
	const json_t *a = json_object_get(item, AWS_KT_ENVELOPE_PUBKEYS);
	const json_t *ss = json_is_object(a) ? json_object_get(a, "SS") : NULL;
	const json_t *l = json_is_object(a) ? json_object_get(a, "L") : NULL;
	const json_t *arr = ss ? ss : l;
	*why = "missing or not a string set";
	if (!json_is_array(arr) || json_object_size(a) != 1)
		return NULL;
	size_t n = json_array_size(arr);
	if (n == 0 || n > CONTROL_MAX_BUNDLE_KEYS) {
		*why = "expected 1 to 3000 pubkeys";
		return NULL;
	}
	json_t *out = json_array();
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(arr, i);
		if (l)
			v = json_is_object(v) ? json_object_get(v, "S") : NULL;
		if (!json_is_string(v) || !is_pubkey(json_string_value(v)) ||
		    json_array_append_new(out, json_string(json_string_value(v)))) {
			*why = "an entry is not a 0x-prefixed 48-byte pubkey";
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* One item -> a new record in *rec, or NULL (skipped, reason logged). */
static int item_record(const json_t *item, json_t **rec,
		       struct host_records_stats *st)
{
	*rec = NULL;
	const char *pk = attr_s(item, AWS_KT_PUBKEY);
	if (!pk) {
		st->malformed++;
		return skip("(no pubkey)", "pubkey", "missing or not a string");
	}
	if (aws_kt_is_enclave_item(pk)) {
		st->not_keys++;
		return 0;
	}
	const json_t *act = json_object_get(item, AWS_KT_ACTIVE);
	if (act) {
		const json_t *b = json_is_object(act)
					  ? json_object_get(act, "BOOL") : NULL;
		if (!json_is_boolean(b) || json_object_size(act) != 1) {
			st->malformed++;
			return skip(pk, AWS_KT_ACTIVE, "not a BOOL");
		}
		if (json_is_false(b)) {
			st->inactive++;
			return 0;
		}
	}
	if (strncmp(pk, "envelope:", 9) == 0) {
		const char *wrapped = attr_s(item, AWS_KT_WRAPPED_KEY);
		const char *ct = attr_s(item, AWS_KT_ENVELOPE_CT);
		const char *why = NULL;
		if (!wrapped) {
			st->malformed++;
			return skip(pk, AWS_KT_WRAPPED_KEY,
				    "missing or not a string");
		}
		if (!ct) {
			st->malformed++;
			return skip(pk, AWS_KT_ENVELOPE_CT,
				    "missing or not a string");
		}
		json_t *pks = envelope_pubkeys(item, &why);
		if (!pks) {
			st->malformed++;
			return skip(pk, AWS_KT_ENVELOPE_PUBKEYS, why);
		}
		*rec = json_pack("{s:s,s:s,s:s,s:s,s:o}", "pubkey", pk, "kind",
				 "envelope", "wrapped_data_key_b64", wrapped,
				 "envelope_ciphertext_b64", ct, "pubkeys", pks);
		return *rec ? 0 : -ERR_NOMEM;
	}
	if (strncmp(pk, "0x", 2) == 0) {
		if (!is_pubkey(pk)) {
			st->malformed++;
			return skip(pk, "pubkey", "not a 0x-prefixed 48-byte "
				    "pubkey in lower-case hex");
		}
		const char *ct = attr_s(item, AWS_KT_SAMPLE_CT);
		if (!ct) {
			st->malformed++;
			return skip(pk, AWS_KT_SAMPLE_CT,
				    "missing or not a string");
		}
		/* Optional: the KMS encryption context it was sealed with. */
		const char *ctx = attr_s(item, AWS_RECORD_ATTR_CONTEXT);
		if (json_object_get(item, AWS_RECORD_ATTR_CONTEXT) && !ctx) {
			st->malformed++;
			return skip(pk, AWS_RECORD_ATTR_CONTEXT, "not a string");
		}
		*rec = json_pack("{s:s,s:s,s:s}", "pubkey", pk, "kind",
				 "sample", "ciphertext_b64", ct);
		if (*rec && ctx &&
		    json_object_set_new(*rec, "context", json_string(ctx)) < 0) {
			json_decref(*rec);
			*rec = NULL;
		}
		return *rec ? 0 : -ERR_NOMEM;
	}
	st->malformed++;
	return skip(pk, "pubkey", "neither 0x.., envelope:.. nor tls:..");
}

int host_records_from_items(const json_t *items, json_t **records,
			    struct host_records_stats *st, struct err *e)
{
	memset(st, 0, sizeof(*st));
	*records = NULL;
	if (!json_is_array(items))
		return err_set(e, ERR_INVALID, "records: items are not a list");
	json_t *out = json_array();
	if (!out)
		return err_set(e, ERR_NOMEM, "records: out of memory");
	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *item = json_array_get(items, i);
		json_t *rec = NULL;
		st->items++;
		if (!json_is_object(item)) {
			st->malformed++;
			skip("(not an object)", "item", "not a map");
			continue;
		}
		if (item_record(item, &rec, st) < 0) {
			json_decref(out);
			return err_set(e, ERR_NOMEM, "records: out of memory");
		}
		struct err re = {0};
		const char *pk = rec ? json_string_value(json_object_get(rec, "pubkey"))
				     : NULL;
		if (rec && control_record_check(rec, json_array_size(out), &re) < 0) {
			/* the enclave would refuse the whole init for it */
			st->malformed++;
			skip(pk, "item", re.msg);
			json_decref(rec);
			continue;
		}
		if (rec && json_array_size(out) >= CONTROL_MAX_RECORDS) {
			st->malformed++;
			char why[80];
			snprintf(why, sizeof(why), "over the enclave's limit "
				 "of %d records per init", CONTROL_MAX_RECORDS);
			skip(pk, "item", why);
			json_decref(rec);
			continue;
		}
		if (rec && json_array_append_new(out, rec) < 0) {
			json_decref(out);
			return err_set(e, ERR_NOMEM, "records: out of memory");
		}
		if (rec)
			st->records++;
	}
	*records = out;
	return 0;
}

void host_records_describe(const struct host_records_stats *st, char *out,
			   size_t cap)
{
	const struct {
		size_t n;
		const char *what;
	} kinds[] = {
		{st->inactive, "inactive"},
		{st->not_keys, "the enclave's own (tls:/slashing:)"},
		{st->malformed, "malformed (warned above)"},
	};
	int w = snprintf(out, cap, "%zu records from %zu items", st->records,
			 st->items);
	const char *sep = " (skipped: ";
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!kinds[i].n || w < 0 || (size_t)w >= cap)
			continue;
		w += snprintf(out + w, cap - (size_t)w, "%s%zu %s", sep, kinds[i].n,
			      kinds[i].what);
		sep = ", ";
	}
	if (sep[0] == ',' && w >= 0 && (size_t)w < cap)
		snprintf(out + w, cap - (size_t)w, ")");
}
