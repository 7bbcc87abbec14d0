//! The node's Redfish service (DMTF DSP0266; the OCP OpenRMC profile is
//! the target, docs/redfish.md says how far it goes).
//!
//! ```text
//! api::server (admission, TLS, auth, browser policy)
//!   └─► route::route (path → Resource; permission, Allow, public or not)
//!         └─► handler::handle ─► Node (BusHandle, same jobs and conversions as v1.1) ─► bus actor
//! ```
//!
//! Below the HTTP server: this crate sees a method, a path, a body and
//! answers with an [`Answer`] made of `http`'s types. [`route`] is where a
//! Redfish URI becomes a [`Resource`]; [`answer`] holds the protocol
//! headers and the Base registry error bodies; `metadata` the version
//! object, `$metadata` and the OData service document; `resources` the
//! payloads as pure functions; `sensors` a board's sensors (telemetry
//! cache or live reads); `environment` a chassis' `Thermal` and `Power`
//! made from those sensors; `power` a system's power state, resets and asset
//! tag (bus power device or BMC); `reset` the `ComputerSystem.Reset` body;
//! `sessions` login, the session resources and logout; `accounts` the
//! account service (local accounts, roles, LDAP as a provider); `query`
//! `$filter`/`$expand`/`$select`/`$top`/`$skip`/`only` (`filter` the
//! `$filter` expressions); `patch` a system's `PATCH` (body,
//! `If-Match`, `ETag`); `led` a board's identify LED; `boot` the boot
//! override of a BMC's server (IPMI boot flags); `registries` the message
//! registries the error answers use; `network` the manager's network
//! protocols (the node's listeners); `netif` the node's network interfaces
//! as the OS shows them (sysfs, procfs, `getifaddrs`, resolv.conf) and
//! `ethernet` them as the manager's `EthernetInterfaces`; `logs` the log
//! services (the node's event log, a BMC's SEL); `events` the event
//! service (subscriptions, SSE streams), `eventfilter` which events a
//! subscriber takes and `http_client` their delivery over HTTP (and `SimpleUpdate`'s download); `reports`
//! the telemetry service (the rack's readings as a metric report);
//! `manager_reset` the node's own restart (`Manager.Reset`); `certificates`
//! its HTTPS certificate and the `CertificateService` that replaces it.

mod accounts;
mod aggregates;
mod aggregation;
pub mod answer;
mod boot;
mod certificates;
mod chassis_identity;
mod chassis_reset;
mod csr;
mod environment;
mod ethernet;
mod eventfilter;
mod events;
mod filter;
mod firmware;
mod handler;
mod http_client;
mod identity;
mod led;
mod logs;
mod manager_reset;
mod metadata;
mod netif;
mod network;
mod network_settings;
mod node;
mod patch;
mod power;
mod query;
mod rauc;
mod registries;
mod report_definitions;
mod reports;
mod reset;
mod resources;
pub mod route;
mod sensors;
mod sessions;
mod simple_update;
mod state_file;
mod subsystems;
mod tasks;
mod update;

pub use accounts::account_uri;
pub use aggregates::{AggregateAction, Aggregates};
pub use answer::{Answer, BaseMessage, RedfishError, ODATA_VERSION};
pub use chassis_identity::{AssetTags, RackIdentity};
pub use events::{sse_uri, EventService, EventSettings, SseNext, SseStream};
pub use handler::{handle, RequestHead};
pub use identity::service_uuid;
pub use network::NetworkProtocols;
pub use network_settings::NetworkSettings;
pub use node::Node;
pub use report_definitions::ReportDefinitions;
pub use route::{route, LogOwner, RedfishRole, Resource};
pub use sessions::Caller;
pub use tasks::Tasks;
pub use update::{multipart_uri, upload_uri, UpdateSettings, UpdateSlot, Updater};
