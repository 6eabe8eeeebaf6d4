// Gloas (ePBS) requests and their expected signing roots, from @lodestar/types' gloas SSZ types
// (mainnet preset), for the cross-check against a signer serving a Gloas devnet config.
//
// Lodestar's gloas types are progressive (EIP-7495 containers, EIP-7916 lists and bitlists);
// randomValue() here fills them with lengths that span several progressive subtrees (1, 4, 16,
// 64 leaves ...). Number-typed uint64 fields stay below 2^53 (where Lodestar is exact); bigint
// fields take any uint64 (Uint256 for base_fee_per_gas).

import {
  BitVectorType, BooleanType, ByteListType, ByteVectorType, ContainerType, ProgressiveBitListType,
  ProgressiveByteListType, ProgressiveContainerType, ProgressiveListBasicType, ProgressiveListCompositeType,
  UintBigintType, UintNumberType,
} from "@chainsafe/ssz";
import { ssz } from "@lodestar/types";
import { toHex } from "./bls.mjs";
import { computeDomain, computeSigningRoot, pick, randBytes, randInt, randU64, ZERO_ROOT } from "./eth2.mjs";

// A devnet: mainnet preset, every fork through Fulu at genesis, Gloas at epoch GLOAS_EPOCH.
export const GLOAS_EPOCH = 10n;
export const DEVNET = {
  genesisForkVersion: "0x10000038",
  fuluVersion: "0x70000038",
  gloasVersion: "0x80000038",
  genesisValidatorsRoot: "0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f",
};
export function devnetConfigYaml() {
  const v = ["10", "20", "30", "40", "50", "60", "70", "80"].map((p) => `0x${p}000038`);
  const forks = ["ALTAIR", "BELLATRIX", "CAPELLA", "DENEB", "ELECTRA", "FULU"];
  return [
    "PRESET_BASE: 'mainnet'", "CONFIG_NAME: 'gloas-devnet'", `GENESIS_FORK_VERSION: ${v[0]}`,
    ...forks.flatMap((f, i) => [`${f}_FORK_VERSION: ${v[i + 1]}`, `${f}_FORK_EPOCH: 0`]),
    `GLOAS_FORK_VERSION: ${v[7]}`, `GLOAS_FORK_EPOCH: ${GLOAS_EPOCH}`,
    "HEZE_FORK_VERSION: 0x90000038", "HEZE_FORK_EPOCH: 18446744073709551615", "",
  ].join("\n");
}

export const GLOAS_DOMAIN = {
  BEACON_PROPOSER: "0x00000000",
  BEACON_ATTESTER: "0x01000000",
  AGGREGATE_AND_PROOF: "0x06000000",
  BEACON_BUILDER: "0x0b000000",
  PTC_ATTESTER: "0x0c000000",
  PROPOSER_PREFERENCES: "0x0d000000",
  BUILDER_REQUEST_AUTH: "0x0b000001",
};

// fork_info as Lodestar sends it for a Gloas message: the fork of the slot, epoch = the slot's epoch.
export function devnetForkInfo(epoch) {
  return {
    fork: { previous_version: DEVNET.fuluVersion, current_version: DEVNET.gloasVersion, epoch: epoch.toString() },
    genesis_validators_root: DEVNET.genesisValidatorsRoot,
  };
}
const gloasDomain = (type) => computeDomain(type, DEVNET.gloasVersion, DEVNET.genesisValidatorsRoot);

export const gloasSlot = () => GLOAS_EPOCH * 32n + BigInt(randInt(2 ** 30));
const epochOf = (slot) => slot / 32n;

// Lengths that cross progressive subtree boundaries (1 | 4 | 16 | 64 leaves).
const progressiveLength = () => pick([0, 1, 2, 4, 5, 6, 20, 21, 22]);

export function randomValue(type, path = "") {
  if (type instanceof UintBigintType) return type.byteLength === 32 ? BigInt(toHex(randBytes(32))) : randU64();
  if (type instanceof UintNumberType) return pick([0, 1, randInt(1000), randInt(2 ** 32), randInt(2 ** 48 - 1)]);
  if (type instanceof BooleanType) return randInt(2) === 1;
  if (type instanceof ByteVectorType) return randBytes(type.lengthBytes);
  if (type instanceof ProgressiveByteListType) return randBytes(pick([0, 1, 31, 32, 33, 128, 129, 700]));
  if (type instanceof ByteListType) return randBytes(randInt(Math.min(type.limitBytes, 64) + 1));
  if (type instanceof BitVectorType) {
    const bytes = randBytes(Math.ceil(type.lengthBits / 8));
    if (type.lengthBits % 8) bytes[bytes.length - 1] &= (1 << (type.lengthBits % 8)) - 1;
    return type.deserialize(bytes);
  }
  if (type instanceof ProgressiveBitListType) {
    const len = pick([0, 1, 255, 256, 257, 1100, 5400]); // 5400 bits = 22 chunks
    const bytes = randBytes(Math.floor(len / 8) + 1);
    const last = bytes.length - 1;
    bytes[last] = (bytes[last] & ((1 << (len % 8)) - 1)) | (1 << (len % 8));
    return type.deserialize(bytes);
  }
  if (type instanceof ContainerType || type instanceof ProgressiveContainerType) {
    const v = {};
    for (const { fieldName, fieldType } of type.fieldsEntries) v[fieldName] = randomValue(fieldType, `${path}.${fieldName}`);
    return v;
  }
  if (type instanceof ProgressiveListCompositeType || type instanceof ProgressiveListBasicType) {
    const n = Math.min(progressiveLength(), type.limit ?? Infinity); // Lodestar bounds some (Deposits: 0)
    return Array.from({ length: n }, () => randomValue(type.elementType, path));
  }
  throw new Error(`gloas randomValue: unsupported type ${type.constructor.name} at ${path}`);
}

const G = ssz.gloas;
const wrap = (data) => ({ version: "GLOAS", data });

export const gloasBuilders = {
  EXECUTION_PAYLOAD_BID() {
    const b = randomValue(G.ExecutionPayloadBid);
    b.slot = Number(gloasSlot());
    const fi = devnetForkInfo(epochOf(BigInt(b.slot)));
    return { type: "EXECUTION_PAYLOAD_BID",
      body: { type: "EXECUTION_PAYLOAD_BID", fork_info: fi, execution_payload_bid: wrap(G.ExecutionPayloadBid.toJson(b)) },
      root: computeSigningRoot(G.ExecutionPayloadBid.hashTreeRoot(b), gloasDomain(GLOAS_DOMAIN.BEACON_BUILDER)) };
  },

  // selfBuild: the proposer's own payload, builder_index = BUILDER_INDEX_SELF_BUILD (2^64 - 1)
  EXECUTION_PAYLOAD_ENVELOPE({ selfBuild = false } = {}) {
    const env = randomValue(G.ExecutionPayloadEnvelope);
    env.payload.slotNumber = Number(gloasSlot());
    if (selfBuild) env.builderIndex = Infinity;
    const json = G.ExecutionPayloadEnvelope.toJson(env);
    if (selfBuild && json.builder_index !== "18446744073709551615") throw new Error(`self-build index ${json.builder_index}`);
    const fi = devnetForkInfo(epochOf(BigInt(env.payload.slotNumber)));
    return { type: "EXECUTION_PAYLOAD_ENVELOPE",
      body: { type: "EXECUTION_PAYLOAD_ENVELOPE", fork_info: fi, execution_payload_envelope: wrap(json) },
      root: computeSigningRoot(G.ExecutionPayloadEnvelope.hashTreeRoot(env), gloasDomain(GLOAS_DOMAIN.BEACON_BUILDER)) };
  },

  // lighthouse: type PAYLOAD_ATTESTATION with a bare payload_attestation_data
  PAYLOAD_ATTESTATION_MESSAGE({ lighthouse = false } = {}) {
    const d = randomValue(G.PayloadAttestationData);
    d.slot = Number(gloasSlot());
    const fi = devnetForkInfo(epochOf(BigInt(d.slot)));
    const json = G.PayloadAttestationData.toJson(d);
    const body = lighthouse
      ? { type: "PAYLOAD_ATTESTATION", fork_info: fi, payload_attestation_data: json }
      : { type: "PAYLOAD_ATTESTATION_MESSAGE", fork_info: fi, payload_attestation_message: wrap(json) };
    return { type: "PAYLOAD_ATTESTATION_MESSAGE", body,
      root: computeSigningRoot(G.PayloadAttestationData.hashTreeRoot(d), gloasDomain(GLOAS_DOMAIN.PTC_ATTESTER)) };
  },

  PROPOSER_PREFERENCES() {
    const p = randomValue(G.ProposerPreferences);
    p.proposalSlot = Number(gloasSlot());
    const fi = devnetForkInfo(epochOf(BigInt(p.proposalSlot)));
    return { type: "PROPOSER_PREFERENCES",
      body: { type: "PROPOSER_PREFERENCES", fork_info: fi, proposer_preferences: wrap(G.ProposerPreferences.toJson(p)) },
      root: computeSigningRoot(G.ProposerPreferences.hashTreeRoot(p), gloasDomain(GLOAS_DOMAIN.PROPOSER_PREFERENCES)) };
  },

  // builder-specs: compute_domain(DOMAIN_BUILDER_REQUEST_AUTH): genesis fork version, zero root
  BUILDER_REQUEST_AUTH({ dataLength } = {}) {
    const a = { data: randBytes(dataLength ?? pick([1, 31, 32, 33, 64, 4096])), slot: Number(gloasSlot()) };
    return { type: "BUILDER_REQUEST_AUTH",
      body: { type: "BUILDER_REQUEST_AUTH", builder_request_auth: wrap(G.BuilderRequestAuth.toJson(a)) },
      root: computeSigningRoot(G.BuilderRequestAuth.hashTreeRoot(a),
        computeDomain(GLOAS_DOMAIN.BUILDER_REQUEST_AUTH, DEVNET.genesisForkVersion, ZERO_ROOT)) };
  },

  // the Gloas block is signed as a header, as Lighthouse and Lodestar send it
  BLOCK_V2() {
    const bodyRoot = G.BeaconBlockBody.hashTreeRoot(randomValue(G.BeaconBlockBody));
    const h = { slot: Number(gloasSlot()), proposerIndex: randInt(2 ** 32), parentRoot: randBytes(32), stateRoot: randBytes(32), bodyRoot };
    const fi = devnetForkInfo(epochOf(BigInt(h.slot)));
    return { type: "BLOCK_V2",
      body: { type: "BLOCK_V2", fork_info: fi, beacon_block: { version: "GLOAS", block_header: ssz.phase0.BeaconBlockHeader.toJson(h) } },
      root: computeSigningRoot(ssz.phase0.BeaconBlockHeader.hashTreeRoot(h), gloasDomain(GLOAS_DOMAIN.BEACON_PROPOSER)) };
  },

  // index carries the payload status (0 or 1) from Gloas on
  ATTESTATION() {
    const d = randomValue(ssz.phase0.AttestationData);
    d.slot = Number(gloasSlot());
    d.index = randInt(2);
    d.target.epoch = Number(epochOf(BigInt(d.slot)));
    const fi = devnetForkInfo(BigInt(d.target.epoch));
    return { type: "ATTESTATION", body: { type: "ATTESTATION", fork_info: fi, attestation: ssz.phase0.AttestationData.toJson(d) },
      root: computeSigningRoot(ssz.phase0.AttestationData.hashTreeRoot(d), gloasDomain(GLOAS_DOMAIN.BEACON_ATTESTER)) };
  },

  // Lodestar: V2 {version: GLOAS, data}; Lighthouse/Teku: flat AGGREGATE_AND_PROOF
  AGGREGATE_AND_PROOF_V2({ flat = false } = {}) {
    const a = randomValue(G.AggregateAndProof);
    a.aggregate.data.slot = Number(gloasSlot());
    a.aggregate.data.index = randInt(2);
    const fi = devnetForkInfo(epochOf(BigInt(a.aggregate.data.slot)));
    const json = G.AggregateAndProof.toJson(a);
    const type = flat ? "AGGREGATE_AND_PROOF" : "AGGREGATE_AND_PROOF_V2";
    return { type, body: { type, fork_info: fi, aggregate_and_proof: flat ? json : wrap(json) },
      root: computeSigningRoot(G.AggregateAndProof.hashTreeRoot(a), gloasDomain(GLOAS_DOMAIN.AGGREGATE_AND_PROOF)) };
  },
};

export { toHex };
