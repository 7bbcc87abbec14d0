//! The `opendcre` service assembly: configuration, logging, systemd
//! integration and the subcommands of the binary. The protocol, bus, HAT,
//! emulator, IPMI, security and HTTP layers are crates of their own under
//! `crates/`; see `ARCHITECTURE.md` for the map.

pub mod cli;
pub mod config;
pub(crate) mod emulator_host;
pub mod logging;
pub mod service;
pub(crate) mod systemd;
