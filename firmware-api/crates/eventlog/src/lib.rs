//! The node's event log (docs/redfish.md, "Log services"): power actions
//! from both APIs, device bus faults and authentication failures, kept in
//! memory for readers and appended to a JSON-lines file under the
//! service's state directory (`[event_log] path`).
//!
//! * Bounded: the newest `max_entries` are kept; the file is compacted to
//!   them when it reaches twice that many lines.
//! * Persistent: read back at start; a torn or unreadable line is skipped
//!   and counted, never fatal.
//! * Never in a handler's way: [`EventLog::record`] takes a short lock and
//!   hands the line to one writer thread through a bounded queue; a full
//!   queue drops the write (the entry stays in memory) and counts it, and
//!   write errors are logged and counted ([`EventLog::status`]).
//! * Not a flood: authentication failures are limited per minute, and the
//!   binary records bus faults as one entry per interval.
//!
//! No async runtime and no workspace crate: the api, redfish and binary
//! crates all record into the one `Arc<EventLog>`.

mod entry;
mod file;
mod limit;
mod messages;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use entry::{Entry, Event, Severity, SubscriptionChange, Via};
pub use messages::{message, MessageDef, MESSAGES, REGISTRY, REGISTRY_VERSION};

use file::{Job, WriteStats, Writer};
use limit::Limiter;

/// Jobs the writer thread may have waiting: far more than a burst of
/// entries needs (the writer syncs each line; an SD card takes a few ms).
const QUEUE: usize = 256;

/// Bounds of `[event_log] max_entries`.
pub const MAX_ENTRIES_RANGE: std::ops::RangeInclusive<usize> = 10..=100_000;

/// Told of every entry as it is recorded (the Redfish event service).
type Listener = Box<dyn Fn(&Entry) + Send + Sync>;

/// The log. Share it as `Arc<EventLog>`.
pub struct EventLog {
    state: Mutex<State>,
    /// Called after an entry is recorded, outside the state lock; each
    /// must return at once (hand the entry on, never wait).
    listeners: std::sync::RwLock<Vec<Listener>>,
    jobs: Option<SyncSender<Job>>,
    stats: Arc<WriteStats>,
    dropped: AtomicU64,
    max: usize,
    path: Option<PathBuf>,
    /// Why the log lives in memory only, when it does.
    problem: Option<String>,
    skipped: u64,
}

struct State {
    entries: VecDeque<Entry>,
    next_id: u64,
    auth_limit: Limiter,
}

/// How the log is doing, for its Redfish `Status` and the service's log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogStatus {
    /// Entries reach the file (else: memory only, see `problem`).
    pub persistent: bool,
    pub problem: Option<String>,
    /// Lines that failed to reach the file.
    pub write_errors: u64,
    /// Lines dropped because the writer's queue was full.
    pub dropped: u64,
    /// Lines of the file that did not parse when it was read at start.
    pub skipped: u64,
}

impl LogStatus {
    /// Nothing was lost or refused since start.
    pub fn healthy(&self) -> bool {
        self.persistent && self.write_errors == 0 && self.dropped == 0
    }
}

impl EventLog {
    /// The log kept in `path`: its entries read back, a writer thread
    /// started. A file that cannot be read or a directory that cannot be
    /// written is no reason to stop the service: the log then lives in
    /// memory, says why in [`EventLog::status`], and the error is logged.
    pub fn open(path: &Path, max_entries: usize) -> EventLog {
        let max = max_entries.max(1);
        let writable = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(drop);
        let loaded = writable.and_then(|()| file::load(path, max));
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) => {
                let problem = format!("{}: {e}", path.display());
                tracing::warn!("event log kept in memory only: {problem}");
                let mut log = EventLog::in_memory(max);
                log.problem = Some(problem);
                log.path = Some(path.to_path_buf());
                return log;
            }
        };
        if loaded.skipped > 0 {
            tracing::warn!(path = %path.display(), skipped = loaded.skipped, "event log lines that did not parse were skipped");
        }
        let stats = Arc::new(WriteStats::default());
        let (tx, rx) = sync_channel(QUEUE);
        let writer = Writer {
            path: path.to_path_buf(),
            max,
            kept: loaded.entries.clone(),
            lines: loaded.lines,
            torn: loaded.torn,
            stats: stats.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("event-log".into())
            .spawn(move || writer.run(rx));
        let (jobs, problem) = match spawned {
            Ok(_) => (Some(tx), None),
            Err(e) => (None, Some(format!("no writer thread: {e}"))),
        };
        let next_id = loaded.entries.back().map_or(1, |e| e.id + 1);
        EventLog {
            listeners: std::sync::RwLock::new(Vec::new()),
            state: Mutex::new(State {
                entries: loaded.entries,
                next_id,
                auth_limit: Limiter::per_minute(AUTH_FAILURES_PER_MINUTE),
            }),
            jobs,
            stats,
            dropped: AtomicU64::new(0),
            max,
            path: Some(path.to_path_buf()),
            problem,
            skipped: loaded.skipped,
        }
    }

    /// A log without a file (tests, and a node whose state directory is
    /// not writable).
    pub fn in_memory(max_entries: usize) -> EventLog {
        EventLog {
            listeners: std::sync::RwLock::new(Vec::new()),
            state: Mutex::new(State {
                entries: VecDeque::new(),
                next_id: 1,
                auth_limit: Limiter::per_minute(AUTH_FAILURES_PER_MINUTE),
            }),
            jobs: None,
            stats: Arc::new(WriteStats::default()),
            dropped: AtomicU64::new(0),
            max: max_entries.max(1),
            path: None,
            problem: Some("no file configured".into()),
            skipped: 0,
        }
    }

    /// Records `event` now; returns its id, or `None` when the
    /// authentication-failure limit held it back (counted, and said in the
    /// next one that is recorded).
    pub fn record(&self, mut event: Event) -> Option<u64> {
        let mut st = self.lock();
        if event.key == "AuthenticationFailed" {
            match st.auth_limit.admit(std::time::Instant::now()) {
                None => return None,
                Some(0) => {}
                Some(n) => event.message.push_str(&format!(
                    " ({n} similar failures before this one were not recorded.)"
                )),
            }
        }
        let entry = Entry {
            id: st.next_id,
            created_ms: now_ms(),
            severity: event.severity,
            key: event.key.to_string(),
            message: event.message,
            args: event.args,
            system: event.system,
        };
        st.next_id += 1;
        let id = entry.id;
        st.entries.push_back(entry.clone());
        if st.entries.len() > self.max {
            st.entries.pop_front();
        }
        self.send(Job::Append(entry.clone()));
        drop(st);
        let listeners = self.listeners.read().unwrap_or_else(|p| p.into_inner());
        for listen in listeners.iter() {
            listen(&entry);
        }
        Some(id)
    }

    /// Calls `f` with every entry recorded from now on, after it is in the
    /// log (so a reader it tells finds it there). `f` runs on the
    /// recorder's thread and must not wait.
    pub fn listen(&self, f: impl Fn(&Entry) + Send + Sync + 'static) {
        self.listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Box::new(f));
    }

    /// Every entry kept, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.iter().cloned().collect()
    }

    pub fn entry(&self, id: u64) -> Option<Entry> {
        self.lock().entries.iter().find(|e| e.id == id).cloned()
    }

    /// Empties the log (memory and file); the one entry left says who
    /// cleared it. Ids go on increasing.
    pub fn clear(&self, user: &str) {
        {
            let mut st = self.lock();
            st.entries.clear();
            self.send(Job::Replace(VecDeque::new()));
        }
        self.record(Event::cleared(user, None));
    }

    /// Removes the entries about `system` (its log service's `ClearLog`);
    /// the one entry added says who cleared them. The others stay.
    pub fn clear_system(&self, system: &str, user: &str) {
        {
            let mut st = self.lock();
            st.entries.retain(|e| e.system.as_deref() != Some(system));
            let kept = st.entries.clone();
            self.send(Job::Replace(kept));
        }
        self.record(Event::cleared(user, Some(system)));
    }

    /// Waits (at most `timeout`) until every line recorded so far has been
    /// handed to the file system. False when it did not finish in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(jobs) = &self.jobs else {
            return true;
        };
        let (tx, rx) = sync_channel(1);
        if jobs.send_timeout_compat(Job::Flush(tx), timeout).is_err() {
            return false;
        }
        rx.recv_timeout(timeout).is_ok()
    }

    pub fn status(&self) -> LogStatus {
        LogStatus {
            persistent: self.jobs.is_some(),
            problem: self.problem.clone(),
            write_errors: self.stats.errors.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            skipped: self.skipped,
        }
    }

    pub fn max_entries(&self) -> usize {
        self.max
    }

    /// The file, when one is configured.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn send(&self, job: Job) {
        let Some(jobs) = &self.jobs else {
            return;
        };
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.dropped.fetch_add(1, Relaxed) + 1;
                if n == 1 || n % 100 == 0 {
                    tracing::warn!(
                        dropped = n,
                        "event log writer is behind; entry kept in memory only"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.errors.fetch_add(1, Relaxed);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves a consistent
        // deque: keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Authentication failures recorded per minute; the rest are counted (a
/// password-guessing client must not push the power actions out of a
/// bounded log).
const AUTH_FAILURES_PER_MINUTE: u32 = 20;

/// `SyncSender::send` with a bound: polls `try_send` (only flushes wait).
trait SendTimeout {
    fn send_timeout_compat(&self, job: Job, timeout: Duration) -> Result<(), ()>;
}

impl SendTimeout for SyncSender<Job> {
    fn send_timeout_compat(&self, mut job: Job, timeout: Duration) -> Result<(), ()> {
        let end = std::time::Instant::now() + timeout;
        loop {
            match self.try_send(job) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(()),
                Err(TrySendError::Full(j)) => {
                    if std::time::Instant::now() >= end {
                        return Err(());
                    }
                    job = j;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
