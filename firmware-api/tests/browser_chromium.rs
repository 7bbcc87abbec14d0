//! The cross-site request forgery policy against a real browser: a page
//! from another origin, opened in Debian's headless Chromium, tries every
//! way a page can make a browser send a state-changing GET with the
//! browser's ambient credentials (here: anonymous loopback access with the
//! operator role, the emulator's default). None may change state; the
//! same URL typed by the user (no foreign page involved) must still work.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth_support::peers;
use crate::common::{data, Server};

const INSTALL: &str = "ci/install-test-deps.sh";

/// A foreign web site: answers every request with `page`; counts requests.
fn foreign_site(page: String) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().map_while(Result::ok) {
            h.fetch_add(1, Ordering::Relaxed);
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    (addr, hits)
}

/// Runs headless Chromium on `url` until the page is done (bounded), and
/// returns the DOM it ended with.
fn chromium(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// Access log lines of requests to `path` answered with `status`
/// ("… opendcre::access: GET /path 403 peer=…"): whether a handler ran is
/// read there, because the emulator's power answers are scripted.
fn answered(log: &[String], path: &str, status: u16) -> usize {
    let needle = format!(" {path} {status} ");
    log.iter().filter(|l| l.contains(&needle)).count()
}

#[test]
fn a_foreign_page_in_chromium_cannot_change_state() {
    if !peers::available("headless Chromium", &["chromium"], INSTALL) {
        return;
    }
    let s = Server::start(&data("v11-cases.json"), &[]);
    let api = format!("http://{}/opendcre/1.1", s.addr);
    let asset_before = s.get("/opendcre/1.1/read/power/1/0dff/info").json()["asset_info"].clone();
    // Every way a page can make the browser send a GET to another origin:
    // an image, a no-cors fetch, a script tag, a form submitted into a
    // frame, and a frame navigated to the URL. It then tries to read.
    let page = format!(
        r#"<!doctype html><html><body>
<img src="{api}/power/off/1/0dff">
<script src="{api}/power/off/1/0dff?as=script"></script>
<iframe name="f"></iframe>
<form id="form" method="GET" action="{api}/power/off/1/0eff" target="f"></form>
<iframe src="{api}/write/power/1/0dff/info/set-by-frame"></iframe>
<script>
fetch("{api}/write/power/1/0dff/info/set-by-fetch", {{mode: "no-cors", credentials: "include"}});
document.getElementById("form").submit();
fetch("{api}/scan").then(r => r.text())
  .then(t => document.body.setAttribute("data-read", "read " + t.length))
  .catch(e => document.body.setAttribute("data-read", "blocked"));
</script></body></html>"#
    );
    let (site, hits) = foreign_site(page);
    // `localhost` is another site than 127.0.0.1 for the browser.
    let dom = chromium(&format!(
        "http://localhost:{}/",
        site.rsplit(':').next().unwrap()
    ));
    assert!(
        hits.load(Ordering::Relaxed) >= 1,
        "chromium never loaded the page"
    );
    // The browser did send the requests (the server logged and refused
    // them), and nothing changed.
    let log = s.log_so_far();
    for path in [
        "/opendcre/1.1/power/off/1/0dff",
        "/opendcre/1.1/power/off/1/0eff",
        "/opendcre/1.1/write/power/1/0dff/info/set-by-frame",
        "/opendcre/1.1/write/power/1/0dff/info/set-by-fetch",
    ] {
        assert_eq!(answered(&log, path, 200), 0, "a foreign page ran {path}");
        assert!(
            answered(&log, path, 403) >= 1,
            "the browser never sent {path}:\n{}",
            log.join("\n")
        );
    }
    assert_eq!(
        s.get("/opendcre/1.1/read/power/1/0dff/info").json()["asset_info"],
        asset_before,
        "a foreign page changed the asset tag"
    );
    // Without CORS the page cannot read the answers either.
    assert!(dom.contains(r#"data-read="blocked""#), "{dom}");

    // The operator typing the URL into the same browser still can.
    let typed = chromium(&format!("{api}/power/off/1/0eff"));
    assert!(typed.contains("power_status"), "{typed}");
    let log = s.log_so_far();
    assert_eq!(answered(&log, "/opendcre/1.1/power/off/1/0eff", 200), 1);
}
