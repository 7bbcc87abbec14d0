//! The emulated device bus as a pure state machine (spec §5.3, §5.4).
//!
//! One request frame in, the byte chunks to write out (one chunk per packet,
//! in order; none means the bus stays silent). No I/O and no clocks here, so
//! every behaviour of the original emulator can be tested directly and the
//! serving loop cannot change semantics.
//!
//! Semantics follow the v1.2/v1.3 emulator, which is a superset of v1.1's:
//! responses echo the request's sequence number, the SAVE bit is honoured,
//! `?` re-dispatches the previous request, raw byte lists may carry sentinels.
//! Where the original crashed (and thereby went silent), this engine is silent.

use opendcre_proto::board_id::{SAVE, SCAN_ALL, SHUFFLE};
use opendcre_proto::frame::{checksum, HEADER, TRAILER};
use opendcre_proto::{DeviceType, Frame};

use super::config::{
    Action, BoardConfig, DeviceConfig, EmulatorConfig, Field, LineNoise, RawByte, RawData,
    Response, ScanAllEntry, ScanOutcome, StateValue, Version,
};

/// Position in a response list. `normal` reaching the list length means a
/// non-repeatable list is exhausted.
#[derive(Debug, Default, Clone)]
struct Cursor {
    normal: usize,
    retry: usize,
}

/// The action lists of a device, each with its own independent counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Power,
    Asset,
    BootTarget,
    HostInfo,
}

const KINDS: usize = 6;

#[derive(Debug, Clone)]
struct Device {
    cfg: DeviceConfig,
    cursors: [Cursor; KINDS],
    /// Current v1.1 asset text: initialised from the config, replaced by `WI`.
    asset_text: Option<Vec<u8>>,
    /// Shared state of a `has_state` device, set lazily from the first field used.
    state: Option<StateValue>,
    /// Position in a list-valued state (power on/off lists).
    state_pos: usize,
    /// Chamber LED state per rack id.
    led: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone)]
struct Board {
    cfg: BoardConfig,
    devices: Vec<Device>,
    scan_pos: usize,
    retry_scan_pos: usize,
    retry_version_pos: usize,
}

/// The emulated bus: all boards and their devices, with the per-device
/// counters and states that persist for the emulator's lifetime.
#[derive(Debug, Clone)]
pub struct Emulator {
    boards: Vec<Board>,
    scanall: Vec<ScanAllEntry>,
    scanall_pos: usize,
    scanall_retry_pos: usize,
    /// The last request that was not a `?`: what a `?` re-dispatches.
    previous: Option<Frame>,
    noise: Option<Noise>,
}

/// Per-request context: the sequence to echo and whether this is a `?` retry.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    seq: u8,
    retry: bool,
}

type Chunks = Vec<Vec<u8>>;

impl Emulator {
    pub fn from_config(cfg: EmulatorConfig) -> Emulator {
        let boards = cfg
            .boards
            .into_iter()
            .map(|mut b| Board {
                devices: std::mem::take(&mut b.devices)
                    .into_iter()
                    .map(|d| Device {
                        asset_text: d.asset_text.clone(),
                        cfg: d,
                        cursors: Default::default(),
                        state: None,
                        state_pos: 0,
                        led: Vec::new(),
                    })
                    .collect(),
                cfg: b,
                scan_pos: 0,
                retry_scan_pos: 0,
                retry_version_pos: 0,
            })
            .collect();
        Emulator {
            boards,
            scanall: cfg.scanall,
            scanall_pos: 0,
            scanall_retry_pos: 0,
            previous: None,
            noise: cfg.line_noise.map(|cfg| Noise {
                rng: SplitMix64(cfg.seed),
                cfg,
            }),
        }
    }

    /// Number of emulated boards.
    pub(crate) fn board_count(&self) -> usize {
        self.boards.len()
    }

    /// Answers one request: the packets to write, in order; empty = silence.
    pub fn handle(&mut self, request: &Frame) -> Vec<Vec<u8>> {
        let ctx_seq = request.sequence;
        let (packet, retry) = if request.data.first() == Some(&b'?') {
            match &self.previous {
                Some(p) => (p.clone(), true),
                None => return Vec::new(),
            }
        } else {
            self.previous = Some(request.clone());
            (request.clone(), false)
        };
        let ctx = Ctx {
            seq: ctx_seq,
            retry,
        };
        let data = &packet.data;
        let out = match data.first() {
            Some(b'D') => self.scan(&packet, ctx),
            Some(b'V') => self.version(&packet, ctx),
            Some(b'R') if data.len() == 1 => self.read(&packet, ctx),
            Some(b'R') if data[1] == b'I' => self.read_asset(&packet, ctx),
            Some(b'P') => self.power(&packet, ctx),
            Some(b'W') if data.get(1) == Some(&b'I') => self.write_asset(&packet, ctx),
            Some(b'W') => self.write(&packet, ctx),
            Some(b'A') => self.simple_action(&packet, ctx, Kind::Asset),
            Some(b'B') => self.boot_target(&packet, ctx),
            Some(b'L') => self.chamber_led(&packet, ctx),
            Some(b'H') => self.simple_action(&packet, ctx, Kind::HostInfo),
            _ => Vec::new(),
        };
        let mut out: Chunks = out.into_iter().filter(|c| !c.is_empty()).collect();
        if let Some(noise) = &mut self.noise {
            out.iter_mut().for_each(|p| noise.damage(p));
        }
        out
    }

    fn board_mut(&mut self, board_id: u32) -> Option<&mut Board> {
        self.boards.iter_mut().find(|b| b.cfg.board_id == board_id)
    }

    /// The device addressed by the packet, if its type is acceptable.
    fn device_mut(
        &mut self,
        p: &Frame,
        type_ok: impl Fn(DeviceType, DeviceType) -> bool,
    ) -> Option<&mut Device> {
        let requested = DeviceType(p.device_type);
        self.board_mut(p.board_id)?
            .devices
            .iter_mut()
            .find(|d| d.cfg.device_id == p.device_id && type_ok(requested, d.cfg.device_type))
    }

    // ---------------------------------------------------------------- scan

    fn scan(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        if p.board_id & SAVE != 0 {
            return Vec::new();
        }
        if p.board_id & SCAN_ALL == 0 {
            return match self.board_mut(p.board_id) {
                Some(b) if ctx.retry => b.retry_scan(ctx),
                Some(b) => b.scan(ctx),
                None => Vec::new(),
            };
        }
        let failed = self.scanall_step(p.board_id & SHUFFLE != 0);
        let mut out = Vec::new();
        for b in &mut self.boards {
            let mut chunks = if ctx.retry {
                b.retry_scan(ctx)
            } else {
                b.scan(ctx)
            };
            if failed == Some(b.cfg.board_id) {
                chunks.iter_mut().for_each(|c| inject_error(c));
            }
            out.extend(chunks);
        }
        out
    }

    /// Advances the `scanall` failure script; returns the board to corrupt.
    fn scanall_step(&mut self, shuffle: bool) -> Option<u32> {
        let n = self.scanall.len();
        let entry = self.scanall.get(self.scanall_pos)?;
        let (outcome, advance) = if !shuffle {
            (entry.initial, entry.initial == ScanOutcome::Ok)
        } else {
            // A retry the script does not cover answers normally and ends the entry.
            let outcome = entry
                .retry
                .get(self.scanall_retry_pos)
                .copied()
                .unwrap_or(ScanOutcome::Ok);
            self.scanall_retry_pos += 1;
            (outcome, self.scanall_retry_pos >= entry.retry.len())
        };
        if advance {
            self.scanall_pos = (self.scanall_pos + 1) % n;
            self.scanall_retry_pos = 0;
        }
        match outcome {
            ScanOutcome::Ok => None,
            ScanOutcome::Error { failed_board } => Some(failed_board),
        }
    }

    // ------------------------------------------------------------- version

    fn version(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        let Some(b) = self.board_mut(p.board_id) else {
            return Vec::new();
        };
        if ctx.retry {
            return match &b.cfg.retry_firmware_version {
                Some(list) => retry_answer(list, &mut b.retry_version_pos, ctx),
                None => Vec::new(),
            };
        }
        match &b.cfg.firmware_version {
            Some(Version::Text(t)) => text_frame(ctx, t),
            Some(Version::Raw(raw)) => vec![resolve(raw, ctx.seq)],
            None => Vec::new(),
        }
    }

    // ---------------------------------------------------------- read/write

    fn read(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        match self.device_mut(p, compatible) {
            Some(d) => d.field_answer(Kind::Read, ctx, |dev| dev.state_text()),
            None => Vec::new(),
        }
    }

    fn write(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        let data = p.data.clone();
        match self.device_mut(p, compatible) {
            Some(d) => d.field_answer(Kind::Write, ctx, |dev| {
                // Fans carry a motor-pole placeholder byte before the value.
                let skip = if is_fan(dev.cfg.device_type) { 2 } else { 1 };
                dev.state = Some(StateValue::Text(data.get(skip..).unwrap_or(&[]).to_vec()));
                Some(b"W1".to_vec())
            }),
            None => Vec::new(),
        }
    }

    fn power(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        let action = p.data.get(1).copied();
        match self.device_mut(p, |_, dev| dev.is_power_like()) {
            Some(d) => d.field_answer(Kind::Power, ctx, |dev| {
                let target = match action {
                    Some(b'0') => Some(&dev.cfg.off),
                    Some(b'1') => Some(&dev.cfg.on),
                    _ => None,
                };
                if let Some(t) = target {
                    // An unconfigured on/off state crashed the original: silence.
                    dev.state = Some(t.clone()?);
                }
                match dev.state.as_ref()? {
                    StateValue::Text(t) => Some(t.clone()),
                    StateValue::Cycle(list) => {
                        let t = list[dev.state_pos % list.len()].clone();
                        dev.state_pos = (dev.state_pos + 1) % list.len();
                        Some(t)
                    }
                }
            }),
            None => Vec::new(),
        }
    }

    fn boot_target(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        let action = p.data.get(1).copied();
        match self.device_mut(p, exact) {
            Some(d) => d.field_answer(Kind::BootTarget, ctx, |dev| {
                // The original emulator's mapping (spec §9.23), not the server's.
                let target = match action {
                    Some(b'0') => Some(&dev.cfg.hdd),
                    Some(b'1') => Some(&dev.cfg.pxe),
                    Some(b'2') => Some(&dev.cfg.no_override),
                    _ => None,
                };
                if let Some(t) = target {
                    dev.state = Some(StateValue::Text(t.clone()?));
                }
                dev.state_text()
            }),
            None => Vec::new(),
        }
    }

    fn chamber_led(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        let body = p.data[1..].to_vec();
        match self.device_mut(p, exact) {
            Some(d) => d.field_answer(Kind::Write, ctx, |dev| {
                let parts: Vec<&[u8]> = body.split(|&b| b == b',').collect();
                let [state, rack, color, blink, ..] = parts.as_slice() else {
                    // Fewer than four fields crashed the original: silence.
                    return None;
                };
                let initial = match &dev.cfg.write {
                    Some(Field::State(s)) => state_text(s),
                    _ => return None,
                };
                let pos = match dev.led.iter().position(|(r, _)| r.as_slice() == *rack) {
                    Some(i) => i,
                    None => {
                        dev.led.push((rack.to_vec(), initial));
                        dev.led.len() - 1
                    }
                };
                if *blink != b"-1".as_slice() {
                    dev.led[pos].1 = [*state, *color, *blink].join(&b',');
                }
                Some(dev.led[pos].1.clone())
            }),
            None => Vec::new(),
        }
    }

    /// `A` and `H`: plain response lists, never stateful.
    fn simple_action(&mut self, p: &Frame, ctx: Ctx, kind: Kind) -> Chunks {
        match self.device_mut(p, exact) {
            Some(d) => d.plain_answer(kind, ctx),
            None => Vec::new(),
        }
    }

    // ------------------------------------------------------ v1.1 asset info

    fn read_asset(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        let board_id = p.board_id;
        match self.device_mut(p, exact) {
            Some(d) => match &d.asset_text {
                Some(t) => d.asset_frame(board_id, ctx, t.clone()),
                None => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    fn write_asset(&mut self, p: &Frame, ctx: Ctx) -> Chunks {
        let board_id = p.board_id;
        let text = p.data[2..].to_vec();
        match self.device_mut(p, exact) {
            Some(d) => {
                d.asset_text = Some(text.clone());
                d.asset_frame(board_id, ctx, text)
            }
            None => Vec::new(),
        }
    }
}

impl Board {
    fn scan(&mut self, ctx: Ctx) -> Chunks {
        match &self.cfg.raw_data {
            Some(RawData::Flat(raw)) => vec![resolve(raw, ctx.seq)],
            Some(RawData::Cycle(answers)) => {
                if answers.is_empty() {
                    return Vec::new();
                }
                let answer = &answers[self.scan_pos % answers.len()];
                self.scan_pos = (self.scan_pos + 1) % answers.len();
                match answer {
                    Some(packets) => packets.iter().map(|p| resolve(p, ctx.seq)).collect(),
                    None => Vec::new(),
                }
            }
            None => self
                .devices
                .iter()
                .filter_map(|d| {
                    let code = d.cfg.device_type.0;
                    Frame {
                        sequence: ctx.seq,
                        device_type: code,
                        board_id: self.cfg.board_id,
                        device_id: d.cfg.device_id,
                        data: vec![code],
                    }
                    .encode()
                    .ok()
                })
                .collect(),
        }
    }

    fn retry_scan(&mut self, ctx: Ctx) -> Chunks {
        match &self.cfg.retry_raw_data {
            Some(list) => retry_answer(list, &mut self.retry_scan_pos, ctx),
            None => Vec::new(),
        }
    }
}

impl Device {
    fn state_text(&self) -> Option<Vec<u8>> {
        self.state.as_ref().map(|s| match s {
            StateValue::Text(t) => t.clone(),
            // Reads of a list-valued state show the element the next power
            // answer would hand out (the original printed the Python list).
            StateValue::Cycle(list) => list[self.state_pos % list.len()].clone(),
        })
    }

    /// Answers a request for a field that may be a response list or, on a
    /// stateful device, an initial state that `stateful` updates and prints.
    fn field_answer(
        &mut self,
        kind: Kind,
        ctx: Ctx,
        stateful: impl FnOnce(&mut Device) -> Option<Vec<u8>>,
    ) -> Chunks {
        let field = match kind {
            Kind::Read => &self.cfg.read,
            Kind::Write => &self.cfg.write,
            Kind::Power => &self.cfg.power,
            Kind::BootTarget => &self.cfg.boot_target,
            Kind::Asset | Kind::HostInfo => &None,
        };
        match field {
            Some(Field::Action(a)) => list_answer(&mut self.cursors[kind as usize], a, ctx),
            Some(Field::State(initial)) => {
                if self.state.is_none() {
                    self.state = Some(initial.clone());
                }
                match stateful(self) {
                    Some(text) => text_frame(ctx, &text),
                    None => Vec::new(),
                }
            }
            None => Vec::new(),
        }
    }

    /// `A` and `H`: plain response lists, never stateful.
    fn plain_answer(&mut self, kind: Kind, ctx: Ctx) -> Chunks {
        let action = match kind {
            Kind::Asset => &self.cfg.asset_info,
            Kind::HostInfo => &self.cfg.host_info,
            _ => &None,
        };
        match action {
            Some(a) => list_answer(&mut self.cursors[kind as usize], a, ctx),
            None => Vec::new(),
        }
    }

    /// v1.1 asset answers carry the device's own address in the header.
    fn asset_frame(&self, board_id: u32, ctx: Ctx, text: Vec<u8>) -> Chunks {
        Frame {
            sequence: ctx.seq,
            device_type: self.cfg.device_type.0,
            board_id,
            device_id: self.cfg.device_id,
            data: text,
        }
        .encode()
        .ok()
        .into_iter()
        .collect()
    }
}

/// The response-list rules: the retry list when retrying and present, else
/// the normal list with its counter (which also advances on `null`).
fn list_answer(cursor: &mut Cursor, a: &Action, ctx: Ctx) -> Chunks {
    if ctx.retry {
        if let Some(list) = &a.retry_responses {
            return retry_answer(list, &mut cursor.retry, ctx);
        }
    }
    let len = a.responses.len();
    if cursor.normal >= len {
        return Vec::new();
    }
    let r = &a.responses[cursor.normal];
    cursor.normal += 1;
    if a.repeatable {
        cursor.normal %= len;
    }
    match r {
        Response::Raw(raw) => vec![resolve(raw, ctx.seq)],
        Response::Silence => Vec::new(),
        Response::Text(t) => text_frame(ctx, t),
    }
}

fn state_text(s: &StateValue) -> Vec<u8> {
    match s {
        StateValue::Text(t) => t.clone(),
        StateValue::Cycle(list) => list.first().cloned().unwrap_or_default(),
    }
}

/// Requested and configured types are the same code.
fn exact(requested: DeviceType, device: DeviceType) -> bool {
    requested == device
}

/// As [`exact`], plus `fan_speed` requests reach `vapor_fan` devices.
fn compatible(requested: DeviceType, device: DeviceType) -> bool {
    requested == device || (requested == DeviceType::FAN_SPEED && device == DeviceType::VAPOR_FAN)
}

fn is_fan(t: DeviceType) -> bool {
    t == DeviceType::FAN_SPEED || t == DeviceType::VAPOR_FAN
}

/// Retry lists always cycle; non-list elements are silence.
fn retry_answer(list: &[Option<Vec<RawByte>>], pos: &mut usize, ctx: Ctx) -> Chunks {
    if list.is_empty() {
        return Vec::new();
    }
    let element = &list[*pos % list.len()];
    *pos = (*pos + 1) % list.len();
    match element {
        Some(raw) => vec![resolve(raw, ctx.seq)],
        None => Vec::new(),
    }
}

/// A normal response: request's sequence, type 0xFF, board 0, device 0xFFFF.
fn text_frame(ctx: Ctx, text: &[u8]) -> Chunks {
    Frame {
        sequence: ctx.seq,
        device_type: DeviceType::NONE.0,
        board_id: 0,
        device_id: 0xFFFF,
        data: text.to_vec(),
    }
    .encode()
    .ok()
    .into_iter()
    .collect()
}

/// Substitutes sentinels: the sequence number, and checksums over the
/// already resolved bytes from `from` up to the sentinel (spec §5.4).
pub fn resolve(raw: &[RawByte], seq: u8) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for b in raw {
        let v = match *b {
            RawByte::Lit(v) => v,
            RawByte::Sequence => seq,
            RawByte::Checksum { from } => checksum(out.get(from as usize..).unwrap_or(&[])),
        };
        out.push(v);
    }
    out
}

/// The scan-all failure injection of the original: every byte that is not a
/// header or trailer value is incremented modulo 255 (sic: 254 becomes 0).
pub(crate) fn inject_error(packet: &mut [u8]) {
    for b in packet.iter_mut() {
        if *b != HEADER && *b != TRAILER {
            *b = ((*b as u16 + 1) % 255) as u8;
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014), a few lines by hand because a
/// seed must reproduce the same faults in every build: `rand`'s `StdRng`
/// is documented as free to change its algorithm between releases.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is below 2^-40 for our n.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What `line_noise` does to one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Junk,
    Truncate,
    BadChecksum,
}

#[derive(Debug, Clone)]
struct Noise {
    cfg: LineNoise,
    rng: SplitMix64,
}

impl Noise {
    fn draw(&mut self) -> Fault {
        let r = self.rng.below(1_000_000) as u32;
        let c = &self.cfg;
        if r < c.junk_ppm {
            Fault::Junk
        } else if r < c.junk_ppm + c.truncate_ppm {
            Fault::Truncate
        } else if r < c.junk_ppm + c.truncate_ppm + c.bad_checksum_ppm {
            Fault::BadChecksum
        } else {
            Fault::None
        }
    }

    /// Applies at most one fault to a packet about to be written.
    fn damage(&mut self, packet: &mut Vec<u8>) {
        match self.draw() {
            Fault::None => {}
            Fault::Junk => {
                let n = 1 + self.rng.below(u64::from(self.cfg.junk_max)) as usize;
                let junk: Vec<u8> = (0..n).map(|_| self.rng.next() as u8).collect();
                packet.splice(0..0, junk);
            }
            // A one-byte packet cannot lose a byte and stay non-empty.
            Fault::Truncate if packet.len() >= 2 => {
                let keep = 1 + self.rng.below(packet.len() as u64 - 1) as usize;
                packet.truncate(keep);
            }
            Fault::BadChecksum if packet.len() >= 2 => {
                let at = packet.len() - 2;
                packet[at] ^= 1 + self.rng.below(255) as u8;
            }
            Fault::Truncate | Fault::BadChecksum => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendcre_proto::decoder::decode_all;
    use proptest::prelude::*;

    fn emu(json: &str) -> Emulator {
        Emulator::from_config(EmulatorConfig::from_json_str(json).unwrap())
    }

    fn req(seq: u8, ty: u8, board: u32, dev: u16, data: &[u8]) -> Frame {
        Frame {
            sequence: seq,
            device_type: ty,
            board_id: board,
            device_id: dev,
            data: data.to_vec(),
        }
    }

    fn read(e: &mut Emulator, seq: u8, ty: u8, board: u32, dev: u16) -> Vec<Vec<u8>> {
        e.handle(&req(seq, ty, board, dev, b"R"))
    }

    /// Data texts of the answer, each chunk decoded as a frame.
    fn texts(chunks: &[Vec<u8>]) -> Vec<String> {
        chunks
            .iter()
            .map(|c| {
                let f = decode_all(c).remove(0).expect("a valid frame");
                f.data_text()
            })
            .collect()
    }

    fn frames(chunks: &[Vec<u8>]) -> Vec<Frame> {
        chunks
            .iter()
            .map(|c| decode_all(c).remove(0).expect("a valid frame"))
            .collect()
    }

    const SIMPLE: &str = r#"{"boards": [
      {"board_id": "00000001", "firmware_version": "OpenDCRE Emulator v1.1.0", "devices": [
        {"device_id": "01ff", "device_type": "thermistor",
         "read": {"repeatable": true, "responses": [656, 646, 636]}},
        {"device_id": "02ff", "device_type": "none", "read": {"repeatable": true, "responses": [""]}},
        {"device_id": "03ff", "device_type": "thermistor",
         "read": {"repeatable": false, "responses": [1, null, 3]}},
        {"device_id": "0dff", "device_type": "power", "asset_info": "rack 7 slot 3",
         "power": {"repeatable": true, "responses": ["0,0,0,0", "64,1215,4528,2320"]}}
      ]},
      {"board_id": "00000002", "firmware_version": [1, 2, 3, 999], "devices": []},
      {"board_id": "00000003", "devices": [
        {"device_id": "0001", "device_type": "fan_speed", "read": {"responses": [4100]}},
        {"device_id": "0002", "device_type": "vapor_fan", "read": {"responses": [3900]},
         "write": {"responses": ["W1", "W0"]}}]}
    ]}"#;

    #[test]
    fn read_cycles_and_counters_are_per_device() {
        let mut e = emu(SIMPLE);
        let got: Vec<String> = (0..4)
            .flat_map(|i| texts(&read(&mut e, i, 0x9C, 1, 0x01ff)))
            .collect();
        assert_eq!(got, ["656", "646", "636", "656"]);
        // Another device's counter is independent.
        assert_eq!(texts(&read(&mut e, 9, 0xFF, 1, 0x02ff)), [""]);
        assert_eq!(texts(&read(&mut e, 9, 0x9C, 1, 0x01ff)), ["646"]);
    }

    #[test]
    fn read_response_header_echoes_sequence_with_default_fields() {
        let mut e = emu(SIMPLE);
        let out = read(&mut e, 1, 0x9C, 1, 0x01ff);
        // Spec §3.3 vector 3: "656" with sequence 1.
        assert_eq!(
            out,
            vec![vec![
                0x01, 0x0C, 0x01, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0x36, 0x35, 0x36, 0x61, 0x04
            ]]
        );
        let f = &frames(&read(&mut e, 77, 0x9C, 1, 0x01ff))[0];
        assert_eq!(
            (f.sequence, f.device_type, f.board_id, f.device_id),
            (77, 0xFF, 0, 0xFFFF)
        );
    }

    #[test]
    fn non_repeatable_goes_silent_and_null_advances() {
        let mut e = emu(SIMPLE);
        assert_eq!(texts(&read(&mut e, 1, 0x9C, 1, 0x03ff)), ["1"]);
        assert!(
            read(&mut e, 2, 0x9C, 1, 0x03ff).is_empty(),
            "null is silence"
        );
        assert_eq!(texts(&read(&mut e, 3, 0x9C, 1, 0x03ff)), ["3"]);
        for s in 4..8 {
            assert!(read(&mut e, s, 0x9C, 1, 0x03ff).is_empty());
        }
    }

    #[test]
    fn type_mismatch_and_unknown_addresses_are_silent() {
        let mut e = emu(SIMPLE);
        assert!(
            read(&mut e, 1, 0xFF, 1, 0x01ff).is_empty(),
            "none on thermistor"
        );
        assert!(
            read(&mut e, 1, 0x9C, 1, 0x02ff).is_empty(),
            "thermistor on none"
        );
        assert!(read(&mut e, 1, 0x9C, 9, 0x01ff).is_empty(), "unknown board");
        assert!(
            read(&mut e, 1, 0x9C, 1, 0x7777).is_empty(),
            "unknown device"
        );
        assert!(
            read(&mut e, 1, 0x9C, 1 | SHUFFLE, 0x01ff).is_empty(),
            "flag bits defeat matching"
        );
        // The mismatches above did not advance the counter.
        assert_eq!(texts(&read(&mut e, 1, 0x9C, 1, 0x01ff)), ["656"]);
        assert!(e.handle(&req(1, 0x9C, 1, 0x01ff, b"RX")).is_empty());
        assert!(e.handle(&req(1, 0x9C, 1, 0x01ff, b"Z")).is_empty());
        assert!(e.handle(&req(1, 0x9C, 1, 0x01ff, b"")).is_empty());
    }

    #[test]
    fn fan_speed_requests_reach_vapor_fans_but_not_the_reverse() {
        let mut e = emu(SIMPLE);
        assert_eq!(texts(&read(&mut e, 1, 0x82, 3, 1)), ["4100"]);
        assert_eq!(texts(&read(&mut e, 1, 0x82, 3, 2)), ["3900"]);
        assert!(read(&mut e, 1, 0x88, 3, 1).is_empty());
        let w = e.handle(&req(1, 0x82, 3, 2, &[b'W', 0xFF, b'4', b'1']));
        assert_eq!(texts(&w), ["W1"]);
        let w = e.handle(&req(1, 0x82, 3, 2, &[b'W', 0xFF, b'4', b'1']));
        assert_eq!(texts(&w), ["W0"]);
    }

    #[test]
    fn scan_answers_one_frame_per_device() {
        let mut e = emu(SIMPLE);
        let out = e.handle(&req(5, 0xFF, 1, 0xFFFF, b"D"));
        let f = frames(&out);
        let got: Vec<(u8, u32, u16, Vec<u8>, u8)> = f
            .iter()
            .map(|f| {
                (
                    f.device_type,
                    f.board_id,
                    f.device_id,
                    f.data.clone(),
                    f.sequence,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (0x9C, 1, 0x01ff, vec![0x9C], 5),
                (0xFF, 1, 0x02ff, vec![0xFF], 5),
                (0x9C, 1, 0x03ff, vec![0x9C], 5),
                (0x40, 1, 0x0dff, vec![0x40], 5),
            ]
        );
        assert!(
            e.handle(&req(5, 0xFF, 2, 0xFFFF, b"D")).is_empty(),
            "no devices"
        );
        assert!(e
            .handle(&req(5, 0xFF, 1 | SHUFFLE, 0xFFFF, b"D"))
            .is_empty());
        assert!(e.handle(&req(5, 0xFF, 1 | SAVE, 0xFFFF, b"D")).is_empty());
        assert!(e
            .handle(&req(5, 0xFF, 0x9000_0000, 0xFFFF, b"D"))
            .is_empty());
    }

    #[test]
    fn scan_all_answers_every_board_in_order() {
        let mut e = emu(SIMPLE);
        let f = frames(&e.handle(&req(3, 0xFF, 0x8041_344B, 0xFFFF, b"D")));
        let ids: Vec<(u32, u16)> = f.iter().map(|f| (f.board_id, f.device_id)).collect();
        assert_eq!(
            ids,
            vec![
                (1, 0x01ff),
                (1, 0x02ff),
                (1, 0x03ff),
                (1, 0x0dff),
                (3, 1),
                (3, 2)
            ]
        );
        // Without a scanall script the shuffle bit changes nothing.
        let again = frames(&e.handle(&req(4, 0xFF, 0xA041_344B, 0xFFFF, b"D")));
        assert_eq!(again.len(), 6);
    }

    #[test]
    fn version_text_and_raw_with_sequence_sentinel() {
        let mut e = emu(SIMPLE);
        let f = &frames(&e.handle(&req(9, 0xFF, 1, 0xFFFF, b"V")))[0];
        assert_eq!(f.data_text(), "OpenDCRE Emulator v1.1.0");
        assert_eq!(
            (f.sequence, f.device_type, f.board_id, f.device_id),
            (9, 0xFF, 0, 0xFFFF)
        );
        assert_eq!(
            e.handle(&req(42, 0xFF, 2, 0xFFFF, b"V")),
            vec![vec![1, 2, 3, 42]]
        );
        assert!(
            e.handle(&req(42, 0xFF, 3, 0xFFFF, b"V")).is_empty(),
            "no version"
        );
        assert!(e.handle(&req(42, 0xFF, 7, 0xFFFF, b"V")).is_empty());
    }

    #[test]
    fn power_answers_power_like_devices_whatever_type_is_asked() {
        let mut e = emu(SIMPLE);
        let a = texts(&e.handle(&req(1, 0x40, 1, 0x0dff, b"P1")));
        let b = texts(&e.handle(&req(2, 0x12, 1, 0x0dff, b"P?")));
        let c = texts(&e.handle(&req(3, 0xFF, 1, 0x0dff, b"PC")));
        assert_eq!(
            [a, b, c].concat(),
            ["0,0,0,0", "64,1215,4528,2320", "0,0,0,0"]
        );
        assert!(
            e.handle(&req(1, 0x9C, 1, 0x01ff, b"P1")).is_empty(),
            "not a power device"
        );
    }

    #[test]
    fn asset_info_read_and_write() {
        let mut e = emu(SIMPLE);
        let f = &frames(&e.handle(&req(4, 0x40, 1, 0x0dff, b"RI")))[0];
        assert_eq!(f.data_text(), "rack 7 slot 3");
        assert_eq!(
            (f.sequence, f.device_type, f.board_id, f.device_id),
            (4, 0x40, 1, 0x0dff)
        );
        let w = &frames(&e.handle(&req(5, 0x40, 1, 0x0dff, b"WInew tag")))[0];
        assert_eq!(w.data_text(), "new tag");
        assert_eq!(
            texts(&e.handle(&req(6, 0x40, 1, 0x0dff, b"RI"))),
            ["new tag"]
        );
        // Wrong type, and plain W on a v1.1 device without a write list.
        assert!(e.handle(&req(6, 0xFF, 1, 0x0dff, b"RI")).is_empty());
        assert!(e.handle(&req(6, 0x40, 1, 0x0dff, b"W")).is_empty());
        assert!(e.handle(&req(6, 0x40, 1, 0x0dff, b"W1")).is_empty());
        // A device without asset text stays silent until one is written.
        assert!(e.handle(&req(6, 0x9C, 1, 0x01ff, b"RI")).is_empty());
        assert_eq!(texts(&e.handle(&req(6, 0x9C, 1, 0x01ff, b"WIx"))), ["x"]);
        assert_eq!(texts(&e.handle(&req(6, 0x9C, 1, 0x01ff, b"RI"))), ["x"]);
    }

    #[test]
    fn raw_bytes_are_written_verbatim_with_sentinels_resolved() {
        let mut e = emu(r#"{"boards": [{"board_id": "00000003", "devices": [
                {"device_id": "0001", "device_type": "thermistor",
                 "read": {"responses": [[1, 10, 999, 156, 0, 0, 0, 3, 0, 1, 156, 1002, 4], [1, 2, 3], [5, 1000]]}}]}]}"#);
        let out = read(&mut e, 0x21, 0x9C, 3, 1);
        // Spec §5.4 example: a valid thermistor dump response echoing the sequence.
        let f = &frames(&out)[0];
        assert_eq!(
            (f.sequence, f.board_id, f.device_id, f.data.clone()),
            (0x21, 3, 1, vec![156])
        );
        assert_eq!(read(&mut e, 1, 0x9C, 3, 1), vec![vec![1, 2, 3]]);
        // Checksum sentinel over [5] = 0x100 - 5.
        assert_eq!(read(&mut e, 1, 0x9C, 3, 1), vec![vec![5, 0xFB]]);
    }

    #[test]
    fn checksum_sentinel_uses_resolved_bytes_and_empty_ranges() {
        let raw = [
            RawByte::Lit(7),
            RawByte::Sequence,
            RawByte::Checksum { from: 0 },
            RawByte::Checksum { from: 9 },
        ];
        assert_eq!(resolve(&raw, 3), vec![7, 3, 0u8.wrapping_sub(10), 0]);
    }

    #[test]
    fn raw_data_flat_and_cycled() {
        let mut e = emu(r#"{"boards": [
              {"board_id": "1", "raw_data": [1, 11, 1, 156, 1, 1, 255, 31, 32, 33, 34, 35, 189, 4],
               "devices": [{"device_id": "1", "device_type": "thermistor"}]},
              {"board_id": "2", "raw_data": [[[9, 999], [8, 999, 1000]], null, [[7]]]}]}"#);
        let flat = vec![1, 11, 1, 156, 1, 1, 255, 31, 32, 33, 34, 35, 189, 4];
        for _ in 0..2 {
            assert_eq!(e.handle(&req(1, 0xFF, 1, 0xFFFF, b"D")), vec![flat.clone()]);
        }
        let scan2 = |e: &mut Emulator| e.handle(&req(6, 0xFF, 2, 0xFFFF, b"D"));
        assert_eq!(
            scan2(&mut e),
            vec![vec![9, 6], vec![8, 6, 0u8.wrapping_sub(14)]]
        );
        assert!(scan2(&mut e).is_empty());
        assert_eq!(scan2(&mut e), vec![vec![7]]);
        assert_eq!(scan2(&mut e).len(), 2, "always cycles");
    }

    #[test]
    fn retry_redispatches_previous_request() {
        let mut e = emu(r#"{"boards": [{"board_id": "1", "firmware_version": "fw",
                "retry_firmware_version": [[1, 999], null],
                "retry_raw_data": [[2, 999]],
                "devices": [
                  {"device_id": "1", "device_type": "thermistor",
                   "read": {"responses": [[1, 2], 100, 101],
                            "retry_responses": [[3, 999], "ignored"]}},
                  {"device_id": "2", "device_type": "thermistor",
                   "read": {"responses": [200, 201, 202]}}]},
              {"board_id": "2", "firmware_version": "fw2", "devices": []}]}"#);
        assert!(
            e.handle(&req(1, 0xFF, 1, 0xFFFF, b"?")).is_empty(),
            "nothing to retry"
        );
        // A corrupt answer, then the retry list, echoing the *retry's* sequence.
        assert_eq!(read(&mut e, 1, 0x9C, 1, 1), vec![vec![1, 2]]);
        assert_eq!(e.handle(&req(2, 0x9C, 1, 1, b"?")), vec![vec![3, 2]]);
        assert!(
            e.handle(&req(3, 0x9C, 1, 1, b"?")).is_empty(),
            "non-list = silence"
        );
        assert_eq!(
            e.handle(&req(4, 0x9C, 1, 1, b"?")),
            vec![vec![3, 4]],
            "cycles"
        );
        // The normal counter did not move during retries.
        assert_eq!(texts(&read(&mut e, 5, 0x9C, 1, 1)), ["100"]);
        // Without retry_responses, a retry is a fresh request.
        assert_eq!(texts(&read(&mut e, 6, 0x9C, 1, 2)), ["200"]);
        let r = frames(&e.handle(&req(7, 0x9C, 1, 2, b"?")));
        assert_eq!((r[0].data_text(), r[0].sequence), ("201".to_string(), 7));
        // Version: retry list; without one, silence.
        e.handle(&req(8, 0xFF, 1, 0xFFFF, b"V"));
        assert_eq!(e.handle(&req(9, 0xFF, 1, 0xFFFF, b"?")), vec![vec![1, 9]]);
        e.handle(&req(10, 0xFF, 2, 0xFFFF, b"V"));
        assert!(e.handle(&req(11, 0xFF, 2, 0xFFFF, b"?")).is_empty());
        // Scan: retry_raw_data; without one, silence.
        e.handle(&req(12, 0xFF, 1, 0xFFFF, b"D"));
        assert_eq!(e.handle(&req(13, 0xFF, 1, 0xFFFF, b"?")), vec![vec![2, 13]]);
        e.handle(&req(14, 0xFF, 2, 0xFFFF, b"D"));
        assert!(e.handle(&req(15, 0xFF, 2, 0xFFFF, b"?")).is_empty());
    }

    const SCANALL: &str = r#"{
      "scanall": [
        {"initial": {"result": "ok"}},
        {"initial": {"result": "error", "failed_board": "00000001"},
         "retry": [{"result": "error", "failed_board": "00000002"}, {"result": "ok"}]}
      ],
      "boards": [
        {"board_id": "00000001", "devices": [{"device_id": "01ff", "device_type": "thermistor"}]},
        {"board_id": "00000002", "devices": [{"device_id": "0001", "device_type": "power"},
                                             {"device_id": "0002", "device_type": "led"}]}]}"#;

    /// Which boards' packets decode cleanly in a scan-all answer.
    fn scan_all(e: &mut Emulator, shuffle: bool) -> Vec<Result<u32, ()>> {
        let id = 0x8041_344B | if shuffle { SHUFFLE } else { 0 };
        e.handle(&req(1, 0xFF, id, 0xFFFF, b"D"))
            .iter()
            .map(|c| match decode_all(c).first() {
                Some(Ok(f)) => Ok(f.board_id),
                _ => Err(()),
            })
            .collect()
    }

    #[test]
    fn scanall_script_corrupts_failed_boards() {
        let mut e = emu(SCANALL);
        assert_eq!(
            scan_all(&mut e, false),
            vec![Ok(1), Ok(2), Ok(2)],
            "entry 0: ok"
        );
        assert_eq!(
            scan_all(&mut e, false),
            vec![Err(()), Ok(2), Ok(2)],
            "entry 1 initial"
        );
        // The initial outcome repeats until a shuffle retry moves the script on.
        assert_eq!(scan_all(&mut e, false), vec![Err(()), Ok(2), Ok(2)]);
        assert_eq!(
            scan_all(&mut e, true),
            vec![Ok(1), Err(()), Err(())],
            "retry 0"
        );
        assert_eq!(scan_all(&mut e, true), vec![Ok(1), Ok(2), Ok(2)], "retry 1");
        // Retry list exhausted: back to entry 0.
        assert_eq!(scan_all(&mut e, false), vec![Ok(1), Ok(2), Ok(2)]);
        assert_eq!(scan_all(&mut e, false), vec![Err(()), Ok(2), Ok(2)]);
    }

    #[test]
    fn inject_error_keeps_header_and_trailer_values() {
        let mut p = vec![0x01, 0x00, 0x04, 0xFE, 0xFF, 0x10];
        inject_error(&mut p);
        assert_eq!(p, vec![0x01, 0x01, 0x04, 0x00, 0x01, 0x11]);
    }

    const STATEFUL: &str = r#"{"boards": [{"board_id": "1", "devices": [
        {"device_id": "1", "device_type": "power", "has_state": true,
         "power": "0,0,0,0", "on": ["0,1,2,3", "0,4,5,6"], "off": "64,0,0,0"},
        {"device_id": "2", "device_type": "system", "has_state": true,
         "boot_target": "B0", "hdd": "B1", "pxe": "B2", "no_override": "B0"},
        {"device_id": "3", "device_type": "fan_speed", "has_state": true, "read": "4100", "write": "0"},
        {"device_id": "4", "device_type": "led", "has_state": true, "read": "0", "write": "0"},
        {"device_id": "5", "device_type": "vapor_led", "has_state": true, "write": "0,000000,0"},
        {"device_id": "6", "device_type": "vapor_battery", "has_state": true, "power": "charging,100"}
    ]}]}"#;

    fn say(e: &mut Emulator, ty: u8, dev: u16, data: &[u8]) -> Vec<String> {
        texts(&e.handle(&req(1, ty, 1, dev, data)))
    }

    #[test]
    fn stateful_power_switches_and_cycles_lists() {
        let mut e = emu(STATEFUL);
        assert_eq!(say(&mut e, 0x40, 1, b"P?"), ["0,0,0,0"]);
        assert_eq!(say(&mut e, 0x40, 1, b"P0"), ["64,0,0,0"]);
        assert_eq!(say(&mut e, 0x40, 1, b"P1"), ["0,1,2,3"]);
        assert_eq!(say(&mut e, 0x40, 1, b"P?"), ["0,4,5,6"]);
        assert_eq!(say(&mut e, 0x40, 1, b"PC"), ["0,1,2,3"]);
        assert_eq!(say(&mut e, 0x4A, 6, b"P?"), ["charging,100"]);
        // A power device without on/off answers nothing for P1 and keeps its state.
        assert!(say(&mut e, 0x4A, 6, b"P1").is_empty());
        assert_eq!(say(&mut e, 0x4A, 6, b"P?"), ["charging,100"]);
    }

    #[test]
    fn stateful_boot_target_uses_the_emulator_mapping() {
        let mut e = emu(STATEFUL);
        assert_eq!(say(&mut e, 0x12, 2, b"B?"), ["B0"]);
        assert_eq!(say(&mut e, 0x12, 2, b"B0"), ["B1"], "0 → hdd");
        assert_eq!(say(&mut e, 0x12, 2, b"B1"), ["B2"], "1 → pxe");
        assert_eq!(say(&mut e, 0x12, 2, b"B2"), ["B0"], "2 → no_override");
        assert!(say(&mut e, 0x40, 2, b"B?").is_empty(), "type must match");
    }

    #[test]
    fn stateful_write_then_read() {
        let mut e = emu(STATEFUL);
        assert_eq!(say(&mut e, 0x82, 3, b"R"), ["4100"]);
        assert_eq!(
            say(&mut e, 0x82, 3, &[b'W', 0xFF, b'3', b'0', b'0', b'0']),
            ["W1"]
        );
        assert_eq!(say(&mut e, 0x82, 3, b"R"), ["3000"]);
        assert_eq!(say(&mut e, 0x10, 4, b"W1"), ["W1"]);
        assert_eq!(say(&mut e, 0x10, 4, b"R"), ["1"]);
        // A retry of a stateful write re-applies it and still answers W1.
        assert_eq!(say(&mut e, 0x10, 4, b"W0"), ["W1"]);
        assert_eq!(say(&mut e, 0x10, 4, b"?"), ["W1"]);
        assert_eq!(say(&mut e, 0x10, 4, b"R"), ["0"]);
    }

    #[test]
    fn stateful_chamber_led_keeps_state_per_rack() {
        let mut e = emu(STATEFUL);
        assert_eq!(say(&mut e, 0x08, 5, b"L1,rack_1,ffffff,0"), ["1,ffffff,0"]);
        assert_eq!(
            say(&mut e, 0x08, 5, b"L0,rack_2,-1,-1"),
            ["0,000000,0"],
            "just report"
        );
        assert_eq!(say(&mut e, 0x08, 5, b"L0,rack_1,-1,-1"), ["1,ffffff,0"]);
        assert!(say(&mut e, 0x08, 5, b"L1,rack_1").is_empty(), "malformed");
    }

    #[test]
    fn asset_boot_host_lists_and_led_from_write_list() {
        let mut e = emu(r#"{"boards": [{"board_id": "1", "devices": [
                {"device_id": "1", "device_type": "system",
                 "asset_info": {"responses": ["a,b,c"]}, "boot_target": {"responses": ["B1"]},
                 "host_info": {"responses": ["hnode1,i10.0.0.1"]}},
                {"device_id": "2", "device_type": "vapor_led", "write": {"responses": ["1,ffffff,0"]}}]}]}"#);
        assert_eq!(say(&mut e, 0x12, 1, b"A"), ["a,b,c"]);
        assert_eq!(say(&mut e, 0x12, 1, b"B?"), ["B1"]);
        assert_eq!(say(&mut e, 0x12, 1, b"H"), ["hnode1,i10.0.0.1"]);
        assert_eq!(say(&mut e, 0x08, 2, b"L1,rack,ffffff,0"), ["1,ffffff,0"]);
        assert!(say(&mut e, 0x40, 1, b"A").is_empty());
    }

    fn arb_frame() -> impl Strategy<Value = Frame> {
        let board = prop_oneof![
            0u32..4,
            Just(0x8041_344B),
            Just(0xA041_344B),
            Just(0x9000_0000),
            any::<u32>()
        ];
        let device = prop_oneof![0u16..8, Just(0x01ff), Just(0xFFFF), any::<u16>()];
        let ty = prop_oneof![
            Just(0x08u8),
            Just(0x10),
            Just(0x12),
            Just(0x40),
            Just(0x4A),
            Just(0x82),
            Just(0x88),
            Just(0x9C),
            Just(0xFF),
            any::<u8>()
        ];
        let cmd = prop_oneof![
            Just(b"D".to_vec()),
            Just(b"V".to_vec()),
            Just(b"R".to_vec()),
            Just(b"RI".to_vec()),
            Just(b"?".to_vec()),
            Just(b"P1".to_vec()),
            Just(b"P0".to_vec()),
            Just(b"B2".to_vec()),
            Just(b"L".to_vec()),
            Just(b"L1,r,ffffff,0".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..=246).prop_map(|v| [
                b"WI".as_slice(),
                &v[..v.len().min(244)]
            ]
            .concat()),
            proptest::collection::vec(any::<u8>(), 0..=246),
        ];
        (any::<u8>(), ty, board, device, cmd).prop_map(
            |(sequence, device_type, board_id, device_id, data)| Frame {
                sequence,
                device_type,
                board_id,
                device_id,
                data,
            },
        )
    }

    proptest! {
        #[test]
        fn handle_never_panics_and_answers_fit_frames(
            frames in proptest::collection::vec(arb_frame(), 1..40),
            which in 0usize..3,
        ) {
            let cfg = [SIMPLE, SCANALL, STATEFUL][which];
            let mut e = emu(cfg);
            for f in &frames {
                for chunk in e.handle(f) {
                    prop_assert!(!chunk.is_empty());
                    prop_assert!(chunk.len() <= opendcre_proto::frame::MAX_FRAME_LEN);
                }
            }
        }
    }

    fn noisy(seed: u64) -> Emulator {
        emu(&format!(
            r#"{{"line_noise": {{"seed": {seed}, "junk": 0.15, "truncate": 0.10, "bad_checksum": 0.10}},
               "boards": [{{"board_id": "00000001", "devices": [
                 {{"device_id": "01ff", "device_type": "thermistor",
                   "read": {{"repeatable": true, "responses": [656]}}}}]}}]}}"#
        ))
    }

    /// Which fault a packet shows, judged against the clean answer.
    fn fault_of(packet: &[u8], clean: &[u8]) -> Fault {
        if packet == clean {
            Fault::None
        } else if packet.len() > clean.len() && packet.ends_with(clean) {
            Fault::Junk
        } else if packet.len() < clean.len() && clean.starts_with(packet) {
            Fault::Truncate
        } else {
            assert_eq!(packet.len(), clean.len(), "{packet:02x?}");
            let d = decode_all(packet);
            assert!(d[0].as_ref().unwrap_err().is_checksum(), "{packet:02x?}");
            Fault::BadChecksum
        }
    }

    #[test]
    fn line_noise_hits_the_configured_rates_on_answers_and_retries() {
        let mut e = noisy(14);
        let mut counts = [0usize; 4];
        let n = 20_000;
        for i in 0..n {
            let seq = (i % 250) as u8;
            // Every other request is a `?`: it gets the same treatment.
            let data: &[u8] = if i % 2 == 0 { b"R" } else { b"?" };
            let got = e.handle(&req(seq, 0x9C, 1, 0x01ff, data));
            let clean = text_frame(Ctx { seq, retry: false }, b"656");
            assert_eq!(got.len(), 1);
            let f = fault_of(&got[0], &clean[0]);
            counts[f as usize] += 1;
        }
        let pct = |c: usize| c as f64 * 100.0 / n as f64;
        let [none, junk, trunc, chk] = counts.map(pct);
        assert!((64.0..66.0).contains(&none), "{counts:?}");
        assert!((14.0..16.0).contains(&junk), "{counts:?}");
        assert!((9.3..10.7).contains(&trunc), "{counts:?}");
        assert!((9.3..10.7).contains(&chk), "{counts:?}");
    }

    #[test]
    fn line_noise_is_reproducible_from_its_seed() {
        let run = |seed| {
            let mut e = noisy(seed);
            (0..200u8)
                .flat_map(|s| read(&mut e, s, 0x9C, 1, 0x01ff))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn junk_stays_within_its_bound_and_truncation_keeps_a_proper_prefix() {
        let mut e = emu(
            r#"{"line_noise": {"seed": 1, "junk": 0.5, "truncate": 0.5, "junk_max": 3},
               "boards": [{"board_id": "00000001", "devices": [
                 {"device_id": "01ff", "device_type": "thermistor",
                  "read": {"repeatable": true, "responses": [656]}}]}]}"#,
        );
        let clean = text_frame(
            Ctx {
                seq: 5,
                retry: false,
            },
            b"656",
        )
        .remove(0);
        let mut lens = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let p = read(&mut e, 5, 0x9C, 1, 0x01ff).remove(0);
            match fault_of(&p, &clean) {
                Fault::Junk => assert!(p.len() - clean.len() <= 3),
                Fault::Truncate => assert!(!p.is_empty()),
                other => panic!("{other:?}"),
            }
            lens.insert(p.len());
        }
        // Every prefix length 1..len-1 and every junk length 1..=3 occurs.
        assert_eq!(lens.len(), clean.len() - 1 + 3);
    }

    #[test]
    fn line_noise_config_is_validated() {
        let with = |noise: &str| {
            EmulatorConfig::from_json_str(&format!(r#"{{"line_noise": {noise}, "boards": []}}"#))
        };
        assert_eq!(with("null").unwrap().line_noise, None);
        let n = with(r#"{"junk": 0.15, "truncate": 0.1, "bad_checksum": 0.1}"#)
            .unwrap()
            .line_noise
            .unwrap();
        assert_eq!(
            (
                n.seed,
                n.junk_ppm,
                n.truncate_ppm,
                n.bad_checksum_ppm,
                n.junk_max
            ),
            (0, 150_000, 100_000, 100_000, 8)
        );
        for (bad, path) in [
            (r#"{"junk": 1.5}"#, "line_noise.junk"),
            (r#"{"truncate": -0.1}"#, "line_noise.truncate"),
            (r#"{"bad_checksum": "often"}"#, "line_noise.bad_checksum"),
            (r#"{"seed": -1}"#, "line_noise.seed"),
            (r#"{"junk_max": 0}"#, "line_noise.junk_max"),
            (r#"{"junk": 0.6, "truncate": 0.5}"#, "line_noise"),
            ("[]", "line_noise"),
        ] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{path}:")), "{bad}: {e}");
        }
        let w = with(r#"{"jank": 0.1}"#).unwrap().warnings;
        assert_eq!(w.len(), 1, "{w:?}");
    }
}
