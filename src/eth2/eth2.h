/*
 * eth2.h: the public header of the eth2 module: networks and fork schedules,
 * and the signing requests of the Web3Signer eth2 API turned into
 * (object root, domain, signing root) plus the facts slashing protection
 * needs. Nothing here signs or touches a database.
 */
#ifndef NS_ETH2_H
#define NS_ETH2_H

#include <jansson.h>

#include "core/core.h"
#include "crypto/crypto.h"

enum eth2_fork {
	ETH2_FORK_PHASE0,
	ETH2_FORK_ALTAIR,
	ETH2_FORK_BELLATRIX,
	ETH2_FORK_CAPELLA,
	ETH2_FORK_DENEB,
	ETH2_FORK_ELECTRA,
	ETH2_FORK_FULU,
	ETH2_FORK_COUNT
};

#define ETH2_FAR_FUTURE_EPOCH UINT64_MAX

struct eth2_preset {
	char name[16]; /* "mainnet" or "minimal" */
	uint64_t slots_per_epoch;
	uint64_t max_validators_per_committee;
	uint64_t max_committees_per_slot;
	uint64_t sync_committee_size;
	uint64_t sync_committee_subnet_count; /* contribution bits = size / count */
	uint64_t max_proposer_slashings;
	uint64_t max_attester_slashings;
	uint64_t max_attestations;
	uint64_t max_deposits;
	uint64_t max_voluntary_exits;
	uint64_t deposit_contract_tree_depth;
};

struct eth2_network {
	char name[64];
	struct eth2_preset preset;
	struct {
		uint8_t version[4];
		uint64_t epoch; /* ETH2_FAR_FUTURE_EPOCH when unscheduled */
	} forks[ETH2_FORK_COUNT]; /* forks[PHASE0] = genesis fork version, epoch 0 */
	bool has_genesis_validators_root;
	uint8_t genesis_validators_root[32];
};

/*
 * "mainnet", "hoodi", "sepolia", "holesky", "minimal" (case-insensitive), or
 * a path (containing '/' or ending in .yaml/.yml) to a consensus-spec config
 * YAML: PRESET_BASE ('mainnet'|'minimal') and GENESIS_FORK_VERSION required;
 * CONFIG_NAME, <FORK>_FORK_VERSION/_EPOCH for ALTAIR..FULU read; a fork with
 * no epoch is unscheduled; other keys ignored. The built-in "minimal" has
 * every fork at epoch 0 (consensus-specs' minimal config leaves them
 * unscheduled). Only the four public networks carry a genesis validators root.
 */
int eth2_network_load(const char *name_or_path, struct eth2_network *out,
		      struct err *e);
/* The newest fork scheduled at or before epoch (unscheduled forks never are). */
enum eth2_fork eth2_fork_at_epoch(const struct eth2_network *n, uint64_t epoch);
/* The same for the epoch of a slot (slot / SLOTS_PER_EPOCH of the preset). */
enum eth2_fork eth2_fork_at_slot(const struct eth2_network *n, uint64_t slot);
/* "PHASE0", "ALTAIR", ... "FULU" (upper case, as in BLOCK_V2 `version`). */
const char *eth2_fork_name(enum eth2_fork f);
/* Exact upper-case name to fork; -ERR_INVALID when unknown. */
int eth2_fork_from_name(const char *s, enum eth2_fork *out);

enum eth2_sign_type {
	ETH2_SIGN_BLOCK,
	ETH2_SIGN_BLOCK_V2,
	ETH2_SIGN_ATTESTATION,
	ETH2_SIGN_AGGREGATION_SLOT,
	ETH2_SIGN_AGGREGATE_AND_PROOF,
	ETH2_SIGN_AGGREGATE_AND_PROOF_V2,
	ETH2_SIGN_DEPOSIT,
	ETH2_SIGN_RANDAO_REVEAL,
	ETH2_SIGN_VOLUNTARY_EXIT,
	ETH2_SIGN_SYNC_COMMITTEE_MESSAGE,
	ETH2_SIGN_SYNC_COMMITTEE_SELECTION_PROOF,
	ETH2_SIGN_SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF,
	ETH2_SIGN_VALIDATOR_REGISTRATION,
	ETH2_SIGN_COUNT
};

const char *eth2_sign_type_name(enum eth2_sign_type t);

struct eth2_signing {
	enum eth2_sign_type type;
	uint8_t object_root[32];
	uint8_t domain[32];
	uint8_t signing_root[32];
	/*
	 * For BLOCK, BLOCK_V2, ATTESTATION (slashable = true): what slashing
	 * protection checks. The root is fork_info.genesis_validators_root;
	 * block_slot for blocks, source/target epochs for attestations.
	 */
	bool slashable;
	uint8_t genesis_validators_root[32];
	uint64_t block_slot;
	uint64_t source_epoch;
	uint64_t target_epoch;
};

/*
 * Parses a sign request body and computes its signing root under `net`.
 * A client mistake (bad JSON, missing/extra-long field, bad hex, number out
 * of range, unknown type, root mismatch, wrong preset size) is -ERR_INVALID
 * with e->msg naming the field. Unknown JSON keys are ignored; `type` is
 * case-insensitive; `signing_root` and `signingRoot` are both accepted (both
 * at once is refused).
 */
int eth2_signing_parse(const struct eth2_network *net, const char *body,
		       size_t len, struct eth2_signing *out, struct err *e);
int eth2_signing_from_json(const struct eth2_network *net, json_t *req,
			   struct eth2_signing *out, struct err *e);

/* compute_domain(type, version, gvr) */
void eth2_compute_domain(const uint8_t type[4], const uint8_t version[4],
			 const uint8_t gvr[32], uint8_t out[32]);
/* hash_tree_root(SigningData(object_root, domain)) */
void eth2_compute_signing_root(const uint8_t object_root[32],
			       const uint8_t domain[32], uint8_t out[32]);

#endif
