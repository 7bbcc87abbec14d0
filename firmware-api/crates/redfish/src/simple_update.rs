//! `UpdateService.SimpleUpdate` (OpenRMC usage guide "Pull FW update on
//! rack manager"): the node fetches a RAUC bundle from an HTTP(S) server
//! the operator names and installs it, for fleets that publish bundles on
//! a web server instead of pushing them to every node. The request is
//! checked here; the download and the install are one task of the update
//! service ([`crate::Updater`]).

use base64::Engine;
use http::StatusCode;
use serde_json::Value;

use crate::aggregation::params;
use crate::answer::{shown, Answer, BaseMessage, RedfishError};
use crate::http_client::Target;
use crate::route::V1;
use crate::update::{check_apply_time, check_targets, Pull, Updater};

const ACTION: &str = "UpdateService.SimpleUpdate";
/// The transfer protocols the node fetches with.
pub(crate) const PROTOCOLS: [&str; 2] = ["HTTP", "HTTPS"];
/// Longest `ImageURI` taken.
const MAX_URI: usize = 2048;
/// Longest user name or password for the server.
const MAX_CREDENTIAL: usize = 256;

pub(crate) fn uri() -> String {
    format!("{V1}/UpdateService/Actions/{ACTION}")
}

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

/// A checked request: where from, and the `Authorization` to send.
#[derive(Debug)]
pub(crate) struct Request {
    pub from: Target,
    pub uri: String,
    pub authorization: Option<String>,
}

/// The body: `ImageURI` (required; `http://` or `https://`, or without a
/// scheme when `TransferProtocol` gives it), `TransferProtocol` (`HTTP`,
/// `HTTPS`), `Username` and `Password` (both or neither: HTTP Basic to the
/// server), `Targets` and `@Redfish.OperationApplyTime` as a push's
/// `UpdateParameters`.
pub(crate) fn parse(body: &[u8]) -> Result<Request, RedfishError> {
    let p = params(
        body,
        ACTION,
        &[
            "ImageURI",
            "TransferProtocol",
            "Username",
            "Password",
            "Targets",
            "@Redfish.OperationApplyTime",
        ],
    )?;
    let text = |name: &str, max: usize| -> Result<Option<String>, RedfishError> {
        match p.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(RedfishError::action_value(
                name,
                ACTION,
                format!("{name} has at most {max} characters"),
            )),
            Some(other) => {
                // A password is never echoed.
                let value = if name == "Password" {
                    "…".to_string()
                } else {
                    shown(other)
                };
                Err(bad(
                    BaseMessage::ActionParameterValueTypeError,
                    &[&value, name, ACTION],
                ))
            }
        }
    };
    let Some(image) = text("ImageURI", MAX_URI)? else {
        return Err(bad(
            BaseMessage::ActionParameterMissing,
            &[ACTION, "ImageURI"],
        ));
    };
    let protocol = text("TransferProtocol", 16)?;
    if let Some(proto) = &protocol {
        if !PROTOCOLS.contains(&proto.as_str()) {
            return Err(bad(
                BaseMessage::ActionParameterValueNotInList,
                &[&shown(&p["TransferProtocol"]), "TransferProtocol", ACTION],
            )
            .with_detail("the node fetches bundles over HTTP or HTTPS"));
        }
    }
    let image = match (image.split_once("://"), &protocol) {
        (Some((scheme, _)), Some(proto)) if !scheme.eq_ignore_ascii_case(proto) => {
            return Err(RedfishError::action_value(
                "ImageURI",
                ACTION,
                format!("ImageURI says {scheme}, TransferProtocol {proto}"),
            ))
        }
        (Some(_), _) => image,
        (None, Some(proto)) => format!("{}://{image}", proto.to_ascii_lowercase()),
        (None, None) => {
            return Err(RedfishError::action_value(
                "ImageURI",
                ACTION,
                "ImageURI is an http:// or https:// URI (or give TransferProtocol)",
            ))
        }
    };
    let from = Target::parse(&image).map_err(|why| {
        RedfishError::action_value("ImageURI", ACTION, format!("ImageURI: {why}"))
    })?;
    let authorization = match (
        text("Username", MAX_CREDENTIAL)?,
        text("Password", MAX_CREDENTIAL)?,
    ) {
        (None, None) => None,
        (Some(u), Some(pw)) if !u.contains(':') => {
            let pair = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{pw}"));
            Some(format!("Basic {pair}"))
        }
        (Some(_), Some(_)) => {
            return Err(RedfishError::action_value(
                "Username",
                ACTION,
                "HTTP Basic cannot carry a user name with ':'",
            ))
        }
        (Some(_), None) => {
            return Err(bad(
                BaseMessage::ActionParameterMissing,
                &[ACTION, "Password"],
            ))
        }
        (None, Some(_)) => {
            return Err(bad(
                BaseMessage::ActionParameterMissing,
                &[ACTION, "Username"],
            ))
        }
    };
    if let Some(t) = p.get("Targets") {
        check_targets(t).map_err(|(value, why)| {
            bad(
                BaseMessage::ActionParameterValueNotInList,
                &[
                    &value.chars().take(64).collect::<String>(),
                    "Targets",
                    ACTION,
                ],
            )
            .with_detail(why)
        })?;
    }
    if let Some(t) = p.get("@Redfish.OperationApplyTime") {
        check_apply_time(t).map_err(|why| {
            bad(
                BaseMessage::ActionParameterValueNotInList,
                &[&shown(t), "@Redfish.OperationApplyTime", ACTION],
            )
            .with_detail(why)
        })?;
    }
    Ok(Request {
        uri: image,
        from,
        authorization,
    })
}

/// `POST …/UpdateService.SimpleUpdate` by `user`: checked, then the
/// download and install start as a task (`202`); the service off is `503`,
/// another upload or install `409`.
pub(crate) fn start(
    updater: &std::sync::Arc<Updater>,
    body: &[u8],
    user: &str,
) -> Result<Answer, RedfishError> {
    if !updater.settings().enabled {
        return Err(Updater::disabled_error());
    }
    let r = parse(body)?;
    let client = updater
        .pull_client()
        .map_err(|e| RedfishError::failure(format!("the download client cannot be set up: {e}")))?;
    let slot = updater.try_begin().ok_or_else(Updater::busy_error)?;
    Ok(updater.start_pull(
        slot,
        Pull {
            client,
            from: r.from,
            uri: r.uri,
            authorization: r.authorization,
        },
        user,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_as_clients_send_them() {
        let r = parse(br#"{"ImageURI": "https://192.168.1.250/images/rmc_update.raucb", "Targets": ["/redfish/v1/Managers/RackManager"]}"#).unwrap();
        assert!(r.from.https);
        assert_eq!((r.from.host.as_str(), r.from.port), ("192.168.1.250", 443));
        assert_eq!(r.from.path, "/images/rmc_update.raucb");
        assert!(r.authorization.is_none());
        // The scheme from TransferProtocol (what sushy and Ansible send).
        let r = parse(br#"{"ImageURI": "files:8080/b.raucb", "TransferProtocol": "HTTP", "Username": "fw", "Password": "s3cret", "@Redfish.OperationApplyTime": "OnReset"}"#).unwrap();
        assert_eq!(r.uri, "http://files:8080/b.raucb");
        assert_eq!((r.from.https, r.from.port), (false, 8080));
        // RFC 7617's encoding of fw:s3cret.
        assert_eq!(r.authorization.as_deref(), Some("Basic Znc6czNjcmV0"));
    }

    #[test]
    fn bad_requests_are_refused_with_their_reason() {
        for (body, want) in [
            (r#"[]"#, "MalformedJSON"),
            (r#"{}"#, "ActionParameterMissing"),
            (r#"{"ImageURI": 7}"#, "ActionParameterValueTypeError"),
            (
                r#"{"ImageURI": "ftp://h/b.raucb"}"#,
                "ActionParameterValueError",
            ),
            (r#"{"ImageURI": "h/b.raucb"}"#, "ActionParameterValueError"),
            (
                r#"{"ImageURI": "https://u:p@h/b"}"#,
                "ActionParameterValueError",
            ),
            (
                r#"{"ImageURI": "h/b", "TransferProtocol": "TFTP"}"#,
                "ActionParameterValueNotInList",
            ),
            (
                r#"{"ImageURI": "http://h/b", "TransferProtocol": "HTTPS"}"#,
                "ActionParameterValueError",
            ),
            (
                r#"{"ImageURI": "http://h/b", "Username": "u"}"#,
                "ActionParameterMissing",
            ),
            (
                r#"{"ImageURI": "http://h/b", "Password": "p"}"#,
                "ActionParameterMissing",
            ),
            (
                r#"{"ImageURI": "http://h/b", "Username": "a:b", "Password": "p"}"#,
                "ActionParameterValueError",
            ),
            (
                r#"{"ImageURI": "http://h/b", "Targets": ["/redfish/v1/Systems/00000001-0001"]}"#,
                "ActionParameterValueNotInList",
            ),
            (
                r#"{"ImageURI": "http://h/b", "@Redfish.OperationApplyTime": "AtMaintenanceWindowStart"}"#,
                "ActionParameterValueNotInList",
            ),
            (
                r#"{"ImageURI": "http://h/b", "ForceUpdate": true}"#,
                "ActionParameterUnknown",
            ),
        ] {
            let e = parse(body.as_bytes()).expect_err(body);
            assert_eq!(
                (e.status, e.key()),
                (StatusCode::BAD_REQUEST, want.to_string()),
                "{body}"
            );
        }
        let long = format!(r#"{{"ImageURI": "http://h/{}"}}"#, "x".repeat(MAX_URI));
        assert_eq!(
            parse(long.as_bytes()).unwrap_err().key(),
            "ActionParameterValueError"
        );
        // A password of the wrong type is not echoed.
        let e = parse(br#"{"ImageURI": "http://h/b", "Username": "u", "Password": 12345}"#)
            .unwrap_err();
        assert!(!e.body().to_string().contains("12345"), "{}", e.body());
    }
}
