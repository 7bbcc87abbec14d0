//! Building the rustls server configuration and swapping it on reload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use super::config::{ClientAuthMode, TlsConfig, TlsVersion};
use super::csr::{CsrError, CsrRequest};
use super::identity::ClientIdentity;
use super::pem::{load_certs, load_private_key, load_roots};
use super::served::ServedCertificate;
use super::store::{self, ReplaceError, Upload};

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

/// Where the certificate in force came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateSource {
    /// `[tls] cert` and `key`, as configured (on OpenMistOS: made at the
    /// first boot or brought on the card).
    Configured,
    /// Installed through the API (Redfish `ReplaceCertificate`) and kept in
    /// the certificate store, which takes precedence while it holds one.
    Replaced,
}

/// Why [`TlsSetup::restore_configured`] changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    #[error("the node serves its configured certificate: there is no replaced one to remove")]
    NotReplaced,
    #[error("the configured certificate does not load, so the replaced one stays: {0}")]
    Configured(String),
    #[error("the replaced certificate could not be removed from the store: {0}")]
    Store(String),
}

/// What new connections are served, swapped as one.
struct Current {
    server: Arc<ServerConfig>,
    /// The chain as served, leaf first.
    chain: Arc<Vec<CertificateDer<'static>>>,
    /// Kept so that a certificate issued for the node's existing key (a
    /// renewal) can replace the old one without the key leaving the node.
    key: Arc<PrivateKeyDer<'static>>,
    source: CertificateSource,
}

impl Current {
    /// The server configuration for `chain` and `key`, kept with them.
    fn build(
        cfg: &TlsConfig,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        source: CertificateSource,
    ) -> Result<Current, TlsError> {
        let server = build_server_config(cfg, chain.clone(), key.clone_key())?;
        Ok(Current {
            server: Arc::new(server),
            chain: Arc::new(chain),
            key: Arc::new(key),
            source,
        })
    }
}

/// TLS material for the API listeners, replaceable at run time.
///
/// A plain `RwLock` is enough: the lock is held only to clone an `Arc`
/// once per accepted connection, and reloads are rare.
pub struct TlsSetup {
    cfg: TlsConfig,
    /// Directory of a certificate installed through the API
    /// (`[manager] certificate_store`); `None`: replacing is off.
    store: Option<PathBuf>,
    current: RwLock<Current>,
    generation: AtomicU64,
    /// One replacement at a time: the file and the swap go together.
    replacing: Mutex<()>,
}

impl TlsSetup {
    /// Reads certificate, key and client CA files and builds the first
    /// server configuration. Errors name the file at fault.
    pub fn load(cfg: &TlsConfig) -> Result<TlsSetup, TlsError> {
        TlsSetup::load_with_store(cfg, None)
    }

    /// As [`TlsSetup::load`], with a certificate store: a certificate and key
    /// kept there by an earlier [`TlsSetup::replace`] are served instead of
    /// the configured ones. One that no longer loads (a damaged file) is
    /// logged and the configured material is served: the API stays up.
    pub fn load_with_store(cfg: &TlsConfig, store: Option<&Path>) -> Result<TlsSetup, TlsError> {
        let current = load_current(cfg, store)?;
        Ok(TlsSetup {
            cfg: cfg.clone(),
            store: store.map(Path::to_path_buf),
            current: RwLock::new(current),
            generation: AtomicU64::new(0),
            replacing: Mutex::new(()),
        })
    }

    pub fn config(&self) -> &TlsConfig {
        &self.cfg
    }

    /// The acceptor for the next connection; cheap (one `Arc` clone).
    pub fn acceptor(&self) -> TlsAcceptor {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        TlsAcceptor::from(Arc::clone(&guard.server))
    }

    /// The certificate new connections are served (the chain's leaf),
    /// parsed, and where it came from.
    pub fn served_certificate(&self) -> Option<(ServedCertificate, CertificateSource)> {
        let (chain, source) = {
            let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
            (Arc::clone(&guard.chain), guard.source)
        };
        ServedCertificate::from_der(chain.first()?).map(|c| (c, source))
    }

    /// Whether [`TlsSetup::replace`] can work (a store is configured).
    pub fn replaceable(&self) -> bool {
        self.store.is_some()
    }

    /// Re-reads the files named in the configuration (and the store). On
    /// error the previous material stays in force, so a half-copied
    /// certificate never takes the API down.
    pub fn reload(&self) -> Result<(), TlsError> {
        let _one = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        let next = load_current(&self.cfg, self.store.as_deref())?;
        self.swap(next);
        Ok(())
    }

    fn swap(&self, next: Current) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = next;
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Installs a new certificate for the listeners: `pem` holds the chain,
    /// leaf first, and optionally its private key; without a key the leaf
    /// must be for the key in use (a renewal or a re-issue). The pair is
    /// checked as a server identity, written to the store (one file, new
    /// file, `fsync`, rename: a power cut leaves the old pair or the new
    /// one) and then served to new connections; open connections keep
    /// theirs. Nothing changes on any error.
    pub fn replace(&self, pem: &[u8]) -> Result<ServedCertificate, ReplaceError> {
        let Some(dir) = &self.store else {
            return Err(ReplaceError::NoStore);
        };
        let Upload { chain, key } = store::parse_upload(pem)?;
        let leaf = ServedCertificate::from_der(&chain[0]).ok_or(ReplaceError::NotX509)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if leaf.not_after <= now {
            return Err(ReplaceError::Expired(leaf.not_after));
        }
        let _one = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        let build = |chain, key| {
            Current::build(&self.cfg, chain, key, CertificateSource::Replaced).map_err(
                |e| match e {
                    TlsError::Identity(rustls::Error::InconsistentKeys(_)) => {
                        ReplaceError::KeyMismatch
                    }
                    other => ReplaceError::Unusable(other.to_string()),
                },
            )
        };
        // Without a key: the certificate is for the key in use (a renewal),
        // or for the key of the last signing request (GenerateCSR).
        let (next, from_request) = match key {
            Some(k) => (build(chain, k)?, false),
            None => {
                let in_use = {
                    let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
                    guard.key.clone_key()
                };
                match build(chain.clone(), in_use) {
                    Ok(n) => (n, false),
                    Err(ReplaceError::KeyMismatch) => match store::read_pending(dir) {
                        Ok(Some(pending)) => (build(chain, pending)?, true),
                        Ok(None) => return Err(ReplaceError::KeyMismatch),
                        Err(e) => {
                            tracing::warn!(
                                "the key of the last signing request is unreadable: {e}"
                            );
                            return Err(ReplaceError::KeyMismatch);
                        }
                    },
                    Err(e) => return Err(e),
                }
            }
        };
        store::write(dir, &next.chain, &next.key)?;
        if from_request {
            store::remove_pending(dir);
        }
        self.swap(next);
        Ok(leaf)
    }

    /// Goes back to the configured `[tls] cert`/`key`: the replaced
    /// certificate leaves the store and new connections get the configured
    /// one (open connections keep theirs). The configured material is
    /// loaded first, so when it no longer loads nothing changes.
    pub fn restore_configured(&self) -> Result<ServedCertificate, RestoreError> {
        let Some(dir) = &self.store else {
            return Err(RestoreError::NotReplaced);
        };
        let _one = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        let source = {
            let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
            guard.source
        };
        if source != CertificateSource::Replaced {
            return Err(RestoreError::NotReplaced);
        }
        let next =
            load_current(&self.cfg, None).map_err(|e| RestoreError::Configured(e.to_string()))?;
        let leaf = next
            .chain
            .first()
            .and_then(ServedCertificate::from_der)
            .ok_or_else(|| RestoreError::Configured("the configured leaf is not X.509".into()))?;
        store::remove(dir).map_err(RestoreError::Store)?;
        self.swap(next);
        Ok(leaf)
    }

    /// Makes a new key and a certificate signing request for it (`PEM`);
    /// the key is kept in the store until [`TlsSetup::replace`] gets the
    /// certificate the CA issued for it. A later request replaces the key
    /// of an earlier one; the certificate served does not change.
    pub fn generate_csr(&self, req: &CsrRequest) -> Result<String, CsrError> {
        let Some(dir) = &self.store else {
            return Err(CsrError::NoStore);
        };
        let (key, pem) = super::csr::generate(req)?;
        let der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let _one = self.replacing.lock().unwrap_or_else(|e| e.into_inner());
        store::write_pending(dir, &der)
            .map_err(|(path, source)| CsrError::Write { path, source })?;
        Ok(pem)
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

/// The store's pair when there is a usable one, else the configured files.
fn load_current(cfg: &TlsConfig, store: Option<&Path>) -> Result<Current, TlsError> {
    if let Some(dir) = store {
        match store::read(dir) {
            Ok(None) => {}
            Ok(Some((chain, key))) => {
                match Current::build(cfg, chain, key, CertificateSource::Replaced) {
                    Ok(current) => return Ok(current),
                    Err(e) => tracing::error!(
                        store = %dir.display(),
                        error = %e,
                        "the replaced certificate is not usable; serving the configured one"
                    ),
                }
            }
            Err(e) => tracing::error!(
                error = %e,
                "the replaced certificate cannot be read; serving the configured one"
            ),
        }
    }
    let chain = load_certs(&cfg.cert)?;
    let key = load_private_key(&cfg.key)?;
    Current::build(cfg, chain, key, CertificateSource::Configured)
}

fn build_server_config(
    cfg: &TlsConfig,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match cfg.min_version {
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
    };
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
