// stacks.test.ts: the synthesised templates (offline, stand-in artifacts): the launch template, the
// KMS key policy's shape, the network, the load balancer, the tables, the Lambda, the alarms, and the
// dev stack's debug-mode warning.
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEBUG_PCR0, REPO_DIR, sha256File } from '../lib/config';
import { HOST_LOG_FILE, KEY_CHANGE_EVENTS, RESTART_LOG_TEXT } from '../lib/stack';
import { build, makeArtifacts, only, PROD_PCR0, resources, userData } from './helpers';

const art = makeArtifacts();
const { templates, stacks } = build({ ...art.context, instanceCount: '3', instanceType: 'c6i.2xlarge',
  enclaveCpuCount: '4', enclaveMemoryMib: '6144', signerId: 'signer-7', dnsName: 'signer.corp.example' });
const dev = templates['nitro-signer-dev'];
const prod = templates['nitro-signer-prod'];
const both = [['dev', dev], ['prod', prod]] as const;

test('launch template: enclave on, IMDSv2 required with hop limit 1, encrypted root volume', () => {
  for (const [, t] of both) {
    const d = only(t, 'AWS::EC2::LaunchTemplate').props.LaunchTemplateData;
    assert.deepEqual(d.EnclaveOptions, { Enabled: true });
    assert.equal(d.MetadataOptions.HttpTokens, 'required');
    assert.equal(d.MetadataOptions.HttpPutResponseHopLimit, 1);
    assert.equal(d.InstanceType, 'c6i.2xlarge');
    assert.equal(d.BlockDeviceMappings.length, 1);
    assert.equal(d.BlockDeviceMappings[0].Ebs.Encrypted, true);
    assert.equal(d.NetworkInterfaces?.[0]?.AssociatePublicIpAddress, undefined);
  }
});

test('instances: in the isolated subnets only, no internet or NAT gateway anywhere, count from context', () => {
  for (const [, t] of both) {
    t.resourceCountIs('AWS::EC2::InternetGateway', 0);
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::EIP', 0);
    const subnets = resources(t, 'AWS::EC2::Subnet');
    assert.equal(subnets.length, 2, 'two AZs, one isolated subnet each');
    for (const [, s] of subnets) assert.equal(s.Properties.MapPublicIpOnLaunch, false);
    const asg = only(t, 'AWS::AutoScaling::AutoScalingGroup').props;
    assert.deepEqual(asg.VPCZoneIdentifier.map((r: { Ref: string }) => r.Ref).sort(), subnets.map(([id]) => id).sort());
    assert.equal(asg.MinSize, '3');
    assert.equal(asg.MaxSize, '3');
    for (const [, r] of resources(t, 'AWS::EC2::Route'))
      assert.fail(`a route ${JSON.stringify(r.Properties)}: isolated subnets have none but the gateway endpoints'`);
  }
});

test('VPC endpoints: gateway for DynamoDB and S3, interface for KMS, SSM, ssmmessages, ec2messages, logs', () => {
  for (const [, t] of both) {
    // ServiceName: {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".kms"]]}
    const names = resources(t, 'AWS::EC2::VPCEndpoint').map(([, r]) =>
      `${r.Properties.VpcEndpointType}:${(r.Properties.ServiceName['Fn::Join'][1] as unknown[]).at(-1)}`.replace(':.', ':')).sort();
    assert.deepEqual(names, ['Gateway:dynamodb', 'Gateway:s3', 'Interface:ec2messages', 'Interface:kms', 'Interface:logs',
      'Interface:ssm', 'Interface:ssmmessages']);
    assert.equal(names.length, 7);
    for (const [, r] of resources(t, 'AWS::EC2::VPCEndpoint'))
      if (r.Properties.VpcEndpointType === 'Interface') assert.equal(r.Properties.PrivateDnsEnabled, true);
  }
});

test('NLB: internal, TCP 443 to the signer port, HTTPS health check on /upcheck; private DNS name', () => {
  for (const [, t] of both) {
    assert.equal(only(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').props.Scheme, 'internal');
    assert.equal(only(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').props.Type, 'network');
    const l = only(t, 'AWS::ElasticLoadBalancingV2::Listener').props;
    assert.equal(l.Port, 443);
    assert.equal(l.Protocol, 'TCP');
    const tg = only(t, 'AWS::ElasticLoadBalancingV2::TargetGroup').props;
    assert.equal(tg.Protocol, 'TCP');
    assert.equal(tg.Port, 443);
    assert.equal(tg.HealthCheckProtocol, 'HTTPS');
    assert.equal(tg.HealthCheckPath, '/upcheck');
    assert.equal(only(t, 'AWS::Route53::HostedZone').props.Name, 'corp.example.');
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'signer.corp.example.', Type: 'A' });
  }
});

test('tables: point-in-time recovery and deletion protection on, retained', () => {
  for (const [, t] of both) {
    const tables = resources(t, 'AWS::DynamoDB::Table');
    assert.equal(tables.length, 2);
    for (const [id, r] of tables) {
      assert.equal(r.Properties.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true, id);
      assert.equal(r.Properties.DeletionProtectionEnabled, true, id);
      assert.equal((t.toJSON().Resources[id] as { DeletionPolicy: string }).DeletionPolicy, 'Retain', id);
    }
  }
});

test('control Lambda: provided.al2023, bootstrap, in the VPC, its env, GetItem and Query on its signer\'s part of the key table only', () => {
  for (const [name, t] of both) {
    const fns = only(t, 'AWS::Lambda::Function');
    assert.equal(fns.props.Runtime, 'provided.al2023');
    assert.equal(fns.props.Handler, 'bootstrap');
    assert.ok(fns.props.VpcConfig.SubnetIds.length === 2);
    const env = fns.props.Environment.Variables;
    assert.deepEqual(Object.keys(env).sort(), name === 'dev'
      ? ['ALLOW_DEBUG_PCR0', 'EXPECTED_PCR0', 'KEY_TABLE', 'SIGNER_ID', 'SIGNER_URL']
      : ['EXPECTED_PCR0', 'KEY_TABLE', 'SIGNER_ID', 'SIGNER_URL']);
    assert.equal(env.EXPECTED_PCR0, name === 'dev' ? DEBUG_PCR0 : PROD_PCR0);
    assert.equal(env.EXPECTED_PCR8, undefined, 'no PCR8 without a signed image');
    assert.equal(env.SIGNER_ID, 'signer-7');
    assert.equal(env.SIGNER_URL, 'https://signer.corp.example');
    const keyTable = resources(t, 'AWS::DynamoDB::Table').find(([, r]) => r.Properties.KeySchema.length === 2)![0];
    assert.deepEqual(env.KEY_TABLE, { Ref: keyTable });
    const role = fns.props.Role['Fn::GetAtt'][0];
    const pols = resources(t, 'AWS::IAM::Policy').filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role));
    assert.equal(pols.length, 1);
    assert.deepEqual(pols[0][1].Properties.PolicyDocument.Statement,
      [{ Action: ['dynamodb:GetItem', 'dynamodb:Query'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [keyTable, 'Arn'] },
        Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['signer-7'] } } }]);
  }
});

test('control Lambda of a signed image: EXPECTED_PCR8 is its pcr8 (previousPcr8 is for the key policy only)', () => {
  const pcr8 = '8b'.repeat(48);
  for (const ctx of [{ pcr8 }, { pcr8, previousPcr8: '7c'.repeat(48) }] as Record<string, string>[]) {
    const t = build({ ...art.context, stacks: 'prod', ...ctx }).templates['nitro-signer-prod'];
    const env = only(t, 'AWS::Lambda::Function').props.Environment.Variables;
    assert.deepEqual(Object.keys(env).sort(), ['EXPECTED_PCR0', 'EXPECTED_PCR8', 'KEY_TABLE', 'SIGNER_ID', 'SIGNER_URL']);
    assert.equal(env.EXPECTED_PCR0, PROD_PCR0);
    assert.equal(env.EXPECTED_PCR8, pcr8);
  }
});

test('instance role: this signer\'s key records, the slashing table, its assets; no KMS in IAM', () => {
  for (const [, t] of both) {
    const roleId = resources(t, 'AWS::IAM::Role').find(([, r]) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'))![0];
    const stmts = resources(t, 'AWS::IAM::Policy').filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
    const text = JSON.stringify(stmts);
    assert.ok(!text.includes('kms:'), 'KMS use is granted by the key policy alone');
    assert.ok(!/"Resource":"\*"/.test(text), 'no Resource *');
    const keyStmt = stmts.find((s: { Action: string[] }) => Array.isArray(s.Action) && s.Action.includes('dynamodb:Query'));
    assert.deepEqual(keyStmt.Condition, { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['signer-7'] } });
    const slash = stmts.find((s: { Action: string[] }) => Array.isArray(s.Action) && s.Action.includes('dynamodb:Scan'));
    assert.deepEqual(slash.Action.sort(), ['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan']);
    const s3 = stmts.filter((s: { Action: string }) => s.Action === 's3:GetObject');
    assert.equal(s3.length, 3, 'one statement per asset (image, nitro-host, nitro-keys)');
  }
});

test('user data: allocator sized from context, assets checked against their synth-time SHA-256, unit as committed', () => {
  for (const [name, t] of both) {
    const u = userData(t);
    assert.match(u, /memory_mib: 6144\ncpu_count: 4\n/);
    assert.match(u, /^ {2}cpu_count: 4$/m);
    for (const f of ['release/nitro-host', 'release/nitro-keys', 'enclave/nitro-signer.eif']) {
      const h = sha256File(path.join(art.dir, f));
      assert.ok(u.includes(` ${h} `), `${f}'s SHA-256 in the user data`);
    }
    assert.ok(u.includes('sha256sum --check --strict'));
    assert.ok(u.includes(fs.readFileSync(path.join(REPO_DIR, 'deploy/nitro-host.service'), 'utf8').trim()));
    assert.ok(u.includes('systemctl enable --now nitro-host.service'));
    assert.ok(u.includes('systemctl enable --now nitro-enclaves-allocator.service'));
    assert.ok(u.includes(`"file_path": "${HOST_LOG_FILE}"`));
    assert.equal(/debug_mode: true/.test(u), name === 'dev');
    assert.match(u, /^signer_id: signer-7$/m);
    assert.match(u, /^ {2}slashing_db_url: dynamodb:\/\/\{\{"Ref":"SlashingTable[0-9A-F]+"\}\}\?region=/m);
  }
});

test('a user-data change (a new image) rolls the instances one at a time', () => {
  for (const [, t] of both) {
    const [, asg] = resources(t, 'AWS::AutoScaling::AutoScalingGroup')[0];
    const u = (asg as unknown as { UpdatePolicy: { AutoScalingRollingUpdate: Record<string, unknown> } }).UpdatePolicy;
    assert.equal(u.AutoScalingRollingUpdate.MaxBatchSize, 1);
    assert.equal(u.AutoScalingRollingUpdate.MinInstancesInService, 2);
  }
});

test('alarms: unhealthy NLB targets; enclave restarts from the line nitro-host logs', () => {
  const runC = fs.readFileSync(path.join(REPO_DIR, 'src/host/run.c'), 'utf8');
  assert.ok(runC.includes(`log_info("${RESTART_LOG_TEXT} %d s"`), 'src/host/run.c logs the line the filter matches');
  for (const [, t] of both) {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'UnHealthyHostCount', Namespace: 'AWS/NetworkELB',
      AlarmActions: Match.anyValue() });
    const f = only(t, 'AWS::Logs::MetricFilter').props;
    assert.equal(f.FilterPattern, `"${RESTART_LOG_TEXT}"`);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: f.MetricTransformations[0].MetricName,
      Namespace: 'NitroSigner', AlarmActions: Match.anyValue() });
  }
});

test('key changes: an EventBridge rule on the key\'s policy, grants and state, to the alarm topic', () => {
  for (const [, t] of both) {
    const r = only(t, 'AWS::Events::Rule').props;
    assert.deepEqual(r.EventPattern.detail.eventName, KEY_CHANGE_EVENTS);
    for (const e of ['PutKeyPolicy', 'CreateGrant', 'RetireGrant', 'RevokeGrant', 'ScheduleKeyDeletion', 'DisableKey'])
      assert.ok(r.EventPattern.detail.eventName.includes(e), e);
    const key = only(t, 'AWS::KMS::Key').id;
    assert.deepEqual(r.EventPattern.detail.resources.ARN, [{ 'Fn::GetAtt': [key, 'Arn'] }]);
    assert.deepEqual(r.Targets[0].Arn, { Ref: only(t, 'AWS::SNS::Topic').id });
  }
});

type Stmt = { Sid: string; Effect: string; Principal: { AWS: unknown }; Action: string[]; Condition?: Record<string, Record<string, string>> };

test('KMS key: decrypt only with the image\'s PCR0, no root, no kms:*, the admin cannot use it', () => {
  for (const [name, t] of both) {
    const k = only(t, 'AWS::KMS::Key').props;
    assert.equal(k.EnableKeyRotation, true);
    const stmts = k.KeyPolicy.Statement as Stmt[];
    const text = JSON.stringify(k.KeyPolicy);
    assert.ok(!text.includes(':root'), 'no account root principal');
    assert.ok(!text.includes('"kms:*"'), 'no kms:*');
    assert.ok(!text.includes('AWS::AccountId}:root'));
    const pcr0 = name === 'dev' ? DEBUG_PCR0 : PROD_PCR0;
    const instanceRole = resources(t, 'AWS::IAM::Role').find(([, r]) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('ec2.amazonaws.com'))![0];
    const uses = ['kms:Decrypt', 'kms:GenerateDataKey'];
    for (const s of stmts.filter((x) => x.Effect === 'Allow')) {
      const grantsUse = s.Action.some((a) => a === 'kms:Decrypt' || a.startsWith('kms:ReEncrypt') || a.startsWith('kms:GenerateDataKey') || a === 'kms:Encrypt');
      if (!grantsUse) continue;
      if (s.Action.includes('kms:Decrypt')) {
        // the one statement that decrypts: the instance role, pinned to the PCR0, nothing broader
        assert.equal(s.Sid, 'EnclaveDecryptOnlyWithAttestation');
        assert.deepEqual(s.Principal.AWS, { 'Fn::GetAtt': [instanceRole, 'Arn'] });
        assert.deepEqual(s.Action, uses);
        assert.deepEqual(s.Condition, { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': pcr0 } });
      } else {
        assert.equal(s.Sid, 'OperatorEncryptOnly');
        assert.deepEqual(s.Action, ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']);
      }
    }
    assert.equal(stmts.filter((s) => s.Effect === 'Allow' && s.Action.includes('kms:Decrypt')).length, 1);
    const deny = stmts.find((s) => s.Effect === 'Deny')!;
    assert.deepEqual(deny.Condition, { Null: { 'kms:RecipientAttestation:PCR0': 'true' } });
    const admin = stmts.find((s) => s.Sid === 'KeyAdministrationWithoutUse')!;
    for (const a of admin.Action)
      assert.ok(!/^kms:(Decrypt|Encrypt|GenerateDataKey|ReEncrypt|Sign|\*)/.test(a), `admin action ${a}`);
    assert.ok(admin.Action.includes('kms:Put*'));
    assert.match(JSON.stringify(admin.Principal.AWS), /cdk-hnb659fds-cfn-exec-role/);
  }
});

test('dev stack: says loudly that it is debug mode (a synth warning, the description, the key)', () => {
  const d = stacks['nitro-signer-dev'];
  assert.match(d.templateOptions.description!, /DEBUG-MODE ENCLAVE/);
  assert.match(only(dev, 'AWS::KMS::Key').props.Description, /DEBUG-MODE PCR0/);
  Annotations.fromStack(d).hasWarning('/nitro-signer-dev', Match.stringLikeRegexp('DEBUG MODE.*all-zero PCR0'));
  assert.match(d.policyWarnings, /zero PCR0 admits every debug-mode enclave/);
  const p = stacks['nitro-signer-prod'];
  assert.doesNotMatch(p.templateOptions.description!, /DEBUG/);
  assert.deepEqual(Annotations.fromStack(p).findWarning('*', Match.stringLikeRegexp('DEBUG')), []);
  assert.equal(p.policyWarnings, '');
});
