// keymanager.mjs: what the Keymanager API tests share: a client for /eth/v1/keystores with a bearer
// token, and a check of every response body against the API's own schemas
// (tests/vectors/keymanager-apis/schemas.json, transcribed from the OpenAPI YAML copied beside it).
import fs from "node:fs";
import path from "node:path";
import { httpRequest } from "./signer.mjs";
import { DOMAIN, FORK, TYPES, computeSigningRoot, domainAt, forkInfo, randBytes } from "./eth2.mjs";

const VEC = (src) => path.join(src, "tests/vectors/keymanager-apis");

// The schemas, after checking every enum value and pattern of the JSON also appears in the YAML copy
// (so a transcription slip in schemas.json cannot go unnoticed).
export function loadSchemas(src) {
  const schemas = JSON.parse(fs.readFileSync(path.join(VEC(src), "schemas.json"), "utf8"));
  const yaml = ["apis/local_keystores.yaml", "types/public_key.yaml"]
    .map((f) => fs.readFileSync(path.join(VEC(src), f), "utf8")).join("\n");
  const missing = [];
  const walk = (s) => {
    if (!s || typeof s !== "object") return;
    for (const v of s.enum || []) if (!new RegExp(`- ${v}\\b`).test(yaml)) missing.push(`enum ${v}`);
    if (s.pattern && !yaml.includes(s.pattern)) missing.push(`pattern ${s.pattern}`);
    for (const v of Object.values(s)) walk(v);
  };
  walk(schemas);
  if (missing.length) throw new Error(`schemas.json disagrees with the YAML: ${missing.join(", ")}`);
  return schemas;
}

// The problems of value against schema (a subset of JSON Schema: type, required, properties, items,
// enum, pattern; what the Keymanager's response schemas use). Empty: valid.
export function schemaProblems(schema, value, at = "$") {
  const out = [];
  const t = schema.type;
  const isType = { object: (v) => v && typeof v === "object" && !Array.isArray(v), array: Array.isArray,
    string: (v) => typeof v === "string", boolean: (v) => typeof v === "boolean" };
  if (t && !isType[t](value)) return [`${at}: expected ${t}, got ${JSON.stringify(value)?.slice(0, 80)}`];
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not one of ${schema.enum}`);
  if (schema.pattern && !new RegExp(schema.pattern).test(value)) out.push(`${at}: ${value} does not match ${schema.pattern}`);
  for (const k of schema.required || []) if (!(k in value)) out.push(`${at}: ${k} missing`);
  for (const [k, s] of Object.entries(schema.properties || {}))
    if (value[k] !== undefined) out.push(...schemaProblems(s, value[k], `${at}.${k}`));
  if (schema.items) value.forEach((v, i) => out.push(...schemaProblems(schema.items, v, `${at}[${i}]`)));
  return out;
}

// A client of one signer's Keymanager API. Every reply's body is checked against the schema of
// its status (200: the operation's, anything else: ErrorResponse) by check(problems, reply) of the
// caller (a Harness check), and comes back as {status, body, json}.
export class KeyManager {
  constructor({ port, token, schemas, check, tls }) {
    Object.assign(this, { port, token, schemas, check, tls });
  }

  async call(method, body, { token = this.token, raw, headers = {} } = {}) {
    const h = { ...headers };
    if (token !== null) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h["Content-Type"] = "application/json";
    const text = raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body);
    // Node frames a DELETE body only with a Content-Length (validator clients send one too).
    if (text !== undefined) h["Content-Length"] = Buffer.byteLength(text);
    const res = await httpRequest({ port: this.port, tls: this.tls, method, path: "/eth/v1/keystores", headers: h,
      body: text });
    let json;
    try { json = JSON.parse(res.body); } catch { json = undefined; }
    const name = res.status !== 200 ? "ErrorResponse"
      : { GET: "ListKeysResponse", POST: "ImportKeystoresResponse", DELETE: "DeleteKeysResponse" }[method];
    const problems = json === undefined ? [`body is not JSON: ${res.body.slice(0, 200)}`]
      : schemaProblems(this.schemas[name], json);
    this.check(problems, `${method} /eth/v1/keystores ${res.status}: the body is a valid ${name}`);
    return { status: res.status, body: res.body, json };
  }

  list(opts) { return this.call("GET", undefined, opts); }
  import(keystores, passwords, slashingProtection, opts) {
    const b = { keystores, passwords };
    if (slashingProtection !== undefined) b.slashing_protection = slashingProtection;
    return this.call("POST", b, opts);
  }
  delete(pubkeys, opts) { return this.call("DELETE", { pubkeys }, opts); }
}

// The signer flags of a Keymanager-enabled standalone signer keeping its keys in dir/keys and
// dir/passwords (both made here), its token in dir/token.
export function keymanagerArgs(dir, extra = []) {
  for (const d of ["keys", "passwords"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  return [`--keystores-path=${path.join(dir, "keys")}`, `--keystores-passwords-path=${path.join(dir, "passwords")}`,
    "--key-manager-api-enabled=true", `--key-manager-api-token-file=${path.join(dir, "token")}`, ...extra];
}

// Slashable messages for the tests that sign around imports and deletes: {root, body} of an
// attestation (source, target) and a block header at slot, mainnet Fulu, random roots inside.
const FI = forkInfo(FORK.FULU);
export function attestation(source, target) {
  const d = { slot: BigInt(target) * 32n, index: 0n, beaconBlockRoot: randBytes(32),
    source: { epoch: BigInt(source), root: new Uint8Array(32).fill(0x55) },
    target: { epoch: BigInt(target), root: new Uint8Array(32).fill(0x66) } };
  const root = computeSigningRoot(TYPES.attData.hashTreeRoot(d), domainAt(DOMAIN.BEACON_ATTESTER, FI, BigInt(target)));
  return { root, body: { type: "ATTESTATION", fork_info: FI, attestation: TYPES.attData.toJson(d) } };
}
export function block(slot) {
  const hdr = { slot: BigInt(slot), proposerIndex: 7n, parentRoot: randBytes(32), stateRoot: randBytes(32), bodyRoot: randBytes(32) };
  const root = computeSigningRoot(TYPES.header.hashTreeRoot(hdr), domainAt(DOMAIN.BEACON_PROPOSER, FI, BigInt(slot) / 32n));
  return { root, body: { type: "BLOCK_V2", fork_info: FI, beacon_block: { version: "FULU", block_header: TYPES.header.toJson(hdr) } } };
}
// The reason code of a 412.
export const reasonOf = (res) => { try { return JSON.parse(res.body).reason; } catch { return undefined; } };
