//! The one argon2 verifier of the process, shared by bearer tokens
//! (`[auth.tokens]`) and local users' passwords (`[auth.users]`).
//!
//! All argon2 verifications run on one worker thread that owns one memory
//! block buffer, allocated at the first verification and reused. With one
//! allocation per verification on a pool of blocking threads, each thread's
//! malloc arena kept its 19 MiB block after the verification ended: a
//! burst of 250 wrong guesses left the process at 872 MB. One worker also
//! makes the CPU an attacker can burn one core, whatever the number of
//! addresses it comes from and whichever credential kind it guesses;
//! queued verifications wait, bounded per address by the failure limiter.

use argon2::password_hash::PasswordHash;
use argon2::{Argon2, Block};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

use super::credentials::Secret;

/// Which configured secret an argon2 entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Index into the token store's list.
    Token(usize),
    /// Index into the user store's list.
    User(usize),
}

/// What one verification compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Every argon2-hashed token: a bearer token carries no name.
    AnyToken,
    /// One user's password hash: Basic and session logins name the user.
    User(usize),
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

    fn wanted(&self, target: Target) -> bool {
        match (target, self.slot) {
            (Target::AnyToken, Slot::Token(_)) => true,
            (Target::User(u), Slot::User(i)) => u == i,
            _ => false,
        }
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

/// One argon2 verification for the worker: the presented secret, what to
/// compare it with and where to send the matching slot.
struct Job {
    presented: Secret,
    target: Target,
    reply: oneshot::Sender<Option<Slot>>,
}

/// Verifications queued for the worker before senders wait; each queued
/// job is a secret and a channel, not memory for argon2.
const WORKER_QUEUE: usize = 64;

/// A handle on the worker; cloned into each store that needs it. The
/// worker ends when the last handle is dropped.
#[derive(Clone, Default)]
pub(crate) struct Verifier {
    /// `None` when nothing configured is argon2-hashed.
    tx: Option<mpsc::Sender<Job>>,
}

impl Verifier {
    /// Starts the worker for `entries` (no thread when there are none):
    /// one block buffer, sized for the most demanding hash, allocated at
    /// its first job and reused for every later one.
    pub(crate) fn spawn(entries: Vec<Argon2Entry>) -> std::io::Result<Verifier> {
        if entries.is_empty() {
            return Ok(Verifier::default());
        }
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
                    // Every wanted entry is hashed, matching or not, so
                    // timing does not reveal which one matched.
                    let mut found = None;
                    for e in entries.iter().filter(|e| e.wanted(job.target)) {
                        if e.matches(presented, &mut memory) {
                            found = Some(e.slot);
                        }
                    }
                    let _ = job.reply.send(found);
                }
            })?;
        Ok(Verifier { tx: Some(tx) })
    }

    /// The slot whose hash `presented` matches, among `target`'s entries.
    pub(crate) async fn verify(&self, presented: &Secret, target: Target) -> Option<Slot> {
        let tx = self.tx.as_ref()?;
        let (reply, answer) = oneshot::channel();
        tx.send(Job {
            presented: Secret::new(presented.expose().to_string()),
            target,
            reply,
        })
        .await
        .ok()?;
        answer.await.ok().flatten()
    }
}
