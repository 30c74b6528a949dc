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
    /// The share of its traffic a route keeps while it misses a warn bar
    /// (`warn-pass-rate`), in (0, 1]. Default 0.25.
    pub warn_weight: Option<f64>,
    /// The suites.
    #[serde(default)]
    pub suites: Vec<RawQualitySuite>,
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
}
