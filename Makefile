# OpenDCRE / OpenMistOS: the one entry point for building, testing and packaging.
#   make run    the API on the built-in emulator at http://127.0.0.1:5000/opendcre/1.1/
#   make test   everything CI checks (installs what it needs first)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
# Host builds, fmt and clippy use rustup's toolchain (~/.cargo/bin) also from a
# shell whose PATH lacks it (.ci/run sources ~/.cargo/env; `make test` typed in
# a non-login shell did not): the cargo found first would be Debian's
# /usr/bin/cargo, the cross build's, without rustfmt or clippy. The cross
# build calls /usr/bin/cargo and /usr/bin/rustc by their full paths.
ifneq ($(wildcard $(HOME)/.cargo/bin/cargo),)
export PATH := $(HOME)/.cargo/bin:$(PATH)
endif
# The commit compiled into every binary this Makefile builds (host, armv7,
# so the .deb packages, the image and the container that take them):
# `opendcre_build_info{commit}` in /metrics (docs/metrics.md). The 12-digit
# hash of HEAD (ci/build-commit.sh: no `-dirty` suffix, so one commit gives
# the same bytes however its tree looks); a non-empty OPENDCRE_COMMIT from
# the environment or the command line wins; outside a git checkout the
# binaries say `unknown`. rustc records the variable it read (option_env!),
# so cargo rebuilds when it changes.
ifeq ($(strip $(OPENDCRE_COMMIT)),)
OPENDCRE_COMMIT := $(shell ci/build-commit.sh)
endif
ifneq ($(OPENDCRE_COMMIT),)
export OPENDCRE_COMMIT
else
unexport OPENDCRE_COMMIT
endif
EMULATOR_CONFIG ?= firmware-api/emulator-configs/rack.json
LISTEN ?= 127.0.0.1:5000

.PHONY: run build test test-host check fmt clippy crate-map deps lint bench bench-dos bench-redfish auth-curl-check api-contract redfish-check ci-free-debug from-nothing prometheus-check fleet-test

run:
	$(CARGO) run --release --bin opendcre -- serve --emulator $(EMULATOR_CONFIG) --listen $(LISTEN)

build:
	$(CARGO) build --release --locked

# Test peers (ipmi_sim, slapd, …) and tools the test suite needs.
deps:
	bash ci/install-test-deps.sh

check: fmt clippy crate-map

# The crate graph against the crate map in ARCHITECTURE.md (cargo metadata).
crate-map:
	python3 ci/check-crate-map.py

# shellcheck -x -S warning over every shell script git tracks (found by name
# and shebang, not listed; `ci/lint-shell.sh --list` shows them). Installs
# shellcheck when it is missing.
lint:
	bash ci/lint-shell.sh

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --locked --all-targets -- -D warnings

# Unit, property and integration tests on the host (real ptys, real peers).
# OPENDCRE_REQUIRE_PEERS=1: a missing test peer (ipmi_sim, slapd, rsyslogd) fails the run
# instead of skipping it, as a plain `cargo test` does.
test-host:
	OPENDCRE_REQUIRE_PEERS=1 $(CARGO) test --workspace --locked

# The documented curl commands against the real binary with TLS and a token.
auth-curl-check:
	$(CARGO) build --locked --bin opendcre
	bash ci/auth-curl-check.sh

# The API contract: schemathesis (pinned, its own venv under /opt/opendcre-ci,
# ci/install-schemathesis.sh) against the emulator, with the OpenAPI document
# the node serves (firmware-api/crates/api/openapi.json); 0 failures.
api-contract:
	$(CARGO) build --locked --bin opendcre
	bash ci/schemathesis.sh

# Redfish conformance: the DMTF Redfish Service Validator (pinned, its own
# venv under /opt/opendcre-ci, ci/install-redfish-validator.sh), offline with
# the DMTF schemas in ../shared/redfish/csdl, against the emulator rack and an
# ipmi_sim BMC over TLS, as a local user through a Redfish session and as an
# LDAP user with Basic (ci/peers/slapd); then sushy power resets and boot
# override (ci/install-sushy.sh), the DMTF Redfish Protocol Validator
# (ci/install-protocol-validator.sh), 0 failures each; and the DMTF Redfish
# Interop Validator with the OCP OpenRMC profile
# (ci/install-interop-validator.sh), whose unmet requirements must be
# exactly docs/redfish.md's table (ci/interop-report.py). ~45 s.
redfish-check:
	$(CARGO) build --locked --bin opendcre
	bash ci/redfish-validate.sh

# The Prometheus example config and alert rules (packaging/prometheus/):
# syntax of the config (its CA and token files exist only on a Prometheus
# host), the rules, and the rules' unit tests (series that fire and do not
# fire each alert). promtool from Debian's prometheus package (make deps).
PROMTOOL ?= promtool
prometheus-check:
	$(PROMTOOL) check config --syntax-only packaging/prometheus/prometheus.yml
	$(PROMTOOL) check rules packaging/prometheus/opendcre-alerts.yml
	cd packaging/prometheus && $(PROMTOOL) test rules opendcre-alerts.test.yml

# A real Prometheus scraping FLEET_N (200) emulator instances on loopback
# through the file `opendcre discover --probe` writes, for FLEET_SECS; prints
# a Markdown table. Minutes long: not part of `make test`.
FLEET_N ?= 200
FLEET_SECS ?= 150
FLEET_INTERVAL ?= 5
fleet-test: build
	python3 ci/fleet-test.py --binary $(HOST_BIN) -n $(FLEET_N) --duration $(FLEET_SECS) --interval $(FLEET_INTERVAL)

# Everything CI runs: host tests, the curl check, the API contract, the armv7 build, packages
# and their checks, the container (built and run with podman), then the image:
# build, reproducibility, QEMU boot test
# (image-ci has its own deadline, IMAGE_CI_TIMEOUT).
test: deps lint check prometheus-check test-host auth-curl-check api-contract redfish-check test-packaging container-test image-check ci-free-debug image-ci

# In CI only (CI=true): the debug build (1 GB) has served once the host-side
# checks ran, and the image stage needs the disk.
ci-free-debug:
ifeq ($(CI),true)
	rm -rf target/debug
endif

bench:
	bash ci/bench.sh

# Latency of a legitimate request while hundreds of hostile connections
# (idle, slow heads, slow bodies, never reading) are open; prints a table.
bench-dos: build
	python3 ci/bench-dos.py --binary target/release/opendcre

# Redfish latency (p50/p99) in the release build on the emulator rack:
# service root, a board's Sensors with $expand=., a bus power reset; prints
# a table (docs/redfish.md has the last numbers). N=200 requests of each.
bench-redfish: build
	python3 ci/bench-redfish.py --binary target/release/opendcre -n $(or $(N),200)

# CI from nothing: a fresh clone of HEAD beside this one, every cache of the
# project removed (listed in the script), then `CI=true bash .ci/run` with a
# timer. KEEP=1 keeps the clone; DRY_RUN=1 only says what it would remove.
from-nothing:
	bash ci/from-nothing.sh

# ---------------------------------------------------------------------------
# Cross build, Debian packages, container (packaging/README.md).
#   make armv7 | deb | smoke-armv7 | lint-packaging | test-deb | docker
ARMV7_TARGET := armv7-unknown-linux-gnueabihf
ARMV7_BIN    := target/$(ARMV7_TARGET)/release/opendcre
HOST_BIN     := target/release/opendcre
# The operators' client, its own package (opendcre-cli_<version>_<arch>.deb).
ARMV7_CLI_BIN := target/$(ARMV7_TARGET)/release/opendcre-cli
HOST_CLI_BIN  := target/release/opendcre-cli
# CROSS=1 builds with `cross` (needs a Docker host) instead of Debian's toolchain.
CROSS        ?=

# The cross build must not go through the rustup proxy: Debian's rustc-web is
# the compiler whose armv7 std was unpacked into /usr/lib/rustlib.
DEBIAN_CARGO_ENV := \
	RUSTC=/usr/bin/rustc \
	RUSTDOC=/usr/bin/rustdoc \
	CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc \
	CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc \
	AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar

.PHONY: help armv7 armv7-toolchain packaging-tools deb deb-amd64 deb-armhf \
	smoke-armv7 lint-packaging test-deb test-packaging docker container-test

help:
	@echo "make armv7           cross-build $(ARMV7_BIN) and $(ARMV7_CLI_BIN) (CROSS=1: with cross + Docker)"
	@echo "make deb             build/deb/opendcre{,-cli}_<version>_{armhf,amd64}.deb"
	@echo "make deb-armhf|deb-amd64   one of them"
	@echo "make smoke-armv7     run the armv7 binary under qemu-arm and query its API"
	@echo "make lint-packaging  lint (shellcheck), systemd-analyze verify/security, lintian, hadolint"
	@echo "make test-deb        install/upgrade/remove/purge the amd64 .deb in a Debian 12 chroot"
	@echo "make test-packaging  smoke-armv7 + lint-packaging + test-deb"
	@echo "make docker          container image from the amd64 .deb (needs a Docker host)"
	@echo "make container-test  build the Dockerfile with podman on a local mmdebstrap base, run it, REST checks"

# Installs the toolchain only when the quick, offline check fails.
armv7-toolchain:
ifeq ($(CROSS),)
	@ci/install-cross.sh --check || ci/install-cross.sh
endif

armv7: armv7-toolchain
ifeq ($(CROSS),)
	$(DEBIAN_CARGO_ENV) /usr/bin/cargo build --locked --release --target $(ARMV7_TARGET) -p opendcre -p opendcre-cli
else
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || \
		{ echo "ERROR: CROSS=1 needs a running Docker engine (docker info failed); run 'make armv7' without CROSS to use Debian's cross toolchain" >&2; exit 1; }
	@command -v cross >/dev/null || $(CARGO) install --locked cross
	cross build --locked --release --target $(ARMV7_TARGET) -p opendcre -p opendcre-cli
endif
	@file $(ARMV7_BIN) $(ARMV7_CLI_BIN)

packaging-tools:
	@ci/install-packaging.sh --check || ci/install-packaging.sh

deb: deb-armhf deb-amd64

deb-armhf: armv7 packaging-tools
	ci/build-deb.sh armhf $(ARMV7_BIN)
	ci/build-deb-cli.sh armhf $(ARMV7_CLI_BIN)

deb-amd64: build packaging-tools
	ci/build-deb.sh amd64 $(HOST_BIN)
	ci/build-deb-cli.sh amd64 $(HOST_CLI_BIN)

smoke-armv7: armv7 packaging-tools
	ci/smoke-armv7.sh $(ARMV7_BIN)

lint-packaging: deb lint
	ci/lint-packaging.sh

test-deb: deb-amd64
	ci/test-deb-install.sh

# Everything the packaging side checks; for `make test` / .ci/run to call.
test-packaging: smoke-armv7 lint-packaging test-deb

# Checks for a Docker engine before spending minutes on the .deb.
DOCKER_ARCH ?= amd64
docker:
	@ci/docker-build.sh --check-host
	$(MAKE) deb-$(DOCKER_ARCH)
	ci/docker-build.sh $(DOCKER_ARCH)

# The Dockerfile built and run for real without Docker: rootful podman from
# Debian on a base made with mmdebstrap (cached in /var/cache/opendcre-container),
# the container's REST API, /metrics, user, HEALTHCHECK and SIGTERM checked
# (ci/container-test.sh; about a minute with the base cached).
container-test: deb-amd64
	ci/container-test.sh

# ---------------------------------------------------------------------------
# The OpenMistOS image and its QEMU boot test (image/README.md):
#   make image | image-repro | boot-test | image-ci
# image-check lints its scripts with `make lint` (all scripts of the repo).
IMAGE_CHECK_LINT := lint
include image/image.mk
