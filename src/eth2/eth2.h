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
	ETH2_FORK_GLOAS,
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
	/* Unix time of slot 0 and SECONDS_PER_SLOT; 0 when unknown ("minimal",
	 * and config files without GENESIS_TIME). */
	uint64_t genesis_time;
	uint64_t seconds_per_slot;
};

/*
 * "mainnet", "hoodi", "sepolia", "holesky", "minimal" (case-insensitive), or
 * a path (containing '/' or ending in .yaml/.yml) to a consensus-spec config
 * YAML: PRESET_BASE ('mainnet'|'minimal') and GENESIS_FORK_VERSION required;
 * CONFIG_NAME, <FORK>_FORK_VERSION/_EPOCH for ALTAIR..GLOAS read; a fork with
 * no epoch (or epoch 2^64-1) is unscheduled; GENESIS_TIME (unix seconds;
 * ours, the spec keeps it in the genesis state) with SECONDS_PER_SLOT gives
 * the network a clock; other keys ignored. The built-in "minimal" has every
 * fork through FULU at epoch 0 (consensus-specs' minimal config leaves them
 * unscheduled) and GLOAS unscheduled; every built-in network leaves GLOAS
 * unscheduled until its date is set, so a devnet that runs Gloas is a config
 * file. Only the four public networks carry a genesis validators root.
 */
int eth2_network_load(const char *name_or_path, struct eth2_network *out,
		      struct err *e);
/* The newest fork scheduled at or before epoch (unscheduled forks never are). */
enum eth2_fork eth2_fork_at_epoch(const struct eth2_network *n, uint64_t epoch);
/* The same for the epoch of a slot (slot / SLOTS_PER_EPOCH of the preset). */
enum eth2_fork eth2_fork_at_slot(const struct eth2_network *n, uint64_t slot);
/* "PHASE0", "ALTAIR", ... "GLOAS" (upper case, as in BLOCK_V2 `version`). */
const char *eth2_fork_name(enum eth2_fork f);
/* Exact upper-case name to fork; -ERR_INVALID when unknown. */
int eth2_fork_from_name(const char *s, enum eth2_fork *out);
/*
 * The epoch at unix time `now` by the network's clock. -ERR_INVALID when the
 * network has no genesis time ("minimal", config files without
 * GENESIS_TIME) or `now` is before
 * genesis.
 */
int eth2_epoch_at_time(const struct eth2_network *n, uint64_t now,
		       uint64_t *epoch, struct err *e);

/*
 * The clock guard's rule (docs/slashing.md, "The clock guard"). The epoch a
 * slashable message is for (BLOCK, BLOCK_V2: its slot / SLOTS_PER_EPOCH;
 * ATTESTATION: its target epoch) may differ from the current epoch by at
 * most `window` epochs, either way: allowed iff |message - current| <=
 * window. The current epoch is that of unix time `now` on the network's
 * clock ((now - genesis) / SECONDS_PER_SLOT / SLOTS_PER_EPOCH, rounded
 * down), and 0 before genesis. A network with a genesis validators root of
 * its own must also be the message's chain (fork_info's root): its clock
 * says nothing about another chain's epochs. No arithmetic overflows for any
 * uint64 input. -ERR_INVALID when the network has no genesis time or sg is
 * not slashable.
 */
struct eth2_clock_verdict {
	uint64_t message_epoch, current_epoch;
	uint64_t distance;  /* |message_epoch - current_epoch| */
	bool future;        /* message_epoch > current_epoch */
	bool other_chain;   /* fork_info's root is not the network's */
	bool allowed;
};
struct eth2_signing;
int eth2_clock_check(const struct eth2_network *n,
		     const struct eth2_signing *sg, uint64_t now,
		     uint64_t window, struct eth2_clock_verdict *out,
		     struct err *e);

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
	/* Gloas (ePBS), remote-signing-api v1.4.0 */
	ETH2_SIGN_EXECUTION_PAYLOAD_BID,
	ETH2_SIGN_EXECUTION_PAYLOAD_ENVELOPE,
	ETH2_SIGN_PAYLOAD_ATTESTATION_MESSAGE,
	ETH2_SIGN_PROPOSER_PREFERENCES,
	ETH2_SIGN_BUILDER_REQUEST_AUTH,
	ETH2_SIGN_COUNT
};

/* The request's `type` as the remote-signing API spells it. */
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
 * case-insensitive (and the names clients used before the API settled them,
 * PAYLOAD_ATTESTATION and REQUEST_AUTH, are aliases); `signing_root` and
 * `signingRoot` are both accepted (both at once is refused).
 */
int eth2_signing_parse(const struct eth2_network *net, const char *body,
		       size_t len, struct eth2_signing *out, struct err *e);
int eth2_signing_from_json(const struct eth2_network *net, json_t *req,
			   struct eth2_signing *out, struct err *e);
/* A request object's `type` alone (case-insensitive, as the parser reads
 * it): -ERR_INVALID naming "type" when missing or unknown. */
int eth2_signing_type(json_t *req, enum eth2_sign_type *out, struct err *e);

/*
 * The batch endpoint's body (POST /api/v1/eth2/sign; ethereum/
 * remote-signing-api PR #29, a proposal): {"identifiers": [pubkey, ...],
 * "signing_request": <one signing request>}. At most ETH2_BATCH_MAX_IDS
 * keys, none twice (compared decoded), a type for which
 * eth2_batch_type_allowed(). -ERR_INVALID naming the field (batch.c has
 * the rules). ids[i] is identifiers[i] as given, pubkeys[i] decoded; free
 * with eth2_batch_free (also after a failure: NULL-safe, idempotent).
 */
#define ETH2_BATCH_MAX_IDS 10000
#define ETH2_BATCH_ID_MAX (2 + 2 * BLS_PUBKEY_LEN)
struct eth2_batch {
	struct eth2_signing sg;
	size_t n;
	uint8_t (*pubkeys)[BLS_PUBKEY_LEN];
	char (*ids)[ETH2_BATCH_ID_MAX + 1];
};
bool eth2_batch_type_allowed(enum eth2_sign_type t);
int eth2_batch_parse(const struct eth2_network *net, const char *body,
		     size_t len, struct eth2_batch *out, struct err *e);
void eth2_batch_free(struct eth2_batch *b);

/*
 * VoluntaryExit{epoch, validator_index} signed as VOLUNTARY_EXIT signs it for
 * a validator client whose fork_info is the network's fork at `epoch` and
 * `gvr`: from Deneb on, the CAPELLA version (EIP-7044). For offline exits
 * (nitro-keys exit).
 */
int eth2_voluntary_exit_signing(const struct eth2_network *net,
				const uint8_t gvr[32], uint64_t epoch,
				uint64_t validator_index,
				struct eth2_signing *out, struct err *e);

/* compute_domain(type, version, gvr) */
void eth2_compute_domain(const uint8_t type[4], const uint8_t version[4],
			 const uint8_t gvr[32], uint8_t out[32]);
/* hash_tree_root(SigningData(object_root, domain)) */
void eth2_compute_signing_root(const uint8_t object_root[32],
			       const uint8_t domain[32], uint8_t out[32]);

/* ---- deposit data (staking-deposit-cli compatible) -------------------- */

/*
 * The staking-deposit-cli release whose deposit_data format we reproduce;
 * written as deposit_cli_version because tools that read deposit data (the
 * Staking Launchpad) check that field.
 */
#define DEPOSIT_CLI_VERSION "2.8.0"
#define DEPOSIT_GWEI_PER_ETH 1000000000ull
#define DEPOSIT_MIN_GWEI (1ull * DEPOSIT_GWEI_PER_ETH)
#define DEPOSIT_MAX_GWEI (32ull * DEPOSIT_GWEI_PER_ETH)
/* MAX_EFFECTIVE_BALANCE_ELECTRA, the cap for 0x02 credentials. */
#define DEPOSIT_MAX_COMPOUNDING_GWEI (2048ull * DEPOSIT_GWEI_PER_ETH)

enum deposit_withdrawal_kind {
	DEPOSIT_WITHDRAWAL_BLS = 0,         /* 0x00 || SHA256(withdrawal pk)[1:] */
	DEPOSIT_WITHDRAWAL_EXECUTION = 1,   /* 0x01 || 0 x 11 || address */
	DEPOSIT_WITHDRAWAL_COMPOUNDING = 2, /* 0x02 || 0 x 11 || address */
};

struct deposit_withdrawal {
	enum deposit_withdrawal_kind kind;
	uint8_t address[ETH_ADDRESS_LEN]; /* EXECUTION and COMPOUNDING */
};

struct deposit_data {
	uint8_t pubkey[BLS_PUBKEY_LEN];
	uint8_t withdrawal_credentials[32];
	uint64_t amount_gwei;
	uint8_t signature[BLS_SIG_LEN];
	uint8_t deposit_message_root[32];
	uint8_t deposit_data_root[32];
	uint8_t fork_version[4]; /* the network's genesis fork version */
	char network_name[64];
};

/* hash_tree_root(DepositMessage) and hash_tree_root(DepositData). */
void deposit_compute_message_root(const uint8_t pubkey[BLS_PUBKEY_LEN],
			  const uint8_t withdrawal_credentials[32],
			  uint64_t amount_gwei, uint8_t out[32]);
void deposit_compute_data_root(const uint8_t pubkey[BLS_PUBKEY_LEN],
		       const uint8_t withdrawal_credentials[32],
		       uint64_t amount_gwei, const uint8_t sig[BLS_SIG_LEN],
		       uint8_t out[32]);
/* 0x00 credentials from the withdrawal key's public key. */
void deposit_bls_credentials(const uint8_t withdrawal_pk[BLS_PUBKEY_LEN],
			     uint8_t out[32]);
/* 0x01 or 0x02 credentials from an address. */
void deposit_address_credentials(enum deposit_withdrawal_kind kind,
				 const uint8_t address[ETH_ADDRESS_LEN],
				 uint8_t out[32]);
/*
 * Signs a DepositMessage under DOMAIN_DEPOSIT with the network's genesis
 * fork version (and a zero genesis validators root), fills every field of
 * *out and verifies the signature before returning. The amount must be in
 * [1, 32] ETH, or [1, 2048] ETH for 0x02 credentials, in whole gwei.
 */
int deposit_sign(const struct bls_key *k, const uint8_t withdrawal_credentials[32],
		 uint64_t amount_gwei, const struct eth2_network *net,
		 struct deposit_data *out, struct err *e);
/* Recomputes both roots and verifies the signature: 0 when all hold. */
int deposit_verify(const struct deposit_data *d, struct err *e);
/*
 * deposit_data-*.json as staking-deposit-cli writes it: a JSON list, one
 * line, Python's separators, hex without 0x, amount an integer in gwei,
 * fork_version, network_name, deposit_cli_version. malloc'd.
 */
int deposit_data_json(const struct deposit_data *d, size_t n, char **out,
		      struct err *e);

/*
 * One validator from a BIP-39 seed, as staking-deposit-cli derives it:
 * signing key at m/12381/3600/<index>/0/0, withdrawal key (0x00 only) at
 * m/12381/3600/<index>/0, and its signed, verified deposit data. The
 * enclave and the Keymanager API reuse this; the CLI only adds files.
 */
struct deposit_validator {
	uint32_t index;
	char signing_path[EIP2334_PATH_MAX];
	struct bls_key *key; /* the signing key */
	struct deposit_data deposit;
};
int deposit_validator_derive(const struct secret *seed, uint32_t index,
			     const struct deposit_withdrawal *w,
			     uint64_t amount_gwei,
			     const struct eth2_network *net,
			     struct deposit_validator *out, struct err *e);
/* Frees the key; NULL-safe. */
void deposit_validator_clear(struct deposit_validator *v);
/*
 * An amount in ETH as operators write it ("32", "32.5", at most 9 decimals)
 * to gwei, bounded as deposit_sign bounds it for `kind`.
 */
int deposit_parse_amount(const char *eth, enum deposit_withdrawal_kind kind,
			 uint64_t *gwei, struct err *e, const char *field);

#endif
