/*
 * mem.c: the in-memory backend of slashing protection (mem:NAME, mem:).
 *
 * What it is for: the rule, engine and interchange tests run on it as well
 * as on SQLite, which keeps the seam of backend.h honest, and the fuzz
 * target compares its imports and exports with SQLite's. It keeps nothing
 * across a restart, so slashing_open() refuses it unless the caller allows
 * a volatile store (slashing_open_opts.allow_volatile): the signer and the
 * CLI never do.
 *
 * mem:NAME is one store shared by every handle opened on NAME in this
 * process, kept until the process exits, as a file outlives its
 * connections: a test closes and reopens it, or opens it twice, as it
 * would a SQLite file. mem: (no name) is private to its handle and freed
 * with it.
 *
 * How it works: a store is the metadata (chain, high watermark) and an
 * array of validators sorted by pubkey; each validator holds its state
 * (struct slashing_validator) and its records in the interchange's shapes,
 * blocks sorted by slot and votes by (target, source), ties in arrival
 * order, so that an export lists them as SQLite's does. Every operation
 * runs in in_tx() under the store's mutex, which makes it one transaction
 * against every other handle. A write first logs how to undo itself (the
 * last step that can fail), then changes the store; a failed operation
 * plays its log backwards, so nothing of it remains, as a ROLLBACK; a
 * successful one drops the log. "Durable" here means: seen by every later
 * operation on the store.
 *
 * Checks run rules.c over facts read from the arrays: the validator and
 * the records at a slot or target by binary search, the surround checks
 * by a scan of the validator's votes (which pruning keeps short).
 *
 * Test hook: slashing_mem_fail_writes() makes the writes after the next n
 * fail, as a full disk would, to show that a failed batch stores nothing.
 *
 * Trusts: its callers for fixed-size, validated values.
 */
#include "backend.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200

struct mem_val {
	uint8_t pubkey[48];
	struct slashing_validator v; /* v.known is always true */
	struct ic_block *blocks;     /* by slot */
	size_t n_blocks, cap_blocks;
	struct ic_att *atts; /* by target, then source */
	size_t n_atts, cap_atts;
};

/* Which of a validator's record arrays (blocks or votes). */
enum rec_kind { R_BLOCKS, R_ATTS };

/* One record array, whichever it is. */
struct recs {
	void **arr;
	size_t *n, *cap;
	size_t elem;
};

static struct recs recs_of(struct mem_val *mv, enum rec_kind k)
{
	if (k == R_ATTS)
		return (struct recs){(void **)&mv->atts, &mv->n_atts,
				     &mv->cap_atts, sizeof(*mv->atts)};
	return (struct recs){(void **)&mv->blocks, &mv->n_blocks,
			     &mv->cap_blocks, sizeof(*mv->blocks)};
}

/* How to take one write back. */
enum undo_kind {
	U_META,      /* the metadata: restored whole from meta_before */
	U_VAL_ADDED, /* vals[at] was inserted */
	U_VAL_STATE, /* mv->v was state */
	U_REC_ADDED, /* record at of mv's recs was inserted */
	U_RECS_CUT,  /* the first n_cut records were removed: cut holds them */
};

struct undo {
	enum undo_kind kind;
	struct mem_val *mv;
	enum rec_kind recs;
	size_t at;
	struct slashing_validator state;
	void *cut;
	size_t n_cut;
};

struct mem_store {
	char *name; /* NULL: private to one handle */
	pthread_mutex_t lock; /* held for every operation: one at a time */
	struct slashing_meta meta;
	struct mem_val **vals; /* by pubkey */
	size_t n_vals, cap_vals;
	/* the operation running */
	struct undo *log;
	size_t n_log, cap_log;
	struct slashing_meta meta_before;
	long writes_left; /* test hook: < 0 never fails */
	struct mem_store *next; /* the named stores */
};

/* The named stores, kept until the process exits. */
static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mem_store *stores;

/* Room for one more element in *arr (capacity *cap, count n). */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 8;
	if (nc > SIZE_MAX / elem)
		return -1;
	void *p = realloc(*arr, nc * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = nc;
	return 0;
}

static int oom(struct err *e)
{
	return err_set(e, ERR_NOMEM, "out of memory");
}

/* ---- the undo log: every write goes through logged() first -------------- */

static int logged(struct mem_store *s, struct undo u, struct err *e)
{
	if (s->writes_left == 0)
		return err_set(e, ERR_UNAVAILABLE,
			       "slashing database mem:%s: write failed (injected)",
			       s->name ? s->name : "");
	if (grow((void **)&s->log, &s->cap_log, s->n_log, sizeof(*s->log)) < 0)
		return oom(e);
	if (s->writes_left > 0)
		s->writes_left--;
	s->log[s->n_log++] = u;
	return 0;
}

static void free_val(struct mem_val *mv)
{
	free(mv->blocks);
	free(mv->atts);
	free(mv);
}

static void undo_one(struct mem_store *s, struct undo *u)
{
	struct mem_val *mv = u->mv;
	switch (u->kind) {
	case U_META:
		break;
	case U_VAL_ADDED:
		memmove(&s->vals[u->at], &s->vals[u->at + 1],
			(s->n_vals - u->at - 1) * sizeof(*s->vals));
		s->n_vals--;
		free_val(mv);
		break;
	case U_VAL_STATE:
		mv->v = u->state;
		break;
	case U_REC_ADDED: {
		struct recs r = recs_of(mv, u->recs);
		char *p = *r.arr;
		memmove(p + u->at * r.elem, p + (u->at + 1) * r.elem,
			(*r.n - u->at - 1) * r.elem);
		(*r.n)--;
		break;
	}
	case U_RECS_CUT: { /* a cut never shrinks the array: they fit back */
		struct recs r = recs_of(mv, u->recs);
		char *p = *r.arr;
		memmove(p + u->n_cut * r.elem, p, *r.n * r.elem);
		memcpy(p, u->cut, u->n_cut * r.elem);
		*r.n += u->n_cut;
		break;
	}
	}
}

/* The mem_store's own transaction frame, the counterpart of sqlite.c's. */
typedef int (*tx_body_fn)(struct mem_store *s, void *arg, struct err *e);

static int in_tx(struct mem_store *s, tx_body_fn body, void *arg,
		 struct err *e)
{
	pthread_mutex_lock(&s->lock);
	s->n_log = 0;
	s->meta_before = s->meta;
	int rc = body(s, arg, e);
	for (size_t i = s->n_log; rc < 0 && i-- > 0;)
		undo_one(s, &s->log[i]);
	if (rc < 0)
		s->meta = s->meta_before;
	for (size_t i = 0; i < s->n_log; i++)
		free(s->log[i].cut); /* rolled back: back in place; else dropped */
	s->n_log = 0;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- lookups ---------------------------------------------------------- */

/* The index of pubkey in vals, or where it would go (*found false). */
static size_t val_index(const struct mem_store *s, const uint8_t pubkey[48],
			bool *found)
{
	size_t lo = 0, hi = s->n_vals;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(s->vals[mid]->pubkey, pubkey, 48) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->n_vals && memcmp(s->vals[lo]->pubkey, pubkey, 48) == 0;
	return lo;
}

/* The validator (NULL: unknown) and its state (known false when unknown). */
static struct mem_val *val_get(const struct mem_store *s,
			       const uint8_t pubkey[48],
			       struct slashing_validator *v)
{
	bool found;
	size_t i = val_index(s, pubkey, &found);
	memset(v, 0, sizeof(*v));
	if (!found)
		return NULL;
	*v = s->vals[i]->v;
	return s->vals[i];
}

/* The first block with slot >= slot (strict: > slot). */
static size_t block_bound(const struct mem_val *mv, uint64_t slot, bool strict)
{
	size_t lo = 0, hi = mv->n_blocks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t x = mv->blocks[mid].slot;
		if (x < slot || (strict && x == slot))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first vote after (target, source) in their order; with source 0 and
 * !strict, the first vote with that target or above. */
static size_t att_bound(const struct mem_val *mv, uint64_t target,
			uint64_t source, bool strict)
{
	size_t lo = 0, hi = mv->n_atts;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ic_att *a = &mv->atts[mid];
		bool before = a->target < target ||
			      (a->target == target &&
			       (a->source < source ||
				(strict && a->source == source)));
		if (before)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool same_root(bool has_a, const uint8_t *a, bool has_b,
		      const uint8_t *b)
{
	return has_a == has_b && (!has_a || memcmp(a, b, 32) == 0);
}

/* ---- writes ----------------------------------------------------------- */

static int set_meta(struct mem_store *s, const struct slashing_meta *m,
		    struct err *e)
{
	TRY(logged(s, (struct undo){.kind = U_META}, e));
	s->meta = *m;
	return 0;
}

static int bind_gvr(struct mem_store *s, const uint8_t gvr[32], struct err *e)
{
	if (s->meta.has_gvr)
		return 0;
	struct slashing_meta m = s->meta;
	m.has_gvr = true;
	memcpy(m.gvr, gvr, 32);
	return set_meta(s, &m, e);
}

static int add_val(struct mem_store *s, const uint8_t pubkey[48],
		   bool enabled, struct mem_val **out, struct err *e)
{
	bool found;
	size_t at = val_index(s, pubkey, &found);
	struct mem_val *mv = calloc(1, sizeof(*mv));
	if (!mv || grow((void **)&s->vals, &s->cap_vals, s->n_vals,
			sizeof(*s->vals)) < 0) {
		free(mv);
		return oom(e);
	}
	int rc = logged(s, (struct undo){.kind = U_VAL_ADDED, .mv = mv, .at = at},
			e);
	if (rc < 0) {
		free(mv);
		return rc;
	}
	memcpy(mv->pubkey, pubkey, 48);
	mv->v.known = true;
	mv->v.enabled = enabled;
	memmove(&s->vals[at + 1], &s->vals[at],
		(s->n_vals - at) * sizeof(*s->vals));
	s->vals[at] = mv;
	s->n_vals++;
	*out = mv;
	return 0;
}

static int set_state(struct mem_store *s, struct mem_val *mv,
		     const struct slashing_validator *v, struct err *e)
{
	TRY(logged(s, (struct undo){.kind = U_VAL_STATE, .mv = mv, .state = mv->v},
		   e));
	mv->v = *v;
	return 0;
}

/* Inserts rec at index at of mv's records of kind k. */
static int add_rec(struct mem_store *s, struct mem_val *mv, enum rec_kind k,
		   size_t at, const void *rec, struct err *e)
{
	struct recs r = recs_of(mv, k);
	if (grow(r.arr, r.cap, *r.n, r.elem) < 0)
		return oom(e);
	TRY(logged(s, (struct undo){.kind = U_REC_ADDED, .mv = mv, .recs = k,
				    .at = at}, e));
	char *p = *r.arr;
	memmove(p + (at + 1) * r.elem, p + at * r.elem, (*r.n - at) * r.elem);
	memcpy(p + at * r.elem, rec, r.elem);
	(*r.n)++;
	return 0;
}

/* After the blocks (votes) equal to b (a) in order: ties keep arrival
 * order. */
static int add_block(struct mem_store *s, struct mem_val *mv,
		     const struct ic_block *b, struct err *e)
{
	return add_rec(s, mv, R_BLOCKS, block_bound(mv, b->slot, true), b, e);
}

static int add_att(struct mem_store *s, struct mem_val *mv,
		   const struct ic_att *a, struct err *e)
{
	return add_rec(s, mv, R_ATTS, att_bound(mv, a->target, a->source, true),
		       a, e);
}

/* Removes the first n records of kind k, keeping a copy in the log to put
 * back. */
static int cut_front(struct mem_store *s, struct mem_val *mv, enum rec_kind k,
		     size_t n, struct err *e)
{
	struct recs r = recs_of(mv, k);
	void *copy = malloc(n * r.elem);
	if (!copy)
		return oom(e);
	memcpy(copy, *r.arr, n * r.elem);
	int rc = logged(s, (struct undo){.kind = U_RECS_CUT, .mv = mv, .recs = k,
					 .cut = copy, .n_cut = n}, e);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	char *p = *r.arr;
	memmove(p, p + n * r.elem, (*r.n - n) * r.elem);
	*r.n -= n;
	return 0;
}

/* ---- check and record ------------------------------------------------- */

static enum slashing_match match_block(const struct mem_val *mv,
				       const struct slashing_msg *r)
{
	enum slashing_match at = SLASHING_MATCH_NONE;
	for (size_t i = block_bound(mv, r->slot, false);
	     i < mv->n_blocks && mv->blocks[i].slot == r->slot; i++) {
		const struct ic_block *b = &mv->blocks[i];
		if (b->has_root && memcmp(b->root, r->root, 32) == 0) {
			if (at == SLASHING_MATCH_NONE)
				at = SLASHING_MATCH_IDENTICAL;
		} else {
			at = SLASHING_MATCH_CONFLICT;
		}
	}
	return at;
}

static int check_block(struct mem_store *s, struct slashing_msg *r,
		       struct err *e)
{
	struct slashing_validator v;
	struct mem_val *mv = val_get(s, r->pubkey, &v);
	r->decision = slashing_rule_block_pre(&s->meta, &v, r->gvr, r->slot);
	if (r->decision != SLASHING_OK)
		return 0;
	bool record;
	r->decision = slashing_rule_block_post(
		&v, r->slot, mv ? match_block(mv, r) : SLASHING_MATCH_NONE,
		&record);
	if (r->decision != SLASHING_OK || !record)
		return 0;
	if (!mv)
		TRY(add_val(s, r->pubkey, true, &mv, e));
	TRY(bind_gvr(s, r->gvr, e));
	struct ic_block b = {.slot = r->slot, .has_root = true};
	memcpy(b.root, r->root, 32);
	TRY(add_block(s, mv, &b, e));
	v = mv->v;
	if (slashing_rule_recorded_block(&v, r->slot))
		TRY(set_state(s, mv, &v, e));
	return 0;
}

static enum slashing_match match_att(const struct mem_val *mv,
				     const struct slashing_msg *r)
{
	enum slashing_match at = SLASHING_MATCH_NONE;
	for (size_t i = att_bound(mv, r->target, 0, false);
	     i < mv->n_atts && mv->atts[i].target == r->target; i++) {
		const struct ic_att *a = &mv->atts[i];
		if (a->source == r->source && a->has_root &&
		    memcmp(a->root, r->root, 32) == 0) {
			if (at == SLASHING_MATCH_NONE)
				at = SLASHING_MATCH_IDENTICAL;
		} else {
			at = SLASHING_MATCH_CONFLICT;
		}
	}
	return at;
}

/* A recorded (s, t) with s < S and t > T surrounds the new vote; one with
 * s > S and t < T is surrounded by it. */
static void surrounds(const struct mem_val *mv, const struct slashing_msg *r,
		      bool *surrounded, bool *surrounding)
{
	for (size_t i = 0; i < mv->n_atts; i++) {
		const struct ic_att *a = &mv->atts[i];
		*surrounded |= a->source < r->source && a->target > r->target;
		*surrounding |= a->source > r->source && a->target < r->target;
	}
}

static int check_att(struct mem_store *s, struct slashing_msg *r,
		     struct err *e)
{
	struct slashing_validator v;
	struct mem_val *mv = val_get(s, r->pubkey, &v);
	r->decision = slashing_rule_att_pre(&s->meta, &v, r->gvr, r->source,
					    r->target);
	if (r->decision != SLASHING_OK)
		return 0;
	enum slashing_match at = SLASHING_MATCH_NONE;
	bool surrounded = false, surrounding = false, record;
	if (mv) {
		at = match_att(mv, r);
		surrounds(mv, r, &surrounded, &surrounding);
	}
	r->decision = slashing_rule_att_post(&v, r->target, at, surrounded,
					     surrounding, &record);
	if (r->decision != SLASHING_OK || !record)
		return 0;
	if (!mv)
		TRY(add_val(s, r->pubkey, true, &mv, e));
	TRY(bind_gvr(s, r->gvr, e));
	struct ic_att a = {.source = r->source, .target = r->target,
			   .has_root = true};
	memcpy(a.root, r->root, 32);
	TRY(add_att(s, mv, &a, e));
	v = mv->v;
	if (slashing_rule_recorded_att(&v, r->source, r->target))
		TRY(set_state(s, mv, &v, e));
	return 0;
}

struct batch_args {
	struct slashing_msg **msgs;
	size_t n;
};

static int check_batch_tx(struct mem_store *s, void *arg, struct err *e)
{
	const struct batch_args *a = arg;
	for (size_t i = 0; i < a->n; i++) {
		struct slashing_msg *r = a->msgs[i];
		TRY(r->kind == SLASHING_MSG_BLOCK ? check_block(s, r, e)
						  : check_att(s, r, e));
	}
	return 0;
}

static int mem_check_batch(void *be, struct slashing_msg **msgs, size_t n,
			   struct err *e)
{
	struct batch_args a = {msgs, n};
	return in_tx(be, check_batch_tx, &a, e);
}

/* ---- import ----------------------------------------------------------- */

/* Adds the entry's records that are not stored already (same slot or
 * target and source, same root or both unknown). */
static int import_rows(struct mem_store *s, struct mem_val *mv,
		       const struct ic_entry *en, struct err *e)
{
	for (size_t i = 0; i < en->n_blocks; i++) {
		const struct ic_block *b = &en->blocks[i];
		bool have = false;
		for (size_t k = block_bound(mv, b->slot, false);
		     !have && k < mv->n_blocks && mv->blocks[k].slot == b->slot; k++)
			have = same_root(mv->blocks[k].has_root, mv->blocks[k].root,
					 b->has_root, b->root);
		if (!have)
			TRY(add_block(s, mv, b, e));
	}
	for (size_t i = 0; i < en->n_atts; i++) {
		const struct ic_att *a = &en->atts[i];
		bool have = false;
		for (size_t k = att_bound(mv, a->target, a->source, false);
		     !have && k < mv->n_atts && mv->atts[k].target == a->target &&
		     mv->atts[k].source == a->source; k++)
			have = same_root(mv->atts[k].has_root, mv->atts[k].root,
					 a->has_root, a->root);
		if (!have)
			TRY(add_att(s, mv, a, e));
	}
	return 0;
}

/* One pubkey's entries of the file (an interchange_pubkey_fn). */
static int import_validator(void *arg, const struct ic_entry *const *g,
			    size_t n, struct err *e)
{
	struct mem_store *s = arg;
	struct slashing_validator v;
	struct mem_val *mv = val_get(s, g[0]->pubkey, &v);
	if (!mv)
		TRY(add_val(s, g[0]->pubkey, true, &mv, e));
	for (size_t i = 0; i < n; i++)
		TRY(import_rows(s, mv, g[i], e));
	v = mv->v;
	if (slashing_rule_import_watermarks(&v, g, n))
		TRY(set_state(s, mv, &v, e));
	return 0;
}

static int import_tx(struct mem_store *s, void *arg, struct err *e)
{
	const struct interchange *ic = arg;
	TRY(interchange_check_gvr(ic, &s->meta, e));
	TRY(bind_gvr(s, ic->gvr, e));
	return interchange_for_each_pubkey(ic, import_validator, s, e);
}

static int mem_import(void *be, const struct interchange *ic, struct err *e)
{
	return in_tx(be, import_tx, (void *)ic, e);
}

/* ---- export ----------------------------------------------------------- */

static int export_validator(const struct mem_val *mv, struct interchange *ic,
			    struct err *e)
{
	struct ic_entry *en = interchange_add_entry(ic, mv->pubkey);
	if (!en)
		return oom(e);
	for (size_t i = 0; i < mv->n_blocks; i++) {
		const struct ic_block *b = &mv->blocks[i];
		if (ic_entry_add_block(en, b->slot, b->has_root ? b->root : NULL) < 0)
			return oom(e);
	}
	for (size_t i = 0; i < mv->n_atts; i++) {
		const struct ic_att *a = &mv->atts[i];
		if (ic_entry_add_att(en, a->source, a->target,
				     a->has_root ? a->root : NULL) < 0)
			return oom(e);
	}
	return interchange_export_finish(ic, &mv->v, e);
}

struct export_args {
	const uint8_t (*pks)[48];
	size_t n;
	struct interchange **out;
};

static int export_tx(struct mem_store *s, void *arg, struct err *e)
{
	struct export_args *a = arg;
	TRY(interchange_export_new(&s->meta, a->out, e));
	size_t n = a->pks ? a->n : s->n_vals;
	for (size_t i = 0; i < n; i++) {
		struct slashing_validator v;
		const struct mem_val *mv =
			a->pks ? val_get(s, a->pks[i], &v) : s->vals[i];
		if (mv)
			TRY(export_validator(mv, *a->out, e));
	}
	return 0;
}

static int mem_export(void *be, const uint8_t (*pks)[48], size_t n,
		      struct interchange **out, struct err *e)
{
	struct export_args a = {pks, n, out};
	return in_tx(be, export_tx, &a, e);
}

/* ---- pruning ---------------------------------------------------------- */

static int prune_blocks(struct mem_store *s, struct mem_val *mv,
			struct slashing_validator *v, uint64_t keep_slots,
			bool *changed, struct err *e)
{
	if (!mv->n_blocks)
		return 0;
	uint64_t from = slashing_prune_from(mv->blocks[mv->n_blocks - 1].slot,
					    keep_slots, v->has_lw_slot,
					    v->lw_slot);
	size_t first = block_bound(mv, from, false);
	uint64_t cut;
	if (!slashing_prune_cut(first < mv->n_blocks,
				first < mv->n_blocks ? mv->blocks[first].slot : 0,
				v->has_lw_slot, v->lw_slot, &cut))
		return 0;
	size_t below = block_bound(mv, cut, false);
	if (below)
		TRY(cut_front(s, mv, R_BLOCKS, below, e));
	*changed |= slashing_prune_fold_blocks(v, cut);
	return 0;
}

static int prune_atts(struct mem_store *s, struct mem_val *mv,
		      struct slashing_validator *v, uint64_t keep, bool *changed,
		      struct err *e)
{
	if (!mv->n_atts)
		return 0;
	uint64_t from = slashing_prune_from(mv->atts[mv->n_atts - 1].target,
					    keep, v->has_lw_epochs, v->lw_target);
	size_t first = att_bound(mv, from, 0, false);
	uint64_t cut, max_src = 0;
	if (!slashing_prune_cut(first < mv->n_atts,
				first < mv->n_atts ? mv->atts[first].target : 0,
				v->has_lw_epochs, v->lw_target, &cut))
		return 0;
	size_t below = att_bound(mv, cut, 0, false);
	for (size_t i = 0; i < below; i++)
		if (mv->atts[i].source > max_src)
			max_src = mv->atts[i].source;
	if (below)
		TRY(cut_front(s, mv, R_ATTS, below, e));
	*changed |= slashing_prune_fold_atts(v, cut, below > 0, max_src);
	return 0;
}

struct prune_args {
	uint64_t keep_slots, keep_epochs;
	struct slashing_prune_cursor *cursor;
	size_t max;
	bool *done;
};

/* The cursor holds the last pubkey pruned. */
static int prune_tx(struct mem_store *s, void *arg, struct err *e)
{
	const struct prune_args *a = arg;
	size_t i = 0, n = 0;
	if (a->cursor->len == 48) {
		bool found;
		i = val_index(s, a->cursor->pos, &found);
		i += found;
	}
	for (; i < s->n_vals && n < a->max; i++, n++) {
		struct mem_val *mv = s->vals[i];
		struct slashing_validator v = mv->v;
		bool changed = false;
		TRY(prune_blocks(s, mv, &v, a->keep_slots, &changed, e));
		TRY(prune_atts(s, mv, &v, a->keep_epochs, &changed, e));
		if (changed)
			TRY(set_state(s, mv, &v, e));
		memcpy(a->cursor->pos, mv->pubkey, 48);
		a->cursor->len = 48;
	}
	*a->done = n == 0;
	return 0;
}

static int mem_prune_step(void *be, uint64_t keep_slots, uint64_t keep_epochs,
			  struct slashing_prune_cursor *cursor, size_t max,
			  bool *done, struct err *e)
{
	struct prune_args a = {keep_slots, keep_epochs, cursor, max, done};
	return in_tx(be, prune_tx, &a, e);
}

/* ---- administration --------------------------------------------------- */

struct enable_args {
	const uint8_t *pubkey;
	bool enabled;
};

static int set_enabled_tx(struct mem_store *s, void *arg, struct err *e)
{
	const struct enable_args *a = arg;
	struct slashing_validator v;
	struct mem_val *mv = val_get(s, a->pubkey, &v);
	if (!mv)
		return add_val(s, a->pubkey, a->enabled, &mv, e);
	v.enabled = a->enabled;
	return set_state(s, mv, &v, e);
}

static int mem_set_enabled(void *be, const uint8_t pubkey[48], bool enabled,
			   struct err *e)
{
	struct enable_args a = {pubkey, enabled};
	return in_tx(be, set_enabled_tx, &a, e);
}

static int repair_low_tx(struct mem_store *s, void *arg, struct err *e)
{
	const struct slashing_watermark *w = arg;
	for (size_t i = 0; i < s->n_vals; i++) {
		struct slashing_validator v = s->vals[i]->v;
		if (slashing_rule_repair_low(&v, w))
			TRY(set_state(s, s->vals[i], &v, e));
	}
	return 0;
}

static int mem_repair_low(void *be, const struct slashing_watermark *w,
			  struct err *e)
{
	return in_tx(be, repair_low_tx, (void *)w, e);
}

static int set_high_tx(struct mem_store *s, void *arg, struct err *e)
{
	const struct slashing_watermark *w = arg;
	struct slashing_meta m = s->meta;
	memset(&m.hw, 0, sizeof(m.hw));
	if (w)
		m.hw = *w;
	return set_meta(s, &m, e);
}

static int mem_set_high(void *be, const struct slashing_watermark *w,
			struct err *e)
{
	return in_tx(be, set_high_tx, (void *)w, e);
}

static int get_high_tx(struct mem_store *s, void *arg, struct err *e)
{
	(void)e;
	*(struct slashing_watermark *)arg = s->meta.hw;
	return 0;
}

static int mem_get_high(void *be, struct slashing_watermark *out,
			struct err *e)
{
	return in_tx(be, get_high_tx, out, e);
}

/* The store always answers; a failed write shows in db.c's health. */
static int mem_health(void *be, struct err *e)
{
	(void)be;
	(void)e;
	return 0;
}

static int usage_tx(struct mem_store *s, void *arg, struct err *e)
{
	(void)e;
	struct slashing_usage *u = arg;
	u->has_records = u->has_bytes = true;
	u->validators = s->n_vals;
	u->bytes = sizeof(*s) + s->n_vals * (sizeof(*s->vals) + sizeof(**s->vals));
	for (size_t i = 0; i < s->n_vals; i++) {
		u->blocks += s->vals[i]->n_blocks;
		u->attestations += s->vals[i]->n_atts;
	}
	u->bytes += u->blocks * sizeof(struct ic_block) +
		    u->attestations * sizeof(struct ic_att);
	return 0;
}

static int mem_usage(void *be, struct slashing_usage *out, struct err *e)
{
	return in_tx(be, usage_tx, out, e);
}

/* ---- open, close ------------------------------------------------------ */

static struct mem_store *store_new(const char *name)
{
	struct mem_store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (name && !(s->name = strdup(name))) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->writes_left = -1;
	return s;
}

static void store_free(struct mem_store *s)
{
	for (size_t i = 0; i < s->n_vals; i++)
		free_val(s->vals[i]);
	free(s->vals);
	free(s->log);
	free(s->name);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The named store, created on first use; stores_lock held. */
static struct mem_store *store_named(const char *name)
{
	for (struct mem_store *s = stores; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	struct mem_store *s = store_new(name);
	if (s) {
		s->next = stores;
		stores = s;
	}
	return s;
}

static bool mem_is_volatile(const char *name)
{
	(void)name;
	return true;
}

static int mem_open(const char *name, const struct slashing_open_opts *o,
		    void **be, struct err *e)
{
	(void)o;
	if (strlen(name) > NAME_MAX_LEN)
		return err_set(e, ERR_USAGE,
			       "--slashing-protection-db-url: mem: name longer "
			       "than %d bytes", NAME_MAX_LEN);
	struct mem_store *s;
	if (!name[0]) {
		s = store_new(NULL);
	} else {
		pthread_mutex_lock(&stores_lock);
		s = store_named(name);
		pthread_mutex_unlock(&stores_lock);
	}
	if (!s)
		return oom(e);
	*be = s;
	return 0;
}

/* A named store stays, for the next open of its name. */
static void mem_close(void *be)
{
	struct mem_store *s = be;
	if (s && !s->name)
		store_free(s);
}

int slashing_mem_fail_writes(const char *name, long n)
{
	pthread_mutex_lock(&stores_lock);
	struct mem_store *s = stores;
	while (s && strcmp(s->name, name) != 0)
		s = s->next;
	pthread_mutex_unlock(&stores_lock);
	if (!s)
		return -ERR_NOT_FOUND;
	pthread_mutex_lock(&s->lock);
	s->writes_left = n;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

const struct slashing_backend_ops slashing_mem_ops = {
	.name = "mem",
	.open = mem_open,
	.is_volatile = mem_is_volatile,
	.close = mem_close,
	.check_batch = mem_check_batch,
	.import = mem_import,
	.export = mem_export,
	.prune_step = mem_prune_step,
	.set_enabled = mem_set_enabled,
	.repair_low = mem_repair_low,
	.set_high = mem_set_high,
	.get_high = mem_get_high,
	.health = mem_health,
	.usage = mem_usage,
};
