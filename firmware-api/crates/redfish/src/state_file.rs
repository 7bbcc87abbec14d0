//! The small JSON files the service keeps its operators' choices in
//! (asset tags, event subscriptions, groups of systems) and the requests
//! it leaves for the image's root units (a restart, a network change). One way to read and write
//! them, so each is written whole and a damaged one never stops the node.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::de::DeserializeOwned;

/// `value` as the JSON state file `path`: [`write_whole`], making its
/// directory first (a state directory is the service's own; a missing one
/// is made, not an error).
pub(crate) fn write_state(
    path: &Path,
    value: &impl serde::Serialize,
    mode: u32,
) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir_of(path))?;
    write_whole(path, &bytes, mode)
}

/// [`write_state`] for a change an answer is about to show: a failure is
/// logged and is the answer's `500` (`what` names the file's content),
/// so nothing the file does not hold is shown as done.
pub(crate) fn keep_for_answer(
    path: &Path,
    value: &impl serde::Serialize,
    mode: u32,
    what: &str,
) -> Result<(), crate::answer::RedfishError> {
    write_state(path, value, mode).map_err(|e| {
        tracing::error!(path = %path.display(), "{what} not kept: {e}");
        crate::answer::RedfishError::failure(format!(
            "the {what} could not be kept ({}): {e}",
            path.display()
        ))
    })
}

/// A request for one of the image's root units (`Manager.Reset`'s restart,
/// a network change): `event` is recorded and flushed to the event log
/// first, so who asked survives what the unit does, then `text` is
/// written whole to `path`, which the unit's path watch sees complete.
/// `what` names the request in the `500` of a failed write.
pub(crate) fn request_for_image(
    path: &Path,
    text: &str,
    event: opendcre_eventlog::Event,
    log: &opendcre_eventlog::EventLog,
    what: &str,
) -> Result<(), crate::answer::RedfishError> {
    log.record(event);
    if !log.flush(std::time::Duration::from_secs(2)) {
        tracing::warn!("the event log did not reach the disk before the {what}");
    }
    write_whole(path, text.as_bytes(), 0o644).map_err(|e| {
        crate::answer::RedfishError::failure(format!(
            "the {what} {} could not be written: {e}",
            path.display()
        ))
    })
}

/// Writes `bytes` to `path` whole: a new file (`mode`), fsync, rename over
/// the old one, fsync of the directory. A reader (or a restart) sees the
/// old content or the new, never a part; an answer that shows the new
/// content never shows what a power cut would lose.
pub(crate) fn write_whole(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = dir_of(path);
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Reads the JSON file of `what` (words for the log). A missing file is
/// `None`; an unreadable one is logged and `None`; a damaged one is set
/// aside (`.bad`, kept for whoever looks into it, never overwritten
/// silently) and `None`.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Option<T> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::error!(path = %path.display(), "{what} not read: {e}");
            return None;
        }
    };
    match serde_json::from_slice(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            let aside = path.with_extension("bad");
            let _ = std::fs::rename(path, &aside);
            tracing::error!(path = %path.display(), aside = %aside.display(), "{what} file unreadable ({e}); set aside, starting without it");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_whole_read_back_and_a_damaged_file_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/x.json");
        assert_eq!(read_json::<Vec<u32>>(&path, "x"), None);
        assert!(
            write_whole(&path, b"[1, 2]", 0o600).is_err(),
            "no directory"
        );
        write_state(&path, &[1, 2], 0o600).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path, "x"), Some(vec![1, 2]));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!path.with_extension("tmp").exists());
        std::fs::write(&path, b"[1,").unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path, "x"), None);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read(path.with_extension("bad")).unwrap(),
            b"[1,".to_vec()
        );
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: the rename fails.
        let path = dir.path().join("x.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"").unwrap();
        assert!(write_whole(&path, b"[]", 0o644).is_err());
        assert!(path.join("inside").exists());
    }
}
