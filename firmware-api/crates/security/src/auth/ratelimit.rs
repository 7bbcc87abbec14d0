//! Throttling of failed authentication attempts per client address.
//!
//! A token bucket per client: each failed attempt costs one token, tokens
//! come back at `refill_per_minute`. IPv6 clients are grouped per /64 since
//! one host usually owns a whole /64.
//!
//! An attempt is *reserved* before its credential is looked at
//! ([`FailureLimiter::admit`]), in the same lock that reads the bucket, and
//! refunded when the credential turns out valid. Checking first and
//! charging after the verification let every request that arrived during
//! one (argon2 or LDAP) verification through: 200 concurrent wrong tokens
//! were all evaluated with a burst of 10. Reserving also bounds what runs
//! at once per address: at most [`MAX_IN_FLIGHT`] verifications, more are
//! answered 429 without being looked at.
//!
//! What is throttled is guessing, not users. An address that has spent its
//! budget (a NAT, a jump host, shared with whoever guessed) still gets its
//! credentials verified, but through a single lane: one verification at a
//! time per address, and a failed one holds the lane for the time one
//! attempt takes to come back (`60 s / refill_per_minute`, kept between 1
//! and 10 s) before it is answered 429, like a request not looked at. So:
//!
//! - a valid credential from a locked-out address is accepted as soon as
//!   the lane is free, e.g. right after someone else's burst of guesses;
//! - guessing over budget gets at most one answer per refill interval,
//!   i.e. at most the configured rate once more (twice it in all), and
//!   costs at most one verification at a time; each such failure also
//!   deepens the address's debt (down to minus the burst), which delays
//!   the return of its budget;
//! - what this cannot do: an attacker who keeps the lane busy all the time
//!   still competes with the valid users behind the same address, who get
//!   in only while the lane is free. Telling them apart would need
//!   something only they have (e.g. serving recently verified credentials
//!   from the cache without the lane), which would hand the attacker an
//!   unthrottled oracle against those cached credentials.
//! - a held lane is a held connection: one per address at a time, for at
//!   most 10 s, like a slow client within the header timeout.
//!
//! The table of addresses is bounded by `max_clients`. Only idle entries
//! (nothing in flight, bucket full again) are dropped to make room; when
//! none is idle, a new address is refused (429) instead. Forgetting the
//! least recently updated entry, as before, let anyone clear a locked-out
//! address by failing from `max_clients` other addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::RateLimitConfig;

/// Verifications that may run at once for one address while it has budget.
pub(crate) const MAX_IN_FLIGHT: u32 = 2;

struct Bucket {
    /// Attempts left; negative is debt from failures made over budget.
    tokens: f64,
    updated: Instant,
    /// Admitted attempts whose outcome is not known yet.
    in_flight: u32,
}

pub(crate) struct FailureLimiter {
    cfg: RateLimitConfig,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    /// Shortest time a failed verification from an address without budget
    /// occupies that address's only lane: one refill interval.
    over_budget_floor: Duration,
}

/// How an admitted attempt was paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// The limiter is off: nothing to settle.
    Untracked,
    /// One token was taken from the budget; refunded on success.
    Budget,
    /// No budget left: the address's single over-budget lane.
    OverBudget,
}

/// An attempt admitted by [`FailureLimiter::admit`]. Settle it with
/// [`Attempt::succeeded`], [`Attempt::not_counted`] or
/// [`Attempt::failed`]; dropped unsettled (the client went away in the
/// middle of a verification) it frees its place and keeps its charge.
pub(crate) struct Attempt<'a> {
    limiter: &'a FailureLimiter,
    key: IpAddr,
    lane: Lane,
    started: Instant,
}

/// What a failed attempt turns into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureVerdict {
    /// Within budget: an ordinary 401.
    Counted,
    /// Over budget: answered 429 with this `Retry-After`.
    Throttled(Duration),
}

impl FailureLimiter {
    pub(super) fn new(cfg: &RateLimitConfig) -> FailureLimiter {
        let refill = Duration::from_secs(60) / cfg.refill_per_minute.max(1);
        FailureLimiter {
            cfg: cfg.clone(),
            buckets: Mutex::new(HashMap::new()),
            over_budget_floor: refill.clamp(Duration::from_secs(1), Duration::from_secs(10)),
        }
    }

    fn rate_per_sec(&self) -> f64 {
        f64::from(self.cfg.refill_per_minute.max(1)) / 60.0
    }

    fn burst(&self) -> f64 {
        f64::from(self.cfg.burst.max(1))
    }

    /// Reserves one attempt for `ip` before its credential is verified, or
    /// `Err(retry_after)` when it must not be looked at now.
    pub(crate) fn admit(&self, ip: IpAddr) -> Result<Attempt<'_>, Duration> {
        let key = client_key(ip);
        let now = Instant::now();
        let attempt = |lane| Attempt {
            limiter: self,
            key,
            lane,
            started: now,
        };
        if !self.cfg.enabled {
            return Ok(attempt(Lane::Untracked));
        }
        let burst = self.burst();
        let mut map = self.lock();
        if !map.contains_key(&key) {
            let max = self.cfg.max_clients.max(1);
            if map.len() >= max {
                self.evict_idle(&mut map, now);
            }
            if map.len() >= max {
                return Err(self.until_one_is_idle(&map, now));
            }
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
            in_flight: 0,
        });
        self.refill(b, now);
        if b.tokens >= 1.0 {
            if b.in_flight >= MAX_IN_FLIGHT {
                return Err(Duration::from_secs(1));
            }
            b.tokens -= 1.0;
            b.in_flight += 1;
            Ok(attempt(Lane::Budget))
        } else if b.in_flight == 0 {
            b.in_flight = 1;
            Ok(attempt(Lane::OverBudget))
        } else {
            Err(self.until_next_token(b))
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let gained = now.duration_since(b.updated).as_secs_f64() * self.rate_per_sec();
        b.tokens = (b.tokens + gained).min(self.burst());
        b.updated = now;
    }

    fn until_next_token(&self, b: &Bucket) -> Duration {
        Duration::from_secs_f64(((1.0 - b.tokens) / self.rate_per_sec()).max(1.0))
    }

    /// Drops entries that carry nothing worth keeping: no attempt in
    /// flight and a bucket that has refilled completely.
    fn evict_idle(&self, map: &mut HashMap<IpAddr, Bucket>, now: Instant) {
        let burst = self.burst();
        let rate = self.rate_per_sec();
        map.retain(|_, b| {
            let tokens = b.tokens + now.duration_since(b.updated).as_secs_f64() * rate;
            b.in_flight > 0 || tokens < burst
        });
    }

    /// `Retry-After` for an address refused because the table is full:
    /// when the first entry will have refilled.
    fn until_one_is_idle(&self, map: &HashMap<IpAddr, Bucket>, now: Instant) -> Duration {
        let burst = self.burst();
        let rate = self.rate_per_sec();
        let secs = map
            .values()
            .map(|b| {
                let tokens = b.tokens + now.duration_since(b.updated).as_secs_f64() * rate;
                (burst - tokens) / rate
            })
            .fold(f64::INFINITY, f64::min);
        Duration::from_secs_f64(secs.clamp(1.0, 3600.0))
    }

    /// Applies `f` to the attempt's bucket and frees its place.
    fn settle(&self, key: IpAddr, f: impl FnOnce(&mut Bucket)) {
        let mut map = self.lock();
        if let Some(b) = map.get_mut(&key) {
            self.refill(b, Instant::now());
            f(b);
            b.in_flight = b.in_flight.saturating_sub(1);
        }
    }

    #[cfg(test)]
    fn tracked_clients(&self) -> usize {
        self.lock().len()
    }
}

impl Attempt<'_> {
    /// The credential was valid: the reserved attempt is given back.
    pub(crate) fn succeeded(self) {
        self.refund();
    }

    /// Not the client's fault (identity provider unavailable): given back
    /// as well.
    pub(crate) fn not_counted(self) {
        self.refund();
    }

    fn refund(mut self) {
        let lane = std::mem::replace(&mut self.lane, Lane::Untracked);
        if lane == Lane::Untracked {
            return;
        }
        let burst = self.limiter.burst();
        self.limiter.settle(self.key, |b| {
            if lane == Lane::Budget {
                b.tokens = (b.tokens + 1.0).min(burst);
            }
        });
    }

    /// The credential was wrong. Within budget the attempt stays spent.
    /// Over budget the debt grows and the lane stays taken until one refill
    /// interval after the attempt started, so guessing from an address
    /// without budget gets at most one answer per interval.
    pub(crate) async fn failed(mut self) -> FailureVerdict {
        let lane = std::mem::replace(&mut self.lane, Lane::Untracked);
        match lane {
            Lane::Untracked => FailureVerdict::Counted,
            Lane::Budget => {
                self.limiter.settle(self.key, |_| {});
                FailureVerdict::Counted
            }
            Lane::OverBudget => {
                let until = self.started + self.limiter.over_budget_floor;
                tokio::time::sleep_until(until.into()).await;
                let burst = self.limiter.burst();
                let mut retry = Duration::from_secs(1);
                self.limiter.settle(self.key, |b| {
                    b.tokens = (b.tokens - 1.0).max(-burst);
                    retry = self.limiter.until_next_token(b);
                });
                FailureVerdict::Throttled(retry)
            }
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.lane != Lane::Untracked {
            self.limiter.settle(self.key, |_| {});
        }
    }
}

fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(burst: u32, per_min: u32, max_clients: usize) -> FailureLimiter {
        FailureLimiter::new(&RateLimitConfig {
            enabled: true,
            burst,
            refill_per_minute: per_min,
            max_clients,
        })
    }

    /// One sequential failure from `ip`, as the server does it.
    async fn fail(l: &FailureLimiter, ip: IpAddr) -> Result<FailureVerdict, Duration> {
        let a = l.admit(ip)?;
        Ok(a.failed().await)
    }

    #[tokio::test]
    async fn burst_then_throttled_then_refilled() {
        let l = limiter(3, 6000, 10); // 100 per second
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(fail(&l, ip).await, Ok(FailureVerdict::Counted));
        }
        let b = l.lock().get(&ip).map(|b| b.tokens).unwrap();
        assert!(b < 1.0, "{b}");
        assert!(l.admit("192.0.2.2".parse().unwrap()).is_ok());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(fail(&l, ip).await, Ok(FailureVerdict::Counted));
    }

    #[tokio::test]
    async fn attempts_are_reserved_before_verification() {
        // Admitted attempts whose verification has not finished yet must
        // already count: no more than the burst, and at most two at once.
        let mut l = limiter(10, 1, 10);
        l.over_budget_floor = Duration::from_millis(10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut admitted = 0;
        let mut held = Vec::new();
        for _ in 0..200 {
            if let Ok(a) = l.admit(ip) {
                admitted += 1;
                held.push(a);
            }
        }
        assert_eq!(admitted, MAX_IN_FLIGHT as usize);
        for a in held.drain(..) {
            assert_eq!(a.failed().await, FailureVerdict::Counted);
        }
        // Failing one at a time: the rest of the burst, then nothing but
        // the over-budget lane.
        let mut counted = 2;
        while let Ok(a) = l.admit(ip) {
            match a.failed().await {
                FailureVerdict::Counted => counted += 1,
                FailureVerdict::Throttled(_) => break,
            }
        }
        assert_eq!(counted, 10);
    }

    #[test]
    fn the_over_budget_floor_is_one_refill_interval_within_bounds() {
        assert_eq!(limiter(1, 6, 1).over_budget_floor, Duration::from_secs(10));
        assert_eq!(limiter(1, 1, 1).over_budget_floor, Duration::from_secs(10));
        assert_eq!(limiter(1, 20, 1).over_budget_floor, Duration::from_secs(3));
        assert_eq!(limiter(1, 600, 1).over_budget_floor, Duration::from_secs(1));
    }

    #[tokio::test]
    async fn success_refunds_and_over_budget_lane_lets_valid_credentials_in() {
        let mut l = limiter(2, 1, 10);
        l.over_budget_floor = Duration::from_millis(200);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        // Successes cost nothing.
        for _ in 0..5 {
            l.admit(ip).unwrap().succeeded();
        }
        assert_eq!(fail(&l, ip).await, Ok(FailureVerdict::Counted));
        assert_eq!(fail(&l, ip).await, Ok(FailureVerdict::Counted));
        // Over budget: one lane; a failure there is held for the floor and
        // answered as throttled.
        let lane = l.admit(ip).unwrap();
        assert!(l.admit(ip).is_err(), "only one verification over budget");
        let started = Instant::now();
        assert!(matches!(lane.failed().await, FailureVerdict::Throttled(_)));
        assert!(started.elapsed() >= Duration::from_millis(195));
        // A valid credential from the same address still gets through.
        l.admit(ip).unwrap().succeeded();
        // Debt is bounded by the burst.
        for _ in 0..3 {
            let v = l.admit(ip).unwrap().failed().await;
            assert!(matches!(v, FailureVerdict::Throttled(_)));
        }
        let tokens = l.lock().get(&ip).map(|b| b.tokens).unwrap();
        assert!(tokens >= -2.0, "{tokens}");
    }

    #[tokio::test]
    async fn a_dropped_attempt_frees_its_place_and_keeps_its_charge() {
        let l = limiter(3, 1, 10);
        let ip: IpAddr = "192.0.2.8".parse().unwrap();
        drop(l.admit(ip).unwrap());
        drop(l.admit(ip).unwrap());
        drop(l.admit(ip).unwrap());
        let b = l.lock().get(&ip).map(|b| (b.tokens, b.in_flight)).unwrap();
        assert!(b.0 < 0.01 && b.1 == 0, "{b:?}");
    }

    #[tokio::test]
    async fn ipv6_grouped_per_64_and_mapped_v4_canonical() {
        let l = limiter(1, 1, 10);
        fail(&l, "2001:db8:1:2::1".parse().unwrap()).await.unwrap();
        let key = client_key("2001:db8:1:2:ffff::9".parse().unwrap());
        assert!(l.lock().get(&key).unwrap().tokens < 1.0);
        assert!(l
            .lock()
            .get(&client_key("2001:db8:1:3::1".parse().unwrap()))
            .is_none());
        fail(&l, "::ffff:192.0.2.9".parse().unwrap()).await.unwrap();
        let v4: IpAddr = "192.0.2.9".parse().unwrap();
        assert!(l.lock().get(&v4).unwrap().tokens < 1.0);
    }

    #[tokio::test]
    async fn a_full_table_keeps_locked_out_addresses() {
        let l = limiter(2, 1, 4);
        let locked: IpAddr = "192.0.2.66".parse().unwrap();
        fail(&l, locked).await.unwrap();
        fail(&l, locked).await.unwrap();
        // 4,100 failures from other addresses: the table stays bounded and
        // the locked-out address is not forgotten; new addresses are
        // refused once no entry is idle.
        let mut refused = 0;
        for i in 0..4100u32 {
            let ip = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            if fail(&l, ip).await.is_err() {
                refused += 1;
            }
        }
        assert!(l.tracked_clients() <= 4);
        assert!(refused >= 4097, "{refused}");
        let tokens = l.lock().get(&locked).map(|b| b.tokens);
        assert!(tokens.is_some_and(|t| t < 1.0), "{tokens:?}");
    }

    #[tokio::test]
    async fn idle_entries_make_room() {
        let l = limiter(1, 6000, 2); // refills in 10 ms
        fail(&l, "10.0.0.1".parse().unwrap()).await.unwrap();
        fail(&l, "10.0.0.2".parse().unwrap()).await.unwrap();
        assert!(l.admit("10.0.0.3".parse().unwrap()).is_err());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(l.admit("10.0.0.3".parse().unwrap()).is_ok());
        assert!(l.tracked_clients() <= 2);
    }
}
