#!/bin/sh
# mmdebstrap essential hook: defer initramfs generation to one run.
#
# Installing linux-image-armmp runs mkinitramfs from the kernel's postinst,
# and later packages (udev, kmod, ...) trigger it again. Under qemu-user each
# run takes minutes, so update-initramfs is diverted to a no-op here and
# customize10-initramfs.sh runs it exactly once with the final configuration.
set -eu
root="$1"
chroot "$root" dpkg-divert --quiet --local --rename \
    --divert /usr/sbin/update-initramfs.openmist-deferred --add /usr/sbin/update-initramfs
mkdir -p "$root/usr/sbin"
cat >"$root/usr/sbin/update-initramfs" <<'STUB'
#!/bin/sh
echo "openmist: update-initramfs $* deferred to the image's customize step" >&2
exit 0
STUB
chmod 0755 "$root/usr/sbin/update-initramfs"
