/*
 * aws.h: the public header of the aws module: what nitro-signer needs of AWS,
 * written against the wire formats and nothing else (no AWS SDK).
 *
 *   sigv4.c      AWS Signature Version 4 (header and query signing)
 *   json.c       AWS JSON responses and error shapes (__type, message)
 *   endpoint.c   region and endpoint resolution (AWS_REGION, AWS_ENDPOINT_URL*)
 *   creds.c      credentials: environment, IMDSv2, pushed (control channel)
 *   client.c     AWS calls over http/http_client.h: signing, retries, socket hook
 *   kms.c        KMS (JSON 1.1, TrentService.*)
 *   dynamodb.c   DynamoDB (JSON 1.0, DynamoDB_20120810.*)
 *   envelope.c   AES-256-GCM envelope sealing under a KMS data key
 *
 * Everything that comes back from AWS (or from whatever answers on the
 * endpoint: a host proxy, a stand-in) is untrusted: parsed with jansson under
 * a size cap, every field type-checked. Secret access keys, session tokens
 * and KMS plaintext live in struct secret and never reach a log or an error.
 *
 * Threading: a struct aws_client is used by one thread at a time; a
 * credentials provider is thread-safe and may be shared between clients.
 */
#ifndef NS_AWS_H
#define NS_AWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/core.h"

/* ---- credentials ------------------------------------------------------ */

#define AWS_AKID_MAX 128

struct aws_creds {
	char access_key_id[AWS_AKID_MAX];
	struct secret *secret_key;    /* NUL-terminated */
	struct secret *session_token; /* NUL-terminated; NULL for long-term keys */
	int64_t expiration;           /* unix seconds; 0 = does not expire */
};

void aws_creds_clear(struct aws_creds *c);
NS_MUST_CHECK
int aws_creds_copy(struct aws_creds *dst, const struct aws_creds *src,
		   struct err *e);

enum aws_creds_kind { AWS_CREDS_ENV, AWS_CREDS_IMDS, AWS_CREDS_PUSHED };

struct aws_creds_provider;

/* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional). */
NS_MUST_CHECK
struct aws_creds_provider *aws_creds_env_new(struct err *e);
/*
 * IMDSv2 on `endpoint` (NULL: AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 * http://169.254.169.254): token PUT with a TTL, the role name, the role's
 * credentials; re-read `refresh_before` seconds before Expiration.
 */
NS_MUST_CHECK
struct aws_creds_provider *aws_creds_imds_new(const char *endpoint,
					      struct err *e);
/* Credentials handed over by the host (enclave control channel). */
NS_MUST_CHECK
struct aws_creds_provider *aws_creds_pushed_new(struct err *e);
/* Environment when AWS_ACCESS_KEY_ID is set, IMDSv2 otherwise. */
NS_MUST_CHECK
struct aws_creds_provider *aws_creds_default_new(struct err *e);
void aws_creds_provider_free(struct aws_creds_provider *p);
enum aws_creds_kind aws_creds_provider_kind(const struct aws_creds_provider *p);

/* Seconds before Expiration at which credentials count as stale (default 300). */
void aws_creds_set_refresh_window(struct aws_creds_provider *p, int seconds);
/* Clock used for expiry decisions (tests); NULL restores time(). */
void aws_creds_set_clock(struct aws_creds_provider *p, time_t (*now)(void));

/*
 * Current credentials, copied into *out (caller clears). Refreshes IMDS
 * credentials when stale; fails with a clear message when none are
 * available or they have expired.
 */
NS_MUST_CHECK
int aws_creds_get(struct aws_creds_provider *p, struct aws_creds *out,
		  struct err *e);
/* The service refused the credentials as expired: re-read before next use. */
void aws_creds_invalidate(struct aws_creds_provider *p);
/* Replaces pushed credentials (copied). */
NS_MUST_CHECK
int aws_creds_push(struct aws_creds_provider *p, const struct aws_creds *c,
		   struct err *e);
/*
 * Pushed credentials in the IMDS/STS JSON shape: AccessKeyId,
 * SecretAccessKey, Token (or SessionToken), Expiration (ISO-8601, optional).
 */
NS_MUST_CHECK
int aws_creds_push_json(struct aws_creds_provider *p, const json_t *obj,
			struct err *e);
/* The credentials JSON shape above, parsed (shared by IMDS and push). */
NS_MUST_CHECK
int aws_creds_from_json(const json_t *obj, struct aws_creds *out,
			struct err *e);
/* "2025-09-09T23:59:41Z" -> unix seconds (UTC, strict). */
NS_MUST_CHECK
int aws_parse_iso8601(const char *s, int64_t *out);

/* ---- SigV4 ------------------------------------------------------------ */

struct aws_header {
	const char *name;
	const char *value;
};

struct aws_sigv4_request {
	const char *method;
	const char *path;  /* as sent: "/", "/a b/..", without the query */
	const char *query; /* raw query string (after '?'), or NULL */
	const struct aws_header *headers; /* must include Host */
	size_t n_headers;
	const uint8_t *body;
	size_t body_len;
};

struct aws_sigv4_params {
	const char *region;
	const char *service;
	time_t when;
	const struct aws_creds *creds;
	bool normalize_path;     /* false for S3-style services */
	bool sign_body;          /* add and sign x-amz-content-sha256 */
	bool omit_session_token; /* send the token unsigned (rare) */
	bool query_mode;         /* presigned URL instead of Authorization */
	unsigned expires;        /* query mode: X-Amz-Expires */
};

#define AWS_SIGV4_MAX_ADD 4

struct aws_sigv4_result {
	char *canonical_request;
	char *string_to_sign;
	char signature[65];
	/* Header mode: "Name:value" pairs to add to the request, in order. */
	char *add_headers[AWS_SIGV4_MAX_ADD][2];
	size_t n_add;
	/* Query mode: the query string to send (with X-Amz-Signature). */
	char *query;
};

NS_MUST_CHECK
int aws_sigv4_sign(const struct aws_sigv4_request *r,
		   const struct aws_sigv4_params *p,
		   struct aws_sigv4_result *out, struct err *e);
void aws_sigv4_result_free(struct aws_sigv4_result *r);
/* Lower-case hex SHA-256, out holds 65 bytes. */
void aws_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- AWS JSON responses ----------------------------------------------- */

#define AWS_MAX_RESPONSE (16u * 1024 * 1024)

struct aws_error_info {
	char type[128];    /* __type without any "prefix#" */
	char message[240]; /* message/Message, control characters replaced */
};

/* A response body must be one JSON object (size-capped); *out owned. */
NS_MUST_CHECK
int aws_json_parse_object(const char *body, size_t len, json_t **out,
			  struct err *e);
/*
 * The error shape of a non-2xx JSON 1.0/1.1 response. Returns 0 when the
 * body had a usable __type; fills "Unknown"/"" otherwise and returns
 * -ERR_INVALID, so callers always have something to print.
 */
NS_MUST_CHECK
int aws_json_error_parse(const char *body, size_t len,
			 struct aws_error_info *out);
/* True for the error types and statuses AWS tells clients to retry. */
bool aws_error_retryable(long status, const char *type);

/* ---- endpoints and regions ---------------------------------------------- */

enum aws_service { AWS_SVC_KMS, AWS_SVC_DYNAMODB, AWS_SVC_COUNT };

const char *aws_service_name(enum aws_service s); /* "kms", "dynamodb" */
/* --region, else AWS_REGION, else AWS_DEFAULT_REGION; refuses a malformed one. */
NS_MUST_CHECK
int aws_region_resolve(const char *flag, char *out, size_t cap, struct err *e);
/*
 * flag, else AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else
 * https://<service>.<region>.<partition suffix>. Only http(s) URLs.
 */
NS_MUST_CHECK
int aws_endpoint_resolve(enum aws_service s, const char *region,
			 const char *flag, char *out, size_t cap,
			 struct err *e);

/* ---- the HTTP client ---------------------------------------------------- */

/*
 * Makes the socket for a request (AF_VSOCK to a host proxy, AF_UNIX in
 * tests) and the address the client connects it to (non-blocking, under
 * the connect timeout). Returns an unconnected fd the client owns, or -1
 * with e set.
 */
typedef int (*aws_open_socket_fn)(void *ctx, enum aws_service svc,
				  struct sockaddr_storage *addr,
				  socklen_t *addr_len, struct err *e);

struct aws_client_opts {
	const char *region;                   /* NULL: environment */
	const char *endpoint[AWS_SVC_COUNT];  /* NULL: environment / default */
	struct aws_creds_provider *creds;     /* borrowed */
	aws_open_socket_fn open_socket;       /* NULL: plain TCP */
	void *open_socket_ctx;
	unsigned max_attempts;   /* 0: AWS_MAX_ATTEMPTS or 5 */
	unsigned base_delay_ms;  /* 0: 50 */
	unsigned max_delay_ms;   /* 0: 2000 */
	long connect_timeout_ms; /* 0: 3000 */
	long timeout_ms;         /* 0: 15000 (whole request) */
	const char *ca_file;     /* NULL: system store */
};

struct aws_client;

NS_MUST_CHECK
struct aws_client *aws_client_new(const struct aws_client_opts *o,
				  struct err *e);
void aws_client_free(struct aws_client *c);
const char *aws_client_region(const struct aws_client *c);
const char *aws_client_endpoint(const struct aws_client *c,
				enum aws_service s);

/*
 * One JSON RPC (POST /, X-Amz-Target) with retries. *resp is the parsed
 * object on success. On an AWS error the message reads
 * "<Service> <Op>: <__type>: <message>" and aws_client_last_error() has the
 * type; error codes: ERR_REFUSED for conditional failures, ERR_NOT_FOUND
 * for missing resources, ERR_UNAVAILABLE for throttling/5xx/transport after
 * the last attempt, ERR_INVALID for other client errors.
 */
NS_MUST_CHECK
int aws_client_call(struct aws_client *c, enum aws_service svc,
		    const char *op, const json_t *req, json_t **resp,
		    struct err *e);
const struct aws_error_info *aws_client_last_error(const struct aws_client *c);

struct aws_client_stats {
	uint64_t requests;     /* HTTP exchanges, retries included */
	uint64_t retries;
	uint64_t connects;     /* new connections (reuse keeps this low) */
	uint64_t sockets_hooked; /* sockets from open_socket */
};
void aws_client_stats(const struct aws_client *c, struct aws_client_stats *s);

/* ---- KMS ----------------------------------------------------------------- */

#define AWS_KMS_MAX_PLAINTEXT 4096
#define AWS_KMS_KEY_ID_MAX 2048

/* An attestation document for KMS's Recipient (RSAES_OAEP_SHA_256). */
struct aws_kms_recipient {
	const uint8_t *attestation_doc;
	size_t len;
};

/* What KMS returns for a plaintext: either the plaintext or, with a
 * Recipient, the CMS EnvelopedData for the enclave. */
struct aws_kms_plain {
	struct secret *plaintext; /* NULL when a Recipient was given */
	uint8_t *for_recipient;   /* CiphertextForRecipient, DER/BER */
	size_t for_recipient_len;
	char key_id[AWS_KMS_KEY_ID_MAX];
};
void aws_kms_plain_clear(struct aws_kms_plain *p);

NS_MUST_CHECK
int aws_kms_encrypt(struct aws_client *c, const char *key_id,
		    const uint8_t *plaintext, size_t len,
		    const json_t *encryption_context, uint8_t **blob,
		    size_t *blob_len, struct err *e);
/* key_id may be NULL (symmetric keys carry it in the blob). */
NS_MUST_CHECK
int aws_kms_decrypt(struct aws_client *c, const char *key_id,
		    const uint8_t *blob, size_t blob_len,
		    const json_t *encryption_context,
		    const struct aws_kms_recipient *recipient,
		    struct aws_kms_plain *out, struct err *e);

struct aws_kms_data_key {
	struct aws_kms_plain plain; /* the data key */
	uint8_t *blob;              /* CiphertextBlob: store this */
	size_t blob_len;
};
void aws_kms_data_key_clear(struct aws_kms_data_key *k);
/* key_spec "AES_256" or "AES_128". */
NS_MUST_CHECK
int aws_kms_generate_data_key(struct aws_client *c, const char *key_id,
			      const char *key_spec,
			      const json_t *encryption_context,
			      const struct aws_kms_recipient *recipient,
			      struct aws_kms_data_key *out, struct err *e);

struct aws_kms_data_key_pair {
	struct aws_kms_plain private_key; /* PKCS#8 DER */
	uint8_t *private_blob;
	size_t private_blob_len;
	uint8_t *public_key; /* SPKI DER */
	size_t public_key_len;
};
void aws_kms_data_key_pair_clear(struct aws_kms_data_key_pair *k);
/* spec "RSA_2048", "ECC_NIST_P256", ... */
NS_MUST_CHECK
int aws_kms_generate_data_key_pair(struct aws_client *c, const char *key_id,
				   const char *spec,
				   const struct aws_kms_recipient *recipient,
				   struct aws_kms_data_key_pair *out,
				   struct err *e);
/* 1..1024 bytes. */
NS_MUST_CHECK
int aws_kms_generate_random(struct aws_client *c, size_t n,
			    const struct aws_kms_recipient *recipient,
			    struct aws_kms_plain *out, struct err *e);

struct aws_kms_key_info {
	char key_id[128];
	char arn[AWS_KMS_KEY_ID_MAX];
	char key_state[32];
	char key_usage[32];
	char key_spec[32];
	bool enabled;
};
NS_MUST_CHECK
int aws_kms_describe_key(struct aws_client *c, const char *key_id,
			 struct aws_kms_key_info *out, struct err *e);

/* ---- DynamoDB --------------------------------------------------------------- */

/* A condition or filter with its placeholders (names/values may be NULL). */
struct aws_ddb_expr {
	const char *expr;
	const json_t *names;  /* {"#n": "attr"} */
	const json_t *values; /* {":v": {"S": ".."}} */
};

/* *item is NULL when there is none. */
NS_MUST_CHECK
int aws_ddb_get_item(struct aws_client *c, const char *table,
		     const json_t *key, bool consistent, json_t **item,
		     struct err *e);
/* -ERR_REFUSED when the condition failed. */
NS_MUST_CHECK
int aws_ddb_put_item(struct aws_client *c, const char *table,
		     const json_t *item, const struct aws_ddb_expr *cond,
		     struct err *e);
/* update: the UpdateExpression and its placeholders; cond may be NULL.
 * *attrs (optional) receives ALL_NEW attributes. */
NS_MUST_CHECK
int aws_ddb_update_item(struct aws_client *c, const char *table,
			const json_t *key, const struct aws_ddb_expr *update,
			const char *condition, json_t **attrs, struct err *e);
NS_MUST_CHECK
int aws_ddb_delete_item(struct aws_client *c, const char *table,
			const json_t *key, const struct aws_ddb_expr *cond,
			struct err *e);

struct aws_ddb_query {
	bool scan;              /* Scan instead of Query: key_condition.expr
				 * unset, its names/values serve the filter */
	const char *table;
	const char *index;      /* NULL: the table */
	struct aws_ddb_expr key_condition;
	const char *filter;     /* uses key_condition's placeholders */
	unsigned page_size;     /* Limit; 0 = service default */
	bool consistent;
	size_t max_items;       /* 0 = no cap (query_all) */
};
/* One page (Query or Scan); *last_key is NULL at the end. start may be NULL. */
NS_MUST_CHECK
int aws_ddb_query_page(struct aws_client *c, const struct aws_ddb_query *q,
		       const json_t *start, json_t **items, json_t **last_key,
		       struct err *e);
/* Every page, following LastEvaluatedKey; *items is an array. */
NS_MUST_CHECK
int aws_ddb_query_all(struct aws_client *c, const struct aws_ddb_query *q,
		      json_t **items, unsigned *pages, struct err *e);

/*
 * BatchWriteItem: `requests` is an array of {"PutRequest":{"Item":..}} or
 * {"DeleteRequest":{"Key":..}}, sent 25 at a time; UnprocessedItems are
 * retried with backoff (bounded). Requests still unprocessed at the end are
 * returned in *failed (an array, empty on full success) and the call fails.
 */
NS_MUST_CHECK
int aws_ddb_batch_write(struct aws_client *c, const char *table,
			const json_t *requests, json_t **failed,
			struct err *e);

struct aws_ddb_table_info {
	char status[32];
	char hash_key[256];
	char hash_type[4];
	char range_key[256]; /* "" when none */
	char range_type[4];
	uint64_t item_count;
};
NS_MUST_CHECK
int aws_ddb_describe_table(struct aws_client *c, const char *table,
			   struct aws_ddb_table_info *out, struct err *e);
/* PAY_PER_REQUEST; range_key may be NULL. Types "S", "N", "B". */
NS_MUST_CHECK
int aws_ddb_create_table(struct aws_client *c, const char *table,
			 const char *hash_key, const char *hash_type,
			 const char *range_key, const char *range_type,
			 struct err *e);
/* Polls DescribeTable until ACTIVE (bounded by timeout_ms). */
NS_MUST_CHECK
int aws_ddb_wait_active(struct aws_client *c, const char *table,
			long timeout_ms, struct err *e);

/* ---- envelope encryption (AES-256-GCM under a KMS data key) ---------- */

#define AWS_ENVELOPE_NONCE 12
#define AWS_ENVELOPE_TAG 16
/* out = nonce || ciphertext || tag (malloc'd); aad binds the context. */
NS_MUST_CHECK
int aws_envelope_seal(const struct secret *key, const uint8_t *aad,
		      size_t aad_len, const uint8_t *pt, size_t pt_len,
		      uint8_t **out, size_t *out_len, struct err *e);
NS_MUST_CHECK
int aws_envelope_open(const struct secret *key, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t in_len,
		      struct secret **pt, struct err *e);

/*
 * A key bundle's plaintext (docs/aws.md), what `nitro-keys kms encrypt
 * --envelope` seals and the enclave opens: "NSEB" | version 1 | u32be count
 * | count x (pubkey 48 | secret key 32).
 */
#define AWS_BUNDLE_MAGIC "NSEB"
#define AWS_BUNDLE_VERSION 1
#define AWS_BUNDLE_HEADER 9
#define AWS_BUNDLE_ENTRY 80
/* From count entries of AWS_BUNDLE_ENTRY bytes; NULL when secure memory
 * runs out or count does not fit the u32 field. */
NS_MUST_CHECK
struct secret *aws_bundle_plaintext(const uint8_t *entries, size_t count);

/*
 * The key table (docs/aws.md): an item per key record, partition key
 * AWS_KT_SIGNER_ID, sort key AWS_KT_PUBKEY ("0x..", "envelope:ID:PART" or
 * "tls:server"). The one place its attribute names are written: nitro-keys
 * writes items, nitro-host reads them, the enclave keeps its TLS key there.
 */
#define AWS_KT_SIGNER_ID "web3signer_uuid"
#define AWS_KT_PUBKEY "pubkey"
#define AWS_KT_ACTIVE "active"
#define AWS_KT_CHAIN "chain"
#define AWS_KT_DATETIME "datetime"
#define AWS_KT_SAMPLE_CT "encrypted_key_password_mnemonic_b64"
#define AWS_KT_DEPOSIT "deposit_json_b64"
#define AWS_KT_ENVELOPE_FORMAT "envelope_format"
#define AWS_KT_KEY_COUNT "key_count"
#define AWS_KT_WRAPPED_KEY "wrapped_data_key_b64"
#define AWS_KT_ENVELOPE_CT "envelope_ciphertext_b64"
#define AWS_KT_ENVELOPE_PUBKEYS "envelope_pubkeys"
#define AWS_KT_TLS_FORMAT "tls_format"
#define AWS_KT_TLS_KEY_CT "tls_key_ciphertext_b64"
#define AWS_KT_TLS_CERT "tls_cert_pem"
/* The item (its AWS_KT_PUBKEY) holding the API's TLS key and certificate. */
#define AWS_KT_TLS_SERVER_ITEM "tls:server"
/* Other secrets an enclave seals for itself (enclave/sealed.c): the
 * slashing table's MAC key. Items whose AWS_KT_PUBKEY starts with "tls:"
 * or "slashing:" are an enclave's own, not key records. */
#define AWS_KT_SLASHING_MAC_ITEM "slashing:mac"
#define AWS_KT_SEALED_FORMAT "sealed_format"
#define AWS_KT_SEALED_CT "sealed_ciphertext_b64"
/* The Keymanager API's bearer token (nitro-keys keymanager token): sealed
 * by the operator in the same form (AWS_KT_SEALED_*, a data key under
 * {purpose: AWS_KT_KEYMANAGER_TOKEN_FORMAT, signer_id}, AAD from
 * aws_sealed_aad), so that only the enclave's Recipient opens it. */
#define AWS_KT_KEYMANAGER_TOKEN_ITEM "keymanager:token"
#define AWS_KT_KEYMANAGER_TOKEN_FORMAT "nitro-signer-keymanager-token-v1"
/* Whether a key table item (by its AWS_KT_PUBKEY) is an enclave's own
 * sealed secret rather than a key record. */
static inline bool aws_kt_is_enclave_item(const char *pubkey)
{
	return strncmp(pubkey, "tls:", 4) == 0 ||
	       strncmp(pubkey, "slashing:", 9) == 0 ||
	       strncmp(pubkey, "keymanager:", 11) == 0;
}
/* A sealed secret's AES-GCM associated data, "<format>|<signer id>": its
 * length, or -1 when it does not fit in cap. */
NS_MUST_CHECK
int aws_sealed_aad(const char *format, const char *signer_id, char *out,
		   size_t cap);

/*
 * An envelope bundle's AES-GCM associated data, "<purpose>|<signer id>|<record
 * id>" (the record id is the item's AWS_KT_PUBKEY): its length, or -1 when it
 * does not fit in cap.
 */
NS_MUST_CHECK
int aws_envelope_aad(const char *signer_id, const char *record_id, char *out,
		     size_t cap);
/*
 * A signer id (the key table's partition key, part of every record's
 * encryption context and AAD): 1..AWS_SIGNER_ID_MAX printable ASCII
 * characters, no spaces, no '|' (the AAD's separator). nitro-keys and the
 * enclave image's --signer-id both apply this one rule.
 */
#define AWS_SIGNER_ID_MAX 128
bool aws_signer_id_ok(const char *s);

/*
 * The key table's KMS encryption contexts, {"purpose": P, "signer_id": ID}:
 * what nitro-keys encrypts under and the enclave decrypts with, so that a
 * record opens only for the signer id the enclave's image names and only
 * as what it is (KMS refuses any other context). A per-key item written
 * with one says so in its AWS_RECORD_ATTR_CONTEXT attribute (value: the
 * purpose); items without it are the sample's format, no context.
 */
#define AWS_RECORD_PURPOSE_KEY "nitro-signer-key-v1"
#define AWS_RECORD_PURPOSE_ENVELOPE "nitro-signer-envelope-v1"
#define AWS_RECORD_ATTR_CONTEXT "kms_context"
/* A new {"purpose","signer_id"} object; NULL when out of memory. */
NS_MUST_CHECK
json_t *aws_record_context(const char *purpose, const char *signer_id);

#endif
