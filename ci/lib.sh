# shellcheck shell=bash
# The one library of the ci/ scripts (installers, cross build, packaging,
# image build, boot test): logging, root check, apt with retries. Source it;
# it sets no shell options of its own so callers keep control of `set -e`.

log() { printf '==> [%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# apt waits for a dpkg/apt lock held by another job (other builds share the
# machine) instead of failing at once.
APT_LOCK_OPTS=(-o DPkg::Lock::Timeout=900 -o Acquire::Retries=3)
export DEBIAN_FRONTEND=noninteractive

require_root() {
    [ "$(id -u)" = 0 ] || die "$1 must run as root (it installs Debian packages)"
}

# apt_update_retry [APT-OPTION...]
# `apt-get update` that treats any failed index as a failure ("File has
# unexpected size ... Mirror sync in progress?" only prints E:/W: lines and
# may still exit 0) and retries with backoff. Returns 0 when every index
# downloaded cleanly, 1 otherwise; the caller decides whether stale or
# missing indexes are fatal. The last attempt's output is in $APT_UPDATE_LOG.
APT_UPDATE_LOG=""
# shellcheck disable=SC2120 # the system update passes no options, the armhf view does
apt_update_retry() {
    local attempt delay=5 attempts="${APT_UPDATE_ATTEMPTS:-4}"
    [ -z "$APT_UPDATE_LOG" ] || rm -f "$APT_UPDATE_LOG"
    APT_UPDATE_LOG=$(mktemp)
    for attempt in $(seq 1 "$attempts"); do
        if apt-get "${APT_LOCK_OPTS[@]}" "$@" update >"$APT_UPDATE_LOG" 2>&1 &&
            ! grep -qE '^(E:|W: Failed to fetch|Err:)' "$APT_UPDATE_LOG"; then
            return 0
        fi
        warn "apt-get update attempt $attempt/$attempts had errors:"
        grep -E '^(E:|W:|Err:)' "$APT_UPDATE_LOG" | head -5 >&2
        if [ "$attempt" -lt "$attempts" ]; then
            log "retrying apt-get update in ${delay}s"
            sleep "$delay"
            delay=$((delay * 2))
        fi
    done
    return 1
}

# Run the system `apt-get update` at most once per process tree: the
# installers call each other and the index does not change within minutes.
apt_update_system_once() {
    if [ -n "${OPENDCRE_APT_UPDATED:-}" ]; then return 0; fi
    log "apt-get update (with retries)"
    if ! apt_update_retry; then
        warn "some apt indexes are still failing after retries; continuing with the indexes apt has"
    fi
    export OPENDCRE_APT_UPDATED=1
}

# True when every named package is installed (any version).
pkgs_installed() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || return 1
    done
}

# apt_install PKG[=VERSION]... — install with the lock timeout, no
# recommends, retried once after a fresh `apt-get update` because a
# half-synced mirror can also break a .deb download.
apt_install() {
    if apt-get "${APT_LOCK_OPTS[@]}" install -y --no-install-recommends "$@"; then
        return 0
    fi
    warn "apt-get install failed; refreshing the index and trying once more"
    OPENDCRE_APT_UPDATED="" apt_update_system_once
    apt-get "${APT_LOCK_OPTS[@]}" install -y --no-install-recommends "$@"
}

# ensure_pkgs PKG... — install only what is missing (idempotent, no network
# when everything is present).
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        pkgs_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    require_root "installing ${missing[*]}"
    apt_update_system_once
    log "installing: ${missing[*]}"
    apt_install "${missing[@]}"
}

# newest_version V... — the greatest Debian version among the arguments.
newest_version() {
    local best="" v
    for v in "$@"; do
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done
    printf '%s\n' "$best"
}

# Elapsed seconds since $1 (an epoch from `date +%s`).
since() { echo $(($(date +%s) - $1)); }

# Every file and link of a root tree, sorted: path, mode, owner, link target,
# then the content hashes. Two trees are the same exactly when these are.
tree_sums() { # DIR
    (cd "$1" && find . -xdev \( -type f -o -type l \) -printf '%p %m %U:%G %l\n' | LC_ALL=C sort &&
        find . -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# deb_elf_depends BINARY — the Depends: entries for the shared libraries an
# ELF binary needs, from its version needs ("libc6 (>= x), libgcc-s1 (>= y)",
# empty for a static binary); fails on a library it cannot map. Shared by
# the service's and the client's packages (ci/build-deb.sh, build-deb-cli.sh);
# dpkg-shlibdeps cannot read armhf shlibs on an amd64 host without multiarch.
deb_elf_depends() {
    local bin=$1 verneeds needed glibc gcc unknown deps=()
    verneeds=$(readelf -V -W "$bin" | awk '{for (i = 1; i < NF; i++) {if ($i == "File:") f = $(i + 1); if ($i == "Name:") print f, $(i + 1)}}')
    # FILE-REGEX PREFIX -> highest version of that prefix needed from matching files
    _max_ver() {
        echo "$verneeds" | awk -v re="$1" -v p="$2" '$1 ~ re && index($2, p) == 1 {print substr($2, length(p) + 1)}' |
            sort -V | tail -n1
    }
    needed=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
    glibc=$(_max_ver '^lib(c|m|dl|rt|pthread)\.so' GLIBC_)
    if echo "$needed" | grep -qE '^lib(c|m|dl|rt|pthread)\.so'; then
        deps+=("libc6 (>= ${glibc:-2.4})")
    fi
    if echo "$needed" | grep -qx 'libgcc_s.so.1'; then
        gcc=$(_max_ver '^libgcc_s' GCC_ | cut -d. -f1-2)
        deps+=("libgcc-s1 (>= ${gcc:-3.0})")
    fi
    unknown=$(echo "$needed" | grep -vE '^(lib(c|m|dl|rt|pthread)\.so\.6|libgcc_s\.so\.1|ld-linux.*)$' || true)
    [ -z "$unknown" ] || die "$bin needs libraries deb_elf_depends does not map to packages: $unknown"
    local out="" d
    for d in "${deps[@]}"; do out="${out:+$out, }$d"; done
    echo "$out"
}

# `opendcre auth init` keeps the Redfish sessions in the service's state
# directory (/var/lib/opendcre/sessions.json). A node a script serves on the
# host keeps them in DIR instead: another run, or an installed service, must
# not find (and restore) them.
sessions_in() { # SECURITY_TOML DIR
    local from='state_file = "/var/lib/opendcre/sessions.json"'
    grep -qxF "$from" "$1" || die "$1: no sessions state_file from auth init to move"
    sed -i "s|^$from\$|state_file = \"$2/sessions.json\"|" "$1"
    grep -qxF "state_file = \"$2/sessions.json\"" "$1" || die "$1: sessions state_file not moved"
}

# start_node LOG PORT-REGEX COMMAND... — runs the service in the background
# (stdout and stderr into LOG), sets SERVER_PID, and waits up to 10 s for the
# first log line matching PORT-REGEX, a sed regex whose \1 is the port; sets
# PORT. Exits with the log when the service dies or never reports. Pair it
# with `trap stop_node EXIT` (or call stop_node from the caller's trap).
SERVER_PID=""
start_node() {
    local logf=$1 regex=$2
    shift 2
    "$@" >"$logf" 2>&1 &
    SERVER_PID=$!
    PORT=""
    for _ in $(seq 1 100); do
        PORT=$(sed -n "s/.*$regex.*/\1/p" "$logf" | head -1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "server did not start:" >&2
    cat "$logf" >&2
    exit 1
}

# The `listening` lines of `opendcre serve` as start_node regexes.
# shellcheck disable=SC2034 # used by the scripts that source this file
PLAIN_PORT_RE='listening on 127\.0\.0\.1:\([0-9]*\)'
# shellcheck disable=SC2034 # as above
TLS_PORT_RE='listening with TLS on 127\.0\.0\.1:\([0-9]*\)'

# stop_node — stops what start_node started (SIGTERM, reaped); idempotent.
stop_node() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

# host_debian_sources FILE — this machine's Debian apt sources into FILE, for
# mmdebstrap to use the mirror the host uses: deb822 files if there are any,
# else the one-line format. Either may be missing on a fresh machine (Debian
# 12 images often have no /etc/apt/sources.list at all).
host_debian_sources() {
    local out=$1 deb822
    shopt -s nullglob
    deb822=(/etc/apt/sources.list.d/*.sources)
    shopt -u nullglob
    : >"$out"
    if [ "${#deb822[@]}" -gt 0 ]; then
        cat "${deb822[@]}" >"$out"
    elif [ -f /etc/apt/sources.list ]; then
        grep -E '^deb ' /etc/apt/sources.list >"$out" || true
    fi
    grep -q . "$out" || die "no apt sources configured (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list)"
}

# mmdebstrap_tarball TAR SUITE [MMDEBSTRAP-OPTION...] — a Debian root file
# system as a tarball (no /dev nodes), from the host's sources, written to
# TAR only when complete. A mirror in the middle of a sync serves an index
# that does not match its Release file and mmdebstrap's apt-get update fails:
# 3 attempts with back-off.
mmdebstrap_tarball() {
    local tar=$1 suite=$2 sources tmp_tar delay=15 attempt
    shift 2
    # mmdebstrap picks the output format by the name ("...tar.tmp" would be
    # a directory); --format says it again for versions that look at it only.
    case "$tar" in *.tar) ;; *) die "$tar must end in .tar (mmdebstrap picks its output format by the name)" ;; esac
    mkdir -p "$(dirname "$tar")"
    sources=$(mktemp)
    host_debian_sources "$sources"
    tmp_tar="${tar%.tar}.tmp.tar"
    for attempt in 1 2 3; do
        rm -rf "$tmp_tar"
        if mmdebstrap --quiet --mode=root --format=tar --skip=output/dev \
            --aptopt='Acquire::Retries "3"' "$@" "$suite" "$tmp_tar" "$sources"; then
            break
        fi
        [ "$attempt" -lt 3 ] || { rm -f "$sources" "$tmp_tar"; die "mmdebstrap failed 3 times"; }
        warn "mmdebstrap failed (attempt $attempt/3; mirror sync?); trying again in ${delay}s"
        sleep "$delay"
        delay=$((delay * 2))
    done
    rm -f "$sources"
    tar -tf "$tmp_tar" >/dev/null || die "mmdebstrap did not write a tarball to $tmp_tar"
    mv "$tmp_tar" "$tar"
}

# venv_has VENV DIST VERSION — true when VENV's python has the distribution
# DIST installed at exactly VERSION (the pinned PyPI tools' idempotence check).
venv_has() {
    [ -x "$1/bin/python" ] &&
        [ "$("$1/bin/python" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null || true)" = "$3" ]
}

# venv_install VENV NEEDED-BY PKG==VERSION... — a fresh venv (Debian's
# python3-venv) at VENV with the pinned packages from PyPI; dies naming the
# make target that needs them when PyPI cannot deliver. The pinned-tool
# installers (schemathesis, the DMTF validators, sushy) share it; their venvs
# live under /opt/opendcre-ci, which ci/from-nothing.sh removes.
venv_install() {
    local venv=$1 needed_by=$2
    shift 2
    ensure_pkgs python3 python3-venv
    require_root "installing $*"
    log "installing $* from PyPI into $venv"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" ||
        die "could not install $* from PyPI ($needed_by needs it; PyPI must be reachable)"
}
