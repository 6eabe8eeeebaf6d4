// common.mjs: what the AWS stand-ins share.
//
//  - a credential store: access key id -> secret, session token, expiry and
//    the principal ARN the key stands for (long-term test keys, plus the
//    temporary keys the IMDS stand-in hands out);
//  - SigV4 verification with AWS's own signer (@smithy/signature-v4), so
//    the stand-ins are an implementation of the wire format independent of
//    the C code under test. Failures answer with the error shapes AWS uses;
//  - fault injection, driven over an admin endpoint (POST /__admin/faults),
//    so tests can make any operation throttle, fail with 500, send a
//    truncated body or malformed JSON a given number of times;
//  - small HTTP helpers.
//
// Nothing here is meant to be secure: it listens on 127.0.0.1 for tests.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';

// The pinned npm packages live in tests/js (scripts/deps.sh --test).
export const requireTestDep = createRequire(new URL('../js/package.json', import.meta.url));
const { SignatureV4 } = requireTestDep('@smithy/signature-v4');
const { Sha256 } = requireTestDep('@aws-crypto/sha256-js');

export const ACCOUNT = '111122223333';

// Long-term test credentials: an operator and the instance role.
export function createCredentialStore() {
  const keys = new Map();
  const store = {
    add(akid, secret, { token = null, expiration = null, principal }) {
      keys.set(akid, { secret, token, expiration, principal });
    },
    get(akid) { return keys.get(akid); },
    expire(akid) { const k = keys.get(akid); if (k) k.expiration = new Date(Date.now() - 1000); },
    remove(akid) { keys.delete(akid); },
  };
  store.add('AKIAOPERATOREXAMPLE1', 'operator/secret/key/EXAMPLEKEY0000000000000',
    { principal: `arn:aws:iam::${ACCOUNT}:role/operator` });
  store.add('AKIAOTHERUSEREXAMPLE', 'other/secret/key/EXAMPLEKEY00000000000000',
    { principal: `arn:aws:iam::${ACCOUNT}:role/someone-else` });
  return store;
}

export const OPERATOR = { akid: 'AKIAOPERATOREXAMPLE1', secret: 'operator/secret/key/EXAMPLEKEY0000000000000' };
export const OTHER_USER = { akid: 'AKIAOTHERUSEREXAMPLE', secret: 'other/secret/key/EXAMPLEKEY00000000000000' };

export function readBody(req, limit = 16 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res, status, obj, contentType = 'application/x-amz-json-1.1') {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': body.length,
    'x-amzn-RequestId': Math.random().toString(16).slice(2) });
  res.end(body);
}

export function sendError(res, status, type, message, contentType) {
  sendJson(res, status, { __type: type, message }, contentType);
}

const SIG_MISMATCH = 'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

// Returns { ok: true, akid, principal } or { ok: false, status, type, message }.
export async function verifySigV4(req, body, { region, service, store, now = Date.now() }) {
  const fail = (type, message, status = 400) => ({ ok: false, status, type, message });
  const auth = req.headers.authorization;
  if (!auth) return fail('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return fail('IncompleteSignatureException', `Authorization header is malformed: ${auth.slice(0, 80)}`);
  const [akid, date, scopeRegion, scopeService, terminator] = m[1].split('/');
  const signed = m[2].split(';');
  if (terminator !== 'aws4_request') return fail('IncompleteSignatureException', 'Credential scope must end in aws4_request');
  const cred = store.get(akid);
  if (!cred) return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (cred.expiration && cred.expiration.getTime() <= now)
    return fail('ExpiredTokenException', 'The security token included in the request is expired');
  if (scopeRegion !== region)
    return fail('InvalidSignatureException',
      `Credential should be scoped to a valid region, not '${scopeRegion}'. `);
  if (scopeService !== service)
    return fail('InvalidSignatureException', `Credential should be scoped to correct service: '${service}'. `);
  if (!signed.includes('host')) return fail('InvalidSignatureException', "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  const amzDate = req.headers['x-amz-date'];
  if (!/^\d{8}T\d{6}Z$/.test(amzDate || '') || amzDate.slice(0, 8) !== date)
    return fail('IncompleteSignatureException', 'X-Amz-Date is missing or does not match the credential scope');
  const when = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T` +
    `${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (Math.abs(when.getTime() - now) > 5 * 60 * 1000)
    return fail('InvalidSignatureException', `Signature expired: ${amzDate} is now earlier or later than the allowed window`);
  const token = req.headers['x-amz-security-token'];
  if (cred.token && token !== cred.token)
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (cred.token && !signed.includes('x-amz-security-token'))
    return fail('InvalidSignatureException', 'x-amz-security-token must be signed');
  const sha = req.headers['x-amz-content-sha256'];
  if (sha && sha !== createHash('sha256').update(body).digest('hex'))
    return fail('InvalidSignatureException', 'x-amz-content-sha256 does not match the body');

  // Re-sign exactly the headers the client signed, with AWS's own signer.
  const headers = {};
  for (const h of signed) {
    if (h === 'x-amz-date' || h === 'x-amz-security-token') continue;
    if (req.headers[h] === undefined) return fail('InvalidSignatureException', `signed header ${h} is missing`);
    headers[h] = req.headers[h];
  }
  const url = new URL(req.url, 'http://placeholder');
  const query = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({
    credentials: { accessKeyId: akid, secretAccessKey: cred.secret, sessionToken: cred.token || undefined },
    region, service, sha256: Sha256, applyChecksum: signed.includes('x-amz-content-sha256'),
  });
  const out = await signer.sign({
    method: req.method, protocol: 'http:', hostname: headers.host, path: url.pathname,
    query, headers, body,
  }, { signingDate: when, signableHeaders: new Set(signed) });
  const want = /Signature=([0-9a-f]{64})/.exec(out.headers.authorization)[1];
  const wantList = /SignedHeaders=([^,]+)/.exec(out.headers.authorization)[1];
  if (wantList !== m[2] || !timingSafeEqual(Buffer.from(want), Buffer.from(m[3])))
    return fail('InvalidSignatureException', SIG_MISMATCH);
  return { ok: true, akid, principal: cred.principal };
}

// Fault injection: a list of { op, kind, count, type? }; op '*' matches all.
export function createFaults() {
  let faults = [];
  const stats = { requests: {}, rejected: 0, faults: 0 };
  return {
    stats,
    set(list) { faults = list.map((f) => ({ op: f.op || '*', kind: f.kind, count: f.count ?? 1, type: f.type })); },
    reset() { faults = []; stats.requests = {}; stats.rejected = 0; stats.faults = 0; },
    count(op) { stats.requests[op] = (stats.requests[op] || 0) + 1; },
    take(op) {
      const f = faults.find((x) => x.count > 0 && (x.op === '*' || x.op === op));
      if (!f) return null;
      f.count--;
      stats.faults++;
      return f;
    },
  };
}

// Applies a fault to the response; returns true when it answered.
export function applyFault(res, f, { throttleType, internalType, contentType }) {
  switch (f.kind) {
    case 'throttle':
      sendError(res, 400, f.type || throttleType, 'Rate exceeded', contentType);
      return true;
    case '500':
      sendError(res, 500, f.type || internalType, 'We encountered an internal error. Please try again.', contentType);
      return true;
    case '503':
      sendError(res, 503, f.type || 'ServiceUnavailable', 'Service unavailable', contentType);
      return true;
    case 'truncate': {
      const body = Buffer.from(JSON.stringify({ padding: 'x'.repeat(200) }));
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': body.length });
      res.write(body.subarray(0, 40));
      setTimeout(() => res.socket && res.socket.destroy(), 20);
      return true;
    }
    case 'malformed': {
      const body = Buffer.from('{"KeyId": "arn:aws:kms:'); // cut mid-value
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': body.length });
      res.end(body);
      return true;
    }
    case 'error': // any AWS error the test names
      sendError(res, f.status || 400, f.type || 'ValidationException', f.message || 'injected', contentType);
      return true;
    default:
      return false;
  }
}

// Shared admin routes: faults, stats, reset. Returns true when handled.
export async function handleAdmin(req, res, body, faults, extra = {}) {
  if (!req.url.startsWith('/__admin/')) return false;
  const path = req.url.slice('/__admin'.length);
  try {
    if (path === '/faults' && req.method === 'POST') {
      faults.set(JSON.parse(body.toString() || '{}').faults || []);
      sendJson(res, 200, { ok: true }, 'application/json');
    } else if (path === '/stats') {
      sendJson(res, 200, faults.stats, 'application/json');
    } else if (path === '/reset' && req.method === 'POST') {
      faults.reset();
      sendJson(res, 200, { ok: true }, 'application/json');
    } else if (extra[path]) {
      const out = await extra[path](req, body.toString() ? JSON.parse(body.toString()) : {});
      sendJson(res, 200, out ?? { ok: true }, 'application/json');
    } else {
      sendJson(res, 404, { error: `no admin route ${path}` }, 'application/json');
    }
  } catch (e) {
    sendJson(res, 400, { error: String(e.message || e) }, 'application/json');
  }
  return true;
}

export function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}
