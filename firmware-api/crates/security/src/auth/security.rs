//! The one entry point the HTTP server calls per request.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Method};

use super::argon::Verifier;
use super::config::{AnonymousConfig, AuthConfig, ClientCertConfig, LdapConfig};
use super::credentials::{self, CredentialError, Credentials, Secret};
use super::jwt::{JwtError, JwtValidator};
use super::ldap::{LdapAuthError, LdapAuthenticator};
use super::lockout::Lockout;
use super::principal::{AuthMethod, Principal};
use super::ratelimit::{FailureLimiter, FailureVerdict};
use super::rejection::{AuthRejection, Challenges};
use super::role::{Permission, Role};
use super::session::SessionStore;
use super::token::TokenStore;
use super::users::{AccountChange, AccountError, AccountFlags, LocalUser, UserCheck, UserStore};
use super::SecurityConfigError;
use crate::tls::ClientIdentity;

/// Authentication and authorization for the API, built once from `[auth]`
/// and shared by all connections.
pub struct Security {
    realm: String,
    tokens: Option<TokenStore>,
    jwt: Option<JwtValidator>,
    ldap: Option<LdapAuthenticator>,
    /// `[auth.ldap]` as configured, for what the Redfish account service
    /// shows of it (never the bind password).
    ldap_config: Option<LdapConfig>,
    users: UserStore,
    sessions: SessionStore,
    /// `[auth.sessions] settings_file`: `None` when `SessionTimeout` is
    /// read-only.
    session_settings: Option<std::path::PathBuf>,
    anonymous: AnonymousConfig,
    client_cert: ClientCertConfig,
    limiter: FailureLimiter,
    /// `[auth.lockout]`: failed logins per local account.
    lockout: Lockout,
    /// `[auth.lockout] settings_file`: `None` when the policy is read-only.
    lockout_settings: Option<std::path::PathBuf>,
    /// `[auth.lockout] locks_file`: `None` when locks end with the process.
    locks_file: Option<std::path::PathBuf>,
    /// Told when a local account is locked (the event log, set once by
    /// the service after it opened the log).
    on_locked: std::sync::OnceLock<LockListener>,
}

/// Called with the account's name, its failed logins in a row and the
/// seconds the lock lasts (`None`: until an administrator unlocks it).
type LockListener = Box<dyn Fn(&str, u32, Option<u64>) + Send + Sync>;

/// A refused attempt before it becomes an HTTP answer.
enum Failure {
    /// Wrong or malformed credentials: counts against the rate limit.
    Invalid { reason: String, bearer: bool },
    /// Valid identity without any role.
    NoRole { name: String, method: AuthMethod },
    /// Provider down: does not count against the client.
    Unavailable(String),
}

impl Security {
    /// Validates the whole `[auth]` table up front (hash formats, key
    /// sources, LDAP URL, CA files) so a bad config stops the service at
    /// start instead of at the first request.
    pub fn from_config(cfg: &AuthConfig) -> Result<Security, SecurityConfigError> {
        let cache = std::time::Duration::from_secs(cfg.token_cache_secs);
        // One argon2 worker for tokens and passwords alike.
        let mut argon = Vec::new();
        let mut tokens = if cfg.tokens.is_empty() {
            None
        } else {
            Some(TokenStore::new(&cfg.tokens, cache, &mut argon)?)
        };
        let accounts_file =
            (!cfg.accounts_file.as_os_str().is_empty()).then_some(cfg.accounts_file.as_path());
        let mut users = UserStore::new(&cfg.users, accounts_file, cache)?;
        let verifier = Verifier::spawn(argon).map_err(|e| SecurityConfigError::Invalid {
            key: "auth".into(),
            reason: format!("cannot start the argon2 worker thread: {e}"),
        })?;
        if let Some(t) = &mut tokens {
            t.attach(verifier.clone());
        }
        users.attach(verifier);
        let sc = &cfg.sessions;
        if !(1..=86_400).contains(&sc.timeout_secs) {
            return Err(SecurityConfigError::Invalid {
                key: "auth.sessions.timeout_secs".into(),
                reason: "must be between 1 and 86400 (Redfish clients expect 30 or more)".into(),
            });
        }
        if sc.max == 0 || sc.max > 4096 {
            return Err(SecurityConfigError::Invalid {
                key: "auth.sessions.max".into(),
                reason: "must be between 1 and 4096".into(),
            });
        }
        let state_file = (!sc.state_file.as_os_str().is_empty()).then(|| sc.state_file.clone());
        let sessions = SessionStore::new(std::time::Duration::from_secs(sc.timeout_secs), sc.max)
            .kept_in(state_file);
        let session_settings =
            (!sc.settings_file.as_os_str().is_empty()).then(|| sc.settings_file.clone());
        if let Some(path) = &session_settings {
            if let Some(secs) = super::session_settings::load(path) {
                tracing::info!(path = %path.display(), timeout_secs = secs, configured = sc.timeout_secs, "session idle timeout as set through Redfish (SessionTimeout), not the configured one");
                sessions.set_timeout(std::time::Duration::from_secs(secs));
            }
        }
        let lc = &cfg.lockout;
        let mut lockout_policy = lc.policy();
        lockout_policy
            .check()
            .map_err(|(field, reason)| SecurityConfigError::Invalid {
                key: format!("auth.lockout.{}", field.config_key()),
                reason,
            })?;
        let lockout_settings =
            (!lc.settings_file.as_os_str().is_empty()).then(|| lc.settings_file.clone());
        if let Some(path) = &lockout_settings {
            if let Some(p) = super::lockout_settings::load(path) {
                tracing::info!(path = %path.display(), threshold = p.threshold, duration_secs = p.duration_secs, reset_after_secs = p.reset_after_secs, counter_reset = p.counter_reset_enabled, "account lockout policy as set through Redfish, not the configured one");
                lockout_policy = p;
            }
        }
        let lockout = Lockout::new(lockout_policy);
        let locks_file = (!lc.locks_file.as_os_str().is_empty()).then(|| lc.locks_file.clone());
        // The accounts as they are now, for what was kept of them: locks
        // and sessions.
        let accounts = users.list();
        if let Some(path) = &locks_file {
            // Only accounts there still are: a lock of a removed account
            // must not fall on a new one of the same name.
            let locks: Vec<_> = super::lockout_state::load(path)
                .into_iter()
                .filter(|(name, _)| accounts.iter().any(|u| u.name == *name))
                .collect();
            lockout.restore(&locks);
            let restored = lockout.locks();
            if !restored.is_empty() {
                tracing::warn!(path = %path.display(), accounts = ?restored.iter().map(|(n, _)| n).collect::<Vec<_>>(), "accounts still locked after failed logins");
            }
        }
        let jwt = cfg.jwt.as_ref().map(JwtValidator::new).transpose()?;
        let ldap = cfg.ldap.as_ref().map(LdapAuthenticator::new).transpose()?;
        // Kept sessions of accounts as they still are: a local account
        // removed, disabled, given another role or another password while
        // the service was down ends its sessions, as the same change does
        // at run time; an LDAP login's needs LDAP still configured.
        let restored = sessions.restore(|k| match k.info.login {
            AuthMethod::Local => {
                accounts.iter().any(|u| {
                    u.name == k.info.user
                        && u.enabled
                        && u.role == k.info.role
                        && u.password_change_required == k.info.password_change_required
                }) && k.credential.is_some()
                    && users.credential(&k.info.user) == k.credential
            }
            AuthMethod::Ldap => ldap.is_some(),
            _ => false,
        });
        if restored > 0 {
            tracing::info!(
                sessions = restored,
                "login sessions kept across the restart"
            );
        }
        Ok(Security {
            realm: cfg.realm.clone(),
            tokens,
            jwt,
            ldap,
            ldap_config: cfg.ldap.clone(),
            users,
            sessions,
            session_settings,
            anonymous: cfg.anonymous.clone(),
            client_cert: cfg.client_cert.clone(),
            limiter: FailureLimiter::new(&cfg.rate_limit),
            lockout,
            lockout_settings,
            locks_file,
            on_locked: std::sync::OnceLock::new(),
        })
    }

    /// One line for the start-up log: which methods are on.
    pub fn describe(&self) -> String {
        let mut on = Vec::new();
        if let Some(t) = &self.tokens {
            on.push(format!("{} static token(s)", t.len()));
        }
        if self.jwt.is_some() {
            on.push("OAuth2/OIDC JWT".to_string());
        }
        if self.users.in_use() {
            on.push(format!(
                "{} local user(s) (HTTP Basic, Redfish sessions){}",
                self.users.list().len(),
                if self.users.writable() {
                    ", managed through Redfish"
                } else {
                    ""
                }
            ));
        }
        if self.ldap.is_some() {
            on.push("LDAP (HTTP Basic)".to_string());
        }
        if !self.client_cert.roles.is_empty() || self.client_cert.default_role.is_some() {
            on.push("client certificates".to_string());
        }
        if self.anonymous.enabled {
            let scope = if self.anonymous.loopback_only {
                " from loopback"
            } else {
                ""
            };
            on.push(format!("anonymous {}{scope}", self.anonymous.role));
        }
        if on.is_empty() {
            "no authentication method configured: every request is refused (run `opendcre auth init`)"
                .to_string()
        } else {
            format!("authentication: {}", on.join(", "))
        }
    }

    /// The schemes offered in 401 answers. RFC 9110 requires at least one
    /// challenge, so Bearer is named even when only client certificates or
    /// nothing at all is configured.
    pub fn challenges(&self) -> Challenges {
        let bearer = self.tokens.is_some() || self.jwt.is_some();
        let basic = self.ldap.is_some() || self.users.in_use();
        Challenges {
            realm: self.realm.clone(),
            bearer: bearer || !basic,
            basic,
        }
    }

    /// Authenticates the request and checks that its principal holds
    /// `needed`. `client_cert` is the identity from the TLS handshake
    /// ([`crate::tls::Accepted::client`]); header credentials, when present,
    /// take precedence over it. `method` and `path` are only logged.
    pub async fn check_with(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        peer: SocketAddr,
        client_cert: Option<&ClientIdentity>,
        needed: Permission,
    ) -> Result<Principal, AuthRejection> {
        let creds = credentials::from_headers(headers, false);
        self.decide(creds, method, path, peer, client_cert, needed)
            .await
    }

    /// [`Security::check_with`] for the Redfish service, where a session's
    /// `X-Auth-Token` is a credential too (and comes first).
    pub async fn check_redfish(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        peer: SocketAddr,
        client_cert: Option<&ClientIdentity>,
        needed: Permission,
    ) -> Result<Principal, AuthRejection> {
        let creds = credentials::from_headers(headers, true);
        self.decide(creds, method, path, peer, client_cert, needed)
            .await
    }

    /// A user name and password login (Redfish `POST …/Sessions`): checked
    /// as HTTP Basic is (local accounts, then LDAP), through the same
    /// failure limiter and with the same log lines.
    pub async fn login(
        &self,
        method: &Method,
        path: &str,
        user: &str,
        password: Secret,
        peer: SocketAddr,
    ) -> Result<Principal, AuthRejection> {
        let creds = Ok(Some(Credentials::Basic {
            user: user.to_string(),
            password,
        }));
        self.decide(creds, method, path, peer, None, Permission::Read)
            .await
    }

    /// A Redfish login session for `principal` (a login's outcome).
    pub fn create_session(
        &self,
        principal: &Principal,
    ) -> Result<(super::session::SessionInfo, String), super::session::SessionError> {
        let credential = match principal.method {
            AuthMethod::Local => self.users.credential(&principal.name),
            _ => None,
        };
        self.sessions.create(principal, credential)
    }

    /// The Redfish login sessions.
    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// Whether an administrator may change the session idle timeout
    /// (`[auth.sessions] settings_file` is set).
    pub fn session_timeout_writable(&self) -> bool {
        self.session_settings.is_some()
    }

    /// A new session idle timeout (Redfish `SessionTimeout`, within
    /// [`super::SESSION_TIMEOUT_RANGE`]): kept in the settings file first,
    /// then in force, for live sessions too.
    pub async fn set_session_timeout(&self, secs: u64) -> Result<(), String> {
        if !super::SESSION_TIMEOUT_RANGE.contains(&secs) {
            return Err(format!(
                "SessionTimeout {secs} is out of {:?}",
                super::SESSION_TIMEOUT_RANGE
            ));
        }
        let Some(path) = self.session_settings.clone() else {
            return Err(
                "the session timeout is not kept ([auth.sessions] settings_file is empty)".into(),
            );
        };
        tokio::task::spawn_blocking(move || super::session_settings::save(&path, secs))
            .await
            .map_err(|e| format!("the session settings writer failed: {e}"))??;
        self.sessions
            .set_timeout(std::time::Duration::from_secs(secs));
        tracing::info!(timeout_secs = secs, "session idle timeout changed");
        Ok(())
    }

    /// The local accounts, configured ones first (no hashes), with
    /// whether each is locked now.
    pub fn local_users(&self) -> Vec<LocalUser> {
        let mut users = self.users.list();
        for u in &mut users {
            u.locked = self.lockout.is_locked(&u.name);
        }
        users
    }

    /// The lockout policy in force (Redfish shows it on the account
    /// service).
    pub fn lockout_policy(&self) -> super::LockoutPolicy {
        self.lockout.policy()
    }

    /// Whether an administrator may change the lockout policy
    /// (`[auth.lockout] settings_file` is set).
    pub fn lockout_writable(&self) -> bool {
        self.lockout_settings.is_some()
    }

    /// A new lockout policy: checked, kept in the settings file first, then
    /// in force (for the counts and locks there are, too).
    pub async fn set_lockout_policy(&self, policy: super::LockoutPolicy) -> Result<(), String> {
        policy
            .check()
            .map_err(|(field, why)| format!("{} {why}", field.redfish_name()))?;
        let Some(path) = self.lockout_settings.clone() else {
            return Err(
                "the lockout policy is not kept ([auth.lockout] settings_file is empty)".into(),
            );
        };
        tokio::task::spawn_blocking(move || super::lockout_settings::save(&path, &policy))
            .await
            .map_err(|e| format!("the lockout settings writer failed: {e}"))??;
        self.lockout.set_policy(policy);
        // A policy may end locks (threshold 0, a shorter duration).
        self.save_locks().await;
        tracing::info!(
            threshold = policy.threshold,
            duration_secs = policy.duration_secs,
            reset_after_secs = policy.reset_after_secs,
            counter_reset = policy.counter_reset_enabled,
            "account lockout policy changed"
        );
        Ok(())
    }

    /// Sets what is told when a local account is locked; only the first
    /// call counts.
    pub fn on_account_locked(&self, f: impl Fn(&str, u32, Option<u64>) + Send + Sync + 'static) {
        let _ = self.on_locked.set(Box::new(f));
    }

    /// An administrator unlocks local account `name` (Redfish `Locked:
    /// false`); its count of failed logins starts again. Whether it was
    /// locked.
    pub async fn unlock_account(&self, name: &str) -> bool {
        let was = self.lockout.clear(name);
        if was {
            self.save_locks().await;
        }
        was
    }

    /// Writes the locks in force to the locks file, if there is one. A
    /// failed write is logged: the locks stay in force in this process.
    async fn save_locks(&self) {
        let Some(path) = self.locks_file.clone() else {
            return;
        };
        let locks = self.lockout.locks();
        let shown = path.display().to_string();
        match tokio::task::spawn_blocking(move || super::lockout_state::save(&path, &locks)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(path = %shown, "account locks not kept: {e}"),
            Err(e) => tracing::error!(path = %shown, "account locks writer failed: {e}"),
        }
    }

    /// Whether accounts can be made, changed and deleted at run time
    /// (`[auth] accounts_file` is set).
    pub fn accounts_writable(&self) -> bool {
        self.users.writable()
    }

    /// Makes a local account in the accounts file.
    pub async fn create_account(
        &self,
        name: &str,
        password: &Secret,
        role: Role,
        flags: AccountFlags,
    ) -> Result<LocalUser, AccountError> {
        let user = self.users.create(name, password, role, flags).await?;
        // The name is a local account now, never a directory login: a
        // directory session of the same name must not act as it.
        self.sessions.remove_user(name, AuthMethod::Ldap);
        Ok(user)
    }

    /// Changes an account of the accounts file. Its sessions end: they were
    /// opened with what it no longer is. A renamed account is a new local
    /// name: the directory's sessions of that name end (as when an account
    /// is made), and the old name's failed-login count goes with the name.
    pub async fn update_account(
        &self,
        name: &str,
        change: AccountChange,
    ) -> Result<LocalUser, AccountError> {
        let user = self.users.update(name, change).await?;
        self.sessions.remove_user(name, AuthMethod::Local);
        if user.name != name {
            self.sessions.remove_user(&user.name, AuthMethod::Ldap);
            if self.lockout.clear(name) {
                self.save_locks().await;
            }
        }
        Ok(user)
    }

    /// Deletes an account of the accounts file and ends its sessions.
    pub async fn delete_account(&self, name: &str) -> Result<(), AccountError> {
        self.users.delete(name).await?;
        self.sessions.remove_user(name, AuthMethod::Local);
        // A new account of the same name starts without the old one's count.
        if self.lockout.clear(name) {
            self.save_locks().await;
        }
        Ok(())
    }

    /// `[auth.ldap]` when LDAP is on; its bind password must not be shown.
    pub fn ldap_config(&self) -> Option<&LdapConfig> {
        self.ldap_config.as_ref()
    }

    async fn decide(
        &self,
        creds: Result<Option<Credentials>, CredentialError>,
        method: &Method,
        path: &str,
        peer: SocketAddr,
        client_cert: Option<&ClientIdentity>,
        needed: Permission,
    ) -> Result<Principal, AuthRejection> {
        let ip = peer.ip();
        let (scheme, user) = describe(&creds);
        // Only a presented credential is an attempt: requests without one
        // (client certificate, anonymous, or a 401 asking for credentials)
        // verify nothing an attacker could guess, so they are not throttled.
        let attempt = match &creds {
            Ok(None) | Err(CredentialError::UnsupportedScheme) => None,
            Ok(Some(_)) | Err(CredentialError::Malformed(_)) => match self.limiter.admit(ip) {
                Ok(a) => Some(a),
                Err(retry_after) => {
                    tracing::warn!(client = %ip, %method, path, scheme, user, "request refused: too many failed authentication attempts");
                    return Err(AuthRejection::RateLimited { retry_after });
                }
            },
        };
        let outcome = match creds {
            Err(CredentialError::Malformed(msg)) => Err(Failure::Invalid {
                reason: msg.to_string(),
                bearer: false,
            }),
            Err(CredentialError::UnsupportedScheme) => {
                return Err(self.unauthenticated("unsupported authorization scheme", false));
            }
            Ok(Some(Credentials::Bearer(token))) => self.bearer(&token).await,
            Ok(Some(Credentials::Basic { user, password })) => self.basic(&user, &password).await,
            // Redfish clients send whatever token they hold in
            // `X-Auth-Token` (Ansible's `auth_token`, redfishtool): one that
            // is not a session's is the node's API token or a JWT, checked
            // as `Authorization: Bearer` would be (X-Auth-Token is read
            // only under /redfish, where a bearer token is good too).
            Ok(Some(Credentials::Session(token)))
                if !token
                    .expose()
                    .starts_with(super::session::SESSION_TOKEN_PREFIX) =>
            {
                self.bearer(&token).await
            }
            Ok(Some(Credentials::Session(token))) => self.session(&token),
            Ok(None) => match self.certificate_principal(client_cert) {
                Some(p) => Ok(p),
                None => match self.anonymous_principal(ip) {
                    Some(p) => Ok(p),
                    None => {
                        return Err(self.unauthenticated(super::rejection::NO_CREDENTIALS, false));
                    }
                },
            },
        };
        let principal = match outcome {
            Ok(p) => {
                if let Some(a) = attempt {
                    a.succeeded();
                }
                p
            }
            Err(Failure::Invalid { reason, bearer }) => {
                let verdict = match attempt {
                    Some(a) => a.failed().await,
                    None => FailureVerdict::Counted,
                };
                tracing::warn!(client = %ip, %method, path, scheme, user, reason = %reason, "authentication failed");
                return Err(match verdict {
                    FailureVerdict::Counted => self.unauthenticated(&reason, bearer),
                    FailureVerdict::Throttled(retry_after) => {
                        AuthRejection::RateLimited { retry_after }
                    }
                });
            }
            Err(Failure::NoRole { name, method: how }) => {
                if let Some(a) = attempt {
                    a.succeeded();
                }
                tracing::warn!(client = %ip, %method, path, user = ?name, via = %how, "authenticated identity has no role");
                return Err(AuthRejection::Forbidden {
                    name,
                    role: None,
                    needed,
                });
            }
            Err(Failure::Unavailable(reason)) => {
                if let Some(a) = attempt {
                    a.not_counted();
                }
                tracing::error!(client = %ip, %method, path, scheme, user, reason = %reason, "identity provider unavailable");
                return Err(AuthRejection::Unavailable {
                    message: "authentication provider unavailable".to_string(),
                });
            }
        };
        if !principal.role.grants(needed) {
            if principal.password_change_required {
                tracing::warn!(client = %ip, %method, path, user = ?principal.name, "request refused: the account must change its password first");
                return Err(AuthRejection::PasswordChangeRequired {
                    name: principal.name,
                });
            }
            tracing::warn!(client = %ip, %method, path, user = ?principal.name, role = %principal.role, %needed, "request forbidden");
            return Err(AuthRejection::Forbidden {
                name: principal.name,
                role: Some(principal.role),
                needed,
            });
        }
        Ok(principal)
    }

    fn unauthenticated(&self, message: &str, invalid_token: bool) -> AuthRejection {
        AuthRejection::Unauthenticated {
            challenges: self.challenges(),
            invalid_token,
            message: message.to_string(),
        }
    }

    async fn bearer(&self, token: &Secret) -> Result<Principal, Failure> {
        let invalid = |reason: &str| Failure::Invalid {
            reason: reason.to_string(),
            bearer: true,
        };
        if let Some(jwt) = &self.jwt {
            if looks_like_jwt(token.expose()) || self.tokens.is_none() {
                return match jwt.verify(token.expose()).await {
                    Ok(id) => match id.role {
                        Some(role) => Ok(Principal {
                            name: id.name,
                            role,
                            method: AuthMethod::Jwt,
                            password_change_required: false,
                        }),
                        None => Err(Failure::NoRole {
                            name: id.name,
                            method: AuthMethod::Jwt,
                        }),
                    },
                    Err(JwtError::Invalid(reason)) => Err(invalid(&reason)),
                    Err(JwtError::Unavailable(reason)) => Err(Failure::Unavailable(reason)),
                };
            }
        }
        match &self.tokens {
            Some(store) => match store.verify(token).await {
                Some((name, role)) => Ok(Principal {
                    name,
                    role,
                    method: AuthMethod::StaticToken,
                    password_change_required: false,
                }),
                None => Err(invalid("invalid bearer token")),
            },
            None => Err(invalid("bearer tokens are not accepted here")),
        }
    }

    fn session(&self, token: &Secret) -> Result<Principal, Failure> {
        match self.sessions.verify(token) {
            Some(s) => Ok(Principal {
                name: s.user,
                role: s.role,
                method: AuthMethod::Session,
                password_change_required: s.password_change_required,
            }),
            None => Err(Failure::Invalid {
                reason: "invalid or expired session token".into(),
                bearer: false,
            }),
        }
    }

    /// Local accounts first: a name that is a local account is decided
    /// here and never sent to LDAP (its password stays on the node);
    /// any other name goes to LDAP when configured.
    async fn basic(&self, user: &str, password: &Secret) -> Result<Principal, Failure> {
        let wrong = || Failure::Invalid {
            reason: "invalid user name or password".into(),
            bearer: false,
        };
        if self.users.in_use() {
            let users = &self.users;
            match users.check(user, password).await {
                // Even the right password does not open a locked account;
                // only with it is the client told why.
                UserCheck::Valid(u) if self.lockout.is_locked(&u.name) => {
                    let c = self.lockout.policy();
                    let until = if c.counter_reset_enabled {
                        format!(
                            "it unlocks {} s after it was locked, or when an administrator unlocks it",
                            c.duration_secs
                        )
                    } else {
                        "an administrator must unlock it".to_string()
                    };
                    return Err(Failure::Invalid {
                        reason: format!(
                            "the account is locked after {} failed logins in a row: {until}",
                            c.threshold
                        ),
                        bearer: false,
                    });
                }
                UserCheck::Valid(u) => {
                    self.lockout.succeeded(&u.name);
                    return Ok(Principal {
                        name: u.name,
                        role: u.role,
                        method: AuthMethod::Local,
                        password_change_required: u.password_change_required,
                    });
                }
                UserCheck::WrongPassword => {
                    if let Some(failures) = self.lockout.failed(user) {
                        let p = self.lockout.policy();
                        let secs = p.counter_reset_enabled.then_some(p.duration_secs);
                        tracing::warn!(
                            account = user,
                            failures,
                            duration_secs = ?secs,
                            "account locked after failed logins"
                        );
                        if let Some(tell) = self.on_locked.get() {
                            tell(user, failures, secs);
                        }
                        self.save_locks().await;
                    }
                    return Err(wrong());
                }
                UserCheck::Disabled => {
                    return Err(Failure::Invalid {
                        reason: "the account is disabled".into(),
                        bearer: false,
                    })
                }
                UserCheck::Unknown if self.ldap.is_none() => {
                    // As long as a known name takes: no user enumeration.
                    users.waste_time(password).await;
                    return Err(wrong());
                }
                UserCheck::Unknown => {}
            }
        }
        let Some(ldap) = &self.ldap else {
            return Err(Failure::Invalid {
                reason: "Basic authentication is not accepted here".into(),
                bearer: false,
            });
        };
        match ldap.authenticate(user, password).await {
            // The name the directory resolved, not the typed login.
            Ok(id) => match id.role {
                Some(role) => Ok(Principal {
                    name: id.name,
                    role,
                    method: AuthMethod::Ldap,
                    password_change_required: false,
                }),
                None => Err(Failure::NoRole {
                    name: id.name,
                    method: AuthMethod::Ldap,
                }),
            },
            Err(LdapAuthError::InvalidCredentials) => Err(Failure::Invalid {
                reason: "invalid user name or password".into(),
                bearer: false,
            }),
            Err(LdapAuthError::Unavailable(reason)) => Err(Failure::Unavailable(reason)),
        }
    }

    fn certificate_principal(&self, cert: Option<&ClientIdentity>) -> Option<Principal> {
        let cert = cert?;
        let cn = cert.common_name.as_deref();
        let role: Option<Role> = cn
            .and_then(|cn| self.client_cert.roles.get(cn).copied())
            .or(self.client_cert.default_role);
        match role {
            Some(role) => Some(Principal {
                name: cn.unwrap_or(&cert.subject).to_string(),
                role,
                method: AuthMethod::ClientCertificate,
                password_change_required: false,
            }),
            None => {
                tracing::debug!(subject = %cert.subject, "client certificate maps to no role");
                None
            }
        }
    }

    fn anonymous_principal(&self, ip: IpAddr) -> Option<Principal> {
        let a = &self.anonymous;
        let allowed = a.enabled && (!a.loopback_only || ip.to_canonical().is_loopback());
        allowed.then(|| Principal {
            name: "anonymous".to_string(),
            role: a.role,
            method: AuthMethod::Anonymous,
            password_change_required: false,
        })
    }
}

/// Scheme and (for Basic) user name for log lines; never the secret.
fn describe(creds: &Result<Option<Credentials>, CredentialError>) -> (&'static str, String) {
    match creds {
        Ok(Some(Credentials::Bearer(_))) => ("bearer", String::new()),
        Ok(Some(Credentials::Basic { user, .. })) => ("basic", user.escape_debug().to_string()),
        Ok(Some(Credentials::Session(_))) => ("session", String::new()),
        Ok(None) => ("none", String::new()),
        Err(_) => ("malformed", String::new()),
    }
}

/// Three base64url parts whose header starts with `{"` (`eyJ`). Static
/// tokens made by `auth init` never look like this.
fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.split('.').count() == 3
}
