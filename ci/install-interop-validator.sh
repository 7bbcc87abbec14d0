#!/usr/bin/env bash
# Installs the DMTF Redfish Interop Validator (PyPI
# `redfish-interop-validator`, pinned, with the `redfish` client library it
# drives pinned too) into a private venv for ci/redfish-validate.sh (`make
# redfish-check`), which runs it with the OCP OpenRMC profile. Debian's
# /usr/bin/python3 (python3-venv). Idempotent: does nothing (and needs no
# network) when the pinned versions are in place.
#
# Usage: ci/install-interop-validator.sh              install what is missing
#        ci/install-interop-validator.sh --check      exit 0 when it is present
#        ci/install-interop-validator.sh --print-bin  the path of rf_interop_validator
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

RFIV_VERSION=${RFIV_VERSION:-3.0.4}
REDFISH_LIB_VERSION=${REDFISH_LIB_VERSION:-3.4.2}
# Under /opt/opendcre-ci, the cache directory ci/from-nothing.sh removes.
RFIV_VENV=${RFIV_VENV:-/opt/opendcre-ci/redfish-interop-validator-$RFIV_VERSION}
BIN=$RFIV_VENV/bin/rf_interop_validator

rfiv_ok() {
    [ -x "$BIN" ] &&
        venv_has "$RFIV_VENV" redfish_interop_validator "$RFIV_VERSION" &&
        venv_has "$RFIV_VENV" redfish "$REDFISH_LIB_VERSION"
}

case "${1:-}" in
--check)
    rfiv_ok
    exit $?
    ;;
--print-bin)
    echo "$BIN"
    exit 0
    ;;
esac

if rfiv_ok; then
    exit 0
fi
venv_install "$RFIV_VENV" "make redfish-check" \
    "redfish-interop-validator==$RFIV_VERSION" "redfish==$REDFISH_LIB_VERSION"
rfiv_ok || die "redfish-interop-validator==$RFIV_VERSION does not run from $RFIV_VENV"
log "Redfish Interop Validator ready: $RFIV_VERSION in $RFIV_VENV"
