//! Runs the bus emulator inside the service (`serve --emulator FILE`, or the
//! example rack on a developer machine) and tells the bus where to connect.

use std::path::Path;

use anyhow::Context as _;

use opendcre_emulator::{spawn_pty, EmulatorConfig, RunOptions};

/// The example rack, built in so `opendcre serve` works with no files at all.
const EXAMPLE_RACK: &str = include_str!("../emulator-configs/rack.json");

/// Starts the emulator on a fresh pty; returns the pty path for the bus.
pub(crate) async fn start(config: Option<&Path>, baud: u32, pace: bool) -> anyhow::Result<String> {
    let cfg = match config {
        Some(path) => EmulatorConfig::load(path)
            .with_context(|| format!("emulator config {}", path.display()))?,
        None => EmulatorConfig::from_json_str(EXAMPLE_RACK).context("built-in example rack")?,
    };
    let opts = RunOptions {
        baud,
        pace,
        ..RunOptions::default()
    };
    let (path, _task) = spawn_pty(cfg, opts).await?;
    tracing::info!(pty = %path.display(), pace, "built-in bus emulator running");
    Ok(path.to_string_lossy().into_owned())
}
