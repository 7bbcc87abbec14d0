//! Roles, permissions and which v1.1 routes need which permission.

use std::fmt;

use http::Method;
use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// What a request needs to be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Reading state: test, version, scan, read, asset read, power status.
    Read,
    /// Changing state: power on/off/cycle, asset write, any later write.
    Operate,
}

/// A role granted to an authenticated principal. Ordered: a higher role
/// includes every permission of the lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Operator,
}

impl Role {
    pub fn grants(self, needed: Permission) -> bool {
        match needed {
            Permission::Read => true,
            Permission::Operate => self == Role::Operator,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "reader" => Ok(Role::Reader),
            "operator" => Ok(Role::Operator),
            other => Err(format!("unknown role {other:?} (reader, operator)")),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Read => "read",
            Permission::Operate => "operate",
        })
    }
}

/// Route words after which further segments name a state change in the
/// v1.3/v1.4 style (`/led/<r>/<b>/<d>/<state>`); in v1.1 they do not exist
/// and fall through to 404, so classifying them strictly costs nothing.
const SETTERS: &[&str] = &["led", "fan", "boot_target"];
const POWER_ACTIONS: &[&str] = &["on", "off", "cycle"];

impl Permission {
    /// Classifies a request the way the router will see it. The path is
    /// percent-decoded and compared case-insensitively (the router matches
    /// `power/ON` as "on"), empty segments are ignored (`//` is merged), and
    /// anything that is not a known read is treated as a write, so a
    /// mismatch between this function and the router errs on the safe side.
    pub fn for_request(method: &Method, path: &str) -> Permission {
        let path = path.split(['?', '#']).next().unwrap_or("");
        // Split before and after decoding: `%2F` must not hide a segment.
        let raw: Vec<String> = resolve_dots(
            path.split('/')
                .map(|s| percent_decode_str(s).decode_utf8_lossy().to_lowercase()),
        );
        let decoded_path = percent_decode_str(path).decode_utf8_lossy().to_lowercase();
        let decoded: Vec<String> = resolve_dots(decoded_path.split('/').map(str::to_owned));
        let read_only_method =
            *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS;
        if !read_only_method {
            let is_test = *method == Method::POST
                && raw.last().map(String::as_str) == Some("test")
                && decoded.last().map(String::as_str) == Some("test");
            return if is_test {
                Permission::Read
            } else {
                Permission::Operate
            };
        }
        if segments_need_operate(&raw) || segments_need_operate(&decoded) {
            Permission::Operate
        } else {
            Permission::Read
        }
    }
}

/// Drops empty and `.` segments and lets `..` remove the one before, as
/// the router's nginx-style normalisation does, so `power/status/../on`
/// is classified as the `power/on` it will be served as.
fn resolve_dots(segs: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in segs {
        match s.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(s),
        }
    }
    out
}

fn segments_need_operate(segs: &[String]) -> bool {
    for (i, seg) in segs.iter().enumerate() {
        let rest = &segs[i + 1..];
        match seg.as_str() {
            // write/<type>/<b>/<d>[/info/<asset>]: every form is a write,
            // including the always-501 one.
            "write" | "plc_config" => return true,
            "power" => {
                // v1.1: power/<action>/<b>/<d>; v1.3: power/.../<action> last.
                let first = rest.first().map(String::as_str);
                let last = rest.last().map(String::as_str);
                if first.is_some_and(|a| POWER_ACTIONS.contains(&a))
                    || last.is_some_and(|a| POWER_ACTIONS.contains(&a))
                {
                    return true;
                }
            }
            s if SETTERS.contains(&s) && rest.len() > 3 => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Permission {
        Permission::for_request(&Method::GET, path)
    }

    #[test]
    fn v1_1_routes() {
        use Permission::*;
        assert_eq!(get("/opendcre/1.1/test"), Read);
        assert_eq!(get("/opendcre/1.1/version/00000001"), Read);
        assert_eq!(get("/opendcre/1.1/scan"), Read);
        assert_eq!(get("/opendcre/1.1/scan/00000001"), Read);
        assert_eq!(get("/opendcre/1.1/read/thermistor/00000001/0001"), Read);
        assert_eq!(get("/opendcre/1.1/read/power/00000001/0001/info"), Read);
        assert_eq!(get("/opendcre/1.1/power/status/00000001/0001"), Read);
        assert_eq!(get("/opendcre/1.1/power/on/00000001/0001"), Operate);
        assert_eq!(get("/opendcre/1.1/power/off/00000001/0001"), Operate);
        assert_eq!(get("/opendcre/1.1/power/cycle/00000001/0001"), Operate);
        assert_eq!(get("/opendcre/1.1/power/CyClE/00000001/0001"), Operate);
        assert_eq!(
            get("/opendcre/1.1/write/power/00000001/0001/info/rack7"),
            Operate
        );
        assert_eq!(get("/opendcre/1.1/write/power/00000001/0001"), Operate);
    }

    #[test]
    fn encodings_and_slashes_cannot_downgrade_a_write() {
        use Permission::*;
        assert_eq!(get("/opendcre/1.1/power/%6Fn/1/2"), Operate);
        assert_eq!(get("/opendcre/1.1/%70ower/off/1/2"), Operate);
        assert_eq!(get("//opendcre//1.1//power//on//1//2"), Operate);
        assert_eq!(get("/opendcre/1.1/power%2Fon/1/2"), Operate);
        assert_eq!(get("/opendcre/1.1/WRITE/power/1/2/info/x"), Operate);
        assert_eq!(get("/opendcre/1.1/power/on/1/2?x=1"), Operate);
        assert_eq!(get("/opendcre/1.1/read/power/1/2?power=on"), Read);
        assert_eq!(get("/opendcre/1.1/power/status/../on/1/2"), Operate);
        assert_eq!(get("/opendcre/1.1/power/status/%2e%2e/on/1/2"), Operate);
        assert_eq!(get("/opendcre/1.1/read/x/./../../write/power/1/2"), Operate);
    }

    #[test]
    fn methods() {
        use Permission::*;
        assert_eq!(
            Permission::for_request(&Method::POST, "/opendcre/1.1/test"),
            Read
        );
        assert_eq!(
            Permission::for_request(&Method::POST, "/opendcre/1.1/scan"),
            Operate
        );
        assert_eq!(
            Permission::for_request(&Method::DELETE, "/opendcre/1.1/test"),
            Operate
        );
        assert_eq!(
            Permission::for_request(&Method::HEAD, "/opendcre/1.1/scan"),
            Read
        );
    }

    #[test]
    fn later_api_versions() {
        use Permission::*;
        assert_eq!(
            get("/opendcre/1.3/power/power/rack_1/00000001/0001/on"),
            Operate
        );
        assert_eq!(get("/opendcre/1.3/power/rack_1/00000001/0001"), Read);
        assert_eq!(get("/opendcre/1.3/led/rack_1/00000001/0001/on"), Operate);
        assert_eq!(get("/opendcre/1.3/led/rack_1/00000001/0001"), Read);
        assert_eq!(get("/opendcre/1.3/fan/rack_1/00000001/0001/3000"), Operate);
        assert_eq!(
            get("/opendcre/1.3/boot_target/rack_1/00000001/0001/pxe"),
            Operate
        );
    }

    #[test]
    fn operator_implies_reader() {
        assert!(Role::Operator.grants(Permission::Read));
        assert!(Role::Operator.grants(Permission::Operate));
        assert!(Role::Reader.grants(Permission::Read));
        assert!(!Role::Reader.grants(Permission::Operate));
        assert!(Role::Operator > Role::Reader);
    }
}
