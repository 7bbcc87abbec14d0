//! Latency of one request on a new connection, with and without TLS and
//! with each kind of credential, against the real server on loopback.
//!
//!     cargo run --release --example tls_bench -- [N]
//!
//! Every sample is: TCP connect, (full TLS handshake unless marked
//! "resumed": the client keeps no session), one GET
//! /opendcre/1.1/test, response read, connection dropped. Client and server
//! share this process and machine, so a sample includes both sides' CPU.
//! One keep-alive row shows the request cost once the handshake is paid.

#[path = "../tests/auth_support/mod.rs"]
mod auth_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_support::client::{bearer, send_on, tls_config, without_resumption, Client};
use auth_support::pki::{write, Ca};
use auth_support::server::TestApi;
use http::Method;
use hyper_util::rt::TokioIo;
use opendcre_security::auth::{
    hash_token, AnonymousConfig, AuthConfig, ClientCertConfig, HashAlgorithm, RateLimitConfig,
    Role, Secret, TokenEntry, TokenStore,
};
use opendcre_security::tls::{ClientAuthMode, TlsConfig};

const PATH: &str = "/opendcre/1.1/test";
const SHA_TOKEN: &str = "odcre_bench-sha256-token-0123456789abcdef";
const ARGON_TOKEN: &str = "odcre_bench-argon2-token-0123456789abcdef";

/// Name, client, address, request headers.
type Case<'a> = (
    &'static str,
    &'a Client,
    std::net::SocketAddr,
    Vec<(&'static str, String)>,
);

struct Row {
    name: &'static str,
    samples: Vec<Duration>,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("bench CA");
    let clients = Ca::new("bench client CA");
    let server = ca.server();
    let tls = TlsConfig {
        enabled: true,
        cert: write(dir.path(), "s.crt", &server.cert_pem),
        key: write(dir.path(), "s.key", &server.key_pem),
        client_ca: Some(write(dir.path(), "clients.pem", &clients.pem)),
        client_auth: ClientAuthMode::Optional,
        ..TlsConfig::default()
    };
    let mut tokens = BTreeMap::new();
    tokens.insert(
        "sha".to_string(),
        TokenEntry {
            hash: hash_token(SHA_TOKEN, HashAlgorithm::Sha256).unwrap(),
            role: Role::Reader,
        },
    );
    tokens.insert(
        "argon".to_string(),
        TokenEntry {
            hash: hash_token(ARGON_TOKEN, HashAlgorithm::Argon2id).unwrap(),
            role: Role::Reader,
        },
    );
    let mut cert_roles = BTreeMap::new();
    cert_roles.insert("bench".to_string(), Role::Reader);
    let auth = AuthConfig {
        tokens,
        anonymous: AnonymousConfig {
            enabled: true,
            role: Role::Reader,
            loopback_only: true,
        },
        client_cert: ClientCertConfig {
            roles: cert_roles,
            default_role: None,
        },
        rate_limit: RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        ..AuthConfig::default()
    };
    let api = TestApi::start(&auth, Some(&tls)).await;
    let plain = Client::plain();
    let full = |c| Client::tls(without_resumption(&c));
    let v13_cfg = tls_config(&ca.pem, None, &[&rustls::version::TLS13]);
    let v13 = full(v13_cfg.clone());
    let v13_resumed = Client::tls(v13_cfg);
    let v12 = full(tls_config(&ca.pem, None, &[&rustls::version::TLS12]));
    let mtls = full(tls_config(
        &ca.pem,
        Some(&clients.client("bench")),
        &[&rustls::version::TLS13],
    ));
    let sha = bearer(SHA_TOKEN);
    let argon = bearer(ARGON_TOKEN);
    let auth_hdr = |v: &str| vec![("authorization", v.to_string())];
    let cases: Vec<Case> = vec![
        ("HTTP, anonymous (loopback)", &plain, api.plain, vec![]),
        (
            "HTTP, bearer sha256 token",
            &plain,
            api.plain,
            auth_hdr(&sha),
        ),
        (
            "HTTP, bearer argon2id token (cached)",
            &plain,
            api.plain,
            auth_hdr(&argon),
        ),
        (
            "TLS 1.3 full handshake, anonymous",
            &v13,
            api.tls_addr(),
            vec![],
        ),
        (
            "TLS 1.3 full handshake, bearer sha256",
            &v13,
            api.tls_addr(),
            auth_hdr(&sha),
        ),
        (
            "TLS 1.3 resumed session, bearer sha256",
            &v13_resumed,
            api.tls_addr(),
            auth_hdr(&sha),
        ),
        (
            "TLS 1.2 full handshake, bearer sha256",
            &v12,
            api.tls_addr(),
            auth_hdr(&sha),
        ),
        (
            "TLS 1.3 full handshake, client certificate",
            &mtls,
            api.tls_addr(),
            vec![],
        ),
    ];
    let mut rows = Vec::new();
    for (name, client, addr, headers) in &cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let headers = &headers;
        // Warm-up (fills the argon2 cache, pages in code).
        for _ in 0..20 {
            let r = client.get(*addr, PATH, headers).await;
            assert_eq!(r.status, 200, "{name}: {}", r.body);
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = client.get(*addr, PATH, headers).await;
            samples.push(t.elapsed());
            assert_eq!(r.status, 200);
        }
        rows.push(Row { name, samples });
    }
    // Keep-alive: one TLS 1.3 connection, n requests.
    {
        let addr = api.tls_addr();
        let tcp = v13.connect(addr).await.unwrap();
        let cfg: Arc<rustls::ClientConfig> = v13.tls.clone().unwrap();
        let stream = tokio_rustls::TlsConnector::from(cfg)
            .connect(
                rustls::pki_types::ServerName::IpAddress(addr.ip().into()),
                tcp,
            )
            .await
            .unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("keep-alive connection: {e}");
            }
        });
        let hdr = [("authorization", sha.as_str())];
        for i in 0..20 {
            if let Err(e) = send_on(&mut sender, Method::GET, addr, PATH, &hdr).await {
                panic!("keep-alive warm-up request {i}: {e}");
            }
        }
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = send_on(&mut sender, Method::GET, addr, PATH, &hdr)
                .await
                .unwrap();
            samples.push(t.elapsed());
            assert_eq!(r.status, 200);
        }
        rows.push(Row {
            name: "TLS 1.3 keep-alive, bearer sha256 (no handshake)",
            samples,
        });
    }
    println!("{n} sequential requests per row, GET {PATH}, loopback, release build\n");
    println!("| case | p50 ms | p99 ms | mean ms |");
    println!("|---|---:|---:|---:|");
    for mut row in rows {
        row.samples.sort();
        let mean = row.samples.iter().sum::<Duration>() / row.samples.len() as u32;
        println!(
            "| {} | {} | {} | {} |",
            row.name,
            ms(pct(&row.samples, 0.50)),
            ms(pct(&row.samples, 0.99)),
            ms(mean)
        );
    }
    // What the argon2 cache saves: one verification against a fresh store.
    let mut one = BTreeMap::new();
    one.insert(
        "t".to_string(),
        TokenEntry {
            hash: hash_token(ARGON_TOKEN, HashAlgorithm::Argon2id).unwrap(),
            role: Role::Reader,
        },
    );
    let mut cold = Vec::new();
    for _ in 0..5 {
        let store = TokenStore::standalone(&one, Duration::from_secs(60)).unwrap();
        let t = Instant::now();
        assert!(store.verify(&Secret::new(ARGON_TOKEN)).await.is_some());
        cold.push(t.elapsed());
    }
    cold.sort();
    println!(
        "\nargon2id (m=19456 KiB, t=2, p=1) uncached verification: median {} ms of 5",
        ms(cold[2])
    );
    api.stop().await;
}
