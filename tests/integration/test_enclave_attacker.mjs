// test_enclave_attacker.mjs: the parent instance as the adversary (ctest name
// integration/test_enclave_attacker.mjs; alone: `ctest --test-dir build -R enclave_attacker`).
//
// The whole system on one machine as in test_e2e_full_flow.mjs (stand-ins for KMS, DynamoDB and
// IMDS, the NSM simulator, nitro-keys, nitro-host run with the local runner), with an enclave
// image that lists ONE validator client (--tls-known-clients-file) and names its signer id. Then
// this test plays the host: it holds the enclave's API and control unix sockets and the host's
// TCP proxy, and it also plays an unlisted TLS client. Every attack must fail and the listed
// client must keep working:
//
//  1. health routes answer anyone (a load balancer has no client certificate);
//  2. without a certificate (401) or with an unlisted one (403) nothing is signed, listed or
//     read; the listed client signs duties, is refused exits and deposits (type_not_allowed),
//     and slashing protection refuses its conflicting block; the image's clock guard (NSM time)
//     refuses its far-future vote and stale block, recording nothing;
//  3. killing the enclave changes none of that (the watchdog restarts it);
//  4. reload: not served over HTTP; the control reload cannot empty the signer;
//  5. init naming another signer id is refused; another signer's records do not load;
//  6. control frames built to exhaust memory are refused, peak RSS stays small;
//  7. a connection flood does not lock the listed client out;
//  8. an image that says --tls-allow-any-client and lists exit/deposit types signs them;
//  9. the flags that would need a TLS identity are usage errors without one.
// One line per step ("ok ..." / "FAIL ..."); exit 1 on any failure.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fromHex, toHex, verify } from '../js/lib/bls.mjs';
import {
  awsEnvOf, binRunner, freePort, makeKeystores as makeKeystoresIn, sleep, startSimAndStandins, testRun,
  until as untilDone, writeHostConfig,
  BIN, createPinnedKey, SRC,
} from '../js/lib/proc.mjs';
import { builders, computeSigningRoot, currentEpoch, DOMAIN, domainAt, epochOfSlot, FORK, TYPES } from '../js/lib/eth2.mjs';
import {
  alive, apiRequest, ControlConn, controlCall, controlJob, frame, imdsCredentials, makeClientCert, recordsFromItems,
  vmHwmKiB, writeKnownClients,
} from '../js/lib/enclave.mjs';

const require = createRequire(new URL('../js/package.json', import.meta.url));
const ddbSdk = require('@aws-sdk/client-dynamodb');

assert.ok(BIN, 'NS_BIN_DIR must point at the built binaries');
const T0 = Date.now();
const SIGNER_ID = 'attack-signer';
const OTHER_SIGNER = 'other-signer';
const TABLE = 'nitro-keys-attack';
const MAX_CONNS = 8;
const RSS_LIMIT_KIB = 200 * 1024;
// Step 6 measures the enclave's peak RSS: under AddressSanitizer freed memory would stay resident in
// its quarantine (256 MiB by default) and count as if the parser still held it. A small quarantine
// keeps the measure about what is in use (ignored by builds without ASan).
process.env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=16'].filter(Boolean).join(':');
const CONTROL_MAX_FRAME = 16 * 1024 * 1024;

const { tmp, children } = testRun('ns-attack-');
let failures = 0;
let passed = 0;
process.on('unhandledRejection', (e) => { console.log(`FAIL unhandled rejection: ${e?.stack || e}`); process.exit(1); });
// The whole test is bounded: a hang anywhere is a failure, not a stuck ctest.
setTimeout(() => {
  console.log(`FAIL watchdog: still running after 110 s\nhost log tail:\n${logTail('host.log')}`);
  process.exit(1);
}, 110000).unref();

const elapsed = () => `${((Date.now() - T0) / 1000).toFixed(1)} s`;
const info = (s) => console.log(`     ${s}`);

// A step that fails is reported and the run goes on (the later steps are independent attacks),
// unless it is setup the rest needs (fatal).
async function step(name, fn, { fatal = false } = {}) {
  const t = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t} ms, at ${elapsed()})`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n${e.stack || e}`);
    if (fatal) {
      console.log(`host log tail:\n${logTail('host.log')}`);
      process.exit(1);
    }
  }
}

const until = (what, fn, ms) => untilDone(what, fn, ms, () => `host log tail:\n${logTail('host.log')}`);

function logTail(name, n = 30) {
  try { return fs.readFileSync(path.join(tmp, name), 'utf8').trim().split('\n').slice(-n).join('\n'); } catch { return ''; }
}


const { run, runOk } = binRunner(BIN, 30000);

function plainRequest(url, { method = 'GET', body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ---- setup: stand-ins, the KMS key pinned to the simulator's PCR0 ----
const simDir = path.join(tmp, 'sim');
const SIM_PCR0 = crypto.createHash('sha384').update('nitro-signer attacker-test enclave image').digest('hex');
let env;

await step('setup: stand-ins up, KMS key pinned to the simulator PCR0', async () => {
  env = await startSimAndStandins({ src: SRC, tmp, simDir, pcr0: SIM_PCR0, name: 'attacker-test', children });
  env.KEY_ARN = await createPinnedKey({ runOk, env, pcr0: SIM_PCR0, description: 'attacker-test key' });
}, { fatal: true });

const awsEnv = () => awsEnvOf(env);

// ---- keys: two for our signer, two for another signer under the same KMS key ----
const pwFile = path.join(tmp, 'password.txt');
fs.writeFileSync(pwFile, 'attacker test keystore password\n', { mode: 0o600 });
const makeKeystores = (dir, n) => makeKeystoresIn(runOk, dir, n, pwFile, 1);
const ddb = () => new ddbSdk.DynamoDBClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
async function itemsOf(signer) {
  const r = await ddb().send(new ddbSdk.QueryCommand({ TableName: TABLE, KeyConditionExpression: 'web3signer_uuid = :s',
    ExpressionAttributeValues: { ':s': { S: signer } } }));
  return r.Items.filter((it) => !it.pubkey.S.startsWith('tls:'));
}

// NS_ATTACKER_BASELINE=1 runs the same attacks against binaries from before the image flags existed
// (NS_BIN_DIR of an older build): the flags they do not know are left out, so the transcript shows
// which attacks used to succeed. Normal runs never set it.
const BASELINE = process.env.NS_ATTACKER_BASELINE === '1';

let ourKeys, otherKeys, ourRecords, otherRecords;
await step('setup: nitro-keys uploads 2 keys for our signer and 2 for another signer, same KMS key', async () => {
  runOk('nitro-keys', ['kms', 'create-table', `--table=${TABLE}`], { env: awsEnv() });
  ourKeys = makeKeystores(path.join(tmp, 'ks-ours'), 2);
  otherKeys = makeKeystores(path.join(tmp, 'ks-other'), 2);
  for (const [dir, signer] of [['ks-ours', SIGNER_ID], ['ks-other', OTHER_SIGNER]])
    runOk('nitro-keys', ['kms', 'encrypt', `--key-id=${env.KEY_ARN}`, `--signer-id=${signer}`,
      `--keystores-path=${path.join(tmp, dir)}`, `--keystores-passwords-path=${path.join(tmp, dir)}`, '--chain=mainnet',
      '--upload', `--table=${TABLE}`], { env: awsEnv() });
  const ours = await itemsOf(SIGNER_ID);
  const other = await itemsOf(OTHER_SIGNER);
  assert.equal(ours.length, 2);
  assert.equal(other.length, 2);
  for (const it of BASELINE ? [] : [...ours, ...other])
    assert.deepEqual(it.kms_context, { S: 'nitro-signer-key-v1' }, `item ${it.pubkey.S} says its KMS context`);
  ourRecords = recordsFromItems(ours);
  otherRecords = recordsFromItems(other);
}, { fatal: true });

// ---- client certificates: one listed, one not ----
const vc = makeClientCert(tmp, 'validator-client');
const intruder = makeClientCert(tmp, 'intruder');
const knownClients = path.join(tmp, 'known-clients.txt');
writeKnownClients(knownClients, [vc]);

// ---- nitro-host run ----
const port = { api: await freePort(), health: await freePort() };
const sock = (n) => path.join(tmp, n);
const certPath = path.join(tmp, 'tls.crt');
const configPath = path.join(tmp, 'nitro-host.yaml');
const imageFlags = (flags) => (BASELINE
  ? flags.filter((f) => !/^--(signer-id|allow-signing-types|http-max-connections)=/.test(f)) : flags);
const enclaveCmd = imageFlags([path.join(BIN, 'nitro-signer'), 'enclave', `--control=unix:${sock('control.sock')}`,
  `--http-listen=unix:${sock('api.sock')}`, `--nsm=sim:${simDir}`, `--tls-kms-key-id=${env.KEY_ARN}`,
  `--signer-id=${SIGNER_ID}`, `--tls-known-clients-file=${knownClients}`, `--http-max-connections=${MAX_CONNS}`]);
writeHostConfig({ configPath, writer: 'test_enclave_attacker.mjs', tmp, env, signerId: SIGNER_ID, table: TABLE,
  enclaveCmd, port, certPath, maxBackoffS: 1 });

let host;
let h1;
let enclaveCert;
const health = async () => {
  const r = await plainRequest(`http://127.0.0.1:${port.health}/health`);
  return { ...JSON.parse(r.body), http: r.status };
};

await step('setup: nitro-host run starts the image (1 known client, --signer-id, max 8 connections); 2 keys load', async () => {
  const hostEnv = { ...process.env };
  for (const k of Object.keys(hostEnv)) if (k.startsWith('AWS_')) delete hostEnv[k];
  const log = fs.openSync(path.join(tmp, 'host.log'), 'a');
  host = spawn(path.join(BIN, 'nitro-host'), ['run', `--config=${configPath}`, '--log-format=json'],
    { env: hostEnv, stdio: ['ignore', log, log] });
  children.add(host);
  h1 = await until('the enclave ready', async () => {
    if (host.exitCode !== null) throw Object.assign(new Error(`nitro-host exited ${host.exitCode}`), { fatal: true });
    const h = await health();
    return h.http === 200 && h.enclave?.ready ? h : null;
  }, 30000);
  assert.equal(h1.enclave.keys_loaded, 2, JSON.stringify(h1));
  enclaveCert = fs.readFileSync(certPath, 'utf8');
  assert.match(enclaveCert, /BEGIN CERTIFICATE/);
}, { fatal: true });

// Who talks to the API: the host itself (no certificate, on the enclave's unix socket), the
// unlisted client and the listed one (through the host's TCP proxy). All pin the enclave's
// certificate: the TLS handshake itself succeeds for every one of them.
const HOST = { to: { sock: sock('api.sock') }, tls: () => ({ ca: enclaveCert }) };
const HOST_TCP = { to: { port: port.api }, tls: () => ({ ca: enclaveCert }) };
const INTRUDER = { to: { port: port.api }, tls: () => ({ ca: enclaveCert, cert: intruder.cert, key: intruder.key }) };
const LISTED = { to: { port: port.api }, tls: () => ({ ca: enclaveCert, cert: vc.cert, key: vc.key }) };
const call = (who, p, opts = {}) => apiRequest(who.to, p, { tls: who.tls(), ...opts });
const sign = (who, pubkey, body, opts = {}) => call(who, `/api/v1/eth2/sign/${pubkey}`, { method: 'POST', body, ...opts });
const body = (r) => r.body.toString('utf8');

function expectRefused(r, status, what) {
  const want = status === 401 ? 'client certificate required' : 'client certificate not authorised';
  assert.equal(r.status, status, `${what}: want ${status}, got ${r.status} ${body(r)}`);
  assert.deepEqual(r.json(), { error: want }, `${what}: body`);
  assert.ok(!/signature/.test(body(r)), `${what}: no signature in the answer`);
}
function expectSigned(r, c, pubkey, what) {
  assert.equal(r.status, 200, `${what}: ${r.status} ${body(r)}`);
  assert.ok(verify(fromHex(r.json().signature), c.root, fromHex(pubkey)), `${what}: the signature verifies (noble, Lodestar root)`);
}
function expectTypeRefused(r, what) {
  assert.equal(r.status, 403, `${what}: ${r.status} ${body(r)}`);
  const j = r.json();
  assert.equal(j.reason, 'type_not_allowed', `${what}: ${body(r)}`);
  assert.equal(typeof j.error, 'string');
  assert.ok(!('signature' in j));
}

// The same slot, two different blocks: B is the listed client's, A the attacker's (and later a
// conflicting proposal slashing protection must refuse).
// The enclave's clock guard (2 epochs, NSM time = this machine's here) signs only near now.
const epoch = currentEpoch();
const blockB = builders.BLOCK_V2(FORK.FULU, epoch);
const hdrA = { ...blockB.body.beacon_block.block_header, body_root: toHex(crypto.randomBytes(32)) };
const blockA = { body: { ...blockB.body, beacon_block: { ...blockB.body.beacon_block, block_header: hdrA } } };
blockA.root = computeSigningRoot(TYPES.header.hashTreeRoot(TYPES.header.fromJson(hdrA)),
  domainAt(DOMAIN.BEACON_PROPOSER, blockB.body.fork_info, epochOfSlot(BigInt(hdrA.slot))));
const att = builders.ATTESTATION(FORK.FULU, epoch, { sourceEpoch: epoch - 1n });
const exitMsg = builders.VOLUNTARY_EXIT(FORK.FULU, epoch);
const deposit = builders.DEPOSIT({ pk: fromHex(ourKeys[0]) });

// ---- 1 ----
await step('1 health routes answer with no client certificate: /upcheck, /healthcheck, /attestation', async () => {
  for (const who of [HOST, HOST_TCP]) {
    const u = await call(who, '/upcheck');
    assert.equal(u.status, 200, `upcheck ${u.status} ${body(u)}`);
    const h = await call(who, '/healthcheck');
    assert.equal(h.status, 200, `healthcheck ${h.status} ${body(h)}`);
    const checks = h.json().checks;
    const ca = checks.find((c) => c.id === 'client-authentication');
    assert.deepEqual(ca, { id: 'client-authentication', status: 'UP', data: { mode: 'known-clients' } }, body(h));
    const kl = checks.find((c) => c.id === 'keys-check')?.checks?.find((c) => c.id === 'keys-loaded');
    assert.equal(kl?.data?.['keys-loaded'], 2, `keys-loaded sub-check: ${body(h)}`);
    const nonce = crypto.randomBytes(16).toString('hex');
    const a = await call(who, `/attestation?nonce=${nonce}`);
    assert.equal(a.status, 200, `attestation ${a.status} ${body(a)}`);
    assert.equal(a.headers['content-type'], 'application/cbor');
    const doc = path.join(tmp, 'attestation.cbor');
    fs.writeFileSync(doc, a.body);
    runOk('nitro-keys', ['attestation', 'verify', doc, `--root=${path.join(simDir, 'root.pem')}`,
      `--expect-pcr0=${SIM_PCR0}`, `--nonce=${nonce}`, `--tls-cert=${certPath}`]);
  }
});

// ---- 2 ----
async function everythingRefused(who, status, label) {
  const attempts = [['VOLUNTARY_EXIT', ourKeys[0], exitMsg.body], ['DEPOSIT', ourKeys[0], deposit.body],
    ['BLOCK_V2', ourKeys[0], blockA.body], ['ATTESTATION', ourKeys[1], att.body]];
  for (const [name, pk, b] of attempts) expectRefused(await sign(who, pk, b), status, `${label} ${name}`);
  expectRefused(await call(who, '/api/v1/eth2/publicKeys'), status, `${label} publicKeys`);
  expectRefused(await call(who, '/api/v1/eth2/highWatermark'), status, `${label} highWatermark`);
}

await step('2a the host (no client certificate, unix socket and TCP proxy): exit, deposit, block, attestation, publicKeys, highWatermark -> 401', async () => {
  await everythingRefused(HOST, 401, 'host/unix');
  await everythingRefused(HOST_TCP, 401, 'host/tcp');
});

await step('2b an unlisted client certificate: the same six -> 403', async () => {
  await everythingRefused(INTRUDER, 403, 'intruder');
});

await step('2c the listed client: publicKeys, block and attestation sign and verify; exit and deposit 403 type_not_allowed; conflicting block 412', async () => {
  const pk = await call(LISTED, '/api/v1/eth2/publicKeys');
  assert.equal(pk.status, 200, body(pk));
  assert.deepEqual(pk.json().sort(), [...ourKeys].sort());
  const hw = await call(LISTED, '/api/v1/eth2/highWatermark');
  assert.equal(hw.status, 200, `highWatermark ${hw.status} ${body(hw)}`);
  // The attacker's block A at this slot was not signed (nor recorded): B at the same slot signs.
  expectSigned(await sign(LISTED, ourKeys[0], blockB.body), blockB, ourKeys[0], 'block B');
  expectSigned(await sign(LISTED, ourKeys[1], att.body), att, ourKeys[1], 'attestation');
  expectTypeRefused(await sign(LISTED, ourKeys[0], exitMsg.body), 'listed VOLUNTARY_EXIT');
  expectTypeRefused(await sign(LISTED, ourKeys[0], deposit.body), 'listed DEPOSIT');
  const c = await sign(LISTED, ourKeys[0], blockA.body);
  assert.equal(c.status, 412, `conflicting block A: ${c.status} ${body(c)}`);
});

await step('2d the clock guard (the image default: 2 epochs on NSM time): a far-future vote and a stale block from the listed client are 412 clock and leave no record; status shows the NSM clock', async () => {
  // (epoch-1 -> epoch+1000) would, once recorded, surround every later honest vote
  const far = builders.ATTESTATION(FORK.FULU, epoch + 1000n, { sourceEpoch: epoch - 1n });
  const r = await sign(LISTED, ourKeys[1], far.body);
  assert.equal(r.status, 412, `far-future vote: ${r.status} ${body(r)}`);
  assert.equal(r.json().reason, 'clock', body(r));
  const old = builders.BLOCK_V2(FORK.FULU, epoch - 3n);
  const o = await sign(LISTED, ourKeys[0], old.body);
  assert.equal(o.status, 412, `block 3 epochs ago: ${o.status} ${body(o)}`);
  assert.equal(o.json().reason, 'clock', body(o));
  const next = builders.ATTESTATION(FORK.FULU, epoch + 1n, { sourceEpoch: epoch });
  expectSigned(await sign(LISTED, ourKeys[1], next.body), next, ourKeys[1], 'the next honest vote (not surrounded: nothing was recorded)');
  const s = await controlCall(sock('control.sock'), { type: 'status' }, 10000);
  assert.equal(s.clock?.state, 'ok', JSON.stringify(s.clock));
  assert.equal(s.clock.source, 'nsm');
  assert.equal(s.clock.guard_epochs, 2);
  assert.ok(Math.abs(s.clock.nsm_time_ms - Date.now()) < 60000, JSON.stringify(s.clock));
});

// ---- 3 ----
await step('3 the host kills the enclave: restarted by the watchdog; the host still cannot sign (401), the conflicting block stays 412', async () => {
  const pid = h1.enclave.pid;
  assert.ok(Number.isInteger(pid) && pid > 0, `enclave pid in /health: ${JSON.stringify(h1.enclave)}`);
  process.kill(pid, 'SIGKILL');
  h1 = await until('the enclave restarted and ready', async () => {
    const h = await health();
    return h.http === 200 && h.enclave?.ready && h.enclave.pid !== pid ? h : null;
  }, 30000);
  info(`enclave pid ${pid} killed, restarted as pid ${h1.enclave.pid} (restarts ${h1.enclave.restarts})`);
  assert.equal(h1.enclave.keys_loaded, 2);
  assert.equal(fs.readFileSync(certPath, 'utf8'), enclaveCert, 'the same certificate');
  expectRefused(await sign(HOST, ourKeys[0], blockA.body), 401, 'host block A after restart');
  expectRefused(await sign(HOST_TCP, ourKeys[0], blockA.body), 401, 'host/tcp block A after restart');
  expectRefused(await sign(INTRUDER, ourKeys[0], blockA.body), 403, 'intruder block A after restart');
  const c = await sign(LISTED, ourKeys[0], blockA.body);
  assert.equal(c.status, 412, `listed conflicting block after restart: ${c.status} ${body(c)}`);
});

const controlSock = sock('control.sock');
const status = () => controlCall(controlSock, { type: 'status' }, 10000);
const listedKeys = async () => (await call(LISTED, '/api/v1/eth2/publicKeys')).json().sort();

// ---- 4 ----
await step('4 reload: POST /reload is 404 for everyone; control reload with no records (or none that load) is refused, keys stay', async () => {
  for (const [who, label] of [[HOST, 'host'], [INTRUDER, 'intruder'], [LISTED, 'listed']]) {
    const r = await call(who, '/reload', { method: 'POST' });
    assert.equal(r.status, 404, `${label} POST /reload: ${r.status} ${body(r)}`);
    const g = await call(who, '/reload');
    assert.equal(g.status, 404, `${label} GET /reload: ${g.status} ${body(g)}`);
  }
  const before = await status();
  assert.equal(before.keys_loaded, 2, JSON.stringify(before));
  assert.equal(before.client_auth, 'known_clients');
  assert.equal(before.known_clients, 1);
  assert.equal(before.signer_id, SIGNER_ID);
  assert.equal(before.legacy_records, false);
  const types = before.signing_types.split(',');
  assert.ok(types.includes('BLOCK_V2') && types.includes('ATTESTATION'), before.signing_types);
  assert.ok(!types.includes('VOLUNTARY_EXIT') && !types.includes('DEPOSIT'), before.signing_types);
  const empty = await controlJob(controlSock, { type: 'reload', records: [] });
  assert.equal(empty.ok, false, JSON.stringify(empty));
  assert.match(empty.error, /no records/, JSON.stringify(empty));
  info(`reload with "records": [] -> ${JSON.stringify(empty)}`);
  // Another signer's records (one as uploaded, one with its context stripped): none loads.
  const foreign = await controlJob(controlSock, { type: 'reload',
    records: [otherRecords[0], { ...otherRecords[1], context: undefined }] });
  assert.equal(foreign.ok, false, JSON.stringify(foreign));
  assert.match(foreign.error, /none of the 2 records loaded/, JSON.stringify(foreign));
  info(`reload with another signer's records -> ${JSON.stringify(foreign)}`);
  const after = await status();
  assert.equal(after.keys_loaded, 2, JSON.stringify(after));
  assert.deepEqual(await listedKeys(), [...ourKeys].sort());
  expectSigned(await sign(LISTED, ourKeys[1], builders.RANDAO_REVEAL(FORK.FULU, epoch).body),
    builders.RANDAO_REVEAL(FORK.FULU, epoch), ourKeys[1], 'randao after the refused reloads');
});

// ---- 5: a second enclave of the same image kind, started and initialised by the test ----
const B = { control: sock('b-control.sock'), api: sock('b-api.sock') };
let bProc;
let bCert;
async function startSecondEnclave() {
  const log = fs.openSync(path.join(tmp, 'b.log'), 'a');
  bProc = spawn(path.join(BIN, 'nitro-signer'), imageFlags(['enclave', `--control=unix:${B.control}`,
    `--http-listen=unix:${B.api}`, `--nsm=sim:${simDir}`, `--tls-kms-key-id=${env.KEY_ARN}`, `--signer-id=${SIGNER_ID}`,
    '--tls-allow-any-client', '--allow-signing-types=VOLUNTARY_EXIT,DEPOSIT', `--http-max-connections=${MAX_CONNS}`]),
  { stdio: ['ignore', log, log] });
  children.add(bProc);
  await until('the second enclave listening', async () => {
    if (bProc.exitCode !== null) throw Object.assign(new Error(`exited ${bProc.exitCode}: ${logTail('b.log')}`), { fatal: true });
    return fs.existsSync(B.control) && fs.existsSync(B.api);
  }, 10000);
}
const initMsg = async (signerId, records) => ({
  type: 'init', region: env.AWS_REGION, credentials: await imdsCredentials(env.AWS_EC2_METADATA_SERVICE_ENDPOINT),
  kms_endpoint: env.AWS_ENDPOINT_URL_KMS, dynamodb_endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, kms_key_id: env.KEY_ARN,
  tls_names: ['localhost', '127.0.0.1'], network: 'mainnet', slashing_db_url: `sqlite:${path.join(tmp, 'b-slashing.db')}`,
  key_table: TABLE, signer_id: signerId, records,
});

await step('5a init naming another signer id is refused ("not the image\'s --signer-id"); nothing changes', async () => {
  await startSecondEnclave();
  const r = await controlCall(B.control, await initMsg(OTHER_SIGNER, otherRecords));
  assert.equal(r.ok, false, JSON.stringify(r));
  assert.match(r.error, /not the image's --signer-id/, JSON.stringify(r));
  info(`init with signer_id ${OTHER_SIGNER} -> ${JSON.stringify(r)}`);
  const s = await controlCall(B.control, { type: 'status' });
  assert.equal(s.ready, false, JSON.stringify(s));
  assert.equal(s.keys_loaded, 0, JSON.stringify(s));
  const api = await apiRequest({ sock: B.api }, '/api/v1/eth2/publicKeys');
  assert.equal(api.status, 503, `API before a successful init: ${api.status} ${body(api)}`);
  // The same attack on the running enclave: refused too, and it keeps its keys.
  const main = await controlCall(controlSock, await initMsg(OTHER_SIGNER, otherRecords));
  assert.equal(main.ok, false, JSON.stringify(main));
  assert.equal((await status()).keys_loaded, 2);
});

await step('5b init with the right signer id but another signer\'s records: ours load, theirs do not (KMS refuses the context; no context is refused)', async () => {
  const msg = await initMsg(SIGNER_ID, [...ourRecords, otherRecords[0], { ...otherRecords[1], context: undefined }]);
  const r = await controlCall(B.control, msg);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.keys_loaded, 2, JSON.stringify(r));
  bCert = r.tls_cert_pem;
  assert.match(bCert ?? '', /BEGIN CERTIFICATE/);
  const rep = Object.fromEntries(r.keys.map((k) => [k.pubkey, k]));
  for (const k of ourKeys) assert.equal(rep[k]?.loaded, true, `our key ${k}: ${JSON.stringify(rep[k])}`);
  const bound = rep[otherKeys[0]];
  const stripped = rep[otherKeys[1]];
  assert.equal(bound?.loaded, false, JSON.stringify(bound));
  assert.match(bound.error, /InvalidCiphertext/, `another signer's record: ${bound.error}`);
  assert.equal(stripped?.loaded, false, JSON.stringify(stripped));
  assert.match(stripped.error, /encryption context.*--accept-legacy-records/, `record without context: ${stripped.error}`);
  info(`${OTHER_SIGNER}'s record: ${bound.error}`);
  info(`the same without "context": ${stripped.error}`);
  const pk = await apiRequest({ sock: B.api }, '/api/v1/eth2/publicKeys', { tls: { ca: bCert } });
  assert.equal(pk.status, 200, body(pk));
  assert.deepEqual(pk.json().sort(), [...ourKeys].sort());
});

// ---- 6 ----
await step('6 control frames built to exhaust memory are refused and the connection closed; peak RSS stays small', async () => {
  const pid = h1.enclave.pid;
  const hwm0 = vmHwmKiB(pid);
  // 16 MiB of [{},{},...] (jansson would need over a gigabyte for it).
  const head = Buffer.from('{"type":"init","records":[');
  const tail = Buffer.from(']}');
  const n = Math.floor((CONTROL_MAX_FRAME - head.length - tail.length + 1) / 3);
  const mid = Buffer.alloc(CONTROL_MAX_FRAME - head.length - tail.length, ' ');
  mid.write('{},'.repeat(n - 1) + '{}', 0, 'latin1');
  const big = Buffer.concat([head, mid, tail]);
  assert.equal(big.length, CONTROL_MAX_FRAME);
  let c = await ControlConn.connect(controlSock);
  const t0 = Date.now();
  c.send(frame(big));
  const r1 = await c.next(30000);
  assert.deepEqual(r1, { closed: true }, `16 MiB of empty objects: ${JSON.stringify(r1)}`);
  info(`16 MiB frame of ${n} empty objects: connection closed after ${Date.now() - t0} ms`);
  assert.ok(alive(pid), `the enclave (pid ${pid}) did not survive the 16 MiB frame`);
  const hwmBig = vmHwmKiB(pid);
  // 100000 nested arrays.
  const nested = Buffer.from('{"type":"init","records":' + '['.repeat(100000));
  c = await ControlConn.connect(controlSock);
  c.send(frame(nested));
  const r2 = await c.next(10000);
  assert.deepEqual(r2, { closed: true }, `100000 nested arrays: ${JSON.stringify(r2)}`);
  const hwm1 = vmHwmKiB(pid);
  info(`enclave pid ${pid} VmHWM before ${(hwm0 / 1024).toFixed(1)} MiB, after the 16 MiB frame ` +
    `${(hwmBig / 1024).toFixed(1)} MiB, after the nested one ${(hwm1 / 1024).toFixed(1)} MiB (limit ${RSS_LIMIT_KIB / 1024} MiB)`);
  assert.ok(hwm1 < RSS_LIMIT_KIB, `peak RSS ${hwm1} KiB over ${RSS_LIMIT_KIB} KiB`);
  for (const l of fs.readFileSync(path.join(tmp, 'host.log'), 'utf8').split('\n').filter((x) => /control connection closed/.test(x)).slice(-2))
    info(`enclave log: ${l.slice(0, 220)}`);
  // Small-typed frames announcing a large body: closed as soon as the type is known.
  for (const [type, len] of [['status', 1 << 20], ['credentials', 1 << 20]]) {
    c = await ControlConn.connect(controlSock);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(len);
    const since = Date.now();
    c.send(Buffer.concat([h, Buffer.from(`{"type":"${type}",`)]));
    const ms = await c.closedWithin(2000, since);
    assert.notEqual(ms, null, `a ${type} frame announcing ${len} bytes was not closed within 2 s`);
    info(`${type} frame announcing ${len} bytes: closed after ${ms} ms`);
  }
  // "type" not first: refused.
  c = await ControlConn.connect(controlSock);
  const late = Buffer.from('{"records":[],"type":"reload"}');
  c.send(frame(late));
  assert.deepEqual(await c.next(5000), { closed: true }, 'a frame whose type is not first');
  assert.ok(alive(pid), 'the enclave survived');
  const s = await status();
  assert.equal(s.ready, true, JSON.stringify(s));
  assert.equal(s.keys_loaded, 2, JSON.stringify(s));
  assert.equal((await health()).enclave.pid, pid, 'no restart');
});

// ---- 7 ----
await step(`7 a flood of 20 connections (max ${MAX_CONNS}): extras closed by the server, the listed client's keep-alive connection still signs`, async () => {
  const t = { ca: enclaveCert, cert: vc.cert, key: vc.key };
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...t, servername: 'localhost' });
  try {
    const warm = await apiRequest({ port: port.api }, '/upcheck', { tls: t, agent });
    assert.equal(warm.status, 200);
    const flood = [];
    let ended = 0;
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) {
      const s = net.connect({ host: '127.0.0.1', port: port.api });
      const f = { s, ended: false };
      const done = () => { if (!f.ended) { f.ended = true; ended++; } };
      s.on('end', done);
      s.on('close', done);
      s.on('error', done);
      flood.push(f);
    }
    await until('the server to close the extra connections', async () => ended >= 20 - (MAX_CONNS - 1), 5000);
    await sleep(500); // and no more than those
    info(`${ended} of 20 flood connections closed by the server within ${Date.now() - t0} ms; ${20 - ended} held open`);
    assert.ok(ended >= 20 - (MAX_CONNS - 1) && ended < 20, `closed ${ended}`);
    const c = builders.RANDAO_REVEAL(FORK.FULU, epoch + 1n);
    const r = await apiRequest({ port: port.api }, `/api/v1/eth2/sign/${ourKeys[0]}`, { method: 'POST', body: c.body, tls: t, agent });
    expectSigned(r, c, ourKeys[0], 'keep-alive signing during the flood');
    assert.equal(r.reused, true, 'the pre-opened connection was used');
    await assert.rejects(apiRequest({ port: port.api }, '/upcheck', { tls: t, timeoutMs: 5000 }),
      undefined, 'a new connection during the flood must be closed');
    for (const f of flood) f.s.destroy();
    const c2 = builders.RANDAO_REVEAL(FORK.FULU, epoch + 2n);
    const r2 = await until('a new connection after the flood', async () => {
      const x = await apiRequest({ port: port.api }, `/api/v1/eth2/sign/${ourKeys[1]}`, { method: 'POST', body: c2.body, tls: t });
      return x.status === 200 ? x : null;
    }, 5000);
    expectSigned(r2, c2, ourKeys[1], 'a new connection after the flood');
  } finally {
    agent.destroy();
  }
});

// ---- 8 ----
await step('8 an image with --tls-allow-any-client and --allow-signing-types=VOLUNTARY_EXIT,DEPOSIT: status and health say so; exit and deposit sign', async () => {
  const s = await controlCall(B.control, { type: 'status' });
  assert.equal(s.client_auth, 'any_client', JSON.stringify(s));
  assert.equal(s.known_clients, 0, JSON.stringify(s));
  assert.equal(s.signer_id, SIGNER_ID);
  const types = s.signing_types.split(',');
  assert.ok(types.includes('VOLUNTARY_EXIT') && types.includes('DEPOSIT') && types.includes('BLOCK_V2'), s.signing_types);
  const bt = (extra = {}) => ({ ca: bCert, ...extra });
  const h = await apiRequest({ sock: B.api }, '/healthcheck', { tls: bt() });
  assert.equal(h.status, 200, body(h));
  const ca = h.json().checks.find((x) => x.id === 'client-authentication');
  assert.equal(ca?.status, 'UP', body(h));
  assert.equal(ca.data.mode, 'any-client', body(h));
  assert.equal(typeof ca.data.warning, 'string', body(h));
  const ex = builders.VOLUNTARY_EXIT(FORK.FULU, epoch);
  expectSigned(await apiRequest({ sock: B.api }, `/api/v1/eth2/sign/${ourKeys[0]}`,
    { method: 'POST', body: ex.body, tls: bt({ cert: vc.cert, key: vc.key }) }), ex, ourKeys[0], 'VOLUNTARY_EXIT (listed client)');
  const dep = builders.DEPOSIT({ pk: fromHex(ourKeys[1]) });
  expectSigned(await apiRequest({ sock: B.api }, `/api/v1/eth2/sign/${ourKeys[1]}`, { method: 'POST', body: dep.body, tls: bt() }),
    dep, ourKeys[1], 'DEPOSIT (no client certificate: any client)');
  // The main enclave (no such flags) still refuses both to its listed client.
  expectTypeRefused(await sign(LISTED, ourKeys[0], ex.body), 'main enclave VOLUNTARY_EXIT');
});

// ---- 9 ----
await step('9 usage: known-clients / allow-any-client without a TLS identity, or both, exit 2 naming the flag', async () => {
  const kc = knownClients;
  const base = ['enclave', `--control=unix:${sock('u.sock')}`, `--nsm=sim:${simDir}`];
  const cases = [
    [[...base, `--tls-known-clients-file=${kc}`], /--tls-known-clients-file/],
    [[...base, '--tls-allow-any-client'], /--tls-allow-any-client/],
    [[...base, `--tls-kms-key-id=${env.KEY_ARN}`, `--tls-known-clients-file=${kc}`, '--tls-allow-any-client'],
      /--tls-known-clients-file.*--tls-allow-any-client|--tls-allow-any-client.*--tls-known-clients-file/],
    [[`--tls-known-clients-file=${kc}`, 'eth2'], /--tls-known-clients-file/],
  ];
  for (const [args, re] of cases) {
    const r = run('nitro-signer', args);
    assert.equal(r.status, 2, `nitro-signer ${args.join(' ')}: exit ${r.status} ${r.stderr}`);
    assert.match(r.stderr, re, `nitro-signer ${args.join(' ')}`);
    info(`nitro-signer ${args.map((a) => a.replace(tmp, '$T')).join(' ')} -> 2: ${r.stderr.trim().split('\n')[0]}`);
  }
  assert.ok(!fs.existsSync(sock('u.sock')), 'nothing started');
});

await step('end: the second enclave and nitro-host stop on SIGTERM', async () => {
  bProc.kill('SIGTERM');
  host.kill('SIGTERM');
  await until('both to exit', async () => bProc.exitCode !== null && host.exitCode !== null, 10000);
  assert.equal(host.exitCode, 0);
});

console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: ${passed} steps passed, ${failures} failed, in ${elapsed()}`);
process.exit(failures === 0 ? 0 : 1);
