/*
 * test_slashing_util.h: helpers shared by the slashing test files: a fresh
 * database per test on the backend the cmocka group picked (fx_on_sqlite:
 * a file in a temporary directory; fx_on_mem: a mem: store named after
 * that directory), pubkeys and roots made from small integers (a root n is
 * 32 bytes holding n big-endian in the last 8, like Lighthouse's
 * Hash256::from_low_u64_be in the EIP-3076 test generator), and a tiny
 * builder of interchange files.
 */
#ifndef TEST_SLASHING_UTIL_H
#define TEST_SLASHING_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slashing/slashing.h"
#include "test_aws_standins.h"

#define ROOT_NONE (-1)

static const uint8_t GVR[32] = {0x04, 0x70, 0x00, 0x07, 0xfa, 0xbc, 0x82, 0x82};
static const uint8_t GVR_OTHER[32] = {0x01};

struct fx {
	char dir[64];
	char url[128];
	char path[96]; /* the sqlite file (sqlite only) */
	struct slashing_db *db;
};

/* The backend every fixture of the running group opens. */
enum fx_backend { FX_SQLITE, FX_MEM, FX_DYNAMODB };
static enum fx_backend fx_backend;
/* mem: stores are volatile: the tests say they know. */
static const struct slashing_open_opts fx_opts = {.allow_volatile = true};

static inline int fx_on_sqlite(void **state)
{
	(void)state;
	fx_backend = FX_SQLITE;
	return 0;
}

static inline int fx_on_mem(void **state)
{
	(void)state;
	fx_backend = FX_MEM;
	return 0;
}

/* DynamoDB: the stand-ins (dynalite behind SigV4) for the whole group;
 * each test's databases are tables of their own. */
static inline int fx_on_dynamodb(void **state)
{
	(void)state;
	fx_backend = FX_DYNAMODB;
	return standins_start();
}

static inline int fx_off_dynamodb(void **state)
{
	(void)state;
	standins_stop();
	return 0;
}

/* Runs a cmocka group (an array) on every backend, one group each. */
#define FX_RUN_ON_EVERY_BACKEND(tests)                                        \
	(cmocka_run_group_tests_name("on sqlite", tests, fx_on_sqlite, NULL) + \
	 cmocka_run_group_tests_name("on mem", tests, fx_on_mem, NULL) +       \
	 cmocka_run_group_tests_name("on dynamodb", tests, fx_on_dynamodb,     \
				     fx_off_dynamodb))

/* Whether the running backend keeps only watermarks (EIP-3076's minimal
 * conditions): it refuses some non-slashable messages the others allow,
 * as docs/slashing.md lists. */
static inline bool fx_minimal(void)
{
	return fx_backend == FX_DYNAMODB;
}

/* The URL of a database called name belonging to f's test: a file in its
 * directory, a mem: store (kept until exit) named after it, or a DynamoDB
 * table named after it (created here: a table must exist to be opened). */
static inline void fx_url(const struct fx *f, const char *name, char *out,
			  size_t n)
{
	if (fx_backend == FX_SQLITE) {
		snprintf(out, n, "sqlite:%s/%s.db", f->dir, name);
	} else if (fx_backend == FX_MEM) {
		snprintf(out, n, "mem:%s/%s", f->dir, name);
	} else {
		/* "/tmp/ns-slash-XXXXXX" -> "ns-slash-XXXXXX-name" */
		snprintf(out, n, "dynamodb://%s-%s", f->dir + 5, name);
		struct err e = {0};
		if (slashing_cmd_create_table(out, NULL, &e) != 0) {
			fprintf(stderr, "create-table %s: %s\n", out, e.msg);
			abort();
		}
	}
}

static void pk_of(int n, uint8_t out[48])
{
	memset(out, 0xa0, 48);
	out[0] = 0x80 | (uint8_t)(n >> 8);
	out[47] = (uint8_t)n;
}

static void root_of(uint64_t n, uint8_t out[32])
{
	memset(out, 0, 32);
	for (int i = 0; i < 8; i++)
		out[31 - i] = (uint8_t)(n >> (8 * i));
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void fx_open(struct fx *f)
{
	struct err e = {0};
	if (slashing_open(f->url, &fx_opts, &f->db, &e) != 0) {
		fprintf(stderr, "open %s: %s\n", f->url, e.msg);
		abort();
	}
}

static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/ns-slash-XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/slashing.db", f->dir);
	fx_url(f, "slashing", f->url, sizeof(f->url));
	fx_open(f);
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	slashing_close(f->db);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static inline void fx_reopen(struct fx *f)
{
	slashing_close(f->db);
	f->db = NULL;
	fx_open(f);
}

/* Decision of a block request; aborts the test on a database error. */
static inline enum slashing_reason blk_g(struct slashing_db *db, int v, uint64_t slot,
				  uint64_t root, const uint8_t gvr[32])
{
	uint8_t pk[48], r[32];
	pk_of(v, pk);
	root_of(root, r);
	enum slashing_reason d = SLASHING_REASON_COUNT;
	struct err e = {0};
	int rc = slashing_check_block(db, pk, gvr, slot, r, &d, &e);
	if (rc != 0) {
		fprintf(stderr, "check_block: %s\n", e.msg);
		abort();
	}
	return d;
}

static inline enum slashing_reason att_g(struct slashing_db *db, int v, uint64_t s,
				  uint64_t t, uint64_t root,
				  const uint8_t gvr[32])
{
	uint8_t pk[48], r[32];
	pk_of(v, pk);
	root_of(root, r);
	enum slashing_reason d = SLASHING_REASON_COUNT;
	struct err e = {0};
	int rc = slashing_check_attestation(db, pk, gvr, s, t, r, &d, &e);
	if (rc != 0) {
		fprintf(stderr, "check_attestation: %s\n", e.msg);
		abort();
	}
	return d;
}

#define blk(db, v, slot, root) blk_g(db, v, slot, root, GVR)
#define att(db, v, s, t, root) att_g(db, v, s, t, root, GVR)

/*
 * Interchange builder. spec: entries separated by ';', each "P tok tok ..."
 * where P is the pubkey number and a token is bSLOT[/ROOT] or aS-T[/ROOT]
 * (no /ROOT: signing_root omitted). Returns malloc'd JSON.
 */
static inline char *ic_json_g(const uint8_t gvr[32], const char *spec)
{
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	char hex[2 + 96 + 1];
	hex_encode(gvr, 32, hex);
	n += (size_t)snprintf(out + n, cap - n,
			      "{\"metadata\":{\"interchange_format_version\":\"5\","
			      "\"genesis_validators_root\":\"%s\"},\"data\":[", hex);
	char *copy = strdup(spec), *save = NULL;
	int first_entry = 1;
	for (char *ent = strtok_r(copy, ";", &save); ent;
	     ent = strtok_r(NULL, ";", &save)) {
		char *s2 = NULL;
		char *tok = strtok_r(ent, " ", &s2);
		if (!tok)
			continue;
		uint8_t pk[48];
		pk_of(atoi(tok), pk);
		hex_encode(pk, 48, hex);
		char blocks[8192] = "", atts[8192] = "";
		size_t bn = 0, an = 0;
		while ((tok = strtok_r(NULL, " ", &s2))) {
			unsigned long long a = 0, b = 0, r = 0;
			char rs[96] = "";
			char *slash = strchr(tok, '/');
			if (slash) {
				r = strtoull(slash + 1, NULL, 10);
				uint8_t rb[32];
				char rh[67];
				root_of(r, rb);
				hex_encode(rb, 32, rh);
				snprintf(rs, sizeof(rs), ",\"signing_root\":\"%s\"", rh);
			}
			if (tok[0] == 'b') {
				a = strtoull(tok + 1, NULL, 10);
				bn += (size_t)snprintf(blocks + bn, sizeof(blocks) - bn,
						       "%s{\"slot\":\"%llu\"%s}",
						       bn ? "," : "", a, rs);
			} else {
				sscanf(tok + 1, "%llu-%llu", &a, &b);
				an += (size_t)snprintf(atts + an, sizeof(atts) - an,
						       "%s{\"source_epoch\":\"%llu\","
						       "\"target_epoch\":\"%llu\"%s}",
						       an ? "," : "", a, b, rs);
			}
		}
		n += (size_t)snprintf(out + n, cap - n,
				      "%s{\"pubkey\":\"%s\",\"signed_blocks\":[%s],"
				      "\"signed_attestations\":[%s]}",
				      first_entry ? "" : ",", hex, blocks, atts);
		first_entry = 0;
	}
	snprintf(out + n, cap - n, "]}");
	free(copy);
	return out;
}

/* Records held (every validator's); aborts on a database error. */
static inline void fx_records(struct slashing_db *db, uint64_t *blocks,
			      uint64_t *atts)
{
	struct slashing_usage u;
	struct err e = {0};
	if (slashing_usage(db, &u, &e) != 0 || !u.has_records) {
		fprintf(stderr, "usage: %s\n", e.msg);
		abort();
	}
	*blocks = u.blocks;
	*atts = u.attestations;
}

static inline int import_g(struct slashing_db *db, const uint8_t gvr[32],
		    const char *spec, struct err *e)
{
	char *j = ic_json_g(gvr, spec);
	int rc = slashing_import(db, j, strlen(j), NULL, e);
	free(j);
	return rc;
}

#define import_ok(db, spec)                                                    \
	do {                                                                   \
		struct err ie_ = {0};                                          \
		int irc_ = import_g(db, GVR, spec, &ie_);                      \
		if (irc_ != 0)                                                 \
			fprintf(stderr, "import: %s\n", ie_.msg);              \
		assert_int_equal(irc_, 0);                                     \
	} while (0)

#endif
