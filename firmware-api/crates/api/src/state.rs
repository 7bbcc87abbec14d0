//! What every handler can reach: the bus handle, the IPMI board, settings.

use std::sync::Arc;
use std::time::Duration;

use super::ipmi_board::IpmiBoard;
use opendcre_bus::BusHandle;
use opendcre_redfish::Node as RedfishNode;
use opendcre_security::auth::Permission;
use opendcre_telemetry::{IpNet, Telemetry};

pub struct AppState {
    pub bus: BusHandle,
    pub ipmi: IpmiBoard,
    /// Sense resistor for PMBus current and power, milliohms.
    pub r_sense: f64,
    /// Bound for one request, bus time included.
    pub request_timeout: Duration,
    /// The poller's cache and the metrics; `None` when `[telemetry]` is
    /// off, and the telemetry routes then answer 404.
    pub telemetry: Option<Arc<Telemetry>>,
    /// What `/metrics` needs (`[telemetry] metrics_role`).
    pub metrics_permission: Permission,
    /// Networks whose requests without credentials may scrape `/metrics`
    /// (`[telemetry] metrics_anonymous_networks`).
    pub metrics_anonymous: Vec<IpNet>,
    /// What the Redfish service reads: the same bus handle, rack name and
    /// build identity (`/redfish`, crates/redfish).
    pub redfish: RedfishNode,
}
