//! The task that owns the port, and the cloneable handle that feeds it.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::BusConfig;
use super::error::BusError;
use super::link::Link;
use super::port::PortOpener;
use super::stats::{BusStats, BusStatsSnapshot};
use super::transaction;
use opendcre_proto::{Command, Frame};

/// A single-answer bus request.
#[derive(Debug, Clone)]
pub struct Request {
    pub device_type: u8,
    pub board_id: u32,
    pub device_id: u16,
    pub command: Command,
}

/// What to scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanTarget {
    Board(u32),
    All,
}

/// One device as a board reported it: the type is `data[0]` of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanDevice {
    pub device_id: u16,
    pub device_type: u8,
}

/// One board and its devices, in the order the answers arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanBoard {
    pub board_id: u32,
    pub devices: Vec<ScanDevice>,
}

enum JobKind {
    Command(Request),
    Scan(ScanTarget),
}

enum JobOutput {
    Frame(Frame),
    Scan(Vec<ScanBoard>),
}

/// Who is waiting for a job. API clients are people and scripts waiting on
/// an answer; the telemetry poller only refreshes a cache, so its work must
/// never delay theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// API clients: always taken before any waiting background job.
    Interactive = 0,
    /// The poller: runs only when no interactive job waits. A transaction
    /// already on the wire is never cut short for either.
    Background = 1,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Background => "background",
        }
    }
}

struct Job {
    kind: JobKind,
    deadline: Instant,
    queued_at: Instant,
    reply: oneshot::Sender<Result<JobOutput, BusError>>,
}

/// Cheap to clone; every handler holds one. Jobs go in at the handle's
/// priority: [`Priority::Interactive`] unless made with [`BusHandle::background`].
#[derive(Clone)]
pub struct BusHandle {
    interactive: mpsc::Sender<Job>,
    background: mpsc::Sender<Job>,
    priority: Priority,
    depth: usize,
    stats: Arc<BusStats>,
}

impl BusHandle {
    /// A handle to the same actor whose jobs wait behind every interactive one.
    pub fn background(&self) -> BusHandle {
        BusHandle {
            priority: Priority::Background,
            ..self.clone()
        }
    }

    /// The bus health counters now; lock-free, never waits on the bus.
    pub fn stats(&self) -> BusStatsSnapshot {
        self.stats.snapshot()
    }

    /// Runs one command; `deadline` bounds the wait in the queue and on the wire.
    pub async fn command(&self, req: Request, deadline: Instant) -> Result<Frame, BusError> {
        match self.submit(JobKind::Command(req), deadline).await? {
            JobOutput::Frame(f) => Ok(f),
            JobOutput::Scan(_) => unreachable!("a command job answers with a frame"),
        }
    }

    /// Scans one board or all boards.
    pub async fn scan(
        &self,
        target: ScanTarget,
        deadline: Instant,
    ) -> Result<Vec<ScanBoard>, BusError> {
        match self.submit(JobKind::Scan(target), deadline).await? {
            JobOutput::Scan(b) => Ok(b),
            JobOutput::Frame(_) => unreachable!("a scan job answers with boards"),
        }
    }

    async fn submit(&self, kind: JobKind, deadline: Instant) -> Result<JobOutput, BusError> {
        let (reply, rx) = oneshot::channel();
        let tx = match self.priority {
            Priority::Interactive => &self.interactive,
            Priority::Background => &self.background,
        };
        // Counted before the send so the actor's decrement can never come first.
        self.stats.queued(self.priority);
        tx.try_send(Job {
            kind,
            deadline,
            queued_at: Instant::now(),
            reply,
        })
        .map_err(|e| {
            self.stats.unqueued(self.priority);
            match e {
                mpsc::error::TrySendError::Full(_) => BusError::QueueFull { depth: self.depth },
                mpsc::error::TrySendError::Closed(_) => BusError::Stopped,
            }
        })?;
        rx.await.map_err(|_| BusError::Stopped)?
    }
}

/// Starts the bus actor. It runs until every handle is dropped. Each
/// priority has its own queue of `queue_depth` jobs, so a poller backlog can
/// never fill the queue API clients use.
pub fn spawn<O: PortOpener>(opener: O, cfg: BusConfig) -> (BusHandle, JoinHandle<()>) {
    let (itx, irx) = mpsc::channel(cfg.queue_depth.max(1));
    let (btx, brx) = mpsc::channel(cfg.queue_depth.max(1));
    let stats = Arc::new(BusStats::default());
    let handle = BusHandle {
        interactive: itx,
        background: btx,
        priority: Priority::Interactive,
        depth: cfg.queue_depth,
        stats: stats.clone(),
    };
    let task = tokio::spawn(run(opener, cfg, irx, brx, stats));
    (handle, task)
}

/// The next job: any waiting interactive job before any background one.
async fn next_job(
    irx: &mut mpsc::Receiver<Job>,
    brx: &mut mpsc::Receiver<Job>,
) -> Option<(Priority, Job)> {
    if let Ok(j) = irx.try_recv() {
        return Some((Priority::Interactive, j));
    }
    tokio::select! {
        biased;
        Some(j) = irx.recv() => Some((Priority::Interactive, j)),
        Some(j) = brx.recv() => Some((Priority::Background, j)),
        else => None,
    }
}

async fn run<O: PortOpener>(
    mut opener: O,
    cfg: BusConfig,
    mut irx: mpsc::Receiver<Job>,
    mut brx: mpsc::Receiver<Job>,
    stats: Arc<BusStats>,
) {
    let path = opener.describe();
    let mut link: Link<O::Port> = Link::new(&cfg);
    let mut last_open_failure: Option<(Instant, String)> = None;
    let mut opened_once = false;
    while let Some((priority, job)) = next_job(&mut irx, &mut brx).await {
        stats.dequeued(priority, job.queued_at.elapsed());
        if job.reply.is_closed() {
            continue; // the client went away while queued
        }
        let now = Instant::now();
        if now >= job.deadline {
            let _ = job.reply.send(Err(BusError::Deadline { ms: 0 }));
            continue;
        }
        if link.port.is_none() {
            if let Some((at, reason)) = &last_open_failure {
                if now.duration_since(*at) < cfg.reopen_backoff {
                    let _ = job.reply.send(Err(BusError::PortUnavailable {
                        path: path.clone(),
                        reason: reason.clone(),
                    }));
                    continue;
                }
            }
            match opener.open().await {
                Ok(p) => {
                    tracing::info!(port = %path, "serial port opened");
                    if opened_once {
                        stats
                            .port_reopens
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    opened_once = true;
                    link.port = Some(p);
                    last_open_failure = None;
                }
                Err(e) => {
                    tracing::warn!(port = %path, error = %e, "cannot open serial port");
                    let reason = e.to_string();
                    last_open_failure = Some((now, reason.clone()));
                    let _ = job.reply.send(Err(BusError::PortUnavailable {
                        path: path.clone(),
                        reason,
                    }));
                    continue;
                }
            }
        }
        opener.before_transaction().await;
        stats.transaction(priority);
        let started = Instant::now();
        let result = match link.flush_input() {
            Err(e) => Err(BusError::Io {
                path: path.clone(),
                reason: e.to_string(),
            }),
            Ok(()) => {
                let work = async {
                    match &job.kind {
                        JobKind::Command(req) => transaction::command(&mut link, &cfg, &path, req)
                            .await
                            .map(JobOutput::Frame),
                        JobKind::Scan(t) => transaction::scan(&mut link, &cfg, &path, *t)
                            .await
                            .map(JobOutput::Scan),
                    }
                };
                match tokio::time::timeout_at(job.deadline, work).await {
                    Ok(r) => r,
                    Err(_) => Err(BusError::Deadline {
                        ms: job.deadline.duration_since(started).as_millis() as u64,
                    }),
                }
            }
        };
        {
            use std::sync::atomic::Ordering::Relaxed;
            if matches!(
                result,
                Err(BusError::Timeout { .. } | BusError::Deadline { .. })
            ) {
                stats.timeouts.fetch_add(1, Relaxed);
            }
            stats.retries.store(link.retries, Relaxed);
            stats.checksum_errors.store(link.checksum_errors(), Relaxed);
        }
        if let Err(BusError::Io { reason, .. }) = &result {
            tracing::warn!(port = %path, error = %reason, "serial port failed; it will be re-opened");
            link.port = None;
        }
        tracing::trace!(
            elapsed_us = started.elapsed().as_micros() as u64,
            junk = link.junk_skipped(),
            stale = link.stale_dropped(),
            "bus transaction finished"
        );
        let _ = job.reply.send(result);
    }
    tracing::info!("device bus task stopped");
}
