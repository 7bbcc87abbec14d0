//! Local user accounts: a name, an argon2id password hash, a role and
//! whether the account is enabled. Two sources: `[auth.users.<name>]` of
//! the configuration (fixed while the service runs) and the accounts file
//! (`[auth] accounts_file`), which Redfish's account service writes —
//! accounts an administrator makes, changes and deletes at run time,
//! kept across restarts. Checked for HTTP Basic and Redfish session
//! logins before LDAP.
//!
//! Passwords are verified and hashed on the process's one argon2 worker
//! ([`super::argon`]), like argon2-hashed tokens. A successful
//! verification is remembered for `token_cache_secs` under the SHA-256 of
//! the name and the password, with the account's generation, so a client
//! sending Basic on every request (the Redfish validators, scripts) does
//! not cost one argon2 run per request, and a changed or deleted account
//! is not let in by what was remembered of it; a wrong password is never
//! remembered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
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
/// Most accounts the accounts file holds: each is a Redfish resource and
/// a line of every account listing.
pub const MAX_MANAGED_ACCOUNTS: usize = 64;

/// Longest user name: names appear in Redfish URIs and log lines.
pub const MAX_USER_NAME: usize = 64;

/// A local account as shown to others (Redfish `ManagerAccount`): never
/// the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    pub name: String,
    pub role: Role,
    /// A disabled account cannot log in.
    pub enabled: bool,
    /// Kept in the accounts file, so an administrator may change or delete
    /// it; `false`: from `[auth.users]`, changed only in the configuration.
    pub managed: bool,
    /// An administrator set its password for it to change: until it does,
    /// it may only read and change its own account (Redfish
    /// `PasswordChangeRequired`). Always `false` for `[auth.users]`.
    pub password_change_required: bool,
    /// Locked after failed logins (`[auth.lockout]`); the store itself
    /// does not know it and says `false`.
    pub locked: bool,
}

/// What a new account starts as, besides its name, password and role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFlags {
    pub enabled: bool,
    pub password_change_required: bool,
}

impl Default for AccountFlags {
    fn default() -> Self {
        AccountFlags {
            enabled: true,
            password_change_required: false,
        }
    }
}

/// Why an account change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("no accounts file is configured ([auth] accounts_file): accounts are changed in the configuration")]
    Off,
    #[error("no local account {0:?}")]
    Missing(String),
    #[error("account {0:?} is configured in [auth.users] and changed only there")]
    Configured(String),
    #[error("an account named {0:?} exists")]
    Exists(String),
    #[error("{0}")]
    BadName(String),
    #[error("a password is {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters")]
    BadPassword,
    #[error("at most {MAX_MANAGED_ACCOUNTS} accounts are kept in the accounts file")]
    Full,
    #[error("the accounts file could not be written: {0}")]
    Store(String),
}

/// What a `PATCH` of an account changes; `None`: unchanged.
#[derive(Debug, Default)]
pub struct AccountChange {
    /// A new name (Redfish `UserName`): free among all local accounts,
    /// those of `[auth.users]` too.
    pub name: Option<String>,
    pub password: Option<Secret>,
    pub role: Option<Role>,
    pub enabled: Option<bool>,
    /// Set or clear `PasswordChangeRequired`. `None` with a new password
    /// clears it (the password was changed); `Some(true)` with one is an
    /// administrator's reset to a temporary password.
    pub password_change_required: Option<bool>,
}

/// One account of the accounts file, as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredAccount {
    name: String,
    role: Role,
    enabled: bool,
    password_hash: String,
    /// Written only when set: a file without it stays readable by a build
    /// from before it existed (an A/B rollback), which refuses unknown
    /// fields.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    password_change_required: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsFile {
    accounts: Vec<StoredAccount>,
}

#[derive(Clone)]
struct Account {
    user: LocalUser,
    entry: Arc<Argon2Entry>,
    /// The PHC string, written back to the accounts file.
    phc: String,
    /// New at each change: what the cache remembered of an older one
    /// does not count.
    generation: u64,
}

pub(crate) struct UserStore {
    accounts: RwLock<Vec<Account>>,
    /// The accounts file; `None`: only `[auth.users]`.
    file: Option<PathBuf>,
    /// One change at a time, from the check to the file on disk.
    writer: tokio::sync::Mutex<()>,
    generations: AtomicU64,
    verified: TtlCache<[u8; 32], u64>,
    slow: Verifier,
}

/// What a password check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserCheck {
    Valid(LocalUser),
    WrongPassword,
    /// The password is right but the account is disabled.
    Disabled,
    /// No local account has this name (LDAP may know it).
    Unknown,
}

impl UserStore {
    /// Parses `[auth.users]` and reads the accounts file `file` (when
    /// given and present). A file that cannot be read as accounts is set
    /// aside as `<file>.bad` with a warning and the service starts without
    /// its accounts (the configured ones still log in); an entry of the
    /// file that names a configured account is ignored, the configuration
    /// wins.
    pub(crate) fn new(
        entries: &BTreeMap<String, UserEntry>,
        file: Option<&Path>,
        cache_ttl: Duration,
    ) -> Result<UserStore, SecurityConfigError> {
        let mut accounts = Vec::new();
        let mut generation = 0;
        for (name, entry) in entries {
            let invalid = |key: &str, reason: String| SecurityConfigError::Invalid {
                key: format!("auth.users.{name}{key}"),
                reason,
            };
            check_name(name).map_err(|r| invalid("", r))?;
            let entry_hash =
                decode(&entry.password_hash).map_err(|r| invalid(".password_hash", r))?;
            generation += 1;
            accounts.push(Account {
                user: LocalUser {
                    name: name.clone(),
                    role: entry.role,
                    enabled: true,
                    managed: false,
                    password_change_required: false,
                    locked: false,
                },
                entry: Arc::new(entry_hash),
                phc: entry.password_hash.clone(),
                generation,
            });
        }
        if let Some(path) = file {
            for stored in read_file(path) {
                if accounts.iter().any(|a| a.user.name == stored.name) {
                    tracing::warn!(file = %path.display(), account = %stored.name, "account in the accounts file is also in [auth.users]: the configuration wins");
                    continue;
                }
                let entry = match check_name(&stored.name)
                    .and_then(|()| decode(&stored.password_hash))
                {
                    Ok(e) => e,
                    Err(reason) => {
                        tracing::warn!(file = %path.display(), account = %stored.name, %reason, "account in the accounts file ignored");
                        continue;
                    }
                };
                generation += 1;
                accounts.push(Account {
                    user: LocalUser {
                        name: stored.name,
                        role: stored.role,
                        enabled: stored.enabled,
                        managed: true,
                        password_change_required: stored.password_change_required,
                        locked: false,
                    },
                    entry: Arc::new(entry),
                    phc: stored.password_hash,
                    generation,
                });
            }
        }
        Ok(UserStore {
            accounts: RwLock::new(accounts),
            file: file.map(Path::to_path_buf),
            writer: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(generation),
            verified: TtlCache::new(cache_ttl, 256),
            slow: Verifier::default(),
        })
    }

    pub(crate) fn attach(&mut self, verifier: Verifier) {
        self.slow = verifier;
    }

    /// Whether accounts can be made at run time (an accounts file is set).
    pub(crate) fn writable(&self) -> bool {
        self.file.is_some()
    }

    /// Whether any account exists: Basic is worth offering (a challenge
    /// for it makes browsers ask for a password, so not before).
    pub(crate) fn in_use(&self) -> bool {
        !self.read().is_empty()
    }

    /// The accounts, configured ones first.
    /// The SHA-256 of account `name`'s password hash: what changes with
    /// its password (a kept session remembers it, `session`).
    pub(crate) fn credential(&self, name: &str) -> Option<[u8; 32]> {
        use sha2::{Digest, Sha256};
        self.read()
            .iter()
            .find(|a| a.user.name == name)
            .map(|a| Sha256::digest(a.phc.as_bytes()).into())
    }

    pub(crate) fn list(&self) -> Vec<LocalUser> {
        self.read().iter().map(|a| a.user.clone()).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Account>> {
        self.accounts.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn check(&self, name: &str, password: &Secret) -> UserCheck {
        let Some(account) = self.read().iter().find(|a| a.user.name == name).cloned() else {
            return UserCheck::Unknown;
        };
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([0]);
        h.update(password.expose().as_bytes());
        let digest: [u8; 32] = h.finalize().into();
        let valid = self.verified.get(&digest) == Some(account.generation)
            || match self
                .slow
                .verify(password, Target::Account(account.entry.clone()))
                .await
            {
                Some(Slot::Account) => {
                    self.verified.insert(digest, account.generation);
                    true
                }
                _ => false,
            };
        match (valid, account.user.enabled) {
            (false, _) => UserCheck::WrongPassword,
            (true, false) => UserCheck::Disabled,
            (true, true) => UserCheck::Valid(account.user),
        }
    }

    /// Spends one verification on the first account's hash and forgets the
    /// result, so an unknown name costs the time a known one does.
    pub(crate) async fn waste_time(&self, password: &Secret) {
        let first = self.read().first().map(|a| a.entry.clone());
        if let Some(entry) = first {
            let _ = self.slow.verify(password, Target::Account(entry)).await;
        }
    }

    /// Makes an account in the accounts file.
    pub(crate) async fn create(
        &self,
        name: &str,
        password: &Secret,
        role: Role,
        flags: AccountFlags,
    ) -> Result<LocalUser, AccountError> {
        let _one = self.writer.lock().await;
        let file = self.file.as_deref().ok_or(AccountError::Off)?;
        check_name(name).map_err(AccountError::BadName)?;
        check_password(password)?;
        let mut next = self.read().clone();
        if next.iter().any(|a| a.user.name == name) {
            return Err(AccountError::Exists(name.to_string()));
        }
        if next.iter().filter(|a| a.user.managed).count() >= MAX_MANAGED_ACCOUNTS {
            return Err(AccountError::Full);
        }
        let (phc, entry) = self.hash(password).await?;
        let user = LocalUser {
            name: name.to_string(),
            role,
            enabled: flags.enabled,
            managed: true,
            password_change_required: flags.password_change_required,
            locked: false,
        };
        next.push(Account {
            user: user.clone(),
            entry,
            phc,
            generation: self.generations.fetch_add(1, Ordering::Relaxed) + 1,
        });
        self.commit(file, next).await?;
        Ok(user)
    }

    /// Changes an account of the accounts file.
    pub(crate) async fn update(
        &self,
        name: &str,
        change: AccountChange,
    ) -> Result<LocalUser, AccountError> {
        let _one = self.writer.lock().await;
        let file = self.file.as_deref().ok_or(AccountError::Off)?;
        let mut next = self.read().clone();
        let i = self.managed_index(&next, name)?;
        if let Some(new) = change.name.as_deref().filter(|n| *n != name) {
            check_name(new).map_err(AccountError::BadName)?;
            if next.iter().any(|a| a.user.name == new) {
                return Err(AccountError::Exists(new.to_string()));
            }
            next[i].user.name = new.to_string();
        }
        if let Some(p) = &change.password {
            check_password(p)?;
            let (phc, entry) = self.hash(p).await?;
            next[i].phc = phc;
            next[i].entry = entry;
            next[i].user.password_change_required = false;
        }
        if let Some(required) = change.password_change_required {
            next[i].user.password_change_required = required;
        }
        if let Some(r) = change.role {
            next[i].user.role = r;
        }
        if let Some(e) = change.enabled {
            next[i].user.enabled = e;
        }
        next[i].generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let user = next[i].user.clone();
        self.commit(file, next).await?;
        Ok(user)
    }

    /// Deletes an account of the accounts file.
    pub(crate) async fn delete(&self, name: &str) -> Result<(), AccountError> {
        let _one = self.writer.lock().await;
        let file = self.file.as_deref().ok_or(AccountError::Off)?;
        let mut next = self.read().clone();
        let i = self.managed_index(&next, name)?;
        next.remove(i);
        self.commit(file, next).await
    }

    fn managed_index(&self, accounts: &[Account], name: &str) -> Result<usize, AccountError> {
        match accounts.iter().position(|a| a.user.name == name) {
            None => Err(AccountError::Missing(name.to_string())),
            Some(i) if !accounts[i].user.managed => Err(AccountError::Configured(name.to_string())),
            Some(i) => Ok(i),
        }
    }

    async fn hash(&self, password: &Secret) -> Result<(String, Arc<Argon2Entry>), AccountError> {
        let phc = self
            .slow
            .hash(password)
            .await
            .map_err(AccountError::Store)?;
        let entry = decode(&phc).map_err(AccountError::Store)?;
        Ok((phc, Arc::new(entry)))
    }

    /// Writes `next`'s managed accounts whole to `file`, then serves them:
    /// what the file does not hold is not in force either.
    async fn commit(&self, file: &Path, next: Vec<Account>) -> Result<(), AccountError> {
        let stored = AccountsFile {
            accounts: next
                .iter()
                .filter(|a| a.user.managed)
                .map(|a| StoredAccount {
                    name: a.user.name.clone(),
                    role: a.user.role,
                    enabled: a.user.enabled,
                    password_hash: a.phc.clone(),
                    password_change_required: a.user.password_change_required,
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&stored)
            .map_err(|e| AccountError::Store(e.to_string()))?;
        let file = file.to_path_buf();
        tokio::task::spawn_blocking(move || write_file(&file, &text))
            .await
            .map_err(|e| AccountError::Store(e.to_string()))?
            .map_err(AccountError::Store)?;
        *self.accounts.write().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }
}

fn decode(phc: &str) -> Result<Argon2Entry, String> {
    if !phc.starts_with("$argon2id$") {
        return Err("must be an argon2id PHC string (`opendcre auth hash-password`)".into());
    }
    Argon2Entry::decode(Slot::Account, phc)
}

/// Whether `password` has an acceptable length: `MIN_PASSWORD_LEN` to
/// `MAX_PASSWORD_LEN` characters (the one rule; Redfish's PATCH checks a
/// body with it before the store does).
pub fn password_length_ok(password: &str) -> bool {
    (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&password.chars().count())
}

fn check_password(p: &Secret) -> Result<(), AccountError> {
    if password_length_ok(p.expose()) {
        Ok(())
    } else {
        Err(AccountError::BadPassword)
    }
}

/// The accounts of `path`; none when it does not exist. A file that is
/// not accounts is renamed `<path>.bad` (kept for the operator) and a
/// warning logged.
fn read_file(path: &Path) -> Vec<StoredAccount> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "accounts file unreadable: its accounts cannot log in");
            return Vec::new();
        }
    };
    match serde_json::from_str::<AccountsFile>(&text) {
        Ok(f) => f.accounts,
        Err(e) => {
            let mut bad = path.as_os_str().to_owned();
            bad.push(".bad");
            let moved = std::fs::rename(path, &bad);
            tracing::warn!(file = %path.display(), error = %e, set_aside = moved.is_ok(), "accounts file is not a list of accounts: set aside as .bad, started without its accounts");
            Vec::new()
        }
    }
}

/// `text` as `path`, mode 0600, written whole (new file, fsync, rename).
pub(super) fn write_file(path: &Path, text: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("{}: not a file name", path.display()))?;
    crate::tls::write_private(dir, name, text).map_err(|(p, e)| format!("{}: {e}", p.display()))
}

/// A name that fits a URI segment, a log line and HTTP Basic (no `:`).
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_USER_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a user name is 1 to {MAX_USER_NAME} of A-Z a-z 0-9 . _ - @"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::{hash_token, HashAlgorithm};

    fn configured(pairs: &[(&str, &str, Role)]) -> BTreeMap<String, UserEntry> {
        pairs
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
            .collect()
    }

    fn store_with(pairs: &[(&str, &str, Role)], file: Option<&Path>) -> UserStore {
        let mut s = UserStore::new(&configured(pairs), file, Duration::from_secs(60)).unwrap();
        s.attach(Verifier::spawn(Vec::new()).unwrap());
        s
    }

    fn user(name: &str, role: Role, managed: bool) -> LocalUser {
        LocalUser {
            name: name.into(),
            role,
            enabled: true,
            managed,
            password_change_required: false,
            locked: false,
        }
    }

    #[tokio::test]
    async fn passwords_are_checked_per_user() {
        let s = store_with(
            &[
                ("alice", "alice-pass", Role::Operator),
                ("bob", "bob-pass", Role::Reader),
            ],
            None,
        );
        let alice = user("alice", Role::Operator, false);
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
        assert!(!s.writable());
        let e = s
            .create(
                "carol",
                &Secret::new("carol-pass"),
                Role::Reader,
                AccountFlags::default(),
            )
            .await;
        assert_eq!(e, Err(AccountError::Off));
    }

    #[tokio::test]
    async fn accounts_made_at_run_time_are_kept_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.json");
        let s = store_with(&[("root", "root-pass", Role::Admin)], Some(&file));
        let made = s
            .create(
                "ops",
                &Secret::new("ops-pass-1"),
                Role::Operator,
                AccountFlags::default(),
            )
            .await
            .unwrap();
        assert_eq!(made, user("ops", Role::Operator, true));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains("$argon2id$") && !text.contains("ops-pass-1"),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            s.check("ops", &Secret::new("ops-pass-1")).await,
            UserCheck::Valid(made.clone())
        );
        // Names are unique across both sources; configured ones stay put.
        for name in ["ops", "root"] {
            let again = s
                .create(
                    name,
                    &Secret::new("whatever-1"),
                    Role::Reader,
                    AccountFlags::default(),
                )
                .await;
            assert_eq!(again, Err(AccountError::Exists(name.into())));
        }
        assert_eq!(
            s.delete("root").await,
            Err(AccountError::Configured("root".into()))
        );
        assert_eq!(
            s.create(
                "a:b",
                &Secret::new("whatever-1"),
                Role::Reader,
                AccountFlags::default()
            )
            .await
            .map_err(|e| matches!(e, AccountError::BadName(_))),
            Err(true)
        );
        assert_eq!(
            s.create(
                "short",
                &Secret::new("1234567"),
                Role::Reader,
                AccountFlags::default()
            )
            .await,
            Err(AccountError::BadPassword)
        );

        // A new password ends what the cache remembered of the old one.
        let changed = s
            .update(
                "ops",
                AccountChange {
                    password: Some(Secret::new("ops-pass-2")),
                    role: Some(Role::Reader),
                    ..AccountChange::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.role, Role::Reader);
        assert_eq!(
            s.check("ops", &Secret::new("ops-pass-1")).await,
            UserCheck::WrongPassword
        );
        // A restart reads the file back.
        let again = store_with(&[("root", "root-pass", Role::Admin)], Some(&file));
        assert_eq!(
            again.list(),
            vec![
                user("root", Role::Admin, false),
                user("ops", Role::Reader, true)
            ]
        );
        assert_eq!(
            again.check("ops", &Secret::new("ops-pass-2")).await,
            UserCheck::Valid(user("ops", Role::Reader, true))
        );

        // Disabled: the right password no longer logs in.
        s.update(
            "ops",
            AccountChange {
                enabled: Some(false),
                ..AccountChange::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            s.check("ops", &Secret::new("ops-pass-2")).await,
            UserCheck::Disabled
        );
        s.delete("ops").await.unwrap();
        assert_eq!(
            s.check("ops", &Secret::new("ops-pass-2")).await,
            UserCheck::Unknown
        );
        assert_eq!(
            s.delete("ops").await,
            Err(AccountError::Missing("ops".into()))
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["accounts"],
            serde_json::json!([])
        );
    }

    /// A rename keeps the account's password, role and place in the file;
    /// the old name no longer logs in; a taken or bad name is refused and
    /// changes nothing, not even the rest of the same change.
    #[tokio::test]
    async fn an_account_renamed_keeps_its_password_and_role() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.json");
        let s = store_with(&[("root", "root-pass", Role::Admin)], Some(&file));
        for name in ["ops", "eve"] {
            s.create(
                name,
                &Secret::new("ops-pass-1"),
                Role::Operator,
                AccountFlags::default(),
            )
            .await
            .unwrap();
        }
        let rename = |to: &str| AccountChange {
            name: Some(to.to_string()),
            role: Some(Role::Reader),
            ..AccountChange::default()
        };
        for (to, want) in [
            ("root", AccountError::Exists("root".into())),
            ("eve", AccountError::Exists("eve".into())),
        ] {
            assert_eq!(s.update("ops", rename(to)).await, Err(want));
        }
        assert!(matches!(
            s.update("ops", rename("a b")).await,
            Err(AccountError::BadName(_))
        ));
        assert_eq!(
            s.update("root", rename("admin")).await,
            Err(AccountError::Configured("root".into()))
        );
        assert_eq!(s.list()[1], user("ops", Role::Operator, true));

        let renamed = s.update("ops", rename("operations")).await.unwrap();
        assert_eq!(renamed, user("operations", Role::Reader, true));
        assert_eq!(
            s.check("ops", &Secret::new("ops-pass-1")).await,
            UserCheck::Unknown
        );
        assert_eq!(
            s.check("operations", &Secret::new("ops-pass-1")).await,
            UserCheck::Valid(renamed.clone())
        );
        // The same name again is no rename.
        s.update("operations", rename("operations")).await.unwrap();
        let again = store_with(&[("root", "root-pass", Role::Admin)], Some(&file));
        let names: Vec<String> = again.list().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["root", "operations", "eve"]);
    }

    /// `PasswordChangeRequired`: set at creation or by a change, kept in
    /// the file only while set (older builds refuse unknown fields), and
    /// cleared by the account's next password unless the same change sets
    /// it again (an administrator's temporary password).
    #[tokio::test]
    async fn a_required_password_change_is_kept_until_the_password_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.json");
        let s = store_with(&[], Some(&file));
        let flags = AccountFlags {
            password_change_required: true,
            ..AccountFlags::default()
        };
        let made = s
            .create("new", &Secret::new("temporary-1"), Role::Operator, flags)
            .await
            .unwrap();
        assert!(made.password_change_required);
        let stored = |f: &Path| -> serde_json::Value {
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(f).unwrap()).unwrap()
                ["accounts"][0]
                .clone()
        };
        assert_eq!(stored(&file)["password_change_required"], true);
        // It logs in (and the caller learns what it must do first).
        match s.check("new", &Secret::new("temporary-1")).await {
            UserCheck::Valid(u) => assert!(u.password_change_required),
            other => panic!("{other:?}"),
        }
        let again = store_with(&[], Some(&file));
        assert!(
            again.list()[0].password_change_required,
            "kept across a restart"
        );

        let password = |p: &str| AccountChange {
            password: Some(Secret::new(p)),
            ..AccountChange::default()
        };
        let changed = s.update("new", password("chosen-by-me")).await.unwrap();
        assert!(!changed.password_change_required);
        assert!(stored(&file).get("password_change_required").is_none());

        // An administrator's reset to a temporary password sets it again.
        let reset = s
            .update(
                "new",
                AccountChange {
                    password_change_required: Some(true),
                    ..password("temporary-2")
                },
            )
            .await
            .unwrap();
        assert!(reset.password_change_required);
    }

    #[test]
    fn a_file_that_is_not_accounts_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.json");
        std::fs::write(&file, "{ not json").unwrap();
        let s = UserStore::new(&BTreeMap::new(), Some(&file), Duration::from_secs(1)).unwrap();
        assert!(s.list().is_empty());
        assert!(s.writable() && !s.in_use());
        assert!(!file.exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("accounts.json.bad")).unwrap(),
            "{ not json"
        );
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
            UserStore::new(&m, None, Duration::from_secs(1)).err()
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
