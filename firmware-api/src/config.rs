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
    /// `[telemetry]`: the poller, `/metrics` and the readings API
    /// (docs/metrics.md).
    pub telemetry: opendcre_telemetry::TelemetryConfig,
    /// `[event_log]`: the node's event log (docs/redfish.md, "Log
    /// services").
    pub event_log: EventLogSection,
    /// `[update]`: RAUC bundles through the Redfish UpdateService
    /// (docs/redfish.md, "Updates").
    pub update: UpdateSection,
    /// `[event_service]`: Redfish event subscriptions (docs/redfish.md,
    /// "Events").
    pub event_service: EventServiceSection,
    /// `[manager]`: the node itself as the Redfish manager.
    pub manager: ManagerSection,
    /// `[rack]`: the rack's nameplate, shown by its Redfish chassis.
    pub rack: opendcre_redfish::RackIdentity,
    /// `[boards."<board id>"]`: a bus board's nameplate (the bus has no
    /// command that reads one), shown by its Redfish chassis.
    pub boards: std::collections::BTreeMap<String, opendcre_redfish::RackIdentity>,
}

/// Restarting the node through Redfish (`Manager.Reset`): off unless the
/// image, which has the unit that carries the request out, turns it on.
/// Replacing its HTTPS certificate (`ReplaceCertificate`): only with a
/// certificate store the service may write.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagerSection {
    pub reset_enabled: bool,
    /// The file a reset writes; `opendcre-reboot.path` watches it.
    pub reboot_request: PathBuf,
    /// The file a `PATCH` of the node's network settings (its
    /// `EthernetInterface`) writes; the image's `openmist-network.path`
    /// carries it out. Empty (the default): the settings are read-only.
    pub network_request: PathBuf,
    /// The image's summary of the network settings it applied (no
    /// secrets); empty: the interfaces show no static settings.
    pub network_state: PathBuf,
    /// The interfaces the image's wired network configures: the only
    /// ones whose settings are shown and written.
    pub network_interfaces: Vec<String>,
    /// Directory (made 0700 when missing) where a certificate installed
    /// through Redfish is kept with its key; while it holds one, that one
    /// is served instead of `[tls] cert`/`key`. Empty: no replacement.
    /// The default is in systemd's `StateDirectory`, like the event log,
    /// so a node whose configuration predates the key has it too.
    pub certificate_store: PathBuf,
    /// File of the asset tags given to the rack's and the boards' chassis
    /// through Redfish (`PATCH AssetTag`), and of the manager's
    /// `ServiceIdentification`. Empty: not kept, so not shown and not
    /// writable. In the `StateDirectory` too.
    pub asset_tags: PathBuf,
    /// File of the groups of systems operators make through Redfish
    /// (`AggregationService/Aggregates`). Empty: the groups live in memory
    /// and end with the service. In the `StateDirectory` too.
    pub aggregates: PathBuf,
    /// File of the periodic metric report definitions operators make
    /// through Redfish (`TelemetryService/MetricReportDefinitions`). Empty:
    /// in memory, ended with the service. In the `StateDirectory` too.
    pub report_definitions: PathBuf,
    /// File of the Redfish tasks (installs, downloads, group resets), so
    /// they outlive a restart of the node. Empty (the built-in default,
    /// so test nodes never share one): in memory only. The OpenMistOS
    /// image keeps them in the `StateDirectory`.
    pub tasks: PathBuf,
}

impl Default for ManagerSection {
    fn default() -> Self {
        ManagerSection {
            reset_enabled: false,
            reboot_request: PathBuf::from("/run/opendcre/reboot-request"),
            network_request: PathBuf::new(),
            network_state: PathBuf::new(),
            network_interfaces: vec!["eth0".into(), "usb0".into()],
            certificate_store: PathBuf::from("/var/lib/opendcre/tls"),
            asset_tags: PathBuf::from("/var/lib/opendcre/asset-tags.json"),
            aggregates: PathBuf::from("/var/lib/opendcre/aggregates.json"),
            report_definitions: PathBuf::from("/var/lib/opendcre/report-definitions.json"),
            tasks: PathBuf::new(),
        }
    }
}

impl Config {
    /// `[boards]` by board id: each key is the board's 8 hex digits (as the
    /// API and the Redfish chassis id write it), each nameplate checked as
    /// the rack's is.
    pub fn board_nameplates(
        &self,
    ) -> Result<std::collections::BTreeMap<u32, opendcre_redfish::RackIdentity>, ConfigError> {
        let mut out = std::collections::BTreeMap::new();
        for (key, plate) in &self.boards {
            let id = (key.len() == 8 && key.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(key, 16).ok())
                .flatten()
                .ok_or_else(|| ConfigError::Invalid {
                    key: "boards",
                    message: format!("{key:?} is not a board id (8 hex digits, as 00000001)"),
                })?;
            plate.validate().map_err(|message| ConfigError::Invalid {
                key: "boards",
                message: format!("{key}: {message}"),
            })?;
            if out.insert(id, plate.clone()).is_some() {
                return Err(ConfigError::Invalid {
                    key: "boards",
                    message: format!("board {key} is named twice"),
                });
            }
        }
        Ok(out)
    }
}

impl ManagerSection {
    /// What the Redfish node is built with: the request file, when on.
    pub fn reboot_request(&self) -> Option<PathBuf> {
        self.reset_enabled.then(|| self.reboot_request.clone())
    }

    /// What the Redfish node is built with for its network settings.
    pub fn network(&self) -> opendcre_redfish::NetworkSettings {
        let set = |p: &PathBuf| Some(p.clone()).filter(|p| !p.as_os_str().is_empty());
        opendcre_redfish::NetworkSettings {
            request: set(&self.network_request),
            state: set(&self.network_state),
            interfaces: self.network_interfaces.clone(),
        }
    }

    /// The certificate store, unless turned off (`""`).
    pub fn certificate_store(&self) -> Option<&Path> {
        Some(self.certificate_store.as_path()).filter(|p| !p.as_os_str().is_empty())
    }

    /// The asset tag file, when tags are kept.
    pub fn asset_tags(&self) -> Option<PathBuf> {
        Some(self.asset_tags.clone()).filter(|p| !p.as_os_str().is_empty())
    }

    /// The aggregates file, when groups are kept across restarts.
    pub fn aggregates(&self) -> Option<PathBuf> {
        Some(self.aggregates.clone()).filter(|p| !p.as_os_str().is_empty())
    }

    /// The metric report definitions' file, when they are kept.
    pub fn report_definitions(&self) -> Option<PathBuf> {
        Some(self.report_definitions.clone()).filter(|p| !p.as_os_str().is_empty())
    }

    /// The tasks file, when tasks are kept across restarts.
    pub fn tasks(&self) -> Option<PathBuf> {
        Some(self.tasks.clone()).filter(|p| !p.as_os_str().is_empty())
    }
}

/// The Redfish event service: where push subscriptions are kept, how
/// their deliveries retry, whom a receiver's TLS certificate may chain to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventServiceSection {
    /// A file under the service's state directory; it holds the
    /// subscribers' `HttpHeaders` (written mode 0600) and, while the
    /// service is stopped, its last events for a `Last-Event-ID` replay.
    pub subscriptions_path: PathBuf,
    pub max_subscriptions: usize,
    /// Retries of one event before a `TerminateAfterRetries` subscription
    /// ends (`DeliveryRetryAttempts`).
    pub delivery_retry_attempts: u32,
    pub delivery_retry_interval_secs: u64,
    /// PEM certificates a receiver's TLS certificate may chain to, besides
    /// the system's trust store.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout_ms: u64,
    pub request_timeout_ms: u64,
}

impl Default for EventServiceSection {
    fn default() -> Self {
        let d = opendcre_redfish::EventSettings::default();
        let ms = |t: Duration| u64::try_from(t.as_millis()).unwrap_or(u64::MAX);
        EventServiceSection {
            subscriptions_path: PathBuf::from("/var/lib/opendcre/redfish-subscriptions.json"),
            max_subscriptions: d.max_subscriptions,
            delivery_retry_attempts: d.retry_attempts,
            delivery_retry_interval_secs: d.retry_interval.as_secs(),
            ca_file: None,
            connect_timeout_ms: ms(d.connect_timeout),
            request_timeout_ms: ms(d.request_timeout),
        }
    }
}

impl EventServiceSection {
    pub fn settings(&self) -> opendcre_redfish::EventSettings {
        opendcre_redfish::EventSettings {
            store: Some(self.subscriptions_path.clone()),
            retry_attempts: self.delivery_retry_attempts,
            retry_interval: Duration::from_secs(self.delivery_retry_interval_secs),
            max_subscriptions: self.max_subscriptions,
            ca_file: self.ca_file.clone(),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
        }
    }
}

/// The update service: off unless the image turns it on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdateSection {
    pub enabled: bool,
    /// The `rauc` command line (it talks D-Bus to `rauc-service`).
    pub rauc: PathBuf,
    /// Where uploads are written: the service user's, on a partition with
    /// room for a bundle (not the root file system, not RAM).
    pub upload_dir: PathBuf,
    pub max_bundle_bytes: u64,
    /// How long `rauc install` may take before it is stopped.
    pub install_timeout_secs: u64,
    /// Certificate authorities (PEM) a `SimpleUpdate` server may chain to,
    /// beside the system's trust store.
    pub ca_file: Option<PathBuf>,
}

impl Default for UpdateSection {
    fn default() -> Self {
        UpdateSection {
            enabled: false,
            rauc: PathBuf::from("/usr/bin/rauc"),
            upload_dir: PathBuf::from("/data/opendcre-update"),
            max_bundle_bytes: 512 * 1024 * 1024,
            install_timeout_secs: 1800,
            ca_file: None,
        }
    }
}

impl UpdateSection {
    /// What the Redfish update service is built with.
    pub fn settings(&self) -> opendcre_redfish::UpdateSettings {
        opendcre_redfish::UpdateSettings {
            enabled: self.enabled,
            rauc: self.rauc.clone(),
            upload_dir: self.upload_dir.clone(),
            max_bundle_bytes: self.max_bundle_bytes,
            install_timeout: Duration::from_secs(self.install_timeout_secs),
            ca_file: self.ca_file.clone(),
        }
    }
}

/// Where the node's event log lives and how many entries it keeps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventLogSection {
    /// A file under the service's state directory (systemd's
    /// `StateDirectory=opendcre`). When it cannot be written the log is
    /// kept in memory and its Redfish log service says so.
    pub path: PathBuf,
    /// Entries kept; the oldest go first.
    pub max_entries: usize,
    /// How often bus faults are summed into one entry (when there were any).
    pub bus_fault_interval_secs: u64,
}

impl Default for EventLogSection {
    fn default() -> Self {
        EventLogSection {
            path: PathBuf::from("/var/lib/opendcre/events.jsonl"),
            max_entries: 2000,
            bus_fault_interval_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: Vec<String>,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub first_request_timeout_ms: u64,
    pub header_timeout_ms: u64,
    pub body_timeout_ms: u64,
    pub write_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_body_bytes: usize,
    /// Web origins allowed to call the API from a browser (CORS) and to
    /// change state from their pages; empty: none.
    pub cors_allowed_origins: Vec<String>,
    /// Lifetime of one event stream (`GET /opendcre/2/events`); the client
    /// reconnects and is authenticated again.
    pub event_stream_max_secs: u64,
}

impl Default for ServerSection {
    /// The HTTP limits default to the api crate's [`ServerOptions`], so each
    /// default is written once; the listen address and the request budget
    /// are the service's own.
    fn default() -> Self {
        let http = ServerOptions::default();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ServerSection {
            listen: vec!["0.0.0.0:5000".into()],
            max_connections: http.max_connections,
            max_connections_per_address: http.max_connections_per_address,
            first_request_timeout_ms: ms(http.first_request_timeout),
            header_timeout_ms: ms(http.header_timeout),
            body_timeout_ms: ms(http.body_timeout),
            write_timeout_ms: ms(http.write_timeout),
            request_timeout_ms: 30_000,
            max_body_bytes: http.max_body_bytes,
            cors_allowed_origins: Vec::new(),
            event_stream_max_secs: http.events.lifetime.as_secs(),
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

/// RFC 6587 framing of syslog records over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SyslogFraming {
    /// `LEN SP RECORD` (3.4.1): any byte may be in a message.
    #[default]
    OctetCounting,
    /// `RECORD LF` (3.4.2), for receivers without octet counting; an LF in a
    /// message is sent as `#012`.
    Lf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub level: String,
    pub target: LogTarget,
    pub syslog: String,
    /// For `tcp:` only.
    pub syslog_framing: SyslogFraming,
    /// HOSTNAME of remote records; default: the kernel's host name.
    pub syslog_hostname: Option<String>,
    /// TCP: records that may wait for the sender before new ones are dropped.
    pub syslog_queue: usize,
    /// TCP: bound on a connection attempt and on writing one record.
    pub syslog_timeout_ms: u64,
    pub access_log: bool,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            level: "info".into(),
            target: LogTarget::Stderr,
            syslog: "unix:/dev/log".into(),
            syslog_framing: SyslogFraming::default(),
            syslog_hostname: None,
            syslog_queue: 1024,
            syslog_timeout_ms: 5000,
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

    /// The `[server]` section as the HTTP layer takes it.
    pub fn server_options(&self) -> ServerOptions {
        let s = &self.server;
        ServerOptions {
            max_connections: s.max_connections,
            max_connections_per_address: s.max_connections_per_address,
            first_request_timeout: Duration::from_millis(s.first_request_timeout_ms),
            header_timeout: Duration::from_millis(s.header_timeout_ms),
            body_timeout: Duration::from_millis(s.body_timeout_ms),
            write_timeout: Duration::from_millis(s.write_timeout_ms),
            max_body_bytes: s.max_body_bytes,
            access_log: self.log.access_log,
            browser: opendcre_api::browser::BrowserPolicy::new(&s.cors_allowed_origins),
            events: opendcre_api::events::EventOptions {
                lifetime: Duration::from_secs(s.event_stream_max_secs),
                ..ServerOptions::default().events
            },
            ..ServerOptions::default()
        }
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
        if self.server.max_connections_per_address == 0 {
            return invalid(
                "server.max_connections_per_address",
                "must be at least 1".into(),
            );
        }
        for (key, ms) in [
            ("server.request_timeout_ms", self.server.request_timeout_ms),
            ("server.header_timeout_ms", self.server.header_timeout_ms),
            (
                "server.first_request_timeout_ms",
                self.server.first_request_timeout_ms,
            ),
            ("server.body_timeout_ms", self.server.body_timeout_ms),
            ("server.write_timeout_ms", self.server.write_timeout_ms),
            (
                "server.event_stream_max_secs",
                self.server.event_stream_max_secs,
            ),
        ] {
            if ms == 0 {
                return invalid(key, "timeouts must be above 0".into());
            }
        }
        for origin in &self.server.cors_allowed_origins {
            if origin != "*" && !valid_origin(origin) {
                return invalid(
                    "server.cors_allowed_origins",
                    format!("{origin:?} is not an origin like \"https://host[:port]\" (no path) or \"*\""),
                );
            }
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
        self.validate_log()?;
        self.validate_event_log()?;
        self.validate_update()?;
        self.validate_event_service()?;
        let r = &self.manager.reboot_request;
        if !r.is_absolute() || r.file_name().is_none() {
            return Err(ConfigError::Invalid {
                key: "manager.reboot_request",
                message: format!("{}: must be an absolute path to a file", r.display()),
            });
        }
        if let Some(bad) = self.manager.network_interfaces.iter().find(|i| {
            i.is_empty() || i.len() > 15 || i.contains(['/', ' ']) || *i == "." || *i == ".."
        }) {
            return Err(ConfigError::Invalid {
                key: "manager.network_interfaces",
                message: format!("{bad:?} is not a network interface name"),
            });
        }
        let network = self.manager.network();
        for (key, file) in [
            ("manager.network_request", network.request),
            ("manager.network_state", network.state),
            ("manager.asset_tags", self.manager.asset_tags()),
            ("manager.aggregates", self.manager.aggregates()),
            (
                "manager.report_definitions",
                self.manager.report_definitions(),
            ),
            ("manager.tasks", self.manager.tasks()),
        ] {
            if let Some(a) = file {
                if !a.is_absolute() || a.file_name().is_none() {
                    return Err(ConfigError::Invalid {
                        key,
                        message: format!(
                            "{}: must be an absolute path to a file, or empty",
                            a.display()
                        ),
                    });
                }
            }
        }
        self.rack
            .validate()
            .map_err(|message| ConfigError::Invalid {
                key: "rack",
                message,
            })?;
        self.board_nameplates()?;
        self.telemetry
            .validate()
            .map_err(|message| ConfigError::Invalid {
                key: "telemetry",
                message,
            })?;
        self.hat.validate().map_err(|e| ConfigError::Invalid {
            key: "hat",
            message: e.to_string(),
        })?;
        Ok(())
    }

    /// The syslog keys, checked even when another target is chosen, so that
    /// switching to syslog later cannot reveal an old typo.
    fn validate_event_log(&self) -> Result<(), ConfigError> {
        let e = &self.event_log;
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if !e.path.is_absolute() || e.path.file_name().is_none() {
            return invalid(
                "event_log.path",
                format!("{}: must be an absolute path to a file", e.path.display()),
            );
        }
        if !opendcre_eventlog::MAX_ENTRIES_RANGE.contains(&e.max_entries) {
            let r = opendcre_eventlog::MAX_ENTRIES_RANGE;
            return invalid(
                "event_log.max_entries",
                format!("{} is outside {}..={}", e.max_entries, r.start(), r.end()),
            );
        }
        if !(1..=86_400).contains(&e.bus_fault_interval_secs) {
            return invalid(
                "event_log.bus_fault_interval_secs",
                format!("{} is outside 1..=86400", e.bus_fault_interval_secs),
            );
        }
        Ok(())
    }

    fn validate_event_service(&self) -> Result<(), ConfigError> {
        let e = &self.event_service;
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        let p = &e.subscriptions_path;
        if !p.is_absolute() || p.file_name().is_none() {
            return invalid(
                "event_service.subscriptions_path",
                format!("{}: must be an absolute path to a file", p.display()),
            );
        }
        if !(1..=256).contains(&e.max_subscriptions) {
            return invalid(
                "event_service.max_subscriptions",
                format!("{} is outside 1..=256", e.max_subscriptions),
            );
        }
        if e.delivery_retry_attempts > 100 {
            return invalid(
                "event_service.delivery_retry_attempts",
                format!("{} is above 100", e.delivery_retry_attempts),
            );
        }
        if !(1..=3600).contains(&e.delivery_retry_interval_secs) {
            return invalid(
                "event_service.delivery_retry_interval_secs",
                format!("{} is outside 1..=3600", e.delivery_retry_interval_secs),
            );
        }
        for (key, v) in [
            ("event_service.connect_timeout_ms", e.connect_timeout_ms),
            ("event_service.request_timeout_ms", e.request_timeout_ms),
        ] {
            if !(100..=120_000).contains(&v) {
                return invalid(key, format!("{v} is outside 100..=120000"));
            }
        }
        if let Some(ca) = &e.ca_file {
            if !ca.is_absolute() {
                return invalid(
                    "event_service.ca_file",
                    format!("{}: must be an absolute path", ca.display()),
                );
            }
        }
        Ok(())
    }

    /// Checked even when off, so turning it on later reveals no old typo.
    fn validate_update(&self) -> Result<(), ConfigError> {
        let u = &self.update;
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if !u.rauc.is_absolute() || u.rauc.file_name().is_none() {
            return invalid(
                "update.rauc",
                format!(
                    "{}: must be an absolute path to the rauc program",
                    u.rauc.display()
                ),
            );
        }
        if !u.upload_dir.is_absolute() || u.upload_dir.parent().is_none() {
            return invalid(
                "update.upload_dir",
                format!(
                    "{}: must be an absolute path to a directory other than /",
                    u.upload_dir.display()
                ),
            );
        }
        const MIB: u64 = 1024 * 1024;
        if !(MIB..=16 * 1024 * MIB).contains(&u.max_bundle_bytes) {
            return invalid(
                "update.max_bundle_bytes",
                format!("{} is outside 1 MiB..=16 GiB", u.max_bundle_bytes),
            );
        }
        if !(10..=86_400).contains(&u.install_timeout_secs) {
            return invalid(
                "update.install_timeout_secs",
                format!("{} is outside 10..=86400", u.install_timeout_secs),
            );
        }
        if let Some(ca) = &u.ca_file {
            if !ca.is_absolute() {
                return invalid(
                    "update.ca_file",
                    format!("{}: must be an absolute path", ca.display()),
                );
            }
        }
        Ok(())
    }

    fn validate_log(&self) -> Result<(), ConfigError> {
        let log = &self.log;
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        let spec = log.syslog.as_str();
        let host_port = spec
            .strip_prefix("tcp:")
            .or_else(|| spec.strip_prefix("udp:"));
        match host_port {
            Some(hp) => match hp.rsplit_once(':') {
                Some((host, port))
                    if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
                _ => {
                    return invalid(
                        "log.syslog",
                        format!("{spec:?}: expected {}HOST:PORT", &spec[..4]),
                    )
                }
            },
            None if spec.strip_prefix("unix:").is_some_and(|p| !p.is_empty()) => {}
            None => {
                return invalid(
                    "log.syslog",
                    format!("{spec:?}: use unix:PATH, udp:HOST:PORT or tcp:HOST:PORT"),
                )
            }
        }
        if let Some(h) = &log.syslog_hostname {
            // RFC 5424 HOSTNAME: 1..255 printable US-ASCII, no spaces.
            if h.is_empty() || h.len() > 255 || !h.bytes().all(|b| b.is_ascii_graphic()) {
                return invalid(
                    "log.syslog_hostname",
                    format!("{h:?}: 1 to 255 printable ASCII characters without spaces"),
                );
            }
        }
        if log.syslog_queue == 0 {
            return invalid("log.syslog_queue", "must be at least 1".into());
        }
        if log.syslog_timeout_ms == 0 {
            return invalid("log.syslog_timeout_ms", "must be above 0".into());
        }
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

/// `scheme://host[:port]` with scheme http or https and nothing after the
/// authority: what a browser puts in `Origin`.
fn valid_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && !authority.contains(['/', '*', '?', '#', '@', ' '])
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
        assert_eq!(cfg.telemetry, d.telemetry);
        assert_eq!(cfg.event_log.path, d.event_log.path);
        assert_eq!(cfg.event_log.max_entries, d.event_log.max_entries);
        assert_eq!(
            cfg.event_log.bus_fault_interval_secs,
            d.event_log.bus_fault_interval_secs
        );
        assert_eq!(cfg.update, d.update);
        assert_eq!(cfg.manager, d.manager);
        assert_eq!(cfg.rack, d.rack);
    }

    #[test]
    fn rack_nameplate_and_asset_tag_file() {
        let d = Config::parse("", "t").unwrap();
        assert_eq!(
            d.manager.asset_tags(),
            Some(PathBuf::from("/var/lib/opendcre/asset-tags.json"))
        );
        assert_eq!(d.rack, opendcre_redfish::RackIdentity::default());
        let cfg = Config::parse(
            "[manager]\nasset_tags = \"\"\n[rack]\nmanufacturer = \"Vapor IO\"\nserial_number = \"VC-1\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(cfg.manager.asset_tags(), None);
        let net = d.manager.network();
        assert_eq!(
            (net.request, net.state),
            (None, None),
            "read-only unless set"
        );
        assert_eq!(net.interfaces, ["eth0", "usb0"]);
        assert_eq!(
            d.manager.aggregates(),
            Some(PathBuf::from("/var/lib/opendcre/aggregates.json"))
        );
        assert_eq!(
            d.manager.tasks(),
            None,
            "tasks are kept only when configured"
        );
        assert_eq!(cfg.rack.serial_number.as_deref(), Some("VC-1"));
        for (text, key) in [
            (
                "[manager]\nasset_tags = \"tags.json\"\n",
                "manager.asset_tags",
            ),
            (
                "[manager]\naggregates = \"groups.json\"\n",
                "manager.aggregates",
            ),
            (
                "[manager]\nreport_definitions = \"defs.json\"\n",
                "manager.report_definitions",
            ),
            ("[manager]\ntasks = \"tasks.json\"\n", "manager.tasks"),
            (
                "[manager]\nnetwork_request = \"network-request\"\n",
                "manager.network_request",
            ),
            (
                "[manager]\nnetwork_state = \"/\"\n",
                "manager.network_state",
            ),
            (
                "[manager]\nnetwork_interfaces = [\"eth0\", \"../x\"]\n",
                "manager.network_interfaces",
            ),
            ("[rack]\nmodel = \"a\\tb\"\n", "rack"),
        ] {
            match Config::parse(text, "t") {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        // A typo is an error, not a silently missing nameplate.
        assert!(Config::parse("[rack]\nserial = \"x\"\n", "t").is_err());
        // Boards' nameplates, by the board id as the API writes it.
        let cfg = Config::parse(
            "[boards.\"0000000a\"]\nmanufacturer = \"Vapor IO\"\n[boards.\"0000000B\"]\nserial_number = \"B-1\"\n",
            "t",
        )
        .unwrap();
        let plates = cfg.board_nameplates().unwrap();
        assert_eq!(plates[&10].manufacturer.as_deref(), Some("Vapor IO"));
        assert_eq!(plates[&11].serial_number.as_deref(), Some("B-1"));
        for text in [
            "[boards.\"1\"]\nmodel = \"m\"\n",
            "[boards.\"0000000g\"]\nmodel = \"m\"\n",
            "[boards.\"0000000a\"]\nmodel = \"m\\n\"\n",
            "[boards.\"0000000a\"]\nmodel = \"m\"\n[boards.\"0000000A\"]\nmodel = \"n\"\n",
        ] {
            match Config::parse(text, "t") {
                Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "boards", "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(Config::parse("[boards.\"00000001\"]\nserial = \"x\"\n", "t").is_err());
    }

    #[test]
    fn update_section_defaults_and_checks() {
        let d = Config::parse("", "t").unwrap().update;
        assert!(!d.enabled, "off unless the image turns it on");
        assert_eq!(d.rauc, Path::new("/usr/bin/rauc"));
        assert_eq!(d.upload_dir, Path::new("/data/opendcre-update"));
        assert_eq!(d.max_bundle_bytes, 512 * 1024 * 1024);
        assert_eq!(d.install_timeout_secs, 1800);
        let cfg = Config::parse(
            "[update]\nenabled = true\nrauc = \"/opt/rauc\"\nupload_dir = \"/srv/up\"\nmax_bundle_bytes = 2097152\ninstall_timeout_secs = 60\n",
            "t",
        )
        .unwrap();
        let s = cfg.update.settings();
        assert!(s.enabled);
        assert_eq!(s.upload_dir, Path::new("/srv/up"));
        assert_eq!(s.install_timeout, Duration::from_secs(60));
        for (text, key) in [
            ("rauc = \"rauc\"", "update.rauc"),
            ("upload_dir = \"up\"", "update.upload_dir"),
            ("upload_dir = \"/\"", "update.upload_dir"),
            ("max_bundle_bytes = 1000", "update.max_bundle_bytes"),
            ("install_timeout_secs = 0", "update.install_timeout_secs"),
            (
                "install_timeout_secs = 100000",
                "update.install_timeout_secs",
            ),
        ] {
            match Config::parse(&format!("[update]\n{text}\n"), "t") {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(
            Config::parse("[update]\nenable = true\n", "t").is_err(),
            "typo"
        );
    }

    #[test]
    fn event_service_section_is_checked() {
        let cfg = Config::parse(
            "[event_service]\nmax_subscriptions = 4\ndelivery_retry_interval_secs = 5\nca_file = \"/etc/opendcre/receivers.pem\"\n",
            "t",
        )
        .unwrap();
        let s = cfg.event_service.settings();
        assert_eq!(
            (s.max_subscriptions, s.retry_interval),
            (4, Duration::from_secs(5))
        );
        assert_eq!(
            s.store.as_deref(),
            Some(Path::new("/var/lib/opendcre/redfish-subscriptions.json"))
        );
        for (line, key) in [
            (
                "subscriptions_path = \"subs.json\"",
                "event_service.subscriptions_path",
            ),
            ("max_subscriptions = 0", "event_service.max_subscriptions"),
            (
                "delivery_retry_attempts = 1000",
                "event_service.delivery_retry_attempts",
            ),
            (
                "delivery_retry_interval_secs = 0",
                "event_service.delivery_retry_interval_secs",
            ),
            ("connect_timeout_ms = 5", "event_service.connect_timeout_ms"),
            ("ca_file = \"ca.pem\"", "event_service.ca_file"),
        ] {
            match Config::parse(&format!("[event_service]\n{line}\n"), "t") {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn event_log_section_is_checked() {
        let cfg = Config::parse(
            "[event_log]\npath = \"/srv/ev.jsonl\"\nmax_entries = 10\n",
            "t",
        )
        .unwrap();
        assert_eq!(cfg.event_log.path, Path::new("/srv/ev.jsonl"));
        for (text, key) in [
            ("path = \"events.jsonl\"", "event_log.path"),
            ("path = \"/\"", "event_log.path"),
            ("max_entries = 5", "event_log.max_entries"),
            ("max_entries = 1000000", "event_log.max_entries"),
            (
                "bus_fault_interval_secs = 0",
                "event_log.bus_fault_interval_secs",
            ),
        ] {
            match Config::parse(&format!("[event_log]\n{text}\n"), "t") {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn telemetry_section() {
        let cfg = Config::parse(
            "[telemetry]\nrack = \"r7\"\nhistory_len = 60\nmetrics_role = \"operator\"\n[telemetry.interval_secs]\nthermistor = 2\n",
            "t",
        )
        .unwrap();
        assert_eq!(cfg.telemetry.rack.as_deref(), Some("r7"));
        assert_eq!(cfg.telemetry.history_len, 60);
        assert_eq!(cfg.telemetry.interval_secs.thermistor, 2);
        assert_eq!(cfg.telemetry.interval_secs.power, 15);
        assert_eq!(
            cfg.telemetry.metrics_role,
            opendcre_telemetry::MetricsRole::Operator
        );
        let e = Config::parse("[telemetry]\nhistory = 5\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("history"), "{e}");
        let e = Config::parse("[telemetry.interval_secs]\nvoltage = 5\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("voltage"), "{e}");
        let e = Config::parse("[telemetry]\nhistory_len = 0\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("telemetry.history_len"), "{e}");
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

    #[test]
    fn syslog_framing_and_its_errors() {
        let cfg = Config::parse("[log]\nsyslog = \"tcp:logs.example:6514\"\n", "t").unwrap();
        assert_eq!(cfg.log.syslog_framing, SyslogFraming::OctetCounting);
        let cfg = Config::parse("[log]\nsyslog_framing = \"lf\"\n", "t").unwrap();
        assert_eq!(cfg.log.syslog_framing, SyslogFraming::Lf);
        let e = Config::parse("[log]\nsyslog_framing = \"newline\"\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("syslog_framing") && e.contains("octet-counting") && e.contains("`lf`"),
            "{e}"
        );
        for (toml, key) in [
            ("syslog = \"tcp:logs.example\"", "log.syslog"),
            ("syslog = \"tcp::514\"", "log.syslog"),
            ("syslog = \"udp:h:0\"", "log.syslog"),
            ("syslog = \"/dev/log\"", "log.syslog"),
            ("syslog_hostname = \"two words\"", "log.syslog_hostname"),
            ("syslog_queue = 0", "log.syslog_queue"),
            ("syslog_timeout_ms = 0", "log.syslog_timeout_ms"),
        ] {
            let e = Config::parse(&format!("[log]\n{toml}\n"), "t")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(key), "{toml}: {e}");
        }
    }
}
