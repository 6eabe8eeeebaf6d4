#!/bin/sh
# Reproducibility check (make check runs it): the committed HEAD cloned
# twice, into directories of different names and depths, each built with
# `make release` at a different time; their SHA256SUMS must be identical.
# blst's sources are copied from this tree's deps/blst (already checked
# against the pinned sha512) so that the clones need no network.
#
#   scripts/check-reproducible.sh [WORK_DIR]    default: a fresh temp dir
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
work=${1:-$(mktemp -d /tmp/ns-repro.XXXXXX)}
keep=${NS_REPRO_KEEP:-}
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT

a="$work/a"
b="$work/second-clone/of/nitro-signer"
for d in "$a" "$b"; do
	mkdir -p "$(dirname "$d")"
	git clone -q "$src" "$d"
	git -C "$d" checkout -q "$(git rev-parse HEAD)"
	mkdir -p "$d/deps"
	cp -R deps/blst "$d/deps/blst"
done
echo "== release in $a"
(cd "$a" && scripts/release.sh >/dev/null)
sleep 2 # a different wall-clock time for the second build
echo "== release in $b"
(cd "$b" && umask 002 && scripts/release.sh >/dev/null)

echo "-- $a/build/release/SHA256SUMS"
cat "$a/build/release/SHA256SUMS"
echo "-- $b/build/release/SHA256SUMS"
cat "$b/build/release/SHA256SUMS"
if ! cmp -s "$a/build/release/SHA256SUMS" "$b/build/release/SHA256SUMS"; then
	echo "reproducible: FAIL: the two clones built different binaries" >&2
	exit 1
fi
for f in nitro-signer nitro-host nitro-keys nitro-control; do
	cmp "$a/build/release/$f" "$b/build/release/$f"
done
echo "-- the control Lambda's package"
cat "$a/build/lambda/SHA256SUMS" "$b/build/lambda/SHA256SUMS"
cmp "$a/build/lambda/nitro-control.zip" "$b/build/lambda/nitro-control.zip"
echo "reproducible: ok: byte-identical release from two clones"

# The enclave image from each clone's release and the same (generated)
# blob set: the same bytes, the same PCRs.
blobs="$work/blobs"
scripts/test-blobs.sh "$blobs" >/dev/null
for d in "$a" "$b"; do
	(cd "$d" && make -s enclave-image BLOBS="$blobs" >/dev/null)
done
echo "-- $a/build/enclave/pcrs.json"
cat "$a/build/enclave/pcrs.json"
echo "-- $b/build/enclave/pcrs.json"
cat "$b/build/enclave/pcrs.json"
cmp "$a/build/enclave/pcrs.json" "$b/build/enclave/pcrs.json"
cmp "$a/build/enclave/nitro-signer.eif" "$b/build/enclave/nitro-signer.eif"
echo "reproducible: ok: byte-identical enclave image, sha256 $(sha256sum <"$a/build/enclave/nitro-signer.eif" | cut -d' ' -f1)"
