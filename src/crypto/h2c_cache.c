/*
 * h2c_cache.c: the hash-to-G2 cache. Half the cost of a BLS signature is
 * hashing the message to G2 (about 200 us with blst), and the duties that
 * make up a signer's load sign the same message for many validators (one
 * AttestationData per slot since Electra, the sync committee's block root,
 * one RANDAO epoch, one aggregation slot). This cache keeps the points of
 * recent signing roots so that such a burst pays the hash once; each key
 * still pays its own multiplication (bls_sign_point).
 *
 * What it holds is public: a signing root is the hash of a public message
 * and its point is a deterministic function of it (anyone can compute it).
 * No secret ever enters the cache, so it lives in ordinary memory, not the
 * secure allocator, and needs no constant-time care beyond blst's own: the
 * only secret-dependent work, the multiplication, happens outside it with
 * blst_sign_pk_in_g1 exactly as before. A hit or a miss can reveal which
 * roots were signed recently, which the requests themselves already reveal.
 *
 * Shape: a set-associative table, WAYS entries per set, the set chosen by
 * the root's first 8 bytes (a SHA-256 output, so spread evenly). A set's
 * victim is an empty entry, else the one least recently used (last_use: the
 * count of lookups when it was last hit or filled, a relaxed atomic outside
 * the entry's lock, on a cache line of its own so that hits do not disturb
 * the readers of the point).
 *
 * Concurrency (no lock on the hit path): each entry is a seqlock. Readers
 * copy the state, root and point with relaxed atomic loads between two
 * reads of seq and retry when a writer was in (seq odd) or came in between;
 * the fences follow Boehm's "Can seqlocks get along with programming
 * language memory models?" (2012). Writers take an entry by moving seq from
 * even to odd with a compare-and-swap, so writers never wait on a lock
 * either: one that loses the race retries or gives up (nothing is lost but
 * a cache fill). A miss marks an entry PENDING for its root before hashing
 * and fills it after, and a concurrent miss for the same root waits (yielding)
 * for that fill for at most WAIT_US, then hashes on its own; so a burst of
 * requests for one new root computes it once, or a few times when two
 * threads miss at the same instant or the first is descheduled. A PENDING
 * entry older than WAIT_US counts as stale: it is never waited for and may
 * be evicted, so no thread can leave the cache waiting.
 */
#include "crypto.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define ROOT_WORDS 4
#define POINT_WORDS (BLS_G2_POINT_LEN / 8)
/* About ten hash_to_g2 computations: longer than any fill that runs. */
#define WAIT_US 2000
/* Retries of a read that met a writer before the entry is skipped. */
#define READ_TRIES 64

enum entry_state { ENTRY_EMPTY, ENTRY_PENDING, ENTRY_READY };

struct entry {
	_Alignas(64) _Atomic uint32_t seq; /* odd while a writer is in */
	/* under seq */
	_Atomic uint32_t state;
	_Atomic uint64_t since_us; /* PENDING: when it was claimed */
	_Atomic uint64_t root[ROOT_WORDS];
	_Atomic uint64_t point[POINT_WORDS];
	/* outside seq: an eviction hint */
	_Alignas(64) _Atomic uint64_t last_use;
};

struct bls_h2c_cache {
	size_t nsets;
	struct entry *entries; /* nsets * WAYS */
	_Atomic uint64_t hits, misses, waits, computed;
};

int bls_h2c_cache_new(size_t entries, struct bls_h2c_cache **out,
		      struct err *e)
{
	if (entries == 0 || entries > 65536)
		return err_set(e, ERR_INVALID,
			       "hash-to-G2 cache: %zu entries (1..65536)", entries);
	struct bls_h2c_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, ERR_NOMEM, "out of memory");
	c->nsets = (entries + WAYS - 1) / WAYS;
	size_t bytes = c->nsets * WAYS * sizeof(struct entry);
	void *mem = NULL;
	if (posix_memalign(&mem, 64, bytes) != 0) {
		free(c);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	memset(mem, 0, bytes); /* every entry EMPTY, seq 0 */
	c->entries = mem;
	*out = c;
	return 0;
}

void bls_h2c_cache_free(struct bls_h2c_cache *c)
{
	if (!c)
		return;
	free(c->entries);
	free(c);
}

void bls_h2c_cache_stats(const struct bls_h2c_cache *c,
			 struct bls_h2c_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	out->hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
	out->misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
	out->waits = atomic_load_explicit(&c->waits, memory_order_relaxed);
	out->computed = atomic_load_explicit(&c->computed, memory_order_relaxed);
}

/* ---- one entry: the seqlock ------------------------------------------- */

struct snapshot {
	uint32_t state;
	uint64_t since_us;
	uint64_t root[ROOT_WORDS];
};

static bool same_root(const uint64_t a[ROOT_WORDS], const uint64_t b[ROOT_WORDS])
{
	return memcmp(a, b, ROOT_WORDS * sizeof(uint64_t)) == 0;
}

/*
 * A consistent copy of the entry's state and root, and of its point into
 * *pt when the entry is READY for `want`. False when a writer interfered
 * (nothing copied may be used then).
 */
static bool read_once(struct entry *en, const uint64_t want[ROOT_WORDS],
		      struct snapshot *sn, struct bls_msg_point *pt)
{
	uint32_t s1 = atomic_load_explicit(&en->seq, memory_order_acquire);
	if (s1 & 1)
		return false;
	sn->state = atomic_load_explicit(&en->state, memory_order_relaxed);
	sn->since_us = atomic_load_explicit(&en->since_us, memory_order_relaxed);
	for (int i = 0; i < ROOT_WORDS; i++)
		sn->root[i] = atomic_load_explicit(&en->root[i],
						   memory_order_relaxed);
	if (sn->state == ENTRY_READY && same_root(sn->root, want))
		for (int i = 0; i < POINT_WORDS; i++)
			pt->w[i] = atomic_load_explicit(&en->point[i],
							memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&en->seq, memory_order_relaxed) == s1;
}

static bool read_entry(struct entry *en, const uint64_t want[ROOT_WORDS],
		       struct snapshot *sn, struct bls_msg_point *pt)
{
	for (int t = 0; t < READ_TRIES; t++) {
		if (read_once(en, want, sn, pt))
			return true;
		if (t >= 8)
			sched_yield(); /* a writer was descheduled while in */
	}
	return false;
}

/* Takes the entry for writing: false when another writer is in. */
static bool try_lock(struct entry *en, uint32_t *seq)
{
	uint32_t v = atomic_load_explicit(&en->seq, memory_order_relaxed);
	if ((v & 1) ||
	    !atomic_compare_exchange_strong_explicit(&en->seq, &v, v + 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		return false;
	atomic_thread_fence(memory_order_release);
	*seq = v;
	return true;
}

static void unlock(struct entry *en, uint32_t seq)
{
	atomic_store_explicit(&en->seq, seq + 2, memory_order_release);
}

/* Writers hold an entry only for a few hundred bytes of stores. */
static bool lock_soon(struct entry *en, uint32_t *seq)
{
	for (int t = 0; t < READ_TRIES; t++) {
		if (try_lock(en, seq))
			return true;
		if (t >= 8)
			sched_yield();
	}
	return false;
}

static void write_root(struct entry *en, const uint64_t key[ROOT_WORDS])
{
	for (int i = 0; i < ROOT_WORDS; i++)
		atomic_store_explicit(&en->root[i], key[i], memory_order_relaxed);
}

static void write_point(struct entry *en, const struct bls_msg_point *pt)
{
	for (int i = 0; i < POINT_WORDS; i++)
		atomic_store_explicit(&en->point[i], pt->w[i],
				      memory_order_relaxed);
}

static void set_state(struct entry *en, enum entry_state st, uint64_t since)
{
	atomic_store_explicit(&en->state, st, memory_order_relaxed);
	atomic_store_explicit(&en->since_us, since, memory_order_relaxed);
}

/* ---- a set --------------------------------------------------------------- */

enum found { FOUND_NONE, FOUND_PENDING, FOUND_READY };

static bool stale(const struct snapshot *sn, uint64_t now)
{
	return sn->state == ENTRY_PENDING && now - sn->since_us > WAIT_US;
}

/* The set's entry for key: READY (point copied, *at set) over PENDING. */
static enum found find(struct entry *set, const uint64_t key[ROOT_WORDS],
		       struct bls_msg_point *pt, struct entry **at)
{
	enum found f = FOUND_NONE;
	uint64_t now = 0;
	for (int w = 0; w < WAYS; w++) {
		struct snapshot sn;
		if (!read_entry(&set[w], key, &sn, pt) ||
		    sn.state == ENTRY_EMPTY || !same_root(sn.root, key))
			continue;
		if (sn.state == ENTRY_READY) {
			*at = &set[w];
			return FOUND_READY;
		}
		if (!now)
			now = clock_mono_us();
		if (!stale(&sn, now))
			f = FOUND_PENDING;
	}
	return f;
}

/* The recency clock: lookups so far. */
static uint64_t uses(const struct bls_h2c_cache *c)
{
	return atomic_load_explicit(&c->hits, memory_order_relaxed) +
	       atomic_load_explicit(&c->misses, memory_order_relaxed);
}

static void touch(struct bls_h2c_cache *c, struct entry *en)
{
	atomic_store_explicit(&en->last_use, uses(c), memory_order_relaxed);
}

/* An empty entry, else the least recently used one not being filled. */
static struct entry *victim(struct entry *set, uint64_t now)
{
	struct entry *best = NULL;
	uint64_t best_use = UINT64_MAX;
	for (int w = 0; w < WAYS; w++) {
		struct snapshot sn;
		struct bls_msg_point unused;
		static const uint64_t none[ROOT_WORDS];
		if (!read_entry(&set[w], none, &sn, &unused))
			continue;
		if (sn.state == ENTRY_EMPTY)
			return &set[w];
		if (sn.state == ENTRY_PENDING && !stale(&sn, now))
			continue;
		uint64_t use = atomic_load_explicit(&set[w].last_use,
						    memory_order_relaxed);
		if (use < best_use) {
			best = &set[w];
			best_use = use;
		}
	}
	return best;
}

/* Marks a victim PENDING for key, so concurrent misses wait for our fill. */
static void claim(struct bls_h2c_cache *c, struct entry *set,
		  const uint64_t key[ROOT_WORDS])
{
	uint64_t now = clock_mono_us();
	struct entry *en = victim(set, now);
	uint32_t seq;
	if (!en || !try_lock(en, &seq))
		return; /* every entry busy: hash without announcing it */
	uint32_t st = atomic_load_explicit(&en->state, memory_order_relaxed);
	uint64_t since = atomic_load_explicit(&en->since_us,
					      memory_order_relaxed);
	if (st != ENTRY_PENDING || now - since > WAIT_US) {
		write_root(en, key);
		set_state(en, ENTRY_PENDING, now);
		touch(c, en);
	}
	unlock(en, seq);
}

/*
 * Fills every PENDING entry of the set that waits for key (two threads may
 * have claimed one each); when none does and the key is not cached, fills
 * a victim.
 */
static void publish(struct bls_h2c_cache *c, struct entry *set,
		    const uint64_t key[ROOT_WORDS],
		    const struct bls_msg_point *pt)
{
	bool cached = false;
	for (int w = 0; w < WAYS; w++) {
		struct entry *en = &set[w];
		uint32_t seq;
		struct snapshot sn;
		struct bls_msg_point unused;
		if (!read_entry(en, key, &sn, &unused) ||
		    sn.state == ENTRY_EMPTY || !same_root(sn.root, key))
			continue;
		if (sn.state == ENTRY_READY) {
			cached = true;
			continue;
		}
		if (!lock_soon(en, &seq))
			continue;
		uint64_t cur[ROOT_WORDS];
		for (int i = 0; i < ROOT_WORDS; i++)
			cur[i] = atomic_load_explicit(&en->root[i],
						      memory_order_relaxed);
		if (same_root(cur, key)) {
			write_point(en, pt);
			set_state(en, ENTRY_READY, 0);
			cached = true;
		}
		unlock(en, seq);
	}
	if (cached)
		return;
	struct entry *en = victim(set, clock_mono_us());
	uint32_t seq;
	if (!en || !try_lock(en, &seq))
		return;
	write_root(en, key);
	write_point(en, pt);
	set_state(en, ENTRY_READY, 0);
	touch(c, en);
	unlock(en, seq);
}

/* ---- lookups ---------------------------------------------------------------- */

bool bls_h2c_cache_get(struct bls_h2c_cache *c, const uint8_t root[32],
		       struct bls_msg_point *out)
{
	if (!c) {
		bls_hash_msg(root, 32, out);
		return false;
	}
	uint64_t key[ROOT_WORDS];
	memcpy(key, root, sizeof(key));
	struct entry *set = c->entries + (key[0] % c->nsets) * WAYS;
	struct entry *at = NULL;
	enum found f = find(set, key, out, &at);
	if (f == FOUND_READY) {
		atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
		touch(c, at);
		return true;
	}
	atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
	if (f == FOUND_PENDING) {
		atomic_fetch_add_explicit(&c->waits, 1, memory_order_relaxed);
		uint64_t deadline = clock_mono_us() + WAIT_US;
		do {
			sched_yield();
			f = find(set, key, out, &at);
		} while (f == FOUND_PENDING && clock_mono_us() < deadline);
		if (f == FOUND_READY) {
			touch(c, at);
			return false;
		}
	}
	if (f == FOUND_NONE)
		claim(c, set, key);
	bls_hash_msg(root, 32, out);
	atomic_fetch_add_explicit(&c->computed, 1, memory_order_relaxed);
	publish(c, set, key, out);
	return false;
}

void bls_h2c_cache_sign(struct bls_h2c_cache *c, const struct bls_key *k,
			const uint8_t root[32], uint8_t sig[BLS_SIG_LEN])
{
	struct bls_msg_point h;
	(void)bls_h2c_cache_get(c, root, &h);
	bls_sign_point(k, &h, sig);
}
