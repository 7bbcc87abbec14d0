//! The update service in the real binary with a stand-in `rauc`
//! (`tests/data/rauc-stand-in.sh`, copied into a directory of its own with
//! the files that say what it does): pushes by role, the install as a task
//! (completed, failed with RAUC's reason), the upload's own limits (size,
//! stall, one at a time) with no file left behind, the inventory from RAUC's
//! status, and the service switched off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{data, parse_response, Response, Server};
use crate::redfish::{
    error_code, get, get_ok, log_message_ids, member_ids, wait_task, OPERATOR, RACK, READER,
};
use opendcre_security::auth::{hash_token, HashAlgorithm};

const UPLOAD: &str = "/redfish/v1/UpdateService/upload";
const MIB: usize = 1024 * 1024;

/// A node whose `[update]` runs the stand-in in `dir/rauc/`, uploads into
/// `dir/upload/`. `extra` is more TOML (`[server]` keys).
struct Node {
    server: Server,
    _cfg: tempfile::TempDir,
    dir: tempfile::TempDir,
}

impl Node {
    fn start(enabled: bool, install_mode: &str, sleep_secs: u32, extra: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let rauc = dir.path().join("rauc");
        std::fs::create_dir(&rauc).unwrap();
        std::fs::create_dir(dir.path().join("upload")).unwrap();
        std::fs::copy(data("rauc-stand-in.sh"), rauc.join("rauc")).unwrap();
        std::fs::copy(data("rauc-status.json"), rauc.join("status.json")).unwrap();
        std::fs::write(rauc.join("install-mode"), install_mode).unwrap();
        std::fs::write(rauc.join("install-sleep"), sleep_secs.to_string()).unwrap();
        let rack = dir.path().join("rack.json");
        std::fs::write(&rack, RACK).unwrap();
        let (server, cfg) = Server::with_config(&format!(
            "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
             [event_log]\npath = {:?}\n\
             [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
             [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n\
             [update]\nenabled = {enabled}\nrauc = {:?}\nupload_dir = {:?}\n\
             max_bundle_bytes = {}\ninstall_timeout_secs = 60\n{extra}",
            rack.display().to_string(),
            dir.path().join("events.jsonl").display().to_string(),
            hash_token(READER, HashAlgorithm::Sha256).unwrap(),
            hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
            rauc.join("rauc").display().to_string(),
            dir.path().join("upload").display().to_string(),
            MIB,
        ));
        Node {
            server,
            _cfg: cfg,
            dir,
        }
    }

    fn rauc_dir(&self) -> PathBuf {
        self.dir.path().join("rauc")
    }

    /// What is left in the upload directory.
    fn uploads(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join("upload"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The stand-in's record of installs: (file, size it had).
    fn installed(&self) -> Vec<(String, u64)> {
        std::fs::read_to_string(self.rauc_dir().join("installed.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let (f, n) = l.rsplit_once(' ').unwrap();
                (f.to_string(), n.trim().parse().unwrap())
            })
            .collect()
    }
}

/// A POST of `body` to the push URI with `Content-Length`.
fn push(s: &Server, token: Option<&str>, body: &[u8], ctype: &str) -> Response {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    c.write_all(head.as_bytes()).unwrap();
    // The server may answer (and close) before the whole body is sent.
    let _ = c.write_all(body);
    read_answer(c)
}

fn read_answer(mut c: TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    parse_response(&raw, false)
}

fn bundle(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Polls a task until it is no longer `Running` (bounded).
fn messages(t: &Value) -> Vec<String> {
    t["Messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn operator_push_installs_as_a_task_and_is_logged() {
    let n = Node::start(true, "ok", 0, "");
    let s = &n.server;
    let root = get_ok(s, "/redfish/v1", None);
    assert_eq!(
        root["UpdateService"]["@odata.id"],
        "/redfish/v1/UpdateService"
    );
    assert_eq!(root["Tasks"]["@odata.id"], "/redfish/v1/TaskService");
    let us = get_ok(s, "/redfish/v1/UpdateService", Some(READER));
    assert_eq!(us["ServiceEnabled"], true);
    assert_eq!(us["HttpPushUri"], UPLOAD);
    assert_eq!(us["MaxImageSizeBytes"], MIB);

    let body = bundle(300 * 1024);
    let r = push(s, Some(OPERATOR), &body, "application/octet-stream");
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let location = r.header("Location").expect("Location").to_string();
    let task = r.json()["@odata.id"].as_str().unwrap().to_string();
    assert!(task.starts_with("/redfish/v1/TaskService/Tasks/"), "{task}");
    assert_eq!(location, format!("{task}/Monitor"), "the task monitor");
    assert_eq!(r.json()["TaskMonitor"], location.as_str());
    let t = wait_task(s, &location);
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert_eq!(t["TaskStatus"], "OK");
    assert_eq!(t["PercentComplete"], 100);
    assert!(t["EndTime"].is_string() && t["StartTime"].is_string());
    assert!(messages(&t).iter().any(|m| m.contains("succeeded")), "{t}");
    // RAUC saw the whole file; it is gone afterwards.
    let installed = n.installed();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].1, body.len() as u64);
    assert!(installed[0]
        .0
        .starts_with(&n.dir.path().join("upload").display().to_string()));
    assert_eq!(n.uploads(), Vec::<String>::new());
    let tasks = get_ok(s, "/redfish/v1/TaskService/Tasks", Some(READER));
    assert_eq!(tasks["Members"][0]["@odata.id"], task.as_str());
    assert!(log_message_ids(s).contains(&"OpenDCRE.1.2.UpdateInstalled".to_string()));
}

#[test]
fn failing_install_is_an_exception_with_raucs_reason() {
    let n = Node::start(true, "fail", 0, "");
    let s = &n.server;
    let r = push(s, Some(OPERATOR), &bundle(4096), "application/octet-stream");
    assert_eq!(r.status, 202);
    let t = wait_task(s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Exception", "{t}");
    assert_eq!(t["TaskStatus"], "Critical");
    let last = t["Messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["MessageId"], "OpenDCRE.1.2.UpdateFailed");
    let reason = "rauc install failed (status 1): Failed verifying signature: signature verification failed: certificate signature failure";
    assert_eq!(last["MessageArgs"][2], reason);
    assert_eq!(last["MessageArgs"][1], "4096");
    // The registry's sentence, as in the event log.
    assert!(
        last["Message"].as_str().unwrap().ends_with(&format!(
            "byte update bundle from '{}' was not installed: {reason}.",
            last["MessageArgs"][0].as_str().unwrap()
        )),
        "{last}"
    );
    assert_eq!(n.uploads(), Vec::<String>::new());
    assert!(log_message_ids(s).contains(&"OpenDCRE.1.2.UpdateFailed".to_string()));
}

#[test]
fn readers_anonymous_and_wrong_types_are_refused_without_a_file() {
    let n = Node::start(true, "ok", 0, "");
    let s = &n.server;
    let r = push(s, Some(READER), &bundle(100), "application/octet-stream");
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "Base.1.22.InsufficientPrivilege");
    let r = push(s, None, &bundle(100), "application/octet-stream");
    assert_eq!(r.status, 401);
    let r = push(s, Some(OPERATOR), b"{}", "application/json");
    assert_eq!(r.status, 415);
    let r = push(s, Some(OPERATOR), b"", "application/octet-stream");
    assert_eq!(r.status, 400);
    let r = get(s, UPLOAD, Some(OPERATOR));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("POST"));
    assert_eq!(n.uploads(), Vec::<String>::new());
    assert!(n.installed().is_empty());
}

#[test]
fn oversized_bundles_get_413_and_leave_no_file() {
    let n = Node::start(true, "ok", 0, "");
    let s = &n.server;
    // Announced too large: refused before a byte is read.
    let r = push(
        s,
        Some(OPERATOR),
        &bundle(MIB + 1),
        "application/octet-stream",
    );
    assert_eq!(r.status, 413);
    assert_eq!(error_code(&r), "Base.1.22.PayloadTooLarge");
    // Chunked, no length: refused once the bytes pass the limit.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(
        format!(
            "POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\n\
             Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let chunk = bundle(64 * 1024);
    for _ in 0..(MIB / chunk.len() + 2) {
        let mut piece = format!("{:x}\r\n", chunk.len()).into_bytes();
        piece.extend_from_slice(&chunk);
        piece.extend_from_slice(b"\r\n");
        if c.write_all(&piece).is_err() {
            break;
        }
    }
    let _ = c.write_all(b"0\r\n\r\n");
    let r = read_answer(c);
    assert_eq!(r.status, 413);
    assert_eq!(n.uploads(), Vec::<String>::new());
    assert!(n.installed().is_empty());
}

#[test]
fn a_stalled_upload_gets_408_and_leaves_no_file() {
    let n = Node::start(true, "ok", 0, "[server]\nbody_timeout_ms = 1000\n");
    let s = &n.server;
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(
        format!(
            "POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    // Bytes keep coming for longer than body_timeout: progress, not a
    // total time, is what counts.
    for _ in 0..4 {
        c.write_all(&bundle(1000)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
    }
    let partial = n.uploads();
    assert_eq!(partial.len(), 1, "the upload is being written: {partial:?}");
    let started = Instant::now();
    let r = read_answer(c);
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&r.body));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(n.uploads(), Vec::<String>::new());
    assert!(n.installed().is_empty());
}

#[test]
fn a_client_that_goes_away_leaves_no_file_and_frees_the_slot() {
    let n = Node::start(true, "ok", 0, "");
    let s = &n.server;
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(
        format!(
            "POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    c.write_all(&bundle(5000)).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while n.uploads().is_empty() {
        assert!(Instant::now() < end, "no upload file appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(c);
    let end = Instant::now() + Duration::from_secs(5);
    while !n.uploads().is_empty() {
        assert!(Instant::now() < end, "left behind: {:?}", n.uploads());
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = push(s, Some(OPERATOR), &bundle(100), "application/octet-stream");
    assert_eq!(r.status, 202, "the slot is free again");
    wait_task(s, r.header("Location").unwrap());
    assert!(n.installed().len() == 1 && n.installed()[0].1 == 100);
}

#[test]
fn a_second_upload_during_an_install_is_refused_with_409() {
    let n = Node::start(true, "ok", 3, "");
    let s = &n.server;
    let first = push(s, Some(OPERATOR), &bundle(2048), "application/octet-stream");
    assert_eq!(first.status, 202);
    let second = push(s, Some(OPERATOR), &bundle(2048), "application/octet-stream");
    assert_eq!(
        second.status,
        409,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
    assert_eq!(error_code(&second), "Base.1.22.ResourceInUse");
    // RAUC's last progress line, while it sleeps after it.
    let end = Instant::now() + Duration::from_secs(2);
    let running = loop {
        let t = get_ok(s, first.json()["@odata.id"].as_str().unwrap(), Some(READER));
        if t["PercentComplete"] == 20 || Instant::now() > end {
            break t;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(running["TaskState"], "Running");
    assert_eq!(running["PercentComplete"], 20, "{running}");
    // RAUC cannot stop an install: a DELETE of its task is refused.
    let stop = crate::redfish::send(
        s,
        "DELETE",
        first.header("Location").unwrap(),
        OPERATOR,
        "",
        &[],
    );
    assert_eq!(stop.status, 409, "{}", String::from_utf8_lossy(&stop.body));
    assert_eq!(error_code(&stop), "Base.1.22.ResourceInUse");
    assert_eq!(
        wait_task(s, first.header("Location").unwrap())["TaskState"],
        "Completed"
    );
    // Free again once the install ended.
    let third = push(s, Some(OPERATOR), &bundle(2048), "application/octet-stream");
    assert_eq!(third.status, 202);
    wait_task(s, third.header("Location").unwrap());
    assert_eq!(n.installed().len(), 2);
}

#[test]
fn inventory_shows_raucs_slots_and_says_when_rauc_cannot_be_asked() {
    let n = Node::start(true, "ok", 0, "");
    let s = &n.server;
    let inv = get_ok(
        s,
        "/redfish/v1/UpdateService/FirmwareInventory",
        Some(READER),
    );
    let members = member_ids(&inv);
    // The slots first, then the example rack's boards' firmware.
    assert_eq!(
        members[..2],
        [
            "/redfish/v1/UpdateService/FirmwareInventory/rootfs.0",
            "/redfish/v1/UpdateService/FirmwareInventory/rootfs.1"
        ]
    );
    assert!(members.len() > 2, "{inv}");
    assert!(
        members[2..]
            .iter()
            .all(|m| get_ok(s, m, Some(READER))["Updateable"] == false),
        "{inv}"
    );
    let a = get_ok(s, members[0], Some(READER));
    assert_eq!(a["Version"], "2026.11.1");
    assert_eq!(a["Updateable"], true);
    assert_eq!(a["Status"]["State"], "Enabled");
    assert!(a["Description"].as_str().unwrap().contains("booted"), "{a}");
    let b = get_ok(s, members[1], Some(READER));
    assert_eq!(b["Version"], "2026.10.2");
    assert_eq!(b["Status"]["State"], "StandbyOffline");
    assert_eq!(
        get(
            s,
            "/redfish/v1/UpdateService/FirmwareInventory/rootfs.9",
            Some(READER)
        )
        .status,
        404
    );

    // rauc-service gone: no members, and the reason.
    std::fs::remove_file(n.rauc_dir().join("status.json")).unwrap();
    let inv = get_ok(
        s,
        "/redfish/v1/UpdateService/FirmwareInventory",
        Some(READER),
    );
    // The boards' firmware stays listed.
    assert!(inv["Members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| !m["@odata.id"].as_str().unwrap().contains("rootfs")));
    assert!(
        inv["Description"]
            .as_str()
            .unwrap()
            .contains("rauc status failed"),
        "{inv}"
    );
    let us = get_ok(s, "/redfish/v1/UpdateService", Some(READER));
    assert_eq!(us["Status"]["Health"], "Warning");
    // Not JSON at all.
    std::fs::write(n.rauc_dir().join("status.json"), "Booted from: rootfs.0").unwrap();
    let inv = get_ok(
        s,
        "/redfish/v1/UpdateService/FirmwareInventory",
        Some(READER),
    );
    assert!(
        inv["Description"].as_str().unwrap().contains("not JSON"),
        "{inv}"
    );
    assert_eq!(get(s, members[0], Some(READER)).status, 500);
}

#[test]
fn disabled_service_says_so_and_refuses_pushes() {
    let n = Node::start(false, "ok", 0, "");
    let s = &n.server;
    let us = get_ok(s, "/redfish/v1/UpdateService", Some(READER));
    assert_eq!(us["ServiceEnabled"], false);
    assert_eq!(us["Status"]["State"], "Disabled");
    let r = push(s, Some(OPERATOR), &bundle(100), "application/octet-stream");
    assert_eq!(r.status, 503);
    assert_eq!(error_code(&r), "Base.1.22.ServiceDisabled");
    assert_eq!(n.uploads(), Vec::<String>::new());
    assert!(n.installed().is_empty());
}

/// `MultipartHttpPushUri` as curl sends a form (what Ansible's and DMTF's
/// update tools do): the bundle part arrives whole (the stand-in rauc sees
/// every byte, no boundary), the parameters are checked, bad forms change
/// nothing.
#[test]
fn multipart_push_installs_the_update_file() {
    let n = Node::start(true, "ok", 0, "");
    let s = &n.server;
    let svc = get_ok(s, "/redfish/v1/UpdateService", Some(READER));
    let uri = svc["MultipartHttpPushUri"].as_str().unwrap().to_string();
    assert_eq!(uri, "/redfish/v1/UpdateService/update-multipart");
    // Bytes that look like boundaries and line ends, 300 kB of them.
    let mut data = bundle(300_000);
    data[1000..1006].copy_from_slice(b"\r\n--\r\n");
    let file = n.dir.path().join("update.raucb");
    std::fs::write(&file, &data).unwrap();
    let curl = |token: &str, fields: &[String]| -> (u16, String, String) {
        let headers = n.dir.path().join("headers");
        let body = n.dir.path().join("body");
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sS", "-o"])
            .arg(&body)
            .arg("-D")
            .arg(&headers)
            .args(["-w", "%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {token}"));
        for f in fields {
            cmd.arg("-F").arg(f);
        }
        let out = cmd.arg(format!("http://{}{uri}", s.addr)).output().unwrap();
        let code = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        (
            code,
            std::fs::read_to_string(&headers).unwrap_or_default(),
            std::fs::read_to_string(&body).unwrap_or_default(),
        )
    };
    let params = |json: &str| format!("UpdateParameters={json};type=application/json");
    let update_file = format!("UpdateFile=@{}", file.display());
    let good = params(r#"{"Targets": [], "@Redfish.OperationApplyTime": "Immediate"}"#);

    let (code, _, _) = curl(READER, &[good.clone(), update_file.clone()]);
    assert_eq!(code, 403);
    for (fields, want, what) in [
        (vec![update_file.clone()], 400, "no UpdateParameters"),
        (vec![good.clone()], 400, "no UpdateFile"),
        (
            vec![
                params(r#"{"Targets": ["/redfish/v1/UpdateService/FirmwareInventory/00000001"]}"#),
                update_file.clone(),
            ],
            400,
            "a bus board's firmware",
        ),
        (
            vec![
                params(r#"{"@Redfish.OperationApplyTime": "AtMaintenanceWindowStart"}"#),
                update_file.clone(),
            ],
            400,
            "an apply time the node does not offer",
        ),
        (
            vec![params("[1]"), update_file.clone()],
            400,
            "not an object",
        ),
        (
            vec![good.clone(), update_file.clone(), "Colour=blue".to_string()],
            400,
            "an unknown part",
        ),
    ] {
        let (code, _, body) = curl(OPERATOR, &fields);
        assert_eq!(code, want, "{what}: {body}");
    }
    assert!(n.installed().is_empty(), "nothing installed");
    assert_eq!(n.uploads(), Vec::<String>::new(), "nothing left behind");
    // The plain push URI's body type is not a form's, and the reverse.
    let r = push(s, Some(OPERATOR), &data, "multipart/form-data; boundary=x");
    assert_eq!(r.status, 415);

    let (code, headers, body) = curl(
        OPERATOR,
        &[
            params(
                r#"{"Targets": ["/redfish/v1/Managers/RackManager"], "@Redfish.OperationApplyTime": "OnReset"}"#,
            ),
            update_file,
        ],
    );
    assert_eq!(code, 202, "{body}");
    let location = headers
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap()
        .trim()
        .to_string();
    let t = wait_task(s, &location);
    assert_eq!(t["TaskState"], "Completed", "{t}");
    let installed = n.installed();
    assert_eq!(installed.len(), 1);
    assert_eq!(
        installed[0].1,
        data.len() as u64,
        "every byte of the file, no more"
    );
}

/// A file server for `SimpleUpdate`: Python's `http.server` on loopback,
/// over TLS when given a certificate, asking for HTTP Basic when given the
/// `Authorization` value it wants.
struct FileServer {
    child: std::process::Child,
    port: u16,
}

const FILE_SERVER: &str = r#"
import functools, http.server, ssl, sys, time
root, cert, key, want = sys.argv[1:5]
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if want and self.headers.get("Authorization") != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="bundles"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow.raucb":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x" * 1000)
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            return
        super().do_GET()
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(H, directory=root))
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

impl FileServer {
    fn start(
        root: &std::path::Path,
        tls: Option<(&std::path::Path, &std::path::Path)>,
        want: &str,
    ) -> FileServer {
        use std::io::BufRead;
        let (cert, key) = tls.map_or((String::new(), String::new()), |(c, k)| {
            (c.display().to_string(), k.display().to_string())
        });
        let mut child = std::process::Command::new("python3")
            .args(["-c", FILE_SERVER])
            .arg(root)
            .args([&cert, &key, want])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the file server's port");
        FileServer { child, port }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SIMPLE_UPDATE: &str = "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate";

/// `SimpleUpdate`: the node fetches the bundle (plain HTTP with Basic
/// credentials, HTTPS from a server whose CA is `[update] ca_file`) and
/// installs it as a task; a missing file, a file too large and an
/// unknown certificate end the task with the reason, logged, no file left.
#[test]
fn simple_update_fetches_over_http_and_https_and_installs() {
    let files = tempfile::tempdir().unwrap();
    let good = bundle(200 * 1024);
    std::fs::write(files.path().join("os.raucb"), &good).unwrap();
    std::fs::write(files.path().join("huge.raucb"), bundle(MIB + 10)).unwrap();
    // A CA (the node's [update] ca_file) and a server certificate for
    // 127.0.0.1 it signed.
    let path = |name: &str| files.path().join(name).display().to_string();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-days",
                "1",
                "-subj",
                "/CN=bundle CA",
                "-keyout",
                &path("ca.key"),
                "-out",
                &path("ca.crt"),
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-subj",
                "/CN=bundles",
                "-keyout",
                &path("tls.key"),
                "-out",
                &path("tls.csr"),
            ],
        ]
        .concat(),
    );
    std::fs::write(
        files.path().join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &path("tls.csr"),
        "-CA",
        &path("ca.crt"),
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &path("ext"),
        "-out",
        &path("tls.crt"),
    ]);
    let (cert, key, ca) = (
        files.path().join("tls.crt"),
        files.path().join("tls.key"),
        path("ca.crt"),
    );
    // "fw:s3cret"
    let plain = FileServer::start(files.path(), None, "Basic Znc6czNjcmV0");
    let tls = FileServer::start(files.path(), Some((&cert, &key)), "");

    let n = Node::start(true, "ok", 0, &format!("ca_file = {ca:?}\n"));
    let s = &n.server;
    let us = get_ok(s, "/redfish/v1/UpdateService", Some(READER));
    assert_eq!(
        us["Actions"]["#UpdateService.SimpleUpdate"]["target"],
        SIMPLE_UPDATE
    );
    let pull = |token: &str, body: String| {
        crate::redfish::send(s, "POST", SIMPLE_UPDATE, token, &body, &[])
    };
    let http_uri = |path: &str| format!("http://127.0.0.1:{}/{path}", plain.port);

    let r = pull(
        READER,
        format!(r#"{{"ImageURI": "{}"}}"#, http_uri("os.raucb")),
    );
    assert_eq!(r.status, 403);
    // Without the credentials the server wants: the task says so.
    let r = pull(
        OPERATOR,
        format!(r#"{{"ImageURI": "{}"}}"#, http_uri("os.raucb")),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let t = wait_task(s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Exception", "{t}");
    assert!(messages(&t).iter().any(|m| m.contains("401")), "{t}");
    assert!(n.installed().is_empty());

    // The usage guide's form, with TransferProtocol and credentials.
    let r = pull(
        OPERATOR,
        format!(
            r#"{{"ImageURI": "127.0.0.1:{}/os.raucb", "TransferProtocol": "HTTP", "Username": "fw", "Password": "s3cret", "Targets": ["/redfish/v1/Managers/RackManager"]}}"#,
            plain.port
        ),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let t = wait_task(s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert!(t["Name"].as_str().unwrap().contains("/os.raucb"), "{t}");
    assert_eq!(n.installed().len(), 1);
    assert_eq!(
        n.installed()[0].1,
        good.len() as u64,
        "RAUC got the whole file"
    );

    // HTTPS, trusted through [update] ca_file.
    let https = format!("https://127.0.0.1:{}/os.raucb", tls.port);
    let r = pull(OPERATOR, format!(r#"{{"ImageURI": "{https}"}}"#));
    assert_eq!(r.status, 202);
    let t = wait_task(s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert_eq!(n.installed().len(), 2);
    assert_eq!(n.installed()[1].1, good.len() as u64);

    // What fails, fails in the task, with the reason, and is logged.
    let wrong = [
        (
            format!("https://127.0.0.1:{}/nothing-here.raucb", tls.port),
            "404",
        ),
        (
            format!("https://127.0.0.1:{}/huge.raucb", tls.port),
            "larger than",
        ),
        (format!("https://localhost:{}/os.raucb", tls.port), "TLS"),
    ];
    for (uri, why) in wrong {
        let r = pull(OPERATOR, format!(r#"{{"ImageURI": "{uri}"}}"#));
        assert_eq!(r.status, 202, "{uri}");
        let t = wait_task(s, r.header("Location").unwrap());
        assert_eq!(t["TaskState"], "Exception", "{t}");
        let last = t["Messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["MessageId"], "OpenDCRE.1.2.UpdateFailed", "{t}");
        assert!(
            last["MessageArgs"][2].as_str().unwrap().contains(why),
            "{uri}: {t}"
        );
    }
    // A download that trickles is stopped by a DELETE of its task.
    let r = pull(
        OPERATOR,
        format!(
            r#"{{"ImageURI": "{}", "Username": "fw", "Password": "s3cret"}}"#,
            http_uri("slow.raucb")
        ),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let task = r.json()["@odata.id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));
    let stop = crate::redfish::send(s, "DELETE", &task, OPERATOR, "", &[]);
    assert_eq!(stop.status, 202, "{}", String::from_utf8_lossy(&stop.body));
    let end = Instant::now() + Duration::from_secs(10);
    let t = loop {
        let t = get_ok(s, &task, Some(READER));
        if t["TaskState"] == "Cancelled" {
            break t;
        }
        assert!(Instant::now() < end, "not cancelled: {t}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        t["Messages"][0]["MessageId"], "OpenDCRE.1.2.TaskCancelled",
        "{t}"
    );
    assert_eq!(n.installed().len(), 2, "nothing more installed");
    assert_eq!(n.uploads(), Vec::<String>::new(), "no file left behind");
    let r = pull(
        OPERATOR,
        r#"{"ImageURI": "tftp://127.0.0.1/os.raucb"}"#.to_string(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.ActionParameterValueError");
}
