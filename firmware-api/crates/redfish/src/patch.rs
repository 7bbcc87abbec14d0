//! `PATCH` of a computer system (DSP0266 "PATCH (update)", "ETags"):
//! the body checked, the `If-Match` precondition, and what may change.
//! Only a bus power device's `AssetTag` is writable: the bus has a command
//! for it (`WI`, the job of v1.1's `write/…/info`). The rack's LED devices
//! are not parts of a system and v1.1 has no LED write, so no
//! `IndicatorLED`/`LocationIndicatorActive` is offered yet.
//!
//! The service requires `If-Match` on every `PATCH` (428 without it): two
//! operators writing the same asset tag would otherwise overwrite each
//! other unseen.

use http::header::IF_MATCH;
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use sha2::Digest;

use crate::answer::{BaseMessage, RedfishError};

/// What a system's `PATCH` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemPatch {
    pub asset_tag: String,
}

/// The longest asset text the service sends, as v1.1 cuts it
/// (`ASSET_INFO_MAX_CHARS`); longer is refused rather than cut, so what a
/// client reads back is what it wrote.
pub(crate) const ASSET_TAG_MAX_CHARS: usize = 127;

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

/// Parses a system's `PATCH` body against `current` (its GET body): a
/// property the resource has but is not writable is `PropertyNotWritable`,
/// one it does not have `PropertyUnknown`.
pub(crate) fn parse_system(body: &[u8], current: &Value) -> Result<SystemPatch, RedfishError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad(BaseMessage::MalformedJSON, &[]))?;
    let Value::Object(m) = v else {
        return Err(bad(BaseMessage::MalformedJSON, &[]));
    };
    let mut tag = None;
    for (k, x) in &m {
        let name: String = k.chars().take(64).collect();
        match k.as_str() {
            "AssetTag" => match x {
                Value::String(t) => tag = Some(t.clone()),
                other => {
                    let shown: String = other.to_string().chars().take(64).collect();
                    return Err(bad(
                        BaseMessage::PropertyValueTypeError,
                        &[&shown, "AssetTag"],
                    ));
                }
            },
            // DSP0266: a client may send back the annotations it read.
            k if k.starts_with("@odata.") => {}
            k if current.get(k).is_some() => {
                return Err(bad(BaseMessage::PropertyNotWritable, &[&name]))
            }
            _ => return Err(bad(BaseMessage::PropertyUnknown, &[&name])),
        }
    }
    let Some(tag) = tag else {
        return Err(bad(BaseMessage::PropertyMissing, &["AssetTag"]));
    };
    if tag.chars().count() > ASSET_TAG_MAX_CHARS || tag.chars().any(char::is_control) {
        let shown: String = tag.chars().take(64).collect();
        let mut e = bad(BaseMessage::PropertyValueFormatError, &[&shown, "AssetTag"]);
        e.detail = Some(format!(
            "An asset tag is at most {ASSET_TAG_MAX_CHARS} characters, without control characters."
        ));
        return Err(e);
    }
    Ok(SystemPatch { asset_tag: tag })
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
        (e.status, e.body()["error"]["code"].as_str().unwrap().to_string())
    }

    #[test]
    fn body_rules() {
        let current = json!({ "Id": "x", "AssetTag": "old", "PowerState": "On" });
        assert_eq!(
            parse_system(br#"{"AssetTag": "rack 3"}"#, &current).unwrap().asset_tag,
            "rack 3"
        );
        assert!(parse_system(br#"{"AssetTag": "", "@odata.etag": "\"1\""}"#, &current).is_ok());
        let err = |b: &[u8]| code(parse_system(b, &current).unwrap_err()).1;
        assert_eq!(err(b"AssetTag=x"), "Base.1.22.MalformedJSON");
        assert_eq!(err(b"[1]"), "Base.1.22.MalformedJSON");
        assert_eq!(err(br#"{"AssetTag": 7}"#), "Base.1.22.PropertyValueTypeError");
        assert_eq!(err(br#"{"PowerState": "Off"}"#), "Base.1.22.PropertyNotWritable");
        assert_eq!(err(br#"{"Nope": 1}"#), "Base.1.22.PropertyUnknown");
        assert_eq!(err(b"{}"), "Base.1.22.PropertyMissing");
        let long = format!(r#"{{"AssetTag": "{}"}}"#, "a".repeat(128));
        assert_eq!(err(long.as_bytes()), "Base.1.22.PropertyValueFormatError");
        assert_eq!(err(br#"{"AssetTag": "a\nb"}"#), "Base.1.22.PropertyValueFormatError");
        let max = format!(r#"{{"AssetTag": "{}"}}"#, "é".repeat(127));
        assert!(parse_system(max.as_bytes(), &current).is_ok(), "characters, not bytes");
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
            (StatusCode::PRECONDITION_FAILED, "Base.1.22.PreconditionFailed".into())
        );
        h.insert(IF_MATCH, format!("\"0000\", {tag}").parse().unwrap());
        assert!(check_if_match(&h, &tag).is_ok());
        h.insert(IF_MATCH, "*".parse().unwrap());
        assert!(check_if_match(&h, &tag).is_ok());
    }
}
