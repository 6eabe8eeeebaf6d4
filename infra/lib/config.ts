// config.ts: what a stack is built from, read from CDK context (cdk.json, `-c key=value`) and the
// build's artifacts, checked before anything is synthesised. Relative paths are relative to infra/.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const INFRA_DIR = path.resolve(__dirname, '../..');
export const REPO_DIR = path.resolve(INFRA_DIR, '..');

/** The PCR0 every debug-mode enclave reports (all zeros): the dev stack's. */
export const DEBUG_PCR0 = '0'.repeat(96);

/** A PCR0 no image measures to (SHA-384 output is never all ones in practice): `-c stage=key` of the
 *  prod stack before an image exists, so the key policy admits no enclave at all. */
export const NO_IMAGE_PCR0 = 'f'.repeat(96);

export type Variant = 'dev' | 'prod';
export type Stage = 'full' | 'key';

export interface Artifact {
  /** absolute path on the synthesising machine */
  path: string;
  /** lower-case hex SHA-256 of its bytes, computed at synth */
  sha256: string;
}

export interface SignerConfig {
  variant: Variant;
  stage: Stage;
  /** 96 lower-case hex digits */
  pcr0: string;
  /** while an image upgrade rolls out: the running image's PCR0, admitted beside pcr0 (prod only) */
  previousPcr0?: string;
  /** where pcr0 came from, for the synth's output */
  pcr0Source: string;
  /** a signed image's PCR8 (its signing certificate), prod only: required beside PCR0, or alone with
   *  keyCondition pcr8 */
  pcr8?: string;
  /** while a signing-certificate rotation rolls out: the running images' PCR8, admitted beside pcr8 */
  previousPcr8?: string;
  keyCondition: 'pcr0' | 'image-sha384' | 'pcr8';
  nitroKeys: string;
  eif?: Artifact;
  nitroHost?: Artifact;
  nitroKeysRelease?: Artifact;
  lambdaZip?: Artifact;
  instanceType: string;
  instanceCount: number;
  enclaveCpuCount: number;
  enclaveMemoryMib: number;
  signerId: string;
  network: string;
  signerPort: number;
  dnsName?: string;
  clientCidr?: string;
  vpcCidr: string;
  /** an existing slashing table to use instead of the stack's own (one restored from PITR) */
  slashingTableName?: string;
  keyAdminArn?: string;
  operatorArn?: string;
  alarmEmail?: string;
  bootstrapQualifier: string;
  hostUnit: string;
}

/** Reads CDK context values (tryGetContext). */
export type Ctx = (key: string) => unknown;

export class ConfigError extends Error {}

const str = (ctx: Ctx, key: string, dflt?: string): string | undefined => {
  const v = ctx(key);
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`context ${key}: expected a string`);
  return String(v);
};

const int = (ctx: Ctx, key: string, dflt: number, min: number, max: number): number => {
  const s = str(ctx, key, String(dflt))!;
  if (!/^[0-9]+$/.test(s) || Number(s) < min || Number(s) > max)
    throw new ConfigError(`context ${key}: ${JSON.stringify(s)} is not a whole number from ${min} to ${max}`);
  return Number(s);
};

const resolvePath = (p: string) => path.resolve(INFRA_DIR, p);

export function sha256File(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

function artifact(p: string, what: string, hint: string): Artifact {
  if (!fs.existsSync(p)) throw new ConfigError(`${what} ${p} does not exist (${hint})`);
  return { path: p, sha256: sha256File(p) };
}

/** PCRn from a `nitro-cli describe-eif` Measurements object ({"HashAlgorithm":..,"PCR0":..}); PCR0 is
 *  required, PCR8 (a signed image's) may be absent. */
export function pcrFromPcrsFile(p: string, n: 0 | 8 = 0): string | undefined {
  let j: unknown;
  try {
    j = JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${p}: not JSON (${(e as Error).message})`);
  }
  const name = `PCR${n}`;
  const v = (j as Record<string, unknown>)?.[name] ?? (j as { Measurements?: Record<string, unknown> })?.Measurements?.[name];
  if (v === undefined && n === 8) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`${p}: has no ${name} string`);
  return v;
}
export const pcr0FromPcrsFile = (p: string): string => pcrFromPcrsFile(p, 0)!;

function checkPcr(v: string, where: string, name = 'PCR0'): string {
  const h = v.toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{96}$/.test(h)) throw new ConfigError(`${where}: ${name} must be 96 hex digits (SHA-384), got ${JSON.stringify(v)}`);
  return h;
}
const checkPcr0 = (v: string, where: string): string => checkPcr(v, where);

/** Checks each release binary against build/release/SHA256SUMS when that file exists. */
function checkSums(releaseDir: string, arts: Artifact[]) {
  const sums = path.join(releaseDir, 'SHA256SUMS');
  if (!fs.existsSync(sums)) return;
  const listed = new Map<string, string>();
  for (const line of fs.readFileSync(sums, 'utf8').split('\n')) {
    const m = /^([0-9a-f]{64}) [ *]?(.+)$/.exec(line.trim());
    if (m) listed.set(path.basename(m[2]), m[1]);
  }
  for (const a of arts) {
    const want = listed.get(path.basename(a.path));
    if (want && want !== a.sha256)
      throw new ConfigError(`${a.path}: SHA-256 ${a.sha256} differs from ${sums} (${want}): rebuild with make release`);
  }
}

/** The nitro-keys binary that writes the key policy: context nitroKeys, else the release build's,
 *  else build/bin's. */
export function findNitroKeys(ctx: Ctx): string {
  const explicit = str(ctx, 'nitroKeys');
  const candidates = explicit ? [resolvePath(explicit)]
    : [path.join(resolvePath(str(ctx, 'releaseDir', '../build/release')!), 'nitro-keys'),
      path.join(REPO_DIR, 'build/bin/nitro-keys')];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new ConfigError(`nitro-keys not found (looked at ${candidates.join(', ')}): it writes the key policy; ` +
    'run make build (or make release), or give -c nitroKeys=PATH');
}

export function readConfig(ctx: Ctx, variant: Variant): SignerConfig {
  const stage = str(ctx, 'stage', 'full');
  if (stage !== 'full' && stage !== 'key') throw new ConfigError(`context stage: must be full or key, got ${stage}`);
  let pcr0: string;
  let pcr0Source: string;
  let pcr8: string | undefined;
  if (variant === 'dev') {
    pcr0 = DEBUG_PCR0;
    pcr0Source = 'debug mode (all zeros)';
  } else {
    const given = str(ctx, 'pcr0');
    const pcrsFile = resolvePath(str(ctx, 'pcrsFile', '../build/enclave/pcrs.json')!);
    if (given) {
      pcr0 = checkPcr0(given, 'context pcr0');
      pcr0Source = 'context pcr0';
    } else if (fs.existsSync(pcrsFile)) {
      pcr0 = checkPcr0(pcr0FromPcrsFile(pcrsFile), pcrsFile);
      pcr0Source = pcrsFile;
      // a signed image's PCR8 comes with its PCR0 (the policy then requires both)
      const p8 = pcrFromPcrsFile(pcrsFile, 8);
      if (p8 !== undefined) pcr8 = checkPcr(p8, pcrsFile, 'PCR8');
    } else if (stage === 'key') {
      pcr0 = NO_IMAGE_PCR0;
      pcr0Source = 'none yet (stage=key: the key policy admits no enclave)';
    } else {
      throw new ConfigError('nitro-signer-prod needs the enclave image\'s PCR0: make synth PCR0=<96 hex digits>, ' +
        `or build the image first (make enclave-image writes ${pcrsFile}); ` +
        'to synthesise only the dev stack: make synth STACKS=dev');
    }
    if (pcr0 === DEBUG_PCR0)
      throw new ConfigError('nitro-signer-prod refuses the all-zero PCR0: every debug-mode enclave reports it; ' +
        'use the dev stack for debug mode');
  }
  const givenPcr8 = str(ctx, 'pcr8');
  if (givenPcr8 !== undefined) {
    if (variant === 'dev') throw new ConfigError('context pcr8: the dev stack pins the debug-mode PCR0 only');
    pcr8 = checkPcr(givenPcr8, 'context pcr8', 'PCR8');
  }
  if (pcr8 !== undefined && /^0{96}$/.test(pcr8))
    throw new ConfigError('PCR8 is all zeros, which every unsigned image reports: sign the image (docs/enclave-image.md)');
  const prev8 = str(ctx, 'previousPcr8');
  let previousPcr8: string | undefined;
  if (prev8 !== undefined) {
    if (pcr8 === undefined) throw new ConfigError('context previousPcr8: needs the new image\'s PCR8 (pcr8)');
    previousPcr8 = checkPcr(prev8, 'context previousPcr8', 'PCR8');
    if (previousPcr8 === pcr8) throw new ConfigError('context previousPcr8: the same as the image\'s PCR8');
    if (/^0{96}$/.test(previousPcr8)) throw new ConfigError('context previousPcr8: refuses the all-zero (unsigned) PCR8');
  }
  const prev = str(ctx, 'previousPcr0');
  let previousPcr0: string | undefined;
  if (prev !== undefined) {
    if (variant === 'dev') throw new ConfigError('context previousPcr0: the dev stack has only the debug-mode PCR0');
    previousPcr0 = checkPcr0(prev, 'context previousPcr0');
    if (previousPcr0 === pcr0) throw new ConfigError('context previousPcr0: the same as the image\'s PCR0');
    if (previousPcr0 === DEBUG_PCR0) throw new ConfigError('context previousPcr0: refuses the all-zero (debug-mode) PCR0');
  }
  const keyCondition = str(ctx, 'keyCondition', 'pcr0');
  if (keyCondition !== 'pcr0' && keyCondition !== 'image-sha384' && keyCondition !== 'pcr8')
    throw new ConfigError(`context keyCondition: must be pcr0, image-sha384 or pcr8, got ${keyCondition}`);
  if (keyCondition === 'pcr8' && str(ctx, 'allowPcr8Only') !== 'true')
    throw new ConfigError('context keyCondition pcr8 trusts the signing certificate alone, which is safe only if the ' +
      'launch path refuses a signature over another image\'s PCR0 (AWS does not document it; docs/enclave-image.md): ' +
      'add -c allowPcr8Only=true to accept that, or keep keyCondition pcr0 (PCR0 and PCR8 together)');
  if (keyCondition === 'pcr8' && pcr8 === undefined)
    throw new ConfigError('context keyCondition pcr8: needs the signed image\'s PCR8 (make synth PCR8=<96 hex digits>, ' +
      'or a pcrs.json with PCR8 from make enclave-image SIGNING_KEY=... SIGNING_CERT=...)');

  const releaseDir = resolvePath(str(ctx, 'releaseDir', '../build/release')!);
  let eif: Artifact | undefined, nitroHost: Artifact | undefined, nitroKeysRelease: Artifact | undefined,
    lambdaZip: Artifact | undefined;
  if (stage === 'full') {
    eif = artifact(resolvePath(str(ctx, 'eifPath', '../build/enclave/nitro-signer.eif')!), 'the enclave image',
      'make enclave-image BLOBS=DIR, or -c eifPath=PATH');
    nitroHost = artifact(path.join(releaseDir, 'nitro-host'), 'release binary', 'make release, or -c releaseDir=DIR');
    nitroKeysRelease = artifact(path.join(releaseDir, 'nitro-keys'), 'release binary', 'make release, or -c releaseDir=DIR');
    checkSums(releaseDir, [nitroHost, nitroKeysRelease]);
    lambdaZip = artifact(resolvePath(str(ctx, 'lambdaZip', '../build/lambda/nitro-control.zip')!), 'the control Lambda',
      'build/lambda/nitro-control.zip, or -c lambdaZip=PATH');
  }
  const signerId = str(ctx, 'signerId', 'signer-1')!;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(signerId))
    throw new ConfigError(`context signerId: 1 to 64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(signerId)}`);
  const network = str(ctx, 'network', 'mainnet')!;
  if (!/^[a-z0-9-]{1,32}$/.test(network)) throw new ConfigError(`context network: not a network name: ${network}`);
  const instanceType = str(ctx, 'instanceType', 'c6a.xlarge')!;
  if (!/^[a-z0-9-]+\.[a-z0-9]+$/.test(instanceType)) throw new ConfigError(`context instanceType: not an instance type: ${instanceType}`);
  const dnsName = str(ctx, 'dnsName');
  if (dnsName !== undefined && !/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(dnsName))
    throw new ConfigError(`context dnsName: not a DNS name with a parent domain: ${dnsName}`);
  const clientCidr = str(ctx, 'clientCidr');
  if (clientCidr !== undefined && !/^[0-9]{1,3}(\.[0-9]{1,3}){3}\/[0-9]{1,2}$/.test(clientCidr))
    throw new ConfigError(`context clientCidr: not an IPv4 CIDR: ${clientCidr}`);
  const vpcCidr = str(ctx, 'vpcCidr', '10.40.0.0/16')!;
  if (!/^[0-9]{1,3}(\.[0-9]{1,3}){3}\/(1[6-9]|2[0-4])$/.test(vpcCidr))
    throw new ConfigError(`context vpcCidr: an IPv4 CIDR from /16 to /24: ${vpcCidr}`);
  const slashingTableName = str(ctx, 'slashingTableName');
  if (slashingTableName !== undefined && !/^[A-Za-z0-9_.-]{3,255}$/.test(slashingTableName))
    throw new ConfigError(`context slashingTableName: not a DynamoDB table name: ${slashingTableName}`);
  const arnOf = (key: string) => {
    const v = str(ctx, key);
    if (v !== undefined && !/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[\w+=,.@/-]+$/.test(v))
      throw new ConfigError(`context ${key}: not an IAM role ARN: ${v}`);
    return v;
  };
  const alarmEmail = str(ctx, 'alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(alarmEmail))
    throw new ConfigError(`context alarmEmail: not an e-mail address: ${alarmEmail}`);
  const qualifier = str(ctx, 'bootstrapQualifier', 'hnb659fds')!;
  if (!/^[a-z0-9]{1,10}$/.test(qualifier)) throw new ConfigError(`context bootstrapQualifier: ${qualifier}`);
  const enclaveCpuCount = int(ctx, 'enclaveCpuCount', 2, 2, 64);
  if (enclaveCpuCount % 2) throw new ConfigError('context enclaveCpuCount: must be even (whole cores)');
  return {
    variant, stage, pcr0, previousPcr0, pcr0Source, pcr8, previousPcr8, keyCondition, nitroKeys: findNitroKeys(ctx),
    eif, nitroHost, nitroKeysRelease, lambdaZip,
    instanceType,
    instanceCount: int(ctx, 'instanceCount', 2, 1, 20),
    enclaveCpuCount,
    enclaveMemoryMib: int(ctx, 'enclaveMemoryMib', 4096, 512, 1 << 20),
    signerId, network,
    signerPort: int(ctx, 'signerPort', 443, 1, 65535),
    dnsName, clientCidr, vpcCidr, slashingTableName,
    keyAdminArn: arnOf('keyAdminArn'),
    operatorArn: arnOf('operatorArn'),
    alarmEmail,
    bootstrapQualifier: qualifier,
    hostUnit: fs.readFileSync(path.join(REPO_DIR, 'deploy/nitro-host.service'), 'utf8'),
  };
}
