/*
 * batch.c: POST /api/v1/eth2/sign, one signing request for many keys, as
 * the remote-signing-api proposal has it (ethereum/remote-signing-api
 * PR #29, open; docs/compatibility.md). The single-key route is unchanged.
 *
 * On the event loop, exactly what the single-key route checks of a
 * request, once for the batch: Content-Type (415), the body (eth2's
 * batch.c: 400 naming the field for a malformed batch, an empty or
 * repeated key list, a type outside the proposal's list), the signing-type
 * policy (403 type_not_allowed, the same for every key). The route's row
 * asks for an authorised client as the single-key row does. Then the rest
 * goes to a worker, because it may wait for the database and it keeps the
 * cores busy for a while:
 *   1. each key looked up (404 for that key when it is not loaded: an
 *      unknown key is never recorded);
 *   2. for ATTESTATION with protection on, every loaded key checked and
 *      recorded on its own, in one group commit (slashing_check_many):
 *      412 with the reason for a refused key, 503 for all when the
 *      database fails; nothing unrecorded is signed;
 *   3. the root hashed to G2 once (through the signer's cache), and the
 *      per-key multiplications spread over every core (parallel_for);
 *   4. 200 with a JSON array in request order, each item
 *      {"identifier", "signature"} or {"identifier", "error": {"code",
 *      "message"}}, code being the status the single-key request would
 *      have had.
 * The key registry is read-locked from the lookup to the last signature,
 * as on the single-key path, so a reload cannot free a key in between.
 *
 * Bounds: the server's 1 MiB body cap (10,000 keys fit) and
 * ETH2_BATCH_MAX_IDS keys.
 */
#include "signer/signer_internal.h"
#include "slashing/slashing.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct batch_job {
	struct signer *s;
	struct eth2_batch b;
	struct bls_msg_point h;
	/* per key, in request order */
	const struct bls_key **keys; /* NULL: not loaded */
	int *status;                 /* 200, or the single-key error status */
	enum slashing_reason *why;   /* 412 */
	uint8_t (*sigs)[BLS_SIG_LEN];
	char db_msg[300];            /* 503 */
};

static void job_free(struct batch_job *j)
{
	if (!j)
		return;
	eth2_batch_free(&j->b);
	free(j->keys);
	free(j->status);
	free(j->why);
	free(j->sigs);
	free(j);
}

static void refuse_all_loaded(struct batch_job *j, const char *why)
{
	snprintf(j->db_msg, sizeof(j->db_msg),
		 "slashing protection database unavailable: %s", why);
	log_error("%s", j->db_msg);
	for (size_t i = 0; i < j->b.n; i++)
		if (j->status[i] == 200)
			j->status[i] = 503;
}

/* Step 2: the loaded keys' records, in one commit. */
static void protect(struct batch_job *j)
{
	struct signer *s = j->s;
	struct slashing_db *db = signer_db(s);
	if (!db) {
		char why[sizeof(s->db_error)];
		pthread_mutex_lock(&s->db_lock);
		snprintf(why, sizeof(why), "%s", s->db_error);
		pthread_mutex_unlock(&s->db_lock);
		refuse_all_loaded(j, why);
		return;
	}
	size_t n = j->b.n, m = 0;
	uint8_t (*pks)[BLS_PUBKEY_LEN] = malloc(n * sizeof(*pks));
	size_t *at = malloc(n * sizeof(*at));
	enum slashing_reason *d = malloc(n * sizeof(*d));
	struct err e = {0};
	int rc = pks && at && d ? 0 : err_set(&e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (j->status[i] != 200)
			continue;
		memcpy(pks[m], j->b.pubkeys[i], BLS_PUBKEY_LEN);
		at[m++] = i;
	}
	if (rc == 0)
		rc = slashing_check_many(db, pks, m, &j->b.sg, d, &e);
	if (rc < 0) {
		refuse_all_loaded(j, e.msg);
	} else {
		for (size_t k = 0; k < m; k++) {
			if (d[k] == SLASHING_OK)
				continue;
			j->status[at[k]] = 412;
			j->why[at[k]] = d[k];
			atomic_fetch_add(&s->refused_total, 1);
			signer_metrics_prevented(s);
			log_warn("slashing protection refused %s for %s: %s",
				 eth2_sign_type_name(j->b.sg.type),
				 j->b.ids[at[k]], slashing_reason_code(d[k]));
		}
	}
	free(pks);
	free(at);
	free(d);
}

/* Step 3, one key (parallel_for's body). */
static void sign_one(void *arg, size_t i)
{
	struct batch_job *j = arg;
	if (j->status[i] == 200)
		bls_sign_point(j->keys[i], &j->h, j->sigs[i]);
}

static json_t *result(const struct batch_job *j, size_t i)
{
	char hex[2 + 2 * BLS_SIG_LEN + 1];
	char msg[sizeof(j->db_msg) + 64];
	const char *id = j->b.ids[i];
	switch (j->status[i]) {
	case 200:
		hex_encode(j->sigs[i], BLS_SIG_LEN, hex);
		return json_pack("{s:s,s:s}", "identifier", id, "signature", hex);
	case 404:
		snprintf(msg, sizeof(msg), "unknown public key");
		break;
	case 412:
		snprintf(msg, sizeof(msg), "refused by slashing protection: %s",
			 slashing_reason_code(j->why[i]));
		break;
	default:
		snprintf(msg, sizeof(msg), "%s", j->db_msg);
		break;
	}
	return json_pack("{s:s,s:{s:i,s:s}}", "identifier", id, "error", "code",
			 j->status[i], "message", msg);
}

/* Step 4. */
static void reply_results(struct batch_job *j, struct http_reply *r)
{
	json_t *a = json_array();
	size_t nsigned = 0;
	for (size_t i = 0; a && i < j->b.n; i++) {
		json_t *o = result(j, i);
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			a = NULL;
		}
		nsigned += j->status[i] == 200;
	}
	char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	if (!text) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	atomic_fetch_add(&j->s->signed_total[j->b.sg.type], nsigned);
	signer_metrics_signed(j->s, nsigned);
	http_reply_json_owned(r, 200, text);
}

/* On a worker: steps 1 to 4. */
static void batch_run(const struct http_req *req, struct http_reply *r,
		      void *ctx)
{
	struct batch_job *j = ctx;
	struct signer *s = j->s;
	pthread_rwlock_rdlock(&s->keys_lock);
	for (size_t i = 0; i < j->b.n; i++) {
		j->keys[i] = s->keys ? keys_find(s->keys, j->b.pubkeys[i]) : NULL;
		j->status[i] = j->keys[i] ? 200 : 404;
	}
	if (j->b.sg.slashable && s->slashing_enabled)
		protect(j);
	(void)bls_h2c_cache_get(s->h2c, j->b.sg.signing_root, &j->h);
	parallel_for(j->b.n, cpu_count(), sign_one, j);
	pthread_rwlock_unlock(&s->keys_lock);
	reply_results(j, r);
	signer_count_status(s, r->status);
	job_free(j);
}

void signer_route_sign_batch(struct signer *s, const struct http_req *req,
			     struct http_reply *r)
{
	if (!http_content_type_is_json(req->content_type)) {
		http_reply_error(r, 415, "Content-Type must be application/json");
		return;
	}
	struct batch_job *j = calloc(1, sizeof(*j));
	if (!j) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	j->s = s;
	struct err e = {0};
	if (eth2_batch_parse(&s->net, (const char *)req->body, req->body_len,
			     &j->b, &e) < 0) {
		if (e.code == ERR_INVALID)
			signer_metrics_malformed(s);
		http_reply_error(r, e.code == ERR_INVALID ? 400 : 500, e.msg);
		job_free(j);
		return;
	}
	if (!(s->signing_types & (UINT32_C(1) << j->b.sg.type))) {
		signer_reply_type_refused(j->b.sg.type, r);
		job_free(j);
		return;
	}
	/* The clock guard, as on the single-key route: one message for every
	 * key, so its verdict (412 clock, 503 without a trusted time) is the
	 * whole batch's, before anything is recorded. */
	if (!signer_clock_guard(s, j->b.pubkeys[0], &j->b.sg, r)) {
		job_free(j);
		return;
	}
	size_t n = j->b.n;
	j->keys = calloc(n, sizeof(*j->keys));
	j->status = calloc(n, sizeof(*j->status));
	j->why = calloc(n, sizeof(*j->why));
	j->sigs = calloc(n, sizeof(*j->sigs));
	if (!j->keys || !j->status || !j->why || !j->sigs) {
		http_reply_error(r, 500, "out of memory");
		job_free(j);
		return;
	}
	http_reply_defer(r, batch_run, j);
}
