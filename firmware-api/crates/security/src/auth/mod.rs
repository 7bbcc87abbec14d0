//! Authentication and authorization for the REST API.
//!
//! The original OpenDCRE left this to an nginx in front; here each method is
//! built in, optional and combinable: static bearer tokens (stored hashed),
//! OAuth2/OIDC JWTs checked against the provider's JWKS, LDAP/Active
//! Directory via HTTP Basic, local accounts (argon2id passwords) via HTTP
//! Basic and Redfish sessions (`X-Auth-Token`), mutual-TLS client certificates, and anonymous
//! access only where configured. The API's server calls
//! [`Security::check_with`] once per request, before routing answers
//! anything, and shapes an [`AuthRejection`] into its JSON error answer.

mod argon;
mod cache;
mod config;
mod credentials;
mod fetch;
pub mod init;
mod jwt;
mod kept;
mod ldap;
mod lockout;
mod lockout_settings;
mod lockout_state;
mod principal;
mod ratelimit;
mod rejection;
mod role;
mod security;
mod session;
mod session_settings;
mod session_state;
mod token;
mod users;

pub use config::{
    AnonymousConfig, AuthConfig, ClientCertConfig, JwtConfig, LdapConfig, LdapGroupSource,
    LdapMode, LockoutConfig, RateLimitConfig, SecurityConfig, SessionsConfig, TokenEntry,
    UserEntry,
};
pub use credentials::Secret;
pub use lockout::{LockoutField, LockoutPolicy, LOCKOUT_SECS_RANGE, LOCKOUT_THRESHOLD_MAX};

pub use ldap::{LdapAuthError, LdapAuthenticator};
pub use principal::{AuthMethod, Principal};
pub use rejection::AuthRejection;
pub use role::{Permission, Role};
pub use security::Security;
pub use session::{SessionError, SessionInfo, SessionStore};
pub use session_settings::SESSION_TIMEOUT_RANGE;
pub use token::{generate_token, hash_token, HashAlgorithm, TokenHash, TokenStore};
pub use users::{
    password_length_ok, AccountChange, AccountError, AccountFlags, LocalUser, MAX_MANAGED_ACCOUNTS,
    MAX_PASSWORD_LEN, MAX_USER_NAME, MIN_PASSWORD_LEN,
};

/// A configuration value that cannot work; `key` is the dotted TOML path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityConfigError {
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}
