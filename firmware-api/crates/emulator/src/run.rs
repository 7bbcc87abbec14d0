//! Serving the emulator over a byte stream: our own pty, or a real serial port.
//!
//! Bytes in → [`FrameDecoder`] → [`Emulator::handle`] → bytes out. Nothing a
//! client sends can stop the loop: undecodable bytes are skipped, I/O errors
//! are logged and the port is reopened with backoff.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use opendcre_proto::frame::MAX_FRAME_LEN;
use opendcre_proto::{DecodeError, Frame, FrameDecoder};

use super::config::EmulatorConfig;
use super::engine::Emulator;
use tokio_serial::SerialStream;

use super::pty::{discard_unread, Link, Pty};

/// How the emulator talks on the wire.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Line speed. A serial port is opened at it; with `pace` the output is
    /// also limited to `baud / 10` bytes per second (8N1 = 10 bits per byte).
    pub baud: u32,
    /// Pace output at `baud`: a pty has no line speed, so without pacing a
    /// 25-device scan arrives in microseconds and benchmarks and timeouts
    /// would see a bus far faster than the real one.
    pub pace: bool,
    /// Device think time before the first packet of every answer.
    pub response_delay: Duration,
    /// Also make this path a symlink to the pty slave (pty mode only).
    pub link: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            baud: 115_200,
            pace: false,
            response_delay: Duration::ZERO,
            link: None,
        }
    }
}

/// A partial frame with no new byte for this long is taken to start with a
/// false header (line noise): real senders write a frame back-to-back, and
/// the server's read timeout is 250 ms, so the stall must end well before.
const FRAME_GAP: Duration = Duration::from_millis(100);
/// A write that makes no progress for this long means nobody reads the port.
const WRITE_STALL: Duration = Duration::from_secs(1);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Frame decoder that can also give up on a stalled partial frame: the
/// decoder keeps a partial frame until its declared length arrives, so a
/// noise byte 0x01 followed by a large "length" would otherwise swallow the
/// next real request. A short history of received bytes lets us drop just
/// the false header and rescan the rest.
#[derive(Default)]
struct Framer {
    decoder: FrameDecoder,
    history: Vec<u8>,
}

impl Framer {
    fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
        self.history.extend_from_slice(bytes);
        let keep = 2 * MAX_FRAME_LEN;
        if self.history.len() > keep {
            self.history.drain(..self.history.len() - keep);
        }
    }

    fn next_frame(&mut self) -> Option<Result<Frame, DecodeError>> {
        self.decoder.next_frame()
    }

    fn in_frame(&self) -> bool {
        self.decoder.buffered() > 0
    }

    /// Drops the header byte of the pending partial frame and rescans the
    /// bytes after it. Only valid once `next_frame` has returned `None`.
    fn abandon_partial(&mut self) {
        let n = self.decoder.buffered().min(self.history.len());
        if n == 0 {
            return;
        }
        let rest = self.history[self.history.len() - n + 1..].to_vec();
        self.decoder.clear();
        self.decoder.push(&rest);
        self.history = rest;
    }
}

/// Output pacing at a fixed byte rate, in slices of about 2 ms of wire time.
struct Pacer {
    bytes_per_sec: Option<f64>,
    slice: usize,
    wire_free_at: Instant,
}

impl Pacer {
    fn new(opts: &RunOptions) -> Pacer {
        let rate = f64::from(opts.baud.max(1)) / 10.0;
        Pacer {
            bytes_per_sec: opts.pace.then_some(rate),
            slice: ((rate / 500.0) as usize).max(1),
            wire_free_at: Instant::now(),
        }
    }

    /// Starts an answer: the line has been idle since the previous one ended.
    /// Within an answer the schedule is never reset, so timer lateness on one
    /// slice is made up by the next instead of accumulating.
    fn start_answer(&mut self) {
        let now = Instant::now();
        if self.wire_free_at < now {
            self.wire_free_at = now;
        }
    }

    /// Writes one packet; with pacing each slice is released when its last
    /// byte would have finished arriving over a real line.
    async fn send(&mut self, wire: &mut Wire<'_>, packet: &[u8]) -> io::Result<()> {
        let Some(rate) = self.bytes_per_sec else {
            return write_unstalled(wire, packet).await;
        };
        for slice in packet.chunks(self.slice) {
            self.wire_free_at += Duration::from_secs_f64(slice.len() as f64 / rate);
            sleep_until(self.wire_free_at).await;
            write_unstalled(wire, slice).await?;
        }
        Ok(())
    }
}

/// The line the emulator serves: a port (the pty master or a serial device)
/// and, on a pty, our own slave end, whose unread input can be dropped when
/// nobody reads (a real line has no such buffer to drop).
struct Wire<'a> {
    port: &'a mut SerialStream,
    unread: Option<&'a SerialStream>,
}

async fn write_unstalled(wire: &mut Wire<'_>, bytes: &[u8]) -> io::Result<()> {
    if let Ok(r) = timeout(WRITE_STALL, wire.port.write_all(bytes)).await {
        return r;
    }
    warn!(
        "emulator output stalled for {WRITE_STALL:?} (no client reading?); discarding unread output"
    );
    if let Some(slave) = wire.unread {
        discard_unread(slave)?;
    }
    match timeout(WRITE_STALL, wire.port.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "write stalled even after discarding unread output",
        )),
    }
}

/// Serves one open port until an I/O error, which it returns.
async fn serve_session(
    wire: &mut Wire<'_>,
    emu: &mut Emulator,
    opts: &RunOptions,
    pacer: &mut Pacer,
) -> io::Error {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 1024];
    loop {
        let read = if framer.in_frame() {
            timeout(FRAME_GAP, wire.port.read(&mut buf)).await.ok()
        } else {
            Some(wire.port.read(&mut buf).await)
        };
        match read {
            None => {
                debug!("partial frame stalled; skipping its header byte");
                framer.abandon_partial();
            }
            Some(Ok(0)) => return io::Error::new(io::ErrorKind::UnexpectedEof, "port closed"),
            Some(Ok(n)) => framer.push(&buf[..n]),
            Some(Err(e)) => return e,
        }
        while let Some(item) = framer.next_frame() {
            let frame = match item {
                Ok(f) => f,
                Err(e) => {
                    debug!("skipping bad request bytes: {e}");
                    continue;
                }
            };
            let answer = emu.handle(&frame);
            debug!(
                seq = frame.sequence,
                device_type = format_args!("{:#04x}", frame.device_type),
                board = format_args!("{:08x}", frame.board_id),
                device = format_args!("{:04x}", frame.device_id),
                command = %frame.data_text().escape_debug(),
                packets = answer.len(),
                "request"
            );
            if answer.is_empty() {
                continue;
            }
            if !opts.response_delay.is_zero() {
                sleep(opts.response_delay).await;
            }
            pacer.start_answer();
            for packet in &answer {
                if let Err(e) = pacer.send(wire, packet).await {
                    return e;
                }
            }
            if let Err(e) = wire.port.flush().await {
                return e;
            }
        }
    }
}

struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(BACKOFF_START)
    }
    fn reset(&mut self) {
        self.0 = BACKOFF_START;
    }
    async fn wait(&mut self) {
        sleep(self.0).await;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
    }
}

fn log_warnings(config: &EmulatorConfig) {
    for w in &config.warnings {
        warn!("emulator config: {w}");
    }
}

/// Serves an already open pty forever (until the future is dropped).
pub(crate) async fn serve_pty(mut pty: Pty, mut emu: Emulator, opts: RunOptions) {
    let mut pacer = Pacer::new(&opts);
    let mut backoff = Backoff::new();
    let path = pty.slave_path().to_path_buf();
    info!(
        pty = %path.display(),
        boards = emu.board_count(),
        "emulator serving"
    );
    loop {
        let (port, slave) = pty.ends();
        let mut wire = Wire {
            port,
            unread: Some(slave),
        };
        let err = serve_session(&mut wire, &mut emu, &opts, &mut pacer).await;
        warn!(
            pty = %path.display(),
            "emulator pty I/O error: {err}; retrying in {:?}",
            backoff.0
        );
        backoff.wait().await;
    }
}

/// Starts the emulator in the current runtime on a fresh pty. Returns the
/// slave path for the client to open and the serving task; aborting the
/// task closes the pty and removes the optional symlink.
pub async fn spawn_pty(
    config: EmulatorConfig,
    opts: RunOptions,
) -> anyhow::Result<(PathBuf, JoinHandle<()>)> {
    log_warnings(&config);
    let pty = Pty::open().context("cannot allocate a pty for the emulator")?;
    let path = pty.slave_path().to_path_buf();
    let link = match &opts.link {
        Some(l) => Some(
            Link::create(l, &path)
                .with_context(|| format!("cannot create the symlink {}", l.display()))?,
        ),
        None => None,
    };
    if let Some(l) = &link {
        info!(link = %l.path().display(), pty = %path.display(), "emulator pty linked");
    }
    let emu = Emulator::from_config(config);
    let handle = tokio::spawn(async move {
        let _link = link;
        serve_pty(pty, emu, opts).await;
    });
    Ok((path, handle))
}

fn open_serial(path: &Path, baud: u32) -> io::Result<tokio_serial::SerialStream> {
    opendcre_bus::open_serial(&path.to_string_lossy(), baud)
}

/// Serves an existing serial device (a UART, or one end of a socat pair)
/// forever, reopening it with backoff whenever it fails. Counters and device
/// state survive reopening.
pub async fn serve_port(config: EmulatorConfig, path: PathBuf, opts: RunOptions) {
    log_warnings(&config);
    let mut emu = Emulator::from_config(config);
    let mut pacer = Pacer::new(&opts);
    let mut backoff = Backoff::new();
    loop {
        match open_serial(&path, opts.baud) {
            Ok(mut port) => {
                info!(port = %path.display(), baud = opts.baud, boards = emu.board_count(), "emulator serving");
                backoff.reset();
                let mut wire = Wire {
                    port: &mut port,
                    unread: None,
                };
                let err = serve_session(&mut wire, &mut emu, &opts, &mut pacer).await;
                warn!(port = %path.display(), "emulator port I/O error: {err}; reopening in {:?}", backoff.0);
            }
            Err(e) => {
                warn!(port = %path.display(), "cannot open emulator port: {e}; retrying in {:?}", backoff.0);
            }
        }
        backoff.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good_frame() -> Vec<u8> {
        Frame {
            sequence: 1,
            device_type: 0x9C,
            board_id: 1,
            device_id: 0x01ff,
            data: b"R".to_vec(),
        }
        .encode()
        .unwrap()
    }

    #[test]
    fn framer_recovers_a_frame_hidden_behind_a_false_header() {
        let mut f = Framer::default();
        let mut bytes = vec![0x01, 0xF0, 0x33];
        bytes.extend(good_frame());
        f.push(&bytes);
        assert!(
            f.next_frame().is_none(),
            "waits for the false frame's length"
        );
        assert!(f.in_frame());
        f.abandon_partial();
        let mut got = Vec::new();
        while let Some(r) = f.next_frame() {
            got.push(r);
        }
        assert_eq!(got.last().unwrap().as_ref().unwrap().device_id, 0x01ff);
    }

    #[test]
    fn framer_history_stays_bounded() {
        let mut f = Framer::default();
        for _ in 0..100 {
            f.push(&[0u8; 100]);
            while f.next_frame().is_some() {}
        }
        assert!(f.history.len() <= 2 * MAX_FRAME_LEN);
        assert!(!f.in_frame());
        f.abandon_partial();
    }

    proptest::proptest! {
        #[test]
        fn framer_never_panics_and_stays_bounded(
            chunks in proptest::collection::vec(
                (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), proptest::prelude::any::<bool>()),
                0..12,
            )
        ) {
            let mut f = Framer::default();
            for (bytes, stall) in &chunks {
                f.push(bytes);
                while f.next_frame().is_some() {}
                if *stall {
                    f.abandon_partial();
                    while f.next_frame().is_some() {}
                }
                proptest::prop_assert!(f.decoder.buffered() <= MAX_FRAME_LEN);
                proptest::prop_assert!(f.history.len() <= 2 * MAX_FRAME_LEN);
            }
        }
    }

    #[test]
    fn pacing_slices_are_about_two_ms() {
        let p = Pacer::new(&RunOptions {
            pace: true,
            ..RunOptions::default()
        });
        assert_eq!(p.bytes_per_sec, Some(11_520.0));
        assert_eq!(p.slice, 23);
        let slow = Pacer::new(&RunOptions {
            pace: true,
            baud: 300,
            ..RunOptions::default()
        });
        assert_eq!(slow.slice, 1);
    }
}
