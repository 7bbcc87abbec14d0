//! One routed request → one answer: the method check (405 with `Allow`),
//! then the resource's handler. Authentication and the browser policy ran
//! before, in the api crate's server.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, StatusCode};
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use tokio::time::Instant;

use crate::accounts;
use crate::boot;
use crate::answer::{Answer, BaseMessage, RedfishError, XML};
use crate::metadata;
use crate::network;
use crate::node::Node;
use crate::registries;
use crate::reset;
use crate::resources;
use crate::route::{parse_sensor_device, ChassisId, Resource};
use crate::sensors;
use crate::sessions::{self, Caller};

/// What the handler needs of a request besides its body.
pub struct RequestHead<'a> {
    pub method: &'a Method,
    /// The request's path, quoted by a 404.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// Answers one request for `resource`; `body` is the complete request
/// body; `caller` who sent it (sessions and accounts depend on it).
pub async fn handle(
    node: &Node,
    resource: &Resource,
    req: &RequestHead<'_>,
    body: &[u8],
    deadline: Instant,
    caller: &Caller,
) -> Answer {
    let allow = resource.allow_header();
    if !resource.allows(req.method) {
        return RedfishError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            BaseMessage::OperationNotAllowed,
            &[],
        )
        .answer()
        .allow(allow);
    }
    if let Err(e) = check_headers(req, body).and_then(|()| check_query(req.query)) {
        return e.answer().allow(allow);
    }
    let path = req.path;
    if *resource == Resource::SessionCollection && *req.method == Method::POST {
        return sessions::login(caller, path, body).await.allow(allow);
    }
    let answer = match serve(node, resource, req.method, path, body, deadline, caller).await {
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

/// DSP0266 "Query parameters": this service supports none of the `$`
/// parameters (`ProtocolFeaturesSupported` in the service root says so),
/// and an unsupported one is a 501; other parameters are ignored.
fn check_query(query: Option<&str>) -> Result<(), RedfishError> {
    for pair in query.unwrap_or("").split('&') {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        let dollar =
            key.starts_with('$') || key.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%24"));
        if dollar {
            let shown: String = key.chars().take(64).collect();
            return Err(RedfishError::new(
                StatusCode::NOT_IMPLEMENTED,
                BaseMessage::QueryParameterUnsupported,
                &[&shown],
            ));
        }
    }
    Ok(())
}

/// DSP0266 "Request headers": an `OData-Version` other than 4.0 is a 412;
/// a body that says it is not JSON is a 415.
fn check_headers(req: &RequestHead<'_>, body: &[u8]) -> Result<(), RedfishError> {
    let invalid = |status, name: &str| {
        Err(RedfishError::new(
            status,
            BaseMessage::HeaderInvalid,
            &[name],
        ))
    };
    if let Some(v) = req.headers.get("odata-version") {
        if v.as_bytes().trim_ascii() != b"4.0" {
            return invalid(StatusCode::PRECONDITION_FAILED, "OData-Version");
        }
    }
    if !body.is_empty() {
        if let Some(v) = req.headers.get(CONTENT_TYPE) {
            let media = v
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim();
            if !media.eq_ignore_ascii_case("application/json") {
                return invalid(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type");
            }
        }
    }
    Ok(())
}

async fn serve(
    node: &Node,
    resource: &Resource,
    method: &Method,
    path: &str,
    body: &[u8],
    deadline: Instant,
    caller: &Caller,
) -> Result<Answer, RedfishError> {
    let ok = |v: serde_json::Value| Ok(Answer::json(StatusCode::OK, &v));
    match resource {
        Resource::Version => ok(metadata::version_object()),
        Resource::ServiceRoot => ok(resources::service_root(&node.rack, node.uuid.as_deref())),
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
        // Only a BMC's server allows PATCH (`Allow`, checked above).
        Resource::System(s) if *method == Method::PATCH => {
            boot::patch(node, *s, body, path, deadline).await
        }
        Resource::System(s) => {
            if !node.rack(deadline).await?.has_system(*s) {
                return Err(RedfishError::missing(path));
            }
            let power = node.power_state(*s, deadline).await;
            let shown = match &power {
                Ok(p) => Ok(*p),
                Err(e) => {
                    tracing::warn!(system = %s.id(), detail = ?e.detail, "power state not readable");
                    Err("power state not readable")
                }
            };
            let mut v = resources::system(*s, shown);
            match node.asset_tag(*s, deadline).await {
                Ok(Some(tag)) => v["AssetTag"] = serde_json::json!(tag),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(system = %s.id(), detail = ?e.detail, "asset tag not readable")
                }
            }
            if let Some(inv) = node.inventory(*s, deadline).await {
                inv.fill(&mut v);
            }
            if s.is_bmc() {
                boot::fill(node, *s, &mut v, deadline).await;
            }
            ok(v)
        }
        Resource::SystemReset(s) => {
            let reset_type = reset::parse(*s, body)?;
            if !node.rack(deadline).await?.has_system(*s) {
                return Err(RedfishError::missing(path));
            }
            node.reset(*s, reset_type, deadline).await?;
            tracing::info!(system = %s.id(), ?reset_type, "ComputerSystem.Reset done");
            Ok(Answer::no_content())
        }
        Resource::ManagerCollection => ok(resources::manager_collection()),
        Resource::Manager => {
            let rack = node.rack(deadline).await?;
            ok(resources::manager(
                &node.firmware_version,
                &now(),
                node.uuid.as_deref(),
                &rack,
            ))
        }
        Resource::NetworkProtocol => ok(network::network_protocol(&node.protocols)),
        Resource::SessionService => ok(sessions::service(caller)),
        Resource::SessionCollection => ok(sessions::collection_of(caller)),
        Resource::Session(id) => sessions::member(caller, method, id, path),
        Resource::AccountService => ok(accounts::service(
            caller.security.as_ref().and_then(|s| s.ldap_config()),
        )),
        Resource::AccountCollection => ok(accounts::account_collection(
            caller.security.as_ref().map_or(&[], |s| s.local_users()),
        )),
        Resource::Account(name) => caller
            .security
            .as_ref()
            .and_then(|s| s.local_users().iter().find(|u| u.name == *name))
            .map(|u| Answer::json(StatusCode::OK, &accounts::account(u)).with_etag())
            .ok_or_else(|| RedfishError::missing(path)),
        Resource::RoleCollection => ok(accounts::role_collection()),
        Resource::Role(r) => ok(accounts::role(*r)),
        Resource::RegistryCollection => ok(registries::registry_collection()),
        Resource::Registry(id) => registries::registry_file(id)
            .map(|v| Answer::json(StatusCode::OK, &v))
            .ok_or_else(|| RedfishError::missing(path)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        headers: &[(&'static str, &'static str)],
        body: &[u8],
    ) -> Option<(StatusCode, String)> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        let head = RequestHead {
            method: &Method::POST,
            path: "/redfish/v1",
            query: None,
            headers: &h,
        };
        check_headers(&head, body).err().map(|e| {
            (
                e.status,
                e.body()["error"]["message"].as_str().unwrap().to_string(),
            )
        })
    }

    #[test]
    fn odata_version_and_content_type() {
        assert_eq!(check(&[("odata-version", "4.0")], b""), None);
        assert_eq!(
            check(&[("odata-version", "4.01")], b""),
            Some((
                StatusCode::PRECONDITION_FAILED,
                "Header 'OData-Version' is invalid.".into()
            ))
        );
        assert_eq!(
            check(
                &[("content-type", "application/json; charset=utf-8")],
                b"{}"
            ),
            None
        );
        assert_eq!(check(&[("content-type", "Application/JSON")], b"{}"), None);
        assert_eq!(check(&[], b"{}"), None, "no Content-Type: taken as JSON");
        assert_eq!(
            check(
                &[("content-type", "application/x-www-form-urlencoded")],
                b"a=b"
            ),
            Some((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Header 'Content-Type' is invalid.".into()
            ))
        );
        assert_eq!(
            check(&[("content-type", "text/plain")], b""),
            None,
            "no body, nothing to type"
        );
    }

    #[test]
    fn dollar_query_parameters_are_not_implemented() {
        assert!(check_query(None).is_ok());
        assert!(check_query(Some("")).is_ok());
        assert!(check_query(Some("foo=1&bar")).is_ok(), "others are ignored");
        for q in ["$expand=.", "a=1&$top=2", "%24select=Id", "$filter"] {
            let e = check_query(Some(q)).unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED, "{q}");
            assert_eq!(
                e.body()["error"]["code"],
                "Base.1.22.QueryParameterUnsupported"
            );
        }
    }
}
