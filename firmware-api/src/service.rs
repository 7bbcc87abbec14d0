//! `opendcre serve`: turns configuration and flags into a running service:
//! logging, the bus (serial port or built-in emulator), the IPMI board, the
//! HTTP listeners, systemd readiness and watchdog, and signal handling.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::{Config, ConfigError, DEFAULT_CONFIG_PATH};
use opendcre_api::ipmi_board::IpmiBoard;
use opendcre_api::server::{self, Listener};
use opendcre_api::AppState;
use opendcre_bus::{self as bus, HatOpener, SerialOpener};
use opendcre_security::auth::{AuthConfig, Permission, Security};
use opendcre_security::tls::TlsSetup;
use opendcre_telemetry::{Build, MetricsRole, Telemetry};

/// Flags of `opendcre serve`; each overrides the matching config key.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file [default: /etc/opendcre/opendcre.toml if it exists].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run the built-in bus emulator with this OpenDCRE emulator JSON instead of the serial port.
    #[arg(long, value_name = "FILE")]
    pub emulator: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:5000 (repeatable; replaces server.listen).
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    pub listen: Vec<String>,
    /// The original OpenDCRE bmc_config.json (IPMI BMCs on board 40000000).
    #[arg(long, value_name = "FILE")]
    pub bmc_config: Option<PathBuf>,
    /// Serial device of the device bus (replaces bus.serial).
    #[arg(long, value_name = "PATH")]
    pub serial: Option<String>,
    /// Log filter, e.g. "debug" or "opendcre=trace" (replaces log.level).
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Validate the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
}

/// Loads the file and applies flags. A missing default file means defaults;
/// an explicitly named file must exist.
pub(crate) fn resolve_config(args: &ServeArgs) -> anyhow::Result<(Config, bool)> {
    let (mut cfg, from_file) = match &args.config {
        Some(p) => (Config::load(p)?, true),
        None if std::path::Path::new(DEFAULT_CONFIG_PATH).exists() => (
            Config::load(std::path::Path::new(DEFAULT_CONFIG_PATH))?,
            true,
        ),
        None => (Config::default(), false),
    };
    if !args.listen.is_empty() {
        cfg.server.listen = args.listen.clone();
    }
    if let Some(s) = &args.serial {
        cfg.bus.serial = s.clone();
        cfg.emulator.config = None;
    }
    if let Some(e) = &args.emulator {
        cfg.emulator.config = Some(e.clone());
    }
    if let Some(b) = &args.bmc_config {
        cfg.ipmi.bmc_config = Some(b.clone());
    }
    if let Some(l) = &args.log_level {
        cfg.log.level = l.clone();
    }
    // A developer machine with no config and no UART: serve the example rack
    // from the built-in emulator, on loopback only.
    let dev_mode = !from_file
        && cfg.emulator.config.is_none()
        && args.serial.is_none()
        && !std::path::Path::new(&cfg.bus.serial).exists();
    if dev_mode && args.listen.is_empty() {
        cfg.server.listen = vec!["127.0.0.1:5000".into()];
    }
    cfg.validate()?;
    Ok((cfg, dev_mode))
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (cfg, dev_mode) = resolve_config(&args)?;
    if args.check_config {
        security(&cfg, dev_mode)?;
        println!("configuration is valid");
        return Ok(());
    }
    crate::logging::init(&cfg.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(cfg, dev_mode));
    // The last records (why the service stopped) are the ones an operator
    // looks for; a remote receiver gets a moment to take them.
    crate::logging::flush(std::time::Duration::from_secs(2));
    result
}

async fn serve(cfg: Config, dev_mode: bool) -> anyhow::Result<()> {
    let shutdown = shutdown_signal()?;
    let bus_cfg = cfg.bus_config()?;
    let serial_path = match (&cfg.emulator.config, dev_mode) {
        (Some(path), _) => {
            crate::emulator_host::start(Some(path), cfg.bus.baud, cfg.emulator.pace).await?
        }
        (None, true) => {
            tracing::warn!(
                "no configuration and no {}: running the built-in emulator with the example rack",
                cfg.bus.serial
            );
            crate::emulator_host::start(None, cfg.bus.baud, cfg.emulator.pace).await?
        }
        (None, false) => cfg.bus.serial.clone(),
    };
    let serial = SerialOpener {
        path: serial_path.clone(),
        baud: cfg.bus.baud,
    };
    let hat = if cfg.emulator.config.is_some() || dev_mode {
        None
    } else {
        open_hat(&cfg).await
    };
    let (bus, bus_task) = match hat {
        Some(hat) => bus::spawn(HatOpener::new(serial, hat), bus_cfg),
        None => bus::spawn(serial, bus_cfg),
    };
    tracing::info!(port = %serial_path, baud = cfg.bus.baud, "device bus ready");

    let bridge = opendcre_ipmi::IpmiBridge::new(load_bmcs(&cfg));
    let telemetry = cfg.telemetry.enabled.then(|| {
        let rack = cfg.telemetry.rack.clone().unwrap_or_else(host_name);
        tracing::info!(%rack, "telemetry poller started");
        Telemetry::start(
            cfg.telemetry.clone(),
            rack,
            bus.clone(),
            bridge.clone(),
            cfg.bus.r_sense_mohm,
            Build {
                version: env!("CARGO_PKG_VERSION").to_string(),
                // Set by whoever builds (CI, the image build); a plain
                // `cargo build` does not know its commit.
                commit: option_env!("OPENDCRE_COMMIT")
                    .unwrap_or("unknown")
                    .to_string(),
            },
        )
    });
    let (security, tls) = security(&cfg, dev_mode)?;
    tracing::info!("{}", security.describe());
    let mut listeners = Vec::new();
    for addr in cfg.tls.plain_http_addrs(&cfg.listen_addrs()?) {
        let l = bind(addr).await?;
        // Harnesses (tests, boot test) read this line to learn port 0's port.
        tracing::info!("listening on {}", l.local_addr()?);
        listeners.push(Listener::Plain(l));
    }
    if let Some(tls) = &tls {
        for addr in &cfg.tls.listen {
            let l = bind(*addr).await?;
            tracing::info!("listening with TLS on {}", l.local_addr()?);
            listeners.push(Listener::Tls(l, tls.clone()));
        }
        tls.spawn_reload_on_sighup()
            .context("cannot watch SIGHUP for TLS reloads")?;
    } else {
        // A SIGHUP meant as "reload" must not kill a node without TLS
        // (SIGHUP's default action); there is simply nothing to reload.
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot watch SIGHUP")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: TLS is off, nothing to reload");
            }
        });
    }
    // The Redfish manager shows the listeners as bound (port 0 becomes
    // the system's choice), so they are bound before the state is built.
    let first_port = |tls: bool| {
        listeners.iter().find_map(|l| match l {
            Listener::Plain(l) if !tls => l.local_addr().ok().map(|a| a.port()),
            Listener::Tls(l, _) if tls => l.local_addr().ok().map(|a| a.port()),
            _ => None,
        })
    };
    let protocols = opendcre_redfish::NetworkProtocols {
        host_name: Some(host_name()),
        http_port: first_port(false),
        https_port: first_port(true),
    };
    let events = Arc::new(opendcre_eventlog::EventLog::open(
        &cfg.event_log.path,
        cfg.event_log.max_entries,
    ));
    tracing::info!(path = %cfg.event_log.path.display(), entries = events.entries().len(), "event log opened");
    {
        // A lock is an operator's business: it goes into the event log
        // (and to event subscribers), not only into the service's log.
        let events = events.clone();
        security.on_account_locked(move |account, failures, secs| {
            events.record(match secs {
                Some(secs) => opendcre_eventlog::Event::account_locked(account, failures, secs),
                None => opendcre_eventlog::Event::account_locked_until_unlocked(account, failures),
            });
        });
    }
    spawn_bus_fault_watch(
        bus.clone(),
        events.clone(),
        Duration::from_secs(cfg.event_log.bus_fault_interval_secs),
    );
    let event_service =
        opendcre_redfish::EventService::new(cfg.event_service.settings(), events.clone()).map_err(
            |message| ConfigError::Invalid {
                key: "event_service.ca_file",
                message,
            },
        )?;
    event_service.start();
    let tasks = Arc::new(opendcre_redfish::Tasks::open(cfg.manager.tasks()));
    let redfish = opendcre_redfish::Node {
        reboot_request: cfg.manager.reboot_request(),
        network: cfg.manager.network(),
        // The material the TLS listeners serve; none without one.
        tls: protocols.https_port.and(tls.clone()),
        event_service: event_service.clone(),
        events: events.clone(),
        bus: bus.clone(),
        ipmi: bridge.clone(),
        r_sense: cfg.bus.r_sense_mohm,
        rack: cfg.telemetry.rack.clone().unwrap_or_else(host_name),
        rack_identity: cfg.rack.clone(),
        // Checked when the configuration was read.
        board_identities: cfg.board_nameplates().unwrap_or_default(),
        asset_tags: Arc::new(opendcre_redfish::AssetTags::open(cfg.manager.asset_tags())),
        aggregates: Arc::new(opendcre_redfish::Aggregates::open(cfg.manager.aggregates())),
        report_definitions: Arc::new(opendcre_redfish::ReportDefinitions::open(
            cfg.manager.report_definitions(),
        )),
        cache: telemetry.as_ref().map(|t| t.cache.clone()),
        // Read once: the machine id does not change while the system runs.
        uuid: std::fs::read_to_string("/etc/machine-id")
            .ok()
            .and_then(|id| opendcre_redfish::service_uuid(&id)),
        firmware_version: format!(
            "{} (commit {})",
            env!("CARGO_PKG_VERSION"),
            option_env!("OPENDCRE_COMMIT").unwrap_or("unknown")
        ),
        protocols,
        update: Arc::new(opendcre_redfish::Updater::new(
            cfg.update.settings(),
            events.clone(),
            tasks.clone(),
        )),
        tasks,
    };
    redfish.report_definitions.start(&redfish);
    let state = Arc::new(AppState {
        redfish,
        bus,
        ipmi: IpmiBoard::new(bridge),
        r_sense: cfg.bus.r_sense_mohm,
        request_timeout: Duration::from_millis(cfg.server.request_timeout_ms),
        telemetry,
        metrics_permission: match cfg.telemetry.metrics_role {
            MetricsRole::Reader => Permission::Read,
            MetricsRole::Operator => Permission::Operate,
        },
        metrics_anonymous: cfg.telemetry.anonymous_networks().map_err(|message| {
            ConfigError::Invalid {
                key: "telemetry",
                message,
            }
        })?,
    });

    if listeners.is_empty() {
        anyhow::bail!("no listener: TLS is off and tls.plain_http = \"off\"");
    }
    let opts = cfg.server_options();

    if let Some(interval) = crate::systemd::watchdog_interval() {
        let bus_alive = bus_task;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval / 2);
            loop {
                tick.tick().await;
                // Only a node whose bus task still runs is healthy.
                if bus_alive.is_finished() {
                    tracing::error!("device bus task ended; withholding the watchdog ping");
                    return;
                }
                crate::systemd::notify("WATCHDOG=1");
            }
        });
    }
    crate::systemd::notify("READY=1");
    tracing::info!(listen = ?cfg.server.listen, "OpenDCRE API v1.1 serving");
    server::run_secure(listeners, state, opts, Some(security.clone()), shutdown).await;
    crate::systemd::notify("STOPPING=1");
    // The Redfish events for a reconnect's `Last-Event-ID` go to the next
    // run; what was recorded reaches the file before the process ends, and
    // the sessions' idle times theirs (`[auth.sessions] state_file`).
    event_service.keep_events();
    events.flush(Duration::from_secs(2));
    security.sessions().save();
    Ok(())
}

/// `[auth]` and `[tls]` turned into the objects the server uses. Without an
/// `[auth]` table only the emulator is open (anonymous, loopback only); a
/// real node then refuses every request until `opendcre auth init` ran.
///
/// Failures are configuration errors (exit status 2, like every other bad
/// key), so `--check-config` and scripts can tell them from runtime trouble.
fn security(
    cfg: &Config,
    dev_mode: bool,
) -> anyhow::Result<(Arc<Security>, Option<Arc<TlsSetup>>)> {
    let emulated = dev_mode || cfg.emulator.config.is_some();
    let auth = AuthConfig::effective(cfg.auth.as_ref(), emulated);
    let security = Security::from_config(&auth).map_err(|e| ConfigError::Invalid {
        key: "auth",
        message: format!("{e:#}"),
    })?;
    let tls = if cfg.tls.enabled {
        Some(Arc::new(
            TlsSetup::load_with_store(&cfg.tls, cfg.manager.certificate_store()).map_err(|e| {
                ConfigError::Invalid {
                    key: "tls",
                    message: format!("{e:#}"),
                }
            })?,
        ))
    } else {
        None
    };
    Ok((Arc::new(security), tls))
}

/// BMCs from bmc_config.json and `[[ipmi.bmc]]`. As in the original, a bad
/// file does not stop the service; unlike it, a bad entry drops only itself
/// and every problem is logged with its index and key.
fn load_bmcs(cfg: &Config) -> Vec<opendcre_ipmi::BmcConfig> {
    use opendcre_ipmi::IpmiConfigError as E;
    let mut bmcs = Vec::new();
    let mut keep = |r: Result<Vec<opendcre_ipmi::BmcConfig>, E>| match r {
        Ok(v) => bmcs.extend(v),
        Err(E::Entries { errors, valid, .. }) => {
            for e in &errors {
                tracing::error!("IPMI configuration: {e}");
            }
            bmcs.extend(valid);
        }
        Err(e) => tracing::error!("IPMI configuration: {e}; no BMCs from it"),
    };
    if let Some(path) = &cfg.ipmi.bmc_config {
        keep(opendcre_ipmi::load_bmc_config_json(path));
    }
    if !cfg.ipmi.bmc.is_empty() {
        keep(opendcre_ipmi::bmcs_from_toml(cfg.ipmi.bmc.clone()));
    }
    for b in &bmcs {
        tracing::info!(device_id = format!("{:04x}", b.device_id), bmc = %b.ip, port = b.port, "IPMI BMC configured");
    }
    bmcs
}

/// Claims the HAT's GPIO lines when there is a HAT; without one the bus runs
/// on the UART as it is, as the original did on non-HAT hardware.
async fn open_hat(cfg: &Config) -> Option<opendcre_hat::HatService> {
    let mut hat_cfg = cfg.hat.clone();
    hat_cfg.uart = PathBuf::from(&cfg.bus.serial);
    match opendcre_hat::HatService::open(hat_cfg).await {
        Ok(h) => Some(h),
        Err(opendcre_hat::HatError::NotPresent(why)) => {
            tracing::info!("no PLC modem HAT set up: {why}");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "PLC modem HAT unusable; running the bus without modem setup");
            None
        }
    }
}

/// The default `rack` label: the kernel's host name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Installs the SIGTERM and SIGINT handlers now and returns the future that
/// ends on either. Installed before any listener binds: a harness or systemd
/// may stop us as soon as the port answers, and a signal that arrives before
/// its handler exists kills the process instead of stopping it cleanly.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

/// Sums the bus's fault counters (transactions without an answer, bad
/// checksums, port reopens) every `interval` and records one event-log
/// entry when any rose: a failing bus makes one entry per interval, not one
/// per frame.
fn spawn_bus_fault_watch(
    bus: opendcre_bus::BusHandle,
    events: Arc<opendcre_eventlog::EventLog>,
    interval: Duration,
) {
    tokio::spawn(async move {
        let counts =
            |s: &opendcre_bus::BusStatsSnapshot| (s.timeouts, s.checksum_errors, s.port_reopens);
        let mut last = counts(&bus.stats());
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = counts(&bus.stats());
            let d = (
                now.0.saturating_sub(last.0),
                now.1.saturating_sub(last.1),
                now.2.saturating_sub(last.2),
            );
            last = now;
            if d != (0, 0, 0) {
                events.record(opendcre_eventlog::Event::bus_faults(
                    interval.as_secs(),
                    d.0,
                    d.1,
                    d.2,
                ));
            }
        }
    });
}
