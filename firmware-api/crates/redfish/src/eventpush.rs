//! Delivering an event to a push subscriber: one `POST` of the event's
//! JSON to the subscription's `Destination` over hyper's HTTP/1 client,
//! plain or TLS (rustls), on a fresh connection each time.
//!
//! Every step has a bound, since a receiver may be down, slow or hostile:
//! the connect (TCP and TLS handshake) by `connect_timeout`, the whole
//! exchange by `request_timeout`; only the status line of the answer is
//! read. A TLS receiver must present a certificate that chains to the
//! system's trust store or to `[event_service] ca_file`: the node never
//! sends its events to whoever answers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Where one subscription's events go, checked when it is created.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// `Host:` as the URI wrote it.
    pub host_header: String,
    pub path: String,
}

impl Target {
    /// An absolute `http`/`https` URI with a host; no fragment.
    pub fn parse(destination: &str) -> Result<Target, &'static str> {
        let uri: Uri = destination.parse().map_err(|_| "not a URI")?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the scheme must be http or https"),
        };
        if destination.contains('#') {
            return Err("a fragment has no place in a destination");
        }
        let raw_host = uri.host().filter(|h| !h.is_empty()).ok_or("no host")?;
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err("credentials in the URI are not sent; use HttpHeaders");
        }
        let host = raw_host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host_header = match uri.port_u16() {
            Some(p) => format!("{raw_host}:{p}"),
            None => raw_host.to_string(),
        };
        let path = uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        Ok(Target {
            https,
            host,
            port,
            host_header,
            path,
        })
    }
}

/// The client every delivery uses.
pub(crate) struct Poster {
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
    request_timeout: Duration,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Poster {
    /// Trusts the system's certificate store and, when given, the PEM
    /// certificates of `ca_file`.
    pub fn new(
        ca_file: Option<&Path>,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Poster, String> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if let Some(path) = ca_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no certificate in it", path.display()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Poster {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            connect_timeout,
            request_timeout,
        })
    }

    /// POSTs `body` (JSON) to `to` with the subscriber's `headers`; the
    /// answer's status, or why there was none.
    pub async fn post(
        &self,
        to: &Target,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<StatusCode, String> {
        let io = tokio::time::timeout(self.connect_timeout, self.connect(to))
            .await
            .map_err(|_| {
                format!(
                    "no connection to {}:{} within {} ms",
                    to.host,
                    to.port,
                    self.connect_timeout.as_millis()
                )
            })??;
        tokio::time::timeout(self.request_timeout, exchange(io, to, headers, body))
            .await
            .map_err(|_| {
                format!(
                    "no answer from {}:{} within {} ms",
                    to.host,
                    to.port,
                    self.request_timeout.as_millis()
                )
            })?
    }

    async fn connect(&self, to: &Target) -> Result<Box<dyn Io>, String> {
        let tcp = TcpStream::connect((to.host.as_str(), to.port))
            .await
            .map_err(|e| format!("cannot connect to {}:{}: {e}", to.host, to.port))?;
        let _ = tcp.set_nodelay(true);
        if !to.https {
            return Ok(Box::new(tcp));
        }
        let name = ServerName::try_from(to.host.clone())
            .map_err(|_| format!("{:?} is not a valid TLS server name", to.host))?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {}:{}: {e}", to.host, to.port))?;
        Ok(Box::new(tls))
    }
}

async fn exchange(
    io: Box<dyn Io>,
    to: &Target,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<StatusCode, String> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // Ends when the answer's head is read and the sender dropped, or when
    // the caller's timeout drops this future.
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::post(to.path.as_str())
        .header(http::header::HOST, &to.host_header)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CONNECTION, "close")
        .header("odata-version", "4.0");
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            req = req.header(k, v);
        }
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    let answer = sender.send_request(req).await;
    conn.abort();
    answer
        .map(|r| r.status())
        .map_err(|e| format!("POST {}: {e}", to.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let t = Target::parse("https://192.168.1.50/Destination1").unwrap();
        assert!(t.https);
        assert_eq!((t.host.as_str(), t.port), ("192.168.1.50", 443));
        assert_eq!(t.path, "/Destination1");
        let t = Target::parse("http://[::1]:8080/in?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert_eq!(t.host_header, "[::1]:8080");
        assert_eq!(t.path, "/in?x=1");
        let t = Target::parse("http://collector").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        for bad in [
            "ftp://host/x",
            "/relative",
            "https://",
            "https://user:pw@host/x",
            "https://host/x#frag",
            "not a uri",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
