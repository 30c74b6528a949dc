//! Owns the route as the unit of dispatch: one [`Route`] carries everything
//! about one configured route (identity, upstream client, health, capacity
//! and rate gates, plus whatever per-route data its owner hangs off it in
//! `ext`), and one [`RouteTable`] holds them in configuration order, found
//! by [`RouteIdx`] or, through a map built once, by id.

use std::collections::HashMap;
use std::sync::Arc;

use signalbox_core::{ProviderName, RouteId, RouteIdx};
use signalbox_providers::RouteSettings;
use signalbox_state::{FairGate, RateGate};

use crate::{RouteHealth, Upstream};

/// One route with everything the attempt loop needs; `X` is its owner's
/// own per-route data (the gateway's pre-built headers and metric handles).
#[derive(Debug)]
pub struct Route<X = ()> {
    /// The route id (the unit of health, metrics and records).
    pub id: RouteId,
    /// The route's provider.
    pub provider: ProviderName,
    /// What the provider's adapter needs to know about the route: the
    /// upstream model, output limit and declared posture.
    pub settings: RouteSettings,
    /// The model version string reported in `x-signalbox-model`.
    pub version: String,
    /// The provider's client, shared by all routes of that provider (the
    /// hyper client, or a scripted one in tests).
    pub upstream: Arc<dyn Upstream>,
    /// Circuit breaker, cooldowns and latency.
    pub health: Arc<RouteHealth>,
    /// Share of sticky sessions among equally ranked routes.
    pub weight: f64,
    /// The capacity gate (`max-concurrency`), if any.
    pub gate: Option<FairGate>,
    /// The request-rate gate (`max-requests-per-second`), if any.
    pub rate: Option<RateGate>,
    /// The owner's per-route data.
    pub ext: X,
}

/// Every route of one configuration load, in configuration order (the
/// order policy candidates index).
#[derive(Debug)]
pub struct RouteTable<X = ()> {
    routes: Vec<Route<X>>,
    by_id: HashMap<RouteId, RouteIdx>,
}

impl<X> RouteTable<X> {
    /// Indexes `routes` (in configuration order) by id.
    pub fn new(routes: Vec<Route<X>>) -> Self {
        let by_id = routes
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), RouteIdx::new(i)))
            .collect();
        Self { routes, by_id }
    }

    /// The route at `idx`.
    pub fn get(&self, idx: RouteIdx) -> Option<&Route<X>> {
        self.routes.get(idx.get())
    }

    /// The index of the route with id `id` (a map lookup, no scan).
    pub fn index(&self, id: &str) -> Option<RouteIdx> {
        self.by_id.get(id).copied()
    }

    /// The route with id `id`.
    pub fn by_id(&self, id: &str) -> Option<&Route<X>> {
        self.index(id).and_then(|i| self.get(i))
    }

    /// Every route, in configuration order.
    pub fn iter(&self) -> std::slice::Iter<'_, Route<X>> {
        self.routes.iter()
    }

    /// Every route with its index.
    pub fn indexed(&self) -> impl Iterator<Item = (RouteIdx, &Route<X>)> {
        self.routes
            .iter()
            .enumerate()
            .map(|(i, r)| (RouteIdx::new(i), r))
    }

    /// How many routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

impl<'a, X> IntoIterator for &'a RouteTable<X> {
    type Item = &'a Route<X>;
    type IntoIter = std::slice::Iter<'a, Route<X>>;

    fn into_iter(self) -> Self::IntoIter {
        self.routes.iter()
    }
}
