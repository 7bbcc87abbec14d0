#!/bin/sh
# mmdebstrap customize hook: drop per-build state from the base layer so two
# builds of the same archive state give the same tarball (host keys and
# machine ids are made on the device at first boot).
set -eu
root="$1"
rm -f "$root"/etc/ssh/ssh_host_*_key "$root"/etc/ssh/ssh_host_*_key.pub
printf 'uninitialized\n' >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root/var/lib/systemd/random-seed" \
    "$root/var/lib/systemd/credential.secret"
rm -f "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
    "$root"/etc/passwd- "$root"/etc/group- "$root"/etc/shadow- "$root"/etc/gshadow- \
    "$root"/etc/subuid- "$root"/etc/subgid-
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/log/journal/* "$root"/tmp/* "$root"/var/tmp/*
find "$root/var/log" -type f -delete
# apt's partial directories are _apt's when apt could drop to _apt while
# downloading and root's when it could not (a build directory _apt may not
# enter): the same result either way, the owner apt itself sets on the node.
apt_uid=$(awk -F: '$1 == "_apt" {print $3}' "$root/etc/passwd")
for d in "$root/var/cache/apt/archives/partial" "$root/var/lib/apt/lists/partial"; do
    if [ -n "$apt_uid" ] && [ -d "$d" ]; then chown "$apt_uid:0" "$d"; fi
done
