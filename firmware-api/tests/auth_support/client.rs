//! A small HTTP/1.1 client that opens a new connection per request (plain
//! or TLS, optionally with a client certificate and a chosen source address).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use super::pki::Issued;

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn header(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("?").to_string())
            .collect()
    }
}

/// What to connect with.
#[derive(Clone, Default)]
pub struct Client {
    pub tls: Option<Arc<ClientConfig>>,
    pub source: Option<IpAddr>,
}

pub fn tls_config(
    ca_pem: &str,
    client: Option<&Issued>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let cfg = match client {
        Some(id) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                    .map(|c| c.unwrap())
                    .collect();
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    };
    Arc::new(cfg)
}

/// The same configuration without session resumption, so every
/// connection pays a full handshake (benchmarks).
pub fn without_resumption(cfg: &Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut c = (**cfg).clone();
    c.resumption = rustls::client::Resumption::disabled();
    Arc::new(c)
}

impl Client {
    pub fn plain() -> Client {
        Client::default()
    }

    pub fn tls(cfg: Arc<ClientConfig>) -> Client {
        Client {
            tls: Some(cfg),
            source: None,
        }
    }

    pub fn with_source(mut self, ip: &str) -> Client {
        self.source = Some(ip.parse().unwrap());
        self
    }

    pub async fn get(&self, addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, addr, path, headers)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `Err` for connection or handshake failures.
    pub async fn send(
        &self,
        method: Method,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        tokio::time::timeout(
            Duration::from_secs(20),
            self.send_inner(method, addr, path, headers),
        )
        .await
        .map_err(|_| "timed out".to_string())?
    }

    async fn send_inner(
        &self,
        method: Method,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let tcp = self.connect(addr).await?;
        match &self.tls {
            None => exchange(tcp, method, addr, path, headers).await,
            Some(cfg) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let tls = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                exchange(tls, method, addr, path, headers).await
            }
        }
    }

    pub async fn connect(&self, addr: SocketAddr) -> Result<TcpStream, String> {
        let tcp = match self.source {
            None => TcpStream::connect(addr).await.map_err(|e| e.to_string())?,
            Some(ip) => {
                let s = TcpSocket::new_v4().map_err(|e| e.to_string())?;
                s.bind(SocketAddr::new(ip, 0)).map_err(|e| e.to_string())?;
                s.connect(addr).await.map_err(|e| e.to_string())?
            }
        };
        // Like any sensible HTTP client: without it Nagle and delayed ACKs
        // add 40 ms to handshakes that send several small records.
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }
}

/// One request on an already established stream.
pub async fn exchange<S>(
    io: S,
    method: Method,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send_on(&mut sender, method, addr, path, headers).await
}

/// A request on an open HTTP/1.1 connection (keep-alive tests).
pub async fn send_on(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    method: Method,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    // The previous exchange may still be winding down inside the
    // connection task; sending before it is ready gets "canceled".
    sender
        .ready()
        .await
        .map_err(|e| format!("connection not ready: {e}"))?;
    let resp = sender
        .send_request(b.body(Empty::<Bytes>::new()).unwrap())
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}
