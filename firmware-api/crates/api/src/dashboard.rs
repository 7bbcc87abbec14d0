//! The dashboard's static files (`assets/dashboard/`): one HTML page, one
//! script, one style sheet, hand-written and compiled into the binary, so
//! the node serves them offline with no file-system access.
//!
//! They are public: a browser's navigation to the page cannot carry the
//! token the page keeps in `sessionStorage`, and the files hold no data.
//! Every data call the page makes (`whoami`, `readings`, `events`, history,
//! the v1.1 power routes) is authenticated and authorized like any other.
//! Why a token in `sessionStorage` sent as `Authorization: Bearer` and not
//! a cookie: a browser attaches a cookie to requests a foreign page makes,
//! a header set by our script it never does, so no foreign page can ride on
//! the login (docs/dashboard.md).
//!
//! The page's Content-Security-Policy allows its own origin only, no inline
//! script or style, no framing: an injected string cannot run, and the page
//! cannot be framed for click-jacking its power buttons.

use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Request, Response, StatusCode};

const INDEX: &str = include_str!("../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../assets/dashboard/app.js");
const STYLE: &str = include_str!("../assets/dashboard/app.css");

/// What the page may load and do: its own origin for everything, plus
/// `data:` images (the empty favicon, so the browser does not ask for
/// `/favicon.ico`; an image cannot run code). The sparklines are SVG built
/// with the DOM.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One of the dashboard's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Index,
    Script,
    Style,
}

impl Asset {
    pub const ALL: [Asset; 3] = [Asset::Index, Asset::Script, Asset::Style];

    /// The path segments after `/opendcre/dashboard`: none or an empty one
    /// (`/opendcre/dashboard`, `/opendcre/dashboard/`) is the page.
    pub(crate) fn from_segments(rest: &[String]) -> Option<Asset> {
        match rest {
            [] => Some(Asset::Index),
            [one] => match one.as_str() {
                "" => Some(Asset::Index),
                "app.js" => Some(Asset::Script),
                "app.css" => Some(Asset::Style),
                _ => None,
            },
            _ => None,
        }
    }

    /// The path it is served at (and documented under in openapi.json).
    pub fn path(self) -> &'static str {
        match self {
            Asset::Index => "/opendcre/dashboard/",
            Asset::Script => "/opendcre/dashboard/app.js",
            Asset::Style => "/opendcre/dashboard/app.css",
        }
    }

    pub fn body(self) -> &'static str {
        match self {
            Asset::Index => INDEX,
            Asset::Script => SCRIPT,
            Asset::Style => STYLE,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Asset::Index => "text/html; charset=utf-8",
            Asset::Script => "text/javascript; charset=utf-8",
            Asset::Style => "text/css; charset=utf-8",
        }
    }

    /// A strong validator: a hash of the file as compiled in, so a new
    /// build invalidates what browsers cached and nothing else does.
    fn etag(self) -> &'static str {
        static TAGS: OnceLock<[String; 3]> = OnceLock::new();
        let tags = TAGS.get_or_init(|| Asset::ALL.map(|a| format!("\"{:016x}\"", fnv1a(a.body()))));
        &tags[self as usize]
    }
}

/// FNV-1a, 64 bit: enough to tell two versions of a file apart (a cache
/// validator, not a security property).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The file with its headers, or a 304 when the client's copy is current.
/// `no-cache`: the browser revalidates on every load (one small 304 per
/// file), so an upgraded node never runs an old script against a new API.
pub(crate) fn response<B>(req: &Request<B>, asset: Asset) -> Response<Full<Bytes>> {
    let etag = asset.etag();
    let fresh = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    let mut r = if fresh {
        let mut r = Response::new(Full::default());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Full::new(Bytes::from_static(asset.body().as_bytes())));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type()));
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(ETAG, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(asset: Asset, inm: Option<&str>) -> Response<Full<Bytes>> {
        let mut b = Request::builder().uri(asset.path());
        if let Some(v) = inm {
            b = b.header(IF_NONE_MATCH, v);
        }
        response(&b.body(()).unwrap(), asset)
    }

    #[test]
    fn files_have_their_type_a_validator_and_the_policy() {
        for a in Asset::ALL {
            let r = get(a, None);
            assert_eq!(r.status(), 200);
            assert!(r.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .contains("charset=utf-8"));
            assert_eq!(r.headers()[CONTENT_SECURITY_POLICY], CSP);
            let etag = r.headers()[ETAG].to_str().unwrap().to_string();
            assert_eq!(get(a, Some(&etag)).status(), 304, "{a:?}");
            assert_eq!(get(a, Some(&format!("W/{etag}, \"x\""))).status(), 304);
            assert_eq!(get(a, Some("\"other\"")).status(), 200);
        }
        assert_ne!(Asset::Script.etag(), Asset::Style.etag());
    }

    /// Offline and CSP-clean by construction: nothing from elsewhere, no
    /// inline script, style or handler the policy would block.
    #[test]
    fn the_files_load_nothing_from_elsewhere_and_nothing_inline() {
        for a in Asset::ALL {
            // The SVG namespace is a name, not a place anything loads from.
            let text = a.body().replace("'http://www.w3.org/2000/svg'", "");
            for bad in ["http://", "https://", "//cdn", "@import", "url("] {
                assert!(!text.contains(bad), "{a:?} contains {bad:?}");
            }
        }
        let html = Asset::Index.body();
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "inline code"
        );
        let handler = html.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler");
        // The first load: the three files, uncompressed.
        let total: usize = Asset::ALL.iter().map(|a| a.body().len()).sum();
        assert!(total < 50 * 1024, "first load is {total} bytes");
    }

    #[test]
    fn only_the_three_files_route() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(Asset::from_segments(&s(&[])), Some(Asset::Index));
        assert_eq!(Asset::from_segments(&s(&[""])), Some(Asset::Index));
        assert_eq!(Asset::from_segments(&s(&["app.css"])), Some(Asset::Style));
        assert_eq!(Asset::from_segments(&s(&["index.html"])), None);
        assert_eq!(Asset::from_segments(&s(&["app.js", ""])), None);
    }
}
