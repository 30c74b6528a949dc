//! Owns the scheduled runner's bookkeeping around a run, kept in the
//! gateway's state across reloads: before a run, which of the route's
//! suites may run (the eval tenant, data classes, then the hourly budget;
//! every skip counted in `signalbox_quality_skipped_total{route, reason}`
//! and kept for `GET /admin/routes`); after it, what it spent and its
//! scores per model version.

use serde_json::{Value, json};
use signalbox_core::metric_names as m;
use tokio::time::Instant;

use super::schedule::{Schedule, SkipReason};
use signalbox_state::{ScoreKey, ScoreTally};

use super::scores::{Scores, unix_now};
use super::{LoadedSuite, Run};
use crate::AppState;
use crate::runtime::{Route, Runtime};

/// The prompt version of a run of the suites' cases as written.
const NO_PROMPT: &str = "-";

/// The quality loop's state that outlives a configuration.
#[derive(Debug, Default)]
pub(crate) struct QualityState {
    pub(crate) schedule: Schedule,
    pub(crate) scores: Scores,
}

impl QualityState {
    /// State whose jitter is seeded by the replica id.
    pub(crate) fn new(replica: u64) -> Self {
        Self {
            schedule: Schedule::new(replica),
            scores: Scores::default(),
        }
    }
}

/// The suites (of `suites`, those judging `route`) that may run on it
/// now; `None` when none may (each skip is counted and kept).
pub(crate) fn plan<'a>(
    state: &AppState,
    rt: &Runtime,
    route: &Route,
    suites: Vec<&'a LoadedSuite>,
) -> Option<Vec<&'a LoadedSuite>> {
    let id = route.id.as_str();
    let cfg = rt.config.route(&route.id)?;
    let mut allowed = Vec::with_capacity(suites.len());
    for s in suites {
        let intents = s.suite.intents();
        match super::eligible::check(&rt.config, cfg, &s.suite.data_classes, Some(&intents)) {
            Ok(()) => allowed.push(s),
            Err((reason, why)) => skipped(state, id, reason, &format!("{}: {why}", s.suite.suite)),
        }
    }
    if allowed.is_empty() {
        return None;
    }
    let judged = rt.config.quality.judge.is_some();
    let requests: usize = allowed
        .iter()
        .flat_map(|s| &s.suite.cases)
        .map(|c| 1 + usize::from(judged && c.expect.judge.is_some()))
        .sum();
    let requests = u32::try_from(requests).unwrap_or(u32::MAX);
    let budget = rt.config.quality.budget;
    match state
        .quality
        .schedule
        .admit(id, Instant::now(), requests, budget)
    {
        Ok(()) => Some(allowed),
        Err(why) => {
            skipped(state, id, SkipReason::Budget, &why);
            None
        }
    }
}

fn skipped(state: &AppState, route: &str, reason: SkipReason, why: &str) {
    tracing::info!(route = %route, reason = reason.label(), detail = %why, "Quality run skipped.");
    state.quality.schedule.skip(route, reason, why);
    state.telemetry.count(
        m::QUALITY_SKIPPED_TOTAL,
        &[("route", route), ("reason", reason.label())],
    );
}

/// Counts what `run` spent against the route's budget and keeps its
/// scores per model version (the route's configured version for answers
/// that named none): here, in the shared store, and in the decision log
/// (written on a task of its own: the loop never waits on the file).
pub(crate) fn record(state: &AppState, rt: &Runtime, route: &Route, run: &Run) {
    let id = route.id.as_str();
    state
        .quality
        .schedule
        .spend(id, Instant::now(), run.requests, run.cost_usd);
    let window = rt.config.quality.score_window.as_secs();
    let now = unix_now();
    let replica = state.breakers.replica;
    let mut rows = Vec::new();
    for suite in &run.suites {
        for ((model, scorer), (passed, scored)) in &suite.by_model {
            let key = ScoreKey {
                window_start: now,
                route: id.to_owned(),
                model_version: model.clone().unwrap_or_else(|| route.version.clone()),
                prompt_version: suite.prompt.clone().unwrap_or_else(|| NO_PROMPT.to_owned()),
                suite: suite.name.clone(),
                scorer: (*scorer).to_owned(),
            };
            let tally = ScoreTally::run(replica, u64::from(*passed), u64::from(*scored));
            rows.push((key, tally));
        }
    }
    if rows.is_empty() {
        return;
    }
    if let Some(log) = state.decision_log.clone() {
        let runs = super::scores::runs(replica, now, &rows);
        tokio::spawn(async move {
            if let Err(e) = log.quality_scores(runs).await {
                tracing::warn!(error = %e, "Quality scores not kept in the decision log.");
            }
        });
    }
    let shared = state.quality_state.scores.as_ref();
    state.quality.scores.add(shared, window, rows);
}

/// The quality section of `route` in `GET /admin/routes`: its schedule,
/// budget and skips, and its scores in the newest window.
pub(crate) fn view(state: &AppState, rt: &Runtime, route: &str) -> Value {
    let schedule = state
        .quality
        .schedule
        .view(route, Instant::now(), rt.config.quality.budget);
    json!({
        "schedule": schedule,
        "scores": state.quality.scores.latest(route),
    })
}
