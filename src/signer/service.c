/*
 * service.c: the signing service behind the Web3Signer eth2 HTTP API.
 *
 * Routes (routes.c has the table: path, methods, who may call, handler):
 * POST /api/v1/eth2/sign/{pubkey} (the batch POST /api/v1/eth2/sign is
 * batch.c's), and the cheap endpoints answered on the
 * event loop: GET /api/v1/eth2/publicKeys, /upcheck, /healthcheck, /reload
 * (GET status, POST start; not served in the enclave); the metrics have
 * their own listener (metrics.c). Signing,
 * key listing and state changes need an authorised client when the signer
 * authorises per route (the enclave: signer.h, enum signer_client_auth);
 * a signing type outside the policy is 403 type_not_allowed.
 *
 * The signing path (DESIGN.md section 5): strict parse and our own signing
 * root (eth2 module) -> key lookup -> the clock guard when on (epoch
 * near "now", clock_guard.c) -> slashing protection for BLOCK,
 * BLOCK_V2 and ATTESTATION (check and record in one durable transaction,
 * slashing module) -> BLS sign -> JSON or text by Web3Signer's Accept rule.
 * A refusal is 412 with a reason code and no signature; an unavailable or
 * failing database is 503 and no signature: nothing slashable is ever
 * signed unprotected. Protection can only be off by an explicit flag.
 *
 * Threading: handlers run on the http module's per-core event loops, and a
 * signature is computed right there (CPU only, ~0.3 ms), its message
 * hashed to G2 through the signer's cache (crypto.h: a root signed for
 * many validators is hashed once; the cache holds public data only). Nothing on a loop
 * blocks on I/O: slashable requests, /healthcheck and the high watermark
 * reach the database through http_reply_defer(), on the worker pool, where
 * the slashing engine groups concurrent requests into one commit.
 *
 * Keys: the registry pointer is read under a read lock for the whole lookup
 * and signature; /reload builds a new registry off-lock and swaps it under
 * the write lock, so in-flight signatures finish on the old keys and the old
 * registry is freed (wiped) only after the swap.
 */
#include "signer/signer_internal.h"
#include "signer/keys.h"
#include "slashing/slashing.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

/* ---- key loading ------------------------------------------------------------- */

static void load_opts(const struct signer *s, struct key_load_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->keystores_path = s->keystores_path;
	o->keystores_passwords_path = s->keystores_passwords_path;
	o->keystores_password_file = s->keystores_password_file;
	o->key_store_path = s->key_store_path;
	o->threads = cpu_count();
}

/* Only the sources the signer was given: the enclave, whose keys come
 * from init's records, has neither and logs its own count. */
static void log_report(const struct signer *s, const struct key_load_report *r)
{
	for (size_t i = 0; i < r->nfailures; i++)
		log_warn("key not loaded: %s", r->failures[i]);
	if (s->keystores_path)
		log_info("keys loaded: %d from keystores (%d failed)",
			 r->keystores_loaded, r->keystores_failed);
	if (s->key_store_path)
		log_info("keys loaded: %d from key configs (%d failed)",
			 r->configs_loaded, r->configs_failed);
}

/* A database bound to another chain than the network's refuses every
 * block and attestation (genesis_validators_root_mismatch): say so at once,
 * e.g. `make run ARGS=--network=hoodi` on the mainnet demo database. An
 * export of no validator is the backend-neutral way to read the binding. */
static void warn_other_chain(struct signer *s)
{
	if (!s->net.has_genesis_validators_root)
		return;
	static const uint8_t none[1][48];
	char *json = NULL;
	if (slashing_export(s->db, none, 0, &json, NULL) < 0)
		return; /* bound to no chain yet, or unreadable: open said */
	json_t *j = json_loads(json, 0, NULL);
	const char *gvr = json_string_value(json_object_get(
		json_object_get(j, "metadata"), "genesis_validators_root"));
	char want[2 + 64 + 1];
	hex_encode(s->net.genesis_validators_root, 32, want);
	if (gvr && strcasecmp(gvr, want) != 0)
		log_warn("slashing protection database %s belongs to another chain "
			 "(genesis_validators_root %s) than network %s (%s): every "
			 "block and attestation will be refused "
			 "(genesis_validators_root_mismatch); give this network "
			 "its own database", s->db_url, gvr, s->net.name, want);
	json_decref(j);
	free(json);
}

/* The open database, opening it on first use; NULL (with db_error set)
 * while it cannot be opened. Never blocks a loop: only workers and start-up
 * call it. */
struct slashing_db *signer_db(struct signer *s)
{
	pthread_mutex_lock(&s->db_lock);
	if (!s->db && clock_mono_us() >= s->db_retry_at_us) {
		struct err e = {0};
		if (slashing_open(s->db_url, &s->db_opts, &s->db, &e) < 0) {
			s->db = NULL;
			snprintf(s->db_error, sizeof(s->db_error), "%s", e.msg);
			s->db_retry_at_us = clock_mono_us() + 10 * 1000000ull;
			log_error("slashing protection database unavailable: %s "
				  "(blocks and attestations are refused)", e.msg);
		} else {
			s->db_error[0] = '\0';
			if (s->pruning.enabled)
				slashing_set_pruning(s->db, s->pruning.epochs_to_keep,
						     s->net.preset.slots_per_epoch,
						     s->pruning.interval_s);
			else
				slashing_set_pruning(s->db, 0, 0, 0);
			log_info("slashing protection database: %s%s", s->db_url,
				 strncmp(s->db_url, "dynamodb:", 9) ? ""
				 : s->db_opts.mac_key ? " (items MAC-checked)"
				 : " (items NOT MAC-checked: no "
				   "--slashing-protection-mac-key-file)");
			warn_other_chain(s);
		}
	}
	struct slashing_db *db = s->db;
	pthread_mutex_unlock(&s->db_lock);
	return db;
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

int signer_new(const struct signer_options *o, const struct eth2_network *net,
	       struct signer **out, struct err *e)
{
	struct signer *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	s->net = *net;
	s->slashing_enabled = o->slashing_enabled;
	s->metrics_enabled = o->metrics_enabled;
	if (o->nextra_routes) {
		s->extra_routes = calloc(o->nextra_routes, sizeof(*s->extra_routes));
		if (!s->extra_routes) {
			free(s);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		memcpy(s->extra_routes, o->extra_routes,
		       o->nextra_routes * sizeof(*s->extra_routes));
		s->nextra_routes = o->nextra_routes;
	}
	s->client_auth = o->client_auth;
	s->known_clients = o->known_clients;
	s->signing_types = o->signing_types;
	s->http_reload = !o->http_reload_disabled;
	s->keystores_path = dup_opt(o->keystores_path);
	s->keystores_passwords_path = dup_opt(o->keystores_passwords_path);
	s->keystores_password_file = dup_opt(o->keystores_password_file);
	s->key_store_path = dup_opt(o->key_store_path);
	pthread_rwlock_init(&s->keys_lock, NULL);
	pthread_mutex_init(&s->reload_lock, NULL);
	pthread_mutex_init(&s->db_lock, NULL);
	s->pruning = o->pruning;
	int rc = signer_keymanager_setup(s, o, e);
	if (rc == 0)
		rc = signer_clock_guard_setup(s, o, e);
	if (rc < 0) {
		signer_free(s);
		return rc;
	}
	if (bls_h2c_cache_new(SIGNER_H2C_ENTRIES, &s->h2c, e) < 0) {
		signer_free(s);
		return -ERR_NOMEM;
	}
	struct key_load_opts lo;
	load_opts(s, &lo);
	lo.progress = o->progress_given ? o->progress : isatty(STDERR_FILENO) != 0;
	rc = keys_load(&lo, &s->keys, &s->report, e);
	if (rc < 0) {
		signer_free(s);
		return rc;
	}
	log_report(s, &s->report);
	if (s->keystores_path && s->report.keystores_loaded == 0 &&
	    !s->km_enabled) {
		signer_free(s);
		return err_set(e, ERR_IO, "--keystores-path %s: no key loaded",
			       o->keystores_path);
	}
	/* The database only once there is something to protect. */
	if (s->slashing_enabled) {
		s->db_opts.aws = o->slashing_aws;
		if (o->slashing_mac_key) {
			memcpy(s->db_mac, o->slashing_mac_key, 32);
			s->db_opts.mac_key = s->db_mac;
		}
		s->db_url = strdup(o->slashing_db_url);
		if (!s->db_url) {
			signer_free(s);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		if (!o->slashing_open_deferred)
			(void)signer_db(s);
	}
	*out = s;
	return 0;
}

void signer_free(struct signer *s)
{
	if (!s)
		return;
	if (s->reload_joinable)
		pthread_join(s->reload_thread, NULL);
	slashing_close(s->db);
	free(s->db_url);
	pthread_mutex_destroy(&s->db_lock);
	keys_free(s->keys);
	key_load_report_free(&s->report);
	pthread_rwlock_destroy(&s->keys_lock);
	pthread_mutex_destroy(&s->reload_lock);
	pthread_mutex_destroy(&s->km_lock);
	free(s->keystores_path);
	free(s->keystores_passwords_path);
	free(s->keystores_password_file);
	free(s->key_store_path);
	free(s->extra_routes);
	OPENSSL_cleanse(s->db_mac, sizeof(s->db_mac));
	bls_h2c_cache_free(s->h2c);
	free(s);
}

void signer_install_keys(struct signer *s, struct key_registry *keys)
{
	pthread_rwlock_wrlock(&s->keys_lock);
	struct key_registry *old = s->keys;
	s->keys = keys;
	pthread_rwlock_unlock(&s->keys_lock);
	keys_free(old);
}

bool signer_has_key(struct signer *s, const uint8_t pubkey[BLS_PUBKEY_LEN])
{
	pthread_rwlock_rdlock(&s->keys_lock);
	bool has = s->keys && keys_find(s->keys, pubkey) != NULL;
	pthread_rwlock_unlock(&s->keys_lock);
	return has;
}

int signer_key_dup(struct signer *s, const uint8_t pubkey[BLS_PUBKEY_LEN],
		   struct bls_key **out, struct err *e)
{
	struct secret *sk = NULL;
	int rc;
	pthread_rwlock_rdlock(&s->keys_lock);
	const struct bls_key *k = s->keys ? keys_find(s->keys, pubkey) : NULL;
	if (!k)
		rc = err_set(e, ERR_NOT_FOUND, "key not loaded");
	else
		rc = bls_key_export(k, &sk, e);
	pthread_rwlock_unlock(&s->keys_lock);
	if (rc == 0)
		rc = bls_key_from_bytes(sk->bytes, out, e);
	secret_free(sk);
	return rc;
}

int signer_slashing_health(struct signer *s, struct err *e)
{
	if (!s->slashing_enabled)
		return err_set(e, ERR_UNAVAILABLE, "slashing protection is off");
	struct slashing_db *db = signer_db(s);
	if (!db) {
		pthread_mutex_lock(&s->db_lock);
		int rc = err_set(e, ERR_UNAVAILABLE, "%s", s->db_error);
		pthread_mutex_unlock(&s->db_lock);
		return rc;
	}
	return slashing_health(db, e);
}

size_t signer_key_count(struct signer *s)
{
	pthread_rwlock_rdlock(&s->keys_lock);
	size_t n = keys_count(s->keys);
	pthread_rwlock_unlock(&s->keys_lock);
	return n;
}

void signer_print_banner(const struct signer *s, const char *url)
{
	printf("nitro-signer %s listening on %s (network %s, slashing "
	       "protection %s)\n", NS_VERSION, url, s->net.name,
	       s->slashing_enabled ? "on" : "OFF");
	size_t n = keys_count(s->keys);
	printf("%zu public key%s:\n", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		char hex[2 + 2 * BLS_PUBKEY_LEN + 1];
		hex_encode(keys_pubkey_at(s->keys, i), BLS_PUBKEY_LEN, hex);
		printf("  %s\n", hex);
	}
	fflush(stdout);
}

/* ---- helpers ------------------------------------------------------------------ */

void signer_count_status(struct signer *s, int status)
{
	int i = status < 300 ? 0 : status == 404 ? 2 : status == 412 ? 3
	      : status == 415 ? 4 : status < 500 ? 1 : 5;
	atomic_fetch_add(&s->status_total[i], 1);
}

/* "0xABC.." or "abc..": lower-cased, 0x prepended, exactly 48 bytes. */
static int parse_identifier(const char *id, uint8_t pk[BLS_PUBKEY_LEN])
{
	char buf[2 + 2 * BLS_PUBKEY_LEN + 1];
	const char *hex = (id[0] == '0' && (id[1] == 'x' || id[1] == 'X'))
				  ? id + 2 : id;
	if (strlen(hex) != 2 * BLS_PUBKEY_LEN)
		return -ERR_NOT_FOUND;
	snprintf(buf, sizeof(buf), "0x%s", hex);
	return hex_decode_exact(buf, pk, BLS_PUBKEY_LEN, NULL, "identifier") < 0
		       ? -ERR_NOT_FOUND : 0;
}

static void reply_signature(const struct http_req *req, struct http_reply *r,
			    const uint8_t sig[BLS_SIG_LEN])
{
	char hex[2 + 2 * BLS_SIG_LEN + 1];
	hex_encode(sig, BLS_SIG_LEN, hex);
	if (http_accept_wants_json(req->accept)) {
		char body[sizeof(hex) + 32];
		snprintf(body, sizeof(body), "{\"signature\":\"%s\"}", hex);
		http_reply_text(r, 200, "application/json; charset=utf-8", body);
	} else {
		http_reply_text(r, 200, "text/plain; charset=utf-8", hex);
	}
}

/* ---- POST /api/v1/eth2/sign/{identifier} --------------------------------------- */

struct slashable_job {
	struct signer *s;
	struct eth2_signing sg;
	uint8_t pubkey[BLS_PUBKEY_LEN];
	uint64_t started_us; /* for signing_bls_signing_duration */
	/* the async path */
	struct http_pending *pending;
	int rc;
	enum slashing_reason why;
	struct err err;
};

static void reply_refused(struct signer *s, struct slashable_job *job,
			  struct http_reply *r)
{
	atomic_fetch_add(&s->refused_total, 1);
	signer_metrics_prevented(s);
	char hex[2 + 2 * BLS_PUBKEY_LEN + 1];
	hex_encode(job->pubkey, BLS_PUBKEY_LEN, hex);
	log_warn("slashing protection refused %s for %s: %s",
		 eth2_sign_type_name(job->sg.type), hex,
		 slashing_reason_code(job->why));
	json_t *o = json_pack("{s:s,s:s}", "error",
			      "refused by slashing protection", "reason",
			      slashing_reason_code(job->why));
	http_reply_json_owned(r, 412, o ? json_dumps(o, JSON_COMPACT) : NULL);
	json_decref(o);
}

static void reply_db_error(const char *why, struct http_reply *r)
{
	char msg[400];
	snprintf(msg, sizeof(msg), "slashing protection database unavailable: %s",
		 why);
	log_error("%s", msg);
	http_reply_error(r, 503, msg);
}

/*
 * The async path. On the loop: the request is queued with the engine and
 * parked (no thread waits). On the committer thread, after the batch is
 * durable: the decision is noted and the request resumed. Back on the loop:
 * sign if allowed. A burst of hundreds of attestations thus shares one
 * commit, and BLS signing stays on the per-core loops.
 */
static void slashable_finish(const struct http_req *req, struct http_reply *r,
			     void *ctx)
{
	struct slashable_job *job = ctx;
	struct signer *s = job->s;
	if (job->rc < 0) {
		reply_db_error(job->err.msg, r);
	} else if (job->why != SLASHING_OK) {
		reply_refused(s, job, r);
	} else {
		uint8_t sig[BLS_SIG_LEN];
		pthread_rwlock_rdlock(&s->keys_lock);
		const struct bls_key *k = keys_find(s->keys, job->pubkey);
		if (k)
			bls_h2c_cache_sign(s->h2c, k, job->sg.signing_root, sig);
		pthread_rwlock_unlock(&s->keys_lock);
		if (!k) {
			/* removed by a reload after the record was made: the
			 * record only makes future requests safer */
			http_reply_error(r, 404, "unknown public key");
		} else {
			atomic_fetch_add(&s->signed_total[job->sg.type], 1);
			signer_metrics_signed(s, 1);
			reply_signature(req, r, sig);
		}
	}
	signer_count_status(s, r->status);
	signer_metrics_observe(s, job->started_us);
	free(job);
}

static void slashable_decided(void *arg, int rc, enum slashing_reason why,
			      const struct err *e)
{
	struct slashable_job *job = arg;
	job->rc = rc;
	job->why = why;
	if (rc < 0 && e)
		job->err = *e;
	http_pending_resume(job->pending, slashable_finish, job);
}

static void slashable_start(struct http_pending *p, void *ctx)
{
	struct slashable_job *job = ctx;
	job->pending = p;
	struct slashing_db *db = job->s->db; /* open: checked by the caller */
	if (slashing_check_async(db, job->pubkey, &job->sg, slashable_decided,
				 job, &job->err) < 0) {
		job->rc = -ERR_UNAVAILABLE;
		http_pending_resume(p, slashable_finish, job);
	}
}

/*
 * On a worker: key lookup, then check-and-record (durable before we go on),
 * then sign. The key is looked up first so an unknown key never leaves a
 * record; the read lock is held throughout so a reload cannot free the key
 * between the record and the signature.
 */
static void sign_slashable(const struct http_req *req, struct http_reply *r,
			   void *ctx)
{
	struct slashable_job *job = ctx;
	struct signer *s = job->s;
	struct slashing_db *db = signer_db(s);
	struct err e = {0};
	enum slashing_reason why = SLASHING_OK;
	uint8_t sig[BLS_SIG_LEN];
	pthread_rwlock_rdlock(&s->keys_lock);
	const struct bls_key *k = keys_find(s->keys, job->pubkey);
	int rc = 0;
	if (k && db)
		rc = slashing_check(db, job->pubkey, &job->sg, &why, &e);
	if (k && db && rc == 0 && why == SLASHING_OK)
		bls_h2c_cache_sign(s->h2c, k, job->sg.signing_root, sig);
	pthread_rwlock_unlock(&s->keys_lock);
	if (!k) {
		http_reply_error(r, 404, "unknown public key");
	} else if (!db || rc < 0) {
		reply_db_error(db ? e.msg : s->db_error, r);
	} else if (why != SLASHING_OK) {
		job->why = why;
		reply_refused(s, job, r);
	} else {
		atomic_fetch_add(&s->signed_total[job->sg.type], 1);
		signer_metrics_signed(s, 1);
		reply_signature(req, r, sig);
	}
	signer_count_status(s, r->status);
	signer_metrics_observe(s, job->started_us);
	free(job);
}

void signer_reply_type_refused(enum eth2_sign_type t, struct http_reply *r)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "signing type %s is not allowed by this "
		 "signer's policy (--allow-signing-types)",
		 eth2_sign_type_name(t));
	log_warn("refused a %s signing request: type not allowed",
		 eth2_sign_type_name(t));
	json_t *o = json_pack("{s:s,s:s}", "error", msg, "reason",
			      "type_not_allowed");
	http_reply_json_owned(r, 403, o ? json_dumps(o, JSON_COMPACT) : NULL);
	json_decref(o);
}

static void sign_request(struct signer *s, const struct http_req *req,
			 struct http_reply *r, uint64_t started_us)
{
	if (!http_content_type_is_json(req->content_type)) {
		http_reply_error(r, 415, "Content-Type must be application/json");
		return;
	}
	struct err e = {0};
	struct eth2_signing sg;
	if (eth2_signing_parse(&s->net, (const char *)req->body, req->body_len,
			       &sg, &e) < 0) {
		if (e.code == ERR_INVALID)
			signer_metrics_malformed(s);
		http_reply_error(r, e.code == ERR_INVALID ? 400 : 500, e.msg);
		return;
	}
	if (!(s->signing_types & (UINT32_C(1) << sg.type))) {
		signer_reply_type_refused(sg.type, r);
		return;
	}
	uint8_t pk[BLS_PUBKEY_LEN];
	if (parse_identifier(req->path + strlen(SIGN_PREFIX), pk) < 0) {
		signer_metrics_missing(s);
		http_reply_error(r, 404, "unknown public key");
		return;
	}
	/* The clock guard: before slashing protection (so a refusal records
	 * nothing) and before any signature; an unknown key stays 404. */
	if (sg.slashable && s->clock_guard_epochs && signer_has_key(s, pk) &&
	    !signer_clock_guard(s, pk, &sg, r))
		return;
	uint8_t sig[BLS_SIG_LEN];
	pthread_rwlock_rdlock(&s->keys_lock);
	const struct bls_key *k = keys_find(s->keys, pk);
	bool defer = k && sg.slashable && s->slashing_enabled;
	if (k && !defer)
		bls_h2c_cache_sign(s->h2c, k, sg.signing_root, sig);
	pthread_rwlock_unlock(&s->keys_lock);
	if (!k) {
		signer_metrics_missing(s);
		http_reply_error(r, 404, "unknown public key");
		return;
	}
	if (defer) {
		struct slashable_job *job = malloc(sizeof(*job));
		if (!job) {
			http_reply_error(r, 500, "out of memory");
			return;
		}
		memset(job, 0, sizeof(*job));
		job->s = s;
		job->sg = sg;
		job->started_us = started_us;
		memcpy(job->pubkey, pk, sizeof(pk));
		pthread_mutex_lock(&s->db_lock);
		bool open = s->db != NULL;
		pthread_mutex_unlock(&s->db_lock);
		if (open) /* the common case: no thread waits for the commit */
			http_reply_park(r, slashable_start, job);
		else      /* (re)opening may block: a worker does it */
			http_reply_defer(r, sign_slashable, job);
		return;
	}
	atomic_fetch_add(&s->signed_total[sg.type], 1);
	signer_metrics_signed(s, 1);
	reply_signature(req, r, sig);
}

/* The duration runs to the reply: a parked or deferred request's job
 * observes it when it finishes. */
void signer_route_sign(struct signer *s, const struct http_req *req,
		       struct http_reply *r)
{
	uint64_t started_us = clock_mono_us();
	sign_request(s, req, r, started_us);
	if (!r->defer_fn && !r->park_fn)
		signer_metrics_observe(s, started_us);
}

/* ---- cheap endpoints ------------------------------------------------------------ */

static bool accept_allows(const char *accept, const char *type,
			  const char *family)
{
	if (!accept || !*accept)
		return true;
	char *copy = strdup(accept);
	bool ok = false;
	char *save = NULL;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !ok;
	     t = strtok_r(NULL, ",", &save)) {
		char *semi = strchr(t, ';');
		if (semi)
			*semi = '\0';
		while (*t == ' ' || *t == '\t')
			t++;
		size_t l = strlen(t);
		while (l && (t[l - 1] == ' ' || t[l - 1] == '\t'))
			t[--l] = '\0';
		ok = strcasecmp(t, type) == 0 || strcasecmp(t, family) == 0 ||
		     strcmp(t, "*/*") == 0;
	}
	free(copy);
	return ok;
}

void signer_route_public_keys(struct signer *s, const struct http_req *req,
			       struct http_reply *r)
{
	if (!accept_allows(req->accept, "application/json", "application/*")) {
		http_reply_error(r, 406, "only application/json is produced");
		return;
	}
	json_t *a = json_array();
	pthread_rwlock_rdlock(&s->keys_lock);
	size_t n = keys_count(s->keys);
	for (size_t i = 0; i < n; i++) {
		char hex[2 + 2 * BLS_PUBKEY_LEN + 1];
		hex_encode(keys_pubkey_at(s->keys, i), BLS_PUBKEY_LEN, hex);
		json_array_append_new(a, json_string(hex));
	}
	pthread_rwlock_unlock(&s->keys_lock);
	http_reply_json_owned(r, 200, json_dumps(a, JSON_COMPACT));
	json_decref(a);
}

static void handle_upcheck(const struct http_req *req, struct http_reply *r)
{
	if (accept_allows(req->accept, "text/plain", "text/*")) {
		http_reply_text(r, 200, "text/plain; charset=utf-8", "OK");
	} else if (http_accept_wants_json(req->accept) ||
		   accept_allows(req->accept, "application/json",
				 "application/*")) {
		/* Lodestar asks for JSON and expects {"status":"OK"}. */
		http_reply_text(r, 200, "application/json; charset=utf-8",
				"{\"status\":\"OK\"}");
	} else {
		http_reply_error(r, 406, "text/plain or application/json only");
	}
}

static json_t *key_check(const char *id, int loaded, int errors)
{
	return json_pack("{s:s,s:s,s:{s:i,s:i}}", "id", id, "status",
			 errors ? "DOWN" : "UP", "data", "keys-loaded", loaded,
			 "error-count", errors);
}

static void healthcheck_reply(struct signer *s, struct http_reply *r,
			      bool with_db, bool db_up, const char *db_msg);

/*
 * Who may sign, for /healthcheck (informational: UP either way, so a load
 * balancer's check is not failed by it): "known-clients", or
 * "any-client" with a warning.
 */
static json_t *client_auth_check(const struct signer *s)
{
	bool any = s->client_auth == SIGNER_CLIENTS_ANY;
	bool none = !any && s->known_clients == 0;
	json_t *c = json_pack("{s:s,s:s,s:{s:s}}", "id", "client-authentication",
			      "status", "UP", "data", "mode",
			      any ? "any-client" : none ? "none" : "known-clients");
	const char *warning = any ? "--tls-allow-any-client: any TLS client may "
				    "sign"
			      : none ? "no client is listed: nothing is signed"
				     : NULL;
	if (c && warning)
		json_object_set_new(json_object_get(c, "data"), "warning",
				    json_string(warning));
	return c;
}

static void healthcheck_db(const struct http_req *req, struct http_reply *r,
			   void *ctx)
{
	struct signer *s = ctx;
	struct slashing_db *db = signer_db(s);
	struct err e = {0};
	bool up = db && slashing_health(db, &e) == 0;
	healthcheck_reply(s, r, true, up, db ? e.msg : s->db_error);
	signer_count_status(s, r->status);
}

static void handle_healthcheck(struct signer *s, struct http_reply *r)
{
	if (s->slashing_enabled) {
		http_reply_defer(r, healthcheck_db, s);
		return;
	}
	healthcheck_reply(s, r, false, false, NULL);
}

static void healthcheck_reply(struct signer *s, struct http_reply *r,
			      bool with_db, bool db_up, const char *db_msg)
{
	pthread_rwlock_rdlock(&s->keys_lock);
	struct key_load_report rep = s->report;
	size_t keys_n = keys_count(s->keys);
	pthread_rwlock_unlock(&s->keys_lock);
	json_t *sub = json_array();
	bool down = false;
	if (s->key_store_path) {
		json_array_append_new(sub, key_check("config-files-loading",
						     rep.configs_loaded,
						     rep.configs_failed));
		down |= rep.configs_failed > 0;
	}
	if (s->keystores_path) {
		json_array_append_new(sub, key_check("keystores-bulk-loading",
						     rep.keystores_loaded,
						     rep.keystores_failed));
		down |= rep.keystores_failed > 0;
	}
	if (!s->key_store_path && !s->keystores_path) {
		/* keys not from files (the enclave's): the count right now */
		json_array_append_new(sub, key_check("keys-loaded",
						     (int)keys_n, 0));
	}
	const char *keys_st = down ? "DOWN" : "UP";
	json_t *checks = json_array();
	json_array_append_new(checks, json_pack("{s:s,s:s}", "id",
						"default-check", "status", "UP"));
	json_array_append_new(checks, json_pack("{s:s,s:s,s:o}", "id",
						"keys-check", "status", keys_st,
						"checks", sub));
	if (s->client_auth != SIGNER_CLIENTS_TRANSPORT)
		json_array_append_new(checks, client_auth_check(s));
	bool clock_down = false;
	json_t *clock = signer_clock_guard_check(s, &clock_down);
	if (clock)
		json_array_append_new(checks, clock);
	down |= clock_down;
	if (with_db) {
		json_t *c = json_pack("{s:s,s:s}", "id",
				      "slashing-protection-db-health-check",
				      "status", db_up ? "UP" : "DOWN");
		if (!db_up && c)
			json_object_set_new(c, "data",
					    json_pack("{s:s}", "error",
						      db_msg ? db_msg : ""));
		json_array_append_new(checks, c);
		down |= !db_up;
	}
	const char *st = down ? "DOWN" : "UP";
	json_t *o = json_pack("{s:s,s:s,s:o}", "status", st, "outcome", st,
			      "checks", checks);
	http_reply_json_owned(r, down ? 503 : 200, json_dumps(o, JSON_COMPACT));
	json_decref(o);
}

static void high_watermark_db(const struct http_req *req,
			      struct http_reply *r, void *ctx)
{
	struct signer *s = ctx;
	struct slashing_db *db = signer_db(s);
	struct slashing_watermark w = {0};
	struct err e = {0};
	if (!db || slashing_get_high_watermark(db, &w, &e) < 0) {
		http_reply_error(r, 503, db ? e.msg : s->db_error);
	} else {
		json_t *o = json_object();
		char num[24];
		if (w.has_epoch) {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)w.epoch);
			json_object_set_new(o, "epoch", json_string(num));
		}
		if (w.has_slot) {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)w.slot);
			json_object_set_new(o, "slot", json_string(num));
		}
		http_reply_json_owned(r, 200, json_dumps(o, JSON_COMPACT));
		json_decref(o);
	}
	signer_count_status(s, r->status);
}

static const char *reload_state_name(enum reload_state st)
{
	static const char *names[] = {"idle", "running", "completed",
				      "completed_with_errors", "failed"};
	return names[st];
}

static void *reload_thread(void *arg)
{
	struct signer *s = arg;
	/* Started from a pinned loop; keystore decryption wants every core. */
	cpu_unpin_thread();
	struct key_load_opts lo;
	load_opts(s, &lo);
	struct key_registry *fresh = NULL;
	struct key_load_report rep = {0};
	struct err e = {0};
	/* not between a Keymanager import or delete's steps */
	pthread_mutex_lock(&s->km_lock);
	int rc = keys_load(&lo, &fresh, &rep, &e);
	struct key_registry *old = NULL;
	struct key_load_report old_rep = {0};
	if (rc == 0) {
		log_report(s, &rep);
		pthread_rwlock_wrlock(&s->keys_lock);
		old = s->keys;
		old_rep = s->report;
		s->keys = fresh;
		s->report = rep;
		pthread_rwlock_unlock(&s->keys_lock);
		keys_free(old);
		key_load_report_free(&old_rep);
	}
	pthread_mutex_unlock(&s->km_lock);
	pthread_mutex_lock(&s->reload_lock);
	s->reload_time = time(NULL);
	if (rc < 0) {
		s->reload_state = RELOAD_FAILED;
		snprintf(s->reload_error, sizeof(s->reload_error), "%s", e.msg);
	} else {
		bool errs = rep.keystores_failed || rep.configs_failed;
		s->reload_state = errs ? RELOAD_COMPLETED_WITH_ERRORS
				       : RELOAD_COMPLETED;
		s->reload_error[0] = '\0';
	}
	pthread_mutex_unlock(&s->reload_lock);
	return NULL;
}

/*
 * A browser's request from some web page (Origin, or Sec-Fetch-Site other
 * than "none", which is a user typing the URL), or a body that is not
 * JSON: a form or a no-cors fetch could make one without a preflight.
 * Validator clients and curl send neither.
 */
static bool cross_site(const struct http_req *req, struct http_reply *r)
{
	if (req->origin || (req->sec_fetch_site &&
			    strcmp(req->sec_fetch_site, "none") != 0)) {
		http_reply_error(r, 403, "cross-site requests are refused");
		return true;
	}
	if ((req->content_type && !http_content_type_is_json(req->content_type)) ||
	    (req->body_len && !req->content_type)) {
		http_reply_error(r, 415, "Content-Type must be application/json "
				 "or absent with an empty body");
		return true;
	}
	return false;
}

void signer_route_reload(struct signer *s, const struct http_req *req,
			  struct http_reply *r)
{
	/* Only POST starts a reload (GET and HEAD report), and not from a
	 * web page. */
	if (req->method == HTTP_POST && cross_site(req, r))
		return;
	pthread_mutex_lock(&s->reload_lock);
	if (req->method != HTTP_POST) {
		json_t *o = json_pack("{s:s}", "status",
				      reload_state_name(s->reload_state));
		if (s->reload_time) {
			char when[32];
			struct tm tm;
			gmtime_r(&s->reload_time, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			json_object_set_new(o, "lastOperationTime",
					    json_string(when));
		}
		if (s->reload_error[0])
			json_object_set_new(o, "lastError",
					    json_string(s->reload_error));
		pthread_mutex_unlock(&s->reload_lock);
		http_reply_json_owned(r, 200, json_dumps(o, JSON_COMPACT));
		json_decref(o);
		return;
	}
	if (!s->keystores_path && !s->key_store_path) {
		pthread_mutex_unlock(&s->reload_lock);
		http_reply_error(r, 409, "nothing to reload: no --keystores-path "
				 "or --key-store-path is configured (the loaded "
				 "keys are kept)");
		return;
	}
	if (s->reload_state == RELOAD_RUNNING) {
		pthread_mutex_unlock(&s->reload_lock);
		http_reply_text(r, 409, "application/json; charset=utf-8",
				"{\"status\":\"error\",\"message\":\"reload "
				"already running\"}");
		return;
	}
	if (s->reload_joinable) /* finished: its state is no longer running */
		pthread_join(s->reload_thread, NULL);
	s->reload_state = RELOAD_RUNNING;
	bool started = pthread_create(&s->reload_thread, NULL, reload_thread,
				      s) == 0;
	s->reload_joinable = started;
	if (!started)
		s->reload_state = RELOAD_FAILED;
	pthread_mutex_unlock(&s->reload_lock);
	if (!started) {
		http_reply_error(r, 500, "cannot start reload");
		return;
	}
	http_reply_text(r, 202, "application/json; charset=utf-8",
			"{\"status\":\"accepted\",\"message\":\"reload "
			"started\"}");
}

/* ---- the routes' handlers not defined above (routes.c has the table) -------- */

void signer_route_upcheck(struct signer *s, const struct http_req *req,
			  struct http_reply *r)
{
	(void)s;
	handle_upcheck(req, r);
}

void signer_route_health(struct signer *s, const struct http_req *req,
			 struct http_reply *r)
{
	(void)req;
	handle_healthcheck(s, r);
}

void signer_route_watermark(struct signer *s, const struct http_req *req,
			    struct http_reply *r)
{
	(void)req;
	http_reply_defer(r, high_watermark_db, s);
}
