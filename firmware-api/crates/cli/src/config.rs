//! `cli.toml` (named contexts) and `aliases.toml` (names for devices).
//!
//! Both live in `$XDG_CONFIG_HOME/opendcre/` (default `~/.config/opendcre/`);
//! `--config FILE` moves `cli.toml`, and `aliases.toml` is always read from
//! the same directory as the `cli.toml` in use, so one `--config` switches a
//! whole setup (what the tests do).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Exit};
use crate::target::Target;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// One node (or one reverse proxy in front of several).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// Base URL, e.g. `https://node-a:5443`; the API paths are appended.
    pub url: String,
    /// PEM bundle the node's certificate must chain to (normal for a node's
    /// own CA from `opendcre auth init`); unset: the system's trust store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM, with its chain) for nodes that take mutual
    /// TLS (`[tls].client_ca` on the node, roles from `[auth.client_cert]`);
    /// set together with `client_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM; keep it mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// File holding the bearer token (first line; keep it mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<f64>,
}

impl Context {
    /// The client certificate and key, if the context names them (both or
    /// neither).
    pub fn identity(&self) -> Result<Option<Identity<'_>>, CliError> {
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Ok(Some(Identity { cert, key })),
            (None, None) => Ok(None),
            _ => Err(CliError::new(
                Exit::Usage,
                "a context sets client_cert without client_key or the other way round: set both",
            )),
        }
    }

    /// The bearer token, if the context names one. Its value never appears
    /// in a message; only where it was looked for.
    pub fn token(&self) -> Result<Option<String>, CliError> {
        match (&self.token_env, &self.token_file) {
            (Some(_), Some(_)) => Err(CliError::new(
                Exit::Usage,
                "a context sets token_env and token_file: keep one",
            )),
            (Some(var), None) => match std::env::var(var) {
                Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
                _ => Err(CliError::new(
                    Exit::Usage,
                    format!("the context's token_env {var} is unset or empty"),
                )),
            },
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CliError::new(Exit::Usage, format!("token_file {}: {e}", path.display()))
                })?;
                if let Ok(meta) = std::fs::metadata(path) {
                    if meta.permissions().mode() & 0o077 != 0 {
                        eprintln!(
                            "warning: token_file {} is readable by other users (chmod 600 it)",
                            path.display()
                        );
                    }
                }
                let token = text.lines().next().unwrap_or("").trim().to_string();
                if token.is_empty() {
                    return Err(CliError::new(
                        Exit::Usage,
                        format!("token_file {} is empty", path.display()),
                    ));
                }
                Ok(Some(token))
            }
            (None, None) => Ok(None),
        }
    }
}

/// Where a context's client certificate and key are.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
}

/// `$XDG_CONFIG_HOME/opendcre/cli.toml`, else `$HOME/.config/opendcre/cli.toml`.
pub fn default_path() -> Result<PathBuf, CliError> {
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) if Path::new(&x).is_absolute() => PathBuf::from(x),
        _ => match std::env::var_os("HOME") {
            Some(h) => Path::new(&h).join(".config"),
            None => {
                return Err(CliError::new(
                    Exit::Usage,
                    "neither XDG_CONFIG_HOME nor HOME is set: pass --config FILE",
                ))
            }
        },
    };
    Ok(base.join("opendcre").join("cli.toml"))
}

/// A missing file is an empty config (first run).
pub fn load(path: &Path) -> Result<Config, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| CliError::new(Exit::Usage, format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(CliError::new(
            Exit::Usage,
            format!("{}: {e}", path.display()),
        )),
    }
}

/// Writes `cli.toml` atomically (a temporary file in the same directory,
/// fsynced, renamed over the old one) with mode 0600: a crash leaves the old
/// or the new file, and the paths it names are no one else's business.
pub fn save(path: &Path, config: &Config) -> Result<(), CliError> {
    let io = |what: &str, e: std::io::Error| {
        CliError::new(Exit::Usage, format!("{what} {}: {e}", path.display()))
    };
    let text = toml::to_string_pretty(config)
        .map_err(|e| CliError::new(Exit::Usage, format!("cannot encode the config: {e}")))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| io("cannot create the directory of", e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cli.toml".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(&dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("cannot write", e)
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasEntry {
    board: String,
    device: String,
}

/// `aliases.toml`: `web-17 = { board = "00000001", device = "0dff" }`.
/// A missing file is no aliases.
pub fn load_aliases(path: &Path) -> Result<BTreeMap<String, Target>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(CliError::new(
                Exit::Usage,
                format!("{}: {e}", path.display()),
            ))
        }
    };
    let raw: BTreeMap<String, AliasEntry> = toml::from_str(&text)
        .map_err(|e| CliError::new(Exit::Usage, format!("{}: {e}", path.display())))?;
    raw.into_iter()
        .map(|(name, e)| {
            let t = Target::from_hex(&e.board, &e.device).ok_or_else(|| {
                CliError::new(
                    Exit::Usage,
                    format!(
                        "{}: alias {name:?}: board must be 1-8 and device 1-4 hex digits",
                        path.display()
                    ),
                )
            })?;
            Ok((name, t))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_is_0600_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cli.toml");
        let mut c = Config {
            current: Some("lab".into()),
            ..Config::default()
        };
        c.contexts.insert(
            "lab".into(),
            Context {
                url: "https://node:5443".into(),
                token_env: Some("OPENDCRE_TOKEN".into()),
                ..Context::default()
            },
        );
        save(&path, &c).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = load(&path).unwrap();
        assert_eq!(back.current.as_deref(), Some("lab"));
        assert_eq!(back.contexts["lab"].url, "https://node:5443");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("cli.toml")]);
    }

    #[test]
    fn aliases_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("aliases.toml");
        std::fs::write(&p, "web-17 = { board = \"1\", device = \"0DFF\" }\n").unwrap();
        let a = load_aliases(&p).unwrap();
        assert_eq!(a["web-17"].to_string(), "00000001/0dff");
        std::fs::write(&p, "bad = { board = \"xyz\", device = \"1\" }\n").unwrap();
        assert_eq!(load_aliases(&p).unwrap_err().exit, Exit::Usage);
    }
}
