//! `opendcre auth ...` subcommands. The binary embeds [`AuthCommand`] as a
//! clap subcommand and calls [`run`].

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail};

use opendcre_security::auth::init::{init, InitOptions, ReaderGroup};
use opendcre_security::auth::{
    generate_token, hash_token, HashAlgorithm, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
};

// Built once per process from the command line: the size of the larger
// variant costs nothing, and boxing it would only add noise where the tests
// build one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuthCommand {
    /// Print the hash of an API token for `[auth.tokens]`. The token is read
    /// from the first line of standard input (never from the command line,
    /// where it would end up in shell history and `ps`).
    HashToken(HashTokenArgs),
    /// Print the argon2id hash of a local user's password for
    /// `[auth.users.<name>] password_hash`. The password is read from the
    /// first line of standard input; on a terminal it is asked for twice,
    /// without echo.
    HashPassword,
    /// Create the node's TLS certificate and first API token (first boot).
    Init(InitArgs),
}

/// `--algorithm` values; the library's [`HashAlgorithm`] carries no clap derive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HashArg {
    Argon2id,
    Sha256,
}

impl From<HashArg> for HashAlgorithm {
    fn from(a: HashArg) -> HashAlgorithm {
        match a {
            HashArg::Argon2id => HashAlgorithm::Argon2id,
            HashArg::Sha256 => HashAlgorithm::Sha256,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct HashTokenArgs {
    /// Hash function: argon2id (salted, slow) or sha256 (for long random tokens).
    #[arg(long, value_enum, default_value = "argon2id")]
    pub algorithm: HashArg,
    /// Make a new random token instead of reading one; prints the token on
    /// the first line and its hash on the second.
    #[arg(long)]
    pub generate: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Configuration directory that receives tls/ and security.toml.
    #[arg(long, default_value = "/etc/opendcre")]
    pub dir: PathBuf,
    /// Certificate name (DNS name or IP address); repeat for several.
    #[arg(long = "hostname")]
    pub hostnames: Vec<String>,
    /// Use the token in this file (first line) instead of generating one.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Install this PEM certificate chain instead of generating one (with --key).
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key for --cert.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// PEM bundle of client CAs: turns on optional mutual TLS; certificates
    /// from it get the reader role (map CNs to operator in [auth.client_cert]).
    #[arg(long, value_name = "PEM")]
    pub client_ca: Option<PathBuf>,
    /// TLS listener address written to security.toml (repeatable)
    /// [default: 0.0.0.0:5000, the API port, with plain HTTP off].
    #[arg(long = "tls-listen", value_name = "ADDR:PORT")]
    pub tls_listen: Vec<std::net::SocketAddr>,
    /// Lifetime of a generated certificate in days.
    #[arg(long, default_value_t = 3650)]
    pub days: u32,
    /// Replace existing material (rotates the token).
    #[arg(long)]
    pub force: bool,
    /// Group that may read the written files, normally the service's
    /// (opendcre). Everything stays owned by the user running init (root):
    /// files 0640, directories 0750. Without it: 0600 and 0700.
    #[arg(long, value_name = "GROUP", conflicts_with = "owner")]
    pub group: Option<String>,
    /// Older spelling of --group: the primary group of USER may read the
    /// files. USER no longer owns them (a service that owns its auth policy
    /// can rewrite it).
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,
}

/// Runs a subcommand with the process's standard input and output.
pub fn run(cmd: &AuthCommand) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if matches!(cmd, AuthCommand::HashPassword) && std::io::IsTerminal::is_terminal(&stdin) {
        let password = ask_twice(&mut input)?;
        let mut line = std::io::Cursor::new(format!("{password}\n"));
        return run_with_io(cmd, &mut line, &mut out);
    }
    run_with_io(cmd, &mut input, &mut out)
}

/// Asks for a password on the terminal, twice, with echo off.
fn ask_twice(input: &mut dyn BufRead) -> anyhow::Result<String> {
    let _quiet = EchoOff::new()?;
    let mut ask = |prompt: &str| -> anyhow::Result<String> {
        eprint!("{prompt}");
        let mut line = String::new();
        input.read_line(&mut line)?;
        eprintln!();
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    let first = ask("Password: ")?;
    let again = ask("Again: ")?;
    if first != again {
        bail!("the passwords differ");
    }
    Ok(first)
}

/// Terminal echo off on standard input while it lives.
struct EchoOff(libc::termios);

impl EchoOff {
    fn new() -> anyhow::Result<EchoOff> {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid pointer to a termios.
        if unsafe { libc::tcgetattr(0, &mut t) } != 0 {
            bail!(
                "cannot read the terminal settings: {}",
                std::io::Error::last_os_error()
            );
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        // SAFETY: as above.
        if unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) } != 0 {
            bail!("cannot turn echo off: {}", std::io::Error::last_os_error());
        }
        Ok(EchoOff(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new`.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.0) };
    }
}

pub fn run_with_io(
    cmd: &AuthCommand,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match cmd {
        AuthCommand::HashToken(args) => {
            let token = if args.generate {
                let t = generate_token().map_err(|e| anyhow!(e))?;
                writeln!(out, "{t}")?;
                t
            } else {
                let mut line = String::new();
                input.read_line(&mut line)?;
                let t = line.trim_end_matches(['\r', '\n']).to_string();
                if t.is_empty() {
                    bail!("no token on standard input");
                }
                t
            };
            let hash = hash_token(&token, args.algorithm.into()).map_err(|e| anyhow!(e))?;
            writeln!(out, "{hash}")?;
        }
        AuthCommand::HashPassword => {
            let mut line = String::new();
            input.read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']);
            let chars = password.chars().count();
            if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&chars) {
                bail!(
                    "a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters (this one has {chars})"
                );
            }
            let hash = hash_token(password, HashAlgorithm::Argon2id).map_err(|e| anyhow!(e))?;
            writeln!(out, "{hash}")?;
        }
        AuthCommand::Init(args) => {
            let outcome = init(&InitOptions {
                dir: args.dir.clone(),
                hostnames: args.hostnames.clone(),
                token_file: args.token_file.clone(),
                cert_file: args.cert.clone(),
                key_file: args.key.clone(),
                client_ca: args.client_ca.clone(),
                tls_listen: args.tls_listen.clone(),
                days: args.days,
                force: args.force,
                reader_group: match (&args.group, &args.owner) {
                    (Some(g), _) => Some(ReaderGroup::Named(g.clone())),
                    (None, Some(u)) => Some(ReaderGroup::OfUser(u.clone())),
                    (None, None) => None,
                },
            })?;
            if !outcome.created {
                writeln!(
                    out,
                    "{} exists; nothing changed (use --force to replace the material)",
                    outcome.security_file.display()
                )?;
                return Ok(());
            }
            writeln!(out, "wrote {}", outcome.security_file.display())?;
            writeln!(out, "certificate {}", outcome.cert.display())?;
            writeln!(out, "certificate sha256 {}", outcome.cert_sha256)?;
            if let Some(token) = &outcome.generated_token {
                writeln!(out, "API token (shown only now): {token}")?;
            }
        }
    }
    Ok(())
}
