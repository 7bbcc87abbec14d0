//! `opendcre hat status|configure`: the operator's view of the modem, and
//! the boot test's way to run the bring-up without the service.
//!
//! Exit codes: 0 success (and `status` without a HAT), 1 failure (bad
//! configuration, hardware error, bring-up failed), 3 `configure` found no
//! HAT to configure.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use opendcre_hat::bringup::{self, HatStatus, ModemReading, RegisterDump};
use opendcre_hat::config::{HatConfig, PinConfig};
use opendcre_hat::detect::{detect, Detection};
use opendcre_hat::error::HatError;
use opendcre_hat::io::SystemSleeper;
use opendcre_hat::rppal_io::open_rppal;

/// The configuration file the packaging installs.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/opendcre/opendcre.toml";

/// Exit code of `hat configure` when there is no HAT.
pub(crate) const EXIT_NO_HAT: u8 = 3;

#[derive(Debug, clap::Args)]
pub struct HatArgs {
    #[command(subcommand)]
    pub command: HatCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum HatCommand {
    /// Show whether the modem HAT is there and whether the modem is awake.
    /// Safe next to a running service: only INH is read.
    Status {
        /// Service configuration file, whose `hat` table is used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also read the modem registers. This puts the modem into command
        /// mode and takes the UART: stop the service first.
        #[arg(long)]
        registers: bool,
        /// Wake a sleeping modem to read its registers (this sends a
        /// wake-up message to every node on the bus); implies --registers.
        #[arg(long)]
        wake: bool,
    },
    /// Wake, configure and verify the modem as the service does at start.
    /// Stop the service first: it holds the UART.
    Configure {
        /// Service configuration file, whose `hat` table is used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: HatArgs) -> ExitCode {
    match args.command {
        HatCommand::Status {
            config,
            json,
            registers,
            wake,
        } => status(config.as_deref(), json, registers || wake, wake),
        HatCommand::Configure { config, json } => configure(config.as_deref(), json),
    }
}

/// An explicit `--config` must exist; the default file is optional, since a
/// node without one runs on the built-in defaults.
fn load_config(path: Option<&Path>) -> Result<HatConfig, HatError> {
    match path {
        Some(p) => HatConfig::load(p),
        None if Path::new(DEFAULT_CONFIG).exists() => HatConfig::load(Path::new(DEFAULT_CONFIG)),
        None => Ok(HatConfig::default()),
    }
}

#[derive(Serialize)]
struct StatusReport<'a> {
    detection: &'a Detection,
    uart: &'a Path,
    pins: &'a PinConfig,
    modem: Option<&'a ModemReading>,
    error: Option<String>,
}

#[derive(Serialize)]
struct ConfigureReport<'a> {
    detection: &'a Detection,
    status: Option<&'a HatStatus>,
    error: Option<String>,
}

fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot encode the report as JSON: {e}"),
    }
}

fn status(config: Option<&Path>, json: bool, registers: bool, wake: bool) -> ExitCode {
    let cfg = match load_config(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("opendcre hat status: {e}");
            return ExitCode::FAILURE;
        }
    };
    let detection = detect(&cfg);
    let (reading, error) = if detection.has_modem() {
        match open_rppal(&cfg).and_then(|mut hat| {
            if registers {
                bringup::read_modem(&mut hat, &cfg, &SystemSleeper::new(), wake)
            } else {
                bringup::read_awake(&mut hat)
            }
        }) {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    if json {
        print_json(&StatusReport {
            detection: &detection,
            uart: &cfg.uart,
            pins: &cfg.pins,
            modem: reading.as_ref(),
            error: error.clone(),
        });
    } else {
        println!("{}", detection.describe());
        if detection.has_modem() {
            print_pins(&cfg);
        }
        if let Some(r) = &reading {
            print_reading(r);
        }
        if let Some(e) = &error {
            println!("error: {e}");
        }
    }
    if error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn configure(config: Option<&Path>, json: bool) -> ExitCode {
    let cfg = match load_config(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("opendcre hat configure: {e}");
            return ExitCode::FAILURE;
        }
    };
    let detection = detect(&cfg);
    if !detection.has_modem() {
        if json {
            print_json(&ConfigureReport {
                detection: &detection,
                status: None,
                error: Some("no HAT to configure".into()),
            });
        } else {
            println!("{}", detection.describe());
            println!("nothing configured");
        }
        return ExitCode::from(EXIT_NO_HAT);
    }
    let result = open_rppal(&cfg)
        .and_then(|mut hat| bringup::bring_up(&mut hat, &cfg, &SystemSleeper::new()));
    let (status, error) = match result {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    if json {
        print_json(&ConfigureReport {
            detection: &detection,
            status: status.as_ref(),
            error: error.clone(),
        });
    } else {
        println!("{}", detection.describe());
        print_pins(&cfg);
        if let Some(s) = &status {
            if s.wake.woke {
                println!(
                    "modem woken with {} nSLEEP pulse(s) in {:.1} ms",
                    s.wake.pulses, s.wake.elapsed_ms
                );
            } else {
                println!("modem was awake");
            }
            println!("written and verified:");
            print_registers(&s.read_back);
            println!(
                "bring-up took {:.1} ms; the bus must run at {} Bd",
                s.elapsed_ms, s.bus_baud
            );
        }
        if let Some(e) = &error {
            println!("error: {e}");
        }
    }
    if error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_pins(cfg: &HatConfig) {
    let p = &cfg.pins;
    println!(
        "UART {} | BCM GPIO: CMD {} FREQ {} INH {} nSLEEP {} SELECT {} (HDI {} HDO {} stay with the UART)",
        cfg.uart.display(),
        p.cmd,
        p.freq,
        p.inh,
        p.sleep,
        p.select,
        p.hdi,
        p.hdo
    );
}

fn print_reading(r: &ModemReading) {
    if let Some(w) = &r.wake {
        if w.woke {
            println!("modem woken with {} nSLEEP pulse(s)", w.pulses);
        }
    }
    println!(
        "modem: {}",
        if r.awake {
            "awake (INH high)"
        } else {
            "asleep (INH low)"
        }
    );
    match &r.registers {
        Some(regs) => print_registers(regs),
        None if r.awake => {
            println!("registers not read (use --registers with the service stopped)")
        }
        None => println!("registers not read: the modem sleeps (use --wake to wake it)"),
    }
}

fn print_registers(d: &RegisterDump) {
    let c = &d.plc_config;
    let on = |b: bool| if b { "on" } else { "off" };
    println!("  reg0 = 0x{:02X}, reg1 = 0x{:02X}", d.reg0, d.reg1);
    println!(
        "  frequency_number {} (f0 {} MHz, f1 {} MHz), bit_rate {}",
        c.frequency_number, c.f0, c.f1, c.bit_rate
    );
    println!(
        "  long_wum {}, auto_sleep {}, auto_wum {}, loopback_enabled {}, remote_loopback {}, \
         interference_hopping {}, interference_detected {}",
        on(c.long_wum),
        on(c.auto_sleep),
        on(c.auto_wum),
        on(c.loopback_enabled),
        on(c.remote_loopback),
        on(c.interference_hopping),
        if c.interference_detected { "yes" } else { "no" }
    );
}
