//! The aggregation service's group reset (`AggregationService.Reset`,
//! OpenRMC usage guide "Reset a temporary group of nodes"): one request
//! switches many systems of the rack, `BatchSize` at a time with
//! `DelayBetweenBatchesInSeconds` between batches — servers switched on
//! together draw their inrush current together, which is what a rack
//! manager staggers. It runs as a task; each system's reset is the job
//! of its own `ComputerSystem.Reset` (same device command, same event log
//! entry), and one system failing does not stop the others. A group
//! kept by the node (`aggregates`) is reset by the same task.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::answer::{shown, Answer, BaseMessage, RedfishError};
use crate::node::{Node, Rack};
use crate::reset::{self, ResetType};
use crate::resources::{head, link, with};
use crate::route::{route, Resource, SystemId, V1};
use crate::tasks::Cancel;
use opendcre_eventlog::Event;

const ACTION: &str = "AggregationService.Reset";
/// Most systems one request names: more than a rack holds.
pub(crate) const MAX_TARGETS: usize = 256;
/// Longest wait between batches: ten minutes is more than any power
/// supply needs to settle; longer is more likely a unit mistake.
const MAX_DELAY_SECS: u64 = 600;
/// How long one system's reset may take (a bus command with its retries,
/// an IPMI session).
const RESET_TIMEOUT: Duration = Duration::from_secs(30);

/// One group reset at a time: two would interleave their batches and
/// defeat the staggering both asked for.
static RUNNING: Semaphore = Semaphore::const_new(1);

pub(crate) fn service_uri() -> String {
    format!("{V1}/AggregationService")
}

pub(crate) fn reset_uri() -> String {
    format!("{}/Actions/{ACTION}", service_uri())
}

/// `GET /redfish/v1/AggregationService`: the reset types some system of
/// the rack offers.
pub(crate) fn service(rack: &Rack) -> Value {
    let mut offered: Vec<ResetType> = Vec::new();
    for s in rack.systems() {
        for t in reset::offered(s) {
            if !offered.contains(t) {
                offered.push(*t);
            }
        }
    }
    let names: Vec<&str> = offered.iter().map(|t| t.name()).collect();
    with(
        head(&service_uri(), "AggregationService"),
        json!({
            "Id": "AggregationService",
            "Name": "Aggregation service",
            "Description": "Resets a group of the rack's systems in batches, as a task: TargetURIs (the systems), ResetType (one every target offers), BatchSize (systems reset together; 0 or none: all), DelayBetweenBatchesInSeconds (0..600). Aggregates are groups kept by the node, reset the same way.",
            "ServiceEnabled": true,
            "Status": { "State": "Enabled", "Health": "OK" },
            "Aggregates": link(&crate::aggregates::collection_uri()),
            "Actions": {
                format!("#{ACTION}"): {
                    "target": reset_uri(),
                    "ResetType@Redfish.AllowableValues": names,
                },
            },
        }),
    )
}

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupReset {
    pub targets: Vec<SystemId>,
    pub reset: ResetType,
    /// Systems per batch, at least 1.
    pub batch: usize,
    pub delay: Duration,
    /// Members of a persistent group that are not systems of the rack any
    /// more (a BMC taken out of the configuration, a board that did not
    /// answer the scan): each is a failed member of the task, the others
    /// are reset.
    pub missing: Vec<String>,
}

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

/// The parameters of a JSON action body: an object, only `known` names.
pub(crate) fn params(
    body: &[u8],
    action: &str,
    known: &[&str],
) -> Result<Map<String, Value>, RedfishError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(params) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    if let Some(unknown) = params.keys().find(|k| !known.contains(&k.as_str())) {
        let name: String = unknown.chars().take(64).collect();
        return Err(bad(BaseMessage::ActionParameterUnknown, &[action, &name]));
    }
    Ok(params)
}

/// A whole number parameter within `0..=max`; absent is 0.
fn count(
    params: &Map<String, Value>,
    name: &str,
    max: u64,
    action: &str,
) -> Result<u64, RedfishError> {
    match params.get(name) {
        None => Ok(0),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= max => Ok(v),
            _ => Err(RedfishError::action_value(
                name,
                action,
                format!("{name} is a whole number from 0 to {max}"),
            )),
        },
        Some(other) => Err(bad(
            BaseMessage::ActionParameterValueTypeError,
            &[&other.to_string(), name, action],
        )),
    }
}

/// The systems the array parameter `name` names: 1..256, each a system of
/// the rack, each once. The usage guide writes plain URIs; a link object
/// is the parameter's type in the schema. Both are taken.
pub(crate) fn systems(
    params: &Map<String, Value>,
    name: &str,
    action: &str,
    rack: &Rack,
) -> Result<Vec<SystemId>, RedfishError> {
    let Some(uris) = params.get(name) else {
        return Err(bad(BaseMessage::ActionParameterMissing, &[action, name]));
    };
    let Value::Array(uris) = uris else {
        return Err(bad(
            BaseMessage::ActionParameterValueTypeError,
            &[&shown(uris), name, action],
        ));
    };
    if uris.is_empty() || uris.len() > MAX_TARGETS {
        return Err(RedfishError::action_value(
            name,
            action,
            format!("{name} names 1 to {MAX_TARGETS} systems"),
        ));
    }
    let mut targets = Vec::with_capacity(uris.len());
    let mut seen = BTreeSet::new();
    for u in uris {
        let uri = uri_text(u);
        let s = system_of(uri)
            .filter(|s| rack.has_system(*s))
            .ok_or_else(|| {
                RedfishError::action_value(
                    name,
                    action,
                    format!("{} is not a computer system of this rack", shown(u)),
                )
            })?;
        if !seen.insert((s.board, s.device)) {
            return Err(RedfishError::action_value(
                name,
                action,
                format!("{uri} is named twice"),
            ));
        }
        targets.push(s);
    }
    Ok(targets)
}

/// `ResetType`, `BatchSize` and `DelayBetweenBatchesInSeconds` of a reset
/// of `targets` (`missing`: members no longer in the rack): a reset type
/// every target offers, since a group is switched as one decision.
pub(crate) fn group(
    params: &Map<String, Value>,
    action: &str,
    targets: Vec<SystemId>,
    missing: Vec<String>,
) -> Result<GroupReset, RedfishError> {
    let name = match params.get("ResetType") {
        None => {
            return Err(bad(
                BaseMessage::ActionParameterMissing,
                &[action, "ResetType"],
            ))
        }
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            return Err(bad(
                BaseMessage::ActionParameterValueTypeError,
                &[&shown(other), "ResetType", action],
            ))
        }
    };
    let reset = ResetType::ALL.iter().find(|t| t.name() == name).copied();
    let refusing = targets
        .iter()
        .find(|s| reset.is_none_or(|t| !reset::offered(**s).contains(&t)));
    let (Some(reset), None) = (reset, refusing) else {
        let refused = bad(
            BaseMessage::ActionParameterValueNotInList,
            &[
                &name.chars().take(64).collect::<String>(),
                "ResetType",
                action,
            ],
        );
        return Err(match refusing {
            Some(s) => refused.with_detail(format!(
                "system {} offers {}",
                s.id(),
                reset::allowable(*s).join(", ")
            )),
            None => refused,
        });
    };
    let batch = count(params, "BatchSize", MAX_TARGETS as u64, action)? as usize;
    let delay = count(
        params,
        "DelayBetweenBatchesInSeconds",
        MAX_DELAY_SECS,
        action,
    )?;
    Ok(GroupReset {
        batch: if batch == 0 {
            targets.len().max(1)
        } else {
            batch
        },
        targets,
        reset,
        delay: Duration::from_secs(delay),
        missing,
    })
}

/// The request body of `AggregationService.Reset` against the rack.
pub(crate) fn parse(body: &[u8], rack: &Rack) -> Result<GroupReset, RedfishError> {
    let params = params(
        body,
        ACTION,
        &[
            "TargetURIs",
            "ResetType",
            "BatchSize",
            "DelayBetweenBatchesInSeconds",
        ],
    )?;
    let targets = systems(&params, "TargetURIs", ACTION, rack)?;
    group(&params, ACTION, targets, Vec::new())
}

/// The URI of a link parameter: a string or a link object (`""` for
/// anything else, which names nothing).
pub(crate) fn uri_text(u: &Value) -> &str {
    match u {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("@odata.id").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    }
}

/// The system a URI names (one trailing slash allowed, as everywhere).
pub(crate) fn system_of(uri: &str) -> Option<SystemId> {
    let segs: Vec<String> = uri
        .strip_prefix('/')?
        .split('/')
        .map(str::to_string)
        .collect();
    match route(&segs)? {
        Resource::System(s) => Some(s),
        _ => None,
    }
}

/// Starts `g` as a task for `user`: `202` with its `Location`, or `409`
/// while another group reset runs.
pub(crate) fn start(node: &Node, g: GroupReset, user: &str) -> Result<Answer, RedfishError> {
    start_as(node, g, user, "")
}

/// [`start`] of a persistent group: `of` names it in the task
/// (`" of aggregate 2 'row 3 compute'"`).
pub(crate) fn start_as(
    node: &Node,
    g: GroupReset,
    user: &str,
    of: &str,
) -> Result<Answer, RedfishError> {
    let Ok(permit) = RUNNING.try_acquire() else {
        return Err(
            RedfishError::new(StatusCode::CONFLICT, BaseMessage::ResourceInUse, &[])
                .with_detail("another group reset is running; see /redfish/v1/TaskService/Tasks"),
        );
    };
    let (id, cancel) = node.tasks.create_cancellable(format!(
        "{}{of} of {} systems, {} at a time, {} s apart, by '{user}'",
        g.reset.name(),
        g.targets.len() + g.missing.len(),
        g.batch,
        g.delay.as_secs()
    ));
    tracing::info!(
        task = id,
        user,
        reset = g.reset.name(),
        systems = g.targets.len(),
        batch = g.batch,
        delay_s = g.delay.as_secs(),
        "group reset started"
    );
    let node = Arc::new(node.clone());
    let user = user.to_string();
    let answer = node.tasks.accepted(id);
    tokio::spawn(async move {
        let _one = permit;
        run(node, id, g, user, cancel).await;
    });
    Ok(answer)
}

/// Resets the group batch by batch. A `DELETE` of the task stops it
/// before the next batch (a batch already issued completes): the systems
/// not reached are listed in the task, which ends `Cancelled`.
async fn run(node: Arc<Node>, id: u64, g: GroupReset, user: String, cancel: Cancel) {
    let total = g.targets.len() + g.missing.len();
    let (mut done, mut failed) = (g.missing.len(), g.missing.len());
    if !g.missing.is_empty() {
        let percent = u8::try_from(done * 100 / total).unwrap_or(100);
        node.tasks.update(id, |t| {
            t.percent = Some(percent);
            for uri in &g.missing {
                t.messages.push(
                    RedfishError::missing(uri)
                        .with_detail("a member of the group that is not a computer system of this rack now (not reset); remove it with Aggregate.RemoveElements")
                        .message(),
                );
            }
        });
    }
    for (n, batch) in g.targets.chunks(g.batch).enumerate() {
        if n > 0 && !g.delay.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(g.delay) => {}
                _ = cancel.wait() => {}
            }
        }
        if let Some(by) = cancel.requested() {
            let left: Vec<String> = g.targets[n * g.batch..].iter().map(|s| s.id()).collect();
            let event = Event::task_cancelled(&by, id, &left.join(", "));
            node.tasks.cancelled(id, |t| {
                t.messages.push(crate::tasks::message(
                    event.key,
                    &event.message,
                    &event.args,
                    "Warning",
                ));
            });
            node.events.record(event);
            tracing::info!(
                task = id,
                total,
                failed,
                not_reset = left.len(),
                by,
                "group reset cancelled"
            );
            return;
        }
        // A batch's resets are issued together; the bus actor serializes
        // bus commands, IPMI sessions run side by side.
        let mut set = tokio::task::JoinSet::new();
        for s in batch.iter().copied() {
            let (node, user) = (node.clone(), user.clone());
            set.spawn(async move {
                let deadline = Instant::now() + RESET_TIMEOUT;
                let (result, event) = node.reset_recorded(s, g.reset, &user, deadline).await;
                (result.is_ok(), event)
            });
        }
        while let Some(r) = set.join_next().await {
            done += 1;
            let (ok, message) = match r {
                Ok((ok, event)) => (
                    ok,
                    crate::tasks::message(
                        event.key,
                        &event.message,
                        &event.args,
                        if ok { "OK" } else { "Critical" },
                    ),
                ),
                Err(e) => (
                    false,
                    json!({ "MessageId": "Base.1.22.InternalError", "Message": format!("a reset ended abnormally: {e}"), "MessageSeverity": "Critical" }),
                ),
            };
            if !ok {
                failed += 1;
            }
            let percent = u8::try_from(done * 100 / total).unwrap_or(100);
            node.tasks.update(id, |t| {
                t.percent = Some(percent);
                t.messages.push(message);
            });
        }
    }
    node.tasks.finish(id, failed == 0, |_| {});
    tracing::info!(task = id, total, failed, "group reset ended");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opendcre_bus::{ScanBoard, ScanDevice};
    use opendcre_proto::DeviceType;

    /// Board 1 with power devices 0001 and 0002, and BMC 1.
    pub(crate) fn rack() -> Rack {
        let power = |device_id| ScanDevice {
            device_id,
            device_type: DeviceType::POWER.0,
        };
        Rack {
            boards: Arc::new(vec![ScanBoard {
                board_id: 1,
                devices: vec![power(1), power(2)],
            }]),
            bmcs: vec![1],
        }
    }

    fn p(body: &str) -> Result<GroupReset, RedfishError> {
        parse(body.as_bytes(), &rack())
    }

    #[test]
    fn a_group_in_batches() {
        let g = p(r#"{"TargetURIs": ["/redfish/v1/Systems/00000001-0001", {"@odata.id": "/redfish/v1/Systems/00000001-0002/"}, "/redfish/v1/Systems/40000000-0001"], "ResetType": "On", "BatchSize": 2, "DelayBetweenBatchesInSeconds": 15}"#).unwrap();
        assert_eq!(g.targets.len(), 3);
        assert_eq!(g.targets[2], SystemId::bmc(1));
        assert_eq!(
            (g.reset, g.batch, g.delay.as_secs()),
            (ResetType::On, 2, 15)
        );
        // No batch size: all at once.
        let g =
            p(r#"{"TargetURIs": ["/redfish/v1/Systems/00000001-0001"], "ResetType": "ForceOff"}"#)
                .unwrap();
        assert_eq!((g.batch, g.delay), (1, Duration::ZERO));
    }

    #[test]
    fn bad_groups_are_refused_before_anything_switches() {
        let one = r#""TargetURIs": ["/redfish/v1/Systems/00000001-0001"]"#;
        for (body, want) in [
            ("[]".to_string(), "MalformedJSON"),
            (r#"{"ResetType": "On"}"#.to_string(), "ActionParameterMissing"),
            (format!("{{{one}}}"), "ActionParameterMissing"),
            (format!(r#"{{{one}, "ResetType": "On", "Force": true}}"#), "ActionParameterUnknown"),
            (r#"{"TargetURIs": [], "ResetType": "On"}"#.to_string(), "ActionParameterValueError"),
            (r#"{"TargetURIs": "/redfish/v1/Systems/00000001-0001", "ResetType": "On"}"#.to_string(), "ActionParameterValueTypeError"),
            (r#"{"TargetURIs": ["/redfish/v1/Systems/00000001-0009"], "ResetType": "On"}"#.to_string(), "ActionParameterValueError"),
            (r#"{"TargetURIs": ["/redfish/v1/Chassis/00000001"], "ResetType": "On"}"#.to_string(), "ActionParameterValueError"),
            (r#"{"TargetURIs": ["/redfish/v1/Systems/00000001-0001", "/redfish/v1/Systems/00000001-0001"], "ResetType": "On"}"#.to_string(), "ActionParameterValueError"),
            (format!(r#"{{{one}, "ResetType": 1}}"#), "ActionParameterValueTypeError"),
            (format!(r#"{{{one}, "ResetType": "Nmi"}}"#), "ActionParameterValueNotInList"),
            // A bus power device cannot shut a host down: the whole group is refused.
            (r#"{"TargetURIs": ["/redfish/v1/Systems/40000000-0001", "/redfish/v1/Systems/00000001-0001"], "ResetType": "GracefulShutdown"}"#.to_string(), "ActionParameterValueNotInList"),
            (format!(r#"{{{one}, "ResetType": "On", "BatchSize": -1}}"#), "ActionParameterValueError"),
            (format!(r#"{{{one}, "ResetType": "On", "BatchSize": "2"}}"#), "ActionParameterValueTypeError"),
            (format!(r#"{{{one}, "ResetType": "On", "DelayBetweenBatchesInSeconds": 601}}"#), "ActionParameterValueError"),
            (format!(r#"{{{one}, "ResetType": "On", "DelayBetweenBatchesInSeconds": 1.5}}"#), "ActionParameterValueError"),
        ] {
            let e = p(&body).expect_err(&body);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(e.key(), want, "{body}");
        }
    }

    #[test]
    fn the_service_offers_what_some_system_offers() {
        let v = service(&rack());
        assert_eq!(
            v["Actions"]["#AggregationService.Reset"]["ResetType@Redfish.AllowableValues"],
            json!([
                "On",
                "ForceOff",
                "PowerCycle",
                "ForceRestart",
                "GracefulShutdown"
            ])
        );
        let bus_only = Rack {
            bmcs: vec![],
            ..rack()
        };
        assert_eq!(
            service(&bus_only)["Actions"]["#AggregationService.Reset"]
                ["ResetType@Redfish.AllowableValues"],
            json!(["On", "ForceOff", "PowerCycle", "ForceRestart"])
        );
    }
}
