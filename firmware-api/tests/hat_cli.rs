//! `opendcre hat status|configure` on this machine, which has no HAT.

use std::path::Path;
use std::process::Command;

fn opendcre(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opendcre"))
        .args(args)
        .output()
        .expect("run opendcre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_file(dir: &Path, hat_table: &str) -> String {
    let path = dir.join("opendcre.toml");
    std::fs::write(&path, hat_table).unwrap();
    path.to_str().unwrap().to_string()
}

fn no_device_tree(dir: &Path) -> String {
    let dt = dir.join("no-device-tree");
    config_file(
        dir,
        &format!("[hat]\ndevice_tree = {:?}\n", dt.to_str().unwrap()),
    )
}

#[test]
fn status_without_hat_says_so_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = no_device_tree(dir.path());
    let (code, out, _) = opendcre(&["hat", "status", "--config", &cfg]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no PLC modem HAT found"), "{out}");
    assert!(out.contains("without modem setup"), "{out}");

    let (code, out, _) = opendcre(&["hat", "status", "--config", &cfg, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["detection"]["state"], "absent");
    assert_eq!(v["modem"], serde_json::Value::Null);
    assert_eq!(v["pins"]["cmd"], 27);
}

#[test]
fn configure_without_hat_fails_with_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = no_device_tree(dir.path());
    let (code, out, _) = opendcre(&["hat", "configure", "--config", &cfg]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("no PLC modem HAT found"), "{out}");
    assert!(out.contains("nothing configured"), "{out}");
}

#[test]
fn disabled_hat_is_reported_as_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(dir.path(), "[hat]\nenabled = \"off\"\n");
    let (code, out, _) = opendcre(&["hat", "status", "--config", &cfg]);
    assert_eq!(code, 0);
    assert!(out.contains("disabled"), "{out}");
    let (code, _, _) = opendcre(&["hat", "configure", "--config", &cfg]);
    assert_eq!(code, 3);
}

/// On a machine that is not a Pi, forcing the HAT reaches rppal, which must
/// refuse with a message rather than touch anything.
#[test]
fn forced_hat_off_a_pi_fails_with_rppal_reason() {
    let model = std::fs::read_to_string("/proc/device-tree/model").unwrap_or_default();
    if model.contains("Raspberry Pi") {
        eprintln!("skipped: running on a Raspberry Pi");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(dir.path(), "[hat]\nenabled = \"on\"\n");
    let (code, out, _) = opendcre(&["hat", "configure", "--config", &cfg, "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["detection"]["state"], "forced");
    let err = v["error"].as_str().unwrap();
    assert!(err.contains("not a Raspberry Pi"), "{err}");
}

#[test]
fn bad_config_fails_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(dir.path(), "[hat.modem]\nf0 = 7.0\n");
    let (code, _, err) = opendcre(&["hat", "status", "--config", &cfg]);
    assert_eq!(code, 1);
    assert!(err.contains("f0 = 7 MHz is not a SIG60 carrier"), "{err}");
    let (code, _, err) = opendcre(&["hat", "status", "--config", "/nonexistent/opendcre.toml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot read /nonexistent/opendcre.toml"),
        "{err}"
    );
}
