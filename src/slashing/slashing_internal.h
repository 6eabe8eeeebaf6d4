/*
 * slashing_internal.h: what the files of the slashing module share and no
 * other module sees: the rule functions (rules.c), the interchange model
 * (interchange.c) and the message a check decides. The backend interface,
 * which sqlite.c and mem.c implement (and a DynamoDB backend will), is in
 * backend.h.
 */
#ifndef NS_SLASHING_INTERNAL_H
#define NS_SLASHING_INTERNAL_H

#include "slashing.h"

/* ---- rules (rules.c): pure decisions over facts a backend gathered ---- */

/* The db-wide facts: which chain, and the optional high watermark. */
struct slashing_meta {
	bool has_gvr;
	uint8_t gvr[32];
	struct slashing_watermark hw;
};

/* One validator's state; known == false for a pubkey never seen. How a
 * backend finds the validator again (a row id, an item key) is its own. */
struct slashing_validator {
	bool known;
	bool enabled;
	bool has_lw_slot;
	uint64_t lw_slot;
	bool has_lw_epochs; /* source and target are set together */
	uint64_t lw_source;
	uint64_t lw_target;
};

/* What the records at the same slot (block) or target (attestation) say. */
enum slashing_match {
	SLASHING_MATCH_NONE,      /* no record there */
	SLASHING_MATCH_IDENTICAL, /* only the same message (same root) */
	SLASHING_MATCH_CONFLICT,  /* any other message, or one with no root */
};

/* Checks that need no history: root, disabled, high and low watermarks. */
enum slashing_reason slashing_rule_block_pre(const struct slashing_meta *m,
					     const struct slashing_validator *v,
					     const uint8_t gvr[32],
					     uint64_t slot);
/* The rest; *record says whether an allowed block must be stored. */
enum slashing_reason slashing_rule_block_post(const struct slashing_validator *v,
					      uint64_t slot,
					      enum slashing_match at_slot,
					      bool *record);
enum slashing_reason slashing_rule_att_pre(const struct slashing_meta *m,
					   const struct slashing_validator *v,
					   const uint8_t gvr[32],
					   uint64_t source, uint64_t target);
enum slashing_reason slashing_rule_att_post(const struct slashing_validator *v,
					    uint64_t target,
					    enum slashing_match at_target,
					    bool surrounded, bool surrounding,
					    bool *record);
/* After recording an allowed block (vote): the validator's first record
 * sets its low watermark. Return whether v changed (store it then). */
bool slashing_rule_recorded_block(struct slashing_validator *v, uint64_t slot);
bool slashing_rule_recorded_att(struct slashing_validator *v, uint64_t source,
				uint64_t target);

/*
 * The minimal (watermark) rules of EIP-3076, for a store that keeps per
 * validator only its newest block and newest vote (dynamodb.c): a block
 * must be above the newest signed slot, a vote must not lower the newest
 * source and must raise the newest target; an exact repeat of the newest
 * block or vote is allowed. What the complete rules allow and these refuse
 * (non-slashable messages older than the newest) is in docs/slashing.md.
 */
enum slashing_min_kind {
	SLASHING_MIN_NONE,    /* a watermark with no message at it (repair) */
	SLASHING_MIN_UNKNOWN, /* a message whose root is unknown (import) */
	SLASHING_MIN_ROOT,    /* the message with this root */
};
struct slashing_minimal {
	bool known;   /* an item exists (or was decided in this batch) */
	bool enabled; /* false: deleted through the Keymanager API */
	bool has_block;
	uint64_t slot;
	enum slashing_min_kind block_kind;
	uint8_t block_root[32];
	bool has_att;
	uint64_t source, target;
	enum slashing_min_kind att_kind;
	uint8_t att_root[32];
};
/* Decide one message; an allowed one that must be stored updates *st and
 * sets *record (a repeat is allowed without a record). */
enum slashing_reason slashing_rule_min_block(const struct slashing_meta *m,
					     struct slashing_minimal *st,
					     const uint8_t gvr[32],
					     uint64_t slot,
					     const uint8_t root[32],
					     bool *record);
enum slashing_reason slashing_rule_min_att(const struct slashing_meta *m,
					   struct slashing_minimal *st,
					   const uint8_t gvr[32],
					   uint64_t source, uint64_t target,
					   const uint8_t root[32],
					   bool *record);
struct ic_entry;
/* Import: raises *st to the newest block and vote of the file's entries
 * for its pubkey (the maxima: a watermark store keeps no older records);
 * a message at the new watermark is remembered with its root only when the
 * file has exactly that one message there. Never lowers. Returns whether
 * st changed. */
bool slashing_rule_min_import(struct slashing_minimal *st,
			      const struct ic_entry *const *group, size_t n);
/* Watermark repair: the block slot and both epochs raised to w's. */
bool slashing_rule_min_repair(struct slashing_minimal *st,
			      const struct slashing_watermark *w);
/* The same state (roots compared only where they are known). */
bool slashing_rule_min_equal(const struct slashing_minimal *a,
			     const struct slashing_minimal *b);
/* Raises st to at least floor (block, source, target), never lowering;
 * returns whether st changed. */
bool slashing_rule_min_raise(struct slashing_minimal *st,
			     const struct slashing_minimal *floor);

/* Import (EIP-3076 conditions 2, 4, 5): raises v's low watermarks to the
 * minima over every entry of the file for v's pubkey (group, n); never
 * lowers. Returns whether v changed. */
bool slashing_rule_import_watermarks(struct slashing_validator *v,
				     const struct ic_entry *const *group,
				     size_t n);
/* Watermark repair: raises v's low watermarks to w's halves; never lowers.
 * Returns whether v changed. */
bool slashing_rule_repair_low(struct slashing_validator *v,
			      const struct slashing_watermark *w);

/*
 * Pruning one validator's blocks (slots) or votes (targets), docs/slashing.md
 * section 5. The backend finds the newest stored slot (target) and asks
 * slashing_prune_from() where the kept window starts; finds the first
 * stored slot (target) at or after that and asks slashing_prune_cut()
 * where to cut (false: nothing to prune); deletes everything below the cut
 * (votes: noting the largest source it deletes) and folds the cut into the
 * watermarks with slashing_prune_fold_*(), storing v when they return true.
 */
uint64_t slashing_prune_from(uint64_t newest, uint64_t keep, bool has_lw,
			     uint64_t lw);
bool slashing_prune_cut(bool has_first, uint64_t first, bool has_lw,
			uint64_t lw, uint64_t *cut);
bool slashing_prune_fold_blocks(struct slashing_validator *v, uint64_t cut);
bool slashing_prune_fold_atts(struct slashing_validator *v, uint64_t cut,
			      bool deleted, uint64_t max_deleted_source);

/* ---- interchange model (interchange.c) ---- */

struct ic_block {
	uint64_t slot;
	bool has_root;
	uint8_t root[32];
};

struct ic_att {
	uint64_t source;
	uint64_t target;
	bool has_root;
	uint8_t root[32];
};

struct ic_entry {
	uint8_t pubkey[48];
	struct ic_block *blocks;
	size_t n_blocks;
	struct ic_att *atts;
	size_t n_atts;
};

struct interchange {
	uint8_t gvr[32];
	struct ic_entry *entries;
	size_t n_entries;
};

/* Strict EIP-3076 v5 parse; every error names the field. */
int interchange_parse(const char *json, size_t len, struct interchange **out,
		      struct err *e);
/* Pretty-printed v5 JSON, malloc'd and NUL-terminated. */
int interchange_write(const struct interchange *ic, char **out, size_t *len,
		      struct err *e);
struct interchange *interchange_new(const uint8_t gvr[32]);
/* Appends an empty entry; NULL on allocation failure. */
struct ic_entry *interchange_add_entry(struct interchange *ic,
				       const uint8_t pubkey[48]);
int ic_entry_add_block(struct ic_entry *en, uint64_t slot,
		       const uint8_t *root /* NULL = unknown */);
int ic_entry_add_att(struct ic_entry *en, uint64_t source, uint64_t target,
		     const uint8_t *root /* NULL = unknown */);
void interchange_free(struct interchange *ic);

/* Import, for every backend: -ERR_INVALID naming both roots, and nothing to
 * be changed, unless m is unbound or bound to ic's root. */
int interchange_check_gvr(const struct interchange *ic,
			  const struct slashing_meta *m, struct err *e);
/* Calls fn once per pubkey of ic with all of its entries (in file order),
 * pubkeys in ascending byte order; stops at the first error. */
typedef int (*interchange_pubkey_fn)(void *arg,
				     const struct ic_entry *const *group,
				     size_t n, struct err *e);
int interchange_for_each_pubkey(const struct interchange *ic,
				interchange_pubkey_fn fn, void *arg,
				struct err *e);

/*
 * Export, for every backend: interchange_export_new() starts the file
 * (-ERR_NOT_FOUND when m is bound to no chain yet). Per validator, add an
 * entry with its stored records (blocks by slot, votes by target then
 * source; those below its watermarks may be left out or not), then
 * interchange_export_finish() shapes it so that a fresh import recomputes
 * the same watermarks (and drops it when it says nothing).
 */
int interchange_export_new(const struct slashing_meta *m,
			   struct interchange **out, struct err *e);
int interchange_export_finish(struct interchange *ic,
			      const struct slashing_validator *v,
			      struct err *e);

/* ---- the message a check decides ---- */

enum slashing_msg_kind { SLASHING_MSG_BLOCK, SLASHING_MSG_ATTESTATION };

/* A slashable message to check and record: the engine (db.c) fills it, a
 * backend's check_batch sets decision. */
struct slashing_msg {
	enum slashing_msg_kind kind;
	uint8_t pubkey[48];
	uint8_t gvr[32];
	uint8_t root[32];
	uint64_t slot;   /* blocks */
	uint64_t source; /* attestations */
	uint64_t target;
	enum slashing_reason decision;
	/* A backend that decides validators apart (dynamodb.c) may fail one
	 * message without failing the batch: rc < 0 and err say why, and
	 * nothing is signed for it. db.c zeroes both. */
	int rc;
	struct err err;
};

#endif
