//! What the node says about the rack and its bus boards that nothing on
//! the bus can tell: the rack's identity, written by whoever installed it
//! into the configuration (`[rack]`: manufacturer, model, part and serial
//! number, SKU — read-only in Redfish), and the asset tags operators give
//! the rack and each board (`AssetTag`, writable), kept in one small file
//! so they survive restarts and updates (the data partition on
//! OpenMistOS). A BMC server's chassis is not here: its FRU says its own.
//! The same file keeps the label operators give the node itself, the
//! manager's `ServiceIdentification` (shown in the service root too, for
//! discovery tools that match a service to an inventory record), under a
//! key no chassis id can take.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::route::ChassisId;

/// A nameplate of the configuration: the rack's (`[rack]`) or a bus
/// board's (`[boards."<board id>"]`). A key left out is left out of the
/// chassis too (unknown, not empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RackIdentity {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub part_number: Option<String>,
    pub serial_number: Option<String>,
    pub sku: Option<String>,
}

/// Longest nameplate value accepted: far above any real one, low enough
/// that a pasted file is refused.
const IDENTITY_MAX_CHARS: usize = 255;

impl RackIdentity {
    /// Each value is a line of printable text of at most 255 characters.
    pub fn validate(&self) -> Result<(), String> {
        for (key, _, v) in self.fields() {
            if let Some(v) = v {
                if v.chars().count() > IDENTITY_MAX_CHARS {
                    return Err(format!(
                        "{key}: longer than {IDENTITY_MAX_CHARS} characters"
                    ));
                }
                if v.chars().any(char::is_control) {
                    return Err(format!("{key}: control characters are not allowed"));
                }
            }
        }
        Ok(())
    }

    /// Each value with its configuration key and its Chassis property.
    fn fields(&self) -> [(&'static str, &'static str, &Option<String>); 5] {
        [
            ("manufacturer", "Manufacturer", &self.manufacturer),
            ("model", "Model", &self.model),
            ("part_number", "PartNumber", &self.part_number),
            ("serial_number", "SerialNumber", &self.serial_number),
            ("sku", "SKU", &self.sku),
        ]
    }

    /// The configured values into the rack's chassis payload.
    pub(crate) fn fill(&self, v: &mut Value) {
        for (_, name, value) in self.fields() {
            if let Some(value) = value {
                v[name] = json!(value);
            }
        }
    }
}

/// The asset tags of the rack and its boards, by chassis id; `None` path:
/// not kept, so not shown and not writable.
pub struct AssetTags {
    path: Option<PathBuf>,
    tags: Mutex<BTreeMap<String, String>>,
}

/// The key of the manager's `ServiceIdentification`: not a chassis id
/// (those are `Rack`, hex board ids and `40000000-xxxx`).
const SERVICE_IDENTIFICATION: &str = "Manager:ServiceIdentification";

/// At most this many tags are kept: a rack has a few dozen boards; ids of
/// boards long gone are not worth an unbounded file.
const MAX_TAGS: usize = 1024;

impl AssetTags {
    /// Reads the file; a missing one is no tags, an unreadable one is set
    /// aside (`.bad`) and logged, so a damaged file never stops the service
    /// and is not silently overwritten either.
    pub fn open(path: Option<PathBuf>) -> AssetTags {
        let tags = path
            .as_deref()
            .and_then(|p| crate::state_file::read_json(p, "asset tags"))
            .unwrap_or_default();
        AssetTags {
            path,
            tags: Mutex::new(tags),
        }
    }

    pub(crate) fn kept(&self) -> bool {
        self.path.is_some()
    }

    /// The chassis' payload gets `AssetTag`: the tag, or `null` when none
    /// was given yet (the usage guide's "client writeable" property).
    pub(crate) fn fill(&self, c: ChassisId, v: &mut Value) {
        if self.kept() {
            v["AssetTag"] = self.lock().get(&c.id()).map_or(Value::Null, |t| json!(t));
        }
    }

    /// Keeps `tag` for `c`: the file is written whole (new file, fsync,
    /// rename, directory fsync) before the tag shows, so an answer never
    /// shows a tag a restart would lose.
    pub(crate) fn set(&self, c: ChassisId, tag: &str) -> Result<(), String> {
        self.set_key(c.id(), tag)
    }

    /// The manager's `ServiceIdentification`: `Some("")` never given.
    pub(crate) fn service_identification(&self) -> Option<String> {
        self.kept().then(|| {
            self.lock()
                .get(SERVICE_IDENTIFICATION)
                .cloned()
                .unwrap_or_default()
        })
    }

    /// Keeps the manager's `ServiceIdentification`, as [`AssetTags::set`].
    pub(crate) fn set_service_identification(&self, id: &str) -> Result<(), String> {
        self.set_key(SERVICE_IDENTIFICATION.to_string(), id)
    }

    fn set_key(&self, key: String, tag: &str) -> Result<(), String> {
        let Some(path) = &self.path else {
            return Err("asset tags are not kept ([manager] asset_tags is empty)".into());
        };
        let mut tags = self.lock();
        let mut next = tags.clone();
        next.insert(key, tag.to_string());
        if next.len() > MAX_TAGS {
            return Err(format!("at most {MAX_TAGS} asset tags are kept"));
        }
        crate::state_file::write_state(path, &next, 0o644)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        *tags = next;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.tags.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_survive_a_reopen_and_a_damaged_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/asset-tags.json");
        let t = AssetTags::open(Some(path.clone()));
        let mut v = json!({});
        t.fill(ChassisId::Rack, &mut v);
        assert_eq!(v["AssetTag"], Value::Null);
        assert!(v.as_object().unwrap().contains_key("AssetTag"));
        t.set(ChassisId::Rack, "R-0042").unwrap();
        t.set(ChassisId::Board(1), "").unwrap();
        let again = AssetTags::open(Some(path.clone()));
        let (mut rack, mut board) = (json!({}), json!({}));
        again.fill(ChassisId::Rack, &mut rack);
        again.fill(ChassisId::Board(1), &mut board);
        assert_eq!(rack["AssetTag"], "R-0042");
        assert_eq!(board["AssetTag"], "");
        assert_eq!(again.service_identification().as_deref(), Some(""));
        again.set_service_identification("rack-4 node").unwrap();
        let third = AssetTags::open(Some(path.clone()));
        assert_eq!(
            third.service_identification().as_deref(),
            Some("rack-4 node")
        );
        let mut rack = json!({});
        third.fill(ChassisId::Rack, &mut rack);
        assert_eq!(
            rack["AssetTag"], "R-0042",
            "tags and the label side by side"
        );

        std::fs::write(&path, b"{not json").unwrap();
        let damaged = AssetTags::open(Some(path.clone()));
        let mut rack = json!({});
        damaged.fill(ChassisId::Rack, &mut rack);
        assert_eq!(rack["AssetTag"], Value::Null);
        assert!(path.with_extension("bad").exists());
    }

    #[test]
    fn not_kept_means_not_shown_and_not_written() {
        let t = AssetTags::open(None);
        let mut v = json!({});
        t.fill(ChassisId::Rack, &mut v);
        assert!(v.get("AssetTag").is_none());
        assert!(t
            .set(ChassisId::Rack, "x")
            .unwrap_err()
            .contains("asset_tags"));
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: the rename fails.
        let path = dir.path().join("asset-tags.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"").unwrap();
        let t = AssetTags::open(Some(path));
        assert!(t.set(ChassisId::Rack, "R-1").is_err());
        let mut v = json!({});
        t.fill(ChassisId::Rack, &mut v);
        assert_eq!(v["AssetTag"], Value::Null);
    }

    #[test]
    fn identity_fills_what_is_configured_and_refuses_odd_text() {
        let id = RackIdentity {
            manufacturer: Some("Vapor IO".into()),
            serial_number: Some("VC-0001".into()),
            ..Default::default()
        };
        id.validate().unwrap();
        let mut v = json!({});
        id.fill(&mut v);
        assert_eq!(
            v,
            json!({"Manufacturer": "Vapor IO", "SerialNumber": "VC-0001"})
        );
        let bad = RackIdentity {
            model: Some("a\nb".into()),
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("model"));
        let long = RackIdentity {
            sku: Some("x".repeat(256)),
            ..Default::default()
        };
        assert!(long.validate().is_err());
    }
}
