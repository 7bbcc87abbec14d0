#!/usr/bin/env bash
# Builds build/deb/opendcre-cli_<version>_<arch>.deb, the operators' client,
# with plain dpkg-deb. A package of its own: operators install it on their
# machines without the service, its user, units and udev rule.
#
# Usage: ci/build-deb-cli.sh ARCH BINARY      (ARCH: armhf | amd64)
# Environment: DEB_OUT (output directory, default build/deb), SOURCE_DATE_EPOCH.
#
# Reproducible the same way as ci/build-deb.sh: every mtime is
# SOURCE_DATE_EPOCH (default: the last commit's time), root:root owners,
# sorted tar members, single-threaded xz. The man page and completions come
# from the binary itself (`opendcre-cli man`, `completions SHELL`), which
# prints no date, so they are the same bytes on every build.
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
[ -f "$BIN" ] || die "binary $BIN not found (build it first: make armv7 / cargo build --release -p opendcre-cli)"
readelf -h "$BIN" | grep -q "Machine: *$elf_machine" ||
    die "$BIN is not a $ARCH binary: $(readelf -h "$BIN" | grep Machine:)"
for tool in dpkg-deb gzip "$objcopy"; do
    command -v "$tool" >/dev/null || die "$tool is missing: run ci/install-packaging.sh"
done

PKG=$ROOT/packaging/opendcre-cli
VERSION=$(sed -n '1s/^opendcre-cli (\([^)]*\)).*/\1/p' "$PKG/changelog")
[ -n "$VERSION" ] || die "cannot read the version from $PKG/changelog"
CRATE_VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml")
case "$VERSION" in
"$CRATE_VERSION" | "$CRATE_VERSION"[-+~]*) ;;
*) die "packaging/opendcre-cli/changelog version $VERSION does not match the crate version $CRATE_VERSION: add a changelog entry" ;;
esac

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) ||
        die "SOURCE_DATE_EPOCH is unset and git cannot tell the last commit time"
fi
export SOURCE_DATE_EPOCH
export TZ=UTC LC_ALL=C
umask 022

OUT=${DEB_OUT:-$ROOT/build/deb}
STAGE=$OUT/stage-cli-$ARCH
DEB=$OUT/opendcre-cli_${VERSION}_${ARCH}.deb
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$OUT"

# The binary prints its own man page and completions; an armhf one runs
# under qemu-arm.
run_bin=("$BIN")
if [ "$ARCH" = armhf ] && [ "$(uname -m)" != armv7l ]; then
    command -v qemu-arm-static >/dev/null || die "qemu-arm-static is missing: run ci/install-packaging.sh"
    run_bin=(qemu-arm-static -L /usr/arm-linux-gnueabihf "$BIN")
fi

# --- payload -------------------------------------------------------------------
install -d -m 0755 "$STAGE/usr/bin"
"$objcopy" --remove-section=.comment "$BIN" "$STAGE/usr/bin/opendcre-cli"
chmod 0755 "$STAGE/usr/bin/opendcre-cli"

install -d -m 0755 "$STAGE/usr/share/man/man1"
"${run_bin[@]}" man | gzip -9n >"$STAGE/usr/share/man/man1/opendcre-cli.1.gz"
install -d -m 0755 "$STAGE/usr/share/bash-completion/completions" \
    "$STAGE/usr/share/zsh/vendor-completions" "$STAGE/usr/share/fish/vendor_completions.d"
"${run_bin[@]}" completions bash >"$STAGE/usr/share/bash-completion/completions/opendcre-cli"
"${run_bin[@]}" completions zsh >"$STAGE/usr/share/zsh/vendor-completions/_opendcre-cli"
"${run_bin[@]}" completions fish >"$STAGE/usr/share/fish/vendor_completions.d/opendcre-cli.fish"
for f in "$STAGE/usr/share/man/man1/opendcre-cli.1.gz" \
    "$STAGE/usr/share/bash-completion/completions/opendcre-cli" \
    "$STAGE/usr/share/zsh/vendor-completions/_opendcre-cli" \
    "$STAGE/usr/share/fish/vendor_completions.d/opendcre-cli.fish"; do
    [ -s "$f" ] || die "$BIN printed nothing for $(basename "$f")"
    chmod 0644 "$f"
done

DOC=$STAGE/usr/share/doc/opendcre-cli
install -D -m 0644 "$ROOT/packaging/debian/copyright" "$DOC/copyright"
install -D -m 0644 "$PKG/lintian-overrides" "$STAGE/usr/share/lintian/overrides/opendcre-cli"
gzip -9n <"$PKG/changelog" >"$DOC/changelog.gz"
chmod 0644 "$DOC/changelog.gz"

# --- control files --------------------------------------------------------------
depends=$(deb_elf_depends "$BIN")
[ -n "$depends" ] || die "$BIN needs no shared library: unexpected for a glibc build"
find "$STAGE" -path "$STAGE/DEBIAN" -prune -o -type f -printf '%P\0' | sort -z |
    (cd "$STAGE" && xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/md5sums"
installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" \
    -e "s/@INSTALLED_SIZE@/$installed_size/" -e "s/@DEPENDS@/$depends/" \
    "$PKG/control.in" >"$STAGE/DEBIAN/control"

find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

dpkg-deb --root-owner-group -Zxz -z9 --threads-max=1 --build "$STAGE" "$DEB" >/dev/null
log "built $DEB ($(stat -c %s "$DEB") bytes, sha256 $(sha256sum "$DEB" | cut -d' ' -f1))"
echo "$DEB"
