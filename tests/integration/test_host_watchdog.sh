# test_host_watchdog.sh: `nitro-host run` as the watchdog against the AWS
# stand-ins (KMS trusting the NSM simulator's root, DynamoDB, IMDS) and the
# real `nitro-signer enclave` (local runner, unix sockets):
#  - records read from DynamoDB with IMDS credentials: two per-key records
#    uploaded with `nitro-keys kms encrypt --upload` load; garbage items
#    (bad pubkey, missing ciphertext), an inactive item and a "tls:" item
#    are not sent (one warning per garbage item naming pubkey and
#    attribute); init's report logged; /health 200 UP with pid,
#    keys_loaded 2, credentials_expiration; the secret key never logged;
#    the enclave's TLS certificate (kms_key_id, tls_names) written to
#    tls_cert_file, mode 0644, and the same one after a restart;
#  - credentials: IMDS rotates, the new AccessKeyId is pushed before the
#    old credentials expire;
#  - SIGHUP: a third key uploaded afterwards is loaded by `reload`;
#  - an enclave that stops answering (SIGSTOP) fails 3 status checks, is
#    killed and restarted, and the new one gets a fresh init;
#  - SIGTERM: exit 0, the enclave is gone.
set -eu
. "$(dirname "$0")/lib.sh"
SRC=${NS_SOURCE_DIR:?}

d=$(mktemp -d /tmp/ns-host-wd-it-XXXXXX)
hp=
sp=
cleanup() {
	set +e
	[ -n "$hp" ] && kill "$hp" 2>/dev/null && sleep 0.5
	for p in $(sed -n 's/.*run: enclave started pid=\([0-9]*\).*/\1/p' "$d/err" 2>/dev/null); do
		kill -CONT "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	[ -n "$sp" ] && kill "$sp" 2>/dev/null
	exec 9>&-
	rm -rf "$d"
}
trap cleanup EXIT

# until_log PATTERN [N [TRIES]]: until the host log has N lines matching (10 s).
until_log() {
	n=${2:-1}
	i=0
	until [ "$(grep -c -- "$1" "$d/err")" -ge "$n" ]; do
		i=$((i + 1))
		[ $i -gt "${3:-200}" ] && fail "no '$1' (x$n) in the log: $(tail -30 "$d/err")"
		[ -n "$hp" ] && { kill -0 "$hp" 2>/dev/null || fail "nitro-host exited: $(cat "$d/err")"; }
		sleep 0.05
	done
}
health() { curl -s -o "$d/h" -w '%{http_code}' "http://127.0.0.1:$hport/health"; }
# until_health PYTHON-CONDITION-ON-h: until /health's JSON satisfies it (20 s).
until_health() {
	i=0
	until [ "$(health)" != 000 ] && python3 -c "import json,sys; h=json.load(open('$d/h')); sys.exit(0 if ($1) else 1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "health never satisfied '$1': $(cat "$d/h") $(tail -20 "$d/err")"
		sleep 0.1
	done
}

# ---- the simulator's root, the stand-ins, a key pinned to its PCR0 ----
mkdir -m 700 "$d/sim"
pcr0=$(printf 'nitro-host watchdog test image' | openssl dgst -sha384 -r | cut -d' ' -f1)
echo "$pcr0" >"$d/sim/pcr0.hex"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes \
	-keyout "$d/sim/root.key.pem" -out "$d/sim/root.pem" -days 2 \
	-subj '/CN=nitro-host test root' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
mkfifo "$d/life"
node "$SRC/tests/standins/start.mjs" --write-env="$d/env" \
	--attestation-root="$d/sim/root.pem" --stdin-lifeline <"$d/life" >"$d/standins.log" 2>&1 &
sp=$!
exec 9>"$d/life"
i=0
until [ -s "$d/env" ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "stand-ins did not start: $(cat "$d/standins.log")"
	sleep 0.05
done
set -a
. "$d/env"
set +a
# IMDS credentials that live 60 s, refreshed 50 s before expiry
curl -sf -X POST -d '{"lifetimeSeconds":60}' "$AWS_EC2_METADATA_SERVICE_ENDPOINT/__admin/config" >/dev/null ||
	fail "imds config"
ACCOUNT=111122223333
"$BIN/nitro-keys" kms policy --pcr0="$pcr0" --role-arn="arn:aws:iam::$ACCOUNT:role/nitro-signer-instance" \
	--key-admin-arn="arn:aws:iam::$ACCOUNT:role/key-admin" \
	--encrypt-arn="arn:aws:iam::$ACCOUNT:role/operator" --condition=pcr0 >"$d/policy.json"
python3 -c 'import json,sys; print(json.dumps({"description":"host watchdog","policy":open(sys.argv[1]).read()}))' \
	"$d/policy.json" >"$d/ck.json"
key=$(curl -sf -X POST --data-binary @"$d/ck.json" "$AWS_ENDPOINT_URL_KMS/__admin/create-key" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["Arn"])') || fail "create-key"

# ---- records: 2 good, garbage, inactive, tls ----
TABLE=host-watchdog-keys
SIGNER=wd-signer
printf 'watchdog keystore password\n' >"$d/pw.txt"
keys() { # keys DIR N: N fast keystores with their password files
	"$BIN/nitro-keys" keystore generate --count="$2" --out="$1" \
		--keystore-password-file="$d/pw.txt" --kdf=pbkdf2 --work-factor=2 >/dev/null
	for f in "$1"/*.json; do
		case $f in */deposit_data-*) continue ;; esac
		cp "$d/pw.txt" "${f%.json}.txt"
	done
}
upload() {
	AWS_EC2_METADATA_DISABLED=true "$BIN/nitro-keys" kms encrypt --key-id="$key" --signer-id="$SIGNER" \
		--keystores-path="$1" --keystores-passwords-path="$1" --chain=hoodi \
		--upload --table="$TABLE" >/dev/null || fail "upload $1"
}
"$BIN/nitro-keys" kms create-table --table="$TABLE" >/dev/null
keys "$d/ks1" 2
upload "$d/ks1"
BAD_PK=0x$(printf 'ab%.0s' $(seq 48))
NODE_NO_WARNINGS=1 node -e '
const { DynamoDBClient, PutItemCommand } = require(process.argv[1] + "/tests/js/node_modules/@aws-sdk/client-dynamodb");
const c = new DynamoDBClient({ endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB, region: process.env.AWS_REGION });
const [table, signer, badPk] = process.argv.slice(2);
const items = [
  { pubkey: { S: "0xnot-a-pubkey" }, encrypted_key_password_mnemonic_b64: { S: "QUJD" }, active: { BOOL: true } },
  { pubkey: { S: badPk }, active: { BOOL: true } },
  { pubkey: { S: "0x" + "cd".repeat(48) }, encrypted_key_password_mnemonic_b64: { S: "QUJD" }, active: { BOOL: false } },
  { pubkey: { S: "tls:" + signer }, tls_cert_pem: { S: "x" } },
];
(async () => { for (const it of items)
  await c.send(new PutItemCommand({ TableName: table, Item: { web3signer_uuid: { S: signer }, ...it } })); })()
  .catch((e) => { console.error(e); process.exit(1); });
' "$SRC" "$TABLE" "$SIGNER" "$BAD_PK" || fail "garbage items"

# ---- nitro-host run, no AWS credentials in its environment ----
hport=$(free_port)
cat >"$d/c.yaml" <<YAML
region: $AWS_REGION
signer_id: $SIGNER
key_table: $TABLE
kms_key_id: $key
tls_cert_file: $d/tls/tls.crt
credentials: imds
credentials_refresh_s: 50
endpoints:
  kms: $AWS_ENDPOINT_URL_KMS
  dynamodb: $AWS_ENDPOINT_URL_DYNAMODB
  imds: $AWS_EC2_METADATA_SERVICE_ENDPOINT
enclave:
  network: hoodi
  slashing_db_url: sqlite:$d/slashing.db
  tls_names: [localhost, 127.0.0.1]
health_listen: tcp:127.0.0.1:$hport
status_interval_s: 1
control: unix:$d/c.sock
runner:
  type: local
  command: [$BIN/nitro-signer, enclave, --control=unix:$d/c.sock, --http-listen=unix:$d/api.sock, --nsm=sim:$d/sim]
restart: {max_backoff_s: 1}
YAML
mkdir "$d/tls"
secret=$(grep '^AWS_SECRET_ACCESS_KEY=' "$d/env" | cut -d= -f2-)
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL_KMS \
	-u AWS_ENDPOINT_URL_DYNAMODB -u AWS_EC2_METADATA_SERVICE_ENDPOINT \
	"$BIN/nitro-host" run --config="$d/c.yaml" --log-format=json 2>"$d/err" &
hp=$!

until_health 'h["status"] == "UP"'
python3 - "$d/h" <<'PY' || fail "health: $(cat "$d/h")"
import json, sys
h = json.load(open(sys.argv[1]))
e = h["enclave"]
assert e["ready"] is True and e["keys_loaded"] == 2 and e["restarts"] == 0, h
assert isinstance(e["pid"], int) and e["last_status_age_s"] <= 2, h
assert h["credentials_expiration"].endswith("Z"), h
PY
ok
until_log '"run: init: loaded 2 of 2 keys"'
grep -q '"run: records: 2 records from 6 items (skipped: 1 inactive, 1 the enclave.s own (tls:/slashing:), 2 malformed (warned above)) in host-watchdog-keys, 1 pages' "$d/err" ||
	fail "records summary: $(grep records "$d/err")"
grep -q 'run: records: skipped item 0xnot-a-pubkey: pubkey: ' "$d/err" || fail "bad pubkey warning"
grep -q "run: records: skipped item $BAD_PK: encrypted_key_password_mnemonic_b64: missing" "$d/err" ||
	fail "missing attribute warning: $(grep skipped "$d/err")"
[ "$(grep -c 'skipped item' "$d/err")" -eq 2 ] || fail "only the garbage items are warned about"
grep -q '"run: credentials pushed (AccessKeyId=ASIA[0-9A-F]*, expiration=20[0-9T:-]*Z)"' "$d/err" ||
	fail "credentials log: $(grep credentials "$d/err")"
grep -q -- "$secret" "$d/err" && fail "a secret key in the log"
grep -q 'SecretAccessKey' "$d/err" && fail "SecretAccessKey in the log"
grep -q 'BEGIN CERTIFICATE' "$d/tls/tls.crt" || fail "no certificate written: $(grep -i tls "$d/err")"
[ "$(stat -c %a "$d/tls/tls.crt")" = 644 ] || fail "certificate mode $(stat -c %a "$d/tls/tls.crt")"
grep -q "\"run: TLS certificate written to $d/tls/tls.crt\"" "$d/err" || fail "certificate log"
openssl x509 -in "$d/tls/tls.crt" -noout -ext subjectAltName 2>/dev/null | grep -q 'DNS:localhost' ||
	fail "certificate names: $(openssl x509 -in "$d/tls/tls.crt" -noout -text | head -20)"
cp "$d/tls/tls.crt" "$d/cert1"
pid1=$(python3 -c "import json; print(json.load(open('$d/h'))['enclave']['pid'])")
ok

# ---- credentials: IMDS rotates within the refresh window -> pushed ----
akid1=$(sed -n 's/.*credentials pushed (AccessKeyId=\([A-Z0-9]*\).*/\1/p' "$d/err" | head -1)
curl -sf -X POST "$AWS_EC2_METADATA_SERVICE_ENDPOINT/__admin/rotate" >/dev/null || fail "rotate"
until_log '"run: credentials pushed' 2 300
akid2=$(sed -n 's/.*credentials pushed (AccessKeyId=\([A-Z0-9]*\).*/\1/p' "$d/err" | tail -1)
[ "$akid1" != "$akid2" ] || fail "the same credentials pushed again: $akid1"
ok

# ---- SIGHUP: a key uploaded now loads through reload ----
keys "$d/ks2" 1
upload "$d/ks2"
kill -HUP "$hp"
until_log '"run: SIGHUP: reloading the key records"'
until_log '"run: reload: '
grep -q '"run: reload: loaded 3 of 3 keys"' "$d/err" || fail "reload: $(grep reload "$d/err")"
until_health 'h["enclave"]["keys_loaded"] == 3 and h["status"] == "UP"'
[ "$(grep -c 'run: enclave started' "$d/err")" -eq 1 ] || fail "reload restarted the enclave"
ok

# ---- an enclave that stops answering: 3 failed checks, killed, restarted ----
kill -STOP "$pid1"
until_log 'status check failed (3 of 3)' 1 300
until_log '3 status checks failed in a row; killing it'
until_log 'ended (signal 9)'
until_health "h['status'] == 'UP' and h['enclave']['restarts'] == 1 and h['enclave']['pid'] != $pid1 and h['enclave']['keys_loaded'] == 3"
[ "$(grep -c '"run: init: loaded 3 of 3 keys"' "$d/err")" -eq 1 ] || fail "no fresh init"
cmp -s "$d/cert1" "$d/tls/tls.crt" || fail "another certificate after the restart"
ok

# ---- SIGTERM ----
pid2=$(python3 -c "import json; print(json.load(open('$d/h'))['enclave']['pid'])")
term_and_wait "$hp" "$d/err"
hp=
kill -0 "$pid2" 2>/dev/null && fail "enclave $pid2 still running"
ok

echo "test_host_watchdog: $checks checks passed"
