#!/bin/sh
# Install the IPMI test peers: OpenIPMI's ipmi_sim (Debian package openipmi),
# ipmitool (independent cross-check), and python3 (ci/peers/ipmi_sim/make_fru.py).
# Idempotent; needs root (CI runs as root). The tests in firmware-api/tests/ipmi_*.rs
# skip loudly without ipmi_sim unless OPENDCRE_REQUIRE_IPMI_SIM=1, which CI sets.
set -eu

need=""
command -v ipmi_sim >/dev/null 2>&1 || need="$need openipmi"
command -v ipmitool >/dev/null 2>&1 || need="$need ipmitool"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -z "$need" ]; then
    echo "install-ipmi-peers: ipmi_sim, ipmitool and python3 already installed"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Mirror-sync errors happen; retry the index update a few times.
i=0
until $SUDO apt-get update; do
    i=$((i + 1))
    if [ $i -ge 5 ]; then
        echo "install-ipmi-peers: apt-get update failed 5 times" >&2
        exit 1
    fi
    sleep $((i * 5))
done
# shellcheck disable=SC2086 # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $need
command -v ipmi_sim
ipmitool -V
