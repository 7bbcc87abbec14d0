//! The login sessions kept across a restart of the service
//! (`[auth.sessions] state_file`), so that restarting it (a changed
//! configuration, a package upgrade, the watchdog) does not log out every
//! Redfish client. Kept: each session's id, owner, role, how it logged in,
//! and the SHA-256 of its token (never the token), in a file of mode 0600.
//!
//! Only within one boot of the machine. A session's idle time is counted on
//! the clock since boot (`/proc/uptime`), which a restart of the service
//! does not disturb; across a reboot nothing on the node says how long it
//! was down (a Raspberry Pi has no battery clock: its wall clock starts
//! from the last saved time until NTP answers), and a session must not
//! outlive its idle timeout by a downtime of days, so a file from another
//! boot (`/proc/sys/kernel/random/boot_id`) restores nothing.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::principal::AuthMethod;
use super::role::Role;
use super::session::SessionInfo;
use crate::tls::hex_lower;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Stored {
    #[serde(rename = "BootId")]
    boot_id: String,
    #[serde(rename = "Sessions")]
    sessions: Vec<StoredSession>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct StoredSession {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "UserName")]
    user: String,
    #[serde(rename = "Role")]
    role: Role,
    /// `local` or `ldap`.
    #[serde(rename = "Login")]
    login: String,
    /// Unix seconds.
    #[serde(rename = "Created")]
    created: u64,
    #[serde(rename = "PasswordChangeRequired")]
    password_change_required: bool,
    /// Hex SHA-256 of the token.
    #[serde(rename = "TokenSha256")]
    token_sha256: String,
    /// A local login's: hex SHA-256 of the account's password hash.
    #[serde(rename = "Credential")]
    credential: Option<String>,
    /// Milliseconds since boot of its last use.
    #[serde(rename = "LastUsedMs")]
    last_used_ms: u64,
}

/// One session as kept: what [`super::session::SessionStore`] restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeptSession {
    pub info: SessionInfo,
    pub token_hash: [u8; 32],
    /// A local login's: the SHA-256 of the account's password hash then.
    pub credential: Option<[u8; 32]>,
    /// Milliseconds since boot of its last use.
    pub last_used_ms: u64,
}

/// Where the machine's clocks stand: this boot's id and the milliseconds
/// since it. `None` where the kernel does not say (not Linux): then nothing
/// is kept or restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BootClock {
    pub boot_id: String,
    pub now_ms: u64,
}

impl BootClock {
    pub(crate) fn read() -> Option<BootClock> {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let uptime = std::fs::read_to_string("/proc/uptime").ok()?;
        let secs: f64 = uptime.split_whitespace().next()?.parse().ok()?;
        Some(BootClock {
            boot_id: boot_id.trim().to_string(),
            // Whole milliseconds of a non-negative uptime.
            now_ms: Duration::try_from_secs_f64(secs)
                .ok()?
                .as_millis()
                .try_into()
                .ok()?,
        })
    }
}

fn method_name(m: AuthMethod) -> Option<&'static str> {
    match m {
        AuthMethod::Local => Some("local"),
        AuthMethod::Ldap => Some("ldap"),
        _ => None,
    }
}

/// A SHA-256 as 64 hex digits.
fn unhex(text: &str) -> Option<[u8; 32]> {
    super::token::decode_hex(text)?.try_into().ok()
}

/// The sessions kept in `path` by this boot. A missing file, one of
/// another boot, or an unreadable or damaged one (logged) is none; a
/// damaged entry is skipped (logged).
pub(crate) fn load(path: &Path, clock: &BootClock) -> Vec<KeptSession> {
    let Some(s) = super::kept::read_json::<Stored>(path, "kept sessions") else {
        return Vec::new();
    };
    if s.boot_id != clock.boot_id {
        if !s.sessions.is_empty() {
            tracing::info!(path = %path.display(), sessions = s.sessions.len(), "sessions of an earlier boot not restored: a reboot ends them");
        }
        return Vec::new();
    }
    s.sessions
        .into_iter()
        .filter_map(|k| {
            let login = match k.login.as_str() {
                "local" => AuthMethod::Local,
                "ldap" => AuthMethod::Ldap,
                _ => None?,
            };
            let (Some(token_hash), Some(credential)) = (
                unhex(&k.token_sha256),
                k.credential.as_deref().map(unhex).map_or(Some(None), |c| c.map(Some)),
            ) else {
                tracing::warn!(path = %path.display(), session = %k.id, "kept session with a damaged hash: dropped");
                return None;
            };
            Some(KeptSession {
                info: SessionInfo {
                    id: k.id,
                    user: k.user,
                    role: k.role,
                    login,
                    created: UNIX_EPOCH + Duration::from_secs(k.created),
                    password_change_required: k.password_change_required,
                },
                token_hash,
                credential,
                last_used_ms: k.last_used_ms,
            })
        })
        .collect()
}

/// Keeps `sessions` in `path`, stamped with this boot: mode 0600, written
/// whole (new file, fsync, rename).
pub(crate) fn save(path: &Path, clock: &BootClock, sessions: &[KeptSession]) -> Result<(), String> {
    let stored = Stored {
        boot_id: clock.boot_id.clone(),
        sessions: sessions
            .iter()
            .filter_map(|k| {
                let i = &k.info;
                Some(StoredSession {
                    id: i.id.clone(),
                    user: i.user.clone(),
                    role: i.role,
                    login: method_name(i.login)?.to_string(),
                    created: i
                        .created
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                    password_change_required: i.password_change_required,
                    token_sha256: hex_lower(&k.token_hash),
                    credential: k.credential.map(|c| hex_lower(&c)),
                    last_used_ms: k.last_used_ms,
                })
            })
            .collect(),
    };
    super::kept::write_json(path, &stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(login: AuthMethod) -> KeptSession {
        KeptSession {
            info: SessionInfo {
                id: "0011223344556677".into(),
                user: "ops".into(),
                role: Role::Operator,
                login,
                created: UNIX_EPOCH + Duration::from_secs(1_796_000_000),
                password_change_required: false,
            },
            token_hash: [0xab; 32],
            credential: (login == AuthMethod::Local).then_some([0xcd; 32]),
            last_used_ms: 123_456,
        }
    }

    #[test]
    fn kept_within_a_boot_and_not_across_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/sessions.json");
        let boot = BootClock {
            boot_id: "one".into(),
            now_ms: 200_000,
        };
        assert!(load(&path, &boot).is_empty(), "missing");
        let kept = vec![session(AuthMethod::Local), session(AuthMethod::Ldap)];
        save(&path, &boot, &kept).unwrap();
        assert_eq!(load(&path, &boot), kept);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&"ab".repeat(32)), "the token's hash: {text}");
        let next = BootClock {
            boot_id: "two".into(),
            now_ms: 5_000,
        };
        assert!(load(&path, &next).is_empty(), "another boot");
        // Only logins make sessions: nothing else is kept.
        save(&path, &boot, &[session(AuthMethod::StaticToken)]).unwrap();
        assert!(load(&path, &boot).is_empty());
    }

    #[test]
    fn damaged_files_and_entries_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.json");
        let boot = BootClock {
            boot_id: "one".into(),
            now_ms: 1,
        };
        std::fs::write(&path, "{not json").unwrap();
        assert!(load(&path, &boot).is_empty());
        let mut bad = serde_json::to_value(Stored {
            boot_id: "one".into(),
            sessions: Vec::new(),
        })
        .unwrap();
        let entry = |hash: &str, login: &str| {
            serde_json::json!({
                "Id": "1", "UserName": "ops", "Role": "operator", "Login": login,
                "Created": 1, "PasswordChangeRequired": false,
                "TokenSha256": hash, "Credential": null, "LastUsedMs": 1,
            })
        };
        bad["Sessions"] = serde_json::json!([
            entry("zz", "local"),
            entry(&"0".repeat(64), "token"),
            entry(&"0".repeat(64), "local"),
        ]);
        std::fs::write(&path, bad.to_string()).unwrap();
        let kept = load(&path, &boot);
        assert_eq!(kept.len(), 1, "only the whole entry: {kept:?}");
        assert_eq!(kept[0].token_hash, [0; 32]);
        assert!(BootClock::read().is_some(), "Linux says both");
    }
}
