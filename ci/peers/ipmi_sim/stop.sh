#!/bin/sh
# Stop the ipmi_sim that start.sh started for STATE_DIR (by its recorded pid only).
#   stop.sh STATE_DIR
set -eu
if [ $# -ne 1 ]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 2
fi
pidfile=$1/ipmi_sim.pid
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if kill "$pid" 2>/dev/null; then
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
