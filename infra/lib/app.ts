// app.ts: the CDK app of nitro-signer: nitro-signer-dev (debug-mode enclave, all-zero PCR0) and
// nitro-signer-prod (the image's PCR0), each checked by cdk-nag's AwsSolutions rules at synth.
// Env-agnostic stacks: synth needs no account, credentials or network.
import * as cdk from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig, Variant } from './config';
import { NitroSignerStack } from './stack';

export const STACK_NAMES: Record<Variant, string> = { dev: 'nitro-signer-dev', prod: 'nitro-signer-prod' };

/** The app with the stacks context `stacks` names (default both); throws ConfigError on bad input. */
export function buildApp(props: cdk.AppProps = {}): { app: cdk.App; stacks: NitroSignerStack[] } {
  const app = new cdk.App(props);
  const ctx = (k: string) => app.node.tryGetContext(k);
  const wanted = String(ctx('stacks') ?? 'dev,prod').split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of wanted)
    if (w !== 'dev' && w !== 'prod') throw new Error(`context stacks: dev and/or prod, got ${JSON.stringify(w)}`);
  const stacks = (wanted as Variant[]).map((v) =>
    new NitroSignerStack(app, STACK_NAMES[v], { config: readConfig(ctx, v) }));
  cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stacks };
}
