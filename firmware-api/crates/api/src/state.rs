//! What every handler can reach: the bus handle, the IPMI board, settings.

use std::time::Duration;

use super::ipmi_board::IpmiBoard;
use opendcre_bus::BusHandle;

pub struct AppState {
    pub bus: BusHandle,
    pub ipmi: IpmiBoard,
    /// Sense resistor for PMBus current and power, milliohms.
    pub r_sense: f64,
    /// Bound for one request, bus time included.
    pub request_timeout: Duration,
}
