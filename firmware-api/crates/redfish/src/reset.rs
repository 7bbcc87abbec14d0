//! `ComputerSystem.Reset` on a bus power device: the request body checked
//! as DSP0266 says (each fault has its Base registry message), then the
//! v1.1 power action it stands for.

use http::StatusCode;
use opendcre_proto::PowerAction;
use serde_json::Value;

use crate::answer::{BaseMessage, RedfishError};
use crate::resources::RESET_TYPES;

const ACTION: &str = "ComputerSystem.Reset";

/// The power action a `Reset` body asks for.
pub(crate) fn parse(body: &[u8]) -> Result<PowerAction, RedfishError> {
    let bad = |m, args: &[&str]| RedfishError::new(StatusCode::BAD_REQUEST, m, args);
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?
    };
    let Value::Object(params) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    if let Some(unknown) = params.keys().find(|k| *k != "ResetType") {
        return Err(bad(BaseMessage::ActionParameterUnknown, &[ACTION, unknown]));
    }
    let reset_type = match params.get("ResetType") {
        None => {
            return Err(bad(
                BaseMessage::ActionParameterMissing,
                &[ACTION, "ResetType"],
            ))
        }
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(bad(
                BaseMessage::ActionParameterValueTypeError,
                &[&other.to_string(), "ResetType", ACTION],
            ))
        }
    };
    match reset_type {
        "On" => Ok(PowerAction::On),
        "ForceOff" => Ok(PowerAction::Off),
        "PowerCycle" => Ok(PowerAction::Cycle),
        other => {
            debug_assert!(!RESET_TYPES.contains(&other));
            Err(bad(
                BaseMessage::ActionParameterValueNotInList,
                &[other, "ResetType", ACTION],
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> String {
        parse(body.as_bytes()).unwrap_err().body()["error"]["code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn reset_types_map_to_power_actions() {
        assert_eq!(parse(br#"{"ResetType":"On"}"#).unwrap(), PowerAction::On);
        assert_eq!(
            parse(br#"{"ResetType":"ForceOff"}"#).unwrap(),
            PowerAction::Off
        );
        assert_eq!(
            parse(br#" {"ResetType": "PowerCycle"} "#).unwrap(),
            PowerAction::Cycle
        );
        for t in RESET_TYPES {
            assert!(parse(format!("{{\"ResetType\":\"{t}\"}}").as_bytes()).is_ok());
        }
    }

    #[test]
    fn bad_bodies_have_their_base_messages() {
        assert_eq!(code("{"), "Base.1.22.MalformedJSON");
        assert_eq!(code("[1]"), "Base.1.22.MalformedJSON");
        assert_eq!(code(""), "Base.1.22.ActionParameterMissing");
        assert_eq!(code("{}"), "Base.1.22.ActionParameterMissing");
        assert_eq!(
            code(r#"{"ResetType":"Nmi"}"#),
            "Base.1.22.ActionParameterValueNotInList"
        );
        assert_eq!(
            code(r#"{"ResetType":"on"}"#),
            "Base.1.22.ActionParameterValueNotInList"
        );
        assert_eq!(
            code(r#"{"ResetType":1}"#),
            "Base.1.22.ActionParameterValueTypeError"
        );
        assert_eq!(
            code(r#"{"ResetType":"On","Force":true}"#),
            "Base.1.22.ActionParameterUnknown"
        );
        assert_eq!(parse(b"{").unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
