//! Breaker state shared across replicas: when one replica opens a route's
//! circuit it publishes "open until T (reason)", and every other replica
//! sharing the store skips the route until then without having to fail on
//! it first. A close (after a successful trial) clears it. Each replica
//! still runs its own breaker from its own traffic; the store only spreads
//! open circuits. Reads are on the request path (every candidate's
//! admission), so a store keeps its view in an [`OpenCircuits`] snapshot:
//! replaced as a whole when the store changes (a publish here, a background
//! refresh for Redis), read with a lock-free load, and answered without even
//! a hash lookup while nothing is open anywhere (the common case).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

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
    /// The store's view of open circuits, kept current by the store: what
    /// route health reads on the request path.
    fn snapshot(&self) -> Arc<OpenCircuits>;
    /// The open circuit another replica published for `route`, if still open.
    fn open_elsewhere(&self, route: &str, replica: u64) -> Option<SharedBreaker> {
        self.snapshot().open_elsewhere(route, replica)
    }
}

/// Open circuits by route, as a store last saw them. Reads load the current
/// map without a lock; writers replace it (copy on write: changes are rare,
/// reads are per candidate per request).
#[derive(Debug, Default)]
pub struct OpenCircuits(ArcSwap<HashMap<String, SharedBreaker>>);

impl OpenCircuits {
    /// The circuit for `route` that another replica than `replica` opened
    /// and that is still open now.
    pub fn open_elsewhere(&self, route: &str, replica: u64) -> Option<SharedBreaker> {
        let routes = self.0.load();
        if routes.is_empty() {
            return None;
        }
        open_elsewhere_in(&routes, route, replica)
    }

    /// Applies one change to the map.
    pub fn update(&self, change: impl Fn(&mut HashMap<String, SharedBreaker>)) {
        self.0.rcu(|routes| {
            let mut next = HashMap::clone(routes);
            change(&mut next);
            next
        });
    }

    /// Replaces the whole map (a refresh from the shared store).
    pub fn replace(&self, routes: HashMap<String, SharedBreaker>) {
        self.0.store(Arc::new(routes));
    }
}

/// Milliseconds since the Unix epoch, now (the gateway's one wall clock).
pub use signalbox_core::clock::unix_ms;

/// The in-process store: shared by every gateway in the process that is
/// given the same instance.
#[derive(Debug, Default)]
pub struct InMemoryBreakers {
    routes: Arc<OpenCircuits>,
}

impl BreakerStore for InMemoryBreakers {
    fn publish_open(&self, route: &str, state: SharedBreaker) {
        self.routes.update(|m| {
            m.insert(route.to_owned(), state.clone());
        });
    }

    fn publish_closed(&self, route: &str) {
        // Any replica's successful trial proves the route is back.
        self.routes.update(|m| {
            m.remove(route);
        });
    }

    fn snapshot(&self) -> Arc<OpenCircuits> {
        Arc::clone(&self.routes)
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
