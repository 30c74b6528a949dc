//! Intent rules and policy rules, as written.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::model::{Capability, ContentFilter, DegradeStep, FailureMode, Retention};
use crate::text::Text;

/// How a request's intent is classified when it has no `x-signalbox-intent` header.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Intents")]
pub(crate) struct RawIntents {
    /// The intent when no rule matches. Default `general`.
    pub default: Option<Text>,
    /// Evaluated in order; the first match wins.
    pub rules: Option<Vec<RawIntentRule>>,
}

/// One intent rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "IntentRule")]
pub(crate) struct RawIntentRule {
    /// Unique name, `[A-Za-z0-9._-]+`.
    pub name: Text,
    /// Conditions; all given must hold. Absent: always matches.
    pub when: Option<RawIntentWhen>,
    /// The intent assigned; non-empty.
    pub intent: Text,
}

/// Conditions of an intent rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "IntentWhen")]
pub(crate) struct RawIntentWhen {
    /// Whether the request offers tools.
    pub tools: Option<bool>,
    /// Regular expression (Rust `regex` syntax) searched in the last user message.
    pub last_user_message: Option<Text>,
}

/// Policy rules.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Policy")]
pub(crate) struct RawPolicy {
    /// Evaluated in order; the first match selects.
    pub rules: Option<Vec<RawPolicyRule>>,
}

/// One policy rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "PolicyRule")]
pub(crate) struct RawPolicyRule {
    /// Unique name, `[A-Za-z0-9._-]+`.
    pub name: Text,
    /// Conditions; all given must hold. Absent: always matches.
    pub when: Option<RawRuleWhen>,
    /// Explicit ordered route chain (route ids, no duplicates).
    pub routes: Option<Vec<Text>>,
    /// Filter over route attributes, applied to `routes` or else the alias's routes.
    pub select: Option<RawSelect>,
    /// Extra hard constraints.
    pub require: Option<RawRequire>,
    /// Soft ranking goals.
    pub objectives: Option<RawObjectives>,
    /// Default `degrade`.
    pub failure_mode: Option<FailureMode>,
    /// Relaxations in order. Default `[fallback-route]`; not allowed with fail-closed.
    pub degrade: Option<Vec<DegradeStep>>,
    /// Most attempts per request; ≥ 1. Default: the alias's.
    #[schemars(range(min = 1))]
    pub max_attempts: Option<usize>,
    /// Irreversible operations: never retried or failed over once the request
    /// may have reached a provider. Default false.
    pub at_most_once: Option<bool>,
    /// Boundaries for requests this rule matches, replacing the tenant's and
    /// the gateway's for the same zones (e.g. stricter for an intent).
    pub privacy: Option<Vec<super::RawBoundary>>,
}

/// Conditions of a policy rule; each list means "any of" and must not be empty.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "RuleWhen")]
pub(crate) struct RawRuleWhen {
    /// Configured tenant ids.
    pub tenants: Option<Vec<Text>>,
    /// Tenant plans.
    pub plans: Option<Vec<Text>>,
    /// Request intents.
    pub intents: Option<Vec<Text>>,
    /// Known risk tiers.
    pub risk_tiers: Option<Vec<Text>>,
    /// Known regions.
    pub regions: Option<Vec<Text>>,
    /// Configured aliases.
    pub aliases: Option<Vec<Text>>,
    /// Whether the request offers tools.
    pub tools: Option<bool>,
    /// Header name (case-insensitive) → exact value.
    pub headers: Option<BTreeMap<String, Text>>,
}

/// A filter over route attributes; each list must not be empty.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "RouteSelector")]
pub(crate) struct RawSelect {
    /// Known regions.
    pub regions: Option<Vec<Text>>,
    /// Configured providers.
    pub providers: Option<Vec<Text>>,
    /// Capabilities every selected route must support.
    pub supports: Option<Vec<Capability>>,
}

/// Extra hard constraints.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Requirements")]
pub(crate) struct RawRequire {
    /// Retention at least this strong.
    pub retention: Option<Retention>,
    /// Content filter at least this strong.
    pub content_filter: Option<ContentFilter>,
}

/// Soft ranking goals.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Objectives")]
pub(crate) struct RawObjectives {
    /// Route ids ranked first, in this order.
    pub prefer: Option<Vec<Text>>,
    /// Known regions ranked first, in this order.
    pub prefer_regions: Option<Vec<Text>>,
    /// Estimated cost per request in USD; finite and ≥ 0.
    #[schemars(range(min = 0))]
    pub max_cost_usd: Option<f64>,
    /// Latency target; > 0.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub latency_slo: Option<Duration>,
    /// Ranking weights.
    pub weights: Option<RawWeights>,
}

/// Ranking weights; each finite and ≥ 0.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Weights")]
pub(crate) struct RawWeights {
    /// Default 1.
    #[schemars(range(min = 0))]
    pub preference: Option<f64>,
    /// Default 0.
    #[schemars(range(min = 0))]
    pub cost: Option<f64>,
    /// Default 0.
    #[schemars(range(min = 0))]
    pub latency: Option<f64>,
}
