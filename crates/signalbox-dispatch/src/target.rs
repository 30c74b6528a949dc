//! A route ready to be called: its identity plus the upstream client and
//! health that hang off it.

use std::sync::Arc;

use signalbox_core::{ProviderName, RouteId};
use signalbox_providers::RouteSettings;

use crate::{RouteHealth, Upstream};

/// One route with everything the attempt loop needs.
#[derive(Debug)]
pub struct RouteTarget {
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
}
