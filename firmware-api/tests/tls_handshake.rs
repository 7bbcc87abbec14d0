//! TLS on the API: protocol versions, mutual TLS with a client CA, CN to
//! role mapping, wrong-CA rejection, bad material, handshake timeout.

use crate::auth_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_support::client::{bearer, tls_config, Client};
use auth_support::pki::{write, Ca, Issued};
use auth_support::server::TestApi;
use http::Method;
use opendcre_security::auth::{
    hash_token, AuthConfig, ClientCertConfig, HashAlgorithm, Role, TokenEntry,
};
use opendcre_security::tls::{
    ClientAuthMode, ClientIdentity, TlsConfig, TlsError, TlsSetup, TlsVersion,
};
use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const TOKEN: &str = "odcre_tls-test-token-0123456789";
const TEST: &str = "/opendcre/1.1/test";
const POWER_ON: &str = "/opendcre/1.1/power/on/00000001/0001";

struct Material {
    dir: tempfile::TempDir,
    ca: Ca,
    client_ca: Ca,
}

impl Material {
    fn new() -> Material {
        Material {
            dir: tempfile::tempdir().unwrap(),
            ca: Ca::new("test server CA"),
            client_ca: Ca::new("test client CA"),
        }
    }

    fn tls(&self) -> TlsConfig {
        let server = self.ca.server();
        TlsConfig {
            enabled: true,
            cert: write(self.dir.path(), "server.crt", &server.cert_pem),
            key: write(self.dir.path(), "server.key", &server.key_pem),
            ..TlsConfig::default()
        }
    }

    fn mtls(&self, mode: ClientAuthMode) -> TlsConfig {
        TlsConfig {
            client_ca: Some(write(self.dir.path(), "clients.pem", &self.client_ca.pem)),
            client_auth: mode,
            ..self.tls()
        }
    }
}

fn auth() -> AuthConfig {
    let mut tokens = BTreeMap::new();
    tokens.insert(
        "admin".to_string(),
        TokenEntry {
            hash: hash_token(TOKEN, HashAlgorithm::Sha256).unwrap(),
            role: Role::Operator,
        },
    );
    let mut roles = BTreeMap::new();
    roles.insert("ops-console".to_string(), Role::Operator);
    roles.insert("dashboard".to_string(), Role::Reader);
    AuthConfig {
        tokens,
        client_cert: ClientCertConfig {
            roles,
            default_role: None,
        },
        ..AuthConfig::default()
    }
}

async fn handshake(
    addr: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(cfg)
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn tls_1_3_and_1_2_are_served_and_plain_http_is_not() {
    let m = Material::new();
    let api = TestApi::start(&auth(), Some(&m.tls())).await;
    let addr = api.tls_addr();
    let v13 = tls_config(&m.ca.pem, None, &[&rustls::version::TLS13]);
    let v12 = tls_config(&m.ca.pem, None, &[&rustls::version::TLS12]);
    let s = handshake(addr, v13.clone()).await.unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let s = handshake(addr, v12.clone()).await.unwrap();
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );

    let mut alpn = (*v13).clone();
    alpn.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let s = handshake(addr, Arc::new(alpn)).await.unwrap();
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));

    let tok = bearer(TOKEN);
    for cfg in [v13, v12] {
        let r = Client::tls(cfg)
            .get(addr, POWER_ON, &[("authorization", &tok)])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // A client that does not trust the server's CA refuses it.
    let other = Ca::new("someone else");
    assert!(handshake(
        addr,
        tls_config(&other.pem, None, &[&rustls::version::TLS13])
    )
    .await
    .is_err());
    // Plain HTTP on the TLS port gets no HTTP answer.
    let r = Client::plain().send(Method::GET, addr, TEST, &[]).await;
    assert!(r.is_err(), "{r:?}");
    api.stop().await;
}

#[tokio::test]
async fn min_version_1_3_refuses_a_1_2_client() {
    let m = Material::new();
    let cfg = TlsConfig {
        min_version: TlsVersion::V1_3,
        ..m.tls()
    };
    let api = TestApi::start(&auth(), Some(&cfg)).await;
    let v12 = tls_config(&m.ca.pem, None, &[&rustls::version::TLS12]);
    let err = match handshake(api.tls_addr(), v12).await {
        Ok(_) => panic!("a TLS 1.2 client must be refused"),
        Err(e) => e,
    };
    assert!(err.contains("version") || err.contains("Version"), "{err}");
    let v13 = tls_config(&m.ca.pem, None, &[&rustls::version::TLS13]);
    assert!(handshake(api.tls_addr(), v13).await.is_ok());
    api.stop().await;
}

#[tokio::test]
async fn required_client_certificates_map_cn_to_roles() {
    let m = Material::new();
    let api = TestApi::start(&auth(), Some(&m.mtls(ClientAuthMode::Required))).await;
    let addr = api.tls_addr();
    let all = rustls::ALL_VERSIONS;
    let with = |id: &Issued| Client::tls(tls_config(&m.ca.pem, Some(id), all));

    let ops = m.client_ca.client("ops-console");
    let r = with(&ops).get(addr, POWER_ON, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let dash = m.client_ca.client("dashboard");
    assert_eq!(with(&dash).get(addr, TEST, &[]).await.status, 200);
    assert_eq!(with(&dash).get(addr, POWER_ON, &[]).await.status, 403);

    // Valid certificate, CN not mapped, no default role: no identity.
    let stranger = m.client_ca.client("stranger");
    assert_eq!(with(&stranger).get(addr, TEST, &[]).await.status, 401);
    // ... but header credentials still work on that connection.
    let tok = bearer(TOKEN);
    let r = with(&stranger)
        .get(addr, POWER_ON, &[("authorization", &tok)])
        .await;
    assert_eq!(r.status, 200);

    // No certificate, or one from another CA: the handshake is refused,
    // whatever the headers say.
    let none = Client::tls(tls_config(&m.ca.pem, None, all));
    let r = none
        .send(Method::GET, addr, TEST, &[("authorization", &tok)])
        .await;
    assert!(r.is_err(), "no client certificate: {r:?}");
    let rogue_ca = Ca::new("rogue CA");
    let rogue = rogue_ca.client("ops-console");
    let r = with(&rogue)
        .send(Method::GET, addr, TEST, &[("authorization", &tok)])
        .await;
    assert!(r.is_err(), "client certificate from the wrong CA: {r:?}");
    api.stop().await;
}

#[tokio::test]
async fn optional_client_certificates_fall_back_to_headers() {
    let m = Material::new();
    let api = TestApi::start(&auth(), Some(&m.mtls(ClientAuthMode::Optional))).await;
    let addr = api.tls_addr();
    let all = rustls::ALL_VERSIONS;
    let none = Client::tls(tls_config(&m.ca.pem, None, all));
    assert_eq!(none.get(addr, TEST, &[]).await.status, 401);
    let tok = bearer(TOKEN);
    assert_eq!(
        none.get(addr, POWER_ON, &[("authorization", &tok)])
            .await
            .status,
        200
    );
    let ops = Client::tls(tls_config(
        &m.ca.pem,
        Some(&m.client_ca.client("ops-console")),
        all,
    ));
    assert_eq!(ops.get(addr, POWER_ON, &[]).await.status, 200);
    // Even when optional, a certificate from the wrong CA fails the handshake.
    let rogue = Client::tls(tls_config(
        &m.ca.pem,
        Some(&Ca::new("rogue").client("x")),
        all,
    ));
    assert!(rogue.send(Method::GET, addr, TEST, &[]).await.is_err());
    api.stop().await;
}

#[tokio::test]
async fn client_identity_is_read_from_the_verified_certificate() {
    let m = Material::new();
    let setup = TlsSetup::load(&m.mtls(ClientAuthMode::Required)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let id = m.client_ca.client("rack-42-console");
    let client = tokio::spawn(handshake(
        addr,
        tls_config(&m.ca.pem, Some(&id), rustls::ALL_VERSIONS),
    ));
    let (tcp, _) = listener.accept().await.unwrap();
    let accepted = setup.accept(tcp).await.unwrap();
    let ident: ClientIdentity = accepted.client.expect("client identity");
    assert_eq!(ident.common_name.as_deref(), Some("rack-42-console"));
    assert!(
        ident.subject.contains("CN=rack-42-console"),
        "{}",
        ident.subject
    );
    assert_eq!(ident.sha256_fingerprint.len(), 64);
    client.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_silent_client_is_cut_off_after_the_handshake_timeout() {
    let m = Material::new();
    let cfg = TlsConfig {
        handshake_timeout_ms: 300,
        ..m.tls()
    };
    let api = TestApi::start(&auth(), Some(&cfg)).await;
    let mut tcp = TcpStream::connect(api.tls_addr()).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("server must close the silent connection")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    api.stop().await;
}

#[test]
fn bad_material_is_reported_with_the_file_name() {
    let m = Material::new();
    let good = m.tls();

    let missing = TlsConfig {
        cert: m.dir.path().join("nope.crt"),
        ..good.clone()
    };
    let e = TlsSetup::load(&missing).err().unwrap().to_string();
    assert!(e.contains("nope.crt"), "{e}");

    let empty = TlsConfig {
        cert: write(m.dir.path(), "empty.crt", ""),
        ..good.clone()
    };
    assert!(matches!(
        TlsSetup::load(&empty),
        Err(TlsError::NoCertificates(_))
    ));

    let other_key = m.ca.server();
    let mismatched = TlsConfig {
        key: write(m.dir.path(), "other.key", &other_key.key_pem),
        ..good.clone()
    };
    let e = TlsSetup::load(&mismatched).err().unwrap();
    assert!(matches!(e, TlsError::Identity(_)), "{e}");

    let no_key = TlsConfig {
        key: write(m.dir.path(), "nokey.pem", &m.ca.pem),
        ..good.clone()
    };
    assert!(matches!(
        TlsSetup::load(&no_key),
        Err(TlsError::NoPrivateKey(_))
    ));

    let bad_ca = TlsConfig {
        client_ca: Some(write(
            m.dir.path(),
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )),
        ..good.clone()
    };
    let e = TlsSetup::load(&bad_ca).err().unwrap().to_string();
    assert!(e.contains("garbage.pem"), "{e}");

    assert!(TlsSetup::load(&good).is_ok());
}
