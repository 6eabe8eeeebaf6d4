// test_lambda_control.mjs: nitro-control, the control Lambda, against a real
// signer (ctest name integration/test_lambda_control.mjs).
//
//  1. The e2e flow's setup, short: stand-ins (DynamoDB, KMS trusting the NSM
//     simulator's root, IMDS), 2 per-key records and a 2-key envelope
//     uploaded with nitro-keys, nitro-host running `nitro-signer enclave`
//     with the simulator; the enclave writes its tls:server item and serves
//     HTTPS (and /attestation) through the host's TCP proxy, which stands in
//     for the load balancer.
//  2. nitro-control against the Runtime API stand-in
//     (tests/standins/lambda_runtime.mjs) with session credentials as
//     Lambda provides them (from the IMDS stand-in, AWS_SESSION_TOKEN set):
//     every operation and alias answers; set_tls_key, an unknown operation,
//     a missing operation, an array, invalid JSON, a number and an extra
//     field are function errors naming the problem, and the loop goes on.
//     With the client certificate the image lists, public_keys comes from
//     the signer; with an unlisted one it is refused (403). A transcript of
//     each answer is printed.
//  3. A wrong EXPECTED_PCR0 fails attest (and only attest). The simulator
//     reports a signed image's PCR8 (DIR/pcr8.hex): EXPECTED_PCR8 equal to it
//     passes attest and get_tls_cert, saying PCR8 was checked; another value
//     fails both naming PCR8.
//  4. Another certificate at SIGNER_URL (the pin is the key table's): every
//     signer operation fails closed with CertificateMismatch, nothing sent.
//     A TLS-terminating proxy whose certificate someone wrote into the key
//     table passes the pin, and attest refuses it (user_data).
//  5. A signer that never answers: the call ends within the invocation's
//     deadline (DeadlineExceeded), and an invocation already out of time is
//     refused before any call.
//  6. A bad environment: /init/error with InvalidConfiguration, exit 1.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import {
  awsEnvOf, binRunner, freePort, makeKeystores, startSimAndStandins, testRun, until, writeHostConfig,
  BIN, createPinnedKey, SRC,
} from '../js/lib/proc.mjs';
import { makeClientCert, writeKnownClients } from '../js/lib/enclave.mjs';
import { listen, requireTestDep } from '../standins/common.mjs';
import { createLambdaRuntime } from '../standins/lambda_runtime.mjs';

const ddbSdk = requireTestDep('@aws-sdk/client-dynamodb');
assert.ok(BIN, 'NS_BIN_DIR must point at the built binaries');
const SIGNER_ID = 'lambda-signer';
const TABLE = 'nitro-keys-lambda';
const { tmp, children } = testRun('ns-lambda-');
const { runOk } = binRunner(BIN);
let passed = 0;
let failed = 0;

async function step(name, fn) {
  const t = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n${e.stack || e}`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(1);
  }
}

// ---- 1. a signer ----
const simDir = path.join(tmp, 'sim');
const SIM_PCR0 = crypto.createHash('sha384').update('nitro-signer lambda test image').digest('hex');
// The signing certificate's measurement a signed image reports as PCR8.
const SIM_PCR8 = crypto.createHash('sha384').update('nitro-signer lambda test signing certificate').digest('hex');
const port = { api: await freePort(), health: await freePort() };
const certPath = path.join(tmp, 'tls.crt');
// The image lists one client: the certificate an operator made for the Lambda.
const listed = makeClientCert(tmp, 'nitro-control');
const unlisted = makeClientCert(tmp, 'someone-else');
const knownClientsPath = path.join(tmp, 'known-clients.txt');
writeKnownClients(knownClientsPath, [listed]);
let env;
let keys;

await step('signer up: stand-ins, 4 keys uploaded, nitro-host + enclave (simulator) serving TLS', async () => {
  env = await startSimAndStandins({ src: SRC, tmp, simDir, pcr0: SIM_PCR0, name: 'lambda', children });
  fs.writeFileSync(path.join(simDir, 'pcr8.hex'), `${SIM_PCR8}\n`);
  env.KEY_ARN = await createPinnedKey({ runOk, env, pcr0: SIM_PCR0, description: 'lambda test' });
  const pw = path.join(tmp, 'pw.txt');
  fs.writeFileSync(pw, 'lambda test password\n', { mode: 0o600 });
  runOk('nitro-keys', ['kms', 'create-table', `--table=${TABLE}`], { env: awsEnvOf(env) });
  keys = [];
  for (const [dir, extra] of [['ks-single', []], ['ks-envelope', ['--envelope']]]) {
    keys.push(...makeKeystores(runOk, path.join(tmp, dir), 2, pw, 2));
    runOk('nitro-keys', ['kms', 'encrypt', `--key-id=${env.KEY_ARN}`, `--signer-id=${SIGNER_ID}`,
      `--keystores-path=${path.join(tmp, dir)}`, `--keystores-passwords-path=${path.join(tmp, dir)}`,
      '--chain=mainnet', '--upload', `--table=${TABLE}`, ...extra], { env: awsEnvOf(env) });
  }
  const sock = (n) => path.join(tmp, n);
  const configPath = path.join(tmp, 'nitro-host.yaml');
  writeHostConfig({ configPath, writer: 'test_lambda_control.mjs', tmp, env, signerId: SIGNER_ID, table: TABLE,
    enclaveCmd: [path.join(BIN, 'nitro-signer'), 'enclave', `--control=unix:${sock('control.sock')}`,
      `--http-listen=unix:${sock('api.sock')}`, `--nsm=sim:${simDir}`, `--tls-kms-key-id=${env.KEY_ARN}`,
      `--signer-id=${SIGNER_ID}`, `--tls-known-clients-file=${knownClientsPath}`],
    port, certPath, maxBackoffS: 2 });
  const hostEnv = { ...process.env };
  for (const k of Object.keys(hostEnv)) if (k.startsWith('AWS_')) delete hostEnv[k];
  const log = fs.openSync(path.join(tmp, 'host.log'), 'a');
  const host = spawn(path.join(BIN, 'nitro-host'), ['run', `--config=${configPath}`],
    { env: hostEnv, stdio: ['ignore', log, log] });
  children.add(host);
  await until('the enclave ready', async () => {
    if (host.exitCode !== null) throw Object.assign(new Error(`nitro-host exited ${host.exitCode}`), { fatal: true });
    const r = await fetch(`http://127.0.0.1:${port.health}/health`);
    const h = await r.json();
    return r.status === 200 && h.enclave?.ready && h.enclave.keys_loaded === 4 ? h : null;
  }, 30000, () => fs.readFileSync(path.join(tmp, 'host.log'), 'utf8').split('\n').slice(-30).join('\n'));
  assert.match(fs.readFileSync(certPath, 'utf8'), /BEGIN CERTIFICATE/);
});

// Session credentials as Lambda hands them over (AWS_SESSION_TOKEN set), from the IMDS stand-in.
async function sessionCredentials() {
  const imds = env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  const token = await (await fetch(`${imds}/latest/api/token`, { method: 'PUT',
    headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '300' } })).text();
  const h = { 'X-aws-ec2-metadata-token': token };
  const base = `${imds}/latest/meta-data/iam/security-credentials/`;
  const role = (await (await fetch(base, { headers: h })).text()).trim();
  const c = await (await fetch(base + role, { headers: h })).json();
  return { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.Token };
}

// A nitro-control process on its own Runtime API stand-in.
async function startLambda(overrides = {}) {
  const rt = createLambdaRuntime();
  const rtPort = await listen(rt.server);
  const lambdaEnv = {
    PATH: process.env.PATH,
    ASAN_OPTIONS: process.env.ASAN_OPTIONS || '',
    AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${rtPort}`,
    AWS_REGION: env.AWS_REGION,
    AWS_ENDPOINT_URL_DYNAMODB: env.AWS_ENDPOINT_URL_DYNAMODB,
    ...(await sessionCredentials()),
    SIGNER_URL: `https://127.0.0.1:${port.api}`,
    KEY_TABLE: TABLE,
    SIGNER_ID,
    EXPECTED_PCR0: SIM_PCR0,
    ATTESTATION_ROOT_PEM: fs.readFileSync(path.join(simDir, 'root.pem'), 'utf8'),
    ...overrides,
  };
  for (const [k, v] of Object.entries(lambdaEnv)) if (v === undefined) delete lambdaEnv[k];
  const stderr = [];
  const proc = spawn(path.join(BIN, 'nitro-control'), [], { env: lambdaEnv, stdio: ['ignore', 'inherit', 'pipe'] });
  proc.stderr.on('data', (d) => stderr.push(d));
  children.add(proc);
  const call = async (event, opts) => rt.result(rt.invoke(event, opts), 20000);
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  return { rt, proc, call, exited, log: () => Buffer.concat(stderr).toString() };
}

const short = (a) => JSON.stringify(a.kind === 'error' ? { errorType: a.errorType, ...a.body } : a.body,
  (k, v) => (typeof v === 'string' && v.length > 100 ? `${v.slice(0, 60)}...(${v.length} chars)` : v));
const transcript = [];
const record = (what, a) => transcript.push(`${what} -> ${a.kind}: ${short(a)}`);

function expectError(a, type, re) {
  assert.equal(a.kind, 'error', `an error, got ${JSON.stringify(a)}`);
  assert.equal(a.errorType, type, `the Lambda-Runtime-Function-Error-Type header: ${JSON.stringify(a)}`);
  assert.equal(a.body.errorType, type, `errorType: ${JSON.stringify(a.body)}`);
  assert.match(a.body.errorMessage, re);
}

// ---- 2. every operation ----
const lambda = await startLambda();
const pem = fs.readFileSync(certPath, 'utf8');
const derSha256 = crypto.createHash('sha256').update(new crypto.X509Certificate(pem).raw).digest('hex');

await step('status and web3signer_status: /upcheck and /healthcheck through the pinned TLS', async () => {
  for (const op of ['status', 'web3signer_status']) {
    const a = await lambda.call({ operation: op });
    record(op, a);
    assert.equal(a.kind, 'response', JSON.stringify(a));
    assert.equal(a.body.operation, op);
    assert.equal(a.body.healthy, true, JSON.stringify(a.body));
    assert.equal(a.body.upcheck.status, 200);
    assert.equal(a.body.healthcheck.status, 200);
    assert.equal(a.body.healthcheck.body.status, 'UP', JSON.stringify(a.body.healthcheck));
  }
});

await step('public_keys and web3signer_public_keys: the 4 enabled keys, from the key table, saying so', async () => {
  for (const op of ['public_keys', 'web3signer_public_keys']) {
    const a = await lambda.call({ operation: op });
    record(op, a);
    assert.equal(a.kind, 'response', JSON.stringify(a));
    assert.equal(a.body.source, 'key_table');
    assert.deepEqual(a.body.public_keys, [...keys].sort());
    assert.equal(a.body.records, 2 + 1, 'two per-key records and one envelope');
  }
});

await step('get_tls_cert and get_tls_key: the certificate the enclave wrote (the host wrote the same)', async () => {
  for (const op of ['get_tls_cert', 'get_tls_key']) {
    const a = await lambda.call({ operation: op });
    record(op, a);
    assert.equal(a.kind, 'response', JSON.stringify(a));
    assert.equal(a.body.tls_cert_pem.trim(), pem.trim());
    assert.equal(a.body.sha256, derSha256);
    // given only with the attestation of the enclave holding its key, in the same invocation
    assert.equal(a.body.attestation?.user_data, `0x${a.body.spki_sha256}`, JSON.stringify(a.body.attestation));
  }
});

await step('attest: verified to the (simulator) root, PCR0, the fresh nonce, user_data = the pinned SPKI', async () => {
  const a = await lambda.call({ operation: 'attest' });
  record('attest', a);
  assert.equal(a.kind, 'response', JSON.stringify(a));
  assert.equal(a.body.pcr0, `0x${SIM_PCR0}`);
  assert.match(a.body.nonce, /^0x[0-9a-f]{64}$/);
  assert.equal(a.body.tls_cert_sha256, `0x${derSha256}`);
  assert.equal(a.body.checks_passed.length, 4, 'PCR8 is not checked without EXPECTED_PCR8');
  assert.equal(a.body.pcr8, undefined);
  assert.ok(Math.abs(a.body.timestamp - Date.now()) < 60000, 'a fresh document');
  const b = await lambda.call({ operation: 'attest' });
  assert.notEqual(b.body.nonce, a.body.nonce, 'a new nonce every time');
});

await step('set_tls_key and bad events: function errors naming the problem; the loop goes on', async () => {
  const cases = [
    [{ operation: 'set_tls_key' }, 'Unsupported', /born in the enclave/],
    [{ operation: 'reboot' }, 'UnknownOperation', /unknown operation "reboot"/],
    [{}, 'InvalidEvent', /"operation" is missing/],
    [['status'], 'InvalidEvent', /not a JSON object/],
    [{ operation: 5 }, 'InvalidEvent', /"operation" is not a string/],
    [{ operation: 'status', extra: 1 }, 'InvalidEvent', /unknown field "extra"/],
    [{ operation: 'status\u0000x' }, 'InvalidEvent', /\\u0000 is not allowed/],
    [{ operation: 'status\u0007x' }, 'UnknownOperation', /unknown operation "status\?x"/],
  ];
  for (const [event, type, re] of cases) {
    const a = await lambda.call(event);
    record(JSON.stringify(event), a);
    expectError(a, type, re);
  }
  const raw = await lambda.call(undefined, { raw: '{"operation": "status"' });
  record('invalid JSON', raw);
  expectError(raw, 'InvalidEvent', /event: invalid JSON/);
  const dup = await lambda.call(undefined, { raw: '{"operation": "status", "operation": "attest"}' });
  expectError(dup, 'InvalidEvent', /duplicate/i);
  const after = await lambda.call({ operation: 'status' });
  assert.equal(after.kind, 'response', 'still serving after the errors');
  assert.equal(lambda.proc.exitCode, null, 'the same process answered everything');
  assert.deepEqual(lambda.rt.state.violations, []);
  assert.equal(lambda.rt.state.initError, null);
  assert.doesNotMatch(lambda.log(), /SECRET|SecretAccessKey|BEGIN PRIVATE/i, 'no secret in the log');
});

await step('with a listed client certificate: public_keys from the signer itself; an unlisted one: refused', async () => {
  const l = await startLambda({ SIGNER_CLIENT_CERT_PEM: listed.cert.toString(), SIGNER_CLIENT_KEY_PEM: listed.key.toString() });
  const a = await l.call({ operation: 'public_keys' });
  record('public_keys (listed client certificate)', a);
  assert.equal(a.kind, 'response', JSON.stringify(a));
  assert.equal(a.body.source, 'signer');
  assert.deepEqual(a.body.public_keys, [...keys].sort());
  assert.equal((await l.call({ operation: 'status' })).kind, 'response');
  assert.doesNotMatch(l.log(), /BEGIN (EC )?PRIVATE KEY/, 'the key is never logged');
  const u = await startLambda({ SIGNER_CLIENT_CERT_PEM: unlisted.cert.toString(), SIGNER_CLIENT_KEY_PEM: unlisted.key.toString() });
  const b = await u.call({ operation: 'public_keys' });
  record('public_keys (unlisted client certificate)', b);
  expectError(b, 'SignerUnavailable', /HTTP 403: the signer does not accept SIGNER_CLIENT_CERT_PEM/);
});

// ---- 3. the wrong image ----
await step('a wrong EXPECTED_PCR0: attest fails naming PCR0; status still answers', async () => {
  const other = crypto.createHash('sha384').update('another image').digest('hex');
  const l = await startLambda({ EXPECTED_PCR0: `0x${other}` });
  const a = await l.call({ operation: 'attest' });
  record('attest (wrong EXPECTED_PCR0)', a);
  expectError(a, 'AttestationFailed', new RegExp(`PCR0 does not match EXPECTED_PCR0: the enclave runs 0x${SIM_PCR0}`));
  assert.equal((await l.call({ operation: 'status' })).kind, 'response');
  // Without the test root, the simulator's documents do not chain to AWS's.
  const aws = await startLambda({ ATTESTATION_ROOT_PEM: undefined });
  const b = await aws.call({ operation: 'attest' });
  record('attest (AWS root)', b);
  expectError(b, 'AttestationFailed', /attestation document: .*(chain|root|certificate)/i);
});

await step('EXPECTED_PCR8: the signed image\'s PCR8 passes attest and get_tls_cert, saying so; another fails both', async () => {
  const l = await startLambda({ EXPECTED_PCR8: `0x${SIM_PCR8}` });
  const a = await l.call({ operation: 'attest' });
  record('attest (EXPECTED_PCR8 = the image\'s)', a);
  assert.equal(a.kind, 'response', JSON.stringify(a));
  assert.equal(a.body.pcr0, `0x${SIM_PCR0}`);
  assert.equal(a.body.pcr8, `0x${SIM_PCR8}`);
  assert.equal(a.body.checks_passed.length, 5);
  assert.equal(a.body.checks_passed[2], 'PCR8 = EXPECTED_PCR8');
  const g = await l.call({ operation: 'get_tls_cert' });
  assert.equal(g.kind, 'response', JSON.stringify(g));
  assert.ok(g.body.attestation.checks_passed.includes('PCR8 = EXPECTED_PCR8'), JSON.stringify(g.body.attestation));
  const other = crypto.createHash('sha384').update('another signing certificate').digest('hex');
  const w = await startLambda({ EXPECTED_PCR8: other });
  for (const op of ['attest', 'get_tls_cert']) {
    const b = await w.call({ operation: op });
    record(`${op} (wrong EXPECTED_PCR8)`, b);
    expectError(b, 'AttestationFailed', new RegExp(`PCR8 does not match EXPECTED_PCR8: the enclave reports 0x${SIM_PCR8}`));
  }
  assert.equal((await w.call({ operation: 'status' })).kind, 'response');
});

// ---- 4. a certificate other than the key table's ----
await step('another certificate at SIGNER_URL: CertificateMismatch, fail closed, no request reaches it', async () => {
  const o = spawnSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', path.join(tmp, 'mitm.key'), '-out', path.join(tmp, 'mitm.crt'), '-days', '1',
    '-subj', '/CN=localhost'], { encoding: 'utf8' });
  assert.equal(o.status, 0, o.stderr);
  let requests = 0;
  const mitm = https.createServer({ key: fs.readFileSync(path.join(tmp, 'mitm.key')),
    cert: fs.readFileSync(path.join(tmp, 'mitm.crt')) }, (req, res) => { requests++; res.end('OK'); });
  const mitmPort = await listen(mitm);
  const l = await startLambda({ SIGNER_URL: `https://127.0.0.1:${mitmPort}` });
  for (const op of ['status', 'attest']) {
    const a = await l.call({ operation: op });
    record(`${op} (another certificate)`, a);
    expectError(a, 'CertificateMismatch', /not the pinned certificate/);
  }
  assert.equal(requests, 0, 'no request was sent to the other server');
  mitm.close();
});

await step('a proxy with its own certificate, written into the key table: status passes the pin, attest fails on user_data', async () => {
  // Someone who can write the key table puts their certificate in the tls:server item and
  // terminates TLS in front of the real signer. The pin holds for them; the attestation does not,
  // because the enclave binds its own key's SPKI into user_data.
  const ddb = new ddbSdk.DynamoDBClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
  const Key = { web3signer_uuid: { S: SIGNER_ID }, pubkey: { S: 'tls:server' } };
  const { Item: original } = await ddb.send(new ddbSdk.GetItemCommand({ TableName: TABLE, Key, ConsistentRead: true }));
  assert.ok(original?.tls_cert_pem?.S, 'the enclave wrote its item');
  const proxyCert = fs.readFileSync(path.join(tmp, 'mitm.crt'), 'utf8');
  let forwarded = 0;
  const proxy = https.createServer({ key: fs.readFileSync(path.join(tmp, 'mitm.key')), cert: proxyCert }, (req, res) => {
    forwarded++;
    https.get({ host: '127.0.0.1', port: port.api, path: req.url, rejectUnauthorized: false }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    }).on('error', (e) => { res.writeHead(502); res.end(String(e)); });
  });
  const proxyPort = await listen(proxy);
  try {
    await ddb.send(new ddbSdk.PutItemCommand({ TableName: TABLE, Item: { ...original, tls_cert_pem: { S: proxyCert } } }));
    const l = await startLambda({ SIGNER_URL: `https://127.0.0.1:${proxyPort}` });
    const st = await l.call({ operation: 'status' });
    assert.equal(st.kind, 'response', `the pin matches the proxy: ${JSON.stringify(st)}`);
    const a = await l.call({ operation: 'attest' });
    record('attest (a proxy whose certificate is in the key table)', a);
    expectError(a, 'AttestationFailed', /user_data is not SHA-256 of the pinned certificate's public key/);
    // nor does the host's certificate come back from get_tls_cert
    const g = await l.call({ operation: 'get_tls_cert' });
    record('get_tls_cert (a proxy whose certificate is in the key table)', g);
    expectError(g, 'AttestationFailed', /user_data is not SHA-256 of the pinned certificate's public key/);
    assert.ok(forwarded >= 4, 'the requests went through the proxy');
  } finally {
    await ddb.send(new ddbSdk.PutItemCommand({ TableName: TABLE, Item: original }));
    proxy.close();
  }
});

// ---- 5. deadlines ----
await step('a signer that never answers: the call ends by the invocation deadline', async () => {
  const held = [];
  const silent = net.createServer((c) => held.push(c));
  const silentPort = await listen(silent);
  const l = await startLambda({ SIGNER_URL: `https://127.0.0.1:${silentPort}` });
  const t = Date.now();
  const a = await l.call({ operation: 'status' }, { timeoutMs: 1500 });
  const ms = Date.now() - t;
  record('status (silent signer, 1.5 s deadline)', a);
  expectError(a, 'DeadlineExceeded', /timed out|deadline/);
  assert.ok(ms < 1500, `answered before the deadline: ${ms} ms`);
  const late = await l.call({ operation: 'status' }, { timeoutMs: 100 });
  record('status (100 ms left)', late);
  expectError(late, 'DeadlineExceeded', /deadline leaves no time/);
  for (const c of held) c.destroy();
  silent.close();
});

// ---- 6. a bad environment ----
await step('a bad environment: /init/error (InvalidConfiguration) naming the variable, exit 1', async () => {
  for (const [over, re] of [[{ EXPECTED_PCR0: 'abcd' }, /EXPECTED_PCR0 must be 48 bytes/],
    [{ EXPECTED_PCR0: '0'.repeat(96) }, /EXPECTED_PCR0 is all zeros .* ALLOW_DEBUG_PCR0=true/],
    [{ EXPECTED_PCR8: SIM_PCR8.slice(2) }, /EXPECTED_PCR8 must be 48 bytes/],
    [{ EXPECTED_PCR8: `0x${'0'.repeat(96)}` }, /EXPECTED_PCR8 is all zeros, which every unsigned image reports/],
    [{ SIGNER_URL: `http://127.0.0.1:${port.api}` }, /SIGNER_URL must be https/],
    [{ KEY_TABLE: undefined }, /KEY_TABLE is not set/],
    [{ ATTESTATION_ROOT_PEM: 'not a certificate' }, /ATTESTATION_ROOT_PEM is not a PEM certificate/],
    [{ SIGNER_CLIENT_CERT_PEM: listed.cert.toString(), SIGNER_CLIENT_KEY_PEM: unlisted.key.toString() },
      /SIGNER_CLIENT_KEY_PEM: TLS client certificate: the key does not match the certificate/]]) {
    const l = await startLambda(over);
    assert.equal(await l.exited, 1);
    const ie = l.rt.state.initError;
    assert.ok(ie, 'init error reported');
    assert.equal(ie.errorType, 'InvalidConfiguration');
    assert.match(ie.body.errorMessage, re);
    assert.equal(l.rt.state.served, 0, 'no invocation taken');
  }
});

console.log('\ntranscript (nitro-control answers):');
for (const l of transcript) console.log(`  ${l}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(0);
