//! The modem UART in register mode, through rppal's termios wrapper. rppal's
//! own read timeout has 100 ms resolution, so reads poll the non-blocking
//! port against a deadline instead; at 19200 Bd one byte takes ~0.5 ms.

use std::path::Path;
use std::time::{Duration, Instant};

use rppal::uart::{Parity, Queue, Uart};

use super::error::IoError;

/// Interval between polls of the non-blocking port while waiting for bytes.
const POLL: Duration = Duration::from_micros(500);

pub struct RegisterPort {
    uart: Uart,
}

impl RegisterPort {
    /// Open `path` 8N1 at `baud`, raw, no flow control, both queues flushed.
    pub fn open(path: &Path, baud: u32) -> Result<RegisterPort, IoError> {
        let mut uart = Uart::with_path(path, baud, Parity::None, 8, 1).map_err(|e| {
            IoError::new(format!("cannot open {} at {baud} Bd: {e}", path.display()))
        })?;
        // Blocking writes, so `write` returns only with everything queued;
        // reads stay non-blocking and are timed here.
        uart.set_write_mode(true)
            .map_err(|e| IoError::new(format!("{}: {e}", path.display())))?;
        Ok(RegisterPort { uart })
    }

    pub fn clear_input(&mut self) -> Result<(), IoError> {
        self.uart
            .flush(Queue::Input)
            .map_err(|e| IoError::new(format!("cannot discard UART input: {e}")))
    }

    /// Send all of `bytes` and wait until the UART has shifted them out, so
    /// CMD is not raised while a command is still on the wire.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self
                .uart
                .write(rest)
                .map_err(|e| IoError::new(format!("UART write failed: {e}")))?;
            if n == 0 {
                return Err(IoError::new("UART accepted no bytes"));
            }
            rest = &rest[n..];
        }
        self.uart
            .drain()
            .map_err(|e| IoError::new(format!("UART drain failed: {e}")))
    }

    /// Up to `n` bytes, returning early with what arrived when `timeout`
    /// passes.
    pub fn read_up_to(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>, IoError> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::with_capacity(n);
        let mut buf = [0u8; 64];
        while got.len() < n {
            let want = (n - got.len()).min(buf.len());
            let k = self
                .uart
                .read(&mut buf[..want])
                .map_err(|e| IoError::new(format!("UART read failed: {e}")))?;
            got.extend_from_slice(&buf[..k]);
            if got.len() >= n {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if k == 0 {
                std::thread::sleep(POLL.min(deadline - now));
            }
        }
        Ok(got)
    }
}
