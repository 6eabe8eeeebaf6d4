// proc.mjs: what the process-level integration tests (test_e2e_full_flow.mjs,
// test_enclave_attacker.mjs) share to drive real binaries: a run's temporary
// directory and children, the simulator and the stand-ins, keystores, a free
// 127.0.0.1 port, bounded polling, and running a built program.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The source tree and the built binaries of a process-level test (NS_SOURCE_DIR, NS_BIN_DIR).
export const SRC = process.env.NS_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
export const BIN = process.env.NS_BIN_DIR;

// The stand-ins' principals: the role IMDS hands the instance, the operator's key, the key administrator.
export const ACCOUNT = '111122223333';
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/nitro-signer-instance`;
export const OPERATOR_ARN = `arn:aws:iam::${ACCOUNT}:role/operator`;
export const ADMIN_ARN = `arn:aws:iam::${ACCOUNT}:role/key-admin`;

// A key in the KMS stand-in under the policy `nitro-keys kms policy` writes, pinned to pcr0; its ARN.
export async function createPinnedKey({ runOk, env, pcr0, description }) {
  const pol = runOk('nitro-keys', ['kms', 'policy', `--pcr0=${pcr0}`, `--role-arn=${ROLE_ARN}`,
    `--key-admin-arn=${ADMIN_ARN}`, `--encrypt-arn=${OPERATOR_ARN}`, '--condition=pcr0']);
  const r = await fetch(`${env.AWS_ENDPOINT_URL_KMS}/__admin/create-key`, { method: 'POST',
    body: JSON.stringify({ description, policy: pol.stdout }) });
  const body = await r.text();
  assert.equal(r.status, 200, `create-key: ${r.status} ${body}`);
  return JSON.parse(body).Arn;
}

export { freePort };

// Polls fn every 100 ms until it returns something truthy (an error with
// .fatal stops at once); after ms, throws with the last result and tail().
export async function until(what, fn, ms = 20000, tail = () => '') {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e.fatal) throw Object.assign(new Error(`${e.message}\n${tail()}`, { cause: e }), { fatal: true });
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last?.stack || JSON.stringify(last)}\n${tail()}`);
}

// run(prog, args, {env, input}) and runOk(...) for the programs in bin.
export function binRunner(bin, timeout = 60000) {
  const run = (prog, args, { env = {}, input } = {}) => {
    const r = spawnSync(path.join(bin, prog), args, { env: { ...process.env, ...env }, encoding: 'utf8', input, timeout });
    return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
  };
  const runOk = (prog, args, opts) => {
    const r = run(prog, args, opts);
    assert.equal(r.status, 0, `${prog} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    return r;
  };
  return { run, runOk };
}

// One test run's temporary directory and child processes: on exit every child still running is
// killed (and every enclave that nitro-host's log in tmp says it started), and the directory is
// removed unless NS_KEEP_TMP is set.
export function testRun(prefix) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const children = new Set();
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    try {
      for (const l of fs.readFileSync(path.join(tmp, 'host.log'), 'utf8').split('\n')) {
        const m = /started pid=(\d+)/.exec(l);
        if (m) try { process.kill(Number(m[1]), 'SIGKILL'); } catch { /* gone */ }
      }
    } catch { /* no log */ }
    if (!process.env.NS_KEEP_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(1));
  return { tmp, children };
}

// The NSM simulator's directory (its PCR0 and a fresh root CA that signs the simulated attestation
// chain) and the AWS stand-ins trusting that root; resolves the stand-ins' environment
// (AWS_ENDPOINT_URL_KMS, ..._DYNAMODB, AWS_EC2_METADATA_SERVICE_ENDPOINT, credentials, region).
export async function startSimAndStandins({ src, tmp, simDir, pcr0, name, children }) {
  fs.mkdirSync(simDir, { mode: 0o700 });
  fs.writeFileSync(path.join(simDir, 'pcr0.hex'), pcr0 + '\n');
  const o = spawnSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1',
    '-nodes', '-keyout', path.join(simDir, 'root.key.pem'), '-out', path.join(simDir, 'root.pem'), '-days', '30',
    '-subj', `/CN=nitro-signer ${name} simulated root`, '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  { encoding: 'utf8', timeout: 20000 });
  assert.equal(o.status, 0, o.stderr);
  return startStandins({ src, tmp, children, args: [`--attestation-root=${path.join(simDir, 'root.pem')}`] });
}

// The AWS stand-ins alone (no simulated attestation root); resolves their environment as above.
export async function startStandins({ src, tmp, children, args = [] }) {
  const envPath = path.join(tmp, 'standins.env');
  const standins = spawn(process.execPath, [path.join(src, 'tests/standins/start.mjs'), `--write-env=${envPath}`,
    ...args, '--stdin-lifeline'], { stdio: ['pipe', 'inherit', 'inherit'] });
  children.add(standins);
  for (let i = 0; i < 300 && !fs.existsSync(envPath); i++) await sleep(50);
  assert.ok(fs.existsSync(envPath), 'stand-ins did not start');
  const env = {};
  for (const line of fs.readFileSync(envPath, 'utf8').trim().split('\n')) {
    const i = line.indexOf('=');
    env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

// What nitro-keys needs to reach the stand-ins (and nothing of IMDS).
export const awsEnvOf = (env) => ({ AWS_ENDPOINT_URL_KMS: env.AWS_ENDPOINT_URL_KMS,
  AWS_ENDPOINT_URL_DYNAMODB: env.AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION: env.AWS_REGION,
  AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
  AWS_EC2_METADATA_DISABLED: 'true' });

// n fast keystores in dir (nitro-keys keystore generate, pbkdf2), each with its password file
// NAME.txt; their pubkeys, sorted by file name.
export function makeKeystores(runOk, dir, n, pwFile, workFactor) {
  runOk('nitro-keys', ['keystore', 'generate', `--count=${n}`, `--out=${dir}`, `--keystore-password-file=${pwFile}`,
    '--kdf=pbkdf2', `--work-factor=${workFactor}`]);
  const pubkeys = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    fs.copyFileSync(pwFile, path.join(dir, f.replace(/\.json$/, '.txt')));
    pubkeys.push('0x' + JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).pubkey);
  }
  assert.equal(pubkeys.length, n);
  return pubkeys;
}

// nitro-host's config for a run on one machine (written to configPath): the stand-ins' endpoints,
// IMDS credentials, the enclave started by the local runner with enclaveCmd, control, API and AWS
// proxies on unix sockets in tmp, the API's TCP proxy on port.api and /health on port.health.
// extra: further top-level lines (e.g. "credentials_refresh_s: 9"); maxBackoffS: the restart backoff.
// slashingDbUrl: the enclave's slashing table (default: a sqlite file in tmp, which the local runner
// keeps across enclave restarts).
export function writeHostConfig({ configPath, writer, tmp, env, signerId, table, enclaveCmd, port, certPath,
  maxBackoffS, extra = [], slashingDbUrl }) {
  const sock = (n) => path.join(tmp, n);
  const kmsPort = new URL(env.AWS_ENDPOINT_URL_KMS).port;
  const ddbPort = new URL(env.AWS_ENDPOINT_URL_DYNAMODB).port;
  fs.writeFileSync(configPath, `# written by ${writer}
region: ${env.AWS_REGION}
signer_id: ${signerId}
key_table: ${table}
kms_key_id: ${env.KEY_ARN}
credentials: imds
${extra.map((l) => `${l}\n`).join('')}endpoints:
  kms: ${env.AWS_ENDPOINT_URL_KMS}
  dynamodb: ${env.AWS_ENDPOINT_URL_DYNAMODB}
  imds: ${env.AWS_EC2_METADATA_SERVICE_ENDPOINT}
enclave:
  network: mainnet
  slashing_db_url: ${slashingDbUrl || `sqlite:${path.join(tmp, 'slashing.db')}`}
  kms_proxy: unix:${sock('kms.sock')}
  dynamodb_proxy: unix:${sock('ddb.sock')}
  tls_names: [localhost, 127.0.0.1]
tls_cert_file: ${certPath}
health_listen: tcp:127.0.0.1:${port.health}
status_interval_s: 1
control: unix:${sock('control.sock')}
runner:
  type: local
  command:
${enclaveCmd.map((a) => `    - ${a}`).join('\n')}
restart:
  max_backoff_s: ${maxBackoffS}
proxies:
  - {listen: "tcp:127.0.0.1:${port.api}", connect: "unix:${sock('api.sock')}"}
  - {listen: "unix:${sock('kms.sock')}", connect: "tcp:127.0.0.1:${kmsPort}", allow: ["127.0.0.1:${kmsPort}"]}
  - {listen: "unix:${sock('ddb.sock')}", connect: "tcp:127.0.0.1:${ddbPort}", allow: ["127.0.0.1:${ddbPort}"]}
`);
}
