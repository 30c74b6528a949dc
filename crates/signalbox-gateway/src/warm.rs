//! Owns start-up warm-up: what a request would otherwise initialise on its
//! way is initialised before the gateway reports ready, on every serving
//! thread.
//!
//! Why: the token estimator's encoder (`o200k_base`, decoded once per
//! process) and each thread's share of the estimator (the tokenizer's piece
//! cache, the regex engine's cache) were created by the first request that
//! needed them — about 135 ms on the first request after `serve` started —
//! and with one runtime per core every serving thread paid its own part,
//! so the first seconds after each deploy or restart had a 100 ms tail.
//! Now each serving thread warms itself before it accepts a connection,
//! and `/readyz` answers 503 (`"status": "warming"`) until every one has.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Serving threads that have yet to warm up.
#[derive(Debug, Default)]
pub(crate) struct Readiness {
    pending: AtomicUsize,
}

impl Readiness {
    /// `threads` more serving threads will warm up before serving.
    pub(crate) fn expect(&self, threads: usize) {
        self.pending.fetch_add(threads, Ordering::SeqCst);
    }

    /// One serving thread has warmed up.
    pub(crate) fn warmed(&self) {
        let _ = self
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// Whether every serving thread has warmed up.
    pub(crate) fn is_warm(&self) -> bool {
        self.pending.load(Ordering::SeqCst) == 0
    }
}

/// Initialises, on the calling thread, everything a request would otherwise
/// initialise lazily; returns how long that took. Cheap after the first
/// call on a thread.
pub(crate) fn thread() -> Duration {
    let started = Instant::now();
    if !signalbox_policy::tokens::warm() {
        tracing::warn!(
            "The o200k_base token encoder did not load; prompt sizes are estimated as characters / 4."
        );
    }
    started.elapsed()
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn readiness_waits_for_every_expected_thread() {
        let r = Readiness::default();
        assert!(r.is_warm());
        r.expect(2);
        assert!(!r.is_warm());
        r.warmed();
        assert!(!r.is_warm());
        r.warmed();
        assert!(r.is_warm());
        // More `warmed` than expected never wraps around.
        r.warmed();
        assert!(r.is_warm());
    }

    #[test]
    fn a_warmed_thread_has_the_estimator_ready() {
        std::thread::spawn(|| {
            assert!(!signalbox_policy::tokens::is_warm());
            let _ = thread();
            assert!(signalbox_policy::tokens::is_warm());
        })
        .join()
        .unwrap();
    }
}
