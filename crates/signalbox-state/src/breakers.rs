//! Breaker state shared across replicas: when one replica opens a route's
//! circuit it publishes "open until T (reason)", and every other replica
//! sharing the store skips the route until then without having to fail on
//! it first. A close (after a successful trial) clears it. Each replica
//! still runs its own breaker from its own traffic; the store only spreads
//! open circuits. Reads are on the request path, so implementations answer
//! from memory (a Redis store keeps a local copy refreshed in the
//! background and publishes with `SET … PX`).

use parking_lot::Mutex;
use std::collections::HashMap;

/// A route's circuit as published by a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedBreaker {
    /// The publishing replica.
    pub replica: u64,
    /// Milliseconds since the Unix epoch until which the circuit is open.
    pub open_until_ms: u64,
    /// Why it opened.
    pub reason: String,
}

/// Where replicas publish open circuits.
pub trait BreakerStore: Send + Sync + std::fmt::Debug {
    /// `replica` opened `route` until `open_until_ms`.
    fn publish_open(&self, route: &str, state: SharedBreaker);
    /// A replica closed `route` (a trial succeeded): the route is back.
    fn publish_closed(&self, route: &str);
    /// The open circuit another replica published for `route`, if still open.
    fn open_elsewhere(&self, route: &str, replica: u64) -> Option<SharedBreaker>;
}

/// Milliseconds since the Unix epoch, now (the gateway's one wall clock).
pub use signalbox_core::clock::unix_ms;

/// The in-process store: shared by every gateway in the process that is
/// given the same instance.
#[derive(Debug, Default)]
pub struct InMemoryBreakers {
    routes: Mutex<HashMap<String, SharedBreaker>>,
}

impl BreakerStore for InMemoryBreakers {
    fn publish_open(&self, route: &str, state: SharedBreaker) {
        self.routes.lock().insert(route.to_owned(), state);
    }

    fn publish_closed(&self, route: &str) {
        // Any replica's successful trial proves the route is back.
        self.routes.lock().remove(route);
    }

    fn open_elsewhere(&self, route: &str, replica: u64) -> Option<SharedBreaker> {
        open_elsewhere_in(&self.routes.lock(), route, replica)
    }
}

/// The circuit for `route` in `routes` that another replica than `replica`
/// opened and that is still open now (shared by every store's local view).
pub fn open_elsewhere_in(
    routes: &HashMap<String, SharedBreaker>,
    route: &str,
    replica: u64,
) -> Option<SharedBreaker> {
    let now = unix_ms();
    routes
        .get(route)
        .filter(|s| s.replica != replica && s.open_until_ms > now)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_replicas_see_an_open_circuit_until_it_closes_or_expires() {
        let s = InMemoryBreakers::default();
        s.publish_open(
            "primary",
            SharedBreaker {
                replica: 1,
                open_until_ms: unix_ms() + 60_000,
                reason: "5 failures in a row".into(),
            },
        );
        assert!(
            s.open_elsewhere("primary", 1).is_none(),
            "own state is local"
        );
        assert_eq!(
            s.open_elsewhere("primary", 2).map(|b| b.reason),
            Some("5 failures in a row".into())
        );
        s.publish_closed("primary");
        assert!(s.open_elsewhere("primary", 2).is_none());
        s.publish_open(
            "primary",
            SharedBreaker {
                replica: 1,
                open_until_ms: unix_ms().saturating_sub(1),
                reason: "old".into(),
            },
        );
        assert!(s.open_elsewhere("primary", 2).is_none(), "expired");
    }
}
