// Slashing protection across SIGKILL: what the signer answered 200 before dying must be on disk.
//
// 1. A stream of attestations (several keys, increasing epochs, a few requests in flight per key)
//    over HTTP; the signer is SIGKILLed when a random number of signatures have come back, with
//    requests still in flight. Restarted on the same database:
//      - for every 200 before the kill, a conflicting vote (same source/target, another root) is
//        412 double_vote and the exact repeat is 200 with the same signature;
//      - a request that never got an answer may have been recorded or not, but exactly one of it
//        and a conflicting vote can now be signed (the conflicting one is sent first).
// 2. Three more rounds of SIGKILL in the middle of a concurrent burst: each time `eth2 export`
//    opens the database (the engine runs PRAGMA quick_check at open) and holds every message
//    signed so far, a restarted signer reports a healthy database, and the burst's answers obey
//    the rules of 1.
// SIGKILL loses no page cache, so this checks crash consistency of the commit protocol (a 200 only
// after COMMIT; WAL recovery on open), not power-loss durability (fsync), which needs a VM.
//
// Run by ctest as `node test_slashing_crash.mjs` with NS_BIN_DIR.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { fromHex, makeKeys, sign, toHex, verify } from "../js/lib/bls.mjs";
import { DOMAIN, FORK, TYPES, computeSigningRoot, domainAt, forkInfo, randBytes, randInt } from "../js/lib/eth2.mjs";
import { makeTempDir, signatureFrom, signerBinary, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("slashing_crash", { timeoutMs: 120_000 });
const FI = forkInfo(FORK.FULU);
const BASE = 430_000n;
const NKEYS = 6;

function attestation(source, target, bbr = randBytes(32)) {
  const d = {
    slot: target * 32n, index: 1n, beaconBlockRoot: bbr,
    source: { epoch: source, root: new Uint8Array(32).fill(0x55) },
    target: { epoch: target, root: new Uint8Array(32).fill(0x66) },
  };
  const root = computeSigningRoot(TYPES.attData.hashTreeRoot(d), domainAt(DOMAIN.BEACON_ATTESTER, FI, target));
  return { source, target, root, rootHex: toHex(root),
    body: { type: "ATTESTATION", fork_info: FI, attestation: TYPES.attData.toJson(d) } };
}

const reasonOf = (res) => {
  try {
    return JSON.parse(res.body).reason;
  } catch {
    return undefined;
  }
};

const keys = makeKeys(NKEYS);
const nextEpoch = keys.map(() => BASE + 1n);
const outcomes = []; // {key, req, status, sig} for every request sent to a signer that was killed
let dbPath;
let keyDir;

const start = (name) => startSigner({ keyStorePath: keyDir, eth2Args: [`--slashing-protection-db-url=sqlite:${dbPath}`], name });

// Sends one request; records its outcome; counts 200s for the kill trigger.
async function send(signer, key, req, onSigned) {
  const res = await signer.sign(key.pkHex, req.body, { timeoutMs: 15_000 });
  const o = { key, req, status: res.status };
  if (res.status === 200) {
    const { sig, problem } = signatureFrom(res, true);
    h.ok(!problem && verify(fromHex(sig), req.root, key.pk), "a 200 before the kill carries a valid signature", problem);
    o.sig = sig;
    onSigned();
  } else if (res.status !== 0) {
    h.ok(false, "before the kill, every answer is 200 (or none)", { status: res.status, body: res.body.slice(0, 200) });
  }
  outcomes.push(o);
  return res.status;
}

// SIGKILL 0-3 ms after `after` signatures have come back (requests are still in flight; the
// delay lets the kill land before, during or after the next group commit).
function killAfter(signer, after) {
  let n = 0;
  return () => {
    if (++n === after) setTimeout(() => signer.proc.kill("SIGKILL"), randInt(4));
  };
}

// Phase 1: per key, `window` requests in flight, epochs increasing, until the signer dies. Each
// key's first vote goes alone: it sets the low watermark, which the others must not arrive below.
async function stream(signer, window) {
  const onSigned = killAfter(signer, 40 + randInt(60));
  await Promise.all(keys.map((key, k) => {
    const e = nextEpoch[k]++;
    return send(signer, key, attestation(e - 1n, e), onSigned);
  }));
  await Promise.all(keys.flatMap((key, k) => Array.from({ length: window }, async () => {
    while (signer.alive()) {
      const e = nextEpoch[k]++;
      if ((await send(signer, key, attestation(e - 1n, e), onSigned)) !== 200) break;
    }
  })));
}

// Phase 2: every key sends `per` votes within ~40 ms (so they span several group commits);
// SIGKILL at a random moment inside that window.
async function burst(signer, per) {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const killer = sleep(5 + randInt(30)).then(() => signer.proc.kill("SIGKILL"));
  await Promise.all([killer, ...keys.flatMap((key, k) => Array.from({ length: per }, async () => {
    const e = nextEpoch[k]++;
    const req = attestation(e - 1n, e);
    await sleep(randInt(40));
    return send(signer, key, req, () => {});
  }))]);
}

// After a restart: the rules of the header comment for the outcomes since the last check.
async function verifyAfterRestart(signer, from, what) {
  const todo = outcomes.slice(from);
  let conflictOk = 0, repeatOk = 0, unanswered = 0, unansweredOk = 0, recorded = 0;
  await Promise.all(todo.map(async (o) => {
    const other = attestation(o.req.source, o.req.target);
    if (o.status === 200) {
      const c = await o.signer(other);
      if (c.status === 412 && reasonOf(c) === "double_vote") conflictOk++;
      else h.ok(false, `${what}: conflicting vote after a 200 is 412 double_vote`, { status: c.status, body: c.body, target: o.req.target });
      const r = await o.signer(o.req);
      const { sig } = signatureFrom(r, true);
      if (sig === o.sig) repeatOk++;
      else h.ok(false, `${what}: exact repeat of a 200 signs again, same signature`, { status: r.status, body: r.body.slice(0, 200) });
    } else {
      unanswered++;
      const c = await o.signer(other);
      const r = await o.signer(o.req);
      const ok = (c.status === 200 && r.status === 412 && reasonOf(r) === "double_vote")
        || (c.status === 412 && reasonOf(c) === "double_vote" && r.status === 200);
      if (ok) unansweredOk++;
      else h.ok(false, `${what}: an unanswered vote and its conflict: exactly one signs`, { conflict: c.status, original: r.status, target: o.req.target });
      // Whichever was signed now counts as signed (for the export check).
      if (c.status === 200) Object.assign(o, { req: other, status: 200, sig: signatureFrom(c, true).sig });
      else if (r.status === 200) {
        Object.assign(o, { status: 200, sig: signatureFrom(r, true).sig });
        recorded++;
      }
    }
  }));
  const answered = todo.length - unanswered;
  h.eq(conflictOk, answered, `${what}: all ${answered} signed votes refuse a conflicting vote`);
  h.eq(repeatOk, answered, `${what}: all ${answered} signed votes can be repeated`);
  h.eq(unansweredOk, unanswered, `${what}: all ${unanswered} unanswered votes are consistent`);
  return { answered, unanswered, recorded };
}

function bindSigner(signer, from) {
  for (const o of outcomes.slice(from)) o.signer = (req) => signer.sign(o.key.pkHex, req.body, { timeoutMs: 15_000 });
}

function exportDb(dir, what) {
  const to = path.join(dir, "export.json");
  fs.rmSync(to, { force: true });
  try {
    execFileSync(signerBinary(), ["eth2", `--slashing-protection-db-url=sqlite:${dbPath}`, "export", `--to=${to}`],
      { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
  } catch (err) {
    h.ok(false, `${what}: export after SIGKILL succeeds`, String(err.stderr || err));
    return;
  }
  const ix = JSON.parse(fs.readFileSync(to, "utf8"));
  const have = new Set();
  for (const d of ix.data) for (const a of d.signed_attestations) have.add(`${d.pubkey}/${a.source_epoch}/${a.target_epoch}/${a.signing_root}`);
  const missing = outcomes.filter((o) => o.status === 200 && !have.has(`${o.key.pkHex}/${o.req.source}/${o.req.target}/${o.req.rootHex}`));
  h.eq(missing.length, 0, `${what}: export opens the database and holds every signed vote`);
}

async function main() {
  const dir = makeTempDir("ns-spcrash-");
  keyDir = path.join(dir, "keys");
  fs.mkdirSync(keyDir);
  writeKeyConfigs(keyDir, keys);
  dbPath = path.join(dir, "slashing.db");

  // Phase 1: stream, kill, restart, verify.
  let signer = await start("signer-1");
  await stream(signer, 3);
  const ex = await signer.exited;
  h.eq(ex.signal, "SIGKILL", "stream: signer died of SIGKILL");
  let from = 0;
  signer = await start("signer-2");
  bindSigner(signer, from);
  const s1 = await verifyAfterRestart(signer, from, "stream");
  from = outcomes.length;
  h.ok(s1.answered >= 40, "stream: at least 40 votes signed before the kill", s1);
  let summary = `stream: ${s1.answered} signed, ${s1.unanswered} in flight at the kill (${s1.recorded} of them recorded)`;

  // Phase 2: SIGKILL mid-burst, three times.
  for (let round = 1; round <= 3; round++) {
    await burst(signer, 12);
    await signer.exited;
    const what = `burst ${round}`;
    exportDb(dir, what);
    signer = await start(`signer-${round + 2}`);
    const hc = await signer.get("/healthcheck", { Accept: "application/json" });
    h.eq(hc.status, 200, `${what}: restarted signer reports a healthy database`);
    bindSigner(signer, from);
    const r = await verifyAfterRestart(signer, from, what);
    from = outcomes.length;
    summary += `; ${what}: ${r.answered} signed, ${r.unanswered} unanswered (${r.recorded} recorded)`;
  }
  await signer.stop();
  exportDb(dir, "final");
  h.finish(summary);
}

Harness.run(h, main);
