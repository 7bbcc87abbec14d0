//! Round-trip time of IPMI operations through a full session (open, command,
//! close) against a local ipmi_sim, for IPMI v1.5 (MD5) and v2.0 (RMCP+ suite 3).
//!
//!     cargo run --release --example ipmi_rtt -- [RUNS]      (default 300)
//!
//! Prints min/p50/p90/p99/max per mode. "power status" includes ipmi_sim running
//! its chassis-control hook (a shell script via popen) for Get Chassis Status;
//! "device id" has no hook, so it shows the protocol cost alone.

#[path = "../tests/ipmi_support/mod.rs"]
mod ipmi_support;

use std::time::{Duration, Instant};

use opendcre_ipmi::{AuthType, BmcConfig, IpmiBridge};
use opendcre_proto::PowerAction;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

async fn measure(name: &str, cfg: BmcConfig, runs: usize, status: bool) {
    let br = IpmiBridge::new(vec![cfg]);
    // Warm-up: first-use costs (resolver, page faults) are not what we measure.
    for _ in 0..5 {
        br.power(1, PowerAction::Status).await.expect("warm-up");
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        if status {
            br.power(1, PowerAction::Status)
                .await
                .expect("power status");
        } else {
            br.device_info(1).await.expect("device id");
        }
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "{name:<34} runs {runs:>5}  min {:>6}  p50 {:>6}  p90 {:>6}  p99 {:>6}  max {:>6}  (ms)",
        ms(times[0]),
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.90)),
        ms(percentile(&times, 0.99)),
        ms(times[times.len() - 1]),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("RUNS must be a number"))
        .unwrap_or(300);
    let Some(sim) = ipmi_support::SimBmc::start() else {
        eprintln!("ipmi_sim is not installed: run ci/install-ipmi-peers.sh");
        std::process::exit(2);
    };
    println!(
        "ipmi_sim on 127.0.0.1:{}; every run = open session + command + close session",
        sim.port
    );
    measure(
        "v1.5 lan MD5: power status",
        sim.lan(1, AuthType::Md5),
        runs,
        true,
    )
    .await;
    measure(
        "v2.0 lanplus suite 3: power status",
        sim.lanplus(1, 3),
        runs,
        true,
    )
    .await;
    measure(
        "v1.5 lan MD5: device id",
        sim.lan(1, AuthType::Md5),
        runs,
        false,
    )
    .await;
    measure(
        "v2.0 lanplus suite 3: device id",
        sim.lanplus(1, 3),
        runs,
        false,
    )
    .await;
}
