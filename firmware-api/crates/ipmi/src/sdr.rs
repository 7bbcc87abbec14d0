//! Sensor Data Records and readings (IPMI v2.0 §33, §35.14, §36): codecs
//! for Reserve SDR Repository, Get SDR, Get Sensor Reading and Get Sensor
//! Thresholds, the Full Sensor Record (type 01h, Table 43-1) of an analog
//! sensor with its thresholds, and the conversion of a raw reading to its
//! unit (§36.3). No I/O here.

use serde::Serialize;

pub(crate) const NETFN_SENSOR: u8 = 0x04;
pub(crate) const CMD_GET_SENSOR_READING: u8 = 0x2D;
pub(crate) const CMD_GET_SENSOR_THRESHOLDS: u8 = 0x27;
pub(crate) const CMD_RESERVE_SDR: u8 = 0x22;
pub(crate) const CMD_GET_SDR: u8 = 0x23;

/// Record id of the first record in Get SDR, and "next" after the last.
pub const FIRST: u16 = 0x0000;
pub const LAST: u16 = 0xFFFF;
/// The SDR header: record id, version, type, length.
pub const HEADER: usize = 5;

/// What a sensor measures, of the units the node shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SensorUnit {
    Celsius,
    Volts,
    Amps,
    Watts,
    Rpm,
}

impl SensorUnit {
    /// The base unit type code (§43.17) this is, if one the node shows.
    fn of(code: u8) -> Option<SensorUnit> {
        match code {
            1 => Some(SensorUnit::Celsius),
            4 => Some(SensorUnit::Volts),
            5 => Some(SensorUnit::Amps),
            6 => Some(SensorUnit::Watts),
            18 => Some(SensorUnit::Rpm),
            _ => None,
        }
    }
}

/// An analog sensor of a Full Sensor Record, owned by the BMC itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalogSensor {
    pub number: u8,
    pub name: String,
    /// What the sensor sits on (Table 43-13: 03h processor, 07h system
    /// board, 0Ah power supply, 1Dh fan, 37h air inlet…).
    pub entity_id: u8,
    pub unit: SensorUnit,
    /// How its thresholds can be read (§43.1 byte 12 bits 3:2; `None` for a
    /// sensor that is not threshold-based).
    pub thresholds: ThresholdAccess,
    /// Raw reading format: 0 unsigned, 1 one's complement, 2 two's
    /// complement.
    format: u8,
    linearization: u8,
    m: i16,
    b: i16,
    r_exp: i8,
    b_exp: i8,
}

/// Where a sensor's thresholds are (§43.1 byte 12, "threshold access
/// support").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ThresholdAccess {
    /// Not a threshold-based sensor, or it has none.
    None,
    /// Get Sensor Thresholds answers them.
    Readable,
    /// Fixed: the record's own values, those its readable mask names.
    Fixed { mask: u8, raw: [u8; 6] },
}

/// A sensor's thresholds in its unit, as IPMI names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Thresholds {
    pub lower_non_critical: Option<f64>,
    pub lower_critical: Option<f64>,
    pub lower_non_recoverable: Option<f64>,
    pub upper_non_critical: Option<f64>,
    pub upper_critical: Option<f64>,
    pub upper_non_recoverable: Option<f64>,
}

/// The worst threshold a reading is at or beyond (Get Sensor Reading byte
/// 3): the BMC's own judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Crossed {
    None,
    NonCritical,
    Critical,
    NonRecoverable,
}

/// Sign-extends the low `bits` bits of `v`.
fn signed(v: u16, bits: u32) -> i16 {
    let shift = 16 - bits;
    ((v << shift) as i16) >> shift
}

/// The Full Sensor Record in `rec` (header included) as an analog sensor
/// the node can show: `None` for other record types, sensors of another
/// controller or LUN (they need bridging), non-analog readings, units the
/// node does not show, and non-linear formulas (§36.3: OEM, 70h-7Fh).
pub fn analog_sensor(rec: &[u8]) -> Option<AnalogSensor> {
    if rec.len() < 48 || rec[3] != 0x01 {
        return None;
    }
    let (owner, lun, number) = (rec[5], rec[6] & 0x03, rec[7]);
    if owner != 0x20 || lun != 0 {
        return None;
    }
    let format = rec[20] >> 6;
    if format == 3 {
        return None; // no analog reading
    }
    let unit = SensorUnit::of(rec[21])?;
    let linearization = rec[23] & 0x7F;
    if linearization > 0x0B {
        return None;
    }
    let m = signed(u16::from(rec[24]) | (u16::from(rec[25] >> 6) << 8), 10);
    let b = signed(u16::from(rec[26]) | (u16::from(rec[27] >> 6) << 8), 10);
    let r_exp = signed(u16::from(rec[29] >> 4), 4) as i8;
    let b_exp = signed(u16::from(rec[29] & 0x0F), 4) as i8;
    // Event/reading type 01h is "threshold"; byte 12 bits 3:2 say how the
    // thresholds are reached; byte 19 bits 5:0 which are readable, in the
    // order lower NC, C, NR, upper NC, C, NR; bytes 37-42 hold them, upper
    // NR first.
    let thresholds = match (rec[13], (rec[11] >> 2) & 0x03) {
        (0x01, 1 | 2) => ThresholdAccess::Readable,
        (0x01, 3) => ThresholdAccess::Fixed {
            mask: rec[18] & 0x3F,
            raw: [rec[41], rec[40], rec[39], rec[38], rec[37], rec[36]],
        },
        _ => ThresholdAccess::None,
    };
    let len = usize::from(rec[47] & 0x1F);
    let name_bytes = rec.get(48..48 + len).unwrap_or(&rec[48..]);
    // Type/length bits 7:6 = 11b: 8-bit ASCII + Latin-1; the other
    // encodings (BCD plus, 6-bit ASCII) are rare in sensor names and
    // shown by number instead.
    let name = if rec[47] >> 6 == 3 {
        name_bytes
            .iter()
            .map(|&c| char::from(c))
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_string()
    } else {
        String::new()
    };
    Some(AnalogSensor {
        number,
        name: if name.is_empty() {
            format!("Sensor {number:#04x}")
        } else {
            name
        },
        entity_id: rec[8],
        unit,
        thresholds,
        format,
        linearization,
        m,
        b,
        r_exp,
        b_exp,
    })
}

impl AnalogSensor {
    /// The raw reading in the sensor's unit: y = L[(M·x + B·10^Bexp)·10^Rexp].
    pub fn convert(&self, raw: u8) -> f64 {
        let x = match self.format {
            1 if raw & 0x80 != 0 => -f64::from(!raw & 0x7F),
            2 => f64::from(raw as i8),
            _ => f64::from(raw),
        };
        let y = (f64::from(self.m) * x + f64::from(self.b) * 10f64.powi(self.b_exp.into()))
            * 10f64.powi(self.r_exp.into());
        match self.linearization {
            0x01 => y.ln(),
            0x02 => y.log10(),
            0x03 => y.log2(),
            0x04 => y.exp(),
            0x05 => 10f64.powf(y),
            0x06 => y.exp2(),
            0x07 => 1.0 / y,
            0x08 => y * y,
            0x09 => y * y * y,
            0x0A => y.sqrt(),
            0x0B => y.cbrt(),
            _ => y,
        }
    }
}

impl AnalogSensor {
    /// Thresholds from a readable mask and six raw values in the order
    /// lower NC, C, NR, upper NC, C, NR (Get Sensor Thresholds' answer, or
    /// a fixed record's bytes).
    pub fn thresholds_of(&self, mask: u8, raw: [u8; 6]) -> Thresholds {
        let t = |bit: usize| (mask & (1 << bit) != 0).then(|| self.convert(raw[bit]));
        Thresholds {
            lower_non_critical: t(0),
            lower_critical: t(1),
            lower_non_recoverable: t(2),
            upper_non_critical: t(3),
            upper_critical: t(4),
            upper_non_recoverable: t(5),
        }
    }
}

/// Get Sensor Thresholds answer: the readable mask and the six raw values.
pub fn decode_thresholds(d: &[u8]) -> Result<(u8, [u8; 6]), String> {
    match d {
        [mask, a, b, c, x, y, z, ..] => Ok((mask & 0x3F, [*a, *b, *c, *x, *y, *z])),
        _ => Err(format!(
            "Get Sensor Thresholds returned {} data bytes, expected 7",
            d.len()
        )),
    }
}

/// What Get Sensor Reading's third byte says of a threshold sensor's
/// reading (§35.14: bits 0-5 at or beyond lower NC, C, NR, upper NC, C,
/// NR); absent on BMCs that leave it out.
pub fn decode_crossed(d: &[u8]) -> Crossed {
    let Some(bits) = d.get(2) else {
        return Crossed::None;
    };
    if bits & 0b100100 != 0 {
        Crossed::NonRecoverable
    } else if bits & 0b010010 != 0 {
        Crossed::Critical
    } else if bits & 0b001001 != 0 {
        Crossed::NonCritical
    } else {
        Crossed::None
    }
}

/// Get SDR request: reservation, record id, offset, bytes to read.
pub fn get_sdr_request(reservation: u16, id: u16, offset: u8, count: u8) -> [u8; 6] {
    let r = reservation.to_le_bytes();
    let i = id.to_le_bytes();
    [r[0], r[1], i[0], i[1], offset, count]
}

/// Get SDR answer: the next record id and the bytes read.
pub fn decode_get_sdr(d: &[u8]) -> Result<(u16, &[u8]), String> {
    match d {
        [lo, hi, rest @ ..] => Ok((u16::from_le_bytes([*lo, *hi]), rest)),
        _ => Err(format!("Get SDR returned {} data bytes", d.len())),
    }
}

/// A sensor's reading: `None` when the BMC says it is unavailable or not
/// scanned (§35.14 byte 2: bit 6 clear = scanning disabled, bit 5 set =
/// reading unavailable).
pub fn decode_reading(d: &[u8]) -> Result<Option<u8>, String> {
    match d {
        [raw, flags, ..] => Ok((flags & 0x40 != 0 && flags & 0x20 == 0).then_some(*raw)),
        _ => Err(format!(
            "Get Sensor Reading returned {} data bytes, expected 2 or more",
            d.len()
        )),
    }
}

/// One sensor as read: its record and value (`None`: unavailable, with
/// the reason in `error`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensorValue {
    pub sensor: AnalogSensor,
    pub value: Option<f64>,
    pub error: Option<String>,
    /// Its thresholds, those the BMC gives (all `None` for a sensor
    /// without, or when they could not be read).
    pub thresholds: Thresholds,
    /// The worst threshold the reading is at or beyond, as the BMC says.
    pub crossed: Crossed,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ipmi_sim's "Temp" record of ci/peers/ipmi_sim/sim.emu.in.
    fn temp_record() -> Vec<u8> {
        let mut r = vec![
            0x00, 0x00, 0x51, 0x01, 0x2f, 0x20, 0x00, 0x01, 0x03, 0x01, 0x67, 0x88, 0x01, 0x01,
            0xc0, 0x0f, 0xc0, 0x7f, 0x38, 0x38, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x03, 0x60, 0xb0, 0x00, 0xb0, 0x00, 0xa0, 0x90, 0x70, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0xc4,
        ];
        r.extend_from_slice(b"Temp");
        r
    }

    #[test]
    fn full_record_and_conversion() {
        let s = analog_sensor(&temp_record()).unwrap();
        assert_eq!(
            (s.number, s.name.as_str(), s.unit),
            (1, "Temp", SensorUnit::Celsius)
        );
        assert_eq!(s.entity_id, 0x03, "processor");
        assert_eq!(s.convert(0x19), 25.0);
        // 12 V rail: M = 6, R exp = -2 (0.06 V per count), two's complement.
        let mut v = temp_record();
        v[21] = 4;
        v[20] = 0x80;
        v[24] = 6;
        v[29] = 0xE0;
        let s = analog_sensor(&v).unwrap();
        assert_eq!(s.unit, SensorUnit::Volts);
        assert!((s.convert(200u8.wrapping_sub(0)) - (-56.0 * 0.06)).abs() < 1e-9);
        assert!((s.convert(100) - 6.0).abs() < 1e-9);
        // M = -3 (10-bit two's complement), B = 10 with B exp 1: -3x + 100.
        let mut n = temp_record();
        n[24] = 0xFD;
        n[25] = 0xC0;
        n[26] = 10;
        n[29] = 0x01;
        assert_eq!(analog_sensor(&n).unwrap().convert(10), 70.0);
        // Another owner, a discrete reading, an unknown unit, a compact
        // record, a short one: not shown.
        for (i, val) in [(5, 0x22u8), (20, 0xC0), (21, 0x30), (3, 0x02)] {
            let mut x = temp_record();
            x[i] = val;
            assert!(analog_sensor(&x).is_none(), "byte {i} = {val:#x}");
        }
        assert!(analog_sensor(&temp_record()[..40]).is_none());
        let mut unnamed = temp_record();
        unnamed[47] = 0xC0;
        assert_eq!(analog_sensor(&unnamed).unwrap().name, "Sensor 0x01");
    }

    #[test]
    fn codecs() {
        assert_eq!(
            get_sdr_request(0x1234, 0x0102, 5, 16),
            [0x34, 0x12, 0x02, 0x01, 5, 16]
        );
        assert_eq!(
            decode_get_sdr(&[0xff, 0xff, 1, 2]).unwrap(),
            (LAST, &[1u8, 2][..])
        );
        assert!(decode_get_sdr(&[1]).is_err());
        assert_eq!(decode_reading(&[0x19, 0x40, 0x00]).unwrap(), Some(0x19));
        assert_eq!(decode_reading(&[0x19, 0x60]).unwrap(), None, "unavailable");
        assert_eq!(decode_reading(&[0x19, 0x00]).unwrap(), None, "not scanned");
        assert!(decode_reading(&[0x19]).is_err());
        assert_eq!(decode_crossed(&[0x19, 0x40]), Crossed::None);
        assert_eq!(decode_crossed(&[0x19, 0x40, 0x08]), Crossed::NonCritical);
        assert_eq!(decode_crossed(&[0x19, 0x40, 0x18]), Crossed::Critical);
        assert_eq!(decode_crossed(&[0x19, 0x40, 0x02]), Crossed::Critical);
        assert_eq!(decode_crossed(&[0x19, 0x40, 0x04]), Crossed::NonRecoverable);
        assert_eq!(
            decode_thresholds(&[0x38, 0, 0, 0, 0x70, 0x90, 0xa0]).unwrap(),
            (0x38, [0, 0, 0, 0x70, 0x90, 0xa0])
        );
        assert!(decode_thresholds(&[0x38, 0]).is_err());
    }

    #[test]
    fn thresholds_of_a_record() {
        let s = analog_sensor(&temp_record()).unwrap();
        // ipmi_sim's Temp: readable and settable, so asked for.
        assert_eq!(s.thresholds, ThresholdAccess::Readable);
        let t = s.thresholds_of(0x38, [0, 0, 0, 0x70, 0x90, 0xa0]);
        assert_eq!(
            (
                t.upper_non_critical,
                t.upper_critical,
                t.upper_non_recoverable
            ),
            (Some(112.0), Some(144.0), Some(160.0))
        );
        assert_eq!(t.lower_critical, None, "not in the readable mask");
        // Fixed thresholds: the record's bytes 37-42 under its mask.
        let mut fixed = temp_record();
        fixed[11] = 0x8C;
        let s = analog_sensor(&fixed).unwrap();
        assert_eq!(
            s.thresholds,
            ThresholdAccess::Fixed {
                mask: 0x38,
                raw: [0, 0, 0, 0x70, 0x90, 0xa0]
            }
        );
        // A sensor that is not threshold-based has none.
        let mut discrete = temp_record();
        discrete[13] = 0x6F;
        assert_eq!(
            analog_sensor(&discrete).unwrap().thresholds,
            ThresholdAccess::None
        );
    }
}
