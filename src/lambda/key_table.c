/*
 * key_table.c: what the control Lambda reads from the key table (docs/aws.md
 * for the item layout, aws.h for the attribute names).
 *
 *  - the signer's TLS certificate: tls_cert_pem of the item {SIGNER_ID,
 *    "tls:server"} that the enclave writes when its TLS key is born
 *    (src/enclave/tls_key.c). The Lambda pins its HTTPS connections to it:
 *    the load balancer's DNS name is in no certificate, and the attestation
 *    check ties this certificate to the enclave image (attest.c);
 *  - the enabled key records of SIGNER_ID: per-key items ("0x" + 96 hex
 *    digits) and envelope bundles (their envelope_pubkeys), skipping items
 *    with active = false and the enclave's own sealed items, as nitro-host
 *    does (src/host/records.c) before it hands records to the enclave.
 *
 * Items are untrusted (anyone who can write the table could put anything
 * there): each attribute is checked for its exact shape and what does not
 * fit is counted as skipped, never passed on.
 */
#include "lambda/lambda.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aws/aws.h"
#include "http/http.h"

#define CERT_PEM_MAX (16 * 1024)
#define PUBKEY_HEX_LEN 96
#define MAX_ITEMS 100000

/* The string of a {"S": ".."} attribute, or NULL. */
static const char *attr_s(const json_t *item, const char *name)
{
	const json_t *a = json_object_get(item, name);
	const json_t *s = json_is_object(a) && json_object_size(a) == 1
				  ? json_object_get(a, "S") : NULL;
	if (!json_is_string(s) || json_string_length(s) == 0 ||
	    strlen(json_string_value(s)) != json_string_length(s))
		return NULL;
	return json_string_value(s);
}

void lambda_cert_clear(struct lambda_cert *c)
{
	free(c->der);
	free(c->pem);
	memset(c, 0, sizeof(*c));
}

int lambda_cert_from_pem(const char *pem, struct lambda_cert *c, struct err *e)
{
	memset(c, 0, sizeof(*c));
	size_t len = strlen(pem);
	if (len > CERT_PEM_MAX)
		return err_set(e, ERR_TOO_LARGE, "certificate PEM over %d bytes",
			       CERT_PEM_MAX);
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	int n = x ? i2d_X509(x, NULL) : -1;
	int rc = 0;
	if (n <= 0) {
		rc = err_set(e, ERR_INVALID, "not a PEM certificate");
	} else if (!(c->der = malloc((size_t)n)) || !(c->pem = strdup(pem))) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
	} else {
		uint8_t *p = c->der;
		c->der_len = (size_t)i2d_X509(x, &p);
		unsigned int dl = 0;
		if (EVP_Digest(c->der, c->der_len, c->sha256, &dl, EVP_sha256(),
			       NULL) != 1 ||
		    http_tls_spki_sha256(x, c->spki_sha256) < 0)
			rc = err_set(e, ERR_CRYPTO, "certificate digest failed");
	}
	X509_free(x);
	ERR_clear_error();
	if (rc < 0)
		lambda_cert_clear(c);
	return rc;
}

int lambda_signer_cert(struct lambda_ctx *x, struct lambda_cert *out,
		       struct err *e)
{
	const struct lambda_config *cfg = x->cfg;
	json_t *key = json_pack("{s:{s:s},s:{s:s}}", AWS_KT_SIGNER_ID, "S",
				cfg->signer_id, AWS_KT_PUBKEY, "S",
				AWS_KT_TLS_SERVER_ITEM);
	json_t *item = NULL;
	int rc = key ? aws_ddb_get_item(x->aws, cfg->key_table, key, true,
					&item, e)
		     : err_set(e, ERR_NOMEM, "out of memory");
	json_decref(key);
	if (rc < 0)
		return err_prefix(e, "key table %s: ", cfg->key_table);
	if (!item) {
		return err_set(e, ERR_NOT_FOUND, "key table %s has no %s item "
			       "for signer id %s: the enclave has not made its "
			       "TLS key yet", cfg->key_table,
			       AWS_KT_TLS_SERVER_ITEM, cfg->signer_id);
	}
	const char *pem = attr_s(item, AWS_KT_TLS_CERT);
	rc = pem ? lambda_cert_from_pem(pem, out, e)
		 : err_set(e, ERR_INVALID, "%s is missing or not a string",
			   AWS_KT_TLS_CERT);
	json_decref(item);
	if (rc < 0)
		return err_prefix(e, "key table %s, item %s of %s: ",
				  cfg->key_table, AWS_KT_TLS_SERVER_ITEM,
				  cfg->signer_id);
	return 0;
}

bool lambda_pubkey_ok(const char *s)
{
	if (!s || strncmp(s, "0x", 2) != 0 || strlen(s) != 2 + PUBKEY_HEX_LEN)
		return false;
	for (const char *p = s + 2; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

/* active absent or {"BOOL": true}: 1; {"BOOL": false}: 0; else -1. */
static int item_active(const json_t *item)
{
	const json_t *a = json_object_get(item, AWS_KT_ACTIVE);
	if (!a)
		return 1;
	const json_t *b = json_is_object(a) && json_object_size(a) == 1
				  ? json_object_get(a, "BOOL") : NULL;
	if (!json_is_boolean(b))
		return -1;
	return json_is_true(b);
}

/* An envelope's pubkeys ({"SS": [..]} or {"L": [{"S": ..}, ..]}) into set;
 * false when any is malformed (then none is added). */
static bool envelope_keys(const json_t *item, json_t *set)
{
	const json_t *a = json_object_get(item, AWS_KT_ENVELOPE_PUBKEYS);
	if (!json_is_object(a) || json_object_size(a) != 1)
		return false;
	const json_t *ss = json_object_get(a, "SS");
	const json_t *arr = ss ? ss : json_object_get(a, "L");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return false;
	size_t i;
	const json_t *v;
	json_array_foreach(arr, i, v) {
		const json_t *s = ss ? v : (json_is_object(v) ? json_object_get(v, "S") : NULL);
		if (!lambda_pubkey_ok(json_string_value(s)))
			return false;
	}
	json_array_foreach(arr, i, v) {
		const json_t *s = ss ? v : json_object_get(v, "S");
		json_object_set_new(set, json_string_value(s), json_true());
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of set, sorted, as a JSON array. */
static json_t *sorted_keys(json_t *set)
{
	size_t n = json_object_size(set), i = 0;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	json_t *arr = json_array();
	if (!names || !arr) {
		free(names);
		json_decref(arr);
		return NULL;
	}
	const char *k;
	json_t *v;
	json_object_foreach(set, k, v)
		names[i++] = k;
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(names[i]));
	free(names);
	return arr;
}

json_t *lambda_public_keys_from_items(const json_t *items)
{
	json_t *set = json_object();
	size_t records = 0, skipped = 0, inactive = 0, i;
	const json_t *it;
	json_array_foreach(items, i, it) {
		const char *pk = attr_s(it, AWS_KT_PUBKEY);
		if (pk && aws_kt_is_enclave_item(pk))
			continue;
		int act = item_active(it);
		if (act == 0) {
			inactive++;
			continue;
		}
		bool ok = pk && act == 1;
		if (ok && strncmp(pk, "envelope:", 9) == 0)
			ok = envelope_keys(it, set);
		else if (ok && lambda_pubkey_ok(pk))
			json_object_set_new(set, pk, json_true());
		else
			ok = false;
		if (ok)
			records++;
		else
			skipped++;
	}
	json_t *keys = set ? sorted_keys(set) : NULL;
	json_decref(set);
	if (!keys)
		return NULL;
	return json_pack("{s:o,s:I,s:I,s:I}", "public_keys", keys, "records",
			 (json_int_t)records, "inactive", (json_int_t)inactive,
			 "skipped_malformed", (json_int_t)skipped);
}

int lambda_public_keys_from_signer(const char *body, size_t len, json_t **out,
				   struct err *e)
{
	json_t *arr = NULL;
	TRY(json_parse_bounded(body, len, "publicKeys", 16 * 1024 * 1024, &arr,
			       e));
	json_t *set = json_object();
	int rc = 0;
	size_t i;
	const json_t *v;
	if (!json_is_array(arr))
		rc = err_set(e, ERR_INVALID, "publicKeys: not a JSON array");
	json_array_foreach(arr, i, v) {
		if (rc < 0)
			break;
		if (!lambda_pubkey_ok(json_string_value(v)))
			rc = err_set(e, ERR_INVALID, "publicKeys: item %zu is not "
				     "a 0x-prefixed 48-byte pubkey", i);
		else if (set)
			json_object_set_new(set, json_string_value(v), json_true());
	}
	json_t *keys = rc == 0 && set ? sorted_keys(set) : NULL;
	json_decref(set);
	json_decref(arr);
	if (rc < 0)
		return rc;
	*out = keys ? json_pack("{s:o}", "public_keys", keys) : NULL;
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

int lambda_table_public_keys(struct lambda_ctx *x, json_t **out, struct err *e)
{
	const struct lambda_config *cfg = x->cfg;
	json_t *names = json_pack("{s:s}", "#p", AWS_KT_SIGNER_ID);
	json_t *vals = json_pack("{s:{s:s}}", ":s", "S", cfg->signer_id);
	struct aws_ddb_query q = {.table = cfg->key_table,
				  .key_condition = {.expr = "#p = :s",
						    .names = names,
						    .values = vals},
				  .consistent = true,
				  .max_items = MAX_ITEMS};
	json_t *items = NULL;
	unsigned pages = 0;
	int rc = names && vals ? aws_ddb_query_all(x->aws, &q, &items, &pages, e)
			       : err_set(e, ERR_NOMEM, "out of memory");
	json_decref(names);
	json_decref(vals);
	if (rc < 0)
		return err_prefix(e, "key table %s: ", cfg->key_table);
	*out = lambda_public_keys_from_items(items);
	json_decref(items);
	return *out ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}
