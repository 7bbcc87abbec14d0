//! Test harness: starts the real `opendcre` binary against the built-in
//! emulator and talks plain HTTP/1.1 to it over a TcpStream.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("emulator-configs")
        .join(name)
}

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    pub log: mpsc::Receiver<String>,
}

impl Server {
    /// `opendcre serve --emulator CONFIG --listen 127.0.0.1:0 EXTRA…`, waiting
    /// (bounded) until it logs the address it listens on.
    ///
    /// The telemetry poller is off: these servers run the v1.1 tests, whose
    /// emulator answers are canned sequences that a poller would advance
    /// behind the test's back. Telemetry tests use [`Server::with_config`].
    pub fn start(emulator: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("opendcre.toml");
        std::fs::write(&cfg, "[telemetry]\nenabled = false\n").unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opendcre"));
        cmd.arg("serve")
            .arg("--config")
            .arg(&cfg)
            .arg("--emulator")
            .arg(emulator)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra);
        // The file is read at start-up only; it may go once the server listens.
        Self::spawn(cmd)
    }

    /// [`Server::start`] with the telemetry poller on, as a node runs.
    pub fn start_polling(emulator: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opendcre"));
        cmd.arg("serve")
            .arg("--emulator")
            .arg(emulator)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra);
        Self::spawn(cmd)
    }

    /// `opendcre serve --config <file with TOML> --listen 127.0.0.1:0`; the
    /// returned directory holds the file and must outlive the server.
    pub fn with_config(toml: &str) -> (Server, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("opendcre.toml");
        std::fs::write(&cfg, toml).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opendcre"));
        cmd.arg("serve")
            .arg("--config")
            .arg(&cfg)
            .args(["--listen", "127.0.0.1:0"]);
        (Self::spawn(cmd), dir)
    }

    pub fn spawn(mut cmd: Command) -> Server {
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
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(i) = line.find("listening on ") {
                        let addr = line[i + 13..]
                            .split_whitespace()
                            .next()
                            .unwrap()
                            .to_string();
                        return Server {
                            child,
                            addr,
                            log: rx,
                        };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("server did not report a listening address within 20 s");
                }
            }
        }
    }

    /// The server's process id, for /proc/PID/status.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn get(&self, path: &str) -> Response {
        request(&self.addr, "GET", path)
    }

    /// The address of the TLS listener, from the server's log (it logs
    /// "listening with TLS on ADDR" once bound); within 20 s.
    pub fn tls_addr(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .log
                .recv_timeout(left)
                .expect("server logs its TLS address");
            if let Some(i) = line.find("listening with TLS on ") {
                return line[i + 22..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_string();
            }
        }
    }

    pub fn request(&self, method: &str, path: &str) -> Response {
        request(&self.addr, method, path)
    }

    /// The server's log lines not read yet, up to every request answered
    /// before this call. The server logs a request before it answers, but its
    /// stderr reaches the test through a pipe and a reader thread, so a plain
    /// `try_iter` can miss the last lines: this sends a marker request (a 404
    /// on a path of its own) and reads until its access log line.
    pub fn log_so_far(&self) -> Vec<String> {
        self.log_so_far_as(&[])
    }

    /// [`Server::log_so_far`] on a server that needs credentials: the
    /// marker request sends `auth` (header lines).
    pub fn log_so_far_as(&self, auth: &[(&str, &str)]) -> Vec<String> {
        static MARKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = MARKERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let marker = format!("/opendcre/log-marker-{}-{n}", std::process::id());
        assert_eq!(request_with(&self.addr, "GET", &marker, auth).status, 404);
        let end = format!(" {marker} 404");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .log
                .recv_timeout(left)
                .expect("the marker request never reached the log (is access_log on?)");
            if line.contains(&end) {
                return lines;
            }
            lines.push(line);
        }
    }

    /// Sends SIGTERM and waits (bounded) for exit; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) takes no pointers; the pid is our own child's.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `message` of an error body.
    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One request on a fresh connection; the raw path is sent as given.
pub fn request(addr: &str, method: &str, path: &str) -> Response {
    request_with(addr, method, path, &[])
}

/// [`request`] with extra header lines (name, value).
pub fn request_with(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    request_with_body(addr, method, path, headers, "")
}

/// One request with a body (sent with its `Content-Length`; the caller's
/// headers say its type) on a fresh connection.
pub fn request_with_body(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    parse_response(&raw, method == "HEAD")
}

pub fn parse_response(raw: &[u8], head: bool) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head_text = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head_text.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked && !head {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + n]);
        b = &b[end + 4 + n..];
    }
}
