//! The manager's own resources in the real binary: its network interfaces
//! compared with what `ip -j addr` (netlink, a different path into the
//! kernel than the node's sysfs/procfs/getifaddrs reading) and sysfs say
//! of the test machine at the same moment; `Manager.Reset`, which writes
//! the restart request the image's `opendcre-reboot.path` acts on.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::common::Server;
use crate::redfish::{
    admin_token_toml, error_code, get, get_ok, log_message_ids, send, stateful_node, ADMIN,
    OPERATOR, RACK, READER,
};
use opendcre_security::auth::{hash_token, HashAlgorithm};

const IFS: &str = "/redfish/v1/Managers/RackManager/EthernetInterfaces";

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
    let manager = get_ok(&s, "/redfish/v1/Managers/RackManager", Some(READER));
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

    let c = get_ok(&s, IFS, Some(READER));
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
        let v = get_ok(&s, &format!("{IFS}/{name}"), Some(READER));
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

const RESET: &str = "/redfish/v1/Managers/RackManager/Actions/Manager.Reset";

#[test]
fn manager_reset_writes_the_restart_request_after_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let rack = dir.path().join("rack.json");
    std::fs::write(&rack, RACK).unwrap();
    let request = dir.path().join("reboot-request");
    let (s, _cfg) = Server::with_config(&format!(
        "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
         [event_log]\npath = {:?}\n\
         [manager]\nreset_enabled = true\nreboot_request = {:?}\n\
         [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
         [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n{}",
        rack.display().to_string(),
        dir.path().join("events.jsonl").display().to_string(),
        request.display().to_string(),
        hash_token(READER, HashAlgorithm::Sha256).unwrap(),
        hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
        admin_token_toml(),
    ));
    let m = get_ok(&s, "/redfish/v1/Managers/RackManager", Some(READER));
    assert_eq!(m["Actions"]["#Manager.Reset"]["target"], RESET);
    let r = send(&s, "POST", RESET, READER, "{}", &[]);
    assert_eq!(r.status, 403);
    // Restarting the node is `ConfigureManager`: not an operator's.
    let r = send(&s, "POST", RESET, OPERATOR, "{}", &[]);
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (403, "Base.1.22.InsufficientPrivilege")
    );
    let r = send(
        &s,
        "POST",
        RESET,
        ADMIN,
        r#"{"ResetType": "ForceRestart"}"#,
        &[],
    );
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (400, "Base.1.22.ActionParameterValueNotInList")
    );
    assert!(!request.exists(), "nothing requested yet");
    let r = send(
        &s,
        "POST",
        RESET,
        ADMIN,
        r#"{"ResetType": "GracefulRestart"}"#,
        &[],
    );
    assert_eq!(r.status, 204, "{}", r.message());
    assert!(std::fs::read_to_string(&request)
        .unwrap()
        .contains("requested by admin"));
    // The entry is in the file already, not only in memory.
    let file = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(file.contains("\"ManagerReset\""), "{file}");
}

#[test]
fn manager_reset_off_is_a_disabled_service() {
    let (s, _cfg, _dir) = stateful_node();
    let r = send(&s, "POST", RESET, ADMIN, "", &[]);
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (503, "Base.1.22.ServiceDisabled")
    );
}

const MANAGER: &str = "/redfish/v1/Managers/RackManager";

/// The node's label (`ServiceIdentification`, what discovery tools match a
/// service to an inventory record by): an administrator's `PATCH` behind
/// the manager's ETag, which a moving clock does not change; kept with
/// the asset tags across a restart and shown in the service root.
#[test]
fn the_nodes_label_is_kept_and_shown_in_the_service_root() {
    let (dir, rack) = crate::redfish::rack_file();
    let tags = dir.path().join("state/asset-tags.json");
    let toml = crate::redfish::node_toml(
        &rack,
        &format!("[manager]\nasset_tags = {:?}\n", tags.display().to_string()),
    );
    let (s, _cfg) = Server::with_config(&toml);
    let r = get(&s, MANAGER, Some(READER));
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    let m = r.json();
    assert_eq!(m["ServiceIdentification"], Value::Null, "not given yet");
    let root = get_ok(&s, "/redfish/v1", None);
    assert!(root.get("ServiceIdentification").is_none(), "{root}");
    let etag = r.header("ETag").unwrap().to_string();
    assert_eq!(m["@odata.etag"], etag.as_str());
    // The clock moves on (DateTime shows seconds); the tag stays.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = get(&s, MANAGER, Some(READER));
    assert_ne!(again.json()["DateTime"], m["DateTime"]);
    assert_eq!(again.header("ETag"), Some(etag.as_str()));

    let label = r#"{"ServiceIdentification": "rack-4 node 2"}"#;
    let long = format!(r#"{{"ServiceIdentification": "{}"}}"#, "x".repeat(128));
    crate::redfish::assert_patches_refused(
        &s,
        MANAGER,
        &[
            (
                READER,
                label,
                Some(etag.as_str()),
                403,
                "InsufficientPrivilege",
            ),
            // The node's configuration: `ConfigureManager`.
            (
                OPERATOR,
                label,
                Some(etag.as_str()),
                403,
                "InsufficientPrivilege",
            ),
            (ADMIN, label, None, 428, "PreconditionRequired"),
            (ADMIN, label, Some("\"0000\""), 412, "PreconditionFailed"),
            (
                ADMIN,
                long.as_str(),
                Some(etag.as_str()),
                400,
                "PropertyValueFormatError",
            ),
            (
                ADMIN,
                r#"{"ServiceIdentification": 4}"#,
                Some(etag.as_str()),
                400,
                "PropertyValueTypeError",
            ),
            (
                ADMIN,
                r#"{"FirmwareVersion": "9"}"#,
                Some(etag.as_str()),
                400,
                "PropertyNotWritable",
            ),
        ],
    );
    assert!(!tags.exists(), "nothing written");
    let r = send(&s, "PATCH", MANAGER, ADMIN, label, &[("If-Match", &etag)]);
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(r.json()["ServiceIdentification"], "rack-4 node 2");
    assert_ne!(r.header("ETag"), Some(etag.as_str()));
    let r = send(&s, "PATCH", MANAGER, ADMIN, label, &[("If-Match", &etag)]);
    assert_eq!(r.status, 412, "the tag it was written behind is stale");
    assert_eq!(
        get_ok(&s, "/redfish/v1", None)["ServiceIdentification"],
        "rack-4 node 2"
    );
    drop(s);

    let (s, _cfg2) = Server::with_config(&toml);
    assert_eq!(
        get_ok(&s, MANAGER, Some(READER))["ServiceIdentification"],
        "rack-4 node 2"
    );
    assert_eq!(
        get_ok(&s, "/redfish/v1", None)["ServiceIdentification"],
        "rack-4 node 2"
    );
    // Cleared: `null` on the manager, gone from the service root.
    let r = patch_now(&s, r#"{"ServiceIdentification": ""}"#);
    assert_eq!(r.status, 200, "{}", r.message());
    assert_eq!(r.json()["ServiceIdentification"], Value::Null);
    assert!(get_ok(&s, "/redfish/v1", None)
        .get("ServiceIdentification")
        .is_none());
}

/// An administrator's `PATCH` of the manager behind the ETag it has now.
fn patch_now(s: &Server, body: &str) -> crate::common::Response {
    let r = get(s, MANAGER, Some(READER));
    let etag = r.header("ETag").unwrap().to_string();
    send(s, "PATCH", MANAGER, ADMIN, body, &[("If-Match", &etag)])
}

/// A node that keeps no asset tags has nowhere to keep the label: the
/// manager is read-only and a `PATCH` says why.
#[test]
fn without_asset_tags_the_manager_is_read_only() {
    let (_dir, rack) = crate::redfish::rack_file();
    let (s, _cfg) = Server::with_config(&crate::redfish::node_toml(
        &rack,
        "[manager]\nasset_tags = \"\"\n",
    ));
    let r = get(&s, MANAGER, Some(READER));
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert!(r.json().get("ServiceIdentification").is_none());
    let r = patch_now(&s, r#"{"ServiceIdentification": "x"}"#);
    assert_eq!(
        (r.status, error_code(&r).as_str(), r.header("Allow")),
        (405, "Base.1.22.OperationNotAllowed", Some("GET, HEAD"))
    );
    let why = r.json()["error"]["@Message.ExtendedInfo"][0]["Resolution"].clone();
    assert!(why.as_str().unwrap().contains("asset_tags"), "{why}");
}

const CERTS: &str = "/redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates";
const CERT: &str = "/redfish/v1/Managers/RackManager/NetworkProtocol/HTTPS/Certificates/1";
const REPLACE: &str =
    "/redfish/v1/CertificateService/Actions/CertificateService.ReplaceCertificate";

/// SHA-256 of the leaf the TLS listener at `addr` sends, in Redfish's
/// `AA:BB:…` notation, from a real handshake that trusts only `ca_pem`.
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

fn replace_body(pem: &str) -> String {
    serde_json::json!({
        "CertificateString": pem,
        "CertificateType": "PEMchain",
        "CertificateUri": { "@odata.id": CERT },
    })
    .to_string()
}

/// A node on the example rack with TLS, a certificate from "first CA" and
/// a certificate store, in `dir`: what the certificate tests start.
struct TlsNode {
    first_ca: crate::auth_support::pki::Ca,
    first: crate::auth_support::pki::Issued,
    dir: tempfile::TempDir,
    store: std::path::PathBuf,
    config: String,
}

impl TlsNode {
    fn new() -> TlsNode {
        use crate::auth_support::pki::{self, Ca};
        let first_ca = Ca::new("first CA");
        let first = first_ca.server();
        let dir = tempfile::tempdir().unwrap();
        let rack = dir.path().join("rack.json");
        std::fs::write(&rack, RACK).unwrap();
        let store = dir.path().join("store");
        let config = format!(
            "[emulator]\nconfig = {:?}\n[telemetry]\nenabled = false\n\
             [event_log]\npath = {:?}\n\
             [tls]\nenabled = true\nlisten = [\"127.0.0.1:0\"]\ncert = {:?}\nkey = {:?}\n\
             [manager]\ncertificate_store = {:?}\n\
             [auth.tokens.reader]\nhash = \"{}\"\nrole = \"reader\"\n\
             [auth.tokens.operator]\nhash = \"{}\"\nrole = \"operator\"\n{}",
            rack.display().to_string(),
            dir.path().join("events.jsonl").display().to_string(),
            pki::write(dir.path(), "server.crt", &first.cert_pem),
            pki::write(dir.path(), "server.key", &first.key_pem),
            store.display().to_string(),
            hash_token(READER, HashAlgorithm::Sha256).unwrap(),
            hash_token(OPERATOR, HashAlgorithm::Sha256).unwrap(),
            admin_token_toml(),
        );
        TlsNode {
            first_ca,
            first,
            dir,
            store,
            config,
        }
    }
}

/// The HTTPS certificate as Redfish shows it is the one a handshake gets;
/// `ReplaceCertificate` installs a new one (with its key, or for the key in
/// use), which new connections get at once and a restarted node still
/// serves from its store; a damaged store falls back to the configured
/// certificate.
#[test]
fn https_certificate_shown_and_replaced() {
    use crate::auth_support::pki::Ca;
    let TlsNode {
        first_ca,
        first,
        dir: _dir,
        store,
        config,
    } = TlsNode::new();
    let (s, _cfg) = Server::with_config(&config);
    let addr = s.tls_addr();

    let np = get_ok(
        &s,
        "/redfish/v1/Managers/RackManager/NetworkProtocol",
        Some(READER),
    );
    assert_eq!(np["HTTPS"]["Certificates"]["@odata.id"], CERTS);
    assert_eq!(
        get_ok(&s, CERTS, Some(READER))["Members"][0]["@odata.id"],
        CERT
    );
    let m = get_ok(&s, "/redfish/v1/Managers/RackManager", Some(READER));
    let mc = m["Certificates"]["@odata.id"].as_str().unwrap().to_string();
    assert_eq!(
        get_ok(&s, &mc, Some(READER))["Members"][0]["@odata.id"],
        CERT
    );
    let loc = get_ok(
        &s,
        "/redfish/v1/CertificateService/CertificateLocations",
        Some(READER),
    );
    assert_eq!(loc["Links"]["Certificates"][0]["@odata.id"], CERT);
    let svc = get_ok(&s, "/redfish/v1/CertificateService", Some(READER));
    assert_eq!(
        svc["Actions"]["#CertificateService.ReplaceCertificate"]["target"],
        REPLACE
    );
    let r = get(&s, CERT, Some(READER));
    assert!(!String::from_utf8_lossy(&r.body).contains("PRIVATE KEY"));
    let c = r.json();
    assert_eq!(c["Fingerprint"], served_fingerprint(&addr, &first_ca.pem));
    assert_eq!(c["Issuer"]["CommonName"], "first CA");
    assert_eq!(c["Subject"]["CommonName"], "127.0.0.1");
    assert_eq!(c["KeyUsage"], serde_json::json!(["ServerAuthentication"]));
    let strip = |p: &str| p.split_whitespace().collect::<String>();
    assert_eq!(
        strip(c["CertificateString"].as_str().unwrap()),
        strip(&first.cert_pem)
    );
    assert_eq!(get(&s, &format!("{CERTS}/2"), Some(READER)).status, 404);

    // Who may, and what is refused (nothing changes).
    let second_ca = Ca::new("second CA");
    let second = second_ca.server();
    let both = format!("{}{}", second.cert_pem, second.key_pem);
    let r = send(&s, "POST", REPLACE, READER, &replace_body(&both), &[]);
    assert_eq!(r.status, 403);
    let r = send(&s, "POST", REPLACE, OPERATOR, &replace_body(&both), &[]);
    assert_eq!(
        r.status, 403,
        "the node's certificate is an administrator's"
    );
    let r = send(
        &s,
        "POST",
        REPLACE,
        ADMIN,
        &replace_body(&second.cert_pem),
        &[],
    );
    assert_eq!(r.status, 400, "a certificate for another key, without it");
    assert_eq!(error_code(&r), "Base.1.22.ActionParameterValueError");
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("not for the private key"), "{text}");
    let r = send(
        &s,
        "POST",
        REPLACE,
        ADMIN,
        &replace_body("-----BEGIN CERTIFICATE-----\nAAAA"),
        &[],
    );
    assert_eq!(r.status, 400);
    let wrong_key = format!("{}{}", second.cert_pem, first.key_pem);
    let r = send(&s, "POST", REPLACE, ADMIN, &replace_body(&wrong_key), &[]);
    assert_eq!(r.status, 400, "a key that is not the certificate's");
    assert_eq!(served_fingerprint(&addr, &first_ca.pem), c["Fingerprint"]);
    assert!(!store.join("server.pem").exists());

    // A new certificate and key.
    let r = send(&s, "POST", REPLACE, ADMIN, &replace_body(&both), &[]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let now = get_ok(&s, CERT, Some(READER));
    assert_eq!(now["Issuer"]["CommonName"], "second CA");
    assert_eq!(
        now["Fingerprint"],
        served_fingerprint(&addr, &second_ca.pem)
    );
    assert_ne!(now["Fingerprint"], c["Fingerprint"]);
    assert!(now["Description"]
        .as_str()
        .unwrap()
        .contains("ReplaceCertificate"));
    assert!(log_message_ids(&s).contains(&"OpenDCRE.1.2.CertificateReplaced".to_string()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(store.join("server.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A renewal: a new certificate for the key in use, without the key.
    let renewed = second_ca.server_for_key(&second.key_pem);
    let r = send(
        &s,
        "POST",
        REPLACE,
        ADMIN,
        &replace_body(&renewed.cert_pem),
        &[],
    );
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let renewed_fp = served_fingerprint(&addr, &second_ca.pem);
    assert_eq!(get_ok(&s, CERT, Some(READER))["Fingerprint"], renewed_fp);
    assert_ne!(renewed_fp, now["Fingerprint"]);
    drop(s);

    // A restart serves the store's certificate.
    let (s, _cfg) = Server::with_config(&config);
    let addr = s.tls_addr();
    assert_eq!(served_fingerprint(&addr, &second_ca.pem), renewed_fp);
    assert_eq!(get_ok(&s, CERT, Some(READER))["Fingerprint"], renewed_fp);
    drop(s);

    // A damaged store: the configured certificate, and the API is up.
    std::fs::write(store.join("server.pem"), "-----BEGIN CERTIFICATE-----\nAA").unwrap();
    let (s, _cfg) = Server::with_config(&config);
    let addr = s.tls_addr();
    assert_eq!(served_fingerprint(&addr, &first_ca.pem), c["Fingerprint"]);
    let shown = get_ok(&s, CERT, Some(READER));
    assert_eq!(shown["Fingerprint"], c["Fingerprint"]);
    assert!(shown["Description"]
        .as_str()
        .unwrap()
        .contains("configured"));
}

/// `DELETE` of the served certificate while a replaced one is served goes
/// back to the configured one (new connections, and after a restart);
/// without a replacement there is nothing to delete (405, `Allow` says so).
#[test]
fn deleting_the_replaced_certificate_serves_the_configured_one() {
    use crate::auth_support::pki::Ca;
    let TlsNode {
        first_ca,
        dir: _dir,
        store,
        config,
        ..
    } = TlsNode::new();
    let (s, _cfg) = Server::with_config(&config);
    let addr = s.tls_addr();
    let configured = get(&s, CERT, Some(READER));
    assert_eq!(configured.header("Allow"), Some("GET, HEAD"));
    let configured_fp = configured.json()["Fingerprint"].clone();
    let r = send(&s, "DELETE", CERT, ADMIN, "", &[]);
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));

    let second_ca = Ca::new("second CA");
    let second = second_ca.server();
    let both = format!("{}{}", second.cert_pem, second.key_pem);
    let r = send(&s, "POST", REPLACE, ADMIN, &replace_body(&both), &[]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        get(&s, CERT, Some(READER)).header("Allow"),
        Some("GET, HEAD, DELETE")
    );
    assert_eq!(send(&s, "DELETE", CERT, READER, "", &[]).status, 403);
    assert_eq!(send(&s, "DELETE", CERT, OPERATOR, "", &[]).status, 403);
    assert_eq!(
        send(&s, "DELETE", &format!("{CERTS}/2"), ADMIN, "", &[]).status,
        404
    );
    assert!(store.join("server.pem").exists());
    let r = send(&s, "DELETE", CERT, ADMIN, "", &[]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(served_fingerprint(&addr, &first_ca.pem), configured_fp);
    assert_eq!(get_ok(&s, CERT, Some(READER))["Fingerprint"], configured_fp);
    assert!(!store.join("server.pem").exists());
    assert!(log_message_ids(&s).contains(&"OpenDCRE.1.2.CertificateRestored".to_string()));
    drop(s);

    // A restart serves the configured certificate too.
    let (s, _cfg) = Server::with_config(&config);
    assert_eq!(
        served_fingerprint(&s.tls_addr(), &first_ca.pem),
        configured_fp
    );
}

const GENERATE_CSR: &str = "/redfish/v1/CertificateService/Actions/CertificateService.GenerateCSR";

/// `GenerateCSR` makes a key on the node and a request for it; the CA
/// (openssl here) signs the request, and the certificate goes in with
/// `ReplaceCertificate` alone: the node finds the key it kept, also across
/// a restart in between.
#[test]
fn a_certificate_for_a_request_made_on_the_node() {
    use crate::auth_support::pki;
    let TlsNode {
        first_ca,
        first,
        dir,
        store,
        config,
    } = TlsNode::new();
    let (s, _cfg) = Server::with_config(&config);
    let body = serde_json::json!({
        "CertificateCollection": { "@odata.id": CERTS },
        "CommonName": "127.0.0.1",
        "Organization": "Example DC",
        "Country": "DE",
        "AlternativeNames": ["127.0.0.1", "node-7.rack-3.example"],
        "KeyCurveId": "TPM_ECC_NIST_P384",
    })
    .to_string();
    let svc = get_ok(&s, "/redfish/v1/CertificateService", Some(READER));
    assert_eq!(
        svc["Actions"]["#CertificateService.GenerateCSR"]["target"],
        GENERATE_CSR
    );
    for who in [READER, OPERATOR] {
        assert_eq!(send(&s, "POST", GENERATE_CSR, who, &body, &[]).status, 403);
    }
    let r = send(&s, "POST", GENERATE_CSR, ADMIN, &body, &[]);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let csr = r.json()["CSRString"].as_str().unwrap().to_string();
    assert!(!csr.contains("PRIVATE KEY"));
    assert_eq!(r.json()["CertificateCollection"]["@odata.id"], CERTS);
    use std::os::unix::fs::PermissionsExt;
    let pending = store.join("pending-key.pem");
    assert_eq!(
        std::fs::metadata(&pending).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(log_message_ids(&s).contains(&"OpenDCRE.1.2.CertificateRequestMade".to_string()));
    // The served certificate has not changed.
    let before = served_fingerprint(&s.tls_addr(), &first_ca.pem);
    drop(s);

    // The CA signs the request, SANs and all.
    let path = |p: std::path::PathBuf| p.display().to_string();
    let ca_crt = path(pki::write(dir.path(), "ca.crt", &first_ca.pem));
    let ca_key = path(pki::write(dir.path(), "ca.key", &first_ca.key_pem()));
    let csr_file = path(pki::write(dir.path(), "node.csr", &csr));
    let verify = std::process::Command::new("openssl")
        .args(["req", "-verify", "-noout", "-in", &csr_file])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let signed = dir.path().join("node.crt");
    let out = std::process::Command::new("openssl")
        .args([
            "x509", "-req", "-in", &csr_file, "-CA", &ca_crt, "-CAkey", &ca_key,
        ])
        .args([
            "-CAcreateserial",
            "-days",
            "30",
            "-copy_extensions",
            "copy",
            "-out",
        ])
        .arg(&signed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = std::fs::read_to_string(&signed).unwrap();

    // After a restart, the certificate alone.
    let (s, _cfg) = Server::with_config(&config);
    let r = send(&s, "POST", REPLACE, ADMIN, &replace_body(&cert), &[]);
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    let now = served_fingerprint(&s.tls_addr(), &first_ca.pem);
    assert_ne!(now, before);
    let shown = get_ok(&s, CERT, Some(READER));
    assert_eq!(shown["Fingerprint"], now);
    assert_eq!(shown["Subject"]["Organization"], "Example DC");
    assert!(!pending.exists(), "the key is spent");
    // A second certificate for the spent key's request is refused.
    let r = send(
        &s,
        "POST",
        REPLACE,
        ADMIN,
        &replace_body(&first.cert_pem),
        &[],
    );
    assert_eq!(r.status, 400);

    // Bad requests change nothing.
    let bad = serde_json::json!({
        "CertificateCollection": { "@odata.id": CERTS },
        "CommonName": "x",
        "KeyPairAlgorithm": "TPM_ALG_RSA",
    })
    .to_string();
    let r = send(&s, "POST", GENERATE_CSR, ADMIN, &bad, &[]);
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "Base.1.22.ActionParameterValueNotInList");
    assert!(!pending.exists());
}

/// Without TLS the node has no certificate, and nothing to replace.
#[test]
fn no_tls_no_certificate() {
    let (s, _cfg, _dir) = stateful_node();
    let np = get_ok(
        &s,
        "/redfish/v1/Managers/RackManager/NetworkProtocol",
        Some(READER),
    );
    assert_eq!(np["HTTPS"]["ProtocolEnabled"], false);
    assert_eq!(
        get_ok(&s, CERTS, Some(READER))["Members"],
        serde_json::json!([])
    );
    assert_eq!(get(&s, CERT, Some(READER)).status, 404);
    let r = send(&s, "POST", REPLACE, ADMIN, &replace_body("x"), &[]);
    assert_eq!(r.status, 503);
    assert_eq!(error_code(&r), "Base.1.22.ServiceDisabled");
}

/// The image's root side of a network change, run as the test user
/// against a scratch root (`OPENMIST_ROOT`): the real scripts of
/// overlays/usr/lib/openmist.
fn apply_network_request(
    request: &std::path::Path,
    settings: &std::path::Path,
    root: &std::path::Path,
) -> std::process::Output {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../overlays/usr/lib/openmist/apply-network-request");
    Command::new("sh")
        .arg(script)
        .arg(request)
        .arg(settings)
        .env("OPENMIST_ROOT", root)
        .output()
        .expect("sh")
}

#[test]
fn the_network_settings_go_through_the_images_request() {
    let (dir, rack) = crate::redfish::rack_file();
    let request = dir.path().join("run/network-request");
    std::fs::create_dir(dir.path().join("run")).unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let state = root.join("run/openmist/network.env");
    let settings = dir.path().join("openmist.txt");
    std::fs::write(
        &settings,
        "# settings\r\nhostname=openmist\r\nnetwork=dhcp\r\n#address=192.0.2.20/24\r\n",
    )
    .unwrap();
    // The interface the image's wired network would be: any of this
    // machine's (the settings never touch the machine's own network).
    let name = get_ok(&crate::redfish::node(&rack).0, IFS, Some(READER))["Members"][0]["@odata.id"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("the machine has a network interface besides lo")
        .to_string();
    let toml = crate::redfish::node_toml(
        &rack,
        &format!(
            "[event_log]\npath = {:?}\n[manager]\nnetwork_request = {:?}\nnetwork_state = {:?}\nnetwork_interfaces = [{name:?}]\n",
            dir.path().join("events.jsonl").display().to_string(),
            request.display().to_string(),
            state.display().to_string(),
        ),
    );
    let (s, _cfg) = Server::with_config(&toml);
    let uri = format!("{IFS}/{name}");
    let r = get(&s, &uri, Some(READER));
    assert_eq!(r.header("Allow"), Some("GET, HEAD, PATCH"));
    let v = r.json();
    assert!(v.get("DHCPv4").is_none(), "no summary yet: {v}");
    let etag = r.header("ETag").unwrap().to_string();
    let addr = r#"{"IPv4Addresses": [{"Address": "192.0.2.20", "SubnetMask": "255.255.255.0", "Gateway": "192.0.2.1"}], "HostName": "rack7-rm", "StaticNameServers": ["192.0.2.53"]}"#;
    crate::redfish::assert_patches_refused(
        &s,
        &uri,
        &[
            (
                READER,
                addr,
                Some(etag.as_str()),
                403,
                "InsufficientPrivilege",
            ),
            (
                OPERATOR,
                addr,
                Some(etag.as_str()),
                403,
                "InsufficientPrivilege",
            ),
            (ADMIN, addr, None, 428, "PreconditionRequired"),
            (ADMIN, addr, Some("\"0000\""), 412, "PreconditionFailed"),
            (
                ADMIN,
                r#"{"HostName": "bad_name"}"#,
                Some(etag.as_str()),
                400,
                "PropertyValueFormatError",
            ),
            (
                ADMIN,
                r#"{"NameServers": ["192.0.2.53"]}"#,
                Some(etag.as_str()),
                400,
                "PropertyNotWritable",
            ),
        ],
    );
    assert!(!request.exists(), "nothing asked for");
    let r = send(
        &s,
        "PATCH",
        &uri,
        ADMIN,
        addr,
        &[("If-Match", etag.as_str())],
    );
    assert_eq!(r.status, 204, "{}", r.message());
    let asked = std::fs::read_to_string(&request).unwrap();
    assert_eq!(
        asked,
        "# asked by admin through Redfish\nhostname=rack7-rm\nnetwork=static\naddress=192.0.2.20/24\ngateway=192.0.2.1\ndns=192.0.2.53\n"
    );
    let r = send(
        &s,
        "PATCH",
        &uri,
        ADMIN,
        r#"{"HostName": "x"}"#,
        &[("If-Match", "*")],
    );
    assert_eq!(r.status, 503, "the first one is not taken yet");
    assert!(log_message_ids(&s)
        .iter()
        .any(|m| m.ends_with("NetworkSettingsChanged")));

    // The image takes it: into the settings file, applied (the scratch root).
    let out = apply_network_request(&request, &settings, &root);
    assert!(out.status.success(), "{out:?}");
    assert!(!request.exists());
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "# settings\r\nhostname=rack7-rm\nnetwork=static\n#address=192.0.2.20/24\r\naddress=192.0.2.20/24\ngateway=192.0.2.1\ndns=192.0.2.53\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "rack7-rm\n"
    );
    let net =
        std::fs::read_to_string(root.join("run/systemd/network/10-openmist-settings.network"))
            .unwrap();
    assert!(
        net.contains("Address=192.0.2.20/24\nGateway=192.0.2.1\nDNS=192.0.2.53\n"),
        "{net}"
    );
    // And the interface shows the settings now in force.
    let v = get_ok(&s, &uri, Some(READER));
    assert_eq!(v["DHCPv4"]["DHCPEnabled"], false);
    assert_eq!(v["IPv4StaticAddresses"][0]["Address"], "192.0.2.20");
    assert_eq!(v["IPv4StaticAddresses"][0]["SubnetMask"], "255.255.255.0");
    assert_eq!(v["IPv4StaticAddresses"][0]["Gateway"], "192.0.2.1");
    assert_eq!(v["StaticNameServers"], serde_json::json!(["192.0.2.53"]));
    assert!(
        v["@Redfish.WriteableProperties"]
            .as_array()
            .unwrap()
            .contains(&"FQDN".into())
            == v.get("FQDN").is_some()
    );

    // Back to DHCP with DHCP's name servers.
    let r = send(
        &s,
        "PATCH",
        &uri,
        ADMIN,
        r#"{"DHCPv4": {"DHCPEnabled": true}, "StaticNameServers": []}"#,
        &[("If-Match", "*")],
    );
    assert_eq!(r.status, 204, "{}", r.message());
    let out = apply_network_request(&request, &settings, &root);
    assert!(out.status.success(), "{out:?}");
    assert!(!root
        .join("run/systemd/network/10-openmist-settings.network")
        .exists());
    let v = get_ok(&s, &uri, Some(READER));
    assert_eq!(v["DHCPv4"]["DHCPEnabled"], true);
    assert_eq!(v["IPv4StaticAddresses"], serde_json::json!([]));
    assert_eq!(v["StaticNameServers"], serde_json::json!([]));

    // A request the service could not have written changes nothing.
    let before = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&request, "tls_key=../../etc/shadow\n").unwrap();
    let out = apply_network_request(&request, &settings, &root);
    assert!(!out.status.success());
    std::fs::write(&request, "hostname=-bad-\n").unwrap();
    let out = apply_network_request(&request, &settings, &root);
    assert!(
        !out.status.success(),
        "checked as the settings file's lines are"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a valid host name"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), before);

    // Other interfaces, and a node without the request file: read-only.
    let (s, _cfg) = Server::with_config(&crate::redfish::node_toml(&rack, ""));
    let r = send(
        &s,
        "PATCH",
        &uri,
        ADMIN,
        r#"{"HostName": "x"}"#,
        &[("If-Match", "*")],
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    let why = r.json()["error"]["@Message.ExtendedInfo"][0]["Resolution"].clone();
    assert!(why.as_str().unwrap().contains("network_request"), "{why}");
}
