/*
 * interchange.c: the EIP-3076 interchange format v5, parsed into and written
 * from struct interchange. Parsing is strict and complete before anything
 * touches a database, so an import can refuse a bad file having changed
 * nothing: the version must be the string "5", roots and pubkeys exact-length
 * 0x-hex, epochs and slots decimal strings of uint64; every message names the
 * offending field ("data[2].signed_attestations[7].target_epoch: ...").
 *
 * Trusts nothing in the file (the fuzz target tests/fuzz/fuzz_interchange.c
 * drives this). jansson does the JSON (duplicate keys refused); hex and
 * decimals go through core's strict parsers. Unknown keys are tolerated,
 * as the EIP's schema allows. A `signing_root` that is absent, JSON null or
 * all zeroes is taken as unknown (EIP-3076 suggests 0x0 as the "null"
 * value), which refuses every other message at that slot or target.
 */
#include "slashing_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- model ----------------------------------------------------------- */

struct interchange *interchange_new(const uint8_t gvr[32])
{
	struct interchange *ic = calloc(1, sizeof(*ic));
	if (ic)
		memcpy(ic->gvr, gvr, 32);
	return ic;
}

/* Arrays carry no capacity field: it is the count rounded up to a power of
 * two (at least 8), and push() doubles the array when the count reaches it.
 * A count only grows, except in interchange_export_finish(), which filters
 * in place: the allocation is then larger than the capacity computed from
 * the count, never smaller. */
static size_t cap_of(size_t n)
{
	size_t c = 8;
	while (c < n)
		c *= 2;
	return n ? c : 0;
}

static int push(void **arr, size_t *n, size_t elem)
{
	size_t cap = cap_of(*n);
	if (*n == cap) {
		size_t nc = cap ? cap * 2 : 8;
		if (nc > SIZE_MAX / elem)
			return -1;
		void *np = realloc(*arr, nc * elem);
		if (!np)
			return -1;
		*arr = np;
	}
	(*n)++;
	return 0;
}

struct ic_entry *interchange_add_entry(struct interchange *ic,
				       const uint8_t pubkey[48])
{
	if (push((void **)&ic->entries, &ic->n_entries, sizeof(*ic->entries)) < 0)
		return NULL;
	struct ic_entry *en = &ic->entries[ic->n_entries - 1];
	memset(en, 0, sizeof(*en));
	memcpy(en->pubkey, pubkey, 48);
	return en;
}

static bool root_known(const uint8_t *root)
{
	static const uint8_t zero[32];
	return root && memcmp(root, zero, 32) != 0;
}

int ic_entry_add_block(struct ic_entry *en, uint64_t slot, const uint8_t *root)
{
	if (push((void **)&en->blocks, &en->n_blocks, sizeof(*en->blocks)) < 0)
		return -ERR_NOMEM;
	struct ic_block *b = &en->blocks[en->n_blocks - 1];
	memset(b, 0, sizeof(*b));
	b->slot = slot;
	b->has_root = root_known(root);
	if (b->has_root)
		memcpy(b->root, root, 32);
	return 0;
}

int ic_entry_add_att(struct ic_entry *en, uint64_t source, uint64_t target,
		     const uint8_t *root)
{
	if (push((void **)&en->atts, &en->n_atts, sizeof(*en->atts)) < 0)
		return -ERR_NOMEM;
	struct ic_att *a = &en->atts[en->n_atts - 1];
	memset(a, 0, sizeof(*a));
	a->source = source;
	a->target = target;
	a->has_root = root_known(root);
	if (a->has_root)
		memcpy(a->root, root, 32);
	return 0;
}

void interchange_free(struct interchange *ic)
{
	if (!ic)
		return;
	for (size_t i = 0; i < ic->n_entries; i++) {
		free(ic->entries[i].blocks);
		free(ic->entries[i].atts);
	}
	free(ic->entries);
	free(ic);
}

/* ---- what every backend's import and export share --------------------- */

int interchange_check_gvr(const struct interchange *ic,
			  const struct slashing_meta *m, struct err *e)
{
	if (!m->has_gvr || memcmp(m->gvr, ic->gvr, 32) == 0)
		return 0;
	char want[67], got[67];
	hex_encode(m->gvr, 32, want);
	hex_encode(ic->gvr, 32, got);
	return err_set(e, ERR_INVALID,
		       "metadata.genesis_validators_root: %s differs from the "
		       "database's %s; nothing imported", got, want);
}

static int cmp_entry_ptr(const void *a, const void *b)
{
	const struct ic_entry *x = *(const struct ic_entry *const *)a;
	const struct ic_entry *y = *(const struct ic_entry *const *)b;
	int c = memcmp(x->pubkey, y->pubkey, 48);
	if (c)
		return c;
	return x < y ? -1 : x > y; /* file order within a pubkey */
}

int interchange_for_each_pubkey(const struct interchange *ic,
				interchange_pubkey_fn fn, void *arg,
				struct err *e)
{
	size_t n = ic->n_entries;
	if (!n)
		return 0;
	const struct ic_entry **sorted = calloc(n, sizeof(*sorted));
	if (!sorted)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		sorted[i] = &ic->entries[i];
	qsort(sorted, n, sizeof(*sorted), cmp_entry_ptr);
	int rc = 0;
	for (size_t i = 0, j; rc == 0 && i < n; i = j) {
		for (j = i + 1; j < n; j++)
			if (memcmp(sorted[j]->pubkey, sorted[i]->pubkey, 48) != 0)
				break;
		rc = fn(arg, sorted + i, j - i, e);
	}
	free(sorted);
	return rc;
}

int interchange_export_new(const struct slashing_meta *m,
			   struct interchange **out, struct err *e)
{
	if (!m->has_gvr)
		return err_set(e, ERR_NOT_FOUND,
			       "slashing database: no genesis_validators_root stored "
			       "yet (nothing signed or imported); nothing to export");
	if (!(*out = interchange_new(m->gvr)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

/* Keeps the blocks at or above the slot watermark; adds one without a root
 * at the watermark when none is there (so the import's minimum is it). */
static int finish_blocks(struct ic_entry *en, const struct slashing_validator *v)
{
	size_t n = 0;
	bool at_lw = false;
	for (size_t i = 0; i < en->n_blocks; i++) {
		struct ic_block b = en->blocks[i];
		if (v->has_lw_slot && b.slot < v->lw_slot)
			continue;
		at_lw |= v->has_lw_slot && b.slot == v->lw_slot;
		en->blocks[n++] = b;
	}
	en->n_blocks = n;
	if (v->has_lw_slot && !at_lw)
		return ic_entry_add_block(en, v->lw_slot, NULL);
	return 0;
}

/* The same for votes, on targets. A vote whose source is below the source
 * watermark (only after importing a slashable history) goes out with that
 * source and no root: EIP-3076 takes the source watermark as the minimum
 * source exported. */
static int finish_atts(struct ic_entry *en, const struct slashing_validator *v)
{
	size_t n = 0;
	bool at_lw = false;
	for (size_t i = 0; i < en->n_atts; i++) {
		struct ic_att a = en->atts[i];
		if (v->has_lw_epochs && a.target < v->lw_target)
			continue;
		if (v->has_lw_epochs && a.source < v->lw_source) {
			a.source = v->lw_source;
			a.has_root = false;
			memset(a.root, 0, 32);
		}
		at_lw |= v->has_lw_epochs && a.target == v->lw_target;
		en->atts[n++] = a;
	}
	en->n_atts = n;
	if (v->has_lw_epochs && !at_lw)
		return ic_entry_add_att(en, v->lw_source, v->lw_target, NULL);
	return 0;
}

int interchange_export_finish(struct interchange *ic,
			      const struct slashing_validator *v,
			      struct err *e)
{
	struct ic_entry *en = &ic->entries[ic->n_entries - 1];
	if (finish_blocks(en, v) < 0 || finish_atts(en, v) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	/* A validator with no history and no watermark says nothing. */
	if (!en->n_blocks && !en->n_atts) {
		free(en->blocks);
		free(en->atts);
		ic->n_entries--;
	}
	return 0;
}

/* ---- parsing --------------------------------------------------------- */

static int get_string(json_t *obj, const char *key, const char *field,
		      bool required, const char **out, struct err *e)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return err_set(e, ERR_INVALID, "%s: missing", field);
		return 0;
	}
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s: expected a string", field);
	*out = json_string_value(v);
	if (strlen(*out) != json_string_length(v))
		return err_set(e, ERR_INVALID, "%s: contains a NUL byte", field);
	return 0;
}

static int get_u64(json_t *obj, const char *key, const char *field,
		   uint64_t *out, struct err *e)
{
	const char *s;
	TRY(get_string(obj, key, field, true, &s, e));
	return dec_parse_u64(s, out, e, field);
}

/* Optional root: absent/null -> *has = false. */
static int get_root(json_t *obj, const char *field, uint8_t root[32],
		    bool *has, struct err *e)
{
	const char *s;
	TRY(get_string(obj, "signing_root", field, false, &s, e));
	*has = s != NULL;
	if (!s)
		return 0;
	return hex_decode_exact(s, root, 32, e, field);
}

static int get_array(json_t *obj, const char *key, const char *field,
		     json_t **out, struct err *e)
{
	*out = json_object_get(obj, key);
	if (!*out)
		return err_set(e, ERR_INVALID, "%s: missing", field);
	if (!json_is_array(*out))
		return err_set(e, ERR_INVALID, "%s: expected an array", field);
	return 0;
}

static int parse_blocks(json_t *arr, size_t di, struct ic_entry *en,
			struct err *e)
{
	size_t i;
	json_t *it;
	char f[96];
	json_array_foreach(arr, i, it) {
		if (!json_is_object(it))
			return err_set(e, ERR_INVALID,
				       "data[%zu].signed_blocks[%zu]: expected an object",
				       di, i);
		uint64_t slot;
		uint8_t root[32];
		bool has;
		snprintf(f, sizeof(f), "data[%zu].signed_blocks[%zu].slot", di, i);
		TRY(get_u64(it, "slot", f, &slot, e));
		snprintf(f, sizeof(f), "data[%zu].signed_blocks[%zu].signing_root",
			 di, i);
		TRY(get_root(it, f, root, &has, e));
		if (ic_entry_add_block(en, slot, has ? root : NULL) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int parse_atts(json_t *arr, size_t di, struct ic_entry *en,
		      struct err *e)
{
	size_t i;
	json_t *it;
	char f[112];
	json_array_foreach(arr, i, it) {
		if (!json_is_object(it))
			return err_set(e, ERR_INVALID,
				       "data[%zu].signed_attestations[%zu]: expected an object",
				       di, i);
		uint64_t s, t;
		uint8_t root[32];
		bool has;
		snprintf(f, sizeof(f),
			 "data[%zu].signed_attestations[%zu].source_epoch", di, i);
		TRY(get_u64(it, "source_epoch", f, &s, e));
		snprintf(f, sizeof(f),
			 "data[%zu].signed_attestations[%zu].target_epoch", di, i);
		TRY(get_u64(it, "target_epoch", f, &t, e));
		snprintf(f, sizeof(f),
			 "data[%zu].signed_attestations[%zu].signing_root", di, i);
		TRY(get_root(it, f, root, &has, e));
		if (ic_entry_add_att(en, s, t, has ? root : NULL) < 0)
			return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int parse_entry(json_t *it, size_t di, struct interchange *ic,
		       struct err *e)
{
	char f[64];
	if (!json_is_object(it))
		return err_set(e, ERR_INVALID, "data[%zu]: expected an object", di);
	const char *pk;
	uint8_t pubkey[48];
	snprintf(f, sizeof(f), "data[%zu].pubkey", di);
	TRY(get_string(it, "pubkey", f, true, &pk, e));
	TRY(hex_decode_exact(pk, pubkey, 48, e, f));
	json_t *blocks, *atts;
	snprintf(f, sizeof(f), "data[%zu].signed_blocks", di);
	TRY(get_array(it, "signed_blocks", f, &blocks, e));
	snprintf(f, sizeof(f), "data[%zu].signed_attestations", di);
	TRY(get_array(it, "signed_attestations", f, &atts, e));
	struct ic_entry *en = interchange_add_entry(ic, pubkey);
	if (!en)
		return err_set(e, ERR_NOMEM, "out of memory");
	TRY(parse_blocks(blocks, di, en, e));
	return parse_atts(atts, di, en, e);
}

static int parse_root(json_t *root, struct interchange *ic, struct err *e)
{
	if (!json_is_object(root))
		return err_set(e, ERR_INVALID, "interchange: expected a JSON object");
	json_t *md = json_object_get(root, "metadata");
	if (!md)
		return err_set(e, ERR_INVALID, "metadata: missing");
	if (!json_is_object(md))
		return err_set(e, ERR_INVALID, "metadata: expected an object");
	const char *ver, *gvr;
	TRY(get_string(md, "interchange_format_version",
		       "metadata.interchange_format_version", true, &ver, e));
	if (strcmp(ver, "5") != 0)
		return err_set(e, ERR_INVALID,
			       "metadata.interchange_format_version: expected \"5\", "
			       "got \"%.16s\"", ver);
	TRY(get_string(md, "genesis_validators_root",
		       "metadata.genesis_validators_root", true, &gvr, e));
	TRY(hex_decode_exact(gvr, ic->gvr, 32, e,
			     "metadata.genesis_validators_root"));
	json_t *data;
	TRY(get_array(root, "data", "data", &data, e));
	size_t i;
	json_t *it;
	json_array_foreach(data, i, it)
		TRY(parse_entry(it, i, ic, e));
	return 0;
}

int interchange_parse(const char *json, size_t len, struct interchange **out,
		      struct err *e)
{
	json_t *root;
	TRY(json_parse_strict(json, len, "interchange", &root, e));
	static const uint8_t zero[32];
	struct interchange *ic = interchange_new(zero);
	int rc;
	if (!ic) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = parse_root(root, ic, e);
	if (rc < 0) {
		interchange_free(ic);
		goto out;
	}
	*out = ic;
out:
	json_decref(root);
	return rc;
}

/* ---- writing --------------------------------------------------------- */

static void write_entry(struct buf *b, const struct ic_entry *en)
{
	char hex[2 + 96 + 1];
	hex_encode(en->pubkey, 48, hex);
	buf_printf(b, "    {\n      \"pubkey\": \"%s\",\n      \"signed_blocks\": [", hex);
	for (size_t i = 0; i < en->n_blocks; i++) {
		const struct ic_block *bl = &en->blocks[i];
		buf_printf(b, "%s\n        {\"slot\": \"%llu\"", i ? "," : "",
		       (unsigned long long)bl->slot);
		if (bl->has_root) {
			hex_encode(bl->root, 32, hex);
			buf_printf(b, ", \"signing_root\": \"%s\"", hex);
		}
		buf_printf(b, "}");
	}
	buf_printf(b, "%s],\n      \"signed_attestations\": [",
	       en->n_blocks ? "\n      " : "");
	for (size_t i = 0; i < en->n_atts; i++) {
		const struct ic_att *a = &en->atts[i];
		buf_printf(b,
		       "%s\n        {\"source_epoch\": \"%llu\", \"target_epoch\": \"%llu\"",
		       i ? "," : "", (unsigned long long)a->source,
		       (unsigned long long)a->target);
		if (a->has_root) {
			hex_encode(a->root, 32, hex);
			buf_printf(b, ", \"signing_root\": \"%s\"", hex);
		}
		buf_printf(b, "}");
	}
	buf_printf(b, "%s]\n    }", en->n_atts ? "\n      " : "");
}

int interchange_write(const struct interchange *ic, char **out, size_t *len,
		      struct err *e)
{
	struct buf b = BUF_INIT(SIZE_MAX);
	char gvr[2 + 64 + 1];
	hex_encode(ic->gvr, 32, gvr);
	buf_printf(&b,
	       "{\n  \"metadata\": {\n    \"interchange_format_version\": \"5\",\n"
	       "    \"genesis_validators_root\": \"%s\"\n  },\n  \"data\": [",
	       gvr);
	for (size_t i = 0; i < ic->n_entries; i++) {
		buf_printf(&b, "%s\n", i ? "," : "");
		write_entry(&b, &ic->entries[i]);
	}
	buf_printf(&b, "%s]\n}\n", ic->n_entries ? "\n  " : "");
	size_t n = b.len;
	*out = buf_take_str(&b);
	if (!*out)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (len)
		*len = n;
	return 0;
}
