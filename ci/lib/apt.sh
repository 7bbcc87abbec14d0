# Shared apt helpers for the ci/ scripts (sourced, not executed).

# apt-get update with retries: mirrors fail transiently ("Mirror sync in progress?").
apt_update_retry() {
    local i
    for i in 1 2 3 4 5; do
        if apt-get update -q -o Acquire::Retries=3 >/tmp/apt-update.log 2>&1 && ! grep -q '^E:' /tmp/apt-update.log; then
            return 0
        fi
        echo "apt-get update attempt $i failed:" >&2
        grep -E '^(E|W):' /tmp/apt-update.log >&2 || true
        sleep $((i * 5))
    done
    # Partial index failures (one architecture or suite) are tolerated here;
    # the install below fails clearly if a needed package is missing.
    echo "apt-get update still reports errors; continuing with the indexes it fetched" >&2
}

# Installs the named packages that are not installed yet.
apt_install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    if [ "${APT_UPDATED:-0}" != 1 ]; then
        apt_update_retry
        export APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
