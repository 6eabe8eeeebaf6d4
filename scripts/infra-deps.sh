#!/bin/sh
# The pinned npm packages of infra/ (the CDK app: aws-cdk-lib, constructs, cdk-nag, typescript, the
# aws-cdk CLI), installed with `npm ci --ignore-scripts` from infra/package-lock.json only when missing
# or when the lockfile changed (none of them has an install script). Called by `make synth` and
# scripts/infra-check.sh.
set -eu
cd "$(dirname "$0")/../infra"
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.lock-stamp; then
	echo "deps: npm ci (infra)"
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.lock-stamp
fi
