# nitro-signer: top-level entry points. See README.md.
#   make deps   install missing Debian packages, fetch blst (pinned), npm ci for tests
#   make build  release build, binaries in build/bin/
#   make run    demo keys under ./demo/ on first use, signer on 127.0.0.1:9000
#   make check  every test: release + sanitizer builds, unit, integration, fuzz smoke
#   make demo-enclave  the enclave path on one machine (stand-ins, NSM simulator), step by step
#   make release  static, reproducible executables in build/release/ with SHA256SUMS,
#                 and the control Lambda's build/lambda/nitro-control.zip
.PHONY: all deps deps-test build build-asan run check clean demo-enclave release

BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)

all: build

deps:
	@scripts/deps.sh

deps-test:
	@scripts/deps.sh --test

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
	@cmake --build build-asan -j$(JOBS)

run: build
	@scripts/run-demo.sh

check: deps-test
	@scripts/check.sh

demo-enclave: deps-test
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)
	@node scripts/demo-enclave.mjs --bin=build/bin

release: deps
	@scripts/release.sh

clean:
	rm -rf build build-asan build-fuzz
