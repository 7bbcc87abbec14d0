//! Static bearer tokens, roles, challenges, failed-attempt limiting and
//! anonymous access, through the real HTTP server.

use crate::auth_support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use auth_support::client::{basic, bearer, Client};
use auth_support::server::TestApi;
use http::{HeaderMap, Method};
use opendcre_security::auth::{
    hash_token, AnonymousConfig, AuthConfig, AuthRejection, HashAlgorithm, Permission,
    RateLimitConfig, Role, Security, TokenEntry,
};

const OPS: &str = "odcre_ops-token-0123456789abcdef";
const MON: &str = "odcre_mon-token-0123456789abcdef";

fn tokens() -> BTreeMap<String, TokenEntry> {
    let mut t = BTreeMap::new();
    t.insert(
        "ops".to_string(),
        TokenEntry {
            hash: hash_token(OPS, HashAlgorithm::Argon2id).unwrap(),
            role: Role::Operator,
        },
    );
    t.insert(
        "monitoring".to_string(),
        TokenEntry {
            hash: hash_token(MON, HashAlgorithm::Sha256).unwrap(),
            role: Role::Reader,
        },
    );
    t
}

fn token_config() -> AuthConfig {
    AuthConfig {
        tokens: tokens(),
        ..AuthConfig::default()
    }
}

const TEST: &str = "/opendcre/1.1/test";
const POWER_ON: &str = "/opendcre/1.1/power/on/00000001/0001";
const POWER_STATUS: &str = "/opendcre/1.1/power/status/00000001/0001";
const WRITE_INFO: &str = "/opendcre/1.1/write/power/00000001/0001/info/rack-9";

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_challenge_and_json() {
    let api = TestApi::start(&token_config(), None).await;
    let c = Client::plain();
    let r = c.get(api.plain, TEST, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        vec!["Bearer realm=\"opendcre\""]
    );
    assert_eq!(r.json()["http_code"], 401);
    assert_eq!(r.json()["message"], "authentication required");
    assert_eq!(r.header("content-type"), vec!["application/json"]);
    // Auth runs before routing: no way to learn which paths exist.
    let r = c.get(api.plain, "/opendcre/1.1/no-such-thing", &[]).await;
    assert_eq!(r.status, 401);
    // CORS preflights carry no credentials and reveal only Allow.
    let r = c
        .send(Method::OPTIONS, api.plain, "/opendcre/1.1/scan", &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    api.stop().await;
}

#[tokio::test]
async fn reader_reads_operator_writes() {
    let api = TestApi::start(&token_config(), None).await;
    let c = Client::plain();
    let mon = bearer(MON);
    let ops = bearer(OPS);
    let reader = [("authorization", mon.as_str())];
    let operator = [("authorization", ops.as_str())];

    for path in [
        TEST,
        "/opendcre/1.1/version/00000001",
        "/opendcre/1.1/read/thermistor/00000001/0002",
        "/opendcre/1.1/read/power/00000001/0001/info",
        POWER_STATUS,
    ] {
        let r = c.get(api.plain, path, &reader).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    assert_eq!(
        c.get(api.plain, "/opendcre/1.1/version/00000001", &reader)
            .await
            .json()["firmware_version"],
        "fake-board 1.0"
    );
    for path in [
        POWER_ON,
        "/opendcre/1.1/power/cycle/1/1",
        WRITE_INFO,
        "/opendcre/1.1/power/%4fFF/1/1",
    ] {
        let r = c.get(api.plain, path, &reader).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert_eq!(r.json()["http_code"], 403);
        assert_eq!(
            r.json()["message"],
            "role reader does not have the operate permission"
        );
        assert!(r.header("www-authenticate").is_empty());
    }
    let r = c.get(api.plain, POWER_ON, &operator).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["power_status"], "on");
    let r = c.get(api.plain, WRITE_INFO, &operator).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["asset_info"], "rack-9");
    // Operator implies reader.
    assert_eq!(c.get(api.plain, POWER_STATUS, &operator).await.status, 200);
    // The always-501 bare write still needs the operator role.
    assert_eq!(
        c.get(api.plain, "/opendcre/1.1/write/power/1/1", &reader)
            .await
            .status,
        403
    );
    assert_eq!(
        c.get(api.plain, "/opendcre/1.1/write/power/1/1", &operator)
            .await
            .status,
        501
    );
    api.stop().await;
}

#[tokio::test]
async fn wrong_or_malformed_credentials_are_401() {
    let api = TestApi::start(&token_config(), None).await;
    let c = Client::plain();
    let wrong = bearer("odcre_not-the-right-token-at-all");
    let r = c.get(api.plain, TEST, &[("authorization", &wrong)]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        vec!["Bearer realm=\"opendcre\", error=\"invalid_token\""]
    );
    assert_eq!(r.json()["message"], "invalid bearer token");
    let b = basic("ops", OPS);
    let r = c.get(api.plain, TEST, &[("authorization", &b)]).await;
    assert_eq!(r.status, 401, "Basic is not accepted without LDAP");
    let r = c
        .get(
            api.plain,
            TEST,
            &[("authorization", "Digest username=\"x\"")],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["message"], "unsupported authorization scheme");
    let r = c
        .get(api.plain, TEST, &[("authorization", "Bearer ")])
        .await;
    assert_eq!(r.status, 401);
    let ops = bearer(OPS);
    let r = c
        .get(
            api.plain,
            TEST,
            &[("authorization", &ops), ("authorization", &ops)],
        )
        .await;
    assert_eq!(r.status, 401, "two Authorization headers");
    // A token must match exactly.
    let longer = bearer(&format!("{OPS}x"));
    assert_eq!(
        c.get(api.plain, TEST, &[("authorization", &longer)])
            .await
            .status,
        401
    );
    api.stop().await;
}

#[tokio::test]
async fn failed_attempts_are_throttled_per_client_address() {
    let cfg = AuthConfig {
        rate_limit: RateLimitConfig {
            enabled: true,
            burst: 3,
            refill_per_minute: 6,
            max_clients: 100,
        },
        ..token_config()
    };
    let api = TestApi::start(&cfg, None).await;
    let attacker = Client::plain().with_source("127.0.0.2");
    let bystander = Client::plain().with_source("127.0.0.3");
    let wrong = bearer("odcre_guess");
    let right = bearer(MON);
    for _ in 0..3 {
        let r = attacker
            .get(api.plain, TEST, &[("authorization", &wrong)])
            .await;
        assert_eq!(r.status, 401);
    }
    let r = attacker
        .get(api.plain, TEST, &[("authorization", &wrong)])
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let retry: u64 = r.header("retry-after")[0].parse().unwrap();
    assert!((1..=10).contains(&retry), "retry-after {retry}");
    assert_eq!(r.json()["http_code"], 429);
    // While throttled even the right token is turned away ...
    let r = attacker
        .get(api.plain, TEST, &[("authorization", &right)])
        .await;
    assert_eq!(r.status, 429);
    // ... but other clients are not affected.
    let r = bystander
        .get(api.plain, TEST, &[("authorization", &right)])
        .await;
    assert_eq!(r.status, 200);
    // Requests without credentials are not failures: no throttling.
    for _ in 0..5 {
        assert_eq!(bystander.get(api.plain, TEST, &[]).await.status, 401);
    }
    assert_eq!(
        bystander
            .get(api.plain, TEST, &[("authorization", &right)])
            .await
            .status,
        200
    );
    api.stop().await;
}

#[tokio::test]
async fn anonymous_access_only_when_configured() {
    let open = AuthConfig {
        anonymous: AnonymousConfig {
            enabled: true,
            role: Role::Reader,
            loopback_only: true,
        },
        ..token_config()
    };
    let api = TestApi::start(&open, None).await;
    let c = Client::plain();
    assert_eq!(c.get(api.plain, TEST, &[]).await.status, 200);
    assert_eq!(c.get(api.plain, POWER_ON, &[]).await.status, 403);
    // Presented credentials are checked, never silently downgraded.
    let wrong = bearer("odcre_wrong");
    assert_eq!(
        c.get(api.plain, TEST, &[("authorization", &wrong)])
            .await
            .status,
        401
    );
    let ops = bearer(OPS);
    assert_eq!(
        c.get(api.plain, POWER_ON, &[("authorization", &ops)])
            .await
            .status,
        200
    );

    // loopback_only: a LAN client gets no anonymous access.
    let lan: SocketAddr = "192.0.2.10:40000".parse().unwrap();
    let sec = &api.security;
    let r = sec
        .check_with(
            &Method::GET,
            TEST,
            &HeaderMap::new(),
            lan,
            None,
            Permission::Read,
        )
        .await;
    assert!(
        matches!(r, Err(AuthRejection::Unauthenticated { .. })),
        "{r:?}"
    );
    let mapped: SocketAddr = "[::ffff:127.0.0.1]:40000".parse().unwrap();
    assert!(sec
        .check_with(
            &Method::GET,
            TEST,
            &HeaderMap::new(),
            mapped,
            None,
            Permission::Read
        )
        .await
        .is_ok());
    api.stop().await;

    let everywhere = AuthConfig {
        anonymous: AnonymousConfig {
            enabled: true,
            role: Role::Reader,
            loopback_only: false,
        },
        ..AuthConfig::default()
    };
    let sec = Security::from_config(&everywhere).unwrap();
    assert!(sec
        .check_with(
            &Method::GET,
            TEST,
            &HeaderMap::new(),
            lan,
            None,
            Permission::Read
        )
        .await
        .is_ok());
}

#[tokio::test]
async fn nothing_configured_means_nothing_allowed_except_dev_loopback() {
    let api = TestApi::start(&AuthConfig::effective(None, false), None).await;
    assert!(api.security.describe().contains("every request is refused"));
    let c = Client::plain();
    assert_eq!(c.get(api.plain, TEST, &[]).await.status, 401);
    api.stop().await;

    let dev = AuthConfig::effective(None, true);
    let api = TestApi::start(&dev, None).await;
    assert_eq!(c.get(api.plain, POWER_ON, &[]).await.status, 200);
    let lan: SocketAddr = "192.0.2.10:40000".parse().unwrap();
    let r = api
        .security
        .check_with(
            &Method::GET,
            TEST,
            &HeaderMap::new(),
            lan,
            None,
            Permission::Read,
        )
        .await;
    assert!(r.is_err(), "dev mode is loopback only");
    api.stop().await;
}

#[tokio::test]
async fn bad_token_hashes_stop_the_config() {
    let mut t = tokens();
    t.insert(
        "broken".into(),
        TokenEntry {
            hash: "md5:abc".into(),
            role: Role::Reader,
        },
    );
    let err = Security::from_config(&AuthConfig {
        tokens: t,
        ..AuthConfig::default()
    })
    .err()
    .expect("must fail");
    assert!(err.to_string().contains("auth.tokens.broken.hash"), "{err}");
}
