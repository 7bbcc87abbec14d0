//! Telemetry (issue 15, docs/metrics.md): a poller that reads every scanned
//! device at background priority and every BMC's chassis status into a read
//! cache with bounded history, and the Prometheus/OpenMetrics rendering of
//! it. Below the API: no HTTP here, the API crate serves what this renders.
//!
//! ```text
//! poller ──BusHandle::background()──► bus actor      (after every API job)
//!   │ └──IpmiBridge (own task)──────► BMCs
//!   ▼
//! Cache (RwLock; last reading, error, history ring) ──► render() / readings JSON
//! ```

mod cache;
mod clock;
mod config;
mod expo;
mod http;
mod kind;
mod poller;
mod process;
mod render;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cache::{Cache, FieldStats, Filter, LastReading};
pub use clock::{now_ms, parse_rfc3339, rfc3339};
pub use config::{Intervals, IpNet, MetricsRole, TelemetryConfig, MAX_HISTORY_LEN};
pub use expo::Format;
pub use http::HttpStats;
pub use kind::{Kind, ALL_KINDS};
use opendcre_bus::BusHandle;
use opendcre_ipmi::IpmiBridge;

/// The running telemetry: the cache, the counters and the way to ask for a
/// new scan. Shared by the API's handlers.
pub struct Telemetry {
    pub rack: String,
    pub cache: Arc<Cache>,
    pub http: HttpStats,
    bus: BusHandle,
    refresh: watch::Sender<u64>,
    done: watch::Receiver<u64>,
    version: String,
    commit: String,
    tasks: Vec<JoinHandle<()>>,
    /// Size of the last exposition, to size the next one's buffer.
    last_len: AtomicUsize,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Build identity for `opendcre_build_info`.
pub struct Build {
    pub version: String,
    pub commit: String,
}

impl Telemetry {
    /// Starts the poller and the BMC poller on the current runtime.
    pub fn start(
        cfg: TelemetryConfig,
        rack: String,
        bus: BusHandle,
        ipmi: IpmiBridge,
        r_sense_mohm: f64,
        build: Build,
    ) -> Arc<Telemetry> {
        let cache = Arc::new(Cache::default());
        let (refresh_tx, refresh_rx) = watch::channel(0u64);
        let (done_tx, done_rx) = watch::channel(0u64);
        let bmc_interval = Duration::from_secs(cfg.interval_secs.bmc);
        let poller = poller::Poller {
            cfg,
            cache: cache.clone(),
            bus: bus.clone(),
            r_sense: r_sense_mohm,
            refresh: refresh_rx,
            done: done_tx,
        };
        let tasks = vec![
            tokio::spawn(poller.run()),
            tokio::spawn(poller::poll_bmcs(ipmi, cache.clone(), bmc_interval)),
        ];
        Arc::new(Telemetry {
            rack,
            cache,
            http: HttpStats::default(),
            bus,
            refresh: refresh_tx,
            done: done_rx,
            version: build.version,
            commit: build.commit,
            tasks,
            last_len: AtomicUsize::new(16 * 1024),
        })
    }

    /// `/metrics` in `format`.
    pub fn render(&self, format: Format) -> String {
        let inputs = render::Inputs {
            rack: &self.rack,
            now_ms: now_ms(),
            bus: Some(self.bus.stats()),
            http: self.http.snapshot(),
            process: process::read(),
            version: &self.version,
            commit: &self.commit,
            capacity: self.last_len.load(Ordering::Relaxed) * 9 / 8,
        };
        let text = render::render(&self.cache, &inputs, format);
        self.last_len.store(text.len(), Ordering::Relaxed);
        text
    }

    /// Asks the poller for a scan now and waits (up to `wait`) until one
    /// that started after this call has finished. `false`: not done in time
    /// (it still runs).
    pub async fn refresh_scan(&self, wait: Duration) -> bool {
        let mut wanted = 0;
        self.refresh.send_modify(|g| {
            *g += 1;
            wanted = *g;
        });
        let mut done = self.done.clone();
        tokio::time::timeout(wait, done.wait_for(|g| *g >= wanted))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}
