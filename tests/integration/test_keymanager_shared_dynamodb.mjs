// The Keymanager API on two standalone signers sharing one DynamoDB slashing table (the stand-ins'
// dynalite): a key imported on both, deleted through A's API, is refused by B at once (412
// validator_disabled for blocks and attestations, B neither restarted nor reloaded); A's DELETE
// answers the history B and A signed; re-imported on A with that interchange, the key signs again
// only what is safe, and B (still holding it) is let through again too.
//
// Run by ctest as `node test_keymanager_shared_dynamodb.mjs` with NS_BIN_DIR and NS_SOURCE_DIR.

import fs from "node:fs";
import path from "node:path";
import { Harness } from "../js/lib/harness.mjs";
import { KeyManager, attestation, block, keymanagerArgs, loadSchemas, reasonOf } from "../js/lib/keymanager.mjs";
import { awsEnvOf, binRunner, makeKeystores, startStandins, testRun } from "../js/lib/proc.mjs";
import { signatureFrom, startSigner } from "../js/lib/signer.mjs";

const h = new Harness("keymanager_shared_dynamodb", { timeoutMs: 120_000 });
const src = process.env.NS_SOURCE_DIR;
const bin = process.env.NS_BIN_DIR;
const PASSWORD = "shared table";

await Harness.run(h, async () => {
  const { tmp, children } = testRun("ns-km-ddb-");
  const env = await startStandins({ src, tmp, children });
  Object.assign(process.env, awsEnvOf(env));
  const { runOk } = binRunner(bin);
  const schemas = loadSchemas(src);
  const check = (problems, what) => h.ok(problems.length === 0, what, problems);
  const macFile = path.join(tmp, "mac.key");
  fs.writeFileSync(macFile, `${"5a".repeat(32)}\n`, { mode: 0o600 });
  const slashing = ["--slashing-protection-db-url=dynamodb://km-shared", `--slashing-protection-mac-key-file=${macFile}`];
  runOk("nitro-signer", ["eth2", ...slashing, "create-table"]);

  const pwFile = path.join(tmp, "pw.txt");
  fs.writeFileSync(pwFile, PASSWORD);
  const ksDir = path.join(tmp, "source");
  const [pk] = makeKeystores(runOk, ksDir, 1, pwFile, 1024);
  const ks = fs.readFileSync(path.join(ksDir, fs.readdirSync(ksDir).find((f) => f.endsWith(".json"))), "utf8");
  const empty = path.join(tmp, "no-configs");
  fs.mkdirSync(empty);

  const start = async (name) => {
    const dir = path.join(tmp, name);
    const s = await startSigner({ keyStorePath: empty, eth2Args: keymanagerArgs(dir, slashing), name });
    const token = fs.readFileSync(path.join(dir, "token"), "utf8").trim();
    return { s, km: new KeyManager({ port: s.port, token, schemas, check }) };
  };
  const A = await start("A"), B = await start("B");
  for (const [n, x] of [["A", A], ["B", B]]) {
    const r = await x.km.import([ks], [PASSWORD]);
    h.eq(r.json?.data?.[0]?.status, "imported", `imported on ${n}`, r.body);
  }
  const signs = async (x, m, what) => {
    const { problem } = signatureFrom(await x.s.sign(pk, m.body), true);
    h.ok(!problem, what, problem);
  };
  await signs(A, attestation(200, 201), "A signs an attestation");
  await signs(B, block(6500), "B signs a block");

  let r = await A.km.delete([pk]);
  h.eq(r.json?.data?.[0]?.status, "deleted", "deleted through A's API", r.body);
  const sp = JSON.parse(r.json?.slashing_protection || "{}");
  const entry = sp.data?.find((d) => d.pubkey === pk);
  h.eq(entry?.signed_attestations?.map((a) => a.target_epoch), ["201"], "A's interchange holds A's attestation");
  h.eq(entry?.signed_blocks?.map((b) => b.slot), ["6500"], "and B's block (one table)");

  for (const m of [attestation(201, 202), block(6501)]) {
    r = await B.s.sign(pk, m.body);
    h.eq([r.status, reasonOf(r)], [412, "validator_disabled"], `B, not reloaded, refuses the deleted key (${m.body.type})`);
  }
  h.ok(!/reload/i.test(B.s.log), "B did not reload", B.s.log.slice(-400));

  r = await A.km.import([ks], [PASSWORD], JSON.stringify(sp));
  h.eq(r.json?.data?.[0]?.status, "imported", "re-imported on A with the interchange", r.body);
  r = await A.s.sign(pk, block(6500).body);
  h.eq([r.status, reasonOf(r)], [412, "double_proposal"], "the slot B signed is refused on A");
  await signs(A, attestation(201, 202), "A signs a later attestation");
  r = await B.s.sign(pk, attestation(201, 202).body);
  h.eq([r.status, reasonOf(r)], [412, "double_vote"], "B refuses the target A just signed");
  await signs(B, block(6502), "B signs a later block once the key is enabled again");
  await A.s.stop();
  await B.s.stop();
  h.finish("keymanager API on a shared DynamoDB table");
});
