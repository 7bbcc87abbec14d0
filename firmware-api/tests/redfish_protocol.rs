//! Redfish query parameters (`$filter`, `$expand`, `$select`, `$top`,
//! `$skip`, `only`) and
//! `PATCH` with `ETag`/`If-Match`, in the real binary on the emulator; the
//! written asset tag checked through the v1.1 API.

use serde_json::{json, Value};

use crate::redfish::{
    constant_rack, error_code, get, get_ok, log_message_ids, member_ids, node, reset, send,
    stateful_node, OPERATOR, READER,
};

/// A sensor without the time of its read (two reads differ only there).
fn timeless(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("ReadingTime");
    }
    v
}

#[test]
fn expanded_sensors_are_their_own_gets() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _cfg) = node(&constant_rack(dir.path()));
    let sensors = "/redfish/v1/Chassis/00000001/Sensors";
    let plain = get_ok(&s, sensors, Some(READER));
    let expanded = get_ok(&s, &format!("{sensors}?$expand=."), Some(READER));
    assert_eq!(
        expanded["Members@odata.count"],
        plain["Members@odata.count"]
    );
    let members = expanded["Members"].as_array().unwrap();
    assert_eq!(members.len(), 10);
    for (m, link) in members.iter().zip(plain["Members"].as_array().unwrap()) {
        let uri = link["@odata.id"].as_str().unwrap();
        assert_eq!(m["@odata.id"], uri);
        assert_eq!(m["@odata.type"], "#Sensor.v1_12_0.Sensor");
        assert_eq!(
            timeless(m),
            timeless(&get_ok(&s, uri, Some(READER))),
            "{uri}"
        );
    }

    // Two levels: the chassis' Sensors, then each sensor in it; `Links`
    // (the rack) stay links with `.`, only they are expanded with `~`.
    let chassis = "/redfish/v1/Chassis/00000001";
    let two = get_ok(&s, &format!("{chassis}?$expand=.($levels=2)"), Some(READER));
    assert_eq!(two["Sensors"]["Members"].as_array().unwrap().len(), 10);
    assert_eq!(two["Sensors"]["Members"][0]["ReadingUnits"], "Cel");
    assert_eq!(
        two["Links"]["ContainedBy"],
        serde_json::json!({ "@odata.id": "/redfish/v1/Chassis/Rack" })
    );
    let one = get_ok(&s, &format!("{chassis}?%24expand=."), Some(READER));
    assert_eq!(
        one["Sensors"]["Members"][0],
        serde_json::json!({ "@odata.id": "/redfish/v1/Chassis/00000001/Sensors/01ff-Temperature" }),
        "one level by default"
    );
    let links = get_ok(&s, &format!("{chassis}?$expand=~"), Some(READER));
    assert_eq!(links["Links"]["ContainedBy"]["ChassisType"], "Rack");
    assert!(links["Sensors"].get("Members").is_none());
    let all = get_ok(&s, &format!("{chassis}?$expand=*"), Some(READER));
    assert_eq!(all["Links"]["ContainedBy"]["ChassisType"], "Rack");
    assert_eq!(all["Sensors"]["Members@odata.count"], 10);

    // The service root is answered without authentication (DSP0266), so
    // its expansion holds only what is public: the collections stay links.
    for token in [None, Some(READER)] {
        let root = get_ok(&s, "/redfish/v1?$expand=*", token);
        assert_eq!(
            root["Chassis"],
            serde_json::json!({ "@odata.id": "/redfish/v1/Chassis" })
        );
    }
    let chassis_all = get_ok(&s, "/redfish/v1/Chassis?$expand=.", Some(READER));
    assert_eq!(chassis_all["Members"][0]["ChassisType"], "Rack");

    // $select keeps the identity and the named properties.
    let sel = get_ok(
        &s,
        &format!("{sensors}/06ff-Fan?$select=Reading,Status/Health"),
        Some(READER),
    );
    let keys: Vec<&String> = sel.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "@odata.context",
            "@odata.id",
            "@odata.type",
            "Reading",
            "Status"
        ]
    );
    assert_eq!(sel["Reading"], 4100.0);
    assert_eq!(sel["Status"], serde_json::json!({ "Health": "OK" }));
    let root = get_ok(&s, "/redfish/v1", None);
    assert_eq!(
        root["ProtocolFeaturesSupported"]["ExpandQuery"],
        serde_json::json!({ "ExpandAll": true, "Levels": true, "Links": true, "NoLinks": true, "MaxLevels": 3 })
    );
    assert_eq!(root["ProtocolFeaturesSupported"]["SelectQuery"], true);
    assert_eq!(root["ProtocolFeaturesSupported"]["TopSkipQuery"], true);
}

#[test]
fn top_and_skip_page_with_next_links_and_bad_values_are_400s() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _cfg) = node(&constant_rack(dir.path()));
    let sensors = "/redfish/v1/Chassis/00000001/Sensors";
    let all: Vec<Value> = get_ok(&s, sensors, Some(READER))["Members"]
        .as_array()
        .unwrap()
        .clone();
    let mut paged = Vec::new();
    let mut next = Some(format!("{sensors}?$top=4"));
    let mut pages = 0;
    while let Some(uri) = next {
        let page = get_ok(&s, &uri, Some(READER));
        assert_eq!(page["Members@odata.count"], 10, "the collection's size");
        paged.extend(page["Members"].as_array().unwrap().iter().cloned());
        next = page["Members@odata.nextLink"].as_str().map(str::to_string);
        pages += 1;
        assert!(pages <= 3, "{next:?}");
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, all);
    let skipped = get_ok(&s, &format!("{sensors}?$skip=8&$expand=."), Some(READER));
    assert_eq!(skipped["Members"].as_array().unwrap().len(), 2);
    assert_eq!(
        skipped["Members"][1]["Id"],
        all[9]["@odata.id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
    );
    assert!(skipped.get("Members@odata.nextLink").is_none());

    for (query, status, code) in [
        ("$top=-1", 400, "QueryParameterOutOfRange"),
        ("$top=x", 400, "QueryParameterValueFormatError"),
        ("$skip=1.5", 400, "QueryParameterValueFormatError"),
        ("$expand=*($levels=99)", 400, "QueryParameterOutOfRange"),
        ("$expand=all", 400, "QueryParameterValueFormatError"),
        ("$select=", 400, "QueryParameterValueFormatError"),
        ("$filter=Id%20eq", 400, "QueryParameterValueFormatError"),
        ("$orderby=Id", 501, "QueryNotSupported"),
    ] {
        let r = get(&s, &format!("{sensors}?{query}"), Some(READER));
        assert_eq!(r.status, status, "{query}");
        assert_eq!(error_code(&r), format!("Base.1.22.{code}"), "{query}");
    }
    let r = get(&s, "/redfish/v1/Chassis/00000001?$top=1", Some(READER));
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.QueryNotSupportedOnResource");
}

/// A `$filter` expression as it goes in a URI.
fn filter(expr: &str) -> String {
    format!("$filter={}", expr.replace(' ', "%20").replace('\'', "%27"))
}

#[test]
fn filter_keeps_the_members_that_match_and_pages_them() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _cfg) = node(&constant_rack(dir.path()));
    let sensors = "/redfish/v1/Chassis/00000001/Sensors";
    let every = get_ok(&s, &format!("{sensors}?$expand=."), Some(READER));
    let every = every["Members"].as_array().unwrap();
    // What each filter must keep, judged here on the expanded collection.
    let ids = |keep: &dyn Fn(&Value) -> bool| -> Vec<String> {
        every
            .iter()
            .filter(|m| keep(m))
            .map(|m| m["@odata.id"].as_str().unwrap().to_string())
            .collect()
    };
    let temperatures = ids(&|m| m["ReadingType"] == "Temperature");
    assert!(
        !temperatures.is_empty() && temperatures.len() < every.len(),
        "the example board has temperatures and other sensors"
    );
    for (expr, want) in [
        ("ReadingType eq 'Temperature'", temperatures.clone()),
        (
            "not (ReadingType eq 'Temperature')",
            ids(&|m| m["ReadingType"] != "Temperature"),
        ),
        (
            "ReadingType eq 'Temperature' and Reading gt 25",
            ids(&|m| m["ReadingType"] == "Temperature" && m["Reading"].as_f64().unwrap() > 25.0),
        ),
        (
            "ReadingType eq 'Rotational' or Status/Health ne 'OK'",
            ids(&|m| m["ReadingType"] == "Rotational" || m["Status"]["Health"] != "OK"),
        ),
        ("ReadingType eq 'NoSuchType'", Vec::new()),
        ("Absent eq null", ids(&|_| true)),
    ] {
        let v = get_ok(&s, &format!("{sensors}?{}", filter(expr)), Some(READER));
        assert_eq!(member_ids(&v), want, "{expr}");
        assert_eq!(
            v["Members@odata.count"],
            want.len(),
            "{expr}: the members kept"
        );
    }

    // Filtered first, then paged: the next links carry the filter.
    let mut next = Some(format!(
        "{sensors}?{}&$top=1&$expand=.",
        filter("ReadingType eq 'Temperature'")
    ));
    let mut paged = Vec::new();
    while let Some(uri) = next {
        let page = get_ok(&s, &uri, Some(READER));
        assert_eq!(page["Members@odata.count"], temperatures.len());
        for m in page["Members"].as_array().unwrap() {
            assert_eq!(m["ReadingType"], "Temperature", "expanded, and filtered");
            paged.push(m["@odata.id"].as_str().unwrap().to_string());
        }
        next = page["Members@odata.nextLink"].as_str().map(str::to_string);
        assert!(paged.len() <= temperatures.len(), "{next:?}");
    }
    assert_eq!(paged, temperatures);

    for (query, status, code) in [
        (
            "$filter=ReadingType%20eq",
            400,
            "QueryParameterValueFormatError",
        ),
        (
            "$filter=(Id%20eq%20'x'",
            400,
            "QueryParameterValueFormatError",
        ),
        (
            "$filter=contains(Id,'x')",
            400,
            "QueryParameterValueFormatError",
        ),
        (
            "$filter=Id%20eq%20'a'&$filter=Id%20eq%20'b'",
            400,
            "QueryParameterValueFormatError",
        ),
    ] {
        let r = get(&s, &format!("{sensors}?{query}"), Some(READER));
        assert_eq!(r.status, status, "{query}");
        assert_eq!(error_code(&r), format!("Base.1.22.{code}"), "{query}");
    }
    let r = get(
        &s,
        &format!("/redfish/v1/Chassis/00000001?{}", filter("Id eq 'x'")),
        Some(READER),
    );
    assert_eq!(r.status, 400, "not a collection");
    assert_eq!(error_code(&r), "Base.1.22.QueryNotSupportedOnResource");
    let root = get_ok(&s, "/redfish/v1", None);
    assert_eq!(root["ProtocolFeaturesSupported"]["FilterQuery"], true);
    assert_eq!(root["ProtocolFeaturesSupported"]["OnlyMemberQuery"], true);
}

#[test]
fn filter_on_power_state_sees_a_reset_and_only_answers_with_the_one_member() {
    let (s, _cfg, _dir) = stateful_node();
    let off = filter("PowerState eq 'Off'");
    let before = get_ok(&s, &format!("/redfish/v1/Systems?{off}"), Some(READER));
    assert_eq!(reset(&s, "00000001-0001", OPERATOR, "ForceOff").status, 204);
    let after = get_ok(&s, &format!("/redfish/v1/Systems?{off}"), Some(READER));
    let mut want = member_ids(&before);
    want.push("/redfish/v1/Systems/00000001-0001");
    want.sort_unstable();
    let mut got = member_ids(&after);
    got.sort_unstable();
    assert_eq!(got, want, "the system switched off now matches");

    // Log entries are whole in their collection: filtered as they are.
    let entries = "/redfish/v1/Managers/RackManager/LogServices/EventLog/Entries";
    let all = log_message_ids(&s);
    let power = "OpenDCRE.1.2.PowerAction";
    let kept = get_ok(
        &s,
        &format!("{entries}?{}", filter(&format!("MessageId eq '{power}'"))),
        Some(READER),
    );
    let kept: Vec<&Value> = kept["Members"].as_array().unwrap().iter().collect();
    assert_eq!(kept.len(), all.iter().filter(|m| *m == power).count());
    assert!(!kept.is_empty(), "the ForceOff is in the log: {all:?}");
    assert!(kept
        .iter()
        .all(|e| e["MessageId"] == power && e["Id"].is_string()));

    // One manager: `only` answers with it, as its own GET does.
    let managers = get_ok(&s, "/redfish/v1/Managers", Some(READER));
    let [manager] = member_ids(&managers)[..] else {
        panic!("one manager: {managers}");
    };
    let only = get(&s, "/redfish/v1/Managers?only", Some(READER));
    assert_eq!(only.status, 200);
    let own = get_ok(&s, manager, Some(READER));
    let mut only = only.json();
    assert_eq!(only["@odata.id"], manager);
    // The clock moves between the two reads.
    only["DateTime"] = own["DateTime"].clone();
    assert_eq!(only, own);
    // Several members: the collection as usual.
    let chassis = get_ok(&s, "/redfish/v1/Chassis?only", Some(READER));
    assert!(member_ids(&chassis).len() > 1);
    assert_eq!(chassis, get_ok(&s, "/redfish/v1/Chassis", Some(READER)));
    for (uri, code) in [
        (
            "/redfish/v1/Managers?only=foo",
            "QueryParameterValueFormatError",
        ),
        (
            "/redfish/v1/Managers?only&$top=1",
            "QueryCombinationInvalid",
        ),
        (
            "/redfish/v1/Managers?$expand=.&only",
            "QueryCombinationInvalid",
        ),
        (manager, "QueryNotSupportedOnResource"),
    ] {
        let uri = if uri == manager {
            format!("{manager}?only")
        } else {
            uri.to_string()
        };
        let r = get(&s, &uri, Some(READER));
        assert_eq!(r.status, 400, "{uri}");
        assert_eq!(error_code(&r), format!("Base.1.22.{code}"), "{uri}");
    }
}

fn patch(
    s: &crate::common::Server,
    token: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> crate::common::Response {
    send(s, "PATCH", SYSTEM, token, body, extra)
}

const SYSTEM: &str = "/redfish/v1/Systems/00000001-0001";

fn v11_asset(s: &crate::common::Server) -> Value {
    get_ok(
        s,
        "/opendcre/1.1/read/power/00000001/0001/info",
        Some(READER),
    )["asset_info"]
        .clone()
}

#[test]
fn asset_tag_patch_needs_the_etag_and_writes_the_bus() {
    let (s, _cfg, _dir) = stateful_node();
    let r = get(&s, SYSTEM, Some(READER));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    let etag = r.header("ETag").unwrap().to_string();
    assert_eq!(r.json()["@odata.etag"], etag.as_str());
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(
        get(&s, SYSTEM, Some(READER)).header("ETag"),
        Some(etag.as_str()),
        "stable while nothing changes"
    );
    let body = r#"{"AssetTag": "rack-b slot 9"}"#;

    let refused = [
        (patch(&s, OPERATOR, body, &[]), 428, "PreconditionRequired"),
        (
            patch(&s, OPERATOR, body, &[("If-Match", "\"0123456789abcdef\"")]),
            412,
            "PreconditionFailed",
        ),
        (
            patch(
                &s,
                OPERATOR,
                r#"{"PowerState": "Off"}"#,
                &[("If-Match", &etag)],
            ),
            400,
            "PropertyNotWritable",
        ),
        (
            patch(&s, OPERATOR, r#"{"Bogus": 1}"#, &[("If-Match", &etag)]),
            400,
            "PropertyUnknown",
        ),
        (
            patch(&s, OPERATOR, r#"{"AssetTag": 7}"#, &[("If-Match", &etag)]),
            400,
            "PropertyValueTypeError",
        ),
        (
            patch(&s, OPERATOR, "AssetTag=x", &[("If-Match", &etag)]),
            400,
            "MalformedJSON",
        ),
        (
            patch(
                &s,
                OPERATOR,
                body,
                &[("If-Match", &etag), ("Content-Type", "text/plain")],
            ),
            415,
            "HeaderInvalid",
        ),
        (
            patch(&s, READER, body, &[("If-Match", &etag)]),
            403,
            "InsufficientPrivilege",
        ),
    ];
    for (i, (r, status, code)) in refused.iter().enumerate() {
        assert_eq!(
            r.status,
            *status,
            "#{i}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(error_code(r), format!("Base.1.22.{code}"), "#{i}");
    }
    assert_eq!(v11_asset(&s), "rack-a/node-01 SN:1", "nothing written");

    let r = patch(&s, OPERATOR, body, &[("If-Match", &etag)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let now = r.json();
    assert_eq!(now["AssetTag"], "rack-b slot 9");
    let new_tag = r.header("ETag").unwrap().to_string();
    assert_ne!(new_tag, etag);
    assert_eq!(now["@odata.etag"], new_tag.as_str());
    assert_eq!(
        v11_asset(&s),
        "rack-b slot 9",
        "the v1.1 API reads the new tag"
    );
    assert_eq!(
        get_ok(&s, SYSTEM, Some(READER))["AssetTag"],
        "rack-b slot 9"
    );

    // The old tag no longer matches; `*` matches any.
    let stale = patch(&s, OPERATOR, r#"{"AssetTag": "x"}"#, &[("If-Match", &etag)]);
    assert_eq!(stale.status, 412);
    let star = patch(
        &s,
        OPERATOR,
        r#"{"AssetTag": "rack-c"}"#,
        &[("If-Match", "*")],
    );
    assert_eq!(star.status, 200);
    assert_eq!(v11_asset(&s), "rack-c");

    // A v1.1 write changes the ETag a Redfish client holds.
    let before = get(&s, SYSTEM, Some(READER))
        .header("ETag")
        .unwrap()
        .to_string();
    let w = get(
        &s,
        "/opendcre/1.1/write/power/00000001/0001/info/rack-d",
        Some(OPERATOR),
    );
    assert_eq!(w.status, 200);
    let r = patch(
        &s,
        OPERATOR,
        r#"{"AssetTag": "x"}"#,
        &[("If-Match", &before)],
    );
    assert_eq!(r.status, 412, "written behind the client's back");
    assert_eq!(v11_asset(&s), "rack-d");

    // Nothing else takes a PATCH.
    let r = send(
        &s,
        "PATCH",
        "/redfish/v1/UpdateService",
        OPERATOR,
        body,
        &[("If-Match", "*")],
    );
    assert_eq!(r.status, 405);
    assert_eq!(error_code(&r), "Base.1.22.OperationNotAllowed");
}

/// A board with a stateful identify LED (`W1`/`W0` switch it, `R` reads
/// it), and one without.
const LED_RACK: &str = r#"{"boards": [
  {"board_id": "00000001", "devices": [
    {"device_id": "0003", "device_type": "led", "has_state": true, "read": "0", "write": "0"}
  ]},
  {"board_id": "00000002", "devices": [
    {"device_id": "0002", "device_type": "thermistor", "read": {"repeatable": true, "responses": [656]}}
  ]}
]}"#;

fn v11_led(s: &crate::common::Server) -> Value {
    get_ok(s, "/opendcre/1.1/read/led/00000001/0003", Some(READER))["device_raw"].clone()
}

#[test]
fn location_indicator_patch_switches_the_board_led() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, LED_RACK).unwrap();
    let (s, _cfg) = node(&rack);
    let board = "/redfish/v1/Chassis/00000001";
    let r = get(&s, board, Some(READER));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    assert_eq!(r.json()["LocationIndicatorActive"], false);
    assert_eq!(v11_led(&s), 0);
    let etag = r.header("ETag").unwrap().to_string();
    let on = r#"{"LocationIndicatorActive": true}"#;
    let p = |token: &str, body: &str, extra: &[(&str, &str)]| {
        send(&s, "PATCH", board, token, body, extra)
    };
    for (r, status, code) in [
        (p(OPERATOR, on, &[]), 428, "PreconditionRequired"),
        (
            p(OPERATOR, on, &[("If-Match", "\"00\"")]),
            412,
            "PreconditionFailed",
        ),
        (
            p(
                OPERATOR,
                r#"{"LocationIndicatorActive": "On"}"#,
                &[("If-Match", &etag)],
            ),
            400,
            "PropertyValueTypeError",
        ),
        (
            p(
                OPERATOR,
                r#"{"ChassisType": "Rack"}"#,
                &[("If-Match", &etag)],
            ),
            400,
            "PropertyNotWritable",
        ),
        (
            p(READER, on, &[("If-Match", &etag)]),
            403,
            "InsufficientPrivilege",
        ),
    ] {
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(error_code(&r), format!("Base.1.22.{code}"));
    }
    assert_eq!(v11_led(&s), 0, "nothing written");
    let r = p(OPERATOR, on, &[("If-Match", &etag)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["LocationIndicatorActive"], true);
    assert_ne!(r.header("ETag").unwrap(), etag);
    assert_eq!(v11_led(&s), 1, "the v1.1 API reads the LED on");
    assert_eq!(
        p(OPERATOR, on, &[("If-Match", &etag)]).status,
        412,
        "stale tag"
    );
    let r = p(
        OPERATOR,
        r#"{"LocationIndicatorActive": false}"#,
        &[("If-Match", "*")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(v11_led(&s), 0);

    // The deprecated `IndicatorLED` (OpenRMC's usage guide, Ansible's
    // IndicatorLedOn/Off) shows and switches the same LED.
    assert_eq!(r.json()["IndicatorLED"], "Off");
    let r = p(OPERATOR, r#"{"IndicatorLED": "Lit"}"#, &[("If-Match", "*")]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        (
            &r.json()["IndicatorLED"],
            &r.json()["LocationIndicatorActive"]
        ),
        (&json!("Lit"), &json!(true))
    );
    assert_eq!(v11_led(&s), 1);
    for (body, code) in [
        (r#"{"IndicatorLED": "Blinking"}"#, "PropertyValueNotInList"),
        (
            r#"{"IndicatorLED": "Off", "LocationIndicatorActive": true}"#,
            "PropertyValueConflict",
        ),
    ] {
        let r = p(OPERATOR, body, &[("If-Match", "*")]);
        assert_eq!(
            (r.status, error_code(&r)),
            (400, format!("Base.1.22.{code}")),
            "{body}"
        );
    }
    assert_eq!(v11_led(&s), 1, "nothing switched");
    let r = p(OPERATOR, r#"{"IndicatorLED": "Off"}"#, &[("If-Match", "*")]);
    assert_eq!(r.status, 200);
    assert_eq!(v11_led(&s), 0);

    // A board without an LED has nothing to PATCH.
    let other = get(&s, "/redfish/v1/Chassis/00000002", Some(READER));
    assert!(other.json().get("LocationIndicatorActive").is_none());
    assert!(other.json().get("IndicatorLED").is_none());
    let tag = other.header("ETag").unwrap().to_string();
    let r = send(
        &s,
        "PATCH",
        "/redfish/v1/Chassis/00000002",
        OPERATOR,
        on,
        &[("If-Match", &tag)],
    );
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.PropertyUnknown");
}

/// The rack's nameplate comes from `[rack]`, a board's from
/// `[boards."<id>"]`; the rack's and a board's
/// `AssetTag` are written by an operator (`If-Match` as every `PATCH`),
/// kept in `[manager] asset_tags` and shown again after a restart.
#[test]
fn asset_tags_of_rack_and_boards_are_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, LED_RACK).unwrap();
    let tags = dir.path().join("state/asset-tags.json");
    let toml = format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n\
         [manager]\nasset_tags = {:?}\n\
         [rack]\nmanufacturer = \"Vapor IO\"\nserial_number = \"VC2016-0042\"\n\
         [boards.\"00000001\"]\nmanufacturer = \"Vapor IO\"\nmodel = \"Vapor Edge\"\nserial_number = \"VE-17\"\n",
        rack.display().to_string(),
        crate::redfish::reader_hash(),
        crate::redfish::operator_hash(),
        tags.display().to_string(),
    );
    let (s, _cfg) = crate::common::Server::with_config(&toml);
    let uri = "/redfish/v1/Chassis/Rack";
    let r = get(&s, uri, Some(READER));
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    let v = r.json();
    assert_eq!(v["Manufacturer"], "Vapor IO");
    assert_eq!(v["SerialNumber"], "VC2016-0042");
    assert!(v.get("Model").is_none(), "not configured, not shown: {v}");
    assert_eq!(v["PowerState"], "On");
    assert_eq!(v["AssetTag"], Value::Null);
    let etag = r.header("ETag").unwrap().to_string();
    let tag = r#"{"AssetTag": "R-0042 row 3"}"#;
    let long = format!(r#"{{"AssetTag": "{}"}}"#, "x".repeat(128));
    crate::redfish::assert_patches_refused(
        &s,
        uri,
        &[
            (
                READER,
                tag,
                Some(etag.as_str()),
                403,
                "InsufficientPrivilege",
            ),
            (OPERATOR, tag, None, 428, "PreconditionRequired"),
            (
                OPERATOR,
                r#"{"SerialNumber": "x"}"#,
                Some(etag.as_str()),
                400,
                "PropertyNotWritable",
            ),
            (
                OPERATOR,
                long.as_str(),
                Some(etag.as_str()),
                400,
                "PropertyValueFormatError",
            ),
        ],
    );
    assert!(!tags.exists(), "nothing written");
    let r = send(&s, "PATCH", uri, OPERATOR, tag, &[("If-Match", &etag)]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["AssetTag"], "R-0042 row 3");
    assert_ne!(r.header("ETag").unwrap(), etag);
    // A board: its tag and its LED in one PATCH.
    let board = "/redfish/v1/Chassis/00000001";
    let b = get(&s, board, Some(READER));
    assert_eq!(b.json()["AssetTag"], Value::Null);
    assert_eq!(
        (
            &b.json()["Manufacturer"],
            &b.json()["Model"],
            &b.json()["SerialNumber"]
        ),
        (&"Vapor IO".into(), &"Vapor Edge".into(), &"VE-17".into())
    );
    assert!(
        b.json().get("PartNumber").is_none(),
        "not configured, not shown"
    );
    assert_eq!(b.json()["PowerState"], "On");
    let r = send(
        &s,
        "PATCH",
        board,
        OPERATOR,
        r#"{"AssetTag": "B-17", "LocationIndicatorActive": true}"#,
        &[("If-Match", b.header("ETag").unwrap())],
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["AssetTag"], "B-17");
    assert_eq!(v11_led(&s), 1);
    drop(s);

    let (s, _cfg2) = crate::common::Server::with_config(&toml);
    assert_eq!(get_ok(&s, uri, Some(READER))["AssetTag"], "R-0042 row 3");
    assert_eq!(get_ok(&s, board, Some(READER))["AssetTag"], "B-17");
    let other = get_ok(&s, "/redfish/v1/Chassis/00000002", Some(READER));
    assert_eq!(other["AssetTag"], Value::Null);
    assert!(other.get("Manufacturer").is_none(), "no nameplate: {other}");
}
