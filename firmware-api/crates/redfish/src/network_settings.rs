//! The node's own network settings through Redfish: `PATCH` of the
//! manager's `EthernetInterface` (`HostName`, `FQDN`, a static IPv4
//! address or DHCP, static name servers), as OpenRMC asks of a rack
//! manager.
//!
//! The service runs unprivileged and owns none of the OS's network
//! configuration. On OpenMistOS the node's settings file
//! (`/boot/firmware/openmist.txt`, applied at every boot) owns the host
//! name and the wired network; a `PATCH` writes the keys it changes, in
//! that file's `key=value` form, to a request file (`[manager]
//! network_request`), and the image's root unit `openmist-network.path`
//! checks them again, writes them into the settings file (so they hold
//! across reboots and A/B updates) and applies them at once. The service
//! answers 204 as soon as the request is written: a new address would cut
//! the connection an answer waits on.
//!
//! What the settings file says now is shown from the summary the image
//! writes when it applies it (`[manager] network_state`, no secrets in
//! it): `DHCPv4.DHCPEnabled`, `IPv4StaticAddresses`, `StaticNameServers`.
//! Without that file those stay out, as the addresses in use (read from
//! the kernel) cannot say how they were configured.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use http::StatusCode;
use opendcre_eventlog::{Event, EventLog};
use serde_json::{json, Map, Value};

use crate::answer::{shown, BaseMessage, RedfishError};
use crate::patch::Writable;

/// `[manager] network_request`, `network_state` and `network_interfaces`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Where a `PATCH` writes its request; `None`: the settings are
    /// read-only through Redfish.
    pub request: Option<PathBuf>,
    /// The image's summary of the applied settings; `None`: not shown.
    pub state: Option<PathBuf>,
    /// The interfaces the settings file's wired network configures
    /// (`Name=` of its networkd file): only these take an address.
    pub interfaces: Vec<String>,
}

impl NetworkSettings {
    /// Whether a `PATCH` of interface `name` is taken.
    pub(crate) fn writable(&self, name: &str) -> bool {
        self.request.is_some() && self.interfaces.iter().any(|i| i == name)
    }
}

/// The properties a `PATCH` takes, as `@Redfish.WriteableProperties` names
/// them; each is checked here ([`parse`]). `NameServers` is not among
/// them: the schema makes it the servers in use, read-only;
/// `StaticNameServers` is the setting.
pub(crate) const WRITABLE: &[(&str, Writable)] = &[
    ("HostName", Writable::Json),
    ("FQDN", Writable::Json),
    ("IPv4Addresses", Writable::Json),
    ("IPv4StaticAddresses", Writable::Json),
    ("DHCPv4", Writable::Json),
    ("StaticNameServers", Writable::Json),
];

/// At most this many name servers (resolv.conf's `MAXNS` is 3; resolved
/// takes more, but a longer list is a mistake, not a setting).
const MAX_NAME_SERVERS: usize = 8;

/// How the wired interfaces get their IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ipv4Setting {
    Dhcp,
    Static {
        address: Ipv4Addr,
        prefix: u8,
        gateway: Option<Ipv4Addr>,
    },
}

/// What one `PATCH` changes; `None`: left as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Change {
    pub hostname: Option<String>,
    pub ipv4: Option<Ipv4Setting>,
    /// Empty: the name servers DHCP gives again.
    pub name_servers: Option<Vec<IpAddr>>,
}

/// The applied settings as the image summarises them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub ipv4: Option<Ipv4Setting>,
    pub name_servers: Vec<IpAddr>,
}

fn bad(message: BaseMessage, args: &[&str]) -> RedfishError {
    RedfishError::new(StatusCode::BAD_REQUEST, message, args)
}

fn format_error(value: &Value, prop: &str, why: &str) -> RedfishError {
    bad(
        BaseMessage::PropertyValueFormatError,
        &[&shown(value), prop],
    )
    .with_detail(why)
}

/// One DNS label: letters, digits and `-`, not at either end, 1 to 63.
fn valid_label(l: &str) -> bool {
    let b = l.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn valid_name(n: &str) -> bool {
    n.len() <= 253 && n.split('.').all(valid_label)
}

/// The host name `HostName` shows: the kernel's name without its domain.
pub(crate) fn short_name(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

/// Parses a `PATCH` body: the shared checks of [`crate::patch::parse`]
/// (JSON object, unknown and read-only properties against `current`, the
/// interface as a GET shows it, annotations, an empty body), then each
/// setting's own. `host`: the node's host name now (a new `HostName`
/// keeps its domain).
pub(crate) fn parse(body: &[u8], current: &Value, host: &str) -> Result<Change, RedfishError> {
    let m = crate::patch::parse(body, current, WRITABLE)?;
    let mut change = Change::default();
    let (mut short, mut fqdn) = (None, None);
    let mut ipv4: Option<(&str, Ipv4Setting)> = None;
    let mut dhcp_off = false;
    for (k, v) in &m {
        let setting = match *k {
            "HostName" => {
                short = Some(text(
                    v,
                    k,
                    valid_label,
                    "one DNS label: letters, digits and '-', 1 to 63 characters, no domain",
                )?);
                continue;
            }
            "FQDN" => {
                fqdn = Some(text(v, k, valid_name, "DNS labels of letters, digits and '-' separated by dots, at most 253 characters")?);
                continue;
            }
            "IPv4Addresses" | "IPv4StaticAddresses" => static_ipv4(v, k)?,
            "DHCPv4" => match dhcpv4(v)? {
                Some(true) => Some(Ipv4Setting::Dhcp),
                Some(false) => {
                    dhcp_off = true;
                    None
                }
                None => None,
            },
            "StaticNameServers" => {
                change.name_servers = Some(name_servers(v, k)?);
                continue;
            }
            // `patch::parse` passes only the names of `WRITABLE`.
            _ => continue,
        };
        let Some(setting) = setting else { continue };
        if let Some((other, before)) = &ipv4 {
            if *before != setting {
                return Err(bad(BaseMessage::PropertyValueConflict, &[k, other]));
            }
        }
        ipv4 = Some((k, setting));
    }
    if dhcp_off && !matches!(ipv4, Some((_, Ipv4Setting::Static { .. }))) {
        return Err(bad(BaseMessage::PropertyMissing, &["IPv4StaticAddresses"]).with_detail(
            "Turning DHCP off takes the static address in the same request (IPv4StaticAddresses).",
        ));
    }
    change.ipv4 = ipv4.map(|(_, s)| s);
    change.hostname = match (short, fqdn) {
        (Some(s), Some(f)) if short_name(&f) != s => {
            return Err(bad(
                BaseMessage::PropertyValueConflict,
                &["HostName", "FQDN"],
            ))
        }
        (_, Some(f)) => Some(f),
        // A new name in the domain the node has now.
        (Some(s), None) => Some(match host.split_once('.') {
            Some((_, domain)) => format!("{s}.{domain}"),
            None => s,
        }),
        (None, None) => None,
    };
    // Only "leave it" (an address array of `{}`).
    if change == Change::default() {
        return Err(bad(BaseMessage::NoOperation, &[]));
    }
    Ok(change)
}

fn text(v: &Value, prop: &str, valid: fn(&str) -> bool, why: &str) -> Result<String, RedfishError> {
    match v {
        Value::String(s) if valid(s) => Ok(s.clone()),
        Value::String(_) => Err(format_error(v, prop, &format!("{prop} is {why}."))),
        _ => Err(bad(BaseMessage::PropertyValueTypeError, &[&shown(v), prop])),
    }
}

/// `IPv4Addresses` / `IPv4StaticAddresses`: one static address for the
/// wired interfaces (the settings file holds one). `None`: an array of
/// `{}` only, which DSP0266 reads as "leave it".
fn static_ipv4(v: &Value, prop: &str) -> Result<Option<Ipv4Setting>, RedfishError> {
    let Value::Array(items) = v else {
        return Err(bad(BaseMessage::PropertyValueTypeError, &[&shown(v), prop]));
    };
    let set: Vec<&Map<String, Value>> = items
        .iter()
        .map(|i| match i {
            Value::Object(o) => Ok(o),
            _ => Err(bad(BaseMessage::PropertyValueTypeError, &[&shown(i), prop])),
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|o| !o.is_empty())
        .collect();
    let one = match set.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        _ => {
            return Err(format_error(
                v,
                prop,
                "The node's wired network takes one static IPv4 address.",
            ))
        }
    };
    let mut address = None;
    let mut prefix = None;
    let mut gateway = None;
    for (k, x) in one {
        let at = format!("{prop}/{k}");
        match k.as_str() {
            "Address" => address = Some(ipv4(x, &at)?),
            "SubnetMask" => {
                let mask = ipv4(x, &at)?;
                let bits = u32::from(mask);
                if bits.leading_ones() + bits.trailing_zeros() != 32 || bits == 0 {
                    return Err(format_error(
                        x,
                        &at,
                        "A subnet mask is contiguous ones, such as 255.255.255.0.",
                    ));
                }
                prefix = Some(bits.leading_ones() as u8);
            }
            "Gateway" if x.is_null() => gateway = None,
            "Gateway" => gateway = Some(ipv4(x, &at)?),
            // What a client read back: a static address is `Static`.
            "AddressOrigin" if x.is_null() || x == "Static" => {}
            "AddressOrigin" => {
                return Err(bad(BaseMessage::PropertyValueNotInList, &[&shown(x), &at])
                    .with_detail(
                    "A written address is Static; for DHCP send DHCPv4 {\"DHCPEnabled\": true}.",
                ))
            }
            _ => return Err(bad(BaseMessage::PropertyUnknown, &[&at])),
        }
    }
    let (Some(address), Some(prefix)) = (address, prefix) else {
        let missing = if address.is_none() {
            "Address"
        } else {
            "SubnetMask"
        };
        return Err(bad(
            BaseMessage::PropertyMissing,
            &[&format!("{prop}/{missing}")],
        ));
    };
    if address.is_unspecified()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_loopback()
    {
        return Err(format_error(
            &json!(address.to_string()),
            &format!("{prop}/Address"),
            "Not an address a host can have.",
        ));
    }
    Ok(Some(Ipv4Setting::Static {
        address,
        prefix,
        gateway,
    }))
}

fn ipv4(v: &Value, prop: &str) -> Result<Ipv4Addr, RedfishError> {
    match v {
        Value::String(s) => s
            .parse()
            .map_err(|_| format_error(v, prop, "An IPv4 address in dotted decimal form.")),
        _ => Err(bad(BaseMessage::PropertyValueTypeError, &[&shown(v), prop])),
    }
}

/// `DHCPv4`: `{"DHCPEnabled": true}` goes back to DHCP; `false` comes with
/// a static address. `None`: `DHCPEnabled` not given.
fn dhcpv4(v: &Value) -> Result<Option<bool>, RedfishError> {
    let Value::Object(o) = v else {
        return Err(bad(
            BaseMessage::PropertyValueTypeError,
            &[&shown(v), "DHCPv4"],
        ));
    };
    let mut setting = None;
    for (k, x) in o {
        let at = format!("DHCPv4/{k}");
        match (k.as_str(), x) {
            ("DHCPEnabled", Value::Bool(on)) => setting = Some(*on),
            ("DHCPEnabled", _) => {
                return Err(bad(BaseMessage::PropertyValueTypeError, &[&shown(x), &at]))
            }
            _ => {
                return Err(bad(BaseMessage::PropertyNotWritable, &[&at]).with_detail(
                    "The node's DHCP client takes its options from the image; only DHCPEnabled is set here.",
                ))
            }
        }
    }
    Ok(setting)
}

fn name_servers(v: &Value, prop: &str) -> Result<Vec<IpAddr>, RedfishError> {
    let Value::Array(items) = v else {
        return Err(bad(BaseMessage::PropertyValueTypeError, &[&shown(v), prop]));
    };
    if items.len() > MAX_NAME_SERVERS {
        return Err(format_error(
            v,
            prop,
            &format!("At most {MAX_NAME_SERVERS} name servers."),
        ));
    }
    items
        .iter()
        .filter(|i| !i.is_null())
        .map(|i| match i {
            Value::String(s) => s
                .parse::<IpAddr>()
                .ok()
                .filter(|a| !a.is_unspecified() && !a.is_multicast())
                .ok_or_else(|| {
                    format_error(i, prop, "Each name server is an IPv4 or IPv6 address.")
                }),
            _ => Err(bad(BaseMessage::PropertyValueTypeError, &[&shown(i), prop])),
        })
        .collect()
}

/// The request in the settings file's `key=value` form: only the keys
/// that change, after a comment that says who asked.
pub(crate) fn request_text(change: &Change, user: &str) -> String {
    let who: String = user.chars().filter(|c| !c.is_control()).collect();
    let mut t = format!("# asked by {who} through Redfish\n");
    if let Some(h) = &change.hostname {
        t.push_str(&format!("hostname={h}\n"));
    }
    match &change.ipv4 {
        Some(Ipv4Setting::Dhcp) => t.push_str("network=dhcp\n"),
        Some(Ipv4Setting::Static {
            address,
            prefix,
            gateway,
        }) => {
            t.push_str(&format!("network=static\naddress={address}/{prefix}\n"));
            let g = gateway.map(|g| g.to_string()).unwrap_or_default();
            t.push_str(&format!("gateway={g}\n"));
        }
        None => {}
    }
    if let Some(ns) = &change.name_servers {
        let list: Vec<String> = ns.iter().map(IpAddr::to_string).collect();
        t.push_str(&format!("dns={}\n", list.join(" ")));
    }
    t
}

/// What the event log says was asked for (no comment line).
fn summary(change: &Change) -> String {
    request_text(change, "")
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the request for `change` by `user` to `path`: the event log
/// entry is on disk first. A request the image has not taken yet is a 503
/// (its unit takes one within a second): writing over it would lose it.
pub(crate) fn request(
    path: &Path,
    change: &Change,
    user: &str,
    log: &EventLog,
) -> Result<(), RedfishError> {
    if path.exists() {
        return Err(RedfishError::from_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "A network change asked for earlier is still being applied.",
            Some(2),
        ));
    }
    let asked = summary(change);
    let text = request_text(change, user);
    let event = Event::network_settings(user, &asked);
    crate::state_file::request_for_image(path, &text, event, log, "network request")?;
    tracing::warn!(user, request = %path.display(), change = %asked, "network settings change requested");
    Ok(())
}

/// Reads the image's summary of the applied settings: `key=value` lines
/// (`network`, `address`, `gateway`, `dns`). `None` when there is none;
/// a value it cannot read is left out.
pub(crate) fn read_applied(path: &Path) -> Option<Applied> {
    let text = crate::netif::read_small(path)?;
    Some(parse_applied(&text))
}

pub(crate) fn parse_applied(text: &str) -> Applied {
    let mut kv = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.trim().split_once('=') {
            kv.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    let get = |k: &str| kv.get(k).map(String::as_str).unwrap_or("");
    let ipv4 = match get("network") {
        "dhcp" => Some(Ipv4Setting::Dhcp),
        "static" => get("address").split_once('/').and_then(|(a, p)| {
            Some(Ipv4Setting::Static {
                address: a.parse().ok()?,
                prefix: p.parse().ok().filter(|p| *p <= 32)?,
                gateway: get("gateway").parse().ok(),
            })
        }),
        _ => None,
    };
    let name_servers = get("dns")
        .split([' ', ','])
        .filter_map(|s| s.parse().ok())
        .collect();
    Applied { ipv4, name_servers }
}

fn mask_of(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0))
}

/// Adds the settings to an interface's JSON: what is applied (when the
/// image says) and, when `writable`, which properties a `PATCH` takes.
pub(crate) fn show(v: &mut Value, applied: Option<&Applied>, writable: bool) {
    if let Some(a) = applied {
        let dhcp = a.ipv4 == Some(Ipv4Setting::Dhcp);
        if a.ipv4.is_some() {
            v["DHCPv4"] = json!({ "DHCPEnabled": dhcp });
        }
        v["IPv4StaticAddresses"] = match &a.ipv4 {
            Some(Ipv4Setting::Static {
                address,
                prefix,
                gateway,
            }) => json!([{
                "Address": address.to_string(),
                "SubnetMask": mask_of(*prefix).to_string(),
                "Gateway": gateway.map(|g| g.to_string()),
            }]),
            _ => json!([]),
        };
        v["StaticNameServers"] = json!(a
            .name_servers
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>());
        // How the addresses in use came: the static one from the
        // setting; under DHCP, every one the kernel does not call
        // link-local.
        if let Some(Value::Array(inuse)) = v.get_mut("IPv4Addresses") {
            for i in inuse.iter_mut().filter(|i| i["AddressOrigin"].is_null()) {
                match &a.ipv4 {
                    Some(Ipv4Setting::Dhcp) => i["AddressOrigin"] = json!("DHCP"),
                    Some(Ipv4Setting::Static { address, .. })
                        if i["Address"] == address.to_string() =>
                    {
                        i["AddressOrigin"] = json!("Static")
                    }
                    _ => {}
                }
            }
        }
    }
    if writable {
        v["@Redfish.WriteableProperties"] = json!(WRITABLE
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| v.get(*p).is_some())
            .collect::<Vec<_>>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: RedfishError) -> String {
        let c = e.body()["error"]["code"].as_str().unwrap().to_string();
        c.rsplit('.').next().unwrap().to_string()
    }

    fn current() -> Value {
        json!({"Id": "eth0", "MACAddress": "B8:27:EB:01:02:0A", "HostName": "node"})
    }

    #[test]
    fn host_names() {
        let c = parse(
            br#"{"HostName": "rack7-rm"}"#,
            &current(),
            "node.dc.example",
        )
        .unwrap();
        assert_eq!(c.hostname.as_deref(), Some("rack7-rm.dc.example"));
        let c = parse(br#"{"HostName": "rack7-rm"}"#, &current(), "node").unwrap();
        assert_eq!(c.hostname.as_deref(), Some("rack7-rm"));
        let c = parse(
            br#"{"HostName": "a", "FQDN": "a.b.example", "@odata.etag": "\"x\""}"#,
            &current(),
            "node",
        )
        .unwrap();
        assert_eq!(c.hostname.as_deref(), Some("a.b.example"));
        for (body, want) in [
            (&br#"{"HostName": "a.b"}"#[..], "PropertyValueFormatError"),
            (br#"{"HostName": "-a"}"#, "PropertyValueFormatError"),
            (br#"{"HostName": ""}"#, "PropertyValueFormatError"),
            (br#"{"FQDN": "a..b"}"#, "PropertyValueFormatError"),
            (br#"{"FQDN": "a b"}"#, "PropertyValueFormatError"),
            (br#"{"HostName": 7}"#, "PropertyValueTypeError"),
            (
                br#"{"HostName": "x", "FQDN": "y.example"}"#,
                "PropertyValueConflict",
            ),
            (
                br#"{"MACAddress": "00:00:00:00:00:01"}"#,
                "PropertyNotWritable",
            ),
            (br#"{"Hostname": "x"}"#, "PropertyUnknown"),
            (br#"{}"#, "PropertyMissing"),
            (br#"{"@odata.etag": "\"x\""}"#, "NoOperation"),
            (b"[]", "MalformedJSON"),
        ] {
            let e = parse(body, &current(), "node").unwrap_err();
            assert_eq!(code(e), want, "{}", String::from_utf8_lossy(body));
        }
        let long = format!(r#"{{"FQDN": "{}.example"}}"#, ["a"; 130].join("."));
        assert_eq!(
            code(parse(long.as_bytes(), &current(), "node").unwrap_err()),
            "PropertyValueFormatError"
        );
    }

    #[test]
    fn addresses() {
        let c = parse(
            br#"{"IPv4Addresses": [{"Address": "192.0.2.20", "SubnetMask": "255.255.255.0", "Gateway": "192.0.2.1", "AddressOrigin": "Static"}]}"#,
            &current(),
            "node",
        )
        .unwrap();
        let want = Ipv4Setting::Static {
            address: "192.0.2.20".parse().unwrap(),
            prefix: 24,
            gateway: Some("192.0.2.1".parse().unwrap()),
        };
        assert_eq!(c.ipv4, Some(want.clone()));
        assert_eq!(
            request_text(&c, "ops"),
            "# asked by ops through Redfish\nnetwork=static\naddress=192.0.2.20/24\ngateway=192.0.2.1\n"
        );
        // The same through IPv4StaticAddresses, `{}` left alone.
        let c = parse(
            br#"{"IPv4StaticAddresses": [{"Address": "192.0.2.20", "SubnetMask": "255.255.255.0", "Gateway": "192.0.2.1"}, {}]}"#,
            &current(),
            "node",
        )
        .unwrap();
        assert_eq!(c.ipv4, Some(want.clone()));
        // What a client reads and sends back to go static.
        let c = parse(
            br#"{"DHCPv4": {"DHCPEnabled": false}, "IPv4StaticAddresses": [{"Address": "192.0.2.20", "SubnetMask": "255.255.255.0", "Gateway": "192.0.2.1"}]}"#,
            &current(),
            "node",
        )
        .unwrap();
        assert_eq!(c.ipv4, Some(want));
        let c = parse(br#"{"DHCPv4": {"DHCPEnabled": true}}"#, &current(), "node").unwrap();
        assert_eq!(c.ipv4, Some(Ipv4Setting::Dhcp));
        assert_eq!(
            request_text(&c, "ops\nhostname=evil"),
            "# asked by opshostname=evil through Redfish\nnetwork=dhcp\n"
        );
        let no_gw = parse(
            br#"{"IPv4Addresses": [{"Address": "10.1.2.3", "SubnetMask": "255.0.0.0", "Gateway": null}]}"#,
            &current(),
            "node",
        )
        .unwrap();
        assert!(request_text(&no_gw, "a").ends_with("address=10.1.2.3/8\ngateway=\n"));
        for (body, want) in [
            (&br#"{"IPv4Addresses": [{"Address": "192.0.2.20"}]}"#[..], "PropertyMissing"),
            (br#"{"IPv4Addresses": [{"Address": "192.0.2.300", "SubnetMask": "255.255.255.0"}]}"#, "PropertyValueFormatError"),
            (br#"{"IPv4Addresses": [{"Address": "192.0.2.2", "SubnetMask": "255.0.255.0"}]}"#, "PropertyValueFormatError"),
            (br#"{"IPv4Addresses": [{"Address": "0.0.0.0", "SubnetMask": "255.0.0.0"}]}"#, "PropertyValueFormatError"),
            (br#"{"IPv4Addresses": [{"Address": "192.0.2.2", "SubnetMask": "255.255.255.0", "AddressOrigin": "DHCP"}]}"#, "PropertyValueNotInList"),
            (br#"{"IPv4Addresses": [{"Address": "192.0.2.2", "SubnetMask": "255.255.255.0", "Prefix": 3}]}"#, "PropertyUnknown"),
            (br#"{"IPv4Addresses": [{"Address": "192.0.2.2", "SubnetMask": "255.255.255.0"}, {"Address": "192.0.2.3", "SubnetMask": "255.255.255.0"}]}"#, "PropertyValueFormatError"),
            (br#"{"IPv4Addresses": "192.0.2.2"}"#, "PropertyValueTypeError"),
            (br#"{"IPv4Addresses": [{"Address": "192.0.2.2", "SubnetMask": "255.255.255.0"}], "DHCPv4": {"DHCPEnabled": true}}"#, "PropertyValueConflict"),
            (br#"{"DHCPv4": {"UseDNSServers": false}}"#, "PropertyNotWritable"),
            (br#"{"DHCPv4": {"DHCPEnabled": "yes"}}"#, "PropertyValueTypeError"),
            (br#"{"DHCPv4": {"DHCPEnabled": false}}"#, "PropertyMissing"),
        ] {
            let e = parse(body, &current(), "node").unwrap_err();
            assert_eq!(code(e), want, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn name_servers_and_the_request_file() {
        let c = parse(
            br#"{"StaticNameServers": ["192.0.2.53", "2001:db8::53"]}"#,
            &current(),
            "node",
        )
        .unwrap();
        assert_eq!(summary(&c), "dns=192.0.2.53 2001:db8::53");
        let back = parse(br#"{"StaticNameServers": []}"#, &current(), "node").unwrap();
        assert_eq!(summary(&back), "dns=");
        for body in [
            &br#"{"StaticNameServers": ["dns.example"]}"#[..],
            br#"{"StaticNameServers": ["0.0.0.0"]}"#,
            br#"{"StaticNameServers": ["1.1.1.1","1.1.1.2","1.1.1.3","1.1.1.4","1.1.1.5","1.1.1.6","1.1.1.7","1.1.1.8","1.1.1.9"]}"#,
        ] {
            let e = parse(body, &current(), "node").unwrap_err();
            assert_eq!(code(e), "PropertyValueFormatError");
        }
        // NameServers are the servers in use: read-only in the schema.
        let e = parse(
            br#"{"NameServers": ["192.0.2.53"]}"#,
            &json!({"NameServers": []}),
            "n",
        );
        assert_eq!(code(e.unwrap_err()), "PropertyNotWritable");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network-request");
        let log = EventLog::in_memory(10);
        request(&path, &c, "ops", &log).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# asked by ops through Redfish\ndns=192.0.2.53 2001:db8::53\n"
        );
        assert_eq!(log.entries()[0].key, "NetworkSettingsChanged");
        // One not yet taken is not written over.
        let e = request(&path, &back, "ops", &log).unwrap_err();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn applied_settings_shown() {
        let a = parse_applied("network=static\naddress=192.0.2.20/24\ngateway=192.0.2.1\ndns=192.0.2.53 2001:db8::53\n");
        let mut v = json!({
            "HostName": "node",
            "IPv4Addresses": [
                {"Address": "192.0.2.20", "AddressOrigin": null},
                {"Address": "169.254.1.1", "AddressOrigin": "IPv4LinkLocal"},
            ],
        });
        show(&mut v, Some(&a), true);
        assert_eq!(v["DHCPv4"]["DHCPEnabled"], false);
        assert_eq!(
            v["IPv4StaticAddresses"],
            json!([{"Address": "192.0.2.20", "SubnetMask": "255.255.255.0", "Gateway": "192.0.2.1"}])
        );
        assert_eq!(
            v["StaticNameServers"],
            json!(["192.0.2.53", "2001:db8::53"])
        );
        assert_eq!(v["IPv4Addresses"][0]["AddressOrigin"], "Static");
        assert_eq!(v["IPv4Addresses"][1]["AddressOrigin"], "IPv4LinkLocal");
        assert_eq!(
            v["@Redfish.WriteableProperties"],
            json!([
                "HostName",
                "IPv4Addresses",
                "IPv4StaticAddresses",
                "DHCPv4",
                "StaticNameServers"
            ])
        );

        let dhcp = parse_applied("network=dhcp\ndns=\n");
        let mut v = json!({"IPv4Addresses": [{"Address": "10.0.2.15", "AddressOrigin": null}]});
        show(&mut v, Some(&dhcp), false);
        assert_eq!(v["DHCPv4"]["DHCPEnabled"], true);
        assert_eq!(v["IPv4StaticAddresses"], json!([]));
        assert_eq!(v["IPv4Addresses"][0]["AddressOrigin"], "DHCP");
        assert!(v.get("@Redfish.WriteableProperties").is_none());

        // Without the image's summary: nothing said of how it is set.
        let mut v = json!({"HostName": "n", "FQDN": null, "IPv4Addresses": []});
        show(&mut v, None, true);
        assert!(v.get("DHCPv4").is_none());
        assert_eq!(
            v["@Redfish.WriteableProperties"],
            json!(["HostName", "FQDN", "IPv4Addresses"])
        );
        assert_eq!(
            parse_applied("network=static\naddress=nonsense\n").ipv4,
            None
        );
    }
}
