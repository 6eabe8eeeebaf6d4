// test_aws_kms_upload.mjs: nitro-keys' cloud commands end to end against
// the stand-ins (started here, stopped at the end): 100 keys encrypted with
// KMS and uploaded to DynamoDB (dynalite), read back through our paginated
// Query (`list --page-size=7`) and, independently, through AWS's JavaScript
// SDK (records decrypt, with the encryption context {purpose:
// nitro-signer-key-v1, signer_id} their kms_context attribute announces and
// only with it, to the very keystore files and passwords), an envelope bundle that AWS's SDK + node's AES-GCM + noble BLS open and check
// key by key, the key policy from `kms policy` enforced by the KMS stand-in,
// an upload that never turns a record back on (a record already there is
// refused by name; --replace rewrites it and keeps its active state; only
// kms enable|disable change it), a wrong password caught before any KMS call,
// and the faults: throttling storms, 5xx, truncated bodies, malformed JSON,
// writes that keep failing (reported by pubkey; a re-run completes),
// a table with the wrong key schema, the wrong region, missing and expired
// credentials, the 4096-byte KMS limit. Every failure is one clear line.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { publicKey } from '../js/lib/bls.mjs';

const require = createRequire(new URL('../js/package.json', import.meta.url));
const kmsSdk = require('@aws-sdk/client-kms');
const ddbSdk = require('@aws-sdk/client-dynamodb');

const SRC = process.env.NS_SOURCE_DIR || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const BIN = process.env.NS_BIN_DIR;
const BUILD = process.env.NS_BUILD_DIR || path.dirname(BIN || '.');
assert.ok(BIN, 'NS_BIN_DIR must point at the built binaries');

// nitro-keys with the cloud commands: the real binary once it dispatches to
// them, else the test driver (test_aws_cmds --nitro-keys ...).
function nitroKeysCmd() {
  const real = path.join(BIN, 'nitro-keys');
  if (spawnSync(real, ['kms', '--help']).status === 0) return [real];
  return [path.join(BUILD, 'tests', 'test_aws_cmds'), '--nitro-keys'];
}
const NK = nitroKeysCmd();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-aws-upload-'));
let standins = null;
let env = null;
let failures = 0;

async function startStandins() {
  const envPath = path.join(tmp, 'standins.env');
  const child = spawn(process.execPath, [path.join(SRC, 'tests/standins/start.mjs'), `--write-env=${envPath}`,
    '--stdin-lifeline'], { stdio: ['pipe', 'inherit', 'inherit'] });
  for (let i = 0; i < 300 && !fs.existsSync(envPath); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fs.existsSync(envPath), 'stand-ins did not start');
  const e = {};
  for (const line of fs.readFileSync(envPath, 'utf8').trim().split('\n')) {
    const i = line.indexOf('=');
    e[line.slice(0, i)] = line.slice(i + 1);
  }
  return { child, env: e };
}

function nk(args, extraEnv = {}, { unset = [] } = {}) {
  const e = { ...process.env, ...env, ...extraEnv, AWS_MAX_ATTEMPTS: '4' };
  for (const k of unset) delete e[k];
  const r = spawnSync(NK[0], [...NK.slice(1), ...args], { env: e, encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The stand-ins' admin routes, on a fresh connection each time.
function admin(endpoint, route, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${endpoint}/__admin/${route}`, { method: body === undefined ? 'GET' : 'POST', agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString() || 'null')));
      });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}\n${e.stack || e}`);
  }
}

// One clear line on stderr (plus, for partial uploads, the listed pubkeys).
function oneLineError(r, re) {
  assert.equal(r.status, 1, `exit status ${r.status}; stderr: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.includes('not uploaded:'));
  assert.equal(lines.length, 1, `expected one line, got: ${r.stderr}`);
  assert.match(lines[0], re);
}

function makeKeys(dir, pwdir, n) {
  fs.mkdirSync(dir);
  fs.mkdirSync(pwdir);
  const pwfile = path.join(tmp, `pw-${path.basename(dir)}`);
  fs.writeFileSync(pwfile, 'a test password 1\n');
  const r = spawnSync(path.join(BIN, 'nitro-keys'), ['keystore', 'generate', `--count=${n}`, `--out=${dir}`,
    `--keystore-password-file=${pwfile}`, '--kdf=pbkdf2', '--work-factor=1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const keys = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const pw = 'a test password 1';
    fs.writeFileSync(path.join(pwdir, f.replace(/\.json$/, '.txt')), pw + '\n');
    const ks = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    keys.push({ file: f, pubkey: '0x' + ks.pubkey, password: pw });
  }
  return keys;
}

const kmsClient = () => new kmsSdk.KMSClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_KMS,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
const ddbClient = () => new ddbSdk.DynamoDBClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
  credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });

async function itemsOf(table, signer) {
  const ddb = ddbClient();
  const out = [];
  let start;
  do {
    const r = await ddb.send(new ddbSdk.QueryCommand({ TableName: table, KeyConditionExpression: 'web3signer_uuid = :s',
      ExpressionAttributeValues: { ':s': { S: signer } }, ExclusiveStartKey: start }));
    out.push(...r.Items);
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

try {
  ({ child: standins, env } = await startStandins());
  const KS = path.join(tmp, 'keys');
  const PW = path.join(tmp, 'passwords');
  const keys = makeKeys(KS, PW, 100);
  // Deposit data for the first ten keys, as staking-deposit-cli writes it.
  const deposits = keys.slice(0, 10).map((k) => ({ pubkey: k.pubkey.slice(2), withdrawal_credentials: '00'.repeat(32),
    amount: 32000000000, signature: 'aa'.repeat(96), deposit_message_root: '11'.repeat(32),
    deposit_data_root: '22'.repeat(32), fork_version: '00000000', network_name: 'mainnet', deposit_cli_version: '2.7.0' }));
  fs.writeFileSync(path.join(KS, 'deposit_data-1700000000.json'), JSON.stringify(deposits));
  const KEY = env.NS_STANDIN_KMS_KEY_ARN;
  const base = ['kms', 'encrypt', `--key-id=${KEY}`, `--keystores-path=${KS}`, `--keystores-passwords-path=${PW}`];

  await test('create-table makes the key table', () => {
    const r = nk(['kms', 'create-table', '--table=validator_keys']);
    assert.equal(r.status, 0, r.stderr);
    const r2 = nk(['kms', 'create-table', '--table=wrong_schema']);
    assert.equal(r2.status, 0, r2.stderr);
  });

  await test('100 keys encrypted and uploaded; our paginated list reads them back', async () => {
    const r = nk([...base, '--signer-id=signer-1', '--upload', '--table=validator_keys']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /100 keys, 100 records uploaded/);
    const l = nk(['list', '--table=validator_keys', '--signer-id=signer-1', '--page-size=7']);
    assert.equal(l.status, 0, l.stderr);
    const lines = l.stdout.trim().split('\n').map((x) => JSON.parse(x));
    assert.equal(lines.length, 100);
    assert.deepEqual(lines.map((x) => x.pubkey).sort(), keys.map((k) => k.pubkey).sort());
    assert.ok(lines.every((x) => x.active === true && x.chain === 'mainnet' && x.kind === 'key'));
    const pages = Number(/(\d+) pages/.exec(l.stderr)[1]);
    assert.ok(pages >= 15, `pagination: ${l.stderr}`);
  });

  await test('records decrypt (AWS SDK, their encryption context) to the keystore files and passwords', async () => {
    const items = await itemsOf('validator_keys', 'signer-1');
    assert.equal(items.length, 100);
    const kms = kmsClient();
    const context = { purpose: 'nitro-signer-key-v1', signer_id: 'signer-1' };
    for (const it of items.slice(0, 100)) {
      const k = keys.find((x) => x.pubkey === it.pubkey.S);
      assert.deepEqual(it.kms_context, { S: 'nitro-signer-key-v1' }, `${it.pubkey.S}: kms_context`);
      const dec = await kms.send(new kmsSdk.DecryptCommand({
        CiphertextBlob: Buffer.from(it.encrypted_key_password_mnemonic_b64.S, 'base64'), EncryptionContext: context }));
      const rec = JSON.parse(Buffer.from(dec.Plaintext).toString('utf8'));
      assert.deepEqual(Object.keys(rec), ['keystore_b64', 'password_b64', 'mnemonic_b64']);
      assert.deepEqual(Buffer.from(rec.keystore_b64, 'base64'), fs.readFileSync(path.join(KS, k.file)));
      assert.equal(Buffer.from(rec.password_b64, 'base64').toString(), k.password);
      assert.equal(rec.mnemonic_b64, '');
      assert.ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(it.datetime.S));
      const dep = keys.indexOf(k) < 10;
      assert.equal(Boolean(it.deposit_json_b64), dep);
      if (dep) assert.equal(JSON.parse(Buffer.from(it.deposit_json_b64.S, 'base64')).pubkey, k.pubkey.slice(2));
    }
    // Without the context, or with another signer's or purpose, KMS does not open it.
    const blob = Buffer.from(items[0].encrypted_key_password_mnemonic_b64.S, 'base64');
    await assert.rejects(kms.send(new kmsSdk.DecryptCommand({ CiphertextBlob: blob })),
      { name: 'InvalidCiphertextException' });
    await assert.rejects(kms.send(new kmsSdk.DecryptCommand({ CiphertextBlob: blob,
      EncryptionContext: { ...context, signer_id: 'signer-2' } })), { name: 'InvalidCiphertextException' });
    await assert.rejects(kms.send(new kmsSdk.DecryptCommand({ CiphertextBlob: blob,
      EncryptionContext: { ...context, purpose: 'nitro-signer-envelope-v1' } })), { name: 'InvalidCiphertextException' });
  });

  const activeOf = (signer) => Object.fromEntries(nk(['list', '--table=validator_keys', `--signer-id=${signer}`])
    .stdout.trim().split('\n').map((x) => JSON.parse(x)).map((x) => [x.pubkey, x.active]));

  await test('a re-upload is refused by name before any KMS call and leaves a disabled key disabled', async () => {
    const pk = keys[5].pubkey;
    assert.equal(nk(['kms', 'disable', '--table=validator_keys', '--signer-id=signer-1', `--pubkey=${pk}`]).status, 0);
    const before = await itemsOf('validator_keys', 'signer-1');
    await admin(env.AWS_ENDPOINT_URL_KMS, 'reset', {});
    const r = nk([...base, '--signer-id=signer-1', '--upload', '--table=validator_keys']);
    oneLineError(r, new RegExp(`record ${keys[0].pubkey} of signer signer-1 is already in validator_keys ` +
      '\\(active: true\\) \\(and 99 more\\); nothing uploaded: --replace'));
    assert.equal((await admin(env.AWS_ENDPOINT_URL_KMS, 'stats')).requests.Encrypt, undefined);
    assert.deepEqual(await itemsOf('validator_keys', 'signer-1'), before);
    assert.equal(activeOf('signer-1')[pk], false);
  });

  await test('--replace rewrites every record and keeps each one\'s active state', async () => {
    const pk = keys[5].pubkey;
    const before = Object.fromEntries((await itemsOf('validator_keys', 'signer-1')).map((x) => [x.pubkey.S, x]));
    const r = nk([...base, '--signer-id=signer-1', '--upload', '--table=validator_keys', '--replace']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${pk} replaced; it stays inactive`));
    assert.match(r.stderr, /100 records uploaded to validator_keys \(0 new and active, 100 replaced with their active state kept: 1 inactive\)/);
    const after = await itemsOf('validator_keys', 'signer-1');
    assert.equal(after.length, 100);
    for (const it of after) {
      assert.notEqual(it.encrypted_key_password_mnemonic_b64.S, before[it.pubkey.S].encrypted_key_password_mnemonic_b64.S,
        `${it.pubkey.S} rewritten`);
      assert.equal(it.active.BOOL, it.pubkey.S !== pk, `${it.pubkey.S}: active`);
      assert.equal(Boolean(it.deposit_json_b64), Boolean(before[it.pubkey.S].deposit_json_b64));
    }
    assert.equal(nk(['kms', 'enable', '--table=validator_keys', '--signer-id=signer-1', `--pubkey=${pk}`]).status, 0);
    assert.equal(activeOf('signer-1')[pk], true);
  });

  await test('--replace drops what the new record no longer has (a deposit) and creates absent records active', async () => {
    const dir = path.join(tmp, 'two');
    const pwd = path.join(tmp, 'twopw');
    fs.mkdirSync(dir);
    fs.mkdirSync(pwd);
    for (const k of keys.slice(0, 2)) {
      fs.copyFileSync(path.join(KS, k.file), path.join(dir, k.file));
      fs.copyFileSync(path.join(PW, k.file.replace(/\.json$/, '.txt')), path.join(pwd, k.file.replace(/\.json$/, '.txt')));
    }
    const two = ['kms', 'encrypt', `--key-id=${KEY}`, `--keystores-path=${dir}`, `--keystores-passwords-path=${pwd}`,
      '--signer-id=signer-2', '--upload', '--table=validator_keys'];
    fs.writeFileSync(path.join(dir, 'deposit_data-1.json'), JSON.stringify(deposits.slice(0, 1)));
    assert.equal(nk(['kms', 'encrypt', `--key-id=${KEY}`, `--keystores-path=${dir}`, `--keystores-passwords-path=${pwd}`,
      '--signer-id=signer-2', '--upload', '--table=validator_keys']).status, 0);
    let items = await itemsOf('validator_keys', 'signer-2');
    assert.ok(items.find((x) => x.pubkey.S === keys[0].pubkey).deposit_json_b64);
    await ddbClient().send(new ddbSdk.DeleteItemCommand({ TableName: 'validator_keys',
      Key: { web3signer_uuid: { S: 'signer-2' }, pubkey: { S: keys[1].pubkey } } }));
    fs.rmSync(path.join(dir, 'deposit_data-1.json'));
    const r = nk([...two, '--replace']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /\(1 new and active, 1 replaced with their active state kept: 0 inactive\)/);
    items = await itemsOf('validator_keys', 'signer-2');
    assert.equal(items.length, 2);
    assert.ok(items.every((x) => x.active.BOOL === true && !x.deposit_json_b64), JSON.stringify(items));
  });

  await test('a wrong password stops the run naming the file: no KMS call, nothing uploaded', async () => {
    const dir = path.join(tmp, 'wrongpw');
    fs.mkdirSync(dir);
    for (const k of keys.slice(0, 3)) fs.writeFileSync(path.join(dir, k.file.replace(/\.json$/, '.txt')), k.password);
    fs.writeFileSync(path.join(dir, keys[1].file.replace(/\.json$/, '.txt')), 'not the password');
    const few = path.join(tmp, 'few');
    fs.mkdirSync(few);
    for (const k of keys.slice(0, 3)) fs.copyFileSync(path.join(KS, k.file), path.join(few, k.file));
    for (const mode of [[], ['--envelope']]) {
      await admin(env.AWS_ENDPOINT_URL_KMS, 'reset', {});
      const r = nk(['kms', 'encrypt', `--key-id=${KEY}`, `--keystores-path=${few}`, `--keystores-passwords-path=${dir}`,
        '--signer-id=wrong-pw', '--upload', '--table=validator_keys', ...mode]);
      oneLineError(r, new RegExp(keys[1].file.replace('.', '\\.')));
      const st = (await admin(env.AWS_ENDPOINT_URL_KMS, 'stats')).requests;
      assert.equal(st.Encrypt, undefined, mode.join());
      assert.equal(st.GenerateDataKey, undefined, mode.join());
      assert.equal((await itemsOf('validator_keys', 'wrong-pw')).length, 0);
    }
    oneLineError(nk(['kms', 'encrypt', `--key-id=${KEY}`, `--keystores-path=${few}`, `--keystores-passwords-path=${dir}`,
      '--signer-id=wrong-pw', `--out=${path.join(tmp, 'wrongpw.json')}`]),
    new RegExp(`${keys[1].file.replace('.', '\\.')} does not open with its password file .*nothing encrypted or uploaded`));
    assert.equal(fs.existsSync(path.join(tmp, 'wrongpw.json')), false);
  });

  await test('--replace without --upload is a usage error', () => {
    const r = nk([...base, '--signer-id=x', `--out=${path.join(tmp, 'r.json')}`, '--replace']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--replace goes with --upload/);
  });

  await test('disable and enable flip active; an unknown pubkey is an error', () => {
    const pk = keys[3].pubkey;
    let r = nk(['kms', 'disable', '--table=validator_keys', '--signer-id=signer-1', `--pubkey=${pk}`]);
    assert.equal(r.status, 0, r.stderr);
    let l = nk(['list', '--table=validator_keys', '--signer-id=signer-1']);
    assert.equal(l.stdout.trim().split('\n').map((x) => JSON.parse(x)).find((x) => x.pubkey === pk).active, false);
    r = nk(['kms', 'enable', '--table=validator_keys', '--signer-id=signer-1', `--pubkey=${pk}`]);
    assert.equal(r.status, 0, r.stderr);
    l = nk(['list', '--table=validator_keys', '--signer-id=signer-1']);
    assert.equal(l.stdout.trim().split('\n').map((x) => JSON.parse(x)).find((x) => x.pubkey === pk).active, true);
    oneLineError(nk(['kms', 'disable', '--table=validator_keys', '--signer-id=signer-1', `--pubkey=0x${'a'.repeat(96)}`]),
      /no record 0xa+ for signer signer-1/);
  });

  await test("list does not count the enclave's own items (tls:, slashing:) as keys", async () => {
    const ddb = ddbClient();
    for (const id of ['tls:server', 'slashing:mac'])
      await ddb.send(new ddbSdk.PutItemCommand({ TableName: 'validator_keys', Item: { web3signer_uuid: { S: 'signer-1' },
        pubkey: { S: id }, sealed_format: { S: 'x' }, sealed_ciphertext_b64: { S: 'AA==' } } }));
    const l = nk(['list', '--table=validator_keys', '--signer-id=signer-1']);
    assert.equal(l.status, 0, l.stderr);
    assert.match(l.stderr, /100 records \(100 keys\) and 2 of the enclave's own items \(tls:, slashing:\) for signer-1/);
    const lines = l.stdout.trim().split('\n').map((x) => JSON.parse(x));
    assert.deepEqual(lines.filter((x) => x.kind === 'enclave').map((x) => x.pubkey).sort(), ['slashing:mac', 'tls:server']);
    for (const id of ['tls:server', 'slashing:mac'])
      await ddb.send(new ddbSdk.DeleteItemCommand({ TableName: 'validator_keys',
        Key: { web3signer_uuid: { S: 'signer-1' }, pubkey: { S: id } } }));
  });

  await test('envelope bundle round-trips (SDK decrypt + AES-GCM + BLS check)', async () => {
    const r = nk([...base, '--signer-id=env-signer', '--envelope', '--upload', '--table=validator_keys']);
    assert.equal(r.status, 0, r.stderr);
    const items = await itemsOf('validator_keys', 'env-signer');
    assert.equal(items.length, 1);
    const it = items[0];
    assert.equal(it.envelope_format.S, 'nitro-signer-envelope-v1');
    assert.equal(it.key_count.N, '100');
    const kms = kmsClient();
    const dk = await kms.send(new kmsSdk.DecryptCommand({ CiphertextBlob: Buffer.from(it.wrapped_data_key_b64.S, 'base64'),
      EncryptionContext: { purpose: 'nitro-signer-envelope-v1', signer_id: 'env-signer' } }));
    const sealed = Buffer.from(it.envelope_ciphertext_b64.S, 'base64');
    const d = createDecipheriv('aes-256-gcm', Buffer.from(dk.Plaintext), sealed.subarray(0, 12));
    d.setAAD(Buffer.from(`nitro-signer-envelope-v1|env-signer|${it.pubkey.S}`));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    const pt = Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
    assert.equal(pt.subarray(0, 4).toString(), 'NSEB');
    assert.equal(pt[4], 1);
    const n = pt.readUInt32BE(5);
    assert.equal(n, 100);
    assert.equal(pt.length, 9 + n * 80);
    const seen = [];
    for (let i = 0; i < n; i++) {
      const rec = pt.subarray(9 + i * 80, 9 + (i + 1) * 80);
      const pk = '0x' + rec.subarray(0, 48).toString('hex');
      assert.equal('0x' + Buffer.from(publicKey(rec.subarray(48))).toString('hex'), pk);
      seen.push(pk);
    }
    assert.deepEqual(seen.sort(), keys.map((k) => k.pubkey).sort());
    assert.deepEqual(it.envelope_pubkeys.SS.sort(), seen);
    // The same bundle moved to another signer's record does not open.
    const d2 = createDecipheriv('aes-256-gcm', Buffer.from(dk.Plaintext), sealed.subarray(0, 12));
    d2.setAAD(Buffer.from(`nitro-signer-envelope-v1|signer-1|${it.pubkey.S}`));
    d2.setAuthTag(sealed.subarray(sealed.length - 16));
    d2.update(sealed.subarray(12, sealed.length - 16));
    assert.throws(() => d2.final());
    // A re-run is refused by the bundle's name; --replace rewrites the same item.
    oneLineError(nk([...base, '--signer-id=env-signer', '--envelope', '--upload', '--table=validator_keys']),
      new RegExp(`record ${it.pubkey.S} of signer env-signer is already in validator_keys`));
    // A bundle is disabled by its record id; --replace keeps it disabled.
    const toggle = (cmd, id) => nk(['kms', cmd, '--table=validator_keys', '--signer-id=env-signer', `--pubkey=${id}`]);
    assert.equal(toggle('disable', it.pubkey.S).status, 0);
    const rr = nk([...base, '--signer-id=env-signer', '--envelope', '--upload', '--table=validator_keys', '--replace']);
    assert.equal(rr.status, 0, rr.stderr);
    assert.match(rr.stderr, new RegExp(`${it.pubkey.S} replaced; it stays inactive`));
    assert.equal((await itemsOf('validator_keys', 'env-signer'))[0].active.BOOL, false);
    assert.equal(toggle('enable', it.pubkey.S).status, 0);
    assert.equal((await itemsOf('validator_keys', 'env-signer'))[0].active.BOOL, true);
    oneLineError(toggle('enable', 'envelope:0000000000000000:0'), /no record envelope:0000000000000000:0 for signer env-signer/);
    const bad = toggle('disable', 'envelope:xyz');
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--pubkey must be 0x and 96 hex digits, or an envelope bundle's envelope:ID:PART/);
    assert.equal((await itemsOf('validator_keys', 'env-signer')).length, 1);
    const l = nk(['list', '--table=validator_keys', '--signer-id=env-signer']);
    assert.match(l.stderr, /1 records \(100 keys\)/);
  });

  await test('--out writes the records to a file, never over one', () => {
    const out = path.join(tmp, 'records.json');
    const r = nk([...base, '--signer-id=file-signer', `--out=${out}`]);
    assert.equal(r.status, 0, r.stderr);
    const recs = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(recs.length, 100);
    assert.ok(recs.every((x) => x.web3signer_uuid === 'file-signer' && x.encrypted_key_password_mnemonic_b64 &&
      x.kms_context === 'nitro-signer-key-v1'), JSON.stringify(recs[0]));
    oneLineError(nk([...base, '--signer-id=file-signer', `--out=${out}`]), /exists; not overwriting/);
    assert.doesNotMatch(r.stderr, /keys encrypted/, 'no progress unless a terminal or --progress');
  });

  await test('--progress counts keys opened, encrypted and uploaded on stderr', () => {
    const r = nk([...base, '--signer-id=progress-signer', '--upload', '--table=validator_keys', '--progress']);
    assert.equal(r.status, 0, r.stderr);
    for (const what of ['keystores opened', 'keys encrypted', 'records uploaded'])
      assert.match(r.stderr, new RegExp(`nitro-keys: ${what} 100/100 \\([0-9.]+/s, about 0 s left\\)\n`), r.stderr);
  });

  await test('throttling storm: bounded retries, one line, nothing uploaded', async () => {
    await admin(env.AWS_ENDPOINT_URL_KMS, 'reset', {});
    await admin(env.AWS_ENDPOINT_URL_KMS, 'faults', { faults: [{ op: 'Encrypt', kind: 'throttle', count: 100000 }] });
    const r = nk([...base, '--signer-id=storm', '--upload', '--table=validator_keys']);
    await admin(env.AWS_ENDPOINT_URL_KMS, 'faults', { faults: [] });
    oneLineError(r, /KMS Encrypt: ThrottlingException: Rate exceeded .*gave up after 4 attempts/);
    const stats = await admin(env.AWS_ENDPOINT_URL_KMS, 'stats');
    assert.equal(stats.requests.Encrypt, 4);
    assert.equal((await itemsOf('validator_keys', 'storm')).length, 0);
  });

  await test('5xx, throttling and truncated bodies are retried to success', async () => {
    await admin(env.AWS_ENDPOINT_URL_KMS, 'faults', { faults: [{ op: 'Encrypt', kind: '500', count: 1 },
      { op: 'Encrypt', kind: 'throttle', count: 1 }, { op: 'Encrypt', kind: 'truncate', count: 1 }] });
    await admin(env.AWS_ENDPOINT_URL_DYNAMODB, 'faults', { faults: [{ op: 'PutItem', kind: 'truncate', count: 1 },
      { op: 'PutItem', kind: '500', count: 1 }, { op: 'PutItem', kind: 'throttle', count: 1 }] });
    const r = nk([...base, '--signer-id=flaky', '--upload', '--table=validator_keys']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await itemsOf('validator_keys', 'flaky')).length, 100);
  });

  await test('malformed JSON from the service: one clear line', async () => {
    await admin(env.AWS_ENDPOINT_URL_DYNAMODB, 'faults', { faults: [{ op: 'DescribeTable', kind: 'malformed', count: 1 }] });
    oneLineError(nk([...base, '--signer-id=x', '--upload', '--table=validator_keys']),
      /DynamoDB DescribeTable: malformed JSON response/);
  });

  await test('writes that keep failing are reported by pubkey; a re-run completes', async () => {
    await admin(env.AWS_ENDPOINT_URL_DYNAMODB, 'faults', { faults: [{ op: 'PutItem', kind: 'throttle', count: 100000 }] });
    const r = nk([...base, '--signer-id=partial', '--upload', '--table=validator_keys']);
    await admin(env.AWS_ENDPOINT_URL_DYNAMODB, 'faults', { faults: [] });
    oneLineError(r, /100 of 100 records not uploaded .*nothing was written, re-running is safe/);
    const listed = r.stderr.split('\n').filter((l) => l.includes('not uploaded: ')).map((l) => l.split('not uploaded: ')[1]);
    assert.deepEqual(listed.sort(), keys.map((k) => k.pubkey).sort());
    const again = nk([...base, '--signer-id=partial', '--upload', '--table=validator_keys']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal((await itemsOf('validator_keys', 'partial')).length, 100);
  });

  await test('a table without the key schema is refused before any KMS call', async () => {
    await admin(env.AWS_ENDPOINT_URL_KMS, 'reset', {});
    const ddb = ddbClient();
    await ddb.send(new ddbSdk.CreateTableCommand({ TableName: 'not_a_key_table', BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }] }));
    oneLineError(nk([...base, '--signer-id=x', '--upload', '--table=not_a_key_table']),
      /table not_a_key_table has key schema id \(HASH\) \/ none \(RANGE\)/);
    oneLineError(nk([...base, '--signer-id=x', '--upload', '--table=no_such_table']),
      /table no_such_table does not exist in us-east-1/);
    assert.equal((await admin(env.AWS_ENDPOINT_URL_KMS, 'stats')).requests.Encrypt, undefined);
  });

  await test('wrong region: one clear line', () => {
    oneLineError(nk([...base, '--signer-id=x', '--upload', '--table=validator_keys', '--region=eu-west-1']),
      /Credential should be scoped to a valid region/);
  });

  await test('missing and expired credentials: one clear line', async () => {
    oneLineError(nk([...base, '--signer-id=x', '--out=/nonexistent/x.json'],
      { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1' }, { unset: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] }),
    /IMDSv2 token request to http:\/\/127.0.0.1:1/);
    // Instance-role credentials from IMDSv2 work ...
    const viaImds = nk([...base, '--signer-id=imds-signer', `--out=${path.join(tmp, 'imds.json')}`], {},
      { unset: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] });
    assert.equal(viaImds.status, 0, viaImds.stderr);
    // ... until they expire.
    await admin(env.AWS_EC2_METADATA_SERVICE_ENDPOINT, 'expire', {});
    oneLineError(nk([...base, '--signer-id=imds-signer', `--out=${path.join(tmp, 'imds2.json')}`], {},
      { unset: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] }), /AWS credentials \(key ASIA[0-9A-F]+\) expired at/);
    await admin(env.AWS_EC2_METADATA_SERVICE_ENDPOINT, 'rotate', {});
  });

  await test('a record over the KMS 4096-byte limit fails clearly', () => {
    const dir = path.join(tmp, 'big');
    const pwd = path.join(tmp, 'bigpw');
    fs.mkdirSync(dir);
    fs.mkdirSync(pwd);
    const ks = JSON.parse(fs.readFileSync(path.join(KS, keys[0].file), 'utf8'));
    ks.description = 'x'.repeat(3000);
    fs.writeFileSync(path.join(dir, 'big.json'), JSON.stringify(ks));
    fs.writeFileSync(path.join(pwd, 'big.txt'), keys[0].password);
    oneLineError(nk(['kms', 'encrypt', `--key-id=${KEY}`, `--keystores-path=${dir}`, `--keystores-passwords-path=${pwd}`,
      '--signer-id=x', `--out=${path.join(tmp, 'big-out.json')}`]), /over KMS's 4096-byte plaintext limit \(use --envelope\)/);
  });

  await test("the key policy from `kms policy` is enforced by the KMS stand-in", async () => {
    const pcr0 = 'ab'.repeat(48);
    const p = nk(['kms', 'policy', `--pcr0=${pcr0}`, '--role-arn=arn:aws:iam::111122223333:role/nitro-signer-instance',
      '--key-admin-arn=arn:aws:iam::111122223333:role/someone-else',
      '--encrypt-arn=arn:aws:iam::111122223333:role/operator']);
    assert.equal(p.status, 0, p.stderr);
    const kms = kmsClient();
    const { KeyMetadata } = await kms.send(new kmsSdk.CreateKeyCommand({ Description: 'policy test' }));
    const blob = (await kms.send(new kmsSdk.EncryptCommand({ KeyId: KeyMetadata.Arn, Plaintext: Buffer.from('k') }))).CiphertextBlob;
    await kms.send(new kmsSdk.PutKeyPolicyCommand({ KeyId: KeyMetadata.Arn, PolicyName: 'default', Policy: p.stdout }));
    // The operator may encrypt, not decrypt.
    await kms.send(new kmsSdk.EncryptCommand({ KeyId: KeyMetadata.Arn, Plaintext: Buffer.from('k') }));
    await assert.rejects(kms.send(new kmsSdk.DecryptCommand({ CiphertextBlob: blob })), { name: 'AccessDeniedException' });
    // The instance role, without an attestation document, may not decrypt.
    const imdsTok = await (await fetch(`${env.AWS_EC2_METADATA_SERVICE_ENDPOINT}/latest/api/token`,
      { method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' } })).text();
    const role = await (await fetch(`${env.AWS_EC2_METADATA_SERVICE_ENDPOINT}/latest/meta-data/iam/security-credentials/`,
      { headers: { 'X-aws-ec2-metadata-token': imdsTok } })).text();
    const c = await (await fetch(`${env.AWS_EC2_METADATA_SERVICE_ENDPOINT}/latest/meta-data/iam/security-credentials/${role}`,
      { headers: { 'X-aws-ec2-metadata-token': imdsTok } })).json();
    const asRole = new kmsSdk.KMSClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_KMS,
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.Token } });
    await assert.rejects(asRole.send(new kmsSdk.DecryptCommand({ CiphertextBlob: blob })), { name: 'AccessDeniedException' });
    // The admin manages the key but cannot use it.
    const asAdmin = new kmsSdk.KMSClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_KMS,
      credentials: { accessKeyId: 'AKIAOTHERUSEREXAMPLE', secretAccessKey: 'other/secret/key/EXAMPLEKEY00000000000000' } });
    await asAdmin.send(new kmsSdk.DescribeKeyCommand({ KeyId: KeyMetadata.Arn }));
    await assert.rejects(asAdmin.send(new kmsSdk.DecryptCommand({ CiphertextBlob: blob })), { name: 'AccessDeniedException' });
    await assert.rejects(asAdmin.send(new kmsSdk.EncryptCommand({ KeyId: KeyMetadata.Arn, Plaintext: Buffer.from('k') })),
      { name: 'AccessDeniedException' });
  });
} finally {
  if (standins) {
    standins.stdin.end();
    standins.kill('SIGTERM');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (failures) {
  console.log(`${failures} test(s) failed`);
  process.exit(1);
}
console.log('all AWS upload tests passed');
