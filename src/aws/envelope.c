/*
 * envelope.c: envelope encryption under a KMS data key. One GenerateDataKey
 * call yields a 256-bit key (plaintext here, CiphertextBlob stored beside the
 * data); AES-256-GCM with a random 96-bit nonce seals the payload, and the
 * additional authenticated data binds it to where it is stored (signer id,
 * item name), so a bundle moved to another record does not open. The wire
 * form is nonce || ciphertext || tag. Opened plaintext goes to secure memory.
 */
#include "aws_internal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int aws_envelope_seal(const struct secret *key, const uint8_t *aad,
		      size_t aad_len, const uint8_t *pt, size_t pt_len,
		      uint8_t **out, size_t *out_len, struct err *e)
{
	*out = NULL;
	*out_len = 0;
	if (!key || key->len != 32)
		return err_set(e, ERR_INVALID, "envelope: the data key must be 32 bytes");
	if (pt_len > (1u << 30))
		return err_set(e, ERR_TOO_LARGE, "envelope: payload too large");
	size_t n = AWS_ENVELOPE_NONCE + pt_len + AWS_ENVELOPE_TAG;
	uint8_t *buf = malloc(n);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, rc = 0;
	if (!buf || !ctx) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (RAND_bytes(buf, AWS_ENVELOPE_NONCE) != 1 ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->bytes, buf) != 1 ||
	    (aad_len && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1) ||
	    EVP_EncryptUpdate(ctx, buf + AWS_ENVELOPE_NONCE, &len, pt,
			      (int)pt_len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, buf + AWS_ENVELOPE_NONCE + len, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AWS_ENVELOPE_TAG,
				buf + AWS_ENVELOPE_NONCE + pt_len) != 1) {
		rc = err_set(e, ERR_CRYPTO, "envelope: AES-256-GCM failed");
		goto out;
	}
	*out = buf;
	*out_len = n;
	buf = NULL;
out:
	free(buf);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int aws_envelope_open(const struct secret *key, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t in_len,
		      struct secret **pt, struct err *e)
{
	*pt = NULL;
	if (!key || key->len != 32)
		return err_set(e, ERR_INVALID, "envelope: the data key must be 32 bytes");
	if (in_len < AWS_ENVELOPE_NONCE + AWS_ENVELOPE_TAG || in_len > (1u << 30))
		return err_set(e, ERR_INVALID, "envelope: sealed data of %zu bytes",
			       in_len);
	size_t n = in_len - AWS_ENVELOPE_NONCE - AWS_ENVELOPE_TAG;
	struct secret *s = secret_new(n ? n : 1);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, rc = 0;
	if (!s || !ctx) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	uint8_t tag[AWS_ENVELOPE_TAG];
	memcpy(tag, in + in_len - AWS_ENVELOPE_TAG, sizeof(tag));
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->bytes, in) != 1 ||
	    (aad_len && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1) ||
	    EVP_DecryptUpdate(ctx, s->bytes, &len, in + AWS_ENVELOPE_NONCE,
			      (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AWS_ENVELOPE_TAG, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, s->bytes + len, &len) != 1) {
		rc = err_set(e, ERR_CRYPTO,
			     "envelope: authentication failed (wrong key, wrong "
			     "record or tampered data)");
		goto out;
	}
	secret_truncate(s, n);
	*pt = s;
	s = NULL;
out:
	secret_free(s);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

struct secret *aws_bundle_plaintext(const uint8_t *entries, size_t count)
{
	if (count > UINT32_MAX)
		return NULL; /* the count field is a u32 */
	struct secret *s = secret_new(AWS_BUNDLE_HEADER + count * AWS_BUNDLE_ENTRY);
	if (!s)
		return NULL;
	struct buf b;
	buf_init_fixed(&b, s->bytes, s->len);
	if (buf_append(&b, AWS_BUNDLE_MAGIC, 4) < 0 ||
	    buf_u8(&b, AWS_BUNDLE_VERSION) < 0 ||
	    buf_u32be(&b, (uint32_t)count) < 0 ||
	    buf_append(&b, entries, count * AWS_BUNDLE_ENTRY) < 0 ||
	    b.len != s->len) {
		/* not reached: the secret was sized for exactly these bytes */
		secret_free(s);
		return NULL;
	}
	return s;
}

json_t *aws_record_context(const char *purpose, const char *signer_id)
{
	return json_pack("{s:s,s:s}", "purpose", purpose, "signer_id", signer_id);
}

int aws_envelope_aad(const char *signer_id, const char *record_id, char *out,
		     size_t cap)
{
	int n = snprintf(out, cap, "%s|%s|%s", AWS_RECORD_PURPOSE_ENVELOPE,
			 signer_id, record_id);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int aws_sealed_aad(const char *format, const char *signer_id, char *out,
		   size_t cap)
{
	int n = snprintf(out, cap, "%s|%s", format, signer_id);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

bool aws_signer_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AWS_SIGNER_ID_MAX)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '|')
			return false;
	return true;
}
