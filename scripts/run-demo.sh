#!/bin/sh
# make run: demo keys under ./demo/ on first use, then the signer in the
# foreground on 127.0.0.1:9000 with slashing protection on ./demo/slashing.db.
# Extra eth2 options: make run ARGS="--slashing-protection-enabled=false"
set -eu
cd "$(dirname "$0")/.."
umask 077
mkdir -p demo
if [ ! -s demo/password.txt ]; then
	openssl rand -hex 24 > demo/password.txt
	echo "demo: generated keystore password in demo/password.txt"
fi
if ! ls demo/keystores/*.json >/dev/null 2>&1; then
	echo "demo: creating 4 EIP-2335 keystores (scrypt) in demo/keystores"
	build/bin/nitro-keys keystore generate --count=4 --out=demo/keystores \
		--keystore-password-file=demo/password.txt
fi
# shellcheck disable=SC2086
exec build/bin/nitro-signer --http-listen-host=127.0.0.1 --http-listen-port=9000 \
	eth2 --network=mainnet \
	--keystores-path=demo/keystores --keystores-password-file=demo/password.txt \
	--slashing-protection-db-url=sqlite:./demo/slashing.db ${ARGS:-}
