#!/usr/bin/env bash
# Installs, upgrades, removes and purges the amd64 .deb inside a fresh
# Debian 12 chroot (mmdebstrap minbase + adduser) and checks what the
# maintainer scripts did: service user and groups, systemd enablement without
# a running systemd, conffile handling, purge clean-up.
#
# Usage: ci/test-deb-install.sh [DEB]   (default: build/deb/opendcre_<changelog version>_amd64.deb)
# The base chroot tarball is cached in $CHROOT_CACHE (rebuilt after 7 days).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

require_root "ci/test-deb-install.sh (chroot)"
if [ $# -gt 0 ]; then
    DEB=$1
else
    DEB=$ROOT/build/deb/opendcre_$(sed -n '1s/^opendcre (\([^)]*\)).*/\1/p' "$ROOT/packaging/debian/changelog")_amd64.deb
fi
[ -f "$DEB" ] || die "$DEB not found: run 'make deb-amd64' first"
[ "$(dpkg-deb -f "$DEB" Architecture)" = "$(dpkg --print-architecture)" ] ||
    die "$DEB is not for this machine's architecture"
ensure_pkgs mmdebstrap python3 util-linux

CHROOT_CACHE=${CHROOT_CACHE:-/var/cache/opendcre-cross/chroot-bookworm-minbase.tar}
if [ ! -s "$CHROOT_CACHE" ] || [ -n "$(find "$CHROOT_CACHE" -mtime +7)" ]; then
    log "creating the Debian 12 test chroot $CHROOT_CACHE (mmdebstrap, about a minute)"
    mmdebstrap_tarball "$CHROOT_CACHE" bookworm --variant=minbase --include=adduser
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
R=$work/root
mkdir -p "$R"
tar -C "$R" -xf "$CHROOT_CACHE"
cp "$DEB" "$R/tmp/opendcre.deb"
VERSION=$(dpkg-deb -f "$DEB" Version)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The checks run inside a private mount namespace, so the /dev and /proc
# mounts of the chroot disappear with it.
cat >"$R/tmp/lifecycle.sh" <<EOF
#!/bin/bash
set -u
pass=0; fail=0
ok()  { pass=\$((pass + 1)); echo "ok   \$*"; }
bad() { fail=\$((fail + 1)); echo "FAIL \$*"; }
t() { local name=\$1; shift; if "\$@" >/tmp/t.out 2>&1; then ok "\$name"; else bad "\$name"; sed 's/^/     /' /tmp/t.out; fi; }
wants=/etc/systemd/system/multi-user.target.wants/opendcre.service

t "fresh install (dpkg -i)" dpkg -i /tmp/opendcre.deb
t "user opendcre is a system user without login" sh -c 'getent passwd opendcre | grep -q ":/nonexistent:/usr/sbin/nologin\$" && [ "\$(id -u opendcre)" -lt 1000 ]'
t "opendcre is in groups dialout and gpio" sh -c 'id -nG opendcre | tr " " "\n" | grep -qx dialout && id -nG opendcre | tr " " "\n" | grep -qx gpio'
t "group gpio was created as a system group" sh -c '[ "\$(getent group gpio | cut -d: -f3)" -lt 1000 ]'
t "unit enabled for multi-user.target" test -L \$wants
t "conffile registered" sh -c 'dpkg-query -W -f="\\\${Conffiles}" opendcre | grep -q "/etc/opendcre/opendcre.toml"'
t "binary runs" sh -c '/usr/bin/opendcre --version | grep -q "^opendcre "'
t "example emulator configurations installed" sh -c 'ls /usr/share/opendcre/emulator/*.json >/dev/null'
t "the HAT one-shot unit is installed" test -f /lib/systemd/system/opendcre-hat.service
t "hat configure without a HAT exits 3 (SuccessExitStatus of the unit)" sh -c '/usr/bin/opendcre hat configure --config /etc/opendcre/opendcre.toml; [ \$? -eq 3 ]'
t "md5sums verify" dpkg --verify opendcre

# The packaged configuration, emulator data and binary work together, as
# the service user: serve the emulator and scan it over HTTP (bash's
# /dev/tcp; the chroot has no curl).
serve_scan() {
    local emu pid i response
    emu=/usr/share/opendcre/emulator/rack.json
    setpriv --reuid=opendcre --regid=opendcre --init-groups \
        /usr/bin/opendcre serve --config /etc/opendcre/opendcre.toml \
        --emulator "\$emu" --listen 127.0.0.1:$PORT >/tmp/serve.log 2>&1 &
    pid=\$!
    for i in \$(seq 1 100); do
        if exec 3<>/dev/tcp/127.0.0.1/$PORT; then break; fi 2>/dev/null
        sleep 0.1
    done
    printf 'GET /opendcre/1.1/scan HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    response=\$(timeout 30 cat <&3)
    exec 3>&-
    kill \$pid; wait \$pid
    echo "\$response" | head -n1 | grep -q ' 200 ' && echo "\$response" | grep -q '"board_id"' ||
        { echo "\$response"; cat /tmp/serve.log; return 1; }
}
t "serve with the packaged config and emulator data, as user opendcre" serve_scan

echo '# local edit' >>/etc/opendcre/opendcre.toml
rm \$wants  # what "systemctl disable" does
t "upgrade (reinstall over $VERSION)" dpkg -i /tmp/opendcre.deb
t "upgrade keeps the edited conffile" grep -q '^# local edit' /etc/opendcre/opendcre.toml
t "upgrade keeps the administrator's disable" test ! -e \$wants
ln -s /lib/systemd/system/opendcre.service \$wants  # "systemctl enable"

t "remove (dpkg -r)" dpkg -r opendcre
t "remove deletes the binary" test ! -e /usr/bin/opendcre
t "remove keeps the conffile" test -f /etc/opendcre/opendcre.toml
t "remove masks the unit" sh -c '[ "\$(readlink /etc/systemd/system/opendcre.service)" = /dev/null ]'

mkdir -p /var/lib/opendcre && touch /var/lib/opendcre/state
t "purge (dpkg -P)" dpkg -P opendcre
t "purge removes /etc/opendcre" test ! -e /etc/opendcre
t "purge removes the state directory" test ! -e /var/lib/opendcre
t "purge removes mask and enable links" sh -c '! test -L /etc/systemd/system/opendcre.service && ! test -L /etc/systemd/system/multi-user.target.wants/opendcre.service || { ls -l /etc/systemd/system /etc/systemd/system/multi-user.target.wants; exit 1; }'
t "purge keeps the system user (uid not reused)" getent passwd opendcre

t "install after purge" dpkg -i /tmp/opendcre.deb
t "install after purge enables again" test -L \$wants
t "install after purge recreates the conffile" test -f /etc/opendcre/opendcre.toml

echo "deb-lifecycle: \$pass passed, \$fail failed"
[ "\$fail" -eq 0 ]
EOF
chmod +x "$R/tmp/lifecycle.sh"

log "testing $(basename "$DEB") in a Debian 12 chroot"
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private bash -c '
    set -e
    R=$1
    mkdir -p "$R/dev" "$R/proc"
    mount --rbind /dev "$R/dev"
    mount -t proc proc "$R/proc"
    chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 /tmp/lifecycle.sh
' _ "$R"
