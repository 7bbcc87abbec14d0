//! A simulated SIG60 on a simulated HAT, on a virtual clock. It is strict
//! about the pin protocol of spec §8.6 — it wakes only after a proper nSLEEP
//! pulse, takes register commands only in command mode, at the register baud
//! rate, after CMD has settled and after its wake-up message is out — and
//! records every violation, so a test fails when the bring-up cuts a corner
//! the real modem would not forgive. It can be told to misbehave.
//!
//! Assumptions of the model (not facts taken from a datasheet): released
//! lines read as the HAT's resistors would pull them — CMD, nSLEEP and SELECT
//! high (data mode, awake-request idle, UART routed to the modem), FREQ low;
//! INH rises a few milliseconds after the pulse; an nSLEEP low lasting longer
//! than `max_pulse` is a sleep request, not a wake pulse.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::error::IoError;
use super::io::{HatIo, Level, Line, Sleeper};
use super::registers::{Registers, CMD_READ_REG0, CMD_READ_REG1, CMD_WRITE_REG0, CMD_WRITE_REG1};

/// A clock that only moves when someone sleeps (or waits for a byte that
/// does not come), so simulated seconds cost no real time.
#[derive(Debug, Default)]
pub struct VirtualClock {
    nanos: AtomicU64,
}

impl VirtualClock {
    pub fn new() -> Self {
        VirtualClock::default()
    }

    pub fn advance(&self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(n, Ordering::SeqCst);
    }
}

impl Sleeper for VirtualClock {
    fn sleep(&self, d: Duration) {
        self.advance(d);
    }
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// Ways the simulated modem can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Ignores nSLEEP pulses; INH stays low.
    NeverWake,
    /// Accepts register writes but never answers a register read.
    NeverAnswer,
    /// Answers register reads with reg1 XOR this mask.
    CorruptReadBack(u8),
    /// Acknowledges nothing it is told: writes are dropped.
    IgnoreWrites,
    /// Loses the first register write after waking, as the original's
    /// write-twice habit suggests the real one sometimes did.
    DropFirstWrite,
}

/// Behaviour of the simulated modem.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub initially_awake: bool,
    /// From the rising edge of the nSLEEP pulse until INH goes high.
    pub wake_latency: Duration,
    /// From INH high until register commands are accepted (the modem sends
    /// its wake-up message first).
    pub wum_duration: Duration,
    pub min_pulse: Duration,
    pub max_pulse: Duration,
    /// CMD must be low this long before the first command byte.
    pub min_command_settle: Duration,
    pub register_baud: u32,
    /// Register contents at power-on; deliberately not the OpenDCRE
    /// configuration, so a missing write shows up in the read-back.
    pub power_on_registers: Registers,
    /// Status bit 7 of reg0 as the modem reports it.
    pub interference_detected: bool,
    /// Bytes that arrive from the bus right after the UART is opened (bus
    /// traffic the modem forwards before it is put into command mode).
    pub chatter_on_open: Vec<u8>,
    pub fault: Fault,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            initially_awake: false,
            wake_latency: Duration::from_millis(5),
            wum_duration: Duration::from_millis(100),
            min_pulse: Duration::from_millis(1),
            max_pulse: Duration::from_millis(50),
            min_command_settle: Duration::from_millis(1),
            register_baud: 19200,
            power_on_registers: Registers {
                reg0: 0x70,
                reg1: 0x00,
            },
            interference_detected: false,
            chatter_on_open: Vec::new(),
            fault: Fault::None,
        }
    }
}

/// One thing the host did, stamped with virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Drive(Line, Level),
    Release(Line),
    Read(Line, Level),
    OpenPort(u32),
    ClosePort,
    /// Input discarded; the number of bytes thrown away.
    ClearInput(usize),
    Tx(Vec<u8>),
    Rx(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Duration,
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    Released,
    Driven(Level),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parser {
    Idle,
    AwaitReg0,
    AwaitReg1,
}

#[derive(Debug)]
struct State {
    opts: SimOptions,
    pins: HashMap<Line, Pin>,
    /// INH high since (modem awake); `None` while asleep.
    awake_since: Option<Duration>,
    wake_at: Option<Duration>,
    sleep_low_since: Option<Duration>,
    cmd_low_since: Option<Duration>,
    port_baud: Option<u32>,
    parser: Parser,
    regs: Registers,
    writes_since_wake: u32,
    rx: VecDeque<u8>,
    /// Bytes the host sent in data mode (they would go onto the bus).
    line_tx: Vec<u8>,
    trace: Vec<Event>,
    violations: Vec<String>,
    /// Driving this line to this level fails like a GPIO error would.
    fail_drive: Option<(Line, Level)>,
}

/// The simulated HAT. Clones share one modem, so a test can keep a handle
/// for inspection while the bring-up owns another.
#[derive(Clone)]
pub struct SimHat {
    clock: Arc<dyn Sleeper>,
    state: Arc<Mutex<State>>,
}

impl SimHat {
    /// A modem on `clock`: normally a [`VirtualClock`]; a real clock when the
    /// test wires the modem to a real UART (see [`uart_receive`](Self::uart_receive)).
    pub fn new(clock: Arc<dyn Sleeper>, opts: SimOptions) -> Self {
        let awake_since = if opts.initially_awake {
            Some(clock.now())
        } else {
            None
        };
        let regs = opts.power_on_registers;
        SimHat {
            clock,
            state: Arc::new(Mutex::new(State {
                opts,
                pins: Line::ALL.iter().map(|&l| (l, Pin::Released)).collect(),
                awake_since,
                wake_at: None,
                sleep_low_since: None,
                cmd_low_since: None,
                port_baud: None,
                parser: Parser::Idle,
                regs,
                writes_since_wake: 0,
                rx: VecDeque::new(),
                line_tx: Vec::new(),
                trace: Vec::new(),
                violations: Vec::new(),
                fail_drive: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a failing test
        // assertion elsewhere; the state is still worth inspecting.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn trace(&self) -> Vec<Event> {
        self.lock().trace.clone()
    }

    pub fn clear_trace(&self) {
        self.lock().trace.clear();
    }

    /// Protocol rules the host broke; empty for a correct bring-up.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// The registers as the modem holds them.
    pub fn registers(&self) -> Registers {
        self.lock().regs
    }

    pub fn is_awake(&self) -> bool {
        let now = self.clock.now();
        let mut s = self.lock();
        s.update(now);
        s.awake_since.is_some()
    }

    /// The level on a line, pull resistors included.
    pub fn level(&self, line: Line) -> Level {
        let now = self.clock.now();
        let mut s = self.lock();
        s.update(now);
        s.level(line)
    }

    /// Whether the host has the line configured as an output.
    pub fn is_driven(&self, line: Line) -> bool {
        matches!(self.lock().pins.get(&line), Some(Pin::Driven(_)))
    }

    pub fn port_open(&self) -> bool {
        self.lock().port_baud.is_some()
    }

    /// Bytes the host sent while the modem was in data mode.
    pub fn bus_bytes(&self) -> Vec<u8> {
        self.lock().line_tx.clone()
    }

    /// The modem falls asleep (as `auto_sleep` makes it do on an idle bus).
    pub fn fall_asleep(&self) {
        let mut s = self.lock();
        s.awake_since = None;
        s.wake_at = None;
        s.writes_since_wake = 0;
    }

    pub fn set_fault(&self, fault: Fault) {
        self.lock().opts.fault = fault;
    }

    /// The modem's end of a real UART: `bytes` arrived from the host on a
    /// line running at `baud`. Returns what the modem sends back.
    pub fn uart_receive(&self, baud: u32, bytes: &[u8]) -> Vec<u8> {
        let now = self.clock.now();
        let mut s = self.lock();
        s.update(now);
        s.record(now, Action::Tx(bytes.to_vec()));
        s.receive(now, Some(baud), bytes);
        let answer: Vec<u8> = s.rx.drain(..).collect();
        if !answer.is_empty() {
            s.record(now, Action::Rx(answer.clone()));
        }
        answer
    }

    /// Make the next attempt to drive `line` to `level` fail like a GPIO
    /// error would.
    pub fn fail_drive(&self, line: Line, level: Level) {
        self.lock().fail_drive = Some((line, level));
    }
}

impl State {
    fn record(&mut self, at: Duration, action: Action) {
        self.trace.push(Event { at, action });
    }

    fn violation(&mut self, at: Duration, what: String) {
        self.violations
            .push(format!("at {:.3} ms: {what}", at.as_secs_f64() * 1000.0));
    }

    /// Let time-driven modem transitions happen.
    fn update(&mut self, now: Duration) {
        if let Some(at) = self.wake_at {
            if now >= at {
                self.awake_since = Some(at);
                self.wake_at = None;
                self.writes_since_wake = 0;
            }
        }
    }

    fn level(&self, line: Line) -> Level {
        if line == Line::Inh {
            return Level::from_bool(self.awake_since.is_some());
        }
        match self.pins.get(&line).copied().unwrap_or(Pin::Released) {
            Pin::Driven(level) => level,
            Pin::Released => match line {
                Line::Freq => Level::Low,
                _ => Level::High,
            },
        }
    }

    fn set_pin(&mut self, now: Duration, line: Line, pin: Pin) {
        let before = self.level(line);
        self.pins.insert(line, pin);
        let after = self.level(line);
        if before == after {
            return;
        }
        match (line, after) {
            (Line::Sleep, Level::Low) => self.sleep_low_since = Some(now),
            (Line::Sleep, Level::High) => self.nsleep_pulse_ended(now),
            (Line::Cmd, Level::Low) => {
                self.cmd_low_since = Some(now);
                self.parser = Parser::Idle;
            }
            (Line::Cmd, Level::High) => {
                self.cmd_low_since = None;
                if self.parser != Parser::Idle {
                    self.violation(
                        now,
                        "CMD went high in the middle of a register write".into(),
                    );
                    self.parser = Parser::Idle;
                }
            }
            _ => {}
        }
    }

    fn nsleep_pulse_ended(&mut self, now: Duration) {
        let Some(fell) = self.sleep_low_since.take() else {
            return;
        };
        let width = now.saturating_sub(fell);
        if width < self.opts.min_pulse {
            self.violation(
                now,
                format!(
                    "nSLEEP pulse of {width:?} is shorter than {:?}",
                    self.opts.min_pulse
                ),
            );
            return;
        }
        if width > self.opts.max_pulse {
            // A long low level is a sleep request.
            self.awake_since = None;
            self.wake_at = None;
            return;
        }
        if self.opts.fault == Fault::NeverWake || self.awake_since.is_some() {
            return;
        }
        // A second pulse does not restart a wake already under way.
        if self.wake_at.is_none() {
            self.wake_at = Some(now + self.opts.wake_latency);
        }
    }

    /// Why the modem would not understand register bytes right now.
    fn register_access_problem(&self, now: Duration, baud: Option<u32>) -> Option<String> {
        let settle = self.opts.min_command_settle;
        let Some(low_since) = self.cmd_low_since else {
            return Some("not in command mode".into());
        };
        if now.saturating_sub(low_since) < settle {
            return Some(format!("sent within {settle:?} of CMD going low"));
        }
        if self.pins.get(&Line::Select).copied() != Some(Pin::Released) {
            return Some("SELECT is driven, the UART does not reach the modem".into());
        }
        let Some(awake) = self.awake_since else {
            return Some("the modem is asleep".into());
        };
        if now.saturating_sub(awake) < self.opts.wum_duration {
            return Some("the modem is still sending its wake-up message".into());
        }
        match baud {
            Some(b) if b == self.opts.register_baud => None,
            Some(b) => Some(format!(
                "UART at {b} Bd, registers need {} Bd",
                self.opts.register_baud
            )),
            None => Some("UART not open".into()),
        }
    }

    fn receive(&mut self, now: Duration, baud: Option<u32>, bytes: &[u8]) {
        if self.level(Line::Cmd) == Level::High {
            self.line_tx.extend_from_slice(bytes);
            return;
        }
        if let Some(problem) = self.register_access_problem(now, baud) {
            self.violation(now, format!("register bytes {bytes:02X?} lost: {problem}"));
            return;
        }
        for &b in bytes {
            self.parser = match self.parser {
                Parser::AwaitReg0 => {
                    self.store(|r| &mut r.reg0, b);
                    Parser::Idle
                }
                Parser::AwaitReg1 => {
                    self.store(|r| &mut r.reg1, b);
                    Parser::Idle
                }
                Parser::Idle => match b {
                    CMD_WRITE_REG0 => Parser::AwaitReg0,
                    CMD_WRITE_REG1 => Parser::AwaitReg1,
                    CMD_READ_REG0 => {
                        let mut v = self.regs.reg0 & 0x7F;
                        if self.opts.interference_detected {
                            v |= 0x80;
                        }
                        self.answer(v);
                        Parser::Idle
                    }
                    CMD_READ_REG1 => {
                        let mut v = self.regs.reg1;
                        if let Fault::CorruptReadBack(mask) = self.opts.fault {
                            v ^= mask;
                        }
                        self.answer(v);
                        Parser::Idle
                    }
                    other => {
                        self.violation(now, format!("unknown register command 0x{other:02X}"));
                        Parser::Idle
                    }
                },
            };
        }
    }

    fn store(&mut self, reg: fn(&mut Registers) -> &mut u8, value: u8) {
        self.writes_since_wake += 1;
        let dropped = match self.opts.fault {
            Fault::IgnoreWrites => true,
            // One write command = reg0 and reg1, so the first two stores.
            Fault::DropFirstWrite => self.writes_since_wake <= 2,
            _ => false,
        };
        if !dropped {
            *reg(&mut self.regs) = value;
        }
    }

    fn answer(&mut self, value: u8) {
        if self.opts.fault != Fault::NeverAnswer {
            self.rx.push_back(value);
        }
    }
}

impl HatIo for SimHat {
    fn drive(&mut self, line: Line, level: Level) -> Result<(), IoError> {
        let now = self.clock.now();
        let mut s = self.lock();
        s.update(now);
        if s.fail_drive == Some((line, level)) {
            s.fail_drive = None;
            return Err(IoError::new(format!("simulated GPIO failure on {line}")));
        }
        s.record(now, Action::Drive(line, level));
        if line == Line::Inh {
            s.violation(now, "host drove INH, an output of the modem".into());
            return Ok(());
        }
        s.set_pin(now, line, Pin::Driven(level));
        Ok(())
    }

    fn release(&mut self, line: Line) -> Result<(), IoError> {
        let now = self.clock.now();
        let mut s = self.lock();
        s.update(now);
        s.record(now, Action::Release(line));
        s.set_pin(now, line, Pin::Released);
        Ok(())
    }

    fn read(&mut self, line: Line) -> Result<Level, IoError> {
        let now = self.clock.now();
        let mut s = self.lock();
        s.update(now);
        let level = s.level(line);
        s.record(now, Action::Read(line, level));
        Ok(level)
    }

    fn open_port(&mut self, baud: u32) -> Result<(), IoError> {
        let now = self.clock.now();
        let mut s = self.lock();
        if s.port_baud.is_some() {
            s.violation(now, "UART opened twice".into());
        }
        s.record(now, Action::OpenPort(baud));
        s.port_baud = Some(baud);
        s.rx.clear();
        let chatter = s.opts.chatter_on_open.clone();
        s.rx.extend(chatter);
        Ok(())
    }

    fn close_port(&mut self) {
        let now = self.clock.now();
        let mut s = self.lock();
        if s.port_baud.take().is_some() {
            s.record(now, Action::ClosePort);
        }
    }

    fn clear_input(&mut self) -> Result<(), IoError> {
        let now = self.clock.now();
        let mut s = self.lock();
        if s.port_baud.is_none() {
            return Err(IoError::new("UART not open"));
        }
        let n = s.rx.len();
        s.rx.clear();
        s.record(now, Action::ClearInput(n));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        let now = self.clock.now();
        let mut s = self.lock();
        s.update(now);
        if s.port_baud.is_none() {
            return Err(IoError::new("UART not open"));
        }
        s.record(now, Action::Tx(bytes.to_vec()));
        let baud = s.port_baud;
        s.receive(now, baud, bytes);
        Ok(())
    }

    fn read_bytes(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>, IoError> {
        let short = {
            let s = self.lock();
            if s.port_baud.is_none() {
                return Err(IoError::new("UART not open"));
            }
            s.rx.len() < n
        };
        if short {
            // Nothing more will arrive: the whole timeout passes.
            self.clock.sleep(timeout);
        }
        let mut s = self.lock();
        let take = n.min(s.rx.len());
        let got: Vec<u8> = s.rx.drain(..take).collect();
        let now = self.clock.now();
        s.record(now, Action::Rx(got.clone()));
        Ok(got)
    }
}
