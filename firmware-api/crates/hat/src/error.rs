//! Errors of the HAT module. Each bring-up failure names the step it happened
//! in, because "modem not configured" alone does not tell an operator whether
//! to look at the power, the wiring or the configuration.

use std::fmt;

use serde::Serialize;

use super::registers::{RegisterError, Registers};

/// The steps of the bring-up sequence, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Lines to their known idle state.
    KnownState,
    /// INH check and nSLEEP pulse.
    Wake,
    /// Opening the UART at the register baud rate.
    OpenPort,
    /// CMD low: the modem listens to register commands.
    CommandMode,
    /// Writing reg0/reg1.
    WriteRegisters,
    /// Reading reg0/reg1 back.
    ReadRegisters,
    /// CMD back high: the modem forwards bus data again.
    DataMode,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::KnownState => "setting the modem lines to their idle state",
            Step::Wake => "waking the modem",
            Step::OpenPort => "opening the UART for register access",
            Step::CommandMode => "entering command mode",
            Step::WriteRegisters => "writing the modem registers",
            Step::ReadRegisters => "reading the modem registers",
            Step::DataMode => "returning the modem to data mode",
        })
    }
}

/// A failure of the hardware underneath (GPIO or UART), as text: rppal's and
/// the simulator's errors differ in type but callers only report them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IoError(pub String);

impl IoError {
    pub fn new(msg: impl Into<String>) -> Self {
        IoError(msg.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HatError {
    #[error("invalid HAT configuration: {0}")]
    Config(String),

    #[error("[hat.modem] {0}")]
    Register(#[from] RegisterError),

    /// No HAT to set up; the bus can still run on the bare UART.
    #[error("no PLC modem HAT: {0}")]
    NotPresent(String),

    #[error("cannot open the HAT hardware: {0}")]
    Open(String),

    #[error("{step} failed: {source}")]
    Io {
        step: Step,
        #[source]
        source: IoError,
    },

    #[error(
        "the modem did not wake: INH stayed low for {timeout_ms} ms after each of \
         {attempts} nSLEEP pulse(s) (modem unpowered, HAT not fitted, or wrong INH/nSLEEP pins)"
    )]
    WakeTimeout { attempts: u32, timeout_ms: u64 },

    #[error(
        "{step} failed: the modem sent no answer to command 0x{command:02X} within \
         {timeout_ms} ms (wrong UART, SELECT routing the UART elsewhere, or CMD not reaching the modem)"
    )]
    NoAnswer {
        step: Step,
        command: u8,
        timeout_ms: u64,
    },

    #[error(
        "the modem kept a different configuration: wrote reg0=0x{:02X} reg1=0x{:02X}, \
         read back reg0=0x{:02X} reg1=0x{:02X}",
        written.reg0, written.reg1, read.reg0, read.reg1
    )]
    Verify { written: Registers, read: Registers },

    #[error("the HAT worker thread failed: {0}")]
    Worker(String),
}

impl HatError {
    pub(crate) fn io(step: Step) -> impl Fn(IoError) -> HatError + Copy {
        move |source| HatError::Io { step, source }
    }

    /// The step a bring-up failure happened in, if it happened in one.
    pub fn step(&self) -> Option<Step> {
        match self {
            HatError::Io { step, .. } | HatError::NoAnswer { step, .. } => Some(*step),
            HatError::WakeTimeout { .. } => Some(Step::Wake),
            HatError::Verify { .. } => Some(Step::ReadRegisters),
            _ => None,
        }
    }
}
