#!/usr/bin/env python3
"""Latency of the Redfish service in a release build, on the emulator rack.

Starts `opendcre serve` (the given binary) on the example rack
(firmware-api/emulator-configs/rack.json) twice: once as a node runs, with
the telemetry poller on (sensors come from its cache), once with it off
(every sensor is a live bus read). Each time it sends, on one kept-alive
HTTP/1.1 connection from 127.0.0.1, N requests of each:

  - GET /redfish/v1
  - GET /redfish/v1/Chassis/Rack/Power  (every bus power device's input
    power and the rack's total);
  - GET /redfish/v1/Chassis/00000001/Sensors?$expand=.  (every sensor of
    the board, each the JSON its own GET answers)
  - GET …/Sensors?$filter=ReadingType eq 'Temperature'&$expand=.  (each
    sensor read to judge it, the matching ones shown)
  - POST …/Systems/00000001-16ff/Actions/ComputerSystem.Reset, ForceOff and
    On alternately (a bus power command to an emulated power device)

and prints p50/p99/max in milliseconds as a Markdown table. Authentication
is off (no security.toml), so the numbers are the service's, not argon2's.
Asserts only that every answer had the expected status; speed is read, not
tested (not part of `make test`). Usage:
    ci/bench-redfish.py --binary target/release/opendcre [-n 200]
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RACK = os.path.join(HERE, "..", "firmware-api", "emulator-configs", "rack.json")
SENSORS = "/redfish/v1/Chassis/00000001/Sensors"
SYSTEM = "/redfish/v1/Systems/00000001-16ff"
START_TIMEOUT = 30.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, telemetry, workdir):
    port = free_port()
    cfg = os.path.join(workdir, f"opendcre-{'on' if telemetry else 'off'}.toml")
    with open(cfg, "w") as f:
        f.write(f"[telemetry]\nenabled = {'true' if telemetry else 'false'}\n")
    srv = subprocess.Popen(
        [binary, "serve", "--config", cfg, "--emulator", RACK,
         "--listen", f"127.0.0.1:{port}", "--log-level", "warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if srv.poll() is not None:
            sys.exit(f"server exited with {srv.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", SENSORS)
            r = c.getresponse()
            body = r.read()
            c.close()
            # Ready once the board is known (with telemetry: scanned and
            # every sensor read once by the poller).
            if r.status == 200 and (not telemetry or all_read(body)):
                return srv, port
        except OSError:
            pass
        time.sleep(0.2)
    srv.kill()
    sys.exit("server did not get ready")


def all_read(body):
    c = json.loads(body)
    return c.get("Members@odata.count", 0) > 0


def timed(conn, method, path, body, want):
    headers = {"Content-Type": "application/json"} if body else {}
    t = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    dt = time.perf_counter() - t
    if r.status != want:
        sys.exit(f"{method} {path}: {r.status}, expected {want}: {data[:300]!r}")
    return dt, data


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def row(name, times):
    ms = [t * 1000 for t in times]
    return (f"| {name} | {len(ms)} | {statistics.median(ms):.2f} | {pct(ms, 99):.2f} "
            f"| {max(ms):.2f} |")


def run(binary, telemetry, n, workdir):
    srv, port = start(binary, telemetry, workdir)
    rows = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(5):  # warm-up: connection, caches
            timed(conn, "GET", "/redfish/v1", None, 200)
        root = [timed(conn, "GET", "/redfish/v1", None, 200)[0] for _ in range(n)]
        expand, members = [], 0
        for _ in range(n):
            dt, data = timed(conn, "GET", SENSORS + "?$expand=.", None, 200)
            expand.append(dt)
            v = json.loads(data)
            members = len(v["Members"])
            if not all("ReadingType" in m for m in v["Members"]):
                sys.exit("a member was not expanded")
        filtered, kept = [], 0
        query = "?$filter=ReadingType%20eq%20%27Temperature%27&$expand=."
        for _ in range(n):
            dt, data = timed(conn, "GET", SENSORS + query, None, 200)
            filtered.append(dt)
            v = json.loads(data)
            kept = len(v["Members"])
            if not kept or not all(m["ReadingType"] == "Temperature" for m in v["Members"]):
                sys.exit("the filter kept a sensor it should not have, or none")
        rack_power, controls = [], 0
        for _ in range(n):
            dt, data = timed(conn, "GET", "/redfish/v1/Chassis/Rack/Power", None, 200)
            rack_power.append(dt)
            controls = len(json.loads(data)["PowerControl"])
        resets = []
        for i in range(n):
            kind = "ForceOff" if i % 2 == 0 else "On"
            resets.append(timed(conn, "POST", SYSTEM + "/Actions/ComputerSystem.Reset",
                                json.dumps({"ResetType": kind}).encode(), 204)[0])
        conn.close()
        mode = "telemetry on" if telemetry else "telemetry off"
        rows.append(row(f"GET /redfish/v1 ({mode})", root))
        rows.append(row(f"GET Sensors?$expand=. ({members} sensors, {mode})", expand))
        rows.append(row(f"GET Sensors?$filter=…&$expand=. ({kept} of {members} kept, {mode})",
                        filtered))
        rows.append(row(f"GET Chassis/Rack/Power ({controls} power controls, {mode})", rack_power))
        rows.append(row(f"POST ComputerSystem.Reset ForceOff/On ({mode})", resets))
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("-n", type=int, default=200, help="requests of each kind (default 200)")
    a = ap.parse_args()
    print("| request | n | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for telemetry in (True, False):
            for line in run(a.binary, telemetry, a.n, d):
                print(line, flush=True)


if __name__ == "__main__":
    main()
