/*
 * slashing_size: two measurements of the slashing-protection engine.
 *
 *   build/bin/slashing_size [--dir=DIR] [--epochs=N] [--validators=V]
 *                           [--rounds=R]
 *
 * 1. Size: one validator attests every epoch (source = target - 1) and
 *    proposes every 50th epoch for N epochs (default 82,125: one year of
 *    6.4-minute epochs), with the default pruning (keep 250 epochs, every
 *    12 hours = every 112 epochs), then without pruning. Prints the
 *    database size (page_count * page_size) of both. Runs in DIR (default
 *    /dev/shm when present: the size does not depend on fsync).
 * 2. Burst: V validators (default 312) each send one attestation at the same
 *    instant (threads released by a barrier), R rounds (default 20), against
 *    a database in /tmp with synchronous=FULL: p50/p99 latency of the
 *    check-and-record, and bursts per second of check + BLS sign against
 *    BLS sign alone, measured in the same run (the ratio is what the
 *    signer's throughput target is about).
 */
#include "crypto/crypto.h"
#include "slashing/slashing.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t GVR[32] = {0x04, 0x70};

static void die(const char *what, const struct err *e)
{
	fprintf(stderr, "slashing_size: %s: %s\n", what, e ? e->msg : "");
	exit(1);
}

static void root_of(uint64_t n, uint8_t r[32])
{
	memset(r, 0, 32);
	memcpy(r, &n, sizeof(n));
}

static uint64_t simulate_year(const char *dir, uint64_t epochs, bool prune)
{
	char path[512], url[600], wal[600];
	snprintf(path, sizeof(path), "%s/slashing-size-%d-%d.db", dir, (int)getpid(),
		 prune);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	struct slashing_db *db;
	struct err e = {0};
	if (slashing_open(url, NULL, &db, &e) < 0)
		die("open", &e);
	slashing_set_pruning(db, 250, 32, 0); /* driven below, on epoch time */
	uint8_t pk[48], r[32];
	memset(pk, 0xa5, 48);
	for (uint64_t t = 1; t <= epochs; t++) {
		enum slashing_reason d;
		root_of(t, r);
		if (slashing_check_attestation(db, pk, GVR, t - 1, t, r, &d, &e) < 0 ||
		    d != SLASHING_OK)
			die("attestation", &e);
		if (t % 50 == 0 &&
		    (slashing_check_block(db, pk, GVR, t * 32 + 7, r, &d, &e) < 0 ||
		     d != SLASHING_OK))
			die("block", &e);
		if (prune && t % 112 == 0 && slashing_prune(db, 250, 32, &e) < 0)
			die("prune", &e);
	}
	struct slashing_usage u;
	if (slashing_usage(db, &u, &e) < 0 || !u.has_bytes)
		die("size", &e);
	uint64_t bytes = u.bytes;
	slashing_close(db);
	unlink(path);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	unlink(wal);
	return bytes;
}

/* ---- burst ---------------------------------------------------------------- */

struct burst {
	struct slashing_db *db; /* NULL: sign only */
	struct bls_key *key;
	pthread_barrier_t *start;
	int v;
	int rounds;
	uint64_t *lat_us; /* rounds entries */
};

static void *burst_thread(void *arg)
{
	struct burst *b = arg;
	uint8_t pk[48], r[32], sig[96];
	memset(pk, 0x11, 48);
	pk[0] = 0x80 | (uint8_t)(b->v >> 8);
	pk[47] = (uint8_t)b->v;
	for (int i = 0; i < b->rounds; i++) {
		pthread_barrier_wait(b->start);
		uint64_t t0 = clock_mono_us();
		root_of((uint64_t)b->v << 32 | (uint64_t)i, r);
		if (b->db) {
			enum slashing_reason d;
			struct err e = {0};
			if (slashing_check_attestation(b->db, pk, GVR, (uint64_t)i,
						       (uint64_t)i + 1, r, &d, &e) < 0 ||
			    d != SLASHING_OK)
				die("burst attestation", &e);
		}
		b->lat_us[i] = clock_mono_us() - t0;
		if (b->key)
			bls_sign(b->key, r, 32, sig);
		pthread_barrier_wait(b->start);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Returns bursts/s; fills p50/p99 of the per-request latency before signing. */
static double run_burst(struct slashing_db *db, struct bls_key *key, int nv,
			int rounds, uint64_t *p50, uint64_t *p99)
{
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, (unsigned)nv + 1);
	pthread_t *th = calloc((size_t)nv, sizeof(*th));
	struct burst *b = calloc((size_t)nv, sizeof(*b));
	uint64_t *lat = calloc((size_t)nv * (size_t)rounds, sizeof(*lat));
	for (int v = 0; v < nv; v++) {
		b[v] = (struct burst){db, key, &start, v, rounds, lat + (size_t)v * (size_t)rounds};
		pthread_create(&th[v], NULL, burst_thread, &b[v]);
	}
	uint64_t total = 0;
	for (int i = 0; i < rounds; i++) {
		uint64_t t0 = clock_mono_us();
		pthread_barrier_wait(&start); /* go */
		pthread_barrier_wait(&start); /* all done */
		total += clock_mono_us() - t0;
	}
	for (int v = 0; v < nv; v++)
		pthread_join(th[v], NULL);
	qsort(lat, (size_t)nv * (size_t)rounds, sizeof(*lat), cmp_u64);
	size_t n = (size_t)nv * (size_t)rounds;
	*p50 = lat[n / 2];
	*p99 = lat[n * 99 / 100];
	free(th);
	free(b);
	free(lat);
	pthread_barrier_destroy(&start);
	return (double)rounds * 1e6 / (double)total;
}

int main(int argc, char **argv)
{
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	uint64_t epochs = 82125;
	int nv = 312, rounds = 20;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--dir=", 6))
			dir = argv[i] + 6;
		else if (!strncmp(argv[i], "--epochs=", 9))
			epochs = strtoull(argv[i] + 9, NULL, 10);
		else if (!strncmp(argv[i], "--validators=", 13))
			nv = atoi(argv[i] + 13);
		else if (!strncmp(argv[i], "--rounds=", 9))
			rounds = atoi(argv[i] + 9);
		else {
			fprintf(stderr, "usage: slashing_size [--dir=DIR] [--epochs=N] "
					"[--validators=V] [--rounds=R]\n");
			return 2;
		}
	}
	log_setup(LOG_WARN, LOG_FORMAT_TEXT);
	secret_init();
	uint64_t with = simulate_year(dir, epochs, true);
	printf("size: one validator, %llu epochs (1 vote/epoch, 1 block/50 epochs)\n",
	       (unsigned long long)epochs);
	printf("  with pruning (keep 250 epochs, every 112 epochs): %llu bytes\n",
	       (unsigned long long)with);
	uint64_t without = simulate_year(dir, epochs, false);
	printf("  without pruning:                                   %llu bytes\n",
	       (unsigned long long)without);

	char path[256], url[300];
	snprintf(path, sizeof(path), "/tmp/slashing-burst-%d.db", (int)getpid());
	snprintf(url, sizeof(url), "sqlite:%s", path);
	struct slashing_db *db;
	struct err e = {0};
	if (slashing_open(url, NULL, &db, &e) < 0)
		die("open", &e);
	struct bls_key *key;
	if (bls_key_generate(&key, &e) < 0)
		die("key", &e);
	uint64_t p50, p99, s50, s99;
	double prot_only = run_burst(db, NULL, nv, rounds, &p50, &p99);
	slashing_close(db);
	unlink(path);
	if (slashing_open(url, NULL, &db, &e) < 0)
		die("open", &e);
	double with_sign = run_burst(db, key, nv, rounds, &s50, &s99);
	uint64_t b50, b99;
	double sign_only = run_burst(NULL, key, nv, rounds, &b50, &b99);
	printf("burst: %d validators x 1 attestation at once, %d rounds, %d cores, "
	       "synchronous=FULL in /tmp\n", nv, rounds, cpu_count());
	printf("  check+record only: p50 %llu us, p99 %llu us, %.0f attestations/s\n",
	       (unsigned long long)p50, (unsigned long long)p99, prot_only * nv);
	printf("  check+record+sign: %.1f bursts/s (check p50 %llu us, p99 %llu us)\n",
	       with_sign, (unsigned long long)s50, (unsigned long long)s99);
	printf("  sign only:         %.1f bursts/s\n", sign_only);
	printf("  ratio protected/unprotected: %.2f\n", with_sign / sign_only);
	bls_key_free(key);
	slashing_close(db);
	unlink(path);
	char aux[320];
	snprintf(aux, sizeof(aux), "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", path);
	unlink(aux);
	return 0;
}
