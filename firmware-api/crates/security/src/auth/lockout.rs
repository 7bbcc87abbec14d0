//! Locking a local account after failed logins (`[auth.lockout]`, the
//! Redfish account service's `AccountLockoutThreshold`).
//!
//! Counted per account name, and only for names that are local accounts
//! (the caller counts a wrong password of a known account), so the table
//! holds at most one entry per account however many names are guessed.
//! `threshold` failures in a row, each within `reset_after` of the one
//! before, lock the account for `duration`; a successful login clears the
//! count. Failures while the account is locked do not extend the lock: the
//! lock ends when it was promised to, whatever a guesser keeps sending.
//!
//! A locked account is refused even with its right password, and only then
//! told why (as a disabled account is): with a wrong one the answer is the
//! usual "invalid user name or password", so the lock tells nothing to
//! someone who does not know the password.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::LockoutConfig;

/// Failure counts and locks of local accounts.
pub(crate) struct Lockout {
    cfg: LockoutConfig,
    counts: Mutex<HashMap<String, Count>>,
}

struct Count {
    /// Failed logins in a row.
    failures: u32,
    /// The last one.
    last: Instant,
    /// When the threshold was reached, while it is locked.
    locked: Option<Instant>,
}

impl Lockout {
    pub(crate) fn new(cfg: LockoutConfig) -> Lockout {
        Lockout {
            cfg,
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn config(&self) -> LockoutConfig {
        self.cfg
    }

    fn on(&self) -> bool {
        self.cfg.threshold > 0 && self.cfg.duration_secs > 0
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(self.cfg.duration_secs)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Count>> {
        // The table holds plain counters: one a panicking holder left is
        // still a table of counters.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `name` is locked now.
    pub(crate) fn is_locked(&self, name: &str) -> bool {
        self.is_locked_at(name, Instant::now())
    }

    fn is_locked_at(&self, name: &str, now: Instant) -> bool {
        self.on()
            && self
                .table()
                .get(name)
                .and_then(|c| c.locked)
                .is_some_and(|at| now.saturating_duration_since(at) < self.duration())
    }

    /// Counts a wrong password of local account `name`. `Some(failures)`
    /// when this one locked it.
    pub(crate) fn failed(&self, name: &str) -> Option<u32> {
        self.failed_at(name, Instant::now())
    }

    fn failed_at(&self, name: &str, now: Instant) -> Option<u32> {
        if !self.on() {
            return None;
        }
        let fresh = Count {
            failures: 0,
            last: now,
            locked: None,
        };
        let mut table = self.table();
        let c = table.entry(name.to_string()).or_insert(fresh);
        match c.locked {
            Some(at) if now.saturating_duration_since(at) < self.duration() => return None,
            Some(_) => {
                c.failures = 0;
                c.locked = None;
            }
            None => {}
        }
        if now.saturating_duration_since(c.last) >= Duration::from_secs(self.cfg.reset_after_secs) {
            c.failures = 0;
        }
        c.failures = c.failures.saturating_add(1);
        c.last = now;
        if c.failures >= self.cfg.threshold {
            c.locked = Some(now);
            return Some(c.failures);
        }
        None
    }

    /// A successful login of `name` (not locked): its count starts again.
    pub(crate) fn succeeded(&self, name: &str) {
        if self.on() {
            self.table().remove(name);
        }
    }

    /// An administrator's unlock (Redfish `Locked: false`), or the account
    /// is gone: its count and lock are dropped. Whether it was locked.
    pub(crate) fn clear(&self, name: &str) -> bool {
        let now = Instant::now();
        let was = self.is_locked_at(name, now);
        self.table().remove(name);
        was
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout(threshold: u32) -> Lockout {
        Lockout::new(LockoutConfig {
            threshold,
            duration_secs: 300,
            reset_after_secs: 60,
        })
    }

    #[test]
    fn the_threshold_in_a_row_locks_for_the_duration_only() {
        let l = lockout(3);
        let t = Instant::now();
        assert_eq!(l.failed_at("ops", t), None);
        assert_eq!(l.failed_at("ops", t + Duration::from_secs(10)), None);
        assert!(!l.is_locked_at("ops", t + Duration::from_secs(10)));
        assert_eq!(l.failed_at("ops", t + Duration::from_secs(20)), Some(3));
        assert!(l.is_locked_at("ops", t + Duration::from_secs(20)));
        // More failures while locked neither count nor extend the lock.
        assert_eq!(l.failed_at("ops", t + Duration::from_secs(300)), None);
        assert!(l.is_locked_at("ops", t + Duration::from_secs(319)));
        assert!(!l.is_locked_at("ops", t + Duration::from_secs(320)));
        // After the lock a new series starts from nothing.
        assert_eq!(l.failed_at("ops", t + Duration::from_secs(321)), None);
        assert!(!l.is_locked_at("ops", t + Duration::from_secs(321)));
        // Other accounts are not touched.
        assert!(!l.is_locked_at("viewer", t + Duration::from_secs(20)));
    }

    #[test]
    fn a_pause_of_reset_after_starts_the_count_again() {
        let l = lockout(2);
        let t = Instant::now();
        assert_eq!(l.failed_at("ops", t), None);
        assert_eq!(l.failed_at("ops", t + Duration::from_secs(60)), None);
        assert_eq!(l.failed_at("ops", t + Duration::from_secs(61)), Some(2));
    }

    #[test]
    fn success_and_unlock_clear_the_count() {
        let l = lockout(2);
        assert_eq!(l.failed("ops"), None);
        l.succeeded("ops");
        assert_eq!(l.failed("ops"), None);
        assert_eq!(l.failed("ops"), Some(2));
        assert!(l.is_locked("ops"));
        assert!(l.clear("ops"));
        assert!(!l.is_locked("ops"));
        assert!(!l.clear("ops"));
    }

    #[test]
    fn threshold_zero_never_locks() {
        let l = lockout(0);
        for _ in 0..100 {
            assert_eq!(l.failed("ops"), None);
        }
        assert!(!l.is_locked("ops"));
        assert!(l.table().is_empty());
    }
}
