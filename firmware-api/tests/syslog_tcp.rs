//! Remote syslog over TCP against a real rsyslog on loopback (issue 14):
//! each record arrives as a record of its own, with this host's name and the
//! application name, in both RFC 6587 framings; and a receiver that accepts
//! but never reads does not slow logging (or the service) down.

use crate::auth_support::{free_port, peers};
use crate::common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opendcre::config::{LogSection, LogTarget, SyslogFraming};
use opendcre::logging::SyslogLayer;
use tracing_subscriber::layer::SubscriberExt;

/// `rsyslogd -n` with only imtcp on a loopback port, writing every record
/// it receives as one line `HOSTNAME|APP-NAME|MSG` (control characters, an
/// LF included, escaped by rsyslog as `#012`).
struct Rsyslog {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Rsyslog {
    fn start() -> Option<Rsyslog> {
        if !peers::available("rsyslog", &["rsyslogd"], "ci/install-test-deps.sh") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        let conf = dir.path().join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{d}")
module(load="imtcp")
template(name="rec" type="string" string="%hostname%|%app-name%|%msg%\n")
ruleset(name="test") {{ action(type="omfile" file="{d}/records" template="rec") }}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="test")
"#
            ),
        )
        .unwrap();
        let child = Command::new(which("rsyslogd"))
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("start rsyslogd");
        let mut r = Rsyslog { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(st) = r.child.try_wait().unwrap() {
                panic!("rsyslogd exited ({st}): {}", r.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd not listening: {}",
                r.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(r)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    fn records(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("records"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// The records once one contains `needle` (bounded wait).
    fn wait_for(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let recs = self.records();
            if recs.iter().any(|r| r.contains(needle)) {
                return recs;
            }
            assert!(
                Instant::now() < deadline,
                "rsyslog got no record with {needle:?} within 15 s; it got: {recs:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(tool: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(tool))
}

fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn section(port: u16, framing: SyslogFraming) -> LogSection {
    LogSection {
        target: LogTarget::Syslog,
        syslog: format!("tcp:127.0.0.1:{port}"),
        syslog_framing: framing,
        syslog_hostname: Some("rack3-node7".into()),
        ..LogSection::default()
    }
}

/// The real service: `opendcre serve` logging to rsyslog over TCP. Its
/// start-up records and one access-log record per request (one of them for
/// a 3000-character path) and those of its shutdown each arrive as a record
/// of their own, with this host's name and the application name.
#[test]
fn the_service_logs_separate_records_with_its_host_name_to_rsyslog() {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("opendcre.toml");
    std::fs::write(
        &cfg,
        format!(
            "[log]\ntarget = \"syslog\"\nsyslog = \"tcp:127.0.0.1:{}\"\n",
            rsyslog.port
        ),
    )
    .unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_opendcre"))
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .arg("--emulator")
        .arg(common::example("simple.json"))
        .args(["--listen", &addr])
        .env("RUST_LOG", "info")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = KillOnDrop(&mut child);
    rsyslog.wait_for("listening on");
    let long = format!("/opendcre/1.1/{}", "x".repeat(3000));
    assert_eq!(
        common::request(&addr, "GET", "/opendcre/1.1/test").status,
        200
    );
    assert_eq!(common::request(&addr, "GET", &long).status, 404);
    rsyslog.wait_for(&format!("GET {long} 404"));
    // The records that say why the service stopped are sent before it exits.
    // SAFETY: kill(2) takes no pointers; the pid is our own child's.
    unsafe { libc::kill(guard.0.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    while guard.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let recs = rsyslog.wait_for("SIGTERM received");
    drop(guard);

    let host = kernel_hostname();
    assert!(recs.len() >= 4, "{recs:#?}");
    for r in &recs {
        let prefix = format!("{host}|opendcre|");
        assert!(r.starts_with(&prefix), "not {prefix}…: {r:.300}");
    }
    let one = |needle: &str| {
        let n = recs.iter().filter(|r| r.contains(needle)).count();
        assert_eq!(n, 1, "{needle:?} in {n} records: {recs:#?}");
    };
    one("listening on");
    one("GET /opendcre/1.1/test 200");
    one("SIGTERM received");
    // The long record is whole and alone: message and fields, both carrying
    // the path, up to the last field.
    let l = recs.iter().find(|r| r.contains(&long)).unwrap();
    assert!(
        l.contains(&format!("GET {long} 404 "))
            && l.contains(&format!("path={long} status=404 ms=")),
        "{l:.300}"
    );
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Records with an embedded newline and a long one through the logging
/// layer, in both framings: rsyslog sees each as one record, the newline
/// escaped inside it, with the configured host name.
#[test]
fn both_framings_keep_records_apart_at_rsyslog() {
    let Some(rsyslog) = Rsyslog::start() else {
        return;
    };
    let long = "y".repeat(4000);
    for framing in [SyslogFraming::OctetCounting, SyslogFraming::Lf] {
        let tag = format!("{framing:?}");
        let layer = SyslogLayer::connect(&section(rsyslog.port, framing)).unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "t", "{tag} first");
            tracing::warn!(target: "t", "{tag} line one\nline two");
            tracing::error!(target: "t", "{tag} {long}");
            tracing::info!(target: "t", "{tag} last");
        });
        let recs = rsyslog.wait_for(&format!("{tag} last"));
        let mine: Vec<&String> = recs.iter().filter(|r| r.contains(&tag)).collect();
        assert_eq!(
            mine,
            [
                &format!("rack3-node7|opendcre|t: {tag} first"),
                &format!("rack3-node7|opendcre|t: {tag} line one#012line two"),
                &format!("rack3-node7|opendcre|t: {tag} {long}"),
                &format!("rack3-node7|opendcre|t: {tag} last"),
            ],
            "{framing:?}"
        );
    }
}

/// A receiver that accepts and never reads: the socket buffers fill, and
/// still 20 000 log calls of 1 KiB return at once; what could not be sent
/// is counted as dropped.
#[test]
fn a_receiver_that_never_reads_does_not_block_logging() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold the connections, never read.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let layer = SyslogLayer::connect(&LogSection {
        syslog_queue: 64,
        syslog_timeout_ms: 200,
        ..section(port, SyslogFraming::OctetCounting)
    })
    .unwrap();
    let layer = std::sync::Arc::new(layer);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let l = layer.clone();
    std::thread::spawn(move || {
        let subscriber = tracing_subscriber::registry().with(ArcLayer(l));
        let started = Instant::now();
        tracing::subscriber::with_default(subscriber, || {
            let filler = "z".repeat(1024);
            for i in 0..20_000 {
                tracing::info!(target: "t", "{i} {filler}");
            }
        });
        let _ = done_tx.send(started.elapsed());
    });
    let took = done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("logging blocked on a receiver that does not read");
    assert!(
        took < Duration::from_secs(5),
        "20 000 log calls took {took:?}"
    );
    assert!(layer.dropped() > 0, "20 MiB cannot all have fit");
}

/// Lets the test keep a handle on the layer to read its drop count.
struct ArcLayer(std::sync::Arc<SyslogLayer>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ArcLayer {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_event(event, ctx);
    }
}
