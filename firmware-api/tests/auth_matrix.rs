//! Every authentication method at once on one TLS server, with the status
//! each case gets. Prints the table (`cargo test --test integration auth_matrix:: --
//! --nocapture`) and fails on any status that differs from the expected one.

use crate::auth_support;

use std::collections::BTreeMap;

use auth_support::client::{basic, bearer, tls_config, Client, Reply};
use auth_support::jwks::{claims, jwks, now, JwksServer, Signer};
use auth_support::pki::{write, Ca};
use auth_support::server::TestApi;
use auth_support::slapd::Slapd;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::Method;
use opendcre_security::auth::{
    hash_token, AuthConfig, ClientCertConfig, HashAlgorithm, JwtConfig, LdapConfig,
    LdapGroupSource, Role, TokenEntry,
};
use opendcre_security::tls::{ClientAuthMode, TlsConfig};
use serde_json::json;

const OPS: &str = "odcre_matrix-operator-token-0123456789";
const MON: &str = "odcre_matrix-reader-token-0123456789";
const ISS: &str = "https://idp.example.test";
const AUD: &str = "opendcre";
const TEST: &str = "/opendcre/1.1/test";
const ON: &str = "/opendcre/1.1/power/on/00000001/0001";
const CYCLE: &str = "/opendcre/1.1/power/cycle/00000001/0001";
const STATUS: &str = "/opendcre/1.1/power/status/00000001/0001";
const READ: &str = "/opendcre/1.1/read/thermistor/00000001/0002";
const WRITE: &str = "/opendcre/1.1/write/power/00000001/0001/info/rack-3";

struct Table {
    rows: Vec<String>,
    failures: Vec<String>,
}

impl Table {
    fn record(
        &mut self,
        case: &str,
        creds: &str,
        req: &str,
        want: &str,
        got: Result<Reply, String>,
    ) {
        let got = match got {
            Ok(r) => {
                let mut s = r.status.to_string();
                let challenges = r.header("www-authenticate");
                if !challenges.is_empty() {
                    s.push_str(&format!(" (WWW-Authenticate: {})", challenges.join(" + ")));
                }
                if let Some(h) = r.header("retry-after").first() {
                    s.push_str(&format!(" (Retry-After: {h})"));
                }
                s
            }
            Err(e) => format!("no HTTP answer ({})", e.split(':').next().unwrap_or("")),
        };
        let ok = got.starts_with(want);
        if !ok {
            self.failures
                .push(format!("{case}: wanted {want}, got {got}"));
        }
        self.rows.push(format!(
            "| {} | {case} | {creds} | {req} | {want} | {got} |",
            self.rows.len() + 1
        ));
    }
}

#[tokio::test]
async fn every_method_on_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let ec = Signer::es256("ec-1");
    let rsa = Signer::rs256("rsa-1", dir.path());
    let idp = JwksServer::start(jwks(&[&ec, &rsa])).await;

    let ca = Ca::new("api CA");
    let clients = Ca::new("client CA");
    let server = ca.server();
    let tls = TlsConfig {
        enabled: true,
        cert: write(dir.path(), "s.crt", &server.cert_pem),
        key: write(dir.path(), "s.key", &server.key_pem),
        client_ca: Some(write(dir.path(), "clients.pem", &clients.pem)),
        client_auth: ClientAuthMode::Optional,
        ..TlsConfig::default()
    };
    let mut tokens = BTreeMap::new();
    tokens.insert(
        "ops".to_string(),
        TokenEntry {
            hash: hash_token(OPS, HashAlgorithm::Argon2id).unwrap(),
            role: Role::Operator,
        },
    );
    tokens.insert(
        "monitoring".to_string(),
        TokenEntry {
            hash: hash_token(MON, HashAlgorithm::Sha256).unwrap(),
            role: Role::Reader,
        },
    );
    let mut role_map = BTreeMap::new();
    role_map.insert("dcre-operator".to_string(), Role::Operator);
    role_map.insert("dcre-reader".to_string(), Role::Reader);
    let mut group_roles = BTreeMap::new();
    group_roles.insert("dcre-operators".to_string(), Role::Operator);
    group_roles.insert("dcre-readers".to_string(), Role::Reader);
    let mut cert_roles = BTreeMap::new();
    cert_roles.insert("ops-console".to_string(), Role::Operator);
    cert_roles.insert("dashboard".to_string(), Role::Reader);
    let auth = AuthConfig {
        tokens,
        jwt: Some(JwtConfig {
            issuer: ISS.into(),
            audience: vec![AUD.into()],
            jwks_url: Some(idp.url()),
            role_map,
            ..JwtConfig::default()
        }),
        ldap: Some(LdapConfig {
            url: slapd.url(),
            starttls: true,
            ca_file: Some(slapd.ca()),
            timeout_ms: 2000,
            bind_dn: Some("cn=svc,ou=services,dc=example,dc=org".into()),
            bind_password: Some("svc-pw".into()),
            user_base: "ou=people,dc=example,dc=org".into(),
            group_source: LdapGroupSource::MemberOf,
            group_roles,
            cache_ttl_secs: 0,
            ..LdapConfig::default()
        }),
        client_cert: ClientCertConfig {
            roles: cert_roles,
            default_role: None,
        },
        // One attempt back per minute: the 429 case must not depend on how
        // fast a loaded machine gets through the ten failures before it.
        rate_limit: opendcre_security::auth::RateLimitConfig {
            refill_per_minute: 1,
            ..Default::default()
        },
        ..AuthConfig::default()
    };
    let api = TestApi::start(&auth, Some(&tls)).await;
    let addr = api.tls_addr();
    let all = rustls::ALL_VERSIONS;
    let c = Client::tls(tls_config(&ca.pem, None, all));
    let with_cert = |cn: &str| Client::tls(tls_config(&ca.pem, Some(&clients.client(cn)), all));
    let rogue = Client::tls(tls_config(
        &ca.pem,
        Some(&Ca::new("rogue CA").client("ops-console")),
        all,
    ));
    let tls12 = Client::tls(tls_config(&ca.pem, None, &[&rustls::version::TLS12]));

    let ops = bearer(OPS);
    let mon = bearer(MON);
    let jwt_op = bearer(&ec.sign(&claims(ISS, AUD, "alice", &["dcre-operator"])));
    let jwt_rd = bearer(&rsa.sign(&claims(ISS, AUD, "bob", &["dcre-reader"])));
    let mut exp = claims(ISS, AUD, "alice", &["dcre-operator"]);
    exp["exp"] = json!(now() - 600);
    let jwt_expired = bearer(&ec.sign(&exp));
    let jwt_aud = bearer(&ec.sign(&claims(ISS, "other-service", "alice", &["dcre-operator"])));
    let jwt_none = bearer(&format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(ISS, AUD, "x", &["dcre-operator"]).to_string())
    ));
    let jwt_foreign =
        bearer(&Signer::es256("ec-1").sign(&claims(ISS, AUD, "x", &["dcre-operator"])));
    let alice = basic("alice", "alice-pw");
    let bob = basic("bob", "bob-pw");
    let carol = basic("carol", "carol-pw");
    let alice_wrong = basic("alice", "wrong");

    let mut t = Table {
        rows: Vec::new(),
        failures: Vec::new(),
    };
    let mut addr = addr;
    macro_rules! case {
        ($name:expr, $creds:expr, $client:expr, $path:expr, $hdr:expr, $want:expr) => {{
            let got = $client.send(Method::GET, addr, $path, $hdr).await;
            t.record(
                $name,
                $creds,
                &format!("GET {}", $path.trim_start_matches("/opendcre/1.1")),
                $want,
                got,
            );
        }};
    }
    case!("no credentials", "-", c, TEST, &[], "401");
    case!(
        "static token, operator",
        "Bearer ops token (argon2id)",
        c,
        ON,
        &[("authorization", &ops)],
        "200"
    );
    case!(
        "static token, reader",
        "Bearer monitoring token (sha256)",
        c,
        STATUS,
        &[("authorization", &mon)],
        "200"
    );
    case!(
        "static token, reader, power on",
        "Bearer monitoring token",
        c,
        ON,
        &[("authorization", &mon)],
        "403"
    );
    case!(
        "static token, reader, asset write",
        "Bearer monitoring token",
        c,
        WRITE,
        &[("authorization", &mon)],
        "403"
    );
    case!(
        "static token, operator, asset write",
        "Bearer ops token",
        c,
        WRITE,
        &[("authorization", &ops)],
        "200"
    );
    case!(
        "wrong static token",
        "Bearer odcre_wrong",
        c,
        TEST,
        &[("authorization", "Bearer odcre_wrong")],
        "401"
    );
    case!(
        "JWT ES256, operator role",
        "Bearer JWT roles=[dcre-operator]",
        c,
        ON,
        &[("authorization", &jwt_op)],
        "200"
    );
    case!(
        "JWT RS256, reader role, read",
        "Bearer JWT roles=[dcre-reader]",
        c,
        READ,
        &[("authorization", &jwt_rd)],
        "200"
    );
    case!(
        "JWT RS256, reader role, power on",
        "Bearer JWT roles=[dcre-reader]",
        c,
        ON,
        &[("authorization", &jwt_rd)],
        "403"
    );
    case!(
        "JWT expired",
        "Bearer JWT exp in the past",
        c,
        TEST,
        &[("authorization", &jwt_expired)],
        "401"
    );
    case!(
        "JWT wrong audience",
        "Bearer JWT aud=other-service",
        c,
        TEST,
        &[("authorization", &jwt_aud)],
        "401"
    );
    case!(
        "JWT alg=none",
        "Bearer unsigned JWT",
        c,
        TEST,
        &[("authorization", &jwt_none)],
        "401"
    );
    case!(
        "JWT signed by unknown key",
        "Bearer JWT, same kid, other key",
        c,
        TEST,
        &[("authorization", &jwt_foreign)],
        "401"
    );
    case!(
        "LDAP user in operators",
        "Basic alice",
        c,
        ON,
        &[("authorization", &alice)],
        "200"
    );
    case!(
        "LDAP user in readers, read",
        "Basic bob",
        c,
        READ,
        &[("authorization", &bob)],
        "200"
    );
    case!(
        "LDAP user in readers, power cycle",
        "Basic bob",
        c,
        CYCLE,
        &[("authorization", &bob)],
        "403"
    );
    case!(
        "LDAP user in no mapped group",
        "Basic carol",
        c,
        TEST,
        &[("authorization", &carol)],
        "403"
    );
    case!(
        "LDAP wrong password",
        "Basic alice:wrong",
        c,
        TEST,
        &[("authorization", &alice_wrong)],
        "401"
    );
    case!(
        "client certificate, operator CN",
        "mTLS CN=ops-console",
        with_cert("ops-console"),
        ON,
        &[],
        "200"
    );
    case!(
        "client certificate, reader CN",
        "mTLS CN=dashboard",
        with_cert("dashboard"),
        ON,
        &[],
        "403"
    );
    case!(
        "client certificate, unmapped CN",
        "mTLS CN=visitor",
        with_cert("visitor"),
        TEST,
        &[],
        "401"
    );
    case!(
        "client certificate from another CA",
        "mTLS, rogue CA",
        rogue,
        TEST,
        &[("authorization", &ops)],
        "no HTTP answer"
    );
    case!(
        "TLS 1.2 client",
        "Bearer ops token",
        tls12,
        ON,
        &[("authorization", &ops)],
        "200"
    );
    let tls_addr = addr;
    addr = api.plain;
    case!(
        "plain HTTP (loopback listener)",
        "Bearer ops token",
        Client::plain(),
        ON,
        &[("authorization", &ops)],
        "200"
    );
    addr = tls_addr;
    case!(
        "plain HTTP to the TLS port",
        "Bearer ops token",
        Client::plain(),
        TEST,
        &[("authorization", &ops)],
        "no HTTP answer"
    );
    case!(
        "unsupported scheme",
        "Digest",
        c,
        TEST,
        &[("authorization", "Digest username=\"alice\"")],
        "401"
    );
    case!(
        "unknown path, no credentials",
        "-",
        c,
        "/opendcre/1.1/nothing",
        &[],
        "401"
    );
    case!(
        "unknown path, token",
        "Bearer monitoring token",
        c,
        "/opendcre/1.1/nothing",
        &[("authorization", &mon)],
        "404"
    );
    {
        let got = c
            .send(Method::OPTIONS, addr, "/opendcre/1.1/scan", &[])
            .await;
        // No CORS origin is configured: OPTIONS is authenticated like a
        // GET, so it does not tell who exists where.
        t.record("OPTIONS, no credentials", "-", "OPTIONS /scan", "401", got);
    }
    // Throttling: a client that keeps guessing is turned away, but the
    // right credential from the same address still gets in.
    let guesser = Client::tls(tls_config(&ca.pem, None, all)).with_source("127.0.0.9");
    for _ in 0..10 {
        let _ = guesser
            .send(
                Method::GET,
                addr,
                TEST,
                &[("authorization", "Bearer odcre_guess")],
            )
            .await;
    }
    case!(
        "11th attempt after 10 failures",
        "Bearer wrong token",
        guesser,
        TEST,
        &[("authorization", "Bearer odcre_guess")],
        "429"
    );
    case!(
        "12th attempt after 11 failures",
        "Bearer ops token (right one)",
        guesser,
        TEST,
        &[("authorization", &ops)],
        "200"
    );
    slapd.stop();
    case!(
        "LDAP directory down",
        "Basic alice",
        c,
        TEST,
        &[("authorization", &alice)],
        "503"
    );
    api.stop().await;

    println!("| # | case | credentials | request | expected | got |");
    println!("|---|---|---|---|---|---|");
    for r in &t.rows {
        println!("{r}");
    }
    assert!(
        t.failures.is_empty(),
        "unexpected statuses:\n{}",
        t.failures.join("\n")
    );
}
