#!/bin/sh
# test_host_proxy.sh: `nitro-host proxy` as a process, in front of a real
# nitro-signer on a unix socket (as it will sit in front of the enclave's
# vsock port): usage errors exit 2 naming the flag; the allowlist refuses
# a destination outside it; a RANDAO_REVEAL signed through the proxy is
# the signature the signer gives directly; with the signer on TLS, curl
# verifies the signer's own certificate through the proxy (TLS end to end:
# the proxy relays ciphertext and terminates nothing); SIGTERM exits 0.
set -eu
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/ns-hostproxy-XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

# --- usage errors: exit 2, one line naming the flag ---
expect_usage nitro-host "--listen" proxy --connect=unix:/x
expect_usage nitro-host "--connect" proxy --listen=tcp:127.0.0.1:0
expect_usage nitro-host "--listen" proxy --listen=udp:127.0.0.1:1 --connect=unix:/x
expect_usage nitro-host "--connect" proxy --listen=tcp:127.0.0.1:0 --connect=tcp:127.0.0.1
expect_usage nitro-host "--allow" proxy --listen=tcp:127.0.0.1:0 --connect=unix:/x --allow=nohostport
expect_usage nitro-host "--max-connections" proxy --listen=tcp:127.0.0.1:0 --connect=unix:/x --max-connections=0
expect_usage nitro-host "--idle-timeout" proxy --listen=tcp:127.0.0.1:0 --connect=unix:/x --idle-timeout=soon
expect_usage nitro-host "^nitro-host: --listen given twice" proxy --listen=tcp:127.0.0.1:0 --listen tcp:127.0.0.1:1 --connect=unix:/x
expect_usage nitro-host "^nitro-host: --no-such-flag is not a flag of proxy" proxy --listen=tcp:127.0.0.1:0 --connect=unix:/x --no-such-flag
expect_usage nitro-host "^nitro-host: --config is not a flag of proxy" proxy --listen=tcp:127.0.0.1:0 --connect=unix:/x --config=/c
expect_usage nitro-host "^nitro-host: --connect: expected a value" proxy --listen=tcp:127.0.0.1:0 --connect
expect_usage nitro-host "^nitro-host: --config given twice" run --config /a --config=/b
expect_usage nitro-host "^nitro-host: --listen is not a flag of run" run --config=/a --listen=tcp:127.0.0.1:0
expect_usage nitro-host "unknown command" frobnicate
expect_usage nitro-host "^nitro-host: --config: required" run
# the allowlist: a tcp destination outside it refuses to start
expect_usage nitro-host "--allow" proxy --listen=tcp:127.0.0.1:0 \
	--connect=tcp:127.0.0.1:9 --allow=kms.eu-west-1.amazonaws.com:443
expect_usage nitro-host "--allow" proxy --listen=tcp:127.0.0.1:0 \
	--connect=tcp:127.0.0.1:9 --allow=127.0.0.1:443
help=$("$BIN/nitro-host" --help)
for w in proxy run --listen --connect --allow --max-connections --idle-timeout; do
	echo "$help" | grep -q -- "$w" || fail "--help lacks $w"
done
"$BIN/nitro-host" --version | grep -q "^nitro-host " || fail "--version"
ok

# --- helpers: start a process and wait for its "listening" line ---
wait_line() { # file pattern pid what
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "$4 did not start: $(cat "$1")"
		kill -0 "$3" 2>/dev/null || fail "$4 exited: $(cat "$1")"
		sleep 0.05
	done
}
start_signer() { # name args...
	name=$1; shift
	"$BIN/nitro-signer" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	LAST=$!
	PIDS="$PIDS $LAST"
	wait_line "$T/$name.out" "listening on" "$LAST" "signer $name"
}
start_proxy() { # name args... ; sets LAST and PORT
	name=$1; shift
	"$BIN/nitro-host" proxy --listen=tcp:127.0.0.1:0 "$@" 2>"$T/$name.err" &
	LAST=$!
	PIDS="$PIDS $LAST"
	wait_line "$T/$name.err" "listening on tcp:127.0.0.1:" "$LAST" "proxy $name"
	PORT=$(sed -n 's/.*listening on tcp:127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/$name.err" | head -1)
	[ -n "$PORT" ] || fail "no port in: $(cat "$T/$name.err")"
}
stop_ok() { # pid what
	kill -TERM "$1"
	wait "$1" || fail "$2 exited non-zero after SIGTERM"
}

# --- a signer with one file-raw key on a unix socket, the proxy in front ---
mkdir -m 700 "$T/keys"
printf 'type: "file-raw"\nkeyType: "BLS"\nprivateKey: "0x25295f0d1d592a90b333e26e85149708208e9f8e8bc18f6c77bd62f8ad7a6866"\n' \
	>"$T/keys/key.yaml"
chmod 600 "$T/keys/key.yaml"
SOCK="$T/signer.sock"
start_signer plain --http-listen="unix:$SOCK" --key-store-path="$T/keys" \
	eth2 --network=mainnet --slashing-protection-db-url="sqlite:$T/plain.db"
SIGNER=$LAST
start_proxy plain --connect="unix:$SOCK" --max-connections=8 --idle-timeout=30
PROXY=$LAST
P=$PORT
curl -sf --max-time 10 "http://127.0.0.1:$P/upcheck" | grep -qx OK || fail "upcheck through the proxy"
PK=$(curl -sf --max-time 10 "http://127.0.0.1:$P/api/v1/eth2/publicKeys" | sed 's/^\["\([^"]*\)".*/\1/')
echo "$PK" | grep -Eq '^0x[0-9a-f]{96}$' || fail "public key through the proxy: $PK"
FORK='"fork_info":{"fork":{"previous_version":"0x05000000","current_version":"0x06000000","epoch":"411392"},"genesis_validators_root":"0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"}'
BODY="{\"type\":\"RANDAO_REVEAL\",$FORK,\"randao_reveal\":{\"epoch\":\"411500\"}}"
via_proxy=$(curl -sf --max-time 10 -H 'Accept:' -H 'Content-Type: application/json' \
	"http://127.0.0.1:$P/api/v1/eth2/sign/$PK" -d "$BODY")
echo "$via_proxy" | grep -Eq '^0x[0-9a-f]{192}$' || fail "signature through the proxy: $via_proxy"
direct=$(curl -sf --max-time 10 --unix-socket "$SOCK" -H 'Accept:' -H 'Content-Type: application/json' \
	"http://localhost/api/v1/eth2/sign/$PK" -d "$BODY")
[ "$via_proxy" = "$direct" ] || fail "proxy changed the signature: $via_proxy vs $direct"
ok
# several requests on one kept-alive connection, and a 1 MiB body (the
# signer answers 413 past its cap; either way the bytes went both ways)
code=$(head -c 1048576 /dev/zero | tr '\0' 'a' | curl -s --max-time 20 -o /dev/null -w '%{http_code}' \
	-H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$P/api/v1/eth2/sign/$PK")
[ "$code" = 400 ] || [ "$code" = 413 ] || fail "1 MiB body through the proxy: got $code"
n=$(curl -sf --max-time 10 "http://127.0.0.1:$P/upcheck" "http://127.0.0.1:$P/upcheck" "http://127.0.0.1:$P/upcheck" | grep -o OK | wc -l)
[ "$n" -eq 3 ] || fail "three requests on one connection: $n"
ok
grep -q "$PK" "$T/plain.err" && fail "proxy logged payload bytes"
grep -q "RANDAO" "$T/plain.err" && fail "proxy logged payload bytes"
ok
# the allowlist admits a destination on it
start_proxy allowed --connect "tcp:127.0.0.1:$P" --allow=kms.eu-west-1.amazonaws.com:443 \
	--allow "127.0.0.1:$P"
curl -sf --max-time 10 "http://127.0.0.1:$PORT/upcheck" | grep -qx OK || fail "upcheck through two proxies"
stop_ok "$LAST" "allowed proxy"
ok
stop_ok "$PROXY" "proxy"
grep -q "stopping" "$T/plain.err" || fail "no stop line: $(cat "$T/plain.err")"
ok
stop_ok "$SIGNER" "signer"

# --- TLS end to end: the signer terminates TLS behind the proxy ---
"$BIN/nitro-keys" tls new --out="$T/tls" --san=DNS:localhost,IP:127.0.0.1 >/dev/null
TSOCK="$T/tls.sock"
start_signer tls --http-listen="unix:$TSOCK" --key-store-path="$T/keys" \
	--tls-keystore-file="$T/tls/tls.p12" --tls-keystore-password-file="$T/tls/tls.p12.password" \
	--tls-allow-any-client \
	eth2 --network=mainnet --slashing-protection-db-url="sqlite:$T/tls.db"
SIGNER=$LAST
start_proxy tlsproxy --connect="unix:$TSOCK"
PROXY=$LAST
curl -sf --max-time 10 --cacert "$T/tls/tls.crt" "https://127.0.0.1:$PORT/upcheck" | grep -qx OK \
	|| fail "HTTPS through the proxy with the signer's certificate"
via_tls=$(curl -sf --max-time 10 --cacert "$T/tls/tls.crt" -H 'Accept:' -H 'Content-Type: application/json' \
	"https://127.0.0.1:$PORT/api/v1/eth2/sign/$PK" -d "$BODY")
[ "$via_tls" = "$direct" ] || fail "signature over TLS through the proxy: $via_tls"
ok
# the proxy terminates nothing: plain HTTP to it reaches a TLS server
out=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/upcheck" || true)
[ "$out" = OK ] && fail "plain HTTP answered: the proxy is not relaying TLS end to end"
# and a client that does not trust the signer's certificate is refused
set +e
curl -sf --max-time 10 "https://127.0.0.1:$PORT/upcheck" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "an untrusted certificate was accepted"
ok
stop_ok "$PROXY" "TLS proxy"
stop_ok "$SIGNER" "TLS signer"
PIDS=""
echo "host proxy: $checks checks passed"
