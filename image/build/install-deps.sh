#!/usr/bin/env bash
# Installs what `make image` and `make boot-test` need on the build host
# (Debian 12 amd64, root):
#   * mmdebstrap + arch-test + qemu-user-static, and a registered qemu-arm
#     binfmt_misc handler with the F flag (the armhf chroot runs through it)
#   * genimage, mtools, dosfstools, fdisk: image assembly without loop mounts
#     (the host kernel has no VFAT, so nothing may mount the FAT partition)
#   * qemu-system-arm, device-tree-compiler (fdtput), openssh-client, curl,
#     openssl: the boot test (it reads the node's certificate)
#   * bmap-tools, xz-utils: release artifacts
#   * systemd (the host's `systemctl --root` sets the image's unit states) and
#     git (SOURCE_DATE_EPOCH, build-info.txt): a minimal Debian 12 container
#     has neither
#   * e2fsprogs >= 1.47.2 unpacked privately (see below)
#
# e2fsprogs: bookworm's 1.47.0 copies host inode times into `mke2fs -d`
# images, so two builds never match. 1.47.2 (bookworm-backports) clamps every
# inode time to SOURCE_DATE_EPOCH. It is unpacked under $IMAGE_TOOLS_DIR with
# wrapper scripts instead of being installed, so the host's own e2fsprogs
# (used by other jobs on the machine) stays as it is. The backports source
# uses the host's own Debian mirror (read from apt), not a hard-coded host.
#
# Usage: image/build/install-deps.sh            install (idempotent)
#        image/build/install-deps.sh --e2fs-dir print the private e2fsprogs bin dir
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

IMAGE_TOOLS_DIR=${IMAGE_TOOLS_DIR:-$IMAGE_CACHE_DIR/tools}
E2FS_MIN=1.47.2
E2FS_DIR="$IMAGE_TOOLS_DIR/e2fsprogs"

e2fs_ok() {
    [ -x "$E2FS_DIR/bin/mke2fs" ] || return 1
    local v
    v=$("$E2FS_DIR/bin/mke2fs" -V 2>&1 | awk '/^mke2fs/{print $2; exit}')
    [ -n "$v" ] && dpkg --compare-versions "$v" ge "$E2FS_MIN"
}

if [ "${1:-}" = "--e2fs-dir" ]; then
    e2fs_ok || die "private e2fsprogs >= $E2FS_MIN missing; run image/build/install-deps.sh"
    echo "$E2FS_DIR/bin"
    exit 0
fi

require_root "image/build/install-deps.sh"

ensure_pkgs mmdebstrap arch-test qemu-user-static genimage mtools dosfstools fdisk \
    qemu-system-arm device-tree-compiler bmap-tools xz-utils zstd curl ca-certificates \
    openssh-client openssl python3 e2fsprogs debian-archive-keyring gpgv systemd git \
    u-boot-tools rauc squashfs-tools faketime

# --- binfmt_misc: qemu-arm with the F flag ----------------------------------
# The F (fix binary) flag makes the kernel open the interpreter at
# registration time, so it works inside the chroot without copying it there.
# On a fresh machine (a container without systemd-binfmt, a host where
# binfmt-support never ran) binfmt_misc may be unmounted, switched off, or
# hold a qemu-arm entry without the F flag; each is put right here.
BINFMT=/proc/sys/fs/binfmt_misc
QEMU_ARM_CONF=/usr/lib/binfmt.d/qemu-arm.conf # from qemu-user-static, flags OPF
if [ ! -e "$BINFMT/register" ]; then
    log "mounting binfmt_misc"
    if ! grep -qw binfmt_misc /proc/filesystems; then
        modprobe binfmt_misc 2>/dev/null || true
    fi
    mount -t binfmt_misc binfmt_misc "$BINFMT" ||
        die "cannot mount binfmt_misc on $BINFMT (the kernel needs CONFIG_BINFMT_MISC; a container needs the host to have it mounted or to allow the mount)"
fi
if [ "$(cat "$BINFMT/status")" != enabled ]; then
    log "enabling binfmt_misc"
    echo 1 >"$BINFMT/status" || die "cannot enable binfmt_misc ($BINFMT/status)"
fi
if [ -e "$BINFMT/qemu-arm" ] && ! grep -q '^flags: .*F' "$BINFMT/qemu-arm"; then
    log "qemu-arm is registered without the F flag; registering it again with it"
    echo -1 >"$BINFMT/qemu-arm" || die "cannot remove the qemu-arm entry without the F flag"
fi
if [ ! -e "$BINFMT/qemu-arm" ]; then
    [ -f "$QEMU_ARM_CONF" ] || die "$QEMU_ARM_CONF missing (qemu-user-static not installed?)"
    log "registering qemu-arm in binfmt_misc"
    cat "$QEMU_ARM_CONF" >"$BINFMT/register" || die "cannot register qemu-arm from $QEMU_ARM_CONF"
fi
if ! grep -q '^enabled' "$BINFMT/qemu-arm"; then
    log "enabling the qemu-arm entry"
    echo 1 >"$BINFMT/qemu-arm" || die "binfmt qemu-arm is registered but disabled, and cannot be enabled"
fi
interp=$(sed -n 's/^interpreter //p' "$BINFMT/qemu-arm")
[ -x "$interp" ] || die "binfmt qemu-arm names the interpreter '$interp', which does not exist"
grep -q '^flags: .*F' "$BINFMT/qemu-arm" ||
    die "binfmt qemu-arm lacks the F flag; the chroot cannot find the interpreter"
arch-test armhf >/dev/null || die "arch-test: this host cannot execute armhf binaries"

# --- private e2fsprogs >= 1.47.2 ---------------------------------------------
if e2fs_ok; then
    log "private e2fsprogs: $("$E2FS_DIR/bin/mke2fs" -V 2>&1 | head -n1)"
    exit 0
fi

host_v=$(dpkg-query -W -f='${Version}' e2fsprogs)
if dpkg --compare-versions "$host_v" ge "$E2FS_MIN"; then
    # A newer host (trixie) already has it: wrap the system binaries.
    src_root=/
else
    # The URI the host's own sources use for bookworm (--print-uris needs no
    # downloaded lists, so this works on a fresh machine too).
    mirror=$(apt-get update --print-uris 2>/dev/null |
        sed -n "s#^'\(.*\)/dists/bookworm/InRelease'.*#\1/#p" | awk 'NR == 1')
    [ -n "$mirror" ] || die "cannot find the host's bookworm mirror in apt's sources"
    view="$IMAGE_TOOLS_DIR/apt-bpo"
    mkdir -p "$view/lists/partial" "$view/cache/archives/partial" "$view/debs"
    echo "deb $mirror bookworm-backports main" >"$view/sources.list"
    APTV=(-o "Dir::Etc::SourceList=$view/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$view/lists" -o "Dir::Cache=$view/cache"
        -o Dir::State::status=/dev/null -o APT::Architectures::=amd64)
    log "fetching e2fsprogs >= $E2FS_MIN from bookworm-backports ($mirror)"
    apt_update_retry "${APTV[@]}" || die "apt-get update of bookworm-backports failed (see above)"
    v=$(apt-cache "${APTV[@]}" policy e2fsprogs | awk '/Candidate:/{print $2}')
    dpkg --compare-versions "$v" ge "$E2FS_MIN" ||
        die "bookworm-backports offers e2fsprogs $v, need >= $E2FS_MIN"
    rm -f "$view/debs"/*.deb
    (cd "$view/debs" && apt-get "${APTV[@]}" download \
        "e2fsprogs=$v" "libext2fs2=$v" "libcom-err2=$v" "libss2=$v") ||
        die "downloading e2fsprogs $v failed"
    src_root="$view/root"
    rm -rf "$src_root"
    for deb in "$view/debs"/*.deb; do dpkg-deb -x "$deb" "$src_root"; done
fi

rm -rf "$E2FS_DIR.new"
mkdir -p "$E2FS_DIR.new/bin"
libdir="$src_root/lib/x86_64-linux-gnu:$src_root/usr/lib/x86_64-linux-gnu"
for tool in mke2fs e2fsck tune2fs debugfs resize2fs dumpe2fs; do
    bin="$src_root/sbin/$tool"
    [ -x "$bin" ] || bin="$src_root/usr/sbin/$tool"
    [ -x "$bin" ] || die "$tool not found in the e2fsprogs package"
    # MKE2FS_CONFIG pins the feature defaults to this e2fsprogs version's
    # own mke2fs.conf, so the host's /etc/mke2fs.conf cannot change the image.
    cat >"$E2FS_DIR.new/bin/$tool" <<WRAP
#!/bin/sh
LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" \\
MKE2FS_CONFIG="$src_root/etc/mke2fs.conf" exec "$bin" "\$@"
WRAP
    chmod +x "$E2FS_DIR.new/bin/$tool"
done
rm -rf "$E2FS_DIR"
mv "$E2FS_DIR.new" "$E2FS_DIR"
e2fs_ok || die "private e2fsprogs does not run"
log "private e2fsprogs: $("$E2FS_DIR/bin/mke2fs" -V 2>&1 | head -n1) in $E2FS_DIR/bin"
