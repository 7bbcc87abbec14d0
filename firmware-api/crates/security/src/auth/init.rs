//! First-boot security material: a self-signed server certificate and one
//! API token, so the image can ship with TLS and token auth switched on.
//!
//! Writes, under the chosen directory:
//! - `tls/server.crt`, `tls/server.key` (0600): generated, or copied from
//!   files the first-boot settings provide (checked to match);
//! - `security.toml`: `[tls]` on the API port (5000, as the original's
//!   `ssl_enable` nginx did) with plain HTTP off, and `[auth.tokens].admin`
//!   holding only the hash of the token; with a client CA also mutual TLS
//!   (`client_auth = "optional"`, certificates from that CA get `reader`).
//!
//! Idempotent: with `security.toml` already present nothing is touched
//! (a second boot must not rotate the token the operator wrote down).

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

use super::token::{generate_token, hash_token, HashAlgorithm};
use crate::tls::{TlsConfig, TlsSetup};

/// What `init` should do.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Target directory, e.g. `/etc/opendcre`.
    pub dir: PathBuf,
    /// DNS names and IP addresses for the certificate; empty: this host's
    /// name, `localhost`, 127.0.0.1 and ::1.
    pub hostnames: Vec<String>,
    /// Take the API token from this file (first line) instead of making one.
    pub token_file: Option<PathBuf>,
    /// Install this certificate chain and key instead of generating.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// PEM bundle of client CAs: turns on optional mutual TLS.
    pub client_ca: Option<PathBuf>,
    /// Addresses of the TLS listeners written to `security.toml`.
    pub tls_listen: Vec<std::net::SocketAddr>,
    /// Certificate lifetime in days.
    pub days: u32,
    /// Replace existing material.
    pub force: bool,
    /// Give the written files to this user (and its primary group): the
    /// service runs unprivileged and must read the key that root wrote.
    pub owner: Option<String>,
}

/// What `init` did.
#[derive(Debug, Clone)]
pub struct InitOutcome {
    /// False when material already existed and nothing was changed.
    pub created: bool,
    pub security_file: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The new token, only when it was generated here (to be shown once).
    pub generated_token: Option<String>,
    /// SHA-256 fingerprint of the server certificate, for clients to pin.
    pub cert_sha256: String,
}

pub fn init(opts: &InitOptions) -> anyhow::Result<InitOutcome> {
    fs::create_dir_all(&opts.dir).with_context(|| format!("creating {}", opts.dir.display()))?;
    let dir = opts
        .dir
        .canonicalize()
        .with_context(|| format!("resolving {}", opts.dir.display()))?;
    let tls_dir = dir.join("tls");
    let security_file = dir.join("security.toml");
    let cert = tls_dir.join("server.crt");
    let key = tls_dir.join("server.key");
    if security_file.exists() && !opts.force {
        return Ok(InitOutcome {
            created: false,
            cert_sha256: fingerprint(&cert).unwrap_or_default(),
            security_file,
            cert,
            key,
            generated_token: None,
        });
    }
    let owner = match &opts.owner {
        Some(name) => Some(lookup_user(name)?),
        None => None,
    };
    fs::create_dir_all(&tls_dir).with_context(|| format!("creating {}", tls_dir.display()))?;

    let (cert_pem, key_pem) = match (&opts.cert_file, &opts.key_file) {
        (Some(c), Some(k)) => (
            fs::read_to_string(c).with_context(|| format!("reading {}", c.display()))?,
            fs::read_to_string(k).with_context(|| format!("reading {}", k.display()))?,
        ),
        (None, None) => self_signed(opts)?,
        _ => bail!("--cert and --key go together"),
    };
    // Everything is checked before anything in use is replaced: the pair is
    // staged beside the live one and loaded the way the server will load it,
    // with the client CA and the token, so that bad material from a card
    // (`--force` at a later boot) leaves the working set as it was.
    let staged_key = tls_dir.join("server.key.new");
    let staged_cert = tls_dir.join("server.crt.new");
    let checked = match stage_and_check(opts, &staged_cert, &cert_pem, &staged_key, &key_pem) {
        Ok(c) => c,
        Err(e) => {
            let _ = fs::remove_file(&staged_key);
            let _ = fs::remove_file(&staged_cert);
            return Err(e);
        }
    };
    fs::rename(&staged_key, &key).with_context(|| format!("renaming to {}", key.display()))?;
    fs::rename(&staged_cert, &cert).with_context(|| format!("renaming to {}", cert.display()))?;
    let listen = if opts.tls_listen.is_empty() {
        vec![std::net::SocketAddr::from(([0, 0, 0, 0], 5000))]
    } else {
        opts.tls_listen.clone()
    };
    let toml = security_toml(
        &listen,
        &cert,
        &key,
        checked.client_ca.as_deref(),
        &checked.token_hash,
    )?;
    write_file(&security_file, toml.as_bytes(), 0o640)?;
    if let Some((uid, gid)) = owner {
        for p in [&tls_dir, &key, &cert, &security_file] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))
                .with_context(|| format!("chown {} to {uid}:{gid}", p.display()))?;
        }
    }
    Ok(InitOutcome {
        created: true,
        cert_sha256: fingerprint(&cert)?,
        security_file,
        cert,
        key,
        generated_token: checked.generated_token,
    })
}

fn self_signed(opts: &InitOptions) -> anyhow::Result<(String, String)> {
    let names = if opts.hostnames.is_empty() {
        let mut v = Vec::new();
        if let Some(h) = system_hostname() {
            v.push(h);
        }
        v.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
        v
    } else {
        opts.hostnames.clone()
    };
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names[0].clone());
    dn.push(DnType::OrganizationName, "OpenDCRE node");
    params.distinguished_name = dn;
    for n in &names {
        let san = match n.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                n.clone()
                    .try_into()
                    .map_err(|e| anyhow!("{n:?} is not a valid DNS name: {e}"))?,
            ),
        };
        params.subject_alt_names.push(san);
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(i64::from(opts.days.max(1)));
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Uid and primary gid of a local user, from the system user database.
fn lookup_user(name: &str) -> anyhow::Result<(u32, u32)> {
    let cname = std::ffi::CString::new(name).map_err(|_| anyhow!("bad user name {name:?}"))?;
    // SAFETY: `passwd` is a plain C struct of integers and pointers, for
    // which all-zero bytes (null pointers) are a valid value.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers refer to live, correctly sized buffers owned
    // here; getpwnam_r writes only into `pwd` and `buf`.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        bail!("no such user: {name}");
    }
    Ok((pwd.pw_uid, pwd.pw_gid))
}

fn system_hostname() -> Option<String> {
    let h = fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty() && h.parse::<IpAddr>().is_err()).then(|| h.to_string())
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < 16 {
        bail!(
            "{}: the token must be at least 16 characters",
            path.display()
        );
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
    {
        bail!(
            "{}: the token may only contain letters, digits and -._~+/=",
            path.display()
        );
    }
    Ok(token)
}

fn security_toml(
    listen: &[std::net::SocketAddr],
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    hash: &str,
) -> anyhow::Result<String> {
    use toml::{Table, Value};
    let path = |p: &Path| Value::String(p.display().to_string());
    let mut tls = Table::new();
    tls.insert("enabled".into(), Value::Boolean(true));
    let listen = listen.iter().map(|a| Value::String(a.to_string()));
    tls.insert("listen".into(), Value::Array(listen.collect()));
    tls.insert("cert".into(), path(cert));
    tls.insert("key".into(), path(key));
    tls.insert("min_version".into(), "1.2".into());
    tls.insert("plain_http".into(), "off".into());
    let mut admin = Table::new();
    admin.insert("hash".into(), hash.into());
    admin.insert("role".into(), "operator".into());
    let mut tokens = Table::new();
    tokens.insert("admin".into(), Value::Table(admin));
    let mut auth = Table::new();
    auth.insert("tokens".into(), Value::Table(tokens));
    if let Some(ca) = client_ca {
        // Optional, not required: the token must keep working for curl users
        // without a certificate. Reader only: operator rights by certificate
        // need CN -> role entries an administrator chose.
        tls.insert("client_ca".into(), path(ca));
        tls.insert("client_auth".into(), "optional".into());
        let mut cert_roles = Table::new();
        cert_roles.insert("default_role".into(), "reader".into());
        auth.insert("client_cert".into(), Value::Table(cert_roles));
    }
    let mut doc = Table::new();
    doc.insert("tls".into(), Value::Table(tls));
    doc.insert("auth".into(), Value::Table(auth));
    let body = toml::to_string(&doc).context("writing security.toml")?;
    Ok(format!(
        "# Written by `opendcre auth init`. Every key is documented in\n\
         # security-example.toml. The API token itself is not stored anywhere.\n\n{body}"
    ))
}

/// What `init` installs once every part of it has been checked.
struct Checked {
    client_ca: Option<PathBuf>,
    token_hash: String,
    /// Only when the token was made here (it is shown once).
    generated_token: Option<String>,
}

/// Writes the staged pair and checks everything `init` is about to install:
/// the pair and the client CA loaded as the server loads them, the token read
/// and hashed.
fn stage_and_check(
    opts: &InitOptions,
    cert: &Path,
    cert_pem: &str,
    key: &Path,
    key_pem: &str,
) -> anyhow::Result<Checked> {
    write_file(key, key_pem.as_bytes(), 0o600)?;
    write_file(cert, cert_pem.as_bytes(), 0o644)?;
    let check = TlsConfig {
        enabled: true,
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        ..TlsConfig::default()
    };
    TlsSetup::load(&check).map_err(|e| anyhow!("the new certificate/key do not work: {e}"))?;
    let client_ca = match &opts.client_ca {
        Some(path) => {
            let path = path
                .canonicalize()
                .with_context(|| format!("resolving {}", path.display()))?;
            // A bad bundle fails here, at first boot, and not at every
            // service start.
            TlsSetup::load(&TlsConfig {
                client_ca: Some(path.clone()),
                ..check
            })
            .map_err(|e| anyhow!("the client CA bundle does not work: {e}"))?;
            Some(path)
        }
        None => None,
    };
    let (token, generated, alg) = match &opts.token_file {
        Some(path) => (read_token(path)?, false, HashAlgorithm::Argon2id),
        // 256 random bits: a fast hash loses nothing and costs nothing per
        // request on the Pi.
        None => (
            generate_token().map_err(|e| anyhow!(e))?,
            true,
            HashAlgorithm::Sha256,
        ),
    };
    Ok(Checked {
        client_ca,
        token_hash: hash_token(&token, alg).map_err(|e| anyhow!(e))?,
        generated_token: generated.then_some(token),
    })
}

/// Writes through a temporary file and a rename, so a power cut never
/// leaves a half-written key or config behind; the mode is set before any
/// secret byte is written.
fn write_file(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

fn fingerprint(cert: &Path) -> anyhow::Result<String> {
    let certs = crate::tls::load_certs(cert)?;
    let d = ring::digest::digest(&ring::digest::SHA256, certs[0].as_ref());
    Ok(crate::tls::hex_lower(d.as_ref()))
}
