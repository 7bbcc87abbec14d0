//! The lockout policy an administrator set through Redfish (`PATCH
//! /redfish/v1/AccountService` with `AccountLockoutThreshold`,
//! `AccountLockoutDuration`, `AccountLockoutCounterResetAfter`), kept in a
//! small JSON file (`[auth.lockout] settings_file`) so that a restart keeps
//! it. Until one is set, the configuration's `[auth.lockout]` is the
//! policy. A file of its own, not the session settings': a node rolled
//! back to a release without lockout still reads its session file.

use std::path::Path;

use super::lockout::LockoutPolicy;

/// The kept policy, if any. A missing file is `None`; an unreadable,
/// damaged or invalid one is logged and `None`: the configured policy
/// stays in force, and the next change writes a good file.
pub(crate) fn load(path: &Path) -> Option<LockoutPolicy> {
    let p: LockoutPolicy = super::kept::read_json(path, "lockout settings")?;
    match p.check() {
        Ok(()) => Some(p),
        Err((field, why)) => {
            tracing::error!(path = %path.display(), "lockout settings not used: {} {why}", field.redfish_name());
            None
        }
    }
}

/// Keeps `policy` in `path`: mode 0600, written whole (new file, fsync,
/// rename) before the policy is in force.
pub(crate) fn save(path: &Path, policy: &LockoutPolicy) -> Result<(), String> {
    super::kept::write_json(path, policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_policies_are_read_back_and_bad_files_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/account-service.json");
        assert_eq!(load(&path), None, "missing");
        let p = LockoutPolicy {
            threshold: 5,
            duration_secs: 600,
            reset_after_secs: 60,
            counter_reset_enabled: false,
        };
        save(&path, &p).unwrap();
        assert_eq!(load(&path), Some(p));
        let kept: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"AccountLockoutThreshold": 5, "AccountLockoutDuration": 600, "AccountLockoutCounterResetAfter": 60, "AccountLockoutCounterResetEnabled": false})
        );
        // Absent, the counter reset is on (the Redfish default).
        std::fs::write(&path, r#"{"AccountLockoutThreshold": 5, "AccountLockoutDuration": 600, "AccountLockoutCounterResetAfter": 60}"#).unwrap();
        assert!(load(&path).unwrap().counter_reset_enabled);
        for bad in [
            r#"{"AccountLockoutThreshold": 5, "AccountLockoutDuration": 60, "AccountLockoutCounterResetAfter": 600}"#,
            r#"{"AccountLockoutThreshold": 5, "AccountLockoutDuration": 600}"#,
            r#"{"AccountLockoutThreshold": 5, "AccountLockoutDuration": 600, "AccountLockoutCounterResetAfter": 60, "AccountLockoutCounterResetEnabled": "no"}"#,
            r#"{"AccountLockoutThreshold": "5", "AccountLockoutDuration": 600, "AccountLockoutCounterResetAfter": 60}"#,
            r#"{"AccountLockoutThreshold": 5, "AccountLockoutDuration": 600, "AccountLockoutCounterResetAfter": 60, "Other": 1}"#,
            "not json",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(load(&path), None, "{bad}");
        }
    }
}
