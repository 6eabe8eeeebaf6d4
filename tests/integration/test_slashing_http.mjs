// End-to-end slashing protection over HTTP, with requests racing each other: the real signer with a
// temp SQLite database, many concurrent requests on separate connections (the engine decides them
// in one group commit or several, in some order we do not control), and the outcome judged with
// the consensus-spec rules written out here, not with the engine's own:
//   (a) 20 attestations for one (source, target) with different beacon_block_roots -> exactly one
//       200, 19 x 412 double_vote; the signature verifies (noble) for the winner's signing root;
//   (b) votes that pairwise surround or double-vote each other -> exactly one 200; a random window
//       of votes -> the signed set is mutually non-slashable and every refusal is justified by a
//       signed vote (or the low watermark) with the reason it names;
//   (c) BLOCK_V2 (Fulu block_header) at one slot with 20 body_roots -> exactly one 200;
//   (d) an exact repeat of a winner -> 200 with the same signature; a loser stays 412;
//   (e) after stopping the signer, `eth2 export` holds every signed root and no refused one;
//   (f) a request for an unknown key is 404 and leaves no record (its pubkey is not exported).
//
// Run by ctest as `node test_slashing_http.mjs` with NS_BIN_DIR.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { fromHex, makeKeys, sign, toHex, verify } from "../js/lib/bls.mjs";
import { DOMAIN, FORK, MAINNET, TYPES, computeSigningRoot, domainAt, epochOfSlot, forkInfo, randBytes, randInt } from "../js/lib/eth2.mjs";
import { makeTempDir, signatureFrom, signerBinary, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("slashing_http");
const FI = forkInfo(FORK.FULU);
const BASE = 420_000n; // a Fulu epoch

// An ATTESTATION request for (source, target) with the given beacon_block_root; root is the
// signing root lodestar's AttestationData and the spec's compute_signing_root give.
function attestation(source, target, bbr = randBytes(32)) {
  const d = {
    slot: target * 32n + 5n, index: 0n, beaconBlockRoot: bbr,
    source: { epoch: source, root: new Uint8Array(32).fill(0x11) },
    target: { epoch: target, root: new Uint8Array(32).fill(0x22) },
  };
  const root = computeSigningRoot(TYPES.attData.hashTreeRoot(d), domainAt(DOMAIN.BEACON_ATTESTER, FI, target));
  return { source, target, root, rootHex: toHex(root),
    body: { type: "ATTESTATION", fork_info: FI, attestation: TYPES.attData.toJson(d) } };
}

// A BLOCK_V2 request (Bellatrix+ form: the block header) at slot with the given body_root.
function blockV2(slot, bodyRoot = randBytes(32)) {
  const hd = { slot, proposerIndex: 7n, parentRoot: new Uint8Array(32).fill(0x33), stateRoot: new Uint8Array(32).fill(0x44), bodyRoot };
  const root = computeSigningRoot(TYPES.header.hashTreeRoot(hd), domainAt(DOMAIN.BEACON_PROPOSER, FI, epochOfSlot(slot)));
  return { slot, root, rootHex: toHex(root),
    body: { type: "BLOCK_V2", fork_info: FI, beacon_block: { version: "FULU", block_header: TYPES.header.toJson(hd) } } };
}

// consensus-specs is_slashable_attestation_data, on (source, target, signing root): distinct
// messages for one target, or one vote surrounding the other.
function slashable(a, b) {
  if (a.rootHex === b.rootHex) return false;
  if (a.target === b.target) return true;
  return (a.source < b.source && b.target < a.target) || (b.source < a.source && a.target < b.target);
}

function reasonOf(res) {
  try {
    return JSON.parse(res.body).reason;
  } catch {
    return undefined;
  }
}

// Sends every request at once, each on its own connection; returns [{req, res}] in input order.
async function race(signer, key, reqs) {
  const out = await Promise.all(reqs.map((r) => signer.sign(key.pkHex, r.body, { timeoutMs: 20_000 })));
  return reqs.map((req, i) => ({ req, res: out[i] }));
}

// The one winner of a race in which every pair conflicts; checks the losers' reason.
function oneWinner(results, key, reason, what) {
  const won = results.filter((r) => r.res.status === 200);
  const lost = results.filter((r) => r.res.status === 412);
  h.eq(won.length, 1, `${what}: exactly one 200`);
  h.eq(lost.length, results.length - 1, `${what}: every other answer 412`);
  if (reason) {
    const reasons = [...new Set(lost.map((r) => reasonOf(r.res)))];
    h.eq(reasons, lost.length ? [reason] : [], `${what}: refusals say ${reason}`);
  }
  if (won.length !== 1) return null;
  const w = won[0];
  const { sig, problem } = signatureFrom(w.res, true);
  h.ok(!problem, `${what}: winner's reply is a JSON signature`, problem);
  if (sig) {
    h.ok(verify(fromHex(sig), w.req.root, key.pk), `${what}: signature verifies for the winner's signing root`);
    h.eq(sig, toHex(sign(key.sk, w.req.root)), `${what}: signature is the deterministic BLS signature of that root`);
  }
  return { ...w, sig };
}

// (b, random part) The signed votes must be mutually non-slashable, and each refusal must be the
// one a signed vote (or the first vote's low watermark) demands.
function judgeWindow(results, what) {
  const won = results.filter((r) => r.res.status === 200).map((r) => r.req);
  const lost = results.filter((r) => r.res.status !== 200);
  h.ok(won.length >= 1, `${what}: at least one vote signed`);
  h.ok(lost.every((r) => r.res.status === 412), `${what}: every other answer is 412`, lost.map((r) => r.res.status));
  let clean = true;
  for (let i = 0; i < won.length; i++)
    for (let j = i + 1; j < won.length; j++)
      if (slashable(won[i], won[j])) clean = false;
  h.ok(clean, `${what}: the ${won.length} signed votes are mutually non-slashable`,
    won.map((v) => `${v.source}->${v.target}`).join(" "));
  const justified = {
    double_vote: (r) => won.some((a) => a.target === r.target && a.rootHex !== r.rootHex),
    surround_vote: (r) => won.some((a) => a.source > r.source && a.target < r.target),
    surrounded_vote: (r) => won.some((a) => a.source < r.source && a.target > r.target),
    below_low_watermark: (r) => won.some((a) => a.source > r.source || a.target >= r.target),
  };
  const bad = lost.filter((l) => {
    const why = reasonOf(l.res);
    return !(why in justified) || !justified[why](l.req);
  }).map((l) => `${l.req.source}->${l.req.target}: ${reasonOf(l.res)}`);
  h.eq(bad, [], `${what}: every refusal is justified by a signed vote`);
  return won;
}

function exportDb(dbPath, dir) {
  const to = path.join(dir, "export.json");
  execFileSync(signerBinary(), ["eth2", `--slashing-protection-db-url=sqlite:${dbPath}`, "export", `--to=${to}`],
    { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
  return JSON.parse(fs.readFileSync(to, "utf8"));
}

async function main() {
  const keys = makeKeys(5);
  const [kA, kB, kC, kD, kUnknown] = keys;
  const keyDir = makeTempDir("ns-sp-keys-");
  writeKeyConfigs(keyDir, [kA, kB, kC, kD]);
  const dbDir = makeTempDir("ns-sp-db-");
  const dbPath = path.join(dbDir, "slashing.db");
  const signer = await startSigner({ keyStorePath: keyDir, eth2Args: [`--slashing-protection-db-url=sqlite:${dbPath}`], name: "signer" });

  const signed = new Map(); // pubkey -> [{kind, root}] answered 200
  const refused = [];       // roots answered 412
  const note = (key, results) => {
    for (const { req, res } of results) {
      if (res.status === 200) {
        if (!signed.has(key.pkHex)) signed.set(key.pkHex, []);
        signed.get(key.pkHex).push(req);
      } else {
        refused.push(req.rootHex);
      }
    }
  };

  // (a) and (f): the unknown key's requests race along with the double votes.
  const E = BASE + 10n;
  const votes = Array.from({ length: 20 }, () => attestation(E - 1n, E));
  const [resA, resUnknown] = await Promise.all([
    race(signer, kA, votes),
    race(signer, kUnknown, [attestation(E - 1n, E), attestation(E, E + 1n)]),
  ]);
  const winA = oneWinner(resA, kA, "double_vote", "(a) 20 double votes");
  note(kA, resA);
  h.ok(resUnknown.every((r) => r.res.status === 404), "(f) unknown key: 404", resUnknown.map((r) => r.res.status));

  // (b) nested intervals: vote i surrounds every vote j > i; each interval also twice with
  // different roots (double votes). Every pair conflicts, so exactly one may be signed.
  const nested = [];
  for (let i = 0n; i < 10n; i++) {
    nested.push(attestation(BASE - i, BASE + 100n + i));
    nested.push(attestation(BASE - i, BASE + 100n + i));
  }
  const resB = await race(signer, kB, nested);
  const winB = oneWinner(resB, kB, null, "(b) nested surround/double votes");
  judgeWindow(resB, "(b) nested");
  note(kB, resB);

  // (b) random (source, target) pairs in a small window for key D: many conflict, some do not.
  const windowReqs = Array.from({ length: 30 }, () => {
    const s = BASE + 200n + BigInt(randInt(8));
    return attestation(s, s + BigInt(randInt(6)));
  });
  const resW = await race(signer, kD, windowReqs);
  const wonW = judgeWindow(resW, "(b) random window");
  note(kD, resW);

  // (c) BLOCK_V2 at one slot, 20 different body_roots.
  const slot = (BASE + 3n) * 32n + 9n;
  const resC = await race(signer, kC, Array.from({ length: 20 }, () => blockV2(slot)));
  const winC = oneWinner(resC, kC, "double_proposal", "(c) 20 BLOCK_V2 at one slot");
  note(kC, resC);

  // (d) exact repeats: the winners sign again (same signature), a loser stays refused.
  for (const [w, key, what] of [[winA, kA, "attestation"], [winB, kB, "surround winner"], [winC, kC, "block"]]) {
    if (!w) continue;
    const again = await Promise.all([signer.sign(key.pkHex, w.req.body), signer.sign(key.pkHex, w.req.body)]);
    for (const r of again) {
      const { sig, problem } = signatureFrom(r, true);
      h.ok(!problem && sig === w.sig, `(d) repeat of the ${what} winner: 200 with the same signature`, problem || { sig, want: w.sig });
    }
  }
  const loser = resA.find((r) => r.res.status === 412);
  if (loser) {
    const r = await signer.sign(kA.pkHex, loser.req.body);
    h.ok(r.status === 412 && reasonOf(r) === "double_vote", "(d) a loser repeated is still 412 double_vote", { status: r.status, body: r.body });
  }
  const unknownAgain = await signer.sign(kUnknown.pkHex, attestation(E + 5n, E + 6n).body);
  h.eq(unknownAgain.status, 404, "(f) unknown key, alone: 404");

  // (e) export after a clean stop.
  const stopped = await signer.stop();
  h.ok(stopped.code === 0 || stopped.signal === "SIGTERM", "signer stopped cleanly", stopped);
  const ix = exportDb(dbPath, dbDir);
  h.eq(ix.metadata.interchange_format_version, "5", "(e) export is interchange v5");
  h.eq(ix.metadata.genesis_validators_root, MAINNET.genesisValidatorsRoot, "(e) export bound to mainnet's genesis_validators_root");
  const byKey = new Map(ix.data.map((d) => [d.pubkey.toLowerCase(), d]));
  h.ok(!byKey.has(kUnknown.pkHex), "(f) the unknown key has no record in the export");
  h.eq([...byKey.keys()].sort(), [kA.pkHex, kB.pkHex, kC.pkHex, kD.pkHex].sort(), "(e) exactly the four signing keys are exported");
  const exportedRoots = new Set();
  for (const d of ix.data) {
    for (const b of d.signed_blocks) if (b.signing_root) exportedRoots.add(`${d.pubkey}/b/${b.slot}/${b.signing_root}`);
    for (const a of d.signed_attestations) if (a.signing_root) exportedRoots.add(`${d.pubkey}/a/${a.source_epoch}/${a.target_epoch}/${a.signing_root}`);
  }
  const missing = [];
  for (const [pk, reqs] of signed) {
    for (const r of reqs) {
      const id = r.slot !== undefined ? `${pk}/b/${r.slot}/${r.rootHex}` : `${pk}/a/${r.source}/${r.target}/${r.rootHex}`;
      if (!exportedRoots.has(id)) missing.push(id);
    }
  }
  h.eq(missing, [], "(e) every signed message is in the export");
  const allRoots = JSON.stringify(ix);
  h.eq(refused.filter((r) => allRoots.includes(r)), [], "(e) no refused signing root is in the export");
  const nSigned = [...signed.values()].reduce((n, v) => n + v.length, 0);
  const nRows = ix.data.reduce((n, d) => n + d.signed_blocks.length + d.signed_attestations.length, 0);
  h.eq(nRows, nSigned, "(e) the export has one row per signed message, nothing else");
  // (g) the same database under another network: the signer says at start that it belongs to another
  // chain (every slashable request would be refused), and says nothing of the kind on its own network.
  const other = await startSigner({ keyStorePath: keyDir, network: "hoodi",
    eth2Args: [`--slashing-protection-db-url=sqlite:${dbPath}`], name: "signer-hoodi" });
  await new Promise((r) => setTimeout(r, 200));
  h.ok(/belongs to another chain .*network hoodi/.test(other.log), "(g) another network's database is named at start", other.log.slice(-800));
  await other.stop();
  const same = await startSigner({ keyStorePath: keyDir, eth2Args: [`--slashing-protection-db-url=sqlite:${dbPath}`], name: "signer-again" });
  await new Promise((r) => setTimeout(r, 200));
  h.ok(!/belongs to another chain/.test(same.log), "(g) no such warning on the database's own network", same.log.slice(-800));
  await same.stop();
  h.finish(`${nSigned} signed (${wonW.length} of ${windowReqs.length} in the random window), ${refused.length} refused`);
}

Harness.run(h, main);
