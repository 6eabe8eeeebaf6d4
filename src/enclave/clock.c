/*
 * clock.c: the enclave's trusted time, the clock guard's "now".
 *
 * The parent instance is an adversary and relays everything the enclave
 * hears, so "now" must not come from it: not from a control message (none
 * carries a time for this; the only host time is the pushed credentials'
 * Expiration, shown in status and nothing else), not from an AWS reply,
 * and not from the enclave's own wall clock, which nothing here can vouch
 * for. It comes from the Nitro hypervisor: every attestation document the
 * NSM makes carries a `timestamp` (ms since the epoch). The document is read
 * straight from /dev/nsm (an ioctl to the hypervisor, no host in between),
 * so its timestamp is taken as it is, without checking the COSE signature
 * that exists for remote verifiers.
 *
 * A sample is (NSM timestamp, CLOCK_MONOTONIC when the document arrived);
 * "now" is the last sample's timestamp plus the monotonic time elapsed
 * since, so neither the host nor a skewed enclave wall clock moves it.
 * Samples come from every document the enclave asks for anyway (init,
 * each reload) and from a check the control thread runs every
 * ENCLAVE_CLOCK_INTERVAL_S while the guard is on (a bare document, no
 * fields). The enclave's own clock is compared with each sample: a
 * difference over ENCLAVE_CLOCK_TOLERANCE_MS is logged and shown in status
 * (clock_agrees false), and changes nothing, since the guard never reads it.
 *
 * Fail closed: until the first sample, after any failed NSM call (until a
 * later one succeeds; a failed check is retried every
 * ENCLAVE_CLOCK_RETRY_S), or when the last sample is older than three
 * intervals, there is no trusted time and enclave_clock_now says so: the
 * signer answers blocks and attestations 503 while the guard is on.
 */
#include "enclave/enclave_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void enclave_clock_init(struct enclave_clock *c, uint64_t epochs,
			unsigned interval_s)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->epochs = epochs;
	c->interval_s = interval_s ? interval_s : ENCLAVE_CLOCK_INTERVAL_S;
	snprintf(c->error, sizeof(c->error), "no NSM time yet");
}

void enclave_clock_destroy(struct enclave_clock *c)
{
	pthread_mutex_destroy(&c->lock);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When the next periodic check is due: an interval after a success, the
 * retry delay after a failure (never later than the interval). */
static uint64_t next_due(const struct enclave_clock *c, bool ok)
{
	unsigned s = ok || c->interval_s < ENCLAVE_CLOCK_RETRY_S
			     ? c->interval_s : ENCLAVE_CLOCK_RETRY_S;
	return clock_mono_us() + (uint64_t)s * 1000000u;
}

void enclave_clock_failed(struct enclave_clock *c, const char *why)
{
	pthread_mutex_lock(&c->lock);
	bool was_ok = c->sampled && !c->failed;
	c->failed = true;
	snprintf(c->error, sizeof(c->error), "%s", why);
	c->next_check_us = next_due(c, false);
	pthread_mutex_unlock(&c->lock);
	if (was_ok) /* once per outage; status keeps the latest reason */
		log_error("clock: the NSM cannot vouch for the time (%s)%s", why,
			  c->epochs ? ": blocks and attestations are refused "
				      "(503) until it can" : "");
}

int enclave_clock_note_doc(struct enclave_clock *c, const uint8_t *doc,
			   size_t len, uint64_t mono_us, struct err *e)
{
	struct attestation_doc *d = NULL;
	if (attestation_parse(doc, len, &d, e) < 0) {
		err_prefix(e, "clock: the NSM's document: ");
		enclave_clock_failed(c, e->msg);
		return -ERR_UNAVAILABLE;
	}
	uint64_t nsm_ms = d->timestamp_ms;
	attestation_doc_free(d);
	int64_t skew = wall_ms() - (int64_t)nsm_ms;
	pthread_mutex_lock(&c->lock);
	if (c->sampled && mono_us < c->mono_us) {
		/* another thread noted a later document meanwhile: keep it */
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	/* where the previous sample said we are now, for the log */
	bool had = c->sampled && !c->failed, back = c->sampled && c->failed;
	int64_t jump = had ? (int64_t)nsm_ms - (int64_t)(c->nsm_ms +
				(mono_us - c->mono_us) / 1000) : 0;
	c->sampled = true;
	c->failed = false;
	c->error[0] = '\0';
	c->nsm_ms = nsm_ms;
	c->mono_us = mono_us;
	c->skew_ms = skew;
	c->samples++;
	c->next_check_us = next_due(c, true);
	pthread_mutex_unlock(&c->lock);
	if (back)
		log_info("clock: the NSM vouches for the time again");
	if (skew > ENCLAVE_CLOCK_TOLERANCE_MS || skew < -ENCLAVE_CLOCK_TOLERANCE_MS)
		log_warn("clock: the enclave's clock is %lld ms %s NSM time; the "
			 "clock guard follows NSM time", (long long)(skew < 0 ? -skew
								     : skew),
			 skew < 0 ? "behind" : "ahead of");
	if (jump > ENCLAVE_CLOCK_TOLERANCE_MS || jump < -ENCLAVE_CLOCK_TOLERANCE_MS)
		log_warn("clock: NSM time moved %lld ms against the monotonic "
			 "clock since the last sample; following the NSM",
			 (long long)jump);
	return 0;
}

int enclave_clock_check(struct enclave *en, struct err *e)
{
	struct nsm *nsm = NULL;
	uint8_t *doc = NULL;
	size_t len = 0;
	struct nsm_attest_req req = {0};
	int rc = en->nsm_spec ? nsm_open(en->nsm_spec, &nsm, e)
			      : err_set(e, ERR_UNAVAILABLE, "no NSM configured");
	if (rc == 0)
		rc = nsm_attest(nsm, &req, &doc, &len, e);
	uint64_t mono = clock_mono_us();
	nsm_close(nsm);
	if (rc < 0) {
		err_prefix(e, "NSM: ");
		enclave_clock_failed(&en->clock, e->msg);
	} else {
		rc = enclave_clock_note_doc(&en->clock, doc, len, mono, e);
	}
	free(doc);
	return rc;
}

bool enclave_clock_due(struct enclave_clock *c, int *timeout_ms)
{
	pthread_mutex_lock(&c->lock);
	uint64_t due = c->next_check_us, now = clock_mono_us();
	pthread_mutex_unlock(&c->lock);
	if (now >= due) {
		*timeout_ms = 0;
		return true;
	}
	uint64_t ms = (due - now + 999) / 1000;
	*timeout_ms = ms > 60000 ? 60000 : (int)ms;
	return false;
}

/* Under the lock: the trusted time in ms, or -ERR_UNAVAILABLE and why. */
static int now_ms_locked(const struct enclave_clock *c, uint64_t mono,
			 uint64_t *ms, struct err *e)
{
	if (!c->sampled || c->failed)
		return err_set(e, ERR_UNAVAILABLE, "NSM time unavailable: %s",
			       c->error);
	uint64_t age_s = (mono - c->mono_us) / 1000000u;
	if (age_s > 3 * (uint64_t)c->interval_s)
		return err_set(e, ERR_UNAVAILABLE, "NSM time is stale: last "
			       "checked %llu s ago", (unsigned long long)age_s);
	*ms = c->nsm_ms + (mono - c->mono_us) / 1000u;
	return 0;
}

int enclave_clock_now(void *ctx, uint64_t *unix_s, struct err *e)
{
	struct enclave_clock *c = ctx;
	uint64_t ms = 0;
	pthread_mutex_lock(&c->lock);
	int rc = now_ms_locked(c, clock_mono_us(), &ms, e);
	pthread_mutex_unlock(&c->lock);
	if (rc == 0)
		*unix_s = ms / 1000u;
	return rc;
}

json_t *enclave_clock_status(struct enclave_clock *c)
{
	struct err e = {0};
	uint64_t ms = 0;
	pthread_mutex_lock(&c->lock);
	uint64_t mono = clock_mono_us();
	int rc = now_ms_locked(c, mono, &ms, &e);
	bool sampled = c->sampled;
	int64_t skew = c->skew_ms;
	uint64_t age_s = sampled ? (mono - c->mono_us) / 1000000u : 0;
	uint64_t samples = c->samples;
	pthread_mutex_unlock(&c->lock);
	const char *state = c->epochs == 0 ? "off" : rc == 0 ? "ok"
						   : "unavailable";
	json_t *o = json_pack("{s:I,s:s,s:s,s:I}", "guard_epochs",
			      (json_int_t)c->epochs, "source", "nsm", "state",
			      state, "samples", (json_int_t)samples);
	if (!o)
		return NULL;
	if (rc == 0)
		json_object_set_new(o, "nsm_time_ms", json_integer((json_int_t)ms));
	else
		json_object_set_new(o, "error", json_string(e.msg));
	if (sampled) {
		json_object_set_new(o, "checked_s_ago",
				    json_integer((json_int_t)age_s));
		json_object_set_new(o, "skew_ms", json_integer((json_int_t)skew));
		json_object_set_new(o, "clock_agrees",
				    json_boolean(skew <= ENCLAVE_CLOCK_TOLERANCE_MS &&
						 skew >= -ENCLAVE_CLOCK_TOLERANCE_MS));
	}
	return o;
}
