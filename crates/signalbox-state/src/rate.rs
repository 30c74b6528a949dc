//! A route's request-rate gate: a token bucket (one second of burst) that
//! bounds how fast traffic may shift onto a route — e.g. a small fallback
//! when a big primary fails. A request over the rate is not queued here; the
//! dispatcher moves on or refuses (429), so the route is never flooded.
//! Clones share one bucket, which is how a reload keeps a route's rate.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Requests per second allowed onto one route.
#[derive(Debug, Clone)]
pub struct RateGate {
    per_second: f64,
    /// Tokens left, and when they were last counted.
    state: Arc<Mutex<(f64, Option<Instant>)>>,
}

impl RateGate {
    /// A gate admitting `per_second` requests per second, with one second of burst.
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Self {
            per_second,
            state: Arc::new(Mutex::new((per_second, None))),
        }
    }

    /// Takes one request's worth; `false` when the route is at its rate.
    pub fn try_acquire(&self) -> bool {
        let now = Instant::now();
        let mut g = self.state.lock();
        let (level, at) = *g;
        let refill = at.map_or(0.0, |at| {
            now.duration_since(at).as_secs_f64() * self.per_second
        });
        let level = (level + refill).min(self.per_second);
        if level >= 1.0 {
            *g = (level - 1.0, Some(now));
            true
        } else {
            *g = (level, Some(now));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_second_of_burst_then_the_steady_rate() {
        let g = RateGate::new(5);
        assert_eq!((0..10).filter(|_| g.try_acquire()).count(), 5);
        tokio::time::advance(std::time::Duration::from_millis(400)).await;
        assert_eq!((0..10).filter(|_| g.try_acquire()).count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_bucket() {
        let g = RateGate::new(5);
        let kept = g.clone();
        assert_eq!((0..3).filter(|_| g.try_acquire()).count(), 3);
        assert_eq!((0..10).filter(|_| kept.try_acquire()).count(), 2);
    }
}
