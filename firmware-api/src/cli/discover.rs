//! `opendcre discover`: find OpenDCRE nodes on a network and write a
//! Prometheus `file_sd` file for them.
//!
//! Two ways to find candidates:
//! - DNS-SD (the default): `avahi-browse -rpt _opendcre._tcp`, the browser an
//!   operator's Debian host has (package `avahi-utils`); the node announces
//!   itself with avahi (`/etc/avahi/services/opendcre.service` in the image).
//! - `--probe NET`: every address of a range (CIDR, a single address) on
//!   `--port` (a port or a range), for networks without multicast.
//!
//! Every candidate is then confirmed the same way: `GET /opendcre/1.1/test`
//! must answer 200 with `{"status":"ok"}`, over TLS or plain HTTP. TLS is
//! verified against `--ca-file` when given; without it any certificate is
//! accepted, because the probe only identifies a node (the table says
//! `unverified`; Prometheus verifies with its own CA file when it scrapes).
//! A confirmed node is asked for `/metrics` once to learn its `rack` label.
//!
//! Each probe has a timeout per connection and request, and at most
//! `--concurrency` probes run at once.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

/// The DNS-SD service type the image announces.
pub const SERVICE_TYPE: &str = "_opendcre._tcp";
/// The route whose answer identifies a node.
const TEST_PATH: &str = "/opendcre/1.1/test";
/// Answers are small; a peer that sends more than this is not a node.
const MAX_ANSWER: usize = 256 * 1024;
/// More probes than this in one run is a typo in the range, not a network.
const MAX_PROBES: usize = 1 << 20;

/// Arguments of `opendcre discover`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiscoverArgs {
    /// Probe these addresses instead of browsing DNS-SD: a CIDR range
    /// (10.0.0.0/24: its host addresses) or one address. Repeatable.
    #[arg(long, value_name = "NET")]
    pub probe: Vec<String>,
    /// Ports to probe on every address: a port, a range FIRST-LAST, or a
    /// comma-separated list of both (the image serves HTTPS on 5000).
    #[arg(long, value_name = "PORTS", default_value = "5000")]
    pub port: String,
    /// Which protocols to try: `auto` tries TLS, then plain HTTP.
    #[arg(long, value_enum, default_value_t = SchemeChoice::Auto)]
    pub scheme: SchemeChoice,
    /// PEM CA bundle to verify the nodes' certificates; without it any
    /// certificate is accepted for identification (shown as `unverified`).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// File holding a bearer token (the `reader` role is enough) sent with
    /// every probe; a node with authentication answers 401 without one.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Write the confirmed nodes as a Prometheus file_sd JSON file (written
    /// to a temporary file and renamed, so Prometheus never reads half).
    #[arg(long, value_name = "PATH")]
    pub file_sd: Option<PathBuf>,
    /// Probes in flight at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: u32,
    /// Timeout of each connection and of each request, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// How long avahi-browse may take to resolve the announced services.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub browse_timeout: u64,
    /// Leave the table out (only the file_sd file is written).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `--scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemeChoice {
    Auto,
    Https,
    Http,
}

/// What a probe of one address learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub addr: SocketAddr,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// Whether the certificate was checked against `--ca-file`.
    pub verified: bool,
    /// The `rack` label of the node's series, if its /metrics answered.
    pub rack: Option<String>,
    /// Status of `GET /metrics` (404 before the telemetry exists).
    pub metrics_status: Option<u16>,
}

/// A candidate that answered HTTP but is not (or not yet) a confirmed node.
#[derive(Debug, Clone)]
struct Refusal {
    addr: SocketAddr,
    scheme: &'static str,
    status: u16,
}

enum Outcome {
    Node(Node),
    Refused(Refusal),
    Nothing,
}

/// Runs `opendcre discover`.
pub async fn run(args: DiscoverArgs) -> anyhow::Result<()> {
    let token = match &args.token_file {
        Some(p) => Some(read_token(p)?),
        None => None,
    };
    let tls = Arc::new(client_config(args.ca_file.as_deref())?);
    let candidates = if args.probe.is_empty() {
        browse_avahi(Duration::from_secs(args.browse_timeout)).await?
    } else {
        let ports = parse_ports(&args.port)?;
        let mut addrs = Vec::new();
        for net in &args.probe {
            for ip in parse_net(net)? {
                for &port in &ports {
                    addrs.push(SocketAddr::new(ip, port));
                    if addrs.len() > MAX_PROBES {
                        bail!(
                            "more than {MAX_PROBES} addresses to probe; narrow --probe or --port"
                        );
                    }
                }
            }
        }
        addrs
    };
    let probe = Arc::new(Probe {
        tls,
        verified: args.ca_file.is_some(),
        token,
        timeout: Duration::from_millis(args.timeout_ms),
        scheme: args.scheme,
    });
    let (nodes, refused) = probe_all(probe, candidates, args.concurrency as usize).await;
    if !args.quiet {
        print_table(&nodes, &refused)?;
    }
    if let Some(path) = &args.file_sd {
        write_file_sd(path, &nodes)?;
    }
    if nodes.is_empty() {
        eprintln!("opendcre discover: no OpenDCRE node found");
    }
    Ok(())
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the token file {}", path.display()))?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        bail!("{}: expected one token on one line", path.display());
    }
    Ok(token.to_string())
}

struct Probe {
    tls: Arc<ClientConfig>,
    verified: bool,
    token: Option<String>,
    timeout: Duration,
    scheme: SchemeChoice,
}

async fn probe_all(
    probe: Arc<Probe>,
    candidates: Vec<SocketAddr>,
    concurrency: usize,
) -> (Vec<Node>, Vec<Refusal>) {
    let mut nodes = BTreeMap::new();
    let mut refused = BTreeMap::new();
    let mut set = JoinSet::new();
    let mut todo = candidates.into_iter();
    loop {
        while set.len() < concurrency {
            let Some(addr) = todo.next() else { break };
            let p = probe.clone();
            set.spawn(async move { p.one(addr).await });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        match done {
            Ok(Outcome::Node(n)) => {
                nodes.insert(n.addr, n);
            }
            Ok(Outcome::Refused(r)) => {
                refused.insert(r.addr, r);
            }
            Ok(Outcome::Nothing) => {}
            Err(e) => eprintln!("opendcre discover: a probe failed: {e}"),
        }
    }
    (
        nodes.into_values().collect(),
        refused.into_values().collect(),
    )
}

impl Probe {
    async fn one(&self, addr: SocketAddr) -> Outcome {
        let schemes: &[&'static str] = match self.scheme {
            SchemeChoice::Auto => &["https", "http"],
            SchemeChoice::Https => &["https"],
            SchemeChoice::Http => &["http"],
        };
        let mut refusal = None;
        for &scheme in schemes {
            let Ok(answer) = self.get(addr, scheme, TEST_PATH).await else {
                continue;
            };
            if answer.status == 200 && is_test_ok(&answer.body) {
                let metrics = self.get(addr, scheme, "/metrics").await.ok();
                let rack = metrics
                    .as_ref()
                    .filter(|m| m.status == 200)
                    .and_then(|m| rack_label(&m.body));
                return Outcome::Node(Node {
                    addr,
                    scheme,
                    verified: scheme == "https" && self.verified,
                    rack,
                    metrics_status: metrics.map(|m| m.status),
                });
            }
            refusal = Some(Refusal {
                addr,
                scheme,
                status: answer.status,
            });
            // An HTTP answer on this protocol: the other one will not be
            // spoken on the same port.
            break;
        }
        refusal.map_or(Outcome::Nothing, Outcome::Refused)
    }

    /// One GET on a fresh connection, bounded by the timeout twice (connect
    /// + handshake, then request and answer).
    async fn get(&self, addr: SocketAddr, scheme: &str, path: &str) -> anyhow::Result<Answer> {
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect(addr))
            .await
            .context("connect timed out")??;
        let mut head = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: opendcre-discover\r\nAccept: */*\r\n"
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        if scheme == "https" {
            let name = ServerName::IpAddress(addr.ip().into());
            let tls = tokio::time::timeout(
                self.timeout,
                TlsConnector::from(self.tls.clone()).connect(name, tcp),
            )
            .await
            .context("TLS handshake timed out")??;
            exchange(tls, head.as_bytes(), self.timeout).await
        } else {
            exchange(tcp, head.as_bytes(), self.timeout).await
        }
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
}

async fn exchange<S>(mut s: S, head: &[u8], timeout: Duration) -> anyhow::Result<Answer>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io = async {
        s.write_all(head).await?;
        s.flush().await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match s.read(&mut buf).await {
                Ok(n) => n,
                // A TLS peer that closes without close_notify after a
                // complete answer (Connection: close) is still an answer.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => 0,
                Err(e) => return Err(anyhow::Error::from(e)),
            };
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.len() > MAX_ANSWER {
                bail!("answer larger than {MAX_ANSWER} bytes");
            }
        }
        Ok(raw)
    };
    let raw = tokio::time::timeout(timeout, io)
        .await
        .context("request timed out")??;
    parse_answer(&raw).context("not an HTTP answer")
}

fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.split(' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = &raw[end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some(Answer { status, body })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// `{"status":"ok"}` (any spacing, any further keys).
fn is_test_ok(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(|s| s == "ok"))
        .unwrap_or(false)
}

/// The value of the first `rack="…"` label in a Prometheus text answer.
fn rack_label(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(open) = line.find('{') else { continue };
        let Some(i) = line[open..].find("rack=\"") else {
            continue;
        };
        let rest = &line[open + i + 6..];
        let mut value = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(value),
                '\\' => match chars.next()? {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        }
        return None;
    }
    None
}

/// A TLS client that verifies against `ca` or, without one, accepts any
/// certificate (signatures of the handshake are still checked).
fn client_config(ca: Option<&Path>) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let config = match ca {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot read the CA file {}", path.display()))?;
            let mut n = 0;
            for cert in rustls_pemfile_certs(file, path)? {
                roots
                    .add(cert)
                    .with_context(|| format!("{}: not a usable CA certificate", path.display()))?;
                n += 1;
            }
            if n == 0 {
                bail!("{}: no certificate in the file", path.display());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(IdentifyOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

fn rustls_pemfile_certs(
    file: std::fs::File,
    path: &Path,
) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject as _;
    CertificateDer::pem_reader_iter(std::io::BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: not a PEM certificate bundle", path.display()))
}

/// Accepts any server certificate: the probe only asks "is this OpenDCRE?".
#[derive(Debug)]
struct IdentifyOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for IdentifyOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `5000`, `20000-20199`, or a comma-separated list of both.
fn parse_ports(text: &str) -> anyhow::Result<Vec<u16>> {
    let port = |s: &str| -> anyhow::Result<u16> {
        match s.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => bail!("--port {text}: not a port (1-65535), a range FIRST-LAST or a list of them"),
        }
    };
    let mut ports = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(part)?;
                (p, p)
            }
        };
        if a > b {
            bail!("--port {text}: the range {part} is empty");
        }
        for p in a..=b {
            if seen.insert(p) {
                ports.push(p);
            }
        }
    }
    Ok(ports)
}

/// `10.0.0.0/24` (host addresses only, as /31 and /32 have no others), or
/// one IPv4/IPv6 address.
fn parse_net(text: &str) -> anyhow::Result<Vec<IpAddr>> {
    let bad = || {
        anyhow::anyhow!(
            "--probe {text}: expected an address or an IPv4 CIDR range such as 10.0.0.0/24"
        )
    };
    let Some((addr, len)) = text.split_once('/') else {
        return text
            .trim()
            .parse::<IpAddr>()
            .map(|a| vec![a])
            .map_err(|_| bad());
    };
    let base: Ipv4Addr = addr.trim().parse().map_err(|_| bad())?;
    let len: u32 = len.trim().parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    if len < 12 {
        bail!("--probe {text}: a /{len} has too many addresses to probe; split it");
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let first = u32::from(base) & mask;
    let last = first | !mask;
    let (lo, hi) = if len >= 31 {
        (first, last)
    } else {
        (first + 1, last - 1)
    };
    Ok((lo..=hi).map(|n| IpAddr::V4(Ipv4Addr::from(n))).collect())
}

/// Runs `avahi-browse -rpt _opendcre._tcp` (resolve, parsable, terminate
/// after the cache is dumped) and returns the resolved addresses.
async fn browse_avahi(timeout: Duration) -> anyhow::Result<Vec<SocketAddr>> {
    let child = tokio::process::Command::new("avahi-browse")
        .args(["-rpt", SERVICE_TYPE])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "avahi-browse not found: install avahi-utils (and run avahi-daemon), or use --probe NET"
                )
            } else {
                anyhow::Error::from(e).context("cannot run avahi-browse")
            }
        })?;
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .with_context(|| {
            format!(
                "avahi-browse did not finish within {} s (--browse-timeout)",
                timeout.as_secs()
            )
        })?
        .context("avahi-browse failed")?;
    if !out.status.success() {
        bail!(
            "avahi-browse failed ({}): {} (is avahi-daemon running? else use --probe NET)",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(parse_avahi_browse(&String::from_utf8_lossy(&out.stdout)))
}

/// The resolved (`=`) records of `avahi-browse -p` output; IPv6 link-local
/// addresses are left out (they need a zone a file_sd target cannot carry).
fn parse_avahi_browse(text: &str) -> Vec<SocketAddr> {
    let mut found = Vec::new();
    for line in text.lines() {
        // =;iface;proto;name;type;domain;host;address;port;txt
        let fields: Vec<&str> = line.splitn(10, ';').collect();
        if fields.len() < 9 || fields[0] != "=" || fields[4] != SERVICE_TYPE {
            continue;
        }
        let (Ok(ip), Ok(port)) = (fields[7].parse::<IpAddr>(), fields[8].parse::<u16>()) else {
            continue;
        };
        if let IpAddr::V6(v6) = ip {
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                continue;
            }
        }
        let addr = SocketAddr::new(ip, port);
        if !found.contains(&addr) {
            found.push(addr);
        }
    }
    found
}

fn print_table(nodes: &[Node], refused: &[Refusal]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<40} {:<6} {:<10} {:<16} METRICS",
        "ADDRESS", "SCHEME", "TLS", "RACK"
    )?;
    for n in nodes {
        let tls = match (n.scheme, n.verified) {
            ("https", true) => "verified",
            ("https", false) => "unverified",
            _ => "-",
        };
        let metrics = n
            .metrics_status
            .map_or_else(|| "-".to_string(), |s| s.to_string());
        writeln!(
            out,
            "{:<40} {:<6} {:<10} {:<16} {}",
            n.addr.to_string(),
            n.scheme,
            tls,
            n.rack.as_deref().unwrap_or("-"),
            metrics
        )?;
    }
    for r in refused {
        writeln!(
            out,
            "# {} ({}) answered {} to {TEST_PATH}: not listed{}",
            r.addr,
            r.scheme,
            r.status,
            if r.status == 401 || r.status == 403 {
                " (give --token-file with a reader token)"
            } else {
                ""
            }
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The file_sd JSON for `nodes`: one target group per node, so that each
/// keeps its own scheme and rack.
pub fn file_sd_json(nodes: &[Node]) -> serde_json::Value {
    let groups: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            let mut labels = serde_json::Map::new();
            labels.insert("__scheme__".into(), n.scheme.into());
            labels.insert("__metrics_path__".into(), "/metrics".into());
            if let Some(rack) = &n.rack {
                labels.insert("rack".into(), rack.clone().into());
            }
            serde_json::json!({ "targets": [n.addr.to_string()], "labels": labels })
        })
        .collect();
    serde_json::Value::Array(groups)
}

/// Writes the file next to its final name and renames it into place.
fn write_file_sd(path: &Path, nodes: &[Node]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("--file-sd {}: not a file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut text = serde_json::to_string_pretty(&file_sd_json(nodes))?;
    text.push('\n');
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::Error::from(e).context(format!("cannot write {}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_ranges() {
        assert_eq!(parse_ports("5000").unwrap(), vec![5000]);
        assert_eq!(parse_ports("20000-20199").unwrap().len(), 200);
        assert_eq!(
            parse_ports("5000,443,5000-5001").unwrap(),
            vec![5000, 443, 5001]
        );
        for bad in ["0", "70000", "5-4", "x", "", "5000,"] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks() {
        let n = parse_net("10.0.0.0/24").unwrap();
        assert_eq!(n.len(), 254);
        assert_eq!(n[0], "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(n[253], "10.0.0.254".parse::<IpAddr>().unwrap());
        // The base need not be the network address.
        assert_eq!(parse_net("10.0.0.77/30").unwrap().len(), 2);
        assert_eq!(parse_net("10.0.0.5/32").unwrap().len(), 1);
        assert_eq!(parse_net("127.0.0.1").unwrap().len(), 1);
        assert_eq!(parse_net("::1").unwrap().len(), 1);
        for bad in ["10.0.0.0/33", "10.0.0.0/8", "host", "10.0.0/24"] {
            assert!(parse_net(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn avahi_browse_records() {
        // Captured shape of `avahi-browse -rpt _opendcre._tcp`: "+" lines
        // are unresolved, "=" lines carry address, port and TXT.
        let text = concat!(
            "+;eth0;IPv4;openmist-01;_opendcre._tcp;local\n",
            "=;eth0;IPv6;openmist-01;_opendcre._tcp;local;openmist-01.local;fe80::ba27:ebff:fe00:1;5000;\"api=1.1\"\n",
            "=;eth0;IPv4;openmist-01;_opendcre._tcp;local;openmist-01.local;10.0.0.21;5000;\"version=0.1.0\" \"metrics=/metrics\" \"api=1.1\" \"path=/opendcre/1.1\"\n",
            "=;eth0;IPv6;openmist-02;_opendcre._tcp;local;openmist-02.local;2001:db8::2;5000;\n",
            "=;eth0;IPv4;printer;_ipp._tcp;local;printer.local;10.0.0.9;631;\n",
            "=;wlan0;IPv4;openmist-01;_opendcre._tcp;local;openmist-01.local;10.0.0.21;5000;\n",
        );
        assert_eq!(
            parse_avahi_browse(text),
            vec![
                "10.0.0.21:5000".parse::<SocketAddr>().unwrap(),
                "[2001:db8::2]:5000".parse().unwrap()
            ]
        );
    }

    #[test]
    fn http_answers() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}")
            .unwrap();
        assert_eq!(a.status, 200);
        assert!(is_test_ok(&a.body));
        let c = parse_answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"sta\r\na\r\ntus\":\"ok\"}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert!(
            is_test_ok(&c.body),
            "{:?}",
            String::from_utf8_lossy(&c.body)
        );
        assert!(!is_test_ok(b"{\"status\":\"error\"}"));
        assert!(!is_test_ok(b"<html>ok</html>"));
        assert!(parse_answer(b"\x15\x03\x03\x00\x02\x02\x28").is_none());
        assert!(parse_answer(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").is_none());
    }

    #[test]
    fn rack_from_metrics() {
        let text = b"# HELP opendcre_scan_boards x\n# TYPE opendcre_scan_boards gauge\nopendcre_scan_boards{rack=\"rack-007\"} 4\n";
        assert_eq!(rack_label(text).as_deref(), Some("rack-007"));
        let esc = b"x{board=\"1\",rack=\"a\\\"b\"} 1\n";
        assert_eq!(rack_label(esc).as_deref(), Some("a\"b"));
        assert_eq!(rack_label(b"process_open_fds 7\n"), None);
    }

    #[test]
    fn file_sd_groups() {
        let nodes = vec![
            Node {
                addr: "127.0.0.1:5000".parse().unwrap(),
                scheme: "https",
                verified: false,
                rack: Some("rack-001".into()),
                metrics_status: Some(200),
            },
            Node {
                addr: "127.0.0.1:5001".parse().unwrap(),
                scheme: "http",
                verified: false,
                rack: None,
                metrics_status: Some(404),
            },
        ];
        assert_eq!(
            file_sd_json(&nodes),
            serde_json::json!([
                {"targets": ["127.0.0.1:5000"], "labels": {"__scheme__": "https", "__metrics_path__": "/metrics", "rack": "rack-001"}},
                {"targets": ["127.0.0.1:5001"], "labels": {"__scheme__": "http", "__metrics_path__": "/metrics"}},
            ])
        );
    }
}
