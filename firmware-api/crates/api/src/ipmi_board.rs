//! The IPMI pseudo-board `40000000` of the v1.1 API: configured BMCs appear as
//! `power` devices on it. BMC operations run in the IPMI bridge's own tasks,
//! never on the device-bus queue.

use serde_json::Value;
use tokio::time::Instant;

use super::error::ApiError;
use opendcre_ipmi::IpmiBridge;
use opendcre_proto::PowerAction;

/// The BMCs behind board 40000000.
pub struct IpmiBoard {
    bridge: IpmiBridge,
}

impl IpmiBoard {
    pub fn new(bridge: IpmiBridge) -> Self {
        IpmiBoard { bridge }
    }

    /// A board without BMCs: scans still list it, as v1.1 did.
    pub fn empty() -> Self {
        IpmiBoard {
            bridge: IpmiBridge::new(Vec::new()),
        }
    }

    /// `{"board_id": "40000000", "devices": [...]}` for scans.
    pub fn record(&self) -> Value {
        self.bridge.scan_board()
    }

    /// `read/power/40000000/<d>/info`: configured asset text, BMC address and
    /// the FRU inventory when the BMC answers.
    pub async fn info(&self, device: u16, deadline: Instant) -> Result<Value, ApiError> {
        let work = self.bridge.asset(device);
        match tokio::time::timeout_at(deadline, work).await {
            Ok(Ok(info)) => Ok(info.v11_json()),
            Ok(Err(e)) => Err(ApiError::failure(e.to_string())),
            Err(_) => Err(ApiError::failure("IPMI asset request timed out")),
        }
    }

    /// `power/<action>/40000000/<d>` through a full IPMI session.
    pub async fn power(
        &self,
        device: u16,
        action: PowerAction,
        deadline: Instant,
    ) -> Result<Value, ApiError> {
        let work = self.bridge.power(device, action);
        match tokio::time::timeout_at(deadline, work).await {
            Ok(Ok(p)) => Ok(p.v11_json()),
            Ok(Err(e)) => Err(ApiError::failure(e.to_string())),
            Err(_) => Err(ApiError::failure("IPMI power request timed out")),
        }
    }
}
