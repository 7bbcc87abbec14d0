//! The Redfish service (crates/redfish) in the real binary on the emulator:
//! which documents are public, protocol headers, error bodies, roles, and a
//! `ComputerSystem.Reset` that switches an emulated power device, checked
//! through the v1.1 API.

use std::path::Path;
use std::time::Duration;

use crate::common::{request_with, Response, Server};
use opendcre_security::auth::{hash_token, HashAlgorithm};

pub(crate) const READER: &str = "odcre_redfish-reader-0123456789abcdef";
pub(crate) const OPERATOR: &str = "odcre_redfish-operator-0123456789abcdef";
/// An administrator's token: the node's own actions (`ConfigureManager`).
pub(crate) const ADMIN: &str = "odcre_redfish-admin-0123456789abcdef";

/// Two boards; their power devices keep state (`on`/`off` switch it), so
/// a reset can be seen afterwards.
pub(crate) const RACK: &str = r#"{"boards": [
  {"board_id": "00000001", "devices": [
    {"device_id": "0001", "device_type": "power", "has_state": true, "asset_info": "rack-a/node-01 SN:1",
     "power": "0,1215,4528,2320", "on": "0,1215,4528,2320", "off": "64,0,4529,2075"},
    {"device_id": "0002", "device_type": "thermistor", "read": {"repeatable": true, "responses": [656]}}
  ]},
  {"board_id": "00000002", "devices": [
    {"device_id": "0001", "device_type": "power", "has_state": true,
     "power": "64,0,4529,2075", "on": "0,905,4532,1985", "off": "64,0,4529,2075"}
  ]}
]}"#;

/// A node on `emulator` with a reader, an operator and an admin token, telemetry off
/// (its poller would read the devices behind the test's back).
pub(crate) fn node(emulator: &Path) -> (Server, tempfile::TempDir) {
    Server::with_config(&node_toml(emulator, ""))
}

/// The configuration of [`node`], with `extra` (more tables) after it.
pub(crate) fn node_toml(emulator: &Path, extra: &str) -> String {
    format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n{}{extra}",
        emulator.display().to_string(),
        hash_token(READER, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
        admin_token_toml()
    )
}

pub(crate) fn reader_hash() -> String {
    hash_token(READER, HashAlgorithm::Sha256).unwrap()
}

pub(crate) fn operator_hash() -> String {
    hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap()
}

/// `[auth.tokens.admin]` for [`ADMIN`], to append to a configuration.
pub(crate) fn admin_token_toml() -> String {
    format!(
        "[auth.tokens.admin]\nhash = \"{}\"\nrole = \"admin\"\n",
        hash_token(ADMIN, HashAlgorithm::Sha256).unwrap()
    )
}

/// The `@odata.id` of each member of a collection.
pub(crate) fn member_ids(collection: &serde_json::Value) -> Vec<&str> {
    collection["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.id"].as_str().unwrap())
        .collect()
}

/// Polls a task until it has ended (60 s at most): its monitor (a 202's
/// `Location`, which answers 202 while the task runs, then 200 with it,
/// or 500 with its messages when it failed, DSP0266 "Asynchronous
/// operations") or the task itself; the task as it ended.
pub(crate) fn wait_task(s: &Server, uri: &str) -> serde_json::Value {
    let end = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = get(s, uri, Some(READER));
        if r.status == 500 && uri.ends_with("/Monitor") {
            // A failed task's monitor answers as the failed operation
            // would: an error carrying the task's messages.
            let e = r.json();
            let task = get(s, uri.trim_end_matches("/Monitor"), Some(READER)).json();
            assert_eq!(task["TaskState"], "Exception", "{e}");
            let info = e["error"]["@Message.ExtendedInfo"].as_array().unwrap();
            assert_eq!(&info[1..], task["Messages"].as_array().unwrap(), "{e}");
            return task;
        }
        let t = r.json();
        let running = t["TaskState"] == "Running" || t["TaskState"] == "Cancelling";
        let want = if running && uri.ends_with("/Monitor") {
            202
        } else {
            200
        };
        assert_eq!(r.status, want, "{uri}: {t}");
        if !running {
            return t;
        }
        assert!(std::time::Instant::now() < end, "task still running: {t}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn stateful_node() -> (Server, tempfile::TempDir, tempfile::TempDir) {
    let (dir, rack) = rack_file();
    let (s, cfg) = node(&rack);
    (s, cfg, dir)
}

/// [`RACK`] in a file of a new directory (the test's state goes beside
/// it): the directory and the file's path.
pub(crate) fn rack_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    (dir, rack)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub(crate) fn get(s: &Server, path: &str, token: Option<&str>) -> Response {
    let auth = token.map(bearer);
    let h: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request_with(&s.addr, "GET", path, &h)
}

/// A GET that must answer 200 (the path and body in the failure), as JSON.
pub(crate) fn get_ok(s: &Server, path: &str, token: Option<&str>) -> serde_json::Value {
    let r = get(s, path, token);
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// A request with a body as a token holder sends it (JSON unless `extra`
/// says otherwise).
pub(crate) fn send(
    s: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> Response {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if !extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type", "application/json"));
    }
    headers.extend_from_slice(extra);
    crate::common::request_with_body(&s.addr, method, path, &headers, body)
}

/// One refused `PATCH`: who sends it, the body, its `If-Match` (`None`:
/// none), the status and the Base message expected.
pub(crate) type RefusedPatch<'a> = (&'a str, &'a str, Option<&'a str>, u16, &'a str);

/// `PATCH`es `uri` with each case and checks it is refused as expected.
pub(crate) fn assert_patches_refused(s: &Server, uri: &str, cases: &[RefusedPatch<'_>]) {
    for (token, body, if_match, status, code) in cases {
        let extra: Vec<(&str, &str)> = if_match.map(|m| ("If-Match", m)).into_iter().collect();
        let r = send(s, "PATCH", uri, token, body, &extra);
        assert_eq!(
            (r.status, error_code(&r)),
            (*status, format!("Base.1.22.{code}")),
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

pub(crate) fn reset(s: &Server, system: &str, token: &str, reset_type: &str) -> Response {
    send(
        s,
        "POST",
        &format!("/redfish/v1/Systems/{system}/Actions/ComputerSystem.Reset"),
        token,
        &format!("{{\"ResetType\": \"{reset_type}\"}}"),
        &[],
    )
}

/// The `MessageId`s of the manager's event log, oldest first.
pub(crate) fn log_message_ids(s: &Server) -> Vec<String> {
    let v = get_ok(
        s,
        "/redfish/v1/Managers/RackManager/LogServices/EventLog/Entries",
        Some(READER),
    );
    v["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["MessageId"].as_str().unwrap().to_string())
        .collect()
}

/// The Base registry message id of a Redfish error answer.
pub(crate) fn error_code(r: &Response) -> String {
    let v = r.json();
    let code = v["error"]["code"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        v["error"]["@Message.ExtendedInfo"][0]["MessageId"], code,
        "extended info names the same message"
    );
    code
}

/// `on`/`off` of `GET /opendcre/1.1/power/status/…`.
pub(crate) fn v11_power(s: &Server, board: &str, device: &str) -> String {
    let r = get(
        s,
        &format!("/opendcre/1.1/power/status/{board}/{device}"),
        Some(READER),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["power_status"].as_str().unwrap().to_string()
}

pub(crate) fn power_state(s: &Server, system: &str) -> String {
    let r = get(s, &format!("/redfish/v1/Systems/{system}"), Some(READER));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["PowerState"].as_str().unwrap().to_string()
}

#[test]
fn the_service_root_and_its_documents_are_public_the_rest_needs_a_reader() {
    let (s, _cfg, _dir) = stateful_node();
    for path in [
        "/redfish",
        "/redfish/",
        "/redfish/v1",
        "/redfish/v1/",
        "/redfish/v1/$metadata",
        "/redfish/v1/odata",
    ] {
        assert_eq!(
            get(&s, path, None).status,
            200,
            "{path} without credentials"
        );
    }
    for path in [
        "/redfish/v1/Chassis",
        "/redfish/v1/Systems/00000001-0001",
        "/redfish/v1/Managers/RackManager",
        "/redfish/v1/SessionService",
        "/redfish/v1/Nope",
    ] {
        let r = get(&s, path, None);
        assert_eq!(r.status, 401, "{path} without credentials");
        assert_eq!(error_code(&r), "Base.1.22.NoValidSession", "{path}");
        assert!(r.header("WWW-Authenticate").unwrap().starts_with("Bearer"));
        assert_eq!(r.header("OData-Version"), Some("4.0"));
        let wrong = get(&s, path, Some("odcre_not-a-token"));
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        assert_eq!(
            get(&s, path, Some(READER)).status,
            if path.ends_with("Nope") { 404 } else { 200 },
            "{path}"
        );
    }
    let root = get(&s, "/redfish/v1", None).json();
    assert_eq!(root["@odata.id"], "/redfish/v1");
    assert_eq!(
        root["Links"]["Sessions"]["@odata.id"],
        "/redfish/v1/SessionService/Sessions"
    );
    // The service UUID: a keyed hash of this machine's id, the same in the
    // manager; left out where the machine has no id.
    let expected = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .and_then(|id| opendcre_redfish::service_uuid(&id));
    let manager = get(&s, "/redfish/v1/Managers/RackManager", Some(READER)).json();
    assert_eq!(root["UUID"].as_str().map(str::to_string), expected);
    assert_eq!(manager["UUID"], root["UUID"]);
    assert_eq!(manager["ServiceEntryPointUUID"], root["UUID"]);
    // The version object points at v1.
    assert_eq!(get(&s, "/redfish", None).json()["v1"], "/redfish/v1/");
}

#[test]
fn protocol_headers_documents_and_the_tree() {
    let (s, _cfg, _dir) = stateful_node();
    let r = get(&s, "/redfish/v1/Systems", Some(READER));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("OData-Version"), Some("4.0"));
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        r.header("Link"),
        Some(
            "<https://redfish.dmtf.org/schemas/v1/ComputerSystemCollection.json>; rel=describedby"
        )
    );
    let systems: Vec<String> = r.json()["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        systems,
        [
            "/redfish/v1/Systems/00000001-0001",
            "/redfish/v1/Systems/00000002-0001"
        ]
    );
    // A trailing slash names the same resource.
    assert_eq!(
        get(&s, "/redfish/v1/Systems/", Some(READER)).json(),
        r.json()
    );

    let chassis = get(&s, "/redfish/v1/Chassis", Some(READER)).json();
    assert_eq!(chassis["Members@odata.count"], 3);
    let rack = get(&s, "/redfish/v1/Chassis/Rack", Some(READER)).json();
    assert_eq!(rack["ChassisType"], "Rack");
    assert_eq!(
        rack["Links"]["Contains"],
        serde_json::json!([
            {"@odata.id": "/redfish/v1/Chassis/00000001"},
            {"@odata.id": "/redfish/v1/Chassis/00000002"}
        ])
    );
    let board = get(&s, "/redfish/v1/Chassis/00000002", Some(READER)).json();
    assert_eq!(
        board["Links"]["ContainedBy"]["@odata.id"],
        "/redfish/v1/Chassis/Rack"
    );
    let manager = get(&s, "/redfish/v1/Managers/RackManager", Some(READER)).json();
    assert_eq!(manager["ManagerType"], "RackManager");
    assert!(manager["FirmwareVersion"]
        .as_str()
        .unwrap()
        .starts_with(env!("CARGO_PKG_VERSION")));
    assert!(manager["DateTime"].as_str().unwrap().ends_with("+00:00"));

    let meta = get(&s, "/redfish/v1/$metadata", None);
    assert_eq!(
        meta.header("Content-Type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(meta.header("OData-Version"), Some("4.0"));
    let xml = String::from_utf8(meta.body).unwrap();
    for ns in [
        "ServiceRoot.v1_20_0",
        "ComputerSystem.v1_27_0",
        "Chassis.v1_28_0",
        "Manager.v1_24_0",
    ] {
        assert!(
            xml.contains(&format!("Namespace=\"{ns}\"")),
            "{ns} in $metadata"
        );
    }
    // Every @odata.type the service sends is a namespace $metadata includes.
    for v in [&rack, &board, &manager, &chassis] {
        let t = v["@odata.type"].as_str().unwrap();
        let ns = t.trim_start_matches('#').rsplit_once('.').unwrap().0;
        assert!(xml.contains(&format!("Namespace=\"{ns}\"")), "{t}");
    }
    let odata = get(&s, "/redfish/v1/odata", None).json();
    assert!(odata["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["url"] == "/redfish/v1/Systems"));

    let head = request_with(&s.addr, "HEAD", "/redfish/v1", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn wrong_methods_and_missing_resources_get_redfish_errors() {
    let (s, _cfg, _dir) = stateful_node();
    let r = send(&s, "POST", "/redfish/v1/Chassis", READER, "{}", &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(error_code(&r), "Base.1.22.OperationNotAllowed");
    let r = send(&s, "DELETE", "/redfish/v1", READER, "", &[]);
    assert_eq!(r.status, 405);
    let r = get(
        &s,
        "/redfish/v1/Systems/00000001-0001/Actions/ComputerSystem.Reset",
        Some(OPERATOR),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("POST"));

    // `$orderby` is not supported (501), parameters without `$` are
    // ignored (tests/redfish_protocol.rs tests the supported ones).
    let r = get(&s, "/redfish/v1/Systems?$orderby=Id", Some(READER));
    assert_eq!(r.status, 501);
    assert_eq!(error_code(&r), "Base.1.22.QueryNotSupported");
    assert_eq!(
        get(&s, "/redfish/v1/Systems?other=1", Some(READER)).status,
        200
    );

    for path in [
        "/redfish/v1/Nope",
        "/redfish/v1/Chassis/00000099",
        "/redfish/v1/Chassis/1",
        "/redfish/v1/Systems/00000001-0002",
        "/redfish/v2",
    ] {
        let r = get(&s, path, Some(READER));
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(error_code(&r), "Base.1.22.ResourceMissingAtURI", "{path}");
        assert_eq!(
            r.json()["error"]["@Message.ExtendedInfo"][0]["MessageArgs"][0],
            path,
            "the message quotes the URI"
        );
        assert_eq!(r.header("OData-Version"), Some("4.0"));
    }
}

#[test]
fn reset_needs_an_operator_and_switches_the_power_device() {
    let (s, _cfg, _dir) = stateful_node();
    assert_eq!(v11_power(&s, "00000001", "0001"), "on");

    let r = reset(&s, "00000001-0001", READER, "ForceOff");
    assert_eq!(r.status, 403, "a reader may not reset");
    assert_eq!(error_code(&r), "Base.1.22.InsufficientPrivilege");
    assert_eq!(v11_power(&s, "00000001", "0001"), "on", "nothing switched");

    // A page of another site cannot ride an operator's credentials.
    let r = send(
        &s,
        "POST",
        "/redfish/v1/Systems/00000001-0001/Actions/ComputerSystem.Reset",
        OPERATOR,
        r#"{"ResetType": "ForceOff"}"#,
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.header("OData-Version"), Some("4.0"));
    assert_eq!(v11_power(&s, "00000001", "0001"), "on", "nothing switched");

    let r = reset(&s, "00000001-0001", OPERATOR, "ForceOff");
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(v11_power(&s, "00000001", "0001"), "off");
    assert_eq!(power_state(&s, "00000001-0001"), "Off");

    let r = reset(&s, "00000002-0001", OPERATOR, "On");
    assert_eq!(r.status, 204);
    assert_eq!(v11_power(&s, "00000002", "0001"), "on");
    assert_eq!(power_state(&s, "00000002-0001"), "On");

    let r = reset(&s, "00000001-0001", OPERATOR, "Nmi");
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.ActionParameterValueNotInList");
    let r = send(
        &s,
        "POST",
        "/redfish/v1/Systems/00000001-0001/Actions/ComputerSystem.Reset",
        OPERATOR,
        "{not json",
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.MalformedJSON");
    assert_eq!(
        v11_power(&s, "00000001", "0001"),
        "off",
        "bad requests switch nothing"
    );

    // DSP0266 request headers: a body that is not JSON, an OData version
    // this service does not speak.
    let reset_uri = "/redfish/v1/Systems/00000001-0001/Actions/ComputerSystem.Reset";
    let r = send(
        &s,
        "POST",
        reset_uri,
        OPERATOR,
        "ResetType=On",
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(r.status, 415);
    assert_eq!(error_code(&r), "Base.1.22.HeaderInvalid");
    let r = send(
        &s,
        "POST",
        reset_uri,
        OPERATOR,
        r#"{"ResetType": "On"}"#,
        &[("OData-Version", "5.0")],
    );
    assert_eq!(r.status, 412);
    assert_eq!(
        v11_power(&s, "00000001", "0001"),
        "off",
        "refused requests switch nothing"
    );
    let r = send(
        &s,
        "POST",
        reset_uri,
        OPERATOR,
        r#"{"ResetType": "ForceOff"}"#,
        &[("OData-Version", "4.0")],
    );
    assert_eq!(r.status, 204);

    // The server's body limit answers in Redfish's format on Redfish URIs.
    let big = format!(
        "{{\"ResetType\": \"On\", \"x\": \"{}\"}}",
        "a".repeat(70 * 1024)
    );
    let r = send(&s, "POST", reset_uri, OPERATOR, &big, &[]);
    assert_eq!(r.status, 413);
    assert_eq!(error_code(&r), "Base.1.22.PayloadTooLarge");

    let r = reset(&s, "00000009-0001", OPERATOR, "On");
    assert_eq!(r.status, 404, "no such system");

    // The log says which system was reset, and the access log by whom.
    // (`Server::log_so_far` needs an open node for its marker request.)
    let done = "ComputerSystem.Reset done system=00000002-0001";
    let by = "POST /redfish/v1/Systems/00000002-0001/Actions/ComputerSystem.Reset 204";
    let (mut saw_done, mut saw_by) = (false, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(saw_done && saw_by) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = s.log.recv_timeout(left).expect("reset lines in the log");
        saw_done |= line.contains(done);
        saw_by |= line.contains(by) && line.contains("user=\"operator\"");
    }
}

/// One source of values: the power state Redfish shows is the one the v1.1
/// API answers, for every power device of the example rack (on and off).
#[test]
fn power_state_equals_the_v11_answer_on_the_example_rack() {
    let (s, _cfg) = node(&crate::common::example("rack.json"));
    let systems = get(&s, "/redfish/v1/Systems", Some(READER)).json();
    let members = systems["Members"].as_array().unwrap();
    assert_eq!(members.len(), 5, "five power devices in rack.json");
    let mut seen = Vec::new();
    for m in members {
        let uri = m["@odata.id"].as_str().unwrap();
        let id = uri.rsplit('/').next().unwrap();
        let (board, device) = id.split_once('-').unwrap();
        let redfish = power_state(&s, id);
        let v11 = v11_power(&s, board, device);
        assert_eq!(redfish.to_ascii_lowercase(), v11, "{id}");
        seen.push(v11);
    }
    assert!(
        seen.contains(&"on".to_string()) && seen.contains(&"off".to_string()),
        "{seen:?}"
    );
}

/// Every kind of bus sensor with one constant answer, so a value read at
/// any moment is the value of every other moment.
pub(crate) fn constant_rack(dir: &Path) -> std::path::PathBuf {
    let dev = |id: &str, ty: &str, resp: serde_json::Value| serde_json::json!({"device_id": id, "device_type": ty, "read": {"repeatable": true, "responses": [resp]}});
    let cfg = serde_json::json!({"boards": [{"board_id": "00000001", "devices": [
        dev("01ff", "thermistor", serde_json::json!(656)),
        dev("02ff", "temperature", serde_json::json!(28.78)),
        dev("03ff", "humidity", serde_json::json!(1486313281u64)),
        dev("04ff", "pressure", serde_json::json!(101.3)),
        dev("05ff", "current", serde_json::json!(2320)),
        dev("06ff", "fan_speed", serde_json::json!(4100)),
        dev("07ff", "led", serde_json::json!(1)),
        {"device_id": "09ff", "device_type": "power",
         "power": {"repeatable": true, "responses": ["0,1215,4528,2320"]}},
    ]}]});
    let path = dir.join("constant.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    path
}

/// (sensor id, reading) of every sensor of board 00000001, once each has
/// a reading (bounded wait: the poller fills the cache after start-up).
fn sensor_readings(s: &Server) -> Vec<(String, f64)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let c = get(s, "/redfish/v1/Chassis/00000001/Sensors", Some(READER));
        assert_eq!(c.status, 200, "{}", String::from_utf8_lossy(&c.body));
        let mut out = Vec::new();
        for m in c.json()["Members"].as_array().unwrap() {
            let v = get(s, m["@odata.id"].as_str().unwrap(), Some(READER)).json();
            if let Some(x) = v["Reading"].as_f64() {
                out.push((v["Id"].as_str().unwrap().to_string(), x));
            }
        }
        if out.len() == c.json()["Members@odata.count"].as_u64().unwrap() as usize {
            return out;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sensors without readings: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The telemetry service's metric report has one value per sensor, equal
/// to its `Reading` (the example rack's values are constant).
fn assert_report_equals(s: &Server, sensors: &[(String, f64)]) {
    let report = get_ok(
        s,
        "/redfish/v1/TelemetryService/MetricReports/RackSensors",
        Some(READER),
    );
    let values = report["MetricValues"].as_array().unwrap();
    assert_eq!(values.len(), sensors.len(), "{report}");
    for (id, got) in sensors {
        let m = values
            .iter()
            .find(|m| m["MetricId"] == format!("00000001-{id}"))
            .unwrap_or_else(|| panic!("{id} in {report}"));
        let v: f64 = m["MetricValue"].as_str().unwrap().parse().unwrap();
        assert_close(v, *got, id);
        assert_eq!(
            m["MetricProperty"],
            format!("/redfish/v1/Chassis/00000001/Sensors/{id}#/Reading")
        );
    }
}

/// A chassis' `Thermal` and `Power` show the same values as its
/// `Sensors` (board 00000001 of the constant rack, its only board, so the
/// rack's equal the board's). `history`: whether `PowerMetrics` has
/// statistics (the poller keeps a history; live reads do not).
fn assert_thermal_power_equal(s: &Server, sensors: &[(String, f64)], history: bool) {
    let reading = |id: &str| {
        sensors
            .iter()
            .find(|(i, _)| i == id)
            .unwrap_or_else(|| panic!("sensor {id}"))
            .1
    };
    for chassis in ["00000001", "Rack"] {
        let c = get_ok(s, &format!("/redfish/v1/Chassis/{chassis}"), Some(READER));
        let t = get_ok(s, c["Thermal"]["@odata.id"].as_str().unwrap(), Some(READER));
        let temps = t["Temperatures"].as_array().unwrap();
        assert_eq!(temps.len(), 3, "{t}");
        for (i, (m, id)) in temps
            .iter()
            .zip(["01ff-Temperature", "02ff-Temperature", "03ff-Temperature"])
            .enumerate()
        {
            assert_eq!(m["MemberId"], i.to_string());
            assert!(m["Name"].as_str().unwrap().contains(&id[..4]), "{m}");
            assert_close(m["ReadingCelsius"].as_f64().unwrap(), reading(id), id);
        }
        assert_eq!(
            t["Fans"][0]["Reading"].as_f64().unwrap(),
            reading("06ff-Fan").round()
        );
        assert_eq!(t["Fans"][0]["ReadingUnits"], "RPM");
        let p = get_ok(s, c["Power"]["@odata.id"].as_str().unwrap(), Some(READER));
        let control = p["PowerControl"].as_array().unwrap();
        assert_eq!(control.len(), 2, "the total and the one power device: {p}");
        let watts = reading("09ff-InputPower");
        assert_close(
            control[0]["PowerConsumedWatts"].as_f64().unwrap(),
            watts,
            "total",
        );
        assert_close(
            control[1]["PowerConsumedWatts"].as_f64().unwrap(),
            watts,
            "09ff",
        );
        assert_eq!(
            control[1]["RelatedItem"][0]["@odata.id"],
            "/redfish/v1/Systems/00000001-09ff"
        );
        let m = &control[1]["PowerMetrics"];
        if history {
            // The constant rack: every sample of the last minute is the same.
            for k in [
                "MinConsumedWatts",
                "MaxConsumedWatts",
                "AverageConsumedWatts",
            ] {
                assert_close(m[k].as_f64().unwrap(), watts, k);
            }
            assert_close(
                control[0]["PowerMetrics"]["AverageConsumedWatts"]
                    .as_f64()
                    .unwrap(),
                watts,
                "total average",
            );
        } else {
            assert!(m["AverageConsumedWatts"].is_null(), "{m}");
        }
        assert_close(
            p["Voltages"][0]["ReadingVolts"].as_f64().unwrap(),
            reading("09ff-InputVoltage"),
            "voltage",
        );
        assert_eq!(p["Voltages"][0]["PhysicalContext"], "DCBus");
        assert_eq!(control[0]["PhysicalContext"], "Chassis");

        // DMTF's current model: the same readings, each pointing at its
        // sensor.
        let ts = get_ok(
            s,
            c["ThermalSubsystem"]["@odata.id"].as_str().unwrap(),
            Some(READER),
        );
        let metrics = get_ok(
            s,
            ts["ThermalMetrics"]["@odata.id"].as_str().unwrap(),
            Some(READER),
        );
        let temps = metrics["TemperatureReadingsCelsius"].as_array().unwrap();
        assert_eq!(temps.len(), 3, "{metrics}");
        for t in temps {
            let source = t["DataSourceUri"].as_str().unwrap();
            let id = source.rsplit('/').next().unwrap();
            assert_close(t["Reading"].as_f64().unwrap(), reading(id), id);
            assert_eq!(
                get_ok(s, source, Some(READER))["ReadingType"],
                "Temperature"
            );
        }
        let fans = get_ok(s, ts["Fans"]["@odata.id"].as_str().unwrap(), Some(READER));
        let fan = get_ok(
            s,
            fans["Members"][0]["@odata.id"].as_str().unwrap(),
            Some(READER),
        );
        assert_eq!(fan["Id"], "06ff-Fan");
        assert_close(
            fan["SpeedPercent"]["SpeedRPM"].as_f64().unwrap(),
            reading("06ff-Fan"),
            "fan",
        );
        let env = get_ok(
            s,
            c["EnvironmentMetrics"]["@odata.id"].as_str().unwrap(),
            Some(READER),
        );
        assert_close(
            env["PowerWatts"]["Reading"].as_f64().unwrap(),
            control[0]["PowerConsumedWatts"].as_f64().unwrap(),
            "the chassis' draw",
        );
    }
    assert_eq!(
        get(s, "/redfish/v1/Chassis/000000ff/Thermal", Some(READER)).status,
        404
    );
    for missing in [
        "/redfish/v1/Chassis/000000ff/ThermalSubsystem",
        "/redfish/v1/Chassis/00000001/ThermalSubsystem/Fans/01ff-Temperature",
        "/redfish/v1/Chassis/00000001/ThermalSubsystem/Fans/77ff-Fan",
    ] {
        assert_eq!(get(s, missing, Some(READER)).status, 404, "{missing}");
    }
    assert_eq!(
        get(s, "/redfish/v1/Chassis/00000001/Power", None).status,
        401
    );
}

/// What `/opendcre/1.1/read/thermistor/…` answers, in °C.
fn v11_thermistor(s: &Server) -> f64 {
    let r = get(
        s,
        "/opendcre/1.1/read/thermistor/00000001/01ff",
        Some(READER),
    );
    r.json()["temperature_c"].as_f64().unwrap()
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 0.001, "{what}: {a} vs {b}");
}

/// With the poller on, sensors are the telemetry cache's values: equal to
/// `/opendcre/2/readings` (and to a live v1.1 read of the same device).
#[test]
fn sensors_equal_the_telemetry_readings() {
    let dir = tempfile::tempdir().unwrap();
    let rack = constant_rack(dir.path());
    let (s, _cfg) = Server::with_config(&format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = true\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n",
        rack.display().to_string(),
        hash_token(READER, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
    ));
    let sensors = sensor_readings(&s);
    let ids: Vec<&str> = sensors.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        ids,
        [
            "01ff-Temperature",
            "02ff-Temperature",
            "03ff-Humidity",
            "03ff-Temperature",
            "04ff-Pressure",
            "05ff-Current",
            "06ff-Fan",
            "09ff-InputPower",
            "09ff-InputVoltage",
            "09ff-OutputCurrent"
        ],
        "every device but the LED, a power device's three numbers"
    );
    let readings = get(&s, "/opendcre/2/readings?board=00000001", Some(READER)).json();
    let value = |device: &str, key: &str| -> f64 {
        readings["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device_id"] == device)
            .unwrap_or_else(|| panic!("{device} in {readings}"))["values"][key]
            .as_f64()
            .unwrap()
    };
    let expected = [
        value("01ff", "temperature_celsius"),
        value("02ff", "temperature_celsius"),
        value("03ff", "relative_humidity_ratio") * 100.0,
        value("03ff", "temperature_celsius"),
        value("04ff", "pressure_pascals"),
        value("05ff", "current_amperes"),
        value("06ff", "fan_speed_rpm"),
        value("09ff", "power_input_watts"),
        value("09ff", "power_input_volts"),
        value("09ff", "power_output_amperes"),
    ];
    for ((id, got), want) in sensors.iter().zip(expected) {
        assert_close(*got, want, id);
    }
    assert_close(sensors[0].1, v11_thermistor(&s), "thermistor vs v1.1 read");
    assert_report_equals(&s, &sensors);
    assert_thermal_power_equal(&s, &sensors, true);
    // The tree comes from the poller's scan; the power state is still read
    // live, as v1.1 reads it.
    let systems = get(&s, "/redfish/v1/Systems", Some(READER)).json();
    assert_eq!(
        systems["Members"],
        serde_json::json!([{"@odata.id": "/redfish/v1/Systems/00000001-09ff"}])
    );
    assert_eq!(power_state(&s, "00000001-09ff"), "On");
    assert_eq!(v11_power(&s, "00000001", "09ff"), "on");

    // A reset is counted as a power action (the unexpected-power-change
    // alert must not fire for it), other Redfish requests as `redfish`.
    assert_eq!(
        reset(&s, "00000001-09ff", OPERATOR, "PowerCycle").status,
        204
    );
    let metrics = String::from_utf8(get(&s, "/metrics", Some(READER)).body).unwrap();
    assert!(
        metrics.contains(
            "opendcre_http_requests_total{route=\"power\",method=\"POST\",status=\"204\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics
        .contains("opendcre_http_requests_total{route=\"redfish\",method=\"GET\",status=\"200\"}"));
}

/// With the poller off, a sensor is read when asked, with the same
/// conversion: equal to the v1.1 read.
#[test]
fn sensors_without_telemetry_are_read_live() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _cfg) = node(&constant_rack(dir.path()));
    let sensors = sensor_readings(&s);
    assert_eq!(sensors.len(), 10);
    assert_close(sensors[0].1, v11_thermistor(&s), "thermistor vs v1.1 read");
    assert_report_equals(&s, &sensors);
    assert_thermal_power_equal(&s, &sensors, false);
    let one = get(
        &s,
        "/redfish/v1/Chassis/00000001/Sensors/06ff-Fan",
        Some(READER),
    )
    .json();
    assert_eq!(one["Reading"], 4100.0);
    assert_eq!(one["ReadingUnits"], "RPM");
    for missing in ["07ff-Led", "06ff-Temperature", "0aff-Temperature"] {
        let r = get(
            &s,
            &format!("/redfish/v1/Chassis/00000001/Sensors/{missing}"),
            Some(READER),
        );
        assert_eq!(r.status, 404, "{missing}");
    }
    assert_eq!(
        get(&s, "/redfish/v1/Chassis/00000002/Sensors", Some(READER)).status,
        404
    );
}

/// The asset tag is the v1.1 asset info, read live: a write through v1.1
/// shows at once.
#[test]
fn asset_tag_is_the_v11_asset_info() {
    let (s, _cfg, _dir) = stateful_node();
    let tag =
        || get(&s, "/redfish/v1/Systems/00000001-0001", Some(READER)).json()["AssetTag"].clone();
    let v11 = get(
        &s,
        "/opendcre/1.1/read/power/00000001/0001/info",
        Some(READER),
    )
    .json();
    assert_eq!(v11["asset_info"], "rack-a/node-01 SN:1");
    assert_eq!(tag(), v11["asset_info"]);
    let w = get(
        &s,
        "/opendcre/1.1/write/power/00000001/0001/info/rack-b%20slot%204",
        Some(OPERATOR),
    );
    assert_eq!(w.status, 200, "{}", String::from_utf8_lossy(&w.body));
    assert_eq!(tag(), "rack-b slot 4");
}

/// The BMC's System GUID as `ipmitool mc guid <order>` decodes it.
fn ipmitool_guid(sim: &crate::ipmi_support::SimBmc, order: &str) -> String {
    ipmitool_field(sim, &["mc", "guid", order], "System GUID")
}

/// The value of the `label : value` line ipmitool prints for `args`.
fn ipmitool_field(sim: &crate::ipmi_support::SimBmc, args: &[&str], label: &str) -> String {
    let out = String::from_utf8(sim.ipmitool(args).stdout).unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(|l| l.split_once(':'))
        .unwrap_or_else(|| panic!("a {label} in {out}"))
        .1
        .trim()
        .to_string()
}

/// A BMC that sends its GUID in SMBIOS's byte order (`guid_order`): the
/// system's UUID is then what `dmidecode` on the server would print.
#[test]
fn bmc_uuid_follows_the_configured_byte_order() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = Server::with_config(&node_toml(
        &crate::common::example("simple.json"),
        &format!(
            "[[ipmi.bmc]]\ndevice_id = 1\nip = \"127.0.0.1\"\nport = {}\nusername = \"ADMIN\"\n\
             password = \"ADMIN\"\nguid_order = \"smbios\"\n",
            sim.port
        ),
    ));
    let sys = get_ok(&s, "/redfish/v1/Systems/40000000-0001", Some(READER));
    let smbios = ipmitool_guid(&sim, "smbios");
    assert_eq!(sys["UUID"], smbios.as_str());
    assert_ne!(
        smbios,
        ipmitool_guid(&sim, "ipmi"),
        "the orders differ here"
    );
}

/// A BMC server's `PowerRestorePolicy` is what its Get Chassis Status
/// says, as `ipmitool chassis status` reads it (absent when the BMC says it
/// does not know); a bus power device has no such setting and no property.
#[test]
fn bmc_power_restore_policy_is_its_chassis_status() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = with_bmc(&sim);
    let said = ipmitool_field(&sim, &["chassis", "status"], "Power Restore Policy");
    let want = match said.as_str() {
        "always-off" => serde_json::Value::from("AlwaysOff"),
        "previous" => serde_json::Value::from("LastState"),
        "always-on" => serde_json::Value::from("AlwaysOn"),
        "unknown" => serde_json::Value::Null,
        other => panic!("ipmitool said {other:?}"),
    };
    let sys = get_ok(&s, "/redfish/v1/Systems/40000000-0001", Some(READER));
    assert_eq!(sys["PowerRestorePolicy"], want, "ipmitool: {said}");
    let systems = get_ok(&s, "/redfish/v1/Systems", Some(READER));
    let bus = member_ids(&systems)
        .into_iter()
        .find(|m| !m.contains("/40000000-"))
        .expect("a bus power device's system")
        .to_string();
    let v = get_ok(&s, &bus, Some(READER));
    assert!(v.get("PowerRestorePolicy").is_none(), "{bus}: {v}");
}

/// The example rack on the emulator and one BMC, `ipmi_sim`, as device 1
/// of the IPMI board (system `40000000-0001`).
fn with_bmc(sim: &crate::ipmi_support::SimBmc) -> (Server, tempfile::TempDir) {
    with_bmc_on(sim, &crate::common::example("simple.json"))
}

/// [`with_bmc`] on the emulator configuration `emulator`.
pub(crate) fn with_bmc_on(
    sim: &crate::ipmi_support::SimBmc,
    emulator: &Path,
) -> (Server, tempfile::TempDir) {
    Server::with_config(&node_toml(
        emulator,
        &format!(
            "[[ipmi.bmc]]\ndevice_id = 1\nip = \"127.0.0.1\"\nport = {}\nusername = \"ADMIN\"\n\
             password = \"ADMIN\"\ninterface = \"lanplus\"\ncipher_suite = 3\n\
             asset_info = \"web-01, rack 4 slot 12\"\n",
            sim.port
        ),
    ))
}

/// The firmware inventory lists, after the node's slots, every bus board's
/// firmware as the v1.1 version request answers it and the BMC's revision
/// as ipmitool reads it; none of them is updateable through the node.
#[test]
fn firmware_inventory_shows_boards_and_bmcs() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = with_bmc(&sim);
    let f = "/redfish/v1/UpdateService/FirmwareInventory";
    let inv = get_ok(&s, f, Some(READER));
    let members = member_ids(&inv);
    // No RAUC here: the slots' absence is said, the rest is listed.
    let said = inv["Description"].as_str().unwrap();
    assert!(said.contains("RAUC's slots cannot be listed"), "{said}");
    let scan = get_ok(&s, "/opendcre/1.1/scan", Some(READER));
    let mut want: Vec<String> = scan["boards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["board_id"].as_str().unwrap())
        .filter(|b| *b != "40000000")
        .map(|b| format!("{f}/{b}"))
        .collect();
    assert!(!want.is_empty(), "{scan}");
    want.push(format!("{f}/40000000-0001"));
    assert_eq!(members, want);
    for m in &members[..members.len() - 1] {
        let board = m.rsplit('/').next().unwrap();
        let fw = get_ok(&s, m, Some(READER));
        let v11 = get_ok(&s, &format!("/opendcre/1.1/version/{board}"), Some(READER));
        assert_eq!(fw["Version"], v11["firmware_version"], "{board}");
        assert_eq!(fw["Updateable"], false);
        assert_eq!(fw["Status"]["State"], "Enabled");
        assert_eq!(
            fw["RelatedItem"][0]["@odata.id"],
            format!("/redfish/v1/Chassis/{board}")
        );
    }
    let mc = String::from_utf8(sim.ipmitool(&["mc", "info"]).stdout).unwrap();
    let revision = mc
        .lines()
        .find_map(|l| l.strip_prefix("Firmware Revision"))
        .unwrap_or_else(|| panic!("Firmware Revision in {mc}"))
        .split_once(':')
        .unwrap()
        .1
        .trim();
    let bmc = get_ok(&s, members.last().unwrap(), Some(READER));
    assert_eq!(bmc["Version"], revision, "{bmc}");
    assert_eq!(bmc["Updateable"], false);
    assert_eq!(
        bmc["RelatedItem"][0]["@odata.id"],
        "/redfish/v1/Systems/40000000-0001"
    );
    for missing in ["00000099", "40000000-0002", "Rack", "00000001-16ff"] {
        assert_eq!(
            get(&s, &format!("{f}/{missing}"), Some(READER)).status,
            404,
            "{missing}"
        );
    }
}

/// A configured BMC is a computer system too (`40000000-{device}`, the v1.1
/// IPMI board's ids): its power state is the v1.1 answer, and each reset
/// reaches a real `ipmi_sim`, confirmed with ipmitool and the simulator's
/// chassis-control hook.
#[test]
fn bmc_systems_reset_through_ipmi() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = with_bmc(&sim);
    let id = "40000000-0001";
    let systems = get(&s, "/redfish/v1/Systems", Some(READER)).json();
    let members = systems["Members"].as_array().unwrap();
    assert_eq!(
        members.last().unwrap()["@odata.id"],
        "/redfish/v1/Systems/40000000-0001",
        "{systems}"
    );
    let sys = get(&s, &format!("/redfish/v1/Systems/{id}"), Some(READER)).json();
    assert_eq!(sys["PowerState"], "On");
    assert_eq!(sys["AssetTag"], "web-01, rack 4 slot 12");
    // The server's FRU 0 product area, as ipmitool prints it.
    let fru = String::from_utf8(sim.ipmitool(&["fru", "print", "0"]).stdout).unwrap();
    for (key, field) in [
        ("Manufacturer", "Product Manufacturer"),
        ("Model", "Product Name"),
        ("SerialNumber", "Product Serial"),
        ("PartNumber", "Product Part Number"),
    ] {
        let line = fru
            .lines()
            .find(|l| l.trim_start().starts_with(field))
            .unwrap_or_else(|| panic!("{field} in {fru}"));
        let value = line.split_once(':').unwrap().1.trim();
        assert_eq!(sys[key], value, "{key}");
    }
    // Its UUID: the BMC's System GUID, as ipmitool decodes IPMI's byte order.
    assert_eq!(sys["UUID"], ipmitool_guid(&sim, "ipmi"));
    assert_eq!(
        sys["Links"]["Chassis"][0]["@odata.id"],
        "/redfish/v1/Chassis/40000000-0001"
    );
    // Its chassis: the FRU's chassis area and product area, as ipmitool
    // prints them; in the rack and in the chassis collection.
    let ch = get_ok(&s, "/redfish/v1/Chassis/40000000-0001", Some(READER));
    let field = |name: &str| -> String {
        let line = fru
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {fru}"));
        line.split_once(':').unwrap().1.trim().to_string()
    };
    assert_eq!(field("Chassis Type"), "Rack Mount Chassis");
    assert_eq!(ch["ChassisType"], "RackMount");
    assert_eq!(ch["PartNumber"], field("Chassis Part Number").as_str());
    assert_eq!(ch["SerialNumber"], field("Chassis Serial").as_str());
    assert_eq!(ch["Manufacturer"], field("Product Manufacturer").as_str());
    assert_eq!(ch["Model"], field("Product Name").as_str());
    assert_eq!(ch["AssetTag"], field("Product Asset Tag").as_str());
    assert_eq!(ch["PowerState"], "On");
    assert_eq!(
        ch["Links"]["ComputerSystems"][0]["@odata.id"],
        format!("/redfish/v1/Systems/{id}")
    );
    assert_eq!(
        ch["Links"]["ContainedBy"]["@odata.id"],
        "/redfish/v1/Chassis/Rack"
    );
    let rack = get_ok(&s, "/redfish/v1/Chassis/Rack", Some(READER));
    assert!(rack["Links"]["Contains"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["@odata.id"] == ch["@odata.id"]));
    let all = get_ok(&s, "/redfish/v1/Chassis", Some(READER));
    assert!(all["Members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["@odata.id"] == ch["@odata.id"]));
    // Its Thermal and Power: the BMC's SDR sensors, as ipmitool reads them.
    let readings = String::from_utf8(sim.ipmitool(&["sdr", "list"]).stdout).unwrap();
    let ipmitool = |name: &str| -> f64 {
        let line = readings
            .lines()
            .find(|l| l.split('|').next().unwrap().trim() == name)
            .unwrap_or_else(|| panic!("{name} in {readings}"));
        let value = line
            .split('|')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        value.parse().unwrap()
    };
    let t = get_ok(
        &s,
        ch["Thermal"]["@odata.id"].as_str().unwrap(),
        Some(READER),
    );
    assert_eq!(t["Temperatures"][0]["Name"], "Temp", "{t}");
    assert_eq!(t["Temperatures"][0]["SensorNumber"], 1);
    assert_eq!(
        t["Temperatures"][0]["ReadingCelsius"].as_f64().unwrap(),
        ipmitool("Temp")
    );
    assert_eq!(t["Fans"][0]["Name"], "Fan1");
    assert_eq!(t["Fans"][0]["Reading"].as_f64().unwrap(), ipmitool("Fan1"));
    assert_eq!(t["Fans"][0]["ReadingUnits"], "RPM");
    // The SDR's entity ids: processor, fan, system board, power supply.
    assert_eq!(t["Temperatures"][0]["PhysicalContext"], "CPU");
    assert_eq!(t["Fans"][0]["PhysicalContext"], "Fan");
    let p = get_ok(&s, ch["Power"]["@odata.id"].as_str().unwrap(), Some(READER));
    assert_eq!(p["PowerControl"][0]["Name"], "Input Power", "{p}");
    assert_eq!(
        p["PowerControl"][0]["PowerConsumedWatts"].as_f64().unwrap(),
        ipmitool("Input Power")
    );
    assert_eq!(p["Voltages"][0]["Name"], "12V");
    assert_eq!(
        p["Voltages"][0]["ReadingVolts"].as_f64().unwrap(),
        ipmitool("12V")
    );
    assert_eq!(p["Voltages"][0]["Status"]["Health"], "OK");
    assert_eq!(p["Voltages"][0]["PhysicalContext"], "SystemBoard");
    assert_eq!(p["PowerControl"][0]["PhysicalContext"], "PowerSupply");
    let env = get_ok(
        &s,
        ch["EnvironmentMetrics"]["@odata.id"].as_str().unwrap(),
        Some(READER),
    );
    assert_eq!(
        env["PowerWatts"]["Reading"].as_f64().unwrap(),
        ipmitool("Input Power")
    );
    assert_eq!(
        env["PowerWatts"]["DataSourceUri"],
        "/redfish/v1/Chassis/40000000-0001/Sensors/04-Power"
    );
    let metrics = get_ok(
        &s,
        "/redfish/v1/Chassis/40000000-0001/ThermalSubsystem/ThermalMetrics",
        Some(READER),
    );
    assert_eq!(
        metrics["TemperatureReadingsCelsius"][0]["Reading"]
            .as_f64()
            .unwrap(),
        ipmitool("Temp")
    );
    assert_eq!(
        metrics["TemperatureReadingsCelsius"][0]["PhysicalContext"],
        "CPU"
    );
    let fan = get_ok(
        &s,
        "/redfish/v1/Chassis/40000000-0001/ThermalSubsystem/Fans/02-Fan",
        Some(READER),
    );
    assert_eq!(
        fan["SpeedPercent"]["SpeedRPM"].as_f64().unwrap(),
        ipmitool("Fan1")
    );
    // The same sensors, new-style.
    let sensors = get_ok(
        &s,
        ch["Sensors"]["@odata.id"].as_str().unwrap(),
        Some(READER),
    );
    let ids: Vec<&str> = sensors["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.id"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(ids, ["01-Temperature", "02-Fan", "03-Voltage", "04-Power"]);
    for (id, name, units) in [
        ("01-Temperature", "Temp", "Cel"),
        ("02-Fan", "Fan1", "RPM"),
        ("03-Voltage", "12V", "V"),
        ("04-Power", "Input Power", "W"),
    ] {
        let one = get_ok(
            &s,
            &format!(
                "/redfish/v1/Chassis/{id_}/Sensors/{id}",
                id_ = "40000000-0001"
            ),
            Some(READER),
        );
        assert_eq!(one["Name"], name);
        assert_eq!(one["ReadingUnits"], units);
        assert_eq!(one["Reading"].as_f64().unwrap(), ipmitool(name), "{id}");
    }
    assert_eq!(
        get(
            &s,
            "/redfish/v1/Chassis/40000000-0001/Sensors/05-Power",
            Some(READER)
        )
        .status,
        404
    );
    for missing in ["40000000-0002", "40000000-0002/Thermal", "00000001-0001"] {
        assert_eq!(
            get(&s, &format!("/redfish/v1/Chassis/{missing}"), Some(READER)).status,
            404,
            "{missing}"
        );
    }
    assert_eq!(
        sys["Actions"]["#ComputerSystem.Reset"]["ResetType@Redfish.AllowableValues"],
        serde_json::json!([
            "On",
            "ForceOff",
            "PowerCycle",
            "ForceRestart",
            "GracefulShutdown"
        ])
    );
    assert_eq!(v11_power(&s, "40000000", "0001"), "on");

    assert_eq!(reset(&s, id, READER, "ForceOff").status, 403);
    assert!(sim.ipmitool_power(), "a reader switched nothing");

    assert_eq!(reset(&s, id, OPERATOR, "ForceOff").status, 204);
    assert!(!sim.ipmitool_power(), "ipmitool sees the chassis off");
    assert_eq!(power_state(&s, id), "Off");
    assert_eq!(v11_power(&s, "40000000", "0001"), "off");

    assert_eq!(reset(&s, id, OPERATOR, "On").status, 204);
    assert!(sim.ipmitool_power());
    assert_eq!(power_state(&s, id), "On");

    assert_eq!(reset(&s, id, OPERATOR, "ForceRestart").status, 204);
    assert_eq!(sim.counter("resets"), 1, "the BMC got a hard reset");
    assert!(sim.ipmitool_power(), "a hard reset keeps the power on");

    assert_eq!(reset(&s, id, OPERATOR, "GracefulShutdown").status, 204);
    assert_eq!(sim.counter("shutdowns"), 1, "the BMC got a soft shutdown");
    assert_eq!(power_state(&s, id), "Off");

    // A BMC that is not configured is no system.
    assert_eq!(
        get(&s, "/redfish/v1/Systems/40000000-0002", Some(READER)).status,
        404
    );
    assert_eq!(reset(&s, "40000000-0002", OPERATOR, "On").status, 404);
}

/// A BMC sensor's thresholds are the BMC's (as `ipmitool sensor` lists
/// them), and its health is the BMC's judgement of the reading against
/// them: a critical threshold set below the reading makes it `Critical`.
#[test]
fn bmc_sensor_thresholds_and_health() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = with_bmc(&sim);
    let listed = String::from_utf8(sim.ipmitool(&["sensor", "list"]).stdout).unwrap();
    // name | value | unit | status | lnr | lcr | lnc | unc | ucr | unr
    let temp: Vec<String> = listed
        .lines()
        .find(|l| l.split('|').next().unwrap().trim() == "Temp")
        .unwrap_or_else(|| panic!("Temp in {listed}"))
        .split('|')
        .map(|c| c.trim().to_string())
        .collect();
    let number = |i: usize| temp[i].parse::<f64>().ok();
    let uri = "/redfish/v1/Chassis/40000000-0001/Sensors/01-Temperature";
    let v = get_ok(&s, uri, Some(READER));
    let t = &v["Thresholds"];
    for (name, col) in [
        ("LowerFatal", 4),
        ("LowerCritical", 5),
        ("LowerCaution", 6),
        ("UpperCaution", 7),
        ("UpperCritical", 8),
        ("UpperFatal", 9),
    ] {
        assert_eq!(
            t[name]["Reading"].as_f64(),
            number(col),
            "{name}: {t} against {temp:?}"
        );
    }
    assert_eq!(t["UpperCritical"]["Reading"], 144.0);
    assert_eq!(v["Status"]["Health"], "OK");
    let thermal = get_ok(
        &s,
        "/redfish/v1/Chassis/40000000-0001/Thermal",
        Some(READER),
    );
    assert_eq!(thermal["Temperatures"][0]["UpperThresholdCritical"], 144.0);
    assert_eq!(
        thermal["Temperatures"][0]["UpperThresholdNonCritical"],
        112.0
    );
    assert!(thermal["Temperatures"][0]
        .get("LowerThresholdCritical")
        .is_none());

    // The reading (25 °C) now beyond the upper critical threshold.
    let out = sim.ipmitool(&["sensor", "thresh", "Temp", "upper", "10", "20", "160"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Past the 2 s the node serves a walk again.
    std::thread::sleep(Duration::from_millis(2100));
    let v = get_ok(&s, uri, Some(READER));
    assert_eq!(v["Thresholds"]["UpperCritical"]["Reading"], 20.0);
    assert_eq!(v["Status"]["Health"], "Critical", "{v}");
    let thermal = get_ok(
        &s,
        "/redfish/v1/Chassis/40000000-0001/Thermal",
        Some(READER),
    );
    assert_eq!(thermal["Temperatures"][0]["Status"]["Health"], "Critical");
    assert_eq!(thermal["Status"]["HealthRollup"], "Critical", "{thermal}");
}
