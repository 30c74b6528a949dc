//! The two sliding windows behind a breaker: outcome counts over time
//! (error rate) and the latest successful latencies (p95).

use tokio::time::{Duration, Instant};

/// Buckets per outcome window; the window slides one bucket at a time.
const BUCKETS: usize = 10;
/// Latency samples kept for the p95.
const LATENCY_SAMPLES: usize = 64;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Bucket number since the window's epoch.
    slot: u64,
    total: u32,
    failed: u32,
}

/// Attempt outcomes over the last `window`, in `BUCKETS` time buckets.
#[derive(Debug)]
pub(super) struct OutcomeWindow {
    epoch: Instant,
    bucket: Duration,
    buckets: [Bucket; BUCKETS],
}

impl OutcomeWindow {
    pub(super) fn new(window: Duration) -> Self {
        let bucket = (window / BUCKETS as u32).max(Duration::from_millis(1));
        Self {
            epoch: Instant::now(),
            bucket,
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    fn slot(&self, now: Instant) -> u64 {
        let n = now.duration_since(self.epoch).as_nanos() / self.bucket.as_nanos().max(1);
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    pub(super) fn push(&mut self, now: Instant, failed: bool) {
        let slot = self.slot(now);
        let i = (slot % BUCKETS as u64) as usize;
        if let Some(b) = self.buckets.get_mut(i) {
            if b.slot != slot {
                *b = Bucket {
                    slot,
                    total: 0,
                    failed: 0,
                };
            }
            b.total = b.total.saturating_add(1);
            b.failed = b.failed.saturating_add(u32::from(failed));
        }
    }

    /// (attempts, failures) within the window ending at `now`.
    pub(super) fn counts(&self, now: Instant) -> (u32, u32) {
        let current = self.slot(now);
        let oldest = current.saturating_sub(BUCKETS as u64 - 1);
        self.buckets
            .iter()
            .filter(|b| b.total > 0 && b.slot >= oldest && b.slot <= current)
            .fold((0, 0), |(t, f), b| (t + b.total, f + b.failed))
    }

    pub(super) fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

/// The latest successful latencies (µs), newest overwriting oldest.
#[derive(Debug)]
pub(super) struct LatencyWindow {
    samples: [u32; LATENCY_SAMPLES],
    len: usize,
    next: usize,
}

impl Default for LatencyWindow {
    fn default() -> Self {
        Self {
            samples: [0; LATENCY_SAMPLES],
            len: 0,
            next: 0,
        }
    }
}

impl LatencyWindow {
    pub(super) fn push(&mut self, latency: Duration) {
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        if let Some(slot) = self.samples.get_mut(self.next) {
            *slot = us;
        }
        self.next = (self.next + 1) % LATENCY_SAMPLES;
        self.len = (self.len + 1).min(LATENCY_SAMPLES);
    }

    /// The 95th percentile of the window, computed when asked (only routes
    /// with a latency SLO and the health view ask), not on every push.
    pub(super) fn p95(&self) -> Option<Duration> {
        if self.len == 0 {
            return None;
        }
        // 64 integers: a copy and a selection cost well under a microsecond.
        let mut copy = self.samples;
        let live = copy.get_mut(..self.len).unwrap_or_default();
        let rank = (live.len() * 95).div_ceil(100).saturating_sub(1);
        let (_, p95, _) = live.select_nth_unstable(rank);
        Some(Duration::from_micros(u64::from(*p95)))
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }
}
