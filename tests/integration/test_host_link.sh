#!/bin/sh
# test_host_link.sh: nitro-host runs on the parent instance, which is the
# adversary; it links what it shares with the enclave (the control module:
# frames, the init/reload schema, the exchange) and nothing else of the
# enclave's. Read from the linked binary itself (nm, objdump: binutils):
#   - no external symbol of the enclave, signer, slashing, eth2, crypto or
#     nitro modules, nor of blst, SQLite, Botan, libcbor or libunistring;
#   - none of SQLite, Botan, libcbor, libunistring among its libraries;
#   - the control module's and the host's own symbols are there (so an
#     empty or stripped symbol table cannot pass);
#   - the same pattern does find the enclave's code in nitro-signer (so it
#     would catch the host linking it again).
set -eu
. "$(dirname "$0")/lib.sh"

for tool in nm objdump; do
	command -v "$tool" >/dev/null 2>&1 ||
		fail "$tool not found: install binutils to check nitro-host's link"
done
T=$(mktemp -d /tmp/ns-hostlink-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM

# The module prefixes (STYLE.md: public symbols carry their module's name)
# of enclave, signer (and its keys.h), slashing, eth2, crypto, nitro, and
# the libraries only they use. Anchored: a prefix, not a substring.
FORBIDDEN='^(enclave|signer|keys|slashing|interchange|eth2|deposit|ssz|bls|blst|keystore|bip39|eip2333|eip2334|nsm|recipient|attestation|cose|ncbor|sqlite3|cbor|botan|u8|uninorm)_|^_ZN5Botan'
FORBIDDEN_LIBS='lib(sqlite3|botan|cbor|unistring)'

# External symbols only (-g): the host's own static helpers may speak of
# "the enclave" (enclave_down in run.c) without linking any of its code,
# and an object file linked in always brings its external symbols.
names() {
	nm -g -P "$1" >"$T/nm" 2>"$T/nm.err" ||
		fail "nm $1: $(cat "$T/nm.err")"
	awk '{ sub(/@.*/, "", $1); print $1 }' "$T/nm"
}

host=$BIN/nitro-host
[ -x "$host" ] || fail "no $host"
names "$host" >"$T/host"

bad=$(grep -E "$FORBIDDEN" "$T/host" || true)
[ -z "$bad" ] || fail "nitro-host links code it must not: $(echo "$bad" | head -20 | tr '\n' ' ')"
ok

needed=$(objdump -p "$host" | awk '$1 == "NEEDED" { print $2 }')
[ -n "$needed" ] || fail "objdump found no NEEDED entries in $host"
badlib=$(echo "$needed" | grep -E "$FORBIDDEN_LIBS" || true)
[ -z "$badlib" ] || fail "nitro-host needs libraries it must not: $badlib"
ok

# What it must have: the shared codec, schema and exchange, and its own.
for sym in control_decode control_encode control_record_check \
	   control_exchange host_records_from_items host_run proxy_new \
	   nitro_host_main aws_ddb_query_all; do
	grep -qx "$sym" "$T/host" || fail "nitro-host lacks $sym"
	ok
done

# The pattern is not vacuous: nitro-signer links the enclave and finds it.
names "$BIN/nitro-signer" >"$T/signer"
for sym in enclave_init_run signer_new keystore_decrypt slashing_check_block \
	   blst_sk_check; do
	grep -qx "$sym" "$T/signer" || fail "nitro-signer lacks $sym"
	echo "$sym" | grep -qE "$FORBIDDEN" || fail "the pattern misses $sym"
	ok
done
grep -qE '^sqlite3_' "$T/signer" || fail "nitro-signer has no sqlite3_ symbol"
ok

echo "ok: $checks checks"
