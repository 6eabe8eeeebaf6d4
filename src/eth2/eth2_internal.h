/*
 * eth2_internal.h: what the eth2 files share and nobody else sees: strict
 * readers of JSON fields that name the offending field path in their errors,
 * and the SSZ container roots built on them.
 */
#ifndef NS_ETH2_INTERNAL_H
#define NS_ETH2_INTERNAL_H

#include "eth2.h"

/* Room for a field path like "beacon_block.block.body.attestations[12].data". */
#define J_PATH 192

/* "<parent>.<key>" into out (truncated silently; it is only a message). */
void j_path(char out[J_PATH], const char *parent, const char *key);

/* A required member that must be a JSON object. */
int j_object(json_t *obj, const char *path, const char *key, json_t **out,
	     char child_path[J_PATH], struct err *e);
/* A required uint64: decimal string (strict) or non-negative JSON integer. */
int j_u64(json_t *obj, const char *path, const char *key, uint64_t *out,
	  struct err *e);
/* The same for a JSON value already in hand (array elements). */
int j_u64_value(json_t *v, const char *path, uint64_t *out, struct err *e);
/* A required 0x-hex string of exactly len bytes. */
int j_bytes(json_t *obj, const char *path, const char *key, uint8_t *out,
	    size_t len, struct err *e);
int j_bytes_value(json_t *v, const char *path, uint8_t *out, size_t len,
		  struct err *e);
/* A required array of at most max elements. */
int j_array(json_t *obj, const char *path, const char *key, size_t max,
	    json_t **out, struct err *e);
/*
 * A client string made safe to quote in a message (and so in logs): at most
 * 40 characters, anything but printable ASCII replaced by '?'.
 */
#define J_QUOTE 48
const char *j_quote(const char *s, char out[J_QUOTE]);
/* A member that is absent or JSON null. */
bool j_absent(json_t *obj, const char *key);
/* hash_tree_root of a Bitlist[limit] / Bitvector[n] given as 0x-hex. */
int j_bitlist_root(json_t *obj, const char *path, const char *key,
		   uint64_t limit_bits, uint8_t out[32], struct err *e);
int j_bitvector_root(json_t *obj, const char *path, const char *key,
		     uint64_t n_bits, uint8_t out[32], struct err *e);
/* hash_tree_root of a fixed byte vector field (Bytes20/32/48/96). */
int j_bytes_root(json_t *obj, const char *path, const char *key, size_t len,
		 uint8_t out[32], struct err *e);
/* hash_tree_root of a uint64 field. */
int j_u64_root(json_t *obj, const char *path, const char *key,
	       uint8_t out[32], struct err *e);
/* hash_tree_root of a Boolean: JSON true or false only. */
int j_bool_root(json_t *obj, const char *path, const char *key,
		uint8_t out[32], struct err *e);
/* hash_tree_root of a Uint256 given as a decimal string. */
int j_u256_root(json_t *obj, const char *path, const char *key,
		uint8_t out[32], struct err *e);
/* hash_tree_root of a ByteList[max_len] of at least min_len bytes. */
int j_bytelist_root(json_t *obj, const char *path, const char *key,
		    size_t min_len, size_t max_len, uint8_t out[32],
		    struct err *e);
/* hash_tree_root of a ProgressiveByteList (no type limit). */
int j_progressive_bytes_root(json_t *obj, const char *path, const char *key,
			     uint8_t out[32], struct err *e);
int j_progressive_bytes_value_root(json_t *v, const char *path,
				   uint8_t out[32], struct err *e);
/* hash_tree_root of a ProgressiveBitList, at most limit_bits long. */
int j_progressive_bitlist_root(json_t *obj, const char *path, const char *key,
			       uint64_t limit_bits, uint8_t out[32],
			       struct err *e);

/* ---- SSZ containers (containers.c) ------------------------------------ */

/* What a container root may depend on beyond its JSON: preset and fork. */
struct ssz_ctx {
	const struct eth2_network *net;
	enum eth2_fork fork; /* schema of the enclosing block or aggregate */
};

typedef int (*ssz_root_fn)(const struct ssz_ctx *c, json_t *o,
			   const char *path, uint8_t out[32], struct err *e);

/* Root of the object member `key` computed by fn. */
int ssz_child_root(const struct ssz_ctx *c, json_t *obj, const char *path,
		   const char *key, ssz_root_fn fn, uint8_t out[32],
		   struct err *e);

int ssz_checkpoint_root(const struct ssz_ctx *c, json_t *o, const char *path,
			uint8_t out[32], struct err *e);
int ssz_attestation_data_root(const struct ssz_ctx *c, json_t *o,
			      const char *path, uint8_t out[32], struct err *e);
int ssz_block_header_root(const struct ssz_ctx *c, json_t *o, const char *path,
			  uint8_t out[32], struct err *e);
/* BeaconBlock of c->fork (PHASE0 or ALTAIR only). */
int ssz_beacon_block_root(const struct ssz_ctx *c, json_t *o, const char *path,
			  uint8_t out[32], struct err *e);
/*
 * Attestation of c->fork (phase0 layout before ELECTRA, Electra layout after,
 * a progressive container from GLOAS).
 */
int ssz_attestation_root(const struct ssz_ctx *c, json_t *o, const char *path,
			 uint8_t out[32], struct err *e);
int ssz_aggregate_and_proof_root(const struct ssz_ctx *c, json_t *o,
				 const char *path, uint8_t out[32],
				 struct err *e);
int ssz_voluntary_exit_root(const struct ssz_ctx *c, json_t *o,
			    const char *path, uint8_t out[32], struct err *e);
int ssz_sync_selection_data_root(const struct ssz_ctx *c, json_t *o,
				 const char *path, uint8_t out[32],
				 struct err *e);
int ssz_contribution_and_proof_root(const struct ssz_ctx *c, json_t *o,
				    const char *path, uint8_t out[32],
				    struct err *e);
int ssz_deposit_message_root(const struct ssz_ctx *c, json_t *o,
			     const char *path, uint8_t out[32], struct err *e);
int ssz_validator_registration_root(const struct ssz_ctx *c, json_t *o,
				    const char *path, uint8_t out[32],
				    struct err *e);

/* ---- Gloas (beacon-chain.md, p2p-interface.md; builder-specs) ---- */
int ssz_execution_payload_bid_root(const struct ssz_ctx *c, json_t *o,
				   const char *path, uint8_t out[32],
				   struct err *e);
int ssz_execution_payload_root(const struct ssz_ctx *c, json_t *o,
			       const char *path, uint8_t out[32],
			       struct err *e);
int ssz_execution_requests_root(const struct ssz_ctx *c, json_t *o,
				const char *path, uint8_t out[32],
				struct err *e);
int ssz_execution_payload_envelope_root(const struct ssz_ctx *c, json_t *o,
					const char *path, uint8_t out[32],
					struct err *e);
int ssz_payload_attestation_data_root(const struct ssz_ctx *c, json_t *o,
				      const char *path, uint8_t out[32],
				      struct err *e);
int ssz_proposer_preferences_root(const struct ssz_ctx *c, json_t *o,
				  const char *path, uint8_t out[32],
				  struct err *e);
/* BuilderRequestAuth{data: ByteList[4096], slot}; empty data is refused. */
#define BUILDER_AUTH_DATA_MAX 4096
int ssz_builder_request_auth_root(const struct ssz_ctx *c, json_t *o,
				  const char *path, uint8_t out[32],
				  struct err *e);

/* hash_tree_root(ForkData(version, gvr)) */
void ssz_fork_data_root(const uint8_t version[4], const uint8_t gvr[32],
			uint8_t out[32]);

#endif
