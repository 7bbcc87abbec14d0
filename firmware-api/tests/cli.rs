//! Command-line behaviour of `opendcre serve` that scripts rely on.

use std::process::Command;

fn opendcre() -> Command {
    Command::new(env!("CARGO_BIN_EXE_opendcre"))
}

#[test]
fn invalid_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[bus]\ntime_slice_ms = 900\n").unwrap();
    let out = opendcre()
        .args(["serve", "--check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bus.time_slice_ms"), "{err}");

    std::fs::write(&path, "[bus]\nspeed = 1\n").unwrap();
    let out = opendcre()
        .args(["serve", "--check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("speed"));

    let out = opendcre()
        .args([
            "serve",
            "--check-config",
            "--config",
            "/nonexistent/opendcre.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/opendcre.toml"));

    // [auth] and [tls] are configuration too: a hash that is not one, a
    // certificate that is not there.
    for (text, needle) in [
        (
            "[auth.tokens]\nadmin = { hash = \"md5:abc\", role = \"operator\" }\n",
            "auth",
        ),
        (
            "[tls]\nenabled = true\ncert = \"/nonexistent/server.crt\"\nkey = \"/nonexistent/server.key\"\n",
            "/nonexistent/server.crt",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = opendcre()
            .args(["serve", "--check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(needle), "{text}: {err}");
    }
}

#[test]
fn shipped_config_is_valid() {
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/config/opendcre.toml");
    let out = opendcre()
        .args(["serve", "--check-config", "--config", cfg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn missing_emulator_file_fails_clearly() {
    let out = opendcre()
        .args([
            "serve",
            "--emulator",
            "/nonexistent/rack.json",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("NOTIFY_SOCKET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/rack.json"));
}

#[test]
fn busy_port_fails_clearly() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let out = opendcre()
        .args([
            "serve",
            "--emulator",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/v11-cases.json"),
            "--listen",
            &addr,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&addr));
}
