#!/usr/bin/env bash
# Smoke test of the cross-built ARMv7 binary: runs it under qemu-arm (user
# mode) as a server with its built-in device-bus emulator and drives the
# REST API over HTTP from the host.
#
# Usage: ci/smoke-armv7.sh [BINARY] [EMULATOR_JSON]
#   BINARY         default target/armv7-unknown-linux-gnueabihf/release/opendcre
#   EMULATOR_JSON  default ci/fixtures/smoke-emulator.json (values checked below)
# Environment: SMOKE_READY_TIMEOUT (seconds, default 90) bounds the start-up.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=ci/lib.sh
. "$HERE/lib.sh"

BIN=${1:-$ROOT/target/armv7-unknown-linux-gnueabihf/release/opendcre}
FIXTURE=${2:-$HERE/fixtures/smoke-emulator.json}
READY_TIMEOUT=${SMOKE_READY_TIMEOUT:-90}
SYSROOT=/usr/arm-linux-gnueabihf

[ -f "$BIN" ] || die "binary $BIN not found: run 'make armv7' first"
[ -f "$FIXTURE" ] || die "emulator config $FIXTURE not found"
command -v qemu-arm-static >/dev/null || die "qemu-arm-static is missing: run ci/install-packaging.sh"
command -v curl >/dev/null || die "curl is missing: run ci/install-packaging.sh"
[ -e "$SYSROOT/lib/ld-linux-armhf.so.3" ] || die "$SYSROOT has no armhf loader: install libc6-armhf-cross (ci/install-cross.sh)"
file -L "$BIN" | grep -q 'ARM, EABI5' || die "$BIN is not an ARM EABI5 binary: $(file -L "$BIN")"

command -v arm-linux-gnueabihf-gcc >/dev/null || die "arm-linux-gnueabihf-gcc is missing: run ci/install-cross.sh"

# qemu-user does not emulate the termios2 ioctls (TCGETS2/TCSETS2) that the
# serialport crate uses to set the baud rate, so the binary could not open
# its emulator's pty under qemu (it can on a Pi). A small preloaded shim maps
# them to TCGETS/TCSETS; see ci/qemu/termios2-shim.c.
SHIM_DIR=$(mktemp -d)
trap 'rm -rf "$SHIM_DIR"' EXIT
SHIM=$SHIM_DIR/termios2-shim.so
arm-linux-gnueabihf-gcc -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC \
    -o "$SHIM" "$HERE/qemu/termios2-shim.c" -ldl || die "cannot build the termios2 shim"

# qemu-arm is called directly with the cross sysroot, so no binfmt_misc
# registration (which needs a mount and root) is involved.
QEMU=(qemu-arm-static -L "$SYSROOT" -E "LD_PRELOAD=$SHIM")

pass=0
fail=0
ok() { pass=$((pass + 1)); printf 'ok   %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL %s\n' "$*"; }

# 1. The binary starts at all under emulation.
if version=$(timeout 60 "${QEMU[@]}" "$BIN" --version 2>&1) && [[ "$version" == opendcre\ * ]]; then
    ok "qemu-arm: $version"
else
    bad "qemu-arm: '$BIN --version' printed '$version'"
    echo "0 passed, 1 failed"
    exit 1
fi

# 2. The server with its emulator, on a free loopback port (telemetry off).
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LOG=$(mktemp)
trap 'rm -rf "$SHIM_DIR" "$LOG"' EXIT
# The v1.1 checks read the fixture's canned sequences (656, 746, 0), which the
# telemetry poller would advance behind them: this first server runs with the
# poller off, as the test suite's v1.1 servers do. A second server (step 4)
# runs as a node does, poller on, for /metrics.
NO_TELEMETRY=$SHIM_DIR/no-telemetry.toml
printf '[telemetry]\nenabled = false\n' >"$NO_TELEMETRY"
"${QEMU[@]}" "$BIN" serve --config "$NO_TELEMETRY" --emulator "$FIXTURE" --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
SERVER_PID=$!
cleanup() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    rm -f "$LOG"
    rm -rf "$SHIM_DIR"
}
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT/opendcre/1.1"

show_log() {
    echo "---- server output (last 40 lines) ----"
    tail -n 40 "$LOG"
    echo "---------------------------------------"
}

# wait_ready: until the server answers GET /test (bounded); exits on failure.
wait_ready() {
    local start deadline
    start=$(date +%s.%N)
    deadline=$(($(date +%s) + READY_TIMEOUT))
    until curl -fsS --max-time 2 "$BASE/test" >/dev/null 2>&1; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            bad "server exited before it answered (command: opendcre serve … --emulator $FIXTURE --listen 127.0.0.1:$PORT)"
            show_log
            echo "$pass passed, $fail failed"
            exit 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            bad "server did not answer GET $BASE/test within ${READY_TIMEOUT}s"
            show_log
            echo "$pass passed, $fail failed"
            exit 1
        fi
        sleep 0.5
    done
    ok "server ready after $(python3 -c "import sys; print(round($(date +%s.%N) - $start, 2))") s under qemu-arm"
}
wait_ready

# check NAME URL PYTHON-ASSERTION: fetch URL, bind the JSON to `j`, and
# evaluate the assertion; on failure print status, body and the assertion.
check() {
    local name=$1 url=$2 expr=$3 body status
    body=$(curl -sS --max-time 30 -w '\n%{http_code}' "$url" 2>&1) || true
    status=${body##*$'\n'}
    body=${body%$'\n'*}
    if [ "$status" = 200 ] && python3 -c '
import json, sys
j = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$body" "$expr" 2>/dev/null; then
        ok "$name"
    else
        bad "$name: GET $url -> HTTP $status, body: $body; expected: $expr"
    fi
}

check "GET /test" "$BASE/test" 'j == {"status": "ok"}'
check "GET /scan lists the emulated board and its devices" "$BASE/scan" '
any(b["board_id"] == "00000001" and
    [(d["device_id"], d["device_type"]) for d in b["devices"]] ==
    [("01ff", "thermistor"), ("02ff", "none"), ("0dff", "power")]
    for b in j["boards"])'
# The fixture answers 656, 746, 0 in turn; the conversions (spec 4.2) run in
# ARM floating point here.
check "read thermistor 656 -> 28.78 C" "$BASE/read/thermistor/00000001/01ff" \
    'j["device_raw"] == 656 and abs(j["temperature_c"] - 28.78) < 0.005'
check "read thermistor 746 -> 20.91 C" "$BASE/read/thermistor/00000001/01ff" \
    'j["device_raw"] == 746 and abs(j["temperature_c"] - 20.91) < 0.005'
check "read thermistor 0 -> 131.29 C" "$BASE/read/thermistor/00000001/01ff" \
    'j["device_raw"] == 0 and abs(j["temperature_c"] - 131.29) < 0.005'

check "GET /version/00000001 returns the emulator's firmware string" "$BASE/version/00000001" \
    'j["firmware_version"] == "OpenDCRE smoke-test emulator" and j["api_version"] == "1.1"'
check "GET /scan/00000001 scans one board" "$BASE/scan/00000001" \
    '[b["board_id"] for b in j["boards"]] == ["00000001"] and len(j["boards"][0]["devices"]) == 3'
# Bad input gets a JSON error, not a hang or a crash.
body=$(curl -sS --max-time 30 -w '\n%{http_code}' "$BASE/read/thermistor/0000000g/01ff" 2>&1) || true
if [ "${body##*$'\n'}" = 500 ] && python3 -c 'import json, sys; json.loads(sys.argv[1])["http_code"] == 500 or sys.exit(1)' "${body%$'\n'*}" 2>/dev/null; then
    ok "a malformed board id answers 500 with a JSON body"
else
    bad "a malformed board id: expected HTTP 500 with JSON, got: $body"
fi

# SIGTERM: the service stops by itself, promptly and with status 0.
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    bad "server died during the test"
else
    kill -TERM "$SERVER_PID"
    stopped=""
    for _ in $(seq 1 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || { stopped=1; break; }
        sleep 0.1
    done
    if [ -n "$stopped" ]; then
        status=0
        wait "$SERVER_PID" || status=$?
        if [ "$status" = 0 ]; then
            ok "SIGTERM: clean exit (status 0) within 10 s"
        else
            bad "SIGTERM: exit status $status"
        fi
    else
        bad "SIGTERM: still running after 10 s"
    fi
fi

# 3. As a node runs (telemetry on): /metrics names the commit the build
# compiled in (the Makefile sets it: ci/build-commit.sh), and the poller has
# read the thermistor (its first answer, 656 -> 28.78 C) at background priority.
COMMIT=$("$ROOT/ci/build-commit.sh")
if [ "$fail" -eq 0 ]; then
    : >"$LOG"
    "${QEMU[@]}" "$BIN" serve --emulator "$FIXTURE" --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
    SERVER_PID=$!
    wait_ready
    metrics=$(curl -sS --max-time 30 "http://127.0.0.1:$PORT/metrics" 2>&1) || true
    if [ -z "$COMMIT" ]; then
        ok "/metrics: not a git checkout and OPENDCRE_COMMIT unset, commit not checked"
    elif grep -q "^opendcre_build_info{.*commit=\"$COMMIT\"} 1$" <<<"$metrics"; then
        ok "/metrics: opendcre_build_info has commit=\"$COMMIT\""
    else
        bad "/metrics: no opendcre_build_info with commit=\"$COMMIT\" (build with make, which sets OPENDCRE_COMMIT): $(grep '^opendcre_build_info' <<<"$metrics")"
    fi
    polled=""
    for _ in $(seq 1 60); do
        if curl -sS --max-time 10 "http://127.0.0.1:$PORT/opendcre/2/readings" 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if any(d["device_id"] == "01ff" and abs(d["values"].get("temperature_celsius", 0) - 28.78) < 0.005
                  for d in j["devices"]) else 1)' 2>/dev/null; then
            polled=1
            break
        fi
        sleep 0.5
    done
    if [ -n "$polled" ]; then
        ok "telemetry poller read thermistor 01ff: 28.78 C"
    else
        bad "telemetry poller: no reading of 01ff (28.78 C) in /opendcre/2/readings within 30 s"
    fi
fi
[ "$fail" -eq 0 ] || show_log
echo "smoke-armv7: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
