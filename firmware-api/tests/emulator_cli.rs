//! `opendcre emulate` as a process: the `pty:` line harnesses read, talking
//! to it, clean shutdown on SIGTERM, and clear errors for bad configs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opendcre_proto::decoder::decode_all;
use opendcre_proto::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tokio_serial::SerialPortBuilderExt;

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("emulator-configs")
}

fn emulate(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_opendcre"));
    cmd.arg("emulate").args(args);
    cmd
}

/// Waits for the child to exit, killing it after `limit`.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("emulator did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads the `pty: PATH` line from the child's stdout, with a timeout.
fn pty_line(child: &mut Child) -> PathBuf {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("emulator printed its pty line");
    let path = line
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("pty: "))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    PathBuf::from(path)
}

async fn version_over(path: &Path) -> String {
    let mut port = tokio_serial::new(path.to_string_lossy(), 115_200)
        .open_native_async()
        .unwrap();
    let req = Frame {
        sequence: 7,
        device_type: 0xFF,
        board_id: 1,
        device_id: 0xFFFF,
        data: b"V".to_vec(),
    };
    port.write_all(&req.encode().unwrap()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while decode_all(&got).is_empty() {
        let n = timeout(Duration::from_secs(5), port.read(&mut buf))
            .await
            .expect("version answer")
            .unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    let f = decode_all(&got).remove(0).unwrap();
    assert_eq!(f.sequence, 7);
    f.data_text()
}

#[tokio::test]
async fn pty_line_link_answers_and_sigterm_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyVapor002");
    let mut child = emulate(&[
        "--config",
        configs().join("rack.json").to_str().unwrap(),
        "--pty",
        "--link",
        link.to_str().unwrap(),
        "--pace",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let path = pty_line(&mut child);
    assert!(path.starts_with("/dev/pts/"), "{path:?}");
    assert_eq!(std::fs::read_link(&link).unwrap(), path);
    assert_eq!(
        version_over(&link).await,
        "OpenDCRE Rack Board v1.1.0 (rack-a/1, 25 ch)"
    );
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "symlink removed on exit"
    );
}

#[tokio::test]
async fn pty_is_the_default_transport() {
    let mut child = emulate(&["--config", configs().join("simple.json").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let path = pty_line(&mut child);
    assert_eq!(version_over(&path).await, "OpenDCRE Emulator v1.1.0");
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
}

#[test]
fn bad_config_fails_fast_naming_the_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"boards": [{"board_id": "1", "devices": [{"device_id": "01fz", "device_type": "led"}]}]}"#,
    )
    .unwrap();
    let out = emulate(&["--config", bad.to_str().unwrap(), "--pty"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            r#"{}: boards[0].devices[0].device_id: "01fz" is not hex"#,
            bad.display()
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no pty line for a bad config");

    let missing = emulate(&["--config", "/nonexistent/emulator.json"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/emulator.json"));
}

#[test]
fn port_and_pty_are_exclusive() {
    let out = emulate(&["--config", "x.json", "--port", "/dev/ttyAMA0", "--pty"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
