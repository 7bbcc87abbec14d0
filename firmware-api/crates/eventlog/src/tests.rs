use std::io::Write;

use super::*;

const T: Duration = Duration::from_secs(5);

fn power(n: usize) -> Event {
    Event::power(
        "ops",
        Via::V11,
        "00000001-16ff",
        &format!("on{n}"),
        Ok("power on"),
    )
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bounded_in_memory_and_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = EventLog::open(&path, 10);
    for n in 0..35 {
        log.record(power(n));
    }
    assert!(log.flush(T));
    let e = log.entries();
    assert_eq!(e.len(), 10);
    assert_eq!(e[0].id, 26, "the oldest were dropped");
    assert_eq!(e[9].id, 35);
    // Compacted at 20 lines: never more than twice the bound.
    let n = lines(&path).len();
    assert!((10..20).contains(&n), "{n} lines");
    assert!(log.status().healthy());
}

#[test]
fn entries_survive_a_restart_and_ids_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    {
        let log = EventLog::open(&path, 100);
        log.record(power(1));
        log.record(Event::auth_failure("10.0.0.9", "unknown token"));
        assert!(log.flush(T));
    }
    let log = EventLog::open(&path, 100);
    let e = log.entries();
    assert_eq!(e.len(), 2);
    assert_eq!(e[1].key, "AuthenticationFailed");
    assert_eq!(e[1].args, ["10.0.0.9", "unknown token"]);
    assert_eq!(log.record(power(2)), Some(3));
}

#[test]
fn a_torn_last_line_is_skipped_and_the_next_entry_starts_a_new_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    {
        let log = EventLog::open(&path, 100);
        log.record(power(1));
        log.record(power(2));
        assert!(log.flush(T));
    }
    // A power loss in the middle of the third line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(br#"{"id":3,"created_ms":17"#).unwrap();
    drop(f);
    let log = EventLog::open(&path, 100);
    assert_eq!(log.entries().len(), 2);
    assert_eq!(log.status().skipped, 1);
    log.record(power(3));
    assert!(log.flush(T));
    drop(log);
    let again = EventLog::open(&path, 100);
    let e = again.entries();
    assert_eq!(e.len(), 3, "the entry after the torn line is whole");
    assert_eq!(e[2].args[0], "on3");
    assert_eq!(again.status().skipped, 1);
}

#[test]
fn garbage_anywhere_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, b"not json\n\n\xff\xfe\n{\"id\":1}\n").unwrap();
    let log = EventLog::open(&path, 100);
    assert!(log.entries().is_empty());
    assert_eq!(log.status().skipped, 3);
    assert_eq!(log.record(power(1)), Some(1));
}

#[test]
fn clear_empties_memory_and_file_and_says_who() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = EventLog::open(&path, 100);
    for n in 0..5 {
        log.record(power(n));
    }
    log.clear("ops");
    assert!(log.flush(T));
    let e = log.entries();
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].id, e[0].key.as_str()), (6, "LogCleared"));
    assert_eq!(lines(&path).len(), 1);
    drop(log);
    assert_eq!(EventLog::open(&path, 100).entries(), e);
}

#[test]
fn clearing_one_systems_entries_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let log = EventLog::open(&path, 100);
    log.record(power(1));
    log.record(Event::power(
        "ops",
        Via::Redfish,
        "00000001-01ff",
        "On",
        Ok("On"),
    ));
    log.record(Event::auth_failure("10.0.0.1", "bad token"));
    log.clear_system("00000001-16ff", "ops");
    assert!(log.flush(T));
    let keys: Vec<_> = log
        .entries()
        .iter()
        .map(|e| (e.key.clone(), e.system.clone()))
        .collect();
    assert_eq!(
        keys,
        [
            ("PowerAction".into(), Some("00000001-01ff".into())),
            ("AuthenticationFailed".into(), None),
            ("SystemLogCleared".into(), Some("00000001-16ff".into())),
        ]
    );
    drop(log);
    assert_eq!(EventLog::open(&path, 100).entries().len(), 3);
}

#[test]
fn an_unwritable_place_keeps_the_log_in_memory_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("events.jsonl");
    let log = EventLog::open(&path, 10);
    assert_eq!(log.record(power(1)), Some(1));
    assert_eq!(log.entries().len(), 1);
    let s = log.status();
    assert!(!s.persistent && !s.healthy());
    assert!(s.problem.unwrap().contains("missing-dir"));
}

#[test]
fn write_errors_are_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("state");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("events.jsonl");
    let log = EventLog::open(&path, 2);
    log.record(power(1));
    assert!(log.flush(T));
    // The directory goes: the compaction's new file cannot be made.
    std::fs::remove_dir_all(&sub).unwrap();
    for n in 2..6 {
        log.record(power(n));
    }
    assert!(log.flush(T));
    assert_eq!(log.entries().len(), 2);
    let s = log.status();
    assert!(s.write_errors > 0, "{s:?}");
    assert!(!s.healthy());
}

#[test]
fn authentication_failures_are_limited_per_minute() {
    let log = EventLog::in_memory(1000);
    let recorded = (0..50)
        .filter(|_| {
            log.record(Event::auth_failure("10.0.0.1", "bad token"))
                .is_some()
        })
        .count();
    assert_eq!(recorded, AUTH_FAILURES_PER_MINUTE as usize);
    // Power actions are never limited.
    assert!(log.record(power(1)).is_some());
}

#[test]
fn listeners_hear_each_entry_once_it_is_readable() {
    let log = Arc::new(EventLog::in_memory(100));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let (h, l) = (heard.clone(), Arc::downgrade(&log));
    log.listen(move |e| {
        // The entry is in the log when the listener hears of it.
        let log = l.upgrade().unwrap();
        assert_eq!(log.entry(e.id).as_ref(), Some(e));
        h.lock().unwrap().push(e.key.clone());
    });
    log.record(power(1));
    log.clear("ops");
    // Held back by the authentication-failure limit: not recorded, not heard.
    for _ in 0..100 {
        log.record(Event::auth_failure("10.0.0.1", "bad token"));
    }
    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard[..2], ["PowerAction", "LogCleared"]);
    assert!(heard[2..].iter().all(|k| k == "AuthenticationFailed"));
    assert_eq!(
        heard.len(),
        log.entries().len() + 1,
        "the cleared entry was heard too"
    );
}
