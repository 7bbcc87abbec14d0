//! The `[hat]` table of the service configuration. Every value defaults to
//! what the original v1.2 code hard-wired (spec §8.6), so an empty table — or
//! none at all — reproduces the original's modem setup.
//!
//! Pin numbers are **BCM GPIO numbers** (what rppal and the kernel use). The
//! original used RPi.GPIO BOARD numbering (physical header pins); the 40-pin
//! header of the Raspberry Pi 2 Model B (same as B+/3/4) maps them as:
//!
//! | signal | physical pin | BCM | other function of that GPIO |
//! |--------|--------------|-----|-----------------------------|
//! | CMD    | 13           | 27  | –                           |
//! | FREQ   | 19           | 10  | SPI0 MOSI                   |
//! | HDI    | 8            | 14  | UART0 TXD                   |
//! | HDO    | 10           | 15  | UART0 RXD                   |
//! | INH    | 15           | 22  | –                           |
//! | nSLEEP | 11           | 17  | –                           |
//! | SELECT | 21           | 9   | SPI0 MISO                   |
//!
//! HDI/HDO are the UART's own TXD/RXD lines: they are listed so that no other
//! signal can be configured onto them, and are never claimed as GPIO (that
//! would take them away from the UART).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::HatError;
use super::registers::{self, PlcConfig, Registers};

/// Whether the service sets up the modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HatMode {
    /// Set up the modem when the device tree reports a HAT.
    #[default]
    Auto,
    /// Always set up the modem, e.g. for a HAT without an ID EEPROM.
    On,
    /// Never touch GPIO; the bus runs on the UART as it is.
    Off,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HatConfig {
    pub enabled: HatMode,
    /// The UART wired to the modem (the same device the bus uses).
    pub uart: PathBuf,
    /// Where the kernel exposes the device tree; tests point it elsewhere.
    pub device_tree: PathBuf,
    /// When set, `auto` accepts only a HAT whose EEPROM product string equals
    /// this; otherwise any HAT with an ID EEPROM counts as ours.
    pub product: Option<String>,
    pub pins: PinConfig,
    pub modem: ModemConfig,
    pub timing: TimingConfig,
}

impl Default for HatConfig {
    fn default() -> Self {
        HatConfig {
            enabled: HatMode::Auto,
            uart: PathBuf::from("/dev/ttyAMA0"),
            device_tree: PathBuf::from("/proc/device-tree"),
            product: None,
            pins: PinConfig::default(),
            modem: ModemConfig::default(),
            timing: TimingConfig::default(),
        }
    }
}

/// BCM GPIO numbers of the modem's lines (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinConfig {
    pub cmd: u8,
    pub freq: u8,
    pub hdi: u8,
    pub hdo: u8,
    pub inh: u8,
    pub sleep: u8,
    pub select: u8,
}

impl Default for PinConfig {
    fn default() -> Self {
        PinConfig {
            cmd: 27,
            freq: 10,
            hdi: 14,
            hdo: 15,
            inh: 22,
            sleep: 17,
            select: 9,
        }
    }
}

/// The modem settings written at bring-up, named as in the original's
/// `plc_config` (f0/f1 in MHz). The status bit `interference_detected` is
/// not configurable: it is always written as 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModemConfig {
    pub frequency_number: u8,
    pub f0: f64,
    pub f1: f64,
    pub bit_rate: u32,
    pub remote_loopback: bool,
    pub interference_hopping: bool,
    pub long_wum: bool,
    pub auto_sleep: bool,
    pub auto_wum: bool,
    pub loopback_enabled: bool,
}

impl Default for ModemConfig {
    fn default() -> Self {
        let d = PlcConfig::opendcre_default();
        ModemConfig {
            frequency_number: d.frequency_number,
            f0: d.f0,
            f1: d.f1,
            bit_rate: d.bit_rate,
            remote_loopback: d.remote_loopback,
            interference_hopping: d.interference_hopping,
            long_wum: d.long_wum,
            auto_sleep: d.auto_sleep,
            auto_wum: d.auto_wum,
            loopback_enabled: d.loopback_enabled,
        }
    }
}

impl ModemConfig {
    pub(crate) fn to_plc_config(&self) -> PlcConfig {
        PlcConfig {
            frequency_number: self.frequency_number,
            remote_loopback: self.remote_loopback,
            interference_hopping: self.interference_hopping,
            long_wum: self.long_wum,
            auto_sleep: self.auto_sleep,
            auto_wum: self.auto_wum,
            loopback_enabled: self.loopback_enabled,
            interference_detected: false,
            f0: self.f0,
            f1: self.f1,
            bit_rate: self.bit_rate,
        }
    }

    /// The register values this configuration asks for.
    pub fn registers(&self) -> Result<Registers, HatError> {
        Ok(registers::encode(&self.to_plc_config())?)
    }
}

/// Delays and limits of the pin protocol, in milliseconds. Defaults are the
/// original's (`time.sleep` values in `plc_rpi_v1.py`) where it had one; the
/// read timeout is new because the original read without any timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimingConfig {
    /// Width of the low pulse on nSLEEP that wakes the modem.
    pub wake_pulse_ms: u64,
    /// Pause after nSLEEP returns high before INH is first polled.
    pub wake_settle_ms: u64,
    /// Interval between INH polls while waiting for the modem to wake.
    pub inh_poll_ms: u64,
    /// How long INH may stay low after a wake pulse.
    pub inh_timeout_ms: u64,
    /// Wake pulses tried before giving up (the original's start-up loop
    /// called wake() twice).
    pub wake_attempts: u32,
    /// Time the modem needs to send its wake-up message once INH is high.
    pub post_wake_ms: u64,
    /// Pause after CMD changes level before the modem is spoken to.
    pub command_settle_ms: u64,
    /// UART speed of the modem's register interface.
    pub register_baud: u32,
    /// How long to wait for each register byte.
    pub register_timeout_ms: u64,
    /// How often the configuration is written before it is read back (the
    /// original wrote it twice at start-up).
    pub config_writes: u32,
}

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            wake_pulse_ms: 1,
            wake_settle_ms: 1,
            inh_poll_ms: 1,
            inh_timeout_ms: 1000,
            wake_attempts: 2,
            post_wake_ms: 150,
            command_settle_ms: 1,
            register_baud: 19200,
            register_timeout_ms: 250,
            config_writes: 2,
        }
    }
}

impl TimingConfig {
    pub(crate) fn wake_pulse(&self) -> Duration {
        Duration::from_millis(self.wake_pulse_ms)
    }
    pub(crate) fn wake_settle(&self) -> Duration {
        Duration::from_millis(self.wake_settle_ms)
    }
    pub(crate) fn inh_poll(&self) -> Duration {
        Duration::from_millis(self.inh_poll_ms)
    }
    pub(crate) fn inh_timeout(&self) -> Duration {
        Duration::from_millis(self.inh_timeout_ms)
    }
    pub(crate) fn post_wake(&self) -> Duration {
        Duration::from_millis(self.post_wake_ms)
    }
    pub(crate) fn command_settle(&self) -> Duration {
        Duration::from_millis(self.command_settle_ms)
    }
    pub(crate) fn register_timeout(&self) -> Duration {
        Duration::from_millis(self.register_timeout_ms)
    }
}

/// Longest accepted value for any single delay: a typo such as an extra
/// zero must not stall start-up for minutes.
const MAX_DELAY_MS: u64 = 60_000;
/// Highest GPIO number on the 40-pin header.
const MAX_HEADER_BCM: u8 = 27;
/// Speeds the Pi UART and the modem both understand.
const STANDARD_BAUDS: [u32; 6] = [9600, 19200, 38400, 57600, 115200, 230400];

impl HatConfig {
    /// Parse the `[hat]` table out of a whole service configuration file
    /// (other tables are left to their owners). A file without `[hat]`
    /// yields the defaults.
    pub fn from_service_toml(text: &str) -> Result<HatConfig, HatError> {
        let doc: toml::Table =
            toml::from_str(text).map_err(|e| HatError::Config(format!("not valid TOML: {e}")))?;
        let cfg = match doc.get("hat") {
            None => HatConfig::default(),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| HatError::Config(format!("[hat]: {e}")))?,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// [`from_service_toml`](Self::from_service_toml) on a file.
    pub fn load(path: &Path) -> Result<HatConfig, HatError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| HatError::Config(format!("cannot read {}: {e}", path.display())))?;
        HatConfig::from_service_toml(&text).map_err(|e| {
            let detail = match e {
                HatError::Config(msg) => msg,
                other => other.to_string(),
            };
            HatError::Config(format!("{}: {detail}", path.display()))
        })
    }

    /// Reject configurations that would drive the wrong pins, wait forever or
    /// write registers the modem cannot hold — before any pin is touched.
    pub fn validate(&self) -> Result<(), HatError> {
        let p = &self.pins;
        let named = [
            ("cmd", p.cmd),
            ("freq", p.freq),
            ("hdi", p.hdi),
            ("hdo", p.hdo),
            ("inh", p.inh),
            ("sleep", p.sleep),
            ("select", p.select),
        ];
        for (i, (name, pin)) in named.iter().enumerate() {
            if *pin > MAX_HEADER_BCM {
                return Err(HatError::Config(format!(
                    "[hat.pins] {name} = {pin}: the 40-pin header carries BCM GPIO 0..={MAX_HEADER_BCM}"
                )));
            }
            if let Some((other, _)) = named[..i].iter().find(|(_, q)| q == pin) {
                return Err(HatError::Config(format!(
                    "[hat.pins] {other} and {name} are both GPIO {pin}"
                )));
            }
        }

        let t = &self.timing;
        let delays = [
            ("wake_pulse_ms", t.wake_pulse_ms),
            ("wake_settle_ms", t.wake_settle_ms),
            ("inh_poll_ms", t.inh_poll_ms),
            ("inh_timeout_ms", t.inh_timeout_ms),
            ("post_wake_ms", t.post_wake_ms),
            ("command_settle_ms", t.command_settle_ms),
            ("register_timeout_ms", t.register_timeout_ms),
        ];
        for (name, ms) in delays {
            if ms > MAX_DELAY_MS {
                return Err(HatError::Config(format!(
                    "[hat.timing] {name} = {ms} is above the limit of {MAX_DELAY_MS} ms"
                )));
            }
        }
        for (name, ms) in [
            ("wake_pulse_ms", t.wake_pulse_ms),
            ("inh_poll_ms", t.inh_poll_ms),
            ("register_timeout_ms", t.register_timeout_ms),
        ] {
            if ms == 0 {
                return Err(HatError::Config(format!(
                    "[hat.timing] {name} must be at least 1 ms"
                )));
            }
        }
        if !(1..=10).contains(&t.wake_attempts) {
            return Err(HatError::Config(format!(
                "[hat.timing] wake_attempts = {} must be 1..=10",
                t.wake_attempts
            )));
        }
        if !(1..=10).contains(&t.config_writes) {
            return Err(HatError::Config(format!(
                "[hat.timing] config_writes = {} must be 1..=10",
                t.config_writes
            )));
        }
        if !STANDARD_BAUDS.contains(&t.register_baud) {
            return Err(HatError::Config(format!(
                "[hat.timing] register_baud = {} is not one of {STANDARD_BAUDS:?}",
                t.register_baud
            )));
        }
        self.modem.registers()?;
        Ok(())
    }
}
