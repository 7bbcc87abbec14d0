//! A computer system's power: its state, its resets, its asset tag and (for
//! a BMC's server) its FRU inventory,
//! each through the job the v1.1 API runs for the same device — a bus
//! power command with the PMBus conversion, or the IPMI bridge of the v1.1
//! IPMI board — so both APIs answer the same at the same moment.

use std::future::Future;

use opendcre_bus::Request;
use opendcre_ipmi::{ChassisControl, ChassisPower, IpmiError};
use opendcre_proto::board_id::{fmt_board, fmt_device};
use opendcre_proto::convert::PowerReading;
use opendcre_proto::{Command, DeviceType, PowerAction};
use tokio::time::Instant;

use crate::answer::RedfishError;
use crate::node::Node;
use crate::reset::ResetType;
use crate::route::SystemId;

/// What a system's payload shows of its power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PowerView {
    pub on: bool,
    /// No fault bit set (PMBus: power good, no over-current or
    /// under-voltage; IPMI: no power fault or overload).
    pub healthy: bool,
    /// A BMC's chassis identify light, when its chassis status reports it
    /// (optional in IPMI); `None` for a bus power device.
    pub identify: Option<bool>,
    /// A BMC's power restore policy as Redfish names it (Get Chassis
    /// Status); `None` for a bus power device (the bus has no such
    /// setting) and when the BMC says it does not know.
    pub restore_policy: Option<&'static str>,
}

impl From<&PowerReading> for PowerView {
    fn from(p: &PowerReading) -> Self {
        PowerView {
            on: p.power_on,
            healthy: p.power_ok && !p.over_current && !p.under_voltage,
            identify: None,
            restore_policy: None,
        }
    }
}

impl From<&ChassisPower> for PowerView {
    fn from(p: &ChassisPower) -> Self {
        use opendcre_ipmi::commands::{IdentifyState, RestorePolicy};
        PowerView {
            on: p.power_on,
            healthy: p.power_ok && !p.over_current,
            identify: match p.status.identify {
                Some(IdentifyState::Off) => Some(false),
                Some(IdentifyState::Timed | IdentifyState::Indefinite) => Some(true),
                Some(IdentifyState::Reserved) | None => None,
            },
            restore_policy: match p.status.restore_policy {
                RestorePolicy::AlwaysOff => Some("AlwaysOff"),
                RestorePolicy::Previous => Some("LastState"),
                RestorePolicy::AlwaysOn => Some("AlwaysOn"),
                RestorePolicy::Unknown => None,
            },
        }
    }
}

/// What a BMC says about its server: its FRU's names and numbers, its
/// System GUID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Inventory {
    pub manufacturer: String,
    pub model: String,
    pub serial_number: String,
    pub part_number: String,
    /// `UUID`: what orchestrators (Ironic, Metal3) match a server by.
    pub uuid: Option<String>,
}

impl Inventory {
    /// Sets the non-empty fields on a system's payload.
    pub(crate) fn fill(&self, v: &mut serde_json::Value) {
        for (key, value) in [
            ("Manufacturer", &self.manufacturer),
            ("Model", &self.model),
            ("SerialNumber", &self.serial_number),
            ("PartNumber", &self.part_number),
        ] {
            if !value.is_empty() {
                v[key] = serde_json::json!(value);
            }
        }
        if let Some(uuid) = &self.uuid {
            v["UUID"] = serde_json::json!(uuid);
        }
    }
}

fn where_(s: SystemId) -> String {
    if s.is_bmc() {
        format!("BMC {}", fmt_device(s.device))
    } else {
        format!(
            "board {} device {}",
            fmt_board(s.board),
            fmt_device(s.device)
        )
    }
}

impl Node {
    /// The power state now: `GET /opendcre/1.1/power/status/…`.
    pub(crate) async fn power_state(
        &self,
        s: SystemId,
        deadline: Instant,
    ) -> Result<PowerView, RedfishError> {
        if s.is_bmc() {
            let p = self
                .bmc(s, deadline, self.ipmi.power(s.device, PowerAction::Status))
                .await?;
            return Ok(PowerView::from(&p));
        }
        let p = self.bus_power(s, PowerAction::Status, deadline).await?;
        Ok(PowerView::from(&p))
    }

    /// Carries out a reset: a v1.1 power action (on, off, cycle; a bus
    /// device's forced restart is its cycle), or on a BMC also a hard reset
    /// or a soft (ACPI) shutdown.
    pub(crate) async fn reset(
        &self,
        s: SystemId,
        t: ResetType,
        deadline: Instant,
    ) -> Result<(), RedfishError> {
        let action = match t {
            ResetType::On => PowerAction::On,
            ResetType::ForceOff => PowerAction::Off,
            ResetType::PowerCycle => PowerAction::Cycle,
            ResetType::ForceRestart if !s.is_bmc() => PowerAction::Cycle,
            // `reset::parse` offers it to BMC systems only.
            ResetType::GracefulShutdown if !s.is_bmc() => {
                return Err(RedfishError::failure(format!(
                    "{}: {t:?} needs a BMC",
                    where_(s)
                )))
            }
            ResetType::ForceRestart | ResetType::GracefulShutdown => {
                let control = if t == ResetType::ForceRestart {
                    ChassisControl::HardReset
                } else {
                    ChassisControl::SoftShutdown
                };
                self.bmc(s, deadline, self.ipmi.control(s.device, control))
                    .await?;
                return Ok(());
            }
        };
        if s.is_bmc() {
            self.bmc(s, deadline, self.ipmi.power(s.device, action))
                .await?;
        } else {
            self.bus_power(s, action, deadline).await?;
        }
        Ok(())
    }

    /// A reset and its event log entry, as `ComputerSystem.Reset` and a
    /// group reset both record it: the result, and the entry recorded.
    pub(crate) async fn reset_recorded(
        &self,
        s: SystemId,
        t: ResetType,
        user: &str,
        deadline: Instant,
    ) -> (Result<(), RedfishError>, opendcre_eventlog::Event) {
        let done = self.reset(s, t, deadline).await;
        let detail = done
            .as_ref()
            .err()
            .map(|e| e.detail.clone().unwrap_or_else(|| e.status.to_string()));
        let event = opendcre_eventlog::Event::power(
            user,
            opendcre_eventlog::Via::Redfish,
            &s.id(),
            t.name(),
            detail.as_deref().map_or(Ok("done"), Err),
        );
        self.events.record(event.clone());
        (done, event)
    }

    /// The asset tag: a bus power device's asset text read now (the job of
    /// `GET /opendcre/1.1/read/power/…/info`, so a v1.1 write shows at
    /// once); a BMC's configured `asset_info`, as v1.1 answers it.
    pub(crate) async fn asset_tag(
        &self,
        s: SystemId,
        deadline: Instant,
    ) -> Result<Option<String>, RedfishError> {
        if s.is_bmc() {
            return Ok(self
                .ipmi
                .devices()
                .into_iter()
                .find(|d| d.device_id == s.device)
                .and_then(|d| d.asset_info));
        }
        let req = Request {
            device_type: DeviceType::POWER.0,
            board_id: s.board,
            device_id: s.device,
            command: Command::ReadAsset,
        };
        let frame = self
            .bus
            .command(req, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_(s))))?;
        Ok(Some(frame.answer_text()))
    }

    /// Writes a bus power device's asset text: the job of
    /// `GET /opendcre/1.1/write/power/…/info/…` (`WI`). The board answers
    /// with what it stored; anything else is a failure.
    pub(crate) async fn write_asset_tag(
        &self,
        s: SystemId,
        text: &str,
        deadline: Instant,
    ) -> Result<(), RedfishError> {
        let req = Request {
            device_type: DeviceType::POWER.0,
            board_id: s.board,
            device_id: s.device,
            command: Command::WriteAsset(text.as_bytes().to_vec()),
        };
        let frame = self
            .bus
            .command(req, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_(s))))?;
        if frame.data != text.as_bytes() {
            return Err(RedfishError::failure(format!(
                "{}: the board stored {:?}, not the asset tag sent",
                where_(s),
                frame.data_text()
            )));
        }
        Ok(())
    }

    /// Manufacturer, model, serial and part number of a BMC's server from
    /// its FRU 0 (product area, else board area), read as
    /// `GET /opendcre/1.1/read/power/40000000/…/info` reads it, and its
    /// System GUID. `None` for a bus power device, or when the BMC cannot be
    /// read (logged).
    pub(crate) async fn inventory(&self, s: SystemId, deadline: Instant) -> Option<Inventory> {
        let info = self.bmc_asset(s, deadline).await?;
        let uuid = info.system_guid;
        let inv = match info.fru.map(|f| (f.product, f.board)) {
            Some((Some(p), _)) => Inventory {
                manufacturer: p.manufacturer,
                model: p.product_name,
                serial_number: p.serial_number,
                part_number: p.part_number,
                uuid,
            },
            Some((None, Some(b))) => Inventory {
                manufacturer: b.manufacturer,
                model: b.product_name,
                serial_number: b.serial_number,
                part_number: b.part_number,
                uuid,
            },
            _ => Inventory {
                uuid,
                ..Inventory::default()
            },
        };
        (inv != Inventory::default()).then_some(inv)
    }

    /// FRU 0 of a BMC's server; `None` for a bus power device, or when the
    /// BMC's FRU cannot be read (logged).
    pub(crate) async fn fru(
        &self,
        s: SystemId,
        deadline: Instant,
    ) -> Option<opendcre_ipmi::fru::FruInfo> {
        self.bmc_asset(s, deadline).await?.fru
    }

    /// What a BMC says about its server (Get Device ID, Get System GUID,
    /// FRU 0, one session); `None` for a bus power device, or when the BMC
    /// cannot be read (logged).
    async fn bmc_asset(
        &self,
        s: SystemId,
        deadline: Instant,
    ) -> Option<opendcre_ipmi::bridge::AssetInfo> {
        if !s.is_bmc() {
            return None;
        }
        match self.bmc(s, deadline, self.ipmi.asset(s.device)).await {
            Ok(info) => {
                if let Some(e) = &info.inventory_error {
                    tracing::warn!(system = %s.id(), error = %e, "BMC FRU not readable");
                }
                Some(info)
            }
            Err(e) => {
                tracing::warn!(system = %s.id(), detail = ?e.detail, "BMC inventory not readable");
                None
            }
        }
    }

    /// A power command to a bus power device and its parsed answer: the
    /// job and conversion of `GET /opendcre/1.1/power/{action}/…`.
    async fn bus_power(
        &self,
        s: SystemId,
        action: PowerAction,
        deadline: Instant,
    ) -> Result<PowerReading, RedfishError> {
        let req = Request {
            device_type: DeviceType::POWER.0,
            board_id: s.board,
            device_id: s.device,
            command: Command::Power(action),
        };
        let frame = self
            .bus
            .command(req, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_(s))))?;
        let text = frame.answer_text();
        PowerReading::parse(&text, self.r_sense)
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_(s))))
    }

    /// One IPMI bridge operation within the request's deadline.
    pub(crate) async fn bmc<T>(
        &self,
        s: SystemId,
        deadline: Instant,
        work: impl Future<Output = Result<T, IpmiError>>,
    ) -> Result<T, RedfishError> {
        match tokio::time::timeout_at(deadline, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(RedfishError::failure(format!("{}: {e}", where_(s)))),
            Err(_) => Err(RedfishError::failure(format!(
                "{}: no answer within the request's time",
                where_(s)
            ))),
        }
    }
}
