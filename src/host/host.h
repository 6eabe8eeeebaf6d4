/*
 * host.h: the public header of the host module (nitro-host, on the parent
 * instance): byte-copying proxies, and `nitro-host run`'s config, key
 * records and watchdog (internals in src/host/watchdog.h).
 *
 * Proxies relay bytes between a listener and a fixed destination, in both
 * directions, without looking at them: the validator clients' TLS and the
 * enclave's TLS to AWS both stay end to end, the host sees ciphertext.
 * Routes in production:
 *     tcp:0.0.0.0:443   -> vsock:CID:9000     (validator clients -> enclave)
 *     vsock:3:8000      -> tcp:kms.R.amazonaws.com:443
 *     vsock:3:8001      -> tcp:dynamodb.R.amazonaws.com:443
 * The enclave -> AWS routes are bounded by an allowlist of HOST:PORT, as
 * AWS's vsock-proxy is: a tcp destination outside it refuses to start.
 *
 * Threading model: one libevent loop (the caller's, or the proxy's own)
 * owns every listener and connection; nothing here takes a lock. Only
 * proxy_stop() and proxy_get_stats() may be called from other threads (and
 * proxy_stop() from a signal handler).
 */
#ifndef NS_HOST_H
#define NS_HOST_H

#include <event2/event.h>
#include <jansson.h>

#include "control/control.h"
#include "core/core.h"
#include "http/http.h"

#define PROXY_DEFAULT_MAX_CONNECTIONS 1024
#define PROXY_DEFAULT_IDLE_TIMEOUT_MS (300 * 1000)
#define PROXY_DEFAULT_CONNECT_TIMEOUT_MS (5 * 1000)
/* Bytes buffered per direction before reading from the source pauses. */
#define PROXY_DEFAULT_WINDOW (256 * 1024)
#define PROXY_MAX_ALLOW 64

/* One allowlist entry: a destination host name or IP, and a port. */
struct proxy_allow {
	char host[256];
	uint16_t port;
};

/* "HOST:PORT" or "[IPv6]:PORT"; port 1..65535. */
int proxy_allow_parse(const char *s, struct proxy_allow *out, struct err *e);

/*
 * Whether `target` may be dialled under the allowlist. Only tcp targets are
 * checked (unix and vsock are local), and only when nallow > 0. Like
 * vsock-proxy: same port, then the same host name (case-insensitive), else
 * any address of the allowed name equal to an address of the target (name
 * resolution here blocks: call it at start-up only). -ERR_USAGE naming
 * --allow when refused.
 */
int proxy_check_allowed(const struct proxy_allow *allow, size_t nallow,
			const struct http_addr *target, struct err *e);

/* One listener and where its connections go. Zero limits take defaults. */
struct proxy_route {
	const char *name;          /* for logs ("api", "kms"); NULL = route N */
	struct http_addr listen;
	struct http_addr connect;  /* tcp: resolved at each connect */
	int max_connections;       /* beyond it a new connection is closed */
	int idle_timeout_ms;       /* no bytes either way for this long: close */
	int connect_timeout_ms;    /* name resolution + connect */
};

struct proxy_config {
	const struct proxy_route *routes;
	size_t nroutes;
	const struct proxy_allow *allow; /* checked for every route */
	size_t nallow;
	size_t window;                   /* 0 = PROXY_DEFAULT_WINDOW */
	/* "IP" or "IP:PORT" of the DNS server for tcp destinations given by
	 * name; NULL = /etc/resolv.conf. /etc/hosts is consulted either way. */
	const char *nameserver;
};

struct proxy_stats {
	uint64_t accepted;       /* connections accepted and relayed */
	uint64_t refused_limit;  /* closed at once: over max_connections */
	uint64_t connect_failed; /* destination refused, unreachable, timed out */
	uint64_t idle_closed;    /* closed by the idle timeout */
	uint64_t active;         /* open now, over all routes */
};

struct proxy;

/*
 * Checks the routes (allowlist included), binds every listener and
 * registers them on `base` (NULL: the proxy makes and owns its own loop).
 * Nothing is dialled until a connection arrives.
 */
int proxy_new(const struct proxy_config *cfg, struct event_base *base,
	      struct proxy **out, struct err *e);
/* Runs the loop until proxy_stop(). */
int proxy_run(struct proxy *p);
/* Breaks proxy_run's loop. Thread-safe and async-signal-safe. */
void proxy_stop(struct proxy *p);
/* Closes listeners and every connection (both sides), frees. NULL-safe. */
void proxy_free(struct proxy *p);
/* The bound port of route i's tcp listener (useful when 0 was asked). */
uint16_t proxy_port(const struct proxy *p, size_t route);
void proxy_get_stats(const struct proxy *p, struct proxy_stats *out);

/* ---- `nitro-host run`: its config (config.c) and supervisor (run.c) ---- */

#define HOST_MAX_ARGV 64
#define HOST_MAX_PROXIES 16
/* config.yaml tls_names: at most what init may carry */
#define HOST_MAX_TLS_NAMES CONTROL_MAX_TLS_NAMES
#define HOST_DEFAULT_MAX_BACKOFF_S 60
#define HOST_DEFAULT_STATUS_INTERVAL_S 10
#define HOST_DEFAULT_KEY_TABLE_POLL_S 60
#define HOST_DEFAULT_CREDS_REFRESH_S 300

enum host_runner_type { HOST_RUNNER_LOCAL, HOST_RUNNER_NITRO_CLI };
enum host_creds_source { HOST_CREDS_IMDS, HOST_CREDS_ENV };

struct host_proxy {
	struct http_addr listen;
	struct http_addr connect;
	struct proxy_allow allow[PROXY_MAX_ALLOW];
	size_t nallow;
	int max_connections;  /* 0 = default */
	int idle_timeout_s;   /* 0 = default */
};

/* runner: {type: nitro-cli, ...} */
struct host_nitro_cli {
	char *eif_path;
	char *nitro_cli;      /* default "nitro-cli" */
	int cpu_count;
	int memory_mib;
	int cid;
	bool debug_mode;
};

struct host_config {
	char *region;
	char *signer_id;
	char *key_table;
	char *kms_key_id;                 /* optional, passed to init */
	enum host_runner_type runner;
	char *command[HOST_MAX_ARGV + 1]; /* local runner; NULL-terminated */
	size_t ncommand;
	struct host_nitro_cli nitro;      /* nitro-cli runner */
	bool runner_nitro_fields;         /* eif_path etc. were given */
	bool has_runner, has_control, has_api_listen, has_health_listen;
	struct http_addr control;         /* the enclave's control port */
	struct http_addr api_listen;      /* parsed; not used yet */
	struct http_addr health_listen;   /* GET /health */
	struct host_proxy proxies[HOST_MAX_PROXIES];
	size_t nproxies;
	/* metrics: {connect, listen}: the enclave's --metrics-listen proxied
	 * to a local port (default tcp:127.0.0.1:9001); off when absent */
	bool has_metrics;
	struct host_proxy metrics;
	enum host_creds_source credentials; /* default imds */
	int credentials_refresh_s;        /* default 300 */
	int status_interval_s;            /* default 10 */
	int key_table_poll_s;             /* default 60: re-read, reload if changed */
	int max_backoff_s;                /* restart/retry backoff cap, 60 */
	char *endpoint_kms;               /* endpoints.kms (optional) */
	char *endpoint_dynamodb;          /* endpoints.dynamodb (optional) */
	char *endpoint_imds;              /* endpoints.imds (optional) */
	/* enclave: what init carries besides records and credentials */
	char *network;                    /* required */
	char *slashing_db_url;            /* required */
	/* the operator's acknowledgement that a sqlite: database inside a
	 * Nitro enclave lives in enclave memory (lost at every restart) */
	bool volatile_slashing_db;
	char *kms_proxy;                  /* optional */
	char *dynamodb_proxy;             /* optional */
	char *tls_names[HOST_MAX_TLS_NAMES];
	size_t ntls_names;
	char *tls_cert_file;              /* optional: init's tls_cert_pem */
};

/*
 * Parses the YAML config strictly: unknown keys, wrong types, missing
 * required fields (region, signer_id, key_table, runner, control) and bad
 * ADDRs are refused with one line naming the field (-ERR_INVALID). On
 * failure *out is left empty. Free with host_config_free.
 */
int host_config_parse(const char *text, size_t len, struct host_config *out,
		      struct err *e);
int host_config_load(const char *path, struct host_config *out,
		     struct err *e);
void host_config_free(struct host_config *c);

/*
 * Runs the watchdog until SIGTERM/SIGINT (docs/host.md): starts the enclave
 * with the config's runner, waits for its control port, sends init
 * (credentials, the key table's records), pushes fresh credentials before
 * they expire, checks status every status_interval_s, restarts the
 * enclave when it ends or fails 3 checks, reloads the records on SIGHUP,
 * serves GET /health and runs the config's proxies on the same loop.
 * Returns the exit code (0 after a signal, 1 on a runtime failure, 2 when
 * a proxy's allowlist refuses its destination).
 */
int host_run(const struct host_config *cfg);

/* ---- key records from the key table (records.c) ---- */

struct host_records_stats {
	size_t items;     /* items read */
	size_t records;   /* records built */
	size_t inactive;  /* active=false */
	size_t not_keys;  /* the enclave's own "tls:" and "slashing:" records */
	size_t malformed; /* skipped with a warning */
};

/*
 * DynamoDB items (an array of attribute maps, as Query returns them) ->
 * the records array of init/reload. Malformed items are skipped with one
 * warning naming the pubkey and the attribute; only allocation fails.
 */
int host_records_from_items(const json_t *items, json_t **records,
			    struct host_records_stats *st, struct err *e);
/* "N records from M items" and, when any were skipped, which kinds:
 * " (skipped: 1 inactive, 1 the enclave's own (tls:/slashing:), ...)". */
void host_records_describe(const struct host_records_stats *st, char *out,
			   size_t cap);

/* ---- nitro-cli's output (nitro_cli.c) ---- */

/* run-enclave's output (JSON, maybe after progress lines): EnclaveID and
 * EnclaveCID. */
int host_nitro_parse_run(const char *out, char *enclave_id, size_t cap,
			 uint32_t *cid, struct err *e);
/* describe-enclaves' JSON array: 1 when `enclave_id` is there with State
 * RUNNING, 0 when absent or in another state (*state says which). */
int host_nitro_parse_describe(const char *out, const char *enclave_id,
			      char *state, size_t cap, struct err *e);

/* ---- the nitro-host command line (cli.c) ---- */

/* `nitro-host proxy ...` and `nitro-host run ...`; returns the exit code. */
int nitro_host_main(int argc, char **argv);

#endif
