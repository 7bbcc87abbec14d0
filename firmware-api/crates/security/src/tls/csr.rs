//! Certificate signing requests made on the node (Redfish
//! `GenerateCSR`): a new ECDSA key is generated here and never leaves the
//! node; the request goes to the operator's CA, and the certificate it
//! issues comes back through `ReplaceCertificate` without a key. Until
//! then the key waits in the certificate store (`pending-key.pem`, 0600),
//! so a restart in between loses nothing.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

/// The curves a key can be made on (ring, rcgen's backend here, makes
/// ECDSA keys; RSA keys it cannot generate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrCurve {
    P256,
    P384,
}

/// What the request names: the subject and its alternative names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrRequest {
    pub common_name: String,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    /// Two letters (ISO 3166).
    pub country: Option<String>,
    pub email: Option<String>,
    /// DNS names or IP addresses (an address is written as one).
    pub alternative_names: Vec<String>,
    pub curve: Option<CsrCurve>,
}

/// Why no request was made.
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    #[error("no certificate store is configured ([manager] certificate_store): a key made for a request could not be kept")]
    NoStore,
    #[error("{0}")]
    Input(String),
    #[error("the key or the request could not be made: {0}")]
    Generate(String),
    #[error("{path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// PKCS#9 emailAddress, the subject attribute CSR tools write an email as.
const EMAIL_OID: [u64; 7] = [1, 2, 840, 113549, 1, 9, 1];

/// A new key and the PEM request for it.
pub(crate) fn generate(req: &CsrRequest) -> Result<(KeyPair, String), CsrError> {
    let alg = match req.curve.unwrap_or(CsrCurve::P256) {
        CsrCurve::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        CsrCurve::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
    };
    let key = KeyPair::generate_for(alg).map_err(|e| CsrError::Generate(e.to_string()))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, req.common_name.as_str());
    for (t, v) in [
        (DnType::OrganizationName, &req.organization),
        (DnType::OrganizationalUnitName, &req.organizational_unit),
        (DnType::LocalityName, &req.city),
        (DnType::StateOrProvinceName, &req.state),
        (DnType::CountryName, &req.country),
        (DnType::CustomDnType(EMAIL_OID.to_vec()), &req.email),
    ] {
        if let Some(v) = v {
            dn.push(t, v.as_str());
        }
    }
    params.distinguished_name = dn;
    params.subject_alt_names = req
        .alternative_names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) if dns_name(n) => n
                .as_str()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|e| CsrError::Input(format!("alternative name {n:?}: {e}"))),
            Err(_) => Err(CsrError::Input(format!(
                "alternative name {n:?} is neither an IP address nor a DNS name"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let csr = params
        .serialize_request(&key)
        .and_then(|r| r.pem())
        .map_err(|e| CsrError::Generate(e.to_string()))?;
    Ok((key, csr))
}

/// A host name a CA will put in a certificate: dot-separated labels of
/// letters, digits and inner hyphens, 1 to 63 characters each, at most 253
/// in all; a leading `*.` for a wildcard.
fn dns_name(n: &str) -> bool {
    let name = n.strip_prefix("*.").unwrap_or(n);
    !name.is_empty()
        && n.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_subject_and_key() {
        let req = CsrRequest {
            common_name: "node-7.rack-3.example".into(),
            organization: Some("Example DC".into()),
            country: Some("DE".into()),
            alternative_names: vec!["node-7.rack-3.example".into(), "10.0.3.7".into()],
            curve: Some(CsrCurve::P384),
            ..Default::default()
        };
        let (key, pem) = generate(&req).unwrap();
        assert!(
            pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
            "{pem}"
        );
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map(|d: rustls_pki_types::CertificateSigningRequestDer<'_>| d.as_ref().to_vec())
            .unwrap();
        // The subject's common name and the key's public half are in it.
        assert!(der
            .windows(req.common_name.len())
            .any(|w| w == req.common_name.as_bytes()));
        let public = key.public_key_raw();
        assert!(der.windows(public.len()).any(|w| w == public));
        assert!(matches!(key.algorithm(), a if a == &rcgen::PKCS_ECDSA_P384_SHA384));
        let bad = CsrRequest {
            common_name: "x".into(),
            alternative_names: vec!["not a name!".into()],
            ..Default::default()
        };
        assert!(matches!(generate(&bad), Err(CsrError::Input(_))));
        assert!(dns_name("*.rack-3.example") && dns_name("node7"));
        for n in ["", "a..b", "-a.b", "a-.b", "*.", &"a".repeat(64)] {
            assert!(!dns_name(n), "{n:?}");
        }
    }
}
