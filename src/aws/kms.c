/*
 * kms.c: the KMS calls nitro-signer makes (JSON 1.1, X-Amz-Target
 * TrentService.<Op>): Encrypt, Decrypt, GenerateDataKey,
 * GenerateDataKeyPair, GenerateRandom (each of the last four optionally with
 * a Recipient: an attestation document, after which KMS answers with
 * CiphertextForRecipient instead of Plaintext) and DescribeKey.
 *
 * Requests are built with jansson; binary fields are padded base64.
 * Responses are untrusted: every field is type-checked and base64 decoded
 * strictly; Plaintext goes straight into secure memory and the JSON string
 * that carried it is overwritten before the response is released.
 */
#include "aws_internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOB 6144

/* Overwrites a string member in place (it is about to be freed). */
static void wipe_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

static int set_b64(json_t *req, const char *key, const uint8_t *data,
		   size_t len, struct err *e)
{
	char *s = b64_encode(data, len);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = json_object_set_new(req, key, json_string(s));
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return rc == 0 ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

static int set_str(json_t *req, const char *key, const char *v, struct err *e)
{
	json_t *s = json_string(v);
	if (!s || json_object_set_new(req, key, s) != 0)
		return err_set(e, ERR_INVALID, "KMS: %s is not valid UTF-8", key);
	return 0;
}

static int set_common(json_t *req, const json_t *ctx,
		      const struct aws_kms_recipient *recipient, struct err *e)
{
	if (ctx) {
		if (!json_is_object(ctx))
			return err_set(e, ERR_INVALID,
				       "KMS: encryption context must be an object");
		if (json_object_set(req, "EncryptionContext", (json_t *)ctx) != 0)
			return err_set(e, ERR_NOMEM, "out of memory");
	}
	if (recipient) {
		json_t *r = json_object();
		if (!r || json_object_set_new(req, "Recipient", r) != 0)
			return err_set(e, ERR_NOMEM, "out of memory");
		TRY(set_str(r, "KeyEncryptionAlgorithm", "RSAES_OAEP_SHA_256", e));
		TRY(set_b64(r, "AttestationDocument", recipient->attestation_doc,
			    recipient->len, e));
	}
	return 0;
}

static int call(struct aws_client *c, const char *op, json_t *req,
		json_t **resp, struct err *e)
{
	int rc = aws_client_call(c, AWS_SVC_KMS, op, req, resp, e);
	wipe_field(req, "Plaintext");
	json_decref(req);
	return rc;
}

void aws_kms_plain_clear(struct aws_kms_plain *p)
{
	secret_free(p->plaintext);
	free(p->for_recipient);
	memset(p, 0, sizeof(*p));
}

/* Plaintext (secure memory) or CiphertextForRecipient, as asked. */
static int read_plain_field(json_t *resp, const char *field, bool recipient,
			    const char *ctx, struct aws_kms_plain *out,
			    struct err *e)
{
	TRY(aws_json_str(resp, "KeyId", false, out->key_id, sizeof(out->key_id),
			 e, ctx));
	if (recipient)
		return aws_json_b64(resp, "CiphertextForRecipient", true,
				    &out->for_recipient, &out->for_recipient_len,
				    e, ctx);
	const json_t *pt = json_object_get(resp, field);
	if (!json_is_string(pt))
		return err_set(e, ERR_INVALID, "%s: response has no %s", ctx, field);
	int rc = b64_decode_secret(json_string_value(pt), &out->plaintext, e,
				   field);
	wipe_field(resp, field);
	if (rc < 0)
		err_prefix(e, "%s: ", ctx);
	return rc;
}

static int read_plain(json_t *resp, bool recipient, const char *ctx,
		      struct aws_kms_plain *out, struct err *e)
{
	return read_plain_field(resp, "Plaintext", recipient, ctx, out, e);
}

static int check_key_id(const char *key_id, struct err *e)
{
	if (!key_id || !*key_id || strlen(key_id) >= AWS_KMS_KEY_ID_MAX)
		return err_set(e, ERR_USAGE, "KMS: a key id (1..2047 characters) "
			       "is required");
	return 0;
}

int aws_kms_encrypt(struct aws_client *c, const char *key_id,
		    const uint8_t *plaintext, size_t len,
		    const json_t *encryption_context, uint8_t **blob,
		    size_t *blob_len, struct err *e)
{
	*blob = NULL;
	*blob_len = 0;
	TRY(check_key_id(key_id, e));
	if (len == 0 || len > AWS_KMS_MAX_PLAINTEXT)
		return err_set(e, ERR_TOO_LARGE,
			       "KMS Encrypt: plaintext is %zu bytes; KMS takes 1 to "
			       "%d", len, AWS_KMS_MAX_PLAINTEXT);
	json_t *req = json_object(), *resp = NULL;
	if (!req)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = set_str(req, "KeyId", key_id, e);
	if (rc == 0)
		rc = set_b64(req, "Plaintext", plaintext, len, e);
	if (rc == 0)
		rc = set_common(req, encryption_context, NULL, e);
	if (rc < 0) {
		wipe_field(req, "Plaintext");
		json_decref(req);
		return rc;
	}
	TRY(call(c, "Encrypt", req, &resp, e));
	rc = aws_json_b64(resp, "CiphertextBlob", true, blob, blob_len, e,
			  "KMS Encrypt");
	if (rc == 0 && (*blob_len == 0 || *blob_len > MAX_BLOB)) {
		free(*blob);
		*blob = NULL;
		rc = err_set(e, ERR_INVALID, "KMS Encrypt: CiphertextBlob of %zu bytes",
			     *blob_len);
	}
	json_decref(resp);
	return rc;
}

int aws_kms_decrypt(struct aws_client *c, const char *key_id,
		    const uint8_t *blob, size_t blob_len,
		    const json_t *encryption_context,
		    const struct aws_kms_recipient *recipient,
		    struct aws_kms_plain *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (blob_len == 0 || blob_len > MAX_BLOB)
		return err_set(e, ERR_INVALID,
			       "KMS Decrypt: ciphertext is %zu bytes; KMS takes 1 to %d",
			       blob_len, MAX_BLOB);
	json_t *req = json_object(), *resp = NULL;
	if (!req)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = set_b64(req, "CiphertextBlob", blob, blob_len, e);
	if (rc == 0 && key_id)
		rc = set_str(req, "KeyId", key_id, e);
	if (rc == 0)
		rc = set_common(req, encryption_context, recipient, e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, "Decrypt", req, &resp, e));
	rc = read_plain(resp, recipient != NULL, "KMS Decrypt", out, e);
	json_decref(resp);
	if (rc < 0)
		aws_kms_plain_clear(out);
	return rc;
}

void aws_kms_data_key_clear(struct aws_kms_data_key *k)
{
	aws_kms_plain_clear(&k->plain);
	free(k->blob);
	memset(k, 0, sizeof(*k));
}

int aws_kms_generate_data_key(struct aws_client *c, const char *key_id,
			      const char *key_spec,
			      const json_t *encryption_context,
			      const struct aws_kms_recipient *recipient,
			      struct aws_kms_data_key *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	TRY(check_key_id(key_id, e));
	json_t *req = json_object(), *resp = NULL;
	if (!req)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = set_str(req, "KeyId", key_id, e);
	if (rc == 0)
		rc = set_str(req, "KeySpec", key_spec ? key_spec : "AES_256", e);
	if (rc == 0)
		rc = set_common(req, encryption_context, recipient, e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, "GenerateDataKey", req, &resp, e));
	rc = read_plain(resp, recipient != NULL, "KMS GenerateDataKey",
			&out->plain, e);
	if (rc == 0)
		rc = aws_json_b64(resp, "CiphertextBlob", true, &out->blob,
				  &out->blob_len, e, "KMS GenerateDataKey");
	size_t want = (key_spec && strcmp(key_spec, "AES_128") == 0) ? 16 : 32;
	if (rc == 0 && out->plain.plaintext && out->plain.plaintext->len != want)
		rc = err_set(e, ERR_INVALID,
			     "KMS GenerateDataKey: data key of %zu bytes, expected %zu",
			     out->plain.plaintext->len, want);
	json_decref(resp);
	if (rc < 0)
		aws_kms_data_key_clear(out);
	return rc;
}

void aws_kms_data_key_pair_clear(struct aws_kms_data_key_pair *k)
{
	aws_kms_plain_clear(&k->private_key);
	free(k->private_blob);
	free(k->public_key);
	memset(k, 0, sizeof(*k));
}

int aws_kms_generate_data_key_pair(struct aws_client *c, const char *key_id,
				   const char *spec,
				   const struct aws_kms_recipient *recipient,
				   struct aws_kms_data_key_pair *out,
				   struct err *e)
{
	memset(out, 0, sizeof(*out));
	TRY(check_key_id(key_id, e));
	if (!spec || !*spec)
		return err_set(e, ERR_USAGE, "KMS GenerateDataKeyPair: a key pair "
			       "spec is required");
	json_t *req = json_object(), *resp = NULL;
	if (!req)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = set_str(req, "KeyId", key_id, e);
	if (rc == 0)
		rc = set_str(req, "KeyPairSpec", spec, e);
	if (rc == 0)
		rc = set_common(req, NULL, recipient, e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, "GenerateDataKeyPair", req, &resp, e));
	const char *ctx = "KMS GenerateDataKeyPair";
	rc = read_plain_field(resp, "PrivateKeyPlaintext", recipient != NULL, ctx,
			      &out->private_key, e);
	if (rc == 0)
		rc = aws_json_b64(resp, "PrivateKeyCiphertextBlob", true,
				  &out->private_blob, &out->private_blob_len, e, ctx);
	if (rc == 0)
		rc = aws_json_b64(resp, "PublicKey", true, &out->public_key,
				  &out->public_key_len, e, ctx);
	json_decref(resp);
	if (rc < 0)
		aws_kms_data_key_pair_clear(out);
	return rc;
}

int aws_kms_generate_random(struct aws_client *c, size_t n,
			    const struct aws_kms_recipient *recipient,
			    struct aws_kms_plain *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (n < 1 || n > 1024)
		return err_set(e, ERR_USAGE,
			       "KMS GenerateRandom: 1 to 1024 bytes, not %zu", n);
	json_t *req = json_object(), *resp = NULL;
	if (!req)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = json_object_set_new(req, "NumberOfBytes", json_integer((json_int_t)n))
		? err_set(e, ERR_NOMEM, "out of memory") : 0;
	if (rc == 0)
		rc = set_common(req, NULL, recipient, e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, "GenerateRandom", req, &resp, e));
	rc = read_plain(resp, recipient != NULL, "KMS GenerateRandom", out, e);
	if (rc == 0 && out->plaintext && out->plaintext->len != n)
		rc = err_set(e, ERR_INVALID,
			     "KMS GenerateRandom: %zu bytes returned, %zu asked",
			     out->plaintext->len, n);
	json_decref(resp);
	if (rc < 0)
		aws_kms_plain_clear(out);
	return rc;
}

int aws_kms_describe_key(struct aws_client *c, const char *key_id,
			 struct aws_kms_key_info *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	TRY(check_key_id(key_id, e));
	json_t *req = json_object(), *resp = NULL;
	if (!req)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (set_str(req, "KeyId", key_id, e) < 0) {
		json_decref(req);
		return -ERR_INVALID;
	}
	TRY(call(c, "DescribeKey", req, &resp, e));
	const char *ctx = "KMS DescribeKey";
	const json_t *md = json_object_get(resp, "KeyMetadata");
	int rc = 0;
	if (!json_is_object(md))
		rc = err_set(e, ERR_INVALID, "%s: response has no KeyMetadata", ctx);
	if (rc == 0)
		rc = aws_json_str(md, "KeyId", true, out->key_id,
				  sizeof(out->key_id), e, ctx);
	if (rc == 0)
		rc = aws_json_str(md, "Arn", false, out->arn, sizeof(out->arn), e,
				  ctx);
	if (rc == 0)
		rc = aws_json_str(md, "KeyState", false, out->key_state,
				  sizeof(out->key_state), e, ctx);
	if (rc == 0)
		rc = aws_json_str(md, "KeyUsage", false, out->key_usage,
				  sizeof(out->key_usage), e, ctx);
	if (rc == 0)
		rc = aws_json_str(md, "KeySpec", false, out->key_spec,
				  sizeof(out->key_spec), e, ctx);
	const json_t *en = json_object_get(md, "Enabled");
	if (rc == 0 && en && !json_is_boolean(en))
		rc = err_set(e, ERR_INVALID, "%s: Enabled is not a boolean", ctx);
	out->enabled = json_is_true(en);
	json_decref(resp);
	return rc;
}
