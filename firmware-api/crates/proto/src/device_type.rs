//! Device-type codes (spec §4.1).
//!
//! The same byte appears in the frame header and as `data[0]` of scan answers.
//! Two codes were renamed after v1.1 (`ipmb` → `system`, `door_lock` →
//! `fan_speed`); both spellings are accepted on input, and the v1.1 API prints
//! the v1.1 names because that is what its clients saw.

/// A device-type code with its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceType(pub u8);

struct Entry {
    code: u8,
    v11_name: &'static str,
    modern_name: &'static str,
}

const TABLE: &[Entry] = &[
    Entry {
        code: 0x08,
        v11_name: "vapor_led",
        modern_name: "vapor_led",
    },
    Entry {
        code: 0x10,
        v11_name: "led",
        modern_name: "led",
    },
    Entry {
        code: 0x12,
        v11_name: "ipmb",
        modern_name: "system",
    },
    Entry {
        code: 0x40,
        v11_name: "power",
        modern_name: "power",
    },
    Entry {
        code: 0x48,
        v11_name: "vapor_rectifier",
        modern_name: "vapor_rectifier",
    },
    Entry {
        code: 0x4A,
        v11_name: "vapor_battery",
        modern_name: "vapor_battery",
    },
    Entry {
        code: 0x4E,
        v11_name: "humidity",
        modern_name: "humidity",
    },
    Entry {
        code: 0x82,
        v11_name: "door_lock",
        modern_name: "fan_speed",
    },
    Entry {
        code: 0x88,
        v11_name: "vapor_fan",
        modern_name: "vapor_fan",
    },
    Entry {
        code: 0x90,
        v11_name: "current",
        modern_name: "current",
    },
    Entry {
        code: 0x9A,
        v11_name: "temperature",
        modern_name: "temperature",
    },
    Entry {
        code: 0x9C,
        v11_name: "thermistor",
        modern_name: "thermistor",
    },
    Entry {
        code: 0xEE,
        v11_name: "pressure",
        modern_name: "pressure",
    },
    Entry {
        code: 0xF0,
        v11_name: "power_supply",
        modern_name: "power_supply",
    },
    Entry {
        code: 0xF2,
        v11_name: "airflow",
        modern_name: "airflow",
    },
    Entry {
        code: 0xFF,
        v11_name: "none",
        modern_name: "none",
    },
];

impl DeviceType {
    pub const VAPOR_LED: DeviceType = DeviceType(0x08);
    pub const LED: DeviceType = DeviceType(0x10);
    pub const SYSTEM: DeviceType = DeviceType(0x12);
    pub const POWER: DeviceType = DeviceType(0x40);
    pub const VAPOR_RECTIFIER: DeviceType = DeviceType(0x48);
    pub const VAPOR_BATTERY: DeviceType = DeviceType(0x4A);
    pub const HUMIDITY: DeviceType = DeviceType(0x4E);
    pub const FAN_SPEED: DeviceType = DeviceType(0x82);
    pub const VAPOR_FAN: DeviceType = DeviceType(0x88);
    pub const CURRENT: DeviceType = DeviceType(0x90);
    pub const TEMPERATURE: DeviceType = DeviceType(0x9A);
    pub const THERMISTOR: DeviceType = DeviceType(0x9C);
    pub const PRESSURE: DeviceType = DeviceType(0xEE);
    pub const NONE: DeviceType = DeviceType(0xFF);

    /// Code for a name, case-insensitively; unknown names map to `none` (0xFF)
    /// exactly as the original did.
    pub fn from_name(name: &str) -> DeviceType {
        Self::lookup(name).unwrap_or(Self::NONE)
    }

    /// Code for a name, or `None` when the name is not in the table.
    pub fn lookup(name: &str) -> Option<DeviceType> {
        let lower = name.to_ascii_lowercase();
        TABLE
            .iter()
            .find(|e| e.v11_name == lower || e.modern_name == lower)
            .map(|e| DeviceType(e.code))
    }

    /// The name a v1.1 client sees; unknown codes are `"none"`.
    pub fn v11_name(self) -> &'static str {
        Self::entry(self.0).map_or("none", |e| e.v11_name)
    }

    /// The name used from v1.2 on; unknown codes are `"none"`.
    pub fn modern_name(self) -> &'static str {
        Self::entry(self.0).map_or("none", |e| e.modern_name)
    }

    /// Types that answer power commands (spec §5.4: rectifiers and batteries too).
    pub fn is_power_like(self) -> bool {
        matches!(
            self,
            Self::POWER | Self::VAPOR_RECTIFIER | Self::VAPOR_BATTERY
        )
    }

    fn entry(code: u8) -> Option<&'static Entry> {
        TABLE.iter().find(|e| e.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes() {
        assert_eq!(DeviceType::from_name("thermistor"), DeviceType(0x9C));
        assert_eq!(DeviceType::from_name("THERMISTOR"), DeviceType(0x9C));
        assert_eq!(DeviceType::from_name("ipmb"), DeviceType(0x12));
        assert_eq!(DeviceType::from_name("system"), DeviceType(0x12));
        assert_eq!(DeviceType::from_name("fan_speed"), DeviceType(0x82));
        assert_eq!(DeviceType::from_name("door_lock"), DeviceType(0x82));
        assert_eq!(DeviceType::from_name("bogus"), DeviceType(0xFF));
        assert_eq!(DeviceType(0x82).v11_name(), "door_lock");
        assert_eq!(DeviceType(0x82).modern_name(), "fan_speed");
        assert_eq!(DeviceType(0x33).v11_name(), "none");
        assert_eq!(DeviceType(0x40).v11_name(), "power");
    }
}
