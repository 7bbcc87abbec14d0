#!/usr/bin/env bash
# Installs sushy (PyPI, OpenStack's Redfish client library, pinned) into a
# private venv for the sushy smoke test that ci/redfish-validate.sh runs
# (`make redfish-check`): a session login and resets of a bus power device
# driven by the library Ironic uses. Debian's /usr/bin/python3
# (python3-venv). Idempotent: does nothing (and needs no network) when the
# pinned version is in place.
#
# Usage: ci/install-sushy.sh                 install what is missing
#        ci/install-sushy.sh --check         exit 0 when it is present
#        ci/install-sushy.sh --print-python  the venv's python
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

SUSHY_VERSION=${SUSHY_VERSION:-5.14.0}
# Under /opt/opendcre-ci, the cache directory ci/from-nothing.sh removes.
SUSHY_VENV=${SUSHY_VENV:-/opt/opendcre-ci/sushy-$SUSHY_VERSION}
PY=$SUSHY_VENV/bin/python

sushy_ok() {
    venv_has "$SUSHY_VENV" sushy "$SUSHY_VERSION"
}

case "${1:-}" in
--check)
    sushy_ok
    exit $?
    ;;
--print-python)
    echo "$PY"
    exit 0
    ;;
esac

if sushy_ok; then
    exit 0
fi
venv_install "$SUSHY_VENV" "make redfish-check" "sushy==$SUSHY_VERSION"
sushy_ok || die "sushy==$SUSHY_VERSION does not import from $SUSHY_VENV"
log "sushy ready: $SUSHY_VERSION in $SUSHY_VENV"
