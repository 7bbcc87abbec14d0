//! `opendcre emulate`: run the device-bus emulator from the command line.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};
use tracing::info;

use opendcre_emulator::config::EmulatorConfig;
use opendcre_emulator::run::{serve_port, spawn_pty, RunOptions};

/// Arguments of `opendcre emulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulateArgs {
    /// Emulator JSON (the original emulator's format, spec §5.2/§5.4).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: PathBuf,
    /// Serve an existing serial device (a UART, or one end of a socat pair).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["pty", "link"])]
    pub port: Option<PathBuf>,
    /// Serve a fresh pty and print `pty: <slave path>` on stdout (the default).
    #[arg(long)]
    pub pty: bool,
    /// Also create a symlink to the pty slave here (like socat's `link=`).
    #[arg(long, value_name = "PATH")]
    pub link: Option<PathBuf>,
    /// Line speed in bit/s (8N1: 10 bits per byte).
    #[arg(long, default_value_t = 115_200, value_parser = clap::value_parser!(u32).range(1..))]
    pub baud: u32,
    /// Pace output at the line speed; a pty otherwise delivers instantly.
    #[arg(long)]
    pub pace: bool,
    /// Device think time before each answer, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub response_delay_ms: u64,
}

/// Logging to stderr unless the caller already installed a subscriber.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

/// Runs the emulator until SIGINT or SIGTERM.
pub async fn run(args: EmulateArgs) -> anyhow::Result<()> {
    init_logging();
    let config = EmulatorConfig::load(&args.config)?;
    let opts = RunOptions {
        baud: args.baud,
        pace: args.pace,
        response_delay: Duration::from_millis(args.response_delay_ms),
        link: args.link.clone(),
    };
    // Handlers first: a harness may signal us as soon as it reads the pty line.
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot install SIGINT handler")?;
    let stop = async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: emulator stopping"),
            _ = int.recv() => info!("SIGINT: emulator stopping"),
        }
    };
    match args.port {
        Some(path) => {
            tokio::select! {
                _ = stop => {}
                _ = serve_port(config, path, opts) => {}
            }
        }
        None => {
            let (path, mut task) = spawn_pty(config, opts).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "pty: {}", path.display()).context("cannot write to stdout")?;
            out.flush().context("cannot flush stdout")?;
            drop(out);
            tokio::select! {
                _ = stop => {}
                r = &mut task => {
                    r.context("emulator task failed")?;
                    anyhow::bail!("emulator task ended unexpectedly");
                }
            }
            // Await the abort so the pty and the symlink are gone before exit.
            task.abort();
            let _ = task.await;
        }
    }
    Ok(())
}
