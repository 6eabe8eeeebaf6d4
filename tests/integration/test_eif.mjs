// test_eif.mjs: `nitro-keys eif` checked by independent code. Stand-in blobs from
// scripts/test-blobs.sh; both ramdisks and the image written by nitro-keys, then read here from the
// format's definitions (aws-nitro-enclaves-image-format, newc cpio) with node's own zlib CRC-32 and
// node:crypto SHA-384: the header fields, every section where the header says it is, the CRC, PCR0,
// PCR1 and PCR2 recomputed and compared with what `eif build` and `eif describe` print, the ramdisks'
// entries (and, when Debian's cpio is installed, its own listing). Then the refusals: a flipped
// byte (bad CRC), the image cut at every section boundary, header fields out of range with a valid
// CRC; each exits 1 with one line naming the problem. `kms policy --eif` pins the image's PCR0.
// Signed: `eif sign` with a P-384 key and certificate made by the openssl CLI; the signature
// section taken apart with the KMS stand-in's own CBOR decoder (tests/standins/recipient.mjs), the
// COSE_Sign1 verified with node:crypto over a Sig_structure built here, its payload PcrInfo
// {0, PCR0}, PCR8 recomputed from the certificate's DER; describe's signing fields; a flipped
// signature byte refused; `kms policy` pinning PCR8.
//
// Run by ctest as `node test_eif.mjs` with NS_BIN_DIR and NS_SOURCE_DIR.

import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { Harness } from "../js/lib/harness.mjs";
import { cborDecode } from "../standins/recipient.mjs";
import { makeTempDir } from "../js/lib/signer.mjs";

const BIN = process.env.NS_BIN_DIR;
const SRC = process.env.NS_SOURCE_DIR;
if (!BIN || !SRC) {
  console.error("test_eif: NS_BIN_DIR and NS_SOURCE_DIR must be set");
  process.exit(1);
}
const h = new Harness("eif", { timeoutMs: 120_000 });
const tmp = makeTempDir("ns-eif-");

function nitroKeys(args) {
  const r = spawnSync(path.join(BIN, "nitro-keys"), args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout || "", stderr: r.stderr || "" };
}

const sha384 = (...parts) => crypto.createHash("sha384").update(Buffer.concat(parts)).digest();
const extend = (...parts) => sha384(Buffer.alloc(48), sha384(...parts)).toString("hex");

// The EIF as aws-nitro-enclaves-image-format defines it (src/defs/mod.rs), big-endian throughout.
function readEif(buf) {
  const hd = {
    magic: buf.subarray(0, 4).toString("latin1"),
    version: buf.readUInt16BE(4), flags: buf.readUInt16BE(6),
    mem: buf.readBigUInt64BE(8), cpus: buf.readBigUInt64BE(16),
    reserved: buf.readUInt16BE(24), n: buf.readUInt16BE(26),
    offsets: [], sizes: [], unused: buf.readUInt32BE(540), crc: buf.readUInt32BE(544),
  };
  for (let i = 0; i < 32; i++) {
    hd.offsets.push(Number(buf.readBigUInt64BE(28 + 8 * i)));
    hd.sizes.push(Number(buf.readBigUInt64BE(28 + 256 + 8 * i)));
  }
  const sections = [];
  for (let i = 0; i < hd.n; i++) {
    const at = hd.offsets[i];
    const size = Number(buf.readBigUInt64BE(at + 4));
    sections.push({ at, type: buf.readUInt16BE(at), flags: buf.readUInt16BE(at + 2), size,
      data: buf.subarray(at + 12, at + 12 + size) });
  }
  return { hd, sections };
}

// newc: 110-byte header of "070701" and 13 eight-digit hex fields, name + NUL padded to 4, data padded to 4.
function readCpio(buf) {
  const out = [];
  let at = 0;
  const pad = (x) => (x + 3) & ~3;
  for (;;) {
    h.ok(buf.subarray(at, at + 6).toString("latin1") === "070701", `cpio magic at ${at}`);
    const f = (i) => parseInt(buf.subarray(at + 6 + 8 * i, at + 14 + 8 * i).toString("latin1"), 16);
    const e = { ino: f(0), mode: f(1), uid: f(2), gid: f(3), nlink: f(4), mtime: f(5), size: f(6), namesize: f(11) };
    e.name = buf.subarray(at + 110, at + 110 + e.namesize - 1).toString("latin1");
    const dataAt = pad(at + 110 + e.namesize);
    e.data = buf.subarray(dataAt, dataAt + e.size);
    at = pad(dataAt + e.size);
    if (e.name === "TRAILER!!!") break;
    out.push(e);
  }
  h.eq(at, buf.length, "cpio: nothing after the trailer");
  return out;
}

function blobsAndRamdisks() {
  const blobs = path.join(tmp, "blobs");
  const r = spawnSync("sh", [path.join(SRC, "scripts/test-blobs.sh"), blobs], { encoding: "utf8" });
  h.ok(r.status === 0, "test-blobs.sh", r.stderr);
  fs.writeFileSync(path.join(tmp, "signer"), crypto.createHash("sha512").update("signer").digest());
  fs.writeFileSync(path.join(tmp, "clients"), "c1 AA:BB\n");
  const boot = nitroKeys(["eif", "ramdisk", "bootstrap", `--init=${blobs}/init`, `--nsm=${blobs}/nsm.ko`,
    `--out=${tmp}/boot.cpio`]);
  h.ok(boot.status === 0 && boot.stdout === "", "eif ramdisk bootstrap", boot);
  const app = nitroKeys(["eif", "ramdisk", "app", `--signer=${tmp}/signer`,
    `--ca-bundle=${SRC}/deploy/enclave/aws-ca-bundle.pem`, "--arg=enclave", "--arg=--control=vsock:ANY:5000",
    "--arg=--signer-id=signer 1", "--env=A=b", `--file=/etc/nitro-signer/known-clients=${tmp}/clients`,
    `--out=${tmp}/app.cpio`]);
  h.ok(app.status === 0 && app.stdout === "", "eif ramdisk app", app);
  return blobs;
}

function checkRamdisks(blobs) {
  const boot = readCpio(fs.readFileSync(path.join(tmp, "boot.cpio")));
  h.eq(boot.map((e) => [e.name, e.mode.toString(8)]),
    [["dev", "40755"], ["init", "100755"], ["nsm.ko", "100755"]], "bootstrap ramdisk: nitro-cli's layout");
  h.ok(boot[1].data.equals(fs.readFileSync(path.join(blobs, "init"))), "bootstrap ramdisk: init's bytes");
  const app = readCpio(fs.readFileSync(path.join(tmp, "app.cpio")));
  const names = app.map((e) => e.name);
  h.eq(names, [...names].sort(), "app ramdisk: entries in path order");
  for (const want of ["cmd", "env", "rootfs/dev", "rootfs/proc", "rootfs/run", "rootfs/sys", "rootfs/tmp",
    "rootfs/var", "rootfs/usr/bin/nitro-signer", "rootfs/etc/ssl/certs/ca-certificates.crt",
    "rootfs/etc/nitro-signer/known-clients"]) h.ok(names.includes(want), `app ramdisk holds ${want}`);
  const get = (n) => app.find((e) => e.name === n);
  h.eq(get("cmd").data.toString(), "/usr/bin/nitro-signer\nenclave\n--control=vsock:ANY:5000\n--signer-id=signer 1\n",
    "cmd: the signer's path, then one argument per line");
  h.eq(get("env").data.toString(), "A=b\n", "env: one variable per line");
  h.eq(get("rootfs/usr/bin/nitro-signer").mode, 0o100755, "the signer is executable");
  h.ok(app.every((e) => e.uid === 0 && e.gid === 0 && e.mtime === 0), "owner 0:0, mtime 0 everywhere");
  h.eq(app.map((e) => e.ino), app.map((_, i) => i + 1), "inodes numbered in path order");
  const cpio = spawnSync("cpio", ["-it", "--quiet"], { input: fs.readFileSync(path.join(tmp, "app.cpio")), encoding: "utf8" });
  h.ok(!cpio.error, `cpio(1) runs (Debian's cpio, installed by make deps): ${cpio.error}`);
  h.eq(cpio.stdout.trim().split("\n"), names, "cpio -t lists the same entries");
}

function buildAndDescribe(blobs) {
  const b = spawnSync(path.join(BIN, "nitro-keys"), ["eif", "build", `--kernel=${blobs}/bzImage`,
    `--cmdline=${blobs}/cmdline`, `--ramdisk=${tmp}/boot.cpio`, `--ramdisk=${tmp}/app.cpio`, "--memory-mib=2048",
    "--cpus=4", `--out=${tmp}/x.eif`], { encoding: "utf8", env: { ...process.env, SOURCE_DATE_EPOCH: "1700000000" } });
  h.ok(b.status === 0, "eif build", b.stderr);
  const built = JSON.parse(b.stdout);
  const buf = fs.readFileSync(path.join(tmp, "x.eif"));
  const { hd, sections } = readEif(buf);
  h.eq([hd.magic, hd.version, hd.flags, hd.mem, hd.cpus, hd.reserved, hd.unused, hd.n],
    [".eif", 4, 0, 2048n * 1024n * 1024n, 4n, 0, 0, 5], "header fields");
  h.eq(sections.map((s) => s.type), [1, 2, 5, 3, 3], "sections: kernel, cmdline, metadata, two ramdisks");
  let at = 548;
  sections.forEach((s, i) => {
    h.ok(s.at === at && hd.sizes[i] === s.size && s.flags === 0, `section ${i} where and as large as the header says`);
    at += 12 + s.size;
  });
  h.eq(at, buf.length, "nothing after the last section");
  h.ok(hd.offsets.slice(5).every((x) => x === 0) && hd.sizes.slice(5).every((x) => x === 0), "unused slots are 0");
  const crc = zlib.crc32(buf.subarray(548), zlib.crc32(buf.subarray(0, 544)));
  h.eq(crc, hd.crc, "CRC-32 (node's zlib) over the header without its CRC, then the sections");
  h.eq(sections[1].data.toString(), fs.readFileSync(path.join(blobs, "cmdline"), "utf8").trim(),
    "cmdline: the blob, trimmed as nitro-cli does");
  const [kernel, cmdline, meta, r1, r2] = sections.map((s) => s.data);
  const want = { HashAlgorithm: "Sha384 { ... }", PCR0: extend(kernel, cmdline, r1, r2),
    PCR1: extend(kernel, cmdline, r1), PCR2: extend(r2) };
  h.eq(built, { Measurements: want }, "eif build prints the PCRs computed here");
  h.ok(r1.equals(fs.readFileSync(path.join(tmp, "boot.cpio"))) && r2.equals(fs.readFileSync(path.join(tmp, "app.cpio"))),
    "the ramdisks are the files given, in order");
  const m = JSON.parse(meta.toString());
  h.eq(m.BuildMetadata.BuildTime, "2023-11-14T22:13:20+00:00", "metadata BuildTime from SOURCE_DATE_EPOCH");
  h.eq(Object.keys(m), ["ImageName", "ImageVersion", "BuildMetadata", "DockerInfo", "CustomMetadata"],
    "metadata has nitro-cli's EifIdentityInfo fields");
  const d = nitroKeys(["eif", "describe", `${tmp}/x.eif`]);
  h.ok(d.status === 0, "eif describe", d.stderr);
  const desc = JSON.parse(d.stdout);
  h.eq(Object.keys(desc), ["EifVersion", "Measurements", "IsSigned", "CheckCRC", "Arch", "ImageName", "ImageVersion",
    "Metadata"], "describe: nitro-cli describe-eif's fields, in its order, and Arch");
  h.eq([desc.EifVersion, desc.Measurements, desc.IsSigned, desc.CheckCRC, desc.Arch], [4, want, false, true, "x86_64"],
    "describe: version, the PCRs computed here, unsigned, CRC good, x86_64 from the header's flags");
  const only = nitroKeys(["eif", "describe", `${tmp}/x.eif`, "--measurements"]);
  h.eq(JSON.parse(only.stdout), want, "describe --measurements: the Measurements object");
  return { buf, want };
}

function expectRefused(bytes, what, needle) {
  const f = path.join(tmp, "bad.eif");
  fs.writeFileSync(f, bytes);
  const r = nitroKeys(["eif", "describe", f]);
  h.ok(r.status === 1 && r.stdout === "" && r.stderr.startsWith("nitro-keys eif describe: ")
    && r.stderr.trim().split("\n").length === 1 && r.stderr.includes(needle), `${what}: exit 1, one line naming it`, r);
}

function refusals(buf) {
  const flipped = Buffer.from(buf);
  flipped[flipped.length - 100] ^= 1;
  expectRefused(flipped, "a flipped ramdisk byte", "CRC-32");
  const { hd } = readEif(buf);
  const cuts = [0, 4, 547];
  for (let i = 0; i < hd.n; i++) cuts.push(hd.offsets[i], hd.offsets[i] + 6, hd.offsets[i] + 12);
  cuts.push(buf.length - 1);
  for (const n of cuts) if (n < buf.length) expectRefused(buf.subarray(0, n), `cut at ${n}`, "eif: ");
  // header fields out of range, CRC recomputed so only the field is wrong
  const fields = [
    [4, 2, 3, "version 3"], [6, 2, 4, "flags"], [8, 8, 0n, "default memory"], [16, 8, 0n, "default cpus"],
    [16, 8, 100000n, "default cpus"], [24, 2, 1, "reserved"], [26, 2, 33, "section count"],
    [28 + 8 * 3, 8, 0n, "offset"], [28 + 256 + 8 * 4, 8, 1n, "size"], [28 + 8 * 20, 8, 5n, "slot 20"],
    [540, 4, 7, "unused"],
  ];
  for (const [at, width, v, needle] of fields) {
    const b = Buffer.from(buf);
    if (width === 2) b.writeUInt16BE(v, at);
    else if (width === 4) b.writeUInt32BE(v, at);
    else b.writeBigUInt64BE(v, at);
    b.writeUInt32BE(zlib.crc32(b.subarray(548), zlib.crc32(b.subarray(0, 544))), 544);
    expectRefused(b, `header field at ${at} = ${v}`, needle);
  }
  expectRefused(Buffer.concat([buf, Buffer.alloc(12)]), "12 bytes after the end", "after the last section");
}

function policy(want) {
  const base = ["kms", "policy", "--role-arn=arn:aws:iam::111122223333:role/enclave",
    "--key-admin-arn=arn:aws:iam::111122223333:role/admin"];
  const a = nitroKeys([...base, `--eif=${tmp}/x.eif`]);
  const b = nitroKeys([...base, `--pcr0=${want.PCR0}`]);
  h.ok(a.status === 0 && a.stdout.includes(want.PCR0), "kms policy --eif pins the image's PCR0", a);
  h.eq(a.stdout, b.stdout, "kms policy --eif equals --pcr0 with describe's PCR0");
  const both = nitroKeys([...base, `--eif=${tmp}/x.eif`, `--pcr0=${want.PCR0}`]);
  h.ok(both.status === 2 && both.stderr.includes("--pcr0 and --eif"), "kms policy with both: exit 2", both);
  const bad = nitroKeys([...base, `--eif=${tmp}/bad.eif`]);
  h.ok(bad.status === 1 && bad.stdout === "" && bad.stderr.includes("bad.eif"), "kms policy --eif of a bad image: exit 1", bad);
}

function signed(want) {
  spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes",
    "-keyout", `${tmp}/sign.key`, "-out", `${tmp}/sign.pem`, "-days", "2", "-subj", "/C=DE/O=Image Team/CN=image signer"],
  { stdio: "ignore", timeout: 20_000 });
  h.ok(fs.existsSync(`${tmp}/sign.pem`), "openssl made a P-384 signing key and certificate");
  const sign = (out) => nitroKeys(["eif", "sign", `${tmp}/x.eif`, `--signing-key=${tmp}/sign.key`,
    `--signing-certificate=${tmp}/sign.pem`, `--out=${out}`]);
  const s1 = sign(`${tmp}/s1.eif`);
  const s2 = sign(`${tmp}/s2.eif`);
  const cert = new crypto.X509Certificate(fs.readFileSync(`${tmp}/sign.pem`));
  const pcr8 = extend(cert.raw);
  const withPcr8 = { ...want, PCR8: pcr8 };
  h.ok(s1.status === 0, "eif sign", s1);
  h.eq(JSON.parse(s1.stdout), { Measurements: withPcr8 }, "eif sign prints PCR0/1/2 unchanged and PCR8 = extend(DER)");
  h.eq(s1.stdout, s2.stdout, "signing twice: the same measurements");
  const oneGo = nitroKeys(["eif", "build", `--kernel=${tmp}/blobs/bzImage`, `--cmdline=${tmp}/blobs/cmdline`,
    `--ramdisk=${tmp}/boot.cpio`, `--ramdisk=${tmp}/app.cpio`, "--memory-mib=2048", "--cpus=4", `--out=${tmp}/b.eif`,
    `--signing-key=${tmp}/sign.key`, `--signing-certificate=${tmp}/sign.pem`]);
  h.ok(oneGo.status === 0 && oneGo.stdout === s1.stdout, "eif build --signing-key: the same measurements as eif sign", oneGo);
  const d1 = nitroKeys(["eif", "describe", `${tmp}/b.eif`, "--measurements"]);
  h.eq(JSON.parse(d1.stdout || "null"), withPcr8, "eif build --signing-key: a signed image");
  const buf = fs.readFileSync(`${tmp}/s1.eif`);
  h.ok(!buf.equals(fs.readFileSync(`${tmp}/s2.eif`)), "signing twice: different bytes (ECDSA is randomised)");
  const unsigned = fs.readFileSync(`${tmp}/x.eif`);
  const { hd, sections } = readEif(buf);
  h.eq(sections.map((x) => x.type), [1, 2, 5, 3, 3, 4], "signed: the signature section last");
  h.ok(buf.subarray(548, unsigned.length).equals(unsigned.subarray(548)), "signed: the other sections untouched");
  h.eq(sections[5].at + 12 + sections[5].size, buf.length, "signed: nothing after the signature");
  h.eq(zlib.crc32(buf.subarray(548), zlib.crc32(buf.subarray(0, 544))), hd.crc, "signed: the CRC covers the signature");
  // serde_cbor of Vec<PcrSignature>: byte fields as arrays of integers
  const sig = cborDecode(sections[5].data);
  h.ok(Array.isArray(sig) && sig.length === 1 && sig[0] instanceof Map, "section: an array of one map");
  h.eq([...sig[0].keys()], ["signing_certificate", "signature"], "section: PcrSignature's fields in order");
  const bytes = (a) => (Array.isArray(a) && a.every((x) => Number.isInteger(x) && x >= 0 && x < 256) ? Buffer.from(a) : null);
  const pem = bytes(sig[0].get("signing_certificate"));
  h.ok(pem && new crypto.X509Certificate(pem).raw.equals(cert.raw), "section: the certificate, PEM, as an integer array");
  const cose = cborDecode(bytes(sig[0].get("signature")));
  h.ok(Array.isArray(cose) && cose.length === 4, "COSE_Sign1: an untagged array of 4");
  h.eq(cose[0].toString("hex"), "a1013822", "COSE_Sign1: protected {1: -35} (ES384)");
  h.ok(cose[1] instanceof Map && cose[1].size === 0, "COSE_Sign1: unprotected {}");
  const payload = cborDecode(cose[2]);
  h.eq([...payload.keys()], ["register_index", "register_value"], "payload: PcrInfo's fields in order");
  h.eq(payload.get("register_index"), 0, "payload: register_index 0");
  h.eq(bytes(payload.get("register_value"))?.toString("hex"), want.PCR0, "payload: register_value PCR0");
  const bstr = (b) => Buffer.concat([b.length < 24 ? Buffer.from([0x40 | b.length]) : Buffer.from([0x58, b.length]), b]);
  const tbs = Buffer.concat([Buffer.from([0x84, 0x6a]), Buffer.from("Signature1"), bstr(cose[0]), Buffer.from([0x40]),
    bstr(cose[2])]);
  h.ok(crypto.verify("sha384", tbs, { key: cert.publicKey, dsaEncoding: "ieee-p1363" }, cose[3]),
    "COSE_Sign1: ES384 over Sig_structure verifies with the certificate (node:crypto)");
  const d = nitroKeys(["eif", "describe", `${tmp}/s1.eif`]);
  h.ok(d.status === 0, "eif describe of the signed image", d);
  const desc = JSON.parse(d.stdout);
  h.eq(Object.keys(desc), ["EifVersion", "Measurements", "IsSigned", "SigningCertificate", "CheckCRC", "SignatureCheck",
    "Arch", "ImageName", "ImageVersion", "Metadata"], "describe signed: nitro-cli's fields in its order");
  h.eq([desc.Measurements, desc.IsSigned, desc.CheckCRC, desc.SignatureCheck], [withPcr8, true, true, true],
    "describe signed: PCR8, IsSigned, SignatureCheck");
  h.eq(desc.SigningCertificate.IssuerName, { commonName: "image signer", countryName: "DE", organizationName: "Image Team" },
    "describe signed: IssuerName by long names, sorted");
  h.eq(desc.SigningCertificate.Algorithm, "ecdsa-with-SHA256", "describe signed: the certificate's signature algorithm");
  h.eq(desc.SigningCertificate.Signature, cert.raw.subarray(cert.raw.length - desc.SigningCertificate.Signature
    .split(":").length).toString("hex").toUpperCase().match(/../g).join(":"), "describe signed: the certificate's signature bits");
  h.eq(new Date(desc.SigningCertificate.NotAfter).getTime(), new Date(cert.validTo).getTime(), "describe signed: NotAfter");
  const again = nitroKeys(["eif", "sign", `${tmp}/s1.eif`, `--signing-key=${tmp}/sign.key`,
    `--signing-certificate=${tmp}/sign.pem`, `--out=${tmp}/s3.eif`]);
  h.ok(again.status === 1 && again.stderr.includes("already signed") && !fs.existsSync(`${tmp}/s3.eif`),
    "signing a signed image: exit 1, nothing written", again);
  const flipped = Buffer.from(buf);
  flipped[flipped.length - 1] ^= 1;
  flipped.writeUInt32BE(zlib.crc32(flipped.subarray(548), zlib.crc32(flipped.subarray(0, 544))), 544);
  expectRefused(flipped, "a flipped signature byte", "does not verify");
  const base = ["kms", "policy", "--role-arn=arn:aws:iam::111122223333:role/enclave",
    "--key-admin-arn=arn:aws:iam::111122223333:role/admin"];
  const unacked = nitroKeys([...base, `--eif=${tmp}/s1.eif`, "--condition=pcr8"]);
  h.ok(unacked.status === 2 && unacked.stderr.includes("--allow-pcr8-only") && unacked.stdout === "",
    "kms policy --condition=pcr8 without --allow-pcr8-only: exit 2, no policy", unacked);
  const only = nitroKeys([...base, `--eif=${tmp}/s1.eif`, "--condition=pcr8", "--allow-pcr8-only"]);
  h.ok(only.status === 0, "kms policy --condition=pcr8 --allow-pcr8-only --eif of the signed image", only);
  const st = JSON.parse(only.stdout).Statement;
  h.eq(st[1].Condition, { StringEqualsIgnoreCase: { "kms:RecipientAttestation:PCR8": pcr8 } },
    "kms policy --condition=pcr8: PCR8 alone");
  h.eq(st[2].Condition, { Null: { "kms:RecipientAttestation:PCR8": "true" } }, "kms policy --condition=pcr8: deny without it");
  const both = nitroKeys([...base, `--eif=${tmp}/s1.eif`, `--pcr8=${pcr8}`]);
  h.eq(JSON.parse(both.stdout).Statement[1].Condition, { StringEqualsIgnoreCase: {
    "kms:RecipientAttestation:ImageSha384": want.PCR0, "kms:RecipientAttestation:PCR8": pcr8 } },
  "kms policy --pcr8 with the image: both must match");
  const implied = nitroKeys([...base, `--eif=${tmp}/s1.eif`]);
  h.eq(JSON.parse(implied.stdout).Statement[1].Condition, { StringEqualsIgnoreCase: {
    "kms:RecipientAttestation:ImageSha384": want.PCR0, "kms:RecipientAttestation:PCR8": pcr8 } },
  "kms policy --eif of a signed image: its PCR0 and PCR8, both required");
  const other = nitroKeys([...base, `--eif=${tmp}/s1.eif`, `--pcr8=${"5c".repeat(48)}`]);
  h.ok(other.status === 2 && other.stderr.includes("does not include the PCR8") && other.stdout === "",
    "kms policy --eif with a --pcr8 the image does not have: exit 2", other);
  const unsignedWith8 = nitroKeys([...base, `--eif=${tmp}/x.eif`, `--pcr8=${pcr8}`]);
  h.ok(unsignedWith8.status === 2 && unsignedWith8.stderr.includes("not signed"),
    "kms policy --eif of an unsigned image with --pcr8: exit 2", unsignedWith8);
  const unsignedPcr8 = nitroKeys([...base, `--eif=${tmp}/x.eif`, "--condition=pcr8", "--allow-pcr8-only"]);
  h.ok(unsignedPcr8.status === 2 && unsignedPcr8.stderr.includes("not signed"), "--condition=pcr8 of an unsigned image: exit 2",
    unsignedPcr8);
}

await Harness.run(h, async () => {
  const blobs = blobsAndRamdisks();
  checkRamdisks(blobs);
  const { buf, want } = buildAndDescribe(blobs);
  refusals(buf);
  policy(want);
  signed(want);
  const u = nitroKeys(["eif", "ramdisk", "app", `--signer=${tmp}/signer`, `--ca-bundle=${tmp}/clients`, `--out=${tmp}/z`, "--arg=a\nb"]);
  h.ok(u.status === 1 && u.stderr.includes("0x0a") && !fs.existsSync(`${tmp}/z`),
    "an argument init would split: exit 1, nothing written", u);
  h.finish("nitro-keys eif cross-checked (CRC, PCRs, cpio)");
});
