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
        group: None,
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

/// The example's user hashes are of the passwords its comment names, and a
/// hash from `hash-password` logs in: through [`Security::login`], the path
/// Basic and Redfish sessions take.
#[tokio::test]
async fn hash_password_and_the_documented_users_log_in() {
    use opendcre_security::auth::{AuthConfig, AuthMethod, Secret, Security, UserEntry};
    let example: SecurityConfig =
        toml::from_str(include_str!("../config/security-example.toml")).unwrap();
    let made = run(AuthCommand::HashPassword, "a-new-password\n").unwrap();
    let mut users = example.auth.users.clone();
    users.insert(
        "made".into(),
        UserEntry {
            password_hash: made.trim().to_string(),
            role: Role::Reader,
        },
    );
    let sec = Security::from_config(&AuthConfig {
        users,
        ..AuthConfig::default()
    })
    .unwrap();
    let peer = "127.0.0.1:1".parse().unwrap();
    let login = |u: &'static str, p: &'static str| {
        sec.login(&http::Method::POST, "/t", u, Secret::new(p), peer)
    };
    let ops = login("ops", "example-operator-password-not-for-production")
        .await
        .unwrap();
    assert_eq!((ops.role, ops.method), (Role::Operator, AuthMethod::Local));
    let viewer = login("viewer", "example-reader-password-not-for-production")
        .await
        .unwrap();
    assert_eq!(viewer.role, Role::Reader);
    assert_eq!(login("made", "a-new-password").await.unwrap().name, "made");
    assert!(login("made", "a-new-passwor").await.is_err());
    assert!(login("ops", "example-reader-password-not-for-production")
        .await
        .is_err());
    // Too short or too long is refused, nothing printed.
    for bad in ["1234567\n".to_string(), format!("{}\n", "x".repeat(257))] {
        let err = run(AuthCommand::HashPassword, &bad).unwrap_err();
        assert!(err.to_string().contains("8 to 256"), "{err}");
    }
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
    assert_eq!(sec.auth.tokens["admin"].role, Role::Admin);

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
    // The service reads the copy in the root-owned tls/, not the card's file.
    let installed = dir_m
        .path()
        .canonicalize()
        .unwrap()
        .join("tls/client-ca.pem");
    assert_eq!(sec.tls.client_ca.as_deref(), Some(installed.as_path()));
    assert_eq!(std::fs::read_to_string(&installed).unwrap(), ca.pem);
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
    assert_eq!(sec.auth.users.len(), 2);
    assert_eq!(sec.auth.sessions.timeout_secs, 1800);
    assert_eq!(sec.auth.sessions.max, 64);
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
fn init_rejects_an_unknown_reader() {
    let dir = tempfile::tempdir().unwrap();
    for (group, owner, says) in [
        (Some("no-such-group-here"), None, "no such group"),
        (None, Some("no-such-user-here"), "no such user"),
    ] {
        let err = run(
            AuthCommand::Init(InitArgs {
                group: group.map(String::from),
                owner: owner.map(String::from),
                ..init_args(dir.path())
            }),
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
        assert!(
            !dir.path().join("security.toml").exists() && !dir.path().join("tls").exists(),
            "nothing written"
        );
    }
}

/// Whether this process may give files away (the ownership tests need it).
/// CI runs as root; elsewhere they are skipped with a notice, or fail under
/// `OPENDCRE_REQUIRE_PEERS=1` like a missing peer.
fn running_as_root(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var(auth_support::peers::REQUIRE).as_deref() == Ok("1") {
        panic!("{what}: needs root, but {}=1", auth_support::peers::REQUIRE);
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n## SKIPPED ({what}): needs root");
    false
}

/// The binary's `auth init` under a given umask (the umask is per process,
/// so the test cannot set it for itself without racing its neighbours).
fn init_binary(umask: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" auth init \"$@\""))
        .arg(env!("CARGO_BIN_EXE_opendcre"))
        .arg("--tls-listen")
        .arg("127.0.0.1:0")
        .args(args)
        .output()
        .unwrap()
}

/// `uid:gid mode` of a path itself (a symlink is not followed).
fn owner_mode(p: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap();
    format!("{}:{} {:o}", m.uid(), m.gid(), m.mode() & 0o7777)
}

/// Everything `auth init` writes is root's; the service's group (here
/// nogroup, 65534, the primary group of nobody) may read but never write,
/// whatever the umask, with the old `--owner USER` flag and with `--group`.
#[test]
fn init_leaves_root_owned_group_readable_material_under_any_umask() {
    if !running_as_root("auth init ownership") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let ca = auth_support::pki::Ca::new("clients");
    let ca_file = auth_support::pki::write(src.path(), "clients.pem", &ca.pem);
    for umask in ["000", "077"] {
        for reader in [["--owner", "nobody"], ["--group", "nogroup"]] {
            let top = tempfile::tempdir().unwrap();
            let dir = top.path().join("etc/opendcre");
            let out = init_binary(
                umask,
                &[
                    "--dir".as_ref(),
                    dir.as_os_str(),
                    "--client-ca".as_ref(),
                    ca_file.as_os_str(),
                    reader[0].as_ref(),
                    reader[1].as_ref(),
                ],
            );
            assert!(out.status.success(), "{out:?}");
            let got: Vec<(&str, String)> = [
                "",
                "tls",
                "security.toml",
                "tls/server.crt",
                "tls/server.key",
                "tls/client-ca.pem",
            ]
            .into_iter()
            .map(|f| (f, owner_mode(&dir.join(f))))
            .collect();
            let want: Vec<(&str, String)> = got
                .iter()
                .map(|(f, _)| {
                    let mode = if f.is_empty() || *f == "tls" {
                        "750"
                    } else {
                        "640"
                    };
                    (*f, format!("0:65534 {mode}"))
                })
                .collect();
            assert_eq!(got, want, "umask {umask}, {reader:?}");
            let mut left: Vec<_> = std::fs::read_dir(dir.join("tls"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            left.sort();
            assert_eq!(left, ["client-ca.pem", "server.crt", "server.key"]);
            // security.toml names the copy in tls/, not the file it came from.
            let text = std::fs::read_to_string(dir.join("security.toml")).unwrap();
            assert!(text.contains("tls/client-ca.pem\""), "{text}");
        }
    }
}

/// The attack from issue 14: the service user could write the directory
/// `auth init` works in (here: it owns it) and put a symlink `tls` there to
/// a root-only directory. The old code created its files through the link
/// and chowned the directory behind it to the service user.
#[test]
fn init_refuses_a_tls_symlink_planted_by_the_service_user() {
    use std::os::unix::fs::MetadataExt;
    if !running_as_root("auth init symlink") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let secret_dir = top.path().join("root-only");
    std::fs::create_dir(&secret_dir).unwrap();
    std::fs::set_permissions(&secret_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret = secret_dir.join("secret");
    std::fs::write(&secret, "root only\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dir = top.path().join("opendcre");
    std::fs::create_dir(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::symlink(&secret_dir, dir.join("tls")).unwrap();

    let out = init_binary(
        "022",
        &[
            "--dir".as_ref(),
            dir.as_os_str(),
            "--owner".as_ref(),
            "nobody".as_ref(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        owner_mode(&secret_dir),
        "0:0 700",
        "the target directory was given away"
    );
    assert_eq!(owner_mode(&secret), "0:0 600");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root only\n");
    let inside: Vec<_> = std::fs::read_dir(&secret_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(inside, ["secret"], "files were written through the link");
    assert!(!out.status.success(), "a symlinked tls/ was accepted");
    assert!(stderr.contains("symlink"), "{stderr}");
    // The directory itself is root's now: no new link can be planted.
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 0);
    assert!(!dir.join("security.toml").exists());
}

/// An older `auth init` left `tls/` to the service user, who may have put
/// symlinks to root-only files under every name init uses. A rerun takes
/// the directory back before writing, and writes nothing through a link.
#[test]
fn init_takes_back_a_tls_dir_the_service_user_owned() {
    if !running_as_root("auth init takeover") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let victim = top.path().join("shadow");
    std::fs::write(&victim, "root only\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dir = top.path().join("opendcre");
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::os::unix::fs::chown(&tls, Some(65534), Some(65534)).unwrap();
    for name in [
        "server.key",
        "server.crt",
        "server.key.new",
        "server.key.tmp",
        "server.key.new.tmp",
        "server.crt.new",
        "server.crt.new.tmp",
        "client-ca.pem",
    ] {
        std::os::unix::fs::symlink(&victim, tls.join(name)).unwrap();
    }
    let out = init_binary(
        "022",
        &[
            "--dir".as_ref(),
            dir.as_os_str(),
            "--owner".as_ref(),
            "nobody".as_ref(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(owner_mode(&victim), "0:0 600");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root only\n");
    assert_eq!(owner_mode(&tls), "0:65534 750");
    for f in ["tls/server.key", "tls/server.crt", "security.toml"] {
        assert_eq!(owner_mode(&dir.join(f)), "0:65534 640", "{f}");
    }
}

/// Rotating with the live pair passed back in (what the first-boot script
/// does to keep the certificate): a link an older, service-owned `tls/`
/// still holds must not make init copy the file behind it into the
/// group-readable set.
#[test]
fn init_does_not_read_live_material_through_a_link() {
    if !running_as_root("auth init live-material link") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let other = auth_support::pki::Ca::new("another service").server();
    let victim_key = auth_support::pki::write(top.path(), "other.key", &other.key_pem);
    let victim_crt = auth_support::pki::write(top.path(), "other.crt", &other.cert_pem);
    let dir = top.path().join("opendcre");
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::write(dir.join("security.toml"), "# from an earlier boot\n").unwrap();
    std::os::unix::fs::symlink(&victim_key, tls.join("server.key")).unwrap();
    std::os::unix::fs::symlink(&victim_crt, tls.join("server.crt")).unwrap();
    let out = init_binary(
        "022",
        &[
            "--dir".as_ref(),
            dir.as_os_str(),
            "--owner".as_ref(),
            "nobody".as_ref(),
            "--force".as_ref(),
            "--cert".as_ref(),
            tls.join("server.crt").as_os_str(),
            "--key".as_ref(),
            tls.join("server.key").as_os_str(),
        ],
    );
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("symlink"),
        "{out:?}"
    );
    assert!(
        std::fs::symlink_metadata(tls.join("server.key"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the other service's key was copied in"
    );
}
