//! The manager's own resources in the real binary: its network interfaces
//! compared with what `ip -j addr` (netlink, a different path into the
//! kernel than the node's sysfs/procfs/getifaddrs reading) and sysfs say
//! of the test machine at the same moment; `Manager.Reset`, which writes
//! the restart request the image's `opendcre-reboot.path` acts on.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::common::Server;
use crate::redfish::{error_code, get, get_ok, send, stateful_node, OPERATOR, RACK, READER};
use opendcre_security::auth::{hash_token, HashAlgorithm};

const IFS: &str = "/redfish/v1/Managers/RackManager/EthernetInterfaces";

/// `ip -j addr`: every interface with its addresses. iproute2 is in
/// ci/install-test-deps.sh; without it this test fails rather than passes
/// on nothing.
fn ip_addr() -> Vec<Value> {
    let out = Command::new("ip")
        .args(["-j", "addr", "show"])
        .output()
        .expect("ip(8) from iproute2 (ci/install-test-deps.sh)");
    assert!(out.status.success(), "ip -j addr: {:?}", out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn addresses(i: &Value, family: &str) -> BTreeSet<String> {
    i["addr_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["family"] == family)
        .map(|a| a["local"].as_str().unwrap().to_string())
        .collect()
}

fn ours(v: &Value, key: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Address"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ethernet_interfaces_are_the_machines() {
    let (s, _cfg, _dir) = stateful_node();
    let manager = get_ok(&s, "/redfish/v1/Managers/RackManager", Some(READER));
    assert_eq!(manager["EthernetInterfaces"]["@odata.id"], IFS);

    let kernel = ip_addr();
    let names: BTreeSet<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "lo")
        .collect();
    assert!(
        !names.is_empty(),
        "the test machine has no network interface but lo"
    );

    let c = get_ok(&s, IFS, Some(READER));
    let members: BTreeSet<String> = c["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let uri = m["@odata.id"].as_str().unwrap();
            uri.strip_prefix(&format!("{IFS}/")).unwrap().to_string()
        })
        .collect();
    assert_eq!(members, names, "one member per interface but lo");
    assert_eq!(c["Members@odata.count"], names.len());

    for name in &names {
        let v = get_ok(&s, &format!("{IFS}/{name}"), Some(READER));
        let k = kernel
            .iter()
            .find(|i| i["ifname"] == name.as_str())
            .unwrap_or_else(|| panic!("ip shows no {name}"));
        assert_eq!(v["Id"], name.as_str());
        assert_eq!(v["MTUSize"], k["mtu"], "{name}");
        let mac = k["address"].as_str().unwrap_or("").to_ascii_uppercase();
        if mac.len() == 17 {
            assert_eq!(v["MACAddress"], mac.as_str(), "{name}");
        }
        let up = k["flags"].as_array().unwrap().iter().any(|f| f == "UP");
        assert_eq!(v["InterfaceEnabled"], up, "{name}");
        assert_eq!(ours(&v, "IPv4Addresses"), addresses(k, "inet"), "{name}");
        assert_eq!(ours(&v, "IPv6Addresses"), addresses(k, "inet6"), "{name}");
        let speed = std::fs::read_to_string(format!("/sys/class/net/{name}/speed"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        assert_eq!(v["SpeedMbps"], serde_json::json!(speed), "{name}");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(v["HostName"], host.trim(), "{name}");
    }

    let missing = get(&s, &format!("{IFS}/no-such-if0"), Some(READER));
    assert_eq!(missing.status, 404);
    assert_eq!(get(&s, IFS, None).status, 401, "not public");
}

const RESET: &str = "/redfish/v1/Managers/RackManager/Actions/Manager.Reset";

#[test]
fn manager_reset_writes_the_restart_request_after_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let request = dir.path().join("reboot-request");
    let (s, _cfg) = Server::with_config(&format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [event_log]\npath = {:?}\n\
         [manager]\nreset_enabled = true\nreboot_request = {:?}\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n",
        rack.display().to_string(),
        dir.path().join("events.jsonl").display().to_string(),
        request.display().to_string(),
        hash_token(READER, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
    ));
    let m = get_ok(&s, "/redfish/v1/Managers/RackManager", Some(READER));
    assert_eq!(m["Actions"]["#Manager.Reset"]["target"], RESET);
    let r = send(&s, "POST", RESET, READER, "{}", &[]);
    assert_eq!(r.status, 403);
    let r = send(
        &s,
        "POST",
        RESET,
        OPERATOR,
        r#"{"ResetType": "ForceRestart"}"#,
        &[],
    );
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (400, "Base.1.22.ActionParameterValueNotInList")
    );
    assert!(!request.exists(), "nothing requested yet");
    let r = send(
        &s,
        "POST",
        RESET,
        OPERATOR,
        r#"{"ResetType": "GracefulRestart"}"#,
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.message());
    assert!(std::fs::read_to_string(&request)
        .unwrap()
        .contains("requested by operator"));
    // The entry is in the file already, not only in memory.
    let file = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(file.contains("\"ManagerReset\""), "{file}");
}

#[test]
fn manager_reset_off_is_a_disabled_service() {
    let (s, _cfg, _dir) = stateful_node();
    let r = send(&s, "POST", RESET, OPERATOR, "", &[]);
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (503, "Base.1.22.ServiceDisabled")
    );
}
