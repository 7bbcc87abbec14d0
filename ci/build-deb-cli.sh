#!/usr/bin/env bash
# Builds build/deb/opendcre-cli_<version>_<arch>.deb, the operators' client,
# with plain dpkg-deb. A package of its own: operators install it on their
# machines without the service, its user, units and udev rule.
#
# Usage: ci/build-deb-cli.sh ARCH BINARY      (ARCH: armhf | amd64)
# Environment: DEB_OUT (output directory, default build/deb), SOURCE_DATE_EPOCH.
#
# Reproducible the same way as ci/build-deb.sh (ci/deb-lib.sh). The man page and completions come
# from the binary itself (`opendcre-cli man`, `completions SHELL`), which
# prints no date, so they are the same bytes on every build.
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
PKG=$ROOT/packaging/opendcre-cli
deb_begin opendcre-cli "$ARCH" "$BIN" "$PKG"

run_bin=("$BIN")
if [ "$ARCH" = armhf ] && [ "$(uname -m)" != armv7l ]; then
    command -v qemu-arm-static >/dev/null || die "qemu-arm-static is missing: run ci/install-packaging.sh"
    run_bin=(qemu-arm-static -L /usr/arm-linux-gnueabihf "$BIN")
fi

# --- payload -------------------------------------------------------------------
deb_install_binary "$BIN" opendcre-cli

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
deb_control "$PKG" "$ARCH" "$depends"
deb_pack
