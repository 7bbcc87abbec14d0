//! One entry of the event log and the events the node records: power
//! actions, authentication failures, bus faults, a cleared log. Each has a
//! fixed message key (the Redfish `MessageId` is `OpenDCRE.1.0.<key>`), its
//! arguments, and the sentence built from them, so a reader of the file or
//! of Redfish sees the same text.

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
    /// The message key: `PowerAction`, `PowerActionFailed`,
    /// `AuthenticationFailed`, `BusFaults`, `LogCleared`, `UpdateInstalled`,
    /// `UpdateFailed`, `SubscriptionCreated`, `SubscriptionDeleted`,
    /// `SubscriptionTerminated`, `ManagerReset`.
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
        let (severity, key, outcome) = match result {
            Ok(r) => (Severity::OK, "PowerAction", clip(r)),
            Err(e) => (Severity::Warning, "PowerActionFailed", clip(e)),
        };
        let message = match result {
            Ok(_) => format!(
                "Power action '{action}' on system {system} by '{user}' through {}: {outcome}.",
                via.text()
            ),
            Err(_) => format!(
                "Power action '{action}' on system {system} by '{user}' through {} failed: {outcome}.",
                via.text()
            ),
        };
        Event {
            severity,
            key,
            message,
            args: vec![action, system.clone(), user, outcome],
            system: Some(system),
        }
    }

    /// A refused credential: the client's address and the reason (never the
    /// credential itself; the caller passes only what its log line says).
    pub fn auth_failure(address: &str, reason: &str) -> Event {
        let (address, reason) = (clip(address), clip(reason));
        Event {
            severity: Severity::Warning,
            key: "AuthenticationFailed",
            message: format!("Authentication from {address} failed: {reason}."),
            args: vec![address, reason],
            system: None,
        }
    }

    /// Bus faults counted over `secs` seconds: transactions without an
    /// answer, frames with a bad checksum, reopens of the port. One entry per
    /// interval however many there were.
    pub fn bus_faults(secs: u64, timeouts: u64, checksum_errors: u64, reopens: u64) -> Event {
        Event {
            severity: Severity::Warning,
            key: "BusFaults",
            message: format!(
                "Device bus faults in the last {secs} s: {timeouts} transactions without an answer, \
                 {checksum_errors} frames with a bad checksum, {reopens} reopens of the port."
            ),
            args: vec![
                timeouts.to_string(),
                checksum_errors.to_string(),
                reopens.to_string(),
            ],
            system: None,
        }
    }

    /// A RAUC bundle of `bytes` bytes pushed by `user` through the update
    /// service: installed, or why not (RAUC's reason).
    pub fn update(user: &str, bytes: u64, result: Result<&str, &str>) -> Event {
        let user = clip(user);
        let (severity, key, outcome) = match result {
            Ok(r) => (Severity::OK, "UpdateInstalled", clip(r)),
            Err(e) => (Severity::Warning, "UpdateFailed", clip(e)),
        };
        let message = match result {
            Ok(_) => {
                format!("A {bytes} byte update bundle from '{user}' was installed: {outcome}.")
            }
            Err(_) => {
                format!("A {bytes} byte update bundle from '{user}' was not installed: {outcome}.")
            }
        };
        Event {
            severity,
            key,
            message,
            args: vec![user, bytes.to_string(), outcome],
            system: None,
        }
    }

    /// A Redfish event subscription to `destination` was created or deleted
    /// by `user`, or ended by the node because its events could not be
    /// delivered: who receives the node's events is an operator's business.
    pub fn subscription(user: &str, destination: &str, change: SubscriptionChange<'_>) -> Event {
        let (user, dest) = (clip(user), clip(destination));
        let (severity, key, message, args) = match change {
            SubscriptionChange::Created => (
                Severity::OK,
                "SubscriptionCreated",
                format!("'{user}' subscribed {dest} to the node's events."),
                vec![user, dest],
            ),
            SubscriptionChange::Deleted => (
                Severity::OK,
                "SubscriptionDeleted",
                format!("'{user}' deleted the event subscription of {dest}."),
                vec![user, dest],
            ),
            SubscriptionChange::Terminated(why) => {
                let why = clip(why);
                (
                    Severity::Warning,
                    "SubscriptionTerminated",
                    format!(
                        "The event subscription of {dest} (created by '{user}') was ended: {why}."
                    ),
                    vec![user, dest, why],
                )
            }
        };
        Event {
            severity,
            key,
            message,
            args,
            system: None,
        }
    }

    /// `user` asked the node to restart (Redfish `Manager.Reset`).
    pub fn manager_reset(user: &str) -> Event {
        let user = clip(user);
        Event {
            severity: Severity::Warning,
            key: "ManagerReset",
            message: format!("'{user}' asked the node to restart (GracefulRestart)."),
            args: vec![user],
            system: None,
        }
    }

    /// `user` installed a new certificate for the node's HTTPS listeners
    /// (Redfish `ReplaceCertificate`): its subject and SHA-256 fingerprint,
    /// so the change can be matched with what clients now see.
    pub fn certificate_replaced(user: &str, subject: &str, fingerprint: &str) -> Event {
        let user = clip(user);
        let subject = clip(subject);
        let fingerprint = clip(fingerprint);
        Event {
            severity: Severity::Warning,
            key: "CertificateReplaced",
            message: format!(
                "'{user}' replaced the HTTPS certificate: now '{subject}', SHA-256 {fingerprint}."
            ),
            args: vec![user, subject, fingerprint],
            system: None,
        }
    }

    /// The log (or, with `system`, that system's entries) was cleared by
    /// `user`: the first entry after a clear.
    pub fn cleared(user: &str, system: Option<&str>) -> Event {
        let user = clip(user);
        let message = match system {
            None => format!("The event log was cleared by '{user}'."),
            Some(s) => {
                format!("The event log's entries about system {s} were cleared by '{user}'.")
            }
        };
        Event {
            severity: Severity::OK,
            key: "LogCleared",
            message,
            args: vec![user],
            system: system.map(clip),
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
