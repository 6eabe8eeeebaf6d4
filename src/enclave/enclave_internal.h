/*
 * enclave_internal.h: the enclave's state, shared by runtime.c (control
 * server, status), api.c (the API gate and GET /attestation), init.c (the
 * `init` and `reload` sequences) and tls_key.c (the TLS key record).
 */
#ifndef NS_ENCLAVE_INTERNAL_H
#define NS_ENCLAVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "aws/aws.h"
#include "enclave/enclave.h"
#include "nitro/nitro.h"
#include "signer/signer.h"

/* The API's TLS identity once init made or recovered it (tls_key.c). */
struct enclave_tls {
	SSL_CTX *ctx;
	char *cert_pem;                /* the certificate, PEM */
	uint8_t spki_sha256[32];       /* SHA-256 of its SubjectPublicKeyInfo DER */
};
void enclave_tls_free(struct enclave_tls *t);

/* What reload needs of init's message (copied; records and credentials
 * are not kept). */
struct enclave_init_cfg {
	char *region;
	char *kms_endpoint;     /* NULL: the region's */
	char *kms_proxy;        /* NULL: direct */
	char *signer_id;
	/* the key table (the Keymanager API's deletes mark records in it) */
	char *key_table, *dynamodb_endpoint, *dynamodb_proxy;
};

/* GET /attestation's token bucket (api.c), across all connections. */
struct enclave_rate {
	pthread_mutex_t lock;
	double tokens;
	uint64_t last_us;
};

/* An AWS client's socket hook target: one service's host proxy. */
struct enclave_proxy_hook {
	enum aws_service svc;
	const struct http_addr *addr;
};

/* A dynamodb:// slashing table (init.c): how the signer's backend makes
 * its clients (the enclave's credentials, which `credentials` frames
 * refresh, through the host's DynamoDB proxy, TLS to the region's name)
 * and the table's MAC key. Written by init before the signer is
 * published, then read-only. */
struct enclave_slashing {
	bool on;
	struct aws_client_opts aws;
	char region[64];
	char endpoint[512];   /* the simulator's stand-in only */
	struct http_addr proxy;
	struct enclave_proxy_hook hook;
	uint8_t mac_key[32];
};

/*
 * clock.c: NSM-attested time for the clock guard. A sample is an NSM
 * document's timestamp and CLOCK_MONOTONIC when it arrived; "now" is the
 * last sample advanced by the monotonic clock. Samples: init's and each
 * reload's document, and a check every interval_s while the guard is on
 * (control thread). Any failed NSM call, or a sample older than three
 * intervals, leaves no trusted time (fail closed) until the next success.
 */
#define ENCLAVE_CLOCK_INTERVAL_S 300   /* the periodic check */
#define ENCLAVE_CLOCK_RETRY_S 10       /* after a failed one */
#define ENCLAVE_CLOCK_TOLERANCE_MS 5000 /* the enclave clock vs NSM, logged */
struct enclave_clock {
	pthread_mutex_t lock;
	uint64_t epochs;        /* the guard's window (0: off), the image's */
	unsigned interval_s;
	bool sampled, failed;
	char error[256];        /* why there is no trusted time */
	uint64_t nsm_ms;        /* the last sample: NSM timestamp */
	uint64_t mono_us;       /* ... and clock_mono_us() when it came */
	int64_t skew_ms;        /* the enclave's clock minus NSM time then */
	uint64_t samples;
	uint64_t next_check_us; /* the next periodic check (monotonic) */
};
void enclave_clock_init(struct enclave_clock *c, uint64_t epochs,
			unsigned interval_s);
void enclave_clock_destroy(struct enclave_clock *c);
/* A document the NSM made, received at mono_us: its timestamp is now. */
int enclave_clock_note_doc(struct enclave_clock *c, const uint8_t *doc,
			   size_t len, uint64_t mono_us, struct err *e);
/* An NSM call failed: no trusted time until the next success. */
void enclave_clock_failed(struct enclave_clock *c, const char *why);
/* Asks the NSM for a bare document and notes it (or the failure). */
int enclave_clock_check(struct enclave *en, struct err *e);
/* True when the periodic check is due; else *timeout_ms until it is. */
bool enclave_clock_due(struct enclave_clock *c, int *timeout_ms);
/* signer_clock.now (ctx: the struct enclave_clock). */
int enclave_clock_now(void *ctx, uint64_t *unix_s, struct err *e);
/* status's "clock" object. */
json_t *enclave_clock_status(struct enclave_clock *c);

struct enclave {
	char *nsm_spec;
	char *ca_file;
	size_t max_frame;
	bool api_tls_flags;   /* --tls-keystore-file: no TLS record */
	char *tls_kms_key_id; /* --tls-kms-key-id, or NULL */
	char *slashing_db_url; /* --slashing-protection-db-url, or NULL */
	/* The image's access policy (enclave_opts): read-only after new. */
	/* borrowed from enclave_opts (the CLI's, outliving the enclave) */
	const struct http_known_clients *known_clients; /* NULL: none listed */
	bool allow_any_client;
	uint32_t signing_types;
	char *signer_id;      /* --signer-id, or NULL (simulator only) */
	bool accept_legacy;
	size_t parse_budget;  /* a control frame's JSON parse, from memory */
	int listen_fd;        /* -1 until enclave_listen */
	int stop_pipe[2];     /* written by enclave_stop */
	uint64_t started_us;  /* clock_mono_us() at enclave_new */
	/* Pushed by init and refreshed by `credentials`. */
	struct aws_creds_provider *creds;
	/* The pushed credentials' Expiration, for status (state_lock: the
	 * worker's init and the control thread's `credentials` both write). */
	pthread_mutex_t state_lock;
	char creds_expiration[64];
	/* The keys the last init or reload could not load, [{pubkey, error}]
	 * (at most ENCLAVE_FAILED_KEYS_MAX of them, with their total), for
	 * status (state_lock). */
	json_t *failed_keys;
	size_t keys_failed;
	/* Bumped by every accepted `credentials` frame: init hands over its
	 * own only when none came while it ran. */
	_Atomic uint64_t creds_gen;
	/* The worker (runtime.c): the init/reload it runs (CONTROL_REPLY when
	 * none), its message and connection; worker_running and done_pipe
	 * belong to the control thread. */
	_Atomic enum control_type job;
	json_t *job_msg;
	int job_fd;
	pthread_t worker;
	bool worker_running;
	int done_pipe[2];
	/* The API server once the CLI wired it (NULL in unit tests). */
	struct http_server *api;
	/* Set by init before the signer is published, then read-only. */
	struct enclave_slashing slashing;
	struct enclave_tls *tls;
	struct enclave_init_cfg cfg;
	struct enclave_rate rate;
	struct enclave_clock clock;
	/* Published once by init (release), read by the API (acquire). */
	_Atomic(struct signer *) signer;
};

/*
 * KMS Decrypt of blob_b64 (with the encryption context, may be NULL) for
 * the attested Recipient, opened inside the enclave into *pt.
 */
struct enclave_kms {
	struct aws_client *kms;
	struct recipient *rcp;
	uint8_t *doc;        /* the attestation document binding rcp */
	size_t doc_len;
};
/* KMS Decrypt with the Recipient, opened inside. With key_id, KMS is told
 * the key and the answer must name that very key. */
int enclave_kms_open(const struct enclave_kms *k, const char *key_id,
		     const char *blob_b64, const json_t *context,
		     struct secret **pt, struct err *e);

/*
 * sealed.c: secrets the enclave makes once and keeps sealed under KMS in
 * the key table (the Recipient gets the data key; AAD and KMS context bind
 * the kind and the signer id), reopened by every enclave of the signer.
 */
struct enclave_sealed_store {
	const struct enclave_kms *kms;
	struct aws_client *ddb;
	const char *kms_key_id;
	const char *table;
	const char *signer_id;
};
struct enclave_sealed_kind {
	const char *format;      /* KMS purpose, AAD label, format_attr's value */
	const char *item_key;    /* the record's AWS_KT_PUBKEY */
	const char *format_attr;
	const char *ct_attr;
};
/* A new secret and the public attributes to store beside it (extra). */
typedef int (*enclave_sealed_make_fn)(void *ctx, struct secret **plain,
				      json_t *extra, struct err *e);
/* The string attribute name of a DynamoDB item, or NULL. */
const char *enclave_item_s(const json_t *item, const char *name);
/* *item NULL when there is none. */
int enclave_sealed_get(const struct enclave_sealed_store *s,
		       const struct enclave_sealed_kind *k, json_t **item,
		       struct err *e);
int enclave_sealed_open(const struct enclave_sealed_store *s,
			const struct enclave_sealed_kind *k,
			const json_t *item, struct secret **plain,
			struct err *e);
/* 1 when another enclave's record is there (nothing written). */
int enclave_sealed_put(const struct enclave_sealed_store *s,
		       const struct enclave_sealed_kind *k,
		       const struct secret *plain, const json_t *extra,
		       struct err *e);
/* The record's secret (*plain) and item: reopened, or made with make,
 * sealed and put when absent (a lost race reopens the winner's). */
int enclave_sealed_obtain(const struct enclave_sealed_store *s,
			  const struct enclave_sealed_kind *k,
			  enclave_sealed_make_fn make, void *make_ctx,
			  json_t **item, struct secret **plain,
			  bool *created, struct err *e);
/* The Keymanager API's token {signer_id, "keymanager:token"}, sealed by
 * the operator: *token NULL when there is no such item; an error when
 * there is one this enclave cannot open as such (forged, another key or
 * signer, tampered). */
int enclave_keymanager_token_open(const struct enclave_sealed_store *s,
				  struct secret **token, struct err *e);
/* The slashing table's MAC key {signer_id, "slashing:mac"}. */
int enclave_slashing_mac_obtain(const struct enclave_sealed_store *s,
				uint8_t key[32], struct err *e);

/*
 * tls_key.c: the TLS key record {web3signer_uuid: signer_id, pubkey:
 * "tls:server"} (sealed.c). names: init's tls_names (NULL: ["localhost"]).
 */
struct enclave_tls_params {
	struct enclave_sealed_store store;
	/* Per-route client authentication on the TLS context (NULL: none
	 * listed; with request_clients the handshake still asks for one). */
	const struct http_known_clients *clients;
	bool request_clients;
	const json_t *names;
};
int enclave_tls_obtain(const struct enclave_tls_params *p,
		       struct enclave_tls **out, struct err *e);

/* init.c: the `init` message (validated strictly) -> a ready signer, the
 * TLS identity (NULL without kms_key_id), the kept configuration and a
 * per-key report array [{pubkey, loaded, error?}]. */
struct enclave_init_result {
	struct signer *signer;
	struct enclave_tls *tls;
	struct enclave_init_cfg cfg;
	json_t *report;
};
int enclave_init_run(struct enclave *en, const json_t *msg,
		     struct enclave_init_result *out, struct err *e);
void enclave_init_cfg_clear(struct enclave_init_cfg *cfg);
/* A key imported through the Keymanager API is a one-key envelope bundle
 * "envelope:<16 hex of SHA-256(keymanager|signer|pubkey)>:0": the same id
 * for the same key, so a delete finds it and a re-import replaces it. */
#define ENCLAVE_KM_RECORD_ID_MAX 40
void enclave_keymanager_record_id(const char *signer_id,
				  const uint8_t pk[BLS_PUBKEY_LEN],
				  char out[ENCLAVE_KM_RECORD_ID_MAX]);
/* Seals k (GenerateDataKey for the Recipient under the envelope context,
 * AES-256-GCM of the one-entry bundle) and puts its record, new or over
 * its inactive one; -ERR_INVALID when an active one is there. */
int enclave_keymanager_seal(const struct enclave_sealed_store *s,
			    const struct bls_key *k, const char *chain,
			    struct err *e);
/* signer_options' key_manager_store (ctx the enclave): attests, seals. */
int enclave_keymanager_store(void *ctx, const struct bls_key *k,
			     const char *chain, struct err *e);
/* The Keymanager API's delete in the enclave (signer_options'
 * key_manager_remove, ctx the enclave): marks pk's own record inactive in
 * the key table; -ERR_NOT_FOUND when pk has no record of its own (an
 * envelope bundle's key). */
int enclave_keymanager_remove(void *ctx, const uint8_t pk[BLS_PUBKEY_LEN],
			      struct err *e);
/* `reload`: the new key set swapped into the running signer. */
int enclave_reload_run(struct enclave *en, const json_t *msg, json_t **report,
		       struct err *e);

/* runtime.c: remembers pushed credentials' Expiration for status. */
void enclave_note_credentials(struct enclave *en, const json_t *creds);

/* api.c */
void enclave_rate_init(struct enclave_rate *r);
/* GET /attestation as a row of the signer's route table (init.c adds it). */
struct signer_route enclave_attestation_route(struct enclave *en);

#endif
