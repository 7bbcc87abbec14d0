//! The `opendcre` binary: parses the command line and hands over to the
//! library. Exit codes: 0 success, 1 runtime failure, 2 usage/config error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "opendcre",
    version,
    about = "OpenDCRE v1.1 compatible data-center runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the OpenDCRE REST API over the device bus.
    Serve(opendcre::service::ServeArgs),
    /// Run the device-bus emulator on a pty or a serial port.
    Emulate(opendcre::cli::emulate::EmulateArgs),
    /// The PLC modem HAT: status and configuration.
    Hat(opendcre::cli::hat::HatArgs),
    /// API security: token hashes, first-boot TLS and token material.
    Auth {
        #[command(subcommand)]
        command: opendcre::cli::auth::AuthCommand,
    },
    /// Find OpenDCRE nodes (DNS-SD or a probe of an address range) and write
    /// a Prometheus file_sd file for them.
    Discover(opendcre::cli::discover::DiscoverArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        // The HAT commands have their own exit codes (3 = no HAT found).
        Cmd::Hat(args) => return opendcre::cli::hat::run(args),
        Cmd::Serve(args) => opendcre::service::run(args),
        Cmd::Auth { command } => opendcre::cli::auth::run(&command),
        Cmd::Emulate(args) => {
            runtime().and_then(|rt| rt.block_on(opendcre::cli::emulate::run(args)))
        }
        Cmd::Discover(args) => {
            runtime().and_then(|rt| rt.block_on(opendcre::cli::discover::run(args)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opendcre: {e:#}");
            if e.downcast_ref::<opendcre::config::ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
