//! The node as the Redfish model sees it: the bus handle the v1.1 API uses,
//! and the few facts about the node itself. Every value comes from the
//! same place the v1.1 API reads it (a scan, a power command on the bus,
//! the same PMBus conversion), so the two APIs agree at the same moment.

use opendcre_bus::{BusHandle, Request, ScanBoard, ScanTarget};
use opendcre_proto::board_id::{fmt_board, fmt_device};
use opendcre_proto::convert::PowerReading;
use opendcre_proto::{Command, DeviceType, PowerAction};
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
}

/// A rack as one scan of the bus found it.
pub(crate) struct Rack {
    pub boards: Vec<ScanBoard>,
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
    /// A scan of every board, as `GET /opendcre/1.1/scan` does.
    pub(crate) async fn rack(&self, deadline: Instant) -> Result<Rack, RedfishError> {
        let boards = self
            .bus
            .scan(ScanTarget::All, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("scanning the bus failed: {e}")))?;
        Ok(Rack { boards })
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
