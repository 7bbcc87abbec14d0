//! `SessionService`: login (`POST …/Sessions` with `UserName` and
//! `Password`), the sessions a caller may see, and logout (`DELETE`).
//! The sessions themselves (tokens, timeouts, the bound) live in the
//! security crate's `SessionStore`, which the api server consults for
//! `X-Auth-Token` on `/redfish` requests.
//!
//! Who sees what: an operator (an administrator too) sees and may end
//! every session; anyone else only the sessions of their own user name,
//! logged in as that user (Basic or a session). Another user's session is
//! a 404 to them, as if it did not exist.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use opendcre_eventlog::{Event, EventLog};
use opendcre_proto::calendar::{rfc3339_utc, Fraction};
use opendcre_security::auth::{
    AuthMethod, Permission, Principal, Secret, Security, SessionError, SessionInfo,
    SESSION_TIMEOUT_RANGE,
};
use serde_json::{json, Value};

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::patch::{self, Writable};
use crate::resources::{collection, head, with};
use crate::route::{READ_ONLY, V1};

/// Who sent the request, and what can check a login: the api server fills
/// this in after authentication.
#[derive(Clone)]
pub struct Caller {
    /// `None` on a public resource (and the login) or with auth off.
    pub principal: Option<Principal>,
    /// `None` when the server runs without authentication.
    pub security: Option<Arc<Security>>,
    pub peer: SocketAddr,
}

impl Caller {
    /// Who the caller is, for the event log: the principal's name, or what
    /// let it in without one.
    pub fn user(&self) -> String {
        match (&self.principal, &self.security) {
            (Some(p), _) => p.name.clone(),
            (None, None) => "anonymous (no authentication configured)".into(),
            (None, Some(_)) => "anonymous".into(),
        }
    }
}

fn sessions_uri() -> String {
    format!("{V1}/SessionService/Sessions")
}

fn session_uri(id: &str) -> String {
    format!("{}/{id}", sessions_uri())
}

/// `GET /redfish/v1/SessionService`, with its `@odata.etag` (a `PATCH`
/// names it in `If-Match`).
pub(crate) fn service(caller: &Caller) -> Value {
    let (enabled, timeout) = match &caller.security {
        Some(s) => (true, s.sessions().timeout().as_secs()),
        None => (false, 1800),
    };
    let mut v = with(
        head(&format!("{V1}/SessionService"), "SessionService"),
        json!({
            "Id": "SessionService",
            "Name": "Session Service",
            "Description": "Log in with POST of UserName and Password to Sessions; send the X-Auth-Token answered on every /redfish request; DELETE the session to log out.",
            "ServiceEnabled": enabled,
            "SessionTimeout": timeout,
            "Status": { "State": if enabled { "Enabled" } else { "Disabled" } },
            "Sessions": { "@odata.id": sessions_uri() },
        }),
    );
    patch::stamp(&mut v);
    v
}

/// `SessionService` is read-only without authentication, and when the node
/// does not keep a changed timeout (`[auth.sessions] settings_file = ""`).
pub(crate) fn allow(security: Option<&Security>) -> Option<&'static str> {
    (!security.is_some_and(Security::session_timeout_writable)).then_some(READ_ONLY)
}

/// `PATCH /redfish/v1/SessionService` (an administrator's; `If-Match`
/// required, as on every `PATCH` here): `SessionTimeout`, 30 to 86400
/// seconds, kept by the node and in force at once for live sessions too.
pub(crate) async fn patch_service(
    caller: &Caller,
    headers: &HeaderMap,
    body: &[u8],
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    let current = service(caller);
    patch::check_if_match(headers, current["@odata.etag"].as_str().unwrap_or(""))?;
    let range = Writable::Integer(*SESSION_TIMEOUT_RANGE.start(), *SESSION_TIMEOUT_RANGE.end());
    let writable = [("SessionTimeout", range)];
    let changes = patch::parse(body, &current, &writable)?;
    // `allow` let the PATCH through only with a security setup.
    let Some(security) = &caller.security else {
        return Err(RedfishError::failure("authentication is off"));
    };
    for (_, value) in changes {
        let secs = value.as_u64().unwrap_or_default();
        security.set_session_timeout(secs).await.map_err(|e| {
            tracing::error!("SessionTimeout not changed: {e}");
            RedfishError::failure(format!("the session timeout could not be kept: {e}"))
        })?;
        log.record(Event::session_timeout_changed(&caller.user(), secs));
    }
    Ok(Answer::json(StatusCode::OK, &service(caller)))
}

/// An operator, or the session's user: a caller that logged in with a
/// user name (Basic, or another session). A token, JWT or certificate
/// that happens to bear the same name is not that user.
fn may_see(caller: &Caller, s: &SessionInfo) -> bool {
    caller.principal.as_ref().is_some_and(|p| {
        p.role.grants(Permission::Operate)
            || (p.name == s.user
                && matches!(
                    p.method,
                    AuthMethod::Local | AuthMethod::Ldap | AuthMethod::Session
                ))
    })
}

fn visible(caller: &Caller) -> Vec<SessionInfo> {
    match &caller.security {
        Some(sec) => sec
            .sessions()
            .list()
            .into_iter()
            .filter(|s| may_see(caller, s))
            .collect(),
        None => Vec::new(),
    }
}

pub(crate) fn collection_of(caller: &Caller) -> Value {
    collection(
        &sessions_uri(),
        "SessionCollection",
        "Session Collection",
        visible(caller).iter().map(|s| session_uri(&s.id)).collect(),
    )
}

fn session(s: &SessionInfo) -> Value {
    let created = s
        .created
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let created = rfc3339_utc(i64::try_from(created).unwrap_or(0), Fraction::None);
    with(
        head(&session_uri(&s.id), "Session"),
        json!({
            "Id": s.id,
            "Name": "User Session",
            "Description": format!("Session of {} (logged in through {}).", s.user, s.login),
            "UserName": s.user,
            // DSP0266: the password is null in responses.
            "Password": null,
            "SessionType": "Redfish",
            "CreatedTime": created.replace('Z', "+00:00"),
        }),
    )
}

/// `GET`/`DELETE …/Sessions/{id}`.
pub(crate) fn member(
    caller: &Caller,
    method: &Method,
    id: &str,
    path: &str,
) -> Result<Answer, RedfishError> {
    let found = caller
        .security
        .as_ref()
        .and_then(|sec| sec.sessions().get(id))
        .filter(|s| may_see(caller, s))
        .ok_or_else(|| RedfishError::missing(path))?;
    if method == Method::DELETE {
        if let Some(sec) = &caller.security {
            sec.sessions().remove(id);
        }
        let by = caller.principal.as_ref().map_or("", |p| p.name.as_str());
        tracing::info!(session = %found.id, user = ?found.user, by = ?by, "session ended (logout)");
        return Ok(Answer::no_content());
    }
    Ok(Answer::json(StatusCode::OK, &session(&found)))
}

/// `GET …/Sessions/{id}` as JSON (also an expanded member): another
/// user's session is missing to a reader.
pub(crate) fn member_json(caller: &Caller, id: &str, path: &str) -> Result<Value, RedfishError> {
    caller
        .security
        .as_ref()
        .and_then(|sec| sec.sessions().get(id))
        .filter(|s| may_see(caller, s))
        .map(|s| session(&s))
        .ok_or_else(|| RedfishError::missing(path))
}

/// `POST …/Sessions`: the body's credentials checked as HTTP Basic is
/// (local accounts, then LDAP; same limiter, same log lines), then a new
/// session. `201 Created` with `X-Auth-Token`, `Location` and the session.
pub(crate) async fn login(
    caller: &Caller,
    path: &str,
    body: &[u8],
    events: &opendcre_eventlog::EventLog,
) -> Answer {
    match try_login(caller, path, body, events).await {
        Ok(a) => a,
        Err(a) => a,
    }
}

async fn try_login(
    caller: &Caller,
    path: &str,
    body: &[u8],
    events: &opendcre_eventlog::EventLog,
) -> Result<Answer, Answer> {
    let (user, password) = parse(body).map_err(|e| e.answer())?;
    let Some(sec) = &caller.security else {
        return Err(RedfishError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "authentication is not configured on this server",
            Some(3600),
        )
        .answer());
    };
    let principal = match sec
        .login(&Method::POST, path, &user, password, caller.peer)
        .await
    {
        Ok(p) => p,
        Err(rejection) => {
            if rejection.is_failed_attempt() {
                events.record(opendcre_eventlog::Event::auth_failure(
                    &caller.peer.ip().to_string(),
                    &format!("Redfish login as {user:?}: {}", rejection.message()),
                ));
            }
            let retry = rejection
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let mut a =
                RedfishError::from_status(rejection.status(), &rejection.message(), retry).answer();
            a.headers.extend(rejection.headers());
            return Err(a);
        }
    };
    let (info, token) = match sec.create_session(&principal) {
        Ok(created) => created,
        Err(SessionError::Full { max }) => {
            tracing::warn!(client = %caller.peer, user = ?principal.name, max, "login refused: session limit reached");
            let retry = 60;
            let mut a = RedfishError::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{max} sessions are open, the most this service holds; log out of one (DELETE) or wait for one to time out"),
                Some(retry),
            )
            .answer();
            a.headers
                .insert(http::header::RETRY_AFTER, HeaderValue::from(retry));
            return Err(a);
        }
        Err(SessionError::Random) => {
            return Err(RedfishError::failure("the system random source failed").answer())
        }
    };
    tracing::info!(client = %caller.peer, session = %info.id, user = ?info.user, role = %info.role, via = %info.login, "session created");
    let mut body = session(&info);
    if info.password_change_required {
        // DSP0266: the login succeeds and says what must come first.
        let m = RedfishError::password_change_required(&info.user).message();
        body["@Message.ExtendedInfo"] = serde_json::json!([m]);
    }
    let mut a = Answer::json(StatusCode::CREATED, &body);
    let token = HeaderValue::from_str(&token)
        .map_err(|_| RedfishError::failure("session token not a header value").answer())?;
    a.headers.insert("x-auth-token", token);
    if let Ok(loc) = HeaderValue::from_str(&session_uri(&info.id)) {
        a.headers.insert(http::header::LOCATION, loc);
    }
    Ok(a)
}

/// `{"UserName": …, "Password": …}`; errors never quote the password.
fn parse(body: &[u8]) -> Result<(String, Secret), RedfishError> {
    let bad = |m, args: &[&str]| RedfishError::new(StatusCode::BAD_REQUEST, m, args);
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(mut o) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "UserName" | "Password"))
    {
        return Err(bad(BaseMessage::PropertyUnknown, &[k]));
    }
    let user = match o.remove("UserName") {
        Some(Value::String(u)) => u,
        Some(other) => {
            return Err(bad(
                BaseMessage::PropertyValueTypeError,
                &[&other.to_string(), "UserName"],
            ))
        }
        None => return Err(bad(BaseMessage::PropertyMissing, &["UserName"])),
    };
    let password = match o.remove("Password") {
        Some(Value::String(p)) => Secret::new(p),
        Some(_) => {
            return Err(bad(
                BaseMessage::PropertyValueTypeError,
                &["(not shown)", "Password"],
            ))
        }
        None => return Err(bad(BaseMessage::PropertyMissing, &["Password"])),
    };
    Ok((user, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_bodies() {
        let (u, p) = parse(br#"{"UserName":"ops","Password":"pw-12345"}"#).unwrap();
        assert_eq!(u, "ops");
        assert_eq!(p, Secret::new("pw-12345"));
        let code = |b: &[u8]| parse(b).unwrap_err().body()["error"]["code"].clone();
        assert_eq!(code(b"{"), "Base.1.22.MalformedJSON");
        assert_eq!(code(b"[]"), "Base.1.22.MalformedJSON");
        assert_eq!(code(br#"{"UserName":"a"}"#), "Base.1.22.PropertyMissing");
        assert_eq!(
            code(br#"{"UserName":"a","Password":"b","X":1}"#),
            "Base.1.22.PropertyUnknown"
        );
        let e = parse(br#"{"UserName":"a","Password":12345678}"#).unwrap_err();
        assert!(!e.body().to_string().contains("12345678"));
    }
}
