//! Owns what a reload carries from the serving runtime into the new one, so
//! that a reload never hands out fresh limits:
//!
//! - route health (breaker, cooldown, latency) for every route that keeps
//!   its id, with the new thresholds applied;
//! - a route's capacity gate (requests in flight and queued) when it keeps
//!   its id and its `max-concurrency`;
//! - a route's rate gate (tokens left) when it keeps its id and its
//!   `max-requests-per-second`;
//! - the retry budget when its ratio, floor and window are unchanged.
//!
//! A gate is keyed on its own limit rather than on the whole route
//! definition: a limit protects the upstream, and editing, say, a route's
//! weight must not open a fresh second of burst. A route whose limit
//! changed starts with a fresh gate at the new limit.

use std::collections::HashMap;
use std::sync::Arc;

use signalbox_config::{RetryPolicy, RouteConfig};
use signalbox_core::RouteId;
use signalbox_dispatch::{RetryBudget, RouteHealth};
use signalbox_state::{FairGate, RateGate};

use super::Runtime;

/// The serving runtime's per-route state, found by route id.
#[derive(Default)]
pub(super) struct Carried<'a> {
    routes: HashMap<&'a RouteId, OldRoute<'a>>,
    budget: Option<(&'a RetryPolicy, &'a Arc<RetryBudget>)>,
}

struct OldRoute<'a> {
    config: &'a RouteConfig,
    health: &'a Arc<RouteHealth>,
    gate: Option<&'a FairGate>,
    rate: Option<&'a RateGate>,
}

impl<'a> Carried<'a> {
    /// Indexes `previous` (nothing when this is the first build).
    pub(super) fn from(previous: Option<&'a Runtime>) -> Self {
        let Some(p) = previous else {
            return Self::default();
        };
        // The route table follows the configuration's order.
        let routes = p
            .config
            .routes
            .iter()
            .zip(&p.routes)
            .map(|(config, route)| {
                let old = OldRoute {
                    config,
                    health: &route.health,
                    gate: route.gate.as_ref(),
                    rate: route.rate.as_ref(),
                };
                (&config.id, old)
            })
            .collect();
        Self {
            routes,
            budget: Some((&p.config.resilience.retry, &p.retry_budget)),
        }
    }

    /// The route's health: the old one with `r`'s thresholds, or a new one.
    pub(super) fn health(&self, r: &RouteConfig) -> Arc<RouteHealth> {
        match self.routes.get(&r.id) {
            Some(old) => {
                old.health.reconfigure(r.breaker);
                Arc::clone(old.health)
            }
            None => Arc::new(RouteHealth::new(r.breaker)),
        }
    }

    /// The route's capacity gate, if it has `max-concurrency`.
    pub(super) fn gate(&self, r: &RouteConfig) -> Option<FairGate> {
        let n = r.max_concurrency?;
        let kept = self
            .routes
            .get(&r.id)
            .filter(|old| old.config.max_concurrency == Some(n))
            .and_then(|old| old.gate.cloned());
        Some(kept.unwrap_or_else(|| FairGate::new(n, (n as usize).max(8))))
    }

    /// The route's rate gate, if it has `max-requests-per-second`.
    pub(super) fn rate(&self, r: &RouteConfig) -> Option<RateGate> {
        let n = r.max_requests_per_second?;
        let kept = self
            .routes
            .get(&r.id)
            .filter(|old| old.config.max_requests_per_second == Some(n))
            .and_then(|old| old.rate.cloned());
        Some(kept.unwrap_or_else(|| RateGate::new(n)))
    }

    /// The retry budget for `policy`: the old one when it counts the same way.
    pub(super) fn budget(&self, policy: &RetryPolicy) -> Arc<RetryBudget> {
        match self.budget {
            Some((old, budget)) if same_budget(old, policy) => Arc::clone(budget),
            _ => Arc::new(RetryBudget::new(policy)),
        }
    }
}

fn same_budget(a: &RetryPolicy, b: &RetryPolicy) -> bool {
    a.budget_ratio.to_bits() == b.budget_ratio.to_bits()
        && a.budget_min_retries == b.budget_min_retries
        && a.budget_window == b.budget_window
}
