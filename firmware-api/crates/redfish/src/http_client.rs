//! The node as an HTTP client: an event's `POST` to a push subscriber's
//! `Destination`, and `SimpleUpdate`'s `GET` of a bundle from the URI an
//! operator gave. hyper's HTTP/1 client, plain or TLS (rustls), on a fresh
//! connection each time.
//!
//! Every step has a bound, since the other side may be down, slow or
//! hostile: the connect (TCP and TLS handshake) by `connect_timeout`, the
//! answer's head by `request_timeout`; a download also by a limit on its
//! size and on each wait for more of its body. A TLS server must present a
//! certificate that chains to the system's trust store or to the CA file
//! of the caller's configuration (`[event_service] ca_file`,
//! `[update] ca_file`): the node never sends its events to, nor installs
//! from, whoever answers (a bundle's signature is RAUC's check on top).

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

/// A server and path the node talks to: where one subscription's events
/// go (checked when it is created), where a bundle is fetched from.
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

/// The client every delivery (and each download) uses.
pub(crate) struct Client {
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
    request_timeout: Duration,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Client {
    /// Trusts the system's certificate store and, when given, the PEM
    /// certificates of `ca_file`.
    pub fn new(
        ca_file: Option<&Path>,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Client, String> {
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
        Ok(Client {
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
        let io = self.open(to).await?;
        tokio::time::timeout(self.request_timeout, exchange(io, to, headers, body))
            .await
            .map_err(|_| self.no_answer(to))?
    }

    /// GETs `from` into `file` (made new, 0600): the answer's head within
    /// `request_timeout`, then each piece of the body within `idle`, at
    /// most `max` bytes (a larger `Content-Length` is refused before any
    /// byte is read). `authorization`: the header to send (HTTP Basic of
    /// the operator's `Username`/`Password`). The bytes written, synced.
    pub async fn download(
        &self,
        from: &Target,
        authorization: Option<&str>,
        file: &Path,
        max: u64,
        idle: Duration,
    ) -> Result<u64, String> {
        let io = self.open(from).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let result = async {
            let mut req = Request::get(from.path.as_str())
                .header(http::header::HOST, &from.host_header)
                .header(http::header::CONNECTION, "close")
                .header(http::header::USER_AGENT, "opendcre");
            if let Some(a) = authorization {
                req = req.header(http::header::AUTHORIZATION, a);
            }
            let req = req
                .body(http_body_util::Empty::<Bytes>::new())
                .map_err(|e| format!("request: {e}"))?;
            let answer = tokio::time::timeout(self.request_timeout, sender.send_request(req))
                .await
                .map_err(|_| self.no_answer(from))?
                .map_err(|e| format!("GET {}: {e}", from.path))?;
            let status = answer.status();
            if status != StatusCode::OK {
                let moved = answer
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(|l| format!(" (to {}; redirects are not followed)", clip(l)))
                    .unwrap_or_default();
                return Err(format!("the server answered {status}{moved}"));
            }
            let announced = answer
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if announced.is_some_and(|n| n > max) {
                return Err(too_big(max));
            }
            save(answer.into_body(), file, max, idle).await
        }
        .await;
        conn.abort();
        result
    }

    /// A connection to `to` (TCP, and TLS for `https`) within
    /// `connect_timeout`.
    async fn open(&self, to: &Target) -> Result<Box<dyn Io>, String> {
        tokio::time::timeout(self.connect_timeout, self.connect(to))
            .await
            .map_err(|_| {
                format!(
                    "no connection to {}:{} within {} ms",
                    to.host,
                    to.port,
                    self.connect_timeout.as_millis()
                )
            })?
    }

    fn no_answer(&self, to: &Target) -> String {
        format!(
            "no answer from {}:{} within {} ms",
            to.host,
            to.port,
            self.request_timeout.as_millis()
        )
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

fn too_big(max: u64) -> String {
    format!("the file is larger than {max} bytes ([update] max_bundle_bytes)")
}

/// A server's text in a message: at most 200 characters.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

/// Writes the body into a new file, piece by piece, within the bounds.
async fn save(
    mut body: hyper::body::Incoming,
    file: &Path,
    max: u64,
    idle: Duration,
) -> Result<u64, String> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;
    let mut out = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let mut written = 0u64;
    loop {
        let frame = tokio::time::timeout(idle, body.frame())
            .await
            .map_err(|_| {
                format!(
                    "the download stalled: nothing for {} s after {written} bytes",
                    idle.as_secs()
                )
            })?;
        let Some(frame) = frame else { break };
        let frame =
            frame.map_err(|e| format!("the download broke off after {written} bytes: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        written += data.len() as u64;
        if written > max {
            return Err(too_big(max));
        }
        out.write_all(&data)
            .await
            .map_err(|e| format!("{}: {e}", file.display()))?;
    }
    out.sync_all()
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(written)
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
