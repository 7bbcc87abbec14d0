//! The outcome of a successful check: who the caller is and what role.

use std::fmt;

use super::role::Role;

/// How the principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Anonymous,
    ClientCertificate,
    StaticToken,
    Jwt,
    Ldap,
    /// A local account (`[auth.users]`).
    Local,
    /// A Redfish session (`X-Auth-Token`) made by a local or LDAP login.
    Session,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMethod::Anonymous => "anonymous",
            AuthMethod::ClientCertificate => "client-certificate",
            AuthMethod::StaticToken => "token",
            AuthMethod::Jwt => "jwt",
            AuthMethod::Ldap => "ldap",
            AuthMethod::Local => "local",
            AuthMethod::Session => "session",
        })
    }
}

/// An authenticated and authorized caller, for access logs and handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Token name, JWT subject, the login as the LDAP entry holds it,
    /// certificate CN or "anonymous". Partly chosen by clients (JWT claim,
    /// certificate CN): log it with `?` (Debug), which quotes and escapes.
    pub name: String,
    pub role: Role,
    pub method: AuthMethod,
    /// A local account whose password an administrator set for it to
    /// change (Redfish `PasswordChangeRequired`): until it does, it may
    /// only read and change its own account (DSP0266 "Password change
    /// required handling"; the HTTP layer refuses the rest).
    pub password_change_required: bool,
}
