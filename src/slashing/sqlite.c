/*
 * sqlite.c: the SQLite backend of slashing protection (sqlite:PATH).
 *
 * How it works: one connection, used by one thread at a time (db.c holds its
 * lock). Every batch of requests is one BEGIN IMMEDIATE ... COMMIT with
 * journal_mode=WAL and synchronous=FULL, so when COMMIT returns the records
 * are on disk, and the write lock also serialises other processes (an
 * `eth2 import` against a running signer waits its turn, busy_timeout 5 s).
 * Every transaction goes through in_tx(). Facts are read with indexed
 * queries inside the transaction and handed to rules.c; nothing is cached
 * across transactions, so another process's writes are always seen. It
 * implements backend.h's interface (slashing_sqlite_ops, at the end).
 *
 * Schema (PRAGMA user_version 1, application_id 'NSLS'):
 *   metadata(id=0, gvr, hw_slot, hw_epoch)       one row: the chain and the
 *                                                 optional high watermark
 *   validators(id, pubkey UNIQUE, enabled, lw_slot, lw_source, lw_target)
 *   signed_blocks(validator_id, slot, signing_root NULL = unknown)
 *   signed_attestations(validator_id, source, target, signing_root)
 * Several rows may share a slot/target (an imported slashable history is
 * kept: keeping every record never lowers protection).
 *
 * uint64 slots and epochs are stored as int64 with the top bit flipped
 * (enc()), which preserves order over the whole uint64 range, so SQL
 * comparisons, min() and max() stay correct for any value a client sends.
 *
 * Trusts: its callers for fixed-size, validated values; nothing read from
 * the file (a corrupt row fails a query, which fails the batch).
 */
#include "backend.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 1
#define APPLICATION_ID 0x4e534c53 /* "NSLS" */
#define BUSY_TIMEOUT_MS 5000

enum stmt_id {
	S_META,
	S_SET_GVR,
	S_VAL_GET,
	S_VAL_INSERT,
	S_VAL_SET_LW,
	S_VAL_SET_ENABLED,
	S_BLOCKS_AT,
	S_BLOCK_INSERT,
	S_BLOCK_INSERT_NEW,
	S_ATTS_AT,
	S_ATT_SURROUNDED,
	S_ATT_SURROUNDING,
	S_ATT_INSERT,
	S_ATT_INSERT_NEW,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_META] = "SELECT gvr, hw_slot, hw_epoch FROM metadata WHERE id = 0",
	[S_SET_GVR] = "UPDATE metadata SET gvr = ?1 WHERE id = 0",
	[S_VAL_GET] = "SELECT id, enabled, lw_slot, lw_source, lw_target "
		      "FROM validators WHERE pubkey = ?1",
	[S_VAL_INSERT] = "INSERT INTO validators (pubkey, enabled) VALUES (?1, ?2)",
	[S_VAL_SET_LW] = "UPDATE validators SET lw_slot = ?2, lw_source = ?3, "
			 "lw_target = ?4 WHERE id = ?1",
	[S_VAL_SET_ENABLED] = "UPDATE validators SET enabled = ?2 WHERE id = ?1",
	[S_BLOCKS_AT] = "SELECT signing_root FROM signed_blocks "
			"WHERE validator_id = ?1 AND slot = ?2",
	[S_BLOCK_INSERT] = "INSERT INTO signed_blocks (validator_id, slot, "
			   "signing_root) VALUES (?1, ?2, ?3)",
	[S_BLOCK_INSERT_NEW] =
		"INSERT INTO signed_blocks (validator_id, slot, signing_root) "
		"SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM signed_blocks "
		"WHERE validator_id = ?1 AND slot = ?2 AND signing_root IS ?3)",
	[S_ATTS_AT] = "SELECT source, signing_root FROM signed_attestations "
		      "WHERE validator_id = ?1 AND target = ?2",
	/* recorded (s, t) with s < S and t > T: the new vote is surrounded.
	 * Scanning targets above T is short for a validator voting forward. */
	[S_ATT_SURROUNDED] =
		"SELECT 1 FROM signed_attestations INDEXED BY att_by_target "
		"WHERE validator_id = ?1 AND target > ?3 AND source < ?2 LIMIT 1",
	/* recorded (s, t) with s > S and t < T: the new vote surrounds it. */
	[S_ATT_SURROUNDING] =
		"SELECT 1 FROM signed_attestations INDEXED BY att_by_source "
		"WHERE validator_id = ?1 AND source > ?2 AND target < ?3 LIMIT 1",
	[S_ATT_INSERT] = "INSERT INTO signed_attestations (validator_id, source, "
			 "target, signing_root) VALUES (?1, ?2, ?3, ?4)",
	[S_ATT_INSERT_NEW] =
		"INSERT INTO signed_attestations (validator_id, source, target, "
		"signing_root) SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 "
		"FROM signed_attestations WHERE validator_id = ?1 AND target = ?3 "
		"AND source = ?2 AND signing_root IS ?4)",
};

static const char schema_v1[] =
	"CREATE TABLE metadata ("
	"  id INTEGER PRIMARY KEY CHECK (id = 0),"
	"  gvr BLOB CHECK (gvr IS NULL OR length(gvr) = 32),"
	"  hw_slot INTEGER, hw_epoch INTEGER);"
	"INSERT INTO metadata (id) VALUES (0);"
	"CREATE TABLE validators ("
	"  id INTEGER PRIMARY KEY,"
	"  pubkey BLOB NOT NULL UNIQUE CHECK (length(pubkey) = 48),"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  lw_slot INTEGER, lw_source INTEGER, lw_target INTEGER);"
	"CREATE TABLE signed_blocks ("
	"  validator_id INTEGER NOT NULL REFERENCES validators(id),"
	"  slot INTEGER NOT NULL,"
	"  signing_root BLOB CHECK (signing_root IS NULL OR length(signing_root) = 32));"
	"CREATE INDEX blocks_by_slot ON signed_blocks (validator_id, slot);"
	"CREATE TABLE signed_attestations ("
	"  validator_id INTEGER NOT NULL REFERENCES validators(id),"
	"  source INTEGER NOT NULL, target INTEGER NOT NULL,"
	"  signing_root BLOB CHECK (signing_root IS NULL OR length(signing_root) = 32));"
	"CREATE INDEX att_by_target ON signed_attestations (validator_id, target, source);"
	"CREATE INDEX att_by_source ON signed_attestations (validator_id, source, target);";

struct sq {
	sqlite3 *conn;
	bool memory;
	sqlite3_stmt *st[S_COUNT];
};

static int64_t enc(uint64_t v) { return (int64_t)(v ^ 0x8000000000000000ull); }
static uint64_t dec(int64_t v) { return (uint64_t)v ^ 0x8000000000000000ull; }

static int db_err(struct sq *q, struct err *e, const char *what)
{
	return err_set(e, ERR_UNAVAILABLE, "slashing database: %s: %s", what,
		       sqlite3_errmsg(q->conn));
}

static int exec(struct sq *q, const char *sql, struct err *e)
{
	char *msg = NULL;
	if (sqlite3_exec(q->conn, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = err_set(e, ERR_UNAVAILABLE, "slashing database: %s: %s",
				 sql, msg ? msg : sqlite3_errmsg(q->conn));
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

static void rollback(struct sq *q)
{
	if (!sqlite3_get_autocommit(q->conn))
		(void)sqlite3_exec(q->conn, "ROLLBACK", NULL, NULL, NULL);
}

/* The statements of one transaction, on q's connection. */
typedef int (*tx_body_fn)(struct sq *q, void *arg, struct err *e);

enum tx_mode {
	/* BEGIN IMMEDIATE: the write lock is taken before the first read, so
	 * no other writer (another process on the file) can come between what
	 * the body reads and what it writes; waits up to BUSY_TIMEOUT_MS for
	 * that lock, then fails ("database is locked") having done nothing. */
	TX_WRITE,
	/* BEGIN: one consistent snapshot for a reader; always rolled back. */
	TX_READ,
};

/*
 * Runs body in one transaction. The only place that begins, commits and
 * rolls back: a body or a COMMIT that fails is rolled back, so nothing of
 * it is stored and the error is returned; when a TX_WRITE returns 0 its
 * writes are durable (synchronous=FULL).
 */
static int in_tx(struct sq *q, enum tx_mode mode, tx_body_fn body, void *arg,
		 struct err *e)
{
	TRY(exec(q, mode == TX_WRITE ? "BEGIN IMMEDIATE" : "BEGIN", e));
	int rc = body(q, arg, e);
	if (rc == 0 && mode == TX_WRITE)
		rc = exec(q, "COMMIT", e);
	rollback(q); /* a no-op after a COMMIT that succeeded */
	return rc;
}

static sqlite3_stmt *stmt(struct sq *q, enum stmt_id id)
{
	sqlite3_stmt *s = q->st[id];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Runs a statement that returns no rows. */
static int step_done(struct sq *q, sqlite3_stmt *s, struct err *e)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_err(q, e, "write");
	return 0;
}

static void bind_root(sqlite3_stmt *s, int i, const uint8_t *root)
{
	if (root)
		sqlite3_bind_blob(s, i, root, 32, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static bool col_root(sqlite3_stmt *s, int i, uint8_t out[32])
{
	if (sqlite3_column_type(s, i) != SQLITE_BLOB ||
	    sqlite3_column_bytes(s, i) != 32)
		return false;
	memcpy(out, sqlite3_column_blob(s, i), 32);
	return true;
}

static bool col_u64(sqlite3_stmt *s, int i, uint64_t *out)
{
	if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
		return false;
	*out = dec(sqlite3_column_int64(s, i));
	return true;
}

/* ---- shared reads and writes ---------------------------------------- */

static int load_meta(struct sq *q, struct slashing_meta *m, struct err *e)
{
	sqlite3_stmt *s = stmt(q, S_META);
	memset(m, 0, sizeof(*m));
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_err(q, e, "reading metadata");
	}
	m->has_gvr = col_root(s, 0, m->gvr);
	m->hw.has_slot = col_u64(s, 1, &m->hw.slot);
	m->hw.has_epoch = col_u64(s, 2, &m->hw.epoch);
	sqlite3_reset(s);
	return 0;
}

static int set_gvr(struct sq *q, struct slashing_meta *m, const uint8_t gvr[32],
		   struct err *e)
{
	sqlite3_stmt *s = stmt(q, S_SET_GVR);
	sqlite3_bind_blob(s, 1, gvr, 32, SQLITE_STATIC);
	TRY(step_done(q, s, e));
	m->has_gvr = true;
	memcpy(m->gvr, gvr, 32);
	return 0;
}

/* A validator's state and its row id (*id meaningful when v->known). */
static int load_validator(struct sq *q, const uint8_t pubkey[48],
			  struct slashing_validator *v, int64_t *id,
			  struct err *e)
{
	sqlite3_stmt *s = stmt(q, S_VAL_GET);
	memset(v, 0, sizeof(*v));
	*id = 0;
	sqlite3_bind_blob(s, 1, pubkey, 48, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		v->known = true;
		*id = sqlite3_column_int64(s, 0);
		v->enabled = sqlite3_column_int(s, 1) != 0;
		v->has_lw_slot = col_u64(s, 2, &v->lw_slot);
		v->has_lw_epochs = col_u64(s, 3, &v->lw_source) &&
				   col_u64(s, 4, &v->lw_target);
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(s);
		return db_err(q, e, "reading validator");
	}
	sqlite3_reset(s);
	return 0;
}

static int insert_validator(struct sq *q, const uint8_t pubkey[48],
			    bool enabled, struct slashing_validator *v,
			    int64_t *id, struct err *e)
{
	sqlite3_stmt *s = stmt(q, S_VAL_INSERT);
	sqlite3_bind_blob(s, 1, pubkey, 48, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, enabled ? 1 : 0);
	TRY(step_done(q, s, e));
	memset(v, 0, sizeof(*v));
	v->known = true;
	v->enabled = enabled;
	*id = sqlite3_last_insert_rowid(q->conn);
	return 0;
}

static int ensure_validator(struct sq *q, const uint8_t pubkey[48],
			    struct slashing_validator *v, int64_t *id,
			    struct err *e)
{
	if (v->known)
		return 0;
	return insert_validator(q, pubkey, true, v, id, e);
}

static int save_lw(struct sq *q, int64_t id, const struct slashing_validator *v,
		   struct err *e)
{
	sqlite3_stmt *s = stmt(q, S_VAL_SET_LW);
	sqlite3_bind_int64(s, 1, id);
	if (v->has_lw_slot)
		sqlite3_bind_int64(s, 2, enc(v->lw_slot));
	if (v->has_lw_epochs) {
		sqlite3_bind_int64(s, 3, enc(v->lw_source));
		sqlite3_bind_int64(s, 4, enc(v->lw_target));
	}
	return step_done(q, s, e);
}

/* ---- check and record ------------------------------------------------ */

static int match_block(struct sq *q, int64_t vid, uint64_t slot,
		       const uint8_t root[32], enum slashing_match *out,
		       struct err *e)
{
	sqlite3_stmt *s = stmt(q, S_BLOCKS_AT);
	sqlite3_bind_int64(s, 1, vid);
	sqlite3_bind_int64(s, 2, enc(slot));
	*out = SLASHING_MATCH_NONE;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t r[32];
		if (col_root(s, 0, r) && memcmp(r, root, 32) == 0) {
			if (*out == SLASHING_MATCH_NONE)
				*out = SLASHING_MATCH_IDENTICAL;
		} else {
			*out = SLASHING_MATCH_CONFLICT;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_err(q, e, "reading blocks");
	return 0;
}

static int check_block(struct sq *q, struct slashing_meta *m,
		       struct slashing_msg *r, struct err *e)
{
	struct slashing_validator v;
	int64_t id;
	TRY(load_validator(q, r->pubkey, &v, &id, e));
	r->decision = slashing_rule_block_pre(m, &v, r->gvr, r->slot);
	if (r->decision != SLASHING_OK)
		return 0;
	enum slashing_match at = SLASHING_MATCH_NONE;
	if (v.known)
		TRY(match_block(q, id, r->slot, r->root, &at, e));
	bool record;
	r->decision = slashing_rule_block_post(&v, r->slot, at, &record);
	if (r->decision != SLASHING_OK || !record)
		return 0;
	TRY(ensure_validator(q, r->pubkey, &v, &id, e));
	if (!m->has_gvr)
		TRY(set_gvr(q, m, r->gvr, e));
	sqlite3_stmt *s = stmt(q, S_BLOCK_INSERT);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, enc(r->slot));
	bind_root(s, 3, r->root);
	TRY(step_done(q, s, e));
	if (slashing_rule_recorded_block(&v, r->slot))
		TRY(save_lw(q, id, &v, e));
	return 0;
}

static int match_att(struct sq *q, int64_t vid, uint64_t source,
		     uint64_t target, const uint8_t root[32],
		     enum slashing_match *out, struct err *e)
{
	sqlite3_stmt *s = stmt(q, S_ATTS_AT);
	sqlite3_bind_int64(s, 1, vid);
	sqlite3_bind_int64(s, 2, enc(target));
	*out = SLASHING_MATCH_NONE;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint8_t r[32];
		uint64_t src = 0;
		if (col_u64(s, 0, &src) && src == source && col_root(s, 1, r) &&
		    memcmp(r, root, 32) == 0) {
			if (*out == SLASHING_MATCH_NONE)
				*out = SLASHING_MATCH_IDENTICAL;
		} else {
			*out = SLASHING_MATCH_CONFLICT;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_err(q, e, "reading attestations");
	return 0;
}

static int exists(struct sq *q, enum stmt_id id, int64_t vid, uint64_t source,
		  uint64_t target, bool *out, struct err *e)
{
	sqlite3_stmt *s = stmt(q, id);
	sqlite3_bind_int64(s, 1, vid);
	sqlite3_bind_int64(s, 2, enc(source));
	sqlite3_bind_int64(s, 3, enc(target));
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(q, e, "reading attestations");
	*out = rc == SQLITE_ROW;
	return 0;
}

static int check_att(struct sq *q, struct slashing_meta *m,
		     struct slashing_msg *r, struct err *e)
{
	struct slashing_validator v;
	int64_t id;
	TRY(load_validator(q, r->pubkey, &v, &id, e));
	r->decision = slashing_rule_att_pre(m, &v, r->gvr, r->source, r->target);
	if (r->decision != SLASHING_OK)
		return 0;
	enum slashing_match at = SLASHING_MATCH_NONE;
	bool surrounded = false, surrounding = false;
	if (v.known) {
		TRY(match_att(q, id, r->source, r->target, r->root, &at, e));
		TRY(exists(q, S_ATT_SURROUNDED, id, r->source, r->target,
			   &surrounded, e));
		TRY(exists(q, S_ATT_SURROUNDING, id, r->source, r->target,
			   &surrounding, e));
	}
	bool record;
	r->decision = slashing_rule_att_post(&v, r->target, at, surrounded,
					     surrounding, &record);
	if (r->decision != SLASHING_OK || !record)
		return 0;
	TRY(ensure_validator(q, r->pubkey, &v, &id, e));
	if (!m->has_gvr)
		TRY(set_gvr(q, m, r->gvr, e));
	sqlite3_stmt *s = stmt(q, S_ATT_INSERT);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, enc(r->source));
	sqlite3_bind_int64(s, 3, enc(r->target));
	bind_root(s, 4, r->root);
	TRY(step_done(q, s, e));
	if (slashing_rule_recorded_att(&v, r->source, r->target))
		TRY(save_lw(q, id, &v, e));
	return 0;
}

struct batch_args {
	struct slashing_msg **msgs;
	size_t n;
};

static int check_batch_tx(struct sq *q, void *arg, struct err *e)
{
	const struct batch_args *a = arg;
	struct slashing_meta m;
	TRY(load_meta(q, &m, e));
	for (size_t i = 0; i < a->n; i++) {
		struct slashing_msg *r = a->msgs[i];
		TRY(r->kind == SLASHING_MSG_BLOCK ? check_block(q, &m, r, e)
						  : check_att(q, &m, r, e));
	}
	return 0;
}

static int sq_check_batch(void *be, struct slashing_msg **msgs, size_t n,
			  struct err *e)
{
	struct batch_args a = {msgs, n};
	return in_tx(be, TX_WRITE, check_batch_tx, &a, e);
}

/* ---- import ---------------------------------------------------------- */

static int import_rows(struct sq *q, int64_t vid, const struct ic_entry *en,
		       struct err *e)
{
	for (size_t i = 0; i < en->n_blocks; i++) {
		const struct ic_block *b = &en->blocks[i];
		sqlite3_stmt *s = stmt(q, S_BLOCK_INSERT_NEW);
		sqlite3_bind_int64(s, 1, vid);
		sqlite3_bind_int64(s, 2, enc(b->slot));
		bind_root(s, 3, b->has_root ? b->root : NULL);
		TRY(step_done(q, s, e));
	}
	for (size_t i = 0; i < en->n_atts; i++) {
		const struct ic_att *a = &en->atts[i];
		sqlite3_stmt *s = stmt(q, S_ATT_INSERT_NEW);
		sqlite3_bind_int64(s, 1, vid);
		sqlite3_bind_int64(s, 2, enc(a->source));
		sqlite3_bind_int64(s, 3, enc(a->target));
		bind_root(s, 4, a->has_root ? a->root : NULL);
		TRY(step_done(q, s, e));
	}
	return 0;
}

/* One pubkey's entries of the file (an interchange_pubkey_fn). */
static int import_validator(void *arg, const struct ic_entry *const *g,
			    size_t n, struct err *e)
{
	struct sq *q = arg;
	struct slashing_validator v;
	int64_t id;
	TRY(load_validator(q, g[0]->pubkey, &v, &id, e));
	TRY(ensure_validator(q, g[0]->pubkey, &v, &id, e));
	for (size_t i = 0; i < n; i++)
		TRY(import_rows(q, id, g[i], e));
	if (slashing_rule_import_watermarks(&v, g, n))
		TRY(save_lw(q, id, &v, e));
	return 0;
}

static int import_tx(struct sq *q, void *arg, struct err *e)
{
	const struct interchange *ic = arg;
	struct slashing_meta m;
	TRY(load_meta(q, &m, e));
	TRY(interchange_check_gvr(ic, &m, e));
	if (!m.has_gvr)
		TRY(set_gvr(q, &m, ic->gvr, e));
	return interchange_for_each_pubkey(ic, import_validator, q, e);
}

static int sq_import(void *be, const struct interchange *ic, struct err *e)
{
	return in_tx(be, TX_WRITE, import_tx, (void *)ic, e);
}

/* ---- export ---------------------------------------------------------- */

/* One validator's rows at or above its low watermarks, in order, shaped by
 * interchange_export_finish(). */
static int export_validator(struct sq *q, int64_t vid, const uint8_t pk[48],
			    const struct slashing_validator *v,
			    struct interchange *ic, struct err *e)
{
	sqlite3_stmt *bs = NULL, *as = NULL;
	int rc = 0;
	struct ic_entry *en = interchange_add_entry(ic, pk);
	if (!en)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (sqlite3_prepare_v2(q->conn,
			       "SELECT slot, signing_root FROM signed_blocks WHERE "
			       "validator_id = ?1 AND slot >= ?2 ORDER BY slot",
			       -1, &bs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(q->conn,
			       "SELECT source, target, signing_root FROM "
			       "signed_attestations INDEXED BY att_by_target WHERE "
			       "validator_id = ?1 AND target >= ?2 ORDER BY target, source",
			       -1, &as, NULL) != SQLITE_OK) {
		rc = db_err(q, e, "export");
		goto out;
	}
	sqlite3_bind_int64(bs, 1, vid);
	sqlite3_bind_int64(bs, 2, enc(v->has_lw_slot ? v->lw_slot : 0));
	int step;
	while (rc == 0 && (step = sqlite3_step(bs)) == SQLITE_ROW) {
		uint64_t slot = 0;
		uint8_t r[32];
		(void)col_u64(bs, 0, &slot);
		bool has = col_root(bs, 1, r);
		if (ic_entry_add_block(en, slot, has ? r : NULL) < 0)
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_err(q, e, "export");
	sqlite3_bind_int64(as, 1, vid);
	sqlite3_bind_int64(as, 2, enc(v->has_lw_epochs ? v->lw_target : 0));
	while (rc == 0 && (step = sqlite3_step(as)) == SQLITE_ROW) {
		uint64_t s = 0, t = 0;
		uint8_t r[32];
		(void)col_u64(as, 0, &s);
		(void)col_u64(as, 1, &t);
		bool has = col_root(as, 2, r);
		if (ic_entry_add_att(en, s, t, has ? r : NULL) < 0)
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_err(q, e, "export");
	if (rc == 0)
		rc = interchange_export_finish(ic, v, e);
out:
	sqlite3_finalize(bs);
	sqlite3_finalize(as);
	return rc;
}

static int export_one(struct sq *q, const uint8_t pk[48],
		      struct interchange *ic, struct err *e)
{
	struct slashing_validator v;
	int64_t id;
	TRY(load_validator(q, pk, &v, &id, e));
	return v.known ? export_validator(q, id, pk, &v, ic, e) : 0;
}

static int export_all(struct sq *q, const uint8_t (*pks)[48], size_t n,
		      struct interchange *ic, struct err *e)
{
	if (pks) {
		for (size_t i = 0; i < n; i++)
			TRY(export_one(q, pks[i], ic, e));
		return 0;
	}
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(q->conn, "SELECT pubkey FROM validators ORDER BY pubkey",
			       -1, &s, NULL) != SQLITE_OK)
		return db_err(q, e, "export");
	int rc = 0, step;
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != 48) {
			rc = err_set(e, ERR_UNAVAILABLE,
				     "slashing database: corrupt validators row");
			break;
		}
		uint8_t pk[48];
		memcpy(pk, sqlite3_column_blob(s, 0), 48);
		rc = export_one(q, pk, ic, e);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_err(q, e, "export");
	sqlite3_finalize(s);
	return rc;
}

struct export_args {
	const uint8_t (*pks)[48];
	size_t n;
	struct interchange **out;
};

static int export_tx(struct sq *q, void *arg, struct err *e)
{
	struct export_args *a = arg;
	struct slashing_meta m;
	TRY(load_meta(q, &m, e));
	TRY(interchange_export_new(&m, a->out, e));
	return export_all(q, a->pks, a->n, *a->out, e);
}

static int sq_export(void *be, const uint8_t (*pks)[48], size_t n,
		     struct interchange **out, struct err *e)
{
	struct export_args a = {pks, n, out};
	return in_tx(be, TX_READ, export_tx, &a, e);
}

/* ---- pruning --------------------------------------------------------- */

static int query_u64(struct sq *q, const char *sql, int64_t vid, bool has_arg,
		     uint64_t arg, bool *has, uint64_t *out, struct err *e)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(q->conn, sql, -1, &s, NULL) != SQLITE_OK)
		return db_err(q, e, "prune");
	sqlite3_bind_int64(s, 1, vid);
	if (has_arg)
		sqlite3_bind_int64(s, 2, enc(arg));
	int rc = sqlite3_step(s);
	*has = rc == SQLITE_ROW && col_u64(s, 0, out);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(q, e, "prune");
	return 0;
}

static int exec_vid(struct sq *q, const char *sql, int64_t vid, uint64_t arg,
		    struct err *e)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(q->conn, sql, -1, &s, NULL) != SQLITE_OK)
		return db_err(q, e, "prune");
	sqlite3_bind_int64(s, 1, vid);
	sqlite3_bind_int64(s, 2, enc(arg));
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : db_err(q, e, "prune");
}

static int prune_blocks(struct sq *q, int64_t vid, struct slashing_validator *v,
			uint64_t keep_slots, bool *changed, struct err *e)
{
	bool has;
	uint64_t newest, first, cut;
	TRY(query_u64(q, "SELECT max(slot) FROM signed_blocks WHERE validator_id = ?1",
		      vid, false, 0, &has, &newest, e));
	if (!has)
		return 0;
	uint64_t from = slashing_prune_from(newest, keep_slots, v->has_lw_slot,
					    v->lw_slot);
	TRY(query_u64(q, "SELECT min(slot) FROM signed_blocks WHERE "
			 "validator_id = ?1 AND slot >= ?2",
		      vid, true, from, &has, &first, e));
	if (!slashing_prune_cut(has, first, v->has_lw_slot, v->lw_slot, &cut))
		return 0;
	TRY(exec_vid(q, "DELETE FROM signed_blocks WHERE validator_id = ?1 AND slot < ?2",
		     vid, cut, e));
	*changed |= slashing_prune_fold_blocks(v, cut);
	return 0;
}

static int prune_atts(struct sq *q, int64_t vid, struct slashing_validator *v,
		      uint64_t keep, bool *changed, struct err *e)
{
	bool has;
	uint64_t newest, first, cut, max_src = 0;
	TRY(query_u64(q, "SELECT max(target) FROM signed_attestations WHERE "
			 "validator_id = ?1", vid, false, 0, &has, &newest, e));
	if (!has)
		return 0;
	uint64_t from = slashing_prune_from(newest, keep, v->has_lw_epochs,
					    v->lw_target);
	TRY(query_u64(q, "SELECT min(target) FROM signed_attestations WHERE "
			 "validator_id = ?1 AND target >= ?2",
		      vid, true, from, &has, &first, e));
	if (!slashing_prune_cut(has, first, v->has_lw_epochs, v->lw_target, &cut))
		return 0;
	TRY(query_u64(q, "SELECT max(source) FROM signed_attestations WHERE "
			 "validator_id = ?1 AND target < ?2",
		      vid, true, cut, &has, &max_src, e));
	if (has)
		TRY(exec_vid(q, "DELETE FROM signed_attestations WHERE "
				"validator_id = ?1 AND target < ?2", vid, cut, e));
	*changed |= slashing_prune_fold_atts(v, cut, has, max_src);
	return 0;
}

struct prune_args {
	uint64_t keep_slots, keep_epochs;
	struct slashing_prune_cursor *cursor;
	size_t max;
	bool *done;
};

/* The cursor holds the last validator row id pruned. */
static int64_t cursor_id(const struct slashing_prune_cursor *c)
{
	int64_t id = 0;
	if (c->len == sizeof(id))
		memcpy(&id, c->pos, sizeof(id));
	return id;
}

static void cursor_set(struct slashing_prune_cursor *c, int64_t id)
{
	memcpy(c->pos, &id, sizeof(id));
	c->len = sizeof(id);
}

/* Collects the next validators first: the per-validator statements reuse
 * the connection. */
static int next_validators(struct sq *q, struct slashing_prune_cursor *cursor,
			   size_t max, uint8_t (*pks)[48], size_t *n,
			   struct err *e)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(q->conn, "SELECT pubkey, id FROM validators WHERE "
					"id > ?1 ORDER BY id LIMIT ?2",
			       -1, &s, NULL) != SQLITE_OK)
		return db_err(q, e, "prune");
	sqlite3_bind_int64(s, 1, cursor_id(cursor));
	sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
	int rc = 0, step = SQLITE_DONE;
	*n = 0;
	while (*n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != 48) {
			rc = err_set(e, ERR_UNAVAILABLE,
				     "slashing database: corrupt validators row");
			break;
		}
		memcpy(pks[(*n)++], sqlite3_column_blob(s, 0), 48);
		cursor_set(cursor, sqlite3_column_int64(s, 1));
	}
	if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = db_err(q, e, "prune");
	sqlite3_finalize(s);
	return rc;
}

static int prune_tx(struct sq *q, void *arg, struct err *e)
{
	const struct prune_args *a = arg;
	uint8_t (*pks)[48] = calloc(a->max ? a->max : 1, 48);
	if (!pks)
		return err_set(e, ERR_NOMEM, "out of memory");
	size_t n = 0;
	int rc = next_validators(q, a->cursor, a->max, pks, &n, e);
	*a->done = n == 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct slashing_validator v;
		int64_t id;
		bool changed = false;
		rc = load_validator(q, pks[i], &v, &id, e);
		if (rc == 0)
			rc = prune_blocks(q, id, &v, a->keep_slots, &changed, e);
		if (rc == 0)
			rc = prune_atts(q, id, &v, a->keep_epochs, &changed, e);
		if (rc == 0 && changed)
			rc = save_lw(q, id, &v, e);
	}
	free(pks);
	return rc;
}

static int sq_prune_step(void *be, uint64_t keep_slots, uint64_t keep_epochs,
			 struct slashing_prune_cursor *cursor, size_t max,
			 bool *done, struct err *e)
{
	struct prune_args a = {keep_slots, keep_epochs, cursor, max, done};
	return in_tx(be, TX_WRITE, prune_tx, &a, e);
}

/* ---- administration -------------------------------------------------- */

struct enable_args {
	const uint8_t *pubkey;
	bool enabled;
};

static int set_enabled_tx(struct sq *q, void *arg, struct err *e)
{
	const struct enable_args *a = arg;
	struct slashing_validator v;
	int64_t id;
	TRY(load_validator(q, a->pubkey, &v, &id, e));
	if (!v.known)
		return insert_validator(q, a->pubkey, a->enabled, &v, &id, e);
	sqlite3_stmt *s = stmt(q, S_VAL_SET_ENABLED);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, a->enabled ? 1 : 0);
	return step_done(q, s, e);
}

static int sq_set_enabled(void *be, const uint8_t pubkey[48], bool enabled,
			  struct err *e)
{
	struct enable_args a = {pubkey, enabled};
	return in_tx(be, TX_WRITE, set_enabled_tx, &a, e);
}

/* slashing_rule_repair_low() for every row in one statement. */
static int repair_low_tx(struct sq *q, void *arg, struct err *e)
{
	const struct slashing_watermark *w = arg;
	sqlite3_stmt *s = NULL;
	/* max() of NULL is NULL in SQLite, hence the CASEs: never lowers. */
	const char *sql =
		"UPDATE validators SET "
		"lw_slot = CASE WHEN ?1 IS NULL THEN lw_slot WHEN lw_slot IS NULL "
		"  OR lw_slot < ?1 THEN ?1 ELSE lw_slot END, "
		"lw_source = CASE WHEN ?2 IS NULL THEN lw_source WHEN lw_source IS NULL "
		"  OR lw_source < ?2 THEN ?2 ELSE lw_source END, "
		"lw_target = CASE WHEN ?2 IS NULL THEN lw_target WHEN lw_target IS NULL "
		"  OR lw_target < ?2 THEN ?2 ELSE lw_target END";
	if (sqlite3_prepare_v2(q->conn, sql, -1, &s, NULL) != SQLITE_OK)
		return db_err(q, e, "watermark repair");
	if (w->has_slot)
		sqlite3_bind_int64(s, 1, enc(w->slot));
	if (w->has_epoch)
		sqlite3_bind_int64(s, 2, enc(w->epoch));
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0
						 : db_err(q, e, "watermark repair");
	sqlite3_finalize(s);
	return rc;
}

static int sq_repair_low(void *be, const struct slashing_watermark *w,
			 struct err *e)
{
	return in_tx(be, TX_WRITE, repair_low_tx, (void *)w, e);
}

static int sq_set_high(void *be, const struct slashing_watermark *w,
		       struct err *e)
{
	struct sq *q = be;
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(q->conn, "UPDATE metadata SET hw_slot = ?1, "
					"hw_epoch = ?2 WHERE id = 0",
			       -1, &s, NULL) != SQLITE_OK)
		return db_err(q, e, "high watermark");
	if (w) {
		sqlite3_bind_int64(s, 1, enc(w->slot));
		sqlite3_bind_int64(s, 2, enc(w->epoch));
	}
	int rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : db_err(q, e, "high watermark");
}

static int sq_get_high(void *be, struct slashing_watermark *out, struct err *e)
{
	struct slashing_meta m;
	TRY(load_meta(be, &m, e));
	*out = m.hw;
	return 0;
}

static int sq_health(void *be, struct err *e)
{
	struct slashing_meta m;
	return load_meta(be, &m, e);
}

/* One number from a PRAGMA or an aggregate. */
static int pragma_u64(struct sq *q, const char *sql, uint64_t *out,
		      struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;
	if (sqlite3_prepare_v2(q->conn, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc < 0 ? db_err(q, e, sql) : 0;
}

/* The counts scan their tables: for operators and benchmarks, not for a
 * path that signs. */
static int sq_usage(void *be, struct slashing_usage *out, struct err *e)
{
	struct sq *q = be;
	uint64_t pages, size;
	TRY(pragma_u64(q, "SELECT count(*) FROM validators", &out->validators, e));
	TRY(pragma_u64(q, "SELECT count(*) FROM signed_blocks", &out->blocks, e));
	TRY(pragma_u64(q, "SELECT count(*) FROM signed_attestations",
		       &out->attestations, e));
	out->has_records = true;
	TRY(pragma_u64(q, "PRAGMA page_count", &pages, e));
	TRY(pragma_u64(q, "PRAGMA page_size", &size, e));
	out->bytes = pages * size;
	out->has_bytes = true;
	return 0;
}

static void sq_close(void *be)
{
	struct sq *q = be;
	if (!q)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->conn);
	free(q);
}

/* ---- open ------------------------------------------------------------ */

static int quick_check(struct sq *q, const char *path, struct err *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(q->conn, "PRAGMA quick_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return err_set(e, ERR_UNAVAILABLE,
			       "slashing database %s is unreadable or corrupt: %s",
			       path, sqlite3_errmsg(q->conn));
	rc = sqlite3_step(s);
	const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
					   : NULL;
	int out = 0;
	if (!res || strcmp(res, "ok") != 0)
		out = err_set(e, ERR_UNAVAILABLE,
			      "slashing database %s is corrupt: %.120s", path,
			      res ? res : sqlite3_errmsg(q->conn));
	sqlite3_finalize(s);
	return out;
}

static int create_v1_tx(struct sq *q, void *arg, struct err *e)
{
	(void)arg;
	TRY(exec(q, schema_v1, e));
	return exec(q, "PRAGMA application_id = 1314081875;" /* 'NSLS' */
		       "PRAGMA user_version = 1", e);
}

static int setup_schema(struct sq *q, const char *path, struct err *e)
{
	uint64_t version, app;
	TRY(pragma_u64(q, "PRAGMA user_version", &version, e));
	TRY(pragma_u64(q, "PRAGMA application_id", &app, e));
	if (version > SCHEMA_VERSION)
		return err_set(e, ERR_UNAVAILABLE,
			       "slashing database %s has schema version %llu, newer "
			       "than this build's %d", path,
			       (unsigned long long)version, SCHEMA_VERSION);
	if (version > 0 && app != APPLICATION_ID)
		return err_set(e, ERR_UNAVAILABLE,
			       "%s is not a nitro-signer slashing database", path);
	if (version == SCHEMA_VERSION)
		return 0;
	/* Migrations run in one transaction each; version 0 -> 1 creates. */
	return in_tx(q, TX_WRITE, create_v1_tx, NULL, e);
}

static int configure(struct sq *q, const char *path, struct err *e)
{
	if (sqlite3_db_readonly(q->conn, "main") == 1)
		return err_set(e, ERR_UNAVAILABLE,
			       "slashing database %s is read-only", path);
	sqlite3_extended_result_codes(q->conn, 1);
	sqlite3_busy_timeout(q->conn, BUSY_TIMEOUT_MS);
	TRY(quick_check(q, path, e));
	if (!q->memory) {
		sqlite3_stmt *s = NULL;
		const char *mode = NULL;
		if (sqlite3_prepare_v2(q->conn, "PRAGMA journal_mode = WAL", -1,
				       &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			mode = (const char *)sqlite3_column_text(s, 0);
		int ok = mode && strcmp(mode, "wal") == 0;
		sqlite3_finalize(s);
		if (!ok)
			return err_set(e, ERR_UNAVAILABLE,
				       "slashing database %s: cannot enable WAL: %s",
				       path, sqlite3_errmsg(q->conn));
	}
	TRY(exec(q, "PRAGMA synchronous = FULL", e));
	TRY(setup_schema(q, path, e));
	for (int i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(q->conn, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &q->st[i],
				       NULL) != SQLITE_OK)
			return db_err(q, e, "preparing statements");
	return 0;
}

static bool sq_is_volatile(const char *path)
{
	return strcmp(path, ":memory:") == 0;
}

/* path: a file path, or ":memory:" (volatile: tests and fuzzing). */
int slashing_sqlite_copy(const char *from, const char *to, struct err *e)
{
	sqlite3 *src = NULL, *dst = NULL;
	int rc = 0;
	if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		rc = err_set(e, ERR_UNAVAILABLE, "cannot open slashing database %s: %s",
			     from, src ? sqlite3_errmsg(src) : "out of memory");
	else if (sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
				 NULL) != SQLITE_OK)
		rc = err_set(e, ERR_IO, "cannot create %s: %s", to,
			     dst ? sqlite3_errmsg(dst) : "out of memory");
	if (rc == 0) {
		sqlite3_busy_timeout(src, 5000);
		sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
		int step = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
		if (b && sqlite3_backup_finish(b) != SQLITE_OK && step == SQLITE_DONE)
			step = SQLITE_ERROR;
		if (step != SQLITE_DONE)
			rc = err_set(e, ERR_UNAVAILABLE, "copying slashing database "
				     "%s: %s", from, sqlite3_errmsg(dst));
	}
	sqlite3_close(src);
	sqlite3_close(dst);
	return rc;
}

static int sq_open(const char *path, const struct slashing_open_opts *o,
		   void **be, struct err *e)
{
	if (!path[0])
		return err_set(e, ERR_USAGE,
			       "--slashing-protection-db-url: sqlite: needs a file "
			       "path (sqlite:PATH)");
	(void)o;
	struct sq *q = calloc(1, sizeof(*q));
	if (!q)
		return err_set(e, ERR_NOMEM, "out of memory");
	q->memory = strcmp(path, ":memory:") == 0;
	int rc;
	if (sqlite3_open_v2(path, &q->conn,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = err_set(e, ERR_UNAVAILABLE,
			     "cannot open slashing database %s: %s", path,
			     q->conn ? sqlite3_errmsg(q->conn) : "out of memory");
		goto fail;
	}
	rc = configure(q, path, e);
	if (rc < 0)
		goto fail;
	*be = q;
	return 0;
fail:
	sq_close(q);
	return rc;
}

const struct slashing_backend_ops slashing_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.is_volatile = sq_is_volatile,
	.close = sq_close,
	.check_batch = sq_check_batch,
	.import = sq_import,
	.export = sq_export,
	.prune_step = sq_prune_step,
	.set_enabled = sq_set_enabled,
	.repair_low = sq_repair_low,
	.set_high = sq_set_high,
	.get_high = sq_get_high,
	.health = sq_health,
	.usage = sq_usage,
};
