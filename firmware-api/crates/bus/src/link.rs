//! One open port plus the receive state that must survive between frames:
//! the decoder's buffer, the sequence counter and the requests we gave up on.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::config::{BusConfig, SequenceCheck};
use super::port::Port;
use super::sequence::SequenceCounter;
use opendcre_proto::{DecodeError, Frame, FrameDecoder};

/// How long a timed-out request's late answer is still recognised as stale.
const ABANDONED_TTL: Duration = Duration::from_secs(10);
const ABANDONED_MAX: usize = 32;

/// Why no acceptable frame was read.
#[derive(Debug)]
pub(super) enum ReadError {
    /// Silence for the whole wait.
    Timeout,
    /// A complete frame arrived but was wrong.
    Decode(DecodeError),
    /// The port failed; it will be re-opened.
    Io(io::Error),
}

/// What a decode error does to a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnError {
    /// End the read: in a scan every frame is a device, so a damaged one
    /// means the answer is incomplete whatever follows.
    Return,
    /// Keep decoding what follows until the line is quiet: a command has one
    /// answer, and noise in front of it must not cost it.
    Hunt,
}

/// Receive state independent of which port handle is open.
pub(super) struct Link<P> {
    pub port: Option<P>,
    decoder: FrameDecoder,
    seq: SequenceCounter,
    /// Sequences of requests that timed out, with when they did.
    abandoned: VecDeque<(u8, Instant)>,
    check: SequenceCheck,
    stale_dropped: u64,
    /// Frames whose checksum did not match, for the bus health metrics.
    checksum_errors: u64,
    /// `?` retries and scan restarts, counted by the transactions.
    pub(crate) retries: u64,
    /// The last read ended because the line was quiet (a gap or silence).
    ended_quiet: bool,
}

impl<P: Port> Link<P> {
    pub(crate) fn new(cfg: &BusConfig) -> Self {
        Link {
            port: None,
            decoder: FrameDecoder::new(),
            seq: SequenceCounter::default(),
            abandoned: VecDeque::new(),
            check: cfg.sequence_check,
            stale_dropped: 0,
            checksum_errors: 0,
            retries: 0,
            ended_quiet: false,
        }
    }

    fn port(&mut self) -> io::Result<&mut P> {
        self.port
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "port is not open"))
    }

    /// The next sequence; a number reused after wrap-around is no longer stale.
    pub(crate) fn next_seq(&mut self) -> u8 {
        let s = self.seq.take();
        self.abandoned.retain(|(a, _)| *a != s);
        s
    }

    /// Remembers that an answer with this sequence, if it still comes, is late.
    pub(crate) fn abandon(&mut self, seq: u8) {
        if self.abandoned.len() == ABANDONED_MAX {
            self.abandoned.pop_front();
        }
        self.abandoned.push_back((seq, Instant::now()));
    }

    pub(crate) fn stale_dropped(&self) -> u64 {
        self.stale_dropped
    }

    pub(crate) fn junk_skipped(&self) -> u64 {
        self.decoder.junk_skipped()
    }

    /// Drops everything received so far, in the kernel and in the decoder.
    pub(crate) fn flush_input(&mut self) -> io::Result<()> {
        self.decoder.clear();
        self.port()?.discard_input()
    }

    pub(crate) async fn send(&mut self, frame: &Frame) -> Result<(), ReadError> {
        let bytes = frame
            .encode()
            .map_err(|e| ReadError::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let port = self.port().map_err(ReadError::Io)?;
        port.write_all(&bytes).await.map_err(ReadError::Io)?;
        port.flush().await.map_err(ReadError::Io)
    }

    /// The decoder's next result, counting checksum failures on the way.
    fn next_decoded(&mut self) -> Option<Result<Frame, DecodeError>> {
        let r = self.decoder.next_frame();
        if matches!(&r, Some(Err(e)) if e.is_checksum()) {
            self.checksum_errors += 1;
        }
        r
    }

    pub(crate) fn checksum_errors(&self) -> u64 {
        self.checksum_errors
    }

    /// Reads until an acceptable frame, an error, or `silence` without bytes.
    /// A stream of junk cannot hold the bus: the whole read is capped.
    ///
    /// A sender writes a frame back-to-back, so a partial frame that gets no
    /// byte for `gap` was cut short: it becomes a data error
    /// ([`DecodeError::Truncated`]) instead of a timeout, because a timeout
    /// ends a command without a retry, and a cut answer is worth a `?`.
    ///
    /// With [`OnError::Hunt`] a decode error does not end the read at once:
    /// the bytes after it are still decoded until the line is quiet for
    /// `gap`, because an answer behind line noise (a false header, a junk
    /// "frame") is the answer, and a flush before the retry would throw it
    /// away. Only when nothing acceptable follows is the last error returned.
    pub(crate) async fn read_frame(
        &mut self,
        silence: Duration,
        gap: Duration,
        expected_seq: u8,
        on_error: OnError,
    ) -> Result<Frame, ReadError> {
        let cap = Instant::now() + silence * 4 + Duration::from_millis(50);
        let mut buf = [0u8; 512];
        let mut error: Option<DecodeError> = None;
        let failed =
            |error: Option<DecodeError>| error.map_or(ReadError::Timeout, ReadError::Decode);
        loop {
            while let Some(r) = self.next_decoded() {
                match r {
                    Ok(f) if self.accept(&f, expected_seq) => return Ok(f),
                    Ok(_) => continue,
                    Err(e) if on_error == OnError::Return => return Err(ReadError::Decode(e)),
                    Err(e) => error = Some(e),
                }
            }
            let now = Instant::now();
            if now >= cap {
                return Err(failed(error));
            }
            // Inside an answer (a partial frame, or right after a damaged
            // one) a gap means the sender has stopped.
            let in_answer = self.decoder.in_frame() || error.is_some();
            let wait = if in_answer { gap } else { silence }.min(cap - now);
            let port = self.port().map_err(ReadError::Io)?;
            let read = tokio::time::timeout(wait, port.read(&mut buf)).await;
            self.ended_quiet = read.is_err();
            match read {
                Err(_) if self.decoder.in_frame() => {
                    // Every byte buffered arrived before the gap, so a frame
                    // starting inside the partial one is complete already or
                    // cut as well: rescan without waiting again.
                    while let Some(cut) = self.decoder.abandon_partial() {
                        if on_error == OnError::Return {
                            return Err(ReadError::Decode(cut));
                        }
                        error = Some(cut);
                        while let Some(r) = self.next_decoded() {
                            match r {
                                Ok(f) if self.accept(&f, expected_seq) => return Ok(f),
                                Ok(_) => {}
                                Err(e) => error = Some(e),
                            }
                        }
                    }
                    return Err(failed(error));
                }
                Err(_) => return Err(failed(error)),
                Ok(Ok(0)) => {
                    return Err(ReadError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "port closed by the peer",
                    )))
                }
                Ok(Ok(n)) => self.decoder.push(&buf[..n]),
                Ok(Err(e)) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// True right after a read that ended because no byte came for its
    /// wait: a command's read waits the frame gap once it has seen an error, so
    /// the line has settled already and another quiet period only delays
    /// the retry.
    pub(crate) fn ended_quiet(&self) -> bool {
        self.ended_quiet
    }

    /// Waits until the line has been quiet for `quiet` (at most `cap`), so the
    /// tail of a corrupt answer is not mistaken for the start of the next.
    pub(crate) async fn settle(&mut self, quiet: Duration, cap: Duration) -> Result<(), ReadError> {
        let end = Instant::now() + cap;
        let mut buf = [0u8; 512];
        while Instant::now() < end {
            let port = self.port().map_err(ReadError::Io)?;
            match tokio::time::timeout(quiet, port.read(&mut buf)).await {
                Err(_) => break,
                Ok(Ok(0)) => {
                    return Err(ReadError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "port closed",
                    )))
                }
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return Err(ReadError::Io(e)),
            }
        }
        self.flush_input().map_err(ReadError::Io)
    }

    fn accept(&mut self, f: &Frame, expected: u8) -> bool {
        if f.sequence == expected {
            return true;
        }
        let now = Instant::now();
        self.abandoned
            .retain(|(_, at)| now.duration_since(*at) < ABANDONED_TTL);
        if let Some(i) = self.abandoned.iter().position(|(s, _)| *s == f.sequence) {
            // One late answer per abandoned request: drop it and forget the number.
            self.abandoned.remove(i);
            self.stale_dropped += 1;
            tracing::debug!(
                seq = f.sequence,
                expected,
                "dropped late answer to an abandoned request"
            );
            return false;
        }
        match self.check {
            SequenceCheck::Compat => true,
            SequenceCheck::Strict => {
                self.stale_dropped += 1;
                tracing::debug!(
                    seq = f.sequence,
                    expected,
                    "dropped answer with foreign sequence"
                );
                false
            }
        }
    }
}
