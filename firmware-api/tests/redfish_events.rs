//! The event service in the real binary: a push subscription delivered to a
//! real HTTP receiver (a power action through Redfish and a test event),
//! with its `HttpHeaders` and `Context`; roles and bad bodies; an SSE
//! stream that gets events and ends when its subscription is deleted; a
//! receiver that keeps failing ends its subscription, said in the log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Server;
use crate::redfish::{error_code, get_ok, log_message_ids, reset, send, OPERATOR, RACK, READER};
use opendcre_security::auth::{hash_token, HashAlgorithm};

const SUBS: &str = "/redfish/v1/EventService/Subscriptions";
const TEST_EVENT: &str = "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent";

/// A node on the stateful example rack whose subscriptions live in its
/// own directory; deliveries retry once after 1 s.
fn node() -> (Server, tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (s, cfg) = Server::with_config(&node_toml(&dir));
    (s, cfg, dir)
}

/// The configuration of [`node`], its files in `dir`.
fn node_toml(dir: &tempfile::TempDir) -> String {
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [event_log]\npath = {:?}\n\
         [event_service]\nsubscriptions_path = {:?}\n\
         delivery_retry_attempts = 1\ndelivery_retry_interval_secs = 1\nconnect_timeout_ms = 1000\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n",
        rack.display().to_string(),
        dir.path().join("events.jsonl").display().to_string(),
        dir.path().join("subs.json").display().to_string(),
        hash_token(READER, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
    )
}

/// One request a receiver got: its head lines and its JSON body.
pub(crate) struct Delivery {
    pub head: Vec<String>,
    pub body: Value,
}

/// An HTTP receiver on 127.0.0.1 that answers every POST with `status`.
pub(crate) fn receiver(status: u16) -> (String, mpsc::Receiver<Delivery>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_string());
            }
            let len = head
                .iter()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if tx.send(Delivery { head, body }).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

fn subscribe(s: &Server, token: &str, body: &str) -> crate::common::Response {
    send(s, "POST", SUBS, token, body, &[])
}

/// `SubmitTestEvent` of a `Base.1.22.Success` event, as the operator.
fn test_event(s: &Server) {
    let r = send(
        s,
        "POST",
        TEST_EVENT,
        OPERATOR,
        r#"{"MessageId": "Base.1.22.Success"}"#,
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.message());
}

#[test]
fn push_subscription_gets_power_actions_and_test_events() {
    let (s, _cfg, _dir) = node();
    let (addr, got) = receiver(204);
    let body = format!(
        r#"{{"Destination": "http://{addr}/in", "Protocol": "Redfish", "Context": "rack-7",
            "RegistryPrefixes": ["OpenDCRE", "Base"],
            "HttpHeaders": [{{"Authorization": "Bearer receiver-secret"}}]}}"#
    );
    // A reader may look, not subscribe.
    let r = subscribe(&s, READER, &body);
    assert_eq!(r.status, 403, "{}", r.message());
    let r = subscribe(&s, OPERATOR, &body);
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let location = r.header("location").unwrap().to_string();
    assert_eq!(location, format!("{SUBS}/1"));
    let sub = get_ok(&s, &location, Some(READER));
    assert_eq!(sub["Destination"], format!("http://{addr}/in"));
    assert_eq!(sub["SubscriptionType"], "RedfishEvent");
    assert_eq!(
        sub["HttpHeaders"],
        serde_json::json!([]),
        "headers are never shown"
    );
    let raw = crate::redfish::get(&s, &location, Some(OPERATOR)).body;
    assert!(!String::from_utf8_lossy(&raw).contains("receiver-secret"));

    let r = reset(&s, "00000001-0001", OPERATOR, "ForceOff");
    assert_eq!(r.status, 204, "{}", r.message());
    let d = got
        .recv_timeout(Duration::from_secs(10))
        .expect("the power action was delivered");
    assert!(d.head[0].starts_with("POST /in HTTP/1.1"), "{:?}", d.head);
    assert!(
        d.head
            .iter()
            .any(|l| l == "authorization: Bearer receiver-secret"
                || l == "Authorization: Bearer receiver-secret"),
        "{:?}",
        d.head
    );
    assert_eq!(d.body["@odata.type"], "#Event.v1_13_0.Event");
    assert_eq!(d.body["Context"], "rack-7");
    let e = &d.body["Events"][0];
    assert_eq!(e["MessageId"], "OpenDCRE.1.2.PowerAction");
    assert_eq!(
        e["OriginOfCondition"]["@odata.id"],
        "/redfish/v1/Systems/00000001-0001"
    );
    // The event links its log entry, which says the same.
    let entry = get_ok(
        &s,
        e["LogEntry"]["@odata.id"].as_str().unwrap(),
        Some(READER),
    );
    assert_eq!(entry["Message"], e["Message"]);

    let r = send(
        &s,
        "POST",
        TEST_EVENT,
        READER,
        r#"{"MessageId": "Base.1.22.Success"}"#,
        &[],
    );
    assert_eq!(r.status, 403);
    let r = send(
        &s,
        "POST",
        TEST_EVENT,
        OPERATOR,
        r#"{"MessageId": "Base.1.22.Success", "Message": "hello"}"#,
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.message());
    let d = got
        .recv_timeout(Duration::from_secs(10))
        .expect("the test event was delivered");
    assert_eq!(d.body["Events"][0]["Message"], "hello");
    // Filtered out by RegistryPrefixes: not delivered.
    send(
        &s,
        "POST",
        TEST_EVENT,
        OPERATOR,
        r#"{"MessageId": "Other.1.0.Thing"}"#,
        &[],
    );

    // An operator changes the Context (and the retry policy) in place:
    // the next event carries the new one.
    let before = crate::redfish::get(&s, &location, Some(READER));
    assert_eq!(before.header("Allow"), Some("GET, HEAD, PATCH, DELETE"));
    let etag = before.header("ETag").unwrap().to_string();
    let change = r#"{"Context": "rack-8", "DeliveryRetryPolicy": "RetryForever"}"#;
    for (token, body, if_match, status) in [
        (READER, change, Some(etag.as_str()), 403),
        (OPERATOR, change, None, 428),
        (
            OPERATOR,
            r#"{"DeliveryRetryPolicy": "SuspendRetries"}"#,
            Some(etag.as_str()),
            400,
        ),
        (
            OPERATOR,
            r#"{"Destination": "http://10.0.0.1/"}"#,
            Some(etag.as_str()),
            400,
        ),
    ] {
        let extra: Vec<(&str, &str)> = if_match.map(|m| ("If-Match", m)).into_iter().collect();
        let r = send(&s, "PATCH", &location, token, body, &extra);
        assert_eq!(r.status, status, "{body}: {}", r.message());
    }
    let r = send(
        &s,
        "PATCH",
        &location,
        OPERATOR,
        change,
        &[("If-Match", &etag)],
    );
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(r.json()["Context"], "rack-8");
    assert_eq!(r.json()["DeliveryRetryPolicy"], "RetryForever");
    reset(&s, "00000001-0001", OPERATOR, "On");
    let d = got
        .recv_timeout(Duration::from_secs(10))
        .expect("the next power action was delivered");
    assert_eq!(d.body["Context"], "rack-8");

    let r = send(&s, "DELETE", &location, READER, "", &[]);
    assert_eq!(r.status, 403);
    let r = send(&s, "DELETE", &location, OPERATOR, "", &[]);
    assert_eq!(r.status, 204);
    assert_eq!(crate::redfish::get(&s, &location, Some(READER)).status, 404);
    reset(&s, "00000001-0001", OPERATOR, "ForceOff");
    assert!(
        got.recv_timeout(Duration::from_secs(2)).is_err(),
        "nothing after the delete, nor the filtered test event"
    );
    let keys = log_message_ids(&s);
    assert!(
        keys.contains(&"OpenDCRE.1.2.SubscriptionCreated".to_string()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"OpenDCRE.1.2.SubscriptionDeleted".to_string()),
        "{keys:?}"
    );
}

#[test]
fn bad_subscriptions_are_refused_by_name() {
    let (s, _cfg, _dir) = node();
    for (body, status, code) in [
        (
            r#"{"Destination": "https://h/x", "Protocol": "FTP"}"#,
            400,
            "Base.1.22.PropertyValueNotInList",
        ),
        (
            r#"{"Protocol": "Redfish"}"#,
            400,
            "Base.1.22.PropertyMissing",
        ),
        (
            r#"{"Destination": "gopher://h/x", "Protocol": "Redfish"}"#,
            400,
            "Base.1.22.PropertyValueFormatError",
        ),
        (
            r#"{"Destination": "https://h/x", "Protocol": "Redfish", "VerifyCertificate": false}"#,
            400,
            "Base.1.22.PropertyValueNotInList",
        ),
        (
            r#"{"Destination": "https://h/x""#,
            400,
            "Base.1.22.MalformedJSON",
        ),
    ] {
        let r = subscribe(&s, OPERATOR, body);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (status, code),
            "{body}"
        );
    }
    assert_eq!(get_ok(&s, SUBS, Some(READER))["Members@odata.count"], 0);
    let svc = get_ok(&s, "/redfish/v1/EventService", Some(READER));
    assert_eq!(svc["ServerSentEventUri"], "/redfish/v1/EventService/SSE");
    assert_eq!(svc["DeliveryRetryAttempts"], 1);
    assert_eq!(
        get_ok(&s, "/redfish/v1", None)["EventService"]["@odata.id"],
        "/redfish/v1/EventService"
    );
}

/// Opens the SSE URI as `token`; the stream after its head, and the head.
pub(crate) fn open_sse(
    s: &Server,
    token: &str,
    query: &str,
) -> (BufReader<TcpStream>, Vec<String>) {
    open_sse_after(s, token, query, None)
}

/// [`open_sse`] of a client that reconnects after event `last`.
fn open_sse_after(
    s: &Server,
    token: &str,
    query: &str,
    last: Option<&str>,
) -> (BufReader<TcpStream>, Vec<String>) {
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let last = last.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    write!(
        c,
        "GET /redfish/v1/EventService/SSE{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{last}\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(c);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    (r, head)
}

/// The next `data:` line of a chunked SSE body (chunk sizes and comments
/// skipped); `None` when the stream ended.
pub(crate) fn next_data(r: &mut BufReader<TcpStream>) -> Option<(String, Value)> {
    let mut id = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line == "0" {
            return None; // the last chunk
        }
        if let Some(v) = line.strip_prefix("id: ") {
            id = v.to_string();
        }
        if let Some(v) = line.strip_prefix("data: ") {
            return Some((id, serde_json::from_str(v).unwrap()));
        }
    }
}

#[test]
fn sse_stream_gets_events_and_ends_when_its_subscription_is_deleted() {
    let (s, _cfg, _dir) = node();
    let (mut stream, head) = open_sse(
        &s,
        READER,
        "?$filter=MessageId%20eq%20'OpenDCRE.1.2.PowerAction'",
    );
    assert!(head[0].contains(" 200 "), "{head:?}");
    assert!(
        head.iter()
            .any(|l| l.eq_ignore_ascii_case("content-type: text/event-stream")),
        "{head:?}"
    );
    let subs = get_ok(&s, SUBS, Some(READER));
    assert_eq!(
        subs["Members@odata.count"], 1,
        "the open stream is a subscription"
    );
    let uri = subs["Members"][0]["@odata.id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get_ok(&s, &uri, Some(READER))["SubscriptionType"], "SSE");

    test_event(&s);
    reset(&s, "00000002-0001", OPERATOR, "On");
    let (id, v) = next_data(&mut stream).expect("an event");
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(
        v["Events"][0]["MessageId"], "OpenDCRE.1.2.PowerAction",
        "the test event was filtered out"
    );

    let started = Instant::now();
    assert_eq!(send(&s, "DELETE", &uri, OPERATOR, "", &[]).status, 204);
    assert!(next_data(&mut stream).is_none(), "the stream ended");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A client that does not take event streams, or a bad filter.
    let r = crate::common::request_with(
        &s.addr,
        "GET",
        "/redfish/v1/EventService/SSE",
        &[
            ("Authorization", &format!("Bearer {READER}")),
            ("Accept", "application/json"),
        ],
    );
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (400, "Base.1.22.HeaderInvalid")
    );
    let (_, head) = open_sse(&s, READER, "?$filter=Color%20eq%20red");
    assert!(head[0].contains(" 400 "), "{head:?}");
    assert_eq!(get_ok(&s, SUBS, Some(READER))["Members@odata.count"], 0);
}

/// A client that lost its stream and reconnects with `Last-Event-ID` (as
/// a browser's EventSource does by itself) first gets what it missed.
#[test]
fn a_reconnecting_stream_gets_the_events_it_missed() {
    let (s, _cfg, _dir) = node();
    let filter = "?$filter=MessageId%20eq%20'OpenDCRE.1.2.PowerAction'";
    let (mut stream, _) = open_sse(&s, READER, filter);
    reset(&s, "00000002-0001", OPERATOR, "ForceOff");
    let (seen, _) = next_data(&mut stream).expect("an event");
    drop(stream);
    reset(&s, "00000002-0001", OPERATOR, "On");
    reset(&s, "00000001-0001", OPERATOR, "ForceOff");
    let (mut again, head) = open_sse_after(&s, READER, filter, Some(&seen));
    assert!(head[0].contains(" 200 "), "{head:?}");
    let seen: u64 = seen.parse().unwrap();
    let mut missed = Vec::new();
    for _ in 0..2 {
        let (id, v) = next_data(&mut again).expect("a missed event");
        missed.push((
            id.parse::<u64>().unwrap(),
            v["Events"][0]["MessageArgs"][0]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    assert_eq!(
        missed,
        [
            (seen + 1, "On".to_string()),
            (seen + 2, "ForceOff".to_string())
        ]
    );
    // Then live events, as any stream.
    reset(&s, "00000001-0001", OPERATOR, "On");
    let (id, _) = next_data(&mut again).expect("a live event");
    assert_eq!(id.parse::<u64>().unwrap(), seen + 3);
}

/// A service that stops keeps its events for the next run: a client that
/// reconnects after a restart (an update, a reboot) with `Last-Event-ID`
/// gets what it missed before the stop, then new events with the ids
/// going on.
#[test]
fn a_stream_reconnecting_after_a_restart_gets_what_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let toml = node_toml(&dir);
    let (s, _cfg) = Server::with_config(&toml);
    let filter = "?$filter=MessageId%20eq%20'OpenDCRE.1.2.PowerAction'";
    let (mut stream, _) = open_sse(&s, READER, filter);
    reset(&s, "00000002-0001", OPERATOR, "ForceOff");
    let (seen, _) = next_data(&mut stream).expect("an event");
    drop(stream);
    reset(&s, "00000002-0001", OPERATOR, "On");
    assert!(s.terminate().success());
    let kept: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("subs.json")).unwrap()).unwrap();
    assert!(kept["events"]["events"].as_array().is_some(), "{kept}");

    let (again, _cfg) = Server::with_config(&toml);
    let (mut stream, head) = open_sse_after(&again, READER, filter, Some(&seen));
    assert!(head[0].contains(" 200 "), "{head:?}");
    let seen: u64 = seen.parse().unwrap();
    let (id, v) = next_data(&mut stream).expect("the missed event");
    assert_eq!(
        (
            id.parse::<u64>().unwrap(),
            &v["Events"][0]["MessageArgs"][0]
        ),
        (seen + 1, &Value::from("On"))
    );
    reset(&again, "00000001-0001", OPERATOR, "ForceOff");
    let (id, v) = next_data(&mut stream).expect("a live event");
    let id: u64 = id.parse().unwrap();
    assert!(id > seen + 1, "{id} after {seen}");
    assert_eq!(v["Events"][0]["MessageArgs"][0], "ForceOff");
}

#[test]
fn a_receiver_that_keeps_failing_ends_its_subscription() {
    let (s, _cfg, _dir) = node();
    let (addr, got) = receiver(500);
    let r = subscribe(
        &s,
        OPERATOR,
        &format!(r#"{{"Destination": "http://{addr}/in", "Protocol": "Redfish"}}"#),
    );
    assert_eq!(r.status, 201);
    test_event(&s);
    // The first try and one retry a second later, then the end.
    for _ in 0..2 {
        got.recv_timeout(Duration::from_secs(10))
            .expect("a delivery attempt");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_ok(&s, SUBS, Some(READER))["Members@odata.count"] != 0 {
        assert!(Instant::now() < deadline, "the subscription was not ended");
        std::thread::sleep(Duration::from_millis(100));
    }
    let keys = log_message_ids(&s);
    assert!(
        keys.contains(&"OpenDCRE.1.2.SubscriptionTerminated".to_string()),
        "{keys:?}"
    );
}
