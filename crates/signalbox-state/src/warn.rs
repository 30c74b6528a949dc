//! Owns the rate limit on repeated warnings: a condition that can hold for
//! every request (a full connection table, a failing `accept`, a state
//! store that fails open) is logged at most once per interval, with how
//! many times it happened since the last line.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::{Duration, Instant};

/// The interval the gateway's repeated warnings use.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Says when a repeated warning is due: at most once every `every`, with
/// the number of events since the last one. Lock-free; shared by threads.
#[derive(Debug)]
pub struct RateLimitedWarn {
    start: Instant,
    every_ms: u64,
    /// Milliseconds after `start` of the last warning, plus one (0: never).
    last: AtomicU64,
    since: AtomicU64,
}

impl Default for RateLimitedWarn {
    fn default() -> Self {
        Self::new(WARN_EVERY)
    }
}

impl RateLimitedWarn {
    /// A limiter allowing one warning per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            start: Instant::now(),
            every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
            last: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// Counts one event; `Some(events since the last warning)` when a
    /// warning is due now.
    pub fn due(&self) -> Option<u64> {
        self.since.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < self.every_ms {
            return None;
        }
        self.last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        Some(self.since.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn warnings_are_rate_limited_and_count_what_they_skipped() {
        let warn = RateLimitedWarn::default();
        assert_eq!(warn.due(), Some(1));
        assert_eq!(warn.due(), None);
        assert_eq!(warn.due(), None);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(warn.due(), Some(3));
    }
}
