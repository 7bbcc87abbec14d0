//! Remote syslog over TCP: RFC 5424 records, framed per RFC 6587, written by
//! one background thread.
//!
//! Why not the `syslog` crate's TCP logger: it writes records back to back
//! through a `BufWriter`, without framing and without a HOSTNAME, so a
//! receiver sees one endless message (issue 14); and it writes on the
//! caller's thread, so a slow receiver would stall whatever logged.
//!
//! Here the logging call only formats the record and offers it to a bounded
//! channel; when the channel is full the record is dropped and counted, so
//! the request path never waits on the network. The thread connects (with a
//! timeout), writes with a write timeout, and after a failure waits with an
//! exponential backoff before it tries again; records that arrive meanwhile
//! are dropped and counted too, and the count is sent as a record of its own
//! once the receiver is back.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opendcre_proto::calendar::{rfc3339_utc, Fraction};

use crate::config::SyslogFraming;

/// `LOG_DAEMON`: the facility the UNIX socket and UDP paths use as well.
const FACILITY_DAEMON: u8 = 3;
/// rsyslog's default maximum message size is 8 KiB; a longer record would be
/// cut (octet counting) or split into several (LF) by the receiver, so it is
/// cut here, visibly, at a character boundary.
const MAX_RECORD: usize = 8000;
const TRUNCATED: &str = "...[truncated]";
const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// RFC 5424 severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Error = 3,
    Warning = 4,
    Info = 6,
    Debug = 7,
}

/// What every record's header carries, and how records are framed.
#[derive(Debug, Clone)]
pub(crate) struct RecordFormat {
    pub hostname: String,
    pub app_name: String,
    pub pid: u32,
    pub framing: SyslogFraming,
}

impl RecordFormat {
    /// One framed record: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`
    /// (RFC 5424, no MSGID, no structured data), then either `LEN SP` before
    /// it (octet counting, RFC 6587 3.4.1: the message may hold any byte) or
    /// an LF after it (non-transparent framing, 3.4.2: an LF inside the
    /// message would end the record early, so it is sent as `#012`, the way
    /// rsyslog itself shows control characters).
    pub(crate) fn frame(&self, severity: Severity, at: SystemTime, msg: &str) -> Vec<u8> {
        let pri = FACILITY_DAEMON * 8 + severity as u8;
        let mut record = format!(
            "<{pri}>1 {} {} {} {} - - ",
            rfc3339(at),
            self.hostname,
            self.app_name,
            self.pid
        );
        let msg = match self.framing {
            SyslogFraming::OctetCounting => std::borrow::Cow::Borrowed(msg),
            SyslogFraming::Lf => std::borrow::Cow::Owned(msg.replace('\n', "#012")),
        };
        if record.len() + msg.len() <= MAX_RECORD {
            record.push_str(&msg);
        } else {
            let mut cut = MAX_RECORD.saturating_sub(record.len() + TRUNCATED.len());
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            record.push_str(&msg[..cut]);
            record.push_str(TRUNCATED);
        }
        match self.framing {
            SyslogFraming::OctetCounting => {
                let mut out = format!("{} ", record.len()).into_bytes();
                out.extend_from_slice(record.as_bytes());
                out
            }
            SyslogFraming::Lf => {
                let mut out = record.into_bytes();
                out.push(b'\n');
                out
            }
        }
    }
}

/// RFC 5424's TIMESTAMP (RFC 3339, UTC, microseconds).
fn rfc3339(at: SystemTime) -> String {
    let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339_utc(d.as_secs() as i64, Fraction::Micros(d.subsec_micros()))
}

/// How the sender thread is set up.
#[derive(Debug, Clone)]
pub(crate) struct TcpOptions {
    /// `HOST:PORT`, resolved at every connection attempt (DNS may come up
    /// after the service).
    pub addr: String,
    pub format: RecordFormat,
    /// Records that may wait for the thread; more are dropped.
    pub queue: usize,
    /// Bound on one connection attempt and on one record's write.
    pub timeout: Duration,
}

/// The logging side: formats and queues, never waits.
pub(crate) struct TcpSink {
    tx: SyncSender<Vec<u8>>,
    format: RecordFormat,
    dropped: Arc<AtomicU64>,
    pending: Pending,
}

/// Records queued or being written, so that exit can wait (bounded) for
/// them: otherwise the last records, the ones that say why the service
/// stopped, die with the process.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending(Arc<AtomicUsize>);

impl Pending {
    /// Waits until every queued record was written or dropped, at most
    /// `within`; true when none is left.
    pub(crate) fn wait(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.0.load(Ordering::Acquire) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl TcpSink {
    pub(crate) fn start(opts: TcpOptions) -> std::io::Result<TcpSink> {
        let (tx, rx) = sync_channel(opts.queue.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let pending = Pending::default();
        let sink = TcpSink {
            tx,
            format: opts.format.clone(),
            dropped: dropped.clone(),
            pending: pending.clone(),
        };
        std::thread::Builder::new()
            .name("syslog-tcp".into())
            .spawn(move || Sender::new(opts, dropped).run(rx, &pending))?;
        Ok(sink)
    }

    pub(crate) fn send(&self, severity: Severity, msg: &str) {
        let frame = self.format.frame(severity, SystemTime::now(), msg);
        self.pending.0.fetch_add(1, Ordering::AcqRel);
        match self.tx.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.pending.0.fetch_sub(1, Ordering::AcqRel);
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn pending(&self) -> Pending {
        self.pending.clone()
    }

    /// Records dropped so far (queue full, receiver down or too slow).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The thread's state: the connection, the backoff, what was reported.
struct Sender {
    opts: TcpOptions,
    dropped: Arc<AtomicU64>,
    conn: Option<TcpStream>,
    backoff: Duration,
    retry_at: Option<Instant>,
    /// Drops already announced to the receiver.
    reported: u64,
    /// Whether the last attempt failed (so the outage is told once on stderr,
    /// which the journal keeps, and not once per record).
    failing: bool,
}

impl Sender {
    fn new(opts: TcpOptions, dropped: Arc<AtomicU64>) -> Sender {
        Sender {
            opts,
            dropped,
            conn: None,
            backoff: MIN_BACKOFF,
            retry_at: None,
            reported: 0,
            failing: false,
        }
    }

    fn run(mut self, rx: Receiver<Vec<u8>>, pending: &Pending) {
        while let Ok(frame) = rx.recv() {
            self.handle(&frame);
            pending.0.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Sends one frame, announcing earlier drops first; counts it as dropped
    /// when there is no connection or the write fails.
    fn handle(&mut self, frame: &[u8]) {
        if !self.connected() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported {
            let notice = format!(
                "syslog: {} record(s) dropped (queue full, or receiver down or too slow)",
                dropped - self.reported
            );
            let notice = self
                .opts
                .format
                .frame(Severity::Warning, SystemTime::now(), &notice);
            if self.write(&notice) {
                self.reported = dropped;
            }
        }
        if !self.write(frame) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether there is a connection, making one unless still backing off.
    fn connected(&mut self) -> bool {
        if self.conn.is_some() {
            return true;
        }
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        match self.connect() {
            Ok(s) => {
                if self.failing {
                    eprintln!("syslog tcp:{}: connected again", self.opts.addr);
                }
                self.conn = Some(s);
                self.backoff = MIN_BACKOFF;
                self.retry_at = None;
                self.failing = false;
                true
            }
            Err(e) => {
                self.failed(&format!("cannot connect: {e}"));
                false
            }
        }
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let mut last = None;
        for addr in self.opts.addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.opts.timeout) {
                Ok(s) => {
                    s.set_write_timeout(Some(self.opts.timeout))?;
                    s.set_nodelay(true)?;
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the name resolves to no address")))
    }

    /// Writes one frame; on a failure or timeout the connection is given up
    /// (a partly written frame leaves the stream out of step).
    fn write(&mut self, frame: &[u8]) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        match conn.write_all(frame) {
            Ok(()) => true,
            Err(e) => {
                self.conn = None;
                self.failed(&format!("write failed: {e}"));
                false
            }
        }
    }

    fn failed(&mut self, why: &str) {
        if !self.failing {
            eprintln!(
                "syslog tcp:{}: {why}; dropping records, retrying with backoff",
                self.opts.addr
            );
        }
        self.failing = true;
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(framing: SyslogFraming) -> RecordFormat {
        RecordFormat {
            hostname: "node-7".into(),
            app_name: "opendcre".into(),
            pid: 42,
            framing,
        }
    }

    #[test]
    fn records_are_rfc5424_and_framed() {
        let at = UNIX_EPOCH + Duration::from_micros(1_764_475_506_123_456);
        let r = fmt(SyslogFraming::OctetCounting).frame(Severity::Warning, at, "a\nb");
        let body = "<28>1 2025-11-30T04:05:06.123456Z node-7 opendcre 42 - - a\nb";
        assert_eq!(
            String::from_utf8(r).unwrap(),
            format!("{} {body}", body.len())
        );
        let r = fmt(SyslogFraming::Lf).frame(Severity::Info, at, "a\nb");
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "<30>1 2025-11-30T04:05:06.123456Z node-7 opendcre 42 - - a#012b\n"
        );
    }

    #[test]
    fn dates_across_leap_years_and_eras() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, "2000-02-29T00:00:00.000000Z"),
            (4_107_542_399, "2100-02-28T23:59:59.000000Z"),
            (4_107_542_400, "2100-03-01T00:00:00.000000Z"),
        ] {
            assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn a_long_message_is_cut_visibly_at_a_character_boundary() {
        let msg = "é".repeat(MAX_RECORD);
        let r = fmt(SyslogFraming::Lf).frame(Severity::Info, UNIX_EPOCH, &msg);
        let text = String::from_utf8(r).expect("still UTF-8");
        assert!(text.len() <= MAX_RECORD + 1, "{}", text.len());
        assert!(text.ends_with("...[truncated]\n"));
    }

    /// `wait` (what exit uses) reports records as done only once they were
    /// written: not while a receiver that is not reading yet holds them up,
    /// and as soon as it catches up.
    #[test]
    fn pending_waits_until_every_queued_record_was_written() {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            go_rx.recv().unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0usize;
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        });
        let sink = TcpSink::start(TcpOptions {
            addr: format!("127.0.0.1:{port}"),
            format: fmt(SyslogFraming::Lf),
            queue: 20_000,
            timeout: Duration::from_secs(10),
        })
        .unwrap();
        let msg = "w".repeat(1000);
        let records = 16_000;
        for _ in 0..records {
            sink.send(Severity::Info, &msg);
        }
        assert!(
            !sink.pending().wait(Duration::from_millis(100)),
            "16 MB cannot all be in the socket buffers of a receiver that does not read"
        );
        go_tx.send(()).unwrap();
        assert!(sink.pending().wait(Duration::from_secs(20)));
        assert_eq!(sink.dropped(), 0);
        drop(sink);
        let one = fmt(SyslogFraming::Lf)
            .frame(Severity::Info, UNIX_EPOCH, &msg)
            .len();
        assert_eq!(reader.join().unwrap(), records * one);
    }
}
