//! `Chassis.Reset`: the computer systems a chassis holds, reset as one
//! decision — every system of the rack, a bus board's power devices, a BMC
//! server's own system. OpenRMC asks it of the rack ("to control power
//! state of the Rack", `ForceRestart`). It runs as a group reset does (one
//! task, every system at once, the bus actor serializing bus commands;
//! `202` with the task monitor, one event log entry per system), since a
//! rack of servers takes longer than a client's request should wait.

use http::StatusCode;
use serde_json::{json, Value};

use crate::aggregation::{self, GroupReset};
use crate::answer::{BaseMessage, RedfishError};
use crate::node::Rack;
use crate::reset::{self, ResetType};
use crate::route::{ChassisId, SystemId};

const ACTION: &str = "Chassis.Reset";

/// The computer systems of chassis `c`, in the rack's order.
pub(crate) fn systems(c: ChassisId, rack: &Rack) -> Vec<SystemId> {
    rack.systems()
        .filter(|s| match c {
            ChassisId::Rack => true,
            ChassisId::Board(b) => !s.is_bmc() && s.board == b,
            ChassisId::Server(d) => *s == SystemId::bmc(d),
        })
        .collect()
}

/// The reset types every one of `targets` offers.
fn allowable(targets: &[SystemId]) -> Vec<&'static str> {
    ResetType::ALL
        .iter()
        .filter(|t| targets.iter().all(|s| reset::offered(*s).contains(t)))
        .map(|t| t.name())
        .collect()
}

/// Sets the chassis' `Actions` when it holds systems (a board without
/// power devices has nothing to reset, and shows no action).
pub(crate) fn show(c: ChassisId, targets: &[SystemId], v: &mut Value) {
    if targets.is_empty() {
        return;
    }
    v["Actions"] = json!({
        "#Chassis.Reset": {
            "target": format!("{}/Actions/{ACTION}", c.uri()),
            "ResetType@Redfish.AllowableValues": allowable(targets),
        }
    });
}

/// The reset a `Chassis.Reset` body asks of chassis `c`.
pub(crate) fn parse(c: ChassisId, body: &[u8], rack: &Rack) -> Result<GroupReset, RedfishError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let params = aggregation::params(body, ACTION, &["ResetType"])?;
    let targets = systems(c, rack);
    if targets.is_empty() {
        return Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::ActionNotSupported,
            &[ACTION],
        )
        .with_detail(format!("chassis {} holds no computer system", c.id())));
    }
    aggregation::group(&params, ACTION, targets, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregation::tests::rack;

    #[test]
    fn each_chassis_resets_its_own_systems() {
        let r = rack();
        let all: Vec<SystemId> = r.systems().collect();
        assert_eq!(systems(ChassisId::Rack, &r), all);
        let board = all[0].board;
        assert!(systems(ChassisId::Board(board), &r)
            .iter()
            .all(|s| s.board == board && !s.is_bmc()));
        assert_eq!(
            systems(ChassisId::Server(1), &r),
            [SystemId::bmc(1)],
            "a BMC server's chassis: its system"
        );
        assert!(systems(ChassisId::Server(9), &r).is_empty());
        assert!(systems(ChassisId::Board(0xdead), &r).is_empty());
    }

    #[test]
    fn the_action_offers_what_every_system_offers() {
        let r = rack();
        let mut v = json!({});
        show(ChassisId::Rack, &systems(ChassisId::Rack, &r), &mut v);
        assert_eq!(
            v["Actions"]["#Chassis.Reset"]["target"],
            "/redfish/v1/Chassis/Rack/Actions/Chassis.Reset"
        );
        assert_eq!(
            v["Actions"]["#Chassis.Reset"]["ResetType@Redfish.AllowableValues"],
            json!(["On", "ForceOff", "PowerCycle", "ForceRestart"]),
            "the bus devices' and the BMC's in common"
        );
        let mut server = json!({});
        show(ChassisId::Server(1), &[SystemId::bmc(1)], &mut server);
        assert_eq!(
            server["Actions"]["#Chassis.Reset"]["ResetType@Redfish.AllowableValues"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        let mut empty = json!({});
        show(ChassisId::Board(7), &[], &mut empty);
        assert!(empty.get("Actions").is_none());
    }

    #[test]
    fn bodies_are_checked_as_a_group_resets() {
        let r = rack();
        let g = parse(ChassisId::Rack, br#"{"ResetType": "ForceRestart"}"#, &r).unwrap();
        assert_eq!(g.reset, ResetType::ForceRestart);
        assert_eq!(g.targets, systems(ChassisId::Rack, &r));
        assert_eq!(g.batch, g.targets.len(), "all at once");
        let code = |c: ChassisId, body: &[u8]| {
            parse(c, body, &r).unwrap_err().body()["error"]["code"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            code(ChassisId::Rack, br#"{"ResetType": "GracefulShutdown"}"#),
            "Base.1.22.ActionParameterValueNotInList",
            "the bus devices cannot shut a host down"
        );
        assert_eq!(
            code(ChassisId::Rack, b""),
            "Base.1.22.ActionParameterMissing"
        );
        assert_eq!(
            code(ChassisId::Rack, br#"{"ResetType": "On", "BatchSize": 2}"#),
            "Base.1.22.ActionParameterUnknown"
        );
        assert_eq!(
            code(ChassisId::Board(0xdead), br#"{"ResetType": "On"}"#),
            "Base.1.22.ActionNotSupported"
        );
        assert_eq!(
            parse(
                ChassisId::Server(1),
                br#"{"ResetType": "GracefulShutdown"}"#,
                &r
            )
            .unwrap()
            .targets,
            [SystemId::bmc(1)]
        );
    }
}
