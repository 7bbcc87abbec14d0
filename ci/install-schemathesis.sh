#!/usr/bin/env bash
# Installs schemathesis and openapi-spec-validator (PyPI, pinned) into a
# private venv for ci/schemathesis.sh (`make api-contract`): the document
# firmware-api/crates/api/openapi.json checked against the OpenAPI 3.1
# meta-schema, then against the running emulator.
# Uses Debian's /usr/bin/python3 (python3-venv), not a pyenv python3 that may
# come first on PATH. Idempotent: does nothing (and needs no network) when
# the pinned version is in place.
#
# Usage: ci/install-schemathesis.sh          install what is missing
#        ci/install-schemathesis.sh --check  exit 0 when it is present
#        ci/install-schemathesis.sh --print-bin   the path of its `schemathesis`
#        ci/install-schemathesis.sh --print-validator   …of `openapi-spec-validator`
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
OSV_VERSION=${OSV_VERSION:-0.9.0}
# Under /opt/opendcre-ci, the cache directory ci/from-nothing.sh removes.
SCHEMATHESIS_VENV=${SCHEMATHESIS_VENV:-/opt/opendcre-ci/schemathesis-$SCHEMATHESIS_VERSION}
ST=$SCHEMATHESIS_VENV/bin/schemathesis

st_ok() {
    [ -x "$ST" ] && "$ST" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION" &&
        [ "$("$SCHEMATHESIS_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))' 2>/dev/null)" = "$OSV_VERSION" ]
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
--print-validator)
    echo "$SCHEMATHESIS_VENV/bin/openapi-spec-validator"
    exit 0
    ;;
esac

if st_ok; then
    exit 0
fi
ensure_pkgs python3 python3-venv
require_root "installing schemathesis"
log "installing schemathesis==$SCHEMATHESIS_VERSION, openapi-spec-validator==$OSV_VERSION from PyPI into $SCHEMATHESIS_VENV"
rm -rf "$SCHEMATHESIS_VENV"
mkdir -p "$(dirname "$SCHEMATHESIS_VENV")"
/usr/bin/python3 -m venv "$SCHEMATHESIS_VENV"
"$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$OSV_VERSION" ||
    die "could not install schemathesis==$SCHEMATHESIS_VERSION and openapi-spec-validator==$OSV_VERSION from PyPI (make api-contract needs it; PyPI must be reachable)"
st_ok || die "schemathesis==$SCHEMATHESIS_VERSION or openapi-spec-validator==$OSV_VERSION does not run from $SCHEMATHESIS_VENV"
log "schemathesis ready: $("$ST" --version)"
