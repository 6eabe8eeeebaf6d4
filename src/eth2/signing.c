/*
 * signing.c: a Web3Signer eth2 sign request in, (object root, domain,
 * signing root) and the slashing-relevant facts out.
 *
 * The envelope (`type`, `fork_info`, `signing_root`/`signingRoot`) is read
 * here; each of the 13 types has one handler that finds its body object,
 * asks containers.c for the object root and picks the domain by the rules of
 * reference/web3signer-eth2-api.md sections 4-6:
 *   fork version for epoch e = e < fork.epoch ? previous_version : current_version
 *   domain = type || hash_tree_root(ForkData(version, gvr))[0:28]
 *   signing root = hash_tree_root(SigningData(object_root, domain))
 * The server's network decides SLOTS_PER_EPOCH, preset sizes, which schema an
 * aggregate or full block uses, the EIP-7044 exit rule and the builder
 * domain's genesis fork version.
 *
 * Deliberately stricter than Web3Signer (its section 15 allows it): every
 * client mistake, including a missing body object or fork_info, a preset
 * mismatch, a sync type before Altair and a root mismatch, is -ERR_INVALID
 * (400) with the field path in the message, never a 500.
 *
 * Trusts: nothing in the request. A supplied signing root is only compared,
 * never used.
 *
 * eth2_voluntary_exit_signing() puts an offline exit (nitro-keys exit)
 * through the VOLUNTARY_EXIT handler, so both paths share the EIP-7044 rule.
 */
#include "eth2_internal.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

static const uint8_t DOMAIN_BEACON_PROPOSER[4] = {0x00, 0, 0, 0};
static const uint8_t DOMAIN_BEACON_ATTESTER[4] = {0x01, 0, 0, 0};
static const uint8_t DOMAIN_RANDAO[4] = {0x02, 0, 0, 0};
static const uint8_t DOMAIN_DEPOSIT[4] = {0x03, 0, 0, 0};
static const uint8_t DOMAIN_VOLUNTARY_EXIT[4] = {0x04, 0, 0, 0};
static const uint8_t DOMAIN_SELECTION_PROOF[4] = {0x05, 0, 0, 0};
static const uint8_t DOMAIN_AGGREGATE_AND_PROOF[4] = {0x06, 0, 0, 0};
static const uint8_t DOMAIN_SYNC_COMMITTEE[4] = {0x07, 0, 0, 0};
static const uint8_t DOMAIN_SYNC_SELECTION_PROOF[4] = {0x08, 0, 0, 0};
static const uint8_t DOMAIN_CONTRIBUTION_AND_PROOF[4] = {0x09, 0, 0, 0};
static const uint8_t DOMAIN_APPLICATION_BUILDER[4] = {0x00, 0, 0, 0x01};
static const uint8_t ZERO_ROOT[32];

struct fork_info {
	uint8_t previous_version[4];
	uint8_t current_version[4];
	uint64_t epoch;
	uint8_t gvr[32];
};

struct req {
	const struct eth2_network *net;
	json_t *json;
	struct fork_info fi;
	struct eth2_signing *out;
};

/* ---- domains ------------------------------------------------------- */

void eth2_compute_domain(const uint8_t type[4], const uint8_t version[4],
			 const uint8_t gvr[32], uint8_t out[32])
{
	uint8_t fd[32];
	ssz_fork_data_root(version, gvr, fd);
	memcpy(out, type, 4);
	memcpy(out + 4, fd, 28);
}

void eth2_compute_signing_root(const uint8_t object_root[32],
			       const uint8_t domain[32], uint8_t out[32])
{
	ssz_hash_pair(object_root, domain, out);
}

/* get_domain(state, type, epoch) with the request's fork_info as the state. */
static void domain_at_epoch(struct req *r, const uint8_t type[4],
			    uint64_t epoch)
{
	const uint8_t *v = epoch < r->fi.epoch ? r->fi.previous_version
					       : r->fi.current_version;
	eth2_compute_domain(type, v, r->fi.gvr, r->out->domain);
}

static uint64_t epoch_of(const struct req *r, uint64_t slot)
{
	return slot / r->net->preset.slots_per_epoch;
}

/* ---- helpers shared by handlers -------------------------------------- */

/* The type's body object: required, an object. */
static int body(struct req *r, const char *key, json_t **o, char p[J_PATH],
		struct err *e)
{
	return j_object(r->json, "", key, o, p, e);
}

/* o.slot, which must be an Altair-or-later slot on the server's network. */
static int sync_slot(const struct req *r, json_t *o, const char *path,
		     uint64_t *slot, struct err *e)
{
	char sp[J_PATH];
	TRY(j_u64(o, path, "slot", slot, e));
	if (eth2_fork_at_slot(r->net, *slot) >= ETH2_FORK_ALTAIR)
		return 0;
	j_path(sp, path, "slot");
	return err_set(e, ERR_INVALID,
		       "%s: slot %llu is before ALTAIR on network %s; sync committee messages do not exist there",
		       sp, (unsigned long long)*slot, r->net->name);
}

/* Reads o.<key>.slot (validated again when the root is computed). */
static int peek_slot(json_t *o, const char *path, const char *key,
		     uint64_t *slot, struct err *e)
{
	char p[J_PATH];
	json_t *inner;
	TRY(j_object(o, path, key, &inner, p, e));
	return j_u64(inner, p, "slot", slot, e);
}

/* ---- blocks -------------------------------------------------------- */

/* A full BeaconBlock whose schema is the fork of its slot; `want` must match. */
static int full_block(struct req *r, json_t *blk, const char *path,
		      enum eth2_fork want, const char *what, struct err *e)
{
	uint64_t slot;
	TRY(j_u64(blk, path, "slot", &slot, e));
	enum eth2_fork f = eth2_fork_at_slot(r->net, slot);
	if (f != want)
		return err_set(e, ERR_INVALID,
			       "%s: %s block at slot %llu, which is %s on network %s",
			       what, eth2_fork_name(want),
			       (unsigned long long)slot, eth2_fork_name(f),
			       r->net->name);
	struct ssz_ctx c = {r->net, f};
	TRY(ssz_beacon_block_root(&c, blk, path, r->out->object_root, e));
	r->out->block_slot = slot;
	return 0;
}

static void block_done(struct req *r)
{
	r->out->slashable = true;
	memcpy(r->out->genesis_validators_root, r->fi.gvr, 32);
	domain_at_epoch(r, DOMAIN_BEACON_PROPOSER,
			epoch_of(r, r->out->block_slot));
}

static int sign_block(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *blk;
	TRY(body(r, "block", &blk, p, e));
	/* BLOCK's body type is phase0 only (Web3Signer's BeaconBlockBody). */
	TRY(full_block(r, blk, p, ETH2_FORK_PHASE0, "block.slot", e));
	block_done(r);
	return 0;
}

/*
 * An upper-case fork name as Web3Signer's bundled Teku knows them: ours, then
 * GLOAS and HEZE (unscheduled everywhere; reported as ETH2_FORK_COUNT).
 */
static bool known_fork_name(const char *s, enum eth2_fork *f)
{
	if (eth2_fork_from_name(s, f) == 0)
		return true;
	*f = ETH2_FORK_COUNT;
	return strcmp(s, "GLOAS") == 0 || strcmp(s, "HEZE") == 0;
}

/* BLOCK_V2 `version`: exact upper case (Java valueOf); PHASE0/ALTAIR = full block. */
static int block_v2_version(json_t *bb, bool *full, enum eth2_fork *f,
			    struct err *e)
{
	json_t *v = json_object_get(bb, "version");
	char q[J_QUOTE];
	if (!v || json_is_null(v))
		return err_set(e, ERR_INVALID, "beacon_block.version: missing");
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID,
			       "beacon_block.version: expected a string");
	if (known_fork_name(json_string_value(v), f)) {
		*full = *f <= ETH2_FORK_ALTAIR;
		return 0;
	}
	return err_set(e, ERR_INVALID,
		       "beacon_block.version: unknown version '%s' (upper-case fork name expected)",
		       j_quote(json_string_value(v), q));
}

static int sign_block_v2(struct req *r, struct err *e)
{
	char p[J_PATH], bp[J_PATH];
	json_t *bb, *blk;
	bool full = false;
	enum eth2_fork f = ETH2_FORK_PHASE0;
	TRY(body(r, "beacon_block", &bb, p, e));
	TRY(block_v2_version(bb, &full, &f, e));
	if (full) {
		TRY(j_object(bb, p, "block", &blk, bp, e));
		TRY(full_block(r, blk, bp, f, "beacon_block.version", e));
	} else {
		/* A header's root is the block's: body_root stands for the body. */
		struct ssz_ctx c = {r->net, f};
		TRY(j_object(bb, p, "block_header", &blk, bp, e));
		TRY(ssz_block_header_root(&c, blk, bp, r->out->object_root, e));
		TRY(j_u64(blk, bp, "slot", &r->out->block_slot, e));
	}
	block_done(r);
	return 0;
}

/* ---- attestations and aggregates -------------------------------------- */

static int sign_attestation(struct req *r, struct err *e)
{
	char p[J_PATH], sp[J_PATH], tp[J_PATH];
	json_t *att, *src, *tgt;
	struct ssz_ctx c = {r->net, ETH2_FORK_PHASE0};
	TRY(body(r, "attestation", &att, p, e));
	TRY(ssz_attestation_data_root(&c, att, p, r->out->object_root, e));
	TRY(j_object(att, p, "source", &src, sp, e));
	TRY(j_object(att, p, "target", &tgt, tp, e));
	TRY(j_u64(src, sp, "epoch", &r->out->source_epoch, e));
	TRY(j_u64(tgt, tp, "epoch", &r->out->target_epoch, e));
	r->out->slashable = true;
	memcpy(r->out->genesis_validators_root, r->fi.gvr, 32);
	domain_at_epoch(r, DOMAIN_BEACON_ATTESTER, r->out->target_epoch);
	return 0;
}

static int sign_aggregation_slot(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *o;
	uint64_t slot;
	TRY(body(r, "aggregation_slot", &o, p, e));
	TRY(j_u64(o, p, "slot", &slot, e));
	ssz_uint64_root(slot, r->out->object_root);
	domain_at_epoch(r, DOMAIN_SELECTION_PROOF, epoch_of(r, slot));
	return 0;
}

/*
 * Flat or `{version, data}`: decided by shape for both AGGREGATE_AND_PROOF
 * types, as Web3Signer does. `version` must name a fork (any case) and is
 * otherwise ignored: the schema follows aggregate.data.slot.
 */
static int aggregate_object(json_t *o, const char *path, json_t **agg,
			    char ap[J_PATH], struct err *e)
{
	json_t *v = json_object_get(o, "version");
	enum eth2_fork f;
	if (!v || !json_object_get(o, "data")) {
		*agg = o;
		snprintf(ap, J_PATH, "%s", path);
		return 0;
	}
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s.version: expected a string",
			       path);
	char up[J_QUOTE] = {0};
	const char *s = json_string_value(v);
	for (size_t i = 0; s[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	if (strlen(s) >= sizeof(up) || !known_fork_name(up, &f))
		return err_set(e, ERR_INVALID, "%s.version: unknown fork '%s'",
			       path, j_quote(s, up));
	return j_object(o, path, "data", agg, ap, e);
}

static int sign_aggregate_and_proof(struct req *r, struct err *e)
{
	char p[J_PATH], ap[J_PATH], gp[J_PATH];
	json_t *o, *agg, *aggregate;
	uint64_t slot;
	TRY(body(r, "aggregate_and_proof", &o, p, e));
	TRY(aggregate_object(o, p, &agg, ap, e));
	TRY(j_object(agg, ap, "aggregate", &aggregate, gp, e));
	TRY(peek_slot(aggregate, gp, "data", &slot, e));
	struct ssz_ctx c = {r->net, eth2_fork_at_slot(r->net, slot)};
	TRY(ssz_aggregate_and_proof_root(&c, agg, ap, r->out->object_root, e));
	domain_at_epoch(r, DOMAIN_AGGREGATE_AND_PROOF, epoch_of(r, slot));
	return 0;
}

/* ---- proposer duties, exits ------------------------------------------ */

static int sign_randao(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *o;
	uint64_t epoch;
	TRY(body(r, "randao_reveal", &o, p, e));
	TRY(j_u64(o, p, "epoch", &epoch, e));
	ssz_uint64_root(epoch, r->out->object_root);
	domain_at_epoch(r, DOMAIN_RANDAO, epoch);
	return 0;
}

/*
 * EIP-7044: from Deneb on, exits are signed with the Capella fork version
 * forever. Decided by the network's fork at the exit's epoch (Web3Signer with
 * Teku 26.4.0); the gvr still comes from fork_info.
 */
static int sign_voluntary_exit(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *o;
	uint64_t epoch;
	struct ssz_ctx c = {r->net, ETH2_FORK_PHASE0};
	TRY(body(r, "voluntary_exit", &o, p, e));
	TRY(ssz_voluntary_exit_root(&c, o, p, r->out->object_root, e));
	TRY(j_u64(o, p, "epoch", &epoch, e));
	if (eth2_fork_at_epoch(r->net, epoch) >= ETH2_FORK_DENEB)
		eth2_compute_domain(DOMAIN_VOLUNTARY_EXIT,
				    r->net->forks[ETH2_FORK_CAPELLA].version,
				    r->fi.gvr, r->out->domain);
	else
		domain_at_epoch(r, DOMAIN_VOLUNTARY_EXIT, epoch);
	return 0;
}

/* ---- sync committee (Altair+) ----------------------------------------- */

static int sign_sync_message(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *o;
	uint64_t slot;
	TRY(body(r, "sync_committee_message", &o, p, e));
	TRY(sync_slot(r, o, p, &slot, e));
	/* The object is the block root itself (a Bytes32 is its own root). */
	TRY(j_bytes(o, p, "beacon_block_root", r->out->object_root, 32, e));
	domain_at_epoch(r, DOMAIN_SYNC_COMMITTEE, epoch_of(r, slot));
	return 0;
}

static int sign_sync_selection(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *o;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_ALTAIR};
	TRY(body(r, "sync_aggregator_selection_data", &o, p, e));
	TRY(sync_slot(r, o, p, &slot, e));
	TRY(ssz_sync_selection_data_root(&c, o, p, r->out->object_root, e));
	domain_at_epoch(r, DOMAIN_SYNC_SELECTION_PROOF, epoch_of(r, slot));
	return 0;
}

static int sign_contribution(struct req *r, struct err *e)
{
	char p[J_PATH], cp[J_PATH];
	json_t *o, *contribution;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_ALTAIR};
	TRY(body(r, "contribution_and_proof", &o, p, e));
	TRY(j_object(o, p, "contribution", &contribution, cp, e));
	TRY(sync_slot(r, contribution, cp, &slot, e));
	TRY(ssz_contribution_and_proof_root(&c, o, p, r->out->object_root, e));
	domain_at_epoch(r, DOMAIN_CONTRIBUTION_AND_PROOF, epoch_of(r, slot));
	return 0;
}

/* ---- no fork_info: deposits and builder registrations ------------------ */

static int sign_deposit(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *o;
	uint8_t gfv[4];
	struct ssz_ctx c = {r->net, ETH2_FORK_PHASE0};
	TRY(body(r, "deposit", &o, p, e));
	TRY(ssz_deposit_message_root(&c, o, p, r->out->object_root, e));
	TRY(j_bytes(o, p, "genesis_fork_version", gfv, 4, e));
	eth2_compute_domain(DOMAIN_DEPOSIT, gfv, ZERO_ROOT, r->out->domain);
	return 0;
}

static int sign_registration(struct req *r, struct err *e)
{
	char p[J_PATH];
	json_t *o;
	struct ssz_ctx c = {r->net, ETH2_FORK_PHASE0};
	TRY(body(r, "validator_registration", &o, p, e));
	TRY(ssz_validator_registration_root(&c, o, p, r->out->object_root, e));
	eth2_compute_domain(DOMAIN_APPLICATION_BUILDER,
			    r->net->forks[ETH2_FORK_PHASE0].version, ZERO_ROOT,
			    r->out->domain);
	return 0;
}

/* ---- the envelope ----------------------------------------------------- */

static const struct sign_type {
	const char *name;
	bool fork_info; /* required (and read) */
	int (*handle)(struct req *r, struct err *e);
} sign_types[ETH2_SIGN_COUNT] = {
	[ETH2_SIGN_BLOCK] = {"BLOCK", true, sign_block},
	[ETH2_SIGN_BLOCK_V2] = {"BLOCK_V2", true, sign_block_v2},
	[ETH2_SIGN_ATTESTATION] = {"ATTESTATION", true, sign_attestation},
	[ETH2_SIGN_AGGREGATION_SLOT] = {"AGGREGATION_SLOT", true,
					sign_aggregation_slot},
	[ETH2_SIGN_AGGREGATE_AND_PROOF] = {"AGGREGATE_AND_PROOF", true,
					   sign_aggregate_and_proof},
	[ETH2_SIGN_AGGREGATE_AND_PROOF_V2] = {"AGGREGATE_AND_PROOF_V2", true,
					      sign_aggregate_and_proof},
	[ETH2_SIGN_DEPOSIT] = {"DEPOSIT", false, sign_deposit},
	[ETH2_SIGN_RANDAO_REVEAL] = {"RANDAO_REVEAL", true, sign_randao},
	[ETH2_SIGN_VOLUNTARY_EXIT] = {"VOLUNTARY_EXIT", true,
				      sign_voluntary_exit},
	[ETH2_SIGN_SYNC_COMMITTEE_MESSAGE] = {"SYNC_COMMITTEE_MESSAGE", true,
					      sign_sync_message},
	[ETH2_SIGN_SYNC_COMMITTEE_SELECTION_PROOF] = {
		"SYNC_COMMITTEE_SELECTION_PROOF", true, sign_sync_selection},
	[ETH2_SIGN_SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF] = {
		"SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF", true,
		sign_contribution},
	[ETH2_SIGN_VALIDATOR_REGISTRATION] = {"VALIDATOR_REGISTRATION", false,
					      sign_registration},
};

const char *eth2_sign_type_name(enum eth2_sign_type t)
{
	return (unsigned)t < ETH2_SIGN_COUNT ? sign_types[t].name : "UNKNOWN";
}

int eth2_signing_type(json_t *req, enum eth2_sign_type *out, struct err *e)
{
	json_t *v = json_object_get(req, "type");
	if (!v || json_is_null(v))
		return err_set(e, ERR_INVALID, "type: missing");
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "type: expected a string");
	const char *s = json_string_value(v);
	for (int t = 0; t < ETH2_SIGN_COUNT; t++) {
		if (strcasecmp(s, sign_types[t].name) == 0) {
			*out = (enum eth2_sign_type)t;
			return 0;
		}
	}
	char q[J_QUOTE];
	return err_set(e, ERR_INVALID, "type: unknown signing type %s",
		       j_quote(s, q));
}

static int parse_fork_info(json_t *req, struct fork_info *fi, struct err *e)
{
	char p[J_PATH], fp[J_PATH];
	json_t *o, *fork;
	TRY(j_object(req, "", "fork_info", &o, p, e));
	TRY(j_object(o, p, "fork", &fork, fp, e));
	TRY(j_bytes(fork, fp, "previous_version", fi->previous_version, 4, e));
	TRY(j_bytes(fork, fp, "current_version", fi->current_version, 4, e));
	TRY(j_u64(fork, fp, "epoch", &fi->epoch, e));
	return j_bytes(o, p, "genesis_validators_root", fi->gvr, 32, e);
}

/* The optional client-computed root, under either spelling (not both). */
static int parse_supplied_root(json_t *req, bool *has, uint8_t root[32],
			       struct err *e)
{
	bool snake = !j_absent(req, "signing_root");
	bool camel = !j_absent(req, "signingRoot");
	if (snake && camel)
		return err_set(e, ERR_INVALID,
			       "signing_root: both signing_root and signingRoot given");
	*has = snake || camel;
	if (!*has)
		return 0;
	const char *key = snake ? "signing_root" : "signingRoot";
	return j_bytes(req, "", key, root, 32, e);
}

int eth2_signing_from_json(const struct eth2_network *net, json_t *json,
			   struct eth2_signing *out, struct err *e)
{
	struct req r = {.net = net, .json = json, .out = out};
	bool has_root = false;
	uint8_t supplied[32];
	memset(out, 0, sizeof(*out));
	if (!json_is_object(json))
		return err_set(e, ERR_INVALID, "body: expected a JSON object");
	TRY(eth2_signing_type(json, &out->type, e));
	TRY(parse_supplied_root(json, &has_root, supplied, e));
	if (sign_types[out->type].fork_info)
		TRY(parse_fork_info(json, &r.fi, e));
	TRY(sign_types[out->type].handle(&r, e));
	eth2_compute_signing_root(out->object_root, out->domain,
				  out->signing_root);
	if (has_root && CRYPTO_memcmp(supplied, out->signing_root, 32) != 0)
		return err_set(e, ERR_INVALID,
			       "signing_root: does not match the computed signing root");
	return 0;
}

/*
 * The request a validator client on `net` would send, with the network's fork
 * at `epoch` as fork_info, through the same handler: an offline exit gets
 * exactly the domain the HTTP path would give it.
 */
int eth2_voluntary_exit_signing(const struct eth2_network *net,
				const uint8_t gvr[32], uint64_t epoch,
				uint64_t validator_index,
				struct eth2_signing *out, struct err *e)
{
	char ep[24], vi[24];
	enum eth2_fork f = eth2_fork_at_epoch(net, epoch);
	struct req r = {.net = net, .out = out};
	memset(out, 0, sizeof(*out));
	out->type = ETH2_SIGN_VOLUNTARY_EXIT;
	memcpy(r.fi.previous_version,
	       net->forks[f == ETH2_FORK_PHASE0 ? f : f - 1].version, 4);
	memcpy(r.fi.current_version, net->forks[f].version, 4);
	r.fi.epoch = net->forks[f].epoch;
	memcpy(r.fi.gvr, gvr, 32);
	snprintf(ep, sizeof(ep), "%llu", (unsigned long long)epoch);
	snprintf(vi, sizeof(vi), "%llu", (unsigned long long)validator_index);
	r.json = json_pack("{s:{s:s, s:s}}", "voluntary_exit", "epoch", ep,
			   "validator_index", vi);
	if (!r.json)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = sign_voluntary_exit(&r, e);
	json_decref(r.json);
	if (rc == 0)
		eth2_compute_signing_root(out->object_root, out->domain,
					  out->signing_root);
	return rc;
}

int eth2_signing_parse(const struct eth2_network *net, const char *body_text,
		       size_t len, struct eth2_signing *out, struct err *e)
{
	json_t *json;
	TRY(json_parse_strict(body_text, len, "body", &json, e));
	int rc = eth2_signing_from_json(net, json, out, e);
	json_decref(json);
	return rc;
}
