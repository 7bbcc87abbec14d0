//! `Manager.Reset`: restarting the node itself. The service cannot reboot
//! the machine (it runs unprivileged, with no capabilities); it writes a
//! request file, `[manager] reboot_request`, which the image's
//! `opendcre-reboot.path` unit watches and answers with `systemctl
//! reboot`, a clean shutdown. The entry in the event log is on disk before
//! the request is written, so who restarted the node survives the restart.

use std::path::Path;

use http::StatusCode;
use opendcre_eventlog::{Event, EventLog};
use serde_json::Value;

use crate::answer::{Answer, BaseMessage, RedfishError};
use crate::route::{MANAGER_ID, V1};

const ACTION: &str = "Manager.Reset";
/// The one reset offered: a clean reboot of the node.
pub(crate) const GRACEFUL_RESTART: &str = "GracefulRestart";

pub(crate) fn uri() -> String {
    format!("{V1}/Managers/{MANAGER_ID}/Actions/{ACTION}")
}

/// The `Actions` member of the manager.
pub(crate) fn action() -> Value {
    serde_json::json!({
        "#Manager.Reset": {
            "target": uri(),
            "ResetType@Redfish.AllowableValues": [GRACEFUL_RESTART],
        }
    })
}

/// The body: `ResetType` `GracefulRestart`, or none (the same).
fn parse(body: &[u8]) -> Result<(), RedfishError> {
    let bad = |m, args: &[&str]| RedfishError::new(StatusCode::BAD_REQUEST, m, args);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let Ok(Value::Object(params)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    if let Some(unknown) = params.keys().find(|k| *k != "ResetType") {
        return Err(bad(BaseMessage::ActionParameterUnknown, &[ACTION, unknown]));
    }
    match params.get("ResetType") {
        None => Ok(()),
        Some(Value::String(t)) if t == GRACEFUL_RESTART => Ok(()),
        Some(Value::String(t)) => Err(bad(
            BaseMessage::ActionParameterValueNotInList,
            &[t, "ResetType", ACTION],
        )),
        Some(other) => Err(bad(
            BaseMessage::ActionParameterValueTypeError,
            &[&other.to_string(), "ResetType", ACTION],
        )),
    }
}

/// `POST …/Actions/Manager.Reset` by `user`. `request`: the file to write,
/// `None` when restarting through the API is off.
pub(crate) fn reset(
    request: Option<&Path>,
    body: &[u8],
    user: &str,
    log: &EventLog,
) -> Result<Answer, RedfishError> {
    parse(body)?;
    let Some(path) = request else {
        return Err(RedfishError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            BaseMessage::ServiceDisabled,
            &[&uri()],
        ));
    };
    let line = format!("GracefulRestart requested by {user} through Redfish\n");
    let event = Event::manager_reset(user);
    crate::state_file::request_for_image(path, &line, event, log, "restart request")?;
    tracing::warn!(user, request = %path.display(), "node restart requested (Manager.Reset)");
    Ok(Answer::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: RedfishError) -> String {
        e.body()["error"]["code"].as_str().unwrap().to_string()
    }

    #[test]
    fn bodies() {
        assert!(parse(b"").is_ok());
        assert!(parse(br#"{"ResetType": "GracefulRestart"}"#).is_ok());
        for (body, want) in [
            (
                &br#"{"ResetType": "ForceRestart"}"#[..],
                "ActionParameterValueNotInList",
            ),
            (br#"{"ResetType": 1}"#, "ActionParameterValueTypeError"),
            (br#"{"Reset": "GracefulRestart"}"#, "ActionParameterUnknown"),
            (b"[]", "MalformedJSON"),
        ] {
            assert!(
                code(parse(body).unwrap_err()).ends_with(want),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn off_refuses_on_writes_the_request_after_the_log() {
        let log = EventLog::in_memory(10);
        let off = reset(None, b"", "ops", &log).unwrap_err();
        assert_eq!(off.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(log.entries().is_empty());
        let dir = tempfile::tempdir().unwrap();
        let req = dir.path().join("reboot-request");
        let a = reset(
            Some(&req),
            br#"{"ResetType":"GracefulRestart"}"#,
            "ops",
            &log,
        )
        .unwrap();
        assert_eq!(a.status, StatusCode::NO_CONTENT);
        assert!(std::fs::read_to_string(&req).unwrap().contains("ops"));
        assert_eq!(log.entries()[0].key, "ManagerReset");
        let gone = reset(Some(&dir.path().join("no/such/dir/req")), b"", "ops", &log).unwrap_err();
        assert_eq!(gone.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
