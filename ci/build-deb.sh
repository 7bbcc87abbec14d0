#!/usr/bin/env bash
# Builds build/deb/opendcre_<version>_<arch>.deb with plain dpkg-deb.
#
# Usage: ci/build-deb.sh ARCH BINARY      (ARCH: armhf | amd64)
# Environment: DEB_OUT (output directory, default build/deb), SOURCE_DATE_EPOCH.
#
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's
# time), owners are root:root (--root-owner-group), dpkg-deb writes the tar
# members in sorted order, and xz runs single-threaded so its output does
# not depend on the core count. Building twice gives the same bytes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

[ $# -eq 2 ] || die "usage: $0 ARCH BINARY"
ARCH=$1
BIN=$2
case "$ARCH" in
armhf) elf_machine='ARM' objcopy=arm-linux-gnueabihf-objcopy ;;
amd64) elf_machine='Advanced Micro Devices X86-64' objcopy=objcopy ;;
*) die "unsupported architecture '$ARCH' (armhf or amd64)" ;;
esac
[ -f "$BIN" ] || die "binary $BIN not found (build it first: make armv7 / cargo build --release)"
readelf -h "$BIN" | grep -q "Machine: *$elf_machine" ||
    die "$BIN is not a $ARCH binary: $(readelf -h "$BIN" | grep Machine:)"
for tool in dpkg-deb help2man gzip "$objcopy"; do
    command -v "$tool" >/dev/null || die "$tool is missing: run ci/install-packaging.sh"
done

PKG=$ROOT/packaging/debian
# The version comes from the changelog (Debian practice); it must carry the
# crate's version so the binary and the package agree.
VERSION=$(sed -n '1s/^opendcre (\([^)]*\)).*/\1/p' "$PKG/changelog")
[ -n "$VERSION" ] || die "cannot read the version from $PKG/changelog"
CRATE_VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml")
case "$VERSION" in
"$CRATE_VERSION" | "$CRATE_VERSION"[-+~]*) ;;
*) die "packaging/debian/changelog version $VERSION does not match the crate version $CRATE_VERSION: add a changelog entry" ;;
esac

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) ||
        die "SOURCE_DATE_EPOCH is unset and git cannot tell the last commit time"
fi
export SOURCE_DATE_EPOCH
export TZ=UTC LC_ALL=C
umask 022

OUT=${DEB_OUT:-$ROOT/build/deb}
STAGE=$OUT/stage-$ARCH
DEB=$OUT/opendcre_${VERSION}_${ARCH}.deb
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$OUT"

# --- payload -------------------------------------------------------------------
# Cargo already stripped the symbols; .comment (compiler version strings) is
# dropped as dh_strip would.
install -d -m 0755 "$STAGE/usr/bin"
"$objcopy" --remove-section=.comment "$BIN" "$STAGE/usr/bin/opendcre"
chmod 0755 "$STAGE/usr/bin/opendcre"
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
find "$STAGE" -path "$STAGE/DEBIAN" -prune -o -type f -printf '%P\0' | sort -z |
    (cd "$STAGE" && xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" \
    -e "s/@INSTALLED_SIZE@/$installed_size/" -e "s/@DEPENDS@/$depends/" \
    "$PKG/control.in" >"$STAGE/DEBIAN/control"
install -m 0644 "$PKG/conffiles" "$STAGE/DEBIAN/conffiles"
for s in postinst prerm postrm; do
    install -m 0755 "$PKG/$s" "$STAGE/DEBIAN/$s"
done
chmod 0644 "$STAGE/DEBIAN/md5sums"

# Uniform mtimes (dpkg-deb only clamps newer ones) and directory modes.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

dpkg-deb --root-owner-group -Zxz -z9 --threads-max=1 --build "$STAGE" "$DEB" >/dev/null
log "built $DEB ($(stat -c %s "$DEB") bytes, sha256 $(sha256sum "$DEB" | cut -d' ' -f1))"
echo "$DEB"
