// BIP-39 seeds and EIP-2333/2334 validator keys written out from the specs with node:crypto only
// (PBKDF2-HMAC-SHA512, HKDF-SHA256, SHA-256): an implementation independent of the signer's, to
// derive the key a mnemonic gives at m/12381/3600/i/0/0. eip2333SelfCheck() holds it to the
// published vectors (ethereum/ERCs erc-2333.md, CC0, in tests/vectors/reference/eip2333-vectors.json).

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

// BLS12-381 subgroup order r.
const R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;

const sha256 = (b) => new Uint8Array(crypto.createHash("sha256").update(b).digest());
const hkdf = (ikm, salt, info, len) => new Uint8Array(crypto.hkdfSync("sha256", ikm, salt, info, len));
const cat = (...parts) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
const i2osp = (x, n) => {
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
};
const os2ip = (b) => BigInt(`0x${Buffer.from(b).toString("hex") || "0"}`);

// seed = PBKDF2-HMAC-SHA512(NFKD(mnemonic), "mnemonic" || NFKD(passphrase), 2048, 64)
export function mnemonicToSeed(mnemonic, passphrase = "") {
  return new Uint8Array(crypto.pbkdf2Sync(Buffer.from(mnemonic.normalize("NFKD"), "utf8"),
    Buffer.from(`mnemonic${passphrase.normalize("NFKD")}`, "utf8"), 2048, 64, "sha512"));
}

// HKDF_mod_r with the salt loop of the current text (salt = SHA256(salt) before each try).
function hkdfModR(ikm, keyInfo = new Uint8Array(0)) {
  let salt = new TextEncoder().encode("BLS-SIG-KEYGEN-SALT-");
  let sk = 0n;
  while (sk === 0n) {
    salt = sha256(salt);
    sk = os2ip(hkdf(cat(ikm, [0]), salt, cat(keyInfo, i2osp(48n, 2)), 48)) % R;
  }
  return sk;
}

function lamportPk(parentSk, index) {
  const salt = i2osp(BigInt(index), 4);
  const ikm = i2osp(parentSk, 32);
  const chunks = (okm) => Array.from({ length: 255 }, (_, i) => okm.subarray(32 * i, 32 * i + 32));
  const l0 = chunks(hkdf(ikm, salt, new Uint8Array(0), 255 * 32));
  const l1 = chunks(hkdf(ikm.map((b) => b ^ 0xff), salt, new Uint8Array(0), 255 * 32));
  return sha256(cat(...[...l0, ...l1].map(sha256)));
}

export const deriveMasterSk = (seed) => hkdfModR(seed);
export const deriveChildSk = (parentSk, index) => hkdfModR(lamportPk(parentSk, index));

// The secret key (32 bytes, big-endian) at an EIP-2334 path such as "m/12381/3600/0/0/0".
export function deriveSkAtPath(seed, p) {
  const nodes = p.split("/");
  if (nodes[0] !== "m") throw new Error(`bad path ${p}`);
  let sk = deriveMasterSk(seed);
  for (const n of nodes.slice(1)) sk = deriveChildSk(sk, Number(n));
  return i2osp(sk, 32);
}

// Problems (empty = fine) against the published EIP-2333 vectors, mnemonic to child key.
export function eip2333SelfCheck(referenceDir) {
  const dir = referenceDir || path.resolve(import.meta.dirname, "../../vectors/reference");
  const file = path.join(dir, "eip2333-vectors.json");
  const problems = [];
  let vectors;
  try {
    vectors = JSON.parse(fs.readFileSync(file, "utf8")).eip2333;
  } catch (e) {
    return [`cannot read ${file}: ${e.message}`];
  }
  for (const v of vectors) {
    const seed = new Uint8Array(Buffer.from(v.seed.slice(2), "hex"));
    if (v.bip39_mnemonic) {
      const s = mnemonicToSeed(v.bip39_mnemonic, v.bip39_passphrase);
      if (Buffer.compare(Buffer.from(s), Buffer.from(seed)) !== 0) problems.push(`${v.name}: BIP-39 seed`);
    }
    const master = deriveMasterSk(seed);
    if (master !== BigInt(v.master_SK)) problems.push(`${v.name}: master_SK`);
    if (v.compressed_lamport_PK && `0x${Buffer.from(lamportPk(master, Number(v.child_index))).toString("hex")}` !== v.compressed_lamport_PK) {
      problems.push(`${v.name}: compressed_lamport_PK`);
    }
    if (deriveChildSk(master, Number(v.child_index)) !== BigInt(v.child_SK)) problems.push(`${v.name}: child_SK`);
  }
  if (vectors.length < 4) problems.push(`only ${vectors.length} vectors in ${file}`);
  return problems;
}
