//! Building the rustls server configuration and swapping it on reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use super::config::{ClientAuthMode, TlsConfig, TlsVersion};
use super::identity::ClientIdentity;
use super::pem::{load_certs, load_private_key, load_roots};

/// Errors while loading TLS material or accepting a TLS connection.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    Pem { path: String, reason: String },
    #[error("{0}: no certificate found")]
    NoCertificates(String),
    #[error("{0}: no private key found")]
    NoPrivateKey(String),
    #[error("{path}: unusable certificate: {reason}")]
    BadCertificate { path: String, reason: String },
    #[error("certificate and key do not form a usable server identity: {0}")]
    Identity(rustls::Error),
    #[error("client CA {path}: {reason}")]
    ClientVerifier { path: String, reason: String },
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    #[error("TLS handshake did not finish within {0:?}")]
    HandshakeTimeout(Duration),
}

/// A finished server-side handshake.
pub struct Accepted<IO> {
    pub stream: tokio_rustls::server::TlsStream<IO>,
    /// The verified client certificate, when mutual TLS is configured and
    /// the client sent one.
    pub client: Option<ClientIdentity>,
}

/// TLS material for the API listeners, replaceable at run time.
///
/// A plain `RwLock<Arc<ServerConfig>>` is enough: the lock is held only to
/// clone an `Arc` once per accepted connection, and reloads are rare.
pub struct TlsSetup {
    cfg: TlsConfig,
    current: RwLock<Arc<ServerConfig>>,
    generation: AtomicU64,
}

impl TlsSetup {
    /// Reads certificate, key and client CA files and builds the first
    /// server configuration. Errors name the file at fault.
    pub fn load(cfg: &TlsConfig) -> Result<TlsSetup, TlsError> {
        let server = build_server_config(cfg)?;
        Ok(TlsSetup {
            cfg: cfg.clone(),
            current: RwLock::new(Arc::new(server)),
            generation: AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &TlsConfig {
        &self.cfg
    }

    /// The acceptor for the next connection; cheap (one `Arc` clone).
    pub fn acceptor(&self) -> TlsAcceptor {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        TlsAcceptor::from(Arc::clone(&guard))
    }

    /// Re-reads the files named in the configuration. On error the previous
    /// material stays in force, so a half-copied certificate never takes
    /// the API down.
    pub fn reload(&self) -> Result<(), TlsError> {
        let server = Arc::new(build_server_config(&self.cfg)?);
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = server;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// How many successful reloads happened; lets callers and tests see
    /// that a SIGHUP was acted on.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Runs the handshake with the configured timeout and extracts the
    /// client identity. The server calls this once per accepted socket.
    pub async fn accept<IO>(&self, io: IO) -> Result<Accepted<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let limit = Duration::from_millis(self.cfg.handshake_timeout_ms.max(1));
        let acceptor = self.acceptor();
        let stream = match tokio::time::timeout(limit, acceptor.accept(io)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(TlsError::Handshake(e)),
            Err(_) => return Err(TlsError::HandshakeTimeout(limit)),
        };
        let client = ClientIdentity::from_connection(stream.get_ref().1);
        Ok(Accepted { stream, client })
    }

    /// Reloads on every SIGHUP for the life of the runtime. Failures are
    /// logged and the old material is kept.
    pub fn spawn_reload_on_sighup(
        self: &Arc<Self>,
    ) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        let me = Arc::clone(self);
        Ok(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match me.reload() {
                    Ok(()) => tracing::info!(
                        cert = %me.cfg.cert.display(),
                        generation = me.generation(),
                        "TLS material reloaded"
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; keeping previous material")
                    }
                }
            }
        }))
    }
}

fn build_server_config(cfg: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match cfg.min_version {
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
    };
    let chain = load_certs(&cfg.cert)?;
    let key = load_private_key(&cfg.key)?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(TlsError::Identity)?;
    let builder = match &cfg.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca_path) => {
            let roots = Arc::new(load_roots(ca_path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = match cfg.client_auth {
                ClientAuthMode::Optional => verifier.allow_unauthenticated(),
                ClientAuthMode::Required => verifier,
            };
            let verifier = verifier.build().map_err(|e| TlsError::ClientVerifier {
                path: ca_path.display().to_string(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(TlsError::Identity)?;
    // The API speaks HTTP/1.1 only; advertising it lets ALPN-aware clients
    // skip an h2 attempt.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(server)
}
