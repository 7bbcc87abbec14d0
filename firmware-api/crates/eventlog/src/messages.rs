//! The node's message registry, `OpenDCRE.1.2`: every message key an entry
//! (or an update task) carries, with its sentence as a template. Entries
//! are made by filling the template with their arguments
//! ([`MessageDef::fill`]), so the text in the log file, in Redfish
//! `LogEntry`/`Event` bodies and in the served registry
//! (`/redfish/v1/Registries/OpenDCRE`) cannot drift apart.

use crate::Severity;

/// The registry's prefix and version: Redfish `MessageId`s are
/// `OpenDCRE.1.2.<key>`.
pub const REGISTRY: &str = "OpenDCRE";
pub const REGISTRY_VERSION: &str = "1.2.0";

/// One message: `%1`, `%2`… in `template` are its arguments, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageDef {
    pub key: &'static str,
    pub description: &'static str,
    pub template: &'static str,
    pub severity: Severity,
    /// What each argument is, for the registry's `ParamTypes`
    /// (`string` or `number`) and its `ArgDescriptions`.
    pub args: &'static [(&'static str, &'static str)],
    pub resolution: &'static str,
}

impl MessageDef {
    /// The sentence with `args` in place of `%1`, `%2`…; the last first,
    /// so `%1` never eats the start of `%10`.
    pub fn fill(&self, args: &[String]) -> String {
        let mut text = self.template.to_string();
        for (i, a) in args.iter().enumerate().rev() {
            text = text.replace(&format!("%{}", i + 1), a);
        }
        text
    }
}

const S: &str = "string";
const N: &str = "number";

/// Every message of the registry.
pub const MESSAGES: &[MessageDef] = &[
    MessageDef {
        key: "PowerAction",
        description: "A power action on a computer system was carried out.",
        template: "Power action '%1' on system %2 by '%3' through %5: %4.",
        severity: Severity::OK,
        args: &[
            (S, "The action (on, off, cycle, or a Redfish ResetType)."),
            (S, "The system (board-device)."),
            (S, "Who asked for it."),
            (S, "What the device answered."),
            (S, "The API it came through."),
        ],
        resolution: "None.",
    },
    MessageDef {
        key: "PowerActionFailed",
        description: "A power action on a computer system failed.",
        template: "Power action '%1' on system %2 by '%3' through %5 failed: %4.",
        severity: Severity::Warning,
        args: &[
            (S, "The action (on, off, cycle, or a Redfish ResetType)."),
            (S, "The system (board-device)."),
            (S, "Who asked for it."),
            (S, "Why it failed."),
            (S, "The API it came through."),
        ],
        resolution: "Check the device bus or the BMC named in the message, then retry the action.",
    },
    MessageDef {
        key: "AuthenticationFailed",
        description: "A credential was refused.",
        template: "Authentication from %1 failed: %2.",
        severity: Severity::Warning,
        args: &[
            (S, "The client's address."),
            (S, "The reason (never the credential)."),
        ],
        resolution: "If the client is not known, find out who is trying credentials against the node.",
    },
    MessageDef {
        key: "BusFaults",
        description: "The device bus had faults in the last interval.",
        template: "Device bus faults in the last %4 s: %1 transactions without an answer, %2 frames with a bad checksum, %3 reopens of the port.",
        severity: Severity::Warning,
        args: &[
            (N, "Transactions without an answer."),
            (N, "Frames with a bad checksum."),
            (N, "Reopens of the serial port."),
            (N, "The interval, seconds."),
        ],
        resolution: "Check the power-line modem, its wiring and the boards on the bus.",
    },
    MessageDef {
        key: "LogCleared",
        description: "The event log was cleared.",
        template: "The event log was cleared by '%1'.",
        severity: Severity::OK,
        args: &[(S, "Who cleared it.")],
        resolution: "None.",
    },
    MessageDef {
        key: "SystemLogCleared",
        description: "The event log's entries about one computer system were cleared.",
        template: "The event log's entries about system %2 were cleared by '%1'.",
        severity: Severity::OK,
        args: &[(S, "Who cleared them."), (S, "The system (board-device).")],
        resolution: "None.",
    },
    MessageDef {
        key: "UpdateInstalled",
        description: "An update bundle was installed into the other slot.",
        template: "A %2 byte update bundle from '%1' was installed: %3.",
        severity: Severity::OK,
        args: &[
            (S, "Who pushed it."),
            (N, "Its size, bytes."),
            (S, "What RAUC said."),
        ],
        resolution: "Restart the node to boot the updated slot.",
    },
    MessageDef {
        key: "UpdateFailed",
        description: "An update bundle was not installed.",
        template: "A %2 byte update bundle from '%1' was not installed: %3.",
        severity: Severity::Warning,
        args: &[
            (S, "Who pushed it."),
            (N, "Its size, bytes."),
            (S, "Why (RAUC's reason)."),
        ],
        resolution: "Check that the bundle is signed for this node and built for its compatible, then push it again.",
    },
    MessageDef {
        key: "RaucOutput",
        description: "A line RAUC printed while installing a bundle (update tasks).",
        template: "%1",
        severity: Severity::OK,
        args: &[(S, "The line.")],
        resolution: "None.",
    },
    MessageDef {
        key: "SubscriptionCreated",
        description: "An event subscription was created.",
        template: "'%1' subscribed %2 to the node's events.",
        severity: Severity::OK,
        args: &[(S, "Who created it."), (S, "Where events go.")],
        resolution: "None.",
    },
    MessageDef {
        key: "SubscriptionDeleted",
        description: "An event subscription was deleted.",
        template: "'%1' deleted the event subscription of %2.",
        severity: Severity::OK,
        args: &[(S, "Who deleted it."), (S, "Where events went.")],
        resolution: "None.",
    },
    MessageDef {
        key: "SubscriptionTerminated",
        description: "The node ended an event subscription whose events could not be delivered.",
        template: "The event subscription of %2 (created by '%1') was ended: %3.",
        severity: Severity::Warning,
        args: &[
            (S, "Who created it."),
            (S, "Where events went."),
            (S, "Why it was ended."),
        ],
        resolution: "Make the receiver reachable and subscribe it again.",
    },
    MessageDef {
        key: "ManagerReset",
        description: "The node was asked to restart.",
        template: "'%1' asked the node to restart (GracefulRestart).",
        severity: Severity::Warning,
        args: &[(S, "Who asked.")],
        resolution: "None.",
    },
    MessageDef {
        key: "NetworkSettingsChanged",
        description: "The node's network settings were changed.",
        template: "'%1' changed the node's network settings: %2.",
        severity: Severity::Warning,
        args: &[(S, "Who changed them."), (S, "The settings asked for.")],
        resolution: "None.",
    },
    MessageDef {
        key: "CertificateReplaced",
        description: "The HTTPS certificate of the node was replaced.",
        template: "'%1' replaced the HTTPS certificate: now '%2', SHA-256 %3.",
        severity: Severity::Warning,
        args: &[
            (S, "Who replaced it."),
            (S, "The new certificate's subject common name."),
            (S, "The new certificate's SHA-256 fingerprint."),
        ],
        resolution: "Clients that pin the certificate need the new fingerprint.",
    },
    MessageDef {
        key: "CertificateRestored",
        description: "The replaced HTTPS certificate of the node was removed: the configured one is served again.",
        template: "'%1' removed the replaced HTTPS certificate: the configured '%2' is served again, SHA-256 %3.",
        severity: Severity::Warning,
        args: &[
            (S, "Who removed it."),
            (S, "The configured certificate's subject common name."),
            (S, "The configured certificate's SHA-256 fingerprint."),
        ],
        resolution: "Clients that pin the certificate need the configured one's fingerprint.",
    },
    MessageDef {
        key: "CertificateRequestMade",
        description: "The node made a new key for its HTTPS certificate and a signing request for it.",
        template: "'%1' had the node make a new key and a certificate signing request for '%2'.",
        severity: Severity::OK,
        args: &[
            (S, "Who asked."),
            (S, "The requested subject common name."),
        ],
        resolution: "Have the request signed and install the certificate with ReplaceCertificate.",
    },
    MessageDef {
        key: "TaskCancelled",
        description: "An operator stopped a running task of the node before it ended.",
        template: "'%1' cancelled task %2; not done: %3.",
        severity: Severity::Warning,
        args: &[
            (S, "Who cancelled it."),
            (N, "The task's id."),
            (S, "What the task had not done yet (the systems a group reset did not reach)."),
        ],
        resolution: "None.",
    },
    MessageDef {
        key: "AccountCreated",
        description: "An administrator made a local account through the account service.",
        template: "'%1' made local account '%2' with role %3.",
        severity: Severity::OK,
        args: &[
            (S, "Who made it."),
            (S, "The account's user name."),
            (S, "Its Redfish role."),
        ],
        resolution: "None.",
    },
    MessageDef {
        key: "AccountChanged",
        description: "A local account was changed through the account service; its sessions ended, unless the change was only an unlock.",
        template: "'%1' changed local account '%2': %3.",
        severity: Severity::OK,
        args: &[
            (S, "Who changed it."),
            (S, "The account's user name."),
            (S, "What changed (the password is named, never shown)."),
        ],
        resolution: "None.",
    },
    MessageDef {
        key: "AccountDeleted",
        description: "An administrator deleted a local account through the account service; its sessions ended.",
        template: "'%1' deleted local account '%2'.",
        severity: Severity::OK,
        args: &[
            (S, "Who deleted it."),
            (S, "The account's user name."),
        ],
        resolution: "None.",
    },
    MessageDef {
        key: "SessionTimeoutChanged",
        description: "An administrator changed the idle timeout of login sessions through the session service.",
        template: "'%1' set the session idle timeout to %2 seconds.",
        severity: Severity::OK,
        args: &[
            (S, "Who changed it."),
            (N, "The new timeout in seconds."),
        ],
        resolution: "None.",
    },
    MessageDef {
        key: "AccountLocked",
        description: "A local account was locked after failed logins in a row (the account service's AccountLockoutThreshold).",
        template: "Local account '%1' was locked after %2 failed logins in a row; it unlocks after %3 seconds or when an administrator unlocks it.",
        severity: Severity::Warning,
        args: &[
            (S, "The account."),
            (N, "Failed logins in a row."),
            (N, "Seconds the lock lasts."),
        ],
        resolution: "Find out who tried the account's password (the AuthenticationFailed entries name the addresses); an administrator unlocks it with a PATCH of Locked: false on the account.",
    },
    MessageDef {
        key: "AccountLockoutChanged",
        description: "An administrator changed the account lockout policy through the account service.",
        template: "'%1' set the account lockout policy: AccountLockoutThreshold %2, AccountLockoutDuration %3 s, AccountLockoutCounterResetAfter %4 s, AccountLockoutCounterResetEnabled %5.",
        severity: Severity::OK,
        args: &[
            (S, "Who changed it."),
            (N, "Failed logins in a row that lock an account (0: never)."),
            (N, "Seconds a lock lasts."),
            (N, "Seconds after the last failure when the count starts again."),
            (S, "Whether the count starts again by itself (true) or only after a successful login, a lock then lasting until an administrator unlocks it (false)."),
        ],
        resolution: "None.",
    },
    MessageDef {
        key: "AccountLockedUntilUnlocked",
        description: "A local account was locked after failed logins in a row, until an administrator unlocks it (AccountLockoutCounterResetEnabled is false).",
        template: "Local account '%1' was locked after %2 failed logins in a row, until an administrator unlocks it.",
        severity: Severity::Warning,
        args: &[
            (S, "The account."),
            (N, "Failed logins in a row."),
        ],
        resolution: "Find out who tried the account's password (the AuthenticationFailed entries name the addresses); an administrator unlocks it with a PATCH of Locked: false on the account.",
    },
    MessageDef {
        key: "SelCleared",
        description: "The System Event Log of a configured BMC was cleared through the node (IPMI Clear SEL).",
        template: "The System Event Log of BMC system %2 was cleared by '%1'.",
        severity: Severity::OK,
        args: &[(S, "Who cleared it."), (S, "The BMC's system.")],
        resolution: "None.",
    },
];

/// The message `key`, if the registry has it.
pub fn message(key: &str) -> Option<&'static MessageDef> {
    MESSAGES.iter().find(|m| m.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, SubscriptionChange, Via};

    /// Every constructor's entry is its registry message filled with its
    /// arguments, with one argument per `%n`, and the registry's severity.
    #[test]
    fn every_event_is_its_registry_message() {
        let events = [
            Event::power("ops", Via::Redfish, "00000001-16ff", "On", Ok("on")),
            Event::power("ops", Via::V11, "00000001-16ff", "off", Err("timeout")),
            Event::auth_failure("192.0.2.1", "bad token"),
            Event::bus_faults(60, 1, 2, 3),
            Event::update("ops", 10, Ok("installed")),
            Event::update("ops", 10, Err("bad signature")),
            Event::subscription("ops", "http://r/", SubscriptionChange::Created),
            Event::subscription("ops", "http://r/", SubscriptionChange::Deleted),
            Event::subscription("ops", "http://r/", SubscriptionChange::Terminated("500")),
            Event::manager_reset("ops"),
            Event::network_settings("root", "hostname=rack7-rm, dns=192.0.2.53"),
            Event::certificate_replaced("ops", "node", "AA:BB"),
            Event::certificate_request("ops", "node-7.example"),
            Event::certificate_restored("ops", "node", "AA:BB"),
            Event::task_cancelled("ops", 7, "00000001-16ff, 40000000-0001"),
            Event::account_created("root", "carol", "Operator"),
            Event::account_changed("root", "carol", "password, RoleId ReadOnly"),
            Event::account_deleted("root", "carol"),
            Event::account_locked("carol", 3, 600),
            Event::lockout_policy_changed("root", 5, 600, 60, true),
            Event::account_locked_until_unlocked("carol", 3),
            Event::session_timeout_changed("root", 600),
            Event::cleared("ops", None),
            Event::cleared("ops", Some("00000001-16ff")),
            Event::sel_cleared("ops", "40000000-0001"),
        ];
        let mut keys: Vec<&str> = Vec::new();
        for e in &events {
            let def = message(e.key).unwrap_or_else(|| panic!("{} not in the registry", e.key));
            assert_eq!(e.message, def.fill(&e.args), "{}", e.key);
            assert_eq!(e.severity, def.severity, "{}", e.key);
            assert_eq!(e.args.len(), def.args.len(), "{}: arguments", e.key);
            assert!(!e.message.contains('%'), "{}: {}", e.key, e.message);
            keys.push(e.key);
        }
        assert_eq!(
            events[3].message,
            "Device bus faults in the last 60 s: 1 transactions without an answer, \
             2 frames with a bad checksum, 3 reopens of the port."
        );
        // Every message but the task-only one is recorded by something.
        for m in MESSAGES {
            assert!(
                keys.contains(&m.key) || m.key == "RaucOutput",
                "{} unused",
                m.key
            );
            for n in 1..=m.args.len() {
                assert!(m.template.contains(&format!("%{n}")), "{}: %{n}", m.key);
            }
        }
        let mut all: Vec<&str> = MESSAGES.iter().map(|m| m.key).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), MESSAGES.len(), "keys are unique");
    }
}
