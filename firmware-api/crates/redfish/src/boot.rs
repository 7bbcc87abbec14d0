//! The boot override of a BMC's server: `ComputerSystem.Boot`
//! (`BootSourceOverrideTarget`, `…Enabled`, `…Mode`) as IPMI's boot flags
//! (System Boot Options parameter 5), read on every GET and changed by a
//! `PATCH` of the system. A bus power device has no boot override. The
//! same `PATCH` may set `LocationIndicatorActive`: IPMI Chassis Identify.
//!
//! Why only these targets: they are the boot devices IPMI's selector
//! names that have a Redfish `BootSource` of the same meaning. A selector
//! without one (safe-mode hard drive, redirected media, reserved codes) is
//! read as `null` rather than as something it is not.

use http::StatusCode;
use opendcre_ipmi::{BootChange, BootDevice, BootFlags};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::node::Node;
use crate::resources;
use crate::route::SystemId;

/// (Redfish `BootSource`, IPMI selector) a client may set: the devices
/// every BMC we know takes (ipmitool's `bootdev` and OpenIPMI's simulator
/// accept these; the simulator refuses the diagnostic partition and the
/// floppy with "unspecified error").
const TARGETS: &[(&str, BootDevice)] = &[
    ("None", BootDevice::NoOverride),
    ("Pxe", BootDevice::Pxe),
    ("Hdd", BootDevice::Hdd),
    ("Cd", BootDevice::Cd),
    ("BiosSetup", BootDevice::BiosSetup),
];

/// Selectors a BMC may report (set by another console) that have a
/// Redfish name too, though this service does not offer to set them.
const READ_ONLY_TARGETS: &[(&str, BootDevice)] = &[
    ("Diags", BootDevice::Diagnostic),
    ("Floppy", BootDevice::Floppy),
];

/// `BootSourceOverrideEnabled` and its (valid, persistent) boot flag bits.
const ENABLED: &[(&str, (bool, bool))] = &[
    ("Disabled", (false, false)),
    ("Once", (true, false)),
    ("Continuous", (true, true)),
];

/// `BootSourceOverrideMode` and the EFI boot flag bit.
const MODES: &[(&str, bool)] = &[("Legacy", false), ("UEFI", true)];

const TARGET: &str = "BootSourceOverrideTarget";
const ENABLED_PROP: &str = "BootSourceOverrideEnabled";
const MODE: &str = "BootSourceOverrideMode";

fn names<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(n, _)| *n).collect()
}

/// The `Boot` object of a system for its BMC's boot flags.
pub(crate) fn property(f: &BootFlags) -> Value {
    let target = TARGETS
        .iter()
        .chain(READ_ONLY_TARGETS)
        .find(|(_, d)| *d == f.device)
        .map(|(n, _)| *n);
    let enabled = match (f.valid, f.persistent) {
        (false, _) => "Disabled",
        (true, false) => "Once",
        (true, true) => "Continuous",
    };
    json!({
        TARGET: target,
        "BootSourceOverrideTarget@Redfish.AllowableValues": names(TARGETS),
        ENABLED_PROP: enabled,
        "BootSourceOverrideEnabled@Redfish.AllowableValues": names(ENABLED),
        MODE: if f.efi { "UEFI" } else { "Legacy" },
        "BootSourceOverrideMode@Redfish.AllowableValues": names(MODES),
    })
}

/// What a `PATCH` of a BMC's server changes: the boot override, the
/// chassis identify light, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BmcChange {
    pub boot: Option<BootChange>,
    pub locate: Option<bool>,
}

const LOCATE: &str = "LocationIndicatorActive";

/// The change a `PATCH` body of system `s` asks for. `served` is the
/// system as GET shows it: another property of it is read-only here
/// (`PropertyNotWritable`), anything else is unknown (`PropertyUnknown`).
pub(crate) fn parse_patch(
    s: SystemId,
    body: &[u8],
    served: &Map<String, Value>,
) -> Result<BmcChange, RedfishError> {
    let bad = |m, args: &[&str]| RedfishError::new(StatusCode::BAD_REQUEST, m, args);
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(props) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    for key in props.keys() {
        if (key == "Boot" || key == LOCATE) && s.is_bmc() {
            continue;
        }
        let message = if served.contains_key(key) {
            BaseMessage::PropertyNotWritable
        } else {
            BaseMessage::PropertyUnknown
        };
        return Err(bad(message, &[key]));
    }
    let locate = match props.get(LOCATE) {
        None => None,
        Some(Value::Bool(on)) => Some(*on),
        Some(other) => {
            return Err(bad(
                BaseMessage::PropertyValueTypeError,
                &[&other.to_string(), LOCATE],
            ))
        }
    };
    let boot = match props.get("Boot") {
        None if locate.is_some() => return Ok(BmcChange { boot: None, locate }),
        None => return Err(bad(BaseMessage::NoOperation, &[])),
        Some(Value::Object(b)) => b,
        Some(other) => {
            return Err(bad(
                BaseMessage::PropertyValueTypeError,
                &[&other.to_string(), "Boot"],
            ))
        }
    };
    if let Some(unknown) = boot
        .keys()
        .find(|k| ![TARGET, ENABLED_PROP, MODE].contains(&k.as_str()))
    {
        return Err(bad(
            BaseMessage::PropertyUnknown,
            &[&format!("Boot/{unknown}")],
        ));
    }
    let change = BootChange {
        device: pick(boot, TARGET, TARGETS)?,
        enabled: pick(boot, ENABLED_PROP, ENABLED)?,
        efi: pick(boot, MODE, MODES)?,
    };
    if change == BootChange::default() && locate.is_none() {
        return Err(bad(BaseMessage::NoOperation, &[]));
    }
    Ok(BmcChange {
        boot: (change != BootChange::default()).then_some(change),
        locate,
    })
}

/// The value of `Boot/{name}` from `table`, `None` when absent.
fn pick<T: Copy>(
    boot: &Map<String, Value>,
    name: &str,
    table: &[(&str, T)],
) -> Result<Option<T>, RedfishError> {
    let path = format!("Boot/{name}");
    match boot.get(name) {
        None => Ok(None),
        Some(Value::String(v)) => table
            .iter()
            .find(|(n, _)| n == v)
            .map(|(_, t)| Some(*t))
            .ok_or_else(|| {
                RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::PropertyValueNotInList,
                    &[v, &path],
                )
            }),
        Some(other) => Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::PropertyValueTypeError,
            &[&other.to_string(), &path],
        )),
    }
}

/// Properties of a system that `handler` fills in after
/// `resources::system`: read-only, not unknown, in a `PATCH`.
const FILLED_LATER: &[&str] = &[
    "PowerState",
    "AssetTag",
    "Manufacturer",
    "Model",
    "SerialNumber",
    "PartNumber",
    "Boot",
    LOCATE,
];

/// Adds `Boot` to the GET of a BMC's server; a BMC that does not answer
/// leaves it out (the power state already says the BMC is unreachable).
pub(crate) async fn fill(node: &Node, s: SystemId, v: &mut Value, deadline: Instant) {
    match node.boot_flags(s, deadline).await {
        Ok(f) => v["Boot"] = property(&f),
        Err(e) => tracing::warn!(system = %s.id(), detail = ?e.detail, "boot flags not readable"),
    }
}

/// `PATCH` of a BMC's server: its boot override and/or its identify
/// light, `204 No Content` once the BMC took them (boot flags first).
pub(crate) async fn patch(
    node: &Node,
    s: SystemId,
    body: &[u8],
    path: &str,
    deadline: Instant,
) -> Result<Answer, RedfishError> {
    let mut served = match resources::system(s, Err("")) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for p in FILLED_LATER {
        served.insert((*p).to_string(), Value::Null);
    }
    let change = parse_patch(s, body, &served)?;
    if !node.rack(deadline).await?.has_system(s) {
        return Err(RedfishError::missing(path));
    }
    if let Some(b) = change.boot {
        let f = node.set_boot(s, b, deadline).await?;
        tracing::info!(system = %s.id(), boot = %property(&f), "boot override set");
    }
    if let Some(on) = change.locate {
        identify(node, s, on, deadline).await?;
    }
    Ok(Answer::no_content())
}

/// IPMI Chassis Identify of a BMC's server: on ("force on") or off, as its
/// system's `LocationIndicatorActive` or its chassis' LED properties ask.
pub(crate) async fn identify(
    node: &Node,
    s: SystemId,
    on: bool,
    deadline: Instant,
) -> Result<(), RedfishError> {
    let timed = node
        .bmc(s, deadline, node.ipmi.identify(s.device, on))
        .await?;
    match timed {
        None => tracing::info!(system = %s.id(), on, "chassis identify set"),
        Some(secs) => {
            tracing::info!(system = %s.id(), secs, "chassis identify on for the longest interval (the BMC has no force-on)")
        }
    }
    Ok(())
}

/// `Aggregate.SetDefaultBootOrder` of `servers` (BMC servers): each
/// boots as its BIOS is configured again — the override off and its
/// device "no override", the IPMI boot flags' default. The BMCs are asked
/// side by side; `204` when every one took it, else a `500` naming those
/// that did not (the others keep the change).
pub(crate) async fn default_order(
    node: &Node,
    servers: &[SystemId],
    user: &str,
    deadline: Instant,
) -> Result<Answer, RedfishError> {
    let change = BootChange {
        device: Some(BootDevice::NoOverride),
        enabled: Some((false, false)),
        efi: None,
    };
    let mut set = tokio::task::JoinSet::new();
    for s in servers.iter().copied() {
        let node = node.clone();
        set.spawn(async move { (s, node.set_boot(s, change, deadline).await) });
    }
    let mut failed = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok((_, Ok(_))) => {}
            Ok((s, Err(e))) => failed.push(format!(
                "{}: {}",
                s.id(),
                e.detail.unwrap_or_else(|| "the BMC refused".into())
            )),
            Err(e) => failed.push(format!("a BMC request ended abnormally: {e}")),
        }
    }
    tracing::info!(
        servers = servers.len(),
        failed = failed.len(),
        user,
        "aggregate boot override cleared"
    );
    if failed.is_empty() {
        Ok(Answer::no_content())
    } else {
        Err(RedfishError::failure(format!(
            "the boot override was not cleared on {}",
            failed.join("; ")
        )))
    }
}

impl Node {
    /// The boot flags of a BMC's server (Get System Boot Options).
    pub(crate) async fn boot_flags(
        &self,
        s: SystemId,
        deadline: Instant,
    ) -> Result<BootFlags, RedfishError> {
        self.bmc(s, deadline, self.ipmi.boot_flags(s.device)).await
    }

    /// Changes them (read, merge, Set System Boot Options).
    pub(crate) async fn set_boot(
        &self,
        s: SystemId,
        change: BootChange,
        deadline: Instant,
    ) -> Result<BootFlags, RedfishError> {
        self.bmc(s, deadline, self.ipmi.set_boot_flags(s.device, change))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BMC: SystemId = SystemId {
        board: 0x4000_0000,
        device: 1,
    };
    const BUS: SystemId = SystemId {
        board: 1,
        device: 0x16ff,
    };

    fn served() -> Map<String, Value> {
        let Value::Object(m) = json!({"Id": "x", "PowerState": "On"}) else {
            unreachable!()
        };
        m
    }

    fn err(s: SystemId, body: &str) -> (StatusCode, String, Vec<String>) {
        let e = parse_patch(s, body.as_bytes(), &served()).unwrap_err();
        (
            e.status,
            e.body()["error"]["code"].as_str().unwrap().into(),
            e.args,
        )
    }

    #[test]
    fn flags_as_the_boot_property() {
        let f = BootFlags::decode(&[1, 5, 0x80, 0x04, 0, 0, 0]).unwrap();
        let b = property(&f);
        assert_eq!(b[TARGET], "Pxe");
        assert_eq!(b[ENABLED_PROP], "Once");
        assert_eq!(b[MODE], "Legacy");
        assert_eq!(
            b["BootSourceOverrideTarget@Redfish.AllowableValues"],
            json!(["None", "Pxe", "Hdd", "Cd", "BiosSetup"])
        );
        let f = BootFlags::decode(&[1, 5, 0xE0, 0x18, 0, 0, 0]).unwrap();
        let b = property(&f);
        assert_eq!(
            (
                b[TARGET].as_str(),
                b[ENABLED_PROP].as_str(),
                b[MODE].as_str()
            ),
            (Some("BiosSetup"), Some("Continuous"), Some("UEFI"))
        );
        // Safe-mode hard drive has no Redfish name: null, not a wrong one.
        let f = BootFlags::decode(&[1, 5, 0x00, 0x0C, 0, 0, 0]).unwrap();
        assert_eq!(property(&f)[TARGET], Value::Null);
        assert_eq!(property(&f)[ENABLED_PROP], "Disabled");
        // Another console's diagnostic-partition override is shown as such.
        let f = BootFlags::decode(&[1, 5, 0x80, 0x10, 0, 0, 0]).unwrap();
        assert_eq!(property(&f)[TARGET], "Diags");
    }

    #[test]
    fn patch_bodies() {
        let c = parse_patch(
            BMC,
            br#"{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}"#,
            &served(),
        )
        .unwrap();
        assert_eq!(
            c.boot,
            Some(BootChange {
                device: Some(BootDevice::Pxe),
                enabled: Some((true, false)),
                efi: None
            })
        );
        assert_eq!(c.locate, None);
        let c = parse_patch(BMC, br#"{"LocationIndicatorActive": true}"#, &served()).unwrap();
        assert_eq!(
            c,
            BmcChange {
                boot: None,
                locate: Some(true)
            }
        );
        assert_eq!(
            err(BMC, r#"{"LocationIndicatorActive": "On"}"#).1,
            "Base.1.22.PropertyValueTypeError"
        );
        assert_eq!(
            err(BUS, r#"{"LocationIndicatorActive": true}"#).1,
            "Base.1.22.PropertyUnknown"
        );
        let c = parse_patch(
            BMC,
            br#"{"Boot":{"BootSourceOverrideMode":"UEFI"}}"#,
            &served(),
        )
        .unwrap();
        assert_eq!(c.boot.unwrap().efi, Some(true));
        assert_eq!(c.boot.unwrap().device, None);
        // Every value offered is accepted.
        for (n, d) in TARGETS {
            let body = format!(r#"{{"Boot":{{"BootSourceOverrideTarget":"{n}"}}}}"#);
            assert_eq!(
                parse_patch(BMC, body.as_bytes(), &served())
                    .unwrap()
                    .boot
                    .unwrap()
                    .device,
                Some(*d)
            );
        }
    }

    #[test]
    fn bad_patch_bodies_have_their_base_messages() {
        let code = |s, b| err(s, b).1;
        assert_eq!(
            err(BMC, r#"{"Boot":{"BootSourceOverrideTarget":"Usb"}}"#),
            (
                StatusCode::BAD_REQUEST,
                "Base.1.22.PropertyValueNotInList".into(),
                vec!["Usb".into(), "Boot/BootSourceOverrideTarget".into()]
            )
        );
        assert_eq!(
            code(BMC, r#"{"Boot":{"BootSourceOverrideTarget":"Diags"}}"#),
            "Base.1.22.PropertyValueNotInList"
        );
        assert_eq!(
            code(BMC, r#"{"Boot":{"BootSourceOverrideEnabled":"once"}}"#),
            "Base.1.22.PropertyValueNotInList"
        );
        assert_eq!(
            code(BMC, r#"{"Boot":{"BootSourceOverrideMode":1}}"#),
            "Base.1.22.PropertyValueTypeError"
        );
        assert_eq!(
            code(BMC, r#"{"Boot":"Pxe"}"#),
            "Base.1.22.PropertyValueTypeError"
        );
        assert_eq!(
            code(BMC, r#"{"Boot":{"BootOrder":[]}}"#),
            "Base.1.22.PropertyUnknown"
        );
        assert_eq!(
            code(BMC, r#"{"PowerState":"Off"}"#),
            "Base.1.22.PropertyNotWritable"
        );
        assert_eq!(code(BMC, r#"{"Color":"red"}"#), "Base.1.22.PropertyUnknown");
        assert_eq!(code(BMC, "{}"), "Base.1.22.NoOperation");
        assert_eq!(code(BMC, r#"{"Boot":{}}"#), "Base.1.22.NoOperation");
        assert_eq!(code(BMC, "{"), "Base.1.22.MalformedJSON");
        assert_eq!(code(BMC, "[]"), "Base.1.22.MalformedJSON");
        assert_eq!(code(BMC, ""), "Base.1.22.MalformedJSON");
        // A bus power device has no boot override: Boot is no property of it.
        assert_eq!(
            code(BUS, r#"{"Boot":{"BootSourceOverrideTarget":"Pxe"}}"#),
            "Base.1.22.PropertyUnknown"
        );
    }
}
