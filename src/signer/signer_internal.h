/*
 * signer_internal.h: the signing service's state and the handlers its route
 * table (routes.c) points at, shared by the files of src/signer only. A new
 * API (the Keymanager API next) is a new file with its handlers and new
 * rows in routes.c, not more of service.c.
 */
#ifndef NS_SIGNER_INTERNAL_H
#define NS_SIGNER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "signer/keys.h"
#include "signer/metrics.h"
#include "signer/signer.h"
#include "slashing/slashing.h"

#define SIGN_PREFIX "/api/v1/eth2/sign/"
#define SIGN_BATCH_PATH "/api/v1/eth2/sign"
/* Recent signing roots whose hash to G2 is kept: a slot's duties share a
 * handful of roots (attestation, sync committee, aggregation slot, RANDAO,
 * the selection proofs' subcommittees), and blocks and aggregates pass
 * through without pushing those out of a 4-way set. */
#define SIGNER_H2C_ENTRIES 64

enum reload_state { RELOAD_IDLE, RELOAD_RUNNING, RELOAD_COMPLETED,
		    RELOAD_COMPLETED_WITH_ERRORS, RELOAD_FAILED };

struct signer {
	struct eth2_network net;
	bool slashing_enabled;
	/* Slashing database; NULL when protection is off or it failed to
	 * open (then reopen is retried, at most every 10 s). */
	pthread_mutex_t db_lock;
	struct slashing_db *db;
	char *db_url;
	struct slashing_open_opts db_opts; /* mac_key -> db_mac */
	uint8_t db_mac[32];
	char db_error[256];
	uint64_t db_retry_at_us;
	struct signer_pruning pruning;
	/* The clock guard (clock_guard.c): window in epochs (0: off). */
	uint64_t clock_guard_epochs;
	struct signer_clock clock;
	bool metrics_enabled;
	/* who may call what (signer.h) */
	enum signer_client_auth client_auth;
	size_t known_clients;   /* LISTED: how many (0: nobody may sign) */
	uint32_t signing_types;
	bool http_reload;
	/* key loading options, kept for /reload */
	char *keystores_path, *keystores_passwords_path,
		*keystores_password_file, *key_store_path;

	pthread_rwlock_t keys_lock;
	struct key_registry *keys;
	struct key_load_report report;

	pthread_mutex_t reload_lock;
	pthread_t reload_thread;   /* joined before the next reload and at free */
	bool reload_joinable;
	enum reload_state reload_state;
	time_t reload_time;
	char reload_error[256];

	/* The Keymanager API (keymanager.c): served when km_enabled; the
	 * SHA-256 of its bearer token; km_lock serialises its imports and
	 * deletes with each other and with /reload's rebuild. */
	bool km_enabled;
	uint8_t km_token_hash[32];
	/* the enclave's: keys stored as sealed records, deletes mark them
	 * inactive (NULL standalone: files) */
	int (*km_remove)(void *ctx, const uint8_t pk[BLS_PUBKEY_LEN],
			 struct err *e);
	int (*km_store)(void *ctx, const struct bls_key *k, const char *chain,
			struct err *e);
	void *km_ctx;
	pthread_mutex_t km_lock;
	/* Keys imported through the API lately (under km_lock): a reload
	 * built from records read before the import's write keeps them
	 * (signer_keymanager_recent). */
	struct {
		uint8_t pk[BLS_PUBKEY_LEN];
		uint64_t at_us;
	} km_recent[64];
	size_t km_recent_next;

	/* the embedding program's rows (signer_options), after the signer's */
	struct signer_route *extra_routes;
	size_t nextra_routes;

	/* Points of recent signing roots (crypto.h), shared by every signing
	 * path: public data only. */
	struct bls_h2c_cache *h2c;

	_Atomic uint64_t signed_total[ETH2_SIGN_COUNT];
	_Atomic uint64_t refused_total;
	_Atomic uint64_t status_total[6]; /* 2xx 4xx(400) 404 412 415 5xx */
	struct signer_metrics metrics;    /* metrics.c */
};

/* Counts a reply's status for the metrics (once per request). */
void signer_count_status(struct signer *s, int status);
/* The open slashing database, opening it on first use; NULL (db_error
 * set, under db_lock) while it cannot be opened. May block: workers only. */
struct slashing_db *signer_db(struct signer *s);
/* 403 {"error":..,"reason":"type_not_allowed"}: the policy refuses t. */
void signer_reply_type_refused(enum eth2_sign_type t, struct http_reply *r);

/*
 * clock_guard.c. signer_clock_guard: for a slashable request with the guard
 * on, true when it may go on to slashing protection; otherwise r is the
 * refusal (412 reason "clock", or 503 reason "clock_unavailable") and
 * nothing was recorded. signer_clock_guard_check: the /healthcheck row
 * (NULL when the guard is off), *down when the clock is unavailable.
 * signer_clock_guard_setup (signer_new): refuses a network without a
 * genesis time while the guard is on, and logs which it is.
 */
int signer_clock_guard_setup(struct signer *s, const struct signer_options *o,
			     struct err *e);
bool signer_clock_guard(struct signer *s, const uint8_t pk[BLS_PUBKEY_LEN],
			const struct eth2_signing *sg, struct http_reply *r);
json_t *signer_clock_guard_check(struct signer *s, bool *down);

/* keymanager.c: reads the token (making the file when missing) when the
 * API is on; initialises km_lock either way. -ERR_USAGE for unusable
 * options. */
int signer_keymanager_setup(struct signer *s, const struct signer_options *o,
			    struct err *e);

/* The routes' handlers (routes.c's table): each runs on the request's event
 * loop after the table checked the method and the caller, and fills r (or
 * defers or parks it). */
void signer_route_sign(struct signer *s, const struct http_req *req,
		       struct http_reply *r);
/* POST /api/v1/eth2/sign: one request for many keys (batch.c). */
void signer_route_sign_batch(struct signer *s, const struct http_req *req,
			     struct http_reply *r);
void signer_route_public_keys(struct signer *s, const struct http_req *req,
			      struct http_reply *r);
void signer_route_watermark(struct signer *s, const struct http_req *req,
			    struct http_reply *r);
void signer_route_upcheck(struct signer *s, const struct http_req *req,
			  struct http_reply *r);
void signer_route_health(struct signer *s, const struct http_req *req,
			 struct http_reply *r);
void signer_route_reload(struct signer *s, const struct http_req *req,
			 struct http_reply *r);
/* GET, POST, DELETE /eth/v1/keystores (keymanager.c) */
void signer_route_keystores(struct signer *s, const struct http_req *req,
			    struct http_reply *r);

#endif
