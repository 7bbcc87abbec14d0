#!/usr/bin/env bash
# `make bundle`: the RAUC update bundle of the image `make image` built last.
#
#   image/build/bundle.sh [SLOT_IMAGE [OUTDIR]]
#       (defaults: $IMAGE_WORK/rootfs-slot.ext4, $IMAGE_OUT)
#
# The bundle carries the image's slot A file system as it is in the .img
# (the same ext4, IMAGE_SLOT_MIB large), so a node updated by the bundle runs
# exactly what a card flashed with the image runs. Format verity (the only
# one the image accepts), signed with RAUC_CERT/RAUC_KEY (defaults: the
# development signer in image/rauc/, see its README), checked against
# IMAGE_RAUC_KEYRING before it is written out.
#
# Reproducible up to RAUC's verity salt: the payload (squashfs of the slot
# image and manifest) is bit-identical between builds of one commit (file
# times and mksquashfs's time are SOURCE_DATE_EPOCH; the signature's signing
# time too, through faketime, and RSA PKCS#1 v1.5 signatures are
# deterministic), but RAUC draws a random salt for the dm-verity hash tree
# at every build, and that salt is in the signed manifest.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

slot=${1:-$IMAGE_WORK/rootfs-slot.ext4}
out=${2:-$IMAGE_OUT}
[ -s "$slot" ] || die "no slot image at $slot (run \`make image\` first)"
for f in "$RAUC_CERT" "$RAUC_KEY" "$IMAGE_RAUC_KEYRING"; do [ -s "$f" ] || die "missing $f"; done
for tool in rauc mksquashfs faketime; do
    command -v "$tool" >/dev/null || die "$tool missing (image/build/install-deps.sh installs it)"
done
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct) || die "no git history for SOURCE_DATE_EPOCH"
fi
export SOURCE_DATE_EPOCH
version=${IMAGE_VERSION:-$(git -C "$ROOT" describe --tags --always --dirty)}
commit=${IMAGE_COMMIT:-$(git -C "$ROOT" rev-parse HEAD)}
# The slot image must be the one of this checkout's image: its release file
# names the version it was built as.
e2fs=$("$HERE/install-deps.sh" --e2fs-dir)
slot_release=$("$e2fs/debugfs" -R 'cat /etc/openmist-release' "$slot" 2>/dev/null)
slot_version=$(sed -n 's/^VERSION="\(.*\)"$/\1/p' <<<"$slot_release")
[ -n "$slot_version" ] || die "$slot has no /etc/openmist-release: not an OpenMistOS slot image"
[ "$slot_version" = "$version" ] || warn "the slot image is version $slot_version, this checkout is $version: bundling the slot image as built"
start=$(date +%s)

stage="$IMAGE_WORK/bundle"
rm -rf "$stage"
mkdir -p "$stage/in" "$out"
cp --sparse=always "$slot" "$stage/in/rootfs.ext4"
cat >"$stage/in/manifest.raucm" <<EOF2
[update]
compatible=$IMAGE_COMPATIBLE
version=$slot_version
build=$(sed -n 's/^GIT_COMMIT="\(.*\)"$/\1/p' <<<"$slot_release")
description=OpenMistOS $slot_version root file system for the Raspberry Pi 2 (A/B slot)

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
EOF2
touch -d "@$SOURCE_DATE_EPOCH" "$stage/in"/* "$stage/in"
bundle="$out/$IMAGE_NAME-$slot_version.raucb"
rm -f "$bundle"
faketime "@$SOURCE_DATE_EPOCH" rauc bundle --cert "$RAUC_CERT" --key "$RAUC_KEY" \
    --keyring "$IMAGE_RAUC_KEYRING" "$stage/in" "$bundle" >"$stage/rauc.log" 2>&1 ||
    die "rauc bundle failed: $(tail -n 5 "$stage/rauc.log")"
rauc info --keyring "$IMAGE_RAUC_KEYRING" "$bundle" >"$stage/info.txt" 2>&1 ||
    die "the new bundle does not verify against $IMAGE_RAUC_KEYRING: $(tail -n 3 "$stage/info.txt")"
rm -rf "$stage/in"
ln -sfn "$(basename "$bundle")" "$out/$IMAGE_NAME.raucb"
(cd "$out" && sha256sum "$(basename "$bundle")" >"$(basename "$bundle").sha256")
log "bundle: $bundle ($(du -m --apparent-size "$bundle" | cut -f1) MiB, slot image sha256 $(sha256sum "$slot" | cut -c1-16)…, commit ${commit:0:12}) in $(since "$start")s"
