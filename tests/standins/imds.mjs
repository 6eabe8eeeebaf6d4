// imds.mjs: an EC2 instance metadata service (IMDSv2) stand-in.
//
//   PUT /latest/api/token   X-aws-ec2-metadata-token-ttl-seconds: 1..21600
//   GET /latest/meta-data/iam/security-credentials/        -> role name
//   GET /latest/meta-data/iam/security-credentials/<role>  -> credentials JSON
//   GET /latest/meta-data/placement/region
// GETs need a live token (401 otherwise), as on EC2 with IMDSv2 required.
// Credentials it hands out are registered in the shared credential store,
// so the KMS and DynamoDB stand-ins accept them until they expire.
//
// Admin routes (POST /__admin/...): rotate (new credentials now), expire
// (current credentials expire now, also in the store), config
// ({lifetimeSeconds, dropTokenPut: simulate a hop limit of 1 from a
// container, i.e. the PUT's answer never arrives}), stats.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { ACCOUNT, createCredentialStore, listen, readBody, sendJson } from './common.mjs';

export const ROLE = 'nitro-signer-instance';

export function createImds({ store = createCredentialStore(), region = 'us-east-1' } = {}) {
  const tokens = new Map(); // token -> expiry ms
  // rotateBeforeSeconds: like EC2, hand out new credentials once the current
  // ones expire within this many seconds (0, the default: never on its own).
  const cfg = { lifetimeSeconds: 6 * 3600, dropTokenPut: false, rotateBeforeSeconds: 0 };
  const stats = { tokenPuts: 0, credentialGets: 0, unauthorized: 0, issued: 0 };
  let current = null;

  function issue() {
    const akid = 'ASIA' + randomBytes(8).toString('hex').toUpperCase();
    const secret = randomBytes(30).toString('base64');
    const token = 'IQoJb3JpZ2luX2Vj' + randomBytes(48).toString('base64');
    const expiration = new Date(Date.now() + cfg.lifetimeSeconds * 1000);
    store.add(akid, secret, { token, expiration, principal: `arn:aws:iam::${ACCOUNT}:role/${ROLE}` });
    current = { akid, secret, token, expiration, updated: new Date() };
    stats.issued++;
  }

  const text = (res, status, s) => {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(s) });
    res.end(s);
  };

  const server = http.createServer(async (req, res) => {
    let body;
    try { body = await readBody(req, 65536); } catch { return; }
    const url = req.url;
    if (url.startsWith('/__admin/')) {
      const j = body.length ? JSON.parse(body.toString()) : {};
      if (url === '/__admin/rotate') { issue(); return sendJson(res, 200, { akid: current.akid }, 'application/json'); }
      if (url === '/__admin/expire') {
        if (current) { current.expiration = new Date(Date.now() - 1000); store.expire(current.akid); }
        return sendJson(res, 200, { ok: true }, 'application/json');
      }
      if (url === '/__admin/config') { Object.assign(cfg, j); return sendJson(res, 200, cfg, 'application/json'); }
      if (url === '/__admin/stats') return sendJson(res, 200, { ...stats, akid: current?.akid }, 'application/json');
      return sendJson(res, 404, { error: 'no such admin route' }, 'application/json');
    }
    if (req.method === 'PUT' && url === '/latest/api/token') {
      stats.tokenPuts++;
      if (cfg.dropTokenPut) return; // the reply "dies" one hop too early
      if (req.headers['x-forwarded-for']) return text(res, 403, 'Forbidden');
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return text(res, 400, 'Bad Request');
      const t = randomBytes(32).toString('base64');
      tokens.set(t, Date.now() + ttl * 1000);
      res.setHeader('X-aws-ec2-metadata-token-ttl-seconds', String(ttl));
      return text(res, 200, t);
    }
    if (req.method !== 'GET') return text(res, 405, 'Method Not Allowed');
    const t = req.headers['x-aws-ec2-metadata-token'];
    if (!t || !tokens.has(t) || tokens.get(t) < Date.now()) { stats.unauthorized++; return text(res, 401, 'Unauthorized'); }
    const base = '/latest/meta-data/iam/security-credentials/';
    if (url === base) return text(res, 200, ROLE);
    if (url === base + ROLE) {
      stats.credentialGets++;
      if (!current || (cfg.rotateBeforeSeconds > 0 &&
          current.expiration.getTime() - Date.now() <= cfg.rotateBeforeSeconds * 1000)) issue();
      return sendJson(res, 200, {
        Code: 'Success', LastUpdated: current.updated.toISOString().replace(/\.\d+Z$/, 'Z'), Type: 'AWS-HMAC',
        AccessKeyId: current.akid, SecretAccessKey: current.secret, Token: current.token,
        Expiration: current.expiration.toISOString().replace(/\.\d+Z$/, 'Z'),
      }, 'text/plain');
    }
    if (url.startsWith(base)) return text(res, 404, 'Not Found');
    if (url === '/latest/meta-data/placement/region') return text(res, 200, region);
    return text(res, 404, 'Not Found');
  });
  return { server, cfg, stats, issue, current: () => current };
}

export { listen };
