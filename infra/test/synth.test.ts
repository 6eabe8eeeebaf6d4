// synth.test.ts: what the synth accepts and refuses (the prod stack without a PCR0, bad context, a
// release binary that does not match SHA256SUMS), the key-only first stage, cdk-nag's AwsSolutions
// rules (clean, live, and the exact list of acknowledged findings), and `cdk synth`'s entry point.
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../lib/app';
import { INFRA_DIR, NO_IMAGE_PCR0 } from '../lib/config';
import { build, makeArtifacts, only, PROD_PCR0, userData } from './helpers';

const art = makeArtifacts();
const noPcrs = makeArtifacts(false);
const tmpOut = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-infra-out-'));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

test('prod refuses to synthesise without a PCR0, saying how to give one', () => {
  assert.throws(() => build(noPcrs.context), (e: Error) =>
    /nitro-signer-prod needs the enclave image's PCR0: make synth PCR0=<96 hex digits>/.test(e.message) &&
    e.message.includes('make enclave-image') && e.message.includes('make synth STACKS=dev'));
  // the dev stack alone needs none
  const { templates } = build({ ...noPcrs.context, stacks: 'dev' });
  assert.deepEqual(Object.keys(templates), ['nitro-signer-dev']);
});

test('prod PCR0: context first, else pcrs.json; a bad or all-zero one is refused', () => {
  const pcr0Of = (ctx: Record<string, string>) => JSON.stringify(only(build({ ...ctx, stacks: 'prod' })
    .templates['nitro-signer-prod'], 'AWS::KMS::Key').props.KeyPolicy).match(/"kms:RecipientAttestation:PCR0":"([0-9a-f]+)"/)![1];
  assert.equal(pcr0Of(art.context), PROD_PCR0);
  assert.equal(pcr0Of({ ...art.context, pcr0: '0x' + '5C'.repeat(48) }), '5c'.repeat(48));
  for (const [bad, msg] of [['12'.repeat(47), /context pcr0: PCR0 must be 96 hex digits/],
    ['g'.repeat(96), /PCR0 must be 96 hex digits/], ['0'.repeat(96), /refuses the all-zero PCR0/]] as const)
    assert.throws(() => build({ ...art.context, stacks: 'prod', pcr0: bad }), msg);
  const badPcrs = path.join(art.dir, 'bad-pcrs.json');
  fs.writeFileSync(badPcrs, '{"HashAlgorithm":"Sha384 { ... }"}');
  assert.throws(() => build({ ...art.context, stacks: 'prod', pcrsFile: badPcrs }), /bad-pcrs.json: has no PCR0 string/);
});

test('bad context and missing artifacts are refused by name', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ stacks: 'staging' }, /context stacks: dev and\/or prod/],
    [{ stage: 'half' }, /context stage: must be full or key/],
    [{ instanceCount: '0' }, /context instanceCount: "0" is not a whole number from 1 to 20/],
    [{ enclaveCpuCount: '3' }, /enclaveCpuCount: must be even/],
    [{ keyCondition: 'pcr9' }, /context keyCondition: must be pcr0, image-sha384 or pcr8/],
    [{ signerId: 'a b' }, /context signerId/],
    [{ dnsName: 'signer' }, /context dnsName/],
    [{ keyAdminArn: 'arn:aws:iam::1:user/x' }, /context keyAdminArn: not an IAM role ARN/],
    [{ eifPath: '/nonexistent/x.eif' }, /the enclave image \/nonexistent\/x.eif does not exist \(make enclave-image/],
    [{ lambdaZip: '/nonexistent/c.zip' }, /the control Lambda \/nonexistent\/c.zip does not exist/],
    [{ nitroKeys: '/nonexistent/nitro-keys' }, /nitro-keys not found \(looked at \/nonexistent\/nitro-keys\)/],
  ];
  for (const [ctx, msg] of cases) assert.throws(() => build({ ...art.context, stacks: 'dev', ...ctx }), msg, JSON.stringify(ctx));
});

test('a release binary that differs from build/release/SHA256SUMS is refused', () => {
  const a = makeArtifacts();
  fs.writeFileSync(path.join(a.dir, 'release/SHA256SUMS'), `${'0'.repeat(64)}  nitro-host\n`);
  assert.throws(() => build({ ...a.context, stacks: 'dev' }), /nitro-host: SHA-256 [0-9a-f]{64} differs from .*SHA256SUMS/);
});

test('stage=key: the key (no enclave admitted before an image exists), tables and roles; no instances', () => {
  const { templates } = build({ nitroKeys: art.context.nitroKeys, pcrsFile: '/nonexistent.json', stage: 'key',
    releaseDir: '/nonexistent', eifPath: '/nonexistent', lambdaZip: '/nonexistent' });
  const prod = templates['nitro-signer-prod'];
  const policy = JSON.stringify(only(prod, 'AWS::KMS::Key').props.KeyPolicy);
  assert.ok(policy.includes(`"kms:RecipientAttestation:PCR0":"${NO_IMAGE_PCR0}"`));
  for (const t of Object.values(templates)) {
    for (const type of ['AWS::AutoScaling::AutoScalingGroup', 'AWS::Lambda::Function',
      'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::EC2::LaunchTemplate'])
      t.resourceCountIs(type, 0);
    t.resourceCountIs('AWS::DynamoDB::Table', 2);
    t.resourceCountIs('AWS::Events::Rule', 1);
  }
});

test('slashingTableName: a restored table instead of the stack\'s own, in IAM and the host config', () => {
  const { templates } = build({ ...art.context, stacks: 'prod', slashingTableName: 'nitro-signer-prod-slashing-restored' });
  const t = templates['nitro-signer-prod'];
  t.resourceCountIs('AWS::DynamoDB::Table', 1);
  const text = JSON.stringify(t.toJSON());
  assert.match(text, /table\/nitro-signer-prod-slashing-restored/);
  assert.match(userData(t), /slashing_db_url: dynamodb:\/\/nitro-signer-prod-slashing-restored\?region=/);
  assert.throws(() => build({ ...art.context, stacks: 'prod', slashingTableName: 'a b' }), /context slashingTableName/);
});

/** Every cdk-nag finding acknowledged in the app, "stack/path: rule id" (CDK's own acknowledgements of
 *  its CloudFormation linter aside); each must carry a reason of a sentence or more. */
function acknowledged(app: cdk.App): string[] {
  const out: string[] = [];
  for (const c of app.node.findAll())
    for (const m of c.node.metadata)
      if (m.type === cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        for (const [id, reason] of Object.entries(m.data as Record<string, string>)) {
          if (!id.includes('AwsSolutions')) continue;
          assert.ok(String(reason).length >= 40, `${c.node.path}: ${id}: a reason, not ${JSON.stringify(reason)}`);
          out.push(`${c.node.path}: ${id.replace(/^Annotation::/, '')}`);
        }
  return out.sort();
}

test('cdk-nag AwsSolutions: no finding left; the acknowledged ones are these, each with a reason', () => {
  const { app } = build(art.context, tmpOut());
  app.synth(); // throws on any unacknowledged finding
  const report = JSON.parse(fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8'));
  assert.deepEqual(report.pluginReports, []);
  const want = (s: string) => [
    `${s}/Control: AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]`,
    `${s}/Control: AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]`,
    `${s}/InstanceRole: AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]`,
    `${s}/Nlb: AwsSolutions-ELB2`,
  ];
  assert.deepEqual(acknowledged(app), [...want('nitro-signer-dev'), ...want('nitro-signer-prod')].sort());
});

test('cdk-nag is live: a finding nobody acknowledged fails the synth', () => {
  const { app, stacks } = buildApp({ context: { ...art.context, stacks: 'dev' }, outdir: tmpOut() });
  const vpc = stacks[0].node.findChild('Vpc') as ec2.Vpc;
  new ec2.SecurityGroup(stacks[0], 'Open', { vpc }).addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22));
  assert.throws(() => app.synth(), /Validation failed/);
  const report = fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8');
  assert.match(report, /AwsSolutions-EC23/);
  assert.match(report, /nitro-signer-dev\/Open/);
});

test('cdk synth entry point: one clear line and exit 1 without a PCR0, templates with one', () => {
  const entry = path.join(INFRA_DIR, 'dist/bin/app.js');
  const runEntry = (ctx: Record<string, string>) => {
    const out = tmpOut();
    const r = spawnSync(process.execPath, [entry], { encoding: 'utf8', timeout: 120000,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(ctx), CDK_OUTDIR: out } });
    return { ...r, out };
  };
  const bad = runEntry({ ...noPcrs.context, stacks: 'prod' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^nitro-signer synth: nitro-signer-prod needs the enclave image's PCR0: make synth PCR0=/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.ok(!fs.existsSync(path.join(bad.out, 'manifest.json')));
  const good = runEntry({ ...noPcrs.context, stacks: 'prod', pcr0: PROD_PCR0 });
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stderr, new RegExp(`nitro-signer-prod \\(stage full\\): key policy PCR0 ${PROD_PCR0} from context pcr0`));
  assert.ok(fs.existsSync(path.join(good.out, 'nitro-signer-prod.template.json')));
});
