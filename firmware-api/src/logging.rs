//! Log output: stderr (captured by the journal under systemd), the journal's
//! native protocol, or syslog (local socket or remote UDP/TCP) for sites that
//! collect logs centrally. Remote TCP has its own sender ([`tcp`]): framed
//! records with the host name, written off the request path.

mod tcp;

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

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
            let layer = SyslogLayer::connect(section)?;
            if let Sink::Tcp(t) = &layer.sink {
                let _ = TCP_PENDING.set(t.pending());
            }
            registry.with(layer).try_init()?;
        }
    }
    Ok(())
}

/// The installed TCP sender's queue, for [`flush`]; the layer itself is
/// owned by the global subscriber, out of reach.
static TCP_PENDING: std::sync::OnceLock<tcp::Pending> = std::sync::OnceLock::new();

/// Gives the remote syslog sender up to `within` to write what is queued
/// (at exit); returns at once for the other targets.
pub fn flush(within: Duration) {
    if let Some(p) = TCP_PENDING.get() {
        p.wait(within);
    }
}

type SyslogLogger = syslog::Logger<syslog::LoggerBackend, syslog::Formatter3164>;

/// Sends each event as one syslog record: RFC 3164 lines to a local socket
/// or over UDP (one datagram each), RFC 5424 records framed per RFC 6587
/// over TCP. Public so that tests can drive the real path under a local
/// subscriber.
pub struct SyslogLayer {
    sink: Sink,
}

enum Sink {
    Datagram(Mutex<SyslogLogger>),
    Tcp(tcp::TcpSink),
}

impl SyslogLayer {
    pub fn connect(section: &LogSection) -> anyhow::Result<Self> {
        let spec = &section.syslog;
        let hostname = match &section.syslog_hostname {
            Some(h) => h.clone(),
            None => system_hostname(),
        };
        if let Some(addr) = spec.strip_prefix("tcp:") {
            let sink = tcp::TcpSink::start(tcp::TcpOptions {
                addr: addr.to_string(),
                format: tcp::RecordFormat {
                    hostname,
                    app_name: APP_NAME.into(),
                    pid: std::process::id(),
                    framing: section.syslog_framing,
                },
                queue: section.syslog_queue,
                timeout: Duration::from_millis(section.syslog_timeout_ms),
            })
            .map_err(|e| anyhow::anyhow!("log.syslog = {spec:?}: starting the sender: {e}"))?;
            return Ok(SyslogLayer {
                sink: Sink::Tcp(sink),
            });
        }
        let formatter = |hostname| syslog::Formatter3164 {
            facility: syslog::Facility::LOG_DAEMON,
            hostname,
            process: APP_NAME.into(),
            pid: std::process::id(),
        };
        let bad = |e: syslog::Error| anyhow::anyhow!("log.syslog = {spec:?}: {e}");
        let logger = if let Some(path) = spec.strip_prefix("unix:") {
            // The local daemon stamps its own host name.
            syslog::unix_custom(formatter(None), path).map_err(bad)?
        } else if let Some(addr) = spec.strip_prefix("udp:") {
            // A remote receiver would otherwise see no host name at all.
            syslog::udp(formatter(Some(hostname)), "0.0.0.0:0", addr).map_err(bad)?
        } else {
            anyhow::bail!("log.syslog = {spec:?}: use unix:PATH, udp:HOST:PORT or tcp:HOST:PORT");
        };
        Ok(SyslogLayer {
            sink: Sink::Datagram(Mutex::new(logger)),
        })
    }

    /// Records dropped because the TCP receiver was down or too slow (or
    /// the queue was full); 0 for the other transports.
    pub fn dropped(&self) -> u64 {
        match &self.sink {
            Sink::Tcp(t) => t.dropped(),
            Sink::Datagram(_) => 0,
        }
    }
}

const APP_NAME: &str = "opendcre";

/// This host's name for the records' HOSTNAME field; `-` (RFC 5424's
/// NILVALUE) when the kernel has none, or one a record cannot carry
/// (HOSTNAME is 1 to 255 printable ASCII characters: anything else would
/// shift every field after it at the receiver).
fn system_hostname() -> String {
    usable_hostname(&std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default())
}

fn usable_hostname(raw: &str) -> String {
    let h = raw.trim();
    if h.is_empty() || h.len() > 255 || !h.bytes().all(|b| b.is_ascii_graphic()) {
        "-".into()
    } else {
        h.to_string()
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
        let level = *event.metadata().level();
        let logger = match &self.sink {
            Sink::Tcp(t) => {
                let severity = match level {
                    Level::ERROR => tcp::Severity::Error,
                    Level::WARN => tcp::Severity::Warning,
                    Level::INFO => tcp::Severity::Info,
                    Level::DEBUG | Level::TRACE => tcp::Severity::Debug,
                };
                t.send(severity, &text);
                return;
            }
            Sink::Datagram(l) => l,
        };
        let Ok(mut logger) = logger.lock() else {
            return;
        };
        // A syslog outage must never take the service down; lines are dropped.
        let _ = match level {
            Level::ERROR => logger.err(text),
            Level::WARN => logger.warning(text),
            Level::INFO => logger.info(text),
            Level::DEBUG | Level::TRACE => logger.debug(text),
        };
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_host_name_a_record_cannot_carry_becomes_the_nilvalue() {
        assert_eq!(super::usable_hostname("node-7.rack3\n"), "node-7.rack3");
        for bad in ["", "\n", "two words", "n\u{e4}me", &"a".repeat(256)] {
            assert_eq!(super::usable_hostname(bad), "-", "{bad:?}");
        }
    }
}
