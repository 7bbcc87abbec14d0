//! Throttling of failed authentication attempts per client address.
//!
//! A token bucket per client: each failed attempt takes one token, tokens
//! come back at `refill_per_minute`. While the bucket is empty every request
//! from that client is answered 429 with `Retry-After` before credentials
//! are even looked at, which also caps the argon2/LDAP work an attacker can
//! cause. Successful requests take nothing. IPv6 clients are grouped per /64
//! since one host usually owns a whole /64.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::RateLimitConfig;

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub(crate) struct FailureLimiter {
    cfg: RateLimitConfig,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl FailureLimiter {
    pub(super) fn new(cfg: &RateLimitConfig) -> FailureLimiter {
        FailureLimiter {
            cfg: cfg.clone(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn rate_per_sec(&self) -> f64 {
        f64::from(self.cfg.refill_per_minute.max(1)) / 60.0
    }

    /// `Err(retry_after)` while the client has no attempts left.
    pub(super) fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if !self.cfg.enabled {
            return Ok(());
        }
        let key = client_key(ip);
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(b) = map.get_mut(&key) else {
            return Ok(());
        };
        self.refill(b);
        if b.tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - b.tokens) / self.rate_per_sec(),
            ))
        }
    }

    /// Takes one attempt from the client's bucket.
    pub(crate) fn record_failure(&self, ip: IpAddr) {
        if !self.cfg.enabled {
            return;
        }
        let key = client_key(ip);
        let burst = f64::from(self.cfg.burst.max(1));
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&key) && map.len() >= self.cfg.max_clients.max(1) {
            self.evict(&mut map);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: Instant::now(),
        });
        self.refill(b);
        b.tokens = (b.tokens - 1.0).max(0.0);
    }

    fn refill(&self, b: &mut Bucket) {
        let burst = f64::from(self.cfg.burst.max(1));
        let now = Instant::now();
        let gained = now.duration_since(b.updated).as_secs_f64() * self.rate_per_sec();
        b.tokens = (b.tokens + gained).min(burst);
        b.updated = now;
    }

    /// Drops clients whose bucket is full again (they carry no state worth
    /// keeping); if none is, the least recently updated one.
    fn evict(&self, map: &mut HashMap<IpAddr, Bucket>) {
        let burst = f64::from(self.cfg.burst.max(1));
        let rate = self.rate_per_sec();
        map.retain(|_, b| b.tokens + b.updated.elapsed().as_secs_f64() * rate < burst);
        if map.len() >= self.cfg.max_clients.max(1) {
            if let Some(k) = map.iter().min_by_key(|(_, b)| b.updated).map(|(k, _)| *k) {
                map.remove(&k);
            }
        }
    }

    #[cfg(test)]
    fn tracked_clients(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
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

    #[test]
    fn burst_then_blocked_then_refilled() {
        let l = limiter(3, 6000, 10); // 100 per second
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
            l.record_failure(ip);
        }
        let wait = l.check(ip).unwrap_err();
        assert!(wait <= Duration::from_millis(10), "{wait:?}");
        assert!(l.check("192.0.2.2".parse().unwrap()).is_ok());
        std::thread::sleep(Duration::from_millis(15));
        assert!(l.check(ip).is_ok());
    }

    #[test]
    fn ipv6_grouped_per_64_and_mapped_v4_canonical() {
        let l = limiter(1, 1, 10);
        l.record_failure("2001:db8:1:2::1".parse().unwrap());
        assert!(l.check("2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        assert!(l.check("2001:db8:1:3::1".parse().unwrap()).is_ok());
        l.record_failure("::ffff:192.0.2.9".parse().unwrap());
        let retry = l.check("192.0.2.9".parse().unwrap()).unwrap_err();
        assert!(retry > Duration::from_secs(50));
    }

    #[test]
    fn table_is_bounded() {
        let l = limiter(5, 1, 4);
        for i in 0..20u8 {
            l.record_failure(IpAddr::from([10, 0, 0, i]));
        }
        assert!(l.tracked_clients() <= 4);
    }
}
