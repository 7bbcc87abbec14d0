# OpenDCRE / OpenMistOS: the one entry point for building, testing and packaging.
#   make run    the API on the built-in emulator at http://127.0.0.1:5000/opendcre/1.1/
#   make test   everything CI checks (installs what it needs first)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
EMULATOR_CONFIG ?= firmware-api/emulator-configs/rack.json
LISTEN ?= 127.0.0.1:5000

.PHONY: run build test test-host check fmt clippy deps bench auth-curl-check

run:
	$(CARGO) run --release --bin opendcre -- serve --emulator $(EMULATOR_CONFIG) --listen $(LISTEN)

build:
	$(CARGO) build --release --locked

# Test peers (ipmi_sim, slapd, …) and tools the test suite needs.
deps:
	bash ci/install-test-deps.sh

check: fmt clippy

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Unit, property and integration tests on the host (real ptys, real peers).
test-host:
	$(CARGO) test --locked

# The documented curl commands against the real binary with TLS and a token.
auth-curl-check:
	$(CARGO) build --locked --bin opendcre
	bash ci/auth-curl-check.sh

test: deps check test-host auth-curl-check

bench:
	bash ci/bench.sh
