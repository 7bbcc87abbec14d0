#!/usr/bin/env bash
# Builds build/deb/opendcre_<version>_<arch>.deb with plain dpkg-deb.
#
# Usage: ci/build-deb.sh ARCH BINARY      (ARCH: armhf | amd64)
# Environment: DEB_OUT (output directory, default build/deb), SOURCE_DATE_EPOCH.
#
# Reproducible (ci/deb-lib.sh says how): building twice gives the same bytes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"
# shellcheck source=ci/deb-lib.sh
. "$HERE/deb-lib.sh"

[ $# -eq 2 ] || die "usage: $0 ARCH BINARY"
ARCH=$1
BIN=$2
PKG=$ROOT/packaging/debian
deb_begin opendcre "$ARCH" "$BIN" "$PKG" help2man

# --- payload -------------------------------------------------------------------
deb_install_binary "$BIN" opendcre
install -D -m 0644 "$ROOT/firmware-api/config/opendcre.toml" "$STAGE/etc/opendcre/opendcre.toml"
install -D -m 0644 "$ROOT/systemd/opendcre.service" "$STAGE/lib/systemd/system/opendcre.service"
install -m 0644 "$ROOT/systemd/opendcre-hat.service" "$STAGE/lib/systemd/system/opendcre-hat.service"
install -D -m 0644 "$PKG/udev.rules" "$STAGE/lib/udev/rules.d/60-opendcre-gpio.rules"
install -d -m 0755 "$STAGE/usr/share/opendcre/emulator"
shopt -s nullglob
emulator_configs=("$ROOT"/firmware-api/emulator-configs/*.json)
shopt -u nullglob
for f in "${emulator_configs[@]}"; do
    install -m 0644 "$f" "$STAGE/usr/share/opendcre/emulator/"
done
[ "${#emulator_configs[@]}" -gt 0 ] ||
    warn "no firmware-api/emulator-configs/*.json yet: /usr/share/opendcre/emulator stays empty"
DOC=$STAGE/usr/share/doc/opendcre
install -D -m 0644 "$PKG/copyright" "$DOC/copyright"
install -D -m 0644 "$PKG/lintian-overrides" "$STAGE/usr/share/lintian/overrides/opendcre"
install -m 0644 "$ROOT/packaging/README.md" "$DOC/README.packaging.md"
# Every [tls]/[auth] key documented: what an operator edits on the node.
install -m 0644 "$ROOT/firmware-api/config/security-example.toml" "$DOC/security-example.toml"
gzip -9n <"$PKG/changelog" >"$DOC/changelog.gz"
chmod 0644 "$DOC/changelog.gz"

# Manual page from the binary's own --help/--version, so it cannot drift from
# the CLI. An armhf binary runs under qemu-arm (help2man honours
# SOURCE_DATE_EPOCH for the date in the page).
run_bin=("$BIN")
if [ "$ARCH" = armhf ] && [ "$(uname -m)" != armv7l ]; then
    command -v qemu-arm-static >/dev/null || die "qemu-arm-static is missing: run ci/install-packaging.sh"
    # help2man names the page after the program it runs: call it opendcre.
    wrapdir=$(mktemp -d)
    printf '#!/bin/sh\nexec qemu-arm-static -L /usr/arm-linux-gnueabihf %q "$@"\n' "$(readlink -f "$BIN")" >"$wrapdir/opendcre"
    chmod +x "$wrapdir/opendcre"
    run_bin=("$wrapdir/opendcre")
fi
install -d -m 0755 "$STAGE/usr/share/man/man1"
help2man --no-info --name="OpenDCRE data-center runtime" --section=1 \
    --version-string="$VERSION" "${run_bin[@]}" |
    sed "s#$(dirname "${run_bin[0]}")/##g" | gzip -9n >"$STAGE/usr/share/man/man1/opendcre.1.gz"
chmod 0644 "$STAGE/usr/share/man/man1/opendcre.1.gz"
[ -z "${wrapdir:-}" ] || rm -rf "$wrapdir"

# --- dependencies from the binary's ELF version needs ---------------------------
libs=$(deb_elf_depends "$BIN")
depends="adduser${libs:+, $libs}"

# --- control files --------------------------------------------------------------
deb_control "$PKG" "$ARCH" "$depends"
install -m 0644 "$PKG/conffiles" "$STAGE/DEBIAN/conffiles"
for s in postinst prerm postrm; do
    install -m 0755 "$PKG/$s" "$STAGE/DEBIAN/$s"
done
deb_pack
