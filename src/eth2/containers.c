/*
 * containers.c: hash_tree_root of every consensus container a sign request
 * can carry, read straight from the request JSON (no intermediate structs).
 * One helper per container, field order as in consensus-specs
 * (phase0, altair, electra, gloas beacon-chain.md; altair validator.md;
 * gloas p2p-interface.md; builder-specs).
 *
 * How it fits: signing.c picks the container for a request type and the
 * fork; this file turns JSON into roots. Preset sizes (list limits, bit
 * lengths) come from the server's --network (struct ssz_ctx), never from the
 * request, and every list is checked against its limit before it is hashed.
 * Gloas's progressive lists (EIP-7916) have no type limit: they are bounded
 * by the request body's size limit alone, as the spec bounds them only by
 * the size of the message that carries them.
 *
 * Trusts: nothing in the JSON. Every field is required unless the spec makes
 * it optional; unknown members are ignored.
 */
#include "eth2_internal.h"

#include <stdio.h>
#include <string.h>

/* hash_tree_root of a container whose field roots are f[0..n). */
static int container_root(uint8_t (*f)[32], size_t n, uint8_t out[32],
			  struct err *e)
{
	if (ssz_merkleize(&f[0][0], n, 0, out) < 0)
		return err_set(e, ERR_INTERNAL, "ssz: container root failed");
	return 0;
}

/* hash_tree_root of a ProgressiveContainer with all n fields active. */
static int progressive_root(uint8_t (*f)[32], size_t n, uint8_t out[32],
			    struct err *e)
{
	if (ssz_progressive_container_root((const uint8_t (*)[32])f, n, out) < 0)
		return err_set(e, ERR_INTERNAL, "ssz: container root failed");
	return 0;
}

int ssz_child_root(const struct ssz_ctx *c, json_t *obj, const char *path,
		   const char *key, ssz_root_fn fn, uint8_t out[32],
		   struct err *e)
{
	char p[J_PATH];
	json_t *o;
	TRY(j_object(obj, path, key, &o, p, e));
	return fn(c, o, p, out, e);
}

/* List[Container, max]: element roots merkleized with limit max, length mixed in. */
static int list_root(const struct ssz_ctx *c, json_t *obj, const char *path,
		     const char *key, size_t max, ssz_root_fn fn,
		     uint8_t out[32], struct err *e)
{
	json_t *arr;
	struct ssz_hasher h;
	TRY(j_array(obj, path, key, max, &arr, e));
	ssz_hasher_init(&h, max);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		char p[J_PATH];
		uint8_t r[32];
		json_t *el = json_array_get(arr, i);
		snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, i);
		if (!json_is_object(el))
			return err_set(e, ERR_INVALID, "%s: expected an object",
				       p);
		TRY(fn(c, el, p, r, e));
		if (ssz_hasher_push(&h, r) < 0)
			return err_set(e, ERR_INTERNAL, "ssz: list overflow");
	}
	ssz_hasher_finish(&h, out);
	ssz_mix_in_length(out, json_array_size(arr));
	return 0;
}

/*
 * ProgressiveList[T] (EIP-7916): element roots merkleized progressively,
 * length mixed in. `objects` says whether elements must be JSON objects
 * (containers) or are values fn reads itself (byte vectors, byte lists).
 */
static int plist_root(const struct ssz_ctx *c, json_t *obj, const char *path,
		      const char *key, bool objects, ssz_root_fn fn,
		      uint8_t out[32], struct err *e)
{
	json_t *arr;
	struct ssz_progressive h;
	TRY(j_array(obj, path, key, SIZE_MAX, &arr, e));
	ssz_progressive_init(&h);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		char p[J_PATH];
		uint8_t r[32];
		json_t *el = json_array_get(arr, i);
		snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, i);
		if (objects && !json_is_object(el))
			return err_set(e, ERR_INVALID, "%s: expected an object",
				       p);
		TRY(fn(c, el, p, r, e));
		if (ssz_progressive_push(&h, r) < 0)
			return err_set(e, ERR_INTERNAL, "ssz: list overflow");
	}
	ssz_progressive_finish(&h, out);
	ssz_mix_in_length(out, json_array_size(arr));
	return 0;
}

void ssz_fork_data_root(const uint8_t version[4], const uint8_t gvr[32],
			uint8_t out[32])
{
	uint8_t v[32] = {0};
	memcpy(v, version, 4);
	ssz_hash_pair(v, gvr, out);
}

/* ---- phase0 --------------------------------------------------------- */

int ssz_checkpoint_root(const struct ssz_ctx *c, json_t *o, const char *path,
			uint8_t out[32], struct err *e)
{
	uint8_t f[2][32];
	TRY(j_u64_root(o, path, "epoch", f[0], e));
	TRY(j_bytes(o, path, "root", f[1], 32, e));
	return container_root(f, 2, out, e);
}

int ssz_attestation_data_root(const struct ssz_ctx *c, json_t *o,
			      const char *path, uint8_t out[32], struct err *e)
{
	uint8_t f[5][32];
	TRY(j_u64_root(o, path, "slot", f[0], e));
	TRY(j_u64_root(o, path, "index", f[1], e));
	TRY(j_bytes(o, path, "beacon_block_root", f[2], 32, e));
	TRY(ssz_child_root(c, o, path, "source", ssz_checkpoint_root, f[3], e));
	TRY(ssz_child_root(c, o, path, "target", ssz_checkpoint_root, f[4], e));
	return container_root(f, 5, out, e);
}

int ssz_block_header_root(const struct ssz_ctx *c, json_t *o, const char *path,
			  uint8_t out[32], struct err *e)
{
	uint8_t f[5][32];
	TRY(j_u64_root(o, path, "slot", f[0], e));
	TRY(j_u64_root(o, path, "proposer_index", f[1], e));
	TRY(j_bytes(o, path, "parent_root", f[2], 32, e));
	TRY(j_bytes(o, path, "state_root", f[3], 32, e));
	TRY(j_bytes(o, path, "body_root", f[4], 32, e));
	return container_root(f, 5, out, e);
}

static int signed_header_root(const struct ssz_ctx *c, json_t *o,
			      const char *path, uint8_t out[32], struct err *e)
{
	uint8_t f[2][32];
	TRY(ssz_child_root(c, o, path, "message", ssz_block_header_root, f[0],
			   e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[1], e));
	return container_root(f, 2, out, e);
}

static int proposer_slashing_root(const struct ssz_ctx *c, json_t *o,
				  const char *path, uint8_t out[32],
				  struct err *e)
{
	uint8_t f[2][32];
	TRY(ssz_child_root(c, o, path, "signed_header_1", signed_header_root,
			   f[0], e));
	TRY(ssz_child_root(c, o, path, "signed_header_2", signed_header_root,
			   f[1], e));
	return container_root(f, 2, out, e);
}

/* List[ValidatorIndex, MAX_VALIDATORS_PER_COMMITTEE]: four uint64 per chunk. */
static int indices_root(const struct ssz_ctx *c, json_t *o, const char *path,
			uint8_t out[32], struct err *e)
{
	uint64_t max = c->net->preset.max_validators_per_committee;
	json_t *arr;
	struct ssz_hasher h;
	uint8_t chunk[32] = {0};
	TRY(j_array(o, path, "attesting_indices", (size_t)max, &arr, e));
	size_t n = json_array_size(arr);
	ssz_hasher_init(&h, (max * 8 + 31) / 32);
	for (size_t i = 0; i < n; i++) {
		char p[J_PATH];
		uint64_t v;
		snprintf(p, sizeof(p), "%s.attesting_indices[%zu]", path, i);
		TRY(j_u64_value(json_array_get(arr, i), p, &v, e));
		for (int b = 0; b < 8; b++)
			chunk[8 * (i % 4) + (size_t)b] = (uint8_t)(v >> (8 * b));
		if (i % 4 == 3 || i + 1 == n) {
			if (ssz_hasher_push(&h, chunk) < 0)
				return err_set(e, ERR_INTERNAL,
					       "ssz: list overflow");
			memset(chunk, 0, sizeof(chunk));
		}
	}
	ssz_hasher_finish(&h, out);
	ssz_mix_in_length(out, n);
	return 0;
}

static int indexed_attestation_root(const struct ssz_ctx *c, json_t *o,
				    const char *path, uint8_t out[32],
				    struct err *e)
{
	uint8_t f[3][32];
	TRY(indices_root(c, o, path, f[0], e));
	TRY(ssz_child_root(c, o, path, "data", ssz_attestation_data_root, f[1],
			   e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[2], e));
	return container_root(f, 3, out, e);
}

static int attester_slashing_root(const struct ssz_ctx *c, json_t *o,
				  const char *path, uint8_t out[32],
				  struct err *e)
{
	uint8_t f[2][32];
	TRY(ssz_child_root(c, o, path, "attestation_1",
			   indexed_attestation_root, f[0], e));
	TRY(ssz_child_root(c, o, path, "attestation_2",
			   indexed_attestation_root, f[1], e));
	return container_root(f, 2, out, e);
}

/*
 * Attestation. Before Electra: (aggregation_bits: Bitlist[MVPC], data,
 * signature); any committee_bits member is ignored, as Web3Signer does.
 * Electra+: (aggregation_bits: Bitlist[MVPC * MCPS], data, signature,
 * committee_bits: Bitvector[MCPS]), committee_bits required. Gloas+: the
 * same fields in a ProgressiveContainer, aggregation_bits a ProgressiveBitList
 * (EIP-7688).
 */
int ssz_attestation_root(const struct ssz_ctx *c, json_t *o, const char *path,
			 uint8_t out[32], struct err *e)
{
	const struct eth2_preset *ps = &c->net->preset;
	bool electra = c->fork >= ETH2_FORK_ELECTRA;
	bool gloas = c->fork >= ETH2_FORK_GLOAS;
	uint64_t bits = ps->max_validators_per_committee;
	uint8_t f[4][32];
	if (electra)
		bits *= ps->max_committees_per_slot;
	/* Gloas: a ProgressiveBitList, still at most one bit per member. */
	if (gloas)
		TRY(j_progressive_bitlist_root(o, path, "aggregation_bits", bits,
					       f[0], e));
	else
		TRY(j_bitlist_root(o, path, "aggregation_bits", bits, f[0], e));
	TRY(ssz_child_root(c, o, path, "data", ssz_attestation_data_root, f[1],
			   e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[2], e));
	if (!electra)
		return container_root(f, 3, out, e);
	TRY(j_bitvector_root(o, path, "committee_bits",
			     ps->max_committees_per_slot, f[3], e));
	if (gloas)
		return progressive_root(f, 4, out, e);
	return container_root(f, 4, out, e);
}

static int eth1_data_root(const struct ssz_ctx *c, json_t *o, const char *path,
			  uint8_t out[32], struct err *e)
{
	uint8_t f[3][32];
	TRY(j_bytes(o, path, "deposit_root", f[0], 32, e));
	TRY(j_u64_root(o, path, "deposit_count", f[1], e));
	TRY(j_bytes(o, path, "block_hash", f[2], 32, e));
	return container_root(f, 3, out, e);
}

static int deposit_data_root(const struct ssz_ctx *c, json_t *o,
			     const char *path, uint8_t out[32], struct err *e)
{
	uint8_t f[4][32];
	TRY(j_bytes_root(o, path, "pubkey", BLS_PUBKEY_LEN, f[0], e));
	TRY(j_bytes(o, path, "withdrawal_credentials", f[1], 32, e));
	TRY(j_u64_root(o, path, "amount", f[2], e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[3], e));
	return container_root(f, 4, out, e);
}

/* Vector[Bytes32, DEPOSIT_CONTRACT_TREE_DEPTH + 1]: exactly that many. */
static int deposit_proof_root(const struct ssz_ctx *c, json_t *o,
			      const char *path, uint8_t out[32], struct err *e)
{
	size_t n = (size_t)c->net->preset.deposit_contract_tree_depth + 1;
	json_t *arr;
	struct ssz_hasher h;
	TRY(j_array(o, path, "proof", n, &arr, e));
	if (json_array_size(arr) != n)
		return err_set(e, ERR_INVALID,
			       "%s.proof: expected exactly %zu roots, got %zu",
			       path, n, json_array_size(arr));
	ssz_hasher_init(&h, n);
	for (size_t i = 0; i < n; i++) {
		char p[J_PATH];
		uint8_t r[32];
		snprintf(p, sizeof(p), "%s.proof[%zu]", path, i);
		TRY(j_bytes_value(json_array_get(arr, i), p, r, 32, e));
		if (ssz_hasher_push(&h, r) < 0)
			return err_set(e, ERR_INTERNAL, "ssz: vector overflow");
	}
	ssz_hasher_finish(&h, out);
	return 0;
}

static int deposit_root(const struct ssz_ctx *c, json_t *o, const char *path,
			uint8_t out[32], struct err *e)
{
	uint8_t f[2][32];
	TRY(deposit_proof_root(c, o, path, f[0], e));
	TRY(ssz_child_root(c, o, path, "data", deposit_data_root, f[1], e));
	return container_root(f, 2, out, e);
}

int ssz_voluntary_exit_root(const struct ssz_ctx *c, json_t *o,
			    const char *path, uint8_t out[32], struct err *e)
{
	uint8_t f[2][32];
	TRY(j_u64_root(o, path, "epoch", f[0], e));
	TRY(j_u64_root(o, path, "validator_index", f[1], e));
	return container_root(f, 2, out, e);
}

static int signed_exit_root(const struct ssz_ctx *c, json_t *o,
			    const char *path, uint8_t out[32], struct err *e)
{
	uint8_t f[2][32];
	TRY(ssz_child_root(c, o, path, "message", ssz_voluntary_exit_root, f[0],
			   e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[1], e));
	return container_root(f, 2, out, e);
}

/* ---- altair --------------------------------------------------------- */

static int sync_aggregate_root(const struct ssz_ctx *c, json_t *o,
			       const char *path, uint8_t out[32],
			       struct err *e)
{
	uint8_t f[2][32];
	TRY(j_bitvector_root(o, path, "sync_committee_bits",
			     c->net->preset.sync_committee_size, f[0], e));
	TRY(j_bytes_root(o, path, "sync_committee_signature", BLS_SIG_LEN,
			 f[1], e));
	return container_root(f, 2, out, e);
}

/* BeaconBlockBody: the phase0 fields, plus sync_aggregate from Altair. */
static int block_body_root(const struct ssz_ctx *c, json_t *o,
			   const char *path, uint8_t out[32], struct err *e)
{
	const struct eth2_preset *ps = &c->net->preset;
	uint8_t f[9][32];
	TRY(j_bytes_root(o, path, "randao_reveal", BLS_SIG_LEN, f[0], e));
	TRY(ssz_child_root(c, o, path, "eth1_data", eth1_data_root, f[1], e));
	TRY(j_bytes(o, path, "graffiti", f[2], 32, e));
	TRY(list_root(c, o, path, "proposer_slashings",
		      ps->max_proposer_slashings, proposer_slashing_root, f[3],
		      e));
	TRY(list_root(c, o, path, "attester_slashings",
		      ps->max_attester_slashings, attester_slashing_root, f[4],
		      e));
	TRY(list_root(c, o, path, "attestations", ps->max_attestations,
		      ssz_attestation_root, f[5], e));
	TRY(list_root(c, o, path, "deposits", ps->max_deposits, deposit_root,
		      f[6], e));
	TRY(list_root(c, o, path, "voluntary_exits", ps->max_voluntary_exits,
		      signed_exit_root, f[7], e));
	if (c->fork == ETH2_FORK_PHASE0)
		return container_root(f, 8, out, e);
	TRY(ssz_child_root(c, o, path, "sync_aggregate", sync_aggregate_root,
			   f[8], e));
	return container_root(f, 9, out, e);
}

int ssz_beacon_block_root(const struct ssz_ctx *c, json_t *o, const char *path,
			  uint8_t out[32], struct err *e)
{
	uint8_t f[5][32];
	if (c->fork > ETH2_FORK_ALTAIR)
		return err_set(e, ERR_INTERNAL, "%s: no full-block schema for %s",
			       path, eth2_fork_name(c->fork));
	TRY(j_u64_root(o, path, "slot", f[0], e));
	TRY(j_u64_root(o, path, "proposer_index", f[1], e));
	TRY(j_bytes(o, path, "parent_root", f[2], 32, e));
	TRY(j_bytes(o, path, "state_root", f[3], 32, e));
	TRY(ssz_child_root(c, o, path, "body", block_body_root, f[4], e));
	return container_root(f, 5, out, e);
}

int ssz_aggregate_and_proof_root(const struct ssz_ctx *c, json_t *o,
				 const char *path, uint8_t out[32],
				 struct err *e)
{
	uint8_t f[3][32];
	TRY(j_u64_root(o, path, "aggregator_index", f[0], e));
	TRY(ssz_child_root(c, o, path, "aggregate", ssz_attestation_root, f[1],
			   e));
	TRY(j_bytes_root(o, path, "selection_proof", BLS_SIG_LEN, f[2], e));
	return container_root(f, 3, out, e);
}

int ssz_sync_selection_data_root(const struct ssz_ctx *c, json_t *o,
				 const char *path, uint8_t out[32],
				 struct err *e)
{
	uint8_t f[2][32];
	TRY(j_u64_root(o, path, "slot", f[0], e));
	TRY(j_u64_root(o, path, "subcommittee_index", f[1], e));
	return container_root(f, 2, out, e);
}

/* aggregation_bits: Bitvector[SYNC_COMMITTEE_SIZE / SYNC_COMMITTEE_SUBNET_COUNT] */
static int contribution_root(const struct ssz_ctx *c, json_t *o,
			     const char *path, uint8_t out[32], struct err *e)
{
	const struct eth2_preset *ps = &c->net->preset;
	uint8_t f[5][32];
	TRY(j_u64_root(o, path, "slot", f[0], e));
	TRY(j_bytes(o, path, "beacon_block_root", f[1], 32, e));
	TRY(j_u64_root(o, path, "subcommittee_index", f[2], e));
	TRY(j_bitvector_root(o, path, "aggregation_bits",
			     ps->sync_committee_size /
				     ps->sync_committee_subnet_count,
			     f[3], e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[4], e));
	return container_root(f, 5, out, e);
}

int ssz_contribution_and_proof_root(const struct ssz_ctx *c, json_t *o,
				    const char *path, uint8_t out[32],
				    struct err *e)
{
	uint8_t f[3][32];
	TRY(j_u64_root(o, path, "aggregator_index", f[0], e));
	TRY(ssz_child_root(c, o, path, "contribution", contribution_root, f[1],
			   e));
	TRY(j_bytes_root(o, path, "selection_proof", BLS_SIG_LEN, f[2], e));
	return container_root(f, 3, out, e);
}

/* ---- deposits and the builder API ------------------------------------ */

int ssz_deposit_message_root(const struct ssz_ctx *c, json_t *o,
			     const char *path, uint8_t out[32], struct err *e)
{
	uint8_t f[3][32];
	TRY(j_bytes_root(o, path, "pubkey", BLS_PUBKEY_LEN, f[0], e));
	TRY(j_bytes(o, path, "withdrawal_credentials", f[1], 32, e));
	TRY(j_u64_root(o, path, "amount", f[2], e));
	return container_root(f, 3, out, e);
}

int ssz_validator_registration_root(const struct ssz_ctx *c, json_t *o,
				    const char *path, uint8_t out[32],
				    struct err *e)
{
	uint8_t f[4][32];
	TRY(j_bytes_root(o, path, "fee_recipient", 20, f[0], e));
	TRY(j_u64_root(o, path, "gas_limit", f[1], e));
	TRY(j_u64_root(o, path, "timestamp", f[2], e));
	TRY(j_bytes_root(o, path, "pubkey", BLS_PUBKEY_LEN, f[3], e));
	return container_root(f, 4, out, e);
}

/* ---- gloas ---------------------------------------------------------- */

/* KZGCommitment (Bytes48), an element of BlobKZGCommitments. */
static int kzg_commitment_root(const struct ssz_ctx *c, json_t *v,
			       const char *path, uint8_t out[32],
			       struct err *e)
{
	uint8_t b[48];
	TRY(j_bytes_value(v, path, b, sizeof(b), e));
	if (ssz_bytes_root(b, sizeof(b), 0, out) < 0)
		return err_set(e, ERR_INTERNAL, "ssz: bytes root failed");
	return 0;
}

int ssz_execution_payload_bid_root(const struct ssz_ctx *c, json_t *o,
				   const char *path, uint8_t out[32],
				   struct err *e)
{
	uint8_t f[12][32];
	TRY(j_bytes(o, path, "parent_block_hash", f[0], 32, e));
	TRY(j_bytes(o, path, "parent_block_root", f[1], 32, e));
	TRY(j_bytes(o, path, "block_hash", f[2], 32, e));
	TRY(j_bytes(o, path, "prev_randao", f[3], 32, e));
	TRY(j_bytes_root(o, path, "fee_recipient", ETH_ADDRESS_LEN, f[4], e));
	TRY(j_u64_root(o, path, "gas_limit", f[5], e));
	TRY(j_u64_root(o, path, "builder_index", f[6], e));
	TRY(j_u64_root(o, path, "slot", f[7], e));
	TRY(j_u64_root(o, path, "value", f[8], e));
	TRY(j_u64_root(o, path, "execution_payment", f[9], e));
	TRY(plist_root(c, o, path, "blob_kzg_commitments", false,
		       kzg_commitment_root, f[10], e));
	TRY(j_bytes(o, path, "execution_requests_root", f[11], 32, e));
	return progressive_root(f, 12, out, e);
}

static int withdrawal_root(const struct ssz_ctx *c, json_t *o,
			   const char *path, uint8_t out[32], struct err *e)
{
	uint8_t f[4][32];
	TRY(j_u64_root(o, path, "index", f[0], e));
	TRY(j_u64_root(o, path, "validator_index", f[1], e));
	TRY(j_bytes_root(o, path, "address", ETH_ADDRESS_LEN, f[2], e));
	TRY(j_u64_root(o, path, "amount", f[3], e));
	return container_root(f, 4, out, e);
}

/* Transaction: a ProgressiveByteList element of Transactions. */
static int transaction_root(const struct ssz_ctx *c, json_t *v,
			    const char *path, uint8_t out[32], struct err *e)
{
	return j_progressive_bytes_value_root(v, path, out, e);
}

/* ExecutionPayload (Gloas): 19 fields in a ProgressiveContainer. */
int ssz_execution_payload_root(const struct ssz_ctx *c, json_t *o,
				  const char *path, uint8_t out[32],
				  struct err *e)
{
	uint8_t f[19][32];
	TRY(j_bytes(o, path, "parent_hash", f[0], 32, e));
	TRY(j_bytes_root(o, path, "fee_recipient", ETH_ADDRESS_LEN, f[1], e));
	TRY(j_bytes(o, path, "state_root", f[2], 32, e));
	TRY(j_bytes(o, path, "receipts_root", f[3], 32, e));
	TRY(j_bytes_root(o, path, "logs_bloom", 256, f[4], e));
	TRY(j_bytes(o, path, "prev_randao", f[5], 32, e));
	TRY(j_u64_root(o, path, "block_number", f[6], e));
	TRY(j_u64_root(o, path, "gas_limit", f[7], e));
	TRY(j_u64_root(o, path, "gas_used", f[8], e));
	TRY(j_u64_root(o, path, "timestamp", f[9], e));
	/* ExtraData: ByteList[MAX_EXTRA_DATA_BYTES = 32] */
	TRY(j_bytelist_root(o, path, "extra_data", 0, 32, f[10], e));
	TRY(j_u256_root(o, path, "base_fee_per_gas", f[11], e));
	TRY(j_bytes(o, path, "block_hash", f[12], 32, e));
	TRY(plist_root(c, o, path, "transactions", false, transaction_root,
		       f[13], e));
	TRY(plist_root(c, o, path, "withdrawals", true, withdrawal_root, f[14],
		       e));
	TRY(j_u64_root(o, path, "blob_gas_used", f[15], e));
	TRY(j_u64_root(o, path, "excess_blob_gas", f[16], e));
	TRY(j_progressive_bytes_root(o, path, "block_access_list", f[17], e));
	TRY(j_u64_root(o, path, "slot_number", f[18], e));
	return progressive_root(f, 19, out, e);
}

static int deposit_request_root(const struct ssz_ctx *c, json_t *o,
				const char *path, uint8_t out[32],
				struct err *e)
{
	uint8_t f[5][32];
	TRY(j_bytes_root(o, path, "pubkey", BLS_PUBKEY_LEN, f[0], e));
	TRY(j_bytes(o, path, "withdrawal_credentials", f[1], 32, e));
	TRY(j_u64_root(o, path, "amount", f[2], e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[3], e));
	TRY(j_u64_root(o, path, "index", f[4], e));
	return container_root(f, 5, out, e);
}

static int withdrawal_request_root(const struct ssz_ctx *c, json_t *o,
				   const char *path, uint8_t out[32],
				   struct err *e)
{
	uint8_t f[3][32];
	TRY(j_bytes_root(o, path, "source_address", ETH_ADDRESS_LEN, f[0], e));
	TRY(j_bytes_root(o, path, "validator_pubkey", BLS_PUBKEY_LEN, f[1], e));
	TRY(j_u64_root(o, path, "amount", f[2], e));
	return container_root(f, 3, out, e);
}

static int consolidation_request_root(const struct ssz_ctx *c, json_t *o,
				      const char *path, uint8_t out[32],
				      struct err *e)
{
	uint8_t f[3][32];
	TRY(j_bytes_root(o, path, "source_address", ETH_ADDRESS_LEN, f[0], e));
	TRY(j_bytes_root(o, path, "source_pubkey", BLS_PUBKEY_LEN, f[1], e));
	TRY(j_bytes_root(o, path, "target_pubkey", BLS_PUBKEY_LEN, f[2], e));
	return container_root(f, 3, out, e);
}

static int builder_deposit_request_root(const struct ssz_ctx *c, json_t *o,
					const char *path, uint8_t out[32],
					struct err *e)
{
	uint8_t f[4][32];
	TRY(j_bytes_root(o, path, "pubkey", BLS_PUBKEY_LEN, f[0], e));
	TRY(j_bytes(o, path, "withdrawal_credentials", f[1], 32, e));
	TRY(j_u64_root(o, path, "amount", f[2], e));
	TRY(j_bytes_root(o, path, "signature", BLS_SIG_LEN, f[3], e));
	return container_root(f, 4, out, e);
}

static int builder_exit_request_root(const struct ssz_ctx *c, json_t *o,
				     const char *path, uint8_t out[32],
				     struct err *e)
{
	uint8_t f[2][32];
	TRY(j_bytes_root(o, path, "source_address", ETH_ADDRESS_LEN, f[0], e));
	TRY(j_bytes_root(o, path, "pubkey", BLS_PUBKEY_LEN, f[1], e));
	return container_root(f, 2, out, e);
}

/* ExecutionRequests (Gloas): five progressive lists (EIP-8282 adds two). */
int ssz_execution_requests_root(const struct ssz_ctx *c, json_t *o,
				   const char *path, uint8_t out[32],
				   struct err *e)
{
	uint8_t f[5][32];
	TRY(plist_root(c, o, path, "deposits", true, deposit_request_root,
		       f[0], e));
	TRY(plist_root(c, o, path, "withdrawals", true,
		       withdrawal_request_root, f[1], e));
	TRY(plist_root(c, o, path, "consolidations", true,
		       consolidation_request_root, f[2], e));
	TRY(plist_root(c, o, path, "builder_deposits", true,
		       builder_deposit_request_root, f[3], e));
	TRY(plist_root(c, o, path, "builder_exits", true,
		       builder_exit_request_root, f[4], e));
	return progressive_root(f, 5, out, e);
}

int ssz_execution_payload_envelope_root(const struct ssz_ctx *c, json_t *o,
					const char *path, uint8_t out[32],
					struct err *e)
{
	uint8_t f[5][32];
	TRY(ssz_child_root(c, o, path, "payload", ssz_execution_payload_root, f[0],
			   e));
	TRY(ssz_child_root(c, o, path, "execution_requests",
			   ssz_execution_requests_root, f[1], e));
	TRY(j_u64_root(o, path, "builder_index", f[2], e));
	TRY(j_bytes(o, path, "beacon_block_root", f[3], 32, e));
	TRY(j_bytes(o, path, "parent_beacon_block_root", f[4], 32, e));
	return progressive_root(f, 5, out, e);
}

int ssz_payload_attestation_data_root(const struct ssz_ctx *c, json_t *o,
				      const char *path, uint8_t out[32],
				      struct err *e)
{
	uint8_t f[4][32];
	TRY(j_bytes(o, path, "beacon_block_root", f[0], 32, e));
	TRY(j_u64_root(o, path, "slot", f[1], e));
	TRY(j_bool_root(o, path, "payload_present", f[2], e));
	TRY(j_bool_root(o, path, "blob_data_available", f[3], e));
	return container_root(f, 4, out, e);
}

int ssz_proposer_preferences_root(const struct ssz_ctx *c, json_t *o,
				  const char *path, uint8_t out[32],
				  struct err *e)
{
	uint8_t f[5][32];
	TRY(j_bytes(o, path, "dependent_root", f[0], 32, e));
	TRY(j_u64_root(o, path, "proposal_slot", f[1], e));
	TRY(j_u64_root(o, path, "validator_index", f[2], e));
	TRY(j_bytes_root(o, path, "fee_recipient", ETH_ADDRESS_LEN, f[3], e));
	TRY(j_u64_root(o, path, "target_gas_limit", f[4], e));
	return container_root(f, 5, out, e);
}

/*
 * builder-specs gloas: data is ByteList[MAX_BUILDER_AUTH_DATA_SIZE]; an
 * empty one is invalid (builder-specs#165), so it is refused here too.
 */
int ssz_builder_request_auth_root(const struct ssz_ctx *c, json_t *o,
				  const char *path, uint8_t out[32],
				  struct err *e)
{
	uint8_t f[2][32];
	TRY(j_bytelist_root(o, path, "data", 1, BUILDER_AUTH_DATA_MAX, f[0],
			    e));
	TRY(j_u64_root(o, path, "slot", f[1], e));
	return container_root(f, 2, out, e);
}
