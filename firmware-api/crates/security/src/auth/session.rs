//! Login sessions (Redfish `SessionService`): a successful user name and
//! password login becomes a random token the client sends as
//! `X-Auth-Token` until it logs out or stays idle past the timeout.
//!
//! Held in memory, and kept in `[auth.sessions] state_file` when one is set
//! (`session_state`: a restart of the service within the same boot keeps
//! them); bounded: past `max` live sessions a login is refused, never an
//! older session dropped (dropping would let anyone log others out by
//! logging in repeatedly). Tokens are 256 random bits; only their SHA-256
//! is kept, and a presented token is compared with every stored hash in
//! constant time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use ring::rand::SecureRandom;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::credentials::Secret;
use super::principal::{AuthMethod, Principal};
use super::role::Role;
use super::session_state::{self, BootClock, KeptSession};
use crate::tls::hex_lower;

/// What every session token starts with: a token in `X-Auth-Token`
/// without it is not a session's (see `Security::decide`).
pub const SESSION_TOKEN_PREFIX: &str = "odcrs_";

/// A session as shown to clients: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Random, unrelated to the token: it appears in URIs and logs.
    pub id: String,
    pub user: String,
    pub role: Role,
    /// How the user logged in (local account or LDAP).
    pub login: AuthMethod,
    pub created: SystemTime,
    /// The account must change its password first (as at login: any
    /// change of the account ends its sessions, so this cannot go stale).
    pub password_change_required: bool,
}

struct Entry {
    info: SessionInfo,
    token_hash: [u8; 32],
    last_used: Instant,
    /// Idle time it had when a restart of the service restored it, counted
    /// until its next use.
    idle_before: Duration,
    /// A local login's: the SHA-256 of the account's password hash when it
    /// logged in, so that a password changed while the service was down
    /// ends the session as a change at run time does.
    credential: Option<[u8; 32]>,
}

impl Entry {
    fn idle(&self, now: Instant) -> Duration {
        now.duration_since(self.last_used) + self.idle_before
    }
}

/// Why a session was not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// `max` sessions are live.
    Full { max: usize },
    /// The system random source failed.
    Random,
}

pub struct SessionStore {
    /// The idle timeout in milliseconds: an administrator may change it at
    /// run time (Redfish `SessionTimeout`), for live sessions too.
    timeout_ms: AtomicU64,
    max: usize,
    entries: Mutex<Vec<Entry>>,
    /// `[auth.sessions] state_file`: `None` when sessions end with the
    /// process.
    state_file: Option<PathBuf>,
    /// Held while the file is written, so that writes land in order.
    writing: Mutex<()>,
}

impl SessionStore {
    pub(crate) fn new(timeout: Duration, max: usize) -> SessionStore {
        SessionStore {
            timeout_ms: AtomicU64::new(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
            max,
            entries: Mutex::new(Vec::new()),
            state_file: None,
            writing: Mutex::new(()),
        }
    }

    /// Keeps the sessions in `path` from now on (see `session_state`).
    pub(crate) fn kept_in(mut self, path: Option<PathBuf>) -> SessionStore {
        self.state_file = path;
        self
    }

    /// Restores the sessions this boot kept, those `accept` still allows
    /// (their account unchanged) and not idle past the timeout; returns
    /// how many. The file is written again when some were not restored.
    pub(crate) fn restore(&self, accept: impl Fn(&KeptSession) -> bool) -> usize {
        let (Some(path), Some(clock)) = (&self.state_file, BootClock::read()) else {
            return 0;
        };
        let timeout = self.timeout();
        let now = Instant::now();
        let mut restored = 0;
        let kept = session_state::load(path, &clock);
        let found = kept.len();
        {
            let mut entries = self.lock();
            for k in kept {
                let idle = Duration::from_millis(clock.now_ms.saturating_sub(k.last_used_ms));
                let why_not = if idle >= timeout {
                    Some("idle past the timeout")
                } else if !accept(&k) {
                    Some("its account changed")
                } else if entries.len() >= self.max {
                    Some("more sessions than [auth.sessions] max")
                } else {
                    None
                };
                if let Some(why) = why_not {
                    tracing::info!(session = %k.info.id, user = ?k.info.user, "kept session not restored: {why}");
                    continue;
                }
                entries.push(Entry {
                    info: k.info,
                    token_hash: k.token_hash,
                    last_used: now,
                    idle_before: idle,
                    credential: k.credential,
                });
                restored += 1;
            }
        }
        if restored != found {
            self.save();
        }
        restored
    }

    /// Writes the live sessions, with how long each has been idle, to the
    /// state file (if any): after each login and logout, and when the
    /// service stops. A failed write is logged; the sessions stay.
    pub fn save(&self) {
        let Some(path) = &self.state_file else {
            return;
        };
        let Some(clock) = BootClock::read() else {
            return;
        };
        let _order = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let kept: Vec<KeptSession> = {
            let mut entries = self.lock();
            self.purge(&mut entries, now);
            entries
                .iter()
                .map(|e| {
                    let idle = u64::try_from(e.idle(now).as_millis()).unwrap_or(u64::MAX);
                    KeptSession {
                        info: e.info.clone(),
                        token_hash: e.token_hash,
                        credential: e.credential,
                        last_used_ms: clock.now_ms.saturating_sub(idle),
                    }
                })
                .collect()
        };
        // Nothing to keep and no file yet: none is made (a node that never
        // had a session leaves nothing behind).
        if kept.is_empty() && !path.exists() {
            return;
        }
        if let Err(e) = session_state::save(path, &clock, &kept) {
            tracing::error!(path = %path.display(), "sessions not kept: {e}");
        }
    }

    /// The idle timeout: a session unused this long is gone.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed))
    }

    /// A new idle timeout, in force at once: a live session idle longer
    /// than it is gone at the next look.
    pub(crate) fn set_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.timeout_ms.store(ms, Ordering::Relaxed);
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn purge(&self, entries: &mut Vec<Entry>, now: Instant) {
        let timeout = self.timeout();
        entries.retain(|e| {
            let live = e.idle(now) < timeout;
            if !live {
                tracing::info!(session = %e.info.id, user = ?e.info.user, "session expired");
            }
            live
        });
    }

    /// A new session for an authenticated `principal` (`credential`: see
    /// `Entry`); the token is returned once, here, for the login's answer,
    /// and never kept.
    pub(crate) fn create(
        &self,
        principal: &Principal,
        credential: Option<[u8; 32]>,
    ) -> Result<(SessionInfo, String), SessionError> {
        let rng = ring::rand::SystemRandom::new();
        let mut raw = [0u8; 32];
        let mut id = [0u8; 8];
        rng.fill(&mut raw).map_err(|_| SessionError::Random)?;
        rng.fill(&mut id).map_err(|_| SessionError::Random)?;
        let token = format!(
            "{SESSION_TOKEN_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let info = SessionInfo {
            id: hex_lower(&id),
            user: principal.name.clone(),
            role: principal.role,
            login: principal.method,
            created: SystemTime::now(),
            password_change_required: principal.password_change_required,
        };
        let now = Instant::now();
        let mut entries = self.lock();
        self.purge(&mut entries, now);
        if entries.len() >= self.max {
            return Err(SessionError::Full { max: self.max });
        }
        entries.push(Entry {
            info: info.clone(),
            token_hash: Sha256::digest(token.as_bytes()).into(),
            last_used: now,
            idle_before: Duration::ZERO,
            credential,
        });
        drop(entries);
        self.save();
        Ok((info, token))
    }

    /// The session `token` belongs to, its idle time restarted; `None`
    /// for an unknown or expired token.
    pub(crate) fn verify(&self, token: &Secret) -> Option<SessionInfo> {
        let digest: [u8; 32] = Sha256::digest(token.expose().as_bytes()).into();
        let now = Instant::now();
        let mut entries = self.lock();
        self.purge(&mut entries, now);
        // Every entry is compared, so timing does not say which came close.
        let mut found = None;
        for (i, e) in entries.iter().enumerate() {
            if bool::from(e.token_hash.ct_eq(&digest)) {
                found = Some(i);
            }
        }
        let e = &mut entries[found?];
        e.last_used = now;
        e.idle_before = Duration::ZERO;
        Some(e.info.clone())
    }

    /// Live sessions, oldest first.
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut entries = self.lock();
        self.purge(&mut entries, Instant::now());
        entries.iter().map(|e| e.info.clone()).collect()
    }

    pub fn get(&self, id: &str) -> Option<SessionInfo> {
        self.list().into_iter().find(|s| s.id == id)
    }

    /// Ends every session `user` opened by logging in with `login` (an
    /// account changed or deleted).
    pub fn remove_user(&self, user: &str, login: AuthMethod) {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|e| !(e.info.user == user && e.info.login == login));
        let changed = entries.len() != before;
        drop(entries);
        if changed {
            self.save();
        }
    }

    /// Ends a session (logout); `false` if there was none with this id.
    pub fn remove(&self, id: &str) -> bool {
        let mut entries = self.lock();
        self.purge(&mut entries, Instant::now());
        let before = entries.len();
        entries.retain(|e| e.info.id != id);
        let removed = entries.len() != before;
        drop(entries);
        if removed {
            self.save();
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Principal {
        Principal {
            name: "alice".into(),
            role: Role::Reader,
            method: AuthMethod::Local,
            password_change_required: false,
        }
    }

    #[test]
    fn create_verify_remove() {
        let s = SessionStore::new(Duration::from_secs(60), 2);
        let (a, ta) = s.create(&alice(), None).unwrap();
        let (b, tb) = s.create(&alice(), None).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(ta, tb);
        assert!(ta.len() == 6 + 43 && ta.starts_with("odcrs_"));
        let ta = Secret::new(ta);
        assert_eq!(s.create(&alice(), None), Err(SessionError::Full { max: 2 }));
        assert_eq!(s.verify(&ta).map(|i| i.id), Some(a.id.clone()));
        assert_eq!(s.verify(&Secret::new("odcrs_x")), None);
        assert!(s.remove(&a.id));
        assert!(!s.remove(&a.id));
        assert_eq!(s.verify(&ta), None);
        assert_eq!(s.list().len(), 1);
        assert!(s.create(&alice(), None).is_ok(), "room again");
    }

    #[test]
    fn idle_sessions_expire_and_use_slides_the_timeout() {
        let s = SessionStore::new(Duration::from_millis(150), 4);
        let t = Secret::new(s.create(&alice(), None).unwrap().1);
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(80));
            assert!(s.verify(&t).is_some(), "used within the timeout");
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(s.verify(&t), None);
        assert!(s.list().is_empty());
    }

    #[test]
    fn a_shorter_timeout_ends_idle_sessions_at_once() {
        let s = SessionStore::new(Duration::from_secs(60), 4);
        let t = Secret::new(s.create(&alice(), None).unwrap().1);
        std::thread::sleep(Duration::from_millis(60));
        assert!(s.verify(&t).is_some());
        s.set_timeout(Duration::from_millis(30));
        assert_eq!(s.timeout(), Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(s.verify(&t), None, "idle longer than the new timeout");
    }
}
