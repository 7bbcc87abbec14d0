//! The emulator's JSON configuration (spec §5.2, §5.4).
//!
//! The files are the original emulator's: boards with hex ids, devices with
//! canned response lists, raw byte lists for malformed-packet tests. They are
//! validated completely at load time, because the original crashed (or went
//! silent) on the first request that touched a bad entry, and a test that
//! fails with "timeout" is much harder to debug than a load error that names
//! the offending JSON path.
//!
//! Python `str()` of every scalar is computed here once, so the engine only
//! ever deals with bytes.

use std::path::Path;

use serde_json::{Map, Value};

use opendcre_proto::frame::MAX_DATA_LEN;
use opendcre_proto::pytext::{float_repr, parse_hex};
use opendcre_proto::DeviceType;

/// Placeholder for the request's sequence number in a raw byte list [v1.2+].
pub(crate) const SEQUENCE_SENTINEL: u64 = 999;
/// `1000 + k`: checksum of the bytes from index `k` up to the sentinel [v1.2+].
pub(crate) const CHECKSUM_SENTINEL: u64 = 1000;

/// One element of a raw byte list: a literal byte or a sentinel resolved per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawByte {
    Lit(u8),
    /// Replaced by the request's sequence number.
    Sequence,
    /// Replaced by the checksum of the (already resolved) bytes `from..here`.
    Checksum {
        from: u8,
    },
}

/// Bytes written to the port verbatim (after sentinel substitution).
pub(crate) type RawPacket = Vec<RawByte>;

/// One element of a `responses` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A list of ints: written as is, typically a malformed packet.
    Raw(RawPacket),
    /// `null`: the device does not answer.
    Silence,
    /// Any scalar, as Python `str()` printed it, Latin-1 encoded: the data
    /// field of a normal response frame.
    Text(Vec<u8>),
}

/// A canned answer list with its cycling rule (`read`, `power`, `write`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Cycle back to the first element after the last; otherwise go silent.
    pub repeatable: bool,
    pub responses: Vec<Response>,
    /// Answers to `?` retries, always cycling; `None` elements are silence.
    /// Absent: a retry is answered from `responses` like a fresh request.
    pub retry_responses: Option<Vec<Option<RawPacket>>>,
}

/// Value of a stateful device's state field (`has_state: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateValue {
    Text(Vec<u8>),
    /// A list of texts handed out one per power answer, cycling.
    Cycle(Vec<Vec<u8>>),
}

/// A device action field: a response list, or for stateful devices the initial state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Action(Action),
    State(StateValue),
}

/// Board answer to `V`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    Text(Vec<u8>),
    Raw(RawPacket),
}

/// What a board sends for a scan instead of its device list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawData {
    /// v1.1: one byte list written verbatim for every scan.
    Flat(RawPacket),
    /// v1.2+: successive scans cycle through these answers, each a list of
    /// packets; `None` answers are silence.
    Cycle(Vec<Option<Vec<RawPacket>>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    pub device_id: u16,
    pub device_type: DeviceType,
    pub has_state: bool,
    /// v1.1 asset information text (`RI`/`WI`).
    pub asset_text: Option<Vec<u8>>,
    /// v1.3 `A` answers (`asset_info` given as an action object).
    pub asset_info: Option<Action>,
    pub read: Option<Field>,
    pub write: Option<Field>,
    pub power: Option<Field>,
    pub boot_target: Option<Field>,
    pub host_info: Option<Action>,
    /// Stateful power: state after `P1` / `P0`.
    pub on: Option<StateValue>,
    pub off: Option<StateValue>,
    /// Stateful boot target: state after `B0` / `B1` / `B2` (the original
    /// emulator's mapping, which disagrees with the server's, spec §9.23).
    pub hdd: Option<Vec<u8>>,
    pub pxe: Option<Vec<u8>>,
    pub no_override: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardConfig {
    pub board_id: u32,
    pub firmware_version: Option<Version>,
    pub retry_firmware_version: Option<Vec<Option<RawPacket>>>,
    pub raw_data: Option<RawData>,
    pub retry_raw_data: Option<Vec<Option<RawPacket>>>,
    pub devices: Vec<DeviceConfig>,
}

/// Outcome a scan-all script step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOutcome {
    Ok,
    /// Corrupt every packet of this board.
    Error {
        failed_board: u32,
    },
}

/// One entry of the top-level `scanall` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanAllEntry {
    pub initial: ScanOutcome,
    pub retry: Vec<ScanOutcome>,
}

/// Seeded line noise on every packet the emulator writes (top-level
/// `line_noise`, our addition): each packet independently gets at most one
/// fault, drawn from a generator seeded with `seed`, so a run with the same
/// requests damages the same packets. Answers to `?` are packets like any
/// other and get the same treatment. Probabilities are kept in parts per
/// million so the configuration stays `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineNoise {
    pub seed: u64,
    /// Random bytes (any value, so false headers too) before the packet.
    pub junk_ppm: u32,
    /// The packet stops after a random proper prefix (at least one byte).
    pub truncate_ppm: u32,
    /// The checksum byte is changed; everything else is intact.
    pub bad_checksum_ppm: u32,
    /// Junk runs are 1..=junk_max bytes long.
    pub junk_max: u8,
}

/// A validated emulator configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmulatorConfig {
    pub boards: Vec<BoardConfig>,
    pub scanall: Vec<ScanAllEntry>,
    pub line_noise: Option<LineNoise>,
    /// Unknown keys that were ignored (keys starting with `_` are comments
    /// and not reported), each with its JSON path.
    pub warnings: Vec<String>,
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorConfigError {
    // Causes are part of the messages (not `#[source]`), so chain printers
    // such as anyhow's `{:#}` do not repeat them.
    #[error("cannot read emulator config {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("emulator config is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// A JSON or validation error in a named file (from [`EmulatorConfig::load`]).
    #[error("{file}: {error}")]
    File {
        file: String,
        error: Box<EmulatorConfigError>,
    },
}

fn invalid(path: &str, message: impl Into<String>) -> EmulatorConfigError {
    EmulatorConfigError::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

impl EmulatorConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, EmulatorConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| EmulatorConfigError::Io {
            path: path.display().to_string(),
            error,
        })?;
        Self::from_json_str(&text).map_err(|e| EmulatorConfigError::File {
            file: path.display().to_string(),
            error: Box::new(e),
        })
    }

    /// Parses and validates configuration text.
    pub fn from_json_str(text: &str) -> Result<Self, EmulatorConfigError> {
        let value: Value = serde_json::from_str(text).map_err(EmulatorConfigError::Json)?;
        Self::from_value(&value)
    }

    /// Validates an already parsed JSON document.
    pub fn from_value(value: &Value) -> Result<Self, EmulatorConfigError> {
        let mut p = Parser::default();
        let cfg = p.root(value)?;
        Ok(EmulatorConfig {
            warnings: p.warnings,
            ..cfg
        })
    }

    /// The board with this exact id.
    pub fn board(&self, board_id: u32) -> Option<&BoardConfig> {
        self.boards.iter().find(|b| b.board_id == board_id)
    }
}

/// Short JSON type name for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[derive(Default)]
struct Parser {
    warnings: Vec<String>,
}

impl Parser {
    fn object<'a>(
        &mut self,
        v: &'a Value,
        path: &str,
    ) -> Result<&'a Map<String, Value>, EmulatorConfigError> {
        v.as_object()
            .ok_or_else(|| invalid(path, format!("expected an object, found {}", kind(v))))
    }

    fn check_keys(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for k in obj.keys() {
            if !k.starts_with('_') && !known.contains(&k.as_str()) {
                let at = if path.is_empty() { "(top level)" } else { path };
                self.warnings
                    .push(format!("{at}: unknown key {k:?} ignored"));
            }
        }
    }

    fn root(&mut self, v: &Value) -> Result<EmulatorConfig, EmulatorConfigError> {
        let obj = self.object(v, "(top level)")?;
        self.check_keys(obj, "", &["boards", "scanall", "line_noise"]);
        let boards_v = obj
            .get("boards")
            .ok_or_else(|| invalid("boards", "missing (a list of boards is required)"))?;
        let list = boards_v.as_array().ok_or_else(|| {
            invalid(
                "boards",
                format!("expected a list, found {}", kind(boards_v)),
            )
        })?;
        let mut boards: Vec<BoardConfig> = Vec::with_capacity(list.len());
        for (i, b) in list.iter().enumerate() {
            let path = format!("boards[{i}]");
            let board = self.board(b, &path)?;
            if let Some(j) = boards.iter().position(|o| o.board_id == board.board_id) {
                return Err(invalid(
                    &format!("{path}.board_id"),
                    format!(
                        "board {:08x} is already defined at boards[{j}]",
                        board.board_id
                    ),
                ));
            }
            boards.push(board);
        }
        let scanall = match obj.get("scanall") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(entries)) => entries
                .iter()
                .enumerate()
                .map(|(i, e)| self.scanall_entry(e, &format!("scanall[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(invalid(
                    "scanall",
                    format!("expected a list, found {}", kind(other)),
                ))
            }
        };
        let line_noise = match obj.get("line_noise") {
            None | Some(Value::Null) => None,
            Some(v) => Some(self.line_noise(v, "line_noise")?),
        };
        Ok(EmulatorConfig {
            boards,
            scanall,
            line_noise,
            warnings: Vec::new(),
        })
    }

    fn line_noise(&mut self, v: &Value, path: &str) -> Result<LineNoise, EmulatorConfigError> {
        let obj = self.object(v, path)?;
        self.check_keys(
            obj,
            path,
            &["seed", "junk", "truncate", "bad_checksum", "junk_max"],
        );
        let seed = match obj.get("seed") {
            None => 0,
            Some(s) => s.as_u64().ok_or_else(|| {
                invalid(
                    &format!("{path}.seed"),
                    format!("expected a non-negative integer, found {s}"),
                )
            })?,
        };
        let ppm = |key: &str| -> Result<u32, EmulatorConfigError> {
            let Some(p) = obj.get(key) else {
                return Ok(0);
            };
            match p.as_f64() {
                Some(f) if (0.0..=1.0).contains(&f) => Ok((f * 1e6).round() as u32),
                _ => Err(invalid(
                    &format!("{path}.{key}"),
                    format!("expected a probability between 0 and 1, found {p}"),
                )),
            }
        };
        let noise = LineNoise {
            seed,
            junk_ppm: ppm("junk")?,
            truncate_ppm: ppm("truncate")?,
            bad_checksum_ppm: ppm("bad_checksum")?,
            junk_max: match obj.get("junk_max") {
                None => 8,
                Some(m) => match m.as_u64() {
                    Some(n @ 1..=255) => n as u8,
                    _ => {
                        return Err(invalid(
                            &format!("{path}.junk_max"),
                            format!("expected an integer in 1..255, found {m}"),
                        ))
                    }
                },
            },
        };
        if noise.junk_ppm + noise.truncate_ppm + noise.bad_checksum_ppm > 1_000_000 {
            return Err(invalid(
                path,
                "junk + truncate + bad_checksum exceed 1 (a packet gets at most one fault)",
            ));
        }
        Ok(noise)
    }

    fn scanall_entry(
        &mut self,
        v: &Value,
        path: &str,
    ) -> Result<ScanAllEntry, EmulatorConfigError> {
        let obj = self.object(v, path)?;
        self.check_keys(obj, path, &["initial", "retry"]);
        let initial = match obj.get("initial") {
            Some(i) => self.outcome(i, &format!("{path}.initial"))?,
            None => return Err(invalid(&format!("{path}.initial"), "missing")),
        };
        let retry = match obj.get("retry") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, r)| self.outcome(r, &format!("{path}.retry[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.retry"),
                    format!("expected a list, found {}", kind(other)),
                ))
            }
        };
        Ok(ScanAllEntry { initial, retry })
    }

    fn outcome(&mut self, v: &Value, path: &str) -> Result<ScanOutcome, EmulatorConfigError> {
        let obj = self.object(v, path)?;
        self.check_keys(obj, path, &["result", "failed_board"]);
        match obj.get("result") {
            Some(Value::String(s)) if s == "ok" => Ok(ScanOutcome::Ok),
            Some(Value::String(s)) if s == "error" => {
                let fpath = format!("{path}.failed_board");
                match obj.get("failed_board") {
                    Some(fb) => Ok(ScanOutcome::Error {
                        failed_board: hex_u32(fb, &fpath)?,
                    }),
                    None => Err(invalid(
                        &fpath,
                        "missing (required when result is \"error\")",
                    )),
                }
            }
            Some(other) => Err(invalid(
                &format!("{path}.result"),
                format!("expected \"ok\" or \"error\", found {other}"),
            )),
            None => Err(invalid(&format!("{path}.result"), "missing")),
        }
    }

    fn board(&mut self, v: &Value, path: &str) -> Result<BoardConfig, EmulatorConfigError> {
        let obj = self.object(v, path)?;
        self.check_keys(
            obj,
            path,
            &[
                "board_id",
                "firmware_version",
                "retry_firmware_version",
                "raw_data",
                "retry_raw_data",
                "devices",
            ],
        );
        let board_id = match obj.get("board_id") {
            Some(id) => hex_u32(id, &format!("{path}.board_id"))?,
            None => return Err(invalid(&format!("{path}.board_id"), "missing")),
        };
        let vpath = format!("{path}.firmware_version");
        let firmware_version = match obj.get("firmware_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Version::Text(text_bytes(s, &vpath)?)),
            Some(Value::Array(items)) => Some(Version::Raw(raw_packet(items, &vpath)?)),
            Some(other) => {
                return Err(invalid(
                    &vpath,
                    format!(
                        "expected a string or a list of bytes, found {}",
                        kind(other)
                    ),
                ))
            }
        };
        let retry_firmware_version = match obj.get("retry_firmware_version") {
            None => None,
            Some(v) => Some(retry_list(v, &format!("{path}.retry_firmware_version"))?),
        };
        let raw_data = match obj.get("raw_data") {
            None => None,
            Some(v) => Some(raw_data(v, &format!("{path}.raw_data"))?),
        };
        let retry_raw_data = match obj.get("retry_raw_data") {
            None => None,
            Some(v) => Some(retry_list(v, &format!("{path}.retry_raw_data"))?),
        };
        let devices = match obj.get("devices") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => {
                let mut devices: Vec<DeviceConfig> = Vec::with_capacity(list.len());
                for (i, d) in list.iter().enumerate() {
                    let dpath = format!("{path}.devices[{i}]");
                    let dev = self.device(d, &dpath)?;
                    if let Some(j) = devices.iter().position(|o| o.device_id == dev.device_id) {
                        return Err(invalid(
                            &format!("{dpath}.device_id"),
                            format!(
                                "device {:04x} is already defined at {path}.devices[{j}]",
                                dev.device_id
                            ),
                        ));
                    }
                    devices.push(dev);
                }
                devices
            }
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.devices"),
                    format!("expected a list, found {}", kind(other)),
                ))
            }
        };
        Ok(BoardConfig {
            board_id,
            firmware_version,
            retry_firmware_version,
            raw_data,
            retry_raw_data,
            devices,
        })
    }

    fn device(&mut self, v: &Value, path: &str) -> Result<DeviceConfig, EmulatorConfigError> {
        let obj = self.object(v, path)?;
        self.check_keys(
            obj,
            path,
            &[
                "device_id",
                "device_type",
                "has_state",
                "asset_info",
                "read",
                "write",
                "power",
                "boot_target",
                "host_info",
                "on",
                "off",
                "hdd",
                "pxe",
                "no_override",
            ],
        );
        let id_path = format!("{path}.device_id");
        let device_id = match obj.get("device_id") {
            Some(id) => {
                let n = hex_value(id, &id_path)?;
                u16::try_from(n).map_err(|_| {
                    invalid(&id_path, format!("{id} does not fit 16 bits (0000–ffff)"))
                })?
            }
            None => return Err(invalid(&id_path, "missing")),
        };
        let tpath = format!("{path}.device_type");
        let device_type = match obj.get("device_type") {
            Some(Value::String(name)) => DeviceType::lookup(name)
                .ok_or_else(|| invalid(&tpath, format!("unknown device type {name:?}")))?,
            Some(other) => {
                return Err(invalid(
                    &tpath,
                    format!("expected a device type name, found {}", kind(other)),
                ))
            }
            None => return Err(invalid(&tpath, "missing")),
        };
        let has_state = match obj.get("has_state") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.has_state"),
                    format!("expected true or false, found {}", kind(other)),
                ))
            }
        };

        let apath = format!("{path}.asset_info");
        let (asset_text, asset_info) = match obj.get("asset_info") {
            None | Some(Value::Null) => (None, None),
            Some(Value::String(s)) => (Some(text_bytes(s, &apath)?), None),
            Some(v @ Value::Object(_)) => (None, Some(self.action(v, &apath)?)),
            Some(other) => {
                return Err(invalid(
                    &apath,
                    format!(
                        "expected a string (v1.1 asset text) or an action object, found {}",
                        kind(other)
                    ),
                ))
            }
        };

        let mut field = |name: &str| -> Result<Option<Field>, EmulatorConfigError> {
            let fpath = format!("{path}.{name}");
            match obj.get(name) {
                None => Ok(None),
                Some(v @ Value::Object(_)) => {
                    if has_state {
                        Err(invalid(
                            &fpath,
                            "a has_state device takes its initial state as a plain value, not a response list",
                        ))
                    } else {
                        Ok(Some(Field::Action(self.action(v, &fpath)?)))
                    }
                }
                Some(v) if has_state => Ok(Some(Field::State(state_value(v, &fpath)?))),
                Some(v) => Err(invalid(
                    &fpath,
                    format!(
                        "expected an object with \"responses\", found {} (plain values need \"has_state\": true)",
                        kind(v)
                    ),
                )),
            }
        };
        let read = field("read")?;
        let write = field("write")?;
        let power = field("power")?;
        let boot_target = field("boot_target")?;

        let host_info = match obj.get("host_info") {
            None | Some(Value::Null) => None,
            Some(v) => Some(self.action(v, &format!("{path}.host_info"))?),
        };
        let state_opt = |name: &str| -> Result<Option<StateValue>, EmulatorConfigError> {
            match obj.get(name) {
                None => Ok(None),
                Some(v) => state_value(v, &format!("{path}.{name}")).map(Some),
            }
        };
        let text_opt = |name: &str| -> Result<Option<Vec<u8>>, EmulatorConfigError> {
            match obj.get(name) {
                None => Ok(None),
                Some(v) => scalar_text(v, &format!("{path}.{name}")).map(Some),
            }
        };
        Ok(DeviceConfig {
            device_id,
            device_type,
            has_state,
            asset_text,
            asset_info,
            read,
            write,
            power,
            boot_target,
            host_info,
            on: state_opt("on")?,
            off: state_opt("off")?,
            hdd: text_opt("hdd")?,
            pxe: text_opt("pxe")?,
            no_override: text_opt("no_override")?,
        })
    }

    fn action(&mut self, v: &Value, path: &str) -> Result<Action, EmulatorConfigError> {
        let obj = self.object(v, path)?;
        self.check_keys(obj, path, &["repeatable", "responses", "retry_responses"]);
        // The original required the key; a missing one crashed it on first
        // use. Cycling is what every shipped config asked for.
        let repeatable = match obj.get("repeatable") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(
                    &format!("{path}.repeatable"),
                    format!("expected true or false, found {}", kind(other)),
                ))
            }
        };
        let rpath = format!("{path}.responses");
        let responses = match obj.get("responses") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, r)| response(r, &format!("{rpath}[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(invalid(
                    &rpath,
                    format!("expected a list, found {}", kind(other)),
                ))
            }
            None => return Err(invalid(&rpath, "missing")),
        };
        let retry_responses = match obj.get("retry_responses") {
            None => None,
            Some(v) => Some(retry_list(v, &format!("{path}.retry_responses"))?),
        };
        Ok(Action {
            repeatable,
            responses,
            retry_responses,
        })
    }
}

/// `int(text, 16)` of a JSON string, as the original compared ids.
fn hex_value(v: &Value, path: &str) -> Result<i128, EmulatorConfigError> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid(path, format!("expected a hex string, found {}", kind(v))))?;
    parse_hex(s).map_err(|_| invalid(path, format!("{s:?} is not hex")))
}

fn hex_u32(v: &Value, path: &str) -> Result<u32, EmulatorConfigError> {
    let n = hex_value(v, path)?;
    u32::try_from(n).map_err(|_| {
        invalid(
            path,
            format!("{v} does not fit 32 bits (00000000–ffffffff)"),
        )
    })
}

/// Text as the original put it on the wire: one byte per character.
fn text_bytes(s: &str, path: &str) -> Result<Vec<u8>, EmulatorConfigError> {
    let bytes = s
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| {
            invalid(
                path,
                format!("{s:?} has characters outside Latin-1, which cannot be sent as bytes"),
            )
        })?;
    if bytes.len() > MAX_DATA_LEN {
        return Err(invalid(
            path,
            format!(
                "text of {} bytes exceeds the {MAX_DATA_LEN}-byte frame limit",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Python 2 `str()` of a JSON scalar.
fn scalar_text(v: &Value, path: &str) -> Result<Vec<u8>, EmulatorConfigError> {
    let text = match v {
        Value::String(s) => return text_bytes(s, path),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.to_string()
            } else if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                float_repr(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        other => {
            return Err(invalid(
                path,
                format!(
                    "expected a string, number or boolean, found {}",
                    kind(other)
                ),
            ))
        }
    };
    text_bytes(&text, path)
}

fn response(v: &Value, path: &str) -> Result<Response, EmulatorConfigError> {
    match v {
        Value::Null => Ok(Response::Silence),
        Value::Array(items) => Ok(Response::Raw(raw_packet(items, path)?)),
        Value::Object(_) => Err(invalid(
            path,
            "expected a list of bytes, null, a string, a number or a boolean, found an object",
        )),
        scalar => Ok(Response::Text(scalar_text(scalar, path)?)),
    }
}

fn raw_byte(v: &Value, path: &str) -> Result<RawByte, EmulatorConfigError> {
    let n = v.as_u64().ok_or_else(|| {
        invalid(
            path,
            format!("expected a byte (0–255) or a sentinel (999, 1000–1255), found {v}"),
        )
    })?;
    match n {
        0..=255 => Ok(RawByte::Lit(n as u8)),
        SEQUENCE_SENTINEL => Ok(RawByte::Sequence),
        CHECKSUM_SENTINEL..=1255 => Ok(RawByte::Checksum {
            from: (n - CHECKSUM_SENTINEL) as u8,
        }),
        _ => Err(invalid(
            path,
            format!("{n} is neither a byte (0–255) nor a sentinel (999, 1000–1255)"),
        )),
    }
}

fn raw_packet(items: &[Value], path: &str) -> Result<RawPacket, EmulatorConfigError> {
    items
        .iter()
        .enumerate()
        .map(|(i, b)| raw_byte(b, &format!("{path}[{i}]")))
        .collect()
}

/// Retry lists: raw packets, any other element meaning silence (spec §5.4).
fn retry_list(v: &Value, path: &str) -> Result<Vec<Option<RawPacket>>, EmulatorConfigError> {
    let items = v
        .as_array()
        .ok_or_else(|| invalid(path, format!("expected a list, found {}", kind(v))))?;
    items
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            Value::Array(bytes) => raw_packet(bytes, &format!("{path}[{i}]")).map(Some),
            _ => Ok(None),
        })
        .collect()
}

/// `raw_data` in either shape: a flat byte list (v1.1) or a list of scan
/// answers, each a list of packets (v1.2+). A scan answer given as a single
/// flat packet is accepted as a one-packet answer.
fn raw_data(v: &Value, path: &str) -> Result<RawData, EmulatorConfigError> {
    let items = v
        .as_array()
        .ok_or_else(|| invalid(path, format!("expected a list, found {}", kind(v))))?;
    let numbers = items.iter().filter(|e| e.is_number()).count();
    if numbers == items.len() {
        return Ok(RawData::Flat(raw_packet(items, path)?));
    }
    if numbers > 0 {
        return Err(invalid(
            path,
            "mixes bytes and lists: use a flat byte list (v1.1) or a list of scan answers (v1.2+)",
        ));
    }
    let answers = items
        .iter()
        .enumerate()
        .map(|(i, answer)| {
            let apath = format!("{path}[{i}]");
            match answer {
                Value::Array(inner) if inner.iter().all(Value::is_number) && !inner.is_empty() => {
                    Ok(Some(vec![raw_packet(inner, &apath)?]))
                }
                Value::Array(packets) => packets
                    .iter()
                    .enumerate()
                    .map(|(j, p)| {
                        let ppath = format!("{apath}[{j}]");
                        match p {
                            Value::Array(bytes) => raw_packet(bytes, &ppath),
                            other => Err(invalid(
                                &ppath,
                                format!("expected a packet (list of bytes), found {}", kind(other)),
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                _ => Ok(None),
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(RawData::Cycle(answers))
}

fn state_value(v: &Value, path: &str) -> Result<StateValue, EmulatorConfigError> {
    match v {
        Value::Array(items) if !items.is_empty() => Ok(StateValue::Cycle(
            items
                .iter()
                .enumerate()
                .map(|(i, e)| scalar_text(e, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        )),
        Value::Array(_) => Err(invalid(path, "an empty list cannot be a state")),
        other => Ok(StateValue::Text(scalar_text(other, path)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        EmulatorConfig::from_json_str(text).unwrap_err().to_string()
    }

    #[test]
    fn v11_board_parses_with_every_response_kind() {
        let cfg = EmulatorConfig::from_json_str(
            r#"{"boards": [{"board_id": "00000001", "firmware_version": "OpenDCRE Emulator v1.1.0",
                "devices": [
                  {"device_id": "01ff", "device_type": "thermistor",
                   "read": {"repeatable": true, "responses": [656, 28.78, 30.0, "", null, [1, 2, 999, 1002], true, 12345678901234567890, -5]}},
                  {"device_id": "0dff", "device_type": "power", "asset_info": "rack 3",
                   "power": {"repeatable": false, "responses": ["0,0,0,0"]}}
                ]}]}"#,
        )
        .unwrap();
        let b = &cfg.boards[0];
        assert_eq!(b.board_id, 1);
        assert_eq!(
            b.firmware_version,
            Some(Version::Text(b"OpenDCRE Emulator v1.1.0".to_vec()))
        );
        let Some(Field::Action(read)) = &b.devices[0].read else {
            panic!("read is an action")
        };
        let texts: Vec<Response> = vec![
            Response::Text(b"656".to_vec()),
            Response::Text(b"28.78".to_vec()),
            Response::Text(b"30.0".to_vec()),
            Response::Text(Vec::new()),
            Response::Silence,
            Response::Raw(vec![
                RawByte::Lit(1),
                RawByte::Lit(2),
                RawByte::Sequence,
                RawByte::Checksum { from: 2 },
            ]),
            Response::Text(b"True".to_vec()),
            Response::Text(b"12345678901234567890".to_vec()),
            Response::Text(b"-5".to_vec()),
        ];
        assert_eq!(read.responses, texts);
        assert!(read.repeatable);
        assert_eq!(b.devices[1].asset_text, Some(b"rack 3".to_vec()));
        assert_eq!(b.devices[1].device_id, 0x0dff);
        assert!(cfg.warnings.is_empty());
    }

    #[test]
    fn old_and_new_type_names_are_both_accepted() {
        let cfg = EmulatorConfig::from_json_str(
            r#"{"boards": [{"board_id": "2", "devices": [
                {"device_id": "1", "device_type": "ipmb"},
                {"device_id": "2", "device_type": "system"},
                {"device_id": "3", "device_type": "door_lock"},
                {"device_id": "4", "device_type": "fan_speed"}]}]}"#,
        )
        .unwrap();
        let codes: Vec<u8> = cfg.boards[0]
            .devices
            .iter()
            .map(|d| d.device_type.0)
            .collect();
        assert_eq!(codes, vec![0x12, 0x12, 0x82, 0x82]);
    }

    #[test]
    fn errors_name_the_json_path() {
        assert_eq!(
            err(
                r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "led"}, {"device_id": "2", "device_type": "led"}, {"device_id": "3", "device_type": "led"}, {"device_id": "01fz", "device_type": "led"}]}]}"#
            ),
            r#"boards[0].devices[3].device_id: "01fz" is not hex"#
        );
        assert_eq!(
            err(r#"{"boards": [{"board_id": "1"}, {"board_id": "0x01"}]}"#),
            "boards[1].board_id: board 00000001 is already defined at boards[0]"
        );
        assert_eq!(
            err(
                r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "thermistr"}]}]}"#
            ),
            r#"boards[0].devices[0].device_type: unknown device type "thermistr""#
        );
        assert_eq!(
            err(r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "led", "read": {"responses": [[1, 256]]}}]}]}"#),
            "boards[0].devices[0].read.responses[0][1]: 256 is neither a byte (0–255) nor a sentinel (999, 1000–1255)"
        );
        assert_eq!(
            err(r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "led", "read": {"responses": [[1, -1]]}}]}]}"#),
            "boards[0].devices[0].read.responses[0][1]: expected a byte (0–255) or a sentinel (999, 1000–1255), found -1"
        );
        assert_eq!(
            err(r#"{"boards": [{"board_id": 1}]}"#),
            "boards[0].board_id: expected a hex string, found a number"
        );
        assert_eq!(
            err(r#"{"boards": [{"board_id": "100000000"}]}"#),
            r#"boards[0].board_id: "100000000" does not fit 32 bits (00000000–ffffffff)"#
        );
        assert_eq!(
            err(
                r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "10000", "device_type": "led"}]}]}"#
            ),
            r#"boards[0].devices[0].device_id: "10000" does not fit 16 bits (0000–ffff)"#
        );
        assert_eq!(
            err(
                r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "led", "read": 5}]}]}"#
            ),
            r#"boards[0].devices[0].read: expected an object with "responses", found a number (plain values need "has_state": true)"#
        );
        assert_eq!(
            err(r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "led", "read": {"responses": [{"a": 1}]}}]}]}"#),
            "boards[0].devices[0].read.responses[0]: expected a list of bytes, null, a string, a number or a boolean, found an object"
        );
        assert_eq!(
            err(
                r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "led", "read": {"repeatable": "yes", "responses": []}}]}]}"#
            ),
            "boards[0].devices[0].read.repeatable: expected true or false, found a string"
        );
        assert_eq!(
            err(r#"{"scanall": [{"initial": {"result": "error"}}], "boards": []}"#),
            r#"scanall[0].initial.failed_board: missing (required when result is "error")"#
        );
        assert_eq!(
            err(r#"{}"#),
            "boards: missing (a list of boards is required)"
        );
        assert_eq!(
            err(r#"[]"#),
            "(top level): expected an object, found a list"
        );
        assert!(err("{").starts_with("emulator config is not valid JSON"));
        assert_eq!(
            err(r#"{"boards": [{"board_id": "1", "firmware_version": "\u20ac"}]}"#),
            r#"boards[0].firmware_version: "€" has characters outside Latin-1, which cannot be sent as bytes"#
        );
        let long = "x".repeat(247);
        assert_eq!(
            err(&format!(
                r#"{{"boards": [{{"board_id": "1", "firmware_version": "{long}"}}]}}"#
            )),
            "boards[0].firmware_version: text of 247 bytes exceeds the 246-byte frame limit"
        );
        assert_eq!(
            err(r#"{"boards": [{"board_id": "1", "raw_data": [1, [2]]}]}"#),
            "boards[0].raw_data: mixes bytes and lists: use a flat byte list (v1.1) or a list of scan answers (v1.2+)"
        );
    }

    #[test]
    fn unknown_keys_warn_and_comments_do_not() {
        let cfg = EmulatorConfig::from_json_str(
            r#"{"_comment": "x", "boards": [{"board_id": "1", "colour": "red",
                "devices": [{"device_id": "1", "device_type": "led", "read": {"repeatible": true, "responses": []}}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.warnings,
            vec![
                r#"boards[0]: unknown key "colour" ignored"#.to_string(),
                r#"boards[0].devices[0].read: unknown key "repeatible" ignored"#.to_string(),
            ]
        );
    }

    #[test]
    fn raw_data_shapes() {
        let cfg = EmulatorConfig::from_json_str(
            r#"{"boards": [
                {"board_id": "1", "raw_data": [1, 2, 3]},
                {"board_id": "2", "raw_data": [[[1, 999], [2, 1002]], null, [[]], [7, 8]]},
                {"board_id": "3", "raw_data": []}]}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.boards[0].raw_data,
            Some(RawData::Flat(vec![
                RawByte::Lit(1),
                RawByte::Lit(2),
                RawByte::Lit(3)
            ]))
        );
        assert_eq!(
            cfg.boards[1].raw_data,
            Some(RawData::Cycle(vec![
                Some(vec![
                    vec![RawByte::Lit(1), RawByte::Sequence],
                    vec![RawByte::Lit(2), RawByte::Checksum { from: 2 }]
                ]),
                None,
                Some(vec![vec![]]),
                Some(vec![vec![RawByte::Lit(7), RawByte::Lit(8)]]),
            ]))
        );
        assert_eq!(cfg.boards[2].raw_data, Some(RawData::Flat(vec![])));
    }

    #[test]
    fn stateful_fields() {
        let cfg = EmulatorConfig::from_json_str(
            r#"{"boards": [{"board_id": "1", "devices": [
                {"device_id": "1", "device_type": "power", "has_state": true,
                 "power": "0,0,0,0", "on": ["0,1,2,3", "0,4,5,6"], "off": "64,0,0,0"},
                {"device_id": "2", "device_type": "system", "has_state": true,
                 "boot_target": "B0", "hdd": "B1", "pxe": "B2", "no_override": "B0"}]}]}"#,
        )
        .unwrap();
        let d = &cfg.boards[0].devices[0];
        assert_eq!(
            d.power,
            Some(Field::State(StateValue::Text(b"0,0,0,0".to_vec())))
        );
        assert_eq!(
            d.on,
            Some(StateValue::Cycle(vec![
                b"0,1,2,3".to_vec(),
                b"0,4,5,6".to_vec()
            ]))
        );
        assert_eq!(cfg.boards[0].devices[1].pxe, Some(b"B2".to_vec()));
        assert_eq!(
            err(r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "1", "device_type": "power", "has_state": true, "power": {"responses": []}}]}]}"#),
            "boards[0].devices[0].power: a has_state device takes its initial state as a plain value, not a response list"
        );
    }

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (0u64..1300).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![
                Just("1".to_string()),
                Just("01ff".to_string()),
                Just("ok".to_string()),
                Just("error".to_string()),
                Just("thermistor".to_string()),
                Just("power".to_string()),
                "\\PC{0,8}",
            ]
            .prop_map(Value::String),
        ];
        let keys = prop_oneof![
            Just("boards"),
            Just("board_id"),
            Just("devices"),
            Just("device_id"),
            Just("device_type"),
            Just("read"),
            Just("power"),
            Just("write"),
            Just("responses"),
            Just("repeatable"),
            Just("retry_responses"),
            Just("raw_data"),
            Just("retry_raw_data"),
            Just("firmware_version"),
            Just("retry_firmware_version"),
            Just("has_state"),
            Just("on"),
            Just("off"),
            Just("asset_info"),
            Just("boot_target"),
            Just("host_info"),
            Just("scanall"),
            Just("initial"),
            Just("retry"),
            Just("result"),
            Just("failed_board"),
            Just("hdd"),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_json_never_panics(
            v in arb_json(),
            fields in proptest::collection::vec((0usize..8, arb_json()), 0..5),
            ty in proptest::sample::select(vec!["thermistor", "power", "led", "system", "fan_speed", "vapor_fan", "vapor_led", "none"]),
            has_state in proptest::prelude::any::<bool>(),
        ) {
            let _ = EmulatorConfig::from_value(&v);
            // A device with a valid address and random action fields, so that
            // many cases load and then get served.
            let names = ["read", "write", "power", "boot_target", "asset_info", "host_info", "on", "off"];
            let mut dev = serde_json::Map::new();
            dev.insert("device_id".into(), "01ff".into());
            dev.insert("device_type".into(), ty.into());
            dev.insert("has_state".into(), has_state.into());
            for (k, val) in fields {
                let val = match val {
                    Value::Array(items) if k % 2 == 0 => serde_json::json!({"repeatable": k < 4, "responses": items}),
                    other => other,
                };
                dev.insert(names[k].into(), val);
            }
            let wrapped = serde_json::json!({"boards": [{"board_id": "1", "devices": [v, Value::Object(dev)]}]});
            let cfg = EmulatorConfig::from_value(&wrapped).or_else(|_| {
                // Without the random first device, the generated one alone.
                let mut alone = wrapped.clone();
                if let Some(devices) = alone["boards"][0]["devices"].as_array_mut() {
                    devices.remove(0);
                }
                EmulatorConfig::from_value(&alone)
            });
            if let Ok(cfg) = cfg {
                // Whatever loads must also be servable without panics.
                let mut e = crate::Emulator::from_config(cfg);
                for data in [&b"R"[..], b"P1", b"P0", b"W1", b"B0", b"A", b"H", b"L1,r,ff,0", b"?", b"RI", b"D"] {
                    for ty in [0x08u8, 0x10, 0x12, 0x40, 0x82, 0x9C, 0xFF] {
                        let f = opendcre_proto::Frame { sequence: 1, device_type: ty, board_id: 1, device_id: 0x01ff, data: data.to_vec() };
                        let _ = e.handle(&f);
                        let f1 = opendcre_proto::Frame { device_id: 1, ..f };
                        let _ = e.handle(&f1);
                    }
                }
            }
        }
    }

    #[test]
    fn shipped_configs_load_cleanly() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../emulator-configs");
        for name in ["simple.json", "rack.json", "faults.json"] {
            let cfg =
                EmulatorConfig::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(cfg.warnings.is_empty(), "{name}: {:?}", cfg.warnings);
            assert!(!cfg.boards.is_empty());
        }
    }
}
