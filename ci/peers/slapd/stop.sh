#!/usr/bin/env bash
# Stops the slapd started by start.sh DIR (only that one, by its pid file).
set -u
DIR=${1:?usage: stop.sh DIR}
PIDFILE="$DIR/slapd.pid"
[ -f "$PIDFILE" ] || exit 0
PID=$(cat "$PIDFILE")
kill "$PID" 2>/dev/null || exit 0
for _ in $(seq 1 50); do
    kill -0 "$PID" 2>/dev/null || exit 0
    sleep 0.1
done
kill -9 "$PID" 2>/dev/null || true
