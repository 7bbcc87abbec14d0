//! The session idle timeout an administrator set through Redfish
//! (`PATCH /redfish/v1/SessionService` with `SessionTimeout`), kept in a
//! small JSON file (`[auth.sessions] settings_file`) so that a restart
//! keeps it, as a BMC keeps its own. Until one is set, the configuration's
//! `timeout_secs` is the timeout.

use std::ops::RangeInclusive;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What Redfish allows for `SessionTimeout` (the `SessionService` schema's
/// minimum and maximum, in seconds).
pub const SESSION_TIMEOUT_RANGE: RangeInclusive<u64> = 30..=86_400;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Stored {
    #[serde(rename = "SessionTimeout")]
    session_timeout: u64,
}

/// The kept timeout, if any. A missing file is `None`; an unreadable,
/// damaged or out-of-range one is logged and `None`: the configured
/// timeout stays in force, and the next change writes a good file.
pub(crate) fn load(path: &Path) -> Option<u64> {
    let s: Stored = super::kept::read_json(path, "session settings")?;
    if SESSION_TIMEOUT_RANGE.contains(&s.session_timeout) {
        Some(s.session_timeout)
    } else {
        tracing::error!(path = %path.display(), timeout = s.session_timeout, "session settings not used: SessionTimeout is out of {SESSION_TIMEOUT_RANGE:?}");
        None
    }
}

/// Keeps `secs` in `path`: mode 0600, written whole (new file, fsync,
/// rename) before the new timeout is in force.
pub(crate) fn save(path: &Path, secs: u64) -> Result<(), String> {
    super::kept::write_json(
        path,
        &Stored {
            session_timeout: secs,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_timeouts_are_read_back_and_bad_files_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/session-service.json");
        assert_eq!(load(&path), None, "missing");
        save(&path, 600).unwrap();
        assert_eq!(load(&path), Some(600));
        for bad in [
            "{\"SessionTimeout\": 5}",
            "{\"SessionTimeout\": \"600\"}",
            "{\"SessionTimeout\": 600, \"Other\": 1}",
            "not json",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(load(&path), None, "{bad}");
        }
    }
}
