/*
 * keymanager.c: the Ethereum Keymanager API's keystores routes
 * (ethereum/keymanager-APIs, apis/local_keystores.yaml):
 *   GET    /eth/v1/keystores   the loaded keys, on the event loop;
 *   POST   /eth/v1/keystores   import EIP-2335 keystores (and their
 *                              EIP-3076 slashing history), on a worker;
 *   DELETE /eth/v1/keystores   delete keys and answer their history, on a
 *                              worker.
 * Served with --key-manager-api-enabled; every call needs
 * "Authorization: Bearer <token>" (401 without, 403 with another token),
 * the token being the first line of --key-manager-api-token-file (made with
 * 256 random bits, mode 0600, when missing). Only the token's SHA-256 is
 * kept, and the comparison is constant-time on the digests.
 *
 * Who can call and what they gain: a holder of the token can add keys
 * (which then sign under slashing protection) and delete keys (which then
 * sign nothing slashable on any signer sharing the database, because the
 * validator is disabled there first). Without the token nothing: a web
 * page cannot set Authorization without a CORS preflight we never answer.
 *
 * Import, in an order that leaves nothing behind on bad input: the body
 * is checked whole (arrays of strings of one length, at most
 * KM_MAX_KEYS), every keystore is parsed, two keystores of one pubkey are
 * a 400; the keystores are decrypted (in parallel: the KDF is the cost);
 * the slashing_protection is checked whole (a throwaway in-memory
 * database imports it with this network's genesis_validators_root) and a
 * malformed one or another network's is a 400; only then are the
 * histories of the keys being imported merged into the database, those
 * validators (re-)enabled, the password and keystore files written
 * atomically (0600) into --keystores-passwords-path and --keystores-path
 * (where the next start finds them) and the keys added to the registry.
 *
 * Delete: a loaded key is disabled in the database (refused from then on
 * by every signer that shares it, reloaded or not), removed from the
 * registry, then its files are unlinked; a key not loaded but with history
 * is disabled and not_active; the history of both is exported after the
 * disable, so it is final.
 *
 * Threading: km_lock serialises imports, deletes and /reload's rebuild,
 * so the registry changes by one of them at a time; the swap itself takes
 * the registry's write lock like every other swap (service.c).
 */
#include "signer/signer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define KM_MAX_KEYS 512
#define KM_TOKEN_BYTES 32
#define KM_PARSE_BUDGET (64u * 1024 * 1024)
#define KM_MSG 512
#define PK_HEX (2 + 2 * BLS_PUBKEY_LEN + 1)

/* ---- replies ------------------------------------------------------------ */

/* A message may quote the client's bytes (a JSON parse error, a keystore
 * field): only printable ASCII goes out, so a reply is always valid JSON. */
static void ascii_only(char *msg)
{
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

/* The API's ErrorResponse: {"message": ...}. */
static void km_error(struct http_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void km_error(struct http_reply *r, int status, const char *fmt, ...)
{
	char msg[KM_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ascii_only(msg);
	json_t *o = json_pack("{s:s}", "message", msg);
	http_reply_json_owned(r, status, o ? json_dumps(o, JSON_COMPACT) : NULL);
	json_decref(o);
}

static void km_reply(struct http_reply *r, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!text)
		km_error(r, 500, "out of memory");
	else
		http_reply_json_owned(r, 200, text);
	json_decref(o);
}

/* ---- the token -------------------------------------------------------- */

static void token_digest(const char *t, size_t n, uint8_t out[32])
{
	unsigned len = 32;
	(void)EVP_Digest(t, n, out, &len, EVP_sha256(), NULL);
}

/* A new token file: 256 random bits, hex, 0600, never overwriting. */
static int token_create(const char *path, struct err *e)
{
	uint8_t raw[KM_TOKEN_BYTES];
	char hex[2 + 2 * KM_TOKEN_BYTES + 2];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return err_set(e, ERR_CRYPTO, "no randomness for the token");
	hex_encode(raw, sizeof(raw), hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	size_t n = strlen(hex);
	hex[n] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = 0;
	if (fd < 0) {
		rc = err_set(e, ERR_IO, "--key-manager-api-token-file: cannot "
			     "create %s: %s", path, strerror(errno));
	} else {
		/* without "0x": the token is what clients send */
		ssize_t w = write(fd, hex + 2, n - 1);
		if (w != (ssize_t)(n - 1) || fsync(fd) != 0)
			rc = err_set(e, ERR_IO, "--key-manager-api-token-file: "
				     "cannot write %s", path);
		close(fd);
		if (rc < 0)
			(void)unlink(path);
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

/* Reads the token (at least 64 hex digits, per the API's token-file). */
static int token_load(struct signer *s, const char *path, struct err *e)
{
	struct secret *t = NULL;
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return err_set(e, ERR_IO, "--key-manager-api-token-file: "
				       "%s: %s", path, strerror(errno));
		TRY(token_create(path, e));
		log_info("keymanager API: new bearer token written to %s", path);
	} else if (st.st_mode & 022) {
		/* whoever may write it chooses the token */
		return err_set(e, ERR_USAGE, "--key-manager-api-token-file: %s is "
			       "writable by others (mode %o): chmod 600 it", path,
			       (unsigned)(st.st_mode & 0777));
	} else if (st.st_mode & 077) {
		log_warn("keymanager API: token file %s is readable by others "
			 "(mode %o); chmod 600 it", path, st.st_mode & 0777);
	}
	if (secret_read_file(path, &t, e) < 0)
		return err_prefix(e, "--key-manager-api-token-file: ");
	size_t n = t->len;
	bool hex = n >= 2 * KM_TOKEN_BYTES;
	for (size_t i = 0; i < n && hex; i++) {
		char c = (char)t->bytes[i];
		hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F');
	}
	if (hex)
		token_digest((const char *)t->bytes, n, s->km_token_hash);
	secret_free(t);
	if (!hex)
		return err_set(e, ERR_USAGE, "--key-manager-api-token-file: %s "
			       "must hold a token of at least %d hex digits "
			       "(256 bits) on its first line", path,
			       2 * KM_TOKEN_BYTES);
	log_info("keymanager API: bearer token from %s", path);
	return 0;
}

int signer_keymanager_setup(struct signer *s, const struct signer_options *o,
			    struct err *e)
{
	pthread_mutex_init(&s->km_lock, NULL);
	if (!o->key_manager_api_enabled)
		return 0;
	if (o->key_manager_token) {
		if (!o->key_manager_remove || !o->key_manager_store)
			return err_set(e, ERR_INTERNAL, "keymanager: a token "
				       "without a store for keys");
		token_digest((const char *)o->key_manager_token->bytes,
			     o->key_manager_token->len, s->km_token_hash);
		s->km_enabled = true;
		s->km_remove = o->key_manager_remove;
		s->km_store = o->key_manager_store;
		s->km_ctx = o->key_manager_ctx;
		return 0;
	}
	if (!s->keystores_path || !s->keystores_passwords_path)
		return err_set(e, ERR_USAGE, "--key-manager-api-enabled needs "
			       "--keystores-path and --keystores-passwords-path "
			       "(imported keystores and their passwords are "
			       "stored there)");
	char *def = NULL;
	const char *path = o->key_manager_token_file;
	if (!path) {
		if (asprintf(&def, "%s/.keymanager-api-token",
			     s->keystores_path) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
		path = def;
	}
	int rc = token_load(s, path, e);
	free(def);
	s->km_enabled = rc == 0;
	return rc;
}

/* 401 without a bearer token, 403 with another one; true: go on. */
static bool km_authorised(const struct signer *s, const struct http_req *req,
			  struct http_reply *r)
{
	const char *h = req->authorization;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		km_error(r, 401, "missing bearer token (Authorization: Bearer "
			 "<token of --key-manager-api-token-file>)");
		return false;
	}
	const char *t = h + 7;
	while (*t == ' ')
		t++;
	size_t n = strlen(t);
	while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	uint8_t d[32];
	token_digest(t, n, d);
	bool ok = CRYPTO_memcmp(d, s->km_token_hash, 32) == 0;
	OPENSSL_cleanse(d, sizeof(d));
	if (!ok)
		km_error(r, 403, "invalid bearer token");
	return ok;
}

/* ---- shared helpers ---------------------------------------------------- */

/* "0x" + 96 hex digits, either case (the API's Pubkey pattern). */
static int parse_pubkey(json_t *v, uint8_t pk[BLS_PUBKEY_LEN])
{
	const char *str = json_string_value(v);
	if (!str || strlen(str) != 2 + 2 * BLS_PUBKEY_LEN)
		return -ERR_INVALID;
	return hex_decode_exact(str, pk, BLS_PUBKEY_LEN, NULL, "pubkey");
}

static json_t *status_row(const char *status, const char *msg)
{
	char clean[KM_MSG];
	snprintf(clean, sizeof(clean), "%s", msg);
	ascii_only(clean);
	return json_pack("{s:s,s:s}", "status", status, "message", clean);
}

/* An interchange of no validator for this network (nothing to export). */
static char *empty_interchange(const struct signer *s)
{
	char gvr[2 + 64 + 1];
	hex_encode(s->net.genesis_validators_root, 32, gvr);
	json_t *o = json_pack("{s:{s:s,s:s},s:[]}", "metadata",
			      "interchange_format_version", "5",
			      "genesis_validators_root", gvr, "data");
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

/* The registry with `remove` taken out and `add` put in, swapped in. */
static int registry_change(struct signer *s,
			   const uint8_t (*remove)[BLS_PUBKEY_LEN], size_t nrm,
			   const struct key_entry *add, size_t nadd,
			   struct err *e)
{
	struct key_registry *fresh = NULL;
	pthread_rwlock_rdlock(&s->keys_lock);
	int rc = keys_edit(s->keys, remove, nrm, add, nadd, &fresh, e);
	pthread_rwlock_unlock(&s->keys_lock);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&s->keys_lock);
	struct key_registry *old = s->keys;
	s->keys = fresh;
	s->report.keystores_loaded += (int)keys_count(fresh) -
				      (int)keys_count(old);
	pthread_rwlock_unlock(&s->keys_lock);
	keys_free(old);
	return 0;
}

/* The key's entry, copied out under the registry lock: loaded? readonly?
 * and its source file (malloc'd, may be NULL). */
static bool key_lookup(struct signer *s, const uint8_t pk[BLS_PUBKEY_LEN],
		       bool *readonly, char **source)
{
	pthread_rwlock_rdlock(&s->keys_lock);
	const struct key_entry *ent = keys_find_entry(s->keys, pk);
	if (ent) {
		*readonly = ent->readonly;
		if (source)
			*source = ent->source ? strdup(ent->source) : NULL;
	}
	pthread_rwlock_unlock(&s->keys_lock);
	return ent != NULL;
}

/* "<dir>/<base of keystore without .json>.txt": where the loader looks. */
static char *password_path(const struct signer *s, const char *keystore)
{
	const char *slash = strrchr(keystore, '/');
	const char *base = slash ? slash + 1 : keystore;
	size_t blen = strlen(base);
	if (blen > 5 && strcmp(base + blen - 5, ".json") == 0)
		blen -= 5;
	char *p = NULL;
	if (asprintf(&p, "%s/%.*s.txt", s->keystores_passwords_path, (int)blen,
		     base) < 0)
		return NULL;
	return p;
}

/* The request body as JSON, or NULL with r the 400 (413 over the parse
 * budget). */
static json_t *km_parse(const struct http_req *req, struct http_reply *r)
{
	json_t *body = NULL;
	struct err e = {0};
	if (json_parse_bounded((const char *)req->body, req->body_len, "body",
			       KM_PARSE_BUDGET, &body, &e) < 0) {
		km_error(r, e.code == ERR_TOO_LARGE ? 413 : 400, "%s", e.msg);
		return NULL;
	}
	return body;
}

/* ---- GET ------------------------------------------------------------------ */

static void km_list(struct signer *s, struct http_reply *r)
{
	json_t *data = json_array();
	pthread_rwlock_rdlock(&s->keys_lock);
	size_t n = keys_count(s->keys);
	for (size_t i = 0; i < n && data; i++) {
		const struct key_entry *ent = keys_entry_at(s->keys, i);
		char hex[PK_HEX];
		hex_encode(ent->key->pubkey, BLS_PUBKEY_LEN, hex);
		/* the enclave's keys come from records, which its delete
		 * marks inactive: deletable */
		json_t *row = json_pack("{s:s,s:b}", "validating_pubkey", hex,
					"readonly",
					ent->readonly && !s->km_remove);
		if (row && ent->path && *ent->path)
			json_object_set_new(row, "derivation_path",
					    json_string(ent->path));
		json_array_append_new(data, row);
	}
	pthread_rwlock_unlock(&s->keys_lock);
	km_reply(r, data ? json_pack("{s:o}", "data", data) : NULL);
}

/* ---- POST ------------------------------------------------------------------ */

enum item_state { ITEM_ERROR, ITEM_DUPLICATE, ITEM_NEW, ITEM_IMPORTED };

struct item {
	const char *json; /* the keystore text, borrowed from the body */
	size_t len;
	struct secret *password;
	struct keystore_info info;
	struct bls_key *key;
	enum item_state state;
	char msg[KM_MSG];
	char *keystore_file, *password_file;
};

struct import {
	struct signer *s;
	struct item *v;
	size_t n;
};

static void item_fail(struct item *it, size_t i, const struct err *e)
{
	it->state = ITEM_ERROR;
	snprintf(it->msg, sizeof(it->msg), "keystores[%zu]: %s", i, e->msg);
}

static void decrypt_one(void *arg, size_t i)
{
	struct import *im = arg;
	struct item *it = &im->v[i];
	struct err e = {0};
	if (it->state != ITEM_NEW)
		return;
	if (keystore_decrypt(it->json, it->len, it->password, &it->key, &e) < 0)
		item_fail(it, i, &e);
}

/* The body's shape: 400 (r set) unless {"keystores":[str..],
 * "passwords":[str..] of the same length, "slashing_protection": str?}. */
static bool import_shape(json_t *body, json_t **ks, json_t **pw,
			 const char **sp, size_t *splen, struct http_reply *r)
{
	*ks = json_object_get(body, "keystores");
	*pw = json_object_get(body, "passwords");
	json_t *slash = json_object_get(body, "slashing_protection");
	if (!json_is_object(body) || !json_is_array(*ks) || !json_is_array(*pw)) {
		km_error(r, 400, "body: expected {\"keystores\": [..], "
			 "\"passwords\": [..]}");
		return false;
	}
	if (json_array_size(*ks) != json_array_size(*pw)) {
		km_error(r, 400, "keystores and passwords differ in length "
			 "(%zu and %zu)", json_array_size(*ks),
			 json_array_size(*pw));
		return false;
	}
	if (json_array_size(*ks) > KM_MAX_KEYS) {
		km_error(r, 400, "keystores: more than %d in one request",
			 KM_MAX_KEYS);
		return false;
	}
	for (size_t i = 0; i < json_array_size(*ks); i++) {
		const char *what = !json_is_string(json_array_get(*ks, i))
					   ? "keystores" : !json_is_string(
					     json_array_get(*pw, i)) ? "passwords"
					   : NULL;
		if (what) {
			km_error(r, 400, "%s[%zu]: expected a string", what, i);
			return false;
		}
	}
	*sp = NULL;
	*splen = 0;
	if (slash && !json_is_null(slash)) {
		if (!json_is_string(slash)) {
			km_error(r, 400, "slashing_protection: expected a string "
				 "(the EIP-3076 interchange as JSON text)");
			return false;
		}
		*sp = json_string_value(slash);
		*splen = json_string_length(slash);
	}
	return true;
}

/* Two keystores of one pubkey in a request: 400 naming both. */
static bool import_unique(struct import *im, bool decrypted,
			  struct http_reply *r)
{
	for (size_t i = 0; i < im->n; i++) {
		const uint8_t *a = decrypted ? (im->v[i].key ? im->v[i].key->pubkey
						: NULL)
				   : im->v[i].info.has_pubkey ? im->v[i].info.pubkey
							      : NULL;
		for (size_t j = i + 1; a && j < im->n; j++) {
			const uint8_t *b = decrypted
				? (im->v[j].key ? im->v[j].key->pubkey : NULL)
				: im->v[j].info.has_pubkey ? im->v[j].info.pubkey
							   : NULL;
			if (b && memcmp(a, b, BLS_PUBKEY_LEN) == 0) {
				char hex[PK_HEX];
				hex_encode(a, BLS_PUBKEY_LEN, hex);
				km_error(r, 400, "keystores[%zu] and keystores[%zu] "
					 "hold the same key %s", i, j, hex);
				return false;
			}
		}
	}
	return true;
}

/*
 * The slashing_protection: checked whole against this network in a
 * throwaway database (400 on any problem), then the entries of the keys
 * being imported merged into ours. 0, or an error: *status 400 or 500.
 */
static int import_history(struct import *im, const char *sp, size_t splen,
			  int *status, struct err *e)
{
	struct signer *s = im->s;
	const uint8_t *gvr = s->net.has_genesis_validators_root
				     ? s->net.genesis_validators_root : NULL;
	struct slashing_open_opts vol = {.allow_volatile = true};
	struct slashing_db *scratch = NULL;
	json_t *doc = NULL;
	char *mine = NULL;
	int rc;
	*status = 500;
	TRY_OUT(slashing_open("mem:", &vol, &scratch, e));
	rc = slashing_import(scratch, sp, splen, gvr, e);
	if (rc < 0) {
		*status = rc == -ERR_INVALID ? 400 : 500;
		err_prefix(e, "slashing_protection: ");
		goto out;
	}
	if (!s->slashing_enabled) {
		log_warn("keymanager import: slashing protection is off; the "
			 "slashing_protection given is not kept");
		goto out;
	}
	/* valid: keep the entries of the keys being imported */
	TRY_OUT(json_parse_strict(sp, splen, "slashing_protection", &doc, e));
	json_t *data = json_object_get(doc, "data");
	json_t *kept = json_array();
	size_t idx;
	json_t *entry;
	json_array_foreach(data, idx, entry) {
		uint8_t pk[BLS_PUBKEY_LEN];
		if (parse_pubkey(json_object_get(entry, "pubkey"), pk) < 0)
			continue;
		for (size_t i = 0; i < im->n; i++)
			if (im->v[i].state == ITEM_NEW &&
			    memcmp(im->v[i].key->pubkey, pk, BLS_PUBKEY_LEN) == 0) {
				json_array_append(kept, entry);
				break;
			}
	}
	json_object_set_new(doc, "data", kept);
	if (json_array_size(kept) == 0)
		goto out;
	mine = json_dumps(doc, JSON_COMPACT);
	struct slashing_db *db = signer_db(s);
	if (!mine || !db) {
		rc = err_set(e, ERR_UNAVAILABLE, "slashing protection database "
			     "unavailable");
		goto out;
	}
	rc = slashing_import(db, mine, strlen(mine), gvr, e);
	if (rc == -ERR_INVALID)
		*status = 400;
	if (rc < 0)
		err_prefix(e, "slashing_protection: ");
out:
	free(mine);
	json_decref(doc);
	slashing_close(scratch);
	return rc;
}

/* Password, then keystore, each atomically and 0600; on failure neither. */
static int store_files(struct signer *s, struct item *it, struct err *e)
{
	char hex[PK_HEX];
	hex_encode(it->key->pubkey, BLS_PUBKEY_LEN, hex);
	if (asprintf(&it->keystore_file, "%s/keymanager-%s.json",
		     s->keystores_path, hex) < 0) {
		it->keystore_file = NULL;
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	it->password_file = password_path(s, it->keystore_file);
	struct secret *line = it->password_file
		? secret_new(it->password->len + 1) : NULL;
	if (!line)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(line->bytes, it->password->bytes, it->password->len);
	line->bytes[it->password->len] = '\n';
	int rc = file_write_atomic(it->password_file, line->bytes, line->len,
				   0600, e);
	secret_free(line);
	if (rc == 0)
		rc = file_write_atomic(it->keystore_file, it->json, it->len,
				       0600, e);
	if (rc < 0)
		(void)unlink(it->password_file);
	return rc;
}

static void import_store(struct import *im)
{
	struct signer *s = im->s;
	struct slashing_db *db = s->slashing_enabled ? signer_db(s) : NULL;
	for (size_t i = 0; i < im->n; i++) {
		struct item *it = &im->v[i];
		struct err e = {0};
		if (it->state != ITEM_NEW)
			continue;
		/* Stored first, enabled second: a failed store leaves the
		 * validator as it was (disabled after a delete, for every
		 * instance sharing the database), and a failed enable takes
		 * the stored key back. */
		if (s->km_store ? s->km_store(s->km_ctx, it->key, s->net.name,
					      &e) < 0
				: store_files(s, it, &e) < 0) {
			item_fail(it, i, &e);
			continue;
		}
		if (s->slashing_enabled &&
		    (!db || slashing_set_validator_enabled(db, it->key->pubkey,
							   true, &e) < 0)) {
			if (!db)
				err_set(&e, ERR_UNAVAILABLE, "slashing protection "
					"database unavailable");
			struct err ue = {0};
			if (s->km_remove)
				(void)s->km_remove(s->km_ctx, it->key->pubkey, &ue);
			else {
				(void)unlink(it->keystore_file);
				(void)unlink(it->password_file);
			}
			item_fail(it, i, &e);
			continue;
		}
		it->state = ITEM_IMPORTED;
	}
}

/* Where an imported key is, for the registry: its keystore file, or its
 * record (the enclave's). */
static const char *s_source(const struct signer *s, const struct item *it)
{
	return s->km_store ? "kms" : it->keystore_file;
}

/* The imported keys into the registry; on failure their files go again. */
static void import_load(struct import *im)
{
	size_t n = 0;
	struct key_entry *add = calloc(im->n ? im->n : 1, sizeof(*add));
	for (size_t i = 0; add && i < im->n; i++) {
		struct item *it = &im->v[i];
		if (it->state != ITEM_IMPORTED)
			continue;
		add[n].key = it->key;
		add[n].readonly = false;
		add[n].path = it->info.has_path ? it->info.path : NULL;
		add[n].source = s_source(im->s, it);
		n++;
	}
	struct err e = {0};
	int rc = add ? registry_change(im->s, NULL, 0, add, n, &e)
		     : err_set(&e, ERR_NOMEM, "out of memory");
	free(add);
	for (size_t i = 0; i < im->n; i++) {
		struct item *it = &im->v[i];
		if (it->state != ITEM_IMPORTED)
			continue;
		char hex[PK_HEX];
		hex_encode(it->key->pubkey, BLS_PUBKEY_LEN, hex);
		if (rc < 0) {
			if (it->keystore_file)
				(void)unlink(it->keystore_file);
			if (it->password_file)
				(void)unlink(it->password_file);
			item_fail(it, i, &e);
		} else {
			log_info("keymanager: imported %s", hex);
			size_t slot = im->s->km_recent_next++ %
				      (sizeof(im->s->km_recent) / sizeof(im->s->km_recent[0]));
			memcpy(im->s->km_recent[slot].pk, it->key->pubkey, BLS_PUBKEY_LEN);
			im->s->km_recent[slot].at_us = clock_mono_us();
		}
	}
}

static json_t *import_result(const struct import *im)
{
	json_t *data = json_array();
	for (size_t i = 0; data && i < im->n; i++) {
		const struct item *it = &im->v[i];
		json_array_append_new(data,
			it->state == ITEM_IMPORTED ? status_row("imported", "")
			: it->state == ITEM_DUPLICATE ? status_row("duplicate", "")
			: status_row("error", it->msg));
	}
	return data ? json_pack("{s:o}", "data", data) : NULL;
}

/* Everything of the request up to the writes: parse, inspect, decrypt,
 * find duplicates. false: r is the 400. */
static bool import_prepare(struct import *im, json_t *ks, json_t *pw,
			   struct http_reply *r)
{
	for (size_t i = 0; i < im->n; i++) {
		struct item *it = &im->v[i];
		struct err e = {0};
		json_t *p = json_array_get(pw, i);
		it->json = json_string_value(json_array_get(ks, i));
		it->len = json_string_length(json_array_get(ks, i));
		it->state = ITEM_NEW;
		it->password = secret_from(json_string_value(p),
					   json_string_length(p));
		if (!it->password)
			err_set(&e, ERR_NOMEM, "out of secure memory");
		else if (strlen(it->json) != it->len)
			err_set(&e, ERR_INVALID, "contains a NUL byte");
		else
			(void)keystore_inspect(it->json, it->len, &it->info, &e);
		if (e.code)
			item_fail(it, i, &e);
	}
	if (!import_unique(im, false, r))
		return false;
	parallel_for(im->n, 0, decrypt_one, im);
	if (!import_unique(im, true, r))
		return false;
	for (size_t i = 0; i < im->n; i++) {
		struct item *it = &im->v[i];
		bool ro;
		if (it->state == ITEM_NEW &&
		    key_lookup(im->s, it->key->pubkey, &ro, NULL))
			it->state = ITEM_DUPLICATE;
	}
	return true;
}

static void import_free(struct import *im)
{
	for (size_t i = 0; i < im->n; i++) {
		secret_free(im->v[i].password);
		bls_key_free(im->v[i].key);
		free(im->v[i].keystore_file);
		free(im->v[i].password_file);
	}
	free(im->v);
}

/* Wipes the passwords jansson holds (the request body is wiped by the
 * caller). */
static void wipe_strings(json_t *a)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		OPENSSL_cleanse((char *)json_string_value(v),
				json_string_length(v));
}

static void km_import(const struct http_req *req, struct http_reply *r,
		      void *ctx)
{
	struct signer *s = ctx;
	struct import im = {.s = s};
	json_t *body = NULL, *ks, *pw = NULL;
	const char *sp;
	size_t splen;
	struct err e = {0};
	pthread_mutex_lock(&s->km_lock);
	if (!(body = km_parse(req, r)))
		goto out;
	if (!import_shape(body, &ks, &pw, &sp, &splen, r))
		goto out;
	im.n = json_array_size(ks);
	im.v = calloc(im.n ? im.n : 1, sizeof(*im.v));
	if (!im.v) {
		km_error(r, 500, "out of memory");
		goto out;
	}
	if (!import_prepare(&im, ks, pw, r))
		goto out;
	if (sp) {
		int status;
		if (import_history(&im, sp, splen, &status, &e) < 0) {
			km_error(r, status, "%s", e.msg);
			goto out;
		}
	}
	import_store(&im);
	import_load(&im);
	km_reply(r, import_result(&im));
out:
	pthread_mutex_unlock(&s->km_lock);
	if (pw)
		wipe_strings(pw);
	json_decref(body);
	import_free(&im);
	OPENSSL_cleanse(req->body, req->body_len);
	signer_count_status(s, r->status);
}

/* ---- DELETE ---------------------------------------------------------------- */

enum del_state { DEL_NOT_FOUND, DEL_DELETED, DEL_NOT_ACTIVE, DEL_ERROR,
		 DEL_LOADED, DEL_ABSENT };

struct del_item {
	uint8_t pk[BLS_PUBKEY_LEN];
	enum del_state state;
	char *source;
	char msg[KM_MSG];
};

/* Which requested keys have history in the export text. */
static void mark_history(struct del_item *v, size_t n, const char *json)
{
	json_t *doc = json_loads(json, 0, NULL);
	size_t idx;
	json_t *entry;
	json_array_foreach(json_object_get(doc, "data"), idx, entry) {
		uint8_t pk[BLS_PUBKEY_LEN];
		if (parse_pubkey(json_object_get(entry, "pubkey"), pk) < 0)
			continue;
		for (size_t i = 0; i < n; i++)
			if (v[i].state == DEL_ABSENT &&
			    memcmp(v[i].pk, pk, BLS_PUBKEY_LEN) == 0)
				v[i].state = DEL_NOT_ACTIVE;
	}
	json_decref(doc);
}

/* Disables the loaded keys in the database; a failure keeps the key. */
static void delete_disable(struct del_item *v, size_t n,
			   struct slashing_db *db, enum del_state which)
{
	for (size_t i = 0; i < n; i++) {
		struct err e = {0};
		if (v[i].state != which)
			continue;
		if (db && slashing_set_validator_enabled(db, v[i].pk, false,
							 &e) < 0) {
			v[i].state = DEL_ERROR;
			snprintf(v[i].msg, sizeof(v[i].msg), "pubkeys[%zu]: "
				 "could not be disabled in the slashing "
				 "protection database%s: %s", i,
				 which == DEL_LOADED ? " (still loaded)" : "",
				 e.msg);
		} else if (which == DEL_LOADED) {
			v[i].state = DEL_DELETED;
		}
	}
}

/* The enclave's: each disabled key's record marked inactive (so no init or
 * reload loads it again); a key whose record stays is not unloaded. A key
 * not loaded here at the moment (not_active: another instance's, or one a
 * reload has not brought yet) gets the same, when it has a record of its
 * own, so that the delete is whole whichever instance answers it. */
static void delete_records(struct signer *s, struct del_item *v, size_t n,
			   enum del_state which)
{
	for (size_t i = 0; s->km_remove && i < n; i++) {
		struct err e = {0};
		if (v[i].state != which)
			continue;
		int rc = s->km_remove(s->km_ctx, v[i].pk, &e);
		if (rc == 0 || (which == DEL_NOT_ACTIVE && rc == -ERR_NOT_FOUND))
			continue;
		v[i].state = DEL_ERROR;
		snprintf(v[i].msg, sizeof(v[i].msg), "pubkeys[%zu]: disabled in "
			 "the slashing protection database%s: its record: %.300s",
			 i, which == DEL_DELETED ? ", still loaded" : "", e.msg);
	}
}

/* The enclave's: a key neither loaded here nor with history may still have
 * a record of its own (imported through another instance, never signed):
 * the record is marked inactive, then the validator disabled, and it is
 * reported not_active. A key without a record stays not_found. */
static void delete_absent_records(struct signer *s, struct del_item *v,
				  size_t n, struct slashing_db *db)
{
	for (size_t i = 0; s->km_remove && i < n; i++) {
		struct err e = {0};
		if (v[i].state != DEL_ABSENT)
			continue;
		int rc = s->km_remove(s->km_ctx, v[i].pk, &e);
		if (rc == -ERR_NOT_FOUND)
			continue;
		if (rc == 0 && (!db || slashing_set_validator_enabled(db, v[i].pk,
								       false, &e) == 0)) {
			v[i].state = DEL_NOT_ACTIVE;
			continue;
		}
		v[i].state = DEL_ERROR;
		snprintf(v[i].msg, sizeof(v[i].msg), "pubkeys[%zu]: %s: %.300s", i,
			 rc == 0 ? "its record is inactive, but it could not be "
				   "disabled in the slashing protection database"
				 : "its record", e.msg);
	}
}

/* Out of the registry, then off the disk. */
static void delete_unload(struct signer *s, struct del_item *v, size_t n)
{
	uint8_t (*rm)[BLS_PUBKEY_LEN] = calloc(n ? n : 1, sizeof(*rm));
	size_t nrm = 0;
	for (size_t i = 0; rm && i < n; i++)
		if (v[i].state == DEL_DELETED)
			memcpy(rm[nrm++], v[i].pk, BLS_PUBKEY_LEN);
	struct err e = {0};
	int rc = rm ? registry_change(s, (const uint8_t(*)[BLS_PUBKEY_LEN])rm,
				      nrm, NULL, 0, &e)
		    : err_set(&e, ERR_NOMEM, "out of memory");
	free(rm);
	for (size_t i = 0; i < n; i++) {
		if (v[i].state != DEL_DELETED)
			continue;
		char hex[PK_HEX];
		hex_encode(v[i].pk, BLS_PUBKEY_LEN, hex);
		if (rc < 0) {
			/* disabled in the database, so it signs nothing
			 * slashable; still, say it is not gone */
			v[i].state = DEL_ERROR;
			snprintf(v[i].msg, sizeof(v[i].msg), "pubkeys[%zu]: "
				 "disabled but not unloaded: %s", i, e.msg);
			continue;
		}
		log_info("keymanager: deleted %s", hex);
		for (size_t j = 0; j < sizeof(s->km_recent) / sizeof(s->km_recent[0]); j++)
			if (memcmp(s->km_recent[j].pk, v[i].pk, BLS_PUBKEY_LEN) == 0)
				s->km_recent[j].at_us = 0;
		if (s->km_remove)
			continue; /* its record is inactive: no files */
		char *pwf = v[i].source ? password_path(s, v[i].source) : NULL;
		if (v[i].source && unlink(v[i].source) != 0 && errno != ENOENT)
			log_error("keymanager: %s deleted, but its keystore %s "
				  "could not be removed: %s", hex, v[i].source,
				  strerror(errno));
		if (pwf && unlink(pwf) != 0 && errno != ENOENT)
			log_error("keymanager: %s deleted, but its password file "
				  "%s could not be removed: %s", hex, pwf,
				  strerror(errno));
		free(pwf);
	}
}

static const char *del_status(enum del_state st)
{
	switch (st) {
	case DEL_DELETED: return "deleted";
	case DEL_NOT_ACTIVE: return "not_active";
	case DEL_ERROR: return "error";
	default: return "not_found";
	}
}

/* The parsed pubkeys, or false with r the 400. */
static bool delete_shape(json_t *body, struct del_item **out, size_t *nout,
			 struct http_reply *r)
{
	json_t *a = json_object_get(body, "pubkeys");
	if (!json_is_object(body) || !json_is_array(a)) {
		km_error(r, 400, "body: expected {\"pubkeys\": [..]}");
		return false;
	}
	size_t n = json_array_size(a);
	if (n > KM_MAX_KEYS) {
		km_error(r, 400, "pubkeys: more than %d in one request",
			 KM_MAX_KEYS);
		return false;
	}
	struct del_item *v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		km_error(r, 500, "out of memory");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (parse_pubkey(json_array_get(a, i), v[i].pk) < 0) {
			km_error(r, 400, "pubkeys[%zu]: expected 0x and 96 hex "
				 "digits (a 48-byte BLS public key)", i);
			free(v);
			return false;
		}
	}
	*out = v;
	*nout = n;
	return true;
}

/* The loaded keys' state and source; read-only keys are errors. */
static void delete_classify(struct signer *s, struct del_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool ro = false;
		v[i].state = DEL_ABSENT;
		if (!key_lookup(s, v[i].pk, &ro, &v[i].source))
			continue;
		if (ro && !s->km_remove) {
			v[i].state = DEL_ERROR;
			snprintf(v[i].msg, sizeof(v[i].msg), "pubkeys[%zu]: a "
				 "read-only key (from --key-store-path) cannot "
				 "be deleted through the API", i);
		} else {
			v[i].state = DEL_LOADED;
		}
	}
}

/* The history of the deleted and not_active keys (after the disable). */
static int delete_export(struct signer *s, struct slashing_db *db,
			 struct del_item *v, size_t n, char **out,
			 struct err *e)
{
	uint8_t (*pks)[BLS_PUBKEY_LEN] = calloc(n ? n : 1, sizeof(*pks));
	size_t np = 0;
	int rc = 0;
	if (!pks)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (v[i].state == DEL_DELETED || v[i].state == DEL_NOT_ACTIVE)
			memcpy(pks[np++], v[i].pk, BLS_PUBKEY_LEN);
	*out = NULL;
	if (db && np)
		rc = slashing_export(db, (const uint8_t(*)[48])pks, np, out, e);
	free(pks);
	if (rc == -ERR_NOT_FOUND || (rc == 0 && !*out)) {
		rc = 0;
		if (!(*out = empty_interchange(s)))
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	return rc;
}

/* Which of the keys not loaded here have history (not_active). */
static int delete_find_history(struct signer *s, struct slashing_db *db,
			       struct del_item *v, size_t n, struct err *e)
{
	char *probe = NULL;
	for (size_t i = 0; i < n; i++)
		if (v[i].state == DEL_ABSENT)
			v[i].state = DEL_NOT_ACTIVE; /* in the export below */
	int rc = delete_export(s, db, v, n, &probe, e);
	for (size_t i = 0; i < n; i++)
		if (v[i].state == DEL_NOT_ACTIVE)
			v[i].state = DEL_ABSENT;
	if (rc == 0)
		mark_history(v, n, probe);
	free(probe);
	return rc;
}

static void km_delete(const struct http_req *req, struct http_reply *r,
		      void *ctx)
{
	struct signer *s = ctx;
	json_t *body = NULL;
	struct del_item *v = NULL;
	size_t n = 0;
	char *history = NULL;
	struct err e = {0};
	pthread_mutex_lock(&s->km_lock);
	if (!(body = km_parse(req, r)))
		goto out;
	if (!delete_shape(body, &v, &n, r))
		goto out;
	delete_classify(s, v, n);
	struct slashing_db *db = NULL;
	if (s->slashing_enabled && !(db = signer_db(s))) {
		km_error(r, 500, "slashing protection database unavailable: "
			 "nothing deleted");
		goto out;
	}
	/* 1. no more signatures: disabled, then unloaded; 2. the keys not
	 * loaded here but with history are disabled too (not_active); 3.
	 * the history, final once they are disabled */
	delete_disable(v, n, db, DEL_LOADED);
	delete_records(s, v, n, DEL_DELETED);
	delete_unload(s, v, n);
	if (delete_find_history(s, db, v, n, &e) == 0) {
		delete_disable(v, n, db, DEL_NOT_ACTIVE);
		delete_records(s, v, n, DEL_NOT_ACTIVE);
		delete_absent_records(s, v, n, db);
		if (delete_export(s, db, v, n, &history, &e) < 0) {
			free(history);
			history = NULL;
		}
	}
	if (!history) {
		km_error(r, 500, "slashing protection export failed (the keys "
			 "are disabled; repeat the request): %s", e.msg);
		goto out;
	}
	json_t *data = json_array();
	for (size_t i = 0; data && i < n; i++)
		json_array_append_new(data, status_row(del_status(v[i].state),
						       v[i].msg));
	km_reply(r, data ? json_pack("{s:o,s:s}", "data", data,
				     "slashing_protection", history) : NULL);
out:
	pthread_mutex_unlock(&s->km_lock);
	for (size_t i = 0; v && i < n; i++)
		free(v[i].source);
	free(v);
	free(history);
	json_decref(body);
	signer_count_status(s, r->status);
}

size_t signer_keymanager_recent(struct signer *s, uint64_t within_us,
				uint8_t (*out)[BLS_PUBKEY_LEN], size_t cap)
{
	uint64_t now = clock_mono_us();
	size_t n = 0;
	for (size_t j = 0; j < sizeof(s->km_recent) / sizeof(s->km_recent[0]) &&
			   n < cap; j++)
		if (s->km_recent[j].at_us && now - s->km_recent[j].at_us < within_us)
			memcpy(out[n++], s->km_recent[j].pk, BLS_PUBKEY_LEN);
	return n;
}

void signer_keys_lock(struct signer *s)
{
	pthread_mutex_lock(&s->km_lock);
}

void signer_keys_unlock(struct signer *s)
{
	pthread_mutex_unlock(&s->km_lock);
}

/* ---- the route ------------------------------------------------------------- */

void signer_route_keystores(struct signer *s, const struct http_req *req,
			    struct http_reply *r)
{
	if (!km_authorised(s, req, r))
		return;
	if (req->method == HTTP_POST)
		http_reply_defer(r, km_import, s);
	else if (req->method == HTTP_DELETE)
		http_reply_defer(r, km_delete, s);
	else
		km_list(s, r);
}
