// onesource.test.ts: what the stacks deploy is what the C tools make. The key policy equals, statement
// for statement, `nitro-keys kms policy` for the same roles; the two tables' key schema and billing
// equal what `nitro-keys kms create-table` and `nitro-signer eth2 ... create-table` create on the
// DynamoDB stand-in (tests/standins, dynalite behind SigV4 checks), read back with DescribeTable.
import { Template } from 'aws-cdk-lib/assertions';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { REPO_DIR } from '../lib/config';
import { nitroKeysPolicy } from '../lib/policy';
import { build, makeArtifacts, NITRO_KEYS, NITRO_SIGNER, only, PROD_PCR0, resources } from './helpers';

const ROLE = 'arn:aws:iam::111122223333:role/nitro-signer-instance';
const ADMIN = 'arn:aws:iam::111122223333:role/key-admin';
const OPERATOR = 'arn:aws:iam::111122223333:role/operator';

/** The template's key policy with each role reference replaced by a concrete ARN. */
function concretePolicy(t: Template, adminArn: string | null): unknown {
  const roleId = (pred: (r: any) => boolean) => resources(t, 'AWS::IAM::Role').find(([, r]) => pred(r))?.[0];
  const instance = roleId((r) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'))!;
  const operator = roleId((r) => /operator/.test(r.Properties.Description ?? ''));
  const policy = only(t, 'AWS::KMS::Key').props.KeyPolicy;
  const text = JSON.stringify(policy)
    .replaceAll(JSON.stringify({ 'Fn::GetAtt': [instance, 'Arn'] }), JSON.stringify(ROLE))
    .replaceAll(JSON.stringify({ 'Fn::GetAtt': [operator, 'Arn'] }), JSON.stringify(OPERATOR));
  if (adminArn !== null) return JSON.parse(text);
  // the default admin, CloudFormation's execution role: a Fn::Sub only CloudFormation resolves
  const admin = JSON.parse(text).Statement.find((s: { Sid: string }) => s.Sid === 'KeyAdministrationWithoutUse').Principal.AWS;
  assert.match(admin['Fn::Sub'], /^arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:role\/cdk-hnb659fds-cfn-exec-role-/);
  return JSON.parse(text.replaceAll(JSON.stringify(admin), JSON.stringify(ADMIN)));
}

const art = makeArtifacts();
const built: Record<string, Record<string, Template>> = {};
/** Both stacks with the default condition (built by the first test, or here when it was skipped). */
const defaultTemplates = () => (built.pcr0 ??= build(art.context).templates);

test('key policy: the one nitro-keys kms policy writes (dev, prod; pcr0 and image-sha384 conditions)', () => {
  for (const condition of ['pcr0', 'image-sha384']) {
    const { templates } = build({ ...art.context, keyCondition: condition });
    built[condition] = templates;
    for (const [name, pcr0] of [['nitro-signer-dev', '0'.repeat(96)], ['nitro-signer-prod', PROD_PCR0]]) {
      const want = nitroKeysPolicy(NITRO_KEYS, pcr0, condition, { role: ROLE, admin: ADMIN, encrypt: OPERATOR }).policy;
      assert.deepEqual(concretePolicy(templates[name], null), want, `${name} --condition=${condition}`);
    }
  }
});

test('key policy with a named key admin and operator: exactly nitro-keys kms policy\'s, those ARNs in place', () => {
  const { templates } = build({ ...art.context, stacks: 'prod', keyAdminArn: ADMIN, operatorArn: OPERATOR });
  const t = templates['nitro-signer-prod'];
  const want = nitroKeysPolicy(NITRO_KEYS, PROD_PCR0, 'pcr0', { role: ROLE, admin: ADMIN, encrypt: OPERATOR }).policy;
  assert.deepEqual(concretePolicy(t, ADMIN), want);
  assert.equal(only(t, 'AWS::KMS::Key').props.BypassPolicyLockoutSafetyCheck, true);
  assert.equal(resources(t, 'AWS::IAM::Role').filter(([, r]) => /operator/.test(r.Properties.Description ?? '')).length, 0);
});

test('image upgrade: the policy admits the previous and the new PCR0, as nitro-keys kms policy --pcr0=NEW,OLD', () => {
  const old = '7e'.repeat(48);
  const { templates } = build({ ...art.context, stacks: 'prod', previousPcr0: old });
  const t = templates['nitro-signer-prod'];
  const want = nitroKeysPolicy(NITRO_KEYS, `${PROD_PCR0},${old}`, 'pcr0', { role: ROLE, admin: ADMIN, encrypt: OPERATOR }).policy;
  const got = concretePolicy(t, null) as { Statement: { Sid: string; Condition: unknown }[] };
  assert.deepEqual(got, want);
  assert.deepEqual(got.Statement.find((s) => s.Sid === 'EnclaveDecryptOnlyWithAttestation')!.Condition,
    { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': [PROD_PCR0, old] } });
  for (const [ctx, msg] of [[{ previousPcr0: PROD_PCR0 }, /previousPcr0: the same as the image's PCR0/],
    [{ previousPcr0: '0'.repeat(96) }, /previousPcr0: refuses the all-zero/],
    [{ previousPcr0: '12' }, /context previousPcr0: PCR0 must be 96 hex digits/],
    [{ stacks: 'dev', previousPcr0: old }, /the dev stack has only the debug-mode PCR0/]] as const)
    assert.throws(() => build({ ...art.context, stacks: 'prod', ...ctx }), msg);
});

test('signed image: PCR8 beside PCR0 (both required) or alone (keyCondition pcr8), as nitro-keys kms policy --pcr8', () => {
  const pcr8 = '8b'.repeat(48);
  const roles = { role: ROLE, admin: ADMIN, encrypt: OPERATOR };
  const cond = (t: Template) => (concretePolicy(t, null) as { Statement: { Sid: string; Condition: unknown }[] })
    .Statement.find((s) => s.Sid === 'EnclaveDecryptOnlyWithAttestation')!.Condition;
  // from the context
  let t = build({ ...art.context, stacks: 'prod', pcr8 }).templates['nitro-signer-prod'];
  assert.deepEqual(concretePolicy(t, null), nitroKeysPolicy(NITRO_KEYS, PROD_PCR0, 'pcr0', roles, pcr8).policy);
  assert.deepEqual(cond(t), { StringEqualsIgnoreCase:
    { 'kms:RecipientAttestation:PCR0': PROD_PCR0, 'kms:RecipientAttestation:PCR8': pcr8 } });
  // from a signed image's pcrs.json, with its PCR0
  const signed = path.join(art.dir, 'enclave/pcrs-signed.json');
  fs.writeFileSync(signed, JSON.stringify({ HashAlgorithm: 'Sha384 { ... }', PCR0: PROD_PCR0, PCR1: 'ab'.repeat(48),
    PCR2: 'cd'.repeat(48), PCR8: pcr8.toUpperCase() }));
  t = build({ ...art.context, stacks: 'prod', pcrsFile: signed }).templates['nitro-signer-prod'];
  assert.deepEqual(cond(t), { StringEqualsIgnoreCase:
    { 'kms:RecipientAttestation:PCR0': PROD_PCR0, 'kms:RecipientAttestation:PCR8': pcr8 } });
  // PCR8 alone: any image signed with the key
  t = build({ ...art.context, stacks: 'prod', pcr8, keyCondition: 'pcr8', allowPcr8Only: 'true' }).templates['nitro-signer-prod'];
  assert.deepEqual(concretePolicy(t, null), nitroKeysPolicy(NITRO_KEYS, PROD_PCR0, 'pcr8', roles, pcr8).policy);
  assert.deepEqual(cond(t), { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR8': pcr8 } });
  // a certificate rotation: either PCR8, as nitro-keys kms policy --pcr8=NEW,OLD
  const old8 = '5c'.repeat(48);
  t = build({ ...art.context, stacks: 'prod', pcr8, previousPcr8: old8, keyCondition: 'pcr8', allowPcr8Only: 'true' }).templates['nitro-signer-prod'];
  assert.deepEqual(concretePolicy(t, null), nitroKeysPolicy(NITRO_KEYS, PROD_PCR0, 'pcr8', roles, `${pcr8},${old8}`).policy);
  assert.deepEqual(cond(t), { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR8': [pcr8, old8] } });
  // an unsigned image's pcrs.json (the default here) adds no PCR8
  t = defaultTemplates()['nitro-signer-prod'];
  assert.deepEqual(cond(t), { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': PROD_PCR0 } });
  for (const [ctx, msg] of [[{ pcr8: '0'.repeat(96) }, /PCR8 is all zeros, which every unsigned image reports/],
    [{ pcr8: '12' }, /context pcr8: PCR8 must be 96 hex digits/],
    [{ keyCondition: 'pcr8', allowPcr8Only: 'true' }, /keyCondition pcr8: needs the signed image's PCR8/],
    [{ keyCondition: 'pcr8', pcr8 }, /keyCondition pcr8 trusts the signing certificate alone.*allowPcr8Only=true/],
    [{ keyCondition: 'pcr9' }, /must be pcr0, image-sha384 or pcr8/],
    [{ stacks: 'dev', pcr8 }, /context pcr8: the dev stack pins the debug-mode PCR0 only/],
    [{ previousPcr8: old8 }, /context previousPcr8: needs the new image's PCR8/],
    [{ pcr8, previousPcr8: pcr8 }, /previousPcr8: the same as the image's PCR8/],
    [{ pcr8, previousPcr8: '0'.repeat(96) }, /previousPcr8: refuses the all-zero/]] as const)
    assert.throws(() => build({ ...art.context, stacks: 'prod', ...ctx }), msg);
});

test('a policy nitro-keys refuses stops the synth with its message', () => {
  const fake = path.join(art.dir, 'fake-nitro-keys');
  fs.writeFileSync(fake, '#!/bin/sh\necho "nitro-keys: kms policy: broken" >&2\nexit 2\n', { mode: 0o755 });
  assert.throws(() => build({ ...art.context, stacks: 'prod', nitroKeys: fake }), /exit 2: nitro-keys: kms policy: broken/);
});

// ---- tables, against the DynamoDB stand-in ---------------------------------------------------------

let standins: ReturnType<typeof spawn> | undefined;
let env: Record<string, string> = {};

before(async () => {
  const envPath = path.join(art.dir, 'standins.env');
  standins = spawn(process.execPath, [path.join(REPO_DIR, 'tests/standins/start.mjs'), `--write-env=${envPath}`,
    '--stdin-lifeline'], { stdio: ['pipe', 'inherit', 'inherit'] });
  for (let i = 0; i < 300 && !fs.existsSync(envPath); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fs.existsSync(envPath), 'the stand-ins did not start');
  for (const line of fs.readFileSync(envPath, 'utf8').trim().split('\n')) {
    const i = line.indexOf('=');
    env[line.slice(0, i)] = line.slice(i + 1);
  }
});

after(() => standins?.kill('SIGTERM'));

function run(prog: string, args: string[]) {
  const r = spawnSync(prog, args, { encoding: 'utf8', timeout: 60000, env: { PATH: process.env.PATH,
    AWS_ENDPOINT_URL_DYNAMODB: env.AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_KMS: env.AWS_ENDPOINT_URL_KMS,
    AWS_REGION: env.AWS_REGION, AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY, AWS_EC2_METADATA_DISABLED: 'true' } });
  assert.equal(r.status, 0, `${prog} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
}

interface Schema { KeySchema: unknown; AttributeDefinitions: unknown; BillingMode: string }

const byName = (a: { AttributeName: string }, b: { AttributeName: string }) => a.AttributeName.localeCompare(b.AttributeName);

async function describe(table: string): Promise<Schema> {
  const req = createRequire(path.join(REPO_DIR, 'tests/js/package.json'));
  const { DynamoDBClient, DescribeTableCommand } = req('@aws-sdk/client-dynamodb');
  const client = new DynamoDBClient({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL_DYNAMODB,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY } });
  try {
    const t = (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
    return { KeySchema: t.KeySchema, AttributeDefinitions: [...t.AttributeDefinitions].sort(byName),
      BillingMode: t.BillingModeSummary?.BillingMode };
  } finally {
    client.destroy();
  }
}

function fromTemplate(t: Template, keyCount: number): Schema {
  const [, r] = resources(t, 'AWS::DynamoDB::Table').find(([, x]) => x.Properties.KeySchema.length === keyCount)!;
  return { KeySchema: r.Properties.KeySchema, AttributeDefinitions: [...r.Properties.AttributeDefinitions].sort(byName),
    BillingMode: r.Properties.BillingMode };
}

test('key table: the schema nitro-keys kms create-table makes', async () => {
  run(NITRO_KEYS, ['kms', 'create-table', '--table=infra_keys']);
  const made = await describe('infra_keys');
  for (const t of Object.values(defaultTemplates())) assert.deepEqual(fromTemplate(t, 2), made);
  assert.equal(made.BillingMode, 'PAY_PER_REQUEST');
});

test('slashing table: the schema nitro-signer eth2 ... create-table makes', async () => {
  run(NITRO_SIGNER, ['eth2', '--slashing-protection-db-url=dynamodb://infra_slashing', 'create-table']);
  const made = await describe('infra_slashing');
  for (const t of Object.values(defaultTemplates())) assert.deepEqual(fromTemplate(t, 1), made);
  assert.equal(made.BillingMode, 'PAY_PER_REQUEST');
});
