# lib.sh: shared by the shell integration tests (sourced, POSIX sh).
# Gives: BIN, fail, ok/checks, free_port, expect_usage, wait_listening,
# term_and_wait.
BIN=${NS_BIN_DIR:?}
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }

# free_port [USED...]: a free 127.0.0.1 TCP port not among USED, from below
# the ephemeral range (tests/js/lib/ports.mjs says why), via node, which the
# tests need anyway.
free_port() {
	node "${NS_SOURCE_DIR:?}/tests/js/lib/ports.mjs" "$@"
}

# expect_usage PROGRAM WANT ARGS...: exit 2 and one stderr line naming WANT.
expect_usage() {
	prog=$1; want=$2; shift 2
	set +e
	out=$("$BIN/$prog" "$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" -eq 2 ] || fail "exit $rc (want 2) for: $prog $*"
	echo "$out" | grep -q -- "$want" || fail "message '$out' lacks '$want' for: $prog $*"
	[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "more than one line for: $prog $*: $out"
	ok
}

# wait_listening PID OUT ERR: until OUT says "listening on" (10 s), failing
# with ERR's content if the process exits first.
wait_listening() {
	i=0
	until grep -q "listening on" "$2" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "$1 did not start: $(cat "$3")"
		kill -0 "$1" 2>/dev/null || fail "process exited: $(cat "$3")"
		sleep 0.05
	done
}

# term_and_wait PID LOG: SIGTERM, wait for it (a child of this shell), fail
# unless it exited 0, quoting LOG's tail. The caller forgets PID afterwards.
term_and_wait() {
	kill -TERM "$1"
	set +e
	wait "$1"
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || fail "exit $rc after SIGTERM: $(tail -20 "$2")"
}
