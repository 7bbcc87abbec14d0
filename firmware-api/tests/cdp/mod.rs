//! A small driver for Debian's headless Chromium over the DevTools protocol
//! on a pipe (`--remote-debugging-pipe`: commands on fd 3, answers and
//! events on fd 4, NUL-separated JSON). Enough to open tabs, run
//! JavaScript in them, take a screenshot, and collect console errors and
//! uncaught exceptions, with no crate beyond serde_json and libc.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Bound for one protocol call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running headless Chromium; killed on drop.
pub struct Browser {
    child: Child,
    commands: File,
    answers: mpsc::Receiver<Value>,
    next_id: u64,
    /// Events seen so far, by session id ("" for the browser).
    events: HashMap<String, Vec<Value>>,
    _profile: tempfile::TempDir,
}

fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

impl Browser {
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let (cmd_read, cmd_write) = pipe();
        let (ans_read, ans_write) = pipe();
        let mut cmd = Command::new("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--remote-debugging-pipe",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only fcntl and dup2 between fork and exec (both
        // async-signal-safe). The pipe ends may themselves be 3 or 4, so
        // they are first copied above both (close-on-exec), then onto 3
        // and 4, where dup2 clears close-on-exec.
        unsafe {
            cmd.pre_exec(move || {
                let high_read = libc::fcntl(cmd_read, libc::F_DUPFD_CLOEXEC, 10);
                let high_write = libc::fcntl(ans_write, libc::F_DUPFD_CLOEXEC, 10);
                if high_read < 0
                    || high_write < 0
                    || libc::dup2(high_read, 3) < 0
                    || libc::dup2(high_write, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium");
        // SAFETY: the descriptors are ours and each is wrapped once.
        let (commands, answers_file) = unsafe {
            libc::close(cmd_read);
            libc::close(ans_write);
            (File::from_raw_fd(cmd_write), File::from_raw_fd(ans_read))
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(answers_file);
            let mut buf = Vec::new();
            while matches!(r.read_until(0, &mut buf), Ok(n) if n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
                buf.clear();
            }
        });
        Browser {
            child,
            commands,
            answers: rx,
            next_id: 0,
            events: HashMap::new(),
            _profile: profile,
        }
    }

    /// One protocol call; panics on an error answer or after 30 s.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .expect("write to chromium's pipe");
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .answers
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("chromium did not answer {method} within 30 s"));
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                let s = v["sessionId"].as_str().unwrap_or_default().to_string();
                self.events.entry(s).or_default().push(v);
            }
        }
    }

    /// A new tab (its own session storage) at `url`, with the runtime and
    /// log domains on so errors are collected.
    pub fn open(&mut self, url: &str) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        let session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            self.call(Some(&session), domain, json!({}));
        }
        self.call(Some(&session), "Page.navigate", json!({ "url": url }));
        session
    }

    /// Evaluates `expr` (promises are awaited) and returns its value.
    pub fn eval(&mut self, session: &str, expr: &str) -> Value {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expr, "awaitPromise": true, "returnByValue": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Evaluates `expr` until it is true (bounded); returns how long that took.
    pub fn wait_for(&mut self, session: &str, expr: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        loop {
            // Before the page's document exists, evaluation may fail.
            let r = self.call(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true }),
            );
            if r["result"]["value"] == json!(true) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < timeout,
                "not true within {timeout:?}: {expr}\nerrors: {:?}",
                self.console_errors(session)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Uncaught exceptions, `console.error` calls and error log entries
    /// (failed loads, CSP violations) of the tab so far.
    pub fn console_errors(&mut self, session: &str) -> Vec<String> {
        // Drain what has arrived without waiting.
        while let Ok(v) = self.answers.try_recv() {
            if v.get("method").is_some() {
                let s = v["sessionId"].as_str().unwrap_or_default().to_string();
                self.events.entry(s).or_default().push(v);
            }
        }
        let mut out = Vec::new();
        for e in self.events.get(session).map(Vec::as_slice).unwrap_or(&[]) {
            match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => {
                    out.push(format!("exception: {}", e["params"]["exceptionDetails"]))
                }
                Some("Runtime.consoleAPICalled") if e["params"]["type"] == "error" => {
                    out.push(format!("console.error: {}", e["params"]["args"]))
                }
                Some("Log.entryAdded") if e["params"]["entry"]["level"] == "error" => {
                    out.push(format!(
                        "log: {} {}",
                        e["params"]["entry"]["text"].as_str().unwrap_or(""),
                        e["params"]["entry"]["url"].as_str().unwrap_or("")
                    ))
                }
                _ => {}
            }
        }
        out
    }

    /// A PNG of the tab's viewport.
    pub fn screenshot(&mut self, session: &str) -> Vec<u8> {
        use base64::Engine;
        let r = self.call(
            Some(session),
            "Page.captureScreenshot",
            json!({ "format": "png" }),
        );
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
