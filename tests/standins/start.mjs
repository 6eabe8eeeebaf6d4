// start.mjs: starts the AWS stand-ins for a test, on free 127.0.0.1 ports,
// in this one process (they share the credential store, so credentials from
// the IMDS stand-in work on KMS and DynamoDB), creates a KMS key, and writes
// the endpoints to an env file (KEY=VALUE lines, for `set -a; . FILE`):
//
//   AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL_DYNAMODB,
//   AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID,
//   AWS_SECRET_ACCESS_KEY (an operator's test key), NS_STANDIN_KMS_KEY_ARN,
//   NS_STANDIN_KMS_ALIAS, NS_STANDIN_KMS_SOCK (when --unix-dir), NS_STANDIN_PID
//
// usage: node start.mjs --write-env=PATH [--unix-dir=DIR] [--region=R]
//                       [--attestation-root=PEM-or-DER-FILE]
//                       [--dynamodb-delay-ms=N]
// --dynamodb-delay-ms puts a TCP proxy in front of DynamoDB that holds every
// chunk a client sends for N ms before passing it on, so every request's
// round trip is N ms longer (the order of an in-region DynamoDB call, for
// benchmarks); AWS_ENDPOINT_URL_DYNAMODB is then the proxy's.
// The attestation root (what Recipient documents must chain to) defaults to
// $KMS_STANDIN_ATTESTATION_ROOT, else AWS's Nitro root G1; tests give the NSM
// simulator's root.
// Runs until SIGTERM/SIGINT, or until stdin closes when --stdin-lifeline is
// given (so a test that dies cannot leave it behind).
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createCredentialStore, createFaults, listen, OPERATOR } from './common.mjs';
import { createKms } from './kms.mjs';
import { createAttestationConfig } from './recipient.mjs';
import { createImds } from './imds.mjs';
import { createDynamo } from './dynamodb.mjs';

const arg = (name, dflt) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
const envFile = arg('write-env');
if (!envFile) { console.error('start.mjs: --write-env=PATH is required'); process.exit(2); }
const region = arg('region', 'us-east-1');
const unixDir = arg('unix-dir');

const store = createCredentialStore();
const rootFile = arg('attestation-root');
const kms = createKms({ region, store, faults: createFaults(),
  attestation: createAttestationConfig(rootFile ? { root: fs.readFileSync(rootFile) } : {}) });
const imds = createImds({ store, region });
const ddb = createDynamo({ region, store, faults: createFaults() });

const kmsPort = await listen(kms.server);
const imdsPort = await listen(imds.server);
const ddbPort = await listen(ddb.server);
const key = kms.createKey('nitro-signer test key');
kms.aliases.set('alias/nitro-signer-test', key.id);

const env = {
  AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${kmsPort}`,
  AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${ddbPort}`,
  AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${imdsPort}`,
  AWS_REGION: region,
  AWS_ACCESS_KEY_ID: OPERATOR.akid,
  AWS_SECRET_ACCESS_KEY: OPERATOR.secret,
  NS_STANDIN_KMS_KEY_ARN: key.arn,
  NS_STANDIN_KMS_ALIAS: 'alias/nitro-signer-test',
  NS_STANDIN_PID: String(process.pid),
};
const servers = [kms.server, imds.server, ddb.server];
const delayMs = Number(arg('dynamodb-delay-ms', '0'));
if (delayMs > 0) {
  const proxy = net.createServer((c) => {
    const up = net.connect(ddbPort, '127.0.0.1');
    c.on('data', (d) => setTimeout(() => up.write(d), delayMs));
    up.on('data', (d) => c.write(d));
    const end = () => { c.destroy(); up.destroy(); };
    c.on('close', () => setTimeout(end, delayMs));
    up.on('close', end);
    c.on('error', end);
    up.on('error', end);
  });
  const proxyPort = await listen(proxy);
  servers.push(proxy);
  env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${proxyPort}`;
  env.NS_STANDIN_DYNAMODB_DIRECT = `http://127.0.0.1:${ddbPort}`;
}
if (unixDir) {
  // The same KMS, reachable over a unix socket (the client's socket hook).
  const path = `${unixDir}/kms.sock`;
  fs.rmSync(path, { force: true });
  const unixKms = http.createServer(kms.server.listeners('request')[0]);
  await new Promise((resolve) => unixKms.listen(path, resolve));
  servers.push(unixKms);
  env.NS_STANDIN_KMS_SOCK = path;
}
const tmp = `${envFile}.tmp`;
fs.writeFileSync(tmp, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''));
fs.renameSync(tmp, envFile);

const stop = () => {
  for (const s of servers) s.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.argv.includes('--stdin-lifeline')) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
