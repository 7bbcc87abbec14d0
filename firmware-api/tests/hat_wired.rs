//! The bring-up over a real UART: the register bytes go through rppal's
//! termios code on a pseudo-terminal to a thread that plays the modem (the
//! simulated SIG60, on real time). Only the GPIO lines are simulated.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use opendcre_hat::port::RegisterPort;
use opendcre_hat::sim::{Fault, SimHat, SimOptions};
use opendcre_hat::{
    bring_up, HatConfig, HatError, HatIo, IoError, Level, Line, Registers, SystemSleeper,
};

/// Simulated lines, real register port.
struct WiredHat {
    lines: SimHat,
    uart: PathBuf,
    port: Option<RegisterPort>,
}

impl WiredHat {
    fn port(&mut self) -> Result<&mut RegisterPort, IoError> {
        self.port.as_mut().ok_or_else(|| IoError::new("not open"))
    }
}

impl HatIo for WiredHat {
    fn drive(&mut self, line: Line, level: Level) -> Result<(), IoError> {
        self.lines.drive(line, level)
    }
    fn release(&mut self, line: Line) -> Result<(), IoError> {
        self.lines.release(line)
    }
    fn read(&mut self, line: Line) -> Result<Level, IoError> {
        self.lines.read(line)
    }
    fn open_port(&mut self, baud: u32) -> Result<(), IoError> {
        self.port = Some(RegisterPort::open(&self.uart, baud)?);
        Ok(())
    }
    fn close_port(&mut self) {
        self.port = None;
    }
    fn clear_input(&mut self) -> Result<(), IoError> {
        self.port()?.clear_input()
    }
    fn write(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.port()?.write_all(bytes)
    }
    fn read_bytes(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>, IoError> {
        self.port()?.read_up_to(n, timeout)
    }
}

/// The line speed the host set on the pty (what rppal configured).
fn line_speed(fd: i32) -> u32 {
    // SAFETY: tcgetattr fills the zeroed termios for a valid tty fd.
    let speed = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return 0;
        }
        libc::cfgetospeed(&t)
    };
    match speed {
        libc::B9600 => 9600,
        libc::B19200 => 19200,
        libc::B38400 => 38400,
        libc::B57600 => 57600,
        libc::B115200 => 115200,
        _ => 0,
    }
}

struct Wire {
    hat: WiredHat,
    modem: SimHat,
    slave: OwnedFd,
    thread: JoinHandle<()>,
}

fn wire(opts: SimOptions) -> Wire {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds; the optional pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: fresh fds from openpty, owned here.
    let (mut master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();

    let modem = SimHat::new(Arc::new(SystemSleeper::new()), opts);
    let slave_fd = slave.as_raw_fd();
    let thread = std::thread::spawn({
        let modem = modem.clone();
        move || {
            let mut buf = [0u8; 64];
            // Ends with EIO once every slave fd is closed.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                let answer = modem.uart_receive(line_speed(slave_fd), &buf[..n]);
                if master.write_all(&answer).is_err() {
                    break;
                }
            }
        }
    });
    Wire {
        hat: WiredHat {
            lines: modem.clone(),
            uart: path,
            port: None,
        },
        modem,
        slave,
        thread,
    }
}

impl Wire {
    fn finish(self) -> SimHat {
        drop(self.hat);
        drop(self.slave);
        self.thread.join().unwrap();
        self.modem
    }
}

#[test]
fn bring_up_over_a_real_uart() {
    let mut w = wire(SimOptions::default());
    let status = bring_up(&mut w.hat, &HatConfig::default(), &SystemSleeper::new()).unwrap();
    assert_eq!(
        status.read_back.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
    assert!(status.wake.woke);
    // At least the fixed delays: 1 + 1 + 150 ms wake, 3 × 3 ms of windows.
    assert!(status.elapsed_ms >= 161.0, "{status:?}");
    eprintln!("bring-up over the pty took {:.1} ms", status.elapsed_ms);
    let modem = w.finish();
    assert_eq!(
        modem.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
    assert!(modem.violations().is_empty(), "{:?}", modem.violations());
}

#[test]
fn silent_modem_on_a_real_uart_times_out() {
    let mut w = wire(SimOptions {
        fault: Fault::NeverAnswer,
        ..SimOptions::default()
    });
    let err = bring_up(&mut w.hat, &HatConfig::default(), &SystemSleeper::new()).unwrap_err();
    assert!(
        matches!(err, HatError::NoAnswer { command: 0x0D, .. }),
        "{err:?}"
    );
    let modem = w.finish();
    // The writes did reach it.
    assert_eq!(
        modem.registers(),
        Registers {
            reg0: 0x69,
            reg1: 0x29
        }
    );
    assert_eq!(modem.level(Line::Cmd), Level::High);
}

#[test]
fn register_speed_set_by_rppal_is_what_the_modem_checks() {
    let mut w = wire(SimOptions::default());
    let mut cfg = HatConfig::default();
    cfg.timing.register_baud = 38400;
    cfg.timing.register_timeout_ms = 50;
    assert!(bring_up(&mut w.hat, &cfg, &SystemSleeper::new()).is_err());
    let modem = w.finish();
    let v = modem.violations();
    assert!(v.iter().any(|m| m.contains("UART at 38400 Bd")), "{v:?}");
}
