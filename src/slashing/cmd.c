/*
 * cmd.c: the slashing subcommands of `nitro-signer eth2` (import, export,
 * evaluate, watermark-repair, create-table) as functions the CLI calls after parsing its
 * flags. Each opens the database, does one thing, closes it, and leaves a
 * one-line summary of what it did (the CLI prints it). Only import creates
 * a SQLite database: the others refuse a file that does not exist, so a
 * mistyped path is an error rather than an empty database that protects
 * nothing (DynamoDB: opening a missing table fails already).
 *
 * evaluate reads JSON lines (DESIGN.md section 4) and runs, for each, the
 * very check-and-record transaction the signing path runs (without BLS),
 * so a sequence of lines behaves like a sequence of signing requests: what
 * it allows is recorded. A dry run evaluates against a throwaway copy
 * instead (SQLite: an online backup into a temporary file; other stores:
 * their interchange export and high watermark imported into mem:).
 *
 * Trusts nothing in its input files or lines: interchange files go through
 * interchange.c, evaluate lines through jansson and core's strict hex and
 * decimal parsers; a malformed line is answered with an error line and
 * records nothing.
 */
#include "backend.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVAL_LINE_MAX (64 * 1024)

static void say(char *summary, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(char *summary, const char *fmt, ...)
{
	if (!summary)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(summary, SLASHING_SUMMARY_MAX, fmt, ap);
	va_end(ap);
}

/* The SQLite file a sqlite: URL names, or NULL (other stores, :memory:). */
static const char *sqlite_path(const char *url)
{
	if (!url || strncmp(url, "sqlite:", 7) != 0 || strcmp(url + 7, ":memory:") == 0)
		return NULL;
	return url + 7;
}

/* Every command but import works on a database that is already there. */
static int open_existing(const char *url, const struct slashing_open_opts *opts,
			 struct slashing_db **db, struct err *e)
{
	const char *path = sqlite_path(url);
	struct stat st;
	if (path && path[0] && stat(path, &st) != 0)
		return err_set(e, ERR_NOT_FOUND,
			       "slashing-protection database %s does not exist "
			       "(check --slashing-protection-db-url; only import "
			       "creates one)", path);
	return slashing_open(url, opts, db, e);
}

/* Validators and records of an interchange document import has accepted. */
static void count_interchange(const char *json, size_t len, size_t *validators,
			      size_t *blocks, size_t *atts)
{
	*validators = *blocks = *atts = 0;
	json_t *j = json_loadb(json, len, 0, NULL);
	json_t *data = json_object_get(j, "data");
	size_t i;
	json_t *v;
	json_array_foreach(data, i, v) {
		(*validators)++;
		*blocks += json_array_size(json_object_get(v, "signed_blocks"));
		*atts += json_array_size(json_object_get(v, "signed_attestations"));
	}
	json_decref(j);
}

int slashing_cmd_import(const char *url, const struct slashing_open_opts *opts,
			const char *from_path, const uint8_t *expected_gvr,
			char *summary, struct err *e)
{
	char *buf = NULL;
	size_t len = 0;
	TRY(file_read_all(from_path, SLASHING_INTERCHANGE_MAX, &buf, &len, e));
	struct slashing_db *db = NULL;
	int rc = slashing_open(url, opts, &db, e);
	if (rc == 0)
		rc = slashing_import(db, buf, len, expected_gvr, e);
	if (rc < 0 && rc != -ERR_UNAVAILABLE && e)
		err_prefix(e, "%s: ", from_path);
	if (rc == 0) {
		size_t v, b, a;
		count_interchange(buf, len, &v, &b, &a);
		say(summary, "imported %zu validators, %zu records (%zu blocks, "
		    "%zu attestations) from %s", v, b + a, b, a, from_path);
	}
	slashing_close(db);
	free(buf);
	return rc;
}

int slashing_cmd_export(const char *url, const struct slashing_open_opts *opts,
			const char *to_path, char *summary, struct err *e)
{
	struct slashing_db *db = NULL;
	TRY(open_existing(url, opts, &db, e));
	char *json = NULL;
	int rc = slashing_export(db, NULL, 0, &json, e);
	slashing_close(db);
	if (rc == 0)
		rc = file_write_atomic(to_path, json, strlen(json), 0600, e);
	if (rc == 0) {
		size_t v, b, a;
		count_interchange(json, strlen(json), &v, &b, &a);
		say(summary, "exported %zu validators, %zu records (%zu blocks, "
		    "%zu attestations) to %s", v, b + a, b, a, to_path);
	}
	free(json);
	return rc;
}

int slashing_cmd_create_table(const char *url,
			      const struct slashing_open_opts *opts,
			      struct err *e)
{
	static const struct slashing_open_opts none;
	if (!url || strncmp(url, "dynamodb:", 9) != 0)
		return err_set(e, ERR_USAGE, "create-table: only for "
			       "--slashing-protection-db-url=dynamodb://TABLE... "
			       "(a SQLite database is created when first opened)");
	return slashing_dynamodb_create_table(url + 9, opts ? opts : &none, e);
}

static void describe_high(const struct slashing_watermark *w, char *out,
			  size_t cap)
{
	if (!w->has_slot && !w->has_epoch)
		snprintf(out, cap, "none");
	else
		snprintf(out, cap, "slot %llu, epoch %llu",
			 (unsigned long long)w->slot, (unsigned long long)w->epoch);
}

static int repair_low(struct slashing_db *db, const struct slashing_watermark *w,
		      char *summary, struct err *e)
{
	struct slashing_usage u = {0};
	TRY(slashing_watermark_repair(db, w, e));
	bool counted = slashing_usage(db, &u, NULL) == 0 && u.has_records;
	char n[48] = "every validator";
	if (counted)
		snprintf(n, sizeof(n), "%llu validators", (unsigned long long)u.validators);
	char slot[48] = "", epoch[48] = "";
	if (w->has_slot)
		snprintf(slot, sizeof(slot), " block slot %llu", (unsigned long long)w->slot);
	if (w->has_epoch)
		snprintf(epoch, sizeof(epoch), "%s attestation epoch %llu",
			 w->has_slot ? "," : "", (unsigned long long)w->epoch);
	say(summary, "low watermarks of %s raised to at least%s%s "
	    "(never lowered)", n, slot, epoch);
	return 0;
}

int slashing_cmd_watermark_repair(const char *url,
				  const struct slashing_open_opts *opts,
				  enum slashing_repair_mode mode,
				  const struct slashing_watermark *w,
				  char *summary, struct err *e)
{
	struct slashing_db *db = NULL;
	TRY(open_existing(url, opts, &db, e));
	struct slashing_watermark was = {0};
	char before[64];
	int rc = mode == SLASHING_REPAIR_LOW ? 0
		 : slashing_get_high_watermark(db, &was, e);
	describe_high(&was, before, sizeof(before));
	switch (rc < 0 ? -1 : (int)mode) {
	case -1: break;
	case SLASHING_REPAIR_LOW: rc = repair_low(db, w, summary, e); break;
	case SLASHING_REPAIR_SET_HIGH:
		rc = slashing_set_high_watermark(db, w, e);
		if (rc == 0)
			say(summary, "high watermark set to slot %llu, epoch %llu "
			    "(was: %s)", (unsigned long long)w->slot,
			    (unsigned long long)w->epoch, before);
		break;
	case SLASHING_REPAIR_REMOVE_HIGH:
		rc = slashing_remove_high_watermark(db, e);
		if (rc == 0 && (was.has_slot || was.has_epoch))
			say(summary, "high watermark removed (was: %s)", before);
		else if (rc == 0)
			say(summary, "no high watermark was set; nothing changed");
		break;
	default: rc = err_set(e, ERR_USAGE, "watermark-repair: unknown mode");
	}
	slashing_close(db);
	return rc;
}

/* ---- evaluate ---------------------------------------------------------- */

static int field_u64(json_t *obj, const char *key, const char *field,
		     uint64_t *out, struct err *e)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s: expected a decimal string",
			       field);
	return dec_parse_u64(json_string_value(v), out, e, field);
}

static int field_hex(json_t *obj, const char *key, uint8_t *out, size_t len,
		     struct err *e)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return err_set(e, ERR_INVALID, "%s: missing", key);
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s: expected a 0x-hex string", key);
	return hex_decode_exact(json_string_value(v), out, len, e, key);
}

/* Parses one line into a request; -ERR_INVALID names the field. */
static int parse_line(const char *line, size_t len, struct slashing_msg *r,
		      struct err *e)
{
	json_t *j;
	TRY(json_parse_strict(line, len, NULL, &j, e));
	int rc = 0;
	json_t *block = json_object_get(j, "block");
	json_t *att = json_object_get(j, "attestation");
	if (!json_is_object(j))
		rc = err_set(e, ERR_INVALID, "expected a JSON object");
	else if ((block != NULL) == (att != NULL))
		rc = err_set(e, ERR_INVALID,
			     "exactly one of block or attestation is required");
	if (rc == 0)
		rc = field_hex(j, "pubkey", r->pubkey, 48, e);
	if (rc == 0)
		rc = field_hex(j, "signing_root", r->root, 32, e);
	if (rc == 0 && block) {
		r->kind = SLASHING_MSG_BLOCK;
		if (!json_is_object(block))
			rc = err_set(e, ERR_INVALID, "block: expected an object");
		else
			rc = field_u64(block, "slot", "block.slot", &r->slot, e);
	} else if (rc == 0) {
		r->kind = SLASHING_MSG_ATTESTATION;
		if (!json_is_object(att))
			rc = err_set(e, ERR_INVALID,
				     "attestation: expected an object");
		if (rc == 0)
			rc = field_u64(att, "source_epoch",
				       "attestation.source_epoch", &r->source, e);
		if (rc == 0)
			rc = field_u64(att, "target_epoch",
				       "attestation.target_epoch", &r->target, e);
	}
	json_decref(j);
	return rc;
}

static void print_error(FILE *out, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	fprintf(out, "%s\n", s ? s : "{\"error\":\"out of memory\"}");
	free(s);
	json_decref(o);
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

struct eval_counts {
	size_t allowed, refused, errors;
};

static int evaluate_line(struct slashing_db *db, const uint8_t gvr[32],
			 const char *line, size_t n, FILE *out,
			 struct eval_counts *c, struct err *e)
{
	struct slashing_msg r;
	struct err le = {0};
	memset(&r, 0, sizeof(r));
	if (n > EVAL_LINE_MAX) {
		print_error(out, "line longer than 65536 bytes");
		c->errors++;
		return 0;
	}
	if (parse_line(line, n, &r, &le) < 0) {
		print_error(out, le.msg);
		c->errors++;
		return 0;
	}
	enum slashing_reason d;
	int rc = r.kind == SLASHING_MSG_BLOCK
			 ? slashing_check_block(db, r.pubkey, gvr, r.slot, r.root,
						&d, &le)
			 : slashing_check_attestation(db, r.pubkey, gvr, r.source,
						      r.target, r.root, &d, &le);
	if (rc < 0) {
		print_error(out, le.msg);
		c->errors++;
		if (e)
			*e = le;
		return rc;
	}
	if (d == SLASHING_OK) {
		c->allowed++;
		fprintf(out, "{\"allowed\":true}\n");
	} else {
		c->refused++;
		fprintf(out, "{\"allowed\":false,\"reason\":\"%s\"}\n",
			slashing_reason_code(d));
	}
	return 0;
}

/* ---- evaluate --dry-run: a throwaway copy ------------------------------- */

#define DRY_MEM_URL "mem:" /* private to its handle, freed with it */

static void remove_copy(const char *path)
{
	static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
	char p[4200];
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		(void)unlink(p);
	}
}

/* SQLite: an online backup of the file into a temporary one (tmp). */
static int copy_sqlite(const char *path, const struct slashing_open_opts *opts,
		       char tmp[4096], struct slashing_db **db, struct err *e)
{
	const char *dir = getenv("TMPDIR");
	snprintf(tmp, 4096, "%s/nitro-signer-dry-run-XXXXXX",
		 dir && dir[0] ? dir : "/tmp");
	int fd = mkstemp(tmp);
	if (fd < 0) {
		tmp[0] = '\0';
		return err_set(e, ERR_IO, "evaluate --dry-run: cannot create a "
			       "temporary file in %s", dir && dir[0] ? dir : "/tmp");
	}
	close(fd);
	TRY(slashing_sqlite_copy(path, tmp, e));
	char url[4200];
	snprintf(url, sizeof(url), "sqlite:%s", tmp);
	return slashing_open(url, opts, db, e);
}

/* Other stores: their interchange export and high watermark, in mem:. */
static int copy_via_interchange(const char *url,
				const struct slashing_open_opts *opts,
				struct slashing_db **db, struct err *e)
{
	struct slashing_db *src = NULL;
	char *json = NULL;
	struct slashing_watermark high = {0};
	TRY(open_existing(url, opts, &src, e));
	int rc = slashing_export(src, NULL, 0, &json, e);
	if (rc == -ERR_NOT_FOUND) /* nothing recorded yet: an empty copy */
		rc = 0;
	if (rc == 0)
		rc = slashing_get_high_watermark(src, &high, e);
	slashing_close(src);
	struct slashing_open_opts mem = {.allow_volatile = true};
	if (rc == 0)
		rc = slashing_open(DRY_MEM_URL, &mem, db, e);
	if (rc == 0 && json)
		rc = slashing_import(*db, json, strlen(json), NULL, e);
	if (rc == 0 && (high.has_slot || high.has_epoch))
		rc = slashing_set_high_watermark(*db, &high, e);
	free(json);
	return rc;
}

int slashing_cmd_evaluate(const char *url,
			  const struct slashing_open_opts *opts,
			  const uint8_t gvr[32], bool dry_run, FILE *in,
			  FILE *out, char *summary, struct err *e)
{
	struct slashing_db *db = NULL;
	char tmp[4096] = "";
	const char *path = sqlite_path(url);
	int rc = 0;
	if (!dry_run)
		rc = open_existing(url, opts, &db, e);
	else if (path && access(path, F_OK) != 0)
		rc = open_existing(url, opts, &db, e); /* the message */
	else if (path)
		rc = copy_sqlite(path, opts, tmp, &db, e);
	else
		rc = copy_via_interchange(url, opts, &db, e);
	if (rc < 0) {
		slashing_close(db);
		if (tmp[0])
			remove_copy(tmp);
		return rc;
	}
	/* One-shot command: no background pruning racing the operator. */
	slashing_set_pruning(db, 1, 1, 0);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct eval_counts c = {0};
	while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
		if (!blank(line, (size_t)n))
			rc = evaluate_line(db, gvr, line, (size_t)n, out, &c, e);
		fflush(out);
	}
	if (rc == 0 && ferror(in))
		rc = err_set(e, ERR_IO, "evaluate: reading input failed");
	free(line);
	slashing_close(db);
	if (tmp[0])
		remove_copy(tmp);
	say(summary, "%zu allowed, %zu refused, %zu errors (%s)", c.allowed,
	    c.refused, c.errors,
	    dry_run ? "dry run: nothing recorded" : "what was allowed is recorded");
	return rc;
}
