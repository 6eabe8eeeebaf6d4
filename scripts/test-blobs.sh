#!/bin/sh
# test-blobs.sh DIR: a stand-in blob set for tests and dry runs of
# `make enclave-image BLOBS=DIR`, laid out as nitro-cli's blobs folder
# (bzImage, bzImage.config, cmdline, init, nsm.ko). The bytes are generated
# (AES-128-CTR keystreams under fixed keys, so the same on every machine):
# the image format does not care what a kernel holds, but such an image
# boots nowhere. The real blobs come from AWS (docs/enclave-image.md).
set -eu
[ $# -eq 1 ] || { echo "usage: test-blobs.sh DIR" >&2; exit 2; }
DIR=$1
mkdir -p "$DIR"

# stream KEYBYTE LENGTH FILE: LENGTH bytes of the keystream under key KEYBYTE*16
stream() {
	key=$(printf "%32s" "" | tr ' ' "$1")
	head -c "$2" /dev/zero |
		openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000 -nosalt > "$3"
}
stream 1 2097152 "$DIR/bzImage"
stream 2 65536 "$DIR/init"
stream 3 16384 "$DIR/nsm.ko"
printf '# stand-in kernel config (test blobs)\nCONFIG_NITRO_ENCLAVES_TEST=y\n' > "$DIR/bzImage.config"
# AWS's x86_64 cmdline (aws-nitro-enclaves-cli blobs/x86_64/cmdline), newline included
printf 'reboot=k panic=30 pci=off nomodules console=ttyS0 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd random.trust_cpu=on\n' > "$DIR/cmdline"
