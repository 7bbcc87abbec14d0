//! The one argon2 worker of the process, shared by bearer tokens
//! (`[auth.tokens]`) and local accounts' passwords (`[auth.users]` and the
//! accounts file): it verifies, and hashes the passwords of accounts made
//! or changed at run time.
//!
//! All argon2 verifications run on one worker thread that owns one memory
//! block buffer, allocated at the first verification and reused. With one
//! allocation per verification on a pool of blocking threads, each thread's
//! malloc arena kept its 19 MiB block after the verification ended: a
//! burst of 250 wrong guesses left the process at 872 MB. One worker also
//! makes the CPU an attacker can burn one core, whatever the number of
//! addresses it comes from and whichever credential kind it guesses;
//! queued verifications wait, bounded per address by the failure limiter.

use std::sync::Arc;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Argon2, Block};
use ring::rand::SecureRandom;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

use super::credentials::Secret;

/// Which secret an argon2 entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Index into the token store's list.
    Token(usize),
    /// A local account's password (the job carries the entry).
    Account,
}

/// What one verification compares against.
#[derive(Clone)]
pub(crate) enum Target {
    /// Every argon2-hashed token: a bearer token carries no name.
    AnyToken,
    /// One account's password hash: Basic and session logins name the
    /// user. Carried with the job, since accounts change at run time.
    Account(Arc<Argon2Entry>),
}

/// An argon2 entry decoded once at load time, so the worker only hashes.
pub(crate) struct Argon2Entry {
    slot: Slot,
    algorithm: argon2::Algorithm,
    version: argon2::Version,
    params: argon2::Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Argon2Entry {
    pub(crate) fn decode(slot: Slot, phc: &str) -> Result<Argon2Entry, String> {
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
            slot,
            algorithm,
            version,
            params,
            salt,
            hash: hash.as_bytes().to_vec(),
        })
    }

    /// Blocks of memory one hash with these parameters needs.
    fn blocks(&self) -> usize {
        self.params.block_count()
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

/// One job for the worker.
enum Job {
    /// Compare the presented secret with `target`; answer the matching slot.
    Verify {
        presented: Secret,
        target: Target,
        reply: oneshot::Sender<Option<Slot>>,
    },
    /// Hash a new password (argon2id, the crate's default parameters, a
    /// random salt) into a PHC string.
    Hash {
        password: Secret,
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// Verifications queued for the worker before senders wait; each queued
/// job is a secret and a channel, not memory for argon2.
const WORKER_QUEUE: usize = 64;

/// A handle on the worker; cloned into each store that needs it. The
/// worker ends when the last handle is dropped.
#[derive(Clone, Default)]
pub(crate) struct Verifier {
    /// `None` only in unit tests that build a store without a worker.
    tx: Option<mpsc::Sender<Job>>,
}

impl Verifier {
    /// Starts the worker with the argon2-hashed tokens `tokens`: one block
    /// buffer, grown to the most demanding hash it met, allocated at its
    /// first job and reused for every later one. Always a thread, as
    /// accounts can be made at run time.
    pub(crate) fn spawn(tokens: Vec<Argon2Entry>) -> std::io::Result<Verifier> {
        let (tx, mut rx) = mpsc::channel::<Job>(WORKER_QUEUE);
        std::thread::Builder::new()
            .name("argon2-verify".into())
            .spawn(move || {
                let mut memory: Vec<Block> = Vec::new();
                let grow = |memory: &mut Vec<Block>, blocks: usize| {
                    if memory.len() < blocks {
                        *memory = vec![Block::default(); blocks];
                    }
                };
                while let Some(job) = rx.blocking_recv() {
                    match job {
                        Job::Verify {
                            presented,
                            target,
                            reply,
                        } => {
                            let presented = presented.expose().as_bytes();
                            let found = match target {
                                // Every token is hashed, matching or not,
                                // so timing does not reveal which matched.
                                Target::AnyToken => {
                                    let mut found = None;
                                    for e in &tokens {
                                        grow(&mut memory, e.blocks());
                                        if e.matches(presented, &mut memory) {
                                            found = Some(e.slot);
                                        }
                                    }
                                    found
                                }
                                Target::Account(e) => {
                                    grow(&mut memory, e.blocks());
                                    e.matches(presented, &mut memory).then_some(Slot::Account)
                                }
                            };
                            let _ = reply.send(found);
                        }
                        Job::Hash { password, reply } => {
                            grow(&mut memory, argon2::Params::default().block_count());
                            let _ = reply.send(hash_new(password.expose().as_bytes(), &mut memory));
                        }
                    }
                }
            })?;
        Ok(Verifier { tx: Some(tx) })
    }

    /// The slot whose hash `presented` matches, among `target`'s entries.
    pub(crate) async fn verify(&self, presented: &Secret, target: Target) -> Option<Slot> {
        let tx = self.tx.as_ref()?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job::Verify {
            presented: Secret::new(presented.expose().to_string()),
            target,
            reply,
        })
        .await
        .ok()?;
        answer.await.ok().flatten()
    }

    /// `password` hashed for the accounts file: an argon2id PHC string.
    pub(crate) async fn hash(&self, password: &Secret) -> Result<String, String> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| "no argon2 worker".to_string())?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job::Hash {
            password: Secret::new(password.expose().to_string()),
            reply,
        })
        .await
        .map_err(|_| "the argon2 worker stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the argon2 worker stopped".to_string())?
    }
}

/// Argon2id with the crate's default parameters (those of
/// `opendcre auth hash-password`) in the worker's `memory`, as a PHC string
/// [`Argon2Entry::decode`] reads back.
fn hash_new(password: &[u8], memory: &mut [Block]) -> Result<String, String> {
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| "system random source failed".to_string())?;
    let params = argon2::Params::default();
    let argon = Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon
        .hash_password_into_with_memory(password, &salt, &mut out, memory)
        .map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let hash = Output::new(&out).map_err(|e| e.to_string())?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${hash}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[tokio::test]
    async fn hashes_what_argon2_and_the_store_read_back() {
        let v = Verifier::spawn(Vec::new()).unwrap();
        let phc = v.hash(&Secret::new("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        let entry = Arc::new(Argon2Entry::decode(Slot::Account, &phc).unwrap());
        let ok = v
            .verify(
                &Secret::new("correct horse"),
                Target::Account(entry.clone()),
            )
            .await;
        assert_eq!(ok, Some(Slot::Account));
        let bad = v
            .verify(&Secret::new("wrong horse"), Target::Account(entry))
            .await;
        assert_eq!(bad, None);
        assert_ne!(
            phc,
            v.hash(&Secret::new("correct horse")).await.unwrap(),
            "salted"
        );
    }
}
