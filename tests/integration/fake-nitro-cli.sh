#!/bin/sh
# fake-nitro-cli.sh: a stand-in for nitro-cli in test_host_nitro_cli.sh (not
# a test itself). The enclave is the real `nitro-signer enclave` with the
# NSM simulator on unix sockets in $FAKE_NITRO_STATE; nitro-signer is
# $FAKE_NITRO_SIGNER. Every call is appended to $FAKE_NITRO_STATE/calls.
#   run-enclave --eif-path P --cpu-count N --memory M --enclave-cid C [--debug-mode]
#   describe-enclaves          RUNNING while the enclave's process lives
#   terminate-enclave --enclave-id ID
# Output shapes follow nitro-cli's (JSON, run-enclave after a progress line).
set -eu
st=${FAKE_NITRO_STATE:?}
echo "$*" >>"$st/calls"
# alive PID: running or stopped, not a zombie (the enclave is reparented
# when this script exits, and its new parent may be slow to reap it)
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}
cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
run-enclave)
	eif= cpu= mem= cid=
	while [ $# -gt 0 ]; do
		case $1 in
		--eif-path) eif=$2; shift 2 ;;
		--cpu-count) cpu=$2; shift 2 ;;
		--memory) mem=$2; shift 2 ;;
		--enclave-cid) cid=$2; shift 2 ;;
		--debug-mode) shift ;;
		*) echo "fake-nitro-cli: unknown flag $1" >&2; exit 2 ;;
		esac
	done
	[ -f "$eif" ] || { echo "fake-nitro-cli: no EIF at '$eif'" >&2; exit 1; }
	if [ -f "$st/enclave" ]; then
		read -r _ old <"$st/enclave"
		alive "$old" && { echo "fake-nitro-cli: CID $cid in use" >&2; exit 1; }
	fi
	"${FAKE_NITRO_SIGNER:?}" enclave --control="unix:$st/c.sock" \
		--http-listen="unix:$st/api.sock" --nsm="sim:$st/sim" \
		</dev/null >>"$st/enclave.log" 2>&1 &
	pid=$!
	n=$(($(cat "$st/n" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$st/n"
	id=$(printf 'i-0fake00000000000-enc%02d' "$n")
	echo "$id $pid" >"$st/enclave"
	echo "$pid" >>"$st/pids"
	echo "Start allocating memory..."
	printf '{\n  "EnclaveName": "fake",\n  "EnclaveID": "%s",\n  "ProcessID": %d,\n  "EnclaveCID": %d,\n  "NumberOfCPUs": %d,\n  "MemoryMiB": %d\n}\n' \
		"$id" "$pid" "$cid" "$cpu" "$mem"
	;;
describe-enclaves)
	if [ -f "$st/enclave" ]; then
		read -r id pid <"$st/enclave"
		if alive "$pid"; then
			printf '[\n  {\n    "EnclaveName": "fake",\n    "EnclaveID": "%s",\n    "ProcessID": %d,\n    "State": "RUNNING"\n  }\n]\n' "$id" "$pid"
			exit 0
		fi
	fi
	echo '[]'
	;;
terminate-enclave)
	[ "${1:-}" = --enclave-id ] || { echo "fake-nitro-cli: --enclave-id required" >&2; exit 2; }
	want=$2
	[ -f "$st/enclave" ] || { echo "fake-nitro-cli: no enclave $want" >&2; exit 1; }
	read -r id pid <"$st/enclave"
	[ "$id" = "$want" ] || { echo "fake-nitro-cli: no enclave $want" >&2; exit 1; }
	kill -CONT "$pid" 2>/dev/null || true
	kill -9 "$pid" 2>/dev/null || true
	i=0
	while alive "$pid" && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
	rm -f "$st/enclave"
	printf '{\n  "EnclaveID": "%s",\n  "Terminated": true\n}\n' "$id"
	;;
*)
	echo "fake-nitro-cli: unknown command '$cmd'" >&2
	exit 2
	;;
esac
