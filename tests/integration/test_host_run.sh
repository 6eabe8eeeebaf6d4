# test_host_run.sh: `nitro-host run` with the local runner starting the
# real `nitro-signer enclave` on unix sockets (NSM simulator): config
# errors are one line; the enclave's status reply is logged; a proxy from
# the config reaches the enclave's API; kill -9 of the enclave: it is
# restarted and its control port answers again; SIGTERM: exit 0 and the
# child is gone.
set -eu
. "$(dirname "$0")/lib.sh"

d=$(mktemp -d /tmp/ns-host-run-it-XXXXXX)
hp=
cleanup() { [ -n "$hp" ] && kill "$hp" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT

expect_usage nitro-host "^nitro-host: --config: required" run
printf 'region: r\nbogus: 1\n' >"$d/bad.yaml"
expect_usage nitro-host "bogus: unknown key" run --config="$d/bad.yaml"

cat >"$d/c.yaml" <<YAML
region: us-east-1
signer_id: it
key_table: keys
credentials: env
control: unix:$d/c.sock
enclave:
  network: hoodi
  slashing_db_url: sqlite:$d/slashing.db
runner:
  type: local
  command:
    - $BIN/nitro-signer
    - enclave
    - --control=unix:$d/c.sock
    - --http-listen=unix:$d/api.sock
    - --nsm=sim:$d/sim
restart:
  max_backoff_s: 2
proxies:
  - listen: unix:$d/p.sock
    connect: unix:$d/api.sock
YAML

"$BIN/nitro-host" run --config="$d/c.yaml" --log-format=json 2>"$d/err" &
hp=$!

# wait_status N: until the log holds N status replies (15 s).
wait_status() {
	i=0
	until [ "$(grep -c '"run: enclave pid=[0-9]* status: ' "$d/err")" -ge "$1" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && fail "no status reply #$1: $(cat "$d/err")"
		kill -0 "$hp" 2>/dev/null || fail "nitro-host exited: $(cat "$d/err")"
		sleep 0.05
	done
}
child_pid() { sed -n 's/.*run: enclave started pid=\([0-9]*\).*/\1/p' "$d/err" | tail -1; }

wait_status 1
grep '"run: enclave pid=[0-9]* status: ' "$d/err" | grep -q 'ready\\":false' ||
	fail "status reply: $(cat "$d/err")"
ok
c1=$(child_pid)
[ -n "$c1" ] && kill -0 "$c1" || fail "no child pid: $(cat "$d/err")"
ok

# the config's proxy reaches the enclave's API (503 before init)
code=$(curl -s -o "$d/body" -w '%{http_code}' --unix-socket "$d/p.sock" http://localhost/upcheck)
[ "$code" = 503 ] || fail "upcheck through the proxy: $code $(cat "$d/body")"
ok

# kill -9 the enclave: restarted after the backoff, control answers again
kill -9 "$c1"
wait_status 2
c2=$(child_pid)
[ "$c2" != "$c1" ] || fail "same pid after restart: $(cat "$d/err")"
grep -q "enclave pid=$c1 ended (signal 9)" "$d/err" || fail "exit not logged: $(cat "$d/err")"
grep -q 'restarting the enclave in 1 s' "$d/err" || fail "backoff not logged"
ok

# SIGTERM: exit 0, the child is gone
kill -TERM "$hp"
set +e
wait "$hp"
rc=$?
set -e
hp=
[ "$rc" -eq 0 ] || fail "nitro-host exit $rc after SIGTERM: $(cat "$d/err")"
kill -0 "$c2" 2>/dev/null && fail "enclave pid $c2 still running"
ok

# every nitro-host log line is JSON (the enclave's own lines are text)
grep '"msg":"run: ' "$d/err" | while read -r line; do
	echo "$line" | python3 -c 'import json,sys; json.loads(sys.stdin.read())' ||
		fail "not JSON: $line"
done
ok

echo "test_host_run: $checks checks passed"
