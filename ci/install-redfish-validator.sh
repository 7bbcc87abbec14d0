#!/usr/bin/env bash
# Installs the DMTF Redfish Service Validator (PyPI `redfish-service-validator`,
# pinned, with the `redfish` client library it drives pinned too) into a
# private venv for ci/redfish-validate.sh (`make redfish-check`).
# Uses Debian's /usr/bin/python3 (python3-venv), not a pyenv python3 that may
# come first on PATH. Idempotent: does nothing (and needs no network) when
# the pinned versions are in place.
#
# Usage: ci/install-redfish-validator.sh              install what is missing
#        ci/install-redfish-validator.sh --check      exit 0 when it is present
#        ci/install-redfish-validator.sh --print-bin  the path of rf_service_validator
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

RFSV_VERSION=${RFSV_VERSION:-3.1.8}
REDFISH_LIB_VERSION=${REDFISH_LIB_VERSION:-3.4.2}
# Under /opt/opendcre-ci, the cache directory ci/from-nothing.sh removes.
RFSV_VENV=${RFSV_VENV:-/opt/opendcre-ci/redfish-validator-$RFSV_VERSION}
BIN=$RFSV_VENV/bin/rf_service_validator

rfsv_ok() {
    [ -x "$BIN" ] &&
        venv_has "$RFSV_VENV" redfish_service_validator "$RFSV_VERSION" &&
        venv_has "$RFSV_VENV" redfish "$REDFISH_LIB_VERSION"
}

case "${1:-}" in
--check)
    rfsv_ok
    exit $?
    ;;
--print-bin)
    echo "$BIN"
    exit 0
    ;;
esac

if rfsv_ok; then
    exit 0
fi
venv_install "$RFSV_VENV" "make redfish-check" \
    "redfish-service-validator==$RFSV_VERSION" "redfish==$REDFISH_LIB_VERSION"
rfsv_ok || die "redfish-service-validator==$RFSV_VERSION does not run from $RFSV_VENV"
log "Redfish Service Validator ready: $RFSV_VERSION in $RFSV_VENV"
