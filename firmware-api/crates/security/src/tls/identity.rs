//! Who is on the other end of a mutually authenticated connection.

use rustls_pki_types::CertificateDer;

/// The verified client certificate of a connection, reduced to what the
/// authorization layer maps to a role. Only built from certificates that
/// rustls already chained to the configured client CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// Subject common name, the key of `[auth.client_cert].roles`.
    pub common_name: Option<String>,
    /// Whole subject in RFC 4514 order, for logs.
    pub subject: String,
    /// SHA-256 of the certificate DER, lower-case hex, for logs and audits.
    pub sha256_fingerprint: String,
}

impl ClientIdentity {
    /// Parses the leaf certificate; `None` when it is not valid X.509 (which
    /// cannot happen after rustls verified it, but is not worth a panic).
    pub(crate) fn from_certificate(der: &CertificateDer<'_>) -> Option<ClientIdentity> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
        Some(ClientIdentity {
            common_name,
            subject: cert.subject().to_string(),
            sha256_fingerprint: hex_lower(digest.as_ref()),
        })
    }

    /// The identity of an accepted server-side connection, if the client
    /// presented a certificate.
    pub(crate) fn from_connection(conn: &rustls::ServerConnection) -> Option<ClientIdentity> {
        conn.peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(ClientIdentity::from_certificate)
    }
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}
