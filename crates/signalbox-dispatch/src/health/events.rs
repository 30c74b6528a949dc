//! Owns the breaker's transitions as events: each change of a route's
//! circuit (closed → open with its reason, open → half-open, half-open →
//! closed or back to open) is handed to a sink the gateway installs, which
//! keeps it in the audit trail. The hand-off is a bounded channel's
//! `try_send`, made while the route's state lock is held (it never waits
//! and takes no other lock): a full channel drops the event and counts it,
//! so the request path never blocks on an event.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::{BreakerState, Phase, RouteHealth};

/// One transition of one route's circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerEvent {
    /// The route whose circuit moved.
    pub route: Arc<str>,
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
    /// Why, in words (the breaker's reason for opening, the trial's result).
    pub reason: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
}

/// Where transitions go: the sending half of a bounded channel, shared by
/// every route of a gateway. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BreakerEvents {
    tx: mpsc::Sender<BreakerEvent>,
    dropped: Arc<AtomicU64>,
}

impl BreakerEvents {
    /// A sink holding at most `capacity` events not yet taken, and the
    /// receiver the consumer reads them from.
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<BreakerEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let sink = Self {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (sink, rx)
    }

    /// Hands `event` on without waiting; a full or closed channel drops it
    /// and counts the drop.
    pub fn emit(&self, event: BreakerEvent) {
        if self.tx.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped because the consumer fell behind (or is gone).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl RouteHealth {
    /// Reports this route's breaker transitions to `sink` as `route`
    /// (once; a reload keeps the first link, as the sink outlives reloads).
    pub fn report_transitions(&self, route: &str, sink: BreakerEvents) {
        let _ = self.events.set(EventLink {
            route: route.into(),
            sink,
        });
    }

    /// Reports a transition to the linked sink, if any (never waits).
    pub(super) fn transition(&self, from: BreakerState, to: BreakerState, reason: &str) {
        if let Some(link) = self.events.get() {
            link.send(from, to, reason);
        }
    }
}

impl Phase {
    /// The state this phase is (an open period over is still `Open`
    /// until a request moves it to half-open).
    pub(super) fn state(&self) -> BreakerState {
        match self {
            Self::Closed => BreakerState::Closed,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
            Self::Open { .. } => BreakerState::Open,
        }
    }
}

/// A route's link to the sink: its id, taken once.
#[derive(Debug)]
pub(super) struct EventLink {
    pub route: Arc<str>,
    pub sink: BreakerEvents,
}

impl EventLink {
    /// Sends the transition `from → to` now.
    pub fn send(&self, from: BreakerState, to: BreakerState, reason: &str) {
        self.sink.emit(BreakerEvent {
            route: Arc::clone(&self.route),
            from,
            to,
            reason: reason.to_owned(),
            at_ms: signalbox_state::unix_ms(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_channel_drops_and_counts_instead_of_waiting() {
        let (sink, mut rx) = BreakerEvents::channel(1);
        let link = EventLink {
            route: "us-large".into(),
            sink: sink.clone(),
        };
        link.send(BreakerState::Closed, BreakerState::Open, "3 failures");
        link.send(BreakerState::Open, BreakerState::HalfOpen, "trial");
        assert_eq!(sink.dropped(), 1);
        let first = rx.recv().await.unwrap();
        assert_eq!(
            (first.from, first.to, first.reason.as_str()),
            (BreakerState::Closed, BreakerState::Open, "3 failures")
        );
        drop(rx);
        link.send(BreakerState::HalfOpen, BreakerState::Closed, "ok");
        assert_eq!(sink.dropped(), 2, "a closed channel counts too");
    }
}
