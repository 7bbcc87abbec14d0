//! LDAP authentication against a real OpenLDAP slapd on loopback
//! (ci/peers/slapd/start.sh): search and direct binds, group sources,
//! LDAPS and StartTLS, escaping, caching, outages and timeouts.

use crate::auth_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use auth_support::client::{basic, tls_config, Client};
use auth_support::pki::{write, Ca};
use auth_support::server::TestApi;
use auth_support::slapd::Slapd;
use http::{HeaderMap, HeaderValue, Method};
use opendcre_security::auth::{
    AuthConfig, AuthRejection, LdapAuthError, LdapAuthenticator, LdapConfig, LdapGroupSource,
    LdapMode, Permission, RateLimitConfig, Role, Secret, Security,
};
use opendcre_security::tls::TlsConfig;

const PEOPLE: &str = "ou=people,dc=example,dc=org";

fn cfg(url: String) -> LdapConfig {
    let mut group_roles = BTreeMap::new();
    group_roles.insert("dcre-operators".to_string(), Role::Operator);
    group_roles.insert(
        "cn=dcre-readers,ou=groups,dc=example,dc=org".to_string(),
        Role::Reader,
    );
    group_roles.insert("legacy-readers".to_string(), Role::Reader);
    LdapConfig {
        url,
        timeout_ms: 2000,
        mode: LdapMode::Search,
        bind_dn: Some("cn=svc,ou=services,dc=example,dc=org".into()),
        bind_password: Some("svc-pw".into()),
        user_base: PEOPLE.into(),
        user_filter: "(uid={user})".into(),
        group_source: LdapGroupSource::Search,
        group_base: "ou=groups,dc=example,dc=org".into(),
        group_roles,
        cache_ttl_secs: 0,
        ..LdapConfig::default()
    }
}

async fn login(a: &LdapAuthenticator, user: &str, pw: &str) -> Result<Option<Role>, LdapAuthError> {
    a.authenticate(user, &Secret::new(pw))
        .await
        .map(|id| id.role)
}

#[tokio::test]
async fn search_mode_binds_users_and_maps_groups_to_roles() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let a = LdapAuthenticator::new(&cfg(slapd.url())).unwrap();
    assert_eq!(
        login(&a, "alice", "alice-pw").await,
        Ok(Some(Role::Operator))
    );
    assert_eq!(login(&a, "bob", "bob-pw").await, Ok(Some(Role::Reader)));
    assert_eq!(
        login(&a, "dave", "dave-pw").await,
        Ok(Some(Role::Reader)),
        "posixGroup"
    );
    assert_eq!(
        login(&a, "erin", "erin-pw").await,
        Ok(Some(Role::Operator)),
        "highest role"
    );
    assert_eq!(
        login(&a, "carol", "carol-pw").await,
        Ok(None),
        "in no group"
    );
    let id = a
        .authenticate("alice", &Secret::new("alice-pw"))
        .await
        .unwrap();
    assert_eq!(id.dn, "uid=alice,ou=people,dc=example,dc=org");
    assert_eq!(
        id.groups,
        vec!["cn=dcre-operators,ou=groups,dc=example,dc=org"]
    );

    let invalid = Err(LdapAuthError::InvalidCredentials);
    assert_eq!(
        login(&a, "alice", "bob-pw").await,
        invalid,
        "wrong password"
    );
    assert_eq!(login(&a, "zed", "zed-pw").await, invalid, "unknown user");
    assert_eq!(login(&a, "alice", "").await, invalid, "empty password");
    assert_eq!(
        login(&a, "*", "alice-pw").await,
        invalid,
        "wildcard is escaped"
    );
    assert_eq!(
        login(&a, "alice)(uid=*", "alice-pw").await,
        invalid,
        "filter injection"
    );
    assert_eq!(
        login(&a, "ALICE", "alice-pw").await,
        Ok(Some(Role::Operator)),
        "uid is case-insensitive in LDAP"
    );

    // Anonymous search (no service account) works the same way.
    let anon = LdapAuthenticator::new(&LdapConfig {
        bind_dn: None,
        bind_password: None,
        ..cfg(slapd.url())
    })
    .unwrap();
    assert_eq!(login(&anon, "bob", "bob-pw").await, Ok(Some(Role::Reader)));

    // A broken service account is the node's problem, not the user's: 503.
    let broken = LdapAuthenticator::new(&LdapConfig {
        bind_password: Some("wrong".into()),
        ..cfg(slapd.url())
    })
    .unwrap();
    assert!(matches!(
        login(&broken, "alice", "alice-pw").await,
        Err(LdapAuthError::Unavailable(_))
    ));

    // Through Security: no role is 403, bad password 401, outage 503.
    let sec = Security::from_config(&AuthConfig {
        ldap: Some(cfg(slapd.url())),
        rate_limit: RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        },
        ..AuthConfig::default()
    })
    .unwrap();
    let check = |user: &'static str, pw: &'static str| {
        let sec = &sec;
        async move {
            let mut h = HeaderMap::new();
            h.insert(
                "authorization",
                HeaderValue::from_str(&basic(user, pw)).unwrap(),
            );
            let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
            sec.check_with(
                &Method::GET,
                "/opendcre/1.1/scan",
                &h,
                peer,
                None,
                Permission::Read,
            )
            .await
        }
    };
    assert!(check("bob", "bob-pw").await.is_ok());
    assert!(matches!(
        check("carol", "carol-pw").await,
        Err(AuthRejection::Forbidden { role: None, .. })
    ));
    assert!(matches!(
        check("bob", "nope").await,
        Err(AuthRejection::Unauthenticated { .. })
    ));
    slapd.stop();
    assert!(matches!(
        check("bob", "bob-pw").await,
        Err(AuthRejection::Unavailable { .. })
    ));
}

#[tokio::test]
async fn direct_bind_with_member_of() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let a = LdapAuthenticator::new(&LdapConfig {
        mode: LdapMode::Direct,
        bind_template: Some("uid={user},ou=people,dc=example,dc=org".into()),
        bind_dn: None,
        bind_password: None,
        group_source: LdapGroupSource::MemberOf,
        ..cfg(slapd.url())
    })
    .unwrap();
    assert_eq!(
        login(&a, "alice", "alice-pw").await,
        Ok(Some(Role::Operator))
    );
    assert_eq!(login(&a, "erin", "erin-pw").await, Ok(Some(Role::Operator)));
    assert_eq!(login(&a, "bob", "bob-pw").await, Ok(Some(Role::Reader)));
    // memberOf is maintained for groupOfNames only: dave's posixGroup is
    // invisible this way, which is why group_source exists.
    assert_eq!(login(&a, "dave", "dave-pw").await, Ok(None));
    let invalid = Err(LdapAuthError::InvalidCredentials);
    assert_eq!(login(&a, "alice", "wrong").await, invalid);
    assert_eq!(login(&a, "nobody", "x").await, invalid);
    assert_eq!(
        login(&a, "alice,ou=people", "alice-pw").await,
        invalid,
        "DN-escaped"
    );
}

#[tokio::test]
async fn ldaps_and_starttls_verify_the_directory_certificate() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let ldaps = LdapAuthenticator::new(&LdapConfig {
        ca_file: Some(slapd.ca()),
        ..cfg(slapd.ldaps_url())
    })
    .unwrap();
    assert_eq!(
        login(&ldaps, "alice", "alice-pw").await,
        Ok(Some(Role::Operator))
    );
    let starttls = LdapAuthenticator::new(&LdapConfig {
        ca_file: Some(slapd.ca()),
        starttls: true,
        ..cfg(slapd.url())
    })
    .unwrap();
    assert_eq!(
        login(&starttls, "bob", "bob-pw").await,
        Ok(Some(Role::Reader))
    );

    // A directory whose certificate is not from the trusted CA is refused.
    let dir = tempfile::tempdir().unwrap();
    let other = write(dir.path(), "other.pem", &Ca::new("not the LDAP CA").pem);
    for (url, starttls) in [(slapd.ldaps_url(), false), (slapd.url(), true)] {
        let wrong = LdapAuthenticator::new(&LdapConfig {
            ca_file: Some(other.clone()),
            starttls,
            ..cfg(url)
        })
        .unwrap();
        let r = login(&wrong, "alice", "alice-pw").await;
        assert!(matches!(r, Err(LdapAuthError::Unavailable(_))), "{r:?}");
    }
}

#[tokio::test]
async fn successful_binds_are_cached_and_outages_are_bounded() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let cached = LdapAuthenticator::new(&LdapConfig {
        cache_ttl_secs: 60,
        ..cfg(slapd.url())
    })
    .unwrap();
    assert_eq!(
        login(&cached, "alice", "alice-pw").await,
        Ok(Some(Role::Operator))
    );
    slapd.stop();
    // Within the TTL the same user and password need no directory ...
    assert_eq!(
        login(&cached, "alice", "alice-pw").await,
        Ok(Some(Role::Operator))
    );
    // ... but another password is not "cached", it needs the directory.
    assert!(matches!(
        login(&cached, "alice", "guess").await,
        Err(LdapAuthError::Unavailable(_))
    ));
    assert!(matches!(
        login(&cached, "bob", "bob-pw").await,
        Err(LdapAuthError::Unavailable(_))
    ));

    // A server that accepts TCP and then says nothing: bounded by timeouts.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hole.local_addr().unwrap();
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hole.accept().await {
            held.push(s);
        }
    });
    let silent = LdapAuthenticator::new(&LdapConfig {
        timeout_ms: 300,
        ..cfg(format!("ldap://{addr}"))
    })
    .unwrap();
    let started = Instant::now();
    let r = login(&silent, "alice", "alice-pw").await;
    assert!(matches!(r, Err(LdapAuthError::Unavailable(_))), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    keep.abort();
}

#[tokio::test]
async fn basic_auth_over_tls_through_the_server() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("api CA");
    let server = ca.server();
    let tls = TlsConfig {
        enabled: true,
        cert: write(dir.path(), "s.crt", &server.cert_pem),
        key: write(dir.path(), "s.key", &server.key_pem),
        ..TlsConfig::default()
    };
    let auth = AuthConfig {
        ldap: Some(cfg(slapd.url())),
        ..AuthConfig::default()
    };
    let api = TestApi::start(&auth, Some(&tls)).await;
    let c = Client::tls(tls_config(&ca.pem, None, rustls::ALL_VERSIONS));
    let on = "/opendcre/1.1/power/on/00000001/0001";
    let alice = basic("alice", "alice-pw");
    let bob = basic("bob", "bob-pw");
    let wrong = basic("alice", "nope");
    assert_eq!(
        c.get(api.tls_addr(), on, &[("authorization", &alice)])
            .await
            .status,
        200
    );
    assert_eq!(
        c.get(api.tls_addr(), on, &[("authorization", &bob)])
            .await
            .status,
        403
    );
    let r = c
        .get(api.tls_addr(), on, &[("authorization", &wrong)])
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        vec!["Basic realm=\"opendcre\", charset=\"UTF-8\""]
    );
    assert_eq!(r.json()["message"], "invalid user name or password");
    api.stop().await;
}

/// `n` concurrent checks of `authorization` from `peer` through `sec`;
/// how many got each status.
async fn statuses(
    sec: &std::sync::Arc<Security>,
    peer: &str,
    authorization: &str,
    n: usize,
) -> BTreeMap<u16, usize> {
    let peer: SocketAddr = peer.parse().unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(authorization).unwrap(),
    );
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (sec, h) = (sec.clone(), h.clone());
        set.spawn(async move {
            match sec
                .check_with(
                    &Method::GET,
                    "/opendcre/1.1/scan",
                    &h,
                    peer,
                    None,
                    Permission::Read,
                )
                .await
            {
                Ok(_) => 200,
                Err(e) => e.status().as_u16(),
            }
        });
    }
    let mut count = BTreeMap::new();
    while let Some(s) = set.join_next().await {
        *count.entry(s.unwrap()).or_insert(0) += 1;
    }
    count
}

#[tokio::test]
async fn concurrent_password_guesses_are_not_all_tried() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let sec = std::sync::Arc::new(
        Security::from_config(&AuthConfig {
            ldap: Some(cfg(slapd.url())),
            rate_limit: RateLimitConfig {
                burst: 10,
                ..RateLimitConfig::default()
            },
            ..AuthConfig::default()
        })
        .unwrap(),
    );
    // 100 guesses at once: at most the burst reaches the directory (401);
    // the rest are refused unseen (429).
    let got = statuses(&sec, "192.0.2.10:40000", &basic("alice", "guess"), 100).await;
    eprintln!("100 concurrent wrong LDAP passwords: {got:?}");
    let tried = got.get(&401).copied().unwrap_or(0);
    assert!(tried <= 10, "{tried} guesses were tried: {got:?}");
    assert_eq!(got.values().sum::<usize>(), 100);
    // The right password from the same address still gets in.
    let ok = statuses(&sec, "192.0.2.10:40001", &basic("alice", "alice-pw"), 1).await;
    assert_eq!(ok.get(&200), Some(&1), "{ok:?}");
}

#[tokio::test]
async fn principals_carry_the_login_the_directory_resolved() {
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let sec = Security::from_config(&AuthConfig {
        ldap: Some(cfg(slapd.url())),
        ..AuthConfig::default()
    })
    .unwrap();
    for typed in ["alice", "ALICE", " alice "] {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&basic(typed, "alice-pw")).unwrap(),
        );
        let p = sec
            .check_with(
                &Method::GET,
                "/opendcre/1.1/scan",
                &h,
                "127.0.0.1:40000".parse().unwrap(),
                None,
                Permission::Read,
            )
            .await
            .unwrap_or_else(|e| panic!("{typed:?}: {e:?}"));
        assert_eq!(p.name, "alice", "typed {typed:?}");
    }
}

/// `[auth.users]` comes before LDAP: a name that is a local account is
/// decided by its local password only (the directory's password for the
/// same name is refused, so a local password never goes to LDAP); every
/// other name goes to the directory. Both through [`Security::login`], the
/// path of HTTP Basic and of the Redfish session login.
#[tokio::test]
async fn local_accounts_come_before_ldap() {
    use opendcre_security::auth::{hash_token, AuthMethod, HashAlgorithm, UserEntry};
    let Some(slapd) = Slapd::start() else {
        return;
    };
    let mut users = BTreeMap::new();
    users.insert(
        "bob".to_string(),
        UserEntry {
            password_hash: hash_token("local-bob-password", HashAlgorithm::Argon2id).unwrap(),
            role: Role::Operator,
        },
    );
    let sec = Security::from_config(&AuthConfig {
        users,
        ldap: Some(cfg(slapd.url())),
        ..AuthConfig::default()
    })
    .unwrap();
    assert!(sec.challenges().basic);
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let login = |u: &'static str, p: &'static str| {
        sec.login(
            &Method::POST,
            "/redfish/v1/SessionService/Sessions",
            u,
            Secret::new(p),
            peer,
        )
    };
    let local = login("bob", "local-bob-password").await.unwrap();
    assert_eq!(
        (local.method, local.role),
        (AuthMethod::Local, Role::Operator)
    );
    assert!(
        matches!(
            login("bob", "bob-pw").await,
            Err(AuthRejection::Unauthenticated { .. })
        ),
        "the directory's password of a local name is not tried"
    );
    let alice = login("alice", "alice-pw").await.unwrap();
    assert_eq!(
        (alice.method, alice.role),
        (AuthMethod::Ldap, Role::Operator)
    );
    assert!(matches!(
        login("alice", "local-bob-password").await,
        Err(AuthRejection::Unauthenticated { .. })
    ));
}
