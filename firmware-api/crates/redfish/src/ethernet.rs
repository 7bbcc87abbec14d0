//! `/redfish/v1/Managers/RackManager/EthernetInterfaces`: the node's
//! network interfaces (all but loopback) as [`crate::netif`] read them,
//! read-only. Left out because nothing on the node says them truthfully:
//! `DHCPv4`/`DHCPv6` (whichever of dhcpcd, NetworkManager,
//! systemd-networkd or ifupdown configured the interface owns that) and
//! the `…Static…` settings (the same). An IPv4 address's `AddressOrigin`
//! (DHCP or static: `getifaddrs` does not say) and `Gateway` (when the
//! interface has no default route) are `null`, Redfish's "not known".

use serde_json::{json, Value};

use crate::netif::{NetIf, Resolver};
use crate::resources::{collection, head, with};
use crate::route::{MANAGER_ID, V1};

pub(crate) fn collection_uri() -> String {
    format!("{V1}/Managers/{MANAGER_ID}/EthernetInterfaces")
}

fn uri(name: &str) -> String {
    format!("{}/{name}", collection_uri())
}

pub(crate) fn interface_collection(ifs: &[NetIf]) -> Value {
    collection(
        &collection_uri(),
        "EthernetInterfaceCollection",
        "Ethernet interfaces of the rack manager",
        ifs.iter().map(|i| uri(&i.name)).collect(),
    )
}

/// One interface; `host` the kernel's host name, `r` the resolver's
/// configuration (the same for every interface: the node has one).
pub(crate) fn interface(i: &NetIf, host: Option<&str>, r: &Resolver) -> Value {
    let ipv4: Vec<Value> = i
        .ipv4
        .iter()
        .map(|a| {
            json!({
                "Address": a.address.to_string(),
                "SubnetMask": a.mask.to_string(),
                "AddressOrigin": a.address.is_link_local().then_some("IPv4LinkLocal"),
                "Gateway": a.gateway.map(|g| g.to_string()),
            })
        })
        .collect();
    let ipv6: Vec<Value> = i
        .ipv6
        .iter()
        .map(|a| {
            // fe80::/10; otherwise a permanent address is configured,
            // one with a lifetime came from SLAAC or DHCPv6 (which of
            // them the kernel does not say).
            let origin = if a.address.segments()[0] & 0xffc0 == 0xfe80 {
                Some("LinkLocal")
            } else {
                a.permanent.then_some("Static")
            };
            json!({
                "Address": a.address.to_string(),
                "PrefixLength": a.prefix,
                "AddressOrigin": origin,
                "AddressState": a.state,
            })
        })
        .collect();
    let state = if i.up { "Enabled" } else { "Disabled" };
    let mut v = with(
        head(&uri(&i.name), "EthernetInterface"),
        json!({
            "Id": i.name,
            "Name": format!("Network interface {}", i.name),
            "Description": "A network interface of this node, as the operating system reports it now.",
            "Status": { "State": state, "Health": "OK" },
            "InterfaceEnabled": i.up,
            "MACAddress": i.mac,
            "PermanentMACAddress": i.permanent_mac,
            // null: the driver does not know (link down, virtual interface).
            "SpeedMbps": i.speed_mbps,
            "MTUSize": i.mtu,
            // DSP8010: the host name "without any domain information".
            "HostName": host.map(crate::network_settings::short_name),
            "FQDN": host.and_then(|h| crate::netif::fqdn(h, r)),
            "IPv4Addresses": ipv4,
            "IPv6Addresses": ipv6,
            "NameServers": r.name_servers,
        }),
    );
    if let Some(l) = i.link {
        v["LinkStatus"] = json!(l);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netif::{Ipv4, Ipv6};

    #[test]
    fn interface_as_redfish() {
        let i = NetIf {
            name: "eth0".into(),
            mac: Some("B8:27:EB:01:02:0A".into()),
            permanent_mac: None,
            up: true,
            link: Some("LinkUp"),
            speed_mbps: Some(1000),
            mtu: Some(1500),
            ipv4: vec![Ipv4 {
                address: "192.168.0.10".parse().unwrap(),
                mask: "255.255.255.0".parse().unwrap(),
                gateway: Some("192.168.0.1".parse().unwrap()),
            }],
            ipv6: vec![Ipv6 {
                address: "fe80::1".parse().unwrap(),
                prefix: 64,
                state: "Preferred",
                permanent: true,
            }],
        };
        let r = Resolver {
            name_servers: vec!["192.168.0.53".into()],
            domain: Some("rack.example".into()),
        };
        let v = interface(&i, Some("node"), &r);
        assert_eq!(
            v["@odata.id"],
            "/redfish/v1/Managers/RackManager/EthernetInterfaces/eth0"
        );
        assert_eq!(
            v["@odata.type"],
            "#EthernetInterface.v1_12_4.EthernetInterface"
        );
        assert_eq!(v["FQDN"], "node.rack.example");
        assert_eq!(v["PermanentMACAddress"], Value::Null);
        assert_eq!(v["IPv4Addresses"][0]["Gateway"], "192.168.0.1");
        assert_eq!(v["IPv4Addresses"][0]["AddressOrigin"], Value::Null);
        assert_eq!(v["IPv6Addresses"][0]["AddressOrigin"], "LinkLocal");
        assert_eq!(v["NameServers"], json!(["192.168.0.53"]));
        assert_eq!(v["LinkStatus"], "LinkUp");
        let c = interface_collection(&[i]);
        assert_eq!(c["Members@odata.count"], 1);
        assert_eq!(c["Members"][0]["@odata.id"], v["@odata.id"]);
        let down = NetIf {
            name: "eth1".into(),
            ..NetIf::default()
        };
        let v = interface(&down, None, &Resolver::default());
        assert_eq!(v["Status"]["State"], "Disabled");
        assert!(v.get("LinkStatus").is_none());
        assert_eq!(v["SpeedMbps"], Value::Null);
    }
}
