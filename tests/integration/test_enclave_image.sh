#!/bin/sh
# test_enclave_image.sh: `make enclave-image` is reproducible and its PCRs
# move as they should. With the stand-in blobs of scripts/test-blobs.sh
# (generated twice, into two directories) and the built binaries:
#   - run from two different working directories, with different blob and
#     output paths, it writes a byte-identical nitro-signer.eif and the same
#     pcrs.json, which equals `eif describe --measurements` of the image;
#   - a different SOURCE_DATE_EPOCH changes the image's metadata (bytes)
#     but no PCR;
#   - one more enclave argument changes PCR0 and PCR2, not PCR1 (AWS's
#     part: kernel, cmdline, bootstrap ramdisk); another kernel command
#     line changes PCR0 and PCR1, not PCR2;
#   - with SIGNING_KEY and SIGNING_CERT (a P-384 key and certificate from
#     the openssl CLI), run from both directories: nitro-signer.unsigned.eif
#     is the unsigned image above, byte for byte; the signed images differ
#     (ECDSA) but their pcrs.json are equal, with PCR0/1/2 unchanged and
#     PCR8 = SHA-384(0^48 || SHA-384(certificate DER)); describe says
#     IsSigned; a key without its certificate stops it, and a failed
#     signing leaves no earlier image or pcrs.json in OUT_DIR;
#   - missing blobs stop it with a message naming the file;
#   - a signer with the NSM simulator (build/bin's) is refused without
#     TEST_SIGNER=1.
set -eu
. "$(dirname "$0")/lib.sh"
SRC=${NS_SOURCE_DIR:?}
T=$(mktemp -d /tmp/ns-eifimg-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM

sh "$SRC/scripts/test-blobs.sh" "$T/one/blobs"
sh "$SRC/scripts/test-blobs.sh" "$T/two/other-blobs"
export SIGNER_BIN="$BIN/nitro-signer" NITRO_KEYS="$BIN/nitro-keys" SOURCE_DATE_EPOCH=1700000000

# build/bin's signer is dynamic and has the NSM simulator: refused for an
# image unless the caller says it is a test (TEST_SIGNER=1, below)
if (cd "$T" && make -s -C "$SRC" enclave-image BLOBS="$T/one/blobs" OUT_DIR="$T/refused") >"$T/refused.log" 2>&1; then
	fail "make enclave-image took a signer with the NSM simulator"
fi
grep -q "has the NSM simulator compiled in" "$T/refused.log" || fail "refusal without the reason: $(cat "$T/refused.log")"
[ ! -e "$T/refused/nitro-signer.eif" ] || fail "a refused build wrote an image"
ok
export TEST_SIGNER=1

image() { # DIR BLOBS OUT [make args...]: make enclave-image, run from DIR
	dir=$1 blobs=$2 out=$3
	shift 3
	(cd "$dir" && make -s -C "$SRC" enclave-image BLOBS="$blobs" OUT_DIR="$out" "$@") \
		>"$out.log" 2>&1 || fail "make enclave-image ($out): $(cat "$out.log")"
}
pcr() { # FILE N: PCRn from a pcrs.json
	sed -n "s/.*\"PCR$2\": \"\([0-9a-f]*\)\".*/\1/p" "$1"
}

image "$T/one" "$T/one/blobs" "$T/one/out"
image "$T/two" "$T/two/other-blobs" "$T/two/out"
cmp -s "$T/one/out/nitro-signer.eif" "$T/two/out/nitro-signer.eif" ||
	fail "two runs gave different images"
ok
cmp -s "$T/one/out/pcrs.json" "$T/two/out/pcrs.json" || fail "two runs gave different pcrs.json"
[ "$(pcr "$T/one/out/pcrs.json" 0 | wc -c)" -eq 97 ] || fail "no PCR0 in pcrs.json: $(cat "$T/one/out/pcrs.json")"
"$NITRO_KEYS" eif describe "$T/one/out/nitro-signer.eif" --measurements >"$T/m.json"
cmp -s "$T/m.json" "$T/one/out/pcrs.json" || fail "pcrs.json is not describe's Measurements"
grep -q "$(pcr "$T/one/out/pcrs.json" 0)" "$T/one/out.log" || fail "the run does not print PCR0"
grep -q "$(sha256sum "$T/one/blobs/init" | cut -c1-64)" "$T/one/out.log" ||
	fail "the run does not print the blobs' SHA-256"
ok

# the metadata's time changes bytes, not measurements
(export SOURCE_DATE_EPOCH=1; image "$T/one" "$T/one/blobs" "$T/one/later")
cmp -s "$T/one/out/nitro-signer.eif" "$T/one/later/nitro-signer.eif" &&
	fail "SOURCE_DATE_EPOCH is not in the metadata"
cmp -s "$T/one/out/pcrs.json" "$T/one/later/pcrs.json" || fail "SOURCE_DATE_EPOCH changed a PCR"
ok

# one more measured argument: PCR0 and PCR2 move, PCR1 does not
cp "$SRC/deploy/enclave/enclave-args.example" "$T/args"
echo "--allow-signing-types=VOLUNTARY_EXIT" >>"$T/args"
image "$T/one" "$T/one/blobs" "$T/one/args" ENCLAVE_ARGS="$T/args"
a=$T/one/out/pcrs.json b=$T/one/args/pcrs.json
[ "$(pcr "$a" 0)" != "$(pcr "$b" 0)" ] || fail "an enclave argument did not change PCR0"
[ "$(pcr "$a" 2)" != "$(pcr "$b" 2)" ] || fail "an enclave argument did not change PCR2"
[ "$(pcr "$a" 1)" = "$(pcr "$b" 1)" ] || fail "an enclave argument changed PCR1"
ok

# another kernel command line: PCR0 and PCR1 move, PCR2 does not
printf 'console=ttyS0\n' >"$T/two/other-blobs/cmdline"
image "$T/two" "$T/two/other-blobs" "$T/two/cmdline"
b=$T/two/cmdline/pcrs.json
[ "$(pcr "$a" 0)" != "$(pcr "$b" 0)" ] || fail "the cmdline did not change PCR0"
[ "$(pcr "$a" 1)" != "$(pcr "$b" 1)" ] || fail "the cmdline did not change PCR1"
[ "$(pcr "$a" 2)" = "$(pcr "$b" 2)" ] || fail "the cmdline changed PCR2"
ok

# signed: the unsigned image stays reproducible, PCR8 is the certificate's
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -keyout "$T/sign.key" \
	-out "$T/sign.pem" -days 2 -subj "/CN=image signer" >/dev/null 2>&1 || fail "openssl req"
(export SIGNING_KEY="$T/sign.key" SIGNING_CERT="$T/sign.pem"
	image "$T/one" "$T/one/blobs" "$T/one/signed"
	image "$T/two" "$T/one/blobs" "$T/two/signed")
for d in one two; do
	cmp -s "$T/one/out/nitro-signer.eif" "$T/$d/signed/nitro-signer.unsigned.eif" ||
		fail "$d: the unsigned image of a signed build differs from the unsigned build"
done
cmp -s "$T/one/signed/nitro-signer.eif" "$T/two/signed/nitro-signer.eif" &&
	fail "two signatures gave the same bytes (ECDSA is randomised)"
cmp -s "$T/one/signed/pcrs.json" "$T/two/signed/pcrs.json" || fail "two signed runs gave different pcrs.json"
a=$T/one/out/pcrs.json b=$T/one/signed/pcrs.json
for n in 0 1 2; do
	[ "$(pcr "$a" $n)" = "$(pcr "$b" $n)" ] || fail "signing changed PCR$n"
done
want8=$( (head -c 48 /dev/zero; openssl x509 -in "$T/sign.pem" -outform DER | openssl dgst -sha384 -binary) |
	openssl dgst -sha384 -r | cut -c1-96)
[ "$(pcr "$b" 8)" = "$want8" ] || fail "PCR8 $(pcr "$b" 8) is not the certificate's $want8"
"$NITRO_KEYS" eif describe "$T/one/signed/nitro-signer.eif" | grep -q '"IsSigned": true' ||
	fail "describe of the signed image does not say IsSigned"
ok
set +e
(cd "$T" && SIGNING_KEY="$T/sign.key" make -s -C "$SRC" enclave-image BLOBS="$T/one/blobs" OUT_DIR="$T/y") >"$T/err" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && grep -q "SIGNING_KEY and SIGNING_CERT go together" "$T/err" || fail "a key alone: rc $rc, $(cat "$T/err")"
ok
# a signing that fails (a key that is not the certificate's) in a directory
# holding an earlier run's image leaves neither that image nor its pcrs.json
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes -keyout "$T/other.key" \
	-out "$T/other.pem" -days 2 -subj "/CN=someone else" >/dev/null 2>&1 || fail "openssl req"
set +e
(cd "$T" && SIGNING_KEY="$T/other.key" SIGNING_CERT="$T/sign.pem" make -s -C "$SRC" enclave-image \
	BLOBS="$T/one/blobs" OUT_DIR="$T/one/signed") >"$T/err" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && grep -q "not the key of the signing certificate" "$T/err" || fail "a foreign key: rc $rc, $(cat "$T/err")"
[ ! -e "$T/one/signed/nitro-signer.eif" ] && [ ! -e "$T/one/signed/pcrs.json" ] ||
	fail "a failed signing left the earlier image or pcrs.json in place"
ok

rm "$T/two/other-blobs/nsm.ko"
set +e
(cd "$T" && make -s -C "$SRC" enclave-image BLOBS="$T/two/other-blobs" OUT_DIR="$T/x") >"$T/err" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && grep -q "nsm.ko is missing" "$T/err" || fail "a missing blob: rc $rc, $(cat "$T/err")"
[ ! -e "$T/x/nitro-signer.eif" ] || fail "an image was written without nsm.ko"
ok
echo "test_enclave_image: $checks checks passed"
