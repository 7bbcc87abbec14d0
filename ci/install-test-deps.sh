#!/usr/bin/env bash
# Installs the Debian packages the host test suite uses. Idempotent; retries
# `apt-get update` because Debian mirrors are sometimes mid-sync.
set -euo pipefail
here="$(dirname "$0")"
# shellcheck source=ci/lib.sh
source "$here/lib.sh"
ensure_pkgs curl
# ipmi_sim + ipmitool: the IPMI bridge is tested against a real simulated BMC.
bash "$here/install-ipmi-peers.sh"
# slapd, ldap-utils, openssl for the auth and TLS tests.
bash "$here/install-auth-peers.sh"
