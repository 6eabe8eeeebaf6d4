#!/bin/sh
# test_cli.sh: the nitro-signer command line and transports end to end:
# usage errors exit 2 naming the flag; EIP-2335 keystores from
# --keystores-path with per-keystore password files and with one shared
# password file (a bad keystore is reported, the others load); the unix:
# transport; slashing protection on by default (a first attestation signs,
# a double vote is 412 with its reason code, the database is created);
# SIGTERM stops the server cleanly.
set -eu
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/ns-cli-XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# --- usage errors: exit 2, one line naming the flag ---
expect_usage nitro-signer "eth2" --http-listen-port=1
expect_usage nitro-signer "--http-listen-port" --http-listen-port=70000 eth2
expect_usage nitro-signer "^nitro-signer: --no-such-flag is not a flag of nitro-signer" --no-such-flag eth2
expect_usage nitro-signer "--network is not a flag of nitro-signer" --network=mainnet eth2
expect_usage nitro-signer "--from is not a flag of export" eth2 export --to=/x --from=/y
expect_usage nitro-signer "unexpected argument 'extra'" eth2 export --to=/x extra
# one rule for every level (core/args.c): a repeated flag is refused naming
# it, whichever syntax each occurrence used; a flag without its value too
expect_usage nitro-signer "^nitro-signer: --http-listen-port given twice" --http-listen-port=9001 --http-listen-port 9002 eth2
expect_usage nitro-signer "^nitro-signer: --network given twice" eth2 --network mainnet --network=hoodi
expect_usage nitro-signer "^nitro-signer: --to given twice" eth2 export --to=/x --to /y
expect_usage nitro-signer "--key-config-path given twice" --key-store-path=/a --key-config-path=/b eth2
expect_usage nitro-signer "^nitro-signer: --network: expected a value" eth2 --network
expect_usage nitro-signer "^nitro-signer: --keystores-path: expected a value" eth2 --keystores-path --network=mainnet
expect_usage nitro-signer "--slashing-protection-enabled" eth2 --slashing-protection-enabled=maybe
expect_usage nitro-signer "--keystores-path" eth2 --keystores-path=/tmp
expect_usage nitro-signer "exclusive" eth2 --keystores-path=/tmp --keystores-password-file=/x --keystores-passwords-path=/y
expect_usage nitro-signer "--tls-allow-any-client" --tls-keystore-file=/x --tls-keystore-password-file=/y eth2
expect_usage nitro-signer "--network" eth2 --network=nosuchnet
expect_usage nitro-signer "tcp:" --http-listen=udp:1.2.3.4:5 eth2
"$BIN/nitro-signer" --help | grep -q -- "--keystores-path" || fail "--help"
"$BIN/nitro-signer" --version | grep -q "nitro-signer" || fail "--version"
ok

# --- keystores: two good (pbkdf2, fast), one with the wrong password ---
printf 'correct horse battery\n' > "$T/pw.txt"
printf 'wrong password here\n' > "$T/bad.txt"
"$BIN/nitro-keys" keystore generate --count=2 --out="$T/ks" --kdf=pbkdf2 \
	--work-factor=1024 --keystore-password-file="$T/pw.txt" >/dev/null
mkdir -p "$T/pws"
for f in "$T"/ks/*.json; do
	cp "$T/pw.txt" "$T/pws/$(basename "$f" .json).txt"
done
first=$(ls "$T"/ks/*.json | head -1)
cp "$T/bad.txt" "$T/pws/$(basename "$first" .json).txt"

start() {
	"$BIN/nitro-signer" "$@" >"$T/out.txt" 2>"$T/err.txt" &
	PID=$!
	wait_listening "$PID" "$T/out.txt" "$T/err.txt"
}
stop() {
	kill -TERM "$PID"
	wait "$PID" || fail "signer exited non-zero after SIGTERM"
	PID=""
}

SOCK="$T/signer.sock"
# (--name value and --name=value are the same)
start --http-listen "unix:$SOCK" eth2 --network mainnet \
	--keystores-path "$T/ks" --keystores-passwords-path="$T/pws" \
	--slashing-protection-db-url="sqlite:$T/slashing.db"
grep -q "1 public key" "$T/out.txt" || fail "expected 1 key loaded: $(cat "$T/out.txt")"
grep -q "$(basename "$first")" "$T/err.txt" || fail "bad keystore not reported by path"
grep -q "wrong password here" "$T/err.txt" && fail "password leaked into logs"
ok
[ "$(stat -c %a "$SOCK")" = "600" ] || fail "unix socket not 0600"
curl -sf --unix-socket "$SOCK" http://localhost/upcheck | grep -qx OK || fail "upcheck over unix"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://localhost/healthcheck)
[ "$code" = 503 ] || fail "healthcheck with a failed keystore should be 503, got $code"
ok
PK=$(curl -sf --unix-socket "$SOCK" http://localhost/api/v1/eth2/publicKeys | sed 's/^\["\([^"]*\)".*/\1/')
FORK='"fork_info":{"fork":{"previous_version":"0x05000000","current_version":"0x06000000","epoch":"411392"},"genesis_validators_root":"0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"}'
sig=$(curl -sf --unix-socket "$SOCK" -H 'Accept:' -H 'Content-Type: application/json' \
	"http://localhost/api/v1/eth2/sign/$PK" \
	-d "{\"type\":\"RANDAO_REVEAL\",$FORK,\"randao_reveal\":{\"epoch\":\"411500\"}}")
echo "$sig" | grep -Eq '^0x[0-9a-f]{192}$' || fail "text signature expected, got $sig"
ok
att="{\"type\":\"ATTESTATION\",$FORK,\"attestation\":{\"slot\":\"13168001\",\"index\":\"0\",\"beacon_block_root\":\"0x$(printf '%064d' 0)\",\"source\":{\"epoch\":\"411499\",\"root\":\"0x$(printf '%064d' 0)\"},\"target\":{\"epoch\":\"411500\",\"root\":\"0x$(printf '%064d' 0)\"}}}"
code=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
	"http://localhost/api/v1/eth2/sign/$PK" -d "$att")
[ "$code" = 200 ] || fail "first attestation with protection on: want 200, got $code"
[ -s "$T/slashing.db" ] || fail "slashing database not created"
double=$(echo "$att" | sed 's/"beacon_block_root":"0x0000000000000000000000000000000000000000000000000000000000000000"/"beacon_block_root":"0x1111111111111111111111111111111111111111111111111111111111111111"/')
code=$(curl -s -o "$T/body" -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
	"http://localhost/api/v1/eth2/sign/$PK" -d "$double")
[ "$code" = 412 ] || fail "double vote: want 412, got $code"
grep -q '"reason":"double_vote"' "$T/body" || fail "412 without reason double_vote: $(cat "$T/body")"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://localhost/api/v1/eth2/highWatermark)
[ "$code" = 200 ] || fail "highWatermark: want 200, got $code"
ok
stop

# --- shared password file; all keys load; TCP on a free port; the deposit
# data file that key tools write beside keystores is not taken for a key ---
echo '[{"pubkey":"00"}]' > "$T/ks/deposit_data-1700000000.json"
PORT=$(free_port)
start --http-listen-port="$PORT" --progress eth2 --network=hoodi \
	--keystores-path="$T/ks" --keystores-password-file="$T/pw.txt" \
	--slashing-protection-enabled=false --slashing-protection-db-url="sqlite:$T/unused.db"
grep -q "2 public keys" "$T/out.txt" || fail "expected 2 keys: $(cat "$T/out.txt")"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthcheck")
[ "$code" = 200 ] || fail "healthcheck with deposit data beside keystores: want 200, got $code"
grep -q "DISABLED" "$T/err.txt" || fail "no warning for disabled slashing protection"
grep -q "keys loaded: 2 from keystores (0 failed)" "$T/err.txt" || fail "keystore count: $(grep 'keys loaded' "$T/err.txt")"
grep -Eq "^keys decrypted 2/2 \([0-9.]+/s, about 0 s left\)$" "$T/err.txt" || fail "--progress: $(cat "$T/err.txt")"
grep -q "key configs" "$T/err.txt" && fail "logged a count for key configs it was not given: $(grep 'keys loaded' "$T/err.txt")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	"http://127.0.0.1:$PORT/api/v1/eth2/sign/$PK" -d "$att")
[ "$code" = 200 ] || fail "attestation with protection off: want 200, got $code"
[ -e "$T/unused.db" ] && fail "database opened although protection is off"
ok
# /reload picks up a keystore added while running
"$BIN/nitro-keys" keystore generate --count=1 --out="$T/ks" --kdf=pbkdf2 \
	--work-factor=1024 --keystore-password-file="$T/pw.txt" >/dev/null
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/reload")
[ "$code" = 202 ] || fail "POST /reload: want 202, got $code"
i=0
until curl -s "http://127.0.0.1:$PORT/reload" | grep -q '"status":"completed"'; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "reload did not complete: $(curl -s "http://127.0.0.1:$PORT/reload")"
	sleep 0.1
done
n=$(curl -s "http://127.0.0.1:$PORT/api/v1/eth2/publicKeys" | grep -o '0x' | wc -l)
[ "$n" = 3 ] || fail "after reload want 3 keys, got $n"
ok
stop

# --- export, then import into a fresh database: the double vote stays refused ---
out=$("$BIN/nitro-signer" eth2 --slashing-protection-db-url="sqlite:$T/slashing.db" export --to="$T/x.json")
echo "$out" | grep -q "^exported 1 validators, 1 records (0 blocks, 1 attestations) to $T/x.json$" || fail "export summary: $out"
grep -q '"interchange_format_version":"5"' "$T/x.json" || grep -q '"interchange_format_version": "5"' "$T/x.json" || fail "export not v5"
out=$("$BIN/nitro-signer" eth2 --network=mainnet --slashing-protection-db-url="sqlite:$T/fresh.db" import --from="$T/x.json")
echo "$out" | grep -q "^imported 1 validators, 1 records (0 blocks, 1 attestations) from $T/x.json$" || fail "import summary: $out"
set +e
"$BIN/nitro-signer" eth2 --network=hoodi --slashing-protection-db-url="sqlite:$T/other.db" import --from="$T/x.json" 2>"$T/imp.err"
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "import with another network's root must fail"
grep -qi "genesis" "$T/imp.err" || fail "import root mismatch message: $(cat "$T/imp.err")"
echo "{\"pubkey\":\"$PK\",\"signing_root\":\"0x$(printf '%064d' 7)\",\"attestation\":{\"source_epoch\":\"411499\",\"target_epoch\":\"411500\"}}" > "$T/eval.jsonl"
out=$("$BIN/nitro-signer" eth2 --network=mainnet --slashing-protection-db-url="sqlite:$T/fresh.db" evaluate --from="$T/eval.jsonl" 2>"$T/eval.err")
echo "$out" | grep -q '^{"allowed":false' || fail "evaluate after import should refuse the double vote: $out"
[ "$(echo "$out" | wc -l)" = 1 ] || fail "evaluate: one stdout line per input line: $out"
grep -q "1 refused, 0 errors" "$T/eval.err" || fail "evaluate summary: $(cat "$T/eval.err")"
# a dry run of a new vote allows it twice: nothing is recorded
echo "{\"pubkey\":\"$PK\",\"signing_root\":\"0x$(printf '%064d' 8)\",\"attestation\":{\"source_epoch\":\"411500\",\"target_epoch\":\"411501\"}}" > "$T/eval2.jsonl"
mkdir "$T/tmpd"
for i in 1 2; do
	out=$(TMPDIR="$T/tmpd" "$BIN/nitro-signer" eth2 --network=mainnet --slashing-protection-db-url="sqlite:$T/fresh.db" evaluate --dry-run --from="$T/eval2.jsonl" 2>"$T/eval.err")
	[ "$out" = '{"allowed":true}' ] || fail "dry run $i: $out"
	grep -q "1 allowed, 0 refused, 0 errors (dry run: nothing recorded)" "$T/eval.err" || fail "dry-run summary: $(cat "$T/eval.err")"
done
[ -z "$(ls -A "$T/tmpd")" ] || fail "the dry run left its copy behind: $(ls -A "$T/tmpd")"
"$BIN/nitro-signer" eth2 --help | grep -q "allows is RECORDED" || fail "evaluate --help does not say it records"
# only import creates a database: a mistyped path is an error naming it (exit 1), and no file appears
for cmd in "export --to=$T/y.json" "watermark-repair --epoch=5" "watermark-repair --remove-high-watermark" \
	"evaluate --from=$T/eval2.jsonl" "evaluate --dry-run --from=$T/eval2.jsonl"; do
	set +e
	# shellcheck disable=SC2086
	"$BIN/nitro-signer" eth2 --network=mainnet --slashing-protection-db-url="sqlite:$T/typo.db" $cmd >"$T/typo.out" 2>"$T/typo.err"
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || fail "$cmd on a missing database: want exit 1, got $rc"
	grep -q "$T/typo.db does not exist" "$T/typo.err" || fail "$cmd: $(cat "$T/typo.err")"
	[ -e "$T/typo.db" ] && fail "$cmd created the missing database"
	[ -s "$T/typo.out" ] && fail "$cmd printed on stdout: $(cat "$T/typo.out")"
done
[ -e "$T/y.json" ] && fail "export to a missing database wrote a file"
out=$("$BIN/nitro-signer" eth2 --slashing-protection-db-url="sqlite:$T/fresh.db" watermark-repair --epoch=5 --slot=7)
echo "$out" | grep -q "^low watermarks of 1 validators raised to at least block slot 7, attestation epoch 5 (never lowered)$" || fail "watermark-repair summary: $out"
ok

# --- a corrupt database: slashable types 503 (never signed), others sign, health DOWN ---
head -c 8192 /dev/urandom > "$T/corrupt.db"
PORT2=$(free_port "$PORT")
start --http-listen-port="$PORT2" eth2 --network=mainnet \
	--keystores-path="$T/ks" --keystores-password-file="$T/pw.txt" \
	--slashing-protection-db-url="sqlite:$T/corrupt.db"
code=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
	"http://127.0.0.1:$PORT2/api/v1/eth2/sign/$PK" -d "$att")
[ "$code" = 503 ] || fail "attestation with a corrupt database: want 503, got $code"
grep -q '"error"' "$T/body" || fail "503 without a JSON error"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	"http://127.0.0.1:$PORT2/api/v1/eth2/sign/$PK" \
	-d "{\"type\":\"RANDAO_REVEAL\",$FORK,\"randao_reveal\":{\"epoch\":\"411500\"}}")
[ "$code" = 200 ] || fail "RANDAO with a corrupt database: want 200, got $code"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$PORT2/healthcheck")
[ "$code" = 503 ] || fail "healthcheck with a corrupt database: want 503, got $code"
grep -q '"slashing-protection-db-health-check","status":"DOWN"' "$T/body" || fail "healthcheck: $(cat "$T/body")"
grep -qi "slashing protection database unavailable" "$T/err.txt" || fail "no log line for the corrupt database"
ok
stop

# --- no key loads from --keystores-path: exit 1 ---
set +e
"$BIN/nitro-signer" --http-listen-port=0 eth2 --keystores-path="$T/ks" \
	--keystores-password-file="$T/bad.txt" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "no key loaded: want exit 1, got $rc"
ok
echo "cli: $checks checks passed"
