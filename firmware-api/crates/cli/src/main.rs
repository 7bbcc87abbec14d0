//! `opendcre-cli`: the OpenDCRE v1.1 API by name from an operator's machine.

mod commands;
mod config;
mod error;
mod http;
mod node;
mod output;
mod target;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::error::EXIT_CODES;
use crate::output::Format;

#[derive(Parser, Debug)]
#[command(
    name = "opendcre-cli",
    version,
    about = "Command-line client for OpenDCRE nodes",
    long_about = "Command-line client for OpenDCRE nodes: scan boards, read sensors, switch \
power and edit asset tags through a node's v1.1 REST API, naming devices by alias or \
asset tag instead of hex ids. Nodes are named contexts in ~/.config/opendcre/cli.toml \
(XDG_CONFIG_HOME respected); aliases are in aliases.toml beside it:\n\n    \
web-17 = { board = \"00000001\", device = \"0dff\" }\n\n\
A TARGET is BOARD/DEVICE in hex (00000001/0dff), an alias, or the asset tag of a power \
device (its whole text or first word), tried in that order. Asset tags are found with a \
scan and one asset read per power device, once per command, kept in memory only.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args, Debug)]
pub struct Global {
    /// Context to use instead of the file's `current`.
    #[arg(long, global = true, env = "OPENDCRE_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,
    /// The contexts file (default: $XDG_CONFIG_HOME/opendcre/cli.toml);
    /// aliases.toml is read from the same directory.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Talk to this node URL instead of a context (token from OPENDCRE_TOKEN
    /// if set). Given before the command.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// With --url: PEM bundle the node's certificate must chain to.
    #[arg(long, value_name = "FILE", requires = "url")]
    pub ca_file: Option<PathBuf>,
    /// With --url: client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires_all = ["url", "client_key"])]
    pub client_cert: Option<PathBuf>,
    /// With --url: the client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["url", "client_cert"])]
    pub client_key: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Bound on each request, in seconds (default: context's timeout_secs, else 30).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Bound on connecting (TCP and TLS), in seconds (default: context's
    /// connect_timeout_secs, else 5).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub connect_timeout: Option<f64>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Scan every board, or one (BOARD in hex).
    Scan { board: Option<String> },
    /// Read one device: `read thermistor 00000001/01ff`.
    Read {
        /// Device type (thermistor, humidity, temperature, …).
        #[arg(value_name = "TYPE")]
        kind: String,
        target: String,
    },
    /// Power control and status of a power device or BMC.
    Power { action: PowerAction, target: String },
    /// Asset information of a power device.
    #[command(subcommand)]
    Asset(AssetCmd),
    /// Poll devices and print rows whose values changed (Ctrl-C ends it).
    Watch {
        /// Pairs of TYPE TARGET; none: every device of a scan except type `none`.
        #[arg(value_name = "TYPE TARGET")]
        pairs: Vec<String>,
        /// Seconds between polls.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
        interval: f64,
        /// Stop after this many polls.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Where values come from: the node's telemetry cache (one request
        /// per poll) or live v1.1 reads (one per device); auto picks the
        /// cache where the node has one.
        #[arg(long, value_enum, default_value_t = crate::watch::Source::Auto)]
        source: crate::watch::Source,
    },
    /// The client's version; with BOARD also that board's firmware version.
    Version { board: Option<String> },
    /// Manage named contexts (nodes) in cli.toml.
    #[command(subcommand)]
    Context(ContextCmd),
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff).
    Man,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum PowerAction {
    On,
    Off,
    Cycle,
    Status,
}

#[derive(Subcommand, Debug)]
pub enum AssetCmd {
    /// Show the asset information.
    Get { target: String },
    /// Replace the asset information (1-127 characters, no `/`).
    Set { target: String, text: String },
}

#[derive(Subcommand, Debug)]
pub enum ContextCmd {
    /// Add a context (the first one becomes current).
    Add {
        name: String,
        /// Base URL, e.g. https://node-a:5443
        url: String,
        /// PEM bundle the node's certificate must chain to.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Client certificate (PEM) for nodes that take mutual TLS.
        #[arg(long, value_name = "FILE", requires = "client_key")]
        client_cert: Option<PathBuf>,
        /// The client certificate's private key (PEM, mode 0600).
        #[arg(long, value_name = "FILE", requires = "client_cert")]
        client_key: Option<PathBuf>,
        /// File whose first line is the bearer token.
        #[arg(long, value_name = "FILE", conflicts_with = "token_env")]
        token_file: Option<PathBuf>,
        /// Environment variable holding the bearer token.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        #[arg(long, value_name = "SECONDS")]
        timeout_secs: Option<f64>,
        #[arg(long, value_name = "SECONDS")]
        connect_timeout_secs: Option<f64>,
        /// Replace a context of that name.
        #[arg(long)]
        force: bool,
        /// Make it the current context.
        #[arg(long = "use")]
        make_current: bool,
    },
    /// Make a context the current one.
    Use { name: String },
    /// List contexts (tokens are never shown, only where they come from).
    List,
    /// Remove a context.
    Remove { name: String },
}

fn main() -> ExitCode {
    // SAFETY: signal(2) with SIG_DFL installs no handler code; done before any
    // thread starts. Piped into `head`, the client should end quietly like
    // other Unix tools instead of panicking on EPIPE in println!.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("opendcre-cli: cannot start the runtime: {e}");
            return ExitCode::from(error::Exit::Usage as u8);
        }
    };
    match rt.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opendcre-cli: {e}");
            ExitCode::from(e.exit as u8)
        }
    }
}

/// The clap definition, for completions and the man page.
pub fn command() -> clap::Command {
    Cli::command()
}
