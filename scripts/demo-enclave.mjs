// make demo-enclave: the whole enclave path on one machine, step by step, each step with the command
// it runs here and the one an operator runs on AWS instead (docs/operator-guide.md). Local stand-ins
// play KMS, DynamoDB and IMDS; the NSM simulator plays the Nitro hypervisor (its own root certificate
// and a PCR0 it makes up); nitro-host's local runner starts `nitro-signer enclave` as a process instead
// of `nitro-cli run-enclave`. Nothing leaves 127.0.0.1; everything is removed at the end (NS_KEEP_TMP=1
// keeps the directory).
//
//   node scripts/demo-enclave.mjs [--bin=build/bin]
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fromHex, verify } from '../tests/js/lib/bls.mjs';
import { makeClientCert, writeKnownClients } from '../tests/js/lib/enclave.mjs';
import { builders, currentEpoch, FORK } from '../tests/js/lib/eth2.mjs';
import {
  ADMIN_ARN, awsEnvOf, binRunner, freePort, makeKeystores, OPERATOR_ARN, ROLE_ARN, SRC, startSimAndStandins, testRun,
  until, writeHostConfig,
} from '../tests/js/lib/proc.mjs';

const binArg = process.argv.find((a) => a.startsWith('--bin='));
const BIN = path.resolve(binArg ? binArg.slice(6) : process.env.NS_BIN_DIR || path.join(SRC, 'build/bin'));
for (const b of ['nitro-signer', 'nitro-host', 'nitro-keys'])
  assert.ok(fs.existsSync(path.join(BIN, b)), `${path.join(BIN, b)} is missing: run make build`);
const { tmp, children } = testRun('ns-demo-enclave-');
const { runOk } = binRunner(BIN);
const SIGNER_ID = 'demo-signer';
const TABLE = 'nitro-keys-demo';
const SLASHING_TABLE = 'nitro-slashing-demo';
const T = (p) => p.replaceAll(tmp, '$DEMO');
let n = 0;

function step(title, here, onAws) {
  console.log(`\n== ${++n}. ${title}`);
  for (const l of [].concat(here)) console.log(`   here:   ${T(l)}`);
  for (const l of [].concat(onAws)) console.log(`   on AWS: ${l}`);
}
const sh = (prog, args) => `${prog} ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`;
function run(prog, args, opts) {
  const r = runOk(prog, args, opts);
  return r;
}

console.log(`demo directory: ${tmp} (shown as $DEMO)`);

// 1. AWS and the hypervisor
const simDir = path.join(tmp, 'sim');
const PCR0 = crypto.createHash('sha384').update('nitro-signer demo enclave image').digest('hex');
step('stand-ins for KMS, DynamoDB and IMDS; the NSM simulator with its root and PCR0',
  [`node tests/standins/start.mjs (KMS trusting $DEMO/sim/root.pem), PCR0 ${PCR0.slice(0, 16)}...`],
  ['the real services; PCR0 comes from `nitro-cli build-enclave` (or computed offline from a reproducible image)']);
const env = await startSimAndStandins({ src: SRC, tmp, simDir, pcr0: PCR0, name: 'demo', children });
const awsEnv = awsEnvOf(env);

// 2. the KMS key pinned to PCR0
const polArgs = ['kms', 'policy', `--pcr0=${PCR0}`, `--role-arn=${ROLE_ARN}`, `--key-admin-arn=${ADMIN_ARN}`,
  `--encrypt-arn=${OPERATOR_ARN}`, '--condition=pcr0'];
step('the KMS key, its policy pinned to the image\'s PCR0',
  [sh('nitro-keys', polArgs) + ' > policy.json', 'POST /__admin/create-key to the KMS stand-in'],
  ['the key administrator: aws kms create-key --policy file://policy.json (the operator has no kms:PutKeyPolicy)']);
const pol = run('nitro-keys', polArgs);
fs.writeFileSync(path.join(tmp, 'policy.json'), pol.stdout);
const k = await fetch(`${env.AWS_ENDPOINT_URL_KMS}/__admin/create-key`, { method: 'POST',
  body: JSON.stringify({ description: 'demo', policy: pol.stdout }) });
const KEY_ARN = (await k.json()).Arn;
console.log(`   key: ${KEY_ARN}`);

// 3. validator keys
const ks = path.join(tmp, 'keystores');
const pw = path.join(tmp, 'password.txt');
fs.writeFileSync(pw, 'demo keystore password\n', { mode: 0o600 });
step('four validator keystores (fast PBKDF2 for the demo)',
  [sh('nitro-keys', ['keystore', 'generate', '--count=4', `--out=${ks}`, `--keystore-password-file=${pw}`, '--kdf=pbkdf2'])],
  ['the offline workstation: nitro-keys new-mnemonic (scrypt keystores, deposit data); docs/operator-keys.md']);
const pubkeys = makeKeystores(runOk, ks, 4, pw, 2);
for (const p of pubkeys) console.log(`   ${p}`);

// 4. tables and upload
const encArgs = ['kms', 'encrypt', `--key-id=${KEY_ARN}`, `--signer-id=${SIGNER_ID}`, `--keystores-path=${ks}`,
  `--keystores-passwords-path=${ks}`, '--chain=mainnet', '--upload', `--table=${TABLE}`];
step('the key table, the slashing table, and the keys sealed under KMS and uploaded',
  [sh('nitro-keys', ['kms', 'create-table', `--table=${TABLE}`]),
    sh('nitro-signer', ['eth2', `--slashing-protection-db-url=dynamodb://${SLASHING_TABLE}`, 'create-table']),
    sh('nitro-keys', encArgs)],
  ['the deploy creates both tables; the upload runs where the keystores are, with the operator\'s credentials']);
run('nitro-keys', ['kms', 'create-table', `--table=${TABLE}`], { env: awsEnv });
run('nitro-signer', ['eth2', `--slashing-protection-db-url=dynamodb://${SLASHING_TABLE}`, 'create-table'], { env: awsEnv });
const up = run('nitro-keys', encArgs, { env: awsEnv });
for (const l of (up.stdout + up.stderr).trim().split('\n').slice(-2)) console.log(`   ${l}`);

// 5. the validator client's certificate
const client = makeClientCert(tmp, 'demo-validator-client');
const known = path.join(tmp, 'known-clients.txt');
writeKnownClients(known, [client]);
step('the validator client\'s TLS certificate, listed in the image',
  ['openssl req -x509 ... -> demo-validator-client.crt; known-clients.txt holds its SHA-256'],
  ['the same, with the file built into the enclave image (it is part of PCR0)']);

// 6. nitro-host
const port = { api: await freePort(), health: await freePort() };
const sock = (x) => path.join(tmp, x);
const certPath = path.join(tmp, 'tls.crt');
const configPath = path.join(tmp, 'nitro-host.yaml');
const enclaveCmd = [path.join(BIN, 'nitro-signer'), 'enclave', `--control=unix:${sock('control.sock')}`,
  `--http-listen=unix:${sock('api.sock')}`, `--nsm=sim:${simDir}`, `--tls-kms-key-id=${KEY_ARN}`,
  `--signer-id=${SIGNER_ID}`, `--tls-known-clients-file=${known}`];
writeHostConfig({ configPath, writer: 'scripts/demo-enclave.mjs', tmp, env: { ...env, KEY_ARN }, signerId: SIGNER_ID,
  table: TABLE, enclaveCmd, port, certPath, maxBackoffS: 2, slashingDbUrl: `dynamodb://${SLASHING_TABLE}` });
step('nitro-host starts the enclave, reads the records with the instance role, sends init',
  [sh('nitro-host', ['run', `--config=${configPath}`]), `(runner: local; the enclave: ${T(enclaveCmd.slice(0, 2).join(' '))} ...)`],
  ['systemctl start nitro-host with deploy/config.example.yaml (runner: nitro-cli, vsock proxies)']);
const hostEnv = { ...process.env };
for (const key of Object.keys(hostEnv)) if (key.startsWith('AWS_')) delete hostEnv[key];
const log = fs.openSync(path.join(tmp, 'host.log'), 'a');
const host = spawn(path.join(BIN, 'nitro-host'), ['run', `--config=${configPath}`], { env: hostEnv, stdio: ['ignore', log, log] });
children.add(host);
const health = await until('nitro-host /health UP', async () => {
  if (host.exitCode !== null) throw Object.assign(new Error(`nitro-host exited ${host.exitCode}`), { fatal: true });
  const r = await fetch(`http://127.0.0.1:${port.health}/health`).catch(() => null);
  const j = r && r.status === 200 ? await r.json() : null;
  return j && j.enclave?.ready ? j : null;
}, 60000, () => fs.readFileSync(path.join(tmp, 'host.log'), 'utf8').slice(-3000));
console.log(`   /health: ${health.status}, ${health.enclave.keys_loaded} keys loaded`);

// 7. sign over HTTPS
const cert = fs.readFileSync(certPath);
const post = (p, body) => new Promise((resolve, reject) => {
  const req = https.request({ host: '127.0.0.1', port: port.api, path: p, method: 'POST', servername: 'localhost',
    ca: cert, cert: client.cert, key: client.key, headers: { 'content-type': 'application/json', accept: 'application/json' }, timeout: 15000 },
  (res) => { let b = ''; res.on('data', (c) => { b += c; }); res.on('end', () => resolve({ status: res.statusCode, body: b })); });
  req.on('error', reject);
  req.end(JSON.stringify(body));
});
step('a validator client signs over HTTPS through the host\'s proxy (TLS ends in the enclave)',
  [`POST https://localhost:${port.api}/api/v1/eth2/sign/<pubkey> (RANDAO_REVEAL, this epoch), pinning tls.crt, client certificate`],
  ['the validator client pointed at the load balancer: --externalSigner.url=https://... with its certificate']);
const epoch = currentEpoch();
for (const p of pubkeys) {
  const c = builders.RANDAO_REVEAL(FORK.FULU, epoch);
  const r = await post(`/api/v1/eth2/sign/${p}`, c.body);
  assert.equal(r.status, 200, `sign: ${r.status} ${r.body}`);
  const sig = JSON.parse(r.body).signature;
  assert.ok(verify(fromHex(sig), c.root, fromHex(p)), 'signature verifies');
  console.log(`   ${p.slice(0, 18)}... signed, signature verified`);
}

// 8. attestation
const nonce = crypto.randomBytes(32).toString('hex');
const doc = path.join(tmp, 'attestation.cbor');
const verifyArgs = ['attestation', 'verify', doc, `--root=${path.join(simDir, 'root.pem')}`, `--expect-pcr0=${PCR0}`,
  `--nonce=${nonce}`, `--tls-cert=${certPath}`];
step('which image holds the TLS key: the attestation document, checked',
  [`GET /attestation?nonce=...  ->  ${sh('nitro-keys', verifyArgs)}`],
  ['the same without --root (AWS\'s Nitro root is built in)']);
const a = await new Promise((resolve, reject) => {
  https.get({ host: '127.0.0.1', port: port.api, path: `/attestation?nonce=${nonce}`, servername: 'localhost', ca: cert },
    (res) => { const ch = []; res.on('data', (c) => ch.push(c)); res.on('end', () => resolve(Buffer.concat(ch))); }).on('error', reject);
});
fs.writeFileSync(doc, a);
const v = run('nitro-keys', verifyArgs);
console.log(`   ${v.stdout.trim().split('\n').pop()}`);

step('stop', ['SIGTERM nitro-host (it stops the enclave)'], ['systemctl stop nitro-host']);
host.kill('SIGTERM');
await until('nitro-host to exit', async () => host.exitCode !== null, 10000);
console.log(`\ndemo-enclave: done: 4 keys uploaded sealed under KMS, loaded by the enclave, signed over mTLS, attestation verified`);
process.exit(0);
