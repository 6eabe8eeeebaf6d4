/*
 * signing.c: a Web3Signer eth2 sign request in, (object root, domain,
 * signing root) and the slashing-relevant facts out.
 *
 * The envelope (`type`, `fork_info`, `signing_root`/`signingRoot`) is read
 * here; each of the 18 types has one handler that finds its body object,
 * asks containers.c for the object root and picks the domain by the rules of
 * reference/web3signer-eth2-api.md sections 4-6:
 *   fork version for epoch e = e < fork.epoch ? previous_version : current_version
 *   domain = type || hash_tree_root(ForkData(version, gvr))[0:28]
 *   signing root = hash_tree_root(SigningData(object_root, domain))
 * The server's network decides SLOTS_PER_EPOCH, preset sizes, which schema an
 * aggregate or full block uses, the EIP-7044 exit rule and the builder
 * domains' genesis fork version.
 *
 * Gloas (remote-signing-api v1.4.0): five new types, each body
 * `{version, data}` (or the bare object, as Lighthouse sends them), each only
 * for a message whose slot is GLOAS on the server's network, with `version`
 * naming that fork. A `version` (BLOCK_V2, AGGREGATE_AND_PROOF_V2, the new
 * types) that names GLOAS or later must match the fork of the slot, and a
 * Gloas slot needs it to: the schemas differ, so a mismatch is refused
 * rather than hashed under the wrong one. Earlier versions keep Web3Signer's
 * leniency.
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
/* Gloas beacon-chain.md; builder-specs gloas builder.md */
static const uint8_t DOMAIN_BEACON_BUILDER[4] = {0x0B, 0, 0, 0};
static const uint8_t DOMAIN_PTC_ATTESTER[4] = {0x0C, 0, 0, 0};
static const uint8_t DOMAIN_PROPOSER_PREFERENCES[4] = {0x0D, 0, 0, 0};
static const uint8_t DOMAIN_BUILDER_REQUEST_AUTH[4] = {0x0B, 0, 0, 0x01};
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
 * HEZE (after GLOAS, unknown to us; reported as ETH2_FORK_COUNT).
 */
static bool known_fork_name(const char *s, enum eth2_fork *f)
{
	if (eth2_fork_from_name(s, f) == 0)
		return true;
	*f = ETH2_FORK_COUNT;
	return strcmp(s, "HEZE") == 0;
}

/*
 * A `version` (at `path`) against the fork of the message's slot: from GLOAS
 * on, on either side, they must be the same fork.
 */
static int version_matches_slot(const struct req *r, const char *path,
				enum eth2_fork version, uint64_t slot,
				struct err *e)
{
	enum eth2_fork at = eth2_fork_at_slot(r->net, slot);
	if (version == at ||
	    (version < ETH2_FORK_GLOAS && at < ETH2_FORK_GLOAS))
		return 0;
	return err_set(e, ERR_INVALID,
		       "%s: %s does not match slot %llu, which is %s on network %s",
		       path,
		       version == ETH2_FORK_COUNT ? "HEZE" : eth2_fork_name(version),
		       (unsigned long long)slot, eth2_fork_name(at),
		       r->net->name);
}

/* A `version` string, any case (Web3Signer's VersionedRequest parses it so). */
static int parse_version(json_t *v, const char *path, enum eth2_fork *f,
			 struct err *e)
{
	char up[J_QUOTE] = {0};
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "%s: expected a string", path);
	const char *s = json_string_value(v);
	for (size_t i = 0; s[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	if (strlen(s) >= sizeof(up) || !known_fork_name(up, f))
		return err_set(e, ERR_INVALID, "%s: unknown fork '%s'", path,
			       j_quote(s, up));
	return 0;
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
		TRY(version_matches_slot(r, "beacon_block.version", f,
					 r->out->block_slot, e));
	}
	block_done(r);
	return 0;
}

/* ---- attestations and aggregates -------------------------------------- */

/*
 * Gloas validator.md: data.index carries the payload status the attester
 * saw (0: empty, or a same-slot vote; 1: full). Any other value is no Gloas
 * attestation, though SSZ would hash it.
 */
static int payload_status_index(const struct req *r, json_t *data,
				const char *path, uint64_t slot, struct err *e)
{
	char p[J_PATH];
	uint64_t index;
	if (eth2_fork_at_slot(r->net, slot) < ETH2_FORK_GLOAS)
		return 0;
	TRY(j_u64(data, path, "index", &index, e));
	if (index <= 1)
		return 0;
	j_path(p, path, "index");
	return err_set(e, ERR_INVALID,
		       "%s: %llu is not a payload status (0 or 1), which index carries from GLOAS on",
		       p, (unsigned long long)index);
}

static int sign_attestation(struct req *r, struct err *e)
{
	char p[J_PATH], sp[J_PATH], tp[J_PATH];
	json_t *att, *src, *tgt;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_PHASE0};
	TRY(body(r, "attestation", &att, p, e));
	TRY(j_u64(att, p, "slot", &slot, e));
	TRY(payload_status_index(r, att, p, slot, e));
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
 * Flat or `{version, data}`: decided by shape, as Web3Signer does for both
 * AGGREGATE_AND_PROOF types (and we for the Gloas types). `version` must name
 * a fork (any case); *has_version says whether there was one. Before GLOAS it
 * is otherwise ignored (the schema follows the message's slot); from GLOAS on
 * it must match that slot (version_matches_slot).
 */
static int versioned_object(json_t *o, const char *path, json_t **data,
			    char dp[J_PATH], bool *has_version,
			    enum eth2_fork *version, struct err *e)
{
	char vp[J_PATH];
	json_t *v = json_object_get(o, "version");
	*has_version = v && json_object_get(o, "data");
	if (!*has_version) {
		*data = o;
		snprintf(dp, J_PATH, "%s", path);
		return 0;
	}
	j_path(vp, path, "version");
	TRY(parse_version(v, vp, version, e));
	return j_object(o, path, "data", data, dp, e);
}

static int sign_aggregate_and_proof(struct req *r, struct err *e)
{
	char p[J_PATH], ap[J_PATH], gp[J_PATH], dp[J_PATH];
	json_t *o, *agg, *aggregate, *data;
	uint64_t slot;
	bool has_version = false;
	enum eth2_fork version = ETH2_FORK_PHASE0;
	TRY(body(r, "aggregate_and_proof", &o, p, e));
	TRY(versioned_object(o, p, &agg, ap, &has_version, &version, e));
	TRY(j_object(agg, ap, "aggregate", &aggregate, gp, e));
	TRY(j_object(aggregate, gp, "data", &data, dp, e));
	TRY(j_u64(data, dp, "slot", &slot, e));
	TRY(payload_status_index(r, data, dp, slot, e));
	if (has_version)
		TRY(version_matches_slot(r, "aggregate_and_proof.version",
					 version, slot, e));
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

/* ---- Gloas (ePBS) ------------------------------------------------------ */

/* A Gloas message: its body, where it is, and its `version` if wrapped. */
struct gloas_msg {
	json_t *data;
	char key[J_PATH];  /* the body key found, for `version` messages */
	char path[J_PATH]; /* of data */
	bool has_version;
	enum eth2_fork version;
};

/*
 * The body under the first of keys (NULL-terminated: the API's key, then
 * names clients used before it settled), `{version, data}` or bare. Two of
 * them at once is ambiguous and refused.
 */
static int gloas_body(struct req *r, const char *const *keys,
		      struct gloas_msg *m, struct err *e)
{
	const char *found = NULL;
	json_t *o;
	char p[J_PATH];
	for (const char *const *k = keys; *k; k++) {
		if (j_absent(r->json, *k))
			continue;
		if (found)
			return err_set(e, ERR_INVALID,
				       "%s: both %s and %s given", keys[0],
				       found, *k);
		found = *k;
	}
	TRY(body(r, found ? found : keys[0], &o, p, e));
	snprintf(m->key, sizeof(m->key), "%s", p);
	return versioned_object(o, p, &m->data, m->path, &m->has_version,
				&m->version, e);
}

/*
 * The message's slot (at m->path . slot_key, possibly nested) must be GLOAS
 * on the server's network, and a `version` must say so.
 */
static int gloas_slot(const struct req *r, const struct gloas_msg *m,
		      json_t *holder, const char *holder_path,
		      const char *slot_key, uint64_t *slot, struct err *e)
{
	char sp[J_PATH], vp[J_PATH];
	TRY(j_u64(holder, holder_path, slot_key, slot, e));
	enum eth2_fork at = eth2_fork_at_slot(r->net, *slot);
	if (at < ETH2_FORK_GLOAS) {
		j_path(sp, holder_path, slot_key);
		return err_set(e, ERR_INVALID,
			       "%s: slot %llu is %s on network %s; %s is a GLOAS message",
			       sp, (unsigned long long)*slot, eth2_fork_name(at),
			       r->net->name,
			       eth2_sign_type_name(r->out->type));
	}
	if (!m->has_version)
		return 0;
	j_path(vp, m->key, "version");
	return version_matches_slot(r, vp, m->version, *slot, e);
}

static int sign_payload_bid(struct req *r, struct err *e)
{
	static const char *const keys[] = {"execution_payload_bid", NULL};
	struct gloas_msg m;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_GLOAS};
	TRY(gloas_body(r, keys, &m, e));
	TRY(gloas_slot(r, &m, m.data, m.path, "slot", &slot, e));
	TRY(ssz_execution_payload_bid_root(&c, m.data, m.path,
					   r->out->object_root, e));
	domain_at_epoch(r, DOMAIN_BEACON_BUILDER, epoch_of(r, slot));
	return 0;
}

/*
 * The envelope names no slot of its own; its payload's slot_number
 * (EIP-7843) is the block's slot, whose epoch builder.md signs under.
 */
static int sign_payload_envelope(struct req *r, struct err *e)
{
	static const char *const keys[] = {"execution_payload_envelope", NULL};
	struct gloas_msg m;
	char pp[J_PATH];
	json_t *payload;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_GLOAS};
	TRY(gloas_body(r, keys, &m, e));
	TRY(j_object(m.data, m.path, "payload", &payload, pp, e));
	TRY(gloas_slot(r, &m, payload, pp, "slot_number", &slot, e));
	TRY(ssz_execution_payload_envelope_root(&c, m.data, m.path,
						r->out->object_root, e));
	domain_at_epoch(r, DOMAIN_BEACON_BUILDER, epoch_of(r, slot));
	return 0;
}

/* Signs PayloadAttestationData only (validator.md), like ATTESTATION. */
static int sign_payload_attestation(struct req *r, struct err *e)
{
	static const char *const keys[] = {"payload_attestation_message",
					   "payload_attestation_data",
					   "payload_attestation", NULL};
	struct gloas_msg m;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_GLOAS};
	TRY(gloas_body(r, keys, &m, e));
	TRY(gloas_slot(r, &m, m.data, m.path, "slot", &slot, e));
	TRY(ssz_payload_attestation_data_root(&c, m.data, m.path,
					      r->out->object_root, e));
	domain_at_epoch(r, DOMAIN_PTC_ATTESTER, epoch_of(r, slot));
	return 0;
}

static int sign_proposer_preferences(struct req *r, struct err *e)
{
	static const char *const keys[] = {"proposer_preferences", NULL};
	struct gloas_msg m;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_GLOAS};
	TRY(gloas_body(r, keys, &m, e));
	TRY(gloas_slot(r, &m, m.data, m.path, "proposal_slot", &slot, e));
	TRY(ssz_proposer_preferences_root(&c, m.data, m.path,
					  r->out->object_root, e));
	domain_at_epoch(r, DOMAIN_PROPOSER_PREFERENCES, epoch_of(r, slot));
	return 0;
}

/*
 * Out of protocol (builder-specs): compute_domain(DOMAIN_BUILDER_REQUEST_AUTH)
 * with the network's genesis fork version and a zero root, like
 * VALIDATOR_REGISTRATION; fork_info is not needed and not read.
 */
static int sign_builder_request_auth(struct req *r, struct err *e)
{
	static const char *const keys[] = {"builder_request_auth",
					   "request_auth", NULL};
	struct gloas_msg m;
	uint64_t slot;
	struct ssz_ctx c = {r->net, ETH2_FORK_GLOAS};
	TRY(gloas_body(r, keys, &m, e));
	TRY(gloas_slot(r, &m, m.data, m.path, "slot", &slot, e));
	TRY(ssz_builder_request_auth_root(&c, m.data, m.path,
					  r->out->object_root, e));
	eth2_compute_domain(DOMAIN_BUILDER_REQUEST_AUTH,
			    r->net->forks[ETH2_FORK_PHASE0].version, ZERO_ROOT,
			    r->out->domain);
	return 0;
}

/* ---- the envelope ----------------------------------------------------- */

static const struct sign_type {
	const char *name;
	bool fork_info; /* required (and read) */
	int (*handle)(struct req *r, struct err *e);
	const char *alias; /* a name clients sent before the API settled it */
} sign_types[ETH2_SIGN_COUNT] = {
	[ETH2_SIGN_BLOCK] = {"BLOCK", true, sign_block, NULL},
	[ETH2_SIGN_BLOCK_V2] = {"BLOCK_V2", true, sign_block_v2, NULL},
	[ETH2_SIGN_ATTESTATION] = {"ATTESTATION", true, sign_attestation, NULL},
	[ETH2_SIGN_AGGREGATION_SLOT] = {"AGGREGATION_SLOT", true,
					sign_aggregation_slot, NULL},
	[ETH2_SIGN_AGGREGATE_AND_PROOF] = {"AGGREGATE_AND_PROOF", true,
					   sign_aggregate_and_proof, NULL},
	[ETH2_SIGN_AGGREGATE_AND_PROOF_V2] = {"AGGREGATE_AND_PROOF_V2", true,
					      sign_aggregate_and_proof, NULL},
	[ETH2_SIGN_DEPOSIT] = {"DEPOSIT", false, sign_deposit, NULL},
	[ETH2_SIGN_RANDAO_REVEAL] = {"RANDAO_REVEAL", true, sign_randao, NULL},
	[ETH2_SIGN_VOLUNTARY_EXIT] = {"VOLUNTARY_EXIT", true,
				      sign_voluntary_exit, NULL},
	[ETH2_SIGN_SYNC_COMMITTEE_MESSAGE] = {"SYNC_COMMITTEE_MESSAGE", true,
					      sign_sync_message, NULL},
	[ETH2_SIGN_SYNC_COMMITTEE_SELECTION_PROOF] = {
		"SYNC_COMMITTEE_SELECTION_PROOF", true, sign_sync_selection, NULL},
	[ETH2_SIGN_SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF] = {
		"SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF", true,
		sign_contribution, NULL},
	[ETH2_SIGN_VALIDATOR_REGISTRATION] = {"VALIDATOR_REGISTRATION", false,
					      sign_registration, NULL},
	[ETH2_SIGN_EXECUTION_PAYLOAD_BID] = {"EXECUTION_PAYLOAD_BID", true,
					     sign_payload_bid, NULL},
	[ETH2_SIGN_EXECUTION_PAYLOAD_ENVELOPE] = {
		"EXECUTION_PAYLOAD_ENVELOPE", true, sign_payload_envelope, NULL},
	/* Lighthouse, and Lodestar before lodestar#10071 */
	[ETH2_SIGN_PAYLOAD_ATTESTATION_MESSAGE] = {
		"PAYLOAD_ATTESTATION_MESSAGE", true, sign_payload_attestation,
		"PAYLOAD_ATTESTATION"},
	[ETH2_SIGN_PROPOSER_PREFERENCES] = {"PROPOSER_PREFERENCES", true,
					    sign_proposer_preferences, NULL},
	/* Lighthouse */
	[ETH2_SIGN_BUILDER_REQUEST_AUTH] = {"BUILDER_REQUEST_AUTH", false,
					    sign_builder_request_auth,
					    "REQUEST_AUTH"},
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
		const char *alias = sign_types[t].alias;
		if (strcasecmp(s, sign_types[t].name) == 0 ||
		    (alias && strcasecmp(s, alias) == 0)) {
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
