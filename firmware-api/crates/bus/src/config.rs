//! Bus timing and behaviour settings (`[bus]` in opendcre.toml).

use std::time::Duration;

/// How strictly answers are matched to requests by sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SequenceCheck {
    /// Accept any sequence except that of a request we already gave up on:
    /// v1.1 firmware and the v1.1 emulator always answer with sequence 1.
    Compat,
    /// Only the request's own sequence counts (v1.2+ firmware echoes it).
    Strict,
}

/// Everything the actor needs to know about timing and retries.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Silence after which a pending answer counts as missing.
    pub read_timeout: Duration,
    /// Silence that ends a single-board scan after its last answer.
    pub scan_silence: Duration,
    /// Silence that ends a scan-all: boards answer in time slots, so empty
    /// slots between boards must not end the scan early (spec flaw 2).
    pub scan_all_silence: Duration,
    /// Attempts after a corrupt answer (scan: total attempts; others: `?` retries).
    pub retry_limit: u32,
    /// Board answer slot width carried in the scan-all board id.
    pub time_slice_ms: u8,
    /// Host id bytes of the scan-all board id.
    pub host_id: (u8, u8),
    /// Jobs that may wait for the bus.
    pub queue_depth: usize,
    pub sequence_check: SequenceCheck,
    /// Pause before flushing after a corrupt scan answer (the original's 150 ms).
    pub scan_retry_pause: Duration,
    /// Quiet time inside an answer that shows the sender has stopped: a
    /// partial frame that gets no byte for this long was cut short (a data
    /// error, so a command retries with `?` instead of timing out), and
    /// after a corrupt frame the line counts as settled. Senders write a
    /// frame back-to-back; at 115200 baud 20 ms is over 200 byte times.
    /// A slower path (QEMU's emulated UART under load) needs a longer gap,
    /// or intact answers with pauses inside would be taken for cut ones.
    pub frame_gap: Duration,
    /// Delay between attempts to re-open a failed port.
    pub reopen_backoff: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            read_timeout: Duration::from_millis(250),
            // One answer slot: a board's whole dump must fit its slot in a
            // scan-all, so no gap inside a dump can be longer (the original
            // waited 250 ms, capping scans at 4 per second).
            scan_silence: Duration::from_millis(75),
            scan_all_silence: Duration::from_millis(400),
            retry_limit: 3,
            time_slice_ms: opendcre_proto::board_id::DEFAULT_TIME_SLICE_MS,
            host_id: (0, 0),
            queue_depth: 64,
            sequence_check: SequenceCheck::Compat,
            scan_retry_pause: Duration::from_millis(150),
            frame_gap: Duration::from_millis(20),
            reopen_backoff: Duration::from_millis(500),
        }
    }
}
