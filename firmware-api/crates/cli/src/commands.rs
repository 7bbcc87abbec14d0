//! Each command: resolve, one or a few GETs, print.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opendcre_proto::device_type::DeviceType;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use crate::config::{self, Context};
use crate::error::{CliError, Exit};
use crate::http::Client;
use crate::node::Node;
use crate::output::{self, Format, Table};
use crate::target::{scan_devices, Named, Resolver, Target};
use crate::{AssetCmd, Cli, Cmd, ContextCmd, Global, PowerAction};

const DEFAULT_CONNECT_TIMEOUT: f64 = 5.0;
const DEFAULT_TIMEOUT: f64 = 30.0;

/// Characters left as they are in the asset text's URL segment; everything
/// else is percent-encoded (the node decodes before routing).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b':');

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let g = &cli.global;
    match &cli.cmd {
        Cmd::Completions { shell } => {
            let mut cmd = crate::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "opendcre-cli", &mut buf);
            write_out(&buf)
        }
        Cmd::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(crate::command())
                .render(&mut buf)
                .map_err(|e| CliError::new(Exit::Usage, format!("man page: {e}")))?;
            write_out(&buf)
        }
        Cmd::Context(op) => context(g, op),
        Cmd::Version { board: None } => {
            let v = json!({ "cli_version": env!("CARGO_PKG_VERSION") });
            print(g.output, &v, key_value_table(&v))
        }
        other => {
            let (node, mut resolver) = connect(g)?;
            match other {
                Cmd::Scan { board } => scan(g, &node, &resolver, board.as_deref()).await,
                Cmd::Read { kind, target } => {
                    let kind = v11_type(kind)?;
                    let t = resolver.resolve(&node, target).await?;
                    let path = format!(
                        "/opendcre/1.1/read/{kind}/{}/{}",
                        t.target.board_hex(),
                        t.target.device_hex()
                    );
                    let reply = node.get_json(&path).await?;
                    print_record(g.output, &t, Some(&kind), reply)
                }
                Cmd::Power { action, target } => {
                    let t = resolver.resolve(&node, target).await?;
                    let action = match action {
                        PowerAction::On => "on",
                        PowerAction::Off => "off",
                        PowerAction::Cycle => "cycle",
                        PowerAction::Status => "status",
                    };
                    let reply = node.get_json(&power_path(action, t.target)).await?;
                    print_record(g.output, &t, None, reply)
                }
                Cmd::Asset(AssetCmd::Get { target }) => {
                    let t = resolver.resolve(&node, target).await?;
                    let path = format!(
                        "/opendcre/1.1/read/power/{}/{}/info",
                        t.target.board_hex(),
                        t.target.device_hex()
                    );
                    let reply = node.get_json(&path).await?;
                    print_record(g.output, &t, None, reply)
                }
                Cmd::Asset(AssetCmd::Set { target, text }) => {
                    check_asset_text(text)?;
                    let t = resolver.resolve(&node, target).await?;
                    let path = format!(
                        "/opendcre/1.1/write/power/{}/{}/info/{}",
                        t.target.board_hex(),
                        t.target.device_hex(),
                        utf8_percent_encode(text, SEGMENT)
                    );
                    let reply = node.get_json(&path).await?;
                    print_record(g.output, &t, None, reply)
                }
                Cmd::Version { board: Some(b) } => {
                    let b = board_hex(b)?;
                    let reply = node.get_json(&format!("/opendcre/1.1/version/{b}")).await?;
                    let mut v = json!({ "cli_version": env!("CARGO_PKG_VERSION"), "board_id": b });
                    merge(&mut v, reply);
                    print(g.output, &v, key_value_table(&v))
                }
                Cmd::Watch {
                    pairs,
                    interval,
                    count,
                    source,
                } => {
                    crate::watch::run(g, &node, &mut resolver, pairs, *interval, *count, *source)
                        .await
                }
                Cmd::Completions { .. } | Cmd::Man | Cmd::Context(_) | Cmd::Version { .. } => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

pub fn power_path(action: &str, t: Target) -> String {
    format!(
        "/opendcre/1.1/power/{action}/{}/{}",
        t.board_hex(),
        t.device_hex()
    )
}

/// The v1.1 name of a type; unknown names are refused here, because the
/// node would send them as `none` and wait for a bus timeout.
pub fn v11_type(name: &str) -> Result<String, CliError> {
    DeviceType::lookup(name)
        .map(|t| t.v11_name().to_string())
        .ok_or_else(|| CliError::new(Exit::Usage, format!("unknown device type {name:?}")))
}

fn board_hex(b: &str) -> Result<String, CliError> {
    Target::from_hex(b, "0")
        .map(|t| t.board_hex())
        .ok_or_else(|| CliError::new(Exit::Usage, format!("board {b:?}: 1-8 hex digits")))
}

/// The node keeps 127 characters and the text is one URL segment: longer
/// text or a `/` would be changed silently, so they are refused.
fn check_asset_text(text: &str) -> Result<(), CliError> {
    if text.is_empty() || text.chars().count() > 127 || text.contains('/') {
        return Err(CliError::new(
            Exit::Usage,
            "asset text must be 1-127 characters without '/'",
        ));
    }
    Ok(())
}

/// Which context (or `--url`) and its client, plus the aliases.
fn connect(g: &Global) -> Result<(Node, Resolver), CliError> {
    let cfg_path = config_path(g)?;
    let aliases_path = cfg_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("aliases.toml");
    let aliases = config::load_aliases(&aliases_path)?;
    let ctx = match &g.url {
        Some(url) => Context {
            url: url.clone(),
            ca_file: g.ca_file.clone(),
            client_cert: g.client_cert.clone(),
            client_key: g.client_key.clone(),
            token_env: std::env::var_os("OPENDCRE_TOKEN").map(|_| "OPENDCRE_TOKEN".to_string()),
            ..Context::default()
        },
        None => {
            let cfg = config::load(&cfg_path)?;
            let name = g.context.clone().or(cfg.current.clone()).ok_or_else(|| {
                CliError::new(
                    Exit::Usage,
                    format!(
                        "no context: add one with `opendcre-cli context add NAME URL` ({}), or pass --url",
                        cfg_path.display()
                    ),
                )
            })?;
            cfg.contexts.get(&name).cloned().ok_or_else(|| {
                CliError::new(
                    Exit::Usage,
                    format!("no context {name:?} in {}", cfg_path.display()),
                )
            })?
        }
    };
    let secs = |flag: Option<f64>, key: Option<f64>, default: f64| -> Result<Duration, CliError> {
        let s = flag.or(key).unwrap_or(default);
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| CliError::new(Exit::Usage, format!("timeout {s}: must be > 0 seconds")))
    };
    let client = Client::new(
        &ctx.url,
        ctx.ca_file.as_deref(),
        ctx.identity()?,
        ctx.token()?,
        secs(
            g.connect_timeout,
            ctx.connect_timeout_secs,
            DEFAULT_CONNECT_TIMEOUT,
        )?,
        secs(g.timeout, ctx.timeout_secs, DEFAULT_TIMEOUT)?,
    )?;
    Ok((Node { client }, Resolver::new(aliases)))
}

fn config_path(g: &Global) -> Result<PathBuf, CliError> {
    match &g.config {
        Some(p) => Ok(p.clone()),
        None => config::default_path(),
    }
}

async fn scan(
    g: &Global,
    node: &Node,
    resolver: &Resolver,
    board: Option<&str>,
) -> Result<(), CliError> {
    let path = match board {
        Some(b) => format!("/opendcre/1.1/scan/{}", board_hex(b)?),
        None => "/opendcre/1.1/scan".to_string(),
    };
    let reply = node.get_json(&path).await?;
    let mut table = Table::new(&["BOARD", "DEVICE", "TYPE", "NAME"]);
    for (t, kind) in scan_devices(&reply) {
        table.rows.push(vec![
            t.board_hex(),
            t.device_hex(),
            kind,
            resolver.alias_of(t).unwrap_or("").to_string(),
        ]);
    }
    print(g.output, &reply, table)
}

/// The node's answer with the target's ids and name in front: JSON/YAML
/// carry every field the node sent; the table has one row.
fn print_record(
    format: Format,
    t: &Named,
    kind: Option<&str>,
    reply: Value,
) -> Result<(), CliError> {
    let v = record(t, kind, reply);
    let mut table = Table::new(&[]);
    let mut row = Vec::new();
    if let Value::Object(m) = &v {
        // Who first, then what the node said (alphabetically, as it sent it).
        let first = ["name", "board_id", "device_id", "device_type"];
        let rest = m.keys().filter(|k| !first.contains(&k.as_str()));
        for k in first.iter().copied().chain(rest.map(String::as_str)) {
            if let Some(val) = m.get(k) {
                table.header.push(k.to_ascii_uppercase());
                row.push(output::cell(val));
            }
        }
    }
    table.rows.push(row);
    print(format, &v, table)
}

pub fn record(t: &Named, kind: Option<&str>, reply: Value) -> Value {
    // serde_json's map is sorted; "name" etc. land among the node's keys.
    let mut v = json!({
        "name": t.name,
        "board_id": t.target.board_hex(),
        "device_id": t.target.device_hex(),
    });
    if let Some(k) = kind {
        v["device_type"] = json!(k);
    }
    merge(&mut v, reply);
    v
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (k, val) in b {
            a.insert(k, val);
        }
    }
}

fn key_value_table(v: &Value) -> Table {
    let mut t = Table::new(&["KEY", "VALUE"]);
    if let Value::Object(m) = v {
        for (k, val) in m {
            t.rows.push(vec![k.clone(), output::cell(val)]);
        }
    }
    t
}

pub fn print(format: Format, v: &Value, table: Table) -> Result<(), CliError> {
    let text = match format {
        Format::Table => table.render(),
        Format::Json => output::json(v),
        Format::Yaml => output::yaml(v),
    };
    write_out(text.as_bytes())
}

pub fn write_out(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| CliError::new(Exit::Usage, format!("cannot write to stdout: {e}")))
}

fn context(g: &Global, op: &ContextCmd) -> Result<(), CliError> {
    let path = config_path(g)?;
    let mut cfg = config::load(&path)?;
    match op {
        ContextCmd::Add {
            name,
            url,
            ca_file,
            client_cert,
            client_key,
            token_file,
            token_env,
            timeout_secs,
            connect_timeout_secs,
            force,
            make_current,
        } => {
            if cfg.contexts.contains_key(name) && !force {
                return Err(CliError::new(
                    Exit::Usage,
                    format!("context {name:?} exists (--force replaces it)"),
                ));
            }
            // Relative paths would mean something else from another directory.
            let abs = |p: &Option<PathBuf>| -> Result<Option<PathBuf>, CliError> {
                p.as_ref()
                    .map(|p| {
                        std::path::absolute(p).map_err(|e| {
                            CliError::new(Exit::Usage, format!("{}: {e}", p.display()))
                        })
                    })
                    .transpose()
            };
            let ctx = Context {
                url: url.clone(),
                ca_file: abs(ca_file)?,
                client_cert: abs(client_cert)?,
                client_key: abs(client_key)?,
                token_file: abs(token_file)?,
                token_env: token_env.clone(),
                connect_timeout_secs: *connect_timeout_secs,
                timeout_secs: *timeout_secs,
            };
            // Fail now, not at the first use: the URL, the CA file and the
            // client certificate must load.
            Client::new(
                &ctx.url,
                ctx.ca_file.as_deref(),
                ctx.identity()?,
                None,
                Duration::from_secs(1),
                Duration::from_secs(1),
            )?;
            cfg.contexts.insert(name.clone(), ctx);
            if *make_current || cfg.current.is_none() {
                cfg.current = Some(name.clone());
            }
            config::save(&path, &cfg)
        }
        ContextCmd::Use { name } => {
            if !cfg.contexts.contains_key(name) {
                return Err(CliError::new(Exit::Usage, format!("no context {name:?}")));
            }
            cfg.current = Some(name.clone());
            config::save(&path, &cfg)
        }
        ContextCmd::Remove { name } => {
            if cfg.contexts.remove(name).is_none() {
                return Err(CliError::new(Exit::Usage, format!("no context {name:?}")));
            }
            if cfg.current.as_deref() == Some(name) {
                cfg.current = None;
            }
            config::save(&path, &cfg)
        }
        ContextCmd::List => {
            let mut table =
                Table::new(&["CURRENT", "NAME", "URL", "CA_FILE", "CLIENT_CERT", "TOKEN"]);
            let mut list = Vec::new();
            for (name, c) in &cfg.contexts {
                let current = cfg.current.as_deref() == Some(name);
                let token = match (&c.token_env, &c.token_file) {
                    (Some(v), _) => format!("env:{v}"),
                    (None, Some(f)) => format!("file:{}", f.display()),
                    (None, None) => "-".into(),
                };
                let ca = c
                    .ca_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "-".into());
                let cert = c
                    .client_cert
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "-".into());
                table.rows.push(vec![
                    if current { "*".into() } else { String::new() },
                    name.clone(),
                    c.url.clone(),
                    ca.clone(),
                    cert,
                    token.clone(),
                ]);
                let mut entry = Map::new();
                entry.insert("name".into(), json!(name));
                entry.insert("current".into(), json!(current));
                entry.insert("url".into(), json!(c.url));
                entry.insert("ca_file".into(), json!(c.ca_file));
                entry.insert("client_cert".into(), json!(c.client_cert));
                entry.insert("token".into(), json!(token));
                list.push(Value::Object(entry));
            }
            print(g.output, &Value::Array(list), table)
        }
    }
}
