// Helpers for the tests that drive `nitro-signer enclave` as its host would (test_e2e_full_flow,
// test_enclave_attacker): client certificates and the known-clients file the image lists them in,
// the control protocol spoken raw over the enclave's unix socket (4-byte big-endian length + JSON,
// "type" first), HTTPS to the API over TCP or straight over its unix socket, IMDS credentials, the
// key table's items turned into init records as nitro-host sends them, and a process's peak RSS.

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";

// A self-signed EC P-256 client certificate made with openssl, as an operator would make one for a
// validator client. fingerprint: openssl's SHA-256 of the DER ("AB:CD:..", the form Web3Signer's
// known-clients file takes).
export function makeClientCert(dir, name) {
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.crt`);
  const r = spawnSync("openssl", ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", `/CN=${name}`], { encoding: "utf8", timeout: 20000 });
  if (r.status !== 0) throw new Error(`openssl req (${name}): ${r.stderr}`);
  const f = spawnSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", certPath], { encoding: "utf8", timeout: 20000 });
  const m = /Fingerprint=([0-9A-F:]{95})/i.exec(f.stdout || "");
  if (f.status !== 0 || !m) throw new Error(`openssl x509 -fingerprint (${name}): ${f.stdout} ${f.stderr}`);
  return { name, certPath, keyPath, cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath), fingerprint: m[1] };
}

// The --tls-known-clients-file format: "<name> <fingerprint>" per line.
export function writeKnownClients(file, clients) {
  fs.writeFileSync(file, `# validator clients allowed to sign\n${clients.map((c) => `${c.name} ${c.fingerprint}\n`).join("")}`);
}

// ---- the control protocol -------------------------------------------------------------------

// One frame: the 4-byte big-endian length, then the bytes (a message object is encoded with its
// "type" first, as the enclave requires).
export function frame(msg) {
  let body;
  if (Buffer.isBuffer(msg)) body = msg;
  else {
    const { type, ...rest } = msg;
    body = Buffer.from(JSON.stringify({ type, ...rest }));
  }
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, body]);
}

// A connection to a control socket: send() frames or raw bytes, next() the next reply (parsed) or
// {closed: true} once the peer hung up; rejects after timeoutMs.
export class ControlConn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.closedAt = 0;
    this.waiters = [];
    this.error = null;
    sock.on("data", (d) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    sock.on("error", (e) => { this.error = e; });
    sock.on("close", () => { this.closed = true; this.closedAt = Date.now(); this.wake(); });
  }

  static connect(sockPath, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path: sockPath });
      const t = setTimeout(() => { s.destroy(); reject(new Error(`connect ${sockPath}: timeout`)); }, timeoutMs);
      s.once("connect", () => { clearTimeout(t); resolve(new ControlConn(s)); });
      s.once("error", (e) => { clearTimeout(t); reject(e); });
    });
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  // Bytes (a Buffer) or a message (framed). Writing to a connection the peer closed is not an
  // error here: the caller asks next() what happened.
  send(x) {
    if (this.closed) return;
    this.sock.write(Buffer.isBuffer(x) ? x : frame(x), () => {});
  }

  takeFrame() {
    if (this.buf.length < 4) return null;
    const n = this.buf.readUInt32BE(0);
    if (this.buf.length < 4 + n) return null;
    const body = this.buf.subarray(4, 4 + n);
    this.buf = this.buf.subarray(4 + n);
    return JSON.parse(body.toString("utf8"));
  }

  async next(timeoutMs = 30000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = this.takeFrame();
      if (f) return f;
      if (this.closed) return { closed: true };
      const left = end - Date.now();
      if (left <= 0) throw new Error(`control: no reply within ${timeoutMs} ms`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  // Resolves with the ms it took the peer to close, or null if it did not within timeoutMs.
  async closedWithin(timeoutMs, since = Date.now()) {
    const end = since + timeoutMs;
    while (!this.closed && Date.now() < end) {
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
      this.takeFrame();
    }
    return this.closed ? this.closedAt - since : null;
  }

  close() {
    this.sock.destroy();
  }
}

// One connection, one message, its reply.
export async function controlCall(sockPath, msg, timeoutMs = 30000) {
  const c = await ControlConn.connect(sockPath);
  try {
    c.send(msg);
    return await c.next(timeoutMs);
  } finally {
    c.close();
  }
}

// An init or reload: while another one is still finishing (the host's init right after a restart
// is published before its worker has let go), the enclave answers "in progress"; ask again, bounded.
export async function controlJob(sockPath, msg, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await controlCall(sockPath, msg, timeoutMs);
    if (!(r && r.ok === false && /in progress/.test(r.error || '')) || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

// ---- the API ----------------------------------------------------------------------------------

// One HTTP(S) exchange. to: {port} (TCP on 127.0.0.1) or {sock} (a unix socket); tls: {ca, cert?,
// key?} for HTTPS pinned to ca (servername localhost); agent: an https.Agent to reuse connections.
// Resolves {status, headers, body (Buffer), json(), reused}; rejects on network errors.
export function apiRequest(to, p, { method = "GET", body, headers = {}, tls: t, agent, timeoutMs = 15000 } = {}) {
  const opts = { method, path: p, headers: { ...headers }, timeout: timeoutMs };
  if (body !== undefined) {
    if (typeof body !== "string" && !Buffer.isBuffer(body)) body = JSON.stringify(body);
    opts.headers["content-type"] ??= "application/json";
    opts.headers.accept ??= "application/json";
  }
  if (t) Object.assign(opts, { ca: t.ca, cert: t.cert, key: t.key, servername: "localhost", rejectUnauthorized: true });
  if (to.sock) {
    opts.createConnection = () => (t
      ? tls.connect({ path: to.sock, ca: t.ca, cert: t.cert, key: t.key, servername: "localhost" })
      : net.connect({ path: to.sock }));
    opts.host = "localhost";
  } else {
    Object.assign(opts, { host: "127.0.0.1", port: to.port, agent: agent ?? false });
  }
  const mod = t ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(opts, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: b, reused: req.reusedSocket,
          json: () => JSON.parse(b.toString("utf8")) });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${p}`)));
    req.on("error", reject);
    req.end(body);
  });
}

// ---- AWS-side helpers ----------------------------------------------------------------------------

// The instance role's credentials from the IMDS stand-in (IMDSv2), in the shape init takes.
export async function imdsCredentials(endpoint) {
  const get = (p, headers, method = "GET") => new Promise((resolve, reject) => {
    const req = http.request(`${endpoint}${p}`, { method, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString())
        : reject(new Error(`IMDS ${p}: ${res.statusCode}`))));
    });
    req.on("timeout", () => req.destroy(new Error(`IMDS ${p}: timeout`)));
    req.on("error", reject);
    req.end();
  });
  const token = await get("/latest/api/token", { "X-aws-ec2-metadata-token-ttl-seconds": "60" }, "PUT");
  const h = { "X-aws-ec2-metadata-token": token };
  const base = "/latest/meta-data/iam/security-credentials/";
  const role = (await get(base, h)).trim();
  const c = JSON.parse(await get(base + role, h));
  return { AccessKeyId: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, Token: c.Token, Expiration: c.Expiration };
}

// Key-table items (DynamoDB JSON) -> init/reload records, as nitro-host builds them (per-key
// items only; envelope items are not needed by these tests).
export function recordsFromItems(items) {
  return items.filter((it) => it.encrypted_key_password_mnemonic_b64).map((it) => ({
    pubkey: it.pubkey.S, kind: "sample", ciphertext_b64: it.encrypted_key_password_mnemonic_b64.S,
    ...(it.kms_context ? { context: it.kms_context.S } : {}),
  }));
}

// ---- processes ----------------------------------------------------------------------------------

// Peak resident set size (VmHWM) of a live process, in KiB.
export function vmHwmKiB(pid) {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]);
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
