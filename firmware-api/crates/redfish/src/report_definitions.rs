//! The metric report definitions operators make (`POST
//! …/TelemetryService/MetricReportDefinitions`, OpenRMC usage guide
//! "Stream power consumption" and "Configure MRD"): a periodic report of
//! chosen sensors (every sensor of the rack when none is named), made
//! every `Schedule.RecurrenceInterval` from the same readings as
//! `RackSensors`, kept as the definition's `MetricReport`
//! (`LogToMetricReportsCollection`, overwritten each time) and sent on
//! the event service as a `MetricReport` (`RedfishEvent`: to push
//! subscriptions of that format and to SSE streams).
//!
//! ```text
//! POST ─► ReportDefinitions (file, whole) ─► one task per enabled definition
//!            every interval: Node::rows ─► reports::report_of ─┬─► latest (GET …/MetricReports/{id})
//!                        (+ named BMCs' sensors over IPMI)     └─► EventService::publish_report
//! ```
//!
//! * A definition names bus sensors of the rack and, for the servers'
//!   own readings (OpenRMC "Stream power consumption all compute
//!   systems"), the sensors of configured BMCs; each named BMC is read
//!   over IPMI at each report (its 2 s walk cache shared with GETs). A BMC
//!   that does not answer leaves its values out of that report (logged),
//!   as a bus sensor without a reading is left out.
//!
//! * Bounded: at most [`MAX_DEFINITIONS`], none more often than every
//!   [`MIN_INTERVAL_SECS`] (each report reads the telemetry cache, or the
//!   bus when the poller is off); a report's values are those of the
//!   sensors it names, so its size is the rack's.
//! * Kept in `[manager] report_definitions` (written whole before the
//!   answer), so the streams outlive a restart; the last reports do not
//!   (the first of each comes at once after a start).
//! * A definition's task ends with it: a `DELETE`, or a `PATCH` of
//!   `MetricReportDefinitionEnabled` to `false`. A `PATCH` of its schedule,
//!   actions or sensors starts a new task, whose first report comes at
//!   once (a consumer sees the change without waiting out the old
//!   interval).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::answer::{shown, Answer, BaseMessage, RedfishError};
use crate::node::Node;
use crate::reports::{
    bmc_of_property, bmc_properties, bmc_values, definition_uri, rack_properties, report_of,
    report_uri, Rows, RACK_REPORT,
};
use crate::resources::{head, link, with};

/// Most definitions an operator may make: a few streams (power, inlet
/// temperatures) per consumer, not a store.
pub(crate) const MAX_DEFINITIONS: usize = 8;
/// Shortest `RecurrenceInterval`, seconds: the telemetry poller's pace.
pub(crate) const MIN_INTERVAL_SECS: u64 = 5;
/// Longest, seconds: a day.
pub(crate) const MAX_INTERVAL_SECS: u64 = 86_400;
/// Longest `Id` and `Name`.
const MAX_ID_CHARS: usize = 32;
const MAX_NAME_CHARS: usize = 64;
/// Most `MetricProperties` a definition names.
const MAX_PROPERTIES: usize = 256;

const TYPE: &str = "MetricReportDefinition";
const EVENT: &str = "RedfishEvent";
const KEEP: &str = "LogToMetricReportsCollection";

/// One definition as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Definition {
    pub name: String,
    pub interval_secs: u64,
    /// `RedfishEvent`: each report goes out on the event service.
    pub send_event: bool,
    /// `LogToMetricReportsCollection`: the last report is kept.
    pub keep_report: bool,
    /// The metric properties reported; empty: every sensor of the rack.
    pub properties: Vec<String>,
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stored {
    definitions: BTreeMap<String, Definition>,
}

/// The operators' definitions, their last reports and their tasks.
pub struct ReportDefinitions {
    path: Option<PathBuf>,
    inner: Mutex<Stored>,
    latest: Mutex<HashMap<String, Value>>,
    /// The stop switch of each running definition's task.
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
}

impl ReportDefinitions {
    /// Reads the file (missing: none; damaged: set aside, none). Their
    /// reports start with [`ReportDefinitions::start`].
    pub fn open(path: Option<PathBuf>) -> ReportDefinitions {
        let mut stored: Stored = path
            .as_deref()
            .and_then(|p| crate::state_file::read_json(p, "metric report definitions"))
            .unwrap_or_default();
        // A file edited by hand is held to what a POST would take.
        stored.definitions.retain(|id, d| {
            let ok = check_id(id).is_ok()
                && (MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&d.interval_secs)
                && (d.send_event || d.keep_report);
            if !ok {
                tracing::warn!(id, "metric report definition not usable; left out");
            }
            ok
        });
        while stored.definitions.len() > MAX_DEFINITIONS {
            stored.definitions.pop_last();
        }
        ReportDefinitions {
            path,
            inner: Mutex::new(stored),
            latest: Mutex::default(),
            running: Mutex::default(),
        }
    }

    /// Starts the task of every enabled definition (needs the runtime).
    pub fn start(&self, node: &Node) {
        let enabled: Vec<(String, Definition)> = lock(&self.inner)
            .definitions
            .iter()
            .filter(|(_, d)| d.enabled)
            .map(|(id, d)| (id.clone(), d.clone()))
            .collect();
        if !enabled.is_empty() {
            tracing::info!(
                definitions = enabled.len(),
                "periodic metric reports started"
            );
        }
        for (id, d) in enabled {
            self.spawn(node, id, d);
        }
    }

    /// The ids, in order.
    pub(crate) fn ids(&self) -> Vec<String> {
        lock(&self.inner).definitions.keys().cloned().collect()
    }

    /// The ids that have a kept report, in order.
    pub(crate) fn report_ids(&self) -> Vec<String> {
        let latest = lock(&self.latest);
        self.ids()
            .into_iter()
            .filter(|id| latest.contains_key(id))
            .collect()
    }

    /// `…/MetricReportDefinitions/{id}` with its `@odata.etag`; `rows`
    /// name the sensors of a definition that names none.
    pub(crate) fn get(&self, id: &str, rows: &Rows) -> Option<Value> {
        let d = lock(&self.inner).definitions.get(id)?.clone();
        let mut v = payload(id, &d, rows);
        crate::patch::stamp(&mut v);
        Some(v)
    }

    /// `…/MetricReports/{id}`: the last report made, if kept (and only of
    /// a definition there still is: a report a task finished while its
    /// definition was deleted is not shown).
    pub(crate) fn report(&self, id: &str) -> Option<Value> {
        if !lock(&self.inner).definitions.contains_key(id) {
            return None;
        }
        lock(&self.latest).get(id).cloned()
    }

    /// `POST …/MetricReportDefinitions`: `201`, `Location`, the definition.
    /// `rows`: the rack now; `known`: the metric properties a definition
    /// may name now ([`known_properties`]).
    pub(crate) fn create(
        &self,
        node: &Node,
        body: &[u8],
        rows: &Rows,
        known: &[String],
        user: &str,
    ) -> Result<Answer, RedfishError> {
        let (id, d) = parse_create(body, known)?;
        let mut stored = lock(&self.inner);
        let id = match id {
            Some(id) if id == RACK_REPORT || stored.definitions.contains_key(&id) => {
                return Err(RedfishError::new(
                    StatusCode::CONFLICT,
                    BaseMessage::ResourceAlreadyExists,
                    &[TYPE, "Id", &id],
                ))
            }
            Some(id) => id,
            None => (1..)
                .map(|n| format!("Report{n}"))
                .find(|id| !stored.definitions.contains_key(id))
                .unwrap_or_default(),
        };
        if stored.definitions.len() >= MAX_DEFINITIONS {
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::CreateLimitReachedForResource,
                &[],
            )
            .with_detail(format!(
                "at most {MAX_DEFINITIONS} metric report definitions are kept; delete one first"
            )));
        }
        let mut next = stored.clone();
        next.definitions.insert(id.clone(), d.clone());
        self.keep(&mut stored, next)?;
        drop(stored);
        // A report left by a deleted definition of the same id is not this
        // one's.
        lock(&self.latest).remove(&id);
        tracing::info!(definition = %id, interval_secs = d.interval_secs, event = d.send_event, user, "metric report definition created");
        if d.enabled {
            self.spawn(node, id.clone(), d.clone());
        }
        let mut v = payload(&id, &d, rows);
        crate::patch::stamp(&mut v);
        let mut a = Answer::json(StatusCode::CREATED, &v);
        if let Ok(loc) = HeaderValue::from_str(&definition_uri(&id)) {
            a.headers.insert(http::header::LOCATION, loc);
        }
        Ok(a)
    }

    /// `PATCH …/MetricReportDefinitions/{id}`: the schema's writable
    /// properties (`MetricReportDefinitionEnabled`, `Schedule`,
    /// `ReportActions`, `MetricProperties`, `ReportUpdates`), checked as a
    /// `POST` checks them, kept, then in force: the task ends, or starts
    /// again with the new definition. `None`: no such definition.
    pub(crate) fn change(
        &self,
        node: &Node,
        id: &str,
        body: &[u8],
        known: &[String],
        user: &str,
    ) -> Result<Option<()>, RedfishError> {
        let mut stored = lock(&self.inner);
        let Some(d) = stored.definitions.get(id).cloned() else {
            return Ok(None);
        };
        let changed = parse_patch(body, &d, known)?;
        if changed == d {
            return Ok(Some(()));
        }
        let mut next = stored.clone();
        next.definitions.insert(id.to_string(), changed.clone());
        self.keep(&mut stored, next)?;
        drop(stored);
        tracing::info!(
            definition = %id,
            enabled = changed.enabled,
            interval_secs = changed.interval_secs,
            event = changed.send_event,
            user,
            "metric report definition changed"
        );
        if !changed.keep_report || changed.properties != d.properties {
            // Not kept any more, or of other sensors than it names now.
            lock(&self.latest).remove(id);
        }
        if changed.enabled {
            self.spawn(node, id.to_string(), changed);
        } else {
            self.stop(id);
        }
        Ok(Some(()))
    }

    /// `DELETE …/MetricReportDefinitions/{id}`: its task ends and its
    /// report goes; `false`: no such definition.
    pub(crate) fn delete(&self, id: &str, user: &str) -> Result<bool, RedfishError> {
        let mut stored = lock(&self.inner);
        if !stored.definitions.contains_key(id) {
            return Ok(false);
        }
        let mut next = stored.clone();
        next.definitions.remove(id);
        self.keep(&mut stored, next)?;
        drop(stored);
        self.stop(id);
        lock(&self.latest).remove(id);
        tracing::info!(definition = %id, user, "metric report definition deleted");
        Ok(true)
    }

    fn spawn(&self, node: &Node, id: String, d: Definition) {
        let (stop, stopped) = watch::channel(false);
        if let Some(old) = lock(&self.running).insert(id.clone(), stop) {
            let _ = old.send(true);
        }
        tokio::spawn(run(node.clone(), id, d, stopped));
    }

    fn stop(&self, id: &str) {
        if let Some(s) = lock(&self.running).remove(id) {
            let _ = s.send(true);
        }
    }

    /// Makes `next` the definitions: written first (when kept), then used.
    fn keep(&self, stored: &mut Stored, next: Stored) -> Result<(), RedfishError> {
        if let Some(path) = &self.path {
            crate::state_file::keep_for_answer(path, &next, 0o644, "metric report definitions")?;
        }
        *stored = next;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One definition's reports, until `stop`: the first at once, then one
/// every interval (a late one is skipped, not made twice). A rack that
/// cannot be read makes no report that time (logged).
async fn run(node: Node, id: String, d: Definition, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(d.interval_secs);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let uri = definition_uri(&id);
    let mut bmcs: Vec<u16> = d
        .properties
        .iter()
        .filter_map(|p| bmc_of_property(p))
        .collect();
    bmcs.sort_unstable();
    bmcs.dedup();
    let rack = d.properties.is_empty() || d.properties.iter().any(|p| bmc_of_property(p).is_none());
    let mut failing = std::collections::HashSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // A report waits on the bus at most as long as its interval.
        let deadline = tokio::time::Instant::now() + every.min(Duration::from_secs(10));
        let rows = if rack {
            match node.rows(deadline).await {
                Ok(rows) => rows,
                Err(e) => {
                    let m = e.message();
                    tracing::warn!(definition = %id, "metric report not made: {} {}", m["Message"], m["Resolution"]);
                    continue;
                }
            }
        } else {
            Vec::new()
        };
        let now = crate::handler::now();
        let mut report = report_of(&id, &d.name, &rows, &now, &d.properties);
        for &device in &bmcs {
            let s = crate::route::SystemId::bmc(device);
            // Said once when a BMC stops answering and once when it is
            // back, not at every report.
            match node.bmc(s, deadline, node.ipmi.sensors(device)).await {
                Ok(sensors) => {
                    if failing.remove(&device) {
                        tracing::info!(definition = %id, bmc = %s.id(), "BMC sensors back in the metric reports");
                    }
                    if let Some(values) = report["MetricValues"].as_array_mut() {
                        values.extend(bmc_values(device, &sensors, &now, &d.properties));
                    }
                }
                Err(e) => {
                    if failing.insert(device) {
                        tracing::warn!(definition = %id, bmc = %s.id(), detail = ?e.detail, "BMC sensors left out of the metric reports until it answers");
                    }
                }
            }
        }
        if *stop.borrow() {
            return;
        }
        if d.keep_report {
            lock(&node.report_definitions.latest).insert(id.clone(), report.clone());
        }
        if d.send_event {
            node.event_service.publish_report(&uri, report);
        }
    }
}

/// A definition as a GET shows it.
fn payload(id: &str, d: &Definition, rows: &Rows) -> Value {
    let mut actions = Vec::new();
    if d.send_event {
        actions.push(EVENT);
    }
    if d.keep_report {
        actions.push(KEEP);
    }
    let properties = if d.properties.is_empty() {
        rack_properties(rows)
    } else {
        d.properties.clone()
    };
    let state = if d.enabled { "Enabled" } else { "Disabled" };
    let mut v = with(
        head(&definition_uri(id), TYPE),
        json!({
            "Id": id,
            "Name": d.name,
            "Description": if d.properties.is_empty() {
                "Every sensor of the rack (as the rack is at each report)."
            } else {
                "The sensors named in MetricProperties."
            },
            "MetricReportDefinitionType": "Periodic",
            "MetricReportDefinitionEnabled": d.enabled,
            "Schedule": { "RecurrenceInterval": duration(d.interval_secs) },
            "ReportActions": actions,
            "ReportUpdates": "Overwrite",
            "MetricProperties": properties,
            "Status": { "State": state, "Health": "OK" },
        }),
    );
    if d.keep_report {
        v["MetricReport"] = link(&report_uri(id));
    }
    v
}

/// `secs` as a Redfish duration: `PT10S`, `PT1M30S`, `PT24H`.
pub(crate) fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out += &format!("{h}H");
    }
    if m > 0 {
        out += &format!("{m}M");
    }
    if s > 0 || secs == 0 {
        out += &format!("{s}S");
    }
    out
}

/// A Redfish (ISO 8601) duration in whole seconds: `P1D`, `PT1H30M`,
/// `PT10S`, `PT10.0S`; `None` for anything else (years and months have no
/// fixed length; fractions of a second are below any interval here).
pub(crate) fn parse_duration(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, t),
        Some(_) => return None,
        None => (rest, ""),
    };
    let mut secs: u64 = 0;
    let mut took = false;
    let mut number = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut digits = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                digits.push(c);
                continue;
            }
            let unit = units.iter().find(|(u, _)| *u == c)?.1;
            let whole = match digits.split_once('.') {
                Some((w, f)) if c == 'S' && f.chars().all(|d| d == '0') => w,
                Some(_) => return None,
                None => digits.as_str(),
            };
            if whole.is_empty() || whole.len() > 9 {
                return None;
            }
            secs = secs.checked_add(whole.parse::<u64>().ok()?.checked_mul(unit)?)?;
            took = true;
            digits.clear();
        }
        digits.is_empty().then_some(())
    };
    number(days, &[('D', 86_400)])?;
    number(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    took.then_some(secs)
}

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(()).ok_or_else(|| {
        format!("an Id is 1 to {MAX_ID_CHARS} of A-Z a-z 0-9 - _ (it is the last segment of the definition's URI)")
    })
}

/// The body of a `POST`: the id asked for (if any) and the definition.
fn parse_create(
    body: &[u8],
    known: &[String],
) -> Result<(Option<String>, Definition), RedfishError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(m) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    let text = |x: &Value, prop: &str| {
        x.as_str()
            .map(str::to_string)
            .ok_or_else(|| bad(BaseMessage::PropertyValueTypeError, &[&shown(x), prop]))
    };
    let mut id = None;
    let mut d = Definition {
        name: String::new(),
        interval_secs: 0,
        send_event: true,
        keep_report: true,
        properties: Vec::new(),
        enabled: true,
    };
    for (k, x) in &m {
        match k.as_str() {
            "Id" => {
                let t = text(x, k)?;
                check_id(&t).map_err(|why| {
                    bad(BaseMessage::PropertyValueFormatError, &[&shown(x), k]).with_detail(why)
                })?;
                id = Some(t);
            }
            "Name" => {
                let t = text(x, k)?;
                if t.chars().count() > MAX_NAME_CHARS || t.chars().any(char::is_control) {
                    return Err(bad(BaseMessage::PropertyValueFormatError, &[&shown(x), k])
                        .with_detail(format!("Name is at most {MAX_NAME_CHARS} characters")));
                }
                d.name = t;
            }
            _ if apply(k, x, &mut d, known)? => {}
            "MetricReport" | "Status" | "Description" => {
                return Err(bad(BaseMessage::PropertyNotWritable, &[k]))
            }
            _ if k.starts_with("@odata.") => {}
            _ => {
                let shown_key: String = k.chars().take(64).collect();
                return Err(bad(BaseMessage::PropertyUnknown, &[&shown_key]));
            }
        }
    }
    if d.interval_secs == 0 {
        return Err(
            bad(BaseMessage::CreateFailedMissingReqProperties, &["Schedule"]).with_detail(
                "A periodic definition needs Schedule.RecurrenceInterval (for example PT10S).",
            ),
        );
    }
    if d.name.is_empty() {
        d.name = default_name(d.interval_secs);
    }
    Ok((id, d))
}

/// A property a `POST` and a `PATCH` both take, applied to `d`; `false`:
/// not one of them.
fn apply(k: &str, x: &Value, d: &mut Definition, known: &[String]) -> Result<bool, RedfishError> {
    let text = |x: &Value, prop: &str| {
        x.as_str()
            .map(str::to_string)
            .ok_or_else(|| bad(BaseMessage::PropertyValueTypeError, &[&shown(x), prop]))
    };
    match k {
        "MetricReportDefinitionType" => {
            if text(x, k)? != "Periodic" {
                return Err(bad(BaseMessage::PropertyValueNotInList, &[&shown(x), k])
                    .with_detail(format!("Definitions made here are Periodic; {RACK_REPORT} is the report made on request.")));
            }
        }
        "MetricReportDefinitionEnabled" => {
            d.enabled = x
                .as_bool()
                .ok_or_else(|| bad(BaseMessage::PropertyValueTypeError, &[&shown(x), k]))?;
        }
        "Schedule" => d.interval_secs = parse_schedule(x)?,
        "ReportActions" => {
            let items = x
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad(BaseMessage::PropertyValueTypeError, &[&shown(x), k]))?;
            d.send_event = false;
            d.keep_report = false;
            for a in items {
                match a.as_str() {
                    Some(EVENT) => d.send_event = true,
                    Some(KEEP) => d.keep_report = true,
                    _ => {
                        return Err(bad(BaseMessage::PropertyValueNotInList, &[&shown(a), k]))
                    }
                }
            }
        }
        "ReportUpdates" => {
            if text(x, k)? != "Overwrite" {
                return Err(bad(BaseMessage::PropertyValueNotInList, &[&shown(x), k])
                    .with_detail("Each report overwrites the last: ReportUpdates is Overwrite."));
            }
        }
        "MetricProperties" => d.properties = parse_properties(x, known)?,
        // What the schema has and this service does not do.
        "Metrics" | "Wildcards" | "ReportTimespan" | "SuppressRepeatedMetricValue"
        | "MetricReportHeartbeatInterval" | "AppendLimit" | "Links" => {
            return Err(bad(BaseMessage::PropertyValueNotInList, &[&shown(x), k]).with_detail(
                format!("{k} is not supported: a definition names its sensors in MetricProperties (Reading URIs of the rack's Sensors)."),
            ))
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The body of a `PATCH` of `current`: the definition it asks for. `Id`
/// and `Name` stay (the URI and what consumers know it by); a `Name` made
/// from the interval follows a new interval.
fn parse_patch(
    body: &[u8],
    current: &Definition,
    known: &[String],
) -> Result<Definition, RedfishError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(m) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    let mut d = current.clone();
    let mut took = false;
    for (k, x) in &m {
        if apply(k, x, &mut d, known)? {
            took = true;
            continue;
        }
        match k.as_str() {
            "Id" | "Name" | "MetricReport" | "Status" | "Description" => {
                return Err(bad(BaseMessage::PropertyNotWritable, &[k]))
            }
            _ if k.starts_with("@odata.") => {}
            _ => {
                let shown_key: String = k.chars().take(64).collect();
                return Err(bad(BaseMessage::PropertyUnknown, &[&shown_key]));
            }
        }
    }
    if !took && !m.is_empty() {
        // Only the annotations read back (DSP0266, PATCH).
        return Err(bad(BaseMessage::NoOperation, &[]));
    }
    if !took {
        return Err(bad(
            BaseMessage::PropertyMissing,
            &["MetricReportDefinitionEnabled"],
        ));
    }
    if current.name == default_name(current.interval_secs) {
        d.name = default_name(d.interval_secs);
    }
    Ok(d)
}

fn default_name(interval_secs: u64) -> String {
    format!(
        "Periodic report of the rack every {}",
        duration(interval_secs)
    )
}

/// `Schedule`: only `RecurrenceInterval`, in whole seconds within bounds.
fn parse_schedule(x: &Value) -> Result<u64, RedfishError> {
    let Value::Object(s) = x else {
        return Err(bad(
            BaseMessage::PropertyValueTypeError,
            &[&shown(x), "Schedule"],
        ));
    };
    if let Some(other) = s.keys().find(|k| *k != "RecurrenceInterval") {
        return Err(
            bad(BaseMessage::PropertyValueNotInList, &[other, "Schedule"]).with_detail(
                "A schedule here is its RecurrenceInterval only (no lifetime, occurrences or start time).",
            ),
        );
    }
    let raw = s.get("RecurrenceInterval").unwrap_or(&Value::Null);
    let secs = raw.as_str().and_then(parse_duration);
    match secs {
        Some(n) if (MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&n) => Ok(n),
        Some(_) => Err(bad(
            BaseMessage::PropertyValueOutOfRange,
            &[&shown(raw), "RecurrenceInterval"],
        )
        .with_detail(format!(
            "RecurrenceInterval is {} to {}.",
            duration(MIN_INTERVAL_SECS),
            duration(MAX_INTERVAL_SECS)
        ))),
        None => Err(bad(
            BaseMessage::PropertyValueFormatError,
            &[&shown(raw), "RecurrenceInterval"],
        )
        .with_detail("A Redfish duration: PT10S, PT1M, PT1H30M, P1D.")),
    }
}

/// The metric properties a definition in `body` may name now: every
/// sensor of the rack (`rows`) and every sensor of each configured BMC the
/// body's `MetricProperties` name, read now over IPMI (a BMC that does not
/// answer is the error: its sensors cannot be checked).
pub(crate) async fn known_properties(
    node: &Node,
    rows: &Rows,
    body: &[u8],
    deadline: tokio::time::Instant,
) -> Result<Vec<String>, RedfishError> {
    let mut known = rack_properties(rows);
    let named: Vec<u16> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("MetricProperties").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.as_str().and_then(bmc_of_property))
        .collect();
    let configured: Vec<u16> = node.ipmi.devices().iter().map(|d| d.device_id).collect();
    for device in configured.into_iter().filter(|d| named.contains(d)) {
        let s = crate::route::SystemId::bmc(device);
        let sensors = node.bmc(s, deadline, node.ipmi.sensors(device)).await?;
        known.extend(bmc_properties(device, &sensors));
    }
    Ok(known)
}

/// `MetricProperties`: `Reading` URIs of the rack's sensors as it is now
/// (`RackSensors` lists them) or of a configured BMC's, each once.
fn parse_properties(x: &Value, known: &[String]) -> Result<Vec<String>, RedfishError> {
    let items = x
        .as_array()
        .filter(|a| a.len() <= MAX_PROPERTIES)
        .ok_or_else(|| {
            bad(
                BaseMessage::PropertyValueTypeError,
                &[&shown(x), "MetricProperties"],
            )
        })?;
    let mut out: Vec<String> = Vec::new();
    for p in items {
        let Some(t) = p.as_str().filter(|t| known.iter().any(|k| k == t)) else {
            return Err(bad(
                BaseMessage::PropertyValueNotInList,
                &[&shown(p), "MetricProperties"],
            )
            .with_detail(format!(
                "a sensor Reading of the rack, as {} lists them in MetricProperties, or of a configured BMC's server ({}/Chassis/40000000-0001/Sensors/01-Temperature#/Reading)",
                definition_uri(RACK_REPORT),
                crate::route::V1
            )));
        };
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_telemetry::{Kind, LastReading};

    fn rows() -> Vec<(u32, Vec<LastReading>)> {
        vec![(
            1,
            vec![LastReading {
                device: 0x01ff,
                kind: Kind::Thermistor,
                last: Some((1_700_000_000_000, vec![28.5])),
                error: None,
            }],
        )]
    }

    const TEMP: &str = "/redfish/v1/Chassis/00000001/Sensors/01ff-Temperature#/Reading";
    const BMC_TEMP: &str = "/redfish/v1/Chassis/40000000-0001/Sensors/01-Temperature#/Reading";

    /// The rack's sensors and one of a BMC's.
    fn known() -> Vec<String> {
        let mut k = rack_properties(&rows());
        k.push(BMC_TEMP.into());
        k
    }

    #[test]
    fn durations() {
        for (text, secs) in [
            ("PT10S", 10),
            ("PT10.0S", 10),
            ("PT1M30S", 90),
            ("PT1H", 3600),
            ("P1D", 86_400),
            ("P1DT1S", 86_401),
            ("PT0S", 0),
        ] {
            assert_eq!(parse_duration(text), Some(secs), "{text}");
        }
        for bad in [
            "", "P", "PT", "10S", "PT10", "PT1.5S", "P1M", "P1Y", "PTS", "PT-1S", "P1DT",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        for (secs, text) in [
            (10, "PT10S"),
            (90, "PT1M30S"),
            (3600, "PT1H"),
            (86_400, "PT24H"),
        ] {
            assert_eq!(duration(secs), text);
            assert_eq!(parse_duration(text), Some(secs));
        }
    }

    #[test]
    fn create_bodies() {
        let (id, d) = parse_create(
            format!(r#"{{"Id":"Power","MetricReportDefinitionType":"Periodic","Schedule":{{"RecurrenceInterval":"PT10S"}},"ReportActions":["RedfishEvent"],"MetricProperties":["{TEMP}","{TEMP}"]}}"#).as_bytes(),
            &known(),
        )
        .unwrap();
        assert_eq!(id.as_deref(), Some("Power"));
        assert_eq!(
            (
                d.interval_secs,
                d.send_event,
                d.keep_report,
                d.properties.len()
            ),
            (10, true, false, 1)
        );
        let (_, d) = parse_create(
            format!(r#"{{"Schedule":{{"RecurrenceInterval":"PT10S"}},"MetricProperties":["{BMC_TEMP}","{TEMP}"]}}"#).as_bytes(),
            &known(),
        )
        .unwrap();
        assert_eq!(d.properties, [BMC_TEMP, TEMP]);
        let (_, d) =
            parse_create(br#"{"Schedule":{"RecurrenceInterval":"PT1M"}}"#, &known()).unwrap();
        assert!(d.send_event && d.keep_report && d.enabled && d.properties.is_empty());
        assert!(d.name.contains("PT1M"));
        for (body, want) in [
            (&b"[]"[..], "MalformedJSON"),
            (b"{}", "CreateFailedMissingReqProperties"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT1S"}}"#, "PropertyValueOutOfRange"),
            (br#"{"Schedule":{"RecurrenceInterval":"P2D"}}"#, "PropertyValueOutOfRange"),
            (br#"{"Schedule":{"RecurrenceInterval":"soon"}}"#, "PropertyValueFormatError"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S","MaxOccurrences":3}}"#, "PropertyValueNotInList"),
            (br#"{"Schedule":"PT10S"}"#, "PropertyValueTypeError"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"MetricReportDefinitionType":"OnChange"}"#, "PropertyValueNotInList"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"ReportActions":[]}"#, "PropertyValueTypeError"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"ReportActions":["Print"]}"#, "PropertyValueNotInList"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"ReportUpdates":"NewReport"}"#, "PropertyValueNotInList"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"MetricProperties":["/redfish/v1/Chassis/9/Sensors/x#/Reading"]}"#, "PropertyValueNotInList"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"Metrics":[]}"#, "PropertyValueNotInList"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"MetricProperties":["/redfish/v1/Chassis/40000000-0002/Sensors/01-Temperature#/Reading"]}"#, "PropertyValueNotInList"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"Id":"a/b"}"#, "PropertyValueFormatError"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"Status":{}}"#, "PropertyNotWritable"),
            (br#"{"Schedule":{"RecurrenceInterval":"PT10S"},"Color":1}"#, "PropertyUnknown"),
        ] {
            let e = parse_create(body, &known()).unwrap_err();
            assert_eq!(e.key(), want, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn patch_bodies() {
        let (_, d) =
            parse_create(br#"{"Schedule":{"RecurrenceInterval":"PT1M"}}"#, &known()).unwrap();
        let p = parse_patch(
            format!(r#"{{"Schedule":{{"RecurrenceInterval":"PT10S"}},"ReportActions":["LogToMetricReportsCollection"],"MetricProperties":["{TEMP}"],"@odata.etag":"x"}}"#).as_bytes(),
            &d,
            &known(),
        )
        .unwrap();
        assert_eq!(
            (
                p.interval_secs,
                p.send_event,
                p.keep_report,
                p.properties.len(),
                p.enabled
            ),
            (10, false, true, 1, true)
        );
        assert!(
            p.name.contains("PT10S"),
            "a made-up name follows: {}",
            p.name
        );
        let named = Definition {
            name: "Power".into(),
            ..d.clone()
        };
        let p = parse_patch(
            br#"{"Schedule":{"RecurrenceInterval":"PT10S"}}"#,
            &named,
            &known(),
        )
        .unwrap();
        assert_eq!(p.name, "Power", "an operator's name stays");
        let p = parse_patch(br#"{"MetricReportDefinitionEnabled":false}"#, &d, &known()).unwrap();
        assert_eq!(
            p,
            Definition {
                enabled: false,
                ..d.clone()
            }
        );
        for (body, want) in [
            (&b"{}"[..], "PropertyMissing"),
            (br#"{"@odata.etag":"x"}"#, "NoOperation"),
            (b"[]", "MalformedJSON"),
            (br#"{"Id":"Other"}"#, "PropertyNotWritable"),
            (br#"{"Name":"Other"}"#, "PropertyNotWritable"),
            (
                br#"{"Schedule":{"RecurrenceInterval":"PT1S"}}"#,
                "PropertyValueOutOfRange",
            ),
            (br#"{"ReportActions":[]}"#, "PropertyValueTypeError"),
            (br#"{"MetricProperties":["x"]}"#, "PropertyValueNotInList"),
            (
                br#"{"MetricReportDefinitionEnabled":"yes"}"#,
                "PropertyValueTypeError",
            ),
            (br#"{"Wildcards":[]}"#, "PropertyValueNotInList"),
            (br#"{"Color":1}"#, "PropertyUnknown"),
        ] {
            let e = parse_patch(body, &d, &known()).unwrap_err();
            assert_eq!(e.key(), want, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn kept_across_a_reopen_and_a_bad_entry_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("defs.json");
        let defs = ReportDefinitions::open(Some(path.clone()));
        let mut stored = lock(&defs.inner);
        let mut next = stored.clone();
        let d = Definition {
            name: "Power".into(),
            interval_secs: 10,
            send_event: true,
            keep_report: false,
            properties: vec![TEMP.into()],
            enabled: true,
        };
        next.definitions.insert("Power".into(), d.clone());
        next.definitions.insert(
            "Fast".into(),
            Definition {
                interval_secs: 1,
                ..d.clone()
            },
        );
        defs.keep(&mut stored, next).unwrap();
        drop(stored);
        let again = ReportDefinitions::open(Some(path));
        assert_eq!(again.ids(), ["Power"]);
        let v = again.get("Power", &rows()).unwrap();
        assert_eq!(v["Schedule"]["RecurrenceInterval"], "PT10S");
        assert_eq!(v["ReportActions"], json!(["RedfishEvent"]));
        assert!(v.get("MetricReport").is_none(), "not kept: no report link");
        assert!(v["@odata.etag"].is_string());
    }
}
