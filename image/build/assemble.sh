#!/usr/bin/env bash
# Stage 3 of the image build: the SD-card image and its release artifacts.
#
#   image/build/assemble.sh ROOTFS_DIR OUTDIR
#
# genimage (image/genimage.cfg.in) makes the FAT firmware partition from
# ROOTFS_DIR/boot/firmware with mkdosfs + mcopy, the ext4 root from the rest
# with mke2fs -d (e2fsprogs >= 1.47.2, which clamps inode times to
# SOURCE_DATE_EPOCH), and an MBR disk around them. No loop mounts.
#
# OUTDIR gets: $IMAGE_NAME.img, .img.xz, .img.bmap, .manifest (package,
# version, architecture), SHA256SUMS.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

rootfs=${1:?usage: assemble.sh ROOTFS_DIR OUTDIR}
out=${2:?}
: "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set}"
export SOURCE_DATE_EPOCH
e2fs=$("$HERE/install-deps.sh" --e2fs-dir)
start=$(date +%s)

# --- sizes -------------------------------------------------------------------------------------
fw_mib=$(du -sm --apparent-size "$rootfs/boot/firmware" | cut -f1)
[ "$fw_mib" -lt $((IMAGE_FAT_MIB * 85 / 100)) ] ||
    die "firmware files ($fw_mib MiB) do not fit a ${IMAGE_FAT_MIB} MiB FAT partition with room to spare"
root_mib=$(du -sm --apparent-size --exclude=./boot/firmware --exclude=./data "$rootfs" | cut -f1)
files=$(find "$rootfs" -xdev | wc -l)
# ext4 overhead: journal, inode tables (files x 256 B, at most 1 per 16 KiB
# by default), block bitmaps, reserved blocks (5%); then the free space asked for.
need_mib=$((root_mib * 110 / 100 + 64 + files / 2048 + IMAGE_ROOT_FREE_MIB))
[ "$IMAGE_SLOT_MIB" -ge "$need_mib" ] ||
    die "IMAGE_SLOT_MIB=$IMAGE_SLOT_MIB is too small for $root_mib MiB of files plus ${IMAGE_ROOT_FREE_MIB} MiB free (needs $need_mib MiB)"
parts_mib=$((4 + IMAGE_FAT_MIB + 2 * IMAGE_SLOT_MIB + IMAGE_DATA_MIB))
if [ "$IMAGE_SIZE_MIB" = auto ]; then
    size_mib=256
    while [ "$size_mib" -lt "$parts_mib" ]; do size_mib=$((size_mib * 2)); done
else
    size_mib=$IMAGE_SIZE_MIB
    [ $((size_mib & (size_mib - 1))) = 0 ] || die "IMAGE_SIZE_MIB=$size_mib is not a power of two"
    [ "$size_mib" -ge "$parts_mib" ] || die "IMAGE_SIZE_MIB=$size_mib is smaller than the partitions ($parts_mib MiB)"
fi
log "image: ${size_mib} MiB = 4 MiB + ${IMAGE_FAT_MIB} MiB FAT ($fw_mib used) + 2 x ${IMAGE_SLOT_MIB} MiB slots ($root_mib MiB of files in A) + ${IMAGE_DATA_MIB} MiB data"

# --- fixed identifiers from the seed ------------------------------------------------------
h=$(printf '%s' "$IMAGE_ID_SEED" | sha256sum | cut -c1-64)
root_uuid="${h:0:8}-${h:8:4}-4${h:13:3}-a${h:17:3}-${h:20:12}"
fat_volid="${h:32:8}"
h2=$(printf '%s-data' "$IMAGE_ID_SEED" | sha256sum | cut -c1-64)
data_uuid="${h2:0:8}-${h2:8:4}-4${h2:13:3}-a${h2:17:3}-${h2:20:12}"
disk_sig="0x${h:40:8}"

# --- genimage ----------------------------------------------------------------------------------
gw="$IMAGE_WORK/genimage"
rm -rf "$gw"
mkdir -p "$gw/tmp" "$gw/out"
img_file="$IMAGE_NAME.img"
sed -e "s/@FAT_VOLID@/$fat_volid/" -e "s/@FAT_MIB@/$IMAGE_FAT_MIB/" \
    -e "s/@ROOT_UUID@/$root_uuid/g" -e "s/@SLOT_MIB@/$IMAGE_SLOT_MIB/g" \
    -e "s/@DATA_UUID@/$data_uuid/g" -e "s/@DATA_MIB@/$IMAGE_DATA_MIB/" \
    -e "s/@FS_TIMESTAMP@/$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S)/" \
    -e "s/@DISK_SIG@/$disk_sig/" -e "s/@IMAGE_FILE@/$img_file/" \
    image/genimage.cfg.in >"$gw/genimage.cfg"
grep -q '@[A-Z_]*@' "$gw/genimage.cfg" && die "unfilled field in genimage.cfg: $(grep -o '@[A-Z_]*@' "$gw/genimage.cfg" | head -n1)"
rmdir "$gw/tmp"
if ! genimage --config "$gw/genimage.cfg" --rootpath "$rootfs" --tmppath "$gw/tmp" \
    --inputpath "$gw/out" --outputpath "$gw/out" \
    --mke2fs "$e2fs/mke2fs" --e2fsck "$e2fs/e2fsck" --tune2fs "$e2fs/tune2fs" \
    --debugfs "$e2fs/debugfs" >"$gw/genimage.log" 2>&1; then
    tail -n 30 "$gw/genimage.log" >&2
    die "genimage failed (log: $gw/genimage.log)"
fi
img="$gw/out/$img_file"
actual=$(stat -c %s "$img")
[ "$actual" -le $((size_mib * 1048576)) ] || die "genimage made $actual bytes, more than ${size_mib} MiB"
truncate -s "${size_mib}M" "$img"

# --- verify the result -----------------------------------------------------------------------
layout=$(sfdisk --dump "$img")
echo "$layout" | grep -q "label-id: $disk_sig" || die "MBR disk signature is not $disk_sig: $layout"
echo "$layout" | grep -Eq "${img_file}1 : start= *8192, size= *$((IMAGE_FAT_MIB * 2048)), type=c, bootable" ||
    die "unexpected firmware partition: $layout"
a_start=$(((4 + IMAGE_FAT_MIB) * 2048))
b_start=$((a_start + IMAGE_SLOT_MIB * 2048))
d_start=$((b_start + IMAGE_SLOT_MIB * 2048))
check_part() { # NUMBER START_SECTOR SIZE_MIB WHAT
    echo "$layout" | grep -Eq "${img_file}$1 : start= *$2, size= *$(($3 * 2048)), type=83" ||
        die "unexpected $4 partition: $layout"
}
check_part 2 "$a_start" "$IMAGE_SLOT_MIB" "slot A"
check_part 3 "$b_start" "$IMAGE_SLOT_MIB" "slot B"
check_part 4 "$d_start" "$IMAGE_DATA_MIB" data
fat_list=$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$img@@4M" ::/ | sed 's#^::/##')
for f in bootcode.bin start.elf fixup.dat config.txt u-boot.bin boot.scr bcm2836-rpi-2-b.dtb openmist.txt; do
    echo "$fat_list" | grep -qx "$f" || die "FAT partition lacks $f"
done
"$e2fs/dumpe2fs" -h "$gw/out/root.ext4" 2>/dev/null | grep -q "Filesystem volume name: *RASPIROOT" ||
    die "root filesystem label is not RASPIROOT"
"$e2fs/dumpe2fs" -h "$gw/out/data.ext4" 2>/dev/null | grep -q "Filesystem volume name: *OPENMIST-DATA" ||
    die "data filesystem label is not OPENMIST-DATA"
# The slot image is what `make bundle` signs and ships: kept next to the
# image (sparse), with its checksum.
cp --sparse=always "$gw/out/root.ext4" "$IMAGE_WORK/rootfs-slot.ext4"

# --- artifacts -------------------------------------------------------------------------------------
mkdir -p "$out"
rm -f "$out/$img_file" "$out/$img_file.xz" "$out/$img_file.bmap" "$out/$IMAGE_NAME.manifest" "$out/SHA256SUMS"
mv "$img" "$out/$img_file"
# genimage's partition files are copies of what is in the image now; drop
# them before xz runs (the build's disk peak).
rm -rf "${gw:?}/out" "$gw/tmp"
dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${Package}\t${Version}\t${Architecture}\n' |
    LC_ALL=C sort >"$out/$IMAGE_NAME.manifest"
bmaptool -q create -o "$out/$img_file.bmap" "$out/$img_file"
t=$(date +%s)
# Two threads (not -T0): xz's multi-threaded output depends on the block
# size only, so it is the same on any machine; single-threaded mode differs.
xz -T2 "-$IMAGE_XZ_LEVEL" --keep --force "$out/$img_file"
log "image: xz in $(since "$t")s"
(cd "$out" && sha256sum "$img_file" "$img_file.xz" "$img_file.bmap" "$IMAGE_NAME.manifest" >SHA256SUMS)
log "image: assembled in $(since "$start")s: $out/$img_file ($(du -m --apparent-size "$out/$img_file" | cut -f1) MiB raw, $(du -m "$out/$img_file.xz" | cut -f1) MiB xz)"
