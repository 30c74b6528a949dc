//! The `quality` section as written.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::text::Text;

/// Evaluation suites run against routes; a route whose answers fall below
/// a suite's pass rates stops serving until they recover.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "Quality")]
pub(crate) struct RawQuality {
    /// How often each route runs its suites. Default `10m`; at least `1s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub every: Option<Duration>,
    /// Longest wait for one case's answer. Default `30s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
    /// Failing runs in a row before a route stops serving. Default 1.
    pub trip_after: Option<u32>,
    /// Passing runs in a row before it serves again. Default 2.
    pub recover_after: Option<u32>,
    /// Up to this much is added to each route's `every`, a different
    /// share each run (so routes and replicas do not run in step).
    /// Default `0s`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub jitter: Option<Duration>,
    /// Most eval traffic per route per hour; a run that would exceed it is
    /// skipped (and counted). Default: no limit.
    pub budget: Option<RawQualityBudget>,
    /// The tenant whose rights eval traffic has: suites run only on
    /// routes its requests may use (regions, retention, content filter),
    /// the judge's requests are decided as its requests, and its privacy
    /// boundaries decide where a suite's data classes may go. Default:
    /// none (every route; the gateway's boundaries).
    pub tenant: Option<Text>,
    /// The alias that grades cases with an `expect.judge` rubric in
    /// scheduled runs, routed by the policy (as `tenant`). Needed by
    /// `min-pass-rate.judge`.
    pub judge: Option<Text>,
    /// Scores are kept per route, model version, prompt version, suite
    /// and window of this length. Default `1h`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<String>")]
    pub score_window: Option<Duration>,
    /// The share of its traffic a route keeps while it misses a warn bar
    /// (`warn-pass-rate`), in (0, 1]. Default 0.25.
    pub warn_weight: Option<f64>,
    /// The suites.
    #[serde(default)]
    pub suites: Vec<RawQualitySuite>,
}

/// Most eval traffic per route per hour.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "QualityBudget")]
pub(crate) struct RawQualityBudget {
    /// Requests (cases, and judge calls) per route per hour; at least 1.
    pub requests_per_hour: Option<u32>,
    /// US dollars per route per hour (each answer's usage at the route's
    /// price); more than 0.
    pub cost_per_hour_usd: Option<f64>,
}

/// One suite and the routes it judges.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(rename = "QualitySuite")]
pub(crate) struct RawQualitySuite {
    /// The suite file (YAML, or `.jsonl`), relative to this config file.
    pub path: Text,
    /// Routes it runs against. Default: every route.
    #[serde(default)]
    pub routes: Option<Vec<Text>>,
    /// The lowest share of passing cases per scorer (`grounded`,
    /// `refusal`, `tool-call`, `structured`), 0–1; a scorer not named
    /// does not gate.
    pub min_pass_rate: BTreeMap<String, f64>,
    /// A higher bar per scorer: below it (but at or above the floor) the
    /// route is ranked after the routes that pass, not skipped. Each ≥
    /// the scorer's `min-pass-rate`.
    #[serde(default)]
    pub warn_pass_rate: BTreeMap<String, f64>,
    /// A registered prompt version (`id@version`, or `id` for its default
    /// version) put first in every case, in the variant of each route's
    /// provider family: the scores are then that prompt version's.
    pub prompt: Option<Text>,
    /// The prompt's variables (every one it uses).
    #[serde(default)]
    pub prompt_variables: BTreeMap<String, String>,
    /// The request intents it judges the route for: a failing run skips
    /// the route only for requests of these intents. Default: every
    /// request.
    #[serde(default)]
    pub intents: Vec<Text>,
}
