//! Shared harness for the auth_* and tls_* integration tests: a test PKI,
//! a fake bus board, the real HTTP server with security switched on, an
//! HTTP(S) client, a loopback slapd and a JWKS endpoint.
#![allow(dead_code)]

pub mod board;
pub mod client;
pub mod jwks;
#[path = "../peers.rs"]
pub mod peers;
pub mod pki;
pub mod server;
pub mod slapd;

use std::net::{SocketAddr, TcpListener};

/// A port that was free a moment ago on 127.0.0.1 (for peers that need a
/// port number before they start, like slapd).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
