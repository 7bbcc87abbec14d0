//! Log services: the node's event log (`opendcre-eventlog`) as the
//! manager's `EventLog`, the same entries about one bus power device as
//! that system's `EventLog`, and a BMC's System Event Log (read over IPMI)
//! as its server's `SEL`. Payloads are pure functions here; the handler
//! reads the log or the BMC.

use opendcre_eventlog::{Entry, LogStatus};
use opendcre_ipmi::sel::SelRecord;
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use serde_json::{json, Value};

use crate::resources::{collection, head, link, with};
use crate::route::{LogOwner, SystemId, MANAGER_ID, V1};

/// `MessageId` prefix of the node's own events: registry `OpenDCRE`, 1.1.
pub(crate) const REGISTRY_PREFIX: &str = "OpenDCRE.1.2";

impl LogOwner {
    /// The one log service of the owner: `EventLog` (the node's log, or
    /// its entries about a bus power device) or `SEL` (a BMC's).
    pub(crate) fn service_id(self) -> &'static str {
        match self {
            LogOwner::System(s) if s.is_bmc() => "SEL",
            _ => "EventLog",
        }
    }

    pub(crate) fn collection_uri(self) -> String {
        match self {
            LogOwner::Manager => format!("{V1}/Managers/{MANAGER_ID}/LogServices"),
            LogOwner::System(s) => format!("{}/LogServices", s.uri()),
        }
    }

    pub(crate) fn service_uri(self) -> String {
        format!("{}/{}", self.collection_uri(), self.service_id())
    }

    pub(crate) fn entries_uri(self) -> String {
        format!("{}/Entries", self.service_uri())
    }

    pub(crate) fn clear_uri(self) -> String {
        format!("{}/Actions/LogService.ClearLog", self.service_uri())
    }

    /// The system the node log's entries must be about, for a bus power
    /// device's view.
    pub(crate) fn system(self) -> Option<SystemId> {
        match self {
            LogOwner::System(s) => Some(s),
            LogOwner::Manager => None,
        }
    }
}

/// `…/LogServices`: the owner's one service.
pub(crate) fn service_collection(owner: LogOwner) -> Value {
    collection(
        &owner.collection_uri(),
        "LogServiceCollection",
        "Log Service Collection",
        vec![owner.service_uri()],
    )
}

/// The node's event log as a `LogService` (the manager's, or a bus power
/// device's view of it). `Health` is `Warning` when entries did not reach
/// the file (memory only, write errors, a full writer queue), said in
/// `Description`.
pub(crate) fn event_log_service(
    owner: LogOwner,
    status: &LogStatus,
    max: usize,
    now: &str,
) -> Value {
    let (name, mut description) = match owner {
        LogOwner::Manager => (
            "Node event log".to_string(),
            "The node's events: power actions through either API, device bus faults, authentication failures.".to_string(),
        ),
        LogOwner::System(s) => (
            format!("Event log of system {}", s.id()),
            format!("The node's event log entries about system {}: its power actions.", s.id()),
        ),
    };
    if !status.healthy() {
        description.push_str(&format!(
            " Not every entry reached the file: {} write errors, {} dropped{}.",
            status.write_errors,
            status.dropped,
            status
                .problem
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default()
        ));
    }
    service(
        owner,
        &name,
        &description,
        "Event",
        "WrapsWhenFull",
        Some(max),
        now,
        if status.healthy() { "OK" } else { "Warning" },
    )
}

/// A BMC's SEL as a `LogService`: the BMC's SEL clock as `DateTime`; an
/// IPMI SEL stops taking events when full (§31), so it never overwrites.
pub(crate) fn sel_service(s: SystemId, bmc_time: Option<u32>) -> Value {
    let now = bmc_time.map_or_else(String::new, ipmi_time);
    let mut v = service(
        LogOwner::System(s),
        "System Event Log",
        "The IPMI System Event Log of the server's BMC, read over IPMI at each request.",
        "SEL",
        "NeverOverWrites",
        None,
        &now,
        if bmc_time.is_some() { "OK" } else { "Warning" },
    );
    if bmc_time.is_none() {
        // The BMC did not answer: no clock to show.
        if let Some(m) = v.as_object_mut() {
            m.remove("DateTime");
            m.remove("DateTimeLocalOffset");
        }
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn service(
    owner: LogOwner,
    name: &str,
    description: &str,
    entry_type: &str,
    overwrite: &str,
    max: Option<usize>,
    now: &str,
    health: &str,
) -> Value {
    let mut v = with(
        head(&owner.service_uri(), "LogService"),
        json!({
            "Id": owner.service_id(),
            "Name": name,
            "Description": description,
            "LogEntryType": entry_type,
            "OverWritePolicy": overwrite,
            "ServiceEnabled": true,
            "DateTime": now,
            "DateTimeLocalOffset": "+00:00",
            "Status": { "State": "Enabled", "Health": health },
            "Entries": link(&owner.entries_uri()),
            "Actions": {
                "#LogService.ClearLog": { "target": owner.clear_uri() }
            },
        }),
    );
    if let Some(m) = max {
        v["MaxNumberOfRecords"] = json!(m);
    }
    v
}

/// `…/Entries`: every entry, oldest first, in full: the schema marks a
/// log entry collection's `Members` `AutoExpand` (`$top`/`$skip` page it).
pub(crate) fn entry_collection(owner: LogOwner, members: Vec<Value>) -> Value {
    with(
        head(&owner.entries_uri(), "LogEntryCollection"),
        json!({
            "Name": "Log Entry Collection",
            "Members@odata.count": members.len(),
            "Members": members,
        }),
    )
}

/// What a SEL's entry collection says when it does not show the whole log:
/// the newest records are kept ([`opendcre_ipmi::SEL_RECORDS_KEPT`]), and
/// the first walk of a long log may take more than one read.
pub(crate) fn sel_partly_shown(sel: &opendcre_ipmi::SelRead) -> Option<String> {
    let shown = sel.records.len();
    match (sel.complete, sel.dropped) {
        (true, 0) => None,
        (true, older) => Some(format!(
            "The newest {shown} of the BMC's SEL records; {older} older ones are not shown \
             (each is still read by its id under Entries)."
        )),
        (false, older) => Some(format!(
            "{} of the BMC's {} SEL records read so far (the newest {shown} of them shown); \
             the rest are read at the next requests.",
            shown + older,
            sel.info.entries
        )),
    }
}

/// Whether a node-log entry belongs in `owner`'s view.
pub(crate) fn shows(owner: LogOwner, e: &Entry) -> bool {
    match owner.system() {
        None => true,
        Some(s) => e.system.as_deref() == Some(s.id().as_str()),
    }
}

/// A node-log entry: an `Event` with the node's own `MessageId`.
pub(crate) fn event_entry(owner: LogOwner, e: &Entry) -> Value {
    let secs = i64::try_from(e.created_ms / 1000).unwrap_or(i64::MAX);
    let created = rfc3339_utc(secs, Fraction::None).replace('Z', "+00:00");
    with(
        head(&format!("{}/{}", owner.entries_uri(), e.id), "LogEntry"),
        json!({
            "Id": e.id.to_string(),
            "Name": format!("Log entry {}", e.id),
            "EntryType": "Event",
            "Created": created,
            "Severity": e.severity.as_str(),
            "Message": e.message,
            "MessageId": format!("{REGISTRY_PREFIX}.{}", e.key),
            "MessageArgs": e.args,
        }),
    )
}

/// A SEL record: a system event record (type 0x02) as an entry of type
/// `SEL` with its sensor and event; any other record as `Oem`, its bytes in
/// hex. `Severity` only where the IPMI event type says it.
pub(crate) fn sel_entry(s: SystemId, r: &SelRecord) -> Value {
    let owner = LogOwner::System(s);
    let id = r.record_id.to_string();
    let created = r.timestamp.map_or_else(|| ipmi_time(0), ipmi_time);
    let raw: String = r.raw.iter().map(|b| format!("{b:02X}")).collect();
    let mut v = with(
        head(&format!("{}/{id}", owner.entries_uri()), "LogEntry"),
        json!({
            "Id": id,
            "Name": format!("SEL record {:#06x}", r.record_id),
            "Created": created,
            "MessageArgs": [],
        }),
    );
    match &r.event {
        Some(e) => {
            let sensor_type = e.sensor_type_name();
            let code = e.entry_code();
            let what = sensor_type.map_or_else(
                || format!("sensor type {:#04x}", e.sensor_type),
                |t| t.to_string(),
            );
            let event = code.map_or_else(
                || format!("event type {:#04x} offset {}", e.event_type, e.offset()),
                str::to_string,
            );
            let dir = if e.deassertion {
                "deasserted"
            } else {
                "asserted"
            };
            v["EntryType"] = json!("SEL");
            v["MessageId"] = json!(e.message_id());
            let mut message = format!(
                "{what} sensor {:#04x}: {event} ({dir}; generator {:#06x}).",
                e.sensor_number, e.generator_id
            );
            if r.timestamp.is_some_and(|t| t <= PRE_INIT_MAX) {
                message.push_str(" Time counted from the BMC's start: its clock was not set.");
            }
            v["Message"] = json!(message);
            v["SensorNumber"] = json!(e.sensor_number);
            v["GeneratorId"] = json!(format!("0x{:04X}", e.generator_id));
            if let Some(t) = sensor_type {
                v["SensorType"] = json!(t);
            }
            if let Some(c) = code {
                v["EntryCode"] = json!(c);
            }
            if let Some(sev) = e.severity() {
                v["Severity"] = json!(sev);
            }
        }
        None => {
            v["EntryType"] = json!("Oem");
            v["OemRecordFormat"] = json!(format!("IPMI SEL record type {:#04x}", r.record_type));
            v["MessageId"] = json!(raw);
            v["Message"] = json!(format!(
                "OEM SEL record of type {:#04x}: {raw}.",
                r.record_type
            ));
        }
    }
    v
}

/// IPMI timestamps up to this count from the BMC's initialisation (§37).
const PRE_INIT_MAX: u32 = 0x2000_0000;

/// An IPMI timestamp as RFC 3339. Values up to `0x20000000` count from the
/// BMC's initialisation (§37): shown as they are, near 1970, which is what
/// they say.
fn ipmi_time(t: u32) -> String {
    rfc3339_utc(i64::from(t), Fraction::None).replace('Z', "+00:00")
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_eventlog::{Event, EventLog, Via};

    const BUS: SystemId = SystemId {
        board: 1,
        device: 0x16ff,
    };
    const BMC: SystemId = SystemId {
        board: 0x4000_0000,
        device: 1,
    };

    #[test]
    fn uris() {
        assert_eq!(
            LogOwner::Manager.service_uri(),
            "/redfish/v1/Managers/RackManager/LogServices/EventLog"
        );
        assert_eq!(
            LogOwner::System(BMC).entries_uri(),
            "/redfish/v1/Systems/40000000-0001/LogServices/SEL/Entries"
        );
        assert_eq!(
            LogOwner::System(BUS).clear_uri(),
            "/redfish/v1/Systems/00000001-16ff/LogServices/EventLog/Actions/LogService.ClearLog"
        );
    }

    #[test]
    fn event_entries_and_the_systems_view() {
        let log = EventLog::in_memory(10);
        log.record(Event::power(
            "ops",
            Via::V11,
            "00000001-16ff",
            "on",
            Ok("on"),
        ));
        log.record(Event::auth_failure("10.0.0.1", "bad token"));
        let e = log.entries();
        let view: Vec<_> = e
            .iter()
            .filter(|x| shows(LogOwner::System(BUS), x))
            .collect();
        assert_eq!(view.len(), 1);
        assert_eq!(e.iter().filter(|x| shows(LogOwner::Manager, x)).count(), 2);
        let v = event_entry(LogOwner::System(BUS), view[0]);
        assert_eq!(
            v["@odata.id"],
            "/redfish/v1/Systems/00000001-16ff/LogServices/EventLog/Entries/1"
        );
        assert_eq!(v["EntryType"], "Event");
        assert_eq!(v["MessageId"], "OpenDCRE.1.2.PowerAction");
        assert_eq!(v["Severity"], "OK");
        assert_eq!(
            v["MessageArgs"],
            json!(["on", "00000001-16ff", "ops", "on", "the v1.1 API"])
        );
        assert!(v["Created"].as_str().unwrap().ends_with("+00:00"));
        assert!(v.get("SensorNumber").is_none(), "only SEL entries have one");
    }

    #[test]
    fn sel_entries() {
        let mut raw = [0u8; 16];
        raw[0] = 0x07;
        raw[2] = 0x02;
        raw[3..7].copy_from_slice(&1_700_000_000u32.to_le_bytes());
        raw[7] = 0x20;
        raw[10] = 0x01;
        raw[11] = 0x30;
        raw[12] = 0x01;
        raw[13] = 0x09;
        let v = sel_entry(BMC, &SelRecord::decode(&raw));
        assert_eq!(v["Id"], "7");
        assert_eq!(v["EntryType"], "SEL");
        assert_eq!(v["Created"], "2023-11-14T22:13:20+00:00");
        assert_eq!(v["SensorType"], "Temperature");
        assert_eq!(v["SensorNumber"], 0x30);
        assert_eq!(v["EntryCode"], "Upper Critical - going high");
        assert_eq!(v["Severity"], "Critical");
        assert_eq!(v["MessageId"], "0x01090000");
        assert_eq!(v["GeneratorId"], "0x0020");
        assert_eq!(
            sel_entry(
                BMC,
                &SelRecord::decode(&[&raw[..3], &[1, 0, 0, 0], &raw[7..]].concat())
            )["Message"],
            "Temperature sensor 0x30: Upper Critical - going high (asserted; generator 0x0020). \
             Time counted from the BMC's start: its clock was not set."
        );
        assert_eq!(
            v["Message"],
            "Temperature sensor 0x30: Upper Critical - going high (asserted; generator 0x0020)."
        );
        raw[2] = 0xC0;
        let v = sel_entry(BMC, &SelRecord::decode(&raw));
        assert_eq!(v["EntryType"], "Oem");
        assert!(v.get("SensorNumber").is_none());
    }

    #[test]
    fn services() {
        let ok = EventLog::in_memory(5).status();
        let v = event_log_service(LogOwner::Manager, &ok, 5, "2026-11-30T12:00:00+00:00");
        assert_eq!(v["LogEntryType"], "Event");
        assert_eq!(v["MaxNumberOfRecords"], 5);
        // In memory only: not healthy, and it says why.
        assert_eq!(v["Status"]["Health"], "Warning");
        assert!(v["Description"]
            .as_str()
            .unwrap()
            .contains("no file configured"));
        let sel = sel_service(BMC, Some(1_700_000_000));
        assert_eq!(sel["Id"], "SEL");
        assert_eq!(sel["OverWritePolicy"], "NeverOverWrites");
        assert_eq!(sel["DateTime"], "2023-11-14T22:13:20+00:00");
        assert!(sel_service(BMC, None).get("DateTime").is_none());
    }
}
