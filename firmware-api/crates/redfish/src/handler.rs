//! One routed request → one answer: the method check (405 with `Allow`),
//! then the resource's handler. Authentication and the browser policy ran
//! before, in the api crate's server.

use http::{Method, StatusCode};
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use opendcre_proto::PowerAction;
use tokio::time::Instant;

use crate::answer::{Answer, BaseMessage, RedfishError, XML};
use crate::metadata;
use crate::node::Node;
use crate::reset;
use crate::resources;
use crate::route::{parse_sensor_device, ChassisId, Resource};
use crate::sensors;

/// Answers `method` on `resource`; `path` is the request's path (quoted
/// by a 404), `body` the complete request body.
pub async fn handle(
    node: &Node,
    resource: &Resource,
    method: &Method,
    path: &str,
    body: &[u8],
    deadline: Instant,
) -> Answer {
    let allow = resource.allow_header();
    if !resource.allows(method) {
        return RedfishError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            BaseMessage::OperationNotAllowed,
            &[],
        )
        .answer()
        .allow(allow);
    }
    let answer = match serve(node, resource, path, body, deadline).await {
        Ok(a) => a,
        Err(e) => {
            if e.status.is_server_error() {
                tracing::warn!(path, status = e.status.as_u16(), detail = ?e.detail, "redfish request failed");
            }
            e.answer()
        }
    };
    match resource {
        Resource::Missing => answer,
        _ => answer.allow(allow),
    }
}

async fn serve(
    node: &Node,
    resource: &Resource,
    path: &str,
    body: &[u8],
    deadline: Instant,
) -> Result<Answer, RedfishError> {
    let ok = |v: serde_json::Value| Ok(Answer::json(StatusCode::OK, &v));
    match resource {
        Resource::Version => ok(metadata::version_object()),
        Resource::ServiceRoot => ok(resources::service_root(&node.rack)),
        Resource::Metadata => Ok(Answer::with_body(
            StatusCode::OK,
            XML,
            metadata::metadata_xml().into_bytes(),
        )),
        Resource::OData => ok(metadata::service_document()),
        Resource::ChassisCollection => {
            ok(resources::chassis_collection(&node.rack(deadline).await?))
        }
        Resource::Chassis(ChassisId::Rack) => ok(resources::rack_chassis(
            &node.rack,
            &node.rack(deadline).await?,
        )),
        Resource::Chassis(ChassisId::Board(b)) => {
            let rack = node.rack(deadline).await?;
            if !rack.has_board(*b) {
                return Err(RedfishError::missing(path));
            }
            ok(resources::board_chassis(*b, &rack))
        }
        Resource::SensorCollection(b) => match node.board_readings(*b, None, deadline).await? {
            Some(readings) => ok(sensors::collection(*b, &readings)),
            None => Err(RedfishError::missing(path)),
        },
        Resource::Sensor(b, id) => {
            let device = parse_sensor_device(id).ok_or_else(|| RedfishError::missing(path))?;
            let readings = node
                .board_readings(*b, Some(device), deadline)
                .await?
                .unwrap_or_default();
            match sensors::find(&readings, id) {
                Some((r, d)) => ok(sensors::sensor(*b, r, d)),
                None => Err(RedfishError::missing(path)),
            }
        }
        Resource::SystemCollection => ok(resources::system_collection(&node.rack(deadline).await?)),
        Resource::System(s) => {
            if !node.rack(deadline).await?.has_system(*s) {
                return Err(RedfishError::missing(path));
            }
            let power = node.power(*s, PowerAction::Status, deadline).await;
            let shown = match &power {
                Ok(p) => Ok(p),
                Err(e) => {
                    tracing::warn!(system = %s.id(), detail = ?e.detail, "power state not readable");
                    Err("power state not readable")
                }
            };
            let mut v = resources::system(*s, shown);
            match node.asset(*s, deadline).await {
                Ok(tag) => v["AssetTag"] = serde_json::json!(tag),
                Err(e) => {
                    tracing::warn!(system = %s.id(), detail = ?e.detail, "asset tag not readable")
                }
            }
            ok(v)
        }
        Resource::SystemReset(s) => {
            let action = reset::parse(body)?;
            if !node.rack(deadline).await?.has_system(*s) {
                return Err(RedfishError::missing(path));
            }
            node.power(*s, action, deadline).await?;
            tracing::info!(system = %s.id(), ?action, "ComputerSystem.Reset done");
            Ok(Answer::no_content())
        }
        Resource::ManagerCollection => ok(resources::manager_collection()),
        Resource::Manager => {
            let rack = node.rack(deadline).await?;
            ok(resources::manager(&node.firmware_version, &now(), &rack))
        }
        Resource::SessionService => ok(resources::session_service()),
        Resource::SessionCollection => ok(resources::session_collection()),
        Resource::Missing => Err(RedfishError::missing(path)),
    }
}

/// The node's clock, UTC, to the second.
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t = rfc3339_utc(i64::try_from(secs).unwrap_or(0), Fraction::None);
    // DSP0266 writes the offset as `+00:00`.
    t.replace('Z', "+00:00")
}
