//! The device kinds the poller reads, and what one reading of each holds.
//!
//! A reading is a fixed list of numbers per kind ([`Kind::fields`]), so the
//! history ring stores bare `f64`s without names or enums per sample.

use opendcre_proto::convert::{humidity, pmbus_current_a, thermistor_c, PowerReading};
use opendcre_proto::{pytext, Command, DeviceType};

use super::config::Intervals;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Thermistor,
    Temperature,
    Humidity,
    Pressure,
    Current,
    FanSpeed,
    Power,
    Led,
}

/// One number of a reading: its series name and its JSON key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The Prometheus series (`opendcre_temperature_celsius`).
    pub metric: &'static str,
    /// The key in the readings JSON: the series name without `opendcre_`.
    pub key: &'static str,
    pub help: &'static str,
}

const fn field(metric: &'static str, key: &'static str, help: &'static str) -> Field {
    Field { metric, key, help }
}

const TEMPERATURE: Field = field(
    "opendcre_temperature_celsius",
    "temperature_celsius",
    "Temperature of a thermistor, digital temperature or humidity sensor.",
);
const HUMIDITY: &[Field] = &[
    field(
        "opendcre_relative_humidity_ratio",
        "relative_humidity_ratio",
        "Relative humidity, 0 to 1.",
    ),
    TEMPERATURE,
];
const POWER: &[Field] = &[
    field(
        "opendcre_power_on",
        "power_on",
        "1 when the power output is on.",
    ),
    field(
        "opendcre_power_ok",
        "power_ok",
        "1 when the power supply reports no fault.",
    ),
    field(
        "opendcre_power_over_current",
        "power_over_current",
        "1 when the power supply reports over-current.",
    ),
    field(
        "opendcre_power_under_voltage",
        "power_under_voltage",
        "1 when the power supply reports under-voltage.",
    ),
    field(
        "opendcre_power_input_watts",
        "power_input_watts",
        "Input power of the power supply (PMBus).",
    ),
    field(
        "opendcre_power_input_volts",
        "power_input_volts",
        "Input voltage of the power supply (PMBus).",
    ),
    field(
        "opendcre_power_output_amperes",
        "power_output_amperes",
        "Output current of the power supply (PMBus).",
    ),
];

/// Every kind, in the order readings are listed.
pub const ALL_KINDS: [Kind; 8] = [
    Kind::Thermistor,
    Kind::Temperature,
    Kind::Humidity,
    Kind::Pressure,
    Kind::Current,
    Kind::FanSpeed,
    Kind::Power,
    Kind::Led,
];

impl Kind {
    /// The kind of a scanned device; `None` for devices that have no reading
    /// (`none`, `ipmb`/`system`, the vapor types).
    pub fn of(t: DeviceType) -> Option<Kind> {
        Some(match t {
            DeviceType::THERMISTOR => Kind::Thermistor,
            DeviceType::TEMPERATURE => Kind::Temperature,
            DeviceType::HUMIDITY => Kind::Humidity,
            DeviceType::PRESSURE => Kind::Pressure,
            DeviceType::CURRENT => Kind::Current,
            DeviceType::FAN_SPEED => Kind::FanSpeed,
            DeviceType::POWER => Kind::Power,
            DeviceType::LED => Kind::Led,
            _ => return None,
        })
    }

    /// The `kind` label. The modern name: `fan_speed`, not v1.1's `door_lock`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Thermistor => "thermistor",
            Kind::Temperature => "temperature",
            Kind::Humidity => "humidity",
            Kind::Pressure => "pressure",
            Kind::Current => "current",
            Kind::FanSpeed => "fan_speed",
            Kind::Power => "power",
            Kind::Led => "led",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        ALL_KINDS.iter().copied().find(|k| k.name() == name)
    }

    pub fn device_type(self) -> DeviceType {
        match self {
            Kind::Thermistor => DeviceType::THERMISTOR,
            Kind::Temperature => DeviceType::TEMPERATURE,
            Kind::Humidity => DeviceType::HUMIDITY,
            Kind::Pressure => DeviceType::PRESSURE,
            Kind::Current => DeviceType::CURRENT,
            Kind::FanSpeed => DeviceType::FAN_SPEED,
            Kind::Power => DeviceType::POWER,
            Kind::Led => DeviceType::LED,
        }
    }

    /// The bus command that reads it: power status is `P?`, the rest `R`.
    pub fn command(self) -> Command {
        match self {
            Kind::Power => Command::Power(opendcre_proto::PowerAction::Status),
            _ => Command::Read,
        }
    }

    pub fn interval_secs(self, i: &Intervals) -> u64 {
        match self {
            Kind::Thermistor => i.thermistor,
            Kind::Temperature => i.temperature,
            Kind::Humidity => i.humidity,
            Kind::Pressure => i.pressure,
            Kind::Current => i.current,
            Kind::FanSpeed => i.fan_speed,
            Kind::Power => i.power,
            Kind::Led => i.led,
        }
    }

    pub fn fields(self) -> &'static [Field] {
        const T: &[Field] = &[TEMPERATURE];
        const P: &[Field] = &[field(
            "opendcre_pressure_pascals",
            "pressure_pascals",
            "Pressure.",
        )];
        const C: &[Field] = &[field(
            "opendcre_current_amperes",
            "current_amperes",
            "Current (PMBus direct format, as the power status's current).",
        )];
        const F: &[Field] = &[field(
            "opendcre_fan_speed_rpm",
            "fan_speed_rpm",
            "Fan speed.",
        )];
        const L: &[Field] = &[field("opendcre_led_on", "led_on", "1 when the LED is on.")];
        match self {
            Kind::Thermistor | Kind::Temperature => T,
            Kind::Humidity => HUMIDITY,
            Kind::Pressure => P,
            Kind::Current => C,
            Kind::FanSpeed => F,
            Kind::Power => POWER,
            Kind::Led => L,
        }
    }

    /// Converts an answer's text into [`Kind::fields`] order, in base units.
    /// The conversions are the original's (bit for bit where v1.1 converts);
    /// what v1.1 left raw is converted as the later versions did: decimal
    /// text for temperature and pressure (kPa in the answer), the packed
    /// humidity word, integer RPM, LED 0/1.
    pub fn convert(self, text: &str, r_sense_mohm: f64) -> Result<Vec<f64>, String> {
        let int = || {
            pytext::parse_int(text)
                .map_err(|_| format!("answer {text:?} is not an integer reading"))
        };
        let float = || {
            pytext::parse_float(text)
                .map_err(|_| format!("answer {text:?} is not a decimal reading"))
        };
        let bool_f = |b: bool| if b { 1.0 } else { 0.0 };
        Ok(match self {
            Kind::Thermistor => vec![thermistor_c(int()?).map_err(|e| e.to_string())?],
            Kind::Temperature => vec![float()?],
            Kind::Humidity => {
                let (h, t) = humidity(int()?).map_err(|e| e.to_string())?;
                vec![h / 100.0, t]
            }
            Kind::Pressure => vec![float()? * 1000.0],
            Kind::Current => {
                vec![pmbus_current_a(int()?, r_sense_mohm).map_err(|e| e.to_string())?]
            }
            Kind::FanSpeed => vec![int()? as f64],
            Kind::Power => {
                let p = PowerReading::parse(text, r_sense_mohm).map_err(|e| e.to_string())?;
                vec![
                    bool_f(p.power_on),
                    bool_f(p.power_ok),
                    bool_f(p.over_current),
                    bool_f(p.under_voltage),
                    p.input_power,
                    p.input_voltage,
                    p.output_current,
                ]
            }
            Kind::Led => match int()? {
                0 => vec![0.0],
                1 => vec![1.0],
                v => return Err(format!("LED answer {v} is neither 0 nor 1")),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_in_base_units() {
        assert_eq!(Kind::Thermistor.convert("656", 1.0).unwrap(), vec![28.78]);
        assert_eq!(
            Kind::Temperature.convert("28.78", 1.0).unwrap(),
            vec![28.78]
        );
        assert_eq!(
            Kind::Humidity.convert("1486313281", 1.0).unwrap(),
            vec![0.3843, 16.24]
        );
        assert_eq!(
            Kind::Pressure.convert("101.325", 1.0).unwrap(),
            vec![101325.0]
        );
        assert_eq!(Kind::FanSpeed.convert("4100", 1.0).unwrap(), vec![4100.0]);
        assert_eq!(Kind::Led.convert("1", 1.0).unwrap(), vec![1.0]);
        assert!(Kind::Led.convert("2", 1.0).is_err());
        assert!(Kind::Thermistor.convert("65535", 1.0).is_err());
        assert!(Kind::Temperature.convert("abc", 1.0).is_err());
        let p = Kind::Power.convert("64,100,1000,2500", 1.0).unwrap();
        assert_eq!(&p[..4], &[0.0, 1.0, 0.0, 0.0]);
        assert_eq!(p[4], 1.6548072149594573);
        assert_eq!(p[5], 5.208604614823688);
        assert_eq!(p[6], 5.272614622057001);
        assert_eq!(
            Kind::Current.convert("2500", 1.0).unwrap(),
            vec![5.272614622057001]
        );
        for k in ALL_KINDS {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(Kind::of(k.device_type()), Some(k));
        }
        assert_eq!(Kind::of(DeviceType::NONE), None);
    }
}
