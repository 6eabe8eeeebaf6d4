// End-to-end TLS test: a throwaway CA, server certificate (SAN IP:127.0.0.1, DNS:localhost) in a
// PKCS#12 keystore and client certificates, all made with the openssl CLI. Checks, as Web3Signer's
// --tls-known-clients-file / --tls-allow-any-client define them:
//   known client cert (fingerprint listed) -> signs over HTTPS, signature verifies (noble);
//   no client cert, a CA-signed but unlisted cert, a self-signed cert -> connection refused;
//   plain HTTP to the TLS port -> no successful reply;
//   --tls-allow-any-client -> HTTPS works without a client cert.
//
// Run by ctest as `node test_tls.mjs` with NS_BIN_DIR; needs `npm ci --ignore-scripts` in tests/js.

import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { fromHex, makeKeys, sign, toHex, verify } from "../js/lib/bls.mjs";
import { FORK, builders, epochIn } from "../js/lib/eth2.mjs";
import { httpRequest, makeTempDir, signatureFrom, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("tls");
function openssl(dir, args) {
  return execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 }).toString("utf8");
}

// CA, server cert + PKCS#12, three client certs (vc1 known, vc2 CA-signed unknown, vc3 self-signed).
function makePki(dir) {
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, ["req", "-x509", ...ecKey, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=nitro-signer test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const issue = (name, cn, ext) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, ["req", "-new", ...ecKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
    openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", `${Date.now()}${name.length}`,
      "-days", "2", "-out", `${name}.pem`, "-extfile", `${name}.ext`]);
  };
  issue("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
  const clientExt = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n";
  issue("vc1", "vc1", clientExt);
  issue("vc2", "vc2", clientExt);
  openssl(dir, ["req", "-x509", ...ecKey, "-keyout", "vc3.key", "-out", "vc3.pem", "-days", "2", "-subj", "/CN=vc3"]);

  fs.writeFileSync(path.join(dir, "keystore.pass"), "correct horse battery staple\n", { mode: 0o600 });
  openssl(dir, ["pkcs12", "-export", "-in", "server.pem", "-inkey", "server.key", "-certfile", "ca.pem", "-name", "nitro-signer",
    "-out", "server.p12", "-passout", "file:keystore.pass"]);

  const read = (f) => fs.readFileSync(path.join(dir, f));
  const pki = { ca: read("ca.pem") };
  for (const vc of ["vc1", "vc2", "vc3"]) pki[vc] = { cert: read(`${vc}.pem`), key: read(`${vc}.key`) };

  // Web3Signer known-clients format: "<name> <SHA-256 fingerprint AA:BB:..>" per line.
  const fp = new X509Certificate(pki.vc1.cert).fingerprint256;
  const fpOpenssl = openssl(dir, ["x509", "-in", "vc1.pem", "-noout", "-fingerprint", "-sha256"]).trim().split("=")[1];
  h.eq(fp, fpOpenssl, "vc1 fingerprint: node and openssl agree");
  h.ok(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(fp), "fingerprint format AA:BB:..", fp);
  fs.writeFileSync(path.join(dir, "known-clients.txt"), `vc1 ${fp}\n`);
  return pki;
}

async function main() {
  const dir = makeTempDir("ns-tls-");
  const pki = makePki(dir);
  const keys = makeKeys(1);
  const key = keys[0];
  const keyDir = makeTempDir("ns-keys-");
  writeKeyConfigs(keyDir, keys);
  const tlsArgs = [`--tls-keystore-file=${path.join(dir, "server.p12")}`, `--tls-keystore-password-file=${path.join(dir, "keystore.pass")}`];
  const eth2Args = ["--slashing-protection-enabled=false"];
  let signed = 0;

  const signsCorrectly = async (signer, tls, what) => {
    const c = builders.RANDAO_REVEAL(FORK.ELECTRA, epochIn(FORK.ELECTRA, "random"));
    const res = await httpRequest({ port: signer.port, tls, method: "POST", path: `/api/v1/eth2/sign/${key.pkHex}`,
      headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(c.body), timeoutMs: 5000 });
    const { sig, problem } = signatureFrom(res, true);
    if (h.ok(!problem, `${what}: signed`, problem || undefined)
      && h.ok(sig === toHex(sign(key.sk, c.root)) && verify(fromHex(sig), c.root, key.pk), `${what}: signature verifies`)) signed++;
  };
  const refused = async (signer, tls, what) => {
    const res = await httpRequest({ port: signer.port, tls, path: "/upcheck", timeoutMs: 5000 });
    if (!h.ok(res.status === 0, `${what}: connection refused`, res.status ? { status: res.status, body: res.body.slice(0, 200) } : undefined)) return;
    // the refusal must come from the server (alert or reset), not from our own verification of it
    const e = `${res.error.code} ${res.error.message}`;
    h.ok(/ALERT|ECONNRESET|EPIPE|socket hang up/i.test(e), `${what}: refused by the server`, e);
  };

  // 1. known clients only
  const known = await startSigner({
    keyStorePath: keyDir, name: "signer (known clients)", eth2Args, tls: { ca: pki.ca, ...pki.vc1 },
    topArgs: [...tlsArgs, `--tls-known-clients-file=${path.join(dir, "known-clients.txt")}`],
  });
  await signsCorrectly(known, { ca: pki.ca, ...pki.vc1 }, "known client vc1");
  const pks = await known.get("/api/v1/eth2/publicKeys", { Accept: "application/json" });
  h.ok(pks.status === 200 && pks.body.includes(key.pkHex), "publicKeys over HTTPS with vc1", { status: pks.status, body: pks.body.slice(0, 200) });
  await refused(known, { ca: pki.ca }, "no client certificate");
  await refused(known, { ca: pki.ca, ...pki.vc2 }, "CA-signed client certificate not in known clients");
  await refused(known, { ca: pki.ca, ...pki.vc3 }, "self-signed unknown client certificate");
  const plain = await httpRequest({ port: known.port, path: "/upcheck", timeoutMs: 5000 });
  h.ok(plain.status === 0 || plain.status >= 400, "plain HTTP to the TLS port fails", { status: plain.status, body: (plain.body || "").slice(0, 200) });
  // still serving after the refused handshakes
  await signsCorrectly(known, { ca: pki.ca, ...pki.vc1 }, "known client vc1 after refused clients");
  h.ok(known.alive(), "signer (known clients) still running", known.log.slice(-2000));
  await known.stop();

  // 2. any client
  const any = await startSigner({
    keyStorePath: keyDir, name: "signer (any client)", eth2Args, tls: { ca: pki.ca }, topArgs: [...tlsArgs, "--tls-allow-any-client"],
  });
  await signsCorrectly(any, { ca: pki.ca }, "--tls-allow-any-client without client certificate");
  await signsCorrectly(any, { ca: pki.ca, ...pki.vc3 }, "--tls-allow-any-client with a self-signed client certificate");
  h.ok(any.alive(), "signer (any client) still running", any.log.slice(-2000));
  await any.stop();

  h.finish(`${signed} HTTPS signatures verified, unknown clients refused`);
}

await Harness.run(h, main);
