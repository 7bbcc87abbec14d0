#!/bin/sh
# Start one OpenIPMI ipmi_sim BMC on 127.0.0.1:PORT with all its state in STATE_DIR.
#
#   start.sh PORT STATE_DIR        (env INITIAL_POWER=0|1, default 1)
#
# Writes STATE_DIR/{lan.conf,sim.emu,fru0.bin}, the chassis state under
# STATE_DIR/chassis/ (power, resets, shutdowns, calls.log) and STATE_DIR/ipmi_sim.pid,
# and returns once the UDP port is bound (or fails with the simulator's log).
# Tests give every simulator its own port and directory so they can run in parallel;
# stop.sh STATE_DIR ends it.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 PORT STATE_DIR" >&2
    exit 2
fi
port=$1
state=$2
here=$(cd "$(dirname "$0")" && pwd)

case $port in
'' | *[!0-9]*) echo "start.sh: PORT must be a number, got '$port'" >&2; exit 2 ;;
esac
if ! command -v ipmi_sim >/dev/null 2>&1; then
    echo "start.sh: ipmi_sim not found (install the Debian package 'openipmi': ci/install-ipmi-peers.sh)" >&2
    exit 3
fi

mkdir -p "$state"
state=$(cd "$state" && pwd)
rm -rf "$state/chassis" "$state/persist"
mkdir -p "$state/chassis" "$state/persist"
printf '%s\n' "${INITIAL_POWER:-1}" >"$state/chassis/power"

sed -e "s|@PORT@|$port|g" -e "s|@HOOK@|$here/chassis_control.sh|g" -e "s|@STATE@|$state|g" \
    "$here/lan.conf.in" >"$state/lan.conf"
sed -e "s|@STATE@|$state|g" "$here/sim.emu.in" >"$state/sim.emu"
python3 "$here/make_fru.py" "$state/fru0.bin" 256

# -n: no console on stdio (without it ipmi_sim aborts when stdin is not a tty);
# -p: no persistence, so restarts never duplicate SDRs.
ipmi_sim -n -p -c "$state/lan.conf" -f "$state/sim.emu" -s "$state/persist" \
    </dev/null >"$state/ipmi_sim.log" 2>&1 &
pid=$!
echo "$pid" >"$state/ipmi_sim.pid"

# Ready = the UDP socket shows up in /proc/net/udp as 0100007F:<port in hex>.
want=$(printf '0100007F:%04X' "$port")
i=0
while [ $i -lt 100 ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start.sh: ipmi_sim exited during start-up; its log:" >&2
        cat "$state/ipmi_sim.log" >&2
        exit 1
    fi
    if grep -q " $want " /proc/net/udp; then
        exit 0
    fi
    sleep 0.1
    i=$((i + 1))
done
echo "start.sh: ipmi_sim (pid $pid) did not bind 127.0.0.1:$port within 10 s; its log:" >&2
cat "$state/ipmi_sim.log" >&2
kill "$pid" 2>/dev/null || true
exit 1
