#!/usr/bin/env bash
# Installs the ARMv7 (armhf) cross toolchain used by `make armv7`:
#   * Debian's rustc-web + cargo-web (amd64) -> /usr/bin/rustc, /usr/bin/cargo
#   * the armv7-unknown-linux-gnueabihf std from libstd-rust-web-dev:armhf of the
#     *same* Debian version, unpacked into the sysroot's lib/rustlib
#   * gcc-arm-linux-gnueabihf + libc6-dev-armhf-cross as linker and C library
#
# The version is pinned to rustc 1.85, the project's `rust-version` (MSRV), so
# the cross build is what checks that promise: RUST_WEB_VERSION (default
# below, bookworm's rustc-web 1.85) must be offered by both the amd64 index
# (rustc-web, cargo-web, libstd-rust-web-dev) and the armhf index
# (libstd-rust-web-dev). bookworm-security carries newer rustc-web versions
# (1.96 in 2025); they are not used. When the archive has replaced the pinned
# Debian revision with another one of the same upstream version (a point
# release: ~deb12u3 -> ~deb12u4), that one is taken, with a warning.
# RUST_WEB_VERSION=newest restores the old choice: the newest version offered
# on both architectures.
#
# The armhf std is fetched through a private apt view (its own lists and cache
# under $CROSS_STATE), so the machine's dpkg architectures and apt lists stay
# as they are; a multiarch install of libstd-rust-web-dev:armhf is fragile
# (it wants the armhf libstd-rust-web dylib package and its whole dependency
# closure to be co-installable). When the armhf index is broken at the mirror
# ("File has unexpected size ... Mirror sync in progress?") even after
# retries, the script reads the Packages.xz index directly and checks the .deb
# against the SHA256 listed there, and says so.
#
# Usage: ci/install-cross.sh          install (idempotent; quick when done)
#        ci/install-cross.sh --check  exit 0 when a consistent toolchain is
#                                     installed, 1 otherwise (no network)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

TARGET=armv7-unknown-linux-gnueabihf
# rustc 1.85 = rust-version in Cargo.toml; `apt-cache madison rustc-web`.
RUST_WEB_VERSION=${RUST_WEB_VERSION:-1.85.0+dfsg3-1~deb12u3}
RUSTC=/usr/bin/rustc
CROSS_STATE=${CROSS_STATE:-/var/cache/opendcre-cross}
STAMP_NAME=.opendcre-std-version

sysroot() { "$RUSTC" --print sysroot; }

installed_version() {
    dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true
}

# The upstream part of a Debian version: 1.85.0+dfsg3-1~deb12u3 -> 1.85.0.
upstream() { local v=${1#*:}; echo "${v%%[+~-]*}"; }

# A toolchain is consistent when rustc-web and cargo-web are installed at one
# version and the unpacked armv7 std carries a stamp with the same version
# (rustc refuses an std built by another compiler version).
check_toolchain() {
    local v stamp
    pkgs_installed rustc-web cargo-web libstd-rust-web-dev gcc-arm-linux-gnueabihf libc6-dev-armhf-cross || return 1
    v=$(installed_version rustc-web)
    [ "$(installed_version cargo-web)" = "$v" ] || return 1
    # The pinned rustc (any Debian revision of it), unless RUST_WEB_VERSION=newest.
    [ "$RUST_WEB_VERSION" = newest ] || [ "$(upstream "$v")" = "$(upstream "$RUST_WEB_VERSION")" ] || return 1
    [ -x "$RUSTC" ] && [ -x /usr/bin/cargo ] || return 1
    stamp="$(sysroot)/lib/rustlib/$TARGET/$STAMP_NAME"
    [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$v" ] || return 1
    return 0
}

if [ "${1:-}" = "--check" ]; then
    check_toolchain
    exit $?
fi

require_root "ci/install-cross.sh"
ensure_pkgs ca-certificates curl xz-utils gpgv debian-archive-keyring file \
    gcc-arm-linux-gnueabihf libc6-dev-armhf-cross binutils-arm-linux-gnueabihf
apt_update_system_once

# --- versions offered on amd64 ------------------------------------------------
pkg_of_madison() { apt-cache madison "$1" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -u; }
amd64_versions=$(comm -12 <(pkg_of_madison rustc-web) <(pkg_of_madison cargo-web) |
    comm -12 - <(pkg_of_madison libstd-rust-web-dev))
[ -n "$amd64_versions" ] || die "the amd64 apt index offers no rustc-web/cargo-web/libstd-rust-web-dev version (is bookworm or bookworm-security in the sources, and did apt-get update work?)"

# --- versions offered on armhf (private apt view) -------------------------------
APT_ARMHF_DIR="$CROSS_STATE/apt-armhf"
mkdir -p "$APT_ARMHF_DIR/lists/partial" "$APT_ARMHF_DIR/cache/archives/partial"
APT_ARMHF=(-o APT::Architecture=armhf -o APT::Architectures::=armhf
    -o "Dir::State::Lists=$APT_ARMHF_DIR/lists" -o "Dir::Cache=$APT_ARMHF_DIR/cache"
    -o Dir::State::status=/dev/null)

log "apt-get update of the armhf index (private view in $APT_ARMHF_DIR)"
armhf_index_ok=1
if ! APT_UPDATE_ATTEMPTS=${APT_UPDATE_ATTEMPTS:-4} apt_update_retry "${APT_ARMHF[@]}"; then
    armhf_index_ok=0
    warn "the armhf apt index is still broken after retries (mirror sync?):"
    grep -E '^E:' "$APT_UPDATE_LOG" | head -3 >&2 || true
    warn "falling back to reading the armhf Packages.xz indexes directly and checking the .deb by SHA256"
fi

# apt's own view of armhf versions (indexes that downloaded cleanly).
declare -A APT_HAS=()
while read -r v; do
    [ -n "$v" ] && APT_HAS[$v]=1
done < <(apt-cache "${APT_ARMHF[@]}" madison libstd-rust-web-dev 2>/dev/null |
    awk -F'|' '$3 ~ /armhf/ {gsub(/ /, "", $2); print $2}')

# Direct view: every armhf Packages index of the configured sources, fetched
# with curl. Records "version url sha256 verified" per libstd-rust-web-dev entry.
declare -A DIRECT_URL=() DIRECT_SHA=() DIRECT_NOTE=()
direct_scan() {
    local repo uri dist tmp inrel xz_sha note fmt
    # shellcheck disable=SC2016 # $(...) is apt's format syntax, not the shell's
    fmt='$(REPO_URI) $(URI)'
    tmp=$(mktemp -d)
    while read -r repo uri; do
        [ -n "$uri" ] || continue
        log "fetching $uri.xz"
        if ! curl -fsS --retry 3 --max-time 300 -o "$tmp/Packages.xz" "$uri.xz"; then
            warn "could not fetch $uri.xz"
            continue
        fi
        # Does this Packages.xz match the signed InRelease? If yes the chain is
        # as strong as apt's; if not (the mirror-sync case) only the SHA256 in
        # the index itself vouches for the .deb.
        note="index does NOT match the signed InRelease; .deb checked only against the SHA256 in this index"
        dist=${uri%/main/binary-armhf/Packages}
        if curl -fsS --retry 3 --max-time 60 -o "$tmp/InRelease" "$dist/InRelease" &&
            gpgv --keyring /usr/share/keyrings/debian-archive-keyring.gpg \
                --output "$tmp/Release" "$tmp/InRelease" 2>/dev/null; then
            xz_sha=$(sha256sum "$tmp/Packages.xz" | cut -d' ' -f1)
            inrel=$(awk '/^SHA256:/{s=1; next} /^[^ ]/{s=0} s && $3=="main/binary-armhf/Packages.xz"{print $1}' "$tmp/Release")
            if [ "$inrel" = "$xz_sha" ]; then
                note="index matches the signed InRelease"
            fi
        fi
        xz -dc "$tmp/Packages.xz" |
            awk -v RS= -v FS='\n' '
                { pkg=ver=file=sha="";
                  for (i = 1; i <= NF; i++) {
                      if ($i ~ /^Package: /)  pkg  = substr($i, 10);
                      if ($i ~ /^Version: /)  ver  = substr($i, 10);
                      if ($i ~ /^Filename: /) file = substr($i, 11);
                      if ($i ~ /^SHA256: /)   sha  = substr($i, 9);
                  }
                  if (pkg == "libstd-rust-web-dev") print ver, file, sha }' >"$tmp/hits"
        while read -r ver file sha; do
            DIRECT_URL[$ver]="$repo$file"
            DIRECT_SHA[$ver]=$sha
            DIRECT_NOTE[$ver]=$note
        done <"$tmp/hits"
    done < <(apt-get "${APT_ARMHF[@]}" indextargets --no-release-info \
        --format "$fmt" 'Created-By: Packages' 'Architecture: armhf')
    rm -rf "$tmp"
}
if [ "$armhf_index_ok" = 0 ]; then
    direct_scan
fi

armhf_versions=$({
    for v in "${!APT_HAS[@]}"; do echo "$v"; done
    for v in "${!DIRECT_URL[@]}"; do echo "$v"; done
} | sort -u)
[ -n "$armhf_versions" ] || die "no armhf libstd-rust-web-dev version found, neither through apt nor by reading the Packages indexes directly"

common=$(comm -12 <(echo "$amd64_versions") <(echo "$armhf_versions"))
log "rustc-web versions on amd64: $(echo "$amd64_versions" | tr '\n' ' ')"
log "libstd-rust-web-dev versions on armhf: $(echo "$armhf_versions" | tr '\n' ' ')"
if [ "$RUST_WEB_VERSION" = newest ]; then
    [ -n "$common" ] || die "no rustc-web version is offered on both amd64 and armhf"
    # shellcheck disable=SC2086
    VER=$(newest_version $common)
    why="RUST_WEB_VERSION=newest: newest offered on both amd64 and armhf"
elif echo "$common" | grep -qxF "$RUST_WEB_VERSION"; then
    VER=$RUST_WEB_VERSION
    why="RUST_WEB_VERSION, rustc $(upstream "$VER") = the project's rust-version"
else
    same=$(echo "$common" | while read -r v; do
        [ -n "$v" ] && [ "$(upstream "$v")" = "$(upstream "$RUST_WEB_VERSION")" ] && echo "$v"
    done || true)
    [ -n "$same" ] ||
        die "RUST_WEB_VERSION=$RUST_WEB_VERSION (rustc $(upstream "$RUST_WEB_VERSION")) is not offered on both amd64 and armhf (common: $(echo "$common" | tr '\n' ' ')); the cross build checks the project's rust-version with it"
    # shellcheck disable=SC2086
    VER=$(newest_version $same)
    warn "RUST_WEB_VERSION=$RUST_WEB_VERSION is no longer offered; using $VER (same rustc $(upstream "$VER")); update the pin in ci/install-cross.sh"
    why="same upstream version as RUST_WEB_VERSION=$RUST_WEB_VERSION"
fi
log "chosen rustc-web version: $VER ($why)"

if check_toolchain && [ "$(installed_version rustc-web)" = "$VER" ]; then
    log "cross toolchain already installed: rustc-web $VER with the $TARGET std"
    exit 0
fi

# --- host compiler ----------------------------------------------------------------
if [ "$(installed_version rustc-web)" != "$VER" ] || [ "$(installed_version cargo-web)" != "$VER" ] ||
    [ "$(installed_version libstd-rust-web-dev)" != "$VER" ]; then
    log "installing rustc-web=$VER cargo-web=$VER libstd-rust-web-dev=$VER"
    # --allow-downgrades: the pin is older than bookworm-security's rustc-web.
    apt_install --allow-downgrades "rustc-web=$VER" "cargo-web=$VER" "libstd-rust-web-dev=$VER"
fi

# --- armhf std ----------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work" # apt downloads as user _apt
deb=""
if [ -n "${APT_HAS[$VER]:-}" ]; then
    log "downloading libstd-rust-web-dev:armhf=$VER through apt (signed index)"
    if (cd "$work" && apt-get "${APT_ARMHF[@]}" download "libstd-rust-web-dev:armhf=$VER" >&2); then
        deb=$(ls "$work"/libstd-rust-web-dev_*_armhf.deb)
        source_note="apt-get download (signed armhf index)"
    else
        warn "apt-get download failed; trying the direct index"
    fi
fi
if [ -z "$deb" ]; then
    [ -n "${DIRECT_URL[$VER]:-}" ] || direct_scan
    [ -n "${DIRECT_URL[$VER]:-}" ] || die "libstd-rust-web-dev:armhf=$VER is in no index that can be read"
    url=${DIRECT_URL[$VER]}
    deb="$work/$(basename "$url")"
    log "downloading $url"
    curl -fsS --retry 3 --max-time 600 -o "$deb" "$url" || die "download of $url failed"
    echo "${DIRECT_SHA[$VER]}  $deb" | sha256sum -c --quiet - ||
        die "SHA256 mismatch for $(basename "$deb") (expected ${DIRECT_SHA[$VER]})"
    source_note="direct download, SHA256 ${DIRECT_SHA[$VER]} OK (${DIRECT_NOTE[$VER]})"
    warn "libstd-rust-web-dev:armhf came from a direct download: ${DIRECT_NOTE[$VER]}"
fi

dpkg-deb -x "$deb" "$work/x"
src="$work/x/usr/lib/rustlib/$TARGET"
[ -d "$src/lib" ] || die "$(basename "$deb") has no usr/lib/rustlib/$TARGET/lib"
dest="$(sysroot)/lib/rustlib/$TARGET"
log "unpacking the $TARGET std into $dest"
rm -rf "$dest.new"
cp -a "$src" "$dest.new"
printf '%s\n%s\n' "$VER" "$source_note" >"$dest.new/$STAMP_NAME"
rm -rf "$dest"
mv "$dest.new" "$dest"

# --- smoke check: link a trivial program for the target -----------------------------
printf 'fn main() { println!("hello armv7"); }\n' >"$work/hello.rs"
"$RUSTC" --edition 2021 --target "$TARGET" -C linker=arm-linux-gnueabihf-gcc \
    -o "$work/hello" "$work/hello.rs" || die "the installed toolchain cannot link for $TARGET"
file "$work/hello" | grep -q 'ARM, EABI5' || die "test program is not an ARM EABI5 binary: $(file "$work/hello")"

check_toolchain || die "toolchain check failed after installation"
log "cross toolchain ready: $("$RUSTC" --version), $(/usr/bin/cargo --version), $TARGET std $VER ($source_note)"
