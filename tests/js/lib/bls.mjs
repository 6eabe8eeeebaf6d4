// Ethereum BLS (min-pk: 48-byte G1 public keys, 96-byte G2 signatures, POP ciphersuite) from
// @noble/curves: an implementation independent of the signer's blst, used to produce the expected
// signature of a root (BLS signing is deterministic) and to verify what the signer returns.

import { bls12_381 } from "@noble/curves/bls12-381.js";

export const POP_DST = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
const bls = bls12_381.longSignatures;

export const toHex = (b) => `0x${Buffer.from(b).toString("hex")}`;
export function fromHex(s) {
  if (!/^0x([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`not 0x-prefixed even-length hex: ${String(s).slice(0, 80)}`);
  return new Uint8Array(Buffer.from(s.slice(2), "hex"));
}

export function publicKey(sk) {
  return bls.getPublicKey(sk).toBytes(true);
}

// n fresh random keys: {sk, skHex, pk, pkHex}; hex is lower-case with 0x.
export function makeKeys(n) {
  const keys = [];
  for (let i = 0; i < n; i++) {
    const sk = bls12_381.utils.randomSecretKey();
    const pk = publicKey(sk);
    keys.push({ sk, skHex: toHex(sk), pk, pkHex: toHex(pk) });
  }
  return keys;
}

export function sign(sk, message) {
  return bls.Signature.toBytes(bls.sign(bls.hash(message, POP_DST), sk));
}

// false (never throws) for malformed or wrong signatures.
export function verify(sig, message, pk) {
  try {
    return bls.verify(sig, bls.hash(message, POP_DST), pk);
  } catch {
    return false;
  }
}

// One multi-pairing for many (sig, message, pk): much faster than n verifications. Callers fall
// back to verify() per item to name the bad one.
export function verifyAll(items) {
  if (items.length === 0) return true;
  try {
    const agg = bls.aggregateSignatures(items.map((i) => i.sig));
    return bls.verifyBatch(agg, items.map((i) => ({ message: bls.hash(i.message, POP_DST), publicKey: i.pk })));
  } catch {
    return false;
  }
}

// Known answers from the consensus-spec BLS tests (bls12-381-tests sign_case_*): if these fail,
// the reference implementation itself is broken and no other result means anything.
export function blsSelfCheck() {
  const sk = fromHex("0x263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3");
  const pk = "0xa491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a";
  const sig = "0xb6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb5158090352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55";
  const msg = new Uint8Array(32);
  const problems = [];
  if (toHex(publicKey(sk)) !== pk) problems.push("noble sk->pk known answer");
  const s = sign(sk, msg);
  if (toHex(s) !== sig) problems.push("noble sign known answer");
  if (!verify(s, msg, fromHex(pk))) problems.push("noble verify of known answer");
  const other = new Uint8Array(32).fill(0x56);
  if (verify(s, other, fromHex(pk))) problems.push("noble verify accepted a wrong message");
  return problems;
}
