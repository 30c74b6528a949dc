//! The `shadow` and `canary` sections as written: mirroring live requests
//! to a route that does not answer them, and rolling a route out in steps.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::text::Text;

/// Shadow traffic: a sampled share of live requests mirrored to a route
/// whose answers are scored against the served ones and never returned.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Shadow")]
pub(crate) struct RawShadow {
    /// Most shadow calls in flight at once (a full gateway drops and counts
    /// the next one). Default 4.
    pub max_concurrency: Option<usize>,
    /// Longest wait for a shadow answer. Default `30s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
    /// The rules, each mirroring to one route.
    #[serde(default)]
    pub rules: Vec<RawShadowRule>,
}

/// One shadow rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "ShadowRule")]
pub(crate) struct RawShadowRule {
    /// Unique name, `[A-Za-z0-9._-]+`.
    pub name: Text,
    /// Which requests may be mirrored; each list means "any of", absent:
    /// any.
    pub when: Option<RawShadowWhen>,
    /// The shadow route (a configured route id).
    pub route: Text,
    /// The share of matching requests mirrored, 0–1.
    pub sample: f64,
    /// Most mirrored requests per hour. Default 1000.
    pub requests_per_hour: Option<u64>,
    /// Most shadow spend per hour, in USD. Default: no limit.
    pub cost_per_hour_usd: Option<f64>,
    /// Below this share of agreeing comparisons (over the last 50, once 20
    /// are in) the shadow route's agreement is an event in the audit
    /// trail, and so is its recovery, 0–1. Default 0.9.
    pub min_agreement: Option<f64>,
}

/// Which requests a shadow rule may mirror.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "ShadowWhen")]
pub(crate) struct RawShadowWhen {
    /// Configured tenant ids.
    pub tenants: Option<Vec<Text>>,
    /// Request intents.
    pub intents: Option<Vec<Text>>,
    /// Configured aliases.
    pub aliases: Option<Vec<Text>>,
}

/// One canary rollout: a route (or a new model version behind its own
/// route), or a prompt version, takes a growing share of an alias's
/// traffic in steps.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Canary")]
pub(crate) struct RawCanary {
    /// Unique name, `[A-Za-z0-9._-]+`.
    pub name: Text,
    /// The alias whose requests are split.
    pub alias: Text,
    /// A registered prompt: when given, `baseline` and `canary` name two
    /// of its versions, and the canary splits the alias's requests that
    /// use the prompt without naming a version.
    pub prompt: Option<Text>,
    /// The route (or prompt version) serving today: the baseline arm.
    pub baseline: Text,
    /// The route (or prompt version) rolled out: the canary arm.
    pub canary: Text,
    /// The canary arm's share at each step, in percent, increasing, each
    /// in (0, 100]. Default `[1, 5, 25, 100]`.
    pub steps: Option<Vec<f64>>,
    /// How long a step must be clean, and on how many canary requests,
    /// before the next one.
    pub window: Option<RawCanaryWindow>,
    /// Regressions of the canary arm against the baseline arm that roll
    /// it back at once.
    pub rollback: Option<RawCanaryRollback>,
}

/// A step's clean window.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "CanaryWindow")]
pub(crate) struct RawCanaryWindow {
    /// Canary-arm requests in the step. Default 20.
    pub min_requests: Option<u64>,
    /// Time in the step. Default `5m`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub min_duration: Option<Duration>,
}

/// Rollback thresholds, canary arm against baseline arm.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "CanaryRollback")]
pub(crate) struct RawCanaryRollback {
    /// Error rate above the baseline's by more than this (0–1). Default 0.05.
    pub error_rate_increase: Option<f64>,
    /// p95 latency above this multiple of the baseline's. Default 1.5.
    pub p95_latency_ratio: Option<f64>,
    /// Cost per request above this multiple of the baseline's. Default 1.5.
    pub cost_ratio: Option<f64>,
    /// Answer-score pass rate (tool-call and structured-output validity of
    /// live answers) below the baseline's by more than this (0–1).
    /// Default 0.1. A canary route the quality loop disables rolls back too.
    pub score_drop: Option<f64>,
    /// A prompt canary's pass rate in the scheduled eval runs below the
    /// baseline version's in the same window by more than this (0–1).
    /// Default 0.1. Without a baseline score, its suite's `min-pass-rate`
    /// is the bar.
    pub eval_drop: Option<f64>,
}
