//! JWT signing keys and a local HTTP server that publishes them as a JWKS
//! (and an OIDC discovery document), counting fetches.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub struct Signer {
    pub kid: String,
    pub alg: Algorithm,
    key: EncodingKey,
    pub jwk: Value,
}

impl Signer {
    pub fn es256(kid: &str) -> Signer {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let point = kp.public_key_raw().to_vec();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Signer {
            kid: kid.into(),
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(&kp.serialize_der()),
            jwk,
        }
    }

    /// RSA key made with the openssl CLI (ring cannot generate RSA keys).
    pub fn rs256(kid: &str, dir: &Path) -> Signer {
        let pem = dir.join(format!("{kid}.pem"));
        let der = dir.join(format!("{kid}.der"));
        let ok = Command::new("openssl")
            .args(["genrsa", "-traditional", "-out"])
            .arg(&pem)
            .arg("2048")
            .output()
            .expect("openssl genrsa")
            .status
            .success();
        assert!(ok, "openssl genrsa failed");
        let ok = Command::new("openssl")
            .args(["rsa", "-traditional", "-outform", "DER", "-in"])
            .arg(&pem)
            .arg("-out")
            .arg(&der)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "openssl rsa -outform DER failed");
        let modulus = Command::new("openssl")
            .args(["rsa", "-noout", "-modulus", "-in"])
            .arg(&pem)
            .output()
            .unwrap();
        let text = String::from_utf8(modulus.stdout).unwrap();
        let hex = text.trim().trim_start_matches("Modulus=");
        let n: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB",
        });
        Signer {
            kid: kid.into(),
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_der(&std::fs::read(&der).unwrap()),
            jwk,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.key).unwrap()
    }

    pub fn sign_without_kid(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(self.alg), claims, &self.key).unwrap()
    }
}

pub fn jwks(signers: &[&Signer]) -> String {
    json!({ "keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>() }).to_string()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Standard claims valid for an hour.
pub fn claims(iss: &str, aud: &str, sub: &str, roles: &[&str]) -> Value {
    json!({ "iss": iss, "aud": aud, "sub": sub, "roles": roles, "iat": now(), "exp": now() + 3600 })
}

pub struct JwksServer {
    pub addr: SocketAddr,
    pub body: Arc<Mutex<String>>,
    pub hits: Arc<AtomicU64>,
    pub delay_ms: Arc<AtomicU64>,
    pub fail: Arc<AtomicBool>,
    https: bool,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(initial: String) -> JwksServer {
        Self::start_with(initial, None).await
    }

    /// Served over HTTPS with the given acceptor.
    pub async fn start_tls(initial: String, tls: tokio_rustls::TlsAcceptor) -> JwksServer {
        Self::start_with(initial, Some(tls)).await
    }

    async fn start_with(initial: String, tls: Option<tokio_rustls::TlsAcceptor>) -> JwksServer {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let body = Arc::new(Mutex::new(initial));
        let hits = Arc::new(AtomicU64::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let fail = Arc::new(AtomicBool::new(false));
        let (b, h, d, f) = (body.clone(), hits.clone(), delay_ms.clone(), fail.clone());
        let base = format!("{scheme}://{addr}");
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (b, h, d, f, base) = (b.clone(), h.clone(), d.clone(), f.clone(), base.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (b, h, d, f, base) =
                            (b.clone(), h.clone(), d.clone(), f.clone(), base.clone());
                        async move {
                            let delay = d.load(Ordering::SeqCst);
                            if delay > 0 {
                                tokio::time::sleep(Duration::from_millis(delay)).await;
                            }
                            let (status, text) = match req.uri().path() {
                                _ if f.load(Ordering::SeqCst) => (500, "down".to_string()),
                                "/jwks" => {
                                    h.fetch_add(1, Ordering::SeqCst);
                                    (200, b.lock().unwrap().clone())
                                }
                                "/.well-known/openid-configuration" => (
                                    200,
                                    json!({"issuer": base, "jwks_uri": format!("{base}/jwks")})
                                        .to_string(),
                                ),
                                _ => (404, "{}".to_string()),
                            };
                            let mut r = hyper::Response::new(Full::new(Bytes::from(text)));
                            *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(r)
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(tcp), svc).await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                    }
                });
            }
        });
        JwksServer {
            addr,
            body,
            hits,
            delay_ms,
            fail,
            https: scheme == "https",
            task,
        }
    }

    pub fn base(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn url(&self) -> String {
        format!("{}/jwks", self.base())
    }

    pub fn set(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
