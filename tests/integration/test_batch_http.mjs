// The batch endpoint (POST /api/v1/eth2/sign) end to end: the real signer with a temp SQLite
// database, batches racing single-key requests and each other on separate connections, the
// outcome judged with the consensus-spec rules and an independent BLS (noble) and SSZ (Lodestar):
//   (a) a batch of keys with an unknown one among them -> 200, one item per identifier in request
//       order; each signature verifies (noble) for the signing root Lodestar computes and is the
//       deterministic BLS signature of it; the unknown key's item is error 404;
//   (b) 8 batches for three keys and 8 single-key requests for one of them, all for one target
//       epoch with different beacon_block_roots, sent at once -> per key exactly one signature in
//       all the answers, every other answer for that key 412 double_vote (in a batch item or as a
//       single reply): the two paths share the one record per key;
//   (c) a refused batch (a key twice) is 400 and records nothing: the key then signs that target;
//   (d) after stopping the signer, `eth2 export` holds every signed root, no refused one, and no
//       record of the unknown key.
//
// Run by ctest as `node test_batch_http.mjs` with NS_BIN_DIR.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { fromHex, makeKeys, sign, toHex, verify } from "../js/lib/bls.mjs";
import { DOMAIN, FORK, TYPES, computeSigningRoot, domainAt, forkInfo, randBytes } from "../js/lib/eth2.mjs";
import { makeTempDir, signerBinary, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("batch_http");
const FI = forkInfo(FORK.FULU);
const BASE = 430_000n; // a Fulu epoch

function attestation(source, target, bbr = randBytes(32)) {
  const d = {
    slot: target * 32n, index: 0n, beaconBlockRoot: bbr,
    source: { epoch: source, root: new Uint8Array(32).fill(0x11) },
    target: { epoch: target, root: new Uint8Array(32).fill(0x22) },
  };
  const root = computeSigningRoot(TYPES.attData.hashTreeRoot(d), domainAt(DOMAIN.BEACON_ATTESTER, FI, target));
  return { source, target, root, rootHex: toHex(root),
    body: { type: "ATTESTATION", fork_info: FI, attestation: TYPES.attData.toJson(d) } };
}

function batch(signer, ids, req) {
  return signer.request({ method: "POST", path: "/api/v1/eth2/sign",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ identifiers: ids, signing_request: req.body }), timeoutMs: 20_000 });
}

function items(res) {
  try {
    const a = JSON.parse(res.body);
    return Array.isArray(a) ? a : null;
  } catch {
    return null;
  }
}

function exportDb(dbPath, dir) {
  const to = path.join(dir, "export.json");
  execFileSync(signerBinary(), ["eth2", `--slashing-protection-db-url=sqlite:${dbPath}`, "export", `--to=${to}`],
    { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
  return JSON.parse(fs.readFileSync(to, "utf8"));
}

async function main() {
  const [kA, kB, kC, kU] = makeKeys(4);
  const keyDir = makeTempDir("ns-batch-keys-");
  writeKeyConfigs(keyDir, [kA, kB, kC]);
  const dbDir = makeTempDir("ns-batch-db-");
  const dbPath = path.join(dbDir, "slashing.db");
  const signer = await startSigner({ keyStorePath: keyDir, eth2Args: [`--slashing-protection-db-url=sqlite:${dbPath}`], name: "signer" });
  const signed = [];  // {pk, rootHex, target}
  const refused = []; // {pk, rootHex}
  const byPk = new Map([kA, kB, kC, kU].map((k) => [k.pkHex, k]));

  // (a) order, per-key results, signatures checked independently.
  const a = attestation(BASE - 1n, BASE);
  const ids = [kB.pkHex, kU.pkHex, kA.pkHex.toUpperCase().replace("0X", "0x"), kC.pkHex.slice(2)];
  const resA = await batch(signer, ids, a);
  h.eq(resA.status, 200, "(a) batch: 200");
  const got = items(resA) || [];
  h.eq(got.map((i) => i.identifier), ids, "(a) one item per identifier, in request order, as sent");
  for (const [i, k] of [[0, kB], [2, kA], [3, kC]]) {
    const sig = got[i] && got[i].signature;
    h.ok(sig && verify(fromHex(sig), a.root, k.pk), `(a) item ${i}: signature verifies for Lodestar's signing root`);
    h.eq(sig, toHex(sign(k.sk, a.root)), `(a) item ${i}: the deterministic BLS signature`);
    if (sig) signed.push({ pk: k.pkHex, rootHex: a.rootHex, target: a.target });
  }
  h.eq(got[1] && got[1].error && got[1].error.code, 404, "(a) the unknown key's item: error 404");
  h.ok(got[1] && !("signature" in got[1]), "(a) the unknown key's item has no signature");

  // (b) batches and single-key requests for one target, all conflicting, at once.
  const E = BASE + 10n;
  const bReqs = Array.from({ length: 8 }, () => attestation(E - 1n, E));
  const sReqs = Array.from({ length: 8 }, () => attestation(E - 1n, E));
  const three = [kA.pkHex, kB.pkHex, kC.pkHex];
  const [bRes, sRes] = await Promise.all([
    Promise.all(bReqs.map((r) => batch(signer, three, r))),
    Promise.all(sReqs.map((r) => signer.sign(kA.pkHex, r.body, { timeoutMs: 20_000 }))),
  ]);
  h.ok(bRes.every((r) => r.status === 200), "(b) every batch: 200", bRes.map((r) => r.status));
  const outcome = new Map(three.map((pk) => [pk, { won: [], lost: [] }]));
  bRes.forEach((res, n) => (items(res) || []).forEach((it) => {
    const o = outcome.get(it.identifier);
    if (it.signature) o.won.push({ req: bReqs[n], sig: it.signature });
    else o.lost.push({ req: bReqs[n], code: it.error && it.error.code, msg: it.error && it.error.message });
  }));
  sRes.forEach((res, n) => {
    const o = outcome.get(kA.pkHex);
    if (res.status === 200) o.won.push({ req: sReqs[n], sig: JSON.parse(res.body).signature });
    else o.lost.push({ req: sReqs[n], code: res.status, msg: res.body });
  });
  for (const pk of three) {
    const o = outcome.get(pk);
    const total = pk === kA.pkHex ? 16 : 8;
    h.eq(o.won.length, 1, `(b) ${pk.slice(0, 10)}: exactly one signature of ${total} answers`);
    h.ok(o.lost.every((l) => l.code === 412 && /double_vote/.test(l.msg)), `(b) ${pk.slice(0, 10)}: every other answer 412 double_vote`,
      o.lost.map((l) => `${l.code} ${l.msg}`).slice(0, 3));
    for (const w of o.won) {
      h.ok(verify(fromHex(w.sig), w.req.root, byPk.get(pk).pk), `(b) ${pk.slice(0, 10)}: the winner verifies for its root`);
      signed.push({ pk, rootHex: w.req.rootHex, target: E });
    }
    for (const l of o.lost) refused.push({ pk, rootHex: l.req.rootHex });
  }

  // (c) a malformed batch records nothing.
  const c1 = attestation(E, E + 1n);
  const resC = await batch(signer, [kC.pkHex, kC.pkHex.toUpperCase().replace("0X", "0x")], c1);
  h.eq(resC.status, 400, "(c) a key twice: 400");
  h.ok(/identifiers\[1\]: the same public key as identifiers\[0\]/.test(resC.body), "(c) the message names the repeat", resC.body);
  const c2 = attestation(E, E + 1n);
  const resC2 = await signer.sign(kC.pkHex, c2.body);
  h.eq(resC2.status, 200, "(c) then another vote for that target signs: nothing was recorded");
  if (resC2.status === 200) signed.push({ pk: kC.pkHex, rootHex: c2.rootHex, target: E + 1n });
  refused.push({ pk: kC.pkHex, rootHex: c1.rootHex });

  // (d) the export.
  const stopped = await signer.stop();
  h.ok(stopped.code === 0 || stopped.signal === "SIGTERM", "signer stopped cleanly", stopped);
  const ix = exportDb(dbPath, dbDir);
  const rows = new Set();
  for (const d of ix.data)
    for (const at of d.signed_attestations) rows.add(`${d.pubkey.toLowerCase()}/${at.target_epoch}/${at.signing_root}`);
  h.ok(!ix.data.some((d) => d.pubkey.toLowerCase() === kU.pkHex), "(d) no record of the unknown key");
  h.eq(signed.filter((s) => !rows.has(`${s.pk}/${s.target}/${s.rootHex}`)), [], "(d) every signed root is in the export");
  // Per key: one batch carries one root for its three keys, so a root refused for one key may be the
  // root another key signed.
  const recorded = new Set([...rows].map((r) => { const [pk, , root] = r.split("/"); return `${pk}/${root}`; }));
  h.eq(refused.filter((r) => recorded.has(`${r.pk}/${r.rootHex}`)), [], "(d) no refused (key, root) is in the export");
  h.eq(rows.size, signed.length, "(d) one record per signature, nothing else");
  h.finish(`${signed.length} signed, ${refused.length} refused`);
}

Harness.run(h, main);
