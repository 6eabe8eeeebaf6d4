// End-to-end cross-check of nitro-signer against independent implementations: for every signing
// type and every mainnet fork where it applies, random SSZ objects (lodestar types) are sent as
// Web3Signer JSON; the expected signing root is computed here (consensus-specs formulas), and the
// signer's signature must verify with @noble/curves and equal noble's own (deterministic) signature.
// Also: signing-root mismatch, Accept rules, lower-case type, unknown fields, publicKeys, and the
// slashing-protection refusal on a second instance started without --slashing-protection-enabled=false.
// Gloas: a third instance serves a Gloas devnet config file (--network=PATH.yaml); every Gloas type
// and the Gloas versions of BLOCK_V2, ATTESTATION and the aggregates are cross-checked against
// Lodestar's (progressive) gloas SSZ types, and bad Gloas input must be 400 naming the field.
//
// Run by ctest as `node test_crosscheck.mjs` with NS_BIN_DIR; needs `npm ci --ignore-scripts` in tests/js.

import { Harness, pool } from "../js/lib/harness.mjs";
import { blsSelfCheck, fromHex, makeKeys, sign, toHex, verify, verifyAll } from "../js/lib/bls.mjs";
import {
  FORK, MAINNET, builders, epochIn, forkIndexAtEpoch, forkInfo, randBytes, selfCheck, typesForFork,
} from "../js/lib/eth2.mjs";
import { errorMessage, makeTempDir, signatureFrom, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";
import { devnetConfigYaml, gloasBuilders } from "../js/lib/gloas.mjs";
import fs from "node:fs";
import path from "node:path";

const h = new Harness("crosscheck");
async function main() {
  // A broken reference implementation must fail loudly before anything is compared with it.
  const problems = [...blsSelfCheck(), ...selfCheck()];
  for (const p of problems) h.ok(false, `reference self-check: ${p}`);
  if (problems.length) h.finish("reference implementation broken; nothing compared");

  const keys = makeKeys(3);
  const keyDir = makeTempDir("ns-keys-");
  writeKeyConfigs(keyDir, keys);
  const signer = await startSigner({ keyStorePath: keyDir, eth2Args: ["--slashing-protection-enabled=false"], name: "signer (slashing off)" });

  await checkEndpoints(signer, keys);
  const verified = await checkAllTypes(signer, keys);
  const extra = await checkRequestRules(signer, keys);
  h.ok(signer.alive(), "signer still running after the cross-check", signer.log.slice(-2000));
  await signer.stop();

  const slashing = await checkSlashingRefusal(keyDir, keys);
  const gloas = await checkGloas(keyDir, keys);
  h.finish(`${verified + extra + slashing + gloas} signatures verified`);
}

async function checkEndpoints(signer, keys) {
  const up = await signer.get("/upcheck");
  h.ok(up.status === 200 && up.body === "OK", "GET /upcheck -> 200 OK", { status: up.status, body: up.body });

  const hc = await signer.get("/healthcheck");
  let hcJson = null;
  try {
    hcJson = JSON.parse(hc.body);
  } catch { /* reported below */ }
  h.ok(hc.status === 200 && hcJson && hcJson.status === "UP", "GET /healthcheck -> 200 {status: UP}", { status: hc.status, body: hc.body.slice(0, 500) });

  const pk = await signer.get("/api/v1/eth2/publicKeys", { Accept: "application/json" });
  let list = null;
  try {
    list = JSON.parse(pk.body);
  } catch { /* reported below */ }
  h.ok(pk.status === 200 && /^application\/json/i.test(pk.headers["content-type"] || ""), "GET publicKeys -> 200 application/json", { status: pk.status, ct: pk.headers["content-type"] });
  h.eq(Array.isArray(list) ? [...list].sort() : list, keys.map((k) => k.pkHex).sort(), "publicKeys lists exactly the generated keys (lower-case 0x)");
}

// Builds every (type, fork, epoch) case, signs them all through the signer, and cross-checks.
async function checkAllTypes(signer, keys) {
  const cases = [];
  for (let i = 0; i < MAINNET.forks.length; i++) {
    const fork = MAINNET.forks[i].name;
    for (const where of ["first", "last", "random"]) {
      const epoch = epochIn(i, where);
      for (const type of typesForFork(i)) cases.push({ label: `${type} ${fork} ${where} epoch ${epoch}`, ...builders[type](i, epoch) });
    }
    if (i > 0) {
      // At a fork boundary a VC may sign for the last epoch before the fork with the new fork_info:
      // the previous_version applies.
      const epoch = MAINNET.forks[i].epoch - 1n;
      const types = ["RANDAO_REVEAL", "ATTESTATION", "AGGREGATION_SLOT", "VOLUNTARY_EXIT"];
      if (forkIndexAtEpoch(epoch) >= FORK.ALTAIR) types.push("SYNC_COMMITTEE_MESSAGE");
      for (const type of types) cases.push({ label: `${type} ${fork} fork_info, epoch ${epoch} (previous_version)`, ...builders[type](i, epoch) });
    }
  }
  // EIP-7044 as Lodestar sends it: a Deneb-era exit with the Capella fork in fork_info.
  for (const i of [FORK.DENEB, FORK.ELECTRA, FORK.FULU]) {
    const epoch = epochIn(i, "random");
    cases.push({ label: `VOLUNTARY_EXIT ${MAINNET.forks[i].name} epoch ${epoch} with CAPELLA fork_info`, ...builders.VOLUNTARY_EXIT(i, epoch, { fi: forkInfo(FORK.CAPELLA) }) });
  }
  keys.forEach((key, j) => {
    const gfv = ["0x00000000", "0x00000000", toHex(randBytes(4))][j % 3];
    cases.push({ label: `DEPOSIT genesis_fork_version ${gfv}`, key, ...builders.DEPOSIT(key, { genesisForkVersion: gfv }) });
    cases.push({ label: "VALIDATOR_REGISTRATION (EIP-55 fee_recipient)", key, ...builders.VALIDATOR_REGISTRATION(key) });
    cases.push({ label: "VALIDATOR_REGISTRATION (lower-case fee_recipient)", key, ...builders.VALIDATOR_REGISTRATION(key, { lowerCaseAddress: true }) });
  });

  // Vary what real VCs vary: root key absent / signingRoot / signing_root; JSON or text replies.
  cases.forEach((c, n) => {
    c.key = c.key || keys[n % keys.length];
    if (n % 3 === 1) c.body.signingRoot = toHex(c.root);
    if (n % 3 === 2) c.body.signing_root = toHex(c.root);
    c.accept = n % 2 === 0 ? "application/json" : null;
  });

  const results = await pool(cases, 8, (c) => signer.sign(c.key.pkHex, c.body, { accept: c.accept }));
  const good = [];
  cases.forEach((c, n) => {
    const { sig, problem } = signatureFrom(results[n], c.accept !== null);
    if (!h.ok(!problem, `${c.label}: signed`, problem)) return;
    const want = toHex(sign(c.key.sk, c.root));
    if (h.ok(sig === want, `${c.label}: signature equals noble's signature of the expected root ${toHex(c.root)}`, { got: sig, want })) {
      good.push({ sig: fromHex(sig), message: c.root, pk: c.key.pk, c });
    }
  });
  const byType = new Set(cases.map((c) => c.type));
  h.ok(byType.size === 13, "all 13 signing types exercised", [...byType]);

  if (!verifyAll(good)) {
    for (const g of good) h.ok(verify(g.sig, g.message, g.pk), `${g.c.label}: signature verifies (noble)`);
  } else {
    h.ok(true, "batch verification");
  }
  return good.length;
}

// One RANDAO request, re-sent with variations of the request envelope.
async function checkRequestRules(signer, keys) {
  const key = keys[0];
  const i = FORK.ELECTRA;
  let count = 0;
  const expectSigned = (res, root, expectJson, what) => {
    const { sig, problem } = signatureFrom(res, expectJson);
    if (!h.ok(!problem, what, problem)) return;
    if (h.ok(sig === toHex(sign(key.sk, root)) && verify(fromHex(sig), root, key.pk), `${what}: correct signature`)) count++;
  };

  // a signing root that is not the computed one is refused
  const c = builders.RANDAO_REVEAL(i, epochIn(i, "random"));
  const wrong = await signer.sign(key.pkHex, { ...c.body, signingRoot: toHex(randBytes(32)) });
  h.ok(wrong.status === 400, "wrong signingRoot -> 400", { status: wrong.status, body: wrong.body.slice(0, 300) });
  const msg = errorMessage(wrong);
  h.ok(msg !== null && /signing.?root/i.test(msg), "wrong signingRoot: error JSON names the signing root", wrong.body.slice(0, 300));
  const wrong2 = await signer.sign(key.pkHex, { ...c.body, signing_root: toHex(randBytes(32)) });
  h.ok(wrong2.status === 400, "wrong signing_root -> 400", { status: wrong2.status, body: wrong2.body.slice(0, 300) });

  // the Accept rule (reference 3.3): JSON iff some range is application/json or */*, q ignored
  const acceptCases = [
    [null, false], ["application/json", true], ["application/json;q=0", true], ["text/*", false], ["*/*", true],
    ["text/plain", false], ["application/*", false], ["text/plain, application/json;q=0.1", true],
    ["text/html;q=0.9, */*;q=0.8", true], ["Application/JSON; charset=utf-8", true],
  ];
  for (const [accept, json] of acceptCases) {
    const res = await signer.sign(key.pkHex, c.body, { accept });
    expectSigned(res, c.root, json, `Accept ${accept === null ? "(none)" : JSON.stringify(accept)} -> ${json ? "JSON" : "text/plain"}`);
  }

  // type is case-insensitive
  for (const [type, build] of [["randao_reveal", () => builders.RANDAO_REVEAL(i, epochIn(i, "random"))],
    ["Attestation", () => builders.ATTESTATION(i, epochIn(i, "random"))],
    ["sync_committee_message", () => builders.SYNC_COMMITTEE_MESSAGE(i, epochIn(i, "random"))]]) {
    const b = build();
    const res = await signer.sign(key.pkHex, { ...b.body, type });
    expectSigned(res, b.root, true, `type "${type}" accepted`);
  }

  // unknown fields are ignored at every level
  const u = builders.AGGREGATE_AND_PROOF(i, epochIn(i, "random"));
  const body = structuredClone(u.body);
  body.future_field = { nested: [1, "two", { three: null }], deep: { deeper: [true, false] } };
  body.fork_info.extra = "x";
  body.fork_info.fork.extra = 1;
  body.aggregate_and_proof.extra = [];
  body.aggregate_and_proof.aggregate.data.extra = { a: "b" };
  expectSigned(await signer.sign(key.pkHex, body), u.root, true, "unknown fields ignored (AGGREGATE_AND_PROOF)");
  const r = builders.VALIDATOR_REGISTRATION(key);
  expectSigned(await signer.sign(key.pkHex, { ...r.body, meta: { client: "test" }, validator_registration: { ...r.body.validator_registration, unknown: "0x00" } }),
    r.root, true, "unknown fields ignored (VALIDATOR_REGISTRATION)");

  // Content-Type with parameters is still JSON
  expectSigned(await signer.sign(key.pkHex, c.body, { contentType: "application/json; charset=utf-8" }), c.root, true, "Content-Type application/json; charset=utf-8 accepted");
  return count;
}

// Without --slashing-protection-enabled=false, BLOCK/BLOCK_V2/ATTESTATION go through slashing
// protection: a first vote or proposal is signed (and recorded), a double vote / double proposal
// is refused with 412 and a reason code.
async function checkSlashingRefusal(keyDir, keys) {
  const signer = await startSigner({ keyStorePath: keyDir, name: "signer (slashing on)" });
  const key = keys[1];
  const i = FORK.FULU;
  let count = 0;
  const refusedOrSigned = async (c, what) => {
    const res = await signer.sign(key.pkHex, { ...c.body, signingRoot: toHex(c.root) });
    const { sig, problem } = signatureFrom(res, true);
    if (h.ok(!problem, `${what}: signed`, problem)
      && h.ok(sig === toHex(sign(key.sk, c.root)), `${what}: correct signature`)) count++;
  };
  const mustRefuse = async (c, what, wantReason) => {
    const res = await signer.sign(c.pk || key.pkHex, c.body);
    h.ok(res.status === 412, `${what} -> 412`, { status: res.status, body: res.body.slice(0, 300) });
    if (res.status === 412) {
      h.ok(errorMessage(res) !== null, `${what}: 412 carries error JSON`, res.body.slice(0, 300));
      let reason = null;
      try { reason = JSON.parse(res.body).reason; } catch { /* checked below */ }
      h.ok(reason === wantReason, `${what}: reason ${wantReason}`, res.body.slice(0, 300));
    }
  };

  const epoch = epochIn(i, "random");
  // a realistic vote: source one epoch before target
  const att = builders.ATTESTATION(i, epoch, { sourceEpoch: epoch - 1n });
  await refusedOrSigned(att, "ATTESTATION with slashing protection on");
  const double = structuredClone(att.body);
  double.attestation.beacon_block_root = toHex(randBytes(32));
  await mustRefuse({ body: double }, "double vote (same target, other block root)", "double_vote");

  const blk = builders.BLOCK_V2(i, epoch);
  await refusedOrSigned(blk, "BLOCK_V2 with slashing protection on");
  const double2 = structuredClone(blk.body);
  double2.beacon_block.block_header.body_root = toHex(randBytes(32));
  await mustRefuse({ body: double2 }, "double proposal (same slot, other body)", "double_proposal");

  // a phase0 block is older than the Fulu block above: on the same key it would be below the
  // low watermark, so it goes to a key with no history
  const p0 = builders.BLOCK(FORK.PHASE0, epochIn(FORK.PHASE0, "last"));
  const res0 = await signer.sign(keys[2].pkHex, p0.body);
  const got0 = signatureFrom(res0, true);
  if (h.ok(!got0.problem, "BLOCK (phase0) with slashing protection on: signed", got0.problem)
    && h.ok(got0.sig === toHex(sign(keys[2].sk, p0.root)), "BLOCK (phase0): correct signature")) count++;
  const lower = builders.BLOCK(FORK.PHASE0, 0n);
  await mustRefuse({ body: lower.body, pk: keys[2].pkHex }, "BLOCK below the key's first recorded slot", "below_low_watermark");

  // types outside slashing protection still sign
  for (const type of ["RANDAO_REVEAL", "AGGREGATE_AND_PROOF_V2", "SYNC_COMMITTEE_MESSAGE"]) {
    const c = builders[type](i, epochIn(i, "random"));
    const { sig, problem } = signatureFrom(await signer.sign(key.pkHex, c.body), true);
    if (h.ok(!problem, `${type} with slashing protection on: signed`, problem)
      && h.ok(sig === toHex(sign(key.sk, c.root)), `${type} with slashing protection on: correct signature`)) count++;
  }
  h.ok(signer.alive(), "signer (slashing on) still running", signer.log.slice(-2000));
  await signer.stop();
  return count;
}

// A Gloas devnet from a config file: each Gloas type several times (random progressive lengths),
// plus the shapes clients still differ on, and bad input answered 400 naming the field.
async function checkGloas(keyDir, keys) {
  const dir = makeTempDir("ns-gloas-");
  const config = path.join(dir, "gloas-devnet.yaml");
  fs.writeFileSync(config, devnetConfigYaml());
  const signer = await startSigner({ keyStorePath: keyDir, network: config, eth2Args: ["--slashing-protection-enabled=false"], name: "signer (gloas devnet)" });
  const cases = [];
  for (let n = 0; n < 6; n++) {
    for (const [type, build] of Object.entries(gloasBuilders)) cases.push({ label: `${type} (GLOAS) #${n}`, ...build() });
  }
  cases.push({ label: "EXECUTION_PAYLOAD_ENVELOPE self-build (builder_index 2^64-1)", ...gloasBuilders.EXECUTION_PAYLOAD_ENVELOPE({ selfBuild: true }) });
  cases.push({ label: "PAYLOAD_ATTESTATION as Lighthouse sends it (bare payload_attestation_data)", ...gloasBuilders.PAYLOAD_ATTESTATION_MESSAGE({ lighthouse: true }) });
  cases.push({ label: "AGGREGATE_AND_PROOF flat at a Gloas slot", ...gloasBuilders.AGGREGATE_AND_PROOF_V2({ flat: true }) });
  cases.push({ label: "BUILDER_REQUEST_AUTH with 4096 bytes of data", ...gloasBuilders.BUILDER_REQUEST_AUTH({ dataLength: 4096 }) });
  cases.forEach((c, n) => {
    c.key = keys[n % keys.length];
    if (n % 2 === 1) c.body.signingRoot = toHex(c.root);
  });
  const results = await pool(cases, 8, (c) => signer.sign(c.key.pkHex, c.body, { accept: "application/json" }));
  let count = 0;
  cases.forEach((c, n) => {
    const { sig, problem } = signatureFrom(results[n], true);
    if (!h.ok(!problem, `${c.label}: signed`, problem)) return;
    if (h.ok(sig === toHex(sign(c.key.sk, c.root)) && verify(fromHex(sig), c.root, c.key.pk),
      `${c.label}: signature over Lodestar's signing root ${toHex(c.root)}`, { got: sig })) count++;
  });

  const key = keys[0];
  const bad = [];
  const bid = gloasBuilders.EXECUTION_PAYLOAD_BID().body;
  bid.execution_payload_bid.version = "FULU";
  bad.push(["wrong version for the epoch", bid, "execution_payload_bid.version"]);
  const early = gloasBuilders.PROPOSER_PREFERENCES().body;
  early.proposer_preferences.data.proposal_slot = "300"; // epoch 9: Fulu on the devnet
  bad.push(["message at a Fulu slot", early, "proposer_preferences.data.proposal_slot"]);
  const fulu = gloasBuilders.EXECUTION_PAYLOAD_ENVELOPE().body;
  delete fulu.execution_payload_envelope.data.payload.block_access_list; // a Fulu payload
  bad.push(["Fulu payload in a Gloas envelope", fulu, "execution_payload_envelope.data.payload.block_access_list"]);
  const auth = gloasBuilders.BUILDER_REQUEST_AUTH().body;
  auth.builder_request_auth.data.data = `0x${"ab".repeat(4097)}`;
  bad.push(["oversized auth data", auth, "builder_request_auth.data.data"]);
  const att = gloasBuilders.ATTESTATION().body;
  att.attestation.index = "2";
  bad.push(["attestation index beyond the payload status", att, "attestation.index"]);
  const blk = gloasBuilders.BLOCK_V2().body;
  blk.beacon_block.version = "FULU";
  bad.push(["Fulu block version at a Gloas slot", blk, "beacon_block.version"]);
  for (const [what, body, field] of bad) {
    const res = await signer.sign(key.pkHex, body);
    const msg = errorMessage(res);
    h.ok(res.status === 400 && msg !== null && msg.startsWith(field), `Gloas bad input (${what}) -> 400 naming ${field}`, { status: res.status, body: res.body.slice(0, 300) });
  }
  h.ok(signer.alive(), "signer (gloas devnet) still running", signer.log.slice(-2000));
  await signer.stop();
  return count;
}

await Harness.run(h, main);
