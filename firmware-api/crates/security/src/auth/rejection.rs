//! Why a request was refused, and the HTTP answer for it.

use std::time::Duration;

use http::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};

use super::role::{Permission, Role};

/// Which schemes a 401 invites the client to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenges {
    pub realm: String,
    pub bearer: bool,
    pub basic: bool,
}

/// A refused request: its status, message and headers; the API crate turns
/// it into the JSON error shape it uses everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRejection {
    /// 401: no usable credentials. `invalid_token` marks a bearer token
    /// that was presented and refused (RFC 6750 `error="invalid_token"`).
    Unauthenticated {
        challenges: Challenges,
        invalid_token: bool,
        message: String,
    },
    /// 403: authenticated, but the role does not carry the permission.
    Forbidden {
        name: String,
        role: Option<Role>,
        needed: Permission,
    },
    /// 403: authenticated, but the account must change its password before
    /// it may do anything its role would otherwise allow or not (Redfish
    /// `PasswordChangeRequired`, DSP0266): said instead of [`Self::Forbidden`],
    /// so the client learns what to do rather than that its role is short.
    PasswordChangeRequired { name: String },
    /// 429: too many failed attempts from this client.
    RateLimited { retry_after: Duration },
    /// 503: the identity provider (LDAP server, JWKS endpoint) could not be
    /// asked; not the client's fault, so it does not count as a failure.
    Unavailable { message: String },
}

/// The message of a request that presented no credential at all: a
/// refusal, but no failed attempt.
pub(crate) const NO_CREDENTIALS: &str = "authentication required";

impl AuthRejection {
    /// A credential was presented and refused, or the client is throttled
    /// for earlier failures: what the event log records. A request without
    /// any credential, a missing role or an unreachable identity provider
    /// is not a failed attempt.
    pub fn is_failed_attempt(&self) -> bool {
        match self {
            AuthRejection::Unauthenticated { message, .. } => message != NO_CREDENTIALS,
            AuthRejection::RateLimited { .. } => true,
            AuthRejection::Forbidden { .. }
            | AuthRejection::PasswordChangeRequired { .. }
            | AuthRejection::Unavailable { .. } => false,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AuthRejection::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AuthRejection::Forbidden { .. } | AuthRejection::PasswordChangeRequired { .. } => {
                StatusCode::FORBIDDEN
            }
            AuthRejection::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthRejection::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthRejection::Unauthenticated { message, .. } => message.clone(),
            AuthRejection::Forbidden {
                role: Some(r),
                needed,
                ..
            } => {
                format!("role {r} does not have the {needed} permission")
            }
            AuthRejection::Forbidden { role: None, .. } => {
                "authenticated, but no role is assigned to this identity".to_string()
            }
            AuthRejection::PasswordChangeRequired { name } => {
                format!("the password of account {name:?} must be changed first")
            }
            AuthRejection::RateLimited { retry_after } => format!(
                "too many failed authentication attempts; retry in {} s",
                retry_secs(*retry_after)
            ),
            AuthRejection::Unavailable { message } => message.clone(),
        }
    }

    /// `WWW-Authenticate` and `Retry-After` as applicable.
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        match self {
            AuthRejection::Unauthenticated {
                challenges,
                invalid_token,
                ..
            } => {
                let realm = quote(&challenges.realm);
                if challenges.bearer {
                    let v = if *invalid_token {
                        format!("Bearer realm={realm}, error=\"invalid_token\"")
                    } else {
                        format!("Bearer realm={realm}")
                    };
                    if let Ok(v) = HeaderValue::from_str(&v) {
                        h.append(WWW_AUTHENTICATE, v);
                    }
                }
                if challenges.basic {
                    let v = format!("Basic realm={realm}, charset=\"UTF-8\"");
                    if let Ok(v) = HeaderValue::from_str(&v) {
                        h.append(WWW_AUTHENTICATE, v);
                    }
                }
            }
            AuthRejection::RateLimited { retry_after } => {
                h.insert(RETRY_AFTER, HeaderValue::from(retry_secs(*retry_after)));
            }
            AuthRejection::Unavailable { .. } => {
                h.insert(RETRY_AFTER, HeaderValue::from(5u64));
            }
            AuthRejection::Forbidden { .. } | AuthRejection::PasswordChangeRequired { .. } => {}
        }
        h
    }
}

fn retry_secs(d: Duration) -> u64 {
    // Round up: "retry in 0 s" would invite an immediate retry that fails.
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

/// A quoted-string per RFC 9110; realms come from config, so escape.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthenticated_lists_each_configured_scheme() {
        let r = AuthRejection::Unauthenticated {
            challenges: Challenges {
                realm: "node \"7\"".into(),
                bearer: true,
                basic: true,
            },
            invalid_token: true,
            message: "invalid token".into(),
        };
        let h = r.headers();
        let all: Vec<_> = h.get_all(WWW_AUTHENTICATE).iter().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0],
            "Bearer realm=\"node \\\"7\\\"\", error=\"invalid_token\""
        );
        assert_eq!(all[1], "Basic realm=\"node \\\"7\\\"\", charset=\"UTF-8\"");
        assert_eq!(r.status(), 401);
        assert_eq!(r.message(), "invalid token");
    }

    #[test]
    fn rate_limited_rounds_retry_after_up() {
        let r = AuthRejection::RateLimited {
            retry_after: Duration::from_millis(2100),
        };
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[RETRY_AFTER], "3");
    }
}
