#!/usr/bin/env python3
"""Fleet test (issue 15): a real Prometheus scraping N `opendcre serve
--emulator` instances on loopback through the file `opendcre discover` writes.

    python3 ci/fleet-test.py --binary target/release/opendcre [-n 200]
        [--duration 150] [--interval 5] [--base-port 21000] [--keep]

Each instance gets its own rack: a generated emulator config (a different
subset of the boards of rack.json, thermistor and temperature readings
shifted per instance) and, when the binary knows the key, `[telemetry] rack =
"rack-NNN"`. The harness then runs `opendcre discover --probe 127.0.0.1
--port FIRST-LAST --file-sd targets.json`, starts Prometheus (Debian's
/usr/bin/prometheus, its own config and data directory, a free loopback port;
a system Prometheus service is never used) with a `file_sd_configs` job on
that file, waits until every target is known, lets it scrape for --duration
seconds and asks Prometheus' HTTP API for up, failed scrapes and the scrape
duration p99. RSS (VmRSS) and CPU time (utime+stime) of the instances come
from /proc. The result is a Markdown table on stdout (and result.json in the
work directory).

A scrape that answers anything but 200 with the text format counts as
failed (up == 0): before the telemetry core exists, /metrics answers 404 and
every scrape fails; the table says so.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RACK_JSON = os.path.join(ROOT, "firmware-api/emulator-configs/rack.json")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"fleet-test: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"ERROR: {msg}")
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    """Free for a listener: SO_REUSEADDR as the server sets it, so the
    TIME_WAIT connections of an earlier run do not count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def rack_config(template, i):
    """Instance i's emulator config: boards 2..4 of rack.json present or not
    by the bits of i (board 1 always), sensor readings shifted by i."""
    rng = random.Random(i)
    cfg = json.loads(json.dumps(template))
    boards = [b for j, b in enumerate(cfg["boards"]) if j == 0 or (i >> (j - 1)) & 1 == 0]
    shift = (i % 21) - 10
    for b in boards:
        b["firmware_version"] = f"{b['firmware_version']} fleet-{i:03d}"
        for d in b["devices"]:
            if d.get("device_type") not in ("thermistor", "temperature"):
                continue
            read = d.get("read") or {}
            resp = read.get("responses")
            if not isinstance(resp, list):
                continue
            out = []
            for v in resp:
                if isinstance(v, bool):
                    out.append(v)
                elif isinstance(v, int):
                    out.append(max(1, v + shift))
                elif isinstance(v, float):
                    out.append(round(v + shift / 4 + rng.uniform(-0.5, 0.5), 2))
                else:
                    out.append(v)
            read["responses"] = out
            # A different phase of the cycle per instance.
            if out:
                k = rng.randrange(len(out))
                read["responses"] = out[k:] + out[:k]
    cfg["boards"] = boards
    cfg["_comment"] = f"fleet-test instance {i}, generated from rack.json"
    return cfg


def serve_toml(port, emulator, rack):
    text = f'[server]\nlisten = ["127.0.0.1:{port}"]\n\n[emulator]\nconfig = "{emulator}"\n'
    if rack is not None:
        text += f'\n[telemetry]\nrack = "{rack}"\n'
    return text


def telemetry_key_supported(binary, work, template):
    """Whether this binary accepts `[telemetry] rack` (the telemetry branch)."""
    emu = os.path.join(work, "probe-emulator.json")
    with open(emu, "w") as f:
        json.dump(template, f)
    cfg = os.path.join(work, "probe.toml")
    with open(cfg, "w") as f:
        f.write(serve_toml(1, emu, "rack-probe"))
    r = subprocess.run(
        [binary, "serve", "--check-config", "--config", cfg],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if r.returncode != 0:
        log(f"[telemetry] rack not accepted by this binary ({r.stderr.strip()[:200]}); instances run without a rack label")
    return r.returncode == 0


def wait_listening(port, deadline):
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime, stime are fields 14, 15.
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def http_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def prom_query(base, query, at):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": f"{at:.3f}"})
    data = http_json(url, timeout=30)
    if data.get("status") != "success":
        raise RuntimeError(f"query {query}: {data}")
    return data["data"]["result"]


def scalar(result):
    if not result:
        return None
    return float(result[0]["value"][1])


def terminate(procs, grace=10):
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + grace
    for p in procs:
        left = max(0.1, deadline - time.time())
        try:
            p.wait(timeout=left)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/opendcre"))
    ap.add_argument("-n", type=int, default=200, help="instances (default 200)")
    ap.add_argument("--duration", type=int, default=150, help="seconds of scraping measured (default 150)")
    ap.add_argument("--interval", type=int, default=5, help="scrape interval in seconds (default 5)")
    ap.add_argument("--base-port", type=int, default=21000, help="first instance port (default 21000)")
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--work", help="work directory (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()

    if args.n < 1 or args.duration < 2 * args.interval:
        die("need -n >= 1 and --duration >= 2 * --interval")
    for tool in (args.binary, args.prometheus):
        if not os.access(tool, os.X_OK):
            die(f"{tool} is not executable (make build; make deps installs prometheus)")
    ports = range(args.base_port, args.base_port + args.n)
    busy = [p for p in ports if not port_is_free(p)]
    if busy:
        die(f"ports in use in {ports.start}-{ports.stop - 1}: {busy[:10]} (choose --base-port)")

    work = args.work or tempfile.mkdtemp(prefix="opendcre-fleet-")
    os.makedirs(work, exist_ok=True)
    log(f"work directory {work}")
    with open(RACK_JSON) as f:
        template = json.load(f)
    with_rack = telemetry_key_supported(args.binary, work, template)

    instances, prom = [], None
    try:
        # --- the fleet ------------------------------------------------------
        t0 = time.time()
        for i, port in enumerate(ports):
            d = os.path.join(work, f"node-{i:03d}")
            os.makedirs(d, exist_ok=True)
            emu = os.path.join(d, "emulator.json")
            with open(emu, "w") as f:
                json.dump(rack_config(template, i), f)
            cfg = os.path.join(d, "opendcre.toml")
            with open(cfg, "w") as f:
                f.write(serve_toml(port, emu, f"rack-{i:03d}" if with_rack else None))
            errlog = open(os.path.join(d, "stderr.log"), "w")
            p = subprocess.Popen(
                [args.binary, "serve", "--config", cfg],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errlog,
                env={**os.environ, "RUST_LOG": "warn"},
            )
            errlog.close()
            instances.append(p)
        deadline = time.time() + 60
        for port, p in zip(ports, instances):
            if not wait_listening(port, deadline):
                die(f"instance on port {port} did not listen within 60 s (exit {p.poll()}); see {work}/node-*/stderr.log")
        log(f"{args.n} instances listening after {time.time() - t0:.1f} s")

        # --- discovery ------------------------------------------------------
        targets = os.path.join(work, "targets.json")
        t = time.time()
        r = subprocess.run(
            [args.binary, "discover", "--probe", "127.0.0.1", "--port", f"{ports.start}-{ports.stop - 1}",
             "--scheme", "http", "--file-sd", targets, "--concurrency", "64", "-q"],
            capture_output=True, text=True, timeout=300,
        )
        if r.returncode != 0:
            die(f"opendcre discover failed: {r.stderr.strip()}")
        with open(targets) as f:
            found = json.load(f)
        discover_secs = time.time() - t
        if len(found) != args.n:
            die(f"discover found {len(found)} of {args.n} instances")
        log(f"discover found all {args.n} instances in {discover_secs:.1f} s")

        # --- Prometheus -----------------------------------------------------
        prom_port = free_port()
        base = f"http://127.0.0.1:{prom_port}"
        prom_yml = os.path.join(work, "prometheus.yml")
        with open(prom_yml, "w") as f:
            f.write(
                "global:\n"
                f"  scrape_interval: {args.interval}s\n"
                f"  scrape_timeout: {max(1, args.interval - 1)}s\n"
                "scrape_configs:\n"
                "  - job_name: opendcre\n"
                "    honor_labels: true\n"
                "    file_sd_configs:\n"
                f"      - files: ['{targets}']\n"
                "        refresh_interval: 5s\n"
                "    relabel_configs:\n"
                "      - action: labelkeep\n"
                "        regex: __.+|rack|instance|job\n"
            )
        prom_log = open(os.path.join(work, "prometheus.log"), "w")
        prom = subprocess.Popen(
            [args.prometheus, f"--config.file={prom_yml}", f"--storage.tsdb.path={work}/prom-data",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn",
             "--storage.tsdb.retention.time=1d"],
            stdin=subprocess.DEVNULL, stdout=prom_log, stderr=prom_log,
        )
        prom_log.close()
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if prom.poll() is not None or time.time() > deadline:
                die(f"Prometheus did not become ready (see {work}/prometheus.log)")
            time.sleep(0.5)
        deadline = time.time() + 60
        while True:
            active = http_json(f"{base}/api/v1/targets?state=active")["data"]["activeTargets"]
            if len(active) == args.n:
                break
            if time.time() > deadline:
                die(f"Prometheus knows {len(active)} of {args.n} targets after 60 s")
            time.sleep(1)
        # Every target scraped once before the measured window starts.
        time.sleep(args.interval + 1)
        log(f"Prometheus on {base} scrapes {args.n} targets every {args.interval} s; measuring {args.duration} s")

        # --- the measured window --------------------------------------------
        start = time.time()
        ticks0 = [cpu_ticks(p.pid) for p in instances]
        prom_ticks0 = cpu_ticks(prom.pid)
        time.sleep(args.duration)
        end = time.time()
        ticks1 = [cpu_ticks(p.pid) for p in instances]
        prom_ticks1 = cpu_ticks(prom.pid)
        rss = [rss_kib(p.pid) for p in instances]
        prom_rss = rss_kib(prom.pid)
        dead = [i for i, p in enumerate(instances) if p.poll() is not None]
        window = f"[{int(end - start)}s]"
        sel = '{job="opendcre"}'
        q = lambda expr: scalar(prom_query(base, expr, end))  # noqa: E731
        up_now = q(f"sum(up{sel})")
        up_count = q(f"count(up{sel})")
        scrapes = q(f"sum(count_over_time(up{sel}{window}))")
        failed = q(f"sum(count_over_time(up{sel}{window})) - sum(sum_over_time(up{sel}{window}))")
        p99_max = q(f"max(quantile_over_time(0.99, scrape_duration_seconds{sel}{window}))")
        p99_med = q(f"quantile(0.5, quantile_over_time(0.99, scrape_duration_seconds{sel}{window}))")
        dur_max = q(f"max(max_over_time(scrape_duration_seconds{sel}{window}))")
        samples = q(f"sum(scrape_samples_scraped{sel})")
        racks = q(f'count(count by (rack) (up{{job="opendcre", rack!=""}}))')
        health = http_json(f"{base}/api/v1/targets?state=active")["data"]["activeTargets"]
        errors = {}
        for tgt in health:
            if tgt.get("lastError"):
                errors[tgt["lastError"]] = errors.get(tgt["lastError"], 0) + 1

        minutes = (end - start) / 60
        cpu = [(b - a) / CLK_TCK / minutes for a, b in zip(ticks0, ticks1)]
        result = {
            "instances": args.n,
            "instances_exited": dead,
            "scrape_interval_s": args.interval,
            "duration_s": round(end - start, 1),
            "discover_s": round(discover_secs, 2),
            "targets_up_at_end": up_now,
            "targets": up_count,
            "scrapes": scrapes,
            "failed_scrapes": failed,
            "scrape_duration_p99_max_s": p99_max,
            "scrape_duration_p99_median_s": p99_med,
            "scrape_duration_max_s": dur_max,
            "samples_per_scrape_total": samples,
            "distinct_rack_labels": racks,
            "rack_label_configured": with_rack,
            "last_scrape_errors": errors,
            "rss_total_mib": round(sum(rss) / 1024, 1),
            "rss_mean_mib": round(sum(rss) / len(rss) / 1024, 2),
            "rss_max_mib": round(max(rss) / 1024, 2),
            "cpu_s_per_instance_per_min_mean": round(sum(cpu) / len(cpu), 4),
            "cpu_s_per_instance_per_min_max": round(max(cpu), 4),
            "prometheus_rss_mib": round(prom_rss / 1024, 1),
            "prometheus_cpu_s_per_min": round((prom_ticks1 - prom_ticks0) / CLK_TCK / minutes, 3),
        }
        with open(os.path.join(work, "result.json"), "w") as f:
            json.dump(result, f, indent=2)

        def fmt(v, unit="", digits=4):
            if v is None:
                return "n/a"
            if isinstance(v, float) and not v.is_integer():
                return f"{v:.{digits}g}{unit}"
            return f"{int(v)}{unit}"

        rows = [
            ("instances (`opendcre serve --emulator`, own rack each)", f"{args.n}" + (f" ({len(dead)} exited!)" if dead else "")),
            ("targets found by `opendcre discover --probe`", f"{len(found)} in {discover_secs:.1f} s"),
            ("scrape interval", f"{args.interval} s"),
            ("measured duration", f"{end - start:.0f} s"),
            ("scrapes in the window", fmt(scrapes)),
            ("failed scrapes (count_over_time(up) - sum_over_time(up))", fmt(failed)),
            ("targets up at the end", f"{fmt(up_now)} / {fmt(up_count)}"),
            ("scrape_duration_seconds p99 (max over targets / median)", f"{fmt(p99_max, ' s')} / {fmt(p99_med, ' s')}"),
            ("scrape_duration_seconds max", fmt(dur_max, " s")),
            ("samples per round (all targets)", fmt(samples)),
            ("distinct `rack` labels on `up`", fmt(racks) + ("" if with_rack else " (binary has no [telemetry] rack)")),
            ("total RSS of the instances (VmRSS)", f"{sum(rss) / 1024:.1f} MiB (mean {sum(rss) / len(rss) / 1024:.2f}, max {max(rss) / 1024:.2f} MiB)"),
            ("CPU s per instance per minute (utime+stime)", f"mean {sum(cpu) / len(cpu):.4f}, max {max(cpu):.4f}"),
            ("Prometheus itself", f"RSS {prom_rss / 1024:.0f} MiB, {result['prometheus_cpu_s_per_min']} CPU s/min"),
        ]
        print("| measure | value |\n|---|---|")
        for k, v in rows:
            print(f"| {k} | {v} |")
        for err, n in sorted(errors.items(), key=lambda e: -e[1]):
            print(f"\nlast scrape error on {n} target(s): `{err}`")
        ok = not dead and failed == 0 and up_now == args.n
        return 0 if ok else 3
    finally:
        if prom is not None:
            terminate([prom])
        terminate(instances)
        if args.keep or args.work:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
