//! The service configuration file (`/etc/opendcre/opendcre.toml`), its
//! defaults and validation. The documented example with every key is
//! `firmware-api/config/opendcre.toml`; unknown keys are errors so a typo
//! never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use opendcre_api::server::ServerOptions;
use opendcre_bus::{BusConfig, SequenceCheck};

/// Where the service looks when `--config` is not given.
pub(crate) const DEFAULT_CONFIG_PATH: &str = "/etc/opendcre/opendcre.toml";

/// Name of the security file looked for beside the main configuration file.
pub(crate) const SECURITY_FILE: &str = "security.toml";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerSection,
    pub bus: BusSection,
    pub emulator: EmulatorSection,
    pub ipmi: IpmiSection,
    pub log: LogSection,
    /// The PLC modem HAT (documented in `config/hat-example.toml`).
    pub hat: opendcre_hat::HatConfig,
    /// `[tls]` (documented in `config/security-example.toml`).
    pub tls: opendcre_security::tls::TlsConfig,
    /// `[auth]`; `None` when the file has no such table, so the service can
    /// tell "not configured" from "configured to need credentials".
    pub auth: Option<opendcre_security::auth::AuthConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: Vec<String>,
    pub max_connections: usize,
    pub header_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_body_bytes: usize,
}

impl Default for ServerSection {
    /// The HTTP limits default to the api crate's [`ServerOptions`], so each
    /// default is written once; the listen address and the request budget
    /// are the service's own.
    fn default() -> Self {
        let http = ServerOptions::default();
        ServerSection {
            listen: vec!["0.0.0.0:5000".into()],
            max_connections: http.max_connections,
            header_timeout_ms: u64::try_from(http.header_timeout.as_millis()).unwrap_or(u64::MAX),
            request_timeout_ms: 30_000,
            max_body_bytes: http.max_body_bytes,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSection {
    pub serial: String,
    pub baud: u32,
    pub read_timeout_ms: u64,
    pub scan_silence_ms: u64,
    pub scan_all_silence_ms: u64,
    pub frame_gap_ms: u64,
    pub retry_limit: u32,
    pub time_slice_ms: u64,
    pub queue_depth: usize,
    pub r_sense_mohm: f64,
    pub sequence_check: SequenceCheck,
    /// Two bytes of the scan-all board id, e.g. "4134"; default from the MAC.
    pub host_id: Option<String>,
}

impl Default for BusSection {
    fn default() -> Self {
        let d = BusConfig::default();
        BusSection {
            serial: "/dev/ttyAMA0".into(),
            baud: 115_200,
            read_timeout_ms: d.read_timeout.as_millis() as u64,
            scan_silence_ms: d.scan_silence.as_millis() as u64,
            scan_all_silence_ms: d.scan_all_silence.as_millis() as u64,
            frame_gap_ms: d.frame_gap.as_millis() as u64,
            retry_limit: d.retry_limit,
            time_slice_ms: d.time_slice_ms as u64,
            queue_depth: d.queue_depth,
            r_sense_mohm: 1.0,
            sequence_check: d.sequence_check,
            host_id: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EmulatorSection {
    pub config: Option<PathBuf>,
    /// Pace the emulator's answers at the bus baud rate.
    pub pace: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct IpmiSection {
    /// The original OpenDCRE `bmc_config.json`.
    pub bmc_config: Option<PathBuf>,
    /// Our richer per-BMC form, `[[ipmi.bmc]]` tables.
    pub bmc: Vec<opendcre_ipmi::BmcToml>,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogTarget {
    Stderr,
    Journald,
    Syslog,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub level: String,
    pub target: LogTarget,
    pub syslog: String,
    pub access_log: bool,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".into(),
            target: LogTarget::Stderr,
            syslog: "unix:/dev/log".into(),
            access_log: ServerOptions::default().access_log,
        }
    }
}

/// A configuration problem, worded with the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut cfg = Self::parse(&text, &path.display().to_string())?;
        cfg.merge_security_file(&text, &path.with_file_name(SECURITY_FILE))?;
        Ok(cfg)
    }

    /// `opendcre auth init` (first boot) writes `[tls]` and `[auth]` to
    /// `security.toml` beside the main file; its tables apply unless the main
    /// file has its own, so the packaged opendcre.toml never needs editing.
    pub(crate) fn merge_security_file(
        &mut self,
        main_text: &str,
        security_path: &Path,
    ) -> Result<(), ConfigError> {
        if !security_path.exists() {
            return Ok(());
        }
        let origin = security_path.display().to_string();
        let text = std::fs::read_to_string(security_path).map_err(|source| ConfigError::Read {
            path: origin.clone(),
            source,
        })?;
        let sec: opendcre_security::auth::SecurityConfig =
            toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: origin.clone(),
                message: e.to_string(),
            })?;
        let main: toml::Table = toml::from_str(main_text).unwrap_or_default();
        let tables: toml::Table = toml::from_str(&text).unwrap_or_default();
        if tables.contains_key("tls") && !main.contains_key("tls") {
            self.tls = sec.tls;
        }
        if tables.contains_key("auth") && !main.contains_key("auth") {
            self.auth = Some(sec.auth);
        }
        Ok(())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks what serde cannot: ranges, addresses, combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.server.listen.is_empty() {
            return invalid("server.listen", "at least one address is needed".into());
        }
        self.listen_addrs()?;
        if self.server.max_connections == 0 {
            return invalid("server.max_connections", "must be at least 1".into());
        }
        if self.server.request_timeout_ms == 0 || self.server.header_timeout_ms == 0 {
            return invalid(
                "server.request_timeout_ms",
                "timeouts must be above 0".into(),
            );
        }
        if self.bus.baud == 0 {
            return invalid("bus.baud", "must be above 0".into());
        }
        if !(1..=255).contains(&self.bus.time_slice_ms) {
            return invalid(
                "bus.time_slice_ms",
                format!("{} is outside 1..255", self.bus.time_slice_ms),
            );
        }
        if self.bus.read_timeout_ms == 0
            || self.bus.scan_silence_ms == 0
            || self.bus.scan_all_silence_ms == 0
        {
            return invalid("bus.read_timeout_ms", "bus timeouts must be above 0".into());
        }
        if self.bus.frame_gap_ms == 0 {
            // Every frame would be cut after its first byte.
            return invalid("bus.frame_gap_ms", "must be above 0".into());
        }
        if self.bus.queue_depth == 0 {
            return invalid("bus.queue_depth", "must be at least 1".into());
        }
        if !(self.bus.r_sense_mohm.is_finite() && self.bus.r_sense_mohm > 0.0) {
            return invalid("bus.r_sense_mohm", "must be a positive number".into());
        }
        self.host_id()?;
        self.hat.validate().map_err(|e| ConfigError::Invalid {
            key: "hat",
            message: e.to_string(),
        })?;
        Ok(())
    }

    pub(crate) fn listen_addrs(&self) -> Result<Vec<SocketAddr>, ConfigError> {
        self.server
            .listen
            .iter()
            .map(|a| {
                a.parse().map_err(|_| ConfigError::Invalid {
                    key: "server.listen",
                    message: format!(
                        "{a:?} is not an address:port such as 0.0.0.0:5000 or [::1]:5000"
                    ),
                })
            })
            .collect()
    }

    /// The configured host id, or the one derived from the MAC like the original.
    pub fn host_id(&self) -> Result<(u8, u8), ConfigError> {
        match &self.bus.host_id {
            Some(text) => {
                let bad = || ConfigError::Invalid {
                    key: "bus.host_id",
                    message: format!("{text:?} is not 4 hex digits"),
                };
                if text.len() != 4 {
                    return Err(bad());
                }
                let a = u8::from_str_radix(&text[..2], 16).map_err(|_| bad())?;
                let b = u8::from_str_radix(&text[2..], 16).map_err(|_| bad())?;
                Ok((a, b))
            }
            None => Ok(host_node()
                .map(opendcre_proto::board_id::host_id_from_node)
                .unwrap_or((0, 0))),
        }
    }

    pub(crate) fn bus_config(&self) -> Result<BusConfig, ConfigError> {
        let ms = Duration::from_millis;
        Ok(BusConfig {
            read_timeout: ms(self.bus.read_timeout_ms),
            scan_silence: ms(self.bus.scan_silence_ms),
            scan_all_silence: ms(self.bus.scan_all_silence_ms),
            frame_gap: ms(self.bus.frame_gap_ms),
            retry_limit: self.bus.retry_limit,
            time_slice_ms: self.bus.time_slice_ms as u8,
            host_id: self.host_id()?,
            queue_depth: self.bus.queue_depth,
            sequence_check: self.bus.sequence_check,
            ..BusConfig::default()
        })
    }
}

/// The node number (MAC as a 48-bit integer) of the first real network
/// interface, like Python's `uuid.getnode()`; `None` when there is none.
/// Read here, not in `proto`, which does no I/O.
fn host_node() -> Option<u64> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    // Prefer the wired port: it is what the Pi's getnode() returned.
    if let Some(i) = names.iter().position(|n| n == "eth0") {
        let eth0 = names.remove(i);
        names.insert(0, eth0);
    }
    names.iter().find_map(|n| {
        let text = std::fs::read_to_string(format!("/sys/class/net/{n}/address")).ok()?;
        opendcre_proto::board_id::parse_mac(text.trim()).filter(|&v| v != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_example_parses_and_matches_defaults() {
        let text = include_str!("../config/opendcre.toml");
        let cfg = Config::parse(text, "opendcre.toml").unwrap();
        let d = Config::default();
        assert_eq!(cfg.server.listen, d.server.listen);
        assert_eq!(cfg.bus.serial, d.bus.serial);
        assert_eq!(cfg.bus.read_timeout_ms, d.bus.read_timeout_ms);
        assert_eq!(cfg.bus.scan_silence_ms, d.bus.scan_silence_ms);
        assert_eq!(cfg.bus.scan_all_silence_ms, d.bus.scan_all_silence_ms);
        assert_eq!(cfg.bus.frame_gap_ms, d.bus.frame_gap_ms);
        assert_eq!(cfg.bus.retry_limit, d.bus.retry_limit);
        assert_eq!(cfg.bus.sequence_check, d.bus.sequence_check);
        assert_eq!(cfg.log.level, d.log.level);
        assert_eq!(cfg.hat, d.hat);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("[bus]\nframe_gap_ms = 0\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bus.frame_gap_ms"), "{e}");
        let e = Config::parse("[bus]\ntime_slice_ms = 0\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bus.time_slice_ms"), "{e}");
        let e = Config::parse("[server]\nlisten = [\"nonsense\"]\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.listen"), "{e}");
        let e = Config::parse("[bus]\nbaud_rate = 9600\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("baud_rate"), "{e}");
        let e = Config::parse("[bus]\nhost_id = \"xyz\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bus.host_id"), "{e}");
        let e = Config::parse("[bus]\nsequence_check = \"sometimes\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sequence_check") || e.contains("sometimes"),
            "{e}"
        );
    }
}
