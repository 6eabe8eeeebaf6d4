// stack.ts: one nitro-signer deployment (docs/deploy.md): a VPC without NAT, the KMS key pinned to the
// enclave image, the key and slashing tables, the parent instances behind an internal NLB, the control
// Lambda, and the alarms. Built from a SignerConfig (config.ts); `stage: key` builds the first four only.
import * as cdk from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { SignerConfig } from './config';
import { keyPolicy } from './policy';
import { hostConfig, userDataScript } from './userdata';

/** What nitro-host logs when it schedules an enclave restart (src/host/run.c, docs/host.md "Logs"). */
export const RESTART_LOG_TEXT = 'run: restarting the enclave in';
/** The key-table partition key and sort key (src/aws/aws.h AWS_KT_SIGNER_ID, AWS_KT_PUBKEY). */
export const KEY_TABLE_PK = 'web3signer_uuid';
export const KEY_TABLE_SK = 'pubkey';
/** The slashing table's only key (src/slashing/dynamodb.c). */
export const SLASHING_TABLE_PK = 'pk';
/** CloudTrail events on the key that page someone. */
export const KEY_CHANGE_EVENTS = ['PutKeyPolicy', 'CreateGrant', 'RetireGrant', 'RevokeGrant',
  'ScheduleKeyDeletion', 'DisableKey', 'DisableKeyRotation'];
/** Where nitro-host logs (the systemd drop-in of userdata.ts appends there; the agent ships it). */
export const HOST_LOG_FILE = '/var/log/nitro-host/nitro-host.log';

/** Acknowledges one cdk-nag finding on scope (and what it contains), with the reason beside it. */
function ack(scope: Construct, id: string, reason: string) {
  cdk.Validations.of(scope).acknowledge({ id, reason });
}

export interface NitroSignerStackProps extends cdk.StackProps {
  config: SignerConfig;
}

export class NitroSignerStack extends cdk.Stack {
  readonly keyTable: dynamodb.Table;
  readonly slashingTable: dynamodb.ITable;
  readonly key: kms.CfnKey;
  readonly instanceRole: iam.Role;
  readonly config: SignerConfig;
  /** stderr of nitro-keys kms policy (its debug-mode warning, for the dev stack) */
  readonly policyWarnings: string;

  constructor(scope: Construct, id: string, props: NitroSignerStackProps) {
    const c = props.config;
    const debug = c.variant === 'dev';
    super(scope, id, {
      ...props,
      description: debug
        ? 'nitro-signer DEV: DEBUG-MODE ENCLAVE. The KMS key admits the all-zero PCR0 that EVERY debug-mode ' +
          'enclave reports: never load real validator keys into this stack.'
        : c.keyCondition === 'pcr8'
          ? `nitro-signer production: KMS key pinned to the signing certificate, PCR8 ${c.pcr8!.slice(0, 16)}...`
          : `nitro-signer production: KMS key pinned to PCR0 ${c.pcr0.slice(0, 16)}...` +
            (c.pcr8 ? ` and PCR8 ${c.pcr8.slice(0, 16)}...` : ''),
    });
    this.config = c;
    if (debug)
      cdk.Annotations.of(this).addWarningV2('nitro-signer:debug-pcr0', 'DEBUG MODE: the key policy pins the all-zero ' +
        'PCR0, which every debug-mode enclave reports (its console is readable by the host). Test keys only.');
    const prefix = this.stackName;

    // ---- alarms go here -------------------------------------------------------------------------
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: `${prefix} alarms`, enforceSSL: true });
    if (c.alarmEmail) topic.addSubscription(new subs.EmailSubscription(c.alarmEmail));
    const alarmAction = new cwActions.SnsAction(topic);

    // ---- network: two AZs, isolated subnets, endpoints, no NAT ----------------------------------
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(c.vpcCidr),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: {
        DynamoDb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
      },
    });
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_YEAR });
    vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup) });
    // The parent instances' security group (their only peers are the NLB and the endpoints).
    const hostSg = new ec2.SecurityGroup(this, 'HostSg', { vpc, allowAllOutbound: true,
      description: 'nitro-signer parent instances: the NLB in; out only to the VPC endpoints (no NAT)' });
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSg', { vpc, allowAllOutbound: false,
      description: 'interface endpoints: HTTPS from the parent instances only' });
    endpointSg.addIngressRule(hostSg, ec2.Port.tcp(443), 'parent instances (and their enclave through the proxies)');
    for (const [name, svc] of Object.entries({
      Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
      Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
      SsmMessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
      Ec2Messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    }))
      vpc.addInterfaceEndpoint(name, { service: svc, privateDnsEnabled: true, open: false, securityGroups: [endpointSg] });

    // ---- tables ---------------------------------------------------------------------------------
    // Schemas: what `nitro-keys kms create-table` and `nitro-signer eth2 ... create-table` create
    // (test/tables.test.ts runs both against the DynamoDB stand-in and compares).
    this.keyTable = new dynamodb.Table(this, 'KeyTable', {
      tableName: `${prefix}-keys`,
      partitionKey: { name: KEY_TABLE_PK, type: dynamodb.AttributeType.STRING },
      sortKey: { name: KEY_TABLE_SK, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: cdk.RemovalPolicy.RETAIN,
    });
    // -c slashingTableName=T: a table restored from point-in-time recovery (restores make a new table;
    // docs/operations.md); the stack's own is then left out of the stack and kept (Retain).
    this.slashingTable = c.slashingTableName
      ? dynamodb.Table.fromTableName(this, 'SlashingTable', c.slashingTableName)
      : new dynamodb.Table(this, 'SlashingTable', {
        tableName: `${prefix}-slashing`,
        partitionKey: { name: SLASHING_TABLE_PK, type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        removalPolicy: cdk.RemovalPolicy.RETAIN,
      });

    // ---- roles ----------------------------------------------------------------------------------
    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'nitro-signer parent instance: its enclave decrypts only under an attestation of the image',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    ack(this.instanceRole, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      'Session Manager access (no SSH, no bastion): the AWS-maintained minimum for the SSM agent.');
    // Records of this signer only: nitro-host Queries them; the enclave reads and conditionally puts its
    // own sealed records (tls:server, the slashing MAC key) under the same partition.
    this.instanceRole.addToPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem'],
      resources: [this.keyTable.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [c.signerId] } },
    }));
    // Slashing protection: consistent reads, conditional puts, the scan at open, the schema check.
    this.instanceRole.addToPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan', 'dynamodb:DescribeTable'],
      resources: [this.slashingTable.tableArn],
    }));

    const operatorRole = c.operatorArn
      ? iam.Role.fromRoleArn(this, 'OperatorRole', c.operatorArn, { mutable: false })
      : new iam.Role(this, 'OperatorRole', {
        assumedBy: new iam.AccountRootPrincipal(),
        description: 'nitro-signer operator: encrypts and uploads key records, enables and disables them',
      });
    if (operatorRole instanceof iam.Role) {
      operatorRole.addToPolicy(new iam.PolicyStatement({
        actions: ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem',
          'dynamodb:BatchWriteItem', 'dynamodb:DescribeTable'],
        resources: [this.keyTable.tableArn],
      }));
    }
    // The key administrator: by default CloudFormation's execution role of the CDK bootstrap, so that
    // `cdk deploy` (and only it) changes the key policy; -c keyAdminArn=... names another.
    const adminArn = c.keyAdminArn ?? cdk.Fn.sub(
      'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-' + c.bootstrapQualifier +
      '-cfn-exec-role-${AWS::AccountId}-${AWS::Region}');

    // ---- the KMS key: policy from nitro-keys kms policy ------------------------------------------
    // During an image upgrade (-c previousPcr0=...) both the running image and the new one may decrypt.
    // A signed image's PCR8 is required beside PCR0 (or alone: -c keyCondition=pcr8).
    const { policy, stderr } = keyPolicy(c.nitroKeys, c.previousPcr0 ? `${c.pcr0},${c.previousPcr0}` : c.pcr0, c.keyCondition,
      { role: this.instanceRole.roleArn, admin: adminArn, encrypt: operatorRole.roleArn },
      c.pcr8 && c.previousPcr8 ? `${c.pcr8},${c.previousPcr8}` : c.pcr8);
    this.policyWarnings = stderr;
    this.key = new kms.CfnKey(this, 'SignerKey', {
      description: `${prefix}: validator key records and the enclave's TLS key` +
        (debug ? ' (DEBUG-MODE PCR0: test keys only)' : ''),
      keyPolicy: policy,
      enableKeyRotation: true,
      // The creator (CloudFormation) is the default administrator, so the lockout check passes; with
      // -c keyAdminArn it would not, and the named admin is the one who can change the key.
      bypassPolicyLockoutSafetyCheck: c.keyAdminArn !== undefined,
    });
    this.key.applyRemovalPolicy(cdk.RemovalPolicy.RETAIN);
    new kms.CfnAlias(this, 'SignerKeyAlias', { aliasName: `alias/${prefix}`, targetKeyId: this.key.ref });
    const keyArn = this.key.attrArn;

    // Any change to who may use the key: CloudTrail management events through EventBridge (needs a
    // trail logging management events in the account, as every account should have).
    new events.Rule(this, 'KeyChangeRule', {
      description: `${prefix}: a change to the signer key's policy, grants or state`,
      eventPattern: {
        source: ['aws.kms'],
        detailType: ['AWS API Call via CloudTrail'],
        detail: { eventSource: ['kms.amazonaws.com'], eventName: KEY_CHANGE_EVENTS, resources: { ARN: [keyArn] } },
      },
      targets: [new targets.SnsTopic(topic)],
    });

    new cdk.CfnOutput(this, 'KeyArn', { value: keyArn, description: 'the image\'s --tls-kms-key-id, nitro-keys kms encrypt --key-id' });
    new cdk.CfnOutput(this, 'KeyTableName', { value: this.keyTable.tableName });
    new cdk.CfnOutput(this, 'SlashingTableName', { value: this.slashingTable.tableName });
    new cdk.CfnOutput(this, 'OperatorRoleArn', { value: operatorRole.roleArn });
    new cdk.CfnOutput(this, 'InstanceRoleArn', { value: this.instanceRole.roleArn });
    new cdk.CfnOutput(this, 'Pcr0', { value: c.pcr0, description: `the image's PCR0 (${c.pcr0Source})` });
    if (c.pcr8)
      new cdk.CfnOutput(this, 'Pcr8', { value: c.pcr8, description: c.keyCondition === 'pcr8'
        ? 'the signing certificate\'s PCR8: the key policy admits ANY image signed with its key'
        : 'the signing certificate\'s PCR8, required beside PCR0' });
    if (c.previousPcr8)
      new cdk.CfnOutput(this, 'PreviousPcr8', { value: c.previousPcr8,
        description: 'also admitted by the key policy until the rotation is done: deploy again without previousPcr8' });
    if (c.previousPcr0)
      new cdk.CfnOutput(this, 'PreviousPcr0', { value: c.previousPcr0,
        description: 'also admitted by the key policy until the upgrade is done: deploy again without previousPcr0' });
    if (c.stage === 'key') return;

    // ---- the parent instances ---------------------------------------------------------------------
    const hostLogs = new logs.LogGroup(this, 'HostLogs', { retention: logs.RetentionDays.ONE_YEAR });
    hostLogs.grantWrite(this.instanceRole);
    const restarts = new logs.MetricFilter(this, 'EnclaveRestartFilter', {
      logGroup: hostLogs,
      filterPattern: logs.FilterPattern.literal(`"${RESTART_LOG_TEXT}"`),
      metricNamespace: 'NitroSigner',
      metricName: `${prefix}-EnclaveRestarts`,
      metricValue: '1',
      defaultValue: 0,
    });

    const asset = (id: string, path: string) => {
      const a = new s3assets.Asset(this, id, { path });
      // this object and nothing else of the bootstrap bucket
      this.instanceRole.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'],
        resources: [cdk.Fn.sub('arn:${AWS::Partition}:s3:::${B}/${K}', { B: a.s3BucketName, K: a.s3ObjectKey })] }));
      return a;
    };
    const eifAsset = asset('EifAsset', c.eif!.path);
    const hostAsset = asset('NitroHostAsset', c.nitroHost!.path);
    const keysAsset = asset('NitroKeysAsset', c.nitroKeysRelease!.path);

    const nlbSg = new ec2.SecurityGroup(this, 'NlbSg', { vpc, allowAllOutbound: false,
      description: 'nitro-signer NLB: validator clients in' });
    nlbSg.addIngressRule(ec2.Peer.ipv4(c.clientCidr ?? c.vpcCidr),
      ec2.Port.tcp(443), 'validator clients');
    hostSg.addIngressRule(nlbSg, ec2.Port.tcp(c.signerPort), 'NLB traffic and health checks');
    nlbSg.addEgressRule(hostSg, ec2.Port.tcp(c.signerPort), 'to the parent instances');

    const nlb = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc, internetFacing: false, crossZoneEnabled: true, securityGroups: [nlbSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    });
    ack(nlb, 'AwsSolutions-ELB2',
      'A TCP listener (TLS ends in the enclave): NLB access logs exist only for TLS listeners, so there is ' +
      'nothing to log; VPC flow logs record the connections.');
    const signerName = c.dnsName ?? nlb.loadBalancerDnsName;

    const userData = ec2.UserData.forLinux();
    userData.addCommands(...userDataScript({
      config: c, region: this.region,
      eif: { s3: eifAsset.s3ObjectUrl, sha256: c.eif!.sha256 },
      nitroHost: { s3: hostAsset.s3ObjectUrl, sha256: c.nitroHost!.sha256 },
      nitroKeys: { s3: keysAsset.s3ObjectUrl, sha256: c.nitroKeysRelease!.sha256 },
      hostConfig: hostConfig({ config: c, region: this.region, urlSuffix: this.urlSuffix, keyTable: this.keyTable.tableName,
        slashingTable: this.slashingTable.tableName, keyArn, tlsNames: [signerName], debug }),
      logGroup: hostLogs.logGroupName,
    }));
    const template = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: new ec2.InstanceType(c.instanceType),
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      nitroEnclaveEnabled: true,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      instanceMetadataTags: false,
      detailedMonitoring: true,
      role: this.instanceRole,
      securityGroup: hostSg,
      userData,
      blockDevices: [{ deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(30, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }) }],
    });
    const asg = new autoscaling.AutoScalingGroup(this, 'Hosts', {
      vpc, launchTemplate: template,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      minCapacity: c.instanceCount, maxCapacity: c.instanceCount,
      healthChecks: autoscaling.HealthChecks.withAdditionalChecks({
        additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB], gracePeriod: cdk.Duration.minutes(15) }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: Math.max(0, c.instanceCount - 1) }),
      notifications: [{ topic }],
    });
    const tg = new elbv2.NetworkTargetGroup(this, 'Targets', {
      vpc, port: c.signerPort, protocol: elbv2.Protocol.TCP, targetType: elbv2.TargetType.INSTANCE,
      targets: [asg],
      deregistrationDelay: cdk.Duration.seconds(30),
      healthCheck: { protocol: elbv2.Protocol.HTTPS, path: '/upcheck', port: 'traffic-port',
        interval: cdk.Duration.seconds(10), healthyThresholdCount: 3, unhealthyThresholdCount: 3 },
    });
    nlb.addListener('Https', { port: 443, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [tg] });

    if (c.dnsName) {
      const dot = c.dnsName.indexOf('.');
      const zone = new route53.PrivateHostedZone(this, 'Zone', { zoneName: c.dnsName.slice(dot + 1), vpc });
      new route53.ARecord(this, 'SignerName', { zone, recordName: c.dnsName.slice(0, dot),
        target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(nlb)) });
    }

    // ---- the control Lambda -----------------------------------------------------------------------
    const lambdaSg = new ec2.SecurityGroup(this, 'ControlSg', { vpc, allowAllOutbound: true,
      description: 'nitro-control: out to the NLB and DynamoDB (no NAT)' });
    nlbSg.addIngressRule(lambdaSg, ec2.Port.tcp(443), 'nitro-control');
    const control = new lambda.Function(this, 'Control', {
      runtime: lambda.Runtime.PROVIDED_AL2023,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(c.lambdaZip!.path),
      architecture: lambda.Architecture.X86_64,
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [lambdaSg],
      timeout: cdk.Duration.seconds(30),
      memorySize: 256,
      environment: {
        SIGNER_URL: `https://${signerName}`,
        KEY_TABLE: this.keyTable.tableName,
        SIGNER_ID: c.signerId,
        EXPECTED_PCR0: c.pcr0,
        // a debug-mode image's all-zero PCR0 is refused unless asked for by name
        ...(/^0{96}$/.test(c.pcr0) ? { ALLOW_DEBUG_PCR0: 'true' } : {}),
        // a signed image: attest also requires its signing certificate (not previousPcr8: the Lambda
        // checks the image this deployment runs)
        ...(c.pcr8 ? { EXPECTED_PCR8: c.pcr8 } : {}),
      },
      description: 'nitro-control: checks the signer\'s attestation and key table',
    });
    // GetItem (the tls:server item) and Query (public_keys: the signer's records), its own partition only.
    control.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:Query'],
      resources: [this.keyTable.tableArn],
      conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [c.signerId] } } }));
    for (const p of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole'])
      ack(control, `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${p}]`,
        'The AWS-maintained minimum for a function in a VPC: its own log stream and its network ' +
        'interfaces (which IAM allows only on Resource *).');

    // ---- alarms -----------------------------------------------------------------------------------
    new cloudwatch.Alarm(this, 'UnhealthyTargets', {
      alarmDescription: `${prefix}: a parent instance fails the NLB's HTTPS /upcheck`,
      metric: tg.metrics.unHealthyHostCount({ period: cdk.Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1, evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    }).addAlarmAction(alarmAction);
    new cloudwatch.Alarm(this, 'EnclaveRestarts', {
      alarmDescription: `${prefix}: nitro-host restarted an enclave (log line "${RESTART_LOG_TEXT} ...")`,
      metric: restarts.metric({ period: cdk.Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1, evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);

    new cdk.CfnOutput(this, 'SignerUrl', { value: `https://${signerName}` });
    new cdk.CfnOutput(this, 'NlbDnsName', { value: nlb.loadBalancerDnsName });
    new cdk.CfnOutput(this, 'ControlFunction', { value: control.functionName });
    new cdk.CfnOutput(this, 'HostsGroup', { value: asg.autoScalingGroupName });
  }
}
