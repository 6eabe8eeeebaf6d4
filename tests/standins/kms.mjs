// kms.mjs: a KMS stand-in (JSON 1.1, X-Amz-Target TrentService.<Op>).
//
// Verifies every request's SigV4 signature with AWS's own signer
// (common.mjs) and answers with KMS's error shapes. Keys are real: each KMS
// key is 256 random bits; ciphertext blobs are AES-256-GCM under it with
// the encryption context as additional data, so tampering, a wrong key or a
// wrong context fails like it does on KMS (InvalidCiphertextException,
// IncorrectKeyException). Each key has a key policy, evaluated for every
// call (Allow/Deny statements, principals, action wildcards,
// StringEquals[IgnoreCase] and Null conditions on kms:RecipientAttestation:*
// keys, which only a verified Recipient supplies: see recipient.mjs). With
// a valid Recipient, Decrypt, GenerateDataKey, GenerateDataKeyPair and
// GenerateRandom answer CiphertextForRecipient (CMS for the attested key)
// and no plaintext field; a document that does not verify is a
// ValidationException, a verified one the policy does not accept an
// AccessDeniedException, and so is a call without Recipient to a key whose
// only Allow requires attestation values.
//
// Operations: Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyPair,
// GenerateRandom, DescribeKey, CreateKey, CreateAlias, PutKeyPolicy,
// GetKeyPolicy, EnableKey, DisableKey. Admin routes (/__admin/...): faults,
// stats, reset, last-request (parsed), last-raw (headers and body as
// received, so a test can replay or tamper with a signed request), create-key,
// attestation ({"rootPem": PEM | "aws", "maxAgeSeconds": N}: the root
// attestation documents must chain to, and their freshness).
//
// Run alone: node kms.mjs [--port=N]   (prints {"kms": "http://..."}).
import http from 'node:http';
import { createCipheriv, createDecipheriv, createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  ACCOUNT, applyFault, createCredentialStore, createFaults, handleAdmin, listen, readBody,
  sendError, sendJson, verifySigV4,
} from './common.mjs';
import { createAttestationConfig, setAttestationConfig, verifyRecipient, wrapForRecipient } from './recipient.mjs';

const CT = 'application/x-amz-json-1.1';
const MAX_PLAINTEXT = 4096;

function defaultPolicy() {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
  });
}

class KmsError extends Error {
  constructor(type, message, status = 400) { super(message); this.type = type; this.status = status; }
}

function b64(buf) { return Buffer.from(buf).toString('base64'); }

function strictB64(s, field) {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s))
    throw new KmsError('ValidationException', `${field} is not valid base64`);
  return Buffer.from(s, 'base64');
}

function canonicalContext(ctx) {
  if (ctx === undefined) return '';
  if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx))
    throw new KmsError('ValidationException', 'EncryptionContext must be a map');
  const keys = Object.keys(ctx).sort();
  for (const k of keys) if (typeof ctx[k] !== 'string')
    throw new KmsError('ValidationException', 'EncryptionContext values must be strings');
  return JSON.stringify(keys.map((k) => [k, ctx[k]]));
}

// --- policy evaluation ------------------------------------------------------

function glob(pattern, s) {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 'i');
  return re.test(s);
}

function principalMatches(p, principal) {
  if (p === '*') return true;
  const list = [].concat(p?.AWS ?? []);
  return list.some((a) => a === '*' || a === principal ||
    (a.endsWith(':root') && principal.startsWith(a.slice(0, -'root'.length))));
}

function conditionsMet(cond, ctx) {
  if (!cond) return true;
  for (const [op, kv] of Object.entries(cond)) {
    for (const [key, want] of Object.entries(kv)) {
      const have = ctx[key.toLowerCase()];
      if (op === 'Null') { if ((have === undefined) !== (String(want) === 'true')) return false; continue; }
      if (have === undefined) return false;
      const wants = [].concat(want);
      if (op === 'StringEquals') { if (!wants.includes(have)) return false; }
      else if (op === 'StringEqualsIgnoreCase') {
        if (!wants.some((w) => String(w).toLowerCase() === String(have).toLowerCase())) return false;
      } else return false; // unknown operators fail closed
    }
  }
  return true;
}

export function policyAllows(policyText, principal, action, ctx) {
  const policy = JSON.parse(policyText);
  let allowed = false;
  for (const st of [].concat(policy.Statement || [])) {
    const actions = [].concat(st.Action || []);
    if (!principalMatches(st.Principal, principal)) continue;
    if (!actions.some((a) => glob(a, action))) continue;
    if (!conditionsMet(st.Condition, ctx)) continue;
    if (st.Effect === 'Deny') return false;
    if (st.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

// --- the service ---------------------------------------------------------------

export function createKms({ region = 'us-east-1', store = createCredentialStore(), faults = createFaults(),
  attestation = createAttestationConfig() } = {}) {
  const keys = new Map(); // id -> { id, arn, material, enabled, policy, created }
  const aliases = new Map(); // alias/name -> id
  let lastRequest = null;
  let lastRaw = null; // the last signed request as received, for replay tests

  function createKey(description = '', policy = defaultPolicy()) {
    const id = randomUUID();
    const k = { id, arn: `arn:aws:kms:${region}:${ACCOUNT}:key/${id}`, material: randomBytes(32),
      enabled: true, policy, description, created: Date.now() / 1000 };
    keys.set(id, k);
    return k;
  }

  function findKey(keyId) {
    if (typeof keyId !== 'string' || !keyId) throw new KmsError('ValidationException', 'KeyId is required');
    let id = keyId;
    const aliasArn = /^arn:aws:kms:([^:]+):(\d+):(alias\/.+)$/.exec(keyId);
    const keyArn = /^arn:aws:kms:([^:]+):(\d+):key\/(.+)$/.exec(keyId);
    if (keyId.startsWith('alias/')) id = aliases.get(keyId);
    else if (aliasArn) id = aliasArn[1] === region ? aliases.get(aliasArn[3]) : undefined;
    else if (keyArn) id = keyArn[1] === region ? keyArn[3] : undefined;
    const k = id && keys.get(id);
    if (!k) throw new KmsError('NotFoundException', `Key '${keyId}' does not exist`);
    return k;
  }

  function sealBlob(k, plaintext, ctx) {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k.material, iv);
    c.setAAD(Buffer.from('kms-standin|' + canonicalContext(ctx)));
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([Buffer.from([1]), Buffer.from(k.id, 'ascii'), iv, c.getAuthTag(), ct]);
  }

  function openBlob(blob, ctx) {
    if (blob.length < 1 + 36 + 12 + 16 || blob[0] !== 1) throw new KmsError('InvalidCiphertextException', '');
    const k = keys.get(blob.subarray(1, 37).toString('ascii'));
    if (!k) throw new KmsError('InvalidCiphertextException', '');
    try {
      const d = createDecipheriv('aes-256-gcm', k.material, blob.subarray(37, 49));
      d.setAAD(Buffer.from('kms-standin|' + canonicalContext(ctx)));
      d.setAuthTag(blob.subarray(49, 65));
      return { key: k, plaintext: Buffer.concat([d.update(blob.subarray(65)), d.final()]) };
    } catch (e) {
      if (e instanceof KmsError) throw e;
      throw new KmsError('InvalidCiphertextException', '');
    }
  }

  function authorize(k, who, op, attested) {
    if (!k.enabled && !['DescribeKey', 'EnableKey', 'GetKeyPolicy', 'PutKeyPolicy'].includes(op))
      throw new KmsError('DisabledException', `${k.arn} is disabled.`);
    const ctx = {};
    for (const [kk, v] of Object.entries(attested?.conditions || {})) ctx[kk.toLowerCase()] = v;
    if (!policyAllows(k.policy, who.principal, `kms:${op}`, ctx))
      throw new KmsError('AccessDeniedException',
        `User: ${who.principal} is not authorized to perform: kms:${op} on resource: ${k.arn} ` +
        'because no resource-based policy allows the kms:' + op + ' action');
  }

  function recipientOf(req) {
    if (req.Recipient === undefined) return null;
    const r = verifyRecipient(req.Recipient, attestation);
    if (!r.ok) throw new KmsError(r.type, r.message);
    if (lastRequest) lastRequest.attested = { moduleId: r.moduleId, conditions: r.conditions };
    return r;
  }

  function plainOrRecipient(out, plaintext, attested, field = 'Plaintext') {
    if (attested) out.CiphertextForRecipient = b64(wrapForRecipient(plaintext, attested));
    else out[field] = b64(plaintext);
    return out;
  }

  function byteCount(req) {
    if (req.NumberOfBytes !== undefined) {
      if (!Number.isInteger(req.NumberOfBytes) || req.NumberOfBytes < 1 || req.NumberOfBytes > 1024)
        throw new KmsError('ValidationException', 'NumberOfBytes must be between 1 and 1024');
      if (req.KeySpec !== undefined) throw new KmsError('ValidationException', 'KeySpec and NumberOfBytes are exclusive');
      return req.NumberOfBytes;
    }
    if (req.KeySpec === 'AES_256') return 32;
    if (req.KeySpec === 'AES_128') return 16;
    throw new KmsError('ValidationException', 'KeySpec must be AES_256 or AES_128 (or give NumberOfBytes)');
  }

  const ops = {
    Encrypt(req, who) {
      const k = findKey(req.KeyId);
      authorize(k, who, 'Encrypt');
      const pt = strictB64(req.Plaintext, 'Plaintext');
      if (pt.length < 1 || pt.length > MAX_PLAINTEXT)
        throw new KmsError('ValidationException',
          `1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PLAINTEXT}`);
      return { KeyId: k.arn, CiphertextBlob: b64(sealBlob(k, pt, req.EncryptionContext)),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
    },
    Decrypt(req, who) {
      const blob = strictB64(req.CiphertextBlob, 'CiphertextBlob');
      if (blob.length < 1 || blob.length > 6144) throw new KmsError('ValidationException', 'CiphertextBlob length');
      const attested = recipientOf(req);
      const { key, plaintext } = openBlob(blob, req.EncryptionContext);
      if (req.KeyId !== undefined && findKey(req.KeyId).id !== key.id)
        throw new KmsError('IncorrectKeyException',
          'The key ID in the request does not identify a CMK that can perform this operation.');
      authorize(key, who, 'Decrypt', attested);
      return plainOrRecipient({ KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, plaintext, attested);
    },
    GenerateDataKey(req, who) {
      const k = findKey(req.KeyId);
      const attested = recipientOf(req);
      authorize(k, who, 'GenerateDataKey', attested);
      const dk = randomBytes(byteCount(req));
      return plainOrRecipient({ KeyId: k.arn, CiphertextBlob: b64(sealBlob(k, dk, req.EncryptionContext)) }, dk, attested);
    },
    GenerateDataKeyPair(req, who) {
      const k = findKey(req.KeyId);
      const attested = recipientOf(req);
      authorize(k, who, 'GenerateDataKeyPair', attested);
      const spec = req.KeyPairSpec;
      const params = { RSA_2048: ['rsa', { modulusLength: 2048 }], RSA_3072: ['rsa', { modulusLength: 3072 }],
        ECC_NIST_P256: ['ec', { namedCurve: 'P-256' }], ECC_NIST_P384: ['ec', { namedCurve: 'P-384' }] }[spec];
      if (!params) throw new KmsError('ValidationException', `KeyPairSpec '${spec}' is not supported`);
      const { publicKey, privateKey } = generateKeyPairSync(params[0], {
        ...params[1], publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
      const out = { KeyId: k.arn, KeyPairSpec: spec, PublicKey: b64(publicKey),
        PrivateKeyCiphertextBlob: b64(sealBlob(k, privateKey, req.EncryptionContext)) };
      return plainOrRecipient(out, privateKey, attested, 'PrivateKeyPlaintext');
    },
    GenerateRandom(req, who) {
      const attested = recipientOf(req);
      const n = req.NumberOfBytes;
      if (!Number.isInteger(n) || n < 1 || n > 1024)
        throw new KmsError('ValidationException', 'NumberOfBytes must be between 1 and 1024');
      return plainOrRecipient({}, randomBytes(n), attested);
    },
    DescribeKey(req, who) {
      const k = findKey(req.KeyId);
      authorize(k, who, 'DescribeKey');
      return { KeyMetadata: { AWSAccountId: ACCOUNT, KeyId: k.id, Arn: k.arn, CreationDate: k.created,
        Enabled: k.enabled, Description: k.description, KeyUsage: 'ENCRYPT_DECRYPT',
        KeyState: k.enabled ? 'Enabled' : 'Disabled', Origin: 'AWS_KMS', KeyManager: 'CUSTOMER',
        KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
        EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'], MultiRegion: false } };
    },
    CreateKey(req, who) {
      const k = createKey(req.Description || '', req.Policy || defaultPolicy());
      return ops.DescribeKey({ KeyId: k.id }, { principal: `arn:aws:iam::${ACCOUNT}:root` });
    },
    CreateAlias(req, who) {
      if (typeof req.AliasName !== 'string' || !req.AliasName.startsWith('alias/'))
        throw new KmsError('ValidationException', 'AliasName must start with alias/');
      const k = findKey(req.TargetKeyId);
      authorize(k, who, 'CreateAlias');
      if (aliases.has(req.AliasName)) throw new KmsError('AlreadyExistsException', `${req.AliasName} exists`);
      aliases.set(req.AliasName, k.id);
      return {};
    },
    PutKeyPolicy(req, who) {
      const k = findKey(req.KeyId);
      authorize(k, who, 'PutKeyPolicy');
      try { JSON.parse(req.Policy); } catch { throw new KmsError('MalformedPolicyDocumentException', 'not JSON'); }
      k.policy = req.Policy;
      return {};
    },
    GetKeyPolicy(req, who) {
      const k = findKey(req.KeyId);
      authorize(k, who, 'GetKeyPolicy');
      return { Policy: k.policy, PolicyName: 'default' };
    },
    EnableKey(req, who) { const k = findKey(req.KeyId); authorize(k, who, 'EnableKey'); k.enabled = true; return {}; },
    DisableKey(req, who) { const k = findKey(req.KeyId); authorize(k, who, 'DisableKey'); k.enabled = false; return {}; },
  };

  const server = http.createServer(async (req, res) => {
    let body;
    try { body = await readBody(req); } catch { return; }
    if (await handleAdmin(req, res, body, faults, {
      '/last-request': () => lastRequest,
      '/last-raw': () => lastRaw,
      '/create-key': (_r, j) => { const k = createKey(j.description || '', j.policy || defaultPolicy());
        if (j.alias) aliases.set(j.alias, k.id); return { KeyId: k.id, Arn: k.arn }; },
      '/attestation': (_r, j) => {
        setAttestationConfig(attestation, { root: j.rootPem, maxAgeSeconds: j.maxAgeSeconds });
        return { maxAgeSeconds: attestation.maxAgeSeconds,
          rootSha256: createHash('sha256').update(attestation.rootDer).digest('hex') };
      },
    })) return;
    const target = req.headers['x-amz-target'] || '';
    const op = target.startsWith('TrentService.') ? target.slice('TrentService.'.length) : '';
    faults.count(op || '?');
    if (req.method !== 'POST' || !ops[op])
      return sendError(res, 400, 'UnknownOperationException', `unknown operation ${target}`, CT);
    if (req.headers.authorization) lastRaw = { headers: req.headers, body: body.toString('base64') };
    const who = await verifySigV4(req, body, { region, service: 'kms', store });
    if (!who.ok) { faults.stats.rejected++; return sendError(res, who.status, who.type, who.message, CT); }
    const fault = faults.take(op);
    if (fault && applyFault(res, fault, { throttleType: 'ThrottlingException', internalType: 'KMSInternalException', contentType: CT }))
      return;
    if (!(req.headers['content-type'] || '').startsWith(CT))
      return sendError(res, 400, 'SerializationException', `Content-Type must be ${CT}`, CT);
    let json;
    try {
      json = JSON.parse(body.toString('utf8'));
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error();
    } catch { return sendError(res, 400, 'SerializationException', 'Start of structure or map found where not expected', CT); }
    lastRequest = { op, body: json, principal: who.principal };
    try {
      sendJson(res, 200, ops[op](json, who), CT);
    } catch (e) {
      if (e instanceof KmsError) return sendError(res, e.status, e.type, e.message, CT);
      sendError(res, 500, 'KMSInternalException', String(e.message || e), CT);
    }
  });
  return { server, createKey, keys, aliases, faults, store, region, attestation };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number((process.argv.find((a) => a.startsWith('--port=')) || '--port=0').slice(7));
  const kms = createKms();
  const p = await listen(kms.server, port);
  const k = kms.createKey('default test key');
  kms.aliases.set('alias/nitro-signer-test', k.id);
  console.log(JSON.stringify({ kms: `http://127.0.0.1:${p}`, keyArn: k.arn }));
}
