#!/usr/bin/env bash
# `make image-repro`: proves that the image build is reproducible.
#
#   IMAGE_REPRO=assemble (default)  build A = the current build/image (made
#       now if missing or from another commit/archive state), build B =
#       image tree + assembly again from the same cached base layer into
#       build/image-repro. Checks the part of the build that changes with every
#       commit (overlays, service .deb, genimage, mkfs, xz, bmap). Minutes.
#   IMAGE_REPRO=full  two complete builds from nothing (no base layer cache,
#       two mmdebstrap runs), compared layer by layer. Checks everything,
#       including the Debian packages' maintainer scripts and the initramfs.
#
# Both compare every artifact in SHA256SUMS and print the two sums of the
# image. On a mismatch the differing files inside the root filesystem are
# listed. If the archive changed between the two builds the result is
# inconclusive (exit 2): reproducibility is promised for the same archive state.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

mode=${IMAGE_REPRO:-assemble}
a_out=$IMAGE_OUT a_work=$IMAGE_WORK
b_out=build/image-repro b_work=build/image-repro-work
t0=$(date +%s)

same_inputs() { # OUT: does OUT hold a build of this (clean) commit?
    [ -f "$1/build-info.txt" ] && [ -f "$1/SHA256SUMS" ] || return 1
    # A dirty tree may have changed since that build: build A again.
    git diff --quiet HEAD 2>/dev/null || return 1
    grep -q "^commit: *$(git rev-parse HEAD)$" "$1/build-info.txt" &&
        grep -q "^version: *$(git describe --tags --always --dirty)$" "$1/build-info.txt"
}

case "$mode" in
assemble)
    if same_inputs "$a_out"; then
        log "repro: build A = existing $a_out (same commit)"
    else
        log "repro: build A"
        "$HERE/build-image.sh" "$a_out" "$a_work"
    fi
    log "repro: build B (image tree and assembly again, same base layer)"
    rm -rf "$b_out"
    "$HERE/build-image.sh" "$b_out" "$b_work"
    ;;
full)
    cleanup_nocache() { rm -rf "$IMAGE_CACHE_DIR"/base/nocache-*; }
    trap cleanup_nocache EXIT
    a_out=build/image-repro-a a_work=build/image-repro-a-work
    for side in A B; do
        [ "$side" = A ] && o=$a_out w=$a_work || o=$b_out w=$b_work
        log "repro: full build $side from nothing (no base layer cache)"
        rm -rf "$o" "$w"
        IMAGE_BASE_NOCACHE=1 "$HERE/build-image.sh" "$o" "$w"
        # Keep the layer for the comparison below, outside the cache.
        layer=$(awk '/^base_layer:/{print $2}' "$o/build-info.txt")
        mv "$IMAGE_CACHE_DIR/base/$layer/rootfs.tar" "$w/base-rootfs.tar"
    done
    ;;
*) die "IMAGE_REPRO must be assemble or full, not '$mode'" ;;
esac

# --- compare ------------------------------------------------------------------------------
state() { sed -n '/^archive state:/,$p' "$1/build-info.txt"; }
if [ "$(state "$a_out")" != "$(state "$b_out")" ]; then
    diff <(state "$a_out") <(state "$b_out") >&2 || true
    warn "the archive changed between the two builds; the comparison is inconclusive"
    exit 2
fi
report=build/image-repro-report.txt
exec > >(tee "$report")
sum() { awk -v f="$2" '$2==f{print $1}' "$1/SHA256SUMS"; }
echo "reproducibility check ($mode), $(date -u +%FT%TZ), $(since "$t0")s, $(git describe --tags --always --dirty):"
rc=0
for f in $(awk '{print $2}' "$a_out/SHA256SUMS"); do
    a=$(sum "$a_out" "$f") b=$(sum "$b_out" "$f")
    if [ "$a" = "$b" ]; then r=identical; else r=DIFFERENT; rc=1; fi
    printf '  %-28s %s\n  %-28s %s  %s\n' "$f (A)" "$a" "$f (B)" "$b" "$r"
done
if [ "$mode" = full ]; then
    a=$(sha256sum "$a_work/base-rootfs.tar" | cut -c1-64) b=$(sha256sum "$b_work/base-rootfs.tar" | cut -c1-64)
    [ "$a" = "$b" ] && r=identical || { r=DIFFERENT; rc=1; }
    printf '  %-28s %s\n  %-28s %s  %s\n' "base layer (A)" "$a" "base layer (B)" "$b" "$r"
fi
if [ "$rc" != 0 ]; then
    # Say which files differ: the per-file lists build-image.sh kept.
    diff "$a_work/rootfs.sums" "$b_work/rootfs.sums" | head -n 60 >&2 || true
    die "the two builds differ (see above); file lists in $a_work/rootfs.sums and $b_work/rootfs.sums"
fi
echo "REPRODUCIBLE: the two builds are bit-identical"
# B has served its purpose; its image and work files would only take disk
# (1.3 GB). Its sums stay in the report above.
rm -rf "$b_work" "${b_out:?}"/*.img "$b_out"/*.img.xz
