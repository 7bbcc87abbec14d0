#!/usr/bin/env bash
# `make from-nothing`: proves that CI passes on a machine without this
# project's caches. Clones the committed HEAD of this repository afresh into a
# temporary directory beside it (with ../shared laid beside the clone, as CI
# lays it), removes every cache the project's scripts create, then runs
# `CI=true bash .ci/run` in the clone with a timer and prints the elapsed
# seconds and the exit code. The clone is removed afterwards unless KEEP=1.
#
# Caches removed (each overridable by the variable the scripts use):
#   /var/cache/opendcre-*             every cache of the ci/ scripts, namely
#     $CROSS_STATE                    (/var/cache/opendcre-cross) the private
#                                     armhf apt view of ci/install-cross.sh
#     $CHROOT_CACHE                   (…/opendcre-cross/chroot-bookworm-minbase.tar)
#                                     ci/test-deb-install.sh's Debian 12 chroot
#     $CONTAINER_BASE_CACHE           (/var/cache/opendcre-container/base-bookworm-slim.tar)
#                                     ci/container-test.sh's container base
#   $IMAGE_CACHE_DIR                  (/var/cache/openmist-image, image/image.conf)
#     base/                           the image's cached base layers
#     tools/ ($IMAGE_TOOLS_DIR)       the private e2fsprogs and its backports view
#   $HADOLINT_VENV's parent           (/opt/opendcre-ci) the hadolint venv of
#                                     ci/install-packaging.sh and the
#                                     schemathesis venv of ci/install-schemathesis.sh
#   $SCHEMATHESIS_VENV                (when set elsewhere than /opt/opendcre-ci)
#   <rustc-web sysroot>/lib/rustlib/armv7-unknown-linux-gnueabihf
#                                     the armv7 std ci/install-cross.sh unpacks
#                                     (with its version stamp)
# Not removed: installed Debian packages, the binfmt_misc registration, the
# rustup toolchain and cargo's registry (~/.cargo/registry: crates are
# downloaded again only if it is removed by hand), apt's own caches. The clone
# has no build/ or target/ of its own, so the cargo build starts from nothing.
#
# Usage: ci/from-nothing.sh        (as root; takes as long as a CI run)
#        KEEP=1 ci/from-nothing.sh keep the clone (its path is printed)
#        DRY_RUN=1 ci/from-nothing.sh   print what would be removed and run
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=ci/lib.sh
. "$SRC/ci/lib.sh"
DRY_RUN=${DRY_RUN:-0}
[ "$DRY_RUN" = 1 ] || require_root "ci/from-nothing.sh (it removes caches under /var/cache and runs CI)"

commit=$(git -C "$SRC" rev-parse HEAD)
if ! git -C "$SRC" diff --quiet HEAD 2>/dev/null; then
    warn "the work tree has uncommitted changes; they are NOT part of this run (it tests the committed HEAD $commit)"
fi
shared=$(cd "$SRC/.." && pwd)/shared
[ -d "$shared" ] || die "$shared not found: the repository expects ../shared beside it"

# --- the caches ------------------------------------------------------------------
# The defaults the scripts use, taken from where they are defined.
IMAGE_CACHE_DIR=$(
    cd "$SRC"
    # shellcheck source=image/image.conf
    . image/image.conf
    echo "$IMAGE_CACHE_DIR"
)
caches=(/var/cache/opendcre-*)
[ -e "${caches[0]}" ] || caches=()
for c in "${CROSS_STATE:-}" "${CHROOT_CACHE:-}" "${CONTAINER_BASE_CACHE:-}" "$IMAGE_CACHE_DIR" "${IMAGE_TOOLS_DIR:-}" \
    "$(dirname "${HADOLINT_VENV:-/opt/opendcre-ci/hadolint}")" "${SCHEMATHESIS_VENV:-}"; do
    [ -n "$c" ] && caches+=("$c")
done
if [ -x /usr/bin/rustc ] && sysroot=$(/usr/bin/rustc --print sysroot 2>/dev/null); then
    caches+=("$sysroot/lib/rustlib/armv7-unknown-linux-gnueabihf")
fi
log "from nothing: removing the project's caches"
for c in "${caches[@]}"; do
    case "$c" in
    / | /var | /var/cache | /opt | /usr | /usr/lib | "$HOME" | "" | [!/]*)
        die "refusing to remove '$c' (not a cache directory of this project)" ;;
    esac
    if [ -e "$c" ]; then
        echo "  rm -rf $c ($(du -sh "$c" 2>/dev/null | cut -f1))"
        [ "$DRY_RUN" = 1 ] || rm -rf "$c"
    else
        echo "  (absent) $c"
    fi
done

# --- the clone ------------------------------------------------------------------------
parent=$(dirname "$SRC")
work=$(mktemp -d "$parent/from-nothing.XXXXXX")
clone=$work/$(basename "$SRC")
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        log "from nothing: KEEP=1, the clone stays in $clone"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
log "from nothing: cloning $commit into $clone"
git clone --quiet --no-checkout "$SRC" "$clone"
git -C "$clone" checkout --quiet --detach "$commit"
# CI lays a copy of shared/ beside the clone; a link does for a local run.
ln -s "$shared" "$work/shared"

if [ "$DRY_RUN" = 1 ]; then
    log "from nothing: DRY_RUN=1, not running .ci/run in $clone"
    exit 0
fi

# --- the run ------------------------------------------------------------------------------
log "from nothing: CI=true bash .ci/run in $clone"
start=$(date +%s)
rc=0
(cd "$clone" && CI=true bash .ci/run </dev/null) || rc=$?
elapsed=$(since "$start")
echo "from-nothing: .ci/run exited $rc after ${elapsed}s ($((elapsed / 60)) min $((elapsed % 60)) s), commit $commit"
exit "$rc"
