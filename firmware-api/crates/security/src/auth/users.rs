//! Local user accounts (`[auth.users.<name>]`): a name, an argon2id
//! password hash and a role. Checked for HTTP Basic and Redfish session
//! logins before LDAP.
//!
//! Passwords are verified on the process's one argon2 worker
//! ([`super::argon`]), like argon2-hashed tokens. A successful
//! verification is remembered for `token_cache_secs` under the SHA-256 of
//! the name and the password, so a client sending Basic on every request
//! (the Redfish validators, scripts) does not cost one argon2 run per
//! request; a wrong password is never remembered.

use std::collections::BTreeMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::argon::{Argon2Entry, Slot, Target, Verifier};
use super::cache::TtlCache;
use super::config::UserEntry;
use super::credentials::Secret;
use super::role::Role;
use super::SecurityConfigError;

/// Shortest password `opendcre auth hash-password` hashes (Redfish
/// `AccountService.MinPasswordLength`).
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password it hashes (`MaxPasswordLength`).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Longest user name: names appear in Redfish URIs and log lines.
const MAX_NAME: usize = 64;

/// A local account as shown to others (Redfish `ManagerAccount`): never
/// the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    pub name: String,
    pub role: Role,
}

pub(crate) struct UserStore {
    users: Vec<LocalUser>,
    verified: TtlCache<[u8; 32], usize>,
    slow: Verifier,
}

/// What a password check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserCheck {
    Valid(LocalUser),
    WrongPassword,
    /// No local account has this name (LDAP may know it).
    Unknown,
}

impl UserStore {
    /// Parses `[auth.users]`; the hashes are appended to `argon` for the
    /// shared worker ([`UserStore::attach`]).
    pub(crate) fn new(
        entries: &BTreeMap<String, UserEntry>,
        cache_ttl: Duration,
        argon: &mut Vec<Argon2Entry>,
    ) -> Result<UserStore, SecurityConfigError> {
        let mut users = Vec::new();
        for (i, (name, entry)) in entries.iter().enumerate() {
            let invalid = |key: &str, reason: String| SecurityConfigError::Invalid {
                key: format!("auth.users.{name}{key}"),
                reason,
            };
            check_name(name).map_err(|r| invalid("", r))?;
            if !entry.password_hash.starts_with("$argon2id$") {
                return Err(invalid(
                    ".password_hash",
                    "must be an argon2id PHC string (`opendcre auth hash-password`)".into(),
                ));
            }
            argon.push(
                Argon2Entry::decode(Slot::User(i), &entry.password_hash)
                    .map_err(|r| invalid(".password_hash", r))?,
            );
            users.push(LocalUser {
                name: name.clone(),
                role: entry.role,
            });
        }
        Ok(UserStore {
            users,
            verified: TtlCache::new(cache_ttl, 256),
            slow: Verifier::default(),
        })
    }

    pub(crate) fn attach(&mut self, verifier: Verifier) {
        self.slow = verifier;
    }

    pub(crate) fn list(&self) -> &[LocalUser] {
        &self.users
    }

    pub(crate) async fn check(&self, name: &str, password: &Secret) -> UserCheck {
        let Some(index) = self.users.iter().position(|u| u.name == name) else {
            return UserCheck::Unknown;
        };
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([0]);
        h.update(password.expose().as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        if self.verified.get(&digest) == Some(index) {
            return UserCheck::Valid(self.users[index].clone());
        }
        match self.slow.verify(password, Target::User(index)).await {
            Some(Slot::User(i)) if i == index => {
                self.verified.insert(digest, index);
                UserCheck::Valid(self.users[index].clone())
            }
            _ => UserCheck::WrongPassword,
        }
    }

    /// Spends one verification on the first account's hash and forgets the
    /// result, so an unknown name costs the time a known one does.
    pub(crate) async fn waste_time(&self, password: &Secret) {
        if !self.users.is_empty() {
            let _ = self.slow.verify(password, Target::User(0)).await;
        }
    }
}

/// A name that fits a URI segment, a log line and HTTP Basic (no `:`).
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a user name is 1 to {MAX_NAME} of A-Z a-z 0-9 . _ - @"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::{hash_token, HashAlgorithm};

    fn store(pairs: &[(&str, &str, Role)]) -> UserStore {
        let map = pairs
            .iter()
            .map(|(n, p, r)| {
                (
                    n.to_string(),
                    UserEntry {
                        password_hash: hash_token(p, HashAlgorithm::Argon2id).unwrap(),
                        role: *r,
                    },
                )
            })
            .collect();
        let mut argon = Vec::new();
        let mut s = UserStore::new(&map, Duration::from_secs(60), &mut argon).unwrap();
        s.attach(Verifier::spawn(argon).unwrap());
        s
    }

    #[tokio::test]
    async fn passwords_are_checked_per_user() {
        let s = store(&[
            ("alice", "alice-pass", Role::Operator),
            ("bob", "bob-pass", Role::Reader),
        ]);
        let alice = LocalUser {
            name: "alice".into(),
            role: Role::Operator,
        };
        assert_eq!(
            s.check("alice", &Secret::new("alice-pass")).await,
            UserCheck::Valid(alice.clone())
        );
        assert_eq!(s.verified.len(), 1);
        assert_eq!(
            s.check("alice", &Secret::new("alice-pass")).await,
            UserCheck::Valid(alice)
        );
        // Another user's password is not this user's.
        assert_eq!(
            s.check("alice", &Secret::new("bob-pass")).await,
            UserCheck::WrongPassword
        );
        assert_eq!(
            s.check("carol", &Secret::new("bob-pass")).await,
            UserCheck::Unknown
        );
        assert_eq!(s.verified.len(), 1, "failures are not remembered");
    }

    #[test]
    fn bad_entries_are_refused() {
        let one = |name: &str, hash: &str| {
            let mut m = BTreeMap::new();
            m.insert(
                name.to_string(),
                UserEntry {
                    password_hash: hash.to_string(),
                    role: Role::Reader,
                },
            );
            UserStore::new(&m, Duration::from_secs(1), &mut Vec::new()).err()
        };
        let good = hash_token("x", HashAlgorithm::Argon2id).unwrap();
        assert!(one("ok.name", &good).is_none());
        assert!(one("a:b", &good).is_some());
        assert!(one("a/b", &good).is_some());
        assert!(one("", &good).is_some());
        let sha = hash_token("x", HashAlgorithm::Sha256).unwrap();
        let e = one("u", &sha).unwrap().to_string();
        assert!(e.starts_with("auth.users.u.password_hash"), "{e}");
        assert!(one("u", "$argon2id$garbage").is_some());
    }
}
