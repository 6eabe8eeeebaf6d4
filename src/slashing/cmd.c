/*
 * cmd.c: the slashing subcommands of `nitro-signer eth2` (import, export,
 * evaluate, watermark-repair, create-table) as functions the CLI calls after parsing its
 * flags. Each opens the database, does one thing, and closes it.
 *
 * evaluate reads JSON lines (DESIGN.md section 4) and runs, for each, the
 * very check-and-record transaction the signing path runs (without BLS),
 * so a sequence of lines behaves like a sequence of signing requests.
 *
 * Trusts nothing in its input files or lines: interchange files go through
 * interchange.c, evaluate lines through jansson and core's strict hex and
 * decimal parsers; a malformed line is answered with an error line and
 * records nothing.
 */
#include "backend.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_LINE_MAX (64 * 1024)

int slashing_cmd_import(const char *url, const struct slashing_open_opts *opts,
			const char *from_path, const uint8_t *expected_gvr,
			struct err *e)
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
	slashing_close(db);
	free(buf);
	return rc;
}

int slashing_cmd_export(const char *url, const struct slashing_open_opts *opts,
			const char *to_path, struct err *e)
{
	struct slashing_db *db = NULL;
	TRY(slashing_open(url, opts, &db, e));
	char *json = NULL;
	int rc = slashing_export(db, NULL, 0, &json, e);
	slashing_close(db);
	if (rc == 0)
		rc = file_write_atomic(to_path, json, strlen(json), 0600, e);
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

int slashing_cmd_watermark_repair(const char *url,
				  const struct slashing_open_opts *opts,
				  enum slashing_repair_mode mode,
				  const struct slashing_watermark *w,
				  struct err *e)
{
	struct slashing_db *db = NULL;
	TRY(slashing_open(url, opts, &db, e));
	int rc;
	switch (mode) {
	case SLASHING_REPAIR_LOW: rc = slashing_watermark_repair(db, w, e); break;
	case SLASHING_REPAIR_SET_HIGH:
		rc = slashing_set_high_watermark(db, w, e);
		break;
	case SLASHING_REPAIR_REMOVE_HIGH:
		rc = slashing_remove_high_watermark(db, e);
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

static int evaluate_line(struct slashing_db *db, const uint8_t gvr[32],
			 const char *line, size_t n, FILE *out, struct err *e)
{
	struct slashing_msg r;
	struct err le = {0};
	memset(&r, 0, sizeof(r));
	if (n > EVAL_LINE_MAX) {
		print_error(out, "line longer than 65536 bytes");
		return 0;
	}
	if (parse_line(line, n, &r, &le) < 0) {
		print_error(out, le.msg);
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
		if (e)
			*e = le;
		return rc;
	}
	if (d == SLASHING_OK)
		fprintf(out, "{\"allowed\":true}\n");
	else
		fprintf(out, "{\"allowed\":false,\"reason\":\"%s\"}\n",
			slashing_reason_code(d));
	return 0;
}

int slashing_cmd_evaluate(const char *url,
			  const struct slashing_open_opts *opts,
			  const uint8_t gvr[32], FILE *in, FILE *out,
			  struct err *e)
{
	struct slashing_db *db = NULL;
	TRY(slashing_open(url, opts, &db, e));
	/* One-shot command: no background pruning racing the operator. */
	slashing_set_pruning(db, 1, 1, 0);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;
	while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
		if (!blank(line, (size_t)n))
			rc = evaluate_line(db, gvr, line, (size_t)n, out, e);
		fflush(out);
	}
	if (rc == 0 && ferror(in))
		rc = err_set(e, ERR_IO, "evaluate: reading input failed");
	free(line);
	slashing_close(db);
	return rc;
}
