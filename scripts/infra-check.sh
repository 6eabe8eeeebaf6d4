#!/bin/sh
# The CDK app's offline tests (infra/test/*.test.ts, docs/deploy.md "Tests"): the pinned packages
# (scripts/infra-deps.sh), tsc, then node --test. Needs nitro-keys and nitro-signer of a build
# (NS_BIN_DIR, default build/bin) and tests/js's packages (the DynamoDB stand-in). No account, no
# credentials, no network: every artifact the stacks take is a small stand-in in a temporary directory.
set -eu
cd "$(dirname "$0")/.."
: "${NS_BIN_DIR:=$PWD/build/bin}"
export NS_BIN_DIR
for b in nitro-keys nitro-signer; do
	[ -x "$NS_BIN_DIR/$b" ] || { echo "infra-check: $NS_BIN_DIR/$b is missing (make build)" >&2; exit 1; }
done
scripts/infra-deps.sh
cd infra
rm -rf dist
npx --no-install tsc -p .
node --test dist/test/*.test.js
