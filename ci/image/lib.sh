# shellcheck shell=bash
# Helpers shared by the image build and boot-test scripts. Source it; it sets
# no shell options so callers keep control of `set -e`.

log() { printf '==> [%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
# Other jobs on the machine may hold the dpkg lock; wait instead of failing.
APT_LOCK_OPTS=(-o DPkg::Lock::Timeout=900 -o Acquire::Retries=3)

require_root() {
    [ "$(id -u)" = 0 ] || die "$1 must run as root"
}

pkgs_installed() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || return 1
    done
}

# apt-get update that counts a half-synced index ("File has unexpected size
# ... Mirror sync in progress?") as an error: apt may exit 0 on it and only
# print E:/W: lines. Retries with backoff; returns 1 if it never came clean.
# shellcheck disable=SC2120 # callers pass apt options, or none for the host view
apt_update_retry() {
    local attempt delay=5 attempts="${APT_UPDATE_ATTEMPTS:-3}" out
    out=$(mktemp)
    for attempt in $(seq 1 "$attempts"); do
        if apt-get "${APT_LOCK_OPTS[@]}" "$@" update >"$out" 2>&1 &&
            ! grep -qE '^(E:|W: Failed to fetch|Err:)' "$out"; then
            rm -f "$out"
            return 0
        fi
        warn "apt-get update attempt $attempt/$attempts had errors:"
        grep -E '^(E:|W:|Err:)' "$out" | head -4 >&2
        if [ "$attempt" -lt "$attempts" ]; then
            sleep "$delay"
            delay=$((delay * 2))
        fi
    done
    rm -f "$out"
    return 1
}

apt_update_system_once() {
    if [ -n "${OPENMIST_APT_UPDATED:-}" ]; then return 0; fi
    log "apt-get update (with retries)"
    apt_update_retry ||
        warn "some host apt indexes still fail after retries; continuing with what apt has"
    export OPENMIST_APT_UPDATED=1
}

# ensure_pkgs PKG... installs only what is missing (no network when done).
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        pkgs_installed "$p" || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    require_root "installing ${missing[*]}"
    apt_update_system_once
    log "installing host packages: ${missing[*]}"
    apt-get "${APT_LOCK_OPTS[@]}" install -y --no-install-recommends "${missing[@]}" ||
        die "apt-get install ${missing[*]} failed"
}

# Elapsed seconds since $1 (an epoch from `date +%s`).
since() { echo $(($(date +%s) - $1)); }
