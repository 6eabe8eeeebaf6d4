// test_e2e_full_flow.mjs: the whole system on one machine, no AWS, no vsock
// (issue 8's full flow; ctest name integration/test_e2e_full_flow, run alone
// with `ctest --test-dir build -R e2e_full_flow`).
//
//  1. Stand-ins up (DynamoDB, KMS trusting the NSM simulator's root, IMDS
//     with short-lived role credentials). The KMS key's policy is the one
//     `nitro-keys kms policy` writes, pinned to the simulator's PCR0; a
//     second key is pinned to another PCR0.
//  2. nitro-keys makes 8 validators, encrypts 4 as per-key records and 4 as
//     an envelope bundle and uploads them; one more record is encrypted
//     under the other PCR0's key.
//  3. nitro-host run (local runner) starts `nitro-signer enclave` on unix
//     sockets (the image names its signer id and lists one validator
//     client's certificate, made here with openssl), reads the records from
//     DynamoDB with IMDS credentials, sends init; the enclave reaches KMS
//     and DynamoDB only through the host's proxies, is born a TLS key, loads
//     8 keys and reports the 9th refused (/health: DEGRADED, naming it).
//  4. Validator-client style HTTPS through the host's TCP proxy, pinning
//     the certificate the host wrote and presenting the listed client
//     certificate: every key signs, and each signature verifies with noble's
//     BLS over the signing root Lodestar's SSZ gives. Without the client
//     certificate nothing signs (401); health routes stay open. The
//     enclave's metrics (--metrics-listen), through the host's `metrics`
//     port, count those signatures and the unknown key.
//  4b. The Keymanager API over the same TLS, with the token `nitro-keys keymanager token` sealed in the
//     key table: 401/403 without it or with another; DELETE disables, marks the record inactive and
//     unloads (a key of a nitro-keys bundle: error); POST seals the key into a record (its history
//     merged first), delete and re-import over the inactive record.
//  4c. A second nitro-host and enclave on the same tables: they load the imported key; a key imported
//     through the first arrives at the second's poll; deleted through the first, the second refuses
//     it at once and drops it at its poll.
//  5. GET /attestation: the document verifies with nitro-keys (PCR0, PCR8 of a signed image, nonce,
//     certificate) and, independently, with the KMS stand-in's verifier.
//  6. SIGKILL the enclave (with another signer's token item copied over ours: refused, the API off
//     after the restart): the watchdog restarts it, the same certificate
//     comes back (the pin holds), signing resumes, the slashing table (a
//     DynamoDB table in the stand-in, its items MAC'd under a key the
//     enclave sealed in the key table) still refuses a double vote.
//  7. The first credentials expire: the host has pushed new ones; a key
//     uploaded afterwards loads on SIGHUP (reload through KMS) without an
//     enclave restart.
//  7b. The key table poll (key_table_poll_s): an upload loads, a disable unloads, no signal; an
//     unchanged table sends no reload.
//  8. SIGTERM: nitro-host exits 0 and the enclave is gone.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fromHex, toHex, verify } from '../js/lib/bls.mjs';
import {
  awsEnvOf, binRunner, freePort, makeKeystores as makeKeystoresIn, sleep, startSimAndStandins, testRun,
  until as untilDone, writeHostConfig,
  BIN, createPinnedKey, SRC,
} from '../js/lib/proc.mjs';
import { makeClientCert, writeKnownClients } from '../js/lib/enclave.mjs';
import { builders, currentEpoch, epochIn, FORK } from '../js/lib/eth2.mjs';
import { createAttestationConfig, verifyAttestationDocument } from '../standins/recipient.mjs';

assert.ok(BIN, 'NS_BIN_DIR must point at the built binaries');
const T0 = Date.now();
const SIGNER_ID = 'e2e-signer';
const POLL_S = 2; // nitro-host's key table poll (default 60)
const TABLE = 'nitro-keys-e2e';
const SLASHING_TABLE = 'nitro-slashing-e2e';
const CRED_LIFETIME_S = 14;
const CRED_REFRESH_S = 9;

const { tmp, children } = testRun('ns-e2e-');
let failures = 0;
let checks = 0;

const elapsed = () => `${((Date.now() - T0) / 1000).toFixed(1)} s`;

async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t} ms, at ${elapsed()})`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n${e.stack || e}`);
    throw e; // later steps depend on this one
  }
}
const check = (cond, msg) => { checks++; assert.ok(cond, msg); };

const until = (what, fn, ms) => untilDone(what, fn, ms, () => `host log tail:\n${hostLogTail()}`);

function hostLogTail(n = 40) {
  try { return fs.readFileSync(path.join(tmp, 'host.log'), 'utf8').trim().split('\n').slice(-n).join('\n'); } catch { return ''; }
}


const { run, runOk } = binRunner(BIN);

function request(url, { method = 'GET', body, headers = {}, agent = false, ...tls } = {}) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, agent, timeout: 15000, ...tls }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}
const json = (r) => JSON.parse(r.body.toString());

// ---- 1. stand-ins ----
const simDir = path.join(tmp, 'sim');
const SIM_PCR0 = crypto.createHash('sha384').update('nitro-signer e2e enclave image').digest('hex');
const OTHER_PCR0 = crypto.createHash('sha384').update('some other enclave image').digest('hex');
// A signed image reports its signing certificate's measurement as PCR8 (the simulator: DIR/pcr8.hex).
const SIM_PCR8 = crypto.createHash('sha384').update('nitro-signer e2e signing certificate').digest('hex');
let env;

await step('stand-ins up; KMS keys pinned to the simulator PCR0 and to another PCR0', async () => {
  env = await startSimAndStandins({ src: SRC, tmp, simDir, pcr0: SIM_PCR0, name: 'e2e', children });
  fs.writeFileSync(path.join(simDir, 'pcr8.hex'), `${SIM_PCR8}\n`);
  // Short-lived role credentials, rotated by IMDS ahead of expiry as EC2 does,
  // so refreshes happen during the test.
  const r = await request(`${env.AWS_EC2_METADATA_SERVICE_ENDPOINT}/__admin/config`, { method: 'POST',
    body: JSON.stringify({ lifetimeSeconds: CRED_LIFETIME_S, rotateBeforeSeconds: CRED_REFRESH_S + 2 }) });
  check(r.status === 200, `imds config: ${r.status}`);
  for (const [name, pcr0] of [['KEY_ARN', SIM_PCR0], ['OTHER_KEY_ARN', OTHER_PCR0]])
    env[name] = await createPinnedKey({ runOk, env, pcr0, description: `e2e ${name}` });
});

const awsEnv = () => awsEnvOf(env);

// ---- 2. keys ----
const pwFile = path.join(tmp, 'password.txt');
fs.writeFileSync(pwFile, 'e2e keystore password\n', { mode: 0o600 });

// n fast keystores in DIR, each with its password file NAME.txt; their pubkeys.
const makeKeystores = (dir, n) => makeKeystoresIn(runOk, dir, n, pwFile, 2);
function upload(dir, keyArn, extra = []) {
  runOk('nitro-keys', ['kms', 'encrypt', `--key-id=${keyArn}`, `--signer-id=${SIGNER_ID}`, `--keystores-path=${dir}`,
    `--keystores-passwords-path=${dir}`, '--chain=mainnet', '--upload', `--table=${TABLE}`, ...extra], { env: awsEnv() });
}

const require = createRequire(new URL('../js/package.json', import.meta.url));
const ddbSdk = require('@aws-sdk/client-dynamodb');
const ddb = () => new ddbSdk.DynamoDBClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
const tokenItem = async (signer = SIGNER_ID) => (await ddb().send(new ddbSdk.GetItemCommand({ TableName: TABLE,
  Key: { web3signer_uuid: { S: signer }, pubkey: { S: 'keymanager:token' } }, ConsistentRead: true }))).Item;
let kmToken;
let sampleKeys, envelopeKeys, refusedKey;
await step('nitro-keys: 8 validators uploaded (4 per-key records, 4 in an envelope), 1 under another PCR0', async () => {
  runOk('nitro-keys', ['kms', 'create-table', `--table=${TABLE}`], { env: awsEnv() });
  runOk('nitro-signer', ['eth2', `--slashing-protection-db-url=dynamodb://${SLASHING_TABLE}`, 'create-table'],
    { env: awsEnv() });
  sampleKeys = makeKeystores(path.join(tmp, 'ks-sample'), 4);
  envelopeKeys = makeKeystores(path.join(tmp, 'ks-envelope'), 4);
  [refusedKey] = makeKeystores(path.join(tmp, 'ks-other'), 1);
  upload(path.join(tmp, 'ks-sample'), env.KEY_ARN);
  upload(path.join(tmp, 'ks-envelope'), env.KEY_ARN, ['--envelope']);
  upload(path.join(tmp, 'ks-other'), env.OTHER_KEY_ARN);
  const list = runOk('nitro-keys', ['kms', 'list', `--table=${TABLE}`, `--signer-id=${SIGNER_ID}`], { env: awsEnv() });
  const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
  check(rows.length === 6, `6 records (4 + 1 bundle + 1): ${list.stdout}`);
  // The Keymanager API's token: printed once, stored only sealed.
  const tok = runOk('nitro-keys', ['keymanager', 'token', `--key-id=${env.KEY_ARN}`, `--signer-id=${SIGNER_ID}`,
    `--table=${TABLE}`], { env: awsEnv() });
  kmToken = tok.stdout.trim();
  check(/^[0-9a-f]{64}$/.test(kmToken), `keymanager token: 256 bits in hex: ${kmToken.length}`);
  const item = await tokenItem();
  check(item && !JSON.stringify(item).includes(kmToken), 'the key table holds the token sealed, never in the clear');
});


// ---- 3. nitro-host run ----
const allKeys = () => [...sampleKeys, ...envelopeKeys];
const port = { api: await freePort(), health: await freePort(), metrics: await freePort() };
const sock = (n) => path.join(tmp, n);
const configPath = path.join(tmp, 'nitro-host.yaml');
const certPath = path.join(tmp, 'tls.crt');
// The validator client the image lets sign (its certificate's SHA-256 in the known-clients file).
const client = makeClientCert(tmp, 'e2e-validator-client');
const knownClientsPath = path.join(tmp, 'known-clients.txt');
writeKnownClients(knownClientsPath, [client]);
writeHostConfig({ configPath, writer: 'test_e2e_full_flow.mjs', tmp, env, signerId: SIGNER_ID, table: TABLE,
  enclaveCmd: [path.join(BIN, 'nitro-signer'), 'enclave', `--control=unix:${sock('control.sock')}`,
    `--http-listen=unix:${sock('api.sock')}`, `--nsm=sim:${simDir}`, `--tls-kms-key-id=${env.KEY_ARN}`,
    `--signer-id=${SIGNER_ID}`, `--tls-known-clients-file=${knownClientsPath}`,
    `--metrics-listen=unix:${sock('metrics.sock')}`],
  port, certPath, maxBackoffS: 2, extra: [`credentials_refresh_s: ${CRED_REFRESH_S}`, `key_table_poll_s: ${POLL_S}`,
    `metrics: {connect: "unix:${sock('metrics.sock')}", listen: "tcp:127.0.0.1:${port.metrics}"}`],
  slashingDbUrl: `dynamodb://${SLASHING_TABLE}` });

let host;
const hostLog = fs.openSync(path.join(tmp, 'host.log'), 'a');
const health = async () => {
  const r = await request(`http://127.0.0.1:${port.health}/health`);
  return { ...json(r), http: r.status };
};
let h1;
let cert1;

await step('nitro-host run: enclave started, records read with IMDS credentials, init: 8 keys, 1 refused', async () => {
  // No AWS credentials in the host's environment: they must come from IMDS.
  const hostEnv = { ...process.env };
  for (const k of Object.keys(hostEnv)) if (k.startsWith('AWS_')) delete hostEnv[k];
  host = spawn(path.join(BIN, 'nitro-host'), ['run', `--config=${configPath}`, '--log-format=json'],
    { env: hostEnv, stdio: ['ignore', hostLog, hostLog] });
  children.add(host);
  h1 = await until('health UP', async () => {
    if (host.exitCode !== null) throw Object.assign(new Error(`nitro-host exited ${host.exitCode}:\n${hostLogTail()}`), { fatal: true });
    const h = await health();
    return h.http === 200 && h.enclave?.ready ? h : null;
  }, 30000);
  // The refused key makes it DEGRADED (still 200), naming the key and why.
  check(h1.status === 'DEGRADED', `health DEGRADED: ${JSON.stringify(h1)}`);
  check(h1.enclave.keys_failed === 1 && h1.enclave.failed_keys?.length === 1 &&
    h1.enclave.failed_keys[0].pubkey === refusedKey && /AccessDenied/i.test(h1.enclave.failed_keys[0].error),
  `failed key named with its reason: ${JSON.stringify(h1.enclave)}`);
  check(h1.enclave.keys_loaded === 8, `8 keys loaded: ${JSON.stringify(h1)}`);
  // The enclave's keys come from init's records: no count of keystores or key configs it never had.
  const early = fs.readFileSync(path.join(tmp, 'host.log'), 'utf8');
  check(/ready with 8 keys/.test(early) && !/keys loaded: \d+ from (keystores|key configs)/.test(early),
    `only the counts that apply: ${early.split('\n').filter((l) => /keys loaded|ready with/.test(l)).join(' | ')}`);
  const log = fs.readFileSync(path.join(tmp, 'host.log'), 'utf8');
  check(log.includes(refusedKey) && /AccessDenied/i.test(log.split('\n').find((l) => l.includes(refusedKey)) || ''),
    `the record under the other PCR0 is reported refused with its reason:\n${hostLogTail()}`);
  for (const secretish of ['SecretAccessKey', 'password_b64', 'keystore_b64'])
    check(!log.includes(secretish), `host log never carries ${secretish}`);
  cert1 = fs.readFileSync(certPath, 'utf8');
  check(/BEGIN CERTIFICATE/.test(cert1), 'the host wrote the enclave certificate');
});

// ---- 4. HTTPS through the host's TCP proxy ----
const api = (p, opts = {}) => request(`https://localhost:${port.api}${p}`, {
  ca: cert1, cert: client.cert, key: client.key,
  lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)),
  ...opts });
const post = (p, body) => api(p, { method: 'POST', body: JSON.stringify(body),
  headers: { 'content-type': 'application/json', accept: 'application/json' } });

async function signAndVerify(pubkey, epoch) {
  const c = builders.RANDAO_REVEAL(FORK.FULU, epoch);
  const r = await post(`/api/v1/eth2/sign/${pubkey}`, c.body);
  assert.equal(r.status, 200, `sign ${pubkey}: ${r.status} ${r.body}`);
  const sig = json(r).signature;
  check(verify(fromHex(sig), c.root, fromHex(pubkey)), `signature by ${pubkey} verifies (noble, Lodestar SSZ root)`);
}

await step('HTTPS via the TCP proxy, pinned certificate, the listed client certificate: publicKeys lists 8, every key signs and verifies; no client certificate: 401', async () => {
  const pk = await api('/api/v1/eth2/publicKeys', { headers: { accept: 'application/json' } });
  check(pk.status === 200, `publicKeys ${pk.status}`);
  const listed = json(pk).sort();
  check(JSON.stringify(listed) === JSON.stringify(allKeys().sort()), `exactly the 8 keys: ${listed}`);
  check(!listed.includes(refusedKey), 'the refused key is not served');
  const epoch = epochIn(FORK.FULU, 'random');
  for (const k of allKeys()) await signAndVerify(k, epoch);
  const r = await post(`/api/v1/eth2/sign/${refusedKey}`, builders.RANDAO_REVEAL(FORK.FULU, epoch).body);
  check(r.status === 404, `refused key -> 404, got ${r.status}`);
  // Without the client certificate: the health route answers, nothing is listed or signed.
  const anon = { cert: undefined, key: undefined };
  const up = await api('/upcheck', anon);
  check(up.status === 200, `upcheck without a client certificate: ${up.status}`);
  const pk401 = await api('/api/v1/eth2/publicKeys', anon);
  check(pk401.status === 401, `publicKeys without a client certificate -> 401, got ${pk401.status} ${pk401.body}`);
  const s401 = await api(`/api/v1/eth2/sign/${sampleKeys[0]}`, { ...anon, method: 'POST',
    body: JSON.stringify(builders.RANDAO_REVEAL(FORK.FULU, epoch).body), headers: { 'content-type': 'application/json' } });
  check(s401.status === 401 && json(s401).error === 'client certificate required', `sign without a client certificate -> 401, got ${s401.status} ${s401.body}`);
  // Plain HTTP to the TLS port is not served.
  await assert.rejects(request(`http://127.0.0.1:${port.api}/upcheck`), undefined, 'plain HTTP must fail');
  // A client pinning another certificate does not get through.
  const other = spawnSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', path.join(tmp, 'other.key'), '-out', path.join(tmp, 'other.crt'), '-days', '1', '-subj', '/CN=localhost'],
  { encoding: 'utf8' });
  assert.equal(other.status, 0, other.stderr);
  await assert.rejects(api('/upcheck', { ca: fs.readFileSync(path.join(tmp, 'other.crt')) }), /self.signed|certificate/i);
  checks += 2;
});

await step('metrics through the host: 8 signatures permitted, 1 unknown key, 8 keys loaded, 9 sign requests timed', async () => {
  const r = await request(`http://127.0.0.1:${port.metrics}/metrics`, { headers: { host: 'localhost' } });
  check(r.status === 200, `metrics ${r.status} ${r.body}`);
  const text = r.body.toString();
  const sample = (name) => Number((text.split('\n').find((l) => l.startsWith(`${name} `)) || '').slice(name.length + 1));
  const want = { eth2_slashingprotection_permitted_signings_total: 8, eth2_slashingprotection_prevented_signings_total: 0,
    signing_bls_missing_identifier_count_total: 1, signing_signers_loaded_count: 8, signing_bls_signing_duration_count: 9 };
  for (const [name, v] of Object.entries(want)) check(sample(name) === v, `${name} ${v}: ${sample(name)}`);
});

let importedKey;
await step('the Keymanager API over TLS: the sealed token lists the keys; no token 401, a wrong one 403; DELETE disables, marks the record inactive, unloads; POST seals a record, with its history first', async () => {
  // Every exchange in a transcript printed at the end of the step (bodies shortened; no secrets in them).
  const kmApi = (opts = {}, token = kmToken) => api('/eth/v1/keystores', { ...opts,
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.headers || {}) } });
  const km = async (opts = {}, token = kmToken) => {
    const res = await kmApi(opts, token);
    const sent = opts.body ? JSON.parse(opts.body) : null;
    const what = sent?.keystores ? `{keystores: [${sent.keystores.length}], passwords: [${sent.passwords.length}]` +
      `${sent.slashing_protection ? ', slashing_protection' : ''}}` : sent ? JSON.stringify(sent) : '';
    const shown = res.body.toString().replace(/\s+/g, ' ').replace(/"slashing_protection":"(.{0,120}).*?"}$/, '"slashing_protection":"$1..."}');
    kmTranscript.push(`${opts.method || 'GET'} /eth/v1/keystores ${what}${token ? '' : ' (no token)'} -> ${res.status} ${shown.slice(0, 400)}`);
    return res;
  };
  const kmTranscript = [];
  const r = await km();
  check(r.status === 200, `GET /eth/v1/keystores with the token: ${r.status} ${r.body}`);
  const got = (json(r).data || []).map((d) => d.validating_pubkey).sort();
  check(JSON.stringify(got) === JSON.stringify(allKeys().sort()), `the 8 keys listed: ${got}`);
  check((json(r).data || []).every((d) => d.readonly === false), 'the keys are deletable through the API here');
  const none = await km({}, null);
  check(none.status === 401 && /bearer/i.test(json(none).message), `no token -> 401: ${none.status} ${none.body}`);
  const wrong = await km({}, 'ab'.repeat(32));
  check(wrong.status === 403, `a wrong token -> 403: ${wrong.status}`);
  // A key of its own record: disabled in the shared slashing table, its record inactive, unloaded. A key of
  // an envelope bundle: disabled, but its record holds others: an error naming the way to do it.
  const gone = sampleKeys[3], inBundle = envelopeKeys[3];
  const delBody = JSON.stringify({ pubkeys: [gone, inBundle] });
  const del = await km({ method: 'DELETE', body: delBody,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(delBody) } });
  check(del.status === 200, `DELETE: ${del.status} ${del.body}`);
  const dj = json(del);
  check(JSON.stringify((dj.data || []).map((d) => d.status)) === '["deleted","error"]', `deleted, error: ${del.body}`);
  check(/envelope/.test(dj.data?.[1]?.message || ''), `the bundle's key: the message says why: ${dj.data?.[1]?.message}`);
  const sp = JSON.parse(dj.slashing_protection || '{}');
  check(sp.metadata?.interchange_format_version === '5' && /^0x[0-9a-f]{64}$/.test(sp.metadata?.genesis_validators_root || ''),
    `the interchange is v5 of the chain: ${dj.slashing_protection}`);
  const rec = (await ddb().send(new ddbSdk.GetItemCommand({ TableName: TABLE,
    Key: { web3signer_uuid: { S: SIGNER_ID }, pubkey: { S: gone } }, ConsistentRead: true }))).Item;
  check(rec?.active?.BOOL === false, `the deleted key's record is inactive: ${JSON.stringify(rec?.active)}`);
  const signGone = await post(`/api/v1/eth2/sign/${gone}`, builders.RANDAO_REVEAL(FORK.FULU, epochIn(FORK.FULU, 'random')).body);
  check(signGone.status === 404, `the deleted key signs nothing: ${signGone.status}`);
  const att2 = builders.ATTESTATION(FORK.FULU, currentEpoch(), { sourceEpoch: currentEpoch() - 1n });
  const bundled = await post(`/api/v1/eth2/sign/${inBundle}`, att2.body);
  check(bundled.status === 412 && json(bundled).reason === 'validator_disabled',
    `the bundle's key, still loaded, signs nothing slashable: ${bundled.status} ${bundled.body}`);
  const after = await km();
  check((json(after).data || []).length === 7, `7 keys listed after the delete: ${after.body}`);

  // Import: decrypted inside, sealed for the Recipient into a one-key envelope record, its history first.
  [importedKey] = makeKeystores(path.join(tmp, 'ks-km'), 1);
  const ksDir = path.join(tmp, 'ks-km');
  const ks = fs.readFileSync(path.join(ksDir, fs.readdirSync(ksDir).find((f) => f.endsWith('.json'))), 'utf8');
  const e0 = currentEpoch();
  const history = JSON.stringify({ metadata: { interchange_format_version: '5', genesis_validators_root: sp.metadata.genesis_validators_root },
    data: [{ pubkey: importedKey, signed_blocks: [], signed_attestations: [{ source_epoch: String(e0 - 1n), target_epoch: String(e0) }] }] });
  const kmPost = (body) => {
    const text = JSON.stringify(body);
    return km({ method: 'POST', body: text, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } });
  };
  const imp = await kmPost({ keystores: [ks], passwords: ['e2e keystore password'], slashing_protection: history });
  check(imp.status === 200 && json(imp).data?.[0]?.status === 'imported', `POST imported: ${imp.status} ${imp.body}`);
  const items = (await ddb().send(new ddbSdk.QueryCommand({ TableName: TABLE, KeyConditionExpression: 'web3signer_uuid = :s',
    ExpressionAttributeValues: { ':s': { S: SIGNER_ID } }, ConsistentRead: true }))).Items;
  const sealedRec = items.find((it) => (it.envelope_pubkeys?.SS || []).includes(importedKey));
  check(sealedRec && sealedRec.active?.BOOL === true && sealedRec.envelope_ciphertext_b64?.S && sealedRec.wrapped_data_key_b64?.S,
    `the key's record is an active sealed envelope: ${JSON.stringify(sealedRec?.pubkey)}`);
  check(!JSON.stringify(sealedRec).includes('e2e keystore password') && !JSON.stringify(sealedRec).includes('"crypto"'),
    'neither the password nor the keystore is in the record');
  await signAndVerify(importedKey, epochIn(FORK.FULU, 'random'));
  kmTranscript.push(`POST /api/v1/eth2/sign/${importedKey.slice(0, 12)}.. (RANDAO_REVEAL) -> 200, verified with noble`);
  const attOld = builders.ATTESTATION(FORK.FULU, e0, { sourceEpoch: e0 - 1n });
  const refusedOld = await post(`/api/v1/eth2/sign/${importedKey}`, attOld.body);
  check(refusedOld.status === 412, `the imported history holds: the same target is refused: ${refusedOld.status} ${refusedOld.body}`);
  kmTranscript.push(`POST /api/v1/eth2/sign/${importedKey.slice(0, 12)}.. (ATTESTATION target ${e0}, in the imported history) -> ${refusedOld.status} ${refusedOld.body.toString().slice(0, 120)}`);
  // Delete and import again: the record is found, made inactive, then replaced.
  const d2Body = JSON.stringify({ pubkeys: [importedKey] });
  const d2 = await km({ method: 'DELETE', body: d2Body, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(d2Body) } });
  check(json(d2).data?.[0]?.status === 'deleted', `the imported key deleted: ${d2.body}`);
  const imp2 = await kmPost({ keystores: [ks], passwords: ['e2e keystore password'], slashing_protection: json(d2).slashing_protection });
  check(json(imp2).data?.[0]?.status === 'imported', `imported again over its inactive record: ${imp2.body}`);
  // Signing again: only what is safe. A new RANDAO signs; the vote the returned history holds stays refused.
  await signAndVerify(importedKey, epochIn(FORK.FULU, 'random'));
  kmTranscript.push(`POST /api/v1/eth2/sign/${importedKey.slice(0, 12)}.. (RANDAO_REVEAL, after the re-import) -> 200, verified with noble`);
  const again = await post(`/api/v1/eth2/sign/${importedKey}`, attOld.body);
  check(again.status === 412, `after the re-import the old vote is still refused: ${again.status} ${again.body}`);
  kmTranscript.push(`POST /api/v1/eth2/sign/${importedKey.slice(0, 12)}.. (the same ATTESTATION, after the re-import) -> ${again.status} ${again.body.toString().slice(0, 120)}`);
  const dup = await kmPost({ keystores: [ks], passwords: ['e2e keystore password'] });
  check(json(dup).data?.[0]?.status === 'duplicate', `a loaded key again: duplicate: ${dup.body}`);
  const bad = await kmPost({ keystores: [ks], passwords: ['wrong password'] });
  check(/password/.test(json(bad).data?.[0]?.message || ''), `a wrong password: error naming it: ${bad.body}`);
  const anon = await km({ cert: undefined, key: undefined });
  check(anon.status === 401, `the token without the client certificate -> 401: ${anon.status}`);
  console.log(`keymanager transcript (through nitro-host's proxy, TLS ending in the enclave):\n  ${kmTranscript.join('\n  ')}`);
});

// A slashable message signed before the restart, to show the database survives it.
const attEpoch = currentEpoch(); // the enclave's clock guard signs only near now
const att = builders.ATTESTATION(FORK.FULU, attEpoch, { sourceEpoch: attEpoch - 1n });

// ---- 4c. a second host ----
await step('a second nitro-host on the same tables: it loads the key imported through the first; a key imported there reaches it at its poll; deleted there, it refuses it at once and drops it at its poll', async () => {
  const tmp2 = path.join(tmp, 'h2');
  fs.mkdirSync(tmp2);
  const sock2 = (n) => path.join(tmp2, n);
  const port2 = { api: await freePort(), health: await freePort() };
  const config2 = path.join(tmp2, 'nitro-host.yaml');
  writeHostConfig({ configPath: config2, writer: 'test_e2e_full_flow.mjs', tmp: tmp2, env, signerId: SIGNER_ID, table: TABLE,
    enclaveCmd: [path.join(BIN, 'nitro-signer'), 'enclave', `--control=unix:${sock2('control.sock')}`,
      `--http-listen=unix:${sock2('api.sock')}`, `--nsm=sim:${simDir}`, `--tls-kms-key-id=${env.KEY_ARN}`,
      `--signer-id=${SIGNER_ID}`, `--tls-known-clients-file=${knownClientsPath}`],
    port: port2, certPath: path.join(tmp2, 'tls.crt'), maxBackoffS: 2, extra: [`key_table_poll_s: ${POLL_S}`],
    slashingDbUrl: `dynamodb://${SLASHING_TABLE}` });
  const log2 = path.join(tmp2, 'host.log');
  const hostEnv = { ...process.env };
  for (const k of Object.keys(hostEnv)) if (k.startsWith('AWS_')) delete hostEnv[k];
  const host2 = spawn(path.join(BIN, 'nitro-host'), ['run', `--config=${config2}`, '--log-format=json'],
    { env: hostEnv, stdio: ['ignore', fs.openSync(log2, 'a'), fs.openSync(log2, 'a')] });
  children.add(host2);
  process.on('exit', () => { // its enclave, should the test end before host2 stops it
    try {
      for (const m of fs.readFileSync(log2, 'utf8').matchAll(/started pid=(\d+)/g)) try { process.kill(Number(m[1]), 'SIGKILL'); } catch { /* gone */ }
    } catch { /* no log */ }
  });
  const health2 = async () => { const r = await request(`http://127.0.0.1:${port2.health}/health`); return { ...json(r), http: r.status }; };
  const api2 = (p, opts = {}) => request(`https://localhost:${port2.api}${p}`, { ca: cert1, cert: client.cert, key: client.key,
    lookup: (_h, o, cb) => (o?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)), ...opts });
  const sign2 = (pk, body) => api2(`/api/v1/eth2/sign/${pk}`, { method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json' } });
  const keys2 = async () => (await health2()).enclave?.keys_loaded;
  await until('the second host ready', async () => { const h = await health2(); return h.http === 200 && h.enclave?.ready; }, 30000,
    () => fs.readFileSync(log2, 'utf8').split('\n').slice(-20).join('\n'));
  check((await keys2()) === 8, `the second enclave loads 8 keys, the imported one among them: ${await keys2()}`);
  const r1 = await sign2(importedKey, builders.RANDAO_REVEAL(FORK.FULU, epochIn(FORK.FULU, 'random')).body);
  check(r1.status === 200, `the second enclave signs with the key imported through the first: ${r1.status} ${r1.body}`);
  // Imported through the first host's API: the second loads it at its poll.
  const km1 = (method, body) => {
    const text = JSON.stringify(body);
    return api('/eth/v1/keystores', { method, body: text, headers: { authorization: `Bearer ${kmToken}`,
      'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } });
  };
  const [k2] = makeKeystores(path.join(tmp, 'ks-km2'), 1);
  const ks2Dir = path.join(tmp, 'ks-km2');
  const ks2 = fs.readFileSync(path.join(ks2Dir, fs.readdirSync(ks2Dir).find((f) => f.endsWith('.json'))), 'utf8');
  const im = await km1('POST', { keystores: [ks2], passwords: ['e2e keystore password'] });
  check(json(im).data?.[0]?.status === 'imported', `imported through the first: ${im.body}`);
  await until('the second host loads it at its poll', async () => (await keys2()) === 9, 20000);
  // A poll of the first host that read the table before the import's put may reload without the key
  // until its next poll (docs/keymanager.md): past one more poll, the first serves it for good.
  await sleep((POLL_S + 1) * 1000);
  await until('the first enclave lists it', async () => {
    const l = await api('/eth/v1/keystores', { headers: { authorization: `Bearer ${kmToken}`, accept: 'application/json' } });
    return (json(l).data || []).some((d) => d.validating_pubkey === k2);
  }, 20000);
  const e1 = currentEpoch();
  const vote = builders.ATTESTATION(FORK.FULU, e1, { sourceEpoch: e1 - 1n });
  const s2 = await sign2(k2, vote.body);
  check(s2.status === 200, `the second enclave signs a vote with it: ${s2.status} ${s2.body}`);
  // Deleted through the first: refused by the second at once (the shared slashing table), dropped at its poll.
  const del = await km1('DELETE', { pubkeys: [k2] });
  check(json(del).data?.[0]?.status === 'deleted', `deleted through the first: ${del.body}`);
  const sp = JSON.parse(json(del).slashing_protection || '{}');
  check(sp.data?.find((d) => d.pubkey === k2)?.signed_attestations?.[0]?.target_epoch === String(e1),
    'the first answers the vote the second signed');
  const later = builders.ATTESTATION(FORK.FULU, e1 + 1n, { sourceEpoch: e1 });
  const s3 = await sign2(k2, later.body);
  check((s3.status === 412 && json(s3).reason === 'validator_disabled') || s3.status === 404, // 404: its poll won the race
    `the second refuses it at once: ${s3.status} ${s3.body}`);
  await until('the second host drops it at its poll', async () => (await keys2()) === 8, 20000);
  host2.kill('SIGTERM');
  await until('the second host to exit', async () => host2.exitCode !== null, 10000);
});

await step('attested TLS: GET /attestation binds PCR0, nonce and the certificate', async () => {
  const a1 = await post(`/api/v1/eth2/sign/${sampleKeys[0]}`, att.body);
  check(a1.status === 200, `attestation signed: ${a1.status} ${a1.body}`);
  const nonce = crypto.randomBytes(32).toString('hex');
  const r = await api(`/attestation?nonce=${nonce}`);
  check(r.status === 200, `attestation ${r.status} ${r.body}`);
  const doc = path.join(tmp, 'attestation.cbor');
  fs.writeFileSync(doc, r.body);
  const v = run('nitro-keys', ['attestation', 'verify', doc, `--root=${path.join(simDir, 'root.pem')}`,
    `--expect-pcr0=${SIM_PCR0}`, `--expect-pcr8=${SIM_PCR8}`, `--nonce=${nonce}`, `--tls-cert=${certPath}`]);
  check(v.status === 0, `nitro-keys attestation verify: ${v.status} ${v.stdout} ${v.stderr}`);
  check(/^checked: .*PCR0, PCR8, nonce/m.test(v.stdout), `PCR8 checked: ${v.stdout}`);
  const bad8 = run('nitro-keys', ['attestation', 'verify', doc, `--root=${path.join(simDir, 'root.pem')}`,
    `--expect-pcr0=${SIM_PCR0}`, `--expect-pcr8=${OTHER_PCR0}`, `--nonce=${nonce}`, `--tls-cert=${certPath}`]);
  check(bad8.status === 1 && bad8.stderr.includes('PCR8 does not match --expect-pcr8'),
    `another PCR8 must not verify: ${bad8.status} ${bad8.stderr}`);
  const bad = run('nitro-keys', ['attestation', 'verify', doc, `--root=${path.join(simDir, 'root.pem')}`,
    `--expect-pcr0=${OTHER_PCR0}`, `--nonce=${nonce}`, `--tls-cert=${certPath}`]);
  check(bad.status === 1, `another PCR0 must not verify: ${bad.status} ${bad.stderr}`);
  const badNonce = run('nitro-keys', ['attestation', 'verify', doc, `--root=${path.join(simDir, 'root.pem')}`,
    `--expect-pcr0=${SIM_PCR0}`, `--nonce=${'00'.repeat(32)}`, `--tls-cert=${certPath}`]);
  check(badNonce.status === 1, `another nonce must not verify: ${badNonce.status}`);
  // Independently (Node's crypto, the KMS stand-in's verifier).
  const cfg = createAttestationConfig({ root: fs.readFileSync(path.join(simDir, 'root.pem')), maxAgeSeconds: 300 });
  const d = verifyAttestationDocument(r.body, cfg);
  check(d.ok, `independent verification: ${d.message}`);
  check(d.pcrs.get(0).toString('hex') === SIM_PCR0, 'PCR0');
  check(d.pcrs.get(8).toString('hex') === SIM_PCR8, 'PCR8');
  check(d.nonce.toString('hex') === nonce, 'nonce');
  const spki = new crypto.X509Certificate(cert1).publicKey.export({ type: 'spki', format: 'der' });
  check(d.userData.equals(crypto.createHash('sha256').update(spki).digest()), 'user_data = SHA-256(certificate SPKI)');
  const noNonce = await api('/attestation');
  check(noNonce.status === 400 && /nonce/.test(noNonce.body.toString()), `no nonce -> 400 naming it: ${noNonce.status}`);
});

// ---- 6. kill the enclave ----
await step('SIGKILL the enclave: restarted, same certificate, signing resumes, double vote still refused', async () => {
  const pid = h1.enclave.pid;
  check(Number.isInteger(pid) && pid > 0, `enclave pid in health: ${JSON.stringify(h1.enclave)}`);
  // The host copies another signer's token item (sealed by the operator, its token known to whoever
  // holds that signer's token) over ours: the restarted enclave must refuse it (the KMS context names
  // the other signer) and serve no Keymanager API, rather than take a token the host may know.
  runOk('nitro-keys', ['keymanager', 'token', `--key-id=${env.KEY_ARN}`, '--signer-id=other-signer', `--table=${TABLE}`],
    { env: awsEnv() });
  const foreign = await tokenItem('other-signer');
  await ddb().send(new ddbSdk.PutItemCommand({ TableName: TABLE,
    Item: { ...foreign, web3signer_uuid: { S: SIGNER_ID } } }));
  process.kill(pid, 'SIGKILL');
  const h2 = await until('enclave restarted and ready', async () => {
    const h = await health();
    return h.http === 200 && h.enclave?.ready && h.enclave.pid !== pid && h.enclave.restarts >= 1 ? h : null;
  }, 30000);
  check(h2.enclave.keys_loaded === 8, `8 keys after restart (one deleted, one imported): ${JSON.stringify(h2)}`);
  await signAndVerify(importedKey, epochIn(FORK.FULU, 'random')); // its sealed record opened by a new enclave
  const km = await api('/eth/v1/keystores', { headers: { authorization: `Bearer ${kmToken}` } });
  check(km.status === 404, `a token item copied from another signer is refused: no Keymanager API (${km.status})`);
  check(/keymanager API: off: the token item is refused/.test(fs.readFileSync(path.join(tmp, 'host.log'), 'utf8')),
    'the enclave says why the API is off');
  const cert2 = fs.readFileSync(certPath, 'utf8');
  check(cert2 === cert1, 'the same certificate came back (clients keep their pin)');
  await signAndVerify(envelopeKeys[0], epochIn(FORK.FULU, 'random'));
  const conflicting = { ...att.body, attestation: { ...att.body.attestation, beacon_block_root: toHex(crypto.randomBytes(32)) } };
  const r = await post(`/api/v1/eth2/sign/${sampleKeys[0]}`, conflicting);
  check(r.status === 412, `double vote after the restart -> 412, got ${r.status} ${r.body}`);
  // What refused it is the shared table: the vote is there, MAC'd under the key the first enclave
  // sealed in the key table and the restarted one recovered.
  const out = path.join(tmp, 'slashing-export.json');
  runOk('nitro-signer', ['eth2', `--slashing-protection-db-url=dynamodb://${SLASHING_TABLE}`, 'export', `--to=${out}`],
    { env: awsEnv() });
  const ex = JSON.parse(fs.readFileSync(out, 'utf8'));
  const entry = ex.data.find((d) => d.pubkey === sampleKeys[0]);
  check(entry && entry.signed_attestations.length === 1 &&
    entry.signed_attestations[0].target_epoch === String(attEpoch), `the table holds the vote: ${JSON.stringify(entry)}`);
  const log = fs.readFileSync(path.join(tmp, 'host.log'), 'utf8');
  check(/MAC key created/.test(log) && /MAC key recovered/.test(log),
    `the MAC key was created by the first enclave and recovered by the second:\n${hostLogTail()}`);
  h1 = h2;
});

// ---- 7. credentials expire ----
await step('credentials: the first ones expire, fresh ones are pushed; a new key loads on SIGHUP without a restart', async () => {
  const firstExpiry = Date.parse(h1.credentials_expiration);
  check(Number.isFinite(firstExpiry), `credentials_expiration in health: ${h1.credentials_expiration}`);
  await until('the first credentials to expire', async () => Date.now() > firstExpiry + 1000, (CRED_LIFETIME_S + 5) * 1000);
  const h = await health();
  check(h.http === 200, `health still UP: ${JSON.stringify(h)}`);
  check(Date.parse(h.credentials_expiration) > Date.now(), `fresh credentials pushed: ${h.credentials_expiration}`);
  const [newKey] = makeKeystores(path.join(tmp, 'ks-new'), 1);
  upload(path.join(tmp, 'ks-new'), env.KEY_ARN);
  process.kill(host.pid, 'SIGHUP');
  const h3 = await until('the new key loaded', async () => {
    const x = await health();
    return x.http === 200 && x.enclave?.keys_loaded === 9 ? x : null;
  }, 20000);
  check(h3.enclave.pid === h1.enclave.pid, 'no enclave restart');
  await signAndVerify(newKey, epochIn(FORK.FULU, 'random'));
});

// ---- 7b. the poll ----
await step('the key table poll: a key uploaded loads, a key disabled unloads, no signal; an unchanged table sends no reload', async () => {
  const reloads = () => (fs.readFileSync(path.join(tmp, 'host.log'), 'utf8').match(/run: reload: /g) || []).length;
  const keysLoaded = async () => (await health()).enclave?.keys_loaded;
  // The previous step's SIGHUP reload may still be under way (its key can arrive first through a poll):
  // start from a quiet log, no reload for a poll interval.
  for (let quiet = false, t = Date.now(); !quiet && Date.now() - t < 30000;) {
    const n = reloads();
    await sleep((POLL_S + 1) * 1000);
    quiet = reloads() === n;
  }
  const before = await keysLoaded();
  const n0 = reloads();
  await sleep((POLL_S * 2 + 1) * 1000);
  check(reloads() === n0, `an unchanged table sent no reload in two polls (${n0} -> ${reloads()})`);
  const [polled] = makeKeystores(path.join(tmp, 'ks-polled'), 1);
  upload(path.join(tmp, 'ks-polled'), env.KEY_ARN);
  await until('the polled key loaded', async () => (await keysLoaded()) === before + 1, 20000);
  await signAndVerify(polled, epochIn(FORK.FULU, 'random'));
  runOk('nitro-keys', ['kms', 'disable', `--table=${TABLE}`, `--signer-id=${SIGNER_ID}`, `--pubkey=${polled}`],
    { env: awsEnv() });
  await until('the disabled key unloaded', async () => (await keysLoaded()) === before, 20000);
});

// ---- 8. stop ----
await step('SIGTERM: nitro-host exits 0 and the enclave is gone', async () => {
  const pid = h1.enclave.pid;
  host.kill('SIGTERM');
  const code = await until('nitro-host to exit', async () => (host.exitCode !== null ? { code: host.exitCode } : null), 10000);
  check(code.code === 0, `exit ${code.code}`);
  let alive = true;
  try { process.kill(pid, 0); } catch { alive = false; }
  check(!alive, 'enclave process gone');
});

console.log(`${failures === 0 ? 'PASS' : 'FAIL'}: ${checks} checks in ${elapsed()}`);
process.exit(failures === 0 ? 0 : 1);
