//! Which BMCs the bridge talks to, and how.
//!
//! Two sources: the original v1.1 `bmc_config.json` (spec §7.1; IPMI v1.5 only)
//! and our richer `[[ipmi.bmc]]` TOML entries (interface, port, cipher suite,
//! privilege, timeouts). The original discarded *all* BMCs when one entry was bad
//! and silently mapped unknown auth types to "none" (spec §9 item 32). Here every
//! bad key of every entry is reported with its index, the good entries stay
//! available to the caller, and unknown auth types are errors.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::commands::GuidOrder;

pub(crate) const DEFAULT_PORT: u16 = 623;
/// Per-attempt reply timeout. BMCs answer in milliseconds; a second covers slow
/// BMC firmware without making a dead BMC take long to report.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Retransmissions after the first attempt (so 3 attempts per request).
pub(crate) const DEFAULT_RETRIES: u32 = 2;
/// How long power on/off keep polling chassis status for the requested state.
pub(crate) const DEFAULT_POWER_WAIT: Duration = Duration::from_secs(10);

const MIN_TIMEOUT: Duration = Duration::from_millis(10);
const MAX_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_RETRIES: u32 = 10;
const MAX_POWER_WAIT: Duration = Duration::from_secs(120);

/// IPMI v1.5 session authentication type (`lan` interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    None,
    Md2,
    Md5,
    /// "Straight password": the password itself is the auth code.
    Password,
}

impl AuthType {
    /// The auth-type code on the wire (spec §7.1: none 0, MD2 1, MD5 2, password 4).
    pub fn code(self) -> u8 {
        match self {
            AuthType::None => 0,
            AuthType::Md2 => 1,
            AuthType::Md5 => 2,
            AuthType::Password => 4,
        }
    }

    /// Accepts the spellings of `bmc_config.json` (`NONE`, `PASSWORD`, `MD5`, `MD2`),
    /// case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "NONE" => Some(AuthType::None),
            "MD2" => Some(AuthType::Md2),
            "MD5" => Some(AuthType::Md5),
            "PASSWORD" => Some(AuthType::Password),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthType::None => "NONE",
            AuthType::Md2 => "MD2",
            AuthType::Md5 => "MD5",
            AuthType::Password => "PASSWORD",
        }
    }
}

/// `lan` = IPMI v1.5 sessions, `lanplus` = IPMI v2.0 RMCP+ (the ipmitool names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    Lan,
    LanPlus,
}

impl Interface {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "lan" => Some(Interface::Lan),
            "lanplus" => Some(Interface::LanPlus),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Interface::Lan => "lan",
            Interface::LanPlus => "lanplus",
        }
    }
}

/// Session privilege level. Chassis control needs at least `Operator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Privilege {
    Callback = 1,
    User = 2,
    Operator = 3,
    Administrator = 4,
}

impl Privilege {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "callback" => Some(Privilege::Callback),
            "user" => Some(Privilege::User),
            "operator" => Some(Privilege::Operator),
            "admin" | "administrator" => Some(Privilege::Administrator),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Privilege::Callback => "callback",
            Privilege::User => "user",
            Privilege::Operator => "operator",
            Privilege::Administrator => "admin",
        }
    }
}

/// One BMC: where it is, how to log in, and the bounds on waiting for it.
#[derive(Clone, PartialEq, Eq)]
pub struct BmcConfig {
    /// Device id under IPMI board `40000000`.
    pub device_id: u16,
    /// Host name or IP address.
    pub ip: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// v1.5 auth type; used by `Interface::Lan` only.
    pub auth: AuthType,
    pub interface: Interface,
    /// RMCP+ cipher suite 0–3; used by `Interface::LanPlus` only.
    pub cipher_suite: u8,
    pub privilege: Privilege,
    /// Per-attempt reply timeout.
    pub timeout: Duration,
    /// Retransmissions after the first attempt.
    pub retries: u32,
    /// How long power on/off poll for the requested power state.
    pub power_wait: Duration,
    pub asset_info: Option<String>,
    /// The byte order of the BMC's Get System GUID answer.
    pub guid_order: GuidOrder,
}

impl fmt::Debug for BmcConfig {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BmcConfig")
            .field("device_id", &format_args!("{:04x}", self.device_id))
            .field("address", &self.address())
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("interface", &self.interface)
            .field("auth", &self.auth)
            .field("cipher_suite", &self.cipher_suite)
            .field("privilege", &self.privilege)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("power_wait", &self.power_wait)
            .field("asset_info", &self.asset_info)
            .field("guid_order", &self.guid_order)
            .finish()
    }
}

impl BmcConfig {
    /// An IPMI v1.5 BMC on port 623 with the default timeouts and admin privilege.
    pub fn lan(device_id: u16, ip: &str, username: &str, password: &str, auth: AuthType) -> Self {
        BmcConfig {
            device_id,
            ip: ip.to_string(),
            port: DEFAULT_PORT,
            username: username.to_string(),
            password: password.to_string(),
            auth,
            interface: Interface::Lan,
            cipher_suite: 3,
            privilege: Privilege::Administrator,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            power_wait: DEFAULT_POWER_WAIT,
            asset_info: None,
            guid_order: GuidOrder::Ipmi,
        }
    }

    /// An IPMI v2.0 (RMCP+) BMC on port 623 with `cipher_suite`.
    pub fn lanplus(
        device_id: u16,
        ip: &str,
        username: &str,
        password: &str,
        cipher_suite: u8,
    ) -> Self {
        BmcConfig {
            interface: Interface::LanPlus,
            cipher_suite,
            ..Self::lan(device_id, ip, username, password, AuthType::None)
        }
    }

    /// `host:port` as used in messages (IPv6 literals in brackets).
    pub fn address(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.port)
        } else {
            format!("{}:{}", self.ip, self.port)
        }
    }

    /// Upper bound on one request: every attempt timing out.
    pub(crate) fn request_budget(&self) -> Duration {
        self.timeout * (self.retries + 1)
    }

    /// Checks the fields the wire formats constrain. Each problem names its key.
    pub fn validate(&self) -> Result<(), Vec<KeyError>> {
        let mut errors = Vec::new();
        let mut bad = |key: &str, message: String| {
            errors.push(KeyError {
                key: key.to_string(),
                message,
            })
        };
        if self.ip.trim().is_empty() || self.ip.chars().any(char::is_whitespace) {
            bad(
                "ip",
                format!("{:?} is not a host name or IP address", self.ip),
            );
        }
        if self.port == 0 {
            bad("port", "port 0 is not a valid UDP port".into());
        }
        if self.username.len() > 16 {
            bad(
                "username",
                format!("{} bytes long; IPMI allows at most 16", self.username.len()),
            );
        }
        let max_pw = match self.interface {
            Interface::Lan => 16,
            Interface::LanPlus => 20,
        };
        if self.password.len() > max_pw {
            bad(
                "password",
                format!(
                    "{} bytes long; IPMI {} allows at most {max_pw}",
                    self.password.len(),
                    self.interface.name()
                ),
            );
        }
        if self.interface == Interface::LanPlus && self.cipher_suite > 3 {
            bad(
                "cipher_suite",
                format!(
                    "cipher suite {} is not supported (supported: 0, 1, 2, 3 — RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128)",
                    self.cipher_suite
                ),
            );
        }
        if self.privilege == Privilege::Callback {
            bad(
                "privilege",
                "callback privilege cannot read chassis status; use user, operator or admin".into(),
            );
        }
        if self.timeout < MIN_TIMEOUT || self.timeout > MAX_TIMEOUT {
            bad(
                "timeout_ms",
                format!(
                    "{} ms is outside {}..={} ms",
                    self.timeout.as_millis(),
                    MIN_TIMEOUT.as_millis(),
                    MAX_TIMEOUT.as_millis()
                ),
            );
        }
        if self.retries > MAX_RETRIES {
            bad(
                "retries",
                format!("{} is more than {MAX_RETRIES}", self.retries),
            );
        }
        if self.power_wait > MAX_POWER_WAIT {
            bad(
                "power_wait_ms",
                format!(
                    "{} ms is more than {} ms",
                    self.power_wait.as_millis(),
                    MAX_POWER_WAIT.as_millis()
                ),
            );
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// One bad key of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: String,
    pub message: String,
}

/// One bad key of the entry at `index` of list `list` (`bmcs` or `ipmi.bmc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub list: String,
    pub index: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}[{}]: {}", self.list, self.index, self.message)
        } else {
            write!(
                f,
                "{}[{}].{}: {}",
                self.list, self.index, self.key, self.message
            )
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IpmiConfigError {
    #[error("cannot read BMC configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("BMC configuration {source_name}: {detail}")]
    Format { source_name: String, detail: String },
    /// Some entries are invalid; `valid` holds the others, so a caller may choose to
    /// run with them (after logging this error) rather than with none.
    #[error("BMC configuration {source_name}: {} invalid entr{}: {}",
        errors.len(), if errors.len() == 1 { "y" } else { "ies" },
        errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Entries {
        source_name: String,
        errors: Vec<EntryError>,
        valid: Vec<BmcConfig>,
    },
}

/// Reads the original `bmc_config.json` (spec §7.1):
/// `{"bmcs": [{"bmc_device_id", "bmc_ip", "username", "password", "auth_type", "asset_info"}]}`.
///
/// All six keys are required, extra keys are ignored (as in the original), except
/// that an optional `bmc_port` (integer) is honoured so the file can point at a BMC
/// or simulator on another port. The interface is always `lan` (IPMI v1.5).
pub fn load_bmc_config_json(path: &Path) -> Result<Vec<BmcConfig>, IpmiConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| IpmiConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_bmc_config_json(&text, &path.display().to_string())
}

/// [`load_bmc_config_json`] on text; `source_name` names it in errors.
pub fn parse_bmc_config_json(
    text: &str,
    source_name: &str,
) -> Result<Vec<BmcConfig>, IpmiConfigError> {
    let format = |detail: String| IpmiConfigError::Format {
        source_name: source_name.to_string(),
        detail,
    };
    let root: Value =
        serde_json::from_str(text).map_err(|e| format(format!("not valid JSON: {e}")))?;
    let Some(obj) = root.as_object() else {
        return Err(format(
            "top level must be an object with a \"bmcs\" list".into(),
        ));
    };
    let Some(list) = obj.get("bmcs") else {
        return Err(format("missing the top-level \"bmcs\" list".into()));
    };
    let Some(list) = list.as_array() else {
        return Err(format("\"bmcs\" must be a list".into()));
    };

    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        match json_entry(entry) {
            Ok(cfg) => parsed.push((index, cfg)),
            Err(keys) => errors.extend(keys.into_iter().map(|k| EntryError {
                list: "bmcs".into(),
                index,
                key: k.key,
                message: k.message,
            })),
        }
    }
    finish(source_name, "bmcs", "bmc_device_id", parsed, errors)
}

fn json_entry(entry: &Value) -> Result<BmcConfig, Vec<KeyError>> {
    let mut errors = Vec::new();
    let Some(obj) = entry.as_object() else {
        return Err(vec![KeyError {
            key: String::new(),
            message: "entry must be an object".into(),
        }]);
    };
    let mut bad = |key: &str, message: String| {
        errors.push(KeyError {
            key: key.into(),
            message,
        })
    };
    let text = |key: &str, bad: &mut dyn FnMut(&str, String)| -> Option<String> {
        match obj.get(key) {
            None => {
                bad(key, "required key is missing".into());
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                bad(key, format!("must be a string, got {other}"));
                None
            }
        }
    };
    let ip = text("bmc_ip", &mut bad);
    let username = text("username", &mut bad);
    let password = text("password", &mut bad);
    let auth_text = text("auth_type", &mut bad);
    let asset_info = text("asset_info", &mut bad);
    let device_id = match obj.get("bmc_device_id") {
        None => {
            bad("bmc_device_id", "required key is missing".into());
            None
        }
        Some(v) => match v.as_u64() {
            Some(n) if n <= 0xFFFF => Some(n as u16),
            _ => {
                bad(
                    "bmc_device_id",
                    format!("must be an integer 0..=65535, got {v}"),
                );
                None
            }
        },
    };
    let port = match obj.get("bmc_port") {
        None => Some(DEFAULT_PORT),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=0xFFFF).contains(&n) => Some(n as u16),
            _ => {
                bad("bmc_port", format!("must be an integer 1..=65535, got {v}"));
                None
            }
        },
    };
    let auth = auth_text.and_then(|t| {
        let a = AuthType::parse(&t);
        if a.is_none() {
            bad(
                "auth_type",
                format!("unknown auth type {t:?} (expected NONE, PASSWORD, MD5 or MD2)"),
            );
        }
        a
    });
    let (Some(device_id), Some(ip), Some(username), Some(password), Some(auth), Some(port)) =
        (device_id, ip, username, password, auth, port)
    else {
        return Err(errors);
    };
    let mut cfg = BmcConfig::lan(device_id, &ip, &username, &password, auth);
    cfg.port = port;
    cfg.asset_info = asset_info;
    cfg.validate().map_err(|mut e| {
        // Report JSON key names, not our field names.
        for k in &mut e {
            if k.key == "ip" {
                k.key = "bmc_ip".into();
            }
            if k.key == "port" {
                k.key = "bmc_port".into();
            }
        }
        errors.extend(e);
        errors.clone()
    })?;
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

/// A `[[ipmi.bmc]]` entry of `opendcre.toml`:
///
/// ```toml
/// [[ipmi.bmc]]
/// device_id = 1                 # device under board 40000000
/// ip = "10.0.0.5"               # or host name ("host" is accepted as an alias)
/// port = 623
/// username = "ADMIN"
/// password = "ADMIN"
/// interface = "lanplus"         # "lanplus" (IPMI v2.0, default) or "lan" (v1.5)
/// cipher_suite = 3              # lanplus: 0–3 (default 3)
/// auth = "md5"                  # lan: none | password | md5 | md2 (default md5)
/// privilege = "admin"           # user | operator | admin (default admin)
/// timeout_ms = 1000             # per attempt
/// retries = 2                   # retransmissions after the first attempt
/// power_wait_ms = 10000         # how long on/off poll for the new power state
/// asset_info = "rack 3, slot 7"
/// guid_order = "ipmi"           # how the BMC sends the server's GUID: "ipmi"
///                               # (the IPMI spec's, default) or "smbios" (as
///                               # dmidecode shows it); Redfish shows it as UUID
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BmcToml {
    pub device_id: u16,
    #[serde(alias = "host")]
    pub ip: String,
    #[serde(default)]
    pub port: Option<u16>,
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub cipher_suite: Option<u8>,
    #[serde(default)]
    pub privilege: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub power_wait_ms: Option<u64>,
    #[serde(default)]
    pub asset_info: Option<String>,
    #[serde(default)]
    pub guid_order: Option<String>,
}

/// The bad keys of one TOML entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|k| format!("{}: {}", k.key, k.message)).collect::<Vec<_>>().join("; "))]
pub struct InvalidBmc(pub Vec<KeyError>);

impl TryFrom<BmcToml> for BmcConfig {
    type Error = InvalidBmc;

    fn try_from(t: BmcToml) -> Result<Self, InvalidBmc> {
        let mut errors = Vec::new();
        let mut bad = |key: &str, message: String| {
            errors.push(KeyError {
                key: key.into(),
                message,
            })
        };
        // Unparseable values fall back to their defaults so that validation still
        // runs on the rest and every bad key is reported at once.
        let interface = match &t.interface {
            None => Interface::LanPlus,
            Some(s) => Interface::parse(s).unwrap_or_else(|| {
                bad(
                    "interface",
                    format!("unknown interface {s:?} (expected \"lan\" or \"lanplus\")"),
                );
                Interface::LanPlus
            }),
        };
        let auth = match &t.auth {
            None => AuthType::Md5,
            Some(s) if interface == Interface::LanPlus => {
                bad(
                    "auth",
                    format!("auth = {s:?} applies to interface \"lan\" only; lanplus is set with cipher_suite"),
                );
                AuthType::Md5
            }
            Some(s) => AuthType::parse(s).unwrap_or_else(|| {
                bad(
                    "auth",
                    format!("unknown auth type {s:?} (expected none, password, md5 or md2)"),
                );
                AuthType::Md5
            }),
        };
        if t.cipher_suite.is_some() && interface == Interface::Lan {
            bad(
                "cipher_suite",
                "cipher_suite applies to interface \"lanplus\" only".into(),
            );
        }
        let privilege = match &t.privilege {
            None => Privilege::Administrator,
            Some(s) => Privilege::parse(s).unwrap_or_else(|| {
                bad(
                    "privilege",
                    format!("unknown privilege {s:?} (expected user, operator or admin)"),
                );
                Privilege::Administrator
            }),
        };
        let guid_order = match &t.guid_order {
            None => GuidOrder::Ipmi,
            Some(s) => GuidOrder::parse(s).unwrap_or_else(|| {
                bad(
                    "guid_order",
                    format!("unknown GUID byte order {s:?} (expected ipmi or smbios)"),
                );
                GuidOrder::Ipmi
            }),
        };
        let cfg = BmcConfig {
            device_id: t.device_id,
            ip: t.ip,
            port: t.port.unwrap_or(DEFAULT_PORT),
            username: t.username,
            password: t.password,
            auth,
            interface,
            cipher_suite: t.cipher_suite.unwrap_or(3),
            privilege,
            timeout: t
                .timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_TIMEOUT),
            retries: t.retries.unwrap_or(DEFAULT_RETRIES),
            power_wait: t
                .power_wait_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_POWER_WAIT),
            asset_info: t.asset_info,
            guid_order,
        };
        if let Err(e) = cfg.validate() {
            errors.extend(e);
        }
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(InvalidBmc(errors))
        }
    }
}

/// Converts all `[[ipmi.bmc]]` entries, reporting each bad key with its index and
/// rejecting duplicate device ids.
pub fn bmcs_from_toml(entries: Vec<BmcToml>) -> Result<Vec<BmcConfig>, IpmiConfigError> {
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        match BmcConfig::try_from(entry) {
            Ok(cfg) => parsed.push((index, cfg)),
            Err(InvalidBmc(keys)) => errors.extend(keys.into_iter().map(|k| EntryError {
                list: "ipmi.bmc".into(),
                index,
                key: k.key,
                message: k.message,
            })),
        }
    }
    finish("[[ipmi.bmc]]", "ipmi.bmc", "device_id", parsed, errors)
}

/// Rejects duplicate device ids (the later entry is the bad one) and assembles the result.
fn finish(
    source_name: &str,
    list: &str,
    id_key: &str,
    parsed: Vec<(usize, BmcConfig)>,
    mut errors: Vec<EntryError>,
) -> Result<Vec<BmcConfig>, IpmiConfigError> {
    let mut valid: Vec<BmcConfig> = Vec::new();
    let mut first_index = std::collections::HashMap::new();
    for (index, cfg) in parsed {
        if let Some(first) = first_index.get(&cfg.device_id) {
            errors.push(EntryError {
                list: list.into(),
                index,
                key: id_key.into(),
                message: format!(
                    "device id {:04x} is already used by entry {first}",
                    cfg.device_id
                ),
            });
        } else {
            first_index.insert(cfg.device_id, index);
            valid.push(cfg);
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        errors.sort_by_key(|e| e.index);
        Err(IpmiConfigError::Entries {
            source_name: source_name.into(),
            errors,
            valid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_config_of_the_spec_loads() {
        let text = r#"{"bmcs": [{"bmc_device_id": 1, "bmc_ip": "192.168.1.118", "username": "username",
            "password": "password", "auth_type": "MD5", "asset_info": "example BMC"}]}"#;
        let bmcs = parse_bmc_config_json(text, "sample").unwrap();
        assert_eq!(bmcs.len(), 1);
        let b = &bmcs[0];
        assert_eq!(
            (b.device_id, b.ip.as_str(), b.port),
            (1, "192.168.1.118", 623)
        );
        assert_eq!(
            (b.auth, b.interface, b.privilege),
            (AuthType::Md5, Interface::Lan, Privilege::Administrator)
        );
        assert_eq!(b.asset_info.as_deref(), Some("example BMC"));
        assert!(
            !format!("{b:?}").contains("\"password\""),
            "password must not be printed"
        );
    }

    #[test]
    fn every_bad_key_is_reported_and_good_entries_survive() {
        // The spec's bmc007 test file spells one auth type "PASWORD"; the original
        // silently used no authentication for it.
        let text = r#"{"bmcs": [
            {"bmc_device_id": 1, "bmc_ip": "10.0.0.1", "username": "a", "password": "b", "auth_type": "NONE", "asset_info": "x"},
            {"bmc_device_id": 2, "bmc_ip": "10.0.0.2", "username": "a", "password": "b", "auth_type": "PASWORD", "asset_info": "x"},
            {"bmc_device_id": 70000, "username": "a", "password": "b", "auth_type": "MD2", "asset_info": "x"},
            {"bmc_device_id": 1, "bmc_ip": "10.0.0.4", "username": "a", "password": "b", "auth_type": "md5", "asset_info": "x", "extra": 1},
            {"bmc_device_id": 5, "bmc_ip": "10.0.0.5", "username": "a", "password": "b", "auth_type": "PASSWORD", "asset_info": "x", "bmc_port": 9623}
        ]}"#;
        let Err(IpmiConfigError::Entries { errors, valid, .. }) =
            parse_bmc_config_json(text, "bmc_config.json")
        else {
            panic!("expected entry errors");
        };
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.index, e.key.as_str())).collect();
        assert_eq!(
            found,
            [
                (1, "auth_type"),
                (2, "bmc_ip"),
                (2, "bmc_device_id"),
                (3, "bmc_device_id")
            ]
        );
        assert!(errors[0]
            .to_string()
            .starts_with("bmcs[1].auth_type: unknown auth type \"PASWORD\""));
        assert!(errors[3].message.contains("already used by entry 0"));
        let ids: Vec<u16> = valid.iter().map(|b| b.device_id).collect();
        assert_eq!(ids, [1, 5]);
        assert_eq!(valid[1].port, 9623);
        assert_eq!(valid[1].auth, AuthType::Password);
    }

    #[test]
    fn malformed_files_are_format_errors() {
        for (text, needle) in [
            ("{", "not valid JSON"),
            ("", "not valid JSON"),
            ("[]", "top level"),
            ("{}", "missing"),
            (r#"{"bmcs": 3}"#, "must be a list"),
        ] {
            let e = parse_bmc_config_json(text, "f").unwrap_err();
            assert!(matches!(e, IpmiConfigError::Format { .. }), "{text}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        assert!(parse_bmc_config_json(r#"{"bmcs": []}"#, "f")
            .unwrap()
            .is_empty());
        let e = parse_bmc_config_json(r#"{"bmcs": [7]}"#, "f").unwrap_err();
        assert!(
            e.to_string().contains("bmcs[0]: entry must be an object"),
            "{e}"
        );
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let e = load_bmc_config_json(Path::new("/nonexistent/bmc_config.json")).unwrap_err();
        assert!(matches!(e, IpmiConfigError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/bmc_config.json"));
    }

    #[derive(Deserialize)]
    struct Root {
        ipmi: Ipmi,
    }
    #[derive(Deserialize)]
    struct Ipmi {
        bmc: Vec<BmcToml>,
    }

    #[test]
    fn toml_entries_with_defaults_and_errors() {
        let root: Root = toml::from_str(
            r#"
            [[ipmi.bmc]]
            device_id = 1
            ip = "10.0.0.5"
            username = "ADMIN"
            password = "ADMIN"

            [[ipmi.bmc]]
            device_id = 2
            host = "bmc2.example"
            port = 9623
            username = "OPER"
            password = "pw"
            interface = "lan"
            auth = "password"
            privilege = "operator"
            timeout_ms = 250
            retries = 1
            power_wait_ms = 2000
            asset_info = "rack 3"
            guid_order = "smbios"

            [[ipmi.bmc]]
            device_id = 3
            ip = "10.0.0.7"
            username = "u"
            password = "p"
            interface = "lanplus"
            auth = "md5"
            cipher_suite = 17
            timeout_ms = 0
            "#,
        )
        .unwrap();
        let Err(IpmiConfigError::Entries { errors, valid, .. }) = bmcs_from_toml(root.ipmi.bmc)
        else {
            panic!("entry 2 is invalid");
        };
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["auth", "cipher_suite", "timeout_ms"]);
        assert!(errors.iter().all(|e| e.index == 2));
        assert!(errors[0].to_string().starts_with("ipmi.bmc[2].auth:"));
        assert_eq!(valid.len(), 2);
        let a = &valid[0];
        assert_eq!(
            (a.interface, a.cipher_suite, a.port),
            (Interface::LanPlus, 3, 623)
        );
        assert_eq!((a.timeout, a.retries), (DEFAULT_TIMEOUT, DEFAULT_RETRIES));
        let b = &valid[1];
        assert_eq!(
            (b.ip.as_str(), b.port, b.interface, b.auth),
            ("bmc2.example", 9623, Interface::Lan, AuthType::Password)
        );
        assert_eq!(
            (b.privilege, b.timeout, b.retries),
            (Privilege::Operator, Duration::from_millis(250), 1)
        );
        assert_eq!(b.power_wait, Duration::from_secs(2));
        assert_eq!(b.guid_order, GuidOrder::Smbios);
    }

    #[test]
    fn toml_validation_reports_each_key() {
        let entry = BmcToml {
            device_id: 4,
            ip: "".into(),
            port: Some(0),
            username: "u".repeat(17),
            password: "p".repeat(21),
            interface: Some("lanplus".into()),
            auth: None,
            cipher_suite: Some(17),
            privilege: Some("root".into()),
            timeout_ms: Some(0),
            retries: Some(99),
            power_wait_ms: None,
            asset_info: None,
            guid_order: Some("big".into()),
        };
        let InvalidBmc(errors) = BmcConfig::try_from(entry).unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "privilege",
                "guid_order",
                "ip",
                "port",
                "username",
                "password",
                "cipher_suite",
                "timeout_ms",
                "retries"
            ]
        );
    }

    #[test]
    fn unknown_toml_keys_are_rejected_by_serde() {
        let r: Result<Root, _> = toml::from_str(
            "[[ipmi.bmc]]\ndevice_id = 1\nip = \"h\"\nusername = \"u\"\npassword = \"p\"\ncipher_suit = 3\n",
        );
        assert!(r.err().unwrap().to_string().contains("cipher_suit"));
    }

    #[test]
    fn address_formats_ipv6_in_brackets() {
        let mut c = BmcConfig::lan(1, "::1", "u", "p", AuthType::Md5);
        assert_eq!(c.address(), "[::1]:623");
        c.ip = "bmc.example".into();
        c.port = 9623;
        assert_eq!(c.address(), "bmc.example:9623");
    }
}
