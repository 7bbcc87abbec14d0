//! Thermistor reads under line noise (issue 14): the real bus actor against
//! the emulator on a real pty, with the emulator's seeded `line_noise`
//! damaging about a third of all answers, retransmissions included: 15 %
//! junk bytes before the frame, 10 % truncated, 10 % bad checksum.
//!
//! The measurement (not a pass/fail test; prints a table row):
//!
//! ```text
//! cargo test -p opendcre --test integration bus_noise::measure -- --ignored --nocapture
//! NOISE_READS=5000 NOISE_SEED=3 NOISE_PACE=0 NOISE_STRICT=1 NOISE_SCALE=0 cargo test ... (same)
//! ```
//!
//! (defaults: 2000 reads, seed 14, paced at 115200 baud, `sequence_check = "compat"`,
//! the issue's fault rates times `NOISE_SCALE` = 1; 0 is a clean line),
//! and the loss causes offline, by fault and by what the old reader made of it:
//!
//! ```text
//! cargo test -p opendcre --test integration bus_noise::diagnose -- --ignored --nocapture
//! ```
//!
//! The check in the normal suite is a correctness property of one fixed seed:
//! with four attempts per read, independent attempts would lose
//! 0.35^4 ≈ 1.5 % of reads, so more than 2 % failed means retried answers are
//! being lost, and a single wrong value means a damaged answer was believed.

use std::collections::BTreeMap;
use std::time::Duration;

use opendcre_bus::{BusConfig, BusError, Request, SequenceCheck, SerialOpener};
use opendcre_emulator::{spawn_pty, Emulator, EmulatorConfig, RunOptions};
use opendcre_proto::frame::HEADER;
use opendcre_proto::{Command, Frame, FrameDecoder};
use tokio::time::Instant;

/// The value the emulated thermistor always answers: any other accepted
/// answer is a wrong value.
const VALUE: &[u8] = b"656";

/// The issue's fault rates, times `scale` (0 = a clean line).
fn noisy_config(seed: u64, scale: f64) -> EmulatorConfig {
    let (junk, truncate, bad_checksum) = (0.15 * scale, 0.10 * scale, 0.10 * scale);
    EmulatorConfig::from_json_str(&format!(
        r#"{{"line_noise": {{"seed": {seed}, "junk": {junk}, "truncate": {truncate}, "bad_checksum": {bad_checksum}}},
            "boards": [{{"board_id": "00000001", "devices": [
              {{"device_id": "01ff", "device_type": "thermistor",
                "read": {{"repeatable": true, "responses": [656]}}}}]}}]}}"#
    ))
    .unwrap()
}

#[derive(Default)]
struct Outcome {
    ok: usize,
    wrong: usize,
    /// Failures by the way they ended.
    failed: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
}

impl Outcome {
    fn failed_total(&self) -> usize {
        self.failed.values().sum()
    }

    fn row(&mut self, label: &str) -> String {
        let n = self.latencies.len();
        self.latencies.sort();
        let mean = self.latencies.iter().sum::<Duration>() / n.max(1) as u32;
        let p99 = self.latencies[((n - 1) as f64 * 0.99) as usize];
        format!(
            "{label}: n={n} ok={} failed={} ({:.2} %) wrong={} mean={mean:.1?} p99={p99:.1?} max={:.1?} causes={:?}",
            self.ok,
            self.failed_total(),
            self.failed_total() as f64 * 100.0 / n as f64,
            self.wrong,
            self.latencies[n - 1],
            self.failed
        )
    }
}

fn cause(e: &BusError) -> String {
    match e {
        BusError::Timeout { cmd, .. } => format!("timeout after {cmd}"),
        BusError::Corrupt { error, .. } => {
            let class = if error.is_checksum() {
                "checksum"
            } else {
                "data"
            };
            format!("corrupt ({class}) after all attempts")
        }
        other => format!("{other}"),
    }
}

async fn noisy_reads(
    config: EmulatorConfig,
    reads: usize,
    pace: bool,
    check: SequenceCheck,
) -> Outcome {
    let opts = RunOptions {
        pace,
        ..RunOptions::default()
    };
    let (path, emulator) = spawn_pty(config, opts).await.unwrap();
    let (bus, actor) = opendcre_bus::spawn(
        SerialOpener {
            path: path.to_string_lossy().into_owned(),
            baud: 115_200,
        },
        BusConfig {
            sequence_check: check,
            ..BusConfig::default()
        },
    );
    let mut out = Outcome::default();
    for _ in 0..reads {
        let req = Request {
            device_type: 0x9C,
            board_id: 1,
            device_id: 0x01ff,
            command: Command::Read,
        };
        let started = Instant::now();
        let r = bus.command(req, started + Duration::from_secs(30)).await;
        out.latencies.push(started.elapsed());
        match r {
            Ok(f) if f.data == VALUE => out.ok += 1,
            Ok(f) => {
                eprintln!("wrong value: {f:?}");
                out.wrong += 1;
            }
            Err(e) => *out.failed.entry(cause(&e)).or_default() += 1,
        }
    }
    drop(bus);
    actor.await.unwrap();
    emulator.abort();
    out
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn measure() {
    let reads = env_or("NOISE_READS", 2000usize);
    let seed = env_or("NOISE_SEED", 14u64);
    let pace = env_or("NOISE_PACE", 1u8) != 0;
    let check = if env_or("NOISE_STRICT", 0u8) != 0 {
        SequenceCheck::Strict
    } else {
        SequenceCheck::Compat
    };
    let scale = env_or("NOISE_SCALE", 1.0f64);
    let mut o = noisy_reads(noisy_config(seed, scale), reads, pace, check).await;
    let label = format!(
        "seed {seed}, noise x{scale}, {}, {check:?}",
        if pace { "paced 115200" } else { "unpaced" }
    );
    println!("{}", o.row(&label));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_reads_survive_a_third_of_answers_damaged_and_never_lie() {
    let mut o = noisy_reads(noisy_config(14, 1.0), 1000, false, SequenceCheck::Compat).await;
    let row = o.row("seed 14, unpaced");
    println!("{row}");
    assert_eq!(o.wrong, 0, "{row}");
    assert!(o.failed_total() < 20, "{row}");
}

/// What a reader makes of one answer packet on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome1 {
    /// The answer decodes.
    Read,
    /// An error first, the valid answer behind it in the same burst.
    ErrorThenAnswer,
    /// Errors only: a `?` is the only way on.
    ErrorOnly,
    /// A partial frame that never completes.
    Waits,
}

fn first_reader(packet: &[u8]) -> Outcome1 {
    let mut d = FrameDecoder::new();
    d.push(packet);
    match d.next_frame() {
        Some(Ok(_)) => Outcome1::Read,
        Some(Err(_)) => {
            if std::iter::from_fn(|| d.next_frame()).any(|r| r.is_ok()) {
                Outcome1::ErrorThenAnswer
            } else {
                Outcome1::ErrorOnly
            }
        }
        None => Outcome1::Waits,
    }
}

/// Which fault the emulator applied, judged against the clean packet.
fn fault_kind(packet: &[u8], clean: &[u8]) -> &'static str {
    if packet == clean {
        "clean"
    } else if packet.ends_with(clean) {
        if packet[..packet.len() - clean.len()].contains(&HEADER) {
            "junk with 0x01"
        } else {
            "junk without 0x01"
        }
    } else if clean.starts_with(packet) {
        "truncated"
    } else {
        "bad checksum"
    }
}

/// The loss causes, offline: every answer the seeded emulator would write,
/// by fault and by what the pre-issue-14 reader did with it (`Waits` was a
/// timeout, which ends a command without a retry; `ErrorThenAnswer` lost the
/// answer to the flush before the `?`).
///
/// ```text
/// cargo test -p opendcre --test integration bus_noise::diagnose -- --ignored --nocapture
/// ```
#[test]
#[ignore = "diagnosis; run with --ignored --nocapture"]
fn diagnose() {
    let seed = env_or("NOISE_SEED", 14u64);
    let n = env_or("NOISE_READS", 20_000usize);
    let mut emu = Emulator::from_config(noisy_config(seed, 1.0));
    let mut table: BTreeMap<(&str, Outcome1), usize> = BTreeMap::new();
    for i in 0..n {
        let seq = (i % 255) as u8;
        let req = Frame {
            sequence: seq,
            device_type: 0x9C,
            board_id: 1,
            device_id: 0x01ff,
            data: b"R".to_vec(),
        };
        let clean = Frame {
            sequence: seq,
            device_type: 0xFF,
            board_id: 0,
            device_id: 0xFFFF,
            data: VALUE.to_vec(),
        }
        .encode()
        .unwrap();
        for p in emu.handle(&req) {
            *table
                .entry((fault_kind(&p, &clean), first_reader(&p)))
                .or_default() += 1;
        }
    }
    println!("seed {seed}, {n} answers: fault / old reader's outcome / count (%)");
    for ((fault, outcome), c) in table {
        println!(
            "{fault:<18} {:<16} {c:>6} ({:.2} %)",
            format!("{outcome:?}"),
            c as f64 * 100.0 / n as f64
        );
    }
}
