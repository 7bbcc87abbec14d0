#!/bin/sh
# Prints the commit the project's builds compile into the binaries
# (`opendcre_build_info{commit}`, docs/metrics.md): $OPENDCRE_COMMIT when set,
# else the 12-digit abbreviated hash of HEAD; nothing outside a git checkout
# (the binary then reports `unknown`).
#
# A tree with uncommitted changes reports its HEAD as is, with no `-dirty`
# suffix: the value depends on the commit only, so two builds of one commit
# stay byte for byte the same (ci/build-deb.sh, image/build/repro.sh), and
# CI and the release builds run on clean checkouts anyway.
#
# Used by the Makefile (which exports it to every cargo build it runs) and by
# the ci/ scripts that check the built binary reports it.
set -eu
if [ -n "${OPENDCRE_COMMIT:-}" ]; then
    printf '%s\n' "$OPENDCRE_COMMIT"
    exit 0
fi
git -C "$(dirname "$0")/.." rev-parse --short=12 HEAD 2>/dev/null || true
