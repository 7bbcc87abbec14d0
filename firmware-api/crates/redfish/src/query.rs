//! DSP0266 "Query parameters": `$filter`, `$expand`, `$select`, `$top`,
//! `$skip` and `only` parsed and applied to a resource's JSON. Which links
//! an expansion follows and how a collection is paged are pure functions
//! here (a filter's expression is `filter`'s); fetching a member is the
//! handler's (the member's own GET, one code path). Other `$` parameters
//! (`$orderby`, `$count`, …) are a 501 `QueryNotSupported`; other
//! parameters without `$` (`excerpt` among them) are ignored.

use http::StatusCode;
use serde_json::{Map, Value};

use crate::answer::{BaseMessage, RedfishError};
use crate::filter;

/// The deepest `$levels` served (`ProtocolFeaturesSupported.ExpandQuery
/// .MaxLevels`): every expanded resource is a GET of its own (a bus read
/// for a sensor or a system), so the depth bounds a request's work.
pub(crate) const MAX_LEVELS: u32 = 3;

/// Which hyperlinks `$expand` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpandKind {
    /// `*`: every hyperlink.
    All,
    /// `.`: the hyperlinks outside `Links` (subordinate resources,
    /// collection members).
    NoLinks,
    /// `~`: only the hyperlinks inside `Links`.
    Links,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expand {
    pub kind: ExpandKind,
    pub levels: u32,
}

/// The query parameters of one request that this service acts on.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Query {
    /// Which members of a collection are wanted.
    pub filter: Option<filter::Expr>,
    /// `only`: a collection of exactly one member answers with the member.
    pub only: bool,
    pub expand: Option<Expand>,
    /// Property paths (`Status/Health` is `["Status", "Health"]`).
    pub select: Option<Vec<Vec<String>>>,
    pub top: Option<usize>,
    pub skip: Option<usize>,
    /// The parameters without `$`, kept for `Members@odata.nextLink`.
    others: Vec<String>,
    /// `$filter`, `$expand` and `$select` as sent (decoded), for the next
    /// link.
    raw_filter: Option<String>,
    raw_expand: Option<String>,
    raw_select: Option<String>,
}

impl Query {
    pub fn is_empty(&self) -> bool {
        self.filter.is_none()
            && !self.only
            && self.expand.is_none()
            && self.select.is_none()
            && self.top.is_none()
            && self.skip.is_none()
    }
}

fn format_error(value: &str, param: &str) -> RedfishError {
    RedfishError::new(
        StatusCode::BAD_REQUEST,
        BaseMessage::QueryParameterValueFormatError,
        &[value, param],
    )
}

fn out_of_range(value: &str, param: &str, range: &str) -> RedfishError {
    RedfishError::new(
        StatusCode::BAD_REQUEST,
        BaseMessage::QueryParameterOutOfRange,
        &[value, param, range],
    )
}

/// Parses the query string (without `?`). Malformed values are 400s with
/// the Base registry's query messages; an unsupported `$` parameter is a
/// 501 `QueryNotSupported` naming it.
pub(crate) fn parse(query: Option<&str>) -> Result<Query, RedfishError> {
    let mut q = Query::default();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key);
        let value = decode(raw);
        let shown: String = value.chars().take(64).collect();
        let twice = |name: &str| format_error(&shown, name);
        match key.as_str() {
            "$filter" => {
                if q.filter.is_some() {
                    return Err(twice("$filter"));
                }
                // A form's `+` is a space; a `+` of a number's exponent is
                // sent as `%2B`.
                let text = decode(&raw.replace('+', " "));
                q.filter = Some(filter::parse(&text)?);
                q.raw_filter = Some(text);
            }
            // DSP0266: `only` takes no value.
            "only" => {
                if q.only || !value.is_empty() {
                    return Err(twice("only"));
                }
                q.only = true;
            }
            "$expand" => {
                if q.expand.is_some() {
                    return Err(twice("$expand"));
                }
                q.expand = Some(parse_expand(&value)?);
                q.raw_expand = Some(value);
            }
            "$select" => {
                if q.select.is_some() {
                    return Err(twice("$select"));
                }
                q.select = Some(parse_select(&value)?);
                q.raw_select = Some(value);
            }
            "$top" | "$skip" => {
                let n = parse_count(&value, &key)?;
                let slot = if key == "$top" {
                    &mut q.top
                } else {
                    &mut q.skip
                };
                if slot.replace(n).is_some() {
                    return Err(twice(&key));
                }
            }
            k if k.starts_with('$') => {
                let name: String = k.chars().take(64).collect();
                let mut e = RedfishError::new(
                    StatusCode::NOT_IMPLEMENTED,
                    BaseMessage::QueryNotSupported,
                    &[],
                );
                e.detail = Some(format!(
                    "Remove {name}: this service supports $filter, $expand, $select, $top, $skip and only."
                ));
                return Err(e);
            }
            _ => q.others.push(pair.to_string()),
        }
    }
    // DSP0266: `only` is not combined with other query parameters.
    if q.only
        && (q.filter.is_some()
            || q.expand.is_some()
            || q.select.is_some()
            || q.top.is_some()
            || q.skip.is_some())
    {
        return Err(RedfishError::new(
            StatusCode::BAD_REQUEST,
            BaseMessage::QueryCombinationInvalid,
            &[],
        ));
    }
    Ok(q)
}

/// `*`, `.` or `~`, optionally with `($levels=n)`, 1 ≤ n ≤ [`MAX_LEVELS`].
fn parse_expand(value: &str) -> Result<Expand, RedfishError> {
    let bad = || format_error(value, "$expand");
    let mut chars = value.chars();
    let kind = match chars.next() {
        Some('*') => ExpandKind::All,
        Some('.') => ExpandKind::NoLinks,
        Some('~') => ExpandKind::Links,
        _ => return Err(bad()),
    };
    let rest = chars.as_str();
    let levels = if rest.is_empty() {
        1
    } else {
        let n = rest
            .strip_prefix("($levels=")
            .and_then(|r| r.strip_suffix(')'))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(bad)?;
        match n.parse::<u32>() {
            Ok(n) if (1..=MAX_LEVELS).contains(&n) => n,
            _ => {
                return Err(out_of_range(
                    value,
                    "$expand",
                    &format!("$levels 1 to {MAX_LEVELS}"),
                ))
            }
        }
    };
    Ok(Expand { kind, levels })
}

/// A comma-separated list of property names, `/` between the levels of a
/// nested property.
fn parse_select(value: &str) -> Result<Vec<Vec<String>>, RedfishError> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@._#".contains(&b))
    };
    value
        .split(',')
        .map(|p| {
            let path: Vec<String> = p.trim().split('/').map(str::to_string).collect();
            if path.iter().all(|n| name_ok(n)) {
                Ok(path)
            } else {
                Err(format_error(value, "$select"))
            }
        })
        .collect()
}

/// A non-negative integer; a negative one is out of range, anything else
/// malformed.
fn parse_count(value: &str, param: &str) -> Result<usize, RedfishError> {
    if let Some(digits) = value.strip_prefix('-') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(out_of_range(value, param, "0 or more"));
        }
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format_error(value, param));
    }
    value
        .parse()
        .map_err(|_| out_of_range(value, param, &format!("0 to {}", usize::MAX)))
}

/// Percent-decoding of one query component (`%24expand` is `$expand`);
/// an invalid escape stays as it is.
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(u8::try_from(hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)).unwrap_or(0));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `$skip` and `$top` on a collection: its page of `Members`, with
/// `Members@odata.nextLink` when more remain (`Members@odata.count` stays
/// the collection's size). Not a collection: 400
/// `QueryNotSupportedOnResource`.
pub(crate) fn page(v: &mut Value, uri: &str, q: &Query) -> Result<(), RedfishError> {
    if q.top.is_none() && q.skip.is_none() {
        return Ok(());
    }
    let Some(members) = v.get_mut("Members").and_then(Value::as_array_mut) else {
        return Err(not_a_collection());
    };
    let total = members.len();
    let skip = q.skip.unwrap_or(0).min(total);
    members.drain(..skip);
    let next = match q.top {
        Some(top) if top < members.len() => {
            members.truncate(top);
            Some(skip + top)
        }
        _ => None,
    };
    if let (Some(next), Some(top)) = (next, q.top) {
        let mut parts = vec![format!("$skip={next}"), format!("$top={top}")];
        if let Some(f) = &q.raw_filter {
            parts.push(format!("$filter={}", encode(f)));
        }
        if let Some(e) = &q.raw_expand {
            parts.push(format!("$expand={}", encode(e)));
        }
        if let Some(s) = &q.raw_select {
            parts.push(format!("$select={}", encode(s)));
        }
        parts.extend(q.others.iter().cloned());
        v["Members@odata.nextLink"] = Value::String(format!("{uri}?{}", parts.join("&")));
    }
    Ok(())
}

/// A collection's parameter on another resource: 400
/// `QueryNotSupportedOnResource`.
pub(crate) fn not_a_collection() -> RedfishError {
    RedfishError::new(
        StatusCode::BAD_REQUEST,
        BaseMessage::QueryNotSupportedOnResource,
        &[],
    )
}

/// Escapes what a query value may not hold as it is.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'*'
            | b','
            | b'/'
            | b'('
            | b')'
            | b'$'
            | b'=' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The hyperlinks `$expand` of `kind` follows in `v`, as JSON pointers
/// (where to put the expanded resource) and URIs. A hyperlink is an object
/// whose only property is `@odata.id`; `Links` is where references to
/// other (non-subordinate) resources live.
pub(crate) fn links_to_expand(v: &Value, kind: ExpandKind) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(v, kind, false, &mut String::new(), &mut out);
    out
}

fn walk(
    v: &Value,
    kind: ExpandKind,
    in_links: bool,
    at: &mut String,
    out: &mut Vec<(String, String)>,
) {
    match v {
        Value::Object(m) => {
            if let (1, Some(Value::String(uri))) = (m.len(), m.get("@odata.id")) {
                let wanted = match kind {
                    ExpandKind::All => true,
                    ExpandKind::NoLinks => !in_links,
                    ExpandKind::Links => in_links,
                };
                if wanted && !at.is_empty() {
                    out.push((at.clone(), uri.clone()));
                }
                return;
            }
            for (k, child) in m {
                // Annotations and action targets hold no hyperlinks to expand.
                if k.starts_with('@') || k.contains("@odata.") || k == "Actions" {
                    continue;
                }
                let len = at.len();
                at.push('/');
                at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                walk(child, kind, in_links || k == "Links", at, out);
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                walk(child, kind, in_links, at, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// `$select`: the listed properties (and nested ones by path), plus the
/// resource's `@odata.id`, `@odata.type`, `@odata.context` and
/// `@odata.etag`, which DSP0266 says a selection always keeps. A listed
/// property the resource does not have is left out (DSP0266: the response
/// holds the selected properties the resource has). On a collection the
/// selection applies to each expanded member, and the collection keeps
/// its `Members` and counts.
pub(crate) fn select(v: &Value, paths: &[Vec<String>]) -> Value {
    let Value::Object(m) = v else {
        return v.clone();
    };
    if let Some(Value::Array(members)) = m.get("Members") {
        let mut out = m.clone();
        out.insert(
            "Members".into(),
            Value::Array(members.iter().map(|x| select(x, paths)).collect()),
        );
        return Value::Object(out);
    }
    let mut out = Map::new();
    for k in ["@odata.id", "@odata.type", "@odata.context", "@odata.etag"] {
        if let Some(x) = m.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    for path in paths {
        copy_path(m, path, &mut out);
    }
    Value::Object(out)
}

fn copy_path(from: &Map<String, Value>, path: &[String], to: &mut Map<String, Value>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(x) = from.get(first) else {
        return;
    };
    if rest.is_empty() {
        to.insert(first.clone(), x.clone());
        return;
    }
    let Value::Object(inner) = x else {
        return;
    };
    let slot = to
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(slot) = slot {
        copy_path(inner, rest, slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(e: &RedfishError) -> String {
        e.body()["error"]["code"].as_str().unwrap().to_string()
    }

    #[test]
    fn expand_levels_and_kinds() {
        let e = |s| parse(Some(s)).unwrap().expand.unwrap();
        assert_eq!(
            e("$expand=."),
            Expand {
                kind: ExpandKind::NoLinks,
                levels: 1
            }
        );
        assert_eq!(
            e("$expand=*"),
            Expand {
                kind: ExpandKind::All,
                levels: 1
            }
        );
        assert_eq!(
            e("%24expand=~(%24levels%3D2)"),
            Expand {
                kind: ExpandKind::Links,
                levels: 2
            }
        );
        assert_eq!(e("$expand=.($levels=3)").levels, 3);
        for bad in [
            "$expand=",
            "$expand=x",
            "$expand=.(levels=2)",
            "$expand=.($levels=)",
            "$expand=.($levels=2",
            "$expand=.,*",
        ] {
            let err = parse(Some(bad)).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(
                code(&err),
                "Base.1.22.QueryParameterValueFormatError",
                "{bad}"
            );
        }
        for far in [
            "$expand=*($levels=99)",
            "$expand=.($levels=0)",
            "$expand=.($levels=99999999999)",
        ] {
            let err = parse(Some(far)).unwrap_err();
            assert_eq!(code(&err), "Base.1.22.QueryParameterOutOfRange", "{far}");
        }
    }

    #[test]
    fn top_skip_and_unsupported_parameters() {
        let q = parse(Some("$top=2&$skip=1&foo=bar")).unwrap();
        assert_eq!((q.top, q.skip), (Some(2), Some(1)));
        assert!(parse(None).unwrap().is_empty());
        assert!(
            parse(Some("excerpt&foo=1")).unwrap().is_empty(),
            "others are ignored"
        );
        assert_eq!(
            code(&parse(Some("$top=-1")).unwrap_err()),
            "Base.1.22.QueryParameterOutOfRange"
        );
        for bad in ["$top=x", "$top=", "$skip=1.5", "$top=1&$top=2", "$skip=+3"] {
            assert_eq!(
                code(&parse(Some(bad)).unwrap_err()),
                "Base.1.22.QueryParameterValueFormatError",
                "{bad}"
            );
        }
        for q in ["$levels=1", "a=1&$orderby=Id", "%24count=true", "$search=x"] {
            let e = parse(Some(q)).unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED, "{q}");
            assert_eq!(code(&e), "Base.1.22.QueryNotSupported");
        }
        assert_eq!(
            parse(Some("$select=Id,Status/Health"))
                .unwrap()
                .select
                .unwrap(),
            vec![
                vec!["Id".to_string()],
                vec!["Status".to_string(), "Health".to_string()]
            ]
        );
        assert!(parse(Some("$select=")).is_err());
        assert!(parse(Some("$select=Id,,Name")).is_err());
    }

    #[test]
    fn filter_and_only() {
        let q = parse(Some("$filter=Status/Health+eq+%27OK%27&$top=1")).unwrap();
        let f = q.filter.as_ref().unwrap();
        assert!(f.matches(&json!({ "Status": { "Health": "OK" } })));
        assert!(!f.matches(&json!({ "Status": { "Health": "Warning" } })));
        // The next link keeps the filter, and reads back to the same one.
        let mut v = members(3);
        page(&mut v, "/c", &q).unwrap();
        let next = v["Members@odata.nextLink"].as_str().unwrap();
        assert_eq!(
            next,
            "/c?$skip=1&$top=1&$filter=Status/Health%20eq%20%27OK%27"
        );
        let again = parse(next.split_once('?').map(|p| p.1)).unwrap();
        assert_eq!(again.filter, q.filter);
        // A `+` sent as `%2B` stays a `+` (a number's exponent).
        let q = parse(Some("$filter=Reading%20gt%201e%2B2")).unwrap();
        assert!(q.filter.unwrap().matches(&json!({ "Reading": 101 })));

        assert!(parse(Some("only")).unwrap().only);
        assert!(parse(Some("only=")).unwrap().only);
        assert!(!parse(Some("only")).unwrap().is_empty());
        for bad in ["only=foo", "only&only"] {
            assert_eq!(
                code(&parse(Some(bad)).unwrap_err()),
                "Base.1.22.QueryParameterValueFormatError",
                "{bad}"
            );
        }
        for bad in [
            "only&$top=1",
            "$skip=1&only",
            "only&$expand=.",
            "only&$select=Id",
            "only&$filter=Id%20eq%20'a'",
        ] {
            let e = parse(Some(bad)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(code(&e), "Base.1.22.QueryCombinationInvalid", "{bad}");
        }
        assert!(
            parse(Some("only&excerpt&x=1")).unwrap().only,
            "ignored ones"
        );
    }

    fn members(n: usize) -> Value {
        let m: Vec<Value> = (0..n)
            .map(|i| json!({ "@odata.id": format!("/c/{i}") }))
            .collect();
        json!({ "@odata.id": "/c", "Members@odata.count": n, "Members": m })
    }

    #[test]
    fn pages_with_a_next_link() {
        let mut v = members(5);
        page(
            &mut v,
            "/c",
            &parse(Some("$top=2&$skip=1&$expand=.")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            v["Members"],
            json!([{ "@odata.id": "/c/1" }, { "@odata.id": "/c/2" }])
        );
        assert_eq!(v["Members@odata.count"], 5);
        assert_eq!(v["Members@odata.nextLink"], "/c?$skip=3&$top=2&$expand=.");
        let mut last = members(5);
        page(&mut last, "/c", &parse(Some("$top=2&$skip=3")).unwrap()).unwrap();
        assert_eq!(last["Members"].as_array().unwrap().len(), 2);
        assert!(
            last.get("Members@odata.nextLink").is_none(),
            "nothing remains"
        );
        let mut beyond = members(5);
        page(&mut beyond, "/c", &parse(Some("$skip=9")).unwrap()).unwrap();
        assert_eq!(beyond["Members"], json!([]));
        let mut not_a_collection = json!({ "Id": "x" });
        let e = page(&mut not_a_collection, "/x", &parse(Some("$top=1")).unwrap()).unwrap_err();
        assert_eq!(code(&e), "Base.1.22.QueryNotSupportedOnResource");
    }

    #[test]
    fn which_links_each_expansion_follows() {
        let v = json!({
            "@odata.id": "/r",
            "Sensors": { "@odata.id": "/r/Sensors" },
            "Members": [{ "@odata.id": "/r/1" }],
            "Actions": { "#X.Y": { "target": "/r/Actions/X.Y" } },
            "Links": { "ContainedBy": { "@odata.id": "/rack" }, "Contains": [{ "@odata.id": "/b" }] },
        });
        let uris = |k| {
            links_to_expand(&v, k)
                .into_iter()
                .map(|(_, u)| u)
                .collect::<Vec<_>>()
        };
        assert_eq!(uris(ExpandKind::NoLinks), ["/r/1", "/r/Sensors"]);
        assert_eq!(uris(ExpandKind::Links), ["/rack", "/b"]);
        assert_eq!(uris(ExpandKind::All).len(), 4);
        let pointers: Vec<_> = links_to_expand(&v, ExpandKind::All)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert!(pointers.contains(&"/Links/Contains/0".to_string()));
        assert!(pointers.contains(&"/Members/0".to_string()));
    }

    #[test]
    fn select_keeps_the_identity_and_the_named_properties() {
        let v = json!({
            "@odata.id": "/s", "@odata.type": "#S.v1_0_0.S", "Id": "s", "Name": "n",
            "Status": { "State": "Enabled", "Health": "OK" }, "Reading": 3.5,
        });
        let paths = parse(Some("$select=Reading,Status/Health,Nope"))
            .unwrap()
            .select
            .unwrap();
        assert_eq!(
            select(&v, &paths),
            json!({ "@odata.id": "/s", "@odata.type": "#S.v1_0_0.S", "Reading": 3.5, "Status": { "Health": "OK" } })
        );
        let c = json!({ "@odata.id": "/c", "Members@odata.count": 1, "Members": [v] });
        let picked = select(&c, &paths);
        assert_eq!(picked["Members@odata.count"], 1);
        assert_eq!(picked["Members"][0]["Reading"], 3.5);
        assert!(picked["Members"][0].get("Name").is_none());
    }
}
