//! The `[tls]` configuration table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

/// `[tls]`: certificate material and which listeners speak TLS.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve the API over TLS on `listen`.
    pub enabled: bool,
    /// Addresses that speak TLS.
    pub listen: Vec<SocketAddr>,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Oldest protocol version accepted; nothing older than 1.2 is possible.
    pub min_version: TlsVersion,
    /// PEM bundle of CAs whose client certificates are accepted (mutual TLS).
    /// Unset: no client certificates are requested.
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: whether a client certificate is required for the
    /// handshake or only used when offered.
    pub client_auth: ClientAuthMode,
    /// What the plain-HTTP listeners (`[server].listen`) may do while TLS is
    /// on. Unset: `loopback` when TLS is enabled, `on` otherwise.
    pub plain_http: Option<PlainHttp>,
    /// Time a client has to finish the TLS handshake.
    pub handshake_timeout_ms: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            enabled: false,
            listen: vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5443)],
            cert: PathBuf::from("/etc/opendcre/tls/server.crt"),
            key: PathBuf::from("/etc/opendcre/tls/server.key"),
            min_version: TlsVersion::V1_2,
            client_ca: None,
            client_auth: ClientAuthMode::Optional,
            plain_http: None,
            handshake_timeout_ms: 10_000,
        }
    }
}

/// Lowest TLS version the server negotiates.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum TlsVersion {
    #[serde(rename = "1.2")]
    V1_2,
    #[serde(rename = "1.3")]
    V1_3,
}

/// Whether a client certificate is needed to complete the handshake.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthMode {
    /// Clients without a certificate may still authenticate by header.
    Optional,
    /// The handshake fails without a certificate from `client_ca`.
    Required,
}

/// Policy for unencrypted HTTP listeners.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PlainHttp {
    /// Plain HTTP on every configured address.
    On,
    /// Plain HTTP only on loopback: wildcard addresses are narrowed to the
    /// loopback address of the same family, other addresses are dropped.
    Loopback,
    /// No plain-HTTP listener at all.
    Off,
}

impl TlsConfig {
    /// The plain-HTTP policy in force, with the default resolved.
    pub fn effective_plain_http(&self) -> PlainHttp {
        match self.plain_http {
            Some(p) => p,
            None if self.enabled => PlainHttp::Loopback,
            None => PlainHttp::On,
        }
    }

    /// Which of the server's plain-HTTP addresses may actually be bound.
    /// Keeps a clear-text listener from ending up on the LAN by accident
    /// once TLS is configured.
    pub fn plain_http_addrs(&self, server_listen: &[SocketAddr]) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = Vec::new();
        for addr in server_listen {
            let keep = match self.effective_plain_http() {
                PlainHttp::On => Some(*addr),
                PlainHttp::Off => None,
                PlainHttp::Loopback => narrow_to_loopback(*addr),
            };
            if let Some(a) = keep {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }
}

fn narrow_to_loopback(addr: SocketAddr) -> Option<SocketAddr> {
    let ip = addr.ip();
    if ip.is_loopback() {
        return Some(addr);
    }
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            addr.port(),
        )),
        IpAddr::V6(v6) if v6.is_unspecified() => Some(SocketAddr::new(
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            addr.port(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn plain_http_policy_filters_addresses() {
        let listen = addrs(&[
            "0.0.0.0:5000",
            "[::]:5000",
            "192.0.2.7:5000",
            "127.0.0.1:5001",
        ]);
        let mut cfg = TlsConfig {
            enabled: true,
            ..TlsConfig::default()
        };
        assert_eq!(
            cfg.plain_http_addrs(&listen),
            addrs(&["127.0.0.1:5000", "[::1]:5000", "127.0.0.1:5001"])
        );
        cfg.plain_http = Some(PlainHttp::Off);
        assert!(cfg.plain_http_addrs(&listen).is_empty());
        cfg.plain_http = Some(PlainHttp::On);
        assert_eq!(cfg.plain_http_addrs(&listen), listen);
        cfg.plain_http = None;
        cfg.enabled = false;
        assert_eq!(cfg.plain_http_addrs(&listen), listen);
    }

    #[test]
    fn parses_documented_keys_and_rejects_unknown_ones() {
        let cfg: TlsConfig = toml::from_str(
            r#"
            enabled = true
            listen = ["0.0.0.0:5443"]
            cert = "/c.pem"
            key = "/k.pem"
            min_version = "1.3"
            client_ca = "/ca.pem"
            client_auth = "required"
            plain_http = "off"
            handshake_timeout_ms = 500
            "#,
        )
        .unwrap();
        assert_eq!(cfg.min_version, TlsVersion::V1_3);
        assert_eq!(cfg.client_auth, ClientAuthMode::Required);
        assert_eq!(cfg.effective_plain_http(), PlainHttp::Off);
        assert!(toml::from_str::<TlsConfig>("min_version = \"1.1\"").is_err());
        assert!(toml::from_str::<TlsConfig>("certificate = \"/x\"").is_err());
    }
}
