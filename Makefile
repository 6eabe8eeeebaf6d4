# nitro-signer: top-level entry points. See README.md.
#   make deps   install missing Debian packages, fetch blst (pinned), npm ci for tests
#   make build  release build, binaries in build/bin/
#   make run    demo keys under ./demo/ on first use, signer on 127.0.0.1:9000
#   make check  every test: release + sanitizer builds, unit, integration, fuzz smoke
#   make demo-enclave  the enclave path on one machine (stand-ins, NSM simulator), step by step
#   make release  static, reproducible executables in build/release/ with SHA256SUMS,
#                 and the control Lambda's build/lambda/nitro-control.zip
#   make enclave-image BLOBS=DIR  the enclave image and its PCRs (docs/enclave-image.md)
#   make synth  the AWS CDK app (infra/) into build/cdk.out, offline (docs/deploy.md):
#               PCR0=<96 hex> (else build/enclave/pcrs.json), PREVIOUS_PCR0=<96 hex> (an image
#               upgrade rolling out), PCR8=<96 hex> (a signed image's, else pcrs.json's; required
#               beside PCR0, alone with CDK_ARGS='-c keyCondition=pcr8'), PREVIOUS_PCR8=<96 hex> (a
#               signing-certificate rotation rolling out), STACKS=dev|prod|dev,prod, STAGE=key,
#               CDK_ARGS='-c key=value ...' for any other context
.PHONY: all deps deps-test build build-asan run check clean demo-enclave release enclave-image synth

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

# BLOBS: AWS's blob set; SIGNER_BIN, NITRO_KEYS, ENCLAVE_ARGS, KNOWN_CLIENTS,
# OUT_DIR, SIGNING_KEY + SIGNING_CERT (a signed image, PCR8): see
# scripts/enclave-image.sh. Writes build/enclave/nitro-signer.eif
# and build/enclave/pcrs.json from the static release binaries (built first
# unless SIGNER_BIN names a signer).
enclave-image: deps
	@if [ -z "$$SIGNER_BIN" ]; then scripts/release.sh >/dev/null; fi
	@BLOBS="$(BLOBS)" scripts/enclave-image.sh

# The key policy is written by nitro-keys (build/release/nitro-keys, else build/bin/nitro-keys).
synth:
	@scripts/infra-deps.sh
	@[ -x build/release/nitro-keys ] || [ -x build/bin/nitro-keys ] || { \
		cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && \
		cmake --build build -j$(JOBS) --target nitro-keys; }
	@cd infra && rm -rf dist ../build/cdk.out && npx --no-install tsc -p . && \
		CDK_DISABLE_CLI_TELEMETRY=true npx --no-install cdk synth --no-notices --quiet \
		--output ../build/cdk.out $(if $(PCR0),-c pcr0=$(PCR0)) $(if $(STACKS),-c stacks=$(STACKS)) \
		$(if $(PREVIOUS_PCR0),-c previousPcr0=$(PREVIOUS_PCR0)) $(if $(PCR8),-c pcr8=$(PCR8)) \
		$(if $(PREVIOUS_PCR8),-c previousPcr8=$(PREVIOUS_PCR8)) \
		$(if $(STAGE),-c stage=$(STAGE)) $(CDK_ARGS) && node dist/bin/summary.js ../build/cdk.out

clean:
	rm -rf build build-asan build-fuzz
