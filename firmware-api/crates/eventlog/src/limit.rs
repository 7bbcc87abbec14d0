//! A fixed-window limit: at most `n` admissions per minute, and how many
//! were turned away since the last one admitted.

use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct Limiter {
    per_window: u32,
    window_start: Option<Instant>,
    admitted: u32,
    refused: u64,
}

impl Limiter {
    pub(crate) fn per_minute(n: u32) -> Limiter {
        Limiter {
            per_window: n,
            window_start: None,
            admitted: 0,
            refused: 0,
        }
    }

    /// `None`: refused (counted). `Some(n)`: admitted, `n` refused before it.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<u64> {
        let fresh = self
            .window_start
            .is_none_or(|s| now.saturating_duration_since(s) >= WINDOW);
        if fresh {
            self.window_start = Some(now);
            self.admitted = 0;
        }
        if self.admitted >= self.per_window {
            self.refused += 1;
            return None;
        }
        self.admitted += 1;
        Some(std::mem::take(&mut self.refused))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_n_per_minute_and_reports_the_rest() {
        let mut l = Limiter::per_minute(2);
        let t = Instant::now();
        assert_eq!(l.admit(t), Some(0));
        assert_eq!(l.admit(t), Some(0));
        assert_eq!(l.admit(t), None);
        assert_eq!(l.admit(t + Duration::from_secs(59)), None);
        assert_eq!(l.admit(t + Duration::from_secs(60)), Some(2));
        assert_eq!(l.admit(t + Duration::from_secs(61)), Some(0));
    }
}
