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
use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

/// The largest `threshold`: more failed logins in a row than this are
/// guessing, whatever the policy.
pub const LOCKOUT_THRESHOLD_MAX: u32 = 1000;
/// What the lock's duration and the counter reset may be, in seconds.
pub const LOCKOUT_SECS_RANGE: RangeInclusive<u64> = 1..=86_400;

/// A lockout policy: the configuration's `[auth.lockout]` numbers, or the
/// ones an administrator set through Redfish (serialized with Redfish's
/// names, which is how the settings file keeps them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Failed logins in a row that lock an account; 0: never locked.
    #[serde(rename = "AccountLockoutThreshold")]
    pub threshold: u32,
    /// Seconds a locked account stays locked.
    #[serde(rename = "AccountLockoutDuration")]
    pub duration_secs: u64,
    /// Seconds after the last failed login when the count starts again.
    #[serde(rename = "AccountLockoutCounterResetAfter")]
    pub reset_after_secs: u64,
    /// `false`: only a successful login starts the count again, and a
    /// locked account stays locked until an administrator unlocks it (the
    /// two durations are then not used).
    #[serde(rename = "AccountLockoutCounterResetEnabled", default = "yes")]
    pub counter_reset_enabled: bool,
}

fn yes() -> bool {
    true
}

/// One of a policy's numbers, named as the configuration and as Redfish
/// name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutField {
    Threshold,
    Duration,
    ResetAfter,
}

impl LockoutField {
    pub fn config_key(self) -> &'static str {
        match self {
            LockoutField::Threshold => "threshold",
            LockoutField::Duration => "duration_secs",
            LockoutField::ResetAfter => "reset_after_secs",
        }
    }

    pub fn redfish_name(self) -> &'static str {
        match self {
            LockoutField::Threshold => "AccountLockoutThreshold",
            LockoutField::Duration => "AccountLockoutDuration",
            LockoutField::ResetAfter => "AccountLockoutCounterResetAfter",
        }
    }
}

impl LockoutPolicy {
    /// Whether accounts lock at all under this policy.
    pub fn is_on(&self) -> bool {
        self.threshold > 0 && self.duration_secs > 0
    }

    /// Whether the numbers are ones Redfish allows: a threshold up to
    /// [`LOCKOUT_THRESHOLD_MAX`], a duration and a reset within
    /// [`LOCKOUT_SECS_RANGE`], the reset no longer than the lock (the
    /// count must start again before or when the lock ends). Checked also
    /// while the threshold is 0, so turning it on cannot meet bad numbers.
    pub fn check(&self) -> Result<(), (LockoutField, String)> {
        if self.threshold > LOCKOUT_THRESHOLD_MAX {
            return Err((
                LockoutField::Threshold,
                format!("must be between 0 (off) and {LOCKOUT_THRESHOLD_MAX}"),
            ));
        }
        for (field, v) in [
            (LockoutField::Duration, self.duration_secs),
            (LockoutField::ResetAfter, self.reset_after_secs),
        ] {
            if !LOCKOUT_SECS_RANGE.contains(&v) {
                return Err((
                    field,
                    format!("must be within {LOCKOUT_SECS_RANGE:?} seconds"),
                ));
            }
        }
        if self.reset_after_secs > self.duration_secs {
            return Err((
                LockoutField::ResetAfter,
                "must not be longer than the lock's duration (Redfish: the counter resets no later than the lock ends)".into(),
            ));
        }
        Ok(())
    }
}

/// Failure counts and locks of local accounts.
pub(crate) struct Lockout {
    policy: Mutex<LockoutPolicy>,
    counts: Mutex<HashMap<String, Count>>,
}

struct Count {
    /// Failed logins in a row.
    failures: u32,
    /// The last one.
    last: Instant,
    /// When the threshold was reached, while it is locked.
    locked: Option<Instant>,
    /// The same on the wall clock, which is what the locks file keeps.
    locked_wall: Option<SystemTime>,
}

impl Lockout {
    pub(crate) fn new(policy: LockoutPolicy) -> Lockout {
        Lockout {
            policy: Mutex::new(policy),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> LockoutPolicy {
        *self.policy.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new policy, in force at once: counts and locks are kept and judged
    /// by it (a shorter duration ends a lock sooner; threshold 0 opens
    /// every account).
    pub(crate) fn set_policy(&self, policy: LockoutPolicy) {
        *self.policy.lock().unwrap_or_else(|e| e.into_inner()) = policy;
    }

    /// Whether a lock made at `at` still holds at `now`.
    fn holds(p: &LockoutPolicy, at: Instant, now: Instant) -> bool {
        !p.counter_reset_enabled
            || now.saturating_duration_since(at) < Duration::from_secs(p.duration_secs)
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
        let p = self.policy();
        p.is_on()
            && self
                .table()
                .get(name)
                .and_then(|c| c.locked)
                .is_some_and(|at| Self::holds(&p, at, now))
    }

    /// Counts a wrong password of local account `name`. `Some(failures)`
    /// when this one locked it.
    pub(crate) fn failed(&self, name: &str) -> Option<u32> {
        self.failed_at(name, Instant::now())
    }

    fn failed_at(&self, name: &str, now: Instant) -> Option<u32> {
        let p = self.policy();
        if !p.is_on() {
            return None;
        }
        let fresh = Count {
            failures: 0,
            last: now,
            locked: None,
            locked_wall: None,
        };
        let mut table = self.table();
        let c = table.entry(name.to_string()).or_insert(fresh);
        match c.locked {
            Some(at) if Self::holds(&p, at, now) => return None,
            Some(_) => {
                c.failures = 0;
                c.locked = None;
            }
            None => {}
        }
        if p.counter_reset_enabled
            && now.saturating_duration_since(c.last) >= Duration::from_secs(p.reset_after_secs)
        {
            c.failures = 0;
        }
        c.failures = c.failures.saturating_add(1);
        c.last = now;
        if c.failures >= p.threshold {
            c.locked = Some(now);
            c.locked_wall = Some(SystemTime::now());
            return Some(c.failures);
        }
        None
    }

    /// The accounts locked now and when they were locked (wall clock), for
    /// the locks file.
    pub(crate) fn locks(&self) -> Vec<(String, SystemTime)> {
        let p = self.policy();
        let now = Instant::now();
        let mut locks: Vec<_> = self
            .table()
            .iter()
            .filter_map(|(name, c)| match (c.locked, c.locked_wall) {
                (Some(at), Some(wall)) if p.is_on() && Self::holds(&p, at, now) => {
                    Some((name.clone(), wall))
                }
                _ => None,
            })
            .collect();
        locks.sort();
        locks
    }

    /// Locks read back at start (the locks file): each holds for what is
    /// left of it by the wall clock. A clock that went back (a Pi has no
    /// real-time clock before NTP) counts as no time passed; a lock older
    /// than the monotonic clock (the node itself restarted) starts its
    /// duration again, the longer of the two readings.
    pub(crate) fn restore(&self, locks: &[(String, SystemTime)]) {
        let p = self.policy();
        if !p.is_on() {
            return;
        }
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let mut table = self.table();
        for (name, wall) in locks {
            let elapsed = wall_now.duration_since(*wall).unwrap_or(Duration::ZERO);
            if p.counter_reset_enabled && elapsed >= Duration::from_secs(p.duration_secs) {
                continue;
            }
            let at = now.checked_sub(elapsed).unwrap_or(now);
            table.insert(
                name.clone(),
                Count {
                    failures: p.threshold,
                    last: now,
                    locked: Some(at),
                    locked_wall: Some(*wall),
                },
            );
        }
    }

    /// A successful login of `name` (not locked): its count starts again.
    pub(crate) fn succeeded(&self, name: &str) {
        if self.policy().is_on() {
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
        Lockout::new(LockoutPolicy {
            threshold,
            duration_secs: 300,
            reset_after_secs: 60,
            counter_reset_enabled: true,
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
    fn a_new_policy_judges_the_locks_there_are() {
        let l = lockout(2);
        let t = Instant::now();
        l.failed_at("ops", t);
        assert_eq!(l.failed_at("ops", t), Some(2));
        let p = l.policy();
        l.set_policy(LockoutPolicy {
            duration_secs: 30,
            reset_after_secs: 30,
            ..p
        });
        assert!(l.is_locked_at("ops", t + Duration::from_secs(29)));
        assert!(!l.is_locked_at("ops", t + Duration::from_secs(30)));
        l.set_policy(LockoutPolicy { threshold: 0, ..p });
        assert!(!l.is_locked_at("ops", t));
    }

    #[test]
    fn without_counter_reset_only_a_success_or_an_administrator_ends_it() {
        let l = lockout(2);
        l.set_policy(LockoutPolicy {
            counter_reset_enabled: false,
            ..l.policy()
        });
        let t = Instant::now();
        let day = Duration::from_secs(86_400);
        assert_eq!(l.failed_at("ops", t), None);
        // A day later the first failure still counts.
        assert_eq!(l.failed_at("ops", t + day), Some(2));
        assert!(l.is_locked_at("ops", t + day * 30));
        assert_eq!(l.failed_at("ops", t + day * 30), None);
        assert!(l.clear("ops"));
        assert!(!l.is_locked_at("ops", t + day * 30));
        assert_eq!(l.failed_at("viewer", t), None);
        l.succeeded("viewer");
        assert_eq!(l.failed_at("viewer", t), None);
    }

    #[test]
    fn policies_redfish_allows() {
        let ok = LockoutPolicy {
            threshold: 5,
            duration_secs: 600,
            reset_after_secs: 600,
            counter_reset_enabled: true,
        };
        assert_eq!(ok.check(), Ok(()));
        let field = |p: LockoutPolicy| p.check().unwrap_err().0;
        assert_eq!(
            field(LockoutPolicy {
                threshold: 1001,
                ..ok
            }),
            LockoutField::Threshold
        );
        assert_eq!(
            field(LockoutPolicy {
                duration_secs: 0,
                ..ok
            }),
            LockoutField::Duration
        );
        assert_eq!(
            field(LockoutPolicy {
                duration_secs: 86_401,
                reset_after_secs: 1,
                ..ok
            }),
            LockoutField::Duration
        );
        assert_eq!(
            field(LockoutPolicy {
                reset_after_secs: 0,
                ..ok
            }),
            LockoutField::ResetAfter
        );
        assert_eq!(
            field(LockoutPolicy {
                reset_after_secs: 601,
                ..ok
            }),
            LockoutField::ResetAfter
        );
        // Off, yet checked.
        assert_eq!(
            field(LockoutPolicy {
                threshold: 0,
                duration_secs: 0,
                ..ok
            }),
            LockoutField::Duration
        );
    }

    #[test]
    fn locks_are_listed_and_restored_by_the_wall_clock() {
        let l = lockout(1);
        assert_eq!(l.failed("ops"), Some(1));
        assert_eq!(l.failed("viewer"), Some(1));
        let locks = l.locks();
        assert_eq!(
            locks.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["ops", "viewer"]
        );
        assert!(l.clear("viewer"));
        assert_eq!(l.locks().len(), 1);

        let after = lockout(1);
        let long_ago = SystemTime::now() - Duration::from_secs(301);
        let future = SystemTime::now() + Duration::from_secs(3600);
        after.restore(&[
            ("ops".into(), locks[0].1),
            ("old".into(), long_ago),
            ("skewed".into(), future),
        ]);
        assert!(after.is_locked("ops"));
        assert!(!after.is_locked("old"), "its 300 s are over");
        assert!(
            after.is_locked("skewed"),
            "a clock gone back: no time passed"
        );
        // Without the counter reset even an old lock holds.
        let forever = lockout(1);
        forever.set_policy(LockoutPolicy {
            counter_reset_enabled: false,
            ..forever.policy()
        });
        forever.restore(&[("old".into(), long_ago)]);
        assert!(forever.is_locked("old"));
        // Off: nothing is restored.
        let off = lockout(0);
        off.restore(&[("ops".into(), locks[0].1)]);
        assert!(off.table().is_empty());
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
