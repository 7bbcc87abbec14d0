//! What a web browser can make the API do: HEAD never changes state, pages
//! from other sites cannot change state with the browser's ambient
//! credentials, and CORS is off unless configured. The same rules against a
//! real Chromium are in `browser_chromium`.

use crate::common;

use common::{data, Server};

fn cases() -> Server {
    Server::start(&data("v11-cases.json"), &[])
}

/// Whether the access log shows a request to `path` answered with 200, i.e.
/// its handler ran (the emulator's power answers are scripted, so the power
/// state cannot tell).
fn ran(s: &Server, path: &str) -> bool {
    // Access log lines: "… opendcre::access: GET /path 200 peer=…".
    let needle = format!(" {path} 200 ");
    s.log_so_far().iter().any(|l| l.contains(&needle))
}

fn asset(s: &Server) -> String {
    s.get("/opendcre/1.1/read/power/1/0dff/info").json()["asset_info"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn head_on_a_write_route_is_refused_and_changes_nothing() {
    let s = cases();
    let before = asset(&s);
    let r = s.request(
        "HEAD",
        "/opendcre/1.1/write/power/1/0dff/info/changed-by-head",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
    assert_eq!(asset(&s), before, "a HEAD changed the asset tag");
    let r = s.request("HEAD", "/opendcre/1.1/power/off/1/0dff");
    assert_eq!(r.status, 405);
    assert!(
        !ran(&s, "/opendcre/1.1/power/off/1/0dff"),
        "the power handler ran for a HEAD"
    );
    // Reads still answer HEAD.
    assert_eq!(s.request("HEAD", "/opendcre/1.1/test").status, 200);
}

#[test]
fn a_foreign_page_cannot_change_state() {
    let s = cases();
    let off = "/opendcre/1.1/power/off/1/0dff";
    for headers in [
        vec![
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "no-cors"),
        ],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Origin", "http://evil.example")],
        vec![("Origin", "null")],
    ] {
        let r = common::request_with(&s.addr, "GET", off, &headers);
        assert_eq!(r.status, 403, "{headers:?}");
        assert!(
            r.message().contains("may not change device state"),
            "{}",
            r.message()
        );
    }
    assert!(!ran(&s, off), "a cross-site request switched power");
    // Reads from foreign pages are answered (the browser keeps the answer
    // from the page: there is no CORS header).
    let r = common::request_with(
        &s.addr,
        "GET",
        "/opendcre/1.1/read/thermistor/1/01ff",
        &[
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "http://evil.example"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    // The user typing the URL, the node's own pages and scripts may.
    let own = format!("http://{}", s.addr);
    for headers in [
        vec![("Sec-Fetch-Site", "none")],
        vec![("Sec-Fetch-Site", "same-origin"), ("Origin", own.as_str())],
        vec![],
    ] {
        let r = common::request_with(&s.addr, "GET", off, &headers);
        assert_eq!(
            r.status,
            200,
            "{headers:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert!(ran(&s, off));
}

#[test]
fn cors_only_for_configured_origins() {
    let (s, _d) = Server::with_config(&format!(
        "[server]\ncors_allowed_origins = [\"https://dash.example\"]\n[emulator]\nconfig = \"{}\"\n",
        data("v11-cases.json").display()
    ));
    let r = common::request_with(
        &s.addr,
        "OPTIONS",
        "/opendcre/1.1/power/on/1/0dff",
        &[
            ("Origin", "https://dash.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dash.example")
    );
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, OPTIONS")
    );
    let r = common::request_with(
        &s.addr,
        "GET",
        "/opendcre/1.1/power/off/1/0dff",
        &[
            ("Origin", "https://dash.example"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
    );
    assert_eq!(r.status, 200, "a configured origin may write");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://dash.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    let r = common::request_with(
        &s.addr,
        "GET",
        "/opendcre/1.1/power/on/1/0dff",
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn bad_cors_origins_are_configuration_errors() {
    for bad in [
        "dash.example",
        "https://dash.example/path",
        "https://*.example",
        "ftp://x",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("opendcre.toml");
        std::fs::write(
            &cfg,
            format!("[server]\ncors_allowed_origins = [\"{bad}\"]\n"),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_opendcre"))
            .args(["serve", "--check-config", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cors_allowed_origins"), "{bad}: {err}");
    }
}
