// Shared helper for the end-to-end tests: runs the real nitro-signer binary on a free 127.0.0.1 port
// with Web3Signer-style flags, waits for GET /upcheck, and offers raw HTTP(S) request helpers that
// can send anything (bad Host headers, missing Content-Type, oversized or non-JSON bodies).
//
// Every child process and temp dir created here is registered and removed on every exit path
// (normal exit, exception, SIGINT/SIGTERM), so a failing test never leaves a signer running.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { freePort } from "./ports.mjs";

const children = new Set();
const tempDirs = new Set();

function cleanup() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    console.error(`interrupted by ${sig}`);
    process.exit(1); // the exit hook cleans up
  });
}
for (const ev of ["uncaughtException", "unhandledRejection"]) {
  process.on(ev, (err) => {
    console.error(`FAIL: ${ev}: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  });
}

export function makeTempDir(prefix = "ns-test-") {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function signerBinary() {
  const dir = process.env.NS_BIN_DIR
    || (process.env.NS_BUILD_DIR && path.join(process.env.NS_BUILD_DIR, "bin"))
    || path.join(process.env.NS_SOURCE_DIR || path.resolve(import.meta.dirname, "../../.."), "build", "bin");
  return path.join(dir, "nitro-signer");
}

// A free 127.0.0.1 port for the signer (below the ephemeral range: ports.mjs).
export { freePort };

// Writes one Web3Signer "file-raw" YAML key config per key into dir.
export function writeKeyConfigs(dir, keys) {
  keys.forEach((k, i) => {
    fs.writeFileSync(path.join(dir, `key-${i}.yaml`),
      `type: "file-raw"\nkeyType: "BLS"\nprivateKey: "${k.skHex}"\n`, { mode: 0o600 });
  });
}

/**
 * One HTTP(S) exchange with full control over headers and body. Never rejects: network failures
 * come back as {status: 0, error}. tls = {ca, cert?, key?} selects HTTPS.
 */
export function httpRequest({ port, method = "GET", path: p = "/", headers = {}, body, tls, timeoutMs = 10_000 }) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const opts = { host: "127.0.0.1", port, method, path: p, headers, agent: false };
    if (tls) Object.assign(opts, { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true });
    const req = (tls ? https : http).request(opts, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => settle({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (error) => settle({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), error }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", (error) => settle({ status: 0, headers: {}, body: "", error }));
    req.end(body);
  });
}

export class Signer {
  constructor({ port, proc, tls, name }) {
    this.port = port;
    this.proc = proc;
    this.tls = tls;
    this.name = name;
    this.log = "";
    const keep = (chunk) => {
      this.log = (this.log + chunk.toString("utf8")).slice(-32_768);
    };
    proc.stdout.on("data", keep);
    proc.stderr.on("data", keep);
    this.exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  }

  alive() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  request(opts) {
    return httpRequest({ port: this.port, tls: this.tls, ...opts });
  }

  get(p, headers = {}) {
    return this.request({ method: "GET", path: p, headers });
  }

  /**
   * POST /api/v1/eth2/sign/<pubkey>. body: object (JSON-encoded here) or a raw string/Buffer.
   * accept: Accept header value, or null for none. contentType: null to omit.
   */
  sign(pubkeyHex, body, { accept = "application/json", contentType = "application/json", headers = {}, timeoutMs } = {}) {
    const h = { ...headers };
    if (contentType !== null) h["Content-Type"] = contentType;
    if (accept !== null) h.Accept = accept;
    const raw = typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    return this.request({ method: "POST", path: `/api/v1/eth2/sign/${pubkeyHex}`, headers: h, body: raw, timeoutMs });
  }

  // SIGTERM, then SIGKILL after a grace period. Returns {code, signal}.
  async stop(graceMs = 3000) {
    if (this.alive()) {
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.alive() && this.proc.kill("SIGKILL"), graceMs);
      const r = await this.exited;
      clearTimeout(timer);
      children.delete(this.proc);
      return r;
    }
    children.delete(this.proc);
    return this.exited;
  }
}

/**
 * Starts nitro-signer and waits until GET /upcheck answers 200 (20 s, polled every 100 ms).
 * topArgs go before the `eth2` subcommand, eth2Args after `eth2 --network=<network>` (mainnet
 * unless given: a name or a config file).
 * tls ({ca, cert?, key?}) is used for the readiness poll and later requests.
 * Retries on a fresh port if the signer dies before becoming ready (port race).
 */
export async function startSigner({ keyStorePath, topArgs = [], eth2Args = [], tls, name = "signer", cwd, network = "mainnet" }) {
  const bin = signerBinary();
  if (!fs.existsSync(bin)) throw new Error(`signer binary not found: ${bin} (set NS_BIN_DIR)`);
  const workDir = cwd || makeTempDir("ns-signer-cwd-");
  let lastLog = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = [
      "--http-listen-host=127.0.0.1",
      `--http-listen-port=${port}`,
      `--key-store-path=${keyStorePath}`,
      ...topArgs,
      "eth2",
      `--network=${network}`,
      ...eth2Args,
    ];
    const proc = spawn(bin, args, { cwd: workDir, stdio: ["ignore", "pipe", "pipe"] });
    children.add(proc);
    const s = new Signer({ port, proc, tls, name });
    const spawnError = new Promise((resolve) => proc.on("error", resolve));
    const deadline = Date.now() + 20_000;
    let last;
    while (Date.now() < deadline) {
      if (!s.alive()) break;
      last = await s.request({ method: "GET", path: "/upcheck", timeoutMs: 2000 });
      if (last.status === 200) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    const err = await Promise.race([spawnError, new Promise((r) => setTimeout(() => r(null), 10))]);
    if (err) throw new Error(`${name}: cannot run ${bin}: ${err.message}`);
    if (s.alive()) {
      await s.stop();
      throw new Error(`${name}: /upcheck not 200 within 20 s (last: ${last ? last.status || last.error : "none"}); args: ${args.join(" ")}\n${s.log}`);
    }
    const { code, signal } = await s.exited;
    children.delete(proc);
    lastLog = `${name}: exited before ready (code ${code}, signal ${signal}); args: ${args.join(" ")}\n${s.log}`;
    if (!/address already in use|EADDRINUSE|bind/i.test(s.log)) break;
  }
  throw new Error(lastLog);
}

const SIG_RE = /^0x[0-9a-f]{192}$/;

/**
 * The signature in a 200 reply, checking the reply's form against the Accept rule (reference 3.3):
 * JSON {"signature":"0x.."} with application/json, or the bare 0x.. hex as text/plain.
 * Returns {sig} or {problem}.
 */
export function signatureFrom(res, expectJson) {
  const ct = String(res.headers["content-type"] || "");
  if (res.status !== 200) return { problem: `status ${res.status || res.error}: ${res.body.slice(0, 300)}` };
  if (expectJson) {
    if (!/^application\/json\b/i.test(ct)) return { problem: `Content-Type ${ct}, want application/json` };
    let j;
    try {
      j = JSON.parse(res.body);
    } catch {
      return { problem: `body is not JSON: ${res.body.slice(0, 300)}` };
    }
    if (!j || typeof j.signature !== "string" || !SIG_RE.test(j.signature)) return { problem: `bad JSON signature body: ${res.body.slice(0, 300)}` };
    return { sig: j.signature };
  }
  if (!/^text\/plain\b/i.test(ct)) return { problem: `Content-Type ${ct}, want text/plain` };
  if (!SIG_RE.test(res.body)) return { problem: `text body is not 0x + 192 lower-case hex: ${JSON.stringify(res.body.slice(0, 300))}` };
  return { sig: res.body };
}

// The message of an error reply {"error":"..."}, or null when the body is not that shape.
export function errorMessage(res) {
  try {
    const j = JSON.parse(res.body);
    return j && typeof j === "object" && !Array.isArray(j) && typeof j.error === "string" ? j.error : null;
  } catch {
    return null;
  }
}
