//! Bus health counters, written by the actor and read by `/metrics` without a
//! lock: every field is an atomic, so a scrape never waits on a transaction.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::actor::Priority;

/// Upper bounds (seconds) of the queue-wait histogram's buckets: from a
/// free bus (well under a millisecond) to a job that waited behind a scan
/// (seconds).
pub const QUEUE_WAIT_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

#[derive(Default)]
struct PerPriority {
    transactions: AtomicU64,
    depth: AtomicU64,
    /// Per bucket, not cumulative; the last slot counts waits above every bound.
    wait_buckets: [AtomicU64; QUEUE_WAIT_BUCKETS.len() + 1],
    wait_sum_ns: AtomicU64,
    wait_count: AtomicU64,
}

/// Shared by the actor and every handle.
#[derive(Default)]
pub(crate) struct BusStats {
    prio: [PerPriority; 2],
    pub(crate) retries: AtomicU64,
    pub(crate) checksum_errors: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) port_reopens: AtomicU64,
}

impl BusStats {
    fn of(&self, p: Priority) -> &PerPriority {
        &self.prio[p as usize]
    }

    pub(crate) fn queued(&self, p: Priority) {
        self.of(p).depth.fetch_add(1, Relaxed);
    }

    /// A job left the queue (run, expired or abandoned) after `waited`.
    pub(crate) fn dequeued(&self, p: Priority, waited: Duration) {
        let s = self.of(p);
        s.depth.fetch_sub(1, Relaxed);
        let secs = waited.as_secs_f64();
        let i = QUEUE_WAIT_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(QUEUE_WAIT_BUCKETS.len());
        s.wait_buckets[i].fetch_add(1, Relaxed);
        s.wait_sum_ns
            .fetch_add(waited.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
        s.wait_count.fetch_add(1, Relaxed);
    }

    /// A job that was queued but never handed to the actor (queue full).
    pub(crate) fn unqueued(&self, p: Priority) {
        self.of(p).depth.fetch_sub(1, Relaxed);
    }

    pub(crate) fn transaction(&self, p: Priority) {
        self.of(p).transactions.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BusStatsSnapshot {
        let per = |p: Priority| {
            let s = self.of(p);
            PrioritySnapshot {
                transactions: s.transactions.load(Relaxed),
                queue_depth: s.depth.load(Relaxed),
                wait_buckets: s.wait_buckets.iter().map(|b| b.load(Relaxed)).collect(),
                wait_sum_seconds: s.wait_sum_ns.load(Relaxed) as f64 / 1e9,
                wait_count: s.wait_count.load(Relaxed),
            }
        };
        BusStatsSnapshot {
            interactive: per(Priority::Interactive),
            background: per(Priority::Background),
            retries: self.retries.load(Relaxed),
            checksum_errors: self.checksum_errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            port_reopens: self.port_reopens.load(Relaxed),
        }
    }
}

/// One priority's share of the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct PrioritySnapshot {
    /// Transactions run on the wire (jobs that expired in the queue are not).
    pub transactions: u64,
    pub queue_depth: u64,
    /// Jobs per [`QUEUE_WAIT_BUCKETS`] bucket (not cumulative), plus one
    /// last slot for waits above the largest bound.
    pub wait_buckets: Vec<u64>,
    pub wait_sum_seconds: f64,
    pub wait_count: u64,
}

/// The counters at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct BusStatsSnapshot {
    pub interactive: PrioritySnapshot,
    pub background: PrioritySnapshot,
    /// `?` retries sent and whole scans restarted.
    pub retries: u64,
    /// Frames whose checksum did not match.
    pub checksum_errors: u64,
    /// Transactions that ended with no answer.
    pub timeouts: u64,
    /// Successful opens of the port after the first one.
    pub port_reopens: u64,
}
