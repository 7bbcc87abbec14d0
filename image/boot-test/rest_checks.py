#!/usr/bin/env python3
"""REST checks of the boot test: the OpenDCRE v1.1 API of the node under
QEMU, answered by the host's bus emulator, compared with the emulator's
configuration (spec §2.3, §4.2, §4.3, §5.2).

Every device keeps its own response counter in the emulator, so the expected
value of each read or power request is the next element of that device's
response list. This script is the only client of the emulator during the
test, so the expectations are exact; a value taken from elsewhere in the
cycle is reported as such (it means some other client consumed answers).

Usage: rest_checks.py BASE_URL EMULATOR_CONFIG [--header 'Name: value']...
                      [--cacert PEM] [--expect-auth]
--cacert: trust only this certificate (the node's own, fetched over SSH), so
the TLS check includes the name (127.0.0.1 is in the node's certificate).
--expect-auth: also check that requests without or with a wrong bearer token
are refused with 401 and a Bearer challenge.
Exit status: 0 all checks passed, 1 otherwise. Standard library only.
"""

import argparse
import json
import math
import ssl
import sys
import time
import urllib.error
import urllib.request

API = "/opendcre/1.1"
# v1.1 and later spellings of the same type code (spec §4.1).
ALIASES = {"ipmb": "system", "door_lock": "fan_speed"}
R_SENSE = 1.0  # milliohms; the service's default ([bus].r_sense_mohm)


def canon_type(name):
    return ALIASES.get(name, name)


def hex8(value):
    return "%08x" % int(value, 16)


def hex4(value):
    return "%04x" % int(value, 16)


def thermistor_c(adc):
    """Spec §4.2: piecewise linear, rounded to 2 decimals."""
    if adc > 745:
        c = -0.131 * adc + 118.638
    elif adc > 542:
        c = -0.0985 * adc + 93.399
    elif adc > 354:
        c = -0.106 * adc + 97.66
    elif adc > 218:
        c = -0.147 * adc + 112.046
    else:
        c = -0.235 * adc + 131.294
    return round(c, 2)


def pmbus_direct(raw, kind):
    """Spec §4.3: value = (raw * 10^-R - b) / m."""
    m, b, r = {
        "current": (807 * R_SENSE, 20745, -1),
        "voltage": (19199, 0, -2),
        "power": (6043 * R_SENSE, 0, -2),
    }[kind]
    return (raw * 10 ** (-r) - b) / m


def expected_power(raw):
    status, power, voltage, current = (int(x) for x in raw.split(","))
    return {
        "pmbus_raw": raw,
        "power_status": "off" if status & 0x40 else "on",
        "power_ok": not status & 0x800,
        "over_current": bool(status & 0x10),
        "under_voltage": bool(status & 0x08),
        "input_power": pmbus_direct(power, "power"),
        "input_voltage": pmbus_direct(voltage, "voltage"),
        "output_current": pmbus_direct(current, "current"),
    }


class Checker:
    def __init__(self, base, headers, timeout, context=None):
        self.base = base.rstrip("/")
        self.headers = headers
        self.context = context
        self.timeout = timeout
        self.passed = 0
        self.failed = 0
        self.latencies = []

    def get(self, path, headers=None):
        status, body, _ = self.get_full(path, headers)
        return status, body

    def get_full(self, path, headers=None):
        """Status, body and response headers; `headers` replaces the defaults."""
        req = urllib.request.Request(self.base + API + path, headers=self.headers if headers is None else headers)
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.context) as resp:
                status, body, hdrs = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, body, hdrs = err.code, err.read(), err.headers
        self.latencies.append(time.monotonic() - start)
        return status, body, hdrs

    def get_json(self, path):
        status, body = self.get(path)
        if status != 200:
            raise AssertionError("GET %s -> HTTP %d: %s" % (path, status, body[:200]))
        try:
            return json.loads(body)
        except ValueError as err:
            raise AssertionError("GET %s: body is not JSON (%s): %r" % (path, err, body[:200]))

    def check(self, name, fn):
        try:
            fn()
        except AssertionError as err:
            self.failed += 1
            print("FAIL %s: %s" % (name, err), flush=True)
        except (OSError, urllib.error.URLError) as err:
            self.failed += 1
            print("FAIL %s: request failed: %s" % (name, err), flush=True)
        else:
            self.passed += 1
            print("ok   %s" % name, flush=True)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


def close(a, b, tol):
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(a, b, rel_tol=1e-9, abs_tol=tol)


class Cycle:
    """The emulator's canned answers of one device (spec §5.2)."""

    def __init__(self, spec):
        self.responses = (spec or {}).get("responses") or []

    def has(self, got):
        """Whether `got` is one of the device's canned answers."""
        return got is not None and any(str(v) == str(got) for v in self.responses)

    def describe(self, got):
        hits = [i for i, v in enumerate(self.responses) if str(v) == str(got)]
        return "position %s of the cycle" % hits if hits else "not in the cycle"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base")
    ap.add_argument("config")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--cacert")
    ap.add_argument("--expect-auth", action="store_true")
    args = ap.parse_args()
    context = None
    if args.cacert:
        context = ssl.create_default_context(cafile=args.cacert)
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    with open(args.config) as f:
        config = json.load(f)
    boards = config["boards"]
    c = Checker(args.base, headers, args.timeout, context)
    cycles = {}

    def cycle(board, dev, kind):
        key = (hex8(board["board_id"]), hex4(dev["device_id"]), kind)
        if key not in cycles:
            cycles[key] = Cycle(dev.get(kind))
        return cycles[key]

    def t_test():
        body = c.get_json("/test")
        expect(body == {"status": "ok"}, "body %r" % body)

    c.check("GET /test", t_test)

    if args.expect_auth:

        def t_refused(hdrs, what):
            status, body, rh = c.get_full("/scan", hdrs)
            expect(status == 401, "%s: HTTP %d (%r), expected 401" % (what, status, body[:120]))
            challenge = rh.get("WWW-Authenticate") or ""
            expect("Bearer" in challenge, "%s: WWW-Authenticate %r lacks a Bearer challenge" % (what, challenge))
            expect(json.loads(body).get("http_code") == 401, "%s: body %r" % (what, body[:120]))

        c.check("GET /scan without a token -> 401", lambda: t_refused({}, "no token"))
        c.check("GET /scan with a wrong token -> 401", lambda: t_refused({"Authorization": "Bearer wrong-token-0123456789"}, "wrong token"))

    def t_scan():
        body = c.get_json("/scan")
        got = body.get("boards")
        expect(isinstance(got, list) and got, "no boards in %r" % body)
        expect(got[-1].get("board_id") == "40000000", "last board is not the IPMI board 40000000: %r" % got[-1])
        bus = got[:-1]
        want = [b for b in boards if b.get("devices") and "raw_data" not in b]
        expect(
            [b.get("board_id") for b in bus] == [hex8(b["board_id"]) for b in want],
            "boards %s, emulator has %s" % ([b.get("board_id") for b in bus], [hex8(b["board_id"]) for b in want]),
        )
        for gb, wb in zip(bus, want):
            gd = [(d.get("device_id"), canon_type(d.get("device_type"))) for d in gb.get("devices", [])]
            wd = [(hex4(d["device_id"]), canon_type(d["device_type"])) for d in wb["devices"]]
            expect(gd == wd, "board %s devices %s, emulator has %s" % (gb.get("board_id"), gd, wd))

    c.check("GET /scan: every board and device of the emulator, in order", t_scan)

    for board in boards:
        if "firmware_version" not in board or not isinstance(board["firmware_version"], str):
            continue

        def t_version(board=board):
            body = c.get_json("/version/%s" % board["board_id"])
            expect(body.get("firmware_version") == board["firmware_version"], "firmware_version %r" % body.get("firmware_version"))
            expect(body.get("api_version") == "1.1", "api_version %r" % body.get("api_version"))

        c.check("GET /version/%s" % board["board_id"], t_version)

    # Thermistors: two reads each of the first two per board. The node's
    # telemetry poller reads the same devices at its own pace, so which of
    # the device's canned answers a read gets is not ours to predict: every
    # answer must be one of them, converted right.
    for board in boards:
        therms = [d for d in board.get("devices", []) if d["device_type"] == "thermistor"][:2]
        for dev in therms:
            for n in range(2):
                path = "/read/thermistor/%s/%s" % (board["board_id"], dev["device_id"])

                def t_read(path=path, board=board, dev=dev):
                    cyc = cycle(board, dev, "read")
                    body = c.get_json(path)
                    raw = body.get("device_raw")
                    expect(cyc.has(raw), "device_raw %r is not one of the emulator's answers %r" % (raw, cyc.responses))
                    want = thermistor_c(raw)
                    expect(close(body.get("temperature_c"), want, 0.005), "temperature_c %r, expected %.2f" % (body.get("temperature_c"), want))

                c.check("GET %s (read %d)" % (path, n + 1), t_read)

    # Power: status, on, off, status on every power device; each answer is
    # one of the device's canned words (the emulator ignores the action,
    # spec §5.3; the poller reads power status too), decoded right.
    for board in boards:
        for dev in [d for d in board.get("devices", []) if d["device_type"] == "power"]:
            for action in ("status", "on", "off", "status"):
                path = "/power/%s/%s/%s" % (action, board["board_id"], dev["device_id"])

                def t_power(path=path, board=board, dev=dev):
                    cyc = cycle(board, dev, "power")
                    body = c.get_json(path)
                    raw = body.get("pmbus_raw")
                    expect(cyc.has(raw), "pmbus_raw %r is not one of the emulator's answers %r" % (raw, cyc.responses))
                    want = expected_power(str(raw))
                    for k, v in want.items():
                        if isinstance(v, float):
                            expect(close(body.get(k), v, 1e-9), "%s %r, expected %r (raw %r)" % (k, body.get(k), v, raw))
                        else:
                            expect(body.get(k) == v, "%s %r, expected %r (raw %r; %s)" % (k, body.get(k), v, raw, cyc.describe(body.get("pmbus_raw"))))

                c.check("GET %s" % path, t_power)

            def t_asset(board=board, dev=dev):
                body = c.get_json("/read/power/%s/%s/info" % (board["board_id"], dev["device_id"]))
                want = {"board_id": hex8(board["board_id"]), "device_id": hex4(dev["device_id"]), "asset_info": dev.get("asset_info", "")}
                got = {k: body.get(k) for k in want}
                expect(got == want, "%r, expected %r" % (got, want))

            c.check("GET /read/power/%s/%s/info" % (board["board_id"], dev["device_id"]), t_asset)

    # A board the emulator does not have: the bus read times out -> 500.
    absent = "%08x" % (max(int(b["board_id"], 16) for b in boards) + 0x10)

    def t_absent():
        status, body = c.get("/read/thermistor/%s/01ff" % absent)
        expect(status == 500, "HTTP %d (%r), expected 500" % (status, body[:120]))

    c.check("GET /read/thermistor/%s/01ff (no such board) -> 500" % absent, t_absent)

    lat = sorted(c.latencies)
    if lat:
        print("requests: %d, latency median %.0f ms, max %.0f ms" % (len(lat), 1000 * lat[len(lat) // 2], 1000 * lat[-1]))
    print("REST checks: %d passed, %d failed" % (c.passed, c.failed))
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
