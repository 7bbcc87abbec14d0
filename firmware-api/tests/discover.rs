//! `opendcre discover --probe`: real servers on loopback (the binary on the
//! emulator, plain and with TLS + tokens), a web server that is not OpenDCRE
//! and a closed port; the table and the file_sd file it writes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::auth_support::pki::{self, Ca};
use crate::common::{example, Server};

fn discover(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opendcre"))
        .arg("discover")
        .args(args)
        .output()
        .expect("run opendcre discover")
}

fn port_of(addr: &str) -> String {
    addr.rsplit(':').next().unwrap().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read_sd(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A web server that answers 200 with a body that is not OpenDCRE's, to
/// every connection, until the test ends.
fn other_web_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut s in l.incoming().map_while(Result::ok) {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\nConnection: close\r\n\r\n{\"status\":\"maybe\"}\n",
            );
        }
    });
    addr
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port().to_string()
}

#[test]
fn probe_finds_plain_nodes_only_and_writes_file_sd_atomically() {
    let a = Server::start(&example("rack.json"), &[]);
    let b = Server::start(&example("simple.json"), &[]);
    let other = other_web_server();
    let closed = closed_port();
    let ports = [
        port_of(&a.addr),
        port_of(&b.addr),
        port_of(&other),
        closed.clone(),
    ]
    .join(",");
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("opendcre.json");
    // A previous file is replaced, not appended to.
    std::fs::write(&sd, "[{\"targets\":[\"10.9.9.9:5000\"]}]\n").unwrap();

    let out = discover(&[
        "--probe",
        "127.0.0.1",
        "--port",
        &ports,
        "--timeout-ms",
        "3000",
        "--file-sd",
        sd.to_str().unwrap(),
    ]);
    let table = stdout(&out);
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("127.")).collect();
    assert_eq!(rows.len(), 2, "{table}");
    for addr in [&a.addr, &b.addr] {
        let row = rows
            .iter()
            .find(|r| r.starts_with(addr.as_str()))
            .expect(addr);
        assert!(row.contains(" http "), "{row}");
    }
    // The other server answered HTTP but is not OpenDCRE: a comment line.
    assert!(
        table.contains(&format!("# {other} (http) answered 200")),
        "{table}"
    );
    assert!(!table.contains(&format!(":{closed}")), "{table}");

    let json = read_sd(&sd);
    let groups = json.as_array().unwrap();
    assert_eq!(groups.len(), 2, "{json}");
    let mut targets: Vec<String> = groups
        .iter()
        .map(|g| g["targets"][0].as_str().unwrap().to_string())
        .collect();
    targets.sort();
    let mut want = vec![a.addr.clone(), b.addr.clone()];
    want.sort();
    assert_eq!(targets, want);
    for g in groups {
        assert_eq!(g["targets"].as_array().unwrap().len(), 1);
        assert_eq!(g["labels"]["__scheme__"], "http");
        assert_eq!(g["labels"]["__metrics_path__"], "/metrics");
    }
    // Written beside the target and renamed: nothing else is left there.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("opendcre.json")]);

    // A node that goes away is gone from the next file.
    drop(b);
    let out = discover(&[
        "--probe",
        "127.0.0.1",
        "--port",
        &ports,
        "--file-sd",
        sd.to_str().unwrap(),
        "-q",
    ]);
    assert!(out.status.success());
    assert!(stdout(&out).is_empty(), "-q prints no table");
    let json = read_sd(&sd);
    assert_eq!(json.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json[0]["targets"][0], a.addr.as_str());
}

/// The binary on the emulator with HTTPS and a reader token, as the image
/// runs it; returns the server, its TLS address, the CA and the directory
/// holding the token file (the config's directory must outlive the server).
fn tls_node() -> (Server, String, Ca, tempfile::TempDir, tempfile::TempDir) {
    let ca = Ca::new("discover test CA");
    let issued = ca.server();
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::write(dir.path(), "server.crt", &issued.cert_pem);
    let key = pki::write(dir.path(), "server.key", &issued.key_pem);
    pki::write(dir.path(), "ca.pem", &ca.pem);
    let token = "discover-reader-token-0123456789abcdef";
    pki::write(dir.path(), "token", &format!("{token}\n"));
    let hash: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let toml = format!(
        "[emulator]\nconfig = {emu:?}\n\n[tls]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\ncert = {cert:?}\nkey = {key:?}\n\n[auth.tokens]\nmonitoring = {{ hash = \"sha256:{hash}\", role = \"reader\" }}\n",
        emu = example("rack.json").to_str().unwrap(),
        cert = cert.to_str().unwrap(),
        key = key.to_str().unwrap(),
    );
    let (server, cfg_dir) = Server::with_config(&toml);
    let tls_addr = server.tls_addr();
    (server, tls_addr, ca, dir, cfg_dir)
}

#[test]
fn probe_identifies_tls_nodes_with_the_reader_token() {
    let (_server, tls_addr, _ca, dir, _cfg) = tls_node();
    let port = port_of(&tls_addr);
    let token = dir.path().join("token");
    let ca = dir.path().join("ca.pem");
    let sd = dir.path().join("targets.json");
    let base = ["--probe", "127.0.0.1", "--port", port.as_str()];

    // Without a token the node answers 401: not listed, and the table says why.
    let out = discover(&[&base[..], &["--file-sd", sd.to_str().unwrap()]].concat());
    assert!(out.status.success());
    let table = stdout(&out);
    assert!(
        table.contains(&format!("# {tls_addr} (https) answered 401"))
            && table.contains("--token-file"),
        "{table}"
    );
    assert_eq!(read_sd(&sd), serde_json::json!([]));

    // With the token, any certificate is accepted to identify the node.
    let out = discover(
        &[
            &base[..],
            &[
                "--token-file",
                token.to_str().unwrap(),
                "--file-sd",
                sd.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let table = stdout(&out);
    let row = table
        .lines()
        .find(|l| l.starts_with(tls_addr.as_str()))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains(" https ") && row.contains(" unverified "),
        "{row}"
    );
    let json = read_sd(&sd);
    assert_eq!(json[0]["targets"][0], tls_addr.as_str());
    assert_eq!(json[0]["labels"]["__scheme__"], "https");

    // With the CA the certificate is verified.
    let out = discover(
        &[
            &base[..],
            &[
                "--token-file",
                token.to_str().unwrap(),
                "--ca-file",
                ca.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(tls_addr.as_str()) && l.contains(" verified ")),
        "{table}"
    );

    // Another CA: the handshake fails, so the node is not confirmed.
    let other = Ca::new("someone else");
    let other_pem = pki::write(dir.path(), "other.pem", &other.pem);
    let out = discover(
        &[
            &base[..],
            &[
                "--token-file",
                token.to_str().unwrap(),
                "--ca-file",
                other_pem.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert!(out.status.success());
    assert!(
        !stdout(&out).contains(tls_addr.as_str()),
        "{}",
        stdout(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no OpenDCRE node found"));
}

#[test]
fn bad_ranges_are_refused_before_probing() {
    for (args, needle) in [
        (&["--probe", "10.0.0.0/33"][..], "10.0.0.0/33"),
        (&["--probe", "10.0.0.0/8"][..], "too many"),
        (&["--probe", "127.0.0.1", "--port", "5-4"][..], "empty"),
    ] {
        let out = discover(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
