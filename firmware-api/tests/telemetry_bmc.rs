//! BMC telemetry end to end (issue 15, docs/metrics.md "BMCs"): the real
//! binary with its poller on and a `[[ipmi.bmc]]` entry for a real `ipmi_sim`
//! on loopback. `/metrics` must agree with the v1.1 API's power status, follow
//! a power action made through v1.1, and report the BMC down once the
//! simulator is gone.

use std::time::{Duration, Instant};

use crate::common::{example, Server};
use crate::ipmi_support::SimBmc;

/// The BMC's v1.1 device id, and the `bmc` label it gets.
const BMC: &str = "0001";
/// `[telemetry.interval_secs] bmc`: every second.
const INTERVAL: Duration = Duration::from_secs(1);

fn server_for(sim: &SimBmc) -> (Server, tempfile::TempDir) {
    Server::with_config(&format!(
        r#"
[emulator]
config = "{}"

[telemetry.interval_secs]
bmc = {}

[[ipmi.bmc]]
device_id = 1
ip = "127.0.0.1"
port = {}
username = "ADMIN"
password = "ADMIN"
interface = "lanplus"
cipher_suite = 3
timeout_ms = 300
retries = 1
power_wait_ms = 5000
"#,
        example("rack.json").display(),
        INTERVAL.as_secs(),
        sim.port
    ))
}

/// The value of `name{…bmc="0001"…}` in a scrape, if the series is there.
fn bmc_series(s: &Server, name: &str) -> Option<f64> {
    let r = s.get("/metrics");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let text = String::from_utf8(r.body).unwrap();
    let label = format!("bmc=\"{BMC}\"");
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))?;
    assert!(
        line.contains("host=\"127.0.0.1\""),
        "the host label is the BMC's address: {line}"
    );
    line.rsplit(' ').next()?.parse().ok()
}

/// Scrapes until `name` has the value `want`, within `polls` poll intervals
/// (plus the IPMI session's own time); panics with the last value otherwise.
fn wait_for(s: &Server, name: &str, want: f64, polls: u32) {
    let deadline = Instant::now() + INTERVAL * polls + Duration::from_secs(5);
    loop {
        let got = bmc_series(s, name);
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} for bmc {BMC} is {got:?}, not {want}, after {polls} poll intervals"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The v1.1 API's answer for the BMC's power: true = on.
fn v11_power_on(s: &Server) -> bool {
    let r = s.get(&format!("/opendcre/1.1/power/status/40000000/{BMC}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    match r.json()["power_status"].as_str() {
        Some("on") => true,
        Some("off") => false,
        other => panic!("power_status {other:?}"),
    }
}

fn gauge(on: bool) -> f64 {
    if on {
        1.0
    } else {
        0.0
    }
}

#[test]
fn bmc_metrics_follow_the_simulated_bmc() {
    let Some(sim) = SimBmc::start() else { return };
    let (s, _dir) = server_for(&sim);

    // Up, and the same power state the v1.1 API reads live.
    wait_for(&s, "opendcre_bmc_up", 1.0, 3);
    let on = v11_power_on(&s);
    assert!(on, "the simulator starts powered on");
    wait_for(&s, "opendcre_bmc_power_on", gauge(on), 3);

    // A power action through v1.1: the metric follows within a few polls.
    let r = s.get(&format!("/opendcre/1.1/power/off/40000000/{BMC}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["power_status"], "off");
    assert!(!sim.ipmitool_power(), "ipmitool must see the chassis off");
    wait_for(&s, "opendcre_bmc_power_on", gauge(v11_power_on(&s)), 3);
    assert_eq!(bmc_series(&s, "opendcre_bmc_power_on"), Some(0.0));
    assert_eq!(bmc_series(&s, "opendcre_bmc_up"), Some(1.0));

    // The HTTP metrics count the status reads apart from the action
    // (docs/metrics.md; the unexpected-power-change alert counts actions).
    let text = String::from_utf8(s.get("/metrics").body).unwrap();
    let requests = |route: &str| -> f64 {
        let head = format!(
            "opendcre_http_requests_total{{route=\"{route}\",method=\"GET\",status=\"200\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&head))
            .unwrap_or_else(|| panic!("no {head}in\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(requests("power"), 1.0, "the one power/off");
    assert_eq!(requests("power_status"), 2.0, "the two power/status reads");

    // The readings API says the same.
    let readings = s.get("/opendcre/2/readings").json();
    let bmc = &readings["bmcs"][0];
    assert_eq!(bmc["bmc"], BMC, "{readings}");
    assert_eq!(bmc["up"], true, "{readings}");
    assert_eq!(bmc["power_on"], false, "{readings}");

    // The BMC goes away: down within a few polls (each failed poll waits
    // out the session's timeouts first).
    sim.stop();
    wait_for(&s, "opendcre_bmc_up", 0.0, 5);
    let readings = s.get("/opendcre/2/readings").json();
    let bmc = &readings["bmcs"][0];
    assert_eq!(bmc["up"], false, "{readings}");
    assert!(
        bmc["error"].is_string(),
        "the failure is reported: {readings}"
    );
}
