#!/bin/sh
# enclave-image.sh: the enclave image (EIF) from AWS's blobs and our static
# signer, with nitro-keys (src/eif); no docker, no linuxkit, no nitro-cli.
# `make enclave-image BLOBS=DIR` runs it. docs/enclave-image.md.
#
#   BLOBS=DIR        AWS's blob set: bzImage (x86_64; Image on aarch64),
#                    cmdline, init, nsm.ko (nitro-cli's
#                    /usr/share/nitro_enclaves/blobs/ on Amazon Linux)
#   SIGNER_BIN       default build/release/nitro-signer (make release); a
#                    dynamic signer or one with the NSM simulator is refused
#                    (TEST_SIGNER=1 allows them, for tests only)
#   NITRO_KEYS       default build/release/nitro-keys
#   ENCLAVE_ARGS     the signer's arguments, one per line
#                    (default deploy/enclave/enclave-args.example)
#   KNOWN_CLIENTS    file baked in at /etc/nitro-signer/known-clients
#                    (default deploy/enclave/known-clients.example)
#   CA_BUNDLE        default deploy/enclave/aws-ca-bundle.pem (pinned roots)
#   OUT_DIR          default build/enclave: nitro-signer.eif, pcrs.json
#   MEMORY_MIB, CPUS header defaults (1024, 2)
#   SIGNING_KEY, SIGNING_CERT  optional, together: sign the image (ECDSA
#                    P-384 key and its certificate, PEM); then
#                    nitro-signer.eif is the signed image, pcrs.json has PCR8
#                    and nitro-signer.unsigned.eif is the reproducible image
#                    it was signed from
#
# Prints the SHA-256 of every input, then the measurements. The same inputs
# give the same bytes: the ramdisks and the image contain no time, owner or
# path of this machine; the metadata's BuildTime is the commit's time
# (SOURCE_DATE_EPOCH, from git when unset) and does not enter any PCR.
set -eu

die() { echo "enclave-image: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ -n "${BLOBS:-}" ] || die "BLOBS=DIR is required (bzImage, cmdline, init, nsm.ko)"
[ -d "$BLOBS" ] || die "BLOBS=$BLOBS is not a directory"

# The static release binaries (make release), unless named: build/bin's
# are dynamic and carry the NSM simulator, so they are never picked silently.
SIGNER_BIN=${SIGNER_BIN:-$ROOT/build/release/nitro-signer}
NITRO_KEYS=${NITRO_KEYS:-$ROOT/build/release/nitro-keys}
ENCLAVE_ARGS=${ENCLAVE_ARGS:-$ROOT/deploy/enclave/enclave-args.example}
KNOWN_CLIENTS=${KNOWN_CLIENTS:-$ROOT/deploy/enclave/known-clients.example}
CA_BUNDLE=${CA_BUNDLE:-$ROOT/deploy/enclave/aws-ca-bundle.pem}
OUT_DIR=${OUT_DIR:-$ROOT/build/enclave}
MEMORY_MIB=${MEMORY_MIB:-1024}
CPUS=${CPUS:-2}
SIGNING_KEY=${SIGNING_KEY:-}
SIGNING_CERT=${SIGNING_CERT:-}
if [ -n "$SIGNING_KEY$SIGNING_CERT" ]; then
	[ -n "$SIGNING_KEY" ] && [ -n "$SIGNING_CERT" ] ||
		die "SIGNING_KEY and SIGNING_CERT go together"
	for f in "$SIGNING_KEY" "$SIGNING_CERT"; do
		[ -f "$f" ] || die "$f is missing"
	done
fi

if [ -f "$BLOBS/bzImage" ]; then KERNEL=$BLOBS/bzImage ARCH=x86_64
elif [ -f "$BLOBS/Image" ]; then KERNEL=$BLOBS/Image ARCH=aarch64
else die "$BLOBS has neither bzImage nor Image"; fi
for f in cmdline init nsm.ko; do
	[ -f "$BLOBS/$f" ] || die "$BLOBS/$f is missing"
done
for f in "$SIGNER_BIN" "$NITRO_KEYS" "$ENCLAVE_ARGS" "$KNOWN_CLIENTS" "$CA_BUNDLE"; do
	[ -f "$f" ] || die "$f is missing"
done
# The signer in an image is a release build: static (the enclave has no
# libraries, so a dynamic one cannot start) and without the NSM simulator
# (whose `--nsm=sim:` would let an image's arguments fake attestation).
# TEST_SIGNER=1 lets the tests build images from build/bin's signer; such an
# image boots nowhere useful and its PCR0 must never be pinned.
if [ "${TEST_SIGNER:-}" != 1 ]; then
	LC_ALL=C grep -q -a 'this build has no NSM simulator' "$SIGNER_BIN" ||
		die "$SIGNER_BIN has the NSM simulator compiled in (NS_NSM_SIMULATOR=ON): an image takes the release signer (make release)"
	if readelf -lW "$SIGNER_BIN" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		die "$SIGNER_BIN is dynamically linked: an image takes the static release signer (make release)"
	fi
	readelf -hW "$SIGNER_BIN" >/dev/null 2>&1 || die "$SIGNER_BIN is not an ELF executable"
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

mkdir -p "$OUT_DIR"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

echo "== inputs (sha256)"
sha256sum "$KERNEL" "$BLOBS/cmdline" "$BLOBS/init" "$BLOBS/nsm.ko" \
	"$SIGNER_BIN" "$CA_BUNDLE" "$ENCLAVE_ARGS" "$KNOWN_CLIENTS"
[ -z "$SIGNING_CERT" ] || sha256sum "$SIGNING_CERT"

# The signer's arguments as --arg flags, one per line of ENCLAVE_ARGS.
set --
while IFS= read -r line || [ -n "$line" ]; do
	case $line in ''|'#'*) continue ;; esac
	set -- "$@" "--arg=$line"
done < "$ENCLAVE_ARGS"

"$NITRO_KEYS" eif ramdisk bootstrap --init="$BLOBS/init" \
	--nsm="$BLOBS/nsm.ko" --out="$WORK/bootstrap.cpio"
"$NITRO_KEYS" eif ramdisk app --signer="$SIGNER_BIN" --ca-bundle="$CA_BUNDLE" \
	--file="/etc/nitro-signer/known-clients=$KNOWN_CLIENTS" \
	--out="$WORK/app.cpio" "$@"
# Signed: the reproducible image is nitro-signer.unsigned.eif and the signed
# one nitro-signer.eif (ECDSA signatures are randomised: the signed file
# differs on every run, its PCRs do not). nitro-keys writes atomically.
# A failed run leaves no image or pcrs.json of an earlier run behind.
rm -f "$OUT_DIR/nitro-signer.eif" "$OUT_DIR/nitro-signer.unsigned.eif" "$OUT_DIR/pcrs.json"
UNSIGNED=$OUT_DIR/nitro-signer.eif
[ -z "$SIGNING_KEY" ] || UNSIGNED=$OUT_DIR/nitro-signer.unsigned.eif
"$NITRO_KEYS" eif build --kernel="$KERNEL" --cmdline="$BLOBS/cmdline" \
	--ramdisk="$WORK/bootstrap.cpio" --ramdisk="$WORK/app.cpio" \
	--memory-mib="$MEMORY_MIB" --cpus="$CPUS" --arch="$ARCH" \
	--out="$UNSIGNED" >/dev/null
if [ -n "$SIGNING_KEY" ]; then
	"$NITRO_KEYS" eif sign "$UNSIGNED" --signing-key="$SIGNING_KEY" \
		--signing-certificate="$SIGNING_CERT" \
		--out="$OUT_DIR/nitro-signer.eif" >/dev/null
fi
# pcrs.json: the Measurements object, read back from the image itself
"$NITRO_KEYS" eif describe "$OUT_DIR/nitro-signer.eif" --measurements \
	> "$OUT_DIR/pcrs.json.tmp"
mv "$OUT_DIR/pcrs.json.tmp" "$OUT_DIR/pcrs.json"

echo "== ramdisks (sha256)"
(cd "$WORK" && sha256sum bootstrap.cpio app.cpio)
echo "== image"
if [ -n "$SIGNING_KEY" ]; then
	sha256sum "$OUT_DIR/nitro-signer.unsigned.eif" "$OUT_DIR/nitro-signer.eif"
else
	sha256sum "$OUT_DIR/nitro-signer.eif"
fi
cat "$OUT_DIR/pcrs.json"
