#!/bin/sh
# make release: nitro-signer, nitro-host, nitro-keys and nitro-control as
# fully static, reproducible x86_64 executables in build/release/, with
# SHA256SUMS and BUILDINFO (the commit, the compiler, and the Debian package
# versions of every static library linked in), and the control Lambda's
# deployment package build/lambda/nitro-control.zip (one file, `bootstrap`,
# for runtime provided.al2023; docs/lambda.md) with its own SHA256SUMS
# beside it. docs/enclave-image.md says how to check a release against your
# own build.
#
#   scripts/release.sh [OUT_DIR]      default build/release; the zip goes
#                                     to OUT_DIR/../lambda
#   NS_RELEASE_SIMULATOR=ON           compile the NSM simulator in (tests
#                                     only: the shipped binaries have none)
set -eu
cd "$(dirname "$0")/.."
out=${1:-build/release}
programs="nitro-signer nitro-host nitro-keys nitro-control"
sim=${NS_RELEASE_SIMULATOR:-OFF}
tree=build/release-tree
[ "$sim" = ON ] && tree=build/release-tree-sim

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || true)
	[ -n "$SOURCE_DATE_EPOCH" ] || {
		echo "release: not a git checkout: set SOURCE_DATE_EPOCH" >&2
		exit 2
	}
fi
export SOURCE_DATE_EPOCH
# Pinned toolchain behaviour: no locale- or time-zone-dependent output.
export LC_ALL=C TZ=UTC
unset CFLAGS LDFLAGS CPPFLAGS

scripts/fetch-blst.sh
cmake -S . -B "$tree" -DCMAKE_BUILD_TYPE=Release -DNS_STATIC=ON \
	-DNS_NSM_SIMULATOR="$sim" -DCMAKE_C_COMPILER=gcc >/dev/null
# The link warnings are glibc's note that name lookups in a static binary
# load NSS modules other than files and dns at run time (docs/release.md).
# shellcheck disable=SC2086 # $programs is a list
rm -f "$tree/bin/"* # a failed build must not leave an older binary to ship
if ! cmake --build "$tree" -j"$(nproc)" --target $programs >"$tree/build.log" 2>&1; then
	grep -v -e "statically linked applications requires at runtime" -e "in function \`" "$tree/build.log" | tail -40
	echo "release: the build failed (whole log: $tree/build.log)" >&2
	exit 1
fi
for b in $programs; do
	[ -x "$tree/bin/$b" ] || { echo "release: $b was not built" >&2; exit 1; }
done

mkdir -p "$out"
for b in $programs; do
	cp "$tree/bin/$b" "$out/$b"
	chmod 0755 "$out/$b"
	touch -d "@$SOURCE_DATE_EPOCH" "$out/$b"
	# Static: no interpreter, no shared libraries.
	if readelf -lW "$out/$b" | grep -q INTERP || readelf -dW "$out/$b" | grep -q NEEDED; then
		echo "release: $b is not fully static" >&2
		exit 1
	fi
	# static-pie: position independent (ELF type DYN), so ASLR covers it.
	if ! readelf -hW "$out/$b" | grep -q "Type:.*DYN"; then
		echo "release: $b is a fixed-address executable (not static-pie)" >&2
		exit 1
	fi
done

pkgs="gcc-12 libc6-dev binutils libssl-dev libevent-dev libjansson-dev libyaml-dev \
libsqlite3-dev libunistring-dev libbotan-2-dev libbz2-dev liblzma-dev zlib1g-dev \
libstdc++-12-dev node-llhttp zip"
{
	echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)"
	echo "source_date_epoch $SOURCE_DATE_EPOCH"
	echo "nsm_simulator $sim"
	echo "compiler $(gcc --version | head -1)"
	. deps/versions.env
	echo "blst $BLST_NPM_PACKAGE@$BLST_NPM_VERSION $BLST_NPM_INTEGRITY"
	for p in $pkgs; do
		echo "debian $p $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo missing)"
	done
} > "$out/BUILDINFO"
# shellcheck disable=SC2086
(cd "$out" && sha256sum $programs > SHA256SUMS)

# The Lambda package: bootstrap (the static nitro-control), mode 0755,
# mtime SOURCE_DATE_EPOCH; zip -X leaves out the extra fields (uid/gid,
# extended times) that vary between machines, -D the directory entry, and
# TZ=UTC fixes the DOS timestamp. The same inputs give the same bytes.
lambda_out=$(dirname "$out")/lambda
[ "$sim" = ON ] && lambda_out=$out/lambda # a test build never replaces the package
mkdir -p "$lambda_out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$out/nitro-control" "$stage/bootstrap"
chmod 0755 "$stage/bootstrap"
touch -d "@$SOURCE_DATE_EPOCH" "$stage/bootstrap"
zip_path=$(cd "$lambda_out" && pwd)/nitro-control.zip
rm -f "$zip_path"
(cd "$stage" && zip -X -D -q -9 "$zip_path" bootstrap)
touch -d "@$SOURCE_DATE_EPOCH" "$zip_path"
(cd "$lambda_out" && sha256sum nitro-control.zip > SHA256SUMS)
echo "lambda_zip $(cut -d' ' -f1 "$lambda_out/SHA256SUMS") nitro-control.zip" >> "$out/BUILDINFO"

echo "release: $out, $lambda_out"
(cd "$out" && for b in $programs; do
	printf '  %-17s %9s bytes\n' "$b" "$(stat -c %s "$b")"
done && cat SHA256SUMS)
(cd "$lambda_out" && printf '  %-17s %9s bytes\n' nitro-control.zip "$(stat -c %s nitro-control.zip)" &&
	cat SHA256SUMS)
