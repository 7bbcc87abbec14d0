//! What the `rauc` command line says, as pure functions: the slots of
//! `rauc status --detailed --output-format=json`, and the progress and
//! result lines `rauc install` prints. RAUC is where the OS begins; this
//! module never runs it (`update` does), so odd output is tested here
//! with fixture text and leaves a value out instead of failing.

use serde_json::Value;

/// One slot of `rauc status`, as far as the JSON says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    /// `rootfs.0`: RAUC's slot name, the `Id` of its inventory member.
    pub name: String,
    pub class: Option<String>,
    /// `A`/`B`: the name the boot loader knows it by.
    pub bootname: Option<String>,
    /// `booted`, `active` or `inactive`.
    pub state: Option<String>,
    /// `good` or `bad`: the boot loader's mark.
    pub boot_status: Option<String>,
    /// The installed bundle's version (`slot_status.bundle.version`).
    pub version: Option<String>,
    /// The installed bundle's compatible string.
    pub compatible: Option<String>,
    /// When the bundle was installed (`slot_status.installed.timestamp`).
    pub installed: Option<String>,
}

impl Slot {
    pub fn booted(&self) -> bool {
        self.state.as_deref() == Some("booted")
    }
}

/// `rauc status`: the booted slot's bootname, the primary slot and every
/// slot in RAUC's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub booted: Option<String>,
    pub boot_primary: Option<String>,
    pub slots: Vec<Slot>,
}

/// Parses `rauc status --detailed --output-format=json`. RAUC writes
/// `slots` as an array of one-key objects (`[{"rootfs.0": {…}}, …]`); an
/// object of slots is taken as well. Anything that is not such a
/// document is an error with the reason; a missing field is `None`.
pub(crate) fn parse_status(text: &str) -> Result<Status, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("rauc status is not JSON: {e}"))?;
    let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let mut slots = Vec::new();
    let mut add = |name: &str, body: &Value| {
        let bundle = body.pointer("/slot_status/bundle");
        slots.push(Slot {
            name: name.to_string(),
            class: s(body, "class"),
            bootname: s(body, "bootname"),
            state: s(body, "state"),
            boot_status: s(body, "boot_status"),
            version: bundle.and_then(|b| s(b, "version")),
            compatible: bundle.and_then(|b| s(b, "compatible")),
            installed: body
                .pointer("/slot_status/installed/timestamp")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    };
    match v.get("slots") {
        Some(Value::Array(items)) => {
            for item in items {
                let Some(obj) = item.as_object() else {
                    return Err("rauc status: a slot is not an object".into());
                };
                for (name, body) in obj {
                    add(name, body);
                }
            }
        }
        Some(Value::Object(obj)) => {
            for (name, body) in obj {
                add(name, body);
            }
        }
        _ => return Err("rauc status has no \"slots\"".into()),
    }
    if slots.iter().any(|s| !valid_slot_name(&s.name)) {
        return Err("rauc status names a slot with characters outside [A-Za-z0-9._-]".into());
    }
    Ok(Status {
        booted: s(&v, "booted"),
        boot_primary: s(&v, "boot_primary"),
        slots,
    })
}

/// A slot name usable as a URI segment as it is.
pub(crate) fn valid_slot_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The percentage of a progress line of `rauc install` (`" 40% Copying
/// image to rootfs.1"`): RAUC's own estimate, taken as it prints it.
pub(crate) fn progress(line: &str) -> Option<u8> {
    let (number, rest) = line.trim_start().split_once('%')?;
    let p: u8 = number.parse().ok()?;
    (p <= 100 && (rest.is_empty() || rest.starts_with(' '))).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of RAUC 1.13's `rauc status --detailed --output-format=json`
    /// (docs: "Status", JSON output; slots as an array of one-key objects).
    pub(crate) const FIXTURE: &str = r#"{"compatible":"openmistos-rpi2","variant":"","booted":"A","boot_primary":"rootfs.0",
 "slots":[
  {"rootfs.0":{"class":"rootfs","device":"/dev/mmcblk0p2","type":"ext4","bootname":"A","state":"booted","parent":null,"mountpoint":"/","boot_status":"good",
    "slot_status":{"bundle":{"compatible":"openmistos-rpi2","version":"2026.11.1","description":"OpenMistOS","build":"20261130","hash":"ab12"},
      "checksum":{"sha256":"ab12","size":104857600},"installed":{"timestamp":"2026-11-30T10:00:00Z","count":1},"activated":{"timestamp":"2026-11-30T10:00:05Z","count":1},"status":"ok"}}},
  {"rootfs.1":{"class":"rootfs","device":"/dev/mmcblk0p3","type":"ext4","bootname":"B","state":"inactive","parent":null,"mountpoint":null,"boot_status":"bad",
    "slot_status":{"status":"ok"}}}
 ]}"#;

    #[test]
    fn status_fixture() {
        let s = parse_status(FIXTURE).unwrap();
        assert_eq!(s.booted.as_deref(), Some("A"));
        assert_eq!(s.boot_primary.as_deref(), Some("rootfs.0"));
        assert_eq!(s.slots.len(), 2);
        let a = &s.slots[0];
        assert_eq!(a.name, "rootfs.0");
        assert!(a.booted());
        assert_eq!(a.version.as_deref(), Some("2026.11.1"));
        assert_eq!(a.compatible.as_deref(), Some("openmistos-rpi2"));
        assert_eq!(a.installed.as_deref(), Some("2026-11-30T10:00:00Z"));
        assert_eq!(a.boot_status.as_deref(), Some("good"));
        let b = &s.slots[1];
        assert_eq!((b.name.as_str(), b.booted()), ("rootfs.1", false));
        assert_eq!(b.version, None, "never installed: no bundle");
        assert_eq!(b.boot_status.as_deref(), Some("bad"));
    }

    #[test]
    fn status_as_object_of_slots() {
        let s = parse_status(r#"{"slots":{"rootfs.0":{"state":"booted"}}}"#).unwrap();
        assert_eq!(s.slots[0].name, "rootfs.0");
        assert!(s.slots[0].booted());
    }

    #[test]
    fn bad_status_is_an_error_with_a_reason() {
        for (text, why) in [
            ("", "not JSON"),
            ("Booted from: rootfs.0 (A)", "not JSON"),
            ("{}", "no \"slots\""),
            (r#"{"slots":[1]}"#, "not an object"),
            (r#"{"slots":{"../x":{}}}"#, "characters"),
        ] {
            let e = parse_status(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn progress_lines() {
        assert_eq!(progress("  0% Installing"), Some(0));
        assert_eq!(progress(" 40% Copying image to rootfs.1"), Some(40));
        assert_eq!(progress("100% Installing done."), Some(100));
        assert_eq!(progress("101% no"), None);
        assert_eq!(progress("installing"), None);
        assert_eq!(progress("LastError: 50%x"), None);
        assert_eq!(progress("50%x"), None);
    }
}
