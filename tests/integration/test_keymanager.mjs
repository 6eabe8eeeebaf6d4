// The Keymanager API on a standalone signer (sqlite slashing protection):
// 1. the token: made 0600 with 64 hex digits, its path logged and its value never; 401 without a
//    bearer token (or with another scheme), 403 with a wrong one;
// 2. import, sign, delete (the interchange returned holds what was signed), delete again
//    (not_active with the same history), re-import with that interchange: only what is safe is
//    signed again; a restart finds the imported keys on disk; a read-only key is not deleted;
// 3. bad input, each answered as the API says, naming the problem, and leaving nothing behind (no
//    file, no key, no slashing row): malformed body, mismatched lengths, malformed keystore, wrong
//    password, one key twice in a request, another network's or a malformed slashing_protection,
//    pubkeys that are not 48-byte hex, a body over the size limit.
// Every response body is checked against the API's schemas (tests/vectors/keymanager-apis).
//
// Run by ctest as `node test_keymanager.mjs` with NS_BIN_DIR and NS_SOURCE_DIR.

import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { fromHex, makeKeys, verify } from "../js/lib/bls.mjs";
import { KeyManager, attestation, block, keymanagerArgs, loadSchemas, reasonOf } from "../js/lib/keymanager.mjs";
import { binRunner, makeKeystores, testRun } from "../js/lib/proc.mjs";
import { signatureFrom, startSigner, writeKeyConfigs } from "../js/lib/signer.mjs";

const h = new Harness("keymanager", { timeoutMs: 120_000 });
const src = process.env.NS_SOURCE_DIR;
const bin = process.env.NS_BIN_DIR;
const PASSWORD = "correct horse battery staple";
const OTHER_GVR = `0x${"11".repeat(32)}`;
const MAINNET_GVR = "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95";

const ls = (d) => fs.readdirSync(d).filter((f) => !f.startsWith(".")).sort();

await Harness.run(h, async () => {
  const { tmp } = testRun("ns-keymanager-");
  const { runOk, run } = binRunner(bin);
  const schemas = loadSchemas(src);
  h.ok(true, "schemas.json agrees with the OpenAPI YAML copy");
  const check = (problems, what) => h.ok(problems.length === 0, what, problems);

  // Keystores to import (fast pbkdf2) and a read-only raw key in --key-store-path.
  const pwFile = path.join(tmp, "pw.txt");
  fs.writeFileSync(pwFile, `${PASSWORD}\n`);
  const ksDir = path.join(tmp, "source");
  const pubkeys = makeKeystores(runOk, ksDir, 4, pwFile, 1024);
  const ksText = {};
  for (const f of fs.readdirSync(ksDir).filter((x) => x.endsWith(".json"))) {
    const t = fs.readFileSync(path.join(ksDir, f), "utf8");
    ksText[`0x${JSON.parse(t).pubkey}`] = t;
  }
  const [k0, k1, k2, k3] = pubkeys;
  const ro = makeKeys(1);
  const roDir = path.join(tmp, "readonly");
  fs.mkdirSync(roDir);
  writeKeyConfigs(roDir, ro);

  const dir = path.join(tmp, "signer");
  const db = path.join(tmp, "slashing.db");
  const args = keymanagerArgs(dir, [`--slashing-protection-db-url=sqlite:${db}`]);
  const tokenFile = path.join(dir, "token");
  let s = await startSigner({ keyStorePath: roDir, eth2Args: args, name: "km" });

  // 1. the token
  const st = fs.statSync(tokenFile);
  h.eq(st.mode & 0o777, 0o600, "the token file is made with mode 0600");
  const token = fs.readFileSync(tokenFile, "utf8").trim();
  h.ok(/^[0-9a-f]{64}$/.test(token), "the token is 256 bits in hex", token.length);
  h.ok(s.log.includes(tokenFile), "the token file's path is logged", s.log.slice(-800));
  h.ok(!s.log.includes(token), "the token itself is never logged");
  h.ok(/keymanager API over plain HTTP/.test(s.log), "without TLS the signer warns that the token crosses in clear");
  const km = new KeyManager({ port: s.port, token, schemas, check });
  let r = await km.list({ token: null });
  h.eq(r.status, 401, "no bearer token: 401");
  r = await km.list({ token: null, headers: { Authorization: `Basic ${token}` } });
  h.eq(r.status, 401, "another scheme than Bearer: 401");
  r = await km.list({ token: `${token.slice(0, 63)}${token[63] === "0" ? "1" : "0"}` });
  h.eq(r.status, 403, "a wrong token (one digit off): 403");
  r = await km.import([ksText[k0]], [PASSWORD], undefined, { token: "nope" });
  h.eq(r.status, 403, "a wrong token on POST: 403");
  r = await km.delete([ro[0].pkHex], { token: null });
  h.eq(r.status, 401, "DELETE without a token: 401");
  r = await km.list();
  h.eq(r.json?.data, [{ validating_pubkey: ro[0].pkHex, readonly: true }], "GET lists the read-only key only");

  // 2. import, sign, delete, re-import
  r = await km.import([ksText[k0], ksText[k1]], [PASSWORD, PASSWORD]);
  h.eq(r.json?.data?.map((x) => x.status), ["imported", "imported"], "two keystores imported", r.body);
  const keysDir = path.join(dir, "keys"), pwDir = path.join(dir, "passwords");
  h.eq(ls(keysDir).length, 2, "two keystore files written", ls(keysDir));
  h.eq(ls(pwDir).length, 2, "two password files written", ls(pwDir));
  for (const f of [...ls(keysDir).map((x) => path.join(keysDir, x)), ...ls(pwDir).map((x) => path.join(pwDir, x))])
    h.eq(fs.statSync(f).mode & 0o777, 0o600, `${path.basename(f)} is 0600`);
  r = await km.list();
  h.eq(r.json?.data?.map((x) => [x.validating_pubkey, x.readonly]).sort(),
    [[k0, false], [k1, false], [ro[0].pkHex, true]].sort(), "GET lists the imported keys as deletable");
  r = await km.import([ksText[k0]], [PASSWORD]);
  h.eq(r.json?.data?.[0]?.status, "duplicate", "a loaded key again: duplicate");

  const att = attestation(100, 101), blk = block(3300);
  for (const m of [att, blk]) {
    const res = await s.sign(k0, m.body);
    const { sig, problem } = signatureFrom(res, true);
    h.ok(!problem && verify(fromHex(sig), m.root, fromHex(k0)), `an imported key signs (${m.body.type})`, problem);
  }

  r = await km.delete([k0, k3, ro[0].pkHex]);
  h.eq(r.json?.data?.map((x) => x.status), ["deleted", "not_found", "error"],
    "delete: deleted, not_found, and error for the read-only key", r.body);
  h.ok(/read-only/.test(r.json?.data?.[2]?.message), "the read-only refusal says why", r.json?.data?.[2]);
  const sp = JSON.parse(r.json?.slashing_protection || "{}");
  h.eq(sp.metadata, { interchange_format_version: "5", genesis_validators_root: MAINNET_GVR },
    "the interchange is v5 of this network");
  h.eq(sp.data?.map((d) => d.pubkey), [k0], "the interchange holds the deleted key only");
  h.eq(sp.data?.[0]?.signed_attestations?.map((a) => [a.source_epoch, a.target_epoch]), [["100", "101"]],
    "the interchange holds the signed attestation");
  h.eq(sp.data?.[0]?.signed_blocks?.map((b) => b.slot), ["3300"], "the interchange holds the signed block");
  h.eq(ls(keysDir).length, 1, "the deleted key's keystore is gone from disk", ls(keysDir));
  h.eq(ls(pwDir).length, 1, "the deleted key's password file is gone from disk", ls(pwDir));
  r = await s.sign(k0, attestation(101, 102).body);
  h.eq(r.status, 404, "a deleted key signs nothing (not loaded)");
  r = await km.delete([k0]);
  h.eq(r.json?.data?.[0]?.status, "not_active", "deleted again: not_active");
  h.eq(JSON.parse(r.json?.slashing_protection || "{}").data, sp.data, "with the same history (kept after the delete)");

  r = await km.import([ksText[k0]], [PASSWORD], JSON.stringify(sp));
  h.eq(r.json?.data?.[0]?.status, "imported", "re-imported with the returned interchange", r.body);
  r = await s.sign(k0, attestation(100, 101).body);
  h.eq([r.status, reasonOf(r)], [412, "double_vote"], "after the re-import the same target is refused");
  r = await s.sign(k0, block(3300).body);
  h.eq([r.status, reasonOf(r)], [412, "double_proposal"], "after the re-import the same slot is refused");
  for (const m of [attestation(101, 102), block(3301)]) {
    const { problem } = signatureFrom(await s.sign(k0, m.body), true);
    h.ok(!problem, `after the re-import a safe ${m.body.type} is signed`, problem);
  }

  // A restart finds the imported keys where it loads keys from.
  await s.stop();
  s = await startSigner({ keyStorePath: roDir, eth2Args: args, name: "km2" });
  km.port = s.port;
  r = await km.list();
  h.eq(r.json?.data?.map((x) => x.validating_pubkey).sort(), [k0, k1, ro[0].pkHex].sort(),
    "after a restart the imported keys are loaded from disk");
  h.ok(!/key not loaded/.test(s.log), "and nothing failed to load", s.log.slice(-600));
  const { problem: p2 } = signatureFrom(await s.sign(k1, attestation(7, 8).body), true);
  h.ok(!p2, "a key imported before the restart signs", p2);

  // 3. bad input leaves nothing behind
  const exportFile = path.join(tmp, "export.json");
  const dbState = () => {
    const x = run("nitro-signer", ["eth2", `--slashing-protection-db-url=sqlite:${db}`, "export", `--to=${exportFile}`]);
    return x.status === 0 ? fs.readFileSync(exportFile, "utf8") : `export failed: ${x.stderr}`;
  };
  const snapshot = async () => ({ keys: ls(keysDir), passwords: ls(pwDir), loaded: (await km.list()).json, db: dbState() });
  const before = await snapshot();
  const otherNet = JSON.stringify({ ...sp, metadata: { ...sp.metadata, genesis_validators_root: OTHER_GVR },
    data: [{ ...sp.data[0], pubkey: k2 }] });
  const bad = [
    ["a body that is not JSON", { raw: "{\"keystores\": [" }, 400, /invalid JSON/],
    // (found by fuzz_keymanager: jansson's message quoted the broken bytes, and a reply holding them was
    // no JSON at all)
    ["a body that is not UTF-8", { raw: Buffer.from("227b5c6e202020205cdb9c8d8670746f5c223a207bf16e20202020202020207b", "hex") },
      400, /invalid JSON/],
    ["keystores missing", { body: { passwords: [] } }, 400, /keystores/],
    ["keystores and passwords of different lengths", { body: { keystores: [ksText[k2]], passwords: [] } }, 400, /differ in length/],
    ["a keystore that is not a string", { body: { keystores: [{}], passwords: [PASSWORD] } }, 400, /keystores\[0\]/],
    ["a password that is not a string", { body: { keystores: [ksText[k2]], passwords: [1] } }, 400, /passwords\[0\]/],
    ["one key twice in a request", { body: { keystores: [ksText[k2], ksText[k2]], passwords: [PASSWORD, "x"] } }, 400,
      /keystores\[0\] and keystores\[1\]/],
    ["a slashing_protection of another network", { body: { keystores: [ksText[k2]], passwords: [PASSWORD],
      slashing_protection: otherNet } }, 400, /genesis_validators_root/],
    ["a malformed slashing_protection", { body: { keystores: [ksText[k2]], passwords: [PASSWORD],
      slashing_protection: "{\"metadata\":{}}" } }, 400, /slashing_protection/],
    ["a slashing_protection that is not a string", { body: { keystores: [ksText[k2]], passwords: [PASSWORD],
      slashing_protection: sp } }, 400, /slashing_protection/],
    ["a malformed keystore", { body: { keystores: ["{\"version\": 4}"], passwords: [PASSWORD] } }, 200, /keystores\[0\]: /],
    ["a keystore that is not JSON", { body: { keystores: ["not json"], passwords: [PASSWORD] } }, 200, /keystores\[0\]: /],
    ["a wrong password", { body: { keystores: [ksText[k2]], passwords: ["wrong"] } }, 200, /keystores\[0\]: .*password/],
  ];
  for (const [what, req, status, msg] of bad) {
    r = await km.call("POST", req.body, { raw: req.raw });
    h.eq(r.status, status, `${what}: ${status}`);
    const text = status === 200 ? (r.json?.data?.[0]?.status === "error" && r.json.data[0].message) : r.json?.message;
    h.ok(msg.test(text || ""), `${what}: the message names the problem`, r.body.slice(0, 400));
    h.eq(await snapshot(), before, `${what}: nothing is left behind`);
  }
  for (const [what, pks] of [["a pubkey without 0x", [k2.slice(2)]], ["a 47-byte pubkey", [k2.slice(0, -2)]],
    ["a pubkey with a non-hex digit", [`${k2.slice(0, -1)}g`]], ["a pubkey that is not a string", [5]]]) {
    r = await km.delete(pks);
    h.eq(r.status, 400, `DELETE with ${what}: 400`);
    h.ok(/pubkeys\[0\]/.test(r.json?.message || ""), `DELETE with ${what}: the message names the field`, r.body);
  }
  r = await km.call("DELETE", undefined, { raw: "{\"pubkeys\": 1}" });
  h.eq(r.status, 400, "DELETE with pubkeys not an array: 400");
  h.eq(await snapshot(), before, "the refused DELETEs changed nothing");
  // Over the server's body limit (1 MiB): 413 before any handler (the API does not define a body
  // for it, so only the status is checked).
  const { httpRequest } = await import("../js/lib/signer.mjs");
  const big = await httpRequest({ port: s.port, method: "POST", path: "/eth/v1/keystores",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ keystores: ["x".repeat(1100 * 1024)], passwords: [""] }) });
  h.eq(big.status, 413, "a body over the size limit: 413");
  h.eq(await snapshot(), before, "the oversized body changed nothing");

  // A mixed request: the good keystore is imported, the bad one reported, nothing of it kept.
  r = await km.import([ksText[k2], ksText[k3]], [PASSWORD, "wrong"]);
  h.eq(r.json?.data?.map((x) => x.status), ["imported", "error"], "a mixed request: imported and error", r.body);
  h.eq(ls(keysDir).length, 3, "only the good keystore was written", ls(keysDir));
  await s.stop();

  // A token file others may write: whoever writes it chooses the token, so the signer does not start.
  fs.chmodSync(tokenFile, 0o620);
  let refused = null;
  try {
    const t = await startSigner({ keyStorePath: roDir, eth2Args: args, name: "km-writable-token" });
    await t.stop();
  } catch (err) {
    refused = err;
  }
  h.ok(refused && /writable by others/.test(String(refused.message || refused)),
    "a group-writable token file is refused at start, naming it", String(refused?.message || "it started").slice(-300));
  fs.chmodSync(tokenFile, 0o600);
  h.finish("keymanager API standalone");
});
