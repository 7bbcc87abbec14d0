//! A minimal HTTP(S) GET for identity-provider documents (OIDC discovery,
//! JWKS). Bounded in time and size; no redirects, no cookies, no proxies.
//! Plain `http://` is accepted only for loopback hosts, because a key set
//! fetched in clear over a LAN could be swapped by anyone on the path.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::SecurityConfigError;
use crate::tls::load_roots;

/// Largest document accepted; JWKS of real providers are a few KiB.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("bad URL {0:?}")]
    BadUrl(String),
    #[error("plain http is only allowed to loopback hosts: {0}")]
    InsecureUrl(String),
    #[error("{url}: timed out after {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: {reason}")]
    Failed { url: String, reason: String },
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: StatusCode },
}

pub(crate) struct HttpFetcher {
    tls: Arc<ClientConfig>,
    timeout: Duration,
}

impl HttpFetcher {
    /// Trusts `ca_file` if given, else the system certificate store.
    pub(super) fn new(
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<HttpFetcher, SecurityConfigError> {
        let roots = match ca_file {
            Some(path) => load_roots(path).map_err(|e| SecurityConfigError::Invalid {
                key: "ca_file".into(),
                reason: e.to_string(),
            })?,
            None => {
                let mut roots = RootCertStore::empty();
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                roots
            }
        };
        let tls = client_config(roots)?;
        Ok(HttpFetcher {
            tls: Arc::new(tls),
            timeout,
        })
    }

    pub(super) async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        match tokio::time::timeout(self.timeout, self.get_unbounded(url)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout {
                url: url.to_string(),
                after: self.timeout,
            }),
        }
    }

    async fn get_unbounded(&self, url: &str) -> Result<Bytes, FetchError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| FetchError::BadUrl(url.to_string()))?;
        let host = uri
            .host()
            .ok_or_else(|| FetchError::BadUrl(url.to_string()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(FetchError::BadUrl(url.to_string())),
        };
        if !https && !is_loopback_host(&host) {
            return Err(FetchError::InsecureUrl(url.to_string()));
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let failed = |reason: String| FetchError::Failed {
            url: url.to_string(),
            reason,
        };
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| failed(format!("connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let host_header = match uri.port_u16() {
            Some(p) => format!("{}:{p}", uri.host().unwrap_or_default()),
            None => uri.host().unwrap_or_default().to_string(),
        };
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let (status, body) = if https {
            let name = ServerName::try_from(host.clone())
                .map_err(|_| failed(format!("not a valid TLS server name: {host}")))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
                .connect(name, tcp)
                .await
                .map_err(|e| failed(format!("TLS: {e}")))?;
            exchange(tls, &host_header, &path).await
        } else {
            exchange(tcp, &host_header, &path).await
        }
        .map_err(failed)?;
        if status != StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
            });
        }
        Ok(body)
    }
}

async fn exchange<S>(io: S, host: &str, path: &str) -> Result<(StatusCode, Bytes), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // The connection task ends when the response is read or the outer
    // timeout drops this future (which drops the sender and closes it).
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::get(path)
        .header(http::header::HOST, host)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("opendcre/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok((status, body))
}

pub(crate) fn client_config(roots: RootCertStore) -> Result<ClientConfig, SecurityConfigError> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| SecurityConfigError::Invalid {
            key: "tls".into(),
            reason: e.to_string(),
        })
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}
