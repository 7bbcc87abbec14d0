//! The SIG60's two control registers (spec §8.6) and the `plc_config` view the
//! original exposed. Pure functions only, so every register value the bring-up
//! writes or reads can be checked against the spec tables without hardware.
//!
//! reg0, one flag per bit; bits 4–6 are active-low in the register, which is why
//! the original's `auto_sleep`, `auto_wum` and `loopback_enabled` invert them:
//!
//! | bit | meaning                 |
//! |-----|-------------------------|
//! | 0   | frequency number (0 → f0, 1 → f1) |
//! | 1   | remote loopback         |
//! | 2   | interference hopping    |
//! | 3   | long wake-up message    |
//! | 4   | NOT auto_sleep          |
//! | 5   | NOT auto_wum            |
//! | 6   | NOT loopback_enabled    |
//! | 7   | interference detected (status, set by the modem) |
//!
//! reg1: bits 3:0 index [`FREQUENCY_PAIRS_KHZ`], bits 5:4 index the bit-rate
//! table of the carrier in use ([`BIT_RATES_LOW`] below 10 MHz, else
//! [`BIT_RATES_HIGH`]). Bits 7:6 are not described by the spec; they are
//! written as 0 and ignored on read.

use serde::{Deserialize, Serialize};

/// Carrier pairs (f0, f1) in kHz, in register order. Kept in kHz so that
/// table look-ups compare integers instead of floats.
pub const FREQUENCY_PAIRS_KHZ: [(u32, u32); 16] = [
    (1750, 4500),
    (1750, 5500),
    (1750, 6000),
    (1750, 6500),
    (4500, 5500),
    (4500, 6000),
    (4500, 6500),
    (4500, 10500),
    (10500, 13000),
    (5500, 10500),
    (5500, 13000),
    (6000, 10500),
    (6000, 13000),
    (6500, 10500),
    (6500, 13000),
    (5500, 6500),
];

/// Bit rates selectable when the carrier in use is below 10 MHz.
pub const BIT_RATES_LOW: [u32; 4] = [38400, 57600, 9600, 19200];
/// Bit rates selectable when the carrier in use is 10 MHz or above.
pub const BIT_RATES_HIGH: [u32; 4] = [38400, 57600, 115200, 19200];

/// Register bits whose read-back must equal what was written. Bit 7 of reg0
/// is a status flag the modem sets itself; reg1 bits 7:6 are undocumented.
pub(crate) const REG0_VERIFY_MASK: u8 = 0x7F;
/// See [`REG0_VERIFY_MASK`].
pub(crate) const REG1_VERIFY_MASK: u8 = 0x3F;

/// Register-port commands (sent while CMD is low, at the register baud rate).
pub(crate) const CMD_READ_REG0: u8 = 0x0D;
/// Read control register 1.
pub(crate) const CMD_READ_REG1: u8 = 0x1D;
/// Write control register 0; the value byte follows.
pub(crate) const CMD_WRITE_REG0: u8 = 0x05;
/// Write control register 1; the value byte follows.
pub(crate) const CMD_WRITE_REG1: u8 = 0x15;

/// The raw contents of both control registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registers {
    pub reg0: u8,
    pub reg1: u8,
}

impl Registers {
    /// Whether `read` agrees with `self` on every bit the modem must keep.
    pub fn matches_written(&self, read: &Registers) -> bool {
        (self.reg0 & REG0_VERIFY_MASK) == (read.reg0 & REG0_VERIFY_MASK)
            && (self.reg1 & REG1_VERIFY_MASK) == (read.reg1 & REG1_VERIFY_MASK)
    }
}

/// The modem configuration with exactly the field names of the original's
/// `plc_config` dictionary, so JSON produced from it is what v1.2 clients saw.
/// `f0`/`f1` are carrier frequencies in MHz.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlcConfig {
    pub frequency_number: u8,
    pub remote_loopback: bool,
    pub interference_hopping: bool,
    pub long_wum: bool,
    pub auto_sleep: bool,
    pub auto_wum: bool,
    pub loopback_enabled: bool,
    pub interference_detected: bool,
    pub f0: f64,
    pub f1: f64,
    pub bit_rate: u32,
}

impl PlcConfig {
    /// The configuration the original wrote at every start (spec §8.6).
    pub fn opendcre_default() -> Self {
        PlcConfig {
            frequency_number: 1,
            remote_loopback: false,
            interference_hopping: false,
            long_wum: true,
            auto_sleep: true,
            auto_wum: false,
            loopback_enabled: false,
            interference_detected: false,
            f0: 5.5,
            f1: 10.5,
            bit_rate: 115200,
        }
    }
}

/// Why a configuration cannot be written to the registers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegisterError {
    #[error("frequency_number must be 0 (use f0) or 1 (use f1), not {0}")]
    FrequencyNumber(u8),
    #[error("{name} = {value} MHz is not a SIG60 carrier; carriers are {choices} MHz")]
    NotACarrier {
        name: &'static str,
        value: f64,
        choices: String,
    },
    #[error("the SIG60 has no carrier pair f0 = {f0} MHz, f1 = {f1} MHz{hint}; pairs are {pairs}")]
    NoSuchPair {
        f0: f64,
        f1: f64,
        hint: String,
        pairs: String,
    },
    #[error(
        "bit_rate {bit_rate} is not available on a {carrier} MHz carrier \
         (frequency_number {frequency_number}); choose one of {allowed:?}"
    )]
    BitRate {
        bit_rate: u32,
        carrier: f64,
        frequency_number: u8,
        allowed: [u32; 4],
    },
}

/// The bit-rate table that applies to a carrier, by the original's rule
/// `0 < f < 10 MHz → low table, otherwise high table`.
pub(crate) fn bit_rate_table(carrier_khz: u32) -> &'static [u32; 4] {
    if carrier_khz > 0 && carrier_khz < 10_000 {
        &BIT_RATES_LOW
    } else {
        &BIT_RATES_HIGH
    }
}

/// Encode a configuration into (reg0, reg1), rejecting anything the tables
/// cannot express instead of writing a near miss to the modem.
pub fn encode(cfg: &PlcConfig) -> Result<Registers, RegisterError> {
    if cfg.frequency_number > 1 {
        return Err(RegisterError::FrequencyNumber(cfg.frequency_number));
    }
    let f0 = carrier_khz("f0", cfg.f0)?;
    let f1 = carrier_khz("f1", cfg.f1)?;
    let pair_index = FREQUENCY_PAIRS_KHZ
        .iter()
        .position(|&p| p == (f0, f1))
        .ok_or_else(|| no_such_pair(cfg.f0, cfg.f1, f0, f1))?;
    let carrier = if cfg.frequency_number == 0 { f0 } else { f1 };
    let table = bit_rate_table(carrier);
    let rate_index =
        table
            .iter()
            .position(|&r| r == cfg.bit_rate)
            .ok_or(RegisterError::BitRate {
                bit_rate: cfg.bit_rate,
                carrier: khz_to_mhz(carrier),
                frequency_number: cfg.frequency_number,
                allowed: *table,
            })?;

    let mut reg0 = cfg.frequency_number & 0x01;
    reg0 |= u8::from(cfg.remote_loopback) << 1;
    reg0 |= u8::from(cfg.interference_hopping) << 2;
    reg0 |= u8::from(cfg.long_wum) << 3;
    reg0 |= u8::from(!cfg.auto_sleep) << 4;
    reg0 |= u8::from(!cfg.auto_wum) << 5;
    reg0 |= u8::from(!cfg.loopback_enabled) << 6;
    reg0 |= u8::from(cfg.interference_detected) << 7;
    // Both indices are < 16 and < 4 by construction of the tables.
    let reg1 = (pair_index as u8) | ((rate_index as u8) << 4);
    Ok(Registers { reg0, reg1 })
}

/// Decode register contents. Every byte pair decodes: reg1's pair index has
/// 16 table entries for its 4 bits and the rate index 4 entries for 2 bits.
pub fn decode(regs: Registers) -> PlcConfig {
    let r0 = regs.reg0;
    let bit = |n: u8| (r0 >> n) & 1 == 1;
    let (f0, f1) = FREQUENCY_PAIRS_KHZ[usize::from(regs.reg1 & 0x0F)];
    let frequency_number = r0 & 0x01;
    let carrier = if frequency_number == 0 { f0 } else { f1 };
    let bit_rate = bit_rate_table(carrier)[usize::from((regs.reg1 >> 4) & 0x03)];
    PlcConfig {
        frequency_number,
        remote_loopback: bit(1),
        interference_hopping: bit(2),
        long_wum: bit(3),
        auto_sleep: !bit(4),
        auto_wum: !bit(5),
        loopback_enabled: !bit(6),
        interference_detected: bit(7),
        f0: khz_to_mhz(f0),
        f1: khz_to_mhz(f1),
        bit_rate,
    }
}

/// All distinct carriers of the pair table, ascending, in kHz.
pub(crate) fn carriers_khz() -> Vec<u32> {
    let mut all: Vec<u32> = FREQUENCY_PAIRS_KHZ
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn khz_to_mhz(khz: u32) -> f64 {
    f64::from(khz) / 1000.0
}

/// A carrier given in MHz, as an exact table value in kHz. Values that are
/// not within a millionth of a kHz of a table carrier are rejected rather
/// than rounded, so `5.45` never silently becomes 5.5 MHz.
fn carrier_khz(name: &'static str, mhz: f64) -> Result<u32, RegisterError> {
    let carriers = carriers_khz();
    let scaled = mhz * 1000.0;
    let found = if scaled.is_finite() {
        carriers
            .iter()
            .copied()
            .find(|&c| (f64::from(c) - scaled).abs() < 1e-6)
    } else {
        None
    };
    found.ok_or_else(|| RegisterError::NotACarrier {
        name,
        value: mhz,
        choices: join_mhz(carriers.iter().copied()),
    })
}

fn no_such_pair(f0_mhz: f64, f1_mhz: f64, f0: u32, f1: u32) -> RegisterError {
    let hint = if FREQUENCY_PAIRS_KHZ.contains(&(f1, f0)) {
        format!(" (the pair exists the other way round: f0 = {f1_mhz}, f1 = {f0_mhz})")
    } else {
        String::new()
    };
    let pairs = FREQUENCY_PAIRS_KHZ
        .iter()
        .map(|&(a, b)| format!("({}, {})", khz_to_mhz(a), khz_to_mhz(b)))
        .collect::<Vec<_>>()
        .join(" ");
    RegisterError::NoSuchPair {
        f0: f0_mhz,
        f1: f1_mhz,
        hint,
        pairs,
    }
}

fn join_mhz(khz: impl Iterator<Item = u32>) -> String {
    khz.map(|k| khz_to_mhz(k).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opendcre_default_is_0x69_0x29() {
        let regs = encode(&PlcConfig::opendcre_default()).unwrap();
        assert_eq!(
            regs,
            Registers {
                reg0: 0x69,
                reg1: 0x29
            }
        );
        assert_eq!(decode(regs), PlcConfig::opendcre_default());
    }

    #[test]
    fn bit_rate_table_boundary_follows_original_rule() {
        assert_eq!(bit_rate_table(6500), &BIT_RATES_LOW);
        assert_eq!(bit_rate_table(10000), &BIT_RATES_HIGH);
        assert_eq!(bit_rate_table(10500), &BIT_RATES_HIGH);
    }
}
