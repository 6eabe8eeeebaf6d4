// Two signers, one DynamoDB slashing table (the load balancer's two instances with the same keys).
//
// 1. Rounds of conflicting pairs sent to both at the same instant: for every key, an attestation
//    to signer A and another one with the same source and target but another root to signer B,
//    and likewise two blocks at one slot. Across both, at most one signature per pair (and here
//    exactly one: the loser is 412), and every signature verifies.
// 2. SIGKILL of signer B in the middle of a burst, a restart on the same table, more rounds: the
//    same rule holds for every pair, including those in flight at the kill.
// 3. The table's state matches the signatures that went out: `eth2 export` (with the MAC key) holds,
//    for every key, exactly the last signed vote and block.
// Against the stand-ins (dynalite behind SigV4); the items are MAC'd with a key file both share.
//
// Run by ctest as `node test_slashing_shared_dynamodb.mjs` with NS_BIN_DIR and NS_SOURCE_DIR.

import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { fromHex, makeKeys, toHex, verify } from "../js/lib/bls.mjs";
import { DOMAIN, FORK, TYPES, computeSigningRoot, domainAt, forkInfo, randBytes, randInt } from "../js/lib/eth2.mjs";
import { awsEnvOf, binRunner, startStandins, testRun } from "../js/lib/proc.mjs";
import { signatureFrom, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("slashing_shared_dynamodb", { timeoutMs: 240_000 });
const src = process.env.NS_SOURCE_DIR;
const bin = process.env.NS_BIN_DIR;
const FI = forkInfo(FORK.FULU);
const BASE = 430_000n;
const NKEYS = 4;
const ROUNDS = 25;

function attestation(source, target) {
  const d = {
    slot: target * 32n, index: 0n, beaconBlockRoot: randBytes(32),
    source: { epoch: source, root: new Uint8Array(32).fill(0x55) },
    target: { epoch: target, root: new Uint8Array(32).fill(0x66) },
  };
  const root = computeSigningRoot(TYPES.attData.hashTreeRoot(d), domainAt(DOMAIN.BEACON_ATTESTER, FI, target));
  return { root, body: { type: "ATTESTATION", fork_info: FI, attestation: TYPES.attData.toJson(d) } };
}

function block(slot) {
  const hdr = { slot, proposerIndex: 7n, parentRoot: randBytes(32), stateRoot: randBytes(32), bodyRoot: randBytes(32) };
  const root = computeSigningRoot(TYPES.header.hashTreeRoot(hdr), domainAt(DOMAIN.BEACON_PROPOSER, FI, slot / 32n));
  return { root, body: { type: "BLOCK_V2", fork_info: FI, beacon_block: { version: "FULU", block_header: TYPES.header.toJson(hdr) } } };
}

const reasonOf = (res) => {
  try { return JSON.parse(res.body).reason; } catch { return undefined; }
};

await Harness.run(h, async () => {
  const { tmp, children } = testRun("ns-shared-ddb-");
  const env = await startStandins({ src, tmp, children });
  Object.assign(process.env, awsEnvOf(env)); // the signers' AWS environment
  const { run, runOk } = binRunner(bin);
  const table = "shared-slashing";
  const url = `dynamodb://${table}`;
  const macFile = path.join(tmp, "mac.key");
  fs.writeFileSync(macFile, `${Buffer.from(randBytes(32)).toString("hex")}\n`, { mode: 0o600 });
  const eth2 = [`--slashing-protection-db-url=${url}`, `--slashing-protection-mac-key-file=${macFile}`];
  const made = runOk("nitro-signer", ["eth2", ...eth2, "create-table"]);
  h.ok(/table ready/.test(made.stdout), "create-table says the table is ready", made.stdout);
  // A second create-table on the existing table is fine (idempotent).
  runOk("nitro-signer", ["eth2", ...eth2, "create-table"]);

  const keys = makeKeys(NKEYS);
  const keyDir = path.join(tmp, "keys");
  fs.mkdirSync(keyDir);
  writeKeyConfigs(keyDir, keys);
  const start = (name) => startSigner({ keyStorePath: keyDir, eth2Args: eth2, name });
  let a = await start("A");
  let b = await start("B");
  h.ok(/items MAC-checked/.test(a.log), "the signer says the items are MAC-checked", a.log.slice(-600));

  const last = keys.map(() => ({ att: null, block: null })); // the signed message per key, newest
  let pairs = 0, lost = 0;

  // One conflicting pair per key and kind, both halves at once, one to each signer.
  async function round(r, { killB = false } = {}) {
    const target = BASE + BigInt(r) + 1n;
    const slot = (BASE + BigInt(r)) * 32n + 3n;
    const jobs = [];
    for (let k = 0; k < NKEYS; k++) {
      const key = keys[k];
      for (const kind of ["att", "block"]) {
        const m1 = kind === "att" ? attestation(BASE, target) : block(slot);
        const m2 = kind === "att" ? attestation(BASE, target) : block(slot);
        const [first, second] = randInt(2) ? [a, b] : [b, a];
        jobs.push(Promise.all([first.sign(key.pkHex, m1.body, { timeoutMs: 15_000 }),
          second.sign(key.pkHex, m2.body, { timeoutMs: 15_000 })]).then(([r1, r2]) => ({ k, kind, m: [m1, m2], res: [r1, r2] })));
      }
    }
    if (killB) setTimeout(() => b.proc.kill("SIGKILL"), randInt(6));
    for (const j of await Promise.all(jobs)) {
      pairs++;
      const signed = j.res.map((res, i) => ({ res, i })).filter(({ res }) => res.status === 200);
      h.ok(signed.length <= 1, `round ${r} key ${j.k} ${j.kind}: at most one of a conflicting pair is signed`,
        j.res.map((x) => x.status));
      for (const { res, i } of signed) {
        const { sig, problem } = signatureFrom(res, true);
        h.ok(!problem && verify(fromHex(sig), j.m[i].root, keys[j.k].pk), "a signature verifies", problem);
        last[j.k][j.kind] = j.m[i];
      }
      for (const res of j.res) {
        if (res.status === 412)
          h.ok(["double_vote", "double_proposal"].includes(reasonOf(res)), "the loser is refused as a double", res.body);
        else if (res.status !== 200)
          h.ok(killB && res.status === 0, `round ${r}: only a killed signer leaves a request unanswered`, res.status);
      }
      if (signed.length === 0) lost++;
    }
  }

  for (let r = 0; r < ROUNDS; r++) await round(r);
  h.eq(lost, 0, "without a kill, every pair had a winner");
  // 2. Kill B mid-burst, restart it on the same table, go on.
  await round(ROUNDS, { killB: true });
  await b.exited;
  b = await start("B2");
  for (let r = ROUNDS + 1; r < 2 * ROUNDS; r++) await round(r);

  // 3. The table matches what went out.
  await a.stop();
  await b.stop();
  const out = path.join(tmp, "export.json");
  runOk("nitro-signer", ["eth2", ...eth2, "export", `--to=${out}`]);
  const ex = JSON.parse(fs.readFileSync(out, "utf8"));
  for (let k = 0; k < NKEYS; k++) {
    const e = ex.data.find((d) => d.pubkey === keys[k].pkHex);
    h.ok(e, `key ${k} is in the export`);
    if (!e) continue;
    h.eq(e.signed_attestations.map((x) => x.signing_root), [toHex(last[k].att.root)],
      `key ${k}: the table holds the last vote that was signed`);
    h.eq(e.signed_blocks.map((x) => x.signing_root), [toHex(last[k].block.root)],
      `key ${k}: the table holds the last block that was signed`);
  }
  // Without the MAC key, a signer on this table is refused (its items are MAC'd).
  const bad = path.join(tmp, "other.key");
  fs.writeFileSync(bad, `${"ab".repeat(32)}\n`);
  const refused = run("nitro-signer", ["eth2", `--slashing-protection-db-url=${url}`,
    `--slashing-protection-mac-key-file=${bad}`, "export", `--to=${out}.2`]);
  h.ok(refused.status !== 0 && /integrity/.test(refused.stderr), "another MAC key is refused, naming integrity",
    refused.stderr);
  h.finish(`${pairs} conflicting pairs on two signers sharing dynamodb://${table}, one SIGKILL`);
});
