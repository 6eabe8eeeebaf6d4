#!/bin/sh
# make release: nitro-signer, nitro-host and nitro-keys as fully static,
# reproducible x86_64 executables in build/release/, with SHA256SUMS and
# BUILDINFO (the commit, the compiler, and the Debian package versions of
# every static library linked in). docs/enclave-image.md says how to check
# a release against your own build.
#
#   scripts/release.sh [OUT_DIR]      default build/release
#   NS_RELEASE_SIMULATOR=ON           compile the NSM simulator in (tests
#                                     only: the shipped binaries have none)
set -eu
cd "$(dirname "$0")/.."
out=${1:-build/release}
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
# load NSS modules other than files and dns at run time (docs/enclave-image.md).
cmake --build "$tree" -j"$(nproc)" --target nitro-signer nitro-host nitro-keys 2>&1 |
	grep -v -e "statically linked applications requires at runtime" -e "in function \`" || true
for b in nitro-signer nitro-host nitro-keys; do
	[ -x "$tree/bin/$b" ] || { echo "release: $b was not built" >&2; exit 1; }
done

mkdir -p "$out"
for b in nitro-signer nitro-host nitro-keys; do
	cp "$tree/bin/$b" "$out/$b"
	chmod 0755 "$out/$b"
	touch -d "@$SOURCE_DATE_EPOCH" "$out/$b"
	# Static: no interpreter, no shared libraries.
	if readelf -lW "$out/$b" | grep -q INTERP || readelf -dW "$out/$b" | grep -q NEEDED; then
		echo "release: $b is not fully static" >&2
		exit 1
	fi
done

pkgs="gcc-12 libc6-dev binutils libssl-dev libevent-dev libjansson-dev libyaml-dev \
libsqlite3-dev libunistring-dev libbotan-2-dev libbz2-dev liblzma-dev zlib1g-dev \
libstdc++-12-dev node-llhttp"
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
(cd "$out" && sha256sum nitro-signer nitro-host nitro-keys > SHA256SUMS)
echo "release: $out"
(cd "$out" && for b in nitro-signer nitro-host nitro-keys; do
	printf '  %-13s %9s bytes\n' "$b" "$(stat -c %s "$b")"
done && cat SHA256SUMS)
