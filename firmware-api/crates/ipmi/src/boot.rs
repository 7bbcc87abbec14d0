//! System boot options (IPMI v2.0 §28.12 Set, §28.13 Get, table 28-14):
//! the wire form of parameter 5, the boot flags, and of the set-in-progress
//! parameter 0. Pure codecs; `ops` sends them inside a session.
//!
//! Why only parameter 5: it is the boot override a remote console sets
//! (device, once or persistent, legacy or EFI). The BIOS-side parameters
//! (boot info acknowledge, initiator info) are the host's business.

use serde::Serialize;

pub(crate) const CMD_SET_SYSTEM_BOOT_OPTIONS: u8 = 0x08;
pub(crate) const CMD_GET_SYSTEM_BOOT_OPTIONS: u8 = 0x09;

/// Parameter 0, "set in progress" (table 28-14).
pub(crate) const PARAM_SET_IN_PROGRESS: u8 = 0;
/// Parameter 5, "boot flags".
pub(crate) const PARAM_BOOT_FLAGS: u8 = 5;

/// Values of parameter 0 (data byte 1, bits 1:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetState {
    Complete = 0,
    InProgress = 1,
    /// Optional in the spec: BMCs that do not know it reject it.
    CommitWrite = 2,
}

/// Boot device selector, boot flags data byte 2 bits 5:2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BootDevice {
    /// 0000b: no override, the BIOS boots as configured.
    NoOverride,
    Pxe,
    /// Default hard drive.
    Hdd,
    /// Default hard drive, "request Safe Mode".
    HddSafeMode,
    /// Default diagnostic partition.
    Diagnostic,
    /// Default CD/DVD.
    Cd,
    BiosSetup,
    /// Remotely connected (redirected) floppy / primary removable media.
    RemoteFloppy,
    /// Remotely connected (redirected) CD/DVD.
    RemoteCd,
    /// Primary remote media.
    RemotePrimaryMedia,
    /// Remotely connected (redirected) hard drive.
    RemoteHdd,
    /// Floppy / primary removable media.
    Floppy,
    /// A selector the spec reserves (1010b, 1100b–1110b), as read.
    Reserved(u8),
}

impl BootDevice {
    pub fn code(self) -> u8 {
        match self {
            BootDevice::NoOverride => 0x0,
            BootDevice::Pxe => 0x1,
            BootDevice::Hdd => 0x2,
            BootDevice::HddSafeMode => 0x3,
            BootDevice::Diagnostic => 0x4,
            BootDevice::Cd => 0x5,
            BootDevice::BiosSetup => 0x6,
            BootDevice::RemoteFloppy => 0x7,
            BootDevice::RemoteCd => 0x8,
            BootDevice::RemotePrimaryMedia => 0x9,
            BootDevice::RemoteHdd => 0xB,
            BootDevice::Floppy => 0xF,
            BootDevice::Reserved(c) => c & 0x0F,
        }
    }

    pub fn from_code(code: u8) -> BootDevice {
        match code & 0x0F {
            0x0 => BootDevice::NoOverride,
            0x1 => BootDevice::Pxe,
            0x2 => BootDevice::Hdd,
            0x3 => BootDevice::HddSafeMode,
            0x4 => BootDevice::Diagnostic,
            0x5 => BootDevice::Cd,
            0x6 => BootDevice::BiosSetup,
            0x7 => BootDevice::RemoteFloppy,
            0x8 => BootDevice::RemoteCd,
            0x9 => BootDevice::RemotePrimaryMedia,
            0xB => BootDevice::RemoteHdd,
            0xF => BootDevice::Floppy,
            c => BootDevice::Reserved(c),
        }
    }
}

/// Parameter 5, the boot flags (five data bytes). The bits this crate
/// does not interpret (CMOS clear, keyboard lock, console redirection, …)
/// are kept in `raw` and written back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BootFlags {
    /// Byte 1 bit 7: the flags are valid (an override is pending).
    pub valid: bool,
    /// Byte 1 bit 6: apply to all future boots, not only the next one.
    pub persistent: bool,
    /// Byte 1 bit 5: EFI boot; clear is PC-compatible (legacy) boot.
    pub efi: bool,
    pub device: BootDevice,
    /// The five data bytes as read (or as they will be written).
    pub raw: [u8; 5],
    /// The parameter was marked invalid/locked (Get response byte 2 bit 7).
    pub locked: bool,
}

impl BootFlags {
    /// Decodes the response data of Get System Boot Options for parameter 5
    /// (completion code removed): parameter version, parameter valid and
    /// selector byte, then the five boot-flag bytes.
    pub fn decode(data: &[u8]) -> Result<BootFlags, String> {
        let [version, param, rest @ ..] = data else {
            return Err(format!(
                "Get System Boot Options returned {} data bytes, expected 7",
                data.len()
            ));
        };
        if version & 0x0F != 1 {
            return Err(format!(
                "parameter version {} (the spec's is 1)",
                version & 0x0F
            ));
        }
        if param & 0x7F != PARAM_BOOT_FLAGS {
            return Err(format!(
                "answer is for parameter {}, asked for {PARAM_BOOT_FLAGS}",
                param & 0x7F
            ));
        }
        let Some(raw) = rest.get(..5) else {
            return Err(format!(
                "boot flags have {} data bytes, expected 5",
                rest.len()
            ));
        };
        let raw: [u8; 5] = raw.try_into().map_err(|_| "boot flags length")?;
        Ok(BootFlags::from_raw(raw, param & 0x80 != 0))
    }

    fn from_raw(raw: [u8; 5], locked: bool) -> BootFlags {
        BootFlags {
            valid: raw[0] & 0x80 != 0,
            persistent: raw[0] & 0x40 != 0,
            efi: raw[0] & 0x20 != 0,
            device: BootDevice::from_code(raw[1] >> 2),
            raw,
            locked,
        }
    }

    /// These flags with `change` applied; untouched bits stay as they are.
    pub fn with(self, change: BootChange) -> BootFlags {
        let mut raw = self.raw;
        if let Some((valid, persistent)) = change.enabled {
            raw[0] = (raw[0] & !0xC0) | (u8::from(valid) << 7) | (u8::from(persistent) << 6);
        }
        if let Some(efi) = change.efi {
            raw[0] = (raw[0] & !0x20) | (u8::from(efi) << 5);
        }
        if let Some(device) = change.device {
            raw[1] = (raw[1] & !0x3C) | (device.code() << 2);
        }
        BootFlags::from_raw(raw, self.locked)
    }

    /// The request data of Set System Boot Options for these flags
    /// (byte 1 bit 7 clear: mark the parameter valid/unlocked).
    pub fn set_request(&self) -> [u8; 6] {
        let r = self.raw;
        [PARAM_BOOT_FLAGS, r[0], r[1], r[2], r[3], r[4]]
    }
}

/// What a client changes in the boot flags; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BootChange {
    pub device: Option<BootDevice>,
    /// (valid, persistent): disabled is (false, _), once (true, false),
    /// continuous (true, true).
    pub enabled: Option<(bool, bool)>,
    pub efi: Option<bool>,
}

/// Request data of Get System Boot Options: parameter, set 0, block 0.
pub(crate) fn get_request(param: u8) -> [u8; 3] {
    [param & 0x7F, 0, 0]
}

pub(crate) fn set_in_progress_request(v: SetState) -> [u8; 2] {
    [PARAM_SET_IN_PROGRESS, v as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipmi_sim_answers() {
        // `ipmitool raw 0x00 0x09 0x05 0 0` against ci/peers/ipmi_sim after
        // `chassis bootdev pxe`: 01 05 00 04 00 00 00.
        let f = BootFlags::decode(&[0x01, 0x05, 0x00, 0x04, 0, 0, 0]).unwrap();
        assert_eq!(f.device, BootDevice::Pxe);
        assert!(!f.valid && !f.persistent && !f.efi && !f.locked);
        let f = BootFlags::decode(&[0x01, 0x85, 0xE0, 0x18, 0, 0, 0]).unwrap();
        assert!(f.valid && f.persistent && f.efi && f.locked);
        assert_eq!(f.device, BootDevice::BiosSetup);
    }

    #[test]
    fn malformed_answers_are_errors() {
        for (data, why) in [
            (&[][..], "7"),
            (&[0x01][..], "7"),
            (&[0x01, 0x05, 0, 0, 0, 0][..], "4 data bytes"),
            (&[0x02, 0x05, 0, 0, 0, 0, 0][..], "version 2"),
            (&[0x01, 0x04, 0, 0, 0, 0, 0][..], "parameter 4"),
        ] {
            let e = BootFlags::decode(data).unwrap_err();
            assert!(e.contains(why), "{data:?}: {e}");
        }
        // Longer answers are read up to the five bytes of the parameter.
        assert!(BootFlags::decode(&[0x01, 0x05, 0, 0, 0, 0, 0, 0xFF]).is_ok());
    }

    #[test]
    fn device_codes_round_trip() {
        for c in 0..16u8 {
            assert_eq!(BootDevice::from_code(c).code(), c);
        }
        assert_eq!(BootDevice::from_code(0xA), BootDevice::Reserved(0xA));
        assert_eq!(BootDevice::from_code(0x11), BootDevice::Pxe, "4 bits only");
    }

    #[test]
    fn changes_keep_the_other_bits() {
        // CMOS clear (byte 2 bit 7), screen blank (bit 1), console
        // redirection (byte 3) must survive an override.
        let f = BootFlags::decode(&[0x01, 0x05, 0x20, 0x82, 0x03, 0x00, 0x00]).unwrap();
        let once_pxe = f.with(BootChange {
            device: Some(BootDevice::Pxe),
            enabled: Some((true, false)),
            efi: None,
        });
        assert_eq!(once_pxe.set_request(), [0x05, 0xA0, 0x86, 0x03, 0x00, 0x00]);
        assert!(once_pxe.valid && !once_pxe.persistent && once_pxe.efi);
        let continuous_legacy = once_pxe.with(BootChange {
            enabled: Some((true, true)),
            efi: Some(false),
            ..Default::default()
        });
        assert_eq!(continuous_legacy.raw[0], 0xC0);
        assert_eq!(continuous_legacy.device, BootDevice::Pxe);
        let off = continuous_legacy.with(BootChange {
            enabled: Some((false, false)),
            device: Some(BootDevice::NoOverride),
            ..Default::default()
        });
        assert_eq!(off.set_request(), [0x05, 0x00, 0x82, 0x03, 0x00, 0x00]);
        assert_eq!(f.with(BootChange::default()), f, "no change, same bytes");
    }

    #[test]
    fn requests() {
        assert_eq!(get_request(PARAM_BOOT_FLAGS), [5, 0, 0]);
        assert_eq!(get_request(0x85), [5, 0, 0]);
        assert_eq!(set_in_progress_request(SetState::InProgress), [0, 1]);
        assert_eq!(set_in_progress_request(SetState::CommitWrite), [0, 2]);
        assert_eq!(set_in_progress_request(SetState::Complete), [0, 0]);
    }
}
