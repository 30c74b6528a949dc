//! Quality scores shared across replicas: every scheduled quality run adds
//! its tallies (passed and scored answers) per route × model version ×
//! prompt version × suite × scorer × time window, and every replica reads
//! one history. Tallies are *counts* added up, never averages, so two
//! replicas running the same suite in one window make one row whose pass
//! rate weighs every answer once; each row also says how many runs and
//! which replicas contributed.
//!
//! Writes never wait (a networked store sends them in the background);
//! reads are for operators (`GET /admin/quality/scores`), never the
//! request path. A store keeps [`RETAIN_WINDOWS`] windows behind the
//! newest it was given and at most [`MAX_ROWS`] rows.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::{BoxFuture, StateError};

/// Windows kept behind the newest.
pub const RETAIN_WINDOWS: u64 = 48;
/// Rows kept at most (the oldest windows go first).
pub const MAX_ROWS: usize = 20_000;

/// What one row is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ScoreKey {
    /// The window's start, Unix seconds (first, so rows sort by time).
    pub window_start: u64,
    /// The route id.
    pub route: String,
    /// The model version the answers named.
    pub model_version: String,
    /// The prompt version (`-`: the suite's cases as written).
    pub prompt_version: String,
    /// The suite.
    pub suite: String,
    /// The scorer.
    pub scorer: String,
}

impl ScoreKey {
    /// The key with its window start aligned down to a multiple of
    /// `window_secs` (at least 1).
    pub fn aligned(mut self, window_secs: u64) -> Self {
        self.window_start -= self.window_start % window_secs.max(1);
        self
    }
}

/// Passing and scored answers in a window, and who counted them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreTally {
    /// Answers that passed the scorer.
    pub passed: u64,
    /// Answers the scorer judged.
    pub scored: u64,
    /// Runs that added to the row.
    pub runs: u64,
    /// The replicas whose runs added to it, ascending.
    pub replicas: Vec<u64>,
}

impl ScoreTally {
    /// One run's tally by `replica`.
    pub fn run(replica: u64, passed: u64, scored: u64) -> Self {
        Self {
            passed,
            scored,
            runs: 1,
            replicas: vec![replica],
        }
    }

    /// Adds `other` (counts add; replicas are a set).
    pub fn merge(&mut self, other: &Self) {
        self.passed += other.passed;
        self.scored += other.scored;
        self.runs += other.runs;
        for r in &other.replicas {
            if let Err(at) = self.replicas.binary_search(r) {
                self.replicas.insert(at, *r);
            }
        }
    }
}

/// Where replicas keep their quality scores.
pub trait ScoreStore: Send + Sync + std::fmt::Debug {
    /// Adds one run's tallies, each key aligned to `window_secs`. Never
    /// waits: a networked store writes in the background.
    fn add(&self, window_secs: u64, rows: Vec<(ScoreKey, ScoreTally)>);
    /// History a replica kept itself (its decision log) from before it
    /// started, for a store that does not outlive the process: the
    /// in-process store adds it; a networked store, which keeps its own
    /// history across restarts, ignores it (adding it again would count
    /// those runs twice).
    fn restore(&self, window_secs: u64, rows: Vec<(ScoreKey, ScoreTally)>);
    /// Every row kept, oldest window first.
    fn rows(&self) -> BoxFuture<'_, Result<Vec<(ScoreKey, ScoreTally)>, StateError>>;
}

/// The in-process store: shared by every gateway in the process given the
/// same instance; what a single replica keeps of its own runs.
#[derive(Debug, Default)]
pub struct InMemoryScores {
    rows: Mutex<BTreeMap<ScoreKey, ScoreTally>>,
}

impl InMemoryScores {
    /// Every row, oldest window first (synchronous: nothing to wait for).
    pub fn snapshot(&self) -> Vec<(ScoreKey, ScoreTally)> {
        self.rows
            .lock()
            .iter()
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect()
    }

    fn insert(&self, window_secs: u64, rows: Vec<(ScoreKey, ScoreTally)>) {
        let window = window_secs.max(1);
        let mut kept = self.rows.lock();
        for (key, tally) in rows {
            kept.entry(key.aligned(window)).or_default().merge(&tally);
        }
        let newest = kept.last_key_value().map_or(0, |(k, _)| k.window_start);
        let oldest = newest.saturating_sub(window.saturating_mul(RETAIN_WINDOWS));
        // Rows sort by window first: the oldest are at the front.
        while kept
            .first_key_value()
            .is_some_and(|(k, _)| k.window_start < oldest)
            || kept.len() > MAX_ROWS
        {
            kept.pop_first();
        }
    }
}

impl ScoreStore for InMemoryScores {
    fn add(&self, window_secs: u64, rows: Vec<(ScoreKey, ScoreTally)>) {
        self.insert(window_secs, rows);
    }

    fn restore(&self, window_secs: u64, rows: Vec<(ScoreKey, ScoreTally)>) {
        self.insert(window_secs, rows);
    }

    fn rows(&self) -> BoxFuture<'_, Result<Vec<(ScoreKey, ScoreTally)>, StateError>> {
        Box::pin(std::future::ready(Ok(self.snapshot())))
    }
}
