# test_host_run.sh: `nitro-host run` with the local runner starting the
# real `nitro-signer enclave` on unix sockets (NSM simulator): config
# errors are one line; the enclave's status reply is logged; a proxy from
# the config reaches the enclave's API, and `metrics` its metrics listener; DynamoDB unavailable (a closed
# port): init is retried with a growing backoff, /health answers 503 with
# "dynamodb: ..." as the reason (404 elsewhere), nothing crashes; kill -9
# of the enclave: it is restarted and its control port answers again; an
# enclave that never opens its control port is killed and restarted;
# SIGTERM: exit 0 and the child is gone.
set -eu
. "$(dirname "$0")/lib.sh"

d=$(mktemp -d /tmp/ns-host-run-it-XXXXXX)
hp=
cleanup() { [ -n "$hp" ] && kill "$hp" 2>/dev/null; rm -rf "$d"; }
trap cleanup EXIT

expect_usage nitro-host "^nitro-host: --config: required" run
printf 'region: r\nbogus: 1\n' >"$d/bad.yaml"
expect_usage nitro-host "bogus: unknown key" run --config="$d/bad.yaml"

closed=$(free_port)
hport=$(free_port "$closed")
mport=$(free_port "$closed" "$hport")
cat >"$d/c.yaml" <<YAML
region: us-east-1
signer_id: it
key_table: keys
credentials: env
endpoints:
  dynamodb: http://127.0.0.1:$closed
health_listen: tcp:127.0.0.1:$hport
status_interval_s: 1
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
    - --metrics-listen=unix:$d/metrics.sock
restart:
  max_backoff_s: 2
proxies:
  - listen: unix:$d/p.sock
    connect: unix:$d/api.sock
metrics:
  connect: unix:$d/metrics.sock
  listen: tcp:127.0.0.1:$mport
YAML

AWS_ACCESS_KEY_ID=AKIAHOSTRUNTEST12345 AWS_SECRET_ACCESS_KEY=host-run-secret-never-logged \
AWS_MAX_ATTEMPTS=1 \
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
# metrics: the enclave's metrics listener on the local port (503 before init)
code=$(curl -s -o "$d/body" -w '%{http_code}' "http://127.0.0.1:$mport/metrics")
[ "$code" = 503 ] || fail "metrics through the host: $code $(cat "$d/body")"
grep -q 'not initialised' "$d/body" || fail "metrics body: $(cat "$d/body")"
ok

# DynamoDB on a closed port: init retried (1 s, then 2 s), the enclave is
# not restarted for it, /health says why
i=0
until grep -q 'run: init: dynamodb: .*retrying in 2 s' "$d/err"; do
	i=$((i + 1))
	[ $i -gt 100 ] && fail "init not retried: $(cat "$d/err")"
	sleep 0.05
done
grep -q 'run: init: dynamodb: .*retrying in 1 s' "$d/err" || fail "first retry: $(cat "$d/err")"
[ "$(grep -c 'run: enclave started' "$d/err")" -eq 1 ] || fail "enclave restarted for an init failure"
code=$(curl -s -o "$d/h" -w '%{http_code}' "http://127.0.0.1:$hport/health")
[ "$code" = 503 ] || fail "health: $code $(cat "$d/h")"
python3 - "$d/h" <<'PY' || fail "health body: $(cat "$d/h")"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["status"] == "DOWN", h
assert h["reason"].startswith("dynamodb: "), h
assert isinstance(h["enclave"]["pid"], int) and h["enclave"]["ready"] is False, h
assert h["enclave"]["restarts"] == 0 and h["credentials_expiration"] is None, h
PY
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/other")
[ "$code" = 404 ] || fail "/other: $code"
grep -q 'host-run-secret-never-logged' "$d/err" && fail "the secret key was logged"
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
term_and_wait "$hp" "$d/err"
hp=
kill -0 "$c2" 2>/dev/null && fail "enclave pid $c2 still running"
ok

# an enclave that never opens its control port: killed after 10 s, restarted
cat >"$d/mute.yaml" <<YAML
region: us-east-1
signer_id: it
key_table: keys
credentials: env
enclave: {network: hoodi, slashing_db_url: "sqlite:$d/s2.db"}
control: unix:$d/never.sock
runner: {type: local, command: [sleep, "600"]}
restart: {max_backoff_s: 1}
YAML
"$BIN/nitro-host" run --config="$d/mute.yaml" 2>"$d/mute.err" &
hp=$!
i=0
until [ "$(grep -c 'run: enclave started' "$d/mute.err")" -ge 2 ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && fail "mute enclave not restarted: $(cat "$d/mute.err")"
	sleep 0.05
done
grep -q 'control port did not answer within 10 s.*killing it' "$d/mute.err" ||
	fail "no kill logged: $(cat "$d/mute.err")"
grep -q 'ended (signal 9)' "$d/mute.err" || fail "kill not seen: $(cat "$d/mute.err")"
m2=$(sed -n 's/.*run: enclave started pid=\([0-9]*\).*/\1/p' "$d/mute.err" | tail -1)
term_and_wait "$hp" "$d/mute.err"
hp=
kill -0 "$m2" 2>/dev/null && fail "mute child $m2 still running"
ok

# every nitro-host log line is JSON (the enclave's own lines are text)
grep '"msg":"run: ' "$d/err" | while read -r line; do
	echo "$line" | python3 -c 'import json,sys; json.loads(sys.stdin.read())' ||
		fail "not JSON: $line"
done
ok

echo "test_host_run: $checks checks passed"
