//! `[telemetry]` in opendcre.toml (docs/metrics.md, "Configuration").

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

/// Poll intervals per kind, seconds. Power status changes rarely and costs
/// a longer answer; LEDs and BMCs (a UDP session each) even more rarely.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Intervals {
    pub thermistor: u64,
    pub temperature: u64,
    pub humidity: u64,
    pub pressure: u64,
    pub current: u64,
    pub fan_speed: u64,
    pub power: u64,
    pub led: u64,
    pub bmc: u64,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            thermistor: 10,
            temperature: 10,
            humidity: 10,
            pressure: 10,
            current: 10,
            fan_speed: 10,
            power: 15,
            led: 30,
            bmc: 30,
        }
    }
}

/// Who may scrape `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetricsRole {
    #[default]
    Reader,
    Operator,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Off: no poller, and the telemetry endpoints answer 404.
    pub enabled: bool,
    /// The `rack` label; unset: the host name.
    pub rack: Option<String>,
    /// Age at which the cached scan is redone (board by board).
    pub scan_ttl_secs: u64,
    /// Age at which the re-scan is a scan-all instead, which finds boards
    /// added to the bus since (a per-board re-scan asks only known ones).
    pub discover_secs: u64,
    pub interval_secs: Intervals,
    /// Samples kept per device (360 × 10 s = one hour).
    pub history_len: usize,
    pub metrics_role: MetricsRole,
    /// Networks (`10.0.0.0/8`, `fd00::/8`, or one address) whose requests
    /// without credentials may scrape `/metrics`: the Prometheus server's.
    pub metrics_anonymous_networks: Vec<String>,
}

/// An address block, `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `a.b.c.d/n`, `x::/n` or a single address.
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an address or network (10.0.0.0/8, fd00::/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: prefix length must be 0..={max}"))?,
        };
        Ok(IpNet { addr, prefix })
    }

    /// IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`) match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(v)),
                IpAddr::V6(v) => u128::from(v),
            }
        };
        let ip = ip.to_canonical();
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let width = if ip.is_ipv4() { 32 } else { 128 };
        if self.prefix == 0 {
            return true;
        }
        let shift = width - u32::from(self.prefix);
        bits(ip) >> shift == bits(self.addr) >> shift
    }
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            enabled: true,
            rack: None,
            scan_ttl_secs: 300,
            discover_secs: 3600,
            interval_secs: Intervals::default(),
            history_len: 360,
            metrics_role: MetricsRole::Reader,
            metrics_anonymous_networks: Vec::new(),
        }
    }
}

/// The largest history ring accepted: a day of 10 s samples. Memory grows
/// with it (16 bytes a one-value sample), and the node has little.
pub const MAX_HISTORY_LEN: usize = 8640;

impl TelemetryConfig {
    /// Checks ranges; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        let i = &self.interval_secs;
        for (name, v) in [
            ("thermistor", i.thermistor),
            ("temperature", i.temperature),
            ("humidity", i.humidity),
            ("pressure", i.pressure),
            ("current", i.current),
            ("fan_speed", i.fan_speed),
            ("power", i.power),
            ("led", i.led),
            ("bmc", i.bmc),
        ] {
            if !(1..=86_400).contains(&v) {
                return Err(format!(
                    "telemetry.interval_secs.{name} = {v}: must be 1..=86400 seconds"
                ));
            }
        }
        if !(1..=86_400).contains(&self.scan_ttl_secs) {
            return Err(format!(
                "telemetry.scan_ttl_secs = {}: must be 1..=86400 seconds",
                self.scan_ttl_secs
            ));
        }
        if !(1..=86_400).contains(&self.discover_secs) {
            return Err(format!(
                "telemetry.discover_secs = {}: must be 1..=86400 seconds",
                self.discover_secs
            ));
        }
        if !(1..=MAX_HISTORY_LEN).contains(&self.history_len) {
            return Err(format!(
                "telemetry.history_len = {}: must be 1..={MAX_HISTORY_LEN} samples",
                self.history_len
            ));
        }
        self.anonymous_networks()?;
        if let Some(r) = &self.rack {
            if r.is_empty() {
                return Err("telemetry.rack is empty: leave it out to use the host name".into());
            }
        }
        Ok(())
    }

    pub fn anonymous_networks(&self) -> Result<Vec<IpNet>, String> {
        self.metrics_anonymous_networks
            .iter()
            .map(|n| {
                IpNet::parse(n).map_err(|e| format!("telemetry.metrics_anonymous_networks: {e}"))
            })
            .collect()
    }

    pub fn scan_ttl(&self) -> Duration {
        Duration::from_secs(self.scan_ttl_secs)
    }

    pub fn discover_every(&self) -> Duration {
        Duration::from_secs(self.discover_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let c = TelemetryConfig::default();
        assert!(c.enabled);
        assert_eq!(c.scan_ttl_secs, 300);
        assert_eq!(c.discover_secs, 3600);
        assert_eq!(c.history_len, 360);
        assert_eq!(c.interval_secs.thermistor, 10);
        assert_eq!(c.interval_secs.power, 15);
        assert_eq!(c.interval_secs.led, 30);
        assert_eq!(c.interval_secs.bmc, 30);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn networks() {
        let n = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(!n.contains("fd00::1".parse().unwrap()));
        let one = IpNet::parse("192.0.2.7").unwrap();
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("prometheus.local").is_err());
        let c = TelemetryConfig {
            metrics_anonymous_networks: vec!["10.0.0.0/40".into()],
            ..TelemetryConfig::default()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .contains("metrics_anonymous_networks"));
    }

    #[test]
    fn validation_names_the_key() {
        let mut c = TelemetryConfig::default();
        c.interval_secs.led = 0;
        assert!(c.validate().unwrap_err().contains("interval_secs.led"));
        let c = TelemetryConfig {
            history_len: 0,
            ..TelemetryConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("history_len"));
    }
}
