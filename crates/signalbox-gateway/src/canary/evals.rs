//! Owns what a prompt canary's steps are judged on besides live traffic:
//! the scheduled quality runs of its versions. While a prompt canary
//! rolls, the quality loop runs every suite registered under that prompt
//! under the canary's version and the baseline's too, on the alias's
//! routes (`quality/canaried.rs`); their scores are kept like any other
//! (route × model version × prompt version × suite × scorer × window).
//! Here a step reads, through a [`ScoreView`], the newest pass rate of the
//! canary's version per suite and scorer since the step began: one below
//! its suite's `min-pass-rate` rolls the canary back, with the suite, the
//! scorer, both versions' rates and the floor as evidence; and a step is
//! promoted only once the canary's version was evaluated in it.

use signalbox_state::{ScoreKey, ScoreTally};

/// A suite's floor for one scorer, which the canary's version must keep.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Floor {
    pub suite: String,
    pub scorer: String,
    pub min: f64,
}

/// Answers that passed of those judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PassCount {
    pub passed: u64,
    pub scored: u64,
}

impl PassCount {
    fn rate(self) -> f64 {
        self.passed as f64 / self.scored.max(1) as f64
    }
}

/// Where a step reads evaluation scores from.
pub(crate) trait ScoreView {
    /// The newest pass count of `prompt_version` for `suite` and `scorer`
    /// in a window that ends after `since` (Unix seconds), if any.
    fn newest(
        &self,
        prompt_version: &str,
        suite: &str,
        scorer: &str,
        since: u64,
    ) -> Option<PassCount>;
}

/// What a prompt canary's step checks in the scores.
pub(crate) struct Evals<'a> {
    /// The canary's and the baseline's `id@version`.
    pub canary: &'a str,
    pub baseline: &'a str,
    /// Every floor of the suites its versions run.
    pub floors: &'a [Floor],
    pub view: &'a dyn ScoreView,
}

impl Evals<'_> {
    /// The first floor the canary's version fell below since `since`, in
    /// words with the suite, the scorer, both versions' rates and the floor.
    pub fn regression(&self, since: u64) -> Option<String> {
        self.floors.iter().find_map(|f| {
            let can = self.view.newest(self.canary, &f.suite, &f.scorer, since)?;
            (can.rate() < f.min).then(|| {
                let base = self
                    .view
                    .newest(self.baseline, &f.suite, &f.scorer, since)
                    .map_or_else(|| "-".to_owned(), pct);
                format!(
                    "eval suite {} scorer {}: {} pass rate {} below the suite's min-pass-rate {:.0}% (baseline {} {base})",
                    f.suite,
                    f.scorer,
                    self.canary,
                    pct(can),
                    f.min * 100.0,
                    self.baseline,
                )
            })
        })
    }

    /// Whether the canary's version was evaluated since `since` (on any
    /// floor's suite and scorer): a step is not promoted blind.
    pub fn evaluated(&self, since: u64) -> bool {
        self.floors.iter().any(|f| {
            self.view
                .newest(self.canary, &f.suite, &f.scorer, since)
                .is_some()
        })
    }

    /// The canary version's rates since `since`, for a promotion's
    /// evidence: `; eval support@v2: weather-tools tool-call 100% (4/4)`.
    pub fn describe(&self, since: u64) -> String {
        let rates: Vec<String> = self
            .floors
            .iter()
            .filter_map(|f| {
                let c = self.view.newest(self.canary, &f.suite, &f.scorer, since)?;
                Some(format!("{} {} {}", f.suite, f.scorer, pct(c)))
            })
            .collect();
        format!("; eval {}: {}", self.canary, rates.join(", "))
    }
}

fn pct(c: PassCount) -> String {
    format!("{:.0}% ({}/{})", c.rate() * 100.0, c.passed, c.scored)
}

/// Score rows (the shared store's, or this replica's) seen from one
/// alias's routes.
pub(crate) struct Rows<'a> {
    pub rows: &'a [(ScoreKey, ScoreTally)],
    /// The alias's route ids.
    pub routes: &'a [String],
    pub window_secs: u64,
}

impl ScoreView for Rows<'_> {
    /// Sums the newest matching window over the alias's routes and the
    /// model versions that answered.
    fn newest(
        &self,
        prompt_version: &str,
        suite: &str,
        scorer: &str,
        since: u64,
    ) -> Option<PassCount> {
        let matching = || {
            self.rows.iter().filter(move |(k, _)| {
                k.prompt_version == prompt_version
                    && k.suite == suite
                    && k.scorer == scorer
                    && k.window_start.saturating_add(self.window_secs) > since
                    && self.routes.contains(&k.route)
            })
        };
        let newest = matching().map(|(k, _)| k.window_start).max()?;
        let (passed, scored) = matching()
            .filter(|(k, _)| k.window_start == newest)
            .fold((0, 0), |(p, s), (_, t)| (p + t.passed, s + t.scored));
        (scored > 0).then_some(PassCount { passed, scored })
    }
}

/// A prompt canary's floors and the score rows, read for one evaluation.
pub(crate) struct Gathered {
    pub floors: Vec<Floor>,
    pub rows: Vec<(ScoreKey, ScoreTally)>,
    pub routes: Vec<String>,
    pub window_secs: u64,
    /// The baseline's and the canary's `id@version`.
    pub arms: (String, String),
}

impl Gathered {
    /// Calls `f` with what a step checks in these scores.
    pub fn with<R>(&self, f: impl FnOnce(&Evals<'_>) -> R) -> R {
        let view = Rows {
            rows: &self.rows,
            routes: &self.routes,
            window_secs: self.window_secs,
        };
        f(&Evals {
            canary: &self.arms.1,
            baseline: &self.arms.0,
            floors: &self.floors,
            view: &view,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        window_start: u64,
        route: &str,
        model: &str,
        version: &str,
        passed: u64,
    ) -> (ScoreKey, ScoreTally) {
        let key = ScoreKey {
            window_start,
            route: route.into(),
            model_version: model.into(),
            prompt_version: version.into(),
            suite: "tools".into(),
            scorer: "tool-call".into(),
        };
        (key, ScoreTally::run(1, passed, 2))
    }

    #[test]
    fn the_newest_window_since_the_step_is_summed_over_the_alias_routes_and_models() {
        let rows = vec![
            row(100, "a", "m1", "p@v2", 0),
            row(160, "a", "m1", "p@v2", 2),
            row(160, "b", "m2", "p@v2", 1),
            // Another alias's route, another version.
            row(160, "z", "m1", "p@v2", 0),
            row(160, "a", "m1", "p@v1", 0),
        ];
        let routes = ["a".to_owned(), "b".to_owned()];
        let view = Rows {
            rows: &rows,
            routes: &routes,
            window_secs: 60,
        };
        let newest = |since| view.newest("p@v2", "tools", "tool-call", since);
        assert_eq!(
            newest(0),
            Some(PassCount {
                passed: 3,
                scored: 4
            })
        );
        // A window ending before the step began is not the step's.
        assert_eq!(newest(220), None);
        assert_eq!(view.newest("p@v3", "tools", "tool-call", 0), None);
    }
}
