//! Telemetry end to end (issue 15, docs/metrics.md): the real binary on the
//! emulator, scraped and queried over HTTP, checked against the v1.1 API and
//! against `promtool`, Prometheus's own checker.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::{example, request_with, Server};
use crate::auth_support::peers;

/// Waits (bounded) until the poller has read every device once.
fn wait_until_polled(s: &Server) -> Value {
    wait_until_polled_within(s, 30)
}

/// The same with another bound, for slow (paced, low baud) buses.
fn wait_until_polled_within(s: &Server, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = s.get("/opendcre/2/readings");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        let devices = v["devices"].as_array().unwrap();
        let all_read = !devices.is_empty()
            && devices
                .iter()
                .all(|d| !d["time"].is_null() || !d["error"].is_null());
        if all_read {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "poller did not read every device in {secs} s: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of one series line (`name{labels} value`), if present.
fn sample(text: &str, name: &str, board: &str, device: &str) -> Option<f64> {
    let needle = format!("board=\"{board}\",device=\"{device}\"");
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// One device per kind, each with a single answer, so the cache and a live
/// v1.1 read see the same reading.
fn fixed_rack(dir: &Path) -> std::path::PathBuf {
    let dev = |id: &str, ty: &str, resp: Value| json!({"device_id": id, "device_type": ty, "read": {"repeatable": true, "responses": [resp]}});
    let cfg = json!({"boards": [{
        "board_id": "00000001",
        "firmware_version": "telemetry test board",
        "devices": [
            dev("01ff", "thermistor", json!(656)),
            dev("02ff", "temperature", json!(28.78)),
            dev("03ff", "humidity", json!(1486313281u64)),
            dev("04ff", "pressure", json!(101.3)),
            dev("05ff", "current", json!(2320)),
            dev("06ff", "fan_speed", json!(4100)),
            dev("07ff", "led", json!(1)),
            dev("08ff", "led", json!(7)),
            {"device_id": "09ff", "device_type": "power", "asset_info": "psu \"A\"\\1",
             "power": {"repeatable": true, "responses": ["0,1215,4528,2320"]}},
        ]
    }]});
    let path = dir.join("fixed.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    path
}

#[test]
fn scrape_of_the_example_rack_passes_promtool() {
    if !peers::available("promtool", &["promtool"], "ci/install-test-deps.sh") {
        return;
    }
    let s = Server::start_polling(&example("rack.json"), &[]);
    let readings = wait_until_polled(&s);
    assert_eq!(
        readings["devices"].as_array().unwrap().len(),
        32,
        "every polled device of rack.json"
    );
    s.get("/opendcre/1.1/scan"); // an HTTP series for a v1.1 route too
    let r = s.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(r.body).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scrape.prom");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "opendcre_bus_transactions_total{priority=\"background\"}",
        "opendcre_bus_queue_wait_seconds_bucket{priority=\"interactive\",le=\"+Inf\"}",
        "opendcre_http_requests_total{route=\"scan\",method=\"GET\",status=\"200\"} 1",
        "opendcre_http_request_duration_seconds_bucket{route=\"readings\",le=\"+Inf\"}",
        "opendcre_scan_devices{",
        "process_resident_memory_bytes ",
        "opendcre_build_info{version=\"",
        "asset=\"rack-a/node-01/psu-0 SN:VIO-PSU-000101\"",
    ] {
        assert!(text.contains(want), "missing {want}");
    }
}

#[test]
fn cached_values_are_converted_and_equal_live_v11_reads() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_polling(&fixed_rack(dir.path()), &[]);
    wait_until_polled(&s);
    let text = String::from_utf8(s.get("/metrics").body).unwrap();
    let m = |name: &str, dev: &str| {
        sample(&text, name, "00000001", dev)
            .unwrap_or_else(|| panic!("no {name} for {dev} in\n{text}"))
    };
    let v11 = |path: &str| {
        let r = s.get(path);
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    };
    // Converted by v1.1 itself: equal to the number.
    let t = v11("/opendcre/1.1/read/thermistor/00000001/01ff");
    assert_eq!(
        m("opendcre_temperature_celsius", "01ff"),
        t["temperature_c"].as_f64().unwrap()
    );
    let p = v11("/opendcre/1.1/power/status/00000001/09ff");
    assert_eq!(
        m("opendcre_power_input_watts", "09ff"),
        p["input_power"].as_f64().unwrap()
    );
    assert_eq!(
        m("opendcre_power_input_volts", "09ff"),
        p["input_voltage"].as_f64().unwrap()
    );
    assert_eq!(
        m("opendcre_power_output_amperes", "09ff"),
        p["output_current"].as_f64().unwrap()
    );
    assert_eq!(m("opendcre_power_on", "09ff"), 1.0);
    assert_eq!(p["power_status"], "on");
    assert_eq!(m("opendcre_power_ok", "09ff"), 1.0);
    assert_eq!(m("opendcre_power_over_current", "09ff"), 0.0);
    // Left raw by v1.1: the raw answer is the same one, converted here.
    let raw = |path: &str| v11(path)["device_raw"].as_i64().unwrap();
    assert_eq!(raw("/opendcre/1.1/read/humidity/00000001/03ff"), 1486313281);
    assert_eq!(m("opendcre_relative_humidity_ratio", "03ff"), 0.3843);
    assert_eq!(m("opendcre_temperature_celsius", "03ff"), 16.24);
    assert_eq!(raw("/opendcre/1.1/read/current/00000001/05ff"), 2320);
    assert_eq!(m("opendcre_current_amperes", "05ff"), 3.0421313506815366);
    assert_eq!(raw("/opendcre/1.1/read/fan_speed/00000001/06ff"), 4100);
    assert_eq!(m("opendcre_fan_speed_rpm", "06ff"), 4100.0);
    assert_eq!(raw("/opendcre/1.1/read/led/00000001/07ff"), 1);
    assert_eq!(m("opendcre_led_on", "07ff"), 1.0);
    // Decimal text, which v1.1's integer parse refuses (500, unchanged).
    assert_eq!(
        s.get("/opendcre/1.1/read/temperature/00000001/02ff").status,
        500
    );
    assert_eq!(m("opendcre_temperature_celsius", "02ff"), 28.78);
    assert_eq!(m("opendcre_pressure_pascals", "04ff"), 101300.0);
    // An answer that does not convert: the device is down, with its error.
    assert_eq!(m("opendcre_device_up", "08ff"), 0.0);
    assert_eq!(m("opendcre_device_up", "07ff"), 1.0);
    assert!(m("opendcre_device_read_errors_total", "08ff") >= 1.0);
    assert!(sample(&text, "opendcre_led_on", "00000001", "08ff").is_none());
    assert!(
        text.contains("asset=\"psu \\\"A\\\"\\\\1\""),
        "label values are escaped:\n{text}"
    );
}

#[test]
fn openmetrics_is_negotiated() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_polling(&fixed_rack(dir.path()), &[]);
    wait_until_polled(&s);
    let r = request_with(
        &s.addr,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE opendcre_device_reads counter\n"));
    assert!(text.contains("# TYPE opendcre_device info\n"));
    let plain = String::from_utf8(s.get("/metrics").body).unwrap();
    assert!(!plain.contains("# EOF"));
    assert!(plain.contains("# TYPE opendcre_device_reads_total counter\n"));
}

#[test]
fn readings_filters_history_and_scan_refresh() {
    let s = Server::start_polling(&example("rack.json"), &[]);
    wait_until_polled(&s);
    let v = s
        .get("/opendcre/2/readings?board=00000002&kind=power")
        .json();
    let devs = v["devices"].as_array().unwrap();
    assert_eq!(devs.len(), 1, "{v}");
    assert_eq!(devs[0]["device_id"], "06ff");
    assert!(devs[0]["values"]["power_input_watts"].as_f64().unwrap() > 0.0);
    assert!(devs[0]["time"].as_str().unwrap().ends_with('Z'));
    let v = s
        .get("/opendcre/2/readings?board=2&board=3&kind=thermistor&kind=power")
        .json();
    assert_eq!(v["devices"].as_array().unwrap().len(), 3 + 2 + 1 + 1, "{v}");
    assert_eq!(s.get("/opendcre/2/readings?kind=bogus").status, 400);
    assert_eq!(s.get("/opendcre/2/readings?color=red").status, 400);

    let h = s.get("/opendcre/2/readings/00000001/01ff/history").json();
    let n = h["samples"].as_array().unwrap().len();
    assert!(n >= 1, "{h}");
    assert_eq!(h["capacity"], 360);
    let first = h["samples"][0]["time"].as_str().unwrap().to_string();
    let later = s.get("/opendcre/2/readings/00000001/01ff/history?since=2999-01-01T00:00:00Z");
    assert_eq!(later.json()["samples"].as_array().unwrap().len(), 0);
    let at = s.get(&format!(
        "/opendcre/2/readings/1/1ff/history?since={first}&until={first}"
    ));
    assert_eq!(
        at.json()["samples"].as_array().unwrap().len(),
        1,
        "{}",
        at.json()
    );
    assert_eq!(
        s.get("/opendcre/2/readings/00000001/99ff/history").status,
        404
    );
    assert_eq!(
        s.get("/opendcre/2/readings/00000001/01ff/history?since=yesterday")
            .status,
        400
    );

    // A forced scan: POST only (a GET must not start bus work).
    assert_eq!(s.get("/opendcre/2/scan/refresh").status, 405);
    let before = s.get("/opendcre/2/readings").json()["scan"]["time"].clone();
    let r = s.request("POST", "/opendcre/2/scan/refresh");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["devices"], 32);
    let after = s.get("/opendcre/2/readings").json()["scan"]["time"].clone();
    assert_ne!(before, after, "the scan was redone");
    // The v1.1 routes are untouched.
    assert_eq!(s.get("/opendcre/1.1/readings").status, 404);
}

/// With the bus slowed to 4800 Bd, a poller round over rack.json's 32
/// devices takes seconds; an API read still waits for at most the one
/// transaction on the wire, not for the poller's round.
#[test]
fn api_reads_are_not_queued_behind_the_poller() {
    let rack = example("rack.json");
    let (s, _dir) = Server::with_config(&format!(
        "[bus]\nbaud = 4800\n[emulator]\nconfig = {:?}\npace = true\n[telemetry.interval_secs]\nthermistor = 1\nhumidity = 1\ntemperature = 1\npower = 1\nled = 1\ncurrent = 1\n",
        rack.display().to_string()
    ));
    // The first scan and round at 4800 baud take about 30 s on a loaded
    // machine: a wider bound than the other tests need.
    wait_until_polled_within(&s, 120);
    let metrics = || String::from_utf8(s.get("/metrics").body).unwrap();
    let background = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("opendcre_bus_transactions_total{priority=\"background\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap()
    };
    // The poller's round time on this bus.
    let t0 = Instant::now();
    let n0 = background(&metrics());
    std::thread::sleep(Duration::from_secs(2));
    let n1 = background(&metrics());
    let per_tx = t0.elapsed().as_secs_f64() / (n1 - n0).max(1.0);
    let round = per_tx * 32.0;
    assert!(
        round > 1.0,
        "the bus is slow enough for the poller to stay busy ({per_tx} s/tx)"
    );
    for _ in 0..5 {
        let t = Instant::now();
        let r = s.get("/opendcre/1.1/read/thermistor/00000001/01ff");
        let took = t.elapsed().as_secs_f64();
        assert_eq!(r.status, 200);
        assert!(
            took < round / 4.0,
            "an API read took {took:.3} s with a poller round of {round:.3} s: it queued behind the poller"
        );
    }
}

/// A periodic re-scan is one background job per known board, so an API
/// request waits behind one board's scan at most, not behind a scan-all
/// (one transaction that ends with `scan_all_silence_ms` of silence, here
/// 2 s). The first scan is still a scan-all: it finds the boards.
#[test]
fn api_reads_interleave_with_periodic_rescans() {
    let rack = example("rack.json");
    let (s, _dir) = Server::with_config(&format!(
        "[bus]\nscan_all_silence_ms = 2000\n[emulator]\nconfig = {:?}\npace = true\n\
         [telemetry]\nscan_ttl_secs = 1\n[telemetry.interval_secs]\nthermistor = 86400\n\
         humidity = 86400\ntemperature = 86400\npower = 86400\nled = 86400\ncurrent = 86400\n\
         fan_speed = 86400\npressure = 86400\n",
        rack.display().to_string()
    ));
    let first = wait_until_polled(&s);
    assert_eq!(first["scan"]["boards"], 4, "{first}");
    let scan_time = || s.get("/opendcre/2/readings").json()["scan"]["time"].clone();
    let mut times = vec![scan_time()];
    let mut worst = Duration::ZERO;
    let t0 = Instant::now();
    // Re-scans every second (the TTL) plus their own time: reads land
    // inside them most of the time.
    while t0.elapsed() < Duration::from_secs(6) {
        let t = Instant::now();
        let r = s.get("/opendcre/1.1/read/thermistor/00000001/01ff");
        worst = worst.max(t.elapsed());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let now = scan_time();
        if times.last() != Some(&now) {
            times.push(now);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        worst < Duration::from_secs(1),
        "an API read took {worst:?}: it waited behind a whole re-scan (a scan-all takes over 2 s here)"
    );
    assert!(
        times.len() >= 4,
        "at least three periodic re-scans in 6 s: {times:?}"
    );
    let after = s.get("/opendcre/2/readings").json();
    assert_eq!(
        after["scan"]["boards"], 4,
        "every board re-scanned: {after}"
    );
    assert_eq!(after["scan"]["devices"], first["scan"]["devices"]);
}

/// `/metrics` takes `[telemetry] metrics_role` and the anonymous networks;
/// nothing else does.
#[test]
fn metrics_access_follows_the_telemetry_settings() {
    use opendcre_security::auth::{hash_token, HashAlgorithm};
    const MON: &str = "odcre_mon-token-0123456789abcdef";
    const OPS: &str = "odcre_ops-token-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let rack = fixed_rack(dir.path());
    let tokens = format!(
        "[auth.tokens.mon]\nhash = \"{}\"\nrole = \"reader\"\n[auth.tokens.ops]\nhash = \"{}\"\nrole = \"operator\"\n",
        hash_token(MON, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPS, HashAlgorithm::Sha256).unwrap()
    );
    let get = |s: &Server, path: &str, token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let h: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        request_with(&s.addr, "GET", path, &h).status
    };
    let (s, _d) = Server::with_config(&format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nmetrics_anonymous_networks = [\"127.0.0.0/8\"]\n{tokens}",
        rack.display().to_string()
    ));
    assert_eq!(
        get(&s, "/metrics", None),
        200,
        "anonymous from a listed network"
    );
    assert_eq!(get(&s, "/opendcre/2/readings", None), 401, "only /metrics");
    assert_eq!(get(&s, "/opendcre/1.1/test", None), 401);
    assert_eq!(
        get(&s, "/metrics", Some("odcre_wrong")),
        401,
        "a credential is checked"
    );
    drop(s);
    let (s, _d) = Server::with_config(&format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nmetrics_role = \"operator\"\nmetrics_anonymous_networks = [\"192.0.2.0/24\"]\n{tokens}",
        rack.display().to_string()
    ));
    assert_eq!(get(&s, "/metrics", None), 401, "loopback is not listed");
    assert_eq!(
        get(&s, "/metrics", Some(MON)),
        403,
        "a reader may not scrape"
    );
    assert_eq!(get(&s, "/metrics", Some(OPS)), 200);
    assert_eq!(get(&s, "/opendcre/2/readings", Some(MON)), 200);
    assert_eq!(s.request("POST", "/opendcre/2/scan/refresh").status, 401);
}
