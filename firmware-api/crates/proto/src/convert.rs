//! Sensor conversions (spec §4.2–§4.4), bit for bit as the original computed
//! them: clients compare numbers, so even the curve's discontinuity at 745/746
//! and the humidity full scale of 100.01 % are kept (spec §9, items 29–31).

/// Why a reading could not be converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConvertError {
    #[error("thermistor reading {0} is out of range (65535 and above means no sensor)")]
    ThermistorRange(i128),
    #[error("humidity reading {0} does not fit 32 bits")]
    HumidityRange(i128),
    #[error("power reading {0:?} must be 4 comma-separated integers")]
    PowerFields(String),
    #[error("reading {0} is too large to convert")]
    TooLarge(i128),
}

/// Rounds to 2 decimals the way `float("%.2f" % round(x, 2))` did.
pub(crate) fn round2(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

/// Thermistor ADC counts → °C, piecewise linear (spec §4.2).
pub fn thermistor_c(adc: i128) -> Result<f64, ConvertError> {
    if adc >= 65535 {
        return Err(ConvertError::ThermistorRange(adc));
    }
    let x = adc as f64;
    let t = if adc > 745 {
        -0.131 * x + 118.638
    } else if adc > 542 {
        -0.0985 * x + 93.399
    } else if adc > 354 {
        -0.106 * x + 97.66
    } else if adc > 218 {
        -0.147 * x + 112.046
    } else {
        -0.235 * x + 131.294
    };
    Ok(round2(t))
}

/// What a PMBus "direct" word measures (spec §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PmbusKind {
    Current,
    Voltage,
    Power,
}

/// PMBus direct format → engineering units, ADM1276 coefficients.
/// `r_sense` (milliohms) scales `m` for current and power.
pub(crate) fn pmbus_direct(raw: i128, kind: PmbusKind, r_sense: f64) -> Result<f64, ConvertError> {
    let (m, b, r): (f64, i128, i32) = match kind {
        PmbusKind::Current => (807.0 * r_sense, 20745, -1),
        PmbusKind::Voltage => (19199.0, 0, -2),
        PmbusKind::Power => (6043.0 * r_sense, 0, -2),
    };
    let scaled = raw
        .checked_mul(10i128.pow((-r) as u32))
        .and_then(|v| v.checked_sub(b))
        .ok_or(ConvertError::TooLarge(raw))?;
    // Same operation order as the original: (1/m) * (raw * 10^-R - b).
    Ok((1.0 / m) * scaled as f64)
}

/// A `current` device's reading: the same PMBus direct word as the
/// power status's current field (the example rack mirrors them), in amperes.
pub fn pmbus_current_a(raw: i128, r_sense: f64) -> Result<f64, ConvertError> {
    pmbus_direct(raw, PmbusKind::Current, r_sense)
}

/// A decoded `P` answer: `"status,power,voltage,current"`.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerReading {
    /// The answer text exactly as received.
    pub raw: String,
    pub power_on: bool,
    pub power_ok: bool,
    pub over_current: bool,
    pub under_voltage: bool,
    pub input_power: f64,
    pub input_voltage: f64,
    pub output_current: f64,
}

impl PowerReading {
    /// Parses the four decimal words; extra fields are ignored as they were.
    pub fn parse(text: &str, r_sense: f64) -> Result<Self, ConvertError> {
        let bad = || ConvertError::PowerFields(text.to_string());
        let fields: Vec<&str> = text.split(',').collect();
        if fields.len() < 4 {
            return Err(bad());
        }
        let mut words = [0i128; 4];
        for (w, f) in words.iter_mut().zip(&fields) {
            *w = super::pytext::parse_int(f).map_err(|_| bad())?;
        }
        let [status, power, voltage, current] = words;
        let bit = |n: u32| (status >> n) & 1 == 1;
        Ok(PowerReading {
            raw: text.to_string(),
            power_on: !bit(6),
            power_ok: !bit(11),
            over_current: bit(4),
            under_voltage: bit(3),
            input_power: pmbus_direct(power, PmbusKind::Power, r_sense)?,
            input_voltage: pmbus_direct(voltage, PmbusKind::Voltage, r_sense)?,
            output_current: pmbus_direct(current, PmbusKind::Current, r_sense)?,
        })
    }
}

/// Packed HIH-style humidity word → (% RH, °C), spec §4.4.
pub fn humidity(raw: i128) -> Result<(f64, f64), ConvertError> {
    if raw > 0xFFFF_FFFF {
        return Err(ConvertError::HumidityRange(raw));
    }
    let h = ((raw >> 16) & 0x3FFF) as f64 / 16382.0 * 100.0;
    let t = ((raw & 0xFFFF) >> 2) as f64 / 16382.0 * 165.0 - 40.0;
    Ok((round2(h), round2(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.005
    }

    #[test]
    fn thermistor_reference_values() {
        let cases = [
            (0, 131.29),
            (218, 80.06),
            (219, 79.85),
            (354, 60.01),
            (355, 60.03),
            (542, 40.21),
            (543, 39.91),
            (656, 28.78),
            (745, 20.02),
            (746, 20.91),
            (32768, -4173.97),
            (65534, -8466.32),
        ];
        for (adc, want) in cases {
            let got = thermistor_c(adc).unwrap();
            assert!(close(got, want), "{adc}: {got} != {want}");
        }
        assert_eq!(
            thermistor_c(65535),
            Err(ConvertError::ThermistorRange(65535))
        );
        assert!(thermistor_c(-5).is_ok());
    }

    #[test]
    fn pmbus_reference_values_are_bit_exact() {
        assert_eq!(
            pmbus_direct(0, PmbusKind::Current, 1.0).unwrap(),
            -25.70631970260223
        );
        assert_eq!(pmbus_direct(0, PmbusKind::Voltage, 1.0).unwrap(), 0.0);
        assert_eq!(pmbus_direct(0, PmbusKind::Power, 1.0).unwrap(), 0.0);
        assert_eq!(
            pmbus_direct(1000, PmbusKind::Voltage, 1.0).unwrap(),
            5.208604614823688
        );
        assert_eq!(
            pmbus_direct(2500, PmbusKind::Current, 1.0).unwrap(),
            5.272614622057001
        );
        assert_eq!(
            pmbus_direct(100, PmbusKind::Power, 1.0).unwrap(),
            1.6548072149594573
        );
    }

    #[test]
    fn power_status_bits() {
        let p = |s: &str| PowerReading::parse(&format!("{s},0,0,0"), 1.0).unwrap();
        let r = p("0");
        assert!(r.power_on && r.power_ok && !r.over_current && !r.under_voltage);
        let r = p("64");
        assert!(!r.power_on && r.power_ok);
        let r = p("2048");
        assert!(r.power_on && !r.power_ok);
        let r = p("2056");
        assert!(r.power_on && !r.power_ok && r.under_voltage && !r.over_current);
        let r = p("2064");
        assert!(!r.power_ok && r.over_current && !r.under_voltage);
        let r = p("2072");
        assert!(r.over_current && r.under_voltage);
        assert_eq!(r.raw, "2072,0,0,0");
    }

    #[test]
    fn power_parse_failures() {
        assert!(PowerReading::parse("0,0,0", 1.0).is_err());
        assert!(PowerReading::parse("0,0,x,0", 1.0).is_err());
        assert!(PowerReading::parse("", 1.0).is_err());
        assert!(PowerReading::parse("0,0,0,0,9", 1.0).is_ok());
    }

    #[test]
    fn humidity_reference_values() {
        assert_eq!(humidity(0).unwrap(), (0.0, -40.0));
        assert_eq!(humidity(65535).unwrap(), (0.0, 125.01));
        assert_eq!(humidity(4294901760).unwrap(), (100.01, -40.0));
        assert_eq!(humidity(4294967295).unwrap(), (100.01, 125.01));
        assert_eq!(humidity(1486313281).unwrap(), (38.43, 16.24));
        assert!(humidity(4294967296).is_err());
    }
}
