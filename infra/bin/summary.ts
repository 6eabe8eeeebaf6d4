// summary.ts: after `make synth`, one line per stack of the cloud assembly (its resources, template
// size, assets) and the cdk-nag result: `node dist/bin/summary.js ../build/cdk.out`.
import fs from 'node:fs';
import path from 'node:path';

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node dist/bin/summary.js CDK_OUT_DIR\n');
  process.exit(2);
}
const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
for (const [name, a] of Object.entries(manifest.artifacts as Record<string, { type: string; properties?: { templateFile: string } }>)) {
  if (a.type !== 'aws:cloudformation:stack') continue;
  const file = path.join(out, a.properties!.templateFile);
  const t = JSON.parse(fs.readFileSync(file, 'utf8'));
  const types = new Map<string, number>();
  for (const r of Object.values(t.Resources as Record<string, { Type: string }>)) types.set(r.Type, (types.get(r.Type) ?? 0) + 1);
  const assets = fs.existsSync(path.join(out, `${name}.assets.json`))
    ? Object.keys(JSON.parse(fs.readFileSync(path.join(out, `${name}.assets.json`), 'utf8')).files ?? {}).length - 1 : 0;
  process.stdout.write(`${name}: ${Object.keys(t.Resources).length} resources, template ${fs.statSync(file).size} bytes, ` +
    `${assets} file assets (${path.relative(process.cwd(), file)})\n`);
}
const report = path.join(out, 'validation-report.json');
if (fs.existsSync(report)) {
  const r = JSON.parse(fs.readFileSync(report, 'utf8'));
  const n = (r.pluginReports ?? []).reduce((k: number, p: { violations?: unknown[] }) => k + (p.violations?.length ?? 0), 0);
  process.stdout.write(`cdk-nag AwsSolutions: ${n} unacknowledged findings\n`);
}
