//! `/redfish/v1/Managers/RackManager/NetworkProtocol`: the network
//! services of the node as it serves them, from the listeners `opendcre
//! serve` bound (so a port 0 in the configuration shows the port the
//! system gave): HTTP when plain HTTP is on, HTTPS when TLS is on. No
//! other protocol (SSH, SNMP, NTP, …) is the node's own service.

use serde_json::{json, Value};

use crate::resources::{head, with};
use crate::route::{MANAGER_ID, V1};

/// What `opendcre serve` listens on: the first port of each kind, `None`
/// when that kind is off. (`ManagerNetworkProtocol` has one port per
/// protocol; further listeners of a kind are on other addresses.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkProtocols {
    pub host_name: Option<String>,
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
}

pub(crate) fn uri() -> String {
    format!("{V1}/Managers/{MANAGER_ID}/NetworkProtocol")
}

fn protocol(port: Option<u16>) -> Value {
    match port {
        Some(p) => json!({ "ProtocolEnabled": true, "Port": p }),
        None => json!({ "ProtocolEnabled": false, "Port": null }),
    }
}

pub(crate) fn network_protocol(p: &NetworkProtocols) -> Value {
    let mut v = with(
        head(&uri(), "ManagerNetworkProtocol"),
        json!({
            "Id": "NetworkProtocol",
            "Name": "Network services of the rack manager",
            "Description": "The protocols this node serves its APIs on (v1.1, v2, Redfish): the listeners of opendcre serve.",
            "Status": { "State": "Enabled", "Health": "OK" },
            "HTTP": protocol(p.http_port),
            "HTTPS": protocol(p.https_port),
        }),
    );
    v["HTTPS"]["Certificates"] =
        crate::resources::link(&crate::certificates::https_collection_uri());
    if let Some(h) = &p.host_name {
        v["HostName"] = json!(h);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_as_protocols() {
        let v = network_protocol(&NetworkProtocols {
            host_name: Some("rack-a".into()),
            http_port: None,
            https_port: Some(8443),
        });
        assert_eq!(
            v["@odata.id"],
            "/redfish/v1/Managers/RackManager/NetworkProtocol"
        );
        assert_eq!(
            v["HTTPS"],
            json!({ "ProtocolEnabled": true, "Port": 8443, "Certificates": {
                "@odata.id": "/redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates"
            } })
        );
        assert_eq!(v["HTTP"]["ProtocolEnabled"], false);
        assert_eq!(v["HostName"], "rack-a");
        let v = network_protocol(&NetworkProtocols::default());
        assert!(v.get("HostName").is_none());
    }
}
