/*
 * worker.c: the watchdog's helper thread. Everything that blocks runs
 * here, one job at a time, so the event loop (proxies, /health, signals)
 * never waits: IMDS and DynamoDB calls, control exchanges (an init can
 * take minutes, and the enclave's KMS traffic during it goes through this
 * process's own proxies), and nitro-cli.
 *
 * Threading: the loop submits a job and does not touch it until the
 * thread writes one byte to the notify pipe; then the loop takes it back
 * with host_worker_done(). The AWS client and credentials provider belong
 * to this thread alone. host_worker_abort() only sets an atomic flag that
 * control exchanges poll.
 *
 * Secrets: the instance role's secret key and session token are copied
 * into the init/credentials frame and wiped from it (and from the JSON
 * object) after sending; they are never logged.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "aws/aws.h"
#include "control/control.h"
#include "host/watchdog.h"

#define PROBE_TIMEOUT_MS 1000
#define STATUS_TIMEOUT_MS 5000
#define CREDS_TIMEOUT_MS 10000
#define INIT_TIMEOUT_MS (10 * 60 * 1000)
#define NITRO_RUN_TIMEOUT_MS (120 * 1000)
#define NITRO_DESCRIBE_TIMEOUT_MS (15 * 1000)
#define NITRO_TERMINATE_TIMEOUT_MS (60 * 1000)

struct host_worker {
	const struct host_config *cfg;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct host_job *job;  /* submitted, not yet taken */
	struct host_job *done; /* finished, not yet taken back */
	bool quit;
	int pipe[2];
	atomic_bool abort;
	struct aws_creds_provider *creds;
	struct aws_client *aws;
	/* SHA-256 of the records the enclave last took (init or reload) */
	uint8_t sent[32];
	bool has_sent;
};

/* The digest of a record set, as sent (keys sorted). */
static void records_digest(const json_t *records, uint8_t out[32])
{
	char *text = json_dumps(records, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned len = 32;
	if (!text || !EVP_Digest(text, strlen(text), out, &len, EVP_sha256(),
				 NULL))
		memset(out, 0, 32); /* never equal to a real digest's use */
	free(text);
}

/* ---- AWS ---- */

/* "<what>: " before the message; always a negative code. */
static int with_prefix(struct err *e, const char *what)
{
	int rc = err_prefix(e, "%s: ", what);
	return rc < 0 ? rc : -ERR_INTERNAL;
}

static int ensure_aws(struct host_worker *w, struct err *e)
{
	const struct host_config *cfg = w->cfg;
	if (!w->creds) {
		w->creds = cfg->credentials == HOST_CREDS_ENV
				   ? aws_creds_env_new(e)
				   : aws_creds_imds_new(cfg->endpoint_imds, e);
		if (!w->creds)
			return with_prefix(e, "credentials");
		aws_creds_set_refresh_window(w->creds,
					     cfg->credentials_refresh_s);
	}
	if (!w->aws) {
		/* short: a Query page is small, and a stop waits for the
		 * call in flight (3 attempts of at most 5 s) */
		struct aws_client_opts o = {.region = cfg->region,
					    .creds = w->creds,
					    .max_attempts = 3,
					    .timeout_ms = 5000};
		o.endpoint[AWS_SVC_DYNAMODB] = cfg->endpoint_dynamodb;
		o.endpoint[AWS_SVC_KMS] = cfg->endpoint_kms;
		w->aws = aws_client_new(&o, e);
		if (!w->aws)
			return with_prefix(e, "dynamodb");
	}
	return 0;
}

/* The current credentials as the control frames carry them. */
static int creds_json(struct host_worker *w, struct host_job *j, json_t **out,
		      struct err *e)
{
	struct aws_creds c = {0};
	*out = NULL;
	TRY(ensure_aws(w, e));
	if (aws_creds_get(w->creds, &c, e) < 0)
		return with_prefix(e, "credentials");
	json_t *o = json_object();
	int rc = 0;
	if (!o ||
	    json_object_set_new(o, "AccessKeyId",
				json_string(c.access_key_id)) ||
	    json_object_set_new(o, "SecretAccessKey",
				json_string((const char *)c.secret_key->bytes)))
		rc = err_set(e, ERR_NOMEM, "credentials: out of memory");
	if (rc == 0 && c.session_token &&
	    json_object_set_new(o, "Token",
				json_string((const char *)c.session_token->bytes)))
		rc = err_set(e, ERR_NOMEM, "credentials: out of memory");
	if (rc == 0 && c.expiration) {
		char iso[32];
		host_iso8601(c.expiration, iso);
		if (json_object_set_new(o, "Expiration", json_string(iso)))
			rc = err_set(e, ERR_NOMEM, "credentials: out of memory");
	}
	snprintf(j->akid, sizeof(j->akid), "%s", c.access_key_id);
	j->expiration = c.expiration;
	aws_creds_clear(&c);
	if (rc < 0) {
		if (o)
			control_wipe_strings(o);
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}

/* Every item of signer_id in key_table -> records (malformed skipped). */
static int read_records(struct host_worker *w, struct host_job *j,
			json_t **records, struct err *e)
{
	const struct host_config *cfg = w->cfg;
	TRY(ensure_aws(w, e));
	json_t *names = json_pack("{s:s}", "#p", AWS_KT_SIGNER_ID);
	json_t *vals = json_pack("{s:{s:s}}", ":s", "S", cfg->signer_id);
	json_t *items = NULL;
	unsigned pages = 0;
	struct aws_ddb_query q = {.table = cfg->key_table,
				  .key_condition = {.expr = "#p = :s",
						    .names = names,
						    .values = vals},
				  .consistent = true};
	int rc = names && vals ? aws_ddb_query_all(w->aws, &q, &items, &pages, e)
			       : err_set(e, ERR_NOMEM, "out of memory");
	json_decref(names);
	json_decref(vals);
	if (rc < 0)
		return with_prefix(e, "dynamodb");
	rc = host_records_from_items(items, records, &j->rs, e);
	json_decref(items);
	if (rc == 0) {
		char what[256];
		host_records_describe(&j->rs, what, sizeof(what));
		log_info("run: records: %s in %s, %u pages", what, cfg->key_table,
			 pages);
	}
	return rc;
}

/* Sends msg; an ok:false reply is an error "<what> failed: <why>". */
static int exchange(struct host_worker *w, struct host_job *j,
		    const json_t *msg, int timeout_ms, const char *what,
		    struct err *e)
{
	TRY(control_exchange(&w->cfg->control, msg, timeout_ms, &w->abort,
			     &j->reply, e));
	const json_t *ok = json_object_get(j->reply, "ok");
	if (json_is_true(ok))
		return 0;
	const json_t *why = json_object_get(j->reply, "error");
	return err_set(e, ERR_UNAVAILABLE, "%s failed: %s", what,
		       json_is_string(why) ? json_string_value(why)
					   : "no reason given");
}

static int set_opt(json_t *m, const char *k, const char *v)
{
	return v ? json_object_set_new(m, k, json_string(v)) : 0;
}

static json_t *init_msg(const struct host_config *cfg, json_t *creds,
			json_t *records)
{
	json_t *m = control_msg_new(CONTROL_INIT);
	if (!m)
		return NULL;
	int bad = json_object_set_new(m, "region", json_string(cfg->region)) |
		  json_object_set(m, "credentials", creds) |
		  json_object_set_new(m, "network", json_string(cfg->network)) |
		  json_object_set_new(m, "slashing_db_url",
				      json_string(cfg->slashing_db_url)) |
		  json_object_set_new(m, "key_table",
				      json_string(cfg->key_table)) |
		  json_object_set_new(m, "signer_id",
				      json_string(cfg->signer_id)) |
		  json_object_set(m, "records", records) |
		  set_opt(m, "kms_endpoint", cfg->endpoint_kms) |
		  set_opt(m, "kms_proxy", cfg->kms_proxy) |
		  set_opt(m, "dynamodb_endpoint", cfg->endpoint_dynamodb) |
		  set_opt(m, "dynamodb_proxy", cfg->dynamodb_proxy) |
		  set_opt(m, "kms_key_id", cfg->kms_key_id);
	if (!bad && cfg->ntls_names) {
		json_t *names = json_array();
		for (size_t i = 0; names && i < cfg->ntls_names; i++)
			bad |= json_array_append_new(
				names, json_string(cfg->tls_names[i]));
		bad |= !names || json_object_set_new(m, "tls_names", names);
	}
	if (bad) {
		json_decref(m);
		return NULL;
	}
	return m;
}

static int job_init(struct host_worker *w, struct host_job *j, struct err *e)
{
	json_t *creds = NULL, *records = NULL, *m = NULL;
	int rc = creds_json(w, j, &creds, e);
	if (rc == 0)
		rc = read_records(w, j, &records, e);
	if (rc == 0) {
		m = init_msg(w->cfg, creds, records);
		if (!m)
			rc = err_set(e, ERR_NOMEM, "init: out of memory");
	}
	if (rc == 0) {
		rc = exchange(w, j, m, INIT_TIMEOUT_MS, "init", e);
		j->pushed = rc == 0;
	}
	if (rc == 0) {
		records_digest(records, w->sent);
		w->has_sent = true;
	}
	if (creds)
		control_wipe_strings(creds);
	json_decref(creds);
	json_decref(records);
	json_decref(m);
	return rc;
}

static int job_creds(struct host_worker *w, struct host_job *j, struct err *e)
{
	json_t *creds = NULL;
	TRY(creds_json(w, j, &creds, e));
	int rc = 0;
	if (strcmp(j->akid, j->prev_akid) != 0 ||
	    j->expiration != j->prev_expiration) {
		json_t *m = control_msg_new(CONTROL_CREDENTIALS);
		if (!m || json_object_set(m, "credentials", creds))
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else
			rc = exchange(w, j, m, CREDS_TIMEOUT_MS, "credentials",
				      e);
		j->pushed = rc == 0;
		json_decref(m);
	}
	control_wipe_strings(creds);
	json_decref(creds);
	return rc;
}

static int job_reload(struct host_worker *w, struct host_job *j, struct err *e)
{
	json_t *records = NULL;
	TRY(read_records(w, j, &records, e));
	uint8_t d[32];
	records_digest(records, d);
	if (j->if_changed && w->has_sent && memcmp(d, w->sent, 32) == 0) {
		j->unchanged = true;
		json_decref(records);
		return 0;
	}
	json_t *m = control_msg_new(CONTROL_RELOAD);
	int rc;
	if (!m || json_object_set(m, "records", records))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = exchange(w, j, m, INIT_TIMEOUT_MS, "reload", e);
	if (rc == 0) {
		memcpy(w->sent, d, 32);
		w->has_sent = true;
	}
	json_decref(m);
	json_decref(records);
	return rc;
}

static int job_status(struct host_worker *w, struct host_job *j, int ms,
		      struct err *e)
{
	json_t *m = control_msg_new(CONTROL_STATUS);
	if (!m)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = exchange(w, j, m, ms, "status", e);
	json_decref(m);
	return rc;
}

/* ---- nitro-cli ---- */

static int job_start(struct host_worker *w, struct host_job *j, struct err *e)
{
	const struct host_nitro_cli *n = &w->cfg->nitro;
	char cpus[16], mem[16], cid[16];
	snprintf(cpus, sizeof(cpus), "%d", n->cpu_count);
	snprintf(mem, sizeof(mem), "%d", n->memory_mib);
	snprintf(cid, sizeof(cid), "%d", n->cid);
	char *argv[] = {n->nitro_cli, "run-enclave", "--eif-path", n->eif_path,
			"--cpu-count", cpus, "--memory", mem, "--enclave-cid",
			cid, n->debug_mode ? "--debug-mode" : NULL, NULL};
	char *out = NULL;
	TRY(host_run_capture(argv, NITRO_RUN_TIMEOUT_MS, &out, e));
	int rc = host_nitro_parse_run(out, j->new_enclave_id,
				      sizeof(j->new_enclave_id), &j->cid, e);
	free(out);
	return rc;
}

static int job_describe(struct host_worker *w, struct host_job *j,
			struct err *e)
{
	char *argv[] = {w->cfg->nitro.nitro_cli, "describe-enclaves", NULL};
	char *out = NULL;
	TRY(host_run_capture(argv, NITRO_DESCRIBE_TIMEOUT_MS, &out, e));
	int rc = host_nitro_parse_describe(out, j->enclave_id, j->state,
					   sizeof(j->state), e);
	free(out);
	if (rc < 0)
		return rc;
	j->running = rc == 1;
	return 0;
}

int host_nitro_terminate(const struct host_config *cfg, const char *id,
			 struct err *e)
{
	char *argv[] = {cfg->nitro.nitro_cli, "terminate-enclave",
			"--enclave-id", (char *)id, NULL};
	char *out = NULL;
	TRY(host_run_capture(argv, NITRO_TERMINATE_TIMEOUT_MS, &out, e));
	free(out);
	return 0;
}

/* ---- the thread ---- */

static void run_job(struct host_worker *w, struct host_job *j)
{
	struct err e = {0};
	int rc;
	switch (j->kind) {
	case HOST_JOB_START: rc = job_start(w, j, &e); break;
	case HOST_JOB_DESCRIBE: rc = job_describe(w, j, &e); break;
	case HOST_JOB_TERMINATE:
		rc = host_nitro_terminate(w->cfg, j->enclave_id, &e);
		break;
	case HOST_JOB_PROBE: rc = job_status(w, j, PROBE_TIMEOUT_MS, &e); break;
	case HOST_JOB_STATUS:
		rc = job_status(w, j, j->timeout_ms ? j->timeout_ms
						    : STATUS_TIMEOUT_MS, &e);
		break;
	case HOST_JOB_INIT: rc = job_init(w, j, &e); break;
	case HOST_JOB_CREDS: rc = job_creds(w, j, &e); break;
	case HOST_JOB_RELOAD: rc = job_reload(w, j, &e); break;
	default: rc = err_set(&e, ERR_INTERNAL, "unknown job"); break;
	}
	j->rc = rc;
	snprintf(j->err, sizeof(j->err), "%s", rc < 0 ? e.msg : "");
}

static void *worker_main(void *arg)
{
	struct host_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->job && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		struct host_job *j = w->job;
		w->job = NULL;
		pthread_mutex_unlock(&w->mu);
		run_job(w, j);
		pthread_mutex_lock(&w->mu);
		w->done = j;
		char b = 1;
		if (write(w->pipe[1], &b, 1) < 0)
			log_error("run: worker: cannot notify the loop");
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int host_worker_new(const struct host_config *cfg, struct host_worker **out,
		    struct err *e)
{
	struct host_worker *w = calloc(1, sizeof(*w));
	*out = NULL;
	if (!w)
		return err_set(e, ERR_NOMEM, "run: out of memory");
	w->cfg = cfg;
	w->pipe[0] = w->pipe[1] = -1;
	atomic_init(&w->abort, false);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pthread_create(&w->th, NULL, worker_main, w) != 0) {
		host_worker_free(w);
		return err_set(e, ERR_IO, "run: cannot start the worker");
	}
	w->started = true;
	*out = w;
	return 0;
}

int host_worker_fd(const struct host_worker *w)
{
	return w->pipe[0];
}

void host_worker_submit(struct host_worker *w, struct host_job *job)
{
	pthread_mutex_lock(&w->mu);
	w->job = job;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

struct host_job *host_worker_done(struct host_worker *w)
{
	char b[16];
	while (read(w->pipe[0], b, sizeof(b)) > 0)
		;
	pthread_mutex_lock(&w->mu);
	struct host_job *j = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->mu);
	return j;
}

void host_worker_abort(struct host_worker *w)
{
	atomic_store(&w->abort, true);
}

void host_worker_free(struct host_worker *w)
{
	if (!w)
		return;
	atomic_store(&w->abort, true);
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->quit = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	aws_client_free(w->aws);
	aws_creds_provider_free(w->creds);
	if (w->pipe[0] >= 0)
		close(w->pipe[0]);
	if (w->pipe[1] >= 0)
		close(w->pipe[1]);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
