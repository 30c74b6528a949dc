//! Owns what a prompt canary's steps are judged on besides live traffic:
//! the scheduled quality runs of its versions. While a prompt canary
//! rolls, the quality loop runs every suite registered under that prompt
//! under the canary's version and the baseline's too, on the alias's
//! routes (`quality/canaried.rs`); their scores are kept like any other
//! (route × model version × prompt version × suite × scorer × window).
//! Here a step reads, through a [`ScoreView`], the newest pass rate of the
//! canary's version per suite and scorer since the step began, and the
//! baseline's in the same window (else its newest in the step). The
//! canary is rolled back when it falls more than the canary's `eval-drop`
//! below the baseline's rate, or below its suite's `min-pass-rate` while
//! the baseline is not as low (or has no score): the evidence names the
//! suite, the scorer, both versions' rates and the bar broken. Below the
//! floor but within the margin of a baseline just as low, the version is
//! not what regressed: the step is neither rolled back nor promoted. A
//! step is promoted only once the canary's version was evaluated in it.

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
    /// in a window that ends after `since` (Unix seconds), with the
    /// window's start, if any.
    fn newest(
        &self,
        prompt_version: &str,
        suite: &str,
        scorer: &str,
        since: u64,
    ) -> Option<(u64, PassCount)>;

    /// The pass count of `prompt_version` for `suite` and `scorer` in the
    /// window starting at `window_start`, if it was evaluated then.
    fn in_window(
        &self,
        prompt_version: &str,
        suite: &str,
        scorer: &str,
        window_start: u64,
    ) -> Option<PassCount>;
}

/// What a prompt canary's step checks in the scores.
pub(crate) struct Evals<'a> {
    /// The canary's and the baseline's `id@version`.
    pub canary: &'a str,
    pub baseline: &'a str,
    /// Every floor of the suites its versions run.
    pub floors: &'a [Floor],
    /// Most drop of the canary's pass rate below the baseline's (0–1): the
    /// canary's `rollback.eval-drop`.
    pub drop: f64,
    pub view: &'a dyn ScoreView,
}

/// One floor's reading: the canary's rate and the baseline's.
enum Verdict {
    /// Within every bar.
    Clear,
    /// Rolled back, with the evidence.
    Regressed(String),
    /// Below the suite's floor, but so is the baseline (within the
    /// margin): not the version's regression, not promoted either; why.
    Held(String),
}

impl Evals<'_> {
    /// The canary's newest count for floor `f` since `since` and the
    /// baseline's in the same window (else its newest since `since`).
    fn read(&self, f: &Floor, since: u64) -> Option<(PassCount, Option<PassCount>)> {
        let (window, can) = self.view.newest(self.canary, &f.suite, &f.scorer, since)?;
        let base = self
            .view
            .in_window(self.baseline, &f.suite, &f.scorer, window)
            .or_else(|| {
                let newest = self.view.newest(self.baseline, &f.suite, &f.scorer, since);
                newest.map(|(_, c)| c)
            });
        Some((can, base))
    }

    fn verdict(&self, f: &Floor, since: u64) -> Option<Verdict> {
        let (can, base) = self.read(f, since)?;
        let shown = base.map_or_else(|| "-".to_owned(), pct);
        // "More than" the margin: a drop of exactly `drop` (0.8 − 0.7 is
        // 0.10000000000000009 in floating point) is within it.
        let below_base =
            base.is_some_and(|b| b.rate() - can.rate() > self.drop + super::RATE_TOLERANCE);
        let (suite, scorer, canary, baseline) = (&f.suite, &f.scorer, self.canary, self.baseline);
        let floor = f.min * 100.0;
        Some(if can.rate() < f.min && (base.is_none() || below_base) {
            Verdict::Regressed(format!(
                "eval suite {suite} scorer {scorer}: {canary} pass rate {} below the suite's min-pass-rate {floor:.0}% (baseline {baseline} {shown})",
                pct(can),
            ))
        } else if below_base {
            Verdict::Regressed(format!(
                "eval suite {suite} scorer {scorer}: {canary} pass rate {} more than {:.0} points below the baseline {baseline} {shown} (eval-drop {}; the suite's min-pass-rate {floor:.0}%)",
                pct(can),
                self.drop * 100.0,
                self.drop,
            ))
        } else if can.rate() < f.min {
            Verdict::Held(format!(
                "eval suite {suite} scorer {scorer}: {canary} pass rate {} below the suite's min-pass-rate {floor:.0}%, but within eval-drop {} of the baseline {baseline} {shown}: not promoted until it meets the floor",
                pct(can),
                self.drop,
            ))
        } else {
            Verdict::Clear
        })
    }

    /// The first bar the canary's version broke since `since`, in words
    /// with the suite, the scorer, both versions' rates and the bar.
    pub fn regression(&self, since: u64) -> Option<String> {
        self.floors
            .iter()
            .find_map(|f| match self.verdict(f, since)? {
                Verdict::Regressed(why) => Some(why),
                Verdict::Clear | Verdict::Held(_) => None,
            })
    }

    /// Why the step may not be promoted on the scores although nothing
    /// regressed: the first floor the canary's version is held below.
    pub fn held(&self, since: u64) -> Option<String> {
        self.floors
            .iter()
            .find_map(|f| match self.verdict(f, since)? {
                Verdict::Held(why) => Some(why),
                Verdict::Clear | Verdict::Regressed(_) => None,
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
                let (_, c) = self.view.newest(self.canary, &f.suite, &f.scorer, since)?;
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

impl Rows<'_> {
    /// The matching rows of the alias's routes whose window passes `keep`.
    fn matching<'r>(
        &'r self,
        prompt_version: &'r str,
        suite: &'r str,
        scorer: &'r str,
        keep: impl Fn(u64) -> bool + 'r,
    ) -> impl Iterator<Item = &'r (ScoreKey, ScoreTally)> + 'r {
        self.rows.iter().filter(move |(k, _)| {
            k.prompt_version == prompt_version
                && k.suite == suite
                && k.scorer == scorer
                && keep(k.window_start)
                && self.routes.contains(&k.route)
        })
    }
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
    ) -> Option<(u64, PassCount)> {
        let ends_after = |start: u64| start.saturating_add(self.window_secs) > since;
        let newest = self
            .matching(prompt_version, suite, scorer, ends_after)
            .map(|(k, _)| k.window_start)
            .max()?;
        let count = self.in_window(prompt_version, suite, scorer, newest)?;
        Some((newest, count))
    }

    /// Sums that window over the alias's routes and the model versions.
    fn in_window(
        &self,
        prompt_version: &str,
        suite: &str,
        scorer: &str,
        window_start: u64,
    ) -> Option<PassCount> {
        let (passed, scored) = self
            .matching(prompt_version, suite, scorer, |start| start == window_start)
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
    /// The canary's `rollback.eval-drop`.
    pub drop: f64,
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
            drop: self.drop,
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
            Some((
                160,
                PassCount {
                    passed: 3,
                    scored: 4
                }
            ))
        );
        assert_eq!(
            view.in_window("p@v1", "tools", "tool-call", 160),
            Some(PassCount {
                passed: 0,
                scored: 2
            })
        );
        // A window ending before the step began is not the step's.
        assert_eq!(newest(220), None);
        assert_eq!(view.newest("p@v3", "tools", "tool-call", 0), None);
    }

    #[test]
    fn a_drop_of_exactly_the_margin_is_within_it() {
        // Baseline 80% and canary 70% of the same window, margin 0.1; the
        // canary meets its floor (0.5).
        let mut rows = vec![
            row(160, "a", "m1", "p@v1", 2),
            row(160, "a", "m1", "p@v2", 1),
        ];
        rows[0].1 = ScoreTally::run(1, 8, 10);
        rows[1].1 = ScoreTally::run(1, 7, 10);
        let routes = ["a".to_owned()];
        let view = Rows {
            rows: &rows,
            routes: &routes,
            window_secs: 60,
        };
        let floors = [Floor {
            suite: "tools".into(),
            scorer: "tool-call".into(),
            min: 0.5,
        }];
        let evals = |drop| Evals {
            canary: "p@v2",
            baseline: "p@v1",
            floors: &floors,
            drop,
            view: &view,
        };
        assert_eq!(evals(0.1).regression(0), None);
        assert!(evals(0.1).evaluated(0) && evals(0.1).held(0).is_none());
        let why = evals(0.05).regression(0).unwrap_or_default();
        assert!(
            why.starts_with("eval suite tools scorer tool-call: p@v2 pass rate 70% (7/10) more than 5 points below the baseline p@v1 80% (8/10)"),
            "{why}"
        );
    }
}
