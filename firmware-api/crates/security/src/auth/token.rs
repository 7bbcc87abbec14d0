//! Static bearer tokens, stored only as hashes.
//!
//! Two hash forms are accepted. `sha256:<hex>` is enough for the random
//! 256-bit tokens `opendcre auth init` makes (nothing to brute-force) and
//! costs nothing per request. `$argon2id$...` (the `hash-token` default)
//! also protects tokens a person chose; verifying one costs tens of
//! milliseconds on a desktop and far more on a Pi, so a successful
//! verification is remembered for `token_cache_secs` under the SHA-256 of
//! the presented token.
//!
//! Argon2 verifications run on the process's one argon2 worker
//! ([`super::argon`]), shared with local users' passwords.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use base64::Engine;
use ring::rand::SecureRandom;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::argon::{Argon2Entry, Slot, Target, Verifier};
use super::cache::TtlCache;
use super::config::TokenEntry;
use super::credentials::Secret;
use super::role::Role;
use super::SecurityConfigError;
use crate::tls::hex_lower;

/// A stored token hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenHash {
    Sha256([u8; 32]),
    /// PHC string, validated at load time.
    Argon2(String),
}

/// Hash functions `hash-token` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Argon2id,
    Sha256,
}

impl FromStr for TokenHash {
    type Err = String;
    fn from_str(s: &str) -> Result<TokenHash, String> {
        if let Some(hex) = s.strip_prefix("sha256:") {
            let bytes = decode_hex(hex).ok_or("sha256: must be followed by 64 hex digits")?;
            let arr: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "sha256: must be followed by 64 hex digits".to_string())?;
            Ok(TokenHash::Sha256(arr))
        } else if s.starts_with("$argon2") {
            let h = PasswordHash::new(s).map_err(|e| format!("bad argon2 hash: {e}"))?;
            argon2::Algorithm::new(h.algorithm.as_str())
                .map_err(|e| format!("bad argon2 hash: {e}"))?;
            argon2::Params::try_from(&h).map_err(|e| format!("bad argon2 parameters: {e}"))?;
            if h.salt.is_none() || h.hash.is_none() {
                return Err("bad argon2 hash: salt and hash are required".to_string());
            }
            Ok(TokenHash::Argon2(s.to_string()))
        } else {
            Err("token hash must start with \"sha256:\" or \"$argon2id$\"".to_string())
        }
    }
}

/// Hashes a token for `[auth.tokens]`.
pub fn hash_token(token: &str, alg: HashAlgorithm) -> Result<String, String> {
    match alg {
        HashAlgorithm::Sha256 => Ok(format!("sha256:{}", hex_lower(&Sha256::digest(token)))),
        HashAlgorithm::Argon2id => {
            let mut salt = [0u8; 16];
            ring::rand::SystemRandom::new()
                .fill(&mut salt)
                .map_err(|_| "system random source failed".to_string())?;
            let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
            Argon2::default()
                .hash_password(token.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        }
    }
}

/// A new random API token: 32 bytes from the system RNG, base64url,
/// with a prefix that makes leaked tokens easy to grep for.
pub fn generate_token() -> Result<String, String> {
    let mut raw = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| "system random source failed".to_string())?;
    Ok(format!(
        "odcre_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    ))
}

struct StoredToken {
    name: String,
    hash: TokenHash,
    role: Role,
}

/// The configured tokens.
pub struct TokenStore {
    tokens: Vec<StoredToken>,
    verified: TtlCache<[u8; 32], usize>,
    /// The process's argon2 worker ([`TokenStore::attach`]).
    slow: Verifier,
}

impl TokenStore {
    /// Parses the configured tokens; the argon2-hashed ones are appended
    /// to `argon` for the shared worker, which [`TokenStore::attach`] hands
    /// over once every store has been read.
    pub(crate) fn new(
        entries: &BTreeMap<String, TokenEntry>,
        cache_ttl: Duration,
        argon: &mut Vec<Argon2Entry>,
    ) -> Result<TokenStore, SecurityConfigError> {
        let mut tokens = Vec::new();
        for (name, entry) in entries {
            let hash = entry
                .hash
                .parse()
                .map_err(|e| SecurityConfigError::Invalid {
                    key: format!("auth.tokens.{name}.hash"),
                    reason: e,
                })?;
            tokens.push(StoredToken {
                name: name.clone(),
                hash,
                role: entry.role,
            });
        }
        for (i, t) in tokens.iter().enumerate() {
            if let TokenHash::Argon2(phc) = &t.hash {
                argon.push(Argon2Entry::decode(Slot::Token(i), phc).map_err(|reason| {
                    SecurityConfigError::Invalid {
                        key: format!("auth.tokens.{}.hash", t.name),
                        reason,
                    }
                })?);
            }
        }
        Ok(TokenStore {
            tokens,
            verified: TtlCache::new(cache_ttl, 256),
            slow: Verifier::default(),
        })
    }

    /// A store with an argon2 worker of its own, for tools and benchmarks
    /// that verify tokens outside a [`super::Security`].
    pub fn standalone(
        entries: &BTreeMap<String, TokenEntry>,
        cache_ttl: Duration,
    ) -> Result<TokenStore, SecurityConfigError> {
        let mut argon = Vec::new();
        let mut store = TokenStore::new(entries, cache_ttl, &mut argon)?;
        store.attach(
            Verifier::spawn(argon).map_err(|e| SecurityConfigError::Invalid {
                key: "auth.tokens".into(),
                reason: format!("cannot start the argon2 worker thread: {e}"),
            })?,
        );
        Ok(store)
    }

    /// The shared argon2 worker, started after every store was parsed.
    pub(crate) fn attach(&mut self, verifier: Verifier) {
        self.slow = verifier;
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token's name and role, or `None` if no stored hash matches.
    pub async fn verify(&self, presented: &Secret) -> Option<(String, Role)> {
        let digest: [u8; 32] = Sha256::digest(presented.expose()).into();
        // Every sha256 entry is compared, matching or not, so timing does
        // not reveal which prefix or which entry came close.
        let mut found = None;
        for (i, t) in self.tokens.iter().enumerate() {
            if let TokenHash::Sha256(h) = &t.hash {
                if bool::from(h.ct_eq(&digest)) {
                    found = Some(i);
                }
            }
        }
        if found.is_none() {
            found = self.verified.get(&digest);
        }
        if found.is_none() {
            found = self.verify_slow(presented).await;
            if let Some(i) = found {
                self.verified.insert(digest, i);
            }
        }
        found.map(|i| (self.tokens[i].name.clone(), self.tokens[i].role))
    }

    async fn verify_slow(&self, presented: &Secret) -> Option<usize> {
        match self.slow.verify(presented, Target::AnyToken).await? {
            Slot::Token(i) => Some(i),
            Slot::Account => None,
        }
    }
}

pub(super) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(pairs: &[(&str, String, Role)]) -> TokenStore {
        let map = pairs
            .iter()
            .map(|(n, h, r)| {
                (
                    n.to_string(),
                    TokenEntry {
                        hash: h.clone(),
                        role: *r,
                    },
                )
            })
            .collect();
        let mut argon = Vec::new();
        let mut s = TokenStore::new(&map, Duration::from_secs(60), &mut argon).unwrap();
        s.attach(Verifier::spawn(argon).unwrap());
        s
    }

    #[tokio::test]
    async fn both_hash_forms_verify_and_wrong_tokens_do_not() {
        let s = store(&[
            (
                "ops",
                hash_token("tok-ops", HashAlgorithm::Argon2id).unwrap(),
                Role::Operator,
            ),
            (
                "mon",
                hash_token("tok-mon", HashAlgorithm::Sha256).unwrap(),
                Role::Reader,
            ),
        ]);
        assert_eq!(
            s.verify(&Secret::new("tok-ops")).await,
            Some(("ops".into(), Role::Operator))
        );
        assert_eq!(s.verified.len(), 1);
        // Second time from the cache.
        assert_eq!(
            s.verify(&Secret::new("tok-ops")).await,
            Some(("ops".into(), Role::Operator))
        );
        assert_eq!(
            s.verify(&Secret::new("tok-mon")).await,
            Some(("mon".into(), Role::Reader))
        );
        assert_eq!(s.verify(&Secret::new("tok-mon ")).await, None);
        assert_eq!(s.verify(&Secret::new("")).await, None);
    }

    #[test]
    fn hash_formats_are_checked() {
        assert!("sha256:00".parse::<TokenHash>().is_err());
        assert!("md5:abcd".parse::<TokenHash>().is_err());
        assert!("$argon2id$garbage".parse::<TokenHash>().is_err());
        let h = hash_token("x", HashAlgorithm::Sha256).unwrap();
        assert_eq!(
            h,
            "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
        );
        assert!(h.parse::<TokenHash>().is_ok());
        let a = hash_token("x", HashAlgorithm::Argon2id).unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(
            a,
            hash_token("x", HashAlgorithm::Argon2id).unwrap(),
            "salted"
        );
    }

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert!(a.starts_with("odcre_") && a.len() == 6 + 43);
        assert_ne!(a, b);
    }
}
