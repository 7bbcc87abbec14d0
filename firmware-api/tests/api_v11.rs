//! The v1.1 REST API end to end: the real binary, the built-in emulator on a
//! real pty, HTTP from the outside. Expected values come from the spec
//! (§2.3, §4) and the emulator config in `tests/data/v11-cases.json`.

use crate::common;

use common::{data, example, Server};
use serde_json::json;

fn cases() -> Server {
    Server::start(&data("v11-cases.json"), &[])
}

#[test]
fn test_endpoint_methods_and_cors() {
    let s = cases();
    let r = s.get("/opendcre/1.1/test");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"status": "ok"}));
    // No CORS unless configured (the original's nginx sent `*`).
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(s.request("POST", "/opendcre/1.1/test").status, 200);
    let r = s.request("HEAD", "/opendcre/1.1/test");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let r = s.request("DELETE", "/opendcre/1.1/test");
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("POST"));
    assert_eq!(r.json()["http_code"], 405);
    assert_eq!(s.request("POST", "/opendcre/1.1/scan").status, 405);
    let r = s.request("OPTIONS", "/opendcre/1.1/scan");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn unknown_routes_are_404_and_bad_escapes_400() {
    let s = cases();
    for p in [
        "/",
        "/opendcre/1.1/",
        "/opendcre/1.1/scan/",
        "/opendcre/1.1/version/",
        "/opendcre/1.0/test",
        "/opendcre/1.1/read/thermistor/1",
        "/opendcre/1.1/power/on/1",
    ] {
        let r = s.get(p);
        assert_eq!(r.status, 404, "{p}");
        assert_eq!(r.json()["http_code"], 404, "{p}");
        assert_eq!(r.header("access-control-allow-origin"), None);
    }
    assert_eq!(s.get("/opendcre/1.1/scan/%").status, 400);
    // Merged slashes and escapes reach the same handler, as behind nginx.
    assert_eq!(s.get("/opendcre//1.1///test").status, 200);
    assert_eq!(s.get("/opendcre/1.1/%74est").status, 200);
    // `//` collapses, so this is an ordinary v1.1 read (the spec's 404 case is v1.3's rack segment).
    assert_eq!(
        s.get("/opendcre/1.1/read/thermistor//00000001/01ff").json()["device_raw"],
        656
    );
}

#[test]
fn version() {
    let s = cases();
    let want = json!({"firmware_version": "OpenDCRE Test Board v1.1", "opendcre_version": "1.1.1", "api_version": "1.1"});
    for id in ["1", "00000001", "0000000000001", "0x1", "%201"] {
        let r = s.get(&format!("/opendcre/1.1/version/{id}"));
        assert_eq!(r.status, 200, "{id}");
        assert_eq!(r.json(), want, "{id}");
    }
    let r = s.get("/opendcre/1.1/version/40000000");
    assert_eq!(r.json()["firmware_version"], "OpenDCRE IPMI Bridge 1.1.1");
    // Malformed firmware answer, absent board, bad ids: all 500 with a reason.
    let r = s.get("/opendcre/1.1/version/2");
    assert_eq!(r.status, 500);
    assert!(r.message().contains("board 00000002"), "{}", r.message());
    let r = s.get("/opendcre/1.1/version/9");
    assert_eq!(r.status, 500);
    assert!(
        r.message().contains("no answer from board 00000009"),
        "{}",
        r.message()
    );
    for bad in ["zz", "100000000", "-1"] {
        let r = s.get(&format!("/opendcre/1.1/version/{bad}"));
        assert_eq!(r.status, 500, "{bad}");
        assert!(r.message().contains("board id"), "{}", r.message());
    }
}

#[test]
fn scan_single_boards() {
    let s = cases();
    let r = s.get("/opendcre/1.1/scan/1");
    assert_eq!(r.status, 200);
    let boards = r.json()["boards"].clone();
    assert_eq!(boards.as_array().unwrap().len(), 1);
    assert_eq!(boards[0]["board_id"], "00000001");
    let devices = boards[0]["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 12);
    assert_eq!(
        devices[0],
        json!({"device_id": "01ff", "device_type": "thermistor"})
    );
    assert_eq!(
        devices[1],
        json!({"device_id": "02ff", "device_type": "none"})
    );
    assert_eq!(
        devices[5],
        json!({"device_id": "06ff", "device_type": "humidity"})
    );
    assert_eq!(
        devices[8],
        json!({"device_id": "0dff", "device_type": "power"})
    );
    // The answer's board id is reported, not the requested one (spec: scan/00000063).
    let r = s.get("/opendcre/1.1/scan/00000063");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"boards": [{"board_id": "0101ff1f", "devices": [{"device_id": "2021", "device_type": "none"}]}]})
    );
    // Bad trailer: retried, still corrupt → 500.
    let r = s.get("/opendcre/1.1/scan/00000064");
    assert_eq!(r.status, 500);
    assert!(r.message().contains("corrupt"), "{}", r.message());
    // Board without devices / absent board: no answer → 500.
    assert_eq!(s.get("/opendcre/1.1/scan/2").status, 500);
    assert_eq!(s.get("/opendcre/1.1/scan/77").status, 500);
    let r = s.get("/opendcre/1.1/scan/40000000");
    assert_eq!(
        r.json(),
        json!({"boards": [{"board_id": "40000000", "devices": []}]})
    );
}

#[test]
fn scan_all_lists_every_board_then_the_ipmi_board() {
    let s = Server::start(&example("rack.json"), &[]);
    let r = s.get("/opendcre/1.1/scan");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let boards = r.json()["boards"].as_array().unwrap().clone();
    assert!(boards.len() >= 3, "{boards:?}");
    assert_eq!(boards.last().unwrap()["board_id"], "40000000");
    for b in &boards[..boards.len() - 1] {
        let id = b["board_id"].as_str().unwrap();
        assert_eq!(id.len(), 8);
        assert!(!b["devices"].as_array().unwrap().is_empty());
        // Each board's own scan reports the same devices.
        let single = s.get(&format!("/opendcre/1.1/scan/{id}")).json();
        assert_eq!(single["boards"][0], *b);
    }
    // A rack with a corrupt board: scan-all retries, then fails clearly.
    let s = cases();
    let r = s.get("/opendcre/1.1/scan");
    assert_eq!(r.status, 500);
    assert!(r.message().contains("corrupt"), "{}", r.message());
}

#[test]
fn read_thermistor_and_raw_devices() {
    let s = cases();
    let r = s.get("/opendcre/1.1/read/thermistor/1/01ff");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"device_raw": 656, "temperature_c": 28.78}));
    let r = s.get("/opendcre/1.1/read/THERMISTOR/00000001/1FF");
    assert_eq!(r.json(), json!({"device_raw": 745, "temperature_c": 20.02}));
    let r = s.get("/opendcre/1.1/read/Thermistor/0x1/0x01ff");
    assert_eq!(r.json(), json!({"device_raw": 746, "temperature_c": 20.91}));
    // v1.1 converts only thermistors.
    let r = s.get("/opendcre/1.1/read/humidity/1/06ff");
    assert_eq!(r.json(), json!({"device_raw": 1486313281}));
}

#[test]
fn read_failures_are_500_with_a_reason() {
    let s = cases();
    let cases = [
        ("/opendcre/1.1/read/none/1/02ff", "not an integer"),
        ("/opendcre/1.1/read/thermistor/1/03ff", "no answer"),
        ("/opendcre/1.1/read/thermistor/1/04ff", "not an integer"),
        ("/opendcre/1.1/read/thermistor/1/05ff", "out of range"),
        ("/opendcre/1.1/read/thermistor/1/08ff", "checksum"),
        // Wrong type for the device: the board stays silent.
        ("/opendcre/1.1/read/none/1/01ff", "no answer"),
        ("/opendcre/1.1/read/thermistor/1/10000", "device id"),
        ("/opendcre/1.1/read/thermistor/xyz/01ff", "board id"),
    ];
    for (path, reason) in cases {
        let r = s.get(path);
        assert_eq!(r.status, 500, "{path}");
        assert!(r.message().contains(reason), "{path}: {}", r.message());
    }
}

#[test]
fn corrupt_answer_is_recovered_by_retry() {
    let s = cases();
    let r = s.get("/opendcre/1.1/read/thermistor/1/07ff");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), json!({"device_raw": 700, "temperature_c": 24.45}));
}

#[test]
fn power_actions_decode_pmbus_status() {
    let s = cases();
    let r = s.get("/opendcre/1.1/power/status/1/0dff");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"pmbus_raw": "0,0,0,0", "power_status": "on", "power_ok": true, "over_current": false,
               "under_voltage": false, "input_power": 0.0, "input_voltage": 0.0, "output_current": -25.70631970260223})
    );
    let r = s.get("/opendcre/1.1/power/OFF/1/0eff");
    assert_eq!(r.json()["power_status"], "off");
    assert_eq!(r.json()["pmbus_raw"], "64,0,0,0");
    let r = s.get("/opendcre/1.1/power/cycle/1/0fff");
    assert_eq!(
        r.json(),
        json!({"pmbus_raw": "2072,100,1000,2500", "power_status": "on", "power_ok": false, "over_current": true,
               "under_voltage": true, "input_power": 1.6548072149594573, "input_voltage": 5.208604614823688,
               "output_current": 5.272614622057001})
    );
    assert_eq!(
        s.get("/opendcre/1.1/power/on/1/0dff").json()["power_status"],
        "on"
    );
    let r = s.get("/opendcre/1.1/power/status/1/10ff");
    assert_eq!(r.status, 500);
    assert!(r.message().contains("4 comma-separated"), "{}", r.message());
    let r = s.get("/opendcre/1.1/power/reboot/1/0dff");
    assert_eq!(r.status, 500);
    assert!(r.message().contains("power action"), "{}", r.message());
    let r = s.get("/opendcre/1.1/power/status/40000000/0001");
    assert_eq!(r.status, 500);
    assert!(r.message().contains("BMC"), "{}", r.message());
}

#[test]
fn asset_info_read_write_and_bare_write() {
    let s = cases();
    let r = s.get("/opendcre/1.1/read/power/1/0dff/info");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"board_id": "00000001", "device_id": "0dff", "asset_info": "rack 1 slot 13"})
    );
    let r = s.get("/opendcre/1.1/write/power/0000001/DFF/info/row%204%2C%20rack%202");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"board_id": "00000001", "device_id": "0dff", "asset_info": "row 4, rack 2"})
    );
    assert_eq!(
        s.get("/opendcre/1.1/read/power/1/0dff/info").json()["asset_info"],
        "row 4, rack 2"
    );
    // Cut to 127 characters, as the original did.
    let long = "a".repeat(200);
    let r = s.get(&format!("/opendcre/1.1/write/power/1/0dff/info/{long}"));
    assert_eq!(r.json()["asset_info"].as_str().unwrap().len(), 127);
    // The type must be exactly "power".
    for p in [
        "/opendcre/1.1/read/thermistor/1/0dff/info",
        "/opendcre/1.1/read/Power/1/0dff/info",
        "/opendcre/1.1/write/led/1/0dff/info/x",
    ] {
        assert_eq!(s.get(p).status, 500, "{p}");
    }
    assert_eq!(s.get("/opendcre/1.1/write/power/1/0dff").status, 501);
    assert_eq!(s.get("/opendcre/1.1/write/anything/zz/yy").status, 501);
    assert_eq!(
        s.get("/opendcre/1.1/read/power/40000000/0001/info").status,
        500
    );
}

#[test]
fn concurrent_clients_never_see_interleaved_answers() {
    let s = cases();
    let addr = s.addr.clone();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                for _ in 0..8 {
                    let (path, want) = if i % 2 == 0 {
                        (
                            "/opendcre/1.1/read/humidity/1/06ff",
                            json!({"device_raw": 1486313281}),
                        )
                    } else {
                        ("/opendcre/1.1/power/status/1/0eff", json!("64,0,0,0"))
                    };
                    let r = common::request(&addr, "GET", path);
                    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                    let got = r.json();
                    if i % 2 == 0 {
                        assert_eq!(got, want);
                    } else {
                        assert_eq!(got["pmbus_raw"], want);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let s = cases();
    assert_eq!(s.get("/opendcre/1.1/test").status, 200);
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
}

/// The OpenAPI document (issue 18) is served beside v1.1, as written: the
/// file `opendcre_api::openapi::DOCUMENT` embeds, as JSON, to readers.
#[test]
fn openapi_document_is_served() {
    let s = cases();
    let r = s.get("/opendcre/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, opendcre_api::openapi::DOCUMENT.as_bytes());
    assert_eq!(r.json()["openapi"], "3.1.0");
    let r = s.request("HEAD", "/opendcre/openapi.json");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let r = s.request("POST", "/opendcre/openapi.json");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(s.get("/opendcre/1.1/openapi.json").status, 404);
}
