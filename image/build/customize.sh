#!/usr/bin/env bash
# Stage 2 of the image build: the OpenMistOS root filesystem tree.
#
#   image/build/customize.sh BASE_TARBALL ARCHIVE_DIR ROOTFS_DIR
#
# Unpacks the cached base layer, applies overlays/ (plain files laid out like
# the target filesystem), installs the OpenDCRE service .deb (OPENDCRE_DEB),
# sets unit states from image/units.txt, writes the per-image identity
# (hostname, apt sources, release file) and resets everything a card must make
# for itself (machine id, SSH host keys). Then it checks the security and
# Pi invariants and fails the build if one does not hold.
#
# Runs with SOURCE_DATE_EPOCH from git; only `dpkg -i` of the service
# package runs inside the chroot (qemu-user), everything else is host-side.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

base=${1:?usage: customize.sh BASE_TARBALL ARCHIVE_DIR ROOTFS_DIR}
archive=${2:?}
rootfs=${3:?}
: "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set (git commit time)}"
: "${IMAGE_VERSION:?IMAGE_VERSION must be set}"
: "${IMAGE_COMMIT:?IMAGE_COMMIT must be set}"
: "${IMAGE_UBOOT_BIN:?IMAGE_UBOOT_BIN must be set (image/build/fetch-uboot.sh)}"
start=$(date +%s)

rm -rf "$rootfs"
mkdir -p "$rootfs"
tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$base" -C "$rootfs"

# --- overlays -------------------------------------------------------------------
# Files are owned by root whatever the checkout's owner; existing directories
# keep their metadata (--no-overwrite-dir), so /etc stays 0755 root.
tar -C overlays --owner=0 --group=0 --numeric-owner -cf - . |
    tar -C "$rootfs" --no-overwrite-dir -xf -
mkdir -p "$rootfs/usr/share/doc/openmist"
cp image/README.md "$rootfs/usr/share/doc/openmist/README.md"

# --- the OpenDCRE service package -------------------------------------------------
deb_name=""
if [ "$OPENDCRE_DEB" != none ]; then
    [ -f "$OPENDCRE_DEB" ] || die "OPENDCRE_DEB=$OPENDCRE_DEB does not exist (run \`make deb\`, or OPENDCRE_DEB=none for an image without the service)"
    deb_arch=$(dpkg-deb -f "$OPENDCRE_DEB" Architecture)
    [ "$deb_arch" = "$IMAGE_ARCH" ] || die "$OPENDCRE_DEB is for $deb_arch, the image is $IMAGE_ARCH"
    deb_name=$(dpkg-deb -f "$OPENDCRE_DEB" Package)
    log "installing $(basename "$OPENDCRE_DEB") in the image"
    cp "$OPENDCRE_DEB" "$rootfs/tmp/service.deb"
    # No daemon may start inside the build chroot.
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
    if ! chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" DEBIAN_FRONTEND=noninteractive \
        dpkg -i /tmp/service.deb >"$IMAGE_WORK/dpkg-service.log" 2>&1; then
        cat "$IMAGE_WORK/dpkg-service.log" >&2
        die "dpkg -i $(basename "$OPENDCRE_DEB") failed in the image (are its dependencies in image/packages.txt?)"
    fi
    rm -f "$rootfs/tmp/service.deb" "$rootfs/usr/sbin/policy-rc.d"
fi

# --- updates through the API: on in the image (RAUC, a data partition) ---------------
if [ -n "$deb_name" ]; then
    sed -i '/^\[update\]/,/^\[/ s/^enabled = false$/enabled = true/' "$rootfs/etc/opendcre/opendcre.toml"
    # Redfish Manager.Reset: the request file opendcre-reboot.path watches.
    sed -i '/^\[manager\]/,/^\[/ s/^reset_enabled = false$/reset_enabled = true/' "$rootfs/etc/opendcre/opendcre.toml"
    # Redfish PATCH of the node's network settings: the request file
    # openmist-network.path watches, the summary apply-settings writes.
    sed -i '/^\[manager\]/,/^\[/ s|^network_request = ""$|network_request = "/run/opendcre/network-request"|' "$rootfs/etc/opendcre/opendcre.toml"
    sed -i '/^\[manager\]/,/^\[/ s|^network_state = ""$|network_state = "/run/openmist/network.env"|' "$rootfs/etc/opendcre/opendcre.toml"
    # Redfish tasks kept on the data partition: a client polling an update's
    # task across the reboot still finds it.
    sed -i '/^\[manager\]/,/^\[/ s|^# tasks = "/var/lib/opendcre/tasks.json"$|tasks = "/var/lib/opendcre/tasks.json"|' "$rootfs/etc/opendcre/opendcre.toml"
fi

# --- DNS-SD announcement: the software version in the TXT record -------------------
avahi_svc="$rootfs/etc/avahi/services/opendcre.service"
if [ -n "$deb_name" ]; then
    svc_version=$(dpkg-deb -f "$OPENDCRE_DEB" Version)
else
    svc_version=$IMAGE_VERSION
fi
sed -i "s/@OPENDCRE_VERSION@/$svc_version/" "$avahi_svc"

# --- unit states ---------------------------------------------------------------------
units=$(grep -v '^[[:space:]]*\(#\|$\)' image/units.txt)
if [ -n "$deb_name" ]; then
    units="$units
enable $deb_name.service
enable openmist-mark-good.service
enable opendcre-reboot.path
enable openmist-network.path"
fi
while read -r verb unit; do
    case "$verb" in
    enable | disable | mask) ;;
    *) die "image/units.txt: unknown verb '$verb'" ;;
    esac
    systemctl --root="$rootfs" --quiet "$verb" "$unit" ||
        die "systemctl $verb $unit failed in the image"
done <<<"$units"

# --- identity -------------------------------------------------------------------------
echo "$IMAGE_HOSTNAME" >"$rootfs/etc/hostname"
cat >"$rootfs/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.1.1	$IMAGE_HOSTNAME
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# Every source, also one the build had to leave out: the node updates from it.
cp "$archive/sources.image" "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/openmist-release" <<EOF
NAME="OpenMistOS"
VERSION="$IMAGE_VERSION"
GIT_COMMIT="$IMAGE_COMMIT"
BUILD_DATE="$(date -u -d "@$SOURCE_DATE_EPOCH" +%FT%TZ)"
DEBIAN_SUITE="$IMAGE_SUITE"
BOARD="Raspberry Pi 2 Model B"
EOF

# --- A/B boot: U-Boot on the FAT partition, kernel, initrd and DTB in the slot ----
# The FAT partition holds what the Pi firmware needs to start U-Boot
# (bootcode.bin, start.elf, fixup.dat, the DTB it passes on), U-Boot, the A/B
# boot script and the settings file. The kernel and initrd live in each slot
# (/boot), so a slot update replaces them with the root file system.
fw="$rootfs/boot/firmware"
rm -f "$fw"/vmlinuz-* "$fw"/initrd.img-* "$fw/cmdline.txt"
install -m 0644 "$IMAGE_UBOOT_BIN" "$fw/u-boot.bin"
mkimage -A arm -O linux -T script -C none -n "OpenMistOS A/B boot" \
    -d image/uboot/boot.cmd "$fw/boot.scr" >"$IMAGE_WORK/mkimage.log" ||
    die "mkimage of image/uboot/boot.cmd failed: $(cat "$IMAGE_WORK/mkimage.log")"
# raspi-firmware's hooks would copy the next kernel to the FAT partition and
# rewrite config.txt (kernel= the kernel, not U-Boot) from inside one slot:
# the slot would change how the other one boots. They are conffiles, so dpkg
# leaves them deleted on upgrades.
rm -f "$rootfs/etc/kernel/postinst.d/z50-raspi-firmware" "$rootfs/etc/kernel/postrm.d/z50-raspi-firmware" \
    "$rootfs/etc/initramfs/post-update.d/z50-raspi-firmware"
set -- "$rootfs"/boot/vmlinuz-*
[ $# -eq 1 ] && [ -f "$1" ] || die "expected exactly one kernel in /boot, found: $*"
kver=${1##*/vmlinuz-}
ln -sfn "vmlinuz-$kver" "$rootfs/boot/vmlinuz"
ln -sfn "initrd.img-$kver" "$rootfs/boot/initrd.img"
ln -sfn "../usr/lib/linux-image-$kver/bcm2836-rpi-2-b.dtb" "$rootfs/boot/openmist.dtb"
# RAUC: the keyring this image trusts; the data partition's mount point.
install -m 0644 "$IMAGE_RAUC_KEYRING" "$rootfs/etc/rauc/keyring.pem"
mkdir -p "$rootfs/data"
sed -i "s/^compatible=.*/compatible=$IMAGE_COMPATIBLE/" "$rootfs/etc/rauc/system.conf"

# --- per-card state: made on the device -------------------------------------------------
printf 'uninitialized\n' >"$rootfs/etc/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_* "$rootfs/var/lib/dbus/machine-id" \
    "$rootfs/var/lib/systemd/random-seed" "$rootfs/var/lib/systemd/credential.secret"
# Root is locked ("!" prefix); nobody has a password. Log in with SSH keys.
sed -i 's/^root:[^:]*:/root:!*:/' "$rootfs/etc/shadow"
# The Pi has no RTC: systemd sets the clock to at least the mtime of
# /usr/lib/clock-epoch at boot, timesyncd to that of its clock file.
touch -d "@$SOURCE_DATE_EPOCH" "$rootfs/usr/lib/clock-epoch"
mkdir -p "$rootfs/var/lib/systemd/timesync"
touch -d "@$SOURCE_DATE_EPOCH" "$rootfs/var/lib/systemd/timesync/clock"
ts_uid=$(awk -F: '$1=="systemd-timesync"{print $3}' "$rootfs/etc/passwd")
[ -n "$ts_uid" ] && chown "$ts_uid:$ts_uid" "$rootfs/var/lib/systemd/timesync" "$rootfs/var/lib/systemd/timesync/clock"
# /etc and /var are as new as /usr: the package scripts built the linker
# cache, hwdb, users and journal catalog. Without these stamps (what
# systemd-update-done writes) the ConditionNeedsUpdate= units redo that at
# the first boot; ldconfig.service alone took 1.5 min of a trixie boot under
# QEMU. Their mtime is newer than every clamped one below /usr.
touch -d "@$SOURCE_DATE_EPOCH" "$rootfs/etc/.updated" "$rootfs/var/.updated"
# The downloaded .debs too (80 MiB on trixie, already compressed, so as much
# again in the .xz): mmdebstrap leaves the ones its apt stage fetched.
rm -rf "${rootfs:?}"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/archives/partial/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
    "$rootfs"/etc/passwd- "$rootfs"/etc/group- "$rootfs"/etc/shadow- "$rootfs"/etc/gshadow-
find "$rootfs/var/log" -type f -delete

# --- invariants ----------------------------------------------------------------------------
fail=0
bad() { warn "image check: $*"; fail=1; }
# No account may have a usable password or an empty one.
awk -F: '$2 !~ /^[!*]/ {print $1}' "$rootfs/etc/shadow" | while read -r u; do
    echo "account $u has a password or an empty password field" >&2
done | grep -q . && bad "accounts with passwords (see above)"
ls "$rootfs"/etc/ssh/ssh_host_* >/dev/null 2>&1 && bad "SSH host keys baked into the image"
[ "$(readlink "$rootfs/etc/systemd/system/serial-getty@ttyAMA0.service")" = /dev/null ] ||
    bad "serial-getty@ttyAMA0 is not masked"
bootenv="$rootfs/boot/openmist-boot.env"
bootargs=$(sed -n 's/^openmist_bootargs=//p' "$bootenv" 2>/dev/null)
[ -n "$bootargs" ] || bad "no openmist_bootargs= in /boot/openmist-boot.env"
grep -Eq 'console=(ttyAMA0|serial0)' <<<"$bootargs" && bad "the slot's command line has a console on the HAT UART"
grep -q 'iomem=relaxed' <<<"$bootargs" || bad "the slot's command line lacks iomem=relaxed (opendcre-hat.service needs /dev/mem for GPIO)"
grep -qw 'root=[^ ]*' <<<"$bootargs" && bad "the slot's command line names a root (boot.scr adds the slot's)"
grep -qx 'enable_uart=1' "$fw/config.txt" || bad "config.txt lacks enable_uart=1"
[ "$(sed -n 's/^kernel=//p' "$fw/config.txt" | tail -n1)" = u-boot.bin ] || bad "config.txt does not start U-Boot (kernel=u-boot.bin)"
grep -q '^initramfs' "$fw/config.txt" && bad "config.txt loads an initramfs (U-Boot loads the slot's)"
for f in u-boot.bin boot.scr bootcode.bin start.elf fixup.dat bcm2836-rpi-2-b.dtb; do
    [ -s "$fw/$f" ] || bad "no $f on the FAT partition"
done
ls "$fw"/vmlinuz-* "$fw"/initrd.img-* >/dev/null 2>&1 && bad "a kernel or initrd on the FAT partition (they belong to the slots)"
for f in vmlinuz initrd.img openmist.dtb; do
    [ -s "$rootfs/boot/$f" ] || bad "/boot/$f does not lead to a file in the slot"
done
ls "$rootfs"/etc/kernel/postinst.d/z50-raspi-firmware "$rootfs"/etc/initramfs/post-update.d/z50-raspi-firmware >/dev/null 2>&1 &&
    bad "raspi-firmware's hooks are still in the slot"
[ -s "$rootfs/etc/rauc/keyring.pem" ] || bad "no RAUC keyring"
grep -q '^bootloader=uboot' "$rootfs/etc/rauc/system.conf" || bad "RAUC is not set up for U-Boot"
grep -q '/etc/machine-id *machine-id' "$rootfs/etc/openmist/persistent.conf" || bad "the machine id is not kept on the data partition"
[ -s "$fw/openmist.txt" ] || bad "no settings file /boot/firmware/openmist.txt"
grep -qx uninitialized "$rootfs/etc/machine-id" || bad "machine-id is not 'uninitialized'"
# A line of the service configuration's [manager] table.
manager_has() { sed -n '/^\[manager\]/,/^\[/p' "$rootfs/etc/opendcre/opendcre.toml" | grep -qx "$1"; }
if [ -n "$deb_name" ]; then
    ls "$rootfs"/etc/systemd/system/multi-user.target.wants/"$deb_name".service >/dev/null 2>&1 ||
        bad "$deb_name.service is not enabled"
    sed -n '/^\[update\]/,/^\[/p' "$rootfs/etc/opendcre/opendcre.toml" | grep -qx 'enabled = true' ||
        bad "the service's [update] (Redfish UpdateService) is not enabled in /etc/opendcre/opendcre.toml"
    manager_has 'reset_enabled = true' ||
        bad "the service's [manager] reset_enabled (Redfish Manager.Reset) is not on in /etc/opendcre/opendcre.toml"
    manager_has 'tasks = "/var/lib/opendcre/tasks.json"' ||
        bad "the service's [manager] tasks (Redfish tasks kept across restarts) is not on in /etc/opendcre/opendcre.toml"
    ls "$rootfs"/etc/systemd/system/multi-user.target.wants/opendcre-reboot.path >/dev/null 2>&1 ||
        bad "opendcre-reboot.path is not enabled (Manager.Reset would never restart the node)"
    manager_has 'network_request = "/run/opendcre/network-request"' ||
        bad "the service's [manager] network_request (Redfish network settings) is not set in /etc/opendcre/opendcre.toml"
    manager_has 'network_state = "/run/openmist/network.env"' ||
        bad "the service's [manager] network_state is not set in /etc/opendcre/opendcre.toml"
    ls "$rootfs"/etc/systemd/system/multi-user.target.wants/openmist-network.path >/dev/null 2>&1 ||
        bad "openmist-network.path is not enabled (Redfish network settings would never apply)"
    ls "$rootfs"/etc/systemd/system/multi-user.target.wants/openmist-opendcre-security.service >/dev/null 2>&1 ||
        bad "openmist-opendcre-security.service is not enabled (the service would refuse every request)"
fi
# The node announces its API on the LAN (discovery, issue 15).
grep -q '<type>_opendcre._tcp</type>' "$avahi_svc" 2>/dev/null || bad "no _opendcre._tcp DNS-SD service in /etc/avahi/services"
grep -q '@OPENDCRE_VERSION@' "$avahi_svc" && bad "the DNS-SD service file still has its version placeholder"
ls "$rootfs"/etc/systemd/system/multi-user.target.wants/avahi-daemon.service >/dev/null 2>&1 ||
    bad "avahi-daemon.service is not enabled (the node would not be discoverable)"
# Every card makes its own certificate and token at first boot.
for f in "$rootfs"/etc/opendcre/security.toml "$rootfs"/etc/opendcre/api-token "$rootfs"/etc/opendcre/tls/* \
    "$rootfs"/etc/opendcre/incoming/* \
    "$rootfs"/root/opendcre-api-token; do
    [ -e "$f" ] && bad "API security material baked into the image: ${f#"$rootfs"}"
done
[ "$fail" = 0 ] || die "the image tree violates the checks above"
log "rootfs tree ready in $(since "$start")s: $(du -sm --exclude=./boot/firmware "$rootfs" | cut -f1) MiB root, $(du -sm "$rootfs/boot/firmware" | cut -f1) MiB firmware"
