//! OAuth2/OIDC bearer JWTs checked offline against the provider's keys
//! (Redfish calls this OAuth2 `Mode = Offline|Discovery`). Keys come from a
//! JWKS file or URL, or from OIDC discovery, and are cached with a TTL. A
//! token whose `kid` is not in the cached set triggers one early refetch
//! (rate-limited), which is how key rotation at the provider is picked up.
//!
//! Fetches happen outside the cache's lock and one at a time (single
//! flight). Once keys are cached, an expired set is refreshed in the
//! background while requests go on with the keys at hand; only a request
//! that cannot be answered without the provider (no keys yet, or a `kid`
//! the cached set lacks) waits for the fetch. Fetching under the lock made
//! every JWT user wait the whole fetch timeout when the provider hung.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::sync::Mutex;

use super::config::JwtConfig;
use super::fetch::HttpFetcher;
use super::role::Role;
use super::SecurityConfigError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    /// The token is bad: signature, claims, algorithm, unknown key.
    #[error("{0}")]
    Invalid(String),
    /// The key set could not be obtained; not the client's fault.
    #[error("{0}")]
    Unavailable(String),
}

/// Who a valid token names and the role its claims map to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JwtIdentity {
    pub name: String,
    pub role: Option<Role>,
}

enum Source {
    File(PathBuf),
    Url(String),
    Discovery(String),
}

#[derive(Default)]
struct KeyCache {
    keys: Option<Arc<Vec<Jwk>>>,
    fetched_at: Option<Instant>,
    /// Last refetch forced by an unknown `kid`.
    last_forced: Option<Instant>,
    /// Last failed load; no new attempt within `jwks_min_refresh_secs`.
    last_failure: Option<Instant>,
}

pub(crate) struct JwtValidator {
    cfg: JwtConfig,
    algorithms: Vec<Algorithm>,
    keys: Arc<KeySource>,
}

/// Where keys come from and what is cached of them; shared with the
/// background refresh task.
struct KeySource {
    cfg: JwtConfig,
    source: Source,
    fetcher: HttpFetcher,
    /// Never held across an await.
    cache: Mutex<KeyCache>,
    /// Held for the length of one load, so loads do not pile up on a
    /// provider that is slow already.
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl JwtValidator {
    pub(super) fn new(cfg: &JwtConfig) -> Result<JwtValidator, SecurityConfigError> {
        let invalid = |key: &str, reason: &str| SecurityConfigError::Invalid {
            key: format!("auth.jwt.{key}"),
            reason: reason.to_string(),
        };
        if cfg.issuer.is_empty() {
            return Err(invalid("issuer", "required"));
        }
        if cfg.audience.is_empty() {
            return Err(invalid("audience", "at least one audience is required"));
        }
        let mut algorithms = Vec::new();
        for name in &cfg.algorithms {
            let alg: Algorithm = name
                .parse()
                .map_err(|_| invalid("algorithms", &format!("unknown algorithm {name:?}")))?;
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                // A shared secret would have to live on every node; and HS
                // next to public keys invites key-confusion attacks.
                return Err(invalid("algorithms", "HMAC algorithms are not accepted"));
            }
            algorithms.push(alg);
        }
        if algorithms.is_empty() {
            return Err(invalid("algorithms", "at least one algorithm is required"));
        }
        let source = match (&cfg.jwks_file, &cfg.jwks_url, cfg.discovery) {
            (Some(f), None, false) => Source::File(f.clone()),
            (None, Some(u), false) => Source::Url(u.clone()),
            (None, None, true) => Source::Discovery(cfg.issuer.trim_end_matches('/').to_string()),
            _ => {
                return Err(invalid(
                    "jwks_file",
                    "set exactly one of jwks_file, jwks_url, discovery = true",
                ))
            }
        };
        let fetcher = HttpFetcher::new(
            cfg.ca_file.as_deref(),
            Duration::from_millis(cfg.timeout_ms.max(1)),
        )?;
        Ok(JwtValidator {
            cfg: cfg.clone(),
            algorithms,
            keys: Arc::new(KeySource {
                cfg: cfg.clone(),
                source,
                fetcher,
                cache: Mutex::new(KeyCache::default()),
                loading: Arc::new(tokio::sync::Mutex::new(())),
            }),
        })
    }

    /// Verifies signature, `iss`, `aud`, `exp`, `nbf` and maps the roles.
    pub(super) async fn verify(&self, token: &str) -> Result<JwtIdentity, JwtError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| JwtError::Invalid(format!("malformed JWT: {e}")))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(JwtError::Invalid(format!(
                "JWT algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let keys = KeySource::keys(&self.keys, false).await?;
        let jwk = match pick_key(&keys, header.kid.as_deref(), header.alg) {
            Some(k) => k,
            None => {
                let keys = KeySource::keys(&self.keys, true).await?;
                pick_key(&keys, header.kid.as_deref(), header.alg).ok_or_else(|| {
                    JwtError::Invalid("no key in the provider's key set matches the JWT".into())
                })?
            }
        };
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| JwtError::Invalid(format!("unusable key in key set: {e}")))?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.cfg.issuer]);
        v.set_audience(&self.cfg.audience);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.leeway = self.cfg.leeway_secs;
        v.validate_exp = true;
        v.validate_nbf = true;
        let data = jsonwebtoken::decode::<Value>(token, &key, &v)
            .map_err(|e| JwtError::Invalid(format!("JWT rejected: {e}")))?;
        let claims = data.claims;
        let name = claims
            .get(&self.cfg.username_claim)
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        let role = claim_values(&claims, &self.cfg.roles_claim)
            .iter()
            .filter_map(|v| self.cfg.role_map.get(v).copied())
            .max()
            .or(self.cfg.default_role);
        Ok(JwtIdentity { name, role })
    }
}

impl KeySource {
    fn lock(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key set to check a token against; `refresh` when the cached set
    /// lacks the token's key.
    async fn keys(this: &Arc<KeySource>, refresh: bool) -> Result<Arc<Vec<Jwk>>, JwtError> {
        let cached = {
            let mut cache = this.lock();
            let ttl = Duration::from_secs(this.cfg.jwks_ttl_secs);
            let fresh = cache.fetched_at.is_some_and(|t| t.elapsed() < ttl);
            if let Some(keys) = &cache.keys {
                if fresh && !refresh {
                    return Ok(Arc::clone(keys));
                }
            }
            let min_gap = Duration::from_secs(this.cfg.jwks_min_refresh_secs);
            let recent = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() < min_gap);
            // Unknown kids (which anyone can put in a token) force at most
            // one refetch per gap, and a failing provider is not retried
            // sooner.
            let throttled =
                (refresh && fresh && recent(cache.last_forced)) || recent(cache.last_failure);
            if throttled {
                return match &cache.keys {
                    Some(k) => Ok(Arc::clone(k)),
                    None => Err(JwtError::Unavailable(
                        "identity provider keys are not available (retrying shortly)".into(),
                    )),
                };
            }
            if refresh && fresh {
                cache.last_forced = Some(Instant::now());
            }
            cache.keys.clone()
        };
        match cached {
            // Expired: refresh in the background (unless a load is already
            // running) and answer with the keys at hand meanwhile.
            Some(keys) if !refresh => {
                if let Ok(guard) = Arc::clone(&this.loading).try_lock_owned() {
                    let this = Arc::clone(this);
                    tokio::spawn(async move {
                        let _ = this.load_and_store().await;
                        drop(guard);
                    });
                }
                Ok(keys)
            }
            // This request needs the provider's answer: wait for the load
            // in progress, or run one.
            _ => {
                let asked = Instant::now();
                let _guard = this.loading.lock().await;
                {
                    let cache = this.lock();
                    let done = |t: Option<Instant>| t.is_some_and(|t| t >= asked);
                    if done(cache.fetched_at) || done(cache.last_failure) {
                        return match &cache.keys {
                            Some(k) => Ok(Arc::clone(k)),
                            None => Err(JwtError::Unavailable(
                                "identity provider keys are not available".into(),
                            )),
                        };
                    }
                }
                this.load_and_store().await
            }
        }
    }

    /// One load; the caller holds `loading`.
    async fn load_and_store(&self) -> Result<Arc<Vec<Jwk>>, JwtError> {
        match self.load().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                let mut cache = self.lock();
                cache.keys = Some(Arc::clone(&keys));
                cache.fetched_at = Some(Instant::now());
                cache.last_failure = None;
                Ok(keys)
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading the JWT key set failed");
                let mut cache = self.lock();
                cache.last_failure = Some(Instant::now());
                match &cache.keys {
                    // A provider outage should not lock everyone out while
                    // the keys we already have are still the provider's.
                    Some(k) => Ok(Arc::clone(k)),
                    None => Err(JwtError::Unavailable(format!(
                        "identity provider keys are not available: {e}"
                    ))),
                }
            }
        }
    }

    async fn load(&self) -> Result<Vec<Jwk>, String> {
        let body = match &self.source {
            Source::File(path) => {
                let limit = Duration::from_millis(self.cfg.timeout_ms.max(1));
                tokio::time::timeout(limit, tokio::fs::read(path))
                    .await
                    .map_err(|_| format!("{}: read timed out", path.display()))?
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .into()
            }
            Source::Url(url) => self.fetcher.get(url).await.map_err(|e| e.to_string())?,
            Source::Discovery(issuer) => {
                let url = format!("{issuer}/.well-known/openid-configuration");
                let doc = self.fetcher.get(&url).await.map_err(|e| e.to_string())?;
                let doc: Value =
                    serde_json::from_slice(&doc).map_err(|e| format!("{url}: not JSON: {e}"))?;
                let advertised = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
                if advertised.trim_end_matches('/') != issuer {
                    return Err(format!(
                        "{url}: issuer {advertised:?} does not match the configured issuer"
                    ));
                }
                let jwks_uri = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("{url}: no jwks_uri"))?;
                self.fetcher
                    .get(jwks_uri)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        parse_jwks(&body)
    }
}

/// Parses a JWKS document key by key, so one key of a type this build
/// cannot use (e.g. an encryption key) does not void the whole set.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<Jwk>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("JWKS is not JSON: {e}"))?;
    let list = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWKS has no \"keys\" array")?;
    let keys: Vec<Jwk> = list
        .iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter(|k| k.common.public_key_use != Some(PublicKeyUse::Encryption))
        .collect();
    if keys.is_empty() {
        return Err("JWKS holds no usable signing key".to_string());
    }
    Ok(keys)
}

fn pick_key(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let fits = |k: &&Jwk| family_fits(k, alg) && declared_alg_fits(k, alg);
    match kid {
        Some(kid) => keys
            .iter()
            .filter(|k| k.common.key_id.as_deref() == Some(kid))
            .find(fits)
            .cloned(),
        None => {
            // Without a kid only an unambiguous key may be used.
            let mut it = keys.iter().filter(fits);
            match (it.next(), it.next()) {
                (Some(k), None) => Some(k.clone()),
                _ => None,
            }
        }
    }
}

fn family_fits(k: &Jwk, alg: Algorithm) -> bool {
    use Algorithm::*;
    match &k.algorithm {
        AlgorithmParameters::RSA(_) => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
        AlgorithmParameters::EllipticCurve(_) => matches!(alg, ES256 | ES384),
        AlgorithmParameters::OctetKeyPair(_) => matches!(alg, EdDSA),
        AlgorithmParameters::OctetKey(_) => false,
    }
}

fn declared_alg_fits(k: &Jwk, alg: Algorithm) -> bool {
    match &k.common.key_algorithm {
        None => true,
        Some(ka) => serde_json::to_value(ka).ok() == serde_json::to_value(alg).ok(),
    }
}

/// Values of a claim addressed by a dotted path; strings are split on
/// whitespace so OAuth2 `scope` works like a list.
fn claim_values(claims: &Value, path: &str) -> Vec<String> {
    let mut v = claims;
    for part in path.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return Vec::new(),
        }
    }
    match v {
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_paths() {
        let c =
            json!({"roles": ["a", "b"], "scope": "x y", "realm_access": {"roles": ["k"]}, "n": 1});
        assert_eq!(claim_values(&c, "roles"), vec!["a", "b"]);
        assert_eq!(claim_values(&c, "scope"), vec!["x", "y"]);
        assert_eq!(claim_values(&c, "realm_access.roles"), vec!["k"]);
        assert!(claim_values(&c, "n").is_empty());
        assert!(claim_values(&c, "missing.path").is_empty());
    }

    #[test]
    fn config_checks() {
        let base = JwtConfig {
            issuer: "https://idp.example".into(),
            audience: vec!["opendcre".into()],
            jwks_url: Some("https://idp.example/jwks".into()),
            ..JwtConfig::default()
        };
        assert!(JwtValidator::new(&base).is_ok());
        let mut c = base.clone();
        c.algorithms = vec!["HS256".into()];
        assert!(JwtValidator::new(&c).is_err());
        let mut c = base.clone();
        c.discovery = true;
        assert!(JwtValidator::new(&c).is_err());
        let mut c = base.clone();
        c.audience.clear();
        assert!(JwtValidator::new(&c).is_err());
        let mut c = base;
        c.algorithms = vec!["none".into()];
        assert!(JwtValidator::new(&c).is_err());
    }

    #[test]
    fn jwks_parsing_skips_unusable_keys() {
        let body = br#"{"keys":[{"kty":"weird"},{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1","use":"sig"}]}"#;
        let keys = parse_jwks(body).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"not json").is_err());
        assert!(pick_key(&keys, Some("k1"), Algorithm::ES256).is_some());
        assert!(pick_key(&keys, Some("k1"), Algorithm::RS256).is_none());
        assert!(pick_key(&keys, None, Algorithm::ES256).is_some());
        assert!(pick_key(&keys, Some("k2"), Algorithm::ES256).is_none());
    }
}
