//! Who gets a connection slot, and whose slot is taken back.
//!
//! Every connection is accepted at once and then admitted or refused here,
//! instead of waiting for a slot in the kernel backlog: a backlog behind
//! slots held by idle or slow clients made every legitimate request wait
//! until a hostile one timed out. The rules:
//! - one client address holds at most `per_address` connections, so one
//!   host (or one NAT) cannot take the whole pool;
//! - when the pool is full, an idle connection gives way to the new one, as
//!   nginx reuses idle keep-alive connections when it runs short. Idle means
//!   no handler at work: between keep-alive requests, still sending a head or
//!   a body, or with an answer the client does not read. The victim comes
//!   from the address that holds the most connections, the longest idle
//!   among them: a flood of connections from a few addresses churns among
//!   itself, and a client with one connection is not the one closed;
//! - only when every slot is busy running a handler is a new one refused.
//!
//! Both listeners (plain and TLS) admit through the same table, and neither
//! acceptor holds a slot while it waits, so one cannot starve the other.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

/// The two bounds of the connection table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub total: usize,
    pub per_address: usize,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The client address already holds `per_address` connections.
    PerAddress,
    /// Every slot is serving a request; none is idle.
    Full,
}

/// The connection table shared by the acceptors.
pub(crate) struct Admission {
    limits: Limits,
    epoch: Instant,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    per_address: HashMap<IpAddr, usize>,
    live: HashMap<u64, Live>,
}

struct Live {
    addr: IpAddr,
    activity: Arc<Activity>,
}

/// What one connection is doing, as the table needs to know it. Updated by
/// the connection's own task; read by the table when it must evict.
pub(crate) struct Activity {
    epoch: Instant,
    /// Handlers running right now (HTTP/1: zero or one).
    busy: AtomicU64,
    /// Requests seen so far; zero means the client has not yet sent a head.
    requests: AtomicU64,
    /// Milliseconds since `epoch` when the connection last became idle.
    idle_since_ms: AtomicU64,
    /// Signalled when the table takes this connection's slot back.
    evict: Notify,
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Notes that a request head arrived (the connection is no longer
    /// silent; see the first-request timeout).
    pub(crate) fn request_seen(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a handler as running (the request is complete: head and body);
    /// the connection cannot be evicted until the guard is dropped.
    pub(crate) fn begin_work(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Whether the client has sent the head of at least one request.
    pub(crate) fn has_sent_a_request(&self) -> bool {
        self.requests.load(Ordering::Relaxed) > 0
    }

    /// Resolves when the table has taken this connection's slot back.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await
    }

    fn idle_since(&self) -> Option<u64> {
        (self.busy.load(Ordering::Acquire) == 0).then(|| self.idle_since_ms.load(Ordering::Relaxed))
    }
}

/// A handler at work for a connection (see [`Activity::begin_work`]).
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0
            .idle_since_ms
            .store(self.0.now_ms(), Ordering::Relaxed);
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An admitted connection's slot; given back on drop.
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    pub(crate) activity: Arc<Activity>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut t = self.admission.lock();
        // An evicted connection's slot was given back when it was evicted.
        if let Some(live) = t.live.remove(&self.id) {
            release_address(&mut t, live.addr);
        }
    }
}

fn release_address(t: &mut Table, addr: IpAddr) {
    if let Some(n) = t.per_address.get_mut(&addr) {
        *n -= 1;
        if *n == 0 {
            t.per_address.remove(&addr);
        }
    }
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Arc<Admission> {
        Arc::new(Admission {
            limits: Limits {
                total: limits.total.max(1),
                per_address: limits.per_address.max(1),
            },
            epoch: Instant::now(),
            table: Mutex::new(Table::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table stays consistent across a panic (every update is one
        // statement), so a poisoned lock is still usable.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `addr`, evicting the longest-idle connection
    /// when the table is full.
    pub(crate) fn admit(self: &Arc<Self>, addr: IpAddr) -> Result<Ticket, Refusal> {
        let mut t = self.lock();
        if t.per_address.get(&addr).copied().unwrap_or(0) >= self.limits.per_address {
            return Err(Refusal::PerAddress);
        }
        if t.live.len() >= self.limits.total {
            // Most connections from its address first, then longest idle.
            let victim = t
                .live
                .iter()
                .filter_map(|(id, l)| {
                    let since = l.activity.idle_since()?;
                    let share = t.per_address.get(&l.addr).copied().unwrap_or(0);
                    Some((std::cmp::Reverse(share), since, *id))
                })
                .min()
                .map(|(_, _, id)| id);
            let Some(id) = victim else {
                return Err(Refusal::Full);
            };
            if let Some(live) = t.live.remove(&id) {
                release_address(&mut t, live.addr);
                live.activity.evict.notify_one();
            }
        }
        t.next_id += 1;
        let id = t.next_id;
        let activity = Arc::new(Activity {
            epoch: self.epoch,
            busy: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(0),
            evict: Notify::new(),
        });
        activity
            .idle_since_ms
            .store(activity.now_ms(), Ordering::Relaxed);
        t.live.insert(
            id,
            Live {
                addr,
                activity: activity.clone(),
            },
        );
        *t.per_address.entry(addr).or_insert(0) += 1;
        Ok(Ticket {
            admission: self.clone(),
            id,
            activity,
        })
    }

    /// Connections holding a slot now.
    #[cfg(test)]
    fn live(&self) -> usize {
        self.lock().live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let a = Admission::new(Limits {
            total: 10,
            per_address: 2,
        });
        let _t1 = a.admit(ip(1)).unwrap();
        let t2 = a.admit(ip(1)).unwrap();
        assert_eq!(a.admit(ip(1)).err(), Some(Refusal::PerAddress));
        // Others are not affected, and a closed connection frees its share.
        let _t3 = a.admit(ip(2)).unwrap();
        drop(t2);
        let _t4 = a.admit(ip(1)).unwrap();
        assert_eq!(a.live(), 3);
    }

    #[tokio::test]
    async fn a_full_table_evicts_the_longest_idle_connection() {
        let a = Admission::new(Limits {
            total: 2,
            per_address: 5,
        });
        let oldest = a.admit(ip(1)).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let newer = a.admit(ip(2)).unwrap();
        let _t = a.admit(ip(3)).unwrap();
        // The oldest idle one was told to go, and its slot is free already.
        tokio::time::timeout(std::time::Duration::from_secs(1), oldest.activity.evicted())
            .await
            .expect("the longest-idle connection is evicted");
        assert_eq!(a.live(), 2);
        // Its ticket's drop does not free a second slot.
        drop(oldest);
        assert_eq!(a.live(), 2);
        drop(newer);
        assert_eq!(a.live(), 1);
    }

    #[tokio::test]
    async fn the_victim_comes_from_the_address_with_the_most_connections() {
        let a = Admission::new(Limits {
            total: 4,
            per_address: 5,
        });
        // The lone client is the longest idle, but the flooding address
        // holds three slots: one of those goes.
        let lone = a.admit(ip(1)).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let flood: Vec<Ticket> = (0..3).map(|_| a.admit(ip(9)).unwrap()).collect();
        let _new = a.admit(ip(2)).unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            flood[0].activity.evicted(),
        )
        .await
        .expect("the flooding address's longest-idle connection is evicted");
        assert!(
            tokio::time::timeout(
                std::time::Duration::from_millis(50),
                lone.activity.evicted()
            )
            .await
            .is_err(),
            "the lone client was evicted"
        );
    }

    #[test]
    fn busy_connections_are_never_evicted() {
        let a = Admission::new(Limits {
            total: 2,
            per_address: 5,
        });
        let t1 = a.admit(ip(1)).unwrap();
        let t2 = a.admit(ip(2)).unwrap();
        t1.activity.request_seen();
        let b1 = t1.activity.begin_work();
        let b2 = t2.activity.begin_work();
        assert_eq!(a.admit(ip(3)).err(), Some(Refusal::Full));
        // A request that finished makes its connection evictable again.
        drop(b2);
        let _t3 = a.admit(ip(3)).unwrap();
        assert!(t1.activity.has_sent_a_request());
        drop(b1);
    }
}
