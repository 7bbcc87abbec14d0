//! First-boot security material: a self-signed server certificate and one
//! API token, so the image can ship with TLS and token auth switched on.
//!
//! Writes, under the chosen directory:
//! - `tls/server.crt`, `tls/server.key`: generated, or copied from files the
//!   first-boot settings provide (checked to match);
//! - `tls/client-ca.pem`: a copy of the client CA bundle, when one is given;
//! - `security.toml`: `[tls]` on the API port (5000, as the original's
//!   `ssl_enable` nginx did) with plain HTTP off, and `[auth.tokens].admin`
//!   holding only the hash of the token; with a client CA also mutual TLS
//!   (`client_auth = "optional"`, certificates from that CA get `reader`).
//!
//! Ownership: everything belongs to the user running `init` (root at first
//! boot). The service only ever *reads* this material, so it gets read
//! access through a group ([`ReaderGroup`]): files `0640`, directories
//! `0750`, owner root, group the service's. Without a reader group, files are
//! `0600` and directories `0700`. A service that owned `security.toml` or
//! `tls/` could rewrite its own auth policy (anonymous operator access) or
//! the client CA the next start trusts; hence no write access for it.
//!
//! No chown or chmod is done by path: ownership and modes are set on open
//! file descriptors (`fchown`/`fchmod`), temporary files before they are
//! renamed into place, directories right after they are opened. The
//! directory and `tls/` are opened with `O_NOFOLLOW` and made root-owned
//! *before* anything is written into them, so a symlink planted by whoever
//! could write there earlier (an older version handed `tls/` to the service
//! user) is refused, never followed, and nobody else can add one afterwards.
//! Modes are set explicitly on the descriptor, so the umask does not matter.
//!
//! Idempotent: with `security.toml` already present nothing is touched
//! (a second boot must not rotate the token the operator wrote down).

use std::fs::{self, File};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

use super::token::{generate_token, hash_token, HashAlgorithm};
use crate::tls::{TlsConfig, TlsSetup};

/// The group that may read what `init` writes (the service's group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderGroup {
    /// A group by name (`--group`).
    Named(String),
    /// The primary group of a user (`--owner USER`, the older flag, which
    /// used to give the files to that user; now only its group reads them).
    OfUser(String),
}

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
    /// PEM bundle of client CAs: copied to `tls/client-ca.pem`, turns on
    /// optional mutual TLS.
    pub client_ca: Option<PathBuf>,
    /// Addresses of the TLS listeners written to `security.toml`.
    pub tls_listen: Vec<std::net::SocketAddr>,
    /// Certificate lifetime in days.
    pub days: u32,
    /// Replace existing material.
    pub force: bool,
    /// The group that may read the written files: the service runs
    /// unprivileged and must read the key that root wrote, but never write.
    pub reader_group: Option<ReaderGroup>,
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

/// Owner, group and modes of everything `init` writes.
#[derive(Debug, Clone, Copy)]
struct Access {
    uid: u32,
    gid: u32,
    file_mode: u32,
    dir_mode: u32,
}

impl Access {
    fn new(reader: Option<&ReaderGroup>) -> anyhow::Result<Access> {
        // SAFETY: geteuid/getegid have no preconditions and cannot fail.
        let (uid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Ok(match reader {
            None => Access {
                uid,
                gid: egid,
                file_mode: 0o600,
                dir_mode: 0o700,
            },
            Some(g) => Access {
                uid,
                gid: match g {
                    ReaderGroup::Named(name) => lookup_group(name)?,
                    ReaderGroup::OfUser(name) => lookup_user(name)?.1,
                },
                file_mode: 0o640,
                dir_mode: 0o750,
            },
        })
    }
}

pub fn init(opts: &InitOptions) -> anyhow::Result<InitOutcome> {
    // Resolved first: an unknown group must fail before anything is made.
    let access = Access::new(opts.reader_group.as_ref())?;
    if let Some(parent) = opts.dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    // The administrator's path may go through symlinks; they are resolved
    // once here, and the result must then not be a symlink when opened.
    make_dir(&opts.dir, access.dir_mode)?;
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
    let dir_fd = secure_dir(&dir, &access)?;
    make_dir(&tls_dir, access.dir_mode)?;
    let tls_fd = secure_dir(&tls_dir, &access)?;

    let (cert_pem, key_pem) = match (&opts.cert_file, &opts.key_file) {
        (Some(c), Some(k)) => (read_text(c, &dir)?, read_text(k, &dir)?),
        (None, None) => self_signed(opts)?,
        _ => bail!("--cert and --key go together"),
    };
    let ca_pem = match &opts.client_ca {
        Some(c) => Some(read_input(c, &dir)?),
        None => None,
    };
    // Everything is checked before anything in use is replaced: the pair
    // (and the client CA) is staged beside the live one and loaded the way
    // the server will load it, and the token is read and hashed, so that bad
    // material from a card (`--force` at a later boot) leaves the working set
    // as it was.
    let client_ca = tls_dir.join("client-ca.pem");
    let staged = Staged {
        key: tls_dir.join("server.key.new"),
        cert: tls_dir.join("server.crt.new"),
        client_ca: tls_dir.join("client-ca.pem.new"),
    };
    let checked = match stage_and_check(opts, &access, &staged, &cert_pem, &key_pem, ca_pem) {
        Ok(c) => c,
        Err(e) => {
            staged.remove();
            return Err(e);
        }
    };
    fs::rename(&staged.key, &key).with_context(|| format!("renaming to {}", key.display()))?;
    fs::rename(&staged.cert, &cert).with_context(|| format!("renaming to {}", cert.display()))?;
    if checked.client_ca {
        fs::rename(&staged.client_ca, &client_ca)
            .with_context(|| format!("renaming to {}", client_ca.display()))?;
    }
    tls_fd
        .sync_all()
        .with_context(|| format!("syncing {}", tls_dir.display()))?;
    let listen = if opts.tls_listen.is_empty() {
        vec![std::net::SocketAddr::from(([0, 0, 0, 0], 5000))]
    } else {
        opts.tls_listen.clone()
    };
    let toml = security_toml(
        &listen,
        &cert,
        &key,
        checked.client_ca.then_some(client_ca.as_path()),
        &checked.token_hash,
    )?;
    write_file(&security_file, toml.as_bytes(), &access)?;
    dir_fd
        .sync_all()
        .with_context(|| format!("syncing {}", dir.display()))?;
    Ok(InitOutcome {
        created: true,
        cert_sha256: fingerprint(&cert)?,
        security_file,
        cert,
        key,
        generated_token: checked.generated_token,
    })
}

/// Reads an input file. One under the target directory (the live material,
/// passed back in to keep it across a rotation) is read without following a
/// symlink: an older version let the service user write `tls/`, and a link
/// it left there must not make root copy another service's key into the
/// group-readable set. Elsewhere links are followed (an administrator's
/// `--cert` may well be one, e.g. certbot's `live/`).
fn read_input(path: &Path, dir: &Path) -> anyhow::Result<Vec<u8>> {
    let inside = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .and_then(|p| p.canonicalize().ok())
        .is_some_and(|p| p.starts_with(dir));
    let mut o = fs::OpenOptions::new();
    o.read(true);
    if inside {
        o.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let mut f = o.open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) if inside => anyhow!(
            "{} is a symlink inside {}: refusing to follow it",
            path.display(),
            dir.display()
        ),
        _ => anyhow!("reading {}: {e}", path.display()),
    })?;
    let mut data = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut data)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(data)
}

fn read_text(path: &Path, dir: &Path) -> anyhow::Result<String> {
    String::from_utf8(read_input(path, dir)?)
        .map_err(|_| anyhow!("{}: not UTF-8 text (PEM expected)", path.display()))
}

/// Creates one directory (its parent must exist). `mkdir` applies the umask
/// to `mode`; [`secure_dir`] sets the real mode on the descriptor.
fn make_dir(path: &Path, mode: u32) -> anyhow::Result<()> {
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Opens a directory without following a symlink in its last component and
/// makes it `access`'s owner, group and mode through the descriptor. After
/// this only its owner (root) can add, remove or swap entries in it.
fn secure_dir(path: &Path, access: &Access) -> anyhow::Result<File> {
    let dir = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => anyhow!(
                "{} is a symlink or not a directory: refusing to follow it \
                 (remove it and run again)",
                path.display()
            ),
            _ => anyhow!("opening {}: {e}", path.display()),
        })?;
    set_access(&dir, path, access, access.dir_mode)?;
    Ok(dir)
}

/// Owner, group and mode of an open file or directory, by descriptor.
fn set_access(f: &File, path: &Path, access: &Access, mode: u32) -> anyhow::Result<()> {
    let md = f
        .metadata()
        .with_context(|| format!("inspecting {}", path.display()))?;
    if md.uid() != access.uid || md.gid() != access.gid {
        std::os::unix::fs::fchown(f, Some(access.uid), Some(access.gid)).with_context(|| {
            format!("giving {} to {}:{}", path.display(), access.uid, access.gid)
        })?;
    }
    // After the chown: changing the owner may clear set-id bits.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting mode {mode:o} on {}", path.display()))
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

/// Gid of a local group, from the system group database.
fn lookup_group(name: &str) -> anyhow::Result<u32> {
    let cname = std::ffi::CString::new(name).map_err(|_| anyhow!("bad group name {name:?}"))?;
    // SAFETY: `group` is a plain C struct of integers and pointers, for
    // which all-zero bytes (null pointers) are a valid value.
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers refer to live, correctly sized buffers owned
    // here; getgrnam_r writes only into `grp` and `buf`.
    let rc = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut grp,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        bail!("no such group: {name}");
    }
    Ok(grp.gr_gid)
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
    admin.insert("role".into(), "admin".into());
    let mut tokens = Table::new();
    tokens.insert("admin".into(), Value::Table(admin));
    let mut auth = Table::new();
    auth.insert("tokens".into(), Value::Table(tokens));
    // In the service's state directory: a restart of the service keeps
    // the Redfish login sessions (not a reboot: session_state.rs).
    let mut sessions = Table::new();
    sessions.insert(
        "state_file".into(),
        "/var/lib/opendcre/sessions.json".into(),
    );
    auth.insert("sessions".into(), Value::Table(sessions));
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
    /// Whether a client CA bundle was staged (and so goes live).
    client_ca: bool,
    token_hash: String,
    /// Only when the token was made here (it is shown once).
    generated_token: Option<String>,
}

/// Where the new material waits, beside the live files, until all of it
/// has been checked.
struct Staged {
    key: PathBuf,
    cert: PathBuf,
    client_ca: PathBuf,
}

impl Staged {
    fn remove(&self) {
        for p in [&self.key, &self.cert, &self.client_ca] {
            let _ = fs::remove_file(p);
        }
    }
}

/// Writes the staged files and checks everything `init` is about to
/// install: the pair and the client CA loaded as the server loads them, the
/// token read and hashed.
fn stage_and_check(
    opts: &InitOptions,
    access: &Access,
    staged: &Staged,
    cert_pem: &str,
    key_pem: &str,
    ca_pem: Option<Vec<u8>>,
) -> anyhow::Result<Checked> {
    write_file(&staged.key, key_pem.as_bytes(), access)?;
    write_file(&staged.cert, cert_pem.as_bytes(), access)?;
    let check = TlsConfig {
        enabled: true,
        cert: staged.cert.clone(),
        key: staged.key.clone(),
        ..TlsConfig::default()
    };
    TlsSetup::load(&check).map_err(|e| anyhow!("the new certificate/key do not work: {e}"))?;
    if let Some(pem) = &ca_pem {
        write_file(&staged.client_ca, pem, access)?;
        // A bad bundle fails here, at first boot, and not at every
        // service start.
        TlsSetup::load(&TlsConfig {
            client_ca: Some(staged.client_ca.clone()),
            ..check
        })
        .map_err(|e| anyhow!("the client CA bundle does not work: {e}"))?;
    }
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
        client_ca: ca_pem.is_some(),
        token_hash: hash_token(&token, alg).map_err(|e| anyhow!(e))?,
        generated_token: generated.then_some(token),
    })
}

/// Writes through a temporary file and a rename, so a power cut never
/// leaves a half-written key or config behind. The temporary file is made
/// fresh (`O_EXCL`, never through a symlink), gets its owner, group and mode
/// on the descriptor before any byte is written, and only then is renamed
/// over `path` (a rename replaces a symlink, it does not follow it). The
/// caller has made the directory root-owned ([`secure_dir`]), so nobody else
/// can swap the name between the rename and a later use.
fn write_file(path: &Path, data: &[u8], access: &Access) -> anyhow::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let written = set_access(&f, &tmp, access, access.file_mode).and_then(|()| {
        f.write_all(data)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))
    });
    let renamed = written.and_then(|()| {
        fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
    });
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed
}

fn fingerprint(cert: &Path) -> anyhow::Result<String> {
    let certs = crate::tls::load_certs(cert)?;
    let d = ring::digest::digest(&ring::digest::SHA256, certs[0].as_ref());
    Ok(crate::tls::hex_lower(d.as_ref()))
}
