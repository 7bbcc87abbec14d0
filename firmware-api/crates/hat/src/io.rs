//! The hardware seam: the few things the bring-up needs from the HAT (drive,
//! release and read the modem's control lines; talk to its register port)
//! and from time (sleep, read a monotonic clock). Real hardware implements
//! them with rppal and real sleeps; the simulated modem with a virtual clock,
//! so the state machine is tested here, fast and deterministically.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::IoError;

/// The modem's control lines. HDI/HDO are absent on purpose: they are the
/// UART's own data lines and stay with the UART.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    /// Low: register (command) mode; high: data mode.
    Cmd,
    /// Carrier select: low → f0, high → f1.
    Freq,
    /// Modem output: high while the modem is awake.
    Inh,
    /// nSLEEP: a short low pulse wakes the modem.
    Sleep,
    /// Routes the UART to the modem or the on-board PIC; left as an input.
    Select,
}

impl Line {
    /// Every line, for the simulated modem (`sim`).
    #[cfg(feature = "sim")]
    pub(crate) const ALL: [Line; 5] = [Line::Cmd, Line::Freq, Line::Inh, Line::Sleep, Line::Select];

    pub fn name(self) -> &'static str {
        match self {
            Line::Cmd => "CMD",
            Line::Freq => "FREQ",
            Line::Inh => "INH",
            Line::Sleep => "nSLEEP",
            Line::Select => "SELECT",
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    High,
}

impl Level {
    pub(crate) fn from_bool(high: bool) -> Level {
        if high {
            Level::High
        } else {
            Level::Low
        }
    }
}

/// GPIO lines plus the modem's register port. Blocking by design: rppal is
/// blocking, and the whole sequence is short and runs on a blocking thread.
pub trait HatIo: Send {
    /// Make `line` an output at `level` (level first, then direction, so the
    /// line never glitches to the other level).
    fn drive(&mut self, line: Line, level: Level) -> Result<(), IoError>;
    /// Make `line` an input again; the HAT's resistors decide its level.
    fn release(&mut self, line: Line) -> Result<(), IoError>;
    /// The level currently on `line`.
    fn read(&mut self, line: Line) -> Result<Level, IoError>;
    /// Open the modem UART at `baud` with empty queues.
    fn open_port(&mut self, baud: u32) -> Result<(), IoError>;
    /// Close the UART so the bus task can open it at the bus speed.
    fn close_port(&mut self);
    /// Discard bytes the modem forwarded before it entered command mode.
    fn clear_input(&mut self) -> Result<(), IoError>;
    /// Send `bytes` and wait until they have left the UART.
    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError>;
    /// Up to `n` bytes; fewer (possibly none) when `timeout` passes first.
    fn read_bytes(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>, IoError>;
}

/// Time as the bring-up sees it.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, d: Duration);
    /// Monotonic time since an arbitrary origin.
    fn now(&self) -> Duration;
}

/// Real time: `thread::sleep` and `Instant`.
#[derive(Debug, Clone, Copy)]
pub struct SystemSleeper {
    origin: Instant,
}

impl SystemSleeper {
    pub fn new() -> Self {
        SystemSleeper {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemSleeper {
    fn default() -> Self {
        SystemSleeper::new()
    }
}

impl Sleeper for SystemSleeper {
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}
