//! Is the PLC modem HAT there? A HAT with an ID EEPROM shows up in the
//! device tree as `hat/` (product, vendor, uuid ...), which the firmware
//! builds at boot; a board without one gets a clear reason instead of GPIO
//! writes to pins that may belong to something else.

use std::fs;
use std::path::Path;

use serde::Serialize;

use super::config::{HatConfig, HatMode};

/// What the device tree says about the HAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct HatInfo {
    pub product: Option<String>,
    pub vendor: Option<String>,
    pub product_id: Option<String>,
    pub product_ver: Option<String>,
    pub uuid: Option<String>,
    /// The board model (`/proc/device-tree/model`), e.g. "Raspberry Pi 2 Model B Rev 1.1".
    pub board: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Detection {
    /// `enabled = "auto"` and the device tree names a HAT.
    Present(HatInfo),
    /// `enabled = "on"`: set up the modem without asking the device tree.
    Forced { board: Option<String> },
    /// `enabled = "off"`.
    Disabled,
    /// `enabled = "auto"` and no (matching) HAT.
    Absent { reason: String },
}

impl Detection {
    /// Whether the service should drive the modem lines.
    pub fn has_modem(&self) -> bool {
        matches!(self, Detection::Present(_) | Detection::Forced { .. })
    }

    /// One line for logs and the CLI.
    pub fn describe(&self) -> String {
        match self {
            Detection::Present(info) => format!(
                "HAT present: {} by {}{}",
                quoted(&info.product),
                quoted(&info.vendor),
                info.board
                    .as_ref()
                    .map(|b| format!(" on {b}"))
                    .unwrap_or_default()
            ),
            Detection::Forced { board } => format!(
                "HAT assumed present ([hat] enabled = \"on\"){}",
                board.as_ref().map(|b| format!(" on {b}")).unwrap_or_default()
            ),
            Detection::Disabled => {
                "HAT support disabled ([hat] enabled = \"off\"); the bus uses the UART without modem setup"
                    .to_string()
            }
            Detection::Absent { reason } => {
                format!("no PLC modem HAT found: {reason}; the bus runs without modem setup")
            }
        }
    }
}

fn quoted(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "(unnamed)".to_string(),
    }
}

/// Device-tree string properties end in NUL; an unreadable or empty one
/// counts as missing.
fn dt_string(path: &Path) -> Option<String> {
    let raw = fs::read(path).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let text = text.trim_end_matches('\0').trim();
    if text.is_empty() {
        None
    } else {
        Some(text.to_string())
    }
}

pub fn detect(cfg: &HatConfig) -> Detection {
    let dt = &cfg.device_tree;
    let board = dt_string(&dt.join("model"));
    match cfg.enabled {
        HatMode::Off => return Detection::Disabled,
        HatMode::On => return Detection::Forced { board },
        HatMode::Auto => {}
    }
    if !dt.is_dir() {
        return Detection::Absent {
            reason: format!(
                "{} does not exist, so this is not a Raspberry Pi (set [hat] enabled = \"on\" to force)",
                dt.display()
            ),
        };
    }
    let hat = dt.join("hat");
    if !hat.is_dir() {
        return Detection::Absent {
            reason: format!(
                "{} has no hat/ node on {} — no HAT with an ID EEPROM is fitted \
                 (a HAT without EEPROM needs [hat] enabled = \"on\")",
                dt.display(),
                board.as_deref().unwrap_or("this board")
            ),
        };
    }
    let info = HatInfo {
        product: dt_string(&hat.join("product")),
        vendor: dt_string(&hat.join("vendor")),
        product_id: dt_string(&hat.join("product_id")),
        product_ver: dt_string(&hat.join("product_ver")),
        uuid: dt_string(&hat.join("uuid")),
        board,
    };
    if let Some(wanted) = &cfg.product {
        if info.product.as_deref() != Some(wanted.as_str()) {
            return Detection::Absent {
                reason: format!(
                    "the fitted HAT is {} by {}, not the configured product {wanted:?}",
                    quoted(&info.product),
                    quoted(&info.vendor)
                ),
            };
        }
    }
    Detection::Present(info)
}
