//! What a web browser may do with the API: CORS and cross-site request
//! forgery.
//!
//! The v1.1 API changes device state with plain GETs (`/power/off/…`), and
//! browsers attach ambient credentials on their own: a client certificate,
//! cached Basic credentials, or none at all where anonymous loopback access
//! is on. A page from anywhere could then power a server off with an
//! `<img src>`. The policy an operator can sign off:
//! - no CORS unless configured: no `Access-Control-Allow-Origin` at all,
//!   and for configured origins that origin only. `"*"` (what the original
//!   OpenDCRE's nginx sent on every answer) can be configured for pages
//!   that only read; it never lets a foreign page change state;
//! - a route that changes state refuses a request that a browser marks as
//!   coming from another site (`Sec-Fetch-Site` other than `same-origin` or
//!   `none`, i.e. typed by the user) or whose `Origin` is neither this
//!   node nor a configured origin. Scripts and `curl` send neither header
//!   and are unaffected.
//! - a preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) is answered without credentials only
//!   for a configured origin; any other `OPTIONS` is authenticated like a
//!   `GET`, so it tells an unauthenticated caller nothing about routes.

use hyper::header::{HeaderMap, HeaderValue, HOST, ORIGIN, VARY};
use hyper::{Method, Request};

/// The configured origins (`[server] cors_allowed_origins`), e.g.
/// `https://dashboard.example:8443`, compared case-insensitively; `"*"`
/// opens reads to every origin.
#[derive(Debug, Clone, Default)]
pub struct BrowserPolicy {
    allowed_origins: Vec<String>,
    any_origin_reads: bool,
}

/// Why a state-changing request from a browser was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CrossSite(pub String);

impl BrowserPolicy {
    pub fn new(allowed_origins: &[String]) -> BrowserPolicy {
        BrowserPolicy {
            allowed_origins: allowed_origins
                .iter()
                .filter(|o| o.as_str() != "*")
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            any_origin_reads: allowed_origins.iter().any(|o| o == "*"),
        }
    }

    fn allowed(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.allowed_origins.contains(&origin)
    }

    /// The request's `Origin` when it is a configured one.
    fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        headers
            .get(ORIGIN)
            .filter(|v| v.to_str().is_ok_and(|o| self.allowed(o)))
    }

    /// A CORS preflight from a configured origin: answered without
    /// credentials (browsers never send them on a preflight).
    pub(crate) fn is_allowed_preflight<B>(&self, req: &Request<B>) -> bool {
        req.method() == Method::OPTIONS
            && req.headers().contains_key("access-control-request-method")
            && (self.allowed_origin(req.headers()).is_some()
                || (self.any_origin_reads && req.headers().contains_key(ORIGIN)))
    }

    /// Refuses a state-changing request that a browser sent on behalf of
    /// another site. `tls` says which scheme this node's own origin has.
    pub(crate) fn check_write<B>(&self, req: &Request<B>, tls: bool) -> Result<(), CrossSite> {
        let h = req.headers();
        if let Some(origin) = h.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("(not text)");
            if is_own_origin(origin, h, tls) || self.allowed(origin) {
                return Ok(());
            }
            return Err(CrossSite(format!(
                "a request from the web page at origin {origin:?} may not change device state"
            )));
        }
        match h.get("sec-fetch-site").map(HeaderValue::as_bytes) {
            None | Some(b"same-origin") | Some(b"none") => Ok(()),
            Some(other) => Err(CrossSite(format!(
                "a {} request from another web page may not change device state",
                String::from_utf8_lossy(other)
            ))),
        }
    }

    /// The CORS headers of the answer: for a configured origin only.
    pub(crate) fn cors_headers<B>(&self, req: &Request<B>, allow: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let origin = if let Some(origin) = self.allowed_origin(req.headers()) {
            // The answer depends on Origin: caches must not mix them up.
            h.append(VARY, HeaderValue::from_static("Origin"));
            origin.clone()
        } else if self.any_origin_reads {
            HeaderValue::from_static("*")
        } else {
            if !self.allowed_origins.is_empty() {
                h.append(VARY, HeaderValue::from_static("Origin"));
            }
            return h;
        };
        h.insert("access-control-allow-origin", origin);
        if req.method() == Method::OPTIONS {
            if let Ok(v) = HeaderValue::from_str(allow) {
                h.insert("access-control-allow-methods", v);
            }
            h.insert(
                "access-control-allow-headers",
                HeaderValue::from_static("Authorization"),
            );
            h.insert("access-control-max-age", HeaderValue::from_static("600"));
        }
        h
    }
}

/// Whether `origin` is this node as the client addressed it (`Host`).
fn is_own_origin(origin: &str, h: &HeaderMap, tls: bool) -> bool {
    let Some(host) = h.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = if tls { "https://" } else { "http://" };
    let Some(rest) = origin
        .get(..scheme.len())
        .filter(|s| s.eq_ignore_ascii_case(scheme))
        .map(|_| &origin[scheme.len()..])
    else {
        return false;
    };
    let default_port = if tls { ":443" } else { ":80" };
    let strip = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.strip_suffix(default_port)
            .map(str::to_string)
            .unwrap_or(s)
    };
    strip(rest) == strip(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder()
            .method(method)
            .uri("/opendcre/1.1/power/off/1/2");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn scripts_without_browser_headers_pass() {
        let p = BrowserPolicy::default();
        assert!(p
            .check_write(&req(Method::GET, &[("host", "n:5000")]), false)
            .is_ok());
    }

    #[test]
    fn foreign_pages_may_not_write() {
        let p = BrowserPolicy::default();
        for h in [
            vec![("host", "n:5000"), ("sec-fetch-site", "cross-site")],
            vec![("host", "n:5000"), ("sec-fetch-site", "same-site")],
            vec![("host", "n:5000"), ("origin", "http://evil.example")],
            vec![("host", "n:5000"), ("origin", "null")],
            // Same host, other port: another origin.
            vec![("host", "n:5000"), ("origin", "http://n:8080")],
            // The right host:port with the wrong scheme.
            vec![("host", "n:5000"), ("origin", "https://n:5000")],
        ] {
            assert!(
                p.check_write(&req(Method::GET, &h), false).is_err(),
                "{h:?}"
            );
        }
    }

    #[test]
    fn the_node_itself_and_typed_urls_may_write() {
        let p = BrowserPolicy::default();
        for h in [
            vec![("host", "n:5000"), ("sec-fetch-site", "same-origin")],
            vec![("host", "n:5000"), ("sec-fetch-site", "none")],
            vec![("host", "n:5000"), ("origin", "http://N:5000")],
        ] {
            assert!(p.check_write(&req(Method::GET, &h), false).is_ok(), "{h:?}");
        }
        let h = [("host", "n"), ("origin", "https://n:443")];
        assert!(p.check_write(&req(Method::GET, &h), true).is_ok());
    }

    #[test]
    fn configured_origins_get_cors_and_may_write() {
        let p = BrowserPolicy::new(&["https://dash.example/".to_string()]);
        let r = req(
            Method::OPTIONS,
            &[
                ("host", "n:5000"),
                ("origin", "https://dash.example"),
                ("access-control-request-method", "GET"),
            ],
        );
        assert!(p.is_allowed_preflight(&r));
        assert!(p.check_write(&r, false).is_ok());
        let h = p.cors_headers(&r, "GET, OPTIONS");
        assert_eq!(h["access-control-allow-origin"], "https://dash.example");
        assert_eq!(h["access-control-allow-methods"], "GET, OPTIONS");
        let other = req(
            Method::OPTIONS,
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "GET"),
            ],
        );
        assert!(!p.is_allowed_preflight(&other));
        let h = p.cors_headers(&other, "GET");
        assert!(!h.contains_key("access-control-allow-origin"));
    }

    #[test]
    fn a_star_opens_reads_but_not_writes() {
        let p = BrowserPolicy::new(&["*".to_string()]);
        let r = req(
            Method::GET,
            &[("host", "n:5000"), ("origin", "https://evil.example")],
        );
        assert_eq!(
            p.cors_headers(&r, "GET")["access-control-allow-origin"],
            "*"
        );
        assert!(p.check_write(&r, false).is_err());
    }

    #[test]
    fn no_cors_header_unless_configured() {
        let p = BrowserPolicy::default();
        let r = req(Method::GET, &[("origin", "https://dash.example")]);
        assert!(p.cors_headers(&r, "GET").is_empty());
    }
}
