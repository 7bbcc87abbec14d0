//! The modem bring-up sequence: the original's `wake()` + `configure()` ×2
//! (spec §8.6), followed by a read-back the original never did, so a modem
//! that silently kept another configuration is reported instead of leaving
//! the bus deaf.
//!
//! Sequence with the default timings (t in ms from the start, modem asleep):
//!
//! 1. idle state: CMD, nSLEEP, SELECT released (inputs, as the original left
//!    them); FREQ driven to `frequency_number`.
//! 2. wake: INH read; if low: nSLEEP low, 1 ms, nSLEEP high, 1 ms, then INH
//!    polled every 1 ms for up to 1000 ms; once high, 150 ms for the wake-up
//!    message; nSLEEP released. Up to 2 pulses before giving up.
//! 3. UART opened at 19200 Bd, queues flushed.
//! 4. twice: CMD low, 1 ms, input discarded, `05 reg0 15 reg1` sent and
//!    drained, 1 ms, CMD high, CMD released, 1 ms.
//! 5. CMD low, 1 ms, input discarded, `0D` → 1 byte, `1D` → 1 byte (each
//!    within 250 ms), 1 ms, CMD high, CMD released, 1 ms.
//! 6. UART closed (the bus opens it at the bus speed); read-back compared.
//!
//! 165 ms in total against the simulated modem when it sleeps and raises
//! INH 5 ms after the pulse; 9 ms when it is already awake.

use std::time::Duration;

use serde::Serialize;

use super::config::HatConfig;
use super::error::{HatError, Step};
use super::io::{HatIo, Level, Line, Sleeper};
use super::registers::{self, PlcConfig, Registers, CMD_READ_REG0, CMD_READ_REG1};
use super::registers::{CMD_WRITE_REG0, CMD_WRITE_REG1};

/// What waking the modem took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WakeReport {
    /// False when INH was already high and no pulse was needed.
    pub woke: bool,
    /// nSLEEP pulses sent.
    pub pulses: u32,
    /// From the first INH read until the modem was ready, post-wake delay
    /// included.
    pub elapsed_ms: f64,
}

/// Register contents together with their meaning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisterDump {
    pub reg0: u8,
    pub reg1: u8,
    pub plc_config: PlcConfig,
}

impl RegisterDump {
    pub fn new(regs: Registers) -> Self {
        RegisterDump {
            reg0: regs.reg0,
            reg1: regs.reg1,
            plc_config: registers::decode(regs),
        }
    }

    pub fn registers(&self) -> Registers {
        Registers {
            reg0: self.reg0,
            reg1: self.reg1,
        }
    }
}

/// The outcome of a successful bring-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HatStatus {
    pub wake: WakeReport,
    /// What was written (the configuration asked for).
    pub written: RegisterDump,
    /// What the modem holds now; agrees with `written` on all defined bits.
    pub read_back: RegisterDump,
    /// The speed the bus must open the UART at: the modem's bit rate.
    pub bus_baud: u32,
    pub elapsed_ms: f64,
}

/// What `hat status` learns from the modem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModemReading {
    /// INH after the reading.
    pub awake: bool,
    pub wake: Option<WakeReport>,
    /// `None` when the modem was asleep and waking it was not asked for.
    pub registers: Option<RegisterDump>,
}

/// Bring the modem from any state to "awake, configured as `cfg.modem`,
/// verified, in data mode" and close the register UART. On failure the lines
/// are left released (data mode) and the UART closed, so the bus can still
/// try its luck on the bare UART.
pub fn bring_up(
    io: &mut dyn HatIo,
    cfg: &HatConfig,
    sleeper: &dyn Sleeper,
) -> Result<HatStatus, HatError> {
    cfg.validate()?;
    let wanted = cfg.modem.registers()?;
    let start = sleeper.now();
    let result = configure_sequence(io, cfg, sleeper, wanted);
    io.close_port();
    if result.is_err() {
        leave_data_mode(io);
    }
    let (wake, read) = result?;
    if !wanted.matches_written(&read) {
        return Err(HatError::Verify {
            written: wanted,
            read,
        });
    }
    Ok(HatStatus {
        wake,
        written: RegisterDump::new(wanted),
        read_back: RegisterDump::new(read),
        bus_baud: registers::decode(read).bit_rate,
        elapsed_ms: millis(sleeper.now().saturating_sub(start)),
    })
}

fn configure_sequence(
    io: &mut dyn HatIo,
    cfg: &HatConfig,
    sleeper: &dyn Sleeper,
    wanted: Registers,
) -> Result<(WakeReport, Registers), HatError> {
    set_idle_state(io, cfg)?;
    let wake = wake(io, cfg, sleeper)?;
    io.open_port(cfg.timing.register_baud)
        .map_err(HatError::io(Step::OpenPort))?;
    let write = [CMD_WRITE_REG0, wanted.reg0, CMD_WRITE_REG1, wanted.reg1];
    for _ in 0..cfg.timing.config_writes {
        in_command_mode(io, cfg, sleeper, |io: &mut dyn HatIo| {
            io.write(&write).map_err(HatError::io(Step::WriteRegisters))
        })?;
    }
    let read = in_command_mode(io, cfg, sleeper, |io: &mut dyn HatIo| {
        read_registers(io, cfg)
    })?;
    Ok((wake, read))
}

/// Read the registers without changing them, for `hat status`. Wakes the
/// modem only when `wake_if_asleep` is set, since waking sends a wake-up
/// message to every node on the bus.
pub fn read_modem(
    io: &mut dyn HatIo,
    cfg: &HatConfig,
    sleeper: &dyn Sleeper,
    wake_if_asleep: bool,
) -> Result<ModemReading, HatError> {
    cfg.validate()?;
    let result = read_sequence(io, cfg, sleeper, wake_if_asleep);
    io.close_port();
    if result.is_err() {
        leave_data_mode(io);
    }
    result
}

fn read_sequence(
    io: &mut dyn HatIo,
    cfg: &HatConfig,
    sleeper: &dyn Sleeper,
    wake_if_asleep: bool,
) -> Result<ModemReading, HatError> {
    set_idle_state(io, cfg)?;
    let awake = io.read(Line::Inh).map_err(HatError::io(Step::Wake))? == Level::High;
    if !awake && !wake_if_asleep {
        return Ok(ModemReading {
            awake: false,
            wake: None,
            registers: None,
        });
    }
    let wake = wake(io, cfg, sleeper)?;
    io.open_port(cfg.timing.register_baud)
        .map_err(HatError::io(Step::OpenPort))?;
    let regs = in_command_mode(io, cfg, sleeper, |io: &mut dyn HatIo| {
        read_registers(io, cfg)
    })?;
    let awake = io.read(Line::Inh).map_err(HatError::io(Step::DataMode))? == Level::High;
    Ok(ModemReading {
        awake,
        wake: Some(wake),
        registers: Some(RegisterDump::new(regs)),
    })
}

/// Whether the modem is awake, from INH alone: touches no output line and
/// not the UART, so it is safe while the bus is running.
pub fn read_awake(io: &mut dyn HatIo) -> Result<ModemReading, HatError> {
    let awake = io.read(Line::Inh).map_err(HatError::io(Step::Wake))? == Level::High;
    Ok(ModemReading {
        awake,
        wake: None,
        registers: None,
    })
}

/// Put every line into the state the original left them in between
/// operations, with FREQ selecting the configured carrier.
pub(crate) fn set_idle_state(io: &mut dyn HatIo, cfg: &HatConfig) -> Result<(), HatError> {
    let step = HatError::io(Step::KnownState);
    io.release(Line::Cmd).map_err(step)?;
    io.release(Line::Sleep).map_err(step)?;
    io.release(Line::Select).map_err(step)?;
    io.drive(
        Line::Freq,
        Level::from_bool(cfg.modem.frequency_number == 1),
    )
    .map_err(step)?;
    Ok(())
}

/// Wake the modem if INH says it sleeps. Cheap when it is awake (one pin
/// read), so the bus may call it before every transaction as the original
/// did; with `auto_sleep` the modem dozes off when the bus is idle.
pub fn wake(
    io: &mut dyn HatIo,
    cfg: &HatConfig,
    sleeper: &dyn Sleeper,
) -> Result<WakeReport, HatError> {
    let t = &cfg.timing;
    let err = HatError::io(Step::Wake);
    let start = sleeper.now();
    if io.read(Line::Inh).map_err(err)? == Level::High {
        return Ok(WakeReport {
            woke: false,
            pulses: 0,
            elapsed_ms: 0.0,
        });
    }
    for pulse in 1..=t.wake_attempts {
        io.drive(Line::Sleep, Level::Low).map_err(err)?;
        sleeper.sleep(t.wake_pulse());
        io.drive(Line::Sleep, Level::High).map_err(err)?;
        sleeper.sleep(t.wake_settle());
        let polling_since = sleeper.now();
        loop {
            if io.read(Line::Inh).map_err(err)? == Level::High {
                sleeper.sleep(t.post_wake());
                io.release(Line::Sleep).map_err(err)?;
                return Ok(WakeReport {
                    woke: true,
                    pulses: pulse,
                    elapsed_ms: millis(sleeper.now().saturating_sub(start)),
                });
            }
            if sleeper.now().saturating_sub(polling_since) >= t.inh_timeout() {
                break;
            }
            sleeper.sleep(t.inh_poll());
        }
    }
    io.release(Line::Sleep).map_err(err)?;
    Err(HatError::WakeTimeout {
        attempts: t.wake_attempts,
        timeout_ms: t.inh_timeout_ms,
    })
}

/// Run `op` with CMD low, bracketed by the settle times, and bring CMD back
/// high even when `op` fails so the modem never stays in command mode.
fn in_command_mode<T, F>(
    io: &mut dyn HatIo,
    cfg: &HatConfig,
    sleeper: &dyn Sleeper,
    mut op: F,
) -> Result<T, HatError>
where
    F: FnMut(&mut dyn HatIo) -> Result<T, HatError>,
{
    let settle = cfg.timing.command_settle();
    io.drive(Line::Cmd, Level::Low)
        .map_err(HatError::io(Step::CommandMode))?;
    sleeper.sleep(settle);
    let result = io
        .clear_input()
        .map_err(HatError::io(Step::CommandMode))
        .and_then(|()| op(io));
    sleeper.sleep(settle);
    let back = io
        .drive(Line::Cmd, Level::High)
        .and_then(|()| io.release(Line::Cmd))
        .map_err(HatError::io(Step::DataMode));
    sleeper.sleep(settle);
    let value = result?;
    back?;
    Ok(value)
}

fn read_registers(io: &mut dyn HatIo, cfg: &HatConfig) -> Result<Registers, HatError> {
    let reg0 = read_register(io, cfg, CMD_READ_REG0)?;
    let reg1 = read_register(io, cfg, CMD_READ_REG1)?;
    Ok(Registers { reg0, reg1 })
}

fn read_register(io: &mut dyn HatIo, cfg: &HatConfig, command: u8) -> Result<u8, HatError> {
    let err = HatError::io(Step::ReadRegisters);
    io.write(&[command]).map_err(err)?;
    let answer = io
        .read_bytes(1, cfg.timing.register_timeout())
        .map_err(err)?;
    answer.first().copied().ok_or(HatError::NoAnswer {
        step: Step::ReadRegisters,
        command,
        timeout_ms: cfg.timing.register_timeout_ms,
    })
}

/// Best effort after a failure: CMD and nSLEEP released, so the modem is in
/// data mode and no half-finished pulse is left on nSLEEP.
fn leave_data_mode(io: &mut dyn HatIo) {
    for line in [Line::Cmd, Line::Sleep] {
        if let Err(e) = io.release(line) {
            tracing::warn!(line = %line, error = %e, "could not release HAT line");
        }
    }
}

/// The state to leave the HAT in when the service stops: UART closed and
/// every line an input again, as after the original's `GPIO.cleanup()`.
pub fn shutdown(io: &mut dyn HatIo) {
    io.close_port();
    for line in [Line::Cmd, Line::Sleep, Line::Select, Line::Freq] {
        if let Err(e) = io.release(line) {
            tracing::warn!(line = %line, error = %e, "could not release HAT line");
        }
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
