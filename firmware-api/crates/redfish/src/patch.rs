//! `PATCH` of a system or a board's chassis (DSP0266 "PATCH (update)", "ETags"):
//! the body checked, the `If-Match` precondition, and what may change.
//! Writable: a bus power device's `AssetTag` (the bus command `WI`, the job
//! of v1.1's `write/…/info`), a bus board's `LocationIndicatorActive` (or `IndicatorLED`)
//! (its LED device, `led.rs`) and the rack's and boards' `AssetTag` (kept
//! by the node, `chassis_identity.rs`).
//!
//! The service requires `If-Match` on every `PATCH` (428 without it): two
//! operators writing the same asset tag would otherwise overwrite each
//! other unseen.

use http::header::IF_MATCH;
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::Digest;

use crate::answer::{BaseMessage, RedfishError};

/// What a writable property takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writable {
    /// Text of at most this many characters, no control characters.
    Text(usize),
    Bool,
    /// One of these names.
    OneOf(&'static [&'static str]),
    /// A whole number from the first to the second, inclusive.
    Integer(u64, u64),
    /// A password: `MIN_PASSWORD_LEN` to `MAX_PASSWORD_LEN` characters,
    /// never quoted back in an error.
    Secret,
    /// Any JSON: a structured setting its resource checks itself (the
    /// node's network settings).
    Json,
}

/// The manager's: the label operators give the node.
pub(crate) const MANAGER: &[(&str, Writable)] =
    &[("ServiceIdentification", Writable::Text(ASSET_TAG_MAX_CHARS))];

/// The writable properties of a bus power device's system.
pub(crate) const SYSTEM: &[(&str, Writable)] = &[("AssetTag", Writable::Text(ASSET_TAG_MAX_CHARS))];
/// A board's identify LED.
pub(crate) const LOCATION_INDICATOR: &str = "LocationIndicatorActive";
/// The same LED as DMTF first named it (`Lit`/`Off`; deprecated since
/// `Chassis.v1_14_0` for [`LOCATION_INDICATOR`]), still what OpenRMC's
/// usage guide ("Get state of node LED") and Ansible's `IndicatorLed`
/// commands read and write. The bus LED has no blinking.
pub(crate) const INDICATOR_LED: &str = "IndicatorLED";

/// The writable properties of the rack's or a bus board's chassis: the
/// asset tag when the node keeps tags, the LED of a board that has one.
pub(crate) fn chassis(tags_kept: bool, led: bool) -> Vec<(&'static str, Writable)> {
    let mut w = Vec::new();
    if tags_kept {
        w.push(("AssetTag", Writable::Text(ASSET_TAG_MAX_CHARS)));
    }
    if led {
        w.extend_from_slice(LED);
    }
    w
}

/// An identify light by either name: a board's LED device, a BMC server
/// chassis' IPMI Chassis Identify (all a server chassis takes).
pub(crate) const LED: &[(&str, Writable)] = &[
    (LOCATION_INDICATOR, Writable::Bool),
    (INDICATOR_LED, Writable::OneOf(&["Lit", "Off"])),
];

/// Shows an identify light's state under both its names.
pub(crate) fn show_led(v: &mut Value, on: bool) {
    v[LOCATION_INDICATOR] = Value::Bool(on);
    v[INDICATOR_LED] = Value::from(if on { "Lit" } else { "Off" });
}

/// The LED state a board's or a server chassis' `PATCH` asks for, by either name (`None`: it
/// asks nothing of the LED); both names in one body must agree.
pub(crate) fn led_wish(changes: &[(&'static str, Value)]) -> Result<Option<bool>, RedfishError> {
    let mut wish = None;
    for (name, v) in changes {
        let on = match *name {
            LOCATION_INDICATOR => v.as_bool(),
            INDICATOR_LED => Some(v.as_str() == Some("Lit")),
            _ => continue,
        };
        if wish.is_some() && wish != on {
            return Err(bad(
                BaseMessage::PropertyValueConflict,
                &[INDICATOR_LED, LOCATION_INDICATOR],
            ));
        }
        wish = on;
    }
    Ok(wish)
}

/// The longest asset text the service sends, as v1.1 cuts it
/// (`ASSET_INFO_MAX_CHARS`); longer is refused rather than cut, so what a
/// client reads back is what it wrote.
pub(crate) const ASSET_TAG_MAX_CHARS: usize = 127;

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

/// Parses a `PATCH` body against `current` (the resource's GET body) and
/// what is `writable`: the changes, in body order. A property the resource
/// has but is not writable is `PropertyNotWritable`, one it does not have
/// `PropertyUnknown`; an empty body is `PropertyMissing`, one of only
/// `@odata` annotations `NoOperation`.
pub(crate) fn parse(
    body: &[u8],
    current: &Value,
    writable: &[(&'static str, Writable)],
) -> Result<Vec<(&'static str, Value)>, RedfishError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(m) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    let mut changes = Vec::new();
    for (k, x) in &m {
        let name: String = k.chars().take(64).collect();
        if let Some((prop, kind)) = writable.iter().find(|(p, _)| p == k) {
            check(prop, *kind, x)?;
            changes.push((*prop, x.clone()));
        } else if k.starts_with("@odata.") {
            // DSP0266: a client may send back the annotations it read.
        } else if current.get(k).is_some() {
            return Err(bad(BaseMessage::PropertyNotWritable, &[&name]));
        } else {
            return Err(bad(BaseMessage::PropertyUnknown, &[&name]));
        }
    }
    if changes.is_empty() && !m.is_empty() {
        // Only the annotations read back: nothing to do (DSP0266, PATCH).
        return Err(bad(BaseMessage::NoOperation, &[]));
    }
    if changes.is_empty() {
        let first = writable.first().map_or("", |(p, _)| *p);
        return Err(bad(BaseMessage::PropertyMissing, &[first]));
    }
    Ok(changes)
}

fn check(prop: &str, kind: Writable, x: &Value) -> Result<(), RedfishError> {
    let shown = crate::answer::shown(x);
    match (kind, x) {
        (Writable::Bool, Value::Bool(_)) | (Writable::Json, _) => Ok(()),
        (Writable::Secret, x) => {
            use opendcre_security::auth::{password_length_ok, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
            if x.as_str().is_some_and(password_length_ok) {
                return Ok(());
            }
            let mut e = bad(BaseMessage::PropertyValueError, &[prop]);
            e.detail = Some(format!(
                "{prop} is a string of {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters."
            ));
            Err(e)
        }
        (Writable::Integer(lo, hi), Value::Number(n)) if n.is_i64() || n.is_u64() => {
            if n.as_u64().is_some_and(|v| (lo..=hi).contains(&v)) {
                return Ok(());
            }
            let mut e = bad(BaseMessage::PropertyValueOutOfRange, &[&shown, prop]);
            e.detail = Some(format!("{prop} is a whole number from {lo} to {hi}."));
            Err(e)
        }
        (Writable::OneOf(names), Value::String(t)) => {
            if names.contains(&t.as_str()) {
                Ok(())
            } else {
                Err(bad(BaseMessage::PropertyValueNotInList, &[&shown, prop]))
            }
        }
        (Writable::Text(max), Value::String(t)) => {
            if t.chars().count() > max || t.chars().any(char::is_control) {
                let mut e = bad(BaseMessage::PropertyValueFormatError, &[&shown, prop]);
                e.detail = Some(format!(
                    "{prop} is at most {max} characters, without control characters."
                ));
                return Err(e);
            }
            Ok(())
        }
        _ => Err(bad(BaseMessage::PropertyValueTypeError, &[&shown, prop])),
    }
}

/// The strong `ETag` of a resource's JSON (without its `@odata.etag`): a
/// hash of what a GET shows, so it changes when the resource does.
pub(crate) fn etag_of(v: &Value) -> String {
    let mut plain = v.clone();
    if let Value::Object(m) = &mut plain {
        m.remove("@odata.etag");
    }
    let bytes = serde_json::to_vec(&plain).unwrap_or_default();
    let digest = sha2::Sha256::digest(&bytes);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Sets `@odata.etag` on a resource's JSON whose `volatile` members (a
/// clock) change at every read: the tag is of the rest, so a client that
/// read it a moment ago still matches (`If-Match`) while nothing else
/// changed.
pub(crate) fn stamp_steady(v: &mut Value, volatile: &[&str]) {
    let mut steady = v.clone();
    if let Value::Object(m) = &mut steady {
        for k in volatile {
            m.remove(*k);
        }
    }
    v["@odata.etag"] = Value::String(etag_of(&steady));
}

/// Sets `@odata.etag` on a resource's JSON.
pub(crate) fn stamp(v: &mut Value) {
    let tag = etag_of(v);
    v["@odata.etag"] = Value::String(tag);
}

/// The `If-Match` precondition: missing is 428 (this service requires it);
/// a list without `*` or the current tag is 412.
pub(crate) fn check_if_match(headers: &HeaderMap, current: &str) -> Result<(), RedfishError> {
    let values: Vec<&str> = headers
        .get_all(IF_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        let mut e = RedfishError::new(
            StatusCode::PRECONDITION_REQUIRED,
            BaseMessage::PreconditionRequired,
            &[],
        );
        e.detail = Some(
            "This service requires If-Match with the resource's ETag (from a GET) on a PATCH."
                .into(),
        );
        return Err(e);
    }
    let matches = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t == current);
    if matches {
        Ok(())
    } else {
        Err(RedfishError::new(
            StatusCode::PRECONDITION_FAILED,
            BaseMessage::PreconditionFailed,
            &[],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(e: RedfishError) -> (StatusCode, String) {
        (
            e.status,
            e.body()["error"]["code"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn either_name_switches_the_led_and_both_must_agree() {
        let current = json!({ "LocationIndicatorActive": false, "IndicatorLED": "Off" });
        let board = super::chassis(false, true);
        let wish = |b: &[u8]| led_wish(&parse(b, &current, &board)?);
        assert_eq!(wish(br#"{"IndicatorLED": "Lit"}"#).unwrap(), Some(true));
        assert_eq!(wish(br#"{"IndicatorLED": "Off"}"#).unwrap(), Some(false));
        assert_eq!(
            wish(br#"{"LocationIndicatorActive": true, "IndicatorLED": "Lit"}"#).unwrap(),
            Some(true)
        );
        let err = |b: &[u8]| code(wish(b).unwrap_err()).1;
        assert_eq!(
            err(br#"{"LocationIndicatorActive": true, "IndicatorLED": "Off"}"#),
            "Base.1.22.PropertyValueConflict"
        );
        assert_eq!(
            err(br#"{"IndicatorLED": "Blinking"}"#),
            "Base.1.22.PropertyValueNotInList",
            "the bus LED does not blink"
        );
        assert_eq!(
            led_wish(&[("AssetTag", json!("x"))]).unwrap(),
            None,
            "a tag alone leaves the LED"
        );
    }

    #[test]
    fn body_rules() {
        let current = json!({ "Id": "x", "AssetTag": "old", "PowerState": "On" });
        let parse_system = |b: &[u8]| parse(b, &current, SYSTEM);
        assert_eq!(
            parse_system(br#"{"AssetTag": "rack 3"}"#).unwrap(),
            vec![("AssetTag", json!("rack 3"))]
        );
        assert!(parse_system(br#"{"AssetTag": "", "@odata.etag": "\"1\""}"#).is_ok());
        let err = |b: &[u8]| code(parse_system(b).unwrap_err()).1;
        assert_eq!(err(b"AssetTag=x"), "Base.1.22.MalformedJSON");
        assert_eq!(err(b"[1]"), "Base.1.22.MalformedJSON");
        assert_eq!(
            err(br#"{"AssetTag": 7}"#),
            "Base.1.22.PropertyValueTypeError"
        );
        assert_eq!(
            err(br#"{"PowerState": "Off"}"#),
            "Base.1.22.PropertyNotWritable"
        );
        assert_eq!(err(br#"{"Nope": 1}"#), "Base.1.22.PropertyUnknown");
        assert_eq!(err(b"{}"), "Base.1.22.PropertyMissing");
        assert_eq!(
            err(br#"{"@odata.id": "/redfish/v1/Systems/x/"}"#),
            "Base.1.22.NoOperation"
        );
        let long = format!(r#"{{"AssetTag": "{}"}}"#, "a".repeat(128));
        assert_eq!(err(long.as_bytes()), "Base.1.22.PropertyValueFormatError");
        assert_eq!(
            err(br#"{"AssetTag": "a\nb"}"#),
            "Base.1.22.PropertyValueFormatError"
        );
        let max = format!(r#"{{"AssetTag": "{}"}}"#, "é".repeat(127));
        assert!(
            parse_system(max.as_bytes()).is_ok(),
            "characters, not bytes"
        );
        let chassis = json!({ "Id": "00000001", "LocationIndicatorActive": false });
        assert!(parse(
            br#"{"LocationIndicatorActive": true}"#,
            &chassis,
            &super::chassis(false, true)
        )
        .is_ok());
        let e = parse(
            br#"{"LocationIndicatorActive": "On"}"#,
            &chassis,
            &super::chassis(false, true),
        );
        assert_eq!(code(e.unwrap_err()).1, "Base.1.22.PropertyValueTypeError");
        let e = parse(br#"{"LocationIndicatorActive": true}"#, &chassis, &[]);
        assert_eq!(
            code(e.unwrap_err()).1,
            "Base.1.22.PropertyNotWritable",
            "no LED"
        );
    }

    #[test]
    fn etags_and_preconditions() {
        let mut v = json!({ "Id": "x", "AssetTag": "a" });
        stamp(&mut v);
        let tag = v["@odata.etag"].as_str().unwrap().to_string();
        assert_eq!(etag_of(&v), tag, "the stamp is not part of the tag");
        assert_ne!(etag_of(&json!({ "Id": "x", "AssetTag": "b" })), tag);
        let mut h = HeaderMap::new();
        assert_eq!(
            code(check_if_match(&h, &tag).unwrap_err()).0,
            StatusCode::PRECONDITION_REQUIRED
        );
        h.insert(IF_MATCH, "\"0000\"".parse().unwrap());
        assert_eq!(
            code(check_if_match(&h, &tag).unwrap_err()),
            (
                StatusCode::PRECONDITION_FAILED,
                "Base.1.22.PreconditionFailed".into()
            )
        );
        h.insert(IF_MATCH, format!("\"0000\", {tag}").parse().unwrap());
        assert!(check_if_match(&h, &tag).is_ok());
        h.insert(IF_MATCH, "*".parse().unwrap());
        assert!(check_if_match(&h, &tag).is_ok());
    }
}
