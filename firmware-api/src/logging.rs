//! Log output: stderr (captured by the journal under systemd), the journal's
//! native protocol, or syslog (local socket or remote UDP/TCP) for sites that
//! collect logs centrally.

use std::fmt::Write as _;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogSection, LogTarget};

/// Installs the global subscriber. `RUST_LOG` overrides the configured level.
pub fn init(section: &LogSection) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&section.level))
        .map_err(|e| {
            anyhow::anyhow!("log.level: {:?} is not a valid filter: {e}", section.level)
        })?;
    let registry = tracing_subscriber::registry().with(filter);
    match section.target {
        LogTarget::Stderr => {
            // Under systemd the journal stamps time itself.
            let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
            let fmt = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false);
            if under_journal {
                registry.with(fmt.without_time()).try_init()?;
            } else {
                registry.with(fmt).try_init()?;
            }
        }
        LogTarget::Journald => {
            let layer = tracing_journald::layer()
                .map_err(|e| anyhow::anyhow!("log.target = journald: {e}"))?;
            registry.with(layer).try_init()?;
        }
        LogTarget::Syslog => {
            let layer = SyslogLayer::connect(&section.syslog)?;
            registry.with(layer).try_init()?;
        }
    }
    Ok(())
}

type SyslogLogger = syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>;

/// Formats each event as one RFC 3164 line.
struct SyslogLayer {
    logger: Mutex<SyslogLogger>,
}

impl SyslogLayer {
    fn connect(spec: &str) -> anyhow::Result<Self> {
        let formatter = syslog::Formatter3164 {
            facility: syslog::Facility::LOG_DAEMON,
            hostname: None,
            process: "opendcre".into(),
            pid: std::process::id(),
        };
        let bad = |e: syslog::Error| anyhow::anyhow!("log.syslog = {spec:?}: {e}");
        let logger = if let Some(path) = spec.strip_prefix("unix:") {
            syslog::unix_custom(formatter, path).map_err(bad)?
        } else if let Some(addr) = spec.strip_prefix("udp:") {
            syslog::udp(formatter, "0.0.0.0:0", addr).map_err(bad)?
        } else if let Some(addr) = spec.strip_prefix("tcp:") {
            syslog::tcp(formatter, addr).map_err(bad)?
        } else {
            anyhow::bail!("log.syslog = {spec:?}: use unix:PATH, udp:HOST:PORT or tcp:HOST:PORT");
        };
        Ok(SyslogLayer {
            logger: Mutex::new(logger),
        })
    }
}

#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for SyslogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        let text = format!("{}: {}", event.metadata().target(), line.0);
        let Ok(mut logger) = self.logger.lock() else {
            return;
        };
        // A syslog outage must never take the service down; lines are dropped.
        let _ = match *event.metadata().level() {
            Level::ERROR => logger.err(text),
            Level::WARN => logger.warning(text),
            Level::INFO => logger.info(text),
            Level::DEBUG | Level::TRACE => logger.debug(text),
        };
    }
}
