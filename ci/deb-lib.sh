# shellcheck shell=bash
# What both .deb builders share (ci/build-deb.sh for the service,
# ci/build-deb-cli.sh for the operators' client): checking the binary and
# the tools, the version from the changelog, reproducible settings, the
# control files and the pack. Source it after ci/lib.sh.
#
# Reproducible: every mtime is SOURCE_DATE_EPOCH (default: the last commit's
# time), owners are root:root (--root-owner-group), dpkg-deb writes the tar
# members in sorted order, and xz runs single-threaded so its output does
# not depend on the core count. Building twice gives the same bytes.

# deb_begin NAME ARCH BINARY PKGDIR [TOOL...] — checks that BINARY is an ARCH
# ELF and that dpkg-deb, gzip, objcopy and the TOOLs exist; reads VERSION from
# PKGDIR/changelog (it must carry the workspace's crate version, so binary and
# package agree); sets OBJCOPY, VERSION, SOURCE_DATE_EPOCH (exported), TZ,
# LC_ALL and umask; makes an empty STAGE (with DEBIAN/) and sets DEB.
deb_begin() {
    local name=$1 arch=$2 bin=$3 pkg=$4 elf_machine crate_version tool
    shift 4
    case "$arch" in
    armhf) elf_machine='ARM' OBJCOPY=arm-linux-gnueabihf-objcopy ;;
    amd64) elf_machine='Advanced Micro Devices X86-64' OBJCOPY=objcopy ;;
    *) die "unsupported architecture '$arch' (armhf or amd64)" ;;
    esac
    [ -f "$bin" ] || die "binary $bin not found (build it first: make armv7 / cargo build --release -p $name)"
    readelf -h "$bin" | grep -q "Machine: *$elf_machine" ||
        die "$bin is not a $arch binary: $(readelf -h "$bin" | grep Machine:)"
    for tool in dpkg-deb gzip "$OBJCOPY" "$@"; do
        command -v "$tool" >/dev/null || die "$tool is missing: run ci/install-packaging.sh"
    done
    VERSION=$(sed -n "1s/^$name (\([^)]*\)).*/\1/p" "$pkg/changelog")
    [ -n "$VERSION" ] || die "cannot read the version from $pkg/changelog"
    crate_version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml")
    case "$VERSION" in
    "$crate_version" | "$crate_version"[-+~]*) ;;
    *) die "$pkg/changelog version $VERSION does not match the crate version $crate_version: add a changelog entry" ;;
    esac
    if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
        SOURCE_DATE_EPOCH=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) ||
            die "SOURCE_DATE_EPOCH is unset and git cannot tell the last commit time"
    fi
    export SOURCE_DATE_EPOCH
    export TZ=UTC LC_ALL=C
    umask 022
    local out=${DEB_OUT:-$ROOT/build/deb}
    STAGE=$out/stage-$name-$arch
    DEB=$out/${name}_${VERSION}_${arch}.deb
    rm -rf "$STAGE"
    mkdir -p "$STAGE/DEBIAN" "$out"
}

# deb_install_binary BINARY NAME — /usr/bin/NAME. Cargo already stripped the
# symbols; .comment (compiler version strings) is dropped as dh_strip would.
deb_install_binary() {
    install -d -m 0755 "$STAGE/usr/bin"
    "$OBJCOPY" --remove-section=.comment "$1" "$STAGE/usr/bin/$2"
    chmod 0755 "$STAGE/usr/bin/$2"
}

# deb_control PKGDIR ARCH DEPENDS — DEBIAN/md5sums and DEBIAN/control from
# PKGDIR/control.in (@VERSION@, @ARCH@, @INSTALLED_SIZE@, @DEPENDS@). Call it
# when the payload is complete.
deb_control() {
    local pkg=$1 arch=$2 depends=$3 installed_size
    find "$STAGE" -path "$STAGE/DEBIAN" -prune -o -type f -printf '%P\0' | sort -z |
        (cd "$STAGE" && xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
    chmod 0644 "$STAGE/DEBIAN/md5sums"
    installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)
    sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" \
        -e "s/@INSTALLED_SIZE@/$installed_size/" -e "s/@DEPENDS@/$depends/" \
        "$pkg/control.in" >"$STAGE/DEBIAN/control"
}

# deb_pack — uniform mtimes (dpkg-deb only clamps newer ones) and directory
# modes, then the .deb; prints its path.
deb_pack() {
    find "$STAGE" -type d -exec chmod 0755 {} +
    find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    dpkg-deb --root-owner-group -Zxz -z9 --threads-max=1 --build "$STAGE" "$DEB" >/dev/null
    log "built $DEB ($(stat -c %s "$DEB") bytes, sha256 $(sha256sum "$DEB" | cut -d' ' -f1))"
    echo "$DEB"
}
