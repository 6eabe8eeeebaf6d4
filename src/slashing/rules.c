/*
 * rules.c: the slashing-protection rules as pure functions over facts a
 * backend gathered inside its transaction. Keeping them here, apart from
 * SQL, lets every backend apply the same rules in the same order, and lets
 * the unit tests read them as the table of docs/slashing.md. The
 * watermarks that imports, repairs and pruning move are computed here too,
 * so that every backend raises them the same way (never lowering them).
 *
 * Trusts: its inputs (fixed-size values the caller already validated).
 *
 * Blocks:   root, disabled, slot >= high watermark, slot < low watermark,
 *           another or unknown block at the slot (double proposal), an
 *           identical block there (repeat: allowed, nothing stored), at the
 *           low watermark without an identical record (refused), else allowed.
 * Votes:    root, disabled, source > target, high watermark, source < lw
 *           source or target < lw target, double vote / repeat at the target,
 *           at the lw target without an identical record, surrounded,
 *           surrounding, else allowed.
 */
#include "slashing_internal.h"

#include <string.h>

static enum slashing_reason common_pre(const struct slashing_meta *m,
				       const struct slashing_validator *v,
				       const uint8_t gvr[32])
{
	if (m->has_gvr && memcmp(m->gvr, gvr, 32) != 0)
		return SLASHING_GVR_MISMATCH;
	if (v->known && !v->enabled)
		return SLASHING_VALIDATOR_DISABLED;
	return SLASHING_OK;
}

enum slashing_reason slashing_rule_block_pre(const struct slashing_meta *m,
					     const struct slashing_validator *v,
					     const uint8_t gvr[32],
					     uint64_t slot)
{
	enum slashing_reason r = common_pre(m, v, gvr);
	if (r != SLASHING_OK)
		return r;
	if (m->hw.has_slot && slot >= m->hw.slot)
		return SLASHING_AT_OR_ABOVE_HIGH_WATERMARK;
	if (v->known && v->has_lw_slot && slot < v->lw_slot)
		return SLASHING_BELOW_LOW_WATERMARK;
	return SLASHING_OK;
}

enum slashing_reason slashing_rule_block_post(const struct slashing_validator *v,
					      uint64_t slot,
					      enum slashing_match at_slot,
					      bool *record)
{
	*record = false;
	if (at_slot == SLASHING_MATCH_CONFLICT)
		return SLASHING_DOUBLE_PROPOSAL;
	if (at_slot == SLASHING_MATCH_IDENTICAL)
		return SLASHING_OK;
	/* EIP-3076 condition 2: slot <= min imported slot refused unless a
	 * repeat; at the watermark with nothing recorded there is no repeat. */
	if (v->known && v->has_lw_slot && slot == v->lw_slot)
		return SLASHING_BELOW_LOW_WATERMARK;
	*record = true;
	return SLASHING_OK;
}

enum slashing_reason slashing_rule_att_pre(const struct slashing_meta *m,
					   const struct slashing_validator *v,
					   const uint8_t gvr[32],
					   uint64_t source, uint64_t target)
{
	enum slashing_reason r = common_pre(m, v, gvr);
	if (r != SLASHING_OK)
		return r;
	if (source > target)
		return SLASHING_SOURCE_AFTER_TARGET;
	if (m->hw.has_epoch && (source >= m->hw.epoch || target >= m->hw.epoch))
		return SLASHING_AT_OR_ABOVE_HIGH_WATERMARK;
	/* EIP-3076 condition 4 (source < min source) and 5 (target <= min
	 * target unless a repeat; equality is handled after the lookup). */
	if (v->known && v->has_lw_epochs &&
	    (source < v->lw_source || target < v->lw_target))
		return SLASHING_BELOW_LOW_WATERMARK;
	return SLASHING_OK;
}

enum slashing_reason slashing_rule_att_post(const struct slashing_validator *v,
					    uint64_t target,
					    enum slashing_match at_target,
					    bool surrounded, bool surrounding,
					    bool *record)
{
	*record = false;
	if (at_target == SLASHING_MATCH_CONFLICT)
		return SLASHING_DOUBLE_VOTE;
	/* Re-signing the identical message creates nothing new. */
	if (at_target == SLASHING_MATCH_IDENTICAL)
		return SLASHING_OK;
	if (v->known && v->has_lw_epochs && target == v->lw_target)
		return SLASHING_BELOW_LOW_WATERMARK;
	if (surrounded)
		return SLASHING_SURROUNDED_VOTE;
	if (surrounding)
		return SLASHING_SURROUND_VOTE;
	*record = true;
	return SLASHING_OK;
}

bool slashing_rule_recorded_block(struct slashing_validator *v, uint64_t slot)
{
	if (v->has_lw_slot)
		return false;
	v->has_lw_slot = true;
	v->lw_slot = slot;
	return true;
}

bool slashing_rule_recorded_att(struct slashing_validator *v, uint64_t source,
				uint64_t target)
{
	if (v->has_lw_epochs)
		return false;
	v->has_lw_epochs = true;
	v->lw_source = source;
	v->lw_target = target;
	return true;
}

/* ---- watermarks moved by imports, repairs and pruning -------------------- */

/* Raises *lw (with *has) to at least x; returns whether it moved. */
static bool raise(bool *has, uint64_t *lw, uint64_t x)
{
	if (*has && *lw >= x)
		return false;
	*has = true;
	*lw = x;
	return true;
}

/* Both epochs together: an unset pair takes (source, target) as it is. */
static bool raise_epochs(struct slashing_validator *v, uint64_t source,
			 uint64_t target)
{
	if (!v->has_lw_epochs)
		return slashing_rule_recorded_att(v, source, target);
	bool changed = false;
	if (source > v->lw_source) {
		v->lw_source = source;
		changed = true;
	}
	if (target > v->lw_target) {
		v->lw_target = target;
		changed = true;
	}
	return changed;
}

bool slashing_rule_import_watermarks(struct slashing_validator *v,
				     const struct ic_entry *const *group,
				     size_t n)
{
	bool has_slot = false, has_epochs = false;
	uint64_t slot = 0, source = 0, target = 0;
	for (size_t g = 0; g < n; g++) {
		const struct ic_entry *en = group[g];
		for (size_t i = 0; i < en->n_blocks; i++) {
			if (!has_slot || en->blocks[i].slot < slot)
				slot = en->blocks[i].slot;
			has_slot = true;
		}
		for (size_t i = 0; i < en->n_atts; i++) {
			const struct ic_att *a = &en->atts[i];
			if (!has_epochs || a->source < source)
				source = a->source;
			if (!has_epochs || a->target < target)
				target = a->target;
			has_epochs = true;
		}
	}
	bool changed = has_slot && raise(&v->has_lw_slot, &v->lw_slot, slot);
	if (has_epochs && raise_epochs(v, source, target))
		changed = true;
	return changed;
}

bool slashing_rule_repair_low(struct slashing_validator *v,
			      const struct slashing_watermark *w)
{
	bool changed = w->has_slot && raise(&v->has_lw_slot, &v->lw_slot, w->slot);
	if (w->has_epoch && raise_epochs(v, w->epoch, w->epoch))
		changed = true;
	return changed;
}

/* Web3Signer's "point": the window counted back from the newest value. */
uint64_t slashing_prune_from(uint64_t newest, uint64_t keep, bool has_lw,
			     uint64_t lw)
{
	uint64_t from = newest >= keep ? newest - keep + 1 : 0;
	return has_lw && lw > from ? lw : from;
}

bool slashing_prune_cut(bool has_first, uint64_t first, bool has_lw,
			uint64_t lw, uint64_t *cut)
{
	/* Nothing stored at or after the window: keep the watermark's place
	 * (records below it protect nothing: the watermark refuses them). */
	if (!has_first && !has_lw)
		return false;
	*cut = has_first ? first : lw;
	return true;
}

bool slashing_prune_fold_blocks(struct slashing_validator *v, uint64_t cut)
{
	return raise(&v->has_lw_slot, &v->lw_slot, cut);
}

bool slashing_prune_fold_atts(struct slashing_validator *v, uint64_t cut,
			      bool deleted, uint64_t max_deleted_source)
{
	/*
	 * A deleted vote (s, t) has t < cut <= any allowed new target, so it
	 * can only be surrounded by a new vote with source < s: raising the
	 * source watermark to the largest deleted source keeps that refused.
	 */
	bool changed = deleted && raise_epochs(v, max_deleted_source, cut);
	if (v->has_lw_epochs && cut > v->lw_target) {
		v->lw_target = cut;
		changed = true;
	}
	return changed;
}

const char *slashing_reason_code(enum slashing_reason r)
{
	switch (r) {
	case SLASHING_OK: return "ok";
	case SLASHING_DOUBLE_PROPOSAL: return "double_proposal";
	case SLASHING_DOUBLE_VOTE: return "double_vote";
	case SLASHING_SURROUND_VOTE: return "surround_vote";
	case SLASHING_SURROUNDED_VOTE: return "surrounded_vote";
	case SLASHING_SOURCE_AFTER_TARGET: return "source_after_target";
	case SLASHING_BELOW_LOW_WATERMARK: return "below_low_watermark";
	case SLASHING_AT_OR_ABOVE_HIGH_WATERMARK:
		return "at_or_above_high_watermark";
	case SLASHING_GVR_MISMATCH: return "genesis_validators_root_mismatch";
	case SLASHING_VALIDATOR_DISABLED: return "validator_disabled";
	case SLASHING_REASON_COUNT: break;
	}
	return "unknown";
}

/* ---- the minimal (watermark) rules --------------------------------------- */

/* A validator first written: it exists and is enabled (unless it was). */
static void min_known(struct slashing_minimal *st)
{
	if (!st->known) {
		st->known = true;
		st->enabled = true;
	}
}

static enum slashing_reason min_pre(const struct slashing_meta *m,
				    const struct slashing_minimal *st,
				    const uint8_t gvr[32])
{
	struct slashing_validator v = {.known = st->known,
				       .enabled = st->enabled};
	return common_pre(m, &v, gvr);
}

/* At the newest message: a repeat of it is allowed, anything else there is
 * the double (or the watermark when no message is known there). */
static enum slashing_reason at_newest(enum slashing_min_kind kind,
				      const uint8_t stored[32],
				      const uint8_t root[32], bool same_source,
				      enum slashing_reason dbl)
{
	if (kind == SLASHING_MIN_NONE)
		return SLASHING_BELOW_LOW_WATERMARK;
	if (kind == SLASHING_MIN_ROOT && same_source &&
	    memcmp(stored, root, 32) == 0)
		return SLASHING_OK;
	return dbl;
}

enum slashing_reason slashing_rule_min_block(const struct slashing_meta *m,
					     struct slashing_minimal *st,
					     const uint8_t gvr[32],
					     uint64_t slot,
					     const uint8_t root[32],
					     bool *record)
{
	*record = false;
	enum slashing_reason r = min_pre(m, st, gvr);
	if (r != SLASHING_OK)
		return r;
	if (m->hw.has_slot && slot >= m->hw.slot)
		return SLASHING_AT_OR_ABOVE_HIGH_WATERMARK;
	if (st->has_block && slot < st->slot)
		return SLASHING_BELOW_LOW_WATERMARK;
	if (st->has_block && slot == st->slot)
		return at_newest(st->block_kind, st->block_root, root, true,
				 SLASHING_DOUBLE_PROPOSAL);
	min_known(st);
	st->has_block = true;
	st->slot = slot;
	st->block_kind = SLASHING_MIN_ROOT;
	memcpy(st->block_root, root, 32);
	*record = true;
	return SLASHING_OK;
}

enum slashing_reason slashing_rule_min_att(const struct slashing_meta *m,
					   struct slashing_minimal *st,
					   const uint8_t gvr[32],
					   uint64_t source, uint64_t target,
					   const uint8_t root[32],
					   bool *record)
{
	*record = false;
	enum slashing_reason r = min_pre(m, st, gvr);
	if (r != SLASHING_OK)
		return r;
	if (source > target)
		return SLASHING_SOURCE_AFTER_TARGET;
	if (m->hw.has_epoch && (source >= m->hw.epoch || target >= m->hw.epoch))
		return SLASHING_AT_OR_ABOVE_HIGH_WATERMARK;
	if (st->has_att) {
		/* Name what the newest vote makes of it where it is exact. */
		if (st->att_kind != SLASHING_MIN_NONE) {
			if (source < st->source && target > st->target)
				return SLASHING_SURROUND_VOTE;
			if (source > st->source && target < st->target)
				return SLASHING_SURROUNDED_VOTE;
		}
		if (source < st->source || target < st->target)
			return SLASHING_BELOW_LOW_WATERMARK;
		if (target == st->target)
			return at_newest(st->att_kind, st->att_root, root,
					 source == st->source,
					 SLASHING_DOUBLE_VOTE);
	}
	min_known(st);
	st->has_att = true;
	st->source = source;
	st->target = target;
	st->att_kind = SLASHING_MIN_ROOT;
	memcpy(st->att_root, root, 32);
	*record = true;
	return SLASHING_OK;
}

/* One kind for the messages a file has at the new watermark: the root when
 * they are all one known message, else unknown. */
static void merge_kind(enum slashing_min_kind *kind, uint8_t stored[32],
		       bool first, bool has_root, const uint8_t root[32])
{
	if (!has_root) {
		*kind = SLASHING_MIN_UNKNOWN;
		return;
	}
	if (first || *kind == SLASHING_MIN_NONE) {
		*kind = SLASHING_MIN_ROOT;
		memcpy(stored, root, 32);
		return;
	}
	if (*kind == SLASHING_MIN_ROOT && memcmp(stored, root, 32) != 0)
		*kind = SLASHING_MIN_UNKNOWN;
}

bool slashing_rule_min_import(struct slashing_minimal *st,
			      const struct ic_entry *const *group, size_t n)
{
	struct slashing_minimal old = *st;
	min_known(st);
	/* Blocks: the newest slot of file and store; the messages there. */
	for (size_t g = 0; g < n; g++) {
		const struct ic_entry *en = group[g];
		for (size_t i = 0; i < en->n_blocks; i++) {
			const struct ic_block *b = &en->blocks[i];
			if (st->has_block && b->slot < st->slot)
				continue;
			bool first = !st->has_block || b->slot > st->slot;
			if (first) {
				st->has_block = true;
				st->slot = b->slot;
			}
			merge_kind(&st->block_kind, st->block_root, first,
				   b->has_root, b->root);
		}
	}
	/* Votes: the newest target (its source at most the newest source:
	 * both are raised, each to its maximum). */
	for (size_t g = 0; g < n; g++) {
		const struct ic_entry *en = group[g];
		for (size_t i = 0; i < en->n_atts; i++) {
			const struct ic_att *a = &en->atts[i];
			if (!st->has_att || a->target > st->target) {
				uint64_t src = st->has_att && st->source > a->source
						       ? st->source
						       : a->source;
				st->has_att = true;
				st->target = a->target;
				st->att_kind = SLASHING_MIN_NONE;
				st->source = src;
			}
			if (a->source > st->source) {
				st->source = a->source;
				st->att_kind = SLASHING_MIN_UNKNOWN;
			}
		}
	}
	/* The message at the new (source, target), if the file's are one. */
	for (size_t g = 0; g < n && st->has_att; g++) {
		const struct ic_entry *en = group[g];
		for (size_t i = 0; i < en->n_atts; i++) {
			const struct ic_att *a = &en->atts[i];
			if (a->target != st->target)
				continue;
			if (a->source != st->source) {
				st->att_kind = SLASHING_MIN_UNKNOWN;
				continue;
			}
			bool first = st->att_kind == SLASHING_MIN_NONE &&
				     !(old.has_att && old.target == st->target);
			merge_kind(&st->att_kind, st->att_root, first,
				   a->has_root, a->root);
		}
	}
	return !slashing_rule_min_equal(&old, st);
}

bool slashing_rule_min_repair(struct slashing_minimal *st,
			      const struct slashing_watermark *w)
{
	struct slashing_minimal old = *st;
	min_known(st);
	if (w->has_slot && (!st->has_block || w->slot > st->slot)) {
		st->has_block = true;
		st->slot = w->slot;
		st->block_kind = SLASHING_MIN_NONE;
		memset(st->block_root, 0, 32);
	}
	if (w->has_epoch) {
		bool raise_t = !st->has_att || w->epoch > st->target;
		bool raise_s = !st->has_att || w->epoch > st->source;
		if (raise_t) {
			st->target = w->epoch;
			st->att_kind = SLASHING_MIN_NONE;
			memset(st->att_root, 0, 32);
		}
		if (raise_s) {
			st->source = w->epoch;
			if (!raise_t)
				st->att_kind = SLASHING_MIN_UNKNOWN;
		}
		st->has_att = true;
	}
	return !slashing_rule_min_equal(&old, st);
}

bool slashing_rule_min_equal(const struct slashing_minimal *a,
			    const struct slashing_minimal *b)
{
	if (a->known != b->known || a->enabled != b->enabled ||
	    a->has_block != b->has_block || a->has_att != b->has_att)
		return false;
	if (a->has_block &&
	    (a->slot != b->slot || a->block_kind != b->block_kind ||
	     (a->block_kind == SLASHING_MIN_ROOT &&
	      memcmp(a->block_root, b->block_root, 32) != 0)))
		return false;
	if (a->has_att &&
	    (a->source != b->source || a->target != b->target ||
	     a->att_kind != b->att_kind ||
	     (a->att_kind == SLASHING_MIN_ROOT &&
	      memcmp(a->att_root, b->att_root, 32) != 0)))
		return false;
	return true;
}

bool slashing_rule_min_raise(struct slashing_minimal *st,
			     const struct slashing_minimal *floor)
{
	bool changed = false;
	if (floor->has_block && (!st->has_block || floor->slot > st->slot)) {
		st->has_block = true;
		st->slot = floor->slot;
		st->block_kind = floor->block_kind;
		memcpy(st->block_root, floor->block_root, 32);
		changed = true;
	}
	if (floor->has_att && (!st->has_att || floor->target > st->target)) {
		uint64_t src = st->has_att && st->source > floor->source
				       ? st->source : floor->source;
		st->has_att = true;
		st->target = floor->target;
		st->att_kind = src == floor->source ? floor->att_kind
						    : SLASHING_MIN_UNKNOWN;
		memcpy(st->att_root, floor->att_root, 32);
		st->source = src;
		changed = true;
	} else if (floor->has_att && floor->source > st->source) {
		st->source = floor->source;
		st->att_kind = SLASHING_MIN_UNKNOWN;
		changed = true;
	}
	if (changed)
		min_known(st);
	return changed;
}
