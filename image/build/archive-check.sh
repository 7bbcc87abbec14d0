#!/usr/bin/env bash
# Pre-flight of the Debian archive for the image build.
#
#   image/build/archive-check.sh OUTDIR     (relative to the repository root)
#
# 1. Resolves the apt sources the build uses. With IMAGE_MIRRORS empty these
#    are mmdebstrap's own defaults for the suite (suite, suite-updates,
#    suite-security): mmdebstrap is asked for them (a setup hook copies its
#    sources.list and stops the run), so the recipe names no mirror host.
# 2. Downloads each source's armhf index separately, with retries. The archive
#    here sometimes serves an index that does not match its signed Release
#    file ("File has unexpected size ... Mirror sync in progress?"); apt then
#    keeps going with a missing index and the build would fail later with a
#    misleading "unable to locate package". The base suite must work; a failing
#    -updates/-security source is left out of the build with a loud warning
#    (IMAGE_REQUIRE_ALL_SOURCES=1 makes that fatal too). The image's own
#    /etc/apt/sources.list always lists every source.
# 3. Writes OUTDIR/sources.build (lines for mmdebstrap), sources.image (all
#    lines), state (Release date and armhf Packages hashes of every used
#    source: the archive state the base layer is a function of, part of its
#    cache key), epoch (newest Release date, the base layer's
#    SOURCE_DATE_EPOCH, so a cached layer equals a fresh one) and report.
# shellcheck source=image/build/lib.sh
. "$(dirname "$0")/lib.sh"

out=${1:?usage: archive-check.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd) # apt resolves relative Dir:: paths against /
rm -rf "$out/probe" "$out/views"
: >"$out/report"

# --- 1. resolve the sources ---------------------------------------------------
mirror_args=()
if [ -n "$IMAGE_MIRRORS" ]; then
    IFS=';' read -r -a mirror_args <<<"$IMAGE_MIRRORS"
fi
mmdebstrap --quiet --mode=root --variant=custom --architectures="$IMAGE_ARCH" \
    --components="$IMAGE_COMPONENTS" \
    --setup-hook="cp \"\$1/etc/apt/sources.list\" '$out/sources.all'; exit 42" \
    "$IMAGE_SUITE" "$out/probe" "${mirror_args[@]}" </dev/null >/dev/null 2>&1 || true
rm -rf "$out/probe"
[ -s "$out/sources.all" ] || die "could not resolve the apt sources for suite '$IMAGE_SUITE' (mmdebstrap $(mmdebstrap --version | awk '{print $2}') does not know it? IMAGE_MIRRORS='$IMAGE_MIRRORS')"
grep -v '^[[:space:]]*\(#\|$\)' "$out/sources.all" >"$out/sources.image"

# --- 2. check every source's index --------------------------------------------
: >"$out/sources.build"
: >"$out/state"
n=0
while read -r line; do
    n=$((n + 1))
    view="$out/views/$n"
    mkdir -p "$view/lists/partial" "$view/cache/archives/partial"
    printf '%s\n' "$line" >"$view/sources.list"
    APTV=(-o "Dir::Etc::SourceList=$view/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$view/lists" -o "Dir::Cache=$view/cache"
        -o Dir::State::status=/dev/null
        -o "APT::Architecture=$IMAGE_ARCH" -o "APT::Architectures::=$IMAGE_ARCH")
    log "archive: checking '$line'"
    if APT_UPDATE_ATTEMPTS=${IMAGE_APT_ATTEMPTS:-3} apt_update_retry "${APTV[@]}"; then
        printf '%s\n' "$line" >>"$out/sources.build"
        # The archive state this source contributes: its Release date and the
        # hashes of the armhf package indexes of the used components.
        rel=$(find "$view/lists" -maxdepth 1 -name '*InRelease' | head -n1)
        [ -n "$rel" ] || die "no InRelease for '$line'"
        {
            echo "source: $line"
            grep -m1 '^Date:' "$rel"
            for comp in $IMAGE_COMPONENTS; do
                awk -v want="$comp/binary-$IMAGE_ARCH/Packages.xz" '
                    /^SHA256:/ {s=1; next} /^[^ ]/ {s=0}
                    s && $3 == want {print " " $3 " " $1 " " $2}
                ' "$rel"
            done
        } >>"$out/state"
        echo "ok      $line" >>"$out/report"
    else
        msg="the archive serves an inconsistent $IMAGE_ARCH index for '$line' (apt: 'File has unexpected size ... Mirror sync in progress?' or a failed fetch) after ${IMAGE_APT_ATTEMPTS:-3} attempts"
        if [ "$n" -eq 1 ] || [ "$IMAGE_REQUIRE_ALL_SOURCES" = 1 ]; then
            die "$msg. The base suite '$IMAGE_SUITE' cannot be built from this archive state; retry later or choose another suite (IMAGE_SUITE=...)."
        fi
        warn "$msg."
        warn "BUILDING WITHOUT THIS SOURCE: the image gets the packages of the other sources only (its /etc/apt/sources.list still lists it for updates on the device). Set IMAGE_REQUIRE_ALL_SOURCES=1 to fail instead."
        echo "SKIPPED $line  (inconsistent index at build time)" >>"$out/report"
    fi
done <"$out/sources.image"

newest=0
while read -r d; do
    e=$(date -u -d "$d" +%s) || die "cannot parse Release date '$d'"
    [ "$e" -gt "$newest" ] && newest=$e
done < <(sed -n 's/^Date: //p' "$out/state")
[ "$newest" -gt 0 ] || die "no Release date found"
echo "$newest" >"$out/epoch"
log "archive: $(grep -c '^ok' "$out/report") source(s) usable, newest Release $(date -u -d "@$newest" +%FT%TZ)"
