//! The System Event Log (IPMI v2.0 §31): codecs for Get SEL Info, Reserve
//! SEL, Get SEL Entry and Clear SEL, and the decoding of SEL records
//! (§32): system event records (type 0x02) with their sensor type, number,
//! event type and offset; OEM records kept as raw bytes. No I/O here.

use serde::Serialize;

pub(crate) const CMD_GET_SEL_INFO: u8 = 0x40;
pub(crate) const CMD_RESERVE_SEL: u8 = 0x42;
pub(crate) const CMD_GET_SEL_ENTRY: u8 = 0x43;
pub(crate) const CMD_CLEAR_SEL: u8 = 0x47;
pub(crate) const CMD_GET_SEL_TIME: u8 = 0x48;

/// Record id of the first entry in Get SEL Entry.
pub const FIRST: u16 = 0x0000;
/// "Next record id" after the last entry.
pub const LAST: u16 = 0xFFFF;

/// Get SEL Info (§31.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelInfo {
    /// SEL version, BCD (`0x51` for IPMI 1.5/2.0).
    pub version: u8,
    pub entries: u16,
    pub free_bytes: u16,
    /// Last addition and last erase, IPMI timestamps (`0xFFFFFFFF`: never).
    pub last_add: u32,
    pub last_erase: u32,
    /// Bit 7: events were dropped because the SEL was full.
    pub overflow: bool,
    /// Bit 1: Reserve SEL is supported.
    pub reserve_supported: bool,
}

impl SelInfo {
    pub fn decode(d: &[u8]) -> Result<SelInfo, String> {
        if d.len() < 14 {
            return Err(format!(
                "Get SEL Info returned {} data bytes, expected 14",
                d.len()
            ));
        }
        Ok(SelInfo {
            version: d[0],
            entries: u16::from_le_bytes([d[1], d[2]]),
            free_bytes: u16::from_le_bytes([d[3], d[4]]),
            last_add: u32::from_le_bytes([d[5], d[6], d[7], d[8]]),
            last_erase: u32::from_le_bytes([d[9], d[10], d[11], d[12]]),
            overflow: d[13] & 0x80 != 0,
            reserve_supported: d[13] & 0x02 != 0,
        })
    }
}

/// Reserve SEL's answer: the reservation id.
pub fn decode_reservation(d: &[u8]) -> Result<u16, String> {
    match d {
        [lo, hi, ..] => Ok(u16::from_le_bytes([*lo, *hi])),
        _ => Err(format!(
            "Reserve SEL returned {} data bytes, expected 2",
            d.len()
        )),
    }
}

/// Get SEL Entry request (§31.5): the whole 16-byte record at `record_id`.
/// A reservation is only needed for partial reads; 0 reads whole records.
pub fn get_entry_request(reservation: u16, record_id: u16) -> [u8; 6] {
    let [r0, r1] = reservation.to_le_bytes();
    let [i0, i1] = record_id.to_le_bytes();
    [r0, r1, i0, i1, 0x00, 0xFF]
}

/// Get SEL Entry's answer: the next record id and the record.
pub fn decode_entry(d: &[u8]) -> Result<(u16, SelRecord), String> {
    if d.len() < 2 + 16 {
        return Err(format!(
            "Get SEL Entry returned {} data bytes, expected 18",
            d.len()
        ));
    }
    let next = u16::from_le_bytes([d[0], d[1]]);
    Ok((next, SelRecord::decode(&d[2..18])))
}

/// Get SEL Time's answer (§31.10): the SEL clock, an IPMI timestamp.
pub fn decode_time(d: &[u8]) -> Result<u32, String> {
    match d {
        [a, b, c, e, ..] => Ok(u32::from_le_bytes([*a, *b, *c, *e])),
        _ => Err(format!(
            "Get SEL Time returned {} data bytes, expected 4",
            d.len()
        )),
    }
}

/// Clear SEL request (§31.9): `initiate` erases, else asks for the status.
pub fn clear_request(reservation: u16, initiate: bool) -> [u8; 6] {
    let [r0, r1] = reservation.to_le_bytes();
    [r0, r1, b'C', b'L', b'R', if initiate { 0xAA } else { 0x00 }]
}

/// Clear SEL's answer: true once the erasure has completed.
pub fn decode_clear_progress(d: &[u8]) -> Result<bool, String> {
    match d.first() {
        Some(b) => Ok(b & 0x0F == 0x01),
        None => Err("Clear SEL returned no data bytes, expected 1".into()),
    }
}

/// One SEL record (16 bytes, §32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelRecord {
    pub record_id: u16,
    pub record_type: u8,
    /// Seconds since 1970 (IPMI timestamps are Unix time; values up to
    /// `0x20000000` count from the BMC's initialisation instead, and
    /// `0xFFFFFFFF` is "unspecified"). `None` for non-timestamped OEM records.
    pub timestamp: Option<u32>,
    /// `Some` for a system event record (type 0x02).
    pub event: Option<SystemEvent>,
    /// The record as read.
    pub raw: [u8; 16],
}

/// The fields of a system event record (§32.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SystemEvent {
    pub generator_id: u16,
    pub evm_rev: u8,
    pub sensor_type: u8,
    pub sensor_number: u8,
    /// Byte 13 bit 7: a deassertion event.
    pub deassertion: bool,
    /// Byte 13 bits 6:0: the event/reading type code (Table 42-1).
    pub event_type: u8,
    pub data: [u8; 3],
}

impl SelRecord {
    pub fn decode(r: &[u8]) -> SelRecord {
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&r[..16]);
        let record_type = raw[2];
        let ts = u32::from_le_bytes([raw[3], raw[4], raw[5], raw[6]]);
        let event = (record_type == 0x02).then(|| SystemEvent {
            generator_id: u16::from_le_bytes([raw[7], raw[8]]),
            evm_rev: raw[9],
            sensor_type: raw[10],
            sensor_number: raw[11],
            deassertion: raw[12] & 0x80 != 0,
            event_type: raw[12] & 0x7F,
            data: [raw[13], raw[14], raw[15]],
        });
        SelRecord {
            record_id: u16::from_le_bytes([raw[0], raw[1]]),
            record_type,
            timestamp: (record_type < 0xE0).then_some(ts),
            event,
            raw,
        }
    }
}

impl SystemEvent {
    /// The offset of the event within its type (event data 1, bits 3:0).
    pub fn offset(&self) -> u8 {
        self.data[0] & 0x0F
    }

    /// Redfish `MessageId` of a SEL entry: `0xNNaabbcc`, the event
    /// dir/type byte and the three event data bytes (record bytes 13–16).
    pub fn message_id(&self) -> String {
        let dir_type = self.event_type | if self.deassertion { 0x80 } else { 0 };
        format!(
            "0x{dir_type:02X}{:02X}{:02X}{:02X}",
            self.data[0], self.data[1], self.data[2]
        )
    }

    /// The sensor type's name as Redfish `LogEntry.SensorType` spells it
    /// (IPMI Table 42-3); `None` for reserved codes.
    pub fn sensor_type_name(&self) -> Option<&'static str> {
        Some(match self.sensor_type {
            0x01 => "Temperature",
            0x02 => "Voltage",
            0x03 => "Current",
            0x04 => "Fan",
            0x05 => "Physical Chassis Security",
            0x06 => "Platform Security Violation Attempt",
            0x07 => "Processor",
            0x08 => "Power Supply / Converter",
            0x09 => "PowerUnit",
            0x0A => "CoolingDevice",
            0x0B => "Other Units-based Sensor",
            0x0C => "Memory",
            0x0D => "Drive Slot/Bay",
            0x0E => "POST Memory Resize",
            0x0F => "System Firmware Progress",
            0x10 => "Event Logging Disabled",
            0x11 | 0x23 => "Watchdog",
            0x12 => "System Event",
            0x13 => "Critical Interrupt",
            0x14 => "Button/Switch",
            0x15 => "Module/Board",
            0x16 => "Microcontroller/Coprocessor",
            0x17 => "Add-in Card",
            0x18 => "Chassis",
            0x19 => "ChipSet",
            0x1A => "Other FRU",
            0x1B => "Cable/Interconnect",
            0x1C => "Terminator",
            0x1D => "SystemBoot/Restart",
            0x1E => "Boot Error",
            0x1F => "BaseOSBoot/InstallationStatus",
            0x20 => "OS Stop/Shutdown",
            0x21 => "Slot/Connector",
            0x22 => "System ACPI PowerState",
            0x24 => "Platform Alert",
            0x25 => "Entity Presence",
            0x26 => "Monitor ASIC/IC",
            0x27 => "LAN",
            0x28 => "Management Subsystem Health",
            0x29 => "Battery",
            0x2A => "Session Audit",
            0x2B => "Version Change",
            0x2C => "FRUState",
            0xC0..=0xFF => "OEM",
            _ => return None,
        })
    }

    /// The event as Redfish `LogEntry.EntryCode` names it (IPMI Tables 42-1
    /// and 42-2: the generic event types by offset; sensor-specific events
    /// only say asserted or deasserted). `None` where the table has no name.
    pub fn entry_code(&self) -> Option<&'static str> {
        const THRESHOLD: [&str; 12] = [
            "Lower Non-critical - going low",
            "Lower Non-critical - going high",
            "Lower Critical - going low",
            "Lower Critical - going high",
            "Lower Non-recoverable - going low",
            "Lower Non-recoverable - going high",
            "Upper Non-critical - going low",
            "Upper Non-critical - going high",
            "Upper Critical - going low",
            "Upper Critical - going high",
            "Upper Non-recoverable - going low",
            "Upper Non-recoverable - going high",
        ];
        const GENERIC: [&[&str]; 12] = [
            &[
                "Transition to Idle",
                "Transition to Active",
                "Transition to Busy",
            ],
            &["State Deasserted", "State Asserted"],
            &[
                "Predictive Failure deasserted",
                "Predictive Failure asserted",
            ],
            &["Limit Not Exceeded", "Limit Exceeded"],
            &["Performance Met", "Performance Lags"],
            &[
                "Transition to OK",
                "Transition to Non-Critical from OK",
                "Transition to Critical from less severe",
                "Transition to Non-recoverable from less severe",
                "Transition to Non-Critical from more severe",
                "Transition to Critical from Non-recoverable",
                "Transition to Non-recoverable",
                "Monitor",
                "Informational",
            ],
            &[
                "Device Removed / Device Absent",
                "Device Inserted / Device Present",
            ],
            &["Device Disabled", "Device Enabled"],
            &[
                "Transition to Running",
                "Transition to In Test",
                "Transition to Power Off",
                "Transition to On Line",
                "Transition to Off Line",
                "Transition to Off Duty",
                "Transition to Degraded",
                "Transition to Power Save",
                "Install Error",
            ],
            &[
                "Fully Redundant",
                "Redundancy Lost",
                "Redundancy Degraded",
                "Non-redundant:Sufficient Resources from Redundant",
                "Non-redundant:Sufficient Resources from Insufficient Resources",
                "Non-redundant:Insufficient Resources",
                "Redundancy Degraded from Fully Redundant",
                "Redundancy Degraded from Non-redundant",
            ],
            &[
                "D0 Power State",
                "D1 Power State",
                "D2 Power State",
                "D3 Power State",
            ],
            &[],
        ];
        let off = usize::from(self.offset());
        match self.event_type {
            0x01 => THRESHOLD.get(off).copied(),
            t @ 0x02..=0x0C => GENERIC[usize::from(t - 0x02)].get(off).copied(),
            0x6F => Some(if self.deassertion {
                "Deassert"
            } else {
                "Assert"
            }),
            0x70..=0x7F => Some("OEM"),
            _ => None,
        }
    }

    /// Severity where the event type itself says it: threshold crossings
    /// (non-critical → Warning, critical and non-recoverable → Critical)
    /// and the generic severity type (0x07). A deasserted threshold is the
    /// condition going away: OK. Other types (sensor-specific, discrete
    /// states) carry no severity in IPMI: `None`, not a guess.
    pub fn severity(&self) -> Option<&'static str> {
        let off = self.offset();
        match self.event_type {
            0x01 if self.deassertion => Some("OK"),
            0x01 => match off {
                0..=1 | 6..=7 => Some("Warning"),
                2..=5 | 8..=11 => Some("Critical"),
                _ => None,
            },
            0x07 => match off {
                0 => Some("OK"),
                1 | 4 => Some("Warning"),
                2 | 3 | 5 | 6 => Some("Critical"),
                7 | 8 => Some("OK"),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sel_info() {
        // A Get SEL Info answer with 3 entries, built by hand from §31.2.
        let d = [
            0x51, 0x03, 0x00, 0xd0, 0x07, 0x10, 0x32, 0x2e, 0x69, 0xff, 0xff, 0xff, 0xff, 0x0a,
        ];
        let i = SelInfo::decode(&d).unwrap();
        assert_eq!(i.version, 0x51);
        assert_eq!(i.entries, 3);
        assert_eq!(i.free_bytes, 2000);
        assert_eq!(i.last_add, 0x692e_3210);
        assert_eq!(i.last_erase, u32::MAX);
        assert!(!i.overflow && i.reserve_supported);
        assert!(SelInfo::decode(&d[..13]).is_err());
    }

    #[test]
    fn requests() {
        assert_eq!(get_entry_request(0, FIRST), [0, 0, 0, 0, 0, 0xFF]);
        assert_eq!(
            get_entry_request(0x1234, 0x0102),
            [0x34, 0x12, 2, 1, 0, 0xFF]
        );
        assert_eq!(
            clear_request(0x0001, true),
            [0x01, 0x00, 0x43, 0x4c, 0x52, 0xaa]
        );
        assert_eq!(clear_request(0x0001, false)[5], 0);
        assert_eq!(decode_reservation(&[0x02, 0x01]), Ok(0x0102));
        assert!(decode_reservation(&[0x02]).is_err());
        assert_eq!(decode_clear_progress(&[0x01]), Ok(true));
        assert_eq!(decode_clear_progress(&[0x00]), Ok(false));
        assert!(decode_clear_progress(&[]).is_err());
        assert_eq!(decode_time(&[0x10, 0x32, 0x2e, 0x69]), Ok(0x692e_3210));
        assert!(decode_time(&[1, 2, 3]).is_err());
    }

    #[test]
    fn system_event_record() {
        // Next id 0x0002; record 0x0001: type 2, time 0x692e3210, generator
        // 0x0020 (BMC), EvM 4, sensor type 1 (temperature) number 0x30,
        // assertion of threshold event "upper critical going high" (offset 9).
        let d = [
            0x02, 0x00, 0x01, 0x00, 0x02, 0x10, 0x32, 0x2e, 0x69, 0x20, 0x00, 0x04, 0x01, 0x30,
            0x01, 0x59, 0x5a, 0x50,
        ];
        let (next, r) = decode_entry(&d).unwrap();
        assert_eq!(next, 2);
        assert_eq!((r.record_id, r.record_type), (1, 2));
        assert_eq!(r.timestamp, Some(0x692e_3210));
        let e = r.event.unwrap();
        assert_eq!(e.generator_id, 0x20);
        assert_eq!((e.sensor_type, e.sensor_number), (1, 0x30));
        assert_eq!((e.deassertion, e.event_type, e.offset()), (false, 1, 9));
        assert_eq!(e.sensor_type_name(), Some("Temperature"));
        assert_eq!(e.entry_code(), Some("Upper Critical - going high"));
        assert_eq!(e.severity(), Some("Critical"));
        assert_eq!(e.message_id(), "0x01595A50");
        assert!(decode_entry(&d[..17]).is_err());
    }

    #[test]
    fn deassertions_sensor_specific_and_oem_records() {
        let mut rec = [0u8; 16];
        rec[2] = 0x02;
        rec[10] = 0x07; // processor
        rec[12] = 0x80 | 0x6F; // deassertion, sensor-specific
        rec[13] = 0x01;
        let r = SelRecord::decode(&rec);
        let e = r.event.unwrap();
        assert_eq!(e.entry_code(), Some("Deassert"));
        assert_eq!(e.severity(), None, "sensor-specific: no severity guessed");
        assert_eq!(e.message_id(), "0xEF010000");
        let mut thr = rec;
        thr[10] = 0x02;
        thr[12] = 0x80 | 0x01;
        thr[13] = 0x02;
        let e = SelRecord::decode(&thr).event.unwrap();
        assert_eq!(e.entry_code(), Some("Lower Critical - going low"));
        assert_eq!(e.severity(), Some("OK"), "a deasserted threshold");
        let mut oem = rec;
        oem[2] = 0xC1;
        let r = SelRecord::decode(&oem);
        assert!(r.event.is_none() && r.timestamp.is_some());
        oem[2] = 0xE0;
        assert_eq!(SelRecord::decode(&oem).timestamp, None);
        let mut reserved = rec;
        reserved[10] = 0x2D;
        reserved[12] = 0x0D;
        let e = SelRecord::decode(&reserved).event.unwrap();
        assert_eq!((e.sensor_type_name(), e.entry_code()), (None, None));
    }
}
