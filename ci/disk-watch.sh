#!/usr/bin/env bash
# Free disk during a CI run, for the log.
#
#   ci/disk-watch.sh start   print the free space, warn when it is below what a
#                            run needs, sample it every 2 s in the background
#   ci/disk-watch.sh stop    stop sampling, print the least free space seen and
#                            the peak use of the run
#
# Watches every file system a run writes to: the clone (cargo's target/,
# build/), the image cache, /tmp and $HOME (cargo registry, rustup).
# CI_DISK_NEED_MIB: what a run from nothing needs at its peak (measured with
# this script; README says how much).
set -euo pipefail
cd "$(dirname "$0")/.."
state=build/disk-watch
need=${CI_DISK_NEED_MIB:-5120}

# "filesystem free_MiB mountpoint" for each distinct file system.
free_now() {
    df -P -m . /var/cache /tmp "$HOME" 2>/dev/null | awk 'NR > 1 && !seen[$1]++ {print $1, $4, $6}'
}

case "${1:-}" in
start)
    mkdir -p "$state"
    free_now >"$state/start"
    cp "$state/start" "$state/min"
    : >"$state/series"
    while read -r fs free mnt; do
        echo "disk: $free MiB free on $mnt ($fs)"
        if [ "$free" -lt "$need" ]; then
            echo "WARNING: disk: $free MiB free on $mnt, a run from nothing needs about $need MiB at its peak" >&2
        fi
    done <"$state/start"
    # The sampler keeps the lowest value per file system; it must not hold
    # the caller's stdout open, and it ends with the caller (the CI run).
    # shellcheck disable=SC2016
    setsid bash -c '
        while sleep 2 && kill -0 "$1" 2>/dev/null; do
            t=$(date +%H:%M:%S)
            df -P -m . /var/cache /tmp "$HOME" 2>/dev/null |
                awk "NR > 1 && !seen[\$1]++ {print \$1, \$4, \$6}" >"$0/now" || continue
            awk -v t="$t" "NR == FNR {now[\$1] = \$2; next}
                \$1 in now && now[\$1] < \$2 {print \$1, now[\$1], \$3, t; next} {print}" \
                "$0/now" "$0/min" >"$0/min.new" && mv "$0/min.new" "$0/min"
            sed "s/^/$t /" "$0/now" >>"$0/series"
        done' "$state" "$PPID" </dev/null >/dev/null 2>&1 &
    echo $! >"$state/pid"
    ;;
stop)
    [ -f "$state/pid" ] || exit 0
    kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -f "$state/pid"
    while read -r fs start mnt; do
        read -r low when < <(awk -v f="$fs" '$1 == f {print $2, ($4 == "" ? "-" : $4)}' "$state/min")
        echo "disk: $mnt ($fs): $start MiB free at start, least free $low MiB at $when, peak use of the run $((start - low)) MiB (every 2 s: $state/series)"
    done <"$state/start"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
