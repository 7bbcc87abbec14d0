#!/usr/bin/env bash
# Installs DMTF's redfish-utilities (PyPI, pinned: the rf_*.py command-line
# tools operators use against any Redfish service) into a private venv for
# the account-management check that ci/redfish-validate.sh runs (`make
# redfish-check`): rf_accounts.py adds, changes and deletes an account on
# the node. Debian's /usr/bin/python3 (python3-venv). Idempotent: does
# nothing (and needs no network) when the pinned version is in place.
#
# Usage: ci/install-redfish-utilities.sh             install what is missing
#        ci/install-redfish-utilities.sh --check     exit 0 when it is present
#        ci/install-redfish-utilities.sh --print-bin the venv's bin directory
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

RFU_VERSION=${RFU_VERSION:-3.5.2}
# Under /opt/opendcre-ci, the cache directory ci/from-nothing.sh removes.
RFU_VENV=${RFU_VENV:-/opt/opendcre-ci/redfish-utilities-$RFU_VERSION}

rfu_ok() {
    venv_has "$RFU_VENV" redfish_utilities "$RFU_VERSION" && [ -x "$RFU_VENV/bin/rf_accounts.py" ]
}

case "${1:-}" in
--check)
    rfu_ok
    exit $?
    ;;
--print-bin)
    echo "$RFU_VENV/bin"
    exit 0
    ;;
esac

if rfu_ok; then
    exit 0
fi
venv_install "$RFU_VENV" "make redfish-check" "redfish-utilities==$RFU_VERSION"
rfu_ok || die "redfish-utilities==$RFU_VERSION is not usable from $RFU_VENV"
log "redfish-utilities ready: $RFU_VERSION in $RFU_VENV"
