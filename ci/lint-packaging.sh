#!/usr/bin/env bash
# Lints everything that ships the service (the shell scripts, the maintainer
# scripts among them, are `make lint`'s: ci/lint-shell.sh, which the make
# target runs first):
#   * systemd-analyze verify on the units, inside a root made from the .deb
#     (so ExecStart= is checked against the packaged binary)
#   * systemd-analyze security --offline=true: prints the exposure scores and
#     fails above EXPOSURE_MAX (default 2.0)
#   * dpkg-deb --info and lintian on each .deb (errors and warnings fail;
#     info and pedantic tags are printed)
#   * hadolint on the Dockerfile, inside an empty network namespace to prove
#     it needs nothing from the network
#
# Usage: ci/lint-packaging.sh [DEB...]   (default: build/deb/*.deb)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

EXPOSURE_MAX=${EXPOSURE_MAX:-2.0}
HADOLINT=${HADOLINT:-/opt/opendcre-ci/hadolint-2.15.1/bin/hadolint}
UNITS=(opendcre.service opendcre-hat.service)

"$HERE/install-packaging.sh" --check || die "packaging tools missing: run ci/install-packaging.sh"

if [ $# -gt 0 ]; then
    debs=("$@")
else
    shopt -s nullglob
    debs=("$ROOT"/build/deb/*.deb)
    shopt -u nullglob
fi
[ "${#debs[@]}" -gt 0 ] || die "no .deb to lint: run 'make deb' first"

pass=0
fail=0
ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL %s\n' "$*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- systemd unit ------------------------------------------------------------------
# The units are in the service's package (opendcre), not the client's
# (opendcre-cli, which sorts first in build/deb).
service_deb=""
for deb in "${debs[@]}"; do
    if [ "$(dpkg-deb -f "$deb" Package)" = opendcre ]; then
        service_deb=$deb
        break
    fi
done
[ -n "$service_deb" ] || die "no opendcre (service) .deb among ${debs[*]}: its units are checked here"
# A root holding the package's files and the host's own units (sysinit.target
# and friends, which the unit's default dependencies name).
sysroot=$work/root
mkdir -p "$work/pkg" "$sysroot/usr/lib/systemd"
dpkg-deb -x "$service_deb" "$work/pkg"
cp -a /usr/lib/systemd/system "$sysroot/usr/lib/systemd/"
ln -s usr/lib "$sysroot/lib"
cp -a "$work/pkg/usr/." "$sysroot/usr/"
cp -a "$work/pkg/lib/." "$sysroot/usr/lib/"
cp -a "$work/pkg/etc" "$sysroot/"
# verify prints warnings (unknown keys, bad values) but may still exit 0:
# any output counts as a failure.
for unit in "${UNITS[@]}"; do
    # --man=no: Documentation=man:opendcre(1) is in the package (checked
    # below), not in the host's man path that verify would search.
    if out=$(systemd-analyze verify --man=no --root="$sysroot" "$unit" 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify $unit ($(basename "$service_deb"))"
    else
        bad "systemd-analyze verify $unit"
        echo "$out"
    fi

    limit=$EXPOSURE_MAX
    security=$(systemd-analyze security --offline=true --root="$sysroot" "$unit" 2>&1 || true)
    score=$(echo "$security" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    echo "$security" | grep -E '^✗' | sed 's/  */ /g; s/^/     /' || true
    if [ -z "$score" ]; then
        bad "systemd-analyze security $unit printed no exposure score"
        echo "$security" | tail -n 20
    elif awk -v s="$score" -v m="$limit" 'BEGIN { exit !(s <= m) }'; then
        ok "systemd-analyze security --offline=true $unit: exposure $score (limit $limit)"
    else
        bad "systemd-analyze security $unit: exposure $score is above $limit"
    fi
done

# --- packages -------------------------------------------------------------------------
for deb in "${debs[@]}"; do
    name=$(basename "$deb")
    if dpkg-deb --info "$deb" >"$work/info" 2>&1 && dpkg-deb --contents "$deb" >"$work/contents" 2>&1; then
        ok "dpkg-deb --info $name"
    else
        bad "dpkg-deb --info $name"
        cat "$work/info" "$work/contents"
        continue
    fi
    package=$(dpkg-deb -f "$deb" Package)
    arch=$(dpkg-deb -f "$deb" Architecture)
    case "$package" in
    opendcre)
        wants=(./usr/bin/opendcre ./etc/opendcre/opendcre.toml ./lib/systemd/system/opendcre.service
            ./lib/systemd/system/opendcre-hat.service ./usr/share/man/man1/opendcre.1.gz
            ./usr/share/doc/opendcre/copyright ./usr/share/doc/opendcre/changelog.gz)
        builder=$HERE/build-deb.sh
        case "$arch" in
        armhf) bin=$ROOT/target/armv7-unknown-linux-gnueabihf/release/opendcre ;;
        *) bin=$ROOT/target/release/opendcre ;;
        esac
        ;;
    opendcre-cli)
        wants=(./usr/bin/opendcre-cli ./usr/share/man/man1/opendcre-cli.1.gz
            ./usr/share/bash-completion/completions/opendcre-cli
            ./usr/share/doc/opendcre-cli/copyright ./usr/share/doc/opendcre-cli/changelog.gz)
        builder=$HERE/build-deb-cli.sh
        case "$arch" in
        armhf) bin=$ROOT/target/armv7-unknown-linux-gnueabihf/release/opendcre-cli ;;
        *) bin=$ROOT/target/release/opendcre-cli ;;
        esac
        ;;
    *)
        bad "$name: unknown package $package"
        continue
        ;;
    esac
    for want in "${wants[@]}"; do
        grep -q " $want\$" "$work/contents" || bad "$name lacks $want"
    done
    if owners=$(awk '$2 != "root/root"' "$work/contents") && [ -n "$owners" ]; then
        bad "$name has files not owned by root/root:"
        echo "$owners"
    fi
    # Reproducibility: the same inputs must give the same bytes.
    if [ -f "$bin" ] && [ "$bin" -ot "$deb" ]; then
        if DEB_OUT=$work/rebuild "$builder" "$arch" "$bin" >/dev/null 2>&1 &&
            cmp -s "$deb" "$work/rebuild/$name"; then
            ok "$name is reproducible (rebuilt byte-identical)"
        else
            bad "$name is not reproducible: a rebuild from $bin differs"
        fi
    else
        printf 'skip reproducibility of %s: %s is missing or newer than the .deb\n' "$name" "$bin"
    fi
    # lintian refuses nothing as root but says so on stderr; keep that out.
    if lintian --fail-on error,warning --display-info --pedantic "$deb" >"$work/lintian" 2>"$work/lintian.err"; then
        ok "lintian $name (errors/warnings: none)"
    else
        bad "lintian $name"
        grep -v 'running with root privileges' "$work/lintian.err" || true
    fi
    sed 's/^/     lintian: /' "$work/lintian"
done

# --- Dockerfile ---------------------------------------------------------------------
# unshare --net: no network at all, so a linter that fetched rules or
# binaries at run time would fail here.
if out=$(cd "$ROOT" && unshare --net "$HADOLINT" --no-color Dockerfile 2>&1); then
    ok "hadolint Dockerfile ($("$HADOLINT" --version), .hadolint.yaml, failure threshold style)"
else
    bad "hadolint Dockerfile"
    echo "$out"
fi

echo "lint-packaging: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
