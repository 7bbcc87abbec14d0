#!/usr/bin/env bash
# Stage 1 of the image build: the base root filesystem layer, cached.
#
#   image/build/build-base.sh ARCHIVE_DIR       (prints the layer's tarball path)
#
# mmdebstrap builds Debian armhf (minbase + image/packages.txt) through
# qemu-user, with the hooks in image/hooks (one initramfs run, raspi-firmware
# boot files, per-build state removed). The result is stored as a tarball in
# $IMAGE_CACHE_DIR/base/<key>/ where <key> hashes every input of this stage:
# suite, architecture, variant, components, the sources used, the archive
# state (Release dates and armhf Packages hashes from archive-check.sh), the
# package list, the hook scripts, dpkg's path excludes (image/dpkg-slim.cfg),
# the base overlay files and the mmdebstrap version. The layer's SOURCE_DATE_EPOCH is the archive's newest Release
# date, so a cached layer is byte-identical to a fresh build of it and the
# cache cannot change the final image.
#
# IMAGE_BASE_NOCACHE=1 builds into a fresh temporary key (repro checks).
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

archive=${1:?usage: build-base.sh ARCHIVE_DIR}
[ -s "$archive/sources.build" ] && [ -s "$archive/state" ] && [ -s "$archive/epoch" ] ||
    die "$archive lacks the archive-check.sh results"
epoch=$(cat "$archive/epoch")

# --- package list ---------------------------------------------------------------
pkglist() {
    local f
    for f in "$IMAGE_PACKAGES_FILE" "${IMAGE_PACKAGES_FILE%.txt}-$IMAGE_SUITE.txt"; do
        [ -f "$f" ] && sed -e 's/#.*//' "$f"
    done
    printf '%s\n' $IMAGE_EXTRA_PACKAGES
}
packages=$(pkglist | tr -s ' \t' '\n' | grep -v '^$' | sort -u | paste -sd, -)
[ -n "$packages" ] || die "empty package list ($IMAGE_PACKAGES_FILE)"

# --- cache key --------------------------------------------------------------------
base_overlay_list=image/base-overlay.txt
# Paths dpkg leaves out of every package (docs, locales, other boards' device
# trees and firmware, unused kernel module classes).
dpkg_slim=image/dpkg-slim.cfg
[ -s "$dpkg_slim" ] || die "no $dpkg_slim"
key_input() {
    echo "suite=$IMAGE_SUITE arch=$IMAGE_ARCH variant=$IMAGE_VARIANT components=$IMAGE_COMPONENTS"
    echo "mmdebstrap=$(mmdebstrap --version)"
    echo "packages=$packages"
    echo "epoch=$epoch"
    cat "$archive/sources.build" "$archive/state"
    (cd image/hooks && sha256sum ./*)
    sha256sum "$dpkg_slim"
    sha256sum "$base_overlay_list"
    grep -v '^[[:space:]]*\(#\|$\)' "$base_overlay_list" | while read -r p; do
        (cd overlays && find "./$p" -type f -print0 | sort -z | xargs -0 sha256sum)
    done
}
key=$(key_input | sha256sum | cut -c1-20)
if [ "${IMAGE_BASE_NOCACHE:-0}" = 1 ]; then
    key="nocache-$key-$$-$(date +%s)"
fi
dir="$IMAGE_CACHE_DIR/base/$key"
tarball="$dir/rootfs.tar"
if [ -f "$dir/complete" ] && [ -f "$tarball" ]; then
    log "base layer: cache hit $dir"
    touch "$dir/complete" # most recently used, for the pruning below
    echo "$tarball"
    exit 0
fi

# --- build ------------------------------------------------------------------------
log "base layer: building $IMAGE_SUITE/$IMAGE_ARCH (key $key), SOURCE_DATE_EPOCH=$epoch ($(date -u -d "@$epoch" +%F))"
log "base layer: packages: $packages"
mkdir -p "$IMAGE_WORK"
chroot_dir="$(cd "$IMAGE_WORK" && pwd)/base-rootfs"
rm -rf "$chroot_dir" "$dir"
mkdir -p "$dir"
start=$(date +%s)
key_input >"$dir/key-input"
# mmdebstrap reads the sources from stdin ("-"); the archive check resolved
# and verified them. Hooks get the overlay location through the environment.
OPENMIST_OVERLAYS="$ROOT/overlays" OPENMIST_BASE_OVERLAY_LIST="$ROOT/$base_overlay_list" \
    SOURCE_DATE_EPOCH="$epoch" \
    mmdebstrap --mode=root --variant="$IMAGE_VARIANT" --architectures="$IMAGE_ARCH" \
    --components="$IMAGE_COMPONENTS" --include="$packages" \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt="$ROOT/$dpkg_slim" \
    --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
    --hook-dir="$ROOT/image/hooks" \
    "$IMAGE_SUITE" "$chroot_dir" - <"$archive/sources.build" 2>&1 |
    tee "$dir/mmdebstrap.log" | grep -E '^(I: |E: |W: |openmist:)' >&2 ||
    true
[ "${PIPESTATUS[0]}" = 0 ] || die "mmdebstrap failed; log: $dir/mmdebstrap.log (last lines: $(tail -n 5 "$dir/mmdebstrap.log"))"
log "base layer: mmdebstrap done in $(since "$start")s"

# Deterministic tarball: sorted names, numeric owners, file times clamped to
# the layer's epoch, no pax atime/ctime records; xattrs (file capabilities)
# are kept.
tar --sort=name --numeric-owner --xattrs --xattrs-include='*' \
    --mtime="@$epoch" --clamp-mtime --format=pax \
    --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$chroot_dir" -cf "$tarball.tmp" .
mv "$tarball.tmp" "$tarball"
sha256sum "$tarball" | awk '{print $1}' >"$dir/rootfs.tar.sha256"
rm -rf "$chroot_dir"
since "$start" >"$dir/build-seconds"
touch "$dir/complete"
# Keep the IMAGE_CACHE_KEEP most recently used layers (570 MiB each).
find "$IMAGE_CACHE_DIR/base" -mindepth 2 -maxdepth 2 -name complete -printf '%T@ %h\n' |
    sort -rn | tail -n +$((${IMAGE_CACHE_KEEP:-3} + 1)) | while read -r _ old; do
    case "$(basename "$old")" in nocache-*) continue ;; esac
    log "base layer: pruning old cache entry $old"
    rm -rf "$old"
done
log "base layer: stored $tarball ($(du -m "$tarball" | cut -f1) MiB, sha256 $(cat "$dir/rootfs.tar.sha256")) in $(since "$start")s"
echo "$tarball"
