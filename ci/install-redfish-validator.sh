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

installed() { # installed DIST: its version in the venv, or nothing
    "$RFSV_VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true
}

rfsv_ok() {
    [ -x "$BIN" ] &&
        [ "$(installed redfish_service_validator)" = "$RFSV_VERSION" ] &&
        [ "$(installed redfish)" = "$REDFISH_LIB_VERSION" ]
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
ensure_pkgs python3 python3-venv
require_root "installing the Redfish Service Validator"
log "installing redfish-service-validator==$RFSV_VERSION, redfish==$REDFISH_LIB_VERSION from PyPI into $RFSV_VENV"
rm -rf "$RFSV_VENV"
mkdir -p "$(dirname "$RFSV_VENV")"
/usr/bin/python3 -m venv "$RFSV_VENV"
"$RFSV_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "redfish-service-validator==$RFSV_VERSION" "redfish==$REDFISH_LIB_VERSION" ||
    die "could not install redfish-service-validator==$RFSV_VERSION from PyPI (make redfish-check needs it; PyPI must be reachable)"
rfsv_ok || die "redfish-service-validator==$RFSV_VERSION does not run from $RFSV_VENV"
log "Redfish Service Validator ready: $RFSV_VERSION in $RFSV_VENV"
