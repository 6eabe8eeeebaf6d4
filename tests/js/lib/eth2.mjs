// Independent eth2 signing-root computation and random request generation for the end-to-end
// tests. SSZ types come from @lodestar/types (mainnet preset); roots are computed with
// @chainsafe/ssz, domains and signing roots follow consensus-specs phase0 compute_domain /
// compute_signing_root written out here, and requests follow Web3Signer's JSON (snake_case,
// uint64 as decimal strings, 0x hex).
//
// Lodestar models most uint64 fields as JS numbers (exact only below 2^53). To send and hash any
// uint64 up to 2^64-1 exactly, bigType() rebuilds a lodestar type with every uint64 as a bigint;
// the Merkle structure is unchanged, which selfCheck() asserts against the original type.

import crypto from "node:crypto";
import {
  BitListType, BitVectorType, BooleanType, ByteListType, ByteVectorType, ContainerType,
  ListBasicType, ListCompositeType, UintBigintType, UintNumberType, VectorBasicType, VectorCompositeType,
} from "@chainsafe/ssz";
import { ssz } from "@lodestar/types";

export { ssz };
import { fromHex, toHex } from "./bls.mjs";

export const U64_MAX = 2n ** 64n - 1n;
export const SLOTS_PER_EPOCH = 32n;
export const ZERO_ROOT = `0x${"00".repeat(32)}`;

// reference section 13 (mainnet); GLOAS is listed at epoch 2^64-1, i.e. unscheduled.
export const MAINNET = {
  genesisForkVersion: "0x00000000",
  genesisValidatorsRoot: "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
  forks: [
    { name: "PHASE0", key: "phase0", version: "0x00000000", epoch: 0n },
    { name: "ALTAIR", key: "altair", version: "0x01000000", epoch: 74240n },
    { name: "BELLATRIX", key: "bellatrix", version: "0x02000000", epoch: 144896n },
    { name: "CAPELLA", key: "capella", version: "0x03000000", epoch: 194048n },
    { name: "DENEB", key: "deneb", version: "0x04000000", epoch: 269568n },
    { name: "ELECTRA", key: "electra", version: "0x05000000", epoch: 364032n },
    { name: "FULU", key: "fulu", version: "0x06000000", epoch: 411392n },
  ],
};
export const FORK = Object.fromEntries(MAINNET.forks.map((f, i) => [f.name, i]));

// reference section 4
export const DOMAIN = {
  BEACON_PROPOSER: "0x00000000",
  BEACON_ATTESTER: "0x01000000",
  RANDAO: "0x02000000",
  DEPOSIT: "0x03000000",
  VOLUNTARY_EXIT: "0x04000000",
  SELECTION_PROOF: "0x05000000",
  AGGREGATE_AND_PROOF: "0x06000000",
  SYNC_COMMITTEE: "0x07000000",
  SYNC_COMMITTEE_SELECTION_PROOF: "0x08000000",
  CONTRIBUTION_AND_PROOF: "0x09000000",
  APPLICATION_BUILDER: "0x00000001",
};

// ---------- roots ----------

export function forkDataRoot(versionHex, gvrHex) {
  return ssz.phase0.ForkData.hashTreeRoot({ currentVersion: fromHex(versionHex), genesisValidatorsRoot: fromHex(gvrHex) });
}

// compute_domain = domain_type || hash_tree_root(ForkData(version, gvr))[0:28]
export function computeDomain(domainTypeHex, versionHex, gvrHex) {
  const d = new Uint8Array(32);
  d.set(fromHex(domainTypeHex), 0);
  d.set(forkDataRoot(versionHex, gvrHex).subarray(0, 28), 4);
  return d;
}

export function computeSigningRoot(objectRoot, domain) {
  return ssz.phase0.SigningData.hashTreeRoot({ objectRoot, domain });
}

export const epochOfSlot = (slot) => slot / SLOTS_PER_EPOCH;

export function forkIndexAtEpoch(epoch) {
  let idx = 0;
  MAINNET.forks.forEach((f, i) => {
    if (epoch >= f.epoch) idx = i;
  });
  return idx;
}

// A realistic fork_info for fork i: previous/current version and its activation epoch.
export function forkInfo(i) {
  const f = MAINNET.forks[i];
  const prev = i === 0 ? MAINNET.genesisForkVersion : MAINNET.forks[i - 1].version;
  return {
    fork: { previous_version: prev, current_version: f.version, epoch: f.epoch.toString() },
    genesis_validators_root: MAINNET.genesisValidatorsRoot,
  };
}

// get_domain: the fork version in force at `epoch` according to fork_info.
export function domainAt(domainType, fi, epoch) {
  const v = epoch < BigInt(fi.fork.epoch) ? fi.fork.previous_version : fi.fork.current_version;
  return computeDomain(domainType, v, fi.genesis_validators_root);
}

// ---------- bigint uint64 variants of lodestar types ----------

const bigCache = new Map();
export function bigType(type) {
  if (bigCache.has(type)) return bigCache.get(type);
  let out = type;
  if (type instanceof UintNumberType) {
    if (type.byteLength === 8) out = new UintBigintType(8);
  } else if (type instanceof ContainerType) {
    const fields = {};
    const casingMap = {};
    for (const { fieldName, fieldType, jsonKey } of type.fieldsEntries) {
      fields[fieldName] = bigType(fieldType);
      casingMap[fieldName] = jsonKey;
    }
    out = new ContainerType(fields, { typeName: type.typeName, casingMap });
  } else if (type instanceof ListCompositeType) {
    out = new ListCompositeType(bigType(type.elementType), type.limit);
  } else if (type instanceof VectorCompositeType) {
    out = new VectorCompositeType(bigType(type.elementType), type.length);
  } else if (type instanceof ListBasicType) {
    out = new ListBasicType(bigType(type.elementType), type.limit);
  } else if (type instanceof VectorBasicType) {
    out = new VectorBasicType(bigType(type.elementType), type.length);
  }
  bigCache.set(type, out);
  return out;
}

// ---------- random values ----------

export const randBytes = (n) => new Uint8Array(crypto.randomBytes(n));
export const randInt = (n) => crypto.randomInt(n); // [0, n), n <= 2^48
const rand64 = () => crypto.randomBytes(8).readBigUInt64LE(0);
export const pick = (arr) => arr[randInt(arr.length)];

// uniform in [lo, hi)
export function randRange(lo, hi) {
  return lo + (rand64() % (hi - lo));
}

// Mixed-magnitude uint64: small values, 32/53-bit boundaries, full-width values and 2^64-1.
export function randU64({ safe = false } = {}) {
  const choices = safe
    ? [() => 0n, () => 1n, () => BigInt(randInt(1000)), () => BigInt(randInt(2 ** 32)), () => BigInt(Number.MAX_SAFE_INTEGER) - BigInt(randInt(1000))]
    : [() => 0n, () => BigInt(randInt(1000)), () => BigInt(randInt(2 ** 32)), () => 2n ** 32n, () => 2n ** 53n + 1n,
      rand64, rand64, () => 2n ** 63n, () => U64_MAX - 1n, () => U64_MAX];
  return pick(choices)();
}

function randomBitlist(type, caps) {
  const max = Math.min(type.limitBits, caps.bits);
  const len = pick([0, 1, 7, 8, 9, randInt(max + 1), randInt(max + 1), max]);
  const bytes = randBytes(Math.floor(len / 8) + 1);
  const last = bytes.length - 1;
  bytes[last] = (bytes[last] & ((1 << (len % 8)) - 1)) | (1 << (len % 8)); // length delimiter bit
  return type.deserialize(bytes);
}

function randomBitvector(type) {
  const bytes = randBytes(Math.ceil(type.lengthBits / 8));
  if (type.lengthBits % 8) bytes[bytes.length - 1] &= (1 << (type.lengthBits % 8)) - 1;
  return type.deserialize(bytes);
}

/**
 * A random value of a bigType()'d SSZ type. caps bound list lengths (list), byte-list lengths
 * (bytes) and bitlist lengths (bits) to keep requests small; safe keeps uint64 below 2^53.
 */
export function randomValue(type, caps = {}) {
  const c = { list: 3, bytes: 64, bits: 2048, safe: false, ...caps };
  if (type instanceof UintBigintType) return randU64({ safe: c.safe });
  if (type instanceof UintNumberType) return randInt(2 ** Math.min(8 * type.byteLength, 32));
  if (type instanceof BooleanType) return randInt(2) === 1;
  if (type instanceof ByteVectorType) return randBytes(type.lengthBytes);
  if (type instanceof ByteListType) return randBytes(randInt(Math.min(type.limitBytes, c.bytes) + 1));
  if (type instanceof BitListType) return randomBitlist(type, c);
  if (type instanceof BitVectorType) return randomBitvector(type);
  if (type instanceof ContainerType) {
    const v = {};
    for (const { fieldName, fieldType } of type.fieldsEntries) v[fieldName] = randomValue(fieldType, c);
    return v;
  }
  if (type instanceof ListCompositeType || type instanceof ListBasicType) {
    const n = randInt(Math.min(type.limit, c.list) + 1);
    return Array.from({ length: n }, () => randomValue(type.elementType, c));
  }
  if (type instanceof VectorCompositeType || type instanceof VectorBasicType) {
    return Array.from({ length: type.length }, () => randomValue(type.elementType, c));
  }
  throw new Error(`randomValue: unsupported type ${type.typeName}`);
}

// ---------- epochs inside a fork's mainnet range ----------

const MAX_SLOT_EPOCH = U64_MAX / SLOTS_PER_EPOCH; // largest epoch whose slots all fit in uint64

export function forkEpochRange(i) {
  const lo = MAINNET.forks[i].epoch;
  const hi = i + 1 < MAINNET.forks.length ? MAINNET.forks[i + 1].epoch : MAX_SLOT_EPOCH + 1n;
  return [lo, hi]; // [lo, hi)
}

// where: "first" | "last" | "random" (random in Fulu stays below 2^40 epochs: a plausible future)
export function epochIn(i, where) {
  const [lo, hi] = forkEpochRange(i);
  if (where === "first") return lo;
  if (where === "last") return hi - 1n;
  const top = i + 1 < MAINNET.forks.length ? hi : 2n ** 40n;
  return randRange(lo, top);
}

// Mainnet's epoch at a unix time in ms (now by default): what a clock guard on this machine's time
// (or on an NSM simulator without time_offset_s) calls the current epoch. 12 s slots.
export const MAINNET_GENESIS_TIME = 1606824023n;
export function currentEpoch(nowMs = Date.now()) {
  return (BigInt(Math.floor(nowMs / 1000)) - MAINNET_GENESIS_TIME) / (12n * SLOTS_PER_EPOCH);
}

export function slotIn(epoch) {
  return epoch * SLOTS_PER_EPOCH + BigInt(randInt(32));
}

// ---------- signing cases ----------
// Each builder returns {type, body (request JSON without signing root), root (expected signing root)}.

function rootOf(type, value) {
  return type.hashTreeRoot(value);
}

const T = {
  phase0Block: bigType(ssz.phase0.BeaconBlock),
  altairBlock: bigType(ssz.altair.BeaconBlock),
  header: bigType(ssz.phase0.BeaconBlockHeader),
  attData: bigType(ssz.phase0.AttestationData),
  aapPhase0: bigType(ssz.phase0.AggregateAndProof),
  aapElectra: bigType(ssz.electra.AggregateAndProof),
  exit: bigType(ssz.phase0.VoluntaryExit),
  depositMessage: bigType(ssz.phase0.DepositMessage),
  registration: bigType(ssz.bellatrix.ValidatorRegistrationV1),
  selectionData: bigType(ssz.altair.SyncAggregatorSelectionData),
  contribution: bigType(ssz.altair.ContributionAndProof),
  u64: ssz.UintBn64,
  root: ssz.Root,
};
export const TYPES = T;

const blockCaps = { list: 3, bits: 600 };

export const builders = {
  // legacy BLOCK: phase0 body only
  BLOCK(i, epoch) {
    const fi = forkInfo(i);
    const b = randomValue(T.phase0Block, blockCaps);
    b.slot = slotIn(epoch);
    return { type: "BLOCK", body: { type: "BLOCK", fork_info: fi, block: T.phase0Block.toJson(b) },
      root: computeSigningRoot(rootOf(T.phase0Block, b), domainAt(DOMAIN.BEACON_PROPOSER, fi, epochOfSlot(b.slot))) };
  },

  BLOCK_V2(i, epoch) {
    const fi = forkInfo(i);
    const name = MAINNET.forks[i].name;
    const slot = slotIn(epoch);
    const domain = domainAt(DOMAIN.BEACON_PROPOSER, fi, epochOfSlot(slot));
    if (i <= FORK.ALTAIR) {
      const bt = i === FORK.PHASE0 ? T.phase0Block : T.altairBlock;
      const b = randomValue(bt, blockCaps);
      b.slot = slot;
      return { type: "BLOCK_V2", body: { type: "BLOCK_V2", fork_info: fi, beacon_block: { version: name, block: bt.toJson(b) } },
        root: computeSigningRoot(rootOf(bt, b), domain) };
    }
    // Bellatrix+: the VC sends the header; body_root is the root of a random body of that fork.
    const bodyType = bigType(ssz[MAINNET.forks[i].key].BeaconBlockBody);
    const h = randomValue(T.header);
    h.slot = slot;
    h.bodyRoot = rootOf(bodyType, randomValue(bodyType, blockCaps));
    return { type: "BLOCK_V2", body: { type: "BLOCK_V2", fork_info: fi, beacon_block: { version: name, block_header: T.header.toJson(h) } },
      root: computeSigningRoot(rootOf(T.header, h), domain) };
  },

  // domain epoch is target.epoch, not epoch(slot)
  ATTESTATION(i, epoch, { fi = forkInfo(i), sourceEpoch } = {}) {
    const d = randomValue(T.attData);
    d.slot = slotIn(epoch);
    d.target.epoch = epoch;
    if (sourceEpoch !== undefined) d.source.epoch = sourceEpoch;
    return { type: "ATTESTATION", body: { type: "ATTESTATION", fork_info: fi, attestation: T.attData.toJson(d) },
      root: computeSigningRoot(rootOf(T.attData, d), domainAt(DOMAIN.BEACON_ATTESTER, fi, epoch)) };
  },

  AGGREGATION_SLOT(i, epoch, { fi = forkInfo(i) } = {}) {
    const slot = slotIn(epoch);
    return { type: "AGGREGATION_SLOT", body: { type: "AGGREGATION_SLOT", fork_info: fi, aggregation_slot: { slot: slot.toString() } },
      root: computeSigningRoot(T.u64.hashTreeRoot(slot), domainAt(DOMAIN.SELECTION_PROOF, fi, epochOfSlot(slot))) };
  },

  AGGREGATE_AND_PROOF(i, epoch, { v2 = false } = {}) {
    const fi = forkInfo(i);
    const at = i >= FORK.ELECTRA ? T.aapElectra : T.aapPhase0;
    const a = randomValue(at, { bits: i >= FORK.ELECTRA ? 4096 : 2048 });
    a.aggregate.data.slot = slotIn(epoch);
    a.aggregate.data.target.epoch = epoch;
    const json = at.toJson(a);
    const type = v2 ? "AGGREGATE_AND_PROOF_V2" : "AGGREGATE_AND_PROOF";
    const obj = v2 ? { version: MAINNET.forks[i].name, data: json } : json;
    return { type, body: { type, fork_info: fi, aggregate_and_proof: obj },
      root: computeSigningRoot(rootOf(at, a), domainAt(DOMAIN.AGGREGATE_AND_PROOF, fi, epochOfSlot(a.aggregate.data.slot))) };
  },

  AGGREGATE_AND_PROOF_V2(i, epoch) {
    return builders.AGGREGATE_AND_PROOF(i, epoch, { v2: true });
  },

  RANDAO_REVEAL(i, epoch, { fi = forkInfo(i) } = {}) {
    return { type: "RANDAO_REVEAL", body: { type: "RANDAO_REVEAL", fork_info: fi, randao_reveal: { epoch: epoch.toString() } },
      root: computeSigningRoot(T.u64.hashTreeRoot(epoch), domainAt(DOMAIN.RANDAO, fi, epoch)) };
  },

  // EIP-7044: an exit whose epoch is Deneb or later (mainnet milestones) is signed with the Capella
  // version whatever fork_info says.
  VOLUNTARY_EXIT(i, epoch, { fi = forkInfo(i) } = {}) {
    const e = { epoch, validatorIndex: randU64() };
    const domain = forkIndexAtEpoch(epoch) >= FORK.DENEB
      ? computeDomain(DOMAIN.VOLUNTARY_EXIT, MAINNET.forks[FORK.CAPELLA].version, fi.genesis_validators_root)
      : domainAt(DOMAIN.VOLUNTARY_EXIT, fi, epoch);
    return { type: "VOLUNTARY_EXIT", body: { type: "VOLUNTARY_EXIT", fork_info: fi, voluntary_exit: T.exit.toJson(e) },
      root: computeSigningRoot(rootOf(T.exit, e), domain) };
  },

  SYNC_COMMITTEE_MESSAGE(i, epoch, { fi = forkInfo(i) } = {}) {
    const slot = slotIn(epoch);
    const bbr = randBytes(32);
    return { type: "SYNC_COMMITTEE_MESSAGE",
      body: { type: "SYNC_COMMITTEE_MESSAGE", fork_info: fi, sync_committee_message: { beacon_block_root: toHex(bbr), slot: slot.toString() } },
      root: computeSigningRoot(T.root.hashTreeRoot(bbr), domainAt(DOMAIN.SYNC_COMMITTEE, fi, epochOfSlot(slot))) };
  },

  SYNC_COMMITTEE_SELECTION_PROOF(i, epoch) {
    const fi = forkInfo(i);
    const s = { slot: slotIn(epoch), subcommitteeIndex: randU64() };
    return { type: "SYNC_COMMITTEE_SELECTION_PROOF",
      body: { type: "SYNC_COMMITTEE_SELECTION_PROOF", fork_info: fi, sync_aggregator_selection_data: T.selectionData.toJson(s) },
      root: computeSigningRoot(rootOf(T.selectionData, s), domainAt(DOMAIN.SYNC_COMMITTEE_SELECTION_PROOF, fi, epochOfSlot(s.slot))) };
  },

  SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF(i, epoch) {
    const fi = forkInfo(i);
    const c = randomValue(T.contribution);
    c.contribution.slot = slotIn(epoch);
    return { type: "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF",
      body: { type: "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF", fork_info: fi, contribution_and_proof: T.contribution.toJson(c) },
      root: computeSigningRoot(rootOf(T.contribution, c), domainAt(DOMAIN.CONTRIBUTION_AND_PROOF, fi, epochOfSlot(c.contribution.slot))) };
  },

  // no fork_info; genesis fork version from the request, zero genesis_validators_root
  DEPOSIT(key, { genesisForkVersion = MAINNET.genesisForkVersion } = {}) {
    const m = randomValue(T.depositMessage);
    m.pubkey = key.pk;
    return { type: "DEPOSIT",
      body: { type: "DEPOSIT", deposit: { ...T.depositMessage.toJson(m), genesis_fork_version: genesisForkVersion } },
      root: computeSigningRoot(rootOf(T.depositMessage, m), computeDomain(DOMAIN.DEPOSIT, genesisForkVersion, ZERO_ROOT)) };
  },

  // no fork_info; mainnet GENESIS_FORK_VERSION, zero genesis_validators_root
  VALIDATOR_REGISTRATION(key, { lowerCaseAddress = false } = {}) {
    const r = randomValue(T.registration);
    r.pubkey = key.pk;
    const json = T.registration.toJson(r); // fee_recipient is EIP-55 mixed case, as Lodestar sends it
    if (lowerCaseAddress) json.fee_recipient = json.fee_recipient.toLowerCase();
    return { type: "VALIDATOR_REGISTRATION", body: { type: "VALIDATOR_REGISTRATION", validator_registration: json },
      root: computeSigningRoot(rootOf(T.registration, r), computeDomain(DOMAIN.APPLICATION_BUILDER, MAINNET.genesisForkVersion, ZERO_ROOT)) };
  },
};

// Which signing types apply at fork i (BLOCK is phase0-only; sync committee types start at Altair).
export function typesForFork(i) {
  const types = ["BLOCK_V2", "ATTESTATION", "AGGREGATION_SLOT", "AGGREGATE_AND_PROOF", "AGGREGATE_AND_PROOF_V2",
    "RANDAO_REVEAL", "VOLUNTARY_EXIT"];
  if (i === FORK.PHASE0) types.unshift("BLOCK");
  if (i >= FORK.ALTAIR) types.push("SYNC_COMMITTEE_MESSAGE", "SYNC_COMMITTEE_SELECTION_PROOF", "SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF");
  return types;
}

// ---------- self-check of this reference implementation ----------

/**
 * Known values from reference section 14 and 5.6/5.7/5.9, plus structural checks of bigType().
 * Returns a list of problems (empty = fine).
 */
export function selfCheck() {
  const problems = [];
  const expect = (got, want, what) => {
    if (got !== want) problems.push(`${what}: got ${got}, want ${want}`);
  };
  const gvr = "0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673";
  expect(toHex(forkDataRoot("0x00000001", gvr)), "0xe7a75d5a9f3f331a669f33fe87d35b0735dce47180b272ed244e305327eb2aa8", "ForkData root (ref 14)");
  const fi = { fork: { previous_version: "0x00000001", current_version: "0x00000001", epoch: "1" }, genesis_validators_root: gvr };
  expect(toHex(builders.RANDAO_REVEAL(0, 3n, { fi }).root), "0x3d047c51a8b03630781dc4c5519c17f7de87174246ff2deed0f195c6c775f91e", "RANDAO_REVEAL epoch 3 signing root (ref 14)");
  expect(toHex(computeDomain(DOMAIN.RANDAO, "0x00000001", gvr)), "0x02000000e7a75d5a9f3f331a669f33fe87d35b0735dce47180b272ed244e3053", "RANDAO domain (ref 14)");
  expect(toHex(computeDomain(DOMAIN.DEPOSIT, "0x00000000", ZERO_ROOT)), "0x03000000f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9", "mainnet deposit domain (ref 5.6)");
  expect(toHex(computeDomain(DOMAIN.APPLICATION_BUILDER, "0x00000000", ZERO_ROOT)), "0x00000001f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9", "mainnet builder domain (ref 5.9)");
  expect(toHex(computeDomain(DOMAIN.VOLUNTARY_EXIT, "0x03000000", MAINNET.genesisValidatorsRoot)), "0x04000000bba4da96354c9f25476cf1bc69bf583a7f9e0af049305b62de676640", "mainnet post-Deneb exit domain (ref 5.7)");

  // bigType() must hash exactly like the lodestar type it was derived from.
  const pairs = [
    [ssz.phase0.BeaconBlock, T.phase0Block], [ssz.altair.BeaconBlock, T.altairBlock], [ssz.electra.AggregateAndProof, T.aapElectra],
    [ssz.altair.ContributionAndProof, T.contribution], [ssz.bellatrix.ValidatorRegistrationV1, T.registration],
    [ssz.deneb.BeaconBlockBody, bigType(ssz.deneb.BeaconBlockBody)], [ssz.fulu.BeaconBlockBody, bigType(ssz.fulu.BeaconBlockBody)],
  ];
  for (const [orig, big] of pairs) {
    const v = randomValue(big, { safe: true, list: 2, bits: 300 });
    const json = big.toJson(v);
    expect(toHex(orig.hashTreeRoot(orig.fromJson(json))), toHex(big.hashTreeRoot(v)), `bigType(${orig.typeName}) root`);
    expect(JSON.stringify(orig.toJson(orig.fromJson(json))), JSON.stringify(json), `bigType(${orig.typeName}) JSON`);
  }
  // uint64 above 2^53 survives JSON and hashing exactly
  expect(toHex(T.u64.hashTreeRoot(U64_MAX)), `0x${"ff".repeat(8)}${"00".repeat(24)}`, "uint64 2^64-1 root");
  // A header signs the same root as its full block.
  const b = randomValue(T.altairBlock, { list: 2, bits: 300 });
  const h = { slot: b.slot, proposerIndex: b.proposerIndex, parentRoot: b.parentRoot, stateRoot: b.stateRoot,
    bodyRoot: bigType(ssz.altair.BeaconBlockBody).hashTreeRoot(b.body) };
  expect(toHex(T.header.hashTreeRoot(h)), toHex(T.altairBlock.hashTreeRoot(b)), "header root == block root");
  return problems;
}
