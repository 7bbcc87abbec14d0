//! [`HatIo`] on a real Raspberry Pi: the control lines through rppal's GPIO
//! (memory-mapped `/dev/gpiomem`), the register port through rppal's UART.
//! Dropping a [`RppalHat`] returns every claimed pin to the mode it had
//! before (rppal's reset-on-drop), like the original's `GPIO.cleanup()`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rppal::gpio::{Gpio, InputPin, IoPin, Mode};

use super::config::HatConfig;
use super::error::{HatError, IoError};
use super::io::{HatIo, Level, Line};
use super::port::RegisterPort;

pub struct RppalHat {
    cmd: IoPin,
    freq: IoPin,
    sleep: IoPin,
    select: IoPin,
    inh: InputPin,
    uart: PathBuf,
    port: Option<RegisterPort>,
}

/// Claim the modem's GPIO lines without changing them. Fails
/// off a Pi, without access to `/dev/gpiomem`, or when a line is in use.
pub fn open_rppal(cfg: &HatConfig) -> Result<RppalHat, HatError> {
    cfg.validate()?;
    let gpio = Gpio::new().map_err(|e| HatError::Open(explain_gpio_error(e)))?;
    let pins = &cfg.pins;
    let take = |name: &str, bcm: u8| {
        gpio.get(bcm)
            .map_err(|e| HatError::Open(format!("{name} (GPIO {bcm}): {e}")))
    };
    // Claimed in whatever mode they are in, so that opening (e.g. for
    // `hat status` next to a running service) changes nothing; the mode a
    // line had here is what rppal restores when the handle is dropped.
    let as_is = |pin: rppal::gpio::Pin| {
        let mode = pin.mode();
        pin.into_io(mode)
    };
    Ok(RppalHat {
        cmd: as_is(take("CMD", pins.cmd)?),
        freq: as_is(take("FREQ", pins.freq)?),
        sleep: as_is(take("nSLEEP", pins.sleep)?),
        select: as_is(take("SELECT", pins.select)?),
        // An input without pull resistor, as the original's RPi.GPIO set it
        // up: INH is driven by the modem.
        inh: take("INH", pins.inh)?.into_input(),
        uart: cfg.uart.clone(),
        port: None,
    })
}

/// rppal maps the GPIO registers through `/dev/gpiomem` (a Raspberry Pi
/// kernel driver) or, failing that, `/dev/mem`. Debian's armmp kernel has no
/// gpiomem and sets CONFIG_IO_STRICT_DEVMEM, so even root is refused the
/// registers that the pinctrl driver owns unless the kernel command line
/// carries `iomem=relaxed`; say so instead of a bare "permission denied".
fn explain_gpio_error(e: rppal::gpio::Error) -> String {
    match e {
        rppal::gpio::Error::UnknownModel => {
            "this board is not a Raspberry Pi that rppal knows".to_string()
        }
        rppal::gpio::Error::PermissionDenied(path) => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let root = unsafe { libc::geteuid() } == 0;
            let gpiomem = Path::new("/dev/gpiomem").exists();
            if root && !gpiomem {
                format!(
                    "the kernel refuses access to the GPIO registers through {path}: there is no \
                     /dev/gpiomem and CONFIG_IO_STRICT_DEVMEM is in force; boot with \
                     iomem=relaxed on the kernel command line"
                )
            } else if root {
                format!("permission denied on {path}")
            } else {
                format!("permission denied on {path}: run as root")
            }
        }
        other => format!("GPIO: {other}"),
    }
}

impl RppalHat {
    fn io_pin(&mut self, line: Line) -> Result<&mut IoPin, IoError> {
        match line {
            Line::Cmd => Ok(&mut self.cmd),
            Line::Freq => Ok(&mut self.freq),
            Line::Sleep => Ok(&mut self.sleep),
            Line::Select => Ok(&mut self.select),
            Line::Inh => Err(IoError::new("INH is an input driven by the modem")),
        }
    }

    fn port(&mut self) -> Result<&mut RegisterPort, IoError> {
        self.port
            .as_mut()
            .ok_or_else(|| IoError::new("register UART is not open"))
    }
}

fn rppal_level(level: Level) -> rppal::gpio::Level {
    match level {
        Level::Low => rppal::gpio::Level::Low,
        Level::High => rppal::gpio::Level::High,
    }
}

fn our_level(level: rppal::gpio::Level) -> Level {
    Level::from_bool(level == rppal::gpio::Level::High)
}

impl HatIo for RppalHat {
    fn drive(&mut self, line: Line, level: Level) -> Result<(), IoError> {
        let pin = self.io_pin(line)?;
        pin.write(rppal_level(level));
        pin.set_mode(Mode::Output);
        Ok(())
    }

    fn release(&mut self, line: Line) -> Result<(), IoError> {
        self.io_pin(line)?.set_mode(Mode::Input);
        Ok(())
    }

    fn read(&mut self, line: Line) -> Result<Level, IoError> {
        let level = match line {
            Line::Inh => self.inh.read(),
            other => self.io_pin(other)?.read(),
        };
        Ok(our_level(level))
    }

    fn open_port(&mut self, baud: u32) -> Result<(), IoError> {
        self.port = None;
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
