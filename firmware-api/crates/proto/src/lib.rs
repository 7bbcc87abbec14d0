//! The OpenDCRE serial device-bus protocol (spec §3, §4): bytes on the wire and
//! what they mean. Nothing here does I/O, so the bus actor, the emulator and the
//! fuzz/property tests all share one definition of the protocol.

pub mod board_id;
pub mod calendar;
pub mod command;
pub mod convert;
pub mod decoder;
pub mod device_type;
pub mod frame;
pub mod pytext;
pub mod uuid;

pub use command::{BootTarget, Command, PowerAction};
pub use decoder::{DecodeError, FrameDecoder};
pub use device_type::DeviceType;
pub use frame::Frame;
