//! The IPMI bridge the REST API calls: the configured BMCs as devices of board
//! `40000000`, and power/asset operations on them.
//!
//! Each operation opens a session, does its work and closes the session. It
//! runs as its own tokio task so that a client hanging up mid-request cannot
//! abandon a power cycle half way (off but never on again) or leak a session,
//! and it never touches the serial bus. Operations on one BMC are serialised by
//! a per-BMC async mutex (BMCs have few session slots and interleaved chassis
//! control makes no sense); different BMCs proceed concurrently. Every step has
//! a timeout with bounded retransmission, and every operation has an overall
//! time budget on top.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;

use super::boot::{BootChange, BootFlags};
use super::commands::{ChassisControl, ChassisPower, DeviceId};
use super::config::BmcConfig;
use super::error::IpmiError;
use super::fru::FruInfo;
use super::ops;
use super::sel_log::{self, SelLog, SelRead};
use super::session::Session;
use super::transport::{Exchange, Transport, Verdict};
use super::wire::{preview, rmcp};
use opendcre_proto::PowerAction;

/// Upper bound on the requests of one session besides polling and FRU reads:
/// capabilities, challenge/open, activate/RAKP1, privilege/RAKP3, privilege,
/// control, status, close — with headroom.
const SESSION_REQUESTS: u32 = 12;
/// Extra time an asset read may take for its FRU requests on top of a session:
/// real FRUs need a handful of 32-byte reads; this caps a BMC that drips.
const FRU_READ_BUDGET: Duration = Duration::from_secs(20);

/// Reading a record store, the SEL or the SDR repository: one request per
/// record or piece (the SDR at most [`ops::MAX_SDR_RECORDS`]); a LAN BMC
/// answers each in milliseconds. A SEL walk that takes longer stops and
/// goes on at the next read.
const RECORDS_READ_BUDGET: Duration = Duration::from_secs(20);

/// A configured BMC as the scan and info endpoints list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BmcDevice {
    pub device_id: u16,
    pub ip: String,
    pub port: u16,
    pub interface: &'static str,
    pub asset_info: Option<String>,
}

/// Asset information of one BMC: the configured text plus what the BMC itself
/// reports (Get Device ID, FRU 0) when it can be read.
#[derive(Debug, Clone, Serialize)]
pub struct AssetInfo {
    pub device_id: u16,
    pub bmc_ip: String,
    pub bmc_port: u16,
    pub asset_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bmc: Option<DeviceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fru: Option<FruInfo>,
    /// The server's UUID (Get System GUID), when the BMC has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_guid: Option<String>,
    /// Why `bmc`/`fru` are missing, if they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_error: Option<String>,
}

struct Slot {
    cfg: BmcConfig,
    lock: Mutex<()>,
    /// The last SDR walk and when it ended; its lock makes callers that
    /// come during a walk wait for it instead of starting their own.
    sensors: Mutex<Option<(tokio::time::Instant, Arc<Vec<crate::sdr::SensorValue>>)>>,
    /// The newest SEL records read and where the last walk stopped.
    sel: std::sync::Mutex<SelLog>,
}

/// A BMC's sensor readings at most this old are served again: one
/// `$expand` of its `Sensors`, or a client reading `Thermal`, `Power` and
/// `Sensors` in turn, costs one SDR walk (tens of IPMI requests) rather
/// than one per resource. Short enough that a reading is still news.
const SENSORS_MAX_AGE: Duration = Duration::from_secs(2);

/// Cheap to clone; all clones share the BMC table and the per-BMC locks.
#[derive(Clone)]
pub struct IpmiBridge {
    slots: Arc<HashMap<u16, Arc<Slot>>>,
    /// Device ids in configuration order, for scans.
    order: Arc<Vec<u16>>,
}

impl std::fmt::Debug for IpmiBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpmiBridge")
            .field("devices", &self.order)
            .finish()
    }
}

impl IpmiBridge {
    /// Builds the bridge. Device ids should be unique (the config loaders enforce
    /// it); if not, the first entry wins and the others are logged and dropped.
    pub fn new(bmcs: Vec<BmcConfig>) -> Self {
        let mut slots = HashMap::new();
        let mut order = Vec::new();
        for cfg in bmcs {
            if slots.contains_key(&cfg.device_id) {
                tracing::error!(device_id = format!("{:04x}", cfg.device_id), bmc = %cfg.address(),
                    "duplicate IPMI device id; this BMC entry is ignored");
                continue;
            }
            warn_if_weak(&cfg);
            order.push(cfg.device_id);
            slots.insert(
                cfg.device_id,
                Arc::new(Slot {
                    cfg,
                    lock: Mutex::new(()),
                    sensors: Mutex::new(None),
                    sel: std::sync::Mutex::new(SelLog::default()),
                }),
            );
        }
        IpmiBridge {
            slots: Arc::new(slots),
            order: Arc::new(order),
        }
    }

    /// The configured BMCs, in configuration order.
    pub fn devices(&self) -> Vec<BmcDevice> {
        self.order
            .iter()
            .map(|id| {
                let c = &self.slots[id].cfg;
                BmcDevice {
                    device_id: c.device_id,
                    ip: c.ip.clone(),
                    port: c.port,
                    interface: c.interface.name(),
                    asset_info: c.asset_info.clone(),
                }
            })
            .collect()
    }

    /// Whether `device_id` is a configured BMC (v1.1 sends other ids on the IPMI
    /// board to the serial bus; spec §9 item 18).
    pub fn contains(&self, device_id: u16) -> bool {
        self.slots.contains_key(&device_id)
    }

    /// Power status/on/off/cycle (spec §2.3): `on`/`off` wait up to the BMC's
    /// `power_wait` for the new state, `cycle` is off then on.
    pub async fn power(
        &self,
        device_id: u16,
        action: PowerAction,
    ) -> Result<ChassisPower, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg) + slot.cfg.power_wait * 2;
        run(slot, budget, move |s, cfg| {
            Box::pin(async move { ops::power(s, action, cfg.power_wait).await })
        })
        .await
    }

    /// Any Chassis Control action (hard reset, soft shutdown, the BMC's own power
    /// cycle, …), reporting the chassis status right after it. For `PowerUp` and
    /// `PowerDown` this waits like [`IpmiBridge::power`].
    pub async fn control(
        &self,
        device_id: u16,
        control: ChassisControl,
    ) -> Result<ChassisPower, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg) + slot.cfg.power_wait;
        run(slot, budget, move |s, cfg| {
            Box::pin(async move {
                match control {
                    ChassisControl::PowerUp => ops::power(s, PowerAction::On, cfg.power_wait).await,
                    ChassisControl::PowerDown => {
                        ops::power(s, PowerAction::Off, cfg.power_wait).await
                    }
                    other => ops::control(s, other).await,
                }
            })
        })
        .await
    }

    /// Turns the chassis identify light on (indefinitely, or for the
    /// longest interval when the BMC has no "force on"; `Some(secs)` then)
    /// or off.
    pub async fn identify(&self, device_id: u16, on: bool) -> Result<Option<u8>, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg) + slot.cfg.request_budget();
        run(slot, budget, move |s, _| {
            Box::pin(ops::chassis_identify(s, on))
        })
        .await
    }

    /// The boot flags (boot override) of the BMC's host: Get System Boot
    /// Options parameter 5.
    pub async fn boot_flags(&self, device_id: u16) -> Result<BootFlags, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg);
        run(slot, budget, |s, _| Box::pin(ops::boot_flags(s))).await
    }

    /// Changes the boot flags: read, apply `change`, write, under the
    /// set-in-progress lock of the spec when the BMC has it, all in one
    /// session under the BMC's lock. Returns the flags written.
    pub async fn set_boot_flags(
        &self,
        device_id: u16,
        change: BootChange,
    ) -> Result<BootFlags, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg) + slot.cfg.request_budget() * 4;
        run(slot, budget, move |s, _| {
            Box::pin(ops::update_boot_flags(s, change))
        })
        .await
    }

    /// Get Device ID of the BMC.
    pub async fn device_info(&self, device_id: u16) -> Result<DeviceId, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg);
        run(slot, budget, |s, _| Box::pin(ops::device_id(s))).await
    }

    /// Asset information: the configured `asset_info` and address always (as in
    /// v1.1, which never asked the BMC), plus Get Device ID, Get System GUID and
    /// FRU 0 when the BMC answers. A BMC that cannot be read is reported in
    /// `inventory_error`, not as an error, so the info endpoint keeps working
    /// with a BMC down. Only an unknown device id is an error.
    pub async fn asset(&self, device_id: u16) -> Result<AssetInfo, IpmiError> {
        let slot = self.slot(device_id)?;
        let cfg = &slot.cfg;
        let mut info = AssetInfo {
            device_id,
            bmc_ip: cfg.ip.clone(),
            bmc_port: cfg.port,
            asset_info: cfg.asset_info.clone(),
            bmc: None,
            fru: None,
            system_guid: None,
            inventory_error: None,
        };
        let budget = session_budget(cfg) + FRU_READ_BUDGET;
        let order = cfg.guid_order;
        let read = run(slot.clone(), budget, move |s, _| {
            Box::pin(async move {
                let dev = ops::device_id(s).await?;
                let guid = ops::system_guid(s, order).await;
                let fru = ops::read_fru(s, 0).await;
                Ok((dev, guid, fru))
            })
        })
        .await;
        match read {
            Ok((dev, guid, fru)) => {
                info.bmc = Some(dev);
                match guid {
                    Ok(g) => info.system_guid = g,
                    // A BMC that answers the rest is still inventoried.
                    Err(e) => {
                        tracing::warn!(bmc = %slot.cfg.address(), error = %e, "system GUID not readable")
                    }
                }
                match fru {
                    Ok(f) => info.fru = Some(f),
                    Err(e) => info.inventory_error = Some(e.to_string()),
                }
            }
            Err(e) => info.inventory_error = Some(e.to_string()),
        }
        Ok(info)
    }

    /// The System Event Log: its newest records (at most
    /// [`sel_log::KEPT`]), read in one session under the BMC's lock; only
    /// the records added since the last read are asked for.
    pub async fn sel(&self, device_id: u16) -> Result<SelRead, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg) + RECORDS_READ_BUDGET;
        let kept = slot.clone();
        run(slot, budget, move |s, _| {
            Box::pin(async move {
                let until = tokio::time::Instant::now() + RECORDS_READ_BUDGET;
                sel_log::read_sel(s, &kept.sel, until).await
            })
        })
        .await
    }

    /// One SEL record by id (`None`: the BMC has none with that id).
    pub async fn sel_entry(
        &self,
        device_id: u16,
        record_id: u16,
    ) -> Result<Option<crate::sel::SelRecord>, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg);
        run(slot, budget, move |s, _| {
            Box::pin(async move { Ok(ops::get_sel_entry(s, record_id).await?.map(|(_, r)| r)) })
        })
        .await
    }

    /// The BMC's analog sensors (SDR repository) with their readings, in
    /// one session under the BMC's lock; a walk that ended less than
    /// [`SENSORS_MAX_AGE`] ago is served again (a failed one is not kept).
    pub async fn sensors(
        &self,
        device_id: u16,
    ) -> Result<Arc<Vec<crate::sdr::SensorValue>>, IpmiError> {
        let slot = self.slot(device_id)?;
        let mut last = slot.sensors.lock().await;
        if let Some((at, v)) = &*last {
            if at.elapsed() < SENSORS_MAX_AGE {
                return Ok(v.clone());
            }
        }
        let budget = session_budget(&slot.cfg) + RECORDS_READ_BUDGET;
        let v = Arc::new(run(slot.clone(), budget, |s, _| Box::pin(ops::read_sensors(s))).await?);
        *last = Some((tokio::time::Instant::now(), v.clone()));
        Ok(v)
    }

    /// The BMC's SEL clock (Get SEL Time), Unix seconds.
    pub async fn sel_time(&self, device_id: u16) -> Result<u32, IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg);
        run(slot, budget, |s, _| Box::pin(ops::sel_time(s))).await
    }

    /// Erases the SEL (Reserve SEL, Clear SEL, status polls).
    pub async fn clear_sel(&self, device_id: u16) -> Result<(), IpmiError> {
        let slot = self.slot(device_id)?;
        let budget = session_budget(&slot.cfg) + slot.cfg.request_budget() * 10;
        let kept = slot.clone();
        run(slot, budget, move |s, _| {
            Box::pin(async move {
                ops::clear_sel(s).await?;
                // Not left to the erase time, which has a second's grain.
                sel_log::forget(&kept.sel);
                Ok(())
            })
        })
        .await
    }

    /// RMCP/ASF presence ping: is something speaking RMCP at the BMC's address?
    /// Needs no credentials and opens no session.
    pub async fn ping(&self, device_id: u16) -> Result<rmcp::Pong, IpmiError> {
        let slot = self.slot(device_id)?;
        let cfg = &slot.cfg;
        let mut t =
            Transport::connect(&cfg.ip, cfg.port, cfg.address(), cfg.timeout, cfg.retries).await?;
        let tag = super::wire::crypto::random_bytes::<1>()[0] & 0x7F;
        t.exchange("RMCP presence ping", &mut Ping { tag }).await
    }

    fn slot(&self, device_id: u16) -> Result<Arc<Slot>, IpmiError> {
        self.slots
            .get(&device_id)
            .cloned()
            .ok_or(IpmiError::UnknownDevice(device_id))
    }
}

/// Says so in the log when a BMC is configured without real authentication.
fn warn_if_weak(cfg: &BmcConfig) {
    use super::config::{AuthType, Interface};
    let why = match (cfg.interface, cfg.auth, cfg.cipher_suite) {
        (Interface::LanPlus, _, 0) => "RMCP+ cipher suite 0 does not check the password at all",
        (Interface::Lan, AuthType::None, _) => {
            "IPMI v1.5 auth type NONE does not check the password"
        }
        (Interface::Lan, AuthType::Password, _) => {
            "IPMI v1.5 straight-password auth sends the password in clear"
        }
        _ => return,
    };
    tracing::warn!(device_id = format!("{:04x}", cfg.device_id), bmc = %cfg.address(), "{why}");
}

/// Worst case of opening, using and closing a session without polling.
fn session_budget(cfg: &BmcConfig) -> Duration {
    cfg.request_budget() * SESSION_REQUESTS
}

type OpFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, IpmiError>> + Send + 'a>>;

/// Runs `op` in a fresh session on its own task, under the BMC's lock and within
/// `budget` (lock wait excluded: it is bounded by the holder's own budget).
async fn run<T, F>(slot: Arc<Slot>, budget: Duration, op: F) -> Result<T, IpmiError>
where
    T: Send + 'static,
    F: for<'a> FnOnce(&'a mut Session, &'a BmcConfig) -> OpFuture<'a, T> + Send + 'static,
{
    let task = tokio::spawn(async move {
        let _guard = slot.lock.lock().await;
        let cfg = &slot.cfg;
        let work = async {
            let mut session = Session::open(cfg).await?;
            let result = op(&mut session, cfg).await;
            session.close().await;
            result
        };
        match tokio::time::timeout(budget, work).await {
            Ok(r) => r,
            Err(_) => Err(IpmiError::Deadline {
                bmc: cfg.address(),
                budget,
            }),
        }
    });
    task.await
        .map_err(|e| IpmiError::Internal(format!("IPMI operation task failed: {e}")))?
}

struct Ping {
    tag: u8,
}

impl Exchange for Ping {
    type Output = rmcp::Pong;

    fn packet(&mut self, _attempt: u32) -> Vec<u8> {
        rmcp::encode_ping(self.tag)
    }

    fn accept(&mut self, d: &[u8]) -> Verdict<rmcp::Pong> {
        match rmcp::decode_pong(d) {
            Ok(p) if p.tag == self.tag => Verdict::Accept(p),
            Ok(p) => Verdict::Ignore(format!("pong for tag {}, sent {}", p.tag, self.tag)),
            Err(e) => Verdict::Ignore(format!("{e} ({})", preview(d))),
        }
    }
}

const _: () = {
    // The bridge is shared across request handlers.
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<IpmiBridge>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthType;

    fn bridge() -> IpmiBridge {
        let mut a = BmcConfig::lan(1, "127.0.0.1", "u", "p", AuthType::Md5);
        a.asset_info = Some("rack 1".into());
        let b = BmcConfig::lanplus(0x1f, "bmc.example", "u", "p", 3);
        let dup = BmcConfig::lan(1, "10.9.9.9", "u", "p", AuthType::None);
        IpmiBridge::new(vec![a, b, dup])
    }

    #[test]
    fn devices_follow_config_order() {
        let br = bridge();
        let d = br.devices();
        assert_eq!(d.len(), 2, "the duplicate id is dropped");
        assert_eq!(
            (d[0].device_id, d[0].ip.as_str(), d[0].interface),
            (1, "127.0.0.1", "lan")
        );
        assert_eq!((d[1].device_id, d[1].interface), (0x1f, "lanplus"));
        assert!(br.contains(0x1f) && !br.contains(2));
    }

    #[tokio::test]
    async fn unknown_device_is_an_error_without_network() {
        let br = bridge();
        let e = br.power(7, PowerAction::Status).await.unwrap_err();
        assert!(matches!(e, IpmiError::UnknownDevice(7)));
        assert!(br.asset(7).await.is_err());
        assert!(br.boot_flags(7).await.is_err());
        assert!(br.set_boot_flags(7, BootChange::default()).await.is_err());
    }
}
