#!/bin/sh
# Fetches blst's C sources from the pinned npm tarball and checks its sha512
# integrity against deps/versions.env. Idempotent; nothing else is downloaded.
set -eu
cd "$(dirname "$0")/.."
. deps/versions.env
dest=deps/blst
stamp="$dest/.integrity"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$BLST_NPM_INTEGRITY" ] && [ -f "$dest/src/server.c" ]; then
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "deps: fetching $BLST_NPM_PACKAGE@$BLST_NPM_VERSION"
(cd "$tmp" && npm pack "$BLST_NPM_PACKAGE@$BLST_NPM_VERSION" --silent >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | openssl base64 -A)"
if [ "$got" != "$BLST_NPM_INTEGRITY" ]; then
	echo "deps: integrity mismatch for $BLST_NPM_PACKAGE: got $got" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp"
rm -rf "$dest"
mkdir -p "$dest"
cp -R "$tmp/package/blst/." "$dest/"
echo "$BLST_NPM_INTEGRITY" > "$stamp"
