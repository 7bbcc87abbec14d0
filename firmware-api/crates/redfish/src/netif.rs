//! The node's network interfaces as the OS shows them now: `/sys/class/net`
//! (MAC, flags, operstate, speed, MTU), `/proc/net/if_inet6` (IPv6
//! addresses with prefix and state), `getifaddrs` (IPv4 addresses and
//! masks), `/proc/net/route` (the IPv4 default gateway),
//! `/etc/resolv.conf` (name servers, the DNS domain) and the kernel's host
//! name. Read at each GET: addresses come and go (DHCP, SLAAC).
//!
//! These are small kernel files that answer at once; nothing here waits on
//! the network. Every parser takes text and skips what it cannot read: odd
//! input leaves a value out, it never fails the request.

use std::ffi::CStr;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// One interface as read now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NetIf {
    pub name: String,
    /// The current MAC (`address`), when it is a 6-byte Ethernet address.
    pub mac: Option<String>,
    /// The MAC again when the kernel says it is the hardware's own
    /// (`addr_assign_type` 0, NET_ADDR_PERM), not random or set.
    pub permanent_mac: Option<String>,
    /// IFF_UP: the administrator enabled it.
    pub up: bool,
    /// `LinkUp`, `LinkDown` or `NoLink`; `None` when the kernel cannot say.
    pub link: Option<&'static str>,
    pub speed_mbps: Option<u32>,
    pub mtu: Option<u32>,
    pub ipv4: Vec<Ipv4>,
    pub ipv6: Vec<Ipv6>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ipv4 {
    pub address: Ipv4Addr,
    pub mask: Ipv4Addr,
    /// The interface's default route, when it has one.
    pub gateway: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ipv6 {
    pub address: Ipv6Addr,
    pub prefix: u8,
    /// IPAddresses `AddressState`: `Preferred`, `Deprecated`, `Tentative`,
    /// `Failed` (from the kernel's IFA_F_* flags).
    pub state: &'static str,
    /// IFA_F_PERMANENT: an address without a lifetime, configured by hand
    /// or by a static configuration; SLAAC and DHCPv6 give lifetimes.
    pub permanent: bool,
}

/// What `/etc/resolv.conf` says: the name servers and the local domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolver {
    pub name_servers: Vec<String>,
    pub domain: Option<String>,
}

/// Longer than any file read here should be; a longer one is cut.
const MAX_FILE: u64 = 64 * 1024;

pub(crate) fn read_small(path: &Path) -> Option<String> {
    let mut s = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

fn read_trimmed(path: &Path) -> Option<String> {
    read_small(path).map(|s| s.trim().to_string())
}

/// Names a URI can carry as they are; the kernel allows more (any byte
/// but `/`, NUL and white space), and such an interface is left out
/// rather than given an id that is not its name.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Every interface but loopback, by name.
pub(crate) fn interfaces() -> Vec<NetIf> {
    let sys = Path::new("/sys/class/net");
    let Ok(dir) = std::fs::read_dir(sys) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo" && plain_name(n))
        .collect();
    names.sort();
    let v6 = read_small(Path::new("/proc/net/if_inet6"))
        .map(|t| parse_if_inet6(&t))
        .unwrap_or_default();
    let gateways = read_small(Path::new("/proc/net/route"))
        .map(|t| parse_route(&t))
        .unwrap_or_default();
    let v4 = ipv4_addresses();
    names
        .into_iter()
        .map(|name| {
            let d = sys.join(&name);
            let flags = read_trimmed(&d.join("flags")).and_then(|f| parse_hex(&f));
            let mac = read_trimmed(&d.join("address")).and_then(|m| mac(&m));
            let permanent = read_trimmed(&d.join("addr_assign_type")).as_deref() == Some("0");
            let gateway = gateways.iter().find(|(n, _)| *n == name).map(|(_, g)| *g);
            NetIf {
                permanent_mac: mac.clone().filter(|_| permanent),
                mac,
                up: flags.is_some_and(|f| f & IFF_UP != 0),
                link: link_status(
                    read_trimmed(&d.join("operstate")).as_deref(),
                    read_trimmed(&d.join("carrier")).as_deref(),
                ),
                speed_mbps: read_trimmed(&d.join("speed")).and_then(|s| speed(&s)),
                mtu: read_trimmed(&d.join("mtu")).and_then(|m| m.parse().ok()),
                ipv4: v4
                    .iter()
                    .filter(|(n, _, _)| label_of(n, &name))
                    .map(|(_, a, m)| Ipv4 {
                        address: *a,
                        mask: *m,
                        gateway,
                    })
                    .collect(),
                ipv6: v6
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, a)| a.clone())
                    .collect(),
                name,
            }
        })
        .collect()
}

/// The node's host name: `/etc/hostname`, the name the system is set to
/// (OpenMistOS writes it from its settings file, also when a Redfish
/// `PATCH` changes it), else the kernel's (`uname -n`). Not the kernel's
/// first: the service's unit has `ProtectHostname=yes`, whose UTS
/// namespace keeps the name the service started with.
pub(crate) fn host_name() -> Option<String> {
    let configured = read_small(Path::new("/etc/hostname")).and_then(|t| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
    });
    configured
        .or_else(|| read_trimmed(Path::new("/proc/sys/kernel/hostname")))
        .filter(|h| !h.is_empty())
}

/// The resolver's configuration. Under systemd-resolved (the OpenMistOS
/// image) `/etc/resolv.conf` names only its local stub, 127.0.0.53; the
/// servers it forwards to, which an operator set or DHCP gave, are then
/// in resolved's own `/run/systemd/resolve/resolv.conf`.
pub(crate) fn resolver() -> Resolver {
    let etc = read_small(Path::new("/etc/resolv.conf"))
        .map(|t| parse_resolv_conf(&t))
        .unwrap_or_default();
    if !only_resolved_stub(&etc) {
        return etc;
    }
    read_small(Path::new("/run/systemd/resolve/resolv.conf"))
        .map(|t| parse_resolv_conf(&t))
        .unwrap_or(etc)
}

/// resolved's stub listeners: 127.0.0.53 and, for non-DNSSEC, 127.0.0.54.
fn only_resolved_stub(r: &Resolver) -> bool {
    !r.name_servers.is_empty()
        && r.name_servers
            .iter()
            .all(|s| s == "127.0.0.53" || s == "127.0.0.54")
}

/// The host's fully qualified name as the resolver library takes it
/// without asking DNS (glibc `res_init`): a host name with a dot is one;
/// otherwise the host name in resolv.conf's local domain. `None` when
/// neither says a domain.
pub(crate) fn fqdn(host: &str, r: &Resolver) -> Option<String> {
    if host.contains('.') {
        return Some(host.to_string());
    }
    r.domain.as_ref().map(|d| format!("{host}.{d}"))
}

const IFF_UP: u64 = 0x1;

/// `getifaddrs` names an IPv4 address by its label: the interface's name,
/// or `eth0:1` for an address labelled as an alias of `eth0`.
fn label_of(label: &str, interface: &str) -> bool {
    label
        .strip_prefix(interface)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

/// `aa:bb:cc:dd:ee:ff` in upper case, for a 6-byte address; anything else
/// (a tunnel's empty address, InfiniBand's 20 bytes) is no MAC.
pub(crate) fn mac(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    ok.then(|| parts.join(":").to_ascii_uppercase())
}

/// `operstate` (RFC 2863) as `LinkStatus`; `unknown` (drivers that do not
/// report it) falls back to `carrier`.
pub(crate) fn link_status(operstate: Option<&str>, carrier: Option<&str>) -> Option<&'static str> {
    match operstate? {
        "up" => Some("LinkUp"),
        "down" | "lowerlayerdown" | "dormant" | "testing" => Some("LinkDown"),
        "notpresent" => Some("NoLink"),
        _ => match carrier? {
            "1" => Some("LinkUp"),
            "0" => Some("NoLink"),
            _ => None,
        },
    }
}

/// `speed`: Mbit/s, `-1` (or an error reading it) when the driver does not
/// know (link down, virtual interfaces).
pub(crate) fn speed(s: &str) -> Option<u32> {
    s.trim()
        .parse::<i64>()
        .ok()
        .and_then(|v| u32::try_from(v).ok())
}

/// `/proc/net/if_inet6`: `address ifindex prefix scope flags name`, the
/// address as 32 hex digits.
pub(crate) fn parse_if_inet6(text: &str) -> Vec<(String, Ipv6)> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [hex, _index, prefix, _scope, flags, name] = f[..] else {
                return None;
            };
            if hex.len() != 32 {
                return None;
            }
            let bits = u128::from_str_radix(hex, 16).ok()?;
            let prefix = u8::from_str_radix(prefix, 16).ok().filter(|p| *p <= 128)?;
            let flags = parse_hex(flags)?;
            Some((
                name.to_string(),
                Ipv6 {
                    address: Ipv6Addr::from(bits),
                    prefix,
                    state: address_state(flags),
                    permanent: flags & 0x80 != 0,
                },
            ))
        })
        .collect()
}

/// IFA_F_DADFAILED 0x08, IFA_F_DEPRECATED 0x20, IFA_F_TENTATIVE 0x40.
fn address_state(flags: u64) -> &'static str {
    if flags & 0x08 != 0 {
        "Failed"
    } else if flags & 0x40 != 0 {
        "Tentative"
    } else if flags & 0x20 != 0 {
        "Deprecated"
    } else {
        "Preferred"
    }
}

/// `/proc/net/route`: each interface's default route (destination and
/// mask 0, RTF_GATEWAY), the addresses in the kernel's (little-endian)
/// byte order as hex.
pub(crate) fn parse_route(text: &str) -> Vec<(String, Ipv4Addr)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (name, dest, gw, flags, mask) =
                (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?, f.get(7)?);
            let word = |s: &str| u32::from_str_radix(s, 16).ok();
            let default = word(dest)? == 0 && word(mask)? == 0;
            let via_gateway = parse_hex(flags)? & 0x2 != 0;
            let gateway = Ipv4Addr::from(word(gw)?.to_le_bytes());
            (default && via_gateway).then(|| (name.to_string(), gateway))
        })
        .collect()
}

/// `nameserver` lines (IPv4 and IPv6 addresses, as written) and the local
/// domain: `domain`, else the first `search` entry (the last such line
/// wins, as in the resolver).
pub(crate) fn parse_resolv_conf(text: &str) -> Resolver {
    let mut r = Resolver::default();
    let mut search: Option<String> = None;
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("nameserver"), Some(a))
                if a.parse::<std::net::IpAddr>().is_ok() || valid_scoped_v6(a) =>
            {
                r.name_servers.push(a.to_string())
            }
            (Some("domain"), Some(d)) => {
                r.domain = Some(d.trim_end_matches('.').to_string());
                search = None;
            }
            (Some("search"), Some(d)) => {
                search = Some(d.trim_end_matches('.').to_string());
                r.domain = None;
            }
            _ => {}
        }
    }
    if r.domain.is_none() {
        r.domain = search;
    }
    r.domain = r.domain.filter(|d| !d.is_empty());
    r
}

/// `fe80::1%eth0`: an IPv6 name server with its zone.
fn valid_scoped_v6(a: &str) -> bool {
    a.split_once('%')
        .is_some_and(|(addr, zone)| !zone.is_empty() && addr.parse::<Ipv6Addr>().is_ok())
}

/// Every IPv4 address of every interface: (name, address, mask), from
/// `getifaddrs(3)` (the kernel has no text file of them).
fn ipv4_addresses() -> Vec<(String, Ipv4Addr, Ipv4Addr)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head it allocated into `head`, or
    // returns -1 and leaves it alone; we pass a valid pointer to it.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet
        // freed (freeifaddrs runs after the loop).
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a non-null ifa_addr points to a sockaddr of the list.
        if i32::from(unsafe { (*ifa.ifa_addr).sa_family }) != libc::AF_INET {
            continue;
        }
        // SAFETY: its family is AF_INET, so it is a sockaddr_in; so is the
        // netmask of an AF_INET entry when it is not null.
        let (addr, mask) = unsafe {
            let a = *(ifa.ifa_addr as *const libc::sockaddr_in);
            let m = if ifa.ifa_netmask.is_null() {
                None
            } else {
                Some(*(ifa.ifa_netmask as *const libc::sockaddr_in))
            };
            (a, m)
        };
        // SAFETY: ifa_name is a NUL-terminated string of the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let ip = |s: libc::sockaddr_in| Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr));
        out.push((name, ip(addr), mask.map_or(Ipv4Addr::UNSPECIFIED, ip)));
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses() {
        assert_eq!(
            mac("b8:27:eb:01:02:0a\n").as_deref(),
            Some("B8:27:EB:01:02:0A")
        );
        assert_eq!(mac(""), None, "a tunnel has none");
        assert_eq!(
            mac("00:00:00:00:00:00:00:00:fe:80:00:00:00:00:00:00:00:00:00:01"),
            None
        );
        assert_eq!(mac("b8:27:eb:01:02"), None);
        assert_eq!(mac("b8:27:eb:01:02:zz"), None);
        assert_eq!(mac("b8:27:eb:01:02:0a0"), None);
    }

    #[test]
    fn link_and_speed() {
        assert_eq!(link_status(Some("up"), None), Some("LinkUp"));
        assert_eq!(link_status(Some("down"), Some("0")), Some("LinkDown"));
        assert_eq!(link_status(Some("unknown"), Some("1")), Some("LinkUp"));
        assert_eq!(link_status(Some("unknown"), None), None);
        assert_eq!(link_status(Some("notpresent"), None), Some("NoLink"));
        assert_eq!(link_status(None, Some("1")), None);
        assert_eq!(speed("1000\n"), Some(1000));
        assert_eq!(speed("-1"), None);
        assert_eq!(speed(""), None);
        assert_eq!(speed("99999999999"), None);
    }

    #[test]
    fn if_inet6() {
        let text = "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
                    fd000000000000000000000000000002 04 40 00 82     eth0\n\
                    20010db8000000000000000000000003 04 40 00 20     eth0\n\
                    20010db8000000000000000000000004 04 40 00 08     eth0\n\
                    00000000000000000000000000000001 01 80 10 80       lo\n\
                    garbage\n\
                    zz000000000000000000000000000001 01 80 10 80       lo\n\
                    00000000000000000000000000000001 01 ff 10 80       lo\n\
                    0000000000000000000000000000001 01 80 10 80       lo\n";
        let v = parse_if_inet6(text);
        assert_eq!(v.len(), 5, "{v:?}");
        assert_eq!(v[0].0, "eth0");
        assert_eq!(
            v[0].1.address,
            "fe80::fc:ff:fe00:1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(v[0].1.prefix, 64);
        assert_eq!(v[0].1.state, "Preferred");
        assert_eq!(v[1].1.state, "Preferred");
        assert_eq!(v[2].1.state, "Deprecated");
        assert_eq!(v[3].1.state, "Failed");
        assert_eq!(v[4].1.prefix, 128);
        assert!(v[0].1.permanent && v[1].1.permanent && !v[2].1.permanent);
        assert!(parse_if_inet6("").is_empty());
    }

    #[test]
    fn default_routes() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                    eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
                    wlan0\t00000000\t00000000\t0001\t0\t0\t100\t00000000\t0\t0\t0\n\
                    eth1\tnothex\t0100A8C0\t0003\n";
        assert_eq!(
            parse_route(text),
            vec![("eth0".to_string(), Ipv4Addr::new(192, 168, 0, 1))]
        );
        assert!(parse_route("").is_empty());
    }

    #[test]
    fn resolv_conf() {
        let r = parse_resolv_conf(
            "# generated\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\nnameserver 2001:db8::53 # v6\n\
             nameserver not-an-address\nnameserver\nsearch lab.example.com other.example.\noptions edns0\n",
        );
        assert_eq!(
            r.name_servers,
            ["10.0.0.53", "fe80::1%eth0", "2001:db8::53"]
        );
        assert_eq!(r.domain.as_deref(), Some("lab.example.com"));
        let r = parse_resolv_conf("search a.example\ndomain rack.example.\n");
        assert_eq!(r.domain.as_deref(), Some("rack.example"));
        assert_eq!(parse_resolv_conf("\u{0}\u{ffff}\n"), Resolver::default());
        assert_eq!(fqdn("node", &r).as_deref(), Some("node.rack.example"));
        assert_eq!(
            fqdn("node.x.example", &r).as_deref(),
            Some("node.x.example")
        );
        assert_eq!(fqdn("node", &Resolver::default()), None);
    }

    #[test]
    fn alias_labels() {
        assert!(label_of("eth0", "eth0"));
        assert!(label_of("eth0:1", "eth0"));
        assert!(!label_of("eth01", "eth0"));
        assert!(!label_of("eth", "eth0"));
    }

    #[test]
    fn names_a_uri_carries() {
        assert!(plain_name("eth0"));
        assert!(plain_name("enx-b8_27.eb"));
        assert!(!plain_name("eth0:1 "));
        assert!(!plain_name("wg%0"));
        assert!(!plain_name(""));
    }
}
