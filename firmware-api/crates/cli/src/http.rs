//! One GET per call over hyper's HTTP/1 client, plain or rustls.
//!
//! A fresh connection per request: an operator's command makes a handful of
//! requests, `watch` one per interval, and a fresh connection cannot be the
//! idle one the node's connection table closes for a newcomer (ARCHITECTURE.md,
//! `admission`). Every step has a bound: the connect (TCP + TLS handshake) by
//! the connect timeout, the whole exchange by the request timeout.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::Identity;
use crate::error::{CliError, Exit};

/// A node's answer larger than this is refused (a full scan of a big rack is
/// tens of KiB).
const MAX_BODY: usize = 8 << 20;

pub struct Client {
    host: String,
    port: u16,
    host_header: String,
    /// Path prefix of the context's URL without the trailing slash, e.g. ""
    /// or "/rack-a" behind a reverse proxy.
    prefix: String,
    tls: Option<tokio_rustls::TlsConnector>,
    token: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Client {
    /// `url` is the node's base URL (`https://node:5443`); with https, the
    /// node's certificate must chain to `ca_file`, or to the system's trust
    /// store when no CA file is configured, and `identity` (a client
    /// certificate) is offered when the node asks for one.
    pub fn new(
        url: &str,
        ca_file: Option<&Path>,
        identity: Option<Identity<'_>>,
        token: Option<String>,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Client, CliError> {
        let bad = |why: &str| CliError::new(Exit::Usage, format!("context URL {url:?}: {why}"));
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let raw_host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = raw_host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host_header = match uri.port_u16() {
            Some(p) => format!("{raw_host}:{p}"),
            None => raw_host.to_string(),
        };
        if uri.query().is_some() {
            return Err(bad("a query string has no place in a base URL"));
        }
        let prefix = uri.path().trim_end_matches('/').to_string();
        let tls = if https {
            let roots = match ca_file {
                Some(path) => load_roots(path)?,
                None => {
                    let mut roots = RootCertStore::empty();
                    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
                    roots
                }
            };
            let config = ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| CliError::new(Exit::Usage, format!("TLS setup: {e}")))?
            .with_root_certificates(roots);
            let config = match identity {
                None => config.with_no_client_auth(),
                Some(id) => {
                    let (chain, key) = load_identity(id)?;
                    config.with_client_auth_cert(chain, key).map_err(|e| {
                        CliError::new(
                            Exit::Usage,
                            format!("client certificate {}: {e}", id.cert.display()),
                        )
                    })?
                }
            };
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            if identity.is_some() {
                return Err(bad("a client certificate needs an https URL"));
            }
            None
        };
        Ok(Client {
            host,
            port,
            host_header,
            prefix,
            tls,
            token,
            connect_timeout,
            request_timeout,
        })
    }

    /// `GET prefix + path`. Transport failures become exit 3; the status is
    /// the caller's to judge (404 on `/opendcre/2/readings` is not an error).
    pub async fn get(&self, path: &str) -> Result<Reply, CliError> {
        let full = format!("{}{}", self.prefix, path);
        let io = tokio::time::timeout(self.connect_timeout, self.connect())
            .await
            .map_err(|_| {
                CliError::new(
                    Exit::Connect,
                    format!(
                        "{}:{}: no connection within {} ms",
                        self.host,
                        self.port,
                        self.connect_timeout.as_millis()
                    ),
                )
            })??;
        tokio::time::timeout(self.request_timeout, self.exchange(io, &full))
            .await
            .map_err(|_| {
                CliError::new(
                    Exit::Connect,
                    format!(
                        "GET {full}: no answer within {} ms",
                        self.request_timeout.as_millis()
                    ),
                )
            })?
    }

    async fn connect(&self) -> Result<Box<dyn Io>, CliError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                CliError::new(
                    Exit::Connect,
                    format!("cannot connect to {}:{}: {e}", self.host, self.port),
                )
            })?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some(tls) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|_| {
                    CliError::new(
                        Exit::Usage,
                        format!("{:?} is not a valid TLS server name", self.host),
                    )
                })?;
                let stream = tls.connect(name, tcp).await.map_err(|e| {
                    CliError::new(
                        Exit::Connect,
                        format!("TLS with {}:{}: {e}", self.host, self.port),
                    )
                })?;
                Ok(Box::new(stream))
            }
        }
    }

    async fn exchange(&self, io: Box<dyn Io>, path: &str) -> Result<Reply, CliError> {
        let failed = |what: &str, e: String| {
            CliError::new(Exit::Connect, format!("GET {path}: {what}: {e}"))
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| failed("HTTP handshake", e.to_string()))?;
        // Ends when the answer is read or the timeout drops the sender.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::get(path)
            .header(http::header::HOST, &self.host_header)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("opendcre-cli/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(token) = &self.token {
            let mut value =
                http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    // The token itself is never printed.
                    CliError::new(
                        Exit::Usage,
                        "the token contains characters not allowed in an HTTP header",
                    )
                })?;
            value.set_sensitive(true);
            req = req.header(http::header::AUTHORIZATION, value);
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| CliError::new(Exit::Usage, format!("GET {path}: {e}")))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| failed("request", e.to_string()))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| failed("body", e.to_string()))?
            .to_bytes();
        Ok(Reply { status, body })
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn load_roots(path: &Path) -> Result<RootCertStore, CliError> {
    let bad =
        |why: String| CliError::new(Exit::Usage, format!("CA file {}: {why}", path.display()));
    let mut roots = RootCertStore::empty();
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
    for cert in iter {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(roots)
}

/// The client certificate chain and its key. A key file that others can read
/// is used, with a warning, as for token files.
fn load_identity(
    id: Identity<'_>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CliError> {
    let bad = |path: &Path, why: String| {
        CliError::new(
            Exit::Usage,
            format!("client certificate file {}: {why}", path.display()),
        )
    };
    let chain = CertificateDer::pem_file_iter(id.cert)
        .map_err(|e| bad(id.cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(id.cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(id.cert, "no certificate in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(id.key).map_err(|e| bad(id.key, e.to_string()))?;
    if let Ok(meta) = std::fs::metadata(id.key) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: client_key {} is readable by other users (chmod 600 it)",
                id.key.display()
            );
        }
    }
    Ok((chain, key))
}
