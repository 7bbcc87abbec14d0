//! One entry of the event log and the events the node records: power
//! actions, authentication failures, bus faults, a cleared log. Each has a
//! message key of the node's registry (`messages`; the Redfish `MessageId`
//! is `OpenDCRE.1.2.<key>`), its arguments, and the sentence the registry's
//! template makes of them, so a reader of the file, of Redfish or of the
//! registry sees the same text.

use serde::{Deserialize, Serialize};

/// Longest text kept of one argument: an entry is one short line, whatever
/// a client sent (a user name, a reason) or a device answered.
const MAX_ARG_CHARS: usize = 256;

/// How bad the condition an entry records is (Redfish `EventSeverity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    OK,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::OK => "OK",
            Severity::Warning => "Warning",
            Severity::Critical => "Critical",
        }
    }
}

/// One line of the log file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Increasing over the life of the file (a clear does not restart it),
    /// so an id names one entry for good.
    pub id: u64,
    /// When it was recorded: Unix time in milliseconds, the node's clock.
    pub created_ms: u64,
    pub severity: Severity,
    /// The message key, one of [`crate::MESSAGES`] (`PowerAction`,
    /// `LogCleared`, …); entries written before a key was renamed keep
    /// theirs.
    pub key: String,
    pub message: String,
    pub args: Vec<String>,
    /// The computer system the entry is about (`00000001-16ff`), if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}

/// What a caller records; the log gives it an id and a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub severity: Severity,
    pub key: &'static str,
    pub message: String,
    pub args: Vec<String>,
    pub system: Option<String>,
}

/// What happened to an event subscription ([`Event::subscription`]).
#[derive(Debug, Clone, Copy)]
pub enum SubscriptionChange<'a> {
    Created,
    Deleted,
    /// Ended by the node; the reason.
    Terminated(&'a str),
}

/// Who asked for a power action and through which API.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    V11,
    Redfish,
}

impl Via {
    fn text(self) -> &'static str {
        match self {
            Via::V11 => "the v1.1 API",
            Via::Redfish => "Redfish",
        }
    }
}

impl Event {
    /// The entry of registry message `key` with `args`: its severity and
    /// its sentence come from [`crate::MESSAGES`]. Every constructor goes
    /// through here, so a key without a registry message is a bug caught
    /// by the tests, never a text that differs from the registry's.
    fn of(key: &'static str, args: Vec<String>, system: Option<String>) -> Event {
        match crate::messages::message(key) {
            Some(def) => Event {
                severity: def.severity,
                key: def.key,
                message: def.fill(&args),
                args,
                system,
            },
            None => {
                debug_assert!(false, "message {key} is not in the registry");
                Event {
                    severity: Severity::Warning,
                    key,
                    message: format!("{key}: {}", args.join(", ")),
                    args,
                    system,
                }
            }
        }
    }

    /// A power action on `system` (`on`, `off`, `cycle`, `ForceRestart`, …)
    /// by `user`; `result` is what the device answered or why it failed.
    pub fn power(
        user: &str,
        via: Via,
        system: &str,
        action: &str,
        result: Result<&str, &str>,
    ) -> Event {
        let (user, system, action) = (clip(user), clip(system), clip(action));
        let (key, outcome) = match result {
            Ok(r) => ("PowerAction", clip(r)),
            Err(e) => ("PowerActionFailed", clip(e)),
        };
        let args = vec![
            action,
            system.clone(),
            user,
            outcome,
            via.text().to_string(),
        ];
        Event::of(key, args, Some(system))
    }

    /// A refused credential: the client's address and the reason (never the
    /// credential itself; the caller passes only what its log line says).
    pub fn auth_failure(address: &str, reason: &str) -> Event {
        Event::of(
            "AuthenticationFailed",
            vec![clip(address), clip(reason)],
            None,
        )
    }

    /// Bus faults counted over `secs` seconds: transactions without an
    /// answer, frames with a bad checksum, reopens of the port. One entry per
    /// interval however many there were.
    pub fn bus_faults(secs: u64, timeouts: u64, checksum_errors: u64, reopens: u64) -> Event {
        let args = [timeouts, checksum_errors, reopens, secs]
            .iter()
            .map(u64::to_string)
            .collect();
        Event::of("BusFaults", args, None)
    }

    /// A RAUC bundle of `bytes` bytes pushed by `user` through the update
    /// service: installed, or why not (RAUC's reason).
    pub fn update(user: &str, bytes: u64, result: Result<&str, &str>) -> Event {
        let (key, outcome) = match result {
            Ok(r) => ("UpdateInstalled", clip(r)),
            Err(e) => ("UpdateFailed", clip(e)),
        };
        Event::of(key, vec![clip(user), bytes.to_string(), outcome], None)
    }

    /// A Redfish event subscription to `destination` was created or deleted
    /// by `user`, or ended by the node because its events could not be
    /// delivered: who receives the node's events is an operator's business.
    pub fn subscription(user: &str, destination: &str, change: SubscriptionChange<'_>) -> Event {
        let (user, dest) = (clip(user), clip(destination));
        match change {
            SubscriptionChange::Created => Event::of("SubscriptionCreated", vec![user, dest], None),
            SubscriptionChange::Deleted => Event::of("SubscriptionDeleted", vec![user, dest], None),
            SubscriptionChange::Terminated(why) => {
                Event::of("SubscriptionTerminated", vec![user, dest, clip(why)], None)
            }
        }
    }

    /// `user` asked the node to restart (Redfish `Manager.Reset`).
    pub fn manager_reset(user: &str) -> Event {
        Event::of("ManagerReset", vec![clip(user)], None)
    }

    /// `user` asked for new network settings of the node (Redfish `PATCH`
    /// of its interface); `settings`: the `key=value` pairs asked for.
    /// Logged before they apply: a new address can cut the node off.
    pub fn network_settings(user: &str, settings: &str) -> Event {
        Event::of(
            "NetworkSettingsChanged",
            vec![clip(user), clip(settings)],
            None,
        )
    }

    /// `user` installed a new certificate for the node's HTTPS listeners
    /// (Redfish `ReplaceCertificate`): its subject and SHA-256 fingerprint,
    /// so the change can be matched with what clients now see.
    pub fn certificate_replaced(user: &str, subject: &str, fingerprint: &str) -> Event {
        let args = vec![clip(user), clip(subject), clip(fingerprint)];
        Event::of("CertificateReplaced", args, None)
    }

    /// `user` had the node make a new key and a signing request for the
    /// subject `common_name` (`GenerateCSR`).
    pub fn certificate_request(user: &str, common_name: &str) -> Event {
        Event::of(
            "CertificateRequestMade",
            vec![clip(user), clip(common_name)],
            None,
        )
    }

    /// `user` stopped task `task` before it ended; `not_done`: what it had
    /// not done yet (for a group reset, the systems it did not reach).
    pub fn task_cancelled(user: &str, task: u64, not_done: &str) -> Event {
        Event::of(
            "TaskCancelled",
            vec![clip(user), task.to_string(), clip(not_done)],
            None,
        )
    }

    /// `user` removed the replaced certificate: the configured one, `subject`
    /// with `fingerprint`, is served again.
    pub fn certificate_restored(user: &str, subject: &str, fingerprint: &str) -> Event {
        Event::of(
            "CertificateRestored",
            vec![clip(user), clip(subject), clip(fingerprint)],
            None,
        )
    }

    /// `user` made local account `account` with Redfish role `role`.
    pub fn account_created(user: &str, account: &str, role: &str) -> Event {
        Event::of(
            "AccountCreated",
            vec![clip(user), clip(account), clip(role)],
            None,
        )
    }

    /// `user` changed local account `account`; `what`: the properties and
    /// their new values, a password only by name.
    pub fn account_changed(user: &str, account: &str, what: &str) -> Event {
        Event::of(
            "AccountChanged",
            vec![clip(user), clip(account), clip(what)],
            None,
        )
    }

    /// `user` set the session idle timeout (Redfish `SessionTimeout`).
    pub fn session_timeout_changed(user: &str, secs: u64) -> Event {
        Event::of(
            "SessionTimeoutChanged",
            vec![clip(user), secs.to_string()],
            None,
        )
    }

    /// Local account `account` was locked after `failures` failed logins
    /// in a row, for `secs` seconds (`[auth.lockout]`).
    pub fn account_locked(account: &str, failures: u32, secs: u64) -> Event {
        Event::of(
            "AccountLocked",
            vec![clip(account), failures.to_string(), secs.to_string()],
            None,
        )
    }

    /// Local account `account` was locked after `failures` failed logins
    /// in a row, until an administrator unlocks it (the lockout policy's
    /// counter reset is off).
    pub fn account_locked_until_unlocked(account: &str, failures: u32) -> Event {
        Event::of(
            "AccountLockedUntilUnlocked",
            vec![clip(account), failures.to_string()],
            None,
        )
    }

    /// `user` set the account lockout policy (Redfish `AccountService`):
    /// threshold, duration, counter reset after, counter reset enabled.
    pub fn lockout_policy_changed(
        user: &str,
        threshold: u32,
        duration_secs: u64,
        reset_after_secs: u64,
        counter_reset_enabled: bool,
    ) -> Event {
        Event::of(
            "AccountLockoutChanged",
            vec![
                clip(user),
                threshold.to_string(),
                duration_secs.to_string(),
                reset_after_secs.to_string(),
                counter_reset_enabled.to_string(),
            ],
            None,
        )
    }

    /// `user` deleted local account `account`.
    pub fn account_deleted(user: &str, account: &str) -> Event {
        Event::of("AccountDeleted", vec![clip(user), clip(account)], None)
    }

    /// `user` cleared the SEL of BMC system `system` (its `ClearLog`):
    /// the BMC's own log says only that it was cleared, this says who.
    pub fn sel_cleared(user: &str, system: &str) -> Event {
        let system = clip(system);
        Event::of("SelCleared", vec![clip(user), system.clone()], Some(system))
    }

    /// The log (or, with `system`, that system's entries) was cleared by
    /// `user`: the first entry after a clear.
    pub fn cleared(user: &str, system: Option<&str>) -> Event {
        let user = clip(user);
        match system {
            None => Event::of("LogCleared", vec![user], None),
            Some(s) => {
                let system = clip(s);
                Event::of("SystemLogCleared", vec![user, system.clone()], Some(system))
            }
        }
    }
}

/// At most [`MAX_ARG_CHARS`] characters, control characters replaced, so
/// one entry stays one readable line.
fn clip(text: &str) -> String {
    text.chars()
        .take(MAX_ARG_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_events_say_who_how_big_and_how_it_ended() {
        let ok = Event::update("ops", 1024, Ok("installed"));
        assert_eq!((ok.key, ok.severity), ("UpdateInstalled", Severity::OK));
        assert_eq!(
            ok.message,
            "A 1024 byte update bundle from 'ops' was installed: installed."
        );
        let bad = Event::update("ops", 7, Err("signature\nverification failed"));
        assert_eq!((bad.key, bad.severity), ("UpdateFailed", Severity::Warning));
        assert_eq!(bad.args, ["ops", "7", "signature verification failed"]);
    }

    #[test]
    fn power_events_say_who_what_where_and_how_it_ended() {
        let e = Event::power("ops", Via::V11, "00000001-16ff", "on", Ok("power on"));
        assert_eq!(e.key, "PowerAction");
        assert_eq!(e.severity, Severity::OK);
        assert_eq!(
            e.message,
            "Power action 'on' on system 00000001-16ff by 'ops' through the v1.1 API: power on."
        );
        assert_eq!(e.system.as_deref(), Some("00000001-16ff"));
        let f = Event::power(
            "ops",
            Via::Redfish,
            "40000000-0001",
            "ForceOff",
            Err("timeout"),
        );
        assert_eq!(f.key, "PowerActionFailed");
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.message.ends_with("through Redfish failed: timeout."));
    }

    #[test]
    fn arguments_are_clipped_and_one_line() {
        let long = "x".repeat(1000);
        let e = Event::auth_failure("10.0.0.1", &format!("bad\ntoken {long}"));
        assert_eq!(e.args[1].chars().count(), MAX_ARG_CHARS);
        assert!(!e.message.contains('\n'));
    }
}
