//! The `quality` section, validated: suites with the routes they judge and
//! their thresholds. The suites' own format belongs to `signalbox-eval`;
//! here a suite is its file's text, so that a changed suite reloads like a
//! changed config.

use std::path::PathBuf;
use std::time::Duration;

/// The scorers a threshold may name.
pub const SCORERS: [&str; 6] = [
    "grounded",
    "refusal",
    "tool-call",
    "structured",
    "budget",
    "judge",
];

/// Evaluation suites run against routes.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityConfig {
    /// How often each route runs its suites.
    pub every: Duration,
    /// Longest wait for one case's answer.
    pub timeout: Duration,
    /// Failing runs in a row before a route stops serving.
    pub trip_after: u32,
    /// Passing runs in a row before it serves again.
    pub recover_after: u32,
    /// Up to this much is added to `every`, a different share each run.
    pub jitter: Duration,
    /// Most eval traffic per route per hour.
    pub budget: QualityBudget,
    /// The tenant whose rights eval traffic has, if one is named.
    pub tenant: Option<String>,
    /// The judge alias for scheduled runs, if one is named.
    pub judge: Option<String>,
    /// The length of a score window.
    pub score_window: Duration,
    /// The share of its traffic a warned route keeps, in (0, 1].
    pub warn_weight: f64,
    /// The suites, in document order.
    pub suites: Vec<QualitySuite>,
}

/// Most eval traffic per route per hour (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualityBudget {
    /// Requests per route per hour.
    pub requests_per_hour: Option<u32>,
    /// US dollars per route per hour.
    pub cost_per_hour_usd: Option<f64>,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(600),
            timeout: Duration::from_secs(30),
            trip_after: 1,
            recover_after: 2,
            jitter: Duration::ZERO,
            budget: QualityBudget::default(),
            tenant: None,
            judge: None,
            score_window: Duration::from_secs(3600),
            warn_weight: 0.25,
            suites: Vec::new(),
        }
    }
}

/// One suite and the routes it judges.
#[derive(Debug, Clone, PartialEq)]
pub struct QualitySuite {
    /// The file, resolved against the config file's directory.
    pub path: PathBuf,
    /// The file's text, read at load.
    pub text: String,
    /// Route ids it runs against; empty: every route.
    pub routes: Vec<String>,
    /// The request intents a failing run skips the route for; empty:
    /// every request.
    pub intents: Vec<String>,
    /// The lowest pass rate per scorer name (one of [`SCORERS`]).
    pub min_pass_rate: Vec<(String, f64)>,
    /// Below these (but at or above the floor) the route keeps only its
    /// `warn-weight` share of traffic, instead of being skipped.
    pub warn_pass_rate: Vec<(String, f64)>,
    /// The registered prompt version put first in every case, if any.
    pub prompt: Option<SuitePrompt>,
}

/// A registered prompt version a suite's cases run under.
#[derive(Debug, Clone, PartialEq)]
pub struct SuitePrompt {
    /// Index into `Config::prompts`.
    pub prompt: usize,
    /// Index into that prompt's versions.
    pub version: usize,
    /// `id@version`, for scores and reports.
    pub label: String,
    /// Every variable the version uses, with its value, sorted by name.
    pub values: Vec<(String, String)>,
}

impl QualitySuite {
    /// Whether the suite judges `route`.
    pub fn judges(&self, route: &str) -> bool {
        self.routes.is_empty() || self.routes.iter().any(|r| r == route)
    }
}
