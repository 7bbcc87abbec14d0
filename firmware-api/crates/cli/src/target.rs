//! Device targets: `BOARD/DEVICE` in hex, an alias, or an asset tag.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::error::{CliError, Exit};
use crate::node::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub board: u32,
    pub device: u16,
}

impl Target {
    /// 1-8 hex digits of board, 1-4 of device; the node would accept more
    /// (Python's `int(x, 16)`), but a longer id is a typo, not a device.
    pub fn from_hex(board: &str, device: &str) -> Option<Target> {
        let hex = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if !hex(board, 8) || !hex(device, 4) {
            return None;
        }
        Some(Target {
            board: u32::from_str_radix(board, 16).ok()?,
            device: u16::from_str_radix(device, 16).ok()?,
        })
    }

    pub fn parse_hex(text: &str) -> Option<Target> {
        let (b, d) = text.split_once('/')?;
        Self::from_hex(b, d)
    }

    pub fn board_hex(&self) -> String {
        format!("{:08x}", self.board)
    }

    pub fn device_hex(&self) -> String {
        format!("{:04x}", self.device)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}/{:04x}", self.board, self.device)
    }
}

/// A target with the name the operator used for it (for output).
#[derive(Debug, Clone)]
pub struct Named {
    pub target: Target,
    pub name: String,
}

/// Resolves names. Asset tags need a scan and one asset read per power
/// device; that map is built at most once per process and kept in memory
/// only: a tag can change (`asset set`), and a stale tag on disk would aim
/// `power off` at the wrong server.
pub struct Resolver {
    aliases: BTreeMap<String, Target>,
    assets: Option<Vec<(Target, String)>>,
}

impl Resolver {
    pub fn new(aliases: BTreeMap<String, Target>) -> Resolver {
        Resolver {
            aliases,
            assets: None,
        }
    }

    /// The alias naming `t`, for the NAME column.
    pub fn alias_of(&self, t: Target) -> Option<&str> {
        self.aliases
            .iter()
            .find(|(_, v)| **v == t)
            .map(|(k, _)| k.as_str())
    }

    /// Hex first (unambiguous), then the alias file, then asset tags.
    pub async fn resolve(&mut self, node: &Node, text: &str) -> Result<Named, CliError> {
        if let Some(t) = Target::parse_hex(text) {
            return Ok(Named {
                target: t,
                name: self.alias_of(t).unwrap_or(text).to_string(),
            });
        }
        if let Some(t) = self.aliases.get(text) {
            return Ok(Named {
                target: *t,
                name: text.to_string(),
            });
        }
        let assets = self.assets(node).await?;
        let hits: Vec<Target> = assets
            .iter()
            .filter(|(_, tag)| asset_matches(tag, text))
            .map(|(t, _)| *t)
            .collect();
        match hits.as_slice() {
            [t] => Ok(Named {
                target: *t,
                name: text.to_string(),
            }),
            [] => Err(CliError::new(
                Exit::NotFound,
                format!(
                    "{text:?} is not BOARD/DEVICE hex, not an alias, and no power device's asset tag ({} read)",
                    assets.len()
                ),
            )),
            many => Err(CliError::new(
                Exit::Usage,
                format!(
                    "{text:?} matches the asset tags of {}: use BOARD/DEVICE or an alias",
                    many.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// Scan, then read the asset info of every power device (the only type
    /// v1.1 keeps asset info for). A device whose asset read fails is left
    /// out: one silent PSU must not make every other name unusable.
    async fn assets(&mut self, node: &Node) -> Result<&[(Target, String)], CliError> {
        if self.assets.is_none() {
            let scan = node.get_json("/opendcre/1.1/scan").await?;
            let mut found = Vec::new();
            for (t, kind) in scan_devices(&scan) {
                if kind != "power" {
                    continue;
                }
                let path = format!(
                    "/opendcre/1.1/read/power/{}/{}/info",
                    t.board_hex(),
                    t.device_hex()
                );
                match node.get_json(&path).await {
                    Ok(v) => {
                        if let Some(tag) = v.get("asset_info").and_then(Value::as_str) {
                            found.push((t, tag.to_string()));
                        }
                    }
                    Err(e) if e.exit == Exit::Auth || e.exit == Exit::Connect => return Err(e),
                    Err(_) => {}
                }
            }
            self.assets = Some(found);
        }
        Ok(self.assets.as_deref().unwrap_or_default())
    }
}

/// A tag matches the whole asset text or its first word: the rack's tags
/// look like `rack-a/node-02/psu-0 SN:VIO-PSU-000201`, and operators type
/// the first part.
fn asset_matches(tag: &str, text: &str) -> bool {
    let tag = tag.trim();
    tag == text || tag.split_whitespace().next() == Some(text)
}

/// `(target, device_type)` of every device in a v1.1 scan answer.
pub fn scan_devices(scan: &Value) -> Vec<(Target, String)> {
    let mut out = Vec::new();
    for board in scan["boards"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let Some(b) = board["board_id"].as_str() else {
            continue;
        };
        for dev in board["devices"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let (Some(d), Some(kind)) = (dev["device_id"].as_str(), dev["device_type"].as_str())
            else {
                continue;
            };
            if let Some(t) = Target::from_hex(b, d) {
                out.push((t, kind.to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_targets() {
        assert_eq!(
            Target::parse_hex("1/DFF").unwrap().to_string(),
            "00000001/0dff"
        );
        assert!(Target::parse_hex("123456789/1").is_none());
        assert!(Target::parse_hex("1/12345").is_none());
        assert!(Target::parse_hex("web-17").is_none());
        assert!(Target::parse_hex("1/").is_none());
    }

    #[test]
    fn asset_tags_match_whole_or_first_word() {
        let tag = "rack-a/node-02/psu-0 SN:VIO-PSU-000201";
        assert!(asset_matches(tag, "rack-a/node-02/psu-0"));
        assert!(asset_matches(tag, tag));
        assert!(!asset_matches(tag, "rack-a/node-02"));
        assert!(!asset_matches(tag, "SN:VIO-PSU-000201"));
    }
}
