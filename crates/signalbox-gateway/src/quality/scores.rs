//! Owns the scores of scheduled runs, kept per route × model version ×
//! prompt version × suite × scorer × time window (`quality.score-window`,
//! aligned to the Unix epoch), with the identifiers routing records: the
//! route id, the model version the answers named (the route's configured
//! version when an answer names none), and the prompt version (`-`: the
//! suite's cases as written). A route whose model changes in the middle
//! of a window gets a row per version, so a silent update shows as a new
//! row, not as a blend.
//!
//! Where they are kept, and why there:
//! - the **state backend's** [`ScoreStore`] (`QualityState::scores`): one
//!   history for every replica (Redis hashes per window, or the in-process
//!   store), counts added up per row (never averages: two replicas running
//!   the same suite weigh every answer once), each row naming its runs and
//!   replicas. `GET /admin/quality/scores` and `signalbox eval scores` read
//!   it;
//! - this replica's **decision log** (`quality_scores` table): every run's
//!   rows, written at once on a blocking thread (never on a request path),
//!   read back at start so a restart keeps the history — into the
//!   in-process store (a Redis store kept its own);
//! - a **local** copy of this replica's own runs (and what its log gave
//!   back): the newest window of `GET /admin/routes`, and what the admin
//!   endpoint answers when the shared store cannot be reached (counted in
//!   `signalbox_state_fallbacks_total{store="scores"}`).
//!
//! Each keeps the last [`RETAIN_WINDOWS`] windows and at most
//! [`signalbox_state::MAX_ROWS`] rows (the oldest go first).

use serde::Deserialize;
use signalbox_core::metric_names as m;
use signalbox_decision_log::ScoreRun;
use signalbox_state::{InMemoryScores, RETAIN_WINDOWS, ScoreKey, ScoreStore, ScoreTally};

use crate::AppState;

/// A query's filters (each optional).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filter {
    pub route: Option<String>,
    pub model_version: Option<String>,
    pub prompt_version: Option<String>,
    pub suite: Option<String>,
    pub scorer: Option<String>,
    /// Windows starting at or after this Unix second.
    pub since: Option<u64>,
}

impl Filter {
    fn admits(&self, k: &ScoreKey) -> bool {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        is(&self.route, &k.route)
            && is(&self.model_version, &k.model_version)
            && is(&self.prompt_version, &k.prompt_version)
            && is(&self.suite, &k.suite)
            && is(&self.scorer, &k.scorer)
            && self.since.is_none_or(|s| k.window_start >= s)
    }
}

/// This replica's own rows (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Scores {
    local: InMemoryScores,
}

impl Scores {
    /// Adds one run's rows here and to `shared` (never waits).
    pub(crate) fn add(
        &self,
        shared: &dyn ScoreStore,
        window_secs: u64,
        rows: Vec<(ScoreKey, ScoreTally)>,
    ) {
        self.local.add(window_secs, rows.clone());
        shared.add(window_secs, rows);
    }

    /// `route`'s rows in its newest window (this replica's), for `GET
    /// /admin/routes`.
    pub(crate) fn latest(&self, route: &str) -> Vec<serde_json::Value> {
        let rows = self.local.snapshot();
        let newest = rows
            .iter()
            .filter(|(k, _)| k.route == route)
            .map(|(k, _)| k.window_start)
            .max();
        rows.iter()
            .filter(|(k, _)| k.route == route && Some(k.window_start) == newest)
            .map(|(k, t)| row(k, t))
            .collect()
    }
}

/// The rows matching `filter`, oldest first, each with its pass rate: the
/// shared history, else (the store unreachable, counted) this replica's.
/// The second value says which (`shared` or `local`).
pub(crate) async fn query(
    state: &AppState,
    filter: &Filter,
) -> (Vec<serde_json::Value>, &'static str) {
    let (rows, source) = match state.quality_state.scores.rows().await {
        Ok(rows) => (rows, "shared"),
        Err(e) => {
            state
                .telemetry
                .count(m::STATE_FALLBACKS_TOTAL, &[("store", "scores")]);
            tracing::debug!(error = %e, "Quality scores not read from the shared store; this replica's own.");
            (state.quality.scores.local.snapshot(), "local")
        }
    };
    (select(&rows, filter), source)
}

/// The rows of `rows` that `filter` admits, rendered.
fn select(rows: &[(ScoreKey, ScoreTally)], filter: &Filter) -> Vec<serde_json::Value> {
    rows.iter()
        .filter(|(k, _)| filter.admits(k))
        .map(|(k, t)| row(k, t))
        .collect()
}

fn row(k: &ScoreKey, t: &ScoreTally) -> serde_json::Value {
    // Precision is lost past 2^53 in f64, not in counts this small.
    let rate = t.passed as f64 / t.scored.max(1) as f64;
    let mut v = serde_json::to_value(k).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("passed".into(), t.passed.into());
        obj.insert("scored".into(), t.scored.into());
        obj.insert("pass_rate".into(), rate.into());
        obj.insert("runs".into(), t.runs.into());
        obj.insert("replicas".into(), t.replicas.clone().into());
    }
    v
}

/// One run's rows as the decision log keeps them, by `replica` at `now`.
pub(crate) fn runs(replica: u64, now: u64, rows: &[(ScoreKey, ScoreTally)]) -> Vec<ScoreRun> {
    rows.iter()
        .map(|(k, t)| ScoreRun {
            time_secs: now,
            replica,
            route: k.route.clone(),
            model_version: k.model_version.clone(),
            prompt_version: k.prompt_version.clone(),
            suite: k.suite.clone(),
            scorer: k.scorer.clone(),
            passed: t.passed,
            scored: t.scored,
        })
        .collect()
}

/// Reads back the runs this replica's decision log kept of the last
/// [`RETAIN_WINDOWS`] windows (a restart keeps the history): into the
/// local copy and the shared store (which ignores them if it keeps its
/// own history). A log that cannot be read is warned about; nothing else.
pub(crate) fn restore(state: &AppState) {
    let Some(log) = &state.decision_log else {
        return;
    };
    let window = state
        .runtime
        .load()
        .config
        .quality
        .score_window
        .as_secs()
        .max(1);
    let since = unix_now().saturating_sub(window.saturating_mul(RETAIN_WINDOWS + 1));
    let kept = match log.quality_scores_since(since) {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!(error = %e, "Quality scores not read back from the decision log.");
            return;
        }
    };
    if kept.is_empty() {
        return;
    }
    let rows: Vec<(ScoreKey, ScoreTally)> = kept
        .into_iter()
        .map(|r| {
            let key = ScoreKey {
                window_start: r.time_secs,
                route: r.route,
                model_version: r.model_version,
                prompt_version: r.prompt_version,
                suite: r.suite,
                scorer: r.scorer,
            };
            (key, ScoreTally::run(r.replica, r.passed, r.scored))
        })
        .collect();
    state.quality.scores.local.restore(window, rows.clone());
    state.quality_state.scores.restore(window, rows);
}

/// Now, in Unix seconds (the one wall clock, which follows a paused test clock).
pub(crate) fn unix_now() -> u64 {
    signalbox_core::clock::unix_secs()
}

#[cfg(test)]
mod tests;
