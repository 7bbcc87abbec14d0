//! The OpenAPI 3.1 document of every route the node serves outside
//! `/redfish` (`openapi.json` beside this crate's `src/`), served at
//! `GET /opendcre/openapi.json`. Kept true by the tests below (every route
//! of [`crate::router`] is in it with its methods) and by `make api-contract`
//! (schemathesis against the emulator, ci/schemathesis.sh).

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::path;
    use crate::router::{self, Route};

    /// One request path per route (and per power action class, whose
    /// methods differ). A new route goes here; [`Route::openapi_path`]
    /// makes it name its template.
    const SAMPLES: &[&str] = &[
        "/opendcre/1.1/test",
        "/opendcre/1.1/version/00000001",
        "/opendcre/1.1/scan",
        "/opendcre/1.1/scan/00000001",
        "/opendcre/1.1/read/thermistor/00000001/0001",
        "/opendcre/1.1/read/power/00000001/0001/info",
        "/opendcre/1.1/write/power/00000001/0001",
        "/opendcre/1.1/write/power/00000001/0001/info/rack7",
        "/opendcre/1.1/power/status/00000001/0001",
        "/opendcre/1.1/power/on/00000001/0001",
        "/metrics",
        "/opendcre/2/readings",
        "/opendcre/2/readings/00000001/0001/history",
        "/opendcre/2/scan/refresh",
        "/opendcre/openapi.json",
        "/opendcre/2/events",
        "/opendcre/2/whoami",
        "/opendcre/dashboard/",
        "/opendcre/dashboard/app.js",
        "/opendcre/dashboard/app.css",
    ];

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    fn route(p: &str) -> Route {
        router::route(&path::segments(p).unwrap()).unwrap_or_else(|| panic!("{p} routes nowhere"))
    }

    #[test]
    fn is_openapi_3_1_with_security_schemes() {
        let d = doc();
        assert_eq!(d["openapi"], "3.1.0");
        let schemes = d["components"]["securitySchemes"].as_object().unwrap();
        for s in ["bearerAuth", "basicAuth", "mutualTLS"] {
            assert!(schemes.contains_key(s), "security scheme {s}");
        }
    }

    /// Every route the router knows is documented with exactly the methods
    /// it allows, and the document has no path the router does not serve.
    #[test]
    fn documents_every_route_with_its_methods() {
        let d = doc();
        let paths = d["paths"].as_object().unwrap();
        let mut expected: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut public = BTreeSet::new();
        for p in SAMPLES {
            let r = route(p);
            if r.is_public() {
                public.insert(r.openapi_path());
            }
            let methods = expected.entry(r.openapi_path()).or_default();
            for m in r.allow_header().split(", ") {
                methods.insert(m.to_ascii_lowercase());
            }
        }
        let documented: BTreeSet<&str> = paths.keys().map(String::as_str).collect();
        let routed: BTreeSet<&str> = expected.keys().copied().collect();
        assert_eq!(documented, routed, "paths of openapi.json vs the router");
        for (template, methods) in &expected {
            let ops: BTreeSet<String> = paths[*template]
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .cloned()
                .collect();
            assert_eq!(&ops, methods, "methods of {template}");
            for (m, op) in paths[*template].as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.contains_key("200") || responses.contains_key("501"),
                    "{m} {template} documents its answer"
                );
                for code in ["401", "403", "414", "429", "431", "503"] {
                    // A public route never asks for credentials.
                    let can_happen = !(public.contains(template) && ["401", "403"].contains(&code));
                    assert_eq!(
                        responses.contains_key(code),
                        can_happen,
                        "{m} {template}: {code}"
                    );
                }
                if public.contains(template) {
                    assert_eq!(
                        op["security"],
                        serde_json::json!([]),
                        "{m} {template} is public"
                    );
                }
            }
        }
    }

    /// The template's literal segments route the same way: a sample filled
    /// into the template routes to the same route.
    #[test]
    fn templates_route_to_their_route() {
        for p in SAMPLES {
            let r = route(p);
            // Power status reads and power actions share one template but
            // not one route name (`power_status`, `power`).
            let action = if r.name() == "power" { "on" } else { "status" };
            let filled = r
                .openapi_path()
                .replace("{board}", "1")
                .replace("{device}", "2")
                .replace("{device_type}", "power")
                .replace("{action}", action)
                .replace("{text}", "x");
            assert_eq!(route(&filled).name(), r.name(), "{filled}");
        }
    }

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let d = doc();
        let mut found = Vec::new();
        refs(&d, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(d.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }
}
