//! The dashboard (docs/dashboard.md) in Debian's headless Chromium, driven
//! over the DevTools protocol (`cdp`): it loads without console errors,
//! shows every board and device of the example rack with the values the
//! v1.1 API gives, follows a change in the emulator within 2 s, and lets an
//! operator, not a reader, power a server off.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth_support::peers;
use crate::cdp::Browser;
use crate::common::{example, Server};

const INSTALL: &str = "ci/install-test-deps.sh";
const OPS: &str = "odcre_dash-ops-token-0123456789";
const MON: &str = "odcre_dash-mon-token-0123456789";

fn chromium_available() -> bool {
    peers::available("headless Chromium", &["chromium"], INSTALL)
}

/// The example rack with every answer sequence cut to its first answer, so
/// the poller's cached reading and a live v1.1 read are the same reading.
fn fixed_example_rack(dir: &Path) -> PathBuf {
    let mut rack: Value =
        serde_json::from_slice(&std::fs::read(example("rack.json")).unwrap()).unwrap();
    for board in rack["boards"].as_array_mut().unwrap() {
        for dev in board["devices"].as_array_mut().unwrap() {
            for key in ["read", "power"] {
                let responses = dev
                    .get_mut(key)
                    .and_then(|v| v.get_mut("responses"))
                    .and_then(Value::as_array_mut);
                if let Some(responses) = responses {
                    responses.truncate(1);
                }
            }
        }
    }
    let path = dir.join("rack-fixed.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&rack).unwrap()).unwrap();
    path
}

/// A polling node on `emulator` with 1 s poll intervals, `extra` TOML
/// appended.
fn node(emulator: &Path, extra: &str) -> (Server, tempfile::TempDir) {
    let toml = format!(
        "[emulator]\nconfig = {:?}\n[telemetry.interval_secs]\nthermistor = 1\ntemperature = 1\n\
         humidity = 1\npressure = 1\ncurrent = 1\nfan_speed = 1\npower = 1\nled = 1\n{extra}",
        emulator.display().to_string()
    );
    Server::with_config(&toml)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Waits (bounded) until the poller has read every device once.
fn wait_until_polled(s: &Server, auth: &[(&str, &str)]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = crate::common::request_with(&s.addr, "GET", "/opendcre/2/readings", auth).json();
        let devices = v["devices"].as_array().cloned().unwrap_or_default();
        if !devices.is_empty() && devices.iter().all(|d| !d["time"].is_null()) {
            return v;
        }
        assert!(Instant::now() < deadline, "not polled in 30 s: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The text of a device tile's field, `None` when the page has no such tile.
fn field(b: &mut Browser, tab: &str, key: &str, f: &str) -> Option<String> {
    b.eval(
        tab,
        &format!(
            "(() => {{ const e = document.querySelector('[data-key=\"{key}\"] [data-f=\"{f}\"]'); return e ? e.textContent : null; }})()"
        ),
    )
    .as_str()
    .map(str::to_string)
}

/// A number as the page shows it ("28.78 °C") against the API's value.
fn assert_shown(shown: &str, value: f64, what: &str) {
    let n: f64 = shown
        .split_whitespace()
        .next()
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{what}: {shown:?} is not a number"));
    assert!(
        (n - value).abs() <= 0.005 + 1e-9,
        "{what}: page shows {shown:?}, the API says {value}"
    );
}

#[test]
fn the_page_shows_the_example_rack_as_the_v11_api_reads_it() {
    if !chromium_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (s, _cfg) = node(&fixed_example_rack(dir.path()), "");
    let readings = wait_until_polled(&s, &[]);
    let mut b = Browser::start();
    let tab = b.open(&format!("http://{}/opendcre/dashboard/", s.addr));
    let polled = readings["devices"].as_array().unwrap().len();
    b.wait_for(
        &tab,
        &format!("document.querySelectorAll('.dev').length === {polled}"),
        Duration::from_secs(20),
    );
    // Every board and every device of the v1.1 scan that has a reading
    // (the `none` devices have none and are not drawn).
    let scan = s.get("/opendcre/1.1/scan").json();
    let mut shown = 0;
    for board in scan["boards"].as_array().unwrap() {
        let bid = board["board_id"].as_str().unwrap();
        let devices = board["devices"].as_array().unwrap();
        // The IPMI board's devices are BMCs, drawn as servers; the example
        // rack has none, and then the servers section stays hidden.
        let drawn = if bid == "40000000" {
            "!document.getElementById('servers').hidden".to_string()
        } else {
            format!("!!document.querySelector('section[data-board=\"{bid}\"]')")
        };
        assert_eq!(
            b.eval(&tab, &drawn),
            json!(!devices.is_empty()),
            "board {bid}"
        );
        for d in devices {
            let did = d["device_id"].as_str().unwrap();
            let ty = d["device_type"].as_str().unwrap();
            let key = format!("{bid}/{did}");
            let exists = b.eval(
                &tab,
                &format!("!!document.querySelector('[data-key=\"{key}\"]')"),
            );
            assert_eq!(exists, json!(ty != "none"), "{key} ({ty})");
            // What the v1.1 API reads now. A bus read that times out while
            // the machine is loaded (Chromium and the other tests share two
            // cores) is read again: this test compares values, the bus's
            // timeouts have their own tests.
            let v11 = |path: String| {
                let mut r = s.get(&path);
                for _ in 0..3 {
                    if r.status == 200 {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    r = s.get(&path);
                }
                assert_eq!(
                    r.status,
                    200,
                    "{path}: {}",
                    String::from_utf8_lossy(&r.body)
                );
                r.json()
            };
            match ty {
                "thermistor" => {
                    let t = v11(format!("/opendcre/1.1/read/thermistor/{bid}/{did}"));
                    let text = field(&mut b, &tab, &key, "temperature_celsius").unwrap();
                    assert_shown(&text, t["temperature_c"].as_f64().unwrap(), &key);
                }
                "power" => {
                    let p = v11(format!("/opendcre/1.1/power/status/{bid}/{did}"));
                    let f = |b: &mut Browser, f| field(b, &tab, &key, f).unwrap();
                    assert_eq!(
                        f(&mut b, "power_on"),
                        p["power_status"].as_str().unwrap(),
                        "{key}"
                    );
                    assert_shown(
                        &f(&mut b, "power_input_watts"),
                        p["input_power"].as_f64().unwrap(),
                        &key,
                    );
                    assert_shown(
                        &f(&mut b, "power_input_volts"),
                        p["input_voltage"].as_f64().unwrap(),
                        &key,
                    );
                    assert_shown(
                        &f(&mut b, "power_output_amperes"),
                        p["output_current"].as_f64().unwrap(),
                        &key,
                    );
                    let asset = v11(format!("/opendcre/1.1/read/power/{bid}/{did}/info"));
                    let tag = b.eval(
                        &tab,
                        &format!("document.querySelector('[data-key=\"{key}\"] .tag').textContent"),
                    );
                    assert_eq!(tag, asset["asset_info"], "{key}: asset tag");
                }
                "led" => {
                    let raw = v11(format!("/opendcre/1.1/read/led/{bid}/{did}"))["device_raw"]
                        .as_i64()
                        .unwrap();
                    let want = if raw == 0 { "off" } else { "on" };
                    assert_eq!(field(&mut b, &tab, &key, "led_on").unwrap(), want, "{key}");
                }
                _ => {}
            }
            shown += usize::from(ty != "none");
        }
    }
    assert_eq!(shown, polled);
    // v1.1 leaves humidity, current and decimal temperatures raw (or
    // refuses them): those tiles show the cache's conversion of the same
    // answer (tests/telemetry.rs holds the conversions to v1.1's raw words).
    for d in readings["devices"].as_array().unwrap() {
        let key = format!(
            "{}/{}",
            d["board_id"].as_str().unwrap(),
            d["device_id"].as_str().unwrap()
        );
        for (f, v) in d["values"].as_object().unwrap() {
            let Some(text) = field(&mut b, &tab, &key, f) else {
                assert!(
                    f.starts_with("power_") && f != "power_on",
                    "{key}: {f} not shown"
                );
                continue;
            };
            let v = v.as_f64().unwrap();
            match f.as_str() {
                "relative_humidity_ratio" => assert_shown(&text, v * 100.0, &key),
                "led_on" | "power_on" => {}
                _ => assert_shown(&text, v, &key),
            }
        }
    }
    let errors = b.console_errors(&tab);
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let page_errors = b.eval(&tab, "document.documentElement.dataset.errors || ''");
    assert_eq!(page_errors, json!(""));

    // Page weight and first paint of this first load, for docs/dashboard.md.
    let m = b.eval(
        &tab,
        "(() => { const own = performance.getEntriesByType('resource').filter(r => r.name.includes('/opendcre/dashboard/'));
          const nav = performance.getEntriesByType('navigation')[0];
          const fcp = performance.getEntriesByType('paint').find(p => p.name === 'first-contentful-paint');
          return { html: nav.transferSize, html_body: nav.decodedBodySize,
                   assets: own.reduce((a, r) => a + r.transferSize, 0),
                   assets_body: own.reduce((a, r) => a + r.decodedBodySize, 0),
                   fcp_ms: fcp ? fcp.startTime : null }; })()",
    );
    eprintln!("dashboard first load: {m}");
    let body_bytes = m["html_body"].as_u64().unwrap() + m["assets_body"].as_u64().unwrap();
    assert!(body_bytes > 0 && body_bytes < 50 * 1024, "{m}");
    assert!(
        m["fcp_ms"].as_f64().is_some(),
        "no first contentful paint: {m}"
    );
    if let Ok(path) = std::env::var("OPENDCRE_DASHBOARD_SCREENSHOT") {
        std::fs::write(path, b.screenshot(&tab)).unwrap();
    }
}

#[test]
fn the_page_follows_a_change_in_the_emulator_within_two_seconds() {
    if !chromium_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One thermistor that answers 656 (28.78 °C) four times, then 452
    // (49.xx °C) four times, over and over: polled every second, its value
    // changes in the emulator every 4 s.
    let mut seq = vec![656; 4];
    seq.extend([452; 4]);
    let cfg = json!({"boards": [{"board_id": "00000001", "firmware_version": "dashboard test",
        "devices": [{"device_id": "01ff", "device_type": "thermistor",
                     "read": {"repeatable": true, "responses": seq}}]}]});
    let path = dir.path().join("flip.json");
    std::fs::write(&path, cfg.to_string()).unwrap();
    let (s, _cfg) = node(&path, "");
    wait_until_polled(&s, &[]);
    let mut b = Browser::start();
    let tab = b.open(&format!("http://{}/opendcre/dashboard/", s.addr));
    b.wait_for(
        &tab,
        "!!document.querySelector('[data-f=\"temperature_celsius\"]')",
        Duration::from_secs(20),
    );
    // Note every change of the shown value with the page's clock.
    b.eval(
        &tab,
        "window.seen = []; const v = document.querySelector('[data-key=\"00000001/01ff\"] [data-f=\"temperature_celsius\"]');
         new MutationObserver(() => window.seen.push([Date.now(), v.textContent]))
           .observe(v, { childList: true, characterData: true, subtree: true }); true",
    );
    b.wait_for(&tab, "window.seen.length >= 2", Duration::from_secs(15));
    let seen = b.eval(&tab, "window.seen");
    // When the emulator's answer changed: the poller's read time of the
    // first sample with the new value (history ring), on the same clock.
    let hist = s.get("/opendcre/2/readings/00000001/01ff/history").json();
    let samples = hist["samples"].as_array().unwrap();
    let mut checked = 0;
    for change in seen.as_array().unwrap() {
        let at_page = change[0].as_f64().unwrap() as u64;
        let text = change[1].as_str().unwrap();
        let value: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
        // The first read of this value after a read of another value.
        let changed_at = samples
            .windows(2)
            .filter(|w| {
                let t = |x: &Value| x["values"]["temperature_celsius"].as_f64().unwrap();
                (t(&w[1]) - value).abs() < 0.005 && (t(&w[0]) - value).abs() >= 0.005
            })
            .map(|w| opendcre_telemetry::parse_rfc3339(w[1]["time"].as_str().unwrap()).unwrap())
            .filter(|t| *t <= at_page)
            .max()
            .unwrap_or_else(|| panic!("no read of {text} before the page showed it: {hist}"));
        let latency = at_page - changed_at;
        eprintln!("emulator answered {text} at {changed_at} ms, page showed it {latency} ms later");
        assert!(
            latency <= 2000,
            "the page showed {text} {latency} ms after the change"
        );
        checked += 1;
    }
    assert!(checked >= 2);
    let errors = b.console_errors(&tab);
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// Logs in through the page's form with `token` and waits for the rack.
fn login(b: &mut Browser, tab: &str, token: &str) {
    b.wait_for(
        tab,
        "document.getElementById('login').open",
        Duration::from_secs(20),
    );
    b.eval(
        tab,
        &format!("document.getElementById('token').value = {token:?}; document.getElementById('login-ok').click(); true"),
    );
    b.wait_for(
        tab,
        "document.body.dataset.operate !== undefined && document.querySelectorAll('button[data-action=\"off\"]').length > 0",
        Duration::from_secs(20),
    );
}

/// Clicks "off" on a power tile (enabling the button first, as a reader
/// could in the developer tools), confirms, and returns the status the page
/// reports.
fn power_off(b: &mut Browser, tab: &str, key: &str, confirm: &str) -> String {
    b.eval(
        tab,
        &format!(
            "(() => {{ const btn = document.querySelector('[data-key=\"{key}\"] button[data-action=\"off\"]');
               btn.disabled = false; btn.click(); return document.getElementById('confirm').open; }})()"
        ),
    );
    assert_eq!(
        b.eval(tab, "document.getElementById('confirm').open"),
        json!(true),
        "no confirmation asked"
    );
    b.eval(tab, &format!("document.getElementById('msg').dataset.status = ''; document.getElementById('{confirm}').click(); true"));
    if confirm == "confirm-no" {
        std::thread::sleep(Duration::from_millis(500));
    } else {
        b.wait_for(
            tab,
            "!['', 'pending'].includes(document.getElementById('msg').dataset.status)",
            Duration::from_secs(20),
        );
    }
    b.eval(tab, "document.getElementById('msg').dataset.status")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn answered(log: &[String], path: &str, status: u16) -> usize {
    let needle = format!(" {path} {status} ");
    log.iter().filter(|l| l.contains(&needle)).count()
}

#[test]
fn a_reader_cannot_power_off_through_the_page_and_an_operator_can() {
    if !chromium_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let auth = format!(
        "[auth.tokens]\nops = {{ hash = \"sha256:{}\", role = \"operator\" }}\nmon = {{ hash = \"sha256:{}\", role = \"reader\" }}\n",
        sha256_hex(OPS),
        sha256_hex(MON)
    );
    let (s, _cfg) = node(&fixed_example_rack(dir.path()), &auth);
    let bearer = format!("Bearer {OPS}");
    wait_until_polled(&s, &[("Authorization", &bearer)]);
    let path = "/opendcre/1.1/power/off/00000001/16ff";
    let mut b = Browser::start();
    let url = format!("http://{}/opendcre/dashboard/", s.addr);

    // The reader: the buttons are offered disabled, and forcing one gets a
    // 403 from the server.
    let reader = b.open(&url);
    login(&mut b, &reader, MON);
    assert_eq!(
        b.eval(&reader, "document.body.dataset.operate"),
        json!("false")
    );
    assert_eq!(
        b.eval(
            &reader,
            "[...document.querySelectorAll('button[data-action]')].every(b => b.disabled)"
        ),
        json!(true)
    );
    assert_eq!(
        b.eval(&reader, "document.getElementById('who').textContent"),
        json!("mon (reader)")
    );
    assert_eq!(
        power_off(&mut b, &reader, "00000001/16ff", "confirm-yes"),
        "403"
    );
    if let Ok(dir) = std::env::var("OPENDCRE_DASHBOARD_SCREENSHOTS") {
        // For docs/: the reader's view, buttons disabled, the refusal shown.
        let png = b.screenshot(&reader);
        std::fs::write(Path::new(&dir).join("dashboard-reader.png"), png).unwrap();
    }
    let log = s.log_so_far_as(&[("Authorization", &bearer)]);
    assert_eq!(answered(&log, path, 403), 1, "{}", log.join("\n"));
    assert_eq!(answered(&log, path, 200), 0);

    // The operator, in another tab (its own session storage): enabled
    // buttons; "Cancel" sends nothing, "Do it" powers off.
    let operator = b.open(&url);
    login(&mut b, &operator, OPS);
    assert_eq!(
        b.eval(&operator, "document.body.dataset.operate"),
        json!("true")
    );
    assert_eq!(
        b.eval(
            &operator,
            "[...document.querySelectorAll('button[data-action]')].some(b => b.disabled)"
        ),
        json!(false)
    );
    if let Ok(dir) = std::env::var("OPENDCRE_DASHBOARD_SCREENSHOTS") {
        // For docs/: the confirmation an operator gets.
        b.eval(
            &operator,
            "document.querySelector('[data-key=\"00000001/16ff\"] button[data-action=\"off\"]').click(); true",
        );
        let png = b.screenshot(&operator);
        std::fs::write(Path::new(&dir).join("dashboard-confirm.png"), png).unwrap();
        b.eval(
            &operator,
            "document.getElementById('confirm').close('no'); true",
        );
    }
    power_off(&mut b, &operator, "00000001/16ff", "confirm-no");
    assert_eq!(
        answered(&s.log_so_far_as(&[("Authorization", &bearer)]), path, 200),
        0,
        "cancel sent the request"
    );
    assert_eq!(
        power_off(&mut b, &operator, "00000001/16ff", "confirm-yes"),
        "200"
    );
    let log = s.log_so_far_as(&[("Authorization", &bearer)]);
    assert_eq!(answered(&log, path, 200), 1, "{}", log.join("\n"));
    let msg = b.eval(&operator, "document.getElementById('msg').textContent");
    assert!(msg.as_str().unwrap().contains("done, power is"), "{msg}");
    // The reader's tab still holds the reader (session storage is per tab).
    assert_eq!(
        b.eval(&reader, "document.body.dataset.operate"),
        json!("false")
    );
    for tab in [&reader, &operator] {
        // The 401 of the first whoami (before the login) is the one
        // expected error log entry of a tab.
        let errors: Vec<String> = b
            .console_errors(tab)
            .into_iter()
            .filter(|e| !(e.contains("401") && e.contains("Failed to load resource")))
            .collect();
        let errors: Vec<&String> = errors.iter().filter(|e| !e.contains("403")).collect();
        assert!(errors.is_empty(), "console errors: {errors:?}");
    }
}

/// The directory login of the page (HTTP Basic against a real slapd): the
/// user name and password become the role the directory's groups give.
#[test]
fn a_directory_user_logs_in_through_the_page() {
    if !chromium_available() {
        return;
    }
    let Some(slapd) = crate::auth_support::slapd::Slapd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ldap = format!(
        "[auth.ldap]\nurl = {:?}\ntimeout_ms = 2000\nmode = \"search\"\n\
         bind_dn = \"cn=svc,ou=services,dc=example,dc=org\"\nbind_password = \"svc-pw\"\n\
         user_base = \"ou=people,dc=example,dc=org\"\nuser_filter = \"(uid={{user}})\"\n\
         group_source = \"search\"\ngroup_base = \"ou=groups,dc=example,dc=org\"\n\
         group_roles = {{ \"dcre-operators\" = \"operator\", \"dcre-readers\" = \"reader\" }}\n",
        slapd.url()
    );
    let (s, _cfg) = node(&fixed_example_rack(dir.path()), &ldap);
    let mut b = Browser::start();
    let tab = b.open(&format!("http://{}/opendcre/dashboard/", s.addr));
    let fill = |b: &mut Browser, user: &str, pw: &str| {
        b.eval(
            &tab,
            &format!(
                "document.getElementById('user').value = {user:?}; document.getElementById('pass').value = {pw:?};
                 document.getElementById('login-ok').click(); true"
            ),
        );
    };
    b.wait_for(
        &tab,
        "document.getElementById('login').open",
        Duration::from_secs(20),
    );
    // A wrong password: the page's own dialog asks again.
    fill(&mut b, "alice", "not-her-password");
    b.wait_for(
        &tab,
        "document.getElementById('login').open && !document.getElementById('login-error').hidden",
        Duration::from_secs(20),
    );
    let why = b.eval(&tab, "document.getElementById('login-error').textContent");
    assert!(why.as_str().unwrap().starts_with("Not accepted"), "{why}");
    fill(&mut b, "alice", "alice-pw");
    b.wait_for(
        &tab,
        "document.body.dataset.operate === 'true' && document.querySelectorAll('.dev').length > 0",
        Duration::from_secs(20),
    );
    assert_eq!(
        b.eval(&tab, "document.getElementById('who').textContent"),
        json!("alice (operator)")
    );
    // The password is not left in the form.
    assert_eq!(
        b.eval(&tab, "document.getElementById('pass').value"),
        json!("")
    );
    slapd.stop();
}
