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
