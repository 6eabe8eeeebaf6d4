/*
 * metrics.h: Web3Signer-compatible Prometheus metrics of the signing
 * service (metrics.c), counted where the signer decides and served on a
 * listener of their own (--metrics-enabled, --metrics-host, --metrics-port,
 * --metrics-host-allowlist; the enclave's --metrics-listen), never on the
 * signing API.
 */
#ifndef NS_SIGNER_METRICS_H
#define NS_SIGNER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "http/http.h"

/* Upper bounds (seconds) of nitro_signer_signing_duration_seconds. */
#define SIGNER_METRICS_BUCKETS 12

/* The counters, in struct signer; all updated with relaxed atomics. */
struct signer_metrics {
	_Atomic uint64_t permitted;  /* signed with slashing protection on */
	_Atomic uint64_t prevented;  /* refused by slashing protection */
	_Atomic uint64_t malformed;  /* sign requests with a bad body */
	_Atomic uint64_t missing;    /* sign requests for an unknown key */
	_Atomic uint64_t duration_count;
	_Atomic uint64_t duration_sum_ns;
	_Atomic uint64_t duration_bucket[SIGNER_METRICS_BUCKETS];
};

struct signer;

/*
 * --metrics-host-allowlist as Web3Signer reads it: comma-separated host
 * names; "*" or "all" alone for any host, "none" alone for none. *out is
 * what http_server_config.host_allowlist takes ("" for none). -ERR_USAGE
 * naming the flag for an empty name or a mix with "*", "all" or "none".
 */
int signer_metrics_allowlist_parse(const char *v, const char **out,
				   struct err *e);

/* The counting points (service.c, batch.c). */
/* n signatures made (permitted: counted while slashing protection is on) */
void signer_metrics_signed(struct signer *s, uint64_t n);
void signer_metrics_prevented(struct signer *s);
void signer_metrics_malformed(struct signer *s);
void signer_metrics_missing(struct signer *s);
/* A sign request that arrived at started_us (clock_mono_us) is answered. */
void signer_metrics_observe(struct signer *s, uint64_t started_us);

/* The Prometheus text exposition (format 0.0.4) of s: *out malloc'd. */
int signer_metrics_render(struct signer *s, char **out, size_t *len,
			  struct err *e);

/*
 * The metrics listener: GET (and HEAD) /metrics only, on its own address,
 * its own thread and one event loop, the Host header checked against
 * host_allowlist ("*" any, as the signing API's). get(ctx) gives the
 * signer to report, or NULL while there is none yet (503; the enclave
 * before init). Stopped (and joined) by signer_metrics_server_stop.
 */
struct signer_metrics_server;
int signer_metrics_server_start(const struct http_addr *listen,
				const char *host_allowlist,
				struct signer *(*get)(void *ctx), void *ctx,
				struct signer_metrics_server **out,
				struct err *e);
/* The bound TCP port (0 asked: the one the kernel chose). */
uint16_t signer_metrics_server_port(const struct signer_metrics_server *m);
void signer_metrics_server_stop(struct signer_metrics_server *m);

#endif
