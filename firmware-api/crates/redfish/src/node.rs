//! The node as the Redfish model sees it: the bus handle and the IPMI
//! bridge the v1.1 API uses, the telemetry cache, and the few facts about
//! the node itself; the rack's tree and a board's readings. Every value
//! comes from the same place the v1.1 API (or, for readings, the telemetry
//! API) reads it, so the APIs agree at the same moment.

use std::sync::Arc;

use opendcre_bus::{BusHandle, Request, ScanBoard, ScanTarget};
use opendcre_ipmi::IpmiBridge;
use opendcre_proto::DeviceType;
use opendcre_telemetry::{now_ms, Cache, Kind, LastReading};
use tokio::time::Instant;

use crate::answer::RedfishError;
use crate::route::SystemId;

/// What the Redfish handlers reach: built once by `opendcre serve`.
/// Cloned (handles and `Arc`s) into work that outlives a request: a group
/// reset's task.
#[derive(Clone)]
pub struct Node {
    pub bus: BusHandle,
    /// The configured BMCs (`bmc_config.json`, `[[ipmi.bmc]]`): each is a
    /// computer system, as each is a device of the v1.1 IPMI board.
    pub ipmi: IpmiBridge,
    /// Sense resistor for PMBus current and power, milliohms (`[bus]`).
    pub r_sense: f64,
    /// The rack's name (`[telemetry] rack`, else the host name).
    pub rack: String,
    /// The rack's nameplate (`[rack]`).
    pub rack_identity: crate::RackIdentity,
    /// The bus boards' nameplates (`[boards."<board id>"]`), by board id.
    pub board_identities: std::collections::BTreeMap<u32, crate::RackIdentity>,
    /// The asset tags of the rack and its boards and the manager's
    /// `ServiceIdentification` (`[manager] asset_tags`).
    pub asset_tags: Arc<crate::AssetTags>,
    /// `FirmwareVersion` of the manager: the build's version and commit.
    pub firmware_version: String,
    /// `UUID` of the service root and the manager
    /// ([`crate::service_uuid`] of the machine id); `None` leaves it out.
    pub uuid: Option<String>,
    /// The telemetry poller's cache, when `[telemetry]` is on: sensor
    /// readings come from it, as `/opendcre/2/readings` and `/metrics` do.
    pub cache: Option<Arc<Cache>>,
    /// The listeners `opendcre serve` bound: the manager's
    /// `NetworkProtocol`.
    pub protocols: crate::NetworkProtocols,
    /// The node's event log: resets are recorded in it, and it is the
    /// manager's `EventLog` log service.
    pub events: Arc<opendcre_eventlog::EventLog>,
    /// The update service (`[update]`): RAUC bundles.
    pub update: Arc<crate::Updater>,
    /// The groups of systems operators keep (`[manager] aggregates`).
    pub aggregates: Arc<crate::Aggregates>,
    /// The task service: installs and group resets, as they run.
    pub tasks: Arc<crate::Tasks>,
    /// Where `Manager.Reset` writes its restart request (`[manager]
    /// reboot_request`); `None`: restarting the node through Redfish is off.
    pub reboot_request: Option<std::path::PathBuf>,
    /// The node's own network settings (`[manager] network_request`,
    /// `network_state`, `network_interfaces`): PATCH of its interfaces.
    pub network: crate::NetworkSettings,
    /// The event service (`[event_service]`): subscriptions and SSE.
    pub event_service: Arc<crate::EventService>,
    /// The periodic metric report definitions operators make (`[manager]
    /// report_definitions`).
    pub report_definitions: Arc<crate::ReportDefinitions>,
    /// The TLS material of the HTTPS listeners, when TLS is on: its
    /// certificate is `…/HTTPS/Certificates/1`, replaceable when it has a
    /// certificate store.
    pub tls: Option<Arc<opendcre_security::tls::TlsSetup>>,
}

/// A rack as one scan of the bus found it, and the configured BMCs.
#[derive(Clone)]
pub(crate) struct Rack {
    pub boards: Arc<Vec<ScanBoard>>,
    /// Device ids of the configured BMCs, in configuration order.
    pub bmcs: Vec<u16>,
}

impl Rack {
    pub fn has_board(&self, board: u32) -> bool {
        self.boards.iter().any(|b| b.board_id == board)
    }

    /// The computer systems: every bus power device, then every BMC.
    pub fn systems(&self) -> impl Iterator<Item = SystemId> + '_ {
        let bus = self.boards.iter().flat_map(|b| {
            b.devices
                .iter()
                .filter(|d| d.device_type == DeviceType::POWER.0)
                .map(move |d| SystemId {
                    board: b.board_id,
                    device: d.device_id,
                })
        });
        let bmcs = self.bmcs.iter().map(|&device| SystemId::bmc(device));
        bus.chain(bmcs)
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
        let bmcs: Vec<u16> = self.ipmi.devices().iter().map(|d| d.device_id).collect();
        if let Some(boards) = self.cache.as_ref().and_then(|c| c.scanned_boards()) {
            return Ok(Rack { boards, bmcs });
        }
        let boards = self
            .bus
            .scan(ScanTarget::All, deadline)
            .await
            .map_err(|e| RedfishError::failure(format!("scanning the bus failed: {e}")))?;
        Ok(Rack {
            boards: Arc::new(boards),
            bmcs,
        })
    }

    /// The last readings of every board of the rack (the rows of a
    /// metric report).
    pub(crate) async fn rows(
        &self,
        deadline: Instant,
    ) -> Result<Vec<(u32, Vec<LastReading>)>, RedfishError> {
        self.rows_of(&self.rack(deadline).await?, deadline).await
    }

    /// [`Node::rows`] of a rack already scanned.
    pub(crate) async fn rows_of(
        &self,
        rack: &Rack,
        deadline: Instant,
    ) -> Result<Vec<(u32, Vec<LastReading>)>, RedfishError> {
        let mut rows = Vec::new();
        for b in rack.boards.iter() {
            if let Some(r) = self
                .board_readings(b.board_id, None, rack, deadline)
                .await?
            {
                rows.push((b.board_id, r));
            }
        }
        Ok(rows)
    }

    /// The last readings of `board`'s devices (only `device`'s when given):
    /// from the telemetry cache when it knows the board, else read now, one
    /// bus job per device of `rack` with the poller's conversion. `None`:
    /// no such board on the bus.
    pub(crate) async fn board_readings(
        &self,
        board: u32,
        device: Option<u16>,
        rack: &Rack,
        deadline: Instant,
    ) -> Result<Option<Vec<LastReading>>, RedfishError> {
        let wanted = |d: u16| device.is_none_or(|x| x == d);
        if let Some(cached) = self.cache.as_ref().and_then(|c| c.board_readings(board)) {
            return Ok(Some(
                cached.into_iter().filter(|r| wanted(r.device)).collect(),
            ));
        }
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
                    let text = f.answer_text();
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
}
