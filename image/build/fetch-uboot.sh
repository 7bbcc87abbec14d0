#!/usr/bin/env bash
# Fetches U-Boot for the Raspberry Pi 2 from Debian's u-boot-rpi (armhf) of
# IMAGE_UBOOT_SUITE, through a private apt view (the host's apt state and
# architectures are not touched), and prints two lines:
#   the path of rpi_2/u-boot.bin (under OUTDIR)
#   "u-boot-rpi <version> sha256 <sha256 of the .deb>" for build-info.txt
#
#   image/build/fetch-uboot.sh OUTDIR
#
# The mirror is the one the host's own apt sources use (like install-deps.sh's
# e2fsprogs), so the build needs no other network access.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

out=${1:?usage: fetch-uboot.sh OUTDIR}
view="$out/apt"
rm -rf "$out"
mkdir -p "$out"
# apt reads relative Dir:: paths from /, not from here.
out=$(cd "$out" && pwd)
view="$out/apt"
mkdir -p "$view/lists/partial" "$view/cache/archives/partial" "$out/deb"
mirror=$(apt-get update --print-uris 2>/dev/null |
    sed -n "s#^'\(.*\)/dists/[a-z-]*/InRelease'.*#\1/#p" | grep -v -- '-security/\?$' | awk 'NR == 1')
[ -n "$mirror" ] || die "cannot find the host's Debian mirror in apt's sources"
echo "deb [arch=armhf] $mirror $IMAGE_UBOOT_SUITE main" >"$view/sources.list"
APTV=(-o "Dir::Etc::SourceList=$view/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$view/lists" -o "Dir::Cache=$view/cache"
    -o Dir::State::status=/dev/null -o APT::Architectures::=armhf -o APT::Architecture=armhf)
apt_update_retry "${APTV[@]}" >&2 || die "apt-get update of $IMAGE_UBOOT_SUITE (armhf) failed (see above)"
v=$(apt-cache "${APTV[@]}" policy u-boot-rpi | awk '/Candidate:/{print $2}')
[ -n "$v" ] && [ "$v" != "(none)" ] || die "$IMAGE_UBOOT_SUITE has no u-boot-rpi for armhf"
# apt drops to _apt for downloads; the directory must let it write.
chown _apt "$out/deb" 2>/dev/null || true
(cd "$out/deb" && apt-get "${APTV[@]}" download "u-boot-rpi:armhf=$v" >&2) ||
    die "downloading u-boot-rpi $v failed"
deb=$(ls "$out"/deb/u-boot-rpi_*_armhf.deb)
dpkg-deb -x "$deb" "$out/root"
bin="$out/root/usr/lib/u-boot/rpi_2/u-boot.bin"
[ -s "$bin" ] || die "u-boot-rpi $v has no rpi_2/u-boot.bin"
echo "$bin"
echo "u-boot-rpi $v ($IMAGE_UBOOT_SUITE) sha256 $(sha256sum "$deb" | cut -c1-64)"
