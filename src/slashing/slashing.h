/*
 * slashing.h: the public header of the slashing-protection engine.
 *
 * A remote signer's first duty is never to sign a slashable message. Every
 * BLOCK, BLOCK_V2 and ATTESTATION request goes through slashing_check_*(),
 * which checks the request against the validator's history and records it in
 * ONE durable transaction; the caller may sign only when that returns 0 with
 * *decision == SLASHING_OK. The rules are in docs/slashing.md (EIP-3076 plus
 * Web3Signer's tables, taking the safer choice where they differ).
 *
 * Threading: a struct slashing_db is thread-safe. Many signing threads call
 * slashing_check_*() at once; their requests are group-committed by one
 * committer thread per db (one transaction of the backend, for SQLite one
 * BEGIN IMMEDIATE ... COMMIT and one fsync, for every request pending at
 * that moment), and each caller returns only after the commit holding its
 * record is durable. The other functions serialise with the committer on
 * the backend.
 *
 * Errors: negative err codes (core.h). -ERR_UNAVAILABLE means the database
 * could not be used (corrupt, unwritable, locked too long): the caller
 * answers 503 and never signs. -ERR_INVALID is an operator or client
 * mistake (a malformed interchange file, a root mismatch on import) and
 * changed nothing. A refusal of a slashable message is NOT an error: it is
 * 0 with *decision != SLASHING_OK (the signer answers 412 with the code of
 * slashing_reason_code()).
 */
#ifndef NS_SLASHING_H
#define NS_SLASHING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "eth2/eth2.h"

#define SLASHING_PUBKEY_LEN 48
#define SLASHING_ROOT_LEN 32
/* Largest interchange file the import command reads. */
#define SLASHING_INTERCHANGE_MAX (256u * 1024 * 1024)

struct slashing_db;

enum slashing_reason {
	SLASHING_OK = 0,                /* allowed and recorded (or exact repeat) */
	SLASHING_DOUBLE_PROPOSAL,       /* another (or unknown) block at this slot */
	SLASHING_DOUBLE_VOTE,           /* another (or unknown) vote for this target */
	SLASHING_SURROUND_VOTE,         /* the new vote surrounds a recorded one */
	SLASHING_SURROUNDED_VOTE,       /* the new vote is surrounded by a recorded one */
	SLASHING_SOURCE_AFTER_TARGET,   /* source epoch > target epoch */
	SLASHING_BELOW_LOW_WATERMARK,   /* below, or at and not an exact repeat */
	SLASHING_AT_OR_ABOVE_HIGH_WATERMARK,
	SLASHING_GVR_MISMATCH,          /* the db belongs to another chain */
	SLASHING_VALIDATOR_DISABLED,    /* deleted through the Keymanager API */
	SLASHING_REASON_COUNT
};

/* Short stable code for the 412 body and `evaluate`: "double_vote", ... */
const char *slashing_reason_code(enum slashing_reason r);

/*
 * Opening. url picks the backend by its scheme (the table in db.c):
 *   sqlite:PATH    a file, created if missing (WAL, synchronous=FULL,
 *                  schema versioned by PRAGMA user_version); PRAGMA
 *                  quick_check runs first: a corrupt or unreadable file, a
 *                  read-only file, another application's file or a newer
 *                  schema fails here with a message naming it.
 *                  sqlite::memory: is a volatile store (see below).
 *   mem:NAME, mem: a volatile in-memory store: see docs/slashing.md.
 *   dynamodb://TABLE?region=R[&endpoint=URL]  a DynamoDB table shared by
 *                  every signer (docs/slashing.md, "DynamoDB"): EIP-3076's
 *                  minimal conditions, one conditional write per record.
 * Anything else is -ERR_USAGE with the forms this build knows.
 */
struct aws_client_opts; /* src/aws/aws.h */

struct slashing_open_opts {
	/* A store that dies with the process (mem:, sqlite::memory:) is
	 * refused (-ERR_USAGE) unless set: a signer restarted on one would
	 * have forgotten what it signed. Tests, fuzzing and benchmarks set it;
	 * the signer and the CLI never do. */
	bool allow_volatile;
	/* For the DynamoDB backend (the local backends ignore these): the
	 * endpoint to use instead of the URL's or the default (tests:
	 * dynalite on 127.0.0.1), and how the host process makes AWS clients
	 * (the enclave's: credentials pushed by the host, sockets through
	 * vsock); borrowed, must outlive the db. NULL: the environment's
	 * credentials and plain TCP. */
	const char *endpoint;
	const struct aws_client_opts *aws;
	/* The key of the items' MAC (docs/slashing.md, "Integrity"), 32
	 * bytes, copied at open; NULL: items carry no MAC and none is
	 * checked. */
	const uint8_t *mac_key;
};

/* opts NULL: the defaults (every field zero). */
int slashing_open(const char *url, const struct slashing_open_opts *opts,
		  struct slashing_db **out, struct err *e);
/* What slashing_open checks of the URL before opening anything (a known
 * scheme; a volatile store only when opts allow it): -ERR_USAGE with the
 * forms this build knows. For a CLI to refuse a bad flag at once. */
int slashing_url_check(const char *url, const struct slashing_open_opts *opts,
		       struct err *e);
void slashing_close(struct slashing_db *db); /* NULL-safe */

/*
 * Check and record. Returns 0 with *decision set (SLASHING_OK: recorded and
 * durable, the caller may sign), or a negative error (nothing may be signed).
 * Blocks until the group commit holding the request is on disk.
 */
int slashing_check_block(struct slashing_db *db, const uint8_t pubkey[48],
			 const uint8_t gvr[32], uint64_t slot,
			 const uint8_t signing_root[32],
			 enum slashing_reason *decision, struct err *e);
int slashing_check_attestation(struct slashing_db *db, const uint8_t pubkey[48],
			       const uint8_t gvr[32], uint64_t source_epoch,
			       uint64_t target_epoch,
			       const uint8_t signing_root[32],
			       enum slashing_reason *decision, struct err *e);
/* The signing path's entry: dispatches on sg->type (sg->slashable must be
 * true; other types are -ERR_INTERNAL, they need no check). */
int slashing_check(struct slashing_db *db, const uint8_t pubkey[48],
		   const struct eth2_signing *sg, enum slashing_reason *decision,
		   struct err *e);

/*
 * The same message (sg) for n validators, checked and recorded in ONE
 * group commit: decisions[i] is pubkeys[i]'s, each decided on its own, in
 * order, exactly as n slashing_check() calls would decide them. Blocks
 * until the commit is durable; a negative return fails them all (nothing
 * may be signed). n may exceed the engine's usual batch size.
 */
int slashing_check_many(struct slashing_db *db, const uint8_t (*pubkeys)[48],
			size_t n, const struct eth2_signing *sg,
			enum slashing_reason *decisions, struct err *e);

/*
 * Non-blocking check-and-record: queues the request and returns at once.
 * done(arg, rc, decision, e) runs exactly once, on the committer thread,
 * after the batch holding this request is durable (rc 0, decision set) or
 * failed (rc < 0, e set; never "allowed"). It must not block: hand the
 * result to another thread. A negative return (closing, out of memory)
 * means done will not be called.
 */
typedef void (*slashing_done_fn)(void *arg, int rc,
				 enum slashing_reason decision,
				 const struct err *e);
int slashing_check_async(struct slashing_db *db, const uint8_t pubkey[48],
			 const struct eth2_signing *sg, slashing_done_fn done,
			 void *arg, struct err *e);

/*
 * EIP-3076 interchange v5. Import validates the whole file first (version
 * "5", genesis_validators_root, hex lengths, decimal strings; the message
 * names the field), then merges it in one transaction: every record kept,
 * low watermarks only raised. expected_gvr (NULL = take the file's) and the
 * root already bound to the db must equal the file's, else -ERR_INVALID and
 * nothing changes.
 */
int slashing_import(struct slashing_db *db, const char *json, size_t len,
		    const uint8_t *expected_gvr, struct err *e);
/*
 * Export: a v5 file (malloc'd, NUL-terminated) that a fresh database imports
 * back to at least the same protection. pubkeys/n_pubkeys filter the
 * validators (NULL/0 = all; the Keymanager DELETE passes the deleted keys).
 * -ERR_NOT_FOUND when no genesis_validators_root is bound yet.
 */
int slashing_export(struct slashing_db *db, const uint8_t (*pubkeys)[48],
		    size_t n_pubkeys, char **json_out, struct err *e);

/*
 * Pruning (Web3Signer's): per validator keep blocks of the last
 * epochs_to_keep * slots_per_epoch slots and attestations of the last
 * epochs_to_keep target epochs (counted back from the newest record); fold
 * the rest into the low watermarks so protection never drops. One short
 * transaction per validator, so signing is never stalled for long.
 */
int slashing_prune(struct slashing_db *db, uint64_t epochs_to_keep,
		   uint64_t slots_per_epoch, struct err *e);
/*
 * Periodic pruning by the committer thread (between batches). Default at
 * open: every 12 hours, keep 250 epochs, 32 slots per epoch (keeping more
 * than needed is always safe). interval_s == 0 turns it off.
 */
void slashing_set_pruning(struct slashing_db *db, uint64_t epochs_to_keep,
			  uint64_t slots_per_epoch, uint64_t interval_s);

/* Keymanager: a disabled (deleted) validator's requests are all refused;
 * disabling an unknown pubkey records it disabled. */
int slashing_set_validator_enabled(struct slashing_db *db,
				   const uint8_t pubkey[48], bool enabled,
				   struct err *e);

/* Watermarks. has_slot/has_epoch say which half applies. */
struct slashing_watermark {
	bool has_slot;
	uint64_t slot;
	bool has_epoch;
	uint64_t epoch;
};
/* Raise every validator's low watermarks (block slot; attestation source
 * and target epochs) to at least w; never lowers. */
int slashing_watermark_repair(struct slashing_db *db,
			      const struct slashing_watermark *w, struct err *e);
/* The db-wide high watermark: blocks with slot >= slot and attestations with
 * source or target >= epoch are refused. Both halves required to set. */
int slashing_set_high_watermark(struct slashing_db *db,
				const struct slashing_watermark *w,
				struct err *e);
int slashing_remove_high_watermark(struct slashing_db *db, struct err *e);
/* out->has_* false when unset (GET /api/v1/eth2/highWatermark). */
int slashing_get_high_watermark(struct slashing_db *db,
				struct slashing_watermark *out, struct err *e);

/* Cheap liveness/integrity probe for /healthcheck: a query on the db plus
 * the outcome of the last write. -ERR_UNAVAILABLE with the reason. */
int slashing_health(struct slashing_db *db, struct err *e);

/* What a database holds (operators, benchmarks, tests). A backend fills
 * what it can tell cheaply; the rest stays unset. */
struct slashing_usage {
	bool has_records;
	uint64_t validators;
	uint64_t blocks;       /* signed-block records held */
	uint64_t attestations; /* signed-attestation records held */
	bool has_bytes;
	uint64_t bytes; /* SQLite: the main file (page_count * page_size);
			 * mem: the records' bytes */
};
int slashing_usage(struct slashing_db *db, struct slashing_usage *out,
		   struct err *e);

/* ---- commands (the CLI calls these; each opens and closes the db) ----
 * url and opts as for slashing_open (the CLI passes NULL opts). summary
 * (SLASHING_SUMMARY_MAX bytes, may be NULL) receives one line saying what
 * the command did. Every command but import refuses a SQLite file that
 * does not exist (-ERR_NOT_FOUND naming it) rather than creating one. */
#define SLASHING_SUMMARY_MAX 256

/* eth2 import --from=FILE [--genesis-validators-root=0x..] */
int slashing_cmd_import(const char *url, const struct slashing_open_opts *opts,
			const char *from_path, const uint8_t *expected_gvr,
			char *summary, struct err *e);
/* eth2 export --to=FILE (written atomically, mode 0600) */
int slashing_cmd_export(const char *url, const struct slashing_open_opts *opts,
			const char *to_path, char *summary, struct err *e);
/*
 * eth2 evaluate: JSON lines from `in`, one line out per non-blank line:
 * {"allowed":true} | {"allowed":false,"reason":"<code>"} | {"error":"..."}
 * (a malformed line records nothing). What is allowed is recorded, as when
 * signing. dry_run: evaluated against a throwaway copy (SQLite: an online
 * backup; other stores: their export and high watermark in mem:), so the
 * database is left as it was. A database failure writes an error line and
 * returns the error.
 */
int slashing_cmd_evaluate(const char *url,
			  const struct slashing_open_opts *opts,
			  const uint8_t gvr[32], bool dry_run, FILE *in,
			  FILE *out, char *summary, struct err *e);

/* eth2 create-table: a dynamodb:// URL's table (docs/slashing.md), made
 * unless it exists, waited for until active, checked to be ours. */
int slashing_cmd_create_table(const char *url,
			      const struct slashing_open_opts *opts,
			      struct err *e);

enum slashing_repair_mode {
	SLASHING_REPAIR_LOW,         /* --epoch/--slot raise low watermarks */
	SLASHING_REPAIR_SET_HIGH,    /* --set-high-watermark */
	SLASHING_REPAIR_REMOVE_HIGH, /* --remove-high-watermark */
};
/* eth2 watermark-repair [--epoch=E] [--slot=S] [--set-high-watermark |
 * --remove-high-watermark] */
int slashing_cmd_watermark_repair(const char *url,
				  const struct slashing_open_opts *opts,
				  enum slashing_repair_mode mode,
				  const struct slashing_watermark *w,
				  char *summary, struct err *e);

#endif
