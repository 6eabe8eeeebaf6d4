/*
 * clock_guard.c: the clock guard in front of slashing protection.
 *
 * With --slashing-protection-clock-guard-epochs=N (N > 0), a BLOCK,
 * BLOCK_V2 or ATTESTATION whose epoch (the block slot's, the attestation's
 * target) lies more than N epochs before or after the current epoch is
 * refused with 412 {"error":..,"reason":"clock"} before slashing protection
 * sees it, so nothing is recorded for it (eth2_clock_check has the exact
 * rule). It bounds what a rolled-back slashing database can be used for
 * (only messages near "now" can be signed again, and an honest validator
 * has signed those after any roll-back worth the name) and stops a
 * compromised beacon node from burning a validator with a far-future vote
 * that would block every honest vote until then.
 *
 * "Now" comes from the signer_clock the embedding program gives: the
 * machine's clock standalone, NSM-attested time in the enclave (whose
 * clock says "unavailable" when the NSM cannot vouch for the time: then
 * the request is 503 {"error":..,"reason":"clock_unavailable"}, never
 * signed). The guard needs the network's genesis time: signer_new refuses
 * a network without one while the guard is on.
 *
 * Trusts: the clock it is given, and nothing of the request but the
 * already parsed slot, target epoch and genesis validators root.
 */
#include "signer/signer_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

int signer_clock_guard_parse(const char *v, uint64_t *epochs, struct err *e)
{
	if (dec_parse_u64(v, epochs, NULL, "") < 0 ||
	    *epochs > SIGNER_CLOCK_GUARD_MAX)
		return err_set(e, ERR_USAGE, "--slashing-protection-clock-guard-"
			       "epochs: expected 0 (off) to %d epochs",
			       SIGNER_CLOCK_GUARD_MAX);
	return 0;
}

static int system_now(void *ctx, uint64_t *unix_s, struct err *e)
{
	(void)ctx;
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return err_set(e, ERR_UNAVAILABLE, "the system clock cannot be "
			       "read");
	*unix_s = (uint64_t)ts.tv_sec;
	return 0;
}

static int clock_now(const struct signer *s, uint64_t *now, struct err *e)
{
	if (s->clock.now)
		return s->clock.now(s->clock.ctx, now, e);
	return system_now(NULL, now, e);
}

int signer_clock_guard_setup(struct signer *s, const struct signer_options *o,
			     struct err *e)
{
	s->clock_guard_epochs = o->clock_guard_epochs;
	s->clock = o->clock;
	if (!s->clock.source)
		s->clock.source = s->clock.now ? "custom" : "system";
	if (s->clock_guard_epochs == 0) {
		log_info("clock guard: off (--slashing-protection-clock-guard-"
			 "epochs=0): blocks and attestations of any epoch go to "
			 "slashing protection");
		return 0;
	}
	if (s->net.genesis_time == 0 || s->net.seconds_per_slot == 0)
		return err_set(e, ERR_USAGE, "--slashing-protection-clock-guard-"
			       "epochs=%llu: network %s has no genesis time, so "
			       "the current epoch is unknown (give GENESIS_TIME "
			       "and SECONDS_PER_SLOT in its config, or turn the "
			       "guard off with 0)",
			       (unsigned long long)s->clock_guard_epochs,
			       s->net.name);
	log_info("clock guard: on: blocks and attestations more than %llu "
		 "epochs from the current epoch are refused (network %s, "
		 "genesis %llu, time from the %s clock)",
		 (unsigned long long)s->clock_guard_epochs, s->net.name,
		 (unsigned long long)s->net.genesis_time, s->clock.source);
	return 0;
}

/* 412 {"error":..,"reason":"clock"} or 503 {..,"reason":"clock_unavailable"}. */
static void reply_clock(struct http_reply *r, int status, const char *msg,
			const char *reason)
{
	json_t *o = json_pack("{s:s,s:s}", "error", msg, "reason", reason);
	http_reply_json_owned(r, status, o ? json_dumps(o, JSON_COMPACT) : NULL);
	json_decref(o);
}

static void describe(const struct eth2_signing *sg,
		     const struct eth2_clock_verdict *v, uint64_t window,
		     char *msg, size_t cap)
{
	const char *what = sg->type == ETH2_SIGN_ATTESTATION ? "target epoch"
							   : "block epoch";
	if (v->other_chain)
		snprintf(msg, cap, "refused by the clock guard: the request's "
			 "genesis_validators_root is not this network's, whose "
			 "clock cannot place its epoch");
	else
		snprintf(msg, cap, "refused by the clock guard: %s %llu is "
			 "%llu epochs %s the current epoch %llu (at most %llu "
			 "allowed)", what,
			 (unsigned long long)v->message_epoch,
			 (unsigned long long)v->distance,
			 v->future ? "after" : "before",
			 (unsigned long long)v->current_epoch,
			 (unsigned long long)window);
}

bool signer_clock_guard(struct signer *s, const uint8_t pk[BLS_PUBKEY_LEN],
			const struct eth2_signing *sg, struct http_reply *r)
{
	if (!sg->slashable || s->clock_guard_epochs == 0)
		return true;
	struct err e = {0};
	uint64_t now = 0;
	struct eth2_clock_verdict v;
	char msg[400];
	if (clock_now(s, &now, &e) < 0) {
		snprintf(msg, sizeof(msg), "clock guard: no trusted time (%s): "
			 "blocks and attestations are not signed", e.msg);
		/* once per 10 s at most: a validator client retries */
		static _Atomic uint64_t logged_us;
		uint64_t t = clock_mono_us(), last = atomic_load(&logged_us);
		if ((last == 0 || t - last >= 10000000u) &&
		    atomic_compare_exchange_strong(&logged_us, &last, t))
			log_error("%s", msg);
		reply_clock(r, 503, msg, "clock_unavailable");
		return false;
	}
	if (eth2_clock_check(&s->net, sg, now, s->clock_guard_epochs, &v,
			     &e) < 0) {
		/* setup refused such a network: our fault if it happens */
		http_reply_error(r, 500, e.msg);
		return false;
	}
	if (v.allowed)
		return true;
	atomic_fetch_add(&s->refused_total, 1);
	describe(sg, &v, s->clock_guard_epochs, msg, sizeof(msg));
	char hex[2 + 2 * BLS_PUBKEY_LEN + 1];
	hex_encode(pk, BLS_PUBKEY_LEN, hex);
	log_warn("%s for %s: %s", eth2_sign_type_name(sg->type), hex, msg);
	reply_clock(r, 412, msg, "clock");
	return false;
}

json_t *signer_clock_guard_check(struct signer *s, bool *down)
{
	*down = false;
	if (s->clock_guard_epochs == 0)
		return NULL;
	struct err e = {0};
	uint64_t now = 0;
	bool up = clock_now(s, &now, &e) == 0;
	json_t *data = json_pack("{s:I,s:s}", "epochs",
				 (json_int_t)s->clock_guard_epochs, "source",
				 s->clock.source);
	if (data && up) {
		uint64_t epoch = 0; /* before genesis: epoch 0, as the rule says */
		if (eth2_epoch_at_time(&s->net, now, &epoch, NULL) < 0)
			epoch = 0;
		char num[24];
		snprintf(num, sizeof(num), "%llu", (unsigned long long)epoch);
		json_object_set_new(data, "current_epoch", json_string(num));
	} else if (data) {
		json_object_set_new(data, "error", json_string(e.msg));
	}
	*down = !up;
	return json_pack("{s:s,s:s,s:o*}", "id", "clock-guard", "status",
			 up ? "UP" : "DOWN", "data", data);
}
