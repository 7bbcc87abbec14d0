//! The dashboard's server side over plain HTTP: the event stream
//! (`GET /opendcre/2/events`) within the connection rules, `whoami`, and
//! the page's files (docs/dashboard.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{data, example, request_with, Server};

const MON: &str = "odcre_events-mon-token-012345";

fn polling_node(extra: &str) -> (Server, tempfile::TempDir) {
    let toml = format!(
        "[emulator]\nconfig = {:?}\n[telemetry.interval_secs]\nthermistor = 1\ntemperature = 1\n\
         humidity = 1\npower = 1\n{extra}",
        example("rack.json").display().to_string()
    );
    Server::with_config(&toml)
}

/// An open event stream: the head is read, events are read on demand.
struct Stream {
    reader: BufReader<TcpStream>,
    pub head: Vec<String>,
}

impl Stream {
    fn open(addr: &str, query: &str) -> Stream {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "GET /opendcre/2/events{query} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(s);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end().to_string();
            if line.is_empty() {
                break;
            }
            head.push(line);
        }
        Stream { reader, head }
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The next event's `data:` as JSON, skipping keep-alive comments;
    /// `None` at the end of the stream. Reads the chunked framing line by
    /// line: chunk sizes are hex-only lines, events never are.
    fn next_event(&mut self) -> Option<Value> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if line == "0" {
                return None;
            }
            if let Some(data) = line.strip_prefix("data: ") {
                return Some(serde_json::from_str(data).expect("event data is JSON"));
            }
        }
    }
}

#[test]
fn the_stream_carries_the_readings_and_ends_after_max_events() {
    let (s, _dir) = polling_node("");
    let mut st = Stream::open(&s.addr, "?max_events=3");
    assert!(st.head[0].contains(" 200 "), "{:?}", st.head);
    assert_eq!(
        st.header("content-type").as_deref(),
        Some("text/event-stream")
    );
    assert_eq!(st.header("cache-control").as_deref(), Some("no-store"));
    let first = st.next_event().expect("the first event comes at once");
    assert!(
        first["devices"].is_array() && first["scan"].is_object(),
        "{first}"
    );
    let started = Instant::now();
    assert!(st.next_event().is_some() && st.next_event().is_some());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "events follow the 1 s polls"
    );
    assert!(st.next_event().is_none(), "the stream ends after 3 events");
    // The same document as the readings route.
    let last = s.get("/opendcre/2/readings").json();
    assert_eq!(last["rack"], first["rack"]);

    for bad in ["?max_events=0", "?max_events=x", "?since=1"] {
        let r = s.get(&format!("/opendcre/2/events{bad}"));
        assert_eq!(r.status, 400, "{bad}");
    }
    assert_eq!(s.request("HEAD", "/opendcre/2/events").status, 405);
    assert_eq!(s.request("POST", "/opendcre/2/events").status, 405);
}

#[test]
fn the_stream_is_off_with_telemetry() {
    let s = Server::start(&data("v11-cases.json"), &[]);
    assert_eq!(s.get("/opendcre/2/events").status, 404);
}

/// A stream is busy for the admission table: a full pool evicts an idle
/// connection, never the stream; and streams get a quarter of the pool.
#[test]
fn a_healthy_stream_survives_a_full_pool_and_streams_are_capped() {
    let (s, _dir) =
        polling_node("[server]\nmax_connections = 4\nmax_connections_per_address = 8\n");
    let mut st = Stream::open(&s.addr, "");
    st.next_event().unwrap();
    // A quarter of 4: one stream.
    let r = s.get("/opendcre/2/events");
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("retry-after"), Some("5"));
    // Fill the pool with idle keep-alive connections, then more: each new
    // one evicts an idle one, and the stream keeps flowing.
    let mut idle = Vec::new();
    for _ in 0..6 {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(c, "GET /opendcre/1.1/test HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        let _ = c.read(&mut buf);
        idle.push(c);
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..3 {
        assert!(st.next_event().is_some(), "the stream was cut");
    }
}

#[test]
fn whoami_says_role_and_permissions_and_the_files_are_public() {
    let auth = format!(
        "[auth.tokens]\nmon = {{ hash = \"sha256:{}\", role = \"reader\" }}\n\
         [auth.ldap]\nurl = \"ldap://127.0.0.1:9\"\nuser_base = \"dc=example\"\ngroup_base = \"dc=example\"\ntimeout_ms = 500\n",
        Sha256::digest(MON.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let (s, _dir) = polling_node(&auth);
    let bearer = format!("Bearer {MON}");
    let me = request_with(
        &s.addr,
        "GET",
        "/opendcre/2/whoami",
        &[("Authorization", &bearer)],
    );
    assert_eq!(me.status, 200);
    let me = me.json();
    assert_eq!(me["name"], "mon");
    assert_eq!(me["role"], "reader");
    assert_eq!(me["method"], "token");
    assert_eq!(me["permissions"], serde_json::json!(["read"]));
    // No credentials: 401. A browser's address bar gets the Basic
    // challenge; a script's fetch does not, so the browser shows no login
    // prompt of its own and keeps no password.
    let typed = s.get("/opendcre/2/whoami");
    assert_eq!(typed.status, 401);
    let challenges = |r: &crate::common::Response| -> Vec<String> {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert!(
        challenges(&typed).iter().any(|c| c.starts_with("Basic")),
        "{:?}",
        typed.headers
    );
    let fetched = request_with(
        &s.addr,
        "GET",
        "/opendcre/2/whoami",
        &[("Sec-Fetch-Dest", "empty")],
    );
    assert_eq!(fetched.status, 401);
    let c = challenges(&fetched);
    assert!(
        !c.is_empty() && c.iter().all(|c| c.starts_with("Bearer")),
        "{c:?}"
    );
    // The page's files need no credentials; the data does.
    for (path, ty) in [
        ("/opendcre/dashboard/", "text/html"),
        ("/opendcre/dashboard", "text/html"),
        ("/opendcre/dashboard/app.js", "text/javascript"),
        ("/opendcre/dashboard/app.css", "text/css"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").unwrap().starts_with(ty), "{path}");
        assert!(r
            .header("content-security-policy")
            .unwrap()
            .starts_with("default-src 'self'"));
        let etag = r.header("etag").unwrap().to_string();
        let again = request_with(&s.addr, "GET", path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
    }
    assert_eq!(s.get("/opendcre/2/readings").status, 401);
    assert_eq!(s.get("/opendcre/2/events").status, 401);
}
