//! SIGHUP reload of the TLS material: new handshakes get the new
//! certificate, the listener and open connections are untouched, and a
//! broken replacement leaves the old material in force. One test per
//! binary, because it signals its own process.

mod auth_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_support::client::{bearer, exchange, send_on, tls_config, Client};
use auth_support::pki::{write, Ca};
use auth_support::server::TestApi;
use http::Method;
use hyper_util::rt::TokioIo;
use opendcre_security::auth::{hash_token, AuthConfig, HashAlgorithm, Role, TokenEntry};
use opendcre_security::tls::{TlsConfig, TlsSetup};
use rustls::pki_types::ServerName;

const TOKEN: &str = "odcre_reload-test-token-0123456789";
const TEST: &str = "/opendcre/1.1/test";

async fn wait_generation(setup: &TlsSetup, want: u64) {
    let until = Instant::now() + Duration::from_secs(10);
    while setup.generation() < want {
        assert!(Instant::now() < until, "SIGHUP was not acted on");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sighup() {
    // SAFETY: kill(2) on our own pid with a signal tokio has a handler for.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
    assert_eq!(rc, 0);
}

#[tokio::test]
async fn sighup_swaps_certificates_without_dropping_anything() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_a, ca_b) = (Ca::new("CA A"), Ca::new("CA B"));
    let first = ca_a.server();
    let cfg = TlsConfig {
        enabled: true,
        cert: write(dir.path(), "server.crt", &first.cert_pem),
        key: write(dir.path(), "server.key", &first.key_pem),
        ..TlsConfig::default()
    };
    let mut tokens = std::collections::BTreeMap::new();
    tokens.insert(
        "t".to_string(),
        TokenEntry {
            hash: hash_token(TOKEN, HashAlgorithm::Sha256).unwrap(),
            role: Role::Reader,
        },
    );
    let auth = AuthConfig {
        tokens,
        ..AuthConfig::default()
    };
    let setup = Arc::new(TlsSetup::load(&cfg).unwrap());
    let _reloader = setup.spawn_reload_on_sighup().unwrap();
    let api = TestApi::start_with(
        Arc::new(opendcre_security::auth::Security::from_config(&auth).unwrap()),
        Some(setup.clone()),
    )
    .await;
    let addr = api.tls_addr();
    let tok = bearer(TOKEN);
    let hdr = [("authorization", tok.as_str())];
    let trust_a = tls_config(&ca_a.pem, None, rustls::ALL_VERSIONS);
    let trust_b = tls_config(&ca_b.pem, None, rustls::ALL_VERSIONS);

    // A keep-alive connection made before the reload.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(trust_a.clone())
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let r = send_on(&mut sender, Method::GET, addr, TEST, &hdr)
        .await
        .unwrap();
    assert_eq!(r.status, 200);

    // Replace the files in place and signal.
    let second = ca_b.server();
    write(dir.path(), "server.crt", &second.cert_pem);
    write(dir.path(), "server.key", &second.key_pem);
    sighup();
    wait_generation(&setup, 1).await;

    assert!(
        Client::tls(trust_a.clone())
            .send(Method::GET, addr, TEST, &hdr)
            .await
            .is_err(),
        "new handshakes must present the new certificate"
    );
    assert_eq!(
        Client::tls(trust_b.clone())
            .get(addr, TEST, &hdr)
            .await
            .status,
        200
    );
    // The connection opened before the reload still works.
    let r = send_on(&mut sender, Method::GET, addr, TEST, &hdr)
        .await
        .unwrap();
    assert_eq!(r.status, 200);

    // A broken replacement is refused and the current material stays.
    write(
        dir.path(),
        "server.key",
        "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
    );
    sighup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(setup.generation(), 1, "a broken key must not be installed");
    assert!(setup.reload().is_err());
    assert_eq!(
        Client::tls(trust_b.clone())
            .get(addr, TEST, &hdr)
            .await
            .status,
        200
    );

    // Fixing the files and reloading directly works too.
    write(dir.path(), "server.key", &second.key_pem);
    setup.reload().unwrap();
    assert_eq!(setup.generation(), 2);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(trust_b)
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await
        .unwrap();
    let r = exchange(tls, Method::GET, addr, TEST, &hdr).await.unwrap();
    assert_eq!(r.status, 200);
    api.stop().await;
}
