#!/usr/bin/env bash
# Installs the DMTF Redfish Protocol Validator (PyPI
# `redfish-protocol-validator`, pinned) into a private venv for
# ci/redfish-validate.sh (`make redfish-check`). Debian's /usr/bin/python3
# (python3-venv). Idempotent: does nothing (and needs no network) when the
# pinned version is in place.
#
# Usage: ci/install-protocol-validator.sh              install what is missing
#        ci/install-protocol-validator.sh --check      exit 0 when it is present
#        ci/install-protocol-validator.sh --print-bin  the path of rf_protocol_validator
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

RFPV_VERSION=${RFPV_VERSION:-1.3.2}
# Under /opt/opendcre-ci, the cache directory ci/from-nothing.sh removes.
RFPV_VENV=${RFPV_VENV:-/opt/opendcre-ci/redfish-protocol-validator-$RFPV_VERSION}
BIN=$RFPV_VENV/bin/rf_protocol_validator

rfpv_ok() {
    [ -x "$BIN" ] && venv_has "$RFPV_VENV" redfish_protocol_validator "$RFPV_VERSION"
}

case "${1:-}" in
--check)
    rfpv_ok
    exit $?
    ;;
--print-bin)
    echo "$BIN"
    exit 0
    ;;
esac

if rfpv_ok; then
    exit 0
fi
venv_install "$RFPV_VENV" "make redfish-check" "redfish-protocol-validator==$RFPV_VERSION"
rfpv_ok || die "redfish-protocol-validator==$RFPV_VERSION does not run from $RFPV_VENV"
log "Redfish Protocol Validator ready: $RFPV_VERSION in $RFPV_VENV"
