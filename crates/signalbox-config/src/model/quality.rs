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
    /// The share of its traffic a warned route keeps, in (0, 1].
    pub warn_weight: f64,
    /// The suites, in document order.
    pub suites: Vec<QualitySuite>,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(600),
            timeout: Duration::from_secs(30),
            trip_after: 1,
            recover_after: 2,
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
    /// The lowest pass rate per scorer name (one of [`SCORERS`]).
    pub min_pass_rate: Vec<(String, f64)>,
    /// Below these (but at or above the floor) the route keeps only its
    /// `warn-weight` share of traffic, instead of being skipped.
    pub warn_pass_rate: Vec<(String, f64)>,
}

impl QualitySuite {
    /// Whether the suite judges `route`.
    pub fn judges(&self, route: &str) -> bool {
        self.routes.is_empty() || self.routes.iter().any(|r| r == route)
    }
}
