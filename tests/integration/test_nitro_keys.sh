#!/bin/sh
# test_nitro_keys.sh: the operator's path end to end. nitro-keys
# existing-mnemonic with a fixed BIP-39 test mnemonic makes 4 keystores and
# deposit data; their bytes are checked against Python's json.dumps layout
# (staking-deposit-cli writes with json.dumps); the deposit data is checked
# with independent code (lodestar SSZ roots, noble BLS, when tests/js is
# installed); nitro-signer loads the keystores (pbkdf2, low work factor for
# speed) on a free 127.0.0.1 port and signs a RANDAO_REVEAL with each key;
# each signature verifies (nitro-keys bls verify, and noble). Bad input
# leaves no directory behind.
set -eu
. "$(dirname "$0")/lib.sh"
SRC=${NS_SOURCE_DIR:?}
T=$(mktemp -d /tmp/ns-nk-XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null || true
	chmod -R u+w "$T" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# The 24-word English vector of BIP-39 (trezor/python-mnemonic vectors.json).
echo "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold" >"$T/mnemonic.txt"
printf 'operator-password-1\n' >"$T/pw.txt"
ADDR=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed

# --- bad input: non-zero exit, no output directory ---
refused() {
	want=$1; shift
	set +e
	"$BIN/nitro-keys" "$@" >"$T/o.txt" 2>"$T/e.txt"
	rc=$?
	set -e
	[ "$rc" -ne 0 ] || fail "accepted: $*"
	grep -q -- "$want" "$T/e.txt" || fail "message '$(cat "$T/e.txt")' lacks '$want'"
	[ ! -e "$T/keys" ] || fail "output left behind by: $*"
	ls "$T" | grep -q partial && fail "staging directory left behind by: $*"
	grep -q "void come" "$T/e.txt" "$T/o.txt" && fail "mnemonic printed"
	ok
}
COMMON="--num-validators=4 --validator-start-index=0 --chain=mainnet --keystore-password-file=$T/pw.txt --kdf=pbkdf2 --work-factor=16 --out=$T/keys"
echo "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve void" >"$T/bad.txt"
# shellcheck disable=SC2086
refused checksum existing-mnemonic $COMMON --mnemonic-file="$T/bad.txt" --withdrawal-address=$ADDR
# shellcheck disable=SC2086
refused "--withdrawal-address" existing-mnemonic $COMMON --mnemonic-file="$T/mnemonic.txt" --withdrawal-address=0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed
refused "--validator-start-index" existing-mnemonic --num-validators=4 --validator-start-index=4294967293 --chain=mainnet --keystore-password-file="$T/pw.txt" --out="$T/keys" --mnemonic-file="$T/mnemonic.txt" --bls-withdrawal

# --- 4 validators ---
# shellcheck disable=SC2086
"$BIN/nitro-keys" existing-mnemonic $COMMON --mnemonic-file="$T/mnemonic.txt" \
	--withdrawal-address=$ADDR >"$T/made.txt" 2>"$T/made.err" || fail "existing-mnemonic: $(cat "$T/made.err")"
grep -q "void come" "$T/made.txt" "$T/made.err" && fail "mnemonic printed"
[ "$(ls "$T/keys" | grep -c '^keystore-m_12381_3600_[0-3]_0_0-[0-9]*\.json$')" = 4 ] || fail "want 4 keystores: $(ls "$T/keys")"
[ "$(ls "$T/keys" | grep -c '^deposit_data-[0-9]*\.json$')" = 1 ] || fail "want one deposit_data file"
# progress on stderr: n of N, the rate and the time left, per validator
grep -Eq '^nitro-keys: validator 3: 0x[0-9a-f]{96} \(4 of 4, [0-9.]+/s, about 0 s left\)$' "$T/made.err" ||
	fail "no progress line for the last validator: $(cat "$T/made.err")"
ok

# Byte layout: what Python's json.dumps gives for the same content.
for f in "$T"/keys/*.json; do
	python3 -c 'import json,sys; t=open(sys.argv[1]).read(); sys.exit(0 if json.dumps(json.loads(t)) == t else 1)' "$f" ||
		fail "$f is not laid out as json.dumps would write it"
done
ok

# Independent deposit-data check (lodestar SSZ + noble BLS; make check installs tests/js).
[ -d "$SRC/tests/js/node_modules/@lodestar/types" ] || fail "tests/js is not installed (scripts/deps.sh --test)"
{
	cat >"$T/check.mjs" <<JS
import { readFileSync, readdirSync } from "node:fs";
const lib = "$SRC/tests/js/lib/";
const { fromHex: fromHex0x, verify } = await import(lib + "bls.mjs");
const fromHex = (s) => fromHex0x("0x" + s);
const { ssz, computeDomain, computeSigningRoot } = await import(lib + "eth2.mjs");
const dir = "$T/keys/";
const file = readdirSync(dir).find((f) => f.startsWith("deposit_data-"));
const list = JSON.parse(readFileSync(dir + file, "utf8"));
const hex = (b) => Buffer.from(b).toString("hex");
const want = "010000000000000000000000" + "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
if (list.length !== 4) throw new Error("want 4 deposits");
const pubkeys = new Set();
for (const d of readdirSync(dir).filter((f) => f.startsWith("keystore-")))
  pubkeys.add(JSON.parse(readFileSync(dir + d, "utf8")).pubkey);
for (const d of list) {
  const msg = { pubkey: fromHex(d.pubkey), withdrawalCredentials: fromHex(d.withdrawal_credentials), amount: d.amount };
  const mr = hex(ssz.phase0.DepositMessage.hashTreeRoot(msg));
  const dr = hex(ssz.phase0.DepositData.hashTreeRoot({ ...msg, signature: fromHex(d.signature) }));
  if (mr !== d.deposit_message_root) throw new Error("deposit_message_root differs");
  if (dr !== d.deposit_data_root) throw new Error("deposit_data_root differs");
  if (d.withdrawal_credentials !== want) throw new Error("withdrawal credentials");
  if (d.amount !== 32000000000 || d.fork_version !== "00000000" || d.network_name !== "mainnet") throw new Error("fields");
  if (!pubkeys.has(d.pubkey)) throw new Error("deposit for a key without keystore");
  const domain = computeDomain("0x03000000", "0x00000000", "0x" + "00".repeat(32));
  const root = computeSigningRoot(fromHex(mr), domain);
  if (!verify(fromHex(d.signature), root, fromHex(d.pubkey))) throw new Error("deposit signature");
}
console.log("deposit data verified independently");
JS
	node "$T/check.mjs" || fail "independent deposit-data check"
	ok
}

# --- the standalone signer loads them and signs ---
mkdir "$T/ks"
cp "$T"/keys/keystore-*.json "$T/ks/"
PORT=$(free_port)
"$BIN/nitro-signer" --http-listen-host=127.0.0.1 --http-listen-port="$PORT" eth2 --network=mainnet \
	--keystores-path="$T/ks" --keystores-password-file="$T/pw.txt" \
	--slashing-protection-db-url="sqlite:$T/slashing.db" >"$T/out.txt" 2>"$T/err.txt" &
PID=$!
wait_listening "$PID" "$T/out.txt" "$T/err.txt"
grep -q "4 public keys" "$T/out.txt" || fail "want 4 keys loaded: $(cat "$T/out.txt")"
grep -q "operator-password-1" "$T/out.txt" "$T/err.txt" && fail "password in logs"
ok

# RANDAO_REVEAL at epoch 300000 (Deneb on mainnet): signing root = SigningData(
# hash_tree_root(uint64 epoch), compute_domain(DOMAIN_RANDAO, 0x04000000, gvr)).
GVR=0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95
FORK="\"fork_info\":{\"fork\":{\"previous_version\":\"0x03000000\",\"current_version\":\"0x04000000\",\"epoch\":\"269568\"},\"genesis_validators_root\":\"$GVR\"}"
for ks in "$T"/ks/keystore-*.json; do
	pk=0x$(sed 's/.*"pubkey": "\([0-9a-f]*\)".*/\1/' "$ks")
	resp=$(curl -sf -H 'Accept: application/json' -H 'Content-Type: application/json' \
		"http://127.0.0.1:$PORT/api/v1/eth2/sign/$pk" \
		-d "{\"type\":\"RANDAO_REVEAL\",$FORK,\"randao_reveal\":{\"epoch\":\"300000\"}}") ||
		fail "sign with $pk failed"
	sig=$(echo "$resp" | sed 's/.*"signature":"\(0x[0-9a-f]*\)".*/\1/')
	echo "$sig" | grep -Eq '^0x[0-9a-f]{192}$' || fail "no signature in $resp"
	echo "$pk $sig" >>"$T/sigs.txt"
done
[ "$(wc -l <"$T/sigs.txt")" = 4 ] || fail "want 4 signatures"
ok
kill -TERM "$PID"
wait "$PID" || fail "signer exited non-zero after SIGTERM"
PID=""

# The signing root, computed here from the spec with sha256 only.
h() { python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])).hexdigest())' "$1"; }
{
	ZERO=$(printf '%064d' 0)
	EPOCH=$(printf '%016x' 300000 | sed 's/\(..\)/\1 /g' | awk '{for(i=NF;i>0;i--) printf "%s", $i}')
	OBJ=${EPOCH}000000000000000000000000000000000000000000000000
	FDR=$(h "04000000$(printf '%056d' 0)${GVR#0x}")
	DOMAIN=02000000$(echo "$FDR" | cut -c1-56)
	ROOT=$(h "$OBJ$DOMAIN")
	while read -r pk sig; do
		"$BIN/nitro-keys" bls verify --pubkey="$pk" --message="0x$ROOT" --signature="$sig" >/dev/null ||
			fail "signature of $pk does not verify"
	done <"$T/sigs.txt"
	ok
}
echo "test_nitro_keys.sh: $checks checks passed"
