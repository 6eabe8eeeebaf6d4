# test_host_nitro_cli.sh: `nitro-host run` with the nitro-cli runner, driving
# tests/integration/fake-nitro-cli.sh (the real `nitro-signer enclave` with
# the NSM simulator behind nitro-cli's command line and output): run-enclave
# gets the config's flags, the control port is probed and the status logged,
# /health names the EnclaveID; the enclave process dies -> describe-enclaves
# no longer lists it -> started again; a hung enclave (SIGSTOP) fails 3
# status checks -> terminate-enclave, started again; SIGTERM ->
# terminate-enclave for the current one, exit 0, nothing left running.
set -eu
. "$(dirname "$0")/lib.sh"
SRC=${NS_SOURCE_DIR:?}

d=$(mktemp -d /tmp/ns-host-nitro-it-XXXXXX)
hp=
cleanup() {
	set +e
	[ -n "$hp" ] && kill "$hp" 2>/dev/null && sleep 0.5
	for p in $(cat "$d/st/pids" 2>/dev/null); do
		kill -CONT "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$d"
}
trap cleanup EXIT

mkdir "$d/st"
: >"$d/enclave.eif"
hport=$(free_port)
cat >"$d/c.yaml" <<YAML
region: us-east-1
signer_id: nitro-it
key_table: keys
credentials: env
enclave: {network: hoodi, slashing_db_url: "sqlite:$d/slashing.db", volatile_slashing_db: true}
health_listen: tcp:127.0.0.1:$hport
status_interval_s: 1
control: unix:$d/st/c.sock
runner:
  type: nitro-cli
  nitro_cli: $SRC/tests/integration/fake-nitro-cli.sh
  eif_path: $d/enclave.eif
  cpu_count: 2
  memory_mib: 512
  cid: 16
  debug_mode: true
restart: {max_backoff_s: 1}
YAML

FAKE_NITRO_STATE="$d/st" FAKE_NITRO_SIGNER="$BIN/nitro-signer" \
	"$BIN/nitro-host" run --config="$d/c.yaml" 2>"$d/err" &
hp=$!

until_log() {
	i=0
	until [ "$(grep -c -- "$1" "$d/err")" -ge "${2:-1}" ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && fail "no '$1' (x${2:-1}): $(tail -30 "$d/err")"
		kill -0 "$hp" 2>/dev/null || fail "nitro-host exited: $(cat "$d/err")"
		sleep 0.05
	done
}
enc_pid() { cut -d' ' -f2 "$d/st/enclave"; }
ID1=i-0fake00000000000-enc01
ID2=i-0fake00000000000-enc02
ID3=i-0fake00000000000-enc03

until_log "run: enclave enclave_id=$ID1 status: "
grep -q "run: enclave started enclave_id=$ID1 cid=16" "$d/err" || fail "start log: $(cat "$d/err")"
grep -qx "run-enclave --eif-path $d/enclave.eif --cpu-count 2 --memory 512 --enclave-cid 16 --debug-mode" "$d/st/calls" ||
	fail "run-enclave flags: $(cat "$d/st/calls")"
curl -s -o "$d/h" "http://127.0.0.1:$hport/health"
python3 -c "import json,sys; h=json.load(open('$d/h')); sys.exit(0 if h['enclave'].get('enclave_id') == '$ID1' and 'pid' not in h['enclave'] and h['status'] == 'DOWN' else 1)" ||
	fail "health: $(cat "$d/h")"
ok

# the enclave process dies: describe-enclaves stops listing it -> restarted
p1=$(enc_pid)
kill -9 "$p1"
until_log "run: enclave enclave_id=$ID1 ended (state absent)"
until_log "run: enclave enclave_id=$ID2 status: "
grep -q 'describe-enclaves' "$d/st/calls" || fail "never described"
ok

# hung (SIGSTOP): 3 failed status checks -> terminate-enclave -> restarted
p2=$(enc_pid)
kill -STOP "$p2"
until_log "run: enclave enclave_id=$ID2: 3 status checks failed in a row; killing it"
until_log "run: enclave enclave_id=$ID2 ended (terminated)"
grep -qx "terminate-enclave --enclave-id $ID2" "$d/st/calls" || fail "terminate: $(cat "$d/st/calls")"
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
gone "$p2" || fail "hung enclave $p2 still there"
until_log "run: enclave enclave_id=$ID3 status: "
ok

# SIGTERM: terminate-enclave for the current one, exit 0
p3=$(enc_pid)
term_and_wait "$hp" "$d/err"
hp=
grep -qx "terminate-enclave --enclave-id $ID3" "$d/st/calls" || fail "no terminate at stop: $(cat "$d/st/calls")"
grep -q "run: enclave enclave_id=$ID3 terminated" "$d/err" || fail "stop log: $(tail "$d/err")"
gone "$p3" || fail "enclave $p3 still running"
ok

echo "test_host_nitro_cli: $checks checks passed"
