// test_exit.mjs: `nitro-keys exit` checked by independent code. The key comes from a keystore made by
// `nitro-keys keystore generate` (opened here with node:crypto, EIP-2335 pbkdf2 + aes-128-ctr) and
// from the 24-word BIP-39 vector that test_nitro_keys.sh uses (derived here with our own EIP-2333,
// itself held to the published vectors). Each signed exit must have staking-deposit-cli's JSON shape
// and verify with noble's BLS over the signing root Lodestar's SSZ gives for mainnet with the CAPELLA
// fork version (EIP-7044) at Deneb-or-later epochs; the same signature must not verify for another
// epoch, another validator index or Deneb's own fork version.
//
// Run by ctest as `node test_exit.mjs` with NS_BIN_DIR (and NS_REFERENCE_DIR for the EIP-2333 vectors).

import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { blsSelfCheck, fromHex, publicKey, toHex, verify } from "../js/lib/bls.mjs";
import { deriveSkAtPath, eip2333SelfCheck, mnemonicToSeed } from "../js/lib/eip2333.mjs";
import {
  DOMAIN, FORK, MAINNET, TYPES, U64_MAX, computeDomain, computeSigningRoot, epochIn, randU64, selfCheck,
} from "../js/lib/eth2.mjs";
import { makeTempDir } from "../js/lib/signer.mjs";

const BIN = process.env.NS_BIN_DIR;
if (!BIN) {
  console.error("test_exit: NS_BIN_DIR must point at the built binaries");
  process.exit(1);
}
const MNEMONIC = "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen "
  + "patrol group space point ten exist slush involve unfold";
const PASSWORD = "exit-test-password";
const MAINNET_GENESIS = 1606824023n;
const SHAPE = /^\{"message":\{"epoch":"(0|[1-9][0-9]*)","validator_index":"(0|[1-9][0-9]*)"\},"signature":"(0x[0-9a-f]{192})"\}\n$/;

const h = new Harness("exit", { timeoutMs: 120_000 });
const tmp = makeTempDir("ns-exit-");

function nitroKeys(args) {
  const r = spawnSync(path.join(BIN, "nitro-keys"), args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout || "", stderr: r.stderr || "" };
}

// The signing root of VoluntaryExit(epoch, index) on mainnet under fork `version`.
function exitRoot(epoch, index, version = MAINNET.forks[FORK.CAPELLA].version) {
  const objectRoot = TYPES.exit.hashTreeRoot({ epoch, validatorIndex: index });
  return computeSigningRoot(objectRoot, computeDomain(DOMAIN.VOLUNTARY_EXIT, version, MAINNET.genesisValidatorsRoot));
}

// EIP-2335 with pbkdf2 (what the test makes), written out: the secret key.
function decryptKeystore(ks, password) {
  const { kdf, checksum, cipher } = ks.crypto;
  if (kdf.function !== "pbkdf2" || kdf.params.prf !== "hmac-sha256" || cipher.function !== "aes-128-ctr") {
    throw new Error(`unexpected keystore crypto ${kdf.function}/${cipher.function}`);
  }
  const pw = Buffer.from(password.normalize("NFKD").replace(/[\u0000-\u001f\u007f-\u009f]/g, ""), "utf8");
  const dk = crypto.pbkdf2Sync(pw, Buffer.from(kdf.params.salt, "hex"), kdf.params.c, kdf.params.dklen, "sha256");
  const ct = Buffer.from(cipher.message, "hex");
  const sum = crypto.createHash("sha256").update(Buffer.concat([dk.subarray(16, 32), ct])).digest("hex");
  if (sum !== checksum.message) throw new Error("keystore checksum does not match the password");
  const d = crypto.createDecipheriv("aes-128-ctr", dk.subarray(0, 16), Buffer.from(cipher.params.iv, "hex"));
  return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
}

// Runs one exit, checks output shape, stderr line and signature; returns the signature.
function checkExit(label, args, { pk, epoch, index, out }) {
  const r = nitroKeys(["exit", "--chain=mainnet", `--validator-index=${index}`, ...(epoch === undefined ? [] : [`--epoch=${epoch}`]), ...args,
    ...(out ? [`--out=${out}`] : [])]);
  if (!h.ok(r.status === 0, `${label}: exit 0`, r)) return null;
  h.ok(!r.stderr.includes("void come") && !r.stderr.includes(PASSWORD) && !r.stdout.includes("void come"),
    `${label}: neither mnemonic nor password printed`);
  let text = r.stdout;
  if (out) {
    h.eq(r.stdout, "", `${label}: --out leaves stdout empty`);
    h.eq(fs.statSync(out).mode & 0o777, 0o644, `${label}: --out file mode 0644`);
    text = fs.readFileSync(out, "utf8");
  }
  const m = SHAPE.exec(text);
  if (!h.ok(m, `${label}: staking-deposit-cli's signed exit JSON, one line`, text)) return null;
  const json = JSON.parse(text);
  h.eq(Object.keys(json), ["message", "signature"], `${label}: top-level keys`);
  h.eq(Object.keys(json.message), ["epoch", "validator_index"], `${label}: message keys`);
  const gotEpoch = BigInt(m[1]);
  if (epoch !== undefined) h.eq(gotEpoch, BigInt(epoch), `${label}: epoch as given`);
  h.eq(BigInt(m[2]), BigInt(index), `${label}: validator_index as given`);
  const sig = fromHex(m[3]);
  h.ok(verify(sig, exitRoot(gotEpoch, BigInt(index)), pk), `${label}: signature verifies (noble, Lodestar root, CAPELLA version)`);
  h.ok(!verify(sig, exitRoot(gotEpoch + 1n, BigInt(index)), pk), `${label}: a tampered epoch does not verify`);
  h.ok(!verify(sig, exitRoot(gotEpoch, BigInt(index) ^ 1n), pk), `${label}: a tampered validator index does not verify`);
  h.ok(!verify(sig, exitRoot(gotEpoch, BigInt(index), MAINNET.forks[FORK.DENEB].version), pk),
    `${label}: not signed with DENEB's own version`);
  const line = r.stderr.trim().split("\n");
  h.ok(line.length === 1 && line[0].includes(toHex(pk)) && line[0].includes(`validator index ${index}, epoch ${gotEpoch}, chain mainnet`),
    `${label}: one stderr line naming pubkey, index, epoch and chain`, r.stderr);
  return { sig: m[3], epoch: gotEpoch };
}

function fromKeystore() {
  const pwFile = path.join(tmp, "pw.txt");
  fs.writeFileSync(pwFile, `${PASSWORD}\n`);
  const dir = path.join(tmp, "ks");
  const g = nitroKeys(["keystore", "generate", "--count=1", `--out=${dir}`, `--keystore-password-file=${pwFile}`,
    "--kdf=pbkdf2", "--work-factor=16"]);
  if (!h.ok(g.status === 0, "keystore generate", g)) return;
  const [pkHex, file] = g.stdout.trim().split(" ");
  const sk = decryptKeystore(JSON.parse(fs.readFileSync(file, "utf8")), PASSWORD);
  const pk = publicKey(sk);
  h.eq(toHex(pk), pkHex, "the keystore opens (node:crypto) to the key generate reported");
  const flags = [`--keystore=${file}`, `--keystore-password-file=${pwFile}`];
  const cases = [
    ["first Deneb epoch", epochIn(FORK.DENEB, "first")],
    ["random Deneb epoch", epochIn(FORK.DENEB, "random")],
    ["random Electra epoch", epochIn(FORK.ELECTRA, "random")],
    ["random Fulu epoch", epochIn(FORK.FULU, "random")],
  ];
  let first = null;
  for (const [what, epoch] of cases) {
    const index = randU64();
    const got = checkExit(`keystore, ${what} ${epoch}, index ${index}`, flags, { pk, epoch, index });
    if (!first && got) first = { epoch, index, sig: got.sig };
  }
  checkExit("keystore, validator index 2^64-1", flags, { pk, epoch: epochIn(FORK.FULU, "first"), index: U64_MAX });
  // --out: the same exit (BLS signatures are deterministic) in a file.
  if (first) {
    const out = path.join(tmp, "exit.json");
    const got = checkExit("keystore, --out", flags, { pk, epoch: first.epoch, index: first.index, out });
    h.eq(got && got.sig, first.sig, "--out holds the same signature as stdout");
    const again = nitroKeys(["exit", "--chain=mainnet", `--validator-index=${first.index}`, `--epoch=${first.epoch}`, ...flags, `--out=${out}`]);
    h.ok(again.status === 2 && /^nitro-keys: --out: .*already exists/.test(again.stderr), "an existing --out is refused (exit 2)", again);
  }
  // No --epoch: mainnet's current epoch by the clock.
  const before = (BigInt(Math.floor(Date.now() / 1000)) - MAINNET_GENESIS) / 384n;
  const now = checkExit("keystore, current epoch", flags, { pk, index: 7n });
  const after = (BigInt(Math.floor(Date.now() / 1000)) - MAINNET_GENESIS) / 384n;
  h.ok(now && now.epoch >= before && now.epoch <= after, "no --epoch: the current mainnet epoch", { got: now && now.epoch, before, after });
  // The wrong password: exit 1, nothing on stdout.
  const badPw = path.join(tmp, "bad.txt");
  fs.writeFileSync(badPw, "not-the-password\n");
  const bad = nitroKeys(["exit", "--chain=mainnet", "--validator-index=1", "--epoch=300000", `--keystore=${file}`, `--keystore-password-file=${badPw}`]);
  h.ok(bad.status === 1 && bad.stdout === "" && bad.stderr.startsWith("nitro-keys: --keystore: "), "a wrong password is exit 1 naming --keystore", bad);
}

function fromMnemonic() {
  const problems = eip2333SelfCheck(process.env.NS_REFERENCE_DIR);
  for (const p of problems) h.ok(false, `EIP-2333 reference self-check: ${p}`);
  if (problems.length) return;
  const mfile = path.join(tmp, "mnemonic.txt");
  fs.writeFileSync(mfile, `${MNEMONIC}\n`, { mode: 0o600 });
  const seed = mnemonicToSeed(MNEMONIC);
  for (const i of [0, 3, 4294967295]) {
    const pk = publicKey(deriveSkAtPath(seed, `m/12381/3600/${i}/0/0`));
    const epoch = epochIn(FORK.ELECTRA, "random");
    checkExit(`mnemonic key ${i}, epoch ${epoch}`, [`--mnemonic-file=${mfile}`, `--validator-key-index=${i}`],
      { pk, epoch, index: randU64() });
  }
  // With a BIP-39 passphrase: another seed, another key.
  const ppfile = path.join(tmp, "passphrase.txt");
  fs.writeFileSync(ppfile, "TREZOR\n");
  const pk = publicKey(deriveSkAtPath(mnemonicToSeed(MNEMONIC, "TREZOR"), "m/12381/3600/1/0/0"));
  checkExit("mnemonic with passphrase", [`--mnemonic-file=${mfile}`, "--validator-key-index=1", `--mnemonic-password-file=${ppfile}`],
    { pk, epoch: epochIn(FORK.DENEB, "last"), index: 12345n });
}

function badUsage() {
  const cases = [
    [["--validator-index=1", "--epoch=300000", "--mnemonic-file=/nonexistent", "--validator-key-index=0"], "--chain"],
    [["--chain=mainnet", "--validator-index=01", "--mnemonic-file=/nonexistent", "--validator-key-index=0"], "--validator-index"],
    [["--chain=mainnet", "--validator-index=1", "--epoch=18446744073709551616", "--mnemonic-file=/nonexistent", "--validator-key-index=0"], "--epoch"],
    [["--chain=mainnet", "--validator-index=1", "--epoch=100", "--mnemonic-file=/nonexistent", "--validator-key-index=0"], "--epoch"],
    [["--chain=mainnet", "--validator-index=1", "--mnemonic-file=/nonexistent"], "--validator-key-index"],
    [["--chain=mainnet", "--validator-index=1", "--keystore=/nonexistent"], "--keystore-password-file"],
  ];
  for (const [args, flag] of cases) {
    const r = nitroKeys(["exit", ...args]);
    h.ok(r.status === 2 && r.stdout === "" && r.stderr.startsWith("nitro-keys: ") && r.stderr.includes(flag)
      && r.stderr.trim().split("\n").length === 1,
      `bad usage ${args.join(" ")}: exit 2, one line naming ${flag}`, r);
  }
}

await Harness.run(h, async () => {
  const problems = [...blsSelfCheck(), ...selfCheck()];
  for (const p of problems) h.ok(false, `reference self-check: ${p}`);
  if (problems.length) h.finish("reference implementation broken; nothing compared");
  fromKeystore();
  fromMnemonic();
  badUsage();
  h.finish("nitro-keys exit cross-checked");
});
