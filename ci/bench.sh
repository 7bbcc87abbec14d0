#!/usr/bin/env bash
# Benchmarks: bus transactions over a pty (issue 2) and HTTP load with wrk
# (issue 3). Prints numbers; asserts nothing about speed (no flaky timing tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ci/lib.sh
source ci/lib.sh
ensure_pkgs wrk curl
cargo build --release --locked --bin opendcre --example bus_bench

echo "== bus benchmark (bus actor <-> emulator over a pty)"
./target/release/examples/bus_bench

echo "== HTTP load (wrk, 2 threads, 32 connections, 10 s each)"
port=$((20000 + RANDOM % 20000))
./target/release/opendcre serve --emulator firmware-api/emulator-configs/rack.json \
    --listen 127.0.0.1:$port --log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs http://127.0.0.1:$port/opendcre/1.1/test >/dev/null && break; sleep 0.1; done
board=$(curl -fs http://127.0.0.1:$port/opendcre/1.1/scan | python3 -c 'import json,sys; b=json.load(sys.stdin)["boards"]; d=[x for x in b[0]["devices"] if x["device_type"]=="thermistor"][0]; print(b[0]["board_id"], d["device_id"])')
set -- $board
for path in /opendcre/1.1/test "/opendcre/1.1/read/thermistor/$1/$2" /opendcre/1.1/scan/$1 /opendcre/1.1/scan; do
    echo "-- GET $path"
    wrk -t2 -c32 -d10s --latency "http://127.0.0.1:$port$path" | grep -E 'Requests/sec|50%|99%|Non-2xx|Socket errors' || true
done
echo "-- peak RSS of the server: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
