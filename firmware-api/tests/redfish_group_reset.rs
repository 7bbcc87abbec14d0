//! `AggregationService.Reset`: a group of the rack's systems — bus power
//! devices and a real `ipmi_sim` server — switched in batches as a task,
//! each switch confirmed through the v1.1 API and ipmitool, each recorded
//! in the event log as its own `ComputerSystem.Reset` would be.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::Server;
use crate::redfish::{
    error_code, get_ok, log_message_ids, send, v11_power, wait_task, with_bmc_on, OPERATOR, RACK,
    READER,
};

const ACTION: &str = "/redfish/v1/AggregationService/Actions/AggregationService.Reset";

fn group(s: &Server, token: &str, body: &Value) -> crate::common::Response {
    send(s, "POST", ACTION, token, &body.to_string(), &[])
}

#[test]
fn a_group_is_switched_in_batches_as_a_task() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (_dir, rack) = crate::redfish::rack_file();
    let (s, _cfg) = with_bmc_on(&sim, &rack);

    let service = get_ok(&s, "/redfish/v1/AggregationService", Some(READER));
    assert_eq!(
        service["Actions"]["#AggregationService.Reset"]["target"],
        ACTION
    );
    assert_eq!(
        get_ok(&s, "/redfish/v1", Some(READER))["AggregationService"]["@odata.id"],
        "/redfish/v1/AggregationService"
    );
    let targets = json!([
        "/redfish/v1/Systems/00000001-0001",
        {"@odata.id": "/redfish/v1/Systems/00000002-0001"},
        "/redfish/v1/Systems/40000000-0001"
    ]);
    let off = json!({"TargetURIs": targets, "ResetType": "ForceOff", "BatchSize": 2, "DelayBetweenBatchesInSeconds": 2});

    let r = group(&s, READER, &off);
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "Base.1.22.InsufficientPrivilege");
    // A shutdown the bus power devices cannot do: the whole group is
    // refused, nothing switches.
    let r = group(
        &s,
        OPERATOR,
        &json!({"TargetURIs": targets, "ResetType": "GracefulShutdown"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.ActionParameterValueNotInList");
    assert!(sim.ipmitool_power());
    assert_eq!(v11_power(&s, "00000001", "0001"), "on");

    let power_entries = |s: &Server| {
        log_message_ids(s)
            .iter()
            .filter(|m| *m == "OpenDCRE.1.2.PowerAction")
            .count()
    };
    let logged_before = power_entries(&s);
    let started = Instant::now();
    let r = group(&s, OPERATOR, &off);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let task = r.header("Location").unwrap().to_string();
    assert_eq!(
        format!("{}/Monitor", r.json()["@odata.id"].as_str().unwrap()),
        task
    );
    // One group at a time.
    let again = group(&s, OPERATOR, &off);
    assert_eq!(again.status, 409);
    assert_eq!(error_code(&again), "Base.1.22.ResourceInUse");

    let t = wait_task(&s, &task);
    let took = started.elapsed();
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert_eq!(t["PercentComplete"], 100);
    assert!(
        took >= Duration::from_secs(2),
        "two batches, 2 s apart: {took:?}"
    );
    let messages = t["Messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "{t}");
    assert!(messages
        .iter()
        .all(|m| m["MessageId"] == "OpenDCRE.1.2.PowerAction" && m["MessageSeverity"] == "OK"));
    // The BMC was in the second batch: its message comes last.
    assert_eq!(messages[2]["MessageArgs"][1], "40000000-0001");
    assert_eq!(v11_power(&s, "00000001", "0001"), "off");
    assert_eq!(v11_power(&s, "00000002", "0001"), "off");
    assert!(!sim.ipmitool_power(), "ipmitool sees the server off");
    assert_eq!(
        power_entries(&s) - logged_before,
        3,
        "each switch in the event log"
    );

    // And back on, all at once.
    let r = group(
        &s,
        OPERATOR,
        &json!({"TargetURIs": targets, "ResetType": "On"}),
    );
    assert_eq!(r.status, 202);
    let t = wait_task(&s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert!(sim.ipmitool_power());
    assert_eq!(v11_power(&s, "00000002", "0001"), "on");
}

/// `Chassis.Reset`: the systems a chassis holds, as one group reset task —
/// a board's power devices, a BMC server's own system, every system of the
/// rack (OpenRMC's rack reset, `ForceRestart`: a bus power device's is a
/// power cycle, a BMC's a hard reset) — confirmed through the v1.1 API,
/// ipmitool and the simulator's reset count, each in the event log.
#[test]
fn a_chassis_resets_the_systems_it_holds() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (_dir, rack) = crate::redfish::rack_file();
    let (s, _cfg) = with_bmc_on(&sim, &rack);
    let post = |chassis: &str, token: &str, body: &str| {
        send(
            &s,
            "POST",
            &format!("/redfish/v1/Chassis/{chassis}/Actions/Chassis.Reset"),
            token,
            body,
            &[],
        )
    };
    let action = |chassis: &str| {
        get_ok(&s, &format!("/redfish/v1/Chassis/{chassis}"), Some(READER))["Actions"]
            ["#Chassis.Reset"]
            .clone()
    };
    let rack_action = action("Rack");
    assert_eq!(
        rack_action["target"],
        "/redfish/v1/Chassis/Rack/Actions/Chassis.Reset"
    );
    assert_eq!(
        rack_action["ResetType@Redfish.AllowableValues"],
        json!(["On", "ForceOff", "PowerCycle", "ForceRestart"]),
        "what every system of the rack offers"
    );
    assert_eq!(
        action("40000000-0001")["ResetType@Redfish.AllowableValues"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    let r = post("Rack", READER, r#"{"ResetType": "ForceOff"}"#);
    assert_eq!(error_code(&r), "Base.1.22.InsufficientPrivilege");
    let r = post("Rack", OPERATOR, r#"{"ResetType": "GracefulShutdown"}"#);
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (400, "Base.1.22.ActionParameterValueNotInList")
    );
    let r = post("00000009", OPERATOR, r#"{"ResetType": "On"}"#);
    assert_eq!(r.status, 404, "no such board");
    assert_eq!(v11_power(&s, "00000001", "0001"), "on");
    assert!(sim.ipmitool_power(), "nothing switched yet");
    // Board 2's device starts off (RACK).
    assert_eq!(v11_power(&s, "00000002", "0001"), "off");

    // One board: its power device only.
    let r = post("00000001", OPERATOR, r#"{"ResetType": "ForceOff"}"#);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let t = wait_task(&s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert_eq!(v11_power(&s, "00000001", "0001"), "off");
    assert_eq!(v11_power(&s, "00000002", "0001"), "off", "as it was");
    assert!(sim.ipmitool_power());
    // The server's chassis: its system.
    let r = post("40000000-0001", OPERATOR, r#"{"ResetType": "ForceOff"}"#);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let t = wait_task(&s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert!(!sim.ipmitool_power(), "ipmitool sees the server off");

    // The rack: on, then OpenRMC's ForceRestart of everything.
    let r = post("Rack", OPERATOR, r#"{"ResetType": "On"}"#);
    let t = wait_task(&s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert_eq!(v11_power(&s, "00000001", "0001"), "on");
    assert_eq!(v11_power(&s, "00000002", "0001"), "on");
    assert!(sim.ipmitool_power());
    let resets = sim.counter("resets");
    let r = post("Rack", OPERATOR, r#"{"ResetType": "ForceRestart"}"#);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let t = wait_task(&s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert!(
        t["Name"].as_str().unwrap().contains("of chassis Rack"),
        "{t}"
    );
    let messages = t["Messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "every system of the rack: {t}");
    assert!(
        messages
            .iter()
            .all(|m| m["MessageId"] == "OpenDCRE.1.2.PowerAction"
                && m["MessageSeverity"] == "OK"
                && m["MessageArgs"][0] == "ForceRestart"),
        "{t}"
    );
    assert_eq!(
        sim.counter("resets"),
        resets + 1,
        "the BMC got a hard reset"
    );
    assert_eq!(v11_power(&s, "00000001", "0001"), "on", "cycled: on again");
    assert_eq!(v11_power(&s, "00000002", "0001"), "on");
}

/// A group kept by the node (`AggregationService/Aggregates`, the usage
/// guide's persistent group): made by an operator, reset as one in batches
/// (confirmed through the v1.1 API), changed, kept across a restart of the
/// service, deleted.
#[test]
fn a_kept_group_is_reset_changed_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let groups = dir.path().join("state/aggregates.json");
    let toml = crate::redfish::node_toml(
        &rack,
        &format!(
            "[manager]\naggregates = {:?}\n",
            groups.display().to_string()
        ),
    );
    let (s, _cfg) = Server::with_config(&toml);
    let coll = "/redfish/v1/AggregationService/Aggregates";
    assert_eq!(
        get_ok(&s, "/redfish/v1/AggregationService", Some(READER))["Aggregates"]["@odata.id"],
        coll
    );
    let r = crate::redfish::get(&s, coll, Some(READER));
    assert_eq!(r.header("Allow"), Some("GET, HEAD, POST"));
    assert_eq!(r.json()["Members@odata.count"], 0);

    let make =
        json!({"Name": "row 3", "Elements": [{"@odata.id": "/redfish/v1/Systems/00000001-0001"}]});
    let r = send(&s, "POST", coll, READER, &make.to_string(), &[]);
    assert_eq!(r.status, 403);
    assert_eq!(error_code(&r), "Base.1.22.InsufficientPrivilege");
    let r = send(
        &s,
        "POST",
        coll,
        OPERATOR,
        r#"{"Elements": ["/redfish/v1/Systems/00000009-0001"]}"#,
        &[],
    );
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.PropertyValueError");
    assert!(!groups.exists(), "nothing kept for a refused create");

    let r = send(&s, "POST", coll, OPERATOR, &make.to_string(), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let uri = r.header("Location").unwrap().to_string();
    assert_eq!(r.json()["@odata.id"], uri.as_str());
    let v = get_ok(&s, &uri, Some(READER));
    assert_eq!(v["Name"], "row 3");
    assert_eq!(v["ElementsCount"], 1);
    let add = v["Actions"]["#Aggregate.AddElements"]["target"]
        .as_str()
        .unwrap()
        .to_string();
    let reset = v["Actions"]["#Aggregate.Reset"]["target"]
        .as_str()
        .unwrap()
        .to_string();
    let r = send(
        &s,
        "POST",
        &add,
        OPERATOR,
        r#"{"Elements": ["/redfish/v1/Systems/00000002-0001"]}"#,
        &[],
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get_ok(&s, &uri, Some(READER))["ElementsCount"], 2);

    // Reset as one, a system at a time, 1 s apart.
    let r = send(
        &s,
        "POST",
        &reset,
        READER,
        r#"{"ResetType": "ForceOff"}"#,
        &[],
    );
    assert_eq!(r.status, 403);
    let r = send(
        &s,
        "POST",
        &reset,
        OPERATOR,
        r#"{"ResetType": "ForceOff", "BatchSize": 1, "DelayBetweenBatchesInSeconds": 1}"#,
        &[],
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let t = wait_task(&s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert!(t["Name"].as_str().unwrap().contains("aggregate"), "{t}");
    assert_eq!(t["Messages"].as_array().unwrap().len(), 2, "{t}");
    assert_eq!(v11_power(&s, "00000001", "0001"), "off");
    assert_eq!(v11_power(&s, "00000002", "0001"), "off");
    drop(s);

    // Kept across a restart of the service.
    let (s, _cfg2) = Server::with_config(&toml);
    let v = get_ok(&s, &uri, Some(READER));
    assert_eq!(v["Name"], "row 3");
    assert_eq!(
        crate::redfish::member_ids(&json!({"Members": v["Elements"]})),
        [
            "/redfish/v1/Systems/00000001-0001",
            "/redfish/v1/Systems/00000002-0001"
        ]
    );
    let r = send(&s, "POST", &reset, OPERATOR, r#"{"ResetType": "On"}"#, &[]);
    assert_eq!(r.status, 202);
    let t = wait_task(&s, r.header("Location").unwrap());
    assert_eq!(t["TaskState"], "Completed", "{t}");
    assert_eq!(v11_power(&s, "00000002", "0001"), "on");

    let r = send(&s, "DELETE", &uri, READER, "", &[]);
    assert_eq!(r.status, 403);
    let r = send(&s, "DELETE", &uri, OPERATOR, "", &[]);
    assert_eq!(r.status, 204);
    let r = crate::redfish::get(&s, &uri, Some(READER));
    assert_eq!(r.status, 404);
    assert_eq!(get_ok(&s, coll, Some(READER))["Members@odata.count"], 0);
}

/// Starts a ForceOff of board 1's and board 2's power devices, one per
/// batch, ten minutes apart, and returns its task once the first batch
/// is done (the second far away).
fn first_of_two_batches(s: &Server) -> String {
    let r = group(
        s,
        OPERATOR,
        &json!({"TargetURIs": ["/redfish/v1/Systems/00000001-0001", "/redfish/v1/Systems/00000002-0001"],
                "ResetType": "ForceOff", "BatchSize": 1, "DelayBetweenBatchesInSeconds": 600}),
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let task = r.json()["@odata.id"].as_str().unwrap().to_string();
    let end = Instant::now() + Duration::from_secs(30);
    while get_ok(s, &task, Some(READER))["Messages"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < end, "the first batch did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    task
}

/// A group reset stopped by `DELETE` of its task between batches: the
/// system already switched stays switched, the one not reached is not
/// touched, and who stopped it is in the task and in the event log.
#[test]
fn a_group_reset_is_cancelled_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let (s, _cfg) = crate::redfish::node(&rack);
    // Both on first (board 2's device starts off).
    let r = send(
        &s,
        "POST",
        "/redfish/v1/Systems/00000002-0001/Actions/ComputerSystem.Reset",
        OPERATOR,
        r#"{"ResetType": "On"}"#,
        &[],
    );
    assert_eq!(r.status, 204);
    assert_eq!(v11_power(&s, "00000002", "0001"), "on");
    let task = first_of_two_batches(&s);
    let r = send(&s, "DELETE", &task, READER, "", &[]);
    assert_eq!(r.status, 403);
    let r = send(&s, "DELETE", &task, OPERATOR, "", &[]);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let end = Instant::now() + Duration::from_secs(10);
    let t = loop {
        let t = get_ok(&s, &task, Some(READER));
        if t["TaskState"] == "Cancelled" {
            break t;
        }
        assert!(Instant::now() < end, "not cancelled: {t}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(t["EndTime"].is_string());
    let last = t["Messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["MessageId"], "OpenDCRE.1.2.TaskCancelled", "{t}");
    assert_eq!(last["MessageArgs"][2], "00000002-0001", "{t}");
    assert_eq!(v11_power(&s, "00000001", "0001"), "off");
    assert_eq!(v11_power(&s, "00000002", "0001"), "on", "not reached");
    assert!(log_message_ids(&s).contains(&"OpenDCRE.1.2.TaskCancelled".to_string()));
    // The next group reset may start; the finished task can be forgotten.
    let r = group(
        &s,
        OPERATOR,
        &json!({"TargetURIs": ["/redfish/v1/Systems/00000001-0001"], "ResetType": "On"}),
    );
    assert_eq!(r.status, 202);
    wait_task(&s, r.header("Location").unwrap());
    assert_eq!(send(&s, "DELETE", &task, OPERATOR, "", &[]).status, 204);
    assert_eq!(crate::redfish::get(&s, &task, Some(READER)).status, 404);
}

/// With `[manager] tasks`, tasks outlive a restart of the service: a
/// finished one is still there at its monitor, one that was running when
/// the service stopped ends as `Exception` and says why, and new tasks
/// take the next ids.
#[test]
fn tasks_are_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let toml = crate::redfish::node_toml(
        &rack,
        &format!(
            "[manager]\ntasks = {:?}\n",
            dir.path().join("state/tasks.json").display().to_string()
        ),
    );
    let one = json!({"TargetURIs": ["/redfish/v1/Systems/00000001-0001"], "ResetType": "On"});
    let (s, _cfg) = Server::with_config(&toml);
    let r = group(&s, OPERATOR, &one);
    assert_eq!(r.status, 202);
    let done = r.header("Location").unwrap().to_string();
    assert_eq!(wait_task(&s, &done)["TaskState"], "Completed");
    // Still running at the restart, and written (on a blocking thread,
    // which a kill right after the 202 may beat).
    let cut = first_of_two_batches(&s);
    let id: u64 = cut.rsplit('/').next().unwrap().parse().unwrap();
    let file = dir.path().join("state/tasks.json");
    let end = Instant::now() + Duration::from_secs(10);
    while !std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|v| v["tasks"].as_array().unwrap().iter().any(|t| t["id"] == id))
    {
        assert!(Instant::now() < end, "task {id} never written");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(s);

    let (s, _cfg2) = Server::with_config(&toml);
    let t = wait_task(&s, &done);
    assert_eq!(t["TaskState"], "Completed", "{t}");
    let t = get_ok(&s, &cut, Some(READER));
    assert_eq!(t["TaskState"], "Exception", "{t}");
    assert!(
        t["Messages"]
            .to_string()
            .contains("node stopped while this task ran"),
        "{t}"
    );
    let r = group(&s, OPERATOR, &one);
    assert_eq!(r.status, 202, "the restart freed the one-at-a-time slot");
    let next = r.json()["Id"].as_str().unwrap().parse::<u64>().unwrap();
    let before = t["Id"].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(next, before + 1, "ids go on across the restart");
    wait_task(&s, r.header("Location").unwrap());
}
