//! One routed request → one answer: the method check (405 with `Allow`),
//! then the resource's handler. Authentication and the browser policy ran
//! before, in the api crate's server.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, StatusCode};
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use serde_json::Value;
use tokio::time::Instant;

use crate::accounts;
use crate::aggregates::AggregateAction;
use crate::aggregation;
use crate::answer::{Answer, BaseMessage, RedfishError, XML};
use crate::boot;
use crate::certificates;
use crate::chassis_reset;
use crate::ethernet;
use crate::filter;
use crate::firmware;
use crate::led;
use crate::logs;
use crate::metadata;
use crate::netif;
use crate::network;
use crate::network_settings;
use crate::node::{Node, Rack};
use crate::patch;
use crate::power::PowerView;
use crate::query;
use crate::registries;
use crate::reset;
use crate::resources;
use crate::route::{
    parse_sensor_device, route, ChassisId, FirmwareId, LogOwner, Resource, SystemId,
};
use crate::sensors;
use crate::sessions::{self, Caller};
use crate::subsystems;

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
    let narrowed = match resource {
        Resource::Certificate(_) => certificates::allow(node.tls.as_ref()),
        Resource::SessionService => sessions::allow(caller.security.as_deref()),
        // `ServiceIdentification` is kept with the asset tags.
        Resource::Manager => (!node.asset_tags.kept()).then_some(crate::route::READ_ONLY),
        // Only the interfaces the image's settings configure, when the
        // node takes network requests.
        Resource::EthernetInterface(name) => {
            (!node.network.writable(name)).then_some(crate::route::READ_ONLY)
        }
        _ => accounts::allow(resource, caller.security.as_deref()),
    };
    let allow = narrowed.unwrap_or_else(|| resource.allow_header());
    let allowed = match narrowed {
        Some(a) => a.split(", ").any(|m| m == req.method.as_str()),
        None => resource.allows(req.method),
    };
    if !allowed {
        let mut e = RedfishError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            BaseMessage::OperationNotAllowed,
            &[],
        );
        // Why a method the resource type has is not open here.
        e.detail = match resource {
            Resource::Manager if narrowed.is_some() => Some(MANAGER_READ_ONLY.to_string()),
            Resource::EthernetInterface(_) if narrowed.is_some() => {
                Some(INTERFACE_READ_ONLY.to_string())
            }
            _ => accounts::why_read_only(resource, caller.security.as_deref()),
        };
        return e.answer().allow(allow);
    }
    if let Err(e) = check_headers(req, body) {
        return e.answer().allow(allow);
    }
    let query = match query::parse(req.query) {
        Ok(q) => q,
        Err(e) => return e.answer().allow(allow),
    };
    let path = req.path;
    if *resource == Resource::SessionCollection && *req.method == Method::POST {
        return sessions::login(caller, path, body, &node.events)
            .await
            .allow(allow);
    }
    let ctx = Ctx {
        node,
        deadline,
        caller,
        rack: tokio::sync::OnceCell::new(),
        fetched: Mutex::new(HashMap::new()),
    };
    let served = match (req.method.clone(), resource) {
        // A task monitor's status is its answer (202 while running).
        (Method::GET | Method::HEAD, Resource::TaskMonitor(id)) => node
            .tasks
            .monitor(*id)
            .ok_or_else(|| RedfishError::missing(path)),
        (Method::GET | Method::HEAD, _) => ctx.get(resource, path, &query).await,
        (Method::PATCH, _) => patch(&ctx, resource, req, body).await,
        _ => serve(node, resource, req.method, path, body, deadline, caller).await,
    };
    let answer = match served {
        Ok(a) if matches!(*req.method, Method::GET | Method::HEAD) => not_modified(a, req.headers),
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

/// DSP0266 "ETags": a GET whose `If-None-Match` names the resource's
/// current `ETag` (or is `*`) is answered 304 without a body, so a client
/// revalidates an account or a subscription without reading it again.
fn not_modified(mut a: Answer, headers: &HeaderMap) -> Answer {
    let Some(tag) = a.headers.get(http::header::ETAG).cloned() else {
        return a;
    };
    let tag = tag.to_str().unwrap_or_default();
    let matches = headers
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t == tag || t.strip_prefix("W/") == Some(tag));
    if a.status == StatusCode::OK && matches {
        a.status = StatusCode::NOT_MODIFIED;
        a.body.clear();
        a.headers.remove(CONTENT_TYPE);
    }
    a
}

/// What answering a request (and each member an `$expand` pulls in) needs.
struct Ctx<'a> {
    node: &'a Node,
    deadline: Instant,
    caller: &'a Caller,
    /// The rack's tree, found once per request: without the telemetry
    /// poller each find is a scan of the bus (400 ms of silence), and an
    /// expansion reads many resources of the same tree.
    rack: tokio::sync::OnceCell<Rack>,
    /// The members this request has read (by URI): a `$filter` reads each
    /// member of a collection, and an `$expand` of the same request then
    /// shows those readings instead of reading the bus again.
    fetched: Mutex<HashMap<String, Value>>,
}

impl Ctx<'_> {
    async fn rack(&self) -> Result<Rack, RedfishError> {
        self.rack
            .get_or_try_init(|| self.node.rack(self.deadline))
            .await
            .cloned()
    }

    /// A GET: the resource's JSON (the one code path, [`Ctx::read`]), then
    /// DSP0266's order: `$filter`, `$skip`/`$top`, `$expand`, `$select`;
    /// or, with `only`, the one member of a collection.
    async fn get(
        &self,
        resource: &Resource,
        path: &str,
        q: &query::Query,
    ) -> Result<Answer, RedfishError> {
        if *resource == Resource::Metadata {
            if !q.is_empty() {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::QueryNotSupportedOnResource,
                    &[],
                ));
            }
            return Ok(Answer::with_body(
                StatusCode::OK,
                XML,
                metadata::metadata_xml().into_bytes(),
            ));
        }
        let mut v = self.read(resource, path).await?;
        if q.only {
            v = self.only(v).await?;
        } else if !q.is_empty() {
            let uri = v["@odata.id"].as_str().unwrap_or(path).to_string();
            if let Some(f) = &q.filter {
                self.filter(&mut v, f).await?;
            }
            query::page(&mut v, &uri, q)?;
            if let Some(e) = q.expand {
                self.expand(&mut v, e).await;
            }
            if let Some(paths) = &q.select {
                v = query::select(&v, paths);
            }
        }
        Ok(Answer::json(StatusCode::OK, &v))
    }

    /// `$filter`: keeps the members of collection `v` that match `f`, each
    /// judged on what its own GET shows this caller now; a member that
    /// cannot be read is left out (logged). `Members@odata.count` counts
    /// the members kept. Not a collection: 400 `QueryNotSupportedOnResource`.
    async fn filter(&self, v: &mut Value, f: &filter::Expr) -> Result<(), RedfishError> {
        let Some(members) = v.get_mut("Members").and_then(Value::as_array_mut) else {
            return Err(query::not_a_collection());
        };
        let mut kept = Vec::with_capacity(members.len());
        for member in members.drain(..) {
            let read = match member.get("@odata.id").and_then(Value::as_str) {
                Some(uri) if member.as_object().is_some_and(|m| m.len() == 1) => {
                    self.fetch(uri).await
                }
                // Already whole (not a hyperlink): judged as it is.
                _ => Some(member.clone()),
            };
            // A member that cannot be read is left out (`fetch` logs why).
            if read.is_some_and(|whole| f.matches(&whole)) {
                kept.push(member);
            }
        }
        *members = kept;
        let count = members.len();
        if v.get("Members@odata.count").is_some() {
            v["Members@odata.count"] = count.into();
        }
        Ok(())
    }

    /// `only`: a collection of exactly one member answers with that
    /// member (its own GET); with none or several, the collection.
    async fn only(&self, v: Value) -> Result<Value, RedfishError> {
        let Some(members) = v.get("Members").and_then(Value::as_array) else {
            return Err(query::not_a_collection());
        };
        let [member] = members.as_slice() else {
            return Ok(v);
        };
        let Some(uri) = member.get("@odata.id").and_then(Value::as_str) else {
            return Ok(v);
        };
        match self.readable(uri) {
            Some(resource) => self.read(&resource, uri).await,
            None => Err(RedfishError::missing(uri)),
        }
    }

    /// Replaces the hyperlinks `e` names with the resources they point to,
    /// each the JSON its own GET answers, `e.levels` deep. A link the
    /// caller may not read, or whose resource cannot be read now, stays a
    /// link.
    fn expand<'b>(
        &'b self,
        v: &'b mut Value,
        e: query::Expand,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>> {
        Box::pin(async move {
            for (pointer, uri) in query::links_to_expand(v, e.kind) {
                let Some(mut member) = self.fetch(&uri).await else {
                    continue;
                };
                if e.levels > 1 {
                    let deeper = query::Expand {
                        levels: e.levels - 1,
                        ..e
                    };
                    self.expand(&mut member, deeper).await;
                }
                if let Some(slot) = v.pointer_mut(&pointer) {
                    *slot = member;
                }
            }
        })
    }

    /// The JSON a GET of `uri` answers this caller, if it may read it
    /// (once per request: a second fetch of the same URI is the first's).
    async fn fetch(&self, uri: &str) -> Option<Value> {
        if let Some(v) = self.memo().get(uri) {
            return Some(v.clone());
        }
        let resource = self.readable(uri)?;
        match self.read(&resource, uri).await {
            Ok(v) => {
                self.memo().insert(uri.to_string(), v.clone());
                Some(v)
            }
            Err(e) => {
                tracing::debug!(uri, status = e.status.as_u16(), "not read for a query");
                None
            }
        }
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.fetched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The resource at `uri`, if this caller may GET it.
    fn readable(&self, uri: &str) -> Option<Resource> {
        let segments: Vec<String> = uri
            .trim_start_matches('/')
            .split('/')
            .map(str::to_string)
            .collect();
        let resource = route(&segments)?;
        let readable = resource.allows(&Method::GET)
            && resource != Resource::Missing
            && resource != Resource::Metadata
            && (resource.is_public()
                || self.caller.principal.is_some()
                || self.caller.security.is_none());
        readable.then_some(resource)
    }

    /// The JSON of a readable resource: what a GET of it shows.
    async fn read(&self, resource: &Resource, path: &str) -> Result<Value, RedfishError> {
        let (node, deadline, caller) = (self.node, self.deadline, self.caller);
        Ok(match resource {
            Resource::Version => metadata::version_object(),
            Resource::ServiceRoot => {
                let mut v = resources::service_root(&node.rack, node.uuid.as_deref());
                // The manager's label, when it has one (DSP8010: absent
                // when empty or null).
                if let Some(id) = node.asset_tags.service_identification() {
                    if !id.is_empty() {
                        v["ServiceIdentification"] = Value::from(id);
                    }
                }
                v
            }
            Resource::OData => metadata::service_document(),
            Resource::ChassisCollection => resources::chassis_collection(&self.rack().await?),
            Resource::Chassis(ChassisId::Rack) => self.rack_chassis().await?,
            Resource::Chassis(ChassisId::Board(b)) => self.board(*b, path).await?.0,
            Resource::Chassis(ChassisId::Server(d)) => self.server_chassis(*d, path).await?,
            Resource::ServerSensorCollection(d) => {
                let sensors = self.bmc_sensors(*d, path).await?;
                crate::environment::server_sensor_collection(ChassisId::Server(*d), &sensors)
            }
            Resource::ServerSensor(d, id) => {
                let sensors = self.bmc_sensors(*d, path).await?;
                sensors
                    .iter()
                    .find(|v| crate::environment::sdr_sensor_id(v) == *id)
                    .map(|v| crate::environment::server_sensor(ChassisId::Server(*d), v))
                    .ok_or_else(|| RedfishError::missing(path))?
            }
            Resource::Thermal(ChassisId::Server(d)) => {
                let sensors = self.bmc_sensors(*d, path).await?;
                crate::environment::server_thermal(ChassisId::Server(*d), &sensors)
            }
            Resource::ChassisPower(ChassisId::Server(d)) => {
                let sensors = self.bmc_sensors(*d, path).await?;
                crate::environment::server_power(ChassisId::Server(*d), &sensors)
            }
            Resource::Thermal(c) => {
                let rows = self.chassis_rows(*c, path).await?;
                crate::environment::thermal(*c, &rows)
            }
            Resource::ThermalSubsystem(c) => {
                subsystems::thermal_subsystem(*c, &self.chassis_sensors(*c, path).await?)
            }
            Resource::FanCollection(c) => {
                subsystems::fan_collection(*c, &self.chassis_sensors(*c, path).await?)
            }
            Resource::Fan(c, id) => subsystems::fan(*c, &self.chassis_sensors(*c, path).await?, id)
                .ok_or_else(|| RedfishError::missing(path))?,
            Resource::ThermalMetrics(c) => {
                subsystems::thermal_metrics(*c, &self.chassis_sensors(*c, path).await?)
            }
            Resource::EnvironmentMetrics(c) => subsystems::environment_metrics(
                *c,
                &self.chassis_sensors(*c, path).await?,
                !matches!(c, ChassisId::Server(_)),
            ),
            Resource::ChassisPower(c) => {
                let rows = self.chassis_rows(*c, path).await?;
                let since = opendcre_telemetry::now_ms()
                    .saturating_sub(crate::environment::METRICS_MINUTES * 60_000);
                let cache = node.cache.clone();
                crate::environment::power(*c, &rows, |key, field| {
                    cache.as_ref()?.field_stats(key, field, since)
                })
            }
            Resource::SensorCollection(b) => match node
                .board_readings(*b, None, &self.rack().await?, deadline)
                .await?
            {
                Some(readings) => sensors::collection(*b, &readings),
                None => return Err(RedfishError::missing(path)),
            },
            Resource::Sensor(b, id) => {
                let device = parse_sensor_device(id).ok_or_else(|| RedfishError::missing(path))?;
                let readings = node
                    .board_readings(*b, Some(device), &self.rack().await?, deadline)
                    .await?
                    .unwrap_or_default();
                match sensors::find(&readings, id) {
                    Some((r, d)) => sensors::sensor(*b, r, d),
                    None => return Err(RedfishError::missing(path)),
                }
            }
            Resource::SystemCollection => resources::system_collection(&self.rack().await?),
            Resource::System(s) => self.system(*s, path).await?,
            Resource::ManagerCollection => resources::manager_collection(),
            Resource::Manager => self.manager().await?,
            Resource::SessionService => sessions::service(caller),
            Resource::SessionCollection => sessions::collection_of(caller),
            Resource::Session(id) => sessions::member_json(caller, id, path)?,
            Resource::AccountService => accounts::service_of(caller),
            Resource::AccountCollection => accounts::account_collection(
                &caller
                    .security
                    .as_ref()
                    .map(|s| s.local_users())
                    .unwrap_or_default(),
            ),
            Resource::Account(name) => caller
                .security
                .as_ref()
                .and_then(|s| s.local_users().into_iter().find(|u| u.name == *name))
                .map(|u| accounts::account(&u))
                .ok_or_else(|| RedfishError::missing(path))?,
            Resource::RoleCollection => accounts::role_collection(),
            Resource::Role(r) => accounts::role(*r),
            Resource::NetworkProtocol => network::network_protocol(&node.protocols),
            Resource::HttpsCertificateCollection => {
                certificates::https_collection(certificates::served(node.tls.as_ref()).is_some())
            }
            Resource::ManagerCertificateCollection => {
                certificates::manager_collection(certificates::served(node.tls.as_ref()).is_some())
            }
            Resource::Certificate(id) => certificates::served(node.tls.as_ref())
                .filter(|_| id == certificates::CERT_ID)
                .map(|(c, source)| certificates::certificate(&c, source))
                .ok_or_else(|| RedfishError::missing(path))?,
            Resource::CertificateService => {
                certificates::service(node.tls.as_ref().is_some_and(|t| t.replaceable()))
            }
            Resource::CertificateLocations => {
                certificates::locations(certificates::served(node.tls.as_ref()).is_some())
            }
            // Small kernel files and getifaddrs: read here, they do not wait.
            Resource::EthernetInterfaceCollection => {
                ethernet::interface_collection(&netif::interfaces())
            }
            Resource::EthernetInterface(name) => self.interface(name, path)?,
            Resource::LogServiceCollection(owner) => {
                self.log_owner(*owner, path).await?;
                logs::service_collection(*owner)
            }
            Resource::LogService(owner) => {
                self.log_owner(*owner, path).await?;
                match owner {
                    LogOwner::System(s) if s.is_bmc() => {
                        let time = match node.ipmi.sel_time(s.device).await {
                            Ok(t) => Some(t),
                            Err(e) => {
                                tracing::warn!(system = %s.id(), "SEL time not readable: {e}");
                                None
                            }
                        };
                        logs::sel_service(*s, time)
                    }
                    _ => logs::event_log_service(
                        *owner,
                        &node.events.status(),
                        node.events.max_entries(),
                        &now(),
                    ),
                }
            }
            Resource::LogEntryCollection(owner) => {
                self.log_owner(*owner, path).await?;
                match owner {
                    LogOwner::System(s) if s.is_bmc() => {
                        let sel = node.ipmi.sel(s.device).await.map_err(|e| {
                            RedfishError::failure(format!("reading the SEL failed: {e}"))
                        })?;
                        let mut v = logs::entry_collection(
                            *owner,
                            sel.records.iter().map(|r| logs::sel_entry(*s, r)).collect(),
                        );
                        if let Some(said) = logs::sel_partly_shown(&sel) {
                            v["Description"] = said.into();
                        }
                        v
                    }
                    _ => logs::entry_collection(
                        *owner,
                        node.events
                            .entries()
                            .into_iter()
                            .filter(|e| logs::shows(*owner, e))
                            .map(|e| logs::event_entry(*owner, &e))
                            .collect(),
                    ),
                }
            }
            Resource::LogEntry(owner, id) => {
                self.log_owner(*owner, path).await?;
                match owner {
                    LogOwner::System(s) if s.is_bmc() => {
                        let record_id =
                            u16::try_from(*id).map_err(|_| RedfishError::missing(path))?;
                        let record = node
                            .ipmi
                            .sel_entry(s.device, record_id)
                            .await
                            .map_err(|e| {
                                RedfishError::failure(format!("reading the SEL failed: {e}"))
                            })?
                            // Get SEL Entry 0 and 0xFFFF name the first and last
                            // records, not records with those ids.
                            .filter(|r| r.record_id == record_id)
                            .ok_or_else(|| RedfishError::missing(path))?;
                        logs::sel_entry(*s, &record)
                    }
                    _ => node
                        .events
                        .entry(*id)
                        .filter(|e| logs::shows(*owner, e))
                        .map(|e| logs::event_entry(*owner, &e))
                        .ok_or_else(|| RedfishError::missing(path))?,
                }
            }
            Resource::RegistryCollection => registries::registry_collection(),
            Resource::OwnRegistry => registries::own_registry_document(),
            Resource::Registry(id) => {
                registries::registry_file(id).ok_or_else(|| RedfishError::missing(path))?
            }
            Resource::UpdateService => node.update.service().await,
            // The node's own slots stay listed when the bus cannot be
            // scanned: an update may be what mends it.
            Resource::FirmwareInventoryCollection => {
                let others = match self.rack().await {
                    Ok(rack) => Ok(firmware::members(&rack)),
                    Err(e) => Err(e.detail.unwrap_or_else(|| "the bus scan failed".into())),
                };
                node.update.inventory(others).await
            }
            Resource::FirmwareInventory(FirmwareId::Slot(name)) => node
                .update
                .slot(name)
                .await?
                .ok_or_else(|| RedfishError::missing(path))?,
            Resource::FirmwareInventory(id) => {
                let rack = self.rack().await?;
                firmware::member(node, &rack, id, self.deadline)
                    .await
                    .ok_or_else(|| RedfishError::missing(path))?
            }
            Resource::TaskService => crate::tasks::service(),
            Resource::AggregationService => aggregation::service(&self.rack().await?),
            Resource::AggregateCollection => node.aggregates.collection(),
            Resource::Aggregate(id) => node
                .aggregates
                .get(*id)
                .ok_or_else(|| RedfishError::missing(path))?,
            Resource::TaskCollection => node.tasks.collection(),
            Resource::Task(id) | Resource::TaskMonitor(id) => node
                .tasks
                .get(*id)
                .ok_or_else(|| RedfishError::missing(path))?,
            Resource::TelemetryService => crate::reports::service(node.cache.is_some()),
            Resource::MetricReportDefinitionCollection => {
                crate::reports::definition_collection(&node.report_definitions.ids())
            }
            Resource::MetricReportCollection => {
                crate::reports::report_collection(&node.report_definitions.report_ids())
            }
            Resource::MetricReportDefinition(id) if id == crate::reports::RACK_REPORT => {
                crate::reports::definition(&self.rows().await?)
            }
            Resource::MetricReportDefinition(id) => {
                if !node.report_definitions.ids().contains(id) {
                    return Err(RedfishError::missing(path));
                }
                node.report_definitions
                    .get(id, &self.rows().await?)
                    .ok_or_else(|| RedfishError::missing(path))?
            }
            Resource::MetricReport(id) if id == crate::reports::RACK_REPORT => {
                crate::reports::report(&self.rows().await?, &now())
            }
            Resource::MetricReport(id) => node
                .report_definitions
                .report(id)
                .ok_or_else(|| RedfishError::missing(path))?,
            Resource::EventService => node.event_service.service_json(),
            Resource::SubscriptionCollection => node.event_service.collection_json(),
            Resource::Subscription(id) => {
                let mut v = node
                    .event_service
                    .subscription_json(*id)
                    .ok_or_else(|| RedfishError::missing(path))?;
                patch::stamp(&mut v);
                v
            }
            Resource::Metadata
            | Resource::EventSse
            | Resource::SubmitTestEvent
            | Resource::ManagerReset
            | Resource::ReplaceCertificate
            | Resource::GenerateCsr
            | Resource::GroupReset
            | Resource::AggregateAction(..)
            | Resource::UpdateUpload
            | Resource::UpdateMultipart
            | Resource::SimpleUpdate
            | Resource::SystemReset(_)
            | Resource::ChassisReset(_)
            | Resource::ClearLog(_)
            | Resource::Missing => return Err(RedfishError::missing(path)),
        })
    }

    /// The server of a configured BMC; a 404 for any other device id.
    async fn configured_bmc(&self, device: u16, path: &str) -> Result<SystemId, RedfishError> {
        let s = SystemId::bmc(device);
        if self.rack().await?.has_system(s) {
            Ok(s)
        } else {
            Err(RedfishError::missing(path))
        }
    }

    /// The analog sensors of a configured BMC, read now over IPMI.
    async fn bmc_sensors(
        &self,
        device: u16,
        path: &str,
    ) -> Result<std::sync::Arc<Vec<opendcre_ipmi::sdr::SensorValue>>, RedfishError> {
        let s = self.configured_bmc(device, path).await?;
        self.node
            .bmc(s, self.deadline, self.node.ipmi.sensors(device))
            .await
    }

    /// A BMC server's chassis: its FRU's chassis, board and product areas
    /// and the power state, read now (as its system reads them).
    async fn server_chassis(&self, device: u16, path: &str) -> Result<Value, RedfishError> {
        let (node, deadline) = (self.node, self.deadline);
        let s = self.configured_bmc(device, path).await?;
        let power = node.power_state(s, deadline).await.map_err(|e| {
            tracing::warn!(system = %s.id(), detail = ?e.detail, "power state not readable");
        });
        let fru = node.fru(s, deadline).await;
        let mut v = resources::server_chassis(device, power.ok(), fru.as_ref());
        chassis_reset::show(ChassisId::Server(device), &[s], &mut v);
        // The identify light, when the BMC's chassis status reports it.
        if let Ok(PowerView {
            identify: Some(on), ..
        }) = power
        {
            patch::show_led(&mut v, on);
        }
        Ok(v)
    }

    /// A system as a GET shows it: power state and asset tag read now;
    /// a bus power device's (PATCHable) carries its `@odata.etag`.
    async fn system(&self, s: SystemId, path: &str) -> Result<Value, RedfishError> {
        let (node, deadline) = (self.node, self.deadline);
        if !self.rack().await?.has_system(s) {
            return Err(RedfishError::missing(path));
        }
        let power = node.power_state(s, deadline).await;
        let shown = match &power {
            Ok(p) => Ok(*p),
            Err(e) => {
                tracing::warn!(system = %s.id(), detail = ?e.detail, "power state not readable");
                Err("power state not readable")
            }
        };
        let mut v = resources::system(s, shown);
        // A BMC's identify light, when its chassis status says it.
        if let Ok(PowerView {
            identify: Some(on), ..
        }) = &power
        {
            v["LocationIndicatorActive"] = serde_json::json!(on);
        }
        // What a BMC's server does when mains power returns.
        if let Ok(PowerView {
            restore_policy: Some(policy),
            ..
        }) = &power
        {
            v["PowerRestorePolicy"] = serde_json::json!(policy);
        }
        match node.asset_tag(s, deadline).await {
            Ok(Some(tag)) => v["AssetTag"] = serde_json::json!(tag),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(system = %s.id(), detail = ?e.detail, "asset tag not readable")
            }
        }
        if let Some(inv) = node.inventory(s, deadline).await {
            inv.fill(&mut v);
        }
        if s.is_bmc() {
            boot::fill(node, s, &mut v, deadline).await;
        } else {
            patch::stamp(&mut v);
        }
        Ok(v)
    }
}

impl Ctx<'_> {
    /// Every board's last readings (a metric report's rows), as its
    /// `Sensors` collection reads them.
    async fn rows(&self) -> Result<Vec<(u32, Vec<opendcre_telemetry::LastReading>)>, RedfishError> {
        self.node.rows_of(&self.rack().await?, self.deadline).await
    }

    /// The readings of a chassis: every board's for the rack, one board's
    /// for a board (a 404 when the rack has no such board).
    async fn chassis_rows(
        &self,
        c: ChassisId,
        path: &str,
    ) -> Result<Vec<(u32, Vec<opendcre_telemetry::LastReading>)>, RedfishError> {
        match c {
            ChassisId::Rack => self.rows().await,
            ChassisId::Server(_) => Err(RedfishError::missing(path)),
            ChassisId::Board(b) => {
                let rack = self.rack().await?;
                match self
                    .node
                    .board_readings(b, None, &rack, self.deadline)
                    .await?
                {
                    Some(r) => Ok(vec![(b, r)]),
                    None => Err(RedfishError::missing(path)),
                }
            }
        }
    }

    /// Every `Sensor` of a chassis, as its `Sensors` show them: its boards'
    /// (the rack's, a board's), or a BMC server's from the SDR.
    async fn chassis_sensors(&self, c: ChassisId, path: &str) -> Result<Vec<Value>, RedfishError> {
        match c {
            ChassisId::Server(d) => Ok(self
                .bmc_sensors(d, path)
                .await?
                .iter()
                .map(|v| crate::environment::server_sensor(c, v))
                .collect()),
            _ => Ok(crate::environment::bus_sensors(
                &self.chassis_rows(c, path).await?,
            )),
        }
    }

    /// A system's log services exist while the system does.
    async fn log_owner(&self, owner: LogOwner, path: &str) -> Result<(), RedfishError> {
        match owner {
            LogOwner::System(s) if !self.rack().await?.has_system(s) => {
                Err(RedfishError::missing(path))
            }
            _ => Ok(()),
        }
    }

    /// A board's chassis as a GET shows it, with its LED device (if it has
    /// one) read now as `LocationIndicatorActive` and the `@odata.etag`
    /// of what a `PATCH` may change.
    async fn board(&self, b: u32, path: &str) -> Result<(Value, Option<u16>), RedfishError> {
        let (node, deadline) = (self.node, self.deadline);
        let rack = self.rack().await?;
        if !rack.has_board(b) {
            return Err(RedfishError::missing(path));
        }
        let mut v = resources::board_chassis(b, &rack);
        let c = ChassisId::Board(b);
        chassis_reset::show(c, &chassis_reset::systems(c, &rack), &mut v);
        if let Some(plate) = node.board_identities.get(&b) {
            plate.fill(&mut v);
        }
        node.asset_tags.fill(c, &mut v);
        let led = led::board_led(&rack, b);
        if let Some(device) = led {
            match node.led_on(b, device, deadline).await {
                Ok(on) => patch::show_led(&mut v, on),
                Err(e) => {
                    tracing::warn!(board = b, detail = ?e.detail, "LED not readable")
                }
            }
        }
        patch::stamp(&mut v);
        Ok((v, led))
    }

    /// A network interface of the node: what the OS shows, the settings
    /// of the image's wired network on the interfaces they configure, and
    /// the `@odata.etag` a `PATCH` of them checks.
    fn interface(&self, name: &str, path: &str) -> Result<Value, RedfishError> {
        let i = netif::interfaces()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| RedfishError::missing(path))?;
        let host = netif::host_name();
        let mut v = ethernet::interface(&i, host.as_deref(), &netif::resolver());
        let settings = &self.node.network;
        if settings.interfaces.iter().any(|n| n == name) {
            let applied = settings
                .state
                .as_deref()
                .and_then(network_settings::read_applied);
            network_settings::show(&mut v, applied.as_ref(), settings.writable(name));
        }
        patch::stamp(&mut v);
        Ok(v)
    }

    /// The manager: this node, its label (`ServiceIdentification`, `null`
    /// until given, when labels are kept) and an `@odata.etag` of all but
    /// its clock.
    async fn manager(&self) -> Result<Value, RedfishError> {
        let node = self.node;
        let rack = self.rack().await?;
        let mut v = resources::manager(&node.firmware_version, &now(), node.uuid.as_deref(), &rack);
        if let Some(id) = node.asset_tags.service_identification() {
            v["ServiceIdentification"] = Value::from((!id.is_empty()).then_some(id));
        }
        patch::stamp_steady(&mut v, &["DateTime"]);
        Ok(v)
    }

    /// The rack's chassis: its tree, its configured nameplate, its asset
    /// tag and the `@odata.etag` a `PATCH` of the tag checks.
    async fn rack_chassis(&self) -> Result<Value, RedfishError> {
        let node = self.node;
        let rack = self.rack().await?;
        let mut v = resources::rack_chassis(&node.rack, &rack);
        chassis_reset::show(
            ChassisId::Rack,
            &chassis_reset::systems(ChassisId::Rack, &rack),
            &mut v,
        );
        node.rack_identity.fill(&mut v);
        node.asset_tags.fill(ChassisId::Rack, &mut v);
        patch::stamp(&mut v);
        Ok(v)
    }
}

/// Why the manager takes no `PATCH` on a node that keeps no labels.
const MANAGER_READ_ONLY: &str =
    "ServiceIdentification is kept with the asset tags: [manager] asset_tags is empty on this node.";

const INTERFACE_READ_ONLY: &str = "The node's network settings are written through Redfish only on the interfaces of [manager] network_interfaces, when [manager] network_request is set (the OpenMistOS image).";

/// One `PATCH` at a time: the `If-Match` check, the bus write and the
/// answer's fresh read are one step, so no other `PATCH` slips between a
/// matching tag and the write.
static PATCHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `PATCH` of a bus power device's system (`AssetTag`) or a bus board's
/// chassis (`LocationIndicatorActive`), the resources whose `Allow` has it:
/// 428/412 by `If-Match`, 400 by the body, then the bus write and 200 with
/// the resource as a GET now shows it. A BMC's server (`Boot`) goes to
/// [`boot::patch`]: it carries no ETag (the BMC's boot flags are not ours to
/// version), so no `If-Match` is asked for, and it answers 204.
async fn patch(
    ctx: &Ctx<'_>,
    resource: &Resource,
    req: &RequestHead<'_>,
    body: &[u8],
) -> Result<Answer, RedfishError> {
    let _one = PATCHING.lock().await;
    let path = req.path;
    match resource {
        Resource::Account(name) => {
            let log = &ctx.node.events;
            accounts::patch(ctx.caller, name, req.headers, body, path, log).await
        }
        Resource::SessionService => {
            sessions::patch_service(ctx.caller, req.headers, body, &ctx.node.events).await
        }
        Resource::AccountService => {
            accounts::patch_service(ctx.caller, req.headers, body, &ctx.node.events).await
        }
        Resource::System(s) if s.is_bmc() => {
            boot::patch(ctx.node, *s, body, path, ctx.deadline).await
        }
        // As its system's: no ETag (the BMC's identify state is not ours to
        // version), 204 once the BMC took it.
        Resource::Chassis(ChassisId::Server(d)) => {
            let current = ctx.server_chassis(*d, path).await?;
            let changes = patch::parse(body, &current, patch::LED)?;
            if let Some(on) = patch::led_wish(&changes)? {
                boot::identify(ctx.node, SystemId::bmc(*d), on, ctx.deadline).await?;
            }
            Ok(Answer::no_content())
        }
        Resource::System(s) => {
            let current = ctx.system(*s, path).await?;
            patch::check_if_match(req.headers, etag(&current))?;
            for (_, value) in patch::parse(body, &current, patch::SYSTEM)? {
                let tag = value.as_str().unwrap_or_default();
                ctx.node.write_asset_tag(*s, tag, ctx.deadline).await?;
                tracing::info!(system = %s.id(), asset_tag = ?tag, "AssetTag written");
            }
            Ok(Answer::json(StatusCode::OK, &ctx.system(*s, path).await?))
        }
        Resource::MetricReportDefinition(id) => {
            let current = ctx.read(resource, path).await?;
            patch::check_if_match(req.headers, etag(&current))?;
            // New MetricProperties are checked against the rack and the
            // BMCs they name now.
            let rows = ctx.rows().await?;
            let known =
                crate::report_definitions::known_properties(ctx.node, &rows, body, ctx.deadline)
                    .await?;
            let (n, id, user) = (ctx.node.clone(), id.clone(), ctx.caller.user());
            let body = body.to_vec();
            blocking(move || n.report_definitions.change(&n, &id, &body, &known, &user))
                .await?
                .ok_or_else(|| RedfishError::missing(path))?;
            Ok(Answer::json(
                StatusCode::OK,
                &ctx.read(resource, path).await?,
            ))
        }
        Resource::Subscription(id) => {
            let current = ctx.read(resource, path).await?;
            patch::check_if_match(req.headers, etag(&current))?;
            let writable = ctx.node.event_service.writable(*id);
            let changes = patch::parse(body, &current, writable)?;
            ctx.node
                .event_service
                .change(*id, &changes, &ctx.caller.user())
                .ok_or_else(|| RedfishError::missing(path))?;
            Ok(Answer::json(
                StatusCode::OK,
                &ctx.read(resource, path).await?,
            ))
        }
        Resource::Manager => {
            let current = ctx.manager().await?;
            patch::check_if_match(req.headers, etag(&current))?;
            for (_, value) in patch::parse(body, &current, patch::MANAGER)? {
                let label = value.as_str().unwrap_or_default().to_string();
                let (tags, kept) = (ctx.node.asset_tags.clone(), label.clone());
                blocking(move || {
                    tags.set_service_identification(&kept).map_err(|e| {
                        tracing::error!("ServiceIdentification not kept: {e}");
                        RedfishError::failure(format!("the label could not be kept: {e}"))
                    })
                })
                .await?;
                tracing::info!(service_identification = ?label, user = %ctx.caller.user(), "ServiceIdentification written");
            }
            Ok(Answer::json(StatusCode::OK, &ctx.manager().await?))
        }
        // The node's own network: a request the image carries out, 204
        // before it applies (a new address cuts this connection).
        Resource::EthernetInterface(name) => {
            let current = ctx.interface(name, path)?;
            patch::check_if_match(req.headers, etag(&current))?;
            let host = netif::host_name().unwrap_or_default();
            let change = network_settings::parse(body, &current, &host)?;
            let request = ctx.node.network.request.clone();
            let (log, user) = (ctx.node.events.clone(), ctx.caller.user());
            blocking(move || {
                let path =
                    request.ok_or_else(|| RedfishError::failure("no network request file"))?;
                network_settings::request(&path, &change, &user, &log)
            })
            .await?;
            Ok(Answer::no_content())
        }
        Resource::Chassis(ChassisId::Rack) => {
            let current = ctx.rack_chassis().await?;
            patch::check_if_match(req.headers, etag(&current))?;
            let writable = patch::chassis(ctx.node.asset_tags.kept(), false);
            for (_, value) in patch::parse(body, &current, &writable)? {
                set_asset_tag(ctx, ChassisId::Rack, &value).await?;
            }
            Ok(Answer::json(StatusCode::OK, &ctx.rack_chassis().await?))
        }
        Resource::Chassis(ChassisId::Board(b)) => {
            let (current, led) = ctx.board(*b, path).await?;
            patch::check_if_match(req.headers, etag(&current))?;
            let writable = patch::chassis(ctx.node.asset_tags.kept(), led.is_some());
            let changes = patch::parse(body, &current, &writable)?;
            if let (Some(on), Some(device)) = (patch::led_wish(&changes)?, led) {
                ctx.node.set_led(*b, device, on, ctx.deadline).await?;
                tracing::info!(board = b, device, on, "board LED written");
            }
            for (name, value) in &changes {
                if *name == "AssetTag" {
                    set_asset_tag(ctx, ChassisId::Board(*b), value).await?;
                }
            }
            Ok(Answer::json(StatusCode::OK, &ctx.board(*b, path).await?.0))
        }
        _ => Err(RedfishError::missing(path)),
    }
}

/// Keeps a chassis' asset tag (the parsed body said it is text); the file
/// is written and synced on a blocking thread.
async fn set_asset_tag(ctx: &Ctx<'_>, c: ChassisId, value: &Value) -> Result<(), RedfishError> {
    let tag = value.as_str().unwrap_or_default().to_string();
    let tags = ctx.node.asset_tags.clone();
    let kept = tag.clone();
    blocking(move || {
        tags.set(c, &kept).map_err(|e| {
            tracing::error!(chassis = %c.id(), "asset tag not kept: {e}");
            RedfishError::failure(format!("the asset tag could not be kept: {e}"))
        })
    })
    .await?;
    tracing::info!(chassis = %c.id(), asset_tag = ?tag, "AssetTag written");
    Ok(())
}

fn etag(v: &Value) -> &str {
    v["@odata.etag"].as_str().unwrap_or("")
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

/// The other methods: a reset, a subscription, a test event (POST); a
/// session's logout, a subscription's end (DELETE).
async fn serve(
    node: &Node,
    resource: &Resource,
    method: &Method,
    path: &str,
    body: &[u8],
    deadline: Instant,
    caller: &Caller,
) -> Result<Answer, RedfishError> {
    match resource {
        Resource::AccountCollection => accounts::create(caller, body, &node.events).await,
        Resource::Certificate(id) => {
            let user = caller.user();
            certificates::restore(node.tls.as_ref(), id, path, &user, &node.events).await
        }
        Resource::Account(name) => accounts::delete(caller, name, path, &node.events).await,
        Resource::SystemReset(s) => {
            let reset_type = reset::parse(*s, body)?;
            if !node.rack(deadline).await?.has_system(*s) {
                return Err(RedfishError::missing(path));
            }
            let (done, _) = node
                .reset_recorded(*s, reset_type, &caller.user(), deadline)
                .await;
            done?;
            tracing::info!(system = %s.id(), ?reset_type, "ComputerSystem.Reset done");
            Ok(Answer::no_content())
        }
        Resource::GroupReset => {
            let g = aggregation::parse(body, &node.rack(deadline).await?)?;
            aggregation::start(node, g, &caller.user())
        }
        Resource::ChassisReset(c) => {
            let rack = node.rack(deadline).await?;
            let known = match c {
                ChassisId::Rack => true,
                ChassisId::Board(b) => rack.has_board(*b),
                ChassisId::Server(d) => rack.bmcs.contains(d),
            };
            if !known {
                return Err(RedfishError::missing(path));
            }
            let g = chassis_reset::parse(*c, body, &rack)?;
            aggregation::start_as(node, g, &caller.user(), &format!(" of chassis {}", c.id()))
        }
        Resource::Task(id) | Resource::TaskMonitor(id) => node
            .tasks
            .delete(*id, &caller.user())
            .unwrap_or_else(|| Err(RedfishError::missing(path))),
        Resource::AggregateCollection | Resource::Aggregate(_) | Resource::AggregateAction(..) => {
            aggregate(node, resource, path, body, deadline, caller).await
        }
        Resource::MetricReportDefinitionCollection => {
            // Its MetricProperties are checked against the rack and the
            // BMCs they name now.
            let rows = node.rows(deadline).await?;
            let known =
                crate::report_definitions::known_properties(node, &rows, body, deadline).await?;
            let (n, body, user) = (node.clone(), body.to_vec(), caller.user());
            blocking(move || n.report_definitions.create(&n, &body, &rows, &known, &user)).await
        }
        Resource::MetricReportDefinition(id) => {
            let (defs, id, user) = (node.report_definitions.clone(), id.clone(), caller.user());
            match blocking(move || defs.delete(&id, &user)).await? {
                true => Ok(Answer::no_content()),
                false => Err(RedfishError::missing(path)),
            }
        }
        Resource::ClearLog(owner) => {
            if !body.is_empty()
                && serde_json::from_slice::<serde_json::Map<String, Value>>(body).is_err()
            {
                return Err(RedfishError::new(
                    StatusCode::BAD_REQUEST,
                    BaseMessage::MalformedJSON,
                    &[],
                ));
            }
            match owner {
                LogOwner::System(s) => {
                    if !node.rack(deadline).await?.has_system(*s) {
                        return Err(RedfishError::missing(path));
                    }
                    if s.is_bmc() {
                        node.ipmi.clear_sel(s.device).await.map_err(|e| {
                            RedfishError::failure(format!("clearing the SEL failed: {e}"))
                        })?;
                        node.events.record(opendcre_eventlog::Event::sel_cleared(
                            &caller.user(),
                            &s.id(),
                        ));
                    } else {
                        node.events.clear_system(&s.id(), &caller.user());
                    }
                    tracing::info!(system = %s.id(), user = ?caller.user(), "LogService.ClearLog done");
                }
                LogOwner::Manager => {
                    node.events.clear(&caller.user());
                    tracing::info!(user = ?caller.user(), "event log cleared");
                }
            }
            Ok(Answer::no_content())
        }
        Resource::Session(id) => sessions::member(caller, method, id, path),
        Resource::SubscriptionCollection => node.event_service.create(body, &caller.user()),
        Resource::Subscription(id) => {
            if node.event_service.delete(*id, &caller.user()) {
                Ok(Answer::no_content())
            } else {
                Err(RedfishError::missing(path))
            }
        }
        Resource::SubmitTestEvent => node.event_service.submit_test_event(body),
        Resource::SimpleUpdate => crate::simple_update::start(&node.update, body, &caller.user()),
        Resource::ManagerReset => crate::manager_reset::reset(
            node.reboot_request.as_deref(),
            body,
            &caller.user(),
            &node.events,
        ),
        Resource::ReplaceCertificate => {
            crate::certificates::replace(node.tls.as_ref(), body, &caller.user(), &node.events)
                .await
        }
        Resource::GenerateCsr => {
            crate::csr::generate(node.tls.as_ref(), body, &caller.user(), &node.events).await
        }
        _ => Err(RedfishError::missing(path)),
    }
}

/// A change to the kept groups, or a group's reset. The group file is
/// written and synced on a blocking thread.
async fn aggregate(
    node: &Node,
    resource: &Resource,
    path: &str,
    body: &[u8],
    deadline: Instant,
    caller: &Caller,
) -> Result<Answer, RedfishError> {
    let user = caller.user();
    if let Resource::Aggregate(id) = resource {
        let (groups, id) = (node.aggregates.clone(), *id);
        return match blocking(move || groups.delete(id, &user)).await? {
            true => Ok(Answer::no_content()),
            false => Err(RedfishError::missing(path)),
        };
    }
    let rack = node.rack(deadline).await?;
    match resource {
        Resource::AggregateAction(id, AggregateAction::Reset) => {
            let (g, of) = node
                .aggregates
                .reset(*id, body, &rack)?
                .ok_or_else(|| RedfishError::missing(path))?;
            aggregation::start_as(node, g, &user, &of)
        }
        Resource::AggregateAction(id, AggregateAction::SetDefaultBootOrder) => {
            let servers = node
                .aggregates
                .boot_members(*id, body, &rack)?
                .ok_or_else(|| RedfishError::missing(path))?;
            boot::default_order(node, &servers, &user, deadline).await
        }
        Resource::AggregateAction(id, action) => {
            let (groups, id, action, body) = (node.aggregates.clone(), *id, *action, body.to_vec());
            blocking(move || groups.change(id, action, &body, &rack, &user))
                .await?
                .ok_or_else(|| RedfishError::missing(path))
        }
        _ => {
            let (groups, body) = (node.aggregates.clone(), body.to_vec());
            blocking(move || groups.create(&body, &rack, &user)).await
        }
    }
}

/// Runs `f` (file writes with fsync) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RedfishError> + Send + 'static,
) -> Result<T, RedfishError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(RedfishError::failure(format!(
            "the write did not finish: {e}"
        )))
    })
}

/// The node's clock, UTC, to the second.
pub(crate) fn now() -> String {
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
}
