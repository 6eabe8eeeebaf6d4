/*
 * backend.h: the seam between the slashing engine (db.c) and the stores
 * that keep the history: what a backend implements. sqlite.c (sqlite:PATH)
 * and mem.c (mem:NAME) implement it; a DynamoDB backend will. db.c picks a
 * backend by the URL's scheme from its table (backends[] in db.c) and is
 * the only caller of these functions.
 *
 * The contract every backend keeps (the tests in tests/unit/test_slashing.c
 * and test_slashing_interchange.c run on every backend to hold them to it):
 *
 * - Calls on one handle (be) never overlap: db.c holds a lock around each.
 *   Two handles on the same store (two processes on one SQLite file, two
 *   signers on one DynamoDB table, two opens of one mem:NAME) may run at
 *   once, and the backend serialises them itself: every write operation
 *   reads and writes as one atomic unit against every other writer.
 * - Every operation that writes is all or nothing: on an error nothing of
 *   it is stored and the error is returned.
 * - check_batch decides the messages in order, each seeing the records of
 *   those before it, with the rules of rules.c, and makes every record of
 *   the batch durable (as durable as the store is) before returning 0. On
 *   an error every message of the batch fails (db.c reports none allowed).
 *   A refusal records nothing, not even the chain binding or a validator.
 * - Errors: -ERR_UNAVAILABLE when the store cannot be used (the signer
 *   answers 503), -ERR_INVALID for an import the database refuses (another
 *   chain), -ERR_NOT_FOUND for an export of a database bound to no chain,
 *   -ERR_NOMEM, -ERR_USAGE for a malformed URL at open. Messages name the
 *   store and the problem.
 * - Values are full uint64 (order included) and roots 32 bytes; a record
 *   with an unknown root (imported without one) conflicts with every
 *   message at its slot/target. The interchange records (struct ic_block,
 *   struct ic_att) are also the record shape the backends store.
 *
 * Trust: backends get fixed-size values the engine validated and
 * interchange files already parsed and checked by interchange.c.
 */
#ifndef NS_SLASHING_BACKEND_H
#define NS_SLASHING_BACKEND_H

#include "slashing_internal.h"

/*
 * Where a pruning pass resumes. db.c zeroes it to start a pass and hands it
 * back untouched between steps; the bytes are the backend's own (SQLite:
 * the last validator row pruned; mem: the last pubkey; DynamoDB: a scan's
 * LastEvaluatedKey).
 */
#define SLASHING_PRUNE_CURSOR_MAX 256
struct slashing_prune_cursor {
	size_t len; /* 0: from the beginning */
	uint8_t pos[SLASHING_PRUNE_CURSOR_MAX];
};

struct slashing_backend_ops {
	const char *name; /* "sqlite": for messages */
	/* The most requests the engine hands to one check_batch (0: its
	 * default, 64). A remote store that decides validators in parallel
	 * wants a whole slot's burst at once. */
	size_t batch_max;
	/*
	 * where: the URL after the scheme ("sqlite:/var/x.db" -> "/var/x.db").
	 * o: never NULL (db.c passes defaults). Checks the store is usable
	 * (readable, ours, a schema this build knows), so a broken store fails
	 * here, with a message, rather than at the first signature. db.c has
	 * already refused a volatile store the caller did not allow.
	 */
	int (*open)(const char *where, const struct slashing_open_opts *o,
		    void **be, struct err *e);
	/* Whether the store at where dies with the process (mem:,
	 * sqlite::memory:). */
	bool (*is_volatile)(const char *where);
	void (*close)(void *be); /* NULL-safe */

	/* The group commit's one call: see the contract above. */
	int (*check_batch)(void *be, struct slashing_msg **msgs, size_t n,
			   struct err *e);

	/* EIP-3076: merge ic (parsed, validated) in one unit: every record
	 * kept (identical ones once), low watermarks raised with
	 * slashing_rule_import_watermarks(); interchange_check_gvr() first. */
	int (*import)(void *be, const struct interchange *ic, struct err *e);
	/* One consistent view, through interchange_export_new/_finish;
	 * validators in ascending pubkey order, or pubkeys' order when given
	 * (unknown ones left out). *out is NULL on entry and the caller's
	 * after the call, to free also when it fails. */
	int (*export)(void *be, const uint8_t (*pubkeys)[48], size_t n,
		      struct interchange **out, struct err *e);

	/* Prunes up to max_validators validators after *cursor (rules.c's
	 * slashing_prune_*), as one unit, and advances *cursor; *done when
	 * none were left. Keeps the blocks of the last keep_slots slots and
	 * the votes of the last keep_epochs target epochs of each validator.
	 * Signing goes on between steps. */
	int (*prune_step)(void *be, uint64_t keep_slots, uint64_t keep_epochs,
			  struct slashing_prune_cursor *cursor,
			  size_t max_validators, bool *done, struct err *e);

	/* An unknown pubkey is recorded with that flag. */
	int (*set_enabled)(void *be, const uint8_t pubkey[48], bool enabled,
			   struct err *e);
	/* Every known validator, slashing_rule_repair_low(). */
	int (*repair_low)(void *be, const struct slashing_watermark *w,
			  struct err *e);
	/* w == NULL removes it. */
	int (*set_high)(void *be, const struct slashing_watermark *w,
			struct err *e);
	int (*get_high)(void *be, struct slashing_watermark *out,
			struct err *e);

	/* A cheap probe that the store answers (/healthcheck). */
	int (*health)(void *be, struct err *e);
	/* Optional (NULL: nothing known): what the store holds; fields it
	 * cannot tell cheaply stay unset (has_* false). */
	int (*usage)(void *be, struct slashing_usage *out, struct err *e);
};

extern const struct slashing_backend_ops slashing_sqlite_ops;
extern const struct slashing_backend_ops slashing_mem_ops;
extern const struct slashing_backend_ops slashing_dynamodb_ops;

/* An online backup of the SQLite database at from into the file to (evaluate
 * --dry-run's throwaway copy): a consistent snapshot even while a signer
 * writes; from is only read. */
int slashing_sqlite_copy(const char *from, const char *to, struct err *e);

/* dynamodb://: creates the table (key schema pk (S), on demand) unless it
 * exists, waits until it is active and checks it is one of ours. where is
 * the URL after "dynamodb:". */
int slashing_dynamodb_create_table(const char *where,
				   const struct slashing_open_opts *o,
				   struct err *e);
/* The fuzz target's entry: an item as DynamoDB would return it (its JSON),
 * parsed as the backend parses items read from the table (with mac_key, or
 * none): -ERR_INVALID when refused; when accepted, it must encode back to an
 * item that parses to the same state (-ERR_INTERNAL otherwise: a bug). */
int slashing_dynamodb_item_check(const char *json, size_t len,
				 const uint8_t *mac_key, struct err *e);

/* Test hook of the mem backend: the writes to store mem:NAME after the next
 * n fail (-ERR_UNAVAILABLE, as a full disk would); n < 0 ends that.
 * -ERR_NOT_FOUND when no such store was opened. */
int slashing_mem_fail_writes(const char *name, long n);

#endif
