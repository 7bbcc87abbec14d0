//! The small JSON files in which the node keeps what an administrator set
//! at run time (session timeout, lockout policy) and what must outlive a
//! restart (account locks): read leniently, written whole.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The value kept in `path` (`what` names it in the log). A missing file is
/// `None`; an unreadable or damaged one is logged and `None`: what the
/// configuration says stays in force, and the next change writes a good
/// file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::error!(path = %path.display(), "{what} not read: {e}");
            return None;
        }
    };
    serde_json::from_str(&text)
        .map_err(|e| tracing::error!(path = %path.display(), "{what} not used: {e}"))
        .ok()
}

/// Keeps `value` in `path` as pretty JSON: mode 0600, written whole (new
/// file, fsync, rename) before what it holds is in force.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    super::users::write_file(path, &format!("{text}\n"))
}
