//! A real OpenLDAP slapd on loopback, from ci/peers/slapd/start.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::free_port;

pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub ldaps_port: u16,
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ci/peers/slapd")
        .join(name)
}

impl Slapd {
    /// `None` (the test returns early) when slapd is not installed, by the
    /// rule of [`super::peers`]; fails the test with the script's output if
    /// an installed slapd cannot start.
    pub fn start() -> Option<Slapd> {
        if !super::peers::available(
            "LDAP tests",
            &["slapd", "ldapadd"],
            "ci/install-auth-peers.sh",
        ) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for _attempt in 0..3 {
            let (port, ldaps_port) = (free_port(), free_port());
            if port == ldaps_port {
                continue;
            }
            let out = Command::new("bash")
                .arg(script("start.sh"))
                .arg(dir.path())
                .arg(port.to_string())
                .arg(ldaps_port.to_string())
                .output()
                .expect("run start.sh");
            if out.status.success() {
                return Some(Slapd {
                    dir,
                    port,
                    ldaps_port,
                });
            }
            let log = std::fs::read_to_string(dir.path().join("slapd.log")).unwrap_or_default();
            eprintln!(
                "slapd start failed: {}\n{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = Command::new("bash")
                .arg(script("stop.sh"))
                .arg(dir.path())
                .status();
        }
        panic!("could not start slapd (is ci/install-auth-peers.sh installed?)");
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(script("stop.sh"))
            .arg(self.dir.path())
            .status();
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
