//! Periodic metric reports in the real binary: an operator defines one
//! (`POST …/MetricReportDefinitions`), an SSE stream that takes metric
//! reports gets it at once and then every interval, the last one is kept
//! as its `MetricReport`, a push subscription of that format receives it;
//! the definition is turned off, changed, outlives a restart, and is
//! deleted.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::Server;
use crate::redfish::{error_code, get, get_ok, send, OPERATOR, RACK, READER};
use crate::redfish_events::{next_data, open_sse};

const DEFS: &str = "/redfish/v1/TelemetryService/MetricReportDefinitions";
const REPORTS: &str = "/redfish/v1/TelemetryService/MetricReports";

/// A node on the example rack whose definitions (and subscriptions, event
/// log) live in `dir`.
fn node_toml(dir: &tempfile::TempDir) -> String {
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    crate::redfish::node_toml(
        &rack,
        &format!(
            "[manager]\nreport_definitions = {:?}\n\
             [event_log]\npath = {:?}\n\
             [event_service]\nsubscriptions_path = {:?}\n",
            dir.path().join("defs.json").display().to_string(),
            dir.path().join("events.jsonl").display().to_string(),
            dir.path().join("subs.json").display().to_string(),
        ),
    )
}

/// The next metric report on an SSE stream, skipping events.
fn next_report(r: &mut std::io::BufReader<std::net::TcpStream>) -> Value {
    loop {
        let (_, v) = next_data(r).expect("the stream ended");
        if v["@odata.type"]
            .as_str()
            .is_some_and(|t| t.contains("MetricReport."))
        {
            return v;
        }
    }
}

#[test]
fn a_periodic_report_is_streamed_kept_turned_off_and_outlives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let toml = node_toml(&dir);
    let (s, _cfg) = Server::with_config(&toml);
    let svc = get_ok(&s, "/redfish/v1/EventService", Some(READER));
    assert_eq!(svc["EventFormatTypes"], json!(["Event", "MetricReport"]));
    let rack = get_ok(&s, &format!("{DEFS}/RackSensors"), Some(READER));
    let temp = rack["MetricProperties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .find(|p| p.contains("Temperature"))
        .expect("a temperature in the rack");

    // A reader may not define one; bad bodies say why.
    let body = json!({
        "Id": "Temps",
        "Schedule": {"RecurrenceInterval": "PT5S"},
        "MetricProperties": [temp],
    })
    .to_string();
    assert_eq!(send(&s, "POST", DEFS, READER, &body, &[]).status, 403);
    for (bad, want) in [
        (
            json!({"Schedule": {"RecurrenceInterval": "PT1S"}}),
            "PropertyValueOutOfRange",
        ),
        (json!({"Id": "x"}), "CreateFailedMissingReqProperties"),
        (
            json!({"Schedule": {"RecurrenceInterval": "PT5S"}, "MetricProperties": ["/redfish/v1/Chassis/9/Sensors/x#/Reading"]}),
            "PropertyValueNotInList",
        ),
    ] {
        let r = send(&s, "POST", DEFS, OPERATOR, &bad.to_string(), &[]);
        assert_eq!(
            (r.status, error_code(&r)),
            (400, format!("Base.1.22.{want}")),
            "{bad}"
        );
    }

    // Streams that take reports get the first at once.
    let filter = "?$filter=EventFormatType%20eq%20MetricReport";
    let (mut stream, head) = open_sse(&s, READER, filter);
    assert!(head[0].contains(" 200 "), "{head:?}");
    let r = send(&s, "POST", DEFS, OPERATOR, &body, &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("Location"), Some(format!("{DEFS}/Temps").as_str()));
    let def = r.json();
    assert_eq!(def["MetricReportDefinitionType"], "Periodic");
    assert_eq!(def["Schedule"]["RecurrenceInterval"], "PT5S");
    assert_eq!(def["MetricProperties"], json!([temp]));
    assert_eq!(
        send(&s, "POST", DEFS, OPERATOR, &body, &[]).status,
        409,
        "the same Id again"
    );

    let started = Instant::now();
    let first = next_report(&mut stream);
    assert_eq!(first["Id"], "Temps");
    assert_eq!(first["@odata.id"], format!("{REPORTS}/Temps"));
    let values = first["MetricValues"].as_array().unwrap();
    assert_eq!(values.len(), 1, "{first}");
    assert_eq!(values[0]["MetricProperty"], temp.as_str());
    // The report's value is the sensor's.
    let sensor = get_ok(&s, temp.trim_end_matches("#/Reading"), Some(READER));
    assert_eq!(
        values[0]["MetricValue"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        sensor["Reading"].as_f64().unwrap()
    );
    let second = next_report(&mut stream);
    assert!(
        second["Timestamp"].as_str() > first["Timestamp"].as_str(),
        "{second}"
    );
    let gap = started.elapsed();
    assert!(
        gap >= Duration::from_secs(4) && gap < Duration::from_secs(15),
        "{gap:?}"
    );
    let kept = get_ok(&s, &format!("{REPORTS}/Temps"), Some(READER));
    assert_eq!(
        kept["MetricReportDefinition"]["@odata.id"],
        format!("{DEFS}/Temps")
    );
    let listed = get_ok(&s, REPORTS, Some(READER));
    assert_eq!(listed["Members@odata.count"], 2);
    assert_eq!(get_ok(&s, DEFS, Some(READER))["Members@odata.count"], 2);

    // Off: no more reports; the state says so.
    let current = get(&s, &format!("{DEFS}/Temps"), Some(READER));
    let etag = current.header("ETag").unwrap().to_string();
    let r = send(
        &s,
        "PATCH",
        &format!("{DEFS}/Temps"),
        OPERATOR,
        r#"{"MetricReportDefinitionEnabled": false}"#,
        &[("If-Match", &etag)],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["Status"]["State"], "Disabled");
    drop(stream);
    assert!(s.terminate().success());

    // Kept across the restart, still off; the service's own is read only.
    let (s, _cfg) = Server::with_config(&toml);
    let def = get_ok(&s, &format!("{DEFS}/Temps"), Some(READER));
    assert_eq!(def["MetricReportDefinitionEnabled"], false);
    assert_eq!(
        get(&s, &format!("{REPORTS}/Temps"), Some(READER)).status,
        404
    );
    let r = send(
        &s,
        "DELETE",
        &format!("{DEFS}/RackSensors"),
        OPERATOR,
        "",
        &[],
    );
    assert_eq!(r.status, 405);
    let r = send(&s, "DELETE", &format!("{DEFS}/Temps"), OPERATOR, "", &[]);
    assert_eq!(r.status, 204);
    assert_eq!(get(&s, &format!("{DEFS}/Temps"), Some(READER)).status, 404);
    assert_eq!(get_ok(&s, DEFS, Some(READER))["Members@odata.count"], 1);
}

/// A push subscription of `EventFormatType` `MetricReport` gets the
/// reports (with its `Context`), an `Event` one only events; a definition
/// filter that names another definition takes none of them.
#[test]
fn metric_report_subscriptions_get_the_reports_and_event_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _cfg) = Server::with_config(&node_toml(&dir));
    let (dest, deliveries) = crate::redfish_events::receiver(204);
    let subscribe = |body: Value| {
        let r = send(
            &s,
            "POST",
            "/redfish/v1/EventService/Subscriptions",
            OPERATOR,
            &body.to_string(),
            &[],
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    };
    let reports = subscribe(json!({
        "Destination": format!("http://{dest}/reports"),
        "Protocol": "Redfish",
        "EventFormatType": "MetricReport",
        "Context": "rack-7",
        "MetricReportDefinitions": [{"@odata.id": format!("{DEFS}/Power")}],
    }));
    assert_eq!(reports["EventFormatType"], "MetricReport");
    subscribe(json!({
        "Destination": format!("http://{dest}/events"),
        "Protocol": "Redfish",
    }));
    subscribe(json!({
        "Destination": format!("http://{dest}/other"),
        "Protocol": "Redfish",
        "EventFormatType": "MetricReport",
        "MetricReportDefinitions": [{"@odata.id": format!("{DEFS}/Other")}],
    }));
    let r = send(
        &s,
        "POST",
        "/redfish/v1/EventService/Subscriptions",
        OPERATOR,
        &json!({"Destination": format!("http://{dest}/x"), "Protocol": "Redfish",
                "MetricReportDefinitions": [{"@odata.id": format!("{DEFS}/Power")}]})
        .to_string(),
        &[],
    );
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (400, "Base.1.22.PropertyValueConflict")
    );

    let body = json!({
        "Id": "Power",
        "Schedule": {"RecurrenceInterval": "PT5S"},
        "ReportActions": ["RedfishEvent"],
    });
    assert_eq!(
        send(&s, "POST", DEFS, OPERATOR, &body.to_string(), &[]).status,
        201
    );
    // The report subscription gets the reports (the first at once, the
    // next 5 s later); the event subscription only events (the
    // subscriptions made after it are in the event log); the other
    // definition's nothing.
    let mut reports = Vec::new();
    let end = Instant::now() + Duration::from_secs(15);
    while reports.len() < 2 {
        let left = end.saturating_duration_since(Instant::now());
        let d = deliveries
            .recv_timeout(left)
            .expect("two reports delivered");
        let path = d.head[0].split(' ').nth(1).unwrap().to_string();
        match path.as_str() {
            "/reports" => reports.push(d.body),
            "/events" => assert!(d.body["Events"].is_array(), "{}", d.body),
            other => panic!("{other} got {}", d.body),
        }
    }
    assert_eq!(reports[0]["Id"], "Power");
    assert_eq!(reports[0]["Context"], "rack-7");
    assert!(reports[1]["Timestamp"].as_str() > reports[0]["Timestamp"].as_str());
    assert!(!reports[0]["MetricValues"].as_array().unwrap().is_empty());
    // Not kept (RedfishEvent only): no report resource.
    assert_eq!(
        get(&s, &format!("{REPORTS}/Power"), Some(READER)).status,
        404
    );
}

/// A `PATCH` of a running definition's schedule and sensors is in force at
/// once: a new report comes without waiting out the old (daily) interval,
/// of the sensors it names now, then at the new pace; a bad change is
/// refused whole; the change outlives a restart.
#[test]
fn a_patched_schedule_and_sensors_are_in_force_at_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let toml = node_toml(&dir);
    let (s, _cfg) = Server::with_config(&toml);
    let rack = get_ok(&s, &format!("{DEFS}/RackSensors"), Some(READER));
    let all = rack["MetricProperties"].as_array().unwrap().len();
    assert!(all > 1, "{rack}");
    let first_sensor = rack["MetricProperties"][0].clone();
    let uri = format!("{DEFS}/Daily");
    let (mut stream, head) = open_sse(&s, READER, "?$filter=EventFormatType%20eq%20MetricReport");
    assert!(head[0].contains(" 200 "), "{head:?}");
    let body = json!({
        "Id": "Daily",
        "Schedule": {"RecurrenceInterval": "P1D"},
        "MetricProperties": [first_sensor],
    });
    let r = send(&s, "POST", DEFS, OPERATOR, &body.to_string(), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let report = next_report(&mut stream);
    assert_eq!(report["MetricValues"].as_array().unwrap().len(), 1);

    let etag = get(&s, &uri, Some(READER))
        .header("ETag")
        .unwrap()
        .to_string();
    let change = json!({
        "Schedule": {"RecurrenceInterval": "PT5S"},
        "MetricProperties": [],
    })
    .to_string();
    // Who may, and with what precondition.
    assert_eq!(
        send(&s, "PATCH", &uri, READER, &change, &[("If-Match", &etag)]).status,
        403
    );
    assert_eq!(send(&s, "PATCH", &uri, OPERATOR, &change, &[]).status, 428);
    // A change with one bad member changes nothing.
    let r = send(
        &s,
        "PATCH",
        &uri,
        OPERATOR,
        r#"{"Schedule": {"RecurrenceInterval": "PT5S"}, "ReportActions": ["Print"]}"#,
        &[("If-Match", &etag)],
    );
    assert_eq!(
        (r.status, error_code(&r)),
        (400, "Base.1.22.PropertyValueNotInList".to_string())
    );
    let unchanged = get_ok(&s, &uri, Some(READER));
    assert_eq!(unchanged["Schedule"]["RecurrenceInterval"], "PT24H");

    let r = send(&s, "PATCH", &uri, OPERATOR, &change, &[("If-Match", &etag)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let changed = r.json();
    assert_eq!(changed["Schedule"]["RecurrenceInterval"], "PT5S");
    assert_eq!(changed["MetricProperties"].as_array().unwrap().len(), all);
    assert_ne!(changed["@odata.etag"].as_str(), Some(etag.as_str()));
    // The old ETag no longer matches.
    let again = send(&s, "PATCH", &uri, OPERATOR, &change, &[("If-Match", &etag)]);
    assert_eq!(again.status, 412);

    // Without waiting a day: a report of every sensor at once, then another.
    let started = Instant::now();
    let now = next_report(&mut stream);
    assert_eq!(now["Id"], "Daily");
    assert_eq!(now["MetricValues"].as_array().unwrap().len(), all, "{now}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let next = next_report(&mut stream);
    let gap = started.elapsed();
    assert!(
        gap >= Duration::from_secs(4) && gap < Duration::from_secs(15),
        "{gap:?}"
    );
    assert!(next["Timestamp"].as_str() > now["Timestamp"].as_str());
    drop(stream);
    assert!(s.terminate().success());

    let (s, _cfg) = Server::with_config(&toml);
    let kept = get_ok(&s, &uri, Some(READER));
    assert_eq!(kept["Schedule"]["RecurrenceInterval"], "PT5S");
    assert_eq!(
        kept["Description"],
        "Every sensor of the rack (as the rack is at each report)."
    );
}

/// A definition may name a BMC server's own sensors (OpenRMC "Stream power
/// consumption all compute systems"): each report reads them over IPMI
/// from a real `ipmi_sim`, with the values its `Sensor`s show; a sensor the
/// BMC does not have, or a BMC not configured, is refused; a BMC that stops
/// answering leaves its values out and the rack's still come.
#[test]
fn a_report_of_bmc_sensors_reads_them_over_ipmi() {
    use crate::ipmi_support::SimBmc;
    let Some(sim) = SimBmc::start() else { return };
    let (dir, rack) = crate::redfish::rack_file();
    let toml = crate::redfish::node_toml(
        &rack,
        &format!(
            "[[ipmi.bmc]]\ndevice_id = 1\nip = \"127.0.0.1\"\nport = {}\nusername = \"ADMIN\"\n\
             password = \"ADMIN\"\ninterface = \"lanplus\"\ncipher_suite = 3\n\
             [manager]\nreport_definitions = {:?}\n",
            sim.port,
            dir.path().join("defs.json").display().to_string(),
        ),
    );
    let (s, _cfg) = Server::with_config(&toml);
    let chassis = "/redfish/v1/Chassis/40000000-0001";
    let listed = get_ok(&s, &format!("{chassis}/Sensors"), Some(READER));
    let sensors: Vec<Value> = listed["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| get_ok(&s, m["@odata.id"].as_str().unwrap(), Some(READER)))
        .collect();
    assert!(sensors.len() >= 2, "{listed}");
    let mut properties: Vec<String> = sensors
        .iter()
        .map(|v| format!("{}#/Reading", v["@odata.id"].as_str().unwrap()))
        .collect();
    let rack_report = get_ok(&s, &format!("{DEFS}/RackSensors"), Some(READER));
    let rack_temp = rack_report["MetricProperties"][0]
        .as_str()
        .unwrap()
        .to_string();
    properties.push(rack_temp.clone());

    for bad in [
        format!("{chassis}/Sensors/7e-Temperature#/Reading"),
        "/redfish/v1/Chassis/40000000-0002/Sensors/01-Temperature#/Reading".to_string(),
    ] {
        let body = json!({"Schedule": {"RecurrenceInterval": "PT5S"}, "MetricProperties": [bad]});
        let r = send(&s, "POST", DEFS, OPERATOR, &body.to_string(), &[]);
        assert_eq!(
            (r.status, error_code(&r)),
            (400, "Base.1.22.PropertyValueNotInList".to_string()),
            "{bad}"
        );
    }

    let (mut stream, head) = open_sse(&s, READER, "?$filter=EventFormatType%20eq%20MetricReport");
    assert!(head[0].contains(" 200 "), "{head:?}");
    let body = json!({
        "Id": "Servers",
        "Schedule": {"RecurrenceInterval": "PT5S"},
        "MetricProperties": properties,
    });
    let r = send(&s, "POST", DEFS, OPERATOR, &body.to_string(), &[]);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["MetricProperties"], json!(properties));
    let report = next_report(&mut stream);
    let values = report["MetricValues"].as_array().unwrap();
    // Every BMC sensor with a reading, as its Sensor shows it (ipmi_sim's
    // readings are constant), and the rack's.
    for v in &sensors {
        let property = format!("{}#/Reading", v["@odata.id"].as_str().unwrap());
        let got = values
            .iter()
            .find(|m| m["MetricProperty"] == property.as_str());
        match v["Reading"].as_f64() {
            Some(want) => {
                let got = got.unwrap_or_else(|| panic!("{property} in {report}"));
                let x: f64 = got["MetricValue"].as_str().unwrap().parse().unwrap();
                assert_eq!(x, want, "{property}");
                assert_eq!(
                    got["MetricId"],
                    format!("40000000-0001-{}", v["Id"].as_str().unwrap())
                );
            }
            None => assert!(got.is_none(), "no reading, no value: {property}"),
        }
    }
    assert!(values
        .iter()
        .any(|m| m["MetricProperty"] == rack_temp.as_str()));
    drop(stream);

    // The BMC goes away: the next reports carry the rack's value only.
    sim.stop();
    let stopped = Instant::now();
    let uri = format!("{REPORTS}/Servers");
    loop {
        let kept = get_ok(&s, &uri, Some(READER));
        let values = kept["MetricValues"].as_array().unwrap();
        if kept["Timestamp"].as_str() > report["Timestamp"].as_str() && values.len() == 1 {
            assert_eq!(values[0]["MetricProperty"], rack_temp.as_str());
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(40),
            "no report without the BMC: {kept}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
