//! The accounts locked after failed logins, kept in a small JSON file
//! (`[auth.lockout] locks_file`) so that a restart of the service or of the
//! node does not unlock them: a lock "until an administrator unlocks it"
//! must mean that, and a guesser must not gain from a crash. Written
//! whenever a lock begins or ends by an unlock; a lock that ran out is
//! dropped at the next write or load.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Stored {
    /// Account name → Unix seconds when it was locked.
    #[serde(rename = "Locked")]
    locked: BTreeMap<String, u64>,
}

/// The locks kept. A missing file is none;
/// an unreadable or damaged one is logged and none (the next lock writes a
/// good file).
pub(crate) fn load(path: &Path) -> Vec<(String, SystemTime)> {
    let Some(s) = super::kept::read_json::<Stored>(path, "account locks") else {
        return Vec::new();
    };
    s.locked
        .into_iter()
        .map(|(name, secs)| (name, UNIX_EPOCH + Duration::from_secs(secs)))
        .collect()
}

/// Keeps `locks` in `path`: mode 0600, written whole (new file, fsync,
/// rename).
pub(crate) fn save(path: &Path, locks: &[(String, SystemTime)]) -> Result<(), String> {
    let stored = Stored {
        locked: locks
            .iter()
            .map(|(name, at)| {
                let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                (name.clone(), secs)
            })
            .collect(),
    };
    super::kept::write_json(path, &stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_are_kept_and_bad_files_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/account-locks.json");
        assert!(load(&path).is_empty(), "missing");
        let at = UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        save(&path, &[("ops".into(), at)]).unwrap();
        assert_eq!(load(&path), [("ops".to_string(), at)]);
        let kept: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"Locked": {"ops": 1_796_000_000u64}})
        );
        save(&path, &[]).unwrap();
        assert!(load(&path).is_empty());
        for bad in [
            r#"{"Locked": {"ops": "then"}}"#,
            r#"{"Locked": {}, "More": 1}"#,
            "[]",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(load(&path).is_empty(), "{bad}");
        }
    }
}
