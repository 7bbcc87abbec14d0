//! The node's answers judged: status → exit code, body → JSON.

use http::StatusCode;
use serde_json::Value;

use crate::error::{CliError, Exit};
use crate::http::Client;

pub struct Node {
    pub client: Client,
}

impl Node {
    /// GET a JSON document; any status but 200 is an error with the node's
    /// own message (v1.2+ JSON `message`, or the start of v1.1's HTML page).
    pub async fn get_json(&self, path: &str) -> Result<Value, CliError> {
        let reply = self.client.get(path).await?;
        if reply.status != StatusCode::OK {
            return Err(status_error(path, reply.status, &reply.body));
        }
        serde_json::from_slice(&reply.body).map_err(|e| {
            CliError::new(
                Exit::Node,
                format!("GET {path}: the answer is not JSON ({e})"),
            )
        })
    }
}

pub fn status_error(path: &str, status: StatusCode, body: &[u8]) -> CliError {
    let exit = match status.as_u16() {
        401 | 403 => Exit::Auth,
        404 => Exit::NotFound,
        _ => Exit::Node,
    };
    let detail = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            line.trim().chars().take(200).collect()
        });
    let mut msg = format!("GET {path}: HTTP {status}");
    if !detail.is_empty() {
        msg.push_str(": ");
        msg.push_str(&detail);
    }
    CliError::new(exit, msg)
}
