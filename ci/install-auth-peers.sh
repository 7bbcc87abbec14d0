#!/usr/bin/env bash
# Installs the real peers the auth/TLS tests talk to: OpenLDAP's slapd and
# ldap-utils (LDAP/AD tests), openssl (test CAs and certificates) and curl
# (ci/auth-curl-check.sh). slapd is preseeded with no_configuration so the
# package's postinst neither builds a default directory nor starts a daemon
# on port 389: the tests start their own slapd on loopback.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapadd >/dev/null 2>&1 || need+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ "${#need[@]}" -eq 0 ]; then
    echo "auth peers already installed"
    exit 0
fi

echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections

# The mirror is sometimes mid-sync; retry the index update a few times.
for i in 1 2 3 4 5; do
    if $SUDO apt-get update -q; then break; fi
    echo "apt-get update failed (attempt $i), retrying" >&2
    sleep $((i * 5))
done
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
