//! `opendcre-cli` against the real `opendcre serve --emulator` on loopback.
//!
//! The tests live in the client's crate so that Cargo hands them the client
//! (`CARGO_BIN_EXE_opendcre-cli`); the server binary is another package's,
//! which Cargo exposes to no other package, so it is taken from beside this
//! test's executable (`target/<profile>/opendcre`). `cargo test --workspace`
//! (what CI runs) builds it before any test runs, because the `opendcre`
//! package has integration tests; alone, `cargo test -p opendcre-cli` needs
//! `cargo build --bin opendcre` first, and says so.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const OPS_TOKEN: &str = "odcre_cli-test-token";
const OPS_HASH: &str = "sha256:41f2ff21fe146790621366b585d9f17ebb43bc2a788ec8262f92f6435a0a24b7";
const READER_TOKEN: &str = "odcre_cli-reader-token";
const READER_HASH: &str = "sha256:dbfcd2eab7d0f98fc5a3f76f576f999dfdf352891b1a060718eb0cef8ec476e1";

fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/against_server-HASH → target/<profile>/opendcre
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("opendcre"))
        .unwrap();
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin opendcre` first (`cargo test --workspace` builds it)",
        bin.display()
    );
    bin
}

fn rack_json() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../emulator-configs/rack.json")
}

/// A running `opendcre serve`; killed on drop.
struct Server {
    child: Child,
    plain: String,
    tls: Option<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(config_toml: Option<&str>, want_tls: bool) -> Server {
        // The node's telemetry poller is off: the emulator's readings are
        // canned sequences, and these tests check that the client prints
        // exactly the answer the node gave to *its* request.
        let toml = format!(
            "{}\n[telemetry]\nenabled = false\n",
            config_toml.unwrap_or("")
        );
        Self::start_with(&toml, want_tls)
    }

    /// A node with the whole configuration given (telemetry on unless it
    /// says otherwise).
    fn start_with(toml: &str, want_tls: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(server_bin());
        cmd.arg("serve")
            .arg("--emulator")
            .arg(rack_json())
            .args(["--listen", "127.0.0.1:0"]);
        let p = dir.path().join("opendcre.toml");
        std::fs::write(&p, toml).unwrap();
        cmd.arg("--config").arg(p);
        cmd.env("RUST_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start opendcre");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut plain, mut tls) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while plain.is_none() || (want_tls && tls.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!("server did not report its addresses within 20 s");
            };
            let addr = |marker: &str| {
                line.find(marker).map(|i| {
                    line[i + marker.len()..]
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .to_string()
                })
            };
            if let Some(a) = addr("listening with TLS on ") {
                tls = Some(a);
            } else if let Some(a) = addr("listening on ") {
                plain = Some(a);
            }
        }
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Server {
            child,
            plain: plain.unwrap(),
            tls,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.plain)
    }

    /// A plain GET on the node (no client involved), the body as text.
    fn get(&self, path: &str) -> String {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(&self.plain).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    /// The value of one series of the node's /metrics.
    fn metric(&self, series: &str) -> f64 {
        let text = self.get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client's configuration directory (cli.toml, aliases.toml) and a
/// clean environment: nothing from the developer's own setup leaks in.
struct Client {
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Client {
    fn new() -> Client {
        Client {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A client with one context `lab` pointing at `url`.
    fn for_url(url: &str) -> Client {
        let c = Client::new();
        c.run(&["context", "add", "lab", url]).ok();
        c
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("cli.toml")
    }

    fn aliases(&self, text: &str) {
        std::fs::write(self.dir.path().join("aliases.toml"), text).unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opendcre-cli"));
        cmd.arg("--config")
            .arg(self.config())
            .args(args)
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env_remove("OPENDCRE_CONTEXT")
            .env_remove("OPENDCRE_TOKEN")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        output(cmd.output().expect("run opendcre-cli"))
    }
}

fn output(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn require_peers() -> bool {
    std::env::var("OPENDCRE_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

#[test]
fn scan_as_table_json_and_yaml() {
    let server = Server::start(None, false);
    let c = Client::for_url(&server.url());
    c.aliases("psu-2 = { board = \"2\", device = \"6ff\" }\n");

    let table = c.run(&["scan"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["BOARD", "DEVICE", "TYPE", "NAME"]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["00000002", "06ff", "power", "psu-2"]),
        "{table}"
    );

    let json = c.run(&["-o", "json", "scan"]).ok().json();
    let boards: Vec<&str> = json["boards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["board_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        boards,
        ["00000001", "00000002", "00000003", "0000000a", "40000000"]
    );
    // Table rows and JSON devices are the same devices.
    let devices: usize = json["boards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["devices"].as_array().unwrap().len())
        .sum();
    assert_eq!(lines.len() - 1, devices);

    let one = c.run(&["-o", "json", "scan", "3"]).ok().json();
    assert_eq!(one["boards"][0]["board_id"], "00000003");

    let yaml = c.run(&["-o", "yaml", "scan"]).ok().stdout;
    assert!(yaml.contains("- board_id: \"0000000a\""), "{yaml}");
    // A real YAML parser must read back exactly the JSON document.
    // Debian's interpreter, which `python3-yaml` (installed by CI) serves;
    // a `python3` first on PATH may be another one (pyenv) without PyYAML.
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let parsed = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut p| {
            p.stdin.take().unwrap().write_all(yaml.as_bytes())?;
            p.wait_with_output()
        });
    match parsed {
        Ok(out) if out.status.success() => {
            let back: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(back, json, "YAML read back differs from the JSON output");
        }
        other => {
            let why = format!("python3 with PyYAML unavailable: {other:?}");
            assert!(!require_peers(), "{why}");
            eprintln!("skipping the YAML round trip: {why}");
        }
    }
}

#[test]
fn read_by_hex_alias_and_asset_tag() {
    let server = Server::start(None, false);
    let c = Client::for_url(&server.url());
    c.aliases("web-17 = { board = \"00000001\", device = \"01FF\" }\n");

    let by_hex = c
        .run(&["-o", "json", "read", "thermistor", "1/1ff"])
        .ok()
        .json();
    assert_eq!(by_hex["board_id"], "00000001");
    assert_eq!(by_hex["device_id"], "01ff");
    assert_eq!(by_hex["device_raw"], 656, "rack.json's first reading");
    assert_eq!(by_hex["temperature_c"], 28.78);

    let by_alias = c
        .run(&["-o", "json", "read", "thermistor", "web-17"])
        .ok()
        .json();
    assert_eq!(by_alias["name"], "web-17");
    assert_eq!(by_alias["device_id"], "01ff");
    assert_eq!(by_alias["device_raw"], 661, "the device's second reading");

    // The first word of node 3's PSU tag; its canned status has bit 6 set.
    let by_tag = c
        .run(&["-o", "json", "power", "status", "rack-a/node-03/psu-0"])
        .ok()
        .json();
    assert_eq!(by_tag["board_id"], "00000003");
    assert_eq!(by_tag["device_id"], "05ff");
    assert_eq!(by_tag["power_status"], "off");
    assert_eq!(by_tag["pmbus_raw"], "64,0,4529,2075");

    // The whole tag text works too; the table has the name first.
    let table = c
        .run(&["power", "status", "rack-a/tor/psu-0 SN:VIO-PSU-000A01"])
        .ok()
        .stdout;
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("NAME"), "{table}");
    assert!(lines.next().unwrap().contains("0000000a"), "{table}");
}

#[test]
fn power_on_and_asset_set_then_get_by_the_new_tag() {
    let server = Server::start(None, false);
    let c = Client::for_url(&server.url());
    c.aliases("psu-2 = { board = \"2\", device = \"6ff\" }\n");

    let on = c.run(&["-o", "json", "power", "on", "psu-2"]).ok().json();
    assert_eq!(on["power_status"], "on");
    assert_eq!(on["power_ok"], true);
    assert_eq!(on["pmbus_raw"], "0,1342,4522,2398");

    // Spaces, '#', '?' and '%' survive the URL segment.
    let text = "web-17 rack-b u12 #a?b%c";
    let set = c
        .run(&["-o", "json", "asset", "set", "psu-2", text])
        .ok()
        .json();
    assert_eq!(set["asset_info"], text);
    let got = c.run(&["-o", "yaml", "asset", "get", "web-17"]).ok().stdout;
    assert!(got.contains("board_id: \"00000002\""), "{got}");
    assert!(
        got.contains("asset_info: \"web-17 rack-b u12 #a?b%c\""),
        "{got}"
    );

    // '/' cannot travel in the segment, and the node would cut 128+ chars.
    let slash = c.run(&["asset", "set", "psu-2", "a/b"]);
    assert_eq!(slash.code, 2, "{}", slash.stderr);
    let long = "x".repeat(128);
    assert_eq!(c.run(&["asset", "set", "psu-2", &long]).code, 2);
}

#[test]
fn exit_codes_for_missing_targets_node_errors_and_usage() {
    let server = Server::start(None, false);
    let c = Client::for_url(&server.url());

    let unknown = c.run(&["read", "thermistor", "no-such-name"]);
    assert_eq!(unknown.code, 5, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("no-such-name"),
        "{}",
        unknown.stderr
    );

    // A 404 from the node: the URL's path prefix routes nowhere.
    let c404 = Client::for_url(&format!("{}/not-here", server.url()));
    let r = c404.run(&["scan"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("404"), "{}", r.stderr);

    // A device that does not answer: v1.1's 500.
    let r = c.run(&["read", "thermistor", "1/999"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("500"), "{}", r.stderr);

    for args in [
        &["read", "no-such-type", "1/1ff"][..],
        &["watch", "thermistor"][..],
        &["scan", "123456789"][..],
        &["power", "toggle", "1/1ff"][..],
        &["--timeout", "0", "scan"][..],
    ] {
        let r = c.run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    // No context at all.
    let r = Client::new().run(&["scan"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("context add"), "{}", r.stderr);
}

#[test]
fn exit_3_when_refused_or_silent() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::for_url(&format!("http://127.0.0.1:{port}"));
    let r = c.run(&["scan"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);

    // Accepts, never answers: the request timeout ends it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Client::for_url(&format!("http://{}", silent.local_addr().unwrap()));
    let started = Instant::now();
    let r = c.run(&["--timeout", "0.5", "scan"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("no answer within 500 ms"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn auth_toml() -> String {
    format!(
        "[auth.tokens]\nops = {{ hash = \"{OPS_HASH}\", role = \"operator\" }}\n\
         mon = {{ hash = \"{READER_HASH}\", role = \"reader\" }}\n"
    )
}

#[test]
fn tokens_from_file_and_environment_and_exit_4() {
    let server = Server::start(Some(&auth_toml()), false);
    let c = Client::new();
    let token_file = c.dir.path().join("token");
    std::fs::write(&token_file, format!("{OPS_TOKEN}\n")).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let url = server.url();
    c.run(&["context", "add", "anon", &url]).ok();
    c.run(&[
        "context",
        "add",
        "ops",
        &url,
        "--token-file",
        token_file.to_str().unwrap(),
    ])
    .ok();
    c.run(&["context", "add", "mon", &url, "--token-env", "MON_TOKEN"])
        .ok();

    let r = c.run(&["--context", "anon", "scan"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("401"), "{}", r.stderr);

    let r = c.run_env(
        &["scan"],
        &[("OPENDCRE_CONTEXT", "mon"), ("MON_TOKEN", "odcre_wrong")],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);

    // The reader may look but not switch: 403.
    let mon = [("MON_TOKEN", READER_TOKEN)];
    c.run_env(&["--context", "mon", "power", "status", "2/6ff"], &mon)
        .ok();
    let r = c.run_env(&["--context", "mon", "power", "off", "2/6ff"], &mon);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("403"), "{}", r.stderr);

    let r = c
        .run(&["--context", "ops", "-o", "json", "power", "off", "2/6ff"])
        .ok();
    assert_eq!(r.json()["board_id"], "00000002");

    // --url takes the token from OPENDCRE_TOKEN.
    let r = Client::new()
        .run_env(
            &["--url", &url, "scan", "2"],
            &[("OPENDCRE_TOKEN", OPS_TOKEN)],
        )
        .ok();
    assert!(r.stdout.contains("06ff"), "{}", r.stdout);

    // The token is never printed, not even by context list.
    for out in [
        c.run(&["context", "list"]).ok().stdout,
        c.run(&["-o", "json", "context", "list"]).ok().stdout,
        r.stderr,
    ] {
        assert!(!out.contains(OPS_TOKEN), "{out}");
    }
    let list = c.run(&["-o", "json", "context", "list"]).ok().json();
    assert_eq!(list[2]["name"], "ops");
    assert_eq!(
        list[2]["token"],
        format!("file:{}", token_file.display()),
        "{list}"
    );
}

#[test]
fn contexts_are_kept_in_a_private_file() {
    let c = Client::new();
    c.run(&["context", "add", "a", "http://127.0.0.1:1"]).ok();
    c.run(&["context", "add", "b", "https://127.0.0.1:2/rack"])
        .ok();
    let mode = std::fs::metadata(c.config()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(c.config()).unwrap();
    assert!(text.contains("current = \"a\""), "{text}");

    assert_eq!(c.run(&["context", "add", "a", "http://x"]).code, 2);
    assert_eq!(c.run(&["context", "add", "bad", "ftp://x"]).code, 2);
    c.run(&["context", "use", "b"]).ok();
    let list = c.run(&["-o", "json", "context", "list"]).ok().json();
    assert_eq!(list[1]["current"], true);
    c.run(&["context", "remove", "b"]).ok();
    assert_eq!(c.run(&["context", "use", "b"]).code, 2);
    let list = c.run(&["-o", "json", "context", "list"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["current"], false);
}

#[test]
fn tls_with_the_nodes_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, cert_pem, key_pem) = test_pki();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ca = write("ca.pem", &ca_pem);
    let cert = write("server.crt", &cert_pem);
    let key = write("server.key", &key_pem);
    let toml = format!(
        "[tls]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\ncert = \"{}\"\nkey = \"{}\"\n\
         plain_http = \"on\"\n{}",
        cert.display(),
        key.display(),
        auth_toml()
    );
    let server = Server::start(Some(&toml), true);
    let url = format!("https://{}", server.tls.as_deref().unwrap());
    let c = Client::new();
    c.run(&[
        "context",
        "add",
        "tls",
        &url,
        "--ca-file",
        ca.to_str().unwrap(),
        "--token-env",
        "T",
    ])
    .ok();
    let env = [("T", OPS_TOKEN)];
    let r = c.run_env(&["-o", "json", "scan", "a"], &env).ok();
    assert_eq!(r.json()["boards"][0]["board_id"], "0000000a");

    // The system's trust store does not know the node's CA: exit 3.
    c.run(&["context", "add", "system-roots", &url, "--token-env", "T"])
        .ok();
    let r = c.run_env(&["--context", "system-roots", "scan"], &env);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("TLS"), "{}", r.stderr);

    // A CA file that is not one is a configuration error.
    let junk = write("junk.pem", "not a certificate\n");
    let r = c.run(&[
        "context",
        "add",
        "junk",
        &url,
        "--ca-file",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn client_certificates_from_the_context() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        p
    };
    let (ca_pem, cert_pem, key_pem) = test_pki();
    let ca = write("ca.pem", &ca_pem);
    let cert = write("server.crt", &cert_pem);
    let key = write("server.key", &key_pem);
    let (clients_ca, ids) = client_pki(&["ops-console", "grafana"]);
    let clients_ca = write("clients-ca.pem", &clients_ca);
    let ops = (write("ops.crt", &ids[0].0), write("ops.key", &ids[0].1));
    let mon = (write("mon.crt", &ids[1].0), write("mon.key", &ids[1].1));
    let toml = format!(
        "[tls]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\ncert = \"{}\"\nkey = \"{}\"\n\
         client_ca = \"{}\"\nclient_auth = \"required\"\nplain_http = \"on\"\n{}\
         [auth.client_cert]\nroles = {{ \"ops-console\" = \"operator\", \"grafana\" = \"reader\" }}\n",
        cert.display(),
        key.display(),
        clients_ca.display(),
        auth_toml()
    );
    let server = Server::start(Some(&toml), true);
    let url = format!("https://{}", server.tls.as_deref().unwrap());
    let c = Client::new();
    let add = |name: &str, id: &(PathBuf, PathBuf)| {
        c.run(&[
            "context",
            "add",
            name,
            &url,
            "--ca-file",
            ca.to_str().unwrap(),
            "--client-cert",
            id.0.to_str().unwrap(),
            "--client-key",
            id.1.to_str().unwrap(),
        ])
        .ok();
    };
    add("ops", &ops);
    add("mon", &mon);
    // The certificate alone authenticates: no token in either context.
    let r = c
        .run(&["--context", "ops", "-o", "json", "power", "on", "a/4ff"])
        .ok();
    assert_eq!(r.json()["power_status"], "on", "{}", r.stdout);
    let r = c.run(&[
        "--context",
        "mon",
        "-o",
        "json",
        "read",
        "thermistor",
        "a/1ff",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A reader's certificate cannot switch power: exit 4 as for a token.
    let r = c.run(&["--context", "mon", "power", "off", "a/4ff"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    // Without a certificate the node ends the handshake: exit 3.
    c.run(&[
        "context",
        "add",
        "none",
        &url,
        "--ca-file",
        ca.to_str().unwrap(),
    ])
    .ok();
    let r = c.run(&["--context", "none", "scan"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    // The list shows which certificate a context uses.
    let r = c.run(&["-o", "json", "context", "list"]).ok();
    let list = r.json();
    let ops_entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ops")
        .unwrap();
    assert_eq!(ops_entry["client_cert"], ops.0.to_str().unwrap());
    // Half an identity, a key that is not one, or a certificate over plain
    // HTTP are configuration errors (exit 2), caught when the context is added.
    let r = c.run(&[
        "context",
        "add",
        "half",
        &url,
        "--client-cert",
        ops.0.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let junk = write("junk.key", "not a key\n");
    let r = c.run(&[
        "context",
        "add",
        "junk",
        &url,
        "--client-cert",
        ops.0.to_str().unwrap(),
        "--client-key",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("junk.key"), "{}", r.stderr);
    let r = c.run(&[
        "context",
        "add",
        "plain",
        &server.url(),
        "--client-cert",
        ops.0.to_str().unwrap(),
        "--client-key",
        ops.1.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("https"), "{}", r.stderr);
}

/// A client CA and, for each common name, a client certificate signed by
/// it with its key, PEM.
fn client_pki(names: &[&str]) -> (String, Vec<(String, String)>) {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "cli test client CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let ids = names
        .iter()
        .map(|cn| {
            let mut params = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, *cn);
            params.distinguished_name = dn;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            (cert.pem(), key.serialize_pem())
        })
        .collect();
    (ca.pem(), ids)
}

/// A CA and a server certificate for 127.0.0.1 signed by it, PEM.
fn test_pki() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "cli test CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ca = params.self_signed(&ca_key).unwrap();

    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "127.0.0.1");
    params.distinguished_name = dn;
    params.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn watch_prints_changed_rows_and_stops_after_count() {
    let server = Server::start(None, false);
    let c = Client::for_url(&server.url());
    // 1/1ff reads differently every time; node 3's PSU always answers the same.
    let r = c
        .run(&[
            "-o",
            "json",
            "watch",
            "--count",
            "2",
            "--interval",
            "0.2",
            "thermistor",
            "1/1ff",
            "power",
            "3/5ff",
        ])
        .ok();
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |dev: &str| rows.iter().filter(|v| v["device_id"] == dev).count();
    assert_eq!(of("01ff"), 2, "{}", r.stdout);
    assert_eq!(
        of("05ff"),
        1,
        "an unchanged answer is not printed again: {}",
        r.stdout
    );
    assert_eq!(rows[0]["device_raw"], 656);
    assert!(rows[0]["time"].as_str().unwrap().ends_with('Z'));

    let table = c
        .run(&[
            "watch",
            "--count",
            "1",
            "--interval",
            "0.2",
            "power",
            "3/5ff",
        ])
        .ok()
        .stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("TIME"), "{table}");
    assert!(lines[1].ends_with("off 0.0 W"), "{table}");

    // A device that stops answering: reported, and the exit status says so.
    let r = c.run(&["watch", "--count", "1", "thermistor", "1/999"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("1/999"), "{}", r.stderr);
}

#[test]
fn watch_reads_the_telemetry_cache_where_the_node_has_one() {
    let server = Server::start_with(
        "[telemetry]\n[telemetry.interval_secs]\nthermistor = 1\npower = 1\n",
        false,
    );
    let c = Client::for_url(&server.url());
    // Until the node's poller has read both devices once.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let doc: Value =
            serde_json::from_str(&server.get("/opendcre/2/readings?board=1")).unwrap_or_default();
        let up = doc["devices"].as_array().is_some_and(|d| {
            d.iter()
                .any(|d| d["device_id"] == "01ff" && d["up"] == true)
        });
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node never polled 1/1ff: {doc}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let interactive = "opendcre_bus_transactions_total{priority=\"interactive\"}";
    let before = server.metric(interactive);
    let args = [
        "-o",
        "json",
        "watch",
        "--count",
        "3",
        "--interval",
        "0.3",
        "thermistor",
        "1/1ff",
        "power",
        "3/5ff",
    ];
    let r = c.run(&args).ok();
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let psu: Vec<&Value> = rows.iter().filter(|v| v["device_id"] == "05ff").collect();
    assert_eq!(
        psu.len(),
        1,
        "an unchanged power state is printed once: {}",
        r.stdout
    );
    assert_eq!(psu[0]["values"]["power_on"], 0.0, "{}", r.stdout);
    let t = rows
        .iter()
        .find(|v| v["device_id"] == "01ff")
        .expect("1/1ff printed");
    assert!(t["values"]["temperature_celsius"].is_f64(), "{t}");
    assert!(t["read_time"].as_str().unwrap().ends_with('Z'), "{t}");
    // Three polls of two devices from the cache: not one bus transaction
    // on behalf of a client.
    assert_eq!(
        server.metric(interactive),
        before,
        "the watch went to the bus"
    );
    // The table shows converted values.
    let table = c
        .run(&[
            "watch",
            "--count",
            "1",
            "power",
            "3/5ff",
            "thermistor",
            "1/1ff",
        ])
        .ok()
        .stdout;
    assert!(
        table.lines().nth(1).unwrap().ends_with("off 0.0 W"),
        "{table}"
    );
    assert!(table.lines().nth(2).unwrap().ends_with(" C"), "{table}");

    // --source live reads through v1.1 even here, one transaction a device.
    let r = c
        .run(&[
            "-o",
            "json",
            "watch",
            "--source",
            "live",
            "--count",
            "1",
            "thermistor",
            "1/1ff",
        ])
        .ok();
    let row: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert!(row["device_raw"].is_number(), "{row}");
    assert_eq!(server.metric(interactive), before + 1.0);

    // A device the node's scan never found is an error row and exit 5.
    let r = c.run(&["watch", "--count", "1", "thermistor", "1/999"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("not in the node's readings"),
        "{}",
        r.stderr
    );

    // Where there is no cache (telemetry off, or the original OpenDCRE),
    // --source cache is an error and auto falls back (the other watch tests).
    let old = Server::start(None, false);
    let c = Client::for_url(&old.url());
    let r = c.run(&[
        "watch",
        "--source",
        "cache",
        "--count",
        "1",
        "thermistor",
        "1/1ff",
    ]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("/opendcre/2/readings"), "{}", r.stderr);
}

#[test]
fn completions_and_man_page() {
    let c = Client::new();
    let bash = c.run(&["completions", "bash"]).ok().stdout;
    assert!(bash.contains("complete -F _opendcre__cli"), "{bash}");
    assert!(bash.trim_end().ends_with("opendcre-cli\nfi"), "{bash}");
    let check = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut p| {
            p.stdin.take().unwrap().write_all(bash.as_bytes())?;
            p.wait_with_output()
        })
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish"] {
        assert!(!c.run(&["completions", shell]).ok().stdout.is_empty());
    }

    let roff = c.run(&["man"]).ok().stdout;
    assert!(roff.contains(".TH opendcre-cli 1"), "{roff}");
    let help = c.run(&["--help"]).ok().stdout;
    assert!(
        help.contains("4  authentication or authorization refused"),
        "{help}"
    );

    // Rendered by man(1) when it is there: the exit codes are in the page.
    let man = Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut p| {
            p.stdin.take().unwrap().write_all(roff.as_bytes())?;
            p.wait_with_output()
        });
    match man {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("Exit codes"), "{text}");
            assert!(text.contains("target not found"), "{text}");
        }
        other => {
            let why = format!("man(1) unavailable: {other:?}");
            assert!(!require_peers(), "{why}");
            eprintln!("{why}; the roff header was checked only");
        }
    }
}

#[test]
fn watch_ends_on_ctrl_c_with_status_0() {
    let server = Server::start(None, false);
    let c = Client::for_url(&server.url());
    let mut child = Command::new(env!("CARGO_BIN_EXE_opendcre-cli"))
        .arg("--config")
        .arg(c.config())
        .args(["watch", "--interval", "60", "thermistor", "1/1ff"])
        .env_remove("OPENDCRE_CONTEXT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("TIME"));
    assert!(lines.next().unwrap().unwrap().contains("28.78 C"));
    // The first poll is printed; the next is a minute away. SIGINT ends it.
    // SAFETY: kill(2) takes no pointers; the pid is our own child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "watch ignored SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
}
