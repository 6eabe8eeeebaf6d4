// The `cdk synth` entry point (cdk.json "app"): builds the app, says which PCR0 each stack pins and
// prints a clear line, not a stack trace, on bad input.
import { buildApp } from '../lib/app';
import { ConfigError } from '../lib/config';

try {
  const { app, stacks } = buildApp();
  for (const s of stacks) {
    process.stderr.write(`nitro-signer: ${s.stackName} (stage ${s.config.stage}): key policy PCR0 ` +
      `${s.config.pcr0} from ${s.config.pcr0Source}` +
      (s.config.previousPcr0 ? ` and, until the upgrade is done, the previous ${s.config.previousPcr0}` : '') +
      `, condition ${s.config.keyCondition}\n`);
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
