//! Test harness for IPMI tests: an OpenIPMI `ipmi_sim` BMC per test on its own
//! loopback port and state directory (via `ci/peers/ipmi_sim/start.sh`), plus
//! ipmitool as an independent cross-check. Shared by the integration tests and
//! the `ipmi_rtt` example.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use opendcre_ipmi::{AuthType, BmcConfig, Privilege};

/// Where the simulator scripts live.
// Also a module of auth_support; included here too because the ipmi_rtt
// example builds this harness without auth_support.
#[allow(clippy::duplicate_mod)]
#[path = "../peers.rs"]
mod peers;

pub fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/peers/ipmi_sim")
}

/// Whether the simulator tests can run (the rule of [`peers`]).
pub fn sim_available() -> bool {
    peers::available(
        "IPMI simulator tests",
        &["ipmi_sim", "ipmitool"],
        "ci/install-ipmi-peers.sh",
    )
}

/// A free UDP port on 127.0.0.1 (the OS picks it; we release it for ipmi_sim).
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
    s.local_addr().unwrap().port()
}

/// One running ipmi_sim; stopped (by its pid) when dropped.
pub struct SimBmc {
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SimBmc {
    /// Starts a simulator with chassis power on, or `None` if it is not installed.
    pub fn start() -> Option<SimBmc> {
        Self::start_with_power(true)
    }

    pub fn start_with_power(on: bool) -> Option<SimBmc> {
        if !sim_available() {
            return None;
        }
        let mut last = String::new();
        // A port picked free can be taken by a parallel test before ipmi_sim binds
        // it; try a few.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_udp_port();
            let out = Command::new(peer_dir().join("start.sh"))
                .arg(port.to_string())
                .arg(dir.path())
                .env("INITIAL_POWER", if on { "1" } else { "0" })
                .output()
                .expect("run start.sh");
            if out.status.success() {
                return Some(SimBmc { port, dir });
            }
            last = format!(
                "start.sh {port} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = Command::new(peer_dir().join("stop.sh"))
                .arg(dir.path())
                .status();
        }
        panic!("could not start ipmi_sim: {last}");
    }

    /// A v1.5 (`lan`) config for user ADMIN.
    pub fn lan(&self, device_id: u16, auth: AuthType) -> BmcConfig {
        let mut c = BmcConfig::lan(device_id, "127.0.0.1", "ADMIN", "ADMIN", auth);
        self.tune(&mut c);
        c
    }

    /// A v2.0 (`lanplus`) config for user ADMIN.
    pub fn lanplus(&self, device_id: u16, suite: u8) -> BmcConfig {
        let mut c = BmcConfig::lanplus(device_id, "127.0.0.1", "ADMIN", "ADMIN", suite);
        self.tune(&mut c);
        c
    }

    fn tune(&self, c: &mut BmcConfig) {
        c.port = self.port;
        c.timeout = Duration::from_millis(500);
        c.retries = 2;
        c.power_wait = Duration::from_secs(5);
        c.privilege = Privilege::Administrator;
        c.asset_info = Some(format!("sim on {}", self.port));
    }

    /// The power state as the chassis-control hook stored it.
    pub fn power_file(&self) -> bool {
        let text = std::fs::read_to_string(self.dir.path().join("chassis/power"))
            .expect("power state file");
        match text.trim() {
            "1" => true,
            "0" => false,
            other => panic!("unexpected power state {other:?}"),
        }
    }

    /// Every chassis-control hook call so far, one per line.
    pub fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chassis/calls.log")).unwrap_or_default()
    }

    pub fn counter(&self, name: &str) -> u32 {
        std::fs::read_to_string(self.dir.path().join("chassis").join(name))
            .map(|t| t.trim().parse().expect("counter"))
            .unwrap_or(0)
    }

    /// Runs ipmitool against the simulator over RMCP+ suite 3 (independent client).
    pub fn ipmitool(&self, args: &[&str]) -> Output {
        Command::new("ipmitool")
            .args(["-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(["-U", "ADMIN", "-P", "ADMIN", "-N", "1", "-R", "3"])
            .args(args)
            .output()
            .expect("run ipmitool")
    }

    /// ipmitool's view of the chassis power: true = on.
    pub fn ipmitool_power(&self) -> bool {
        let out = self.ipmitool(&["chassis", "power", "status"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ipmitool failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        match text.trim() {
            "Chassis Power is on" => true,
            "Chassis Power is off" => false,
            other => panic!("unexpected ipmitool output {other:?}"),
        }
    }
}

impl SimBmc {
    /// Stops the simulator now (by its recorded pid), as a BMC that went away;
    /// dropping it later is harmless.
    pub fn stop(&self) {
        let st = Command::new(peer_dir().join("stop.sh"))
            .arg(self.dir.path())
            .status()
            .expect("run stop.sh");
        assert!(st.success(), "stop.sh failed: {st}");
    }
}

impl Drop for SimBmc {
    fn drop(&mut self) {
        let _ = Command::new(peer_dir().join("stop.sh"))
            .arg(self.dir.path())
            .status();
    }
}
