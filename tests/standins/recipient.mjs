// recipient.mjs: the KMS stand-in's handling of Recipient (Nitro attestation
// documents), written from AWS's specification (reference/nitro-kms.md
// sections 2 and 3.4) with Node's crypto only, so it is an implementation
// independent of our C code (src/nitro):
//
//  - a small strict CBOR decoder for the subset attestation documents use
//    (definite and indefinite maps, arrays and strings; integers up to 64
//    bits; null/true/false; tag 18 only around the COSE_Sign1; no floats,
//    no other tags, no duplicate keys, no trailing bytes, bounded nesting);
//  - COSE_Sign1 with the protected header exactly {1: -35} (ES384): the raw
//    r||s signature (96 bytes) verified by crypto.verify over
//    Sig_structure = ["Signature1", protected, h'', payload];
//  - the chain: cabundle[0] byte-equal to the configured root (AWS's G1 root
//    unless a test configures its own), each next certificate (cabundle[1..],
//    then `certificate`) issued and signed by the one before, CAs above the
//    leaf, the leaf not a CA and on P-384, every one valid at the document's
//    timestamp; the timestamp itself fresh (maxAgeSeconds, 0 = no check);
//  - the policy condition keys the document yields:
//    kms:RecipientAttestation:ImageSha384 (= PCR0) and
//    kms:RecipientAttestation:PCR<n> for every PCR in it, lower-case hex;
//    kms.mjs's policy evaluator matches them (StringEqualsIgnoreCase);
//  - CiphertextForRecipient: CMS EnvelopedData (RFC 5652) in BER with
//    indefinite lengths as KMS sends it: one KeyTransRecipientInfo v2,
//    rid = subjectKeyIdentifier, RSAES-OAEP with SHA-256 and MGF1-SHA-256
//    over a fresh AES-256 key, content AES-256-CBC with a random IV.
//
// Errors: anything wrong with the document itself (encoding, algorithm,
// signature, chain, validity, public key) is a ValidationException, which is
// the type KMS uses for a request parameter it refuses; whether the attested
// values satisfy the key policy is decided by kms.mjs and refused with
// AccessDeniedException. Real KMS's exact wording is not published; only the
// split "bad document" / "policy says no" is relied on by the tests.
import { X509Certificate, createCipheriv, createHash, createPublicKey, constants, publicEncrypt,
  randomBytes, verify } from 'node:crypto';
import fs from 'node:fs';

export const MAX_ATTESTATION_DOC = 262144;

// AWS Nitro Enclaves root G1 (reference/nitro-attestation/
// aws-nitro-enclaves-root-G1.pem; SHA-256 of the DER 641a0321...79bb5b).
const AWS_ROOT_G1_PEM = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;
const AWS_ROOT_G1_SHA256 = '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b';

// Root from PEM or DER bytes; throws on anything else.
export function parseRoot(bytes) {
  const cert = new X509Certificate(bytes);
  return Buffer.from(cert.raw);
}

// The attestation settings of one KMS stand-in. The root comes from
// `root` (PEM/DER bytes), else the file named by KMS_STANDIN_ATTESTATION_ROOT,
// else AWS's root. Freshness: a document older than maxAgeSeconds (or more
// than the skew in the future) is refused; 0 turns the age check off (for
// stored documents, e.g. the real ones in reference/nitro-attestation).
export function createAttestationConfig({ root, maxAgeSeconds } = {}) {
  const cfg = { rootDer: null, maxAgeSeconds: 300, skewSeconds: 300 };
  setAttestationConfig(cfg, { root: root ?? (process.env.KMS_STANDIN_ATTESTATION_ROOT
    ? fs.readFileSync(process.env.KMS_STANDIN_ATTESTATION_ROOT) : null), maxAgeSeconds });
  return cfg;
}

export function setAttestationConfig(cfg, { root, maxAgeSeconds } = {}) {
  if (root === 'aws' || root === null) {
    cfg.rootDer = parseRoot(AWS_ROOT_G1_PEM);
    if (createHash('sha256').update(cfg.rootDer).digest('hex') !== AWS_ROOT_G1_SHA256)
      throw new Error('embedded AWS root does not match its fingerprint');
  } else if (root !== undefined) {
    cfg.rootDer = parseRoot(Buffer.from(root));
  }
  if (maxAgeSeconds !== undefined) {
    if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 0) throw new Error('maxAgeSeconds must be >= 0');
    cfg.maxAgeSeconds = maxAgeSeconds;
  }
  return cfg;
}

// --- CBOR (RFC 8949), the subset attestation documents use ----------------------

class CborError extends Error {}

const MAX_DEPTH = 16;

// Decodes exactly one item filling `buf`. Byte strings come back as Buffers
// (views into buf), maps as Map (keys: numbers or strings), integers as
// Number when safe, else BigInt.
export function cborDecode(buf, { allowTag18 = false } = {}) {
  let pos = 0;
  const need = (n) => { if (pos + n > buf.length) throw new CborError('truncated'); };
  const u8 = () => { need(1); return buf[pos++]; };
  function arg(info) {
    if (info < 24) return info;
    const len = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!len) throw new CborError(`reserved or indefinite argument ${info}`);
    need(len);
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(buf[pos++]);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  function count(v) {
    if (typeof v !== 'number' || v > buf.length - pos) throw new CborError('length exceeds input');
    return v;
  }
  function chunks(major) {
    const parts = [];
    for (;;) {
      const ib = u8();
      if (ib === 0xff) break;
      if (ib >> 5 !== major || (ib & 31) === 31) throw new CborError('bad chunk in indefinite string');
      const n = count(arg(ib & 31));
      need(n);
      parts.push(buf.subarray(pos, pos + n));
      pos += n;
    }
    return Buffer.concat(parts);
  }
  function item(depth) {
    if (depth > MAX_DEPTH) throw new CborError('nested too deep');
    const ib = u8();
    const major = ib >> 5;
    const info = ib & 31;
    const indef = info === 31;
    if (indef && ![2, 3, 4, 5].includes(major)) throw new CborError(`indefinite length on major type ${major}`);
    switch (major) {
      case 0: return arg(info);
      case 1: { const v = arg(info); return typeof v === 'bigint' ? -1n - v : -1 - v; }
      case 2: case 3: {
        let b;
        if (indef) b = chunks(major);
        else { const n = count(arg(info)); need(n); b = buf.subarray(pos, pos + n); pos += n; }
        if (major === 2) return b;
        const s = new TextDecoder('utf-8', { fatal: true }).decode(b);
        return s;
      }
      case 4: {
        const out = [];
        if (indef) { while (buf[pos] !== 0xff) { need(1); out.push(item(depth + 1)); } pos++; }
        else { const n = count(arg(info)); for (let i = 0; i < n; i++) out.push(item(depth + 1)); }
        return out;
      }
      case 5: {
        const m = new Map();
        const put = () => {
          const k = item(depth + 1);
          if (typeof k !== 'number' && typeof k !== 'string') throw new CborError('map key must be an integer or text');
          if (m.has(k)) throw new CborError(`duplicate map key ${String(k)}`);
          m.set(k, item(depth + 1));
        };
        if (indef) { while (buf[pos] !== 0xff) { need(1); put(); } pos++; }
        else { const n = count(arg(info)); for (let i = 0; i < n; i++) put(); }
        return m;
      }
      case 6: {
        const tag = arg(info);
        if (tag === 18 && allowTag18 && depth === 0) return item(depth + 1);
        throw new CborError(`tag ${String(tag)} not allowed`);
      }
      default: // major 7
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        throw new CborError(`simple/float value 0x${ib.toString(16)} not allowed`);
    }
  }
  const v = item(0);
  if (pos !== buf.length) throw new CborError(`${buf.length - pos} trailing bytes`);
  return v;
}

function cborBstrHeader(n) {
  if (n < 24) return Buffer.from([0x40 | n]);
  if (n < 0x100) return Buffer.from([0x58, n]);
  if (n < 0x10000) return Buffer.from([0x59, n >> 8, n & 255]);
  const b = Buffer.alloc(5); b[0] = 0x5a; b.writeUInt32BE(n, 1); return b;
}
const cborBstr = (b) => Buffer.concat([cborBstrHeader(b.length), b]);

// --- the attestation document ----------------------------------------------

class DocError extends Error {}

const isBstr = (v) => Buffer.isBuffer(v);
const optBstr = (v, max, name) => {
  if (v === undefined || v === null) return null;
  if (!isBstr(v) || v.length > max) throw new DocError(`${name} must be a byte string of at most ${max} bytes`);
  return v;
};

function parseDocument(bytes) {
  let cose;
  try { cose = cborDecode(bytes, { allowTag18: true }); } catch (e) {
    throw new DocError(`not CBOR (${e.message})`);
  }
  if (!Array.isArray(cose) || cose.length !== 4) throw new DocError('not a COSE_Sign1 (array of 4)');
  const [prot, unprot, payload, sig] = cose;
  if (!isBstr(prot) || !(unprot instanceof Map) || !isBstr(payload) || !isBstr(sig))
    throw new DocError('COSE_Sign1 fields have the wrong types');
  let hdr;
  try { hdr = cborDecode(prot); } catch (e) { throw new DocError(`protected header is not CBOR (${e.message})`); }
  if (!(hdr instanceof Map) || hdr.size !== 1 || hdr.get(1) !== -35)
    throw new DocError('protected header must be exactly {1: -35} (ES384)');
  if (unprot.has(1)) throw new DocError('algorithm must not be in the unprotected header');
  if (sig.length !== 96) throw new DocError('ES384 signature must be 96 bytes (r||s)');

  let doc;
  try { doc = cborDecode(payload); } catch (e) { throw new DocError(`payload is not CBOR (${e.message})`); }
  if (!(doc instanceof Map)) throw new DocError('payload is not a map');
  const known = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce'];
  for (const k of doc.keys()) if (!known.includes(k)) throw new DocError(`unknown field ${String(k)}`);
  const moduleId = doc.get('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0) throw new DocError('module_id must be non-empty text');
  if (doc.get('digest') !== 'SHA384') throw new DocError('digest must be SHA384');
  const timestamp = doc.get('timestamp');
  if (typeof timestamp !== 'number' || !Number.isInteger(timestamp) || timestamp <= 0)
    throw new DocError('timestamp must be a positive integer (ms)');
  const pcrsIn = doc.get('pcrs');
  if (!(pcrsIn instanceof Map) || pcrsIn.size < 1 || pcrsIn.size > 32) throw new DocError('pcrs must be a map of 1..32 entries');
  const pcrs = new Map();
  for (const [i, v] of pcrsIn) {
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i > 31) throw new DocError('PCR index must be 0..31');
    if (!isBstr(v) || v.length !== 48) throw new DocError(`PCR${i} must be 48 bytes`);
    pcrs.set(i, v);
  }
  const certificate = doc.get('certificate');
  if (!isBstr(certificate) || certificate.length < 1 || certificate.length > 1024)
    throw new DocError('certificate must be 1..1024 bytes');
  const cabundle = doc.get('cabundle');
  if (!Array.isArray(cabundle) || cabundle.length < 1) throw new DocError('cabundle must be a non-empty array');
  for (const c of cabundle)
    if (!isBstr(c) || c.length < 1 || c.length > 1024) throw new DocError('cabundle entries must be 1..1024 bytes');
  return {
    protected: prot, payload, sig, moduleId, timestamp, pcrs, certificate, cabundle,
    publicKey: optBstr(doc.get('public_key'), 1024, 'public_key'),
    userData: optBstr(doc.get('user_data'), 512, 'user_data'),
    nonce: optBstr(doc.get('nonce'), 512, 'nonce'),
  };
}

function x509(der, what) {
  try { return new X509Certificate(der); } catch { throw new DocError(`${what} is not an X.509 certificate`); }
}

function validAt(cert, ms, what) {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (!(from <= ms && ms <= to))
    throw new DocError(`${what} is not valid at the document's timestamp (${cert.subject.replace(/\n/g, ', ')})`);
}

function verifyDocument(d, cfg, now, { requirePublicKey = true } = {}) {
  // Chain: the pinned root, then cabundle[1..], then the leaf.
  if (!d.cabundle[0].equals(cfg.rootDer)) throw new DocError('cabundle[0] is not the trusted root');
  const chain = d.cabundle.map((c, i) => x509(c, `cabundle[${i}]`));
  const leaf = x509(d.certificate, 'certificate');
  const all = [...chain, leaf];
  for (let i = 0; i < all.length; i++) {
    const what = i < chain.length ? `cabundle[${i}]` : 'certificate';
    validAt(all[i], d.timestamp, what);
    if (i < all.length - 1 && !all[i].ca) throw new DocError(`${what} is not a CA`);
    const issuer = all[i === 0 ? 0 : i - 1];
    if (!all[i].checkIssued(issuer) || !all[i].verify(issuer.publicKey))
      throw new DocError(`${what} is not signed by ${i === 0 ? 'itself' : 'the certificate before it'}`);
  }
  if (leaf.ca) throw new DocError('certificate must not be a CA');
  const lk = leaf.publicKey;
  if (lk.asymmetricKeyType !== 'ec' || lk.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw new DocError('certificate key must be ECDSA P-384');
  // COSE signature over Sig_structure.
  const sigStructure = Buffer.concat([Buffer.from([0x84, 0x6a]), Buffer.from('Signature1'),
    cborBstr(d.protected), Buffer.from([0x40]), cborBstr(d.payload)]);
  if (!verify('sha384', sigStructure, { key: lk, dsaEncoding: 'ieee-p1363' }, d.sig))
    throw new DocError('COSE signature does not verify');
  if (cfg.maxAgeSeconds > 0) {
    if (d.timestamp > now + cfg.skewSeconds * 1000) throw new DocError('timestamp is in the future');
    if (now - d.timestamp > cfg.maxAgeSeconds * 1000) throw new DocError('document is too old');
  }
  if (!requirePublicKey) return null;
  // KMS encrypts to this key: an RSA SubjectPublicKeyInfo.
  if (!d.publicKey) throw new DocError('public_key is missing');
  let pk;
  try { pk = createPublicKey({ key: d.publicKey, format: 'der', type: 'spki' }); } catch {
    throw new DocError('public_key is not a DER SubjectPublicKeyInfo');
  }
  const bits = pk.asymmetricKeyDetails?.modulusLength;
  if (pk.asymmetricKeyType !== 'rsa' || ![2048, 3072, 4096].includes(bits))
    throw new DocError('public_key must be RSA 2048, 3072 or 4096');
  return pk;
}

// An attestation document on its own (e.g. from the signer's GET
// /attestation): the same parsing, chain and COSE checks, no public key
// required. Returns { ok: true, pcrs, userData, nonce, timestamp, moduleId }
// or { ok: false, message }.
export function verifyAttestationDocument(bytes, cfg, now = Date.now()) {
  try {
    const d = parseDocument(Buffer.from(bytes));
    verifyDocument(d, cfg, now, { requirePublicKey: false });
    return { ok: true, pcrs: d.pcrs, userData: d.userData, nonce: d.nonce, timestamp: d.timestamp,
      moduleId: d.moduleId };
  } catch (e) {
    if (e instanceof DocError || e instanceof CborError) return { ok: false, message: e.message };
    throw e;
  }
}

// Returns { ok: true, conditions, publicKey, publicKeyDer, pcrs, moduleId }
// or { ok: false, type, message }.
export function verifyRecipient(recipient, cfg, now = Date.now()) {
  const bad = (message) => ({ ok: false, type: 'ValidationException', message });
  if (typeof recipient !== 'object' || recipient === null || Array.isArray(recipient))
    return bad('Recipient must be an object');
  if (recipient.KeyEncryptionAlgorithm !== 'RSAES_OAEP_SHA_256')
    return bad("Recipient.KeyEncryptionAlgorithm must be 'RSAES_OAEP_SHA_256'");
  const doc = recipient.AttestationDocument;
  if (typeof doc !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(doc) || doc.length % 4 !== 0)
    return bad('Recipient.AttestationDocument must be base64');
  const bytes = Buffer.from(doc, 'base64');
  if (bytes.length === 0 || bytes.length > MAX_ATTESTATION_DOC)
    return bad('Recipient.AttestationDocument has a bad length');
  try {
    const d = parseDocument(bytes);
    const publicKey = verifyDocument(d, cfg, now);
    const conditions = {};
    for (const [i, v] of d.pcrs) conditions[`kms:RecipientAttestation:PCR${i}`] = v.toString('hex');
    if (d.pcrs.has(0)) conditions['kms:RecipientAttestation:ImageSha384'] = d.pcrs.get(0).toString('hex');
    return { ok: true, conditions, publicKey, publicKeyDer: d.publicKey, pcrs: d.pcrs, moduleId: d.moduleId };
  } catch (e) {
    if (e instanceof DocError) return bad(`Recipient.AttestationDocument is not a valid attestation document: ${e.message}`);
    throw e;
  }
}

// --- CiphertextForRecipient: CMS EnvelopedData in BER -------------------------

function derLen(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 255);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag, ...parts) => { const c = Buffer.concat(parts); return Buffer.concat([Buffer.from([tag]), derLen(c.length), c]); };
const indef = (tag, ...parts) => Buffer.concat([Buffer.from([tag, 0x80]), ...parts, Buffer.from([0, 0])]);
const oid = (hex) => tlv(0x06, Buffer.from(hex, 'hex'));
const int = (n) => tlv(0x02, Buffer.from([n]));
const NULL = Buffer.from([0x05, 0x00]);

const OID_ENVELOPED_DATA = '2a864886f70d010703'; // 1.2.840.113549.1.7.3
const OID_DATA = '2a864886f70d010701';           // 1.2.840.113549.1.7.1
const OID_RSAES_OAEP = '2a864886f70d010107';     // 1.2.840.113549.1.1.7
const OID_MGF1 = '2a864886f70d010108';           // 1.2.840.113549.1.1.8
const OID_SHA256 = '608648016503040201';         // 2.16.840.1.101.3.4.2.1
const OID_AES256_CBC = '60864801650304012a';     // 2.16.840.1.101.3.4.1.42

let wrapCount = 0;

// Wraps plaintext for the attested public key. Like KMS (both forms are in
// reference/kms-recipient/), the encrypted content alternates between
// [0] constructed (indefinite, OCTET STRING chunks of at most 1000 bytes)
// and [0] primitive, so a client must read both.
export function wrapForRecipient(plaintext, attested) {
  const cek = randomBytes(32);
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', cek, iv);
  const content = Buffer.concat([c.update(plaintext), c.final()]);
  const encryptedKey = publicEncrypt({ key: attested.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING,
    oaepHash: 'sha256' }, cek);
  cek.fill(0);
  // rid: KMS sends a 32-byte subjectKeyIdentifier whose derivation is not
  // published (reference/nitro-kms.md 3.4: "do not try to match it"); a
  // SHA-256 of the recipient's SPKI has the same shape.
  const ski = createHash('sha256').update(attested.publicKeyDer).digest();
  const sha256Alg = tlv(0x30, oid(OID_SHA256), NULL);
  const oaepAlg = tlv(0x30, oid(OID_RSAES_OAEP), tlv(0x30,
    tlv(0xa0, sha256Alg),
    tlv(0xa1, tlv(0x30, oid(OID_MGF1), sha256Alg))));
  const ktri = tlv(0x30, int(2), tlv(0x80, ski), oaepAlg, tlv(0x04, encryptedKey));
  let encContent;
  if (wrapCount++ % 2 === 0) {
    const chunks = [];
    for (let i = 0; i < content.length; i += 1000) chunks.push(tlv(0x04, content.subarray(i, i + 1000)));
    encContent = indef(0xa0, ...chunks);
  } else {
    encContent = tlv(0x80, content);
  }
  const eci = indef(0x30, oid(OID_DATA), tlv(0x30, oid(OID_AES256_CBC), tlv(0x04, iv)), encContent);
  const envelopedData = indef(0x30, int(2), tlv(0x31, ktri), eci);
  return indef(0x30, oid(OID_ENVELOPED_DATA), indef(0xa0, envelopedData));
}
