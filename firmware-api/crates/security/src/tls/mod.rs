//! TLS for the REST API, built in so a node on a data-center LAN is safe
//! without a reverse proxy in front (the original relied on nginx).
//!
//! The server asks [`TlsSetup`] for the current acceptor on every accepted
//! connection, so a SIGHUP that re-reads certificate files takes effect for
//! new connections without closing the listener or existing connections.

mod config;
mod csr;
mod identity;
mod pem;
mod served;
mod setup;
mod store;
pub(crate) use store::write_private;

pub use config::{ClientAuthMode, PlainHttp, TlsConfig, TlsVersion};
pub(crate) use identity::hex_lower;
pub use identity::ClientIdentity;

pub use csr::{CsrCurve, CsrError, CsrRequest};
pub(crate) use pem::{load_certs, load_roots};
pub use served::{NameParts, ServedCertificate};
pub use setup::{Accepted, CertificateSource, RestoreError, TlsError, TlsSetup};
pub use store::ReplaceError;
