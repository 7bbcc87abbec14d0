#!/usr/bin/env bash
# Installs what the host test suite (`make check test-host auth-curl-check`)
# uses. Idempotent; retries `apt-get update` because Debian mirrors are
# sometimes mid-sync.
set -euo pipefail
here="$(dirname "$0")"
# shellcheck source=ci/lib.sh
source "$here/lib.sh"
# The C toolchain cargo links with (and ring's build script compiles with),
# git for the build's SOURCE_DATE_EPOCH, python3 for the test helpers.
ensure_pkgs curl gcc libc6-dev git python3
# ipmi_sim + ipmitool: the IPMI bridge is tested against a real simulated BMC.
bash "$here/install-ipmi-peers.sh"
# slapd, ldap-utils, openssl for the auth and TLS tests.
bash "$here/install-auth-peers.sh"
# The DMTF Redfish Service Validator (PyPI, pinned, own venv) for
# `make redfish-check`; it also uses the slapd installed above.
bash "$here/install-redfish-validator.sh"
# sushy (PyPI, pinned, own venv): the Redfish client smoke test of
# `make redfish-check` (ci/redfish-sushy.py).
bash "$here/install-sushy.sh"
# The DMTF Redfish Protocol Validator (PyPI, pinned, own venv), also for
# `make redfish-check`.
bash "$here/install-protocol-validator.sh"
# The DMTF Redfish Interop Validator (PyPI, pinned, own venv): the OpenRMC
# profile check of `make redfish-check`.
bash "$here/install-interop-validator.sh"
# DMTF's redfish-utilities (PyPI, pinned, own venv): rf_accounts.py manages
# an account on the node in `make redfish-check`.
bash "$here/install-redfish-utilities.sh"
# Headless Chromium: the cross-site request forgery policy is tested in a
# real browser (tests/browser_chromium.rs).
ensure_pkgs chromium
# opendcre-cli's tests read its YAML back with PyYAML and render its man
# page with man(1) (crates/cli/tests/against_server.rs).
ensure_pkgs python3-yaml man-db
# rsyslog: remote syslog over TCP is tested against a real rsyslogd on
# loopback (tests/syslog_tcp.rs starts its own with `-n -f`; the package's
# system instance is not used).
ensure_pkgs rsyslog
# iproute2: `ip -j addr` (netlink) is the independent reading the Redfish
# manager's EthernetInterfaces are compared with (tests/redfish_manager.rs).
ensure_pkgs iproute2
# prometheus: promtool checks and unit-tests the alert rules (make
# prometheus-check); make fleet-test runs its server on a loopback port with
# its own config and data directory. The package's system service (if the
# host runs systemd it starts on :9090) is neither used nor needed.
# promtool (Debian package prometheus): every scrape of /metrics in the tests
# is checked by Prometheus's own parser (tests/telemetry.rs).
ensure_pkgs prometheus
# podman (daemonless, from Debian) and mmdebstrap: the Dockerfile is built
# and run, and checked over REST (make container-test).
bash "$here/install-container.sh"

# `make check` runs cargo fmt and cargo clippy of the host toolchain (rustup's,
# in ~/.cargo/bin; Debian's /usr/bin/cargo is the cross build's and has
# neither). A toolchain installed with rustup's minimal profile lacks them.
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    . "$HOME/.cargo/env"
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null ||
        die "cargo fmt/clippy are missing and there is no rustup to add them: install the Rust toolchain with rustup (rustfmt and clippy components)"
    log "adding the rustfmt and clippy components to $(rustup show active-toolchain 2>/dev/null | cut -d' ' -f1)"
    rustup component add rustfmt clippy
    cargo fmt --version >/dev/null && cargo clippy --version >/dev/null ||
        die "cargo fmt/clippy still missing after rustup component add"
fi
echo "install-test-deps: $(cargo --version), $(cargo fmt --version), $(cargo clippy --version)"
