//! Local accounts, HTTP Basic, Redfish sessions and the account service in
//! the real binary on the emulator: Basic with a local user (good, wrong,
//! rate limited), login → `X-Auth-Token` → logout, the idle timeout, the
//! session bound, ReadOnly versus Operator, accounts an Administrator makes,
//! changes and deletes (kept across a restart), and no secret in the log.

use std::time::Duration;

use base64::Engine;

use crate::common::{Response, Server};
use opendcre_security::auth::{hash_token, HashAlgorithm};

const OPS_PASSWORD: &str = "ops-password-4f1c9a";
const ROOT_PASSWORD: &str = "root-password-a81d33";
const VIEWER_PASSWORD: &str = "viewer-password-83be20";
const VIEWER_TOKEN: &str = "odcre_viewer-token-0123456789abcdef";

/// One stateful power device, as in `redfish.rs`.
const RACK: &str = r#"{"boards": [
  {"board_id": "00000001", "devices": [
    {"device_id": "0001", "device_type": "power", "has_state": true,
     "power": "0,1215,4528,2320", "on": "0,1215,4528,2320", "off": "64,0,4529,2075"}
  ]}
]}"#;

struct Node {
    server: Server,
    /// The configuration, to start the node again on the same files.
    toml: String,
    _cfg: tempfile::TempDir,
    dir: tempfile::TempDir,
}

/// A node with local users `ops` (operator), `viewer` (reader) and `root`
/// (admin), and an accounts file of its own; `extra` is appended to its
/// config (`[auth.sessions]`, `[auth.rate_limit]`).
fn node(extra: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    // The settings files of this node (session timeout, lockout policy
    // and locks), never the host's: each table gets its files, added to
    // the table when `extra` has it.
    let mut extra = extra.to_string();
    let path = |file: &str| dir.path().join(file).display().to_string();
    for (table, file, more) in [
        ("sessions", "session-service.json", String::new()),
        (
            "lockout",
            "account-service.json",
            format!("locks_file = {:?}\n", path("account-locks.json")),
        ),
    ] {
        let header = format!("[auth.{table}]\n");
        let with_file = format!("{header}settings_file = {:?}\n{more}", path(file));
        extra = if extra.contains(&header) {
            extra.replace(&header, &with_file)
        } else {
            format!("{extra}{with_file}")
        };
    }
    let toml = format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [event_log]\npath = {:?}\n\
         [auth]\naccounts_file = {:?}\n\
         [auth.users.ops]\npassword_hash = \"{}\"\nrole = \"operator\"\n\
         [auth.users.viewer]\npassword_hash = \"{}\"\nrole = \"reader\"\n\
         [auth.users.root]\npassword_hash = \"{}\"\nrole = \"admin\"\n{extra}",
        rack.display().to_string(),
        dir.path().join("events.jsonl").display().to_string(),
        dir.path().join("accounts.json").display().to_string(),
        hash_token(OPS_PASSWORD, HashAlgorithm::Argon2id).unwrap(),
        hash_token(VIEWER_PASSWORD, HashAlgorithm::Argon2id).unwrap(),
        hash_token(ROOT_PASSWORD, HashAlgorithm::Argon2id).unwrap(),
    );
    let (server, cfg) = Server::with_config(&toml);
    Node {
        server,
        toml,
        _cfg: cfg,
        dir,
    }
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// One request with a body and header lines of the caller's choosing
/// (JSON when there is a body).
fn call(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut all = headers.to_vec();
    if !body.is_empty() {
        all.push(("Content-Type", "application/json"));
    }
    crate::common::request_with_body(&s.addr, method, path, &all, body)
}

fn login(s: &Server, user: &str, password: &str) -> Response {
    call(
        s,
        "POST",
        "/redfish/v1/SessionService/Sessions",
        &[],
        &serde_json::json!({ "UserName": user, "Password": password }).to_string(),
    )
}

/// A 201 login's token and session URI.
fn session(s: &Server, user: &str, password: &str) -> (String, String) {
    let r = login(s, user, password);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    (
        r.header("X-Auth-Token").unwrap().to_string(),
        r.header("Location").unwrap().to_string(),
    )
}

fn with_token(s: &Server, method: &str, path: &str, token: &str, body: &str) -> Response {
    call(s, method, path, &[("X-Auth-Token", token)], body)
}

fn code(r: &Response) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A PATCH of `uri`, with an `If-Match` when one is given.
fn patch_with(s: &Server, uri: &str, auth: &str, if_match: Option<&str>, body: &str) -> Response {
    let mut h = vec![("Authorization", auth)];
    if let Some(tag) = if_match {
        h.push(("If-Match", tag));
    }
    call(s, "PATCH", uri, &h, body)
}

/// The `Message`s of the node's event log entries whose key (the
/// `MessageId` after `OpenDCRE.1.2.`) is one of `keys`, oldest first.
fn logged(s: &Server, auth: &str, keys: &[&str]) -> Vec<String> {
    let log = call(
        s,
        "GET",
        "/redfish/v1/Managers/RackManager/LogServices/EventLog/Entries",
        &[("Authorization", auth)],
        "",
    );
    log.json()["Members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            keys.iter()
                .any(|k| e["MessageId"] == format!("OpenDCRE.1.2.{k}").as_str())
        })
        .map(|e| e["Message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// What every settings `PATCH` of a service (`service`, with `body`)
/// asks first: the `ETag` of a GET (also its `@odata.etag`), then 428
/// without `If-Match` and 403 for an operator. The GET's answer.
fn settings_patch_is_an_administrators(s: &Server, service: &str, body: &str) -> Response {
    let root = basic("root", ROOT_PASSWORD);
    let r = call(s, "GET", service, &[("Authorization", &root)], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    let etag = r.header("ETag").unwrap().to_string();
    assert_eq!(r.json()["@odata.etag"], etag.as_str());
    let answer = |r: Response| (r.status, code(&r));
    assert_eq!(
        answer(patch_with(s, service, &root, None, body)),
        (428, "Base.1.22.PreconditionRequired".into())
    );
    let ops = basic("ops", OPS_PASSWORD);
    assert_eq!(
        answer(patch_with(s, service, &ops, Some(&etag), body)),
        (403, "Base.1.22.InsufficientPrivilege".into())
    );
    r
}

/// A node of `extra` whose `[auth.<table>] settings_file` is `""`: its
/// `service` is read-only (`Allow: GET, HEAD`, 405 to an administrator's
/// `PATCH` of `body`). The GET's answer.
fn read_only_without_settings_file(
    extra: &str,
    table: &str,
    service: &str,
    body: &str,
) -> Response {
    let fixed = node(extra);
    let file = match table {
        "sessions" => "session-service.json",
        _ => "account-service.json",
    };
    let kept = format!(
        "[auth.{table}]\nsettings_file = {:?}",
        fixed.dir.path().join(file).display().to_string()
    );
    let toml = fixed
        .toml
        .replace(&kept, &format!("[auth.{table}]\nsettings_file = \"\""));
    assert_ne!(toml, fixed.toml);
    let (ro, _cfg) = Server::with_config(&toml);
    let root = basic("root", ROOT_PASSWORD);
    let r = call(&ro, "GET", service, &[("Authorization", &root)], "");
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    let etag = r.header("ETag").unwrap().to_string();
    let p = patch_with(&ro, service, &root, Some(&etag), body);
    assert_eq!(
        (p.status, code(&p)),
        (405, "Base.1.22.OperationNotAllowed".into())
    );
    assert_eq!(p.header("Allow"), Some("GET, HEAD"));
    r
}

const SYSTEM: &str = "/redfish/v1/Systems/00000001-0001";
const RESET: &str = "/redfish/v1/Systems/00000001-0001/Actions/ComputerSystem.Reset";

#[test]
fn basic_with_local_users_and_its_rate_limit() {
    let n = node("[auth.rate_limit]\nburst = 3\nrefill_per_minute = 30\n");
    let s = &n.server;
    let viewer = basic("viewer", VIEWER_PASSWORD);
    let r = call(s, "GET", SYSTEM, &[("Authorization", &viewer)], "");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["PowerState"], "On");
    // The v1.1 API takes the same Basic credentials.
    let r = call(
        s,
        "GET",
        "/opendcre/1.1/power/status/00000001/0001",
        &[("Authorization", &viewer)],
        "",
    );
    assert_eq!(r.status, 200);
    let me = call(
        s,
        "GET",
        "/opendcre/2/whoami",
        &[("Authorization", &viewer)],
        "",
    )
    .json();
    assert_eq!(
        (me["name"].as_str(), me["method"].as_str()),
        (Some("viewer"), Some("local"))
    );
    // A reader may not reset: 403 in Redfish's format.
    let r = call(
        s,
        "POST",
        RESET,
        &[("Authorization", &viewer)],
        r#"{"ResetType": "ForceOff"}"#,
    );
    assert_eq!(r.status, 403);
    assert_eq!(code(&r), "Base.1.22.InsufficientPrivilege");
    let ops = basic("ops", OPS_PASSWORD);
    let r = call(
        s,
        "POST",
        RESET,
        &[("Authorization", &ops)],
        r#"{"ResetType": "ForceOff"}"#,
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    // Wrong password, another user's password, unknown user: 401 with a
    // Basic challenge, each counted against the address's budget (3).
    for (user, pw) in [
        ("viewer", "wrong-password-1"),
        ("ops", VIEWER_PASSWORD),
        ("nobody", VIEWER_PASSWORD),
    ] {
        let r = call(s, "GET", SYSTEM, &[("Authorization", &basic(user, pw))], "");
        assert_eq!(r.status, 401, "{user}");
        assert_eq!(code(&r), "Base.1.22.NoValidSession");
        let challenge = r.header("WWW-Authenticate").unwrap_or_default();
        assert!(challenge.contains("Basic realm="), "{challenge}");
    }
    // Budget spent: the next wrong guess is 429, and so is a wrong login
    // through the session service (same limiter).
    let r = call(
        s,
        "GET",
        SYSTEM,
        &[("Authorization", &basic("viewer", "wrong-password-2"))],
        "",
    );
    assert_eq!(r.status, 429);
    assert!(r.header("Retry-After").is_some());
    let r = login(s, "viewer", "wrong-password-3");
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(code(&r), "Base.1.22.ServiceTemporarilyUnavailable");
    let log = s.log_so_far_as(&[("Authorization", &viewer)]).join("\n");
    assert!(log.contains("authentication failed"), "{log}");
    assert!(log.contains(" 429"), "the 429s are in the access log");
    for secret in [
        VIEWER_PASSWORD,
        OPS_PASSWORD,
        "wrong-password-1",
        "wrong-password-3",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[test]
fn session_login_use_and_logout() {
    // A reader token named like the local user: not that user.
    let n = node(&format!(
        "[auth.tokens.viewer]\nhash = \"{}\"\nrole = \"reader\"\n",
        hash_token(VIEWER_TOKEN, HashAlgorithm::Sha256).unwrap()
    ));
    let s = &n.server;
    let r = login(s, "viewer", VIEWER_PASSWORD);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let token = r.header("X-Auth-Token").unwrap().to_string();
    let location = r.header("Location").unwrap().to_string();
    assert!(token.len() >= 43, "256 random bits");
    let body = r.json();
    assert_eq!(body["@odata.id"], location.as_str());
    assert_eq!(body["UserName"], "viewer");
    assert_eq!(body["Password"], serde_json::Value::Null);
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert!(!text.contains(VIEWER_PASSWORD) && !text.contains(&token));

    // The token works under /redfish, and only there.
    let r = with_token(s, "GET", SYSTEM, &token, "");
    assert_eq!(r.status, 200);
    let r = with_token(
        s,
        "GET",
        "/opendcre/1.1/power/status/00000001/0001",
        &token,
        "",
    );
    assert_eq!(r.status, 401, "X-Auth-Token is a Redfish credential only");
    // The node's API token in X-Auth-Token, as Ansible's `auth_token`
    // sends it: that token under /redfish, with its role; a wrong one is
    // refused as a wrong bearer token is.
    let r = with_token(s, "GET", SYSTEM, VIEWER_TOKEN, "");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = with_token(
        s,
        "POST",
        RESET,
        VIEWER_TOKEN,
        r#"{"ResetType": "ForceOff"}"#,
    );
    assert_eq!(r.status, 403, "a reader's token");
    let r = with_token(s, "GET", SYSTEM, "odcr_not-the-token", "");
    assert_eq!(r.status, 401);
    let r = with_token(s, "GET", SYSTEM, "odcrs_not-a-session", "");
    assert_eq!(r.status, 401);
    // A ReadOnly session cannot reset.
    let r = with_token(s, "POST", RESET, &token, r#"{"ResetType": "ForceOff"}"#);
    assert_eq!(r.status, 403);
    assert_eq!(code(&r), "Base.1.22.InsufficientPrivilege");
    // The session service says it is on, with the default idle timeout.
    let svc = with_token(s, "GET", "/redfish/v1/SessionService", &token, "").json();
    assert_eq!(svc["ServiceEnabled"], true);
    assert_eq!(svc["SessionTimeout"], 1800);

    // An operator's session resets, sees every session; the reader sees
    // only its own and cannot end the operator's.
    let (ops_token, ops_location) = session(s, "ops", OPS_PASSWORD);
    let r = with_token(s, "POST", RESET, &ops_token, r#"{"ResetType": "ForceOff"}"#);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let sessions = "/redfish/v1/SessionService/Sessions";
    let all = with_token(s, "GET", sessions, &ops_token, "").json();
    assert_eq!(all["Members@odata.count"], 2);
    let own = with_token(s, "GET", sessions, &token, "").json();
    assert_eq!(own["Members@odata.count"], 1);
    assert_eq!(own["Members"][0]["@odata.id"], location.as_str());
    assert_eq!(with_token(s, "GET", &ops_location, &token, "").status, 404);
    assert_eq!(
        with_token(s, "DELETE", &ops_location, &token, "").status,
        404
    );
    assert_eq!(with_token(s, "GET", &location, &token, "").status, 200);
    let bearer = format!("Bearer {VIEWER_TOKEN}");
    let by_token = call(s, "GET", sessions, &[("Authorization", &bearer)], "").json();
    assert_eq!(by_token["Members@odata.count"], 0, "{by_token}");
    let r = call(s, "DELETE", &location, &[("Authorization", &bearer)], "");
    assert_eq!(r.status, 404);
    // An administrator is an operator too: it sees every session.
    let root = basic("root", ROOT_PASSWORD);
    let by_admin = call(s, "GET", sessions, &[("Authorization", &root)], "").json();
    assert_eq!(by_admin["Members@odata.count"], 2, "{by_admin}");

    // DSP0266: a POST to the collection's Members is the same login.
    let r = call(
        s,
        "POST",
        "/redfish/v1/SessionService/Sessions/Members",
        &[],
        &serde_json::json!({ "UserName": "viewer", "Password": VIEWER_PASSWORD }).to_string(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let members_location = r.header("Location").unwrap().to_string();
    assert_eq!(
        with_token(s, "DELETE", &members_location, &token, "").status,
        204
    );

    // Login errors: wrong password 401, missing property 400, no password
    // echoed.
    let r = login(s, "viewer", "not-the-password");
    assert_eq!(r.status, 401);
    assert_eq!(code(&r), "Base.1.22.NoValidSession");
    let r = call(s, "POST", sessions, &[], r#"{"UserName": "viewer"}"#);
    assert_eq!(r.status, 400);
    assert_eq!(code(&r), "Base.1.22.PropertyMissing");

    // Logout: the token is refused afterwards; the operator's still works.
    assert_eq!(with_token(s, "DELETE", &location, &token, "").status, 204);
    let r = with_token(s, "GET", SYSTEM, &token, "");
    assert_eq!(r.status, 401);
    assert_eq!(code(&r), "Base.1.22.NoValidSession");
    assert_eq!(with_token(s, "GET", SYSTEM, &ops_token, "").status, 200);
    // An operator may end anyone's session, here its own.
    assert_eq!(
        with_token(s, "DELETE", &ops_location, &ops_token, "").status,
        204
    );
    assert_eq!(with_token(s, "GET", SYSTEM, &ops_token, "").status, 401);

    let log = s
        .log_so_far_as(&[("Authorization", &basic("viewer", VIEWER_PASSWORD))])
        .join("\n");
    assert!(log.contains("session created"), "{log}");
    assert!(log.contains("session ended (logout)"));
    for secret in [
        VIEWER_PASSWORD,
        OPS_PASSWORD,
        &token,
        &ops_token,
        "not-the-password",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

#[test]
fn idle_sessions_time_out_and_the_store_is_bounded() {
    let n = node("[auth.sessions]\ntimeout_secs = 2\nmax = 2\n");
    let s = &n.server;
    let (busy, _) = session(s, "viewer", VIEWER_PASSWORD);
    let (idle, _) = session(s, "ops", OPS_PASSWORD);
    // Full: a third login is refused, nobody is logged out for it.
    let r = login(s, "viewer", VIEWER_PASSWORD);
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(code(&r), "Base.1.22.ServiceTemporarilyUnavailable");
    assert!(r.header("Retry-After").is_some());
    assert_eq!(with_token(s, "GET", SYSTEM, &idle, "").status, 200);
    // Used every second, a session outlives its 2 s timeout (sliding);
    // the unused one ends.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(900));
        assert_eq!(
            with_token(s, "GET", "/redfish/v1/Chassis", &busy, "").status,
            200
        );
    }
    assert_eq!(with_token(s, "GET", SYSTEM, &idle, "").status, 401);
    // Its place is free again.
    let svc = with_token(s, "GET", "/redfish/v1/SessionService", &busy, "").json();
    assert_eq!(svc["SessionTimeout"], 2);
    session(s, "ops", OPS_PASSWORD);
}

/// `[auth.sessions] state_file`: a restart of the service keeps the
/// sessions (not the ones logged out, nor those of an account whose role or
/// password changed while it was down); their idle time runs on across it;
/// a file of another boot restores nothing.
#[test]
fn sessions_are_kept_across_a_restart_of_the_service() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("sessions.json");
    let n = node(&format!("[auth.sessions]\nstate_file = {:?}\n", file));
    let s = &n.server;
    let (ops, ops_uri) = session(s, "ops", OPS_PASSWORD);
    let (viewer, _) = session(s, "viewer", VIEWER_PASSWORD);
    let (root, root_uri) = session(s, "root", ROOT_PASSWORD);
    assert_eq!(with_token(s, "DELETE", &root_uri, &root, "").status, 204);
    let (root_again, _) = session(s, "root", ROOT_PASSWORD);
    let kept = std::fs::read_to_string(&file).unwrap();
    for token in [&ops, &viewer, &root, &root_again] {
        assert!(!kept.contains(token.as_str()), "a token in {kept}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Down; meanwhile `viewer` becomes an operator and `root` gets another
    // password in the configuration.
    let Node {
        server, toml, dir, ..
    } = n;
    assert!(server.terminate().success());
    let root_hash = toml
        .lines()
        .skip_while(|l| *l != "[auth.users.root]")
        .nth(1)
        .unwrap();
    let new_hash = format!(
        "password_hash = \"{}\"",
        hash_token("another-root-password", HashAlgorithm::Argon2id).unwrap()
    );
    let changed = toml
        .replace("role = \"reader\"", "role = \"operator\"")
        .replace(root_hash, &new_hash);
    assert!(
        !changed.contains(root_hash) && changed.contains("role = \"operator\"\n[auth.users.root]")
    );
    let (again, _cfg) = Server::with_config(&changed);
    let r = with_token(&again, "GET", &ops_uri, &ops, "");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["UserName"], "ops");
    assert_eq!(with_token(&again, "GET", SYSTEM, &ops, "").status, 200);
    assert_eq!(
        with_token(&again, "GET", SYSTEM, &viewer, "").status,
        401,
        "an account changed while down ends its sessions"
    );
    assert_eq!(
        with_token(&again, "GET", SYSTEM, &root, "").status,
        401,
        "logged out before"
    );
    assert_eq!(
        with_token(&again, "GET", SYSTEM, &root_again, "").status,
        401,
        "a password changed while down ends its account's sessions"
    );
    // No token in the service's log.
    let root_now = basic("root", "another-root-password");
    let log = again
        .log_so_far_as(&[("Authorization", &root_now)])
        .join("\n");
    assert!(!log.contains(ops.as_str()), "the token in the log");

    // A file of another boot restores nothing.
    assert!(again.terminate().success());
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["Sessions"].as_array().unwrap().len(), 1, "{v}");
    v["BootId"] = "00000000-0000-0000-0000-000000000000".into();
    std::fs::write(&file, v.to_string()).unwrap();
    let (third, _cfg) = Server::with_config(&changed);
    assert_eq!(with_token(&third, "GET", SYSTEM, &ops, "").status, 401);
    drop(dir);
}

/// The idle time of a kept session runs on while the service is down: a
/// restart does not make an idle session new.
#[test]
fn a_kept_sessions_idle_time_runs_on_across_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("sessions.json");
    let n = node(&format!(
        "[auth.sessions]\ntimeout_secs = 10\nstate_file = {:?}\n",
        file
    ));
    let (used, _) = session(&n.server, "ops", OPS_PASSWORD);
    let (idle, _) = session(&n.server, "viewer", VIEWER_PASSWORD);
    std::thread::sleep(Duration::from_millis(7000));
    assert_eq!(with_token(&n.server, "GET", SYSTEM, &used, "").status, 200);
    let Node { server, toml, .. } = n;
    assert!(server.terminate().success());
    std::thread::sleep(Duration::from_millis(3500));
    let (again, _cfg) = Server::with_config(&toml);
    // Idle 10.5 s and more: gone. Used 3.5 s (and a start) before: kept.
    assert_eq!(with_token(&again, "GET", SYSTEM, &idle, "").status, 401);
    assert_eq!(with_token(&again, "GET", SYSTEM, &used, "").status, 200);
}

#[test]
fn account_service_shows_local_accounts_and_roles() {
    let n = node("");
    let s = &n.server;
    let auth = basic("viewer", VIEWER_PASSWORD);
    let get = |path: &str| call(s, "GET", path, &[("Authorization", &auth)], "");
    // Anonymous: 401 like every non-public resource.
    assert_eq!(
        call(s, "GET", "/redfish/v1/AccountService", &[], "").status,
        401
    );
    let root = call(s, "GET", "/redfish/v1", &[], "").json();
    assert_eq!(
        root["AccountService"]["@odata.id"],
        "/redfish/v1/AccountService"
    );
    let svc = get("/redfish/v1/AccountService").json();
    assert_eq!(svc["ServiceEnabled"], true);
    assert_eq!(svc["LocalAccountAuth"], "Enabled");
    assert_eq!(svc["MinPasswordLength"], 8);
    assert!(svc.get("LDAP").is_none(), "no [auth.ldap]");
    let accounts = get("/redfish/v1/AccountService/Accounts").json();
    assert_eq!(accounts["Members@odata.count"], 3);
    let r = get("/redfish/v1/AccountService/Accounts/ops");
    let ops = r.json();
    assert_eq!(ops["UserName"], "ops");
    assert_eq!(ops["RoleId"], "Operator");
    assert_eq!(ops["Locked"], false);
    assert_eq!(ops["Password"], serde_json::Value::Null);
    assert!(!String::from_utf8_lossy(&r.body).contains("argon2"));
    let etag = r
        .header("ETag")
        .expect("ManagerAccount has an ETag")
        .to_string();
    assert_eq!(ops["@odata.etag"], etag.as_str());
    // A GET that names the current tag is answered 304, without a body.
    let unchanged = call(
        s,
        "GET",
        "/redfish/v1/AccountService/Accounts/ops",
        &[("Authorization", &auth), ("If-None-Match", &etag)],
        "",
    );
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header("ETag"), Some(etag.as_str()));
    let again = get("/redfish/v1/AccountService/Accounts/ops");
    assert_eq!(again.header("ETag"), Some(etag.as_str()), "stable");
    assert_ne!(
        get("/redfish/v1/AccountService/Accounts/viewer").header("ETag"),
        Some(etag.as_str())
    );
    assert_eq!(
        get("/redfish/v1/AccountService/Accounts/viewer").json()["RoleId"],
        "ReadOnly"
    );
    assert_eq!(get("/redfish/v1/AccountService/Accounts/carol").status, 404);
    let roles = get("/redfish/v1/AccountService/Roles").json();
    assert_eq!(roles["Members@odata.count"], 3);
    let ro = get("/redfish/v1/AccountService/Roles/ReadOnly").json();
    assert_eq!(
        ro["AssignedPrivileges"],
        serde_json::json!(["Login", "ConfigureSelf"])
    );
    // An account of the configuration is changed there only: a PATCH is a
    // 405 that says what is allowed.
    let r = call(
        s,
        "PATCH",
        "/redfish/v1/AccountService/Accounts/viewer",
        &[("Authorization", &auth)],
        r#"{"Password": "new-password-123"}"#,
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
}

const ACCOUNTS: &str = "/redfish/v1/AccountService/Accounts";

/// An administrator makes an account: 201, its `Location`, the role asked.
fn make(s: &Server, auth: &str, name: &str, password: &str, role: &str) -> Response {
    call(
        s,
        "POST",
        ACCOUNTS,
        &[("Authorization", auth)],
        &serde_json::json!({ "UserName": name, "Password": password, "RoleId": role }).to_string(),
    )
}

/// A PATCH of an account with the `If-Match` of a GET just before.
fn patch_account(s: &Server, auth: &str, name: &str, body: &str) -> Response {
    let uri = format!("{ACCOUNTS}/{name}");
    let r = call(s, "GET", &uri, &[("Authorization", auth)], "");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let etag = r.header("ETag").unwrap().to_string();
    call(
        s,
        "PATCH",
        &uri,
        &[("Authorization", auth), ("If-Match", &etag)],
        body,
    )
}

/// An administrator renames an account (`PATCH` of `UserName`, as
/// Ansible's `UpdateUserName` does): the account, its password and role
/// answer at the new name's URI, the old name logs in no more, its
/// sessions end; the account itself, a taken name or a bad one is refused.
#[test]
fn an_administrator_renames_an_account() {
    let n = node("");
    let s = &n.server;
    let root = basic("root", ROOT_PASSWORD);
    assert_eq!(
        make(s, &root, "carol", "carol-pass-1", "Operator").status,
        201
    );
    let carol = basic("carol", "carol-pass-1");
    let (token, _) = session(s, "carol", "carol-pass-1");
    let r = patch_account(s, &carol, "carol", r#"{"UserName": "caroline"}"#);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.PropertyNotWritable")
    );
    for (name, status, want) in [
        ("ops", 409, "Base.1.22.ResourceAlreadyExists"),
        ("a/b", 400, "Base.1.22.PropertyValueError"),
        ("", 400, "Base.1.22.PropertyValueError"),
    ] {
        let body = serde_json::json!({ "UserName": name, "RoleId": "ReadOnly" }).to_string();
        let r = patch_account(s, &root, "carol", &body);
        assert_eq!((r.status, code(&r).as_str()), (status, want), "{name:?}");
    }
    assert_eq!(with_token(s, "GET", SYSTEM, &token, "").status, 200);

    let r = patch_account(s, &root, "carol", r#"{"UserName": "caroline"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let uri = format!("{ACCOUNTS}/caroline");
    assert_eq!(r.header("Location"), Some(uri.as_str()));
    let v = r.json();
    assert_eq!(
        (&v["@odata.id"], &v["Id"], &v["UserName"], &v["RoleId"]),
        (
            &uri.as_str().into(),
            &"caroline".into(),
            &"caroline".into(),
            &"Operator".into()
        )
    );
    let get = |auth: &str, path: &str| call(s, "GET", path, &[("Authorization", auth)], "");
    assert_eq!(get(&root, &format!("{ACCOUNTS}/carol")).status, 404);
    assert_eq!(get(&root, &uri).status, 200);
    assert_eq!(get(&carol, SYSTEM).status, 401, "the old name");
    assert_eq!(with_token(s, "GET", SYSTEM, &token, "").status, 401);
    let caroline = basic("caroline", "carol-pass-1");
    let r = call(
        s,
        "POST",
        RESET,
        &[("Authorization", &caroline)],
        r#"{"ResetType": "ForceOff"}"#,
    );
    assert_eq!(r.status, 204, "still an operator");
    assert_eq!(
        logged(s, &root, &["AccountChanged"]),
        ["'root' changed local account 'caroline': UserName caroline (was carol)."]
    );
    // Its own name again changes nothing.
    let r = patch_account(s, &root, "caroline", r#"{"UserName": "caroline"}"#);
    assert_eq!(r.status, 200);
    assert_eq!(logged(s, &root, &["AccountChanged"]).len(), 1);
}

#[test]
fn accounts_made_changed_and_deleted_by_an_administrator() {
    let n = node("");
    let s = &n.server;
    let root = basic("root", ROOT_PASSWORD);
    let file = n.dir.path().join("accounts.json");

    // Only an administrator makes accounts.
    for (user, pw) in [("viewer", VIEWER_PASSWORD), ("ops", OPS_PASSWORD)] {
        let r = make(s, &basic(user, pw), "carol", "carol-pass-1", "Operator");
        assert_eq!(r.status, 403, "{user}");
    }
    let coll = call(s, "GET", ACCOUNTS, &[("Authorization", &root)], "");
    assert_eq!(coll.header("Allow"), Some("GET, HEAD, POST"));
    let svc = call(
        s,
        "GET",
        "/redfish/v1/AccountService",
        &[("Authorization", &root)],
        "",
    );
    assert!(svc.json()["Description"]
        .as_str()
        .unwrap()
        .contains("Administrator"));

    let r = make(s, &root, "carol", "carol-pass-1", "Operator");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("Location"),
        Some("/redfish/v1/AccountService/Accounts/carol")
    );
    let carol = r.json();
    assert_eq!(carol["RoleId"], "Operator");
    assert_eq!(carol["Enabled"], true);
    assert_eq!(r.header("ETag"), carol["@odata.etag"].as_str());
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(
        stored.contains("$argon2id$") && !stored.contains("carol-pass-1"),
        "{stored}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // What a create refuses, and why.
    let r = make(s, &root, "carol", "other-pass-1", "ReadOnly");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (409, "Base.1.22.ResourceAlreadyExists")
    );
    let r = make(s, &root, "ops", "other-pass-1", "ReadOnly");
    assert_eq!(r.status, 409, "a configured name");
    let r = make(s, &root, "dave", "short", "ReadOnly");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.PropertyValueError")
    );
    assert!(
        !String::from_utf8_lossy(&r.body).contains("short"),
        "a password is never quoted"
    );
    let r = make(s, &root, "dave", "dave-pass-1", "Superuser");
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.PropertyValueNotInList")
    );
    for bad in ["da/ve", "da:ve", ""] {
        let r = make(s, &root, bad, "dave-pass-1", "ReadOnly");
        assert_eq!(
            (r.status, code(&r).as_str()),
            (400, "Base.1.22.PropertyValueError"),
            "{bad:?}"
        );
    }
    let r = call(
        s,
        "POST",
        ACCOUNTS,
        &[("Authorization", &root)],
        r#"{"UserName": "dave", "Password": "dave-pass-1"}"#,
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.CreateFailedMissingReqProperties")
    );
    // A client's `Id` (Ansible's `AddUser` sends a BMC slot number) is
    // the service's to give: ignored, the account answers at its name.
    let r = call(
        s,
        "POST",
        ACCOUNTS,
        &[("Authorization", &root)],
        r#"{"Id": "3", "UserName": "erin", "Password": "erin-pass-1", "RoleId": "ReadOnly"}"#,
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["Id"], "erin");
    let erin = format!("{ACCOUNTS}/erin");
    assert_eq!(r.header("Location"), Some(erin.as_str()));
    assert_eq!(
        call(s, "DELETE", &erin, &[("Authorization", &root)], "").status,
        204
    );
    let r = call(
        s,
        "POST",
        ACCOUNTS,
        &[("Authorization", &root)],
        r#"{"Id": 3, "UserName": "erin", "Password": "erin-pass-1", "RoleId": "ReadOnly"}"#,
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.PropertyNotWritable"),
        "not a Redfish Id"
    );

    // The new operator works on both APIs; its session is its own.
    let carol_basic = basic("carol", "carol-pass-1");
    let r = call(
        s,
        "POST",
        RESET,
        &[("Authorization", &carol_basic)],
        r#"{"ResetType": "ForceOff"}"#,
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let r = call(
        s,
        "GET",
        "/opendcre/1.1/power/status/00000001/0001",
        &[("Authorization", &carol_basic)],
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["power_status"], "off");
    let (carol_token, _) = session(s, "carol", "carol-pass-1");

    // An account changes its own password, nothing else, and no one else's.
    assert_eq!(
        make(s, &root, "dave", "dave-pass-1", "ReadOnly").status,
        201
    );
    let r = patch_account(s, &carol_basic, "carol", r#"{"RoleId": "Administrator"}"#);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.PropertyNotWritable")
    );
    let r = patch_account(s, &carol_basic, "dave", r#"{"Password": "taken-over-1"}"#);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (403, "Base.1.22.InsufficientPrivilege")
    );
    let r = patch_account(s, &carol_basic, "carol", r#"{"Password": "carol-pass-2"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        with_token(s, "GET", SYSTEM, &carol_token, "").status,
        401,
        "sessions end with the change"
    );
    let carol_basic = basic("carol", "carol-pass-2");
    assert_eq!(
        call(
            s,
            "GET",
            SYSTEM,
            &[("Authorization", &basic("carol", "carol-pass-1"))],
            ""
        )
        .status,
        401
    );
    assert_eq!(
        call(s, "GET", SYSTEM, &[("Authorization", &carol_basic)], "").status,
        200
    );

    // The administrator: If-Match required and checked, then the role.
    let uri = format!("{ACCOUNTS}/carol");
    let r = call(
        s,
        "PATCH",
        &uri,
        &[("Authorization", &root)],
        r#"{"RoleId": "ReadOnly"}"#,
    );
    assert_eq!(r.status, 428);
    let r = call(
        s,
        "PATCH",
        &uri,
        &[("Authorization", &root), ("If-Match", "\"stale\"")],
        r#"{"RoleId": "ReadOnly"}"#,
    );
    assert_eq!(r.status, 412);
    let r = patch_account(s, &root, "carol", r#"{"RoleId": "ReadOnly", "Bogus": 1}"#);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.PropertyUnknown")
    );
    let r = patch_account(
        s,
        &root,
        "carol",
        r#"{"@odata.id": "/redfish/v1/AccountService/Accounts/carol"}"#,
    );
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.NoOperation")
    );
    let r = patch_account(s, &root, "carol", r#"{"RoleId": "ReadOnly"}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["RoleId"], "ReadOnly");
    let r = call(
        s,
        "POST",
        RESET,
        &[("Authorization", &carol_basic)],
        r#"{"ResetType": "On"}"#,
    );
    assert_eq!(r.status, 403, "a reader now");
    let r = patch_account(s, &root, "carol", r#"{"Enabled": false}"#);
    assert_eq!(r.json()["Enabled"], false);
    assert_eq!(
        call(s, "GET", SYSTEM, &[("Authorization", &carol_basic)], "").status,
        401
    );

    // Deleted: gone, and only an administrator deletes.
    assert_eq!(
        call(
            s,
            "DELETE",
            &format!("{ACCOUNTS}/dave"),
            &[("Authorization", &basic("ops", OPS_PASSWORD))],
            ""
        )
        .status,
        403
    );
    let r = call(s, "DELETE", &uri, &[("Authorization", &root)], "");
    assert_eq!(r.status, 204);
    assert_eq!(
        call(s, "GET", &uri, &[("Authorization", &root)], "").status,
        404
    );
    assert_eq!(
        call(s, "DELETE", &uri, &[("Authorization", &root)], "").status,
        404
    );
    let r = call(
        s,
        "DELETE",
        &format!("{ACCOUNTS}/ops"),
        &[("Authorization", &root)],
        "",
    );
    assert_eq!(
        (r.status, r.header("Allow")),
        (405, Some("GET, HEAD")),
        "a configured account"
    );

    // Accounts never lock: unlocking changes nothing, locking is refused.
    let r = patch_account(s, &root, "dave", r#"{"Locked": true}"#);
    assert_eq!(
        (r.status, code(&r).as_str()),
        (400, "Base.1.22.PropertyValueNotInList")
    );
    let r = patch_account(s, &root, "dave", r#"{"Locked": false}"#);
    assert_eq!((r.status, r.json()["Locked"].as_bool()), (200, Some(false)));

    // Each change is in the node's event log, a password only by name.
    let log = call(
        s,
        "GET",
        "/redfish/v1/Managers/RackManager/LogServices/EventLog/Entries",
        &[("Authorization", &root)],
        "",
    );
    let entries: Vec<(String, String)> = log.json()["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (text("MessageId"), text("Message"))
        })
        .filter(|(id, _)| id.contains(".Account"))
        .collect();
    let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "OpenDCRE.1.2.AccountCreated",
            "OpenDCRE.1.2.AccountCreated",
            "OpenDCRE.1.2.AccountDeleted",
            "OpenDCRE.1.2.AccountCreated",
            "OpenDCRE.1.2.AccountChanged",
            "OpenDCRE.1.2.AccountChanged",
            "OpenDCRE.1.2.AccountChanged",
            "OpenDCRE.1.2.AccountDeleted",
        ]
    );
    assert_eq!(
        entries[4].1,
        "'carol' changed local account 'carol': password."
    );
    assert_eq!(
        entries[5].1,
        "'root' changed local account 'carol': RoleId ReadOnly."
    );
    assert_eq!(entries[7].1, "'root' deleted local account 'carol'.");

    // A restart keeps dave (and his password), not carol.
    let log = s.log_so_far_as(&[("Authorization", &root)]).join("\n");
    for secret in ["carol-pass-1", "carol-pass-2", "dave-pass-1", ROOT_PASSWORD] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    assert!(
        log.contains("account created") && log.contains("account deleted"),
        "{log}"
    );
    let (again, _cfg) = Server::with_config(&n.toml);
    let dave = call(
        &again,
        "GET",
        &format!("{ACCOUNTS}/dave"),
        &[("Authorization", &basic("dave", "dave-pass-1"))],
        "",
    );
    assert_eq!(dave.status, 200);
    assert_eq!(dave.json()["RoleId"], "ReadOnly");
    assert_eq!(dave.header("Allow"), Some("GET, HEAD, PATCH, DELETE"));
    assert_eq!(
        call(&again, "GET", &uri, &[("Authorization", &root)], "").status,
        404
    );
}

/// DSP0266 "Password change required handling": an account an
/// administrator makes with `PasswordChangeRequired` logs in (the session's
/// answer says what must come first), reads its own account and changes its
/// password there; everything else, the v1.1 API included, is a 403 naming
/// the account. The new password ends the requirement; an administrator's
/// `PATCH` sets it again.
#[test]
fn a_required_password_change_comes_first() {
    let n = node("");
    let s = &n.server;
    let root = basic("root", ROOT_PASSWORD);
    let uri = format!("{ACCOUNTS}/temp");
    let body = serde_json::json!({
        "UserName": "temp", "Password": "temporary-pass-1", "RoleId": "Operator",
        "PasswordChangeRequired": true,
    });
    let r = call(
        s,
        "POST",
        ACCOUNTS,
        &[("Authorization", &root)],
        &body.to_string(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["PasswordChangeRequired"], true);

    // The login succeeds and carries the message.
    let r = login(s, "temp", "temporary-pass-1");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let info = &r.json()["@Message.ExtendedInfo"][0];
    assert_eq!(info["MessageId"], "Base.1.22.PasswordChangeRequired");
    assert_eq!(info["MessageArgs"], serde_json::json!([uri]));
    let token = r.header("X-Auth-Token").unwrap().to_string();

    let temp = basic("temp", "temporary-pass-1");
    let refused = |r: Response, what: &str| {
        assert_eq!(
            (r.status, code(&r).as_str()),
            (403, "Base.1.22.PasswordChangeRequired"),
            "{what}"
        );
    };
    for auth in [("Authorization", temp.as_str()), ("X-Auth-Token", &token)] {
        assert_eq!(call(s, "GET", &uri, &[auth], "").status, 200);
        refused(
            call(s, "GET", "/redfish/v1/SessionService/Sessions", &[auth], ""),
            "sessions",
        );
        refused(
            call(s, "GET", "/redfish/v1/Systems", &[auth], ""),
            "systems",
        );
    }
    refused(
        call(
            s,
            "GET",
            &format!("{ACCOUNTS}/ops"),
            &[("Authorization", &temp)],
            "",
        ),
        "another account",
    );
    // Beyond its role too: the password first, not "InsufficientPrivilege".
    refused(
        call(
            s,
            "POST",
            ACCOUNTS,
            &[("Authorization", &temp)],
            &serde_json::json!({"UserName": "x", "Password": "another-pass-3", "RoleId": "ReadOnly"})
                .to_string(),
        ),
        "an administrator's request",
    );
    // The v1.1 API: its own error format, the same refusal.
    let r = call(
        s,
        "GET",
        "/opendcre/1.1/test",
        &[("Authorization", &temp)],
        "",
    );
    assert_eq!(r.status, 403);
    assert!(
        String::from_utf8_lossy(&r.body).contains(&uri),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // Only the password may change on the way.
    let r = patch_account(s, &temp, "temp", r#"{"RoleId": "Administrator"}"#);
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

    let r = patch_account(s, &temp, "temp", r#"{"Password": "chosen-pass-2"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["PasswordChangeRequired"], false);
    let chosen = basic("temp", "chosen-pass-2");
    assert_eq!(
        call(
            s,
            "GET",
            "/redfish/v1/Systems",
            &[("Authorization", &chosen)],
            ""
        )
        .status,
        200
    );
    assert_eq!(
        call(
            s,
            "GET",
            "/redfish/v1/Systems",
            &[("X-Auth-Token", &token)],
            ""
        )
        .status,
        401,
        "the change ended the session"
    );

    // An administrator requires it again; it is kept across a restart.
    let r = patch_account(s, &root, "temp", r#"{"PasswordChangeRequired": true}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (again, _cfg) = Server::with_config(&n.toml);
    refused(
        call(
            &again,
            "GET",
            "/redfish/v1/Systems",
            &[("Authorization", &chosen)],
            "",
        ),
        "after a restart",
    );
    let r = call(&again, "GET", &uri, &[("Authorization", &chosen)], "");
    assert_eq!(r.json()["PasswordChangeRequired"], true);
}

/// `SessionTimeout` (DSP0266 "Session management"; DSP8011 gives the
/// `PATCH` to `ConfigureManager`): an administrator sets it, `If-Match`
/// first; it is checked against 30..=86400, kept across a restart, logged,
/// and in force at once.
#[test]
fn an_administrator_sets_the_session_timeout() {
    let n = node("");
    let s = &n.server;
    let root = basic("root", ROOT_PASSWORD);
    const SERVICE: &str = "/redfish/v1/SessionService";
    let r = settings_patch_is_an_administrators(s, SERVICE, r#"{"SessionTimeout": 600}"#);
    assert_eq!(r.json()["SessionTimeout"], 1800);
    let etag = r.header("ETag").unwrap().to_string();
    let patch = |auth: &str, if_match: Option<&str>, body: &str| {
        patch_with(s, SERVICE, auth, if_match, body)
    };
    let answer = |r: &Response| (r.status, code(r));
    for (body, expected) in [
        (r#"{"SessionTimeout": 29}"#, "PropertyValueOutOfRange"),
        (r#"{"SessionTimeout": 86401}"#, "PropertyValueOutOfRange"),
        (r#"{"SessionTimeout": -600}"#, "PropertyValueOutOfRange"),
        (r#"{"SessionTimeout": 600.5}"#, "PropertyValueTypeError"),
        (r#"{"SessionTimeout": "600"}"#, "PropertyValueTypeError"),
        (r#"{"ServiceEnabled": false}"#, "PropertyNotWritable"),
        (r#"{"Timeout": 600}"#, "PropertyUnknown"),
    ] {
        let r = patch(&root, Some(&etag), body);
        assert_eq!(
            answer(&r),
            (400, format!("Base.1.22.{expected}")),
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert!(!n.dir.path().join("session-service.json").exists());

    // The change: a live session stays; the value, the file and the log
    // show it. (That a shorter timeout ends idle sessions at once is the
    // store's unit test: 30 s, the least here, is too long to wait for.)
    let (token, _) = session(s, "viewer", VIEWER_PASSWORD);
    let r = patch(&root, Some(&etag), r#"{"SessionTimeout": 600}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["SessionTimeout"], 600);
    assert_ne!(r.header("ETag"), Some(etag.as_str()));
    assert_eq!(
        answer(&patch(&root, Some(&etag), r#"{"SessionTimeout": 900}"#)),
        (412, "Base.1.22.PreconditionFailed".into()),
        "the old ETag"
    );
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(n.dir.path().join("session-service.json")).unwrap())
            .unwrap();
    assert_eq!(kept, serde_json::json!({"SessionTimeout": 600}));
    let svc = with_token(s, "GET", SERVICE, &token, "");
    assert_eq!(svc.status, 200, "a live session stays");
    assert_eq!(svc.json()["SessionTimeout"], 600);
    assert_eq!(svc.header("Allow"), Some("GET, HEAD, PATCH"));
    assert_eq!(
        logged(s, &root, &["SessionTimeoutChanged"]),
        ["'root' set the session idle timeout to 600 seconds."]
    );

    // A restart keeps it over the configured 1800 s.
    let (again, _cfg) = Server::with_config(&n.toml);
    let r = call(&again, "GET", SERVICE, &[("Authorization", &root)], "");
    assert_eq!(r.json()["SessionTimeout"], 600);

    // Without a settings file the timeout is the configuration's alone.
    read_only_without_settings_file("", "sessions", SERVICE, r#"{"SessionTimeout": 600}"#);
}

/// `[auth.lockout]`: three wrong passwords in a row lock a local account,
/// of the accounts file or of the configuration alike; the right password
/// is then refused too (and only it learns why), the account shows
/// `Locked`, the event log says so, and an administrator's `Locked: false`
/// opens it again. Other accounts and the directory are not touched.
#[test]
fn failed_logins_lock_an_account_until_an_administrator_unlocks_it() {
    // The per-address limiter (its own test above) would answer 429 to
    // this test's twenty failures from one address.
    let n = node(
        "[auth.lockout]\nthreshold = 3\nduration_secs = 600\nreset_after_secs = 60\n\
         [auth.rate_limit]\nburst = 100\n",
    );
    let s = &n.server;
    let root = basic("root", ROOT_PASSWORD);
    let svc = call(
        s,
        "GET",
        "/redfish/v1/AccountService",
        &[("Authorization", &root)],
        "",
    )
    .json();
    assert_eq!(svc["AccountLockoutThreshold"], 3);
    assert_eq!(svc["AccountLockoutDuration"], 600);
    assert_eq!(svc["AccountLockoutCounterResetAfter"], 60);
    assert_eq!(
        make(s, &root, "carol", "carol-pass-1", "Operator").status,
        201
    );

    for user in ["carol", "ops"] {
        let right = if user == "ops" {
            OPS_PASSWORD
        } else {
            "carol-pass-1"
        };
        let get = |auth: &str| call(s, "GET", SYSTEM, &[("Authorization", auth)], "");
        // A success clears the count: two wrong, one right, two wrong
        // is not three in a row.
        for _ in 0..2 {
            assert_eq!(get(&basic(user, "wrong-password")).status, 401);
        }
        assert_eq!(get(&basic(user, right)).status, 200, "{user}");
        for _ in 0..2 {
            assert_eq!(get(&basic(user, "wrong-password")).status, 401);
        }
        assert_eq!(get(&basic(user, right)).status, 200, "{user}");
        for _ in 0..3 {
            let r = login(s, user, "wrong-password");
            assert_eq!(r.status, 401, "{user}");
            assert!(!String::from_utf8_lossy(&r.body).contains("locked"));
        }
        // Locked: the right password is refused, over Basic and login,
        // and told why; a wrong one learns nothing new.
        let r = get(&basic(user, right));
        assert_eq!(r.status, 401, "{user}");
        assert!(
            String::from_utf8_lossy(&r.body).contains("locked"),
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let r = login(s, user, right);
        assert_eq!(r.status, 401, "{user}");
        let r = get(&basic(user, "wrong-password"));
        assert!(!String::from_utf8_lossy(&r.body).contains("locked"));
        let shown = call(
            s,
            "GET",
            &format!("{ACCOUNTS}/{user}"),
            &[("Authorization", &root)],
            "",
        );
        assert_eq!(shown.json()["Locked"], true, "{user}");
    }
    // Others log in as before.
    session(s, "viewer", VIEWER_PASSWORD);

    // A configured account takes a PATCH of `Locked` only, from an
    // administrator only; `true` is the service's to set.
    let ops_uri = format!("{ACCOUNTS}/ops");
    let r = call(s, "GET", &ops_uri, &[("Authorization", &root)], "");
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    let viewer = basic("viewer", VIEWER_PASSWORD);
    assert_eq!(
        patch_account(s, &viewer, "ops", r#"{"Locked": false}"#).status,
        403
    );
    let r = patch_account(s, &root, "ops", r#"{"RoleId": "ReadOnly"}"#);
    assert_eq!(
        (r.status, code(&r)),
        (400, "Base.1.22.PropertyNotWritable".into())
    );
    let r = patch_account(s, &root, "ops", r#"{"Locked": true}"#);
    assert_eq!(r.status, 400);
    for user in ["ops", "carol"] {
        let r = patch_account(s, &root, user, r#"{"Locked": false}"#);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["Locked"], false);
    }
    assert_eq!(
        call(
            s,
            "GET",
            SYSTEM,
            &[("Authorization", &basic("ops", OPS_PASSWORD))],
            ""
        )
        .status,
        200
    );
    session(s, "carol", "carol-pass-1");

    assert_eq!(
        logged(s, &root, &["AccountLocked"]),
        [
            "Local account 'carol' was locked after 3 failed logins in a row; it unlocks after 600 seconds or when an administrator unlocks it.",
            "Local account 'ops' was locked after 3 failed logins in a row; it unlocks after 600 seconds or when an administrator unlocks it.",
        ]
    );
    let unlocks: Vec<String> = logged(s, &root, &["AccountChanged"])
        .into_iter()
        .filter(|m| m.contains("unlocked"))
        .collect();
    assert_eq!(unlocks.len(), 2, "{unlocks:?}");

    // Without [auth.lockout] nothing locks and configured accounts stay
    // read-only.
    let plain = node("");
    let s = &plain.server;
    for _ in 0..5 {
        assert_eq!(login(s, "ops", "wrong-password").status, 401);
    }
    session(s, "ops", OPS_PASSWORD);
    let r = call(s, "GET", &ops_uri, &[("Authorization", &root)], "");
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(r.json()["Locked"], false);
    assert_eq!(
        call(
            s,
            "GET",
            "/redfish/v1/AccountService",
            &[("Authorization", &root)],
            ""
        )
        .json()["AccountLockoutThreshold"],
        0
    );
}

/// `PATCH /redfish/v1/AccountService`: an administrator sets the lockout
/// policy (with `If-Match`; ranges and the reset-no-longer-than-the-lock
/// rule checked); it is kept across a restart, logged, and in force at
/// once. Without a settings file the service is read-only.
#[test]
fn an_administrator_sets_the_lockout_policy() {
    let n = node("");
    let s = &n.server;
    let root = basic("root", ROOT_PASSWORD);
    const SERVICE: &str = "/redfish/v1/AccountService";
    let good = r#"{"AccountLockoutThreshold": 2, "AccountLockoutDuration": 120, "AccountLockoutCounterResetAfter": 60}"#;
    let r = settings_patch_is_an_administrators(s, SERVICE, good);
    assert_eq!(r.json()["AccountLockoutThreshold"], 0);
    let etag = r.header("ETag").unwrap().to_string();
    let patch = |auth: &str, if_match: Option<&str>, body: &str| {
        patch_with(s, SERVICE, auth, if_match, body)
    };
    let answer = |r: &Response| (r.status, code(r));
    for (body, expected) in [
        (
            r#"{"AccountLockoutThreshold": 1001}"#,
            "PropertyValueOutOfRange",
        ),
        (
            r#"{"AccountLockoutThreshold": -1}"#,
            "PropertyValueOutOfRange",
        ),
        (
            r#"{"AccountLockoutDuration": 0}"#,
            "PropertyValueOutOfRange",
        ),
        (
            r#"{"AccountLockoutCounterResetAfter": 86401}"#,
            "PropertyValueOutOfRange",
        ),
        (
            r#"{"AccountLockoutThreshold": "2"}"#,
            "PropertyValueTypeError",
        ),
        // The configured reset is 300 s: a 120 s lock would end first.
        (
            r#"{"AccountLockoutDuration": 120}"#,
            "PropertyValueConflict",
        ),
        (r#"{"MinPasswordLength": 12}"#, "PropertyNotWritable"),
        (r#"{"Lockout": 2}"#, "PropertyUnknown"),
    ] {
        let r = patch(&root, Some(&etag), body);
        assert_eq!(
            answer(&r),
            (400, format!("Base.1.22.{expected}")),
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let kept = n.dir.path().join("account-service.json");
    assert!(!kept.exists());

    let r = patch(&root, Some(&etag), good);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["AccountLockoutThreshold"], 2);
    assert_eq!(r.json()["AccountLockoutDuration"], 120);
    assert_eq!(r.json()["AccountLockoutCounterResetAfter"], 60);
    assert_ne!(r.header("ETag"), Some(etag.as_str()));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    assert_eq!(
        file,
        serde_json::json!({"AccountLockoutThreshold": 2, "AccountLockoutDuration": 120, "AccountLockoutCounterResetAfter": 60, "AccountLockoutCounterResetEnabled": true})
    );
    // In force at once: two wrong passwords lock the viewer.
    for _ in 0..2 {
        assert_eq!(login(s, "viewer", "wrong-password").status, 401);
    }
    assert_eq!(login(s, "viewer", VIEWER_PASSWORD).status, 401);
    assert_eq!(
        logged(s, &root, &["AccountLockoutChanged", "AccountLocked"]),
        [
            "'root' set the account lockout policy: AccountLockoutThreshold 2, AccountLockoutDuration 120 s, AccountLockoutCounterResetAfter 60 s, AccountLockoutCounterResetEnabled true.",
            "Local account 'viewer' was locked after 2 failed logins in a row; it unlocks after 120 seconds or when an administrator unlocks it.",
        ]
    );

    // A restart keeps the policy (over the configured one) and the lock,
    // with what is left of its 120 s.
    let (again, _cfg) = Server::with_config(&n.toml);
    let r = call(&again, "GET", SERVICE, &[("Authorization", &root)], "");
    assert_eq!(r.json()["AccountLockoutThreshold"], 2);
    assert_eq!(r.json()["AccountLockoutDuration"], 120);
    assert_eq!(login(&again, "viewer", VIEWER_PASSWORD).status, 401);
    assert_eq!(
        patch_account(&again, &root, "viewer", r#"{"Locked": false}"#).status,
        200
    );
    session(&again, "viewer", VIEWER_PASSWORD);

    // Without the counter reset a lock lasts until an administrator
    // unlocks the account, and says so.
    let etag = r.header("ETag").unwrap().to_string();
    let r = patch_with(
        &again,
        SERVICE,
        &root,
        Some(&etag),
        r#"{"AccountLockoutCounterResetEnabled": "no"}"#,
    );
    assert_eq!(
        (r.status, code(&r)),
        (400, "Base.1.22.PropertyValueTypeError".into())
    );
    let r = patch_with(
        &again,
        SERVICE,
        &root,
        Some(&etag),
        r#"{"AccountLockoutCounterResetEnabled": false}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["AccountLockoutCounterResetEnabled"], false);
    for _ in 0..2 {
        assert_eq!(login(&again, "viewer", "wrong-password").status, 401);
    }
    let r = login(&again, "viewer", VIEWER_PASSWORD);
    assert_eq!(r.status, 401);
    assert!(
        String::from_utf8_lossy(&r.body).contains("an administrator must unlock it"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        logged(&again, &root, &["AccountLockedUntilUnlocked"]),
        ["Local account 'viewer' was locked after 2 failed logins in a row, until an administrator unlocks it."]
    );
    // A restart does not unlock it (the locks file); an administrator does,
    // and that too outlives a restart.
    drop(again);
    let (third, _cfg) = Server::with_config(&n.toml);
    assert_eq!(login(&third, "viewer", VIEWER_PASSWORD).status, 401);
    let shown = call(
        &third,
        "GET",
        &format!("{ACCOUNTS}/viewer"),
        &[("Authorization", &root)],
        "",
    );
    assert_eq!(shown.json()["Locked"], true);
    assert_eq!(
        patch_account(&third, &root, "viewer", r#"{"Locked": false}"#).status,
        200
    );
    session(&third, "viewer", VIEWER_PASSWORD);
    drop(third);
    let (fourth, _cfg) = Server::with_config(&n.toml);
    session(&fourth, "viewer", VIEWER_PASSWORD);

    // Without a settings file the policy is the configuration's alone.
    let r = read_only_without_settings_file(
        "[auth.lockout]\nthreshold = 5\n",
        "lockout",
        SERVICE,
        good,
    );
    assert_eq!(r.json()["AccountLockoutThreshold"], 5);
}
