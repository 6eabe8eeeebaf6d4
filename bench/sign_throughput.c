/*
 * sign_throughput: HTTPS signing throughput of the real nitro-signer binary
 * against raw blst signing on the same cores, measured in the same run.
 *
 *   build/bin/sign_throughput [--keys=N] [--seconds=S] [--clients=C]
 *                             [--client-threads=T]
 *                             [--type=randao|attestation]
 *                             [--messages=distinct|shared] [--signer=PATH]
 *
 * 1. Baseline: one thread per core signs 32-byte roots with blst (through
 *    our thin bls_sign wrapper, which is blst_hash_to_g2 + blst_sign_pk_in_g1
 *    + compress) for S seconds: raw signatures per second. Measured before
 *    and after the HTTPS phase; the ratio uses the faster of the two.
 * 2. Starts nitro-signer with N random file-raw keys, TLS from a fresh
 *    self-signed P-256 certificate (PKCS#12), then T client threads drive C
 *    keep-alive TLS connections with epoll, one request in flight per
 *    connection, sending RANDAO_REVEAL (or ATTESTATION) requests back to
 *    back for S seconds and checking every reply is a 200 with a
 *    signature. --messages=distinct (the default) gives every request its
 *    own message (epoch, or slot and epochs), so no two share a signing
 *    root; shared gives every request the same one (one RANDAO epoch for
 *    all keys, one AttestationData for all), as a slot's duties do, so the
 *    signer's hash-to-G2 cache answers all but the first. Clients share the machine's cores with the server, which is
 *    the deployment's worst case, not its best.
 * Prints requests/s, the ratio to raw blst, p50/p99 latency, and the
 * signer's hash-to-G2 cache hits and misses over the measured phase; and,
 * less disturbed by other load on a shared machine, CPU time per request
 * (signer and client together) against CPU time per raw signature (the
 * cheaper of the two baselines), which is the throughput ratio cores
 * saturated by the signer alone would give.
 * First, in-process: what a cache miss and a hit cost against bls_sign.
 */
#include "crypto/crypto.h"
#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int opt_keys = 16, opt_seconds = 5, opt_clients = 8, opt_client_threads = 1;
static const char *opt_type = "randao";
static bool opt_shared;
static char signer_arg[512];
static struct bench_fixture fx;

/* ---- baseline ---------------------------------------------------------- */

struct base_arg {
	struct bls_key *key;
	double seconds;
	uint64_t ops;
};

static void *baseline_thread(void *p)
{
	struct base_arg *a = p;
	uint8_t msg[32] = {0}, sig[BLS_SIG_LEN];
	uint64_t t_end = clock_mono_us() + (uint64_t)(a->seconds * 1e6);
	while (clock_mono_us() < t_end) {
		for (int i = 0; i < 8; i++) {
			msg[0]++;
			bls_sign(a->key, msg, sizeof(msg), sig);
		}
		a->ops += 8;
	}
	return NULL;
}

/* CPU microseconds per raw signature in the last baseline (all threads). */
static double raw_cpu_per_sig;

static double measure_baseline(int threads, double seconds)
{
	double c0 = bench_self_cpu_us();
	pthread_t t[64];
	struct base_arg args[64];
	struct err e;
	for (int i = 0; i < threads; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].seconds = seconds;
		if (bls_key_generate(&args[i].key, &e) < 0)
			bench_die("key generation failed");
		pthread_create(&t[i], NULL, baseline_thread, &args[i]);
	}
	uint64_t total = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += args[i].ops;
		bls_key_free(args[i].key);
	}
	raw_cpu_per_sig = (bench_self_cpu_us() - c0) / (double)total;
	return (double)total / seconds;
}

/*
 * What the hash-to-G2 cache costs and saves in-process, one thread: n
 * signatures of distinct roots with bls_sign (today's path), through the
 * cache with distinct roots (every one a miss: lookup, claim, hash, fill),
 * and through the cache with one root (hits). Interleaved in blocks so
 * drift hits all three alike; the per-signature median of the blocks.
 */
static void measure_cache_costs(int blocks, int per_block)
{
	struct bls_key *k = NULL;
	struct bls_h2c_cache *c = NULL;
	struct err e;
	if (bls_key_generate(&k, &e) < 0 ||
	    bls_h2c_cache_new(64, &c, &e) < 0)
		bench_die("cache set-up failed");
	double *t[3];
	for (int m = 0; m < 3; m++)
		if (!(t[m] = calloc((size_t)blocks, sizeof(double))))
			bench_die("out of memory");
	uint8_t msg[32] = {1}, sig[BLS_SIG_LEN];
	uint64_t ctr = 0;
	for (int b = 0; b < blocks; b++)
		for (int m = 0; m < 3; m++) {
			uint64_t t0 = clock_mono_us();
			for (int i = 0; i < per_block; i++) {
				if (m < 2) {
					ctr++;
					memcpy(msg, &ctr, sizeof(ctr));
				}
				if (m == 0)
					bls_sign(k, msg, sizeof(msg), sig);
				else
					bls_h2c_cache_sign(c, k, msg, sig);
			}
			t[m][b] = (double)(clock_mono_us() - t0) / per_block;
		}
	for (int m = 0; m < 3; m++)
		for (int i = 1; i < blocks; i++)
			for (int j = i; j > 0 && t[m][j - 1] > t[m][j]; j--) {
				double x = t[m][j];
				t[m][j] = t[m][j - 1];
				t[m][j - 1] = x;
			}
	double raw = t[0][blocks / 2], miss = t[1][blocks / 2],
	       hit = t[2][blocks / 2];
	struct bls_h2c_stats st;
	bls_h2c_cache_stats(c, &st);
	printf("in-process, one thread: bls_sign %.1f us; through the cache, "
	       "miss %.1f us (%.3f x), hit %.1f us (%.2f x) [%llu misses, %llu "
	       "hits]\n", raw, miss, miss / raw, hit, hit / raw,
	       (unsigned long long)st.misses, (unsigned long long)st.hits);
	for (int m = 0; m < 3; m++)
		free(t[m]);
	bls_h2c_cache_free(c);
	bls_key_free(k);
}

/* ---- HTTPS client ---------------------------------------------------------- */

static int server_port;
static atomic_bool stop_clients;

struct client {
	int id;
	int conns;
	uint64_t ok, bad;
	uint32_t *lat_us;
	size_t nlat, cap;
};

static int build_request(char *buf, size_t cap, int key, uint64_t n)
{
	char body[1024];
	int blen;
	if (opt_shared)
		n = 0;
	if (strcmp(opt_type, "attestation") == 0)
		blen = snprintf(body, sizeof(body),
			"{\"type\":\"ATTESTATION\",\"fork_info\":{\"fork\":{"
			"\"previous_version\":\"0x05000000\",\"current_version\":"
			"\"0x06000000\",\"epoch\":\"411392\"},"
			"\"genesis_validators_root\":\"0x4b363db94e286120d76eb905"
			"340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\"},"
			"\"attestation\":{\"slot\":\"%llu\",\"index\":\"0\","
			"\"beacon_block_root\":\"0x%064d\",\"source\":{\"epoch\":"
			"\"%llu\",\"root\":\"0x%064d\"},\"target\":{\"epoch\":"
			"\"%llu\",\"root\":\"0x%064d\"}}}",
			(unsigned long long)(13200000 + n), 0,
			(unsigned long long)(412000 + n), 0,
			(unsigned long long)(412001 + n), 0);
	else
		blen = snprintf(body, sizeof(body),
			"{\"type\":\"RANDAO_REVEAL\",\"fork_info\":{\"fork\":{"
			"\"previous_version\":\"0x05000000\",\"current_version\":"
			"\"0x06000000\",\"epoch\":\"411392\"},"
			"\"genesis_validators_root\":\"0x4b363db94e286120d76eb905"
			"340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\"},"
			"\"randao_reveal\":{\"epoch\":\"%llu\"}}",
			(unsigned long long)(412000 + n));
	return snprintf(buf, cap,
			"POST /api/v1/eth2/sign/%s HTTP/1.1\r\nHost: localhost\r\n"
			"Content-Type: application/json\r\nAccept: application/json\r\n"
			"Content-Length: %d\r\n\r\n%s",
			fx.pubkeys[key], blen, body);
}

/*
 * One client thread drives `conns` keep-alive TLS connections with epoll,
 * one request in flight per connection (no pipelining), as an async
 * validator client does. Fewer client threads than connections keeps the
 * client's own cost (which shares the cores with the server) low.
 */
struct conn {
	SSL *ssl;
	int fd;
	uint64_t n, t0;
	char resp[4096];
	size_t got;
};

static int send_next(struct client *c, struct conn *k)
{
	char req[2048];
	int len = build_request(req, sizeof(req), (int)(k->n % (uint64_t)opt_keys),
				k->n);
	k->n++;
	k->got = 0;
	k->t0 = clock_mono_us();
	/* A request is far smaller than the socket buffer: a blocking-style
	 * retry on WANT_WRITE never spins for long. */
	for (;;) {
		int w = SSL_write(k->ssl, req, len);
		if (w == len)
			return 0;
		int err = SSL_get_error(k->ssl, w);
		if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ)
			return -1;
	}
}

/* 1 when a complete 200 with a signature arrived, 0 when more is needed,
 * -1 on error. */
static int on_readable(struct conn *k)
{
	for (;;) {
		int r = SSL_read(k->ssl, k->resp + k->got,
				 (int)(sizeof(k->resp) - 1 - k->got));
		if (r <= 0) {
			int err = SSL_get_error(k->ssl, r);
			return err == SSL_ERROR_WANT_READ ? 0 : -1;
		}
		k->got += (size_t)r;
		k->resp[k->got] = '\0';
		char *hdr_end = strstr(k->resp, "\r\n\r\n");
		if (!hdr_end)
			continue;
		char *cl = strcasestr(k->resp, "Content-Length:");
		if (!cl)
			return -1;
		size_t want = (size_t)(hdr_end + 4 - k->resp) + (size_t)atol(cl + 15);
		if (k->got < want) {
			if (k->got >= sizeof(k->resp) - 1)
				return -1;
			continue;
		}
		if (atoi(k->resp + 9) != 200 ||
		    !strstr(k->resp, "\"signature\":\"0x"))
			return -1;
		return 1;
	}
}

static void record(struct client *c, uint64_t dt)
{
	c->ok++;
	if (c->nlat == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4096;
		c->lat_us = realloc(c->lat_us, c->cap * sizeof(uint32_t));
	}
	c->lat_us[c->nlat++] = (uint32_t)dt;
}

static void *client_thread(void *p)
{
	struct client *c = p;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct conn *ks = calloc((size_t)c->conns, sizeof(*ks));
	if (ep < 0 || !ks) {
		c->bad++;
		return NULL;
	}
	for (int i = 0; i < c->conns; i++) {
		ks[i].ssl = bench_connect(&fx, server_port);
		if (!ks[i].ssl) {
			c->bad++;
			goto out;
		}
		ks[i].fd = SSL_get_fd(ks[i].ssl);
		ks[i].n = ((uint64_t)c->id * 64 + (uint64_t)i) * 1000000;
		int fl = fcntl(ks[i].fd, F_GETFL);
		fcntl(ks[i].fd, F_SETFL, fl | O_NONBLOCK);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ks[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, ks[i].fd, &ev);
	}
	for (int i = 0; i < c->conns; i++)
		if (send_next(c, &ks[i]) < 0) {
			c->bad++;
			goto out;
		}
	struct epoll_event evs[64];
	while (!atomic_load(&stop_clients)) {
		int n = epoll_wait(ep, evs, 64, 100);
		for (int i = 0; i < n; i++) {
			struct conn *k = evs[i].data.ptr;
			int r = on_readable(k);
			if (r < 0) {
				c->bad++;
				goto out;
			}
			if (r == 1) {
				record(c, clock_mono_us() - k->t0);
				if (send_next(c, k) < 0) {
					c->bad++;
					goto out;
				}
			}
		}
	}
out:
	for (int i = 0; i < c->conns; i++)
		bench_close(ks[i].ssl);
	free(ks);
	close(ep);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void run_clients(double seconds, uint64_t *ok, uint64_t *bad,
			uint32_t **lat, size_t *nlat)
{
	pthread_t t[64];
	struct client cs[64];
	atomic_store(&stop_clients, false);
	for (int i = 0; i < opt_client_threads; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		cs[i].id = i;
		cs[i].conns = opt_clients / opt_client_threads +
			      (i < opt_clients % opt_client_threads);
		pthread_create(&t[i], NULL, client_thread, &cs[i]);
	}
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&stop_clients, true);
	*ok = *bad = 0;
	*nlat = 0;
	*lat = NULL;
	for (int i = 0; i < opt_client_threads; i++) {
		pthread_join(t[i], NULL);
		*ok += cs[i].ok;
		*bad += cs[i].bad;
		*lat = realloc(*lat, (*nlat + cs[i].nlat + 1) * sizeof(uint32_t));
		memcpy(*lat + *nlat, cs[i].lat_us, cs[i].nlat * sizeof(uint32_t));
		*nlat += cs[i].nlat;
		free(cs[i].lat_us);
	}
}

int main(int argc, char **argv)
{
	bench_set_name("sign_throughput");
	for (int i = 1; i < argc; i++) {
		if (sscanf(argv[i], "--keys=%d", &opt_keys) == 1 ||
		    sscanf(argv[i], "--seconds=%d", &opt_seconds) == 1 ||
		    sscanf(argv[i], "--clients=%d", &opt_clients) == 1 ||
		    sscanf(argv[i], "--client-threads=%d", &opt_client_threads) == 1)
			continue;
		if (strncmp(argv[i], "--type=", 7) == 0) {
			opt_type = argv[i] + 7;
			continue;
		}
		if (strcmp(argv[i], "--messages=distinct") == 0 ||
		    strcmp(argv[i], "--messages=shared") == 0) {
			opt_shared = argv[i][11] == 's';
			continue;
		}
		if (strncmp(argv[i], "--signer=", 9) == 0) {
			snprintf(signer_arg, sizeof(signer_arg), "%s", argv[i] + 9);
			continue;
		}
		fprintf(stderr, "usage: sign_throughput [--keys=N] [--seconds=S] "
			"[--clients=C] [--client-threads=T] "
			"[--type=randao|attestation] "
			"[--messages=distinct|shared] [--signer=PATH]\n");
		return 2;
	}
	if (opt_keys < 1 || opt_keys > 1024 || opt_clients < 1 ||
	    opt_clients > 1024 || opt_seconds < 1 || opt_client_threads < 1 ||
	    opt_client_threads > 64 || opt_client_threads > opt_clients)
		bench_die("out-of-range option");
	secret_init();
	signal(SIGPIPE, SIG_IGN);
	int cores = cpu_count();

	bench_fixture_init(&fx, "ns-bench", opt_keys,
			   signer_arg[0] ? signer_arg : NULL);
	server_port = bench_free_port();
	pid_t pid = bench_start_signer(&fx, server_port,
				       "--slashing-protection-enabled=false");
	if (!bench_wait_ready(&fx, server_port)) {
		bench_stop_signer(pid);
		bench_die("signer did not start");
	}

	printf("cores: %d, keys: %d, connections: %d on %d client thread%s, "
	       "type: %s, %s messages, %d s per phase\n", cores, opt_keys,
	       opt_clients, opt_client_threads,
	       opt_client_threads == 1 ? "" : "s", opt_type,
	       opt_shared ? "shared" : "distinct", opt_seconds);
	measure_cache_costs(15, 100);
	double raw1 = measure_baseline(cores, opt_seconds);
	double raw_cpu1 = raw_cpu_per_sig;

	uint64_t ok, bad;
	uint32_t *lat;
	size_t nlat;
	run_clients(1.0, &ok, &bad, &lat, &nlat); /* warm-up */
	free(lat);
	double h0 = bench_metric(&fx, server_port,
				 "nitro_signer_h2c_cache_hits_total");
	double m0 = bench_metric(&fx, server_port,
				 "nitro_signer_h2c_cache_misses_total");
	double cpu0 = bench_self_cpu_us() + bench_proc_cpu_us(pid);
	run_clients(opt_seconds, &ok, &bad, &lat, &nlat);
	double cpu_per_req = (bench_self_cpu_us() + bench_proc_cpu_us(pid) -
			      cpu0) / (double)(ok ? ok : 1);
	double hits = bench_metric(&fx, server_port,
				   "nitro_signer_h2c_cache_hits_total") - h0;
	double misses = bench_metric(&fx, server_port,
				     "nitro_signer_h2c_cache_misses_total") - m0;
	/* Baseline again after the server phase; the ratio uses the faster of
	 * the two, so a disturbed baseline can only make us look worse. */
	double raw2 = measure_baseline(cores, opt_seconds);
	double raw = raw1 > raw2 ? raw1 : raw2;
	double raw_cpu = raw_cpu_per_sig < raw_cpu1 ? raw_cpu_per_sig : raw_cpu1;
	printf("raw blst signing: %.0f signatures/s on %d threads (before %.0f, "
	       "after %.0f)\n", raw, cores, raw1, raw2);
	bench_stop_signer(pid);
	bench_fixture_cleanup(&fx);
	if (bad || !nlat) {
		free(lat);
		bench_die("signing requests failed");
	}
	qsort(lat, nlat, sizeof(uint32_t), cmp_u32);
	double rps = (double)ok / opt_seconds;
	printf("signing throughput: %.0f req/s = %.2f x raw blst\n", rps,
	       rps / raw);
	printf("latency: p50 %.2f ms, p99 %.2f ms (%zu requests over HTTPS "
	       "keep-alive)\n", lat[nlat / 2] / 1000.0,
	       lat[(nlat * 99) / 100] / 1000.0, nlat);
	printf("CPU per request (signer + client): %.0f us; per raw signature: "
	       "%.0f us; as a throughput ratio on saturated cores: %.2f x\n",
	       cpu_per_req, raw_cpu, raw_cpu / cpu_per_req);
	printf("hash-to-G2 cache: %.0f hits, %.0f misses (%.1f%% hits)\n", hits,
	       misses, hits + misses > 0 ? 100.0 * hits / (hits + misses) : 0.0);
	free(lat);
	return 0;
}
