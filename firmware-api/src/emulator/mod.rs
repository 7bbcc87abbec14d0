//! Software emulator of the OpenDCRE device bus (spec §5): boards and devices
//! described in the original emulator's JSON, answering on a pty (or a real
//! serial port) so the server can be developed and tested without hardware.
//!
//! * [`config`] — parse and validate the JSON (v1.1 schema plus v1.2/v1.3 additions)
//! * [`engine`] — the pure request → response state machine
//! * [`pty`] — our own pty pair (no socat)
//! * [`run`] — the async serving loop, pacing, reconnects; [`spawn_pty`] for in-process use
//! * [`cli`] — the `opendcre emulate` subcommand

pub mod cli;
pub mod config;
pub mod engine;
pub mod pty;
pub mod run;

pub use config::{ConfigError, EmulatorConfig};
pub use engine::Emulator;
pub use run::{serve_port, spawn_pty, RunOptions};
