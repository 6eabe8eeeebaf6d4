#!/bin/sh
# Installs what the build and tests need, idempotently:
#   scripts/deps.sh         Debian packages + blst sources
#   scripts/deps.sh --test  also the pinned npm packages for tests (npm ci)
set -eu
cd "$(dirname "$0")/.."
. deps/versions.env

missing=""
for p in $DEBIAN_PACKAGES $DEBIAN_TEST_PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node/npm and Python may come from elsewhere than Debian; accept any
# working install.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e nodejs -e npm | tr '\n' ' ')
fi
if command -v python3 >/dev/null 2>&1; then
	missing=$(echo "$missing" | tr ' ' '\n' | grep -v -x -e python3 | tr '\n' ' ')
fi
missing=$(echo $missing)
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages: $missing"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

scripts/fetch-blst.sh

if [ "${1:-}" = "--test" ]; then
	scripts/js-deps.sh
fi
