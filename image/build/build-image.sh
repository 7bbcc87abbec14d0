#!/usr/bin/env bash
# `make image`: builds the OpenMistOS SD-card image for the Raspberry Pi 2.
#
#   image/build/build-image.sh [OUTDIR [WORKDIR]]    (defaults: IMAGE_OUT, IMAGE_WORK)
#
#   0. host tools (image/build/install-deps.sh, quick when present)
#   1. archive pre-flight   image/build/archive-check.sh
#   2. base layer (cached)  image/build/build-base.sh     mmdebstrap + one initramfs
#   3. U-Boot               image/build/fetch-uboot.sh    u-boot-rpi of IMAGE_UBOOT_SUITE
#   4. image tree           image/build/customize.sh      overlays/, service .deb, A/B boot
#   5. SD image             image/build/assemble.sh       genimage, xz, bmap, sums
#
# SOURCE_DATE_EPOCH is the commit time of HEAD unless set. OUTDIR gets the
# artifacts plus build-info.txt (what went in; deterministic) and
# build-times.txt (how long each stage took).
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

export IMAGE_OUT=${1:-$IMAGE_OUT}
export IMAGE_WORK=${2:-$IMAGE_WORK}
t0=$(date +%s)

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct) || die "no git history for SOURCE_DATE_EPOCH"
fi
export SOURCE_DATE_EPOCH
export IMAGE_COMMIT=${IMAGE_COMMIT:-$(git -C "$ROOT" rev-parse HEAD)}
export IMAGE_VERSION=${IMAGE_VERSION:-$(git -C "$ROOT" describe --tags --always --dirty)}

# The service package: explicit path, "none", or the newest `make deb` output.
if [ -z "$OPENDCRE_DEB" ]; then
    OPENDCRE_DEB=$(ls build/deb/opendcre_*_armhf.deb 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$OPENDCRE_DEB" ] ||
        die "no service package: run \`make deb\` (build/deb/opendcre_*_armhf.deb), pass OPENDCRE_DEB=path, or OPENDCRE_DEB=none for an image without the service"
fi
if [ "$OPENDCRE_DEB" != none ]; then
    OPENDCRE_DEB=$(realpath "$OPENDCRE_DEB")
    [ -f "$OPENDCRE_DEB" ] || die "OPENDCRE_DEB=$OPENDCRE_DEB does not exist"
fi
export OPENDCRE_DEB

log "OpenMistOS image $IMAGE_VERSION ($IMAGE_SUITE/$IMAGE_ARCH), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH ($(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ)), service: ${OPENDCRE_DEB##*/}"
mkdir -p "$IMAGE_WORK" "$IMAGE_OUT"
times="$IMAGE_WORK/build-times.txt"
: >"$times"
stage() { # NAME START
    printf '%-16s %4ss\n' "$1" "$(since "$2")" >>"$times"
}

t=$(date +%s)
"$HERE/install-deps.sh"
stage host-tools "$t"

t=$(date +%s)
"$HERE/archive-check.sh" "$IMAGE_WORK/archive"
stage archive-check "$t"

t=$(date +%s)
base=$("$HERE/build-base.sh" "$IMAGE_WORK/archive")
base_dir=$(dirname "$base")
# Built by this run when its build-seconds was written after the stage began
# (comparing durations mislabelled fresh builds as cache hits).
if [ -f "$base_dir/build-seconds" ] && [ "$(stat -c %Y "$base_dir/build-seconds")" -ge "$t" ]; then
    stage base-layer "$t"
else
    printf '%-16s %4ss (cache hit)\n' base-layer "$(since "$t")" >>"$times"
fi

t=$(date +%s)
uboot=$("$HERE/fetch-uboot.sh" "$IMAGE_WORK/u-boot")
IMAGE_UBOOT_BIN=$(sed -n 1p <<<"$uboot")
uboot_info=$(sed -n 2p <<<"$uboot")
export IMAGE_UBOOT_BIN
stage u-boot "$t"

t=$(date +%s)
"$HERE/customize.sh" "$base" "$IMAGE_WORK/archive" "$IMAGE_WORK/rootfs"
stage image-tree "$t"

t=$(date +%s)
"$HERE/assemble.sh" "$IMAGE_WORK/rootfs" "$IMAGE_OUT"
stage assemble "$t"

# The tree is inside the image now. Keep its file list with modes, owners and
# hashes (what repro.sh compares when two builds differ) and drop the tree
# itself: 0.56 GB, and disk was what a CI run ran out of. IMAGE_KEEP_ROOTFS=1
# keeps it for inspection.
tree_sums "$IMAGE_WORK/rootfs" >"$IMAGE_WORK/rootfs.sums"
if [ "${IMAGE_KEEP_ROOTFS:-0}" != 1 ]; then
    rm -rf "${IMAGE_WORK:?}/rootfs"
fi

# --- build-info.txt: everything that went in (no times: it is reproducible) --------------
{
    echo "image:        $IMAGE_NAME.img"
    echo "version:      $IMAGE_VERSION"
    echo "commit:       $IMAGE_COMMIT"
    echo "source_date:  $SOURCE_DATE_EPOCH ($(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ))"
    echo "suite:        $IMAGE_SUITE/$IMAGE_ARCH ($IMAGE_VARIANT; $IMAGE_COMPONENTS)"
    echo "base_layer:   $(basename "$base_dir") sha256 $(cat "$base_dir/rootfs.tar.sha256")"
    echo "base_epoch:   $(cat "$IMAGE_WORK/archive/epoch") ($(date -u -d "@$(cat "$IMAGE_WORK/archive/epoch")" +%FT%TZ), newest Release date)"
    if [ "$OPENDCRE_DEB" != none ]; then
        echo "service:      $(basename "$OPENDCRE_DEB") sha256 $(sha256sum "$OPENDCRE_DEB" | cut -c1-64)"
    else
        echo "service:      none (OPENDCRE_DEB=none)"
    fi
    echo "u-boot:       $uboot_info"
    echo "rauc keyring: $IMAGE_RAUC_KEYRING sha256 $(openssl x509 -in "$IMAGE_RAUC_KEYRING" -noout -fingerprint -sha256 | cut -d= -f2) ($(openssl x509 -in "$IMAGE_RAUC_KEYRING" -noout -subject | sed 's/^subject=//'))"
    echo "sources:"
    sed 's/^/  /' "$IMAGE_WORK/archive/report"
    echo "archive state:"
    sed 's/^/  /' "$IMAGE_WORK/archive/state"
} >"$IMAGE_OUT/build-info.txt"
cp "$times" "$IMAGE_OUT/build-times.txt"
printf '%-16s %4ss\n' total "$(since "$t0")" >>"$IMAGE_OUT/build-times.txt"

if grep -q '^SKIPPED' "$IMAGE_WORK/archive/report"; then
    warn "built WITHOUT: $(grep '^SKIPPED' "$IMAGE_WORK/archive/report" | sed 's/^SKIPPED *//' | paste -sd';' -)"
fi
log "done in $(since "$t0")s:"
sed 's/^/    /' "$IMAGE_OUT/build-times.txt" >&2
(cd "$IMAGE_OUT" && ls -l --block-size=K ./*.img ./*.img.xz ./*.bmap ./*.manifest SHA256SUMS) | sed 's/^/    /' >&2
