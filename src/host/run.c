/*
 * run.c: `nitro-host run`: the watchdog (docs/host.md).
 *
 * One libevent loop owns the state: signals (SIGCHLD, SIGTERM/SIGINT,
 * SIGHUP), a 100 ms tick that schedules work, the worker's completion
 * pipe, the config's proxies and the /health server. Anything that blocks
 * (IMDS, DynamoDB, control exchanges, nitro-cli) is a job on the worker
 * thread (worker.c), one at a time; the loop only decides what comes next
 * (schedule()) and applies results (on_job_done()).
 *
 * The life of an enclave: started (local: fork/exec; nitro-cli:
 * run-enclave), its control port probed every 100 ms (10 s, 60 s for
 * nitro-cli, then it is killed), then init with fresh credentials and the
 * key table's records, retried with backoff (1 s doubling to
 * restart.max_backoff_s) while it fails, without restarting the enclave.
 * Once initialised: credentials pushed again before they expire, SIGHUP
 * sends `reload`, and every key_table_poll_s the table is read again and
 * `reload` sent when its records differ from those the enclave last took
 * (a key imported or deleted by another instance's Keymanager API). A status check every status_interval_s; three failures
 * in a row (no answer, ok:false, or not ready after init) kill it. When it
 * ends (SIGCHLD; nitro-cli: describe-enclaves every 2 s) it is started
 * again after the restart backoff (back to 1 s after 60 s of running) and
 * gets a fresh init. A job's result is dropped when it belongs to an
 * enclave that has since been replaced (generation counter).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "host/watchdog.h"

#define TICK_MS 100
#define PROBE_INTERVAL_MS 100
#define PROBE_LIMIT_LOCAL_MS 10000
#define PROBE_LIMIT_NITRO_MS 60000
#define DESCRIBE_INTERVAL_MS 2000
#define CREDS_RETRY_MS 10000
#define STATUS_TIMEOUT_MS 5000
#define STATUS_FAILURES_MAX 3
#define STOP_GRACE_MS 5000
#define STABLE_RUN_MS 60000

struct runner {
	const struct host_config *cfg;
	bool nitro;
	struct event_base *base;
	struct event *ev_chld, *ev_term, *ev_int, *ev_hup, *ev_restart,
		*ev_tick, *ev_worker;
	struct host_worker *w;
	struct host_job job;
	bool busy;
	unsigned job_gen;
	struct host_health health;
	struct host_health_server *hs;
	/* the enclave */
	unsigned gen;           /* bumped at every start */
	bool want_start;        /* nitro-cli run-enclave pending */
	bool up;                /* running (as far as we know) */
	bool killing;           /* kill/terminate under way */
	pid_t child;            /* local runner */
	char enclave_id[128];   /* nitro-cli runner */
	char name[160];         /* "pid=N" or "enclave_id=ID" for logs */
	int64_t started_ms;
	int64_t next_probe_ms, next_describe_ms, next_status_ms, next_init_ms,
		next_creds_ms, next_poll_ms;
	bool port_open, initialised, want_reload;
	int init_backoff_s;
	int status_failures;
	char pushed_akid[128];
	int64_t pushed_exp;
	char init_err[400], status_err[400];
	/* restarts */
	int restarts;
	int backoff_s;
	bool stopping;
};

static void schedule(struct runner *r);

/* s seconds less up to 25 % jitter, in ms: restarts of several hosts (or
 * retries against a recovering service) do not line up. */
static int64_t jittered_ms(int s)
{
	int64_t ms = s * 1000LL;
	return ms - (int64_t)arc4random_uniform((uint32_t)(ms / 4 + 1));
}

static void set_reason(struct runner *r)
{
	struct host_health *h = &r->health;
	const char *why;
	char buf[480];
	if (!r->up)
		why = r->health.reason[0] ? NULL : "enclave not started";
	else if (!r->port_open)
		why = "enclave starting: control port not answering yet";
	else if (!r->initialised) {
		snprintf(buf, sizeof(buf), "%s", r->init_err[0] ? r->init_err
				: "enclave not initialised yet");
		why = buf;
	} else if (!h->status_ok) {
		snprintf(buf, sizeof(buf), "status: %s", r->status_err);
		why = buf;
	} else if (!h->ready)
		why = "enclave not ready";
	else
		why = "";
	if (why)
		snprintf(h->reason, sizeof(h->reason), "%s", why);
	h->started = r->up;
	h->initialised = r->initialised;
	h->pid = r->child;
	snprintf(h->enclave_id, sizeof(h->enclave_id), "%s", r->enclave_id);
}

/* ---- starting, ending, restarting ---- */

static void schedule_restart(struct runner *r)
{
	if (r->stopping)
		return;
	int s = r->backoff_s;
	log_info("run: restarting the enclave in %d s", s);
	int64_t ms = jittered_ms(s);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(r->ev_restart, &tv);
	r->backoff_s = s * 2 > r->cfg->max_backoff_s ? r->cfg->max_backoff_s
						      : s * 2;
}

static void enclave_up(struct runner *r)
{
	int64_t now = host_now_ms();
	r->gen++;
	r->up = true;
	r->killing = false;
	r->started_ms = now;
	r->next_probe_ms = now + PROBE_INTERVAL_MS;
	r->next_describe_ms = now + DESCRIBE_INTERVAL_MS;
	r->port_open = r->initialised = r->want_reload = false;
	r->init_backoff_s = 1;
	r->status_failures = 0;
	r->pushed_akid[0] = '\0';
	r->pushed_exp = 0;
	r->init_err[0] = r->status_err[0] = '\0';
	r->health.status_ok = r->health.ready = false;
	r->health.keys_loaded = 0;
	json_decref(r->health.failed_keys);
	r->health.failed_keys = NULL;
	r->health.keys_failed = 0;
	r->health.last_status_ms = 0;
	r->health.creds_expiration = 0;
	r->health.reason[0] = '\0';
	set_reason(r);
}

/* The enclave has ended (how: for the log); restart after the backoff. */
static void enclave_down(struct runner *r, const char *how)
{
	log_warn("run: enclave %s ended (%s)", r->name, how);
	if (host_now_ms() - r->started_ms >= STABLE_RUN_MS)
		r->backoff_s = 1;
	r->up = r->killing = false;
	r->child = 0;
	r->enclave_id[0] = '\0';
	r->port_open = r->initialised = false;
	snprintf(r->health.reason, sizeof(r->health.reason),
		 "enclave ended (%s); restarting", how);
	r->health.ready = r->health.status_ok = false;
	set_reason(r);
	schedule_restart(r);
}

static void start_local(struct runner *r)
{
	pid_t pid = fork();
	if (pid < 0) {
		log_error("run: fork: %s", strerror(errno));
		schedule_restart(r);
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execvp(r->cfg->command[0], r->cfg->command);
		/* async-signal-safe only, after fork in a threaded process */
		static const char msg[] = "nitro-host run: cannot execute the "
					  "enclave command\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);
		(void)w;
		_exit(127);
	}
	r->child = pid;
	snprintf(r->name, sizeof(r->name), "pid=%d", (int)pid);
	log_info("run: enclave started pid=%d (%s)", (int)pid,
		 r->cfg->command[0]);
	enclave_up(r);
}

static void start_enclave(struct runner *r)
{
	if (r->nitro)
		r->want_start = true;
	else
		start_local(r);
	schedule(r);
}

/* Kills the enclave; its end is seen as usual (SIGCHLD or terminate). */
static void kill_enclave(struct runner *r)
{
	if (!r->up || r->killing)
		return;
	r->killing = true;
	if (!r->nitro)
		kill(r->child, SIGKILL);
	schedule(r); /* nitro-cli: the terminate job */
}

/* ---- job results ---- */

static long reply_int(const json_t *reply, const char *k)
{
	const json_t *v = json_object_get(reply, k);
	return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

static json_t *failed_entry(const json_t *k)
{
	const json_t *pk = json_object_get(k, "pubkey");
	const json_t *err = json_object_get(k, "error");
	char p[121], w[201];
	snprintf(p, sizeof(p), "%s", json_is_string(pk) ? json_string_value(pk) : "?");
	snprintf(w, sizeof(w), "%s", json_is_string(err) ? json_string_value(err) : "?");
	return json_pack("{s:s,s:s}", "pubkey", p, "error", w);
}

/* /health's failed keys, from a list of {pubkey, loaded?, error} (an init or
 * reload report, or status's failed_keys) and the total count. */
static void set_failed_keys(struct host_health *h, const json_t *keys,
			    long total)
{
	json_t *failed = json_array();
	size_t i;
	json_t *k;
	json_array_foreach(keys, i, k) {
		if (json_is_true(json_object_get(k, "loaded")))
			continue;
		if (failed && json_array_size(failed) < HOST_FAILED_KEYS_MAX)
			json_array_append_new(failed, failed_entry(k));
	}
	json_decref(h->failed_keys);
	h->failed_keys = failed;
	h->keys_failed = total;
}

/* "loaded N of M keys", and one line per key that did not load. */
static void log_report(struct host_health *h, const char *what,
		       const json_t *reply)
{
	const json_t *keys = json_object_get(reply, "keys");
	size_t total = json_array_size(keys), loaded = 0;
	for (size_t i = 0; i < total; i++) {
		const json_t *k = json_array_get(keys, i);
		const json_t *pk = json_object_get(k, "pubkey");
		const json_t *err = json_object_get(k, "error");
		if (json_is_true(json_object_get(k, "loaded"))) {
			loaded++;
			continue;
		}
		log_warn("run: %s: key %.120s not loaded: %.200s", what,
			 json_is_string(pk) ? json_string_value(pk) : "?",
			 json_is_string(err) ? json_string_value(err) : "?");
	}
	log_info("run: %s: loaded %zu of %zu keys", what, loaded, total);
	set_failed_keys(h, keys, (long)(total - loaded));
	if (total > loaded)
		log_warn("run: %s: %zu keys failed to load: /health says DEGRADED",
			 what, total - loaded);
}

static void note_creds(struct runner *r, const struct host_job *j)
{
	char iso[32] = "none";
	if (j->expiration)
		host_iso8601(j->expiration, iso);
	snprintf(r->pushed_akid, sizeof(r->pushed_akid), "%s", j->akid);
	r->pushed_exp = j->expiration;
	r->health.creds_expiration = j->expiration;
	log_info("run: credentials pushed (AccessKeyId=%s, expiration=%s)",
		 j->akid, iso);
}

static void write_tls_cert(struct runner *r, const json_t *reply)
{
	const json_t *pem = json_object_get(reply, "tls_cert_pem");
	if (!r->cfg->tls_cert_file || !json_is_string(pem))
		return;
	struct err e = {0};
	if (file_write_atomic(r->cfg->tls_cert_file, json_string_value(pem),
			      json_string_length(pem), 0644, &e) < 0)
		log_error("run: cannot write the TLS certificate to %s: %s",
			  r->cfg->tls_cert_file, e.msg);
	else /* 0644 set by fchmod before the rename, past the umask */
		log_info("run: TLS certificate written to %s",
			 r->cfg->tls_cert_file);
}

static void init_done(struct runner *r, struct host_job *j)
{
	/* an earlier init got through though its reply did not (timeout):
	 * the enclave has keys; status tells how many */
	if (j->rc < 0 && strcmp(j->err, "init failed: already initialised") == 0) {
		log_warn("run: init: the enclave was already initialised; "
			 "taking it as is");
		r->initialised = true;
		r->init_err[0] = '\0';
		/* which credentials it holds is unknown: push at the next due
		 * time even if they are these (prev AccessKeyId "") */
		r->pushed_akid[0] = '\0';
		r->pushed_exp = 1; /* long past: a push is due at once */
		r->health.creds_expiration = 0;
		r->next_status_ms = host_now_ms();
		return;
	}
	if (j->rc < 0) {
		snprintf(r->init_err, sizeof(r->init_err), "%s", j->err);
		log_error("run: init: %s; retrying in %d s", j->err,
			  r->init_backoff_s);
		r->next_init_ms = host_now_ms() + jittered_ms(r->init_backoff_s);
		r->init_backoff_s = r->init_backoff_s * 2 > r->cfg->max_backoff_s
					    ? r->cfg->max_backoff_s
					    : r->init_backoff_s * 2;
		return;
	}
	r->initialised = true;
	r->init_err[0] = '\0';
	r->next_poll_ms = host_now_ms() + r->cfg->key_table_poll_s * 1000LL;
	r->health.keys_loaded = reply_int(j->reply, "keys_loaded");
	note_creds(r, j);
	log_report(&r->health, "init", j->reply);
	write_tls_cert(r, j->reply);
	r->next_status_ms = host_now_ms(); /* ready? check now */
}

static void status_done(struct runner *r, struct host_job *j)
{
	struct host_health *h = &r->health;
	int64_t now = host_now_ms();
	r->next_status_ms = now + r->cfg->status_interval_s * 1000LL;
	bool ready = j->rc == 0 && json_is_true(json_object_get(j->reply,
								 "ready"));
	if (j->rc == 0) {
		h->last_status_ms = now;
		h->ready = ready;
		h->keys_loaded = reply_int(j->reply, "keys_loaded");
		if (json_is_array(json_object_get(j->reply, "failed_keys")))
			set_failed_keys(h, json_object_get(j->reply, "failed_keys"),
					reply_int(j->reply, "keys_failed"));
	}
	if (j->rc == 0 && (ready || !r->initialised)) {
		if (r->status_failures)
			log_info("run: enclave %s: status ok again", r->name);
		r->status_failures = 0;
		h->status_ok = true;
		return;
	}
	snprintf(r->status_err, sizeof(r->status_err), "%s",
		 j->rc < 0 ? j->err : "enclave not ready after init");
	h->status_ok = false;
	r->status_failures++;
	log_warn("run: enclave %s: status check failed (%d of %d): %s",
		 r->name, r->status_failures, STATUS_FAILURES_MAX,
		 r->status_err);
	if (r->status_failures >= STATUS_FAILURES_MAX) {
		log_error("run: enclave %s: %d status checks failed in a row; "
			  "killing it", r->name, STATUS_FAILURES_MAX);
		kill_enclave(r);
	}
}

static void probe_done(struct runner *r, struct host_job *j)
{
	int64_t now = host_now_ms();
	if (j->rc == 0) {
		char *text = json_dumps(j->reply, JSON_COMPACT);
		/* the whole reply (about 600 bytes with the 18 signing types)
		 * within the log's 1 KiB line */
		log_info("run: enclave %s status: %.900s", r->name,
			 text ? text : "?");
		free(text);
		r->port_open = true;
		r->next_init_ms = now;
		r->next_status_ms = now + r->cfg->status_interval_s * 1000LL;
		r->health.last_status_ms = now;
		r->health.status_ok = true;
		r->health.ready = json_is_true(json_object_get(j->reply, "ready"));
		return;
	}
	int limit = r->nitro ? PROBE_LIMIT_NITRO_MS : PROBE_LIMIT_LOCAL_MS;
	if (now - r->started_ms >= limit) {
		log_error("run: enclave %s: control port did not answer "
			  "within %d s (%s); killing it", r->name,
			  limit / 1000, j->err);
		kill_enclave(r);
		return;
	}
	r->next_probe_ms = now + PROBE_INTERVAL_MS;
}

static void creds_done(struct runner *r, struct host_job *j)
{
	/* retry within the window: a quarter of it, 1 to 10 s */
	int64_t retry = r->cfg->credentials_refresh_s * 1000LL / 4;
	retry = retry < 1000 ? 1000 : retry > CREDS_RETRY_MS ? CREDS_RETRY_MS
							      : retry;
	r->next_creds_ms = host_now_ms() + retry;
	if (j->rc < 0)
		log_warn("run: credentials refresh failed: %s", j->err);
	else if (j->pushed)
		note_creds(r, j);
	else
		log_debug("run: credentials unchanged (AccessKeyId=%s)", j->akid);
}

static void reload_done(struct runner *r, struct host_job *j)
{
	if (j->rc < 0) {
		log_error("run: reload: %s", j->err);
		return;
	}
	if (j->unchanged) {
		log_debug("run: key table polled: records unchanged");
		return;
	}
	if (json_object_get(j->reply, "keys_loaded"))
		r->health.keys_loaded = reply_int(j->reply, "keys_loaded");
	log_report(&r->health, "reload", j->reply);
}

static void nitro_start_done(struct runner *r, struct host_job *j)
{
	if (j->rc < 0) {
		log_error("run: nitro-cli run-enclave: %s", j->err);
		snprintf(r->health.reason, sizeof(r->health.reason),
			 "enclave start failed: %s", j->err);
		schedule_restart(r);
		return;
	}
	snprintf(r->enclave_id, sizeof(r->enclave_id), "%s", j->new_enclave_id);
	snprintf(r->name, sizeof(r->name), "enclave_id=%s", r->enclave_id);
	log_info("run: enclave started enclave_id=%s cid=%u", r->enclave_id,
		 (unsigned)j->cid);
	enclave_up(r);
}

static void on_job_done(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	struct host_job *j = host_worker_done(r->w);
	if (!j)
		return;
	r->busy = false;
	bool current = r->job_gen == r->gen && r->up;
	switch (j->kind) {
	case HOST_JOB_START: nitro_start_done(r, j); break;
	case HOST_JOB_TERMINATE:
		if (j->rc < 0)
			log_error("run: nitro-cli terminate-enclave: %s", j->err);
		if (current)
			enclave_down(r, "terminated");
		break;
	case HOST_JOB_DESCRIBE:
		if (!current)
			break;
		if (j->rc < 0)
			log_warn("run: nitro-cli describe-enclaves: %s", j->err);
		else if (!j->running) {
			char how[64];
			snprintf(how, sizeof(how), "state %s", j->state);
			enclave_down(r, how);
		}
		break;
	case HOST_JOB_PROBE: if (current) probe_done(r, j); break;
	case HOST_JOB_STATUS: if (current) status_done(r, j); break;
	case HOST_JOB_INIT: if (current) init_done(r, j); break;
	case HOST_JOB_CREDS: if (current) creds_done(r, j); break;
	case HOST_JOB_RELOAD: if (current) reload_done(r, j); break;
	}
	json_decref(j->reply);
	j->reply = NULL;
	set_reason(r);
	schedule(r);
}

/* ---- scheduling ---- */

static void submit(struct runner *r, enum host_job_kind kind, int timeout_ms)
{
	struct host_job *j = &r->job;
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	j->timeout_ms = timeout_ms;
	snprintf(j->enclave_id, sizeof(j->enclave_id), "%s", r->enclave_id);
	snprintf(j->prev_akid, sizeof(j->prev_akid), "%s", r->pushed_akid);
	j->prev_expiration = r->pushed_exp;
	j->if_changed = kind == HOST_JOB_RELOAD && !r->want_reload;
	r->job_gen = r->gen;
	r->busy = true;
	host_worker_submit(r->w, j);
}

static bool creds_due(const struct runner *r, int64_t now)
{
	return r->initialised && r->pushed_exp &&
	       r->pushed_exp - (int64_t)time(NULL) <=
		       r->cfg->credentials_refresh_s &&
	       now >= r->next_creds_ms;
}

/* Picks the next job, if the worker is free and something is due. */
static void schedule(struct runner *r)
{
	if (r->busy || r->stopping)
		return;
	int64_t now = host_now_ms();
	if (r->want_start) {
		r->want_start = false;
		submit(r, HOST_JOB_START, 0);
	} else if (!r->up) {
		return;
	} else if (r->killing) {
		if (r->nitro)
			submit(r, HOST_JOB_TERMINATE, 0);
	} else if (r->nitro && now >= r->next_describe_ms) {
		r->next_describe_ms = now + DESCRIBE_INTERVAL_MS;
		submit(r, HOST_JOB_DESCRIBE, 0);
	} else if (!r->port_open) {
		if (now >= r->next_probe_ms)
			submit(r, HOST_JOB_PROBE, 0);
	} else if (now >= r->next_status_ms) {
		r->next_status_ms = now + r->cfg->status_interval_s * 1000LL;
		/* a check never outlasts the interval (5 s at most) */
		int t = r->cfg->status_interval_s * 1000;
		submit(r, HOST_JOB_STATUS, t < STATUS_TIMEOUT_MS ? t
							 : STATUS_TIMEOUT_MS);
	} else if (!r->initialised && now >= r->next_init_ms) {
		submit(r, HOST_JOB_INIT, 0);
	} else if (creds_due(r, now)) {
		submit(r, HOST_JOB_CREDS, 0);
	} else if (r->initialised && (r->want_reload || now >= r->next_poll_ms)) {
		/* SIGHUP: always; the poll: only when the records changed */
		r->next_poll_ms = now + r->cfg->key_table_poll_s * 1000LL;
		submit(r, HOST_JOB_RELOAD, 0);
		r->want_reload = false;
	}
}

/* ---- events ---- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	schedule(arg);
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	if (r->stopping || r->up)
		return;
	r->restarts++;
	r->health.restarts = r->restarts;
	start_enclave(r);
}

static void describe_status(int st, char *out, size_t len)
{
	if (WIFEXITED(st))
		snprintf(out, len, "exit code %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, len, "signal %d", WTERMSIG(st));
	else
		snprintf(out, len, "status %d", st);
}

/* Only the local runner's child is reaped here: nitro-cli's processes
 * belong to the worker, which waits for them by pid. */
static void on_chld(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	int st;
	if (r->child <= 0 || waitpid(r->child, &st, WNOHANG) != r->child)
		return;
	char how[48];
	describe_status(st, how, sizeof(how));
	enclave_down(r, how);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct runner *r = arg;
	log_info("run: signal %d: stopping", (int)sig);
	r->stopping = true;
	event_base_loopbreak(r->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct runner *r = arg;
	if (!r->initialised) {
		log_info("run: SIGHUP: the enclave is not initialised; its "
			 "init will read the records");
		return;
	}
	log_info("run: SIGHUP: reloading the key records");
	r->want_reload = true;
	schedule(r);
}

/* ---- shutdown ---- */

static void stop_local(struct runner *r)
{
	if (r->child <= 0)
		return;
	kill(r->child, SIGTERM);
	int64_t deadline = host_now_ms() + STOP_GRACE_MS;
	int st;
	for (;;) {
		pid_t p = waitpid(r->child, &st, WNOHANG);
		if (p == r->child || (p < 0 && errno == ECHILD))
			break;
		if (host_now_ms() >= deadline) {
			log_warn("run: enclave pid=%d ignored SIGTERM: SIGKILL",
				 (int)r->child);
			kill(r->child, SIGKILL);
			waitpid(r->child, &st, 0);
			break;
		}
		usleep(20 * 1000);
	}
	log_info("run: enclave pid=%d stopped", (int)r->child);
	r->child = 0;
}

static void stop_nitro(struct runner *r)
{
	/* a run-enclave that finished while stopping still left an enclave */
	if (r->busy && r->job.kind == HOST_JOB_START && r->job.rc == 0 &&
	    r->job.new_enclave_id[0])
		snprintf(r->enclave_id, sizeof(r->enclave_id), "%s",
			 r->job.new_enclave_id);
	if (!r->enclave_id[0])
		return;
	struct err e = {0};
	if (host_nitro_terminate(r->cfg, r->enclave_id, &e) < 0)
		log_error("run: nitro-cli terminate-enclave %s: %s",
			  r->enclave_id, e.msg);
	else
		log_info("run: enclave enclave_id=%s terminated", r->enclave_id);
	r->enclave_id[0] = '\0';
}

/* ---- setup ---- */

static int start_proxy(const struct host_proxy *hp, const char *name,
		       struct event_base *base, struct proxy **out)
{
	struct proxy_route route = {
		.name = name, .listen = hp->listen, .connect = hp->connect,
		.max_connections = hp->max_connections,
		.idle_timeout_ms = hp->idle_timeout_s * 1000};
	struct proxy_config pc = {.routes = &route, .nroutes = 1,
				  .allow = hp->allow, .nallow = hp->nallow};
	struct err e = {0};
	if (proxy_new(&pc, base, out, &e) < 0) {
		fprintf(stderr, "nitro-host run: %s: %s\n", name, e.msg);
		return e.code == ERR_USAGE ? 2 : 1;
	}
	return 0;
}

/* The config's proxies, then metrics (the enclave's metrics listener on
 * a local port) in px[nproxies]. */
static int start_proxies(const struct host_config *cfg,
			 struct event_base *base, struct proxy **px)
{
	for (size_t i = 0; i < cfg->nproxies; i++) {
		char name[32];
		snprintf(name, sizeof(name), "proxies[%zu]", i);
		int rc = start_proxy(&cfg->proxies[i], name, base, &px[i]);
		if (rc != 0)
			return rc;
	}
	if (cfg->has_metrics)
		return start_proxy(&cfg->metrics, "metrics", base,
				   &px[cfg->nproxies]);
	return 0;
}

static int add_events(struct runner *r)
{
	struct timeval tick = {.tv_usec = TICK_MS * 1000};
	r->ev_chld = evsignal_new(r->base, SIGCHLD, on_chld, r);
	r->ev_term = evsignal_new(r->base, SIGTERM, on_term, r);
	r->ev_int = evsignal_new(r->base, SIGINT, on_term, r);
	r->ev_hup = evsignal_new(r->base, SIGHUP, on_hup, r);
	r->ev_restart = evtimer_new(r->base, on_restart, r);
	r->ev_tick = event_new(r->base, -1, EV_PERSIST, on_tick, r);
	r->ev_worker = event_new(r->base, host_worker_fd(r->w),
				 EV_READ | EV_PERSIST, on_job_done, r);
	if (!r->ev_chld || !r->ev_term || !r->ev_int || !r->ev_hup ||
	    !r->ev_restart || !r->ev_tick || !r->ev_worker ||
	    evsignal_add(r->ev_chld, NULL) < 0 ||
	    evsignal_add(r->ev_term, NULL) < 0 ||
	    evsignal_add(r->ev_int, NULL) < 0 ||
	    evsignal_add(r->ev_hup, NULL) < 0 ||
	    event_add(r->ev_tick, &tick) < 0 ||
	    event_add(r->ev_worker, NULL) < 0)
		return -1;
	return 0;
}

static void free_events(struct runner *r)
{
	struct event *evs[] = {r->ev_chld, r->ev_term, r->ev_int, r->ev_hup,
			       r->ev_restart, r->ev_tick, r->ev_worker};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
}

int host_run(const struct host_config *cfg)
{
	struct runner r = {.cfg = cfg, .backoff_s = 1,
			   .nitro = cfg->runner == HOST_RUNNER_NITRO_CLI};
	struct proxy *px[HOST_MAX_PROXIES + 1] = {0}; /* + metrics */
	struct err e = {0};
	int rc = 1;
	r.health.runner_nitro = r.nitro;
	snprintf(r.health.reason, sizeof(r.health.reason),
		 "enclave not started");
	signal(SIGPIPE, SIG_IGN);
	r.base = event_base_new();
	if (!r.base) {
		log_error("run: cannot create the event loop");
		return 1;
	}
	if (host_worker_new(cfg, &r.w, &e) < 0 || add_events(&r) < 0) {
		log_error("run: cannot set up the loop: %s", e.msg);
		goto out;
	}
	rc = start_proxies(cfg, r.base, px);
	if (rc != 0)
		goto out;
	rc = 1;
	if (cfg->has_health_listen &&
	    host_health_new(r.base, &cfg->health_listen, &r.health, &r.hs,
			    &e) < 0) {
		fprintf(stderr, "nitro-host run: health_listen: %s\n", e.msg);
		goto out;
	}
	log_info("run: signer_id=%s region=%s key_table=%s runner=%s",
		 cfg->signer_id, cfg->region, cfg->key_table,
		 r.nitro ? "nitro-cli" : "local");
	start_enclave(&r);
	event_base_dispatch(r.base);
	host_worker_abort(r.w);
	if (r.nitro) {
		host_worker_free(r.w); /* waits for a nitro-cli in flight */
		r.w = NULL;
		stop_nitro(&r);
	} else {
		stop_local(&r);
	}
	rc = r.stopping ? 0 : 1;
out:
	host_worker_free(r.w);
	if (r.busy)
		json_decref(r.job.reply);
	host_health_free(r.hs);
	json_decref(r.health.failed_keys);
	for (size_t i = 0; i < HOST_MAX_PROXIES + 1; i++)
		proxy_free(px[i]);
	free_events(&r);
	event_base_free(r.base);
	log_info("run: stopped");
	return rc;
}
