//! The IPMI pseudo-board `40000000` of the v1.1 API: configured BMCs appear as
//! `power` devices on it.

use serde_json::Value;
use tokio::time::Instant;

use super::error::ApiError;
use crate::proto::board_id::fmt_device;
use crate::proto::PowerAction;

/// The BMCs behind board 40000000.
#[derive(Default)]
pub struct IpmiBoard {
    device_ids: Vec<u16>,
}

impl IpmiBoard {
    /// A board without BMCs: scans still list it, as v1.1 did.
    pub fn empty() -> Self {
        IpmiBoard::default()
    }

    pub fn device_ids(&self) -> Vec<u16> {
        self.device_ids.clone()
    }

    fn unknown(&self, device: u16) -> ApiError {
        ApiError::failure(format!(
            "no BMC with device id {} is configured on the IPMI board 40000000",
            fmt_device(device)
        ))
    }

    pub async fn info(&self, device: u16, _deadline: Instant) -> Result<Value, ApiError> {
        Err(self.unknown(device))
    }

    pub async fn power(
        &self,
        device: u16,
        _action: PowerAction,
        _deadline: Instant,
    ) -> Result<Value, ApiError> {
        Err(self.unknown(device))
    }
}
