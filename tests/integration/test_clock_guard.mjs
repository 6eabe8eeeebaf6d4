// The clock guard over HTTP, standalone (`eth2 --slashing-protection-clock-guard-epochs=N`), with
// the real signer and a temp SQLite database:
//   (a) a config network whose GENESIS_TIME puts "now" 192 s into epoch B (so the test has three
//       minutes before the epoch turns): attestations for targets B-2..B+2 sign, B-3 and B+3 are
//       412 {"reason":"clock"}; BLOCK_V2 by its slot's epoch, at the exact slot edges; a RANDAO
//       reveal far ahead is not the guard's; /healthcheck shows the guard and epoch B;
//   (b) after a clean stop the export holds every signed message and none of the refused ones
//       (the guard runs before slashing protection records anything);
//   (c) a genesis in the future: the current epoch is 0, so targets 0..2 sign and 3 is refused;
//   (d) mainnet on this machine's clock: the current epoch signs, ten epochs either way do not;
//   (e) at start: the guard off by default and said so in the log; a network without a genesis
//       time (minimal, or a config without GENESIS_TIME) with the guard on, and a bad value, exit 2
//       naming the flag.
//
// Run by ctest as `node test_clock_guard.mjs` with NS_BIN_DIR.

import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { fromHex, makeKeys, toHex, verify } from "../js/lib/bls.mjs";
import { builders, currentEpoch, FORK, MAINNET, TYPES, computeSigningRoot, DOMAIN, domainAt, epochOfSlot, randBytes } from "../js/lib/eth2.mjs";
import { makeTempDir, signatureFrom, signerBinary, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("clock_guard", { timeoutMs: 120_000 });
const EPOCH_S = 384n;
const B = 420_000n; // a Fulu epoch of mainnet's schedule

// A consensus-spec config with mainnet's preset and fork schedule (so the Lodestar-side roots of
// eth2.mjs hold) and our GENESIS_TIME.
function writeConfig(dir, name, genesisTime) {
  const forks = MAINNET.forks.slice(1).map((f) => `${f.name}_FORK_VERSION: ${f.version}\n${f.name}_FORK_EPOCH: ${f.epoch}\n`).join("");
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, `PRESET_BASE: mainnet\nCONFIG_NAME: ${name}\nGENESIS_FORK_VERSION: ${MAINNET.genesisForkVersion}\n${forks}` +
    (genesisTime === undefined ? "" : `GENESIS_TIME: ${genesisTime}\n`) + "SECONDS_PER_SLOT: 12\n");
  return file;
}

// BLOCK_V2 (Fulu header) at an exact slot.
function blockAt(slot) {
  const c = builders.BLOCK_V2(FORK.FULU, slot / 32n);
  const hd = { ...c.body.beacon_block.block_header, slot: slot.toString(), body_root: toHex(randBytes(32)) };
  const root = computeSigningRoot(TYPES.header.hashTreeRoot(TYPES.header.fromJson(hd)),
    domainAt(DOMAIN.BEACON_PROPOSER, c.body.fork_info, epochOfSlot(slot)));
  return { body: { ...c.body, beacon_block: { ...c.body.beacon_block, block_header: hd } }, root, slot };
}

const vote = (target) => builders.ATTESTATION(FORK.FULU, target, { sourceEpoch: target - 1n });

function reasonOf(res) {
  try {
    return JSON.parse(res.body).reason;
  } catch {
    return undefined;
  }
}

async function expectSigned(signer, key, c, what) {
  const res = await signer.sign(key.pkHex, c.body);
  const { sig, problem } = signatureFrom(res, true);
  h.ok(!problem, `${what}: 200 with a signature`, problem);
  if (sig) h.ok(verify(fromHex(sig), c.root, key.pk), `${what}: the signature verifies`);
  return res.status === 200;
}

async function expectClock(signer, key, c, what, detail) {
  const res = await signer.sign(key.pkHex, c.body);
  h.ok(res.status === 412 && reasonOf(res) === "clock", `${what}: 412 reason clock`, { status: res.status, body: res.body });
  if (detail) h.ok(res.body.includes(detail), `${what}: the error says "${detail}"`, res.body);
  h.ok(!/signature/.test(res.body), `${what}: no signature`);
}

function healthCheck(res) {
  try {
    return JSON.parse(res.body).checks.find((c) => c.id === "clock-guard");
  } catch {
    return undefined;
  }
}

function exportDb(dbPath, dir) {
  const to = path.join(dir, "export.json");
  execFileSync(signerBinary(), ["eth2", `--slashing-protection-db-url=sqlite:${dbPath}`, "export", `--to=${to}`],
    { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
  return JSON.parse(fs.readFileSync(to, "utf8"));
}

function startFails(args, what, want) {
  const r = spawnSync(signerBinary(), args, { encoding: "utf8", timeout: 20_000, cwd: makeTempDir("ns-clock-cwd-") });
  h.eq(r.status, 2, `${what}: exit 2`);
  h.ok((r.stderr || "").includes(want), `${what}: stderr says "${want}"`, r.stderr);
}

async function main() {
  const keys = makeKeys(2);
  const [kA, kB] = keys;
  const keyDir = makeTempDir("ns-clock-keys-");
  writeKeyConfigs(keyDir, keys);
  const dir = makeTempDir("ns-clock-");
  const guard = "--slashing-protection-clock-guard-epochs=2";

  // (a) now = 192 s into epoch B of "clock-net".
  const genesis = BigInt(Math.floor(Date.now() / 1000)) - B * EPOCH_S - 192n;
  const epochEnds = Number((genesis + (B + 1n) * EPOCH_S) * 1000n);
  const dbPath = path.join(dir, "slashing.db");
  const signer = await startSigner({ keyStorePath: keyDir, network: writeConfig(dir, "clock-net", genesis),
    eth2Args: [guard, `--slashing-protection-db-url=sqlite:${dbPath}`], name: "clock-net" });
  h.ok(/clock guard: on: .* more than 2 epochs .*network clock-net/.test(signer.log), "the log says the guard is on", signer.log);

  const signed = [];
  const refused = [];
  for (const t of [B - 2n, B - 1n, B, B + 1n, B + 2n]) {
    const c = vote(t);
    if (await expectSigned(signer, kA, c, `target ${t - B >= 0n ? "B+" : "B"}${t - B}`)) signed.push(c.root);
  }
  for (const [t, detail] of [[B + 3n, "3 epochs after the current epoch 420000"], [B - 3n, "3 epochs before the current epoch 420000"], [B + 1_000_000n, null]]) {
    const c = vote(t);
    await expectClock(signer, kA, c, `target B${t > B ? "+" : ""}${t - B}`, detail);
    refused.push(c.root);
  }
  // Blocks: the first and last slots of B-2 and B+2 sign, one slot further does not.
  for (const slot of [(B - 2n) * 32n, (B + 3n) * 32n - 1n]) {
    const c = blockAt(slot);
    if (await expectSigned(signer, kB, c, `block at slot ${slot}`)) signed.push(c.root);
  }
  for (const slot of [(B - 2n) * 32n - 1n, (B + 3n) * 32n]) {
    const c = blockAt(slot);
    await expectClock(signer, kB, c, `block at slot ${slot}`, "block epoch");
    refused.push(c.root);
  }
  await expectSigned(signer, kA, builders.RANDAO_REVEAL(FORK.FULU, B + 1000n), "RANDAO_REVEAL far ahead (not slashable)");
  const hc = await signer.get("/healthcheck", { Accept: "application/json" });
  const row = healthCheck(hc);
  h.eq(hc.status, 200, "/healthcheck 200");
  h.eq(row && row.status, "UP", "/healthcheck: clock-guard UP");
  h.eq(row && row.data, { epochs: 2, source: "system", current_epoch: B.toString() }, "/healthcheck: the window, the clock, epoch B");
  h.ok(Date.now() < epochEnds, "(the checks above ran inside epoch B)");

  // (b) what was recorded.
  const stopped = await signer.stop();
  h.ok(stopped.code === 0 || stopped.signal === "SIGTERM", "signer stopped cleanly", stopped);
  const ix = exportDb(dbPath, dir);
  const all = JSON.stringify(ix);
  h.eq(signed.filter((r) => !all.includes(toHex(r))).length, 0, "every signed message is in the export");
  h.eq(refused.filter((r) => all.includes(toHex(r))), [], "no refused message is in the export");
  const rows = ix.data.reduce((n, d) => n + d.signed_blocks.length + d.signed_attestations.length, 0);
  h.eq(rows, signed.length, "one row per signed message, nothing else");

  // (c) genesis in 2100: the current epoch is 0.
  const future = await startSigner({ keyStorePath: keyDir, network: writeConfig(dir, "future-net", 4102444800),
    eth2Args: [guard, `--slashing-protection-db-url=sqlite:${path.join(dir, "future.db")}`], name: "future-net" });
  for (const t of [1n, 2n]) await expectSigned(future, kA, vote(t), `before genesis: target ${t}`);
  await expectClock(future, kA, vote(3n), "before genesis: target 3", "3 epochs after the current epoch 0");
  await future.stop();

  // (d) mainnet on this machine's clock.
  const main = await startSigner({ keyStorePath: keyDir, eth2Args: [guard, `--slashing-protection-db-url=sqlite:${path.join(dir, "mainnet.db")}`], name: "mainnet" });
  const E = currentEpoch();
  await expectSigned(main, kA, vote(E), `mainnet: the current epoch ${E}`);
  await expectClock(main, kA, vote(E + 10n), "mainnet: ten epochs ahead");
  await expectClock(main, kB, blockAt((E - 10n) * 32n), "mainnet: a block ten epochs ago");
  const mrow = healthCheck(await main.get("/healthcheck", { Accept: "application/json" }));
  h.ok(mrow && [E, E + 1n].map(String).includes(mrow.data.current_epoch), "mainnet: /healthcheck's current epoch is this machine's", mrow);
  await main.stop();

  // (e) start-up.
  const off = await startSigner({ keyStorePath: keyDir, eth2Args: [`--slashing-protection-db-url=sqlite:${path.join(dir, "off.db")}`], name: "off" });
  h.ok(/clock guard: off \(--slashing-protection-clock-guard-epochs=0\)/.test(off.log), "default: the log says the guard is off", off.log);
  await expectSigned(off, kA, vote(E + 1000n), "guard off: a far-future vote goes to slashing protection and signs");
  h.eq(healthCheck(await off.get("/healthcheck", { Accept: "application/json" })), undefined, "guard off: no clock-guard row");
  await off.stop();
  const db = `--slashing-protection-db-url=sqlite:${path.join(dir, "never.db")}`;
  startFails(["--http-listen-port=0", "eth2", "--network=minimal", guard, db], "minimal with the guard",
    "--slashing-protection-clock-guard-epochs=2: network minimal has no genesis time");
  startFails(["--http-listen-port=0", "eth2", `--network=${writeConfig(dir, "no-clock", undefined)}`, guard, db],
    "a config without GENESIS_TIME with the guard", "network no-clock has no genesis time");
  for (const v of ["-1", "two", "1000001", ""])
    startFails(["eth2", `--slashing-protection-clock-guard-epochs=${v}`, db], `--slashing-protection-clock-guard-epochs=${v}`,
      "--slashing-protection-clock-guard-epochs");
  h.ok(!fs.existsSync(path.join(dir, "never.db")), "a refused start creates no database");

  h.finish(`${signed.length} signed, ${refused.length} refused by the clock guard`);
}

Harness.run(h, main);
