//! The Raspberry Pi HAT: the Yamar SIG60 power-line modem that carries the
//! device bus, controlled over GPIO and configured through its register
//! interface on the Pi UART (spec §8.6).
//!
//! At service start: [`detect()`] whether a HAT is there, claim its lines
//! ([`open_rppal()`]) and run [`bring_up()`] — wake, write the configuration,
//! read it back, return to data mode — then hand the UART to the bus at
//! [`HatStatus::bus_baud`]. [`HatService`] keeps the lines for recovery and
//! wakes; [`shutdown()`] leaves them clean. Without a HAT the bus runs on the
//! bare UART.
//!
//! Everything touching hardware goes through [`HatIo`] and [`Sleeper`]; the
//! [`sim`] module implements both for tests.

pub mod bringup;
pub mod config;
pub mod detect;
pub mod error;
pub mod io;
pub mod port;
pub mod registers;
pub mod rppal_io;
pub mod service;
#[cfg(feature = "sim")]
pub mod sim;

pub use bringup::{
    bring_up, read_awake, read_modem, shutdown, wake, HatStatus, ModemReading, RegisterDump,
};
pub use config::{HatConfig, HatMode, PinConfig};
pub use detect::{detect, Detection};
pub use error::{HatError, IoError, Step};
pub use io::{HatIo, Level, Line, Sleeper, SystemSleeper};
pub use registers::{PlcConfig, RegisterError, Registers};
pub use rppal_io::open_rppal;
pub use service::HatService;
