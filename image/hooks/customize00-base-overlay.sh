#!/bin/sh
# mmdebstrap customize hook: copy the overlay files that shape the boot
# partition and the initramfs (listed in image/base-overlay.txt) before the
# one initramfs run. Everything else in overlays/ is applied later, outside
# the cached base layer, so editing it does not cost a rootfs rebuild.
set -eu
root="$1"
: "${OPENMIST_OVERLAYS:?}" "${OPENMIST_BASE_OVERLAY_LIST:?}"
grep -v '^[[:space:]]*\(#\|$\)' "$OPENMIST_BASE_OVERLAY_LIST" | while read -r path; do
    [ -e "$OPENMIST_OVERLAYS/$path" ] || { echo "base overlay path $path missing in $OPENMIST_OVERLAYS" >&2; exit 1; }
    tar -C "$OPENMIST_OVERLAYS" --owner=0 --group=0 --numeric-owner -cf - "./$path" |
        tar -C "$root" --no-overwrite-dir -xf -
done
