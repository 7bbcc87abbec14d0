//! Commands carried in the data field of request frames (spec §3.6).
//!
//! The bus layer builds requests from these; the emulator parses them back.
//! Responses are interpreted by the callers (see [`super::convert`]), because
//! the same answer text means different things to different endpoints.

/// Power actions of the `P` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    On,
    Off,
    Cycle,
    Status,
}

impl PowerAction {
    /// Case-insensitive match of an API action word.
    pub fn parse(word: &str) -> Option<Self> {
        match word.to_ascii_lowercase().as_str() {
            "on" => Some(Self::On),
            "off" => Some(Self::Off),
            "cycle" => Some(Self::Cycle),
            "status" => Some(Self::Status),
            _ => None,
        }
    }

    fn byte(self) -> u8 {
        match self {
            Self::On => b'1',
            Self::Off => b'0',
            Self::Cycle => b'C',
            Self::Status => b'?',
        }
    }
}

/// Boot targets of the `B` command (server's mapping, spec §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootTarget {
    NoOverride,
    Hdd,
    Pxe,
}

/// A request command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `D`: every addressed board answers one frame per device.
    Scan,
    /// `V`: firmware version text.
    Version,
    /// `R`: one reading.
    Read,
    /// `RI` (v1.1): asset information text of a power device.
    ReadAsset,
    /// `WI` + text (v1.1): store asset information; the board echoes it.
    WriteAsset(Vec<u8>),
    /// `W` + value (v1.2+): write, answered by `W1`/`W0`.
    Write(Vec<u8>),
    /// `P1`/`P0`/`PC`/`P?`: power control, answered with the status.
    Power(PowerAction),
    /// `?` (v1.2+): ask the device to send its last answer again.
    Retry,
    /// `A` (v1.3): asset fields.
    Asset,
    /// `B0`/`B1`/`B2` set, `B?` (`None`) query.
    BootTarget(Option<BootTarget>),
    /// `L…` (v1.3): chamber LED, the text after the `L`.
    ChamberLed(Vec<u8>),
    /// `H` (v1.3): host names and addresses.
    HostInfo,
}

impl Command {
    /// The data field of a request frame.
    pub fn to_data(&self) -> Vec<u8> {
        match self {
            Command::Scan => b"D".to_vec(),
            Command::Version => b"V".to_vec(),
            Command::Read => b"R".to_vec(),
            Command::ReadAsset => b"RI".to_vec(),
            Command::WriteAsset(text) => [b"WI".as_slice(), text].concat(),
            Command::Write(value) => [b"W".as_slice(), value].concat(),
            Command::Power(a) => vec![b'P', a.byte()],
            Command::Retry => b"?".to_vec(),
            Command::Asset => b"A".to_vec(),
            Command::BootTarget(t) => vec![
                b'B',
                match t {
                    Some(BootTarget::NoOverride) => b'0',
                    Some(BootTarget::Hdd) => b'1',
                    Some(BootTarget::Pxe) => b'2',
                    None => b'?',
                },
            ],
            Command::ChamberLed(rest) => [b"L".as_slice(), rest].concat(),
            Command::HostInfo => b"H".to_vec(),
        }
    }

    /// Parses a request data field the way the emulator dispatches it: on the
    /// first letter, with the second byte refining `R`, `W`, `P` and `B`.
    pub fn parse(data: &[u8]) -> Option<Command> {
        let (&first, rest) = data.split_first()?;
        Some(match first {
            b'D' => Command::Scan,
            b'V' => Command::Version,
            b'R' if rest.first() == Some(&b'I') => Command::ReadAsset,
            b'R' => Command::Read,
            b'W' if rest.first() == Some(&b'I') => Command::WriteAsset(rest[1..].to_vec()),
            b'W' => Command::Write(rest.to_vec()),
            b'P' => Command::Power(match rest.first() {
                Some(b'1') => PowerAction::On,
                Some(b'0') => PowerAction::Off,
                Some(b'C') => PowerAction::Cycle,
                _ => PowerAction::Status,
            }),
            b'?' => Command::Retry,
            b'A' => Command::Asset,
            b'B' => Command::BootTarget(match rest.first() {
                Some(b'0') => Some(BootTarget::NoOverride),
                Some(b'1') => Some(BootTarget::Hdd),
                Some(b'2') => Some(BootTarget::Pxe),
                _ => None,
            }),
            b'L' => Command::ChamberLed(rest.to_vec()),
            b'H' => Command::HostInfo,
            _ => return None,
        })
    }

    /// Short name for logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Scan => "scan",
            Command::Version => "version",
            Command::Read => "read",
            Command::ReadAsset => "asset read",
            Command::WriteAsset(_) => "asset write",
            Command::Write(_) => "write",
            Command::Power(_) => "power",
            Command::Retry => "retry",
            Command::Asset => "asset",
            Command::BootTarget(_) => "boot target",
            Command::ChamberLed(_) => "chamber led",
            Command::HostInfo => "host info",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_round_trips_through_its_data_field() {
        let all = [
            Command::Scan,
            Command::Version,
            Command::Read,
            Command::ReadAsset,
            Command::WriteAsset(b"rack 3, slot 7".to_vec()),
            Command::Write(vec![0xFF, b'4', b'1', b'0', b'0']),
            Command::Power(PowerAction::On),
            Command::Power(PowerAction::Off),
            Command::Power(PowerAction::Cycle),
            Command::Power(PowerAction::Status),
            Command::Retry,
            Command::Asset,
            Command::BootTarget(Some(BootTarget::NoOverride)),
            Command::BootTarget(Some(BootTarget::Hdd)),
            Command::BootTarget(Some(BootTarget::Pxe)),
            Command::BootTarget(None),
            Command::ChamberLed(b"1,rack_1,ffffff,0".to_vec()),
            Command::HostInfo,
        ];
        for c in all {
            assert_eq!(Command::parse(&c.to_data()), Some(c.clone()), "{c:?}");
        }
    }

    #[test]
    fn wire_spelling() {
        assert_eq!(Command::Power(PowerAction::Cycle).to_data(), b"PC");
        assert_eq!(Command::Power(PowerAction::Status).to_data(), b"P?");
        assert_eq!(Command::WriteAsset(b"x".to_vec()).to_data(), b"WIx");
        assert_eq!(Command::parse(b""), None);
        assert_eq!(Command::parse(b"Z"), None);
        assert_eq!(PowerAction::parse("CyClE"), Some(PowerAction::Cycle));
        assert_eq!(PowerAction::parse("reboot"), None);
    }
}
