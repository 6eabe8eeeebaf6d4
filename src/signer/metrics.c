/*
 * metrics.c: the signer's Prometheus metrics, named as Web3Signer names
 * them, and the listener that serves them.
 *
 * Web3Signer's names, types and help texts (its HttpApiMetrics and
 * SlashingProtectionMetrics, on Besu's Prometheus metrics system):
 *   eth2_slashingprotection_permitted_signings_total  counter: signatures
 *       made while slashing protection is on (every type, as Web3Signer
 *       counts every signature that passed its maySign)
 *   eth2_slashingprotection_prevented_signings_total  counter: refusals
 *   http_bls_malformed_request_count_total  counter: sign requests whose
 *       body did not parse (400)
 *   signing_bls_missing_identifier_count_total  counter: sign requests for
 *       a key that is not loaded (404)
 *   signing_signers_loaded_count  gauge: keys loaded now
 *   signing_bls_signing_duration  summary (Besu's timers are summaries):
 *       every sign request, from the handler to its reply; we expose _count
 *       and _sum (seconds) but not Besu's sliding-window quantiles
 * and ours under nitro_signer_: signatures by type, responses by status
 * class, the hash-to-G2 cache, and the signing duration again as a
 * histogram with buckets, which quantiles cannot be rebuilt from.
 *
 * Counting is a relaxed atomic add at each decision point: no lock on the
 * signing path. A scrape reads each counter once; counters are monotonic,
 * so a scrape concurrent with signing sees each at some recent value.
 *
 * The listener is a second http server (one loop, one worker) on its own
 * thread; it leaves SIGINT/SIGTERM to the main server and is stopped by
 * signer_metrics_server_stop.
 */
#include "signer/metrics.h"
#include "signer/signer_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_le[SIGNER_METRICS_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
};

#define ADD(counter) atomic_fetch_add_explicit(&(counter), 1, memory_order_relaxed)
#define GET(counter) \
	((unsigned long long)atomic_load_explicit(&(counter), memory_order_relaxed))

void signer_metrics_signed(struct signer *s, uint64_t n)
{
	if (s->slashing_enabled)
		atomic_fetch_add_explicit(&s->metrics.permitted, n,
					  memory_order_relaxed);
}

void signer_metrics_prevented(struct signer *s) { ADD(s->metrics.prevented); }
void signer_metrics_malformed(struct signer *s) { ADD(s->metrics.malformed); }
void signer_metrics_missing(struct signer *s) { ADD(s->metrics.missing); }

void signer_metrics_observe(struct signer *s, uint64_t started_us)
{
	uint64_t now = clock_mono_us();
	uint64_t us = now > started_us ? now - started_us : 0;
	ADD(s->metrics.duration_count);
	atomic_fetch_add_explicit(&s->metrics.duration_sum_ns, us * 1000,
				  memory_order_relaxed);
	for (int i = 0; i < SIGNER_METRICS_BUCKETS; i++)
		if ((double)us / 1e6 <= bucket_le[i]) {
			ADD(s->metrics.duration_bucket[i]);
			break; /* cumulative when rendered */
		}
}

int signer_metrics_allowlist_parse(const char *v, const char **out,
				   struct err *e)
{
	static const char flag[] = "--metrics-host-allowlist";
	size_t names = 0;
	bool any = false, none = false;
	for (const char *p = v;; p++) {
		const char *end = p + strcspn(p, ",");
		while (p < end && *p == ' ')
			p++;
		size_t n = (size_t)(end - p);
		while (n && p[n - 1] == ' ')
			n--;
		if (n == 0)
			return err_set(e, ERR_USAGE, "%s: empty host name", flag);
		any |= (n == 1 && *p == '*') || (n == 3 && !strncmp(p, "all", 3));
		none |= n == 4 && !strncmp(p, "none", 4);
		names++;
		if (!*end)
			break;
		p = end;
	}
	if ((any || none) && names > 1)
		return err_set(e, ERR_USAGE, "%s: '*', 'all' and 'none' stand "
			       "alone", flag);
	*out = any ? "*" : none ? "" : v;
	return 0;
}

/* ---- the text exposition ------------------------------------------------------ */

struct out {
	struct buf b;
	bool failed;
};

static void emit(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (o->failed || n < 0 || (size_t)n >= sizeof(line) ||
	    buf_append(&o->b, line, (size_t)n) < 0)
		o->failed = true;
}

static void family(struct out *o, const char *name, const char *type,
		   const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A counter without labels: its HELP, TYPE and sample. */
static void counter(struct out *o, const char *name, const char *help,
		    _Atomic uint64_t *v)
{
	family(o, name, "counter", help);
	emit(o, "%s %llu\n", name, GET(*v));
}

static void web3signer_metrics(struct out *o, struct signer *s)
{
	counter(o, "eth2_slashingprotection_permitted_signings_total",
		"The number of slashing checks which have reported 'safe to "
		"sign'.", &s->metrics.permitted);
	counter(o, "eth2_slashingprotection_prevented_signings_total",
		"The number of prevented signings due to violation of slashing "
		"conditions.", &s->metrics.prevented);
	counter(o, "http_bls_malformed_request_count_total",
		"Number of requests received which had illegally formatted "
		"body.", &s->metrics.malformed);
	counter(o, "signing_bls_missing_identifier_count_total",
		"Number of signing operations requested, for keys which are not "
		"available", &s->metrics.missing);
	family(o, "signing_signers_loaded_count", "gauge",
	       "Number of keys loaded (combining SECP256k1 and BLS12-381");
	emit(o, "signing_signers_loaded_count %zu\n", signer_key_count(s));
	unsigned long long count = GET(s->metrics.duration_count);
	double sum = (double)GET(s->metrics.duration_sum_ns) / 1e9;
	family(o, "signing_bls_signing_duration", "summary",
	       "Duration of a signing event");
	emit(o, "signing_bls_signing_duration_count %llu\n"
	     "signing_bls_signing_duration_sum %.9f\n", count, sum);
}

static void own_metrics(struct out *o, struct signer *s)
{
	family(o, "nitro_signer_signing_duration_seconds", "histogram",
	       "Sign requests from the handler to the reply.");
	unsigned long long cum = 0;
	for (int i = 0; i < SIGNER_METRICS_BUCKETS; i++) {
		cum += GET(s->metrics.duration_bucket[i]);
		emit(o, "nitro_signer_signing_duration_seconds_bucket{le=\"%g\"} "
		     "%llu\n", bucket_le[i], cum);
	}
	/* Read after the buckets: an observation counts itself before its
	 * bucket, so +Inf (the count) is never below the last bucket. */
	unsigned long long count = GET(s->metrics.duration_count);
	emit(o, "nitro_signer_signing_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	     "nitro_signer_signing_duration_seconds_count %llu\n"
	     "nitro_signer_signing_duration_seconds_sum %.9f\n", count, count,
	     (double)GET(s->metrics.duration_sum_ns) / 1e9);
	family(o, "nitro_signer_signatures_total", "counter",
	       "Signatures produced, by signing type.");
	for (int t = 0; t < ETH2_SIGN_COUNT; t++)
		emit(o, "nitro_signer_signatures_total{type=\"%s\"} %llu\n",
		     eth2_sign_type_name((enum eth2_sign_type)t),
		     GET(s->signed_total[t]));
	static const char *const classes[] = {"2xx", "400", "404", "412",
					      "415", "5xx"};
	family(o, "nitro_signer_http_responses_total", "counter",
	       "Signing API responses by status (2xx, 400 and other 4xx, 404, "
	       "412, 415, 5xx).");
	for (int i = 0; i < 6; i++)
		emit(o, "nitro_signer_http_responses_total{status=\"%s\"} %llu\n",
		     classes[i], GET(s->status_total[i]));
	struct bls_h2c_stats h2c;
	bls_h2c_cache_stats(s->h2c, &h2c);
	family(o, "nitro_signer_h2c_cache_hits_total", "counter",
	       "Signing roots whose hash to G2 came from the cache.");
	emit(o, "nitro_signer_h2c_cache_hits_total %llu\n",
	     (unsigned long long)h2c.hits);
	family(o, "nitro_signer_h2c_cache_misses_total", "counter",
	       "Signing roots hashed to G2 (or waited for while another "
	       "request hashed them).");
	emit(o, "nitro_signer_h2c_cache_misses_total %llu\n",
	     (unsigned long long)h2c.misses);
}

int signer_metrics_render(struct signer *s, char **out, size_t *len,
			  struct err *e)
{
	struct out o = {.failed = false};
	buf_init(&o.b, 1 << 20, false);
	web3signer_metrics(&o, s);
	own_metrics(&o, s);
	if (o.failed || buf_append(&o.b, "", 1) < 0) {
		buf_free(&o.b);
		return err_set(e, ERR_NOMEM, "metrics: out of memory");
	}
	*out = (char *)o.b.p;
	*len = o.b.len - 1; /* without the NUL */
	return 0;
}

/* ---- the listener ----------------------------------------------------------- */

struct signer_metrics_server {
	struct http_server *srv;
	pthread_t thread;
	struct signer *(*get)(void *ctx);
	void *ctx;
};

static void handle(const struct http_req *req, struct http_reply *r, void *arg)
{
	struct signer_metrics_server *m = arg;
	if (strcmp(req->path, "/metrics") != 0) {
		http_reply_error(r, 404, "not found");
		return;
	}
	if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
		http_reply_error(r, 405, "method not allowed");
		return;
	}
	struct signer *s = m->get(m->ctx);
	if (!s) {
		http_reply_error(r, 503, "not initialised");
		return;
	}
	char *text = NULL;
	size_t len;
	struct err e = {0};
	if (signer_metrics_render(s, &text, &len, &e) < 0) {
		http_reply_error(r, 500, e.msg);
		return;
	}
	free(r->body);
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	r->body = text;
	r->body_len = len;
}

static void *run(void *arg)
{
	struct signer_metrics_server *m = arg;
	if (http_server_run(m->srv) < 0)
		log_error("metrics listener stopped");
	return NULL;
}

int signer_metrics_server_start(const struct http_addr *listen,
				const char *host_allowlist,
				struct signer *(*get)(void *ctx), void *ctx,
				struct signer_metrics_server **out,
				struct err *e)
{
	struct signer_metrics_server *m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(e, ERR_NOMEM, "out of memory");
	m->get = get;
	m->ctx = ctx;
	struct http_server_config cfg = {
		.listen = *listen,
		.host_allowlist = host_allowlist,
		.max_body = 4096,
		.loops = 1,
		.workers = 1,
		.idle_timeout_s = 30,
		.max_conns = 64,
		.no_signals = true,
		.handlers = {handle, m},
	};
	int rc = http_server_new(&cfg, &m->srv, e);
	if (rc < 0) {
		err_prefix(e, "metrics listener: ");
		free(m);
		return rc;
	}
	if (pthread_create(&m->thread, NULL, run, m) != 0) {
		http_server_free(m->srv);
		free(m);
		return err_set(e, ERR_INTERNAL, "cannot start the metrics thread");
	}
	*out = m;
	return 0;
}

uint16_t signer_metrics_server_port(const struct signer_metrics_server *m)
{
	return http_server_port(m->srv);
}

void signer_metrics_server_stop(struct signer_metrics_server *m)
{
	if (!m)
		return;
	http_server_stop(m->srv);
	pthread_join(m->thread, NULL);
	http_server_free(m->srv);
	free(m);
}
