#!/usr/bin/env bash
# Installs the real peers the auth/TLS tests talk to: OpenLDAP's slapd and
# ldap-utils (LDAP/AD tests, ci/peers/slapd/start.sh), openssl (test CAs,
# RSA keys for JWTs) and curl (ci/auth-curl-check.sh). slapd is preseeded
# with no_configuration so its postinst neither builds a default directory
# nor starts a daemon on port 389: the tests start their own on loopback.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
if ! dpkg-query -W -f='${Status}' slapd 2>/dev/null | grep -q 'install ok installed'; then
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
fi
ensure_pkgs slapd ldap-utils openssl curl
