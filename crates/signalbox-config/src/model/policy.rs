//! Intent classification and policy rules.

use std::time::Duration;

use regex::Regex;
use signalbox_core::RouteId;

use super::{Capability, ContentFilter, DegradeStep, FailureMode, Retention};

/// How a request's intent is found when no `x-signalbox-intent` header is given.
#[derive(Debug, Clone)]
pub struct IntentConfig {
    /// The intent when no rule matches.
    pub default: String,
    /// Evaluated in order; the first match wins.
    pub rules: Vec<IntentRule>,
}

impl Default for IntentConfig {
    fn default() -> Self {
        Self {
            default: "general".to_owned(),
            rules: Vec::new(),
        }
    }
}

/// One intent rule.
#[derive(Debug, Clone)]
pub struct IntentRule {
    /// Unique name.
    pub name: String,
    /// Conditions; all given must hold.
    pub when: IntentWhen,
    /// The intent assigned when it matches.
    pub intent: String,
}

/// Conditions of an intent rule; `None` always holds.
#[derive(Debug, Clone, Default)]
pub struct IntentWhen {
    /// Whether the request offers tools.
    pub tools: Option<bool>,
    /// Matched against the text of the last user message.
    pub last_user_message: Option<Regex>,
}

/// One policy rule; the first rule whose `when` matches selects.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRule {
    /// Unique name (recorded in decisions).
    pub name: String,
    /// Conditions; all given must hold.
    pub when: RuleWhen,
    /// Explicit ordered route chain, replacing the alias's routes.
    pub routes: Option<Vec<RouteId>>,
    /// Filter over route attributes, applied to `routes` or else the alias's routes.
    pub select: Option<RouteSelector>,
    /// Extra hard constraints.
    pub require: Requirements,
    /// Soft ranking goals.
    pub objectives: Objectives,
    /// What happens when no route qualifies.
    pub failure_mode: FailureMode,
    /// Relaxations tried in order under `FailureMode::Degrade` (empty when fail-closed).
    pub degrade: Vec<DegradeStep>,
    /// Most attempts per request; `None` keeps the alias's.
    pub max_attempts: Option<usize>,
    /// Matched requests are irreversible (at-most-once).
    pub at_most_once: bool,
    /// Boundaries replacing the tenant's and the gateway's for the same zones.
    pub privacy: Vec<super::Boundary>,
}

/// Conditions of a policy rule. Each list means "any of"; an empty list or
/// `None` always holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleWhen {
    /// Tenant ids.
    pub tenants: Vec<String>,
    /// Tenant plans.
    pub plans: Vec<String>,
    /// Request intents.
    pub intents: Vec<String>,
    /// Risk tiers (indices into `Config::risk_tiers`).
    pub risk_tiers: Vec<usize>,
    /// Regions (e.g. the client's region hint).
    pub regions: Vec<String>,
    /// Aliases the client asked for.
    pub aliases: Vec<String>,
    /// Whether the request offers tools.
    pub tools: Option<bool>,
    /// Request headers: lower-cased name and exact value, sorted by name.
    pub headers: Vec<(String, String)>,
}

/// A filter over route attributes; an empty list does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSelector {
    /// Route regions.
    pub regions: Vec<String>,
    /// Route providers.
    pub providers: Vec<String>,
    /// Capabilities every selected route must support.
    pub supports: Vec<Capability>,
}

/// Hard constraints a rule adds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Retention at least this strong.
    pub retention: Option<Retention>,
    /// Content filter at least this strong.
    pub content_filter: Option<ContentFilter>,
}

/// Soft goals used to rank the qualifying routes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Objectives {
    /// Route ids ranked first, in this order.
    pub prefer: Vec<RouteId>,
    /// Regions ranked first, in this order.
    pub prefer_regions: Vec<String>,
    /// Estimated cost per request above which a route ranks last.
    pub max_cost_usd: Option<f64>,
    /// Latency target.
    pub latency_slo: Option<Duration>,
    /// How the ranking terms are combined.
    pub weights: Weights,
}

/// Weights of the ranking terms; each finite and ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Preference (`prefer`, `prefer-regions`, tenant preferred regions).
    pub preference: f64,
    /// Estimated cost.
    pub cost: f64,
    /// Observed latency.
    pub latency: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            preference: 1.0,
            cost: 0.0,
            latency: 0.0,
        }
    }
}
