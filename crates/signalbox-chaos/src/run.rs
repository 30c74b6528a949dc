//! Owns one run of a scenario: scale it, set the stage up, apply the fault
//! timeline while the load runs, gather the facts (answers, decision
//! records, the mocks' call logs), send the fresh request after the run,
//! judge every invariant and summarise the report.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use signalbox_core::DecisionRecord;
use signalbox_mock::Faults;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::facts::{AppliedAction, AppliedStep, Facts, HealthCheck, RequestFact, UpstreamCall};
use crate::invariants;
use crate::load::{self, Progress};
use crate::report::{self, ScenarioReport};
use crate::scenario::{Action, Invariant, Scenario, Step};
use crate::setup::{self, SetupError, Stage};

/// How to run a scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Time factor, overriding the scenario's (and `short`).
    pub scale: Option<f64>,
    /// Use the scenario's `short-scale` (CI's short form).
    pub short: bool,
    /// A gateway configuration to run instead of the scenario's, its
    /// providers remapped onto mocks.
    pub config: Option<PathBuf>,
    /// Print a progress line on stderr.
    pub progress: bool,
    /// Cancelled (on Ctrl-C, say): the run ends early with
    /// [`RunError::Interrupted`], its stage stopped and its files removed.
    pub interrupt: CancellationToken,
}

/// Why a scenario could not be run (as opposed to an invariant breaking).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The stage could not be set up.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// [`RunOptions::interrupt`] was cancelled before the run ended.
    #[error("interrupted")]
    Interrupted,
}

/// Runs one scenario to its report.
pub async fn run(scenario: &Scenario, options: &RunOptions) -> Result<ScenarioReport, RunError> {
    let factor = options.scale.unwrap_or(if options.short {
        scenario.short_scale
    } else {
        scenario.time_scale
    });
    let scenario = scenario.scaled(factor);
    // Cut short, a half-built stage is dropped, which removes its files.
    let stage = tokio::select! {
        stage = setup::start(&scenario, options.config.as_deref()) => stage?,
        () = options.interrupt.cancelled() => return Err(RunError::Interrupted),
    };
    let result = match names_match(&scenario, &stage) {
        Ok(()) => tokio::select! {
            report = run_on(&scenario, &stage, options.progress) => Ok(report),
            () = options.interrupt.cancelled() => Err(RunError::Interrupted),
        },
        Err(e) => Err(RunError::Setup(e)),
    };
    stage.stop().await;
    result
}

/// Names in the invariants that the configuration must know.
fn names_match(scenario: &Scenario, stage: &Stage) -> Result<(), SetupError> {
    for inv in &scenario.invariants {
        if let Invariant::Breaker { route, .. } = inv
            && !stage.config.routes.iter().any(|r| r.id.as_str() == route)
        {
            return Err(SetupError::Mismatch(format!(
                "invariants.breaker.route: the policy has no route {route:?}"
            )));
        }
    }
    for t in &scenario.load.tenants {
        if !stage.config.tenants.iter().any(|c| c.id == t.name) {
            return Err(SetupError::Mismatch(format!(
                "load.tenants: the policy has no tenant {:?}",
                t.name
            )));
        }
    }
    Ok(())
}

async fn run_on(scenario: &Scenario, stage: &Stage, progress: bool) -> ScenarioReport {
    let plan = load::plan(&scenario.load, &scenario.name);
    let planned = plan.len();
    let counts = Arc::new(Progress::default());
    let start = Instant::now();
    let ticker =
        progress.then(|| tokio::spawn(tick(scenario.clone(), planned, counts.clone(), start)));
    let url = stage.gateway.base_url();
    // Steps at 0 s are in place before the first request leaves, not racing it.
    let first_later = scenario.timeline.partition_point(|s| s.at.is_zero());
    let (now, later) = scenario.timeline.split_at(first_later);
    let (mut steps, mut actions) = apply_timeline(now, stage, start).await;
    let load = load::drive(&scenario.load, plan, url, start, counts);
    let (mut requests, (more_steps, more_actions)) =
        tokio::join!(load, apply_timeline(later, stage, start));
    steps.extend(more_steps);
    actions.extend(more_actions);
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[2K");
    }
    let anonymous = stage.anonymous_tenant();
    for r in requests.iter_mut().filter(|r| r.tenant.is_empty()) {
        r.tenant.clone_from(&anonymous);
    }
    let calls = calls_of(stage, start);
    let records = records_of(stage, &requests).await;
    let healthy_after = match scenario.invariants.iter().find_map(|i| match i {
        Invariant::HealthyAfter { within } => Some(*within),
        _ => None,
    }) {
        Some(within) => Some(healthy_after(scenario, stage, within).await),
        None => None,
    };
    let facts = Facts {
        requests,
        records,
        calls,
        routes: stage.routes(),
        tenants: stage.tenants(),
        steps,
        actions,
        attempt_budget: stage.attempt_budget(),
        concurrency: scenario.load.concurrency,
        healthy_after,
    };
    let mut verdicts: Vec<_> = scenario
        .invariants
        .iter()
        .map(|i| invariants::check(i, &facts))
        .collect();
    if !facts.actions.is_empty() {
        verdicts.push(invariants::timeline_applied(&facts));
    }
    report::summarise(scenario, &facts, verdicts, start.elapsed())
}

/// Applies the timeline from `start`: fault changes on the mocks, reloads on
/// the gateway, stops and starts of the scenario's Redis.
async fn apply_timeline(
    timeline: &[Step],
    stage: &Stage,
    start: Instant,
) -> (Vec<AppliedStep>, Vec<AppliedAction>) {
    let (mut steps, mut actions) = (Vec::new(), Vec::new());
    for step in timeline {
        tokio::time::sleep_until(start + step.at).await;
        match &step.action {
            Action::Faults { upstream, faults } => {
                if let Some((_, mock)) = stage.mocks.iter().find(|(n, _)| n == upstream) {
                    mock.set_faults((**faults).clone());
                    steps.push(AppliedStep {
                        at: start.elapsed(),
                        upstream: upstream.clone(),
                        faults: (**faults).clone(),
                    });
                }
            }
            Action::Reload(text) => {
                let at = start.elapsed();
                let result = stage.reload(text).await;
                actions.push(AppliedAction {
                    at,
                    action: "reload",
                    result,
                });
            }
            Action::Redis(redis) => {
                let at = start.elapsed();
                let (action, result) = stage.redis_step(*redis).await;
                actions.push(AppliedAction { at, action, result });
            }
        }
    }
    (steps, actions)
}

async fn tick(scenario: Scenario, planned: usize, counts: Arc<Progress>, start: Instant) {
    let total = scenario.load.duration.as_secs_f64();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let started = counts.started.load(Relaxed);
        let done = counts.done.load(Relaxed);
        eprint!(
            "\r\x1b[2K{}: {:>5.1}/{total:.1} s  {started}/{planned} sent  {} in flight",
            scenario.name,
            start.elapsed().as_secs_f64(),
            started.saturating_sub(done)
        );
        let _ = std::io::stderr().flush();
    }
}

fn calls_of(stage: &Stage, start: Instant) -> Vec<UpstreamCall> {
    let mut calls: Vec<UpstreamCall> = stage
        .mocks
        .iter()
        .flat_map(|(name, mock)| {
            mock.calls().into_iter().map(move |c| UpstreamCall {
                upstream: name.clone(),
                at: c.at.saturating_duration_since(start),
                request_id: c.request_id,
                outcome: c.outcome,
            })
        })
        .collect();
    calls.sort_by_key(|c| c.at);
    calls
}

/// Every request's decision record, by the caller's id.
async fn records_of(stage: &Stage, requests: &[RequestFact]) -> HashMap<String, DecisionRecord> {
    let Some(log) = stage.gateway.gateway().decision_log() else {
        return HashMap::new();
    };
    log.flush().await;
    let reader = match log.reader() {
        Ok(r) => r,
        Err(error) => {
            tracing::warn!(%error, "Could not open the decision log; checks run without records.");
            return HashMap::new();
        }
    };
    let wanted: Vec<(String, Option<String>)> = requests
        .iter()
        .map(|r| (r.id.clone(), r.answer.gateway_id.clone()))
        .collect();
    let read = tokio::task::spawn_blocking(move || {
        let mut out = HashMap::new();
        for (id, gateway_id) in wanted {
            let found = match gateway_id {
                Some(g) => reader.get(&g).ok().flatten(),
                None => reader
                    .find(&id, None)
                    .ok()
                    .and_then(|mut v| (!v.is_empty()).then(|| v.remove(0))),
            };
            if let Some(record) = found {
                out.insert(id, record);
            }
        }
        out
    });
    read.await.unwrap_or_default()
}

/// With every fault cleared, a fresh request until one succeeds or `within` passes.
async fn healthy_after(
    scenario: &Scenario,
    stage: &Stage,
    within: Option<Duration>,
) -> HealthCheck {
    for (_, mock) in &stage.mocks {
        mock.set_faults(Faults::default());
    }
    let longest_open = stage
        .routes()
        .iter()
        .map(|r| r.open_for)
        .max()
        .unwrap_or_default();
    let within = within.unwrap_or(longest_open + Duration::from_secs(2));
    let deadline = Instant::now() + within;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", stage.gateway.base_url());
    let body = serde_json::json!({
        "model": scenario.load.model,
        "messages": [{"role": "user", "content": "chaos: are you healthy?"}],
    });
    let mut detail = String::from("not tried");
    while Instant::now() < deadline {
        let mut req = client.post(&url).json(&body).timeout(within);
        if let Some(t) = scenario.load.tenants.first() {
            if let Some(key) = &t.key {
                req = req.bearer_auth(key);
            }
            for (k, v) in &t.headers {
                req = req.header(k, v);
            }
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                return HealthCheck {
                    ok: true,
                    detail: format!("status {}", r.status().as_u16()),
                };
            }
            Ok(r) => detail = format!("status {}", r.status().as_u16()),
            Err(e) => detail = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    HealthCheck { ok: false, detail }
}
