//! IPMI-over-LAN bridge (spec §7).
//!
//! * [`config`] — `bmc_config.json` (v1.1) and `[[ipmi.bmc]]` TOML entries.
//! * [`wire`] — packet codecs: RMCP/ASF, IPMI messages, v1.5 and RMCP+ sessions, RAKP.
//! * [`commands`], [`fru`] — chassis status/control, Get Device ID, FRU decoding.

pub mod commands;
pub mod config;
pub mod error;
pub mod fru;
pub mod wire;

pub use commands::{ChassisControl, ChassisPower, ChassisStatus, DeviceId};
pub use config::{
    bmcs_from_toml, load_bmc_config_json, parse_bmc_config_json, AuthType, BmcConfig, BmcToml,
    ConfigError, EntryError, Interface, InvalidBmc, KeyError, Privilege,
};
pub use error::IpmiError;
pub use fru::FruInfo;
