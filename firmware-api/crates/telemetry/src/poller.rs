//! The poller: keeps the scan and every device's reading fresh at background
//! priority, and the BMCs' chassis status in a task of its own (IPMI never
//! enters the bus queue, so a slow BMC cannot delay a sensor read).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::cache::Cache;
use super::clock::now_ms;
use super::config::TelemetryConfig;
use super::kind::Kind;
use opendcre_bus::{BusError, BusHandle, Request, ScanTarget};
use opendcre_ipmi::IpmiBridge;
use opendcre_proto::{Command, DeviceType, PowerAction};

/// Bound of one poller job, queue wait included: long enough to wait behind
/// a burst of API requests, short enough that a stuck job is noticed.
const JOB_DEADLINE: Duration = Duration::from_secs(30);
/// First pause after the bus failed; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Devices in a row that time out before the bus itself counts as failing
/// (one silent device is that device's problem; all of them is the bus's).
const TIMEOUTS_MEAN_BUS_DOWN: u32 = 3;

/// Whether an error says the bus (not one device) is failing.
fn bus_failing(e: &BusError) -> bool {
    matches!(
        e,
        BusError::PortUnavailable { .. }
            | BusError::Io { .. }
            | BusError::QueueFull { .. }
            | BusError::Stopped
    )
}

/// What a scan asks.
#[derive(Clone, Copy)]
enum ScanScope<'a> {
    /// One scan-all transaction: finds boards not seen before.
    All,
    /// Each of these boards in a background job of its own.
    Known(&'a [u32]),
}

pub(crate) struct Poller {
    pub cfg: TelemetryConfig,
    pub cache: Arc<Cache>,
    pub bus: BusHandle,
    pub r_sense: f64,
    /// Scan generation requested by `POST /scan/refresh`.
    pub refresh: watch::Receiver<u64>,
    /// Scan generation done: the last requested one that is finished.
    pub done: watch::Sender<u64>,
}

impl Poller {
    pub async fn run(mut self) {
        let bus = self.bus.background();
        let mut due: HashMap<(u32, u16), Instant> = HashMap::new();
        let mut scanned_at: Option<Instant> = None;
        // The last scan-all: boards added to the bus since are found only by
        // one, so every `discover_secs` the periodic re-scan is a scan-all.
        let mut scanned_all_at: Option<Instant> = None;
        let mut backoff: Option<Duration> = None;
        // Boards of the last scan: a periodic re-scan asks each of them in a
        // job of its own instead of one scan-all.
        let mut boards: Vec<u32> = Vec::new();
        loop {
            let requested = *self.refresh.borrow_and_update();
            let refresh = requested > *self.done.borrow();
            let scan_due = scanned_at.is_none_or(|t| t.elapsed() >= self.cfg.scan_ttl());
            let mut failed = false;
            if refresh || scan_due {
                // The first scan, a forced refresh and the discovery period
                // find every board (scan-all); other re-scans ask the known
                // ones, each in a job of its own.
                let discover_due =
                    scanned_all_at.is_none_or(|t| t.elapsed() >= self.cfg.discover_every());
                let scope = if refresh || discover_due || boards.is_empty() {
                    ScanScope::All
                } else {
                    ScanScope::Known(&boards)
                };
                let all = matches!(scope, ScanScope::All);
                match self.scan(&bus, scope).await {
                    Ok(found) => {
                        if all {
                            scanned_all_at = Some(Instant::now());
                        }
                        boards = found;
                        scanned_at = Some(Instant::now());
                        due.clear();
                        self.done.send_replace(requested);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "telemetry scan failed");
                        self.cache.scan_failed(e.to_string());
                        failed = true;
                    }
                }
            }
            if !failed {
                failed = self.read_due(&bus, &mut due).await;
            }
            let pause = if failed {
                let b = backoff.map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
                tracing::debug!(
                    pause_ms = b.as_millis() as u64,
                    "device bus failing; poller backs off"
                );
                backoff = Some(b);
                b
            } else {
                backoff = None;
                let next_read = due.values().min().copied();
                let next_scan = scanned_at.map(|t| t + self.cfg.scan_ttl());
                let next = [next_read, next_scan].into_iter().flatten().min();
                next.map_or(Duration::from_secs(1), |t| {
                    t.saturating_duration_since(Instant::now())
                })
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                changed = self.refresh.changed() => {
                    if changed.is_err() {
                        return; // the service is shutting down
                    }
                }
            }
        }
    }

    /// Scans, replaces the cache's device list and reads the asset tags;
    /// returns the boards that answered.
    async fn scan(&self, bus: &BusHandle, scope: ScanScope<'_>) -> Result<Vec<u32>, BusError> {
        let boards = match scope {
            ScanScope::All => {
                bus.scan(ScanTarget::All, Instant::now() + JOB_DEADLINE)
                    .await?
            }
            ScanScope::Known(known) => {
                // One background job per board: an API request waits behind
                // one board's scan at most, not behind the whole rack's
                // (a scan-all is one transaction: 450 ms on the example rack).
                let mut boards = Vec::new();
                let mut silent = None;
                for &id in known {
                    match bus
                        .scan(ScanTarget::Board(id), Instant::now() + JOB_DEADLINE)
                        .await
                    {
                        Ok(b) => boards.extend(b),
                        // Gone: dropped, as a scan-all would not list it.
                        Err(e @ BusError::Timeout { .. }) => {
                            tracing::info!(board = format!("{id:08x}"), "board did not answer its re-scan; dropped until the next full scan");
                            silent = Some(e);
                        }
                        Err(e) => return Err(e),
                    }
                }
                // No board answered: the bus is silent, and the scan fails
                // (the cache stays) as a silent scan-all does.
                match silent {
                    Some(e) if boards.is_empty() => return Err(e),
                    _ => boards,
                }
            }
        };
        let ids = boards.iter().map(|b| b.board_id).collect();
        let mut found = Vec::new();
        for b in &boards {
            for d in &b.devices {
                if let Some(kind) = Kind::of(DeviceType(d.device_type)) {
                    found.push(((b.board_id, d.device_id), kind));
                }
            }
        }
        self.cache
            .apply_scan(now_ms(), boards.len(), found.clone(), self.cfg.history_len);
        self.cache.keep_boards(boards);
        // Asset tags change only when written: read once per scan.
        for (key, kind) in found {
            if kind != Kind::Power {
                continue;
            }
            let req = Request {
                device_type: DeviceType::POWER.0,
                board_id: key.0,
                device_id: key.1,
                command: Command::ReadAsset,
            };
            match bus.command(req, Instant::now() + JOB_DEADLINE).await {
                Ok(f) => self.cache.set_asset(key, f.data_text()),
                Err(e) if bus_failing(&e) => return Err(e),
                Err(e) => tracing::debug!(error = %e, "asset tag not read"),
            }
        }
        Ok(ids)
    }

    /// Reads every device whose interval has passed; true when the bus failed.
    async fn read_due(&self, bus: &BusHandle, due: &mut HashMap<(u32, u16), Instant>) -> bool {
        let mut timeouts_in_a_row = 0;
        for (key, kind) in self.cache.device_keys() {
            let now = Instant::now();
            if due.get(&key).is_some_and(|t| *t > now) {
                continue;
            }
            due.insert(
                key,
                now + Duration::from_secs(kind.interval_secs(&self.cfg.interval_secs)),
            );
            let req = Request {
                device_type: kind.device_type().0,
                board_id: key.0,
                device_id: key.1,
                command: kind.command(),
            };
            let result = bus.command(req, now + JOB_DEADLINE).await;
            let at = now_ms();
            match result {
                Ok(frame) => {
                    timeouts_in_a_row = 0;
                    let text = frame.answer_text();
                    match kind.convert(&text, self.r_sense) {
                        Ok(v) => self.cache.record_ok(key, at, v),
                        Err(e) => self.cache.record_err(key, at, e),
                    }
                }
                Err(e) => {
                    let failing = bus_failing(&e);
                    if matches!(e, BusError::Timeout { .. }) {
                        timeouts_in_a_row += 1;
                    }
                    self.cache.record_err(key, at, e.to_string());
                    if failing || timeouts_in_a_row >= TIMEOUTS_MEAN_BUS_DOWN {
                        // Not read this round: try again after the backoff.
                        due.remove(&key);
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Polls every configured BMC's chassis status, one after the other.
pub(crate) async fn poll_bmcs(ipmi: IpmiBridge, cache: Arc<Cache>, interval: Duration) {
    let bmcs = ipmi.devices();
    if bmcs.is_empty() {
        return;
    }
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for b in &bmcs {
            let r = ipmi
                .power(b.device_id, PowerAction::Status)
                .await
                .map(|p| p.power_on)
                .map_err(|e| e.to_string());
            cache.set_bmc(b.device_id, b.ip.clone(), r, now_ms());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_bus::{BusConfig, PortOpener};

    /// A serial port that is never there.
    struct Unplugged;

    impl PortOpener for Unplugged {
        type Port = tokio_serial::SerialStream;
        async fn open(&mut self) -> std::io::Result<Self::Port> {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "unplugged",
            ))
        }
        fn describe(&self) -> String {
            "unplugged".into()
        }
    }

    /// Boards 1 and 2, one thermistor (`01ff`) each, while `present` lists
    /// them; a scan of any other board id is the scan-all. Records the board
    /// id of every scan request.
    fn rack(
        mut end: tokio::io::DuplexStream,
        present: Arc<std::sync::Mutex<Vec<u32>>>,
        scans: Arc<std::sync::Mutex<Vec<u32>>>,
    ) {
        use opendcre_proto::{Frame, FrameDecoder};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tokio::spawn(async move {
            let mut dec = FrameDecoder::new();
            let mut buf = [0u8; 512];
            loop {
                match end.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => dec.push(&buf[..n]),
                }
                while let Some(Ok(req)) = dec.next_frame() {
                    let answer = |board: u32, device_type: u8, data: &[u8]| {
                        Frame {
                            sequence: req.sequence,
                            device_type,
                            board_id: board,
                            device_id: 0x01ff,
                            data: data.to_vec(),
                        }
                        .encode()
                        .unwrap()
                    };
                    let present = present.lock().unwrap().clone();
                    let mut out = Vec::new();
                    if req.device_type == 0xFF && req.data == b"D" {
                        scans.lock().unwrap().push(req.board_id);
                        let asked: Vec<u32> = if [1, 2].contains(&req.board_id) {
                            vec![req.board_id]
                        } else {
                            vec![1, 2]
                        };
                        for b in asked.into_iter().filter(|b| present.contains(b)) {
                            out.extend(answer(b, 0xFF, &[DeviceType::THERMISTOR.0]));
                        }
                    } else if present.contains(&req.board_id) {
                        out.extend(answer(req.board_id, req.device_type, b"656"));
                    }
                    if !out.is_empty() {
                        end.write_all(&out).await.unwrap();
                    }
                }
            }
        });
    }

    type Shared<T> = Arc<std::sync::Mutex<T>>;

    /// A poller on the simulated rack of [`rack`] (boards `present`; the
    /// board ids of every scan it sees land in `scans`), with the given
    /// scan TTL and discovery period; returns its cache and its task.
    fn poll_rack(
        present: &Shared<Vec<u32>>,
        scans: &Shared<Vec<u32>>,
        scan_ttl_secs: u64,
        discover_secs: u64,
    ) -> (Arc<Cache>, tokio::task::JoinHandle<()>) {
        let (ours, theirs) = tokio::io::duplex(4096);
        rack(theirs, present.clone(), scans.clone());
        let (bus, _actor) =
            opendcre_bus::spawn(opendcre_bus::MemoryLine::new(ours), BusConfig::default());
        let cache = Arc::new(Cache::default());
        // The senders go with the poller: a closed refresh channel would
        // end it, so they must outlive the test's waits.
        let (refresh_tx, refresh) = watch::channel(0);
        let (done, _done_rx) = watch::channel(0);
        let poller = Poller {
            cfg: TelemetryConfig {
                scan_ttl_secs,
                discover_secs,
                ..TelemetryConfig::default()
            },
            cache: cache.clone(),
            bus,
            r_sense: 1.0,
            refresh,
            done,
        };
        let task = tokio::spawn(async move {
            let _keep = refresh_tx;
            poller.run().await
        });
        (cache, task)
    }

    /// The first scan is a scan-all; the re-scans at the TTL ask each known
    /// board in a job of its own (an API request waits behind one board's
    /// scan at most). A board that stops answering is dropped; when none
    /// answers, the re-scan fails and the cache keeps its devices, as after
    /// a silent scan-all.
    #[tokio::test(start_paused = true)]
    async fn periodic_rescans_ask_each_known_board_apart() {
        let present = Arc::new(std::sync::Mutex::new(vec![1u32, 2]));
        let scans = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (cache, task) = poll_rack(&present, &scans, 10, 3600);

        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(cache.scan_info().boards, 2);
        let first = scans.lock().unwrap().clone();
        assert_eq!(first.len(), 1, "one scan-all: {first:x?}");
        assert!(![1, 2].contains(&first[0]), "a scan-all id: {first:x?}");

        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            scans.lock().unwrap()[1..],
            [1, 2],
            "the re-scan asks board 1, then board 2"
        );
        assert_eq!(cache.device_keys().len(), 2);

        present.lock().unwrap().retain(|b| *b == 1);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let scan = cache.scan_info();
        assert_eq!((scan.boards, scan.devices), (1, 1), "board 2 dropped");
        assert_eq!(scan.error, None);

        present.lock().unwrap().clear();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let scan = cache.scan_info();
        assert!(
            scan.error.as_deref().is_some_and(|e| e.contains("scan")),
            "a re-scan nobody answers fails: {scan:?}"
        );
        assert_eq!(cache.device_keys().len(), 1, "the cache keeps board 1");
        task.abort();
    }

    /// A board added to the bus after the first scan is not asked by the
    /// per-board re-scans, but the scan-all every `discover_secs` finds it.
    #[tokio::test(start_paused = true)]
    async fn a_board_added_later_is_found_by_the_discovery_scan() {
        let present = Arc::new(std::sync::Mutex::new(vec![1u32]));
        let scans = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (cache, task) = poll_rack(&present, &scans, 10, 30);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(cache.scan_info().boards, 1);
        present.lock().unwrap().push(2);
        // The re-scans at 10 s and 20 s ask board 1 only.
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(cache.scan_info().boards, 1, "{:x?}", scans.lock().unwrap());
        // The one at 30 s is a scan-all.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(cache.scan_info().boards, 2, "{:x?}", scans.lock().unwrap());
        task.abort();
    }

    /// While the bus fails, the poller waits 1, 2, 4, … s between attempts
    /// instead of hammering it every second.
    #[tokio::test(start_paused = true)]
    async fn the_poller_backs_off_while_the_bus_fails() {
        let (bus, _actor) = opendcre_bus::spawn(Unplugged, BusConfig::default());
        let cache = Arc::new(Cache::default());
        let (_refresh_tx, refresh) = watch::channel(0);
        let (done, _done_rx) = watch::channel(0);
        let poller = Poller {
            cfg: TelemetryConfig::default(),
            cache: cache.clone(),
            bus: bus.clone(),
            r_sense: 1.0,
            refresh,
            done,
        };
        let task = tokio::spawn(poller.run());
        tokio::time::sleep(Duration::from_secs(64)).await;
        task.abort();
        // Attempts at 0, 1, 3, 7, 15, 31 and 63 s.
        let attempts = bus.stats().background.wait_count;
        assert_eq!(attempts, 7, "scan attempts in 64 s");
        let scan = cache.scan_info();
        assert!(scan.error.unwrap().contains("unplugged"));
        assert_eq!(scan.at_ms, None);
    }
}
