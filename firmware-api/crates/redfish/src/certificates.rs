//! `…/NetworkProtocol/HTTPS/Certificates`: the certificate the node's TLS
//! listeners serve now (read from the running `TlsSetup`, so a SIGHUP
//! reload shows at once), read-only. A node without TLS has an empty
//! collection. Only the public certificate: the private key is never read
//! here.

use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use opendcre_security::tls::{NameParts, ServedCertificate};
use serde_json::{json, Map, Value};

use crate::resources::{collection, head, with};

/// The one member's id: the listeners serve one certificate.
pub(crate) const CERT_ID: &str = "1";

pub(crate) fn collection_uri() -> String {
    format!("{}/HTTPS/Certificates", crate::network::uri())
}

fn uri() -> String {
    format!("{}/{CERT_ID}", collection_uri())
}

pub(crate) fn certificate_collection(served: Option<&ServedCertificate>) -> Value {
    collection(
        &collection_uri(),
        "CertificateCollection",
        "Certificates of the HTTPS service",
        served.map(|_| uri()).into_iter().collect(),
    )
}

fn identifier(n: &NameParts) -> Value {
    let mut m = Map::new();
    for (key, v) in [
        ("CommonName", &n.common_name),
        ("Organization", &n.organization),
        ("OrganizationalUnit", &n.organizational_unit),
        ("City", &n.city),
        ("State", &n.state),
        ("Country", &n.country),
        ("Email", &n.email),
    ] {
        if let Some(v) = v {
            m.insert(key.into(), json!(v));
        }
    }
    Value::Object(m)
}

fn time(secs: i64) -> String {
    // DSP0266 writes the offset as `+00:00`.
    rfc3339_utc(secs, Fraction::None).replace('Z', "+00:00")
}

pub(crate) fn certificate(c: &ServedCertificate) -> Value {
    let mut v = with(
        head(&uri(), "Certificate"),
        json!({
            "Id": CERT_ID,
            "Name": "HTTPS certificate",
            "Description": "The certificate the node's TLS listeners serve (the leaf of the configured chain).",
            "CertificateType": "PEM",
            "CertificateString": c.pem,
            "Issuer": identifier(&c.issuer),
            "Subject": identifier(&c.subject),
            "ValidNotBefore": time(c.not_before),
            "ValidNotAfter": time(c.not_after),
            "SerialNumber": c.serial,
            "Fingerprint": c.sha256_fingerprint,
            "FingerprintHashAlgorithm": "TPM_ALG_SHA256",
            "CertificateUsageTypes": ["Web"],
        }),
    );
    if !c.key_usage.is_empty() {
        v["KeyUsage"] = json!(c.key_usage);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_as_redfish() {
        let c = ServedCertificate {
            pem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
            subject: NameParts {
                common_name: Some("rack-a".into()),
                ..NameParts::default()
            },
            issuer: NameParts {
                common_name: Some("OpenDCRE CA".into()),
                organization: Some("OpenDCRE".into()),
                ..NameParts::default()
            },
            not_before: 0,
            not_after: 86_400,
            serial: "0A:FF".into(),
            sha256_fingerprint: "01:02".into(),
            key_usage: vec!["DigitalSignature", "ServerAuthentication"],
        };
        let v = certificate(&c);
        assert_eq!(
            v["@odata.id"],
            "/redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates/1"
        );
        assert_eq!(v["Subject"], json!({ "CommonName": "rack-a" }));
        assert_eq!(v["Issuer"]["Organization"], "OpenDCRE");
        assert_eq!(v["ValidNotAfter"], "1970-01-02T00:00:00+00:00");
        assert_eq!(v["KeyUsage"], json!(["DigitalSignature", "ServerAuthentication"]));
        assert_eq!(certificate_collection(Some(&c))["Members@odata.count"], 1);
        assert_eq!(certificate_collection(None)["Members"], json!([]));
    }
}
