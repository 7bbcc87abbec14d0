//! The IPMI pseudo-board `40000000` of the v1.1 API: configured BMCs appear as
//! `power` devices on it. BMC operations run in the IPMI bridge's own tasks,
//! never on the device-bus queue.

use std::future::Future;

use serde_json::Value;
use tokio::time::Instant;

use super::error::ApiError;
use opendcre_ipmi::{AssetInfo, ChassisPower, IpmiBridge, IpmiError};
use opendcre_proto::board_id::{fmt_board, fmt_device, IPMI};
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
    /// Every BMC is a `power` device of the board, present even with no BMCs
    /// (spec §2.3).
    pub fn record(&self) -> Value {
        let devices: Vec<Value> = self
            .bridge
            .devices()
            .iter()
            .map(|d| serde_json::json!({"device_id": fmt_device(d.device_id), "device_type": "power"}))
            .collect();
        serde_json::json!({"board_id": fmt_board(IPMI), "devices": devices})
    }

    /// `read/power/40000000/<d>/info`: configured asset text, BMC address and
    /// the FRU inventory when the BMC answers.
    pub async fn info(&self, device: u16, deadline: Instant) -> Result<Value, ApiError> {
        let info = within(deadline, "asset", self.bridge.asset(device)).await?;
        Ok(asset_json(&info))
    }

    /// `power/<action>/40000000/<d>` through a full IPMI session.
    pub async fn power(
        &self,
        device: u16,
        action: PowerAction,
        deadline: Instant,
    ) -> Result<Value, ApiError> {
        let power = within(deadline, "power", self.bridge.power(device, action)).await?;
        Ok(power_json(&power))
    }
}

/// Runs one bridge operation within the request's deadline; a BMC error or
/// the deadline is the v1.1 500 with a message naming the `what`.
async fn within<T>(
    deadline: Instant,
    what: &str,
    work: impl Future<Output = Result<T, IpmiError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::failure(e.to_string())),
        Err(_) => Err(ApiError::failure(format!("IPMI {what} request timed out"))),
    }
}

/// The v1.1 `read/power/40000000/<d>/info` body (spec §2.3): `board_id`,
/// `device_id`, `asset_info` (configured text, `""` if none), `bmc_ip`, plus
/// `fru`/`bmc_device` or `inventory_error` (extra keys; v1.1 clients ignore them).
fn asset_json(a: &AssetInfo) -> Value {
    let mut v = serde_json::json!({
        "board_id": fmt_board(IPMI),
        "device_id": fmt_device(a.device_id),
        "asset_info": a.asset_info.clone().unwrap_or_default(),
        "bmc_ip": a.bmc_ip,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(f) = a.fru.as_ref().and_then(|f| serde_json::to_value(f).ok()) {
            obj.insert("fru".into(), f);
        }
        if let Some(b) = a.bmc.as_ref().and_then(|b| serde_json::to_value(b).ok()) {
            obj.insert("bmc_device".into(), b);
        }
        if let Some(e) = &a.inventory_error {
            obj.insert("inventory_error".into(), e.clone().into());
        }
    }
    v
}

/// The v1.1 power answer of the IPMI board (spec §2.3): `pmbus_raw` is the
/// integer 0, the PMBus readings are 0, `under_voltage` false — a BMC has no
/// PMBus data to give.
fn power_json(p: &ChassisPower) -> Value {
    serde_json::json!({
        "pmbus_raw": 0,
        "power_status": p.power_status(),
        "power_ok": p.power_ok,
        "over_current": p.over_current,
        "under_voltage": false,
        "input_power": 0,
        "input_voltage": 0,
        "output_current": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_ipmi::{AuthType, BmcConfig};

    #[test]
    fn scan_record_follows_config_order() {
        let a = BmcConfig::lan(1, "127.0.0.1", "u", "p", AuthType::None);
        let mut b = BmcConfig::lan(0x1f, "127.0.0.2", "u", "p", AuthType::None);
        b.interface = opendcre_ipmi::Interface::LanPlus;
        let board = IpmiBoard::new(IpmiBridge::new(vec![a, b]));
        assert_eq!(
            board.record(),
            serde_json::json!({"board_id": "40000000", "devices": [
                {"device_id": "0001", "device_type": "power"},
                {"device_id": "001f", "device_type": "power"}]})
        );
        assert_eq!(
            IpmiBoard::empty().record(),
            serde_json::json!({"board_id": "40000000", "devices": []})
        );
    }

    #[test]
    fn asset_answer() {
        let a = AssetInfo {
            device_id: 1,
            bmc_ip: "10.0.0.5".into(),
            bmc_port: 623,
            asset_info: Some("example BMC".into()),
            bmc: None,
            fru: None,
            system_guid: None,
            inventory_error: Some("IPMI BMC 10.0.0.5:623: …".into()),
        };
        let v = asset_json(&a);
        assert_eq!(v["board_id"], "40000000");
        assert_eq!(v["device_id"], "0001");
        assert_eq!(v["asset_info"], "example BMC");
        assert_eq!(v["bmc_ip"], "10.0.0.5");
        assert!(v.get("fru").is_none());
        assert!(v["inventory_error"]
            .as_str()
            .unwrap()
            .starts_with("IPMI BMC"));
    }

    #[test]
    fn power_answer() {
        let status = opendcre_ipmi::ChassisStatus::decode(&[0x01, 0x00, 0x00]).unwrap();
        let p = ChassisPower::from_status(status, true);
        assert_eq!(
            power_json(&p),
            serde_json::json!({"pmbus_raw": 0, "power_status": "on", "power_ok": true,
                "over_current": false, "under_voltage": false, "input_power": 0,
                "input_voltage": 0, "output_current": 0})
        );
    }
}
