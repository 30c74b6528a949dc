//! Passive route health from recent attempt outcomes, read lock-free.
//!
//! This is the minimal view readiness and ranking need: a route that failed
//! many times in a row, recently, is not usable, and a moving average of its
//! latency lets the policy rank against latency SLOs. Circuit breakers with
//! windows, half-open probes and latency-based opening build on the same
//! per-route slot.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::time::{Duration, Instant};

/// Consecutive failures after which a route counts as unusable.
const UNUSABLE_AFTER: u32 = 5;
/// How long an unusable verdict lasts without new failures.
const UNUSABLE_FOR: Duration = Duration::from_secs(10);
/// Weight of the newest sample in the latency moving average.
const LATENCY_ALPHA: f64 = 0.2;

/// Per-route outcome counters and a latency moving average.
#[derive(Debug)]
pub struct RouteHealth {
    epoch: Instant,
    consecutive_failures: AtomicU32,
    last_failure_ms: AtomicU64,
    /// Exponentially weighted latency of successful attempts, in
    /// microseconds, as `f64` bits; 0 means no sample yet.
    latency_us: AtomicU64,
}

impl Default for RouteHealth {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            consecutive_failures: AtomicU32::new(0),
            last_failure_ms: AtomicU64::new(0),
            latency_us: AtomicU64::new(0),
        }
    }
}

impl RouteHealth {
    /// Records a usable answer and its latency.
    pub fn record_success(&self, latency: Duration) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        let sample = latency.as_secs_f64() * 1e6;
        // A lost update under a race only skips one sample; no lock needed.
        let old = f64::from_bits(self.latency_us.load(Ordering::Relaxed));
        let new = if old == 0.0 {
            sample
        } else {
            old + LATENCY_ALPHA * (sample - old)
        };
        self.latency_us
            .store(new.max(1.0).to_bits(), Ordering::Relaxed);
    }

    /// The latency moving average, once the route has served.
    pub fn latency(&self) -> Option<Duration> {
        let us = f64::from_bits(self.latency_us.load(Ordering::Relaxed));
        (us > 0.0).then(|| Duration::from_secs_f64(us / 1e6))
    }

    /// Records a failure that was the route's fault (not the request's).
    pub fn record_failure(&self) {
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_failure_ms.store(ms, Ordering::Relaxed);
    }

    /// Failures in a row since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    /// Whether the route should be considered able to serve.
    pub fn usable(&self) -> bool {
        if self.consecutive_failures() < UNUSABLE_AFTER {
            return true;
        }
        let last = Duration::from_millis(self.last_failure_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last) > UNUSABLE_FOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn unusable_after_repeated_failures_then_recovers_with_time() {
        let h = RouteHealth::default();
        for _ in 0..UNUSABLE_AFTER {
            assert!(h.usable());
            h.record_failure();
        }
        assert!(!h.usable());
        tokio::time::advance(UNUSABLE_FOR + Duration::from_millis(1)).await;
        assert!(h.usable());
        h.record_success(Duration::from_millis(100));
        assert_eq!(h.consecutive_failures(), 0);
    }

    #[test]
    fn latency_is_a_moving_average() {
        let h = RouteHealth::default();
        assert_eq!(h.latency(), None);
        h.record_success(Duration::from_millis(100));
        assert_eq!(h.latency(), Some(Duration::from_millis(100)));
        h.record_success(Duration::from_millis(200));
        let l = h.latency().map(|d| d.as_secs_f64()).unwrap_or_default();
        assert!((l - 0.120).abs() < 1e-6, "{l}");
    }
}
