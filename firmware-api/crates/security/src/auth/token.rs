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
//! All argon2 verifications run on one worker thread that owns one memory
//! block buffer, allocated at the first verification and reused. With one
//! allocation per verification on a pool of blocking threads, each thread's
//! malloc arena kept its 19 MiB block after the verification ended: a
//! burst of 250 wrong guesses left the process at 872 MB. One worker also
//! makes the CPU an attacker can burn one core, whatever the number of
//! addresses it comes from; queued verifications wait, bounded per address
//! by the failure limiter.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, Block};
use base64::Engine;
use ring::rand::SecureRandom;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

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

/// An argon2 entry decoded once at load time, so the worker only hashes.
struct Argon2Entry {
    /// Index into [`TokenStore::tokens`].
    index: usize,
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: argon2::Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Argon2Entry {
    fn decode(index: usize, phc: &str) -> Result<Argon2Entry, String> {
        let h = PasswordHash::new(phc).map_err(|e| format!("bad argon2 hash: {e}"))?;
        let algorithm = argon2::Algorithm::new(h.algorithm.as_str())
            .map_err(|e| format!("bad argon2 hash: {e}"))?;
        let version = h
            .version
            .map(argon2::Version::try_from)
            .transpose()
            .map_err(|e| format!("bad argon2 version: {e}"))?
            .unwrap_or_default();
        let params =
            argon2::Params::try_from(&h).map_err(|e| format!("bad argon2 parameters: {e}"))?;
        let (Some(salt), Some(hash)) = (h.salt, h.hash) else {
            return Err("bad argon2 hash: salt and hash are required".to_string());
        };
        let mut buf = [0u8; 64];
        let salt = salt
            .decode_b64(&mut buf)
            .map_err(|e| format!("bad argon2 salt: {e}"))?
            .to_vec();
        Ok(Argon2Entry {
            index,
            algorithm,
            version,
            params,
            salt,
            hash: hash.as_bytes().to_vec(),
        })
    }

    /// Hashes `presented` with this entry's parameters into `memory`, which
    /// holds at least `params.block_count()` blocks, and compares in
    /// constant time.
    fn matches(&self, presented: &[u8], memory: &mut [Block]) -> bool {
        let argon = Argon2::new(self.algorithm, self.version, self.params.clone());
        let mut out = vec![0u8; self.hash.len()];
        argon
            .hash_password_into_with_memory(presented, &self.salt, &mut out, memory)
            .is_ok()
            && bool::from(out.ct_eq(&self.hash))
    }
}

/// One argon2 verification for the worker: the presented token and where
/// to send the index of the matching entry.
struct Job {
    presented: Secret,
    reply: oneshot::Sender<Option<usize>>,
}

/// Verifications queued for the worker before senders wait; each queued
/// job is a token and a channel, not memory for argon2.
const WORKER_QUEUE: usize = 64;

/// The argon2 worker thread: one block buffer, sized for the most
/// demanding configured hash, allocated at its first job and reused for
/// every later one. It ends when the store (the only sender) is dropped.
fn spawn_worker(entries: Vec<Argon2Entry>) -> std::io::Result<mpsc::Sender<Job>> {
    let (tx, mut rx) = mpsc::channel::<Job>(WORKER_QUEUE);
    let blocks = entries
        .iter()
        .map(|e| e.params.block_count())
        .max()
        .unwrap_or(0);
    std::thread::Builder::new()
        .name("argon2-verify".into())
        .spawn(move || {
            let mut memory: Vec<Block> = Vec::new();
            while let Some(job) = rx.blocking_recv() {
                if memory.len() < blocks {
                    memory = vec![Block::default(); blocks];
                }
                let presented = job.presented.expose().as_bytes();
                // Every entry is hashed, matching or not, so timing does not
                // reveal which one matched.
                let mut found = None;
                for e in &entries {
                    if e.matches(presented, &mut memory) {
                        found = Some(e.index);
                    }
                }
                let _ = job.reply.send(found);
            }
        })?;
    Ok(tx)
}

/// The configured tokens.
pub struct TokenStore {
    tokens: Vec<StoredToken>,
    verified: TtlCache<[u8; 32], usize>,
    /// The argon2 worker's queue; `None` when no token is argon2-hashed.
    slow: Option<mpsc::Sender<Job>>,
}

impl TokenStore {
    pub fn new(
        entries: &BTreeMap<String, TokenEntry>,
        cache_ttl: Duration,
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
        let mut argon_entries = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if let TokenHash::Argon2(phc) = &t.hash {
                argon_entries.push(Argon2Entry::decode(i, phc).map_err(|reason| {
                    SecurityConfigError::Invalid {
                        key: format!("auth.tokens.{}.hash", t.name),
                        reason,
                    }
                })?);
            }
        }
        let slow = if argon_entries.is_empty() {
            None
        } else {
            Some(
                spawn_worker(argon_entries).map_err(|e| SecurityConfigError::Invalid {
                    key: "auth.tokens".into(),
                    reason: format!("cannot start the argon2 worker thread: {e}"),
                })?,
            )
        };
        Ok(TokenStore {
            tokens,
            verified: TtlCache::new(cache_ttl, 256),
            slow,
        })
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
        let slow = self.slow.as_ref()?;
        let (reply, answer) = oneshot::channel();
        slow.send(Job {
            presented: Secret::new(presented.expose().to_string()),
            reply,
        })
        .await
        .ok()?;
        answer.await.ok().flatten()
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
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
        TokenStore::new(&map, Duration::from_secs(60)).unwrap()
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
