//! Owns the retry budget: retries (every attempt after a request's first)
//! may be at most a fraction of recent requests, plus a small floor, so a
//! provider outage cannot multiply upstream traffic (Envoy/Linkerd style).

use std::sync::atomic::{AtomicU64, Ordering};

use signalbox_config::RetryPolicy;
use tokio::time::{Duration, Instant};

const BUCKETS: usize = 10;

/// Requests and retries over a sliding window, lock-free.
#[derive(Debug)]
pub struct RetryBudget {
    epoch: Instant,
    bucket_ms: u64,
    ratio: f64,
    min_retries: u64,
    /// Per bucket: the slot number it holds, requests, retries.
    slots: [AtomicU64; BUCKETS],
    requests: [AtomicU64; BUCKETS],
    retries: [AtomicU64; BUCKETS],
}

impl RetryBudget {
    /// A budget with the policy's ratio, floor and window.
    pub fn new(policy: &RetryPolicy) -> Self {
        let bucket = (policy.budget_window / BUCKETS as u32).max(Duration::from_millis(1));
        Self {
            epoch: Instant::now(),
            bucket_ms: u64::try_from(bucket.as_millis()).unwrap_or(u64::MAX).max(1),
            ratio: policy.budget_ratio,
            min_retries: u64::from(policy.budget_min_retries),
            slots: Default::default(),
            requests: Default::default(),
            retries: Default::default(),
        }
    }

    fn slot(&self) -> u64 {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        ms / self.bucket_ms + 1 // 0 marks a never-used bucket
    }

    fn bucket(&self, slot: u64) -> usize {
        (slot % BUCKETS as u64) as usize
    }

    /// Claims bucket `i` for `slot`, resetting it when it held an older slot.
    fn claim(&self, i: usize, slot: u64) {
        let (Some(s), Some(req), Some(ret)) =
            (self.slots.get(i), self.requests.get(i), self.retries.get(i))
        else {
            return;
        };
        let held = s.load(Ordering::Acquire);
        if held != slot
            && s.compare_exchange(held, slot, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // A racing increment may land before the reset; one lost count
            // in a budget is harmless.
            req.store(0, Ordering::Release);
            ret.store(0, Ordering::Release);
        }
    }

    fn totals(&self, now_slot: u64) -> (u64, u64) {
        let oldest = now_slot.saturating_sub(BUCKETS as u64 - 1);
        let mut totals = (0, 0);
        for i in 0..BUCKETS {
            let (Some(s), Some(req), Some(ret)) =
                (self.slots.get(i), self.requests.get(i), self.retries.get(i))
            else {
                continue;
            };
            let slot = s.load(Ordering::Acquire);
            if slot >= oldest && slot <= now_slot && slot != 0 {
                totals.0 += req.load(Ordering::Acquire);
                totals.1 += ret.load(Ordering::Acquire);
            }
        }
        totals
    }

    /// Counts a new request.
    pub fn note_request(&self) {
        let slot = self.slot();
        let i = self.bucket(slot);
        self.claim(i, slot);
        if let Some(c) = self.requests.get(i) {
            c.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_retry(&self) -> bool {
        let slot = self.slot();
        let (requests, retries) = self.totals(slot);
        let allowed = self
            .min_retries
            .max((requests as f64 * self.ratio).floor() as u64);
        if retries >= allowed {
            return false;
        }
        let i = self.bucket(slot);
        self.claim(i, slot);
        if let Some(c) = self.retries.get(i) {
            c.fetch_add(1, Ordering::AcqRel);
        }
        true
    }

    /// (requests, retries) in the current window.
    pub fn usage(&self) -> (u64, u64) {
        self.totals(self.slot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(ratio: f64, min: u32) -> RetryPolicy {
        RetryPolicy {
            budget_ratio: ratio,
            budget_min_retries: min,
            budget_window: Duration::from_secs(10),
            ..RetryPolicy::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_capped_by_ratio_and_floor() {
        let b = RetryBudget::new(&policy(0.2, 2));
        for _ in 0..20 {
            b.note_request();
        }
        // 20 requests × 0.2 = 4 retries.
        let granted = (0..10).filter(|_| b.try_retry()).count();
        assert_eq!(granted, 4);
        assert_eq!(b.usage(), (20, 4));
    }

    #[tokio::test(start_paused = true)]
    async fn floor_allows_retries_at_low_traffic_and_window_slides() {
        let b = RetryBudget::new(&policy(0.1, 3));
        b.note_request();
        assert_eq!((0..10).filter(|_| b.try_retry()).count(), 3);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(b.usage(), (0, 0));
        assert!(b.try_retry());
    }
}
