//! The certificate the TLS listeners serve, as the Redfish manager shows
//! it (`…/NetworkProtocol/HTTPS/Certificates/1`): the leaf of the chain
//! the current [`super::TlsSetup`] configuration was built from, so a
//! SIGHUP reload shows the new one. The public certificate only: the key
//! never leaves `setup.rs`.

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// A distinguished name's common attributes (the first of each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameParts {
    pub common_name: Option<String>,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
}

/// The served certificate, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedCertificate {
    /// PEM of the DER the listener sends.
    pub pem: String,
    pub subject: NameParts,
    pub issuer: NameParts,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// Serial number bytes, `0A:1B:…` (upper-case hex, colon-separated).
    pub serial: String,
    /// SHA-256 of the DER, in the same notation.
    pub sha256_fingerprint: String,
    /// Key usage and extended key usage, in Redfish's `KeyUsage` names.
    pub key_usage: Vec<&'static str>,
}

fn first<'a, I>(it: I) -> Option<String>
where
    I: Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
{
    it.filter_map(|a| a.as_str().ok()).next().map(str::to_owned)
}

fn parts(n: &X509Name<'_>) -> NameParts {
    NameParts {
        common_name: first(n.iter_common_name()),
        organization: first(n.iter_organization()),
        organizational_unit: first(n.iter_organizational_unit()),
        city: first(n.iter_locality()),
        state: first(n.iter_state_or_province()),
        country: first(n.iter_country()),
        email: first(n.iter_email()),
    }
}

fn colon_hex(bytes: &[u8]) -> String {
    super::hex_lower(bytes)
        .to_ascii_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

fn pem(der: &[u8]) -> String {
    super::pem::encode("CERTIFICATE", der)
}

fn key_usage(cert: &X509Certificate<'_>) -> Vec<&'static str> {
    let mut out = Vec::new();
    if let Ok(Some(ku)) = cert.key_usage() {
        let k = ku.value;
        for (on, name) in [
            (k.digital_signature(), "DigitalSignature"),
            (k.non_repudiation(), "NonRepudiation"),
            (k.key_encipherment(), "KeyEncipherment"),
            (k.data_encipherment(), "DataEncipherment"),
            (k.key_agreement(), "KeyAgreement"),
            (k.key_cert_sign(), "KeyCertSign"),
            (k.crl_sign(), "CRLSigning"),
            (k.encipher_only(), "EncipherOnly"),
            (k.decipher_only(), "DecipherOnly"),
        ] {
            if on {
                out.push(name);
            }
        }
    }
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        for (on, name) in [
            (e.server_auth, "ServerAuthentication"),
            (e.client_auth, "ClientAuthentication"),
            (e.code_signing, "CodeSigning"),
            (e.email_protection, "EmailProtection"),
            (e.time_stamping, "Timestamping"),
            (e.ocsp_signing, "OCSPSigning"),
        ] {
            if on {
                out.push(name);
            }
        }
    }
    out
}

impl ServedCertificate {
    /// `None` when `der` is not X.509 (rustls took it, so it is; not worth
    /// a panic either way).
    pub(crate) fn from_der(der: &CertificateDer<'_>) -> Option<ServedCertificate> {
        let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
        let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
        Some(ServedCertificate {
            pem: pem(der.as_ref()),
            subject: parts(cert.subject()),
            issuer: parts(cert.issuer()),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            serial: colon_hex(cert.raw_serial()),
            sha256_fingerprint: colon_hex(digest.as_ref()),
            key_usage: key_usage(&cert),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notation() {
        assert_eq!(colon_hex(&[0x0a, 0xff, 0x01]), "0A:FF:01");
        let p = pem(&[0u8; 60]);
        assert!(p.starts_with("-----BEGIN CERTIFICATE-----\nAAAA"));
        assert_eq!(p.lines().nth(1).unwrap().len(), 64);
        assert!(p.ends_with("-----END CERTIFICATE-----\n"));
        assert_eq!(
            ServedCertificate::from_der(&CertificateDer::from(vec![1, 2, 3])),
            None
        );
    }
}
