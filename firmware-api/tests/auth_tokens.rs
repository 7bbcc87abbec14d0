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
    // Nor from OPTIONS: without a configured CORS origin it is
    // authenticated like a GET.
    let r = c
        .send(Method::OPTIONS, api.plain, "/opendcre/1.1/scan", &[])
        .await
        .unwrap();
    assert_eq!(r.status, 401);
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
    // A failure over budget is debt: two attempts at 6 per minute.
    assert!((1..=20).contains(&retry), "retry-after {retry}");
    assert_eq!(r.json()["http_code"], 429);
    // Guessing is throttled, not the address: the right token still
    // works from there (a NAT, a jump host) ...
    let r = attacker
        .get(api.plain, TEST, &[("authorization", &right)])
        .await;
    assert_eq!(r.status, 200);
    // ... and other clients are not affected.
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

/// `n` concurrent checks of `authorization` from `peer`, straight through
/// [`Security::check_with`]; how many got each status.
async fn statuses(
    sec: &std::sync::Arc<Security>,
    peer: SocketAddr,
    authorization: &str,
    n: usize,
) -> BTreeMap<u16, usize> {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        http::HeaderValue::from_str(authorization).unwrap(),
    );
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (sec, h) = (sec.clone(), h.clone());
        set.spawn(async move {
            match sec
                .check_with(&Method::GET, TEST, &h, peer, None, Permission::Read)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_tokens_are_not_all_verified() {
    // Default limits: a burst of 10.
    let sec = std::sync::Arc::new(Security::from_config(&token_config()).unwrap());
    let peer: SocketAddr = "192.0.2.20:40000".parse().unwrap();
    let got = statuses(&sec, peer, &bearer("odcre_guess"), 200).await;
    eprintln!("200 concurrent wrong argon2 tokens: {got:?}");
    let verified = got.get(&401).copied().unwrap_or(0);
    assert!(
        verified <= 10,
        "{verified} wrong tokens were verified: {got:?}"
    );
    assert_eq!(got.values().sum::<usize>(), 200);
}

#[tokio::test]
async fn valid_tokens_pass_from_an_address_that_failed_too_often() {
    let sec = Security::from_config(&token_config()).unwrap();
    let peer: SocketAddr = "192.0.2.21:40000".parse().unwrap();
    let check = |token: &'static str| {
        let sec = &sec;
        async move {
            let mut h = HeaderMap::new();
            h.insert(
                "authorization",
                http::HeaderValue::from_str(&bearer(token)).unwrap(),
            );
            match sec
                .check_with(&Method::GET, TEST, &h, peer, None, Permission::Read)
                .await
            {
                Ok(_) => 200,
                Err(e) => e.status().as_u16(),
            }
        }
    };
    for _ in 0..10 {
        assert_eq!(check("odcre_guess").await, 401);
    }
    // Five more at once, beyond the burst: one is verified in the address's
    // single over-budget lane, held for a refill interval (10 s here); all
    // are answered 429.
    let g = "odcre_guess";
    let more = tokio::join!(check(g), check(g), check(g), check(g), check(g));
    assert_eq!(
        more,
        (429, 429, 429, 429, 429),
        "beyond the burst: throttled"
    );
    let (argon, sha) = (check(OPS).await, check(MON).await);
    eprintln!("after 15 failures: argon2 token {argon}, sha256 token {sha}");
    assert_eq!((argon, sha), (200, 200));
    // Still throttled for guesses.
    assert_eq!(check("odcre_guess").await, 429);
}

#[tokio::test]
async fn failures_from_other_addresses_do_not_clear_a_locked_out_one() {
    // sha256 tokens only: thousands of wrong ones cost nothing to check.
    let mut tokens = tokens();
    tokens.remove("ops");
    let sec = Security::from_config(&AuthConfig {
        tokens,
        ..AuthConfig::default()
    })
    .unwrap();
    let wrong = {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            http::HeaderValue::from_str(&bearer("odcre_guess")).unwrap(),
        );
        h
    };
    let status = |peer: SocketAddr| {
        let (sec, wrong) = (&sec, &wrong);
        async move {
            match sec
                .check_with(&Method::GET, TEST, wrong, peer, None, Permission::Read)
                .await
            {
                Ok(_) => 200,
                Err(e) => e.status().as_u16(),
            }
        }
    };
    let locked: SocketAddr = "192.0.2.22:40000".parse().unwrap();
    for _ in 0..10 {
        assert_eq!(status(locked).await, 401);
    }
    // 4,100 failures from as many other addresses (the table holds 4,096).
    let mut refused = 0;
    for i in 0..4100u32 {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        if status(SocketAddr::new(ip.into(), 40000)).await == 429 {
            refused += 1;
        }
    }
    let after = status(locked).await;
    eprintln!("after 4,100 failures elsewhere: locked-out address gets {after}, {refused} new addresses refused");
    assert_eq!(after, 429, "the locked-out address was forgotten");
}

/// VmHWM (peak resident set) of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_argon2_tokens_does_not_grow_memory() {
    use crate::common::{data, Server};
    let hash = hash_token(OPS, HashAlgorithm::Argon2id).unwrap();
    // Throttling off and the per-address connection cap above the burst,
    // so that every one of the guesses is verified.
    let (server, _dir) = Server::with_config(&format!(
        "[server]\nmax_connections_per_address = 256\n\
         [emulator]\nconfig = \"{}\"\n\
         [auth.rate_limit]\nenabled = false\n\
         [auth.tokens.ops]\nhash = \"{hash}\"\nrole = \"operator\"\n",
        data("v11-cases.json").display()
    ));
    let addr: SocketAddr = server.addr.parse().unwrap();
    let before = vm_hwm_kib(server.pid());
    let wrong = bearer("odcre_guess");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..250 {
        let wrong = wrong.clone();
        set.spawn(async move {
            Client::plain()
                .send(Method::GET, addr, TEST, &[("authorization", &wrong)])
                .await
                .map(|r| r.status)
        });
    }
    let mut unauthorized = 0;
    while let Some(r) = set.join_next().await {
        if r.unwrap() == Ok(401) {
            unauthorized += 1;
        }
    }
    let after = vm_hwm_kib(server.pid());
    eprintln!("VmHWM {before} kB before, {after} kB after 250 wrong argon2 tokens ({unauthorized} answered 401)");
    assert_eq!(unauthorized, 250, "every guess must have been verified");
    // One 19 MiB block and the rest of the process, not one per guess.
    assert!(after < 128 * 1024, "VmHWM {after} kB");
}
