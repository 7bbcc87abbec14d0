//! The manager's certificate: the one the node's TLS listeners serve, as
//! `…/NetworkProtocol/HTTPS/Certificates/1` (also the one member of the
//! manager's own `Certificates`, its device identity), read from the
//! running `TlsSetup` so a reload or a replacement shows at once; and the
//! `CertificateService` whose `ReplaceCertificate` installs a new one.
//! Only public certificates are shown: the private key never leaves the
//! security crate.
//!
//! A replacement is kept in the certificate store (`[manager]
//! certificate_store`) and served from then on, after restarts too; the
//! configured `[tls] cert`/`key` are not touched (on OpenMistOS they are
//! root's). Without a store, or without TLS, there is nothing to replace.
//! A `DELETE` of the replaced certificate goes back to the configured one.

use std::sync::Arc;

use http::StatusCode;
use opendcre_eventlog::{Event, EventLog};
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use opendcre_security::tls::{
    CertificateSource, NameParts, RestoreError, ServedCertificate, TlsSetup,
};
use serde_json::{json, Map, Value};

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::resources::{collection, head, link, with};
use crate::route::{MANAGER_ID, V1};

/// The one member's id: the listeners serve one certificate.
pub(crate) const CERT_ID: &str = "1";
const ACTION: &str = "CertificateService.ReplaceCertificate";

pub(crate) fn https_collection_uri() -> String {
    format!("{}/HTTPS/Certificates", crate::network::uri())
}

pub(crate) fn manager_collection_uri() -> String {
    format!("{V1}/Managers/{MANAGER_ID}/Certificates")
}

pub(crate) fn uri() -> String {
    format!("{}/{CERT_ID}", https_collection_uri())
}

pub(crate) fn service_uri() -> String {
    format!("{V1}/CertificateService")
}

pub(crate) fn locations_uri() -> String {
    format!("{}/CertificateLocations", service_uri())
}

pub(crate) fn replace_uri() -> String {
    format!("{}/Actions/{ACTION}", service_uri())
}

/// The served certificate, if the node serves one.
pub(crate) fn served(
    tls: Option<&Arc<TlsSetup>>,
) -> Option<(ServedCertificate, CertificateSource)> {
    tls.and_then(|t| t.served_certificate())
}

fn members(served: bool) -> Vec<String> {
    served.then(uri).into_iter().collect()
}

/// `…/NetworkProtocol/HTTPS/Certificates`.
pub(crate) fn https_collection(served: bool) -> Value {
    collection(
        &https_collection_uri(),
        "CertificateCollection",
        "Certificates of the HTTPS service",
        members(served),
    )
}

/// `…/Managers/RackManager/Certificates`: the manager's identity is the
/// certificate its HTTPS service presents.
pub(crate) fn manager_collection(served: bool) -> Value {
    collection(
        &manager_collection_uri(),
        "CertificateCollection",
        "Certificates of the rack manager",
        members(served),
    )
}

/// `/redfish/v1/CertificateService`.
pub(crate) fn service(replaceable: bool) -> Value {
    let description = if replaceable {
        "Certificates of the node. ReplaceCertificate installs a new certificate (and key) for the HTTPS service; it is kept in the node's certificate store and served from then on. GenerateCSR makes a new key on the node and a signing request for it; the certificate issued for it is then installed with ReplaceCertificate, without a key."
    } else {
        "Certificates of the node. Replacing the HTTPS certificate through the API is off on this node (no certificate store configured, or no TLS)."
    };
    with(
        head(&service_uri(), "CertificateService"),
        json!({
            "Id": "CertificateService",
            "Name": "Certificate service",
            "Description": description,
            "CertificateLocations": link(&locations_uri()),
            "Actions": {
                "#CertificateService.ReplaceCertificate": {
                    "target": replace_uri(),
                    "CertificateType@Redfish.AllowableValues": ["PEM", "PEMchain"],
                },
                "#CertificateService.GenerateCSR": {
                    "target": crate::csr::uri(),
                    "KeyPairAlgorithm@Redfish.AllowableValues": crate::csr::KEY_ALGORITHMS,
                    "KeyCurveId@Redfish.AllowableValues": crate::csr::KEY_CURVES,
                },
            },
        }),
    )
}

/// `…/CertificateService/CertificateLocations`: every certificate there is.
pub(crate) fn locations(served: bool) -> Value {
    let certs: Vec<Value> = members(served).iter().map(|u| link(u)).collect();
    with(
        head(&locations_uri(), "CertificateLocations"),
        json!({
            "Id": "CertificateLocations",
            "Name": "Certificate locations",
            "Links": {
                "Certificates@odata.count": certs.len(),
                "Certificates": certs,
            },
        }),
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

pub(crate) fn certificate(c: &ServedCertificate, source: CertificateSource) -> Value {
    let description = match source {
        CertificateSource::Configured => {
            "The certificate the node's TLS listeners serve: the leaf of the configured chain ([tls] cert)."
        }
        CertificateSource::Replaced => {
            "The certificate the node's TLS listeners serve: installed through ReplaceCertificate, kept in the node's certificate store."
        }
    };
    let mut v = with(
        head(&uri(), "Certificate"),
        json!({
            "Id": CERT_ID,
            "Name": "HTTPS certificate",
            "Description": description,
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

/// The parameters of a `ReplaceCertificate` request; only the PEM text is
/// needed after they are checked.
fn parse(body: &[u8]) -> Result<String, RedfishError> {
    let bad = |m, args: &[&str]| RedfishError::new(StatusCode::BAD_REQUEST, m, args);
    let Ok(Value::Object(p)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    for k in p.keys() {
        match k.as_str() {
            "CertificateString" | "CertificateType" | "CertificateUri" => {}
            // For PKCS #12 bundles, which are not taken.
            "Password" => return Err(bad(BaseMessage::ActionParameterNotSupported, &[k, ACTION])),
            _ => return Err(bad(BaseMessage::ActionParameterUnknown, &[ACTION, k])),
        }
    }
    for required in ["CertificateString", "CertificateType", "CertificateUri"] {
        if !p.contains_key(required) {
            return Err(bad(
                BaseMessage::ActionParameterMissing,
                &[ACTION, required],
            ));
        }
    }
    match &p["CertificateType"] {
        Value::String(t) if t == "PEM" || t == "PEMchain" => {}
        Value::String(t) => {
            return Err(bad(
                BaseMessage::ActionParameterValueNotInList,
                &[t, "CertificateType", ACTION],
            ))
        }
        other => {
            return Err(bad(
                BaseMessage::ActionParameterValueTypeError,
                &[&other.to_string(), "CertificateType", ACTION],
            ))
        }
    }
    let target = p["CertificateUri"]
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(
                BaseMessage::ActionParameterValueTypeError,
                &[&p["CertificateUri"].to_string(), "CertificateUri", ACTION],
            )
        })?;
    if target.trim_end_matches('/') != uri() {
        let mut e = bad(
            BaseMessage::ActionParameterValueError,
            &["CertificateUri", ACTION],
        );
        e.detail = Some(format!(
            "{target} is not a replaceable certificate; the HTTPS certificate is {}",
            uri()
        ));
        return Err(e);
    }
    match &p["CertificateString"] {
        Value::String(s) => Ok(s.clone()),
        other => Err(bad(
            BaseMessage::ActionParameterValueTypeError,
            &[&other.to_string(), "CertificateString", ACTION],
        )),
    }
}

/// The TLS setup whose certificate the API may change; `503
/// ServiceDisabled` without TLS or without a certificate store.
pub(crate) fn replaceable(tls: Option<&Arc<TlsSetup>>) -> Result<Arc<TlsSetup>, RedfishError> {
    match tls {
        Some(t) if t.replaceable() => Ok(Arc::clone(t)),
        _ => {
            let mut e = RedfishError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                BaseMessage::ServiceDisabled,
                &[&service_uri()],
            );
            e.detail = Some(
                "the node serves no TLS, or has no certificate store ([manager] certificate_store)"
                    .into(),
            );
            Err(e)
        }
    }
}

/// `POST …/CertificateService/Actions/CertificateService.ReplaceCertificate`
/// by `user`: checks the body, installs the certificate (file work on a
/// blocking thread) and records who did it.
pub(crate) async fn replace(
    tls: Option<&Arc<TlsSetup>>,
    body: &[u8],
    user: &str,
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    let pem = parse(body)?;
    let tls = replaceable(tls)?;
    let done = tokio::task::spawn_blocking(move || tls.replace(pem.as_bytes()))
        .await
        .map_err(|e| RedfishError::failure(format!("the replacement did not finish: {e}")))?;
    match done {
        Ok(c) => {
            let subject = c.subject.common_name.clone().unwrap_or_default();
            log.record(Event::certificate_replaced(
                user,
                &subject,
                &c.sha256_fingerprint,
            ));
            tracing::warn!(user, subject, fingerprint = %c.sha256_fingerprint, "HTTPS certificate replaced");
            Ok(Answer::no_content())
        }
        Err(e) if e.is_input() => {
            let mut err = RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::ActionParameterValueError,
                &["CertificateString", ACTION],
            );
            err.detail = Some(e.to_string());
            Err(err)
        }
        Err(e) => Err(RedfishError::failure(format!(
            "the certificate could not be installed: {e}"
        ))),
    }
}

/// The `Allow` of the served certificate as it is now: `DELETE` only while
/// a replaced one is served (it then goes back to the configured one).
pub(crate) fn allow(tls: Option<&Arc<TlsSetup>>) -> Option<&'static str> {
    match served(tls) {
        Some((_, CertificateSource::Replaced)) => None,
        _ => Some(crate::route::READ_ONLY),
    }
}

/// `DELETE …/HTTPS/Certificates/1` by `user` while a replaced certificate
/// is served: it leaves the store and the configured `[tls] cert` is served
/// again (to new connections, and after restarts); recorded in the event
/// log. `204`.
pub(crate) async fn restore(
    tls: Option<&Arc<TlsSetup>>,
    id: &str,
    path: &str,
    user: &str,
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    if id != CERT_ID || served(tls).is_none() {
        return Err(RedfishError::missing(path));
    }
    let tls = replaceable(tls)?;
    let done = tokio::task::spawn_blocking(move || tls.restore_configured())
        .await
        .map_err(|e| RedfishError::failure(format!("the removal did not finish: {e}")))?;
    match done {
        Ok(c) => {
            let subject = c.subject.common_name.clone().unwrap_or_default();
            log.record(Event::certificate_restored(
                user,
                &subject,
                &c.sha256_fingerprint,
            ));
            tracing::warn!(user, subject, fingerprint = %c.sha256_fingerprint, "replaced HTTPS certificate removed: the configured one is served");
            Ok(Answer::no_content())
        }
        Err(RestoreError::NotReplaced) => Err(RedfishError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            BaseMessage::OperationNotAllowed,
            &[],
        )
        .with_detail(RestoreError::NotReplaced.to_string())),
        Err(e) => Err(RedfishError::failure(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ServedCertificate {
        ServedCertificate {
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
        }
    }

    #[test]
    fn certificate_as_redfish() {
        let v = certificate(&sample(), CertificateSource::Configured);
        assert_eq!(
            v["@odata.id"],
            "/redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates/1"
        );
        assert_eq!(v["Subject"], json!({ "CommonName": "rack-a" }));
        assert_eq!(v["Issuer"]["Organization"], "OpenDCRE");
        assert_eq!(v["ValidNotAfter"], "1970-01-02T00:00:00+00:00");
        assert_eq!(
            v["KeyUsage"],
            json!(["DigitalSignature", "ServerAuthentication"])
        );
        assert_eq!(https_collection(true)["Members@odata.count"], 1);
        assert_eq!(
            manager_collection(true)["Members"][0]["@odata.id"],
            v["@odata.id"]
        );
        assert_eq!(https_collection(false)["Members"], json!([]));
        assert_eq!(locations(true)["Links"]["Certificates"][0], link(&uri()));
        assert_eq!(
            service(true)["Actions"]["#CertificateService.ReplaceCertificate"]["target"],
            "/redfish/v1/CertificateService/Actions/CertificateService.ReplaceCertificate"
        );
    }

    fn code(body: &str) -> String {
        parse(body.as_bytes()).unwrap_err().key()
    }

    #[test]
    fn bodies() {
        let u = uri();
        let ok = format!(
            r#"{{"CertificateString": "PEM", "CertificateType": "PEM", "CertificateUri": {{"@odata.id": "{u}"}}}}"#
        );
        assert_eq!(parse(ok.as_bytes()).unwrap(), "PEM");
        for (body, want) in [
            ("[]".to_string(), "MalformedJSON"),
            (
                r#"{"CertificateType": "PEM", "CertificateUri": {}}"#.to_string(),
                "ActionParameterMissing",
            ),
            (
                ok.replace("\"PEM\",", "\"PKCS12\","),
                "ActionParameterValueNotInList",
            ),
            (
                ok.replace("\"PEM\",", "7,"),
                "ActionParameterValueTypeError",
            ),
            (ok.replace("/1\"", "/2\""), "ActionParameterValueError"),
            (
                ok.replace(&format!("{{\"@odata.id\": \"{u}\"}}"), "\"x\""),
                "ActionParameterValueTypeError",
            ),
            (
                ok.replace("}}", "}, \"Password\": \"p\"}"),
                "ActionParameterNotSupported",
            ),
            (
                ok.replace("}}", "}, \"Other\": 1}"),
                "ActionParameterUnknown",
            ),
            (
                ok.replace("\"CertificateString\": \"PEM\"", "\"CertificateString\": 1"),
                "ActionParameterValueTypeError",
            ),
        ] {
            assert_eq!(code(&body), want, "{body}");
        }
    }

    #[tokio::test]
    async fn without_store_disabled() {
        let log = EventLog::in_memory(4);
        let body = format!(
            r#"{{"CertificateString": "x", "CertificateType": "PEM", "CertificateUri": {{"@odata.id": "{}"}}}}"#,
            uri()
        );
        let e = replace(None, body.as_bytes(), "ops", &log)
            .await
            .unwrap_err();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(log.entries().is_empty());
    }
}
