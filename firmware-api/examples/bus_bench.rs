//! Bus benchmark: transactions per second between the bus actor and the
//! emulator over a real pty, unpaced and paced at 115200 baud, next to the
//! wire ceiling; and scan latency of a 25-device board for several
//! end-of-scan silence windows. Prints numbers; asserts nothing.
//!
//! `cargo run --release --example bus_bench`

use std::time::{Duration, Instant};

use opendcre_bus::{self as bus, BusConfig, Request, ScanTarget, SerialOpener};
use opendcre_emulator::{spawn_pty, EmulatorConfig, RunOptions};
use opendcre_proto::{Command, DeviceType, Frame};

const BAUD: u32 = 115_200;
const BYTES_PER_SEC: f64 = BAUD as f64 / 10.0;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/emulator-configs/rack.json");
    let cfg = EmulatorConfig::load(std::path::Path::new(path))?;
    let big = cfg
        .boards
        .iter()
        .find(|b| b.devices.len() == 25)
        .expect("rack.json has a 25-device board");
    let big_id = big.board_id;
    let therm = big
        .devices
        .iter()
        .find(|d| d.device_type == DeviceType::THERMISTOR)
        .expect("a thermistor on the 25-device board");
    let therm_id = therm.device_id;

    println!("wire ceiling at {BAUD} baud (8N1, {BYTES_PER_SEC:.0} B/s):");
    let req = Frame {
        sequence: 1,
        device_type: 0x9C,
        board_id: big_id,
        device_id: therm_id,
        data: b"R".to_vec(),
    };
    let ans_len = 12 + 3; // a three-digit reading
    let per_tx = req.wire_len() + ans_len;
    println!(
        "  read: {} B request + {ans_len} B answer = {per_tx} B → {:.0} tx/s",
        req.wire_len(),
        BYTES_PER_SEC / per_tx as f64
    );
    let scan_bytes = 13 + 25 * 13;
    println!(
        "  scan of 25 devices: {scan_bytes} B → {:.1} ms on the wire",
        scan_bytes as f64 / BYTES_PER_SEC * 1000.0
    );

    for pace in [false, true] {
        let (pty, _emu) = spawn_pty(
            EmulatorConfig::load(std::path::Path::new(path))?,
            RunOptions {
                baud: BAUD,
                pace,
                ..RunOptions::default()
            },
        )
        .await?;
        let opener = SerialOpener {
            path: pty.to_string_lossy().into_owned(),
            baud: BAUD,
        };
        let (handle, _task) = bus::spawn(opener, BusConfig::default());
        let label = if pace {
            "paced at 115200"
        } else {
            "unpaced pty"
        };
        let n = if pace { 400 } else { 3000 };
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let s = Instant::now();
            let r = Request {
                device_type: DeviceType::THERMISTOR.0,
                board_id: big_id,
                device_id: therm_id,
                command: Command::Read,
            };
            handle
                .command(r, tokio::time::Instant::now() + Duration::from_secs(5))
                .await?;
            lat.push(s.elapsed());
        }
        let total = t0.elapsed().as_secs_f64();
        lat.sort();
        println!(
            "read, {label}: {:.0} tx/s ({n} sequential), p50 {:.3} ms, p99 {:.3} ms",
            n as f64 / total,
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
        for silence_ms in [250u64, 75, 25] {
            let (pty, _emu) = spawn_pty(
                EmulatorConfig::load(std::path::Path::new(path))?,
                RunOptions {
                    baud: BAUD,
                    pace,
                    ..RunOptions::default()
                },
            )
            .await?;
            let opener = SerialOpener {
                path: pty.to_string_lossy().into_owned(),
                baud: BAUD,
            };
            let bus_cfg = BusConfig {
                scan_silence: Duration::from_millis(silence_ms),
                ..BusConfig::default()
            };
            let (handle, _task) = bus::spawn(opener, bus_cfg);
            let mut lat = Vec::new();
            for _ in 0..30 {
                let s = Instant::now();
                let boards = handle
                    .scan(
                        ScanTarget::Board(big_id),
                        tokio::time::Instant::now() + Duration::from_secs(5),
                    )
                    .await?;
                lat.push(s.elapsed());
                assert_eq!(boards[0].devices.len(), 25);
            }
            lat.sort();
            println!(
                "scan of 25 devices, {label}, silence {silence_ms} ms: p50 {:.1} ms, p99 {:.1} ms ({:.1} scans/s)",
                pct(&lat, 0.5),
                pct(&lat, 0.99),
                1000.0 / pct(&lat, 0.5)
            );
        }
    }
    Ok(())
}
