//! The node as the Redfish model sees it: the bus handle the v1.1 API uses,
//! and the few facts about the node itself. Every value comes from the
//! same place the v1.1 API reads it (a scan, a power command on the bus,
//! the same PMBus conversion), so the two APIs agree at the same moment.

use std::sync::Arc;

use opendcre_bus::{BusHandle, Request, ScanBoard, ScanTarget};
use opendcre_proto::board_id::{fmt_board, fmt_device};
use opendcre_proto::convert::PowerReading;
use opendcre_proto::{Command, DeviceType, PowerAction};
use opendcre_telemetry::{now_ms, Cache, Kind, LastReading};
use tokio::time::Instant;

use crate::answer::RedfishError;
use crate::route::SystemId;

/// What the Redfish handlers reach: built once by `opendcre serve`.
pub struct Node {
    pub bus: BusHandle,
    /// Sense resistor for PMBus current and power, milliohms (`[bus]`).
    pub r_sense: f64,
    /// The rack's name (`[telemetry] rack`, else the host name).
    pub rack: String,
    /// `FirmwareVersion` of the manager: the build's version and commit.
    pub firmware_version: String,
    /// `UUID` of the service root and the manager
    /// ([`crate::service_uuid`] of the machine id); `None` leaves it out.
    pub uuid: Option<String>,
    /// The telemetry poller's cache, when `[telemetry]` is on: sensor
    /// readings come from it, as `/opendcre/2/readings` and `/metrics` do.
    pub cache: Option<Arc<Cache>>,
}

/// A rack as one scan of the bus found it.
pub(crate) struct Rack {
    pub boards: Arc<Vec<ScanBoard>>,
}

impl Rack {
    pub fn has_board(&self, board: u32) -> bool {
        self.boards.iter().any(|b| b.board_id == board)
    }

    /// The bus power devices: each is a computer system.
    pub fn systems(&self) -> impl Iterator<Item = SystemId> + '_ {
        self.boards.iter().flat_map(|b| {
            b.devices
                .iter()
                .filter(|d| d.device_type == DeviceType::POWER.0)
                .map(move |d| SystemId {
                    board: b.board_id,
                    device: d.device_id,
                })
        })
    }

    pub fn has_system(&self, s: SystemId) -> bool {
        self.systems().any(|x| x == s)
    }
}

impl Node {
    /// The rack's boards and devices: the telemetry poller's last scan when
    /// it has one (a scan-all waits for 400 ms of bus silence; the poller
    /// re-scans at its TTL and on `POST /opendcre/2/scan/refresh`), else a
    /// scan of every board now, as `GET /opendcre/1.1/scan` does.
    pub(crate) async fn rack(&self, deadline: Instant) -> Result<Rack, RedfishError> {
        if let Some(boards) = self.cache.as_ref().and_then(|c| c.scanned_boards()) {
            return Ok(Rack { boards });
        }
        let boards = self
            .bus
            .scan(ScanTarget::All, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("scanning the bus failed: {e}")))?;
        Ok(Rack {
            boards: Arc::new(boards),
        })
    }

    /// The last readings of `board`'s devices (only `device`'s when given):
    /// from the telemetry cache when it knows the board, else read now, one
    /// bus job per device with the poller's conversion. `None`: no such
    /// board on the bus.
    pub(crate) async fn board_readings(
        &self,
        board: u32,
        device: Option<u16>,
        deadline: Instant,
    ) -> Result<Option<Vec<LastReading>>, RedfishError> {
        let wanted = |d: u16| device.is_none_or(|x| x == d);
        if let Some(cached) = self.cache.as_ref().and_then(|c| c.board_readings(board)) {
            return Ok(Some(
                cached.into_iter().filter(|r| wanted(r.device)).collect(),
            ));
        }
        let rack = self.rack(deadline).await?;
        let Some(found) = rack.boards.iter().find(|b| b.board_id == board) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for d in found.devices.iter().filter(|d| wanted(d.device_id)) {
            let Some(kind) = Kind::of(DeviceType(d.device_type)) else {
                continue;
            };
            if crate::sensors::sensors_of(kind).is_empty() {
                continue;
            }
            let req = Request {
                device_type: d.device_type,
                board_id: board,
                device_id: d.device_id,
                command: kind.command(),
            };
            let at = now_ms();
            let read = match self.bus.command(req, deadline).await {
                Ok(f) => {
                    let text = String::from_utf8(f.data.clone()).unwrap_or_else(|_| f.data_text());
                    kind.convert(&text, self.r_sense)
                }
                Err(e) => Err(e.to_string()),
            };
            let (last, error) = match read {
                Ok(v) => (Some((at, v)), None),
                Err(e) => (None, Some((at, e))),
            };
            out.push(LastReading {
                device: d.device_id,
                kind,
                last,
                error,
            });
        }
        Ok(Some(out))
    }

    /// The asset text of a bus power device: the job of
    /// `GET /opendcre/1.1/read/power/…/info`, live, so it equals the v1.1
    /// answer also right after a write.
    pub(crate) async fn asset(
        &self,
        s: SystemId,
        deadline: Instant,
    ) -> Result<String, RedfishError> {
        let req = Request {
            device_type: DeviceType::POWER.0,
            board_id: s.board,
            device_id: s.device,
            command: Command::ReadAsset,
        };
        let frame = self.bus.command(req, deadline).await.map_err(|e| {
            RedfishError::failure(format!(
                "board {} device {}: {e}",
                fmt_board(s.board),
                fmt_device(s.device)
            ))
        })?;
        Ok(String::from_utf8(frame.data.clone()).unwrap_or_else(|_| frame.data_text()))
    }

    /// A power command to a bus power device and its parsed answer: the
    /// job and conversion of `GET /opendcre/1.1/power/{action}/…`.
    pub(crate) async fn power(
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
        let where_ = || {
            format!(
                "board {} device {}",
                fmt_board(s.board),
                fmt_device(s.device)
            )
        };
        let frame = self
            .bus
            .command(req, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_())))?;
        let text = String::from_utf8(frame.data.clone()).unwrap_or_else(|_| frame.data_text());
        PowerReading::parse(&text, self.r_sense)
            .map_err(|e| RedfishError::failure(format!("{}: {e}", where_())))
    }
}
