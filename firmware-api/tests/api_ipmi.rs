//! The IPMI board of the v1.1 API end to end: the real binary configured with
//! a `[[ipmi.bmc]]` entry for a real `ipmi_sim` on loopback; ipmitool confirms
//! that what the API reports is what the simulated BMC holds.

use crate::common;
use crate::ipmi_support;

use common::{example, Server};
use ipmi_support::SimBmc;
use serde_json::json;

fn server_for(sim: &SimBmc) -> (Server, tempfile::TempDir) {
    Server::with_config(&format!(
        r#"
[emulator]
config = "{}"

[[ipmi.bmc]]
device_id = 1
ip = "127.0.0.1"
port = {}
username = "ADMIN"
password = "ADMIN"
interface = "lanplus"
cipher_suite = 3
asset_info = "web-01, rack 4 slot 12"
"#,
        example("rack.json").display(),
        sim.port
    ))
}

#[test]
fn ipmi_board_scan_power_and_asset_info() {
    let Some(sim) = SimBmc::start() else { return };
    let (s, _dir) = server_for(&sim);

    let r = s.get("/opendcre/1.1/scan/40000000");
    assert_eq!(
        r.json(),
        json!({"boards": [{"board_id": "40000000", "devices": [{"device_id": "0001", "device_type": "power"}]}]})
    );
    let all = s.get("/opendcre/1.1/scan").json();
    assert_eq!(
        all["boards"].as_array().unwrap().last().unwrap()["devices"][0]["device_id"],
        "0001"
    );

    let r = s.get("/opendcre/1.1/power/off/40000000/0001");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = r.json();
    assert_eq!(body["power_status"], "off");
    assert_eq!(
        body["pmbus_raw"], 0,
        "v1.1 reports an integer 0 for IPMI power"
    );
    assert!(!sim.ipmitool_power(), "ipmitool must see the chassis off");

    let r = s.get("/opendcre/1.1/power/on/40000000/1");
    assert_eq!(r.json()["power_status"], "on");
    assert!(sim.ipmitool_power());
    let r = s.get("/opendcre/1.1/power/status/40000000/0001");
    assert_eq!(r.json()["power_status"], "on");
    assert_eq!(r.json()["power_ok"], true);

    let r = s.get("/opendcre/1.1/read/power/40000000/0001/info");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["asset_info"], "web-01, rack 4 slot 12");
    assert_eq!(r.json()["bmc_ip"], "127.0.0.1");
    assert_eq!(r.json()["board_id"], "40000000");

    let r = s.get("/opendcre/1.1/power/status/40000000/0002");
    assert_eq!(r.status, 500);
    assert!(r.message().contains("0002"), "{}", r.message());
    assert_eq!(
        s.get("/opendcre/1.1/write/power/40000000/0001/info/x")
            .status,
        500
    );
}
