# test_enclave.sh: the real `nitro-signer enclave` binary on unix sockets
# with the NSM simulator: usage errors; the API answers 503 before init;
# status over the control socket; a garbage frame closes only its own
# connection; reload before init is refused; init (no records: no KMS
# call) makes it ready and the API serves (plain HTTP: no kms_key_id);
# a second init is refused; status has the new fields; reload with no
# records answers; the metrics listener (--metrics-listen) answers 503
# before init and the signer's metrics after; SIGTERM exits 0. (The TLS key and the HTTPS switch are
# covered by tests/unit/test_enclave_init.c against the stand-ins.)
set -eu
. "$(dirname "$0")/lib.sh"

d=$(mktemp -d /tmp/ns-enclave-it-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT

expect_usage nitro-signer "--control is required" enclave
expect_usage nitro-signer "unexpected argument" enclave --control=unix:$d/c.sock extra
expect_usage nitro-signer "^nitro-signer enclave: --control: " enclave --control=bogus:1
expect_usage nitro-signer "^nitro-signer enclave: --control given twice" enclave --control=unix:$d/c.sock --control "unix:$d/d.sock"
expect_usage nitro-signer "^nitro-signer enclave: --tls-allow-any-client given twice" enclave --control=unix:$d/c.sock \
	--tls-allow-any-client --tls-allow-any-client=false
expect_usage nitro-signer "^nitro-signer enclave: --signer-id: expected a value" enclave --control=unix:$d/c.sock --signer-id
expect_usage nitro-signer "^nitro-signer enclave: --network is not a flag of enclave" enclave --control=unix:$d/c.sock --network=mainnet
# Flags that cannot take effect, and what the image must say.
echo "vc 00:11" >"$d/clients"
expect_usage nitro-signer "^nitro-signer enclave: --tls-known-clients-file: has no effect without a TLS identity" \
	enclave --control=unix:$d/c.sock --nsm=sim:$d/sim --tls-known-clients-file="$d/clients"
expect_usage nitro-signer "^nitro-signer enclave: --tls-allow-any-client: has no effect without a TLS identity" \
	enclave --control=unix:$d/c.sock --nsm=sim:$d/sim --tls-allow-any-client
expect_usage nitro-signer "are exclusive" enclave --control=unix:$d/c.sock --nsm=sim:$d/sim \
	--tls-kms-key-id=arn:aws:kms:us-east-1:111122223333:key/k --tls-allow-any-client --tls-known-clients-file="$d/clients"
expect_usage nitro-signer "^nitro-signer enclave: --signer-id is required" enclave --control=unix:$d/c.sock
expect_usage nitro-signer "^nitro-signer enclave: --signer-id: " enclave --control=unix:$d/c.sock --signer-id="a|b"
expect_usage nitro-signer "^nitro-signer enclave: --allow-signing-types: unknown signing type 'EXIT'" \
	enclave --control=unix:$d/c.sock --nsm=sim:$d/sim --allow-signing-types=EXIT
expect_usage nitro-signer "^nitro-signer enclave: --tls-known-clients-file: line 1: bad SHA-256 fingerprint" \
	enclave --control=unix:$d/c.sock --nsm=sim:$d/sim \
	--tls-kms-key-id=arn:aws:kms:us-east-1:111122223333:key/k --tls-known-clients-file="$d/clients"
expect_usage nitro-signer "^nitro-signer: --tls-known-clients-file: has no effect without TLS" \
	--tls-known-clients-file="$d/clients" eth2
expect_usage nitro-signer "^nitro-signer: --tls-allow-any-client: has no effect without TLS" \
	--tls-allow-any-client eth2

"$BIN/nitro-signer" enclave --control "unix:$d/c.sock" \
	--http-listen="unix:$d/api.sock" --nsm "sim:$d/sim" \
	--metrics-listen="unix:$d/metrics.sock" >"$d/out" 2>"$d/err" &
pid=$!
i=0
until [ -S "$d/c.sock" ] && [ -S "$d/api.sock" ] && [ -S "$d/metrics.sock" ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "enclave did not start: $(cat "$d/err")"
	kill -0 "$pid" 2>/dev/null || fail "enclave exited: $(cat "$d/err")"
	sleep 0.05
done

api() { curl -s -o "$d/body" -w '%{http_code}' --unix-socket "$d/api.sock" "http://localhost$1"; }
metrics() { curl -s -o "$d/body" -w '%{http_code}' --unix-socket "$d/metrics.sock" "http://localhost$1"; }

# control CMD...: one frame per JSON argument on one connection, the
# replies printed one per line ("CLOSED" when the enclave hung up).
control() {
	python3 - "$d/c.sock" "$@" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
def recv_exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b
for arg in sys.argv[2:]:
    raw = arg.encode() if arg.startswith("{") else bytes.fromhex(arg)
    s.sendall(struct.pack(">I", len(raw)) + raw if arg.startswith("{") else raw)
    h = recv_exact(4)
    if h is None:
        print("CLOSED")
        break
    print(recv_exact(struct.unpack(">I", h)[0]).decode())
PY
}

[ "$(api /upcheck)" = 503 ] || fail "upcheck before init: $(cat "$d/body")"
grep -q "not initialised" "$d/body" || fail "503 body: $(cat "$d/body")"
ok
[ "$(api /api/v1/eth2/publicKeys)" = 503 ] || fail "publicKeys before init"
ok
[ "$(metrics /metrics)" = 503 ] || fail "metrics before init: $(cat "$d/body")"
ok

out=$(control '{"type":"status"}')
echo "$out" | grep -q '"ready":false' || fail "status before init: $out"
for f in '"tls":false' '"credentials_expiration":null' '"initialising":false' '"reloading":false'; do
	echo "$out" | grep -qF "$f" || fail "status before init lacks $f: $out"
done
ok

out=$(control '{"type":"reload","records":[]}')
echo "$out" | grep -q '"error":"not initialised"' || fail "reload before init: $out"
ok

# Garbage (a 5-byte frame of non-JSON) closes that connection only.
out=$(control 0000000568656c6c6f)
[ "$out" = CLOSED ] || fail "garbage frame answered: $out"
ok

init='{"type":"init","region":"us-east-1","credentials":{"AccessKeyId":"AKIDEXAMPLE0000001","SecretAccessKey":"x","Expiration":"2030-01-02T03:04:05Z"},"kms_endpoint":"http://127.0.0.1:1","network":"mainnet","slashing_db_url":"sqlite:'"$d"'/slashing.db","signer_id":"it","records":[]}'
out=$(control "$init" '{"type":"status"}' "$init")
echo "$out" | sed -n 1p | grep -q '"ok":true' || fail "init: $out"
echo "$out" | sed -n 2p | grep -q '"ready":true' || fail "status after init: $out"
echo "$out" | sed -n 3p | grep -q 'already initialised' || fail "second init: $out"
echo "$out" | sed -n 2p | grep -qF '"credentials_expiration":"2030-01-02T03:04:05Z"' ||
	fail "status after init: $out"
echo "$out" | sed -n 2p | grep -qF '"tls":false' || fail "status tls after init: $out"
ok

# A reload that would leave no key is refused; so is a malformed one.
out=$(control '{"type":"reload","records":[]}' '{"type":"reload","records":[],"region":"x"}')
echo "$out" | sed -n 1p | grep -q '"ok":false.*no records' || fail "empty reload: $out"
echo "$out" | sed -n 2p | grep -q 'unknown field \\"region\\"' || fail "bad reload: $out"
ok

# The image lists no client and is not --tls-allow-any-client: the health
# routes answer, nothing else; no HTTP reload in the enclave.
[ "$(api /upcheck)" = 200 ] || fail "upcheck after init: $(cat "$d/body")"
[ "$(api /healthcheck)" = 200 ] || fail "healthcheck after init: $(cat "$d/body")"
grep -q '"client-authentication"' "$d/body" || fail "healthcheck: $(cat "$d/body")"
[ "$(api /api/v1/eth2/publicKeys)" = 401 ] || fail "publicKeys without a client: $(cat "$d/body")"
grep -q 'client certificate required' "$d/body" || fail "401 body: $(cat "$d/body")"
[ "$(curl -s -o "$d/body" -w '%{http_code}' -X POST --unix-socket "$d/api.sock" http://localhost/reload)" = 404 ] ||
	fail "POST /reload in the enclave: $(cat "$d/body")"
out=$(control '{"type":"status"}')
for f in '"client_auth":"none"' '"known_clients":0' '"signer_id":null' '"legacy_records":false' '"keys_loaded":0'; do
	echo "$out" | grep -qF "$f" || fail "status lacks $f: $out"
done
echo "$out" | grep -q '"signing_types":"[A-Z0-9_,]*"' || fail "status signing_types: $out"
echo "$out" | grep -q 'VOLUNTARY_EXIT' && fail "exits allowed by default: $out"
ok

# The metrics listener reports the signer now; the API has no /metrics.
[ "$(metrics /metrics)" = 200 ] || fail "metrics after init: $(cat "$d/body")"
grep -qx 'signing_signers_loaded_count 0' "$d/body" || fail "metrics body: $(cat "$d/body")"
grep -qx 'eth2_slashingprotection_permitted_signings_total 0' "$d/body" || fail "metrics body: $(cat "$d/body")"
[ "$(metrics /upcheck)" = 404 ] || fail "metrics port serves /upcheck"
[ "$(api /metrics)" = 404 ] || fail "API /metrics: $(cat "$d/body")"
ok

# Frames: the type first; a status frame over its cap is closed at once.
out=$(control '{"records":[],"type":"reload"}')
[ "$out" = CLOSED ] || fail "type not first answered: $out"
out=$(control 001000007b2274797065223a22737461747573222c2278223a22)
[ "$out" = CLOSED ] || fail "1 MiB status frame answered: $out"
ok

term_and_wait "$pid" "$d/err"
pid=
ok
echo "test_enclave: $checks checks passed"
