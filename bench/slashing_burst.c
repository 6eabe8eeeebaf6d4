/*
 * slashing_burst: the cost of slashing protection where it hurts, at the
 * start of a slot, when every validator behind one signer asks for its
 * attestation at the same instant. Measured end to end, HTTPS to the real
 * nitro-signer binary, with and without protection, in the same run.
 *
 *   build/bin/slashing_burst [--validators=N] [--rounds=R] [--warmup=W]
 *                            [--client-threads=T] [--pause-ms=P]
 *                            [--modes=distinct,shared,batch]
 *                            [--db-dir=DIR] [--signer=PATH]
 *                            [--backend=sqlite|dynamodb] [--ddb-delay-ms=D]
 *
 * Two signers are started with the same N random file-raw keys and a fresh
 * self-signed TLS PKCS#12 (as bench/sign_throughput.c does): one with
 * protection on (SQLite database in a fresh directory inside DIR, by
 * default in the temp dir under /tmp; removed at the end), one with
 * --slashing-protection-enabled=false. Every validator has its own
 * keep-alive TLS connection to each signer; T client threads (epoll,
 * non-blocking) own N/T connections each. A burst: the threads wait on a
 * barrier, the main thread notes the release time and releases them, each
 * thread writes one ATTESTATION per validator it owns and collects the
 * replies as they come. Latency is counted from the release; a burst's
 * time is from the release to the last reply. Modes (each burst has a new
 * target epoch, source = target - 1):
 *   distinct  every validator's AttestationData differs (its own slot,
 *             committee index and head): no two requests share a root;
 *   shared    one AttestationData for all (as since Electra: index 0, the
 *             slot's head): one signing root, hashed to G2 once;
 *   batch     the shared data as ONE request to the batch endpoint
 *             (POST /api/v1/eth2/sign with all N identifiers) on a
 *             keep-alive connection.
 * Each round runs every mode against the protected, then the unprotected
 * signer, each burst right after its own baseline (raw blst signing N
 * distinct messages on one thread per core: bench_raw_sign_us), P ms
 * apart, so drift in what else runs on the machine hits a burst and its
 * baseline alike; a burst's ratio is its time over its baseline's, and
 * the median of those is reported. W warm-up rounds are not counted. Every reply must be 200 with a signature (every item of
 * a batch; exit 1 otherwise). Prints per mode and signer p50/p99 latency
 * over all requests, the median burst time and baseline, the median and
 * range of the per-burst ratios, the CPU time of all measured bursts
 * (signer and clients) over that of their baselines (what other load on
 * a shared machine disturbs least), the hash-to-G2 cache's hits
 * and misses during the mode (the signer's metrics), and where the
 * database lives (filesystem, fsync time). Clients share the cores with
 * both signers, as in sign_throughput; the idle signer of the pair costs
 * nothing.
 *
 * --backend=dynamodb adds a third signer on a DynamoDB table (the
 * stand-ins' dynalite, its items MAC'd) behind a proxy that holds every
 * request D ms (default 10, the order of an in-region call), beside the
 * SQLite and the unprotected ones in the same run, and a baseline of what
 * the stand-in itself can do: each round, N conditional PutItems straight
 * to the same table through the same proxy at the backend's concurrency
 * (32 connections). It reports the DynamoDB calls per signing request in
 * the measured bursts (counted at the stand-in) and the distinct burst's
 * wall time over the larger of the unprotected burst and that baseline.
 */
#include "aws/aws.h"
#include "crypto/crypto.h"
#include "fixture.h"
#include "slashing/slashing.h"
#include "../tests/unit/test_aws_standins.h"

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
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_VALIDATORS 4096
#define MAX_THREADS 64
#define BASE_EPOCH 412000ull

static int opt_validators = 312, opt_rounds = 20, opt_warmup = 2,
	   opt_threads = 4, opt_pause_ms = 100, opt_ddb_delay_ms = 10;
static bool opt_dynamodb;
static char db_dir[512];
#define DDB_TABLE "ns-burst-slashing"
#define DIRECT_CONCURRENCY 32

static struct bench_fixture fx;
static char signer_arg[512];

enum protection { PROTECT_OFF, PROTECT_SQLITE, PROTECT_DYNAMODB };

static pid_t start_signer(int port, enum protection p)
{
	char a_db[600], a_mac[600];
	const char *args[3] = {a_db, NULL, NULL};
	if (p == PROTECT_SQLITE) {
		snprintf(a_db, sizeof(a_db), "--slashing-protection-db-url="
			 "sqlite:%s/slashing.db", db_dir);
	} else if (p == PROTECT_DYNAMODB) {
		snprintf(a_db, sizeof(a_db), "--slashing-protection-db-url="
			 "dynamodb://" DDB_TABLE);
		snprintf(a_mac, sizeof(a_mac), "--slashing-protection-mac-key-"
			 "file=%s/mac.key", fx.dir);
		args[1] = a_mac;
	} else {
		snprintf(a_db, sizeof(a_db), "--slashing-protection-enabled=false");
	}
	return bench_start_signer_argv(&fx, port, args);
}

/* ---- where the database lives ------------------------------------------------ */

static const char *fs_name(const char *path)
{
	struct statfs s;
	if (statfs(path, &s) < 0)
		return "unknown";
	switch ((unsigned long)s.f_type) {
	case 0xEF53: return "ext4";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x01021994: return "tmpfs (fsync is free: not a durable figure)";
	case 0x794C7630: return "overlayfs";
	case 0x2FC12FC1: return "zfs";
	default: return "other";
	}
}

/* Median time of a 4 KiB write + fdatasync in dir: what one commit pays. */
static double fsync_ms(const char *dir)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	char page[4096] = {0};
	uint64_t t[21];
	for (int i = 0; i < 21; i++) {
		uint64_t t0 = clock_mono_us();
		if (pwrite(fd, page, sizeof(page), (off_t)(i % 4) * 4096) < 0 ||
		    fdatasync(fd) < 0) {
			close(fd);
			return -1;
		}
		t[i] = clock_mono_us() - t0;
	}
	close(fd);
	unlink(path);
	for (int i = 1; i < 21; i++)
		for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
			uint64_t x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[10] / 1000.0;
}

/* ---- the clients ---------------------------------------------------------------- */

struct conn {
	SSL *ssl;
	int fd;
	char req[1536];
	int req_len;
	char resp[2048];
	size_t resp_len;
	bool done;
	int status;
	uint32_t lat_us;
};

enum mode { MODE_DISTINCT, MODE_SHARED, MODE_BATCH, MODE_COUNT };
static const char *mode_names[MODE_COUNT] = {"distinct", "shared", "batch"};
static bool mode_on[MODE_COUNT] = {true, true, true};

/* One signer's figures in one mode. */
struct stats {
	uint32_t *lat;             /* all measured latencies */
	size_t nlat;
	double *burst_us;          /* time of each measured burst */
	double *raw_us;            /* the baseline measured just before it */
	int nbursts;
	uint64_t hits, misses;     /* its hash-to-G2 cache, during the mode */
	double cpu_us, raw_cpu_us; /* CPU of the measured bursts (signer +
				    * clients) and of their baselines */
};

struct side {
	const char *name;
	int port;
	pid_t pid;
	struct conn *conns;        /* one per validator */
	SSL *batch_conn;           /* the batch mode's connection */
	struct stats st[MODE_COUNT];
	double last_hits, last_misses;
	int bad;
	char first_bad[300];
};

static pthread_barrier_t start_bar, end_bar;
static struct side *current;   /* the signer of the current burst; NULL = exit */
static uint64_t release_us;

static void connect_all(struct side *s)
{
	s->conns = calloc((size_t)opt_validators, sizeof(struct conn));
	if (!s->conns)
		bench_die("out of memory");
	for (int v = 0; v < opt_validators; v++) {
		struct conn *c = &s->conns[v];
		c->ssl = bench_connect(&fx, s->port);
		if (!c->ssl)
			bench_die("cannot connect to the signer");
		c->fd = SSL_get_fd(c->ssl);
		int fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	}
}

/* Each burst its own target epoch, increasing, so the protected signer
 * allows every one (source = target - 1). */
static unsigned long long target_of(int round, enum mode m)
{
	return BASE_EPOCH + (unsigned long long)round * MODE_COUNT + m;
}

/* The ATTESTATION body: validator v's own data (distinct), or the one
 * every validator signs (shared, v ignored). */
static int attestation_body(char *body, size_t cap, int v, int round,
			    enum mode m)
{
	unsigned long long target = target_of(round, m);
	bool shared = m != MODE_DISTINCT;
	return snprintf(body, cap,
		"{\"type\":\"ATTESTATION\",\"fork_info\":{\"fork\":{"
		"\"previous_version\":\"0x05000000\",\"current_version\":"
		"\"0x06000000\",\"epoch\":\"411392\"},"
		"\"genesis_validators_root\":\"0x4b363db94e286120d76eb905"
		"340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95\"},"
		"\"attestation\":{\"slot\":\"%llu\",\"index\":\"%d\","
		"\"beacon_block_root\":\"0x%056x%08x\",\"source\":{\"epoch\":"
		"\"%llu\",\"root\":\"0x%064d\"},\"target\":{\"epoch\":"
		"\"%llu\",\"root\":\"0x%064x\"}}}",
		target * 32 + (shared ? 0 : (unsigned long long)(v % 32)),
		shared ? 0 : v % 64, (unsigned)round + 1, shared ? 0 : v + 1,
		target - 1, 0, target, (unsigned)round + 7);
}

static void build_request(struct conn *c, int v, int round, enum mode m)
{
	char body[1024];
	int blen = attestation_body(body, sizeof(body), v, round, m);
	c->req_len = snprintf(c->req, sizeof(c->req),
		"POST /api/v1/eth2/sign/%s HTTP/1.1\r\nHost: localhost\r\n"
		"Content-Type: application/json\r\nAccept: application/json\r\n"
		"Content-Length: %d\r\n\r\n%s", fx.pubkeys[v], blen, body);
	c->resp_len = 0;
	c->done = false;
	c->status = 0;
}

static void finish(struct conn *c, int status)
{
	c->done = true;
	c->status = status;
	c->lat_us = (uint32_t)(clock_mono_us() - release_us);
}

/* Reads what is there; marks the reply done when complete (or broken). */
static void on_readable(struct conn *c)
{
	for (;;) {
		if (c->resp_len >= sizeof(c->resp) - 1) {
			finish(c, -1);
			return;
		}
		int r = SSL_read(c->ssl, c->resp + c->resp_len,
				 (int)(sizeof(c->resp) - 1 - c->resp_len));
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;
			finish(c, -1);
			return;
		}
		c->resp_len += (size_t)r;
	}
	c->resp[c->resp_len] = '\0';
	char *hdr_end = strstr(c->resp, "\r\n\r\n");
	char *cl = strcasestr(c->resp, "Content-Length:");
	if (!hdr_end || !cl)
		return;
	size_t want = (size_t)(hdr_end + 4 - c->resp) + (size_t)atol(cl + 15);
	if (c->resp_len < want)
		return;
	int status = atoi(c->resp + 9);
	if (status == 200 && !strstr(hdr_end, "\"signature\":\"0x"))
		status = -2;
	finish(c, status);
}

/* Non-blocking SSL_write of the whole request (retried with the same
 * arguments, as OpenSSL requires). */
static int send_request(struct conn *c)
{
	for (;;) {
		int r = SSL_write(c->ssl, c->req, c->req_len);
		if (r == c->req_len)
			return 0;
		int e = SSL_get_error(c->ssl, r);
		if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
			return -1;
		struct pollfd p = {c->fd, POLLOUT | POLLIN, 0};
		poll(&p, 1, 100);
	}
}

static void *client_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	int ep = epoll_create1(0);
	struct epoll_event evs[64];
	if (ep < 0)
		bench_die("epoll_create1");
	for (;;) {
		pthread_barrier_wait(&start_bar);
		struct side *s = current;
		if (!s)
			break;
		int pending = 0;
		for (int v = id; v < opt_validators; v += opt_threads) {
			struct conn *c = &s->conns[v];
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
			epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
			if (send_request(c) < 0)
				finish(c, -1);
			else
				pending++;
		}
		while (pending > 0) {
			int n = epoll_wait(ep, evs, 64, 10000);
			if (n <= 0) {
				for (int v = id; v < opt_validators; v += opt_threads)
					if (!s->conns[v].done)
						finish(&s->conns[v], -3);
				break;
			}
			for (int i = 0; i < n; i++) {
				struct conn *c = evs[i].data.ptr;
				if (c->done)
					continue;
				on_readable(c);
				if (c->done) {
					pending--;
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				}
			}
		}
		for (int v = id; v < opt_validators; v += opt_threads)
			epoll_ctl(ep, EPOLL_CTL_DEL, s->conns[v].fd, NULL);
		pthread_barrier_wait(&end_bar);
	}
	close(ep);
	return NULL;
}

static void note_bad(struct side *s, int status, const char *what)
{
	if (!s->bad++)
		snprintf(s->first_bad, sizeof(s->first_bad), "status %d: %.200s",
			 status, what);
}

/* The cache's counters since the last call, into st. */
static void note_cache(struct side *s, struct stats *st)
{
	double h = bench_metric(&fx, s->port,
				"nitro_signer_h2c_cache_hits_total");
	double m = bench_metric(&fx, s->port,
				"nitro_signer_h2c_cache_misses_total");
	if (h < 0 || m < 0)
		bench_die("no cache counters in the signer's metrics");
	st->hits += (uint64_t)(h - s->last_hits);
	st->misses += (uint64_t)(m - s->last_misses);
	s->last_hits = h;
	s->last_misses = m;
}

/* One burst of single-key requests against side s. */
static void burst(struct side *s, int round, enum mode m, bool measured)
{
	struct stats *st = &s->st[m];
	for (int v = 0; v < opt_validators; v++)
		build_request(&s->conns[v], v, round, m);
	current = s;
	release_us = clock_mono_us();
	pthread_barrier_wait(&start_bar);
	pthread_barrier_wait(&end_bar);
	uint32_t last = 0;
	for (int v = 0; v < opt_validators; v++) {
		struct conn *c = &s->conns[v];
		if (c->status != 200)
			note_bad(s, c->status, c->resp_len ? c->resp : "(no reply)");
		if (c->lat_us > last)
			last = c->lat_us;
		if (measured)
			st->lat[st->nlat++] = c->lat_us;
	}
	if (measured)
		st->burst_us[st->nbursts++] = last;
}

/* One batch request for every validator against side s. */
static void batch_burst(struct side *s, int round, bool measured)
{
	struct stats *st = &s->st[MODE_BATCH];
	char req[1024];
	attestation_body(req, sizeof(req), 0, round, MODE_BATCH);
	size_t cap = (size_t)opt_validators * (BLS_PUBKEY_LEN * 2 + 8) + 2048;
	char *body = malloc(cap);
	if (!body)
		bench_die("out of memory");
	size_t n = (size_t)snprintf(body, cap, "{\"identifiers\":[");
	for (int v = 0; v < opt_validators; v++)
		n += (size_t)snprintf(body + n, cap - n, "%s\"%s\"", v ? "," : "",
				      fx.pubkeys[v]);
	snprintf(body + n, cap - n, "],\"signing_request\":%s}", req);
	char *resp = NULL;
	uint64_t t0 = clock_mono_us();
	int status = bench_https(s->batch_conn, "POST", "/api/v1/eth2/sign", body,
				 &resp);
	uint32_t dt = (uint32_t)(clock_mono_us() - t0);
	int sigs = 0;
	for (char *p = resp; p && (p = strstr(p, "\"signature\":\"0x")); p++)
		sigs++;
	if (status != 200 || sigs != opt_validators)
		note_bad(s, status, resp ? resp : "(no reply)");
	if (measured) {
		for (int v = 0; v < opt_validators; v++)
			st->lat[st->nlat++] = dt; /* every answer arrives at once */
		st->burst_us[st->nbursts++] = dt;
	}
	free(resp);
	free(body);
}

static void run_mode(struct side *s, int round, enum mode m, bool measured)
{
	double c0 = bench_self_cpu_us();
	double raw = bench_raw_sign_us(opt_validators, cpu_count());
	double raw_cpu = bench_self_cpu_us() - c0;
	usleep((useconds_t)opt_pause_ms * 1000);
	if (measured)
		s->st[m].raw_us[s->st[m].nbursts] = raw;
	c0 = bench_self_cpu_us() + bench_proc_cpu_us(s->pid);
	if (m == MODE_BATCH)
		batch_burst(s, round, measured);
	else
		burst(s, round, m, measured);
	double cpu = bench_self_cpu_us() + bench_proc_cpu_us(s->pid) - c0;
	if (measured) {
		s->st[m].cpu_us += cpu;
		s->st[m].raw_cpu_us += raw_cpu;
	}
	usleep((useconds_t)opt_pause_ms * 1000);
	note_cache(s, &s->st[m]);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct summary {
	double p50, p99, burst, burst_min, burst_max; /* ms */
	double raw, raw_min;                          /* ms */
	double ratio, ratio_min, ratio_max;           /* burst / its raw */
};

static struct summary summarise(struct stats *st)
{
	struct summary r;
	double *ratio = calloc((size_t)st->nbursts, sizeof(double));
	if (!ratio)
		bench_die("out of memory");
	for (int i = 0; i < st->nbursts; i++)
		ratio[i] = st->burst_us[i] / st->raw_us[i];
	qsort(ratio, (size_t)st->nbursts, sizeof(double), cmp_double);
	r.ratio = ratio[st->nbursts / 2];
	r.ratio_min = ratio[0];
	r.ratio_max = ratio[st->nbursts - 1];
	free(ratio);
	qsort(st->raw_us, (size_t)st->nbursts, sizeof(double), cmp_double);
	r.raw = st->raw_us[st->nbursts / 2] / 1000.0;
	r.raw_min = st->raw_us[0] / 1000.0;
	qsort(st->lat, st->nlat, sizeof(uint32_t), cmp_u32);
	qsort(st->burst_us, (size_t)st->nbursts, sizeof(double), cmp_double);
	r.p50 = st->lat[st->nlat / 2] / 1000.0;
	r.p99 = st->lat[(st->nlat * 99) / 100] / 1000.0;
	r.burst = st->burst_us[st->nbursts / 2] / 1000.0;
	r.burst_min = st->burst_us[0] / 1000.0;
	r.burst_max = st->burst_us[st->nbursts - 1] / 1000.0;
	return r;
}

/* ---- the stand-in's own pace: conditional writes straight to it ---------- */

struct direct {
	struct aws_client *clients[DIRECT_CONCURRENCY];
	atomic_int next;
	int round;
	uint64_t release_us;
	uint32_t *lat;        /* this burst's, per write */
	uint32_t *all;        /* every measured write */
	size_t nall;
	double *wall_ms;      /* per measured burst */
	int nbursts;
	atomic_int failed;
};
static struct direct dx;

/* The item a validator's record would be, written on the condition that
 * it is still the version of the previous round (as the backend writes). */
static void *direct_worker(void *arg)
{
	struct aws_client *c = arg;
	for (;;) {
		int i = atomic_fetch_add(&dx.next, 1);
		if (i >= opt_validators)
			break;
		char pk[64], ver[24], old[24];
		snprintf(pk, sizeof(pk), "direct#%d", i);
		snprintf(ver, sizeof(ver), "%d", dx.round + 1);
		snprintf(old, sizeof(old), "%d", dx.round);
		json_t *item = json_pack("{s:{s:s},s:{s:s},s:{s:s}}", "pk", "S", pk,
					 "ver", "N", ver, "bk", "S",
					 "r0123456789abcdef0123456789abcdef0123456789abcdef"
					 "0123456789abcdef");
		json_t *vals = json_pack("{s:{s:s}}", ":v", "N", old);
		struct aws_ddb_expr cond = {"attribute_not_exists(pk) OR ver = :v",
					    NULL, vals};
		struct err e = {0};
		if (aws_ddb_put_item(c, DDB_TABLE, item, &cond, &e) < 0 &&
		    atomic_fetch_add(&dx.failed, 1) == 0)
			fprintf(stderr, "direct write: %s\n", e.msg);
		dx.lat[i] = (uint32_t)(clock_mono_us() - dx.release_us);
		json_decref(item);
		json_decref(vals);
	}
	return NULL;
}

static void direct_burst(int round, bool measured)
{
	dx.round = round;
	atomic_store(&dx.next, 0);
	pthread_t th[DIRECT_CONCURRENCY];
	dx.release_us = clock_mono_us();
	for (int i = 0; i < DIRECT_CONCURRENCY; i++)
		pthread_create(&th[i], NULL, direct_worker, dx.clients[i]);
	for (int i = 0; i < DIRECT_CONCURRENCY; i++)
		pthread_join(th[i], NULL);
	uint32_t last = 0;
	for (int v = 0; v < opt_validators; v++) {
		if (dx.lat[v] > last)
			last = dx.lat[v];
		if (measured)
			dx.all[dx.nall++] = dx.lat[v];
	}
	if (measured)
		dx.wall_ms[dx.nbursts++] = last / 1000.0;
}

static long ddb_calls(void)
{
	return standin_count("AWS_ENDPOINT_URL_DYNAMODB", "PutItem") +
	       standin_count("AWS_ENDPOINT_URL_DYNAMODB", "GetItem");
}

/* Stand-ins with the delaying proxy, the table, the MAC key file, the
 * baseline's clients. */
static void dynamodb_setup(void)
{
	setenv("NS_SOURCE_DIR", getenv("NS_SOURCE_DIR") ? getenv("NS_SOURCE_DIR")
							: NS_SOURCE_DIR_DEFAULT, 1);
	char delay[64];
	snprintf(delay, sizeof(delay), "--dynamodb-delay-ms=%d", opt_ddb_delay_ms);
	if (standins_start_with(delay) < 0)
		bench_die("stand-ins did not start (make deps-test?)");
	struct err e = {0};
	if (slashing_cmd_create_table("dynamodb://" DDB_TABLE, NULL, &e) < 0) {
		fprintf(stderr, "create-table: %s\n", e.msg);
		bench_die("no DynamoDB table");
	}
	char path[600];
	snprintf(path, sizeof(path), "%s/mac.key", fx.dir);
	FILE *f = fopen(path, "w");
	if (!f)
		bench_die("cannot write the MAC key file");
	uint8_t k[32];
	if (RAND_bytes(k, sizeof(k)) != 1)
		bench_die("no randomness");
	for (int i = 0; i < 32; i++)
		fprintf(f, "%02x", k[i]);
	fprintf(f, "\n");
	fclose(f);
	struct aws_creds_provider *creds = aws_creds_env_new(&e);
	struct aws_client_opts o = {.creds = creds};
	for (int i = 0; i < DIRECT_CONCURRENCY; i++)
		if (!creds || !(dx.clients[i] = aws_client_new(&o, &e)))
			bench_die("AWS client");
	dx.lat = calloc((size_t)opt_validators, sizeof(uint32_t));
	dx.all = calloc((size_t)opt_validators * (size_t)opt_rounds,
			sizeof(uint32_t));
	dx.wall_ms = calloc((size_t)opt_rounds, sizeof(double));
	if (!dx.lat || !dx.all || !dx.wall_ms)
		bench_die("out of memory");
}

static void parse_modes(const char *list)
{
	for (int m = 0; m < MODE_COUNT; m++)
		mode_on[m] = false;
	char copy[128];
	snprintf(copy, sizeof(copy), "%s", list);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		int m = 0;
		while (m < MODE_COUNT && strcmp(t, mode_names[m]) != 0)
			m++;
		if (m == MODE_COUNT)
			bench_die("--modes: distinct, shared, batch");
		mode_on[m] = true;
	}
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (sscanf(argv[i], "--validators=%d", &opt_validators) == 1 ||
		    sscanf(argv[i], "--rounds=%d", &opt_rounds) == 1 ||
		    sscanf(argv[i], "--warmup=%d", &opt_warmup) == 1 ||
		    sscanf(argv[i], "--client-threads=%d", &opt_threads) == 1 ||
		    sscanf(argv[i], "--pause-ms=%d", &opt_pause_ms) == 1)
			continue;
		if (strncmp(argv[i], "--modes=", 8) == 0) {
			parse_modes(argv[i] + 8);
			continue;
		}
		if (strncmp(argv[i], "--db-dir=", 9) == 0) {
			snprintf(db_dir, sizeof(db_dir), "%s", argv[i] + 9);
			continue;
		}
		if (strncmp(argv[i], "--signer=", 9) == 0) {
			snprintf(signer_arg, sizeof(signer_arg), "%s", argv[i] + 9);
			continue;
		}
		if (sscanf(argv[i], "--ddb-delay-ms=%d", &opt_ddb_delay_ms) == 1)
			continue;
		if (strcmp(argv[i], "--backend=dynamodb") == 0 ||
		    strcmp(argv[i], "--backend=sqlite") == 0) {
			opt_dynamodb = argv[i][10] == 'd';
			continue;
		}
		fprintf(stderr, "usage: slashing_burst [--validators=N] "
			"[--rounds=R] [--warmup=W] [--client-threads=T] "
			"[--pause-ms=P] [--modes=distinct,shared,batch] "
			"[--db-dir=DIR] [--signer=PATH] "
			"[--backend=sqlite|dynamodb] [--ddb-delay-ms=D]\n");
		exit(2);
	}
	if (opt_validators < 1 || opt_validators > MAX_VALIDATORS ||
	    opt_rounds < 1 || opt_rounds > 10000 || opt_warmup < 0 ||
	    opt_threads < 1 || opt_threads > MAX_THREADS ||
	    opt_threads > opt_validators || opt_pause_ms < 0 ||
	    opt_ddb_delay_ms < 0 || opt_ddb_delay_ms > 1000)
		bench_die("out-of-range option");
}

static void start_side(struct side *s, const char *name,
		       enum protection protect)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->port = bench_free_port();
	s->pid = start_signer(s->port, protect);
	if (!bench_wait_ready(&fx, s->port))
		bench_die("signer did not start");
	connect_all(s);
	s->batch_conn = bench_connect(&fx, s->port);
	if (!s->batch_conn)
		bench_die("cannot connect to the signer");
	for (int m = 0; m < MODE_COUNT; m++) {
		s->st[m].lat = calloc((size_t)opt_validators * (size_t)opt_rounds,
				      sizeof(uint32_t));
		s->st[m].burst_us = calloc((size_t)opt_rounds, sizeof(double));
		s->st[m].raw_us = calloc((size_t)opt_rounds, sizeof(double));
		if (!s->st[m].lat || !s->st[m].burst_us || !s->st[m].raw_us)
			bench_die("out of memory");
	}
}

static void stop_side(struct side *s)
{
	for (int v = 0; v < opt_validators; v++)
		bench_close(s->conns[v].ssl);
	bench_close(s->batch_conn);
	bench_stop_signer(s->pid);
	free(s->conns);
	for (int m = 0; m < MODE_COUNT; m++) {
		free(s->st[m].lat);
		free(s->st[m].burst_us);
		free(s->st[m].raw_us);
	}
}

static void report_side(const char *mode, const char *side, struct stats *st)
{
	struct summary a = summarise(st);
	uint64_t lookups = st->hits + st->misses;
	printf("%-8s %-11s burst %.1f ms (min %.1f) vs raw %.1f ms (min %.1f): "
	       "%.2f x raw (per-burst ratios %.2f..%.2f; min/min %.2f); CPU "
	       "%.2f x raw's; p50 %.1f ms, p99 %.1f ms; cache %llu hits, %llu "
	       "misses (%.1f%%)\n",
	       mode, side, a.burst, a.burst_min, a.raw, a.raw_min, a.ratio,
	       a.ratio_min, a.ratio_max, a.burst_min / a.raw_min,
	       st->cpu_us / st->raw_cpu_us, a.p50, a.p99,
	       (unsigned long long)st->hits, (unsigned long long)st->misses,
	       lookups ? 100.0 * (double)st->hits / (double)lookups : 0.0);
}

static void report(struct side *on, struct side *off, struct side *dyn)
{
	for (int m = 0; m < MODE_COUNT; m++) {
		if (!mode_on[m])
			continue;
		report_side(mode_names[m], "protected", &on->st[m]);
		report_side(mode_names[m], "unprotected", &off->st[m]);
		if (dyn)
			report_side(mode_names[m], "dynamodb", &dyn->st[m]);
	}
}

/* The DynamoDB side against the stand-in's own pace and the unprotected
 * signer (distinct mode: one write per validator per burst). */
static void report_dynamodb(struct side *off, struct side *dyn, long calls,
			    size_t requests)
{
	qsort(dx.all, dx.nall, sizeof(uint32_t), cmp_u32);
	qsort(dx.wall_ms, (size_t)dx.nbursts, sizeof(double), cmp_double);
	double x_wall = dx.wall_ms[dx.nbursts / 2];
	printf("direct: %d conditional PutItems at concurrency %d through the "
	       "same %d ms proxy: p50 %.1f ms, p99 %.1f ms, burst wall %.1f ms "
	       "(median of %d)\n", opt_validators, DIRECT_CONCURRENCY,
	       opt_ddb_delay_ms, dx.all[dx.nall / 2] / 1000.0,
	       dx.all[(dx.nall * 99) / 100] / 1000.0, x_wall, dx.nbursts);
	printf("DynamoDB calls per signing request after warm-up: %.2f (%ld "
	       "calls for %zu signatures)\n",
	       requests ? (double)calls / (double)requests : 0.0, calls,
	       requests);
	if (!mode_on[MODE_DISTINCT])
		return;
	struct summary d = summarise(&dyn->st[MODE_DISTINCT]);
	struct summary u = summarise(&off->st[MODE_DISTINCT]);
	double base = x_wall > u.burst ? x_wall : u.burst;
	printf("distinct dynamodb burst %.1f ms / max(unprotected %.1f ms, "
	       "direct %.1f ms) = %.2f\n", d.burst, u.burst, x_wall,
	       d.burst / base);
}

int main(int argc, char **argv)
{
	bench_set_name("slashing_burst");
	parse_args(argc, argv);
	secret_init();
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	bench_fixture_init(&fx, "ns-burst", opt_validators,
			   signer_arg[0] ? signer_arg : NULL);
	bool own_db_dir = db_dir[0] != '\0';
	if (!db_dir[0]) {
		snprintf(db_dir, sizeof(db_dir), "%s", fx.dir);
	} else {
		/* A fresh directory inside --db-dir, removed at the end. */
		size_t l = strlen(db_dir);
		snprintf(db_dir + l, sizeof(db_dir) - l, "/ns-burst-db-XXXXXX");
		if (!mkdtemp(db_dir))
			bench_die("cannot create a directory in --db-dir");
	}

	struct side on, off, dyn;
	if (opt_dynamodb) {
		dynamodb_setup();
		start_side(&dyn, "dynamodb", PROTECT_DYNAMODB);
	}
	start_side(&on, "protected", PROTECT_SQLITE);
	start_side(&off, "unprotected", PROTECT_OFF);
	printf("cores: %d, validators: %d, rounds: %d (+%d warm-up), client "
	       "threads: %d, %d ms between bursts\n", cpu_count(),
	       opt_validators, opt_rounds, opt_warmup, opt_threads,
	       opt_pause_ms);
	printf("database: %s/slashing.db on %s, 4 KiB write+fdatasync %.2f ms\n",
	       db_dir, fs_name(db_dir), fsync_ms(db_dir));

	pthread_barrier_init(&start_bar, NULL, (unsigned)opt_threads + 1);
	pthread_barrier_init(&end_bar, NULL, (unsigned)opt_threads + 1);
	pthread_t th[MAX_THREADS];
	for (int i = 0; i < opt_threads; i++)
		pthread_create(&th[i], NULL, client_thread, (void *)(intptr_t)i);
	struct stats before; /* counts from before the first burst: dropped */
	memset(&before, 0, sizeof(before));
	note_cache(&on, &before);
	note_cache(&off, &before);
	if (opt_dynamodb)
		note_cache(&dyn, &before);
	long calls = 0;
	size_t ddb_signatures = 0;
	for (int r = 0; r < opt_warmup + opt_rounds; r++) {
		bool measured = r >= opt_warmup;
		for (int m = 0; m < MODE_COUNT; m++) {
			if (!mode_on[m])
				continue;
			if (opt_dynamodb) {
				long before_calls = measured ? ddb_calls() : 0;
				run_mode(&dyn, r, (enum mode)m, measured);
				if (measured) {
					calls += ddb_calls() - before_calls;
					ddb_signatures += (size_t)opt_validators;
				}
			}
			run_mode(&on, r, (enum mode)m, measured);
			run_mode(&off, r, (enum mode)m, measured);
		}
		if (opt_dynamodb) {
			direct_burst(r, measured);
			usleep((useconds_t)opt_pause_ms * 1000);
		}
	}
	current = NULL;
	pthread_barrier_wait(&start_bar);
	for (int i = 0; i < opt_threads; i++)
		pthread_join(th[i], NULL);

	int bad = on.bad + off.bad + (opt_dynamodb ? dyn.bad + dx.failed : 0);
	if (opt_dynamodb && dyn.bad)
		fprintf(stderr, "dynamodb: %d bad replies, first: %s\n", dyn.bad,
			dyn.first_bad);
	if (on.bad)
		fprintf(stderr, "protected: %d bad replies, first: %s\n", on.bad,
			on.first_bad);
	if (off.bad)
		fprintf(stderr, "unprotected: %d bad replies, first: %s\n",
			off.bad, off.first_bad);
	printf("baseline: raw blst signing %d distinct messages on %d threads, "
	       "measured just before each burst\n", opt_validators, cpu_count());
	report(&on, &off, opt_dynamodb ? &dyn : NULL);
	if (opt_dynamodb)
		report_dynamodb(&off, &dyn, calls, ddb_signatures);
	printf("  every reply 200 with a signature: %s\n", bad ? "NO" : "yes");
	if (opt_dynamodb) {
		stop_side(&dyn);
		for (int i = 0; i < DIRECT_CONCURRENCY; i++)
			aws_client_free(dx.clients[i]);
		standins_stop();
	}
	stop_side(&on);
	stop_side(&off);
	if (own_db_dir) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", db_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", db_dir);
	}
	bench_fixture_cleanup(&fx);
	return bad ? 1 : 0;
}
