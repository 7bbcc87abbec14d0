//! Log services in the real binary: the node's event log (power actions
//! through both APIs, failed authentications, a restart, ClearLog and who
//! may send it, paging) on the emulator, and a BMC's SEL read from OpenIPMI's
//! `ipmi_sim`, compared with what ipmitool reads from it.

use serde_json::Value;

use crate::common::{request_with, Server};
use crate::ipmi_support::SimBmc;
use crate::redfish::{get, get_ok, send, OPERATOR, RACK, READER};
use opendcre_security::auth::{hash_token, HashAlgorithm};

const LOG: &str = "/redfish/v1/Managers/RackManager/LogServices/EventLog";
const SYS_LOG: &str = "/redfish/v1/Systems/00000001-0001/LogServices/EventLog";

/// The emulated rack with its event log in `state` (kept across restarts).
fn node_config(rack: &std::path::Path, state: &std::path::Path, extra: &str) -> String {
    format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [event_log]\npath = {:?}\nmax_entries = 50\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n{extra}",
        rack.display().to_string(),
        state.join("events.jsonl").display().to_string(),
        hash_token(READER, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
    )
}

/// Every entry of a log's `Entries`: in full without `$expand` (the schema
/// auto-expands a log entry collection's members).
fn entries(s: &Server, service: &str) -> Vec<Value> {
    let v = get_ok(s, &format!("{service}/Entries"), Some(READER));
    v["Members"].as_array().unwrap().clone()
}

fn keys(es: &[Value]) -> Vec<String> {
    es.iter()
        .map(|e| e["MessageId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn power_actions_and_auth_failures_are_logged_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let cfg = node_config(&rack, dir.path(), "");
    let (s, _c) = Server::with_config(&cfg);

    // The service and its links.
    let m = get_ok(&s, "/redfish/v1/Managers/RackManager", Some(READER));
    assert_eq!(
        m["LogServices"]["@odata.id"],
        "/redfish/v1/Managers/RackManager/LogServices"
    );
    let sys = get_ok(&s, "/redfish/v1/Systems/00000001-0001", Some(READER));
    assert_eq!(
        sys["LogServices"]["@odata.id"],
        "/redfish/v1/Systems/00000001-0001/LogServices"
    );
    let svc = get_ok(&s, LOG, Some(READER));
    assert_eq!(svc["OverWritePolicy"], "WrapsWhenFull");
    assert_eq!(svc["MaxNumberOfRecords"], 50);
    assert_eq!(svc["Status"]["Health"], "OK", "{svc}");
    assert_eq!(
        svc["Actions"]["#LogService.ClearLog"]["target"],
        format!("{LOG}/Actions/LogService.ClearLog")
    );

    // A v1.1 power action, a Redfish reset, a status read (not an action).
    let on = get(&s, "/opendcre/1.1/power/off/00000001/0001", Some(OPERATOR));
    assert_eq!(on.status, 200);
    assert_eq!(
        get(&s, "/opendcre/1.1/power/status/00000001/0001", Some(READER)).status,
        200
    );
    let r = send(
        &s,
        "POST",
        "/redfish/v1/Systems/00000001-0001/Actions/ComputerSystem.Reset",
        OPERATOR,
        r#"{"ResetType": "On"}"#,
        &[],
    );
    assert_eq!(r.status, 204);
    // A wrong token: an authentication failure, without the token.
    let bad = "odcre_not-a-valid-token-0123456789";
    let r = request_with(
        &s.addr,
        "GET",
        "/redfish/v1/Systems",
        &[("Authorization", &format!("Bearer {bad}"))],
    );
    assert_eq!(r.status, 401);
    // No credential at all is a refusal, not a failed attempt.
    assert_eq!(get(&s, "/redfish/v1/Systems", None).status, 401);

    let all = entries(&s, LOG);
    assert_eq!(
        keys(&all),
        [
            "OpenDCRE.1.2.PowerAction",
            "OpenDCRE.1.2.PowerAction",
            "OpenDCRE.1.2.AuthenticationFailed"
        ],
        "{all:#?}"
    );
    assert_eq!(
        all[0]["MessageArgs"],
        serde_json::json!([
            "off",
            "00000001-0001",
            "operator",
            "power off",
            "the v1.1 API"
        ])
    );
    assert!(all[0]["Message"]
        .as_str()
        .unwrap()
        .contains("through the v1.1 API"));
    assert_eq!(
        all[1]["MessageArgs"],
        serde_json::json!(["On", "00000001-0001", "operator", "done", "Redfish"])
    );
    assert_eq!(all[1]["EntryType"], "Event");
    assert_eq!(all[1]["Severity"], "OK");
    assert_eq!(all[2]["Severity"], "Warning");
    assert_eq!(all[2]["MessageArgs"][0], "127.0.0.1");
    // Each entry's message is its registry message with its arguments, from
    // the registry the service serves (what a client resolving a MessageId
    // does).
    let file = get_ok(&s, "/redfish/v1/Registries/OpenDCRE", Some(READER));
    assert_eq!(file["Registry"], "OpenDCRE.1.2");
    let doc = get_ok(
        &s,
        file["Location"][0]["Uri"].as_str().unwrap(),
        Some(READER),
    );
    assert_eq!(doc["RegistryPrefix"], "OpenDCRE");
    for e in &all {
        let key = e["MessageId"]
            .as_str()
            .unwrap()
            .trim_start_matches("OpenDCRE.1.2.");
        let m = &doc["Messages"][key];
        let args = e["MessageArgs"].as_array().unwrap();
        assert_eq!(m["NumberOfArgs"], args.len(), "{key}");
        let mut text = m["Message"].as_str().unwrap().to_string();
        for (i, a) in args.iter().enumerate().rev() {
            text = text.replace(&format!("%{}", i + 1), a.as_str().unwrap());
        }
        assert_eq!(e["Message"], text.as_str(), "{key}");
        assert_eq!(e["Severity"], m["MessageSeverity"], "{key}");
    }
    let text = all[2].to_string();
    assert!(!text.contains(bad), "the token is not logged: {text}");

    // The system's view: its two power actions, nothing else.
    let mine = entries(&s, SYS_LOG);
    assert_eq!(mine.len(), 2);
    assert!(mine[0]["@odata.id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{SYS_LOG}/Entries/")));
    assert!(entries(&s, "/redfish/v1/Systems/00000002-0001/LogServices/EventLog").is_empty());

    // Paging with the query machinery.
    let page = get_ok(&s, &format!("{LOG}/Entries?$top=1&$skip=1"), Some(READER));
    assert_eq!(page["Members@odata.count"], 3);
    assert_eq!(page["Members"].as_array().unwrap().len(), 1);
    assert_eq!(page["Members"][0]["@odata.id"], all[1]["@odata.id"]);
    assert!(page["Members@odata.nextLink"].is_string());

    // A restart keeps the entries (same ids).
    s.terminate();
    let (s, _c2) = Server::with_config(&cfg);
    let again = entries(&s, LOG);
    assert_eq!(again, all);

    // A reader may not clear; an operator may, and the log says who.
    let clear = format!("{LOG}/Actions/LogService.ClearLog");
    let r = send(&s, "POST", &clear, READER, "{}", &[]);
    assert_eq!(r.status, 403);
    assert_eq!(entries(&s, LOG).len(), 3);
    let r = send(&s, "POST", &clear, OPERATOR, "{}", &[]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let left = entries(&s, LOG);
    assert_eq!(keys(&left), ["OpenDCRE.1.2.LogCleared"]);
    assert_eq!(left[0]["MessageArgs"], serde_json::json!(["operator"]));
    // Entry ids are not reused after a clear.
    let old = all[0]["@odata.id"].as_str().unwrap();
    assert_eq!(get(&s, old, Some(READER)).status, 404);
}

#[test]
fn a_missing_state_directory_keeps_the_log_in_memory_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let (s, _c) = Server::with_config(&node_config(&rack, &dir.path().join("gone"), ""));
    let svc = get_ok(&s, LOG, Some(READER));
    assert_eq!(svc["Status"]["Health"], "Warning");
    assert!(svc["Description"].as_str().unwrap().contains("gone"));
    let r = send(
        &s,
        "POST",
        "/redfish/v1/Systems/00000001-0001/Actions/ComputerSystem.Reset",
        OPERATOR,
        r#"{"ResetType": "ForceOff"}"#,
        &[],
    );
    assert_eq!(r.status, 204);
    assert_eq!(entries(&s, LOG).len(), 1, "still recorded, in memory");
}

/// A system event record as ipmitool's raw Add SEL Entry takes it: record
/// id and timestamp are the BMC's to set.
fn add_sel(sim: &SimBmc, sensor_type: u8, number: u8, dir_type: u8, data: [u8; 3]) {
    let mut args: Vec<String> = vec!["raw".into(), "0x0a".into(), "0x44".into()];
    let rec = [
        0u8,
        0,
        0x02,
        0,
        0,
        0,
        0,
        0x20,
        0x00,
        0x04,
        sensor_type,
        number,
        dir_type,
        data[0],
        data[1],
        data[2],
    ];
    args.extend(rec.iter().map(|b| format!("{b:#04x}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sim.ipmitool(&args);
    assert!(
        out.status.success(),
        "Add SEL Entry: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bmcs_sel_is_read_over_ipmi_and_cleared_by_operators_only() {
    let Some(sim) = SimBmc::start() else {
        return;
    };
    let (s, _dir, _c) = with_sim(&sim);
    const SEL: &str = "/redfish/v1/Systems/40000000-0001/LogServices/SEL";
    let coll = get_ok(
        &s,
        "/redfish/v1/Systems/40000000-0001/LogServices",
        Some(READER),
    );
    assert_eq!(coll["Members"][0]["@odata.id"], SEL);
    let svc = get_ok(&s, SEL, Some(READER));
    assert_eq!(svc["LogEntryType"], "SEL");
    assert_eq!(svc["OverWritePolicy"], "NeverOverWrites");
    assert_eq!(
        svc["Status"]["Health"], "OK",
        "the BMC's SEL clock was read"
    );
    assert!(
        entries(&s, SEL).is_empty(),
        "a new simulator's SEL is empty"
    );

    // Temperature sensor 0x30, upper critical going high (threshold, offset
    // 9); processor sensor 0x05 thermal trip (sensor-specific offset 1),
    // deasserted.
    add_sel(&sim, 0x01, 0x30, 0x01, [0x59, 0x5a, 0x50]);
    add_sel(&sim, 0x07, 0x05, 0xef, [0x01, 0xff, 0xff]);
    let es = entries(&s, SEL);
    assert_eq!(es.len(), 2, "{es:#?}");
    let (t, p) = (&es[0], &es[1]);
    assert_eq!(t["EntryType"], "SEL");
    assert_eq!(t["SensorType"], "Temperature");
    assert_eq!(t["SensorNumber"], 0x30);
    assert_eq!(t["EntryCode"], "Upper Critical - going high");
    assert_eq!(t["Severity"], "Critical");
    assert_eq!(t["MessageId"], "0x01595A50");
    assert_eq!(t["GeneratorId"], "0x0020");
    assert_eq!(p["SensorType"], "Processor");
    assert_eq!(p["EntryCode"], "Deassert");
    assert!(p.get("Severity").is_none(), "no severity guessed");

    // The same records as ipmitool lists them (record ids, sensors).
    let out = sim.ipmitool(&["sel", "elist"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    for (e, line) in es.iter().zip(&lines) {
        let id = u16::from_str_radix(line.split('|').next().unwrap().trim(), 16).unwrap();
        assert_eq!(e["Id"], id.to_string(), "{line}");
    }
    assert!(
        lines[0].contains("Temperature #0x30") && lines[0].contains("Upper Critical going high")
    );
    assert!(lines[1].contains("Processor #0x05") && lines[1].contains("Deasserted"));
    // One entry by its URI; an id the SEL does not have is a 404.
    let one = get_ok(&s, t["@odata.id"].as_str().unwrap(), Some(READER));
    assert_eq!(&one, t);
    assert_eq!(
        get(&s, &format!("{SEL}/Entries/4242"), Some(READER)).status,
        404
    );

    // ClearLog: a reader gets 403 and the SEL keeps its records; an
    // operator empties it (ipmitool agrees).
    let clear = format!("{SEL}/Actions/LogService.ClearLog");
    assert_eq!(send(&s, "POST", &clear, READER, "{}", &[]).status, 403);
    assert_eq!(entries(&s, SEL).len(), 2);
    let r = send(&s, "POST", &clear, OPERATOR, "", &[]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert!(entries(&s, SEL).is_empty());
    let info = String::from_utf8_lossy(&sim.ipmitool(&["sel", "info"]).stdout).to_string();
    assert!(info.contains("Entries          : 0"), "{info}");
    // Who cleared it is the node's to say: one entry, the operator's.
    let said: Vec<String> = entries(&s, LOG)
        .iter()
        .filter(|e| e["MessageId"] == "OpenDCRE.1.2.SelCleared")
        .map(|e| e["Message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        said,
        ["The System Event Log of BMC system 40000000-0001 was cleared by 'operator'."]
    );
}

/// A node on the stateful rack with `sim` as BMC 1 (system
/// `40000000-0001`), its files in the returned directory.
fn with_sim(sim: &SimBmc) -> (Server, tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let bmc = format!(
        "[[ipmi.bmc]]\ndevice_id = 1\nip = \"127.0.0.1\"\nport = {}\nusername = \"ADMIN\"\n\
         password = \"ADMIN\"\ninterface = \"lanplus\"\ncipher_suite = 3\n",
        sim.port
    );
    let (s, c) = Server::with_config(&node_config(&rack, dir.path(), &bmc));
    (s, dir, c)
}

/// The record ids of the SEL as `ipmitool sel elist` lists them, oldest
/// first.
fn ipmitool_sel_ids(sim: &SimBmc) -> Vec<String> {
    let out = sim.ipmitool(&["sel", "elist"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let hex = l.split('|').next().unwrap().trim();
            u16::from_str_radix(hex, 16).unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_long_sel_shows_its_newest_records_and_follows_what_is_added() {
    let Some(sim) = SimBmc::start() else {
        return;
    };
    let (s, dir, _c) = with_sim(&sim);
    const SEL: &str = "/redfish/v1/Systems/40000000-0001/LogServices/SEL";
    // 600 temperature events in one ipmitool session (`exec`): more than
    // the 512 the node keeps.
    let script = dir.path().join("add-sel.txt");
    let lines: Vec<String> = (0..600u32)
        .map(|n| {
            format!(
                "raw 0x0a 0x44 0 0 0x02 0 0 0 0 0x20 0x00 0x04 0x01 {:#04x} 0x01 0x59 0x5a 0x50",
                n % 256
            )
        })
        .collect();
    std::fs::write(&script, lines.join("\n") + "\n").unwrap();
    let out = sim.ipmitool(&["exec", script.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = ipmitool_sel_ids(&sim);
    assert_eq!(ids.len(), 600);

    let shown_ids = |s: &Server| -> (Vec<String>, Value) {
        let v = get_ok(s, &format!("{SEL}/Entries"), Some(READER));
        let ids = v["Members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Id"].as_str().unwrap().to_string())
            .collect();
        (ids, v)
    };
    let (shown, v) = shown_ids(&s);
    assert_eq!(shown, ids[88..], "the newest 512, oldest first");
    assert_eq!(v["Members@odata.count"], 512);
    let said = v["Description"].as_str().unwrap();
    assert!(
        said.contains("newest 512") && said.contains("88 older"),
        "{said}"
    );
    // An older record is still there by its id.
    let oldest = get_ok(&s, &format!("{SEL}/Entries/{}", ids[0]), Some(READER));
    assert_eq!(oldest["Id"], ids[0].as_str());

    // Three more: the window moves on by three.
    add_sel(&sim, 0x01, 0x30, 0x01, [0x59, 0x5a, 0x50]);
    add_sel(&sim, 0x01, 0x31, 0x01, [0x59, 0x5a, 0x50]);
    add_sel(&sim, 0x07, 0x05, 0xef, [0x01, 0xff, 0xff]);
    let ids = ipmitool_sel_ids(&sim);
    assert_eq!(ids.len(), 603);
    let (shown, v) = shown_ids(&s);
    assert_eq!(shown, ids[91..]);
    assert_eq!(v["Members"][511]["SensorType"], "Processor");
    assert_eq!(v["Members"][510]["SensorNumber"], 0x31);
    // Nothing new: the same answer.
    assert_eq!(shown_ids(&s).0, shown);

    // Cleared, then one record: only that one.
    let r = send(
        &s,
        "POST",
        &format!("{SEL}/Actions/LogService.ClearLog"),
        OPERATOR,
        "{}",
        &[],
    );
    assert_eq!(r.status, 204);
    add_sel(&sim, 0x01, 0x32, 0x01, [0x59, 0x5a, 0x50]);
    let ids = ipmitool_sel_ids(&sim);
    let (shown, v) = shown_ids(&s);
    assert_eq!(shown, ids);
    assert_eq!(shown.len(), 1);
    assert!(v.get("Description").is_none(), "the whole log: {v}");
    // Cleared by someone else (ipmitool), then two records: the node sees
    // the new erase time and reads the log again from its first record.
    // (A second later: the erase time has a second's grain.)
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = sim.ipmitool(&["sel", "clear"]);
    assert!(out.status.success());
    add_sel(&sim, 0x01, 0x33, 0x01, [0x59, 0x5a, 0x50]);
    add_sel(&sim, 0x01, 0x34, 0x01, [0x59, 0x5a, 0x50]);
    let (shown, v) = shown_ids(&s);
    assert_eq!(shown, ipmitool_sel_ids(&sim));
    assert_eq!(v["Members"][0]["SensorNumber"], 0x33);
}

#[test]
fn a_failed_redfish_login_is_logged_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let users = format!(
        "[auth.users.ops]\npassword_hash = \"{}\"\nrole = \"operator\"\n",
        hash_token("right-password-1", HashAlgorithm::Argon2id).unwrap()
    );
    let (s, _c) = Server::with_config(&node_config(&rack, dir.path(), &users));
    let wrong = "wrong-password-7";
    let r = crate::common::request_with_body(
        &s.addr,
        "POST",
        "/redfish/v1/SessionService/Sessions",
        &[("Content-Type", "application/json")],
        &format!(r#"{{"UserName": "ops", "Password": "{wrong}"}}"#),
    );
    assert_eq!(r.status, 401);
    let es = entries(&s, LOG);
    assert_eq!(keys(&es), ["OpenDCRE.1.2.AuthenticationFailed"], "{es:#?}");
    let reason = es[0]["MessageArgs"][1].as_str().unwrap();
    assert!(reason.starts_with("Redfish login as \"ops\""), "{reason}");
    assert!(!es[0].to_string().contains(wrong));
}

#[test]
fn bus_faults_are_summed_into_one_entry_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let cfg = node_config(&rack, dir.path(), "").replace(
        "max_entries = 50\n",
        "max_entries = 50\nbus_fault_interval_secs = 1\n",
    );
    let (s, _c) = Server::with_config(&cfg);
    // Board 00000009 is not on the bus: its reads go unanswered.
    for _ in 0..3 {
        let r = get(
            &s,
            "/opendcre/1.1/read/thermistor/00000009/0001",
            Some(READER),
        );
        assert_eq!(r.status, 500);
    }
    // Three unanswered reads, however many intervals they fell into.
    let timeouts = |faults: &[Value]| -> u64 {
        faults
            .iter()
            .map(|e| {
                e["MessageArgs"][0]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let faults = loop {
        let faults: Vec<Value> = entries(&s, LOG)
            .into_iter()
            .filter(|e| e["MessageId"] == "OpenDCRE.1.2.BusFaults")
            .collect();
        if timeouts(&faults) >= 3 || std::time::Instant::now() > deadline {
            break faults;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(timeouts(&faults), 3, "{faults:#?}");
    assert!(faults.len() <= 2, "one entry per interval: {faults:#?}");
    assert_eq!(faults[0]["Severity"], "Warning");
}
