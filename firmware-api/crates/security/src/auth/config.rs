//! The `[auth]` configuration table and its sub-tables. Every key is
//! documented in `firmware-api/config/security-example.toml`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::role::Role;
use crate::tls::TlsConfig;

/// The `[tls]` and `[auth]` tables together, e.g. the `security.toml`
/// written by `opendcre auth init`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    pub tls: TlsConfig,
    pub auth: AuthConfig,
}

/// `[auth]`: which authentication methods are on and how roles are given.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Realm named in `WWW-Authenticate` challenges.
    pub realm: String,
    /// `[auth.tokens]`: static bearer tokens by name.
    pub tokens: BTreeMap<String, TokenEntry>,
    /// Seconds a token verified against a slow hash stays verified in memory.
    pub token_cache_secs: u64,
    /// `[auth.jwt]`: OAuth2/OIDC bearer JWTs.
    pub jwt: Option<JwtConfig>,
    /// `[auth.users]`: local accounts by name (HTTP Basic, Redfish sessions).
    pub users: BTreeMap<String, UserEntry>,
    /// Where accounts an administrator makes through Redfish's account
    /// service are kept (argon2id hashes, mode 0600); empty: accounts are
    /// only `[auth.users]` and the account service is read-only.
    pub accounts_file: PathBuf,
    /// `[auth.sessions]`: Redfish login sessions.
    pub sessions: SessionsConfig,
    /// `[auth.ldap]`: LDAP / Active Directory via HTTP Basic.
    pub ldap: Option<LdapConfig>,
    /// `[auth.anonymous]`: requests without credentials.
    pub anonymous: AnonymousConfig,
    /// `[auth.client_cert]`: roles for mutual-TLS client certificates.
    pub client_cert: ClientCertConfig,
    /// `[auth.rate_limit]`: throttling of failed attempts per client.
    pub rate_limit: RateLimitConfig,
    /// `[auth.lockout]`: locking a local account after failed logins.
    pub lockout: LockoutConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: "opendcre".to_string(),
            tokens: BTreeMap::new(),
            token_cache_secs: 300,
            jwt: None,
            users: BTreeMap::new(),
            accounts_file: PathBuf::from("/var/lib/opendcre/accounts.json"),
            sessions: SessionsConfig::default(),
            ldap: None,
            anonymous: AnonymousConfig::default(),
            client_cert: ClientCertConfig::default(),
            rate_limit: RateLimitConfig::default(),
            lockout: LockoutConfig::default(),
        }
    }
}

impl AuthConfig {
    /// The `[auth]` in force. A table in the config file always wins. With
    /// none, the emulator (a developer's machine) gets
    /// [`AuthConfig::loopback_development`]; a real node gets the strict
    /// default, under which every request needs credentials (and, none
    /// being configured, is refused until `opendcre auth init` has run).
    pub fn effective(configured: Option<&AuthConfig>, emulator: bool) -> AuthConfig {
        match configured {
            Some(c) => c.clone(),
            None if emulator => AuthConfig::loopback_development(),
            None => AuthConfig::default(),
        }
    }

    /// The emulator's development default: no credentials needed from
    /// loopback, full rights there, nothing from anywhere else.
    pub(crate) fn loopback_development() -> AuthConfig {
        AuthConfig {
            anonymous: AnonymousConfig {
                enabled: true,
                role: Role::Operator,
                loopback_only: true,
            },
            // A developer's machine: nothing written under /var/lib.
            accounts_file: PathBuf::new(),
            lockout: LockoutConfig {
                settings_file: PathBuf::new(),
                locks_file: PathBuf::new(),
                ..LockoutConfig::default()
            },
            ..AuthConfig::default()
        }
    }
}

/// One static bearer token: only its hash is stored.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// `$argon2id$...` (PHC string) or `sha256:<64 hex digits>`.
    pub hash: String,
    pub role: Role,
}

/// One local account: only the hash of its password is stored.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// `$argon2id$...` (PHC string, `opendcre auth hash-password`).
    pub password_hash: String,
    pub role: Role,
}

/// `[auth.sessions]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// Idle seconds after which a session ends (each use restarts the
    /// clock); Redfish allows 30 to 86400.
    pub timeout_secs: u64,
    /// Live sessions at most; a login beyond is refused (503).
    pub max: usize,
    /// Where the timeout an administrator sets through Redfish
    /// (`SessionTimeout`) is kept; it replaces `timeout_secs` from then on.
    /// Empty: `SessionTimeout` is read-only.
    pub settings_file: PathBuf,
    /// Where the live sessions are kept (their tokens' SHA-256, never the
    /// tokens) so that a restart of the service within the same boot keeps
    /// them. Empty (the default): a restart ends every session.
    pub state_file: PathBuf,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            timeout_secs: 1800,
            max: 64,
            settings_file: PathBuf::from("/var/lib/opendcre/session-service.json"),
            state_file: PathBuf::new(),
        }
    }
}

/// `[auth.jwt]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// Required `iss` claim; also the base URL for OIDC discovery.
    pub issuer: String,
    /// Accepted `aud` values; a token must carry at least one.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Signature algorithms accepted (asymmetric only).
    pub algorithms: Vec<String>,
    /// JWKS from a local file.
    pub jwks_file: Option<PathBuf>,
    /// JWKS from a URL (https, or http to a loopback address).
    pub jwks_url: Option<String>,
    /// Find `jwks_uri` through `<issuer>/.well-known/openid-configuration`.
    pub discovery: bool,
    /// PEM bundle trusted for the JWKS/discovery HTTPS fetch instead of the
    /// system store.
    pub ca_file: Option<PathBuf>,
    /// Seconds a fetched key set is used before it is fetched again.
    pub jwks_ttl_secs: u64,
    /// Least seconds between two fetches (an unknown `kid` triggers one).
    pub jwks_min_refresh_secs: u64,
    /// Bound on one whole fetch: connect, TLS, request and body.
    pub timeout_ms: u64,
    /// Clock skew tolerated for `exp`/`nbf`.
    pub leeway_secs: u64,
    /// Claim naming the user in logs.
    pub username_claim: String,
    /// Claim holding role names or groups; dots walk into objects
    /// (`realm_access.roles`); a string value is split on spaces (`scope`).
    pub roles_claim: String,
    /// Claim value → role.
    pub role_map: BTreeMap<String, Role>,
    /// Role for a valid token none of whose claim values is mapped.
    pub default_role: Option<Role>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            issuer: String::new(),
            audience: Vec::new(),
            algorithms: vec!["RS256".into(), "ES256".into()],
            jwks_file: None,
            jwks_url: None,
            discovery: false,
            ca_file: None,
            jwks_ttl_secs: 3600,
            jwks_min_refresh_secs: 30,
            timeout_ms: 5000,
            leeway_secs: 60,
            username_claim: "sub".into(),
            roles_claim: "roles".into(),
            role_map: BTreeMap::new(),
            default_role: None,
        }
    }
}

/// How the user's entry is found and bound.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LdapMode {
    /// Search the user with a service account (or anonymously), then bind
    /// as the found DN with the given password.
    Search,
    /// Bind directly with `bind_template` filled in (Active Directory:
    /// `{user}@corp.example.com`; OpenLDAP: `uid={user},ou=people,...`),
    /// then read the user's own entry with `user_filter` for its groups.
    Direct,
}

/// Where group membership comes from.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LdapGroupSource {
    /// The user entry's `memberOf` attribute (AD, OpenLDAP memberof overlay).
    MemberOf,
    /// A search under `group_base` with `group_filter`.
    Search,
}

/// `[auth.ldap]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before any bind.
    pub starttls: bool,
    /// PEM bundle trusted for LDAPS/StartTLS instead of the system store.
    pub ca_file: Option<PathBuf>,
    /// Bound on each LDAP operation and on the connect.
    pub timeout_ms: u64,
    pub mode: LdapMode,
    /// Service account for the search (mode `search`); unset: anonymous search.
    pub bind_dn: Option<String>,
    pub bind_password: Option<String>,
    /// File holding the service account password (first line), preferred
    /// over `bind_password` so the secret can have its own file mode.
    pub bind_password_file: Option<PathBuf>,
    /// Subtree holding user entries.
    pub user_base: String,
    /// Filter finding a user; `{user}` is replaced by the escaped login name.
    pub user_filter: String,
    /// Mode `direct`: the bind name, `{user}` replaced by the login name
    /// (DN-escaped when the template is a DN).
    pub bind_template: Option<String>,
    pub group_source: LdapGroupSource,
    /// Subtree holding groups (group_source = "search").
    pub group_base: String,
    /// `{dn}` is replaced by the escaped user DN, `{user}` by the login.
    pub group_filter: String,
    /// Group DN or group CN (case-insensitive) → role; highest role wins.
    pub group_roles: BTreeMap<String, Role>,
    /// Role for a user who binds but is in no mapped group; unset: 403.
    pub default_role: Option<Role>,
    /// Seconds a successful bind is remembered (0 disables the cache).
    pub cache_ttl_secs: u64,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            url: "ldap://127.0.0.1:389".into(),
            starttls: false,
            ca_file: None,
            timeout_ms: 5000,
            mode: LdapMode::Search,
            bind_dn: None,
            bind_password: None,
            bind_password_file: None,
            user_base: String::new(),
            user_filter: "(uid={user})".into(),
            bind_template: None,
            group_source: LdapGroupSource::Search,
            group_base: String::new(),
            group_filter: "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=posixGroup)(memberUid={user})))".into(),
            group_roles: BTreeMap::new(),
            default_role: None,
            cache_ttl_secs: 60,
        }
    }
}

/// `[auth.anonymous]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnonymousConfig {
    /// Requests without credentials are let in with `role`.
    pub enabled: bool,
    pub role: Role,
    /// Only from loopback addresses.
    pub loopback_only: bool,
}

impl Default for AnonymousConfig {
    fn default() -> Self {
        AnonymousConfig {
            enabled: false,
            role: Role::Reader,
            loopback_only: true,
        }
    }
}

/// `[auth.client_cert]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientCertConfig {
    /// Certificate subject CN → role.
    pub roles: BTreeMap<String, Role>,
    /// Role for any certificate from the client CA whose CN is not listed;
    /// unset: such a certificate alone does not authenticate.
    pub default_role: Option<Role>,
}

/// `[auth.rate_limit]`: a token bucket of failed attempts per client
/// address (IPv6 per /64).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Failed attempts a client may make in a burst.
    pub burst: u32,
    /// Failed attempts regained per minute.
    pub refill_per_minute: u32,
    /// Clients tracked at once; only idle ones (bucket full, nothing in
    /// flight) are dropped for new ones, else new clients are refused.
    pub max_clients: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            burst: 10,
            refill_per_minute: 6,
            max_clients: 4096,
        }
    }
}

/// `[auth.lockout]`: a local account that fails `threshold` logins in a
/// row is locked for `duration_secs` (Redfish `AccountLockoutThreshold`,
/// `AccountLockoutDuration`, `AccountLockoutCounterResetAfter`). Off by
/// default: whoever can reach the node can lock any account whose name
/// they know, the administrator's too, so it is a choice for the operator;
/// guessing is throttled per client address in any case
/// (`[auth.rate_limit]`). Directory (LDAP) accounts are locked by the
/// directory's own policy, not here. An administrator may change the
/// three numbers through Redfish; they are then kept in `settings_file`
/// and used over these.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutConfig {
    /// Failed logins in a row that lock the account; 0: never locked.
    pub threshold: u32,
    /// Seconds a locked account stays locked (an administrator may unlock
    /// it sooner).
    pub duration_secs: u64,
    /// Seconds after the last failed login when the count starts again;
    /// at most `duration_secs`, as Redfish asks.
    pub reset_after_secs: u64,
    /// `false`: only a successful login starts the count again, and a lock
    /// lasts until an administrator unlocks the account.
    pub counter_reset: bool,
    /// Where the policy an administrator set through Redfish is kept;
    /// empty: the policy is read-only there.
    pub settings_file: PathBuf,
    /// Where the accounts locked now are kept, so that a restart does not
    /// unlock them; empty: locks end with the process.
    pub locks_file: PathBuf,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            threshold: 0,
            duration_secs: 300,
            reset_after_secs: 300,
            counter_reset: true,
            settings_file: PathBuf::from("/var/lib/opendcre/account-service.json"),
            locks_file: PathBuf::from("/var/lib/opendcre/account-locks.json"),
        }
    }
}

impl LockoutConfig {
    /// The three numbers, as the lockout uses them.
    pub fn policy(&self) -> super::LockoutPolicy {
        super::LockoutPolicy {
            threshold: self.threshold,
            duration_secs: self.duration_secs,
            reset_after_secs: self.reset_after_secs,
            counter_reset_enabled: self.counter_reset,
        }
    }
}

fn one_or_many<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}
