#!/usr/bin/env bash
# Installs schemathesis (PyPI, pinned) into a private venv for
# ci/schemathesis.sh (`make api-contract`): the API contract test of
# firmware-api/crates/api/openapi.json against the running emulator.
# Uses Debian's /usr/bin/python3 (python3-venv), not a pyenv python3 that may
# come first on PATH. Idempotent: does nothing (and needs no network) when
# the pinned version is in place.
#
# Usage: ci/install-schemathesis.sh          install what is missing
#        ci/install-schemathesis.sh --check  exit 0 when it is present
#        ci/install-schemathesis.sh --print-bin   the path of its `schemathesis`
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
# Under /opt/opendcre-ci, the cache directory ci/from-nothing.sh removes.
SCHEMATHESIS_VENV=${SCHEMATHESIS_VENV:-/opt/opendcre-ci/schemathesis-$SCHEMATHESIS_VERSION}
ST=$SCHEMATHESIS_VENV/bin/schemathesis

st_ok() {
    [ -x "$ST" ] && "$ST" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"
}

case "${1:-}" in
--check)
    st_ok
    exit $?
    ;;
--print-bin)
    echo "$ST"
    exit 0
    ;;
esac

if st_ok; then
    exit 0
fi
ensure_pkgs python3 python3-venv
require_root "installing schemathesis"
log "installing schemathesis==$SCHEMATHESIS_VERSION from PyPI into $SCHEMATHESIS_VENV"
rm -rf "$SCHEMATHESIS_VENV"
mkdir -p "$(dirname "$SCHEMATHESIS_VENV")"
/usr/bin/python3 -m venv "$SCHEMATHESIS_VENV"
"$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" ||
    die "could not install schemathesis==$SCHEMATHESIS_VERSION from PyPI (make api-contract needs it; PyPI must be reachable)"
st_ok || die "schemathesis==$SCHEMATHESIS_VERSION does not run from $SCHEMATHESIS_VENV"
log "schemathesis ready: $("$ST" --version)"
