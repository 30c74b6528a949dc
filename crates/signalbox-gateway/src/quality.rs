//! Owns the quality loop: every `quality.every`, each route runs the
//! suites that judge it (`quality.suites`), case by case, straight to the
//! route's provider (like a health probe: no routing, no policy); the
//! answers are scored by `signalbox-eval`, and a route whose pass rate for
//! a scorer falls below its suite's threshold stops serving (its quality
//! gate, `signalbox_dispatch::QualityGate`, with hysteresis) until later
//! runs pass again. Every transition is an event in the log and the
//! metrics; requests skip a disabled route with `quality_regression` in
//! their record. Suites are read with the configuration (`load`), so a
//! broken suite refuses the reload instead of disabling routes.
//!
//! Around each run (`quality/`): when it is due, with jitter
//! (`schedule.rs`); which suites may go to the route (`eligible.rs`:
//! the eval tenant's constraints, the suites' data classes) and whether
//! the run fits the route's hourly budget (`book.rs`); the judge alias for
//! rubrics (`judge.rs`); the scores kept per route × model version ×
//! prompt version × suite × window, shared through the state backend and
//! kept in the decision log across restarts (`scores.rs`); the runs of a
//! rolling prompt canary's versions, which judge the canary, not the
//! route (`canaried.rs`).

mod book;
mod canaried;
mod eligible;
mod intents;
mod judge;
mod prompted;
mod schedule;
mod scores;

pub(crate) use book::{QualityState, view};
pub(crate) use canaried::floors as canary_floors;
pub(crate) use scores::{Filter as ScoreFilter, query as scores_query, restore as restore_scores};

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderValue;
use signalbox_config::{Config, Price, QualityConfig, QualitySuite};
use signalbox_core::ChatRequest;
use signalbox_core::metric_names as m;
use signalbox_dispatch::{Answer, QualityTransition};
use signalbox_eval::score::refusal::Detector;
use signalbox_eval::suite::Case;
use signalbox_eval::{Suite, Verdict, score_case};
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use crate::AppState;
use crate::runtime::{BuildError, Route};

/// How often the loop looks for routes due a run.
const TICK: Duration = Duration::from_secs(1);

/// A suite read, with what judging needs.
#[derive(Debug)]
pub(crate) struct LoadedSuite {
    suite: Suite,
    detector: Detector,
    config: QualitySuite,
    /// The registered prompt version its cases run under, if any.
    prompt: Option<prompted::ScheduledPrompt>,
    /// The prompt canary it runs for (under one of its versions, only
    /// while it rolls), if any.
    canary: Option<String>,
}

/// Reads every configured suite; a suite that is not valid refuses the
/// configuration, naming the file and the field.
pub(crate) fn load(config: &Config) -> Result<Vec<LoadedSuite>, BuildError> {
    let mut loaded: Vec<LoadedSuite> = config
        .quality
        .suites
        .iter()
        .map(|s| {
            let path = s.path.display().to_string();
            let refuse = |error: String| BuildError::Quality {
                path: path.clone(),
                error,
            };
            let suite =
                Suite::from_file_text(&s.path, &s.text).map_err(|e| refuse(e.to_string()))?;
            // A misspelt class would go everywhere unchecked.
            if let Some(c) = suite
                .data_classes
                .iter()
                .find(|c| !eligible::known_class(config, c))
            {
                return Err(refuse(format!(
                    "data_classes: `{c}` is neither a built-in class nor a custom class of any privacy boundary"
                )));
            }
            let detector = Detector::new(suite.refusal_patterns.as_deref());
            let prompt = match &s.prompt {
                Some(p) => Some(
                    prompted::ScheduledPrompt::of(config, p)
                        .ok_or_else(|| refuse(format!("prompt {} is not registered", p.label)))?,
                ),
                None => None,
            };
            Ok(LoadedSuite {
                suite,
                detector,
                config: s.clone(),
                prompt,
                canary: None,
            })
        })
        .collect::<Result<_, _>>()?;
    let canaried = canaried::variants(config, &loaded);
    loaded.extend(canaried);
    Ok(loaded)
}

/// Starts the loop; it follows configuration reloads.
pub(crate) fn spawn(state: &Arc<AppState>) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let runtime = state.runtime.load_full();
            if runtime.quality.is_empty() {
                continue;
            }
            let cfg = &runtime.config.quality;
            // Suites are chat conversations: embedding routes have no
            // answers for them to judge.
            for route in runtime
                .routes
                .iter()
                .filter(|r| r.settings.embedding.is_none())
            {
                let suites: Vec<&LoadedSuite> = runtime
                    .quality
                    .iter()
                    .filter(|s| {
                        s.config.judges(route.id.as_str()) && canaried::runs_now(&runtime, s)
                    })
                    .collect();
                let schedule = &state.quality.schedule;
                if suites.is_empty()
                    || !schedule.take_due(route.id.as_str(), Instant::now(), cfg.every, cfg.jitter)
                {
                    continue;
                }
                let Some(suites) = book::plan(&state, &runtime, route, suites) else {
                    continue;
                };
                let price = runtime.config.route(&route.id).map(|c| c.price);
                let judge = judge::Judge::of(&runtime);
                let run = run(route, &suites, cfg.timeout, price, judge.as_ref()).await;
                book::record(&state, &runtime, route, &run);
                settle(&state, route, &run, cfg);
            }
        }
    })
}

/// One suite's results in a run.
struct SuiteRun {
    name: String,
    /// The suite's lowest pass rate per scorer.
    thresholds: Vec<(String, f64)>,
    /// The suite's warn bar per scorer.
    warn: Vec<(String, f64)>,
    /// Per scorer: (passed, scored).
    tally: HashMap<&'static str, (u32, u32)>,
    /// Per model version the answers named, and scorer: (passed, scored).
    by_model: HashMap<(Option<String>, &'static str), (u32, u32)>,
    /// The prompt version its cases ran under (`id@version`), if any.
    prompt: Option<String>,
    /// The critical intents its cases stand for (`weather, refunds`), to
    /// name in a warning.
    intents: String,
    /// The request intents it judges the route for (empty: every request).
    scope: Vec<String>,
    /// Run for a prompt canary: it judges the canary, not the route.
    for_canary: bool,
}

/// One run of a route's suites.
struct Run {
    suites: Vec<SuiteRun>,
    /// Cases with no answer (the call failed).
    errored: u32,
    /// Cases asked.
    asked: u32,
    /// The first findings of failing cases, for the event.
    findings: Vec<String>,
    /// Requests sent (cases, and judge calls).
    requests: u32,
    /// What the answers cost (usage at the route's price).
    cost_usd: f64,
}

async fn run(
    route: &Route,
    suites: &[&LoadedSuite],
    timeout: Duration,
    price: Option<Price>,
    judge: Option<&judge::Judge<'_>>,
) -> Run {
    let mut out = Run {
        suites: Vec::new(),
        errored: 0,
        asked: 0,
        findings: Vec::new(),
        requests: 0,
        cost_usd: 0.0,
    };
    for loaded in suites {
        let mut suite_run = SuiteRun {
            name: loaded.suite.suite.clone(),
            thresholds: loaded.config.min_pass_rate.clone(),
            warn: loaded.config.warn_pass_rate.clone(),
            tally: HashMap::new(),
            by_model: HashMap::new(),
            prompt: loaded.prompt.as_ref().map(|p| p.label().to_owned()),
            intents: loaded.suite.intents().join(", "),
            // A canary's run judges no intent's gate either.
            scope: match loaded.canary {
                Some(_) => Vec::new(),
                None => loaded.config.intents.clone(),
            },
            for_canary: loaded.canary.is_some(),
        };
        for case in &loaded.suite.cases {
            out.asked += 1;
            out.requests += 1;
            let Some(answer) = ask(route, case, loaded.prompt.as_ref(), timeout, price).await
            else {
                out.errored += 1;
                continue;
            };
            out.cost_usd += answer.cost_usd.unwrap_or(0.0);
            let mut verdicts = score_case(case, &answer, &loaded.detector);
            if let Some(graded) = match judge {
                Some(j) => j.grade(case, &answer, &loaded.suite.data_classes).await,
                None => None,
            } {
                out.requests += graded.requests;
                out.cost_usd += graded.cost_usd;
                verdicts.push(graded.verdict);
            }
            for v in verdicts {
                suite_run.count(&v, answer.model.as_ref());
                // A canary's run's findings are the canary's, not the route's.
                if !v.passed && out.findings.len() < 3 && loaded.canary.is_none() {
                    out.findings.push(finding(case, &v));
                }
            }
        }
        out.suites.push(suite_run);
    }
    out
}

impl SuiteRun {
    /// Counts one verdict, overall and for the model version that answered.
    fn count(&mut self, v: &Verdict, model: Option<&String>) {
        let label = v.scorer.label();
        for t in [
            self.tally.entry(label).or_default(),
            self.by_model.entry((model.cloned(), label)).or_default(),
        ] {
            t.1 += 1;
            t.0 += u32::from(v.passed);
        }
    }
}

fn finding(case: &Case, v: &Verdict) -> String {
    format!(
        "{} {}: {}",
        case.id,
        v.scorer.label(),
        v.findings.first().cloned().unwrap_or_default()
    )
}

/// Sends one case to the route's provider; `None` when it did not answer.
async fn ask(
    route: &Route,
    case: &Case,
    prompt: Option<&prompted::ScheduledPrompt>,
    timeout: Duration,
    price: Option<Price>,
) -> Option<signalbox_eval::Answer> {
    let req = request(route, case, prompt)?;
    let id = HeaderValue::from_static("signalbox-quality");
    call(route, &req, timeout, price, &id).await
}

/// Sends `req` straight to the route's provider (no routing, no policy,
/// no effect on the route's health) and reads the answer's text, tool
/// calls, latency and cost (its usage at the route's price); `None` when
/// it did not answer. The quality loop and shadow traffic call routes so.
pub(crate) async fn call(
    route: &Route,
    req: &ChatRequest,
    timeout: Duration,
    price: Option<Price>,
    request_id: &HeaderValue,
) -> Option<signalbox_eval::Answer> {
    let prepared = route
        .upstream
        .prepare(req, &route.settings)
        .ok()?
        .without_response_check();
    let call = signalbox_providers::CallContext {
        request_id: Some(request_id),
        ..Default::default()
    };
    let started = Instant::now();
    let answer = tokio::time::timeout(timeout, route.upstream.call(&prepared, &call)).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let Ok(Ok(Answer::Json(json))) = answer else {
        return None;
    };
    let v: serde_json::Value = serde_json::from_slice(&json.body).ok()?;
    let mut answer = signalbox_eval::Answer::from_completion(&v);
    answer.latency_ms = Some(latency_ms);
    answer.cost_usd = price
        .zip(json.usage)
        .map(|(p, u)| p.cost_usd(u.prompt_tokens, u.completion_tokens));
    Some(answer)
}

/// The case as a chat request to the route's model (under the suite's
/// prompt version, in the route's family's wording, when it has one).
fn request(
    route: &Route,
    case: &Case,
    prompt: Option<&prompted::ScheduledPrompt>,
) -> Option<ChatRequest> {
    let mut body = case.chat_body(&route.settings.upstream_model);
    if let Some(p) = prompt {
        p.apply(route.upstream.kind().family(), &mut body);
    }
    ChatRequest::parse(body.to_string().as_bytes()).ok()
}

/// Judges the run against the thresholds, moves the gate, and tells.
fn settle(state: &AppState, route: &Route, run: &Run, cfg: &QualityConfig) {
    let id = route.id.as_str();
    let t = &state.telemetry;
    if run.asked > 0 && run.errored == run.asked {
        t.count(
            m::QUALITY_RUNS_TOTAL,
            &[("route", id), ("result", "errored")],
        );
        tracing::debug!(route = %id, "Quality run: no case answered; the gate is left as it was.");
        return;
    }
    let (below, warned) = misses(state, id, run);
    let (warned, warned_by_intent) = intents::split(run, warned);
    mark_warning(state, route, &warned);
    intents::mark_warnings(state, route, warned_by_intent);
    let result = if below.is_empty() { "passed" } else { "failed" };
    t.count(m::QUALITY_RUNS_TOTAL, &[("route", id), ("result", result)]);
    // Suites judging the route for some intents only move those intents'
    // gates; the others move the route's.
    let (below, by_intent) = intents::split(run, below);
    let passed = below.is_empty();
    move_gate(state, route, passed, &summary(run, route, &below), cfg);
    intents::move_gates(state, route, by_intent, cfg, |b| summary(run, route, b));
}

/// What a run found below the floors, with its first findings and a
/// model version change.
fn summary(run: &Run, route: &Route, below: &[String]) -> String {
    let mut summary = match run.findings.as_slice() {
        [] => below.join("; "),
        f => format!("{} ({})", below.join("; "), f.join("; ")),
    };
    let known = [route.version.as_str(), &route.settings.upstream_model];
    if !below.is_empty()
        && let Some(versions) = other_versions(run, known)
    {
        // A silent model update: the event and the skip name it.
        summary.push_str(&format!(
            "; answered by model version {versions}, not the route's {}",
            route.version
        ));
    }
    summary
}

/// The model versions the run's answers named other than the route's
/// `known` names (its configured version and the model it asks for),
/// joined; `None` when every answer named one of them (or none named any).
fn other_versions(run: &Run, known: [&str; 2]) -> Option<String> {
    let mut seen: Vec<&str> = run
        .suites
        .iter()
        .flat_map(|s| s.by_model.keys())
        .filter_map(|(model, _)| model.as_deref())
        .filter(|m| !known.contains(m))
        .collect();
    seen.sort_unstable();
    seen.dedup();
    (!seen.is_empty()).then(|| seen.join(", "))
}

/// Bars a run missed, in words, each with its suite's index.
type Misses = Vec<(usize, String)>;

/// Publishes each scorer's pass rate; returns the floors it fell below
/// and the warn bars it missed.
fn misses(state: &AppState, id: &str, run: &Run) -> (Misses, Misses) {
    let bar = |list: &[(String, f64)], scorer: &str| {
        list.iter().find(|(s, _)| s == scorer).map(|(_, v)| *v)
    };
    let (mut below, mut warned) = (Vec::new(), Vec::new());
    for (i, suite_run) in run.suites.iter().enumerate() {
        if suite_run.for_canary {
            continue;
        }
        let suite = suite_run.name.as_str();
        for (scorer, (passed, scored)) in &suite_run.tally {
            let rate = f64::from(*passed) / f64::from((*scored).max(1));
            state.telemetry.set_gauge(
                m::QUALITY_PASS_RATE,
                &[("route", id), ("suite", suite), ("scorer", scorer)],
                rate,
            );
            if let Some(min) = bar(&suite_run.thresholds, scorer).filter(|min| rate < *min) {
                below.push((i, format!("{suite} {scorer} {rate:.2} < {min:.2}")));
            }
            if let Some(w) = bar(&suite_run.warn, scorer).filter(|w| rate < *w) {
                let intents = &suite_run.intents;
                warned.push((
                    i,
                    format!("{suite} {scorer} {rate:.2} < {w:.2} (warn bar; intent {intents})"),
                ));
            }
        }
    }
    (below, warned)
}

/// Marks (or clears) the route's quality warning.
fn mark_warning(state: &AppState, route: &Route, warned: &[String]) {
    let id = route.id.as_str();
    let missed = (!warned.is_empty()).then(|| warned.join("; "));
    let changed = missed.is_some() != route.health.quality.warned_here();
    route.health.quality.record_warning(missed.as_deref());
    if changed {
        tracing::info!(route = %id, warning = ?missed, "Quality warning changed: the route is ranked accordingly.");
        // A transition, like a disable, is an event in the audit trail.
        let (reason, detail) = match &missed {
            Some(m) => (
                "warned",
                format!(
                    "route {id} warned: it keeps {:.0}% of its traffic first: {m}",
                    route.health.quality.share() * 100.0
                ),
            ),
            None => (
                "warning_cleared",
                format!("route {id} warning cleared: its runs meet every warn bar"),
            ),
        };
        let path = format!("/quality/{id}");
        crate::record::system_event(state, "signalbox-quality", path, reason, detail);
    }
    let value = if missed.is_some() { 1.0 } else { 0.0 };
    state
        .telemetry
        .set_gauge(m::QUALITY_WARNED, &[("route", id)], value);
}

/// Moves the route's gate by the run's result; a transition is logged and
/// kept as an event.
fn move_gate(state: &AppState, route: &Route, passed: bool, summary: &str, cfg: &QualityConfig) {
    let id = route.id.as_str();
    let gate = &route.health.quality;
    let event = match gate.record(passed, summary, cfg.trip_after, cfg.recover_after) {
        Some(QualityTransition::Disabled { summary }) => {
            tracing::warn!(route = %id, %summary, "Quality regression: the route stops serving.");
            Some(("disabled", format!("route {id} disabled: {summary}")))
        }
        Some(QualityTransition::Restored) => {
            tracing::info!(route = %id, "Quality restored: the route serves again.");
            Some((
                "restored",
                format!("route {id} restored: its runs pass again"),
            ))
        }
        None => None,
    };
    if let Some((reason, detail)) = event {
        let path = format!("/quality/{id}");
        crate::record::system_event(state, "signalbox-quality", path, reason, detail);
    }
    let disabled = if gate.closed().is_some() { 1.0 } else { 0.0 };
    state
        .telemetry
        .set_gauge(m::QUALITY_DISABLED, &[("route", id)], disabled);
}
