//! `opendcre auth hash-token` / `auth init`, the documented example config,
//! and security.toml being picked up beside opendcre.toml.

use crate::auth_support;

use std::io::Cursor;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use auth_support::client::{bearer, tls_config, Client};
use auth_support::server::TestApi;
use opendcre::cli::auth::HashArg;
use opendcre::cli::auth::{run_with_io, AuthCommand, HashTokenArgs, InitArgs};
use opendcre::config::Config;
use opendcre_security::auth::{Role, SecurityConfig, TokenHash};
use opendcre_security::tls::{PlainHttp, TlsSetup};

fn run(cmd: AuthCommand, stdin: &str) -> anyhow::Result<String> {
    let mut out = Vec::new();
    run_with_io(&cmd, &mut Cursor::new(stdin.as_bytes().to_vec()), &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

fn init_args(dir: &std::path::Path) -> InitArgs {
    InitArgs {
        dir: dir.to_path_buf(),
        hostnames: vec![],
        token_file: None,
        cert: None,
        key: None,
        client_ca: None,
        tls_listen: vec!["127.0.0.1:0".parse().unwrap()],
        days: 30,
        force: false,
        owner: None,
    }
}

/// What an operator's card brings: a server certificate from the site's CA,
/// its key and a chosen token, written as files into a directory.
struct CardMaterial {
    ca: auth_support::pki::Ca,
    issued: auth_support::pki::Issued,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    token: std::path::PathBuf,
}

impl CardMaterial {
    fn write(dir: &std::path::Path) -> Self {
        let ca = auth_support::pki::Ca::new("site CA");
        let issued = ca.server();
        CardMaterial {
            cert: auth_support::pki::write(dir, "site.crt", &issued.cert_pem),
            key: auth_support::pki::write(dir, "site.key", &issued.key_pem),
            token: auth_support::pki::write(dir, "token", "site-chosen-token-1234567890\n"),
            ca,
            issued,
        }
    }

    /// `auth init` into `dir` with all three files, as the first boot runs it.
    fn init(&self, dir: &std::path::Path) -> anyhow::Result<String> {
        run(
            AuthCommand::Init(InitArgs {
                token_file: Some(self.token.clone()),
                cert: Some(self.cert.clone()),
                key: Some(self.key.clone()),
                ..init_args(dir)
            }),
            "",
        )
    }
}

#[test]
fn hash_token_reads_stdin_and_prints_a_usable_hash() {
    let out = run(
        AuthCommand::HashToken(HashTokenArgs {
            algorithm: HashArg::Sha256,
            generate: false,
        }),
        "x\n",
    )
    .unwrap();
    assert_eq!(
        out.trim(),
        "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    );
    let out = run(
        AuthCommand::HashToken(HashTokenArgs {
            algorithm: HashArg::Argon2id,
            generate: true,
        }),
        "",
    )
    .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("odcre_"));
    assert!(matches!(
        lines[1].parse::<TokenHash>(),
        Ok(TokenHash::Argon2(_))
    ));
    let err = run(
        AuthCommand::HashToken(HashTokenArgs {
            algorithm: HashArg::Argon2id,
            generate: false,
        }),
        "",
    )
    .unwrap_err();
    assert!(err.to_string().contains("no token"), "{err}");
}

#[tokio::test]
async fn init_writes_working_material_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(AuthCommand::Init(init_args(dir.path())), "").unwrap();
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("API token (shown only now): "))
        .expect("token printed")
        .to_string();
    let key_mode = std::fs::metadata(dir.path().join("tls/server.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let text = std::fs::read_to_string(dir.path().join("security.toml")).unwrap();
    assert!(!text.contains(&token), "only the hash may be stored");
    let sec: SecurityConfig = toml::from_str(&text).unwrap();
    assert!(sec.tls.enabled);
    assert_eq!(sec.tls.effective_plain_http(), PlainHttp::Off);
    assert_eq!(sec.auth.tokens["admin"].role, Role::Operator);

    // The material works end to end: TLS with the generated certificate
    // (trusted directly, as a client would after pinning it) and the token.
    let api = TestApi::start(&sec.auth, Some(&sec.tls)).await;
    let cert_pem = std::fs::read_to_string(dir.path().join("tls/server.crt")).unwrap();
    let c = Client::tls(tls_config(&cert_pem, None, rustls::ALL_VERSIONS));
    let on = "/opendcre/1.1/power/on/00000001/0001";
    let tok = bearer(&token);
    assert_eq!(
        c.get(api.tls_addr(), on, &[("authorization", &tok)])
            .await
            .status,
        200
    );
    assert_eq!(c.get(api.tls_addr(), on, &[]).await.status, 401);
    api.stop().await;

    // Second boot: nothing is replaced, no token is printed.
    let again = run(AuthCommand::Init(init_args(dir.path())), "").unwrap();
    assert!(again.contains("nothing changed"), "{again}");
    assert!(!again.contains("API token"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("security.toml")).unwrap(),
        text
    );
    // --force rotates.
    let forced = run(
        AuthCommand::Init(InitArgs {
            force: true,
            ..init_args(dir.path())
        }),
        "",
    )
    .unwrap();
    assert!(forced.contains("API token"));
    assert_ne!(
        std::fs::read_to_string(dir.path().join("security.toml")).unwrap(),
        text
    );
}

#[test]
fn init_takes_token_and_certificate_from_first_boot_settings() {
    let src = tempfile::tempdir().unwrap();
    let card = CardMaterial::write(src.path());
    let (ca, issued) = (&card.ca, &card.issued);
    let dir = tempfile::tempdir().unwrap();
    let out = card.init(dir.path()).unwrap();
    assert!(!out.contains("API token"), "a provided token is not echoed");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tls/server.crt")).unwrap(),
        issued.cert_pem
    );
    let sec: SecurityConfig =
        toml::from_str(&std::fs::read_to_string(dir.path().join("security.toml")).unwrap())
            .unwrap();
    // A person-chosen token gets the salted slow hash.
    assert!(sec.auth.tokens["admin"].hash.starts_with("$argon2id$"));
    assert_eq!(sec.tls.client_ca, None, "no client CA, no mutual TLS");

    // A client CA from the settings turns on optional mutual TLS: its
    // certificates read, the token still works without one.
    let client_ca = auth_support::pki::write(src.path(), "clients.pem", &ca.pem);
    let dir_m = tempfile::tempdir().unwrap();
    run(
        AuthCommand::Init(InitArgs {
            client_ca: Some(client_ca.clone()),
            ..init_args(dir_m.path())
        }),
        "",
    )
    .unwrap();
    let sec: SecurityConfig =
        toml::from_str(&std::fs::read_to_string(dir_m.path().join("security.toml")).unwrap())
            .unwrap();
    assert_eq!(
        sec.tls.client_ca.as_deref(),
        Some(client_ca.canonicalize().unwrap().as_path())
    );
    assert_eq!(
        sec.tls.client_auth,
        opendcre_security::tls::ClientAuthMode::Optional
    );
    assert_eq!(sec.auth.client_cert.default_role, Some(Role::Reader));
    TlsSetup::load(&sec.tls).expect("the written [tls] loads");
    // A file that holds no certificate is refused before anything is written.
    let junk = auth_support::pki::write(src.path(), "junk.pem", "not a certificate\n");
    let dir_j = tempfile::tempdir().unwrap();
    let err = run(
        AuthCommand::Init(InitArgs {
            client_ca: Some(junk),
            ..init_args(dir_j.path())
        }),
        "",
    )
    .unwrap_err();
    assert!(err.to_string().contains("client CA"), "{err}");
    assert!(!dir_j.path().join("security.toml").exists());

    // A key that does not belong to the certificate is refused.
    let other = ca.server();
    let wrong_key = auth_support::pki::write(src.path(), "other.key", &other.key_pem);
    let dir2 = tempfile::tempdir().unwrap();
    let err = run(
        AuthCommand::Init(InitArgs {
            cert: Some(src.path().join("site.crt")),
            key: Some(wrong_key),
            ..init_args(dir2.path())
        }),
        "",
    )
    .unwrap_err();
    assert!(err.to_string().contains("do not work"), "{err}");
    assert!(!dir2.path().join("security.toml").exists());
    // A short token is refused.
    let short = auth_support::pki::write(src.path(), "short", "abc\n");
    let dir3 = tempfile::tempdir().unwrap();
    assert!(run(
        AuthCommand::Init(InitArgs {
            token_file: Some(short),
            ..init_args(dir3.path())
        }),
        ""
    )
    .is_err());
}

/// A card brings new material at a later boot (`--force`), and it is bad: the
/// node must keep serving with what it had, so nothing in use may change.
#[test]
fn a_failed_rotation_leaves_the_working_set_alone() {
    let src = tempfile::tempdir().unwrap();
    let card = CardMaterial::write(src.path());
    let (ca, good) = (&card.ca, &card.issued);
    let (cert, key, token) = (&card.cert, &card.key, &card.token);
    let dir = tempfile::tempdir().unwrap();
    card.init(dir.path()).unwrap();
    let snapshot = || {
        ["security.toml", "tls/server.crt", "tls/server.key"]
            .map(|f| std::fs::read(dir.path().join(f)).unwrap())
    };
    let before = snapshot();

    let other = ca.server();
    let new_cert = auth_support::pki::write(src.path(), "new.crt", &other.cert_pem);
    let wrong_key = auth_support::pki::write(src.path(), "wrong.key", &good.key_pem);
    let junk_ca = auth_support::pki::write(src.path(), "junk.pem", "not a certificate\n");
    let short = auth_support::pki::write(src.path(), "short", "abc\n");
    let attempts = [
        (
            "a key that does not fit",
            new_cert.clone(),
            wrong_key,
            None,
            token.clone(),
        ),
        (
            "a client CA that is no certificate",
            cert.clone(),
            key.clone(),
            Some(junk_ca),
            token.clone(),
        ),
        (
            "a token that is too short",
            new_cert,
            auth_support::pki::write(src.path(), "new.key", &other.key_pem),
            None,
            short,
        ),
    ];
    for (what, cert, key, client_ca, token_file) in attempts {
        let r = run(
            AuthCommand::Init(InitArgs {
                force: true,
                token_file: Some(token_file),
                cert: Some(cert),
                key: Some(key),
                client_ca,
                ..init_args(dir.path())
            }),
            "",
        );
        assert!(r.is_err(), "{what} was accepted");
        assert!(
            snapshot() == before,
            "{what} changed the installed material"
        );
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("tls"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["server.crt", "server.key"],
            "{what} left staging files"
        );
    }
}

#[test]
fn the_documented_example_parses_and_validates_offline_parts() {
    let text = include_str!("../config/security-example.toml");
    let sec: SecurityConfig = toml::from_str(text).expect("example must parse");
    assert!(sec.tls.enabled);
    assert_eq!(sec.auth.tokens.len(), 2);
    assert!(sec.auth.jwt.is_some() && sec.auth.ldap.is_some());
    for entry in sec.auth.tokens.values() {
        entry
            .hash
            .parse::<TokenHash>()
            .expect("example hashes are valid");
    }
    // Unknown keys are errors, so a typo is never a silent default.
    let typo = text.replace("handshake_timeout_ms", "handshake_timeout");
    assert!(toml::from_str::<SecurityConfig>(&typo).is_err());
}

#[test]
fn security_toml_beside_the_config_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    run(AuthCommand::Init(init_args(dir.path())), "").unwrap();
    let main = dir.path().join("opendcre.toml");
    std::fs::write(&main, "[server]\nlisten = [\"127.0.0.1:5000\"]\n").unwrap();
    let cfg = Config::load(&main).unwrap();
    assert!(cfg.tls.enabled);
    assert!(cfg.auth.as_ref().unwrap().tokens.contains_key("admin"));
    assert!(TlsSetup::load(&cfg.tls).is_ok());
    // A table in the main file wins.
    std::fs::write(&main, "[tls]\nenabled = false\n").unwrap();
    let cfg = Config::load(&main).unwrap();
    assert!(!cfg.tls.enabled);
    assert!(cfg.auth.is_some(), "[auth] still comes from security.toml");
}

#[test]
fn the_binary_has_the_auth_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_opendcre"))
        .args(["auth", "hash-token", "--algorithm", "sha256"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"x\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    );
}

#[test]
fn init_hands_the_files_to_the_service_user() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let err = run(
        AuthCommand::Init(InitArgs {
            owner: Some("no-such-user-here".into()),
            ..init_args(dir.path())
        }),
        "",
    )
    .unwrap_err();
    assert!(err.to_string().contains("no such user"), "{err}");
    assert!(
        !dir.path().join("security.toml").exists(),
        "nothing written"
    );
    // CI runs as root, which may give files away; others may only keep them.
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let user = if me == 0 { "nobody" } else { "root" };
    let r = run(
        AuthCommand::Init(InitArgs {
            owner: Some(user.into()),
            ..init_args(dir.path())
        }),
        "",
    );
    if me == 0 {
        r.unwrap();
        let key = std::fs::metadata(dir.path().join("tls/server.key")).unwrap();
        assert_eq!(key.uid(), 65534, "server.key belongs to nobody");
        assert_eq!(key.mode() & 0o777, 0o600);
        let toml = std::fs::metadata(dir.path().join("security.toml")).unwrap();
        assert_eq!(toml.uid(), 65534);
    } else {
        assert!(r.is_err(), "an unprivileged chown to root must fail loudly");
    }
}
