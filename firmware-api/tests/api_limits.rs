//! HTTP limits of `opendcre serve`: slow clients are cut off by the header
//! timeout, bodies are bounded, and the connection limit queues instead of
//! failing.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{data, Server};

fn server_with(toml: &str) -> (Server, tempfile::TempDir) {
    Server::with_config(&format!(
        "[emulator]\nconfig = \"{}\"\n{toml}",
        data("v11-cases.json").display()
    ))
}

#[test]
fn silent_client_is_disconnected_by_the_header_timeout() {
    let (s, _d) = server_with("[server]\nheader_timeout_ms = 300\n");
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /opendcre/1.1/te").unwrap(); // and then nothing
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "connection held for {waited:?}"
    );
    // The server is still healthy for everyone else.
    assert_eq!(s.get("/opendcre/1.1/test").status, 200);
}

#[test]
fn oversized_body_is_413_and_small_body_is_fine() {
    let (s, _d) = server_with("[server]\nmax_body_bytes = 1024\n");
    let send = |n: usize| {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = vec![b'x'; n];
        write!(c, "POST /opendcre/1.1/test HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {n}\r\n\r\n").unwrap();
        let _ = c.write_all(&body);
        let mut raw = Vec::new();
        let _ = c.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).to_string()
    };
    assert!(send(100).starts_with("HTTP/1.1 200"));
    let big = send(64 * 1024);
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
}

#[test]
fn connections_beyond_the_limit_wait_instead_of_failing() {
    let (s, _d) = server_with("[server]\nmax_connections = 2\n");
    // Two idle keep-alive connections take both permits…
    let hold: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // …so a third request waits in the backlog until one of them goes away.
    let addr = s.addr.clone();
    let t = std::thread::spawn(move || common::request(&addr, "GET", "/opendcre/1.1/test").status);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !t.is_finished(),
        "third connection was served despite the limit"
    );
    drop(hold);
    assert_eq!(t.join().unwrap(), 200);
}
