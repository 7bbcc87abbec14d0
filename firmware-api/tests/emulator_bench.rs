//! Emulator latency numbers (not pass/fail timing tests):
//!
//! ```text
//! cargo test --release -p opendcre --test integration emulator_bench:: -- --ignored --nocapture
//! ```
//!
//! Measures, over a real pty through tokio-serial, the time from writing a
//! request until the last byte of the answer is in: a single read, and a scan
//! of the 25-device board of `rack.json`, unpaced and paced at 115200 baud;
//! plus the pure engine cost of that scan.

use std::path::Path;
use std::time::{Duration, Instant};

use opendcre_emulator::{spawn_pty, Emulator, EmulatorConfig, RunOptions};
use opendcre_proto::{Frame, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPortBuilderExt, SerialStream};

fn rack() -> EmulatorConfig {
    EmulatorConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("emulator-configs/rack.json"))
        .unwrap()
}

fn request(seq: u8, ty: u8, board: u32, dev: u16, data: &[u8]) -> Vec<u8> {
    Frame {
        sequence: seq,
        device_type: ty,
        board_id: board,
        device_id: dev,
        data: data.to_vec(),
    }
    .encode()
    .unwrap()
}

/// Writes the request and reads until `frames` complete frames arrived.
async fn round_trip(port: &mut SerialStream, req: &[u8], frames: usize) -> Duration {
    let started = Instant::now();
    port.write_all(req).await.unwrap();
    let mut dec = FrameDecoder::new();
    let mut buf = [0u8; 512];
    let mut seen = 0;
    while seen < frames {
        let n = tokio::time::timeout(Duration::from_secs(5), port.read(&mut buf))
            .await
            .expect("answer")
            .unwrap();
        dec.push(&buf[..n]);
        while let Some(f) = dec.next_frame() {
            f.unwrap();
            seen += 1;
        }
    }
    started.elapsed()
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{name:<34} n={:<5} median {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}",
        samples.len(),
        pick(0.5),
        pick(0.99),
        samples[samples.len() - 1]
    );
}

async fn measure(pace: bool) {
    let opts = RunOptions {
        pace,
        ..RunOptions::default()
    };
    let (path, task) = spawn_pty(rack(), opts).await.unwrap();
    let mut port = tokio_serial::new(path.to_string_lossy(), 115_200)
        .open_native_async()
        .unwrap();
    let label = if pace { "paced 115200" } else { "unpaced" };
    let n = if pace { 200 } else { 2000 };
    let mut reads = Vec::with_capacity(n);
    for i in 0..n {
        let req = request(i as u8, 0x9C, 1, 0x01ff, b"R");
        reads.push(round_trip(&mut port, &req, 1).await);
    }
    summary(&format!("read thermistor ({label})"), reads);
    let mut scans = Vec::with_capacity(n / 4);
    for i in 0..n / 4 {
        let req = request(i as u8, 0xFF, 1, 0xFFFF, b"D");
        scans.push(round_trip(&mut port, &req, 25).await);
    }
    summary(&format!("scan 25 devices ({label})"), scans);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with --ignored --nocapture"]
async fn emulator_latency() {
    let mut emu = Emulator::from_config(rack());
    let scan = Frame {
        sequence: 1,
        device_type: 0xFF,
        board_id: 1,
        device_id: 0xFFFF,
        data: b"D".to_vec(),
    };
    let rounds = 100_000;
    let started = Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        bytes += emu.handle(&scan).len();
    }
    let per = started.elapsed() / rounds;
    assert_eq!(bytes, 25 * rounds as usize);
    println!("engine: 25-device scan answer      {per:?} per request");
    measure(false).await;
    measure(true).await;
}
