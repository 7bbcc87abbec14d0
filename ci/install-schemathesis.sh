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
    [ -x "$ST" ] && venv_has "$SCHEMATHESIS_VENV" schemathesis "$SCHEMATHESIS_VERSION" &&
        venv_has "$SCHEMATHESIS_VENV" openapi-spec-validator "$OSV_VERSION"
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
venv_install "$SCHEMATHESIS_VENV" "make api-contract" \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$OSV_VERSION"
st_ok || die "schemathesis==$SCHEMATHESIS_VERSION or openapi-spec-validator==$OSV_VERSION does not run from $SCHEMATHESIS_VENV"
log "schemathesis ready: $("$ST" --version)"
