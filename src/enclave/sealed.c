/*
 * sealed.c: secrets born in the enclave and kept sealed under KMS in the
 * key table, so that every enclave of one signer_id (restarts, a second
 * instance) reopens the same ones: the API's TLS key (tls_key.c) and the
 * slashing table's MAC key (slashing_mac below); and one the operator
 * seals the same way for it, the Keymanager API's bearer token.
 *
 * A record is the key table item {web3signer_uuid: signer_id, pubkey:
 * kind->item_key} with kind->format_attr = kind->format, wrapped_data_key_b64
 * (a KMS GenerateDataKey CiphertextBlob under encryption context {purpose:
 * format, signer_id}), kind->ct_attr (the secret under AES-256-GCM with that
 * data key, AAD "<format>|<signer_id>"), datetime, and whatever public
 * attributes the kind adds (the TLS certificate). The data key is only ever
 * released to the enclave's attested Recipient (GenerateDataKey and Decrypt
 * both carry it), so the secret is never in the clear outside the enclave.
 *
 * The item comes from DynamoDB through the host and is untrusted: its
 * format, base64 and the AEAD (which binds the signer id and the kind) are
 * checked; a failure writes nothing. Secret bytes only live in struct
 * secret.
 */
#include "enclave/enclave_internal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *item_key(const struct enclave_sealed_store *s,
			const struct enclave_sealed_kind *k)
{
	return json_pack("{s:{s:s},s:{s:s}}", AWS_KT_SIGNER_ID, "S",
			 s->signer_id, AWS_KT_PUBKEY, "S", k->item_key);
}

const char *enclave_item_s(const json_t *item, const char *name)
{
	return json_string_value(json_object_get(json_object_get(item, name),
						 "S"));
}

static json_t *kms_context(const struct enclave_sealed_store *s,
			   const struct enclave_sealed_kind *k)
{
	return json_pack("{s:s,s:s}", "purpose", k->format, "signer_id",
			 s->signer_id);
}

static int aad_of(const struct enclave_sealed_store *s,
		  const struct enclave_sealed_kind *k, char *aad, size_t cap)
{
	return aws_sealed_aad(k->format, s->signer_id, aad, cap);
}

int enclave_sealed_get(const struct enclave_sealed_store *s,
		       const struct enclave_sealed_kind *k, json_t **item,
		       struct err *e)
{
	json_t *key = item_key(s, k);
	if (!key)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = aws_ddb_get_item(s->ddb, s->table, key, true, item, e);
	json_decref(key);
	return rc;
}

int enclave_sealed_open(const struct enclave_sealed_store *s,
			const struct enclave_sealed_kind *k,
			const json_t *item, struct secret **plain,
			struct err *e)
{
	*plain = NULL;
	const char *fmt = enclave_item_s(item, k->format_attr);
	const char *wrapped = enclave_item_s(item, AWS_KT_WRAPPED_KEY);
	const char *ct_b64 = enclave_item_s(item, k->ct_attr);
	if (!fmt || strcmp(fmt, k->format) != 0)
		return err_set(e, ERR_INVALID, "%s is not \"%s\"", k->format_attr,
			       k->format);
	if (!wrapped || !ct_b64)
		return err_set(e, ERR_INVALID, "%s and %s are required",
			       AWS_KT_WRAPPED_KEY, k->ct_attr);
	struct secret *dk = NULL;
	uint8_t *ct = NULL;
	size_t ct_len = 0;
	char aad[300];
	int aad_len = aad_of(s, k, aad, sizeof(aad));
	json_t *ctx = kms_context(s, k);
	int rc = ctx ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = b64_decode(ct_b64, &ct, &ct_len, e, k->ct_attr);
	if (rc == 0)
		rc = enclave_kms_open(s->kms, s->kms_key_id, wrapped, ctx, &dk, e);
	if (rc == 0 && dk->len != 32)
		rc = err_set(e, ERR_CRYPTO, "the data key is not 32 bytes");
	if (rc == 0)
		rc = aws_envelope_open(dk, (const uint8_t *)aad, (size_t)aad_len,
				       ct, ct_len, plain, e);
	secret_free(dk);
	free(ct);
	json_decref(ctx);
	return rc;
}

static void iso8601_now(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A data key for the Recipient: the plaintext opened inside, the blob. */
static int data_key(const struct enclave_sealed_store *s, const json_t *ctx,
		    struct secret **dk, char **blob_b64, struct err *e)
{
	struct aws_kms_data_key k;
	memset(&k, 0, sizeof(k));
	struct aws_kms_recipient r = {s->kms->doc, s->kms->doc_len};
	int rc = aws_kms_generate_data_key(s->kms->kms, s->kms_key_id, "AES_256",
					   ctx, &r, &k, e);
	if (rc == 0 && strcmp(k.plain.key_id, s->kms_key_id) != 0)
		rc = err_set(e, ERR_CRYPTO, "KMS answered for another key than %s",
			     s->kms_key_id);
	if (rc == 0 && !k.plain.for_recipient)
		rc = err_set(e, ERR_CRYPTO, "KMS returned no CiphertextForRecipient");
	if (rc == 0)
		rc = recipient_open(s->kms->rcp, k.plain.for_recipient,
				    k.plain.for_recipient_len, dk, e);
	if (rc == 0 && (*dk)->len != 32) {
		secret_free(*dk);
		*dk = NULL;
		rc = err_set(e, ERR_CRYPTO, "the data key is not 32 bytes");
	}
	if (rc == 0 && !(*blob_b64 = b64_encode(k.blob, k.blob_len))) {
		secret_free(*dk);
		*dk = NULL;
		rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	aws_kms_data_key_clear(&k);
	return rc;
}

int enclave_sealed_put(const struct enclave_sealed_store *s,
		       const struct enclave_sealed_kind *k,
		       const struct secret *plain, const json_t *extra,
		       struct err *e)
{
	char *wrapped = NULL, *ct_b64 = NULL;
	struct secret *dk = NULL;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	json_t *item = NULL, *ctx = kms_context(s, k);
	char aad[300], now[32];
	int aad_len = aad_of(s, k, aad, sizeof(aad));
	iso8601_now(now);
	int rc = ctx ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = data_key(s, ctx, &dk, &wrapped, e);
	if (rc == 0)
		rc = aws_envelope_seal(dk, (const uint8_t *)aad, (size_t)aad_len,
				       plain->bytes, plain->len, &sealed,
				       &sealed_len, e);
	if (rc == 0 && (!(ct_b64 = b64_encode(sealed, sealed_len)) ||
			!(item = json_pack("{s:{s:s},s:{s:s},s:{s:s},s:{s:s},"
					   "s:{s:s},s:{s:s}}",
					   AWS_KT_SIGNER_ID, "S", s->signer_id,
					   AWS_KT_PUBKEY, "S", k->item_key,
					   k->format_attr, "S", k->format,
					   AWS_KT_WRAPPED_KEY, "S", wrapped,
					   k->ct_attr, "S", ct_b64,
					   AWS_KT_DATETIME, "S", now)) ||
			(extra && json_object_update(item, (json_t *)extra) != 0)))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0) {
		struct aws_ddb_expr cond = {"attribute_not_exists(pubkey)", NULL,
					    NULL};
		rc = aws_ddb_put_item(s->ddb, s->table, item, &cond, e);
		if (rc == -ERR_REFUSED)
			rc = 1; /* another enclave stored one first */
	}
	free(wrapped);
	free(ct_b64);
	free(sealed);
	secret_free(dk);
	json_decref(item);
	json_decref(ctx);
	return rc;
}

int enclave_sealed_obtain(const struct enclave_sealed_store *s,
			  const struct enclave_sealed_kind *k,
			  enclave_sealed_make_fn make, void *make_ctx,
			  json_t **item_out, struct secret **plain,
			  bool *created, struct err *e)
{
	json_t *item = NULL;
	*plain = NULL;
	*item_out = NULL;
	*created = false;
	int rc = enclave_sealed_get(s, k, &item, e);
	if (rc == 0 && !item) {
		struct secret *fresh = NULL;
		json_t *extra = json_object();
		rc = extra ? make(make_ctx, &fresh, extra, e)
			   : err_set(e, ERR_NOMEM, "out of memory");
		if (rc == 0)
			rc = enclave_sealed_put(s, k, fresh, extra, e);
		if (rc == 0) {
			*created = true;
			*plain = fresh;
			fresh = NULL;
			/* what was stored: the same attributes the readers see */
			rc = enclave_sealed_get(s, k, &item, e);
		} else if (rc == 1) {
			log_info("%s: another enclave stored it first; using it",
				 k->item_key);
			rc = enclave_sealed_get(s, k, &item, e);
		}
		secret_free(fresh);
		json_decref(extra);
		if (rc == 0 && !item)
			rc = err_set(e, ERR_NOT_FOUND, "the record vanished after "
				     "it was stored");
	}
	if (rc == 0 && !*plain) {
		rc = enclave_sealed_open(s, k, item, plain, e);
		if (rc < 0)
			err_prefix(e, "the stored record: ");
	}
	if (rc < 0) {
		secret_free(*plain);
		*plain = NULL;
		json_decref(item);
		return rc;
	}
	*item_out = item;
	return 0;
}

/* ---- the slashing table's MAC key --------------------------------------- */

static const struct enclave_sealed_kind SLASHING_MAC = {
	.format = "nitro-signer-slashing-mac-v1",
	.item_key = AWS_KT_SLASHING_MAC_ITEM,
	.format_attr = AWS_KT_SEALED_FORMAT,
	.ct_attr = AWS_KT_SEALED_CT,
};

static int make_mac_key(void *ctx, struct secret **plain, json_t *extra,
			struct err *e)
{
	(void)ctx;
	(void)extra;
	struct secret *k = secret_new(32);
	if (!k)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	if (RAND_priv_bytes(k->bytes, 32) != 1) {
		secret_free(k);
		return err_set(e, ERR_CRYPTO, "no randomness for the MAC key");
	}
	*plain = k;
	return 0;
}

int enclave_slashing_mac_obtain(const struct enclave_sealed_store *s,
				uint8_t key[32], struct err *e)
{
	json_t *item = NULL;
	struct secret *plain = NULL;
	bool created = false;
	if (enclave_sealed_obtain(s, &SLASHING_MAC, make_mac_key, NULL, &item,
				  &plain, &created, e) < 0)
		return err_prefix(e, "slashing protection MAC key: ");
	int rc = 0;
	if (plain->len != 32)
		rc = err_set(e, ERR_INVALID, "%s: the sealed key is not 32 bytes",
			     SLASHING_MAC.item_key);
	else
		memcpy(key, plain->bytes, 32);
	secret_free(plain);
	json_decref(item);
	if (rc == 0)
		log_info("slashing protection: MAC key %s for signer %s",
			 created ? "created" : "recovered", s->signer_id);
	return rc;
}

/* ---- the Keymanager API's token ----------------------------------------- */

/* Made by the operator (nitro-keys keymanager token), never by an enclave:
 * there is no make function, only the reading. */
static const struct enclave_sealed_kind KEYMANAGER_TOKEN = {
	.format = AWS_KT_KEYMANAGER_TOKEN_FORMAT,
	.item_key = AWS_KT_KEYMANAGER_TOKEN_ITEM,
	.format_attr = AWS_KT_SEALED_FORMAT,
	.ct_attr = AWS_KT_SEALED_CT,
};

int enclave_keymanager_token_open(const struct enclave_sealed_store *s,
				  struct secret **token, struct err *e)
{
	json_t *item = NULL;
	*token = NULL;
	TRY(enclave_sealed_get(s, &KEYMANAGER_TOKEN, &item, e));
	if (!item)
		return 0;
	int rc = enclave_sealed_open(s, &KEYMANAGER_TOKEN, item, token, e);
	json_decref(item);
	if (rc < 0)
		return err_prefix(e, "%s: ", KEYMANAGER_TOKEN.item_key);
	return 0;
}

/* ---- a key imported through the Keymanager API -------------------------- */

void enclave_keymanager_record_id(const char *signer_id,
				  const uint8_t pk[BLS_PUBKEY_LEN],
				  char out[ENCLAVE_KM_RECORD_ID_MAX])
{
	uint8_t d[32];
	unsigned len = 32;
	char hex[2 + 2 * BLS_PUBKEY_LEN + 1], id[2 + 64 + 1];
	hex_encode(pk, BLS_PUBKEY_LEN, hex);
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	memset(d, 0, sizeof(d));
	if (h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(h, "keymanager|", 11) == 1 &&
	    EVP_DigestUpdate(h, signer_id, strlen(signer_id)) == 1 &&
	    EVP_DigestUpdate(h, "|", 1) == 1 &&
	    EVP_DigestUpdate(h, hex, strlen(hex)) == 1)
		(void)EVP_DigestFinal_ex(h, d, &len);
	EVP_MD_CTX_free(h);
	hex_encode(d, 8, id);
	snprintf(out, ENCLAVE_KM_RECORD_ID_MAX, "envelope:%.16s:0", id + 2);
}

int enclave_keymanager_seal(const struct enclave_sealed_store *s,
			    const struct bls_key *k, const char *chain,
			    struct err *e)
{
	char name[ENCLAVE_KM_RECORD_ID_MAX], aad[600], now[32];
	char hex[2 + 2 * BLS_PUBKEY_LEN + 1];
	enclave_keymanager_record_id(s->signer_id, k->pubkey, name);
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, hex);
	iso8601_now(now);
	int alen = aws_envelope_aad(s->signer_id, name, aad, sizeof(aad));
	json_t *ctx = aws_record_context(AWS_RECORD_PURPOSE_ENVELOPE,
					 s->signer_id);
	struct secret *sk = NULL, *entry = NULL, *pt = NULL, *dk = NULL;
	char *wrapped = NULL, *ct_b64 = NULL;
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	json_t *item = NULL, *vals = NULL;
	int rc = ctx && alen > 0 ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = bls_key_export(k, &sk, e);
	if (rc == 0 && !(entry = secret_new(AWS_BUNDLE_ENTRY)))
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
	if (rc == 0) {
		memcpy(entry->bytes, k->pubkey, BLS_PUBKEY_LEN);
		memcpy(entry->bytes + BLS_PUBKEY_LEN, sk->bytes, 32);
		if (!(pt = aws_bundle_plaintext(entry->bytes, 1)))
			rc = err_set(e, ERR_NOMEM, "out of secure memory");
	}
	if (rc == 0)
		rc = data_key(s, ctx, &dk, &wrapped, e);
	if (rc == 0)
		rc = aws_envelope_seal(dk, (const uint8_t *)aad, (size_t)alen,
				       pt->bytes, pt->len, &sealed, &sealed_len,
				       e);
	if (rc == 0 && (!(ct_b64 = b64_encode(sealed, sealed_len)) ||
			!(item = json_pack(
				  "{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:b},"
				  "s:{s:s},s:{s:s},s:{s:s},s:{s:[s]},s:{s:s},"
				  "s:{s:s},s:{s:s}}",
				  AWS_KT_SIGNER_ID, "S", s->signer_id,
				  AWS_KT_PUBKEY, "S", name, AWS_KT_CHAIN, "S",
				  chain, AWS_KT_DATETIME, "S", now,
				  AWS_KT_ACTIVE, "BOOL", 1,
				  AWS_KT_ENVELOPE_FORMAT, "S",
				  AWS_RECORD_PURPOSE_ENVELOPE,
				  AWS_KT_WRAPPED_KEY, "S", wrapped,
				  AWS_KT_ENVELOPE_CT, "S", ct_b64,
				  AWS_KT_ENVELOPE_PUBKEYS, "SS", hex,
				  AWS_KT_KEY_COUNT, "N", "1", "part", "N", "0",
				  "parts", "N", "1")) ||
			!(vals = json_pack("{s:{s:b}}", ":off", "BOOL", 0))))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0) {
		/* new, or replacing this key's record a delete made inactive */
		struct aws_ddb_expr cond = {
			"attribute_not_exists(pubkey) OR active = :off", NULL,
			vals};
		rc = aws_ddb_put_item(s->ddb, s->table, item, &cond, e);
		if (rc == -ERR_REFUSED)
			rc = err_set(e, ERR_INVALID, "%s is in the key table "
				     "already, active", name);
	}
	secret_free(sk);
	secret_free(entry);
	secret_free(pt);
	secret_free(dk);
	free(wrapped);
	free(ct_b64);
	free(sealed);
	json_decref(item);
	json_decref(vals);
	json_decref(ctx);
	return rc;
}
