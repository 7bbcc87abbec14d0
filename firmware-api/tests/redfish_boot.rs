//! The boot override of a BMC's server (`ComputerSystem.Boot`) against a
//! real BMC, OpenIPMI's `ipmi_sim`: what the node shows is what ipmitool
//! decodes from Get System Boot Options parameter 5, and a PATCH reaches
//! the BMC (ipmitool and the simulator's chassis hook see the new device).
//!
//! ipmi_sim 2.0.33 keeps only the device selector of the boot flags: it
//! answers byte 1 (valid, persistent, EFI) as 0 whatever was set. So the
//! test compares all three of our fields with ipmitool's decoding instead
//! of assuming what the simulator stores; the encoding of byte 1 is
//! covered by the ipmi crate's unit tests.

use serde_json::Value;

use crate::common::{request_with, request_with_body, Response, Server};
use crate::ipmi_support::SimBmc;
use opendcre_security::auth::{hash_token, HashAlgorithm};

const READER: &str = "odcre_boot-reader-0123456789abcdef";
const OPERATOR: &str = "odcre_boot-operator-0123456789abcdef";
const SYSTEM: &str = "/redfish/v1/Systems/40000000-0001";

/// A node on `sim`; its aggregates live in memory (the default file is the
/// machine's state directory, no place for a test's).
fn node(sim: &SimBmc) -> (Server, tempfile::TempDir) {
    Server::with_config(&format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n\
         [[ipmi.bmc]]\ndevice_id = 1\nip = \"127.0.0.1\"\nport = {}\nusername = \"ADMIN\"\n\
         password = \"ADMIN\"\ninterface = \"lanplus\"\ncipher_suite = 3\n\
         [manager]\naggregates = \"\"\n",
        crate::common::example("simple.json").display().to_string(),
        hash_token(READER, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
        sim.port
    ))
}

fn boot(s: &Server) -> Value {
    let auth = format!("Bearer {READER}");
    let r = request_with(&s.addr, "GET", SYSTEM, &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["Boot"].clone()
}

fn patch(s: &Server, path: &str, token: &str, body: &str) -> Response {
    patch_with(s, path, token, body, &[])
}

fn patch_with(s: &Server, path: &str, token: &str, body: &str, extra: &[(&str, &str)]) -> Response {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    request_with_body(&s.addr, "PATCH", path, &headers, body)
}

/// (target, enabled, mode) as ipmitool decodes parameter 5, in Redfish's
/// words.
fn ipmitool_boot(sim: &SimBmc) -> (String, String, String) {
    let out = sim.ipmitool(&["chassis", "bootparam", "get", "5"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "ipmitool: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let has = |s: &str| text.contains(s);
    let selector = text
        .lines()
        .find_map(|l| l.split_once("Boot Device Selector :"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| panic!("no selector in {text}"));
    let target = match selector.as_str() {
        "No override" => "None",
        "Force PXE" => "Pxe",
        "Force Boot from default Hard-Drive" => "Hdd",
        "Force Boot from CD/DVD" => "Cd",
        "Force Boot into BIOS Setup" => "BiosSetup",
        other => panic!("selector {other:?}"),
    };
    let enabled = match (has("Boot Flag Valid"), has("all future boots")) {
        (false, _) => "Disabled",
        (true, false) => "Once",
        (true, true) => "Continuous",
    };
    let mode = if has("BIOS EFI boot") {
        "UEFI"
    } else {
        "Legacy"
    };
    assert!(
        mode == "UEFI" || has("BIOS PC Compatible (legacy) boot"),
        "{text}"
    );
    (target.into(), enabled.into(), mode.into())
}

fn ours(b: &Value) -> (String, String, String) {
    let s = |k: &str| {
        b[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {b}"))
            .to_string()
    };
    (
        s("BootSourceOverrideTarget"),
        s("BootSourceOverrideEnabled"),
        s("BootSourceOverrideMode"),
    )
}

fn code(r: &Response) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn boot_override_reads_and_sets_the_bmc_boot_flags() {
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = node(&sim);

    let b = boot(&s);
    assert_eq!(
        b["BootSourceOverrideTarget@Redfish.AllowableValues"],
        serde_json::json!(["None", "Pxe", "Hdd", "Cd", "BiosSetup"])
    );
    assert_eq!(
        b["BootSourceOverrideEnabled@Redfish.AllowableValues"],
        serde_json::json!(["Disabled", "Once", "Continuous"])
    );
    assert_eq!(ours(&b), ipmitool_boot(&sim), "the start state");
    assert_eq!(
        ours(&b).0,
        "Hdd",
        "ipmi_sim starts at its default hard drive"
    );

    // Another console's change shows at the next GET (read live).
    assert!(sim
        .ipmitool(&["chassis", "bootdev", "cdrom"])
        .status
        .success());
    assert_eq!(ours(&boot(&s)).0, "Cd");

    // A reader may not change it; nothing reaches the BMC.
    let pxe_once =
        r#"{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}"#;
    let r = patch(&s, SYSTEM, READER, pxe_once);
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(code(&r), "Base.1.22.InsufficientPrivilege");
    assert_eq!(ipmitool_boot(&sim).0, "Cd");
    // Nor can a page of another site with an operator's credentials: a
    // PATCH is a write to the cross-site policy, like a reset.
    let r = patch_with(
        &s,
        SYSTEM,
        OPERATOR,
        pxe_once,
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(ipmitool_boot(&sim).0, "Cd");

    let r = patch(&s, SYSTEM, OPERATOR, pxe_once);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(ipmitool_boot(&sim).0, "Pxe", "ipmitool sees PXE");
    assert!(sim.calls().contains("set boot pxe"), "{}", sim.calls());
    assert_eq!(ours(&boot(&s)), ipmitool_boot(&sim));

    let r = patch(
        &s,
        SYSTEM,
        OPERATOR,
        r#"{"Boot":{"BootSourceOverrideTarget":"BiosSetup","BootSourceOverrideEnabled":"Continuous","BootSourceOverrideMode":"UEFI"}}"#,
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(ipmitool_boot(&sim).0, "BiosSetup");
    assert_eq!(ours(&boot(&s)), ipmitool_boot(&sim));

    // Bad values: 400 with the Base message, and the BMC keeps its flags.
    for (body, message) in [
        (
            r#"{"Boot":{"BootSourceOverrideTarget":"Usb"}}"#,
            "Base.1.22.PropertyValueNotInList",
        ),
        (
            r#"{"Boot":{"BootSourceOverrideEnabled":"Always"}}"#,
            "Base.1.22.PropertyValueNotInList",
        ),
        (
            r#"{"Boot":{"BootSourceOverrideMode":true}}"#,
            "Base.1.22.PropertyValueTypeError",
        ),
        (r#"{"Boot":{"BootNext":"x"}}"#, "Base.1.22.PropertyUnknown"),
        (r#"{"PowerState":"Off"}"#, "Base.1.22.PropertyNotWritable"),
        (r#"{"Boot":{}}"#, "Base.1.22.NoOperation"),
        ("{", "Base.1.22.MalformedJSON"),
    ] {
        let r = patch(&s, SYSTEM, OPERATOR, body);
        assert_eq!(
            r.status,
            400,
            "{body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(code(&r), message, "{body}");
    }
    assert_eq!(ipmitool_boot(&sim).0, "BiosSetup");

    let r = patch(
        &s,
        SYSTEM,
        OPERATOR,
        r#"{"Boot":{"BootSourceOverrideTarget":"None","BootSourceOverrideEnabled":"Disabled"}}"#,
    );
    assert_eq!(r.status, 204);
    assert_eq!(ipmitool_boot(&sim).0, "None");

    // An unknown BMC has no system. (A bus power device's PATCH is its
    // `AssetTag`, behind its ETag: tests/redfish_protocol.rs.)
    let r = patch(&s, "/redfish/v1/Systems/40000000-0002", OPERATOR, pxe_once);
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
}

/// The Chassis Identify calls the simulator's hook has seen, in order.
fn identify_calls(sim: &SimBmc) -> Vec<String> {
    sim.calls()
        .lines()
        .filter(|l| l.contains("set identify"))
        .map(str::to_string)
        .collect()
}

/// The simulator saw two identify calls: interval 0 with "force on",
/// then interval 0 alone (off).
fn assert_identify_on_then_off(sim: &SimBmc) {
    let calls = identify_calls(sim);
    assert_eq!(calls.len(), 2, "{}", sim.calls());
    assert!(calls[0].ends_with("set identify 0 1"), "{calls:?}");
    assert!(calls[1].ends_with("set identify 0 0"), "{calls:?}");
}

/// `LocationIndicatorActive` of a BMC's server is IPMI Chassis Identify:
/// force on, then off, each seen by the simulator's chassis hook. ipmi_sim
/// does not report the identify state in Get Chassis Status (its fourth
/// bit pair is optional), so the property stays out of the GET.
#[test]
fn location_indicator_is_chassis_identify() {
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = node(&sim);
    let r = patch(&s, SYSTEM, READER, r#"{"LocationIndicatorActive": true}"#);
    assert_eq!(r.status, 403);
    assert!(!sim.calls().contains("identify"), "{}", sim.calls());
    let r = patch(&s, SYSTEM, OPERATOR, r#"{"LocationIndicatorActive": true}"#);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let on = identify_calls(&sim);
    assert_eq!(on.len(), 1, "{}", sim.calls());
    let r = patch(
        &s,
        SYSTEM,
        OPERATOR,
        r#"{"LocationIndicatorActive": false}"#,
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_identify_on_then_off(&sim);
    let auth = format!("Bearer {READER}");
    let v = request_with(&s.addr, "GET", SYSTEM, &[("Authorization", &auth)]).json();
    assert!(v.get("LocationIndicatorActive").is_none(), "{v}");
    let r = patch(
        &s,
        SYSTEM,
        OPERATOR,
        r#"{"LocationIndicatorActive": "blink"}"#,
    );
    assert_eq!(code(&r), "Base.1.22.PropertyValueTypeError");
}

/// The server's chassis switches the same light, by `LocationIndicatorActive`
/// or the deprecated `IndicatorLED` that OpenRMC's usage guide ("Get state
/// of node LED") and Ansible's `IndicatorLedOn`/`Off` use: each a Chassis
/// Identify the simulator's hook sees.
#[test]
fn the_server_chassis_switches_its_identify_light() {
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = node(&sim);
    let chassis = "/redfish/v1/Chassis/40000000-0001";
    let auth = format!("Bearer {READER}");
    let r = request_with(&s.addr, "GET", chassis, &[("Authorization", &auth)]);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    assert!(
        r.json().get("IndicatorLED").is_none(),
        "ipmi_sim does not report it"
    );
    let r = patch(&s, chassis, READER, r#"{"IndicatorLED": "Lit"}"#);
    assert_eq!(r.status, 403);
    for (body, want) in [
        (r#"{"IndicatorLED": "Blinking"}"#, "PropertyValueNotInList"),
        (
            r#"{"IndicatorLED": "Lit", "LocationIndicatorActive": false}"#,
            "PropertyValueConflict",
        ),
        (r#"{"ChassisType": "Blade"}"#, "PropertyNotWritable"),
    ] {
        let r = patch(&s, chassis, OPERATOR, body);
        assert_eq!(code(&r), format!("Base.1.22.{want}"), "{body}");
    }
    assert!(!sim.calls().contains("identify"), "{}", sim.calls());
    let r = patch(&s, chassis, OPERATOR, r#"{"IndicatorLED": "Lit"}"#);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let r = patch(
        &s,
        chassis,
        OPERATOR,
        r#"{"LocationIndicatorActive": false}"#,
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_identify_on_then_off(&sim);
}

/// `Aggregate.SetDefaultBootOrder` (OpenRMC usage guide "Set boot order
/// of aggregate to default"): every BMC server of the group boots as its
/// BIOS is configured again — ipmitool sees the override gone.
#[test]
fn an_aggregates_default_boot_order_clears_the_override_on_the_bmc() {
    let Some(sim) = SimBmc::start() else { return };
    let (s, _cfg) = node(&sim);
    let out = sim.ipmitool(&["chassis", "bootdev", "pxe"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ipmitool_boot(&sim).0, "Pxe");
    let post = |token: &str, path: &str, body: &str| {
        let auth = format!("Bearer {token}");
        request_with_body(
            &s.addr,
            "POST",
            path,
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    };
    let r = post(
        OPERATOR,
        "/redfish/v1/AggregationService/Aggregates",
        &format!(r#"{{"Name": "row 1 servers", "Elements": ["{SYSTEM}"]}}"#),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let action = r.json()["Actions"]["#Aggregate.SetDefaultBootOrder"]["target"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(READER, &action, "{}");
    assert_eq!(r.status, 403);
    assert_eq!(ipmitool_boot(&sim).0, "Pxe", "a reader changes nothing");
    let r = post(OPERATOR, &action, "");
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        ipmitool_boot(&sim),
        ("None".into(), "Disabled".into(), "Legacy".into())
    );
    assert_eq!(ours(&boot(&s)).0, "None");
}
