//! Maps normalised path segments to v1.1 endpoints (spec §2.3). Only routing
//! and method checks live here; ids are parsed by the handlers so that a bad id
//! is a 500, as in the original, and not a 404.

use hyper::Method;
use opendcre_redfish::Resource;
use opendcre_security::auth::Permission;

/// The versioned prefix every endpoint lives under.
pub(crate) const PREFIX: [&str; 2] = ["opendcre", "1.1"];
/// The prefix of the telemetry routes: a new version, so v1.1 stays as it was.
pub(crate) const PREFIX_V2: [&str; 2] = ["opendcre", "2"];

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
    /// `/metrics`; what it needs is `[telemetry] metrics_role`, set by the
    /// server from the configuration after routing.
    Metrics {
        needs: Permission,
    },
    /// `/opendcre/2/readings`: the cache, not the bus.
    Readings,
    History {
        board: String,
        device: String,
    },
    /// `POST /opendcre/2/scan/refresh`.
    ScanRefresh,
    /// `GET /opendcre/openapi.json`: the OpenAPI document of every route
    /// here ([`crate::openapi`]).
    OpenApi,
    /// `GET /opendcre/2/events`: the cache as server-sent events
    /// ([`crate::events`]).
    Events,
    /// `GET /opendcre/2/whoami`: the caller's name, role and permissions,
    /// so a page knows which buttons to offer (the server still decides).
    WhoAmI,
    /// The dashboard's static files ([`crate::dashboard`]); public.
    Dashboard(crate::dashboard::Asset),
    /// Anything under `/redfish`: the Redfish service (crates/redfish),
    /// which says what each of its resources allows and needs.
    Redfish(Resource),
}

impl Route {
    /// Methods the original's Flask routes accepted (HEAD and OPTIONS were
    /// implicit), except HEAD on a route that changes state: a HEAD runs the
    /// handler as a GET would and only drops the body, so `HEAD
    /// /power/off/…` powered a server off. A HEAD is meant to be safe.
    pub fn allows(&self, method: &Method) -> bool {
        if let Route::Redfish(r) = self {
            return r.allows(method);
        }
        match *method {
            // The refresh is a POST only: a GET must not start bus work
            // that a link preview or a crawler could trigger.
            Method::GET if matches!(self, Route::ScanRefresh) => false,
            Method::GET | Method::OPTIONS => true,
            // A HEAD of a stream would hold the connection for nothing.
            Method::HEAD if matches!(self, Route::Events) => false,
            Method::HEAD => self.permission() == Permission::Read,
            Method::POST => matches!(self, Route::Test | Route::ScanRefresh),
            _ => false,
        }
    }

    pub(crate) fn allow_header(&self) -> &'static str {
        match self {
            Route::Redfish(r) => r.allow_header(),
            Route::Test => "GET, HEAD, OPTIONS, POST",
            Route::ScanRefresh => "OPTIONS, POST",
            Route::Events => "GET, OPTIONS",
            r if r.permission() != Permission::Read => "GET, OPTIONS",
            _ => "GET, HEAD, OPTIONS",
        }
    }

    /// The route's name for the HTTP metrics: fixed text, never the path.
    /// A power status read is `power_status`, apart from the actions
    /// (`power`: on, off, cycle, and unknown actions, which need `Operate`
    /// like them): the "power changed unexpectedly" alert counts only
    /// actions, so a client that polls status does not silence it.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Power { .. } if self.permission() == Permission::Read => "power_status",
            Route::Test => "test",
            Route::Version { .. } => "version",
            Route::ScanAll | Route::Scan { .. } => "scan",
            Route::Read { .. } => "read",
            Route::ReadInfo { .. } => "read_info",
            Route::Write => "write",
            Route::WriteInfo { .. } => "write_info",
            Route::Power { .. } => "power",
            Route::Metrics { .. } => "metrics",
            Route::Readings => "readings",
            Route::History { .. } => "history",
            Route::ScanRefresh => "scan_refresh",
            Route::OpenApi => "openapi",
            Route::Events => "events",
            Route::WhoAmI => "whoami",
            Route::Dashboard(_) => "dashboard",
            // A reset is a power action: the alert on unexpected power
            // changes must see it like a v1.1 `power/on|off|cycle`.
            Route::Redfish(Resource::SystemReset(_)) => "power",
            Route::Redfish(_) => "redfish",
        }
    }

    /// The route's path template in the OpenAPI document (`openapi.json`).
    /// A new route must name its template here, and the tests below fail
    /// until the document has it with the methods [`Route::allow_header`]
    /// lists.
    pub fn openapi_path(&self) -> &'static str {
        match self {
            Route::Test => "/opendcre/1.1/test",
            Route::Version { .. } => "/opendcre/1.1/version/{board}",
            Route::ScanAll => "/opendcre/1.1/scan",
            Route::Scan { .. } => "/opendcre/1.1/scan/{board}",
            Route::Read { .. } => "/opendcre/1.1/read/{device_type}/{board}/{device}",
            Route::ReadInfo { .. } => "/opendcre/1.1/read/{device_type}/{board}/{device}/info",
            Route::Write => "/opendcre/1.1/write/{device_type}/{board}/{device}",
            Route::WriteInfo { .. } => {
                "/opendcre/1.1/write/{device_type}/{board}/{device}/info/{text}"
            }
            Route::Power { .. } => "/opendcre/1.1/power/{action}/{board}/{device}",
            Route::Metrics { .. } => "/metrics",
            Route::Readings => "/opendcre/2/readings",
            Route::History { .. } => "/opendcre/2/readings/{board}/{device}/history",
            Route::ScanRefresh => "/opendcre/2/scan/refresh",
            Route::OpenApi => "/opendcre/openapi.json",
            Route::Events => "/opendcre/2/events",
            Route::WhoAmI => "/opendcre/2/whoami",
            Route::Dashboard(a) => a.path(),
            // Described by its own `$metadata`, not by the OpenAPI document.
            Route::Redfish(_) => "/redfish",
        }
    }

    /// What a caller must hold to reach this route: the one place that says
    /// which endpoints change device state. The server asks it before the
    /// handler runs; a path that routes nowhere needs only `Read` (it gets a
    /// 404 after authentication, so unauthenticated callers learn nothing).
    /// An unknown power action is `Operate`: only `status` only reads.
    pub fn permission(&self) -> Permission {
        self.permission_for(&Method::GET)
    }

    /// [`Route::permission`] for a request with `method`: a Redfish
    /// `PATCH` changes state where a GET of the same URI reads it.
    pub fn permission_for(&self, method: &Method) -> Permission {
        match self {
            Route::WriteInfo { .. } | Route::Write | Route::ScanRefresh => Permission::Operate,
            Route::Metrics { needs } => *needs,
            Route::Redfish(r) => r.permission_for(method),
            Route::Power { action, .. } if !action.eq_ignore_ascii_case("status") => {
                Permission::Operate
            }
            _ => Permission::Read,
        }
    }

    /// Served without authentication: the dashboard's static files, which
    /// hold no data (a browser's navigation cannot carry the token the page
    /// keeps in `sessionStorage`; every data call the page makes is
    /// authenticated as usual).
    pub fn is_public(&self) -> bool {
        matches!(self, Route::Dashboard(_))
    }
}

/// Finds the route for a path, `None` for 404.
pub(crate) fn route(segments: &[String]) -> Option<Route> {
    if segments.len() == 1 && segments[0] == "metrics" {
        return Some(Route::Metrics {
            needs: Permission::Read,
        });
    }
    if let Some(r) = opendcre_redfish::route(segments) {
        return Some(Route::Redfish(r));
    }
    if segments.len() == 2 && segments[0] == PREFIX[0] && segments[1] == "openapi.json" {
        return Some(Route::OpenApi);
    }
    if segments.len() >= 2 && segments[0] == PREFIX[0] && segments[1] == "dashboard" {
        return crate::dashboard::Asset::from_segments(&segments[2..]).map(Route::Dashboard);
    }
    if segments.len() >= 2 && segments[0] == PREFIX_V2[0] && segments[1] == PREFIX_V2[1] {
        let rest: Vec<&str> = segments[2..].iter().map(String::as_str).collect();
        return match rest.as_slice() {
            ["readings"] => Some(Route::Readings),
            ["readings", b, d, "history"] if !b.is_empty() && !d.is_empty() => {
                Some(Route::History {
                    board: b.to_string(),
                    device: d.to_string(),
                })
            }
            ["scan", "refresh"] => Some(Route::ScanRefresh),
            ["events"] => Some(Route::Events),
            ["whoami"] => Some(Route::WhoAmI),
            _ => None,
        };
    }
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
    fn telemetry_routes_and_permissions() {
        assert_eq!(
            r("/metrics"),
            Some(Route::Metrics {
                needs: Permission::Read
            })
        );
        assert_eq!(r("/metrics/"), None);
        assert_eq!(r("/opendcre/2/readings"), Some(Route::Readings));
        assert!(matches!(
            r("/opendcre/2/readings/00000001/01ff/history"),
            Some(Route::History { board, device }) if board == "00000001" && device == "01ff"
        ));
        assert_eq!(r("/opendcre/2/scan/refresh"), Some(Route::ScanRefresh));
        assert_eq!(r("/opendcre/2/scan"), None);
        assert_eq!(r("/opendcre/openapi.json"), Some(Route::OpenApi));
        assert_eq!(r("/opendcre/2/events"), Some(Route::Events));
        assert!(!Route::Events.allows(&Method::HEAD));
        assert!(!Route::Events.allows(&Method::POST));
        assert_eq!(r("/opendcre/2/whoami"), Some(Route::WhoAmI));
        assert_eq!(needs("/opendcre/2/whoami"), Permission::Read);
        assert_eq!(needs("/opendcre/2/events"), Permission::Read);
        assert!(r("/opendcre/dashboard/").is_some_and(|r| r.is_public()));
        assert!(r("/opendcre/dashboard").is_some_and(|r| r.is_public()));
        assert!(r("/opendcre/dashboard/app.js").is_some_and(|r| r.is_public()));
        assert_eq!(
            r("/opendcre/dashboard/../2/readings"),
            Some(Route::Readings)
        );
        assert_eq!(r("/opendcre/dashboard/x.js"), None);
        assert!(!Route::Readings.is_public());
        assert_eq!(r("/opendcre/1.1/openapi.json"), None);
        assert_eq!(needs("/opendcre/openapi.json"), Permission::Read);
        assert!(Route::OpenApi.allows(&Method::HEAD));
        assert!(!Route::OpenApi.allows(&Method::POST));
        assert_eq!(r("/opendcre/1.1/readings"), None);
        assert_eq!(needs("/opendcre/2/scan/refresh"), Permission::Operate);
        assert_eq!(needs("/opendcre/2/readings"), Permission::Read);
        assert!(!Route::ScanRefresh.allows(&Method::GET));
        assert!(!Route::ScanRefresh.allows(&Method::HEAD));
        assert!(Route::ScanRefresh.allows(&Method::POST));
        assert!(!Route::Readings.allows(&Method::POST));
        assert!(Route::Readings.allows(&Method::HEAD));
        let operator_only = Route::Metrics {
            needs: Permission::Operate,
        };
        assert_eq!(operator_only.permission(), Permission::Operate);
        assert!(!operator_only.allows(&Method::HEAD));
    }

    #[test]
    fn methods() {
        assert!(Route::Test.allows(&Method::POST));
        assert!(!Route::ScanAll.allows(&Method::POST));
        assert!(!Route::ScanAll.allows(&Method::DELETE));
        let off = Route::Power {
            action: "off".into(),
            board: "1".into(),
            device: "2".into(),
        };
        assert!(!off.allows(&Method::HEAD), "HEAD must not switch power");
        assert_eq!(off.allow_header(), "GET, OPTIONS");
        assert!(Route::ScanAll.allows(&Method::HEAD));
    }

    /// Status reads and power actions are counted apart (docs/metrics.md,
    /// the OpenDCREPowerStateChangedUnexpectedly alert), decided on the
    /// normalised path like the permission.
    #[test]
    fn power_status_reads_and_actions_have_their_own_route_names() {
        let name = |p: &str| r(p).map(|route| route.name());
        assert_eq!(
            name("/opendcre/1.1/power/status/00000001/0001"),
            Some("power_status")
        );
        assert_eq!(
            name("/opendcre/1.1/power/STATUS/40000000/0001"),
            Some("power_status")
        );
        for action in [
            "on",
            "off",
            "cycle",
            "CyClE",
            "bogus",
            "%6Fn",
            "status/../on",
        ] {
            assert_eq!(
                name(&format!("/opendcre/1.1/power/{action}/00000001/0001")),
                Some("power"),
                "{action}"
            );
        }
    }

    /// The permission of a request as the server derives it: normalise the
    /// path, route it, ask the route.
    fn needs(p: &str) -> Permission {
        r(p).map_or(Permission::Read, |route| route.permission())
    }

    #[test]
    fn v11_permissions() {
        use Permission::*;
        assert_eq!(needs("/opendcre/1.1/test"), Read);
        assert_eq!(needs("/opendcre/1.1/version/00000001"), Read);
        assert_eq!(needs("/opendcre/1.1/scan"), Read);
        assert_eq!(needs("/opendcre/1.1/scan/00000001"), Read);
        assert_eq!(needs("/opendcre/1.1/read/thermistor/00000001/0001"), Read);
        assert_eq!(needs("/opendcre/1.1/read/power/00000001/0001/info"), Read);
        assert_eq!(needs("/opendcre/1.1/power/status/00000001/0001"), Read);
        assert_eq!(needs("/opendcre/1.1/power/Status/00000001/0001"), Read);
        assert_eq!(needs("/opendcre/1.1/power/on/00000001/0001"), Operate);
        assert_eq!(needs("/opendcre/1.1/power/off/00000001/0001"), Operate);
        assert_eq!(needs("/opendcre/1.1/power/cycle/00000001/0001"), Operate);
        assert_eq!(needs("/opendcre/1.1/power/CyClE/00000001/0001"), Operate);
        assert_eq!(needs("/opendcre/1.1/power/bogus/00000001/0001"), Operate);
        assert_eq!(
            needs("/opendcre/1.1/write/power/00000001/0001/info/rack7"),
            Operate
        );
        assert_eq!(needs("/opendcre/1.1/write/power/00000001/0001"), Operate);
    }

    /// Every path under `/redfish` is the Redfish service's, and a reset
    /// needs `Operate` however the path is spelled.
    #[test]
    fn redfish_paths_and_permissions() {
        use Permission::*;
        assert_eq!(
            r("/redfish/v1"),
            Some(Route::Redfish(Resource::ServiceRoot))
        );
        assert_eq!(
            r("/redfish/v1/"),
            Some(Route::Redfish(Resource::ServiceRoot))
        );
        assert_eq!(
            r("/redfish/v1/nope"),
            Some(Route::Redfish(Resource::Missing))
        );
        assert_eq!(r("/redfishy"), None);
        let reset = "/redfish/v1/Systems/00000001-16ff/Actions/ComputerSystem.Reset";
        assert_eq!(needs(reset), Operate);
        assert_eq!(needs(&reset.replace("Actions", "x/../Actions")), Operate);
        assert_eq!(needs(&reset.replace("Reset", "Re%73et")), Operate);
        assert_eq!(needs("/redfish/v1/Systems/00000001-16ff"), Read);
        // A PATCH of the same URI changes state.
        let system = r("/redfish/v1/Systems/00000001-16ff").unwrap();
        assert_eq!(system.permission_for(&Method::PATCH), Operate);
        assert_eq!(system.permission_for(&Method::HEAD), Read);
        let board = r("/redfish/v1/Chassis/00000001").unwrap();
        assert_eq!(board.permission_for(&Method::PATCH), Operate);
        let route = r(reset).unwrap();
        assert!(route.allows(&Method::POST));
        assert!(!route.allows(&Method::GET));
        assert_eq!(route.allow_header(), "POST");
        assert_eq!(route.name(), "power", "counted with the v1.1 power actions");
        assert_eq!(
            r("/redfish/v1/Systems/00000001-16ff").unwrap().name(),
            "redfish"
        );
    }

    /// Percent-escapes, doubled slashes and dot segments are resolved before
    /// routing, so they cannot make a write look like a read.
    #[test]
    fn encodings_and_dots_cannot_downgrade_a_write() {
        use Permission::*;
        assert_eq!(needs("/opendcre/1.1/power/%6Fn/1/2"), Operate);
        assert_eq!(needs("/opendcre/1.1/%70ower/off/1/2"), Operate);
        assert_eq!(needs("//opendcre//1.1//power//on//1//2"), Operate);
        assert_eq!(needs("/opendcre/1.1/power/status/../on/1/2"), Operate);
        assert_eq!(needs("/opendcre/1.1/power/status/%2e%2e/on/1/2"), Operate);
        assert_eq!(
            needs("/opendcre/1.1/read/x/./../../write/power/1/2"),
            Operate
        );
        assert_eq!(needs("/opendcre/1.1/power/on/1/2?x=1"), Operate);
        // nginx decodes `%2F` before splitting, and so does `path`: the
        // escaped slash is served as `power/on` and classified as such.
        assert_eq!(needs("/opendcre/1.1/power%2Fon/1/2"), Operate);
    }
}
