//! HTTP limits of `opendcre serve` against hostile clients: every wait on a
//! client is bounded (first request, headers, body, unread answers), heads
//! and bodies are bounded in size, one address cannot take every slot, and
//! idle connections give way to new requests.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

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

/// A connection to `addr` from the loopback address `source` (127.0.0.x:
/// every one of them is this host), optionally with a small receive buffer
/// set before connecting, so the window stays small.
fn connect_from(addr: &str, source: [u8; 4], rcvbuf: Option<usize>) -> TcpStream {
    let target: SocketAddr = addr.parse().unwrap();
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    if let Some(n) = rcvbuf {
        sock.set_recv_buffer_size(n).unwrap();
    }
    sock.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    sock.connect(&target.into()).unwrap();
    sock.into()
}

/// Reads until the server closes (EOF or reset) or `limit` passes;
/// returns whether it closed, and what arrived.
fn read_until_closed(c: &mut TcpStream, limit: Duration) -> (bool, Vec<u8>) {
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while started.elapsed() < limit {
        match c.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (true, got),
            Err(_) => {}
        }
    }
    (false, got)
}

#[test]
fn a_silent_new_connection_is_closed_by_the_first_request_timeout() {
    // The keep-alive header timeout is long; a connection that never sends
    // a request gets the short first-request limit instead.
    let (s, _d) =
        server_with("[server]\nheader_timeout_ms = 20000\nfirst_request_timeout_ms = 300\n");
    let mut c = TcpStream::connect(&s.addr).unwrap();
    let started = Instant::now();
    let (closed, _) = read_until_closed(&mut c, Duration::from_secs(8));
    assert!(closed, "silent connection still open after 8 s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The kernel's state of our end of a loopback connection (from
/// /proc/net/tcp), without reading from it: "01" is ESTABLISHED.
fn tcp_state(c: &TcpStream) -> Option<String> {
    let local = c.local_addr().ok()?.port();
    let remote = c.peer_addr().ok()?.port();
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let port = |a: &str| u16::from_str_radix(a.rsplit(':').next()?, 16).ok();
        (port(f.get(1)?)? == local && port(f.get(2)?)? == remote)
            .then(|| f.get(3).map(|s| s.to_string()))?
    })
}

#[test]
fn a_client_that_never_reads_its_answers_is_disconnected() {
    let (s, _d) = server_with("[server]\nwrite_timeout_ms = 500\n");
    let c = connect_from(&s.addr, [127, 0, 0, 1], Some(4096));
    // Pipelined requests whose answers (about 170 bytes each) are never
    // read: once the socket buffers are full, the server's writes stall.
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let req = b"GET /opendcre/1.1/test HTTP/1.1\r\nHost: t\r\n\r\n".repeat(1000);
        for _ in 0..400 {
            if w.write_all(&req).is_err() {
                return;
            }
        }
    });
    // Watched in the kernel's table, not by reading (reading would let the
    // server go on): the server must give up on the connection.
    let started = Instant::now();
    let mut state = tcp_state(&c);
    while state.as_deref() == Some("01") && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
        state = tcp_state(&c);
    }
    assert_ne!(
        state.as_deref(),
        Some("01"),
        "still ESTABLISHED after 30 s of unread answers"
    );
    drop(c);
    writer.join().unwrap();
    assert_eq!(s.get("/opendcre/1.1/test").status, 200);
}

#[test]
fn a_body_that_trickles_in_gets_408() {
    let (s, _d) = server_with("[server]\nbody_timeout_ms = 400\n");
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"POST /opendcre/1.1/test HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nx")
        .unwrap();
    let started = Instant::now();
    let (closed, got) = read_until_closed(&mut c, Duration::from_secs(8));
    let text = String::from_utf8_lossy(&got);
    assert!(
        closed && text.starts_with("HTTP/1.1 408"),
        "{closed} {text}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn idle_connections_give_way_to_new_requests() {
    // Long timeouts: only eviction can free a slot within the test.
    let (s, _d) = server_with(
        "[server]\nmax_connections = 2\nfirst_request_timeout_ms = 20000\nheader_timeout_ms = 20000\n",
    );
    // Two idle keep-alive connections take both slots…
    let mut hold: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // …and a new request is served at once: the longest-idle one is closed.
    let started = Instant::now();
    assert_eq!(s.get("/opendcre/1.1/test").status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let (closed, _) = read_until_closed(&mut hold[0], Duration::from_secs(2));
    assert!(closed, "the oldest idle connection was not closed");
}

#[test]
fn when_every_slot_is_busy_a_new_connection_gets_503() {
    // A read from a board that never answers keeps its handler waiting on
    // the bus for the read timeout: that connection is busy, not idle.
    let (s, _d) = server_with("[server]\nmax_connections = 1\n[bus]\nread_timeout_ms = 3000\n");
    let addr = s.addr.clone();
    let busy = std::thread::spawn(move || {
        common::request(&addr, "GET", "/opendcre/1.1/read/thermistor/77/01ff").status
    });
    // Until the busy request holds the slot (it may not have connected yet
    // on a loaded machine: then a request here is served and we ask again).
    let until = Instant::now() + Duration::from_millis(2500);
    let r = loop {
        std::thread::sleep(Duration::from_millis(100));
        let r = s.get("/opendcre/1.1/test");
        if r.status == 503 || Instant::now() > until {
            break r;
        }
    };
    assert_eq!(r.status, 503);
    assert!(r.message().contains("busy"), "{}", r.message());
    assert!(r.header("retry-after").is_some());
    // The busy request was not cut short, and afterwards the slot serves others.
    assert_eq!(busy.join().unwrap(), 500);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.get("/opendcre/1.1/test").status, 200);
}

#[test]
fn a_trickling_body_gives_way_when_the_pool_is_full() {
    // A body that is still arriving is not work in progress: when the pool
    // is full, that connection is closed for a newcomer.
    let (s, _d) = server_with("[server]\nmax_connections = 1\nbody_timeout_ms = 20000\n");
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    slow.write_all(b"POST /opendcre/1.1/test HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nx")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(s.get("/opendcre/1.1/test").status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    let (closed, _) = read_until_closed(&mut slow, Duration::from_secs(2));
    assert!(closed, "the trickling body kept its slot");
}

#[test]
fn one_address_cannot_take_every_slot() {
    let (s, _d) = server_with("[server]\nmax_connections_per_address = 3\n");
    let _hold: Vec<TcpStream> = (0..3)
        .map(|_| connect_from(&s.addr, [127, 0, 0, 2], None))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fourth = connect_from(&s.addr, [127, 0, 0, 2], None);
    let (closed, got) = read_until_closed(&mut fourth, Duration::from_secs(3));
    assert!(closed);
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 503"));
    // Other addresses are served as usual.
    assert_eq!(s.get("/opendcre/1.1/test").status, 200);
}

#[test]
fn oversized_heads_get_431_and_long_targets_414() {
    let (s, _d) = server_with("");
    let big = "a".repeat(100_000);
    let r = common::request_with(&s.addr, "GET", "/opendcre/1.1/test", &[("X-Big", &big)]);
    assert_eq!(r.status, 431);
    // One line over 8 KiB, though the head is under 16 KiB.
    let line = "a".repeat(9 * 1024);
    let r = common::request_with(&s.addr, "GET", "/opendcre/1.1/test", &[("X-Line", &line)]);
    assert_eq!(r.status, 431);
    assert!(r.message().contains("x-line"), "{}", r.message());
    // Several lines under 8 KiB each, 13 KiB in all: fine.
    let part = "a".repeat(6 * 1024);
    let r = common::request_with(
        &s.addr,
        "GET",
        "/opendcre/1.1/test",
        &[("X-One", &part), ("X-Two", &part)],
    );
    assert_eq!(r.status, 200);
    let r = s.get(&format!("/opendcre/1.1/test?{}", "q".repeat(9 * 1024)));
    assert_eq!(r.status, 414);
}
