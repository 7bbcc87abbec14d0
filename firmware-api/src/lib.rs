//! OpenDCRE in Rust: the device-bus protocol, the bus actor that owns the
//! serial port, a software emulator of the bus, and the REST API that serves
//! the original OpenDCRE v1.1 interface. See `ARCHITECTURE.md` for the map.

pub mod api;
pub mod auth;
pub mod bus;
pub mod config;
pub mod emulator;
pub mod emulator_host;
pub mod hat;
pub mod ipmi;
pub mod logging;
pub mod proto;
pub mod service;
pub mod systemd;
pub mod tls;
