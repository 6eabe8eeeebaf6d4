/*
 * watchdog.h: internal interfaces of `nitro-host run` (not public: only
 * src/host/ includes this). run.c owns the event loop and the state;
 * worker.c runs the blocking work (AWS calls, control exchanges, nitro-cli)
 * on one helper thread, talking to the enclave with control_exchange
 * (src/control/); nitro_cli.c runs nitro-cli; health.c answers GET
 * /health; clock.c has the clocks.
 */
#ifndef NS_HOST_WATCHDOG_H
#define NS_HOST_WATCHDOG_H

#include <stdatomic.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#include "host/host.h"

/* ---- nitro_cli.c ---- */

/*
 * Runs argv (argv[0] found on PATH unless it has a '/'), stdout captured
 * (64 KiB at most), stderr inherited, killed after timeout_ms. 0 with
 * *out (malloc'd, NUL-terminated) when it exited 0; else -ERR_IO naming
 * the exit status or the timeout.
 */
int host_run_capture(char *const argv[], int timeout_ms, char **out,
		     struct err *e);

/* ---- health.c ---- */

#define HOST_FAILED_KEYS_MAX 32

/* What /health reports; owned and updated by run.c on the loop thread. */
struct host_health {
	bool runner_nitro;
	pid_t pid;
	char enclave_id[128];
	bool started;       /* an enclave is running */
	bool initialised;   /* init succeeded for this enclave */
	bool status_ok;     /* the last status check passed */
	bool ready;
	long keys_loaded;
	/* Keys the enclave could not load ([{pubkey, error}], at most
	 * HOST_FAILED_KEYS_MAX; keys_failed counts them all): any makes /health
	 * DEGRADED (still 200). From init/reload replies and status. */
	long keys_failed;
	json_t *failed_keys;
	int restarts;
	int64_t last_status_ms; /* monotonic; 0 = never */
	int64_t creds_expiration; /* unix s; 0 = none or does not expire */
	char reason[512];   /* why not UP */
};

struct host_health_server;

int host_health_new(struct event_base *base, const struct http_addr *addr,
		    const struct host_health *h,
		    struct host_health_server **out, struct err *e);
void host_health_free(struct host_health_server *s);

/* ---- worker.c: the helper thread ---- */

enum host_job_kind {
	HOST_JOB_START,     /* nitro-cli run-enclave */
	HOST_JOB_DESCRIBE,  /* nitro-cli describe-enclaves */
	HOST_JOB_TERMINATE, /* nitro-cli terminate-enclave */
	HOST_JOB_PROBE,     /* status, short timeout: is the port open? */
	HOST_JOB_STATUS,    /* the periodic status check */
	HOST_JOB_INIT,      /* credentials + records -> init */
	HOST_JOB_CREDS,     /* fresh credentials -> credentials frame */
	HOST_JOB_RELOAD,    /* records -> reload */
};

struct host_job {
	enum host_job_kind kind;
	/* in */
	char enclave_id[128];       /* describe, terminate */
	char prev_akid[128];        /* creds: what was pushed last */
	int64_t prev_expiration;
	int timeout_ms;             /* status: 0 = the default (5 s) */
	bool if_changed;            /* reload: only when the records differ
				     * from those last sent (the poll) */
	/* out */
	int rc;                     /* 0 = the exchange worked */
	char err[400];              /* why not, for logs and /health */
	json_t *reply;              /* the enclave's reply, if any */
	char new_enclave_id[128];   /* start */
	uint32_t cid;               /* start */
	bool running;               /* describe */
	char state[32];             /* describe */
	bool pushed;                /* creds were sent (init, creds) */
	char akid[128];             /* their AccessKeyId (not secret) */
	int64_t expiration;         /* their Expiration, 0 = none */
	struct host_records_stats rs; /* init, reload */
	bool unchanged;             /* reload: if_changed, and they were not */
};

struct host_worker;

/* Starts the thread; the loop watches host_worker_fd() for completions. */
int host_worker_new(const struct host_config *cfg, struct host_worker **out,
		    struct err *e);
int host_worker_fd(const struct host_worker *w);
/* Hands a job over (one at a time); its completion makes the fd
 * readable, then host_worker_done() returns it. */
void host_worker_submit(struct host_worker *w, struct host_job *job);
struct host_job *host_worker_done(struct host_worker *w);
/* Makes the running job give up at its next check (control exchanges). */
void host_worker_abort(struct host_worker *w);
/* Aborts, waits for the thread, frees. NULL-safe. */
void host_worker_free(struct host_worker *w);
/* nitro-cli terminate-enclave --enclave-id ID, on the caller's thread. */
int host_nitro_terminate(const struct host_config *cfg, const char *id,
			 struct err *e);

/* ---- clock.c ---- */

int64_t host_now_ms(void);
/* unix seconds -> "2025-09-09T23:59:41Z" */
void host_iso8601(int64_t t, char out[32]);

#endif
