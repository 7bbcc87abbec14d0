//! `CertificateService.GenerateCSR`: the node makes a new key for its
//! HTTPS certificate and answers with a certificate signing request for
//! the operator's CA; the key stays on the node. The certificate the CA
//! issues is installed with `ReplaceCertificate` without a key (the node
//! matches it to the waiting key). The body is checked here; the key and
//! the request are the security crate's.

use std::sync::Arc;

use http::StatusCode;
use opendcre_eventlog::{Event, EventLog};
use opendcre_security::tls::{CsrCurve, CsrError, CsrRequest, TlsSetup};
use serde_json::{json, Map, Value};

use crate::answer::{Answer, BaseMessage, RedfishError};

pub(crate) const ACTION: &str = "CertificateService.GenerateCSR";

/// The key algorithms offered: ECDSA only (the node's crypto library
/// makes no RSA keys).
pub(crate) const KEY_ALGORITHMS: [&str; 1] = ["TPM_ALG_ECDSA"];
pub(crate) const KEY_CURVES: [&str; 2] = ["TPM_ECC_NIST_P256", "TPM_ECC_NIST_P384"];

/// X.509's upper bounds (RFC 5280 Appendix A) for the subject's parts.
const MAX_CN: usize = 64;
const MAX_NAME: usize = 128;
/// Most alternative names one request carries.
const MAX_ALT_NAMES: usize = 32;

pub(crate) fn uri() -> String {
    format!("{}/Actions/{ACTION}", crate::certificates::service_uri())
}

fn bad(m: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, m, args)
}

fn value_error(param: &str, why: String) -> RedfishError {
    RedfishError::action_value(param, ACTION, why)
}

/// A text parameter: a line of printable text of at most `max` characters.
fn text(p: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, RedfishError> {
    match p.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n == 0 || n > max || s.chars().any(char::is_control) {
                Err(value_error(
                    name,
                    format!("{name} is 1 to {max} characters of text"),
                ))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(other) => Err(bad(
            BaseMessage::ActionParameterValueTypeError,
            &[&crate::answer::shown(other), name, ACTION],
        )),
    }
}

/// The request a body asks for. The collection named must be the HTTPS
/// certificates' (the node has no other certificate to request).
pub(crate) fn parse(body: &[u8]) -> Result<CsrRequest, RedfishError> {
    let Ok(Value::Object(p)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    for k in p.keys() {
        match k.as_str() {
            "CertificateCollection"
            | "CommonName"
            | "Organization"
            | "OrganizationalUnit"
            | "City"
            | "State"
            | "Country"
            | "Email"
            | "AlternativeNames"
            | "KeyPairAlgorithm"
            | "KeyCurveId"
            | "KeyBitLength" => {}
            // Parts of the schema's request the node does not put in one:
            // said so rather than dropped silently.
            "ChallengePassword" | "ContactPerson" | "GivenName" | "Initials" | "KeyUsage"
            | "Surname" | "UnstructuredName" => {
                return Err(bad(BaseMessage::ActionParameterNotSupported, &[k, ACTION]))
            }
            _ => {
                let name: String = k.chars().take(64).collect();
                return Err(bad(BaseMessage::ActionParameterUnknown, &[ACTION, &name]));
            }
        }
    }
    for required in ["CertificateCollection", "CommonName"] {
        if !p.contains_key(required) {
            return Err(bad(
                BaseMessage::ActionParameterMissing,
                &[ACTION, required],
            ));
        }
    }
    let collection = p["CertificateCollection"]
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            bad(
                BaseMessage::ActionParameterValueTypeError,
                &[
                    &p["CertificateCollection"].to_string(),
                    "CertificateCollection",
                    ACTION,
                ],
            )
        })?;
    let collection = collection.trim_end_matches('/');
    if collection != crate::certificates::https_collection_uri()
        && collection != crate::certificates::manager_collection_uri()
    {
        return Err(value_error(
            "CertificateCollection",
            format!(
                "{collection} is not a certificate collection of the node; the HTTPS certificates are {}",
                crate::certificates::https_collection_uri()
            ),
        ));
    }
    let country = text(&p, "Country", 2)?;
    if let Some(c) = &country {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(value_error(
                "Country",
                "Country is a two-letter ISO 3166 code in capitals".into(),
            ));
        }
    }
    let alternative_names = match p.get("AlternativeNames") {
        None => Vec::new(),
        Some(Value::Array(a)) if a.len() <= MAX_ALT_NAMES => a
            .iter()
            .map(|n| match n {
                Value::String(s) if !s.is_empty() && s.len() <= 253 => Ok(s.clone()),
                other => Err(value_error(
                    "AlternativeNames",
                    format!(
                        "{} is not a host name or an address",
                        other.to_string().chars().take(64).collect::<String>()
                    ),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => {
            return Err(value_error(
                "AlternativeNames",
                format!("at most {MAX_ALT_NAMES} alternative names"),
            ))
        }
        Some(other) => {
            return Err(bad(
                BaseMessage::ActionParameterValueTypeError,
                &[&crate::answer::shown(other), "AlternativeNames", ACTION],
            ))
        }
    };
    if let Some(a) = text(&p, "KeyPairAlgorithm", 32)? {
        if !KEY_ALGORITHMS.contains(&a.as_str()) {
            return Err(bad(
                BaseMessage::ActionParameterValueNotInList,
                &[&a, "KeyPairAlgorithm", ACTION],
            ));
        }
    }
    let curve = match text(&p, "KeyCurveId", 32)?.as_deref() {
        None => None,
        Some("TPM_ECC_NIST_P256") => Some(CsrCurve::P256),
        Some("TPM_ECC_NIST_P384") => Some(CsrCurve::P384),
        Some(other) => {
            return Err(bad(
                BaseMessage::ActionParameterValueNotInList,
                &[other, "KeyCurveId", ACTION],
            ))
        }
    };
    // An ECDSA key's length is its curve's.
    match (p.get("KeyBitLength"), curve) {
        (None, _) => {}
        (Some(Value::Number(n)), c) => {
            let bits = match c.unwrap_or(CsrCurve::P256) {
                CsrCurve::P256 => 256,
                CsrCurve::P384 => 384,
            };
            if n.as_u64() != Some(bits) {
                return Err(value_error(
                    "KeyBitLength",
                    format!("the key's curve makes it {bits} bits"),
                ));
            }
        }
        (Some(other), _) => {
            return Err(bad(
                BaseMessage::ActionParameterValueTypeError,
                &[&crate::answer::shown(other), "KeyBitLength", ACTION],
            ))
        }
    }
    Ok(CsrRequest {
        common_name: text(&p, "CommonName", MAX_CN)?.unwrap_or_default(),
        organization: text(&p, "Organization", MAX_NAME)?,
        organizational_unit: text(&p, "OrganizationalUnit", MAX_NAME)?,
        city: text(&p, "City", MAX_NAME)?,
        state: text(&p, "State", MAX_NAME)?,
        country,
        email: text(&p, "Email", MAX_NAME)?,
        alternative_names,
        curve,
    })
}

/// `POST …/Actions/CertificateService.GenerateCSR` by `user`: `200` with
/// `CSRString` and the collection the certificate goes to.
pub(crate) async fn generate(
    tls: Option<&Arc<TlsSetup>>,
    body: &[u8],
    user: &str,
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    let req = parse(body)?;
    let tls = crate::certificates::replaceable(tls)?;
    let cn = req.common_name.clone();
    // Key generation and the file write are blocking work.
    let done = tokio::task::spawn_blocking(move || tls.generate_csr(&req))
        .await
        .map_err(|e| RedfishError::failure(format!("the request was not made: {e}")))?;
    match done {
        Ok(pem) => {
            log.record(Event::certificate_request(user, &cn));
            tracing::warn!(
                user,
                subject = cn,
                "new HTTPS key made; certificate signing request given out"
            );
            Ok(Answer::json(
                StatusCode::OK,
                &json!({
                    "CSRString": pem,
                    "CertificateCollection": crate::resources::link(&crate::certificates::https_collection_uri()),
                }),
            ))
        }
        Err(CsrError::Input(why)) => Err(value_error("AlternativeNames", why)),
        Err(e) => Err(RedfishError::failure(format!(
            "the certificate signing request could not be made: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTPS: &str = "/redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates";

    fn code(body: &str) -> String {
        parse(body.as_bytes()).unwrap_err().key()
    }

    #[test]
    fn bodies() {
        let ok = parse(
            format!(r#"{{"CertificateCollection": {{"@odata.id": "{HTTPS}"}}, "CommonName": "node-7", "Country": "DE", "AlternativeNames": ["node-7.example", "10.0.3.7"], "KeyCurveId": "TPM_ECC_NIST_P384", "KeyBitLength": 384, "KeyPairAlgorithm": "TPM_ALG_ECDSA"}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(ok.common_name, "node-7");
        assert_eq!(ok.curve, Some(CsrCurve::P384));
        assert_eq!(ok.alternative_names.len(), 2);
        let coll = format!(r#""CertificateCollection": {{"@odata.id": "{HTTPS}"}}"#);
        for (body, want) in [
            ("[]".to_string(), "MalformedJSON"),
            (format!("{{{coll}}}"), "ActionParameterMissing"),
            (r#"{"CommonName": "x"}"#.to_string(), "ActionParameterMissing"),
            (format!(r#"{{{coll}, "CommonName": "x", "Surname": "y"}}"#), "ActionParameterNotSupported"),
            (format!(r#"{{{coll}, "CommonName": "x", "Colour": "y"}}"#), "ActionParameterUnknown"),
            (r#"{"CertificateCollection": {"@odata.id": "/redfish/v1/Systems"}, "CommonName": "x"}"#.to_string(), "ActionParameterValueError"),
            (format!(r#"{{{coll}, "CommonName": ""}}"#), "ActionParameterValueError"),
            (format!(r#"{{{coll}, "CommonName": "{}"}}"#, "x".repeat(65)), "ActionParameterValueError"),
            (format!(r#"{{{coll}, "CommonName": 7}}"#), "ActionParameterValueTypeError"),
            (format!(r#"{{{coll}, "CommonName": "x", "Country": "Germany"}}"#), "ActionParameterValueError"),
            (format!(r#"{{{coll}, "CommonName": "x", "Country": "de"}}"#), "ActionParameterValueError"),
            (format!(r#"{{{coll}, "CommonName": "x", "KeyPairAlgorithm": "TPM_ALG_RSA"}}"#), "ActionParameterValueNotInList"),
            (format!(r#"{{{coll}, "CommonName": "x", "KeyCurveId": "TPM_ECC_NIST_P521"}}"#), "ActionParameterValueNotInList"),
            (format!(r#"{{{coll}, "CommonName": "x", "KeyBitLength": 2048}}"#), "ActionParameterValueError"),
            (format!(r#"{{{coll}, "CommonName": "x", "AlternativeNames": "a"}}"#), "ActionParameterValueTypeError"),
            (format!(r#"{{{coll}, "CommonName": "x", "AlternativeNames": [1]}}"#), "ActionParameterValueError"),
        ] {
            assert_eq!(code(&body), want, "{body}");
        }
    }
}
