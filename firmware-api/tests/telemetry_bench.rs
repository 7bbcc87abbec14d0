//! Telemetry numbers for issue 15 (measurements, not pass/fail timing tests):
//!
//! ```text
//! cargo test --release -p opendcre --test integration telemetry_bench:: -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `/metrics` scrape latency p50/p99 on a 100-device rack (4 boards × 25);
//! - v1.1 read latency p50/p99 with the poller off and on (the emulator
//!   paced at 115200 Bd, so poller transactions really occupy the line);
//! - the service's VmHWM with the poller and history on. History rings are
//!   allocated whole at scan time, so the high-water mark after a few
//!   minutes includes full rings.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::Server;

/// 100 devices: per board 15 thermistors, 2 humidity, 2 temperature,
/// 1 current, 3 power, 1 LED, 1 pressure.
fn rack_100(dir: &Path) -> PathBuf {
    let mut boards = Vec::new();
    for b in 1..=4u32 {
        let mut devices: Vec<Value> = Vec::new();
        let mut add = |ty: &str, key: &str, resp: Value| {
            let id = format!("{:02x}ff", devices.len() + 1);
            devices.push(json!({"device_id": id, "device_type": ty, key: {"repeatable": true, "responses": resp}}));
        };
        for i in 0..15 {
            add("thermistor", "read", json!([600 + i, 610 + i, 620 + i]));
        }
        for _ in 0..2 {
            add("humidity", "read", json!([412309296u64, 417683368u64]));
            add("temperature", "read", json!([28.78, 29.35]));
        }
        add("current", "read", json!([2320, 2318]));
        for _ in 0..3 {
            add(
                "power",
                "power",
                json!(["0,1215,4528,2320", "0,1198,4530,2318"]),
            );
        }
        add("led", "read", json!([0]));
        add("pressure", "read", json!([101.3, 101.2]));
        assert_eq!(devices.len(), 25);
        boards.push(json!({"board_id": format!("{b:08x}"), "firmware_version": "bench", "devices": devices}));
    }
    let path = dir.join("rack100.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&json!({ "boards": boards })).unwrap(),
    )
    .unwrap();
    path
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)].as_secs_f64() * 1000.0;
    (at(0.50), at(0.99))
}

fn timed(s: &Server, path: &str, n: usize) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let r = s.get(path);
            let took = t.elapsed();
            assert_eq!(r.status, 200, "{path}");
            took
        })
        .collect()
}

fn vm(pid: u32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

fn serve(rack: &Path, telemetry: &str) -> (Server, tempfile::TempDir) {
    Server::with_config(&format!(
        "[emulator]\nconfig = {:?}\npace = true\n[log]\naccess_log = false\n{telemetry}",
        rack.display().to_string()
    ))
}

fn wait_polled(s: &Server, devices: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let v = s.get("/opendcre/2/readings").json();
        let d = v["devices"].as_array().unwrap();
        if d.len() == devices && d.iter().all(|d| !d["time"].is_null()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("poller did not read {devices} devices in 60 s");
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (release build)"]
fn telemetry_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let rack = rack_100(dir.path());

    // Scrape latency and memory: poller on, default intervals.
    let (s, _d) = serve(&rack, "");
    wait_polled(&s, 100);
    let _ = timed(&s, "/metrics", 50);
    let scrape = timed(&s, "/metrics", 1000);
    let (p50, p99) = percentiles(scrape);
    let bytes = s.get("/metrics").body.len();
    println!("scrape /metrics, 100 devices ({bytes} bytes): p50 {p50:.3} ms, p99 {p99:.3} ms (1000 scrapes)");
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(60) {
        let _ = s.get("/metrics");
        let _ = s.get("/opendcre/2/readings");
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "poller + history (360 samples/device, rings allocated at scan), after 60 s of scrapes: VmHWM {}, VmRSS {}",
        vm(s.pid(), "VmHWM:"),
        vm(s.pid(), "VmRSS:")
    );
    drop(s);

    // v1.1 reads with the poller off, then on at 1 s intervals (ten times
    // the default load, so collisions with poller transactions show up).
    let read = "/opendcre/1.1/read/thermistor/00000001/01ff";
    let (off, _d1) = serve(&rack, "[telemetry]\nenabled = false\n");
    let _ = timed(&off, read, 50);
    let (p50_off, p99_off) = percentiles(timed(&off, read, 2000));
    println!(
        "baseline, poller off (same in-process emulator), after 2050 v1.1 reads: VmHWM {}",
        vm(off.pid(), "VmHWM:")
    );
    drop(off);
    for (label, cfg) in [
        ("default intervals", String::new()),
        (
            "every kind at 1 s",
            "[telemetry.interval_secs]\nthermistor = 1\ntemperature = 1\nhumidity = 1\npressure = 1\ncurrent = 1\npower = 1\nled = 1\n"
                .to_string(),
        ),
    ] {
        let (on, _d2) = serve(&rack, &cfg);
        wait_polled(&on, 100);
        let _ = timed(&on, read, 50);
        let (p50_on, p99_on) = percentiles(timed(&on, read, 2000));
        println!(
            "v1.1 read (2000, paced 115200 Bd): poller off p50 {p50_off:.3} ms p99 {p99_off:.3} ms; poller on ({label}) p50 {p50_on:.3} ms p99 {p99_on:.3} ms ({:+.1} % p99)",
            (p99_on / p99_off - 1.0) * 100.0
        );
    }
}
