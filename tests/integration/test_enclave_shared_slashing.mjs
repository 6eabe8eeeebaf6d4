// test_enclave_shared_slashing.mjs: two enclaves under two nitro-host processes (the local runner),
// the same signer id, keys and KMS key, one DynamoDB slashing table: the deployment's two instances
// behind one load balancer, on one machine (stand-ins, the NSM simulator; ctest name
// integration/test_enclave_shared_slashing.mjs).
//
//  1. Both hosts start their enclave; the two enclaves agree on one TLS certificate and one MAC key
//     (whichever sealed it first, the other recovers it from the key table).
//  2. Rounds of conflicting attestations and blocks (the current epochs: the images' clock guard),
//     one half through each host's HTTPS proxy at the same instant: at most one signature per pair
//     across both enclaves (here exactly one, the other 412), every signature verifies.
//  3. The enclave under host 2 is SIGKILLed; while its watchdog restarts it, host 1 goes on signing
//     (a key kept out of the rounds); once back, the restarted enclave refuses what host 1 signed
//     meanwhile, and a last round of conflicting pairs goes through both.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fromHex, toHex, verify } from '../js/lib/bls.mjs';
import {
  awsEnvOf, binRunner, freePort, makeKeystores as makeKeystoresIn, startSimAndStandins, testRun,
  until as untilDone, writeHostConfig,
  BIN, createPinnedKey, SRC,
} from '../js/lib/proc.mjs';
import { makeClientCert, writeKnownClients } from '../js/lib/enclave.mjs';
import { builders, computeSigningRoot, currentEpoch, DOMAIN, domainAt, FORK, forkInfo, randBytes, TYPES } from '../js/lib/eth2.mjs';

assert.ok(BIN, 'NS_BIN_DIR must point at the built binaries');
const T0 = Date.now();
const SIGNER_ID = 'shared-signer';
const TABLE = 'nitro-keys-shared';
const SLASHING_TABLE = 'nitro-slashing-shared';
// The image's clock guard signs only within 2 epochs of now: the rounds use the epochs around now.
const ROUNDS = 3;

const { tmp, children } = testRun('ns-shared-encl-');
const { runOk } = binRunner(BIN);
let failures = 0;
let checks = 0;
const elapsed = () => `${((Date.now() - T0) / 1000).toFixed(1)} s`;
const check = (cond, msg) => { checks++; assert.ok(cond, msg); };
async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t} ms, at ${elapsed()})`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n${e.stack || e}`);
    throw e;
  }
}
const logPath = path.join(tmp, 'host.log'); // both hosts (testRun kills the enclaves it names)
const logTail = (n = 40) => { try { return fs.readFileSync(logPath, 'utf8').trim().split('\n').slice(-n).join('\n'); } catch { return ''; } };
const until = (what, fn, ms) => untilDone(what, fn, ms, () => `host log tail:\n${logTail()}`);

function request(url, { method = 'GET', body, headers = {}, ...tls } = {}) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, agent: false, timeout: 15000, ...tls }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}
const json = (r) => JSON.parse(r.body.toString());

const simDir = path.join(tmp, 'sim');
const SIM_PCR0 = crypto.createHash('sha384').update('nitro-signer shared-slashing enclave image').digest('hex');
let env;
let keys;
const client = makeClientCert(tmp, 'shared-validator-client');
const knownClients = path.join(tmp, 'known-clients.txt');
writeKnownClients(knownClients, [client]);
const hostLog = fs.openSync(logPath, 'a');
const hosts = [];

function startHost(i) {
  const dir = path.join(tmp, `h${i}`);
  fs.mkdirSync(dir, { recursive: true });
  const h = hosts[i] || { dir, port: null, certPath: path.join(dir, 'tls.crt') };
  const sock = (n) => path.join(dir, n);
  const configPath = path.join(dir, 'nitro-host.yaml');
  writeHostConfig({ configPath, writer: 'test_enclave_shared_slashing.mjs', tmp: dir, env, signerId: SIGNER_ID,
    table: TABLE, enclaveCmd: [path.join(BIN, 'nitro-signer'), 'enclave', `--control=unix:${sock('control.sock')}`,
      `--http-listen=unix:${sock('api.sock')}`, `--nsm=sim:${simDir}`, `--tls-kms-key-id=${env.KEY_ARN}`,
      `--signer-id=${SIGNER_ID}`, `--tls-known-clients-file=${knownClients}`],
    port: h.port, certPath: h.certPath, maxBackoffS: 1, slashingDbUrl: `dynamodb://${SLASHING_TABLE}` });
  const hostEnv = { ...process.env };
  for (const k of Object.keys(hostEnv)) if (k.startsWith('AWS_')) delete hostEnv[k];
  h.proc = spawn(path.join(BIN, 'nitro-host'), ['run', `--config=${configPath}`, '--log-format=json'],
    { env: hostEnv, stdio: ['ignore', hostLog, hostLog] });
  children.add(h.proc);
  hosts[i] = h;
  return h;
}

const health = async (h) => {
  const r = await request(`http://127.0.0.1:${h.port.health}/health`);
  return { ...json(r), http: r.status };
};
const ready = (h, notPid) => until(`host ${h.dir} ready`, async () => {
  if (h.proc.exitCode !== null) throw Object.assign(new Error(`nitro-host exited ${h.proc.exitCode}`), { fatal: true });
  const x = await health(h);
  return x.http === 200 && x.enclave?.ready && x.enclave.keys_loaded === keys.length && x.enclave.pid !== notPid ? x : null;
}, 40000);
const post = (h, p, body) => request(`https://localhost:${h.port.api}${p}`, {
  method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', accept: 'application/json' },
  ca: fs.readFileSync(h.certPath), cert: client.cert, key: client.key,
  lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) });

await step('stand-ins, KMS key pinned to the simulator PCR0, key and slashing tables, 9 validators uploaded', async () => {
  env = await startSimAndStandins({ src: SRC, tmp, simDir, pcr0: SIM_PCR0, name: 'shared', children });
  env.KEY_ARN = await createPinnedKey({ runOk, env, pcr0: SIM_PCR0, description: 'shared' });
  const awsEnv = awsEnvOf(env);
  runOk('nitro-keys', ['kms', 'create-table', `--table=${TABLE}`], { env: awsEnv });
  runOk('nitro-signer', ['eth2', `--slashing-protection-db-url=dynamodb://${SLASHING_TABLE}`, 'create-table'],
    { env: awsEnv });
  const pw = path.join(tmp, 'password.txt');
  fs.writeFileSync(pw, 'shared keystore password\n', { mode: 0o600 });
  const dir = path.join(tmp, 'ks');
  keys = makeKeystoresIn(runOk, dir, 9, pw, 2);
  runOk('nitro-keys', ['kms', 'encrypt', `--key-id=${env.KEY_ARN}`, `--signer-id=${SIGNER_ID}`, `--keystores-path=${dir}`,
    `--keystores-passwords-path=${dir}`, '--chain=mainnet', '--upload', `--table=${TABLE}`], { env: awsEnv });
});

await step('two hosts, two enclaves: one TLS certificate, one MAC key between them', async () => {
  for (const i of [0, 1]) {
    hosts[i] = { dir: path.join(tmp, `h${i}`), port: { api: await freePort(), health: await freePort() } };
    hosts[i].certPath = path.join(hosts[i].dir, 'tls.crt');
    startHost(i); // both at once: they race to seal the TLS and MAC keys
  }
  for (const h of hosts) h.health = await ready(h);
  const [c0, c1] = hosts.map((h) => fs.readFileSync(h.certPath, 'utf8'));
  check(c0 === c1, 'both enclaves serve the same certificate');
  const log = fs.readFileSync(logPath, 'utf8');
  const created = (log.match(/MAC key created/g) || []).length;
  const recovered = (log.match(/MAC key recovered/g) || []).length;
  check(created === 1 && recovered === 1, `one enclave sealed the MAC key, the other recovered it: ${created}/${recovered}`);
});

// A Fulu block (its header, as validator clients send it) at exactly this slot.
function block(slot) {
  const fi = forkInfo(FORK.FULU);
  const hdr = { slot, proposerIndex: 7n, parentRoot: randBytes(32), stateRoot: randBytes(32), bodyRoot: randBytes(32) };
  const root = computeSigningRoot(TYPES.header.hashTreeRoot(hdr), domainAt(DOMAIN.BEACON_PROPOSER, fi, slot / 32n));
  return { root, body: { type: 'BLOCK_V2', fork_info: fi,
    beacon_block: { version: 'FULU', block_header: TYPES.header.toJson(hdr) } } };
}

let pairs = 0;
async function conflictingRound(epoch, slot) {
  const jobs = [];
  for (const pk of keys.slice(0, 8)) { // the 9th is step 3's
    const a1 = builders.ATTESTATION(FORK.FULU, epoch, { sourceEpoch: epoch - 1n });
    const a2 = builders.ATTESTATION(FORK.FULU, epoch, { sourceEpoch: epoch - 1n });
    const b1 = block(slot);
    const b2 = block(slot);
    for (const [m1, m2, kind] of [[a1, a2, 'vote'], [b1, b2, 'block']]) {
      const order = crypto.randomInt(2) ? [0, 1] : [1, 0];
      jobs.push(Promise.all([post(hosts[order[0]], `/api/v1/eth2/sign/${pk}`, m1.body),
        post(hosts[order[1]], `/api/v1/eth2/sign/${pk}`, m2.body)]).then((res) => ({ pk, kind, m: [m1, m2], res })));
    }
  }
  for (const j of await Promise.all(jobs)) {
    pairs++;
    const ok = j.res.filter((r) => r.status === 200);
    check(ok.length === 1, `${j.kind} pair for ${j.pk}: exactly one signed, got ${j.res.map((r) => `${r.status} ${r.body}`)}`);
    const i = j.res.findIndex((r) => r.status === 200);
    const other = j.res[1 - i];
    check(other.status === 412, `the other half is 412: ${other.status} ${other.body}`);
    const sig = json(j.res[i]).signature;
    check(verify(fromHex(sig), j.m[i].root, fromHex(j.pk)), `the ${j.kind} signature verifies`);
  }
}

const base = currentEpoch() - 1n;
await step(`${ROUNDS} rounds of conflicting votes and blocks through both hosts at once: one signature per pair`, async () => {
  for (let r = 0; r < ROUNDS; r++) await conflictingRound(base + BigInt(r), (base + BigInt(r)) * 32n + 5n);
});

await step('enclave 2 killed: host 1 signs meanwhile; enclave 2 restarted refuses what host 1 signed', async () => {
  const h = hosts[1];
  const pid = h.health.enclave.pid;
  process.kill(pid, 'SIGKILL');
  const e = base + BigInt(ROUNDS); // within the guard's window
  const spare = keys[8];
  const att = builders.ATTESTATION(FORK.FULU, e, { sourceEpoch: e - 1n });
  const r1 = await post(hosts[0], `/api/v1/eth2/sign/${spare}`, att.body);
  check(r1.status === 200, `host 1 signs while enclave 2 restarts: ${r1.status} ${r1.body}`);
  h.health = await ready(h, pid);
  const conflicting = { ...att.body, attestation: { ...att.body.attestation, beacon_block_root: toHex(crypto.randomBytes(32)) } };
  const r2 = await post(h, `/api/v1/eth2/sign/${spare}`, conflicting);
  check(r2.status === 412, `the restarted enclave refuses the double vote: ${r2.status} ${r2.body}`);
  const r3 = await post(h, `/api/v1/eth2/sign/${spare}`, att.body);
  check(r3.status === 200 && json(r3).signature === json(r1).signature, 'the exact repeat is signed, the same signature');
  await conflictingRound(e, e * 32n + 7n);
});

await step('SIGTERM both hosts: exit 0', async () => {
  for (const h of hosts) h.proc.kill('SIGTERM');
  for (const h of hosts) {
    const c = await until('exit', async () => (h.proc.exitCode !== null ? { code: h.proc.exitCode } : null), 10000);
    check(c.code === 0, `exit ${c.code}`);
  }
});

console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: ${checks} checks, ${pairs} conflicting pairs through two enclaves in ${elapsed()}`);
process.exit(failures === 0 ? 0 : 1);
