#!/usr/bin/env bash
# Install the IPMI test peers: OpenIPMI's ipmi_sim (Debian package openipmi),
# ipmitool (independent cross-check), and python3 (ci/peers/ipmi_sim/make_fru.py).
# Idempotent; needs root (CI runs as root). The tests in firmware-api/tests/ipmi_*.rs
# skip loudly without ipmi_sim unless OPENDCRE_REQUIRE_PEERS=1, which make test sets.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
ensure_pkgs openipmi ipmitool python3
command -v ipmi_sim >/dev/null && command -v ipmitool >/dev/null
echo "install-ipmi-peers: ipmi_sim and ipmitool ready"
