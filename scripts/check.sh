#!/bin/sh
# make check: every test. Release and sanitizer (ASan+UBSan) builds, unit and
# integration tests in both, a short libFuzzer run of every fuzz target, and
# ctest's summary as the closing line.
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc)
FUZZ_SECONDS=${FUZZ_SECONDS:-6}

echo "== build: release"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$JOBS"
echo "== build: sanitize (ASan+UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
cmake --build build-asan -j"$JOBS"
echo "== build: fuzz (clang libFuzzer)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DNS_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS='-fsanitize=fuzzer-no-link,address,undefined' >/dev/null
cmake --build build-fuzz -j"$JOBS" --target fuzz

echo "== fuzz smoke (${FUZZ_SECONDS}s per target)"
for f in build-fuzz/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f" | sed 's/^fuzz_//')
	seeds=tests/fuzz/corpus/$name
	work=build-fuzz/corpus-run/$name
	mkdir -p "$work"
	echo "-- $f"
	"$f" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 \
		-print_final_stats=1 "$work" $( [ -d "$seeds" ] && echo "$seeds" ) \
		2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
	# libFuzzer exits non-zero on a crash; re-check the status explicitly.
	"$f" -runs=0 "$work" >/dev/null 2>&1 || { echo "fuzz: $f crashes on its corpus"; exit 1; }
done

echo "== release: static and reproducible (two clones of HEAD)"
scripts/check-reproducible.sh
echo "== release: the static binaries (NSM simulator compiled in) through the signing cross-check and the full flow"
NS_RELEASE_SIMULATOR=ON scripts/release.sh build/release-sim >/dev/null
for t in test_crosscheck.mjs test_e2e_full_flow.mjs; do
	echo "-- $t"
	log=build/release-sim/$t.log
	NS_BIN_DIR="$PWD/build/release-sim" NS_SOURCE_DIR="$PWD" NS_BUILD_DIR="$PWD/build" \
		NS_REFERENCE_DIR="$PWD/tests/vectors/reference" node "tests/integration/$t" >"$log" 2>&1 ||
		{ cat "$log"; echo "static release binaries: $t failed"; exit 1; }
	tail -3 "$log"
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== tests: sanitize build"
ctest --test-dir build-asan --output-on-failure -j1
echo "== tests: release build"
# The cross-check and the full flow already ran above with the static
# release binaries (the release configuration); the sanitizer build runs
# them too. Everything else runs here again.
ctest --test-dir build --output-on-failure -j1 -E 'integration/test_(crosscheck|e2e_full_flow)\.mjs$'
