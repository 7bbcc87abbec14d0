//! The `opendcre` binary: command-line entry point.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "opendcre", version, about = "OpenDCRE service and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The PLC modem HAT: status and configuration.
    Hat(opendcre::hat::cli::HatArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Hat(args) => opendcre::hat::cli::run(args),
    }
}
