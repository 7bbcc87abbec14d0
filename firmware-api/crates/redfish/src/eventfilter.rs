//! Which events a subscriber gets: the `EventFormatType` (events, metric
//! reports), `RegistryPrefixes`, `MessageIds`, `OriginResources` (with
//! `SubordinateResources`) and `MetricReportDefinitions` of a push
//! subscription, or the same properties in an SSE stream's `$filter`
//! (DSP0266 "Server-sent events"). Empty lists let everything through; a
//! list on a property a record lacks (a metric report has no `MessageId`,
//! an event no `MetricReportDefinition`) keeps it out.

use serde::{Deserialize, Serialize};

use crate::answer::{BaseMessage, RedfishError};
use http::StatusCode;

/// What a record on the event service is: an `Event`, or a `MetricReport`
/// of a periodic metric report definition (`EventFormatType`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Format {
    #[default]
    Event,
    MetricReport,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Event => "Event",
            Format::MetricReport => "MetricReport",
        }
    }
}

/// The properties of an event a filter looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Facts<'a> {
    pub format: Format,
    /// `OpenDCRE.1.0.PowerAction`; empty for a metric report.
    pub message_id: &'a str,
    /// The resource the event is about (`/redfish/v1/Systems/…`); a
    /// metric report's definition.
    pub origin: &'a str,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Filter {
    /// The formats taken: a push subscription takes one (`Event` by
    /// default, and in files written before reports), an SSE stream both
    /// unless its `$filter` says.
    #[serde(default = "events_only")]
    pub formats: Vec<Format>,
    pub registry_prefixes: Vec<String>,
    pub message_ids: Vec<String>,
    pub origin_resources: Vec<String>,
    /// An origin below one of `origin_resources` matches too.
    pub subordinate: bool,
    /// The metric report definitions (URIs) whose reports are taken.
    #[serde(default)]
    pub report_definitions: Vec<String>,
}

fn events_only() -> Vec<Format> {
    vec![Format::Event]
}

/// Longest list a filter takes, and longest entry: a subscription is kept
/// in memory and in a file, and checked for every event.
pub(crate) const MAX_ITEMS: usize = 32;
pub(crate) const MAX_ITEM_CHARS: usize = 256;

impl Filter {
    /// A filter of a push subscription of `format`, nothing else chosen.
    pub fn of(format: Format) -> Filter {
        Filter {
            formats: vec![format],
            ..Filter::default()
        }
    }

    pub fn matches(&self, e: &Facts<'_>) -> bool {
        let prefix = e.message_id.split('.').next().unwrap_or("");
        let any = |list: &[String], f: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|x| f(x))
        };
        let definition = (e.format == Format::MetricReport).then_some(e.origin);
        (self.formats.is_empty() || self.formats.contains(&e.format))
            && any(&self.report_definitions, &|d| {
                definition == Some(d.trim_end_matches('/'))
            })
            && any(&self.registry_prefixes, &|p| {
                !prefix.is_empty() && p == prefix
            })
            && any(&self.message_ids, &|m| message_id_matches(m, e.message_id))
            && any(&self.origin_resources, &|o| {
                let o = o.trim_end_matches('/');
                e.origin == o
                    || (self.subordinate
                        && e.origin
                            .strip_prefix(o)
                            .is_some_and(|rest| rest.starts_with('/')))
            })
    }

    /// An SSE stream's `$filter` (already percent-decoded): terms
    /// `Property eq Value`, the value bare or in single quotes, joined by
    /// `or` / `and` and optionally in parentheses. Terms on one property
    /// are alternatives; terms on different properties must all hold (the
    /// service does not evaluate general boolean expressions). Properties:
    /// `EventFormatType` (`Event`, `MetricReport`; both when not named),
    /// `RegistryPrefix`, `MessageId`, `OriginResource`,
    /// `SubordinateResources` (`true`/`false`), `MetricReportDefinition`.
    pub fn parse_sse(text: &str) -> Result<Filter, RedfishError> {
        let bad = || {
            RedfishError::new(
                StatusCode::BAD_REQUEST,
                BaseMessage::QueryParameterValueFormatError,
                &[text, "$filter"],
            )
        };
        let mut f = Filter {
            formats: Vec::new(),
            ..Filter::default()
        };
        let cleaned: String = text
            .chars()
            .map(|c| if c == '(' || c == ')' { ' ' } else { c })
            .collect();
        let words: Vec<&str> = cleaned.split_whitespace().collect();
        if words.is_empty() {
            return Err(bad());
        }
        let mut i = 0;
        while i < words.len() {
            let [prop, "eq", value] = words.get(i..i + 3).ok_or_else(bad)? else {
                return Err(bad());
            };
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(value);
            if value.is_empty() || value.len() > MAX_ITEM_CHARS {
                return Err(bad());
            }
            match *prop {
                "EventFormatType" if value == "Event" => f.formats.push(Format::Event),
                "EventFormatType" if value == "MetricReport" => {
                    f.formats.push(Format::MetricReport)
                }
                "MetricReportDefinition" => f.report_definitions.push(value.to_string()),
                "RegistryPrefix" => f.registry_prefixes.push(value.to_string()),
                "MessageId" => f.message_ids.push(value.to_string()),
                "OriginResource" => f.origin_resources.push(value.to_string()),
                "SubordinateResources" => {
                    f.subordinate = value.parse().map_err(|_| bad())?;
                }
                _ => return Err(bad()),
            }
            i += 3;
            match words.get(i) {
                None => {}
                Some(&"or") | Some(&"and") if i + 1 < words.len() => i += 1,
                Some(_) => return Err(bad()),
            }
        }
        let lists = [
            &f.registry_prefixes,
            &f.message_ids,
            &f.origin_resources,
            &f.report_definitions,
        ];
        if lists.iter().any(|l| l.len() > MAX_ITEMS) {
            return Err(bad());
        }
        Ok(f)
    }
}

/// `MessageIds` entries may leave out the version (`OpenDCRE.PowerAction`
/// names every version's) or give it whole (`OpenDCRE.1.0.PowerAction`).
/// A whole one matches its message in any minor version of the same major:
/// a minor version only adds messages, so a subscription kept from before
/// an update (`OpenDCRE.1.0.PowerAction`) still gets `OpenDCRE.1.2`'s.
fn message_id_matches(wanted: &str, id: &str) -> bool {
    if wanted == id {
        return true;
    }
    let parts: Vec<&str> = id.split('.').collect();
    let [prefix, major, _, key] = parts.as_slice() else {
        return false;
    };
    match wanted.split('.').collect::<Vec<_>>().as_slice() {
        [p, k] => p == prefix && k == key,
        [p, m, _, k] => p == prefix && m == major && k == key,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(id: &'a str, origin: &'a str) -> Facts<'a> {
        Facts {
            format: Format::Event,
            message_id: id,
            origin,
        }
    }

    const DEF: &str = "/redfish/v1/TelemetryService/MetricReportDefinitions/Power";

    fn report() -> Facts<'static> {
        Facts {
            format: Format::MetricReport,
            message_id: "",
            origin: DEF,
        }
    }

    #[test]
    fn formats_and_report_definitions() {
        let e = facts("OpenDCRE.1.2.PowerAction", "/redfish/v1/Systems/x");
        let events = Filter::of(Format::Event);
        assert!(events.matches(&e) && !events.matches(&report()));
        let reports = Filter::of(Format::MetricReport);
        assert!(!reports.matches(&e) && reports.matches(&report()));
        let one = Filter {
            report_definitions: vec![format!("{DEF}/")],
            ..Filter::of(Format::MetricReport)
        };
        assert!(one.matches(&report()));
        let other = Filter {
            report_definitions: vec![format!("{DEF}2")],
            ..Filter::of(Format::MetricReport)
        };
        assert!(!other.matches(&report()));
        // A report has no MessageId or registry: such a filter keeps it out.
        let sse = Filter::parse_sse("RegistryPrefix eq OpenDCRE").unwrap();
        assert!(sse.matches(&e) && !sse.matches(&report()));
        // An SSE stream takes both unless it names one.
        let all = Filter::parse_sse("SubordinateResources eq false").unwrap();
        assert!(all.matches(&e) && all.matches(&report()));
        let only = Filter::parse_sse(&format!(
            "EventFormatType eq MetricReport and MetricReportDefinition eq '{DEF}'"
        ))
        .unwrap();
        assert!(!only.matches(&e) && only.matches(&report()));
        // A file written before reports: its subscriptions take events.
        let old: Filter = serde_json::from_str(
            r#"{"registry_prefixes":[],"message_ids":[],"origin_resources":[],"subordinate":false}"#,
        )
        .unwrap();
        assert_eq!(old.formats, [Format::Event]);
    }

    #[test]
    fn empty_lets_all_through_and_lists_are_alternatives() {
        let e = facts(
            "OpenDCRE.1.0.PowerAction",
            "/redfish/v1/Systems/00000001-16ff",
        );
        assert!(Filter::default().matches(&e));
        let f = Filter {
            registry_prefixes: vec!["Base".into(), "OpenDCRE".into()],
            ..Filter::default()
        };
        assert!(f.matches(&e));
        let f = Filter {
            message_ids: vec!["OpenDCRE.PowerAction".into()],
            ..Filter::default()
        };
        assert!(f.matches(&e));
        let f = Filter {
            message_ids: vec!["OpenDCRE.1.0.BusFaults".into()],
            ..Filter::default()
        };
        assert!(!f.matches(&e));
    }

    #[test]
    fn a_whole_message_id_matches_any_minor_version_of_its_major() {
        let e = facts(
            "OpenDCRE.1.2.PowerAction",
            "/redfish/v1/Systems/00000001-16ff",
        );
        let only = |id: &str| Filter {
            message_ids: vec![id.into()],
            ..Filter::default()
        };
        for id in [
            "OpenDCRE.1.2.PowerAction",
            "OpenDCRE.1.0.PowerAction",
            "OpenDCRE.PowerAction",
        ] {
            assert!(only(id).matches(&e), "{id}");
        }
        for id in [
            "OpenDCRE.2.0.PowerAction",
            "Base.1.0.PowerAction",
            "OpenDCRE.1.0.PowerActionFailed",
            "OpenDCRE.1.PowerAction",
            "PowerAction",
        ] {
            assert!(!only(id).matches(&e), "{id}");
        }
    }

    #[test]
    fn origins_and_subordinates() {
        let e = facts(
            "OpenDCRE.1.0.PowerAction",
            "/redfish/v1/Systems/00000001-16ff",
        );
        let mut f = Filter {
            origin_resources: vec!["/redfish/v1/Systems".into()],
            ..Filter::default()
        };
        assert!(!f.matches(&e));
        f.subordinate = true;
        assert!(f.matches(&e));
        f.origin_resources = vec!["/redfish/v1/Sys".into()];
        assert!(!f.matches(&e), "a prefix of a segment is not a parent");
    }

    #[test]
    fn sse_filter_syntax() {
        let f = Filter::parse_sse(
            "(RegistryPrefix eq OpenDCRE) and (MessageId eq 'OpenDCRE.1.0.PowerAction' or MessageId eq OpenDCRE.BusFaults)",
        )
        .unwrap();
        assert_eq!(f.registry_prefixes, ["OpenDCRE"]);
        assert_eq!(
            f.message_ids,
            ["OpenDCRE.1.0.PowerAction", "OpenDCRE.BusFaults"]
        );
        let f = Filter::parse_sse("EventFormatType eq Event and OriginResource eq '/redfish/v1/Systems' and SubordinateResources eq true").unwrap();
        assert!(f.subordinate);
        for bad in [
            "",
            "MessageId",
            "MessageId eq",
            "MessageId ne X",
            "EventFormatType eq Alert",
            "ResourceType eq Chassis",
            "MessageId eq X or",
            "MessageId eq X xor MessageId eq Y",
            "SubordinateResources eq yes",
            "MessageId eq ''",
        ] {
            assert!(Filter::parse_sse(bad).is_err(), "{bad:?}");
        }
    }
}
