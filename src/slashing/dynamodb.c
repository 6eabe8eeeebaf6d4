/*
 * dynamodb.c: the DynamoDB backend (dynamodb://TABLE?region=R&endpoint=URL),
 * slashing protection shared by every signer behind a load balancer.
 *
 * Layout (docs/slashing.md, "DynamoDB"): a table serves one chain, as a
 * SQLite file does: one item pk = "meta#v1" holds the genesis validators
 * root the table is bound to (by its first record or import) and the high
 * watermark, and one item per validator, pk = "val#<pubkey hex>", its
 * newest block and newest vote (EIP-3076's minimal conditions, the rules in
 * rules.c, slashing_rule_min_*), its enabled flag, a version and a MAC.
 *
 * Hot path: one conditional PutItem per allowed message. Each validator's
 * item is cached in memory with the version this process last read or
 * wrote; a message is decided against the cache and the new item written
 * with the condition "ver = the cached version" (or "no item" for a new
 * validator). A failed condition (another signer moved first) re-reads the
 * item with a consistent read and decides again; nothing is reported
 * allowed without a won write. A repeat (allowed without a new record) is
 * confirmed with a consistent read, so a validator disabled elsewhere is
 * refused here too. Validators of one batch are decided in parallel (one
 * AWS client per worker, connections kept alive); messages of one
 * validator in order.
 *
 * Integrity against whoever owns the table: with a MAC key (opts.mac_key)
 * every item carries HMAC-SHA-256 over its meaning, and an item whose MAC
 * fails, that disappeared, or that came back older than what this process
 * last saw, makes this process refuse that validator (503, naming
 * integrity) until a write of a newer valid item (watermark-repair or an
 * import by the operator) replaces it. Versions grow as max(old + 1, now
 * in ms), so an item re-created after a deletion is newer than any copy of
 * it. A valid newer item that is lower than what this process saw (an
 * operator's repair after a deletion) is raised to it in memory.
 *
 * What this backend does not promise (contract in backend.h): a batch is
 * not one transaction across validators, and an import or repair is not
 * one across items; each item changes atomically, a failure leaves the
 * items before it raised (only ever raised), and a message whose write
 * failed is reported failed alone (msg->rc).
 *
 * Trusts: nothing read from the table without its MAC (when keyed); the
 * values are parsed strictly (decimal u64, 64 hex).
 */
#include "backend.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws/aws.h"

#define META_PK "meta#v1"
#define PK_MAX 200
#define WORKERS_MAX 32
#define RACE_ROUNDS 16
#define MAC_LABEL "nitro-signer slashing item v1"

/* ---- the store -------------------------------------------------------- */

struct ventry {
	/* Held while the entry is read, decided or written: batches run on
	 * several threads, and imports and repairs beside them. */
	pthread_mutex_t lock;
	uint8_t pubkey[48];
	bool seen;         /* read or written by this process */
	/* What the table held at the last read or write: the write condition
	 * names exactly that version (its N as read), whatever it said. */
	bool tbl_exists;
	char tbl_ver[24];
	/* The newest valid item this process saw, for the integrity checks */
	bool max_exists;
	uint64_t max_ver;
	struct slashing_minimal max_st;
	/* What decisions use: that item, raised to whatever this process saw
	 * (never lower). */
	struct slashing_minimal st;
	_Atomic bool bad;  /* integrity failure: refused until repaired */
	char why[160];
	struct ventry *next;
};

#define CACHE_BUCKETS 4096

struct ddb {
	char table[256];
	struct aws_client_opts copts;
	char region[64];
	char endpoint[512];
	struct aws_creds_provider *own_creds; /* when opts gave none */
	bool has_mac;
	uint8_t mac_key[32];

	pthread_mutex_t pool_lock;
	struct aws_client *pool[WORKERS_MAX];
	size_t npool;

	pthread_mutex_t cache_lock;
	struct ventry *buckets[CACHE_BUCKETS];

	/* meta: read at open, by health, and before binding; meta_lock
	 * guards these three (batches run on several threads at once) */
	pthread_mutex_t meta_lock;
	struct slashing_meta meta;
	bool meta_exists;
	uint64_t meta_ver;
};

/* ---- AWS clients, one per concurrent worker ------------------------------ */

static struct aws_client *client_get(struct ddb *d, struct err *e)
{
	pthread_mutex_lock(&d->pool_lock);
	struct aws_client *c = d->npool ? d->pool[--d->npool] : NULL;
	pthread_mutex_unlock(&d->pool_lock);
	if (c)
		return c;
	c = aws_client_new(&d->copts, e);
	if (!c)
		err_prefix(e, "slashing protection (DynamoDB): ");
	return c;
}

static void client_put(struct ddb *d, struct aws_client *c)
{
	pthread_mutex_lock(&d->pool_lock);
	if (d->npool < WORKERS_MAX) {
		d->pool[d->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&d->pool_lock);
	aws_client_free(c);
}

/* ---- item encoding --------------------------------------------------- */

#define VAL_PREFIX "val#"

static void pk_of(const uint8_t pubkey[48], char out[PK_MAX])
{
	char p[99];
	hex_encode(pubkey, 48, p); /* "0x..." */
	snprintf(out, PK_MAX, VAL_PREFIX "%s", p + 2);
}

static json_t *key_of(const char *pk)
{
	return json_pack("{s:{s:s}}", "pk", "S", pk);
}

static json_t *num(uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	return json_pack("{s:s}", "N", b);
}

static const char KIND_CH[] = {'-', '?', 'r'}; /* none, unknown, root */

/* "r<64 hex>", "?" or "-": the message at a watermark. */
static json_t *kind_attr(enum slashing_min_kind k, const uint8_t root[32])
{
	char b[2 + 66];
	if (k == SLASHING_MIN_ROOT) {
		char h[67];
		hex_encode(root, 32, h);
		snprintf(b, sizeof(b), "r%s", h + 2);
	} else {
		b[0] = KIND_CH[k];
		b[1] = '\0';
	}
	return json_pack("{s:s}", "S", b);
}

/* The bytes the MAC covers: every field that means something (the fields
 * of an absent block or vote as zeros, whatever the caller left there). */
static void mac_of(const struct ddb *d, const char *pk, uint64_t ver,
		   const struct slashing_minimal *in, uint8_t out[32])
{
	struct slashing_minimal c = *in, *st = &c;
	if (!c.has_block) {
		c.slot = 0;
		c.block_kind = SLASHING_MIN_NONE;
	}
	if (!c.has_att) {
		c.source = c.target = 0;
		c.att_kind = SLASHING_MIN_NONE;
	}
	uint8_t m[512];
	struct buf b;
	buf_init_fixed(&b, m, sizeof(m));
	int rc = buf_append(&b, MAC_LABEL, sizeof(MAC_LABEL));
	rc |= buf_append(&b, pk, strlen(pk) + 1);
	uint8_t f[8 * 4 + 6];
	size_t n = 0;
	for (int i = 7; i >= 0; i--)
		f[n++] = (uint8_t)(ver >> (8 * i));
	f[n++] = st->enabled;
	f[n++] = st->has_block;
	f[n++] = (uint8_t)st->block_kind;
	for (int i = 7; i >= 0; i--)
		f[n++] = (uint8_t)(st->slot >> (8 * i));
	f[n++] = st->has_att;
	f[n++] = (uint8_t)st->att_kind;
	for (int i = 7; i >= 0; i--)
		f[n++] = (uint8_t)(st->source >> (8 * i));
	for (int i = 7; i >= 0; i--)
		f[n++] = (uint8_t)(st->target >> (8 * i));
	rc |= buf_append(&b, f, n);
	static const uint8_t zero[32];
	rc |= buf_append(&b, st->block_kind == SLASHING_MIN_ROOT
				     ? st->block_root : zero, 32);
	rc |= buf_append(&b, st->att_kind == SLASHING_MIN_ROOT
				     ? st->att_root : zero, 32);
	unsigned len = 32;
	if (rc != 0 ||
	    !HMAC(EVP_sha256(), d->mac_key, 32, m, b.len, out, &len))
		memset(out, 0, 32); /* never matches a real MAC by chance */
}

static json_t *item_of(const struct ddb *d, const char *pk, uint64_t ver,
		       const struct slashing_minimal *st)
{
	json_t *it = json_pack("{s:{s:s},s:o,s:{s:b}}", "pk", "S", pk, "ver",
			       num(ver), "en", "BOOL", st->enabled);
	if (!it)
		return NULL;
	int bad = 0;
	if (st->has_block) {
		bad |= json_object_set_new(it, "bs", num(st->slot));
		bad |= json_object_set_new(it, "bk",
					   kind_attr(st->block_kind, st->block_root));
	}
	if (st->has_att) {
		bad |= json_object_set_new(it, "as", num(st->source));
		bad |= json_object_set_new(it, "at", num(st->target));
		bad |= json_object_set_new(it, "ak",
					   kind_attr(st->att_kind, st->att_root));
	}
	if (d->has_mac) {
		uint8_t mac[32];
		char h[67];
		mac_of(d, pk, ver, st, mac);
		hex_encode(mac, 32, h);
		bad |= json_object_set_new(it, "mac",
					   json_pack("{s:s}", "S", h + 2));
	}
	if (bad) {
		json_decref(it);
		return NULL;
	}
	return it;
}

/* Bare hex (no 0x) of exactly len bytes: len, or -1. */
static int unhex(const char *s, uint8_t *out, size_t len)
{
	char b[2 + 2 * 64 + 1];
	if (strlen(s) != 2 * len || len > 64)
		return -1;
	b[0] = '0';
	b[1] = 'x';
	memcpy(b + 2, s, 2 * len + 1);
	return hex_decode_exact(b, out, len, NULL, "") == 0 ? (int)len : -1;
}

/* Versions are milliseconds, far below 2^53; a larger one is malformed
 * (and next_ver can never wrap). */
#define VER_MAX (1ull << 53)

static int attr_u64(const json_t *it, const char *name, uint64_t *out)
{
	const char *s = json_string_value(json_object_get(json_object_get(it, name), "N"));
	return s ? dec_parse_u64(s, out, NULL, "") : -1;
}

static int attr_kind(const json_t *it, const char *name,
		     enum slashing_min_kind *k, uint8_t root[32])
{
	const char *s = json_string_value(json_object_get(json_object_get(it, name), "S"));
	memset(root, 0, 32);
	if (!s)
		return -1;
	if (strcmp(s, "-") == 0)
		*k = SLASHING_MIN_NONE;
	else if (strcmp(s, "?") == 0)
		*k = SLASHING_MIN_UNKNOWN;
	else if (s[0] == 'r' && strlen(s) == 65 && unhex(s + 1, root, 32) == 32)
		*k = SLASHING_MIN_ROOT;
	else
		return -1;
	return 0;
}

/* An item read back: -ERR_INVALID naming what is wrong with it (the caller
 * turns that into an integrity failure). */
static int item_parse(const struct ddb *d, const char *pk, const json_t *it,
		      uint64_t *ver, struct slashing_minimal *st,
		      struct err *e)
{
	memset(st, 0, sizeof(*st));
	const json_t *en = json_object_get(json_object_get(it, "en"), "BOOL");
	if (attr_u64(it, "ver", ver) < 0 || *ver > VER_MAX ||
	    !json_is_boolean(en))
		return err_set(e, ERR_INVALID, "malformed item (ver, en)");
	st->known = true;
	st->enabled = json_is_true(en);
	if (json_object_get(it, "bs")) {
		st->has_block = true;
		if (attr_u64(it, "bs", &st->slot) < 0 ||
		    attr_kind(it, "bk", &st->block_kind, st->block_root) < 0)
			return err_set(e, ERR_INVALID, "malformed item (block)");
	}
	if (json_object_get(it, "at")) {
		st->has_att = true;
		if (attr_u64(it, "as", &st->source) < 0 ||
		    attr_u64(it, "at", &st->target) < 0 ||
		    attr_kind(it, "ak", &st->att_kind, st->att_root) < 0)
			return err_set(e, ERR_INVALID, "malformed item (vote)");
	}
	if (!d->has_mac)
		return 0;
	const char *mh = json_string_value(json_object_get(json_object_get(it, "mac"), "S"));
	uint8_t got[32], want[32];
	if (!mh || strlen(mh) != 64 || unhex(mh, got, 32) != 32)
		return err_set(e, ERR_INVALID, "item has no MAC");
	mac_of(d, pk, *ver, st, want);
	if (CRYPTO_memcmp(got, want, 32) != 0)
		return err_set(e, ERR_INVALID, "item's MAC does not match");
	return 0;
}

/* Versions grow with time too, so an item re-created after a deletion is
 * newer than every copy of the one deleted. */
static uint64_t next_ver(uint64_t old)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return ms > old ? ms : old + 1;
}

/* ---- the meta item --------------------------------------------------- */

static void meta_mac(const struct ddb *d, uint64_t ver,
		     const struct slashing_meta *m, uint8_t out[32])
{
	/* The meta item's meaning in the block fields of a minimal state:
	 * slot = hw slot, target = hw epoch, block root = the gvr. */
	struct slashing_minimal st = {.known = true, .enabled = m->has_gvr,
				      .has_block = m->hw.has_slot,
				      .slot = m->hw.slot,
				      .block_kind = SLASHING_MIN_ROOT,
				      .has_att = m->hw.has_epoch,
				      .target = m->hw.epoch};
	memcpy(st.block_root, m->gvr, 32);
	mac_of(d, META_PK, ver, &st, out);
}

static json_t *meta_item(const struct ddb *d, uint64_t ver,
			 const struct slashing_meta *m)
{
	json_t *it = json_pack("{s:{s:s},s:o}", "pk", "S", META_PK, "ver",
			       num(ver));
	if (!it)
		return NULL;
	int bad = 0;
	if (m->has_gvr) {
		char h[67];
		hex_encode(m->gvr, 32, h);
		bad |= json_object_set_new(it, "gvr", json_pack("{s:s}", "S", h + 2));
	}
	if (m->hw.has_slot)
		bad |= json_object_set_new(it, "hws", num(m->hw.slot));
	if (m->hw.has_epoch)
		bad |= json_object_set_new(it, "hwe", num(m->hw.epoch));
	if (d->has_mac) {
		uint8_t mac[32];
		char h[67];
		meta_mac(d, ver, m, mac);
		hex_encode(mac, 32, h);
		bad |= json_object_set_new(it, "mac", json_pack("{s:s}", "S", h + 2));
	}
	if (bad) {
		json_decref(it);
		return NULL;
	}
	return it;
}

/* The meta item's fields: 0, -1 (malformed) or -2 (its MAC fails). */
static int meta_parse(const struct ddb *d, const json_t *it,
		      struct slashing_meta *m, uint64_t *ver)
{
	memset(m, 0, sizeof(*m));
	const char *g = json_string_value(json_object_get(json_object_get(it, "gvr"), "S"));
	if (attr_u64(it, "ver", ver) < 0)
		return -1;
	if (json_object_get(it, "gvr")) {
		m->has_gvr = true;
		if (!g || unhex(g, m->gvr, 32) != 32)
			return -1;
	}
	if (json_object_get(it, "hws")) {
		m->hw.has_slot = true;
		if (attr_u64(it, "hws", &m->hw.slot) < 0)
			return -1;
	}
	if (json_object_get(it, "hwe")) {
		m->hw.has_epoch = true;
		if (attr_u64(it, "hwe", &m->hw.epoch) < 0)
			return -1;
	}
	if (!d->has_mac)
		return 0;
	const char *mh = json_string_value(json_object_get(json_object_get(it, "mac"), "S"));
	uint8_t got[32], want[32];
	meta_mac(d, *ver, m, want);
	if (!mh || unhex(mh, got, 32) != 32 || CRYPTO_memcmp(got, want, 32) != 0)
		return -2;
	return 0;
}

static int meta_read(struct ddb *d, struct aws_client *c, struct err *e)
{
	json_t *key = key_of(META_PK), *it = NULL;
	if (!key)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = aws_ddb_get_item(c, d->table, key, true, &it, e);
	json_decref(key);
	if (rc < 0) {
		if (rc == -ERR_NOT_FOUND || rc == -ERR_INVALID) {
			if (e)
				e->code = ERR_UNAVAILABLE;
			return -ERR_UNAVAILABLE;
		}
		return rc;
	}
	struct slashing_meta m = {0};
	uint64_t ver = 0;
	bool exists = it != NULL;
	if (exists) {
		rc = meta_parse(d, it, &m, &ver);
		json_decref(it);
		if (rc < 0)
			return err_set(e, ERR_UNAVAILABLE,
				       "slashing protection integrity: table %s: "
				       "the meta item is %s", d->table,
				       rc == -2 ? "not signed by our MAC key"
						: "malformed");
	}
	if (d->meta_exists && (!exists || ver < d->meta_ver))
		return err_set(e, ERR_UNAVAILABLE,
			       "slashing protection integrity: table %s: the meta "
			       "item %s", d->table,
			       exists ? "came back older than this process saw it"
				      : "was deleted");
	if (d->meta.has_gvr && (!m.has_gvr || memcmp(m.gvr, d->meta.gvr, 32)))
		return err_set(e, ERR_UNAVAILABLE,
			       "slashing protection integrity: table %s: the meta "
			       "item changed its chain", d->table);
	d->meta = m;
	d->meta_exists = exists;
	d->meta_ver = ver;
	return 0;
}

/* meta_read under meta_lock, and a copy of what it read. */
static int meta_refresh(struct ddb *d, struct aws_client *c,
			struct slashing_meta *out, struct err *e)
{
	pthread_mutex_lock(&d->meta_lock);
	int rc = meta_read(d, c, e);
	if (out)
		*out = d->meta;
	pthread_mutex_unlock(&d->meta_lock);
	return rc;
}

/* A pooled client and the meta item read afresh (its copy in *m when m is
 * given): how every operation but signing begins. NULL (with *rc and e
 * set, nothing held) when either fails. */
static struct aws_client *op_begin(struct ddb *d, struct slashing_meta *m,
				   int *rc, struct err *e)
{
	struct aws_client *c = client_get(d, e);
	if (!c) {
		*rc = -ERR_UNAVAILABLE;
		return NULL;
	}
	*rc = meta_refresh(d, c, m, e);
	if (*rc < 0) {
		client_put(d, c);
		return NULL;
	}
	return c;
}

/* Writes m as the meta item, on the condition that it is still the one we
 * read; -ERR_REFUSED when it moved (read again and decide again). */
static int meta_write(struct ddb *d, struct aws_client *c,
		      const struct slashing_meta *m, struct err *e)
{
	uint64_t ver = next_ver(d->meta_ver);
	json_t *it = meta_item(d, ver, m);
	json_t *vals = d->meta_exists ? json_pack("{s:o}", ":v", num(d->meta_ver)) : NULL;
	if (!it || (d->meta_exists && !vals)) {
		json_decref(it);
		json_decref(vals);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	struct aws_ddb_expr cond = {
		.expr = d->meta_exists ? "ver = :v" : "attribute_not_exists(pk)",
		.values = vals};
	int rc = aws_ddb_put_item(c, d->table, it, &cond, e);
	json_decref(it);
	json_decref(vals);
	if (rc == 0) {
		d->meta = *m;
		d->meta_exists = true;
		d->meta_ver = ver;
	}
	return rc;
}

/* ---- the cache ------------------------------------------------------- */

static size_t bucket_of(const uint8_t pubkey[48])
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 48; i++)
		h = (h ^ pubkey[i]) * 1099511628211ull;
	return (size_t)(h % CACHE_BUCKETS);
}

/* The entry of pubkey, made on first use; NULL without memory. Entries
 * live until close; whoever uses one holds its lock. */
static struct ventry *entry_of(struct ddb *d, const uint8_t pubkey[48])
{
	size_t b = bucket_of(pubkey);
	pthread_mutex_lock(&d->cache_lock);
	struct ventry *v = d->buckets[b];
	while (v && memcmp(v->pubkey, pubkey, 48))
		v = v->next;
	if (!v && (v = calloc(1, sizeof(*v)))) {
		pthread_mutex_init(&v->lock, NULL);
		memcpy(v->pubkey, pubkey, 48);
		v->next = d->buckets[b];
		d->buckets[b] = v;
	}
	pthread_mutex_unlock(&d->cache_lock);
	return v;
}

static void flag_bad(struct ventry *v, const char *why)
{
	if (!v->bad) {
		char pk[99];
		hex_encode(v->pubkey, 48, pk);
		log_error("slashing protection integrity: validator %s refused: "
			  "%s; repair it (eth2 watermark-repair or import)", pk,
			  why);
	}
	v->bad = true;
	snprintf(v->why, sizeof(v->why), "%s", why);
}

/* Whether a and b hold different messages at one height: the same block
 * slot or vote target with other known roots (or another source): two
 * signers signed conflicting messages, after the table was rolled back
 * under one of them. */
static bool forked(const struct slashing_minimal *a,
		   const struct slashing_minimal *b)
{
	if (a->has_block && b->has_block && a->slot == b->slot &&
	    a->block_kind == SLASHING_MIN_ROOT &&
	    b->block_kind == SLASHING_MIN_ROOT &&
	    memcmp(a->block_root, b->block_root, 32) != 0)
		return true;
	return a->has_att && b->has_att && a->target == b->target &&
	       a->att_kind == SLASHING_MIN_ROOT &&
	       b->att_kind == SLASHING_MIN_ROOT &&
	       (a->source != b->source || memcmp(a->att_root, b->att_root, 32));
}

/* The item's version as DynamoDB holds it (its N string), for the write
 * condition; "" when it has none usable. */
static void note_tbl_ver(struct ventry *v, const json_t *it)
{
	const char *s = json_string_value(json_object_get(json_object_get(it, "ver"), "N"));
	v->tbl_ver[0] = '\0';
	if (s && *s && strlen(s) < sizeof(v->tbl_ver) &&
	    strspn(s, "0123456789") == strlen(s))
		snprintf(v->tbl_ver, sizeof(v->tbl_ver), "%s", s);
}

/*
 * Consistent read of v's item into the cache, with the integrity checks
 * against what this process saw before. 0 (v->bad may now be set), or a
 * store error.
 */
static int entry_read(struct ddb *d, struct aws_client *c, struct ventry *v,
		      struct err *e)
{
	char pk[PK_MAX];
	pk_of(v->pubkey, pk);
	json_t *key = key_of(pk), *it = NULL;
	if (!key)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = aws_ddb_get_item(c, d->table, key, true, &it, e);
	json_decref(key);
	if (rc < 0)
		return rc == -ERR_INVALID || rc == -ERR_NOT_FOUND ? -ERR_UNAVAILABLE
								  : rc;
	bool first = !v->seen;
	v->seen = true;
	v->tbl_exists = it != NULL;
	if (!it) {
		v->tbl_ver[0] = '\0';
		if (v->max_exists)
			flag_bad(v, "its item was deleted");
		return 0;
	}
	note_tbl_ver(v, it);
	uint64_t ver;
	struct slashing_minimal st;
	struct err pe = {0};
	rc = item_parse(d, pk, it, &ver, &st, &pe);
	json_decref(it);
	if (rc < 0) {
		flag_bad(v, pe.msg);
		return 0;
	}
	if (v->max_exists && ver < v->max_ver) {
		flag_bad(v, "its item came back older than this signer saw it");
		return 0;
	}
	if (v->max_exists && ver == v->max_ver) {
		if (!slashing_rule_min_equal(&st, &v->max_st))
			flag_bad(v, "its item changed without a new version");
		return 0; /* the item we hold (or still the refused one) */
	}
	/* A valid newer item. */
	if (!first && forked(&st, &v->st)) {
		flag_bad(v, "another signer signed a different message at a "
			    "slot or target this signer signed (the table was "
			    "rolled back under one of them)");
		v->max_exists = true;
		v->max_ver = ver;
		v->max_st = st;
		return 0;
	}
	if (v->bad) {
		char h[99];
		hex_encode(v->pubkey, 48, h);
		log_info("slashing protection: validator %s repaired (item "
			 "version %llu)", h, (unsigned long long)ver);
	}
	v->bad = false;
	v->max_exists = true;
	v->max_ver = ver;
	v->max_st = st;
	/* never below what this process saw (a repair after a deletion may
	 * be: keep the higher watermarks) */
	struct slashing_minimal raised = st;
	if (!first && slashing_rule_min_raise(&raised, &v->st))
		log_warn("slashing protection: an item came back lower than this "
			 "signer saw it; its newer watermarks are kept");
	v->st = raised;
	return 0;
}

/* Writes st as v's item on the condition that the table still holds what
 * it held at the last read or write. -ERR_REFUSED: it moved (read again). */
static int entry_write(struct ddb *d, struct aws_client *c, struct ventry *v,
		       const struct slashing_minimal *st, struct err *e)
{
	char pk[PK_MAX];
	pk_of(v->pubkey, pk);
	uint64_t tbl = 0;
	if (v->tbl_exists && v->tbl_ver[0] &&
	    (dec_parse_u64(v->tbl_ver, &tbl, NULL, "") < 0 || tbl > VER_MAX))
		tbl = VER_MAX; /* a repair over a malformed item */
	uint64_t base = tbl > v->max_ver ? tbl : v->max_ver;
	uint64_t ver = next_ver(base);
	json_t *it = item_of(d, pk, ver, st);
	bool cond_ver = v->tbl_exists && v->tbl_ver[0];
	json_t *vals = cond_ver ? json_pack("{s:{s:s}}", ":v", "N", v->tbl_ver)
				: NULL;
	if (!it || (cond_ver && !vals)) {
		json_decref(it);
		json_decref(vals);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	/* An item with no usable version (malformed: only a repair writes
	 * over it) is replaced as long as it is there. */
	struct aws_ddb_expr cond = {
		.expr = cond_ver ? "ver = :v"
			: v->tbl_exists ? "attribute_exists(pk)"
					: "attribute_not_exists(pk)",
		.values = vals};
	int rc = aws_ddb_put_item(c, d->table, it, &cond, e);
	json_decref(it);
	json_decref(vals);
	if (rc == 0) {
		v->seen = v->tbl_exists = v->max_exists = true;
		snprintf(v->tbl_ver, sizeof(v->tbl_ver), "%llu",
			 (unsigned long long)ver);
		v->max_ver = ver;
		v->max_st = *st;
		v->st = *st;
	} else if (rc == -ERR_INVALID) {
		rc = -ERR_UNAVAILABLE;
	}
	return rc;
}

/* ---- check_batch ------------------------------------------------------ */

/* The messages of one validator, in batch order. */
struct group {
	struct slashing_msg **m;
	size_t n;
};

struct batch {
	struct ddb *d;
	struct group *groups;
};

static void fail_msg(struct slashing_msg *m, int rc, const struct err *e)
{
	m->rc = rc;
	m->err = *e;
}

/* Binds the table to a chain before the first record; a table bound to
 * another chain refuses (the rules say GVR_MISMATCH). */

static int ensure_bound(struct ddb *d, struct aws_client *c,
			const uint8_t gvr[32], struct err *e)
{
	pthread_mutex_lock(&d->meta_lock);
	int rc = 0;
	for (int i = 0; i < RACE_ROUNDS && !d->meta.has_gvr; i++) {
		struct slashing_meta m = d->meta;
		m.has_gvr = true;
		memcpy(m.gvr, gvr, 32);
		rc = meta_write(d, c, &m, e);
		if (rc != -ERR_REFUSED)
			break;
		rc = meta_read(d, c, e);
		if (rc < 0)
			break;
	}
	if (rc == -ERR_REFUSED)
		rc = err_set(e, ERR_UNAVAILABLE, "slashing protection: the meta "
			     "item keeps changing");
	pthread_mutex_unlock(&d->meta_lock);
	return rc;
}

static struct slashing_meta meta_snapshot(struct ddb *d)
{
	pthread_mutex_lock(&d->meta_lock);
	struct slashing_meta m = d->meta;
	pthread_mutex_unlock(&d->meta_lock);
	return m;
}

/* Decides one message against v, writing its record; loops on lost races. */
static int decide_one(struct ddb *d, struct aws_client *c, struct ventry *v,
		      struct slashing_msg *r, struct err *e)
{
	for (int round = 0; round < RACE_ROUNDS; round++) {
		/* (A refused validator is read each time: a repair lifts it;
		 * so is a disabled one: a Keymanager import elsewhere may
		 * have enabled it again.) */
		if (!v->seen || v->bad || round > 0 ||
		    (v->st.known && !v->st.enabled))
			TRY(entry_read(d, c, v, e));
		if (v->bad)
			return err_set(e, ERR_UNAVAILABLE,
				       "slashing protection integrity: %s", v->why);
		struct slashing_meta m = meta_snapshot(d);
		struct slashing_minimal st = v->st;
		bool record;
		r->decision = r->kind == SLASHING_MSG_BLOCK
			? slashing_rule_min_block(&m, &st, r->gvr, r->slot,
						  r->root, &record)
			: slashing_rule_min_att(&m, &st, r->gvr, r->source,
						r->target, r->root, &record);
		if (r->decision != SLASHING_OK)
			return 0; /* the cache only lags: a refusal stands */
		if (!record) {
			/* A repeat: confirmed against the table (disabled
			 * elsewhere, or tampered with, since we read it). */
			if (round == 0 && v->seen) {
				TRY(entry_read(d, c, v, e));
				if (v->bad)
					return err_set(e, ERR_UNAVAILABLE,
						       "slashing protection integrity: %s",
						       v->why);
				m = meta_snapshot(d);
				st = v->st;
				r->decision = r->kind == SLASHING_MSG_BLOCK
					? slashing_rule_min_block(&m, &st, r->gvr,
								  r->slot, r->root,
								  &record)
					: slashing_rule_min_att(&m, &st, r->gvr,
								r->source, r->target,
								r->root, &record);
				if (r->decision != SLASHING_OK || !record)
					return 0;
			} else {
				return 0;
			}
		}
		if (!m.has_gvr) {
			/* The first record binds the table (another signer
			 * may bind it first, to its chain): decide again. */
			TRY(ensure_bound(d, c, r->gvr, e));
			continue;
		}
		int rc = entry_write(d, c, v, &st, e);
		if (rc != -ERR_REFUSED)
			return rc;
		/* another signer moved first: read and decide again */
	}
	return err_set(e, ERR_UNAVAILABLE, "slashing protection: validator's item "
		       "keeps changing under us");
}

static void run_group(void *arg, size_t i)
{
	struct batch *b = arg;
	struct group *g = &b->groups[i];
	struct err e = {0};
	struct aws_client *c = client_get(b->d, &e);
	struct ventry *v = c ? entry_of(b->d, g->m[0]->pubkey) : NULL;
	if (c && !v)
		err_set(&e, ERR_NOMEM, "out of memory");
	if (v)
		pthread_mutex_lock(&v->lock);
	for (size_t k = 0; k < g->n; k++) {
		if (!v) {
			fail_msg(g->m[k], -ERR_UNAVAILABLE, &e);
			continue;
		}
		struct err me = {0};
		int rc = decide_one(b->d, c, v, g->m[k], &me);
		if (rc < 0)
			fail_msg(g->m[k], rc, &me);
	}
	if (v)
		pthread_mutex_unlock(&v->lock);
	if (c)
		client_put(b->d, c);
}

static int ddb_check_batch(void *be, struct slashing_msg **msgs, size_t n,
			   struct err *e)
{
	struct ddb *d = be;
	struct group *groups = calloc(n, sizeof(*groups));
	struct slashing_msg **slots = calloc(n, sizeof(*slots));
	if (!groups || !slots) {
		free(groups);
		free(slots);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	/* Group by validator, keeping batch order inside each: n is at
	 * most the engine's batch size, so quadratic is fine. */
	size_t ng = 0, used = 0;
	for (size_t i = 0; i < n; i++) {
		size_t g;
		for (g = 0; g < ng; g++)
			if (!memcmp(groups[g].m[0]->pubkey, msgs[i]->pubkey, 48))
				break;
		if (g < ng)
			continue;
		groups[ng].m = slots + used;
		for (size_t j = i; j < n; j++)
			if (!memcmp(msgs[j]->pubkey, msgs[i]->pubkey, 48))
				groups[ng].m[groups[ng].n++] = msgs[j];
		used += groups[ng].n;
		ng++;
	}
	struct batch b = {.d = d, .groups = groups};
	parallel_for(ng, ng < WORKERS_MAX ? (int)ng : WORKERS_MAX, run_group, &b);
	free(groups);
	free(slots);
	return 0;
}

/* ---- open / close ------------------------------------------------------ */

/* dynamodb://TABLE?region=R&endpoint=URL */
static int parse_url(const char *where, struct ddb *d, struct err *e)
{
	if (strncmp(where, "//", 2) != 0)
		return err_set(e, ERR_USAGE, "slashing protection: the DynamoDB "
			       "URL is dynamodb://TABLE?region=R[&endpoint=URL]");
	where += 2;
	size_t tl = strcspn(where, "?");
	if (tl == 0 || tl >= sizeof(d->table))
		return err_set(e, ERR_USAGE, "slashing protection: a DynamoDB "
			       "table name of 3..255 characters is required");
	memcpy(d->table, where, tl);
	d->table[tl] = '\0';
	for (size_t i = 0; i < tl; i++) {
		char ch = d->table[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
		      ch == '.') )
			return err_set(e, ERR_USAGE, "slashing protection: table "
				       "name '%s': only A-Z a-z 0-9 _ - .",
				       d->table);
	}
	if (tl < 3)
		return err_set(e, ERR_USAGE, "slashing protection: a DynamoDB "
			       "table name of 3..255 characters is required");
	const char *q = where + tl;
	while (*q) {
		q++; /* '?' or '&' */
		size_t kl = strcspn(q, "=&");
		if (q[kl] != '=')
			return err_set(e, ERR_USAGE, "slashing protection: "
				       "DynamoDB URL parameter '%.*s' has no "
				       "value", (int)kl, q);
		const char *val = q + kl + 1;
		size_t vl = strcspn(val, "&");
		char *dst = NULL;
		size_t cap = 0;
		if (kl == 6 && !strncmp(q, "region", 6)) {
			dst = d->region;
			cap = sizeof(d->region);
		} else if (kl == 8 && !strncmp(q, "endpoint", 8)) {
			dst = d->endpoint;
			cap = sizeof(d->endpoint);
		} else {
			return err_set(e, ERR_USAGE, "slashing protection: unknown "
				       "DynamoDB URL parameter '%.*s' (region, "
				       "endpoint)", (int)kl, q);
		}
		if (vl == 0 || vl >= cap || dst[0])
			return err_set(e, ERR_USAGE, "slashing protection: "
				       "DynamoDB URL parameter '%.*s' empty, too "
				       "long or repeated", (int)kl, q);
		memcpy(dst, val, vl);
		dst[vl] = '\0';
		q = val + vl;
	}
	return 0;
}

static void ddb_close(void *be)
{
	struct ddb *d = be;
	if (!d)
		return;
	for (size_t i = 0; i < d->npool; i++)
		aws_client_free(d->pool[i]);
	for (size_t b = 0; b < CACHE_BUCKETS; b++) {
		struct ventry *v = d->buckets[b];
		while (v) {
			struct ventry *n = v->next;
			pthread_mutex_destroy(&v->lock);
			free(v);
			v = n;
		}
	}
	aws_creds_provider_free(d->own_creds);
	pthread_mutex_destroy(&d->pool_lock);
	pthread_mutex_destroy(&d->cache_lock);
	pthread_mutex_destroy(&d->meta_lock);
	OPENSSL_cleanse(d->mac_key, sizeof(d->mac_key));
	free(d);
}

/* Everything but the table's existence: the CLI's create-table too. */
static int ddb_new(const char *where, const struct slashing_open_opts *o,
		   struct ddb **out, struct err *e)
{
	struct ddb *d = calloc(1, sizeof(*d));
	if (!d)
		return err_set(e, ERR_NOMEM, "out of memory");
	pthread_mutex_init(&d->pool_lock, NULL);
	pthread_mutex_init(&d->cache_lock, NULL);
	pthread_mutex_init(&d->meta_lock, NULL);
	int rc = parse_url(where, d, e);
	if (rc == 0 && o->mac_key) {
		d->has_mac = true;
		memcpy(d->mac_key, o->mac_key, 32);
	}
	if (rc == 0) {
		if (o->aws)
			d->copts = *o->aws;
		if (!d->copts.creds) {
			d->own_creds = aws_creds_default_new(e);
			if (!d->own_creds)
				rc = -ERR_UNAVAILABLE;
			d->copts.creds = d->own_creds;
		}
	}
	if (rc == 0 && d->region[0])
		d->copts.region = d->region;
	const char *ep = o->endpoint ? o->endpoint
				     : d->endpoint[0] ? d->endpoint : NULL;
	if (rc == 0 && ep)
		d->copts.endpoint[AWS_SVC_DYNAMODB] = ep;
	/* A signing request waits for these: a short deadline, then 503. */
	if (rc == 0 && !d->copts.timeout_ms)
		d->copts.timeout_ms = 3000;
	if (rc == 0 && !d->copts.max_attempts)
		d->copts.max_attempts = 4;
	if (rc == 0 && !d->copts.base_delay_ms)
		d->copts.base_delay_ms = 25;
	if (rc == 0 && !d->copts.max_delay_ms)
		d->copts.max_delay_ms = 400;
	if (rc < 0) {
		ddb_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

static int table_check(struct ddb *d, struct aws_client *c, struct err *e)
{
	struct aws_ddb_table_info ti;
	int rc = aws_ddb_describe_table(c, d->table, &ti, e);
	if (rc == -ERR_NOT_FOUND)
		return err_set(e, ERR_UNAVAILABLE, "slashing protection: DynamoDB "
			       "table %s does not exist (create it: nitro-signer "
			       "eth2 --slashing-protection-db-url=... "
			       "create-table)", d->table);
	if (rc < 0)
		return rc == -ERR_INVALID ? -ERR_UNAVAILABLE : rc;
	if (strcmp(ti.hash_key, "pk") || strcmp(ti.hash_type, "S") ||
	    ti.range_key[0])
		return err_set(e, ERR_UNAVAILABLE, "slashing protection: DynamoDB "
			       "table %s is not a slashing-protection table "
			       "(key schema: pk (S) only)", d->table);
	return 0;
}

static int ddb_open(const char *where, const struct slashing_open_opts *o,
		    void **be, struct err *e)
{
	struct ddb *d;
	TRY(ddb_new(where, o, &d, e));
	struct aws_client *c = client_get(d, e);
	int rc = c ? table_check(d, c, e) : -ERR_UNAVAILABLE;
	if (rc == 0)
		rc = meta_refresh(d, c, NULL, e);
	if (c)
		client_put(d, c);
	if (rc < 0) {
		err_prefix(e, "slashing protection (dynamodb://%s): ", d->table);
		ddb_close(d);
		return rc;
	}
	*be = d;
	return 0;
}

static bool ddb_is_volatile(const char *where)
{
	(void)where;
	return false;
}

int slashing_dynamodb_create_table(const char *where,
				   const struct slashing_open_opts *o,
				   struct err *e)
{
	struct ddb *d;
	TRY(ddb_new(where, o, &d, e));
	struct aws_client *c = client_get(d, e);
	int rc = c ? aws_ddb_create_table(c, d->table, "pk", "S", NULL, NULL, e)
		   : -ERR_UNAVAILABLE;
	const struct aws_error_info *ae = c ? aws_client_last_error(c) : NULL;
	if (rc < 0 && ae && strcmp(ae->type, "ResourceInUseException") == 0)
		rc = 0; /* exists: check it is ours below */
	if (rc == 0)
		rc = aws_ddb_wait_active(c, d->table, 60000, e);
	if (rc == 0)
		rc = table_check(d, c, e);
	if (c)
		client_put(d, c);
	ddb_close(d);
	return rc;
}

/* ---- scans: every validator of the bound chain ---------------------------- */

typedef int (*item_fn)(struct ddb *d, struct aws_client *c,
		       const uint8_t pubkey[48], void *arg, struct err *e);

/* Calls fn for every validator item of the table, in the order of the
 * scan. */
static int for_each_validator(struct ddb *d, struct aws_client *c,
			      item_fn fn, void *arg, struct err *e)
{
	const char *prefix = VAL_PREFIX;
	json_t *vals = json_pack("{s:{s:s}}", ":p", "S", prefix);
	if (!vals)
		return err_set(e, ERR_NOMEM, "out of memory");
	struct aws_ddb_query q = {.scan = true, .table = d->table,
				  .key_condition = {.values = vals},
				  .filter = "begins_with(pk, :p)",
				  .consistent = true};
	json_t *start = NULL;
	int rc = 0;
	for (;;) {
		json_t *items = NULL, *next = NULL;
		rc = aws_ddb_query_page(c, &q, start, &items, &next, e);
		json_decref(start);
		start = NULL;
		if (rc < 0)
			break;
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it) {
			const char *pk = json_string_value(json_object_get(json_object_get(it, "pk"), "S"));
			uint8_t pub[48];
			char canon[PK_MAX];
			if (!pk || strlen(pk) != strlen(prefix) + 96 ||
			    unhex(pk + strlen(prefix), pub, 48) != 48)
				continue; /* not a validator item of ours */
			pk_of(pub, canon);
			if (strcmp(pk, canon) != 0)
				continue; /* upper case: not a key we write */
			rc = fn(d, c, pub, arg, e);
			if (rc < 0)
				break;
		}
		json_decref(items);
		if (rc < 0 || !next) {
			json_decref(next);
			break;
		}
		start = next;
	}
	json_decref(vals);
	return rc;
}

/* Read-modify-write of one validator's item with fn deciding the new state
 * (false: nothing to write); retried on lost races. */
typedef bool (*modify_fn)(struct slashing_minimal *st, const void *arg);
static int modify_locked(struct ddb *d, struct aws_client *c, struct ventry *v,
			 modify_fn fn, const void *arg, bool repair,
			 struct err *e);

static int modify(struct ddb *d, struct aws_client *c,
		  const uint8_t pubkey[48], modify_fn fn, const void *arg,
		  bool repair, struct err *e)
{
	struct ventry *v = entry_of(d, pubkey);
	if (!v)
		return err_set(e, ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&v->lock);
	int rc = modify_locked(d, c, v, fn, arg, repair, e);
	pthread_mutex_unlock(&v->lock);
	return rc;
}

static int modify_locked(struct ddb *d, struct aws_client *c, struct ventry *v,
			 modify_fn fn, const void *arg, bool repair,
			 struct err *e)
{
	for (int round = 0; round < RACE_ROUNDS; round++) {
		TRY(entry_read(d, c, v, e));
		if (v->bad && !repair)
			return err_set(e, ERR_UNAVAILABLE,
				       "slashing protection integrity: %s", v->why);
		struct slashing_minimal st = v->st;
		if (!fn(&st, arg) && !(v->bad && repair))
			return 0;
		/* (A repair writes over the refused item: entry_read noted
		 * the version the table holds, whatever its state.) */
		int rc = entry_write(d, c, v, &st, e);
		if (rc != -ERR_REFUSED) {
			if (rc == 0)
				v->bad = false;
			return rc;
		}
	}
	return err_set(e, ERR_UNAVAILABLE, "slashing protection: an item keeps "
		       "changing under us");
}

/* ---- import / export ------------------------------------------------------ */

struct import_ctx {
	struct ddb *d;
	struct aws_client *c;
};

struct import_arg {
	const struct ic_entry *const *group;
	size_t n;
};

static bool import_modify(struct slashing_minimal *st, const void *arg)
{
	const struct import_arg *a = arg;
	return slashing_rule_min_import(st, a->group, a->n);
}

static int import_one(void *arg, const struct ic_entry *const *group, size_t n,
		      struct err *e)
{
	struct import_ctx *x = arg;
	struct import_arg a = {group, n};
	return modify(x->d, x->c, group[0]->pubkey, import_modify, &a, true, e);
}

static int ddb_import(void *be, const struct interchange *ic, struct err *e)
{
	struct ddb *d = be;
	struct slashing_meta m;
	int rc;
	struct aws_client *c = op_begin(d, &m, &rc, e);
	if (!c)
		return rc;
	rc = interchange_check_gvr(ic, &m, e);
	if (rc == 0 && !m.has_gvr && ic->n_entries)
		rc = ensure_bound(d, c, ic->gvr, e);
	struct import_ctx x = {d, c};
	if (rc == 0)
		rc = interchange_for_each_pubkey(ic, import_one, &x, e);
	client_put(d, c);
	return rc;
}

static int export_entry(struct interchange *ic, const uint8_t pubkey[48],
			const struct slashing_minimal *st, struct err *e)
{
	struct ic_entry *en = interchange_add_entry(ic, pubkey);
	if (!en)
		return err_set(e, ERR_NOMEM, "out of memory");
	struct slashing_validator v = {.known = true, .enabled = st->enabled};
	int rc = 0;
	if (st->has_block) {
		v.has_lw_slot = true;
		v.lw_slot = st->slot;
		if (st->block_kind != SLASHING_MIN_NONE)
			rc = ic_entry_add_block(en, st->slot,
						st->block_kind == SLASHING_MIN_ROOT
							? st->block_root : NULL);
	}
	if (rc == 0 && st->has_att) {
		v.has_lw_epochs = true;
		v.lw_source = st->source;
		v.lw_target = st->target;
		if (st->att_kind != SLASHING_MIN_NONE)
			rc = ic_entry_add_att(en, st->source, st->target,
					      st->att_kind == SLASHING_MIN_ROOT
						      ? st->att_root : NULL);
	}
	if (rc < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	return interchange_export_finish(ic, &v, e);
}

/* A consistent read of pubkey's item, and a copy of what decisions use:
 * *exists says whether the validator has an item; a refused validator is
 * an error naming integrity. */
static int entry_snapshot(struct ddb *d, struct aws_client *c,
			  const uint8_t pubkey[48], bool *exists,
			  struct slashing_minimal *st, struct err *e)
{
	struct ventry *v = entry_of(d, pubkey);
	if (!v)
		return err_set(e, ERR_NOMEM, "out of memory");
	pthread_mutex_lock(&v->lock);
	int rc = entry_read(d, c, v, e);
	if (rc == 0 && v->bad)
		rc = err_set(e, ERR_UNAVAILABLE, "slashing protection "
			     "integrity: %s", v->why);
	*exists = v->max_exists;
	*st = v->st;
	pthread_mutex_unlock(&v->lock);
	return rc;
}

struct export_ctx {
	struct interchange *ic;
	uint8_t (*keys)[48];
	struct slashing_minimal *states;
	size_t n, cap;
};

static int export_collect(struct ddb *d, struct aws_client *c,
			const uint8_t pubkey[48], void *arg, struct err *e)
{
	struct export_ctx *x = arg;
	bool exists;
	struct slashing_minimal st;
	TRY(entry_snapshot(d, c, pubkey, &exists, &st, e));
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 64;
		void *k = realloc(x->keys, nc * 48);
		if (!k)
			return err_set(e, ERR_NOMEM, "out of memory");
		x->keys = k;
		void *s = realloc(x->states, nc * sizeof(*x->states));
		if (!s)
			return err_set(e, ERR_NOMEM, "out of memory");
		x->states = s;
		x->cap = nc;
	}
	memcpy(x->keys[x->n], pubkey, 48);
	x->states[x->n++] = st;
	return 0;
}

static int ddb_export(void *be, const uint8_t (*pubkeys)[48], size_t n,
		      struct interchange **out, struct err *e)
{
	struct ddb *d = be;
	struct slashing_meta m;
	int rc;
	struct aws_client *c = op_begin(d, &m, &rc, e);
	if (!c)
		return rc;
	rc = interchange_export_new(&m, out, e);
	struct export_ctx x = {0};
	if (rc == 0 && pubkeys) {
		for (size_t i = 0; i < n && rc == 0; i++) {
			bool exists;
			struct slashing_minimal st;
			rc = entry_snapshot(d, c, pubkeys[i], &exists, &st, e);
			if (rc == 0 && exists)
				rc = export_entry(*out, pubkeys[i], &st, e);
		}
	} else if (rc == 0) {
		rc = for_each_validator(d, c, export_collect, &x, e);
		/* ascending pubkey order, as the other backends */
		for (size_t i = 0; rc == 0 && i < x.n; i++) {
			size_t best = i;
			for (size_t j = i + 1; j < x.n; j++)
				if (memcmp(x.keys[j], x.keys[best], 48) < 0)
					best = j;
			if (best != i) {
				uint8_t tk[48];
				memcpy(tk, x.keys[i], 48);
				memcpy(x.keys[i], x.keys[best], 48);
				memcpy(x.keys[best], tk, 48);
				struct slashing_minimal ts = x.states[i];
				x.states[i] = x.states[best];
				x.states[best] = ts;
			}
			rc = export_entry(*out, x.keys[i], &x.states[i], e);
		}
	}
	free(x.keys);
	free(x.states);
	client_put(d, c);
	return rc;
}

/* ---- the operator's and the Keymanager's operations ----------------------- */

static int ddb_prune_step(void *be, uint64_t keep_slots, uint64_t keep_epochs,
			  struct slashing_prune_cursor *cursor,
			  size_t max_validators, bool *done, struct err *e)
{
	/* Nothing to prune: an item holds only the newest messages. */
	(void)be;
	(void)keep_slots;
	(void)keep_epochs;
	(void)cursor;
	(void)max_validators;
	(void)e;
	*done = true;
	return 0;
}

static bool enable_modify(struct slashing_minimal *st, const void *arg)
{
	bool en = *(const bool *)arg;
	if (st->known && st->enabled == en)
		return false;
	st->known = true;
	st->enabled = en;
	return true;
}

static int ddb_set_enabled(void *be, const uint8_t pubkey[48], bool enabled,
			   struct err *e)
{
	struct ddb *d = be;
	struct aws_client *c = client_get(d, e);
	if (!c)
		return -ERR_UNAVAILABLE;
	int rc = modify(d, c, pubkey, enable_modify, &enabled, false, e);
	client_put(d, c);
	return rc;
}

static bool repair_modify(struct slashing_minimal *st, const void *arg)
{
	return slashing_rule_min_repair(st, arg);
}

static int repair_one(struct ddb *d, struct aws_client *c,
			const uint8_t pubkey[48], void *arg, struct err *e)
{
	return modify(d, c, pubkey, repair_modify, arg, true, e);
}

static int ddb_repair_low(void *be, const struct slashing_watermark *w,
			  struct err *e)
{
	struct ddb *d = be;
	int rc;
	struct aws_client *c = op_begin(d, NULL, &rc, e);
	if (!c)
		return rc;
	rc = for_each_validator(d, c, repair_one, (void *)w, e);
	client_put(d, c);
	return rc;
}

static int set_hw(struct ddb *d, const struct slashing_watermark *w,
		  struct err *e)
{
	struct aws_client *c = client_get(d, e);
	if (!c)
		return -ERR_UNAVAILABLE;
	int rc = 0;
	pthread_mutex_lock(&d->meta_lock);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		rc = meta_read(d, c, e);
		if (rc < 0)
			break;
		struct slashing_meta m = d->meta;
		if (w)
			m.hw = *w;
		else
			memset(&m.hw, 0, sizeof(m.hw));
		rc = meta_write(d, c, &m, e);
		if (rc != -ERR_REFUSED)
			break;
	}
	pthread_mutex_unlock(&d->meta_lock);
	client_put(d, c);
	return rc;
}

static int ddb_set_high(void *be, const struct slashing_watermark *w,
			struct err *e)
{
	return set_hw(be, w, e);
}

static int ddb_get_high(void *be, struct slashing_watermark *out,
			struct err *e)
{
	struct slashing_meta m;
	int rc;
	struct aws_client *c = op_begin(be, &m, &rc, e);
	if (!c)
		return rc;
	*out = m.hw;
	client_put(be, c);
	return 0;
}

static int usage_count(struct ddb *d, struct aws_client *c,
			const uint8_t pubkey[48], void *arg, struct err *e)
{
	struct slashing_usage *u = arg;
	bool exists;
	struct slashing_minimal st;
	TRY(entry_snapshot(d, c, pubkey, &exists, &st, e));
	u->validators++;
	if (st.has_block && st.block_kind != SLASHING_MIN_NONE)
		u->blocks++;
	if (st.has_att && st.att_kind != SLASHING_MIN_NONE)
		u->attestations++;
	return 0;
}

/* A scan: for operators and tests, not for the signing path. */
static int ddb_usage(void *be, struct slashing_usage *out, struct err *e)
{
	struct ddb *d = be;
	memset(out, 0, sizeof(*out));
	int rc;
	struct aws_client *c = op_begin(d, NULL, &rc, e);
	if (!c)
		return rc;
	rc = for_each_validator(d, c, usage_count, out, e);
	out->has_records = rc == 0;
	client_put(d, c);
	return rc;
}

/* The probe: a consistent read of the meta item (which also brings a high
 * watermark another process set), and the validators refused for
 * integrity. */
static int ddb_health(void *be, struct err *e)
{
	struct ddb *d = be;
	int rc;
	struct aws_client *c = op_begin(d, NULL, &rc, e);
	if (!c)
		return rc;
	client_put(d, c);
	size_t bad = 0;
	char first[99] = "";
	pthread_mutex_lock(&d->cache_lock);
	for (size_t b = 0; b < CACHE_BUCKETS; b++)
		for (struct ventry *v = d->buckets[b]; v; v = v->next)
			if (v->bad && bad++ == 0)
				hex_encode(v->pubkey, 48, first);
	pthread_mutex_unlock(&d->cache_lock);
	if (bad)
		return err_set(e, ERR_UNAVAILABLE, "slashing protection integrity: "
			       "%zu validator(s) refused until repaired (first: "
			       "%s)", bad, first);
	return 0;
}

const struct slashing_backend_ops slashing_dynamodb_ops = {
	.name = "dynamodb",
	.batch_max = 1024,
	.open = ddb_open,
	.is_volatile = ddb_is_volatile,
	.close = ddb_close,
	.check_batch = ddb_check_batch,
	.import = ddb_import,
	.export = ddb_export,
	.prune_step = ddb_prune_step,
	.set_enabled = ddb_set_enabled,
	.repair_low = ddb_repair_low,
	.set_high = ddb_set_high,
	.get_high = ddb_get_high,
	.health = ddb_health,
	.usage = ddb_usage,
};

/* ---- for the fuzz target ------------------------------------------------ */

int slashing_dynamodb_item_check(const char *json, size_t len,
				 const uint8_t *mac_key, struct err *e)
{
	json_error_t je;
	json_t *it = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!it || !json_is_object(it)) {
		json_decref(it);
		return err_set(e, ERR_INVALID, "not a JSON object");
	}
	struct ddb *d = calloc(1, sizeof(*d));
	if (!d) {
		json_decref(it);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	if (mac_key) {
		d->has_mac = true;
		memcpy(d->mac_key, mac_key, 32);
	}
	const char *pk = json_string_value(json_object_get(json_object_get(it, "pk"), "S"));
	int rc;
	if (pk && strcmp(pk, META_PK) == 0) {
		struct slashing_meta m, m2;
		uint64_t ver, ver2;
		rc = meta_parse(d, it, &m, &ver) < 0
			     ? err_set(e, ERR_INVALID, "meta item refused") : 0;
		/* what is accepted writes back to the same meaning */
		json_t *again = rc == 0 ? meta_item(d, ver, &m) : NULL;
		if (rc == 0 && (!again || meta_parse(d, again, &m2, &ver2) != 0 ||
				ver2 != ver || m2.has_gvr != m.has_gvr ||
				memcmp(m2.gvr, m.gvr, 32) || m2.hw.has_slot != m.hw.has_slot ||
				m2.hw.slot != m.hw.slot || m2.hw.has_epoch != m.hw.has_epoch ||
				m2.hw.epoch != m.hw.epoch))
			rc = err_set(e, ERR_INTERNAL, "meta item does not round-trip");
		json_decref(again);
	} else if (pk) {
		struct slashing_minimal st, st2;
		uint64_t ver, ver2;
		struct err pe = {0};
		rc = item_parse(d, pk, it, &ver, &st, &pe);
		if (rc < 0)
			err_set(e, ERR_INVALID, "%s", pe.msg);
		json_t *again = rc == 0 ? item_of(d, pk, ver, &st) : NULL;
		if (rc == 0 && (!again || item_parse(d, pk, again, &ver2, &st2, &pe) != 0 ||
				ver2 != ver || !slashing_rule_min_equal(&st, &st2)))
			rc = err_set(e, ERR_INTERNAL, "item does not round-trip");
		json_decref(again);
	} else {
		rc = err_set(e, ERR_INVALID, "no pk");
	}
	json_decref(it);
	OPENSSL_cleanse(d->mac_key, sizeof(d->mac_key));
	free(d);
	return rc;
}
