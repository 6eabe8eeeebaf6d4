// The Web3Signer-compatible metrics listener of the real signer (src/signer/metrics.c):
//   (a) with --metrics-enabled: two attestations signed, a double vote refused (412), a malformed
//       body (400) and an unknown key (404); then GET /metrics on the metrics port gives exactly
//       permitted 2, prevented 1, malformed 1, missing 1, 2 signers loaded and a signing-duration
//       count of 5 (every sign request), with Web3Signer's types, in text format 0.0.4;
//   (b) the Host allowlist (Web3Signer's default localhost,127.0.0.1) refuses another Host (403),
//       only GET /metrics is served, and the signing API has no /metrics;
//   (c) without --metrics-enabled the metrics port is closed; a bad --metrics-host-allowlist is a
//       usage error (exit 2).
//
// Run by ctest as `node test_metrics.mjs` with NS_BIN_DIR.

import { spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { makeKeys, toHex } from "../js/lib/bls.mjs";
import { FORK, TYPES, forkInfo, randBytes } from "../js/lib/eth2.mjs";
import { freePort, httpRequest, makeTempDir, signerBinary, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("metrics");
const FI = forkInfo(FORK.FULU);

function attestation(source, target) {
  const d = {
    slot: target * 32n + 3n, index: 0n, beaconBlockRoot: randBytes(32),
    source: { epoch: source, root: new Uint8Array(32).fill(0x11) },
    target: { epoch: target, root: new Uint8Array(32).fill(0x22) },
  };
  return { type: "ATTESTATION", fork_info: FI, attestation: TYPES.attData.toJson(d) };
}

// The value of the sample line `name value` (not HELP/TYPE), or undefined.
function sample(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

function refused(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); resolve(false); });
    s.once("error", (e) => resolve(e.code === "ECONNREFUSED"));
  });
}

async function main() {
  const keys = makeKeys(2);
  const keyDir = makeTempDir("ns-metrics-keys-");
  writeKeyConfigs(keyDir, keys);
  const db = path.join(makeTempDir("ns-metrics-db-"), "slashing.db");
  const mport = await freePort();
  const signer = await startSigner({ keyStorePath: keyDir, name: "signer",
    topArgs: ["--metrics-enabled", `--metrics-port=${mport}`],
    eth2Args: [`--slashing-protection-db-url=sqlite:${db}`] });
  const metrics = (headers = { Host: `localhost:${mport}` }, method = "GET", p = "/metrics") =>
    httpRequest({ port: mport, method, path: p, headers });

  // (a) the counting points
  const k = keys[0].pkHex;
  h.eq((await signer.sign(k, attestation(10n, 11n))).status, 200, "attestation 10->11 signed");
  h.eq((await signer.sign(k, attestation(11n, 12n))).status, 200, "attestation 11->12 signed");
  h.eq((await signer.sign(k, attestation(11n, 12n))).status, 412, "double vote for 12 refused");
  h.eq((await signer.sign(k, '{"type":"ATTESTATION","fork_info":')).status, 400, "malformed body");
  h.eq((await signer.sign(toHex(new Uint8Array(48).fill(0xab)), attestation(1n, 2n))).status, 404,
    "unknown key");
  const r = await metrics();
  h.eq(r.status, 200, "GET /metrics with an allowed Host");
  console.log(`metrics page after 2 signatures, 1 slashing refusal, 1 malformed request, 1 unknown key:\n${r.body}`);
  h.ok(/^text\/plain; version=0\.0\.4/.test(r.headers["content-type"] || ""), "text format 0.0.4",
    r.headers["content-type"]);
  const want = {
    eth2_slashingprotection_permitted_signings_total: 2,
    eth2_slashingprotection_prevented_signings_total: 1,
    http_bls_malformed_request_count_total: 1,
    signing_bls_missing_identifier_count_total: 1,
    signing_signers_loaded_count: 2,
    signing_bls_signing_duration_count: 5,
    nitro_signer_signing_duration_seconds_count: 5,
    'nitro_signer_signing_duration_seconds_bucket{le="+Inf"}': 5,
    'nitro_signer_signatures_total{type="ATTESTATION"}': 2,
  };
  for (const [name, v] of Object.entries(want)) h.eq(sample(r.body, name), v, name);
  h.ok(sample(r.body, "signing_bls_signing_duration_sum") > 0, "duration sum > 0");
  const types = {
    eth2_slashingprotection_permitted_signings_total: "counter",
    eth2_slashingprotection_prevented_signings_total: "counter",
    http_bls_malformed_request_count_total: "counter",
    signing_signers_loaded_count: "gauge",
    signing_bls_signing_duration: "summary",
    nitro_signer_signing_duration_seconds: "histogram",
  };
  for (const [name, t] of Object.entries(types))
    h.ok(r.body.split("\n").includes(`# TYPE ${name} ${t}`), `${name} is a ${t}`);

  // (b) Host allowlist, routes
  const bad = await metrics({ Host: `evil.example:${mport}` });
  h.eq(bad.status, 403, "another Host refused");
  h.ok(!bad.body.includes("eth2_"), "a refused Host sees no metrics");
  h.eq((await metrics({ Host: `127.0.0.1:${mport}` })).status, 200, "Host 127.0.0.1 allowed");
  h.eq((await metrics(undefined, "POST")).status, 405, "POST /metrics: 405");
  h.eq((await metrics(undefined, "GET", "/upcheck")).status, 404, "only /metrics on the metrics port");
  h.eq((await signer.get("/metrics")).status, 404, "the signing API serves no /metrics");
  await signer.stop();

  // (c) off by default; flag errors
  const quiet = await startSigner({ keyStorePath: keyDir, name: "quiet", topArgs: [`--metrics-port=${mport}`],
    eth2Args: [`--slashing-protection-db-url=sqlite:${db}`] });
  h.ok(await refused(mport), "without --metrics-enabled the metrics port is closed");
  await quiet.stop();
  const bin = signerBinary();
  for (const list of ["*,localhost", "none,localhost", "a,,b"]) {
    const run = spawnSync(bin, ["--metrics-enabled", `--metrics-host-allowlist=${list}`, "eth2"],
      { encoding: "utf8", timeout: 10_000 });
    h.eq(run.status, 2, `--metrics-host-allowlist=${list}: usage error`);
    h.ok(run.stderr.includes("--metrics-host-allowlist"), `--metrics-host-allowlist=${list}: names the flag`,
      run.stderr);
  }
  h.finish("metrics counted and served on their own listener");
}

Harness.run(h, main);
