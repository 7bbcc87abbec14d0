//! Persistent groups of the rack's systems (`AggregationService/Aggregates`,
//! OpenRMC usage guide "Create a persistent group of nodes" and "Reset a
//! persistent group of nodes"): an operator names a row of servers once
//! and switches it with one request from then on, in batches like a group
//! reset. The groups are kept in one small file (`[manager] aggregates`,
//! the data partition on OpenMistOS) so they outlive restarts and updates;
//! each change is on disk before its answer.
//!
//! A member is a computer system's URI. It is checked against the rack
//! when it joins; a member that later leaves the rack (a BMC taken out of
//! the configuration, a board that stopped answering) stays a member
//! until an operator removes it, and a reset of the group reports it as
//! failed instead of refusing the others.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::aggregation::{self, system_of, GroupReset};
use crate::answer::{shown, Answer, BaseMessage, RedfishError};
use crate::node::Rack;
use crate::resources::{collection, head, link, with};
use crate::route::{SystemId, V1};

/// At most this many groups: a rack's rows, power domains and tenants,
/// with room; not a store for anything else.
const MAX_AGGREGATES: usize = 64;
/// A group's longest `Name`.
const NAME_MAX_CHARS: usize = 64;

pub(crate) fn collection_uri() -> String {
    format!("{V1}/AggregationService/Aggregates")
}

pub(crate) fn uri(id: u64) -> String {
    format!("{}/{id}", collection_uri())
}

/// An action of a group, by the last segment of its URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateAction {
    Reset,
    AddElements,
    RemoveElements,
    SetDefaultBootOrder,
}

impl AggregateAction {
    pub(crate) const ALL: [AggregateAction; 4] = [
        AggregateAction::Reset,
        AggregateAction::AddElements,
        AggregateAction::RemoveElements,
        AggregateAction::SetDefaultBootOrder,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            AggregateAction::Reset => "Aggregate.Reset",
            AggregateAction::AddElements => "Aggregate.AddElements",
            AggregateAction::RemoveElements => "Aggregate.RemoveElements",
            AggregateAction::SetDefaultBootOrder => "Aggregate.SetDefaultBootOrder",
        }
    }

    pub(crate) fn parse(segment: &str) -> Option<AggregateAction> {
        AggregateAction::ALL
            .into_iter()
            .find(|a| a.name() == segment)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    /// The members' URIs (`/redfish/v1/Systems/00000001-0001`), in the
    /// order they joined: a batch reset goes in this order.
    elements: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    next_id: u64,
    groups: BTreeMap<u64, Group>,
}

/// The groups, kept in `path` (`None`: in memory only, lost at a restart).
pub struct Aggregates {
    path: Option<PathBuf>,
    inner: Mutex<Stored>,
}

impl Aggregates {
    /// Reads the file (missing: no groups; damaged: set aside, no groups).
    pub fn open(path: Option<PathBuf>) -> Aggregates {
        let mut stored: Stored = path
            .as_deref()
            .and_then(|p| crate::state_file::read_json(p, "aggregates"))
            .unwrap_or_default();
        // Ids are never reused, even after an edit by hand.
        let after_last = stored.groups.keys().next_back().map_or(1, |k| k + 1);
        stored.next_id = stored.next_id.max(after_last);
        Aggregates {
            path,
            inner: Mutex::new(stored),
        }
    }

    /// `…/Aggregates`.
    pub(crate) fn collection(&self) -> Value {
        let mut v = collection(
            &collection_uri(),
            "AggregateCollection",
            "Aggregates",
            self.lock().groups.keys().map(|id| uri(*id)).collect(),
        );
        v["Description"] = json!("Groups of the rack's computer systems. POST {\"Name\": …, \"Elements\": [system links]} creates one (operator).");
        v
    }

    /// `…/Aggregates/{id}`.
    pub(crate) fn get(&self, id: u64) -> Option<Value> {
        self.lock().groups.get(&id).map(|g| payload(id, g))
    }

    /// `POST …/Aggregates`: `Elements` (systems of the rack, at least one)
    /// and an optional `Name`; `201` with the group and its `Location`.
    pub(crate) fn create(
        &self,
        body: &[u8],
        rack: &Rack,
        user: &str,
    ) -> Result<Answer, RedfishError> {
        let (name, elements) = parse_create(body, rack)?;
        let mut stored = self.lock();
        if stored.groups.len() >= MAX_AGGREGATES {
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::CreateLimitReachedForResource,
                &[],
            )
            .with_detail(format!(
                "at most {MAX_AGGREGATES} aggregates are kept; delete one first"
            )));
        }
        let id = stored.next_id.max(1);
        let mut next = stored.clone();
        next.next_id = id + 1;
        let group = Group {
            name: name.unwrap_or_else(|| format!("Aggregate {id}")),
            elements,
        };
        next.groups.insert(id, group.clone());
        self.keep(&mut stored, next)?;
        tracing::info!(aggregate = id, name = %group.name, members = group.elements.len(), user, "aggregate created");
        let mut a = Answer::json(StatusCode::CREATED, &payload(id, &group));
        if let Ok(loc) = HeaderValue::from_str(&uri(id)) {
            a.headers.insert(http::header::LOCATION, loc);
        }
        Ok(a)
    }

    /// `DELETE …/Aggregates/{id}`; `false`: no such group. Its members are
    /// not touched.
    pub(crate) fn delete(&self, id: u64, user: &str) -> Result<bool, RedfishError> {
        let mut stored = self.lock();
        if !stored.groups.contains_key(&id) {
            return Ok(false);
        }
        let mut next = stored.clone();
        next.groups.remove(&id);
        self.keep(&mut stored, next)?;
        tracing::info!(aggregate = id, user, "aggregate deleted");
        Ok(true)
    }

    /// `Aggregate.AddElements` / `RemoveElements` of group `id` (`None`: no
    /// such group). Adding a member it has already is no change; removing
    /// one it does not have is an error, and so is removing every member
    /// (an empty group resets nothing: delete it instead).
    pub(crate) fn change(
        &self,
        id: u64,
        action: AggregateAction,
        body: &[u8],
        rack: &Rack,
        user: &str,
    ) -> Result<Option<Answer>, RedfishError> {
        let name = action.name();
        let params = aggregation::params(body, name, &["Elements"])?;
        let mut stored = self.lock();
        let Some(group) = stored.groups.get(&id) else {
            return Ok(None);
        };
        let mut changed = group.clone();
        match action {
            AggregateAction::AddElements => {
                for s in aggregation::systems(&params, "Elements", name, rack)? {
                    if !changed.elements.contains(&s.uri()) {
                        changed.elements.push(s.uri());
                    }
                }
                if changed.elements.len() > aggregation::MAX_TARGETS {
                    return Err(RedfishError::action_value(
                        "Elements",
                        name,
                        format!(
                            "an aggregate has at most {} members",
                            aggregation::MAX_TARGETS
                        ),
                    ));
                }
            }
            AggregateAction::RemoveElements => {
                for uri in member_uris(&params, name)? {
                    let Some(at) = changed.elements.iter().position(|e| *e == uri) else {
                        return Err(RedfishError::action_value(
                            "Elements",
                            name,
                            format!("{uri} is not a member of aggregate {id}"),
                        ));
                    };
                    changed.elements.remove(at);
                }
                if changed.elements.is_empty() {
                    return Err(RedfishError::action_value(
                        "Elements",
                        name,
                        format!(
                            "that would leave aggregate {id} without members; DELETE it instead"
                        ),
                    ));
                }
            }
            AggregateAction::Reset | AggregateAction::SetDefaultBootOrder => {
                return Err(RedfishError::failure(format!(
                    "{name} changes no membership"
                )))
            }
        }
        let mut next = stored.clone();
        let members = changed.elements.len();
        next.groups.insert(id, changed);
        self.keep(&mut stored, next)?;
        tracing::info!(
            aggregate = id,
            action = name,
            members,
            user,
            "aggregate changed"
        );
        Ok(Some(Answer::no_content()))
    }

    /// The group reset `Aggregate.Reset` of group `id` asks for (`None`: no
    /// such group), with a name for its task.
    pub(crate) fn reset(
        &self,
        id: u64,
        body: &[u8],
        rack: &Rack,
    ) -> Result<Option<(GroupReset, String)>, RedfishError> {
        let name = AggregateAction::Reset.name();
        let params = aggregation::params(
            body,
            name,
            &["ResetType", "BatchSize", "DelayBetweenBatchesInSeconds"],
        )?;
        let Some(group) = self.lock().groups.get(&id).cloned() else {
            return Ok(None);
        };
        let (mut targets, mut missing) = (Vec::new(), Vec::new());
        for e in &group.elements {
            match system_of(e).filter(|s| rack.has_system(*s)) {
                Some(s) => targets.push(s),
                None => missing.push(e.clone()),
            }
        }
        let g = aggregation::group(&params, name, targets, missing)?;
        Ok(Some((g, format!(" of aggregate {id} '{}'", group.name))))
    }

    /// The members `Aggregate.SetDefaultBootOrder` of group `id` acts on
    /// (`None`: no such group): the BMC servers of the rack among them;
    /// bus power devices have no boot order, and members no longer in the
    /// rack are left out. The action takes no parameters.
    pub(crate) fn boot_members(
        &self,
        id: u64,
        body: &[u8],
        rack: &Rack,
    ) -> Result<Option<Vec<SystemId>>, RedfishError> {
        if !body.iter().all(u8::is_ascii_whitespace) {
            aggregation::params(body, AggregateAction::SetDefaultBootOrder.name(), &[])?;
        }
        let Some(group) = self.lock().groups.get(&id).cloned() else {
            return Ok(None);
        };
        let servers: Vec<SystemId> = group
            .elements
            .iter()
            .filter_map(|e| system_of(e))
            .filter(|s| s.is_bmc() && rack.has_system(*s))
            .collect();
        if servers.is_empty() {
            let name = AggregateAction::SetDefaultBootOrder.name();
            return Err(RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::ActionNotSupported,
                &[name],
            )
            .with_detail(format!("no member of aggregate {id} is a BMC server of this rack: bus power devices have no boot order")));
        }
        Ok(Some(servers))
    }

    /// Makes `next` the groups: written first (when kept), then shown.
    fn keep(&self, stored: &mut Stored, next: Stored) -> Result<(), RedfishError> {
        if let Some(path) = &self.path {
            crate::state_file::keep_for_answer(path, &next, 0o644, "aggregates")?;
        }
        *stored = next;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stored> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn payload(id: u64, g: &Group) -> Value {
    let base = uri(id);
    let action = |a: AggregateAction| format!("{base}/Actions/{}", a.name());
    let reset_types: Vec<&str> = crate::reset::ResetType::ALL
        .iter()
        .map(|t| t.name())
        .collect();
    with(
        head(&base, "Aggregate"),
        json!({
            "Id": id.to_string(),
            "Name": g.name,
            "Elements": g.elements.iter().map(|e| link(e)).collect::<Vec<_>>(),
            "ElementsCount": g.elements.len(),
            "Actions": {
                "#Aggregate.Reset": {
                    "target": action(AggregateAction::Reset),
                    "ResetType@Redfish.AllowableValues": reset_types,
                },
                "#Aggregate.AddElements": { "target": action(AggregateAction::AddElements) },
                "#Aggregate.RemoveElements": { "target": action(AggregateAction::RemoveElements) },
                "#Aggregate.SetDefaultBootOrder": { "target": action(AggregateAction::SetDefaultBootOrder) },
            },
        }),
    )
}

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

/// A create body: `Elements` (systems of the rack, 1..256, each once),
/// `Name` (printable text, 1..64 characters). OData annotations a client
/// copies from a payload (`@odata.type`) are ignored; other properties
/// are refused (`Id` is the service's).
fn parse_create(body: &[u8], rack: &Rack) -> Result<(Option<String>, Vec<String>), RedfishError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(props) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    let props: Map<String, Value> = props
        .into_iter()
        .filter(|(k, _)| !k.starts_with("@odata."))
        .collect();
    if let Some(unknown) = props.keys().find(|k| *k != "Name" && *k != "Elements") {
        let k: String = unknown.chars().take(64).collect();
        return Err(bad(BaseMessage::PropertyUnknown, &[&k]));
    }
    let name = match props.get("Name") {
        None => None,
        Some(Value::String(n))
            if !n.trim().is_empty()
                && n.chars().count() <= NAME_MAX_CHARS
                && !n.chars().any(char::is_control) =>
        {
            Some(n.clone())
        }
        Some(Value::String(_)) => {
            return Err(
                bad(BaseMessage::PropertyValueError, &["Name"]).with_detail(format!(
                    "Name is printable text of 1 to {NAME_MAX_CHARS} characters"
                )),
            )
        }
        Some(other) => {
            return Err(bad(
                BaseMessage::PropertyValueTypeError,
                &[&shown(other), "Name"],
            ))
        }
    };
    if !props.contains_key("Elements") {
        return Err(bad(BaseMessage::PropertyMissing, &["Elements"]));
    }
    if !props["Elements"].is_array() {
        return Err(bad(
            BaseMessage::PropertyValueTypeError,
            &[&shown(&props["Elements"]), "Elements"],
        ));
    }
    // The same checks as a group reset's targets, reported as a property.
    let systems = aggregation::systems(&props, "Elements", "create", rack).map_err(|e| {
        bad(BaseMessage::PropertyValueError, &["Elements"]).with_detail(
            e.detail
                .unwrap_or_else(|| "Elements names systems of this rack".into()),
        )
    })?;
    Ok((name, systems.iter().map(|s| s.uri()).collect()))
}

/// The members `RemoveElements` names, as canonical system URIs.
fn member_uris(params: &Map<String, Value>, action: &str) -> Result<Vec<String>, RedfishError> {
    let Some(Value::Array(list)) = params.get("Elements") else {
        return Err(match params.get("Elements") {
            None => bad(BaseMessage::ActionParameterMissing, &[action, "Elements"]),
            Some(other) => bad(
                BaseMessage::ActionParameterValueTypeError,
                &[&shown(other), "Elements", action],
            ),
        });
    };
    if list.is_empty() {
        return Err(RedfishError::action_value(
            "Elements",
            action,
            "Elements names at least one member",
        ));
    }
    list.iter()
        .map(|u| {
            system_of(aggregation::uri_text(u))
                .map(|s| s.uri())
                .ok_or_else(|| {
                    RedfishError::action_value(
                        "Elements",
                        action,
                        format!("{} is not a computer system", shown(u)),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregation::tests::rack;
    use crate::reset::ResetType;
    use crate::route::SystemId;

    const BUS1: &str = "/redfish/v1/Systems/00000001-0001";
    const BUS2: &str = "/redfish/v1/Systems/00000001-0002";
    const BMC1: &str = "/redfish/v1/Systems/40000000-0001";

    fn body(a: &Answer) -> Value {
        serde_json::from_slice(&a.body).unwrap()
    }

    #[test]
    fn groups_are_created_changed_and_kept_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aggregates.json");
        let a = Aggregates::open(Some(path.clone()));
        let made = a
            .create(
                format!(r##"{{"Name": "row 3", "Elements": [{{"@odata.id": "{BUS1}"}}, "{BMC1}/"], "@odata.type": "#Aggregate.v1_0_3.Aggregate"}}"##).as_bytes(),
                &rack(),
                "op",
            )
            .unwrap();
        assert_eq!(made.status, StatusCode::CREATED);
        assert_eq!(made.headers[http::header::LOCATION], uri(1).as_str());
        let v = body(&made);
        assert_eq!(v["Id"], "1");
        assert_eq!(v["Name"], "row 3");
        assert_eq!(v["ElementsCount"], 2);
        assert_eq!(v["Elements"][1]["@odata.id"], BMC1);
        let second = a
            .create(
                format!(r#"{{"Elements": ["{BUS2}"]}}"#).as_bytes(),
                &rack(),
                "op",
            )
            .unwrap();
        assert_eq!(body(&second)["Name"], "Aggregate 2");

        let add = format!(r#"{{"Elements": ["{BUS2}", "{BUS1}"]}}"#);
        a.change(
            1,
            AggregateAction::AddElements,
            add.as_bytes(),
            &rack(),
            "op",
        )
        .unwrap()
        .unwrap();
        let rm = format!(r#"{{"Elements": [{{"@odata.id": "{BUS1}"}}]}}"#);
        a.change(
            1,
            AggregateAction::RemoveElements,
            rm.as_bytes(),
            &rack(),
            "op",
        )
        .unwrap()
        .unwrap();
        assert!(a.delete(2, "op").unwrap());
        assert!(!a.delete(2, "op").unwrap());

        let again = Aggregates::open(Some(path));
        let v = again.get(1).unwrap();
        let members: Vec<&str> = v["Elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["@odata.id"].as_str().unwrap())
            .collect();
        assert_eq!(members, [BMC1, BUS2], "joined in this order");
        assert!(again.get(2).is_none());
        assert_eq!(again.collection()["Members@odata.count"], 1);
        // Ids are not reused after a delete and a restart.
        let third = again
            .create(
                format!(r#"{{"Elements": ["{BUS1}"]}}"#).as_bytes(),
                &rack(),
                "op",
            )
            .unwrap();
        assert_eq!(body(&third)["Id"], "3");
    }

    #[test]
    fn bad_bodies_change_nothing() {
        let a = Aggregates::open(None);
        for (body, want) in [
            ("[]".to_string(), "MalformedJSON"),
            ("{}".to_string(), "PropertyMissing"),
            (
                format!(r#"{{"Elements": ["{BUS1}"], "Id": "7"}}"#),
                "PropertyUnknown",
            ),
            (
                format!(r#"{{"Elements": "{BUS1}"}}"#),
                "PropertyValueTypeError",
            ),
            (r#"{"Elements": []}"#.to_string(), "PropertyValueError"),
            (
                r#"{"Elements": ["/redfish/v1/Systems/00000001-0009"]}"#.to_string(),
                "PropertyValueError",
            ),
            (
                r#"{"Elements": ["/redfish/v1/Chassis/00000001"]}"#.to_string(),
                "PropertyValueError",
            ),
            (
                format!(r#"{{"Elements": ["{BUS1}", "{BUS1}"]}}"#),
                "PropertyValueError",
            ),
            (
                format!(r#"{{"Elements": ["{BUS1}"], "Name": ""}}"#),
                "PropertyValueError",
            ),
            (
                format!(r#"{{"Elements": ["{BUS1}"], "Name": "a\nb"}}"#),
                "PropertyValueError",
            ),
            (
                format!(r#"{{"Elements": ["{BUS1}"], "Name": 7}}"#),
                "PropertyValueTypeError",
            ),
        ] {
            let e = a.create(body.as_bytes(), &rack(), "op").expect_err(&body);
            assert_eq!(
                (e.status, e.key()),
                (StatusCode::BAD_REQUEST, want.to_string()),
                "{body}"
            );
        }
        assert_eq!(a.collection()["Members@odata.count"], 0);

        a.create(
            format!(r#"{{"Elements": ["{BUS1}"]}}"#).as_bytes(),
            &rack(),
            "op",
        )
        .unwrap();
        for (action, body, want) in [
            (
                AggregateAction::RemoveElements,
                format!(r#"{{"Elements": ["{BUS1}"]}}"#),
                "ActionParameterValueError",
            ),
            (
                AggregateAction::RemoveElements,
                format!(r#"{{"Elements": ["{BUS2}"]}}"#),
                "ActionParameterValueError",
            ),
            (
                AggregateAction::RemoveElements,
                r#"{"Elements": []}"#.to_string(),
                "ActionParameterValueError",
            ),
            (
                AggregateAction::RemoveElements,
                r#"{}"#.to_string(),
                "ActionParameterMissing",
            ),
            (
                AggregateAction::AddElements,
                r#"{"Elements": ["/redfish/v1/Systems/00000002-0001"]}"#.to_string(),
                "ActionParameterValueError",
            ),
            (
                AggregateAction::AddElements,
                format!(r#"{{"Elements": ["{BUS2}"], "Name": "x"}}"#),
                "ActionParameterUnknown",
            ),
        ] {
            let e = a
                .change(1, action, body.as_bytes(), &rack(), "op")
                .expect_err(&body);
            assert_eq!(e.key(), want, "{body}");
        }
        assert_eq!(a.get(1).unwrap()["ElementsCount"], 1);
        assert!(a
            .change(
                9,
                AggregateAction::AddElements,
                format!(r#"{{"Elements": ["{BUS2}"]}}"#).as_bytes(),
                &rack(),
                "op"
            )
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_reset_takes_the_members_in_the_rack_and_reports_the_others() {
        let a = Aggregates::open(None);
        a.create(
            format!(r#"{{"Name": "row", "Elements": ["{BUS1}", "{BUS2}", "{BMC1}"]}}"#).as_bytes(),
            &rack(),
            "op",
        )
        .unwrap();
        // BMC 1 taken out of the configuration since.
        let smaller = Rack {
            bmcs: vec![],
            ..rack()
        };
        let (g, of) = a
            .reset(
                1,
                br#"{"ResetType": "On", "BatchSize": 1, "DelayBetweenBatchesInSeconds": 5}"#,
                &smaller,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            g.targets,
            [
                SystemId {
                    board: 1,
                    device: 1
                },
                SystemId {
                    board: 1,
                    device: 2
                }
            ]
        );
        assert_eq!(g.missing, [BMC1]);
        assert_eq!((g.reset, g.batch, g.delay.as_secs()), (ResetType::On, 1, 5));
        assert_eq!(of, " of aggregate 1 'row'");
        // A bus power device cannot shut a host down: refused for the group.
        let e = a
            .reset(1, br#"{"ResetType": "GracefulShutdown"}"#, &rack())
            .unwrap_err();
        assert_eq!(e.key(), "ActionParameterValueNotInList");
        let e = a
            .reset(1, br#"{"ResetType": "On", "TargetURIs": []}"#, &rack())
            .unwrap_err();
        assert_eq!(e.key(), "ActionParameterUnknown");
        assert!(a
            .reset(2, br#"{"ResetType": "On"}"#, &rack())
            .unwrap()
            .is_none());
    }

    #[test]
    fn default_boot_order_takes_the_bmc_servers() {
        let a = Aggregates::open(None);
        a.create(
            format!(r#"{{"Elements": ["{BUS1}", "{BMC1}"]}}"#).as_bytes(),
            &rack(),
            "op",
        )
        .unwrap();
        a.create(
            format!(r#"{{"Elements": ["{BUS2}"]}}"#).as_bytes(),
            &rack(),
            "op",
        )
        .unwrap();
        assert_eq!(
            a.boot_members(1, b"", &rack()).unwrap().unwrap(),
            [SystemId::bmc(1)]
        );
        assert_eq!(a.boot_members(1, b"{}", &rack()).unwrap().unwrap().len(), 1);
        let e = a
            .boot_members(1, br#"{"Force": true}"#, &rack())
            .unwrap_err();
        assert_eq!(e.key(), "ActionParameterUnknown");
        let e = a.boot_members(2, b"", &rack()).unwrap_err();
        assert_eq!(
            (e.status, e.key()),
            (StatusCode::BAD_REQUEST, "ActionNotSupported".to_string())
        );
        assert!(a.boot_members(3, b"", &rack()).unwrap().is_none());
        assert_eq!(
            a.get(1).unwrap()["Actions"]["#Aggregate.SetDefaultBootOrder"]["target"],
            format!("{}/Actions/Aggregate.SetDefaultBootOrder", uri(1))
        );
    }

    #[test]
    fn a_write_that_fails_is_an_error_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aggregates.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"").unwrap();
        let a = Aggregates::open(Some(path));
        let e = a
            .create(
                format!(r#"{{"Elements": ["{BUS1}"]}}"#).as_bytes(),
                &rack(),
                "op",
            )
            .unwrap_err();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(a.collection()["Members@odata.count"], 0);
    }
}
