//! The task that owns the port, and the cloneable handle that feeds it.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::BusConfig;
use super::error::BusError;
use super::link::Link;
use super::port::PortOpener;
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

struct Job {
    kind: JobKind,
    deadline: Instant,
    reply: oneshot::Sender<Result<JobOutput, BusError>>,
}

/// Cheap to clone; every handler holds one.
#[derive(Clone)]
pub struct BusHandle {
    tx: mpsc::Sender<Job>,
    depth: usize,
}

impl BusHandle {
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
        self.tx
            .try_send(Job {
                kind,
                deadline,
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => BusError::QueueFull { depth: self.depth },
                mpsc::error::TrySendError::Closed(_) => BusError::Stopped,
            })?;
        rx.await.map_err(|_| BusError::Stopped)?
    }
}

/// Starts the bus actor. It runs until every handle is dropped.
pub fn spawn<O: PortOpener>(opener: O, cfg: BusConfig) -> (BusHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(cfg.queue_depth.max(1));
    let handle = BusHandle {
        tx,
        depth: cfg.queue_depth,
    };
    let task = tokio::spawn(run(opener, cfg, rx));
    (handle, task)
}

async fn run<O: PortOpener>(mut opener: O, cfg: BusConfig, mut rx: mpsc::Receiver<Job>) {
    let path = opener.describe();
    let mut link: Link<O::Port> = Link::new(&cfg);
    let mut last_open_failure: Option<(Instant, String)> = None;
    while let Some(job) = rx.recv().await {
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
