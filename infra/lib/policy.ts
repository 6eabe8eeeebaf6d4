// policy.ts: the KMS key policy, written by `nitro-keys kms policy` (src/tools/kms_cmd.c) and nowhere
// else. The synth runs it with placeholder ARNs (it checks its arguments are ARNs, and CDK's ARNs are
// tokens resolved only at deploy time) and puts each role's ARN where its placeholder stands, so the
// deployed policy is, statement for statement, the one the operator's tool prints for the same roles.
import { spawnSync } from 'node:child_process';
import { ConfigError } from './config';

export interface PolicyRoles<T> {
  /** the instance role: Decrypt/GenerateDataKey with an attestation document of the image */
  role: T;
  /** the key administrator: manages the key, never uses it */
  admin: T;
  /** the operator: encrypts (uploads keys) */
  encrypt: T;
}

export const PLACEHOLDERS: PolicyRoles<string> = {
  role: 'arn:aws:iam::000000000000:role/nitro-signer-placeholder-instance-role',
  admin: 'arn:aws:iam::000000000000:role/nitro-signer-placeholder-key-admin',
  encrypt: 'arn:aws:iam::000000000000:role/nitro-signer-placeholder-operator',
};

/** Runs `nitro-keys kms policy` and returns its JSON (and what it said on stderr). */
export function nitroKeysPolicy(nitroKeys: string, pcr0: string, condition: string,
  arns: PolicyRoles<string>, pcr8?: string): { policy: unknown; stderr: string } {
  // The dev stack's debug-mode PCR0 (all zeros) must be asked for by name.
  const debug = pcr0.split(',').some((v) => /^(0x)?0{96}$/i.test(v)) ? ['--allow-debug-pcr0'] : [];
  // condition pcr8 pins the signing certificate alone; otherwise a PCR8 is required beside PCR0
  // (the synth asks for -c allowPcr8Only=true before it gets here with pcr8)
  const pcrs = condition === 'pcr8' ? [`--pcr8=${pcr8}`, '--allow-pcr8-only']
    : [`--pcr0=${pcr0}`, ...(pcr8 ? [`--pcr8=${pcr8}`] : [])];
  const args = ['kms', 'policy', ...pcrs, `--role-arn=${arns.role}`, `--key-admin-arn=${arns.admin}`,
    `--encrypt-arn=${arns.encrypt}`, `--condition=${condition}`, ...debug];
  const r = spawnSync(nitroKeys, args, { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw new ConfigError(`${nitroKeys} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new ConfigError(`${nitroKeys} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return { policy: JSON.parse(r.stdout), stderr: r.stderr };
}

/** Copies v with every string equal to a key of subst replaced by its value. */
export function substitute(v: unknown, subst: Map<string, unknown>): unknown {
  if (typeof v === 'string') return subst.has(v) ? subst.get(v) : v;
  if (Array.isArray(v)) return v.map((x) => substitute(x, subst));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, subst)]));
  return v;
}

/** The key policy for the given ARNs (CDK tokens or strings), from nitro-keys with placeholders;
 *  throws if a placeholder did not land in the output exactly once per statement that names it. */
export function keyPolicy<T>(nitroKeys: string, pcr0: string, condition: string, roles: PolicyRoles<T>,
  pcr8?: string): { policy: unknown; stderr: string } {
  const { policy, stderr } = nitroKeysPolicy(nitroKeys, pcr0, condition, PLACEHOLDERS, pcr8);
  const text = JSON.stringify(policy);
  for (const [k, p] of Object.entries(PLACEHOLDERS))
    if (!text.includes(JSON.stringify(p))) throw new ConfigError(`nitro-keys kms policy: no statement names the ${k} ARN`);
  const subst = new Map<string, unknown>(
    (Object.keys(PLACEHOLDERS) as (keyof PolicyRoles<T>)[]).map((k) => [PLACEHOLDERS[k], roles[k]]));
  return { policy: substitute(policy, subst), stderr };
}
