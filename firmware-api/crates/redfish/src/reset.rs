//! `ComputerSystem.Reset`: the request body checked as DSP0266 says (each
//! fault has its Base registry message) against the reset types the system
//! offers.

use http::StatusCode;
use serde_json::Value;

use crate::answer::{BaseMessage, RedfishError};
use crate::route::SystemId;

const ACTION: &str = "ComputerSystem.Reset";

/// A reset this service carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetType {
    /// v1.1 `on`; IPMI power up.
    On,
    /// v1.1 `off`; IPMI power down.
    ForceOff,
    /// v1.1 `cycle`: off, then on.
    PowerCycle,
    /// IPMI hard reset; on a bus power device a power cycle, which is
    /// what a forced restart of the server it feeds is (Ironic's reboot
    /// asks for `ForceRestart`).
    ForceRestart,
    /// IPMI soft shutdown through ACPI (BMC systems only).
    GracefulShutdown,
}

impl ResetType {
    /// Every reset type the service knows (a BMC's server offers them all).
    pub(crate) const ALL: [ResetType; 5] = [
        ResetType::On,
        ResetType::ForceOff,
        ResetType::PowerCycle,
        ResetType::ForceRestart,
        ResetType::GracefulShutdown,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ResetType::On => "On",
            ResetType::ForceOff => "ForceOff",
            ResetType::PowerCycle => "PowerCycle",
            ResetType::ForceRestart => "ForceRestart",
            ResetType::GracefulShutdown => "GracefulShutdown",
        }
    }
}

const BUS: &[ResetType] = &[
    ResetType::On,
    ResetType::ForceOff,
    ResetType::PowerCycle,
    ResetType::ForceRestart,
];
const BMC: &[ResetType] = &ResetType::ALL;

/// What a system can do: a bus power device switches its output (a forced
/// restart is a power cycle); a BMC also restarts through a hard reset
/// and shuts down through the host's ACPI.
pub(crate) fn offered(s: SystemId) -> &'static [ResetType] {
    if s.is_bmc() {
        BMC
    } else {
        BUS
    }
}

/// `ResetType@Redfish.AllowableValues` of a system.
pub(crate) fn allowable(s: SystemId) -> Vec<&'static str> {
    offered(s).iter().map(|t| t.name()).collect()
}

/// The reset a `Reset` body asks of system `s`.
pub(crate) fn parse(s: SystemId, body: &[u8]) -> Result<ResetType, RedfishError> {
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
    offered(s)
        .iter()
        .find(|t| t.name() == reset_type)
        .copied()
        .ok_or_else(|| {
            bad(
                BaseMessage::ActionParameterValueNotInList,
                &[reset_type, "ResetType", ACTION],
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUS_SYS: SystemId = SystemId {
        board: 1,
        device: 0x16ff,
    };
    const BMC_SYS: SystemId = SystemId {
        board: 0x4000_0000,
        device: 1,
    };

    fn code(body: &str) -> String {
        parse(BUS_SYS, body.as_bytes()).unwrap_err().body()["error"]["code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn reset_types_per_kind_of_system() {
        assert_eq!(
            parse(BUS_SYS, br#"{"ResetType":"On"}"#).unwrap(),
            ResetType::On
        );
        assert_eq!(
            parse(BUS_SYS, br#" {"ResetType": "PowerCycle"} "#).unwrap(),
            ResetType::PowerCycle
        );
        assert_eq!(
            allowable(BUS_SYS),
            ["On", "ForceOff", "PowerCycle", "ForceRestart"]
        );
        assert_eq!(
            allowable(BMC_SYS),
            [
                "On",
                "ForceOff",
                "PowerCycle",
                "ForceRestart",
                "GracefulShutdown"
            ]
        );
        for s in [BUS_SYS, BMC_SYS] {
            for t in allowable(s) {
                let body = format!("{{\"ResetType\":\"{t}\"}}");
                assert_eq!(parse(s, body.as_bytes()).unwrap().name(), t);
            }
        }
        assert!(
            parse(BUS_SYS, br#"{"ResetType":"GracefulShutdown"}"#).is_err(),
            "a bus device cannot shut a host down"
        );
        assert_eq!(
            parse(BMC_SYS, br#"{"ResetType":"GracefulShutdown"}"#).unwrap(),
            ResetType::GracefulShutdown
        );
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
        assert_eq!(
            parse(BUS_SYS, b"{").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
