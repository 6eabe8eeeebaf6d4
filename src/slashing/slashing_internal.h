/*
 * slashing_internal.h: what the files of the slashing module share and no
 * other module sees: the rule functions (rules.c), the interchange model
 * (interchange.c), the request queued for a group commit, and the backend
 * interface that sqlite.c implements (and a DynamoDB backend will).
 */
#ifndef NS_SLASHING_INTERNAL_H
#define NS_SLASHING_INTERNAL_H

#include <pthread.h>

#include "slashing.h"

/* ---- rules (rules.c): pure decisions over facts a backend gathered ---- */

/* The db-wide facts: which chain, and the optional high watermark. */
struct slashing_meta {
	bool has_gvr;
	uint8_t gvr[32];
	struct slashing_watermark hw;
};

/* One validator's state; known == false for a pubkey never seen. */
struct slashing_validator {
	bool known;
	int64_t id;
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

/* ---- group commit ---- */

enum slashing_req_kind { SLASHING_REQ_BLOCK, SLASHING_REQ_ATTESTATION };

struct slashing_request {
	enum slashing_req_kind kind;
	uint8_t pubkey[48];
	uint8_t gvr[32];
	uint8_t root[32];
	uint64_t slot;   /* blocks */
	uint64_t source; /* attestations */
	uint64_t target;
	enum slashing_reason decision; /* set by the backend's check_batch */
	/* the queue's business */
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

/* ---- backends ---- */

/*
 * A backend is used by one thread at a time (db.c holds a lock around every
 * call). check_batch decides the requests in order, each seeing the records
 * of those before it, and makes all the records durable together: on any
 * error nothing of the batch may be stored and the error is returned (every
 * request of the batch then fails; none is ever reported allowed).
 */
struct slashing_backend_ops {
	const char *name;
	int (*check_batch)(void *be, struct slashing_request **reqs, size_t n,
			   struct err *e);
	int (*import)(void *be, const struct interchange *ic, struct err *e);
	int (*export)(void *be, const uint8_t (*pubkeys)[48], size_t n,
		      struct interchange **out, struct err *e);
	/* Prunes validators with id > *cursor, at most max_validators of them,
	 * in one transaction; *cursor advances, *done when none were left. */
	int (*prune_step)(void *be, uint64_t keep, uint64_t spe,
			  int64_t *cursor, size_t max_validators, bool *done,
			  struct err *e);
	int (*set_enabled)(void *be, const uint8_t pubkey[48], bool enabled,
			   struct err *e);
	int (*repair_low)(void *be, const struct slashing_watermark *w,
			  struct err *e);
	/* w == NULL removes it */
	int (*set_high)(void *be, const struct slashing_watermark *w,
			struct err *e);
	int (*get_high)(void *be, struct slashing_watermark *out,
			struct err *e);
	int (*health)(void *be, struct err *e);
	int (*size)(void *be, uint64_t *bytes, struct err *e);
	void (*close)(void *be);
};

/* path: a file path or ":memory:". */
int slashing_sqlite_open(const char *path, const struct slashing_backend_ops **ops,
			 void **be, struct err *e);

#endif
