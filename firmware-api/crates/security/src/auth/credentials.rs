//! Parsing the `Authorization` header into credentials.

use std::fmt;

use base64::Engine;
use http::header::AUTHORIZATION;
use http::HeaderMap;

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    Bearer(Secret),
    Basic {
        user: String,
        password: Secret,
    },
    /// A Redfish session token (`X-Auth-Token`).
    Session(Secret),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialError {
    /// The header is there but cannot be understood; the message is safe
    /// to return to the client (it never contains the credential).
    Malformed(&'static str),
    /// A scheme this server does not implement (e.g. Digest, Negotiate).
    UnsupportedScheme,
}

/// Longest header value looked at; real tokens and JWTs are far shorter,
/// and a cap keeps base64/JSON work bounded for hostile input.
const MAX_LEN: usize = 16 * 1024;

/// The Redfish session token header.
pub const X_AUTH_TOKEN: &str = "x-auth-token";

/// The request's credentials. With `sessions`, an `X-Auth-Token` header
/// is one, and comes before `Authorization` (DSP0266: a client holding a
/// session sends its token).
pub(crate) fn from_headers(
    headers: &HeaderMap,
    sessions: bool,
) -> Result<Option<Credentials>, CredentialError> {
    if sessions {
        let mut tokens = headers.get_all(X_AUTH_TOKEN).iter();
        if let Some(value) = tokens.next() {
            if tokens.next().is_some() {
                return Err(CredentialError::Malformed(
                    "more than one X-Auth-Token header",
                ));
            }
            let ok = !value.is_empty()
                && value.len() <= MAX_LEN
                && value.as_bytes().iter().copied().all(is_token68);
            if !ok {
                return Err(CredentialError::Malformed("malformed X-Auth-Token"));
            }
            let text = value.to_str().unwrap_or_default();
            return Ok(Some(Credentials::Session(Secret::new(text))));
        }
    }
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(CredentialError::Malformed(
            "more than one Authorization header",
        ));
    }
    if value.len() > MAX_LEN {
        return Err(CredentialError::Malformed("Authorization header too long"));
    }
    let value = value
        .to_str()
        .map_err(|_| CredentialError::Malformed("Authorization header is not visible ASCII"))?;
    let value = value.trim();
    let (scheme, rest) = match value.split_once(' ') {
        Some((s, r)) => (s, r.trim()),
        None => (value, ""),
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() {
            return Err(CredentialError::Malformed("empty bearer token"));
        }
        if !rest.bytes().all(is_token68) {
            return Err(CredentialError::Malformed(
                "bearer token has invalid characters",
            ));
        }
        Ok(Some(Credentials::Bearer(Secret::new(rest))))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| CredentialError::Malformed("Basic credentials are not base64"))?;
        let text = String::from_utf8(raw)
            .map_err(|_| CredentialError::Malformed("Basic credentials are not UTF-8"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or(CredentialError::Malformed("Basic credentials lack ':'"))?;
        Ok(Some(Credentials::Basic {
            user: user.to_string(),
            password: Secret::new(password),
        }))
    } else {
        Err(CredentialError::UnsupportedScheme)
    }
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(v: &str) -> Result<Option<Credentials>, CredentialError> {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        from_headers(&h, false)
    }

    #[test]
    fn schemes() {
        assert_eq!(
            parse("Bearer abc.def-_~+/=").unwrap(),
            Some(Credentials::Bearer(Secret::new("abc.def-_~+/=")))
        );
        assert_eq!(
            parse("bAsIc YWxpY2U6cDpx").unwrap(),
            Some(Credentials::Basic {
                user: "alice".into(),
                password: Secret::new("p:q")
            })
        );
        assert_eq!(parse("Digest x=y"), Err(CredentialError::UnsupportedScheme));
        assert!(matches!(
            parse("Bearer"),
            Err(CredentialError::Malformed(_))
        ));
        assert!(matches!(
            parse("Bearer a b"),
            Err(CredentialError::Malformed(_))
        ));
        assert!(matches!(
            parse("Basic !!!"),
            Err(CredentialError::Malformed(_))
        ));
        assert!(matches!(
            parse("Basic YWxpY2U="),
            Err(CredentialError::Malformed(_))
        ));
        assert_eq!(from_headers(&HeaderMap::new(), false), Ok(None));
    }

    #[test]
    fn duplicate_header_is_refused() {
        let mut h = HeaderMap::new();
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        h.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert!(matches!(
            from_headers(&h, false),
            Err(CredentialError::Malformed(_))
        ));
    }

    #[test]
    fn session_tokens_only_where_sessions_count() {
        let mut h = HeaderMap::new();
        h.insert(X_AUTH_TOKEN, HeaderValue::from_static("odcrs_abc"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        assert_eq!(
            from_headers(&h, true),
            Ok(Some(Credentials::Session(Secret::new("odcrs_abc"))))
        );
        assert_eq!(
            from_headers(&h, false),
            Ok(Some(Credentials::Bearer(Secret::new("t"))))
        );
        h.insert(X_AUTH_TOKEN, HeaderValue::from_static("a b"));
        assert!(matches!(
            from_headers(&h, true),
            Err(CredentialError::Malformed(_))
        ));
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = Credentials::Bearer(Secret::new("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
