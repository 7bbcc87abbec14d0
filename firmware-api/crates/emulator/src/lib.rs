//! Software emulator of the OpenDCRE device bus (spec §5): boards and devices
//! described in the original emulator's JSON, answering on a pty (or a real
//! serial port) so the server can be developed and tested without hardware.
//!
//! * [`config`] — parse and validate the JSON (v1.1 schema plus v1.2/v1.3 additions)
//! * [`engine`] — the pure request → response state machine
//! * [`pty`] — our own pty pair (no socat)
//! * [`run`] — the async serving loop, pacing, reconnects; [`spawn_pty`] for in-process use
//! * the `opendcre emulate` subcommand lives in the binary crate (`src/cli/emulate.rs`)
//!
//! Decisions where the original emulator was inconsistent or crashed (a crash
//! meant silence for that request, so silence is what we answer):
//!
//! * Config problems are load errors naming the JSON path, including unknown
//!   device-type names, duplicate board or device ids, bytes > 255 that are
//!   not sentinels, texts that do not fit one frame or Latin-1. A missing
//!   `repeatable` means `true`. Unknown keys only warn (`_…` keys are comments).
//! * Scalars print as Python `str()` with floats as the shortest repr (spec
//!   §5.2), not Python 2's 12-digit `str(float)`; integers are exact within
//!   64 bits (JSON integers beyond that arrive as floats).
//! * `raw_data` is a flat byte list (v1.1, written for every scan) or a list
//!   of scan answers (v1.2+); an answer given as one flat packet is accepted.
//!   A `?` after a scan-all answers each board's `retry_raw_data` packet by
//!   packet, as for single boards (the original wrote it as one flat list).
//! * `scanall`: a shuffle retry beyond the scripted list answers normally and
//!   ends the entry; entries restart their retry list when revisited;
//!   `failed_board` compares numerically.
//! * `P` answers power-like devices whatever type is asked (v1.2+), `RI`/`WI`
//!   (v1.1) and `W` (v1.2+) coexist, split on the second byte; `RI` on a device
//!   without asset text and `A` on a v1.1 string `asset_info` are silent.
//! * Stateful boot targets keep the emulator's `B0`→hdd, `B1`→pxe,
//!   `B2`→no_override mapping (spec §9.23); a read of a list-valued state
//!   shows the element the next power answer would use.
//! * `?` with no earlier request is silent; repeated `?` retry the same request.
//! * `line_noise` (ours): seeded junk, truncation and bad checksums on the
//!   packets written, so the bus layer's recovery can be measured
//!   reproducibly (see `emulator-configs/README.md`).

pub mod config;
pub mod engine;
pub mod pty;
pub mod run;

pub use config::{EmulatorConfig, EmulatorConfigError};
pub use engine::Emulator;
pub use run::{serve_port, spawn_pty, RunOptions};
