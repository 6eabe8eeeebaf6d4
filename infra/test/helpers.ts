// helpers.ts: what the infra tests share: small stand-in build artifacts in a temporary directory
// (the release binaries, the image and its pcrs.json, the Lambda zip: their content does not matter,
// their SHA-256 does), the nitro-keys and nitro-signer of the C build, and an app built from them.
import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../lib/app';
import { REPO_DIR } from '../lib/config';
import { NitroSignerStack } from '../lib/stack';

/** The C build's binaries: NS_BIN_DIR (set by ctest), else build/bin. */
export const BIN_DIR = process.env.NS_BIN_DIR || path.join(REPO_DIR, 'build/bin');
export const NITRO_KEYS = path.join(BIN_DIR, 'nitro-keys');
export const NITRO_SIGNER = path.join(BIN_DIR, 'nitro-signer');
export const PROD_PCR0 = '3a'.repeat(48);

export interface Artifacts {
  dir: string;
  context: Record<string, string>;
}

/** Stand-in artifacts in a fresh temporary directory, removed at exit; context pointing at them. */
export function makeArtifacts(withPcrs = true): Artifacts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-infra-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  for (const d of ['release', 'enclave', 'lambda']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(path.join(dir, 'release/nitro-host'), 'stand-in nitro-host\n');
  fs.writeFileSync(path.join(dir, 'release/nitro-keys'), 'stand-in nitro-keys\n');
  fs.writeFileSync(path.join(dir, 'enclave/nitro-signer.eif'), 'stand-in image\n');
  fs.writeFileSync(path.join(dir, 'lambda/nitro-control.zip'), 'stand-in zip\n');
  if (withPcrs)
    fs.writeFileSync(path.join(dir, 'enclave/pcrs.json'),
      JSON.stringify({ HashAlgorithm: 'Sha384 { ... }', PCR0: PROD_PCR0, PCR1: 'ab'.repeat(48), PCR2: 'cd'.repeat(48) }));
  return {
    dir,
    context: {
      releaseDir: path.join(dir, 'release'),
      eifPath: path.join(dir, 'enclave/nitro-signer.eif'),
      lambdaZip: path.join(dir, 'lambda/nitro-control.zip'),
      pcrsFile: path.join(dir, 'enclave/pcrs.json'),
      nitroKeys: NITRO_KEYS,
    },
  };
}

export interface Built {
  app: cdk.App;
  stacks: Record<string, NitroSignerStack>;
  templates: Record<string, Template>;
}

/** The app for context (cdk.json's own context is not read here: every value is given or defaulted). */
export function build(context: Record<string, string>, outdir?: string): Built {
  const { app, stacks } = buildApp({ context, outdir });
  const byName: Record<string, NitroSignerStack> = {};
  const templates: Record<string, Template> = {};
  for (const s of stacks) {
    byName[s.stackName] = s;
    templates[s.stackName] = Template.fromStack(s);
  }
  return { app, stacks: byName, templates };
}

/** Every resource of type in t: [logicalId, resource]. */
export function resources(t: Template, type: string): [string, { Properties: Record<string, any> }][] {
  return Object.entries(t.findResources(type)) as [string, { Properties: Record<string, any> }][];
}

/** The one resource of type in t. */
export function only(t: Template, type: string): { id: string; props: Record<string, any> } {
  const r = resources(t, type);
  if (r.length !== 1) throw new Error(`expected one ${type}, found ${r.length}`);
  return { id: r[0][0], props: r[0][1].Properties };
}

/** The launch template's user data with each token shown as {json}. */
export function userData(t: Template): string {
  const p = only(t, 'AWS::EC2::LaunchTemplate').props;
  const parts = p.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1] as unknown[];
  return parts.map((x) => (typeof x === 'string' ? x : `{${JSON.stringify(x)}}`)).join('');
}
