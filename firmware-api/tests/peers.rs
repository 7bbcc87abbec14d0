//! Test peers that are real programs (`ipmi_sim` + `ipmitool`, `slapd`, `rsyslogd`): one
//! rule for all of them. A plain `cargo test` on a machine without a peer
//! skips that peer's tests with a printed reason; `make test` (and so CI)
//! sets `OPENDCRE_REQUIRE_PEERS=1`, which turns the skip into a failure, so a
//! missing install step cannot hide tests.

use std::io::Write;

/// The variable `make test` sets.
pub const REQUIRE: &str = "OPENDCRE_REQUIRE_PEERS";

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// Whether every program in `tools` is installed (on `PATH`, or in
/// `/usr/sbin` for daemons that root's `PATH` may lack). Otherwise prints a
/// skip notice naming `install` — or panics when [`REQUIRE`] is `1`.
pub fn available(what: &str, tools: &[&str], install: &str) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !on_path(t) && !std::path::Path::new("/usr/sbin").join(t).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var(REQUIRE).as_deref() == Ok("1") {
        panic!(
            "{what}: {} not installed but {REQUIRE}=1: run {install}",
            missing.join(", ")
        );
    }
    // Straight to the process's stderr: libtest captures eprintln! of passing
    // tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n## SKIPPED ({what}): {} not installed; run {install} to run these tests",
        missing.join(", ")
    );
    false
}
