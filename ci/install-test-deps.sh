#!/usr/bin/env bash
# Installs the Debian packages the host test suite uses. Idempotent; retries
# `apt-get update` because Debian mirrors are sometimes mid-sync.
set -euo pipefail
source "$(dirname "$0")/lib/apt.sh"
apt_install_missing curl
# slapd, ldap-utils, openssl for the auth and TLS tests.
bash "$(dirname "$0")/install-auth-peers.sh"
