//! The certificate store: where a certificate installed through the API
//! (Redfish `ReplaceCertificate`) is kept with its key, so that it is
//! served again after a restart. One file, `server.pem` (key, then the
//! chain, leaf first), owned by the service and 0600 in a 0700 directory:
//! written whole (new file, `fsync`, rename, `fsync` of the directory), so
//! a power cut leaves either the old pair or the new one, never a key of
//! one and a certificate of the other.
//!
//! The configured `[tls] cert`/`key` are never written: on OpenMistOS they
//! are root's (the service cannot change its own trust settings); removing
//! `server.pem` and reloading (SIGHUP) goes back to them.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The file in the store.
pub(crate) const FILE: &str = "server.pem";
/// The key of the last certificate signing request (`GenerateCSR`),
/// waiting for the certificate the CA issues for it.
pub(crate) const PENDING: &str = "pending-key.pem";

/// Why a certificate was not installed. Everything but `NoStore` and
/// `Write` is the uploaded material's fault.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error("no certificate store is configured ([manager] certificate_store): the certificate cannot be replaced through the API")]
    NoStore,
    #[error("the PEM text does not parse: {0}")]
    Pem(String),
    #[error("the PEM text holds no CERTIFICATE block")]
    NoCertificate,
    #[error("the PEM text holds more than one private key")]
    ManyKeys,
    #[error("the first certificate is not X.509")]
    NotX509,
    #[error("the certificate expired ({0} s after 1970-01-01 UTC, per its notAfter)")]
    Expired(i64),
    #[error("the certificate is not for the private key given (or, with no key given, for the key the node uses now)")]
    KeyMismatch,
    #[error("the certificate and key do not make a usable server identity: {0}")]
    Unusable(String),
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ReplaceError {
    /// Whether the request was at fault (a client error), not the node.
    pub fn is_input(&self) -> bool {
        !matches!(self, ReplaceError::NoStore | ReplaceError::Write { .. })
    }
}

/// What an upload holds: the chain, and the key when one came with it.
pub(crate) struct Upload {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Option<PrivateKeyDer<'static>>,
}

/// Certificates (in order) and at most one private key from PEM text;
/// other blocks (a CSR, parameters) are ignored.
pub(crate) fn parse_upload(pem: &[u8]) -> Result<Upload, ReplaceError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ReplaceError::Pem(e.to_string()))?;
    if chain.is_empty() {
        return Err(ReplaceError::NoCertificate);
    }
    let mut keys = PrivateKeyDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ReplaceError::Pem(e.to_string()))?;
    if keys.len() > 1 {
        return Err(ReplaceError::ManyKeys);
    }
    Ok(Upload {
        chain,
        key: keys.pop(),
    })
}

/// The stored pair; `Ok(None)` when the store holds none.
pub(crate) fn read(
    dir: &Path,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let up = parse_upload(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = up
        .key
        .ok_or_else(|| format!("{}: no private key", path.display()))?;
    Ok(Some((up.chain, key)))
}

fn key_label(key: &PrivateKeyDer<'_>) -> &'static str {
    match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    }
}

/// Writes the pair as the store's one file, replacing any earlier one.
pub(crate) fn write(
    dir: &Path,
    chain: &[CertificateDer<'_>],
    key: &PrivateKeyDer<'_>,
) -> Result<(), ReplaceError> {
    let mut text = super::pem::encode(key_label(key), key.secret_der());
    for cert in chain {
        text.push_str(&super::pem::encode("CERTIFICATE", cert.as_ref()));
    }
    write_private(dir, FILE, &text).map_err(|(path, source)| ReplaceError::Write { path, source })
}

/// Keeps the key of a signing request until its certificate comes.
pub(crate) fn write_pending(
    dir: &Path,
    key: &PrivateKeyDer<'_>,
) -> Result<(), (PathBuf, std::io::Error)> {
    write_private(
        dir,
        PENDING,
        &super::pem::encode(key_label(key), key.secret_der()),
    )
}

/// The key of the last signing request; `Ok(None)` without one.
pub(crate) fn read_pending(dir: &Path) -> Result<Option<PrivateKeyDer<'static>>, String> {
    let path = dir.join(PENDING);
    match std::fs::read(&path) {
        Ok(b) => PrivateKeyDer::from_pem_slice(&b)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Removes the replaced certificate (`server.pem`) and syncs the
/// directory, so a restart serves the configured one too. Absent: done.
pub(crate) fn remove(dir: &Path) -> Result<(), String> {
    let path = dir.join(FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// The pending key is spent (its certificate is installed).
pub(crate) fn remove_pending(dir: &Path) {
    match std::fs::remove_file(dir.join(PENDING)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "the spent request key was not removed: {e}")
        }
    }
}

/// `text` as the store's file `name`, mode 0600 in a 0700 directory,
/// written whole: a new file, `fsync`, rename over the old one, `fsync`
/// of the directory.
pub(crate) fn write_private(
    dir: &Path,
    name: &str,
    text: &str,
) -> Result<(), (PathBuf, std::io::Error)> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| (path, source)
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail(dir))?;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.new"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail(&tmp))?;
    f.write_all(text.as_bytes()).map_err(fail(&tmp))?;
    f.sync_all().map_err(fail(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(fail(&path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail(dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn pair(cn: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![cn.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn uploads() {
        let (cert, key) = pair("a");
        let up = parse_upload(format!("{key}{cert}").as_bytes()).unwrap();
        assert_eq!(up.chain.len(), 1);
        assert!(up.key.is_some());
        assert!(parse_upload(cert.as_bytes()).unwrap().key.is_none());
        assert!(matches!(
            parse_upload(key.as_bytes()),
            Err(ReplaceError::NoCertificate)
        ));
        assert!(matches!(
            parse_upload(b"not pem at all"),
            Err(ReplaceError::NoCertificate)
        ));
        assert!(matches!(
            parse_upload(format!("{cert}{key}{key}").as_bytes()),
            Err(ReplaceError::ManyKeys)
        ));
        let broken = cert.replace("MII", "M!I");
        assert!(parse_upload(broken.as_bytes()).is_err());
    }

    #[test]
    fn store_round_trip_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("tls");
        assert!(read(&store).unwrap().is_none());
        let (cert, key) = pair("b");
        let up = parse_upload(format!("{cert}{key}").as_bytes()).unwrap();
        write(&store, &up.chain, up.key.as_ref().unwrap()).unwrap();
        let (chain, k) = read(&store).unwrap().unwrap();
        assert_eq!(chain, up.chain);
        assert_eq!(k.secret_der(), up.key.as_ref().unwrap().secret_der());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store), 0o700);
        assert_eq!(mode(&store.join(FILE)), 0o600);
        assert!(!store.join("server.pem.new").exists());
        std::fs::write(store.join(FILE), cert).unwrap();
        assert!(read(&store).unwrap_err().contains("no private key"));
    }
}
