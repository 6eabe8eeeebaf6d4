// The `cdk synth` entry point (cdk.json "app"): builds the app, says which PCR0 each stack pins and
// prints a clear line, not a stack trace, on bad input.
import { buildApp } from '../lib/app';
import { ConfigError } from '../lib/config';

try {
  const { app, stacks } = buildApp();
  for (const s of stacks) {
    const c = s.config;
    process.stderr.write(`nitro-signer: ${s.stackName} (stage ${c.stage}): ` + (c.keyCondition === 'pcr8'
      ? `key policy PCR8 ${c.pcr8} alone (any image signed with its key), image PCR0 ${c.pcr0} from ${c.pcr0Source}`
      : `key policy PCR0 ${c.pcr0} from ${c.pcr0Source}` +
        (c.previousPcr0 ? ` and, until the upgrade is done, the previous ${c.previousPcr0}` : '') +
        (c.pcr8 ? `, with PCR8 ${c.pcr8}` : '')) +
      (c.previousPcr8 ? ` (or the previous PCR8 ${c.previousPcr8} until the rotation is done)` : '') +
      `, condition ${c.keyCondition}\n`);
    for (const l of s.policyWarnings.split('\n').filter(Boolean)) process.stderr.write(`nitro-signer: ${s.stackName}: ${l}\n`);
  }
  app.synth();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`nitro-signer synth: ${e.message}\n`);
    process.exit(1);
  }
  throw e;
}
