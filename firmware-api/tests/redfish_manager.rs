//! The manager's own resources in the real binary: its network interfaces
//! compared with what `ip -j addr` (netlink, a different path into the
//! kernel than the node's sysfs/procfs/getifaddrs reading) and sysfs say
//! of the test machine at the same moment; the HTTPS certificate compared
//! with the one a TLS handshake with the node receives.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::redfish::{get, stateful_node, READER};

const IFS: &str = "/redfish/v1/Managers/RackManager/EthernetInterfaces";

fn ok(s: &crate::common::Server, path: &str) -> Value {
    let r = get(s, path, Some(READER));
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

/// `ip -j addr`: every interface with its addresses. iproute2 is in
/// ci/install-test-deps.sh; without it this test fails rather than passes
/// on nothing.
fn ip_addr() -> Vec<Value> {
    let out = Command::new("ip")
        .args(["-j", "addr", "show"])
        .output()
        .expect("ip(8) from iproute2 (ci/install-test-deps.sh)");
    assert!(out.status.success(), "ip -j addr: {:?}", out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn addresses(i: &Value, family: &str) -> BTreeSet<String> {
    i["addr_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["family"] == family)
        .map(|a| a["local"].as_str().unwrap().to_string())
        .collect()
}

fn ours(v: &Value, key: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Address"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn ethernet_interfaces_are_the_machines() {
    let (s, _cfg, _dir) = stateful_node();
    let manager = ok(&s, "/redfish/v1/Managers/RackManager");
    assert_eq!(manager["EthernetInterfaces"]["@odata.id"], IFS);

    let kernel = ip_addr();
    let names: BTreeSet<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "lo")
        .collect();
    assert!(
        !names.is_empty(),
        "the test machine has no network interface but lo"
    );

    let c = ok(&s, IFS);
    let members: BTreeSet<String> = c["Members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let uri = m["@odata.id"].as_str().unwrap();
            uri.strip_prefix(&format!("{IFS}/")).unwrap().to_string()
        })
        .collect();
    assert_eq!(members, names, "one member per interface but lo");
    assert_eq!(c["Members@odata.count"], names.len());

    for name in &names {
        let v = ok(&s, &format!("{IFS}/{name}"));
        let k = kernel
            .iter()
            .find(|i| i["ifname"] == name.as_str())
            .unwrap_or_else(|| panic!("ip shows no {name}"));
        assert_eq!(v["Id"], name.as_str());
        assert_eq!(v["MTUSize"], k["mtu"], "{name}");
        let mac = k["address"].as_str().unwrap_or("").to_ascii_uppercase();
        if mac.len() == 17 {
            assert_eq!(v["MACAddress"], mac.as_str(), "{name}");
        }
        let up = k["flags"].as_array().unwrap().iter().any(|f| f == "UP");
        assert_eq!(v["InterfaceEnabled"], up, "{name}");
        assert_eq!(ours(&v, "IPv4Addresses"), addresses(k, "inet"), "{name}");
        assert_eq!(ours(&v, "IPv6Addresses"), addresses(k, "inet6"), "{name}");
        let speed = std::fs::read_to_string(format!("/sys/class/net/{name}/speed"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        assert_eq!(v["SpeedMbps"], serde_json::json!(speed), "{name}");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(v["HostName"], host.trim(), "{name}");
    }

    let missing = get(&s, &format!("{IFS}/no-such-if0"), Some(READER));
    assert_eq!(missing.status, 404);
    assert_eq!(get(&s, IFS, None).status, 401, "not public");
}

const CERTS: &str = "/redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates";

/// SHA-256 of what the TLS listener at `addr` sends as its leaf, in
/// Redfish's `AA:BB:…` notation, from a real handshake.
fn served_fingerprint(addr: &str, ca_pem: &str) -> String {
    use crate::auth_support::client::tls_config;
    let cfg = tls_config(ca_pem, None, &[&rustls::version::TLS13]);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(cfg, name.to_owned()).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    let leaf = &conn.peer_certificates().unwrap()[0];
    use sha2::Digest;
    sha2::Sha256::digest(leaf.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn https_certificate_is_the_one_served() {
    use crate::auth_support::pki::{self, Ca};
    use crate::common::{example, request_with, Server};

    let ca = Ca::new("manager test CA");
    let issued = ca.server();
    let dir = tempfile::tempdir().unwrap();
    let cert = pki::write(dir.path(), "server.crt", &issued.cert_pem);
    let key = pki::write(dir.path(), "server.key", &issued.key_pem);
    let hash =
        opendcre_security::auth::hash_token(READER, opendcre_security::auth::HashAlgorithm::Sha256)
            .unwrap();
    let (server, _cfg) = Server::with_config(&format!(
        "[emulator]\nconfig = {emu:?}\n[telemetry]\nenabled = false\n\
         [tls]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\ncert = {cert:?}\nkey = {key:?}\n\
         [auth.tokens.reader]\nhash = \"{hash}\"\nrole = \"reader\"\n",
        emu = example("rack.json").to_str().unwrap(),
    ));
    let tls_addr = loop {
        let line = server
            .log
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("server logs its TLS address");
        if let Some(i) = line.find("listening with TLS on ") {
            break line[i + 22..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
    };
    let auth = format!("Bearer {READER}");
    let get = |path: &str| {
        let r = request_with(&server.addr, "GET", path, &[("Authorization", &auth)]);
        assert_eq!(r.status, 200, "{path}");
        r
    };
    let np = get("/redfish/v1/Managers/RackManager/NetworkProtocol").json();
    assert_eq!(np["HTTPS"]["Certificates"]["@odata.id"], CERTS);
    let c = get(CERTS).json();
    assert_eq!(c["Members@odata.count"], 1);
    let member = c["Members"][0]["@odata.id"].as_str().unwrap().to_string();
    let r = get(&member);
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert!(!body.contains("PRIVATE KEY"), "no key in {body}");
    let v = r.json();
    assert_eq!(v["Fingerprint"], served_fingerprint(&tls_addr, &ca.pem));
    assert_eq!(v["FingerprintHashAlgorithm"], "TPM_ALG_SHA256");
    assert_eq!(v["CertificateType"], "PEM");
    let pem = v["CertificateString"].as_str().unwrap();
    let strip = |p: &str| p.split_whitespace().collect::<String>();
    assert_eq!(
        strip(pem),
        strip(&issued.cert_pem),
        "the leaf as configured"
    );
    assert_eq!(v["Subject"]["CommonName"], "127.0.0.1");
    assert_eq!(v["Issuer"]["CommonName"], "manager test CA");
    assert_eq!(v["KeyUsage"], serde_json::json!(["ServerAuthentication"]));
}

#[test]
fn no_tls_no_certificate() {
    let (s, _cfg, _dir) = stateful_node();
    let np = ok(&s, "/redfish/v1/Managers/RackManager/NetworkProtocol");
    assert_eq!(np["HTTPS"]["ProtocolEnabled"], false);
    assert_eq!(ok(&s, CERTS)["Members"], serde_json::json!([]));
    assert_eq!(get(&s, &format!("{CERTS}/1"), Some(READER)).status, 404);
}
