#!/bin/sh
# mmdebstrap customize hook: undo the deferral from essential00 and build the
# initramfs once. update-initramfs then runs raspi-firmware's post-update
# hook, which copies kernel, initrd, DTBs and the GPU firmware into
# /boot/firmware and writes config.txt and cmdline.txt from
# /etc/default/raspi-firmware (ROOTPART=LABEL=RASPIROOT, no serial console).
set -eu
root="$1"
rm -f "$root/usr/sbin/update-initramfs"
chroot "$root" dpkg-divert --quiet --local --rename \
    --divert /usr/sbin/update-initramfs.openmist-deferred --remove /usr/sbin/update-initramfs
set -- "$root"/lib/modules/*
[ $# -eq 1 ] && [ -d "$1" ] || { echo "expected exactly one kernel in /lib/modules, found: $*" >&2; exit 1; }
kver=$(basename "$1")
start=$(date +%s)
chroot "$root" update-initramfs -c -k "$kver"
echo "openmist: initramfs for $kver built in $(( $(date +%s) - start ))s" >&2
fw="$root/boot/firmware"
for f in bootcode.bin start.elf fixup.dat config.txt cmdline.txt bcm2836-rpi-2-b.dtb \
    "vmlinuz-$kver" "initrd.img-$kver"; do
    [ -s "$fw/$f" ] || { echo "raspi-firmware did not install /boot/firmware/$f" >&2; exit 1; }
done
grep -q 'root=LABEL=RASPIROOT' "$fw/cmdline.txt" || { echo "cmdline.txt lacks root=LABEL=RASPIROOT: $(cat "$fw/cmdline.txt")" >&2; exit 1; }
if grep -q 'ttyAMA0\|serial0' "$fw/cmdline.txt"; then
    echo "cmdline.txt puts a console on the HAT's UART: $(cat "$fw/cmdline.txt")" >&2; exit 1
fi
grep -qx 'enable_uart=1' "$fw/config.txt" || { echo "config.txt lacks enable_uart=1" >&2; exit 1; }
