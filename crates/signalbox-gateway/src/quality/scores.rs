//! Owns the scores of scheduled runs, kept per route × model version ×
//! prompt version × suite × scorer × time window (`quality.score-window`,
//! aligned to the Unix epoch), with the identifiers routing records: the
//! route id, the model version the answers named (the route's configured
//! version when an answer names none), and the prompt version (`-`: the
//! suite's cases as written). A route whose model changes in the middle
//! of a window gets a row per version, so a silent update shows as a new
//! row, not as a blend. Kept in memory per replica, for the last
//! [`RETAIN_WINDOWS`] windows and at most [`MAX_ROWS`] rows (the oldest go
//! first); read by `GET /admin/quality/scores`, `signalbox eval scores`
//! and the quality section of `GET /admin/routes`.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Windows kept behind the newest.
pub(crate) const RETAIN_WINDOWS: u64 = 48;
/// Rows kept at most.
pub(crate) const MAX_ROWS: usize = 20_000;

/// What one row is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct ScoreKey {
    /// The window's start, Unix seconds (first, so rows sort by time).
    pub window_start: u64,
    pub route: String,
    pub model_version: String,
    pub prompt_version: String,
    pub suite: String,
    pub scorer: String,
}

/// Passing and scored answers in the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Tally {
    pub passed: u32,
    pub scored: u32,
}

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

/// The store.
#[derive(Debug, Default)]
pub(crate) struct Scores {
    rows: Mutex<BTreeMap<ScoreKey, Tally>>,
}

impl Scores {
    /// Adds one run's tally for `key` (whose `window_start` is any second
    /// in the window: it is aligned here) and drops what is past retention.
    pub(crate) fn add(&self, mut key: ScoreKey, window_secs: u64, tally: Tally) {
        let window = window_secs.max(1);
        key.window_start -= key.window_start % window;
        let oldest = key
            .window_start
            .saturating_sub(window.saturating_mul(RETAIN_WINDOWS));
        let mut rows = self.rows.lock();
        let t = rows.entry(key).or_default();
        t.passed += tally.passed;
        t.scored += tally.scored;
        // Rows sort by window first: the oldest are at the front.
        while rows
            .first_key_value()
            .is_some_and(|(k, _)| k.window_start < oldest)
            || rows.len() > MAX_ROWS
        {
            rows.pop_first();
        }
    }

    /// The rows matching `filter`, oldest first, each with its pass rate.
    pub(crate) fn query(&self, filter: &Filter) -> Vec<serde_json::Value> {
        let is = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        self.rows
            .lock()
            .iter()
            .filter(|(k, _)| {
                is(&filter.route, &k.route)
                    && is(&filter.model_version, &k.model_version)
                    && is(&filter.prompt_version, &k.prompt_version)
                    && is(&filter.suite, &k.suite)
                    && is(&filter.scorer, &k.scorer)
                    && filter.since.is_none_or(|s| k.window_start >= s)
            })
            .map(|(k, t)| row(k, *t))
            .collect()
    }

    /// `route`'s rows in its newest window, for `GET /admin/routes`.
    pub(crate) fn latest(&self, route: &str) -> Vec<serde_json::Value> {
        let rows = self.rows.lock();
        let newest = rows
            .keys()
            .filter(|k| k.route == route)
            .map(|k| k.window_start)
            .max();
        rows.iter()
            .filter(|(k, _)| k.route == route && Some(k.window_start) == newest)
            .map(|(k, t)| row(k, *t))
            .collect()
    }
}

fn row(k: &ScoreKey, t: Tally) -> serde_json::Value {
    let rate = f64::from(t.passed) / f64::from(t.scored.max(1));
    let mut v = serde_json::to_value(k).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("passed".into(), t.passed.into());
        obj.insert("scored".into(), t.scored.into());
        obj.insert("pass_rate".into(), rate.into());
    }
    v
}

/// Now, in Unix seconds (the one wall clock, which follows a paused test clock).
pub(crate) fn unix_now() -> u64 {
    signalbox_core::clock::unix_secs()
}

#[cfg(test)]
mod tests;
