//! The device bus: one task owns the serial port and runs transactions from a
//! bounded queue, one at a time, so requests never interleave on the wire and
//! no lock file is needed (spec §3.11, fixed flaws 13/14).
//!
//! ```text
//! handlers ──BusHandle (mpsc, bounded)──► actor task ──► Transaction ──► Port (serial / pty)
//! ```
//!
//! The port is opened once and re-opened only after an I/O error (a USB serial
//! adapter unplugged, a pty peer gone), never per request.

mod actor;
mod config;
mod error;
mod hat_opener;
mod link;
mod port;
mod sequence;
mod stats;
mod transaction;

#[cfg(test)]
mod noise_tests;

pub use actor::{spawn, BusHandle, Priority, Request, ScanBoard, ScanDevice, ScanTarget};
pub use config::{BusConfig, SequenceCheck};
pub use error::BusError;
pub use hat_opener::HatOpener;
#[cfg(feature = "memory-line")]
pub use port::MemoryLine;
pub use port::{open_serial, Port, PortOpener, SerialOpener};
pub use stats::{BusStatsSnapshot, PrioritySnapshot, QUEUE_WAIT_BUCKETS};
