#!/bin/sh
# Chassis-control hook for ipmi_sim (lan.conf: chassis_control "<this> STATE_DIR 0x20").
#
# ipmi_sim runs it through popen() as
#   <this> STATE_DIR 0x20 get power [boot ...]        -> prints "power:<0|1>" lines
#   <this> STATE_DIR 0x20 set power "1" [name "v"...]  -> stores the values
# Chassis Control maps to: power down/up -> set power 0/1; power cycle -> set power 0,
# then 1 s later set power 1; hard reset -> set reset 1; soft shutdown -> set shutdown 1.
# The state lives in plain files so tests (and people) can read it directly, and every
# call is appended to calls.log, which is how tests see what the BMC was asked to do.
set -u
state=$1
mc=$2
op=$3
shift 3
mkdir -p "$state"
echo "$mc $op $*" >>"$state/calls.log"

# Write through a temporary file so a concurrent "get" never reads a half-written value.
put() {
    printf '%s\n' "$2" >"$state/$1.tmp" && mv "$state/$1.tmp" "$state/$1"
}
get() {
    if [ -f "$state/$1" ]; then cat "$state/$1"; else printf '%s\n' "$2"; fi
}

case $op in
get)
    for name in "$@"; do
        case $name in
        power) echo "power:$(get power 0)" ;;
        boot) echo "boot:$(get boot default)" ;;
        *) echo "unknown get '$name'" >&2; exit 1 ;;
        esac
    done
    ;;
set)
    while [ $# -ge 2 ]; do
        name=$1
        value=$2
        shift 2
        case $name in
        power)
            case $value in 0 | 1) put power "$value" ;; *) exit 1 ;; esac
            ;;
        reset)
            # A hard reset keeps the power state; count it so tests can see it happened.
            put resets $(($(get resets 0) + 1))
            ;;
        shutdown)
            # Soft shutdown: the "OS" shuts down gracefully and the chassis ends up off.
            put shutdowns $(($(get shutdowns 0) + 1))
            put power 0
            ;;
        boot) put boot "$value" ;;
        identify)
            # identify carries "<interval> <force>"; the second word arrives as $3.
            put identify "$value"
            ;;
        *) echo "unknown set '$name'" >&2; exit 1 ;;
        esac
    done
    ;;
*)
    echo "usage: $0 STATE_DIR MC get|set NAME [VALUE]..." >&2
    exit 1
    ;;
esac
exit 0
