//! The IPMI commands the bridge uses, and decoders for their response data:
//! Get Chassis Status (spec §4.8), Chassis Control and Get Device ID.

use serde::Serialize;

pub(crate) const NETFN_CHASSIS: u8 = 0x00;
pub(crate) const NETFN_APP: u8 = 0x06;
pub(crate) const NETFN_STORAGE: u8 = 0x0A;

pub(crate) const CMD_GET_CHASSIS_STATUS: u8 = 0x01;
pub(crate) const CMD_CHASSIS_CONTROL: u8 = 0x02;
pub(crate) const CMD_CHASSIS_IDENTIFY: u8 = 0x04;

pub(crate) const CMD_GET_DEVICE_ID: u8 = 0x01;
pub(crate) const CMD_GET_SYSTEM_GUID: u8 = 0x37;
pub(crate) const CMD_GET_CHANNEL_AUTH_CAPABILITIES: u8 = 0x38;
pub(crate) const CMD_GET_SESSION_CHALLENGE: u8 = 0x39;
pub(crate) const CMD_ACTIVATE_SESSION: u8 = 0x3A;
pub(crate) const CMD_SET_SESSION_PRIVILEGE: u8 = 0x3B;
pub(crate) const CMD_CLOSE_SESSION: u8 = 0x3C;

pub(crate) const CMD_GET_FRU_INVENTORY_AREA_INFO: u8 = 0x10;
pub(crate) const CMD_READ_FRU_DATA: u8 = 0x11;

/// Chassis Control sub-commands (IPMI v2.0 §28.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChassisControl {
    PowerDown = 0,
    PowerUp = 1,
    PowerCycle = 2,
    HardReset = 3,
    PulseDiagnosticInterrupt = 4,
    /// "Initiate soft shutdown via ACPI by emulating a fatal over-temperature."
    SoftShutdown = 5,
}

impl ChassisControl {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            ChassisControl::PowerDown => "power down",
            ChassisControl::PowerUp => "power up",
            ChassisControl::PowerCycle => "power cycle",
            ChassisControl::HardReset => "hard reset",
            ChassisControl::PulseDiagnosticInterrupt => "pulse diagnostic interrupt",
            ChassisControl::SoftShutdown => "soft shutdown",
        }
    }

    /// Accepts `on`, `off`, `cycle`, `reset` (`hard_reset`), `soft` (`soft_shutdown`), `diag`.
    pub fn parse(word: &str) -> Option<Self> {
        match word.to_ascii_lowercase().as_str() {
            "on" | "up" | "power_up" => Some(ChassisControl::PowerUp),
            "off" | "down" | "power_down" => Some(ChassisControl::PowerDown),
            "cycle" | "power_cycle" => Some(ChassisControl::PowerCycle),
            "reset" | "hard_reset" => Some(ChassisControl::HardReset),
            "soft" | "soft_shutdown" => Some(ChassisControl::SoftShutdown),
            "diag" | "pulse_diag" => Some(ChassisControl::PulseDiagnosticInterrupt),
            _ => None,
        }
    }
}

/// Power restore policy, Get Chassis Status byte 1 bits 6:5. (The v1.3 original
/// read bits 7:6 by mistake; spec §4.8.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorePolicy {
    AlwaysOff,
    Previous,
    AlwaysOn,
    Unknown,
}

/// Last power event, Get Chassis Status byte 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LastPowerEvent {
    pub ac_failed: bool,
    pub overload: bool,
    pub interlock: bool,
    pub fault: bool,
    pub on_via_ipmi: bool,
}

/// Chassis identify state, byte 3 bits 5:4 (valid when bit 6 says it is supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifyState {
    Off,
    Timed,
    Indefinite,
    Reserved,
}

/// Decoded Get Chassis Status response (spec §4.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChassisStatus {
    pub power_on: bool,
    pub power_overload: bool,
    pub interlock: bool,
    pub power_fault: bool,
    pub power_control_fault: bool,
    pub restore_policy: RestorePolicy,
    pub last_event: LastPowerEvent,
    /// `None` if the BMC does not report identify support.
    pub identify: Option<IdentifyState>,
    pub cooling_fault: bool,
    pub drive_fault: bool,
    pub front_panel_lockout: bool,
    pub intrusion: bool,
    /// The response data as received.
    pub raw: Vec<u8>,
}

impl ChassisStatus {
    /// Decodes the response data (completion code already removed). IPMI requires
    /// three bytes; a fourth (front panel capabilities) is optional and ignored.
    pub fn decode(data: &[u8]) -> Result<Self, String> {
        if data.len() < 3 {
            return Err(format!(
                "Get Chassis Status returned {} data bytes, expected at least 3",
                data.len()
            ));
        }
        let (b0, b1, b2) = (data[0], data[1], data[2]);
        let bit = |b: u8, n: u8| b & (1 << n) != 0;
        Ok(ChassisStatus {
            power_on: bit(b0, 0),
            power_overload: bit(b0, 1),
            interlock: bit(b0, 2),
            power_fault: bit(b0, 3),
            power_control_fault: bit(b0, 4),
            restore_policy: match (b0 >> 5) & 0x03 {
                0 => RestorePolicy::AlwaysOff,
                1 => RestorePolicy::Previous,
                2 => RestorePolicy::AlwaysOn,
                _ => RestorePolicy::Unknown,
            },
            last_event: LastPowerEvent {
                ac_failed: bit(b1, 0),
                overload: bit(b1, 1),
                interlock: bit(b1, 2),
                fault: bit(b1, 3),
                on_via_ipmi: bit(b1, 4),
            },
            identify: if bit(b2, 6) {
                Some(match (b2 >> 4) & 0x03 {
                    0 => IdentifyState::Off,
                    1 => IdentifyState::Timed,
                    2 => IdentifyState::Indefinite,
                    _ => IdentifyState::Reserved,
                })
            } else {
                None
            },
            cooling_fault: bit(b2, 3),
            drive_fault: bit(b2, 2),
            front_panel_lockout: bit(b2, 1),
            intrusion: bit(b2, 0),
            raw: data.to_vec(),
        })
    }
}

/// The result of a power operation: the chassis status read at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChassisPower {
    pub power_on: bool,
    /// `!power_fault` (spec §7.2: `power_ok` = not bit 3).
    pub power_ok: bool,
    /// The "power overload" bit (spec §4.8 maps it to `over_current`).
    pub over_current: bool,
    /// For on/off/cycle: whether the requested state was seen before `power_wait`
    /// ran out. Always true for status and for controls without a target state.
    pub settled: bool,
    pub status: ChassisStatus,
}

impl ChassisPower {
    pub fn from_status(status: ChassisStatus, settled: bool) -> Self {
        ChassisPower {
            power_on: status.power_on,
            power_ok: !status.power_fault,
            over_current: status.power_overload,
            settled,
            status,
        }
    }

    /// `"on"` or `"off"`.
    pub fn power_status(&self) -> &'static str {
        if self.power_on {
            "on"
        } else {
            "off"
        }
    }
}

/// Decoded Get Device ID response (IPMI v2.0 §20.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceId {
    pub device_id: u8,
    pub device_revision: u8,
    pub provides_sdrs: bool,
    pub device_available: bool,
    /// Firmware revision as `major.minor` (minor is BCD, e.g. "9.08").
    pub firmware_revision: String,
    /// IPMI version as `major.minor`, e.g. "2.0".
    pub ipmi_version: String,
    pub additional_support: u8,
    /// IANA enterprise number of the manufacturer (20 bits).
    pub manufacturer_id: u32,
    pub product_id: u16,
    pub aux_firmware_revision: Option<[u8; 4]>,
}

impl DeviceId {
    pub fn decode(data: &[u8]) -> Result<Self, String> {
        if data.len() < 11 {
            return Err(format!(
                "Get Device ID returned {} data bytes, expected at least 11",
                data.len()
            ));
        }
        let bcd = |b: u8| format!("{}{}", b >> 4, b & 0x0F);
        Ok(DeviceId {
            device_id: data[0],
            device_revision: data[1] & 0x0F,
            provides_sdrs: data[1] & 0x80 != 0,
            device_available: data[2] & 0x80 == 0,
            firmware_revision: format!("{}.{}", data[2] & 0x7F, bcd(data[3])),
            ipmi_version: format!("{}.{}", data[4] & 0x0F, data[4] >> 4),
            additional_support: data[5],
            manufacturer_id: u32::from_le_bytes([data[6], data[7], data[8] & 0x0F, 0]),
            product_id: u16::from_le_bytes([data[9], data[10]]),
            aux_firmware_revision: data.get(11..15).map(|a| a.try_into().expect("4 bytes")),
        })
    }
}

/// The byte order a BMC sends its System GUID in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GuidOrder {
    /// IPMI's GUID format (v2.0 Table 20-10): all sixteen bytes least
    /// significant first (node first, time-low last), so the text is the
    /// bytes in reverse (`ipmitool mc guid ipmi`).
    #[default]
    Ipmi,
    /// SMBIOS's (2.6 and later): time-low, time-mid and time-high least
    /// significant first, the clock sequence and node as they come, as
    /// `dmidecode` prints the server's UUID (`ipmitool mc guid smbios`).
    /// Many BMCs pass the SMBIOS bytes through.
    Smbios,
}

impl GuidOrder {
    pub fn parse(word: &str) -> Option<Self> {
        match word.to_ascii_lowercase().as_str() {
            "ipmi" => Some(GuidOrder::Ipmi),
            "smbios" => Some(GuidOrder::Smbios),
            _ => None,
        }
    }
}

/// The UUID in a Get System GUID response (IPMI v2.0 §22.14) as RFC 4122
/// text, its bytes read in `order`. `None` when the BMC has no GUID set
/// (all zeros or all ones).
pub fn system_guid(data: &[u8], order: GuidOrder) -> Result<Option<String>, String> {
    let Some(bytes) = data.get(..16) else {
        return Err(format!(
            "Get System GUID returned {} data bytes, expected 16",
            data.len()
        ));
    };
    if bytes.iter().all(|&b| b == 0) || bytes.iter().all(|&b| b == 0xFF) {
        return Ok(None);
    }
    let mut rfc = [0u8; 16];
    rfc.copy_from_slice(bytes);
    match order {
        GuidOrder::Ipmi => rfc.reverse(),
        GuidOrder::Smbios => {
            rfc[..4].reverse();
            rfc[4..6].reverse();
            rfc[6..8].reverse();
        }
    }
    Ok(Some(opendcre_proto::uuid::text(&rfc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vbmc007_chassis_status() {
        // Spec §7.3 reply 5: data 45 10 40 00 → power on, interlock, restore policy
        // "always on", last event "power on via IPMI", identify supported (off).
        let s = ChassisStatus::decode(&[0x45, 0x10, 0x40, 0x00]).unwrap();
        assert!(s.power_on && s.interlock);
        assert!(!s.power_overload && !s.power_fault && !s.power_control_fault);
        assert_eq!(s.restore_policy, RestorePolicy::AlwaysOn);
        assert!(s.last_event.on_via_ipmi && !s.last_event.ac_failed);
        assert_eq!(s.identify, Some(IdentifyState::Off));
        let p = ChassisPower::from_status(s, true);
        assert_eq!(p.power_status(), "on");
        assert!(p.power_ok && !p.over_current);
    }

    #[test]
    fn fault_bits() {
        let s = ChassisStatus::decode(&[0b0011_1010, 0x0F, 0x3F]).unwrap();
        assert!(!s.power_on && s.power_overload && s.power_fault && s.power_control_fault);
        assert_eq!(s.restore_policy, RestorePolicy::Previous);
        assert!(
            s.last_event.ac_failed
                && s.last_event.overload
                && s.last_event.interlock
                && s.last_event.fault
        );
        assert_eq!(s.identify, None);
        assert!(s.cooling_fault && s.drive_fault && s.front_panel_lockout && s.intrusion);
        let p = ChassisPower::from_status(s, false);
        assert!(!p.power_ok && p.over_current);
        assert_eq!(p.power_status(), "off");
        assert_eq!(
            ChassisStatus::decode(&[0x60, 0, 0x70])
                .unwrap()
                .restore_policy,
            RestorePolicy::Unknown
        );
        assert_eq!(
            ChassisStatus::decode(&[0, 0, 0x60]).unwrap().identify,
            Some(IdentifyState::Indefinite)
        );
        assert!(ChassisStatus::decode(&[1, 0]).is_err());
    }

    #[test]
    fn system_guid_is_the_bytes_in_reverse() {
        // ci/peers/ipmi_sim/lan.conf.in's `guid`, as ipmi_sim sends it
        // (`ipmitool raw 0x06 0x37`); `ipmitool mc guid ipmi` prints the text.
        let sim = [
            0xa1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xa1, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        let guid = |data: &[u8], order| system_guid(data, order).unwrap();
        assert_eq!(
            guid(&sim, GuidOrder::Ipmi).as_deref(),
            Some("efcdab89-6745-23a1-efcd-ab89674523a1")
        );
        // `ipmitool mc guid smbios` of the same BMC.
        assert_eq!(
            guid(&sim, GuidOrder::Smbios).as_deref(),
            Some("674523a1-ab89-efcd-a123-456789abcdef")
        );
        let mut counting = [0u8; 16];
        for (i, b) in counting.iter_mut().enumerate() {
            *b = u8::try_from(i).unwrap();
        }
        assert_eq!(
            guid(&counting, GuidOrder::Ipmi).as_deref(),
            Some("0f0e0d0c-0b0a-0908-0706-050403020100")
        );
        assert_eq!(
            guid(&counting, GuidOrder::Smbios).as_deref(),
            Some("03020100-0504-0706-0809-0a0b0c0d0e0f")
        );
        assert_eq!(guid(&[0; 16], GuidOrder::Ipmi), None, "not set");
        assert_eq!(guid(&[0xFF; 17], GuidOrder::Smbios), None, "not set");
        assert!(system_guid(&sim[..15], GuidOrder::Ipmi).is_err());
        assert_eq!(GuidOrder::parse("SMBIOS"), Some(GuidOrder::Smbios));
        assert_eq!(GuidOrder::parse("rfc4122"), None);
    }

    #[test]
    fn device_id_of_ipmi_sim() {
        // What ipmi_sim answers (`ipmitool raw 0x06 0x01`) for the sim.emu line
        // "mc_add 0x20 0 no-device-sdrs 0x23 0x09 0x08 0x9f 0x1291 0xf02".
        let raw = [
            0x00, 0x03, 0x09, 0x08, 0x02, 0x9f, 0x91, 0x12, 0x00, 0x02, 0x0f, 0, 0, 0, 0,
        ];
        let d = DeviceId::decode(&raw).unwrap();
        assert_eq!((d.device_id, d.device_revision), (0, 3));
        assert_eq!(d.firmware_revision, "9.08");
        assert_eq!(d.ipmi_version, "2.0");
        assert_eq!(d.manufacturer_id, 4753);
        assert_eq!(d.product_id, 0x0f02);
        assert!(!d.provides_sdrs && d.device_available);
        assert_eq!(d.aux_firmware_revision, Some([0; 4]));
        assert!(DeviceId::decode(&raw[..11])
            .unwrap()
            .aux_firmware_revision
            .is_none());
        assert!(DeviceId::decode(&raw[..10]).is_err());
    }

    #[test]
    fn control_words() {
        assert_eq!(ChassisControl::parse("ON"), Some(ChassisControl::PowerUp));
        assert_eq!(
            ChassisControl::parse("soft"),
            Some(ChassisControl::SoftShutdown)
        );
        assert_eq!(ChassisControl::parse("reset").unwrap().code(), 3);
        assert_eq!(ChassisControl::parse("status"), None);
    }
}
