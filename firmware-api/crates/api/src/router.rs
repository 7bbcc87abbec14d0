//! Maps normalised path segments to v1.1 endpoints (spec §2.3). Only routing
//! and method checks live here; ids are parsed by the handlers so that a bad id
//! is a 500, as in the original, and not a 404.

use hyper::Method;

/// The versioned prefix every endpoint lives under.
pub const PREFIX: [&str; 2] = ["opendcre", "1.1"];

/// A v1.1 endpoint with its raw path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Test,
    Version {
        board: String,
    },
    ScanAll,
    Scan {
        board: String,
    },
    Read {
        device_type: String,
        board: String,
        device: String,
    },
    ReadInfo {
        device_type: String,
        board: String,
        device: String,
    },
    Write,
    WriteInfo {
        device_type: String,
        board: String,
        device: String,
        text: String,
    },
    Power {
        action: String,
        board: String,
        device: String,
    },
}

impl Route {
    /// Methods the original's Flask routes accepted (HEAD and OPTIONS were implicit).
    pub fn allows(&self, method: &Method) -> bool {
        match *method {
            Method::GET | Method::HEAD | Method::OPTIONS => true,
            Method::POST => matches!(self, Route::Test),
            _ => false,
        }
    }

    pub fn allow_header(&self) -> &'static str {
        match self {
            Route::Test => "GET, HEAD, OPTIONS, POST",
            _ => "GET, HEAD, OPTIONS",
        }
    }

    /// True for endpoints that change device state (used for authorization).
    pub fn is_write(&self) -> bool {
        match self {
            Route::WriteInfo { .. } | Route::Write => true,
            Route::Power { action, .. } => !action.eq_ignore_ascii_case("status"),
            _ => false,
        }
    }
}

/// Finds the route for a path, `None` for 404.
pub fn route(segments: &[String]) -> Option<Route> {
    if segments.len() < 2 || segments[0] != PREFIX[0] || segments[1] != PREFIX[1] {
        return None;
    }
    let rest: Vec<&str> = segments[2..].iter().map(String::as_str).collect();
    // Flask's string converter never matches an empty segment.
    if rest.iter().any(|s| s.is_empty()) {
        return None;
    }
    let s = |x: &str| x.to_string();
    Some(match rest.as_slice() {
        ["test"] => Route::Test,
        ["version", b] => Route::Version { board: s(b) },
        ["scan"] => Route::ScanAll,
        ["scan", b] => Route::Scan { board: s(b) },
        ["read", t, b, d] => Route::Read {
            device_type: s(t),
            board: s(b),
            device: s(d),
        },
        ["read", t, b, d, "info"] => Route::ReadInfo {
            device_type: s(t),
            board: s(b),
            device: s(d),
        },
        ["write", _, _, _] => Route::Write,
        ["write", t, b, d, "info", text] => Route::WriteInfo {
            device_type: s(t),
            board: s(b),
            device: s(d),
            text: s(text),
        },
        ["power", a, b, d] => Route::Power {
            action: s(a),
            board: s(b),
            device: s(d),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: &str) -> Option<Route> {
        route(&super::super::path::segments(p).unwrap())
    }

    #[test]
    fn v11_routes() {
        assert_eq!(r("/opendcre/1.1/test"), Some(Route::Test));
        assert_eq!(r("/opendcre/1.1/scan"), Some(Route::ScanAll));
        assert_eq!(r("/opendcre/1.1/scan/"), None);
        assert_eq!(r("/opendcre/1.1/version/"), None);
        assert_eq!(
            r("/opendcre/1.1/scan//00000000"),
            Some(Route::Scan {
                board: "00000000".into()
            })
        );
        // `//` collapses: in v1.1 this is an ordinary read (the spec's 404 is v1.3's rack segment).
        assert!(matches!(
            r("/opendcre/1.1/read/thermistor//00000014/04FF"),
            Some(Route::Read { .. })
        ));
        assert!(matches!(
            r("/opendcre/1.1/read/thermistor/1/1ff/info"),
            Some(Route::ReadInfo { .. })
        ));
        assert_eq!(r("/opendcre/1.1/write/power/1/1ff"), Some(Route::Write));
        assert!(
            matches!(r("/opendcre/1.1/write/power/1/1ff/info/rack%207"), Some(Route::WriteInfo { text, .. }) if text == "rack 7")
        );
        assert_eq!(r("/opendcre/1.0/test"), None);
        assert_eq!(r("/opendcre/1.1/bogus"), None);
    }

    #[test]
    fn methods() {
        assert!(Route::Test.allows(&Method::POST));
        assert!(!Route::ScanAll.allows(&Method::POST));
        assert!(!Route::ScanAll.allows(&Method::DELETE));
        assert!(Route::Power {
            action: "ON".into(),
            board: "1".into(),
            device: "1".into()
        }
        .is_write());
        assert!(!Route::Power {
            action: "Status".into(),
            board: "1".into(),
            device: "1".into()
        }
        .is_write());
    }
}
