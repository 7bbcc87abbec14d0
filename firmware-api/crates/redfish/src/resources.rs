//! The payloads, as pure functions of what the node read: no I/O here, so
//! each shape is tested without a bus.

use opendcre_proto::board_id::{fmt_board, fmt_device};
use serde_json::{json, Value};

use crate::metadata::odata_type;
use crate::node::Rack;
use crate::power::PowerView;
use crate::reset;
use crate::route::{ChassisId, SystemId, MANAGER_ID, V1};

/// The Redfish specification version this service follows (DSP0266).
pub(crate) const REDFISH_VERSION: &str = "1.21.0";

pub(crate) fn link(uri: &str) -> Value {
    json!({ "@odata.id": uri })
}

fn manager_uri() -> String {
    format!("{V1}/Managers/{MANAGER_ID}")
}

/// `@odata.id`, `@odata.type` and `@odata.context` of a resource.
pub(crate) fn head(uri: &str, namespace: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("@odata.id".into(), json!(uri));
    m.insert("@odata.type".into(), json!(odata_type(namespace)));
    m.insert(
        "@odata.context".into(),
        json!(format!("{V1}/$metadata#{namespace}.{namespace}")),
    );
    m
}

pub(crate) fn with(mut head: serde_json::Map<String, Value>, rest: Value) -> Value {
    if let Value::Object(r) = rest {
        head.extend(r);
    }
    Value::Object(head)
}

pub(crate) fn collection(uri: &str, namespace: &str, name: &str, members: Vec<String>) -> Value {
    let members: Vec<Value> = members.iter().map(|m| link(m)).collect();
    with(
        head(uri, namespace),
        json!({
            "Name": name,
            "Members@odata.count": members.len(),
            "Members": members,
        }),
    )
}

pub(crate) fn service_root(rack: &str, uuid: Option<&str>) -> Value {
    let mut v = with(
        head(V1, "ServiceRoot"),
        json!({
            "Id": "RootService",
            "Name": format!("OpenDCRE Redfish service of rack {rack}"),
            "RedfishVersion": REDFISH_VERSION,
            "Vendor": "OpenMistOS",
            "Product": "OpenDCRE rack manager",
            // Exactly what `query` serves; any other `$` parameter is a 501.
            "ProtocolFeaturesSupported": {
                "ExpandQuery": {
                    "ExpandAll": true,
                    "Levels": true,
                    "Links": true,
                    "NoLinks": true,
                    "MaxLevels": crate::query::MAX_LEVELS,
                },
                "SelectQuery": true,
                "FilterQuery": true,
                "TopSkipQuery": true,
                "OnlyMemberQuery": true,
                "ExcerptQuery": false,
            },
            "Chassis": link(&format!("{V1}/Chassis")),
            "Systems": link(&format!("{V1}/Systems")),
            "Managers": link(&format!("{V1}/Managers")),
            "SessionService": link(&format!("{V1}/SessionService")),
            "AccountService": link(&format!("{V1}/AccountService")),
            "Registries": link(&crate::registries::collection_uri()),
            "UpdateService": link(&crate::update::service_uri()),
            "Tasks": link(&crate::tasks::service_uri()),
            "AggregationService": link(&crate::aggregation::service_uri()),
            "EventService": link(&crate::events::service_uri()),
            "TelemetryService": link(&crate::reports::service_uri()),
            "CertificateService": link(&crate::certificates::service_uri()),
            "Links": { "Sessions": link(&format!("{V1}/SessionService/Sessions")) },
        }),
    );
    if let Some(u) = uuid {
        v["UUID"] = json!(u);
    }
    v
}

pub(crate) fn chassis_collection(rack: &Rack) -> Value {
    let mut members = vec![ChassisId::Rack.uri()];
    members.extend(
        rack.boards
            .iter()
            .map(|b| ChassisId::Board(b.board_id).uri()),
    );
    members.extend(rack.bmcs.iter().map(|d| ChassisId::Server(*d).uri()));
    collection(
        &format!("{V1}/Chassis"),
        "ChassisCollection",
        "Chassis Collection",
        members,
    )
}

pub(crate) fn rack_chassis(name: &str, rack: &Rack) -> Value {
    let contains: Vec<Value> = rack
        .boards
        .iter()
        .map(|b| link(&ChassisId::Board(b.board_id).uri()))
        .chain(rack.bmcs.iter().map(|d| link(&ChassisId::Server(*d).uri())))
        .collect();
    with(
        head(&ChassisId::Rack.uri(), "Chassis"),
        json!({
            "Id": ChassisId::Rack.id(),
            "Name": format!("Rack {name}"),
            "ChassisType": "Rack",
            "Description": "The rack: it contains its power-line bus boards and the servers of its configured BMCs.",
            "Status": { "State": "Enabled", "Health": "OK" },
            // The node that answers is powered from the rack (OpenRMC's
            // "power state of the rack"); each server's is its system's.
            "PowerState": "On",
            "Thermal": link(&crate::environment::thermal_uri(ChassisId::Rack)),
            "ThermalSubsystem": link(&crate::subsystems::thermal_subsystem_uri(ChassisId::Rack)),
            "EnvironmentMetrics": link(&crate::subsystems::environment_metrics_uri(ChassisId::Rack)),
            "Power": link(&crate::environment::power_uri(ChassisId::Rack)),
            "Links": {
                "Contains": contains,
                "ComputerSystems": rack.systems().map(|s| link(&s.uri())).collect::<Vec<_>>(),
                "ManagedBy": [link(&manager_uri())],
                "ManagersInChassis": [link(&manager_uri())],
            },
        }),
    )
}

pub(crate) fn board_chassis(board: u32, rack: &Rack) -> Value {
    let c = ChassisId::Board(board);
    let systems: Vec<Value> = rack
        .systems()
        .filter(|s| s.board == board)
        .map(|s| link(&s.uri()))
        .collect();
    with(
        head(&c.uri(), "Chassis"),
        json!({
            "Id": c.id(),
            "Name": format!("Bus board {}", fmt_board(board)),
            "ChassisType": "Module",
            "Description": "A board on the rack's power-line device bus (v1.1 board id).",
            "Status": { "State": "Enabled", "Health": "OK" },
            // A board talks over the power line it is fed from: one that
            // answered the scan listing it has power.
            "PowerState": "On",
            "Sensors": link(&crate::sensors::collection_uri(board)),
            "Thermal": link(&crate::environment::thermal_uri(c)),
            "ThermalSubsystem": link(&crate::subsystems::thermal_subsystem_uri(c)),
            "EnvironmentMetrics": link(&crate::subsystems::environment_metrics_uri(c)),
            "Power": link(&crate::environment::power_uri(c)),
            "Links": {
                "ContainedBy": link(&ChassisId::Rack.uri()),
                "Contains": [],
                "ComputerSystems": systems,
                "ManagedBy": [link(&manager_uri())],
                "ManagersInChassis": [],
            },
        }),
    )
}

/// Redfish's `ChassisType` of an IPMI FRU chassis type (SMBIOS 3.x
/// table 17, which IPMI FRU v1.0 §10 uses); `Other` for the ones without
/// a Redfish match.
fn redfish_chassis_type(smbios: u8) -> &'static str {
    match smbios {
        // Desktop, low-profile desktop, pizza box, mini tower, tower, all in
        // one, space-saving, lunch box, sealed-case PC, embedded PC, mini PC.
        0x03..=0x07 | 0x0D | 0x0F | 0x10 | 0x18 | 0x22 | 0x23 => "StandAlone",
        // Main server chassis, rack mount chassis.
        0x11 | 0x17 => "RackMount",
        // Expansion chassis, bus expansion chassis.
        0x12 | 0x14 => "Expansion",
        0x13 => "Sled",
        0x16 => "StorageEnclosure",
        0x19 | 0x1D => "Enclosure",
        0x1C => "Blade",
        _ => "Other",
    }
}

/// The chassis of a BMC's server: what its FRU 0 says (the chassis area's
/// type, part and serial number; manufacturer and model from the product
/// area, else the board area; the product area's asset tag, read-only:
/// IPMI has no standard write of it) and its power state. `power` and
/// `fru` are `None` when the BMC did not answer.
pub(crate) fn server_chassis(
    device: u16,
    power: Option<PowerView>,
    fru: Option<&opendcre_ipmi::fru::FruInfo>,
) -> Value {
    let c = ChassisId::Server(device);
    let system = SystemId::bmc(device);
    let status = match (&power, fru) {
        (Some(p), Some(_)) => {
            json!({ "State": "Enabled", "Health": if p.healthy { "OK" } else { "Warning" } })
        }
        _ => json!({ "State": "UnavailableOffline", "Health": "Critical" }),
    };
    let chassis_area = fru.and_then(|f| f.chassis.as_ref());
    let mut v = with(
        head(&c.uri(), "Chassis"),
        json!({
            "Id": c.id(),
            "Name": format!("Chassis of the server of BMC {}", fmt_device(device)),
            "Description": "A server's chassis as its BMC's FRU 0 describes it.",
            "ChassisType": chassis_area.map_or("Other", |a| redfish_chassis_type(a.chassis_type)),
            "Status": status,
            "Thermal": link(&crate::environment::thermal_uri(c)),
            "ThermalSubsystem": link(&crate::subsystems::thermal_subsystem_uri(c)),
            "EnvironmentMetrics": link(&crate::subsystems::environment_metrics_uri(c)),
            "Power": link(&crate::environment::power_uri(c)),
            "Sensors": link(&format!("{}/Sensors", c.uri())),
            "Links": {
                "ContainedBy": link(&ChassisId::Rack.uri()),
                "Contains": [],
                "ComputerSystems": [link(&system.uri())],
                "ManagedBy": [link(&manager_uri())],
                // The server's BMC is reached over IPMI, not modelled as a
                // Redfish manager of its own.
                "ManagersInChassis": [],
            },
        }),
    );
    if let Some(p) = power {
        v["PowerState"] = json!(if p.on { "On" } else { "Off" });
    }
    let (manufacturer, model, asset_tag) = match fru {
        Some(f) => match (&f.product, &f.board) {
            (Some(p), _) => (
                p.manufacturer.as_str(),
                p.product_name.as_str(),
                p.asset_tag.as_str(),
            ),
            (None, Some(b)) => (b.manufacturer.as_str(), b.product_name.as_str(), ""),
            (None, None) => ("", "", ""),
        },
        None => ("", "", ""),
    };
    for (key, value) in [
        ("Manufacturer", manufacturer),
        ("Model", model),
        ("AssetTag", asset_tag),
        (
            "PartNumber",
            chassis_area.map_or("", |a| a.part_number.as_str()),
        ),
        (
            "SerialNumber",
            chassis_area.map_or("", |a| a.serial_number.as_str()),
        ),
    ] {
        if !value.is_empty() {
            v[key] = json!(value);
        }
    }
    v
}

pub(crate) fn system_collection(rack: &Rack) -> Value {
    collection(
        &format!("{V1}/Systems"),
        "ComputerSystemCollection",
        "Computer System Collection",
        rack.systems().map(|s| s.uri()).collect(),
    )
}

/// A computer system: a bus power device or a server behind a BMC. `power`
/// is its state read just now; `Err` says why it could not be read (the
/// system is then shown without a power state, unavailable).
pub(crate) fn system(s: SystemId, power: Result<PowerView, &str>) -> Value {
    let (power_state, status) = match power {
        Ok(p) => (
            Some(if p.on { "On" } else { "Off" }),
            json!({ "State": "Enabled", "Health": if p.healthy { "OK" } else { "Warning" } }),
        ),
        Err(_) => (
            None,
            json!({ "State": "UnavailableOffline", "Health": "Critical" }),
        ),
    };
    let (name, description, chassis) = if s.is_bmc() {
        (
            format!("Server of BMC {}", fmt_device(s.device)),
            "A server whose BMC the node reaches over IPMI (the v1.1 IPMI board 40000000).",
            ChassisId::Server(s.device),
        )
    } else {
        (
            format!(
                "Power device {} on bus board {}",
                fmt_device(s.device),
                fmt_board(s.board)
            ),
            "A server's power, switched by a power device on the rack's device bus.",
            ChassisId::Board(s.board),
        )
    };
    let mut v = with(
        head(&s.uri(), "ComputerSystem"),
        json!({
            "Id": s.id(),
            "Name": name,
            "Description": description,
            "SystemType": "Physical",
            "Status": status,
            "LogServices": link(&crate::route::LogOwner::System(s).collection_uri()),
            "Actions": {
                "#ComputerSystem.Reset": {
                    "target": s.reset_uri(),
                    "ResetType@Redfish.AllowableValues": reset::allowable(s),
                }
            },
            "Links": {
                "Chassis": [link(&chassis.uri())],
                "ManagedBy": [link(&manager_uri())],
            },
        }),
    );
    if let Some(state) = power_state {
        v["PowerState"] = json!(state);
    }
    v
}

pub(crate) fn manager_collection() -> Value {
    collection(
        &format!("{V1}/Managers"),
        "ManagerCollection",
        "Manager Collection",
        vec![manager_uri()],
    )
}

pub(crate) fn manager(firmware: &str, now_rfc3339: &str, uuid: Option<&str>, rack: &Rack) -> Value {
    let servers: Vec<Value> = rack.systems().map(|s| link(&s.uri())).collect();
    let mut chassis = vec![link(&ChassisId::Rack.uri())];
    chassis.extend(
        rack.boards
            .iter()
            .map(|b| link(&ChassisId::Board(b.board_id).uri())),
    );
    chassis.extend(rack.bmcs.iter().map(|d| link(&ChassisId::Server(*d).uri())));
    let mut v = with(
        head(&manager_uri(), "Manager"),
        json!({
            "Id": MANAGER_ID,
            "Name": "OpenDCRE rack manager",
            "Description": "This node: the rack manager controller of the rack's device bus.",
            "ManagerType": "RackManager",
            // How the project names what it builds: the firmware's model,
            // whatever board it runs on.
            "Model": "OpenDCRE rack node",
            "FirmwareVersion": firmware,
            "NetworkProtocol": link(&crate::network::uri()),
            "Certificates": link(&crate::certificates::manager_collection_uri()),
            "EthernetInterfaces": link(&crate::ethernet::collection_uri()),
            "LogServices": link(&crate::route::LogOwner::Manager.collection_uri()),
            "DateTime": now_rfc3339,
            "DateTimeLocalOffset": "+00:00",
            // It answers this request: it is on and working.
            "PowerState": "On",
            "Status": { "State": "Enabled", "Health": "OK", "HealthRollup": "OK" },
            "Actions": crate::manager_reset::action(),
            "Links": {
                "ManagerForChassis": chassis,
                "ManagerForServers": servers,
                "ManagerInChassis": link(&ChassisId::Rack.uri()),
            },
        }),
    );
    if let Some(u) = uuid {
        // The manager is the service: one UUID for both.
        v["UUID"] = json!(u);
        v["ServiceEntryPointUUID"] = json!(u);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_bus::{ScanBoard, ScanDevice};
    use opendcre_proto::convert::PowerReading;
    use opendcre_proto::DeviceType;

    fn rack() -> Rack {
        let dev = |device_id, t: DeviceType| ScanDevice {
            device_id,
            device_type: t.0,
        };
        Rack {
            boards: std::sync::Arc::new(vec![
                ScanBoard {
                    board_id: 1,
                    devices: vec![
                        dev(0x01ff, DeviceType::THERMISTOR),
                        dev(0x16ff, DeviceType::POWER),
                    ],
                },
                ScanBoard {
                    board_id: 0xa,
                    devices: vec![dev(0x04ff, DeviceType::POWER)],
                },
            ]),
            bmcs: vec![1],
        }
    }

    #[test]
    fn power_devices_are_systems_linked_both_ways() {
        let r = rack();
        let systems = system_collection(&r);
        assert_eq!(systems["Members@odata.count"], 3);
        assert_eq!(
            systems["Members"][2]["@odata.id"], "/redfish/v1/Systems/40000000-0001",
            "BMCs after the bus power devices"
        );
        assert_eq!(
            systems["Members"][1]["@odata.id"],
            "/redfish/v1/Systems/0000000a-04ff"
        );
        let board = board_chassis(1, &r);
        assert_eq!(
            board["Links"]["ComputerSystems"],
            json!([{ "@odata.id": "/redfish/v1/Systems/00000001-16ff" }])
        );
        assert_eq!(
            board["Links"]["ContainedBy"]["@odata.id"],
            "/redfish/v1/Chassis/Rack"
        );
        let rack_c = rack_chassis("r1", &r);
        assert_eq!(rack_c["ChassisType"], "Rack");
        assert_eq!(
            rack_c["Links"]["Contains"].as_array().unwrap().len(),
            3,
            "the two boards and the BMC's server"
        );
        assert_eq!(
            rack_c["Links"]["ComputerSystems"].as_array().unwrap().len(),
            3,
            "the bus power devices and the BMC's server"
        );
        assert_eq!(
            rack_c["Links"]["ManagersInChassis"],
            json!([{ "@odata.id": "/redfish/v1/Managers/RackManager" }])
        );
        assert_eq!(
            chassis_collection(&r)["Members@odata.count"],
            4,
            "the rack, two boards, the BMC's server"
        );
    }

    #[test]
    fn power_state_and_health_come_from_the_reading() {
        let s = SystemId {
            board: 1,
            device: 0x16ff,
        };
        let on = PowerReading::parse("0,1215,4528,2320", 1.0).unwrap();
        let v = system(s, Ok(PowerView::from(&on)));
        assert_eq!(v["PowerState"], "On");
        assert_eq!(v["Status"]["Health"], "OK");
        assert_eq!(v["@odata.type"], "#ComputerSystem.v1_27_0.ComputerSystem");
        assert_eq!(
            v["Actions"]["#ComputerSystem.Reset"]["target"],
            "/redfish/v1/Systems/00000001-16ff/Actions/ComputerSystem.Reset"
        );
        let off = PowerReading::parse("64,0,4529,2075", 1.0).unwrap();
        assert_eq!(system(s, Ok(PowerView::from(&off)))["PowerState"], "Off");
        let bmc = system(
            SystemId {
                board: 0x4000_0000,
                device: 1,
            },
            Ok(PowerView {
                on: true,
                healthy: true,
                identify: None,
                restore_policy: None,
            }),
        );
        assert_eq!(
            bmc["Links"]["Chassis"][0]["@odata.id"],
            "/redfish/v1/Chassis/40000000-0001"
        );
        assert_eq!(
            bmc["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        let down = system(s, Err("no answer"));
        assert!(down.get("PowerState").is_none());
        assert_eq!(down["Status"]["State"], "UnavailableOffline");
    }

    #[test]
    fn a_servers_chassis_is_its_fru() {
        assert_eq!(redfish_chassis_type(0x17), "RackMount");
        assert_eq!(redfish_chassis_type(0x1c), "Blade");
        assert_eq!(redfish_chassis_type(0x02), "Other");
        let v = server_chassis(1, None, None);
        assert_eq!(v["@odata.id"], "/redfish/v1/Chassis/40000000-0001");
        assert_eq!(v["ChassisType"], "Other");
        assert_eq!(v["Status"]["State"], "UnavailableOffline");
        assert!(v.get("PowerState").is_none() && v.get("SerialNumber").is_none());
        assert_eq!(
            v["Links"]["ComputerSystems"][0]["@odata.id"],
            "/redfish/v1/Systems/40000000-0001"
        );
    }
}
