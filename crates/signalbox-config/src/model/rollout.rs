//! The `shadow` and `canary` sections, validated.

use std::time::Duration;

use signalbox_core::RouteId;

/// Shadow traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowConfig {
    /// Most shadow calls in flight at once.
    pub max_concurrency: usize,
    /// Longest wait for a shadow answer.
    pub timeout: Duration,
    /// The rules, in document order.
    pub rules: Vec<ShadowRule>,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        Self {
            max_concurrency: 4,
            timeout: Duration::from_secs(30),
            rules: Vec::new(),
        }
    }
}

/// One shadow rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowRule {
    /// Unique name.
    pub name: String,
    /// Tenant ids that may be mirrored; empty: any.
    pub tenants: Vec<String>,
    /// Intents that may be mirrored; empty: any.
    pub intents: Vec<String>,
    /// Aliases that may be mirrored; empty: any.
    pub aliases: Vec<String>,
    /// The shadow route.
    pub route: RouteId,
    /// The share of matching requests mirrored, 0–1.
    pub sample: f64,
    /// Most mirrored requests per hour.
    pub requests_per_hour: u64,
    /// Most shadow spend per hour, in USD.
    pub cost_per_hour_usd: Option<f64>,
    /// Below this share of agreeing comparisons (over the recent ones) the
    /// shadow route's disagreement is an event, 0–1.
    pub min_agreement: f64,
}

impl ShadowRule {
    /// Whether a request of this tenant, intent and alias is in the rule's
    /// scope (string compares only).
    pub fn scopes(&self, tenant: &str, intent: &str, alias: &str) -> bool {
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        any(&self.tenants, tenant) && any(&self.intents, intent) && any(&self.aliases, alias)
    }
}

/// What a canary rolls out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanarySubject {
    /// A route (or a new model version behind its own route) next to the
    /// route serving today; both are routes of the alias.
    Route {
        /// The baseline arm's route.
        baseline: RouteId,
        /// The canary arm's route.
        canary: RouteId,
    },
    /// A version of a registered prompt next to the one serving today, for
    /// requests that use the prompt without naming a version.
    Prompt {
        /// The prompt's id.
        id: String,
        /// The baseline arm's version.
        baseline: String,
        /// The canary arm's version.
        canary: String,
    },
}

impl CanarySubject {
    /// The baseline's and the canary's names (route ids, or
    /// `prompt@version`).
    pub fn arms(&self) -> (String, String) {
        match self {
            Self::Route { baseline, canary } => (baseline.to_string(), canary.to_string()),
            Self::Prompt {
                id,
                baseline,
                canary,
            } => (format!("{id}@{baseline}"), format!("{id}@{canary}")),
        }
    }
}

/// One canary rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryConfig {
    /// Unique name.
    pub name: String,
    /// The alias whose requests are split.
    pub alias: String,
    /// What is rolled out.
    pub subject: CanarySubject,
    /// The canary arm's share per step, in basis points (1 % = 100),
    /// increasing, the last at most 10 000.
    pub steps_bp: Vec<u32>,
    /// Canary-arm requests a step needs before it may be promoted.
    pub min_requests: u64,
    /// Time a step needs before it may be promoted.
    pub min_duration: Duration,
    /// What rolls the canary back.
    pub rollback: CanaryRollback,
}

/// Rollback thresholds, canary arm against baseline arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryRollback {
    /// Most error-rate increase (0–1).
    pub error_rate_increase: f64,
    /// Most p95 latency ratio.
    pub p95_latency_ratio: f64,
    /// Most cost-per-request ratio.
    pub cost_ratio: f64,
    /// Most answer-score pass-rate drop (0–1).
    pub score_drop: f64,
    /// Most drop of a prompt canary's eval pass rate below the baseline
    /// version's in the scheduled runs (0–1).
    pub eval_drop: f64,
}

impl Default for CanaryRollback {
    fn default() -> Self {
        Self {
            error_rate_increase: 0.05,
            p95_latency_ratio: 1.5,
            cost_ratio: 1.5,
            score_drop: 0.1,
            eval_drop: 0.1,
        }
    }
}
