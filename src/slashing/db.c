/*
 * db.c: the front of the slashing engine: the table of backends by URL
 * scheme, the group commit, and the thread-safe public functions of
 * slashing.h.
 *
 * Backends: a backend is a struct slashing_backend_ops (backend.h: open,
 * close, check_batch, import, export, prune_step, set_enabled, repair_low,
 * set_high, get_high, health, usage), and backends[] below maps a URL
 * scheme to one, as OpenSSH's keyimpls[] maps a key type to its
 * sshkey_impl: slashing_open() finds the row whose scheme starts the URL
 * and hands the rest ("sqlite:/x.db" -> "/x.db") and the caller's
 * struct slashing_open_opts to its open. Everything above the backend is
 * shared: the group commit and the locks here, interchange parsing and
 * the shapes of import and export (interchange.c), and the rules, with the
 * watermark arithmetic of imports, repairs and pruning (rules.c). A backend
 * gathers facts from its store, asks rules.c, and writes what they say, as
 * one atomic unit per call; backend.h states the whole contract. A new
 * backend adds a file and a row: docs/slashing.md, "Backends".
 *
 * Group commit: signing threads enqueue a request (on their own stack) and
 * sleep. One committer thread per db takes every pending request (at most
 * the backend's batch_max, BATCH_MAX by default), hands them to the backend as ONE transaction, decided in
 * arrival order (each sees the records of those before it, so two
 * conflicting votes in one batch can never both pass), and wakes the callers
 * only after the backend returned, i.e. after the records are durable (for
 * SQLite: after COMMIT's fsync). A failed batch fails every request in it
 * with an error: nothing is reported allowed unless its record is durable.
 * While a batch commits, new requests pile up and form the next batch, so
 * one commit serves many validators under load and a lone request pays
 * exactly one.
 *
 * A group (slashing_check_many: the batch endpoint's one message for many
 * validators) is one queued request carrying all its messages; it goes
 * into one batch whole, even past BATCH_MAX, so the group costs one commit.
 * Each message is still decided on its own, in order.
 *
 * Each blocking caller sleeps on its own condition variable, signalled
 * once. Async callers (slashing_check_async: the HTTP signer, so a burst of
 * hundreds of requests fits in one commit without one thread per request)
 * get a callback on the committer thread after the commit instead.
 *
 * Locks: q_lock guards the queue, the health state and the pruning
 * schedule; be_lock serialises every backend call on this handle (the
 * committer's batches, and import/export/prune/admin calls from other
 * threads), so a backend never sees two calls on one handle at once. Lock
 * order: never hold q_lock while taking be_lock.
 *
 * The committer also prunes periodically (slashing_set_pruning), in steps of
 * PRUNE_STEP validators, serving pending requests between steps; where a
 * pass resumes is an opaque cursor the backend writes.
 *
 * Trusts: callers for fixed-size arguments; interchange text is parsed and
 * validated by interchange.c before any backend sees it.
 */
#include "backend.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 64
#define PRUNE_STEP 256

/* ---- the backends, by URL scheme ---------------------------------------- */

static const struct {
	const char *scheme; /* the URL's prefix, up to and including ':' */
	const char *form;   /* for the usage message */
	const struct slashing_backend_ops *ops;
} backends[] = {
	{"sqlite:", "sqlite:PATH", &slashing_sqlite_ops},
	{"mem:", "mem:[NAME] (volatile: tests)", &slashing_mem_ops},
	{"dynamodb:", "dynamodb://TABLE?region=R[&endpoint=URL]",
	 &slashing_dynamodb_ops},
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

static int unknown_scheme(const char *url, struct err *e)
{
	char forms[160] = "";
	size_t n = 0;
	for (size_t i = 0; i < N_BACKENDS && n < sizeof(forms); i++)
		n += (size_t)snprintf(forms + n, sizeof(forms) - n, "%s%s",
				      i == 0 ? "" : i + 1 < N_BACKENDS ? ", " : " or ",
				      backends[i].form);
	return err_set(e, ERR_USAGE,
		       "--slashing-protection-db-url: expected %s, got \"%.64s\"",
		       forms, url ? url : "");
}

/* The row for url and, in *where, the rest of it; -ERR_USAGE when the
 * scheme is unknown or the store volatile and o does not allow that. */
static int find_backend(const char *url, const struct slashing_open_opts *o,
			size_t *row, const char **where, struct err *e)
{
	size_t i = 0;
	while (i < N_BACKENDS && (!url || strncmp(url, backends[i].scheme,
						  strlen(backends[i].scheme)) != 0))
		i++;
	if (i == N_BACKENDS)
		return unknown_scheme(url, e);
	*row = i;
	*where = url + strlen(backends[i].scheme);
	if (!o->allow_volatile && backends[i].ops->is_volatile(*where))
		return err_set(e, ERR_USAGE,
			       "--slashing-protection-db-url: %.64s keeps nothing "
			       "across a restart (tests only): a signer needs a "
			       "durable database", url);
	return 0;
}

static const struct slashing_open_opts default_opts;

int slashing_url_check(const char *url, const struct slashing_open_opts *opts,
		       struct err *e)
{
	size_t row;
	const char *where;
	return find_backend(url, opts ? opts : &default_opts, &row, &where, e);
}

/* ---- the engine ------------------------------------------------------ */

/* A message waiting for the committer, with whoever waits for its fate. */
struct slashing_request {
	struct slashing_msg msg; /* decided by the backend's check_batch */
	/* A group (slashing_check_many): these messages instead of msg, all
	 * in one batch however many they are. */
	struct slashing_msg *group;
	size_t ngroup;
	struct slashing_request *next;
	/* async callers (heap request, freed after the callback); NULL for
	 * the blocking ones, who wait on done_cv */
	slashing_done_fn done_fn;
	void *done_arg;
	pthread_cond_t done_cv; /* signalled once, for this caller only */
	bool done;
	int rc;
	struct err err;
};

struct slashing_db {
	const struct slashing_backend_ops *ops;
	void *be;
	pthread_mutex_t be_lock;

	pthread_mutex_t q_lock;
	pthread_cond_t q_cv; /* committer: work arrived or stopping */
	struct slashing_request *head, *tail;
	bool stopping;
	pthread_t committer;

	/* health: outcome of the most recent write */
	bool write_failed;
	char write_err[sizeof(((struct err *)0)->msg)];

	/* the committer's batch (at most batch_max requests) */
	size_t batch_max;
	struct slashing_request **batch;
	struct slashing_msg **msgs;

	/* periodic pruning (committer thread) */
	uint64_t prune_keep, prune_spe, prune_interval_us, next_prune_us;
	bool prune_running;
	struct slashing_prune_cursor prune_cursor;
};

static void note_write(struct slashing_db *db, int rc, const struct err *e)
{
	/* caller holds q_lock */
	db->write_failed = rc < 0;
	if (rc < 0)
		snprintf(db->write_err, sizeof(db->write_err), "%s",
			 e->msg[0] ? e->msg : "write failed");
}

static size_t request_msgs(const struct slashing_request *r)
{
	return r->group ? r->ngroup : 1;
}

/* The batch's messages in arrival order, as the backend takes them. */
static struct slashing_msg **batch_msgs(struct slashing_request **batch,
					size_t n, size_t nmsgs,
					struct slashing_msg **local)
{
	struct slashing_msg **msgs =
		nmsgs <= BATCH_MAX ? local : malloc(nmsgs * sizeof(*msgs));
	if (!msgs)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!batch[i]->group)
			msgs[k++] = &batch[i]->msg;
		for (size_t j = 0; batch[i]->group && j < batch[i]->ngroup; j++)
			msgs[k++] = &batch[i]->group[j];
	}
	return msgs;
}

static void run_batch(struct slashing_db *db, struct slashing_request **batch,
		      size_t n, size_t nmsgs)
{
	struct err e = {0};
	struct slashing_msg *local[BATCH_MAX];
	struct slashing_msg **msgs = batch_msgs(batch, n, nmsgs, local);
	int rc;
	if (!msgs) {
		rc = err_set(&e, ERR_UNAVAILABLE, "out of memory");
	} else {
		pthread_mutex_lock(&db->be_lock);
		rc = db->ops->check_batch(db->be, msgs, nmsgs, &e);
		pthread_mutex_unlock(&db->be_lock);
	}
	/* A message the backend failed alone (DynamoDB) counts as a failed
	 * write for /healthcheck too. */
	int health_rc = rc;
	const struct err *health_e = &e;
	for (size_t i = 0; msgs && rc == 0 && i < nmsgs && health_rc == 0; i++)
		if (msgs[i]->rc < 0) {
			health_rc = msgs[i]->rc;
			health_e = &msgs[i]->err;
		}
	if (rc < 0)
		log_error("slashing protection: batch of %zu request(s) failed, "
			  "none signed: %s", nmsgs, e.msg);
	pthread_mutex_lock(&db->q_lock);
	note_write(db, health_rc, health_e);
	if (msgs != local)
		free(msgs);
	size_t nasync = 0;
	for (size_t i = 0; i < n; i++) {
		struct slashing_request *r = batch[i];
		r->rc = rc < 0 ? rc : r->msg.rc < 0 ? r->msg.rc : 0;
		if (rc < 0)
			r->err = e;
		else if (r->msg.rc < 0)
			r->err = r->msg.err;
		/* a group fails whole when one of its messages failed alone:
		 * its caller has no per-message error to give */
		for (size_t j = 0; rc == 0 && r->group && j < r->ngroup; j++)
			if (r->group[j].rc < 0 && r->rc == 0) {
				r->rc = r->group[j].rc;
				r->err = r->group[j].err;
			}
		if (r->done_fn) {
			batch[nasync++] = r; /* nasync <= i: reuse the array */
			continue;
		}
		r->done = true;
		/* one wake-up per caller: no herd of waiters re-checking; a
		 * blocking caller's request lives on its stack, so it is not
		 * touched after this */
		pthread_cond_signal(&r->done_cv);
	}
	pthread_mutex_unlock(&db->q_lock);
	for (size_t i = 0; i < nasync; i++) {
		struct slashing_request *r = batch[i];
		r->done_fn(r->done_arg, r->rc, r->msg.decision, &r->err);
		free(r);
	}
}

/* The slots of keep epochs, saturating (keeping more is always safe). */
static uint64_t keep_slots(uint64_t keep, uint64_t slots_per_epoch)
{
	return slots_per_epoch && keep > UINT64_MAX / slots_per_epoch
		       ? UINT64_MAX
		       : keep * slots_per_epoch;
}

static void prune_one_step(struct slashing_db *db)
{
	/* caller holds q_lock; released around the backend call */
	uint64_t keep = db->prune_keep, spe = db->prune_spe;
	struct slashing_prune_cursor cursor = db->prune_cursor;
	pthread_mutex_unlock(&db->q_lock);
	struct err e = {0};
	bool done = false;
	pthread_mutex_lock(&db->be_lock);
	int rc = db->ops->prune_step(db->be, keep_slots(keep, spe), keep,
				     &cursor, PRUNE_STEP, &done, &e);
	pthread_mutex_unlock(&db->be_lock);
	if (rc < 0)
		log_error("slashing protection: pruning failed: %s", e.msg);
	pthread_mutex_lock(&db->q_lock);
	db->prune_cursor = cursor;
	if (rc < 0 || done) {
		db->prune_running = false;
		db->next_prune_us = clock_mono_us() + db->prune_interval_us;
		if (rc == 0)
			log_info("slashing protection: pruned (keeping %llu epochs)",
				 (unsigned long long)keep);
	}
}

static void wait_until_us(struct slashing_db *db, uint64_t deadline_us)
{
	uint64_t now = clock_mono_us();
	if (deadline_us <= now)
		return;
	uint64_t d = deadline_us - now;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(d / 1000000);
	ts.tv_nsec += (long)(d % 1000000) * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	(void)pthread_cond_timedwait(&db->q_cv, &db->q_lock, &ts);
}

static void *committer_main(void *arg)
{
	struct slashing_db *db = arg;
	struct slashing_request **batch = db->batch;
	/* Every signature of a slashable type waits for this thread: ask the
	 * scheduler to prefer it over the signing threads (best effort; needs
	 * CAP_SYS_NICE, ignored without it). */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), -10);
	pthread_mutex_lock(&db->q_lock);
	for (;;) {
		if (!db->head) {
			if (db->stopping)
				break;
			if (db->prune_interval_us && !db->prune_running &&
			    clock_mono_us() >= db->next_prune_us) {
				db->prune_running = true;
				memset(&db->prune_cursor, 0,
				       sizeof(db->prune_cursor));
			}
			if (db->prune_running) {
				prune_one_step(db);
				continue;
			}
			if (db->prune_interval_us)
				wait_until_us(db, db->next_prune_us);
			else
				pthread_cond_wait(&db->q_cv, &db->q_lock);
			continue;
		}
		/* At most batch_max messages, but a group always whole. */
		size_t n = 0, nmsgs = 0;
		while (db->head && n < db->batch_max &&
		       (n == 0 ||
			nmsgs + request_msgs(db->head) <= db->batch_max)) {
			nmsgs += request_msgs(db->head);
			batch[n++] = db->head;
			db->head = db->head->next;
		}
		if (!db->head)
			db->tail = NULL;
		pthread_mutex_unlock(&db->q_lock);
		run_batch(db, batch, n, nmsgs);
		pthread_mutex_lock(&db->q_lock);
	}
	pthread_mutex_unlock(&db->q_lock);
	return NULL;
}

/* ---- open / close ----------------------------------------------------- */

#define DEFAULT_PRUNE_KEEP 250
#define DEFAULT_PRUNE_SPE 32
#define DEFAULT_PRUNE_INTERVAL_S (12 * 3600)

int slashing_open(const char *url, const struct slashing_open_opts *opts,
		  struct slashing_db **out, struct err *e)
{
	const struct slashing_open_opts *o = opts ? opts : &default_opts;
	size_t row;
	const char *where;
	TRY(find_backend(url, o, &row, &where, e));
	struct slashing_db *db = calloc(1, sizeof(*db));
	if (!db)
		return err_set(e, ERR_NOMEM, "out of memory");
	db->ops = backends[row].ops;
	db->batch_max = db->ops->batch_max ? db->ops->batch_max : BATCH_MAX;
	db->batch = calloc(db->batch_max, sizeof(*db->batch));
	db->msgs = calloc(db->batch_max, sizeof(*db->msgs));
	int rc = db->batch && db->msgs ? db->ops->open(where, o, &db->be, e)
				       : err_set(e, ERR_NOMEM, "out of memory");
	if (rc < 0) {
		free(db->batch);
		free(db->msgs);
		free(db);
		return rc;
	}
	pthread_mutex_init(&db->be_lock, NULL);
	pthread_mutex_init(&db->q_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->q_cv, &ca);
	pthread_condattr_destroy(&ca);
	db->prune_keep = DEFAULT_PRUNE_KEEP;
	db->prune_spe = DEFAULT_PRUNE_SPE;
	db->prune_interval_us = (uint64_t)DEFAULT_PRUNE_INTERVAL_S * 1000000;
	db->next_prune_us = clock_mono_us() + db->prune_interval_us;
	if (pthread_create(&db->committer, NULL, committer_main, db) != 0) {
		db->ops->close(db->be);
		pthread_mutex_destroy(&db->be_lock);
		pthread_mutex_destroy(&db->q_lock);
		pthread_cond_destroy(&db->q_cv);
		free(db->batch);
		free(db->msgs);
		free(db);
		return err_set(e, ERR_INTERNAL, "cannot start the slashing committer");
	}
	*out = db;
	return 0;
}

void slashing_close(struct slashing_db *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&db->q_lock);
	db->stopping = true;
	pthread_cond_signal(&db->q_cv);
	pthread_mutex_unlock(&db->q_lock);
	pthread_join(db->committer, NULL);
	db->ops->close(db->be);
	pthread_mutex_destroy(&db->be_lock);
	pthread_mutex_destroy(&db->q_lock);
	pthread_cond_destroy(&db->q_cv);
	free(db->batch);
	free(db->msgs);
	free(db);
}

void slashing_set_pruning(struct slashing_db *db, uint64_t epochs_to_keep,
			  uint64_t slots_per_epoch, uint64_t interval_s)
{
	pthread_mutex_lock(&db->q_lock);
	db->prune_keep = epochs_to_keep ? epochs_to_keep : 1;
	db->prune_spe = slots_per_epoch ? slots_per_epoch : 1;
	db->prune_interval_us =
		interval_s > UINT64_MAX / 1000000 ? UINT64_MAX / 2
						  : interval_s * 1000000;
	db->next_prune_us = clock_mono_us() + db->prune_interval_us;
	pthread_cond_signal(&db->q_cv);
	pthread_mutex_unlock(&db->q_lock);
}

/* ---- check and record -------------------------------------------------- */

/* Appends r to the queue and wakes the committer; q_lock held. */
static void enqueue_locked(struct slashing_db *db, struct slashing_request *r)
{
	if (db->tail)
		db->tail->next = r;
	else
		db->head = r;
	db->tail = r;
	pthread_cond_signal(&db->q_cv);
}

static int submit(struct slashing_db *db, struct slashing_request *r,
		  enum slashing_reason *decision, struct err *e)
{
	r->next = NULL;
	r->done = false;
	r->rc = 0;
	pthread_mutex_lock(&db->q_lock);
	if (db->stopping) {
		pthread_mutex_unlock(&db->q_lock);
		return err_set(e, ERR_UNAVAILABLE, "slashing database is closing");
	}
	pthread_cond_init(&r->done_cv, NULL);
	enqueue_locked(db, r);
	while (!r->done)
		pthread_cond_wait(&r->done_cv, &db->q_lock);
	pthread_mutex_unlock(&db->q_lock);
	pthread_cond_destroy(&r->done_cv);
	if (r->rc < 0) {
		if (e)
			*e = r->err;
		return r->rc;
	}
	*decision = r->msg.decision;
	return 0;
}

static int fill_request(struct slashing_request *r, const uint8_t pubkey[48],
			const struct eth2_signing *sg, struct err *e)
{
	memset(r, 0, sizeof(*r));
	struct slashing_msg *m = &r->msg;
	memcpy(m->pubkey, pubkey, 48);
	memcpy(m->gvr, sg->genesis_validators_root, 32);
	memcpy(m->root, sg->signing_root, 32);
	switch (sg->type) {
	case ETH2_SIGN_BLOCK:
	case ETH2_SIGN_BLOCK_V2:
		m->kind = SLASHING_MSG_BLOCK;
		m->slot = sg->block_slot;
		return 0;
	case ETH2_SIGN_ATTESTATION:
		m->kind = SLASHING_MSG_ATTESTATION;
		m->source = sg->source_epoch;
		m->target = sg->target_epoch;
		return 0;
	default:
		return err_set(e, ERR_INTERNAL,
			       "slashing check asked for %s, which is not slashable",
			       eth2_sign_type_name(sg->type));
	}
}

int slashing_check_async(struct slashing_db *db, const uint8_t pubkey[48],
			 const struct eth2_signing *sg, slashing_done_fn done,
			 void *arg, struct err *e)
{
	struct slashing_request *r = malloc(sizeof(*r));
	if (!r)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = fill_request(r, pubkey, sg, e);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->done_fn = done;
	r->done_arg = arg;
	pthread_mutex_lock(&db->q_lock);
	if (db->stopping) {
		pthread_mutex_unlock(&db->q_lock);
		free(r);
		return err_set(e, ERR_UNAVAILABLE, "slashing database is closing");
	}
	enqueue_locked(db, r);
	pthread_mutex_unlock(&db->q_lock);
	return 0;
}

/* The two typed entry points describe their request as the signing path
 * does, so every check goes through fill_request. */
static void signing_facts(struct eth2_signing *sg, enum eth2_sign_type type,
			  const uint8_t gvr[32], const uint8_t signing_root[32])
{
	memset(sg, 0, sizeof(*sg));
	sg->type = type;
	sg->slashable = true;
	memcpy(sg->genesis_validators_root, gvr, 32);
	memcpy(sg->signing_root, signing_root, 32);
}

int slashing_check_block(struct slashing_db *db, const uint8_t pubkey[48],
			 const uint8_t gvr[32], uint64_t slot,
			 const uint8_t signing_root[32],
			 enum slashing_reason *decision, struct err *e)
{
	struct eth2_signing sg;
	signing_facts(&sg, ETH2_SIGN_BLOCK_V2, gvr, signing_root);
	sg.block_slot = slot;
	return slashing_check(db, pubkey, &sg, decision, e);
}

int slashing_check_attestation(struct slashing_db *db, const uint8_t pubkey[48],
			       const uint8_t gvr[32], uint64_t source_epoch,
			       uint64_t target_epoch,
			       const uint8_t signing_root[32],
			       enum slashing_reason *decision, struct err *e)
{
	struct eth2_signing sg;
	signing_facts(&sg, ETH2_SIGN_ATTESTATION, gvr, signing_root);
	sg.source_epoch = source_epoch;
	sg.target_epoch = target_epoch;
	return slashing_check(db, pubkey, &sg, decision, e);
}

int slashing_check(struct slashing_db *db, const uint8_t pubkey[48],
		   const struct eth2_signing *sg, enum slashing_reason *decision,
		   struct err *e)
{
	struct slashing_request r;
	TRY(fill_request(&r, pubkey, sg, e));
	return submit(db, &r, decision, e);
}

int slashing_check_many(struct slashing_db *db, const uint8_t (*pubkeys)[48],
			size_t n, const struct eth2_signing *sg,
			enum slashing_reason *decisions, struct err *e)
{
	if (n == 0)
		return 0;
	struct slashing_request r;
	TRY(fill_request(&r, pubkeys[0], sg, e));
	struct slashing_msg *msgs = calloc(n, sizeof(*msgs));
	if (!msgs)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		msgs[i] = r.msg;
		memcpy(msgs[i].pubkey, pubkeys[i], 48);
	}
	r.group = msgs;
	r.ngroup = n;
	enum slashing_reason unused;
	int rc = submit(db, &r, &unused, e);
	for (size_t i = 0; rc == 0 && i < n; i++)
		decisions[i] = msgs[i].decision;
	free(msgs);
	return rc;
}

/* ---- everything else: one backend call under be_lock -------------------- */

#define LOCKED(db, call)                                                       \
	({                                                                     \
		pthread_mutex_lock(&(db)->be_lock);                            \
		int lrc_ = (call);                                             \
		pthread_mutex_unlock(&(db)->be_lock);                          \
		lrc_;                                                          \
	})

static int locked_write(struct slashing_db *db, int rc, const struct err *e)
{
	pthread_mutex_lock(&db->q_lock);
	note_write(db, rc, e);
	pthread_mutex_unlock(&db->q_lock);
	return rc;
}

int slashing_import(struct slashing_db *db, const char *json, size_t len,
		    const uint8_t *expected_gvr, struct err *e)
{
	struct interchange *ic = NULL;
	TRY(interchange_parse(json, len, &ic, e));
	int rc = 0;
	if (expected_gvr && memcmp(expected_gvr, ic->gvr, 32) != 0) {
		char want[67], got[67];
		hex_encode(expected_gvr, 32, want);
		hex_encode(ic->gvr, 32, got);
		rc = err_set(e, ERR_INVALID,
			     "metadata.genesis_validators_root: %s differs from the "
			     "expected %s; nothing imported", got, want);
	}
	if (rc == 0) {
		struct err le = {0};
		rc = LOCKED(db, db->ops->import(db->be, ic, &le));
		if (rc < 0 && e)
			*e = le;
		if (rc < 0 && rc != -ERR_INVALID)
			locked_write(db, rc, &le);
	}
	interchange_free(ic);
	return rc;
}

int slashing_export(struct slashing_db *db, const uint8_t (*pubkeys)[48],
		    size_t n_pubkeys, char **json_out, struct err *e)
{
	struct interchange *ic = NULL;
	int rc = LOCKED(db, db->ops->export(db->be, pubkeys, n_pubkeys, &ic, e));
	if (rc == 0)
		rc = interchange_write(ic, json_out, NULL, e);
	interchange_free(ic);
	return rc;
}

int slashing_prune(struct slashing_db *db, uint64_t epochs_to_keep,
		   uint64_t slots_per_epoch, struct err *e)
{
	if (!epochs_to_keep || !slots_per_epoch)
		return err_set(e, ERR_INVALID,
			       "pruning: epochs to keep and slots per epoch must "
			       "be at least 1");
	struct slashing_prune_cursor cursor = {0};
	bool done = false;
	while (!done)
		TRY(LOCKED(db, db->ops->prune_step(
				       db->be, keep_slots(epochs_to_keep,
							  slots_per_epoch),
				       epochs_to_keep, &cursor, PRUNE_STEP,
				       &done, e)));
	return 0;
}

int slashing_set_validator_enabled(struct slashing_db *db,
				   const uint8_t pubkey[48], bool enabled,
				   struct err *e)
{
	return LOCKED(db, db->ops->set_enabled(db->be, pubkey, enabled, e));
}

int slashing_watermark_repair(struct slashing_db *db,
			      const struct slashing_watermark *w, struct err *e)
{
	if (!w->has_slot && !w->has_epoch)
		return err_set(e, ERR_USAGE,
			       "watermark-repair: give --slot and/or --epoch");
	return LOCKED(db, db->ops->repair_low(db->be, w, e));
}

int slashing_set_high_watermark(struct slashing_db *db,
				const struct slashing_watermark *w,
				struct err *e)
{
	if (!w->has_slot || !w->has_epoch)
		return err_set(e, ERR_USAGE,
			       "--set-high-watermark needs both --slot and --epoch");
	return LOCKED(db, db->ops->set_high(db->be, w, e));
}

int slashing_remove_high_watermark(struct slashing_db *db, struct err *e)
{
	return LOCKED(db, db->ops->set_high(db->be, NULL, e));
}

int slashing_get_high_watermark(struct slashing_db *db,
				struct slashing_watermark *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	return LOCKED(db, db->ops->get_high(db->be, out, e));
}

int slashing_health(struct slashing_db *db, struct err *e)
{
	TRY(LOCKED(db, db->ops->health(db->be, e)));
	pthread_mutex_lock(&db->q_lock);
	int rc = 0;
	if (db->write_failed)
		rc = err_set(e, ERR_UNAVAILABLE, "last write failed: %s",
			     db->write_err);
	pthread_mutex_unlock(&db->q_lock);
	return rc;
}

int slashing_usage(struct slashing_db *db, struct slashing_usage *out,
		   struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!db->ops->usage)
		return 0;
	return LOCKED(db, db->ops->usage(db->be, out, e));
}
