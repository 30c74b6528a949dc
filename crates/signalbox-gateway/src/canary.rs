//! Owns canary rollouts (`canary:` in the configuration): a route — or a
//! new model version behind its own route — takes a growing share of one
//! alias's requests in steps (1 % → 5 % → 25 % → 100 % by default). Each
//! request whose decision ranks both the baseline and the canary route is
//! put in one arm by a stable hash of its session key
//! (`x-signalbox-session`, the key stickiness uses; a request without one
//! is hashed by its request id), so one session stays in one arm as the
//! share grows; the other arm's route is left out of its candidates with a
//! `canary` skip that names the arm and why (`signalbox explain`). What
//! each arm's route showed (errors, latency, cost, validity of its
//! answers) feeds the canary's state machine (`canary/state.rs`); a
//! background task evaluates it every second: a regression rolls back at
//! once, a clean window promotes. Every step is an event (kept with the
//! canary, counted, logged, and written to the audit trail of the
//! decision log). State is per replica (docs/quality.md).

mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::Mutex;
use serde_json::{Value, json};
use signalbox_config::{CanaryConfig, Config};
use signalbox_core::metric_names as m;
use signalbox_core::{ChatRequest, RouteIdx, SkipKind, SkipRecord};
use signalbox_dispatch::{Served, ServedBody, fnv1a};
use signalbox_policy::Decision;
use tokio::task::JoinHandle;
use tokio::time::Duration;

use crate::AppState;
use crate::ctx::RequestCtx;
use crate::judge::Asked;
use crate::runtime::Runtime;

pub(crate) use state::{Arm, Sample};
use state::{ArmStats, Event, Phase, State};

/// How often the rollouts are evaluated.
const TICK: Duration = Duration::from_secs(1);

/// Buckets of the session hash: a share is in basis points.
const BUCKETS: u64 = 10_000;

/// One canary: its configuration, its share (read lock-free by requests)
/// and its state machine.
#[derive(Debug)]
pub(crate) struct Canary {
    cfg: CanaryConfig,
    share_bp: AtomicU32,
    state: Mutex<State>,
}

impl Canary {
    fn new(cfg: CanaryConfig) -> Self {
        let state = State::new(&cfg);
        Self {
            share_bp: AtomicU32::new(state.share_bp(&cfg)),
            state: Mutex::new(state),
            cfg,
        }
    }

    /// Whether requests are still being measured (not completed or rolled
    /// back).
    fn measuring(&self) -> bool {
        !matches!(self.share_bp.load(Ordering::Relaxed), 0 | 10_000)
    }
}

/// A canary with its routes' indices in one runtime.
#[derive(Debug)]
struct Entry {
    canary: Arc<Canary>,
    baseline: RouteIdx,
    route: RouteIdx,
}

/// Every canary of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Canaries(Vec<Entry>);

impl Canaries {
    /// The configuration's canaries; one whose definition is unchanged
    /// since `previous` keeps its state (a reload does not restart it).
    pub fn build(config: &Config, previous: Option<&Canaries>) -> Self {
        let index = |id: &signalbox_core::RouteId| {
            config
                .routes
                .iter()
                .position(|r| &r.id == id)
                .map(RouteIdx::new)
        };
        let entries = config
            .canaries
            .iter()
            .filter_map(|cfg| {
                let kept = previous
                    .into_iter()
                    .flat_map(|p| &p.0)
                    .find(|e| e.canary.cfg == *cfg)
                    .map(|e| Arc::clone(&e.canary));
                Some(Entry {
                    canary: kept.unwrap_or_else(|| Arc::new(Canary::new(cfg.clone()))),
                    baseline: index(&cfg.baseline)?,
                    route: index(&cfg.canary)?,
                })
            })
            .collect();
        Self(entries)
    }
}

/// What a canary did with one request: its arm, and what to judge the
/// arm's answer by.
#[derive(Debug)]
pub(crate) struct Assigned {
    canary: Arc<Canary>,
    arm: Arm,
    /// The arm's route.
    route: RouteIdx,
    /// The other arm's route, left out, and why.
    pub skip: SkipRecord,
    /// What the answer is judged against (read only while measuring).
    asked: Asked,
}

/// The request's session bucket for the canary `name`, in `0..10_000`.
fn bucket(name: &str, key: &str) -> u32 {
    let h = fnv1a(key.as_bytes()) ^ fnv1a(name.as_bytes()).rotate_left(17);
    // A final mix so that nearby keys spread over the buckets.
    let h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    ((h ^ (h >> 33)) % BUCKETS) as u32
}

/// Puts the request in an arm of the first canary of its alias whose
/// routes it ranks both, and leaves the other arm's route out of its
/// candidates. A runtime without canaries pays one length check.
pub(crate) fn assign(
    state: &AppState,
    rt: &Runtime,
    key: &str,
    req: &ChatRequest,
    decision: &mut Decision,
) -> Option<Assigned> {
    if rt.canaries.0.is_empty() {
        return None;
    }
    let e = rt.canaries.0.iter().find(|e| {
        e.canary.cfg.alias == decision.alias.as_str()
            && decision.candidates.contains(&e.baseline)
            && decision.candidates.contains(&e.route)
    })?;
    let cfg = &e.canary.cfg;
    let share = e.canary.share_bp.load(Ordering::Relaxed);
    let b = bucket(&cfg.name, key);
    let (arm, kept, left) = if b < share {
        (Arm::Canary, e.route, e.baseline)
    } else {
        (Arm::Baseline, e.baseline, e.route)
    };
    decision.candidates.retain(|&c| c != left);
    let left_id = rt.routes.get(left).map_or("-", |r| r.id.as_str());
    let reason = format!(
        "canary {}: {} arm (session bucket {b} {} {share} of {BUCKETS}: {}% to {})",
        cfg.name,
        arm.label(),
        if arm == Arm::Canary { "<" } else { "≥" },
        f64::from(share) / 100.0,
        cfg.canary,
    );
    state.telemetry.count(
        m::CANARY_REQUESTS_TOTAL,
        &[("canary", cfg.name.as_str()), ("arm", arm.label())],
    );
    let measuring = e.canary.measuring();
    Some(Assigned {
        canary: Arc::clone(&e.canary),
        arm,
        route: kept,
        skip: SkipRecord::new(left_id, SkipKind::Canary, reason),
        asked: if measuring {
            Asked::of(req)
        } else {
            Asked::default()
        },
    })
}

/// Once failover has settled: the skip that names the request's arm goes
/// first in its record, and what the arm's route showed is counted.
pub(crate) fn settled(ctx: &mut RequestCtx, assigned: Assigned, served: Option<&Served>) {
    observe(&ctx.runtime, &assigned, served, ctx.started.elapsed());
    ctx.skipped.insert(0, assigned.skip);
}

/// Counts what the arm's route showed for one request: an error unless it
/// served; its latency, cost and answer validity when it did.
fn observe(rt: &Runtime, assigned: &Assigned, served: Option<&Served>, latency: Duration) {
    if !assigned.canary.measuring() {
        return;
    }
    let sample = match served.map(|s| (s.route, &s.body)) {
        Some((route, body)) if route == assigned.route => {
            let price = rt.route_config(route).map(|c| c.price);
            let (cost_usd, valid) = match body {
                ServedBody::Json(json) => (
                    price
                        .zip(json.usage)
                        .map(|(p, u)| p.cost_usd(u.prompt_tokens, u.completion_tokens)),
                    judge_body(&assigned.asked, &json.body),
                ),
                ServedBody::Stream(_) => (None, None),
            };
            Sample {
                error: false,
                latency_ms: Some(latency.as_secs_f64() * 1e3),
                cost_usd,
                valid,
            }
        }
        _ => Sample {
            error: true,
            ..Sample::default()
        },
    };
    assigned.canary.state.lock().record(assigned.arm, sample);
}

/// Judges a served JSON answer (parsed only when there is something to
/// judge it against).
fn judge_body(asked: &Asked, body: &[u8]) -> Option<bool> {
    if asked.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    asked.validity(&signalbox_eval::Answer::from_completion(&v))
}

/// Starts the evaluation loop; it follows configuration reloads.
pub(crate) fn spawn(state: &Arc<AppState>) -> JoinHandle<()> {
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let rt = state.runtime.load_full();
            for e in &rt.canaries.0 {
                evaluate(&state, &rt, e);
            }
        }
    })
}

/// Evaluates one canary and tells of the step it took, if any.
fn evaluate(state: &AppState, rt: &Runtime, e: &Entry) {
    let quality = rt
        .routes
        .get(e.route)
        .and_then(|r| r.health.quality.closed());
    let cfg = &e.canary.cfg;
    let event = {
        let mut s = e.canary.state.lock();
        let event = s.evaluate(cfg, quality);
        e.canary.share_bp.store(s.share_bp(cfg), Ordering::Relaxed);
        event
    };
    let share = f64::from(e.canary.share_bp.load(Ordering::Relaxed)) / 100.0;
    let name = cfg.name.as_str();
    state
        .telemetry
        .set_gauge(m::CANARY_SHARE_PERCENT, &[("canary", name)], share);
    if let Some(event) = event {
        tell(state, cfg, &event);
    }
}

/// Counts, logs and audits one step.
fn tell(state: &AppState, cfg: &CanaryConfig, event: &Event) {
    let name = cfg.name.as_str();
    let kind = event.kind.label();
    state
        .telemetry
        .count(m::CANARY_EVENTS_TOTAL, &[("canary", name), ("event", kind)]);
    let detail = format!(
        "canary {name} {kind}: {}% → {}% of {} to {}; {}",
        f64::from(event.from_bp) / 100.0,
        f64::from(event.to_bp) / 100.0,
        cfg.alias,
        cfg.canary,
        event.evidence
    );
    if event.kind == state::EventKind::RolledBack {
        tracing::warn!(canary = name, "{detail}");
    } else {
        tracing::info!(canary = name, "{detail}");
    }
    if let Some(log) = state.decision_log.clone() {
        let entry = signalbox_decision_log::AuditEntry {
            time_ms: signalbox_core::clock::unix_ms(),
            who: "signalbox-canary".into(),
            role: "system".into(),
            method: "CANARY".into(),
            path: format!("/canary/{name}"),
            action: None,
            reason: Some(kind.into()),
            status: 200,
            detail,
        };
        tokio::spawn(async move {
            if let Err(e) = log.audit(entry).await {
                tracing::warn!(error = %e, "Canary event not kept in the audit trail.");
            }
        });
    }
}

/// `GET /admin/canary`: every canary's step, arms and events.
pub(crate) fn report(rt: &Runtime) -> Value {
    let canaries: Vec<Value> = rt.canaries.0.iter().map(|e| one(&e.canary)).collect();
    json!({ "canaries": canaries })
}

fn one(c: &Canary) -> Value {
    let cfg = &c.cfg;
    let s = c.state.lock();
    let (phase, step) = match s.phase {
        Phase::Stepping(i) => ("stepping", Some(i)),
        Phase::Completed => ("completed", None),
        Phase::RolledBack => ("rolled_back", None),
    };
    let pct = |bp: u32| f64::from(bp) / 100.0;
    let arm = |a: &ArmStats| {
        json!({
            "requests": a.requests,
            "errors": a.errors,
            "error_rate": a.error_rate(),
            "p95_ms": a.p95_ms(),
            "cost_per_request_usd": a.cost_per_request(),
            "valid_rate": a.pass_rate(),
        })
    };
    let events: Vec<Value> = s
        .events
        .iter()
        .map(|e| {
            json!({
                "event": e.kind.label(),
                "from_percent": pct(e.from_bp),
                "to_percent": pct(e.to_bp),
                "after_ms": e.after.as_millis() as u64,
                "evidence": e.evidence,
            })
        })
        .collect();
    json!({
        "name": cfg.name,
        "alias": cfg.alias,
        "baseline": cfg.baseline,
        "canary": cfg.canary,
        "phase": phase,
        "step": step,
        "steps_percent": cfg.steps_bp.iter().map(|&b| pct(b)).collect::<Vec<_>>(),
        "share_percent": pct(s.share_bp(cfg)),
        "window": {
            "min_requests": cfg.min_requests,
            "min_duration_ms": cfg.min_duration.as_millis() as u64,
        },
        "arms": { "baseline": arm(&s.arms[0]), "canary": arm(&s.arms[1]) },
        "events": events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_keeps_its_bucket_and_buckets_spread() {
        assert_eq!(bucket("m2", "session-1"), bucket("m2", "session-1"));
        let mut below = 0;
        for i in 0..10_000 {
            if bucket("m2", &format!("s{i}")) < 500 {
                below += 1;
            }
        }
        // 5 % of 10 000 sessions, give or take.
        assert!((400..600).contains(&below), "{below}");
        // Another canary splits the same sessions independently.
        let same = (0..1000)
            .filter(|i| {
                let k = format!("s{i}");
                (bucket("a", &k) < 5000) == (bucket("b", &k) < 5000)
            })
            .count();
        assert!((400..600).contains(&same), "{same}");
    }
}
