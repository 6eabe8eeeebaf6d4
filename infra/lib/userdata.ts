// userdata.ts: what a parent instance runs at first boot (Amazon Linux 2023): the Nitro Enclaves
// allocator, the release binaries and the image fetched from the stack's assets and checked against the
// SHA-256 computed at synth, nitro-host's config (docs/host.md; deploy/config.example.yaml is the
// example it follows) and its systemd unit (deploy/nitro-host.service, as committed), then the
// CloudWatch agent shipping nitro-host's log, then nitro-host.
import { SignerConfig } from './config';

export interface Fetched {
  /** s3://bucket/key (tokens allowed) */
  s3: string;
  sha256: string;
}

export interface HostConfigInput {
  config: SignerConfig;
  region: string;
  urlSuffix: string;
  keyTable: string;
  slashingTable: string;
  keyArn: string;
  tlsNames: string[];
  debug: boolean;
}

/** /etc/nitro-host/config.yaml for one parent instance. */
export function hostConfig(i: HostConfigInput): string {
  const c = i.config;
  const kms = `kms.${i.region}.${i.urlSuffix}:443`;
  const ddb = `dynamodb.${i.region}.${i.urlSuffix}:443`;
  return [
    `region: ${i.region}`,
    `signer_id: ${c.signerId}`,
    `key_table: ${i.keyTable}`,
    `kms_key_id: ${i.keyArn}`,
    'credentials: imds',
    'credentials_refresh_s: 300',
    'enclave:',
    `  network: ${c.network}`,
    `  slashing_db_url: dynamodb://${i.slashingTable}?region=${i.region}`,
    '  kms_proxy: vsock:3:8000',
    '  dynamodb_proxy: vsock:3:8001',
    `  tls_names: [${i.tlsNames.map((n) => JSON.stringify(n)).join(', ')}]`,
    'tls_cert_file: /var/lib/nitro-host/tls.crt',
    'health_listen: tcp:127.0.0.1:9100',
    'status_interval_s: 10',
    'control: vsock:16:5000',
    'runner:',
    '  type: nitro-cli',
    '  eif_path: /opt/nitro-signer/nitro-signer.eif',
    `  cpu_count: ${c.enclaveCpuCount}`,
    `  memory_mib: ${c.enclaveMemoryMib}`,
    '  cid: 16',
    ...(i.debug ? ['  debug_mode: true   # DEV STACK: PCR0 reads as zeros; test keys only'] : []),
    'restart:',
    '  max_backoff_s: 60',
    'proxies:',
    `  - {listen: "tcp:0.0.0.0:${c.signerPort}", connect: "vsock:16:9000", max_connections: 1024}`,
    `  - {listen: "vsock:ANY:8000", connect: "tcp:${kms}", allow: ["${kms}"], max_connections: 64}`,
    `  - {listen: "vsock:ANY:8001", connect: "tcp:${ddb}", allow: ["${ddb}"], max_connections: 64}`,
  ].join('\n');
}

export interface UserDataInput {
  config: SignerConfig;
  region: string;
  eif: Fetched;
  nitroHost: Fetched;
  nitroKeys: Fetched;
  hostConfig: string;
  logGroup: string;
}

/** A heredoc that writes text to path with mode (the delimiter is checked not to occur in text,
 *  when text has no tokens that could hide it: tokens resolve to names, ARNs and URLs). */
function writeFile(path: string, mode: string, text: string): string[] {
  const eof = 'NITRO_SIGNER_EOF';
  if (text.split('\n').includes(eof)) throw new Error(`${path}: its text holds the heredoc delimiter`);
  return [`install -d -m 0755 "$(dirname ${path})"`, `cat > ${path} <<'${eof}'`, text.replace(/\n$/, ''), eof,
    `chmod ${mode} ${path}`];
}

export function userDataScript(u: UserDataInput): string[] {
  const c = u.config;
  const agentConfig = JSON.stringify({
    agent: { run_as_user: 'root' },
    logs: { logs_collected: { files: { collect_list: [{
      file_path: '/var/log/nitro-host/nitro-host.log', log_group_name: u.logGroup,
      log_stream_name: '{instance_id}', timezone: 'UTC' }] } } },
  }, null, 1);
  return [
    'set -euo pipefail',
    'exec > >(tee -a /var/log/nitro-signer-setup.log) 2>&1',
    'echo "nitro-signer setup: start"',
    // the Nitro Enclaves CLI and allocator, and the log shipper (AL2023 repositories, reached through
    // the S3 gateway endpoint)
    'dnf install -y --setopt=install_weak_deps=False aws-nitro-enclaves-cli amazon-cloudwatch-agent',
    ...writeFile('/etc/nitro_enclaves/allocator.yaml', '0644',
      `---\nmemory_mib: ${c.enclaveMemoryMib}\ncpu_count: ${c.enclaveCpuCount}\n`),
    'systemctl enable --now nitro-enclaves-allocator.service',
    // each file from the stack's assets, refused unless its SHA-256 is the one computed at synth
    'fetch() {',
    `  aws s3 cp --only-show-errors --region ${u.region} "$1" "$2.part"`,
    '  echo "$3  $2.part" | sha256sum --check --strict --quiet - || { echo "nitro-signer setup: $2: SHA-256 mismatch" >&2; rm -f "$2.part"; exit 1; }',
    '  chmod "$4" "$2.part" && mv "$2.part" "$2"',
    '}',
    'install -d -m 0755 /opt/nitro-signer',
    `fetch "${u.eif.s3}" /opt/nitro-signer/nitro-signer.eif ${u.eif.sha256} 0644`,
    `fetch "${u.nitroHost.s3}" /usr/local/bin/nitro-host ${u.nitroHost.sha256} 0755`,
    `fetch "${u.nitroKeys.s3}" /usr/local/bin/nitro-keys ${u.nitroKeys.sha256} 0755`,
    ...writeFile('/etc/nitro-host/config.yaml', '0644', u.hostConfig),
    ...writeFile('/etc/systemd/system/nitro-host.service', '0644', c.hostUnit),
    // nitro-host logs to stderr; a file the CloudWatch agent ships (the alarms' metric filter reads it)
    ...writeFile('/etc/systemd/system/nitro-host.service.d/log-file.conf', '0644',
      '[Service]\nStandardOutput=append:/var/log/nitro-host/nitro-host.log\n' +
      'StandardError=append:/var/log/nitro-host/nitro-host.log\n'),
    'install -d -m 0755 /var/log/nitro-host',
    ...writeFile('/opt/aws/amazon-cloudwatch-agent/etc/nitro-host.json', '0644', agentConfig),
    '/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s ' +
      '-c file:/opt/aws/amazon-cloudwatch-agent/etc/nitro-host.json',
    'systemctl daemon-reload',
    'systemctl enable --now nitro-host.service',
    'echo "nitro-signer setup: done"',
  ];
}
