#!/usr/bin/env python3
"""Latency of a legitimate request while hostile clients hold connections.

Starts `opendcre serve` on the example rack (emulator, anonymous loopback
access), opens the hostile connections of one attack at a time, and times
fresh-connection `GET /opendcre/1.1/test` requests from 127.0.0.1 while the
attack runs. Hostile clients connect from other loopback addresses
(127.0.0.2 …), spread over `--sources` addresses, so a per-address cap alone
does not explain the result; `--sources 1` puts them all on one address.

Prints a Markdown table; asserts nothing about speed (benchmarks are read,
not timed tests). Usage:
    ci/bench-dos.py --binary target/release/opendcre [--conns 256] [--sources 16]
"""

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

RACK = os.path.join(os.path.dirname(__file__), "..", "firmware-api", "emulator-configs", "rack.json")
LEGIT_TIMEOUT = 30.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def legit_request(port):
    """One request on a fresh connection: (seconds, status or error)."""
    started = time.monotonic()
    try:
        async def go():
            r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.1", 0))
            w.write(b"GET /opendcre/1.1/test HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            await w.drain()
            data = await r.read()
            w.close()
            return data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.1 ") else "no answer"
        status = await asyncio.wait_for(go(), LEGIT_TIMEOUT)
    except asyncio.TimeoutError:
        status = "timeout"
    except OSError as e:
        status = type(e).__name__
    return time.monotonic() - started, status


async def measure(port, n, gap=0.2):
    results = []
    for _ in range(n):
        results.append(await legit_request(port))
        await asyncio.sleep(gap)
    ok = sorted(t for t, s in results if s == "200")
    failures = [s for _, s in results if s != "200"]
    def ms(x):
        return f"{x * 1000:.0f}" if x < 10 else f"{x:.1f} s"
    row = {
        "ok": f"{len(ok)}/{n}",
        "p50": ms(statistics.median(ok)) if ok else "-",
        "max": ms(max(t for t, _ in results)),
        "failures": ", ".join(sorted(set(failures))) or "-",
    }
    return row


async def connect_from(port, source):
    r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return r, w


def sources(k):
    return [f"127.0.0.{2 + i}" for i in range(k)]


class Attack:
    """Keeps `conns` hostile connections open: each one that the server
    closes is opened again at once, as a real attacker would."""

    def __init__(self, port, conns, k):
        self.port, self.conns, self.srcs = port, conns, sources(k)
        self.tasks, self.opened, self.failed = [], 0, 0
        self.writers = set()
        self.stopped = False

    async def start(self, behaviour):
        async def one(i):
            while not self.stopped:
                try:
                    r, w = await asyncio.wait_for(connect_from(self.port, self.srcs[i % len(self.srcs)]), 5)
                except (OSError, asyncio.TimeoutError):
                    self.failed += 1
                    await asyncio.sleep(0.1)
                    continue
                self.opened += 1
                self.writers.add(w)
                try:
                    await behaviour(r, w)
                except (OSError, asyncio.IncompleteReadError):
                    pass
                finally:
                    self.writers.discard(w)
                    w.transport.abort()
        self.tasks = [asyncio.create_task(one(i)) for i in range(self.conns)]

    async def stop(self):
        # Closing the sockets ends every behaviour (its reads see the end);
        # cancelling alone can be lost inside asyncio.wait_for on 3.11.
        self.stopped = True
        for w in list(self.writers):
            w.transport.abort()
        for t in self.tasks:
            t.cancel()
        await asyncio.wait(self.tasks, timeout=5)


async def closed_within(r, seconds):
    """Reads what the server sends for up to `seconds`; True once it closed."""
    try:
        while True:
            data = await asyncio.wait_for(r.read(65536), seconds)
            if not data:
                return True
    except asyncio.TimeoutError:
        return False


async def idle(r, w):
    await closed_within(r, 3600)


async def slow_headers(r, w):
    w.write(b"GET /opendcre/1.1/test HTTP/1.1\r\n")
    while not await closed_within(r, 5):
        w.write(b"X-a: b\r\n")


async def slow_body(r, w):
    w.write(b"POST /opendcre/1.1/test HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    while not await closed_within(r, 5):
        w.write(b"x")


async def never_read(r, w):
    # Pipelined requests whose answers are never read: the server's writes
    # fill both socket buffers and then stall. The connection is over when
    # the server resets it (our writes fail or the transport closes).
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = b"GET /opendcre/1.1/test HTTP/1.1\r\nHost: x\r\n\r\n" * 100
    while not w.transport.is_closing():
        w.write(req)
        try:
            await asyncio.wait_for(w.drain(), 0.5)
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(0.05)


async def big_header(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(b"GET /opendcre/1.1/test HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\nConnection: close\r\n\r\n")
    try:
        await w.drain()
        data = await asyncio.wait_for(r.read(), 10)
    except (OSError, asyncio.TimeoutError) as e:
        return type(e).__name__
    w.close()
    return data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without an answer"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--conns", type=int, default=256)
    ap.add_argument("--sources", type=int, default=16)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--settle", type=float, default=3.0, help="seconds between opening the attack and measuring")
    a = ap.parse_args()
    port = free_port()
    srv = subprocess.Popen([a.binary, "serve", "--emulator", RACK, "--listen", f"127.0.0.1:{port}",
                            "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"binary: {a.binary}; {a.conns} hostile connections from {a.sources} address(es); "
              f"{a.requests} legitimate requests per attack, fresh connection each\n")
        print("| attack | legit ok | p50 ms | max | failures | hostile connections made |")
        print("|---|---|---|---|---|---|")
        row = await measure(port, a.requests)
        print(f"| none | {row['ok']} | {row['p50']} | {row['max']} | {row['failures']} | - |")
        for name, behaviour in [("idle connections", idle), ("slow headers (a line / 5 s)", slow_headers),
                                ("slow bodies (a byte / 5 s)", slow_body), ("never-reading clients", never_read)]:
            attack = Attack(port, a.conns, a.sources)
            await attack.start(behaviour)
            await asyncio.sleep(a.settle)
            row = await measure(port, a.requests)
            print(f"| {name} | {row['ok']} | {row['p50']} | {row['max']} | {row['failures']} | {attack.opened} |", flush=True)
            await attack.stop()
            await asyncio.sleep(1)
        print(f"\n100 KB header line: `{await big_header(port)}`")
        with open(f"/proc/{srv.pid}/status") as f:
            hwm = [l.split(None, 1)[1].strip() for l in f if l.startswith("VmHWM")]
        print(f"server VmHWM: {hwm[0] if hwm else '?'}")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(15)
        except subprocess.TimeoutExpired:
            srv.kill()


if __name__ == "__main__":
    asyncio.run(main())
