//! HTTP request counters and latency histograms, recorded by the API's
//! server for every answer. One small mutex: a request holds it for a map
//! update, far below the cost of the request itself.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the request-duration buckets: from a cached
/// read (well under a millisecond) to a bus scan (seconds).
pub const DURATION_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

#[derive(Debug, Clone, Default)]
pub struct DurationHistogram {
    /// Per bucket (not cumulative), plus one above the largest bound.
    pub counts: [u64; DURATION_BUCKETS.len() + 1],
    pub sum_seconds: f64,
}

#[derive(Debug, Clone, Default)]
pub struct HttpSnapshot {
    /// (route, method, status) → requests.
    pub requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    pub durations: BTreeMap<&'static str, DurationHistogram>,
}

#[derive(Default)]
pub struct HttpStats {
    inner: Mutex<HttpSnapshot>,
}

impl HttpStats {
    /// `route` is the route's name, never the raw path (a client could
    /// otherwise create a series per URL).
    pub fn record(&self, route: &'static str, method: &'static str, status: u16, took: Duration) {
        let mut s = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *s.requests.entry((route, method, status)).or_default() += 1;
        let h = s.durations.entry(route).or_default();
        let secs = took.as_secs_f64();
        let i = DURATION_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(DURATION_BUCKETS.len());
        h.counts[i] += 1;
        h.sum_seconds += secs;
    }

    pub fn snapshot(&self) -> HttpSnapshot {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
