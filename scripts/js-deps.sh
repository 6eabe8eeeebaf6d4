#!/bin/sh
# The pinned npm packages of tests/js (npm ci from package-lock.json, no
# install scripts), installed only when missing or when the lockfile
# changed. Called by `scripts/deps.sh --test` and by ctest's setup/js_deps
# fixture.
set -eu
cd "$(dirname "$0")/.."
if [ ! -f tests/js/node_modules/.package-lock.json ] ||
   ! cmp -s tests/js/package-lock.json tests/js/node_modules/.lock-stamp; then
	echo "deps: npm ci (tests/js)"
	(cd tests/js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	cp tests/js/package-lock.json tests/js/node_modules/.lock-stamp
fi
